//! Injection resistance of client-side `?` placeholders.
//!
//! The promise: no parameter value, in any sql_mode, any connection character set
//! the crate accepts and any placeholder position, can change the structure of a
//! statement. The server sees exactly the intended literal, or the call is refused
//! before anything is sent with [`ErrorKind::Params`] (the connection stays usable).
//!
//! - Named regressions for the four known holes: executable comments
//!   (`/*!…*/`, `/*M!…*/`), a sql_mode change earlier in the same text, multi-byte
//!   character sets whose second byte can be a backslash (gbk, big5, …), and a
//!   backslash in a double-quoted name under `ANSI_QUOTES`.
//! - `escape` on a character set it cannot escape for returns an error, not a panic.
//! - A property test (fixed seed, bounded) over random statement templates × session
//!   modes × every accepted connection charset × hostile values, on both `Conn` and
//!   `AsyncConn`: every call either returns exactly the intended row or is refused
//!   with `Params`, nothing else in the session changes, and templates with no
//!   reason to be refused must run (so refusals cannot hide everything).

mod support;

use std::cell::{Cell, RefCell};
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::OnceLock;

use mysqlclient_async::{AsyncConn, Conn, ErrorKind, Result, Row, Value};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

// ---------------------------------------------------------------------------------
// Connections and small helpers
// ---------------------------------------------------------------------------------

/// Character sets in which the second byte of a multi-byte character can be an ASCII
/// byte such as `\` (the statement text must stay ASCII on these).
const ASCII_UNSAFE: [&str; 5] = ["big5", "cp932", "gbk", "sjis", "gb18030"];

/// What a hostile value tries to smuggle in as a column.
const LEAK: &str = "leaked";

/// Connection URL for `charset` (the crate's default if `None`), with library
/// timeouts so that no blocking call can hang.
fn url(charset: Option<&str>) -> String {
    let base = support::url();
    let sep = if base.contains('?') { '&' } else { '?' };
    let mut u = format!("{base}{sep}connect_timeout=10&read_timeout=30&write_timeout=30");
    if let Some(cs) = charset {
        write!(u, "&charset={cs}").unwrap();
    }
    u
}

fn conn(charset: Option<&str>) -> Conn {
    Conn::connect(url(charset).as_str())
        .unwrap_or_else(|e| panic!("connect with charset {charset:?}: {e}"))
}

async fn async_conn(charset: Option<&str>) -> AsyncConn {
    AsyncConn::connect(url(charset).as_str())
        .await
        .unwrap_or_else(|e| panic!("async connect with charset {charset:?}: {e}"))
}

/// Uppercase hex, as the server's `HEX()` writes it.
fn hex(b: &[u8]) -> String {
    b.iter().fold(String::new(), |mut s, c| {
        write!(s, "{c:02X}").unwrap();
        s
    })
}

/// The bytes a parameter stands for (UTF-8 for text).
fn value_bytes(v: &Value) -> &[u8] {
    match v {
        Value::Text(s) => s.as_bytes(),
        Value::Bytes(b) => b,
        other => panic!("the generator only makes text and bytes, not {other:?}"),
    }
}

/// Column names of a row.
fn names(row: &Row) -> Vec<String> {
    row.columns().iter().map(|c| c.name().to_owned()).collect()
}

/// Checks the outcome of a call that must be refused (`what` describes it): first
/// that it did not leak a column named [`LEAK`] (the attack), then that it was
/// refused with a non-fatal `Params` error (the contract).
fn assert_refused(what: &str, outcome: Result<Vec<String>>) {
    match outcome {
        Ok(cols) => {
            assert!(
                !cols.iter().any(|c| c == LEAK),
                "{what}: INJECTION: the value became SQL and leaked a column: {cols:?}"
            );
            panic!("{what}: ran (columns {cols:?}) instead of being refused with Params");
        }
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::Params, "{what}: {e}");
            assert!(!e.is_fatal(), "{what}: a refusal must not be fatal: {e}");
        }
    }
}

/// Statements the server has received on this session, counting this one.
fn questions(c: &mut Conn) -> u64 {
    let (_, n): (String, String) = c.query_one("SHOW SESSION STATUS LIKE 'Questions'").unwrap();
    n.parse().unwrap()
}

/// Reads `@pwned IS NULL` and the session's sql_mode (as bytes: on a `binary`
/// connection every string is).
const SESSION_STATE: &str = "SELECT @pwned IS NULL, @@SESSION.sql_mode";

fn state_of((unset, mode): (i64, Vec<u8>)) -> (bool, String) {
    (unset == 1, String::from_utf8_lossy(&mode).into_owned())
}

fn session_state(c: &mut Conn) -> (bool, String) {
    state_of(c.query_one(SESSION_STATE).unwrap())
}

async fn async_session_state(c: &mut AsyncConn) -> (bool, String) {
    state_of(c.query_one(SESSION_STATE).await.unwrap())
}

// ---------------------------------------------------------------------------------
// Regression 1: executable comments
// ---------------------------------------------------------------------------------

/// A `?` inside an executable comment, with a value that closes the comment early.
/// For a version above the server's, the server skips the comment's text up to the
/// first `*/`, which the crate used to put inside the value's quotes.
const VERSIONED: [&str; 3] = [
    "SELECT 'a' AS x /*!99999 , ? */",
    "SELECT 'a' AS x /*!50708 , ? */",
    "SELECT 'a' AS x /*M!999999 , ? */",
];
const CLOSE_COMMENT: &str = "*/, @@version AS leaked -- ";

#[test]
fn executable_comments_cannot_smuggle_a_column() {
    let mut c = conn(None);
    for sql in VERSIONED {
        let q0 = questions(&mut c);
        let r = c.exec_result(sql, (CLOSE_COMMENT,));
        let cols = r.map(|set| set.columns.iter().map(|c| c.name().to_owned()).collect());
        assert_refused(&format!("Conn::exec_result({sql:?})"), cols);
        assert_eq!(questions(&mut c), q0 + 1, "{sql}: a refusal sends nothing");
        let r = c.exec::<Row, _>(sql, vec![Value::Text(CLOSE_COMMENT.into())]);
        assert_refused(
            &format!("Conn::exec({sql:?})"),
            r.map(|rows| rows.first().map(names).unwrap_or_default()),
        );
        let n: i64 = c.query_one("SELECT 1").unwrap();
        assert_eq!(n, 1, "the connection is still usable");
    }
}

