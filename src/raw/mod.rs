//! Everything that touches the C library: the bindings, the owners of its
//! handles, and the backends that drive its non-blocking API.
//!
//! | file | owns |
//! |---|---|
//! | `ffi.rs` | the C declarations (bindgen's, or the `-sys` crate's) |
//! | `consts.rs` | the protocol and client-error numbers the crate relies on |
//! | `library.rs` | the library's one-time and per-thread initialisation |
//! | `connect_params.rs` | the strings a connect hands to the library |
//! | `conn.rs` | [`RawConn`], the one owner of a `MYSQL*`, and the blocking calls |
//! | `result.rs` | [`RawResult`], the one owner of a `MYSQL_RES*`, and its rows |
//! | `op.rs` | the operations the drive loop runs, and what they return |
//! | `drive.rs` | the C side of the drive loop, for every backend |
//! | `mariadb.rs` | backend: MariaDB Connector/C's `_start`/`_cont` |
//! | `oracle.rs` | backend: Oracle libmysqlclient's `_nonblocking` calls |
//! | `portable.rs` | backend: a library with neither (readable-then-read) |
//!
//! `build.rs` picks the backend from what the installed headers declare (cfg
//! `mca_backend`); exactly one backend file is compiled, as `backend`. Every
//! backend offers the same functions (`start`, `start_connect`, `resume`,
//! `timeout_value`, `prepare_handle`) and constants, so the rest of the crate is
//! backend-agnostic.

pub(crate) mod conn;
pub(crate) mod connect_params;
pub(crate) mod consts;
pub(crate) mod drive;
pub(crate) mod ffi;
pub(crate) mod library;
pub(crate) mod op;
pub(crate) mod result;
pub(crate) mod stmt;

#[cfg(mca_backend = "mariadb")]
#[path = "mariadb.rs"]
mod backend;
#[cfg(mca_backend = "oracle")]
#[path = "oracle.rs"]
mod backend;
#[cfg(mca_backend = "portable")]
#[path = "portable.rs"]
mod backend;

pub(crate) use conn::{Phase, RawConn};
pub(crate) use connect_params::ConnectParams;
pub(crate) use result::{RawResult, RawRow};
