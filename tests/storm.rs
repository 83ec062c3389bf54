//! A connect storm never fails because of the storm itself: thousands of connects
//! started in the same instant from one runtime thread all succeed against a server
//! with MariaDB's default listen queue (`back_log` 80), because the crate runs at
//! most `max_concurrent_connects` handshakes to one server at once and queues the
//! rest fairly. The connect timeout starts when a connect's turn comes, the wait for
//! a turn has its own bound, and each timeout says where it stood.
//!
//! The figures (time until all are open, the slowest connect) are printed.

mod support;

use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use mysqlclient_async::{AsyncConn, ErrorKind, Opts, Pool};

/// One private server for this file, with the listen queue a default MariaDB
/// has (`back_log` = 80 + max_connections / 5 at start-up, 110 for the default
/// 151 connections) and room for the storm's connections.
fn server() -> &'static support::Server {
    static S: OnceLock<support::Server> = OnceLock::new();
    S.get_or_init(|| {
        support::start_private_with(&[
            "--back-log=80",
            "--max-connections=3000",
            "--thread-cache-size=0",
        ])
    })
}

const STORM: usize = 2000;

/// The two tests that open thousands of connections take turns: together they
/// would pass the server's `max_connections` (3,000), which is no fault of the
/// crate's.
fn heavy() -> MutexGuard<'static, ()> {
    static HEAVY: Mutex<()> = Mutex::new(());
    HEAVY.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Open `n` connections at once from one current-thread runtime; returns the
/// failures' messages, the slowest connect and the wall time.
fn storm(opts: Opts, n: usize) -> (Vec<String>, Duration, Duration) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let t0 = Instant::now();
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let opts = opts.clone();
                tokio::spawn(async move {
                    let t = Instant::now();
                    let r = AsyncConn::connect(&opts).await;
                    (r, t.elapsed())
                })
            })
            .collect();
        let mut conns = Vec::with_capacity(n);
        let mut failures = Vec::new();
        let mut slowest = Duration::ZERO;
        for t in tasks {
            let (r, took) = t.await.unwrap();
            slowest = slowest.max(took);
            match r {
                Ok(c) => conns.push(c),
                Err(e) => failures.push(e.to_string()),
            }
        }
        let wall = t0.elapsed();
        // Every connection works, then all are closed politely.
        for c in conns.iter_mut().take(50) {
            assert_eq!(c.query_one::<i64>("SELECT 1").await.unwrap(), 1);
        }
        for c in conns {
            c.close().await.unwrap();
        }
        (failures, slowest, wall)
    })
}

/// Where a handshake timed out is known only where the connect runs through
/// the library's non-blocking API; the portable backend connects with a blocking
/// call on tokio's blocking pool, and its timeout says so in general terms.
fn stage_known() -> bool {
    mysqlclient_async::backend() != "portable"
}

