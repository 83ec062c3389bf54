//! Values and their types.
//!
//! - [`ValueRef`]: one cell, borrowed; [`FromValueRef`] converts it into types that
//!   may borrow from the row (`&str`, `&[u8]`), [`FromValue`] into owned ones, and
//!   [`FromValueError`] says why a cell did not convert.
//! - [`Value`]: an owned value, a decoded cell or a query parameter; [`ToValue`]
//!   turns Rust values into one.
//! - [`Date`], [`Time`], [`DateTime`] and [`Decimal`]: the crate's own date, time and
//!   decimal types, what MySQL/MariaDB can hold, no more and no less.
//!
//! Conversions look at the column's type and flags, never guess from the bytes alone:
//! an integer column converts to integers (checked for overflow), a binary column
//! gives bytes and refuses to become a `String`, NULL converts only into `Option`.
//! The conversion table is on [`FromValue`].
//!
//! With the cargo features `chrono`, `time`, `rust_decimal` and `serde_json`, the
//! corresponding types of those crates convert too (one file each).
//!
//! The files depend on each other in one direction only: `value_ref` ←
//! `from_value` ← `temporal`, `decimal` ← `value` ← `to_value` ← the optional
//! crates. Each imports its siblings directly, never through this module.

mod decimal;
mod from_value;
mod temporal;
mod to_value;
mod value;
mod value_ref;

#[cfg(feature = "chrono")]
mod chrono;
#[cfg(feature = "rust_decimal")]
mod rust_decimal;
#[cfg(feature = "serde_json")]
mod serde_json;
#[cfg(feature = "time")]
mod time;

pub use self::decimal::Decimal;
pub use self::from_value::FromValue;
pub use self::temporal::{Date, DateTime, Time};
pub use self::to_value::ToValue;
pub use self::value::Value;
pub use self::value_ref::{FromValueError, FromValueRef, ValueRef};
