//! The blocking API beside [`Conn`]'s own methods: the [`BlockingQueryable`]
//! trait, [`BlockingTransaction`] (with savepoints), [`RowIter`] (rows read one at
//! a time) and [`Conn::cancel_token`]. None of it needs an async runtime.

use std::iter::FusedIterator;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::cancel::CancelToken;
use crate::column::Column;
use crate::conn::{Conn, Fetched};
use crate::error::Result;
use crate::params::Params;
use crate::row::{ExecResult, FromRow, ResultSet, Row};
use crate::statement::{Statement, StatementLike};
use crate::tx_options::{
    commit_sql, nested_begin_with_error, rollback_sql, savepoint_sql, TxOptions,
};

/// The query methods that [`Conn`] and [`BlockingTransaction`] share, for code
/// that runs on either: the blocking counterpart of the async side's methods,
/// with the same names and the same meaning.
///
/// `Conn` also has each of these as an inherent method, so calling them on a
/// connection needs no import; import the trait to write generic code:
///
/// ```no_run
/// use mysqlclient_async::{BlockingQueryable, Conn, ExecResult, Result};
///
/// /// Runs on a connection, a transaction or a savepoint alike.
/// fn add_user(db: &mut impl BlockingQueryable, name: &str) -> Result<u64> {
///     let r: ExecResult = db.exec_drop("INSERT INTO users (name) VALUES (?)", (name,))?;
///     Ok(r.last_insert_id)
/// }
///
/// fn count_users(db: &mut impl BlockingQueryable) -> Result<i64> {
///     db.query_one("SELECT COUNT(*) FROM users")
/// }
///
/// let mut conn = Conn::connect("mysql://root@127.0.0.1:3306/test")?;
/// let before = count_users(&mut conn)?;
///
/// let mut tx = conn.begin()?;
/// add_user(&mut tx, "Ada")?;
/// {
///     let mut sp = tx.begin()?; // a savepoint
///     add_user(&mut sp, "Bob")?;
///     sp.rollback()?; // Bob is gone, Ada stays
/// }
/// assert_eq!(count_users(&mut tx)?, before + 1);
/// tx.commit()?;
///
/// // Rows one at a time, without buffering the result.
/// for name in conn.query_stream::<String>("SELECT name FROM users")? {
///     println!("{}", name?);
/// }
/// # Ok::<(), mysqlclient_async::Error>(())
/// ```
pub trait BlockingQueryable {
    /// Run `sql` and return the rows of its first result set as `T` (a [`Row`], a
    /// tuple, or any [`FromRow`]). Later result sets are read and discarded; an
    /// error in any statement is returned.
    fn query<T: FromRow>(&mut self, sql: &str) -> Result<Vec<T>>;

    /// Run `sql` and return the first row, or an
    /// [`ErrorKind::NoRows`](crate::ErrorKind::NoRows) error if there is none.
    fn query_one<T: FromRow>(&mut self, sql: &str) -> Result<T>;

    /// Run `sql` and return the first row, if any.
    fn query_opt<T: FromRow>(&mut self, sql: &str) -> Result<Option<T>>;

    /// Run `sql`, discarding any rows, and return what the (last) statement
    /// reported: affected rows, last insert id, warnings and info.
    fn query_drop(&mut self, sql: &str) -> Result<ExecResult>;

    /// The same as [`query_drop`](Self::query_drop) (sqlx's name).
    fn execute(&mut self, sql: &str) -> Result<ExecResult> {
        self.query_drop(sql)
    }

    /// Run `sql` and return the first result set with its columns and status.
    fn query_result(&mut self, sql: &str) -> Result<ResultSet>;

    /// Run `sql` and read the rows of its first result set one at a time, without
    /// buffering them (see [`RowIter`]).
    fn query_stream<T: FromRow>(&mut self, sql: &str) -> Result<RowIter<'_, T>>;

    /// [`query`](Self::query) with parameters (see [`Conn`]'s parameter methods).
    fn exec<T: FromRow, P: Params>(
        &mut self,
        stmt: &(impl StatementLike + ?Sized),
        params: P,
    ) -> Result<Vec<T>>;

