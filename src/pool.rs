//! The connection pool (documented on [`Pool`]).

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool::managed::{self, Metrics, Object, RecycleError, RecycleResult};

use crate::async_conn::{run_attempt, AsyncConn, Holder, OwnedConn, RowStream, Transaction};
use crate::error::{Error, ErrorKind, Result};
use crate::opts::{IntoOpts, Opts};
use crate::params::Params;
use crate::retry::{Attempts, RetryPolicy};
use crate::row::{ExecResult, FromRow, ResultSet};
use crate::statement::StatementLike;
use crate::tx_options::TxOptions;

/// Pool settings (see [`PoolBuilder`] for each one's meaning and default).
#[derive(Debug, Clone)]
struct Settings {
    max_size: usize,
    min_idle: usize,
    acquire_timeout: Option<Duration>,
    idle_timeout: Option<Duration>,
    max_lifetime: Option<Duration>,
    ping_after_idle: Duration,
    cleanup_timeout: Duration,
    health_check_timeout: Duration,
    reset_on_return: bool,
    always_reset: bool,
}

/// State shared by the pool, its manager and its connections.
struct Shared {
    opts: Opts,
    settings: Settings,
    /// The server's `wait_timeout`, read once from the first connection; the
    /// default max lifetime stays below it.
    wait_timeout: Mutex<Option<Duration>>,
    /// The role a new session starts with (read with `wait_timeout`): a reset
    /// does not restore the role, so a borrower's `SET ROLE` is undone with it.
    login_role: Mutex<Option<String>>,
    last_connect_error: Mutex<Option<String>>,
    created: AtomicU64,
    discarded: AtomicU64,
    retried: AtomicU64,
    resets: AtomicU64,
    fallbacks: AtomicU64,
    /// Transactions run again by [`Pool::transaction`].
    tx_retries: AtomicU64,
    /// What the pool learnt about the session reset (see [`ResetSupport`]).
    reset: ResetSupport,
}

impl Shared {
    fn discard(&self, why: &str) {
        self.discarded.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(target: "mysqlclient_async::pool", reason = why, "discarding connection");
    }

    /// Max lifetime in force: the configured one, or 90% of the server's wait_timeout.
    fn max_lifetime(&self) -> Option<Duration> {
        let server = self.wait_timeout.lock().unwrap().map(|w| w.mul_f64(0.9));
        match (self.settings.max_lifetime, server) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// The deadpool manager: creates and checks connections.
struct Manager {
    shared: Arc<Shared>,
}

impl managed::Manager for Manager {
    type Type = AsyncConn;
    type Error = Error;

    async fn create(&self) -> Result<AsyncConn> {
        match AsyncConn::connect(&self.shared.opts).await {
            Ok(mut conn) => {
                self.shared.created.fetch_add(1, Ordering::Relaxed);
                if self.shared.settings.reset_on_return {
                    conn.watch_untracked();
                    if !self.shared.settings.always_reset {
                        conn.track_session_state().await;
                    }
                }
                let unknown = self.shared.wait_timeout.lock().unwrap().is_none();
                if unknown {
                    let sql = "SELECT @@wait_timeout, CURRENT_ROLE()";
                    if let Ok((secs, role)) = conn.query_one::<(u64, Option<String>)>(sql).await {
                        *self.shared.wait_timeout.lock().unwrap() = Some(Duration::from_secs(secs));
                        *self.shared.login_role.lock().unwrap() = role;
                    }
                }
                tracing::debug!(target: "mysqlclient_async::pool", thread_id = conn.thread_id(), "connection created");
                Ok(conn)
            }
            Err(e) => {
                tracing::warn!(target: "mysqlclient_async::pool", error = %e, "connect failed");
                *self.shared.last_connect_error.lock().unwrap() = Some(e.to_string());
                Err(e)
            }
        }
    }

    async fn recycle(&self, conn: &mut AsyncConn, metrics: &Metrics) -> RecycleResult<Error> {
        // If the caller gives up (its acquire timeout) while this check runs, the
        // connection is dropped mid-check: count it as discarded too.
        struct Pending<'a>(&'a Shared, bool);
        impl Drop for Pending<'_> {
            fn drop(&mut self) {
                if self.1 {
                    self.0.discard("checkout abandoned during the health check");
                }
            }
        }
        let mut pending = Pending(&self.shared, true);
        let r = self.check(conn, metrics).await;
        pending.1 = false;
        r
    }
}

