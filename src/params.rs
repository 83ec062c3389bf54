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
    /// Bytes: sent as a hex literal `0x…`.
    fn to_value(&self) -> Value {
        Value::Bytes(self.to_vec())
    }
}

impl ToValue for Vec<u8> {
    /// Bytes: sent as a hex literal `0x…`.
    fn to_value(&self) -> Value {
        Value::Bytes(self.clone())
    }
    fn into_value(self) -> Value {
        Value::Bytes(self)
    }
}

impl<const N: usize> ToValue for [u8; N] {
    /// Bytes: sent as a hex literal `0x…`.
    fn to_value(&self) -> Value {
        Value::Bytes(self.to_vec())
    }
}

/// The arguments of a statement with `?` placeholders: `()`, a tuple of up to 12
/// [`ToValue`]s (`(1, "a")`, `(x,)`), a slice, array or `Vec` of one [`ToValue`]
/// type (`Vec<Value>` for mixed types).
///
/// `conn.exec("SELECT * FROM t WHERE a = ? AND b = ?", (1, "x"))` finds the `?`
/// placeholders with a lexer that reads the statement as the server will, turns
/// each argument into a [`Value`] through [`ToValue`], and writes it into the
/// statement as a self-contained SQL literal.
///
/// **The guarantee: no value can change the statement's structure**, in any
/// sql_mode and any connection character set. Two independent layers give it:
///
/// 1. *Values are written with characters that cannot open or close anything.*
///    Text goes as its UTF-8 bytes in hex with a character-set introducer,
///    `_utf8mb4 0x4F2742726965` (`_utf8mb4''` when empty): a character string that
///    the server converts to the column's or the connection's character set, so a
///    quote, backslash, `*/`, newline or a multi-byte character in the value is just
///    data, whatever `NO_BACKSLASH_ESCAPES`, `ANSI_QUOTES` or the character set say.
///    Bytes go as `0x00FF` (`X''` when empty). Integers and exact decimals are
///    digits; floats are DOUBLE literals with an exponent (`1e-1`), the shortest
///    text that reads back to the very same float (NaN and infinity are refused);
///    dates and times are quoted digits, `'YYYY-MM-DD HH:MM:SS.ffffff'`; NULL is
///    `NULL`. A value never touches the token before or after it (a space is added
///    where it would).
/// 2. *The placeholders are where the server will see them, or the call is
///    refused.* A `?` inside a string, a quoted name or a comment is not a
///    placeholder. The lexer follows `NO_BACKSLASH_ESCAPES`, which the server reports
///    in every status packet. What the client cannot know is refused with
///    [`ErrorKind::Params`](crate::ErrorKind::Params) before anything is sent, when
///    parameters are given or the text contains a `?` anywhere:
///    - more than one statement (SQL after a `;`): an earlier statement could change
///      the sql_mode or character set for the rest;
///    - an executable comment, `/*! … */` or `/*M! … */`: whether the server runs it
///      depends on its version and flavour;
///    - a double-quoted part that ends at a different place with and without
///      `ANSI_QUOTES` (a backslash inside `"…"`), a mode no status packet reports;
///    - non-ASCII statement text on a connection whose character set can hide a
///      quote or backslash byte inside a multi-byte character (big5, cp932, gbk,
///      sjis, gb18030). Values are fine on any character set.
///
/// A wrong number of arguments is an [`ErrorKind::Params`](crate::ErrorKind::Params)
/// error too. A statement with no parameter and no `?` at all is sent untouched.
///
/// **Collation.** A text parameter carries utf8mb4's default collation, exactly
/// like `_utf8mb4'…'`. With the default `collation_connection` that is the same as a
/// plain `'…'` literal; if you change `collation_connection` to another utf8mb4
/// collation, comparing a parameter with a string literal of the statement needs an
/// explicit `COLLATE` (the server reports error 1267 otherwise). Comparisons with
/// columns are not affected.
///
/// **Why interpolation and not server-side prepared statements.** One round trip
/// instead of two or three (prepare, execute, close), no statement handles to leak
/// or cache, and it works with the non-blocking API and any pooler. The values
/// arrive as literals, so types follow SQL's literal rules (a string parameter
/// compared with an integer column converts as `'5'` would). Hex-encoded text is
/// twice its size on the wire: mind `max_allowed_packet` for very large values.
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

/// What the lexer found in a statement text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scan {
    /// Byte offsets of the `?` placeholders.
    pub(crate) marks: Vec<usize>,
    /// An executable comment (`/*!…*/`, `/*M!…*/`): whether the server runs its
    /// content depends on its version and flavour.
    pub(crate) exec_comment: bool,
    /// More SQL follows a `;`: the text holds more than one statement.
    pub(crate) multi: bool,
}

