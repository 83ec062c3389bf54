//! [`RawConn`], the owner of a `MYSQL*`, and the thin safe layer over the blocking
//! C calls. Nothing else in the crate holds a raw connection handle. It knows
//! nothing about event loops: the connection types build on it, and `drive.rs`
//! drives its non-blocking operations through the backend.

use std::ffi::{c_char, c_int, c_uint, c_ulong, c_void};
use std::os::fd::{BorrowedFd, RawFd};
use std::ptr::{self, NonNull};
use std::time::Duration;

use super::backend;
use super::connect_params::{cstring, ConnectParams};
use super::consts;
use super::ffi::{self, Truth};
use super::library::{dead_socket, init_dead_socket, library_init};
use super::op::OpKind;
use super::result::RawResult;

use crate::error::{cstr_lossy, Error, ErrorKind, Result};
use crate::opts::{Opts, SslMode};
use crate::trace::{QueryTrace, Site};

/// Where a connection stands in the protocol. Kept by `RawConn` so that every
/// caller (blocking, async, pool) can tell whether the next command is safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Ready for a new command.
    Idle,
    /// A query was sent; its result header has not been read.
    Sent,
    /// The result header was read and a result set (rows) waits to be fetched.
    ResultPending,
    /// Rows of a result set are being fetched (a `RawResult` exists).
    Fetching,
    /// A result set was consumed and another one follows (multi-statement).
    MoreResults,
    /// A prepared statement's result set is being fetched (its statement is the
    /// connection's active one).
    StmtRows,
    /// A prepared statement's result was consumed and another one follows (a
    /// procedure's results).
    StmtMore,
    /// A prepared statement's result has other columns than the statement was
    /// prepared with (a table changed): its rows are discarded unread
    /// (`mysql_stmt_free_result`) and the statement is prepared again.
    StmtStale,
    /// The connection is unusable (lost, or abandoned mid-protocol).
    Broken,
}

/// Set one library option: `set_option!(conn, MYSQL_OPT_X, uint v)` (also `ulong`,
/// `bool`, and `str "what", v`). A macro because no signature can name the option
/// enum with every binding source: the `-sys` crate's MariaDB bindings (used on
/// docs.rs) hide its type behind a module of the same name.
macro_rules! set_option {
    ($conn:ident, $name:ident, uint $v:expr) => {{
        let v: c_uint = $v;
        set_option!(@call $conn, $name, &v as *const c_uint as *const c_void)
    }};
    ($conn:ident, $name:ident, ulong $v:expr) => {{
        let v: c_ulong = $v;
        set_option!(@call $conn, $name, &v as *const c_ulong as *const c_void)
    }};
    ($conn:ident, $name:ident, bool $v:expr) => {{
        let b = $v as ffi::my_bool;
        set_option!(@call $conn, $name, &b as *const ffi::my_bool as *const c_void)
    }};
    ($conn:ident, $name:ident, str $what:expr, $v:expr) => {{
        let c = cstring($what, $v)?;
        set_option!(@call $conn, $name, c.as_ptr() as *const c_void)
    }};
    (@call $conn:ident, $name:ident, $arg:expr) => {{
        // SAFETY: our live handle; the argument points to the value type the option
        // expects (the arm above chose it) and stays valid for the call, which
        // copies it.
        let rc = unsafe { ffi::mysql_options($conn.as_ptr(), ffi::mysql_option::$name, $arg) };
        $conn.option_result(stringify!($name), rc)
    }};
}

/// Sole owner of a `MYSQL*`. `Send` (the handle may move between threads), not
/// `Sync` (it must never be used by two threads at once).
pub(crate) struct RawConn {
    ptr: NonNull<ffi::MYSQL>,
    connected: bool,
    phase: Phase,
    /// A non-blocking operation suspended inside the library, with the
    /// `WAIT_*` events it waits for.
    suspended: Option<(OpKind, i32)>,
    /// The backend's own per-connection state (see `raw/mod.rs`).
    backend: backend::State,
    /// `mysql_close_start`/`_cont` completed: the library freed the handle.
    freed: bool,
    /// The status flags the library holds predate a `COM_RESET_CONNECTION`
    /// (Connector/C does not read them from its reply): which modes are on and
    /// whether autocommit is set are unknown until the next statement's reply.
    status_stale: bool,
    /// A reply since the last [`clear_session_changed`](Self::clear_session_changed)
    /// carried `SERVER_SESSION_STATE_CHANGED`.
    session_changed: bool,
    /// A statement since then may have changed the active role (`SET ROLE`).
    role_changed: bool,
    /// Query texts are scanned for changes the server does not report.
    watch_untracked: bool,
    /// An error said the server is not what the connection was chosen for
    /// (`cluster::says_node_unfit`).
    node_unfit: std::cell::Cell<bool>,
    /// The server reports `last_gtid` in its OK packets.
    track_gtid: bool,
    /// The last GTID it reported.
    last_gtid: Option<String>,
    /// The span of the current query (see `crate::trace`).
    trace: QueryTrace,
}