#[test]
fn executable_comments_cannot_smuggle_a_column_async() {
    support::block_on(async {
        let mut c = async_conn(None).await;
        for sql in VERSIONED {
            let r = c.exec_result(sql, (CLOSE_COMMENT,)).await;
            let cols = r.map(|set| set.columns.iter().map(|c| c.name().to_owned()).collect());
            assert_refused(&format!("AsyncConn::exec_result({sql:?})"), cols);
            let r = c.exec_opt::<Row, _>(sql, (CLOSE_COMMENT,)).await;
            assert_refused(
                &format!("AsyncConn::exec_opt({sql:?})"),
                r.map(|row| row.as_ref().map(names).unwrap_or_default()),
            );
            assert!(!c.is_broken());
        }
        c.close().await.unwrap();
    });
}

// ---------------------------------------------------------------------------------
// Regression 2: a sql_mode change earlier in the same text
// ---------------------------------------------------------------------------------

/// (mode before, statement, value): the value is escaped for the mode before, but
/// the server reads it under the mode the first statement switched to.
const MODE_SWITCHES: [(&str, &str, &str); 3] = [
    (
        "DEFAULT",
        "SET SESSION sql_mode='NO_BACKSLASH_ESCAPES'; SET @v = ?",
        "'; SET @pwned = 42; -- ",
    ),
    (
        "'NO_BACKSLASH_ESCAPES'",
        "SET SESSION sql_mode=DEFAULT; SET @v = ?",
        "\\'; SET @pwned = 42; -- ",
    ),
    (
        "DEFAULT",
        "SET SESSION sql_mode='NO_BACKSLASH_ESCAPES'; SELECT ? AS v",
        "'; SET @pwned = 42; -- ",
    ),
];

#[test]
fn mode_change_in_the_same_text_cannot_unquote_a_value() {
    for (before, sql, value) in MODE_SWITCHES {
        let what = format!("Conn::exec_drop({sql:?}) under sql_mode={before}");
        let mut c = conn(None);
        c.query_drop(&format!("SET SESSION sql_mode = {before}"))
            .unwrap();
        let (_, mode_before) = session_state(&mut c);
        let q0 = questions(&mut c);
        let r = c.exec_drop(sql, (value,));
        let sent = questions(&mut c) - q0 - 1;
        let (unset, mode_after) = session_state(&mut c);
        assert!(unset, "{what}: INJECTION: @pwned was set");
        let (fresh_unset, _) = session_state(&mut conn(None));
        assert!(fresh_unset, "{what}: @pwned is set on a new connection");
        assert_refused(&what, r.map(|_| Vec::new()));
        assert_eq!(sent, 0, "{what}: a refusal sends nothing");
        assert_eq!(mode_after, mode_before, "{what}: sql_mode changed");
    }
}

#[test]
fn mode_change_in_the_same_text_cannot_unquote_a_value_async() {
    support::block_on(async {
        let mut c = async_conn(None).await;
        for (before, sql, value) in MODE_SWITCHES {
            let what = format!("AsyncConn::exec_drop({sql:?}) under sql_mode={before}");
            c.query_drop(&format!("SET SESSION sql_mode = {before}, @pwned = NULL"))
                .await
                .unwrap();
            let (_, mode_before) = async_session_state(&mut c).await;
            let r = c.exec_drop(sql, (value,)).await;
            let (unset, mode_after) = async_session_state(&mut c).await;
            assert!(unset, "{what}: INJECTION: @pwned was set");
            assert_refused(&what, r.map(|_| Vec::new()));
            assert_eq!(mode_after, mode_before, "{what}: sql_mode changed");
        }
        let mut fresh = async_conn(None).await;
        assert!(async_session_state(&mut fresh).await.0);
        fresh.close().await.unwrap();
        c.close().await.unwrap();
    });
}

// ---------------------------------------------------------------------------------
// Regression 3: multi-byte character sets
// ---------------------------------------------------------------------------------

/// `SELECT '中\\' AS a, ? AS b`: in gbk, the last byte of 中's UTF-8 encoding (0xAD)
/// and the first backslash form one character, so the second backslash escapes the
/// closing quote and the value's opening quote closes the string instead.
const MB_TEMPLATE: &str = "SELECT '中\\\\' AS a, ? AS b";
const MB_VALUE: &str = ", @@version AS leaked -- ";

/// Text values whose bytes must arrive unchanged on every charset.
const ROUND_TRIP: [&str; 9] = [
    "中", "é", "中\\", "中'", "\u{bf}'", "\u{bf}\\", "😀", "", "'\\\"`",
];

#[test]
fn multibyte_charset_cannot_swallow_a_backslash() {
    let unsafe_charsets = ASCII_UNSAFE
        .iter()
        .filter(|cs| env().charsets.iter().any(|c| c == *cs));
    for &cs in unsafe_charsets {
        let mut c = conn(Some(cs));
        let r = c.exec_result(MB_TEMPLATE, (MB_VALUE,));
        let cols = r.map(|set| set.columns.iter().map(|c| c.name().to_owned()).collect());
        assert_refused(&format!("charset {cs}: exec_result({MB_TEMPLATE:?})"), cols);
        // An ASCII statement is fine, and every value arrives as its UTF-8 bytes.
        for s in ROUND_TRIP {
            let got: String = c
                .exec_one("SELECT HEX(?)", (s,))
                .unwrap_or_else(|e| panic!("charset {cs}: SELECT HEX({s:?}): {e}"));
            assert_eq!(got, hex(s.as_bytes()), "charset {cs}: value {s:?}");
        }
        let bytes: &[u8] = b"\xbf\\'\xad\\\x00";
        let got: String = c.exec_one("SELECT HEX(?)", (bytes,)).unwrap();
        assert_eq!(got, hex(bytes), "charset {cs}: bytes");
    }
    let mut c = conn(Some("gbk"));
    let got: String = c.exec_one("SELECT HEX(?)", ("中",)).unwrap();
    assert_eq!(got, "E4B8AD");
    let got: String = c.exec_one("SELECT HEX(?)", ("é",)).unwrap();
    assert_eq!(got, "C3A9");
}

