//! MySQL and MariaDB on an event loop, through the system's own client library
//! (MariaDB Connector/C or Oracle's libmysqlclient): an async connection for tokio,
//! a pool, prepared statements and TLS, non-blocking from connect to close, and a
//! blocking connection whose socket any event loop (mio included) can watch.
//!
//! ```no_run
//! use mysqlclient_async::AsyncConn;
//!
//! #[tokio::main]
//! async fn main() -> mysqlclient_async::Result<()> {
//!     let mut conn = AsyncConn::connect("mysql://root@127.0.0.1:3306/test").await?;
//!     conn.query_drop("CREATE TEMPORARY TABLE users (id INT PRIMARY KEY, name TEXT)").await?;
//!     conn.exec_drop("INSERT INTO users (id, name) VALUES (?, ?)", (1, "Ada")).await?;
//!     let name: String = conn.exec_one("SELECT name FROM users WHERE id = ?", (1,)).await?;
//!     assert_eq!(name, "Ada");
//!     conn.close().await
//! }
//! ```
//!
//! The build needs the client library's headers, pkg-config and libclang (on Debian
//! or Ubuntu: `apt-get install libmariadb-dev pkg-config clang libclang-dev`), or
//! the `bundled` feature.
//!
//! # The main types
//!
//! - [`Queryable`]: the query methods (`query`, `query_one`, `exec`, `exec_drop`,
//!   `exec_batch`, streams, `begin`, …) that [`AsyncConn`], [`PooledConn`],
//!   [`Transaction`] and [`Pool`] share, with `Send` futures; generic code takes
//!   `&mut impl Queryable`.
//! - [`AsyncConn`]: a connection on tokio (multi-thread or current-thread runtime).
//!   Queries, streams ([`RowStream`], a `futures::Stream` of typed rows),
//!   transactions ([`Transaction`], nested as savepoints; [`TxOptions`] for the
//!   isolation level and access mode), a query timeout and a [`CancelToken`].
//!   Dropping any of its futures is safe.
//! - [`Pool`]: a pool of `AsyncConn`s, built with [`PoolBuilder`]; checks
//!   connections at checkout, cleans and (when the session changed) resets them on
//!   return. A checked-out [`PooledConn`] derefs to `AsyncConn`; the pool's own
//!   one-shot calls, streams and transactions check one out for themselves.
//! - [`Conn`]: the blocking connection, with the same query methods
//!   ([`BlockingQueryable`], shared with [`BlockingTransaction`]; rows one at a
//!   time through [`RowIter`]; a [`CancelToken`] another thread can use), plus
//!   the two steps [`Conn::send_query`] and [`Conn::read_query_result`] for an
//!   event loop that watches its socket (`AsRawFd`, `AsFd`, `mio::event::Source`).
//! - [`Opts`] and [`OptsBuilder`]: options, from a `mysql://` URL
//!   ([`Opts::from_url`]) or a builder; every `connect` accepts either
//!   ([`IntoOpts`]).
//! - [`Statement`]: a server-side prepared statement; `exec*` takes one or SQL
//!   text, with parameters ([`Params`]: tuples, arrays, vectors of [`ToValue`]).
//! - Rows and values: [`Row`], [`RowRef`] (borrowed, zero-copy), [`FromRow`]
//!   (tuples, single values), [`ResultSet`], [`ExecResult`], [`Value`],
//!   [`FromValue`] (the conversion table), [`Date`], [`Time`], [`DateTime`],
//!   [`Decimal`], [`Column`].
//! - [`Error`]: an [`ErrorKind`], the server's code, SQLSTATE and message
//!   ([`ServerError`]), what became of the statement ([`Outcome`]: not sent,
//!   rejected, executed, unknown, transaction rolled back) and whether the
//!   connection is still usable ([`Error::is_fatal`]).
//! - [`Pool::transaction`] and [`AsyncConn::transaction`]: run a transaction, and
//!   run it again when the server rolled it back, as a [`RetryPolicy`] says.
//! - [`backend`]: which non-blocking API of the client library this build drives.
//!
//! # Cargo features
//!
//! - `derive`: `#[derive(FromRow)]` for structs, by column name (see [`FromRow`]).
//! - `chrono`, `time`, `rust_decimal`, `serde_json`: conversions between column
//!   values or parameters and those crates' types.
//! - `bundled`: build Oracle's libmysqlclient from source (needs cmake and a C++
//!   compiler) and link it statically, instead of the system library.
//!
//! # More
//!
//! The README (on crates.io and in the package) is the guide: usage, the URL
//! options, timeouts, errors, what the crate does behind a proxy (ProxySQL,
//! MaxScale, Vitess), the platform table and the design notes. The
//! benchmarks (the 2011 Chartio benchmark replicated, and comparisons with
//! mysql_async, sqlx and the sync `mysql` crate) live in the crate's source
//! repository, in `bench/RESULTS.md`, and run with `make chartio` and `make bench`.
//!
//! # Thread safety
//!
//! Connections are `Send` but not `Sync`: a connection moves between threads freely,
//! but is never used by two threads at once.
//!
//! ```compile_fail
//! fn assert_sync<T: Sync>() {}
//! assert_sync::<mysqlclient_async::Conn>();
//! ```
//!
//! ```compile_fail
//! fn assert_sync<T: Sync>() {}
//! assert_sync::<mysqlclient_async::AsyncConn>();
//! ```
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