    /// [`query_one`](Self::query_one) with parameters.
    fn exec_one<T: FromRow, P: Params>(
        &mut self,
        stmt: &(impl StatementLike + ?Sized),
        params: P,
    ) -> Result<T>;

    /// [`query_opt`](Self::query_opt) with parameters.
    fn exec_opt<T: FromRow, P: Params>(
        &mut self,
        stmt: &(impl StatementLike + ?Sized),
        params: P,
    ) -> Result<Option<T>>;

    /// [`query_drop`](Self::query_drop) with parameters: affected rows, last
    /// insert id, warnings and info.
    fn exec_drop<P: Params>(
        &mut self,
        stmt: &(impl StatementLike + ?Sized),
        params: P,
    ) -> Result<ExecResult>;

    /// [`query_result`](Self::query_result) with parameters.
    fn exec_result<P: Params>(
        &mut self,
        stmt: &(impl StatementLike + ?Sized),
        params: P,
    ) -> Result<ResultSet>;

    /// Run one statement for each set of parameters; the affected rows are
    /// summed (see [`Conn::exec_batch`]).
    fn exec_batch<I>(
        &mut self,
        stmt: &(impl StatementLike + ?Sized),
        params: I,
    ) -> Result<ExecResult>
    where
        I: IntoIterator,
        I::Item: Params;

    /// [`query_stream`](Self::query_stream) with parameters.
    fn exec_stream<T: FromRow, P: Params>(
        &mut self,
        stmt: &(impl StatementLike + ?Sized),
        params: P,
    ) -> Result<RowIter<'_, T>>;

    /// Begin a transaction (on a transaction: a savepoint inside it). See
    /// [`BlockingTransaction`].
    fn begin(&mut self) -> Result<BlockingTransaction<'_>>;

    /// Begin a transaction with an isolation level, access mode or snapshot. On a
    /// transaction this is an [`ErrorKind::Client`](crate::ErrorKind::Client) error (nothing is sent): a
    /// savepoint cannot change them.
    fn begin_with(&mut self, opts: TxOptions) -> Result<BlockingTransaction<'_>>;
}

/// Implement [`BlockingQueryable`] by calling the type's own methods of the same
/// names (`$path::method`, so that the inherent method is called, not the trait's).
macro_rules! blocking_by_inherent {
    ([$($lt:lifetime)?] $ty:ty => $path:ident) => {
        impl$(<$lt>)? BlockingQueryable for $ty {
            fn query<T: FromRow>(&mut self, sql: &str) -> Result<Vec<T>> {
                $path::query(self, sql)
            }
            fn query_one<T: FromRow>(&mut self, sql: &str) -> Result<T> {
                $path::query_one(self, sql)
            }
            fn query_opt<T: FromRow>(&mut self, sql: &str) -> Result<Option<T>> {
                $path::query_opt(self, sql)
            }
            fn query_drop(&mut self, sql: &str) -> Result<ExecResult> {
                $path::query_drop(self, sql)
            }
            fn query_result(&mut self, sql: &str) -> Result<ResultSet> {
                $path::query_result(self, sql)
            }
            fn query_stream<T: FromRow>(&mut self, sql: &str) -> Result<RowIter<'_, T>> {
                $path::query_stream(self, sql)
            }
            fn exec<T: FromRow, P: Params>(
                &mut self,
                stmt: &(impl StatementLike + ?Sized),
                params: P,
            ) -> Result<Vec<T>> {
                $path::exec(self, stmt, params)
            }
            fn exec_one<T: FromRow, P: Params>(
                &mut self,
                stmt: &(impl StatementLike + ?Sized),
                params: P,
            ) -> Result<T> {
                $path::exec_one(self, stmt, params)
            }
            fn exec_opt<T: FromRow, P: Params>(
                &mut self,
                stmt: &(impl StatementLike + ?Sized),
                params: P,
            ) -> Result<Option<T>> {
                $path::exec_opt(self, stmt, params)
            }
            fn exec_drop<P: Params>(
                &mut self,
                stmt: &(impl StatementLike + ?Sized),
                params: P,
            ) -> Result<ExecResult> {
                $path::exec_drop(self, stmt, params)
            }
            fn exec_result<P: Params>(
                &mut self,
                stmt: &(impl StatementLike + ?Sized),
                params: P,
            ) -> Result<ResultSet> {
                $path::exec_result(self, stmt, params)
            }
            fn exec_batch<I>(
                &mut self,
                stmt: &(impl StatementLike + ?Sized),
                params: I,
            ) -> Result<ExecResult>
            where
                I: IntoIterator,
                I::Item: Params,
            {
                $path::exec_batch(self, stmt, params)
            }
            fn exec_stream<T: FromRow, P: Params>(
                &mut self,
                stmt: &(impl StatementLike + ?Sized),
                params: P,
            ) -> Result<RowIter<'_, T>> {
                $path::exec_stream(self, stmt, params)
            }
            fn begin(&mut self) -> Result<BlockingTransaction<'_>> {
                $path::begin(self)
            }
            fn begin_with(&mut self, opts: TxOptions) -> Result<BlockingTransaction<'_>> {
                $path::begin_with(self, opts)
            }
        }
    };
}

