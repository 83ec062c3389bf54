//! Parameters: `?` placeholders, typed arguments, escaping under both
//! backslash modes, injection attempts, and round-trip property tests.

mod support;

use std::cell::RefCell;

use mysqlclient_async::{
    AsyncConn, Conn, Date, DateTime, Decimal, ErrorKind, Row, Time, ToValue, Value,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn conn() -> Conn {
    Conn::connect(support::url().as_str()).expect("connect to the test server")
}

/// Switch the session to NO_BACKSLASH_ESCAPES (or back).
fn set_no_backslash_escapes(c: &mut Conn, on: bool) {
    let sql = if on {
        "SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES')"
    } else {
        "SET SESSION sql_mode = REPLACE(@@sql_mode, 'NO_BACKSLASH_ESCAPES', '')"
    };
    c.query_drop(sql).unwrap();
    let mode: String = c.query_one("SELECT @@sql_mode").unwrap();
    assert_eq!(mode.contains("NO_BACKSLASH_ESCAPES"), on, "{mode}");
}

fn text_table(c: &mut Conn) {
    c.query_drop(
        "CREATE TEMPORARY TABLE p (id INT AUTO_INCREMENT PRIMARY KEY, \
         s LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin, b LONGBLOB, \
         i BIGINT, u BIGINT UNSIGNED, d DOUBLE)",
    )
    .unwrap();
}

fn cases(n: u32) -> Config {
    Config {
        cases: n,
        failure_persistence: None,
        ..Config::default()
    }
}

#[test]
fn exec_family_on_the_blocking_conn() {
    let mut c = conn();
    text_table(&mut c);
    let r = c
        .exec_result(
            "INSERT INTO p (s, i) VALUES (?, ?), (?, ?)",
            ("a", 1, "b", 2),
        )
        .unwrap();
    assert_eq!(r.status.affected_rows, 2);
    assert_eq!(r.status.last_insert_id, 1);
    c.exec_drop(
        "INSERT INTO p (s, i) VALUES (?, ?)",
        ("c".to_string(), 3i64),
    )
    .unwrap();
    let rows: Vec<(String, i64)> = c
        .exec("SELECT s, i FROM p WHERE i >= ? ORDER BY i", (2,))
        .unwrap();
    assert_eq!(rows, vec![("b".into(), 2), ("c".into(), 3)]);
    let one: String = c.exec_one("SELECT s FROM p WHERE i = ?", (3,)).unwrap();
    assert_eq!(one, "c");
    let none: Option<String> = c.exec_opt("SELECT s FROM p WHERE i = ?", (99,)).unwrap();
    assert_eq!(none, None);
    let e = c
        .exec_one::<String, _>("SELECT s FROM p WHERE i = ?", (99,))
        .unwrap_err();
    assert!(e.to_string().contains("no rows"), "{e}");
    let set = c
        .exec_result("SELECT s, i FROM p WHERE s = ?", ("a",))
        .unwrap();
    assert_eq!(set.columns[0].name(), "s");
    assert_eq!(set.rows.len(), 1);

    // Every kind of argument list.
    let n: i64 = c.exec_one("SELECT 41 + 1", ()).unwrap();
    assert_eq!(n, 42);
    let v: (i64, i64, i64) = c.exec_one("SELECT ?, ?, ?", &[1, 2, 3][..]).unwrap();
    assert_eq!(v, (1, 2, 3));
    let v: (i64, i64) = c.exec_one("SELECT ?, ?", [4, 5]).unwrap();
    assert_eq!(v, (4, 5));
    let v: (i64, String) = c
        .exec_one("SELECT ?, ?", vec![Value::from(6), Value::from("six")])
        .unwrap();
    assert_eq!(v, (6, "six".into()));
    let args: Vec<Box<dyn ToValue>> = vec![Box::new(7u8), Box::new("seven")];
    let v: (i64, String) = c
        .exec_one(
            "SELECT ?, ?",
            args.iter().map(|a| a.to_value()).collect::<Vec<_>>(),
        )
        .unwrap();
    assert_eq!(v, (7, "seven".into()));
    let twelve: (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) = c
        .exec_one(
            "SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?",
            (
                1i8,
                2i16,
                3i32,
                4i64,
                5u8,
                6u16,
                7u32,
                8u64,
                9isize,
                10usize,
                true,
                Some(12),
            ),
        )
        .unwrap();
    assert_eq!(twelve, (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 12));
}

#[test]
fn typed_arguments_round_trip() {
    let mut c = conn();
    c.query_drop("SET SESSION sql_mode = 'STRICT_ALL_TABLES'")
        .unwrap();
    let d = Date::new(2024, 2, 29).unwrap();
    let t = Time::new(true, 838, 59, 59, 0).unwrap();
    let t6 = Time::new(false, 23, 59, 59, 999_999).unwrap();
    let dt = DateTime::new(Date::new(9999, 12, 31).unwrap(), 23, 59, 59, 999_999).unwrap();
    let dec: Decimal = "-12345678901234567890.123456789".parse().unwrap();
    let row: (
        Date,
        Time,
        Time,
        DateTime,
        Decimal,
        Option<i32>,
        Vec<u8>,
        Date,
    ) = c
        .exec_one(
            "SELECT CAST(? AS DATE), CAST(? AS TIME), CAST(? AS TIME(6)), \
             CAST(? AS DATETIME(6)), CAST(? AS DECIMAL(40,9)), ?, ?, CAST(? AS DATE)",
            (
                d,
                t,
                t6,
                dt,
                &dec,
                None::<i32>,
                &b"\x00\x01"[..],
                Date::ZERO,
            ),
        )
        .unwrap();
    assert_eq!(
        row,
        (d, t, t6, dt, dec.clone(), None, vec![0, 1], Date::ZERO)
    );
    // A decimal parameter is an exact DECIMAL literal; a float is a DOUBLE literal.
    let (a, b): (String, String) = c
        .exec_one(
            "SELECT ? + 0.2, ? + 0.2e0",
            ("0.1".parse::<Decimal>().unwrap(), 0.1),
        )
        .unwrap();
    assert_eq!(a, "0.3");
    assert_eq!(b, "0.30000000000000004");
    let ty: String = c
        .exec_one(
            "SELECT COLUMN_TYPE FROM information_schema.COLUMNS WHERE 0 UNION ALL SELECT ?",
            ("x",),
        )
        .unwrap();
    assert_eq!(ty, "x");
    // u128/i128 beyond 64 bits are exact DECIMALs.
    let big: Decimal = c.exec_one("SELECT ?", (u128::MAX,)).unwrap();
    assert_eq!(big.as_str(), u128::MAX.to_string());
    // A 0.1f32 arrives as exactly the f32's value.
    let f: f64 = c.exec_one("SELECT ?", (0.1f32,)).unwrap();
    assert_eq!(f, 0.1f32 as f64);
    let v: Value = c.exec_one("SELECT ?", (Value::Null,)).unwrap();
    assert_eq!(v, Value::Null);
}

#[test]
fn wrong_argument_count_is_an_error_before_sending() {
    let mut c = conn();
    text_table(&mut c);
    for (sql, n) in [
        ("INSERT INTO p (i) VALUES (?)", 0usize),
        ("INSERT INTO p (i) VALUES (?)", 2),
        ("INSERT INTO p (i) VALUES (1)", 1),
        ("INSERT INTO p (i, u) VALUES (?, ?)", 1),
    ] {
        let args: Vec<i64> = vec![5; n];
        let e = c.exec_drop(sql, args).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Params, "{e}");
        assert!(!e.is_fatal());
        assert!(e.to_string().contains("placeholder"), "{e}");
    }
    let e = c
        .exec_drop("INSERT INTO p (d) VALUES (?)", (f64::NAN,))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Params);
    assert!(e.to_string().contains("NaN"), "{e}");
    let e = c
        .exec_drop("INSERT INTO p (d) VALUES (?)", (f64::NEG_INFINITY,))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Params);
    // Nothing was sent, and the connection is fine.
    let n: i64 = c.query_one("SELECT COUNT(*) FROM p").unwrap();
    assert_eq!(n, 0);
    assert!(!c.is_broken());
}

