//! The one drive loop for MariaDB's non-blocking API.
//!
//! Each operation is started with its `X_start` call. A zero return means it finished
//! without blocking; otherwise the return value is a bitmask of `MYSQL_WAIT_*`
//! events the library's co-routine waits for. The caller waits for them (on tokio:
//! [`wait`], through `AsyncFd` and a timer) and resumes with `X_cont`, passing the
//! events that occurred, until it returns zero.
//!
//! The library always tries the socket (and its own buffers) before asking to wait,
//! so data that is already buffered is consumed without touching the reactor.
//!
//! A suspended operation is remembered in the [`RawConn`] (its [`OpKind`]), so that a later command can resume and finish it when the
//! future that started it was dropped (see `async_conn.rs`), and so that `Drop` can
//! unwind it ([`abort`]) before the handle is closed.

use std::ffi::{c_char, c_int, c_ulong};
use std::future::Future;
use std::os::fd::RawFd;
use std::pin::Pin;
use std::ptr;
use std::sync::mpsc;
use std::task::Context;
use std::task::Poll;
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::time::Sleep;

use crate::error::{Error, ErrorKind, Result};
use crate::ffi;
use crate::raw::{ConnectParams, RawConn};

/// Wait for the socket to become readable.
pub(crate) const WAIT_READ: i32 = ffi::MYSQL_WAIT_READ as i32;
/// Wait for the socket to become writable.
pub(crate) const WAIT_WRITE: i32 = ffi::MYSQL_WAIT_WRITE as i32;
/// Wait for an exceptional condition (connect errors).
pub(crate) const WAIT_EXCEPT: i32 = ffi::MYSQL_WAIT_EXCEPT as i32;
/// The library also waits for a timeout (`mysql_get_timeout_value_ms`).
pub(crate) const WAIT_TIMEOUT: i32 = ffi::MYSQL_WAIT_TIMEOUT as i32;

/// Which `_cont` resumes a suspended operation.
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
}

/// What a finished operation returned (the `ret` out-parameter of `_start`/`_cont`).
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

/// Either finished, or waiting for these `MYSQL_WAIT_*` bits.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Step {
    Done(Out),
    Wait(i32),
}

/// The arguments of an operation's `_start` call.
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
}

// SAFETY: the pointers in a `Start` name buffers owned by the connection that runs
// the operation (query text, database name, result); they move with it.
unsafe impl Send for Start<'_> {}

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

impl Start<'_> {
    fn kind(&self) -> OpKind {
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
        }
    }
}

/// Start an operation. On `Wait`, the connection records the suspended
/// operation's kind; resume it with [`cont`].
///
/// Refused while another operation is suspended on the same handle: the library
/// would start a second co-routine over the first one's state. Callers finish (or
/// abandon) the suspended operation first; this check makes a mistake an error
/// instead of a hang.
pub(crate) fn start(conn: &mut RawConn, op: Start<'_>) -> Result<Step> {
    if let Some((kind, _)) = conn.suspended() {
        conn.set_phase(crate::raw::Phase::Broken);
        return Err(Error::new(
            ErrorKind::Client,
            format!(
                "internal: {:?} started while {kind:?} is still suspended on this connection",
                op.kind()
            ),
        ));
    }
    Ok(start_unchecked(conn, op))
}

fn start_unchecked(conn: &mut RawConn, op: Start<'_>) -> Step {
    crate::raw::thread_init();
    let kind = op.kind();
    if kind == OpKind::Connect {
        conn.set_connect_site(ConnectSite::Inline(std::thread::current().id()));
    }
    let m = conn.as_ptr();
    let mut i: c_int = 0;
    let mut b: ffi::my_bool = 0;
    let mut row: ffi::MYSQL_ROW = std::ptr::null_mut();
    let mut ret_conn: *mut ffi::MYSQL = std::ptr::null_mut();
    // SAFETY: `m` is our live handle, used by this thread only (&mut RawConn). Every
    // pointer argument is valid now and, per the `Start` contract, until the
    // operation completes; the out-parameters are locals read only on completion.
    let status = unsafe {
        match op {
            Start::Connect(p) => {
                let (host, user, pass, db, port, socket, flags) = RawConn::connect_args(p);
                ffi::mysql_real_connect_start(
                    &mut ret_conn,
                    m,
                    host,
                    user,
                    pass,
                    db,
                    port,
                    socket,
                    flags,
                )
            }
            Start::SendQuery(q, len) => {
                ffi::mysql_send_query_start(&mut i, m, q as *const c_char, len as c_ulong)
            }
            Start::ReadQueryResult => ffi::mysql_read_query_result_start(&mut b, m),
            Start::FetchRow(r) => ffi::mysql_fetch_row_start(&mut row, r),
            Start::NextResult => ffi::mysql_next_result_start(&mut i, m),
            Start::Ping => ffi::mysql_ping_start(&mut i, m),
            Start::SelectDb(db) => ffi::mysql_select_db_start(&mut i, m, db),
            Start::ResetConnection => ffi::mysql_reset_connection_start(&mut i, m),
            Start::Close => ffi::mysql_close_start(m),
        }
    };
    finish(conn, kind, status, i, b, row, ret_conn)
}

