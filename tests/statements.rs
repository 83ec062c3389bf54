//! Server-side prepared statements against a real server: the binary protocol
//! reads back exactly what the text protocol does, parameters round-trip, the
//! statement cache stays correct and bounded, and bulk execution.

mod support;

use support::block_on as run;

use mysqlclient_async::{AsyncConn, Conn, ErrorKind, Opts, Row, Value};

fn opts() -> Opts {
    Opts::from_url(&support::url()).unwrap()
}

/// Server-side statements run on this backend's async connections.
fn async_statements() -> bool {
    mysqlclient_async::backend() == "mariadb"
}

#[test]
fn smoke() {
    run(async {
        let mut c = AsyncConn::connect(opts()).await.unwrap();
        let v: Vec<(i64, String)> = c.exec("SELECT ?, ?", (41i64 + 1, "x'y")).await.unwrap();
        assert_eq!(v, vec![(42, "x'y".to_string())]);
        let s = c.prepare("SELECT ? + 1").await;
        if async_statements() {
            let s = s.unwrap();
            assert_eq!(s.param_count(), 1);
            let n: i64 = c.exec_one(&s, (1,)).await.unwrap();
            assert_eq!(n, 2);
        } else {
            assert_eq!(s.unwrap_err().kind(), ErrorKind::Client);
        }
        let mut b = Conn::connect(opts()).unwrap();
        let st = b.prepare("SELECT ?, CAST(? AS DATETIME(6))").unwrap();
        let r: Vec<Row> = b.exec(&st, (1u64, "2024-01-02 03:04:05.123456")).unwrap();
        assert_eq!(r[0].get::<Value>(0), Value::UInt(1));
        assert_eq!(r[0].get::<String>(1), "2024-01-02 03:04:05.123456");
    });
}

/// A table of every column type with edge values and random rows; each cell
/// read through the binary protocol equals the text protocol's, as a `Value`
/// and as a string.
const TYPES_TABLE: &str = "CREATE TEMPORARY TABLE t (
    id INT PRIMARY KEY,
    ti TINYINT, tu TINYINT UNSIGNED, si SMALLINT, mi MEDIUMINT, i INT, iu INT UNSIGNED,
    bi BIGINT, bu BIGINT UNSIGNED, z INT(6) ZEROFILL,
    f FLOAT, d DOUBLE, d2 DOUBLE(10,2), dec65 DECIMAL(65,30),
    b64 BIT(64), y YEAR, dt DATE, tm TIME(6), dtm DATETIME(6), ts TIMESTAMP(3) NULL,
    j JSON, e ENUM('a','b'), st SET('x','y'), g GEOMETRY NULL,
    vc VARCHAR(50), tx TEXT, vb VARBINARY(300), bl LONGBLOB) CHARSET utf8mb4";

