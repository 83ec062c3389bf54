//! The owner of a `MYSQL_STMT*`: parameters bound in binary, rows fetched over
//! the binary protocol and laid out as the cells the text protocol would carry.
//!
//! Why text-shaped cells: every conversion of the crate (`FromValue`, `Value`,
//! `Row`, `RowRef`) reads a cell as the server's text. Writing each binary value
//! in exactly that form (integers in decimal, zero-filled where the column says
//! so, dates as `YYYY-MM-DD hh:mm:ss.ffffff` with the column's fraction digits,
//! FLOAT with the server's six significant digits) means a value cannot tell which
//! protocol carried it. Strings, blobs, DECIMAL, BIT, JSON and GEOMETRY travel as
//! bytes in both protocols and are handed on as they are, from the bind buffer.
//!
//! The `MYSQL_BIND` and `MYSQL_TIME` layouts differ between Connector/C and
//! Oracle's client (`my_bool` vs `bool`, a union in one, an extra field in the
//! other); only field names shared by both are used here, on zeroed structs.

use std::ffi::{c_char, c_uint, c_ulong, c_void};
use std::io::Write as _;
use std::ops::Range;
use std::ptr::{self, NonNull};
use std::sync::Arc;

use super::consts::CR_NEW_STMT_METADATA;
use super::ffi::{self, enum_field_types as T, Truth};
use super::result::{column_from_field, RawRow};
use crate::column::{Column, ColumnFlags, ColumnType};
use crate::error::{Error, ErrorKind, Result};
use crate::types::Value;

/// The C boolean of the installed `MYSQL_BIND` (`my_bool` is `char` in
/// Connector/C, `bool` in Oracle's client).
#[cfg(mca_oracle)]
pub(crate) type CBool = bool;
/// The C boolean of the installed `MYSQL_BIND` (`my_bool` is `char` in
/// Connector/C, `bool` in Oracle's client).
#[cfg(not(mca_oracle))]
pub(crate) type CBool = ffi::my_bool;

/// `mysql_stmt_fetch`: a row was fetched.
pub(crate) const FETCH_ROW: i32 = 0;
/// `mysql_stmt_fetch`: no more rows.
pub(crate) const FETCH_END: i32 = 100;
/// `mysql_stmt_fetch`: a row was fetched, and a column did not fit its buffer.
pub(crate) const FETCH_TRUNCATED: i32 = 101;

/// Parameters longer than this are sent ahead of the execute with
/// `mysql_stmt_send_long_data`, in chunks of this size: the execute packet stays
/// small, and a value may exceed what one packet could carry.
pub(crate) const LONG_DATA_THRESHOLD: usize = 1 << 20;

/// A string column's bind buffer starts at the column's declared length, within
/// these bounds, and grows to the longest value seen.
const MIN_BUF: usize = 64;
const MAX_INITIAL_BUF: usize = 16 << 10;

/// `NOT_FIXED_DEC`: a FLOAT/DOUBLE column without a fixed number of decimals
/// reports this many (or more) `decimals`.
const NOT_FIXED_DEC: u32 = 31;

/// Sole owner of a `MYSQL_STMT*`, with its parameter and result bindings.
pub(crate) struct RawStmt {
    ptr: NonNull<ffi::MYSQL_STMT>,
    param_count: usize,
    columns: Arc<[Column]>,
    params: ParamBinds,
    out: OutBinds,
    /// The library already freed the handle (`mysql_stmt_close_start` finished).
    freed: bool,
}

// SAFETY: the statement belongs to one connection and is only used through
// `&mut` by the thread that holds that connection (connections are Send, not
// Sync); the buffers its binds point to are owned by this struct and move with it
// (they are heap allocations whose addresses do not change when it moves).
unsafe impl Send for RawStmt {}

impl RawStmt {
    /// Allocate a statement handle on `mysql` (`mysql_stmt_init`; no I/O).
    ///
    /// # Safety
    /// `mysql` is a live, connected handle used by this thread only; the statement
    /// must be dropped before the handle is freed, or after it (the library then
    /// detaches the statement and closing it only frees memory).
    pub(crate) unsafe fn init(mysql: *mut ffi::MYSQL) -> Result<RawStmt> {
        // SAFETY: per the contract.
        let p = unsafe { ffi::mysql_stmt_init(mysql) };
        let ptr = NonNull::new(p).ok_or_else(|| {
            Error::new(ErrorKind::Client, "mysql_stmt_init failed: out of memory")
        })?;
        Ok(RawStmt {
            ptr,
            param_count: 0,
            columns: Arc::from(Vec::new()),
            params: ParamBinds::default(),
            out: OutBinds::default(),
            freed: false,
        })
    }

    /// The handle, for the operations that drive it.
    pub(crate) fn as_ptr(&self) -> *mut ffi::MYSQL_STMT {
        self.ptr.as_ptr()
    }

