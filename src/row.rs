//! Column metadata, owned rows and rows borrowed from the library's buffer.

use std::fmt;
use std::sync::Arc;

use crate::error::{Error, ErrorKind, Result};
use crate::raw::RawRow;
use crate::value::{FromValue, FromValueRef, ValueRef};

/// The wire type of a column (`enum_field_types`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[allow(missing_docs)]
pub enum ColumnType {
    Decimal,
    NewDecimal,
    Tiny,
    Short,
    Int24,
    Long,
    LongLong,
    Float,
    Double,
    Null,
    Timestamp,
    Date,
    Time,
    DateTime,
    Year,
    NewDate,
    VarChar,
    Bit,
    Json,
    Enum,
    Set,
    TinyBlob,
    MediumBlob,
    LongBlob,
    Blob,
    VarString,
    String,
    Geometry,
    /// A type code this crate does not know.
    Unknown(u32),
}

impl ColumnType {
    pub(crate) fn from_raw(t: u32) -> ColumnType {
        use ColumnType::*;
        match t {
            0 => Decimal,
            1 => Tiny,
            2 => Short,
            3 => Long,
            4 => Float,
            5 => Double,
            6 => Null,
            7 | 17 => Timestamp,
            8 => LongLong,
            9 => Int24,
            10 => Date,
            11 | 19 => Time,
            12 | 18 => DateTime,
            13 => Year,
            14 => NewDate,
            15 => VarChar,
            16 => Bit,
            245 => Json,
            246 => NewDecimal,
            247 => Enum,
            248 => Set,
            249 => TinyBlob,
            250 => MediumBlob,
            251 => LongBlob,
            252 => Blob,
            253 => VarString,
            254 => String,
            255 => Geometry,
            other => Unknown(other),
        }
    }

    /// TINYINT … BIGINT (and YEAR, which travels as an integer).
    pub fn is_integer(self) -> bool {
        use ColumnType::*;
        matches!(self, Tiny | Short | Int24 | Long | LongLong | Year)
    }

    /// FLOAT or DOUBLE.
    pub fn is_float(self) -> bool {
        matches!(self, ColumnType::Float | ColumnType::Double)
    }

    /// DECIMAL/NUMERIC.
    pub fn is_decimal(self) -> bool {
        matches!(self, ColumnType::Decimal | ColumnType::NewDecimal)
    }

    /// CHAR/VARCHAR/TEXT/BLOB/BINARY/ENUM/SET/JSON/GEOMETRY: anything sent as bytes.
    pub fn is_string_like(self) -> bool {
        use ColumnType::*;
        matches!(
            self,
            VarChar
                | VarString
                | String
                | TinyBlob
                | MediumBlob
                | LongBlob
                | Blob
                | Enum
                | Set
                | Json
                | Geometry
                | Bit
        )
    }

    /// DATE, TIME, DATETIME, TIMESTAMP.
    pub fn is_temporal(self) -> bool {
        use ColumnType::*;
        matches!(self, Date | NewDate | Time | DateTime | Timestamp)
    }
}

/// Column flags (`NOT_NULL_FLAG`, `UNSIGNED_FLAG`, …) as the server sent them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ColumnFlags(pub u32);

impl ColumnFlags {
    /// `NOT NULL`.
    pub const NOT_NULL: u32 = 1;
    /// Part of the primary key.
    pub const PRIMARY_KEY: u32 = 2;
    /// BLOB or TEXT.
    pub const BLOB: u32 = 16;
    /// UNSIGNED.
    pub const UNSIGNED: u32 = 32;
    /// BINARY (also set for binary collations).
    pub const BINARY: u32 = 128;
    /// ENUM.
    pub const ENUM: u32 = 256;
    /// AUTO_INCREMENT.
    pub const AUTO_INCREMENT: u32 = 512;
    /// SET.
    pub const SET: u32 = 2048;

    /// Whether `flag` is set.
    pub fn contains(self, flag: u32) -> bool {
        self.0 & flag != 0
    }
}

