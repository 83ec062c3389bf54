//! What the code of `#[derive(FromRow)]` calls: finding a field's column, reading
//! it, and the errors, which name the struct and the field. Not part of the API:
//! only the derive's output uses it, and it changes with the derive.

use std::fmt;

use crate::column::Column;
use crate::error::{Error, ErrorKind, Result};
use crate::types::{FromValue, FromValueError, ValueRef};

/// At most this many of a row's column names are listed in a missing-column error.
const LISTED: usize = 32;

/// The position of the first column named `name`.
#[inline]
pub fn position(columns: &[Column], name: &str) -> Option<usize> {
    columns.iter().position(|c| c.name() == name)
}

/// The position of the column that field `target.field` reads, or the error that
/// says the row has none.
#[inline]
pub fn column(columns: &[Column], name: &str, target: &str, field: &str) -> Result<usize> {
    match position(columns, name) {
        Some(i) => Ok(i),
        None => Err(missing_column(columns, name, target, field)),
    }
}

#[cold]
#[inline(never)]
fn missing_column(columns: &[Column], name: &str, target: &str, field: &str) -> Error {
    let mut have = String::new();
    for (i, c) in columns.iter().take(LISTED).enumerate() {
        if i > 0 {
            have.push_str(", ");
        }
        have.push('`');
        have.push_str(c.name());
        have.push('`');
    }
    if columns.len() > LISTED {
        have.push_str(&format!(" and {} more", columns.len() - LISTED));
    }
    let have = if columns.is_empty() {
        "the row has no columns".to_owned()
    } else {
        format!("the row has {have}")
    };
    Error::new(
        ErrorKind::Conversion,
        format!("no column `{name}` for field `{target}.{field}`; {have}"),
    )
    .with_fatal(false)
}

/// Convert the cell of field `target.field`.
#[inline]
pub fn get<T: FromValue>(v: ValueRef<'_>, target: &str, field: &str) -> Result<T> {
    T::from_value(v).map_err(|reason| conversion_error::<T>(v, reason, target, field))
}

#[cold]
#[inline(never)]
fn conversion_error<T>(
    v: ValueRef<'_>,
    reason: FromValueError,
    target: &str,
    field: &str,
) -> Error {
    let col = v.column();
    Error::new(
        ErrorKind::Conversion,
        format!(
            "field `{target}.{field}`: column `{}` ({:?}): cannot convert to {}: {reason}",
            col.name(),
            col.column_type(),
            std::any::type_name::<T>()
        ),
    )
    .with_fatal(false)
}

/// Convert the cell of field `target.field` to `S`, then to `T` with `TryFrom`
/// (`#[mysql(try_from = "S")]`).
#[inline]
pub fn get_try_from<S: FromValue, T: TryFrom<S>>(
    v: ValueRef<'_>,
    target: &str,
    field: &str,
) -> Result<T>
where
    T::Error: fmt::Display,
{
    let s: S = get(v, target, field)?;
    T::try_from(s).map_err(|e| try_from_error::<S, T>(v.column(), &e, target, field))
}

#[cold]
#[inline(never)]
fn try_from_error<S, T>(col: &Column, e: &dyn fmt::Display, target: &str, field: &str) -> Error {
    Error::new(
        ErrorKind::Conversion,
        format!(
            "field `{target}.{field}`: column `{}` ({:?}): read as {}, cannot convert to {}: {e}",
            col.name(),
            col.column_type(),
            std::any::type_name::<S>(),
            std::any::type_name::<T>()
        ),
    )
    .with_fatal(false)
}

/// A tuple struct reads every column by position: the row has exactly its fields.
#[inline]
pub fn check_arity(n: usize, want: usize, target: &str) -> Result<()> {
    if n == want {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::Conversion,
        format!("row has {n} columns but `{target}` has {want} fields"),
    )
    .with_fatal(false))
}
