//! [`Holder`]: a connection that a stream or transaction either borrows or owns
//! (a pooled connection, which goes back to its pool when the holder is dropped).

use std::ops::{Deref, DerefMut};

use super::connection::AsyncConn;

/// A connection a handle owns: the pool's checked-out connection. Boxed as a trait
/// object so that this module needs nothing from the pool.
pub(crate) trait OwnedConn: DerefMut<Target = AsyncConn> + Send {}

/// The connection behind a [`RowStream`](super::RowStream) or a
/// [`Transaction`](super::Transaction).
pub(crate) enum Holder<'c> {
    Borrowed(&'c mut AsyncConn),
    Owned(Box<dyn OwnedConn>),
}

impl Deref for Holder<'_> {
    type Target = AsyncConn;
    fn deref(&self) -> &AsyncConn {
        match self {
            Holder::Borrowed(c) => c,
            Holder::Owned(c) => c,
        }
    }
}

impl DerefMut for Holder<'_> {
    fn deref_mut(&mut self) -> &mut AsyncConn {
        match self {
            Holder::Borrowed(c) => c,
            Holder::Owned(c) => c,
        }
    }
}