#[test]
fn question_marks_in_literals_identifiers_and_comments() {
    let mut c = conn();
    let (a, b, q): (String, i64, String) = c
        .exec_one("SELECT '?' AS `col?`, ? /* ? */, \"?\" -- ?\n", (5,))
        .unwrap();
    assert_eq!((a.as_str(), b, q.as_str()), ("?", 5, "?"));
    let row: Row = c
        .exec_one("SELECT ? AS `a?``?` # trailing ?\n", ("x",))
        .unwrap();
    assert_eq!(row.columns()[0].name(), "a?`?");
    assert_eq!(row.get::<String>(0), "x");
    let v: (String, i64) = c.exec_one(r"SELECT 'it''s \'?\'', ?", (1,)).unwrap();
    assert_eq!(v, ("it's '?'".into(), 1));
    // `--` without a space is an operator, not a comment.
    let v: i64 = c.exec_one("SELECT 1--?", (1,)).unwrap();
    assert_eq!(v, 2);
    // Under NO_BACKSLASH_ESCAPES, 'a\' is a complete string.
    set_no_backslash_escapes(&mut c, true);
    let v: (String, String) = c.exec_one(r"SELECT 'a\', ?", ("b",)).unwrap();
    assert_eq!(v, (r"a\".into(), "b".into()));
    set_no_backslash_escapes(&mut c, false);
    let v: (String, String) = c.exec_one(r"SELECT 'a\'?', ?", ("b",)).unwrap();
    assert_eq!(v, ("a'?".into(), "b".into()));
}

const NASTY: &[&str] = &[
    "' OR 1=1 -- ",
    "' OR '1'='1",
    "\\",
    "\\'",
    "\\\\'",
    "'",
    "''",
    "\"",
    "`",
    "\0",
    "a\0b'\0",
    "?",
    "'?'",
    "\x1a",
    "\n\r\t",
    "'); DROP TABLE p; -- ",
    "\\'); DROP TABLE p; -- ",
    "/*",
    "*/",
    "#",
    "-- ",
    "%_",
    "😀' OR 1=1 -- ",
    "\u{bf}\\'",
    "\u{bf}' OR 1=1 -- ",
    "",
];

#[test]
fn injection_attempts_are_stored_literally() {
    let mut c = conn();
    text_table(&mut c);
    for nbe in [false, true] {
        set_no_backslash_escapes(&mut c, nbe);
        c.query_drop("DELETE FROM p").unwrap();
        for s in NASTY {
            // The same text as a string and as bytes, plus a lone `?` value next to it.
            c.exec_drop(
                "INSERT INTO p (s, b, i) VALUES (?, ?, ?)",
                (*s, s.as_bytes(), 1),
            )
            .unwrap_or_else(|e| panic!("insert {s:?} (nbe={nbe}): {e}"));
            let (back, bytes, n): (String, Vec<u8>, i64) = c
                .exec_one(
                    "SELECT s, b, COUNT(*) FROM p WHERE s = ? AND b = ? GROUP BY s, b",
                    (*s, s.as_bytes()),
                )
                .unwrap_or_else(|e| panic!("select {s:?} (nbe={nbe}): {e}"));
            assert_eq!((back.as_str(), bytes.as_slice(), n), (*s, s.as_bytes(), 1));
            let direct: String = c.exec_one("SELECT ?", (*s,)).unwrap();
            assert_eq!(direct, *s);
        }
        let n: i64 = c.query_one("SELECT COUNT(*) FROM p").unwrap();
        assert_eq!(n, NASTY.len() as i64, "nothing more, nothing less");
    }
}

/// Insert `s`, read it back by id, and check that it is unchanged.
fn round_trip_text(c: &mut Conn, s: &str) -> Result<(), TestCaseError> {
    let r = c
        .exec_result("INSERT INTO p (s) VALUES (?)", (s,))
        .map_err(|e| TestCaseError::fail(format!("insert {s:?}: {e}")))?;
    let back: String = c
        .exec_one("SELECT s FROM p WHERE id = ?", (r.status.last_insert_id,))
        .map_err(|e| TestCaseError::fail(format!("select {s:?}: {e}")))?;
    prop_assert_eq!(back.as_str(), s);
    let direct: String = c.exec_one("SELECT ?", (s,)).unwrap();
    prop_assert_eq!(direct.as_str(), s);
    Ok(())
}

fn round_trip_bytes(c: &mut Conn, b: &[u8]) -> Result<(), TestCaseError> {
    let r = c
        .exec_result("INSERT INTO p (b) VALUES (?)", (b,))
        .map_err(|e| TestCaseError::fail(format!("insert {b:?}: {e}")))?;
    let back: Vec<u8> = c
        .exec_one("SELECT b FROM p WHERE id = ?", (r.status.last_insert_id,))
        .unwrap();
    prop_assert_eq!(back.as_slice(), b);
    Ok(())
}

/// Strings that stress the escaping: mostly quotes, backslashes, NULs and `?`.
fn nasty_string() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::sample::select(vec!['\'', '\\', '"', '\0', '?', '`', '\x1a', '\n', '-', '#', '/', '*', '%', '_']),
            1 => any::<char>(),
        ],
        0..40,
    )
    .prop_map(|v| v.into_iter().collect())
}