fn edge_rows() -> Vec<String> {
    let mut v = vec![
        "(1, -128, 255, -32768, -8388608, -2147483648, 4294967295, -9223372036854775808, \
          18446744073709551615, 42, 3.40282e38, 1.7976931348623157e308, 1.5, \
          -99999999999999999999999999999999999.999999999999999999999999999999, \
          b'1111111111111111111111111111111111111111111111111111111111111111', 1901, \
          '0000-00-00', '-838:59:59.000000', '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07.999', \
          '{\"a\": [1, 2]}', 'b', 'x,y', ST_GeomFromText('POINT(1 2)'), 'héllo ✓', 'long text', \
          0x00ff, 0x00)"
            .to_string(),
        "(2, 127, 0, 32767, 8388607, 2147483647, 0, 9223372036854775807, 0, 0, \
          1.17549e-38, 4.9406564584124654e-324, -0.01, 0.000000000000000000000000000001, \
          b'0', 2155, '2024-02-29', '838:59:59.999999', '0000-00-00 00:00:00', NULL, \
          'null', 'a', '', NULL, '', '', '', '')"
            .to_string(),
        "(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, \
          NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)"
            .to_string(),
        "(4, 0, 0, 0, 0, 0, 0, 0, 0, 0, -0.1, 0.1, 0, 0, b'101', 0, '2024-05-00', \
          '-00:00:00.000001', '2024-01-01 00:00:00.5', '1970-01-01 00:00:01', '[]', NULL, 'y', NULL, \
          'x', 'y', X'', X'')"
            .to_string(),
    ];
    // Random rows (a fixed seed, so a failure reproduces).
    let mut seed = 0x9e3779b97f4a7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for id in 10..3000 {
        let r = next();
        let bytes: String = (0..(r % 40))
            .map(|k| format!("{:02x}", (next() >> (k % 8)) as u8))
            .collect();
        v.push(format!(
            "({id}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {:e}, {:e}, {}.{:02}, {}.{}, {}, {}, \
             '{}-{:02}-{:02}', '{}{}:{:02}:{:02}.{:06}', '{}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}', NULL, \
             '{{\"k\": {}}}', 'a', 'x', NULL, 'v{}', 't{}', X'{bytes}', X'{bytes}{bytes}')",
            (r % 256) as i64 - 128,
            r % 256,
            (r % 65536) as i64 - 32768,
            (r % 16777216) as i64 - 8388608,
            r as i32,
            r as u32,
            r as i64,
            r.rotate_left(7),
            r % 1000000,
            f32::from_bits((r as u32) & 0x7f7fffff) * if r & 1 == 0 { 1.0 } else { -1.0 },
            f64::from_bits(r & 0x7fefffffffffffff),
            (r % 100000) as i64 - 50000,
            r % 100,
            r % 1000000007,
            r % 1000000,
            r,
            1901 + r % 255,
            r % 10000,
            1 + r % 12,
            1 + r % 28,
            if r & 2 == 0 { "-" } else { "" },
            r % 839,
            r % 60,
            (r >> 8) % 60,
            r % 1000000,
            r % 10000,
            1 + r % 12,
            1 + r % 28,
            r % 24,
            r % 60,
            (r >> 8) % 60,
            r % 1000000,
            r % 1000,
            r,
            r % 97,
        ));
    }
    v
}

fn compare_rows(text: &[Row], binary: &[Row]) {
    assert_eq!(text.len(), binary.len());
    for (t, b) in text.iter().zip(binary) {
        for i in 0..t.len() {
            let col = t.columns()[i].name();
            assert_eq!(
                t.get::<Value>(i),
                b.get::<Value>(i),
                "row id {:?}, column {col}: text vs binary",
                t.raw(0)
            );
            // The same bytes too, but for FLOAT/DOUBLE, whose notation may differ
            // (`1e-11` vs `0.00000000001`): the value is the same.
            if !t.columns()[i].column_type().is_float() {
                assert_eq!(
                    t.raw(i),
                    b.raw(i),
                    "row id {:?}, column {col}: bytes",
                    t.raw(0)
                );
            }
        }
    }
}

#[test]
fn binary_rows_equal_text_rows_blocking() {
    let mut c = Conn::connect(opts()).unwrap();
    c.query_drop("SET time_zone = '+00:00', sql_mode = ''")
        .unwrap();
    c.query_drop(TYPES_TABLE).unwrap();
    for chunk in edge_rows().chunks(200) {
        c.query_drop(&format!("INSERT INTO t VALUES {}", chunk.join(",")))
            .unwrap();
    }
    let text: Vec<Row> = c.query("SELECT * FROM t ORDER BY id").unwrap();
    let binary: Vec<Row> = c
        .exec("SELECT * FROM t WHERE id > ? ORDER BY id", (0,))
        .unwrap();
    assert!(text.len() > 2000);
    compare_rows(&text, &binary);
}

#[test]
fn binary_rows_equal_text_rows_async() {
    run(async {
        let mut c = AsyncConn::connect(opts()).await.unwrap();
        c.query_drop("SET time_zone = '+00:00', sql_mode = ''")
            .await
            .unwrap();
        c.query_drop(TYPES_TABLE).await.unwrap();
        for chunk in edge_rows().chunks(200) {
            c.query_drop(&format!("INSERT INTO t VALUES {}", chunk.join(",")))
                .await
                .unwrap();
        }
        let text: Vec<Row> = c.query("SELECT * FROM t ORDER BY id").await.unwrap();
        let binary: Vec<Row> = c
            .exec("SELECT * FROM t WHERE id > ? ORDER BY id", (0,))
            .await
            .unwrap();
        compare_rows(&text, &binary);
        // Streaming reads the same rows, one at a time.
        let mut s = c
            .exec_stream::<Row, _>("SELECT * FROM t WHERE id > ? ORDER BY id", (0,))
            .await
            .unwrap();
        let mut k = 0;
        while let Some(r) = s.try_next().await.transpose() {
            let r = r.unwrap().to_owned();
            compare_rows(std::slice::from_ref(&text[k]), std::slice::from_ref(&r));
            k += 1;
        }
        assert_eq!(k, text.len());
    });
}

