//! [`AsyncConn`]: connecting, the public calls, closing.

use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::pin::Pin;
use std::time::Duration;

use tokio::time::Sleep;

use super::mux::Watch;

use super::slots;
use crate::cluster::{NodeState, Role, READ_ONLY_SESSION};
use crate::column::Column;
use crate::error::{Error, ErrorKind, Result};
use crate::opts::{IntoOpts, IoMode, Opts, SslMode};
use crate::protocol::{broken, busy, no_rows, nothing_pending};
use crate::raw::drive;
use crate::raw::op::{OpKind, Out, Start, Step, WAIT_WRITE};
use crate::raw::{ConnectParams, Phase, RawConn, RawResult};
use crate::row::{ExecResult, FromRow, ResultSet, Row};
use crate::statement::StatementLike;
use crate::types::Value;
use std::sync::Arc;

/// An asynchronous connection for tokio (multi-thread or current-thread runtime).
/// `Send`, not `Sync`; its futures are `Send`. Dropping it closes the connection
/// (without waiting; [`close`](Self::close) says goodbye politely). Same method
/// names as the blocking [`Conn`](crate::Conn).
///
/// ```no_run
/// # async fn demo() -> mysqlclient_async::Result<()> {
/// use mysqlclient_async::AsyncConn;
///
/// let mut conn = AsyncConn::connect("mysql://root@127.0.0.1:3306/test").await?;
/// let (a, b): (i64, String) = conn.query_one("SELECT 1, 'one'").await?;
/// assert_eq!((a, b.as_str()), (1, "one"));
/// conn.close().await?;
/// # Ok(()) }
/// ```
///
/// With a client library that has a non-blocking API ([`IoMode::NonBlocking`], the
/// default: MariaDB Connector/C's `_start`/`_cont`, Oracle libmysqlclient's
/// `_nonblocking`) every step runs through it and waits on the socket through
/// tokio's `AsyncFd`: DNS (resolved on the runtime), TCP connect, authentication,
/// TLS, sending, the result header, every row, ping, close. Nothing blocks the
/// thread (the README's platform table lists the exceptions per library).
/// [`IoMode::ReadableThenRead`] is the portable 2011 technique instead, and the
/// only path where the library has no such API ([`crate::backend`]).
///
/// **Cancel safety.** Dropping any future of this type at any point is safe: the
/// connection remembers the unfinished command and, before its next command, finishes
/// it and discards its result without blocking, or reports itself broken
/// ([`ErrorKind::Broken`]). A later caller never reads an earlier query's rows.
///
/// **Timeouts and cancellation.** [`set_query_timeout`](Self::set_query_timeout)
/// bounds every later call as a whole; [`cancel_token`](Self::cancel_token) gives
/// a [`CancelToken`](crate::CancelToken) that kills the running query from
/// elsewhere.
///
/// A connection is bound to the runtime that created it (its socket is registered
/// with that runtime's reactor).
pub struct AsyncConn {
    // Field order is drop order: deregister from the reactor, then free the result,
    // then close the handle, then free the buffers a suspended operation may use.
    pub(super) io: Option<Watch>,
    pub(super) result: Option<RawResult>,
    pub(super) raw: RawConn,
    /// The query text of an in-flight `send_query` (must outlive the operation).
    pub(super) query_buf: Vec<u8>,
    /// Strings an in-flight connect reads.
    pub(super) params: Option<Box<ConnectParams>>,
    /// NUL-terminated database name of an in-flight `select_db`.
    pub(super) db_buf: Option<std::ffi::CString>,
    pub(super) timer: Option<Pin<Box<Sleep>>>,
    pub(super) opts: Opts,
    pub(super) nonblocking: bool,
    pub(super) query_timeout: Option<Duration>,
    /// The current call's own statement has been (or is being) sent: a timeout
    /// concerns it, not only earlier abandoned work.
    pub(super) call_sent: bool,
    /// A `Transaction` was dropped without commit or rollback: roll back first, to
    /// this savepoint (0: the whole transaction).
    pub(super) rollback_pending: Option<u64>,
    /// Savepoints of nested transactions are numbered, never reused.
    pub(super) last_savepoint: u64,
    /// Where the caller stands in the `send_query` / `read_query_result` /
    /// `next_result` sequence.
    pub(super) split: Split,
    /// A query was just sent on an idle connection: its answer cannot be in the
    /// library's buffers yet, so reading it starts by waiting for the socket.
    pub(super) fresh_send: bool,
    /// The server's `max_allowed_packet`, once asked (`exec_batch`).
    pub(super) max_packet: Option<u64>,
    /// The pool enabled `session_track_state_change` on this session.
    pub(crate) session_tracked: bool,
    /// The server's role and health when last checked (routed connections).
    pub(super) node: Option<NodeState>,
    /// Prepared statements. After `raw`: dropped after the handle is closed, when
    /// the library has detached them and closing them only frees memory.
    pub(super) stmts: crate::statement::StmtCache,
}

