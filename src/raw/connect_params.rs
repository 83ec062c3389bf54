//! The strings a connect hands to the library.

use std::ffi::{c_char, c_uint, c_ulong, CString};
use std::ptr;

use super::consts;
use crate::error::{Error, ErrorKind, Result};
use crate::opts::Opts;

/// The strings `mysql_real_connect` reads. The non-blocking connect keeps reading
/// them until it finishes, so they live as long as the connect operation.
pub(crate) struct ConnectParams {
    host: Option<CString>,
    user: CString,
    password: CString,
    db: Option<CString>,
    socket: Option<CString>,
    port: c_uint,
    flags: c_ulong,
}

pub(crate) fn cstring(what: &str, s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| {
        Error::new(ErrorKind::Config, format!("{what} contains a NUL byte")).with_fatal(false)
    })
}

impl ConnectParams {
    /// Build the C strings. `host_override` replaces the host name (the async path
    /// passes the IP it resolved on the runtime, so the library never calls DNS).
    pub(crate) fn new(opts: &Opts, host_override: Option<&str>) -> Result<ConnectParams> {
        let socket = opts
            .socket()
            .map(|p| cstring("socket path", &p.to_string_lossy()))
            .transpose()?;
        let host = match (&socket, host_override) {
            (Some(_), _) => Some(cstring("host", "localhost")?),
            (None, Some(h)) => Some(cstring("host", h)?),
            (None, None) => Some(cstring("host", opts.host())?),
        };
        let mut flags = consts::CLIENT_MULTI_RESULTS as c_ulong;
        if opts.multi_statements() {
            flags |= consts::CLIENT_MULTI_STATEMENTS as c_ulong;
        }
        Ok(ConnectParams {
            host,
            user: cstring("user", opts.user())?,
            password: cstring("password", opts.password().expose())?,
            db: opts
                .db_name()
                .map(|d| cstring("database name", d))
                .transpose()?,
            socket,
            port: opts.port() as c_uint,
            flags,
        })
    }
}

fn opt_ptr(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(ptr::null(), |s| s.as_ptr())
}

/// The pointers a connect call takes, valid while the [`ConnectParams`] lives.
pub(crate) struct ConnectArgs {
    pub(crate) host: *const c_char,
    pub(crate) user: *const c_char,
    pub(crate) password: *const c_char,
    pub(crate) db: *const c_char,
    pub(crate) port: c_uint,
    pub(crate) socket: *const c_char,
    pub(crate) flags: c_ulong,
}

impl ConnectParams {
    /// The arguments of `mysql_real_connect` and its non-blocking variants.
    pub(crate) fn args(&self) -> ConnectArgs {
        ConnectArgs {
            host: opt_ptr(&self.host),
            user: self.user.as_ptr(),
            password: self.password.as_ptr(),
            db: opt_ptr(&self.db),
            port: self.port,
            socket: opt_ptr(&self.socket),
            flags: self.flags,
        }
    }
}
