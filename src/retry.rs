//! [`RetryPolicy`]: how the transaction helpers ([`Pool::transaction`] and
//! [`AsyncConn::transaction`]) run a transaction again after the server rolled it
//! back, and when they give up.
//!
//! [`Pool::transaction`]: crate::Pool::transaction
//! [`AsyncConn::transaction`]: crate::AsyncConn::transaction

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Outcome};
use crate::tx_options::TxOptions;

/// `ER_LOCK_WAIT_TIMEOUT`.
const ER_LOCK_WAIT_TIMEOUT: u32 = 1205;

/// When and how often a transaction helper runs a transaction again, and how it
/// waits in between. Cheap to clone.
///
/// A failed attempt is run again, from `BEGIN` on, only when nothing of it can
/// have been committed:
///
/// - the server rolled the transaction back ([`Outcome::TransactionRolledBack`]):
///   a deadlock (1213), a Galera certification conflict (1213, on any statement
///   or on `COMMIT`), MySQL group replication's refused `COMMIT` (3101), or the
///   connection lost in the middle of the transaction on a statement that does
///   not commit (the pool's helper then takes a fresh connection; the
///   connection's helper cannot and gives up);
/// - a lock wait timeout (1205), unless [`retry_lock_wait_timeout`](Self::retry_lock_wait_timeout)
///   is `false`: the server undid the statement, the helper rolls back the rest;
/// - a lost connection while beginning (the pool's helper only).
///
/// Never after an [`Outcome::Unknown`]: a `COMMIT` whose answer was lost may have
/// committed, and is returned as it is. Anything else (a duplicate key, a syntax
/// error, an error of your own code) is returned at once, after a rollback.
///
/// Between attempts it waits `initial_backoff × 2ⁿ⁻¹` for the n-th retry, capped
/// at `max_backoff`, and with jitter (the default) a random time between half of
/// that and all of it, so that the transactions that collided do not collide
/// again in step. The defaults: 5 attempts in all, 10 ms, 1 s, jitter on, lock
/// wait timeouts retried, plain `START TRANSACTION`.
///
/// ```
/// use mysqlclient_async::{IsolationLevel, RetryPolicy, TxOptions};
/// use std::time::Duration;
///
/// let policy = RetryPolicy::new()
///     .max_attempts(10)
///     .backoff(Duration::from_millis(5), Duration::from_millis(500))
///     .tx_options(TxOptions::new().isolation(IsolationLevel::ReadCommitted))
///     .on_retry(|r| eprintln!("attempt {} failed, again in {:?}: {}", r.attempt, r.delay, r.error));
/// assert_eq!(policy.get_max_attempts(), 10);
/// ```
#[derive(Clone)]
pub struct RetryPolicy {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    jitter: bool,
    lock_wait_timeout: bool,
    tx_options: TxOptions,
    on_retry: Option<OnRetry>,
}

/// The callback of [`RetryPolicy::on_retry`].
type OnRetry = Arc<dyn Fn(&RetryEvent<'_>) + Send + Sync>;

/// One failed attempt that is about to be run again (see
/// [`RetryPolicy::on_retry`]).
#[derive(Debug)]
#[non_exhaustive]
pub struct RetryEvent<'a> {
    /// The attempt that failed, from 1.
    pub attempt: u32,
    /// Why it failed.
    pub error: &'a Error,
    /// How long the helper waits before the next attempt.
    pub delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_secs(1),
            jitter: true,
            lock_wait_timeout: true,
            tx_options: TxOptions::new(),
            on_retry: None,
        }
    }
}

impl fmt::Debug for RetryPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryPolicy")
            .field("max_attempts", &self.max_attempts)
            .field("initial_backoff", &self.initial_backoff)
            .field("max_backoff", &self.max_backoff)
            .field("jitter", &self.jitter)
            .field("retry_lock_wait_timeout", &self.lock_wait_timeout)
            .field("tx_options", &self.tx_options)
            .field("on_retry", &self.on_retry.is_some())
            .finish()
    }
}

impl RetryPolicy {
    /// The defaults (see [`RetryPolicy`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// One attempt, no retry: the helper only begins, runs, commits (or rolls
    /// back) and classifies.
    pub fn no_retry() -> Self {
        Self::default().max_attempts(1)
    }

