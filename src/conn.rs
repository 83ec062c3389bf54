//! The blocking connection (documented on [`Conn`]).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::Arc;

use crate::column::Column;
use crate::error::Result;
use crate::opts::{IntoOpts, Opts};
use crate::protocol::{
    self, broken, busy, empty_columns, no_rows, nothing_pending, status_of, stmt_status_of, Step,
};
use crate::raw::stmt::{long_chunks, RawStmt, FETCH_END, FETCH_ROW, FETCH_TRUNCATED};
use crate::raw::{ConnectParams, Phase, RawConn, RawResult};
use crate::row::{ExecResult, FromRow, ResultSet, Row, RowRef};
use crate::statement::{batch_error, check_batch_rows, chunk_len, needs_reprepare, BatchTotal};
use crate::statement::{Statement, StatementLike, StmtCache};
use crate::types::Value;

/// A blocking connection. `Send` (move it to another thread freely) but not `Sync`.
/// Dropping it closes the connection.
///
/// It has the query methods of [`AsyncConn`](crate::AsyncConn), blocking, and the
/// two steps of the 2011 Chartio technique: [`send_query`](Self::send_query) and
/// [`read_query_result`](Self::read_query_result), with the socket exposed through
/// [`AsRawFd`]/[`AsFd`].
///
/// ```no_run
/// use mysqlclient_async::Conn;
/// use std::os::fd::AsRawFd;
///
/// let mut conn = Conn::connect("mysql://root@127.0.0.1:3306/test")?;
/// let n: i64 = conn.query_one("SELECT 40 + 2")?;
/// assert_eq!(n, 42);
///
/// // The Chartio split: send, let an event loop watch the fd, read when readable.
/// conn.send_query("SELECT SLEEP(1)")?;
/// let fd = conn.as_raw_fd(); // register with epoll/mio/… for READABLE
/// # let _ = fd;
/// let result = conn.read_query_result()?;
/// assert_eq!(result.rows.len(), 1);
/// # Ok::<(), mysqlclient_async::Error>(())
/// ```
///
/// # With mio
///
/// `Conn` is a [`mio::event::Source`]. After [`send_query`](Self::send_query),
/// register the connection for [`Interest::READABLE`](mio::Interest::READABLE);
/// when the event arrives, the server has answered and
/// [`read_query_result`](Self::read_query_result) returns without waiting for the
/// query to run. `examples/mio_loop.rs` runs many `SELECT SLEEP(1)` this way.
///
/// ```no_run
/// use mio::{Events, Interest, Poll, Token};
/// use mysqlclient_async::Conn;
///
/// let mut conn = Conn::connect("mysql://root@127.0.0.1:3306/test")?;
/// let mut poll = Poll::new()?;
/// conn.send_query("SELECT SLEEP(1)")?;
/// poll.registry().register(&mut conn, Token(0), Interest::READABLE)?;
/// let mut events = Events::with_capacity(8);
/// poll.poll(&mut events, None)?; // wakes when the server answers
/// let result = conn.read_query_result()?;
/// # let _ = result;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// When the connection is lost, the library closes its socket and the connection
/// stands in an always-readable descriptor (see [`AsFd`] for `Conn`): registering
/// it wakes the poll at once, and the next call reports the error.
pub struct Conn {
    /// The result a [`RowIter`](crate::RowIter) reads one row at a time. Before
    /// `raw`: a result is freed before its connection.
    unread: Option<RawResult>,
    raw: RawConn,
    opts: Opts,
    /// Prepared statements. After `raw`: dropped after the handle is closed, when
    /// the library has detached them and closing them only frees memory.
    stmts: StmtCache,
    /// The server's `max_allowed_packet`, once asked (`exec_batch`).
    max_packet: Option<u64>,
    /// The number of the last savepoint made on this connection (nested
    /// transactions), so that each savepoint name is unique on it.
    last_savepoint: u64,
}

impl Conn {
    /// Connect (blocking). Accepts a URL (`"mysql://…"`), an [`Opts`], or `&Opts`.
    /// Runs the options' init SQL afterwards.
    ///
    /// One host only: a host list or a [`Target`](crate::Target) other than `Any`
    /// is an [`ErrorKind::Config`](crate::ErrorKind::Config) error (they are
    /// for [`AsyncConn`](crate::AsyncConn) and [`Pool`](crate::Pool)).
    pub fn connect(opts: impl IntoOpts) -> Result<Conn> {
        let opts = opts.into_opts()?;
        if opts.is_routed() {
            return Err(crate::error::Error::new(
                crate::error::ErrorKind::Config,
                "the blocking Conn connects to one host: a host list or a target role \
                 (target=primary, …) needs AsyncConn or Pool",
            )
            .with_fatal(false));
        }
        let raw = match Self::connect_raw(&opts) {
            Err(e) => match opts.plain_text_fallback(&e) {
                Some(plain) => Self::connect_raw(&plain)?,
                None => return Err(e),
            },
            ok => ok?,
        };
        let stmts = StmtCache::new(opts.stmt_cache_size());
        let mut conn = Conn {
            unread: None,
            raw,
            opts,
            stmts,
            max_packet: None,
            last_savepoint: 0,
        };
        for sql in conn.opts.init_sql().to_vec() {
            conn.query_drop(&sql)
                .map_err(|e| e.context(format_args!("init SQL `{sql}` failed")))?;
        }
        if conn.opts.track_gtid() {
            conn.query_drop(crate::cluster::TRACK_GTID_SQL)
                .map_err(|e| e.context("turning on GTID tracking (track_gtid) failed"))?;
            conn.raw.set_track_gtid(true);
        }
        Ok(conn)
    }

