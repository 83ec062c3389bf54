//! The pool and failure handling, each against a private test server.

mod support;

use support::block_on_multi as run;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mysqlclient_async::{AsyncConn, ErrorKind, Opts, Pool};

/// Returned connections go back after their session reset, in a background task:
/// wait until `n` of them are idle.
async fn wait_idle(pool: &Pool, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while pool.metrics().idle < n {
        assert!(
            Instant::now() < deadline,
            "returned connections not idle: {:?}",
            pool.metrics()
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn url() -> String {
    support::url()
}

#[test]
fn checkout_return_and_metrics() {
    run(async {
        let pool = Pool::builder(url().as_str())
            .max_size(4)
            .min_idle(2)
            .build()
            .unwrap();
        // min_idle is prefilled in the background.
        let t0 = Instant::now();
        while pool.metrics().idle < 2 {
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "min_idle never filled"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut c = pool.get().await.unwrap();
        assert_eq!(c.query_one::<i32>("SELECT 1").await.unwrap(), 1);
        let id = c.thread_id();
        let m = pool.metrics();
        assert_eq!(m.in_use, 1, "{m:?}");
        drop(c);
        let c = pool.get().await.unwrap();
        assert!(
            [id].contains(&c.thread_id()) || pool.metrics().size >= 2,
            "connections are reused"
        );
        drop(c);
        assert_eq!(pool.query_one::<i64>("SELECT 40 + 2").await.unwrap(), 42);
        let m = pool.metrics();
        assert!(m.created >= 2 && m.size <= 4, "{m:?}");
        pool.close().await;
        assert!(pool.is_closed());
        assert_eq!(pool.get().await.unwrap_err().kind(), ErrorKind::Pool);
    });
}

#[test]
fn init_sql_runs_on_every_new_connection() {
    run(async {
        let opts = Opts::from_url(&url())
            .unwrap()
            .to_builder()
            .init_sql("SET @pool_init = 'yes'")
            .build();
        let pool = Pool::builder(&opts).max_size(3).build().unwrap();
        let mut held = Vec::new();
        for _ in 0..3 {
            let mut c = pool.get().await.unwrap();
            assert_eq!(
                c.query_one::<String>("SELECT @pool_init").await.unwrap(),
                "yes"
            );
            held.push(c);
        }
    });
}

#[test]
fn open_transaction_is_rolled_back_on_return() {
    run(async {
        let t = format!("t_pool_tx_{}", std::process::id());
        let pool = Pool::builder(url().as_str()).max_size(1).build().unwrap();
        pool.query_drop(&format!(
            "CREATE TABLE IF NOT EXISTS {t} (x INT) ENGINE=InnoDB"
        ))
        .await
        .unwrap();
        {
            let mut c = pool.get().await.unwrap();
            c.query_drop("BEGIN").await.unwrap();
            c.query_drop(&format!("INSERT INTO {t} VALUES (1)"))
                .await
                .unwrap();
            assert!(c.in_transaction());
        } // returned with the transaction open
        let mut c = pool.get().await.unwrap();
        assert!(!c.in_transaction());
        let n: i64 = c
            .query_one(&format!("SELECT COUNT(*) FROM {t}"))
            .await
            .unwrap();
        assert_eq!(n, 0, "the open transaction was rolled back");
        c.query_drop(&format!("DROP TABLE {t}")).await.unwrap();
    });
}

#[test]
fn acquire_timeout_names_the_last_connect_error() {
    run(async {
        let opts = Opts::from_url(&url())
            .unwrap()
            .to_builder()
            .password("wrong-password-for-pool")
            .build();
        let pool = Pool::builder(&opts)
            .max_size(2)
            .acquire_timeout(Duration::from_millis(500))
            .build()
            .unwrap();
        let e = pool.get().await.unwrap_err();
        // Either the connect error itself, or a timeout that names it.
        let text = e.to_string();
        assert!(
            e.code() == Some(1045) || text.contains("1045"),
            "error does not carry the connect error: {e}"
        );
        assert!(!format!("{e:?}").contains("wrong-password-for-pool"));

        // All connections busy: the timeout says so.
        let pool = Pool::builder(url().as_str())
            .max_size(1)
            .acquire_timeout(Duration::from_millis(200))
            .build()
            .unwrap();
        let held = pool.get().await.unwrap();
        let e = pool.get().await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Pool);
        assert!(e.to_string().contains("in use"), "{e}");
        drop(held);
    });
}

#[test]
fn a_write_that_reached_the_server_is_never_retried() {
    run(async {
        let t = format!("t_noretry_{}", std::process::id());
        // One connection, so that the victim is the one the write runs on.
        let pool = Pool::builder(url().as_str()).max_size(1).build().unwrap();
        pool.query_drop(&format!("CREATE TABLE IF NOT EXISTS {t} (x INT)"))
            .await
            .unwrap();
        pool.query_drop(&format!("DELETE FROM {t}")).await.unwrap();
        let victim = pool.get().await.unwrap();
        let victim_id = victim.thread_id();
        drop(victim);
        wait_idle(&pool, 1).await;
        let killer = {
            let pool = pool.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(300)).await;
                let mut k = AsyncConn::connect(pool.opts()).await.unwrap();
                k.query_drop(&format!("KILL CONNECTION {victim_id}"))
                    .await
                    .unwrap();
            })
        };
        let e = pool
            .execute(&format!("INSERT INTO {t} VALUES (1); SELECT SLEEP(3)"))
            .await
            .unwrap_err();
        killer.await.unwrap();
        assert!(e.is_fatal(), "{e}");
        assert!(!e.is_unsent());
        let n: i64 = pool
            .query_one(&format!("SELECT COUNT(*) FROM {t}"))
            .await
            .unwrap();
        assert_eq!(n, 1, "the INSERT ran exactly once");
        assert_eq!(pool.metrics().retried, 0);
        pool.query_drop(&format!("DROP TABLE {t}")).await.unwrap();
    });
}

