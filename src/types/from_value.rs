//! Conversions from a cell into owned Rust types: the [`FromValue`] trait, with its
//! conversion table, and its impls for the standard types (integers, floats, `bool`,
//! strings, bytes, `Option`).

use super::value_ref::{FromValueError, FromValueRef, ValueRef};
use crate::column::ColumnType;

/// Conversion from a cell into an owned Rust type, driven by the column's type and
/// flags (never by guessing from the bytes). Failures are [`FromValueError`]s, which
/// [`Row::try_get`](crate::Row::try_get) reports with the column's name.
///
/// | column type | converts into |
/// |---|---|
/// | TINYINT … BIGINT, YEAR (signed or UNSIGNED) | every integer type (checked), `bool` (0/1), `f32`/`f64`, [`Decimal`], `String` |
/// | BIT(n) | integers, `bool`, [`Decimal`], `Vec<u8>` (the raw big-endian bytes) |
/// | FLOAT, DOUBLE | `f32`, `f64`, `String` |
/// | DECIMAL | [`Decimal`] (exact), integers (only without a fraction), `f64`/`f32` (rounded), `String` |
/// | DATE | [`Date`], [`DateTime`] (midnight), `String` |
/// | TIME | [`Time`] (signed, up to 838 h), `String` |
/// | DATETIME, TIMESTAMP | [`DateTime`], `String` |
/// | CHAR, VARCHAR, TEXT, ENUM, SET, JSON | `String`, `&str` (zero-copy), `Vec<u8>`, `&[u8]` |
/// | BINARY, VARBINARY, BLOB, GEOMETRY (binary charset) | `Vec<u8>`, `&[u8]` (zero-copy); not `String` |
/// | NULL | `Option<T>` (`None`) for every `T` above |
///
/// Every column type also converts into [`Value`].
///
/// With the cargo features `chrono`, `time`, `rust_decimal` and `serde_json`, those
/// crates' date/time, decimal and JSON types convert too.
///
/// [`Decimal`]: crate::Decimal
/// [`Date`]: crate::Date
/// [`DateTime`]: crate::DateTime
/// [`Time`]: crate::Time
/// [`Value`]: crate::Value
pub trait FromValue: Sized {
    /// Convert, or say why not.
    fn from_value(v: ValueRef<'_>) -> Result<Self, FromValueError>;
}

impl<'a, T: FromValue> FromValueRef<'a> for T {
    #[inline]
    fn from_value_ref(v: ValueRef<'a>) -> Result<Self, FromValueError> {
        T::from_value(v)
    }
}

impl<T: FromValue> FromValue for Option<T> {
    #[inline]
    fn from_value(v: ValueRef<'_>) -> Result<Self, FromValueError> {
        if v.is_null() {
            Ok(None)
        } else {
            T::from_value(v).map(Some)
        }
    }
}

#[inline]
fn non_null<'a>(v: &ValueRef<'a>) -> Result<&'a [u8], FromValueError> {
    v.raw.ok_or(FromValueError::Null)
}

/// An ASCII decimal integer as sign and magnitude; `None` when it is not one or its
/// magnitude exceeds `u64`. No allocation, one pass.
#[inline]
fn parse_u64_signed(b: &[u8]) -> Option<(bool, u64)> {
    let (neg, digits) = match b.first()? {
        b'-' => (true, &b[1..]),
        b'+' => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    if digits.len() <= 19 {
        // At most 19 digits cannot overflow u64.
        for &c in digits {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                return None;
            }
            n = n * 10 + d as u64;
        }
    } else {
        for &c in digits {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                return None;
            }
            n = n.checked_mul(10)?.checked_add(d as u64)?;
        }
    }
    Some((neg, n))
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

/// The value of a BIT(n) cell: big-endian bytes.
pub(crate) fn bit_value(b: &[u8]) -> Result<u64, FromValueError> {
    if b.len() > 8 {
        return Err(FromValueError::Overflow);
    }
    Ok(b.iter().fold(0u64, |acc, &x| (acc << 8) | x as u64))
}

pub(super) fn invalid(what: &str, b: &[u8]) -> FromValueError {
    FromValueError::Invalid(format!("`{}` is not {what}", String::from_utf8_lossy(b)))
}

