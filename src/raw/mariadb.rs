//! The MariaDB Connector/C backend: the `_start`/`_cont` API.
//!
//! Each operation is started with its `X_start` call. A zero return means it
//! finished without blocking; otherwise the return value is a bitmask of
//! `MYSQL_WAIT_*` events the library's co-routine waits for. The caller waits for
//! them and resumes with `X_cont`, passing the events that occurred, until it
//! returns zero. The library always tries the socket (and its own buffers) before
//! asking to wait, so data that is already buffered is consumed without touching
//! the reactor.
//!
//! Everything is non-blocking here, with one exception that the connection types
//! work around: Connector/C 3.3 runs the TLS handshake with blocking waits
//! ([`TLS_CONNECT_BLOCKS`]).

use std::ffi::{c_char, c_int, c_ulong};
use std::ptr;
use std::sync::mpsc;
use std::time::Duration;

use super::connect_params::ConnectParams;
use super::ffi::{self, Truth};
use super::op::{OpKind, Out, Start, Step, WAIT_EXCEPT, WAIT_READ, WAIT_TIMEOUT, WAIT_WRITE};

// The library's wait bits are the ones the drive loop uses.
const _: () = {
    assert!(ffi::MYSQL_WAIT_READ as i32 == WAIT_READ);
    assert!(ffi::MYSQL_WAIT_WRITE as i32 == WAIT_WRITE);
    assert!(ffi::MYSQL_WAIT_EXCEPT as i32 == WAIT_EXCEPT);
    assert!(ffi::MYSQL_WAIT_TIMEOUT as i32 == WAIT_TIMEOUT);
};

/// Every operation has a non-blocking form.
pub(crate) const NONBLOCKING: bool = true;

/// Connector/C 3.3 runs the TLS handshake inside the non-blocking connect with
/// blocking waits (and loads the system trust store when no CA is given), and
/// leaves the socket in blocking mode afterwards.
pub(crate) const TLS_CONNECT_BLOCKS: bool = true;

/// What this backend adds to a connection.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// Where the non-blocking connect's `_start` ran (see [`start_connect`]).
    connect_site: Option<ConnectSite>,
    /// A current-thread runtime moved to another thread in the middle of the TCP
    /// connect, which was then abandoned (see [`resume`]).
    connect_moved: bool,
    /// The statement handle of the statement operation last started (its `_cont`
    /// names the statement, not the connection).
    stmt: Option<std::ptr::NonNull<ffi::MYSQL_STMT>>,
}

impl State {
    /// Whether the connect was abandoned because its runtime moved threads.
    pub(crate) fn connect_moved(&self) -> bool {
        self.connect_moved
    }
}

/// Where a connect's `_start` ran: the thread whose `errno` the library's TCP
/// connect may still write to (see [`start_connect`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConnectSite {
    /// The dedicated connect thread.
    ConnectThread,
    /// Inline, on this thread (a current-thread runtime).
    Inline(std::thread::ThreadId),
}

/// Turn the non-blocking API on for a fresh handle (`MYSQL_OPT_NONBLOCK`, which
/// allocates the co-routine's context and a stack of `stack_size` bytes). Returns
/// false if the library refused (e.g. the allocation failed).
///
/// The option's argument is a pointer to a `size_t` stack size (NULL or 0 means
/// the library's own default: `4096 * 64` in Connector/C 3.3.20, `4096 * 15` in
/// older releases); the library reads it during the call.
/// The stack is one `malloc` with no guard page, so the caller checks the size
/// against the measured depth first (`opts::check_coroutine_stack_size`).
///
/// # Safety
/// `m` is a live handle used by this thread only.
pub(crate) unsafe fn prepare_handle(m: *mut ffi::MYSQL, stack_size: usize) -> bool {
    let size: libc::size_t = stack_size;
    // SAFETY: per the contract; the option reads one `size_t` through the pointer,
    // which is alive for the call.
    unsafe {
        ffi::mysql_options(
            m,
            ffi::mysql_option::MYSQL_OPT_NONBLOCK,
            (&size as *const libc::size_t).cast(),
        ) == 0
    }
}

