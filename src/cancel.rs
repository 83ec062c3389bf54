//! Cancelling a running query from elsewhere: `KILL QUERY` over a side connection.

use std::future::Future;
use std::pin::Pin;

use crate::async_conn::AsyncConn;
use crate::conn::Conn;
use crate::error::Result;
use crate::opts::Opts;

/// Cancels the query running on one connection. Cheap to clone and `Send + Sync`:
/// hand it to another task, a signal handler or a watchdog.
///
/// Cancellation opens a short-lived side connection with the same options and sends
/// `KILL QUERY <thread id>`. The query then fails with
/// [`ErrorKind::Cancelled`](crate::ErrorKind::Cancelled) (error 1317) and its
/// connection stays usable.
///
/// **It is racy by nature**: if the query finishes just before the `KILL` arrives,
/// the `KILL` may hit whatever that connection runs next, or nothing. Use it for
/// queries that are known to be long, or through a per-query timeout
/// ([`AsyncConn::set_query_timeout`]), which re-synchronises the connection.
#[derive(Clone, Debug)]
pub struct CancelToken {
    opts: Opts,
    thread_id: u64,
}

impl CancelToken {
    pub(crate) fn new(opts: Opts, thread_id: u64) -> CancelToken {
        // The side connection runs no init SQL: it may have side effects, and
        // `KILL QUERY` needs no session setup.
        let opts = opts
            .to_builder()
            .without_init_sql()
            .multi_statements(false)
            .build();
        CancelToken { opts, thread_id }
    }

    /// The server-side id of the connection this token cancels.
    pub fn thread_id(&self) -> u64 {
        self.thread_id
    }

    /// Kill the connection's running query, without blocking.
    pub fn cancel_query(&self) -> Pin<Box<dyn Future<Output = Result<()>> + Send + '_>> {
        // Boxed: a query timeout cancels through this, and this runs queries itself.
        Box::pin(async move {
            let mut side = AsyncConn::connect(&self.opts).await?;
            side.query_drop(&format!("KILL QUERY {}", self.thread_id))
                .await?;
            side.close().await
        })
    }

    /// Kill the connection's running query, blocking the calling thread.
    pub fn cancel_query_blocking(&self) -> Result<()> {
        let mut side = Conn::connect(&self.opts)?;
        side.query_drop(&format!("KILL QUERY {}", self.thread_id))?;
        side.close()
    }
}
