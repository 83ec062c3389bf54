//! `AsyncConn`: the connection on tokio. Same method names as the blocking [`Conn`](crate::Conn).
//!
//! With MariaDB Connector/C ([`IoMode::NonBlocking`], the default) every step runs
//! through the library's `_start`/`_cont` API and waits on the socket through
//! tokio's `AsyncFd`: DNS (resolved on the runtime), TCP connect, authentication,
//! TLS, sending, the result header, every row, ping, close. Nothing blocks the
//! thread. [`IoMode::ReadableThenRead`] is the portable 2011 technique instead.
//!
//! **Cancel safety.** Dropping any future of this type at any point is safe: the
//! connection remembers the unfinished command and, before its next command, finishes
//! it and discards its result without blocking, or reports itself broken
//! ([`ErrorKind::Broken`]). A later caller never reads an earlier query's rows.
//!
//! ```no_run
//! # async fn demo() -> mysqlclient_async::Result<()> {
//! use mysqlclient_async::AsyncConn;
//!
//! let mut conn = AsyncConn::connect("mysql://root@127.0.0.1:3306/test").await?;
//! let (a, b): (i64, String) = conn.query_one("SELECT 1, 'one'").await?;
//! assert_eq!((a, b.as_str()), (1, "one"));
//! conn.close().await?;
//! # Ok(()) }
//! ```

use std::future::{poll_fn, Future};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::time::Sleep;

use crate::cancel::{CancelToken, KillStage};
use crate::column::Column;
use crate::conn::{broken, busy, empty_columns, no_rows, nothing_pending, status_of};
use crate::error::{Error, ErrorKind, Result};
use crate::nonblock::{self, Fd, OpKind, Out, ResPtr, Start, Step};
use crate::opts::{IntoOpts, IoMode, Opts, SslMode};
use crate::raw::{ConnectParams, Phase, RawConn, RawResult};
use crate::row::{ExecResult, FromRow, ResultSet, Row, RowRef};

/// Run one public call's body under the connection's query timeout: the bound
/// covers everything the call does (finishing earlier abandoned work, sending,
/// the server's execution, every row). On expiry, [`AsyncConn::recover_from_timeout`]
/// spends at most the options' `cancel_timeout` stopping the query on the server
/// and bringing the connection back in sync.
macro_rules! timed {
    ($self:ident, $body:expr) => {{
        $self.call_sent = false;
        match $self.query_timeout {
            None => $body.await,
            Some(limit) => match tokio::time::timeout(limit, $body).await {
                Ok(r) => r,
                Err(_) => Err($self.recover_from_timeout(limit).await),
            },
        }
    }};
}

/// An asynchronous connection for tokio (multi-thread or current-thread runtime).
/// `Send`, not `Sync`; its futures are `Send`. Dropping it closes the connection
/// (without waiting; [`close`](Self::close) says goodbye politely).
///
/// A connection is bound to the runtime that created it (its socket is registered
/// with that runtime's reactor).
pub struct AsyncConn {
    // Field order is drop order: deregister from the reactor, then free the result,
    // then close the handle, then free the buffers a suspended operation may use.
    io: Option<AsyncFd<Fd>>,
    result: Option<RawResult>,
    raw: RawConn,
    /// The query text of an in-flight `send_query` (must outlive the operation).
    query_buf: Vec<u8>,
    /// Strings an in-flight connect reads.
    params: Option<Box<ConnectParams>>,
    /// NUL-terminated database name of an in-flight `select_db`.
    db_buf: Option<std::ffi::CString>,
    timer: Option<Pin<Box<Sleep>>>,
    opts: Opts,
    nonblocking: bool,
    query_timeout: Option<Duration>,
    /// The current call's own statement has been (or is being) sent: a timeout
    /// concerns it, not only earlier abandoned work.
    call_sent: bool,
    /// A `Transaction` was dropped without commit or rollback: roll back first, to
    /// this savepoint (0: the whole transaction).
    rollback_pending: Option<u64>,
    /// Savepoints of nested transactions are numbered, never reused.
    last_savepoint: u64,
    /// Where the caller stands in the `send_query` / `read_query_result` /
    /// `next_result` sequence.
    split: Split,
    /// A query was just sent on an idle connection: its answer cannot be in the
    /// library's buffers yet, so reading it starts by waiting for the socket.
    fresh_send: bool,
}

/// The caller's progress through `send_query` → `read_query_result` →
/// `next_result`. Kept apart from the protocol phase: a result left behind by a
/// dropped `query()` is never handed to `read_query_result`, but one left by a
/// dropped `read_query_result` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Split {
    /// No split query in progress.
    Idle,
    /// `send_query` sent (or is sending) a query whose first result the caller
    /// has not received yet.
    AwaitingRead,
    /// The caller received a result set and more follow (`next_result`).
    MoreResults,
}

// SAFETY-free: `AsyncConn` is Send because all its fields are Send (RawConn and
// RawResult assert it themselves); it is not Sync because RawConn is not.

impl Drop for AsyncConn {
    fn drop(&mut self) {
        if self.raw.suspended().is_some() {
            let res = self
                .result
                .as_ref()
                .map_or(std::ptr::null_mut(), |r| r.as_ptr());
            nonblock::abort(&mut self.raw, res);
        }
        if self.result.is_some() || self.raw.phase() != Phase::Idle {
            // Unread rows or a pending result (also on a connection that broke while
            // holding them): make the C library's cleanup (mysql_free_result,
            // mysql_close) fail fast instead of reading them with blocking calls.
            self.raw.shutdown_socket();
        }
        // Deregister before mysql_close closes (and frees the number of) the fd.
        self.io = None;
    }
}

fn config(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::Config, msg).with_fatal(false)
}

impl AsyncConn {
    /// Connect. Accepts a URL (`"mysql://…"`), an [`Opts`], or `&Opts`.
    ///
    /// The host name is resolved on the runtime (`tokio::net::lookup_host`); each
    /// address is tried in turn. The init SQL of the options runs afterwards.
    ///
    /// The options' `connect_timeout` (default 10 s) bounds the whole call: name
    /// resolution, the TCP connect, TLS, authentication and the init SQL.
    pub async fn connect(opts: impl IntoOpts) -> Result<AsyncConn> {
        let opts = opts.into_opts()?;
        let stage = std::sync::atomic::AtomicU8::new(STAGE_RESOLVING);
        let Some(limit) = opts.connect_timeout() else {
            return Self::connect_staged(opts, &stage).await;
        };
        match tokio::time::timeout(limit, Self::connect_staged(opts.clone(), &stage)).await {
            Ok(r) => r,
            Err(_) => {
                let at = match stage.load(std::sync::atomic::Ordering::Relaxed) {
                    STAGE_RESOLVING => "while resolving the host name",
                    STAGE_HANDSHAKE => {
                        "before the TCP connection and the server's greeting and \
                         authentication completed"
                    }
                    _ => "while running the init SQL",
                };
                let target = match opts.socket() {
                    Some(p) => p.display().to_string(),
                    None => format!("{}:{}", opts.host(), opts.port()),
                };
                Err(Error::new(
                    ErrorKind::Connect,
                    format!(
                        "connecting to {target} timed out after {limit:?} (connect_timeout), {at}"
                    ),
                ))
            }
        }
    }