#[test]
fn parameters_round_trip_through_the_binary_protocol() {
    use proptest::prelude::*;
    let c = std::cell::RefCell::new(Conn::connect(opts()).unwrap());
    let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
        cases: 200,
        ..Default::default()
    });
    runner
        .run(
            &(
                any::<Vec<u8>>(),
                any::<String>(),
                any::<i64>(),
                any::<u64>(),
                any::<f64>().prop_filter("finite", |x| x.is_finite()),
            ),
            |(bytes, text, i, u, x)| {
                let r: (Vec<u8>, String, i64, u64, f64) = c
                    .borrow_mut()
                    .exec_one(
                        "SELECT ?, ?, ?, ?, ?",
                        (bytes.clone(), text.clone(), i, u, x),
                    )
                    .unwrap();
                prop_assert_eq!(r, (bytes, text, i, u, x));
                Ok(())
            },
        )
        .unwrap();
    let mut c = c.into_inner();
    // Subnormals, signed zero, all 256 byte values, a 16 MiB blob (long data).
    let sub = f64::from_bits(1);
    let r: (f64, f64) = c.exec_one("SELECT ?, ?", (sub, -0.0f64)).unwrap();
    assert_eq!(r.0.to_bits(), sub.to_bits());
    let all: Vec<u8> = (0..=255u8).collect();
    let back: Vec<u8> = c.exec_one("SELECT ?", (all.clone(),)).unwrap();
    assert_eq!(back, all);
    let big: Vec<u8> = (0..16 << 20).map(|i| (i * 7 % 251) as u8).collect();
    let n: u64 = c.exec_one("SELECT LENGTH(?)", (big.clone(),)).unwrap();
    assert_eq!(n, big.len() as u64);
}

#[test]
fn wrong_parameter_count_is_refused_before_sending() {
    run(async {
        let mut c = AsyncConn::connect(opts()).await.unwrap();
        let e = c.exec_drop("SELECT ?, ?", (1,)).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Params, "{e}");
        assert!(!e.is_fatal());
        let e = c.exec_drop("SELECT ?", (f64::NAN,)).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Params, "{e}");
        let n: i64 = c.exec_one("SELECT ?", (7,)).await.unwrap();
        assert_eq!(n, 7);
    });
}

fn prepared_count(c: &mut Conn) -> u64 {
    let r: (String, String) = c
        .query_one("SHOW GLOBAL STATUS LIKE 'Prepared_stmt_count'")
        .unwrap();
    r.1.parse().unwrap()
}

#[test]
fn cache_stays_bounded_over_many_distinct_statements() {
    run(async {
        let mut watch = Conn::connect(opts()).unwrap();
        let before = prepared_count(&mut watch);
        let o = opts().to_builder().stmt_cache_size(16).build();
        let mut c = AsyncConn::connect(o).await.unwrap();
        for i in 0..10_000 {
            let n: i64 = c.exec_one(&format!("SELECT ? + {i}"), (1,)).await.unwrap();
            assert_eq!(n, 1 + i);
        }
        c.query_drop("DO 0").await.unwrap();
        let during = prepared_count(&mut watch);
        if async_statements() {
            assert!(
                during <= before + 100,
                "{during} statements prepared server-wide, {before} before"
            );
        }
        drop(c);
    });
}

