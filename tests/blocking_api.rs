//! The blocking `Conn`'s API shared with the async side: `BlockingQueryable`,
//! `BlockingTransaction` (savepoints, `begin_with`), `RowIter` (`query_stream`,
//! `exec_stream`), `cancel_token`, the status from `query_drop`/`exec_drop`, and
//! `has_pending_work`. Against a real server; no async runtime anywhere.

mod support;

use std::time::{Duration, Instant};

use mysqlclient_async::{
    BlockingQueryable, BlockingTransaction, Conn, ErrorKind, ExecResult, IsolationLevel, Opts, Row,
    RowIter, TxOptions,
};

fn conn() -> Conn {
    Conn::connect(support::url().as_str()).expect("connect to the test server")
}

fn conn_with(
    f: impl FnOnce(mysqlclient_async::OptsBuilder) -> mysqlclient_async::OptsBuilder,
) -> Conn {
    let opts = f(Opts::from_url(&support::url()).unwrap().to_builder()).build();
    Conn::connect(&opts).expect("connect to the test server")
}

/// A table name unique to this test process and call site.
fn table(name: &str) -> String {
    format!("t_bapi_{name}_{}", std::process::id())
}

/// A fresh InnoDB table `(id INT AUTO_INCREMENT, v VARCHAR)`.
fn fresh_table(c: &mut Conn, name: &str) -> String {
    let t = table(name);
    c.query_drop(&format!("DROP TABLE IF EXISTS {t}")).unwrap();
    c.query_drop(&format!(
        "CREATE TABLE {t} (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB"
    ))
    .unwrap();
    t
}

fn values(c: &mut Conn, t: &str) -> Vec<String> {
    c.query(&format!("SELECT v FROM {t} ORDER BY id")).unwrap()
}

/// 0..10,000, portable (no sequence engine, no recursion limit).
fn ten_thousand() -> String {
    let d = "(SELECT 0 AS n UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 \
             UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 \
             UNION ALL SELECT 8 UNION ALL SELECT 9)";
    format!(
        "SELECT a.n * 1000 + b.n * 100 + c.n * 10 + d.n AS n \
         FROM {d} a, {d} b, {d} c, {d} d ORDER BY n"
    )
}

/// Statements the server received on this session so far (this one included).
fn questions(c: &mut impl BlockingQueryable) -> u64 {
    let (_, n): (String, String) = c.query_one("SHOW SESSION STATUS LIKE 'Questions'").unwrap();
    n.parse().unwrap()
}

/// Every method of the trait, through generic code only.
fn exercise(db: &mut impl BlockingQueryable, t: &str) -> Vec<String> {
    let r = db
        .query_drop(&format!("INSERT INTO {t} (v) VALUES ('a'), ('b')"))
        .unwrap();
    assert_eq!(r.affected_rows, 2);
    let r = db
        .execute(&format!("UPDATE {t} SET v = 'a' WHERE v = 'a'"))
        .unwrap();
    assert_eq!(r.affected_rows, 0, "unchanged rows are not affected");
    let r = db
        .exec_drop(format!("INSERT INTO {t} (v) VALUES (?)").as_str(), ("c",))
        .unwrap();
    assert_eq!(r.affected_rows, 1);
    assert!(r.last_insert_id > 0);
    let r = db
        .exec_batch(
            format!("INSERT INTO {t} (v) VALUES (?)").as_str(),
            [("d",), ("e",)],
        )
        .unwrap();
    assert_eq!(r.affected_rows, 2);

    let all: Vec<String> = db.query(&format!("SELECT v FROM {t} ORDER BY id")).unwrap();
    let n: i64 = db.query_one(&format!("SELECT COUNT(*) FROM {t}")).unwrap();
    assert_eq!(n as usize, all.len());
    let none: Option<String> = db
        .query_opt(&format!("SELECT v FROM {t} WHERE v = 'zzz'"))
        .unwrap();
    assert_eq!(none, None);
    let e = db
        .query_one::<String>(&format!("SELECT v FROM {t} WHERE v = 'zzz'"))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoRows);
    let rs = db
        .query_result(&format!("SELECT id, v FROM {t} ORDER BY id"))
        .unwrap();
    assert_eq!(rs.columns.len(), 2);
    assert_eq!(rs.rows.len(), all.len());
    assert_eq!(
        rs.status.affected_rows,
        all.len() as u64,
        "a SELECT's count is its rows"
    );

    let sel = format!("SELECT v FROM {t} WHERE v >= ? ORDER BY id");
    let from_c: Vec<String> = db.exec(sel.as_str(), ("c",)).unwrap();
    assert_eq!(from_c, ["c", "d", "e"]);
    let one: String = db.exec_one(sel.as_str(), ("e",)).unwrap();
    assert_eq!(one, "e");
    let opt: Option<String> = db.exec_opt(sel.as_str(), ("zz",)).unwrap();
    assert_eq!(opt, None);
    let rs = db.exec_result(sel.as_str(), ("d",)).unwrap();
    assert_eq!(rs.rows.len(), 2);
    assert_eq!(rs.status.affected_rows, 2, "a SELECT's count is its rows");
    let dropped = db.exec_drop(sel.as_str(), ("c",)).unwrap();
    assert_eq!(
        dropped.affected_rows, 3,
        "rows read and discarded are counted"
    );

    let streamed: Vec<String> = db
        .query_stream(&format!("SELECT v FROM {t} ORDER BY id"))
        .unwrap()
        .collect::<mysqlclient_async::Result<_>>()
        .unwrap();
    assert_eq!(streamed, all);
    let streamed: Vec<String> = db
        .exec_stream(sel.as_str(), ("b",))
        .unwrap()
        .collect::<mysqlclient_async::Result<_>>()
        .unwrap();
    assert_eq!(streamed, ["b", "c", "d", "e"]);
    all
}