/// The caller's progress through `send_query` → `read_query_result` →
/// `next_result`. Kept apart from the protocol phase: a result left behind by a
/// dropped `query()` is never handed to `read_query_result`, but one left by a
/// dropped `read_query_result` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Split {
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
        if let Some((kind, _)) = self.raw.suspended() {
            let res = self
                .result
                .as_ref()
                .map_or(std::ptr::null_mut(), |r| r.as_ptr());
            drive::abort(&mut self.raw, res);
            if kind == OpKind::StmtClose {
                // Finished by the abort (the library freed it) or not; either
                // way it must not be closed again.
                if let Some(mut s) = self.stmts.closing.take() {
                    s.mark_freed();
                }
            }
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

/// The options the library gets on the portable path, whose reads and writes
/// block (the connect on the blocking pool, rows once the first byte of a result
/// arrived): a read or write timeout the user left unset is the connect timeout,
/// so that a server that stalls mid-answer cannot hold them for good.
fn blocking_path_opts(opts: &Opts) -> Opts {
    let bound = opts.connect_timeout();
    opts.to_builder()
        .read_timeout(opts.read_timeout().or(bound))
        .write_timeout(opts.write_timeout().or(bound))
        .build()
}

pub(super) fn config(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::Config, msg).with_fatal(false)
}

impl AsyncConn {
    /// Connect. Accepts a URL (`"mysql://…"`), an [`Opts`], or `&Opts`.
    ///
    /// The host name is resolved on the runtime (`tokio::net::lookup_host`); each
    /// address is tried in turn. The init SQL of the options runs afterwards.
    ///
    /// At most `max_concurrent_connects` connects (default 64) to one server run
    /// at once in this process; this one first waits its turn, first come, first
    /// served. From its turn on, the options' `connect_timeout` (default 10 s)
    /// bounds the rest: name resolution, the TCP connect, TLS, authentication and
    /// the init SQL. The wait for the turn gives up (an [`ErrorKind::Connect`]
    /// error naming the queue) once it has lasted a connect timeout and no connect
    /// to that server has succeeded for as long. A timeout's message says where the
    /// handshake stood: no answer to the SYN, or no greeting or authentication
    /// reply.
    ///
    /// With several hosts or a [`Target`](crate::Target) other than `Any`, the
    /// hosts are tried in turn until one of the right role and health answers (see
    /// [`OptsBuilder::add_host`](crate::OptsBuilder::add_host)); each attempt is
    /// bounded as above.
    pub async fn connect(opts: impl IntoOpts) -> Result<AsyncConn> {
        let opts = opts.into_opts()?;
        // On the heap: a connect runs once per connection, and its state (the
        // handshake, the init SQL, the node check) would otherwise sit inside
        // every future that may connect, such as a pool's checkout.
        if opts.is_routed() {
            return Box::pin(Self::connect_routed(opts)).await;
        }
        Box::pin(Self::connect_one_host(opts)).await
    }