    /// Attempts in all, the first included (default 5; at least 1).
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// The wait before the first retry, and the longest wait (defaults 10 ms and
    /// 1 s). The wait doubles with each retry up to `max`.
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }

    /// Wait a random time between half the backoff and all of it (default
    /// `true`), or exactly the backoff.
    pub fn jitter(mut self, jitter: bool) -> Self {
        self.jitter = jitter;
        self
    }

    /// Run the transaction again after a lock wait timeout (1205; default
    /// `true`). The server answers it when a row lock stayed held by another
    /// transaction for `innodb_lock_wait_timeout`; a waiting transaction that
    /// holds locks of its own is usually better rolled back and run again than
    /// continued.
    pub fn retry_lock_wait_timeout(mut self, retry: bool) -> Self {
        self.lock_wait_timeout = retry;
        self
    }

    /// How each attempt begins its transaction (isolation level, access mode,
    /// snapshot; default: plain `START TRANSACTION`).
    pub fn tx_options(mut self, opts: TxOptions) -> Self {
        self.tx_options = opts;
        self
    }

    /// Call `f` for each failed attempt that is about to be run again (the
    /// attempt, its error, the wait before the next): for logging or counting.
    /// It runs on the helper's task, before the wait; keep it short.
    pub fn on_retry(mut self, f: impl Fn(&RetryEvent<'_>) + Send + Sync + 'static) -> Self {
        self.on_retry = Some(Arc::new(f));
        self
    }

    /// The number of attempts in all.
    pub fn get_max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// How each attempt begins its transaction.
    pub fn get_tx_options(&self) -> TxOptions {
        self.tx_options
    }

    /// The wait after the `retry`-th failed attempt (from 1), before jitter:
    /// `initial × 2^(retry − 1)`, at most `max`.
    pub fn backoff_for(&self, retry: u32) -> Duration {
        let doublings = retry.saturating_sub(1).min(30);
        self.initial_backoff
            .saturating_mul(1u32 << doublings)
            .min(self.max_backoff)
    }

    /// The wait after the `retry`-th failed attempt, jitter included.
    fn delay(&self, retry: u32) -> Duration {
        let full = self.backoff_for(retry);
        if !self.jitter {
            return full;
        }
        let half = full / 2;
        half + (full - half).mul_f64(random_unit())
    }

    /// Whether the failed attempt may run again: nothing of it can have been
    /// committed and the server's answer says a new attempt can succeed.
    /// `reconnects`: the next attempt gets a fresh connection if this one broke.
    fn retryable(&self, e: &Error, stage: Stage, reconnects: bool) -> bool {
        match stage {
            // Nothing of the transaction exists yet: a lost connection costs
            // nothing but the connection.
            Stage::Begin => e.is_fatal() && reconnects,
            Stage::Body | Stage::Commit => match e.outcome() {
                Outcome::TransactionRolledBack => reconnects || !e.is_fatal(),
                Outcome::Rejected => {
                    self.lock_wait_timeout && e.code() == Some(ER_LOCK_WAIT_TIMEOUT)
                }
                _ => false,
            },
        }
    }
}

/// Where in an attempt the error came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// `SET TRANSACTION` / `START TRANSACTION`.
    Begin,
    /// The caller's closure.
    Body,
    /// `COMMIT`.
    Commit,
}

impl Stage {
    fn name(self) -> &'static str {
        match self {
            Stage::Begin => "begin",
            Stage::Body => "body",
            Stage::Commit => "commit",
        }
    }
}

/// The attempts of one helper call.
pub(crate) struct Attempts<'p> {
    policy: &'p RetryPolicy,
    /// The current attempt, from 1.
    attempt: u32,
}

impl<'p> Attempts<'p> {
    pub(crate) fn new(policy: &'p RetryPolicy) -> Self {
        Attempts { policy, attempt: 1 }
    }

    /// The current attempt, from 1.
    #[cfg(test)]
    fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Attempt `attempt()` failed with `e` at `stage`: `Ok(delay)` to run it again
    /// after that wait (counted as the next attempt), or `Err` with the error to
    /// return, which says how many attempts were made.
    pub(crate) fn after_failure(
        &mut self,
        e: Error,
        stage: Stage,
        reconnects: bool,
    ) -> std::result::Result<Duration, Error> {
        let retryable = self.policy.retryable(&e, stage, reconnects);
        if !retryable || self.attempt >= self.policy.max_attempts {
            return Err(self.give_up(e, stage, retryable));
        }
        let delay = self.policy.delay(self.attempt);
        tracing::debug!(
            target: "mysqlclient_async::transaction",
            attempt = self.attempt,
            stage = stage.name(),
            error = %e,
            delay_ms = delay.as_secs_f64() * 1e3,
            "transaction rolled back; running it again"
        );
        if let Some(f) = &self.policy.on_retry {
            f(&RetryEvent {
                attempt: self.attempt,
                error: &e,
                delay,
            });
        }
        self.attempt += 1;
        Ok(delay)
    }

    fn give_up(&self, e: Error, stage: Stage, retryable: bool) -> Error {
        let n = self.attempt;
        if retryable {
            tracing::warn!(
                target: "mysqlclient_async::transaction",
                attempts = n,
                stage = stage.name(),
                error = %e,
                "transaction gave up: no attempts left"
            );
            e.context(format!(
                "transaction gave up after {n} attempt(s) (the retry policy's max_attempts)"
            ))
        } else if n > 1 {
            tracing::debug!(
                target: "mysqlclient_async::transaction",
                attempt = n,
                stage = stage.name(),
                error = %e,
                "transaction failed with an error that is not retried"
            );
            e.context(format!("transaction failed on attempt {n}"))
        } else {
            e
        }
    }
}

