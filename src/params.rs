//! Query parameters: `?` placeholders filled in on the client, safely.
//!
//! The rules are documented on [`Params`].

use std::borrow::Cow;
use std::io::Write as _;

use crate::error::{Error, ErrorKind, Result};
use crate::raw::RawConn;
use crate::types::{Date, DateTime, Decimal, Time};
use crate::value::Value;

/// `SERVER_STATUS_NO_BACKSLASH_ESCAPES` (`mysql_com.h`): the session's sql_mode
/// includes `NO_BACKSLASH_ESCAPES`.
pub(crate) const SERVER_STATUS_NO_BACKSLASH_ESCAPES: u32 = 512;

/// Conversion of a Rust value into a query parameter.
///
/// Implemented for the integers, `f32`, `f64`, `bool`, `str`/`String`,
/// `[u8]`/`Vec<u8>` (sent as bytes), `Option<T>` (`None` is NULL), references, the
/// crate's [`Date`], [`Time`], [`DateTime`], [`Decimal`] and [`Value`], and, with the
/// cargo features of the same names, `chrono`, `time`, `rust_decimal` and
/// `serde_json` types.
pub trait ToValue {
    /// The value of this parameter.
    fn to_value(&self) -> Value;

    /// The value, consuming `self` (saves a copy for owned strings and bytes).
    fn into_value(self) -> Value
    where
        Self: Sized,
    {
        self.to_value()
    }
}

impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

impl<T: ToValue + ?Sized> ToValue for &mut T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

impl<T: ToValue + ?Sized> ToValue for Box<T> {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, T::to_value)
    }
    fn into_value(self) -> Value {
        self.map_or(Value::Null, T::into_value)
    }
}

impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
    fn into_value(self) -> Value {
        self
    }
}

macro_rules! to_value_via_from {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Value {
                Value::from(*self)
            }
        }
    )*};
}

to_value_via_from!(i8, i16, i32, i64, u8, u16, u32, u64, f32, f64, bool);
to_value_via_from!(Date, Time, DateTime);

impl ToValue for isize {
    fn to_value(&self) -> Value {
        Value::Int(*self as i64)
    }
}

impl ToValue for usize {
    fn to_value(&self) -> Value {
        Value::UInt(*self as u64)
    }
}

impl ToValue for i128 {
    /// An integer when it fits 64 bits, else an exact DECIMAL literal.
    fn to_value(&self) -> Value {
        match i64::try_from(*self) {
            Ok(n) => Value::Int(n),
            Err(_) => Value::Decimal(Decimal::from(*self)),
        }
    }
}

impl ToValue for u128 {
    /// An integer when it fits 64 bits, else an exact DECIMAL literal.
    fn to_value(&self) -> Value {
        match u64::try_from(*self) {
            Ok(n) => Value::UInt(n),
            Err(_) => Value::Decimal(Decimal::from(*self)),
        }
    }
}

impl ToValue for Decimal {
    fn to_value(&self) -> Value {
        Value::Decimal(self.clone())
    }
    fn into_value(self) -> Value {
        Value::Decimal(self)
    }
}

impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_owned())
    }
}

impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
    fn into_value(self) -> Value {
        Value::Text(self)
    }
}

impl ToValue for Cow<'_, str> {
    fn to_value(&self) -> Value {
        Value::Text(self.to_string())
    }
}

impl ToValue for [u8] {
    /// Bytes: sent as a hex literal `X'…'`.
    fn to_value(&self) -> Value {
        Value::Bytes(self.to_vec())
    }
}

impl ToValue for Vec<u8> {
    /// Bytes: sent as a hex literal `X'…'`.
    fn to_value(&self) -> Value {
        Value::Bytes(self.clone())
    }
    fn into_value(self) -> Value {
        Value::Bytes(self)
    }
}

impl<const N: usize> ToValue for [u8; N] {
    /// Bytes: sent as a hex literal `X'…'`.
    fn to_value(&self) -> Value {
        Value::Bytes(self.to_vec())
    }
}

