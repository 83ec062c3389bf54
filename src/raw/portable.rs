//! The backend for a client library without a non-blocking API: none of its
//! operations can be driven step by step. Connections use the portable
//! readable-then-read path instead (wait until the socket is readable, then make
//! the blocking call), so nothing here is ever started; this file only gives the
//! drive loop the same names as the other backends, and it references no
//! non-blocking symbol (a CI build hides them from the bindings to prove it).

use std::time::Duration;

use super::connect_params::ConnectParams;
use super::ffi;
use super::op::{OpKind, Out, Start, Step};

/// No operation has a non-blocking form.
pub(crate) const NONBLOCKING: bool = false;

/// Unused here (connecting blocks on this backend anyway).
pub(crate) const TLS_CONNECT_BLOCKS: bool = false;

/// Unused here.
pub(crate) const SELECT_DB_BY_STATEMENT: bool = false;

/// Unused here.
pub(crate) const RESET_NONBLOCKING: bool = true;

/// Unused here.
pub(crate) const ABORT_EVENTS: i32 = 0;

/// Nothing: no operation is ever suspended on this backend.
#[derive(Debug, Default)]
pub(crate) struct State {
    _nothing: (),
}

impl State {
    /// Never.
    pub(crate) fn connect_moved(&self) -> bool {
        false
    }
}

/// There is no non-blocking mode to switch on (and no co-routine stack to size).
///
/// # Safety
/// `m` is a live handle.
pub(crate) unsafe fn prepare_handle(_m: *mut ffi::MYSQL, _stack_size: usize) -> bool {
    false
}

/// Never called (connections only drive operations when [`NONBLOCKING`]); a
/// failed operation if it were.
///
/// # Safety
/// None needed; the signature matches the other backends.
pub(crate) unsafe fn start(_m: *mut ffi::MYSQL, _st: &mut State, op: Start<'_>) -> Step {
    Step::Done(failed(op.kind()))
}

/// As [`start`].
///
/// # Safety
/// None needed.
pub(crate) unsafe fn start_connect(
    _m: *mut ffi::MYSQL,
    _st: &mut State,
    _params: &ConnectParams,
    _may_move: bool,
) -> Step {
    Step::Done(failed(OpKind::Connect))
}

/// As [`start`].
///
/// # Safety
/// None needed.
pub(crate) unsafe fn resume(
    _m: *mut ffi::MYSQL,
    _st: &mut State,
    kind: OpKind,
    _waiting: i32,
    _res_for_fetch: *mut ffi::MYSQL_RES,
    _ready: i32,
) -> Step {
    Step::Done(failed(kind))
}

/// As [`start`].
///
/// # Safety
/// None needed.
pub(crate) unsafe fn timeout_value(_m: *mut ffi::MYSQL) -> Duration {
    Duration::ZERO
}

fn failed(kind: OpKind) -> Out {
    match kind {
        OpKind::Connect => Out::Conn(std::ptr::null_mut()),
        OpKind::ReadQueryResult => Out::Bool(true),
        OpKind::FetchRow => Out::Row(std::ptr::null_mut()),
        OpKind::Close => Out::Unit,
        _ => Out::Int(1),
    }
}

/// No non-blocking statement calls: async connections use client-side
/// parameters (see `drive::STMT_NONBLOCKING`).
pub(crate) const STMT_NONBLOCKING: bool = false;

/// This backend's name.
pub(crate) const NAME: &str = "portable";

/// Connects block on this backend: the socket is known once they return.
///
/// # Safety
/// None needed.
#[cfg_attr(mca_mariadb, allow(dead_code))] // MariaDB's library names its socket itself.
pub(crate) unsafe fn connecting_fd(_m: *mut ffi::MYSQL) -> Option<std::os::fd::RawFd> {
    None
}
