//! `rust_decimal::Decimal` for DECIMAL (and integer) columns.

use std::str::FromStr;

use super::from_value::FromValue;
use super::to_value::ToValue;
use super::value::Value;
use super::value_ref::{FromValueError, ValueRef};

impl FromValue for rust_decimal::Decimal {
    /// Exact: a value with more than 28 significant digits is an overflow,
    /// never rounded.
    fn from_value(v: ValueRef<'_>) -> Result<Self, FromValueError> {
        let d = super::decimal::Decimal::from_value(v)?;
        rust_decimal::Decimal::from_str_exact(d.as_str()).map_err(|_| FromValueError::Overflow)
    }
}

impl ToValue for rust_decimal::Decimal {
    fn to_value(&self) -> Value {
        let s = self.to_string();
        match super::decimal::Decimal::from_str(&s) {
            Ok(d) => Value::Decimal(d),
            Err(_) => Value::Text(s),
        }
    }
}