blocking_by_inherent!([] Conn => Conn);
blocking_by_inherent!(['c] BlockingTransaction<'c> => BlockingTransaction);

impl Conn {
    /// Begin a transaction (`START TRANSACTION`). The returned guard rolls back
    /// if it is dropped without [`BlockingTransaction::commit`];
    /// [`BlockingTransaction::begin`] nests a savepoint.
    pub fn begin(&mut self) -> Result<BlockingTransaction<'_>> {
        self.begin_with(TxOptions::new())
    }

    /// Begin a transaction with an isolation level, access mode or consistent
    /// snapshot. The isolation level is set for this transaction only
    /// (`SET TRANSACTION ISOLATION LEVEL …`, one round trip before
    /// `START TRANSACTION …`); the session's own level is unchanged afterwards.
    pub fn begin_with(&mut self, opts: TxOptions) -> Result<BlockingTransaction<'_>> {
        let isolation = opts.isolation_sql();
        if let Some(sql) = &isolation {
            self.query_drop(sql)?;
        }
        if let Err(e) = self.query_drop(&opts.start_sql()) {
            if isolation.is_some() && !self.is_broken() {
                // The level set for the next transaction would apply to whatever
                // runs next: a ROLLBACK (no transaction is open) clears it.
                let _ = self.query_drop("ROLLBACK");
            }
            return Err(e);
        }
        Ok(BlockingTransaction {
            conn: self,
            savepoint: 0,
            depth: 0,
            done: false,
        })
    }

    /// Run `sql` and read the rows of its first result set one at a time
    /// (`mysql_use_result` and `mysql_fetch_row`): memory stays constant however
    /// many rows there are. Each row is converted to `T` straight from the
    /// library's buffer. See [`RowIter`] for what happens when it is dropped early.
    ///
    /// ```no_run
    /// # fn demo(conn: &mut mysqlclient_async::Conn) -> mysqlclient_async::Result<()> {
    /// let mut total = 0i64;
    /// for row in conn.query_stream::<(i64, String)>("SELECT id, name FROM big")? {
    ///     let (id, _name) = row?;
    ///     total += id;
    /// }
    /// # Ok(()) }
    /// ```
    pub fn query_stream<T: FromRow>(&mut self, sql: &str) -> Result<RowIter<'_, T>> {
        let columns = self.stream_query(sql)?;
        RowIter::open(self, columns, false)
    }

    /// [`query_stream`](Self::query_stream) with parameters: over a server-side
    /// statement the rows are fetched one at a time (`mysql_stmt_fetch`, nothing
    /// stored on the client) — see [`Conn`]'s parameter methods.
    pub fn exec_stream<T: FromRow, P: Params>(
        &mut self,
        stmt: &(impl StatementLike + ?Sized),
        params: P,
    ) -> Result<RowIter<'_, T>> {
        let (columns, prepared) = self.stream_exec(stmt.sql_text(), params)?;
        RowIter::open(self, columns, prepared)
    }

    /// A token that can cancel this connection's running query from another
    /// thread: [`CancelToken::cancel_query_blocking`] there makes the query fail
    /// with [`ErrorKind::Cancelled`](crate::ErrorKind::Cancelled), and the connection stays usable.
    ///
    /// ```no_run
    /// use mysqlclient_async::{Conn, ErrorKind};
    /// use std::time::Duration;
    ///
    /// let mut conn = Conn::connect("mysql://root@127.0.0.1:3306/test")?;
    /// let token = conn.cancel_token();
    /// let killer = std::thread::spawn(move || {
    ///     std::thread::sleep(Duration::from_millis(200));
    ///     token.cancel_query_blocking()
    /// });
    /// let e = conn.query_drop("SELECT SLEEP(10)").unwrap_err();
    /// assert_eq!(e.kind(), ErrorKind::Cancelled);
    /// killer.join().unwrap()?;
    /// # Ok::<(), mysqlclient_async::Error>(())
    /// ```
    pub fn cancel_token(&self) -> CancelToken {
        CancelToken::new(self.opts().clone(), self.thread_id())
    }
}