impl Manager {
    async fn check(&self, conn: &mut AsyncConn, metrics: &Metrics) -> RecycleResult<Error> {
        let reject = |why: &'static str| {
            self.shared.discard(why);
            Err(RecycleError::message(why))
        };
        if conn.is_broken() {
            return reject("broken");
        }
        if conn.has_pending_work() {
            return reject("command in flight");
        }
        if self
            .shared
            .max_lifetime()
            .is_some_and(|m| metrics.age() >= m)
        {
            return reject("max lifetime reached");
        }
        let idle = metrics.last_used();
        if self.shared.settings.idle_timeout.is_some_and(|t| idle >= t) {
            return reject("idle timeout");
        }
        if !conn.peek_alive() {
            return reject("socket closed by the server");
        }
        if conn.node_unfit() {
            return reject("its server refused a statement as not ready or read-only");
        }
        if idle >= self.shared.settings.ping_after_idle {
            let limit = self.shared.settings.health_check_timeout;
            if conn.node().is_some() {
                // A ping does not see a demoted primary or a Galera node that left
                // the Synced state or lost quorum: ask the server.
                match tokio::time::timeout(limit, Box::pin(conn.check_node())).await {
                    Ok(Ok(node)) => {
                        if let Err(why) =
                            crate::cluster::still_fits(self.shared.opts.target(), &node)
                        {
                            tracing::debug!(target: "mysqlclient_async::pool", reason = %why, "node check failed");
                            return reject("its server no longer has the role or health asked for");
                        }
                    }
                    Ok(Err(_)) => return reject("node check failed"),
                    Err(_) => return reject("node check timed out (health check timeout)"),
                }
            } else {
                match tokio::time::timeout(limit, conn.ping()).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => return reject("ping failed"),
                    Err(_) => return reject("ping timed out (health check timeout)"),
                }
            }
        }
        Ok(())
    }
}

/// Builds a [`Pool`].
pub struct PoolBuilder {
    opts: Result<Opts>,
    settings: Settings,
}

impl PoolBuilder {
    /// Most connections open at once (default: 10).
    pub fn max_size(mut self, n: usize) -> Self {
        self.settings.max_size = n.max(1);
        self
    }
    /// Connections opened when the pool is built and kept idle (default 0).
    pub fn min_idle(mut self, n: usize) -> Self {
        self.settings.min_idle = n;
        self
    }
    /// How long [`Pool::get`] may take in all (default 30 s; `None`: forever):
    /// waiting for a free connection, health checks of idle ones, connecting a new
    /// one. The timeout error names the pool's state and the last connect error.
    pub fn acquire_timeout(mut self, t: impl Into<Option<Duration>>) -> Self {
        self.settings.acquire_timeout = t.into();
        self
    }
    /// Discard connections idle for longer than this (default 10 min).
    pub fn idle_timeout(mut self, t: impl Into<Option<Duration>>) -> Self {
        self.settings.idle_timeout = t.into();
        self
    }
    /// Discard connections older than this (default: 30 min, and never more than
    /// 90% of the server's `wait_timeout`).
    pub fn max_lifetime(mut self, t: impl Into<Option<Duration>>) -> Self {
        self.settings.max_lifetime = t.into();
        self
    }
    /// Ping a connection at checkout when it has been idle this long (default 5 s).
    pub fn ping_after_idle(mut self, t: Duration) -> Self {
        self.settings.ping_after_idle = t;
        self
    }
    /// Longest the checkout ping may take before the connection is discarded and
    /// the next one tried (default 1 s). An idle connection whose server or network
    /// went silent costs at most this; the whole checkout stays within the
    /// acquire timeout.
    pub fn health_check_timeout(mut self, t: Duration) -> Self {
        self.settings.health_check_timeout = t;
        self
    }
    /// Longest a returned connection's cleanup (kill, drain, session reset) may take
    /// before the connection is discarded instead (default 5 s).
    pub fn cleanup_timeout(mut self, t: Duration) -> Self {
        self.settings.cleanup_timeout = t;
        self
    }

    /// Reset each changed session when it is returned (default: true; see
    /// [`Pool`]). With `false`, what a borrower sets in its session (variables,
    /// temporary tables, locks, the default database, `autocommit`) is seen by the
    /// next borrower; an open transaction is still rolled back.
    pub fn reset_on_return(mut self, reset: bool) -> Self {
        self.settings.reset_on_return = reset;
        self
    }

    /// Reset every returned connection, even one whose borrower left the session
    /// as it was (default `false`). By default the pool asks the server to flag
    /// session changes (`session_track_state_change`) and resets only the
    /// connections whose replies reported one (a variable, the schema, a
    /// temporary table, a transaction; an error also counts), so an untouched
    /// connection keeps its prepared statements and costs no round trip on return.
    pub fn always_reset(mut self, always: bool) -> Self {
        self.settings.always_reset = always;
        self
    }