    async fn connect_staged(opts: Opts, stage: &std::sync::atomic::AtomicU8) -> Result<AsyncConn> {
        use std::sync::atomic::Ordering::Relaxed;
        let nonblocking = cfg!(mca_nonblocking) && opts.io_mode() == IoMode::NonBlocking;
        let addrs = resolve(&opts).await?;
        stage.store(STAGE_HANDSHAKE, Relaxed);
        let mut last_err = None;
        for addr in addrs {
            let mut attempt = Self::connect_one(&opts, addr.as_deref(), nonblocking).await;
            if let Err(e) = &attempt {
                if let Some(plain) = opts.plain_text_fallback(e) {
                    attempt = Self::connect_one(&plain, addr.as_deref(), nonblocking).await;
                }
            }
            match attempt {
                Ok(mut conn) => {
                    stage.store(STAGE_INIT_SQL, Relaxed);
                    for sql in opts.init_sql() {
                        conn.query_drop(sql)
                            .await
                            .map_err(|e| e.context(format_args!("init SQL `{sql}` failed")))?;
                    }
                    return Ok(conn);
                }
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.unwrap_or_else(|| {
            Error::new(
                ErrorKind::Connect,
                format!("host `{}` has no addresses", opts.host()),
            )
        }))
    }

    async fn connect_one(opts: &Opts, host: Option<&str>, nonblocking: bool) -> Result<AsyncConn> {
        let mut raw = RawConn::new()?;
        raw.apply_options(opts, nonblocking)?;
        let params = Box::new(ConnectParams::new(opts, host)?);
        let tls_possible = opts.ssl_mode() != SslMode::Disabled;
        let (raw, params) = if nonblocking && tls_possible {
            // Connector/C 3.3 runs the TLS handshake with blocking waits (and loads
            // the system trust store when no CA is given), so a connect that may use
            // TLS runs on tokio's blocking pool: the event loop never waits on it.
            // Everything after the handshake is non-blocking again.
            let (raw, r) = tokio::task::spawn_blocking(move || {
                let r = raw.connect(&params);
                (raw, r)
            })
            .await
            .map_err(|e| Error::new(ErrorKind::Connect, format!("connect task failed: {e}")))?;
            r?;
            (raw, None)
        } else {
            (raw, Some(params))
        };
        let mut conn = AsyncConn {
            io: None,
            result: None,
            raw,
            query_buf: Vec::new(),
            params,
            db_buf: None,
            timer: None,
            opts: opts.clone(),
            nonblocking,
            query_timeout: None,
            call_sent: false,
            rollback_pending: None,
            last_savepoint: 0,
            split: Split::Idle,
            fresh_send: false,
        };
        if let Some(params) = conn.params.as_deref() {
            if nonblocking {
                // Only a multi-thread runtime can resume the connect on another
                // thread (see `nonblock::start_connect`); on a current-thread one
                // the hop to the connect-start thread is not needed.
                let step = match tokio::runtime::Handle::current().runtime_flavor() {
                    tokio::runtime::RuntimeFlavor::CurrentThread => {
                        nonblock::start(&mut conn.raw, Start::Connect(params))?
                    }
                    _ => nonblock::start_connect(&mut conn.raw, params)?,
                };
                match conn.drive(step).await? {
                    Out::Conn(p) if !p.is_null() => {}
                    _ if conn.raw.connect_moved() => {
                        return Err(Error::new(
                            ErrorKind::Connect,
                            "the current-thread runtime moved to another thread during the TCP \
                             connect, which was abandoned (the client library cannot resume it \
                             there); connect again",
                        ))
                    }
                    _ => return Err(conn.raw.last_error()),
                }
            } else {
                // The portable path's documented caveat: connecting blocks.
                conn.raw.connect(params)?;
            }
        }
        conn.raw.set_connected();
        conn.raw.check_tls(opts)?;
        if nonblocking && conn.raw.tls_cipher().is_some() {
            // The 3.3 handshake leaves the socket in blocking mode, and OpenSSL would
            // then block in read(); the library's TLS reads yield once it is
            // non-blocking again.
            conn.raw.set_socket_nonblocking()?;
        }
        conn.params = None;
        conn.register()?;
        Ok(conn)
    }

    /// (Re-)register the socket with the reactor if it is new.
    fn register(&mut self) -> Result<()> {
        let fd = self.raw.fd();
        if fd < 0 {
            return Err(Error::new(
                ErrorKind::ConnectionLost,
                "the connection has no socket",
            ));
        }
        if self.io.as_ref().map(|io| io.get_ref().of) != Some(fd) {
            self.io = None;
            let dup = Fd::dup(fd)?;
            // SAFETY: `Fd` owns its duplicate descriptor, which stays open until the
            // AsyncFd (and with it the Fd) is dropped; as_raw_fd always returns it.
            let io = unsafe {
                AsyncFd::register_with_interest(dup, Interest::READABLE | Interest::WRITABLE)
            }
            .map_err(std::io::Error::from)?;
            self.io = Some(io);
        }
        Ok(())
    }

    /// Drive a started operation to completion.
    async fn drive(&mut self, step: Step) -> Result<Out> {
        if let Step::Done(out) = step {
            return Ok(out);
        }
        self.drive_suspended().await
    }

    /// Drive the suspended operation to completion.
    async fn drive_suspended(&mut self) -> Result<Out> {
        if let Err(e) = self.register() {
            self.raw.set_phase(Phase::Broken);
            return Err(e);
        }
        let res = ResPtr(
            self.result
                .as_ref()
                .map_or(std::ptr::null_mut(), |r| r.as_ptr()),
        );
        let r = {
            let AsyncConn { io, raw, timer, .. } = &mut *self;
            let io = io.as_ref().expect("registered above");
            poll_fn(move |cx| nonblock::poll_drive(io, raw, res.get(), timer, cx)).await
        };
        if r.is_err() {
            self.raw.set_phase(Phase::Broken);
        }
        r
    }

    /// Run one non-blocking operation from start to end.
    async fn run(&mut self, op: Start<'_>) -> Result<Out> {
        let step = nonblock::start(&mut self.raw, op)?;
        self.drive(step).await
    }

    /// Classify an `int`-returning operation's result.
    fn check_int(&mut self, out: Out) -> Result<()> {
        match out {
            Out::Int(0) | Out::Bool(false) | Out::Unit => Ok(()),
            _ => Err(self.raw.fail(self.raw.last_error())),
        }
    }

    /// Forget read readiness cached by tokio (stale on an idle connection).
    fn clear_read_readiness(&self) {
        if let Some(io) = &self.io {
            let mut cx = Context::from_waker(std::task::Waker::noop());
            if let Poll::Ready(Ok(mut guard)) = io.poll_read_ready(&mut cx) {
                guard.clear_ready();
            }
        }
    }

    /// Wait until the socket is readable (portable path). Peeks, so that readiness
    /// left over from an earlier, already consumed answer is not mistaken for a new one.
    async fn wait_readable(&mut self) -> Result<()> {
        self.register()?;
        let io = self.io.as_ref().expect("registered");
        loop {
            let mut guard = io.readable().await?;
            let mut b = 0u8;
            // SAFETY: a one-byte peek into a local on our own socket; nothing is consumed.
            let n = unsafe {
                libc::recv(
                    io.get_ref().as_raw_fd(),
                    &mut b as *mut u8 as *mut libc::c_void,
                    1,
                    libc::MSG_PEEK | libc::MSG_DONTWAIT,
                )
            };
            if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::WouldBlock {
                guard.clear_ready();
                continue;
            }
            return Ok(());
        }
    }

    // ----- protocol state (mirrors conn.rs, with non-blocking I/O) -----

    fn after_result(&mut self) {
        self.result = None;
        self.raw.after_result();
    }

    /// Finish an operation that a dropped future left suspended inside the library,
    /// and apply its outcome. Returns its kind and the operation's own result (a
    /// result header's error, say), which callers may report or discard.
    async fn resume_suspended(&mut self) -> Result<Option<(OpKind, Result<()>)>> {
        if self.raw.phase() == Phase::Broken {
            // Whatever is suspended stays so; Drop unwinds it.
            return Err(broken());
        }
        let Some((kind, _)) = self.raw.suspended() else {
            return Ok(None);
        };
        let out = self.drive_suspended().await?;
        Ok(Some((kind, self.absorb(kind, out))))
    }

    /// Finish what a dropped future left behind, then discard results until idle.
    async fn ensure_idle(&mut self) -> Result<()> {
        // Whatever the caller's `send_query` sent is discarded by this command.
        self.split = Split::Idle;
        if let Some((_, Err(e))) = self.resume_suspended().await? {
            // The connection died under the abandoned command: say how.
            if e.is_fatal() {
                return Err(e);
            }
        }
        loop {
            match self.raw.phase() {
                Phase::Idle => break,
                Phase::Broken => return Err(broken()),
                Phase::Sent => {
                    let r = self.read_header().await;
                    self.raw.after_header(r).ok();
                }
                Phase::ResultPending => {
                    if let Err(e) = self.store_all::<Row>().await {
                        if e.is_fatal() {
                            return Err(e);
                        }
                    }
                }
                Phase::Fetching => while self.fetch_next().await?.is_some() {},
                Phase::MoreResults => {
                    let r = self.next_header().await;
                    self.raw.after_header(r).ok();
                }
            }
        }
        if let Some(depth) = self.rollback_pending.take() {
            // A Transaction guard was dropped without commit or rollback. Taken
            // before sending: if this future is dropped from here on, the ROLLBACK
            // is in flight and the next command finishes it like any other.
            let sql = rollback_sql(depth);
            self.send_now(sql.as_bytes()).await?;
            let r = self.read_header().await;
            let r = match self.raw.after_header(r) {
                Ok(()) => self.finish_results().await.map(|_| ()),
                Err(e) => Err(e),
            };
            // A server error here (the savepoint is gone because the statements of
            // the transaction ended it, say) concerns the abandoned transaction, not
            // the caller's command.
            if let Err(e) = r {
                if e.is_fatal() {
                    return Err(e);
                }
                tracing::debug!(target: "mysqlclient_async", error = %e, "rollback of an abandoned transaction failed");
            }
        }
        Ok(())
    }

    /// Apply the outcome of an operation that finished after its future was dropped,
    /// and return that operation's own result.
    fn absorb(&mut self, kind: OpKind, out: Out) -> Result<()> {
        match kind {
            OpKind::SendQuery => match out {
                Out::Int(0) => {
                    self.fresh_send = true;
                    Ok(())
                }
                _ => {
                    let e = self.raw.last_error();
                    self.raw.set_phase(Phase::Broken);
                    Err(e)
                }
            },
            OpKind::ReadQueryResult | OpKind::NextResult => {
                let r = match out {
                    Out::Bool(false) | Out::Int(0) | Out::Int(-1) => Ok(()),
                    _ => Err(self.raw.last_error()),
                };
                self.raw.after_header(r)
            }
            OpKind::FetchRow => {
                if let Out::Row(p) = out {
                    if p.is_null() {
                        let err = self.raw.fetch_error();
                        if err.is_some() {
                            self.raw.set_phase(Phase::Broken);
                        }
                        self.after_result();
                        if let Some(e) = err {
                            return Err(e);
                        }
                    }
                }
                Ok(())
            }
            OpKind::Ping | OpKind::SelectDb | OpKind::ResetConnection => {
                if matches!(out, Out::Int(0)) {
                    Ok(())
                } else {
                    let e = self.raw.last_error();
                    Err(self.raw.fail(e))
                }
            }
            OpKind::Connect | OpKind::Close => {
                self.raw.set_phase(Phase::Broken);
                Err(broken())
            }
        }
    }

    /// Read a result header after a send.
    async fn read_header(&mut self) -> Result<()> {
        if self.nonblocking {
            if self.fresh_send {
                // Nothing of the answer can be buffered yet, and the readiness left
                // from the previous answer was cleared before sending: wait for the
                // socket first instead of a read that can only say EAGAIN.
                // Cancel-safe: if dropped here, the next command comes back here.
                self.register()?;
                let io = self.io.as_ref().expect("registered");
                poll_fn(|cx| io.poll_read_ready(cx).map_ok(|_| ())).await?;
                self.fresh_send = false;
            }
            let out = self.run(Start::ReadQueryResult).await?;
            match out {
                Out::Bool(false) => Ok(()),
                _ => Err(self.raw.last_error()),
            }
        } else {
            self.wait_readable().await?;
            self.raw.read_query_result()
        }
    }

    /// Read the next result header of a multi-statement query.
    async fn next_header(&mut self) -> Result<()> {
        if self.nonblocking {
            match self.run(Start::NextResult).await? {
                Out::Int(0) | Out::Int(-1) => Ok(()),
                _ => Err(self.raw.last_error()),
            }
        } else {
            // Caveat of the portable path: the next result may already sit in the
            // library's buffer, so the socket cannot tell; this read blocks.
            self.raw.next_result().map(|_| ())
        }
    }

    /// Send a query (non-blocking) and read its first result header.
    async fn send_and_read_header(&mut self, sql: &[u8]) -> Result<()> {
        self.send_only(sql).await?;
        let r = self.read_header().await;
        self.raw.after_header(r)
    }

    async fn send_only(&mut self, sql: &[u8]) -> Result<()> {
        self.ensure_idle().await?;
        self.call_sent = true;
        self.send_now(sql).await
    }

    /// Send on an idle connection.
    async fn send_now(&mut self, sql: &[u8]) -> Result<()> {
        self.query_buf.clear();
        self.query_buf.extend_from_slice(sql);
        self.raw.set_phase(Phase::Sent);
        let sent = if self.nonblocking {
            // The connection is idle: any read readiness tokio still holds belongs to
            // the previous answer, which the library has consumed. Dropping it saves
            // a read that could only say EAGAIN (see `read_header`). Safe: a server
            // that closes or writes unasked-for later produces a new event.
            self.clear_read_readiness();
            let (p, n) = (self.query_buf.as_ptr(), self.query_buf.len());
            let out = self.run(Start::SendQuery(p, n)).await?;
            match out {
                Out::Int(0) => {
                    self.fresh_send = true;
                    Ok(())
                }
                _ => Err(self.raw.last_error()),
            }
        } else {
            self.raw.send_query(sql)
        };
        if let Err(e) = sent {
            self.raw.set_phase(Phase::Broken);
            // The library writes the whole command before reading anything: a failed
            // send means the server never received a complete command, so it cannot
            // have run it.
            return Err(if e.kind() == ErrorKind::ConnectionLost {
                e.mark_unsent()
            } else {
                e
            });
        }
        Ok(())
    }

    /// Send a query and read its first result header (the call's timeout is applied
    /// by the public method around it).
    async fn start_query(&mut self, sql: &str) -> Result<()> {
        self.send_and_read_header(sql.as_bytes()).await
    }

    /// A call overran its query timeout (its future was dropped where it stood).
    /// Within the options' `cancel_timeout`, stop the query on the server with
    /// `KILL QUERY` from a side connection while finishing the interrupted command,
    /// so the connection is usable again; if that does not complete in time, mark
    /// the connection broken. The error says which of these happened.
    pub(crate) async fn recover_from_timeout(&mut self, limit: Duration) -> Error {
        let what = if self.call_sent {
            format!("the call exceeded its {limit:?} timeout")
        } else {
            format!(
                "timed out after {limit:?} while finishing what an earlier, abandoned call left \
                 on this connection (this call's own statement was not sent)"
            )
        };
        let fail = |this: &mut AsyncConn, why: String| {
            this.raw.set_phase(Phase::Broken);
            Error::new(
                ErrorKind::Timeout,
                format!("{what}; {why}; the connection is out of sync and was marked broken"),
            )
            .with_fatal(true)
        };
        if self.raw.phase() == Phase::Broken {
            return fail(self, "the connection had already failed".into());
        }
        if !self.has_pending_work() {
            return Error::new(
                ErrorKind::Timeout,
                format!("{what}; the connection is in sync"),
            )
            .with_fatal(false);
        }
        let budget = self.opts.cancel_timeout();
        let token = self.cancel_token();
        let stage = std::sync::Mutex::new(KillStage::Connecting);
        let work = async {
            let kill = token.kill_with_progress(&stage);
            let drain = self.ensure_idle();
            join2(kill, drain).await
        };
        let outcome = tokio::time::timeout(budget, work).await;
        let stage = stage.into_inner().unwrap_or_else(|e| e.into_inner());
        match outcome {
            Ok((Ok(()), Ok(()))) => Error::new(
                ErrorKind::Timeout,
                format!(
                    "{what}; KILL QUERY was sent from a side connection and the connection is back in sync"
                ),
            )
            .with_fatal(false),
            Ok((Err(k), Ok(()))) => Error::new(
                ErrorKind::Timeout,
                format!(
                    "{what}; KILL QUERY could not be sent ({k}), but the server finished the query meanwhile and the connection is back in sync"
                ),
            )
            .with_fatal(false),
            Ok((k, Err(d))) => {
                let kill = match k {
                    Ok(()) => "KILL QUERY was sent".to_string(),
                    Err(k) => format!("KILL QUERY could not be sent ({k})"),
                };
                fail(self, format!("{kill}, and finishing the command failed: {d}"))
            }
            Err(_) => fail(
                self,
                format!(
                    "within the cancel timeout ({budget:?}) {}, and the server did not finish answering",
                    stage.describe()
                ),
            ),
        }
    }

    /// Read the current result set (header already read) into rows: unbuffered,
    /// one non-blocking fetch per row, each row decoded straight from the library's
    /// buffer while the next ones are still arriving.
    async fn store_all<T: FromRow>(&mut self) -> Result<(Arc<[Column]>, Vec<T>, ExecResult)> {
        if self.raw.phase() != Phase::ResultPending {
            return Ok((empty_columns(), Vec::new(), status_of(&self.raw)));
        }
        self.start_rows()?;
        let columns = self
            .result
            .as_ref()
            .map_or_else(empty_columns, |r| r.columns().clone());
        let mut rows = Vec::new();
        let mut conversion = None;
        while self.fetch_next().await?.is_some() {
            // After a conversion error keep reading (and discarding) so the
            // connection stays in sync; the error is returned at the end.
            if conversion.is_none() {
                let res = self.result.as_mut().expect("a row was just fetched");
                match T::from_row_ref(&RowRef::new(&columns, current_row(res))) {
                    Ok(v) => rows.push(v),
                    Err(e) => conversion = Some(e),
                }
            }
        }
        let status = status_of(&self.raw);
        match conversion {
            Some(e) => Err(e),
            None => Ok((columns, rows, status)),
        }
    }

    /// Begin reading the rows of the pending result set (`mysql_use_result`, which
    /// reads nothing itself).
    fn start_rows(&mut self) -> Result<()> {
        match self.raw.use_result() {
            Ok(Some(r)) => {
                self.result = Some(r);
                self.raw.set_phase(Phase::Fetching);
                Ok(())
            }
            Ok(None) => {
                self.after_result();
                Ok(())
            }
            Err(e) => {
                self.raw.set_phase(Phase::Broken);
                Err(e)
            }
        }
    }

    /// Fetch the next row of the streaming result; `None` at the end.
    async fn fetch_next(&mut self) -> Result<Option<()>> {
        poll_fn(|cx| self.poll_fetch(cx)).await
    }

    /// Poll for the next row of the streaming result. `Ready(Ok(Some(())))` means the
    /// current row of `self.result` is valid.
    fn poll_fetch(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<()>>> {
        if self.raw.phase() == Phase::Broken {
            return Poll::Ready(Err(broken()));
        }
        let Some(res) = self.result.as_ref().map(|r| ResPtr(r.as_ptr())) else {
            return Poll::Ready(Ok(None));
        };
        // Rows often come straight from the library's buffer without touching the
        // reactor; spend tokio's cooperative budget so a long stream still yields to
        // other tasks on the same thread.
        let coop = std::task::ready!(tokio::task::coop::poll_proceed(cx));
        let r = self.poll_fetch_inner(res, cx);
        if r.is_ready() {
            coop.made_progress();
        }
        r
    }

    fn poll_fetch_inner(&mut self, res: ResPtr, cx: &mut Context<'_>) -> Poll<Result<Option<()>>> {
        let out = if !self.nonblocking {
            // Portable path caveat: rows are read with blocking calls.
            let row = self.result.as_mut().expect("checked").fetch_row().is_some();
            if row {
                return Poll::Ready(Ok(Some(())));
            }
            Out::Row(std::ptr::null_mut())
        } else if let Some((kind, _)) = self.raw.suspended() {
            if kind != OpKind::FetchRow {
                // Only a fetch can be suspended while rows are being read.
                self.raw.set_phase(Phase::Broken);
                return Poll::Ready(Err(broken()));
            }
            let AsyncConn { io, raw, timer, .. } = self;
            let Some(io) = io.as_ref() else {
                return Poll::Ready(Err(broken()));
            };
            match nonblock::poll_drive(io, raw, res.get(), timer, cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => {
                    self.raw.set_phase(Phase::Broken);
                    return Poll::Ready(Err(e));
                }
                Poll::Ready(Ok(out)) => out,
            }
        } else {
            match nonblock::start(&mut self.raw, Start::FetchRow(res.get())) {
                Ok(Step::Done(out)) => out,
                Ok(Step::Wait(_)) => return self.poll_fetch_inner(res, cx),
                Err(e) => return Poll::Ready(Err(e)),
            }
        };
        match out {
            Out::Row(p) if !p.is_null() => Poll::Ready(Ok(Some(()))),
            _ => {
                let err = self.raw.fetch_error();
                if let Some(e) = &err {
                    if e.is_fatal() {
                        self.raw.set_phase(Phase::Broken);
                    }
                }
                self.after_result();
                match err {
                    Some(e) => Poll::Ready(Err(e)),
                    None => Poll::Ready(Ok(None)),
                }
            }
        }
    }

    /// Read every remaining result set, keeping the first error.
    async fn finish_results(&mut self) -> Result<ExecResult> {
        let mut status = status_of(&self.raw);
        let mut first_err = None;
        loop {
            match self.raw.phase() {
                Phase::ResultPending => match self.store_all::<Row>().await {
                    Ok((_, _, s)) => status = s,
                    Err(e) => {
                        first_err.get_or_insert(e);
                    }
                },
                Phase::MoreResults => {
                    let r = self.next_header().await;
                    match self.raw.after_header(r) {
                        Ok(()) => status = status_of(&self.raw),
                        Err(e) => {
                            first_err.get_or_insert(e);
                        }
                    }
                }
                Phase::Broken => return Err(first_err.unwrap_or_else(broken)),
                _ => break,
            }
        }
        first_err.map_or(Ok(status), Err)
    }

    // ----- public API -----

    /// The options this connection was made with.
    pub fn opts(&self) -> &Opts {
        &self.opts
    }

    /// Whether this connection drives every step through the library's
    /// non-blocking API (`false`: the portable readable-then-read path).
    pub fn is_nonblocking(&self) -> bool {
        self.nonblocking
    }

    /// Bound every later call on this connection (`None`, the default: no bound).
    ///
    /// The timeout covers the whole call: finishing what an earlier abandoned call
    /// left, sending, the server's execution and every row of a buffered result
    /// (`query`, `exec`, `execute`, …); for [`query_stream`](Self::query_stream),
    /// the call that returns the stream and then each wait for a row. On expiry the
    /// query is stopped on the server with `KILL QUERY` from a side connection while
    /// the interrupted command is finished, within the options' `cancel_timeout`
    /// (default 1 s): the call returns an [`ErrorKind::Timeout`] error within the
    /// timeout plus `cancel_timeout`, not fatal if the connection is back in sync,
    /// fatal (the connection is marked broken) if that could not be done in time. The
    /// message says which: whether `KILL QUERY` was sent, and whether the call's own
    /// statement had been sent at all. A stream that waits too long for a row is
    /// marked broken at once (the rest of its result cannot be skipped without
    /// reading it).
    pub fn set_query_timeout(&mut self, timeout: Option<Duration>) {
        self.query_timeout = timeout;
    }

    /// The bound set with [`set_query_timeout`](Self::set_query_timeout).
    pub fn query_timeout(&self) -> Option<Duration> {
        self.query_timeout
    }

    /// Run `sql` and return the rows of its first result set as `T` (a [`Row`],
    /// a tuple, or any [`FromRow`]). Later result sets are read and discarded; an
    /// error in any statement is returned.
    pub async fn query<T: FromRow>(&mut self, sql: &str) -> Result<Vec<T>> {
        timed!(self, self.query_inner(sql))
    }

    async fn query_inner<T: FromRow>(&mut self, sql: &str) -> Result<Vec<T>> {
        self.start_query(sql).await?;
        let (_, rows, _) = self.store_all::<T>().await?;
        self.finish_results().await?;
        Ok(rows)
    }

    /// Run `sql` and return the first result set with its columns and status.
    pub async fn query_result(&mut self, sql: &str) -> Result<ResultSet> {
        timed!(self, self.query_result_inner(sql))
    }

    async fn query_result_inner(&mut self, sql: &str) -> Result<ResultSet> {
        self.start_query(sql).await?;
        let (columns, rows, status) = self.store_all::<Row>().await?;
        self.finish_results().await?;
        Ok(ResultSet {
            columns,
            rows,
            status,
        })
    }

    /// Run several statements and return every result set.
    pub async fn query_multi(&mut self, sql: &str) -> Result<Vec<ResultSet>> {
        timed!(self, self.query_multi_inner(sql))
    }

    async fn query_multi_inner(&mut self, sql: &str) -> Result<Vec<ResultSet>> {
        self.start_query(sql).await?;
        let mut sets = Vec::new();
        loop {
            let (columns, rows, status) = self.store_all::<Row>().await?;
            sets.push(ResultSet {
                columns,
                rows,
                status,
            });
            if self.raw.phase() != Phase::MoreResults {
                return Ok(sets);
            }
            let r = self.next_header().await;
            self.raw.after_header(r)?;
        }
    }

    /// Run `sql` and return the first row, or an [`ErrorKind::NoRows`] error if
    /// there is none.
    pub async fn query_one<T: FromRow>(&mut self, sql: &str) -> Result<T> {
        self.query_opt(sql).await?.ok_or_else(no_rows)
    }

    /// Run `sql` and return the first row, if any.
    pub async fn query_opt<T: FromRow>(&mut self, sql: &str) -> Result<Option<T>> {
        Ok(self.query::<T>(sql).await?.into_iter().next())
    }

    /// Run `sql`, discarding any rows.
    pub async fn query_drop(&mut self, sql: &str) -> Result<()> {
        self.execute(sql).await.map(|_| ())
    }

    /// Run `sql` and return what the (last) statement reported.
    pub async fn execute(&mut self, sql: &str) -> Result<ExecResult> {
        timed!(self, self.execute_inner(sql))
    }

    async fn execute_inner(&mut self, sql: &str) -> Result<ExecResult> {
        self.start_query(sql).await?;
        self.finish_results().await
    }

    /// Run `sql` and stream the rows of its first result set, one network read at a
    /// time (`mysql_use_result` plus non-blocking fetches): memory stays constant
    /// however many rows there are. The stream borrows the connection; dropping it
    /// early is safe (the rest is discarded before the next command).
    pub async fn query_stream(&mut self, sql: &str) -> Result<RowStream<'_>> {
        timed!(self, self.start_query(sql))?;
        self.stream()
    }

    /// The stream of the result whose header was just read.
    fn stream(&mut self) -> Result<RowStream<'_>> {
        if self.raw.phase() == Phase::ResultPending {
            self.start_rows()?;
        }
        let columns = self
            .result
            .as_ref()
            .map_or_else(empty_columns, |r| r.columns().clone());
        Ok(RowStream {
            columns,
            limit: self.query_timeout,
            timer: None,
            conn: self,
        })
    }