#[test]
fn generic_code_runs_on_conn_and_on_a_transaction() {
    let mut c = conn();
    let t = fresh_table(&mut c, "generic");
    let all = exercise(&mut c, &t);
    assert_eq!(all, ["a", "b", "c", "d", "e"]);

    c.query_drop(&format!("DELETE FROM {t}")).unwrap();
    let mut tx = c.begin().unwrap();
    let inside = exercise(&mut tx, &t);
    assert_eq!(inside, ["a", "b", "c", "d", "e"]);
    // A savepoint is a BlockingQueryable too, and so is begin on it.
    let mut sp = BlockingQueryable::begin(&mut tx).unwrap();
    assert_eq!(sp.depth(), 1);
    let n: i64 =
        BlockingQueryable::query_one(&mut sp, &format!("SELECT COUNT(*) FROM {t}")).unwrap();
    assert_eq!(n, 5);
    sp.commit().unwrap();
    tx.rollback().unwrap();
    assert!(
        values(&mut c, &t).is_empty(),
        "the transaction's work is gone"
    );
    c.query_drop(&format!("DROP TABLE {t}")).unwrap();
}

#[test]
fn savepoints_nest() {
    let mut c = conn();
    let t = fresh_table(&mut c, "savepoints");
    let ins = |db: &mut BlockingTransaction<'_>, v: &str| {
        db.exec_drop(format!("INSERT INTO {t} (v) VALUES (?)").as_str(), (v,))
            .unwrap();
    };

    // The inner rollback keeps the outer work.
    let mut tx = c.begin().unwrap();
    assert_eq!(tx.depth(), 0);
    assert!(tx.in_transaction());
    ins(&mut tx, "outer");
    let mut inner = tx.begin().unwrap();
    assert_eq!(inner.depth(), 1);
    ins(&mut inner, "inner");
    let debug = format!("{inner:?}");
    assert!(
        debug.contains("BlockingTransaction") && debug.contains("depth: 1"),
        "{debug}"
    );
    inner.rollback().unwrap();
    tx.commit().unwrap();
    assert!(!c.in_transaction());
    assert_eq!(values(&mut c, &t), ["outer"]);
    c.query_drop(&format!("DELETE FROM {t}")).unwrap();

    // The outer rollback drops both.
    let mut tx = c.begin().unwrap();
    ins(&mut tx, "outer");
    let mut inner = tx.begin().unwrap();
    ins(&mut inner, "inner");
    inner.commit().unwrap();
    tx.rollback().unwrap();
    assert!(values(&mut c, &t).is_empty());

    // Dropping an inner guard rolls back only the inner part.
    let mut tx = c.begin().unwrap();
    ins(&mut tx, "outer");
    {
        let mut inner = tx.begin().unwrap();
        ins(&mut inner, "dropped");
        let mut deeper = inner.begin().unwrap();
        assert_eq!(deeper.depth(), 2);
        ins(&mut deeper, "deeper");
        deeper.commit().unwrap();
    }
    assert!(tx.in_transaction(), "the outer transaction is still open");
    ins(&mut tx, "after");
    tx.commit().unwrap();
    assert_eq!(values(&mut c, &t), ["outer", "after"]);
    c.query_drop(&format!("DELETE FROM {t}")).unwrap();

    // Committing both keeps everything; a second savepoint at the same depth
    // gets its own name.
    let mut tx = c.begin().unwrap();
    ins(&mut tx, "1");
    let mut a = tx.begin().unwrap();
    ins(&mut a, "2");
    a.commit().unwrap();
    let mut b = tx.begin().unwrap();
    ins(&mut b, "3");
    b.commit().unwrap();
    tx.commit().unwrap();
    assert_eq!(values(&mut c, &t), ["1", "2", "3"]);

    // Dropping the outer guard rolls back everything.
    let tid = c.thread_id();
    {
        let mut tx = c.begin().unwrap();
        assert_eq!(tx.thread_id(), tid);
        ins(&mut tx, "4");
        let mut inner = tx.begin().unwrap();
        ins(&mut inner, "5");
    }
    assert!(!c.in_transaction());
    assert_eq!(values(&mut c, &t), ["1", "2", "3"]);
    assert!(!c.is_broken());
    c.query_drop(&format!("DROP TABLE {t}")).unwrap();
}

