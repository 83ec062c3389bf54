//! The one async query API: generic code over [`Queryable`] run with every
//! implementor, transactions and savepoints on a connection and on the pool,
//! `begin_with`'s options as the server sees them, streams in spawned tasks, and
//! the small things a new user meets first (`get::<&str>`, `Debug` of a row).

mod support;

use std::time::Duration;

use futures_util::TryStreamExt;
use mysqlclient_async::{
    AsyncConn, ErrorKind, IsolationLevel, Opts, Pool, Queryable, Row, TxOptions,
};
use support::block_on_multi as run;

fn opts() -> Opts {
    Opts::from_url(&support::url()).unwrap()
}

async fn conn() -> AsyncConn {
    AsyncConn::connect(opts()).await.unwrap()
}

fn pool() -> Pool {
    Pool::builder(opts()).max_size(4).build().unwrap()
}

async fn fresh_table(db: &mut impl Queryable, name: &str) {
    db.query_drop(&format!("DROP TABLE IF EXISTS {name}"))
        .await
        .unwrap();
    db.query_drop(&format!(
        "CREATE TABLE {name} (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB"
    ))
    .await
    .unwrap();
}

/// Generic code: every method of the trait, on whatever implements it.
async fn exercise(db: &mut impl Queryable, table: &str) {
    let insert = format!("INSERT INTO {table} (v) VALUES (?)");
    let first = db.exec_drop(insert.as_str(), ("a",)).await.unwrap();
    assert_eq!(first.affected_rows, 1);
    assert!(first.last_insert_id > 0);
    let batch = db
        .exec_batch(insert.as_str(), [("b",), ("c",), ("d",)])
        .await
        .unwrap();
    assert_eq!(batch.affected_rows, 3);
    let done = db
        .execute(&format!("UPDATE {table} SET v = UPPER(v) WHERE v = 'd'"))
        .await
        .unwrap();
    assert_eq!(done.affected_rows, 1);
    assert_eq!(
        done.info.as_deref(),
        Some("Rows matched: 1  Changed: 1  Warnings: 0")
    );

    let all: Vec<(i32, String)> = db
        .query(&format!("SELECT id, v FROM {table} ORDER BY id"))
        .await
        .unwrap();
    let names: Vec<&str> = all.iter().map(|(_, v)| v.as_str()).collect();
    assert_eq!(names, ["a", "b", "c", "D"]);
    let n: i64 = db
        .query_one(&format!("SELECT COUNT(*) FROM {table}"))
        .await
        .unwrap();
    assert_eq!(n, 4);
    let none: Option<String> = db
        .query_opt(&format!("SELECT v FROM {table} WHERE id < 0"))
        .await
        .unwrap();
    assert_eq!(none, None);
    let set = db
        .query_result(&format!("SELECT v FROM {table} WHERE v > 'a' ORDER BY v"))
        .await
        .unwrap();
    assert_eq!(set.rows.len(), 3);
    assert_eq!(set.columns[0].name(), "v");
    assert_eq!(set.status.affected_rows, 3, "a SELECT's count is its rows");

    let select = format!("SELECT v FROM {table} WHERE id = ?");
    let v: String = db
        .exec_one(select.as_str(), (first.last_insert_id,))
        .await
        .unwrap();
    assert_eq!(v, "a");
    let missing: Option<String> = db.exec_opt(select.as_str(), (-1,)).await.unwrap();
    assert_eq!(missing, None);
    let many: Vec<String> = db
        .exec(
            &format!("SELECT v FROM {table} WHERE v <> ? ORDER BY id"),
            ("a",),
        )
        .await
        .unwrap();
    assert_eq!(many, ["b", "c", "D"]);
    let r = db
        .exec_result(&format!("SELECT id FROM {table} WHERE v = ?"), ("b",))
        .await
        .unwrap();
    assert_eq!(r.rows.len(), 1);
    assert_eq!(r.status.affected_rows, 1, "a SELECT's count is its rows");
    let dropped = db
        .exec_drop(&format!("SELECT id FROM {table} WHERE v <> ?"), ("b",))
        .await
        .unwrap();
    assert_eq!(
        dropped.affected_rows, 3,
        "rows read and discarded are counted"
    );
    let dropped = db
        .query_drop(&format!("SELECT id FROM {table}"))
        .await
        .unwrap();
    assert_eq!(
        dropped.affected_rows, 4,
        "rows read and discarded are counted"
    );

    let streamed: Vec<String> = db
        .query_stream::<String>(&format!("SELECT v FROM {table} ORDER BY id"))
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(streamed, ["a", "b", "c", "D"]);
    let mut s = db
        .exec_stream::<(i32, String), _>(
            &format!("SELECT id, v FROM {table} WHERE id > ? ORDER BY id"),
            (0,),
        )
        .await
        .unwrap();
    let mut count = 0;
    while let Some((_, v)) = s.try_next().await.unwrap() {
        tokio::task::yield_now().await;
        assert!(!v.is_empty());
        count += 1;
    }
    assert_eq!(count, 4);
    drop(s);

    // A transaction (a savepoint, where `db` is one) that is rolled back.
    let mut tx = db.begin().await.unwrap();
    tx.exec_drop(insert.as_str(), ("rolled back",))
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    let n: i64 = db
        .query_one(&format!("SELECT COUNT(*) FROM {table}"))
        .await
        .unwrap();
    assert_eq!(n, 4, "the rolled-back row is gone");
}