// SAFETY: a MYSQL handle may be used from any thread as long as only one thread uses
// it at a time; `RawConn` is not `Sync` and all methods take `&mut self` (or `&self`
// for pure reads of fields), so Rust's aliasing rules give exactly that guarantee.
unsafe impl Send for RawConn {}

impl RawConn {
    /// Allocate a handle (`mysql_init`).
    pub(crate) fn new() -> Result<RawConn> {
        library_init();
        init_dead_socket()?;
        // SAFETY: mysql_init(NULL) allocates a fresh handle or returns NULL.
        let p = unsafe { ffi::mysql_init(ptr::null_mut()) };
        let ptr = NonNull::new(p)
            .ok_or_else(|| Error::new(ErrorKind::Client, "mysql_init failed: out of memory"))?;
        Ok(RawConn {
            ptr,
            connected: false,
            phase: Phase::Idle,
            suspended: None,
            backend: backend::State::default(),
            freed: false,
            status_stale: false,
            session_changed: false,
            role_changed: false,
            watch_untracked: false,
            node_unfit: std::cell::Cell::new(false),
            track_gtid: false,
            last_gtid: None,
            trace: QueryTrace::default(),
        })
    }

    /// The raw handle.
    pub(crate) fn as_ptr(&self) -> *mut ffi::MYSQL {
        self.ptr.as_ptr()
    }

    pub(crate) fn phase(&self) -> Phase {
        self.phase
    }

    pub(crate) fn set_phase(&mut self, phase: Phase) {
        self.phase = phase;
        self.settle_trace();
    }

    /// The query's span ends once the connection is idle or broken.
    #[inline]
    fn settle_trace(&mut self) {
        if self.trace.is_live() {
            match self.phase {
                Phase::Idle => self.trace.settle(false),
                Phase::Broken => self.trace.settle(true),
                _ => {}
            }
        }
    }

    /// Open the span of a query about to run: `sql` is the text sent, or the
    /// statement whose execution begins (`held`: ended by
    /// [`trace_release`](Self::trace_release), see `crate::trace`).
    pub(crate) fn trace_begin(&mut self, sql: &[u8], held: bool) {
        let ptr = self.ptr;
        // SAFETY: called synchronously by `begin` before it returns, while no
        // library call runs on our handle: the strings it points to stay as they
        // are for that time (the `'static` is not kept beyond it).
        self.trace
            .begin(sql, held, move || unsafe { site_of(ptr.as_ptr()) });
    }

    /// The values of `template` were written into the text about to be sent,
    /// `sent_len` bytes long: a span shows `template` (see `crate::trace`).
    pub(crate) fn trace_template(&mut self, template: &str, sent_len: usize) {
        self.trace.set_template(template, sent_len);
    }

    /// A row of the current query's result was read.
    #[inline]
    pub(crate) fn trace_row(&mut self) {
        self.trace.row();
    }

    /// The current query failed with `e` (the span keeps the first error).
    #[inline]
    pub(crate) fn trace_error(&mut self, e: &Error) {
        self.trace.error(e);
    }

    /// The current query timed out.
    pub(crate) fn trace_timeout(&mut self) {
        self.trace.error_kind(ErrorKind::Timeout, None);
    }

    /// A prepared statement's execution is set up with `outcome`: its span ends
    /// with its result from now on.
    pub(crate) fn trace_release(&mut self, outcome: Option<&Error>) {
        self.trace.release(outcome);
        self.settle_trace();
    }

    /// The current query's result is left unread: close its span.
    #[inline]
    pub(crate) fn trace_abandon(&mut self) {
        self.trace.abandon();
    }

    /// The phase after a result header was read (or its read failed): rows to
    /// fetch, another result set, idle, or broken if the error was fatal.
    pub(crate) fn after_header(&mut self, r: Result<()>) -> Result<()> {
        match r {
            Ok(()) => {
                if self.field_count() == 0 {
                    // An OK packet. (A result set's status comes after its rows:
                    // until then the library may still hold the previous reply's.)
                    self.note_session_state();
                }
                self.status_stale = false;
                self.phase = if self.field_count() > 0 {
                    Phase::ResultPending
                } else if self.more_results() {
                    Phase::MoreResults
                } else {
                    Phase::Idle
                };
                self.settle_trace();
                Ok(())
            }
            Err(e) => {
                // An error reply carries no status: what the command changed
                // before it failed is unknown.
                self.session_changed = true;
                self.trace.error(&e);
                self.phase = if e.is_fatal() {
                    Phase::Broken
                } else {
                    Phase::Idle
                };
                self.settle_trace();
                Err(e)
            }
        }
    }

    /// The phase after a result set was read to its end.
    pub(crate) fn after_result(&mut self) {
        self.note_session_state();
        if self.phase != Phase::Broken {
            self.status_stale = false;
            self.phase = if self.more_results() {
                Phase::MoreResults
            } else {
                Phase::Idle
            };
        }
        self.settle_trace();
    }

    /// A prepared statement's execute (or next result) succeeded: its rows follow
    /// (`rows`), or another result, or nothing.
    pub(crate) fn after_stmt_header(&mut self, rows: bool) {
        if !rows {
            // An OK packet (rows carry their status at the end).
            self.note_session_state();
        }
        self.phase = if rows {
            Phase::StmtRows
        } else {
            self.stmt_idle_or_more()
        };
        self.settle_trace();
    }