/// A number in [0, 1) for the jitter: splitmix64 over a process-wide counter
/// seeded from the clock (no dependency on a random number crate; the jitter only
/// needs to differ between concurrent callers).
fn random_unit() -> f64 {
    static STATE: AtomicU64 = AtomicU64::new(0);
    const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;
    let clock = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut z = STATE
        .fetch_add(GOLDEN, Ordering::Relaxed)
        .wrapping_add(clock);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn server(code: u32) -> Error {
        Error::from_code(code, "40001".into(), "m".into(), false)
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter_in_range() {
        let p = RetryPolicy::new()
            .backoff(Duration::from_millis(10), Duration::from_millis(70))
            .jitter(false);
        let waits: Vec<u64> = (1..=6).map(|n| p.delay(n).as_millis() as u64).collect();
        assert_eq!(waits, [10, 20, 40, 70, 70, 70]);
        assert_eq!(p.backoff_for(1000), Duration::from_millis(70));
        let p = p.jitter(true);
        for n in 1..=6 {
            let full = p.backoff_for(n);
            for _ in 0..200 {
                let d = p.delay(n);
                assert!(d >= full / 2 && d <= full, "{n}: {d:?} of {full:?}");
            }
        }
        // The jitter varies.
        let spread: std::collections::HashSet<u128> =
            (0..50).map(|_| p.delay(3).as_nanos()).collect();
        assert!(spread.len() > 10, "{spread:?}");
    }

    #[test]
    fn what_is_retried() {
        let p = RetryPolicy::new();
        let lost = || Error::from_code(2013, "HY000".into(), "lost".into(), false);
        // Deadlock / Galera conflict: on the same connection or a fresh one.
        for stage in [Stage::Body, Stage::Commit] {
            assert!(p.retryable(&server(1213), stage, false));
            assert!(p.retryable(&server(1213), stage, true));
            assert!(p.retryable(&server(1205), stage, false));
            assert!(!p.retryable(&server(1062), stage, true));
        }
        // A connection lost mid-transaction: only with a fresh connection.
        let rolled_back = lost().with_outcome(Outcome::TransactionRolledBack);
        assert!(p.retryable(&rolled_back, Stage::Body, true));
        assert!(!p.retryable(&rolled_back, Stage::Body, false));
        // A COMMIT whose answer was lost: never.
        assert_eq!(lost().outcome(), Outcome::Unknown);
        assert!(!p.retryable(&lost(), Stage::Commit, true));
        assert!(!p.retryable(&lost(), Stage::Body, true));
        // Begin: a lost connection, with a fresh one to come.
        assert!(p.retryable(&lost(), Stage::Begin, true));
        assert!(!p.retryable(&lost(), Stage::Begin, false));
        assert!(!p.retryable(&server(1064), Stage::Begin, true));
        // Lock wait timeouts can be turned off.
        let p = p.retry_lock_wait_timeout(false);
        assert!(!p.retryable(&server(1205), Stage::Body, true));
        let e = Error::new(ErrorKind::Params, "bad");
        assert!(!p.retryable(&e, Stage::Body, true));
    }

    #[test]
    fn attempts_are_bounded_and_counted() {
        let seen = Arc::new(AtomicU64::new(0));
        let s = seen.clone();
        let p = RetryPolicy::new()
            .max_attempts(3)
            .backoff(Duration::ZERO, Duration::ZERO)
            .on_retry(move |r| {
                assert_eq!(r.error.code(), Some(1213));
                s.fetch_add(u64::from(r.attempt), Ordering::Relaxed);
            });
        let mut a = Attempts::new(&p);
        assert!(a.after_failure(server(1213), Stage::Body, false).is_ok());
        assert!(a.after_failure(server(1213), Stage::Commit, false).is_ok());
        assert_eq!(a.attempt(), 3);
        let e = a
            .after_failure(server(1213), Stage::Body, false)
            .unwrap_err();
        assert_eq!(e.code(), Some(1213));
        assert_eq!(e.outcome(), Outcome::TransactionRolledBack);
        assert!(e.to_string().contains("gave up after 3 attempt(s)"), "{e}");
        // Attempts 1 and 2 were reported.
        assert_eq!(seen.load(Ordering::Relaxed), 3);
        // Not retryable: returned as it is on the first attempt.
        let mut a = Attempts::new(&p);
        let e = a
            .after_failure(server(1062), Stage::Body, true)
            .unwrap_err();
        assert!(!e.to_string().contains("attempt"), "{e}");
        assert_eq!(RetryPolicy::no_retry().get_max_attempts(), 1);
        assert_eq!(RetryPolicy::new().max_attempts(0).get_max_attempts(), 1);
    }
}