    /// The library freed the handle (a finished `mysql_stmt_close_start`).
    pub(crate) fn mark_freed(&mut self) {
        self.freed = true;
    }

    /// Number of `?` placeholders.
    pub(crate) fn param_count(&self) -> usize {
        self.param_count
    }

    /// The result columns (empty for statements without rows).
    pub(crate) fn columns(&self) -> &Arc<[Column]> {
        &self.columns
    }

    /// The statement's last error (a failed prepare, execute or fetch).
    pub(crate) fn last_error(&self) -> Error {
        // SAFETY: our live handle; the strings are copied out at once.
        unsafe {
            let code = ffi::mysql_stmt_errno(self.as_ptr());
            let state = crate::error::cstr_lossy(ffi::mysql_stmt_sqlstate(self.as_ptr()));
            let msg = crate::error::cstr_lossy(ffi::mysql_stmt_error(self.as_ptr()));
            if code == 0 {
                return Error::new(
                    ErrorKind::Client,
                    "the client library reported a statement failure without an error code",
                )
                .with_fatal(true);
            }
            Error::from_code(code, state, msg, false)
        }
    }

    /// After a successful prepare: read the parameter count and the result
    /// columns, and bind the result buffers.
    pub(crate) fn after_prepare(&mut self) -> Result<()> {
        // SAFETY: our prepared handle.
        self.param_count = unsafe { ffi::mysql_stmt_param_count(self.as_ptr()) } as usize;
        self.refresh_columns(true)
    }

    /// After a successful execute: the server sends the result columns again with
    /// each execute, and they change when a table did (`ALTER TABLE`): rebind when
    /// they differ from the ones bound.
    pub(crate) fn after_execute(&mut self) -> Result<()> {
        self.refresh_columns(false)
    }

    /// The library's current field array, if any.
    fn fields(&self) -> &[ffi::MYSQL_FIELD] {
        // SAFETY: our handle; `fields`/`field_count` are plain fields of the
        // installed layout, valid until the next prepare or execute (which needs
        // `&mut self`, so cannot happen while the borrow is alive).
        unsafe {
            let s = self.as_ptr();
            let n = (*s).field_count as usize;
            let f = (*s).fields;
            if n == 0 || f.is_null() {
                &[]
            } else {
                std::slice::from_raw_parts(f, n)
            }
        }
    }

    // c_ulong is u64 on the 64-bit targets this crate supports.
    #[allow(clippy::useless_conversion)]
    fn refresh_columns(&mut self, force: bool) -> Result<()> {
        let fields = self.fields();
        let same = !force
            && fields.len() == self.columns.len()
            && fields.iter().zip(self.columns.iter()).all(|(f, c)| {
                ColumnType::from_raw(f.type_ as u32) == c.column_type()
                    && f.flags == c.flags().0
                    && f.charsetnr == c.charset()
                    && f.decimals == c.decimals()
                    && u64::from(f.length) == c.length()
                    && field_name(f) == c.name().as_bytes()
            });
        if same {
            return Ok(());
        }
        // SAFETY: fields of our live statement; `column_from_field` copies them.
        let columns: Vec<Column> = fields
            .iter()
            .map(|f| unsafe { column_from_field(f) })
            .collect();
        self.columns = columns.into();
        self.out = OutBinds::new(&self.columns);
        self.bind_result()
    }

    fn bind_result(&mut self) -> Result<()> {
        if self.out.binds.is_empty() {
            return Ok(());
        }
        // SAFETY: the binds point into `self.out`'s heap buffers, which stay put
        // until the next `bind_result` (buffers only move when rebound).
        let failed =
            unsafe { ffi::mysql_stmt_bind_result(self.as_ptr(), self.out.binds.as_mut_ptr()) };
        if failed.truth() {
            return Err(self.last_error());
        }
        Ok(())
    }

    /// Check and bind the parameters of the next execute; the values to send with
    /// `send_long_data` first are listed by [`long_params`](Self::long_params).
    /// Nothing is sent: a wrong count or an unrepresentable value is refused here.
    pub(crate) fn bind_params(&mut self, values: Vec<Value>) -> Result<()> {
        self.check_count(values.len())?;
        self.params = ParamBinds::new(values)?;
        self.bind_current_params()
    }

    /// Take the bound parameters away, to bind them to the same statement
    /// prepared again ([`rebind_params`](Self::rebind_params)) without copying.
    pub(crate) fn take_params(&mut self) -> ParamBinds {
        std::mem::take(&mut self.params)
    }

    /// Bind parameters taken from another handle of the same statement.
    pub(crate) fn rebind_params(&mut self, params: ParamBinds) -> Result<()> {
        self.check_count(params.binds.len())?;
        self.params = params;
        self.bind_current_params()
    }