    /// Step one of the Chartio split, on tokio: send `sql` without waiting for the
    /// answer. Then [`read_query_result`](Self::read_query_result) waits on the
    /// socket and reads.
    pub async fn send_query(&mut self, sql: &str) -> Result<()> {
        if self.split == Split::AwaitingRead {
            return Err(busy("send_query"));
        }
        timed!(self, self.send_query_inner(sql))
    }

    async fn send_query_inner(&mut self, sql: &str) -> Result<()> {
        self.ensure_idle().await?;
        self.call_sent = true;
        // From here on a dropped future leaves the send to `read_query_result`.
        self.split = Split::AwaitingRead;
        let r = self.send_now(sql.as_bytes()).await;
        if r.is_err() {
            self.split = Split::Idle;
        }
        r
    }

    /// Step two: wait (on the reactor) until the server answered, then read the
    /// first result set. Further result sets via [`next_result`](Self::next_result).
    ///
    /// Cancel-safe: if this future (or `send_query`'s) is dropped, calling
    /// `read_query_result` again resumes where it stopped and returns the whole
    /// result, unless the dropped call had already read some of its rows: then the
    /// rest is discarded and an [`ErrorKind::Discarded`] error says so.
    pub async fn read_query_result(&mut self) -> Result<ResultSet> {
        if self.split != Split::AwaitingRead {
            return Err(nothing_pending());
        }
        let r = timed!(self, self.read_query_result_inner());
        self.split = self.split_after_result();
        r
    }