    /// Build the pool. Call inside a tokio runtime: connections made later belong to
    /// it. With `min_idle > 0`, the idle connections are opened in the background.
    pub fn build(self) -> Result<Pool> {
        let opts = self.opts?;
        let settings = self.settings;
        let shared = Arc::new(Shared {
            opts,
            settings: settings.clone(),
            wait_timeout: Mutex::new(None),
            login_role: Mutex::new(None),
            last_connect_error: Mutex::new(None),
            created: AtomicU64::new(0),
            discarded: AtomicU64::new(0),
            retried: AtomicU64::new(0),
            resets: AtomicU64::new(0),
            fallbacks: AtomicU64::new(0),
            tx_retries: AtomicU64::new(0),
            reset: ResetSupport::default(),
        });
        let inner = managed::Pool::builder(Manager {
            shared: shared.clone(),
        })
        .max_size(settings.max_size)
        .wait_timeout(settings.acquire_timeout)
        .create_timeout(settings.acquire_timeout)
        .recycle_timeout(settings.acquire_timeout)
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .map_err(|e| {
            Error::new(ErrorKind::Config, format!("cannot build pool: {e}")).with_fatal(false)
        })?;
        let pool = Pool { inner, shared };
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let weak = pool.inner.weak();
            let shared = pool.shared.clone();
            handle.spawn(maintain(weak, shared));
        }
        Ok(pool)
    }
}

/// Background upkeep: evict idle and old connections, keep `min_idle` open.
/// Ends when the pool is dropped or closed.
async fn maintain(weak: managed::WeakPool<Manager>, shared: Arc<Shared>) {
    let s = &shared.settings;
    let period = [s.idle_timeout, shared.max_lifetime()]
        .into_iter()
        .flatten()
        .map(|d| d / 4)
        .min()
        .unwrap_or(Duration::from_secs(30))
        .clamp(Duration::from_millis(250), Duration::from_secs(30));
    let mut first = true;
    loop {
        if !first {
            tokio::time::sleep(period).await;
        }
        first = false;
        let Some(pool) = weak.upgrade() else { return };
        if pool.is_closed() {
            return;
        }
        let (idle, life) = (s.idle_timeout, shared.max_lifetime());
        let r = pool.retain(|_, m| {
            !(idle.is_some_and(|t| m.last_used() >= t) || life.is_some_and(|t| m.age() >= t))
        });
        for _ in &r.removed {
            shared.discard("evicted by maintenance");
        }
        drop(r);
        let status = pool.status();
        if status.size < s.min_idle {
            let mut held = Vec::new();
            for _ in status.size..s.min_idle {
                match pool.get().await {
                    Ok(c) => held.push(c),
                    Err(_) => break,
                }
            }
        }
    }
}

/// A pool of [`AsyncConn`]s on [`deadpool`], with the checks that keep stale, broken
/// and half-read connections away from callers. Cheap to clone (clones share the pool).
/// Build one with [`Pool::builder`]; [`Pool::get`] checks a connection out.
///
/// **Checkout** (deadpool's `recycle`): a connection is handed out only if it is not
/// broken, has nothing in flight, is younger than `max_lifetime`, has not idled past
/// `idle_timeout`, and a zero-round-trip peek at its socket (`recv` with
/// `MSG_PEEK | MSG_DONTWAIT`) finds neither EOF nor unexpected bytes. After
/// `ping_after_idle` of idleness it must also answer a (non-blocking) `COM_PING`.
/// Anything else is discarded and replaced by a fresh connection.
///
/// **Return** ([`PooledConn`]'s `Drop`): a broken connection is discarded. The
/// others are cleaned up in a background task before they go back: a command in
/// flight (its future was dropped, say by a timeout) is drained, or killed on the
/// server (`KILL QUERY`) if it is still running after a short grace; unread results
/// are drained without blocking. Then, **if the borrower changed the session**, it
/// is reset (`COM_RESET_CONNECTION`, through the non-blocking API) and the options'
/// database, the login role and the init SQL are applied again, so the next
/// borrower never sees the previous one's session: no user variables, session
/// variables (`sql_mode`, `autocommit`, …), temporary tables, locks from `GET_LOCK`,
/// open transaction or `HANDLER`, SQL-level prepared statements, `SET TRANSACTION`
/// characteristics, role, default database or query timeout. If any step fails,
/// the connection is discarded.
///
/// "Changed" is what the server flags (`session_track_state_change`, switched on for
/// pooled connections; an error reply counts too), plus what it does not flag and
/// the statement text shows: `GET_LOCK`, `SET TRANSACTION`, `SET ROLE`,
/// `HANDLER … OPEN`, `session_track_…`. An untouched connection goes back with no
/// round trip and keeps its prepared statements. Not seen: a user lock taken inside a
/// stored routine or trigger and never released (reset every return for that), and
/// the per-statement values `LAST_INSERT_ID()`, `FOUND_ROWS()`, `ROW_COUNT()` and
/// warnings, which carry over. [`PoolBuilder::always_reset`]`(true)` resets every
/// return; [`PoolBuilder::reset_on_return`]`(false)` never resets, and then only
/// an open transaction is rolled back (and the query timeout cleared), while
/// everything else the borrower set stays for the next one.
///
/// ```no_run
/// # async fn demo() -> mysqlclient_async::Result<()> {
/// use mysqlclient_async::Pool;
/// use std::time::Duration;
///
/// let pool = Pool::builder("mysql://root@127.0.0.1:3306/test")
///     .max_size(32)
///     .min_idle(4)
///     .acquire_timeout(Duration::from_secs(2))
///     .build()?;
/// let mut conn = pool.get().await?;
/// let n: i64 = conn.query_one("SELECT 1").await?;
/// drop(conn); // back to the pool
/// // Single statements can go through the pool directly; a connection that died
/// // before the query was sent is replaced and the query retried once.
/// let n2: i64 = pool.query_one("SELECT 2").await?;
/// # let _ = (n, n2);
/// pool.close().await;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Pool {
    inner: managed::Pool<Manager>,
    shared: Arc<Shared>,
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("opts", &self.shared.opts)
            .field("metrics", &self.metrics())
            .finish()
    }
}

