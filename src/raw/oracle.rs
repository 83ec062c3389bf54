//! The Oracle libmysqlclient backend (8.0.16+): the `_nonblocking` API.
//!
//! Each `mysql_X_nonblocking` call does as much as it can without waiting and
//! returns `NET_ASYNC_NOT_READY` when the socket would block; calling it again
//! with the same arguments continues where it stopped. Unlike MariaDB's
//! `_start`/`_cont`, it does not say which direction it waits for, so the
//! direction comes from the operation's phase:
//!
//! - the TCP connect (connect stages up to `NET_COMPLETE_CONNECT`) and sending a
//!   query wait for **writability**;
//! - everything else waits for **readability**: reading the greeting, the TLS
//!   handshake and authentication replies, result headers, rows, next results,
//!   and the replies to `COM_INIT_DB` / `COM_RESET_CONNECTION`. The small packets
//!   those phases write (a login, a command) go into an empty socket buffer in
//!   one call; if one ever did not, the operation would wait for the server until
//!   the call's timeout ends it.
//!
//! Waiting on the right direction is what keeps the client idle while the server
//! works: waiting for writability while the answer is pending would wake at once,
//! every time, and spin.
//!
//! What Oracle's client cannot do without blocking, and what this backend does:
//! - ping: there is no `mysql_ping_nonblocking`; a round trip of `DO 0` stands in
//!   (send, then read its OK), which proves the same thing without blocking;
//! - select_db: `mysql_select_db_nonblocking` is declared but the library does not
//!   define it; the statement ``USE `db` `` stands in (the name quoted with
//!   backticks, a backtick in it doubled; the connection types refuse non-ASCII
//!   names on character sets that could hide a backtick in a multi-byte
//!   character);
//! - close: there is no non-blocking close; `mysql_close` writes `COM_QUIT` into
//!   the socket buffer of a non-blocking socket and frees the handle, which never
//!   waits;
//! - reset: `mysql_reset_connection_nonblocking` exists from 8.4; with older
//!   clients a reset is refused with an error (a pool then replaces the
//!   connection).
//!
//! The client has no timeouts of its own in this mode; the connection types bound
//! every call with their own timers.

use std::ffi::{c_char, c_ulong};
use std::ptr;
use std::time::Duration;

use super::connect_params::ConnectParams;
use super::ffi::{self, net_async_status as S};
use super::op::{OpKind, Out, Start, Step, WAIT_AGAIN, WAIT_READ, WAIT_WRITE};

/// Every operation has a non-blocking form (ping and close stand-ins included).
pub(crate) const NONBLOCKING: bool = true;

/// The TLS handshake is part of the non-blocking connect.
pub(crate) const TLS_CONNECT_BLOCKS: bool = false;

/// `mysql_reset_connection_nonblocking` exists (8.4+).
pub(crate) const RESET_NONBLOCKING: bool = cfg!(mca_reset_nonblocking);

/// The ping stand-in.
const PING_SQL: &[u8] = b"DO 0";

/// `select_db` runs as a statement (see the module docs).
pub(crate) const SELECT_DB_BY_STATEMENT: bool = true;

/// What this backend adds to a connection: the arguments of the operation in
/// flight, which every resume passes again.
pub(crate) struct State {
    connect: *const ConnectParams,
    query: (*const c_char, c_ulong),
    /// The text of a stand-in statement (ping, select_db) in flight.
    stand_in: Vec<u8>,
    /// The stand-in was sent and its reply is being read.
    stand_in_reading: bool,
}

impl Default for State {
    fn default() -> State {
        State {
            connect: ptr::null(),
            query: (ptr::null(), 0),
            stand_in: Vec::new(),
            stand_in_reading: false,
        }
    }
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("stand_in_reading", &self.stand_in_reading)
            .finish_non_exhaustive()
    }
}

// SAFETY: the pointers name buffers owned by the same connection owner as the
// handle (its connect parameters, query text, database name); they move with it
// and are only used by the thread that uses the handle.
unsafe impl Send for State {}

impl State {
    /// Oracle's connect never has to be abandoned for moving threads.
    pub(crate) fn connect_moved(&self) -> bool {
        false
    }
}

