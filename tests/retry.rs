//! Retry semantics, for real: every error says what became of its statement
//! (`Outcome`), each class produced against the test server (a duplicate key, a
//! syntax error, a lock wait timeout, a deadlock between two connections, a
//! connection lost mid-transaction, a `COMMIT` whose answer the fault proxy cut
//! off, one the proxy never forwarded); and the transaction helpers
//! (`Pool::transaction`, `AsyncConn::transaction`) run a rolled-back transaction
//! again, within their bound, and never send a `COMMIT` again whose outcome is
//! unknown.

mod support;

use support::block_on_multi as run;
use support::proxy::{query_starting_with, Proxy};

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mysqlclient_async::{AsyncConn, Error, ErrorKind, Outcome, Pool, RetryPolicy};

/// Tests that use the proxy or the shared server's tables run on the private
/// server (the proxy needs its address).
fn url() -> String {
    support::private_server().url()
}

fn proxy() -> Proxy {
    let port = support::private_server().port();
    Proxy::start(format!("127.0.0.1:{port}").parse().unwrap())
}

async fn connect() -> AsyncConn {
    AsyncConn::connect(url().as_str()).await.unwrap()
}

/// (Re)create table `name` with an `id` key and a counter `n`.
async fn table(name: &str) {
    let mut c = connect().await;
    c.query_drop(&format!("DROP TABLE IF EXISTS {name}"))
        .await
        .unwrap();
    c.query_drop(&format!(
        "CREATE TABLE {name} (id BIGINT PRIMARY KEY, n BIGINT NOT NULL DEFAULT 0) ENGINE=InnoDB"
    ))
    .await
    .unwrap();
}

async fn count(sql: &str) -> i64 {
    connect().await.query_one::<i64>(sql).await.unwrap()
}