#[test]
fn multibyte_charset_cannot_swallow_a_backslash_async() {
    support::block_on(async {
        let mut c = async_conn(Some("gbk")).await;
        let r = c.exec_result(MB_TEMPLATE, (MB_VALUE,)).await;
        let cols = r.map(|set| set.columns.iter().map(|c| c.name().to_owned()).collect());
        assert_refused(
            &format!("gbk: AsyncConn::exec_result({MB_TEMPLATE:?})"),
            cols,
        );
        for (s, want) in [("中", "E4B8AD"), ("é", "C3A9")] {
            let got: String = c.exec_one("SELECT HEX(?)", (s,)).await.unwrap();
            assert_eq!(got, want, "gbk: value {s:?}");
        }
        c.close().await.unwrap();
    });
}

// ---------------------------------------------------------------------------------
// Regression 4: ANSI_QUOTES
// ---------------------------------------------------------------------------------

/// Under ANSI_QUOTES, `"a\"` is a whole identifier: the `?` after it is a
/// placeholder.
const ANSI_TEMPLATE: &str = r#"SELECT 1 AS "a\", ? AS "b""#;
/// Under ANSI_QUOTES this has no placeholder (`"?"` is a name), but a lexer that
/// lets the backslash escape the quote sees one.
const ANSI_TRAP: &str = r#"SELECT 1 AS "a\", 2 AS "?""#;
const ANSI_VALUE: &str = "\" , @@version AS leaked -- ";

/// The outcome of [`ANSI_TEMPLATE`] with the value `x`: refused, or exactly the
/// intended columns.
fn check_ansi_template(what: &str, outcome: Result<Vec<Row>>, must_run: bool) {
    match outcome {
        Err(e) if e.kind() == ErrorKind::Params && !must_run => assert!(!e.is_fatal(), "{e}"),
        Err(e) => panic!("{what}: {e}"),
        Ok(rows) => {
            assert_eq!(rows.len(), 1, "{what}");
            assert_eq!(names(&rows[0]), ["a\\", "b"], "{what}: wrong columns");
            assert_eq!(rows[0].raw(0), Some(&b"1"[..]), "{what}");
            assert_eq!(rows[0].raw(1), Some(&b"x"[..]), "{what}");
        }
    }
}

#[test]
fn ansi_quotes_backslash_in_a_double_quoted_name() {
    let mut c = conn(None);
    c.query_drop("SET SESSION sql_mode = 'ANSI_QUOTES'")
        .unwrap();
    let r = c.exec::<Row, _>(ANSI_TEMPLATE, ("x",));
    check_ansi_template("ANSI_QUOTES: exec", r, false);
    let r = c.exec_result(ANSI_TRAP, (ANSI_VALUE,));
    let cols = r.map(|set| set.columns.iter().map(|c| c.name().to_owned()).collect());
    assert_refused(&format!("ANSI_QUOTES: exec_result({ANSI_TRAP:?})"), cols);
    // With NO_BACKSLASH_ESCAPES too, both readings agree: nothing to refuse.
    c.query_drop("SET SESSION sql_mode = 'ANSI_QUOTES,NO_BACKSLASH_ESCAPES'")
        .unwrap();
    let r = c.exec_one::<Row, _>(ANSI_TEMPLATE, ("x",)).map(|r| vec![r]);
    check_ansi_template("ANSI_QUOTES,NO_BACKSLASH_ESCAPES: exec_one", r, true);
}

#[test]
fn ansi_quotes_backslash_in_a_double_quoted_name_async() {
    support::block_on(async {
        let mut c = async_conn(None).await;
        c.query_drop("SET SESSION sql_mode = 'ANSI_QUOTES'")
            .await
            .unwrap();
        let r = c.exec_result(ANSI_TEMPLATE, ("x",)).await.map(|s| s.rows);
        check_ansi_template("async ANSI_QUOTES: exec_result", r, false);
        let r = c.exec::<Row, _>(ANSI_TRAP, (ANSI_VALUE,)).await;
        assert_refused(
            &format!("async ANSI_QUOTES: exec({ANSI_TRAP:?})"),
            r.map(|rows| rows.first().map(names).unwrap_or_default()),
        );
        c.query_drop("SET SESSION sql_mode = 'ANSI_QUOTES,NO_BACKSLASH_ESCAPES'")
            .await
            .unwrap();
        let r = c.exec::<Row, _>(ANSI_TEMPLATE, ("x",)).await;
        check_ansi_template("async ANSI_QUOTES,NO_BACKSLASH_ESCAPES: exec", r, true);
        c.close().await.unwrap();
    });
}

// ---------------------------------------------------------------------------------
// `escape` (NEW SIGNATURE: `escape(&self, &str) -> Result<String>`; this test does
// not compile against the older `-> String`)
// ---------------------------------------------------------------------------------

#[test]
fn escape_refuses_what_it_cannot_escape() {
    let mut c = conn(Some("gbk"));
    for s in ["中", "é", "中'", "\u{bf}\\"] {
        let e = c.escape(s).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Params, "gbk escape({s:?}): {e}");
    }
    let s = "a'b\\c\"";
    let escaped = c.escape(s).unwrap();
    let back: String = c.query_one(&format!("SELECT '{escaped}'")).unwrap();
    assert_eq!(back, s, "gbk: escaped ASCII reads back");
    let mut c = conn(None);
    let s = "中'\\😀";
    let escaped = c.escape(s).unwrap();
    let back: String = c.query_one(&format!("SELECT '{escaped}'")).unwrap();
    assert_eq!(back, s, "utf8mb4: escaped text reads back");
    support::block_on(async {
        let c = async_conn(Some("gbk")).await;
        let e = c.escape("中").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Params, "async gbk escape: {e}");
        assert!(c.escape("a'b").is_ok());
        c.close().await.unwrap();
    });
}

