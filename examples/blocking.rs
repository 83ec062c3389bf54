//! The blocking connection, and the two steps of the Chartio post with `poll(2)`.
//!
//! ```text
//! cargo run --example blocking -- [URL]
//! ```

use std::os::fd::AsRawFd;
use std::time::Instant;

use mysqlclient_async::{Conn, Row};

fn main() -> mysqlclient_async::Result<()> {
    let url = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("MYSQL_URL").ok())
        .unwrap_or_else(|| "mysql://root@127.0.0.1:3306/test".into());
    let mut conn = Conn::connect(url.as_str())?;
    println!(
        "server {} (thread id {})",
        conn.server_version(),
        conn.thread_id()
    );

    let rows: Vec<(u64, String)> = conn.query("SELECT seq, CONCAT('#', seq) FROM seq_1_to_3")?;
    println!("{rows:?}");

    // Step one: send. The call returns at once; the server is now sleeping.
    conn.send_query("SELECT SLEEP(0.5) AS slept, NOW(6) AS at")?;
    let t0 = Instant::now();
    let mut pfd = libc::pollfd {
        fd: conn.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the duration of the call.
    let n = unsafe { libc::poll(&mut pfd, 1, 5_000) };
    println!("fd readable after {:?} (poll returned {n})", t0.elapsed());
    // Step two: the answer is there; reading it does not wait for the query.
    let rs = conn.read_query_result()?;
    let row: &Row = &rs.rows[0];
    println!(
        "slept={} at={}",
        row.get::<i64>("slept"),
        row.get::<String>("at")
    );
    conn.close()
}