    fn check_count(&self, given: usize) -> Result<()> {
        if given != self.param_count {
            return Err(Error::new(
                ErrorKind::Params,
                format!(
                    "the statement has {} placeholder(s) but {given} parameter(s) were given; nothing was sent",
                    self.param_count,
                ),
            )
            .with_fatal(false));
        }
        Ok(())
    }

    fn bind_current_params(&mut self) -> Result<()> {
        if self.param_count == 0 {
            return Ok(());
        }
        // SAFETY: the binds point into the heap buffers of `self.params`, which
        // lives until the next bind (after the execute that reads them finished).
        let failed =
            unsafe { ffi::mysql_stmt_bind_param(self.as_ptr(), self.params.binds.as_mut_ptr()) };
        if failed.truth() {
            return Err(self.last_error().with_fatal(false));
        }
        Ok(())
    }

    /// The indexes of the bound parameters sent as long data.
    pub(crate) fn long_params(&self) -> &[usize] {
        &self.params.long
    }

    /// The bytes of long parameter `i` (see [`long_params`](Self::long_params)).
    pub(crate) fn long_data(&self, i: usize) -> &[u8] {
        self.params.slots[i].bytes()
    }

    /// Bind column-wise arrays of `rows` rows for MariaDB's bulk execute
    /// (`STMT_ATTR_ARRAY_SIZE`): every parameter of every row, NULLs by indicator.
    #[cfg(mca_mariadb)]
    pub(crate) fn bind_bulk(&mut self, rows: &[Vec<Value>]) -> Result<()> {
        self.params = ParamBinds::bulk(rows, self.param_count)?;
        let n = rows.len() as c_uint;
        // SAFETY: our handle; the attribute reads an unsigned int; the arrays live
        // in `self.params` until the next bind.
        unsafe {
            if ffi::mysql_stmt_attr_set(
                self.as_ptr(),
                ffi::enum_stmt_attr_type::STMT_ATTR_ARRAY_SIZE,
                &n as *const c_uint as *const c_void,
            )
            .truth()
                || ffi::mysql_stmt_bind_param(self.as_ptr(), self.params.binds.as_mut_ptr()).truth()
            {
                return Err(self.last_error().with_fatal(false));
            }
        }
        Ok(())
    }

    /// Back to one row per execute after a bulk execute.
    #[cfg(mca_mariadb)]
    pub(crate) fn end_bulk(&mut self) {
        let n: c_uint = 0;
        // SAFETY: our handle; an array size of 0 turns array binding off.
        unsafe {
            ffi::mysql_stmt_attr_set(
                self.as_ptr(),
                ffi::enum_stmt_attr_type::STMT_ATTR_ARRAY_SIZE,
                &n as *const c_uint as *const c_void,
            );
        }
    }

    /// Blocking `mysql_stmt_prepare` (for `Conn`): 0 on success.
    pub(crate) fn prepare_blocking(&mut self, sql: &str) -> i32 {
        // SAFETY: our handle; the text is read during the call only.
        unsafe {
            ffi::mysql_stmt_prepare(
                self.as_ptr(),
                sql.as_ptr() as *const c_char,
                sql.len() as c_ulong,
            )
        }
    }

    /// Blocking `mysql_stmt_execute` (for `Conn`): 0 on success.
    pub(crate) fn execute_blocking(&mut self) -> i32 {
        // SAFETY: our handle, with parameters bound from buffers we own.
        unsafe { ffi::mysql_stmt_execute(self.as_ptr()) }
    }

    /// Blocking `mysql_stmt_fetch` (for `Conn`): a `FETCH_*` code, or 1 on error.
    pub(crate) fn fetch_blocking(&mut self) -> i32 {
        // SAFETY: our handle; the result buffers are bound to our own storage.
        unsafe { ffi::mysql_stmt_fetch(self.as_ptr()) }
    }

    /// Blocking `mysql_stmt_free_result` (for `Conn`): reads and discards the
    /// unread result; false on success.
    pub(crate) fn free_result_blocking(&mut self) -> bool {
        // SAFETY: our handle.
        unsafe { ffi::mysql_stmt_free_result(self.as_ptr()) }.truth()
    }

    /// Whether the last execute failed because the result's columns changed
    /// (its rows are still unread).
    pub(crate) fn metadata_changed(&self) -> bool {
        // SAFETY: our handle.
        unsafe { ffi::mysql_stmt_errno(self.as_ptr()) == CR_NEW_STMT_METADATA }
    }

    /// Blocking `mysql_stmt_next_result` (for `Conn`): 0 more, -1 none, else error.
    pub(crate) fn next_result_blocking(&mut self) -> i32 {
        // SAFETY: our handle.
        unsafe { ffi::mysql_stmt_next_result(self.as_ptr()) }
    }