#[test]
fn cache_reprepares_after_a_type_change_and_reset() {
    run(async {
        let mut c = AsyncConn::connect(opts()).await.unwrap();
        c.query_drop("CREATE TEMPORARY TABLE a (x INT, y INT)")
            .await
            .unwrap();
        c.query_drop("INSERT INTO a VALUES (1, 2)").await.unwrap();
        let r: Vec<Row> = c.exec("SELECT * FROM a WHERE x = ?", (1,)).await.unwrap();
        assert_eq!(r[0].get::<Value>("y"), Value::Int(2));
        // Same number of columns, another type: the rows carry the new metadata.
        c.query_drop("ALTER TABLE a MODIFY y VARCHAR(5)")
            .await
            .unwrap();
        let r: Vec<Row> = c.exec("SELECT * FROM a WHERE x = ?", (1,)).await.unwrap();
        assert_eq!(r[0].get::<Value>("y"), Value::Text("2".into()));
        // Another number of columns: the stale result is discarded, the statement
        // prepared again, and the call returns the new columns.
        c.query_drop("ALTER TABLE a ADD COLUMN z VARCHAR(5) DEFAULT 'new'")
            .await
            .unwrap();
        let r: Vec<Row> = c.exec("SELECT * FROM a WHERE x = ?", (1,)).await.unwrap();
        assert_eq!(r[0].len(), 3);
        assert_eq!(r[0].get::<String>("z"), "new");
        c.query_drop("ALTER TABLE a DROP COLUMN y").await.unwrap();
        let r: Vec<(i64, String)> = c.exec("SELECT * FROM a WHERE x = ?", (1,)).await.unwrap();
        assert_eq!(r, vec![(1, "new".to_string())]);
        assert!(!c.is_broken());
        c.reset_connection().await.unwrap();
        let n: i64 = c.exec_one("SELECT ? * 2", (21,)).await.unwrap();
        assert_eq!(n, 42);
        // A handle from before the reset is prepared again where needed.
        let s = c.prepare("SELECT ? * 3").await;
        if let Ok(s) = s {
            c.reset_connection().await.unwrap();
            let n: i64 = c.exec_one(&s, (2,)).await.unwrap();
            assert_eq!(n, 6);
        }
    });
}

#[test]
fn bulk_equals_one_by_one_and_reports_partial_failure() {
    run(async {
        let mut c = AsyncConn::connect(opts()).await.unwrap();
        c.query_drop(
            "CREATE TEMPORARY TABLE bulk1 (id INT PRIMARY KEY AUTO_INCREMENT, a BIGINT, s VARCHAR(40), d DOUBLE, t DATETIME(6), n INT) CHARSET utf8mb4",
        )
        .await
        .unwrap();
        c.query_drop("CREATE TEMPORARY TABLE bulk2 LIKE bulk1")
            .await
            .unwrap();
        let rows: Vec<(i64, String, f64, String, Option<i32>)> = (0..100_000i64)
            .map(|i| {
                (
                    i * 3,
                    format!("name {i} ✓"),
                    i as f64 / 7.0,
                    format!("2024-01-{:02} 10:00:00.{:06}", 1 + i % 28, i % 1000000),
                    (i % 5 != 0).then_some(i as i32),
                )
            })
            .collect();
        let sql = "INSERT INTO bulk1 (a, s, d, t, n) VALUES (?, ?, ?, ?, ?)";
        let r = c.exec_batch(sql, rows.iter().cloned()).await.unwrap();
        assert_eq!(r.affected_rows, 100_000);
        assert_eq!(r.last_insert_id, 1);
        for row in rows.iter().take(2000) {
            c.exec_drop(
                "INSERT INTO bulk2 (a, s, d, t, n) VALUES (?, ?, ?, ?, ?)",
                row.clone(),
            )
            .await
            .unwrap();
        }
        let a: Vec<Row> = c
            .query("SELECT * FROM bulk1 ORDER BY id LIMIT 2000")
            .await
            .unwrap();
        let b: Vec<Row> = c.query("SELECT * FROM bulk2 ORDER BY id").await.unwrap();
        compare_rows(&a, &b);
        // A batch bigger than max_allowed_packet is chunked.
        let max: u64 = c.query_one("SELECT @@max_allowed_packet").await.unwrap();
        let big = "x".repeat(1 << 20);
        let n = (max as usize / big.len()) * 2 + 4;
        c.query_drop(
            "CREATE TEMPORARY TABLE bulk3 (id INT PRIMARY KEY, s LONGTEXT) CHARSET utf8mb4",
        )
        .await
        .unwrap();
        let r = c
            .exec_batch(
                "INSERT INTO bulk3 VALUES (?, ?)",
                (0..n as i64).map(|i| (i, big.clone())),
            )
            .await
            .unwrap();
        assert_eq!(r.affected_rows, n as u64);
        // A duplicate key in the middle: the error says how much was applied.
        let e = c
            .exec_batch(
                "INSERT INTO bulk3 VALUES (?, ?)",
                [(100_000i64, "a"), (100_001, "b"), (0, "dup")],
            )
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(1062), "{e}");
        assert!(e.to_string().contains("exec_batch"), "{e}");
        assert!(!e.is_fatal());
        let n: i64 = c.exec_one("SELECT ?", (5,)).await.unwrap();
        assert_eq!(n, 5);
    });
}