/// Where a connect's `_start` ran: the thread whose `errno` the library's TCP
/// connect may still write to (see [`start_connect`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConnectSite {
    /// The dedicated connect thread.
    ConnectThread,
    /// Inline, on this thread (a current-thread runtime).
    Inline(std::thread::ThreadId),
}

/// A job for the connect thread. The pointers are only used while the sender
/// blocks on `reply`, so the borrows they come from are alive and exclusive.
enum Job {
    Start(*mut RawConn, *const ConnectParams, mpsc::SyncSender<Step>),
    Cont(*mut RawConn, i32, mpsc::SyncSender<Step>),
}

// SAFETY: see `Job`: the sender waits for the reply before it uses the connection
// again, so the connect thread has exclusive use of it in between.
unsafe impl Send for Job {}

/// Run `job` on the connect thread and wait for its reply (microseconds: the
/// calls it makes do not wait for the network).
fn on_connect_thread(make: impl FnOnce(mpsc::SyncSender<Step>) -> Job) -> Step {
    static STARTER: std::sync::OnceLock<std::sync::Mutex<mpsc::Sender<Job>>> =
        std::sync::OnceLock::new();
    let starter = STARTER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("mysqlclient-async-connect".into())
            .spawn(move || {
                for job in rx {
                    // SAFETY: see `Job`: the sender waits for our reply.
                    unsafe {
                        match job {
                            Job::Start(conn, params, reply) => {
                                let step = start_unchecked(&mut *conn, Start::Connect(&*params));
                                (*conn).set_connect_site(ConnectSite::ConnectThread);
                                let _ = reply.send(step);
                            }
                            Job::Cont(conn, ready, reply) => {
                                let step =
                                    cont(&mut *conn, OpKind::Connect, ptr::null_mut(), ready);
                                let _ = reply.send(step);
                            }
                        }
                    }
                }
            })
            .expect("cannot spawn the connect thread");
        std::sync::Mutex::new(tx)
    });
    let (reply, done) = mpsc::sync_channel(1);
    starter
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .send(make(reply))
        .expect("the connect thread is gone");
    done.recv().expect("the connect thread is gone")
}

/// Start a non-blocking connect on the dedicated connect thread (for runtimes that
/// may resume a task on another thread).
///
/// Why: in Connector/C 3.3 the asynchronous TCP connect (`my_connect_async`) takes
/// the address of `errno` before it yields for writability, and after resuming
/// stores a failed connect's `SO_ERROR` through that address, i.e. into the errno
/// of the thread that entered it (checked in the disassembly of Debian's
/// libmariadb.so.3). So the `_start`, and every resume of a connect from a wait for
/// writability ([`resume`]), run on this one thread, one call at a time: the write
/// always lands in the errno of the thread that is running the library at that
/// moment, as in blocking C code, and no other thread ever reads or writes it
/// concurrently. The calls return at the first wait: microseconds each.
pub(crate) fn start_connect(conn: &mut RawConn, params: &ConnectParams) -> Result<Step> {
    if conn.suspended().is_some() {
        return start(conn, Start::Connect(params));
    }
    Ok(on_connect_thread(|reply| Job::Start(conn, params, reply)))
}