/// Nothing to switch on: the `_nonblocking` calls are non-blocking by themselves
/// and run on the caller's stack (no co-routine, so the stack size is ignored).
///
/// # Safety
/// `m` is a live handle.
pub(crate) unsafe fn prepare_handle(_m: *mut ffi::MYSQL, _stack_size: usize) -> bool {
    true
}

enum Status {
    NotReady,
    Complete,
    NoMoreResults,
    Error,
}

fn status(s: S) -> Status {
    match s {
        S::NET_ASYNC_NOT_READY => Status::NotReady,
        S::NET_ASYNC_COMPLETE => Status::Complete,
        S::NET_ASYNC_COMPLETE_NO_MORE_RESULTS => Status::NoMoreResults,
        _ => Status::Error,
    }
}

/// `0` done, `1` failed: the `int` convention of the other backends.
fn int(s: Status) -> Out {
    Out::Int(match s {
        Status::Complete => 0,
        Status::NoMoreResults => -1,
        _ => 1,
    })
}

/// Start an operation.
///
/// # Safety
/// `m` is a live handle used by this thread only, with no operation suspended;
/// every pointer in `op` stays valid until the operation finishes.
pub(crate) unsafe fn start(m: *mut ffi::MYSQL, st: &mut State, op: Start<'_>) -> Step {
    let kind = op.kind();
    match op {
        Start::Connect(p) => st.connect = p,
        Start::SendQuery(q, n) => st.query = (q as *const c_char, n as c_ulong),
        Start::SelectDb(db) => {
            // SAFETY: per the contract, a live NUL-terminated name.
            let name = unsafe { std::ffi::CStr::from_ptr(db) }.to_bytes();
            st.stand_in.clear();
            st.stand_in.extend_from_slice(b"USE `");
            for &b in name {
                if b == b'`' {
                    st.stand_in.push(b'`');
                }
                st.stand_in.push(b);
            }
            st.stand_in.push(b'`');
            st.stand_in_reading = false;
        }
        Start::Ping => {
            st.stand_in.clear();
            st.stand_in.extend_from_slice(PING_SQL);
            st.stand_in_reading = false;
        }
        Start::Close => {
            // SAFETY: per the contract; the caller marks the handle freed.
            unsafe { ffi::mysql_close(m) };
            return Step::Done(Out::Unit);
        }
        _ => {}
    }
    let res = match op {
        Start::FetchRow(r) => r,
        _ => ptr::null_mut(),
    };
    // SAFETY: per the contract.
    unsafe { call(m, st, kind, res) }
}

/// Resume the suspended operation. The events that occurred do not matter to
/// Oracle's calls; `res` is the result being fetched (only used by `FetchRow`).
///
/// # Safety
/// `m` is a live handle with a suspended operation of exactly `kind`, used by this
/// thread only; the operation's arguments are still alive.
pub(crate) unsafe fn cont(
    m: *mut ffi::MYSQL,
    st: &mut State,
    kind: OpKind,
    res_for_fetch: *mut ffi::MYSQL_RES,
    _ready: i32,
) -> Step {
    // SAFETY: per the contract.
    unsafe { call(m, st, kind, res_for_fetch) }
}

/// One `_nonblocking` call for `kind` with the stored arguments; a read wait
/// with bytes still in the socket becomes "resume at once" ([`WAIT_AGAIN`]).
///
/// Oracle's client reads small packets through a 16 KiB buffer of its own and
/// answers `NET_ASYNC_NOT_READY` as soon as that buffer ends in the middle of a
/// packet, without trying the socket again. So "not ready" does not mean the
/// socket would block: the rest of the packet may already be in the kernel, and
/// no readiness event will come for bytes that arrived before the last one. The
/// kernel's count of unread bytes (`FIONREAD`, one system call per wait) tells
/// the two apart.
///
/// # Safety
/// As [`cont`].
unsafe fn call(
    m: *mut ffi::MYSQL,
    st: &mut State,
    kind: OpKind,
    res_for_fetch: *mut ffi::MYSQL_RES,
) -> Step {
    // SAFETY: per the contract.
    match unsafe { call_once(m, st, kind, res_for_fetch) } {
        // SAFETY: `m` is live, per the contract.
        Step::Wait(WAIT_READ) if unsafe { unread_bytes(m) } => Step::Wait(WAIT_READ | WAIT_AGAIN),
        step => step,
    }
}

