//! The crate's own exact decimal type, [`Decimal`]: a `DECIMAL` kept as its decimal
//! text, parsed and printed without going through a float.

use std::fmt;
use std::str::FromStr;

use super::from_value::{bit_value, invalid, FromValue};
use super::value_ref::{FromValueError, ValueRef};
use crate::column::ColumnType;

/// An exact `DECIMAL`, kept as its decimal text (`-12.50`, `0.001`). The text is
/// checked (an optional `-`, digits, an optional fraction) and never goes through a
/// float. Equality compares the text, so `1.5` and `1.50` differ, as their scales do.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Decimal(Box<str>);

impl Decimal {
    /// The decimal text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the number is below zero (a `-` sign and a non-zero digit).
    pub fn is_negative(&self) -> bool {
        self.0.starts_with('-') && self.0.bytes().any(|c| matches!(c, b'1'..=b'9'))
    }

    /// Digits after the decimal point.
    pub fn scale(&self) -> usize {
        self.0.split_once('.').map_or(0, |(_, f)| f.len())
    }

    /// Check and normalise decimal text: an optional sign, digits, an optional
    /// `.` and fraction. `+1` becomes `1`, `.5` becomes `0.5`, `5.` becomes `5`.
    fn parse(b: &[u8]) -> Option<Decimal> {
        let (neg, rest) = match b.first()? {
            b'-' => (true, &b[1..]),
            b'+' => (false, &b[1..]),
            _ => (false, b),
        };
        let (int, frac) = match rest.iter().position(|&c| c == b'.') {
            Some(p) => (&rest[..p], &rest[p + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        if !int.iter().chain(frac).all(u8::is_ascii_digit) {
            return None;
        }
        let mut s = String::with_capacity(b.len() + 2);
        if neg {
            s.push('-');
        }
        if int.is_empty() {
            s.push('0');
        }
        // All ASCII digits (checked above).
        s.push_str(std::str::from_utf8(int).ok()?);
        if !frac.is_empty() {
            s.push('.');
            s.push_str(std::str::from_utf8(frac).ok()?);
        }
        Some(Decimal(s.into()))
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Decimal {
    type Err = FromValueError;
    /// Parses `[-]digits[.digits]` (no exponent).
    fn from_str(s: &str) -> Result<Decimal, FromValueError> {
        Decimal::parse(s.as_bytes()).ok_or_else(|| invalid("a decimal number", s.as_bytes()))
    }
}

macro_rules! decimal_from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Decimal {
            fn from(n: $t) -> Decimal {
                Decimal(n.to_string().into())
            }
        }
    )*};
}

decimal_from_int!(i8, i16, i32, i64, i128, u8, u16, u32, u64, u128);

impl FromValue for Decimal {
    fn from_value(v: ValueRef<'_>) -> Result<Self, FromValueError> {
        let b = v.raw().ok_or(FromValueError::Null)?;
        let t = v.column().column_type();
        if t.is_decimal() || t.is_integer() {
            return Decimal::parse(b).ok_or_else(|| invalid("a decimal number", b));
        }
        if t == ColumnType::Bit {
            return bit_value(b).map(Decimal::from);
        }
        Err(FromValueError::WrongType(format!(
            "{t:?} column is not an exact number{}",
            if t.is_float() {
                "; FLOAT/DOUBLE are approximate, read it as f64"
            } else {
                ""
            }
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals() {
        let d: Decimal = "-12.50".parse().unwrap();
        assert_eq!(d.as_str(), "-12.50");
        assert!(d.is_negative());
        assert_eq!(d.scale(), 2);
        assert_eq!("+.5".parse::<Decimal>().unwrap().as_str(), "0.5");
        assert_eq!("5.".parse::<Decimal>().unwrap().as_str(), "5");
        assert!(!"-0.00".parse::<Decimal>().unwrap().is_negative());
        for bad in ["", "-", ".", "1e5", "1.2.3", "1,5", " 1", "0x10"] {
            assert!(bad.parse::<Decimal>().is_err(), "{bad:?}");
        }
        assert_eq!(Decimal::from(u64::MAX).as_str(), "18446744073709551615");
    }
}