/// Scan `sql` as the server's lexer would, for the session's modes.
///
/// A `?` counts as a placeholder unless it is inside a `'…'` string, a `"…"` string
/// (an identifier under `ANSI_QUOTES`), a `` `…` `` identifier, or a `-- `, `#` or
/// `/* */` comment. `backslash_escapes` is false under `NO_BACKSLASH_ESCAPES`: a
/// backslash is then an ordinary character in strings, and only a doubled quote
/// escapes a quote. Executable comments are scanned as code and reported.
///
/// An unterminated string or comment runs to the end (the server will reject the
/// statement; no placeholder is found inside it).
pub(crate) fn scan(sql: &str, backslash_escapes: bool, ansi_quotes: bool) -> Scan {
    let b = sql.as_bytes();
    let n = b.len();
    let mut out = Scan {
        marks: Vec::new(),
        exec_comment: false,
        multi: false,
    };
    let mut in_exec_comment = false;
    let mut after_semicolon = false;
    let mut i = 0;
    while i < n {
        let c = b[i];
        // Anything but white space, a `;` or a plain comment after a `;` is a
        // further statement.
        let comment_start = c == b'#'
            || (c == b'-' && is_dash_comment(b, i))
            || (c == b'/' && b.get(i + 1) == Some(&b'*') && !is_exec_comment(b, i));
        if after_semicolon && !c.is_ascii_whitespace() && c != b';' && !comment_start {
            out.multi = true;
        }
        match c {
            b'\'' => i = skip_quoted(b, i, b'\'', backslash_escapes),
            b'"' if ansi_quotes => i = skip_quoted(b, i, b'"', false),
            b'"' => i = skip_quoted(b, i, b'"', backslash_escapes),
            b'`' => i = skip_quoted(b, i, b'`', false),
            b'#' => i = skip_line(b, i),
            b'-' if is_dash_comment(b, i) => i = skip_line(b, i),
            b'/' if b.get(i + 1) == Some(&b'*') => {
                if is_exec_comment(b, i) {
                    out.exec_comment = true;
                    in_exec_comment = true;
                    i += if b[i + 2] == b'!' { 3 } else { 4 };
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
            b';' => {
                after_semicolon = true;
                i += 1;
            }
            b'?' => {
                out.marks.push(i);
                i += 1;
            }
            _ => i += 1,
        }
    }
    out
}

/// `--` followed by white space, a control character or the end starts a comment.
fn is_dash_comment(b: &[u8], i: usize) -> bool {
    b.get(i + 1) == Some(&b'-')
        && b.get(i + 2)
            .is_none_or(|c| c.is_ascii_whitespace() || c.is_ascii_control())
}

/// `/*!` (MySQL) or `/*M!` (MariaDB) at `i`.
fn is_exec_comment(b: &[u8], i: usize) -> bool {
    b[i..].starts_with(b"/*!") || b[i..].starts_with(b"/*M!")
}

/// Byte offsets of the `?` placeholders in `sql` (see [`scan`]).
#[cfg(test)]
pub(crate) fn placeholders(sql: &str, backslash_escapes: bool) -> Vec<usize> {
    scan(sql, backslash_escapes, false).marks
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

/// Character sets in which the second byte of a multi-byte character can be an
/// ASCII byte such as `\` (0x5C): the server's lexer reads such a text differently
/// from a byte-wise one.
const ASCII_UNSAFE_CHARSETS: [&str; 5] = ["big5", "cp932", "gbk", "sjis", "gb18030"];

/// Whether `charset` can hide an ASCII byte inside a multi-byte character.
pub(crate) fn is_ascii_unsafe(charset: &str) -> bool {
    ASCII_UNSAFE_CHARSETS
        .iter()
        .any(|c| c.eq_ignore_ascii_case(charset))
}

/// Fill the placeholders of `sql` for the connection `raw`: its current
/// `NO_BACKSLASH_ESCAPES` mode (from the last status packet) and character set.
/// Call it on an idle connection, so that the status is current.
pub(crate) fn interpolate_for(raw: &RawConn, sql: &str, params: impl Params) -> Result<String> {
    let charset = raw.charset_name();
    let session = Session {
        no_backslash_escapes: raw.server_status() & SERVER_STATUS_NO_BACKSLASH_ESCAPES != 0,
        charset: &charset,
    };
    interpolate(sql, params.into_values(), session)
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

    fn marks(sql: &str) -> Vec<usize> {
        placeholders(sql, true)
    }

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
    fn scan_reports_statements_and_comments() {
        let s = scan("SELECT 1; SELECT 2", true, false);
        assert!(s.multi && !s.exec_comment);
        let s = scan("SELECT 1 /*!40101 x */", true, false);
        assert!(s.exec_comment && !s.multi);
        assert!(!scan("SELECT 1; -- x\n# y\n/* z */ ", true, false).multi);
        assert!(scan("SELECT 1; /*! x */", true, false).multi);
        // ANSI_QUOTES makes "…" a name, where a backslash is no escape.
        assert_eq!(scan(r#""a\"?""#, true, false).marks, Vec::<usize>::new());
        assert_eq!(scan(r#""a\"?""#, true, true).marks, vec![4]);
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