// ---------------------------------------------------------------------------------
// The property test: the environment
// ---------------------------------------------------------------------------------

/// A session sql_mode of the property test.
struct Mode {
    /// The right-hand side of `SET SESSION sql_mode = …`.
    set: &'static str,
    ansi_quotes: bool,
    no_backslash_escapes: bool,
}

const MODES: [Mode; 4] = [
    Mode {
        set: "DEFAULT",
        ansi_quotes: false,
        no_backslash_escapes: false,
    },
    Mode {
        set: "'NO_BACKSLASH_ESCAPES'",
        ansi_quotes: false,
        no_backslash_escapes: true,
    },
    Mode {
        set: "'ANSI_QUOTES'",
        ansi_quotes: true,
        no_backslash_escapes: false,
    },
    Mode {
        set: "'ANSI_QUOTES,NO_BACKSLASH_ESCAPES'",
        ansi_quotes: true,
        no_backslash_escapes: true,
    },
];

/// What the property tests run against, found once per test binary.
struct Env {
    /// Every charset of `SHOW CHARACTER SET` that a connection accepts.
    charsets: Vec<String>,
    /// `@@SESSION.sql_mode` after setting each of [`MODES`].
    mode_text: Vec<String>,
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut c = conn(None);
        let all: Vec<(String, String, String, i64)> = c.query("SHOW CHARACTER SET").unwrap();
        let mut charsets = Vec::new();
        let mut refused = Vec::new();
        for (name, ..) in all {
            match Conn::connect(url(Some(&name)).as_str()) {
                Ok(_) => charsets.push(name),
                Err(e) => refused.push(format!("{name} ({e})")),
            }
        }
        charsets.sort();
        println!("charsets used ({}): {}", charsets.len(), charsets.join(" "));
        println!("charsets a connection refused: {}", refused.join("; "));
        for must in ["utf8mb4", "latin1", "gbk", "big5", "sjis", "cp932"] {
            assert!(
                charsets.iter().any(|c| c == must),
                "{must} missing from {charsets:?}"
            );
        }
        let mode_text = MODES
            .iter()
            .map(|m| {
                c.query_drop(&format!("SET SESSION sql_mode = {}", m.set))
                    .unwrap();
                c.query_one::<String>("SELECT @@SESSION.sql_mode").unwrap()
            })
            .collect();
        Env {
            charsets,
            mode_text,
        }
    })
}

// ---------------------------------------------------------------------------------
// The property test: cases
// ---------------------------------------------------------------------------------

/// A comment between tokens of a template.
#[derive(Clone, Debug)]
enum Comment {
    /// `-- …\n`
    Dash(String),
    /// `#…\n`
    Hash(String),
    /// `/* … */`
    Block(String),
    /// `/*! … */`, `/*!NNNNN … */`, `/*M! … */`, `/*M!NNNNNN … */`
    Executable {
        mariadb: bool,
        version: Option<u32>,
        body: String,
    },
}

/// A column expression.
#[derive(Clone, Debug)]
enum Expr {
    /// `HEX(?)`, with comments inside the parentheses before the `?`.
    Param(Vec<Comment>, Value),
    /// A string literal: `"…"` if `double` (and the mode allows it), else `'…'`;
    /// `backslash_quote` writes an inner quote as `\'` where backslashes escape.
    Literal {
        text: String,
        double: bool,
        backslash_quote: bool,
    },
}

/// How a column alias is quoted.
#[derive(Clone, Copy, Debug)]
enum Quote {
    Backtick,
    Single,
    Double,
}

#[derive(Clone, Debug)]
struct Column {
    before: Vec<Comment>,
    expr: Expr,
    after: Vec<Comment>,
    alias: String,
    quote: Quote,
}

/// What follows the SELECT.
#[derive(Clone, Debug)]
enum Tail {
    None,
    /// `;` and comments only: still one statement.
    Semicolon(Vec<Comment>),
    /// `; SELECT 1`
    Select1,
    /// `; SET SESSION sql_mode = …`
    SetMode(usize),
    /// `; SET SESSION sql_mode = …; SET @v = ?`
    SetModeThenParam(usize, Value),
}

/// The `exec*` method a case goes through.
#[derive(Clone, Copy, Debug)]
enum Method {
    Exec,
    ExecOne,
    ExecOpt,
    ExecResult,
}

#[derive(Clone, Debug)]
struct Case {
    charset: usize,
    mode: usize,
    head: Vec<Comment>,
    columns: Vec<Column>,
    /// ` FROM DUAL WHERE HEX(?) = '<hex of the value>'`
    filter: Option<(Vec<Comment>, Value)>,
    tail: Tail,
    /// Parameters given minus placeholders (0 almost always).
    count_skew: i8,
    method: Method,
}

/// Values meant to break out of a literal, a comment or a statement.
const ATTACKS: [&str; 14] = [
    "'; SET @pwned = 42; -- ",
    "\\'; SET @pwned = 42; -- ",
    "*/; SET @pwned = 42; -- ",
    "*/, @@version AS leaked -- ",
    "', @@version AS leaked -- ",
    "\\', @@version AS leaked -- ",
    "\", @@version AS leaked -- ",
    "\\\", @@version AS leaked -- ",
    "`, @@version AS leaked -- ",
    "中', @@version AS leaked -- ",
    "中\\', @@version AS leaked -- ",
    "\u{bf}\\', @@version AS leaked -- ",
    "\u{bf}', @@version AS leaked #",
    "\n, @@version AS leaked /*",
];

/// Pieces of hostile text values.
const HOSTILE: [&str; 26] = [
    "'", "\"", "\\", "`", "\0", "\n", "\r", "?", ";", "#", "*/", "/*", "/*!", "/*M!", "-- ", "--",
    "\x1a", "中\\", "中'", "\u{bf}\\", "\u{bf}'", "😀", "é", "a", " ", "%_",
];