#[test]
fn prop_strings_and_bytes_round_trip_in_both_modes() {
    let c = RefCell::new(conn());
    text_table(&mut c.borrow_mut());
    for nbe in [false, true] {
        set_no_backslash_escapes(&mut c.borrow_mut(), nbe);
        let mut runner = TestRunner::new(cases(128));
        runner
            .run(&any::<String>(), |s| {
                round_trip_text(&mut c.borrow_mut(), &s)
            })
            .unwrap();
        let mut runner = TestRunner::new(cases(128));
        runner
            .run(&nasty_string(), |s| {
                round_trip_text(&mut c.borrow_mut(), &s)
            })
            .unwrap();
        let mut runner = TestRunner::new(cases(128));
        runner
            .run(&prop::collection::vec(any::<u8>(), 0..300), |b| {
                round_trip_bytes(&mut c.borrow_mut(), &b)
            })
            .unwrap();
    }
}

#[test]
fn prop_numbers_round_trip() {
    let c = RefCell::new(conn());
    text_table(&mut c.borrow_mut());
    let mut runner = TestRunner::new(cases(256));
    runner
        .run(&any::<i64>(), |n| {
            let c = &mut *c.borrow_mut();
            let r = c.exec_result("INSERT INTO p (i) VALUES (?)", (n,)).unwrap();
            let back: i64 = c
                .exec_one("SELECT i FROM p WHERE id = ?", (r.status.last_insert_id,))
                .unwrap();
            prop_assert_eq!(back, n);
            let direct: i64 = c.exec_one("SELECT ?", (n,)).unwrap();
            prop_assert_eq!(direct, n);
            Ok(())
        })
        .unwrap();
    let mut runner = TestRunner::new(cases(256));
    runner
        .run(&any::<u64>(), |n| {
            let c = &mut *c.borrow_mut();
            let r = c.exec_result("INSERT INTO p (u) VALUES (?)", (n,)).unwrap();
            let back: u64 = c
                .exec_one("SELECT u FROM p WHERE id = ?", (r.status.last_insert_id,))
                .unwrap();
            prop_assert_eq!(back, n);
            Ok(())
        })
        .unwrap();
    use proptest::num::f64 as f;
    let finite = f::POSITIVE | f::NEGATIVE | f::NORMAL | f::SUBNORMAL | f::ZERO;
    let mut runner = TestRunner::new(cases(256));
    runner
        .run(&finite, |x| {
            let c = &mut *c.borrow_mut();
            let r = c.exec_result("INSERT INTO p (d) VALUES (?)", (x,)).unwrap();
            let back: f64 = c
                .exec_one("SELECT d FROM p WHERE id = ?", (r.status.last_insert_id,))
                .unwrap();
            prop_assert_eq!(back.to_bits() & !(1 << 63), x.to_bits() & !(1 << 63));
            prop_assert_eq!(back, x);
            let direct: f64 = c.exec_one("SELECT ?", (x,)).unwrap();
            prop_assert_eq!(direct, x);
            Ok(())
        })
        .unwrap();
    // The edges, explicitly.
    let c = &mut *c.borrow_mut();
    for x in [
        f64::MAX,
        f64::MIN,
        f64::MIN_POSITIVE,
        5e-324,
        -0.0,
        0.1,
        1e22,
        1e-7,
    ] {
        let back: f64 = c.exec_one("SELECT ?", (x,)).unwrap();
        assert_eq!(back, x);
    }
    for n in [i64::MIN, i64::MAX, 0, -1] {
        let back: i64 = c.exec_one("SELECT ?", (n,)).unwrap();
        assert_eq!(back, n);
    }
    let back: u64 = c.exec_one("SELECT ?", (u64::MAX,)).unwrap();
    assert_eq!(back, u64::MAX);
}

