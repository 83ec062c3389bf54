//! One descriptor per connection: the reactor watches the library's own socket
//! through the runtime's epoll set (src/async_conn/mux.rs), with no duplicate
//! per connection, and a socket the library closed (a lost connection) can never
//! confuse a new connection that the system gave the same fd number.

mod support;

use std::os::fd::AsRawFd;
use std::time::Duration;

use mysqlclient_async::{AsyncConn, ErrorKind};

/// Descriptors are counted for the whole process: one test at a time, each
/// with its runtime (and the runtime's own descriptors) created and dropped
/// while it holds this lock.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn run<F: std::future::Future<Output = ()>>(rt: tokio::runtime::Runtime, test: F) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    rt.block_on(test);
    drop(rt);
}

#[test]
fn each_connection_holds_one_descriptor() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    run(rt, async {
        let url = support::url();
        // The first connection also creates the runtime's epoll set (one descriptor
        // for the whole runtime).
        let first = AsyncConn::connect(url.as_str()).await.unwrap();
        let before = support::fd_count();
        let n = 200;
        let mut conns = Vec::new();
        for _ in 0..n {
            let mut c = AsyncConn::connect(url.as_str()).await.unwrap();
            // Each has waited on its socket at least once.
            assert_eq!(c.query_one::<i64>("SELECT 1").await.unwrap(), 1);
            conns.push(c);
        }
        let with = support::fd_count();
        println!("{n} connections: {} descriptors", with - before);
        assert_eq!(with - before, n, "descriptors per connection");
        for c in conns {
            c.close().await.unwrap();
        }
        assert_eq!(support::fd_count(), before, "descriptors after closing");
        first.close().await.unwrap();
    });
}

#[test]
fn a_socket_number_the_library_closed_and_the_system_reused_is_never_confused() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    run(rt, async {
        let url = support::url();
        let mut admin = AsyncConn::connect(url.as_str()).await.unwrap();
        let mut reused_rounds = 0;
        for round in 0..20 {
            // A loses its connection: the server kills it, and the library closes
            // its socket while reading the answer.
            let mut a = AsyncConn::connect(url.as_str()).await.unwrap();
            let (a_fd, a_id) = (a.as_raw_fd(), a.thread_id());
            admin
                .query_drop(&format!("KILL CONNECTION {a_id}"))
                .await
                .unwrap();
            let e = a.query_one::<i64>("SELECT 1").await.unwrap_err();
            assert!(
                matches!(e.kind(), ErrorKind::ConnectionLost | ErrorKind::Server),
                "round {round}: {e}"
            );
            // B most likely gets A's old number (the lowest free one).
            let mut b = AsyncConn::connect(url.as_str()).await.unwrap();
            let reused = b.as_raw_fd() == a_fd;
            reused_rounds += usize::from(reused);
            // A goes away while B waits on its socket: B must still be woken.
            let waiting = tokio::spawn(async move {
                let v = b.query_one::<f64>("SELECT SLEEP(0.05) + 1").await;
                (b, v)
            });
            tokio::time::sleep(Duration::from_millis(10)).await;
            drop(a);
            let (b, v) = tokio::time::timeout(Duration::from_secs(5), waiting)
                .await
                .unwrap_or_else(|_| {
                    panic!("round {round}: B was never woken (fd reused: {reused})")
                })
                .unwrap();
            assert_eq!(v.unwrap(), 1.0, "round {round}");
            b.close().await.unwrap();
        }
        println!("the new connection got the lost one's fd number in {reused_rounds} of 20 rounds");
        assert!(
            reused_rounds > 0,
            "no round reused the number: the test proved nothing"
        );
        admin.close().await.unwrap();
    });
}
