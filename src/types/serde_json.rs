//! `serde_json::Value` for JSON (and any text) columns.

use super::from_value::FromValue;
use super::to_value::ToValue;
use super::value::Value;
use super::value_ref::{FromValueError, ValueRef};

impl FromValue for serde_json::Value {
    fn from_value(v: ValueRef<'_>) -> Result<Self, FromValueError> {
        let b = v.raw().ok_or(FromValueError::Null)?;
        if !v.column().column_type().is_string_like() {
            return Err(FromValueError::WrongType(format!(
                "{:?} column does not hold JSON text",
                v.column().column_type()
            )));
        }
        serde_json::from_slice(b).map_err(|e| FromValueError::Invalid(format!("not JSON: {e}")))
    }
}

impl ToValue for serde_json::Value {
    /// The JSON text, as a string parameter.
    fn to_value(&self) -> Value {
        Value::Text(self.to_string())
    }
}