/// A snapshot of a pool's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolMetrics {
    /// Connections open now (idle + in use).
    pub size: usize,
    /// Idle connections.
    pub idle: usize,
    /// Connections handed out.
    pub in_use: usize,
    /// Callers waiting for a connection.
    pub waiting: usize,
    /// Largest size allowed.
    pub max_size: usize,
    /// Connections created since the pool was built.
    pub created: u64,
    /// Connections discarded (broken, stale, failed checks, failed cleanup).
    pub discarded: u64,
    /// Queries retried on a fresh connection by the pool's own query methods.
    pub retried: u64,
    /// Returned connections whose session was reset (see
    /// [`PoolBuilder::always_reset`]).
    pub resets: u64,
    /// [`Pool::get_caught_up`] calls that went to the fallback pool (the
    /// replica had not applied the write in time).
    pub fallbacks: u64,
    /// Transactions that [`Pool::transaction`] ran again after the server rolled
    /// them back (one per extra attempt).
    pub tx_retries: u64,
    /// The server, or a proxy in front of it, refuses the session reset
    /// (`COM_RESET_CONNECTION`): returned connections whose session changed are
    /// closed and replaced instead (see [`Pool`], "Behind a proxy").
    pub reset_unsupported: bool,
}

impl Pool {
    /// Start building a pool for these options (a URL, [`Opts`] or `&Opts`).
    pub fn builder(opts: impl IntoOpts) -> PoolBuilder {
        PoolBuilder {
            opts: opts.into_opts(),
            settings: Settings {
                max_size: 10,
                min_idle: 0,
                acquire_timeout: Some(Duration::from_secs(30)),
                idle_timeout: Some(Duration::from_secs(600)),
                max_lifetime: Some(Duration::from_secs(1800)),
                ping_after_idle: Duration::from_secs(5),
                cleanup_timeout: Duration::from_secs(5),
                health_check_timeout: Duration::from_secs(1),
                reset_on_return: true,
                always_reset: false,
            },
        }
    }

    /// Check out a connection, within the acquire timeout.
    pub async fn get(&self) -> Result<PooledConn> {
        let got = match self.shared.settings.acquire_timeout {
            // deadpool bounds each of its steps; this bounds them together.
            Some(t) => tokio::time::timeout(t, self.inner.get())
                .await
                .unwrap_or(Err(managed::PoolError::Timeout(managed::TimeoutType::Wait))),
            None => self.inner.get().await,
        };
        match got {
            Ok(obj) => Ok(PooledConn {
                obj: Some(obj),
                shared: self.shared.clone(),
            }),
            Err(e) => Err(self.pool_error(e)),
        }
    }

    fn pool_error(&self, e: managed::PoolError<Error>) -> Error {
        use managed::PoolError;
        match e {
            PoolError::Backend(e) => e,
            PoolError::Timeout(kind) => {
                let m = self.metrics();
                let last = self.shared.last_connect_error.lock().unwrap().clone();
                let mut msg = format!(
                    "timed out after {:?} waiting for a connection ({kind:?}); pool size {}/{} with {} in use and {} waiting",
                    self.shared.settings.acquire_timeout.unwrap_or_default(),
                    m.size,
                    m.max_size,
                    m.in_use,
                    m.waiting
                );
                match last {
                    Some(l) => msg.push_str(&format!("; last connect error: {l}")),
                    None => msg.push_str(
                        "; no connect error so far: all connections are busy (raise max_size?)",
                    ),
                }
                Error::new(ErrorKind::Pool, msg).with_fatal(false)
            }
            PoolError::Closed => {
                Error::new(ErrorKind::Pool, "the pool is closed").with_fatal(false)
            }
            PoolError::NoRuntimeSpecified => {
                Error::new(ErrorKind::Pool, "the pool has no runtime").with_fatal(false)
            }
            PoolError::PostCreateHook(e) => {
                Error::new(ErrorKind::Pool, format!("post-create hook failed: {e}"))
                    .with_fatal(false)
            }
        }
    }