fn not_integer(b: &[u8]) -> FromValueError {
    FromValueError::Invalid(format!(
        "`{}` is not an integer",
        String::from_utf8_lossy(b)
    ))
}

/// An integer cell as sign and magnitude (the fast path for every type up to 64 bits).
#[inline]
fn integer64(v: &ValueRef<'_>) -> Result<(bool, u64), FromValueError> {
    let b = non_null(v)?;
    let t = v.column.column_type();
    if t.is_integer() {
        return match parse_u64_signed(b) {
            Some(x) => Ok(x),
            // Too many digits for u64: out of range for every 64-bit target.
            None if parse_i128(b).is_some() => Err(FromValueError::Overflow),
            None => Err(not_integer(b)),
        };
    }
    let n = integer(v)?;
    Ok((
        n < 0,
        u64::try_from(n.unsigned_abs()).map_err(|_| FromValueError::Overflow)?,
    ))
}

/// Any integer-valued cell (integers, BIT, DECIMAL without a fraction) as i128.
fn integer(v: &ValueRef<'_>) -> Result<i128, FromValueError> {
    let b = non_null(v)?;
    let t = v.column.column_type();
    if t == ColumnType::Bit {
        return bit_value(b).map(|x| x as i128);
    }
    if t.is_integer() {
        return parse_i128(b).ok_or_else(|| not_integer(b));
    }
    if t.is_decimal() {
        // Exact conversion only: "12.00" is 12, "12.5" is not an integer.
        let s = std::str::from_utf8(b).map_err(|_| FromValueError::InvalidUtf8)?;
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        if frac.bytes().all(|c| c == b'0') {
            return parse_i128(int.as_bytes()).ok_or(FromValueError::Overflow);
        }
        return Err(FromValueError::WrongType(format!(
            "DECIMAL {s} has a fraction; read it as Decimal, f64 or String"
        )));
    }
    Err(FromValueError::WrongType(format!(
        "{t:?} column is not an integer"
    )))
}

macro_rules! signed_from_value {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            #[inline]
            fn from_value(v: ValueRef<'_>) -> Result<Self, FromValueError> {
                let (neg, mag) = integer64(&v)?;
                if neg {
                    // -(mag) fits iff mag <= |MIN|.
                    if mag <= <$t>::MIN.unsigned_abs() as u64 {
                        Ok((mag as i128).wrapping_neg() as $t)
                    } else {
                        Err(FromValueError::Overflow)
                    }
                } else {
                    <$t>::try_from(mag).map_err(|_| FromValueError::Overflow)
                }
            }
        }
    )*};
}

macro_rules! unsigned_from_value {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            #[inline]
            fn from_value(v: ValueRef<'_>) -> Result<Self, FromValueError> {
                let (neg, mag) = integer64(&v)?;
                if neg && mag != 0 {
                    return Err(FromValueError::Overflow);
                }
                <$t>::try_from(mag).map_err(|_| FromValueError::Overflow)
            }
        }
    )*};
}

signed_from_value!(i8, i16, i32, i64, isize);
unsigned_from_value!(u8, u16, u32, u64, usize);

macro_rules! wide_from_value {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(v: ValueRef<'_>) -> Result<Self, FromValueError> {
                let n = integer(&v)?;
                <$t>::try_from(n).map_err(|_| FromValueError::Overflow)
            }
        }
    )*};
}

wide_from_value!(i128, u128);

impl FromValue for bool {
    fn from_value(v: ValueRef<'_>) -> Result<Self, FromValueError> {
        match integer64(&v)? {
            (_, 0) => Ok(false),
            (false, 1) => Ok(true),
            _ => Err(FromValueError::Overflow),
        }
    }
}

/// The text of a numeric cell (FLOAT, DOUBLE, DECIMAL, integers).
#[inline]
fn number_text<'a>(v: &ValueRef<'a>) -> Result<&'a str, FromValueError> {
    let b = non_null(v)?;
    let t = v.column.column_type();
    if t.is_float() || t.is_decimal() || t.is_integer() {
        return std::str::from_utf8(b).map_err(|_| FromValueError::InvalidUtf8);
    }
    Err(FromValueError::WrongType(format!(
        "{t:?} column is not a number"
    )))
}

fn not_a_number(s: &str) -> FromValueError {
    FromValueError::Invalid(format!("`{s}` is not a number"))
}