    /// A prepared statement's rows ended (or failed without breaking the
    /// connection): another result follows, or nothing.
    pub(crate) fn after_stmt_rows(&mut self) {
        self.note_session_state();
        if self.phase != Phase::Broken {
            self.phase = self.stmt_idle_or_more();
        }
        self.settle_trace();
    }

    fn stmt_idle_or_more(&self) -> Phase {
        if self.more_results() {
            Phase::StmtMore
        } else {
            Phase::Idle
        }
    }

    /// About to send `sql`: mark the session changed if the text may change state
    /// the server does not report (see `params::lexer::untracked_changes`).
    ///
    /// Only on connections that watch for changes (a pool's, see
    /// [`watch_untracked`](Self::watch_untracked)), and until both a change and a
    /// role change are known: a role set after another change must still be
    /// noticed (the reset does not restore it).
    pub(crate) fn note_sql(&mut self, sql: &[u8]) {
        if self.watch_untracked && !(self.session_changed && self.role_changed) {
            let u = crate::params::lexer::untracked_changes(sql);
            if u.any {
                self.note_untracked(u.role);
            }
        }
    }

    /// Scan the text of every later query for changes the server does not
    /// report (see [`note_sql`](Self::note_sql)).
    pub(crate) fn watch_untracked(&mut self) {
        self.watch_untracked = true;
    }

    /// A statement may have changed state the server does not report; `role`:
    /// the active role among it.
    pub(crate) fn note_untracked(&mut self, role: bool) {
        self.session_changed = true;
        self.role_changed |= role;
    }

    /// Whether a statement may have changed the active role since the last
    /// [`clear_session_changed`](Self::clear_session_changed).
    pub(crate) fn role_changed(&self) -> bool {
        self.role_changed
    }

    /// Mark the connection broken if `e` is fatal; pass `e` through.
    pub(crate) fn fail(&mut self, e: Error) -> Error {
        self.session_changed = true;
        self.note_node_unfit(&e);
        self.trace.error(&e);
        if e.is_fatal() {
            self.phase = Phase::Broken;
        }
        self.settle_trace();
        e
    }

    /// Record that a non-blocking operation is suspended (see `drive.rs`).
    pub(crate) fn suspend(&mut self, kind: OpKind, bits: i32) {
        self.suspended = Some((kind, bits));
    }

    /// The suspended operation finished.
    pub(crate) fn resume_done(&mut self) {
        self.suspended = None;
    }

    /// The suspended operation and the events it waits for, if any.
    pub(crate) fn suspended(&self) -> Option<(OpKind, i32)> {
        self.suspended
    }

    /// The handle and the backend's state, for `drive.rs`.
    pub(crate) fn backend_parts(&mut self) -> (*mut ffi::MYSQL, &mut backend::State) {
        (self.ptr.as_ptr(), &mut self.backend)
    }

    /// Whether the connect was abandoned because its runtime moved threads (see
    /// `mariadb.rs`).
    pub(crate) fn connect_moved(&self) -> bool {
        self.backend.connect_moved()
    }

    /// `mysql_close_start`/`_cont` finished and freed the handle.
    pub(crate) fn mark_freed_by_library(&mut self) {
        self.freed = true;
    }

    pub(crate) fn set_connected(&mut self) {
        self.connected = true;
        // The connect attributes (`_client_name`, `_pid`, …) went to the server in
        // the handshake; the library would keep their table (an 8 KiB array) for
        // the connection's life, and reads it again only for COM_CHANGE_USER or a
        // reconnect, neither of which this crate ever asks for.
        // SAFETY: our live, connected handle with no operation in progress; the
        // option takes no argument.
        unsafe {
            ffi::mysql_options(
                self.as_ptr(),
                ffi::mysql_option::MYSQL_OPT_CONNECT_ATTR_RESET,
                std::ptr::null(),
            )
        };
    }

    /// The error of the last failed call, read right after it.
    pub(crate) fn last_error(&self) -> Error {
        // SAFETY: our handle, used by this thread only (&self on a !Sync type).
        let e = unsafe { Error::from_handle(self.as_ptr(), !self.connected) };
        self.note_node_unfit(&e);
        if self.connected {
            e.given_socket(self.fd() >= 0)
        } else {
            e
        }
    }

    /// The outcome of one `mysql_options` call (see [`set_option!`]).
    fn option_result(&self, name: &str, rc: c_int) -> Result<()> {
        if rc != 0 {
            return Err(Error::new(
                ErrorKind::Config,
                format!("mysql_options({name}) was rejected by the client library"),
            )
            .with_fatal(false));
        }
        Ok(())
    }

