//! [`Queryable`]: the query methods every async handle shares, so generic code can
//! take a connection, a pooled connection, a transaction or the pool itself.

use std::future::Future;

use crate::async_conn::{AsyncConn, RowStream, Transaction};
use crate::error::Result;
use crate::params::Params;
use crate::pool::{Pool, PooledConn};
use crate::row::{ExecResult, FromRow, ResultSet};
use crate::statement::StatementLike;
use crate::tx_options::TxOptions;

/// The query methods of [`AsyncConn`](crate::AsyncConn),
/// [`PooledConn`](crate::PooledConn), [`Transaction`] and [`Pool`](crate::Pool)
/// (each call on its own pooled connection), with the same names and results
/// everywhere. The blocking [`Conn`](crate::Conn) has the same methods in
/// [`BlockingQueryable`](crate::BlockingQueryable).
///
/// Every future is `Send`, so generic code runs inside `tokio::spawn`:
///
/// ```no_run
/// use mysqlclient_async::{Pool, Queryable, Result};
///
/// /// Works with a connection, a pooled connection, a transaction or a pool.
/// async fn add_user(db: &mut impl Queryable, name: &str) -> Result<u64> {
///     let done = db.exec_drop("INSERT INTO users (name) VALUES (?)", (name,)).await?;
///     Ok(done.last_insert_id)
/// }
///
/// # async fn demo(pool: Pool) -> Result<()> {
/// let mut tx = pool.begin().await?;
/// add_user(&mut tx, "ada").await?;
/// tx.commit().await?;
/// let mut pool2 = pool.clone();
/// tokio::spawn(async move { add_user(&mut pool2, "grace").await }).await.unwrap()?;
/// # Ok(()) }
/// ```
///
/// Statements without parameters (`query*`) run as text; `exec*` takes
/// parameters for `?` placeholders and runs as a prepared statement, or fills
/// them in on the client where statements are not available or not wanted (see
/// [`OptsBuilder::client_side_params`](crate::OptsBuilder::client_side_params)
/// and [`Params`]). Calls that return
/// no rows give an [`ExecResult`]: affected rows, last insert id, warnings and the
/// server's info string.
pub trait Queryable: Send {
    /// Run `sql` and convert every row of its first result set.
    fn query<T: FromRow + Send>(
        &mut self,
        sql: &str,
    ) -> impl Future<Output = Result<Vec<T>>> + Send;

    /// The first row, or an [`ErrorKind::NoRows`](crate::ErrorKind::NoRows) error.
    fn query_one<T: FromRow + Send>(&mut self, sql: &str)
        -> impl Future<Output = Result<T>> + Send;

    /// The first row, if any.
    fn query_opt<T: FromRow + Send>(
        &mut self,
        sql: &str,
    ) -> impl Future<Output = Result<Option<T>>> + Send;

    /// Run `sql`, discard any rows, and report what it did.
    fn query_drop(&mut self, sql: &str) -> impl Future<Output = Result<ExecResult>> + Send;

    /// The same as [`query_drop`](Self::query_drop), under the name sqlx uses.
    fn execute(&mut self, sql: &str) -> impl Future<Output = Result<ExecResult>> + Send {
        self.query_drop(sql)
    }

    /// The rows of the first result set with its columns and status.
    fn query_result(&mut self, sql: &str) -> impl Future<Output = Result<ResultSet>> + Send;

    /// Stream the rows of the first result set as `T`, one network read at a time.
    fn query_stream<T: FromRow + Send>(
        &mut self,
        sql: &str,
    ) -> impl Future<Output = Result<RowStream<'_, T>>> + Send;

    /// Run a statement with parameters and convert every row.
    fn exec<T: FromRow + Send, P: Params + Send>(
        &mut self,
        stmt: &(impl StatementLike + ?Sized),
        params: P,
    ) -> impl Future<Output = Result<Vec<T>>> + Send;

    /// The first row of a statement with parameters, or an
    /// [`ErrorKind::NoRows`](crate::ErrorKind::NoRows) error.
    fn exec_one<T: FromRow + Send, P: Params + Send>(
        &mut self,
        stmt: &(impl StatementLike + ?Sized),
        params: P,
    ) -> impl Future<Output = Result<T>> + Send;

    /// The first row of a statement with parameters, if any.
    fn exec_opt<T: FromRow + Send, P: Params + Send>(
        &mut self,
        stmt: &(impl StatementLike + ?Sized),
        params: P,
    ) -> impl Future<Output = Result<Option<T>>> + Send;

    /// Run a statement with parameters, discard any rows, and report what it did.
    fn exec_drop<P: Params + Send>(
        &mut self,
        stmt: &(impl StatementLike + ?Sized),
        params: P,
    ) -> impl Future<Output = Result<ExecResult>> + Send;

    /// The rows of a statement with parameters, with its columns and status.
    fn exec_result<P: Params + Send>(
        &mut self,
        stmt: &(impl StatementLike + ?Sized),
        params: P,
    ) -> impl Future<Output = Result<ResultSet>> + Send;

