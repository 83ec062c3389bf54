#![doc = include_str!("../README.md")]
//!
//! ## Thread safety
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
mod cancel;
mod column;
mod conn;
mod error;
mod mio;
mod opts;
mod params;
mod pool;
mod protocol;
mod raw;
mod row;
mod statement;
mod types;

pub use async_conn::{AsyncConn, RowStream, Transaction};
pub use cancel::CancelToken;
pub use column::{Column, ColumnFlags, ColumnIndex, ColumnType};
pub use conn::Conn;
pub use error::{Error, ErrorKind, Result, ServerError};
#[cfg(feature = "derive")]
#[doc(inline)]
pub use mysqlclient_async_derive::FromRow;
pub use opts::{IntoOpts, IoMode, Opts, OptsBuilder, Secret, SslMode, DEFAULT_STMT_CACHE_SIZE};
pub use params::Params;
pub use pool::{Pool, PoolBuilder, PoolMetrics, PooledConn};
pub use row::{ExecResult, FromRow, ResultSet, Row, RowRef};
pub use statement::{Statement, StatementLike};
pub use types::{
    Date, DateTime, Decimal, FromValue, FromValueError, FromValueRef, Time, ToValue, Value,
    ValueRef,
};

/// Which non-blocking API of the client library this build drives, chosen at
/// build time from what the installed headers declare (see the README's
/// platform table):
///
/// - `"mariadb"`: MariaDB Connector/C's `_start`/`_cont` calls;
/// - `"oracle"`: Oracle libmysqlclient's `_nonblocking` calls (8.0.16+);
/// - `"portable"`: neither; async connections use the readable-then-read path.
pub fn backend() -> &'static str {
    raw::drive::BACKEND_NAME
}
