//! Raw bindings: bindgen's output for `wrapper.h` against the installed headers.
//!
//! `mysqlclient-sys` finds and links the library; its own prebuilt bindings are not
//! re-exported because they describe a fixed Connector/C version (3.3.14, say) and
//! would give a second, incompatible `MYSQL` type. Generating from the installed
//! headers gives struct layouts that match the library actually linked, plus the
//! `_start`/`_cont` family and `MYSQL_WAIT_*` that this crate needs.
//! This is the only module that allows the C naming style.
#![allow(
    non_camel_case_types,
    non_snake_case,
    non_upper_case_globals,
    dead_code,
    missing_docs,
    unsafe_op_in_unsafe_fn,
    clippy::all
)]

use mysqlclient_sys as _;

include!(concat!(env!("OUT_DIR"), "/bindings.rs"));