    /// Current counters.
    pub fn metrics(&self) -> PoolMetrics {
        let s = self.inner.status();
        PoolMetrics {
            size: s.size,
            idle: s.available,
            in_use: s.size.saturating_sub(s.available),
            waiting: s.waiting,
            max_size: s.max_size,
            created: self.shared.created.load(Ordering::Relaxed),
            discarded: self.shared.discarded.load(Ordering::Relaxed),
            retried: self.shared.retried.load(Ordering::Relaxed),
            resets: self.shared.resets.load(Ordering::Relaxed),
            fallbacks: self.shared.fallbacks.load(Ordering::Relaxed),
            tx_retries: self.shared.tx_retries.load(Ordering::Relaxed),
            reset_unsupported: self.shared.reset.refused(),
        }
    }

    /// The options new connections are made with.
    pub fn opts(&self) -> &Opts {
        &self.shared.opts
    }

    /// Close the pool: idle connections are closed now, connections in use when
    /// they come back, and waiting callers get an error. Never waits for borrowers.
    pub async fn close(&self) {
        self.inner.close();
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// A connection that has applied the write at `gtid` (from
    /// [`AsyncConn::last_gtid`] after a write on a primary): one of this pool's,
    /// once its server has applied that position (`MASTER_GTID_WAIT`, at most
    /// `wait`), or else one of `fallback`'s (the primary's pool), which has it.
    /// Read-your-writes on replicas, the way MaxScale's `causal_reads` does it.
    ///
    /// ```no_run
    /// # async fn demo() -> mysqlclient_async::Result<()> {
    /// use mysqlclient_async::Pool;
    /// use std::time::Duration;
    ///
    /// let hosts = "mysql://app:pw@db1:3306,db2:3306,db3:3306/shop";
    /// let primary = Pool::builder(format!("{hosts}?target=primary")).build()?;
    /// let replicas = Pool::builder(format!("{hosts}?target=replica&host_order=random")).build()?;
    ///
    /// let mut w = primary.get().await?;
    /// w.query_drop("UPDATE stock SET n = n - 1 WHERE id = 7").await?;
    /// let gtid = w.last_gtid().map(str::to_owned); // tracked on target=primary
    /// drop(w);
    ///
    /// let mut r = match &gtid {
    ///     Some(g) => replicas.get_caught_up(g, Duration::from_millis(500), &primary).await?,
    ///     None => replicas.get().await?,
    /// };
    /// let n: i64 = r.query_one("SELECT n FROM stock WHERE id = 7").await?;
    /// # let _ = n; Ok(()) }
    /// ```
    pub async fn get_caught_up(
        &self,
        gtid: &str,
        wait: Duration,
        fallback: &Pool,
    ) -> Result<PooledConn> {
        crate::cluster::check_gtid(gtid)?;
        let mut conn = self.get().await?;
        match conn.wait_for_gtid(gtid, wait).await {
            Ok(true) => return Ok(conn),
            Ok(false) => {
                tracing::debug!(target: "mysqlclient_async::pool", gtid, ?wait, "replica behind: reading from the fallback pool");
            }
            Err(e) => {
                tracing::debug!(target: "mysqlclient_async::pool", gtid, error = %e, "waiting for the GTID failed: reading from the fallback pool");
            }
        }
        drop(conn);
        self.shared.fallbacks.fetch_add(1, Ordering::Relaxed);
        fallback.get().await
    }

    /// Whether a failed pool-level query may run again on a fresh connection: only
    /// when sending it failed (the server never received all of it, so it cannot
    /// have run), and never inside a transaction.
    fn may_retry(&self, e: &Error, conn: &PooledConn) -> bool {
        let retry = e.is_unsent() && !conn.in_transaction();
        if retry {
            self.shared.retried.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(target: "mysqlclient_async::pool", error = %e, "sending failed, so the server cannot have run it; retrying once");
        }
        retry
    }
}

/// Run `$call` on a checked-out connection `$c`; if sending it failed (so the
/// server cannot have run it), once more on a fresh connection.
macro_rules! retry_once {
    ($pool:expr, |$c:ident| $call:expr) => {{
        let mut $c = $pool.get().await?;
        match $call.await {
            Err(e) if $pool.may_retry(&e, &$c) => {
                drop($c);
                let mut $c = $pool.get().await?;
                $call.await
            }
            r => r,
        }
    }};
}

/// One-shot calls: each checks out a connection, runs, and returns it. A call
/// whose connection failed while the statement was being sent (so the server
/// cannot have run it) is retried once on a fresh connection, never inside a
/// transaction; a write never runs twice. Streams and transactions own their
/// connection until they are dropped or end.
impl Pool {
    /// [`AsyncConn::query`] on a pooled connection.
    pub async fn query<T: FromRow>(&self, sql: &str) -> Result<Vec<T>> {
        retry_once!(self, |c| c.query::<T>(sql))
    }

