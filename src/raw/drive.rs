//! The C side of the drive loop, the same for every backend: start an operation,
//! remember it while it is suspended, resume it, and unwind it.
//!
//! A suspended operation is remembered in the [`RawConn`] (its [`OpKind`] and the
//! events it waits for), so that a later command can resume and finish it when the
//! future that started it was dropped, and so that the owner's `Drop` can unwind it
//! ([`abort`]) before the handle is closed. The tokio side of the loop (waiting for
//! the events) is in `async_conn/drive.rs`.

use std::time::Duration;

use super::backend;
use super::conn::{Phase, RawConn};
use super::connect_params::ConnectParams;
use super::ffi;
use super::library::thread_init;
use super::op::{OpKind, Start, Step};
use crate::error::{Error, ErrorKind, Result};

/// Whether this build's backend can drive operations without blocking.
pub(crate) const NONBLOCKING: bool = backend::NONBLOCKING;

/// The backend's non-blocking connect waits for the TLS handshake with blocking
/// calls (see `mariadb.rs`): connects that may use TLS run off the event loop.
pub(crate) const TLS_CONNECT_BLOCKS: bool = backend::TLS_CONNECT_BLOCKS;

/// `reset_connection` can run without blocking (not with Oracle clients before
/// 8.4; see `oracle.rs`).
pub(crate) const RESET_NONBLOCKING: bool = backend::RESET_NONBLOCKING;

/// `select_db` runs as a `USE` statement (see `oracle.rs`).
pub(crate) const SELECT_DB_BY_STATEMENT: bool = backend::SELECT_DB_BY_STATEMENT;

/// Statements (`mysql_stmt_*`) have non-blocking calls (Connector/C only).
pub(crate) const STMT_NONBLOCKING: bool = backend::STMT_NONBLOCKING;

/// The backend in use, for diagnostics: `"mariadb"`, `"oracle"` or `"portable"`.
pub(crate) const BACKEND_NAME: &str = backend::NAME;

fn record(conn: &mut RawConn, kind: OpKind, step: Step) -> Step {
    match step {
        Step::Wait(bits) => conn.suspend(kind, bits),
        Step::Done(_) => conn.resume_done(),
    }
    step
}

fn refuse_if_suspended(conn: &mut RawConn, what: OpKind) -> Result<()> {
    if let Some((kind, _)) = conn.suspended() {
        conn.set_phase(Phase::Broken);
        return Err(Error::new(
            ErrorKind::Client,
            format!(
                "internal: {what:?} started while {kind:?} is still suspended on this connection"
            ),
        ));
    }
    Ok(())
}

/// Start an operation. On `Wait`, the connection records the suspended
/// operation; resume it with [`resume`].
///
/// Refused while another operation is suspended on the same handle: the library
/// would start a second operation over the first one's state. Callers finish (or
/// abandon) the suspended operation first; this check makes a mistake an error
/// instead of a hang.
pub(crate) fn start(conn: &mut RawConn, op: Start<'_>) -> Result<Step> {
    let kind = op.kind();
    refuse_if_suspended(conn, kind)?;
    if kind.is_stmt() && !STMT_NONBLOCKING {
        return Err(Error::new(
            ErrorKind::Client,
            format!("internal: {kind:?} has no non-blocking call in this build's client library"),
        )
        .with_fatal(false));
    }
    thread_init();
    let (m, st) = conn.backend_parts();
    // SAFETY: `m` is our live handle, used by this thread only (&mut RawConn), with
    // nothing suspended (checked above); per the `Start` contract its pointers stay
    // valid until the operation completes.
    let step = unsafe { backend::start(m, st, op) };
    Ok(record(conn, kind, step))
}

/// Start a non-blocking connect. `may_move`: the caller's runtime may resume it
/// on another thread (the MariaDB backend then starts it on its connect thread).
pub(crate) fn start_connect(
    conn: &mut RawConn,
    params: &ConnectParams,
    may_move: bool,
) -> Result<Step> {
    refuse_if_suspended(conn, OpKind::Connect)?;
    thread_init();
    let (m, st) = conn.backend_parts();
    // SAFETY: as in `start`; `params` outlives the connect (the caller keeps it).
    let step = unsafe { backend::start_connect(m, st, params, may_move) };
    Ok(record(conn, OpKind::Connect, step))
}

/// Resume the suspended operation with the events that occurred. `res` is the
/// result being fetched (only used by `FetchRow`).
pub(crate) fn resume(conn: &mut RawConn, res_for_fetch: *mut ffi::MYSQL_RES, ready: i32) -> Step {
    let Some((kind, waiting)) = conn.suspended() else {
        return Step::Wait(0);
    };
    thread_init();
    let (m, st) = conn.backend_parts();
    // SAFETY: the handle has a suspended operation of exactly `kind` (recorded by
    // `start`), whose arguments its owner keeps alive.
    let step = unsafe { backend::resume(m, st, kind, waiting, res_for_fetch, ready) };
    record(conn, kind, step)
}

/// How long the library wants to wait before a timeout event.
pub(crate) fn timeout_value(conn: &RawConn) -> Duration {
    // SAFETY: our handle; only meaningful right after a timeout wait.
    unsafe { backend::timeout_value(conn.as_ptr()) }
}

/// Unwind a suspended operation so the handle can be freed: shut the socket down
/// (every read and write now fails at once) and resume the operation until it
/// returns. Used by `Drop`, which cannot wait.
pub(crate) fn abort(conn: &mut RawConn, res_for_fetch: *mut ffi::MYSQL_RES) {
    let Some((kind, _)) = conn.suspended() else {
        return;
    };
    if kind == OpKind::FetchRow && res_for_fetch.is_null() {
        // Cannot resume without its result; leave what is left to mysql_close.
        return;
    }
    conn.shutdown_socket();
    for _ in 0..1000 {
        if let Step::Done(_) = resume(conn, res_for_fetch, backend::ABORT_EVENTS) {
            break;
        }
    }
    if kind == OpKind::Close {
        conn.mark_freed_by_library();
    }
}
