//! The vocabulary every backend shares: which operation runs, what it returned,
//! and what it waits for.

use std::ffi::{c_char, c_int};

use super::connect_params::ConnectParams;
use super::ffi;

/// Wait for the socket to become readable.
pub(crate) const WAIT_READ: i32 = 1;
/// Wait for the socket to become writable.
pub(crate) const WAIT_WRITE: i32 = 2;
/// Wait for an exceptional condition (connect errors).
pub(crate) const WAIT_EXCEPT: i32 = 4;
/// The library also waits for a timeout (see `drive::timeout_value`).
pub(crate) const WAIT_TIMEOUT: i32 = 8;
/// Resume at once, without waiting: the library stopped although the socket
/// still has bytes for it (Oracle's client does this; see `oracle.rs`). Waiting
/// for readiness then could wait for good, since the bytes already arrived.
pub(crate) const WAIT_AGAIN: i32 = 16;

/// Which operation is suspended (and what resumes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpKind {
    Connect,
    SendQuery,
    ReadQueryResult,
    FetchRow,
    NextResult,
    Ping,
    SelectDb,
    ResetConnection,
    Close,
    /// Statement operations (Connector/C only: see `drive::STMT_NONBLOCKING`).
    StmtPrepare,
    StmtExecute,
    StmtFetch,
    StmtNextResult,
    StmtSendLongData,
    StmtFreeResult,
    StmtClose,
}

impl OpKind {
    /// Whether this operation works on a statement handle.
    pub(crate) fn is_stmt(self) -> bool {
        matches!(
            self,
            OpKind::StmtPrepare
                | OpKind::StmtExecute
                | OpKind::StmtFetch
                | OpKind::StmtNextResult
                | OpKind::StmtSendLongData
                | OpKind::StmtFreeResult
                | OpKind::StmtClose
        )
    }
}

/// What a finished operation returned.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Out {
    /// `int` results: 0 success, non-zero error (next_result: -1 = no more).
    Int(c_int),
    /// `my_bool` results: false success.
    Bool(bool),
    /// `MYSQL_ROW` (fetch_row): null means end or error.
    Row(ffi::MYSQL_ROW),
    /// `MYSQL*` (connect): null means error.
    Conn(*mut ffi::MYSQL),
    /// close has no result.
    Unit,
}

// SAFETY: an `Out` is a plain value naming memory owned by the connection it came
// from (its row or handle); it travels with that connection, which is Send,
// and is only dereferenced through it, by one thread at a time.
unsafe impl Send for Out {}

/// Either finished, or waiting for these `WAIT_*` bits.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Step {
    Done(Out),
    Wait(i32),
}

/// The arguments of an operation's first call. (The portable backend starts no
/// operation, so it reads none of them.)
#[cfg_attr(mca_backend = "portable", allow(dead_code))]
pub(crate) enum Start<'a> {
    Connect(&'a ConnectParams),
    /// The buffer must stay alive and unmoved until the operation finishes.
    SendQuery(*const u8, usize),
    ReadQueryResult,
    FetchRow(*mut ffi::MYSQL_RES),
    NextResult,
    Ping,
    /// NUL-terminated; must stay alive until the operation finishes.
    SelectDb(*const c_char),
    ResetConnection,
    Close,
    /// Prepare the statement text (alive and unmoved until the operation finishes).
    StmtPrepare(*mut ffi::MYSQL_STMT, *const u8, usize),
    /// Execute with the bound parameters and read the result header.
    StmtExecute(*mut ffi::MYSQL_STMT),
    /// Fetch the next row into the bound result buffers.
    StmtFetch(*mut ffi::MYSQL_STMT),
    /// Read the next result of a statement (a procedure's results).
    StmtNextResult(*mut ffi::MYSQL_STMT),
    /// Send one chunk of a long parameter (alive until the operation finishes).
    StmtSendLongData(*mut ffi::MYSQL_STMT, u32, *const u8, usize),
    /// Read and discard the statement's unread result.
    StmtFreeResult(*mut ffi::MYSQL_STMT),
    /// Close the statement on the server and free the handle.
    StmtClose(*mut ffi::MYSQL_STMT),
}

// SAFETY: the pointers in a `Start` name buffers owned by the connection that runs
// the operation (query text, database name, result); they move with it.
unsafe impl Send for Start<'_> {}

impl Start<'_> {
    /// The operation this starts.
    pub(crate) fn kind(&self) -> OpKind {
        match self {
            Start::Connect(_) => OpKind::Connect,
            Start::SendQuery(..) => OpKind::SendQuery,
            Start::ReadQueryResult => OpKind::ReadQueryResult,
            Start::FetchRow(_) => OpKind::FetchRow,
            Start::NextResult => OpKind::NextResult,
            Start::Ping => OpKind::Ping,
            Start::SelectDb(_) => OpKind::SelectDb,
            Start::ResetConnection => OpKind::ResetConnection,
            Start::Close => OpKind::Close,
            Start::StmtPrepare(..) => OpKind::StmtPrepare,
            Start::StmtExecute(_) => OpKind::StmtExecute,
            Start::StmtFetch(_) => OpKind::StmtFetch,
            Start::StmtNextResult(_) => OpKind::StmtNextResult,
            Start::StmtSendLongData(..) => OpKind::StmtSendLongData,
            Start::StmtFreeResult(_) => OpKind::StmtFreeResult,
            Start::StmtClose(_) => OpKind::StmtClose,
        }
    }
}

/// A statement pointer that may cross an `.await` with its connection.
#[derive(Clone, Copy)]
pub(crate) struct StmtPtr(pub(crate) *mut ffi::MYSQL_STMT);

// SAFETY: as `ResPtr`: the statement belongs to the connection being driven and
// is only used through it, by one thread at a time.
unsafe impl Send for StmtPtr {}

/// A result pointer that may cross an `.await` with its connection.
#[derive(Clone, Copy)]
pub(crate) struct ResPtr(pub(crate) *mut ffi::MYSQL_RES);

impl ResPtr {
    /// The pointer (a method, so closures capture the whole `ResPtr`, not the field).
    pub(crate) fn get(self) -> *mut ffi::MYSQL_RES {
        self.0
    }
}

// SAFETY: see `Out`: the result belongs to the connection being driven, and the
// pointer is only copied, never dereferenced through a shared `&ResPtr`.
unsafe impl Send for ResPtr {}
// SAFETY: as above.
unsafe impl Sync for ResPtr {}
