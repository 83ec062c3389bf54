//! Process-wide state of the C library: its one-time initialisation, the
//! per-thread registration, and the stand-in socket for connections whose socket
//! the library closed.

use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd};
use std::ptr;
use std::sync::{Once, OnceLock};

use super::ffi;
use crate::error::Result;

static LIBRARY_INIT: Once = Once::new();

/// See [`dead_socket`].
static DEAD_SOCKET: OnceLock<OwnedFd> = OnceLock::new();

/// Create the stand-in for closed sockets once per process (see
/// [`RawConn::socket_fd`]): one end of a socket pair whose other end is closed.
pub(crate) fn init_dead_socket() -> Result<()> {
    if DEAD_SOCKET.get().is_some() {
        return Ok(());
    }
    let mut fds = [-1; 2];
    // SAFETY: socketpair writes two descriptors into the array on success.
    let rc = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    // SAFETY: both descriptors were just created and are owned by nobody else.
    let (keep, peer) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(peer);
    // A racing thread may have set it first; then ours is closed here.
    let _ = DEAD_SOCKET.set(keep);
    Ok(())
}

/// The stand-in descriptor for a connection whose socket the library closed.
pub(crate) fn dead_socket() -> BorrowedFd<'static> {
    DEAD_SOCKET
        .get()
        .expect("created by RawConn::new before any connection exists")
        .as_fd()
}

/// Initialise the C library exactly once per process, before the first handle, and
/// the calling thread for it.
pub(crate) fn library_init() {
    LIBRARY_INIT.call_once(|| {
        // SAFETY: mysql_server_init (what the mysql_library_init macro expands to)
        // with no arguments; `Once` guarantees a single call before any handle exists.
        let rc = unsafe { ffi::mysql_server_init(0, ptr::null_mut(), ptr::null_mut()) };
        assert_eq!(
            rc, 0,
            "mysql_library_init failed: the client library cannot start"
        );
    });
    thread_init();
}

thread_local! {
    static THREAD_GUARD: ThreadGuard = ThreadGuard::new();
}

/// Calls `mysql_thread_init` when a thread first uses the library and
/// `mysql_thread_end` when that thread exits (Oracle's library keeps per-thread state;
/// for MariaDB Connector/C both are no-ops).
struct ThreadGuard;

impl ThreadGuard {
    fn new() -> ThreadGuard {
        // SAFETY: per-thread initialisation; library_init has already run.
        unsafe { ffi::mysql_thread_init() };
        ThreadGuard
    }
}

impl Drop for ThreadGuard {
    fn drop(&mut self) {
        // SAFETY: pairs with the mysql_thread_init of this same thread.
        unsafe { ffi::mysql_thread_end() };
    }
}

/// Register the current thread with the library (cheap after the first call).
pub(crate) fn thread_init() {
    THREAD_GUARD.with(|_| {});
}