/// 10,000 queries with random timeouts of 0–50 ms over a pool of 16.
#[test]
fn cancellation_storm() {
    run(async {
        let pool = Pool::builder(url().as_str()).max_size(16).build().unwrap();
        let marker = format!("storm{}", std::process::id());
        let wrong = Arc::new(AtomicU64::new(0));
        let (ok, timed_out, failed) = (
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicU64::new(0)),
        );
        let mut tasks = Vec::new();
        for w in 0..32u64 {
            let (pool, marker) = (pool.clone(), marker.clone());
            let (wrong, ok, timed_out, failed) =
                (wrong.clone(), ok.clone(), timed_out.clone(), failed.clone());
            tasks.push(tokio::spawn(async move {
                let mut rng = 0x2545f4914f6cdd1du64 ^ (w + 1).wrapping_mul(0x9e3779b97f4a7c15);
                for i in 0..(10_000 / 32 + 1) {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    let token = w * 1_000_000 + i;
                    let budget = Duration::from_millis(rng % 51);
                    let sleep = if rng.is_multiple_of(4) {
                        (rng >> 8) % 40
                    } else {
                        0
                    };
                    let sql = format!("SELECT {token} AS {marker}, SLEEP({sleep} / 1000)");
                    let q = async {
                        let mut c = pool.get().await?;
                        c.query_one::<(u64, i64)>(&sql).await
                    };
                    match tokio::time::timeout(budget, q).await {
                        Err(_) => {
                            timed_out.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(Ok((got, _))) => {
                            if got != token {
                                wrong.fetch_add(1, Ordering::Relaxed);
                            }
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(Err(e)) => {
                            assert_ne!(e.code(), Some(2014), "commands out of sync: {e}");
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let storm_end = Instant::now();
        let m = pool.metrics();
        println!(
            "cancellation storm: ok {}, timed out {}, failed {}, wrong tokens {}, pool {m:?}",
            ok.load(Ordering::Relaxed),
            timed_out.load(Ordering::Relaxed),
            failed.load(Ordering::Relaxed),
            wrong.load(Ordering::Relaxed)
        );
        assert_eq!(
            wrong.load(Ordering::Relaxed),
            0,
            "a query returned another's token"
        );
        assert_eq!(failed.load(Ordering::Relaxed), 0, "queries failed");
        assert!(ok.load(Ordering::Relaxed) > 1000);
        assert!(timed_out.load(Ordering::Relaxed) > 100);
        // Within 2 s, none of the storm's queries may still run on the server.
        let mut check = AsyncConn::connect(url().as_str()).await.unwrap();
        let sql = format!(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE '%AS {marker}%' AND INFO NOT LIKE '%PROCESSLIST%'"
        );
        loop {
            let running: i64 = check.query_one(&sql).await.unwrap();
            if running == 0 {
                println!(
                    "storm: processlist clear {:?} after the storm",
                    storm_end.elapsed()
                );
                break;
            }
            assert!(
                storm_end.elapsed() < Duration::from_secs(2),
                "{running} storm queries still running after 2 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Every pooled connection is in sync.
        for _ in 0..32 {
            let v: u64 = pool.query_one("SELECT 777").await.unwrap();
            assert_eq!(v, 777);
        }
    });
}

#[test]
fn dropping_the_pool_outside_a_runtime_does_not_panic() {
    let pool = run(async {
        let pool = Pool::builder(url().as_str()).max_size(3).build().unwrap();
        let mut held = Vec::new();
        for _ in 0..3 {
            held.push(pool.get().await.unwrap());
        }
        drop(held);
        pool
    });
    // The runtime is gone; dropping must not panic.
    drop(pool);
}

#[test]
fn close_never_hangs_with_connections_checked_out() {
    run(async {
        let pool = Pool::builder(url().as_str()).max_size(2).build().unwrap();
        let held = pool.get().await.unwrap();
        let waiter = {
            let pool = pool.clone();
            tokio::spawn(async move { pool.get().await.map(|_| ()) })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        tokio::time::timeout(Duration::from_secs(2), pool.close())
            .await
            .expect("close() hung");
        let r = tokio::time::timeout(Duration::from_secs(2), waiter)
            .await
            .expect("waiter hung");
        drop(r);
        drop(held);
    });
}

#[test]
fn stale_connections_after_wait_timeout_are_replaced() {
    let server = support::start_private_with(&["--wait-timeout=2"]);
    let url = server.url();
    run(async move {
        let pool = Pool::builder(url.as_str()).max_size(8).build().unwrap();
        let mut held = Vec::new();
        for _ in 0..8 {
            held.push(pool.get().await.unwrap());
        }
        drop(held);
        wait_idle(&pool, 8).await;
        assert_eq!(pool.metrics().idle, 8);
        tokio::time::sleep(Duration::from_secs(3)).await; // the server closes them all
        for i in 0..100u32 {
            let v: u32 = pool
                .query_one(&format!("SELECT {i}"))
                .await
                .unwrap_or_else(|e| panic!("query {i} failed after wait_timeout: {e}"));
            assert_eq!(v, i);
        }
        let m = pool.metrics();
        println!("stale: 100/100 queries ok after wait_timeout; {m:?}");
        assert!(m.discarded >= 8, "stale connections were discarded: {m:?}");
    });
}

#[test]
fn max_connections_exhausted_then_recovers() {
    let server = support::start_private_with(&["--max-connections=10"]);
    let url = server.url();
    run(async move {
        // Hold every connection the server allows (10 + 1 for SUPER is not ours).
        let mut held = Vec::new();
        let mut limit_err = None;
        for _ in 0..30 {
            match AsyncConn::connect(url.as_str()).await {
                Ok(c) => held.push(c),
                Err(e) => {
                    limit_err = Some(e);
                    break;
                }
            }
        }
        let e = limit_err.expect("the server never refused a connection");
        assert_eq!(e.kind(), ErrorKind::Connect, "{e}");
        assert_eq!(e.code(), Some(1040), "too many connections: {e}");
        let pool = Pool::builder(url.as_str())
            .max_size(4)
            .acquire_timeout(Duration::from_millis(500))
            .build()
            .unwrap();
        let e = pool.get().await.unwrap_err();
        assert!(
            e.to_string().contains("1040") || e.code() == Some(1040),
            "{e}"
        );
        held.truncate(held.len() - 3);
        // The server frees a closed connection's slot asynchronously: poll.
        let freed = Instant::now();
        let v: i32 = loop {
            match pool.query_one("SELECT 1").await {
                Ok(v) => break v,
                Err(e) if freed.elapsed() < Duration::from_secs(5) => {
                    assert!(
                        e.to_string().contains("1040") || e.code() == Some(1040),
                        "{e}"
                    );
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("no recovery 5 s after connections were freed: {e}"),
            }
        };
        assert_eq!(v, 1, "the pool recovers once connections free up");
        println!(
            "max_connections: recovered {:?} after freeing connections",
            freed.elapsed()
        );
    });
}

/// Everything one borrower sets in its session is gone for the next one (the pool
/// resets the session on return), and with `autocommit=0` left behind the next
/// borrower's writes are not lost. With the reset turned off, the state stays.
#[test]
fn the_next_borrower_never_sees_the_previous_session() {
    run(async {
        let t = format!("t_pool_session_{}", std::process::id());
        let lock = format!("mca_lock_{}", std::process::id());
        for reset in [true, false] {
            let pool = Pool::builder(format!("{}?init=SET @init_ran = 1", url()).as_str())
                .max_size(1)
                .reset_on_return(reset)
                .build()
                .unwrap();
            pool.query_drop(&format!(
                "CREATE TABLE IF NOT EXISTS {t} (x INT) ENGINE=InnoDB"
            ))
            .await
            .unwrap();
            pool.query_drop(&format!("DELETE FROM {t}")).await.unwrap();
            let first_id;
            {
                let mut c = pool.get().await.unwrap();
                first_id = c.thread_id();
                c.query_drop("SET @secret = 'borrower one'").await.unwrap();
                c.query_drop("SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES,ANSI_QUOTES'")
                    .await
                    .unwrap();
                c.query_drop("CREATE TEMPORARY TABLE leaked_tmp (a INT)")
                    .await
                    .unwrap();
                c.select_db("mysql").await.unwrap();
                c.query_drop("SET autocommit = 0").await.unwrap();
                let got: i64 = c
                    .query_one(&format!("SELECT GET_LOCK('{lock}', 0)"))
                    .await
                    .unwrap();
                assert_eq!(got, 1);
                c.set_query_timeout(Some(Duration::from_millis(100)));
            }
            let mut c = pool.get().await.unwrap();
            assert_eq!(c.thread_id(), first_id, "the same connection came back");
            let (secret, db, autocommit, mode, init): (
                Option<String>,
                Option<String>,
                i64,
                String,
                Option<i64>,
            ) = c
                .query_one("SELECT @secret, DATABASE(), @@autocommit, @@sql_mode, @init_ran")
                .await
                .unwrap();
            let tmp = c.query_drop("SELECT * FROM test.leaked_tmp").await;
            let lock_free: i64 = c
                .query_one(&format!("SELECT IS_FREE_LOCK('{lock}')"))
                .await
                .unwrap();
            // The first borrower's query timeout (100 ms) does not apply.
            c.query_drop("DO SLEEP(0.3)").await.unwrap();
            if reset {
                assert_eq!(secret, None, "user variable leaked");
                assert_eq!(db.as_deref(), Some("test"), "default database leaked");
                assert_eq!(autocommit, 1, "autocommit=0 leaked");
                assert!(!mode.contains("ANSI_QUOTES"), "sql_mode leaked: {mode}");
                assert_eq!(init, Some(1), "init SQL runs again after the reset");
                assert!(tmp.is_err(), "temporary table leaked");
                assert_eq!(lock_free, 1, "GET_LOCK lock leaked");
                // Writes of the next borrower are kept.
                c.exec_drop(&format!("INSERT INTO test.{t} VALUES (?)"), (7,))
                    .await
                    .unwrap();
                drop(c);
                let n: i64 = pool
                    .query_one(&format!("SELECT COUNT(*) FROM test.{t}"))
                    .await
                    .unwrap();
                assert_eq!(n, 1, "the next borrower's insert was lost");
            } else {
                // Opted out: the session is passed on as it is (documented).
                assert_eq!(secret.as_deref(), Some("borrower one"));
                assert_eq!(db.as_deref(), Some("mysql"));
                assert!(tmp.is_ok());
                assert_eq!(lock_free, 0);
                c.query_drop("DO RELEASE_LOCK('x')").await.unwrap();
                drop(c);
            }
            pool.close().await;
        }
        let mut c = AsyncConn::connect(url().as_str()).await.unwrap();
        c.query_drop(&format!("DROP TABLE {t}")).await.unwrap();
    });
}

/// Wait until the pool holds `n` idle connections (a return's cleanup runs in the
/// background).
async fn settled(pool: &Pool, n: usize) {
    let t = Instant::now();
    while pool.metrics().idle < n {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "the connection never came back"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[test]
fn an_untouched_session_skips_the_reset_and_keeps_its_statements() {
    run(async {
        let pool = Pool::builder(url().as_str()).max_size(1).build().unwrap();
        for round in 0..5 {
            let mut c = pool.get().await.unwrap();
            let n: i64 = c.exec_one("SELECT ? + 1", (round,)).await.unwrap();
            assert_eq!(n, round + 1);
            let rows: Vec<(i64,)> = c.query("SELECT 1").await.unwrap();
            assert_eq!(rows.len(), 1);
            drop(c);
            settled(&pool, 1).await;
        }
        let m = pool.metrics();
        assert_eq!(m.resets, 0, "no borrower changed the session");
        assert_eq!(m.created, 1);
        // Still the statement of the first round: prepared once in this session.
        let mut c = pool.get().await.unwrap();
        let (_, prepared): (String, String) = c
            .query_one("SHOW SESSION STATUS LIKE 'Com_stmt_prepare'")
            .await
            .unwrap();
        // (Client-side parameters where async statements would block: none.)
        let want = if mysqlclient_async::backend() == "mariadb" {
            "1"
        } else {
            "0"
        };
        assert_eq!(prepared, want, "the statement cache survived every return");
        drop(c);
        // The old behaviour on request: every return resets.
        let always = Pool::builder(url().as_str())
            .max_size(1)
            .always_reset(true)
            .build()
            .unwrap();
        for _ in 0..3 {
            always.query_drop("DO 1").await.unwrap();
            settled(&always, 1).await;
        }
        assert_eq!(always.metrics().resets, 3);
    });
}

#[test]
fn each_session_change_alone_is_reset() {
    run(async {
        let lock = format!("mca_lock_alone_{}", std::process::id());
        // (what the borrower does, a query that is 1 only if it did not leak)
        let get_lock = format!("DO GET_LOCK('{lock}', 0)");
        let lock_free = format!("SELECT IS_FREE_LOCK('{lock}')");
        let role = format!("mca_role_{}", std::process::id());
        let set_role = format!("SET ROLE {role}");
        {
            let mut c = AsyncConn::connect(url().as_str()).await.unwrap();
            c.query_drop(&format!("CREATE ROLE IF NOT EXISTS {role}"))
                .await
                .unwrap();
            c.query_drop(&format!("GRANT {role} TO CURRENT_USER"))
                .await
                .unwrap();
        }
        let cases: [(&str, &str); 15] = [
            ("SET @v = 1", "SELECT @v IS NULL"),
            (
                "SET SESSION sql_mode = 'ANSI_QUOTES'",
                "SELECT @@sql_mode NOT LIKE '%ANSI_QUOTES%'",
            ),
            (
                "SET NAMES latin1",
                "SELECT @@character_set_client = 'utf8mb4'",
            ),
            ("CREATE TEMPORARY TABLE alone_tmp (a INT)", "SELECT 1"),
            ("USE mysql", "SELECT DATABASE() = 'test'"),
            ("SET autocommit = 0", "SELECT @@autocommit = 1"),
            ("START TRANSACTION", "SELECT @@in_transaction = 0"),
            (
                "PREPARE alone_ps FROM 'SELECT 1'",
                "SELECT 1 FROM DUAL WHERE 0 = 0",
            ),
            (get_lock.as_str(), lock_free.as_str()),
            ("LOCK TABLES mysql.user READ", "SELECT 1"),
            ("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", "SELECT 1"),
            (
                "SET SESSION TRANSACTION READ ONLY",
                "SELECT @@tx_read_only = 0",
            ),
            ("HANDLER mysql.db OPEN", "SELECT 1"),
            (set_role.as_str(), "SELECT CURRENT_ROLE() IS NULL"),
            (
                "SET SESSION session_track_state_change = OFF",
                "SELECT @@session_track_state_change = 1",
            ),
        ];
        for (change, clean) in cases {
            let pool = Pool::builder(url().as_str()).max_size(1).build().unwrap();
            {
                let mut c = pool.get().await.unwrap();
                c.query_drop(change).await.unwrap();
            }
            settled(&pool, 1).await;
            let mut c = pool.get().await.unwrap();
            let ok: i64 = c.query_one(clean).await.unwrap();
            assert_eq!(pool.metrics().resets, 1, "`{change}` was not reset");
            assert_eq!(ok, 1, "`{change}` leaked to the next borrower");
            if change.starts_with("CREATE TEMPORARY") {
                let e = c.query_drop("SELECT * FROM alone_tmp").await.unwrap_err();
                assert_eq!(e.code(), Some(1146), "`{change}` leaked: {e}");
            }
            if change.starts_with("LOCK TABLES") {
                // Under LOCK TABLES, other tables cannot be read.
                c.query_drop("SELECT * FROM mysql.db LIMIT 1")
                    .await
                    .unwrap();
            }
            if change.starts_with("HANDLER") {
                let e = c.query_drop("HANDLER db READ FIRST").await.unwrap_err();
                assert_eq!(e.code(), Some(1109), "`{change}` leaked: {e}");
            }
            if change.starts_with("SET TRANSACTION") {
                c.query_drop("START TRANSACTION").await.unwrap();
                let ok: i64 = c
                    .query_one(
                        "SELECT COUNT(*) FROM information_schema.INNODB_TRX \
                         WHERE trx_mysql_thread_id = CONNECTION_ID() \
                         AND trx_isolation_level = 'SERIALIZABLE'",
                    )
                    .await
                    .unwrap();
                c.query_drop("COMMIT").await.unwrap();
                assert_eq!(ok, 0, "`{change}` leaked to the next transaction");
            }
            if change.starts_with("PREPARE") {
                let e = c.query_drop("EXECUTE alone_ps").await.unwrap_err();
                assert_eq!(e.code(), Some(1243), "`{change}` leaked: {e}");
            }
            drop(c);
            pool.close().await;
        }
        // A role set after another change is still restored, and so it is when
        // every return resets.
        for always in [false, true] {
            let pool = Pool::builder(url().as_str())
                .max_size(1)
                .always_reset(always)
                .build()
                .unwrap();
            {
                let mut c = pool.get().await.unwrap();
                c.query_drop("SET @first = 1").await.unwrap();
                c.query_drop(&set_role).await.unwrap();
            }
            settled(&pool, 1).await;
            let none: i64 = pool
                .query_one("SELECT CURRENT_ROLE() IS NULL")
                .await
                .unwrap();
            assert_eq!(
                none, 1,
                "a role set after another change leaked (always_reset {always})"
            );
            pool.close().await;
        }
        let mut c = AsyncConn::connect(url().as_str()).await.unwrap();
        c.query_drop(&format!("DROP ROLE {role}")).await.unwrap();
    });
}