#[test]
fn exec_family_on_the_async_conn() {
    support::block_on(async {
        let mut c = AsyncConn::connect(support::url().as_str()).await.unwrap();
        c.query_drop(
            "CREATE TEMPORARY TABLE p (id INT AUTO_INCREMENT PRIMARY KEY, s TEXT, b BLOB)",
        )
        .await
        .unwrap();
        let r = c
            .exec_result(
                "INSERT INTO p (s, b) VALUES (?, ?), (?, ?)",
                ("' OR 1=1 -- ", &b"\0'"[..], "?", &b""[..]),
            )
            .await
            .unwrap();
        assert_eq!(r.status.affected_rows, 2);
        c.exec_drop("INSERT INTO p (s) VALUES (?)", ("\\",))
            .await
            .unwrap();
        let all: Vec<(String, Option<Vec<u8>>)> = c
            .exec("SELECT s, b FROM p WHERE id > ? ORDER BY id", (0,))
            .await
            .unwrap();
        assert_eq!(
            all,
            vec![
                ("' OR 1=1 -- ".into(), Some(b"\0'".to_vec())),
                ("?".into(), Some(vec![])),
                ("\\".into(), None)
            ]
        );
        let one: String = c
            .exec_one("SELECT s FROM p WHERE id = ?", (2,))
            .await
            .unwrap();
        assert_eq!(one, "?");
        let none: Option<String> = c
            .exec_opt("SELECT s FROM p WHERE id = ?", (9,))
            .await
            .unwrap();
        assert_eq!(none, None);
        let e = c.exec_drop("SELECT ?", ()).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Params);
        assert!(!c.is_broken());

        // Streaming, with zero-copy reads from the library's buffer.
        let mut s = c
            .exec_stream::<Row, _>("SELECT s FROM p WHERE s <> ? ORDER BY id", ("?",))
            .await
            .unwrap();
        let mut got = Vec::new();
        while let Some(row) = s.try_next().await.transpose() {
            let row = row.unwrap();
            let text: &str = row.get("s");
            got.push(text.to_owned());
        }
        assert_eq!(got, vec!["' OR 1=1 -- ".to_string(), "\\".to_string()]);

        // The lexer follows the session's backslash mode here too.
        c.query_drop("SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES')")
            .await
            .unwrap();
        let v: (String, String) = c.exec_one(r"SELECT 'a\', ?", ("\\'",)).await.unwrap();
        assert_eq!(v, (r"a\".into(), r"\'".into()));
        c.close().await.unwrap();
    });
}
