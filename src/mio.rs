//! `mio` integration: a [`Conn`] is a `mio::event::Source` (documented on [`Conn`]).

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