/// Start an operation with its `_start` call.
///
/// # Safety
/// `m` is a live handle used by this thread only, with no operation suspended;
/// every pointer in `op` stays valid until the operation finishes.
pub(crate) unsafe fn start(m: *mut ffi::MYSQL, st: &mut State, op: Start<'_>) -> Step {
    let kind = op.kind();
    st.stmt = match op {
        Start::StmtPrepare(s, ..)
        | Start::StmtExecute(s)
        | Start::StmtFetch(s)
        | Start::StmtNextResult(s)
        | Start::StmtSendLongData(s, ..)
        | Start::StmtFreeResult(s)
        | Start::StmtClose(s) => std::ptr::NonNull::new(s),
        _ => None,
    };
    if kind == OpKind::Connect {
        st.connect_site = Some(ConnectSite::Inline(std::thread::current().id()));
    }
    let mut i: c_int = 0;
    let mut b: ffi::my_bool = Default::default();
    let mut row: ffi::MYSQL_ROW = ptr::null_mut();
    let mut ret_conn: *mut ffi::MYSQL = ptr::null_mut();
    // SAFETY: per the contract; the out-parameters are locals read only on
    // completion.
    let status = unsafe {
        match op {
            Start::Connect(p) => {
                let a = p.args();
                ffi::mysql_real_connect_start(
                    &mut ret_conn,
                    m,
                    a.host,
                    a.user,
                    a.password,
                    a.db,
                    a.port,
                    a.socket,
                    a.flags,
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
            Start::StmtPrepare(s, q, n) => {
                ffi::mysql_stmt_prepare_start(&mut i, s, q as *const c_char, n as c_ulong)
            }
            Start::StmtExecute(s) => ffi::mysql_stmt_execute_start(&mut i, s),
            Start::StmtFetch(s) => ffi::mysql_stmt_fetch_start(&mut i, s),
            Start::StmtNextResult(s) => ffi::mysql_stmt_next_result_start(&mut i, s),
            Start::StmtSendLongData(s, n, p, len) => ffi::mysql_stmt_send_long_data_start(
                &mut b,
                s,
                n,
                p as *const c_char,
                len as c_ulong,
            ),
            Start::StmtFreeResult(s) => ffi::mysql_stmt_free_result_start(&mut b, s),
            Start::StmtClose(s) => ffi::mysql_stmt_close_start(&mut b, s),
        }
    };
    finish(kind, status, i, b, row, ret_conn)
}

/// Resume the suspended operation with the events that occurred. `res` is the
/// result being fetched (only used by `FetchRow`).
///
/// # Safety
/// `m` is a live handle with a suspended operation of exactly `kind`, used by this
/// thread only; the operation's arguments are still alive.
pub(crate) unsafe fn cont(
    m: *mut ffi::MYSQL,
    kind: OpKind,
    res_for_fetch: *mut ffi::MYSQL_RES,
    stmt: *mut ffi::MYSQL_STMT,
    ready: i32,
) -> Step {
    let mut i: c_int = 0;
    let mut b: ffi::my_bool = Default::default();
    let mut row: ffi::MYSQL_ROW = ptr::null_mut();
    let mut ret_conn: *mut ffi::MYSQL = ptr::null_mut();
    // SAFETY: per the contract, this is the matching `_cont`.
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
            OpKind::StmtPrepare => ffi::mysql_stmt_prepare_cont(&mut i, stmt, ready),
            OpKind::StmtExecute => ffi::mysql_stmt_execute_cont(&mut i, stmt, ready),
            OpKind::StmtFetch => ffi::mysql_stmt_fetch_cont(&mut i, stmt, ready),
            OpKind::StmtNextResult => ffi::mysql_stmt_next_result_cont(&mut i, stmt, ready),
            OpKind::StmtSendLongData => ffi::mysql_stmt_send_long_data_cont(&mut b, stmt, ready),
            OpKind::StmtFreeResult => ffi::mysql_stmt_free_result_cont(&mut b, stmt, ready),
            OpKind::StmtClose => ffi::mysql_stmt_close_cont(&mut b, stmt, ready),
        }
    };
    finish(kind, status, i, b, row, ret_conn)
}

fn finish(
    kind: OpKind,
    status: c_int,
    i: c_int,
    b: ffi::my_bool,
    row: ffi::MYSQL_ROW,
    ret_conn: *mut ffi::MYSQL,
) -> Step {
    if status != 0 {
        return Step::Wait(status);
    }
    Step::Done(match kind {
        OpKind::Connect => Out::Conn(ret_conn),
        OpKind::ReadQueryResult => Out::Bool(b.truth()),
        OpKind::FetchRow => Out::Row(row),
        OpKind::Close => Out::Unit,
        OpKind::StmtSendLongData | OpKind::StmtFreeResult | OpKind::StmtClose => {
            Out::Bool(b.truth())
        }
        _ => Out::Int(i),
    })
}