#[test]
fn a_failed_rollback_on_drop_marks_the_connection_broken() {
    let mut c = conn();
    let t = table("implicit_commit");
    {
        let mut tx = c.begin().unwrap();
        let mut inner = tx.begin().unwrap();
        // DDL commits implicitly: the savepoint is gone, so the drop's
        // ROLLBACK TO SAVEPOINT fails.
        inner
            .query_drop(&format!("CREATE TABLE {t} (a INT)"))
            .unwrap();
    }
    assert!(
        c.is_broken(),
        "the rollback failed: the connection is not trusted"
    );
    let e = c.query_drop("SELECT 1").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Broken);
    let mut c = conn();
    c.query_drop(&format!("DROP TABLE IF EXISTS {t}")).unwrap();
}

/// The isolation level and access mode InnoDB holds for this connection's
/// transaction. `information_schema.innodb_trx` is refreshed at most every 0.1 s,
/// so an answer from an earlier transaction is waited out.
fn innodb_trx(db: &mut impl BlockingQueryable, want: &str) -> (String, i64) {
    let mut last = (String::new(), -1);
    for _ in 0..20 {
        std::thread::sleep(Duration::from_millis(120));
        let r: Option<(String, i64)> = db
            .query_opt(
                "SELECT trx_isolation_level, trx_is_read_only FROM information_schema.innodb_trx \
                 WHERE trx_mysql_thread_id = CONNECTION_ID()",
            )
            .unwrap();
        if let Some(r) = r {
            if r.0 == want {
                return r;
            }
            last = r;
        }
    }
    last
}

