//! Conversion of Rust values into query parameters: the [`ToValue`] trait and its
//! impls for the standard types and the crate's own.

use std::borrow::Cow;

use super::decimal::Decimal;
use super::temporal::{Date, DateTime, Time};
use super::value::Value;

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

/// A duration in microseconds as a TIME value, or as `[-]H:MM:SS.ffffff` text when
/// it is out of TIME's range (the server then clamps or refuses it).
#[cfg(any(feature = "chrono", feature = "time"))]
pub(super) fn time_or_text(micros: i64) -> Value {
    match Time::from_micros(micros) {
        Some(t) => Value::Time(t),
        None => {
            let m = micros.unsigned_abs();
            let s = m / 1_000_000;
            Value::Text(format!(
                "{}{}:{:02}:{:02}.{:06}",
                if micros < 0 { "-" } else { "" },
                s / 3600,
                (s / 60) % 60,
                s % 60,
                m % 1_000_000
            ))
        }
    }
}
