//! Register connections with the event loop: N concurrent `SELECT SLEEP(1)` on a bare
//! `mio::Poll`, with the two-step API of the 2011 Chartio post.
//!
//! Every connection sends its query at once (`send_query`), registers its socket for
//! READABLE, and reads the result (`read_query_result`) only when the server has
//! answered. One thread, N queries, about one second in total.
//!
//! ```text
//! cargo run --example mio_loop -- [URL] [N]
//! ```
//! URL defaults to `$MYSQL_URL`, then `mysql://root@127.0.0.1:3306/test`; N to 50.

use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};
use mysqlclient_async::Conn;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .or_else(|| std::env::var("MYSQL_URL").ok())
        .unwrap_or_else(|| "mysql://root@127.0.0.1:3306/test".into());
    let n: usize = args.next().map_or(Ok(50), |s| s.parse())?;

    let mut conns = (0..n)
        .map(|_| Conn::connect(url.as_str()))
        .collect::<Result<Vec<_>, _>>()?;
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(n);

    let t0 = Instant::now();
    for (i, conn) in conns.iter_mut().enumerate() {
        conn.send_query(&format!("SELECT SLEEP(1), {i}"))?;
        poll.registry()
            .register(conn, Token(i), Interest::READABLE)?;
    }
    let mut done = 0;
    while done < n {
        poll.poll(&mut events, Some(Duration::from_secs(10)))?;
        if events.is_empty() {
            return Err("no answer within 10 s".into());
        }
        for ev in events.iter() {
            let Token(i) = ev.token();
            let conn = &mut conns[i];
            if !conn.has_pending_work() {
                continue;
            }
            let rs = conn.read_query_result()?;
            let echoed: usize = rs.rows[0].get(1);
            assert_eq!(echoed, i, "each connection reads its own answer");
            poll.registry().deregister(conn)?;
            done += 1;
        }
    }
    println!(
        "mio: {n} concurrent SELECT SLEEP(1) on one thread finished in {:.3} s (serially: {n} s)",
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}
