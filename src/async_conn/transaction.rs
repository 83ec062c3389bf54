//! [`Transaction`]: the guard that commits, or rolls back when dropped.

use super::connection::AsyncConn;
use super::holder::Holder;
use super::stream::RowStream;
use crate::error::{Error, Result};
use crate::retry::{Attempts, RetryPolicy, Stage};
use crate::row::{ExecResult, FromRow, ResultSet};
use crate::statement::{Statement, StatementLike};
use crate::tx_options::{
    commit_sql, nested_begin_with_error, rollback_sql, savepoint_sql, TxOptions,
};

/// An open transaction, or a savepoint inside one (see [`begin`](Self::begin)).
/// [`AsyncConn::begin`] and [`begin_with`](AsyncConn::begin_with) borrow the
/// connection; [`Pool::begin`](crate::Pool::begin) makes one that owns its pooled
/// connection and returns it to the pool when the transaction ends.
///
/// It has the connection's query methods (those of [`Queryable`](crate::Queryable)), and nothing that would end the
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
    conn: Holder<'c>,
    /// 0 for the transaction itself; else the number of this nested level's
    /// savepoint (unique on the connection, so a rollback can never reach an older
    /// savepoint of the same name).
    savepoint: u64,
    /// Nesting level (0 for the transaction itself).
    depth: u32,
    /// Committed or rolled back: nothing to do on drop.
    done: bool,
}

impl Transaction<'_> {
    /// Commit (for a nested level: release its savepoint, keeping its work in the
    /// enclosing transaction). If this future is dropped before the server received
    /// the statement, the transaction (or savepoint) is rolled back instead.
    pub async fn commit(mut self) -> Result<()> {
        let sql = commit_sql(self.savepoint);
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
        r.map(drop)
    }

    /// A nested transaction: a savepoint inside this one, with its own guard.
    /// Committing it keeps its work in this transaction; rolling it back (or
    /// dropping it) undoes only its own work.
    pub async fn begin(&mut self) -> Result<Transaction<'_>> {
        self.conn.last_savepoint += 1;
        // The guard exists before the statement is sent: if this future is dropped
        // from here on, its drop rolls back to the savepoint (a savepoint that was
        // never made is then an error that is ignored).
        let mut tx = Transaction {
            savepoint: self.conn.last_savepoint,
            depth: self.depth + 1,
            conn: Holder::Borrowed(&mut self.conn),
            done: false,
        };
        let sql = savepoint_sql(tx.savepoint);
        tx.conn.query_drop(&sql).await?;
        Ok(tx)
    }

    /// Refused: a savepoint cannot change the isolation level, access mode or
    /// snapshot (an [`ErrorKind::Client`](crate::ErrorKind::Client) error; nothing is sent). Present so that
    /// a `Transaction` has every method of [`Queryable`](crate::Queryable).
    pub async fn begin_with(&mut self, opts: TxOptions) -> Result<Transaction<'_>> {
        let _ = opts;
        Err(nested_begin_with_error())
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
    pub async fn query_drop(&mut self, sql: &str) -> Result<ExecResult> {
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
    pub async fn query_stream<T: FromRow>(&mut self, sql: &str) -> Result<RowStream<'_, T>> {
        self.conn.query_stream(sql).await
    }
    /// See [`AsyncConn::exec`].
    pub async fn exec<T: FromRow, P: crate::params::Params>(
        &mut self,
        stmt: &(impl StatementLike + ?Sized),
        params: P,
    ) -> Result<Vec<T>> {
        self.conn.exec(stmt, params).await
    }
    /// See [`AsyncConn::exec_one`].
    pub async fn exec_one<T: FromRow, P: crate::params::Params>(
        &mut self,
        stmt: &(impl StatementLike + ?Sized),
        params: P,
    ) -> Result<T> {
        self.conn.exec_one(stmt, params).await
    }
    /// See [`AsyncConn::exec_opt`].
    pub async fn exec_opt<T: FromRow, P: crate::params::Params>(
        &mut self,
        stmt: &(impl StatementLike + ?Sized),
        params: P,
    ) -> Result<Option<T>> {
        self.conn.exec_opt(stmt, params).await
    }
    /// See [`AsyncConn::exec_drop`].
    pub async fn exec_drop<P: crate::params::Params>(
        &mut self,
        stmt: &(impl StatementLike + ?Sized),
        params: P,
    ) -> Result<ExecResult> {
        self.conn.exec_drop(stmt, params).await
    }
    /// See [`AsyncConn::exec_result`].
    pub async fn exec_result<P: crate::params::Params>(
        &mut self,
        stmt: &(impl StatementLike + ?Sized),
        params: P,
    ) -> Result<ResultSet> {
        self.conn.exec_result(stmt, params).await
    }
    /// See [`AsyncConn::prepare`].
    pub async fn prepare(&mut self, sql: &str) -> Result<Statement> {
        self.conn.prepare(sql).await
    }
    /// See [`AsyncConn::exec_batch`].
    pub async fn exec_batch<I>(
        &mut self,
        stmt: &(impl StatementLike + ?Sized),
        params: I,
    ) -> Result<ExecResult>
    where
        I: IntoIterator,
        I::Item: crate::params::Params,
    {
        self.conn.exec_batch(stmt, params).await
    }
    /// See [`AsyncConn::exec_stream`].
    pub async fn exec_stream<T: FromRow, P: crate::params::Params>(
        &mut self,
        stmt: &(impl StatementLike + ?Sized),
        params: P,
    ) -> Result<RowStream<'_, T>> {
        self.conn.exec_stream(stmt, params).await
    }
}