    /// [`AsyncConn::query_one`] on a pooled connection.
    pub async fn query_one<T: FromRow>(&self, sql: &str) -> Result<T> {
        retry_once!(self, |c| c.query_one::<T>(sql))
    }

    /// [`AsyncConn::query_opt`] on a pooled connection.
    pub async fn query_opt<T: FromRow>(&self, sql: &str) -> Result<Option<T>> {
        retry_once!(self, |c| c.query_opt::<T>(sql))
    }

    /// [`AsyncConn::query_drop`] on a pooled connection.
    pub async fn query_drop(&self, sql: &str) -> Result<ExecResult> {
        retry_once!(self, |c| c.query_drop(sql))
    }

    /// The same as [`query_drop`](Self::query_drop), under the name sqlx uses.
    pub async fn execute(&self, sql: &str) -> Result<ExecResult> {
        self.query_drop(sql).await
    }

    /// [`AsyncConn::query_result`] on a pooled connection.
    pub async fn query_result(&self, sql: &str) -> Result<ResultSet> {
        retry_once!(self, |c| c.query_result(sql))
    }

    /// [`AsyncConn::exec`] on a pooled connection. (The parameters are copied
    /// for the retry.)
    pub async fn exec<T: FromRow, P: Params>(
        &self,
        stmt: &(impl StatementLike + ?Sized),
        params: P,
    ) -> Result<Vec<T>> {
        let values = params.into_values();
        retry_once!(self, |c| c.exec::<T, _>(stmt, values.clone()))
    }

    /// [`AsyncConn::exec_one`] on a pooled connection.
    pub async fn exec_one<T: FromRow, P: Params>(
        &self,
        stmt: &(impl StatementLike + ?Sized),
        params: P,
    ) -> Result<T> {
        let values = params.into_values();
        retry_once!(self, |c| c.exec_one::<T, _>(stmt, values.clone()))
    }

    /// [`AsyncConn::exec_opt`] on a pooled connection.
    pub async fn exec_opt<T: FromRow, P: Params>(
        &self,
        stmt: &(impl StatementLike + ?Sized),
        params: P,
    ) -> Result<Option<T>> {
        let values = params.into_values();
        retry_once!(self, |c| c.exec_opt::<T, _>(stmt, values.clone()))
    }

    /// [`AsyncConn::exec_drop`] on a pooled connection.
    pub async fn exec_drop<P: Params>(
        &self,
        stmt: &(impl StatementLike + ?Sized),
        params: P,
    ) -> Result<ExecResult> {
        let values = params.into_values();
        retry_once!(self, |c| c.exec_drop(stmt, values.clone()))
    }

    /// [`AsyncConn::exec_result`] on a pooled connection.
    pub async fn exec_result<P: Params>(
        &self,
        stmt: &(impl StatementLike + ?Sized),
        params: P,
    ) -> Result<ResultSet> {
        let values = params.into_values();
        retry_once!(self, |c| c.exec_result(stmt, values.clone()))
    }

    /// [`AsyncConn::exec_batch`] on one pooled connection. Not retried: the
    /// parameter sets are consumed as they are sent.
    pub async fn exec_batch<I>(
        &self,
        stmt: &(impl StatementLike + ?Sized),
        params: I,
    ) -> Result<ExecResult>
    where
        I: IntoIterator,
        I::Item: Params,
    {
        self.get().await?.exec_batch(stmt, params).await
    }

    /// [`AsyncConn::query_stream`] on a pooled connection, which the stream owns
    /// and returns to the pool when it is dropped.
    pub async fn query_stream<T: FromRow>(&self, sql: &str) -> Result<RowStream<'static, T>> {
        let mut c = self.get().await?;
        if let Err(e) = c.start_stream(sql).await {
            if !self.may_retry(&e, &c) {
                return Err(e);
            }
            drop(c);
            c = self.get().await?;
            c.start_stream(sql).await?;
        }
        RowStream::over(Holder::Owned(Box::new(c)))
    }

    /// [`AsyncConn::exec_stream`] on a pooled connection, which the stream owns
    /// and returns to the pool when it is dropped.
    pub async fn exec_stream<T: FromRow, P: Params>(
        &self,
        stmt: &(impl StatementLike + ?Sized),
        params: P,
    ) -> Result<RowStream<'static, T>> {
        let values = params.into_values();
        let mut c = self.get().await?;
        if let Err(e) = c.start_exec_stream(stmt, values.clone()).await {
            if !self.may_retry(&e, &c) {
                return Err(e);
            }
            drop(c);
            c = self.get().await?;
            c.start_exec_stream(stmt, values).await?;
        }
        RowStream::over(Holder::Owned(Box::new(c)))
    }

    /// Begin a transaction on a pooled connection, which the transaction owns and
    /// returns to the pool when it is committed, rolled back or dropped (a dropped
    /// transaction is rolled back before the connection is handed out again).
    pub async fn begin(&self) -> Result<Transaction<'static>> {
        self.begin_with(TxOptions::new()).await
    }

    /// [`begin`](Self::begin) with an isolation level, access mode or snapshot.
    pub async fn begin_with(&self, opts: TxOptions) -> Result<Transaction<'static>> {
        let c = self.get().await?;
        Transaction::start(Holder::Owned(Box::new(c)), opts).await
    }
}