    /// Blocking `mysql_stmt_send_long_data` of one chunk (for `Conn`).
    pub(crate) fn send_long_data_blocking(&mut self, i: usize, chunk: Range<usize>) -> Result<()> {
        let d = &self.params.slots[i].bytes()[chunk];
        // SAFETY: our handle; the chunk is read during the call only.
        let failed = unsafe {
            ffi::mysql_stmt_send_long_data(
                self.as_ptr(),
                i as c_uint,
                d.as_ptr() as *const c_char,
                d.len() as c_ulong,
            )
        };
        if failed.truth() {
            return Err(self.last_error());
        }
        Ok(())
    }

    /// Testing aid: change the statement's id on the client, so that the server no
    /// longer knows it (error 1243 at the next execute), as when a proxy or a
    /// server-side reset dropped it.
    pub(crate) fn forget_on_server(&mut self) {
        // SAFETY: our handle; `stmt_id` is a plain field of the installed layout,
        // only read by the library when it builds the next command.
        unsafe { (*self.as_ptr()).stmt_id ^= 0x4000_0000 }
    }

    /// Number of result columns of the current execute (0: no rows follow).
    pub(crate) fn field_count(&self) -> usize {
        // SAFETY: our handle.
        unsafe { ffi::mysql_stmt_field_count(self.as_ptr()) as usize }
    }

    /// Rows affected by the last execute.
    pub(crate) fn affected_rows(&self) -> u64 {
        // SAFETY: our handle.
        unsafe { ffi::mysql_stmt_affected_rows(self.as_ptr()) }
    }

    /// The AUTO_INCREMENT id of the last execute.
    pub(crate) fn insert_id(&self) -> u64 {
        // SAFETY: our handle.
        unsafe { ffi::mysql_stmt_insert_id(self.as_ptr()) }
    }

    /// After a fetch that returned a row (`FETCH_ROW` or `FETCH_TRUNCATED`): read
    /// the truncated columns in full, and lay the row out as text cells for
    /// [`current_row`](Self::current_row).
    pub(crate) fn load_row(&mut self, truncated: bool) -> Result<()> {
        if truncated {
            self.refetch_truncated()?;
        }
        self.out.materialize(&self.columns);
        Ok(())
    }

    /// The row laid out by the last [`load_row`](Self::load_row).
    pub(crate) fn current_row(&mut self) -> RawRow<'_> {
        let n = self.columns.len();
        // SAFETY: the cell and length arrays have `n` entries pointing into buffers
        // owned by `self.out`, unchanged until the next fetch, which needs `&mut
        // self` and so cannot happen while the row is borrowed.
        unsafe { RawRow::from_parts(self.out.cells.as_mut_ptr(), self.out.lens.as_ptr(), n) }
    }

    /// Grow the buffers of the columns that did not fit and read them again from
    /// the row the library holds (no I/O), then rebind so later rows fit.
    fn refetch_truncated(&mut self) -> Result<()> {
        let mut grown = false;
        for (i, col) in self.out.cols.iter_mut().enumerate() {
            if !col.error.truth() || col.is_null.truth() {
                continue;
            }
            let need = col.length as usize;
            col.buf.resize(need.max(col.buf.len()), 0);
            grown = true;
            // SAFETY: a zeroed bind with a buffer of `need` bytes; the library
            // copies column `i` of the current row into it.
            let rc = unsafe {
                let mut b: ffi::MYSQL_BIND = std::mem::zeroed();
                b.buffer_type = self.out.binds[i].buffer_type;
                b.buffer = col.buf.as_mut_ptr() as *mut c_void;
                b.buffer_length = col.buf.len() as c_ulong;
                b.length = &mut col.length;
                ffi::mysql_stmt_fetch_column(self.ptr.as_ptr(), &mut b, i as c_uint, 0)
            };
            if rc != 0 {
                return Err(self.last_error());
            }
            col.error = CBool::from(false);
        }
        if grown {
            for (b, col) in self.out.binds.iter_mut().zip(self.out.cols.iter_mut()) {
                if col.kind == OutKind::Bytes {
                    b.buffer = col.buf.as_mut_ptr() as *mut c_void;
                    b.buffer_length = col.buf.len() as c_ulong;
                }
            }
            self.bind_result()?;
        }
        Ok(())
    }
}

impl Drop for RawStmt {
    fn drop(&mut self) {
        if self.freed {
            return;
        }
        // SAFETY: we own the statement. Its owner drains any unread result first
        // (so closing reads nothing), or drops it after the connection was closed,
        // when the library has detached it and this only frees memory.
        unsafe { ffi::mysql_stmt_close(self.as_ptr()) };
    }
}

/// A field's name as the library holds it.
fn field_name(f: &ffi::MYSQL_FIELD) -> &[u8] {
    if f.name.is_null() {
        return &[];
    }
    // SAFETY: the library gives the name with its byte length; it lives as long as
    // the field array `f` is borrowed from.
    unsafe { std::slice::from_raw_parts(f.name as *const u8, f.name_length as usize) }
}

