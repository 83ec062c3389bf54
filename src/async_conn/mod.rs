//! The tokio connection (documented on [`AsyncConn`]).

// | file | owns |
// |---|---|
// | `connection.rs` | `AsyncConn`: connecting, the public calls, closing |
// | `protocol.rs` | the protocol steps: send, result headers, rows, draining |
// | `statement.rs` | server-side prepared statements (non-blocking) |
// | `stream.rs` | `RowStream`, rows as they arrive |
// | `holder.rs` | a connection a stream or transaction borrows or owns (a pool's) |
// | `transaction.rs` | `Transaction`, the guard that rolls back |
// | `recover.rs` | getting back in sync after a call overran its timeout |
// | `outcome.rs` | what a failed call's error means, in its context (`Outcome`) |
// | `drive.rs` | the tokio side of the drive loop (reactor and timers) |
// | `mux.rs` | the runtime's epoll set of library sockets that the reactor watches |
// | `routing.rs` | connecting to one of several hosts by role; the node check |
// | `slots.rs` | the fair queue that bounds concurrent connects to one server |

/// Run one public call's body under the connection's query timeout (see
/// `AsyncConn::recover_from_timeout` in `recover.rs`), and give its error the
/// outcome its context implies (see `outcome.rs`).
macro_rules! timed {
    ($self:ident, $body:expr) => {{
        $self.call_sent = false;
        let in_tx = $self.transaction_at_call_start();
        let r = match $self.query_timeout {
            None => $body.await,
            Some(limit) => match tokio::time::timeout(limit, $body).await {
                Ok(r) => r,
                Err(_) => Err($self.recover_from_timeout(limit).await),
            },
        };
        r.map_err(|e| $self.in_context(e, in_tx))
    }};
}

mod connection;
mod drive;
mod holder;
mod mux;
mod outcome;
mod protocol;
mod recover;
mod routing;
mod slots;
mod statement;
mod stream;
mod transaction;

pub use connection::AsyncConn;
pub(crate) use holder::{Holder, OwnedConn};
pub use stream::RowStream;
pub(crate) use transaction::run_attempt;
pub use transaction::Transaction;
