//! A pool serving many tasks: 500 tasks share 16 connections on one thread, some
//! give up on their query half-way (a timeout), and the pool hands out only clean
//! connections anyway.
//!
//! ```text
//! cargo run --example pool -- [URL]
//! ```

use std::time::{Duration, Instant};

use mysqlclient_async::Pool;

#[tokio::main(flavor = "current_thread")]
async fn main() -> mysqlclient_async::Result<()> {
    let url = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("MYSQL_URL").ok())
        .unwrap_or_else(|| "mysql://root@127.0.0.1:3306/test".into());
    let pool = Pool::builder(url.as_str())
        .max_size(16)
        .min_idle(4)
        .acquire_timeout(Duration::from_secs(5))
        .build()?;

    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..500u64 {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = pool.get().await?;
            if i % 10 == 0 {
                // Give up on a slow query: dropping the future leaves the connection
                // mid-command; the pool kills and drains it before reuse.
                let slow = conn.query_drop("SELECT SLEEP(2)");
                let _ = tokio::time::timeout(Duration::from_millis(20), slow).await;
                return Ok(None);
            }
            let (token, _): (u64, i64) =
                conn.query_one(&format!("SELECT {i}, SLEEP(0.01)")).await?;
            assert_eq!(token, i, "every query reads its own answer");
            Ok::<_, mysqlclient_async::Error>(Some(token))
        }));
    }
    let mut answered = 0;
    for t in tasks {
        if t.await.expect("task")?.is_some() {
            answered += 1;
        }
    }
    println!(
        "{answered} queries answered, 50 abandoned, in {:.2} s; {:?}",
        t0.elapsed().as_secs_f64(),
        pool.metrics()
    );
    pool.close().await;
    Ok(())
}
