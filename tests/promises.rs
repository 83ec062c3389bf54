//! Regression tests for promises that broke when attacked: nested transactions are
//! savepoints, a lost connection's descriptor never panics, a packet-too-large error
//! after the library closed the socket is fatal, the connect thread cannot corrupt a
//! healthy connect, a runtime that moves threads mid-connect gets a clear error, and
//! errors say precisely what happened (no connection, no rows).

mod support;

use std::future::Future;
use std::net::TcpListener;
use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, Instant};

use mysqlclient_async::{AsyncConn, Conn, ErrorKind, Opts};

fn url() -> String {
    support::url()
}

async fn conn() -> AsyncConn {
    AsyncConn::connect(url().as_str()).await.expect("connect")
}

/// A table of this process, emptied.
async fn table(c: &mut AsyncConn, name: &str) -> String {
    let t = format!("{name}_{}", std::process::id());
    c.query_drop(&format!(
        "CREATE TABLE IF NOT EXISTS {t} (x INT) ENGINE=InnoDB"
    ))
    .await
    .unwrap();
    c.query_drop(&format!("DELETE FROM {t}")).await.unwrap();
    t
}

async fn rows(c: &mut AsyncConn, t: &str) -> Vec<i32> {
    c.query(&format!("SELECT x FROM {t} ORDER BY x"))
        .await
        .unwrap()
}

// ----- nested transactions -----

#[test]
fn a_nested_begin_is_a_savepoint_with_its_own_guard() {
    support::block_on(async {
        let mut c = conn().await;
        let t = table(&mut c, "t_nested").await;
        {
            let mut tx = c.begin().await.unwrap();
            assert_eq!(tx.depth(), 0);
            tx.query_drop(&format!("INSERT INTO {t} VALUES (1)"))
                .await
                .unwrap();
            // Rolled back: only its own work goes.
            let mut inner = tx.begin().await.unwrap();
            assert_eq!(inner.depth(), 1);
            inner
                .query_drop(&format!("INSERT INTO {t} VALUES (2)"))
                .await
                .unwrap();
            inner.rollback().await.unwrap();
            // Committed: its work stays in the outer transaction.
            let mut inner = tx.begin().await.unwrap();
            inner
                .exec_drop(&format!("INSERT INTO {t} VALUES (?)"), (3,))
                .await
                .unwrap();
            // Two levels deep, dropped without a decision: rolled back.
            {
                let mut deeper = inner.begin().await.unwrap();
                deeper
                    .query_drop(&format!("INSERT INTO {t} VALUES (4)"))
                    .await
                    .unwrap();
            }
            inner.commit().await.unwrap();
            // Dropped without a decision: rolled back to its savepoint, the outer
            // transaction goes on.
            {
                let mut inner = tx.begin().await.unwrap();
                inner
                    .query_drop(&format!("INSERT INTO {t} VALUES (5)"))
                    .await
                    .unwrap();
            }
            tx.query_drop(&format!("INSERT INTO {t} VALUES (6)"))
                .await
                .unwrap();
            assert!(tx.in_transaction());
            tx.commit().await.unwrap();
        }
        assert!(!c.in_transaction());
        assert_eq!(rows(&mut c, &t).await, vec![1, 3, 6]);
        c.query_drop(&format!("DROP TABLE {t}")).await.unwrap();
    });
}

/// A nested `begin` whose future is dropped before its SAVEPOINT was sent must not
/// roll back to an older savepoint: savepoint names are never reused.
#[test]
fn a_dropped_nested_begin_never_reaches_an_older_savepoint() {
    support::block_on(async {
        let mut c = conn().await;
        let t = table(&mut c, "t_nested_drop").await;
        let mut tx = c.begin().await.unwrap();
        let inner = tx.begin().await.unwrap();
        inner.rollback().await.unwrap(); // its savepoint still exists on the server
        tx.query_drop(&format!("INSERT INTO {t} VALUES (1)"))
            .await
            .unwrap();
        drop(tx.begin()); // never polled: no SAVEPOINT was sent
        tx.query_drop(&format!("INSERT INTO {t} VALUES (2)"))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(rows(&mut c, &t).await, vec![1, 2]);
        c.query_drop(&format!("DROP TABLE {t}")).await.unwrap();
    });
}

/// A dropped outer `begin` future leaves no transaction open behind the caller's
/// back: the next command ends it.
#[test]
fn a_dropped_begin_leaves_no_transaction_open() {
    support::block_on(async {
        let mut c = conn().await;
        let t = table(&mut c, "t_begin_drop").await;
        for polls in 0..4 {
            {
                let mut f = Box::pin(c.begin());
                for _ in 0..polls {
                    let p = std::future::poll_fn(|cx| std::task::Poll::Ready(f.as_mut().poll(cx)))
                        .await;
                    if p.is_ready() {
                        break; // finished: its guard is dropped below, rolling back
                    }
                    tokio::task::yield_now().await;
                }
            }
            c.query_drop(&format!("INSERT INTO {t} VALUES ({polls})"))
                .await
                .unwrap();
            assert!(!c.in_transaction(), "after {polls} polls");
        }
        // Every insert was autocommitted: another connection sees them.
        let mut other = conn().await;
        assert_eq!(rows(&mut other, &t).await, vec![0, 1, 2, 3]);
        other.query_drop(&format!("DROP TABLE {t}")).await.unwrap();
    });
}