fn hostile_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        6 => prop::sample::select(&HOSTILE[..]).prop_map(str::to_owned),
        2 => any::<char>().prop_map(String::from),
        1 => prop::sample::select(&ATTACKS[..]).prop_map(str::to_owned),
    ];
    prop::collection::vec(piece, 0..10).prop_map(|v| v.concat())
}

fn param_value() -> impl Strategy<Value = Value> {
    let byte = prop_oneof![
        3 => prop::sample::select(vec![0x27u8, 0x22, 0x5c, 0x60, 0, 0xbf, 0xe4, 0xad, 0x2a, 0x2f]),
        2 => any::<u8>(),
    ];
    prop_oneof![
        6 => hostile_text().prop_map(Value::Text),
        3 => prop::sample::select(&ATTACKS[..]).prop_map(|s| Value::Text(s.to_owned())),
        1 => any::<String>().prop_map(Value::Text),
        3 => prop::collection::vec(byte, 0..20).prop_map(Value::Bytes),
    ]
}

/// Template text from `ascii` with, if `non_ascii`, some non-ASCII characters.
fn template_text(ascii: &'static str, non_ascii: bool, max: usize) -> BoxedStrategy<String> {
    let ascii: Vec<char> = ascii.chars().collect();
    let ch = if non_ascii {
        prop_oneof![
            12 => prop::sample::select(ascii),
            1 => prop::sample::select(vec!['é', '中', '😀', '\u{bf}', 'ï', 'Ж', '€', '\u{5c0}']),
        ]
        .boxed()
    } else {
        prop::sample::select(ascii).boxed()
    };
    prop::collection::vec(ch, 0..max)
        .prop_map(|v| v.into_iter().collect())
        .boxed()
}

/// Characters for literals and names: what matters to a lexer, and some letters.
const SQL_CHARS: &str = "ab ?'\"`\\;#-*/!%_M\n";
/// Comment text: no newline (line comments) and no `/` (so no `*/` or `/*`).
const COMMENT_CHARS: &str = "ab ?'\"`\\;#-*!%M";

fn comment() -> impl Strategy<Value = Comment> {
    let body = || template_text(COMMENT_CHARS, true, 12);
    let version = prop_oneof![
        Just(None),
        prop::sample::select(vec![10000u32, 50708, 80000, 99999]).prop_map(Some),
        (10000u32..100000).prop_map(Some),
    ];
    let mariadb_version = prop_oneof![
        Just(None),
        prop::sample::select(vec![100000u32, 100100, 101119, 999999]).prop_map(Some),
        (100000u32..1000000).prop_map(Some),
    ];
    let flavour = prop_oneof![
        version.prop_map(|v| (false, v)),
        mariadb_version.prop_map(|v| (true, v)),
    ];
    let executable = (flavour, body()).prop_map(|((mariadb, version), body)| Comment::Executable {
        mariadb,
        version,
        body,
    });
    prop_oneof![
        4 => body().prop_map(Comment::Dash),
        4 => body().prop_map(Comment::Hash),
        5 => body().prop_map(Comment::Block),
        1 => executable,
    ]
}

fn comments() -> impl Strategy<Value = Vec<Comment>> {
    prop_oneof![3 => Just(Vec::new()), 1 => prop::collection::vec(comment(), 1..3)]
}

fn param_expr() -> impl Strategy<Value = Expr> {
    (comments(), param_value()).prop_map(|(c, v)| Expr::Param(c, v))
}

fn column(expr: BoxedStrategy<Expr>) -> impl Strategy<Value = Column> {
    let quote = prop::sample::select(vec![Quote::Backtick, Quote::Single, Quote::Double]);
    (
        comments(),
        expr,
        comments(),
        template_text(SQL_CHARS, false, 8),
        quote,
    )
        .prop_map(|(before, expr, after, alias, quote)| Column {
            before,
            expr,
            after,
            alias,
            quote,
        })
}

fn case(charsets: &[String]) -> impl Strategy<Value = Case> {
    let interesting: Vec<usize> = [
        "utf8mb4", "latin1", "gbk", "big5", "sjis", "cp932", "gb18030", "binary", "ascii",
        "utf8mb3", "ujis", "euckr", "swe7",
    ]
    .iter()
    .filter_map(|n| charsets.iter().position(|c| c == n))
    .collect();
    let charset = prop_oneof![0..charsets.len(), prop::sample::select(interesting)];
    let literal = (
        template_text(SQL_CHARS, true, 10),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(text, double, backslash_quote)| Expr::Literal {
            text,
            double,
            backslash_quote,
        });
    let any_expr = prop_oneof![param_expr(), literal].boxed();
    let columns = (
        column(param_expr().boxed()),
        prop::collection::vec(column(any_expr), 0..5),
        any::<prop::sample::Index>(),
    )
        .prop_map(|(first, mut rest, at)| {
            // At least one placeholder, anywhere in the list.
            let at = at.index(rest.len() + 1);
            rest.insert(at, first);
            rest
        });
    let tail = prop_oneof![
        8 => Just(Tail::None),
        3 => comments().prop_map(Tail::Semicolon),
        1 => Just(Tail::Select1),
        1 => (0..MODES.len()).prop_map(Tail::SetMode),
        2 => (0..MODES.len(), param_value()).prop_map(|(m, v)| Tail::SetModeThenParam(m, v)),
    ];
    let method = prop::sample::select(vec![
        Method::Exec,
        Method::ExecOne,
        Method::ExecOpt,
        Method::ExecResult,
    ]);
    (
        charset,
        0..MODES.len(),
        comments(),
        columns,
        prop::option::weighted(0.3, (comments(), param_value())),
        tail,
        prop_oneof![18 => Just(0i8), 1 => Just(-1i8), 1 => Just(1i8)],
        method,
    )
        .prop_map(
            |(charset, mode, head, columns, filter, tail, count_skew, method)| Case {
                charset,
                mode,
                head,
                columns,
                filter,
                tail,
                count_skew,
                method,
            },
        )
}