/// Whether the connection's socket holds bytes the library has not read yet.
///
/// # Safety
/// `m` is a live handle.
unsafe fn unread_bytes(m: *mut ffi::MYSQL) -> bool {
    // SAFETY: per the contract. `net.fd` is the socket once the TCP connect is
    // done; before that it is 0 and the socket is read from the I/O layer.
    let fd = match unsafe { ((*m).net.fd, (*m).net.vio.is_null()) } {
        (fd, _) if fd > 0 => fd,
        (_, true) => return false,
        // SAFETY: `vio` is not null.
        (_, false) => match unsafe { connecting_fd(m) } {
            Some(fd) => fd,
            None => return false,
        },
    };
    let mut n: std::ffi::c_int = 0;
    // SAFETY: FIONREAD writes one int into `n`.
    let rc = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n) };
    rc == 0 && n > 0
}

/// One `_nonblocking` call for `kind` with the stored arguments.
///
/// # Safety
/// As [`cont`].
unsafe fn call_once(
    m: *mut ffi::MYSQL,
    st: &mut State,
    kind: OpKind,
    res_for_fetch: *mut ffi::MYSQL_RES,
) -> Step {
    // SAFETY (every call below): `m` is live and ours; the stored pointers name
    // buffers the caller keeps alive until the operation finishes.
    unsafe {
        match kind {
            OpKind::Connect => {
                let a = (*st.connect).args();
                match status(ffi::mysql_real_connect_nonblocking(
                    m, a.host, a.user, a.password, a.db, a.port, a.socket, a.flags,
                )) {
                    Status::NotReady => Step::Wait(connect_direction(m)),
                    Status::Complete => Step::Done(Out::Conn(m)),
                    _ => Step::Done(Out::Conn(ptr::null_mut())),
                }
            }
            OpKind::SendQuery => {
                match status(ffi::mysql_send_query_nonblocking(m, st.query.0, st.query.1)) {
                    Status::NotReady => Step::Wait(WAIT_WRITE),
                    s => Step::Done(int(s)),
                }
            }
            OpKind::ReadQueryResult => {
                // After a completed send the library is in its "reading result"
                // state, where this call only reads (the text is not used again).
                match status(ffi::mysql_real_query_nonblocking(m, st.query.0, st.query.1)) {
                    Status::NotReady => Step::Wait(WAIT_READ),
                    Status::Complete => Step::Done(Out::Bool(false)),
                    _ => Step::Done(Out::Bool(true)),
                }
            }
            OpKind::FetchRow => {
                let mut row: ffi::MYSQL_ROW = ptr::null_mut();
                match status(ffi::mysql_fetch_row_nonblocking(res_for_fetch, &mut row)) {
                    Status::NotReady => Step::Wait(WAIT_READ),
                    _ => Step::Done(Out::Row(row)),
                }
            }
            OpKind::NextResult => match status(ffi::mysql_next_result_nonblocking(m)) {
                Status::NotReady => Step::Wait(WAIT_READ),
                s => Step::Done(int(s)),
            },
            OpKind::Ping | OpKind::SelectDb => {
                let (q, n) = (
                    st.stand_in.as_ptr() as *const c_char,
                    st.stand_in.len() as c_ulong,
                );
                if !st.stand_in_reading {
                    match status(ffi::mysql_send_query_nonblocking(m, q, n)) {
                        Status::NotReady => return Step::Wait(WAIT_WRITE),
                        Status::Complete => st.stand_in_reading = true,
                        s => return Step::Done(int(s)),
                    }
                }
                match status(ffi::mysql_real_query_nonblocking(m, q, n)) {
                    Status::NotReady => Step::Wait(WAIT_READ),
                    s => {
                        st.stand_in_reading = false;
                        Step::Done(int(s))
                    }
                }
            }
            OpKind::ResetConnection => reset(m),
            OpKind::Close => Step::Done(Out::Unit),
            // Never started (`STMT_NONBLOCKING` is false); a failure if it were.
            OpKind::StmtPrepare
            | OpKind::StmtExecute
            | OpKind::StmtFetch
            | OpKind::StmtNextResult
            | OpKind::StmtSendLongData
            | OpKind::StmtFreeResult
            | OpKind::StmtClose => Step::Done(Out::Int(1)),
        }
    }
}