    async fn read_query_result_inner(&mut self) -> Result<ResultSet> {
        self.call_sent = true; // sent by send_query
        match self.resume_suspended().await? {
            Some((OpKind::FetchRow, _)) => {
                return Err(self.discard_rows("read_query_result").await)
            }
            // The send or the header read of a dropped call: its outcome is ours.
            Some((_, r)) => r?,
            None => {}
        }
        match self.raw.phase() {
            Phase::Sent => {
                let r = self.read_header().await;
                self.raw.after_header(r)?;
            }
            Phase::Fetching => return Err(self.discard_rows("read_query_result").await),
            Phase::Broken => return Err(broken()),
            // A dropped call read the header; the rows (if any) are untouched.
            Phase::ResultPending | Phase::MoreResults | Phase::Idle => {}
        }
        let (columns, rows, status) = self.store_all::<Row>().await?;
        Ok(ResultSet {
            columns,
            rows,
            status,
        })
    }

    /// The next result set of a multi-statement query after
    /// [`read_query_result`](Self::read_query_result), or `None` when there are no more.
    /// Cancel-safe in the same way as `read_query_result`.
    pub async fn next_result(&mut self) -> Result<Option<ResultSet>> {
        match self.split {
            Split::Idle => return Ok(None),
            Split::AwaitingRead => {
                return Err(Error::new(
                    ErrorKind::Busy,
                    "next_result: the first result of send_query has not been read; call read_query_result first",
                )
                .with_fatal(false))
            }
            Split::MoreResults => {}
        }
        let r = timed!(self, self.next_result_inner());
        self.split = self.split_after_result();
        r
    }