/// The arguments of a statement with `?` placeholders: `()`, a tuple of up to 12
/// [`ToValue`]s (`(1, "a")`, `(x,)`), a slice, array or `Vec` of one [`ToValue`]
/// type (`Vec<Value>` for mixed types).
///
/// `conn.exec("SELECT * FROM t WHERE a = ? AND b = ?", (1, "x"))` finds the `?`
/// placeholders with a small lexer, turns each argument into a [`Value`] through
/// [`ToValue`], and writes it into the statement as a self-contained SQL literal:
///
/// - strings go through the client library's escaping for the connection's
///   character set and SQL mode (`mysql_real_escape_string` on MariaDB, which
///   honours `NO_BACKSLASH_ESCAPES`; `mysql_real_escape_string_quote` on Oracle's
///   library), inside `'…'`;
/// - bytes go as hex literals, `X'00ff'`, so no byte is ever interpreted;
/// - integers and exact decimals as digits; floats as DOUBLE literals with an
///   exponent (`1e-1`), printed with the shortest text that reads back to the very
///   same float; NaN and infinity are refused ([`ErrorKind::Params`](crate::ErrorKind::Params));
/// - dates and times as quoted `'YYYY-MM-DD HH:MM:SS.ffffff'`; NULL as `NULL`.
///
/// A `?` inside a string literal, a quoted identifier or a comment is not a
/// placeholder (but one inside MySQL's executable comments `/*! … */` and
/// MariaDB's `/*M! … */` is, as the server runs their content). Whether a
/// backslash escapes a quote inside a string depends on the session's
/// `NO_BACKSLASH_ESCAPES` mode, which the server reports in every status packet;
/// the lexer follows it. A wrong number of arguments is an
/// [`ErrorKind::Params`](crate::ErrorKind::Params) error before anything is sent.
///
/// **Text and the character set.** Rust strings are UTF-8 and are sent as they are:
/// the connection's character set should be `utf8mb4` (this crate's default). Change
/// it with the connection option, not with `SET NAMES`, which the client library
/// cannot see (its escaping follows the character set it knows).
///
/// **Why interpolation and not server-side prepared statements.** One round trip
/// instead of two or three (prepare, execute, close), no statement handles to leak
/// or cache, and it works with the non-blocking API, multi-statements and any
/// pooler. The values arrive as literals, so types follow SQL's literal rules (a
/// string parameter compared with an integer column converts as `'5'` would).
pub trait Params {
    /// The values, in placeholder order.
    fn into_values(self) -> Vec<Value>;
}

impl Params for () {
    fn into_values(self) -> Vec<Value> {
        Vec::new()
    }
}

impl<T: ToValue> Params for Vec<T> {
    fn into_values(self) -> Vec<Value> {
        self.into_iter().map(ToValue::into_value).collect()
    }
}

impl<T: ToValue> Params for &Vec<T> {
    fn into_values(self) -> Vec<Value> {
        self.iter().map(ToValue::to_value).collect()
    }
}

impl<T: ToValue> Params for &[T] {
    fn into_values(self) -> Vec<Value> {
        self.iter().map(ToValue::to_value).collect()
    }
}

impl<T: ToValue, const N: usize> Params for [T; N] {
    fn into_values(self) -> Vec<Value> {
        self.into_iter().map(ToValue::into_value).collect()
    }
}

impl<T: ToValue, const N: usize> Params for &[T; N] {
    fn into_values(self) -> Vec<Value> {
        self.iter().map(ToValue::to_value).collect()
    }
}

macro_rules! tuple_params {
    ($($t:ident $i:tt),+) => {
        impl<$($t: ToValue),+> Params for ($($t,)+) {
            fn into_values(self) -> Vec<Value> {
                vec![$(self.$i.into_value()),+]
            }
        }
    };
}

