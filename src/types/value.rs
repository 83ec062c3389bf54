//! The owned value ([`Value`]): what a cell holds once decoded by its column type,
//! and what a query parameter is before it is written into the SQL text.

use super::decimal::Decimal;
use super::from_value::{bit_value, FromValue};
use super::temporal::{Date, DateTime, Time};
use super::value_ref::{FromValueError, ValueRef};
use crate::column::ColumnType;

/// An owned value: what a cell holds once decoded by its column type, and what a
/// query parameter is before it is written into the SQL text.
///
/// Read one with `row.get::<Value>(i)`; build one with `Value::from(…)` or
/// [`ToValue`](crate::ToValue).
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub enum Value {
    /// SQL NULL.
    #[default]
    Null,
    /// A signed integer (TINYINT … BIGINT).
    Int(i64),
    /// An unsigned integer (… UNSIGNED, YEAR, BIT(n)).
    UInt(u64),
    /// A FLOAT.
    Float(f32),
    /// A DOUBLE.
    Double(f64),
    /// An exact DECIMAL.
    Decimal(Decimal),
    /// Text (CHAR, VARCHAR, TEXT, ENUM, SET, JSON).
    Text(String),
    /// Bytes (BINARY, VARBINARY, BLOB, GEOMETRY, or text that is not UTF-8).
    Bytes(Vec<u8>),
    /// A DATE.
    Date(Date),
    /// A TIME.
    Time(Time),
    /// A DATETIME or TIMESTAMP.
    DateTime(DateTime),
}

impl Value {
    /// Whether this is SQL NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

macro_rules! value_from {
    ($($t:ty => $variant:ident as $as:ty),* $(,)?) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Value {
                Value::$variant(v as $as)
            }
        }
    )*};
}

value_from!(
    i8 => Int as i64, i16 => Int as i64, i32 => Int as i64, i64 => Int as i64,
    u8 => UInt as u64, u16 => UInt as u64, u32 => UInt as u64, u64 => UInt as u64,
    f32 => Float as f32, f64 => Double as f64,
);

impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Int(v as i64)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Text(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Text(v)
    }
}
impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Value {
        Value::Bytes(v.to_vec())
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Value {
        Value::Bytes(v)
    }
}
impl From<Decimal> for Value {
    fn from(v: Decimal) -> Value {
        Value::Decimal(v)
    }
}
impl From<Date> for Value {
    fn from(v: Date) -> Value {
        Value::Date(v)
    }
}
impl From<Time> for Value {
    fn from(v: Time) -> Value {
        Value::Time(v)
    }
}
impl From<DateTime> for Value {
    fn from(v: DateTime) -> Value {
        Value::DateTime(v)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

impl FromValue for Value {
    fn from_value(v: ValueRef<'_>) -> Result<Self, FromValueError> {
        let Some(b) = v.raw else {
            return Ok(Value::Null);
        };
        use ColumnType as T;
        Ok(match v.column.column_type() {
            t if t.is_integer() => {
                if v.column.is_unsigned() || t == T::Year {
                    Value::UInt(u64::from_value(v)?)
                } else {
                    Value::Int(i64::from_value(v)?)
                }
            }
            T::Bit => Value::UInt(bit_value(b)?),
            T::Float => Value::Float(f32::from_value(v)?),
            T::Double => Value::Double(f64::from_value(v)?),
            T::Decimal | T::NewDecimal => Value::Decimal(Decimal::from_value(v)?),
            T::Date | T::NewDate => Value::Date(Date::from_value(v)?),
            T::Time => Value::Time(Time::from_value(v)?),
            T::DateTime | T::Timestamp => Value::DateTime(DateTime::from_value(v)?),
            T::Null => Value::Null,
            _ if v.is_bytes() => Value::Bytes(b.to_vec()),
            _ => match std::str::from_utf8(b) {
                Ok(s) => Value::Text(s.to_owned()),
                Err(_) => Value::Bytes(b.to_vec()),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::column::Column;

    #[test]
    fn integer_cell_into_value() {
        let c = Column::new(
            "c".into(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            ColumnType::LongLong,
            0,
            63,
            0,
            0,
        );
        let v = |s: &'static str| ValueRef::new(&c, Some(s.as_bytes()));
        assert_eq!(Value::from_value(v("-5")), Ok(Value::Int(-5)));
    }
}