impl std::fmt::Debug for Transaction<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction")
            .field("depth", &self.depth)
            .field("conn", &*self.conn)
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

impl<'c> Transaction<'c> {
    /// Start a transaction on `conn`. The guard exists before anything is sent:
    /// if this future is dropped from there on, the transaction that `START
    /// TRANSACTION` may open is rolled back before the next command instead of
    /// silently staying open (and a `SET TRANSACTION` that was sent without its
    /// `START TRANSACTION` is consumed by that `ROLLBACK`).
    pub(crate) async fn start(conn: Holder<'c>, opts: TxOptions) -> Result<Transaction<'c>> {
        let mut tx = Transaction {
            conn,
            savepoint: 0,
            depth: 0,
            done: false,
        };
        if let Some(sql) = opts.isolation_sql() {
            tx.conn.query_drop(&sql).await?;
        }
        tx.conn.query_drop(&opts.start_sql()).await?;
        Ok(tx)
    }
}

impl AsyncConn {
    /// Begin a transaction. The returned guard rolls back if it is dropped without
    /// [`Transaction::commit`] (the `ROLLBACK` runs before this connection's next
    /// command, since `Drop` cannot wait). [`Transaction::begin`] nests a savepoint.
    pub async fn begin(&mut self) -> Result<Transaction<'_>> {
        Transaction::start(Holder::Borrowed(self), TxOptions::new()).await
    }

    /// Begin a transaction with an isolation level, access mode or consistent
    /// snapshot ([`TxOptions`]); otherwise as [`begin`](Self::begin).
    ///
    /// ```no_run
    /// # async fn demo(conn: &mut mysqlclient_async::AsyncConn) -> mysqlclient_async::Result<()> {
    /// use mysqlclient_async::{IsolationLevel, TxOptions};
    ///
    /// let opts = TxOptions::new().isolation(IsolationLevel::Serializable).read_only(true);
    /// let mut tx = conn.begin_with(opts).await?;
    /// let n: i64 = tx.query_one("SELECT COUNT(*) FROM users").await?;
    /// tx.commit().await?;
    /// # let _ = n; Ok(()) }
    /// ```
    pub async fn begin_with(&mut self, opts: TxOptions) -> Result<Transaction<'_>> {
        Transaction::start(Holder::Borrowed(self), opts).await
    }
}