    async fn next_result_inner(&mut self) -> Result<Option<ResultSet>> {
        self.call_sent = true; // sent by send_query
        let mut header_read = false;
        match self.resume_suspended().await? {
            Some((OpKind::FetchRow, _)) => return Err(self.discard_rows("next_result").await),
            Some((_, r)) => {
                // A dropped next_result read the next header.
                r?;
                header_read = true;
            }
            None => {}
        }
        match self.raw.phase() {
            Phase::Fetching => return Err(self.discard_rows("next_result").await),
            Phase::Broken => return Err(broken()),
            Phase::ResultPending => {}
            Phase::MoreResults if !header_read => {
                let r = self.next_header().await;
                self.raw.after_header(r)?;
            }
            Phase::Idle if !header_read => return Ok(None),
            Phase::Sent | Phase::MoreResults | Phase::Idle => {}
        }
        let (columns, rows, status) = self.store_all::<Row>().await?;
        Ok(Some(ResultSet {
            columns,
            rows,
            status,
        }))
    }

    /// The split state once a result set went to the caller (or failed).
    fn split_after_result(&self) -> Split {
        if self.raw.phase() == Phase::MoreResults {
            Split::MoreResults
        } else {
            Split::Idle
        }
    }

    /// A dropped call had read part of the current result set's rows: read and
    /// discard the rest, and say so.
    async fn discard_rows(&mut self, what: &str) -> Error {
        while self.raw.phase() == Phase::Fetching {
            match self.fetch_next().await {
                Ok(Some(())) => {}
                Ok(None) => break,
                Err(e) => return e,
            }
        }
        if self.raw.phase() == Phase::Broken {
            return broken();
        }
        Error::new(
            ErrorKind::Discarded,
            format!(
                "{what}: an earlier call was dropped after it had read some rows of this \
                 result set; the rest was read and discarded"
            ),
        )
        .with_fatal(false)
    }