// ---------------------------------------------------------------------------------
// The property test: rendering a case, and the oracle
// ---------------------------------------------------------------------------------

/// `content` between `q` quotes for the server to read back as `content`: an inner
/// quote doubled (or as `\q` if `backslash_quote` and backslashes escape), and a
/// backslash doubled if backslashes escape.
fn quote(content: &str, q: char, backslash_escapes: bool, backslash_quote: bool) -> String {
    let mut s = String::from(q);
    for ch in content.chars() {
        if ch == q && backslash_escapes && backslash_quote {
            s.push('\\');
            s.push(q);
        } else if ch == q {
            s.push(q);
            s.push(q);
        } else if ch == '\\' && backslash_escapes {
            s.push_str("\\\\");
        } else {
            s.push(ch);
        }
    }
    s.push(q);
    s
}

/// The literal the fixed crate sends for a parameter (the same bytes as any correct
/// encoding).
fn intended_literal(v: &Value) -> String {
    match v {
        Value::Text(s) if s.is_empty() => "_utf8mb4''".into(),
        Value::Text(s) => format!("_utf8mb4 0x{}", hex(s.as_bytes())),
        Value::Bytes(b) if b.is_empty() => "X''".into(),
        Value::Bytes(b) => format!("0x{}", hex(b)),
        other => panic!("unexpected parameter {other:?}"),
    }
}

/// A case, rendered for its session mode and charset.
#[derive(Debug)]
struct Rendered {
    /// The statement with `?` placeholders.
    sql: String,
    params: Vec<Value>,
    /// The statement with each placeholder written out by the test itself.
    intended: String,
    /// Expected column names and values.
    expected: Vec<(String, Vec<u8>)>,
    /// Why the crate may refuse this statement; empty: it must run.
    may_refuse: Vec<&'static str>,
    /// Why the crate must refuse it.
    must_refuse: Option<&'static str>,
    /// The statement itself changes sql_mode.
    changes_mode: bool,
}

struct Writer<'a> {
    mode: &'a Mode,
    sql: String,
    intended: String,
    params: Vec<Value>,
    may_refuse: Vec<&'static str>,
}

impl Writer<'_> {
    fn push(&mut self, s: &str) {
        self.sql.push_str(s);
        self.intended.push_str(s);
    }

    fn param(&mut self, v: &Value) {
        self.sql.push('?');
        self.intended.push_str(&intended_literal(v));
        self.params.push(v.clone());
    }

    fn refusable(&mut self, why: &'static str) {
        if !self.may_refuse.contains(&why) {
            self.may_refuse.push(why);
        }
    }

    /// A double-quoted section: with backslash escapes on, a backslash in it means
    /// it ends elsewhere under ANSI_QUOTES, so the crate may refuse.
    fn double_quoted(&mut self, s: &str) {
        if !self.mode.no_backslash_escapes && s.contains('\\') {
            self.refusable("a backslash in a double-quoted section");
        }
        self.push(s);
    }

    fn comments(&mut self, list: &[Comment]) {
        self.push(" ");
        for c in list {
            let text = match c {
                Comment::Dash(b) => format!("-- {b}\n"),
                Comment::Hash(b) => format!("#{b}\n"),
                Comment::Block(b) => format!("/* {b} */"),
                Comment::Executable {
                    mariadb,
                    version,
                    body,
                } => {
                    self.refusable("an executable comment");
                    let m = if *mariadb { "M" } else { "" };
                    let v = version.map(|v| v.to_string()).unwrap_or_default();
                    format!("/*{m}!{v} {body} */")
                }
            };
            self.push(&text);
            self.push(" ");
        }
    }
}

fn render(case: &Case, charset: &str) -> Rendered {
    let mode = &MODES[case.mode];
    let escapes = !mode.no_backslash_escapes;
    let mut w = Writer {
        mode,
        sql: String::new(),
        intended: String::new(),
        params: Vec::new(),
        may_refuse: Vec::new(),
    };
    let mut expected = Vec::new();
    w.push("SELECT");
    w.comments(&case.head);
    for (i, col) in case.columns.iter().enumerate() {
        if i > 0 {
            w.push(",");
        }
        w.comments(&col.before);
        let value = match &col.expr {
            Expr::Param(inner, v) => {
                w.push("HEX(");
                w.comments(inner);
                w.param(v);
                w.push(")");
                hex(value_bytes(v)).into_bytes()
            }
            Expr::Literal {
                text,
                double,
                backslash_quote,
            } => {
                // Under ANSI_QUOTES, "…" is a name, not a string.
                if *double && !mode.ansi_quotes {
                    w.double_quoted(&quote(text, '"', escapes, *backslash_quote));
                } else {
                    w.push(&quote(text, '\'', escapes, *backslash_quote));
                }
                text.clone().into_bytes()
            }
        };
        w.comments(&col.after);
        w.push("AS ");
        // A letter first: the server strips leading spaces and refuses empty names.
        let alias = format!("c{i}{}", col.alias);
        match col.quote {
            Quote::Backtick => w.push(&quote(&alias, '`', false, false)),
            Quote::Single => w.push(&quote(&alias, '\'', escapes, false)),
            Quote::Double if mode.ansi_quotes => w.double_quoted(&quote(&alias, '"', false, false)),
            Quote::Double => w.double_quoted(&quote(&alias, '"', escapes, false)),
        }
        expected.push((alias, value));
    }
    if let Some((gap, v)) = &case.filter {
        w.push(" FROM DUAL WHERE");
        w.comments(gap);
        w.push("HEX(");
        w.param(v);
        w.push(&format!(") = '{}'", hex(value_bytes(v))));
    }
    let mut changes_mode = false;
    match &case.tail {
        Tail::None => {}
        Tail::Semicolon(gap) => {
            w.push(";");
            w.comments(gap);
        }
        Tail::Select1 => {
            w.refusable("a second statement");
            w.push("; SELECT 1");
        }
        Tail::SetMode(m) => {
            w.refusable("a second statement");
            changes_mode = true;
            w.push(&format!("; SET SESSION sql_mode = {}", MODES[*m].set));
        }
        Tail::SetModeThenParam(m, v) => {
            w.refusable("a second statement");
            changes_mode = true;
            w.push(&format!(
                "; SET SESSION sql_mode = {}; SET @v = ",
                MODES[*m].set
            ));
            w.param(v);
        }
    }
    if ASCII_UNSAFE.contains(&charset) && !w.sql.is_ascii() {
        w.refusable("non-ASCII text on an ASCII-unsafe charset");
    }
    let mut must_refuse = None;
    match case.count_skew {
        0 => {}
        skew => {
            must_refuse = Some("a wrong parameter count");
            if skew < 0 {
                w.params.pop();
            } else {
                w.params.push(Value::Text("extra".into()));
            }
        }
    }
    Rendered {
        sql: w.sql,
        params: w.params,
        intended: w.intended,
        expected,
        may_refuse: w.may_refuse,
        must_refuse,
        changes_mode,
    }
}