/// An open transaction, or a savepoint inside one (see [`begin`](Self::begin)),
/// on a blocking [`Conn`]. From [`Conn::begin`] or [`Conn::begin_with`].
///
/// It has the connection's query methods (also through [`BlockingQueryable`]),
/// and nothing that would end the transaction behind its back:
///
/// ```compile_fail,E0599
/// # fn demo(conn: &mut mysqlclient_async::Conn) -> mysqlclient_async::Result<()> {
/// let mut tx = conn.begin()?;
/// tx.reset_connection()?; // not a method of BlockingTransaction
/// # Ok(()) }
/// ```
///
/// ```compile_fail,E0599
/// # fn demo(conn: &mut mysqlclient_async::Conn) -> mysqlclient_async::Result<()> {
/// let tx = conn.begin()?;
/// tx.close()?; // not a method of BlockingTransaction
/// # Ok(()) }
/// ```
///
/// Dropping it without [`commit`](Self::commit) or [`rollback`](Self::rollback)
/// rolls back at once (blocking): the whole transaction, or for a nested level
/// only its own work (`ROLLBACK TO SAVEPOINT`). If that rollback fails, the
/// connection is marked broken (what the server kept is unknown); dropping never
/// panics.
pub struct BlockingTransaction<'c> {
    conn: &'c mut Conn,
    /// 0 for the transaction itself; else the number of this nested level's
    /// savepoint (unique on the connection, so a rollback can never reach an older
    /// savepoint of the same name).
    savepoint: u64,
    /// Nesting level (0 for the transaction itself).
    depth: u32,
    /// Committed or rolled back: nothing to do on drop.
    done: bool,
}