#[test]
fn generic_code_runs_with_every_implementor() {
    run(async {
        let mut c = conn().await;
        // Oracle's client reads MariaDB's "5.5.5-10.11…" as 5.5.5.
        assert!(
            c.server_version_number() >= 50_505,
            "{}",
            c.server_version()
        );
        fresh_table(&mut c, "api_generic_conn").await;
        exercise(&mut c, "api_generic_conn").await;

        let pool = pool();
        let mut pooled = pool.get().await.unwrap();
        fresh_table(&mut pooled, "api_generic_pooled").await;
        exercise(&mut pooled, "api_generic_pooled").await;
        drop(pooled);

        let mut p = pool.clone();
        fresh_table(&mut p, "api_generic_pool").await;
        exercise(&mut p, "api_generic_pool").await;

        // Inside a transaction, `begin` is a savepoint; the outer work stays.
        fresh_table(&mut c, "api_generic_tx").await;
        let mut tx = c.begin().await.unwrap();
        exercise(&mut tx, "api_generic_tx").await;
        tx.commit().await.unwrap();
        let n: i64 = c
            .query_one("SELECT COUNT(*) FROM api_generic_tx")
            .await
            .unwrap();
        assert_eq!(n, 4);

        // The same generic code from spawned tasks on the multi-thread runtime.
        let mut tasks = Vec::new();
        for i in 0..3 {
            let mut p = pool.clone();
            tasks.push(tokio::spawn(async move {
                let t = format!("api_generic_spawned_{i}");
                fresh_table(&mut p, &t).await;
                exercise(&mut p, &t).await;
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        pool.close().await;
    });
}

async fn count(db: &mut impl Queryable, table: &str) -> i64 {
    db.query_one(&format!("SELECT COUNT(*) FROM {table}"))
        .await
        .unwrap()
}

#[test]
fn savepoints_nest_with_their_own_guards() {
    run(async {
        let mut c = conn().await;
        let t = "api_savepoints";
        fresh_table(&mut c, t).await;
        let ins = format!("INSERT INTO {t} (v) VALUES (?)");

        // Inner rollback keeps the outer work.
        let mut tx = c.begin().await.unwrap();
        tx.exec_drop(ins.as_str(), ("outer",)).await.unwrap();
        let mut inner = tx.begin().await.unwrap();
        assert_eq!(inner.depth(), 1);
        inner.exec_drop(ins.as_str(), ("inner",)).await.unwrap();
        assert_eq!(count(&mut inner, t).await, 2);
        inner.rollback().await.unwrap();
        assert_eq!(count(&mut tx, t).await, 1);
        tx.commit().await.unwrap();
        let kept: Vec<String> = c.query(&format!("SELECT v FROM {t}")).await.unwrap();
        assert_eq!(kept, ["outer"]);

        // Outer rollback drops both, even a committed (released) inner level.
        let mut tx = c.begin().await.unwrap();
        tx.exec_drop(ins.as_str(), ("outer 2",)).await.unwrap();
        let mut inner = tx.begin().await.unwrap();
        inner.exec_drop(ins.as_str(), ("inner 2",)).await.unwrap();
        inner.commit().await.unwrap();
        assert_eq!(count(&mut tx, t).await, 3);
        tx.rollback().await.unwrap();
        assert_eq!(count(&mut c, t).await, 1);

        // Dropping an inner guard rolls back only the inner part; two levels deep.
        let mut tx = c.begin().await.unwrap();
        tx.exec_drop(ins.as_str(), ("outer 3",)).await.unwrap();
        {
            let mut inner = tx.begin().await.unwrap();
            inner.exec_drop(ins.as_str(), ("inner 3",)).await.unwrap();
            let mut innermost = inner.begin().await.unwrap();
            assert_eq!(innermost.depth(), 2);
            innermost
                .exec_drop(ins.as_str(), ("innermost",))
                .await
                .unwrap();
            innermost.commit().await.unwrap();
            // `inner` dropped here: "inner 3" and "innermost" go.
        }
        assert_eq!(count(&mut tx, t).await, 2);
        tx.commit().await.unwrap();
        let mut kept: Vec<String> = c.query(&format!("SELECT v FROM {t}")).await.unwrap();
        kept.sort();
        assert_eq!(kept, ["outer", "outer 3"]);

        // Dropping the outer guard rolls everything back, before the next command.
        {
            let mut tx = c.begin().await.unwrap();
            tx.exec_drop(ins.as_str(), ("dropped",)).await.unwrap();
        }
        assert_eq!(count(&mut c, t).await, 2);
        assert!(!c.in_transaction());

        // A savepoint cannot change the transaction's options: refused, not sent.
        let mut tx = c.begin().await.unwrap();
        let e = tx
            .begin_with(TxOptions::new().read_only(true))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Client);
        assert!(!e.is_fatal());
        assert!(tx.in_transaction());
        tx.rollback().await.unwrap();
    });
}

/// The current transaction's isolation level and access mode as InnoDB reports
/// them. `information_schema.innodb_trx` is a cache refreshed at most every
/// 100 ms (an earlier transaction of this session may still be listed): it is
/// read after 150 ms.
async fn innodb_trx(db: &mut impl Queryable) -> (String, i64) {
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let row: Option<(String, i64)> = db
            .query_opt(
                "SELECT trx_isolation_level, trx_is_read_only FROM information_schema.innodb_trx \
                 WHERE trx_mysql_thread_id = CONNECTION_ID()",
            )
            .await
            .unwrap();
        if let Some(r) = row {
            return r;
        }
    }
    panic!("information_schema.innodb_trx never listed this transaction");
}

#[test]
fn begin_with_options_are_what_the_server_runs() {
    run(async {
        let mut c = conn().await;
        let t = "api_isolation";
        fresh_table(&mut c, t).await;
        c.query_drop(&format!("INSERT INTO {t} (v) VALUES ('x')"))
            .await
            .unwrap();
        let session_level: String = c.query_one("SELECT @@SESSION.tx_isolation").await.unwrap();

        for (level, name) in [
            (IsolationLevel::ReadUncommitted, "READ UNCOMMITTED"),
            (IsolationLevel::ReadCommitted, "READ COMMITTED"),
            (IsolationLevel::RepeatableRead, "REPEATABLE READ"),
            (IsolationLevel::Serializable, "SERIALIZABLE"),
        ] {
            let mut tx = c
                .begin_with(TxOptions::new().isolation(level).consistent_snapshot(true))
                .await
                .unwrap();
            let _: Vec<String> = tx.query(&format!("SELECT v FROM {t}")).await.unwrap();
            assert_eq!(
                innodb_trx(&mut tx).await,
                (name.to_string(), 0),
                "{level:?}"
            );
            tx.commit().await.unwrap();
        }
        // The level was for those transactions only.
        let after: String = c.query_one("SELECT @@SESSION.tx_isolation").await.unwrap();
        assert_eq!(after, session_level);
        let mut tx = c.begin().await.unwrap();
        let _: Vec<String> = tx.query(&format!("SELECT v FROM {t}")).await.unwrap();
        let (level, _) = innodb_trx(&mut tx).await;
        assert_eq!(level.replace(' ', "-"), session_level);
        tx.commit().await.unwrap();

        // READ COMMITTED sees another session's commit; REPEATABLE READ does not.
        let mut other = conn().await;
        for (level, sees) in [
            (IsolationLevel::ReadCommitted, true),
            (IsolationLevel::RepeatableRead, false),
        ] {
            let mut tx = c
                .begin_with(TxOptions::new().isolation(level))
                .await
                .unwrap();
            let before = count(&mut tx, t).await;
            other
                .query_drop(&format!("INSERT INTO {t} (v) VALUES ('other')"))
                .await
                .unwrap();
            let now = count(&mut tx, t).await;
            assert_eq!(now == before + 1, sees, "{level:?}: {before} then {now}");
            tx.commit().await.unwrap();
        }

        // Read-only: InnoDB says so, and a write is refused with 1792.
        let mut tx = c
            .begin_with(TxOptions::new().read_only(true))
            .await
            .unwrap();
        let _: Vec<String> = tx.query(&format!("SELECT v FROM {t}")).await.unwrap();
        assert_eq!(innodb_trx(&mut tx).await.1, 1);
        let e = tx
            .query_drop(&format!("INSERT INTO {t} (v) VALUES ('no')"))
            .await
            .unwrap_err();
        assert_eq!(e.server().map(|s| s.code), Some(1792), "{e}");
        tx.rollback().await.unwrap();
        // READ WRITE, explicitly, writes.
        let mut tx = c
            .begin_with(TxOptions::new().read_only(false))
            .await
            .unwrap();
        tx.query_drop(&format!("INSERT INTO {t} (v) VALUES ('yes')"))
            .await
            .unwrap();
        assert_eq!(innodb_trx(&mut tx).await.1, 0);
        tx.commit().await.unwrap();
    });
}

#[test]
fn a_pool_transaction_owns_its_connection() {
    run(async {
        let pool = Pool::builder(opts()).max_size(2).build().unwrap();
        let t = "api_pool_tx";
        fresh_table(&mut pool.clone(), t).await;
        let ins = format!("INSERT INTO {t} (v) VALUES (?)");

        let mut tx = pool.begin().await.unwrap();
        tx.exec_drop(ins.as_str(), ("committed",)).await.unwrap();
        assert_eq!(pool.metrics().in_use, 1);
        tx.commit().await.unwrap();
        assert_eq!(pool.metrics().in_use, 0, "commit returns the connection");

        // Dropped without commit: rolled back, and the connection goes back clean.
        let mut tx = pool
            .begin_with(TxOptions::new().isolation(IsolationLevel::ReadCommitted))
            .await
            .unwrap();
        tx.exec_drop(ins.as_str(), ("dropped",)).await.unwrap();
        let mut sp = tx.begin().await.unwrap();
        sp.exec_drop(ins.as_str(), ("inner",)).await.unwrap();
        sp.commit().await.unwrap();
        drop(tx);
        let mut seen = 0;
        for _ in 0..100 {
            if pool.metrics().in_use == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(pool.metrics().in_use, 0);
        for _ in 0..4 {
            let mut c = pool.get().await.unwrap();
            assert!(!c.in_transaction());
            seen = count(&mut c, t).await;
        }
        assert_eq!(seen, 1, "only the committed row");

        // A stream from the pool owns its connection too.
        let mut s = pool
            .query_stream::<i64>("SELECT seq FROM seq_1_to_1000")
            .await
            .unwrap();
        assert_eq!(pool.metrics().in_use, 1);
        assert_eq!(s.try_next().await.unwrap(), Some(1));
        drop(s);
        let total: i64 = pool
            .exec_one("SELECT SUM(seq) FROM seq_1_to_1000 WHERE seq > ?", (0,))
            .await
            .unwrap();
        assert_eq!(total, 500_500);
        pool.close().await;
    });
}

#[test]
fn streams_run_in_spawned_tasks() {
    run(async {
        let mut c = conn().await;
        // The README's loop: an await in the body, inside tokio::spawn.
        let task = tokio::spawn(async move {
            let mut rows = c
                .query_stream::<(i64, String)>("SELECT seq, CONCAT('n', seq) FROM seq_1_to_500")
                .await?;
            let mut sum = 0;
            while let Some((id, name)) = rows.try_next().await? {
                tokio::time::sleep(Duration::from_micros(10)).await;
                assert_eq!(name, format!("n{id}"));
                sum += id;
            }
            drop(rows);
            c.ping().await?;
            Ok::<_, mysqlclient_async::Error>(sum)
        });
        assert_eq!(task.await.unwrap().unwrap(), 125_250);

        let pool = pool();
        let tasks: Vec<_> = (0..4)
            .map(|i| {
                let pool = pool.clone();
                tokio::spawn(async move {
                    let mut s = pool
                        .exec_stream::<Row, _>(
                            "SELECT seq FROM seq_1_to_100 WHERE seq % 4 = ?",
                            (i,),
                        )
                        .await?;
                    let mut n = 0;
                    while let Some(row) = s.try_next().await? {
                        tokio::task::yield_now().await;
                        assert_eq!(row.get::<i64>(0) % 4, i);
                        n += 1;
                    }
                    Ok::<_, mysqlclient_async::Error>(n)
                })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap(), 25);
        }
        pool.close().await;
    });
}

#[test]
fn a_conversion_error_in_a_stream_skips_one_row() {
    run(async {
        let mut c = conn().await;
        let mut s = c
            .query_stream::<u8>("SELECT seq * 100 FROM seq_1_to_4")
            .await
            .unwrap();
        assert_eq!(s.try_next().await.unwrap(), Some(100));
        assert_eq!(s.try_next().await.unwrap(), Some(200));
        let e = s.try_next().await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Conversion);
        assert!(!e.is_fatal());
        let e = s.try_next().await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Conversion);
        assert_eq!(s.try_next().await.unwrap(), None);
        assert_eq!(s.try_next().await.unwrap(), None);
        drop(s);
        assert_eq!(c.query_one::<i64>("SELECT 7").await.unwrap(), 7);
    });
}

#[test]
fn rows_read_naturally() {
    run(async {
        let mut c = conn().await;
        let row: Row = c
            .query_one(
                "SELECT 41 AS a, 'x\"y' AS s, NULL AS n, 2.5 AS d, CAST(1.5 AS DOUBLE) AS f, \
                 X'00FF41' AS b, DATE '2024-01-02' AS dt",
            )
            .await
            .unwrap();
        assert_eq!(
            format!("{row:?}"),
            r#"{"a": 41, "s": "x\"y", "n": NULL, "d": 2.5, "f": 1.5, "b": b"\x00\xffA", "dt": "2024-01-02"}"#
        );
        // One turbofish argument, borrowed or owned, by name or position.
        let s = row.get::<&str>("s");
        assert_eq!(s, "x\"y");
        assert_eq!(row.get::<i64>(0), 41);
        assert_eq!(row.try_get::<Option<i64>>("n").unwrap(), None);
        let e = row.try_get::<i64>("nope").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Conversion);
    });
}

