//! The async connection on a single-threaded tokio runtime: 100 `SELECT SLEEP(1)`
//! at once, a streamed result, a transaction, and a query timeout.
//!
//! ```text
//! cargo run --example tokio -- [URL]
//! ```

use std::time::{Duration, Instant};

use mysqlclient_async::{AsyncConn, ErrorKind};

#[tokio::main(flavor = "current_thread")]
async fn main() -> mysqlclient_async::Result<()> {
    let url = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("MYSQL_URL").ok())
        .unwrap_or_else(|| "mysql://root@127.0.0.1:3306/test".into());

    // 100 slow queries on 100 connections, one thread.
    let mut conns = Vec::new();
    for _ in 0..100 {
        conns.push(AsyncConn::connect(url.as_str()).await?);
    }
    let t0 = Instant::now();
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|mut c| tokio::spawn(async move { c.query_one::<i64>("SELECT SLEEP(1)").await }))
        .collect();
    for t in tasks {
        t.await.expect("task")?;
    }
    println!(
        "100 x SELECT SLEEP(1): {:.3} s on one thread",
        t0.elapsed().as_secs_f64()
    );

    // Stream a large result in constant memory.
    let mut conn = AsyncConn::connect(url.as_str()).await?;
    let mut rows = conn
        .query_stream::<u64>("SELECT seq FROM seq_1_to_1000000")
        .await?;
    let mut sum = 0u64;
    while let Some(seq) = rows.try_next().await? {
        sum += seq;
    }
    println!("streamed 1,000,000 rows, sum {sum}");

    // A transaction guard: dropped without commit means rolled back.
    let mut tx = conn.begin().await?;
    tx.query_drop("DO 1").await?;
    tx.commit().await?;

    // A per-query timeout kills the query on the server and keeps the connection.
    conn.set_query_timeout(Some(Duration::from_millis(200)));
    match conn.query_drop("SELECT SLEEP(10)").await {
        Err(e) if e.kind() == ErrorKind::Timeout => println!("timed out as asked: {e}"),
        other => println!("unexpected: {other:?}"),
    }
    conn.set_query_timeout(None);
    let ok: i32 = conn.query_one("SELECT 1").await?;
    println!("connection still usable: SELECT 1 = {ok}");
    conn.close().await
}
