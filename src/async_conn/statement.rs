//! Server-side prepared statements on [`AsyncConn`]: prepare, execute and fetch
//! over the binary protocol with Connector/C's non-blocking statement calls, the
//! statement cache, bulk execution, and finishing what a dropped call left.

use std::future::poll_fn;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::connection::AsyncConn;
use super::drive::poll_drive;
use crate::column::Column;
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::{broken, empty_columns};
use crate::raw::drive;
use crate::raw::op::{OpKind, Out, Start, Step, StmtPtr};
use crate::raw::stmt::{RawStmt, FETCH_END, FETCH_ROW, FETCH_TRUNCATED, LONG_DATA_THRESHOLD};
use crate::raw::Phase;
use crate::row::{ExecResult, FromRow, Row, RowRef};
use crate::statement::{batch_error, chunk_len, needs_reprepare, Statement};
use crate::types::Value;

impl AsyncConn {
    /// Whether `exec*` uses server-side statements on this connection: the
    /// library has non-blocking statement calls (MariaDB Connector/C), the
    /// connection uses them (not the portable path), the options do not ask for
    /// client-side parameters, and the connection's character set is UTF-8 (a
    /// text parameter is sent as the Rust string's bytes; on any other character
    /// set client-side parameters convert it with an `_utf8mb4` introducer).
    pub(super) fn server_side_params(&self) -> bool {
        drive::STMT_NONBLOCKING
            && self.nonblocking
            && !self.opts.client_side_params()
            && self.raw.charset_is_utf8()
    }

    /// Prepare `sql` on the server (or take it from the statement cache) and
    /// return its handle, which knows its parameter count and result columns.
    /// Pass it to `exec*` in place of the SQL text.
    ///
    /// The statement stays prepared while a handle exists; after that the cache
    /// keeps it until it is among the least recently used beyond the cache's size
    /// ([`OptsBuilder::stmt_cache_size`](crate::OptsBuilder::stmt_cache_size)).
    ///
    /// Needs a client library with non-blocking statement calls (MariaDB
    /// Connector/C, [`backend()`](crate::backend) `"mariadb"`) and the non-blocking
    /// I/O mode: elsewhere this returns an [`ErrorKind::Client`] error saying so, and
    /// `exec*` with SQL text uses client-side parameters.
    pub async fn prepare(&mut self, sql: &str) -> Result<Statement> {
        if !(drive::STMT_NONBLOCKING && self.nonblocking) {
            return Err(Error::new(
                ErrorKind::Client,
                format!(
                    "prepare: this build's client library ({}) has no non-blocking statement \
                     calls, so server-side statements would block the event loop; exec with SQL \
                     text uses client-side parameters instead (or use the blocking Conn)",
                    drive::BACKEND_NAME
                ),
            )
            .with_fatal(false));
        }
        timed!(self, async {
            self.ensure_idle().await?;
            self.call_sent = true;
            self.statement(sql).await.map(|_| ())?;
            let e = self.stmts.get(sql).expect("just prepared");
            Ok(e.handle.clone())
        })
    }

    /// Make `sql` the active statement, preparing it if it is not cached.
    async fn statement(&mut self, sql: &str) -> Result<()> {
        if self.stmts.get(sql).is_none() {
            self.prepare_new(Arc::from(sql)).await?;
        }
        self.stmts.active = Some(Arc::from(sql));
        Ok(())
    }

    /// Prepare a new statement and cache it.
    async fn prepare_new(&mut self, sql: Arc<str>) -> Result<()> {
        crate::params::interpolate::check_for_prepare(&self.raw, &sql)?;
        // SAFETY: our live, connected handle; the statement is kept in the cache,
        // which is dropped after the handle (see the field order of AsyncConn).
        let raw = unsafe { RawStmt::init(self.raw.as_ptr()) }?;
        let op = Start::StmtPrepare(raw.as_ptr(), sql.as_ptr(), sql.len());
        self.stmts.preparing = Some((sql.clone(), raw));
        let out = self.run(op).await?;
        self.finish_prepare(out)
    }

