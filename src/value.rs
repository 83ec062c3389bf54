//! Values: a borrowed cell ([`ValueRef`]) and conversions into Rust types ([`FromValue`]).
//!
//! Conversions look at the column's type and flags, never guess from the bytes alone:
//! an integer column converts to integers (checked for overflow), a binary column
//! gives bytes and refuses to become a `String`, NULL converts only into `Option`.

use std::fmt;

use crate::row::{Column, ColumnType};

/// One cell, borrowed: its column plus the bytes the server sent (text protocol),
/// or `None` for SQL NULL. Converting it copies only what the target type needs.
#[derive(Clone, Copy)]
pub struct ValueRef<'a> {
    column: &'a Column,
    raw: Option<&'a [u8]>,
}

impl<'a> ValueRef<'a> {
    pub(crate) fn new(column: &'a Column, raw: Option<&'a [u8]>) -> ValueRef<'a> {
        ValueRef { column, raw }
    }

    /// The column this value belongs to.
    pub fn column(&self) -> &'a Column {
        self.column
    }

    /// Whether the value is SQL NULL.
    pub fn is_null(&self) -> bool {
        self.raw.is_none()
    }

    /// The bytes as sent by the server (`None` for NULL).
    pub fn raw(&self) -> Option<&'a [u8]> {
        self.raw
    }

    /// Whether this is a binary string (BINARY, VARBINARY, BLOB, …): bytes, not text.
    /// Numbers and dates also carry the binary charset but are not "bytes".
    pub fn is_bytes(&self) -> bool {
        self.column.is_binary() && self.column.column_type().is_string_like()
    }

    /// The value as text, when the column is a text column (not binary) and the
    /// bytes are valid UTF-8.
    pub fn as_str(&self) -> Result<&'a str, FromValueError> {
        let b = self.raw.ok_or(FromValueError::Null)?;
        if self.is_bytes() {
            return Err(FromValueError::WrongType(
                "binary column: read it as Vec<u8>".into(),
            ));
        }
        std::str::from_utf8(b).map_err(|_| FromValueError::InvalidUtf8)
    }
}

impl fmt::Debug for ValueRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.raw {
            None => f.write_str("NULL"),
            Some(b) => match std::str::from_utf8(b) {
                Ok(s) if !self.is_bytes() => write!(f, "{s:?}"),
                _ => write!(f, "<{} bytes>", b.len()),
            },
        }
    }
}

/// Why a value did not convert.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FromValueError {
    /// SQL NULL into a type that cannot hold it (use `Option<T>`).
    Null,
    /// The number does not fit the target type.
    Overflow,
    /// The column's type cannot become the target type; the text says which would.
    WrongType(String),
    /// A text column held bytes that are not UTF-8.
    InvalidUtf8,
    /// The bytes could not be parsed (the text says what was expected).
    Invalid(String),
}

impl fmt::Display for FromValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FromValueError::Null => f.write_str("value is NULL; use Option<T>"),
            FromValueError::Overflow => f.write_str("value out of range for the target type"),
            FromValueError::WrongType(s) => write!(f, "wrong type: {s}"),
            FromValueError::InvalidUtf8 => f.write_str("invalid UTF-8"),
            FromValueError::Invalid(s) => write!(f, "invalid value: {s}"),
        }
    }
}

impl std::error::Error for FromValueError {}

/// Conversion from a cell into a Rust type.
pub trait FromValue: Sized {
    /// Convert, or say why not.
    fn from_value(v: ValueRef<'_>) -> Result<Self, FromValueError>;
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: ValueRef<'_>) -> Result<Self, FromValueError> {
        if v.is_null() {
            Ok(None)
        } else {
            T::from_value(v).map(Some)
        }
    }
}

fn non_null<'a>(v: &ValueRef<'a>) -> Result<&'a [u8], FromValueError> {
    v.raw.ok_or(FromValueError::Null)
}