    /// Check that the server is alive (`COM_PING`), without blocking.
    pub async fn ping(&mut self) -> Result<()> {
        timed!(self, self.ping_inner())
    }

    async fn ping_inner(&mut self) -> Result<()> {
        self.ensure_idle().await?;
        self.call_sent = true;
        if self.nonblocking {
            let out = self.run(Start::Ping).await?;
            self.check_int(out)
        } else {
            self.raw.ping().map_err(|e| self.raw.fail(e))
        }
    }

    /// Change the default database.
    pub async fn select_db(&mut self, db: &str) -> Result<()> {
        timed!(self, self.select_db_inner(db))
    }

    async fn select_db_inner(&mut self, db: &str) -> Result<()> {
        self.ensure_idle().await?;
        self.call_sent = true;
        if self.nonblocking {
            let c = std::ffi::CString::new(db)
                .map_err(|_| config("database name contains a NUL byte"))?;
            let p = self.db_buf.insert(c).as_ptr();
            let out = self.run(Start::SelectDb(p)).await?;
            self.check_int(out)
        } else {
            self.raw.select_db(db).map_err(|e| self.raw.fail(e))
        }
    }

    /// Reset session state without reconnecting (`COM_RESET_CONNECTION`).
    pub async fn reset_connection(&mut self) -> Result<()> {
        timed!(self, self.reset_connection_inner())
    }

    async fn reset_connection_inner(&mut self) -> Result<()> {
        self.ensure_idle().await?;
        self.call_sent = true;
        if self.nonblocking {
            let out = self.run(Start::ResetConnection).await?;
            self.check_int(out)?;
            self.raw.mark_status_stale();
            Ok(())
        } else {
            self.raw.reset_connection().map_err(|e| self.raw.fail(e))
        }
    }

    /// Give the session back its state right after connecting, for the next user
    /// of a pooled connection: `COM_RESET_CONNECTION` (user variables, session
    /// variables, temporary tables, prepared statements, locks from `GET_LOCK`,
    /// an open transaction, `autocommit`; the character set goes back to the
    /// connection's), then the options' database and init SQL again. The query
    /// timeout set with [`set_query_timeout`](Self::set_query_timeout) is cleared.
    ///
    /// A database cannot be unselected: if the options name none and the session
    /// selected one, this fails and the caller must discard the connection.
    pub(crate) async fn reset_session(&mut self) -> Result<()> {
        self.query_timeout = None;
        self.reset_connection().await?;
        let want = self.opts.db_name().map(str::to_owned);
        let have = self.raw.current_db();
        if have != want {
            match want {
                Some(db) => self.select_db(&db).await?,
                None => {
                    return Err(Error::new(
                        ErrorKind::Client,
                        "the session selected a database and the options name none: it cannot be unselected",
                    )
                    .with_fatal(false))
                }
            }
        }
        for sql in self.opts.init_sql().to_vec() {
            self.query_drop(&sql).await?;
        }
        Ok(())
    }

    /// Begin a transaction. The returned guard rolls back if it is dropped without
    /// [`Transaction::commit`] (the `ROLLBACK` runs before this connection's next
    /// command, since `Drop` cannot wait). [`Transaction::begin`] nests a savepoint.
    pub async fn begin(&mut self) -> Result<Transaction<'_>> {
        // The guard exists before the statement is sent: if this future is dropped
        // from here on, the transaction that START TRANSACTION may open is rolled
        // back before the next command instead of silently staying open.
        let tx = Transaction {
            conn: self,
            savepoint: 0,
            depth: 0,
            done: false,
        };
        tx.conn.query_drop("START TRANSACTION").await?;
        Ok(tx)
    }

    /// Close politely (`COM_QUIT`), without blocking, within the options'
    /// `cancel_timeout`. It never waits for unfinished work: a connection with a
    /// command in flight, unread rows or a pending rollback is closed as `drop` does
    /// (the socket is shut down at once and the server rolls back what was open).
    /// Dropping also closes, without waiting for the goodbye to be written.
    pub async fn close(mut self) -> Result<()> {
        if self.raw.phase() == Phase::Broken || self.has_pending_work() || !self.nonblocking {
            return Ok(()); // Drop closes.
        }
        let budget = self.opts.cancel_timeout();
        // Past the bound, Drop unwinds the unfinished goodbye and closes.
        tokio::time::timeout(budget, self.say_goodbye())
            .await
            .unwrap_or(Ok(()))
    }

    async fn say_goodbye(&mut self) -> Result<()> {
        // Deregister first: mysql_close_start closes the socket when it finishes.
        self.io = None;
        let step = nonblock::start(&mut self.raw, Start::Close)?;
        if let Step::Done(_) = step {
            self.raw.mark_freed_by_library();
            return Ok(());
        }
        // Closing rarely waits (the goodbye fits in the socket buffer); when it
        // does, finish on a fresh registration of the same socket.
        self.register()?;
        let out = self.drive_suspended().await;
        self.io = None;
        self.raw.mark_freed_by_library();
        out.map(|_| ())
    }

    /// The server's version string.
    pub fn server_version(&self) -> String {
        self.raw.server_version()
    }

    /// The server-side connection id (what `KILL` and the processlist show).
    pub fn thread_id(&self) -> u64 {
        self.raw.thread_id()
    }

    /// The TLS cipher of this connection, or `None` if it is plain text.
    pub fn tls_cipher(&self) -> Option<String> {
        self.raw.tls_cipher()
    }

    /// Whether the server reports an open transaction on this connection.
    pub fn in_transaction(&self) -> bool {
        self.raw.is_in_transaction()
    }

    /// Whether an earlier fatal error made this connection unusable.
    pub fn is_broken(&self) -> bool {
        self.raw.phase() == Phase::Broken
    }

    /// Whether a command is unfinished (its future was dropped, or a result or
    /// stream was not read to the end). The next command finishes it first.
    pub fn has_pending_work(&self) -> bool {
        self.rollback_pending.is_some()
            || self.raw.suspended().is_some()
            || !matches!(self.raw.phase(), Phase::Idle | Phase::Broken)
    }

    /// Whether a query was sent and its answer (the result header) not yet read:
    /// the server may still be running it.
    pub(crate) fn has_command_in_flight(&self) -> bool {
        self.raw.phase() == Phase::Sent
    }

    /// Finish whatever an abandoned command left behind (see [`Self::has_pending_work`]).
    pub(crate) async fn settle(&mut self) -> Result<()> {
        self.ensure_idle().await
    }

    /// A zero-round-trip liveness check of an idle connection: peek at the socket
    /// without blocking. EOF, an error, or unexpected bytes (an idle connection gets
    /// none, except a server's goodbye) mean it is unusable.
    pub fn peek_alive(&self) -> bool {
        !self.has_pending_work() && self.raw.peek_idle_socket()
    }

    /// A token that can cancel this connection's running query from elsewhere.
    pub fn cancel_token(&self) -> CancelToken {
        CancelToken::new(self.opts.clone(), self.raw.thread_id())
    }

    /// Escape `s` for use inside a single-quoted SQL string literal, using the
    /// connection's character set and SQL mode.
    ///
    /// An [`ErrorKind::Params`] error for non-ASCII text on a connection whose
    /// character set can hide a quote byte inside a multi-byte character (gbk,
    /// big5, sjis, cp932, gb18030): a Rust string is UTF-8 and cannot be escaped for
    /// those. Parameters (`exec`) work on any character set.
    pub fn escape(&self, s: &str) -> Result<String> {
        self.raw.escape(s)
    }
}

/// How far a connect got, for the error when `connect_timeout` cuts it short.
const STAGE_RESOLVING: u8 = 0;
const STAGE_HANDSHAKE: u8 = 1;
const STAGE_INIT_SQL: u8 = 2;