impl BlockingTransaction<'_> {
    /// Commit (for a nested level: release its savepoint, keeping its work in the
    /// enclosing transaction). If the server refuses, what is left of it is rolled
    /// back and the error returned.
    pub fn commit(mut self) -> Result<()> {
        self.done = true;
        let r = self.conn.query_drop(&commit_sql(self.savepoint));
        if let Err(e) = r {
            if !self.conn.is_broken() {
                // The caller learns of the failed commit from `e`; this rollback
                // only cleans up, and its own error would add nothing.
                let _ = self.conn.query_drop(&rollback_sql(self.savepoint));
            }
            return Err(e);
        }
        Ok(())
    }

    /// Roll back (for a nested level: to its savepoint, keeping the enclosing
    /// transaction's earlier work).
    pub fn rollback(mut self) -> Result<()> {
        self.done = true;
        self.conn
            .query_drop(&rollback_sql(self.savepoint))
            .map(|_| ())
    }

    /// A nested transaction: a savepoint inside this one (`SAVEPOINT`), with its
    /// own guard. Committing it keeps its work in this transaction; rolling it
    /// back (or dropping it) undoes only its own work.
    pub fn begin(&mut self) -> Result<BlockingTransaction<'_>> {
        let n = self.conn.next_savepoint();
        self.conn.query_drop(&savepoint_sql(n))?;
        Ok(BlockingTransaction {
            savepoint: n,
            depth: self.depth + 1,
            conn: &mut *self.conn,
            done: false,
        })
    }

    /// Refused: a savepoint cannot change the isolation level, access mode or
    /// snapshot (an [`ErrorKind::Client`](crate::ErrorKind::Client) error; nothing is sent). Present so that
    /// a `BlockingTransaction` has every method of [`BlockingQueryable`].
    pub fn begin_with(&mut self, opts: TxOptions) -> Result<BlockingTransaction<'_>> {
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

    /// See [`Conn::query`].
    pub fn query<T: FromRow>(&mut self, sql: &str) -> Result<Vec<T>> {
        self.conn.query(sql)
    }
    /// See [`Conn::query_one`].
    pub fn query_one<T: FromRow>(&mut self, sql: &str) -> Result<T> {
        self.conn.query_one(sql)
    }
    /// See [`Conn::query_opt`].
    pub fn query_opt<T: FromRow>(&mut self, sql: &str) -> Result<Option<T>> {
        self.conn.query_opt(sql)
    }
    /// See [`Conn::query_drop`].
    pub fn query_drop(&mut self, sql: &str) -> Result<ExecResult> {
        self.conn.query_drop(sql)
    }
    /// See [`Conn::execute`].
    pub fn execute(&mut self, sql: &str) -> Result<ExecResult> {
        self.conn.execute(sql)
    }
    /// See [`Conn::query_result`].
    pub fn query_result(&mut self, sql: &str) -> Result<ResultSet> {
        self.conn.query_result(sql)
    }
    /// See [`Conn::query_stream`].
    pub fn query_stream<T: FromRow>(&mut self, sql: &str) -> Result<RowIter<'_, T>> {
        self.conn.query_stream(sql)
    }
    /// See [`Conn::prepare`].
    pub fn prepare(&mut self, sql: &str) -> Result<Statement> {
        self.conn.prepare(sql)
    }
    /// See [`Conn::exec`].
    pub fn exec<T: FromRow, P: Params>(
        &mut self,
        stmt: &(impl StatementLike + ?Sized),
        params: P,
    ) -> Result<Vec<T>> {
        self.conn.exec(stmt, params)
    }
    /// See [`Conn::exec_one`].
    pub fn exec_one<T: FromRow, P: Params>(
        &mut self,
        stmt: &(impl StatementLike + ?Sized),
        params: P,
    ) -> Result<T> {
        self.conn.exec_one(stmt, params)
    }
    /// See [`Conn::exec_opt`].
    pub fn exec_opt<T: FromRow, P: Params>(
        &mut self,
        stmt: &(impl StatementLike + ?Sized),
        params: P,
    ) -> Result<Option<T>> {
        self.conn.exec_opt(stmt, params)
    }
    /// See [`Conn::exec_drop`].
    pub fn exec_drop<P: Params>(
        &mut self,
        stmt: &(impl StatementLike + ?Sized),
        params: P,
    ) -> Result<ExecResult> {
        self.conn.exec_drop(stmt, params)
    }
    /// See [`Conn::exec_result`].
    pub fn exec_result<P: Params>(
        &mut self,
        stmt: &(impl StatementLike + ?Sized),
        params: P,
    ) -> Result<ResultSet> {
        self.conn.exec_result(stmt, params)
    }
    /// See [`Conn::exec_batch`].
    pub fn exec_batch<I>(
        &mut self,
        stmt: &(impl StatementLike + ?Sized),
        params: I,
    ) -> Result<ExecResult>
    where
        I: IntoIterator,
        I::Item: Params,
    {
        self.conn.exec_batch(stmt, params)
    }
    /// See [`Conn::exec_stream`].
    pub fn exec_stream<T: FromRow, P: Params>(
        &mut self,
        stmt: &(impl StatementLike + ?Sized),
        params: P,
    ) -> Result<RowIter<'_, T>> {
        self.conn.exec_stream(stmt, params)
    }
}