/// Wait until the server has ended session `thread_id` (after a cut, the server
/// sees the end of the stream and rolls back what was open).
async fn session_gone(thread_id: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut c = connect().await;
    loop {
        let n: i64 = c
            .exec_one(
                "SELECT COUNT(*) FROM information_schema.processlist WHERE id = ?",
                (thread_id,),
            )
            .await
            .unwrap();
        if n == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "session {thread_id} still alive");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A retry policy that counts the retries it reports.
fn counted(policy: RetryPolicy) -> (RetryPolicy, Arc<AtomicU32>) {
    let n = Arc::new(AtomicU32::new(0));
    let seen = n.clone();
    let policy = policy.on_retry(move |r| {
        assert!(r.attempt >= 1);
        seen.fetch_add(1, Ordering::SeqCst);
    });
    (policy, n)
}

#[test]
fn not_sent_rejected_and_executed_for_real() {
    run(async {
        table("outcome_basic").await;
        let mut c = connect().await;
        // Refused on the client: nothing sent.
        let e = c
            .exec_drop("INSERT INTO outcome_basic (id) VALUES (?)", (1, 2))
            .await
            .unwrap_err();
        assert_eq!(
            (e.kind(), e.outcome()),
            (ErrorKind::Params, Outcome::NotSent)
        );
        assert!(
            e.to_string()
                .ends_with("[not sent; connection still usable]"),
            "{e}"
        );
        let e = c.read_query_result().await.unwrap_err();
        assert_eq!(
            (e.kind(), e.outcome()),
            (ErrorKind::Busy, Outcome::NotSent),
            "{e}"
        );

        // Rejected by the server inside a transaction: it goes on.
        let mut tx = c.begin().await.unwrap();
        tx.exec_drop("INSERT INTO outcome_basic (id) VALUES (?)", (1,))
            .await
            .unwrap();
        let e = tx
            .exec_drop("INSERT INTO outcome_basic (id) VALUES (?)", (1,))
            .await
            .unwrap_err();
        assert_eq!(
            (e.code(), e.outcome()),
            (Some(1062), Outcome::Rejected),
            "{e}"
        );
        assert!(
            e.to_string()
                .ends_with("[rejected: it did not take effect; connection still usable]"),
            "{e}"
        );
        let e = tx
            .query_drop("INSERT INTO outcome_basic VALUSE (2)")
            .await
            .unwrap_err();
        assert_eq!(
            (e.code(), e.outcome()),
            (Some(1064), Outcome::Rejected),
            "{e}"
        );
        assert!(tx.in_transaction());
        tx.exec_drop("INSERT INTO outcome_basic (id) VALUES (?)", (3,))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(count("SELECT COUNT(*) FROM outcome_basic").await, 2);

        // The statement ran; its result failed on the client.
        let e = c
            .query_one::<i64>("SELECT id FROM outcome_basic WHERE id = 99")
            .await
            .unwrap_err();
        assert_eq!(
            (e.kind(), e.outcome()),
            (ErrorKind::NoRows, Outcome::Executed)
        );
        let e = c.query_one::<u8>("SELECT 300").await.unwrap_err();
        assert_eq!(
            (e.kind(), e.outcome()),
            (ErrorKind::Conversion, Outcome::Executed)
        );
        assert!(e.to_string().contains("[the statement ran;"), "{e}");
        // A server-side statement too.
        let e = c
            .exec_one::<u8, _>("SELECT ? + 299", (1,))
            .await
            .unwrap_err();
        assert_eq!(e.outcome(), Outcome::Executed, "{e}");
    });
}

#[test]
fn lock_wait_timeout_is_rejected_and_the_transaction_goes_on() {
    run(async {
        table("outcome_lockwait").await;
        let mut holder = connect().await;
        holder
            .query_drop("INSERT INTO outcome_lockwait (id) VALUES (1)")
            .await
            .unwrap();
        let mut lock = holder.begin().await.unwrap();
        lock.query_drop("SELECT * FROM outcome_lockwait WHERE id = 1 FOR UPDATE")
            .await
            .unwrap();

        let mut c = connect().await;
        c.query_drop("SET SESSION innodb_lock_wait_timeout = 1")
            .await
            .unwrap();
        let mut tx = c.begin().await.unwrap();
        tx.query_drop("INSERT INTO outcome_lockwait (id) VALUES (2)")
            .await
            .unwrap();
        let e = tx
            .query_drop("UPDATE outcome_lockwait SET n = n + 1 WHERE id = 1")
            .await
            .unwrap_err();
        assert_eq!(
            (e.code(), e.outcome()),
            (Some(1205), Outcome::Rejected),
            "{e}"
        );
        assert!(!e.is_fatal());
        // By default only the statement was rolled back.
        assert!(tx.in_transaction());
        tx.commit().await.unwrap();
        lock.rollback().await.unwrap();
        assert_eq!(
            count("SELECT COUNT(*) FROM outcome_lockwait WHERE id = 2").await,
            1
        );
    });
}

/// Two transactions lock rows 1 and 2 in opposite orders on two connections:
/// the server kills one of them with 1213. Returns the victim's error (the
/// winner commits).
async fn deadlock(table_name: &str) -> mysqlclient_async::Error {
    let mut a = connect().await;
    let mut b = connect().await;
    let mut ta = a.begin().await.unwrap();
    let mut tb = b.begin().await.unwrap();
    ta.query_drop(&format!("UPDATE {table_name} SET n = n + 1 WHERE id = 1"))
        .await
        .unwrap();
    tb.query_drop(&format!("UPDATE {table_name} SET n = n + 1 WHERE id = 2"))
        .await
        .unwrap();
    let sql_a = format!("UPDATE {table_name} SET n = n + 1 WHERE id = 2");
    let sql_b = format!("UPDATE {table_name} SET n = n + 1 WHERE id = 1");
    let (ra, rb) = tokio::join!(
        async {
            let r = ta.query_drop(&sql_a).await;
            (r, ta)
        },
        async {
            // Let the first one wait on its lock first.
            tokio::time::sleep(Duration::from_millis(100)).await;
            let r = tb.query_drop(&sql_b).await;
            (r, tb)
        }
    );
    let victim = match (ra, rb) {
        ((Err(e), _), (Ok(_), winner)) | ((Ok(_), winner), (Err(e), _)) => {
            winner.commit().await.unwrap();
            e
        }
        ((ra, _), (rb, _)) => panic!("expected one deadlock victim: {ra:?} / {rb:?}"),
    };
    victim
}

#[test]
fn a_deadlock_rolls_the_transaction_back() {
    run(async {
        table("outcome_deadlock").await;
        connect()
            .await
            .query_drop("INSERT INTO outcome_deadlock (id) VALUES (1), (2)")
            .await
            .unwrap();
        let e = deadlock("outcome_deadlock").await;
        assert_eq!(
            (e.code(), e.outcome()),
            (Some(1213), Outcome::TransactionRolledBack),
            "{e}"
        );
        assert!(
            e.to_string()
                .ends_with("[transaction rolled back; connection still usable]"),
            "{e}"
        );
        // Only the winner's two updates remain: the victim's first one was undone.
        let sum = count("SELECT CAST(SUM(n) AS SIGNED) FROM outcome_deadlock").await;
        assert_eq!(sum, 2);
    });
}

#[test]
fn a_connection_lost_mid_transaction_rolls_it_back() {
    run(async {
        table("outcome_lost").await;
        // Killed by the server between two statements.
        let mut c = connect().await;
        let mut tx = c.begin().await.unwrap();
        tx.query_drop("INSERT INTO outcome_lost (id) VALUES (1)")
            .await
            .unwrap();
        let id = tx.thread_id();
        connect()
            .await
            .query_drop(&format!("KILL CONNECTION {id}"))
            .await
            .unwrap();
        let e = tx
            .query_drop("INSERT INTO outcome_lost (id) VALUES (2)")
            .await
            .unwrap_err();
        assert!(e.is_fatal(), "{e}");
        assert_eq!(e.outcome(), Outcome::TransactionRolledBack, "{e}");
        assert!(
            e.to_string()
                .ends_with("[transaction rolled back; connection unusable: reconnect]"),
            "{e}"
        );
        drop(tx);

        // Cut by the proxy right after it forwarded a statement: the server ran
        // it, then rolled everything back with the session.
        let p = proxy();
        let mut c = AsyncConn::connect(p.url(&url()).as_str()).await.unwrap();
        let mut tx = c.begin().await.unwrap();
        tx.query_drop("INSERT INTO outcome_lost (id) VALUES (3)")
            .await
            .unwrap();
        let id = tx.thread_id();
        p.cut_after_forwarding(query_starting_with(
            "INSERT INTO outcome_lost (id) VALUES (4)",
        ));
        let e = tx
            .query_drop("INSERT INTO outcome_lost (id) VALUES (4)")
            .await
            .unwrap_err();
        assert_eq!(
            (e.kind(), e.outcome()),
            (ErrorKind::ConnectionLost, Outcome::TransactionRolledBack),
            "{e}"
        );
        drop(tx);
        session_gone(id).await;
        assert_eq!(count("SELECT COUNT(*) FROM outcome_lost").await, 0);

        // Outside a transaction the same loss is unknown: the insert may stand.
        let mut c = AsyncConn::connect(p.url(&url()).as_str()).await.unwrap();
        p.cut_after_forwarding(query_starting_with(
            "INSERT INTO outcome_lost (id) VALUES (5)",
        ));
        let e = c
            .query_drop("INSERT INTO outcome_lost (id) VALUES (5)")
            .await
            .unwrap_err();
        assert_eq!(e.outcome(), Outcome::Unknown, "{e}");
        assert!(
            e.to_string()
                .ends_with("[outcome unknown: it may have run; connection unusable: reconnect]"),
            "{e}"
        );
        session_gone(c.thread_id()).await;
        assert_eq!(count("SELECT COUNT(*) FROM outcome_lost").await, 1);
        // The next call on that connection sends nothing.
        let e = c.query_drop("SELECT 1").await.unwrap_err();
        assert_eq!(e.outcome(), Outcome::NotSent, "{e}");
    });
}

/// Through the proxy at `purl`: insert row `id` of `outcome_commit` in a
/// transaction, `arm` the proxy's cut for the COMMIT, and return the commit's
/// error once the server has ended that session.
async fn commit_through_a_cut(purl: &str, id: i64, arm: impl FnOnce()) -> Error {
    let mut c = AsyncConn::connect(purl).await.unwrap();
    let thread = c.thread_id();
    let mut tx = c.begin().await.unwrap();
    tx.query_drop(&format!("INSERT INTO outcome_commit (id) VALUES ({id})"))
        .await
        .unwrap();
    arm();
    let e = tx.commit().await.unwrap_err();
    session_gone(thread).await;
    e
}

#[test]
fn a_commit_whose_answer_is_lost_is_unknown_whether_or_not_it_ran() {
    run(async {
        table("outcome_commit").await;
        let p = proxy();
        let purl = p.url(&url());

        // Forwarded, then cut: the server commits, the client hears nothing.
        let e = commit_through_a_cut(&purl, 1, || {
            p.cut_after_forwarding(query_starting_with("COMMIT"))
        })
        .await;
        assert_eq!(
            (e.kind(), e.outcome()),
            (ErrorKind::ConnectionLost, Outcome::Unknown),
            "{e}"
        );
        assert_eq!(
            count("SELECT COUNT(*) FROM outcome_commit WHERE id = 1").await,
            1
        );

        // Dropped before the server: rolled back; the client sees the same.
        let e2 = commit_through_a_cut(&purl, 2, || {
            p.cut_before_forwarding(query_starting_with("COMMIT"))
        })
        .await;
        assert_eq!(
            (e2.kind(), e2.outcome()),
            (ErrorKind::ConnectionLost, Outcome::Unknown),
            "{e2}"
        );
        assert_eq!(
            count("SELECT COUNT(*) FROM outcome_commit WHERE id = 2").await,
            0
        );
        assert!(p.commands_seen(support::proxy::COM_QUERY) > 0);
    });
}

#[test]
fn the_pool_helper_retries_a_real_deadlock() {
    run(async {
        table("helper_deadlock").await;
        connect()
            .await
            .query_drop("INSERT INTO helper_deadlock (id) VALUES (1), (2)")
            .await
            .unwrap();
        let pool = Pool::builder(url().as_str()).max_size(4).build().unwrap();
        let (policy, reported) = counted(RetryPolicy::new());
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let runs = Arc::new(AtomicU32::new(0));
        let spawn = |first: u64, second: u64| {
            let (pool, policy, barrier, runs) =
                (pool.clone(), policy.clone(), barrier.clone(), runs.clone());
            tokio::spawn(async move {
                let mut attempt = 0u32;
                pool.transaction(&policy, async move |tx| {
                    attempt += 1;
                    runs.fetch_add(1, Ordering::SeqCst);
                    tx.exec_drop(
                        "UPDATE helper_deadlock SET n = n + 1 WHERE id = ?",
                        (first,),
                    )
                    .await?;
                    if attempt == 1 {
                        // Both hold their first row: the second updates deadlock.
                        barrier.wait().await;
                    }
                    tx.exec_drop(
                        "UPDATE helper_deadlock SET n = n + 1 WHERE id = ?",
                        (second,),
                    )
                    .await?;
                    Ok(attempt)
                })
                .await
            })
        };
        let (a, b) = (spawn(1, 2), spawn(2, 1));
        let (a, b) = (a.await.unwrap().unwrap(), b.await.unwrap().unwrap());
        // One of them was the victim and ran again.
        assert!(a + b >= 3, "attempts {a} and {b}");
        let m = pool.metrics();
        assert!(m.tx_retries >= 1, "{m:?}");
        assert_eq!(u64::from(reported.load(Ordering::SeqCst)), m.tx_retries);
        assert_eq!(u64::from(runs.load(Ordering::SeqCst)), 2 + m.tx_retries);
        // Both transactions committed once each, whole.
        let rows: Vec<(i64, i64)> = pool
            .query("SELECT id, n FROM helper_deadlock ORDER BY id")
            .await
            .unwrap();
        assert_eq!(rows, [(1, 2), (2, 2)]);
        println!("deadlock: attempts {a} + {b}, retries {}", m.tx_retries);
    });
}

#[test]
fn the_connection_helper_retries_a_lock_wait_timeout() {
    run(async {
        table("helper_lockwait").await;
        let mut holder = connect().await;
        holder
            .query_drop("INSERT INTO helper_lockwait (id) VALUES (1)")
            .await
            .unwrap();
        holder.query_drop("START TRANSACTION").await.unwrap();
        holder
            .query_drop("SELECT * FROM helper_lockwait WHERE id = 1 FOR UPDATE")
            .await
            .unwrap();
        let release = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            holder.query_drop("COMMIT").await.unwrap();
        });
        let mut c = connect().await;
        c.query_drop("SET SESSION innodb_lock_wait_timeout = 1")
            .await
            .unwrap();
        let (policy, retries) = counted(RetryPolicy::new());
        let mut runs = 0;
        let t0 = Instant::now();
        c.transaction(&policy, async |tx| {
            runs += 1;
            tx.query_drop("UPDATE helper_lockwait SET n = n + 1 WHERE id = 1")
                .await?;
            Ok(())
        })
        .await
        .unwrap();
        release.await.unwrap();
        let retries = retries.load(Ordering::SeqCst);
        assert!(retries >= 1, "{retries}");
        assert_eq!(runs, retries + 1);
        assert_eq!(count("SELECT n FROM helper_lockwait WHERE id = 1").await, 1);
        println!(
            "lock wait timeout: {retries} retr(y/ies), {:?} in all",
            t0.elapsed()
        );
        // Turned off, the first 1205 is returned.
        let mut holder = connect().await;
        holder.query_drop("START TRANSACTION").await.unwrap();
        holder
            .query_drop("SELECT * FROM helper_lockwait WHERE id = 1 FOR UPDATE")
            .await
            .unwrap();
        let mut runs = 0;
        let e = c
            .transaction(
                &RetryPolicy::new().retry_lock_wait_timeout(false),
                async |tx| {
                    runs += 1;
                    tx.query_drop("UPDATE helper_lockwait SET n = n + 1 WHERE id = 1")
                        .await?;
                    Ok(())
                },
            )
            .await
            .unwrap_err();
        assert_eq!((e.code(), runs), (Some(1205), 1), "{e}");
        holder.query_drop("ROLLBACK").await.unwrap();
    });
}

