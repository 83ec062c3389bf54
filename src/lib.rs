//! # mysqlclient-async
//!
//! MySQL and MariaDB from an event loop, on the system's own client library
//! (libmysqlclient / MariaDB Connector/C).
//!
//! - [`Conn`]: a blocking connection with the two steps of the 2011 Chartio post,
//!   [`Conn::send_query`] and [`Conn::read_query_result`], and its socket exposed
//!   through [`AsRawFd`](std::os::fd::AsRawFd)/[`AsFd`](std::os::fd::AsFd) and as a
//!   [`mio::event::Source`].
//!
//! Everything talks to a real server; see the README for the test setup.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod async_conn;
mod cancel;
mod conn;
mod error;
mod ffi;
mod mio;
mod nonblock;
mod opts;
mod params;
mod raw;
mod row;
mod types;
mod value;

pub use async_conn::{AsyncConn, RowStream, Transaction};
pub use cancel::CancelToken;
pub use conn::Conn;
pub use error::{Error, ErrorKind, Result, ServerError};
pub use opts::{IoMode, Opts, OptsBuilder, Secret, SslMode};
pub use params::{Params, ToValue};
pub use row::{
    Column, ColumnFlags, ColumnIndex, ColumnType, ExecResult, FromRow, ResultSet, Row, RowRef,
};
pub use types::{Date, DateTime, Decimal, Time};
pub use value::{FromValue, FromValueError, FromValueRef, Value, ValueRef};
