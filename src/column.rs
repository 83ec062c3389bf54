//! Column metadata: a result column's name, wire type and flags, and how a row's
//! columns are named ([`ColumnIndex`]).

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
    /// ZEROFILL: the text form is padded with zeros to the column's width.
    pub const ZEROFILL: u32 = 64;
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