/// How a call ended, if acceptably.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Verdict {
    Ran,
    Refused,
}

/// How the server reports each character of an alias on one connection. Column
/// names travel through the server's system charset, which is not a round trip for
/// every ASCII byte in every charset (in sjis, `\` comes back as 0x81 0x5F).
type NameMap = HashMap<char, String>;

/// Characters of the aliases in [`render`].
fn alias_chars() -> impl Iterator<Item = char> {
    SQL_CHARS.chars().chain("c0123456789".chars())
}

/// One column per alias character: `x<char>`.
fn name_probe() -> String {
    let cols: Vec<String> = alias_chars()
        .map(|ch| format!("1 AS {}", quote(&format!("x{ch}"), '`', false, false)))
        .collect();
    format!("SELECT {}", cols.join(", "))
}

fn name_map(row: &Row) -> NameMap {
    alias_chars()
        .zip(names(row))
        .map(|(ch, name)| (ch, name.strip_prefix('x').unwrap().to_owned()))
        .collect()
}

fn learn_names(c: &mut Conn) -> NameMap {
    name_map(&c.query_one(&name_probe()).unwrap())
}

async fn learn_names_async(c: &mut AsyncConn) -> NameMap {
    name_map(&c.query_one(&name_probe()).await.unwrap())
}

/// The rows a statement returned are exactly the intended ones.
fn check_rows(r: &Rendered, rows: &[Row], map: &NameMap) -> std::result::Result<(), String> {
    let [row] = rows else {
        return Err(format!("{} rows instead of 1", rows.len()));
    };
    let got = names(row);
    let want: Vec<String> = r
        .expected
        .iter()
        .map(|(n, _)| n.chars().map(|ch| map[&ch].as_str()).collect())
        .collect();
    if got != want {
        return Err(format!("columns {got:?}, expected {want:?}"));
    }
    for (i, (name, value)) in r.expected.iter().enumerate() {
        let cell = row.raw(i);
        if cell != Some(value.as_slice()) {
            return Err(format!(
                "column {name:?} is {:?}, expected {:?}",
                cell.map(String::from_utf8_lossy),
                String::from_utf8_lossy(value)
            ));
        }
    }
    Ok(())
}

/// The outcome of the call alone: a `Params` refusal where one is allowed, or
/// exactly the intended row.
fn judge_outcome(
    r: &Rendered,
    map: &NameMap,
    outcome: Result<Vec<Row>>,
) -> std::result::Result<Verdict, String> {
    match outcome {
        Err(e) if e.kind() == ErrorKind::Params => {
            if e.is_fatal() {
                Err(format!("a refusal must not be fatal: {e}"))
            } else if r.may_refuse.is_empty() && r.must_refuse.is_none() {
                Err(format!(
                    "refused a statement with no reason to refuse it: {e}"
                ))
            } else {
                Ok(Verdict::Refused)
            }
        }
        Err(e) => Err(format!("neither refused nor run as intended: {e}")),
        Ok(rows) => match r.must_refuse {
            Some(why) => Err(format!("ran despite {why}")),
            None => check_rows(r, &rows, map).map(|()| Verdict::Ran),
        },
    }
}

/// The oracle: [`judge_outcome`], and no other change to the session (`@pwned`
/// still unset, sql_mode as set unless the statement itself ran and changed it).
fn judge(
    r: &Rendered,
    map: &NameMap,
    outcome: Result<Vec<Row>>,
    (unset, mode): (bool, String),
    mode_before: &str,
) -> std::result::Result<Verdict, String> {
    let verdict = judge_outcome(r, map, outcome);
    if !unset {
        return Err(format!("INJECTION: @pwned was set (the call: {verdict:?})"));
    }
    let verdict = verdict?;
    if mode != mode_before && !(verdict == Verdict::Ran && r.changes_mode) {
        return Err(format!("sql_mode changed from {mode_before:?} to {mode:?}"));
    }
    Ok(verdict)
}

fn describe(case: &Case, r: &Rendered, charset: &str, api: &str) -> String {
    format!(
        "{api} {:?}, charset {charset}, sql_mode {}\n  sql: {:?}\n  params: {:?}\n  \
         may refuse because: {:?}; must refuse because: {:?}",
        case.method, MODES[case.mode].set, r.sql, r.params, r.may_refuse, r.must_refuse
    )
}

/// Outcome counts, printed at the end of each property test.
#[derive(Default)]
struct Tally {
    ran: Cell<u32>,
    refused: Cell<u32>,
    must_run: Cell<u32>,
    reasons: RefCell<BTreeMap<&'static str, u32>>,
}

impl Tally {
    fn add(&self, r: &Rendered, v: Verdict) {
        match v {
            Verdict::Ran => self.ran.set(self.ran.get() + 1),
            Verdict::Refused => self.refused.set(self.refused.get() + 1),
        }
        if r.may_refuse.is_empty() && r.must_refuse.is_none() {
            self.must_run.set(self.must_run.get() + 1);
        }
        let mut reasons = self.reasons.borrow_mut();
        for why in r.may_refuse.iter().chain(&r.must_refuse) {
            *reasons.entry(why).or_default() += 1;
        }
    }