impl FromValue for f64 {
    #[inline]
    fn from_value(v: ValueRef<'_>) -> Result<Self, FromValueError> {
        if v.column.column_type() == ColumnType::Bit {
            return bit_value(non_null(&v)?).map(|x| x as f64);
        }
        let s = number_text(&v)?;
        s.parse::<f64>().map_err(|_| not_a_number(s))
    }
}

impl FromValue for f32 {
    fn from_value(v: ValueRef<'_>) -> Result<Self, FromValueError> {
        let t = v.column.column_type();
        if t == ColumnType::Bit {
            return bit_value(non_null(&v)?).map(|x| x as f32);
        }
        let s = number_text(&v)?;
        if t == ColumnType::Float {
            // The server prints a FLOAT with float precision: parse it as one.
            return s.parse::<f32>().map_err(|_| not_a_number(s));
        }
        let x = s.parse::<f64>().map_err(|_| not_a_number(s))?;
        if x.is_finite() && (x as f32).is_infinite() {
            return Err(FromValueError::Overflow);
        }
        Ok(x as f32)
    }
}

impl FromValue for String {
    #[inline]
    fn from_value(v: ValueRef<'_>) -> Result<Self, FromValueError> {
        v.as_str().map(str::to_owned)
    }
}

impl FromValue for Vec<u8> {
    #[inline]
    fn from_value(v: ValueRef<'_>) -> Result<Self, FromValueError> {
        Ok(non_null(&v)?.to_vec())
    }
}

impl FromValue for Box<str> {
    fn from_value(v: ValueRef<'_>) -> Result<Self, FromValueError> {
        v.as_str().map(Box::from)
    }
}

impl FromValue for std::sync::Arc<str> {
    fn from_value(v: ValueRef<'_>) -> Result<Self, FromValueError> {
        v.as_str().map(std::sync::Arc::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::column::Column;

    #[test]
    fn parses_integers() {
        assert_eq!(parse_i128(b"-9223372036854775808"), Some(i64::MIN as i128));
        assert_eq!(parse_i128(b"18446744073709551615"), Some(u64::MAX as i128));
        assert_eq!(parse_i128(b""), None);
        assert_eq!(parse_i128(b"-"), None);
        assert_eq!(parse_i128(b"1x"), None);
        assert_eq!(
            parse_u64_signed(b"-9223372036854775808"),
            Some((true, 1 << 63))
        );
        assert_eq!(
            parse_u64_signed(b"18446744073709551615"),
            Some((false, u64::MAX))
        );
        assert_eq!(parse_u64_signed(b"18446744073709551616"), None);
        assert_eq!(parse_u64_signed(b"+0"), Some((false, 0)));
        assert_eq!(parse_u64_signed(b"1:"), None);
        assert_eq!(parse_u64_signed(b"/"), None);
    }

    fn col(t: ColumnType, flags: u32, charset: u32) -> Column {
        Column::new(
            "c".into(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            t,
            flags,
            charset,
            0,
            0,
        )
    }

    #[test]
    fn integer_bounds() {
        let c = col(ColumnType::LongLong, 0, 63);
        let v = |s: &'static str| ValueRef::new(&c, Some(s.as_bytes()));
        assert_eq!(i64::from_value(v("-9223372036854775808")), Ok(i64::MIN));
        assert_eq!(i64::from_value(v("9223372036854775807")), Ok(i64::MAX));
        assert_eq!(
            i64::from_value(v("9223372036854775808")),
            Err(FromValueError::Overflow)
        );
        assert_eq!(i8::from_value(v("-128")), Ok(-128));
        assert_eq!(i8::from_value(v("-129")), Err(FromValueError::Overflow));
        assert_eq!(u8::from_value(v("-0")), Ok(0));
        assert_eq!(u8::from_value(v("-1")), Err(FromValueError::Overflow));
        assert_eq!(
            u64::from_value(v("99999999999999999999")),
            Err(FromValueError::Overflow)
        );
        assert!(matches!(
            u64::from_value(v("12a")),
            Err(FromValueError::Invalid(_))
        ));
        assert_eq!(bool::from_value(v("1")), Ok(true));
        assert_eq!(bool::from_value(v("2")), Err(FromValueError::Overflow));
    }
}