    /// The GTID of the last write this session committed (with
    /// [`OptsBuilder::track_gtid`](crate::OptsBuilder::track_gtid); otherwise
    /// `None`). See [`AsyncConn::last_gtid`](crate::AsyncConn::last_gtid).
    pub fn last_gtid(&self) -> Option<&str> {
        self.raw.last_gtid()
    }

    fn connect_raw(opts: &Opts) -> Result<RawConn> {
        let mut raw = RawConn::new()?;
        raw.apply_options(opts, false)?;
        let params = ConnectParams::new(opts, None)?;
        raw.connect(&params)?;
        raw.check_tls(opts)?;
        Ok(raw)
    }

    /// The options this connection was made with.
    pub fn opts(&self) -> &Opts {
        &self.opts
    }

    /// Bring the connection back to `Idle`: read and discard whatever an earlier,
    /// unfinished command left on the wire.
    fn ensure_idle(&mut self) -> Result<()> {
        // A query still open here was abandoned: its span ends now.
        self.raw.trace_abandon();
        loop {
            match protocol::drain_step(self.raw.phase()) {
                Step::Done => return Ok(()),
                Step::Broken => return Err(broken()),
                Step::ReadHeader => {
                    let r = self.raw.read_query_result();
                    self.raw.after_header(r).ok();
                }
                Step::ReadRows => {
                    // Unbuffered, then freed: mysql_free_result skips the rows
                    // without keeping them.
                    let r = self.raw.use_result();
                    drop(r);
                    self.raw.after_result();
                }
                // A result dropped mid-read (a panic in a conversion, say) was drained
                // by mysql_free_result; only the phase is stale.
                // So was one a `RowIter` left unfinished, once freed here.
                Step::FinishRows => {
                    self.unread = None;
                    self.raw.after_result();
                }
                Step::NextHeader => {
                    let r = self.raw.next_result();
                    self.raw.after_header(r.map(|_| ())).ok();
                }
                Step::StmtResults => {
                    // Rows a `RowIter` left are skipped, not collected.
                    let r = if self.raw.phase() == Phase::StmtRows {
                        self.stmt_skip_rows()
                    } else {
                        self.stmt_finish().map(|_| ())
                    };
                    if let Err(e) = r {
                        if e.is_fatal() {
                            return Err(e);
                        }
                    }
                }
            }
        }
    }

    /// Read the current result set (header already read) into rows.
    fn read_rows<T: FromRow>(&mut self) -> Result<(Arc<[Column]>, Vec<T>, ExecResult)> {
        if self.raw.phase() != Phase::ResultPending {
            let status = status_of(&self.raw);
            return Ok((empty_columns(), Vec::new(), status));
        }
        // Unbuffered: each row is decoded while the next ones are still arriving,
        // straight from the library's buffer (no intermediate copy of the result).
        let mut res = match self.raw.use_result() {
            Ok(Some(r)) => r,
            Ok(None) => {
                self.raw.after_result();
                return Ok((empty_columns(), Vec::new(), status_of(&self.raw)));
            }
            Err(e) => {
                self.raw.set_phase(Phase::Broken);
                return Err(e);
            }
        };
        self.raw.set_phase(Phase::Fetching);
        let columns = res.columns().clone();
        let mut rows = Vec::new();
        let mut conversion = None;
        let mut count = 0u64;
        while let Some(r) = res.fetch_row() {
            count += 1;
            self.raw.trace_row();
            // After a conversion error keep reading (and discarding) so the
            // connection stays in sync; the error is returned at the end.
            if conversion.is_none() {
                match T::from_row_ref(&crate::row::RowRef::new(&columns, r)) {
                    Ok(v) => rows.push(v),
                    Err(e) => conversion = Some(e),
                }
            }
        }
        let fetch_error = self.raw.fetch_error();
        drop(res);
        // A result read unbuffered has no affected-rows count of its own (the
        // library reports all ones): it is the number of rows returned.
        let status = ExecResult {
            affected_rows: count,
            ..status_of(&self.raw)
        };
        protocol::end_rows(&mut self.raw, fetch_error)?;
        match conversion {
            Some(e) => Err(e),
            None => Ok((columns, rows, status)),
        }
    }

    /// Send `sql` and read its first result header.
    fn start_query(&mut self, sql: &str) -> Result<()> {
        self.ensure_idle()?;
        self.raw.set_phase(Phase::Sent);
        if let Err(e) = self.raw.send_query(sql.as_bytes()) {
            self.raw.set_phase(Phase::Broken);
            return Err(e);
        }
        let r = self.raw.read_query_result();
        self.raw.after_header(r)
    }

