//! The blocking connection, and the two mission primitives: `send_query` and
//! `read_query_result`, with the socket exposed through `AsRawFd`/`AsFd`.
//!
//! ```no_run
//! use mysqlclient_async::Conn;
//! use std::os::fd::AsRawFd;
//!
//! let mut conn = Conn::connect("mysql://root@127.0.0.1:3306/test")?;
//! let n: i64 = conn.query_one("SELECT 40 + 2")?;
//! assert_eq!(n, 42);
//!
//! // The Chartio split: send, let an event loop watch the fd, read when readable.
//! conn.send_query("SELECT SLEEP(1)")?;
//! let fd = conn.as_raw_fd(); // register with epoll/mio/… for READABLE
//! # let _ = fd;
//! let result = conn.read_query_result()?;
//! assert_eq!(result.rows.len(), 1);
//! # Ok::<(), mysqlclient_async::Error>(())
//! ```

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::Arc;

use crate::column::Column;
use crate::error::Result;
use crate::opts::{IntoOpts, Opts};
use crate::protocol::{
    self, broken, busy, empty_columns, no_rows, nothing_pending, status_of, Step,
};
use crate::raw::{ConnectParams, Phase, RawConn};
use crate::row::{ExecResult, FromRow, ResultSet, Row};

/// A blocking connection. `Send` (move it to another thread freely) but not `Sync`.
/// Dropping it closes the connection.
pub struct Conn {
    raw: RawConn,
    opts: Opts,
}

impl Conn {
    /// Connect (blocking). Accepts a URL (`"mysql://…"`), an [`Opts`], or `&Opts`.
    /// Runs the options' init SQL afterwards.
    pub fn connect(opts: impl IntoOpts) -> Result<Conn> {
        let opts = opts.into_opts()?;
        let raw = match Self::connect_raw(&opts) {
            Err(e) => match opts.plain_text_fallback(&e) {
                Some(plain) => Self::connect_raw(&plain)?,
                None => return Err(e),
            },
            ok => ok?,
        };
        let mut conn = Conn { raw, opts };
        for sql in conn.opts.init_sql().to_vec() {
            conn.query_drop(&sql)
                .map_err(|e| e.context(format_args!("init SQL `{sql}` failed")))?;
        }
        Ok(conn)
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
                Step::FinishRows => self.raw.after_result(),
                Step::NextHeader => {
                    let r = self.raw.next_result();
                    self.raw.after_header(r.map(|_| ())).ok();
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
        while let Some(r) = res.fetch_row() {
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
        let status = status_of(&self.raw);
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

    /// Run `sql`, discarding any rows.
    pub fn query_drop(&mut self, sql: &str) -> Result<()> {
        self.execute(sql).map(|_| ())
    }

    /// Run `sql` and return what the (last) statement reported: affected rows, last
    /// insert id, warnings and info.
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

    /// Whether a query was sent and its result is still to be read.
    pub fn has_pending_result(&self) -> bool {
        self.raw.phase() == Phase::Sent
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

/// Statements with `?` placeholders, filled in on the client (see
/// [`Params`](crate::Params) and [`ToValue`](crate::ToValue)). Each mirrors the
/// `query*` method of the same suffix. A wrong number of parameters, or a value that
/// cannot be written as SQL (NaN, infinity), is an
/// [`ErrorKind::Params`](crate::ErrorKind::Params) error and nothing is sent.
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
        crate::params::interpolate::interpolate_for(&self.raw, sql, params)
    }

    /// [`query`](Self::query) with parameters: the rows of the first result set as `T`.
    pub fn exec<T: FromRow, P: crate::params::Params>(
        &mut self,
        sql: &str,
        params: P,
    ) -> Result<Vec<T>> {
        let sql = self.interpolate(sql, params)?;
        self.query(&sql)
    }

    /// [`query_one`](Self::query_one) with parameters: the first row, or an error if
    /// there is none.
    pub fn exec_one<T: FromRow, P: crate::params::Params>(
        &mut self,
        sql: &str,
        params: P,
    ) -> Result<T> {
        let sql = self.interpolate(sql, params)?;
        self.query_one(&sql)
    }

    /// [`query_opt`](Self::query_opt) with parameters: the first row, if any.
    pub fn exec_opt<T: FromRow, P: crate::params::Params>(
        &mut self,
        sql: &str,
        params: P,
    ) -> Result<Option<T>> {
        let sql = self.interpolate(sql, params)?;
        self.query_opt(&sql)
    }

    /// [`query_drop`](Self::query_drop) with parameters: run it, discard any rows.
    pub fn exec_drop<P: crate::params::Params>(&mut self, sql: &str, params: P) -> Result<()> {
        let sql = self.interpolate(sql, params)?;
        self.query_drop(&sql)
    }

    /// [`query_result`](Self::query_result) with parameters: the first result set
    /// with its columns and status (affected rows, last insert id, …).
    pub fn exec_result<P: crate::params::Params>(
        &mut self,
        sql: &str,
        params: P,
    ) -> Result<ResultSet> {
        let sql = self.interpolate(sql, params)?;
        self.query_result(&sql)
    }
}