#[test]
fn blocking_statement_reprepared_when_its_columns_change() {
    let mut c = Conn::connect(opts()).unwrap();
    c.query_drop("CREATE TEMPORARY TABLE b (x INT)").unwrap();
    c.query_drop("INSERT INTO b VALUES (1)").unwrap();
    let st = c.prepare("SELECT * FROM b WHERE x = ?").unwrap();
    assert_eq!(st.columns().len(), 1);
    let r: Vec<Row> = c.exec(&st, (1,)).unwrap();
    assert_eq!(r[0].len(), 1);
    c.query_drop("ALTER TABLE b ADD COLUMN y INT DEFAULT 7")
        .unwrap();
    let r: Vec<(i64, i64)> = c.exec(&st, (1,)).unwrap();
    assert_eq!(r, vec![(1, 7)]);
    let n: i64 = c.exec_one("SELECT ?", (3,)).unwrap();
    assert_eq!(n, 3);
}

#[test]
fn blocking_bulk_and_client_side_params() {
    let mut c = Conn::connect(opts()).unwrap();
    c.query_drop("CREATE TEMPORARY TABLE bb (id INT PRIMARY KEY, s TEXT)")
        .unwrap();
    let r = c
        .exec_batch(
            "INSERT INTO bb VALUES (?, ?)",
            (0..5000).map(|i| (i, format!("v{i}"))),
        )
        .unwrap();
    assert_eq!(r.affected_rows, 5000);
    let o = opts().to_builder().client_side_params(true).build();
    let mut t = Conn::connect(o).unwrap();
    let v: (i64, String) = t.exec_one("SELECT ?, ?", (5, "a'b")).unwrap();
    assert_eq!(v, (5, "a'b".to_string()));
}

#[test]
fn transactions_take_statements_and_batches() {
    run(async {
        let mut c = AsyncConn::connect(opts()).await.unwrap();
        c.query_drop("CREATE TEMPORARY TABLE tx (id INT PRIMARY KEY, v TEXT)")
            .await
            .unwrap();
        let insert = match c.prepare("INSERT INTO tx VALUES (?, ?)").await {
            Ok(s) => s,
            Err(_) => return assert!(!async_statements()),
        };
        {
            let mut tx = c.begin().await.unwrap();
            tx.exec_drop(&insert, (1, "a")).await.unwrap();
            let r = tx
                .exec_batch(&insert, (2..=4).map(|i| (i, "b")))
                .await
                .unwrap();
            assert_eq!(r.affected_rows, 3);
            let again = tx
                .prepare("SELECT COUNT(*) FROM tx WHERE v = ?")
                .await
                .unwrap();
            let n: i64 = tx.exec_one(&again, ("b",)).await.unwrap();
            assert_eq!(n, 3);
        } // dropped: rolled back
        let n: i64 = c.query_one("SELECT COUNT(*) FROM tx").await.unwrap();
        assert_eq!(n, 0);
    });
}

fn prepares(c: &mut Conn) -> String {
    let (_, n): (String, String) = c
        .query_one("SHOW SESSION STATUS LIKE 'Com_stmt_prepare'")
        .unwrap();
    n
}

#[test]
fn a_statement_the_server_forgot_is_prepared_again() {
    let sql = "SELECT ? + 100";
    let mut c = Conn::connect(opts()).unwrap();
    assert_eq!(c.exec_one::<i64, _>(sql, (1,)).unwrap(), 101);
    assert!(c.forget_statement_on_server(sql));
    assert_eq!(c.exec_one::<i64, _>(sql, (2,)).unwrap(), 102);
    assert_eq!(prepares(&mut c), "2", "prepared again once");
    run(async {
        let mut a = AsyncConn::connect(opts()).await.unwrap();
        assert_eq!(a.exec_one::<i64, _>(sql, (1,)).await.unwrap(), 101);
        if !async_statements() {
            assert!(!a.forget_statement_on_server(sql), "nothing is prepared");
            return;
        }
        assert!(a.forget_statement_on_server(sql));
        assert_eq!(a.exec_one::<i64, _>(sql, (3,)).await.unwrap(), 103);
        let (_, n): (String, String) = a
            .query_one("SHOW SESSION STATUS LIKE 'Com_stmt_prepare'")
            .await
            .unwrap();
        assert_eq!(n, "2", "prepared again once");
    });
}