/// The chunks in which a long parameter of `len` bytes is sent.
pub(crate) fn long_chunks(len: usize) -> impl Iterator<Item = Range<usize>> {
    (0..len)
        .step_by(LONG_DATA_THRESHOLD)
        .map(move |from| from..(from + LONG_DATA_THRESHOLD).min(len))
}

// ---------------------------------------------------------------- parameters

/// One parameter's storage; the binds point into it.
enum Slot {
    Null,
    I64(i64),
    F64(f64),
    Time(Box<ffi::MYSQL_TIME>),
    Bytes(Vec<u8>),
}

impl Slot {
    fn bytes(&self) -> &[u8] {
        match self {
            Slot::Bytes(b) => b,
            _ => &[],
        }
    }
}

/// The bound parameters of one execute (or one bulk chunk). The binds point into
/// the heap buffers of the other fields, so moving the struct keeps them valid.
#[derive(Default)]
pub(crate) struct ParamBinds {
    binds: Vec<ffi::MYSQL_BIND>,
    slots: Vec<Slot>,
    lengths: Vec<c_ulong>,
    /// Indexes of the parameters sent as long data.
    long: Vec<usize>,
    /// Bulk: per parameter, the column of values (fixed-size types) or pointers
    /// (strings), the lengths and the indicators.
    #[cfg(mca_mariadb)]
    bulk: Vec<BulkColumn>,
}

// SAFETY: the raw pointers inside point into the struct's own heap buffers.
unsafe impl Send for ParamBinds {}

fn refuse(msg: String) -> Error {
    Error::new(ErrorKind::Params, format!("{msg}; nothing was sent")).with_fatal(false)
}

fn finite(x: f64) -> Result<()> {
    if x.is_finite() {
        Ok(())
    } else {
        Err(refuse(format!(
            "{x} cannot be sent (MySQL has no NaN or infinity)"
        )))
    }
}

/// A `MYSQL_TIME` for a parameter.
fn mysql_time(v: &Value) -> Box<ffi::MYSQL_TIME> {
    // SAFETY: MYSQL_TIME is plain data; all-zero is a valid (zero) value.
    let mut t: Box<ffi::MYSQL_TIME> = Box::new(unsafe { std::mem::zeroed() });
    match v {
        Value::Date(d) => {
            (t.year, t.month, t.day) = (d.year().into(), d.month().into(), d.day().into());
            t.time_type = ffi::enum_mysql_timestamp_type::MYSQL_TIMESTAMP_DATE;
        }
        Value::DateTime(dt) => {
            let d = dt.date();
            (t.year, t.month, t.day) = (d.year().into(), d.month().into(), d.day().into());
            (t.hour, t.minute, t.second) =
                (dt.hour().into(), dt.minute().into(), dt.second().into());
            t.second_part = dt.micros().into();
            t.time_type = ffi::enum_mysql_timestamp_type::MYSQL_TIMESTAMP_DATETIME;
        }
        Value::Time(tm) => {
            // The binary protocol carries days and an hour byte: split the hours.
            t.day = (tm.hours() / 24).into();
            t.hour = (tm.hours() % 24).into();
            (t.minute, t.second) = (tm.minutes().into(), tm.seconds().into());
            t.second_part = tm.micros().into();
            t.neg = tm.is_negative().into();
            t.time_type = ffi::enum_mysql_timestamp_type::MYSQL_TIMESTAMP_TIME;
        }
        _ => {}
    }
    t
}

/// The wire type, signedness and storage of one value.
fn slot_of(v: Value) -> Result<(T, bool, Slot)> {
    Ok(match v {
        Value::Null => (T::MYSQL_TYPE_NULL, false, Slot::Null),
        Value::Int(i) => (T::MYSQL_TYPE_LONGLONG, false, Slot::I64(i)),
        Value::UInt(u) => (T::MYSQL_TYPE_LONGLONG, true, Slot::I64(u as i64)),
        // Sent as the DOUBLE of exactly the f32's value, as on the client-side
        // path (a FLOAT parameter would make `SELECT ?` a FLOAT column, which reads
        // back rounded to six digits).
        Value::Float(x) => {
            finite(x.into())?;
            (T::MYSQL_TYPE_DOUBLE, false, Slot::F64(x.into()))
        }
        Value::Double(x) => {
            finite(x)?;
            (T::MYSQL_TYPE_DOUBLE, false, Slot::F64(x))
        }
        Value::Decimal(d) => (
            T::MYSQL_TYPE_NEWDECIMAL,
            false,
            Slot::Bytes(d.as_str().as_bytes().to_vec()),
        ),
        Value::Text(s) => (T::MYSQL_TYPE_STRING, false, Slot::Bytes(s.into_bytes())),
        Value::Bytes(b) => (T::MYSQL_TYPE_BLOB, false, Slot::Bytes(b)),
        v @ Value::Date(_) => (T::MYSQL_TYPE_DATE, false, Slot::Time(mysql_time(&v))),
        v @ Value::DateTime(_) => (T::MYSQL_TYPE_DATETIME, false, Slot::Time(mysql_time(&v))),
        v @ Value::Time(_) => (T::MYSQL_TYPE_TIME, false, Slot::Time(mysql_time(&v))),
    })
}

