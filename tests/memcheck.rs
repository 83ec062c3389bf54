//! One pass over every FFI path, small enough to run under valgrind (`make memcheck`).
//! It also runs in the normal suite, where it is simply a broad smoke test.

mod support;

use std::time::Duration;

use futures_util::StreamExt;
use mysqlclient_async::{AsyncConn, Conn, ErrorKind, IoMode, Opts, Pool, Row, SslMode};

#[test]
fn every_ffi_path_once() {
    let server = support::private_server();
    let url = server.url();
    let tls = Opts::from_url(&url)
        .unwrap()
        .to_builder()
        .ssl_mode(SslMode::VerifyCa)
        .ssl_ca(server.tls_ca_path())
        .build();

    // Blocking: connect (TCP, socket, TLS), queries, metadata, multi-results, the two
    // steps, session calls, escaping, errors, drop with a pending result.
    let mut c = Conn::connect(url.as_str()).unwrap();
    let rows: Vec<(u64, String, Option<String>)> = c
        .query("SELECT seq, REPEAT('a', seq), IF(seq % 2, NULL, 'x') FROM seq_1_to_20")
        .unwrap();
    assert_eq!(rows.len(), 20);
    let sets = c.query_multi("SELECT 1; SELECT 'two', 2; DO 3").unwrap();
    assert_eq!(sets.len(), 3);
    c.send_query("SELECT SLEEP(0.05)").unwrap();
    assert_eq!(c.read_query_result().unwrap().rows.len(), 1);
    c.ping().unwrap();
    c.select_db("mysql").unwrap();
    c.reset_connection().unwrap();
    assert_eq!(c.escape("a'b\\c").unwrap(), "a\\'b\\\\c");
    assert_eq!(c.query_drop("SELEC").unwrap_err().kind(), ErrorKind::Server);
    // Session-state tracking of the GTID: the entries of each OK packet are read.
    let mut g = Conn::connect(format!("{url}?track_gtid=true")).unwrap();
    g.query_drop("CREATE TEMPORARY TABLE gt (a INT)").unwrap();
    g.query_drop("INSERT INTO gt VALUES (1)").unwrap();
    g.query_drop("SET @@session.time_zone = '+01:00'").unwrap();
    let _ = g.last_gtid();
    // Statements: prepare, binary rows (a value that outgrows its buffer), long
    // data, bulk, eviction (cache of 1), a table change, a statement with rows
    // unread when the connection is dropped.
    let o1 = Opts::from_url(&url)
        .unwrap()
        .to_builder()
        .stmt_cache_size(1)
        .build();
    let mut p = Conn::connect(&o1).unwrap();
    let st = p
        .prepare("SELECT ?, REPEAT('z', ?), CAST(? AS DATETIME(6))")
        .unwrap();
    let r: (i64, String, String) = p
        .exec_one(&st, (1, 100_000, "2024-01-02 03:04:05.5"))
        .unwrap();
    assert_eq!(r.1.len(), 100_000);
    let n: u64 = p
        .exec_one("SELECT LENGTH(?)", (vec![1u8; 2 << 20],))
        .unwrap();
    assert_eq!(n, 2 << 20);
    p.query_drop("CREATE TEMPORARY TABLE m (a INT, s TEXT)")
        .unwrap();
    let b = p
        .exec_batch("INSERT INTO m VALUES (?, ?)", (0..50).map(|i| (i, "v")))
        .unwrap();
    assert_eq!(b.affected_rows, 50);
    let _: Vec<Row> = p.exec("SELECT * FROM m WHERE a < ?", (3,)).unwrap();
    p.query_drop("ALTER TABLE m ADD c INT").unwrap();
    let rows: Vec<Row> = p.exec("SELECT * FROM m WHERE a < ?", (3,)).unwrap();
    assert_eq!(rows[0].len(), 3);
    drop(st);
    drop(p);
    c.send_query("SELECT 1").unwrap();
    drop(c);
    let mut s = Conn::connect(server.socket_url().as_str()).unwrap();
    assert_eq!(s.query_one::<i32>("SELECT 5").unwrap(), 5);
    s.close().unwrap();
    let mut t = Conn::connect(&tls).unwrap();
    assert!(t.tls_cipher().is_some());
    assert_eq!(t.query_one::<i32>("SELECT 6").unwrap(), 6);
    assert!(Conn::connect(
        Opts::from_url(&url)
            .unwrap()
            .to_builder()
            .password("bad")
            .build()
    )
    .is_err());

    // Async, on both I/O paths: connect (TCP + TLS), every operation, streams
    // dropped early, futures dropped mid-query, timeouts with KILL, close.
    support::block_on(async {
        for mode in [IoMode::NonBlocking, IoMode::ReadableThenRead] {
            for o in [Opts::from_url(&url).unwrap(), tls.clone()] {
                let o = o.to_builder().io_mode(mode).build();
                let mut a = AsyncConn::connect(&o).await.unwrap();
                let rows: Vec<Row> = a.query("SELECT seq, 'r' FROM seq_1_to_50").await.unwrap();
                assert_eq!(rows.len(), 50);
                assert_eq!(a.query_multi("SELECT 1; SELECT 2").await.unwrap().len(), 2);
                a.send_query("SELECT 7; SELECT 8").await.unwrap();
                a.read_query_result().await.unwrap();
                a.next_result().await.unwrap().unwrap();
                let mut st = a
                    .query_stream::<u64>("SELECT seq FROM seq_1_to_3000")
                    .await
                    .unwrap();
                let mut n = 0;
                while let Some(r) = st.try_next().await.transpose() {
                    r.unwrap();
                    n += 1;
                }
                assert_eq!(n, 3000);
                let owned: Vec<_> = a
                    .query_stream::<mysqlclient_async::Row>("SELECT seq FROM seq_1_to_10")
                    .await
                    .unwrap()
                    .collect()
                    .await;
                assert_eq!(owned.len(), 10);
                {
                    let mut st = a
                        .query_stream::<u64>("SELECT seq FROM seq_1_to_100000")
                        .await
                        .unwrap();
                    st.next().await.unwrap().unwrap();
                } // dropped early: drained before the next command
                let q = a.query_drop("SELECT SLEEP(0.2)");
                assert!(tokio::time::timeout(Duration::from_millis(20), q)
                    .await
                    .is_err());
                assert_eq!(a.query_one::<i32>("SELECT 9").await.unwrap(), 9);
                a.ping().await.unwrap();
                a.select_db("test").await.unwrap();
                a.reset_connection().await.unwrap();
                a.set_query_timeout(Some(Duration::from_millis(100)));
                let e = a.query_drop("SELECT SLEEP(5)").await.unwrap_err();
                assert_eq!(e.kind(), ErrorKind::Timeout);
                a.set_query_timeout(None);
                {
                    let mut tx = a.begin().await.unwrap();
                    tx.query_drop("DO 1").await.unwrap();
                }
                assert_eq!(a.query_one::<i32>("SELECT 10").await.unwrap(), 10);
                // Statements (server-side where the library can without blocking):
                // a cached one, a long parameter, a bulk insert, a stream dropped early.
                let s = a.prepare("SELECT ? * 2").await;
                if let Ok(s) = s {
                    assert_eq!(a.exec_one::<i64, _>(&s, (21,)).await.unwrap(), 42);
                }
                let n: u64 = a
                    .exec_one("SELECT LENGTH(?)", (vec![2u8; 2 << 20],))
                    .await
                    .unwrap();
                assert_eq!(n, 2 << 20);
                a.query_drop("CREATE TEMPORARY TABLE m (a INT)")
                    .await
                    .unwrap();
                let b = a
                    .exec_batch("INSERT INTO m VALUES (?)", (0..50).map(|i| (i,)))
                    .await;
                assert_eq!(b.unwrap().affected_rows, 50);
                {
                    let mut st = a
                        .exec_stream::<u64, _>(
                            "SELECT seq FROM seq_1_to_100000 WHERE seq > ?",
                            (0,),
                        )
                        .await
                        .unwrap();
                    st.next().await.unwrap().unwrap();
                }
                assert_eq!(a.exec_one::<i32, _>("SELECT ?", (11,)).await.unwrap(), 11);
                a.close().await.unwrap();
                // Dropped mid-query (aborts the suspended co-routine) and mid-connect.
                let mut b = AsyncConn::connect(&o).await.unwrap();
                let q = b.query_drop("SELECT SLEEP(1)");
                assert!(tokio::time::timeout(Duration::from_millis(10), q)
                    .await
                    .is_err());
                drop(b);
                // Dropped with a statement's rows unread, and mid-execute.
                let mut b = AsyncConn::connect(&o).await.unwrap();
                let mut st = b
                    .exec_stream::<u64, _>("SELECT seq FROM seq_1_to_100000 WHERE seq > ?", (0,))
                    .await
                    .unwrap();
                st.next().await.unwrap().unwrap();
                drop(st);
                drop(b);
                let mut b = AsyncConn::connect(&o).await.unwrap();
                let q = b.exec_drop("DO SLEEP(?)", (1,));
                assert!(tokio::time::timeout(Duration::from_millis(10), q)
                    .await
                    .is_err());
                drop(b);
                let connecting = AsyncConn::connect(&o);
                let _ = tokio::time::timeout(Duration::from_micros(200), connecting).await;
            }
        }
        // The pool: checkout, return mid-query (kill + drain in the background), close.
        let pool = Pool::builder(url.as_str()).max_size(2).build().unwrap();
        let mut p = pool.get().await.unwrap();
        let q = p.query_drop("SELECT SLEEP(1)");
        assert!(tokio::time::timeout(Duration::from_millis(10), q)
            .await
            .is_err());
        drop(p);
        assert_eq!(pool.query_one::<i32>("SELECT 11").await.unwrap(), 11);
        tokio::time::sleep(Duration::from_millis(300)).await;
        pool.close().await;
    });
}
