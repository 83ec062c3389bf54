//! The protocol steps of [`AsyncConn`]: send a command, read result headers and
//! rows without blocking, and finish or discard what an abandoned call left
//! behind, following the phase that `crate::protocol` defines for both
//! connection types.

use std::future::poll_fn;
use std::os::fd::AsRawFd;

use std::sync::Arc;
use std::task::{Context, Poll};

use super::connection::{AsyncConn, Split};
use super::drive::poll_drive;
use super::mux::Watch;
use super::stream::current_row;
use crate::column::Column;
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::{self, broken, empty_columns, status_of, Step as Next};
use crate::raw::drive;
use crate::raw::op::{OpKind, Out, ResPtr, Start, Step};
use crate::raw::Phase;
use crate::row::{ExecResult, FromRow, Row, RowRef};
use crate::tx_options::rollback_sql;

impl AsyncConn {
    /// (Re-)register the socket with the reactor if it is new.
    pub(super) fn register(&mut self) -> Result<()> {
        let fd = self.raw.fd();
        if fd < 0 {
            return Err(Error::new(
                ErrorKind::ConnectionLost,
                "the connection has no socket",
            ));
        }
        if self.io.as_ref().map(|io| io.of) != Some(fd) {
            self.io = None;
            self.io = Some(Watch::new(fd)?);
        }
        Ok(())
    }

    /// Drive a started operation to completion.
    pub(super) async fn drive(&mut self, step: Step) -> Result<Out> {
        if let Step::Done(out) = step {
            return Ok(out);
        }
        self.drive_suspended().await
    }

    /// Drive the suspended operation to completion.
    pub(super) async fn drive_suspended(&mut self) -> Result<Out> {
        self.drive_suspended_observed(|_| {}).await
    }

    /// [`drive`](Self::drive), telling `on_wait` the events the library waits
    /// for each time it has to wait.
    pub(super) async fn drive_observed(
        &mut self,
        step: Step,
        on_wait: impl FnMut(i32),
    ) -> Result<Out> {
        if let Step::Done(out) = step {
            return Ok(out);
        }
        self.drive_suspended_observed(on_wait).await
    }