#[test]
fn begin_with_sets_isolation_and_access_mode_for_one_transaction() {
    let mut c = conn();
    let t = fresh_table(&mut c, "isolation");
    c.query_drop(&format!("INSERT INTO {t} (v) VALUES ('x')"))
        .unwrap();
    let session: (String, i64) = c
        .query_one("SELECT @@SESSION.tx_isolation, @@SESSION.tx_read_only")
        .unwrap();
    assert_eq!(session, ("REPEATABLE-READ".to_string(), 0));

    let opts = TxOptions::new()
        .isolation(IsolationLevel::ReadCommitted)
        .read_only(true);
    let mut tx = c.begin_with(opts).unwrap();
    // Touch InnoDB so the transaction is listed.
    let _: Vec<String> = tx.query(&format!("SELECT v FROM {t}")).unwrap();
    let (level, read_only) = innodb_trx(&mut tx, "READ COMMITTED");
    assert_eq!(level, "READ COMMITTED");
    assert_eq!(read_only, 1);
    // What the session variables show inside it (the session's values on
    // MariaDB: SET TRANSACTION without SESSION leaves them alone).
    let inside: (String, i64) = tx
        .query_one("SELECT @@tx_isolation, @@tx_read_only")
        .unwrap();
    eprintln!("@@tx_isolation, @@tx_read_only inside the transaction: {inside:?}");
    let e = tx
        .query_drop(&format!("INSERT INTO {t} (v) VALUES ('no')"))
        .unwrap_err();
    assert_eq!(
        e.code(),
        Some(1792),
        "a write in a READ ONLY transaction: {e}"
    );
    assert!(!e.is_fatal());
    tx.rollback().unwrap();

    // The session is as it was, and the next transaction uses its level.
    let after: (String, i64) = c
        .query_one("SELECT @@SESSION.tx_isolation, @@SESSION.tx_read_only")
        .unwrap();
    assert_eq!(after, session);
    let mut tx = c.begin().unwrap();
    tx.query_drop(&format!("INSERT INTO {t} (v) VALUES ('yes')"))
        .unwrap();
    let (level, read_only) = innodb_trx(&mut tx, "REPEATABLE READ");
    assert_eq!((level.as_str(), read_only), ("REPEATABLE READ", 0));
    tx.commit().unwrap();

    // Serializable, with a consistent snapshot.
    let opts = TxOptions::new()
        .isolation(IsolationLevel::Serializable)
        .consistent_snapshot(true);
    let mut tx = c.begin_with(opts).unwrap();
    tx.query_drop(&format!("UPDATE {t} SET v = 'z' WHERE v = 'yes'"))
        .unwrap();
    let (level, _) = innodb_trx(&mut tx, "SERIALIZABLE");
    assert_eq!(level, "SERIALIZABLE");
    tx.commit().unwrap();
    assert_eq!(values(&mut c, &t), ["x", "z"]);
    c.query_drop(&format!("DROP TABLE {t}")).unwrap();
}

#[test]
fn begin_with_on_a_transaction_is_refused() {
    let mut c = conn();
    let mut tx = c.begin().unwrap();
    let q0 = questions(&mut tx);
    let e = BlockingQueryable::begin_with(&mut tx, TxOptions::new().read_only(true)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Client, "{e}");
    assert!(!e.is_fatal());
    assert!(e.to_string().contains("savepoint"), "{e}");
    assert_eq!(questions(&mut tx) - q0, 1, "nothing was sent");
    assert!(tx.in_transaction());
    let mut sp = tx.begin().unwrap();
    let e = BlockingQueryable::begin_with(&mut sp, TxOptions::new()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Client);
    sp.commit().unwrap();
    tx.commit().unwrap();
    assert!(!c.in_transaction());
    assert_eq!(c.query_one::<i32>("SELECT 1").unwrap(), 1);
}

