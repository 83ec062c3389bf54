//! Owned rows, rows borrowed from the library's buffer, and whole result sets.

use std::fmt;
use std::sync::Arc;

use crate::column::{Column, ColumnIndex};
use crate::error::{Error, ErrorKind, Result};
use crate::raw::RawRow;
use crate::types::{FromValue, FromValueError, FromValueRef, ValueRef};

/// Length that marks a NULL cell in a [`Row`]'s cell table.
const NULL_LEN: u32 = u32::MAX;
/// Bytes per entry of a [`Row`]'s cell table: start and length, native-endian u32.
const CELL: usize = 8;

/// An owned row: the shared columns plus one allocation holding a table of cells
/// (start and length of each) followed by the cell bytes.
#[derive(Clone)]
pub struct Row {
    columns: Arc<[Column]>,
    buf: Box<[u8]>,
}

impl Row {
    pub(crate) fn from_raw(columns: &Arc<[Column]>, raw: &RawRow<'_>) -> Row {
        let n = raw.len();
        debug_assert_eq!(n, columns.len());
        let mut total = n * CELL;
        for i in 0..n {
            total += raw.cell(i).map_or(0, <[u8]>::len);
        }
        // One allocation per row; `into_boxed_slice` keeps it (capacity == length).
        let mut buf = Vec::with_capacity(total);
        buf.resize(n * CELL, 0);
        for i in 0..n {
            let (start, len) = match raw.cell(i) {
                None => (0, NULL_LEN),
                Some(b) => {
                    let start = buf.len();
                    buf.extend_from_slice(b);
                    // A packet (hence a row) is below 1 GiB: the offsets fit u32.
                    (start as u32, b.len() as u32)
                }
            };
            buf[i * CELL..i * CELL + 4].copy_from_slice(&start.to_ne_bytes());
            buf[i * CELL + 4..i * CELL + 8].copy_from_slice(&len.to_ne_bytes());
        }
        Row {
            columns: columns.clone(),
            buf: buf.into_boxed_slice(),
        }
    }

    /// The columns of the result this row belongs to.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// Number of columns.
    pub fn len(&self) -> usize {
        self.columns.len()
    }

    /// Whether the row has no columns.
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// The raw bytes of a cell as the server sent them (`None` for NULL).
    ///
    /// # Panics
    /// If `i` is not below [`len`](Self::len).
    #[inline]
    pub fn raw(&self, i: usize) -> Option<&[u8]> {
        assert!(i < self.len(), "column index {i} out of range");
        let at = |k: usize| {
            let b: [u8; 4] = self.buf[k..k + 4].try_into().expect("4 bytes");
            u32::from_ne_bytes(b)
        };
        let (start, len) = (at(i * CELL), at(i * CELL + 4));
        if len == NULL_LEN {
            None
        } else {
            Some(&self.buf[start as usize..start as usize + len as usize])
        }
    }

    /// A borrowed view of a cell.
    pub fn value(&self, i: usize) -> ValueRef<'_> {
        ValueRef::new(&self.columns[i], self.raw(i))
    }

    /// Convert a column to `T`, or explain why not (naming the column).
    ///
    /// `T` is any [`FromValue`] type, or a borrowing one (`&str`, `&[u8]`, see
    /// [`FromValueRef`]) that reads from the row without copying.
    pub fn try_get<'r, T: FromValueRef<'r>>(&'r self, index: impl ColumnIndex) -> Result<T> {
        let i = index
            .index_in(&self.columns)
            .ok_or_else(|| no_column(&index))?;
        convert_ref(&self.columns[i], self.value(i))
    }

    /// Convert a column to `T`.
    ///
    /// # Panics
    /// If the column does not exist or the value does not convert; the panic message
    /// names the column. Use [`Row::try_get`] to handle that as an error.
    pub fn get<'r, T: FromValueRef<'r>>(&'r self, index: impl ColumnIndex) -> T {
        match self.try_get(index) {
            Ok(v) => v,
            Err(e) => panic!("Row::get: {e}"),
        }
    }
}

fn no_column(index: &dyn ColumnIndex) -> Error {
    Error::new(
        ErrorKind::Conversion,
        format!("no column {} in this row", index.describe()),
    )
    .with_fatal(false)
}

#[inline]
pub(crate) fn convert<T: FromValue>(col: &Column, v: ValueRef<'_>) -> Result<T> {
    T::from_value(v).map_err(|reason| conversion_error::<T>(col, reason))
}

#[inline]
pub(crate) fn convert_ref<'a, T: FromValueRef<'a>>(col: &Column, v: ValueRef<'a>) -> Result<T> {
    T::from_value_ref(v).map_err(|reason| conversion_error::<T>(col, reason))
}

#[cold]
fn conversion_error<T>(col: &Column, reason: FromValueError) -> Error {
    Error::new(
        ErrorKind::Conversion,
        format!(
            "column `{}` ({:?}): cannot convert to {}: {reason}",
            col.name(),
            col.column_type(),
            std::any::type_name::<T>()
        ),
    )
    .with_fatal(false)
}

/// A map of column name to value: `{"id": 41, "name": "ada", "photo": NULL}`
/// (see [`ValueRef`]'s `Debug` for how values print).
impl fmt::Debug for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (i, c) in self.columns.iter().enumerate() {
            m.entry(&c.name(), &self.value(i));
        }
        m.finish()
    }
}

/// A map of column name to value: `{"id": 41, "name": "ada", "photo": NULL}`
/// (see [`ValueRef`]'s `Debug` for how values print).
impl fmt::Debug for RowRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (i, c) in self.columns.iter().enumerate() {
            m.entry(&c.name(), &self.value(i));
        }
        m.finish()
    }
}