    /// Apply `opts` to the handle before connecting. `nonblocking` turns on the
    /// library's `_start`/`_cont` machinery (MariaDB only).
    pub(crate) fn apply_options(&mut self, opts: &Opts, nonblocking: bool) -> Result<()> {
        // enum mysql_protocol_type: DEFAULT, TCP, SOCKET, PIPE, MEMORY.
        const PROTOCOL_TCP: c_uint = 1;
        const PROTOCOL_SOCKET: c_uint = 2;
        fn secs(d: Duration) -> c_uint {
            // The library counts whole seconds; round up so 0.5 s is not "no timeout".
            let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
            s.clamp(1, c_uint::MAX as u64) as c_uint
        }
        if let Some(t) = opts.connect_timeout() {
            set_option!(self, MYSQL_OPT_CONNECT_TIMEOUT, uint secs(t))?;
        }
        if let Some(t) = opts.read_timeout() {
            set_option!(self, MYSQL_OPT_READ_TIMEOUT, uint secs(t))?;
        }
        if let Some(t) = opts.write_timeout() {
            set_option!(self, MYSQL_OPT_WRITE_TIMEOUT, uint secs(t))?;
        }
        if let Some(n) = opts.max_allowed_packet() {
            set_option!(self, MYSQL_OPT_MAX_ALLOWED_PACKET, ulong c_ulong::from(n))?;
        }
        set_option!(self, MYSQL_SET_CHARSET_NAME, str "charset", opts.charset())?;
        // Reconnecting swaps the socket under the reactor and loses session state;
        // reconnection belongs to the pool. (Off by default in Oracle's client,
        // which prints a deprecation warning when the option is set at all.)
        #[cfg(mca_mariadb)]
        set_option!(self, MYSQL_OPT_RECONNECT, bool false)?;
        // LOAD DATA LOCAL lets a server read client files; off unless asked for.
        set_option!(self, MYSQL_OPT_LOCAL_INFILE, uint 0)?;
        if opts.socket().is_some() {
            set_option!(self, MYSQL_OPT_PROTOCOL, uint PROTOCOL_SOCKET)?;
        } else {
            set_option!(self, MYSQL_OPT_PROTOCOL, uint PROTOCOL_TCP)?;
        }
        self.apply_tls(opts)?;
        self.trace.set_opts(opts);
        crate::opts::check_coroutine_stack_size(opts.coroutine_stack_size())?;
        // SAFETY: our fresh handle, before connecting.
        if nonblocking
            && !unsafe { backend::prepare_handle(self.as_ptr(), opts.coroutine_stack_size()) }
        {
            return Err(Error::new(
                ErrorKind::Client,
                "the client library refused to enable its non-blocking API",
            ));
        }
        Ok(())
    }

    fn apply_tls(&mut self, opts: &Opts) -> Result<()> {
        let mode = opts.ssl_mode();
        if mode == SslMode::Disabled {
            #[cfg(mca_oracle)]
            set_option!(self, MYSQL_OPT_SSL_MODE, uint 1)?;
            return Ok(());
        }
        if let Some(p) = opts.ssl_ca() {
            set_option!(self, MYSQL_OPT_SSL_CA, str "ssl_ca", &p.to_string_lossy())?;
        }
        if let Some(p) = opts.ssl_cert() {
            set_option!(self, MYSQL_OPT_SSL_CERT, str "ssl_cert", &p.to_string_lossy())?;
        }
        if let Some(p) = opts.ssl_key() {
            set_option!(self, MYSQL_OPT_SSL_KEY, str "ssl_key", &p.to_string_lossy())?;
        }
        #[cfg(mca_mariadb)]
        {
            // Connector/C 3.3: MYSQL_OPT_SSL_ENFORCE sets `use_ssl` (TLS or fail); a
            // CA makes the handshake verify the chain; VERIFY_SERVER_CERT adds the
            // host-name check. "Preferred" is done by the connect functions: TLS
            // first, plain text if the server offers no TLS.
            set_option!(self, MYSQL_OPT_SSL_ENFORCE, bool true)?;
            let verify_host = mode == SslMode::VerifyIdentity;
            set_option!(self, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, bool verify_host)?;
        }
        #[cfg(mca_oracle)]
        {
            let m: c_uint = match mode {
                SslMode::Disabled => 1,
                SslMode::Preferred => 2,
                SslMode::Required => 3,
                SslMode::VerifyCa => 4,
                SslMode::VerifyIdentity => 5,
            };
            set_option!(self, MYSQL_OPT_SSL_MODE, uint m)?;
        }
        Ok(())
    }

    /// Blocking connect.
    pub(crate) fn connect(&mut self, p: &ConnectParams) -> Result<()> {
        let a = p.args();
        // SAFETY: our handle; every string pointer stays valid for the call.
        let r = unsafe {
            ffi::mysql_real_connect(
                self.as_ptr(),
                a.host,
                a.user,
                a.password,
                a.db,
                a.port,
                a.socket,
                a.flags,
            )
        };
        if r.is_null() {
            return Err(self.last_error());
        }
        self.connected = true;
        Ok(())
    }