/// Transactions run again when the server rolled them back.
impl AsyncConn {
    /// Run `f` in a transaction and commit; when the server rolls the transaction
    /// back (a deadlock, a Galera certification conflict, a lock wait timeout:
    /// see [`RetryPolicy`]), roll back and run the whole of `f` again, after a
    /// backoff, at most `policy`'s `max_attempts` times in all. Returns `f`'s
    /// value once the `COMMIT` succeeded, or the error that ended the attempts.
    ///
    /// A `COMMIT` whose answer was lost ([`Outcome::Unknown`](crate::Outcome::Unknown))
    /// is never sent again: its error is returned, and the transaction may be
    /// committed. An error `f` returns that is not retried (a duplicate key, say)
    /// rolls back and is returned at once. On this connection a lost connection
    /// ends the attempts ([`Pool::transaction`](crate::Pool::transaction) takes a
    /// fresh connection instead).
    ///
    /// `f` may run several times, so it should do nothing but statements on the
    /// transaction it is given (or be idempotent). It is an async closure; inside
    /// `tokio::spawn` write it `async move |tx| …`, owning what it uses: one that
    /// borrows from its surroundings makes the compiler fail to prove the future
    /// `Send` ("implementation of `Send` is not general enough").
    ///
    /// ```no_run
    /// # async fn demo(conn: &mut mysqlclient_async::AsyncConn) -> mysqlclient_async::Result<()> {
    /// use mysqlclient_async::RetryPolicy;
    ///
    /// let (from, to, amount) = (1u64, 2u64, 10i64);
    /// let moved = conn
    ///     .transaction(&RetryPolicy::new(), async move |tx| {
    ///         let balance: i64 = tx
    ///             .exec_one("SELECT balance FROM accounts WHERE id = ? FOR UPDATE", (from,))
    ///             .await?;
    ///         if balance < amount {
    ///             return Ok(false); // nothing written: the commit is harmless
    ///         }
    ///         tx.exec_drop("UPDATE accounts SET balance = balance - ? WHERE id = ?", (amount, from))
    ///             .await?;
    ///         tx.exec_drop("UPDATE accounts SET balance = balance + ? WHERE id = ?", (amount, to))
    ///             .await?;
    ///         Ok(true)
    ///     })
    ///     .await?;
    /// # let _ = moved; Ok(()) }
    /// ```
    pub async fn transaction<T, F>(&mut self, policy: &RetryPolicy, mut f: F) -> Result<T>
    where
        F: AsyncFnMut(&mut Transaction<'_>) -> Result<T>,
    {
        let mut attempts = Attempts::new(policy);
        loop {
            let opts = policy.get_tx_options();
            let (stage, e) = match run_attempt(Holder::Borrowed(self), opts, &mut f).await {
                Ok(v) => return Ok(v),
                Err(failed) => failed,
            };
            // A rollback a failed COMMIT scheduled runs now, not after the wait:
            // the locks are free meanwhile.
            if !self.is_broken() {
                let _ = self.settle().await;
            }
            match attempts.after_failure(e, stage, false) {
                Ok(delay) => tokio::time::sleep(delay).await,
                Err(e) => return Err(e),
            }
        }
    }
}

/// One attempt of a transaction helper on `conn`: begin, run `f`, commit; on an
/// error of `f`, roll back. The error says at which stage it failed.
pub(crate) async fn run_attempt<T, F>(
    conn: Holder<'_>,
    opts: TxOptions,
    f: &mut F,
) -> std::result::Result<T, (Stage, Error)>
where
    F: AsyncFnMut(&mut Transaction<'_>) -> Result<T>,
{
    let mut tx = Transaction::start(conn, opts)
        .await
        .map_err(|e| (Stage::Begin, e))?;
    match f(&mut tx).await {
        Ok(v) => match tx.commit().await {
            Ok(()) => Ok(v),
            Err(e) => Err((Stage::Commit, e)),
        },
        Err(e) => {
            if !tx.conn.is_broken() {
                // Its own error, if any, is not the caller's; a failure leaves the
                // rollback scheduled for the connection's next command.
                let _ = tx.rollback().await;
            }
            Err((Stage::Body, e))
        }
    }
}

impl AsyncConn {
    /// Roll back to savepoint `n` (0: the whole transaction) before the next
    /// command. An enclosing level's savepoint is older, so the smallest wins.
    pub(super) fn schedule_rollback(&mut self, n: u64) {
        self.rollback_pending = Some(self.rollback_pending.map_or(n, |p| p.min(n)));
    }
}