/// `COM_RESET_CONNECTION` without blocking (8.4+).
#[cfg(mca_reset_nonblocking)]
unsafe fn reset(m: *mut ffi::MYSQL) -> Step {
    // SAFETY: as in `call`.
    match status(unsafe { ffi::mysql_reset_connection_nonblocking(m) }) {
        Status::NotReady => Step::Wait(WAIT_READ),
        s => Step::Done(int(s)),
    }
}

/// Clients before 8.4 cannot reset without blocking: connections refuse the
/// call before starting it ([`RESET_NONBLOCKING`]); never reached.
#[cfg(not(mca_reset_nonblocking))]
unsafe fn reset(_m: *mut ffi::MYSQL) -> Step {
    Step::Done(Out::Int(1))
}

/// Which way the connect waits: the TCP connect for writability, the rest of
/// the handshake (greeting, TLS, authentication) for readability.
///
/// # Safety
/// `m` is a live handle with a connect in progress.
unsafe fn connect_direction(m: *mut ffi::MYSQL) -> i32 {
    use ffi::connect_stage as C;
    // SAFETY: per the contract; reads the connect's own state.
    match unsafe { ffi::mysql_get_connect_nonblocking_stage(m) } {
        C::CONNECT_STAGE_NOT_STARTED
        | C::CONNECT_STAGE_NET_BEGIN_CONNECT
        | C::CONNECT_STAGE_NET_WAIT_CONNECT
        | C::CONNECT_STAGE_NET_COMPLETE_CONNECT => WAIT_WRITE,
        _ => WAIT_READ,
    }
}

/// Oracle's client never asks to wait for a timeout.
///
/// # Safety
/// `m` is a live handle.
pub(crate) unsafe fn timeout_value(_m: *mut ffi::MYSQL) -> Duration {
    Duration::ZERO
}

/// Resume on whatever thread the caller runs on: Oracle's calls keep no
/// per-thread pointers between calls.
///
/// # Safety
/// As [`cont`].
pub(crate) unsafe fn resume(
    m: *mut ffi::MYSQL,
    st: &mut State,
    kind: OpKind,
    _waiting: i32,
    res_for_fetch: *mut ffi::MYSQL_RES,
    ready: i32,
) -> Step {
    // SAFETY: per the contract.
    unsafe { cont(m, st, kind, res_for_fetch, ready) }
}

/// Start a connect (any thread will do; see [`resume`]).
///
/// # Safety
/// As [`start`].
pub(crate) unsafe fn start_connect(
    m: *mut ffi::MYSQL,
    st: &mut State,
    params: &ConnectParams,
    _may_move: bool,
) -> Step {
    // SAFETY: per the contract.
    unsafe { start(m, st, Start::Connect(params)) }
}

/// Resuming with every event: Oracle's calls ignore the events; after the socket
/// is shut down every call fails at once (see `drive::abort`).
pub(crate) const ABORT_EVENTS: i32 = WAIT_READ | WAIT_WRITE;

/// No non-blocking statement calls: async connections use client-side
/// parameters (see `drive::STMT_NONBLOCKING`).
pub(crate) const STMT_NONBLOCKING: bool = false;

/// This backend's name.
pub(crate) const NAME: &str = "oracle";

/// The socket of a connect in progress. Oracle's client keeps it in its I/O
/// layer (`Vio`), whose first member has been the socket descriptor since 5.6,
/// and copies it to `net.fd` only after the TCP connect; the number read there
/// is used only if the kernel confirms it is a socket.
///
/// # Safety
/// `m` is a live handle whose `net.vio` is not null.
pub(crate) unsafe fn connecting_fd(m: *mut ffi::MYSQL) -> Option<std::os::fd::RawFd> {
    // SAFETY: per the contract, `vio` points to the library's live I/O layer,
    // which starts with the socket descriptor (an int).
    let fd = unsafe { *((*m).net.vio as *const std::ffi::c_int) };
    let mut ty: std::ffi::c_int = 0;
    let mut len = std::mem::size_of::<std::ffi::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `ty`.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_TYPE,
            &mut ty as *mut std::ffi::c_int as *mut libc::c_void,
            &mut len,
        )
    };
    (fd > 0 && rc == 0 && ty == libc::SOCK_STREAM).then_some(fd)
}