#[test]
fn query_stream_reads_rows_one_at_a_time() {
    let mut c = conn();
    let sql = ten_thousand();

    // Read to the end.
    let mut it = c.query_stream::<i64>(&sql).unwrap();
    assert_eq!(it.columns().len(), 1);
    assert_eq!(it.columns()[0].name(), "n");
    assert!(it.status().is_none(), "no status before the end");
    let mut count = 0;
    let mut sum = 0;
    for v in &mut it {
        sum += v.unwrap();
        count += 1;
    }
    assert_eq!(count, 10_000);
    assert_eq!(sum, (0..10_000).sum::<i64>());
    let status = it.status().expect("the status once the rows ended").clone();
    assert_eq!(status.warnings, 0, "{status:?}");
    assert_eq!(status.affected_rows, 10_000, "a SELECT's count is its rows");
    assert!(it.next().is_none(), "fused");
    drop(it);
    assert!(!c.has_pending_work());

    // Dropped after 10 rows: the connection still answers.
    let first: Vec<i64> = c
        .query_stream::<i64>(&sql)
        .unwrap()
        .take(10)
        .collect::<mysqlclient_async::Result<_>>()
        .unwrap();
    assert_eq!(first, (0..10).collect::<Vec<i64>>());
    assert!(c.has_pending_work(), "the rest of the rows is unread");
    assert_eq!(c.query_one::<i32>("SELECT 1").unwrap(), 1);
    assert!(!c.has_pending_work());

    // Rows as tuples and as Row.
    let rows: Vec<(i64, String)> = c
        .query_stream("SELECT 1, 'a' UNION ALL SELECT 2, 'b'")
        .unwrap()
        .collect::<mysqlclient_async::Result<_>>()
        .unwrap();
    assert_eq!(rows, [(1, "a".to_string()), (2, "b".to_string())]);
    let rows: Vec<Row> = c
        .query_stream("SELECT 3 AS x")
        .unwrap()
        .collect::<mysqlclient_async::Result<_>>()
        .unwrap();
    assert_eq!(rows[0].get::<i64>("x"), 3);

    // A row that does not convert is an error item; the rows go on.
    let items: Vec<_> = c
        .query_stream::<i64>("SELECT 1 UNION ALL SELECT NULL UNION ALL SELECT 3")
        .unwrap()
        .collect();
    assert_eq!(items.len(), 3);
    assert_eq!(*items[0].as_ref().unwrap(), 1);
    assert!(!items[1].as_ref().unwrap_err().is_fatal());
    assert_eq!(*items[2].as_ref().unwrap(), 3);

    // A statement without rows: an empty iterator whose status is there at once.
    let t = fresh_table(&mut c, "stream_status");
    let it = c
        .query_stream::<Row>(&format!("INSERT INTO {t} (v) VALUES ('a'), ('b')"))
        .unwrap();
    assert!(it.columns().is_empty());
    assert_eq!(it.status().map(|s| s.affected_rows), Some(2));
    assert_eq!(it.count(), 0);

    // A later statement's error is the last item; the connection is usable.
    let items: Vec<_> = c
        .query_stream::<i64>("SELECT 1; SELECT * FROM no_such_table_stream")
        .unwrap()
        .collect();
    assert_eq!(items.len(), 2);
    assert_eq!(*items[0].as_ref().unwrap(), 1);
    assert_eq!(items[1].as_ref().unwrap_err().code(), Some(1146));
    // A failing statement without rows fails the call itself.
    let e = c
        .query_stream::<i64>("SELECT * FROM no_such_table_stream")
        .unwrap_err();
    assert_eq!(e.code(), Some(1146));
    assert_eq!(c.query_one::<i32>("SELECT 2").unwrap(), 2);

    // Dropped on a transaction, then the transaction goes on.
    let mut tx = c.begin().unwrap();
    let mut it = tx.query_stream::<i64>(&sql).unwrap();
    assert_eq!(it.next().unwrap().unwrap(), 0);
    drop(it);
    tx.query_drop(&format!("INSERT INTO {t} (v) VALUES ('c')"))
        .unwrap();
    tx.commit().unwrap();
    assert_eq!(values(&mut c, &t), ["a", "b", "c"]);
    c.query_drop(&format!("DROP TABLE {t}")).unwrap();
}

fn exec_streams(c: &mut Conn) {
    let sql = format!(
        "SELECT n, CONCAT('r', n) FROM ({}) t WHERE n >= ? AND n < ?",
        ten_thousand()
    );
    let rows: Vec<(i64, String)> = c
        .exec_stream(sql.as_str(), (10, 13))
        .unwrap()
        .collect::<mysqlclient_async::Result<_>>()
        .unwrap();
    assert_eq!(
        rows,
        [
            (10, "r10".to_string()),
            (11, "r11".to_string()),
            (12, "r12".to_string())
        ]
    );

    // Read to the end: the status.
    let mut it = c
        .exec_stream::<(i64, String), _>(sql.as_str(), (0, 5000))
        .unwrap();
    assert_eq!(it.columns().len(), 2);
    assert_eq!(it.by_ref().count(), 5000);
    assert!(it.status().is_some());
    drop(it);
    assert!(!c.has_pending_work());

    // Dropped early.
    let mut it = c
        .exec_stream::<(i64, String), _>(sql.as_str(), (0, 10_000))
        .unwrap();
    assert_eq!(it.next().unwrap().unwrap().0, 0);
    drop(it);
    assert!(c.has_pending_work());
    assert_eq!(c.query_one::<i32>("SELECT 1").unwrap(), 1);
    let n: i64 = c.exec_one("SELECT ? + 1", (41,)).unwrap();
    assert_eq!(n, 42);

    // No rows, and a statement without a result set.
    assert_eq!(
        c.exec_stream::<Row, _>(sql.as_str(), (5, 5))
            .unwrap()
            .count(),
        0
    );
    let it = c.exec_stream::<Row, _>("DO ?", (1,)).unwrap();
    assert!(it.status().is_some());
}