impl ParamBinds {
    fn new(values: Vec<Value>) -> Result<ParamBinds> {
        let n = values.len();
        let mut p = ParamBinds {
            slots: Vec::with_capacity(n),
            lengths: vec![0; n],
            ..ParamBinds::default()
        };
        let mut types = Vec::with_capacity(n);
        for v in values {
            let (t, unsigned, slot) = slot_of(v)?;
            types.push((t, unsigned));
            p.slots.push(slot);
        }
        // The slots are in place: take their addresses.
        for (i, ((t, unsigned), slot)) in types.into_iter().zip(p.slots.iter_mut()).enumerate() {
            // SAFETY: MYSQL_BIND is plain data; zeroed means "no flags".
            let mut b: ffi::MYSQL_BIND = unsafe { std::mem::zeroed() };
            b.buffer_type = t;
            b.is_unsigned = unsigned.into();
            match slot {
                Slot::Null => {}
                Slot::I64(x) => b.buffer = x as *mut i64 as *mut c_void,
                Slot::F64(x) => b.buffer = x as *mut f64 as *mut c_void,
                Slot::Time(t) => b.buffer = &mut **t as *mut ffi::MYSQL_TIME as *mut c_void,
                Slot::Bytes(v) => {
                    if v.len() > LONG_DATA_THRESHOLD {
                        p.long.push(i);
                    } else {
                        b.buffer = v.as_mut_ptr() as *mut c_void;
                        b.buffer_length = v.len() as c_ulong;
                        p.lengths[i] = v.len() as c_ulong;
                    }
                }
            }
            p.binds.push(b);
        }
        for (b, len) in p.binds.iter_mut().zip(p.lengths.iter_mut()) {
            b.length = len;
        }
        Ok(p)
    }
}

/// One parameter's column of values for a bulk execute. Connector/C reads
/// LONGLONG, FLOAT and DOUBLE columns as arrays of values, every other type as
/// an array of pointers to each row's value (`ma_get_buffer_offset`).
#[cfg(mca_mariadb)]
struct BulkColumn {
    /// The values of the column, one per row (they own what `pointers` names).
    slots: Vec<Slot>,
    /// Fixed-size values, back to back.
    fixed: Vec<u8>,
    pointers: Vec<*const c_void>,
    lengths: Vec<c_ulong>,
    indicators: Vec<c_char>,
}

#[cfg(mca_mariadb)]
impl ParamBinds {
    /// `STMT_INDICATOR_NULL`.
    const NULL: c_char = 1;

    fn bulk(rows: &[Vec<Value>], params: usize) -> Result<ParamBinds> {
        let mut p = ParamBinds::default();
        for col in 0..params {
            // The column's type is its first non-NULL value's; every value of the
            // column must have that type (or be NULL).
            let mut ty: Option<(T, bool)> = None;
            let mut c = BulkColumn {
                slots: Vec::with_capacity(rows.len()),
                fixed: Vec::new(),
                pointers: Vec::new(),
                lengths: Vec::with_capacity(rows.len()),
                indicators: Vec::with_capacity(rows.len()),
            };
            for row in rows {
                let (t, unsigned, slot) = slot_of(row[col].clone())?;
                if !matches!(slot, Slot::Null) {
                    match ty {
                        None => ty = Some((t, unsigned)),
                        Some(prev) if prev != (t, unsigned) => {
                            return Err(refuse(format!(
                            "exec_batch: parameter {} changes type between rows ({:?} then {:?}); \
                                 a bulk execute sends one type per parameter",
                            col + 1,
                            prev.0,
                            t
                        )))
                        }
                        Some(_) => {}
                    }
                }
                c.indicators.push(if matches!(slot, Slot::Null) {
                    Self::NULL
                } else {
                    0
                });
                c.lengths.push(slot.bytes().len() as c_ulong);
                c.slots.push(slot);
            }
            let (t, unsigned) = ty.unwrap_or((T::MYSQL_TYPE_NULL, false));
            for slot in c.slots.iter_mut() {
                match (t, slot) {
                    (T::MYSQL_TYPE_LONGLONG, Slot::I64(x)) => {
                        c.fixed.extend_from_slice(&x.to_ne_bytes())
                    }
                    (T::MYSQL_TYPE_DOUBLE, Slot::F64(x)) => {
                        c.fixed.extend_from_slice(&x.to_ne_bytes())
                    }
                    (T::MYSQL_TYPE_LONGLONG | T::MYSQL_TYPE_DOUBLE, _) => {
                        c.fixed.extend_from_slice(&[0; 8])
                    }
                    (_, Slot::Bytes(b)) => c.pointers.push(b.as_ptr() as *const c_void),
                    (_, Slot::Time(tm)) => c
                        .pointers
                        .push(&**tm as *const ffi::MYSQL_TIME as *const c_void),
                    (_, _) => c.pointers.push(ptr::null()),
                }
            }
            // SAFETY: plain data, pointed at the column below.
            let mut b: ffi::MYSQL_BIND = unsafe { std::mem::zeroed() };
            b.buffer_type = t;
            b.is_unsigned = unsigned.into();
            p.binds.push(b);
            p.bulk.push(c);
        }
        for (b, c) in p.binds.iter_mut().zip(p.bulk.iter_mut()) {
            b.buffer = if c.fixed.is_empty() {
                c.pointers.as_mut_ptr() as *mut c_void
            } else {
                c.fixed.as_mut_ptr() as *mut c_void
            };
            b.length = c.lengths.as_mut_ptr();
            b.u.indicator = c.indicators.as_mut_ptr();
        }
        Ok(p)
    }
}