    /// After the handshake: refuse a plain-text connection when the options demand
    /// TLS. Connector/C 3.3 treats "use TLS" as "use TLS if the server offers it" and
    /// silently continues in plain text otherwise, which is right for `Preferred`
    /// and a downgrade for every stricter mode.
    pub(crate) fn check_tls(&self, opts: &Opts) -> Result<()> {
        let required = !matches!(opts.ssl_mode(), SslMode::Disabled | SslMode::Preferred);
        // SAFETY: our connected handle; the cipher name is only tested for NULL.
        let in_use = unsafe { !ffi::mysql_get_ssl_cipher(self.as_ptr()).is_null() };
        if required && !in_use {
            return Err(Error::new(
                ErrorKind::Connect,
                format!(
                    "ssl_mode {:?} requires TLS, but the server does not offer it; refusing a plain-text connection",
                    opts.ssl_mode()
                ),
            ));
        }
        Ok(())
    }

    /// Put the socket back in non-blocking mode (see `AsyncConn::connect_one`).
    pub(crate) fn set_socket_nonblocking(&mut self) -> std::io::Result<()> {
        let fd = self.fd();
        // SAFETY: fcntl on our own open socket; only the O_NONBLOCK flag changes.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFL);
            if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    }

    /// The TLS cipher in use, or `None` for a plain-text connection.
    pub(crate) fn tls_cipher(&self) -> Option<String> {
        // SAFETY: our handle; the string is copied at once.
        let p = unsafe { ffi::mysql_get_ssl_cipher(self.as_ptr()) };
        // SAFETY: non-null, NUL-terminated, owned by the handle.
        (!p.is_null()).then(|| unsafe { cstr_lossy(p) })
    }

    /// The connection's socket descriptor (-1 before connecting, after the library
    /// closed it, and once the handle was freed by `mysql_close_start`).
    pub(crate) fn fd(&self) -> RawFd {
        if self.freed {
            return -1;
        }
        #[cfg(mca_mariadb)]
        {
            // SAFETY: our handle; mysql_get_socket only reads it.
            unsafe { ffi::mysql_get_socket(self.as_ptr()) }
        }
        #[cfg(not(mca_mariadb))]
        {
            // SAFETY: our handle; `net` is a plain field of the installed layout.
            let (vio, fd) = unsafe { ((*self.as_ptr()).net.vio, (*self.as_ptr()).net.fd) };
            if vio.is_null() {
                return -1;
            }
            if !self.connected {
                // Oracle's client sets `net.fd` only once the TCP connect is done;
                // a non-blocking connect waits for it before that.
                // SAFETY: our handle, with its I/O layer present.
                return unsafe { backend::connecting_fd(self.as_ptr()) }.unwrap_or(-1);
            }
            fd
        }
    }