    /// The prepare in flight finished with `out`: cache the statement, or report
    /// why not.
    fn finish_prepare(&mut self, out: Out) -> Result<()> {
        let Some((sql, mut raw)) = self.stmts.preparing.take() else {
            return Ok(());
        };
        let r = match out {
            Out::Int(0) => raw.after_prepare(),
            _ => Err(raw.last_error()),
        };
        self.raw.note_session_state();
        match r {
            Ok(()) => {
                self.stmts.insert(sql, raw);
                Ok(())
            }
            Err(e) => {
                self.stmts.to_close.push(raw);
                Err(self.raw.fail(e))
            }
        }
    }

    /// Execute the statement for `sql` with `values` (preparing it first if
    /// needed; preparing again once if the server forgot it), and read its result
    /// header. Afterwards the phase says whether rows follow.
    pub(super) async fn stmt_run(&mut self, sql: &str, values: Vec<Value>) -> Result<()> {
        self.ensure_idle().await?;
        self.call_sent = true;
        self.statement(sql).await?;
        match self.execute_active(values.clone()).await {
            Err(e) if needs_reprepare(&e) && !e.is_fatal() => {
                tracing::debug!(target: "mysqlclient_async", error = %e, "statement prepared again");
                self.stmts.evict(sql);
                self.statement(sql).await?;
                self.execute_active(values).await
            }
            r => r,
        }
    }

    /// Bind, send long data, execute the active statement.
    async fn execute_active(&mut self, values: Vec<Value>) -> Result<()> {
        let entry = self.stmts.active_entry().expect("an active statement");
        let long = entry.raw.bind_params(values)?;
        let p = StmtPtr(entry.raw.as_ptr());
        if !long.is_empty() {
            self.stmts.long_data_pending = true;
            for i in long {
                let mut off = 0;
                loop {
                    let (op, end) = {
                        let entry = self.stmts.active_entry().expect("an active statement");
                        let data = entry.raw.long_data(i);
                        let end = (off + LONG_DATA_THRESHOLD).min(data.len());
                        let chunk = &data[off..end];
                        (
                            Start::StmtSendLongData(p.0, i as u32, chunk.as_ptr(), chunk.len()),
                            end,
                        )
                    };
                    let out = self.run(op).await?;
                    self.absorb_stmt(OpKind::StmtSendLongData, out)?;
                    off = end;
                    if off >= data_len(self, i) {
                        break;
                    }
                }
            }
        }
        self.stmts.long_data_pending = false;
        self.clear_read_readiness();
        let out = self.run(Start::StmtExecute(p.0)).await?;
        self.absorb_stmt(OpKind::StmtExecute, out)
    }