impl OwnedConn for PooledConn {}

/// A connection checked out of a [`Pool`]; derefs to [`AsyncConn`]. Dropping it
/// returns it to the pool (after cleanup, see [`Pool`]).
pub struct PooledConn {
    obj: Option<Object<Manager>>,
    shared: Arc<Shared>,
}

impl PooledConn {
    /// Take the connection out of the pool for good (the pool may open another).
    pub fn detach(mut self) -> AsyncConn {
        Object::take(self.obj.take().expect("present until drop"))
    }
}

impl Deref for PooledConn {
    type Target = AsyncConn;
    fn deref(&self) -> &AsyncConn {
        self.obj.as_ref().expect("present until drop")
    }
}

impl DerefMut for PooledConn {
    fn deref_mut(&mut self) -> &mut AsyncConn {
        self.obj.as_mut().expect("present until drop")
    }
}

impl fmt::Debug for PooledConn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PooledConn").field(&**self).finish()
    }
}

impl Drop for PooledConn {
    fn drop(&mut self) {
        let Some(mut obj) = self.obj.take() else {
            return;
        };
        if obj.is_broken() {
            self.shared.discard("broken");
            drop(Object::take(obj));
            return;
        }
        if obj.node_unfit() {
            self.shared
                .discard("its server refused a statement as not ready or read-only");
            drop(Object::take(obj));
            return;
        }
        // The borrower's query timeout is not the next borrower's.
        obj.set_query_timeout(None);
        let untouched = if self.shared.settings.reset_on_return {
            !self.shared.settings.always_reset && obj.session_unchanged()
        } else {
            !obj.has_pending_work() && !obj.in_transaction()
        };
        if untouched {
            return; // straight back to the pool
        }
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                let shared = self.shared.clone();
                handle.spawn(cleanup(obj, shared));
            }
            Err(_) => {
                self.shared
                    .discard("returned mid-command outside a runtime");
                drop(Object::take(obj));
            }
        }
    }
}

/// How long a returned connection's abandoned query may run on before it is killed.
const KILL_GRACE: Duration = Duration::from_millis(25);

/// Bring a returned connection back to a clean state, or discard it.
async fn cleanup(mut obj: Object<Manager>, shared: Arc<Shared>) {
    if shared.settings.reset_on_return && shared.reset.refused() {
        // The reset would be refused again: the changed session cannot be
        // cleaned, so the connection is closed and a new one opened when needed.
        shared.discard("session changed and the session reset is refused: replaced");
        drop(Object::take(obj));
        return;
    }
    let limit = shared.settings.cleanup_timeout;
    let work = async {
        if obj.has_command_in_flight() {
            // The caller gave up on its query. Most finish within milliseconds:
            // drain for a short grace (cancel-safe: an unfinished drain resumes
            // below); only a query still running after that is killed on the server.
            if let Ok(r) = tokio::time::timeout(KILL_GRACE, obj.settle()).await {
                r.map_err(|_| "drain failed")?;
            }
        }
        if obj.has_command_in_flight() {
            let token = obj.cancel_token();
            tokio::time::timeout(limit, token.cancel_query())
                .await
                .map_err(|_| "kill timed out")?
                .map_err(|_| "kill failed")?;
        }
        obj.settle().await.map_err(|_| "drain failed")?;
        if shared.settings.reset_on_return {
            // Also ends any transaction.
            let role = shared.login_role.lock().unwrap().clone();
            let track = !shared.settings.always_reset;
            if let Err(e) = obj.reset_session(role.as_deref(), track).await {
                shared.reset.failed(&e);
                return Err("session reset failed");
            }
            shared.reset.succeeded();
            shared.resets.fetch_add(1, Ordering::Relaxed);
        } else if obj.in_transaction() {
            obj.query_drop("ROLLBACK")
                .await
                .map_err(|_| "rollback failed")?;
        }
        Ok::<(), &'static str>(())
    };
    match tokio::time::timeout(limit, work).await {
        Ok(Ok(())) if !obj.is_broken() => drop(obj), // back to the pool
        Ok(Err(why)) => {
            shared.discard(why);
            drop(Object::take(obj));
        }
        _ => {
            shared.discard("cleanup timed out");
            drop(Object::take(obj));
        }
    }
}