// ----- descriptors of lost connections -----

/// `poll(2)` says the descriptor is readable (or hung up) right now.
fn readable_now(fd: std::os::fd::RawFd) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one pollfd on the stack, zero timeout.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    n == 1 && p.revents & (libc::POLLIN | libc::POLLHUP) != 0
}

#[test]
fn a_lost_connection_still_has_a_descriptor() {
    let mut killer = Conn::connect(url().as_str()).unwrap();
    // Blocking connection, and its mio registration.
    let mut c = Conn::connect(url().as_str()).unwrap();
    let mut poll = mio::Poll::new().unwrap();
    poll.registry()
        .register(&mut c, mio::Token(1), mio::Interest::READABLE)
        .unwrap();
    killer
        .query_drop(&format!("KILL {}", c.thread_id()))
        .unwrap();
    let e = c.query_drop("SELECT 1").unwrap_err();
    assert!(e.is_fatal(), "{e}");
    assert!(c.is_broken());
    let fd = c.as_fd().as_raw_fd();
    assert!(fd >= 0);
    assert_eq!(fd, c.as_raw_fd());
    assert!(readable_now(fd), "the stand-in wakes an event loop at once");
    poll.registry().deregister(&mut c).unwrap();
    poll.registry()
        .register(&mut c, mio::Token(2), mio::Interest::READABLE)
        .unwrap();
    let mut events = mio::Events::with_capacity(4);
    poll.poll(&mut events, Some(Duration::from_secs(1)))
        .unwrap();
    assert!(events.iter().any(|e| e.token() == mio::Token(2)));
    poll.registry().deregister(&mut c).unwrap();
    assert_eq!(
        c.query_drop("SELECT 1").unwrap_err().kind(),
        ErrorKind::Broken
    );

    // Async connection.
    support::block_on(async {
        let mut a = conn().await;
        killer
            .query_drop(&format!("KILL {}", a.thread_id()))
            .unwrap();
        let e = a.query_drop("SELECT 1").await.unwrap_err();
        assert!(e.is_fatal(), "{e}");
        assert!(a.is_broken());
        let fd = a.as_fd().as_raw_fd();
        assert_eq!(fd, a.as_raw_fd());
        assert!(readable_now(fd));
        assert_eq!(a.ping().await.unwrap_err().kind(), ErrorKind::Broken);
    });
}

// ----- packets too large -----

/// A row larger than the client's max_allowed_packet: the library drops the
/// connection, and the error says so (fatal), whatever code it reports.
#[test]
fn an_oversized_packet_from_the_server_is_fatal() {
    let u = format!("{}?max_allowed_packet=16384", url());
    let mut c = Conn::connect(u.as_str()).unwrap();
    let e = c.query_drop("SELECT REPEAT('x', 100000)").unwrap_err();
    assert!(e.is_fatal(), "{e}");
    assert!(c.is_broken());
    let _ = c.as_fd();
    support::block_on(async {
        let mut a = AsyncConn::connect(u.as_str()).await.unwrap();
        let e = a
            .query_drop("SELECT REPEAT('x', 100000)")
            .await
            .unwrap_err();
        assert!(e.is_fatal(), "{e}");
        assert!(a.is_broken());
        let _ = a.as_fd();
        // A command over the limit is refused by the library and the connection
        // is reported the way the library left it: usable only if the socket is.
        let mut b = AsyncConn::connect(u.as_str()).await.unwrap();
        let big = format!("SELECT '{}'", "y".repeat(40_000));
        let e = b.query_drop(&big).await.unwrap_err();
        assert_eq!(e.is_fatal(), b.is_broken(), "{e}");
        if !e.is_fatal() {
            assert_eq!(b.query_one::<i32>("SELECT 1").await.unwrap(), 1);
        }
    });
}

// ----- connects -----

/// A port on which nothing listens (bound, then closed).
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Many connects at once on a multi-thread runtime, half of them refused: every
/// refused one fails cleanly and every healthy one succeeds (a failed connect's
/// late errno write must never land in another connect).
#[test]
fn failing_and_healthy_connects_side_by_side() {
    let good = url();
    let bad = format!("mysql://root@127.0.0.1:{}/test", closed_port());
    support::block_on_multi(async move {
        for round in 0..10 {
            let mut tasks = Vec::new();
            for i in 0..40 {
                let u = if i % 2 == 0 {
                    good.clone()
                } else {
                    bad.clone()
                };
                tasks.push(tokio::spawn(async move {
                    (i % 2 == 0, AsyncConn::connect(u.as_str()).await)
                }));
            }
            for t in tasks {
                let (healthy, r) = t.await.unwrap();
                match (healthy, r) {
                    (true, Ok(mut c)) => {
                        assert_eq!(c.query_one::<i32>("SELECT 7").await.unwrap(), 7)
                    }
                    (true, Err(e)) => panic!("round {round}: a healthy connect failed: {e}"),
                    (false, Ok(_)) => panic!("round {round}: a refused port connected"),
                    (false, Err(e)) => {
                        assert_eq!(e.kind(), ErrorKind::Connect, "{e}");
                        // "Can't connect": MariaDB's client says 2002, Oracle's 2003.
                        assert!(matches!(e.code(), Some(2002 | 2003)), "{e}");
                    }
                }
            }
        }
    });
}