tuple_params!(A 0);
tuple_params!(A 0, B 1);
tuple_params!(A 0, B 1, C 2);
tuple_params!(A 0, B 1, C 2, D 3);
tuple_params!(A 0, B 1, C 2, D 3, E 4);
tuple_params!(A 0, B 1, C 2, D 3, E 4, F 5);
tuple_params!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuple_params!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);
tuple_params!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8);
tuple_params!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9);
tuple_params!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10);
tuple_params!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11);

// ----- the lexer -----

/// Byte offsets of the `?` placeholders in `sql`: every `?` that is not inside a
/// `'…'` or `"…"` string, a `` `…` `` identifier, or a `-- `, `#` or `/* */` comment.
///
/// `backslash_escapes` is false under `NO_BACKSLASH_ESCAPES`: a backslash is then an
/// ordinary character in strings, and only a doubled quote escapes a quote.
/// MySQL's executable comments `/*! … */` and MariaDB's `/*M! … */` hold SQL that
/// the server runs, so they are scanned as code.
///
/// An unterminated string or comment runs to the end (the server will reject the
/// statement; no placeholder is found inside it).
pub(crate) fn placeholders(sql: &str, backslash_escapes: bool) -> Vec<usize> {
    let b = sql.as_bytes();
    let n = b.len();
    let mut out = Vec::new();
    let mut in_exec_comment = false;
    let mut i = 0;
    while i < n {
        match b[i] {
            q @ (b'\'' | b'"') => i = skip_quoted(b, i, q, backslash_escapes),
            b'`' => i = skip_quoted(b, i, b'`', false),
            b'#' => i = skip_line(b, i),
            b'-' if b.get(i + 1) == Some(&b'-')
                && b.get(i + 2)
                    .is_none_or(|c| c.is_ascii_whitespace() || c.is_ascii_control()) =>
            {
                i = skip_line(b, i)
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                if b.get(i + 2) == Some(&b'!') {
                    in_exec_comment = true;
                    i += 3;
                } else if b[i + 2..].starts_with(b"M!") {
                    in_exec_comment = true;
                    i += 4;
                } else {
                    i = match find(&b[i + 2..], b"*/") {
                        Some(p) => i + 2 + p + 2,
                        None => n,
                    };
                }
            }
            b'*' if in_exec_comment && b.get(i + 1) == Some(&b'/') => {
                in_exec_comment = false;
                i += 2;
            }
            b'?' => {
                out.push(i);
                i += 1;
            }
            _ => i += 1,
        }
    }
    out
}

/// Skip a quoted string or identifier starting at `start` (the opening quote);
/// returns the offset just past the closing quote.
fn skip_quoted(b: &[u8], start: usize, quote: u8, backslash_escapes: bool) -> usize {
    let mut i = start + 1;
    while i < b.len() {
        let c = b[i];
        if c == b'\\' && backslash_escapes {
            i += 2;
        } else if c == quote {
            if b.get(i + 1) == Some(&quote) {
                i += 2; // a doubled quote stands for one
            } else {
                return i + 1;
            }
        } else {
            i += 1;
        }
    }
    b.len()
}

/// Skip to the end of the line (a `#` or `-- ` comment).
fn skip_line(b: &[u8], start: usize) -> usize {
    b[start..]
        .iter()
        .position(|&c| c == b'\n')
        .map_or(b.len(), |p| start + p + 1)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

// ----- rendering -----

/// Fill the placeholders of `sql` for the connection `raw`: its current
/// `NO_BACKSLASH_ESCAPES` mode (from the last status packet) and its escaping.
/// Call it on an idle connection, so that the status is current.
pub(crate) fn interpolate_for(raw: &RawConn, sql: &str, params: impl Params) -> Result<String> {
    let nbe = raw.server_status() & SERVER_STATUS_NO_BACKSLASH_ESCAPES != 0;
    interpolate(sql, params.into_values(), nbe, |s, out| {
        raw.escape_into(s, out)
    })
}

fn params_error(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::Params, msg).with_fatal(false)
}