    async fn drive_suspended_observed(&mut self, mut on_wait: impl FnMut(i32)) -> Result<Out> {
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
            poll_fn(move |cx| {
                let p = poll_drive(io, raw, res.get(), timer, cx);
                if p.is_pending() {
                    if let Some((_, bits)) = raw.suspended() {
                        on_wait(bits);
                    }
                }
                p
            })
            .await
        };
        if let Err(e) = &r {
            self.raw.trace_error(e);
            self.raw.set_phase(Phase::Broken);
        }
        r
    }

    /// Run one non-blocking operation from start to end.
    pub(super) async fn run(&mut self, op: Start<'_>) -> Result<Out> {
        let step = drive::start(&mut self.raw, op)?;
        self.drive(step).await
    }

    /// Classify an `int`-returning operation's result.
    pub(super) fn check_int(&mut self, out: Out) -> Result<()> {
        match out {
            Out::Int(0) | Out::Bool(false) | Out::Unit => Ok(()),
            _ => Err(self.raw.fail(self.raw.last_error())),
        }
    }

    /// Forget read readiness cached by tokio (stale on an idle connection).
    pub(super) fn clear_read_readiness(&self) {
        if let Some(io) = &self.io {
            let mut cx = Context::from_waker(std::task::Waker::noop());
            if let Poll::Ready(Ok(mut guard)) = io.poll_read_ready(&mut cx) {
                guard.clear_ready();
            }
        }
    }

    /// Wait until the socket is readable (portable path). Peeks, so that readiness
    /// left over from an earlier, already consumed answer is not mistaken for a new one.
    pub(super) async fn wait_readable(&mut self) -> Result<()> {
        self.register()?;
        let io = self.io.as_ref().expect("registered");
        loop {
            let mut guard = io.readable().await?;
            let mut b = 0u8;
            // SAFETY: a one-byte peek into a local on our own socket; nothing is consumed.
            let n = unsafe {
                libc::recv(
                    io.as_raw_fd(),
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

    pub(super) fn after_result(&mut self) {
        self.result = None;
        self.raw.after_result();
    }

    /// Finish an operation that a dropped future left suspended inside the library,
    /// and apply its outcome. Returns its kind and the operation's own result (a
    /// result header's error, say), which callers may report or discard.
    pub(super) async fn resume_suspended(&mut self) -> Result<Option<(OpKind, Result<()>)>> {
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
    pub(super) async fn ensure_idle(&mut self) -> Result<()> {
        // Whatever the caller's `send_query` sent is discarded by this command.
        self.split = Split::Idle;
        // A query still open here was abandoned: its span ends now, not after
        // its rest is discarded.
        self.raw.trace_abandon();
        if let Some((_, Err(e))) = self.resume_suspended().await? {
            // The connection died under the abandoned command: say how.
            if e.is_fatal() {
                return Err(e);
            }
        }
        loop {
            match protocol::drain_step(self.raw.phase()) {
                Next::Done => break,
                Next::Broken => return Err(broken()),
                Next::ReadHeader => {
                    let r = self.read_header().await;
                    self.raw.after_header(r).ok();
                }
                Next::ReadRows => {
                    if let Err(e) = self.store_all::<Row>().await {
                        if e.is_fatal() {
                            return Err(e);
                        }
                    }
                }
                Next::FinishRows => while self.fetch_next().await?.is_some() {},
                Next::NextHeader => {
                    let r = self.next_header().await;
                    self.raw.after_header(r).ok();
                }
                Next::StmtResults => self.stmt_drain().await?,
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
        if self.stmts.needs_cleanup() || self.stmts.long_data_pending {
            self.close_statements().await?;
        }
        Ok(())
    }

    /// Apply the outcome of an operation that finished after its future was dropped,
    /// and return that operation's own result.
    pub(super) fn absorb(&mut self, kind: OpKind, out: Out) -> Result<()> {
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
            k => self.absorb_stmt(k, out),
        }
    }

    /// Read a result header after a send.
    pub(super) async fn read_header(&mut self) -> Result<()> {
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
    pub(super) async fn next_header(&mut self) -> Result<()> {
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
    pub(super) async fn send_and_read_header(&mut self, sql: &[u8]) -> Result<()> {
        self.send_only(sql).await?;
        let r = self.read_header().await;
        self.raw.after_header(r)
    }

    pub(super) async fn send_only(&mut self, sql: &[u8]) -> Result<()> {
        self.ensure_idle().await?;
        self.call_sent = true;
        self.send_now(sql).await
    }

    /// Send on an idle connection.
    pub(super) async fn send_now(&mut self, sql: &[u8]) -> Result<()> {
        self.query_buf.clear();
        self.query_buf.extend_from_slice(sql);
        self.stmts.executed_last = false;
        self.raw.set_phase(Phase::Sent);
        let sent = if self.nonblocking {
            // The connection is idle: any read readiness tokio still holds belongs to
            // the previous answer, which the library has consumed. Dropping it saves
            // a read that could only say EAGAIN (see `read_header`). Safe: a server
            // that closes or writes unasked-for later produces a new event.
            self.clear_read_readiness();
            self.raw.note_sql(sql);
            self.raw.trace_begin(sql, false);
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
            self.raw.trace_error(&e);
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
    pub(super) async fn start_query(&mut self, sql: &str) -> Result<()> {
        self.send_and_read_header(sql.as_bytes()).await
    }

    /// Read the current result set (header already read) into rows: unbuffered,
    /// one non-blocking fetch per row, each row decoded straight from the library's
    /// buffer while the next ones are still arriving.
    pub(super) async fn store_all<T: FromRow>(
        &mut self,
    ) -> Result<(Arc<[Column]>, Vec<T>, ExecResult)> {
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
        let mut count = 0u64;
        while self.fetch_next().await?.is_some() {
            count += 1;
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
        // A result read unbuffered has no affected-rows count of its own (the
        // library reports all ones): it is the number of rows returned.
        let status = ExecResult {
            affected_rows: count,
            ..status_of(&self.raw)
        };
        match conversion {
            Some(e) => Err(e),
            None => Ok((columns, rows, status)),
        }
    }

    /// Begin reading the rows of the pending result set (`mysql_use_result`, which
    /// reads nothing itself).
    pub(super) fn start_rows(&mut self) -> Result<()> {
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
    pub(super) async fn fetch_next(&mut self) -> Result<Option<()>> {
        poll_fn(|cx| self.poll_fetch(cx)).await
    }

    /// Poll for the next row of the streaming result. `Ready(Ok(Some(())))` means the
    /// current row of `self.result` is valid.
    pub(super) fn poll_fetch(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<()>>> {
        if self.raw.phase() == Phase::Broken {
            return Poll::Ready(Err(broken()));
        }
        if self.raw.phase() == Phase::StmtRows {
            return self.poll_stmt_fetch(cx);
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

    pub(super) fn poll_fetch_inner(
        &mut self,
        res: ResPtr,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<()>>> {
        let out = if !self.nonblocking {
            // Portable path caveat: rows are read with blocking calls.
            let row = self.result.as_mut().expect("checked").fetch_row().is_some();
            if row {
                self.raw.trace_row();
                return Poll::Ready(Ok(Some(())));
            }
            Out::Row(std::ptr::null_mut())
        } else {
            std::task::ready!(self.poll_step(OpKind::FetchRow, res.get(), cx))?
        };
        match out {
            Out::Row(p) if !p.is_null() => {
                self.raw.trace_row();
                Poll::Ready(Ok(Some(())))
            }
            _ => {
                let err = self.raw.fetch_error();
                if let Some(e) = &err {
                    self.raw.trace_error(e);
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

    /// One poll of a row fetch (`kind`: `FetchRow` of `res`, or `StmtFetch` of the
    /// active statement): resume the fetch suspended in the library, or start
    /// one, and drive it. Anything else suspended here breaks the connection
    /// (only a fetch can be suspended while rows are read).
    pub(super) fn poll_step(
        &mut self,
        kind: OpKind,
        res: *mut crate::raw::ffi::MYSQL_RES,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Out>> {
        match self.raw.suspended() {
            Some((k, _)) if k != kind => {
                self.raw.set_phase(Phase::Broken);
                return Poll::Ready(Err(broken()));
            }
            Some(_) => {}
            None => {
                let start = match kind {
                    OpKind::StmtFetch => match self.stmts.active_raw() {
                        Ok(s) => Start::StmtFetch(s.as_ptr()),
                        Err(e) => return Poll::Ready(Err(e)),
                    },
                    _ => Start::FetchRow(res),
                };
                match drive::start(&mut self.raw, start) {
                    Ok(Step::Done(out)) => return Poll::Ready(Ok(out)),
                    Ok(Step::Wait(_)) => {}
                    Err(e) => return Poll::Ready(Err(e)),
                }
            }
        }
        if let Err(e) = self.register() {
            self.raw.set_phase(Phase::Broken);
            return Poll::Ready(Err(e));
        }
        let AsyncConn { io, raw, timer, .. } = self;
        let io = io.as_ref().expect("registered above");
        let r = poll_drive(io, raw, res, timer, cx);
        if let Poll::Ready(Err(e)) = &r {
            self.raw.trace_error(e);
            self.raw.set_phase(Phase::Broken);
        }
        r
    }

    /// Read every remaining result set, keeping the first error.
    pub(super) async fn finish_results(&mut self) -> Result<ExecResult> {
        let mut status = status_of(&self.raw);
        let mut first_err = None;
        loop {
            match protocol::finish_step(self.raw.phase()) {
                Next::ReadRows => match self.store_all::<Row>().await {
                    Ok((_, _, s)) => status = s,
                    Err(e) => {
                        first_err.get_or_insert(e);
                    }
                },
                Next::NextHeader => {
                    let r = self.next_header().await;
                    match self.raw.after_header(r) {
                        Ok(()) => status = status_of(&self.raw),
                        Err(e) => {
                            first_err.get_or_insert(e);
                        }
                    }
                }
                Next::Broken => return Err(first_err.unwrap_or_else(broken)),
                _ => break,
            }
        }
        first_err.map_or(Ok(status), Err)
    }

    /// The split state once a result set went to the caller (or failed).
    pub(super) fn split_after_result(&self) -> Split {
        if self.raw.phase() == Phase::MoreResults {
            Split::MoreResults
        } else {
            Split::Idle
        }
    }

    /// A dropped call had read part of the current result set's rows: read and
    /// discard the rest, and say so.
    pub(super) async fn discard_rows(&mut self, what: &str) -> Error {
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
}