#[test]
fn a_duplicate_key_is_returned_at_once_and_rolled_back() {
    run(async {
        table("helper_dup").await;
        let pool = Pool::builder(url().as_str()).max_size(2).build().unwrap();
        pool.query_drop("INSERT INTO helper_dup (id) VALUES (1)")
            .await
            .unwrap();
        let (policy, retries) = counted(RetryPolicy::new());
        let mut runs = 0;
        let e = pool
            .transaction(&policy, async |tx| {
                runs += 1;
                tx.exec_drop("INSERT INTO helper_dup (id) VALUES (?)", (2,))
                    .await?;
                tx.exec_drop("INSERT INTO helper_dup (id) VALUES (?)", (1,))
                    .await?;
                Ok(())
            })
            .await
            .unwrap_err();
        assert_eq!(
            (e.code(), e.outcome()),
            (Some(1062), Outcome::Rejected),
            "{e}"
        );
        assert_eq!(runs, 1);
        assert_eq!(retries.load(Ordering::SeqCst), 0);
        assert_eq!(pool.metrics().tx_retries, 0);
        // The row the closure wrote before the error was rolled back.
        assert_eq!(count("SELECT COUNT(*) FROM helper_dup").await, 1);
    });
}

#[test]
fn the_bound_is_respected() {
    run(async {
        let pool = Pool::builder(url().as_str()).max_size(2).build().unwrap();
        let (policy, retries) = counted(
            RetryPolicy::new()
                .max_attempts(3)
                .backoff(Duration::from_millis(20), Duration::from_millis(40))
                .jitter(false),
        );
        let mut runs = 0;
        let t0 = Instant::now();
        let e = pool
            .transaction(&policy, async |tx| {
                runs += 1;
                // What the server answers a deadlock victim, every time.
                tx.query_drop(
                    "SIGNAL SQLSTATE '40001' SET MYSQL_ERRNO = 1213, \
                     MESSAGE_TEXT = 'Deadlock found when trying to get lock'",
                )
                .await?;
                Ok(())
            })
            .await
            .unwrap_err();
        let took = t0.elapsed();
        assert_eq!(runs, 3);
        assert_eq!(retries.load(Ordering::SeqCst), 2);
        assert_eq!(pool.metrics().tx_retries, 2);
        assert_eq!(
            (e.code(), e.outcome()),
            (Some(1213), Outcome::TransactionRolledBack),
            "{e}"
        );
        assert!(e.to_string().contains("gave up after 3 attempt(s)"), "{e}");
        // Waited 20 ms, then 40 ms.
        assert!(took >= Duration::from_millis(60), "{took:?}");
        // One attempt only.
        let mut runs = 0;
        let e = pool
            .transaction(&RetryPolicy::no_retry(), async |tx| {
                runs += 1;
                tx.query_drop("SIGNAL SQLSTATE '40001' SET MYSQL_ERRNO = 1213")
                    .await?;
                Ok(())
            })
            .await
            .unwrap_err();
        assert_eq!((runs, e.code()), (1, Some(1213)));
    });
}