/// Resume the suspended operation, on the right thread: a connect suspended in a
/// wait for writability (its TCP connect) resumes where its errno address points
/// (see [`start_connect`]). On a current-thread runtime that is the runtime's own
/// thread; if the runtime moved to another thread mid-connect, the connect is
/// resumed as timed out, which makes the library give up without that write, and
/// [`RawConn::connect_moved`] reports why.
pub(crate) fn resume(
    conn: &mut RawConn,
    kind: OpKind,
    res_for_fetch: *mut ffi::MYSQL_RES,
    ready: i32,
) -> Step {
    let waits_for_write = conn
        .suspended()
        .is_some_and(|(_, bits)| bits & WAIT_WRITE != 0);
    if kind != OpKind::Connect || !waits_for_write || ready & WAIT_TIMEOUT != 0 {
        return cont(conn, kind, res_for_fetch, ready);
    }
    match conn.connect_site() {
        Some(ConnectSite::ConnectThread) => {
            on_connect_thread(|reply| Job::Cont(conn, ready, reply))
        }
        Some(ConnectSite::Inline(t)) if t != std::thread::current().id() => {
            conn.set_connect_moved();
            cont(conn, kind, res_for_fetch, WAIT_TIMEOUT)
        }
        _ => cont(conn, kind, res_for_fetch, ready),
    }
}

/// Resume the suspended operation with the events that occurred. `res` is the
/// result being fetched (only used by `FetchRow`).
pub(crate) fn cont(
    conn: &mut RawConn,
    kind: OpKind,
    res_for_fetch: *mut ffi::MYSQL_RES,
    ready: i32,
) -> Step {
    debug_assert_eq!(conn.suspended().map(|s| s.0), Some(kind));
    let m = conn.as_ptr();
    let mut i: c_int = 0;
    let mut b: ffi::my_bool = 0;
    let mut row: ffi::MYSQL_ROW = std::ptr::null_mut();
    let mut ret_conn: *mut ffi::MYSQL = std::ptr::null_mut();
    // SAFETY: the handle has a suspended operation of exactly `kind` (recorded by
    // `start`), so this is the matching `_cont`; its arguments are still alive.
    let status = unsafe {
        match kind {
            OpKind::Connect => ffi::mysql_real_connect_cont(&mut ret_conn, m, ready),
            OpKind::SendQuery => ffi::mysql_send_query_cont(&mut i, m, ready),
            OpKind::ReadQueryResult => ffi::mysql_read_query_result_cont(&mut b, m, ready),
            OpKind::FetchRow => ffi::mysql_fetch_row_cont(&mut row, res_for_fetch, ready),
            OpKind::NextResult => ffi::mysql_next_result_cont(&mut i, m, ready),
            OpKind::Ping => ffi::mysql_ping_cont(&mut i, m, ready),
            OpKind::SelectDb => ffi::mysql_select_db_cont(&mut i, m, ready),
            OpKind::ResetConnection => ffi::mysql_reset_connection_cont(&mut i, m, ready),
            OpKind::Close => ffi::mysql_close_cont(m, ready),
        }
    };
    finish(conn, kind, status, i, b, row, ret_conn)
}

#[allow(clippy::too_many_arguments)]
fn finish(
    conn: &mut RawConn,
    kind: OpKind,
    status: c_int,
    i: c_int,
    b: ffi::my_bool,
    row: ffi::MYSQL_ROW,
    ret_conn: *mut ffi::MYSQL,
) -> Step {
    if status != 0 {
        conn.suspend(kind, status);
        return Step::Wait(status);
    }
    conn.resume_done();
    Step::Done(match kind {
        OpKind::Connect => Out::Conn(ret_conn),
        OpKind::ReadQueryResult => Out::Bool(b != 0),
        OpKind::FetchRow => Out::Row(row),
        OpKind::Close => Out::Unit,
        _ => Out::Int(i),
    })
}

/// How long the library wants to wait before a `MYSQL_WAIT_TIMEOUT`.
pub(crate) fn timeout_value(conn: &RawConn) -> Duration {
    // SAFETY: our handle; only meaningful right after a WAIT_TIMEOUT status.
    let ms = unsafe { ffi::mysql_get_timeout_value_ms(conn.as_ptr()) };
    Duration::from_millis(ms as u64)
}

/// Unwind a suspended operation so the handle can be freed: shut the socket down
/// (every read and write now fails at once) and resume the co-routine until it
/// returns. Used by `Drop`, which cannot wait.
pub(crate) fn abort(conn: &mut RawConn, res_for_fetch: *mut ffi::MYSQL_RES) {
    let Some((kind, _)) = conn.suspended() else {
        return;
    };
    if kind == OpKind::FetchRow && res_for_fetch.is_null() {
        // Cannot resume without its result; leave the co-routine to mysql_close,
        // which frees its stack.
        return;
    }
    conn.shutdown_socket();
    for _ in 0..1000 {
        match cont(
            conn,
            kind,
            res_for_fetch,
            WAIT_READ | WAIT_WRITE | WAIT_TIMEOUT,
        ) {
            Step::Done(_) => break,
            Step::Wait(_) => continue,
        }
    }
    if kind == OpKind::Close {
        conn.mark_freed_by_library();
    }
}

