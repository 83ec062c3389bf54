//! The owner of a `MYSQL_RES*` and the rows borrowed from it.

use std::ffi::{c_char, c_uint, c_ulong};
use std::ptr::NonNull;
use std::sync::Arc;

use super::ffi;
use crate::column::{Column, ColumnType};

/// Sole owner of a `MYSQL_RES*` plus its column metadata.
pub(crate) struct RawResult {
    ptr: NonNull<ffi::MYSQL_RES>,
    columns: Arc<[Column]>,
}

// SAFETY: same reasoning as RawConn: used by one thread at a time through &mut.
unsafe impl Send for RawResult {}

impl RawResult {
    pub(crate) fn new(ptr: NonNull<ffi::MYSQL_RES>) -> RawResult {
        // SAFETY: a valid result; the field array lives as long as the result and its
        // strings are copied into `Column`s.
        let columns: Arc<[Column]> = unsafe {
            let n = ffi::mysql_num_fields(ptr.as_ptr()) as usize;
            let f = ffi::mysql_fetch_fields(ptr.as_ptr());
            if n == 0 || f.is_null() {
                Arc::from(Vec::new())
            } else {
                std::slice::from_raw_parts(f, n)
                    .iter()
                    .map(|f| column_from_field(f))
                    .collect::<Vec<_>>()
                    .into()
            }
        };
        RawResult { ptr, columns }
    }

    /// The raw pointer, for `nonblock.rs`.
    pub(crate) fn as_ptr(&self) -> *mut ffi::MYSQL_RES {
        self.ptr.as_ptr()
    }

    /// Column metadata, shared by every row of this result.
    pub(crate) fn columns(&self) -> &Arc<[Column]> {
        &self.columns
    }

    /// Blocking `mysql_fetch_row`. `None` at the end or on error (ask the connection
    /// with [`RawConn::fetch_error`]).
    pub(crate) fn fetch_row(&mut self) -> Option<RawRow<'_>> {
        // SAFETY: our result.
        let row = unsafe { ffi::mysql_fetch_row(self.as_ptr()) };
        self.row_at(row)
    }

    /// The row the last fetch returned (`mysql_fetch_row` or its `_cont`), if any.
    pub(crate) fn current_row(&mut self) -> Option<RawRow<'_>> {
        // SAFETY: our result; `current_row` is a plain field of the installed layout.
        let row = unsafe { (*self.as_ptr()).current_row };
        self.row_at(row)
    }

    /// Interpret a row pointer returned by `mysql_fetch_row` or its `_cont`.
    pub(crate) fn row_at(&mut self, row: ffi::MYSQL_ROW) -> Option<RawRow<'_>> {
        if row.is_null() {
            return None;
        }
        // SAFETY: `row` is the current row of our result; lengths refer to it.
        let lengths = unsafe { ffi::mysql_fetch_lengths(self.as_ptr()) };
        Some(RawRow {
            cells: row,
            lengths,
            n: self.columns.len(),
            _res: std::marker::PhantomData,
        })
    }
}

impl Drop for RawResult {
    fn drop(&mut self) {
        // SAFETY: we own the result. For an unbuffered result with rows left this reads
        // (and discards) them; the async layer drains rows without blocking first.
        unsafe { ffi::mysql_free_result(self.as_ptr()) };
    }
}

/// The current row of a result, borrowed from the library's buffer: valid until the
/// next fetch on the same result.
pub(crate) struct RawRow<'a> {
    cells: ffi::MYSQL_ROW,
    lengths: *const c_ulong,
    n: usize,
    _res: std::marker::PhantomData<&'a mut RawResult>,
}

// SAFETY: a `RawRow` is a read-only view of bytes that stay unchanged for `'a`
// (the next fetch needs the `&mut RawResult` it borrows), like `&'a [&'a [u8]]`.
// Reading them from another thread, or from several threads at once, is as safe
// as reading through shared slices; nothing is written or freed through it.
unsafe impl Send for RawRow<'_> {}
// SAFETY: as for `Send`: only reads, of memory that does not change for `'a`.
unsafe impl Sync for RawRow<'_> {}

impl<'a> RawRow<'a> {
    /// A row over `n` cells and lengths that its creator keeps unchanged for `'a`.
    ///
    /// # Safety
    /// Both arrays have `n` entries; each non-null cell points to at least its
    /// length in bytes; all of it stays valid and unchanged for `'a`.
    pub(crate) unsafe fn from_parts(
        cells: ffi::MYSQL_ROW,
        lengths: *const c_ulong,
        n: usize,
    ) -> RawRow<'a> {
        RawRow {
            cells,
            lengths,
            n,
            _res: std::marker::PhantomData,
        }
    }

    /// Number of cells.
    pub(crate) fn len(&self) -> usize {
        self.n
    }

    /// Cell `i`: `None` for SQL NULL, else its bytes (no terminator).
    pub(crate) fn cell(&self, i: usize) -> Option<&'a [u8]> {
        assert!(i < self.n);
        // SAFETY: `i` < number of fields; the row and length arrays have that many
        // entries and stay valid until the next fetch, which needs `&mut RawResult`
        // and so cannot happen while `'a` is alive.
        unsafe {
            let p = *self.cells.add(i);
            if p.is_null() {
                None
            } else {
                let len = *self.lengths.add(i) as usize;
                Some(std::slice::from_raw_parts(p as *const u8, len))
            }
        }
    }
}

/// Copy one `MYSQL_FIELD` into an owned [`Column`].
///
/// # Safety
/// `f` must come from a live result's field array.
pub(crate) unsafe fn column_from_field(f: &ffi::MYSQL_FIELD) -> Column {
    let s = |p: *const c_char, len: c_uint| -> String {
        if p.is_null() {
            return String::new();
        }
        // SAFETY: the library gives each string with its byte length.
        let b = unsafe { std::slice::from_raw_parts(p as *const u8, len as usize) };
        String::from_utf8_lossy(b).into_owned()
    };
    Column::new(
        s(f.name, f.name_length),
        s(f.org_name, f.org_name_length),
        s(f.table, f.table_length),
        s(f.org_table, f.org_table_length),
        s(f.db, f.db_length),
        ColumnType::from_raw(f.type_ as u32),
        f.flags,
        f.charsetnr,
        f.decimals,
        // c_ulong is u64 on the 64-bit targets this crate supports.
        #[allow(clippy::useless_conversion)]
        u64::from(f.length),
    )
}