/// A row borrowed from the library's buffer while streaming: reading a column copies
/// nothing. Valid until the next row is fetched.
pub struct RowRef<'a> {
    columns: &'a Arc<[Column]>,
    raw: RawRow<'a>,
}

impl<'a> RowRef<'a> {
    pub(crate) fn new(columns: &'a Arc<[Column]>, raw: RawRow<'a>) -> RowRef<'a> {
        RowRef { columns, raw }
    }

    /// The columns of the result.
    pub fn columns(&self) -> &'a [Column] {
        self.columns
    }

    /// Number of columns.
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    /// Whether the row has no columns.
    pub fn is_empty(&self) -> bool {
        self.raw.len() == 0
    }

    /// Raw bytes of a cell (`None` for NULL), borrowed from the library.
    pub fn raw(&self, i: usize) -> Option<&'a [u8]> {
        self.raw.cell(i)
    }

    /// A borrowed view of a cell.
    pub fn value(&self, i: usize) -> ValueRef<'a> {
        ValueRef::new(&self.columns[i], self.raw.cell(i))
    }

    /// Convert a column to `T`, or explain why not.
    ///
    /// `T` may borrow from the library's buffer: `&'a str` and `&'a [u8]` (see
    /// [`FromValueRef`]) read the cell without copying anything.
    pub fn try_get<T: FromValueRef<'a>>(&self, index: impl ColumnIndex) -> Result<T> {
        let i = index
            .index_in(self.columns)
            .ok_or_else(|| no_column(&index))?;
        convert_ref(&self.columns[i], self.value(i))
    }

    /// Convert a column to `T`; panics naming the column on failure.
    pub fn get<T: FromValueRef<'a>>(&self, index: impl ColumnIndex) -> T {
        match self.try_get(index) {
            Ok(v) => v,
            Err(e) => panic!("RowRef::get: {e}"),
        }
    }

    /// Copy into an owned [`Row`].
    pub fn to_owned(&self) -> Row {
        Row::from_raw(self.columns, &self.raw)
    }
}

/// Build a value from a whole row (tuples of [`FromValue`] types, or [`Row`] itself).
///
/// With the `derive` feature, `#[derive(FromRow)]` implements it for a struct whose
/// fields are read from the columns of their names.
pub trait FromRow: Sized {
    /// Convert an owned row.
    fn from_row(row: Row) -> Result<Self>;
    /// Convert a borrowed row (the default copies it first).
    fn from_row_ref(row: &RowRef<'_>) -> Result<Self> {
        Self::from_row(row.to_owned())
    }
}

impl FromRow for Row {
    fn from_row(row: Row) -> Result<Row> {
        Ok(row)
    }
}

/// A single-column row converts straight into the column's type:
/// `conn.query_one::<i64>("SELECT COUNT(*) …")`.
impl<T: FromValue> FromRow for T {
    fn from_row(row: Row) -> Result<T> {
        check_arity(row.len(), 1)?;
        convert(&row.columns[0], row.value(0))
    }
    fn from_row_ref(row: &RowRef<'_>) -> Result<T> {
        check_arity(row.len(), 1)?;
        convert(&row.columns[0], row.value(0))
    }
}

fn check_arity(n: usize, want: usize) -> Result<()> {
    if n != want {
        return Err(Error::new(
            ErrorKind::Conversion,
            format!("row has {n} columns but the target tuple has {want}"),
        )
        .with_fatal(false));
    }
    Ok(())
}

macro_rules! tuple_from_row {
    ($n:expr; $($t:ident $i:tt),+) => {
        impl<$($t: FromValue),+> FromRow for ($($t,)+) {
            fn from_row(row: Row) -> Result<Self> {
                check_arity(row.len(), $n)?;
                Ok(($(convert::<$t>(&row.columns[$i], row.value($i))?,)+))
            }
            fn from_row_ref(row: &RowRef<'_>) -> Result<Self> {
                check_arity(row.len(), $n)?;
                Ok(($(convert::<$t>(&row.columns[$i], row.value($i))?,)+))
            }
        }
    };
}

tuple_from_row!(1; A 0);
tuple_from_row!(2; A 0, B 1);
tuple_from_row!(3; A 0, B 1, C 2);
tuple_from_row!(4; A 0, B 1, C 2, D 3);
tuple_from_row!(5; A 0, B 1, C 2, D 3, E 4);
tuple_from_row!(6; A 0, B 1, C 2, D 3, E 4, F 5);
tuple_from_row!(7; A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuple_from_row!(8; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);
tuple_from_row!(9; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8);
tuple_from_row!(10; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9);
tuple_from_row!(11; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10);
tuple_from_row!(12; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11);

/// A complete result set: columns, rows and the statement's status.
#[derive(Debug, Clone)]
pub struct ResultSet {
    /// Column metadata (empty for statements without a result set).
    pub columns: Arc<[Column]>,
    /// All rows.
    pub rows: Vec<Row>,
    /// The statement's status.
    pub status: ExecResult,
}

/// What a statement reported: affected rows, insert id, warnings, info.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecResult {
    /// Rows changed (or rows returned, for a SELECT).
    pub affected_rows: u64,
    /// AUTO_INCREMENT id generated by an INSERT, or 0.
    pub last_insert_id: u64,
    /// Number of warnings (`SHOW WARNINGS` lists them).
    pub warnings: u32,
    /// The server's info string, e.g. `Rows matched: 1  Changed: 1  Warnings: 0`.
    pub info: Option<String>,
}