    fn report(&self, what: &str) {
        println!(
            "{what}: {} ran as intended, {} refused; {} had no reason to be refused; \
             cases with a reason to refuse: {:?}",
            self.ran.get(),
            self.refused.get(),
            self.must_run.get(),
            self.reasons.borrow()
        );
        assert!(self.must_run.get() > 0 && self.ran.get() >= self.must_run.get());
    }
}

/// A runner with a fixed seed (`salt` tells the seeds apart): the same cases on
/// every run.
fn runner(cases: u32, salt: u8) -> TestRunner {
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 1000,
        max_shrink_time: 20_000,
        ..Config::default()
    };
    let seed: Vec<u8> = (0..32u8).map(|i| i.wrapping_mul(37) ^ salt).collect();
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed))
}

fn run_blocking(c: &mut Conn, case: &Case, r: &Rendered) -> Result<Vec<Row>> {
    let (sql, p) = (r.sql.as_str(), r.params.clone());
    match case.method {
        Method::Exec => c.exec::<Row, _>(sql, p),
        Method::ExecOne => c.exec_one::<Row, _>(sql, p).map(|row| vec![row]),
        Method::ExecOpt => c
            .exec_opt::<Row, _>(sql, p)
            .map(|row| row.into_iter().collect()),
        Method::ExecResult => c.exec_result(sql, p).map(|set| set.rows),
    }
}

async fn run_async(c: &mut AsyncConn, case: &Case, r: &Rendered) -> Result<Vec<Row>> {
    let (sql, p) = (r.sql.as_str(), r.params.clone());
    match case.method {
        Method::Exec => c.exec::<Row, _>(sql, p).await,
        Method::ExecOne => c.exec_one::<Row, _>(sql, p).await.map(|row| vec![row]),
        Method::ExecOpt => c
            .exec_opt::<Row, _>(sql, p)
            .await
            .map(|row| row.into_iter().collect()),
        Method::ExecResult => c.exec_result(sql, p).await.map(|set| set.rows),
    }
}

/// One case on a blocking connection. Templates with no reason to be refused are
/// first run by the test itself, with the literals written in, to prove the template
/// is valid SQL meaning what the oracle expects.
fn blocking_case(
    c: &mut Conn,
    map: &NameMap,
    case: &Case,
    r: &Rendered,
) -> std::result::Result<Verdict, String> {
    let env = env();
    let setup = format!(
        "SET SESSION sql_mode = {}, @pwned = NULL",
        MODES[case.mode].set
    );
    c.query_drop(&setup).map_err(|e| format!("{setup}: {e}"))?;
    if r.may_refuse.is_empty() {
        let rows = c
            .query_result(&r.intended)
            .map(|set| set.rows)
            .map_err(|e| format!("TEST BUG: the intended statement fails: {e}"))?;
        check_rows(r, &rows, map).map_err(|e| format!("TEST BUG: the intended statement: {e}"))?;
    }
    let outcome = run_blocking(c, case, r);
    let state = c
        .query_one(SESSION_STATE)
        .map(state_of)
        .map_err(|e| format!("the connection is unusable after the call: {e}"))?;
    judge(r, map, outcome, state, &env.mode_text[case.mode])
}

#[test]
fn prop_no_value_changes_the_statement_blocking() {
    const CASES: u32 = 2500;
    let env = env();
    let conns: RefCell<HashMap<usize, (Conn, NameMap)>> = RefCell::default();
    let tally = Tally::default();
    runner(CASES, 1)
        .run(&case(&env.charsets), |case| {
            let charset = &env.charsets[case.charset];
            let r = render(&case, charset);
            let mut conns = conns.borrow_mut();
            let (c, map) = conns.entry(case.charset).or_insert_with(|| {
                let mut c = conn(Some(charset));
                let map = learn_names(&mut c);
                (c, map)
            });
            let result = blocking_case(c, map, &case, &r);
            if c.is_broken() {
                conns.remove(&case.charset);
            }
            match result {
                Ok(v) => {
                    tally.add(&r, v);
                    Ok(())
                }
                Err(e) => Err(TestCaseError::fail(format!(
                    "{e}\n  {}",
                    describe(&case, &r, charset, "Conn")
                ))),
            }
        })
        .unwrap_or_else(|e| panic!("{e}"));
    tally.report("Conn");
}

#[test]
fn prop_no_value_changes_the_statement_async() {
    const CASES: u32 = 800;
    let env = env();
    // The same generator with another seed; the cases are drawn up front, then run
    // inside one time-limited runtime (no shrinking here; the case is printed).
    let mut runner = runner(CASES, 2);
    let strategy = case(&env.charsets);
    let cases: Vec<Case> = (0..CASES)
        .map(|_| strategy.new_tree(&mut runner).unwrap().current())
        .collect();
    support::block_on(async {
        let mut conns: HashMap<usize, (AsyncConn, NameMap)> = HashMap::new();
        let tally = Tally::default();
        for case in &cases {
            let charset = &env.charsets[case.charset];
            let r = render(case, charset);
            let (c, map) = match conns.entry(case.charset) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => {
                    let mut c = async_conn(Some(charset)).await;
                    let map = learn_names_async(&mut c).await;
                    e.insert((c, map))
                }
            };
            let setup = format!(
                "SET SESSION sql_mode = {}, @pwned = NULL",
                MODES[case.mode].set
            );
            c.query_drop(&setup).await.unwrap();
            let outcome = run_async(c, case, &r).await;
            let state = async_session_state(c).await;
            match judge(&r, map, outcome, state, &env.mode_text[case.mode]) {
                Ok(v) => tally.add(&r, v),
                Err(e) => panic!("{e}\n  {}", describe(case, &r, charset, "AsyncConn")),
            }
        }
        for (_, (c, _)) in conns {
            c.close().await.unwrap();
        }
        tally.report("AsyncConn");
    });
}