#[test]
fn handles_and_their_futures_are_send() {
    fn send<T: Send>(_: &T) {}
    fn send_type<T: Send>() {}
    send_type::<mysqlclient_async::RowStream<'static, Row>>();
    send_type::<mysqlclient_async::RowStream<'static, (i64, String)>>();
    send_type::<mysqlclient_async::Transaction<'static>>();
    send_type::<mysqlclient_async::RowRef<'static>>();
    // Futures of generic code over the trait are Send: they can be spawned.
    async fn generic(db: &mut impl Queryable) -> i64 {
        db.query_one("SELECT 1").await.unwrap()
    }
    let pool = Pool::builder(opts()).build().unwrap();
    let mut p = pool.clone();
    send(&generic(&mut p));
}

/// Poll `fut` each time it is woken, at most `k` times, then drop it.
async fn poll_then_drop<F: std::future::Future>(fut: F, k: usize) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    let mut polls = 0;
    std::future::poll_fn(|cx| {
        polls += 1;
        match fut.as_mut().poll(cx) {
            std::task::Poll::Ready(v) => std::task::Poll::Ready(Some(v)),
            std::task::Poll::Pending if polls >= k => std::task::Poll::Ready(None),
            std::task::Poll::Pending => std::task::Poll::Pending,
        }
    })
    .await
}

