//! Handshake slots: a fair bound on the connects one process runs at once to one
//! server (`OptsBuilder::max_concurrent_connects`).
//!
//! A cold pool under load asks for thousands of connections in the same
//! millisecond. Started all at once, their SYNs overflow the server's listen queue
//! (`back_log`, 80 on a default MariaDB): the kernel drops them, the client
//! retransmits after 1, 3, 7, 15 s, and connects fail on their timeout, or time
//! out on the server's side mid-handshake ("aborted connects"). Through a queue of
//! slots the server sees a steady stream it can accept at its own pace, and the
//! whole storm finishes sooner.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::time::Instant;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::opts::Opts;

/// One queue per (target, limit), for the life of the process: a handful per
/// server a process talks to.
type Slots = Mutex<HashMap<(String, usize), Arc<Shared>>>;

struct Shared {
    sem: Arc<Semaphore>,
    /// When a connect to this target last succeeded.
    last_success: Mutex<Option<Instant>>,
}

fn slots() -> &'static Slots {
    static SLOTS: OnceLock<Slots> = OnceLock::new();
    SLOTS.get_or_init(Default::default)
}

/// Where the options connect: the socket path, or host and port.
pub(super) fn target(opts: &Opts) -> String {
    match opts.socket() {
        Some(p) => p.display().to_string(),
        None => format!("{}:{}", opts.host(), opts.port()),
    }
}

/// The queue of connects to one target with one limit.
pub(super) struct Queue {
    shared: Arc<Shared>,
    limit: usize,
}

impl Queue {
    /// The queue for these options, or `None` when they set no limit.
    pub(super) fn of(opts: &Opts) -> Option<Queue> {
        let limit = opts.max_concurrent_connects()?;
        let shared = slots()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((target(opts), limit))
            .or_insert_with(|| {
                Arc::new(Shared {
                    sem: Arc::new(Semaphore::new(limit)),
                    last_success: Mutex::new(None),
                })
            })
            .clone();
        Some(Queue { shared, limit })
    }

    /// Wait for a slot, first come first served (tokio's semaphore is fair).
    /// Dropping the future leaves the queue; dropping the permit frees the slot.
    ///
    /// With a `bound`, give up (`None`) once the wait has lasted that long and
    /// no connect to this target has succeeded for that long either: a queue that
    /// moves is waited out however long it is, one stuck behind a server that
    /// answers nobody is not.
    pub(super) async fn turn(&self, bound: Option<Duration>) -> Option<OwnedSemaphorePermit> {
        let acquire = async {
            self.shared
                .sem
                .clone()
                .acquire_owned()
                .await
                .expect("the semaphore is never closed")
        };
        let Some(bound) = bound else {
            return Some(acquire.await);
        };
        tokio::pin!(acquire);
        let mut deadline = Instant::now() + bound;
        loop {
            match tokio::time::timeout_at(deadline, &mut acquire).await {
                Ok(turn) => return Some(turn),
                Err(_) => {
                    let last = *self
                        .shared
                        .last_success
                        .lock()
                        .unwrap_or_else(|e| e.into_inner());
                    match last {
                        Some(t) if t + bound > Instant::now() => deadline = t + bound,
                        _ => return None,
                    }
                }
            }
        }
    }

    /// A connect to this target succeeded: the queue is moving.
    pub(super) fn succeeded(&self) {
        *self
            .shared
            .last_success
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
    }

    /// Connects to this target holding a slot right now.
    pub(super) fn in_flight(&self) -> usize {
        self.limit - self.shared.sem.available_permits().min(self.limit)
    }

    /// The limit.
    pub(super) fn limit(&self) -> usize {
        self.limit
    }
}