#[test]
fn exec_stream_with_parameters() {
    exec_streams(&mut conn());
    exec_streams(&mut conn_with(|b| b.client_side_params(true)));
}

#[test]
fn cancel_token_kills_a_running_query_from_another_thread() {
    let mut c = conn();
    let token = c.cancel_token();
    assert_eq!(token.thread_id(), c.thread_id());
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        token.cancel_query_blocking()
    });
    let start = Instant::now();
    let e = c.query_drop("SELECT SLEEP(10)").unwrap_err();
    let took = start.elapsed();
    killer.join().unwrap().expect("KILL QUERY sent");
    assert_eq!(e.kind(), ErrorKind::Cancelled, "{e}");
    assert!(!e.is_fatal());
    assert!(took < Duration::from_secs(5), "cancelled after {took:?}");
    assert!(!c.is_broken());
    assert_eq!(c.query_one::<i32>("SELECT 1").unwrap(), 1);
}

#[test]
fn query_drop_and_exec_drop_report_what_the_statement_did() {
    let mut c = conn();
    let t = fresh_table(&mut c, "status");
    let r: ExecResult = c
        .query_drop(&format!("INSERT INTO {t} (v) VALUES ('a'), ('b')"))
        .unwrap();
    assert_eq!(r.affected_rows, 2);
    assert_eq!(r.last_insert_id, 1, "the first generated id");
    assert!(
        r.info.as_deref().unwrap_or("").contains("Records: 2"),
        "{r:?}"
    );
    let r = c
        .exec_drop(format!("INSERT INTO {t} (v) VALUES (?)").as_str(), ("c",))
        .unwrap();
    assert_eq!((r.affected_rows, r.last_insert_id), (1, 3));
    let r = c
        .exec_drop(
            format!("UPDATE {t} SET v = ? WHERE id < ?").as_str(),
            ("z", 3),
        )
        .unwrap();
    assert_eq!(r.affected_rows, 2);
    assert_eq!(r.last_insert_id, 0);
    let r = c.execute(&format!("DELETE FROM {t}")).unwrap();
    assert_eq!(r.affected_rows, 3);
    let r = c.query_drop("SELECT 1").unwrap();
    assert_eq!(r.warnings, 0);
    c.query_drop(&format!("DROP TABLE {t}")).unwrap();
}

#[test]
fn has_pending_work_tracks_unfinished_commands() {
    let mut c = conn();
    assert!(!c.has_pending_work());
    c.send_query("SELECT 1").unwrap();
    assert!(c.has_pending_work(), "a result to read");
    c.read_query_result().unwrap();
    assert!(!c.has_pending_work());

    c.send_query("SELECT 1; SELECT 2").unwrap();
    c.read_query_result().unwrap();
    assert!(c.has_pending_work(), "a second result set");
    assert!(c.next_result().unwrap().is_some());
    assert!(!c.has_pending_work());

    let mut it = c
        .query_stream::<i64>("SELECT 1 UNION ALL SELECT 2")
        .unwrap();
    it.next();
    drop(it);
    assert!(c.has_pending_work(), "a row left unread");
    c.ping().unwrap();
    assert!(!c.has_pending_work());
}

#[test]
fn dropping_the_connection_mid_stream_does_not_read_the_rest() {
    let mut c = conn();
    let big = format!(
        "SELECT REPEAT('x', 1000) FROM ({0}) a, ({0}) b",
        ten_thousand()
    );
    let mut it = c.query_stream::<String>(&big).unwrap();
    assert_eq!(it.next().unwrap().unwrap().len(), 1000);
    drop(it);
    let start = Instant::now();
    drop(c);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "100 million rows are not read on close ({:?})",
        start.elapsed()
    );
}

#[test]
fn blocking_types_are_send() {
    fn assert_send<T: Send>() {}
    assert_send::<BlockingTransaction<'static>>();
    assert_send::<RowIter<'static, Row>>();
}