/// Run two futures concurrently until both are done.
async fn join2<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let (mut a, mut b) = (std::pin::pin!(a), std::pin::pin!(b));
    let (mut ra, mut rb) = (None, None);
    poll_fn(|cx| {
        if ra.is_none() {
            if let Poll::Ready(v) = a.as_mut().poll(cx) {
                ra = Some(v);
            }
        }
        if rb.is_none() {
            if let Poll::Ready(v) = b.as_mut().poll(cx) {
                rb = Some(v);
            }
        }
        match (ra.take(), rb.take()) {
            (Some(x), Some(y)) => Poll::Ready((x, y)),
            (x, y) => {
                (ra, rb) = (x, y);
                Poll::Pending
            }
        }
    })
    .await
}

/// Resolve the host on the runtime: `None` means "unix socket, no address".
async fn resolve(opts: &Opts) -> Result<Vec<Option<String>>> {
    if opts.socket().is_some() {
        return Ok(vec![None]);
    }
    let host = opts.host();
    if host.parse::<IpAddr>().is_ok() {
        return Ok(vec![Some(host.to_string())]);
    }
    if opts.ssl_mode() == SslMode::VerifyIdentity {
        // The library checks the certificate against the name it was given, so it
        // must get the name (and resolves it itself).
        return Ok(vec![Some(host.to_string())]);
    }
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, opts.port()))
        .await
        .map_err(|e| {
            Error::new(
                ErrorKind::Connect,
                format!("cannot resolve host `{host}`: {e}"),
            )
        })?
        .collect();
    let mut out: Vec<Option<String>> = Vec::new();
    for a in addrs {
        let ip = Some(a.ip().to_string());
        if !out.contains(&ip) {
            out.push(ip);
        }
    }
    Ok(out)
}

impl AsRawFd for AsyncConn {
    /// The connection's socket (read-only use: never read, write or close it).
    fn as_raw_fd(&self) -> RawFd {
        self.raw.socket_fd().as_raw_fd()
    }
}

impl AsFd for AsyncConn {
    /// The connection's socket, valid while the connection is borrowed. After the
    /// connection was lost (the library closed its socket), a stand-in that is
    /// always readable, so an event loop wakes and the next call reports the error.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.raw.socket_fd()
    }
}

impl std::fmt::Debug for AsyncConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncConn")
            .field("thread_id", &self.raw.thread_id())
            .field("nonblocking", &self.nonblocking)
            .field("opts", &self.opts)
            .finish()
    }
}

/// Rows of a query, fetched one at a time without blocking. Use [`next`](Self::next)
/// for zero-copy borrowed rows, or the [`futures_core::Stream`] impl for owned rows.
///
/// With a query timeout set ([`AsyncConn::set_query_timeout`]), each wait for a row
/// is bounded by it: past it, the stream returns an [`ErrorKind::Timeout`] error and
/// the connection is marked broken.
pub struct RowStream<'c> {
    conn: &'c mut AsyncConn,
    columns: Arc<[Column]>,
    /// The bound of each wait for a row.
    limit: Option<Duration>,
    /// Armed while a row is awaited.
    timer: Option<Pin<Box<Sleep>>>,
}

impl<'c> RowStream<'c> {
    /// The columns of the result.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// Poll for the next row, within the query timeout.
    fn poll_row(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<()>>> {
        let r = self.conn.poll_fetch(cx);
        if r.is_ready() {
            self.timer = None;
            return r;
        }
        let Some(limit) = self.limit else {
            return Poll::Pending;
        };
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        if timer.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.timer = None;
        self.conn.raw.set_phase(Phase::Broken);
        Poll::Ready(Err(Error::new(
            ErrorKind::Timeout,
            format!(
                "no row arrived within the {limit:?} query timeout; the stream was abandoned \
                 and the connection marked broken (the rest of a result cannot be skipped \
                 without reading it)"
            ),
        )))
    }

    /// The next row, borrowed from the library's buffer (valid until the next call),
    /// or `None` at the end.
    pub async fn next(&mut self) -> Option<Result<RowRef<'_>>> {
        match poll_fn(|cx| self.poll_row(cx)).await {
            Ok(Some(())) => {
                let res = self.conn.result.as_mut()?;
                let ptr = current_row(res);
                Some(Ok(RowRef::new(&self.columns, ptr)))
            }
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    }

    /// Convert every remaining row to `T` and collect them. (Named so as not to
    /// shadow `StreamExt::collect`, which collects owned `Result<Row>`s.)
    pub async fn collect_as<T: FromRow>(mut self) -> Result<Vec<T>> {
        let mut out = Vec::new();
        while let Some(r) = self.next().await {
            out.push(T::from_row_ref(&r?)?);
        }
        Ok(out)
    }
}

/// The current row of a streaming result (the one the last fetch returned).
fn current_row(res: &mut RawResult) -> crate::raw::RawRow<'_> {
    res.current_row()
        .expect("a row was just fetched from this result")
}

impl futures_core::Stream for RowStream<'_> {
    type Item = Result<Row>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        match this.poll_row(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(Some(()))) => {
                let Some(res) = this.conn.result.as_mut() else {
                    return Poll::Ready(None);
                };
                let row = current_row(res);
                Poll::Ready(Some(Ok(Row::from_raw(&this.columns, &row))))
            }
            Poll::Ready(Ok(None)) => Poll::Ready(None),
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
        }
    }
}

/// An open transaction, or a savepoint inside one (see [`begin`](Self::begin)).
///
/// It has the connection's query methods, and nothing that would end the
/// transaction behind its back (`close`, `reset_connection`, a second
/// `START TRANSACTION`, which would commit implicitly):
///
/// ```compile_fail
/// # async fn demo(conn: &mut mysqlclient_async::AsyncConn) -> mysqlclient_async::Result<()> {
/// let mut tx = conn.begin().await?;
/// tx.reset_connection().await?; // not a method of Transaction
/// # Ok(()) }
/// ```
///
/// Dropping it without [`commit`](Self::commit) or [`rollback`](Self::rollback)
/// rolls back (the `ROLLBACK` runs before the connection's next command, since
/// `Drop` cannot wait); so does dropping the future of `commit` before the server
/// has received the `COMMIT`.
pub struct Transaction<'c> {
    conn: &'c mut AsyncConn,
    /// 0 for the transaction itself; else the number of this nested level's
    /// savepoint (unique on the connection, so a rollback can never reach an older
    /// savepoint of the same name).
    savepoint: u64,
    /// Nesting level (0 for the transaction itself).
    depth: u32,
    /// Committed or rolled back: nothing to do on drop.
    done: bool,
}

fn savepoint_name(n: u64) -> String {
    format!("mysqlclient_async_sp{n}")
}

/// The statement that abandons savepoint `n` (0: the whole transaction).
fn rollback_sql(n: u64) -> String {
    if n == 0 {
        "ROLLBACK".into()
    } else {
        format!("ROLLBACK TO SAVEPOINT {}", savepoint_name(n))
    }
}