/// What the reactor watches: our own duplicate of the library's socket.
///
/// The library owns its socket and may close it at any time (a failed connect, a
/// lost connection). Registering a `dup` that we own keeps tokio's contract (the fd
/// stays open for the `AsyncFd`'s whole life) and means a closed-and-reused fd
/// number can never make us deregister someone else's registration. Both numbers
/// name the same socket, so readiness is the same.
pub(crate) struct Fd {
    dup: std::os::fd::OwnedFd,
    /// The library's fd number this duplicates.
    pub(crate) of: RawFd,
}

impl Fd {
    /// Duplicate the library's socket `fd`.
    pub(crate) fn dup(fd: RawFd) -> std::io::Result<Fd> {
        // SAFETY: `fd` is the library's open socket for the duration of this call;
        // the borrow ends as soon as the duplicate exists.
        let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        Ok(Fd {
            dup: borrowed.try_clone_to_owned()?,
            of: fd,
        })
    }
}

impl std::os::fd::AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        std::os::fd::AsRawFd::as_raw_fd(&self.dup)
    }
}

/// Drive the suspended operation on `conn` to completion on the tokio reactor.
///
/// Each round waits for the events the library asked for (readability,
/// writability, its own timeout), then resumes the co-routine with the events that
/// occurred. The readiness guard is held across the `_cont` call: if the library
/// asks again for a direction it was just told was ready, it hit `EAGAIN`, and
/// exactly that readiness is cleared through the guard (tokio checks its tick, so
/// an event that arrived in the meantime is never lost).
///
/// `timer` holds the library's timeout between polls; it is allocated only when
/// the library asks for a timeout (connect, or configured read/write timeouts).
pub(crate) fn poll_drive(
    io: &AsyncFd<Fd>,
    conn: &mut RawConn,
    res_for_fetch: *mut ffi::MYSQL_RES,
    timer: &mut Option<Pin<Box<Sleep>>>,
    cx: &mut Context<'_>,
) -> Poll<Result<Out>> {
    loop {
        let Some((kind, bits)) = conn.suspended() else {
            return Poll::Ready(Err(crate::error::Error::new(
                crate::error::ErrorKind::Client,
                "internal: no suspended operation to drive",
            )));
        };
        if bits & WAIT_TIMEOUT != 0 && timer.is_none() {
            *timer = Some(Box::pin(tokio::time::sleep(timeout_value(conn))));
        }
        let mut step = None;
        if bits & WAIT_READ != 0 {
            match io.poll_read_ready(cx) {
                Poll::Ready(Ok(mut guard)) => {
                    let s = resume(conn, kind, res_for_fetch, WAIT_READ);
                    if let Step::Wait(again) = s {
                        if again & WAIT_READ != 0 {
                            guard.clear_ready();
                        }
                    }
                    step = Some(s);
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e.into())),
                Poll::Pending => {}
            }
        }
        if step.is_none() && bits & (WAIT_WRITE | WAIT_EXCEPT) != 0 {
            match io.poll_write_ready(cx) {
                Poll::Ready(Ok(mut guard)) => {
                    let s = resume(conn, kind, res_for_fetch, bits & (WAIT_WRITE | WAIT_EXCEPT));
                    if let Step::Wait(again) = s {
                        if again & WAIT_WRITE != 0 {
                            guard.clear_ready();
                        }
                    }
                    step = Some(s);
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e.into())),
                Poll::Pending => {}
            }
        }
        if step.is_none() {
            if let Some(t) = timer.as_mut() {
                if t.as_mut().poll(cx).is_ready() {
                    step = Some(resume(conn, kind, res_for_fetch, WAIT_TIMEOUT));
                }
            }
        }
        match step {
            None => return Poll::Pending,
            Some(s) => {
                // Every new wait gets a fresh library timeout.
                *timer = None;
                if let Step::Done(out) = s {
                    return Poll::Ready(Ok(out));
                }
            }
        }
    }
}
