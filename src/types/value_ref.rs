//! A borrowed cell ([`ValueRef`]), why a cell does not convert ([`FromValueError`]),
//! and the conversions that may borrow from the row ([`FromValueRef`]: `&str` and
//! `&[u8]` without copying).

use std::fmt;

use crate::column::{Column, ColumnType};

/// One cell, borrowed: its column plus the bytes the server sent (text protocol),
/// or `None` for SQL NULL. Converting it copies only what the target type needs.
#[derive(Clone, Copy)]
pub struct ValueRef<'a> {
    pub(super) column: &'a Column,
    pub(super) raw: Option<&'a [u8]>,
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

    /// Whether this is a binary string (BINARY, VARBINARY, BLOB, BIT, GEOMETRY, …):
    /// bytes, not text. Numbers and dates also carry the binary charset but are not
    /// "bytes"; ENUM, SET and JSON are always text (MySQL labels JSON binary).
    pub fn is_bytes(&self) -> bool {
        let t = self.column.column_type();
        self.column.is_binary()
            && t.is_string_like()
            && !matches!(t, ColumnType::Json | ColumnType::Enum | ColumnType::Set)
    }

    /// The value as text, borrowed, when the column is not a binary string and the
    /// bytes are valid UTF-8.
    pub fn as_str(&self) -> Result<&'a str, FromValueError> {
        let b = self.raw.ok_or(FromValueError::Null)?;
        if self.is_bytes() {
            return Err(FromValueError::WrongType(
                "binary column: read it as Vec<u8> or &[u8]".into(),
            ));
        }
        std::str::from_utf8(b).map_err(|_| FromValueError::InvalidUtf8)
    }

    /// The bytes, borrowed (any non-NULL value).
    pub fn as_bytes(&self) -> Result<&'a [u8], FromValueError> {
        self.raw.ok_or(FromValueError::Null)
    }

    /// Convert into `T`.
    pub fn get<T: FromValueRef<'a>>(self) -> Result<T, FromValueError> {
        T::from_value_ref(self)
    }
}

/// Numbers print as numbers (`41`, `2.5`), text quoted (`"abc"`), binary strings
/// as escaped byte strings (`b"\x00\xff"`, the first 64 bytes), NULL as `NULL`.
impl fmt::Debug for ValueRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(b) = self.raw else {
            return f.write_str("NULL");
        };
        let t = self.column.column_type();
        let numeric = t.is_integer() || t.is_float() || t.is_decimal();
        match std::str::from_utf8(b) {
            Ok(s) if numeric => f.write_str(s),
            Ok(s) if !self.is_bytes() => write!(f, "{s:?}"),
            _ => {
                const SHOWN: usize = 64;
                f.write_str("b\"")?;
                for &c in &b[..b.len().min(SHOWN)] {
                    write!(f, "{}", std::ascii::escape_default(c))?;
                }
                f.write_str("\"")?;
                if b.len() > SHOWN {
                    write!(f, "… ({} bytes)", b.len())?;
                }
                Ok(())
            }
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

/// Conversion from a cell into a type that may borrow from the row: `&'a str` and
/// `&'a [u8]` (and their `Option`s) read without copying; every [`FromValue`] type
/// works too. This is what [`Row::get`](crate::Row::get) and
/// [`RowRef::get`](crate::RowRef::get) take.
///
/// ```no_run
/// # fn demo(conn: &mut mysqlclient_async::Conn) -> mysqlclient_async::Result<()> {
/// let row: mysqlclient_async::Row = conn.query_one("SELECT 'abc', X'00ff'")?;
/// let s: &str = row.get(0); // borrowed from the row, no copy
/// let b: &[u8] = row.get(1);
/// assert_eq!((s, b), ("abc", &[0u8, 255][..]));
/// # Ok(()) }
/// ```
///
/// [`FromValue`]: crate::FromValue
pub trait FromValueRef<'a>: Sized {
    /// Convert, or say why not.
    fn from_value_ref(v: ValueRef<'a>) -> Result<Self, FromValueError>;
}

impl<'a> FromValueRef<'a> for &'a str {
    /// Text columns only (a binary string is refused, as for `String`).
    #[inline]
    fn from_value_ref(v: ValueRef<'a>) -> Result<Self, FromValueError> {
        v.as_str()
    }
}

impl<'a> FromValueRef<'a> for &'a [u8] {
    /// The raw bytes of any non-NULL value.
    #[inline]
    fn from_value_ref(v: ValueRef<'a>) -> Result<Self, FromValueError> {
        v.as_bytes()
    }
}

impl<'a> FromValueRef<'a> for Option<&'a str> {
    #[inline]
    fn from_value_ref(v: ValueRef<'a>) -> Result<Self, FromValueError> {
        if v.is_null() {
            Ok(None)
        } else {
            v.as_str().map(Some)
        }
    }
}

impl<'a> FromValueRef<'a> for Option<&'a [u8]> {
    #[inline]
    fn from_value_ref(v: ValueRef<'a>) -> Result<Self, FromValueError> {
        Ok(v.raw)
    }
}