/// Parse the ASCII decimal integer the text protocol sends for integer columns.
fn parse_i128(b: &[u8]) -> Option<i128> {
    let (neg, digits) = match b.first()? {
        b'-' => (true, &b[1..]),
        b'+' => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() || digits.len() > 39 {
        return None;
    }
    let mut n: i128 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add((d - b'0') as i128)?;
    }
    Some(if neg { -n } else { n })
}

fn bit_value(b: &[u8]) -> Result<u64, FromValueError> {
    if b.len() > 8 {
        return Err(FromValueError::Overflow);
    }
    Ok(b.iter().fold(0u64, |acc, &x| (acc << 8) | x as u64))
}

fn integer(v: &ValueRef<'_>) -> Result<i128, FromValueError> {
    let b = non_null(v)?;
    let t = v.column.column_type();
    if t == ColumnType::Bit {
        return bit_value(b).map(|x| x as i128);
    }
    if t.is_integer() {
        return parse_i128(b).ok_or_else(|| {
            FromValueError::Invalid(format!(
                "`{}` is not an integer",
                String::from_utf8_lossy(b)
            ))
        });
    }
    if t.is_decimal() {
        // Exact conversion only: "12.00" is 12, "12.5" is not an integer.
        let s = std::str::from_utf8(b).map_err(|_| FromValueError::InvalidUtf8)?;
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        if frac.bytes().all(|c| c == b'0') {
            return parse_i128(int.as_bytes()).ok_or(FromValueError::Overflow);
        }
        return Err(FromValueError::WrongType(format!(
            "DECIMAL {s} has a fraction; read it as f64 or String"
        )));
    }
    Err(FromValueError::WrongType(format!(
        "{t:?} column is not an integer"
    )))
}

macro_rules! int_from_value {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(v: ValueRef<'_>) -> Result<Self, FromValueError> {
                let n = integer(&v)?;
                <$t>::try_from(n).map_err(|_| FromValueError::Overflow)
            }
        }
    )*};
}

int_from_value!(i8, i16, i32, i64, i128, u8, u16, u32, u64, u128, isize, usize);

impl FromValue for bool {
    fn from_value(v: ValueRef<'_>) -> Result<Self, FromValueError> {
        match integer(&v)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(FromValueError::Overflow),
        }
    }
}

fn float(v: &ValueRef<'_>) -> Result<f64, FromValueError> {
    let b = non_null(v)?;
    let t = v.column.column_type();
    if t.is_float() || t.is_decimal() || t.is_integer() {
        let s = std::str::from_utf8(b).map_err(|_| FromValueError::InvalidUtf8)?;
        return s
            .parse::<f64>()
            .map_err(|_| FromValueError::Invalid(format!("`{s}` is not a number")));
    }
    Err(FromValueError::WrongType(format!(
        "{t:?} column is not a number"
    )))
}

impl FromValue for f64 {
    fn from_value(v: ValueRef<'_>) -> Result<Self, FromValueError> {
        float(&v)
    }
}

impl FromValue for f32 {
    fn from_value(v: ValueRef<'_>) -> Result<Self, FromValueError> {
        let t = v.column.column_type();
        let x = float(&v)?;
        if t == ColumnType::Double && x.is_finite() && (x as f32).is_infinite() {
            return Err(FromValueError::Overflow);
        }
        Ok(x as f32)
    }
}

impl FromValue for String {
    fn from_value(v: ValueRef<'_>) -> Result<Self, FromValueError> {
        v.as_str().map(str::to_owned)
    }
}

impl FromValue for Vec<u8> {
    fn from_value(v: ValueRef<'_>) -> Result<Self, FromValueError> {
        Ok(non_null(&v)?.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_integers() {
        assert_eq!(parse_i128(b"-9223372036854775808"), Some(i64::MIN as i128));
        assert_eq!(parse_i128(b"18446744073709551615"), Some(u64::MAX as i128));
        assert_eq!(parse_i128(b""), None);
        assert_eq!(parse_i128(b"-"), None);
        assert_eq!(parse_i128(b"1x"), None);
    }
}