impl Transaction<'_> {
    /// Commit (for a nested level: release its savepoint, keeping its work in the
    /// enclosing transaction). If this future is dropped before the server received
    /// the statement, the transaction (or savepoint) is rolled back instead.
    pub async fn commit(mut self) -> Result<()> {
        let sql = if self.savepoint == 0 {
            "COMMIT".to_string()
        } else {
            format!("RELEASE SAVEPOINT {}", savepoint_name(self.savepoint))
        };
        self.finish(&sql).await
    }

    /// Roll back (for a nested level: to its savepoint, keeping the enclosing
    /// transaction's earlier work).
    pub async fn rollback(mut self) -> Result<()> {
        let sql = rollback_sql(self.savepoint);
        self.finish(&sql).await
    }

    async fn finish(&mut self, sql: &str) -> Result<()> {
        // `done` only once the statement is under way: dropped before that, `Drop`
        // schedules the rollback. Dropped after, the statement is in flight and the
        // connection's next command completes it.
        let r = self.conn.query_drop(sql).await;
        self.done = true;
        if r.is_err() {
            // COMMIT failed (or the connection broke): whatever is left of the
            // transaction is rolled back before the next command.
            self.conn.schedule_rollback(self.savepoint);
        }
        r
    }

    /// A nested transaction: a savepoint inside this one, with its own guard.
    /// Committing it keeps its work in this transaction; rolling it back (or
    /// dropping it) undoes only its own work.
    pub async fn begin(&mut self) -> Result<Transaction<'_>> {
        self.conn.last_savepoint += 1;
        // The guard exists before the statement is sent: if this future is dropped
        // from here on, its drop rolls back to the savepoint (a savepoint that was
        // never made is then an error that is ignored).
        let tx = Transaction {
            savepoint: self.conn.last_savepoint,
            depth: self.depth + 1,
            conn: &mut *self.conn,
            done: false,
        };
        let sql = format!("SAVEPOINT {}", savepoint_name(tx.savepoint));
        tx.conn.query_drop(&sql).await?;
        Ok(tx)
    }

    /// Nesting level: 0 for the transaction, 1 for a savepoint inside it, and so on.
    pub fn depth(&self) -> u32 {
        self.depth
    }

    /// Whether the server reports an open transaction.
    pub fn in_transaction(&self) -> bool {
        self.conn.in_transaction()
    }

    /// The server-side connection id.
    pub fn thread_id(&self) -> u64 {
        self.conn.thread_id()
    }

    /// See [`AsyncConn::query`].
    pub async fn query<T: FromRow>(&mut self, sql: &str) -> Result<Vec<T>> {
        self.conn.query(sql).await
    }
    /// See [`AsyncConn::query_one`].
    pub async fn query_one<T: FromRow>(&mut self, sql: &str) -> Result<T> {
        self.conn.query_one(sql).await
    }
    /// See [`AsyncConn::query_opt`].
    pub async fn query_opt<T: FromRow>(&mut self, sql: &str) -> Result<Option<T>> {
        self.conn.query_opt(sql).await
    }
    /// See [`AsyncConn::query_drop`].
    pub async fn query_drop(&mut self, sql: &str) -> Result<()> {
        self.conn.query_drop(sql).await
    }
    /// See [`AsyncConn::execute`].
    pub async fn execute(&mut self, sql: &str) -> Result<ExecResult> {
        self.conn.execute(sql).await
    }
    /// See [`AsyncConn::query_result`].
    pub async fn query_result(&mut self, sql: &str) -> Result<ResultSet> {
        self.conn.query_result(sql).await
    }
    /// See [`AsyncConn::query_stream`].
    pub async fn query_stream(&mut self, sql: &str) -> Result<RowStream<'_>> {
        self.conn.query_stream(sql).await
    }
    /// See [`AsyncConn::exec`].
    pub async fn exec<T: FromRow, P: crate::params::Params>(
        &mut self,
        sql: &str,
        params: P,
    ) -> Result<Vec<T>> {
        self.conn.exec(sql, params).await
    }
    /// See [`AsyncConn::exec_one`].
    pub async fn exec_one<T: FromRow, P: crate::params::Params>(
        &mut self,
        sql: &str,
        params: P,
    ) -> Result<T> {
        self.conn.exec_one(sql, params).await
    }
    /// See [`AsyncConn::exec_opt`].
    pub async fn exec_opt<T: FromRow, P: crate::params::Params>(
        &mut self,
        sql: &str,
        params: P,
    ) -> Result<Option<T>> {
        self.conn.exec_opt(sql, params).await
    }
    /// See [`AsyncConn::exec_drop`].
    pub async fn exec_drop<P: crate::params::Params>(
        &mut self,
        sql: &str,
        params: P,
    ) -> Result<()> {
        self.conn.exec_drop(sql, params).await
    }
    /// See [`AsyncConn::exec_result`].
    pub async fn exec_result<P: crate::params::Params>(
        &mut self,
        sql: &str,
        params: P,
    ) -> Result<ResultSet> {
        self.conn.exec_result(sql, params).await
    }
    /// See [`AsyncConn::exec_stream`].
    pub async fn exec_stream<P: crate::params::Params>(
        &mut self,
        sql: &str,
        params: P,
    ) -> Result<RowStream<'_>> {
        self.conn.exec_stream(sql, params).await
    }
}

impl std::fmt::Debug for Transaction<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction")
            .field("depth", &self.depth)
            .field("conn", &self.conn)
            .finish()
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.conn.schedule_rollback(self.savepoint);
        }
    }
}

impl AsyncConn {
    /// Roll back to savepoint `n` (0: the whole transaction) before the next
    /// command. An enclosing level's savepoint is older, so the smallest wins.
    fn schedule_rollback(&mut self, n: u64) {
        self.rollback_pending = Some(self.rollback_pending.map_or(n, |p| p.min(n)));
    }
}

// ----- parameters -----

/// Statements with `?` placeholders, filled in on the client (see
/// [`Params`](crate::Params) and [`ToValue`](crate::ToValue)). Each mirrors the
/// `query*` method of the same suffix. A wrong number of parameters, or a value that
/// cannot be written as SQL (NaN, infinity), is an [`ErrorKind::Params`] error and
/// nothing is sent.
///
/// ```no_run
/// # async fn demo(conn: &mut mysqlclient_async::AsyncConn) -> mysqlclient_async::Result<()> {
/// conn.exec_drop("INSERT INTO users (name) VALUES (?)", ("O'Brien",)).await?;
/// let n: i64 = conn.exec_one("SELECT COUNT(*) FROM users WHERE name = ?", ("O'Brien",)).await?;
/// # Ok(()) }
/// ```
impl AsyncConn {
    /// Bring the connection to idle (so the SQL mode in the status is current),
    /// then fill in the placeholders.
    async fn interpolate<P: crate::params::Params>(
        &mut self,
        sql: &str,
        params: P,
    ) -> Result<String> {
        self.ensure_idle().await?;
        if self.raw.status_stale() {
            // Right after a reset the session's sql_mode is unknown: learn it.
            self.execute_inner("DO 0").await?;
        }
        crate::params::interpolate::interpolate_for(&self.raw, sql, params)
    }

    /// [`query`](Self::query) with parameters: the rows of the first result set as `T`.
    pub async fn exec<T: FromRow, P: crate::params::Params>(
        &mut self,
        sql: &str,
        params: P,
    ) -> Result<Vec<T>> {
        timed!(self, async {
            let sql = self.interpolate(sql, params).await?;
            self.query_inner(&sql).await
        })
    }

    /// [`query_one`](Self::query_one) with parameters: the first row, or an
    /// [`ErrorKind::NoRows`] error if there is none.
    pub async fn exec_one<T: FromRow, P: crate::params::Params>(
        &mut self,
        sql: &str,
        params: P,
    ) -> Result<T> {
        self.exec_opt(sql, params).await?.ok_or_else(no_rows)
    }

    /// [`query_opt`](Self::query_opt) with parameters: the first row, if any.
    pub async fn exec_opt<T: FromRow, P: crate::params::Params>(
        &mut self,
        sql: &str,
        params: P,
    ) -> Result<Option<T>> {
        Ok(self.exec::<T, P>(sql, params).await?.into_iter().next())
    }

    /// [`query_drop`](Self::query_drop) with parameters: run it, discard any rows.
    pub async fn exec_drop<P: crate::params::Params>(
        &mut self,
        sql: &str,
        params: P,
    ) -> Result<()> {
        timed!(self, async {
            let sql = self.interpolate(sql, params).await?;
            self.execute_inner(&sql).await
        })
        .map(|_| ())
    }

    /// [`query_result`](Self::query_result) with parameters: the first result set
    /// with its columns and status (affected rows, last insert id, …).
    pub async fn exec_result<P: crate::params::Params>(
        &mut self,
        sql: &str,
        params: P,
    ) -> Result<ResultSet> {
        timed!(self, async {
            let sql = self.interpolate(sql, params).await?;
            self.query_result_inner(&sql).await
        })
    }

    /// [`query_stream`](Self::query_stream) with parameters: stream the rows of the
    /// first result set without buffering them.
    pub async fn exec_stream<P: crate::params::Params>(
        &mut self,
        sql: &str,
        params: P,
    ) -> Result<RowStream<'_>> {
        timed!(self, async {
            let sql = self.interpolate(sql, params).await?;
            self.start_query(&sql).await
        })?;
        self.stream()
    }
}