    /// Connect to the one host the options name (see [`connect`](Self::connect)).
    pub(crate) async fn connect_one_host(opts: Opts) -> Result<AsyncConn> {
        // Wait for a turn first: the connect timeout starts with the handshake.
        let queue = slots::Queue::of(&opts);
        let _turn = match &queue {
            None => None,
            Some(q) => match q.turn(opts.connect_timeout()).await {
                Some(turn) => Some(turn),
                None => {
                    return Err(Error::new(
                        ErrorKind::Connect,
                        format!(
                            "connecting to {}: no turn to connect within {:?} (connect_timeout), \
                             and no connect to this server succeeded in that time: {} connects \
                             were in flight, the most this process runs at once to one server \
                             (max_concurrent_connects); the server answers none of them",
                            slots::target(&opts),
                            opts.connect_timeout().unwrap_or_default(),
                            q.in_flight().max(q.limit()),
                        ),
                    ))
                }
            },
        };
        let stage = std::sync::atomic::AtomicU8::new(STAGE_RESOLVING);
        let succeeded = |r: Result<AsyncConn>| {
            if let (Ok(_), Some(q)) = (&r, &queue) {
                q.succeeded();
            }
            r
        };
        let Some(limit) = opts.connect_timeout() else {
            return succeeded(Self::connect_staged(opts, &stage).await);
        };
        match tokio::time::timeout(limit, Self::connect_staged(opts.clone(), &stage)).await {
            Ok(r) => succeeded(r),
            Err(_) => {
                let at = match stage.load(std::sync::atomic::Ordering::Relaxed) {
                    STAGE_RESOLVING => "while resolving the host name",
                    STAGE_HANDSHAKE => {
                        "before the TCP connection and the server's greeting and \
                         authentication completed"
                    }
                    STAGE_TCP => {
                        "before the server accepted the TCP connection (no answer to the \
                         SYN: the host is unreachable, or the server's listen queue, \
                         back_log, is full)"
                    }
                    STAGE_GREETING => {
                        "after the TCP connection was made, waiting for the server's \
                         greeting or authentication reply (the server is overloaded, or \
                         has not accepted the connection yet: its accept queue, back_log, \
                         may be full)"
                    }
                    _ => "while running the init SQL",
                };
                Err(Error::new(
                    ErrorKind::Connect,
                    format!(
                        "connecting to {} timed out after {limit:?} (connect_timeout), {at}",
                        slots::target(&opts)
                    ),
                ))
            }
        }
    }