// ---------------------------------------------------------------- results

/// How a column is fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutKind {
    /// Any integer type, as a 64-bit integer (signed or not per the column).
    Int,
    Float,
    Double,
    /// DATE, TIME, DATETIME, TIMESTAMP.
    Time,
    /// Everything else arrives as bytes, in the same form as in the text protocol.
    Bytes,
}

/// One result column's buffers.
struct OutCol {
    kind: OutKind,
    /// Bytes columns: the value. Others: its text form.
    buf: Vec<u8>,
    num: [u8; 8],
    time: Box<ffi::MYSQL_TIME>,
    length: c_ulong,
    is_null: CBool,
    error: CBool,
}

#[derive(Default)]
struct OutBinds {
    binds: Vec<ffi::MYSQL_BIND>,
    /// Boxed so the binds' pointers to `length`, `is_null`, `error` and `num` stay
    /// valid whatever happens to the vector.
    #[allow(clippy::vec_box)]
    cols: Vec<Box<OutCol>>,
    cells: Vec<*mut c_char>,
    lens: Vec<c_ulong>,
}

// SAFETY: the raw pointers point into the struct's own heap buffers.
unsafe impl Send for OutBinds {}

impl OutBinds {
    fn new(columns: &[Column]) -> OutBinds {
        let mut out = OutBinds {
            binds: Vec::with_capacity(columns.len()),
            cols: Vec::with_capacity(columns.len()),
            cells: vec![ptr::null_mut(); columns.len()],
            lens: vec![0; columns.len()],
        };
        for c in columns {
            let t = c.column_type();
            let kind = if t.is_integer() || t == ColumnType::Year {
                OutKind::Int
            } else if t == ColumnType::Float {
                OutKind::Float
            } else if t == ColumnType::Double {
                OutKind::Double
            } else if matches!(
                t,
                ColumnType::Date
                    | ColumnType::NewDate
                    | ColumnType::Time
                    | ColumnType::DateTime
                    | ColumnType::Timestamp
            ) {
                OutKind::Time
            } else {
                OutKind::Bytes
            };
            let cap = if kind == OutKind::Bytes {
                (c.length() as usize).clamp(MIN_BUF, MAX_INITIAL_BUF)
            } else {
                32
            };
            let mut col = Box::new(OutCol {
                kind,
                buf: vec![0; cap],
                num: [0; 8],
                // SAFETY: MYSQL_TIME is plain data.
                time: Box::new(unsafe { std::mem::zeroed() }),
                length: 0,
                is_null: CBool::from(false),
                error: CBool::from(false),
            });
            // SAFETY: MYSQL_BIND is plain data; zeroed means "no flags".
            let mut b: ffi::MYSQL_BIND = unsafe { std::mem::zeroed() };
            match kind {
                OutKind::Int => {
                    b.buffer_type = T::MYSQL_TYPE_LONGLONG;
                    b.is_unsigned = c.is_unsigned().into();
                    b.buffer = col.num.as_mut_ptr() as *mut c_void;
                }
                OutKind::Float => {
                    b.buffer_type = T::MYSQL_TYPE_FLOAT;
                    b.buffer = col.num.as_mut_ptr() as *mut c_void;
                }
                OutKind::Double => {
                    b.buffer_type = T::MYSQL_TYPE_DOUBLE;
                    b.buffer = col.num.as_mut_ptr() as *mut c_void;
                }
                OutKind::Time => {
                    b.buffer_type = match t {
                        ColumnType::Date | ColumnType::NewDate => T::MYSQL_TYPE_DATE,
                        ColumnType::Time => T::MYSQL_TYPE_TIME,
                        _ => T::MYSQL_TYPE_DATETIME,
                    };
                    b.buffer = &mut *col.time as *mut ffi::MYSQL_TIME as *mut c_void;
                }
                OutKind::Bytes => {
                    b.buffer_type = T::MYSQL_TYPE_BLOB;
                    b.buffer = col.buf.as_mut_ptr() as *mut c_void;
                    b.buffer_length = col.buf.len() as c_ulong;
                }
            }
            b.length = &mut col.length;
            b.is_null = &mut col.is_null;
            b.error = &mut col.error;
            out.binds.push(b);
            out.cols.push(col);
        }
        out
    }

