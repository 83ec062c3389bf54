//! The async core against a real server. `make test` runs this file twice: on the
//! full non-blocking path, and with MYSQLCLIENT_ASYNC_TEST_IO_MODE=readable_then_read
//! on the portable Chartio path.

mod support;

use support::block_on as run;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use mysqlclient_async::{AsyncConn, Conn, ErrorKind, IoMode, Opts, Row};

fn io_mode() -> IoMode {
    match std::env::var("MYSQLCLIENT_ASYNC_TEST_IO_MODE").as_deref() {
        Ok("readable_then_read") => IoMode::ReadableThenRead,
        Ok("nonblocking") | Err(_) => IoMode::NonBlocking,
        Ok(other) => {
            panic!("MYSQLCLIENT_ASYNC_TEST_IO_MODE={other}: use nonblocking or readable_then_read")
        }
    }
}

fn opts() -> Opts {
    Opts::from_url(&support::url())
        .unwrap()
        .to_builder()
        .io_mode(io_mode())
        .build()
}

async fn conn() -> AsyncConn {
    let c = AsyncConn::connect(&opts()).await.expect("connect");
    assert_eq!(
        c.is_nonblocking(),
        io_mode() == IoMode::NonBlocking && mysqlclient_async::backend() != "portable"
    );
    c
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn basics() {
    run(async {
        let mut c = conn().await;
        let (a, b): (i64, String) = c.query_one("SELECT 1, 'one'").await.unwrap();
        assert_eq!((a, b.as_str()), (1, "one"));
        let rows: Vec<Row> = c.query("SELECT seq FROM seq_1_to_5").await.unwrap();
        assert_eq!(rows.len(), 5);
        assert_eq!(
            c.query_opt::<i32>("SELECT 1 FROM DUAL WHERE 0")
                .await
                .unwrap(),
            None
        );
        let e = c.query_drop("SELEC 1").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Server);
        assert!(!e.is_fatal());
        c.ping().await.unwrap();
        let sets = c.query_multi("SELECT 1; SELECT 2, 3; DO 0").await.unwrap();
        assert_eq!(sets.len(), 3);
        assert_eq!(sets[1].rows[0].get::<i32>(1), 3);
        c.send_query("SELECT 10; SELECT 20").await.unwrap();
        assert_eq!(
            c.send_query("SELECT 1").await.unwrap_err().kind(),
            ErrorKind::Busy
        );
        let first = c.read_query_result().await.unwrap();
        assert_eq!(first.rows[0].get::<i32>(0), 10);
        let second = c.next_result().await.unwrap().unwrap();
        assert_eq!(second.rows[0].get::<i32>(0), 20);
        assert!(c.next_result().await.unwrap().is_none());
        c.select_db("mysql").await.unwrap();
        assert_eq!(
            c.query_one::<String>("SELECT DATABASE()").await.unwrap(),
            "mysql"
        );
        c.query_drop("SET @v = 3").await.unwrap();
        c.reset_connection().await.unwrap();
        assert_eq!(c.query_one::<Option<i32>>("SELECT @v").await.unwrap(), None);
        let r = c.execute("DO 1").await.unwrap();
        assert_eq!(r.affected_rows, 0);
        c.close().await.unwrap();
    });
}

#[test]
fn connect_errors_are_typed() {
    run(async {
        let bad = opts().to_builder().password("nope-nope").build();
        let e = AsyncConn::connect(&bad).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Connect);
        assert_eq!(e.code(), Some(1045));
        assert!(!format!("{e:?}").contains("nope-nope"));
        let e = AsyncConn::connect("mysql://root@no-such-host.invalid:3306/")
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Connect, "{e}");
        assert!(e.to_string().contains("no-such-host.invalid"), "{e}");
    });
}

#[test]
fn transaction_guard_rolls_back_on_drop() {
    run(async {
        let mut c = conn().await;
        let t = format!("t_tx_{}_{:?}", std::process::id(), io_mode());
        c.query_drop(&format!(
            "CREATE TABLE IF NOT EXISTS {t} (x INT) ENGINE=InnoDB"
        ))
        .await
        .unwrap();
        c.query_drop(&format!("DELETE FROM {t}")).await.unwrap();
        {
            let mut tx = c.begin().await.unwrap();
            tx.query_drop(&format!("INSERT INTO {t} VALUES (1)"))
                .await
                .unwrap();
            assert!(tx.in_transaction());
            // dropped without commit
        }
        let n: i64 = c
            .query_one(&format!("SELECT COUNT(*) FROM {t}"))
            .await
            .unwrap();
        assert_eq!(n, 0, "dropped transaction was rolled back");
        assert!(!c.in_transaction());
        let mut tx = c.begin().await.unwrap();
        tx.query_drop(&format!("INSERT INTO {t} VALUES (2)"))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let n: i64 = c
            .query_one(&format!("SELECT COUNT(*) FROM {t}"))
            .await
            .unwrap();
        assert_eq!(n, 1);
        c.query_drop(&format!("DROP TABLE {t}")).await.unwrap();
    });
}

