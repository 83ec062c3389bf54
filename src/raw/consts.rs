//! The protocol and client-library numbers the crate relies on. They are the
//! same in every flavour and version of the client library (client error codes
//! are fixed by `errmsg.h`, status and capability bits by the wire protocol), so
//! they are written here once instead of coming from whichever bindings are used;
//! builds that generate bindings check each against the headers at compile time.

/// Client error codes (`errmsg.h`).
pub(crate) const CR_MIN_ERROR: u32 = 2000;
pub(crate) const CR_MAX_ERROR: u32 = 2999;
pub(crate) const CR_CONNECTION_ERROR: u32 = 2002;
pub(crate) const CR_CONN_HOST_ERROR: u32 = 2003;
pub(crate) const CR_SERVER_GONE_ERROR: u32 = 2006;
pub(crate) const CR_SERVER_LOST: u32 = 2013;
pub(crate) const CR_COMMANDS_OUT_OF_SYNC: u32 = 2014;
pub(crate) const CR_NET_PACKET_TOO_LARGE: u32 = 2020;
pub(crate) const CR_SSL_CONNECTION_ERROR: u32 = 2026;
pub(crate) const CR_SERVER_LOST_EXTENDED: u32 = 2055;
/// A prepared statement's result has a different number of columns than when it
/// was prepared (a table changed); its rows are still unread.
pub(crate) const CR_NEW_STMT_METADATA: u32 = 2057;

/// Server status flag: a transaction is open.
pub(crate) const SERVER_STATUS_IN_TRANS: u32 = 1;
/// Server status flag: the session state changed (`session_track_state_change`).
pub(crate) const SERVER_SESSION_STATE_CHANGED: u32 = 1 << 14;
/// Client capability flags.
pub(crate) const CLIENT_MULTI_STATEMENTS: u64 = 1 << 16;
pub(crate) const CLIENT_MULTI_RESULTS: u64 = 1 << 17;

// The casts are no-ops with some headers and needed with others.
#[cfg(not(mca_sys_bindings))]
#[allow(clippy::unnecessary_cast)]
const _: () = {
    use super::ffi;
    assert!(CR_MIN_ERROR == ffi::CR_MIN_ERROR as u32);
    assert!(CR_CONNECTION_ERROR == ffi::CR_CONNECTION_ERROR as u32);
    assert!(CR_CONN_HOST_ERROR == ffi::CR_CONN_HOST_ERROR as u32);
    assert!(CR_SERVER_GONE_ERROR == ffi::CR_SERVER_GONE_ERROR as u32);
    assert!(CR_SERVER_LOST == ffi::CR_SERVER_LOST as u32);
    assert!(CR_COMMANDS_OUT_OF_SYNC == ffi::CR_COMMANDS_OUT_OF_SYNC as u32);
    assert!(CR_NET_PACKET_TOO_LARGE == ffi::CR_NET_PACKET_TOO_LARGE as u32);
    assert!(CR_SSL_CONNECTION_ERROR == ffi::CR_SSL_CONNECTION_ERROR as u32);
    assert!(CR_SERVER_LOST_EXTENDED == ffi::CR_SERVER_LOST_EXTENDED as u32);
    assert!(CR_NEW_STMT_METADATA == ffi::CR_NEW_STMT_METADATA as u32);
    assert!(SERVER_STATUS_IN_TRANS == ffi::SERVER_STATUS_IN_TRANS as u32);
    assert!(SERVER_SESSION_STATE_CHANGED == ffi::SERVER_SESSION_STATE_CHANGED as u32);
    assert!(CLIENT_MULTI_STATEMENTS == ffi::CLIENT_MULTI_STATEMENTS as u64);
    assert!(CLIENT_MULTI_RESULTS == ffi::CLIENT_MULTI_RESULTS as u64);
};