    /// Run one statement for each parameter set; the total of affected rows and
    /// the first insert id.
    fn exec_batch<I>(
        &mut self,
        stmt: &(impl StatementLike + ?Sized),
        params: I,
    ) -> impl Future<Output = Result<ExecResult>> + Send
    where
        I: IntoIterator + Send,
        I::IntoIter: Send,
        I::Item: Params + Send;

    /// Stream the rows of a statement with parameters as `T`.
    fn exec_stream<T: FromRow + Send, P: Params + Send>(
        &mut self,
        stmt: &(impl StatementLike + ?Sized),
        params: P,
    ) -> impl Future<Output = Result<RowStream<'_, T>>> + Send;

    /// Begin a transaction (on a [`Transaction`]: a savepoint inside it, with its
    /// own guard).
    fn begin(&mut self) -> impl Future<Output = Result<Transaction<'_>>> + Send;

    /// Begin a transaction with an isolation level, access mode or snapshot. On a
    /// [`Transaction`] this is an error: a savepoint cannot change them.
    fn begin_with(
        &mut self,
        opts: TxOptions,
    ) -> impl Future<Output = Result<Transaction<'_>>> + Send;
}

/// Implement [`Queryable`] by calling the type's own methods of the same names
/// (`$path::method`, so that the inherent method is called, not this trait's).
macro_rules! queryable_by_inherent {
    ([$($lt:lifetime)?] $ty:ty => $path:ident) => {
        impl$(<$lt>)? Queryable for $ty {
            async fn query<T: FromRow + Send>(&mut self, sql: &str) -> Result<Vec<T>> {
                $path::query::<T>(self, sql).await
            }
            async fn query_one<T: FromRow + Send>(&mut self, sql: &str) -> Result<T> {
                $path::query_one::<T>(self, sql).await
            }
            async fn query_opt<T: FromRow + Send>(&mut self, sql: &str) -> Result<Option<T>> {
                $path::query_opt::<T>(self, sql).await
            }
            async fn query_drop(&mut self, sql: &str) -> Result<ExecResult> {
                $path::query_drop(self, sql).await
            }
            async fn query_result(&mut self, sql: &str) -> Result<ResultSet> {
                $path::query_result(self, sql).await
            }
            async fn query_stream<T: FromRow + Send>(
                &mut self,
                sql: &str,
            ) -> Result<RowStream<'_, T>> {
                $path::query_stream::<T>(self, sql).await
            }
            async fn exec<T: FromRow + Send, P: Params + Send>(
                &mut self,
                stmt: &(impl StatementLike + ?Sized),
                params: P,
            ) -> Result<Vec<T>> {
                $path::exec::<T, P>(self, stmt, params).await
            }
            async fn exec_one<T: FromRow + Send, P: Params + Send>(
                &mut self,
                stmt: &(impl StatementLike + ?Sized),
                params: P,
            ) -> Result<T> {
                $path::exec_one::<T, P>(self, stmt, params).await
            }
            async fn exec_opt<T: FromRow + Send, P: Params + Send>(
                &mut self,
                stmt: &(impl StatementLike + ?Sized),
                params: P,
            ) -> Result<Option<T>> {
                $path::exec_opt::<T, P>(self, stmt, params).await
            }
            async fn exec_drop<P: Params + Send>(
                &mut self,
                stmt: &(impl StatementLike + ?Sized),
                params: P,
            ) -> Result<ExecResult> {
                $path::exec_drop::<P>(self, stmt, params).await
            }
            async fn exec_result<P: Params + Send>(
                &mut self,
                stmt: &(impl StatementLike + ?Sized),
                params: P,
            ) -> Result<ResultSet> {
                $path::exec_result::<P>(self, stmt, params).await
            }
            async fn exec_batch<I>(
                &mut self,
                stmt: &(impl StatementLike + ?Sized),
                params: I,
            ) -> Result<ExecResult>
            where
                I: IntoIterator + Send,
                I::IntoIter: Send,
                I::Item: Params + Send,
            {
                $path::exec_batch::<I>(self, stmt, params).await
            }
            async fn exec_stream<T: FromRow + Send, P: Params + Send>(
                &mut self,
                stmt: &(impl StatementLike + ?Sized),
                params: P,
            ) -> Result<RowStream<'_, T>> {
                $path::exec_stream::<T, P>(self, stmt, params).await
            }
            async fn begin(&mut self) -> Result<Transaction<'_>> {
                $path::begin(self).await
            }
            async fn begin_with(&mut self, opts: TxOptions) -> Result<Transaction<'_>> {
                $path::begin_with(self, opts).await
            }
        }
    };
}

queryable_by_inherent!([] AsyncConn => AsyncConn);
queryable_by_inherent!([] PooledConn => AsyncConn);
queryable_by_inherent!(['c] Transaction<'c> => Transaction);
queryable_by_inherent!([] Pool => Pool);