    /// Lay the fetched row out as text cells.
    fn materialize(&mut self, columns: &[Column]) {
        for (i, (col, c)) in self.cols.iter_mut().zip(columns).enumerate() {
            if col.is_null.truth() {
                self.cells[i] = ptr::null_mut();
                self.lens[i] = 0;
                continue;
            }
            if col.kind != OutKind::Bytes {
                col.buf.clear();
                write_text(col, c);
                self.lens[i] = col.buf.len() as c_ulong;
            } else {
                self.lens[i] = col.length;
            }
            self.cells[i] = col.buf.as_mut_ptr() as *mut c_char;
        }
    }
}

/// The text form of a fixed-size binary value, as the server writes it in the
/// text protocol.
fn write_text(col: &mut OutCol, c: &Column) {
    let out = &mut col.buf;
    match col.kind {
        OutKind::Int => {
            let v = i64::from_ne_bytes(col.num);
            let width = if c.flags().contains(ColumnFlags::ZEROFILL)
                || c.column_type() == ColumnType::Year
            {
                c.length() as usize
            } else {
                0
            };
            if c.is_unsigned() || v >= 0 {
                push_uint(out, v as u64, width);
            } else {
                out.push(b'-');
                push_uint(out, v.unsigned_abs(), width.saturating_sub(1));
            }
        }
        OutKind::Float => {
            let mut b = [0u8; 4];
            b.copy_from_slice(&col.num[..4]);
            let v = f32::from_ne_bytes(b);
            write_float(out, v.into(), c.decimals(), true);
        }
        OutKind::Double => {
            write_float(out, f64::from_ne_bytes(col.num), c.decimals(), false);
        }
        OutKind::Time => write_time(out, &col.time, c),
        OutKind::Bytes => {}
    }
}

/// A FLOAT or DOUBLE as the server prints it: with the column's fixed decimals,
/// or else the shortest form (FLOAT: of the value rounded to 6 significant
/// digits, as the server prints FLOAT).
fn write_float(out: &mut Vec<u8>, v: f64, decimals: u32, float: bool) {
    if decimals < NOT_FIXED_DEC {
        write!(out, "{v:.prec$}", prec = decimals as usize).expect("Vec write");
        return;
    }
    let v = if float {
        format!("{v:.5e}").parse::<f64>().unwrap_or(v)
    } else {
        v
    };
    let a = v.abs();
    if a != 0.0 && !(1e-5..1e15).contains(&a) {
        write!(out, "{v:e}").expect("Vec write");
    } else {
        write!(out, "{v}").expect("Vec write");
    }
}

/// `v` in decimal, zero-padded to at least `width` digits (the formatting
/// machinery costs several times more, once per cell).
fn push_uint(out: &mut Vec<u8>, mut v: u64, width: usize) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let len = digits.len() - at;
    out.extend(std::iter::repeat_n(b'0', width.saturating_sub(len)));
    out.extend_from_slice(&digits[at..]);
}

/// DATE `YYYY-MM-DD`, TIME `[-]h…hh:mm:ss[.f]`, DATETIME/TIMESTAMP
/// `YYYY-MM-DD hh:mm:ss[.f]`, the fraction with the column's digits.
// c_uint/c_ulong are u32/u64 on the targets this crate supports.
#[allow(clippy::unnecessary_cast)]
fn write_time(out: &mut Vec<u8>, t: &ffi::MYSQL_TIME, c: &Column) {
    let date = |out: &mut Vec<u8>| {
        push_uint(out, t.year as u64, 4);
        out.push(b'-');
        push_uint(out, t.month as u64, 2);
        out.push(b'-');
        push_uint(out, t.day as u64, 2);
    };
    let clock = |out: &mut Vec<u8>, hours: u64| {
        push_uint(out, hours, 2);
        out.push(b':');
        push_uint(out, t.minute as u64, 2);
        out.push(b':');
        push_uint(out, t.second as u64, 2);
        let dec = c.decimals().min(6);
        if dec > 0 {
            out.push(b'.');
            push_uint(out, t.second_part as u64 / 10u64.pow(6 - dec), dec as usize);
        }
    };
    match c.column_type() {
        ColumnType::Date | ColumnType::NewDate => date(out),
        ColumnType::Time => {
            if (t.neg as u8) != 0 {
                out.push(b'-');
            }
            clock(out, t.day as u64 * 24 + t.hour as u64);
        }
        _ => {
            date(out);
            out.push(b' ');
            clock(out, t.hour as u64);
        }
    }
}
