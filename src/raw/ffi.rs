//! The C declarations: bindgen's output for `wrapper.h` against the installed
//! headers, or (`bundled`, docs.rs) the `-sys` crate's pregenerated bindings.
//!
//! Generating from the installed headers gives struct layouts that match the
//! library actually linked, plus the non-blocking API the `-sys` crate may lack.
//! Both sources use the same enum style, so the crate compiles against either.
//! The numeric constants the crate relies on are in `consts.rs`, the same for all.
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

#[cfg(not(mca_sys_bindings))]
mod generated {
    // Linking comes from mysqlclient-sys.
    use mysqlclient_sys as _;
    include!(concat!(env!("OUT_DIR"), "/bindings.rs"));
}

#[cfg(not(mca_sys_bindings))]
pub(crate) use generated::*;

#[cfg(mca_sys_bindings)]
pub(crate) use mysqlclient_sys::*;

/// A C `my_bool` / `bool` result as a Rust `bool` (Connector/C uses `char`,
/// Oracle's client `bool`).
pub(crate) trait Truth {
    fn truth(self) -> bool;
}

impl Truth for bool {
    fn truth(self) -> bool {
        self
    }
}

impl Truth for i8 {
    fn truth(self) -> bool {
        self != 0
    }
}
