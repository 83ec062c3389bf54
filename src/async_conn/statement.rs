//! Server-side prepared statements on [`AsyncConn`]: prepare, execute and fetch
//! over the binary protocol with Connector/C's non-blocking statement calls, the
//! statement cache, bulk execution, and finishing what a dropped call left.

use std::future::poll_fn;
use std::ptr;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::connection::AsyncConn;
use crate::column::Column;
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::{broken, empty_columns, no_rows, stmt_status_of};
use crate::raw::drive;
use crate::raw::op::{OpKind, Out, Start, StmtPtr};
use crate::raw::stmt::{long_chunks, RawStmt, FETCH_END, FETCH_ROW, FETCH_TRUNCATED};
use crate::raw::Phase;
use crate::row::{ExecResult, FromRow, Row, RowRef};
use crate::statement::{
    batch_error, check_batch_rows, chunk_len, needs_reprepare, BatchTotal, Statement,
};
use crate::types::Value;

impl AsyncConn {
    /// Whether `exec*` uses server-side statements on this connection: the
    /// library has non-blocking statement calls (MariaDB Connector/C), the
    /// connection uses them (not the portable path), the options do not ask for
    /// client-side parameters, and the connection's character set is UTF-8 (a
    /// text parameter is sent as the Rust string's bytes; on any other character
    /// set client-side parameters convert it with an `_utf8mb4` introducer), and
    /// the server has not refused to prepare statements (see
    /// [`StmtCache::note_refusal`](crate::statement::StmtCache::note_refusal)).
    pub(super) fn server_side_params(&self) -> bool {
        drive::STMT_NONBLOCKING
            && self.nonblocking
            && !self.opts.client_side_params()
            && self.raw.charset_is_utf8()
            && !self.stmts.refuses_prepare()
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
            if let Err(e) = self.statement(sql).await {
                // Refused: `exec` with this text uses client-side parameters from now on.
                self.stmts.note_refusal(sql, &e);
                return Err(e);
            }
            let e = self.stmts.active_entry().ok_or_else(broken)?;
            Ok(e.handle.clone())
        })
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
    async fn statement(&mut self, sql: &str) -> Result<()> {
        if self.stmts.activate(sql) {
            return Ok(());
        }
        let sql: Arc<str> = Arc::from(sql);
        crate::params::interpolate::check_for_prepare(&self.raw, &sql)?;
        // SAFETY: our live, connected handle; the statement is kept in the cache,
        // which is dropped after the handle (see the field order of AsyncConn).
        let raw = unsafe { RawStmt::init(self.raw.as_ptr()) }?;
        let op = Start::StmtPrepare(raw.as_ptr(), sql.as_ptr(), sql.len());
        self.stmts.preparing = Some((sql, raw));
        let out = self.run(op).await?;
        self.finish_prepare(out)
    }

    /// The prepare in flight finished with `out`: cache the statement (as the
    /// active one), or report why not.
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
    ///
    /// If the server refuses to prepare it as not supported (a proxy without
    /// prepared statements: see
    /// [`StmtCache::note_refusal`](crate::statement::StmtCache::note_refusal)),
    /// the statement runs as text with client-side parameters instead, which the
    /// refused prepare allows (it ran nothing); `stmt_collect` and `stmt_finish`
    /// then read a text result.
    pub(super) async fn stmt_run(&mut self, sql: &str, values: Vec<Value>) -> Result<()> {
        self.ensure_idle().await?;
        self.call_sent = true;
        self.stmts.text_fallback = false;
        if self.stmts.prepare_refused(sql) {
            return self.text_fallback(sql, values).await;
        }
        // One span from the prepare (if the statement is not cached) to the end
        // of the result.
        self.raw.trace_begin(sql.as_bytes(), true);
        if let Err(e) = self.statement(sql).await {
            let refused = self.stmts.note_refusal(sql, &e);
            self.raw.trace_release(Some(&e));
            if !refused {
                return Err(e);
            }
            tracing::debug!(target: "mysqlclient_async", error = %e, "the server refused to prepare the statement: it runs with client-side parameters");
            return self.text_fallback(sql, values).await;
        }
        let r = self.stmt_run_inner(sql, values).await;
        self.raw.trace_release(r.as_ref().err());
        r
    }

    /// Run `sql` as text with `values` filled in on the client (the server
    /// refused to prepare it), and read its first result header.
    async fn text_fallback(&mut self, sql: &str, values: Vec<Value>) -> Result<()> {
        self.stmts.text_fallback = true;
        let text = self.interpolate(sql, values).await?;
        self.start_query(&text).await
    }

    /// Execute the active statement (just prepared or taken from the cache),
    /// preparing it again once if the server forgot it.
    async fn stmt_run_inner(&mut self, sql: &str, values: Vec<Value>) -> Result<()> {
        self.stmts.active_raw()?.bind_params(values)?;
        match self.execute_active().await {
            Err(e) if needs_reprepare(&e) && !e.is_fatal() => {
                tracing::debug!(target: "mysqlclient_async", error = %e, "statement prepared again");
                let params = self.stmts.active_raw()?.take_params();
                // A result with other columns is discarded first.
                self.stmt_drain().await?;
                self.stmts.evict_active();
                self.statement(sql).await?;
                self.stmts.active_raw()?.rebind_params(params)?;
                self.execute_active().await
            }
            r => r,
        }
    }

    /// Send the long data of the bound parameters, then execute the active
    /// statement and read its result header.
    async fn execute_active(&mut self) -> Result<()> {
        let stmt = self.stmts.active_raw()?;
        let p = StmtPtr(stmt.as_ptr());
        let long: Vec<(usize, usize)> = stmt
            .long_params()
            .iter()
            .map(|&i| (i, stmt.long_data(i).len()))
            .collect();
        if !long.is_empty() {
            self.stmts.long_data_pending = true;
        }
        for (i, len) in long {
            for chunk in long_chunks(len) {
                let op = {
                    let data = &self.stmts.active_raw()?.long_data(i)[chunk];
                    Start::StmtSendLongData(p.0, i as u32, data.as_ptr(), data.len())
                };
                let out = self.run(op).await?;
                self.absorb_stmt(OpKind::StmtSendLongData, out)?;
            }
        }
        self.stmts.long_data_pending = false;
        if let Some(u) = self.stmts.active_untracked() {
            self.raw.note_untracked(u.role);
        }
        self.clear_read_readiness();
        self.stmts.executed_last = true;
        let out = self.run(Start::StmtExecute(p.0)).await?;
        self.absorb_stmt(OpKind::StmtExecute, out)
    }

    /// Apply the outcome of a statement operation (finished now, or after its
    /// future was dropped) and return its own result.
    pub(super) fn absorb_stmt(&mut self, kind: OpKind, out: Out) -> Result<()> {
        match (kind, out) {
            (OpKind::StmtPrepare, out) => self.finish_prepare(out),
            (OpKind::StmtClose, _) => {
                if let Some(mut s) = self.stmts.closing.take() {
                    s.mark_freed();
                }
                Ok(())
            }
            (OpKind::StmtSendLongData, Out::Bool(false)) => Ok(()),
            (OpKind::StmtExecute | OpKind::StmtNextResult, Out::Int(0)) => {
                let stmt = match self.stmts.active_raw() {
                    Ok(s) => s,
                    Err(e) => {
                        self.raw.set_phase(Phase::Broken);
                        return Err(e);
                    }
                };
                let r = stmt.after_execute();
                let rows = stmt.field_count() > 0;
                self.raw.after_stmt_header(rows);
                r
            }
            (OpKind::StmtNextResult, Out::Int(-1)) => {
                self.raw.set_phase(Phase::Idle);
                Ok(())
            }
            (OpKind::StmtFetch, Out::Int(FETCH_ROW | FETCH_TRUNCATED)) => {
                self.raw.trace_row();
                Ok(())
            }
            (OpKind::StmtFetch, Out::Int(FETCH_END)) => {
                self.raw.after_stmt_rows();
                Ok(())
            }
            (OpKind::StmtFetch | OpKind::StmtNextResult, _) => {
                let e = self.active_error();
                self.raw.after_stmt_rows();
                Err(e)
            }
            (OpKind::StmtFreeResult, Out::Bool(false)) => {
                // The stale statement cannot run again as prepared.
                self.stmts.evict_active();
                self.raw.after_stmt_rows();
                Ok(())
            }
            (OpKind::StmtExecute, _)
                if self.stmts.active_raw().is_ok_and(|s| s.metadata_changed()) =>
            {
                self.raw.note_session_state();
                self.raw.set_phase(Phase::StmtStale);
                Err(self.active_error())
            }
            (OpKind::StmtExecute | OpKind::StmtSendLongData | OpKind::StmtFreeResult, _) => {
                self.raw.note_session_state();
                Err(self.active_error())
            }
            _ => Ok(()),
        }
    }

    /// The active statement's error (marking the connection broken if fatal).
    fn active_error(&mut self) -> Error {
        let e = match self.stmts.active_raw() {
            Ok(s) => s.last_error(),
            Err(e) => e,
        };
        self.raw.fail(e)
    }

    /// Fetch the next row of the active statement's result; `None` at the end.
    pub(super) fn poll_stmt_fetch(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<()>>> {
        match self.raw.phase() {
            Phase::StmtRows => {}
            Phase::Broken => return Poll::Ready(Err(broken())),
            _ => return Poll::Ready(Ok(None)),
        }
        let coop = std::task::ready!(tokio::task::coop::poll_proceed(cx));
        let out = match std::task::ready!(self.poll_step(OpKind::StmtFetch, ptr::null_mut(), cx)) {
            Ok(out) => out,
            Err(e) => return Poll::Ready(Err(e)),
        };
        coop.made_progress();
        let truncated = matches!(out, Out::Int(FETCH_TRUNCATED));
        self.absorb_stmt(OpKind::StmtFetch, out)?;
        if self.raw.phase() != Phase::StmtRows {
            return Poll::Ready(Ok(None));
        }
        // On error the row is still in memory: the protocol is in sync.
        let loaded = self.stmts.active_raw()?.load_row(truncated);
        Poll::Ready(loaded.map(Some).map_err(|e| e.with_fatal(false)))
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
        let stmt = self.stmts.active_entry().map(|e| &e.raw);
        stmt_status_of(&self.raw, stmt)
    }

    /// Read the rows of the statement's current result as `T` (after a
    /// conversion error, keep reading so the connection stays in sync).
    pub(super) async fn stmt_collect<T: FromRow>(
        &mut self,
    ) -> Result<(Arc<[Column]>, Vec<T>, ExecResult)> {
        if self.stmts.text_fallback {
            return self.store_all::<T>().await;
        }
        if self.raw.phase() != Phase::StmtRows {
            return Ok((empty_columns(), Vec::new(), self.stmt_status()));
        }
        let columns = self.stmt_columns();
        let mut rows = Vec::new();
        let mut first_err = None;
        let mut count = 0u64;
        loop {
            match poll_fn(|cx| self.poll_stmt_fetch(cx)).await {
                Ok(None) => break,
                Ok(Some(())) => {
                    count += 1;
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

    /// Read the remaining results of the statement (a procedure's), keeping the
    /// first error and the last status.
    pub(super) async fn stmt_finish(&mut self) -> Result<ExecResult> {
        if std::mem::take(&mut self.stmts.text_fallback) {
            return self.finish_results().await;
        }
        let mut status = self.stmt_status();
        let mut first_err = None;
        loop {
            let r = match self.raw.phase() {
                Phase::StmtRows => self.stmt_collect::<Row>().await.map(|(_, _, s)| s),
                Phase::StmtMore => {
                    let op = Start::StmtNextResult(self.stmts.active_raw()?.as_ptr());
                    let out = self.run(op).await?;
                    self.absorb_stmt(OpKind::StmtNextResult, out)
                        .map(|()| self.stmt_status())
                }
                Phase::StmtStale => {
                    let op = Start::StmtFreeResult(self.stmts.active_raw()?.as_ptr());
                    let out = self.run(op).await?;
                    self.absorb_stmt(OpKind::StmtFreeResult, out)
                        .map(|()| ExecResult::default())
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

    /// Discard what a dropped call left of a statement's results.
    pub(super) async fn stmt_drain(&mut self) -> Result<()> {
        // A statement's results are left (not a text fallback's, drained as text).
        self.stmts.text_fallback = false;
        match self.stmt_finish().await {
            Err(e) if e.is_fatal() => Err(e),
            _ => Ok(()),
        }
    }

    /// Close the statements the cache let go of (one packet each, no answer),
    /// and evict a statement whose long data was sent by an abandoned call.
    pub(super) async fn close_statements(&mut self) -> Result<()> {
        if std::mem::take(&mut self.stmts.long_data_pending) {
            self.stmts.evict_active();
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
        self.stmts.text_fallback = false;
        if rows.is_empty() {
            return Ok(ExecResult::default());
        }
        if self.stmts.prepare_refused(sql) {
            return self.text_batch(sql, rows).await;
        }
        // Asked before the statement is made active (it runs a query).
        let bulk = cfg!(mca_mariadb) && self.raw.server_supports_bulk();
        let limit = if bulk {
            self.max_allowed_packet().await? as usize
        } else {
            0
        };
        if let Err(e) = self.statement(sql).await {
            if !self.stmts.note_refusal(sql, &e) {
                return Err(e);
            }
            tracing::debug!(target: "mysqlclient_async", error = %e, "the server refused to prepare the statement: it runs with client-side parameters");
            return self.text_batch(sql, rows).await;
        }
        let params = self.stmts.active_raw()?.param_count();
        check_batch_rows(&rows, params)?;
        let bulk = bulk && params > 0;
        let mut total = BatchTotal::default();
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
                self.execute_row(rows[i].clone()).await
            };
            match r {
                Ok(s) => total.add(&s),
                Err(e) => return Err(batch_error(e, i, n, total.affected())),
            }
            i += n;
        }
        Ok(total.finish())
    }

    /// `exec_batch` as text, one statement per row with client-side parameters
    /// (the server refused to prepare it).
    async fn text_batch(&mut self, sql: &str, rows: Vec<Vec<Value>>) -> Result<ExecResult> {
        let mut total = BatchTotal::default();
        for (i, row) in rows.into_iter().enumerate() {
            let r = match self.interpolate(sql, row).await {
                Ok(text) => self.execute_inner(&text).await,
                Err(e) => Err(e),
            };
            match r {
                Ok(s) => total.add(&s),
                Err(e) => return Err(batch_error(e, i, 1, total.affected())),
            }
        }
        Ok(total.finish())
    }

    /// One execute of the active statement, its results read.
    async fn execute_row(&mut self, values: Vec<Value>) -> Result<ExecResult> {
        self.trace_active();
        let r = self.execute_row_inner(values).await;
        self.raw.trace_release(r.as_ref().err());
        r
    }

    async fn execute_row_inner(&mut self, values: Vec<Value>) -> Result<ExecResult> {
        self.stmts.active_raw()?.bind_params(values)?;
        self.execute_active().await?;
        self.stmt_finish().await
    }

    /// Open the span of one execute of the active statement (`exec_batch`).
    fn trace_active(&mut self) {
        let sql = self.stmts.active_entry().map(|e| e.handle.sql());
        self.raw
            .trace_begin(sql.unwrap_or_default().as_bytes(), true);
    }

    #[cfg(mca_mariadb)]
    async fn bulk_chunk(&mut self, rows: &[Vec<Value>]) -> Result<ExecResult> {
        self.trace_active();
        let r = self.bulk_chunk_inner(rows).await;
        self.raw.trace_release(r.as_ref().err());
        r
    }

    #[cfg(mca_mariadb)]
    async fn bulk_chunk_inner(&mut self, rows: &[Vec<Value>]) -> Result<ExecResult> {
        let stmt = self.stmts.active_raw()?;
        stmt.bind_bulk(rows)?;
        let op = Start::StmtExecute(stmt.as_ptr());
        self.clear_read_readiness();
        self.stmts.executed_last = true;
        let out = self.run(op).await;
        if let Ok(s) = self.stmts.active_raw() {
            s.end_bulk();
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
        let v: u64 = self
            .query_inner::<u64>("SELECT @@max_allowed_packet")
            .await?
            .into_iter()
            .next()
            .ok_or_else(no_rows)?;
        self.max_packet = Some(v);
        Ok(v)
    }
}