/// The character set number of binary strings (`binary` collation 63).
pub const BINARY_CHARSET: u32 = 63;

/// Metadata of one result column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    name: String,
    org_name: String,
    table: String,
    org_table: String,
    db: String,
    column_type: ColumnType,
    flags: ColumnFlags,
    charset: u32,
    decimals: u32,
    length: u64,
}

impl Column {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        name: String,
        org_name: String,
        table: String,
        org_table: String,
        db: String,
        column_type: ColumnType,
        flags: u32,
        charset: u32,
        decimals: u32,
        length: u64,
    ) -> Column {
        Column {
            name,
            org_name,
            table,
            org_table,
            db,
            column_type,
            flags: ColumnFlags(flags),
            charset,
            decimals,
            length,
        }
    }

    /// The name (or alias) as it appears in the result.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The underlying column name, before any alias.
    pub fn org_name(&self) -> &str {
        &self.org_name
    }
    /// Table alias.
    pub fn table(&self) -> &str {
        &self.table
    }
    /// Underlying table name.
    pub fn org_table(&self) -> &str {
        &self.org_table
    }
    /// Database of the table.
    pub fn db(&self) -> &str {
        &self.db
    }
    /// Wire type.
    pub fn column_type(&self) -> ColumnType {
        self.column_type
    }
    /// Flags.
    pub fn flags(&self) -> ColumnFlags {
        self.flags
    }
    /// Whether the column may hold NULL.
    pub fn is_nullable(&self) -> bool {
        !self.flags.contains(ColumnFlags::NOT_NULL)
    }
    /// Whether an integer column is UNSIGNED.
    pub fn is_unsigned(&self) -> bool {
        self.flags.contains(ColumnFlags::UNSIGNED)
    }
    /// Whether the values are raw bytes (binary charset) rather than text.
    pub fn is_binary(&self) -> bool {
        self.charset == BINARY_CHARSET
    }
    /// Character set / collation number.
    pub fn charset(&self) -> u32 {
        self.charset
    }
    /// Digits after the decimal point (DECIMAL, fractional seconds).
    pub fn decimals(&self) -> u32 {
        self.decimals
    }
    /// Declared display length.
    pub fn length(&self) -> u64 {
        self.length
    }
}

/// Anything that names a column: an index (`0`) or a name (`"id"`).
pub trait ColumnIndex {
    /// The position of the column in `columns`, if it exists.
    fn index_in(&self, columns: &[Column]) -> Option<usize>;
    /// For error messages.
    fn describe(&self) -> String;
}

impl ColumnIndex for usize {
    fn index_in(&self, columns: &[Column]) -> Option<usize> {
        (*self < columns.len()).then_some(*self)
    }
    fn describe(&self) -> String {
        format!("#{self}")
    }
}

impl ColumnIndex for &str {
    fn index_in(&self, columns: &[Column]) -> Option<usize> {
        columns.iter().position(|c| c.name == *self)
    }
    fn describe(&self) -> String {
        format!("`{self}`")
    }
}

impl ColumnIndex for String {
    fn index_in(&self, columns: &[Column]) -> Option<usize> {
        self.as_str().index_in(columns)
    }
    fn describe(&self) -> String {
        format!("`{self}`")
    }
}

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
    pub fn try_get<'r, T: FromValueRef<'r>, I: ColumnIndex>(&'r self, index: I) -> Result<T> {
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
    pub fn get<'r, T: FromValueRef<'r>, I: ColumnIndex>(&'r self, index: I) -> T {
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
fn conversion_error<T>(col: &Column, reason: crate::value::FromValueError) -> Error {
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

impl fmt::Debug for Row {
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
    pub fn try_get<T: FromValueRef<'a>, I: ColumnIndex>(&self, index: I) -> Result<T> {
        let i = index
            .index_in(self.columns)
            .ok_or_else(|| no_column(&index))?;
        convert_ref(&self.columns[i], self.value(i))
    }

    /// Convert a column to `T`; panics naming the column on failure.
    pub fn get<T: FromValueRef<'a>, I: ColumnIndex>(&self, index: I) -> T {
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
