//! [`RowStream`]: the rows of a query as they arrive.

use std::future::{poll_fn, Future};

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Sleep;

use super::connection::AsyncConn;
use crate::column::Column;
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::empty_columns;
use crate::raw::{Phase, RawResult};
use crate::row::{FromRow, Row, RowRef};
use crate::statement::StatementLike;

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
        self.conn.raw.trace_timeout();
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
                let row = self.conn.row_now()?;
                Some(Ok(RowRef::new(&self.columns, row)))
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

impl AsyncConn {
    /// The row the last fetch returned: of the text result, or of the active
    /// statement's.
    fn row_now(&mut self) -> Option<crate::raw::RawRow<'_>> {
        if self.result.is_some() {
            return self.result.as_mut().map(current_row);
        }
        self.stmt_row()
    }
}

/// The current row of a streaming result (the one the last fetch returned).
pub(super) fn current_row(res: &mut RawResult) -> crate::raw::RawRow<'_> {
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
                let Some(row) = this.conn.row_now() else {
                    return Poll::Ready(None);
                };
                Poll::Ready(Some(Ok(Row::from_raw(&this.columns, &row))))
            }
            Poll::Ready(Ok(None)) => Poll::Ready(None),
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
        }
    }
}

impl AsyncConn {
    /// Run `sql` and stream the rows of its first result set, one network read at a
    /// time (`mysql_use_result` plus non-blocking fetches): memory stays constant
    /// however many rows there are. The stream borrows the connection; dropping it
    /// early is safe (the rest is discarded before the next command).
    pub async fn query_stream(&mut self, sql: &str) -> Result<RowStream<'_>> {
        timed!(self, self.start_query(sql))?;
        self.stream()
    }

    /// The stream of the result whose header was just read.
    pub(super) fn stream(&mut self) -> Result<RowStream<'_>> {
        if self.raw.phase() == Phase::ResultPending {
            self.start_rows()?;
        }
        let columns = if self.raw.phase() == Phase::StmtRows {
            self.stmt_columns()
        } else {
            self.result
                .as_ref()
                .map_or_else(empty_columns, |r| r.columns().clone())
        };
        Ok(RowStream {
            columns,
            limit: self.query_timeout,
            timer: None,
            conn: self,
        })
    }

    /// [`query_stream`](Self::query_stream) with parameters: stream the rows of the
    /// first result set without buffering them.
    pub async fn exec_stream<P: crate::params::Params>(
        &mut self,
        stmt: &(impl StatementLike + ?Sized),
        params: P,
    ) -> Result<RowStream<'_>> {
        timed!(self, async {
            if self.server_side_params() {
                self.stmt_run(stmt.sql_text(), params.into_values()).await
            } else {
                let sql = self.interpolate(stmt.sql_text(), params).await?;
                self.start_query(&sql).await
            }
        })?;
        self.stream()
    }
}