/// What a pool learnt about the session reset (`COM_RESET_CONNECTION`) of its
/// server, or of the proxy in front of it.
///
/// A refusal is remembered for the pool's life: from then on a returned
/// connection whose session changed is closed and replaced, without sending the
/// reset again. Refused means: the reset command got an error answer (an unknown
/// command: a proxy that does not support it, a server older than MySQL 5.7 or
/// MariaDB 10.2; or a client library without a non-blocking reset), or, while no
/// reset has ever succeeded on this pool, the connection was closed on the reset
/// twice in a row (what ProxySQL before 2.4 does with a command it does not know:
/// it drops the client connection).
#[derive(Default)]
struct ResetSupport {
    refused: AtomicBool,
    succeeded_once: AtomicBool,
    lost_in_a_row: AtomicU32,
}

impl ResetSupport {
    /// Connections lost on the reset, in a row and before any success, that mean
    /// the reset is refused.
    const LOST_MEANS_REFUSED: u32 = 2;

    fn refused(&self) -> bool {
        self.refused.load(Ordering::Relaxed)
    }

    fn succeeded(&self) {
        self.succeeded_once.store(true, Ordering::Relaxed);
        self.lost_in_a_row.store(0, Ordering::Relaxed);
    }

    /// The session reset of a returned connection failed with `e`.
    fn failed(&self, e: &Error) {
        if !e.is_from_reset() {
            // A later step (the database, the role, the init SQL).
            return;
        }
        let refused = if !e.is_fatal() {
            true
        } else if e.kind() == ErrorKind::ConnectionLost
            && !self.succeeded_once.load(Ordering::Relaxed)
        {
            self.lost_in_a_row.fetch_add(1, Ordering::Relaxed) + 1 >= Self::LOST_MEANS_REFUSED
        } else {
            false
        };
        if refused && !self.refused.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                target: "mysqlclient_async::pool",
                error = %e,
                "the server or a proxy refuses the session reset (COM_RESET_CONNECTION): returned \
                 connections whose session changed are closed and replaced from now on"
            );
        }
    }
}

/// Transactions run again when the server rolled them back.
impl Pool {
    /// Run `f` in a transaction on a pooled connection and commit; when the
    /// server rolls the transaction back (a deadlock, a Galera certification
    /// conflict, a lock wait timeout, or the connection lost in the middle of it:
    /// see [`RetryPolicy`]), run the whole of `f` again, after a backoff, on the
    /// same connection or, if it broke, on a fresh one; at most `policy`'s
    /// `max_attempts` times in all. Returns `f`'s value once the `COMMIT`
    /// succeeded, or the error that ended the attempts. Each extra attempt counts
    /// in [`PoolMetrics::tx_retries`].
    ///
    /// A `COMMIT` whose answer was lost ([`Outcome::Unknown`](crate::Outcome::Unknown))
    /// is never sent again: its error is returned, and the transaction may be
    /// committed (a proxy that dropped the `COMMIT` before the server and one that
    /// dropped the server's answer look the same to the client). An error `f`
    /// returns that is not retried (a duplicate key, say) rolls back and is
    /// returned at once.
    ///
    /// `f` may run several times, so it should do nothing but statements on the
    /// transaction it is given (or be idempotent). Inside `tokio::spawn`, write
    /// it `async move |tx| …`, owning what it uses (see
    /// [`AsyncConn::transaction`]).
    ///
    /// ```no_run
    /// # async fn demo(pool: mysqlclient_async::Pool) -> mysqlclient_async::Result<()> {
    /// use mysqlclient_async::RetryPolicy;
    ///
    /// let policy = RetryPolicy::new().max_attempts(10);
    /// let order_id = 42u64;
    /// let total: i64 = pool
    ///     .transaction(&policy, async move |tx| {
    ///         tx.exec_drop("UPDATE stock SET n = n - 1 WHERE item = (SELECT item FROM orders WHERE id = ?)", (order_id,))
    ///             .await?;
    ///         tx.exec_drop("UPDATE orders SET state = 'paid' WHERE id = ?", (order_id,)).await?;
    ///         tx.exec_one("SELECT total FROM orders WHERE id = ?", (order_id,)).await
    ///     })
    ///     .await?;
    /// println!("{total}; retried {} time(s) so far", pool.metrics().tx_retries);
    /// # Ok(()) }
    /// ```
    pub async fn transaction<T, F>(&self, policy: &RetryPolicy, mut f: F) -> Result<T>
    where
        F: AsyncFnMut(&mut Transaction<'_>) -> Result<T>,
    {
        let mut attempts = Attempts::new(policy);
        loop {
            let conn = self.get().await?;
            let holder = Holder::Owned(Box::new(conn));
            let (stage, e) = match run_attempt(holder, policy.get_tx_options(), &mut f).await {
                Ok(v) => return Ok(v),
                Err(failed) => failed,
            };
            match attempts.after_failure(e, stage, true) {
                Ok(delay) => {
                    self.shared.tx_retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(delay).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
}