    pub(super) async fn connect_staged(
        opts: Opts,
        stage: &std::sync::atomic::AtomicU8,
    ) -> Result<AsyncConn> {
        use std::sync::atomic::Ordering::Relaxed;
        let nonblocking = drive::NONBLOCKING && opts.io_mode() == IoMode::NonBlocking;
        let addrs = resolve(&opts).await?;
        stage.store(STAGE_HANDSHAKE, Relaxed);
        let mut last_err = None;
        for addr in addrs {
            let mut attempt = Self::connect_one(&opts, addr.as_deref(), nonblocking, stage).await;
            if let Err(e) = &attempt {
                if let Some(plain) = opts.plain_text_fallback(e) {
                    attempt = Self::connect_one(&plain, addr.as_deref(), nonblocking, stage).await;
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
                    conn.start_gtid_tracking().await?;
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

    pub(super) async fn connect_one(
        opts: &Opts,
        host: Option<&str>,
        nonblocking: bool,
        stage: &std::sync::atomic::AtomicU8,
    ) -> Result<AsyncConn> {
        let mut raw = RawConn::new()?;
        if nonblocking {
            raw.apply_options(opts, true)?;
        } else {
            raw.apply_options(&blocking_path_opts(opts), false)?;
        }
        let params = Box::new(ConnectParams::new(opts, host)?);
        let tls_possible = opts.ssl_mode() != SslMode::Disabled;
        let (raw, params) = if !nonblocking || (tls_possible && drive::TLS_CONNECT_BLOCKS) {
            // A blocking connect runs on tokio's blocking pool, so the event loop
            // never waits on it: on the portable path (the library cannot connect
            // without blocking), and with Connector/C 3.3, which runs the TLS
            // handshake with blocking waits (and loads the system trust store when
            // no CA is given; everything after the handshake is non-blocking again).
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
            max_packet: None,
            session_tracked: false,
            node: None,
            stmts: crate::statement::StmtCache::new(opts.stmt_cache_size()),
        };
        // Still to connect: the non-blocking path (the others connected above).
        if let Some(params) = conn.params.as_deref() {
            // Only a multi-thread runtime can resume the connect on another
            // thread (see `raw/mariadb.rs`); on a current-thread one
            // the hop to the connect-start thread is not needed.
            let may_move = tokio::runtime::Handle::current().runtime_flavor()
                != tokio::runtime::RuntimeFlavor::CurrentThread;
            let step = drive::start_connect(&mut conn.raw, params, may_move)?;
            // Which wait the handshake is in, for the error if it times out: the
            // library waits for writability only while the TCP connect is pending.
            let on_wait = |bits: i32| {
                let at = if bits & WAIT_WRITE != 0 {
                    STAGE_TCP
                } else {
                    STAGE_GREETING
                };
                stage.store(at, std::sync::atomic::Ordering::Relaxed);
            };
            match conn.drive_observed(step, on_wait).await? {
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
        }
        conn.raw.set_connected();
        conn.raw.check_tls(opts)?;
        if nonblocking && drive::TLS_CONNECT_BLOCKS && conn.raw.tls_cipher().is_some() {
            // The 3.3 handshake leaves the socket in blocking mode, and OpenSSL would
            // then block in read(); the library's TLS reads yield once it is
            // non-blocking again.
            conn.raw.set_socket_nonblocking()?;
        }
        conn.params = None;
        conn.register()?;
        Ok(conn)
    }

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

    pub(super) async fn query_inner<T: FromRow>(&mut self, sql: &str) -> Result<Vec<T>> {
        self.start_query(sql).await?;
        let (_, rows, _) = self.store_all::<T>().await?;
        self.finish_results().await?;
        Ok(rows)
    }

    /// Run `sql` and return the first result set with its columns and status.
    pub async fn query_result(&mut self, sql: &str) -> Result<ResultSet> {
        timed!(self, self.query_result_inner(sql))
    }

    pub(super) async fn query_result_inner(&mut self, sql: &str) -> Result<ResultSet> {
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

    pub(super) async fn query_multi_inner(&mut self, sql: &str) -> Result<Vec<ResultSet>> {
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

    /// Run `sql`, discard any rows, and return what the (last) statement reported:
    /// affected rows, last insert id, warnings, info.
    pub async fn query_drop(&mut self, sql: &str) -> Result<ExecResult> {
        timed!(self, self.execute_inner(sql))
    }

    /// The same as [`query_drop`](Self::query_drop), under the name sqlx uses.
    pub async fn execute(&mut self, sql: &str) -> Result<ExecResult> {
        self.query_drop(sql).await
    }

    pub(super) async fn execute_inner(&mut self, sql: &str) -> Result<ExecResult> {
        self.start_query(sql).await?;
        self.finish_results().await
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

    pub(super) async fn send_query_inner(&mut self, sql: &str) -> Result<()> {
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

    pub(super) async fn read_query_result_inner(&mut self) -> Result<ResultSet> {
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
            // (A statement's results were drained by send_query.)
            Phase::ResultPending
            | Phase::MoreResults
            | Phase::Idle
            | Phase::StmtRows
            | Phase::StmtMore
            | Phase::StmtStale => {}
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

    pub(super) async fn next_result_inner(&mut self) -> Result<Option<ResultSet>> {
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
            Phase::Sent
            | Phase::MoreResults
            | Phase::Idle
            | Phase::StmtRows
            | Phase::StmtMore
            | Phase::StmtStale => {}
        }
        let (columns, rows, status) = self.store_all::<Row>().await?;
        Ok(Some(ResultSet {
            columns,
            rows,
            status,
        }))
    }

    /// Check that the server is alive, without blocking: `COM_PING`, or where
    /// the client library cannot send one without blocking (Oracle's client, the
    /// portable path) a round trip of `DO 0`.
    pub async fn ping(&mut self) -> Result<()> {
        timed!(self, self.ping_inner())
    }

    pub(super) async fn ping_inner(&mut self) -> Result<()> {
        self.ensure_idle().await?;
        self.call_sent = true;
        if self.nonblocking {
            let out = self.run(Start::Ping).await?;
            self.check_int(out)
        } else {
            // The portable path has no way to wait for a `COM_PING` answer before
            // reading it; a round trip of `DO 0` proves the same, and its answer is
            // awaited on the reactor like any query's.
            self.execute_inner("DO 0").await.map(|_| ())
        }
    }

    /// Change the default database.
    pub async fn select_db(&mut self, db: &str) -> Result<()> {
        timed!(self, self.select_db_inner(db))
    }

    pub(super) async fn select_db_inner(&mut self, db: &str) -> Result<()> {
        self.ensure_idle().await?;
        self.call_sent = true;
        if self.nonblocking {
            let c = std::ffi::CString::new(db)
                .map_err(|_| config("database name contains a NUL byte"))?;
            if drive::SELECT_DB_BY_STATEMENT && !db.is_ascii() {
                // The name goes into a `USE` statement (see `raw/oracle.rs`).
                let charset = self.raw.charset_name();
                if crate::params::lexer::is_ascii_unsafe(&charset) {
                    return Err(Error::new(
                        ErrorKind::Params,
                        format!(
                            "cannot select a non-ASCII database name on a connection whose \
                             character set is {charset}: use utf8mb4"
                        ),
                    )
                    .with_fatal(false));
                }
            }
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

    pub(super) async fn reset_connection_inner(&mut self) -> Result<()> {
        if self.nonblocking && !drive::RESET_NONBLOCKING {
            return Err(Error::new(
                ErrorKind::Client,
                "reset_connection: this Oracle client (before 8.4) has no non-blocking reset; \
                 open a new connection instead (a pool does so by itself)",
            )
            .with_fatal(false));
        }
        self.ensure_idle().await?;
        // The reset drops every prepared statement on the server.
        self.stmts.clear();
        self.close_statements().await?;
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
    ///
    /// The server keeps the active role across the reset: when a statement may
    /// have changed it (`SET ROLE`), `login_role` (the role a new session starts
    /// with) is set again. With `track`, session-state tracking is switched on
    /// again (see [`track_session_state`](Self::track_session_state)).
    pub(crate) async fn reset_session(
        &mut self,
        login_role: Option<&str>,
        track: bool,
    ) -> Result<()> {
        self.query_timeout = None;
        let role_changed = self.raw.role_changed();
        self.reset_connection().await.map_err(Error::at_reset)?;
        if drive::BACKEND_NAME == "oracle" {
            // Oracle's client announces its character set by a collation number
            // MariaDB may not know (255, utf8mb4_0900_ai_ci); after the reset the
            // server goes back to what it made of that number, which is not always
            // the connection's character set: name it again.
            let cs = self.opts.charset().to_string();
            if cs.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                self.query_drop(&format!("SET NAMES {cs}")).await?;
            }
        }
        if role_changed {
            let sql = match login_role {
                Some(r) => format!("SET ROLE `{}`", r.replace('`', "``")),
                None => "SET ROLE NONE".to_string(),
            };
            self.query_drop(&sql).await?;
        }
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
        // The reset undid the session's read-only mode and GTID tracking.
        self.start_gtid_tracking().await?;
        if self.node.is_some_and(|n| n.role == Role::Replica) {
            self.query_drop(READ_ONLY_SESSION).await?;
        }
        if track {
            self.track_session_state().await;
        }
        Ok(())
    }

    /// Ask the server to flag every reply after which the session state differs
    /// (`session_track_state_change`, MariaDB 10.2+ and MySQL 5.7+), so that a pool
    /// resets a returned connection only when its borrower changed the session.
    /// Without it (an older server) every return resets.
    pub(crate) async fn track_session_state(&mut self) {
        self.session_tracked = self
            .query_drop("SET SESSION session_track_state_change = ON")
            .await
            .is_ok();
        self.raw.watch_untracked();
        self.raw.clear_session_changed();
    }

    /// Scan every later query text for session changes the server does not
    /// report (`SET ROLE` among them, which a reset does not undo): a pool's
    /// connections do, whatever the reset policy.
    pub(crate) fn watch_untracked(&mut self) {
        self.raw.watch_untracked();
    }

    /// Whether the session is as the pool left it: tracked, no reply flagged a
    /// change (and no error left it unknown), no transaction, nothing in flight.
    pub(crate) fn session_unchanged(&self) -> bool {
        self.session_tracked
            && !self.raw.session_changed()
            && !self.in_transaction()
            && !self.has_pending_work()
    }

    /// Whether the connection saw an error that says its server is not what it
    /// was chosen for (1047, 1290, 1792, 1836: a Galera node not ready, a
    /// read-only server): a pool discards it.
    pub(crate) fn node_unfit(&self) -> bool {
        self.raw.node_unfit()
    }

    /// Ask the server to report the GTID of each write in its OK packet
    /// (`last_gtid` in `session_track_system_variables`, beside what is tracked
    /// already).
    ///
    /// Only with `track_gtid`; a server that refuses (MySQL, MariaDB before 10.3)
    /// fails the connect only when tracking was asked for explicitly.
    pub(crate) async fn start_gtid_tracking(&mut self) -> Result<()> {
        if !self.opts.track_gtid() {
            return Ok(());
        }
        let r = self.query_drop(crate::cluster::TRACK_GTID_SQL).await;
        match r {
            Ok(_) => {
                self.raw.set_track_gtid(true);
                Ok(())
            }
            Err(e) if e.is_fatal() || self.opts.track_gtid_required() => {
                Err(e.context("turning on GTID tracking (track_gtid) failed"))
            }
            Err(e) => {
                tracing::debug!(target: "mysqlclient_async::cluster", error = %e, "the server cannot report GTIDs");
                Ok(())
            }
        }
    }

    /// The GTID of the last write this session committed, as the server reported
    /// it (with [`OptsBuilder::track_gtid`](crate::OptsBuilder::track_gtid);
    /// otherwise `None`). A replica has that write once it has applied this
    /// position: see [`wait_for_gtid`](Self::wait_for_gtid) and
    /// [`Pool::get_caught_up`](crate::Pool::get_caught_up).
    pub fn last_gtid(&self) -> Option<&str> {
        self.raw.last_gtid()
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

    pub(super) async fn say_goodbye(&mut self) -> Result<()> {
        // Deregister first: mysql_close_start closes the socket when it finishes.
        self.io = None;
        let step = drive::start(&mut self.raw, Start::Close)?;
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

    /// The server's version as a number, e.g. `101119`.
    pub fn server_version_number(&self) -> u64 {
        self.raw.server_version_number()
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
pub(super) const STAGE_RESOLVING: u8 = 0;
pub(super) const STAGE_HANDSHAKE: u8 = 1;
pub(super) const STAGE_INIT_SQL: u8 = 2;
/// Non-blocking handshakes only: the TCP connect is pending.
pub(super) const STAGE_TCP: u8 = 3;
/// Non-blocking handshakes only: connected, waiting for the greeting or the
/// authentication reply.
pub(super) const STAGE_GREETING: u8 = 4;

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

/// Statements with `?` placeholders and their parameters. Each mirrors the
/// `query*` method of the same suffix, and takes SQL text or a
/// [`Statement`](crate::Statement) from [`prepare`](AsyncConn::prepare).
///
/// By default they use **server-side prepared statements** over the binary
/// protocol: the text is prepared once per connection (then taken from the
/// connection's statement cache, see
/// [`OptsBuilder::stmt_cache_size`](crate::OptsBuilder::stmt_cache_size)), and the
/// values travel apart from the SQL, so no value can ever be read as SQL. Where
/// that is not possible without blocking (a client library without non-blocking
/// statement calls, the portable I/O path), on a connection whose character set
/// is not UTF-8, or when the options ask for it
/// ([`OptsBuilder::client_side_params`](crate::OptsBuilder::client_side_params)),
/// the values are written into the text on the client instead (see
/// [`Params`](crate::Params)). Values read back are the same either way.
///
/// A wrong number of parameters, or a value that cannot be sent (NaN, infinity),
/// is an [`ErrorKind::Params`] error and nothing is sent.
///
/// ```no_run
/// # async fn demo(conn: &mut mysqlclient_async::AsyncConn) -> mysqlclient_async::Result<()> {
/// conn.exec_drop("INSERT INTO users (name) VALUES (?)", ("O'Brien",)).await?;
/// let n: i64 = conn.exec_one("SELECT COUNT(*) FROM users WHERE name = ?", ("O'Brien",)).await?;
/// let by_id = conn.prepare("SELECT name FROM users WHERE id = ?").await?;
/// let name: Option<String> = conn.exec_opt(&by_id, (1,)).await?;
/// # Ok(()) }
/// ```
impl AsyncConn {
    /// Bring the connection to idle (so the SQL mode in the status is current),
    /// then fill in the placeholders.
    pub(super) async fn interpolate<P: crate::params::Params>(
        &mut self,
        sql: &str,
        params: P,
    ) -> Result<String> {
        self.ensure_idle().await?;
        if self.raw.status_stale() {
            // Right after a reset the session's sql_mode is unknown: learn it.
            self.execute_inner("DO 0").await?;
        }
        crate::params::interpolate::interpolate_for(&mut self.raw, sql, params)
    }

    /// Run with parameters and collect the first result set; later results are
    /// read and discarded (keeping the first error).
    async fn exec_collect<T: FromRow, P: crate::params::Params>(
        &mut self,
        sql: &str,
        params: P,
    ) -> Result<(Arc<[Column]>, Vec<T>, ExecResult)> {
        if self.server_side_params() {
            self.stmt_run(sql, params.into_values()).await?;
            let collected = self.stmt_collect::<T>().await;
            let finished = self.stmt_finish().await;
            let (columns, rows, status) = collected?;
            finished?;
            Ok((columns, rows, status))
        } else {
            let sql = self.interpolate(sql, params).await?;
            self.start_query(&sql).await?;
            let collected = self.store_all::<T>().await?;
            self.finish_results().await?;
            Ok(collected)
        }
    }

    /// [`query`](Self::query) with parameters: the rows of the first result set as `T`.
    pub async fn exec<T: FromRow, P: crate::params::Params>(
        &mut self,
        stmt: &(impl StatementLike + ?Sized),
        params: P,
    ) -> Result<Vec<T>> {
        timed!(self, self.exec_collect::<T, P>(stmt.sql_text(), params)).map(|(_, rows, _)| rows)
    }

    /// [`query_one`](Self::query_one) with parameters: the first row, or an
    /// [`ErrorKind::NoRows`] error if there is none.
    pub async fn exec_one<T: FromRow, P: crate::params::Params>(
        &mut self,
        stmt: &(impl StatementLike + ?Sized),
        params: P,
    ) -> Result<T> {
        self.exec_opt(stmt, params).await?.ok_or_else(no_rows)
    }

    /// [`query_opt`](Self::query_opt) with parameters: the first row, if any.
    pub async fn exec_opt<T: FromRow, P: crate::params::Params>(
        &mut self,
        stmt: &(impl StatementLike + ?Sized),
        params: P,
    ) -> Result<Option<T>> {
        Ok(self.exec::<T, P>(stmt, params).await?.into_iter().next())
    }

    /// [`query_drop`](Self::query_drop) with parameters: run it, discard any rows,
    /// and return what the (last) statement reported.
    pub async fn exec_drop<P: crate::params::Params>(
        &mut self,
        stmt: &(impl StatementLike + ?Sized),
        params: P,
    ) -> Result<ExecResult> {
        timed!(self, async {
            if self.server_side_params() {
                self.stmt_run(stmt.sql_text(), params.into_values()).await?;
                self.stmt_finish().await
            } else {
                let sql = self.interpolate(stmt.sql_text(), params).await?;
                self.execute_inner(&sql).await
            }
        })
    }

    /// [`query_result`](Self::query_result) with parameters: the first result set
    /// with its columns and status (affected rows, last insert id, …).
    pub async fn exec_result<P: crate::params::Params>(
        &mut self,
        stmt: &(impl StatementLike + ?Sized),
        params: P,
    ) -> Result<ResultSet> {
        timed!(self, self.exec_collect::<Row, P>(stmt.sql_text(), params)).map(
            |(columns, rows, status)| ResultSet {
                columns,
                rows,
                status,
            },
        )
    }

    /// Run one statement for each set of parameters, and report the total of
    /// affected rows and the first generated id (`last_insert_id`).
    ///
    /// On server-side statements against MariaDB 10.2 or later this sends
    /// MariaDB's bulk command (array binding, `COM_STMT_BULK_EXECUTE`): many rows
    /// per round trip, in chunks below the server's `max_allowed_packet`. Every
    /// value of one parameter must then have the same type (or be NULL). Elsewhere
    /// (other servers, statements without parameters, client-side parameters) it
    /// executes once per row. An error names the failed rows and how many rows
    /// before them were executed.
    ///
    /// ```no_run
    /// # async fn demo(conn: &mut mysqlclient_async::AsyncConn) -> mysqlclient_async::Result<()> {
    /// let rows = (0..1000).map(|i| (i, format!("user {i}")));
    /// let r = conn.exec_batch("INSERT INTO users (id, name) VALUES (?, ?)", rows).await?;
    /// assert_eq!(r.affected_rows, 1000);
    /// # Ok(()) }
    /// ```
    pub async fn exec_batch<I>(
        &mut self,
        stmt: &(impl StatementLike + ?Sized),
        params: I,
    ) -> Result<ExecResult>
    where
        I: IntoIterator,
        I::Item: crate::params::Params,
    {
        use crate::params::Params as _;
        let rows: Vec<Vec<Value>> = params.into_iter().map(|p| p.into_values()).collect();
        timed!(self, async {
            if self.server_side_params() {
                return self.stmt_batch(stmt.sql_text(), rows).await;
            }
            let mut total = crate::statement::BatchTotal::default();
            for (i, row) in rows.into_iter().enumerate() {
                let r = match self.interpolate(stmt.sql_text(), row).await {
                    Ok(sql) => self.execute_inner(&sql).await,
                    Err(e) => Err(e),
                };
                match r {
                    Ok(r) => total.add(&r),
                    Err(e) => return Err(crate::statement::batch_error(e, i, 1, total.affected())),
                }
            }
            Ok(total.finish())
        })
    }
}
