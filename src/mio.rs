//! `mio` integration: register a connection's socket with a `mio::Poll`.
//!
//! After [`Conn::send_query`], register the connection for
//! [`Interest::READABLE`](mio::Interest::READABLE); when the event arrives, the
//! server has answered and [`Conn::read_query_result`] returns without waiting for
//! the query to run. `examples/mio_loop.rs` runs many `SELECT SLEEP(1)` this way.
//!
//! When the connection is lost, the library closes its socket and the connection
//! stands in an always-readable descriptor (see [`AsFd`](std::os::fd::AsFd) for
//! [`Conn`]): registering it wakes the poll at once, and the next call reports the
//! error.

use std::io;
use std::os::fd::AsRawFd;

use mio::event::Source;
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

use crate::conn::Conn;

impl Source for Conn {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        SourceFd(&self.as_raw_fd()).register(registry, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        SourceFd(&self.as_raw_fd()).reregister(registry, token, interests)
    }

    /// Deregister the socket. After the connection was lost the library has closed
    /// it, which already removed it from the poll; that is not an error.
    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        if self.socket_closed() {
            return Ok(());
        }
        SourceFd(&self.as_raw_fd()).deregister(registry)
    }
}