    /// The socket as a borrowed descriptor, valid while `self` is borrowed. When the
    /// library has closed the socket (the connection was lost), a process-wide
    /// stand-in, [`dead_socket`], is returned instead: it is always readable (end of
    /// file), so an event loop watching it wakes at once and the next call on the
    /// connection reports the error.
    pub(crate) fn socket_fd(&self) -> BorrowedFd<'_> {
        let fd = self.fd();
        if fd < 0 {
            return dead_socket();
        }
        // SAFETY: the library keeps its socket open until a call on the handle
        // closes it, and every such call takes `&mut self`, which the returned
        // borrow of `self` excludes.
        unsafe { BorrowedFd::borrow_raw(fd) }
    }

    /// Whether [`socket_fd`](Self::socket_fd) is the stand-in for a closed socket.
    pub(crate) fn socket_closed(&self) -> bool {
        self.fd() < 0
    }

    /// Blocking `mysql_send_query`.
    pub(crate) fn send_query(&mut self, q: &[u8]) -> Result<()> {
        self.note_sql(q);
        self.trace_begin(q, false);
        // SAFETY: our handle; `q` is valid for `len` bytes during the call.
        let rc = unsafe {
            ffi::mysql_send_query(
                self.as_ptr(),
                q.as_ptr() as *const c_char,
                q.len() as c_ulong,
            )
        };
        if rc != 0 {
            let e = self.last_error();
            self.trace.error(&e);
            return Err(e);
        }
        Ok(())
    }

    /// Blocking `mysql_read_query_result`.
    pub(crate) fn read_query_result(&mut self) -> Result<()> {
        // SAFETY: our handle.
        let failed = unsafe { ffi::mysql_read_query_result(self.as_ptr()) }.truth();
        if failed {
            return Err(self.last_error());
        }
        Ok(())
    }

    /// Columns of the current result (0 for INSERT/UPDATE/…).
    pub(crate) fn field_count(&self) -> u32 {
        // SAFETY: our handle.
        unsafe { ffi::mysql_field_count(self.as_ptr()) }
    }

    /// Affected rows of the last statement.
    pub(crate) fn affected_rows(&self) -> u64 {
        // SAFETY: our handle.
        unsafe { ffi::mysql_affected_rows(self.as_ptr()) }
    }

    /// Last AUTO_INCREMENT value generated.
    pub(crate) fn insert_id(&self) -> u64 {
        // SAFETY: our handle.
        unsafe { ffi::mysql_insert_id(self.as_ptr()) }
    }

    /// Warnings of the last statement.
    pub(crate) fn warning_count(&self) -> u32 {
        // SAFETY: our handle.
        unsafe { ffi::mysql_warning_count(self.as_ptr()) }
    }

    /// The server's info string of the last statement ("Rows matched: …").
    pub(crate) fn info(&self) -> Option<String> {
        // SAFETY: our handle; the string is copied at once.
        let p = unsafe { ffi::mysql_info(self.as_ptr()) };
        if p.is_null() {
            None
        } else {
            // SAFETY: non-null, NUL-terminated, owned by the handle.
            Some(unsafe { cstr_lossy(p) })
        }
    }

    /// The server status flags of the last OK/EOF packet.
    pub(crate) fn server_status(&self) -> u32 {
        // SAFETY: our handle; plain field read of the installed struct layout.
        unsafe { (*self.as_ptr()).server_status }
    }

    /// Whether another result set follows the current one.
    pub(crate) fn more_results(&self) -> bool {
        // SAFETY: our handle.
        unsafe { ffi::mysql_more_results(self.as_ptr()).truth() }
    }

    /// Blocking `mysql_next_result`: `Ok(true)` when another result was read.
    pub(crate) fn next_result(&mut self) -> Result<bool> {
        // SAFETY: our handle.
        match unsafe { ffi::mysql_next_result(self.as_ptr()) } {
            0 => Ok(true),
            -1 => Ok(false),
            _ => Err(self.last_error()),
        }
    }

    /// Wrap the result set that `use_result` returned.
    pub(crate) fn wrap_result(&self, res: *mut ffi::MYSQL_RES) -> Result<Option<RawResult>> {
        match NonNull::new(res) {
            Some(ptr) => Ok(Some(RawResult::new(ptr))),
            None if self.field_count() == 0 => Ok(None),
            None => Err(self.last_error()),
        }
    }

    /// `mysql_use_result` (reads nothing from the network itself).
    pub(crate) fn use_result(&mut self) -> Result<Option<RawResult>> {
        // SAFETY: our handle.
        let r = unsafe { ffi::mysql_use_result(self.as_ptr()) };
        self.wrap_result(r)
    }

    /// The error, if any, that ended a row fetch (`mysql_fetch_row` gives NULL for
    /// both end-of-rows and error).
    pub(crate) fn fetch_error(&self) -> Option<Error> {
        // SAFETY: our handle.
        let code = unsafe { ffi::mysql_errno(self.as_ptr()) };
        if code == 0 {
            return None;
        }
        #[cfg(mca_backend = "oracle")]
        if code == consts::CR_COMMANDS_OUT_OF_SYNC {
            // Oracle's non-blocking fetch replaces the error that ended the rows
            // with "Commands out of sync", whether the server sent an error packet
            // (the connection is in sync) or the connection failed (the library
            // then dropped its I/O layer).
            // SAFETY: our handle; `net.vio` is a plain field of the installed layout.
            let lost = unsafe { (*self.as_ptr()).net.vio.is_null() };
            return Some(if lost {
                Error::new(
                    ErrorKind::ConnectionLost,
                    "the connection failed while rows were being read",
                )
                .with_fatal(true)
            } else {
                Error::new(
                    ErrorKind::Server,
                    "the server ended the result set with an error; Oracle's client library \
                     reports it as \"Commands out of sync\" (2014) and does not keep the \
                     server's code and message. The connection is in sync.",
                )
                .with_fatal(false)
            });
        }
        Some(self.last_error())
    }

    /// Blocking ping.
    pub(crate) fn ping(&mut self) -> Result<()> {
        // SAFETY: our handle.
        if unsafe { ffi::mysql_ping(self.as_ptr()) } != 0 {
            return Err(self.last_error());
        }
        Ok(())
    }

    /// Blocking `mysql_select_db`.
    pub(crate) fn select_db(&mut self, db: &str) -> Result<()> {
        let c = cstring("database name", db)?;
        // SAFETY: our handle; `c` outlives the call.
        if unsafe { ffi::mysql_select_db(self.as_ptr(), c.as_ptr()) } != 0 {
            return Err(self.last_error());
        }
        Ok(())
    }

    /// Blocking `mysql_reset_connection`.
    pub(crate) fn reset_connection(&mut self) -> Result<()> {
        // SAFETY: our handle.
        if unsafe { ffi::mysql_reset_connection(self.as_ptr()) } != 0 {
            return Err(self.last_error());
        }
        self.mark_status_stale();
        Ok(())
    }

    /// After `COM_RESET_CONNECTION`: the held status flags are stale (see
    /// `status_stale`). The reset ended any transaction.
    pub(crate) fn mark_status_stale(&mut self) {
        self.status_stale = true;
    }

    /// Whether the status flags must be refreshed (by any statement) before they
    /// are relied on (the `NO_BACKSLASH_ESCAPES` mode for placeholders).
    pub(crate) fn status_stale(&self) -> bool {
        self.status_stale
    }

    /// Server version string, e.g. `10.11.19-MariaDB-0+deb12u1`.
    pub(crate) fn server_version(&self) -> String {
        // SAFETY: our handle; copied at once.
        unsafe { cstr_lossy(ffi::mysql_get_server_info(self.as_ptr())) }
    }

    /// Server version as a number, e.g. 101119.
    pub(crate) fn server_version_number(&self) -> u64 {
        // SAFETY: our handle.
        unsafe { ffi::mysql_get_server_version(self.as_ptr()) as u64 }
    }

    /// The server-side connection id (what `KILL` takes).
    pub(crate) fn thread_id(&self) -> u64 {
        // SAFETY: our handle.
        unsafe { ffi::mysql_thread_id(self.as_ptr()) as u64 }
    }

    /// Escape `s` for use inside a quoted string literal, honouring the
    /// connection's character set (and, on MariaDB, NO_BACKSLASH_ESCAPES).
    pub(crate) fn escape_into(&self, s: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        out.reserve(s.len() * 2 + 1);
        // SAFETY: `out` has room for 2*len+1 bytes after `start` (reserved above), as
        // the C API requires; the library writes at most that and returns the length.
        let n = unsafe {
            let dst = out.as_mut_ptr().add(start) as *mut c_char;
            #[cfg(mca_escape_quote)]
            {
                ffi::mysql_real_escape_string_quote(
                    self.as_ptr(),
                    dst,
                    s.as_ptr() as *const c_char,
                    s.len() as c_ulong,
                    b'\'' as c_char,
                )
            }
            #[cfg(not(mca_escape_quote))]
            {
                ffi::mysql_real_escape_string(
                    self.as_ptr(),
                    dst,
                    s.as_ptr() as *const c_char,
                    s.len() as c_ulong,
                )
            }
        };
        assert!(n != c_ulong::MAX, "mysql_real_escape_string failed");
        // SAFETY: the library initialised exactly `n` bytes after `start`.
        unsafe { out.set_len(start + n as usize) };
    }

    /// Escape `s` for a single-quoted SQL string literal (see [`Self::escape_into`]).
    ///
    /// Refused on a connection whose character set can hide a quote or backslash
    /// byte inside a multi-byte character (gbk, big5, sjis, cp932, gb18030) when `s`
    /// is not ASCII: the server would read UTF-8 text as that character set, and the
    /// escaped bytes are not UTF-8 text any more.
    pub(crate) fn escape(&self, s: &str) -> Result<String> {
        let charset = self.charset_name();
        if !s.is_ascii() && crate::params::lexer::is_ascii_unsafe(&charset) {
            return Err(Error::new(
                ErrorKind::Params,
                format!(
                    "cannot escape non-ASCII text for a connection whose character set is \
                     {charset}: use utf8mb4, or pass the text as a `?` parameter"
                ),
            )
            .with_fatal(false));
        }
        let mut out = Vec::new();
        self.escape_into(s.as_bytes(), &mut out);
        String::from_utf8(out).map_err(|_| {
            Error::new(
                ErrorKind::Params,
                format!("escaping for character set {charset} did not give UTF-8 text"),
            )
            .with_fatal(false)
        })
    }

    /// The current default database as the library knows it: it follows `USE` and
    /// `select_db` through the server's session-state tracking of the schema.
    pub(crate) fn current_db(&self) -> Option<String> {
        // SAFETY: our handle; `db` is a plain field of the installed layout, null or
        // a NUL-terminated string owned by the handle, copied at once.
        unsafe {
            let p = (*self.as_ptr()).db;
            (!p.is_null()).then(|| cstr_lossy(p))
        }
    }

    /// Remember whether the last reply said the session state changed (session
    /// variables, the current schema, user variables, temporary tables, …; the
    /// server reports it with `session_track_state_change`).
    pub(crate) fn note_session_state(&mut self) {
        if self.server_status() & consts::SERVER_SESSION_STATE_CHANGED != 0 {
            self.session_changed = true;
            if self.track_gtid {
                self.read_tracked_gtid();
            }
        }
    }

    /// Whether an error said the server is not what this connection was chosen
    /// for (see `cluster::says_node_unfit`).
    pub(crate) fn node_unfit(&self) -> bool {
        self.node_unfit.get()
    }

    /// Remember an error that says the server is not what the connection was
    /// chosen for.
    fn note_node_unfit(&self, e: &Error) {
        if crate::cluster::says_node_unfit(e) {
            self.node_unfit.set(true);
        }
    }

    /// The server now reports `last_gtid` (or no longer does).
    pub(crate) fn set_track_gtid(&mut self, on: bool) {
        self.track_gtid = on;
    }

    /// The last GTID the server reported (see [`set_track_gtid`](Self::set_track_gtid)).
    pub(crate) fn last_gtid(&self) -> Option<&str> {
        self.last_gtid.as_deref()
    }

    /// Read `last_gtid` from the session-state information of the last OK packet:
    /// the system-variable entries come as name, value, name, value…
    fn read_tracked_gtid(&mut self) {
        use ffi::enum_session_state_type::SESSION_TRACK_SYSTEM_VARIABLES as SYSVARS;
        let mut data: *const std::os::raw::c_char = ptr::null();
        let mut len: usize = 0;
        let mut name: Option<Vec<u8>> = None;
        // SAFETY: our connected handle, no operation in progress (the reply was
        // just read); the library points `data` at `len` bytes inside the
        // handle's last OK packet, copied at once, before the next call.
        let mut rc = unsafe {
            ffi::mysql_session_track_get_first(self.as_ptr(), SYSVARS, &mut data, &mut len)
        };
        while rc == 0 {
            // SAFETY: as above: `len` valid bytes at `data` (none when null).
            let bytes = if data.is_null() {
                &[][..]
            } else {
                unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) }
            };
            match name.take() {
                None => name = Some(bytes.to_vec()),
                Some(n) if n == b"last_gtid" => {
                    if !bytes.is_empty() {
                        self.last_gtid = Some(String::from_utf8_lossy(bytes).into_owned());
                    }
                }
                Some(_) => {}
            }
            // SAFETY: as for `_first`; iterates the same packet's entries.
            rc = unsafe {
                ffi::mysql_session_track_get_next(self.as_ptr(), SYSVARS, &mut data, &mut len)
            };
        }
    }

    /// Whether a reply reported a session change (or an error left it unknown)
    /// since the last [`clear_session_changed`](Self::clear_session_changed).
    pub(crate) fn session_changed(&self) -> bool {
        self.session_changed
    }

    /// Start watching for session changes afresh.
    pub(crate) fn clear_session_changed(&mut self) {
        self.session_changed = false;
        self.role_changed = false;
    }

    /// Whether the connection's character set is UTF-8 (`utf8mb4`, `utf8mb3`,
    /// `utf8`), so that a Rust string's bytes mean the same to the server.
    pub(crate) fn charset_is_utf8(&self) -> bool {
        // SAFETY: our handle; the name is only compared, not kept.
        let name = unsafe { ffi::mysql_character_set_name(self.as_ptr()) };
        if name.is_null() {
            return false;
        }
        // SAFETY: a NUL-terminated name owned by the library.
        unsafe { std::ffi::CStr::from_ptr(name) }
            .to_bytes()
            .starts_with(b"utf8")
    }

    /// Whether the server runs MariaDB's bulk execute (`COM_STMT_BULK_EXECUTE`,
    /// MariaDB 10.2 and later).
    pub(crate) fn server_supports_bulk(&self) -> bool {
        self.server_version().contains("MariaDB") && self.server_version_number() >= 100_200
    }

    /// The connection's character set as the library knows it (it follows
    /// `SET NAMES` through the server's session-state tracking).
    pub(crate) fn charset_name(&self) -> String {
        // SAFETY: our handle; the name is copied at once.
        unsafe { cstr_lossy(ffi::mysql_character_set_name(self.as_ptr())) }
    }

    /// Make every later read and write on the socket fail at once. Used to unwind a
    /// suspended non-blocking operation before closing (see `drive::abort`).
    pub(crate) fn shutdown_socket(&mut self) {
        let fd = self.fd();
        if fd >= 0 {
            // SAFETY: shutdown on our own socket; it stays open (mysql_close closes it).
            unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
        }
    }

    /// Peek at an idle connection's socket without blocking: `true` if nothing is
    /// there (alive and quiet), `false` on EOF, error or unexpected bytes.
    pub(crate) fn peek_idle_socket(&self) -> bool {
        let fd = self.fd();
        if fd < 0 {
            return false;
        }
        let mut b = 0u8;
        // SAFETY: a one-byte peek into a local on our own socket; nothing is consumed.
        let n = unsafe {
            libc::recv(
                fd,
                &mut b as *mut u8 as *mut c_void,
                1,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::WouldBlock
    }

    /// Whether the server reports an open transaction.
    pub(crate) fn is_in_transaction(&self) -> bool {
        !self.status_stale && self.server_status() & consts::SERVER_STATUS_IN_TRANS != 0
    }
}

/// What a query span reads from the handle: the current database and whether the
/// server is MariaDB, both borrowed from the handle's strings without copying.
///
/// # Safety
/// `mysql` is a live handle, and no library call runs on it while the returned
/// strings are used.
unsafe fn site_of<'a>(mysql: *mut ffi::MYSQL) -> Site<'a> {
    // SAFETY: the caller's guarantee; `db` is a plain field of the installed
    // layout, null or a NUL-terminated string owned by the handle, and the server
    // version is a NUL-terminated string owned by the handle (or null before
    // connecting).
    unsafe {
        let db = (*mysql).db;
        let db = if db.is_null() {
            None
        } else {
            std::ffi::CStr::from_ptr(db).to_str().ok()
        };
        let version = ffi::mysql_get_server_info(mysql);
        let mariadb = !version.is_null()
            && std::ffi::CStr::from_ptr(version)
                .to_bytes()
                .windows(7)
                .any(|w| w == b"MariaDB");
        Site { db, mariadb }
    }
}

impl Drop for RawConn {
    fn drop(&mut self) {
        // An operation still suspended here was abandoned by its owner, which
        // unwinds it first (`drive::abort`); mysql_close frees what is left of it.
        if self.freed {
            return;
        }
        // SAFETY: we own the handle; nothing references it after this point (results
        // are dropped before their connection: see the field order of Conn/AsyncConn).
        unsafe { ffi::mysql_close(self.as_ptr()) };
    }
}