/// Fill the placeholders of `sql` with `params`.
///
/// `no_backslash_escapes` is the session's mode (from the server status);
/// `escape` appends its first argument escaped for a `'…'` literal (the client
/// library's `mysql_real_escape_string`).
pub(crate) fn interpolate(
    sql: &str,
    params: Vec<Value>,
    no_backslash_escapes: bool,
    mut escape: impl FnMut(&[u8], &mut Vec<u8>),
) -> Result<String> {
    let marks = placeholders(sql, !no_backslash_escapes);
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
    if marks.is_empty() {
        return Ok(sql.to_owned());
    }
    let extra: usize = params.iter().map(size_hint).sum();
    let mut out = Vec::with_capacity(sql.len() + extra);
    let mut last = 0;
    for (n, (&at, v)) in marks.iter().zip(&params).enumerate() {
        out.extend_from_slice(&sql.as_bytes()[last..at]);
        write_value(v, &mut out, &mut escape)
            .map_err(|e| params_error(format!("parameter {} ({}): {e}", n + 1, kind_of(v))))?;
        last = at + 1;
    }
    out.extend_from_slice(&sql.as_bytes()[last..]);
    // The SQL was UTF-8, strings were UTF-8 and escaping inserts only ASCII before
    // ASCII characters (which never occur inside a UTF-8 sequence); the rest is ASCII.
    String::from_utf8(out).map_err(|_| params_error("escaping produced invalid UTF-8"))
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
        Value::Text(s) => s.len() + s.len() / 8 + 2,
        Value::Bytes(b) => b.len() * 2 + 3,
        _ => 32,
    }
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Append `v` as a self-contained SQL literal.
fn write_value(
    v: &Value,
    out: &mut Vec<u8>,
    escape: &mut impl FnMut(&[u8], &mut Vec<u8>),
) -> std::result::Result<(), String> {
    match v {
        Value::Null => out.extend_from_slice(b"NULL"),
        Value::Int(n) => write!(out, "{n}").expect("Vec write"),
        Value::UInt(n) => write!(out, "{n}").expect("Vec write"),
        // An f32 is written as the f64 of the same value, so the server gets it
        // exactly (as the binary protocol would send it), in any column type.
        Value::Float(x) => write_float(*x as f64, out)?,
        Value::Double(x) => write_float(*x, out)?,
        Value::Decimal(d) => out.extend_from_slice(d.as_str().as_bytes()),
        Value::Text(s) => {
            out.push(b'\'');
            escape(s.as_bytes(), out);
            out.push(b'\'');
        }
        Value::Bytes(b) => {
            out.reserve(b.len() * 2 + 3);
            out.extend_from_slice(b"X'");
            for &c in b {
                out.push(HEX[(c >> 4) as usize]);
                out.push(HEX[(c & 15) as usize]);
            }
            out.push(b'\'');
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

    fn marks(sql: &str) -> Vec<usize> {
        placeholders(sql, true)
    }

    /// A stand-in for mysql_real_escape_string (default mode).
    fn esc(s: &[u8], out: &mut Vec<u8>) {
        for &c in s {
            match c {
                b'\'' | b'\\' | b'"' => {
                    out.push(b'\\');
                    out.push(c);
                }
                0 => out.extend_from_slice(b"\\0"),
                _ => out.push(c),
            }
        }
    }

    fn render(sql: &str, p: impl Params) -> Result<String> {
        interpolate(sql, p.into_values(), false, esc)
    }

    #[test]
    fn plain_placeholders() {
        assert_eq!(marks("SELECT ?, ?"), vec![7, 10]);
        assert_eq!(marks("SELECT 1"), Vec::<usize>::new());
        assert_eq!(marks("?"), vec![0]);
        assert_eq!(marks("a=?and b=?"), vec![2, 9]);
    }

    #[test]
    fn strings_hide_placeholders() {
        assert_eq!(marks("SELECT '?', ?"), vec![12]);
        assert_eq!(marks(r#"SELECT "?", ?"#), vec![12]);
        assert_eq!(marks("SELECT 'it''s ?', ?"), vec![18]);
        assert_eq!(marks(r#"SELECT "say ""?""", ?"#), vec![20]);
        // A backslash escapes the quote (default mode) ...
        assert_eq!(marks(r"SELECT 'a\'?', ?"), vec![15]);
        assert_eq!(marks(r"SELECT 'a\\', ?"), vec![14]);
        // ... but not under NO_BACKSLASH_ESCAPES, where 'a\' is a whole string.
        assert_eq!(placeholders(r"SELECT 'a\', ?", false), vec![13]);
        assert_eq!(placeholders(r"SELECT 'a\''?', ?", false), vec![16]);
        assert_eq!(placeholders(r"SELECT 'a\'?', ?", true), vec![15]);
        // Prefixed literals are strings too.
        assert_eq!(marks("SELECT _utf8mb4'?', N'?', X'3F', ?"), vec![33]);
        // Unterminated: nothing inside counts.
        assert_eq!(marks("SELECT ?, 'abc ?"), vec![7]);
    }

    #[test]
    fn identifiers_hide_placeholders() {
        assert_eq!(marks("SELECT `a?b` FROM t WHERE x = ?"), vec![30]);
        assert_eq!(marks("SELECT `a``?` , ?"), vec![16]);
        // Backslash is not an escape in identifiers.
        assert_eq!(marks(r"SELECT `a\`, ?"), vec![13]);
    }

    #[test]
    fn comments_hide_placeholders() {
        assert_eq!(marks("SELECT ? -- ?\n, ?"), vec![7, 16]);
        assert_eq!(marks("SELECT ? --\t?\n, ?"), vec![7, 16]);
        assert_eq!(
            marks("SELECT ? --?"),
            vec![7, 11],
            "`--` needs a space after it"
        );
        assert_eq!(marks("SELECT 1--?"), vec![10]);
        assert_eq!(marks("SELECT ? --"), vec![7]);
        assert_eq!(marks("SELECT ? # ?\n, ?"), vec![7, 15]);
        assert_eq!(marks("SELECT ? #?"), vec![7]);
        assert_eq!(marks("SELECT /* ? */ ?"), vec![15]);
        assert_eq!(marks("SELECT /* ' */ ?"), vec![15]);
        assert_eq!(marks("SELECT /*/ ? */ ?"), vec![16]);
        assert_eq!(marks("SELECT /* ? "), Vec::<usize>::new());
        assert_eq!(marks("SELECT '/*', ?, '*/'"), vec![13]);
        assert_eq!(marks("SELECT '#', ?"), vec![12]);
        assert_eq!(marks("SELECT '-- ', ?"), vec![14]);
        // Executable comments are code.
        assert_eq!(marks("SELECT /*! ? */ ?"), vec![11, 16]);
        assert_eq!(marks("SELECT /*M!100000 ? */ ?"), vec![18, 23]);
        assert_eq!(marks("SELECT /*!50001 '?' */ ?"), vec![23]);
    }

    #[test]
    fn renders_values() {
        assert_eq!(
            render("SELECT ?, ?, ?, ?", (1, -2i64, u64::MAX, "a'b")).unwrap(),
            r"SELECT 1, -2, 18446744073709551615, 'a\'b'"
        );
        assert_eq!(
            render("SELECT ?", (&b"\x00\xff?'"[..],)).unwrap(),
            "SELECT X'00FF3F27'"
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
            "1,'x'"
        );
        assert_eq!(render("?,?", &[1, 2][..]).unwrap(), "1,2");
        assert_eq!(render("?,?", ["a", "b"]).unwrap(), "'a','b'");
        assert_eq!(render("SELECT 1", ()).unwrap(), "SELECT 1");
        assert_eq!(render("'?' ? -- ?", (5,)).unwrap(), "'?' 5 -- ?");
        // A `?` inside a value is not rescanned.
        assert_eq!(render("?, ?", ("?", 2)).unwrap(), "'?', 2");
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