#[doc(hidden)]
pub mod __derive;
mod async_conn;
mod blocking;
mod cancel;
mod cluster;
mod column;
mod conn;
mod error;
mod mio;
mod opts;
mod params;
mod pool;
mod protocol;
mod query;
mod raw;
mod retry;
mod row;
mod statement;
mod target;
mod trace;
mod tx_options;
mod types;

pub use async_conn::{AsyncConn, RowStream, Transaction};
pub use blocking::{BlockingQueryable, BlockingTransaction, RowIter};
pub use cancel::CancelToken;
pub use cluster::{GaleraState, NodeState};
pub use column::{Column, ColumnFlags, ColumnIndex, ColumnType};
pub use conn::Conn;
pub use error::{Error, ErrorKind, Outcome, Result, ServerError};
#[cfg(feature = "derive")]
#[doc(inline)]
pub use mysqlclient_async_derive::FromRow;
pub use opts::{
    HostAddr, IntoOpts, IoMode, Opts, OptsBuilder, Secret, SslMode, DEFAULT_COROUTINE_STACK_SIZE,
    DEFAULT_DENY_DURATION, DEFAULT_MAX_CONCURRENT_CONNECTS, DEFAULT_STMT_CACHE_SIZE,
    MIN_COROUTINE_STACK_SIZE,
};
pub use params::Params;
pub use pool::{Pool, PoolBuilder, PoolMetrics, PooledConn};
pub use query::Queryable;
pub use retry::{RetryEvent, RetryPolicy};
pub use row::{ExecResult, FromRow, ResultSet, Row, RowRef};
pub use statement::{Statement, StatementLike};
pub use target::{HostOrder, Role, Target};
#[doc(hidden)]
pub use trace::probe as __trace_probe;
pub use tx_options::{IsolationLevel, TxOptions};
pub use types::{
    Date, DateTime, Decimal, FromValue, FromValueError, FromValueRef, Time, ToValue, Value,
    ValueRef,
};

/// Which non-blocking API of the client library this build drives, chosen at
/// build time from what the installed headers declare (the README's "Platforms"
/// has the table):
///
/// - `"mariadb"`: MariaDB Connector/C's `_start`/`_cont` calls;
/// - `"oracle"`: Oracle libmysqlclient's `_nonblocking` calls (8.0.16+);
/// - `"portable"`: neither; async connections use the readable-then-read path.
pub fn backend() -> &'static str {
    raw::drive::BACKEND_NAME
}

/// The README's examples, compiled and run by `cargo test --doc --features derive`
/// (they use the derive; `make test` passes it), never built otherwise: the crate
/// documentation above is what docs.rs shows.
#[cfg(all(doctest, feature = "derive"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