#[test]
fn a_pool_transaction_dropped_at_any_point_comes_back_clean() {
    run(async {
        let pool = Pool::builder(opts()).max_size(1).build().unwrap();
        let t = "api_pool_tx_dropped";
        fresh_table(&mut pool.clone(), t).await;
        let mut completed = false;
        for k in 1..=40 {
            let opts = TxOptions::new()
                .isolation(IsolationLevel::Serializable)
                .read_only(true);
            let done = poll_then_drop(pool.begin_with(opts), k).await;
            completed = done.is_some();
            drop(done); // a completed transaction's guard, dropped: rolled back
                        // With one connection, the next checkout waits for the cleanup.
            let mut c = pool.get().await.unwrap();
            assert!(
                !c.in_transaction(),
                "k={k}: handed out inside a transaction"
            );
            let mut tx = c.begin().await.unwrap();
            tx.exec_drop(&format!("INSERT INTO {t} (v) VALUES (?)"), (k.to_string(),))
                .await
                .unwrap_or_else(|e| panic!("k={k}: the next transaction is not writable: {e}"));
            tx.rollback().await.unwrap();
            drop(c);
            if completed {
                println!("Pool::begin_with completed within {k} polls; dropped after 1..{k}");
                // How many wake-ups the three steps take depends on how fast the
                // server answers (two when the START reply is already there at the
                // second poll); every drop before completion was checked above, and
                // tests/drop_points.rs drops it between the two statements.
                assert!(k > 1, "the future was never dropped before completing");
                break;
            }
        }
        assert!(completed, "begin_with never completed within 40 polls");
        assert_eq!(count(&mut pool.clone(), t).await, 0);
        // A pool stream dropped with 99,999 rows unread: its one connection is
        // drained on return, and the next call gets it back in sync.
        let mut s = pool
            .query_stream::<i64>("SELECT seq FROM seq_1_to_100000")
            .await
            .unwrap();
        assert_eq!(s.try_next().await.unwrap(), Some(1));
        drop(s);
        assert_eq!(pool.query_one::<i64>("SELECT 7").await.unwrap(), 7);
        assert_eq!(pool.metrics().size, 1);
        pool.close().await;
    });
}