/// The part of a handshake timeout's message that says where it stood.
fn stood(specific: &'static str) -> &'static str {
    if stage_known() {
        specific
    } else {
        "before the TCP connection and the server's greeting and authentication completed"
    }
}

/// Distinct failure messages, with counts, for an assertion's text.
fn summary(failures: &[String]) -> String {
    let mut kinds: Vec<(String, usize)> = Vec::new();
    for f in failures {
        match kinds.iter_mut().find(|(k, _)| k == f) {
            Some((_, n)) => *n += 1,
            None => kinds.push((f.clone(), 1)),
        }
    }
    kinds
        .iter()
        .map(|(k, n)| format!("{n} x {k}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_connect_storm_against_a_default_listen_queue_opens_every_connection() {
    let _turn = heavy();
    // A connect timeout shorter than the first SYN retransmit (1 s): a storm
    // that overflowed the listen queue would fail. Without the queue of turns
    // (`max_concurrent_connects=0`) 50 of these 2,000 failed here, each error
    // naming where it stood (no answer to the SYN, or no greeting).
    let opts = Opts::from_url(&format!("{}?connect_timeout=0.9", server().url())).unwrap();
    assert_eq!(
        opts.max_concurrent_connects(),
        Some(mysqlclient_async::DEFAULT_MAX_CONCURRENT_CONNECTS)
    );
    let (failures, slowest, wall) = storm(opts, STORM);
    println!(
        "storm: {STORM} connects at once, back_log 80: all open after {wall:.2?}, \
         slowest {slowest:.2?}, {} failed",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {STORM} connects failed:\n{}",
        failures.len(),
        summary(&failures)
    );
}

#[test]
fn a_cold_pool_under_a_burst_serves_every_request() {
    let _turn = heavy();
    let c = 1500;
    let opts = Opts::from_url(&format!("{}?connect_timeout=2.5", server().url())).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let pool = Pool::builder(opts)
            .max_size(c)
            .acquire_timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let t0 = Instant::now();
        let tasks: Vec<_> = (0..c)
            .map(|_| {
                let pool = pool.clone();
                tokio::spawn(async move {
                    let mut conn = pool.get().await?;
                    conn.query_one::<i64>("SELECT SLEEP(0.2)").await
                })
            })
            .collect();
        let mut failures = Vec::new();
        for t in tasks {
            match t.await.unwrap() {
                Ok(v) => assert_eq!(v, 0),
                Err(e) => failures.push(e.to_string()),
            }
        }
        println!(
            "cold pool: {c} requests at once served in {:.2?}, {} failed, {:?}",
            t0.elapsed(),
            failures.len(),
            pool.metrics()
        );
        assert!(
            failures.is_empty(),
            "{} of {c} requests failed:\n{}",
            failures.len(),
            summary(&failures)
        );
        assert_eq!(pool.metrics().created, c as u64);
        pool.close().await;
    });
}

/// A server that accepts the TCP connection and never greets: a connect holds
/// its turn until its own timeout, the next one waits for its turn within a
/// bound of its own, and each error says where it stood.
#[test]
fn the_wait_for_a_turn_and_the_handshake_have_their_own_bounds() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let silent = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = listener.accept().await {
                held.push(s);
            }
        });
        // The first holds the only turn for 1.2 s; the second waits at most its own
        // connect timeout (0.4 s) for a turn.
        let url = |t: &str| {
            Opts::from_url(&format!(
                "mysql://root@127.0.0.1:{port}/?connect_timeout={t}&max_concurrent_connects=1"
            ))
            .unwrap()
        };
        let (long, short) = (url("1.2"), url("0.4"));
        let limit = Duration::from_millis(400);
        let first = tokio::spawn(async move { AsyncConn::connect(&long).await.map(drop) });
        tokio::task::yield_now().await;
        let t0 = Instant::now();
        let e2 = AsyncConn::connect(&short).await.map(drop).unwrap_err();
        let took = t0.elapsed();
        let e1 = first.await.unwrap().unwrap_err();
        println!("first: {e1}\nsecond: {e2}");
        assert_eq!(e1.kind(), ErrorKind::Connect);
        assert!(
            e1.to_string()
                .contains(stood("waiting for the server's greeting")),
            "{e1}"
        );
        assert_eq!(e2.kind(), ErrorKind::Connect);
        assert!(e2.to_string().contains("no turn to connect"), "{e2}");
        assert!(e2.to_string().contains("max_concurrent_connects"), "{e2}");
        assert!(
            took >= limit && took < Duration::from_millis(1100),
            "the second connect gave up after {took:?}"
        );
        // Once the first is gone, the next gets its turn and its full timeout.
        let t = Instant::now();
        let e3 = AsyncConn::connect(&short).await.map(drop).unwrap_err();
        assert!(e3.to_string().contains(stood("greeting")), "{e3}");
        assert!(t.elapsed() >= limit, "{:?}", t.elapsed());
        silent.abort();
    });
}

/// A listener whose accept queue is full drops the SYN: the timeout says the
/// server never accepted the TCP connection.
#[test]
fn a_full_listen_queue_is_named_in_the_timeout() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = socket.local_addr().unwrap();
        // A queue of one that nobody accepts from: fill it.
        let listener = socket.listen(0).unwrap();
        let mut fillers = Vec::new();
        for _ in 0..4 {
            let connect = tokio::net::TcpStream::connect(addr);
            if let Ok(Ok(s)) = tokio::time::timeout(Duration::from_millis(200), connect).await {
                fillers.push(s);
            }
        }
        assert!(!fillers.is_empty(), "could not fill the accept queue");
        let opts = Opts::from_url(&format!(
            "mysql://root@127.0.0.1:{}/?connect_timeout=0.7",
            addr.port()
        ))
        .unwrap();
        let e = AsyncConn::connect(&opts).await.map(drop).unwrap_err();
        println!("{e}");
        assert_eq!(e.kind(), ErrorKind::Connect);
        assert!(
            e.to_string()
                .contains(stood("before the server accepted the TCP connection")),
            "{e}"
        );
        drop((listener, fillers));
    });
}
