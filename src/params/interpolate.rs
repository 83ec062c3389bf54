//! Filling in the `?` placeholders: each value written into the statement as a
//! self-contained SQL literal, after the lexer has checked that the client reads the
//! statement exactly as the server will.

use std::io::Write as _;

use super::lexer::{is_ascii_unsafe, scan, Scan};
use super::Params;
use crate::error::{Error, ErrorKind, Result};
use crate::raw::RawConn;
use crate::types::Value;

/// `SERVER_STATUS_NO_BACKSLASH_ESCAPES` (`mysql_com.h`): the session's sql_mode
/// includes `NO_BACKSLASH_ESCAPES`.
pub(crate) const SERVER_STATUS_NO_BACKSLASH_ESCAPES: u32 = 512;

/// What the client knows of the session when it fills in placeholders.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Session<'a> {
    /// `NO_BACKSLASH_ESCAPES` is in the session's sql_mode (from the last status
    /// packet).
    pub(crate) no_backslash_escapes: bool,
    /// The connection's character set as the client library knows it (it follows
    /// `SET NAMES` through the server's session tracking).
    pub(crate) charset: &'a str,
}

/// Fill the placeholders of `sql` for the connection `raw`: its current
/// `NO_BACKSLASH_ESCAPES` mode (from the last status packet) and character set.
/// Call it on an idle connection, so that the status is current. The query's
/// span will show `sql`, with its placeholders, not the text with the values.
pub(crate) fn interpolate_for(raw: &mut RawConn, sql: &str, params: impl Params) -> Result<String> {
    let charset = raw.charset_name();
    let session = Session {
        no_backslash_escapes: raw.server_status() & SERVER_STATUS_NO_BACKSLASH_ESCAPES != 0,
        charset: &charset,
    };
    let text = interpolate(sql, params.into_values(), session)?;
    raw.trace_template(sql, text.len());
    Ok(text)
}

/// Before a server-side prepare: refuse what client-side parameters refuse
/// (several statements, executable comments, text the client cannot read
/// unambiguously), with the same errors, so that both paths accept the same
/// text. Runs once per prepared statement, not per execute.
pub(crate) fn check_for_prepare(raw: &RawConn, sql: &str) -> Result<()> {
    let charset = raw.charset_name();
    let session = Session {
        no_backslash_escapes: raw.server_status() & SERVER_STATUS_NO_BACKSLASH_ESCAPES != 0,
        charset: &charset,
    };
    let s = scan(sql, !session.no_backslash_escapes, false);
    if s.multi || sql.contains('?') {
        check_statement(sql, &s, session)?;
    }
    Ok(())
}

fn params_error(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::Params, msg).with_fatal(false)
}

/// Check that the client reads `sql` exactly as the server will, and find its
/// placeholders. Refuses what depends on facts the client cannot see.
fn check_statement(sql: &str, s: &Scan, session: Session<'_>) -> Result<()> {
    let be = !session.no_backslash_escapes;
    if s.exec_comment {
        return Err(params_error(
            "a statement with `?` placeholders may not contain an executable comment \
             (`/*! … */` or `/*M! … */`): whether the server runs its content depends on the \
             server's version and flavour, so the client cannot tell where the placeholders are",
        ));
    }
    if s.multi {
        return Err(params_error(
            "`?` placeholders are filled in a single statement only, and this text holds \
             more than one (SQL after a `;`): an earlier statement could change how the server \
             reads the rest (sql_mode, SET NAMES); run the statements one by one",
        ));
    }
    if sql.contains('"') && scan(sql, be, true) != *s {
        return Err(params_error(
            "a double-quoted part of this statement ends at a different place depending on \
             whether sql_mode has ANSI_QUOTES, which the client cannot see: use single quotes \
             for strings and backticks for names, or avoid backslashes inside double quotes",
        ));
    }
    if !sql.is_ascii() && is_ascii_unsafe(session.charset) {
        return Err(params_error(format!(
            "the connection's character set is {}, in which a multi-byte character can \
             hide a quote or backslash byte: a statement with `?` placeholders must be ASCII \
             on it (values may be any text); use utf8mb4",
            session.charset
        )));
    }
    Ok(())
}