#[test]
fn the_helper_never_sends_a_lost_commit_again() {
    run(async {
        table("helper_commit").await;
        let p = proxy();
        let pool = Pool::builder(p.url(&url()).as_str())
            .max_size(2)
            .build()
            .unwrap();
        let (policy, retries) = counted(RetryPolicy::new());

        // The proxy forwards the COMMIT and cuts: committed, answer lost.
        p.cut_after_forwarding(query_starting_with("COMMIT"));
        let mut runs = 0;
        let e = pool
            .transaction(&policy, async |tx| {
                runs += 1;
                tx.exec_drop("INSERT INTO helper_commit (id) VALUES (?)", (1,))
                    .await?;
                Ok(())
            })
            .await
            .unwrap_err();
        assert_eq!(e.outcome(), Outcome::Unknown, "{e}");
        assert_eq!(runs, 1);
        // Exactly once, for good.
        let deadline = Instant::now() + Duration::from_secs(10);
        while count("SELECT COUNT(*) FROM helper_commit WHERE id = 1").await == 0 {
            assert!(
                Instant::now() < deadline,
                "the forwarded COMMIT never landed"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(count("SELECT COUNT(*) FROM helper_commit").await, 1);

        // The proxy drops the COMMIT: not committed, and the client cannot know.
        p.cut_before_forwarding(query_starting_with("COMMIT"));
        let mut threads = Vec::new();
        let e = pool
            .transaction(&policy, async |tx| {
                threads.push(tx.thread_id());
                tx.exec_drop("INSERT INTO helper_commit (id) VALUES (?)", (2,))
                    .await?;
                Ok(())
            })
            .await
            .unwrap_err();
        assert_eq!(e.outcome(), Outcome::Unknown, "{e}");
        assert_eq!(threads.len(), 1);
        assert_eq!(retries.load(Ordering::SeqCst), 0);
        assert_eq!(pool.metrics().tx_retries, 0);
        // Once the server has ended the session, row 2 is not there.
        session_gone(threads[0]).await;
        assert_eq!(
            count("SELECT COUNT(*) FROM helper_commit WHERE id = 2").await,
            0
        );
    });
}

#[test]
fn the_pool_helper_takes_a_fresh_connection_after_losing_one() {
    run(async {
        table("helper_fresh").await;
        let p = proxy();
        let pool = Pool::builder(p.url(&url()).as_str())
            .max_size(2)
            .build()
            .unwrap();
        let (policy, retries) = counted(RetryPolicy::new());
        // The first attempt's insert reaches the server, then the connection is
        // cut: the server rolls the transaction back with the session.
        p.cut_after_forwarding(query_starting_with("INSERT INTO helper_fresh"));
        let mut threads = Vec::new();
        let result = pool
            .transaction(&policy, async |tx| {
                threads.push(tx.thread_id());
                tx.query_drop("INSERT INTO helper_fresh (id) VALUES (7)")
                    .await?;
                Ok(())
            })
            .await;
        result.unwrap();
        assert_eq!(threads.len(), 2, "{threads:?}");
        assert_ne!(threads[0], threads[1]);
        assert_eq!(retries.load(Ordering::SeqCst), 1);
        assert_eq!(pool.metrics().tx_retries, 1);
        session_gone(threads[0]).await;
        assert_eq!(count("SELECT COUNT(*) FROM helper_fresh").await, 1);

        // The connection's own helper cannot reconnect: it gives up at once.
        let mut c = AsyncConn::connect(p.url(&url()).as_str()).await.unwrap();
        p.cut_after_forwarding(query_starting_with("INSERT INTO helper_fresh"));
        let mut runs = 0;
        let e = c
            .transaction(&RetryPolicy::new(), async |tx| {
                runs += 1;
                tx.query_drop("INSERT INTO helper_fresh (id) VALUES (8)")
                    .await?;
                Ok(())
            })
            .await
            .unwrap_err();
        assert_eq!(runs, 1);
        assert_eq!(e.outcome(), Outcome::TransactionRolledBack, "{e}");
        assert!(e.is_fatal());
    });
}