/// How long the library wants to wait before a `MYSQL_WAIT_TIMEOUT`.
///
/// # Safety
/// `m` is a live handle; only meaningful right after a `WAIT_TIMEOUT` status.
pub(crate) unsafe fn timeout_value(m: *mut ffi::MYSQL) -> Duration {
    // SAFETY: per the contract.
    let ms = unsafe { ffi::mysql_get_timeout_value_ms(m) };
    Duration::from_millis(ms as u64)
}

/// A job for the connect thread. The pointers are only used while the sender
/// blocks on `reply`, so the borrows they come from are alive and exclusive.
enum Job {
    Start(
        *mut ffi::MYSQL,
        *mut State,
        *const ConnectParams,
        mpsc::SyncSender<Step>,
    ),
    Cont(*mut ffi::MYSQL, i32, mpsc::SyncSender<Step>),
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
                    super::library::thread_init();
                    // SAFETY: see `Job`: the sender waits for our reply, so the
                    // handle, its state and the parameters are ours meanwhile.
                    unsafe {
                        match job {
                            Job::Start(m, st, params, reply) => {
                                let step = start(m, &mut *st, Start::Connect(&*params));
                                (*st).connect_site = Some(ConnectSite::ConnectThread);
                                let _ = reply.send(step);
                            }
                            Job::Cont(m, ready, reply) => {
                                let step = cont(
                                    m,
                                    OpKind::Connect,
                                    ptr::null_mut(),
                                    ptr::null_mut(),
                                    ready,
                                );
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

/// Start a non-blocking connect. On a runtime that may resume a task on another
/// thread (`may_move`), the `_start` runs on the dedicated connect thread.
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
///
/// # Safety
/// As [`start`].
pub(crate) unsafe fn start_connect(
    m: *mut ffi::MYSQL,
    st: &mut State,
    params: &ConnectParams,
    may_move: bool,
) -> Step {
    if !may_move {
        // SAFETY: per the contract.
        return unsafe { start(m, st, Start::Connect(params)) };
    }
    let st: *mut State = st;
    on_connect_thread(|reply| Job::Start(m, st, params, reply))
}

/// Resume the suspended operation, on the right thread: a connect suspended in a
/// wait for writability (its TCP connect) resumes where its errno address points
/// (see [`start_connect`]). On a current-thread runtime that is the runtime's own
/// thread; if the runtime moved to another thread mid-connect, the connect is
/// resumed as timed out, which makes the library give up without that write, and
/// [`State::connect_moved`] reports why.
///
/// # Safety
/// As [`cont`]; `waiting` is what the operation waits for.
pub(crate) unsafe fn resume(
    m: *mut ffi::MYSQL,
    st: &mut State,
    kind: OpKind,
    waiting: i32,
    res_for_fetch: *mut ffi::MYSQL_RES,
    ready: i32,
) -> Step {
    let stmt = st.stmt.map_or(ptr::null_mut(), |s| s.as_ptr());
    // SAFETY (all arms): per the contract.
    if kind != OpKind::Connect || waiting & WAIT_WRITE == 0 || ready & WAIT_TIMEOUT != 0 {
        return unsafe { cont(m, kind, res_for_fetch, stmt, ready) };
    }
    match st.connect_site {
        Some(ConnectSite::ConnectThread) => on_connect_thread(|reply| Job::Cont(m, ready, reply)),
        Some(ConnectSite::Inline(t)) if t != std::thread::current().id() => {
            st.connect_moved = true;
            unsafe { cont(m, kind, res_for_fetch, stmt, WAIT_TIMEOUT) }
        }
        _ => unsafe { cont(m, kind, res_for_fetch, stmt, ready) },
    }
}

/// Resuming an operation with every event makes it fail fast once the socket is
/// shut down (see `drive::abort`).
pub(crate) const ABORT_EVENTS: i32 = WAIT_READ | WAIT_WRITE | WAIT_TIMEOUT;

/// `reset_connection` has its own non-blocking call.
pub(crate) const RESET_NONBLOCKING: bool = true;

/// `select_db` has its own non-blocking call.
pub(crate) const SELECT_DB_BY_STATEMENT: bool = false;

/// Statements have non-blocking calls too.
pub(crate) const STMT_NONBLOCKING: bool = true;

/// This backend's name.
pub(crate) const NAME: &str = "mariadb";
