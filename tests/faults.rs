//! Fault injection on this binary's private server: kill -9 and restart under load,
//! and a server paused with SIGSTOP. A test binary of its own (the tests disturb the
//! server), and the tests take a lock so they never overlap.

mod support;

use support::block_on_multi as run;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mysqlclient_async::{ErrorKind, Pool};

/// Fault tests run one at a time.
static EXCLUSIVE: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn kill_and_restart_the_server() {
    let _x = EXCLUSIVE.lock().unwrap_or_else(|e| e.into_inner());
    let server = support::private_server();
    let url = server.url();
    run(async move {
        let pool = Pool::builder(url.as_str())
            .max_size(64)
            .acquire_timeout(Duration::from_secs(1))
            .build()
            .unwrap();
        pool.query_drop("SELECT 1").await.unwrap();
        let baseline_fds = support::fd_count();
        let stop = Arc::new(AtomicBool::new(false));
        let (ok, errs, nonfatal) = (
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicU64::new(0)),
        );
        let mut tasks = Vec::new();
        for t in 0..64u64 {
            let (pool, stop, ok, errs, nonfatal) = (
                pool.clone(),
                stop.clone(),
                ok.clone(),
                errs.clone(),
                nonfatal.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let r = async {
                        let mut c = pool.get().await?;
                        c.query_one::<(u64, i64)>(&format!(
                            "SELECT {}, SLEEP(0.01)",
                            t * 1_000_000 + i
                        ))
                        .await
                    }
                    .await;
                    match r {
                        Ok((v, _)) => {
                            assert_eq!(v, t * 1_000_000 + i);
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => {
                            if !(e.is_fatal()
                                || matches!(e.kind(), ErrorKind::Pool | ErrorKind::Connect))
                            {
                                eprintln!("non-fatal error during outage: {e}");
                                nonfatal.fetch_add(1, Ordering::Relaxed);
                            }
                            errs.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let before_kill = ok.load(Ordering::Relaxed);
        assert!(before_kill > 0);
        tokio::task::spawn_blocking(|| support::private_server().kill9())
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let errs_during = errs.load(Ordering::Relaxed);
        tokio::task::spawn_blocking(|| support::private_server().start())
            .await
            .unwrap();
        let accepting = Instant::now();
        let ok_at_restart = ok.load(Ordering::Relaxed);
        while ok.load(Ordering::Relaxed) == ok_at_restart {
            assert!(
                accepting.elapsed() < Duration::from_secs(10),
                "the pool never served again"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let recovery = accepting.elapsed();
        tokio::time::sleep(Duration::from_millis(500)).await;
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            t.await.expect("a task panicked");
        }
        println!(
            "kill -9 + restart: {before_kill} ok before, {errs_during} errors during the outage, served again {recovery:?} after the server accepted, {} ok in total",
            ok.load(Ordering::Relaxed)
        );
        assert!(errs_during > 0, "the outage produced no errors");
        assert_eq!(
            nonfatal.load(Ordering::Relaxed),
            0,
            "outage errors must be fatal/connect/pool errors"
        );
        assert!(
            recovery < Duration::from_secs(1),
            "recovery took {recovery:?}"
        );
        pool.close().await;
        drop(pool);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let fds = support::fd_count();
        println!("fd count: baseline {baseline_fds}, after {fds}");
        assert!(
            fds <= baseline_fds,
            "fd count {fds} above baseline {baseline_fds}"
        );
    });
}

/// A pooled connection that is dead before the query is sent (its write side is shut
/// down while the server is paused, so the checkout peek cannot see it yet) is
/// replaced and the query retried once, on a fresh connection.
#[test]
fn dead_before_send_is_retried_once_on_a_fresh_connection() {
    let _x = EXCLUSIVE.lock().unwrap_or_else(|e| e.into_inner());
    let url = support::private_server().url();
    run(async move {
        // Without the reset on return, which would find the connection dead and
        // discard it: this test needs it back in the pool, dead.
        let pool = Pool::builder(url.as_str())
            .max_size(1)
            .reset_on_return(false)
            .build()
            .unwrap();
        let c = pool.get().await.unwrap();
        let old_id = c.thread_id();
        tokio::task::spawn_blocking(|| support::private_server().sigstop())
            .await
            .unwrap();
        use std::os::fd::AsRawFd;
        // SAFETY: shuts down the write half of the connection's own socket.
        unsafe { libc::shutdown(c.as_raw_fd(), libc::SHUT_WR) };
        drop(c);
        let resume = tokio::spawn(async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            tokio::task::spawn_blocking(|| support::private_server().sigcont())
                .await
                .unwrap();
        });
        let id: u64 = pool.query_one("SELECT CONNECTION_ID()").await.unwrap();
        resume.await.unwrap();
        assert_ne!(id, old_id, "ran on a fresh connection");
        let m = pool.metrics();
        assert_eq!(m.retried, 1, "{m:?}");
    });
}