/// A listener whose accept queue is full, so that a new connect waits in the TCP
/// handshake (its SYN is dropped until a slot frees).
struct FullListener {
    listener: TcpListener,
    _fillers: Vec<std::net::TcpStream>,
}

fn full_listener() -> FullListener {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    // SAFETY: listen(2) on our own socket, to shrink the accept queue.
    assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 0) }, 0);
    let addr = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..4 {
        if let Ok(s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            fillers.push(s);
        }
    }
    FullListener {
        listener,
        _fillers: fillers,
    }
}

/// A current-thread runtime driven from one thread and then another in the middle
/// of a connect's TCP handshake. MariaDB's client cannot resume the connect on the
/// second thread (its co-routine would write into the first thread's errno): the
/// connect fails with an error that says so. Oracle's client keeps no per-thread
/// state between calls: the connect resumes and reports what really happened (this
/// listener accepts and never greets, then closes).
#[test]
fn a_runtime_that_moves_threads_mid_connect_gets_a_clear_error() {
    let full = full_listener();
    let port = full.listener.local_addr().unwrap().port();
    let opts = Opts::builder()
        .host("127.0.0.1")
        .port(port)
        .connect_timeout(Duration::from_secs(20))
        .build();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut fut = Box::pin(AsyncConn::connect(opts));
    // Thread A: start the connect; it waits in the TCP handshake.
    let (rt, mut fut) = std::thread::spawn(move || {
        rt.block_on(async {
            let r = tokio::time::timeout(Duration::from_millis(300), &mut fut).await;
            assert!(
                r.is_err(),
                "the connect should still be in its TCP handshake"
            );
        });
        (rt, fut)
    })
    .join()
    .unwrap();
    // Thread B: free the accept queue so the handshake completes, then resume.
    let started = Instant::now();
    let accepted = std::thread::spawn(move || {
        let (_s, _) = full.listener.accept().unwrap();
        std::thread::sleep(Duration::from_secs(5));
    });
    let r = std::thread::spawn(move || {
        rt.block_on(async { tokio::time::timeout(Duration::from_secs(15), &mut fut).await })
    })
    .join()
    .unwrap();
    let e = r.expect("the connect finished").unwrap_err();
    println!("moved runtime: {e} after {:?}", started.elapsed());
    assert_eq!(e.kind(), ErrorKind::Connect);
    if mysqlclient_async::backend() == "mariadb" {
        assert!(e.to_string().contains("moved to another thread"), "{e}");
    } else {
        assert!(!e.to_string().contains("moved to another thread"), "{e}");
        assert!(
            e.to_string().contains("initial communication packet"),
            "{e}"
        );
    }
    drop(accepted);
}

// ----- what errors say -----

#[test]
fn errors_without_a_connection_say_nothing_about_one() {
    let e = Opts::from_url("postgres://x").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(!e.to_string().contains("connection"), "{e}");
    let e = Opts::from_url("mysql://h/db?bogus=1").unwrap_err();
    assert!(!e.to_string().contains("[connection"), "{e}");
    let bad = format!("mysql://root@127.0.0.1:{}/test", closed_port());
    let e = Conn::connect(bad.as_str()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connect);
    assert!(!e.to_string().contains("[connection"), "{e}");
}

#[test]
fn query_one_on_no_rows_is_its_own_kind() {
    let mut c = Conn::connect(url().as_str()).unwrap();
    let e = c
        .query_one::<i32>("SELECT 1 FROM DUAL WHERE 0")
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoRows, "{e}");
    assert!(!e.is_fatal());
    assert!(
        e.to_string()
            .contains("[the statement ran; connection still usable]"),
        "{e}"
    );
    let e = c
        .exec_one::<i32, _>("SELECT ? FROM DUAL WHERE 0", (1,))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoRows, "{e}");
    assert_eq!(c.query_one::<i32>("SELECT 1").unwrap(), 1);
    support::block_on(async {
        let mut a = conn().await;
        let e = a
            .query_one::<i32>("SELECT 1 FROM DUAL WHERE 0")
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NoRows, "{e}");
        assert_eq!(
            a.query_opt::<i32>("SELECT 1 FROM DUAL WHERE 0")
                .await
                .unwrap(),
            None
        );
    });
}