/// 100 concurrent SELECT SLEEP(1) on 100 connections, one thread: all done in < 1.5 s.
#[test]
fn hundred_sleeps_run_concurrently_on_one_thread() {
    run(async {
        let mut conns = Vec::new();
        for _ in 0..100 {
            conns.push(conn().await);
        }
        let t0 = Instant::now();
        let mut tasks = Vec::new();
        for mut c in conns {
            tasks.push(tokio::spawn(async move {
                let v: i64 = c.query_one("SELECT SLEEP(1)").await.unwrap();
                assert_eq!(v, 0);
                c
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let took = t0.elapsed();
        println!(
            "100 x SELECT SLEEP(1) on one thread ({:?}): {took:?}",
            io_mode()
        );
        assert!(
            took < Duration::from_millis(1500),
            "took {took:?}: queries did not overlap"
        );
    });
}

/// The stall probe: a 5 ms heartbeat on a current-thread runtime while other tasks
/// connect, stream, ping and close. Returns the largest gap between ticks.
async fn stall_probe<F, Fut>(work: F) -> Duration
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let max_gap = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let hb = {
        let (max_gap, stop) = (max_gap.clone(), stop.clone());
        tokio::task::spawn_local(async move {
            let mut last = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(5)).await;
                let now = Instant::now();
                let gap = now.duration_since(last).as_micros() as u64;
                max_gap.fetch_max(gap, Ordering::Relaxed);
                last = now;
            }
        })
    };
    // Let the heartbeat start ticking.
    tokio::time::sleep(Duration::from_millis(20)).await;
    tokio::task::spawn_local(work()).await.unwrap();
    stop.store(true, Ordering::Relaxed);
    hb.await.unwrap();
    Duration::from_micros(max_gap.load(Ordering::Relaxed))
}

async fn async_workload() {
    let mut conns = Vec::new();
    for _ in 0..50 {
        conns.push(conn().await);
    }
    let c = &mut conns[0];
    let mut s = c
        .query_stream::<Row>("SELECT seq, CONCAT('row-', seq), seq * 1.5 FROM seq_1_to_200000")
        .await
        .unwrap();
    let mut n = 0u64;
    while let Some(r) = s.try_next().await.transpose() {
        let r = r.unwrap();
        n += r.get::<u64>(0);
    }
    assert_eq!(n, 200_000 * 200_001 / 2);
    for c in conns.iter_mut() {
        c.ping().await.unwrap();
    }
    for c in conns {
        c.close().await.unwrap();
    }
}

#[test]
fn nothing_blocks_the_loop() {
    // Start the test server (a blocking call of the test support) before the probe.
    let _ = opts();
    let local = tokio::task::LocalSet::new();
    let gap = current_thread().block_on(local.run_until(async {
        tokio::time::timeout(support::ASYNC_TEST_LIMIT, stall_probe(async_workload))
            .await
            .unwrap()
    }));
    println!(
        "stall probe ({:?} path): largest heartbeat gap {:.1} ms",
        io_mode(),
        gap.as_secs_f64() * 1e3
    );
    if io_mode() == IoMode::NonBlocking {
        assert!(gap < Duration::from_millis(25), "loop stalled for {gap:?}");
    }
}

#[test]
fn stall_probe_control_blocking_conn_inline() {
    // The same probe with the blocking Conn called inline: proves the probe sees stalls.
    let _ = opts();
    let local = tokio::task::LocalSet::new();
    let gap = current_thread().block_on(local.run_until(async {
        tokio::time::timeout(
            support::ASYNC_TEST_LIMIT,
            stall_probe(|| async {
                let mut c = Conn::connect(opts()).unwrap();
                let v: i64 = c.query_one("SELECT SLEEP(0.5)").unwrap();
                assert_eq!(v, 0);
            }),
        )
        .await
        .unwrap()
    }));
    println!("stall probe control (blocking Conn inline): largest gap {gap:?}");
    assert!(
        gap >= Duration::from_millis(400),
        "probe missed a 500 ms stall: {gap:?}"
    );
}

fn rss_bytes() -> u64 {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = s.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

#[test]
fn streaming_two_million_rows_uses_constant_memory() {
    run(async {
        let mut c = conn().await;
        let sql = "SELECT seq, REPEAT('x', 40) FROM seq_1_to_2000000";
        let mut s = c.query_stream::<Row>(sql).await.unwrap();
        let mut count = 0u64;
        let mut before = 0;
        while let Some(r) = s.try_next().await.transpose() {
            let r = r.unwrap();
            assert_eq!(r.raw(1).unwrap().len(), 40);
            count += 1;
            if count == 10_000 {
                before = rss_bytes();
            }
        }
        let growth = rss_bytes().saturating_sub(before);
        println!(
            "streamed {count} rows ({:?}): RSS growth {:.1} MB",
            io_mode(),
            growth as f64 / 1e6
        );
        assert_eq!(count, 2_000_000);
        assert!(growth < 20_000_000, "RSS grew by {growth} bytes");
        // The owned-row Stream impl works too, and the connection is reusable.
        let rows: Vec<Row> = c
            .query_stream::<Row>("SELECT seq FROM seq_1_to_1000")
            .await
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
            .await;
        assert_eq!(rows.len(), 1000);
        assert_eq!(c.query_one::<i32>("SELECT 9").await.unwrap(), 9);
    });
}

#[test]
fn dropping_a_stream_early_keeps_the_connection_in_sync() {
    run(async {
        let mut c = conn().await;
        {
            let mut s = c
                .query_stream::<Row>("SELECT seq FROM seq_1_to_100000")
                .await
                .unwrap();
            for _ in 0..10 {
                s.try_next().await.transpose().unwrap().unwrap();
            }
        }
        assert!(c.has_pending_work());
        assert_eq!(
            c.query_one::<String>("SELECT 'after'").await.unwrap(),
            "after"
        );
    });
}

/// 64 tasks on 2 workers, 20,000 queries, yielding between them so tasks migrate
/// between threads between `_start` and `_cont`.
#[test]
fn thread_migration_stress() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let threads_seen = Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
    rt.block_on(async {
        tokio::time::timeout(support::ASYNC_TEST_LIMIT, async {
            let mut tasks = Vec::new();
            for t in 0..64u64 {
                let threads_seen = threads_seen.clone();
                tasks.push(tokio::spawn(async move {
                    let mut c = conn().await;
                    for i in 0..(20_000 / 64 + 1) as u64 {
                        let token = t * 1_000_000 + i;
                        threads_seen
                            .lock()
                            .unwrap()
                            .insert(std::thread::current().id());
                        let sql = format!("SELECT {token}, REPEAT('{}', 1 + {i} % 300)", t % 10);
                        let (got, s) = c.query_one::<(u64, String)>(&sql).await.unwrap();
                        assert_eq!(got, token);
                        assert_eq!(s.len() as u64, 1 + i % 300);
                        tokio::task::yield_now().await;
                    }
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
        })
        .await
        .unwrap()
    });
    assert_eq!(
        threads_seen.lock().unwrap().len(),
        2,
        "both workers ran queries"
    );
}

/// Futures dropped at random points never let a later caller read a stale result.
#[test]
fn dropped_futures_never_leak_results() {
    run(async {
        let mut rng = 0x9e3779b97f4a7c15u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let mut conns = Vec::new();
        for _ in 0..8 {
            conns.push(conn().await);
        }
        let (mut timeouts, mut ok, mut broken) = (0, 0, 0);
        for i in 0..3000u64 {
            let c = &mut conns[(i % 8) as usize];
            if c.is_broken() {
                *c = conn().await;
            }
            let budget = Duration::from_micros(next() % 20_000);
            let sleep_ms = next() % 25;
            let token = i + 1;
            let q = format!("SELECT {token}, SLEEP({}.{:03})", 0, sleep_ms);
            match tokio::time::timeout(budget, c.query_one::<(u64, i64)>(&q)).await {
                Err(_) => timeouts += 1,
                Ok(Ok((got, _))) => assert_eq!(got, token, "a query returned another's row"),
                Ok(Err(e)) => panic!("query failed: {e}"),
            }
            // The next query on the same connection must see its own token.
            let check = 10_000_000 + i;
            match c.query_one::<u64>(&format!("SELECT {check}")).await {
                Ok(got) => {
                    assert_eq!(got, check, "stale result after a dropped future");
                    ok += 1;
                }
                Err(e) => {
                    assert_eq!(e.kind(), ErrorKind::Broken, "{e}");
                    broken += 1;
                }
            }
        }
        println!("drop safety ({:?}): {timeouts} futures dropped, {ok} follow-ups correct, {broken} broken", io_mode());
        assert!(timeouts > 500, "too few drops to mean anything: {timeouts}");
    });
}

fn processlist_has(sql_fragment: &str) -> bool {
    let mut c = Conn::connect(opts()).unwrap();
    let rows: Vec<(u64, Option<String>)> = c
        .query("SELECT ID, INFO FROM information_schema.PROCESSLIST")
        .unwrap();
    rows.iter().any(|(_, info)| {
        info.as_deref()
            .is_some_and(|i| i.contains(sql_fragment) && !i.contains("PROCESSLIST"))
    })
}

#[test]
fn cancel_query_kills_on_the_server() {
    run(async {
        let mut c = conn().await;
        let token = c.cancel_token();
        let marker = format!("SLEEP(30) AS k{}", std::process::id());
        let sql = format!("SELECT {marker}");
        let q = tokio::spawn(async move {
            let t0 = Instant::now();
            let r = c.query_one::<i64>(&sql).await;
            (r, t0.elapsed(), c)
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        let t0 = Instant::now();
        token.cancel_query().await.unwrap();
        let (r, took, mut c) = q.await.unwrap();
        let cancel_took = t0.elapsed();
        println!("cancel_query: query returned after {took:?}, {cancel_took:?} after the cancel");
        assert!(cancel_took < Duration::from_secs(1), "{cancel_took:?}");
        // MariaDB's SLEEP returns 1 when interrupted; other statements fail with 1317.
        match r {
            Ok(v) => assert_eq!(v, 1, "SLEEP reports the interruption"),
            // Oracle's non-blocking row fetch loses the server's error code (see
            // `RawConn::fetch_error`); the connection stays in sync all the same.
            Err(e) if mysqlclient_async::backend() == "oracle" => {
                assert_eq!(e.kind(), ErrorKind::Server, "{e}");
                assert!(!e.is_fatal(), "{e}");
            }
            Err(e) => assert_eq!(e.kind(), ErrorKind::Cancelled, "{e}"),
        }
        assert!(!processlist_has(&marker), "query still in the processlist");
        assert_eq!(c.query_one::<i32>("SELECT 3").await.unwrap(), 3);
    });
}

#[test]
fn query_timeout_kills_and_keeps_the_connection() {
    run(async {
        let mut c = conn().await;
        c.set_query_timeout(Some(Duration::from_millis(300)));
        let marker = format!("k_timeout_{}", std::process::id());
        let t0 = Instant::now();
        let e = c
            .query_drop(&format!("SELECT SLEEP(20) AS {marker}"))
            .await
            .unwrap_err();
        let took = t0.elapsed();
        assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
        assert!(!e.is_fatal(), "{e}");
        assert!(took < Duration::from_secs(3), "{took:?}");
        assert!(!processlist_has(&marker));
        c.set_query_timeout(None);
        assert_eq!(c.query_one::<i32>("SELECT 4").await.unwrap(), 4);
    });
}

#[test]
fn futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut c = conn().await;
        let f = c.query::<Row>("SELECT 1");
        assert_send(&f);
        drop(f);
        let h = tokio::spawn(async move { c.query_one::<i32>("SELECT 2").await.unwrap() });
        assert_eq!(h.await.unwrap(), 2);
    });
}

#[test]
fn cancel_side_connection_runs_no_init_sql() {
    run(async {
        let t = format!("t_init_audit_{}_{:?}", std::process::id(), io_mode());
        let mut setup = conn().await;
        setup
            .query_drop(&format!("CREATE TABLE IF NOT EXISTS {t} (n INT)"))
            .await
            .unwrap();
        let o = opts()
            .to_builder()
            .init_sql(format!("INSERT INTO {t} VALUES (1)"))
            .build();
        let mut c = AsyncConn::connect(&o).await.unwrap();
        let count = format!("SELECT COUNT(*) FROM {t}");
        assert_eq!(setup.query_one::<i64>(&count).await.unwrap(), 1);
        c.cancel_token().cancel_query().await.unwrap();
        c.set_query_timeout(Some(Duration::from_millis(50)));
        let e = c.query_drop("SELECT SLEEP(5)").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Timeout);
        assert_eq!(
            setup.query_one::<i64>(&count).await.unwrap(),
            1,
            "the KILL side connections ran the init SQL"
        );
        setup.query_drop(&format!("DROP TABLE {t}")).await.unwrap();
    });
}