    /// Apply the outcome of a statement operation (finished now, or after its
    /// future was dropped) and return its own result.
    pub(super) fn absorb_stmt(&mut self, kind: OpKind, out: Out) -> Result<()> {
        match kind {
            OpKind::StmtPrepare => self.finish_prepare(out),
            OpKind::StmtClose => {
                if let Some(mut s) = self.stmts.closing.take() {
                    s.mark_freed();
                }
                Ok(())
            }
            OpKind::StmtSendLongData => match out {
                Out::Bool(false) => Ok(()),
                _ => Err(self.active_error()),
            },
            OpKind::StmtExecute => {
                self.raw.note_session_state();
                let Some(entry) = self.stmts.active_entry() else {
                    self.raw.set_phase(Phase::Broken);
                    return Err(broken());
                };
                if !matches!(out, Out::Int(0)) {
                    return Err(self.active_error());
                }
                let r = entry.raw.after_execute();
                let rows = entry.raw.field_count() > 0;
                r?;
                self.raw.set_phase(if rows {
                    Phase::StmtRows
                } else {
                    self.idle_or_more()
                });
                Ok(())
            }
            OpKind::StmtFetch => match out {
                Out::Int(FETCH_ROW) | Out::Int(FETCH_TRUNCATED) => Ok(()),
                Out::Int(FETCH_END) => {
                    self.raw.note_session_state();
                    self.raw.set_phase(self.idle_or_more());
                    Ok(())
                }
                _ => {
                    let e = self.active_error();
                    if self.raw.phase() != Phase::Broken {
                        self.raw.set_phase(self.idle_or_more());
                    }
                    Err(e)
                }
            },
            OpKind::StmtNextResult => match out {
                Out::Int(0) => {
                    self.raw.note_session_state();
                    let Some(entry) = self.stmts.active_entry() else {
                        self.raw.set_phase(Phase::Broken);
                        return Err(broken());
                    };
                    let r = entry.raw.after_execute();
                    let rows = entry.raw.field_count() > 0;
                    self.raw.set_phase(if rows {
                        Phase::StmtRows
                    } else {
                        self.idle_or_more()
                    });
                    r
                }
                Out::Int(-1) => {
                    self.raw.set_phase(Phase::Idle);
                    Ok(())
                }
                _ => {
                    let e = self.active_error();
                    if self.raw.phase() != Phase::Broken {
                        self.raw.set_phase(self.idle_or_more());
                    }
                    Err(e)
                }
            },
            _ => Ok(()),
        }
    }

    /// After a statement's result: idle, or another result follows (a procedure).
    fn idle_or_more(&self) -> Phase {
        if self.raw.more_results() {
            Phase::StmtMore
        } else {
            Phase::Idle
        }
    }

    /// The active statement's error (marking the connection broken if fatal).
    fn active_error(&mut self) -> Error {
        let e = match self.stmts.active_entry() {
            Some(entry) => entry.raw.last_error(),
            None => broken(),
        };
        self.raw.fail(e)
    }

    /// Fetch the next row of the active statement's result; `None` at the end.
    pub(super) fn poll_stmt_fetch(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<()>>> {
        if self.raw.phase() != Phase::StmtRows {
            return Poll::Ready(if self.raw.phase() == Phase::Broken {
                Err(broken())
            } else {
                Ok(None)
            });
        }
        let Some(p) = self.stmts.active_entry().map(|e| e.raw.as_ptr()) else {
            return Poll::Ready(Err(broken()));
        };
        let coop = std::task::ready!(tokio::task::coop::poll_proceed(cx));
        let out = if self.raw.suspended().is_some() {
            let AsyncConn { io, raw, timer, .. } = self;
            let Some(io) = io.as_ref() else {
                return Poll::Ready(Err(broken()));
            };
            match poll_drive(io, raw, std::ptr::null_mut(), timer, cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => {
                    self.raw.set_phase(Phase::Broken);
                    return Poll::Ready(Err(e));
                }
                Poll::Ready(Ok(out)) => out,
            }
        } else {
            if let Err(e) = self.register() {
                self.raw.set_phase(Phase::Broken);
                return Poll::Ready(Err(e));
            }
            match drive::start(&mut self.raw, Start::StmtFetch(p)) {
                Ok(Step::Done(out)) => out,
                Ok(Step::Wait(_)) => return self.poll_stmt_fetch(cx),
                Err(e) => return Poll::Ready(Err(e)),
            }
        };
        coop.made_progress();
        let truncated = matches!(out, Out::Int(FETCH_TRUNCATED));
        match self.absorb_stmt(OpKind::StmtFetch, out) {
            Err(e) => Poll::Ready(Err(e)),
            Ok(()) if self.raw.phase() != Phase::StmtRows => Poll::Ready(Ok(None)),
            Ok(()) => {
                let entry = self.stmts.active_entry().expect("fetching");
                match entry.raw.load_row(truncated) {
                    Ok(()) => Poll::Ready(Ok(Some(()))),
                    Err(e) => {
                        // The row is in memory: the protocol is still in sync.
                        Poll::Ready(Err(e.with_fatal(false)))
                    }
                }
            }
        }
    }

    /// The row the last statement fetch loaded.
    pub(super) fn stmt_row(&mut self) -> Option<crate::raw::RawRow<'_>> {
        self.stmts.active_entry().map(|e| e.raw.current_row())
    }