impl std::fmt::Debug for BlockingTransaction<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockingTransaction")
            .field("depth", &self.depth)
            .field("conn", &self.conn)
            .finish()
    }
}

impl Drop for BlockingTransaction<'_> {
    fn drop(&mut self) {
        if self.done || self.conn.is_broken() {
            return;
        }
        if self.conn.query_drop(&rollback_sql(self.savepoint)).is_err() {
            // Whatever the transaction did may still be there, and no caller can
            // be told: the connection must not be used as if it were rolled back.
            self.conn.mark_broken();
        }
    }
}

/// The rows of a query read one at a time, from [`Conn::query_stream`] or
/// [`Conn::exec_stream`]: an [`Iterator`] of `Result<T>`, each row converted
/// straight from the library's buffer ([`FromRow::from_row_ref`]), nothing
/// buffered.
///
/// A row that does not convert is an error item and the rows go on; an error
/// that ends the result (the query was killed, a later statement failed, the
/// connection was lost) is the last item. After the last row,
/// [`status`](Self::status) tells what the statement reported.
///
/// Dropping it before the end is safe: the connection's next command first
/// reads and discards the rest ([`Conn::has_pending_work`] says so meanwhile).
/// Dropping the connection instead closes it without reading them.
pub struct RowIter<'c, T = Row> {
    conn: &'c mut Conn,
    columns: Arc<[Column]>,
    /// Read through a server-side statement.
    prepared: bool,
    state: State,
    /// Rows read so far.
    count: u64,
    _rows: PhantomData<fn() -> T>,
}

enum State {
    /// Rows may follow.
    Rows,
    /// Read to the end: what the statement reported.
    Done(ExecResult),
    /// Ended with an error (already returned).
    Failed,
}

impl<'c, T: FromRow> RowIter<'c, T> {
    /// The iterator over the result just opened on `conn`; a statement without
    /// rows is read to its end at once.
    fn open(conn: &'c mut Conn, columns: Arc<[Column]>, prepared: bool) -> Result<Self> {
        let mut it = RowIter {
            conn,
            columns,
            prepared,
            state: State::Rows,
            count: 0,
            _rows: PhantomData,
        };
        if !it.conn.stream_has_rows() {
            it.state = State::Done(it.conn.stream_finish(prepared)?);
        }
        Ok(it)
    }
}

impl<T> RowIter<'_, T> {
    /// The columns of the result (empty for a statement without a result set).
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// What the statement reported (the rows returned, warnings, info; for a
    /// statement without a result set, the affected rows and last insert id),
    /// once the rows were read
    /// to their end; `None` before that, or when the result ended with an error.
    pub fn status(&self) -> Option<&ExecResult> {
        match &self.state {
            State::Done(s) => Some(s),
            _ => None,
        }
    }
}

impl<T: FromRow> Iterator for RowIter<'_, T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        if !matches!(self.state, State::Rows) {
            return None;
        }
        match self.conn.stream_fetch::<T>(&self.columns, self.prepared) {
            Fetched::Row(r) => {
                self.count += 1;
                Some(r)
            }
            Fetched::End(Ok(status)) => {
                // Rows read one at a time have no count of their own: the number
                // read.
                self.state = State::Done(ExecResult {
                    affected_rows: self.count,
                    ..status
                });
                None
            }
            Fetched::End(Err(e)) => {
                self.state = State::Failed;
                Some(Err(e))
            }
        }
    }
}

impl<T: FromRow> FusedIterator for RowIter<'_, T> {}

impl<T> std::fmt::Debug for RowIter<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowIter")
            .field("columns", &self.columns.len())
            .field("finished", &!matches!(self.state, State::Rows))
            .field("status", &self.status())
            .finish()
    }
}
