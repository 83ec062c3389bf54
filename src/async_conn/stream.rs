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

use super::holder::Holder;
use crate::statement::StatementLike;
use std::marker::PhantomData;

/// The rows of a query as `T` (a [`Row`], a tuple, a `#[derive(FromRow)]` struct,
/// …), fetched one network read at a time without blocking: a
/// [`futures_core::Stream`] of `Result<T>`, so `futures`' `StreamExt` and
/// `TryStreamExt` work on it. Each row is converted straight from the library's
/// buffer (no copy into a [`Row`] unless `T` is `Row`). A row that does not
/// convert to `T` is an [`ErrorKind::Conversion`] error for that row alone: the
/// next item is the next row. Any other error ends the stream.
///
/// It is `Send` (when `T` is), so a loop over it may `.await` inside
/// `tokio::spawn`:
///
/// ```no_run
/// # async fn demo(mut conn: mysqlclient_async::AsyncConn) {
/// tokio::spawn(async move {
///     let mut rows = conn.query_stream::<(i64, String)>("SELECT id, name FROM users").await?;
///     while let Some((id, name)) = rows.try_next().await? {
///         tokio::task::yield_now().await; // any await in the body
///         println!("{id}: {name}");
///     }
///     Ok::<_, mysqlclient_async::Error>(())
/// });
/// # }
/// ```
///
/// With a query timeout set ([`AsyncConn::set_query_timeout`]), each wait for a row
/// is bounded by it: past it, the stream returns an [`ErrorKind::Timeout`] error and
/// the connection is marked broken. Dropping the stream early is safe: the rest of
/// the result is read and discarded before the connection's next command. A
/// stream from [`Pool::query_stream`](crate::Pool::query_stream) owns its pooled
/// connection and returns it when dropped.
pub struct RowStream<'c, T = Row> {
    conn: Holder<'c>,
    columns: Arc<[Column]>,
    /// The bound of each wait for a row.
    limit: Option<Duration>,
    /// Armed while a row is awaited.
    timer: Option<Pin<Box<Sleep>>>,
    /// Whether the end (or an error) was returned.
    done: bool,
    _rows: PhantomData<fn() -> T>,
}

impl<T: FromRow> RowStream<'_, T> {
    /// The columns of the result.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The next row, or `None` at the end: the same as `TryStreamExt::try_next`,
    /// without importing it.
    pub async fn try_next(&mut self) -> Result<Option<T>> {
        poll_fn(|cx| self.poll_item(cx)).await.transpose()
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

    /// Poll for the next row and convert it. After the end or an error, `None`.
    fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T>>> {
        if self.done {
            return Poll::Ready(None);
        }
        let item = match self.poll_row(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(Some(()))) => match self.conn.row_now() {
                Some(row) => Some(T::from_row_ref(&RowRef::new(&self.columns, row))),
                None => None,
            },
            Poll::Ready(Ok(None)) => None,
            Poll::Ready(Err(e)) => Some(Err(e)),
        };
        let end = match &item {
            None => true,
            Some(Ok(_)) => false,
            // A conversion error leaves the stream usable: the next row follows.
            Some(Err(e)) => e.kind() != ErrorKind::Conversion,
        };
        self.done = end;
        Poll::Ready(item)
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

impl<T: FromRow> futures_core::Stream for RowStream<'_, T> {
    type Item = Result<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<T>>> {
        self.get_mut().poll_item(cx)
    }
}

impl AsyncConn {
    /// Run `sql` and stream the rows of its first result set as `T`, one network
    /// read at a time (`mysql_use_result` plus non-blocking fetches): memory stays
    /// constant however many rows there are. The stream borrows the connection;
    /// dropping it early is safe (the rest is discarded before the next command).
    pub async fn query_stream<T: FromRow>(&mut self, sql: &str) -> Result<RowStream<'_, T>> {
        self.start_stream(sql).await?;
        RowStream::over(Holder::Borrowed(self))
    }

    /// [`query_stream`](Self::query_stream) with parameters: stream the rows of the
    /// first result set as `T` without buffering them.
    pub async fn exec_stream<T: FromRow, P: crate::params::Params>(
        &mut self,
        stmt: &(impl StatementLike + ?Sized),
        params: P,
    ) -> Result<RowStream<'_, T>> {
        self.start_exec_stream(stmt, params).await?;
        RowStream::over(Holder::Borrowed(self))
    }

    /// Send `sql` and read its first result header, for a stream.
    pub(crate) async fn start_stream(&mut self, sql: &str) -> Result<()> {
        timed!(self, self.start_query(sql))
    }

    /// Send a statement with parameters and read its first result header, for a
    /// stream.
    pub(crate) async fn start_exec_stream<P: crate::params::Params>(
        &mut self,
        stmt: &(impl StatementLike + ?Sized),
        params: P,
    ) -> Result<()> {
        timed!(self, async {
            if self.server_side_params() {
                self.stmt_run(stmt.sql_text(), params.into_values()).await
            } else {
                let sql = self.interpolate(stmt.sql_text(), params).await?;
                self.start_query(&sql).await
            }
        })
    }
}

impl<'c, T: FromRow> RowStream<'c, T> {
    /// The stream of the result whose header was just read on `conn`.
    pub(crate) fn over(mut conn: Holder<'c>) -> Result<RowStream<'c, T>> {
        if conn.raw.phase() == Phase::ResultPending {
            conn.start_rows()?;
        }
        let columns = if conn.raw.phase() == Phase::StmtRows {
            conn.stmt_columns()
        } else {
            conn.result
                .as_ref()
                .map_or_else(empty_columns, |r| r.columns().clone())
        };
        Ok(RowStream {
            columns,
            limit: conn.query_timeout,
            timer: None,
            done: false,
            _rows: PhantomData,
            conn,
        })
    }
}