    /// The columns of the active statement's current result.
    pub(super) fn stmt_columns(&mut self) -> Arc<[Column]> {
        self.stmts
            .active_entry()
            .map_or_else(empty_columns, |e| e.raw.columns().clone())
    }

    /// The outcome of the active statement's last execute.
    fn stmt_status(&mut self) -> ExecResult {
        let warnings = self.raw.warning_count();
        let info = self.raw.info();
        match self.stmts.active_entry() {
            Some(e) => ExecResult {
                affected_rows: e.raw.affected_rows(),
                last_insert_id: e.raw.insert_id(),
                warnings,
                info,
            },
            None => ExecResult::default(),
        }
    }

    /// Read the rows of the statement's current result as `T` (after a
    /// conversion error, keep reading so the connection stays in sync).
    pub(super) async fn stmt_collect<T: FromRow>(
        &mut self,
    ) -> Result<(Arc<[Column]>, Vec<T>, ExecResult)> {
        if self.raw.phase() != Phase::StmtRows {
            return Ok((empty_columns(), Vec::new(), self.stmt_status()));
        }
        let columns = self.stmt_columns();
        let mut rows = Vec::new();
        let mut first_err = None;
        loop {
            match poll_fn(|cx| self.poll_stmt_fetch(cx)).await {
                Ok(None) => break,
                Ok(Some(())) => {
                    if first_err.is_none() {
                        let row = self.stmt_row().expect("a row was just fetched");
                        match T::from_row_ref(&RowRef::new(&columns, row)) {
                            Ok(v) => rows.push(v),
                            Err(e) => first_err = Some(e),
                        }
                    }
                }
                Err(e) if e.is_fatal() => return Err(e),
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        let status = self.stmt_status();
        match first_err {
            Some(e) => Err(e),
            None => Ok((columns, rows, status)),
        }
    }

    /// Read the remaining results of the statement (a procedure's), keeping the
    /// first error and the last status.
    pub(super) async fn stmt_finish(&mut self) -> Result<ExecResult> {
        let mut status = self.stmt_status();
        let mut first_err = None;
        loop {
            match self.raw.phase() {
                Phase::StmtRows => match self.stmt_collect::<Row>().await {
                    Ok((_, _, s)) => status = s,
                    Err(e) if e.is_fatal() => return Err(e),
                    Err(e) => {
                        first_err.get_or_insert(e);
                    }
                },
                Phase::StmtMore => {
                    let op = self
                        .stmts
                        .active_entry()
                        .map(|e| Start::StmtNextResult(e.raw.as_ptr()))
                        .ok_or_else(broken)?;
                    let out = self.run(op).await?;
                    match self.absorb_stmt(OpKind::StmtNextResult, out) {
                        Ok(()) => status = self.stmt_status(),
                        Err(e) if e.is_fatal() => return Err(e),
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

    /// Discard what a dropped call left of a statement's results.
    pub(super) async fn stmt_drain(&mut self) -> Result<()> {
        match self.stmt_finish().await {
            Err(e) if e.is_fatal() => Err(e),
            _ => Ok(()),
        }
    }

    /// Close the statements the cache let go of (one packet each, no answer),
    /// and evict a statement whose long data was sent by an abandoned call.
    pub(super) async fn close_statements(&mut self) -> Result<()> {
        if self.stmts.long_data_pending {
            self.stmts.long_data_pending = false;
            if let Some(k) = self.stmts.active.take() {
                self.stmts.evict(&k);
            }
        }
        self.stmts.trim();
        while let Some(s) = self.stmts.to_close.pop() {
            let op = Start::StmtClose(s.as_ptr());
            self.stmts.closing = Some(s);
            let out = self.run(op).await?;
            self.absorb_stmt(OpKind::StmtClose, out)?;
        }
        Ok(())
    }

    /// `exec_batch` on server-side statements: MariaDB's bulk execute (array
    /// binding) in chunks below `max_allowed_packet`, or one execute per row where
    /// the server or the statement does not support it.
    pub(super) async fn stmt_batch(
        &mut self,
        sql: &str,
        rows: Vec<Vec<Value>>,
    ) -> Result<ExecResult> {
        self.ensure_idle().await?;
        self.call_sent = true;
        self.statement(sql).await?;
        let mut total = ExecResult::default();
        if rows.is_empty() {
            return Ok(total);
        }
        let params = self.stmts.active_entry().map_or(0, |e| e.raw.param_count());
        if let Some(bad) = rows.iter().position(|r| r.len() != params) {
            return Err(Error::new(
                ErrorKind::Params,
                format!(
                    "exec_batch: row {} has {} parameter(s), the statement {}; nothing was sent",
                    bad + 1,
                    rows[bad].len(),
                    params
                ),
            )
            .with_fatal(false));
        }
        let bulk = cfg!(mca_mariadb) && params > 0 && self.raw.server_supports_bulk();
        let limit = self.max_allowed_packet().await? as usize;
        let mut done = 0usize;
        let mut first_id = 0;
        let mut i = 0;
        while i < rows.len() {
            let n = if bulk {
                chunk_len(&rows[i..], limit)
            } else {
                1
            };
            let r = if n > 1 {
                self.bulk_chunk(&rows[i..i + n]).await
            } else {
                self.execute_active(rows[i].clone())
                    .await
                    .and(self.stmt_finish().await)
            };
            match r {
                Ok(s) => {
                    total.affected_rows += s.affected_rows;
                    total.warnings += s.warnings;
                    if first_id == 0 {
                        first_id = s.last_insert_id;
                    }
                }
                Err(e) => {
                    return Err(batch_error(e, i, n, done, total.affected_rows));
                }
            }
            done += n;
            i += n;
        }
        total.last_insert_id = first_id;
        Ok(total)
    }

    #[cfg(mca_mariadb)]
    async fn bulk_chunk(&mut self, rows: &[Vec<Value>]) -> Result<ExecResult> {
        let entry = self.stmts.active_entry().expect("an active statement");
        entry.raw.bind_bulk(rows)?;
        let op = Start::StmtExecute(entry.raw.as_ptr());
        self.clear_read_readiness();
        let out = self.run(op).await;
        if let Some(e) = self.stmts.active_entry() {
            e.raw.end_bulk();
        }
        self.absorb_stmt(OpKind::StmtExecute, out?)?;
        self.stmt_finish().await
    }

    #[cfg(not(mca_mariadb))]
    async fn bulk_chunk(&mut self, _rows: &[Vec<Value>]) -> Result<ExecResult> {
        Err(Error::new(
            ErrorKind::Client,
            "internal: bulk execution needs MariaDB Connector/C",
        )
        .with_fatal(false))
    }

    /// The server's `max_allowed_packet`, asked once per connection.
    async fn max_allowed_packet(&mut self) -> Result<u64> {
        if let Some(v) = self.max_packet {
            return Ok(v);
        }
        let saved = self.stmts.active.clone();
        let v: u64 = self
            .query_inner::<(u64,)>("SELECT @@max_allowed_packet")
            .await?[0]
            .0;
        self.stmts.active = saved;
        self.max_packet = Some(v);
        Ok(v)
    }
}

fn data_len(conn: &mut AsyncConn, i: usize) -> usize {
    conn.stmts
        .active_entry()
        .map_or(0, |e| e.raw.long_data(i).len())
}
