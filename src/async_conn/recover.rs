//! Getting a connection back after a call overran its query timeout: `KILL QUERY`
//! from a side connection while the interrupted command is finished, both within
//! the options' `cancel_timeout`.

use std::future::{poll_fn, Future};
use std::task::Poll;
use std::time::Duration;

use super::connection::AsyncConn;
use crate::cancel::{CancelToken, KillStage};
use crate::error::{Error, ErrorKind};
use crate::raw::Phase;

impl AsyncConn {
    /// A call overran its query timeout (its future was dropped where it stood).
    /// Within the options' `cancel_timeout`, stop the query on the server with
    /// `KILL QUERY` from a side connection while finishing the interrupted command,
    /// so the connection is usable again; if that does not complete in time, mark
    /// the connection broken. The error says which of these happened.
    pub(crate) async fn recover_from_timeout(&mut self, limit: Duration) -> Error {
        let what = if self.call_sent {
            format!("the call exceeded its {limit:?} timeout")
        } else {
            format!(
                "timed out after {limit:?} while finishing what an earlier, abandoned call left \
                 on this connection (this call's own statement was not sent)"
            )
        };
        let fail = |this: &mut AsyncConn, why: String| {
            this.raw.set_phase(Phase::Broken);
            Error::new(
                ErrorKind::Timeout,
                format!("{what}; {why}; the connection is out of sync and was marked broken"),
            )
            .with_fatal(true)
        };
        if self.raw.phase() == Phase::Broken {
            return fail(self, "the connection had already failed".into());
        }
        if !self.has_pending_work() {
            return Error::new(
                ErrorKind::Timeout,
                format!("{what}; the connection is in sync"),
            )
            .with_fatal(false);
        }
        if self.call_sent {
            // The span of the interrupted query ends as timed out.
            self.raw.trace_timeout();
        }
        let budget = self.opts.cancel_timeout();
        let token = self.cancel_token();
        let stage = std::sync::Mutex::new(KillStage::Connecting);
        let work = async {
            let kill = token.kill_with_progress(&stage);
            let drain = self.ensure_idle();
            join2(kill, drain).await
        };
        let outcome = tokio::time::timeout(budget, work).await;
        let stage = stage.into_inner().unwrap_or_else(|e| e.into_inner());
        match outcome {
            Ok((Ok(()), Ok(()))) => Error::new(
                ErrorKind::Timeout,
                format!(
                    "{what}; KILL QUERY was sent from a side connection and the connection is back in sync"
                ),
            )
            .with_fatal(false),
            Ok((Err(k), Ok(()))) => Error::new(
                ErrorKind::Timeout,
                format!(
                    "{what}; KILL QUERY could not be sent ({k}), but the server finished the query meanwhile and the connection is back in sync"
                ),
            )
            .with_fatal(false),
            Ok((k, Err(d))) => {
                let kill = match k {
                    Ok(()) => "KILL QUERY was sent".to_string(),
                    Err(k) => format!("KILL QUERY could not be sent ({k})"),
                };
                fail(self, format!("{kill}, and finishing the command failed: {d}"))
            }
            Err(_) => fail(
                self,
                format!(
                    "within the cancel timeout ({budget:?}) {}, and the server did not finish answering",
                    stage.describe()
                ),
            ),
        }
    }

    /// A token that can cancel this connection's running query from elsewhere.
    pub fn cancel_token(&self) -> CancelToken {
        CancelToken::new(self.opts.clone(), self.raw.thread_id())
    }
}

/// Run two futures concurrently until both are done.
async fn join2<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let (mut a, mut b) = (std::pin::pin!(a), std::pin::pin!(b));
    let (mut ra, mut rb) = (None, None);
    poll_fn(|cx| {
        if ra.is_none() {
            if let Poll::Ready(v) = a.as_mut().poll(cx) {
                ra = Some(v);
            }
        }
        if rb.is_none() {
            if let Poll::Ready(v) = b.as_mut().poll(cx) {
                rb = Some(v);
            }
        }
        match (ra.take(), rb.take()) {
            (Some(x), Some(y)) => Poll::Ready((x, y)),
            (x, y) => {
                (ra, rb) = (x, y);
                Poll::Pending
            }
        }
    })
    .await
}
