//! Cancelling a running query from elsewhere: `KILL QUERY` over a side connection.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use crate::async_conn::AsyncConn;
use crate::conn::Conn;
use crate::error::{Error, ErrorKind, Result};
use crate::opts::{IoMode, Opts};

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
/// queries that are known to be long, or through a query timeout
/// ([`AsyncConn::set_query_timeout`]), which waits for the kill and the drain and
/// so never lets a late `KILL` reach the next query. Bounded by the options'
/// `cancel_timeout`.
#[derive(Clone, Debug)]
pub struct CancelToken {
    opts: Opts,
    blocking_opts: Opts,
    thread_id: u64,
}

impl CancelToken {
    pub(crate) fn new(opts: Opts, thread_id: u64) -> CancelToken {
        // The side connection runs no init SQL: it may have side effects, and
        // `KILL QUERY` needs no session setup.
        let limit = opts.cancel_timeout();
        let side = opts
            .to_builder()
            .without_init_sql()
            .multi_statements(false)
            // The side connection never blocks the event loop, whatever the
            // connection it cancels uses (IoMode::NonBlocking falls back to the
            // portable path where the library lacks the non-blocking API).
            .io_mode(IoMode::NonBlocking)
            // A KILL never waits in the queue of a connect storm (its own
            // timeout is short, and it frees the server rather than loading it).
            .max_concurrent_connects(0);
        // The async side connection is bounded by `cancel_query`'s own timer; the
        // library's connect timeout (whole seconds) is set past it so that the timer,
        // which reports how far the KILL got, always decides.
        let opts = side
            .clone()
            .connect_timeout(limit + Duration::from_secs(1))
            .build();
        // The blocking one has only the library's timeouts.
        let blocking_opts = side
            .connect_timeout(limit)
            .read_timeout(limit)
            .write_timeout(limit)
            .build();
        CancelToken {
            opts,
            blocking_opts,
            thread_id,
        }
    }

    /// The server-side id of the connection this token cancels.
    pub fn thread_id(&self) -> u64 {
        self.thread_id
    }

    /// Kill the connection's running query, without blocking. Bounded by the
    /// options' `cancel_timeout` (default 1 s): connecting the side connection,
    /// sending `KILL QUERY` and saying goodbye; past it, an
    /// [`ErrorKind::Timeout`](crate::ErrorKind::Timeout) error says how far it got.
    pub fn cancel_query(&self) -> Pin<Box<dyn Future<Output = Result<()>> + Send + '_>> {
        // Boxed: a query timeout cancels through this, and this runs queries itself.
        Box::pin(async move {
            let budget = self.opts.cancel_timeout();
            let stage = Mutex::new(KillStage::Connecting);
            match tokio::time::timeout(budget, self.kill_with_progress(&stage)).await {
                Ok(r) => r,
                Err(_) => {
                    let stage = stage.into_inner().unwrap_or_else(|e| e.into_inner());
                    Err(Error::new(
                        ErrorKind::Timeout,
                        format!(
                            "cancelling the query of connection {}: within the cancel timeout ({budget:?}) {}",
                            self.thread_id,
                            stage.describe()
                        ),
                    )
                    .with_fatal(false))
                }
            }
        })
    }

    /// Connect the side connection and send `KILL QUERY`, recording how far it got
    /// in `stage` (read by a caller whose time limit cut this short).
    pub(crate) fn kill_with_progress<'a>(
        &'a self,
        stage: &'a Mutex<KillStage>,
    ) -> Pin<Box<dyn Future<Output = Result<()>> + Send + 'a>> {
        let set = move |s: KillStage| *stage.lock().unwrap_or_else(|e| e.into_inner()) = s;
        Box::pin(async move {
            let mut side = match AsyncConn::connect(&self.opts).await {
                Ok(c) => c,
                Err(e) => {
                    set(KillStage::ConnectFailed);
                    return Err(e.context("the side connection for KILL QUERY failed"));
                }
            };
            set(KillStage::Sending);
            side.query_drop(&format!("KILL QUERY {}", self.thread_id))
                .await
                .map_err(|e| e.context("KILL QUERY failed"))?;
            set(KillStage::Sent);
            // The goodbye is a courtesy: dropping closes the connection too.
            let _ = side.close().await;
            Ok(())
        })
    }

    /// Kill the connection's running query, blocking the calling thread. Bounded
    /// by the options' `cancel_timeout` through the library's connect, read and
    /// write timeouts (whole seconds).
    pub fn cancel_query_blocking(&self) -> Result<()> {
        let mut side = Conn::connect(&self.blocking_opts)?;
        side.query_drop(&format!("KILL QUERY {}", self.thread_id))?;
        side.close()
    }
}

/// How far a `KILL QUERY` got, for the error of a call whose time ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KillStage {
    /// The side connection was still connecting (no answer, or no greeting).
    Connecting,
    /// The side connection could not be made.
    ConnectFailed,
    /// `KILL QUERY` was sent; its answer had not arrived.
    Sending,
    /// The server confirmed the `KILL QUERY`.
    Sent,
}

impl KillStage {
    /// What happened, for an error message.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            KillStage::Connecting => {
                "the side connection for KILL QUERY could not connect (no answer or no greeting from the server), so the query may still be running"
            }
            KillStage::ConnectFailed => {
                "the side connection for KILL QUERY failed, so the query may still be running"
            }
            KillStage::Sending => {
                "KILL QUERY was sent but not confirmed, so the query may still be running"
            }
            KillStage::Sent => "KILL QUERY was confirmed by the server",
        }
    }
}