/// Fill the placeholders of `sql` with `params`, for a session in the state
/// `session` describes.
///
/// A statement without parameters and without any `?` is passed through
/// untouched. One with a `?` anywhere (even where it is no placeholder) is checked,
/// since whether it is a placeholder depends on reading the text right. Otherwise the statement must read the same for the client and the
/// server (see [`check_statement`]), and every value is written as a
/// self-contained literal that no sql_mode or character set reads differently
/// (see [`write_value`]).
pub(crate) fn interpolate(sql: &str, params: Vec<Value>, session: Session<'_>) -> Result<String> {
    if params.is_empty() && !sql.contains('?') {
        return Ok(sql.to_owned());
    }
    let s = scan(sql, !session.no_backslash_escapes, false);
    check_statement(sql, &s, session)?;
    let marks = s.marks;
    if marks.len() != params.len() {
        return Err(params_error(format!(
            "the statement has {} `?` placeholder{} but {} parameter{} {} given",
            marks.len(),
            if marks.len() == 1 { "" } else { "s" },
            params.len(),
            if params.len() == 1 { "" } else { "s" },
            if params.len() == 1 { "was" } else { "were" },
        )));
    }
    let extra: usize = params.iter().map(size_hint).sum();
    let sql = sql.as_bytes();
    let mut out = Vec::with_capacity(sql.len() + extra);
    let mut last = 0;
    for (n, (&at, v)) in marks.iter().zip(&params).enumerate() {
        out.extend_from_slice(&sql[last..at]);
        // A value is one token of its own: never glued to a name, number or quote
        // of the statement around it.
        if out.last().is_some_and(|&c| glues(c)) {
            out.push(b' ');
        }
        write_value(v, &mut out)
            .map_err(|e| params_error(format!("parameter {} ({}): {e}", n + 1, kind_of(v))))?;
        if sql.get(at + 1).is_some_and(|&c| glues(c)) {
            out.push(b' ');
        }
        last = at + 1;
    }
    out.extend_from_slice(&sql[last..]);
    // The statement was UTF-8 and every value is written in ASCII.
    Ok(String::from_utf8(out).expect("ASCII values spliced into UTF-8 at ASCII positions"))
}

/// A byte that would merge with a value written right next to it: part of a name
/// or number, a user-variable sigil, or a quote.
fn glues(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'$' | b'@' | b'\'' | b'"' | b'`') || c >= 0x80
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "NULL",
        Value::Int(_) | Value::UInt(_) => "integer",
        Value::Float(_) => "f32",
        Value::Double(_) => "f64",
        Value::Decimal(_) => "decimal",
        Value::Text(_) => "text",
        Value::Bytes(_) => "bytes",
        Value::Date(_) => "date",
        Value::Time(_) => "time",
        Value::DateTime(_) => "datetime",
    }
}