    /// Read every remaining result set, keeping the first error.
    fn finish_results(&mut self) -> Result<()> {
        let mut first_err = None;
        loop {
            match protocol::finish_step(self.raw.phase()) {
                Step::ReadRows => {
                    if let Err(e) = self.read_rows::<Row>() {
                        first_err.get_or_insert(e);
                    }
                }
                Step::NextHeader => {
                    let r = self.raw.next_result().map(|_| ());
                    if let Err(e) = self.raw.after_header(r) {
                        first_err.get_or_insert(e);
                    }
                }
                Step::Broken => return Err(first_err.unwrap_or_else(broken)),
                _ => break,
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Run `sql` and return the rows of its first result set as `T` (a [`Row`], a
    /// tuple, or any [`FromRow`]). Later result sets (multi-statement) are read and
    /// discarded; an error in any statement is returned.
    pub fn query<T: FromRow>(&mut self, sql: &str) -> Result<Vec<T>> {
        self.start_query(sql)?;
        let (_, rows, _) = self.read_rows::<T>()?;
        self.finish_results()?;
        Ok(rows)
    }

    /// Run `sql` and return the first result set with its columns and status.
    pub fn query_result(&mut self, sql: &str) -> Result<ResultSet> {
        self.start_query(sql)?;
        let (columns, rows, status) = self.read_rows::<Row>()?;
        self.finish_results()?;
        Ok(ResultSet {
            columns,
            rows,
            status,
        })
    }

    /// Run `sql` (several statements separated by `;`) and return every result set.
    pub fn query_multi(&mut self, sql: &str) -> Result<Vec<ResultSet>> {
        self.start_query(sql)?;
        let mut sets = Vec::new();
        loop {
            let (columns, rows, status) = self.read_rows::<Row>()?;
            sets.push(ResultSet {
                columns,
                rows,
                status,
            });
            if self.raw.phase() != Phase::MoreResults {
                return Ok(sets);
            }
            let r = self.raw.next_result().map(|_| ());
            self.raw.after_header(r)?;
        }
    }

    /// Run `sql` and return the first row, or an
    /// [`ErrorKind::NoRows`](crate::ErrorKind::NoRows) error if there is none.
    pub fn query_one<T: FromRow>(&mut self, sql: &str) -> Result<T> {
        self.query_opt(sql)?.ok_or_else(no_rows)
    }

    /// Run `sql` and return the first row, if any.
    pub fn query_opt<T: FromRow>(&mut self, sql: &str) -> Result<Option<T>> {
        Ok(self.query::<T>(sql)?.into_iter().next())
    }

    /// Run `sql`, discarding any rows, and return what the (last) statement
    /// reported: affected rows, last insert id, warnings and info.
    pub fn query_drop(&mut self, sql: &str) -> Result<ExecResult> {
        self.execute(sql)
    }

    /// Run `sql` and return what the (last) statement reported: affected rows, last
    /// insert id, warnings and info. The same as [`query_drop`](Self::query_drop)
    /// (this is sqlx's name).
    pub fn execute(&mut self, sql: &str) -> Result<ExecResult> {
        self.start_query(sql)?;
        let mut status = status_of(&self.raw);
        let mut first_err = None;
        loop {
            match self.raw.phase() {
                Phase::ResultPending => match self.read_rows::<Row>() {
                    Ok((_, _, s)) => status = s,
                    Err(e) => {
                        first_err.get_or_insert(e);
                    }
                },
                Phase::MoreResults => {
                    let r = self.raw.next_result().map(|_| ());
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

    /// Step one of the Chartio split: send `sql` and return at once, without waiting
    /// for the server. Wait until [`as_raw_fd`](AsRawFd::as_raw_fd) is readable, then
    /// call [`read_query_result`](Self::read_query_result).
    ///
    /// A second `send_query` before the result was read is refused with
    /// [`ErrorKind::Busy`](crate::ErrorKind::Busy) (nothing is sent).
    pub fn send_query(&mut self, sql: &str) -> Result<()> {
        if self.raw.phase() == Phase::Sent {
            return Err(busy("send_query"));
        }
        self.ensure_idle()?;
        self.raw.set_phase(Phase::Sent);
        self.raw.send_query(sql.as_bytes()).inspect_err(|_| {
            self.raw.set_phase(Phase::Broken);
        })
    }

    /// Step two: read the result of the query sent with [`send_query`](Self::send_query)
    /// (blocks until the server answers; call it once the fd is readable). Returns the
    /// first result set; further ones (multi-statement) via [`next_result`](Self::next_result).
    pub fn read_query_result(&mut self) -> Result<ResultSet> {
        if self.raw.phase() != Phase::Sent {
            return Err(nothing_pending());
        }
        let r = self.raw.read_query_result();
        self.raw.after_header(r)?;
        let (columns, rows, status) = self.read_rows::<Row>()?;
        Ok(ResultSet {
            columns,
            rows,
            status,
        })
    }

    /// Whether a command is unfinished: a query was sent with
    /// [`send_query`](Self::send_query) and its result is still to be read, a
    /// multi-statement query has result sets left, or a
    /// [`RowIter`](crate::RowIter) was dropped before its end. The next command
    /// finishes it first (reading and discarding what is left).
    pub fn has_pending_work(&self) -> bool {
        !matches!(self.raw.phase(), Phase::Idle | Phase::Broken)
    }

    /// The next result set of a multi-statement query, or `None` when there are no
    /// more.
    pub fn next_result(&mut self) -> Result<Option<ResultSet>> {
        if self.raw.phase() != Phase::MoreResults {
            return Ok(None);
        }
        let r = self.raw.next_result().map(|_| ());
        self.raw.after_header(r)?;
        let (columns, rows, status) = self.read_rows::<Row>()?;
        Ok(Some(ResultSet {
            columns,
            rows,
            status,
        }))
    }

    /// Check that the server is alive (`COM_PING`).
    pub fn ping(&mut self) -> Result<()> {
        self.ensure_idle()?;
        self.raw.ping().map_err(|e| self.raw.fail(e))
    }

    /// Change the default database.
    pub fn select_db(&mut self, db: &str) -> Result<()> {
        self.ensure_idle()?;
        self.raw.select_db(db).map_err(|e| self.raw.fail(e))
    }

    /// Reset session state (variables, temporary tables, open transaction) without
    /// reconnecting (`COM_RESET_CONNECTION`).
    pub fn reset_connection(&mut self) -> Result<()> {
        self.ensure_idle()?;
        // The reset drops every prepared statement on the server.
        self.stmts.clear();
        self.close_statements();
        self.raw.reset_connection().map_err(|e| self.raw.fail(e))
    }

    /// The server's version string, e.g. `10.11.19-MariaDB-0+deb12u1`.
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

    /// Escape `s` for use inside a single-quoted SQL string literal, using the
    /// connection's character set and SQL mode. Prefer parameters where you can.
    ///
    /// An [`ErrorKind::Params`](crate::ErrorKind::Params) error for non-ASCII text
    /// on a connection whose character set can hide a quote byte inside a
    /// multi-byte character (gbk, big5, sjis, cp932, gb18030): a Rust string is
    /// UTF-8 and cannot be escaped for those. Parameters (`exec`) work on any
    /// character set.
    pub fn escape(&self, s: &str) -> Result<String> {
        self.raw.escape(s)
    }

    /// Whether the library closed the socket (the connection was lost);
    /// [`as_fd`](AsFd::as_fd) then gives an always-readable stand-in.
    pub(crate) fn socket_closed(&self) -> bool {
        self.raw.socket_closed()
    }

    /// Close the connection politely (`COM_QUIT`). Dropping does the same.
    pub fn close(self) -> Result<()> {
        drop(self);
        Ok(())
    }
}

impl AsRawFd for Conn {
    /// The connection's socket. Watch it for readability after
    /// [`send_query`](Conn::send_query); never read from, write to or close it.
    fn as_raw_fd(&self) -> RawFd {
        self.raw.socket_fd().as_raw_fd()
    }
}

impl AsFd for Conn {
    /// The connection's socket, valid while the connection is borrowed. After the
    /// connection was lost (the library closed its socket), a stand-in that is
    /// always readable, so an event loop wakes and the next call reports the error.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.raw.socket_fd()
    }
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("thread_id", &self.raw.thread_id())
            .field("opts", &self.opts)
            .finish()
    }
}

// ----- parameters -----

/// Statements with `?` placeholders and their parameters. Each mirrors the
/// `query*` method of the same suffix and takes SQL text or a
/// [`Statement`](crate::Statement) from [`prepare`](Conn::prepare).
///
/// By default they use server-side prepared statements over the binary protocol
/// (prepared once per connection, then taken from its statement cache), on every
/// client library. On a connection whose character set is not UTF-8, or when the
/// options ask for it
/// ([`OptsBuilder::client_side_params`](crate::OptsBuilder::client_side_params)),
/// the values are written into the text on the client instead (see
/// [`Params`](crate::Params)). A wrong number of parameters, or a value that cannot
/// be sent (NaN, infinity), is an [`ErrorKind::Params`](crate::ErrorKind::Params)
/// error and nothing is sent.
///
/// ```no_run
/// # fn demo(conn: &mut mysqlclient_async::Conn) -> mysqlclient_async::Result<()> {
/// conn.exec_drop("INSERT INTO users (name, avatar) VALUES (?, ?)", ("O'Brien", &b"\x89PNG"[..]))?;
/// let id: Option<u64> = conn.exec_opt("SELECT id FROM users WHERE name = ?", ("O'Brien",))?;
/// # Ok(()) }
/// ```
impl Conn {
    /// Bring the connection to idle (so the SQL mode in the status is current),
    /// then fill in the placeholders.
    fn interpolate<P: crate::params::Params>(&mut self, sql: &str, params: P) -> Result<String> {
        self.ensure_idle()?;
        if self.raw.status_stale() {
            // Right after a reset the session's sql_mode is unknown: learn it.
            self.query_drop("DO 0")?;
        }
        crate::params::interpolate::interpolate_for(&mut self.raw, sql, params)
    }

    /// Whether `exec*` uses server-side statements (see the impl's docs).
    fn server_side_params(&self) -> bool {
        !self.opts.client_side_params() && self.raw.charset_is_utf8()
    }

    /// Prepare `sql` on the server (or take it from the statement cache) and
    /// return its handle. See [`AsyncConn::prepare`](crate::AsyncConn::prepare) for
    /// how long it stays prepared.
    pub fn prepare(&mut self, sql: &str) -> Result<Statement> {
        self.ensure_idle()?;
        self.statement(sql)?;
        let e = self.stmts.active_entry().ok_or_else(broken)?;
        Ok(e.handle.clone())
    }

    /// Testing aid, not part of the API: make the server forget the statement
    /// cached for `sql` while the cache keeps it, as a proxy or a server-side
    /// reset can; the next execute then meets error 1243 and must prepare it again.
    /// Returns false if `sql` is not cached.
    #[doc(hidden)]
    pub fn forget_statement_on_server(&mut self, sql: &str) -> bool {
        self.stmts.forget_on_server(sql)
    }

    /// Make `sql` the active statement, preparing it if it is not cached.
    fn statement(&mut self, sql: &str) -> Result<()> {
        if self.stmts.activate(sql) {
            return Ok(());
        }
        crate::params::interpolate::check_for_prepare(&self.raw, sql)?;
        // SAFETY: our live handle; the cache is dropped after it (field order).
        let mut raw = unsafe { RawStmt::init(self.raw.as_ptr()) }?;
        let r = if raw.prepare_blocking(sql) == 0 {
            raw.after_prepare()
        } else {
            Err(raw.last_error())
        };
        self.raw.note_session_state();
        if let Err(e) = r {
            drop(raw);
            return Err(self.raw.fail(e));
        }
        self.stmts.insert(Arc::from(sql), raw);
        Ok(())
    }

    /// Execute the statement for `sql` (prepared if needed, prepared again once if
    /// the server forgot it); afterwards the phase says whether rows follow.
    fn stmt_run(&mut self, sql: &str, values: Vec<Value>) -> Result<()> {
        self.ensure_idle()?;
        // One span from the prepare (if the statement is not cached) to the end
        // of the result.
        self.raw.trace_begin(sql.as_bytes(), true);
        let r = self.stmt_run_inner(sql, values);
        self.raw.trace_release(r.as_ref().err());
        r
    }

    fn stmt_run_inner(&mut self, sql: &str, values: Vec<Value>) -> Result<()> {
        self.statement(sql)?;
        self.stmts.active_raw()?.bind_params(values)?;
        match self.execute_active() {
            Err(e) if needs_reprepare(&e) && !e.is_fatal() => {
                let params = self.stmts.active_raw()?.take_params();
                // A result with other columns is discarded first.
                if let Err(e) = self.stmt_finish() {
                    if e.is_fatal() {
                        return Err(e);
                    }
                }
                self.stmts.evict_active();
                self.close_statements();
                self.statement(sql)?;
                self.stmts.active_raw()?.rebind_params(params)?;
                self.execute_active()
            }
            r => r,
        }
    }

    /// Send the long data of the bound parameters, then execute the active
    /// statement and read its result header.
    fn execute_active(&mut self) -> Result<()> {
        let stmt = self.stmts.active_raw()?;
        for i in stmt.long_params().to_vec() {
            for chunk in long_chunks(stmt.long_data(i).len()) {
                if let Err(e) = stmt.send_long_data_blocking(i, chunk) {
                    // The server holds part of the value: never execute this
                    // statement with it.
                    self.stmts.evict_active();
                    self.close_statements();
                    return Err(self.raw.fail(e));
                }
            }
        }
        if let Some(u) = self.stmts.active_untracked() {
            self.raw.note_untracked(u.role);
        }
        let ok = self.stmts.active_raw()?.execute_blocking() == 0;
        self.after_stmt_step(ok)
    }

    /// After an execute or next-result: the phase, or the statement's error.
    fn after_stmt_step(&mut self, ok: bool) -> Result<()> {
        let stmt = self.stmts.active_raw()?;
        if !ok {
            self.raw.note_session_state();
            let stale = stmt.metadata_changed();
            let e = stmt.last_error();
            if stale {
                self.raw.set_phase(Phase::StmtStale);
            }
            return Err(self.raw.fail(e));
        }
        let r = stmt.after_execute();
        let rows = stmt.field_count() > 0;
        self.raw.after_stmt_header(rows);
        r
    }

    /// The outcome of the active statement's last execute.
    fn stmt_status(&mut self) -> ExecResult {
        let stmt = self.stmts.active_entry().map(|e| &e.raw);
        stmt_status_of(&self.raw, stmt)
    }

    /// Read the rows of the statement's current result as `T` (after a conversion
    /// error, keep reading so the connection stays in sync).
    fn stmt_collect<T: FromRow>(&mut self) -> Result<(Arc<[Column]>, Vec<T>, ExecResult)> {
        if self.raw.phase() != Phase::StmtRows {
            return Ok((empty_columns(), Vec::new(), self.stmt_status()));
        }
        let columns = self.stmts.active_raw()?.columns().clone();
        let mut rows = Vec::new();
        let mut first_err = None;
        let mut count = 0u64;
        loop {
            let stmt = self.stmts.active_raw()?;
            match stmt.fetch_blocking() {
                rc @ (FETCH_ROW | FETCH_TRUNCATED) => {
                    count += 1;
                    self.raw.trace_row();
                    if first_err.is_some() {
                        continue;
                    }
                    let r = match stmt.load_row(rc == FETCH_TRUNCATED) {
                        Ok(()) => T::from_row_ref(&RowRef::new(&columns, stmt.current_row())),
                        Err(e) => Err(e.with_fatal(false)),
                    };
                    match r {
                        Ok(v) => rows.push(v),
                        Err(e) => first_err = Some(e),
                    }
                }
                FETCH_END => {
                    self.raw.after_stmt_rows();
                    break;
                }
                _ => {
                    let e = stmt.last_error();
                    let e = self.raw.fail(e);
                    self.raw.after_stmt_rows();
                    if e.is_fatal() {
                        return Err(e);
                    }
                    first_err.get_or_insert(e);
                    break;
                }
            }
        }
        // Rows fetched one at a time have no count of their own: the number read.
        let status = ExecResult {
            affected_rows: count,
            ..self.stmt_status()
        };
        match first_err {
            Some(e) => Err(e),
            None => Ok((columns, rows, status)),
        }
    }

    /// Read the statement's remaining results (a procedure's).
    fn stmt_finish(&mut self) -> Result<ExecResult> {
        let mut status = self.stmt_status();
        let mut first_err = None;
        loop {
            let r = match self.raw.phase() {
                Phase::StmtRows => self.stmt_collect::<Row>().map(|(_, _, s)| s),
                Phase::StmtMore => {
                    let rc = self.stmts.active_raw()?.next_result_blocking();
                    if rc == -1 {
                        self.raw.set_phase(Phase::Idle);
                        continue;
                    }
                    self.after_stmt_step(rc == 0).map(|()| self.stmt_status())
                }
                Phase::StmtStale => {
                    let stmt = self.stmts.active_raw()?;
                    let r = if stmt.free_result_blocking() {
                        let e = stmt.last_error();
                        Err(self.raw.fail(e))
                    } else {
                        Ok(ExecResult::default())
                    };
                    // The stale statement cannot run again as prepared.
                    self.stmts.evict_active();
                    self.raw.after_stmt_rows();
                    r
                }
                Phase::Broken => return Err(first_err.unwrap_or_else(broken)),
                _ => break,
            };
            match r {
                Ok(s) => status = s,
                Err(e) if e.is_fatal() => return Err(e),
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        first_err.map_or(Ok(status), Err)
    }

    /// Close the statements the cache let go of (one packet each, no answer).
    fn close_statements(&mut self) {
        self.stmts.trim();
        self.stmts.to_close.clear();
    }

    /// Run with parameters and collect the first result set.
    fn exec_collect<T: FromRow, P: crate::params::Params>(
        &mut self,
        sql: &str,
        params: P,
    ) -> Result<(Arc<[Column]>, Vec<T>, ExecResult)> {
        if self.server_side_params() {
            self.stmt_run(sql, params.into_values())?;
            let collected = self.stmt_collect::<T>();
            let finished = self.stmt_finish();
            self.close_statements();
            let collected = collected?;
            finished?;
            Ok(collected)
        } else {
            let sql = self.interpolate(sql, params)?;
            self.start_query(&sql)?;
            let collected = self.read_rows::<T>();
            let finished = self.finish_results();
            let collected = collected?;
            finished?;
            Ok(collected)
        }
    }

    /// [`query`](Self::query) with parameters: the rows of the first result set as `T`.
    pub fn exec<T: FromRow, P: crate::params::Params>(
        &mut self,
        stmt: &(impl StatementLike + ?Sized),
        params: P,
    ) -> Result<Vec<T>> {
        self.exec_collect::<T, P>(stmt.sql_text(), params)
            .map(|(_, rows, _)| rows)
    }

    /// [`query_one`](Self::query_one) with parameters: the first row, or an error if
    /// there is none.
    pub fn exec_one<T: FromRow, P: crate::params::Params>(
        &mut self,
        stmt: &(impl StatementLike + ?Sized),
        params: P,
    ) -> Result<T> {
        self.exec_opt(stmt, params)?.ok_or_else(no_rows)
    }

    /// [`query_opt`](Self::query_opt) with parameters: the first row, if any.
    pub fn exec_opt<T: FromRow, P: crate::params::Params>(
        &mut self,
        stmt: &(impl StatementLike + ?Sized),
        params: P,
    ) -> Result<Option<T>> {
        Ok(self.exec::<T, P>(stmt, params)?.into_iter().next())
    }

    /// [`query_drop`](Self::query_drop) with parameters: run it, discard any rows,
    /// and return what it reported (affected rows, last insert id, …).
    pub fn exec_drop<P: crate::params::Params>(
        &mut self,
        stmt: &(impl StatementLike + ?Sized),
        params: P,
    ) -> Result<ExecResult> {
        self.exec_result(stmt, params).map(|r| r.status)
    }

    /// [`query_result`](Self::query_result) with parameters: the first result set
    /// with its columns and status (affected rows, last insert id, …).
    pub fn exec_result<P: crate::params::Params>(
        &mut self,
        stmt: &(impl StatementLike + ?Sized),
        params: P,
    ) -> Result<ResultSet> {
        self.exec_collect::<Row, P>(stmt.sql_text(), params)
            .map(|(columns, rows, status)| ResultSet {
                columns,
                rows,
                status,
            })
    }

    /// Run one statement for each set of parameters; see
    /// [`AsyncConn::exec_batch`](crate::AsyncConn::exec_batch) (MariaDB's bulk
    /// command where available, else one execute per row).
    pub fn exec_batch<I>(
        &mut self,
        stmt: &(impl StatementLike + ?Sized),
        params: I,
    ) -> Result<ExecResult>
    where
        I: IntoIterator,
        I::Item: crate::params::Params,
    {
        use crate::params::Params as _;
        let sql = stmt.sql_text();
        let rows: Vec<Vec<Value>> = params.into_iter().map(|p| p.into_values()).collect();
        let server = self.server_side_params();
        let mut bulk = false;
        let mut limit = 0;
        if server && !rows.is_empty() {
            self.ensure_idle()?;
            if cfg!(mca_mariadb) && self.raw.server_supports_bulk() {
                // Asked before the statement is made active (it runs a query).
                limit = self.max_allowed_packet()? as usize;
                bulk = true;
            }
            self.statement(sql)?;
            let params = self.stmts.active_raw()?.param_count();
            check_batch_rows(&rows, params)?;
            bulk &= params > 0;
        }
        let mut total = BatchTotal::default();
        let mut i = 0;
        while i < rows.len() {
            let n = if bulk {
                chunk_len(&rows[i..], limit)
            } else {
                1
            };
            let r = if n > 1 {
                self.bulk_chunk(&rows[i..i + n])
            } else if server {
                self.execute_row(rows[i].clone())
            } else {
                self.interpolate(sql, rows[i].clone())
                    .and_then(|text| self.execute(&text))
            };
            match r {
                Ok(s) => total.add(&s),
                Err(e) => return Err(batch_error(e, i, n, total.affected())),
            }
            i += n;
        }
        Ok(total.finish())
    }

    /// One execute of the active statement, its results read.
    fn execute_row(&mut self, values: Vec<Value>) -> Result<ExecResult> {
        self.trace_active();
        let r = self.execute_row_inner(values);
        self.raw.trace_release(r.as_ref().err());
        r
    }

    /// Open the span of one execute of the active statement (`exec_batch`).
    fn trace_active(&mut self) {
        let sql = self.stmts.active_entry().map(|e| e.handle.sql());
        self.raw
            .trace_begin(sql.unwrap_or_default().as_bytes(), true);
    }

    fn execute_row_inner(&mut self, values: Vec<Value>) -> Result<ExecResult> {
        self.stmts.active_raw()?.bind_params(values)?;
        self.execute_active()?;
        self.stmt_finish()
    }

    /// The server's `max_allowed_packet`, asked once per connection.
    fn max_allowed_packet(&mut self) -> Result<u64> {
        if let Some(v) = self.max_packet {
            return Ok(v);
        }
        let v: u64 = self.query_one("SELECT @@max_allowed_packet")?;
        self.max_packet = Some(v);
        Ok(v)
    }

    #[cfg(mca_mariadb)]
    fn bulk_chunk(&mut self, rows: &[Vec<Value>]) -> Result<ExecResult> {
        self.trace_active();
        let r = self.bulk_chunk_inner(rows);
        self.raw.trace_release(r.as_ref().err());
        r
    }

    #[cfg(mca_mariadb)]
    fn bulk_chunk_inner(&mut self, rows: &[Vec<Value>]) -> Result<ExecResult> {
        let stmt = self.stmts.active_raw()?;
        stmt.bind_bulk(rows)?;
        let ok = stmt.execute_blocking() == 0;
        stmt.end_bulk();
        self.after_stmt_step(ok)?;
        self.stmt_finish()
    }

    #[cfg(not(mca_mariadb))]
    fn bulk_chunk(&mut self, _rows: &[Vec<Value>]) -> Result<ExecResult> {
        Err(crate::Error::new(
            crate::ErrorKind::Client,
            "internal: bulk execution needs MariaDB Connector/C",
        )
        .with_fatal(false))
    }
}

// ----- streaming, transactions -----

/// One step of a result read a row at a time (see [`Conn::stream_fetch`]).
pub(crate) enum Fetched<T> {
    /// The next row, or the error of converting it (the rows go on).
    Row(Result<T>),
    /// The rows ended; the rest of the command was read. Its status, or the
    /// error that ended the rows or came from a later statement.
    End(Result<ExecResult>),
}

impl Conn {
    /// Send `sql` and get its first result ready to be read a row at a time;
    /// returns its columns. Then [`stream_fetch`](Self::stream_fetch).
    pub(crate) fn stream_query(&mut self, sql: &str) -> Result<Arc<[Column]>> {
        self.start_query(sql)?;
        self.open_stream()
    }

    /// [`stream_query`](Self::stream_query) with parameters.
    pub(crate) fn stream_exec<P: crate::params::Params>(
        &mut self,
        sql: &str,
        params: P,
    ) -> Result<(Arc<[Column]>, bool)> {
        if self.server_side_params() {
            self.stmt_run(sql, params.into_values())?;
            let columns = match self.raw.phase() {
                Phase::StmtRows => self.stmts.active_raw()?.columns().clone(),
                _ => empty_columns(),
            };
            Ok((columns, true))
        } else {
            let sql = self.interpolate(sql, params)?;
            self.start_query(&sql)?;
            Ok((self.open_stream()?, false))
        }
    }

    /// The text result whose header was just read: take it unbuffered.
    fn open_stream(&mut self) -> Result<Arc<[Column]>> {
        if self.raw.phase() != Phase::ResultPending {
            return Ok(empty_columns());
        }
        match self.raw.use_result() {
            Ok(Some(r)) => {
                let columns = r.columns().clone();
                self.unread = Some(r);
                self.raw.set_phase(Phase::Fetching);
                Ok(columns)
            }
            Ok(None) => {
                self.raw.after_result();
                Ok(empty_columns())
            }
            Err(e) => {
                self.raw.set_phase(Phase::Broken);
                Err(e)
            }
        }
    }

    /// Whether a streamed result still has rows to read.
    pub(crate) fn stream_has_rows(&self) -> bool {
        matches!(self.raw.phase(), Phase::Fetching | Phase::StmtRows)
    }

    /// The next row of the result opened by `stream_query`/`stream_exec`
    /// (`prepared`: by a server-side statement), converted straight from the
    /// library's buffer. At the end the rest of the command is read (later result
    /// sets, a procedure's results) as `query`/`exec` do.
    pub(crate) fn stream_fetch<T: FromRow>(
        &mut self,
        columns: &Arc<[Column]>,
        prepared: bool,
    ) -> Fetched<T> {
        match self.raw.phase() {
            Phase::Fetching => {
                if let Some(res) = self.unread.as_mut() {
                    if let Some(r) = res.fetch_row() {
                        return Fetched::Row(T::from_row_ref(&RowRef::new(columns, r)));
                    }
                }
                let fetch_error = self.raw.fetch_error();
                self.unread = None;
                let status = status_of(&self.raw);
                // After an error here, what may follow is left to the next command.
                if let Err(e) = protocol::end_rows(&mut self.raw, fetch_error) {
                    return Fetched::End(Err(e));
                }
                Fetched::End(self.finish_results().map(|()| status))
            }
            Phase::StmtRows => {
                let stmt = match self.stmts.active_raw() {
                    Ok(s) => s,
                    Err(e) => return Fetched::End(Err(e)),
                };
                match stmt.fetch_blocking() {
                    rc @ (FETCH_ROW | FETCH_TRUNCATED) => {
                        let r = match stmt.load_row(rc == FETCH_TRUNCATED) {
                            Ok(()) => T::from_row_ref(&RowRef::new(columns, stmt.current_row())),
                            Err(e) => Err(e.with_fatal(false)),
                        };
                        Fetched::Row(r)
                    }
                    FETCH_END => {
                        self.raw.after_stmt_rows();
                        let status = self.stmt_status();
                        Fetched::End(self.stmt_end().map(|()| status))
                    }
                    _ => {
                        let e = stmt.last_error();
                        let e = self.raw.fail(e);
                        self.raw.after_stmt_rows();
                        if !e.is_fatal() {
                            let _ = self.stmt_end();
                        }
                        Fetched::End(Err(e))
                    }
                }
            }
            _ => Fetched::End(self.stream_finish(prepared)),
        }
    }

    /// A streamed statement without rows (or whose rows were read): its status,
    /// after reading the rest of the command.
    pub(crate) fn stream_finish(&mut self, prepared: bool) -> Result<ExecResult> {
        if prepared {
            let status = self.stmt_status();
            self.stmt_end().map(|()| status)
        } else {
            let status = status_of(&self.raw);
            self.finish_results().map(|()| status)
        }
    }

    /// Read and discard the rest of the statement's current rows, without
    /// converting or keeping them.
    fn stmt_skip_rows(&mut self) -> Result<()> {
        let stmt = self.stmts.active_raw()?;
        loop {
            match stmt.fetch_blocking() {
                FETCH_ROW | FETCH_TRUNCATED => {}
                FETCH_END => {
                    self.raw.after_stmt_rows();
                    return Ok(());
                }
                _ => {
                    let e = stmt.last_error();
                    let e = self.raw.fail(e);
                    self.raw.after_stmt_rows();
                    return Err(e);
                }
            }
        }
    }

    /// A statement's rows ended: read its remaining results, close what the
    /// statement cache let go of.
    fn stmt_end(&mut self) -> Result<()> {
        let r = self.stmt_finish();
        self.close_statements();
        r.map(|_| ())
    }

    /// A number for a new savepoint, unique on this connection.
    pub(crate) fn next_savepoint(&mut self) -> u64 {
        self.last_savepoint += 1;
        self.last_savepoint
    }

    /// Give up on the connection: its state is unknown (a transaction that
    /// could not be rolled back, say). Every later call fails.
    pub(crate) fn mark_broken(&mut self) {
        self.raw.set_phase(Phase::Broken);
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if self.unread.is_some() || self.raw.phase() == Phase::StmtRows {
            // Rows a `RowIter` left unread: make freeing them fail fast instead
            // of reading every remaining row before closing.
            self.raw.shutdown_socket();
        }
    }
}