fn size_hint(v: &Value) -> usize {
    match v {
        Value::Text(s) => s.len() * 2 + 12,
        Value::Bytes(b) => b.len() * 2 + 3,
        _ => 32,
    }
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

fn write_hex(b: &[u8], out: &mut Vec<u8>) {
    out.reserve(b.len() * 2);
    for &c in b {
        out.push(HEX[(c >> 4) as usize]);
        out.push(HEX[(c & 15) as usize]);
    }
}

/// Append `v` as a self-contained SQL literal, written only with characters that
/// cannot open or close a string, name or comment in any sql_mode or character set:
///
/// - text as `_utf8mb4 0x…` (its UTF-8 bytes in hex, with the character-set
///   introducer: a character string that the server converts to whatever the
///   context needs; `_utf8mb4''` when empty);
/// - bytes as `0x…` (`X''` when empty);
/// - numbers as digits, floats with an exponent; NULL as `NULL`;
/// - dates and times as quoted digits, `'YYYY-MM-DD HH:MM:SS.ffffff'`.
fn write_value(v: &Value, out: &mut Vec<u8>) -> std::result::Result<(), String> {
    match v {
        Value::Null => out.extend_from_slice(b"NULL"),
        Value::Int(n) => write!(out, "{n}").expect("Vec write"),
        Value::UInt(n) => write!(out, "{n}").expect("Vec write"),
        // An f32 is written as the f64 of the same value, so the server gets it
        // exactly (as the binary protocol would send it), in any column type.
        Value::Float(x) => write_float(*x as f64, out)?,
        Value::Double(x) => write_float(*x, out)?,
        Value::Decimal(d) => out.extend_from_slice(d.as_str().as_bytes()),
        Value::Text(s) if s.is_empty() => out.extend_from_slice(b"_utf8mb4''"),
        Value::Text(s) => {
            out.extend_from_slice(b"_utf8mb4 0x");
            write_hex(s.as_bytes(), out);
        }
        Value::Bytes(b) if b.is_empty() => out.extend_from_slice(b"X''"),
        Value::Bytes(b) => {
            out.extend_from_slice(b"0x");
            write_hex(b, out);
        }
        Value::Date(d) => write!(out, "'{d}'").expect("Vec write"),
        Value::Time(t) => write!(out, "'{t}'").expect("Vec write"),
        Value::DateTime(dt) => write!(out, "'{dt}'").expect("Vec write"),
    }
    Ok(())
}

/// A finite float as a DOUBLE literal: Rust's shortest round-trip digits in
/// scientific notation (`1e-1`, `-1.7976931348623157e308`). The exponent makes the
/// server read it as a DOUBLE, not a DECIMAL.
fn write_float(x: f64, out: &mut Vec<u8>) -> std::result::Result<(), String> {
    if !x.is_finite() {
        return Err(format!(
            "{x} cannot be written as SQL (MySQL has no NaN or infinity)"
        ));
    }
    write!(out, "{x:e}").expect("Vec write");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Date, DateTime, Decimal, Time};

    const UTF8: Session<'static> = Session {
        no_backslash_escapes: false,
        charset: "utf8mb4",
    };

    fn render(sql: &str, p: impl Params) -> Result<String> {
        interpolate(sql, p.into_values(), UTF8)
    }

    fn refused(sql: &str, p: impl Params, session: Session<'_>) -> String {
        let e = interpolate(sql, p.into_values(), session).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Params, "{e}");
        assert!(!e.is_fatal());
        e.to_string()
    }

    #[test]
    fn renders_values() {
        assert_eq!(
            render("SELECT ?, ?, ?, ?", (1, -2i64, u64::MAX, "a'b")).unwrap(),
            "SELECT 1, -2, 18446744073709551615, _utf8mb4 0x612762"
        );
        assert_eq!(
            render("SELECT ?", (&b"\x00\xff?'"[..],)).unwrap(),
            "SELECT 0x00FF3F27"
        );
        assert_eq!(
            render("SELECT ?", (Vec::<u8>::new(),)).unwrap(),
            "SELECT X''"
        );
        assert_eq!(render("SELECT ?", (None::<i32>,)).unwrap(), "SELECT NULL");
        assert_eq!(render("SELECT ?", (0.1f64,)).unwrap(), "SELECT 1e-1");
        assert_eq!(render("SELECT ?", (1.0f64,)).unwrap(), "SELECT 1e0");
        assert_eq!(
            render("SELECT ?", (f64::MAX,)).unwrap(),
            "SELECT 1.7976931348623157e308"
        );
        assert_eq!(
            render("SELECT ?", (0.1f32,)).unwrap(),
            "SELECT 1.0000000149011612e-1"
        );
        assert_eq!(render("SELECT ?", (true,)).unwrap(), "SELECT 1");
        assert_eq!(
            render("SELECT ?", (i128::MIN,)).unwrap(),
            "SELECT -170141183460469231731687303715884105728"
        );
        assert_eq!(
            render(
                "SELECT ?, ?, ?",
                (
                    Date::new(2024, 2, 29).unwrap(),
                    Time::new(true, 838, 59, 59, 0).unwrap(),
                    DateTime::new(Date::ZERO, 23, 59, 59, 999_999).unwrap()
                )
            )
            .unwrap(),
            "SELECT '2024-02-29', '-838:59:59', '0000-00-00 23:59:59.999999'"
        );
        let d: Decimal = "-0.10".parse().unwrap();
        assert_eq!(render("SELECT ?", (d,)).unwrap(), "SELECT -0.10");
        // Mixed types through Vec<Value>, slices and arrays.
        assert_eq!(
            render("?,?", vec![Value::from(1), Value::from("x")]).unwrap(),
            "1,_utf8mb4 0x78"
        );
        assert_eq!(render("?,?", &[1, 2][..]).unwrap(), "1,2");
        assert_eq!(
            render("?,?", ["a", ""]).unwrap(),
            "_utf8mb4 0x61,_utf8mb4''"
        );
        assert_eq!(render("SELECT 1", ()).unwrap(), "SELECT 1");
        assert_eq!(render("'?' ? -- ?", (5,)).unwrap(), "'?' 5 -- ?");
        // A `?` inside a value is not rescanned.
        assert_eq!(render("?, ?", ("?", 2)).unwrap(), "_utf8mb4 0x3F, 2");
        // A value never merges with the token next to it.
        assert_eq!(render("SELECT a?b", (1,)).unwrap(), "SELECT a 1 b");
        assert_eq!(render("SELECT 1-?", (-1,)).unwrap(), "SELECT 1--1");
        assert_eq!(
            render("SELECT 'x'?'y'", (Date::new(2024, 1, 2).unwrap(),)).unwrap(),
            "SELECT 'x' '2024-01-02' 'y'"
        );
        assert_eq!(
            render("SELECT @?", ("v",)).unwrap(),
            "SELECT @ _utf8mb4 0x76"
        );
        // Hostile text is hex: nothing in it is read as SQL.
        assert_eq!(
            render("SELECT ?", ("*/'\\\n;-- #",)).unwrap(),
            "SELECT _utf8mb4 0x2A2F275C0A3B2D2D2023"
        );
        assert_eq!(
            render("SELECT ?", ("中\\",)).unwrap(),
            "SELECT _utf8mb4 0xE4B8AD5C"
        );
    }

    #[test]
    fn refuses_what_the_client_cannot_read_as_the_server_does() {
        // Executable comments: versioned or not, MySQL's or MariaDB's.
        for sql in [
            "SELECT 'a' AS x /*!99999 , ? */",
            "SELECT 'a' AS x /*!50708 , ? */",
            "SELECT 'a' AS x /*M!999999 , ? */",
            "SELECT ? /*! STRAIGHT_JOIN */",
        ] {
            let e = refused(sql, ("v",), UTF8);
            assert!(e.contains("executable comment"), "{e}");
        }
        // No placeholders, no parameters: sent as written.
        assert_eq!(
            render("SELECT 1 /*!99999 , 2 */", ()).unwrap(),
            "SELECT 1 /*!99999 , 2 */"
        );
        // More than one statement.
        let e = refused(
            "SET SESSION sql_mode='NO_BACKSLASH_ESCAPES'; SET @v = ?",
            ("'; SET @pwned = 42; -- ",),
            UTF8,
        );
        assert!(e.contains("single statement"), "{e}");
        refused("SELECT ?; SELECT 1", (1,), UTF8);
        refused("SELECT ?;/* c */ SELECT 1", (1,), UTF8);
        refused("SELECT ? ; -- c\n x", (1,), UTF8);
        // A trailing `;` (with comments and space after it) is one statement.
        assert_eq!(render("SELECT ?; ", (1,)).unwrap(), "SELECT 1; ");
        assert_eq!(
            render("SELECT ?; -- done\n", (1,)).unwrap(),
            "SELECT 1; -- done\n"
        );
        assert_eq!(render("SELECT ?;;", (1,)).unwrap(), "SELECT 1;;");
        assert_eq!(render("SELECT ';', ?", (1,)).unwrap(), "SELECT ';', 1");
        // ANSI_QUOTES: the end of "a\" depends on it.
        let e = refused(r#"SELECT 1 AS "a\", ? AS "b""#, (1,), UTF8);
        assert!(e.contains("ANSI_QUOTES"), "{e}");
        // ... unless backslashes are no escape anyway.
        let nbe = Session {
            no_backslash_escapes: true,
            charset: "utf8mb4",
        };
        assert_eq!(
            interpolate(r#"SELECT 1 AS "a\", ? AS "b""#, vec![Value::Int(1)], nbe).unwrap(),
            r#"SELECT 1 AS "a\", 1 AS "b""#
        );
        // Double quotes without a backslash read the same in both modes.
        assert_eq!(
            render(r#"SELECT "it""s", ? AS "b""#, (1,)).unwrap(),
            r#"SELECT "it""s", 1 AS "b""#
        );
        // Multi-byte character sets that can hide a backslash: ASCII statements only.
        let gbk = Session {
            no_backslash_escapes: false,
            charset: "gbk",
        };
        let e = refused("SELECT '中\\' AS a, ? AS b", ("x",), gbk);
        assert!(e.contains("gbk"), "{e}");
        assert_eq!(
            interpolate("SELECT ?", vec![Value::from("中")], gbk).unwrap(),
            "SELECT _utf8mb4 0xE4B8AD"
        );
        for cs in ["big5", "CP932", "sjis", "gb18030"] {
            assert!(is_ascii_unsafe(cs));
        }
        for cs in ["utf8mb4", "latin1", "ujis", "euckr", "gb2312", "binary"] {
            assert!(!is_ascii_unsafe(cs));
        }
        let latin1 = Session {
            no_backslash_escapes: false,
            charset: "latin1",
        };
        assert!(interpolate("SELECT 'é', ?", vec![Value::Int(1)], latin1).is_ok());
    }

    #[test]
    fn refuses_bad_input() {
        let e = render("SELECT ?", ()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Params);
        assert!(!e.is_fatal());
        assert!(
            e.to_string().contains("1 `?` placeholder but 0 parameters"),
            "{e}"
        );
        let e = render("SELECT 1", (1,)).unwrap_err();
        assert!(
            e.to_string()
                .contains("0 `?` placeholders but 1 parameter was"),
            "{e}"
        );
        let e = render("SELECT ?, ?", (1, 2, 3)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Params);
        for x in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let e = render("SELECT ?", (x,)).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Params);
            assert!(e.to_string().contains("parameter 1 (f64)"), "{e}");
        }
        let e = render("SELECT ?, ?", (1, f32::NAN)).unwrap_err();
        assert!(e.to_string().contains("parameter 2 (f32)"), "{e}");
    }
}
