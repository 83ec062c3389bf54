//! Dropping any future of this crate at any point is safe.
//!
//! The promise (README, `async_conn.rs`): after a future of this crate is dropped at
//! any await point, the next command on the same connection returns its own correct
//! result, or a clear [`ErrorKind::Broken`] error, within a bounded time, and nothing
//! blocks the runtime thread. This file checks it, and shows where it breaks:
//!
//! - `every_await_point_current_thread` / `every_await_point_multi_thread`: for each
//!   public async method, a fresh future is polled exactly k = 1, 2, 3, … times and
//!   dropped if still pending, then the same connection must answer
//!   `SELECT '<unique token>'` with its own token, or `Broken`, within 10 s. k grows
//!   until the future completes within k polls (cap 400), so every await point the
//!   method reaches is a drop point once. Polls happen when the future is woken, every
//!   1 ms regardless (spurious polls), or after each `yield_now` (back-to-back polls
//!   in the middle of arriving data). Also checked: completed futures return correct
//!   results; no transaction is left open silently (a dropped `begin`, `commit` or
//!   `rollback` included); a dropped `rollback()` never commits; a dropped `close()`
//!   leaves no session in the server's processlist; dropped `connect()`s leak no
//!   descriptors; a pool hands out a working connection within 5 s after dropped
//!   `get()`s. On the current-thread runtime a 5 ms heartbeat shares the thread: a
//!   gap of 25 ms or more (1 s on the portable backend, which reads rows with
//!   blocking calls) fails, unless the runtime thread's own busy periods (CPU
//!   time between two parks, or wall time if it blocked in a system call meanwhile)
//!   all stayed under the limit, i.e. other processes took the CPU.
//! - `case5_*`: a 3000-column result header read by `read_query_result` /
//!   `next_result` futures that are each polled once and dropped (up to 40), then by
//!   one given 5 s: the full result or `Broken`, then the token query.
//! - `case6_*`: a `rollback()`/`commit()` future dropped before its statement was
//!   sent (unpolled, or polled once behind an unread answer) must not leave the
//!   transaction open for a later `COMMIT` to commit.
//! - `case8_*`: dropping a broken connection that still holds an unbuffered result,
//!   its server frozen with SIGSTOP, returns within 2 s.
//!
//! `DROP_POINTS_ONLY=word,word` limits the harness to the methods whose printed name
//! contains one of the words (the other tests ignore it).
//!
//! Every test takes one lock (the heartbeat, descriptor counts and SIGSTOP must not
//! see the other tests of this binary) and runs under a watchdog thread, so a test
//! whose runtime thread blocks for good fails with a message instead of hanging.

mod support;

use std::future::{poll_fn, Future};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard, PoisonError};
use std::task::Poll;
use std::time::{Duration, Instant};

use mysqlclient_async::{AsyncConn, ErrorKind, IsolationLevel, Pool, ResultSet, Row, TxOptions};
use tokio::time::timeout;

// ---------------------------------------------------------------------------------
// Limits and SQL
// ---------------------------------------------------------------------------------

/// Environment variable: run only the harness methods whose name contains one of
/// these comma-separated words (e.g. `DROP_POINTS_ONLY=commit,begin`).
const ONLY_ENV: &str = "DROP_POINTS_ONLY";
/// A method whose future is still pending after this many polls fails the harness.
const POLL_CAP: usize = 400;
/// The k polls of one round must happen within this time (OnWake: a future that is
/// never woken again is a lost wakeup).
const STALL_LIMIT: Duration = Duration::from_secs(10);
/// The follow-up query after a drop, and every setup step, must finish within this.
const FOLLOW_UP_LIMIT: Duration = Duration::from_secs(10);
/// The heartbeat on the harness's runtime thread must never stall this long.
const MAX_HEARTBEAT_GAP: Duration = Duration::from_millis(25);
/// The same on a build without a non-blocking API (the portable backend), which
/// reads rows and later result sets with blocking calls (its documented caveat):
/// a few MB from a local server, well within one read timeout.
const MAX_HEARTBEAT_GAP_PORTABLE: Duration = Duration::from_secs(1);

/// The heartbeat limit of this build's backend.
fn max_heartbeat_gap() -> Duration {
    if mysqlclient_async::backend() == "portable" {
        MAX_HEARTBEAT_GAP_PORTABLE
    } else {
        MAX_HEARTBEAT_GAP
    }
}
/// Watchdog for a whole test: more than `support::ASYNC_TEST_LIMIT`, which cannot
/// fire if the runtime thread itself is blocked.
const WATCHDOG: Duration = Duration::from_secs(150);

/// 2000 rows of 2 KB: about 4 MB, many network waits and many row batches.
const BIG: &str = "SELECT seq, REPEAT('x', 2000) FROM seq_1_to_2000";
const BIG_ROWS: usize = 2000;
/// One network wait of 20 ms for the answer.
const SLEEP: &str = "SELECT SLEEP(0.02)";
/// Columns of the wide result header in the harness (metadata spans several reads).
const HARNESS_WIDE: usize = 3000;
/// Columns of the case 5 result header.
const CASE5_WIDE: usize = 3000;
/// Length of the query text `send_query` writes: more than the socket takes at once
/// (a write wait), little enough to copy in well under the stall limit.
const LONG_QUERY_BYTES: usize = 4 << 20;

/// `SELECT 1 AS c1, 2 AS c2, …, n AS cn`.
fn wide_select(n: usize) -> String {
    let cols: Vec<String> = (1..=n).map(|i| format!("{i} AS c{i}")).collect();
    format!("SELECT {}", cols.join(", "))
}

/// Checks a result of [`wide_select`]`(n)`.
fn check_wide(rs: &ResultSet, n: usize) -> Result<(), String> {
    if rs.columns.len() != n || rs.rows.len() != 1 {
        return Err(format!(
            "wide result: {} columns and {} rows, expected {n} columns and 1 row",
            rs.columns.len(),
            rs.rows.len()
        ));
    }
    let last: i64 = rs.rows[0].get(n - 1);
    let first: i64 = rs.rows[0].get(0);
    if (first, last) != (1, n as i64) || rs.columns[n - 1].name() != format!("c{n}") {
        return Err(format!(
            "wide result: first {first}, last {last} ({}), expected 1 and {n} (c{n})",
            rs.columns[n - 1].name()
        ));
    }
    Ok(())
}

/// Checks the rows of [`BIG`].
fn check_big(rows: &[(i64, String)]) -> Result<(), String> {
    let ok = rows.len() == BIG_ROWS
        && rows
            .iter()
            .enumerate()
            .all(|(i, (seq, x))| *seq == i as i64 + 1 && x.len() == 2000);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "wrong rows for `{BIG}`: {} rows, first {:?}",
            rows.len(),
            rows.first().map(|(s, x)| (s, x.len()))
        ))
    }
}

/// The first column of the first row, as an integer.
fn first_cell(rs: &ResultSet) -> Option<i64> {
    rs.rows.first().and_then(|r| r.try_get::<i64>(0).ok())
}

fn check_big_set(rs: &ResultSet) -> Result<(), String> {
    let rows: Vec<(i64, String)> = rs
        .rows
        .iter()
        .map(|r| (r.get::<i64>(0), r.get::<String>(1)))
        .collect();
    check_big(&rows)
}

// ---------------------------------------------------------------------------------
// Test plumbing
// ---------------------------------------------------------------------------------

/// Every test of this file holds this lock: the heartbeat, the descriptor counts and
/// the SIGSTOPped server must not see other tests running.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `f` on its own thread and fails if it does not return within `limit`: a
/// runtime thread blocked in a system call would otherwise hang the test forever
/// (a tokio timeout cannot fire on a blocked thread). The blocked thread is leaked.
fn bounded<T: Send + 'static>(
    what: &str,
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name(what.to_string())
        .spawn(move || {
            let _ = tx.send(catch_unwind(AssertUnwindSafe(f)));
        })
        .expect("spawn the test thread");
    match rx.recv_timeout(limit) {
        Ok(Ok(v)) => v,
        Ok(Err(panic)) => resume_unwind(panic),
        Err(_) => panic!(
            "{what}: did not finish within {limit:?}; its thread is blocked (a runtime \
             thread stuck in a blocking call, or a hang no tokio timeout can end)"
        ),
    }
}

/// A unique `tok-<n>` string.
fn token() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!(
        "tok-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A unique row id.
fn next_id() -> i64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed) as i64
}

/// `fut` under [`FOLLOW_UP_LIMIT`], with errors and timeouts as messages.
async fn within<T>(
    what: &str,
    fut: impl Future<Output = mysqlclient_async::Result<T>>,
) -> Result<T, String> {
    match timeout(FOLLOW_UP_LIMIT, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{what} failed ({:?}): {e}", e.kind())),
        Err(_) => Err(format!("{what} did not finish within {FOLLOW_UP_LIMIT:?}")),
    }
}

async fn connect(url: &str) -> Result<AsyncConn, String> {
    within("connect", AsyncConn::connect(url)).await
}

/// The connection under test: a statement cache of one, so that a new statement
/// closes the previous one (a close at the start of most statement calls).
async fn connect_one_statement(url: &str) -> Result<AsyncConn, String> {
    let opts = mysqlclient_async::Opts::from_url(url)
        .map_err(|e| e.to_string())?
        .to_builder()
        .stmt_cache_size(1)
        .build();
    within("connect", AsyncConn::connect(opts)).await
}

/// `SELECT '<token>'` on `c`: its own token, `Ok(false)` for a `Broken` error, a
/// message for anything else (another result, another error, no answer in 10 s).
async fn token_query(c: &mut AsyncConn) -> Result<bool, String> {
    let tok = token();
    let sql = format!("SELECT '{tok}'");
    match timeout(FOLLOW_UP_LIMIT, c.query_one::<String>(&sql)).await {
        Err(_) => Err(format!(
            "the follow-up `{sql}` did not finish within {FOLLOW_UP_LIMIT:?}"
        )),
        Ok(Ok(got)) if got == tok => Ok(true),
        Ok(Ok(got)) => Err(format!(
            "the follow-up `{sql}` returned {got:?}: another command's result"
        )),
        Ok(Err(e)) if e.kind() == ErrorKind::Broken => Ok(false),
        Ok(Err(e)) => Err(format!(
            "the follow-up `{sql}` failed with {:?} (expected its token or Broken): {e}",
            e.kind()
        )),
    }
}

/// How the harness polls a future between its k polls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Drive {
    /// Poll again only when the future's waker fired (what an executor does).
    OnWake,
    /// Poll every 1 ms whether woken or not (what `select!`/`join!` do to their
    /// other branches): spurious polls included.
    Every1ms,
    /// Poll again after a `yield_now()`, woken or not: back-to-back polls with only a
    /// reactor turn between them, so they land in the middle of data that is still
    /// arriving (as `timeout(Duration::ZERO, …)` in a loop does).
    Yield,
}

/// Polls `fut` at most `k` times. `Some(output)` if it completed, `None` if it was
/// still pending after the k-th poll (it is then dropped, right there).
async fn poll_at_most<F: Future>(
    fut: F,
    k: usize,
    drive: Drive,
) -> Result<Option<F::Output>, String> {
    let mut fut = pin!(fut);
    let mut polls = 0;
    let polled = poll_fn(|cx| {
        polls += 1;
        match fut.as_mut().poll(cx) {
            Poll::Ready(v) => Poll::Ready(Some(v)),
            Poll::Pending if polls >= k => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    });
    match drive {
        Drive::OnWake => {
            let mut polled = pin!(polled);
            tokio::select! {
                biased;
                _ = tokio::time::sleep(STALL_LIMIT) => Err(format!(
                    "the future was not woken {k} times within {STALL_LIMIT:?} (a lost wakeup?)"
                )),
                r = &mut polled => Ok(r),
            }
        }
        Drive::Every1ms | Drive::Yield => {
            let mut polled = pin!(polled);
            loop {
                // One poll of the inner future per 1 ms or per yield, woken or not.
                let step = poll_fn(|cx| Poll::Ready(polled.as_mut().poll(cx))).await;
                if let Poll::Ready(r) = step {
                    return Ok(r);
                }
                if drive == Drive::Yield {
                    tokio::task::yield_now().await;
                } else {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        }
    }
}

/// `Some(Ok(v))` → check it; `Some(Err)` → a failure; `None` (dropped) → false.
fn finished<T>(
    got: Option<mysqlclient_async::Result<T>>,
    check: impl FnOnce(T) -> Result<(), String>,
) -> Result<bool, String> {
    match got {
        None => Ok(false),
        Some(Ok(v)) => check(v).map(|()| true),
        Some(Err(e)) => Err(format!("completed with an error ({:?}): {e}", e.kind())),
    }
}

// ---------------------------------------------------------------------------------
// Heartbeat
// ---------------------------------------------------------------------------------

/// The method the harness is exercising (for the heartbeat's report).
static CURRENT: Mutex<&'static str> = Mutex::new("-");

fn set_current(what: &'static str) {
    *CURRENT.lock().unwrap_or_else(PoisonError::into_inner) = what;
}

fn current() -> &'static str {
    *CURRENT.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the runtime thread's scheduler hooks measured: the longest stretch between
/// waking up and parking again (a "busy period", in which every task ran).
#[derive(Clone, Copy, Debug)]
struct Busy {
    /// CPU time of the stretch, or its wall time if the thread blocked in a system
    /// call during it (a voluntary context switch while not parked).
    stall: Duration,
    wall: Duration,
    blocked: bool,
    during: &'static str,
}

static WORST_BUSY: Mutex<Busy> = Mutex::new(Busy {
    stall: Duration::ZERO,
    wall: Duration::ZERO,
    blocked: false,
    during: "-",
});

#[derive(Clone, Copy)]
struct ThreadSample {
    wall: Instant,
    cpu: Duration,
    voluntary_switches: i64,
}

fn thread_sample() -> ThreadSample {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-parameter; CLOCK_THREAD_CPUTIME_ID always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    // SAFETY: an all-zero `rusage` is a valid value, and a valid out-parameter.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid out-parameter; RUSAGE_THREAD is the calling thread.
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    ThreadSample {
        wall: Instant::now(),
        cpu: Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32),
        voluntary_switches: ru.ru_nvcsw,
    }
}

thread_local! {
    static BUSY_SINCE: std::cell::Cell<Option<ThreadSample>> = const { std::cell::Cell::new(None) };
}

fn busy_begins() {
    BUSY_SINCE.set(Some(thread_sample()));
}

fn busy_ends() {
    let Some(start) = BUSY_SINCE.take() else {
        return;
    };
    let end = thread_sample();
    let wall = end.wall - start.wall;
    let blocked = end.voluntary_switches > start.voluntary_switches;
    let stall = if blocked {
        wall
    } else {
        end.cpu.saturating_sub(start.cpu)
    };
    let mut worst = WORST_BUSY.lock().unwrap_or_else(PoisonError::into_inner);
    if stall > worst.stall {
        *worst = Busy {
            stall,
            wall,
            blocked,
            during: current(),
        };
    }
}

/// Runs `work` on a current-thread runtime next to a 5 ms heartbeat task on the same
/// thread; returns the output, the largest gap between two ticks and what the
/// harness was doing then, and the longest busy period of the thread.
///
/// The heartbeat gap is wall time, so CPU contention from other processes (a
/// parallel build on a 2-core machine) inflates it too; the busy periods tell the
/// two apart: a stall of this crate is CPU time spent without yielding, or time
/// blocked in a system call, both between two parks of the runtime thread.
fn with_heartbeat<F: Future + 'static>(work: F) -> (F::Output, Duration, &'static str, Busy) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .on_thread_park(busy_ends)
        .on_thread_unpark(busy_begins)
        .build()
        .expect("tokio runtime");
    *WORST_BUSY.lock().unwrap_or_else(PoisonError::into_inner) = Busy {
        stall: Duration::ZERO,
        wall: Duration::ZERO,
        blocked: false,
        during: "-",
    };
    let local = tokio::task::LocalSet::new();
    let (out, gap, during) = rt.block_on(local.run_until(async move {
        busy_begins();
        let worst = Arc::new(Mutex::new((Duration::ZERO, "-")));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let hb = {
            let (worst, stop) = (worst.clone(), stop.clone());
            tokio::task::spawn_local(async move {
                let mut last = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    let now = Instant::now();
                    let gap = now - last;
                    let mut w = worst.lock().unwrap();
                    if gap > w.0 {
                        *w = (gap, current());
                    }
                    last = now;
                }
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        let out = timeout(support::ASYNC_TEST_LIMIT, tokio::task::spawn_local(work))
            .await
            .expect("test exceeded its time limit")
            .unwrap();
        stop.store(true, Ordering::Relaxed);
        hb.await.unwrap();
        let (gap, during) = *worst.lock().unwrap();
        (out, gap, during)
    }));
    let busy = *WORST_BUSY.lock().unwrap_or_else(PoisonError::into_inner);
    (out, gap, during, busy)
}

// ---------------------------------------------------------------------------------
// The harness
// ---------------------------------------------------------------------------------

/// Everything a method is exercised on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    Connect,
    QueryBig,
    QuerySleep,
    QueryStream,
    StreamNext,
    StreamOwned,
    Exec,
    ExecDrop,
    ExecFresh,
    ExecStreamNext,
    ExecLong,
    ExecBatch,
    ExecStale,
    SendQuery,
    ReadQueryResultBig,
    ReadQueryResultSleep,
    ReadQueryResultWide,
    NextResultSleep,
    NextResultBig,
    NextResultWide,
    Ping,
    SelectDb,
    ResetConnection,
    Begin,
    BeginWith,
    Commit,
    CommitAfterUnreadSend,
    Rollback,
    RollbackAfterUnreadSend,
    Close,
    CloseAfterUnreadSend,
    PoolGet,
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Method::Connect => "connect",
            Method::QueryBig => "query (2000 rows x 2 KB)",
            Method::QuerySleep => "query (SLEEP(0.02))",
            Method::QueryStream => "query_stream",
            Method::StreamNext => "query_stream + RowStream::next to the end",
            Method::StreamOwned => "query_stream + Stream::poll_next to the end",
            Method::Exec => "exec (2000 rows x 2 KB)",
            Method::ExecDrop => "exec_drop (DO SLEEP(?))",
            Method::ExecFresh => "exec (new text each round: prepare, execute, close)",
            Method::ExecStreamNext => "exec_stream + RowStream::next to the end",
            Method::ExecLong => "exec (a 3 MiB parameter: long data; 256 KiB without)",
            Method::ExecBatch => "exec_batch (2000 rows x 1 KB; 50 without bulk)",
            Method::ExecStale => "exec (after ALTER TABLE added a column)",
            Method::SendQuery => "send_query (4 MB of query text)",
            Method::ReadQueryResultBig => "read_query_result (2000 rows x 2 KB)",
            Method::ReadQueryResultSleep => "read_query_result (SLEEP(0.02))",
            Method::ReadQueryResultWide => "read_query_result (3000 columns)",
            Method::NextResultSleep => "next_result (SELECT 1; SELECT SLEEP(0.01); SELECT 3)",
            Method::NextResultBig => "next_result (2nd set 2000 rows x 2 KB)",
            Method::NextResultWide => "next_result (2nd set 3000 columns)",
            Method::Ping => "ping",
            Method::SelectDb => "select_db",
            Method::ResetConnection => "reset_connection",
            Method::Begin => "begin",
            Method::BeginWith => "begin_with (serializable, read-only)",
            Method::Commit => "commit",
            Method::CommitAfterUnreadSend => "commit (after an abandoned query)",
            Method::Rollback => "rollback",
            Method::RollbackAfterUnreadSend => "rollback (after an abandoned query)",
            Method::Close => "close",
            Method::CloseAfterUnreadSend => "close (after an unread send_query)",
            Method::PoolGet => "Pool::get (max_size 2)",
        }
    }

    const ALL: [Method; 32] = [
        Method::Connect,
        Method::QueryBig,
        Method::QuerySleep,
        Method::QueryStream,
        Method::StreamNext,
        Method::StreamOwned,
        Method::Exec,
        Method::ExecDrop,
        Method::ExecFresh,
        Method::ExecStreamNext,
        Method::ExecLong,
        Method::ExecBatch,
        Method::ExecStale,
        Method::SendQuery,
        Method::ReadQueryResultBig,
        Method::ReadQueryResultSleep,
        Method::ReadQueryResultWide,
        Method::NextResultSleep,
        Method::NextResultBig,
        Method::NextResultWide,
        Method::Ping,
        Method::SelectDb,
        Method::ResetConnection,
        Method::Begin,
        Method::BeginWith,
        Method::Commit,
        Method::CommitAfterUnreadSend,
        Method::Rollback,
        Method::RollbackAfterUnreadSend,
        Method::Close,
        Method::CloseAfterUnreadSend,
        Method::PoolGet,
    ];
}

/// The connection under test, a second one for checks, and a table.
struct Ctx {
    url: String,
    conn: AsyncConn,
    observer: AsyncConn,
    table: String,
    long_query: String,
}

impl Ctx {
    async fn new(url: String) -> Result<Ctx, String> {
        let conn = connect_one_statement(&url).await?;
        let mut observer = connect(&url).await?;
        let table = format!("test.t_drop_points_{}", std::process::id());
        within(
            "create the test table",
            observer.query_drop(&format!(
                "CREATE TABLE IF NOT EXISTS {table} (id BIGINT PRIMARY KEY) ENGINE=InnoDB"
            )),
        )
        .await?;
        within(
            "create the batch table",
            observer.query_drop(&format!(
                "CREATE TABLE IF NOT EXISTS {table}_batch (v VARCHAR(1000)) ENGINE=InnoDB"
            )),
        )
        .await?;
        let long_query = format!("SELECT LENGTH('{}') AS n", "x".repeat(LONG_QUERY_BYTES));
        Ok(Ctx {
            url,
            conn,
            observer,
            table,
            long_query,
        })
    }

    async fn reconnect(&mut self) -> Result<(), String> {
        self.conn = connect_one_statement(&self.url).await?;
        Ok(())
    }

    /// Whether row `id` is committed (seen from the observer connection).
    async fn committed(&mut self, id: i64) -> Result<bool, String> {
        let sql = format!("SELECT COUNT(*) FROM {} WHERE id = {id}", self.table);
        let n: i64 = within("the observer's row check", self.observer.query_one(&sql)).await?;
        Ok(n == 1)
    }

    /// Whether the server still lists session `id`.
    async fn in_processlist(&mut self, id: u64) -> Result<bool, String> {
        let sql = format!("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = {id}");
        let n: i64 = within("the processlist check", self.observer.query_one(&sql)).await?;
        Ok(n > 0)
    }
}

/// What a round leaves for the checks after its follow-up.
#[derive(Default)]
struct Round {
    completed: bool,
    /// A row inserted in a transaction, and whether it must (`Some(true)`), must not
    /// (`Some(false)`) or may (`None`) be committed now.
    row: Option<(i64, Option<bool>)>,
}

/// One round: set up, poll the method's future k times, drop it if still pending.
async fn round(ctx: &mut Ctx, m: Method, k: usize, drive: Drive) -> Result<Round, String> {
    let mut r = Round::default();
    let c = &mut ctx.conn;
    r.completed = match m {
        Method::Connect => {
            let got = poll_at_most(AsyncConn::connect(ctx.url.as_str()), k, drive).await?;
            let done = got.is_some();
            if let Some(conn) = got {
                let mut conn = conn.map_err(|e| format!("connect failed: {e}"))?;
                if !token_query(&mut conn).await? {
                    return Err("a completed connect gave a broken connection".into());
                }
            }
            // "The same connection" does not exist: a fresh one must work.
            let mut fresh = connect(&ctx.url).await?;
            if !token_query(&mut fresh).await? {
                return Err("a fresh connection after a dropped connect is broken".into());
            }
            done
        }
        Method::QueryBig => {
            let got = poll_at_most(c.query::<(i64, String)>(BIG), k, drive).await?;
            finished(got, |rows| check_big(&rows))?
        }
        Method::QuerySleep => {
            let got = poll_at_most(c.query::<i64>(SLEEP), k, drive).await?;
            finished(got, |rows| expect_eq(rows, vec![0], SLEEP))?
        }
        Method::QueryStream => {
            let got = poll_at_most(c.query_stream::<Row>(BIG), k, drive).await?;
            // A completed stream is dropped unread: its rows are discarded later.
            finished(got, |s| expect_eq(s.columns().len(), 2, "stream columns"))?
        }
        Method::StreamNext => {
            let read_all = async {
                let mut s = c.query_stream::<Row>(BIG).await?;
                let (mut n, mut sum) = (0usize, 0i64);
                while let Some(row) = s.try_next().await.transpose() {
                    let row = row?;
                    sum += row.get::<i64>(0);
                    n += usize::from(row.raw(1).map(<[u8]>::len) == Some(2000));
                }
                Ok((n, sum))
            };
            let got = poll_at_most(read_all, k, drive).await?;
            finished(got, |v| {
                expect_eq(v, (BIG_ROWS, 2_001_000), "streamed rows")
            })?
        }
        Method::StreamOwned => {
            let read_all = async {
                let mut s = c.query_stream::<Row>(BIG).await?;
                let (mut n, mut sum) = (0usize, 0i64);
                while let Some(row) = futures_util::StreamExt::next(&mut s).await {
                    let row: Row = row?;
                    sum += row.get::<i64>(0);
                    n += usize::from(row.raw(1).map(<[u8]>::len) == Some(2000));
                }
                Ok((n, sum))
            };
            let got = poll_at_most(read_all, k, drive).await?;
            finished(got, |v| {
                expect_eq(v, (BIG_ROWS, 2_001_000), "streamed rows")
            })?
        }
        Method::Exec => {
            let fut = c
                .exec::<(i64, String), _>("SELECT seq, REPEAT(?, 2000) FROM seq_1_to_2000", ("x",));
            let got = poll_at_most(fut, k, drive).await?;
            finished(got, |rows| check_big(&rows))?
        }
        Method::ExecDrop => {
            let got = poll_at_most(c.exec_drop("DO SLEEP(?)", (0.01f64,)), k, drive).await?;
            finished(got, |_| Ok(()))?
        }
        Method::ExecFresh => {
            // New text each round: a prepare every time, and (cache size 1) the
            // previous round's statement closed at the start.
            let sql = format!("SELECT ? + {k}");
            let got = poll_at_most(c.exec_one::<i64, _>(sql.as_str(), (1,)), k, drive).await?;
            finished(got, |n| {
                expect_eq(n, 1 + k as i64, "exec of a new statement")
            })?
        }
        Method::ExecStreamNext => {
            let read_all = async {
                let sql = "SELECT seq, REPEAT(?, 2000) FROM seq_1_to_2000";
                let mut s = c.exec_stream::<Row, _>(sql, ("x",)).await?;
                let (mut n, mut sum) = (0usize, 0i64);
                while let Some(row) = s.try_next().await.transpose() {
                    let row = row?;
                    sum += row.get::<i64>(0);
                    n += usize::from(row.raw(1).map(<[u8]>::len) == Some(2000));
                }
                Ok((n, sum))
            };
            let got = poll_at_most(read_all, k, drive).await?;
            finished(got, |v| {
                expect_eq(v, (BIG_ROWS, 2_001_000), "streamed statement rows")
            })?
        }
        Method::ExecLong => {
            // 3 MiB go as long data on MariaDB; elsewhere the value is written into
            // the text on the client, CPU work on the runtime thread that grows
            // with the value, so a smaller one stays under the heartbeat limit.
            let len = if mysqlclient_async::backend() == "mariadb" {
                3 << 20
            } else {
                256 << 10
            };
            let value = vec![b'y'; len];
            let got =
                poll_at_most(c.exec_one::<u64, _>("SELECT LENGTH(?)", (value,)), k, drive).await?;
            finished(got, |n| {
                expect_eq(n, len as u64, "length of a long parameter")
            })?
        }
        Method::ExecBatch => {
            // MariaDB's bulk command sends the 2 MB in one packet; the other
            // backends execute once per row, so fewer rows keep them under the cap.
            let n = if mysqlclient_async::backend() == "mariadb" {
                2000
            } else {
                50
            };
            let sql = format!("INSERT INTO {}_batch (v) VALUES (?)", ctx.table);
            let rows = (0..n).map(|i| (format!("{i:01000}"),));
            let got = poll_at_most(c.exec_batch(sql.as_str(), rows), k, drive).await?;
            finished(got, |r| {
                expect_eq(r.affected_rows, n, "rows inserted by exec_batch")
            })?
        }
        Method::ExecStale => {
            let t = format!("{}_stale", ctx.table);
            let sql = format!("SELECT * FROM {t} WHERE a = ?");
            within("setup", c.query_drop(&format!("DROP TABLE IF EXISTS {t}"))).await?;
            within("setup", c.query_drop(&format!("CREATE TABLE {t} (a INT)"))).await?;
            within(
                "setup",
                c.query_drop(&format!("INSERT INTO {t} VALUES (1)")),
            )
            .await?;
            within("setup exec", c.exec::<Row, _>(sql.as_str(), (1,))).await?;
            within(
                "setup",
                c.query_drop(&format!("ALTER TABLE {t} ADD b INT DEFAULT 2")),
            )
            .await?;
            let got = poll_at_most(c.exec::<(i64, i64), _>(sql.as_str(), (1,)), k, drive).await?;
            finished(got, |rows| {
                expect_eq(rows, vec![(1, 2)], "rows after ALTER")
            })?
        }
        Method::SendQuery => {
            let got = poll_at_most(c.send_query(&ctx.long_query), k, drive).await?;
            // A completed send leaves its answer unread: the follow-up discards it.
            finished(got, |()| Ok(()))?
        }
        Method::ReadQueryResultBig | Method::ReadQueryResultSleep | Method::ReadQueryResultWide => {
            let wide = wide_select(HARNESS_WIDE);
            let sql = match m {
                Method::ReadQueryResultBig => BIG,
                Method::ReadQueryResultSleep => SLEEP,
                _ => wide.as_str(),
            };
            within("setup send_query", c.send_query(sql)).await?;
            let got = poll_at_most(c.read_query_result(), k, drive).await?;
            finished(got, |rs| match m {
                Method::ReadQueryResultBig => check_big_set(&rs),
                Method::ReadQueryResultSleep => expect_eq(first_cell(&rs), Some(0), SLEEP),
                _ => check_wide(&rs, HARNESS_WIDE),
            })?
        }
        Method::NextResultSleep | Method::NextResultBig | Method::NextResultWide => {
            let second = match m {
                Method::NextResultSleep => "SELECT SLEEP(0.01)".to_string(),
                Method::NextResultBig => BIG.to_string(),
                _ => wide_select(HARNESS_WIDE),
            };
            let sql = format!("SELECT 1; {second}; SELECT 3");
            within("setup send_query", c.send_query(&sql)).await?;
            let first = within("setup read_query_result", c.read_query_result()).await?;
            expect_eq(first_cell(&first), Some(1), "first result set")?;
            let got = poll_at_most(c.next_result(), k, drive).await?;
            finished(got, |rs| {
                let rs = rs.ok_or("next_result said there is no second result set")?;
                match m {
                    Method::NextResultSleep => expect_eq(first_cell(&rs), Some(0), "SLEEP(0.01)"),
                    Method::NextResultBig => check_big_set(&rs),
                    _ => check_wide(&rs, HARNESS_WIDE),
                }
            })?
        }
        Method::Ping => finished(poll_at_most(c.ping(), k, drive).await?, |()| Ok(()))?,
        Method::SelectDb => {
            let db = if k.is_multiple_of(2) { "mysql" } else { "test" };
            finished(poll_at_most(c.select_db(db), k, drive).await?, |()| Ok(()))?
        }
        Method::ResetConnection => {
            finished(poll_at_most(c.reset_connection(), k, drive).await?, |()| {
                Ok(())
            })?
        }
        Method::Begin => {
            // A completed begin's guard is dropped here: it rolls back before the
            // next command.
            finished(poll_at_most(c.begin(), k, drive).await?, |_tx| Ok(()))?
        }
        Method::BeginWith => {
            // Two statements (SET TRANSACTION, START TRANSACTION READ ONLY): a drop
            // between them must not leave their effects on the next transaction.
            // (Boxed: the harness's future is large enough already.)
            let table = ctx.table.clone();
            Box::pin(async move {
                let opts = TxOptions::new()
                    .isolation(IsolationLevel::Serializable)
                    .read_only(true);
                let done = finished(poll_at_most(c.begin_with(opts), k, drive).await?, |_tx| {
                    Ok(())
                })?;
                within("a statement after it", c.query_drop("DO 0")).await?;
                if c.in_transaction() {
                    return Err(format!(
                        "a transaction is still open after the {} begin_with future",
                        if done {
                            "completed (guard dropped)"
                        } else {
                            "dropped"
                        }
                    ));
                }
                let id = next_id();
                let mut tx = within("a plain begin after it", c.begin()).await?;
                within(
                    "a write in that transaction (not read-only)",
                    tx.query_drop(&format!("INSERT INTO {table} VALUES ({id})")),
                )
                .await?;
                within("its rollback", tx.rollback()).await?;
                Ok::<_, String>(done)
            })
            .await?
        }
        Method::Commit
        | Method::CommitAfterUnreadSend
        | Method::Rollback
        | Method::RollbackAfterUnreadSend => {
            let id = next_id();
            let commit = matches!(m, Method::Commit | Method::CommitAfterUnreadSend);
            let mut tx = within("setup begin", c.begin()).await?;
            within(
                "setup insert",
                tx.query_drop(&format!("INSERT INTO {} VALUES ({id})", ctx.table)),
            )
            .await?;
            if matches!(
                m,
                Method::CommitAfterUnreadSend | Method::RollbackAfterUnreadSend
            ) {
                // Pending work inside the transaction: the commit/rollback future
                // must first discard this answer, so early drops happen before its
                // own statement was sent.
                // (a query abandoned after one poll: sent, its answer unread)
                let _ = poll_at_most(tx.query_drop("SELECT SLEEP(0.01)"), 1, Drive::OnWake).await?;
            }
            let done = if commit {
                finished(poll_at_most(tx.commit(), k, drive).await?, |()| Ok(()))?
            } else {
                finished(poll_at_most(tx.rollback(), k, drive).await?, |()| Ok(()))?
            };
            // A dropped rollback must never commit; a completed commit must have.
            r.row = Some((
                id,
                if commit {
                    done.then_some(true)
                } else {
                    Some(false)
                },
            ));
            done
        }
        Method::Close | Method::CloseAfterUnreadSend => {
            let mut victim = connect(&ctx.url).await?;
            let id = victim.thread_id();
            if m == Method::CloseAfterUnreadSend {
                within("setup send_query", victim.send_query("SELECT SLEEP(0.01)")).await?;
            }
            let done = finished(poll_at_most(victim.close(), k, drive).await?, |()| Ok(()))?;
            // Closed or dropped: the server must forget the session soon.
            let t0 = Instant::now();
            while ctx.in_processlist(id).await? {
                if t0.elapsed() > Duration::from_secs(3) {
                    return Err(format!(
                        "session {id} is still in the server's processlist 3 s after its \
                         close() future was {}",
                        if done { "completed" } else { "dropped" }
                    ));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            done
        }
        Method::PoolGet => {
            let pool = Pool::builder(ctx.url.as_str())
                .max_size(2)
                .build()
                .map_err(|e| format!("Pool::build: {e}"))?;
            let got = poll_at_most(pool.get(), k, drive).await?;
            let done = got.is_some();
            if let Some(pc) = got {
                let mut pc = pc.map_err(|e| format!("pool.get() failed: {e}"))?;
                if !token_query(&mut pc).await? {
                    return Err("pool.get() handed out a broken connection".into());
                }
            }
            let mut pc = match timeout(Duration::from_secs(5), pool.get()).await {
                Ok(Ok(pc)) => pc,
                Ok(Err(e)) => return Err(format!("pool.get() after a dropped get(): {e}")),
                Err(_) => return Err("pool.get() after a dropped get() took over 5 s".into()),
            };
            if !token_query(&mut pc).await? {
                return Err(
                    "pool.get() after a dropped get() handed out a broken connection".into(),
                );
            }
            done
        }
    };
    Ok(r)
}

fn expect_eq<T: PartialEq + std::fmt::Debug>(got: T, want: T, what: &str) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {got:?}, expected {want:?}"))
    }
}

/// After a round: the token query on the same connection, then the round's checks.
/// Returns whether the connection was found broken (and replaced).
async fn follow_up(ctx: &mut Ctx, m: Method, r: &Round) -> Result<bool, String> {
    let ok = token_query(&mut ctx.conn).await?;
    if !ok {
        ctx.reconnect().await?;
        if let Some((id, Some(true))) = r.row {
            return Err(format!(
                "row {id}: commit() completed, then the connection was Broken"
            ));
        }
    } else if ctx.conn.in_transaction() {
        return Err(format!(
            "a transaction is still open after the follow-up query: the dropped {} future \
             left it open silently (later autocommit statements would never commit)",
            m.name()
        ));
    }
    if let Some((id, want)) = r.row {
        let there = ctx.committed(id).await?;
        if want.is_some_and(|w| w != there) {
            return Err(format!(
                "row {id} is {}committed after a {} {} future",
                if there { "" } else { "not " },
                if r.completed { "completed" } else { "dropped" },
                m.name()
            ));
        }
    }
    Ok(!ok)
}

/// What happened to one method.
struct Stats {
    name: &'static str,
    drive: Drive,
    /// Number of k values exercised (the last one completed, unless it failed).
    ks: usize,
    broken: usize,
    took: Duration,
    failure: Option<String>,
}

/// Exercise `m` for k = 1, 2, … until its future completes within k polls.
async fn exercise(ctx: &mut Ctx, m: Method, drive: Drive) -> Stats {
    set_current(m.name());
    let t0 = Instant::now();
    let fds_before = support::fd_count();
    let mut stats = Stats {
        name: m.name(),
        drive,
        ks: 0,
        broken: 0,
        took: Duration::ZERO,
        failure: None,
    };
    let mut k = 1;
    let failure = loop {
        stats.ks = k;
        let r = match round(ctx, m, k, drive).await {
            Ok(r) => r,
            Err(e) => break Some(format!("k={k}: {e}")),
        };
        match follow_up(ctx, m, &r).await {
            Ok(broken) => stats.broken += usize::from(broken),
            Err(e) => {
                break Some(format!(
                    "k={k} (future {}): {e}",
                    if r.completed { "completed" } else { "dropped" }
                ))
            }
        }
        if r.completed {
            break None;
        }
        if k == POLL_CAP {
            break Some(format!(
                "still pending after {POLL_CAP} polls: the cap, not completion, ended the run"
            ));
        }
        k += 1;
    };
    if failure.is_none() && m == Method::Connect {
        // Every dropped connect must have closed its socket.
        let t = Instant::now();
        while support::fd_count() > fds_before && t.elapsed() < Duration::from_secs(3) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let after = support::fd_count();
        if after > fds_before {
            stats.failure = Some(format!(
                "{} descriptors leaked by dropped connects ({fds_before} before, {after} after)",
                after - fds_before
            ));
        }
    }
    if failure.is_some() {
        // Start the next method on a clean connection.
        let _ = ctx.reconnect().await;
        stats.failure = failure;
    }
    stats.took = t0.elapsed();
    stats
}

/// The stream dropped between rows (no fetch pending), after j rows.
async fn stream_dropped_between_rows(ctx: &mut Ctx) -> Stats {
    set_current("RowStream dropped between rows");
    let t0 = Instant::now();
    let mut stats = Stats {
        name: "RowStream dropped between rows (after 0 to 2000 rows)",
        drive: Drive::OnWake,
        ks: 0,
        broken: 0,
        took: Duration::ZERO,
        failure: None,
    };
    for j in [0usize, 1, 2, 127, 128, 129, 1000, 1999, 2000] {
        stats.ks += 1;
        let read = async {
            let mut s = ctx.conn.query_stream::<Row>(BIG).await?;
            for _ in 0..j {
                match s.try_next().await.transpose() {
                    Some(r) => {
                        r?;
                    }
                    None => break,
                }
            }
            Ok(())
        };
        let step = match within("reading j rows", read).await {
            Ok(()) => follow_up(ctx, Method::StreamNext, &Round::default()).await,
            Err(e) => Err(e),
        };
        match step {
            Ok(broken) => stats.broken += usize::from(broken),
            Err(e) => {
                stats.failure = Some(format!("after {j} rows: {e}"));
                let _ = ctx.reconnect().await;
                break;
            }
        }
    }
    stats.took = t0.elapsed();
    stats
}

/// A `get()` waiting on an exhausted pool, dropped; then a released connection must
/// reach the next `get()`.
async fn pool_waiter_dropped(url: &str) -> Stats {
    set_current("Pool::get waiting on an exhausted pool");
    let t0 = Instant::now();
    let check = async {
        let pool = Pool::builder(url)
            .max_size(2)
            .build()
            .map_err(|e| format!("Pool::build: {e}"))?;
        let a = within("pool.get() #1", pool.get()).await?;
        let _b = within("pool.get() #2", pool.get()).await?;
        for k in 1..=3 {
            if poll_at_most(pool.get(), k, Drive::Every1ms)
                .await?
                .is_some()
            {
                return Err("a third get() on a pool of 2 completed while both were out".into());
            }
        }
        drop(a);
        let mut c = match timeout(Duration::from_secs(5), pool.get()).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return Err(format!("get() after dropped waiters: {e}")),
            Err(_) => return Err("get() after dropped waiters took over 5 s".into()),
        };
        if !token_query(&mut c).await? {
            return Err("get() after dropped waiters gave a broken connection".into());
        }
        Ok(())
    };
    let failure = check.await.err();
    Stats {
        name: "Pool::get waiting on an exhausted pool, dropped",
        drive: Drive::Every1ms,
        ks: 3,
        broken: 0,
        took: t0.elapsed(),
        failure,
    }
}

/// Runs `plan` and returns the per-method results.
async fn run_harness(url: String, plan: Vec<(Method, Drive)>, extras: bool) -> Vec<Stats> {
    let mut ctx = match Ctx::new(url.clone()).await {
        Ok(ctx) => ctx,
        Err(e) => panic!("harness setup: {e}"),
    };
    let fds_before = support::fd_count();
    let mut out = Vec::new();
    let only = std::env::var(ONLY_ENV).unwrap_or_default();
    let selected = |name: &str| only.is_empty() || only.split(',').any(|w| name.contains(w.trim()));
    for (m, drive) in plan {
        if !selected(m.name()) {
            continue;
        }
        let s = exercise(&mut ctx, m, drive).await;
        print_stats(&s);
        out.push(s);
    }
    if extras && only.is_empty() {
        for s in [
            stream_dropped_between_rows(&mut ctx).await,
            pool_waiter_dropped(&url).await,
        ] {
            print_stats(&s);
            out.push(s);
        }
    }
    set_current("-");
    let _ = within(
        "drop the test tables",
        ctx.observer.query_drop(&format!(
            "DROP TABLE IF EXISTS {t}, {t}_batch, {t}_stale",
            t = ctx.table
        )),
    )
    .await;
    let t = Instant::now();
    while support::fd_count() > fds_before && t.elapsed() < Duration::from_secs(3) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let after = support::fd_count();
    println!("descriptors: {fds_before} at the start, {after} at the end");
    if after > fds_before {
        out.push(Stats {
            name: "descriptors",
            drive: Drive::OnWake,
            ks: 0,
            broken: 0,
            took: Duration::ZERO,
            failure: Some(format!(
                "the whole harness leaked {} descriptors",
                after - fds_before
            )),
        });
    }
    out
}

fn print_stats(s: &Stats) {
    println!(
        "{:<55} {:>8?}: {:>3} k values, {:>2} broken follow-ups, {:>6.0} ms{}",
        s.name,
        s.drive,
        s.ks,
        s.broken,
        s.took.as_secs_f64() * 1e3,
        s.failure
            .as_deref()
            .map(|f| format!("  FAILED: {f}"))
            .unwrap_or_default()
    );
}

fn failures(stats: &[Stats]) -> Vec<String> {
    stats
        .iter()
        .filter_map(|s| {
            s.failure
                .as_ref()
                .map(|f| format!("{} ({:?}): {f}", s.name, s.drive))
        })
        .collect()
}

/// Every method, polled on wake; the ones with the most await points also with
/// spurious polls.
fn full_plan() -> Vec<(Method, Drive)> {
    let mut plan: Vec<(Method, Drive)> = Method::ALL.iter().map(|&m| (m, Drive::OnWake)).collect();
    plan.extend(
        [
            Method::Connect,
            Method::QuerySleep,
            Method::StreamNext,
            Method::SendQuery,
            Method::ReadQueryResultSleep,
            Method::NextResultSleep,
            Method::CommitAfterUnreadSend,
            Method::RollbackAfterUnreadSend,
            Method::PoolGet,
        ]
        .map(|m| (m, Drive::Every1ms)),
    );
    plan.extend(
        [
            Method::Connect,
            Method::ReadQueryResultWide,
            Method::NextResultWide,
            Method::Ping,
            Method::SelectDb,
            Method::ResetConnection,
            Method::Begin,
            Method::BeginWith,
            Method::Commit,
            Method::Rollback,
            Method::Close,
            Method::PoolGet,
        ]
        .map(|m| (m, Drive::Yield)),
    );
    plan
}

/// Test 1 on the current-thread runtime, with the heartbeat.
#[test]
fn every_await_point_current_thread() {
    let _g = serial();
    bounded("every_await_point_current_thread", WATCHDOG, || {
        let url = support::url(); // starts the server: a blocking call, before the runtime
        let t0 = Instant::now();
        let (stats, gap, during, busy) = with_heartbeat(run_harness(url, full_plan(), true));
        println!(
            "current-thread harness: {:.1} s; largest heartbeat gap {:.1} ms (during {during}); \
             longest busy period of the runtime thread: {:.1} ms {} ({:.1} ms wall, during {})",
            t0.elapsed().as_secs_f64(),
            gap.as_secs_f64() * 1e3,
            busy.stall.as_secs_f64() * 1e3,
            if busy.blocked {
                "blocked in a system call"
            } else {
                "of CPU"
            },
            busy.wall.as_secs_f64() * 1e3,
            busy.during,
        );
        let mut failed = failures(&stats);
        // A gap over the limit fails unless the thread's own busy periods were all
        // short: then other processes took the CPU (preemption), not this crate.
        let limit = max_heartbeat_gap();
        if gap >= limit && busy.stall >= limit {
            failed.push(format!(
                "the runtime thread stalled: heartbeat gap {gap:?} (limit {limit:?}) during \
                 {during}; longest busy period {busy:?}"
            ));
        } else if gap >= limit {
            println!(
                "heartbeat gap {gap:?} over {limit:?}, but no busy period of the runtime \
                 thread was: CPU contention from other processes, not a stall"
            );
        }
        assert!(
            failed.is_empty(),
            "{} drop-point failures:\n{}",
            failed.len(),
            failed.join("\n")
        );
    });
}

/// Test 1, reduced, on the 2-worker runtime (futures resumed on other threads).
#[test]
fn every_await_point_multi_thread() {
    let _g = serial();
    bounded("every_await_point_multi_thread", WATCHDOG, || {
        let url = support::url();
        let plan = [
            Method::Connect,
            Method::QueryBig,
            Method::QuerySleep,
            Method::StreamNext,
            Method::ReadQueryResultSleep,
            Method::NextResultSleep,
            Method::CommitAfterUnreadSend,
            Method::PoolGet,
        ]
        .iter()
        .flat_map(|&m| [(m, Drive::OnWake), (m, Drive::Every1ms)])
        .collect();
        let t0 = Instant::now();
        let stats = support::block_on_multi(async move {
            tokio::spawn(run_harness(url, plan, false)).await.unwrap()
        });
        println!("multi-thread harness: {:.1} s", t0.elapsed().as_secs_f64());
        let failed = failures(&stats);
        assert!(
            failed.is_empty(),
            "{} drop-point failures:\n{}",
            failed.len(),
            failed.join("\n")
        );
    });
}

// ---------------------------------------------------------------------------------
// Case 5: a wide result header read by futures dropped after one poll each
// ---------------------------------------------------------------------------------

/// One read of the wide result set: `read_query_result`, or `next_result`.
async fn case5_read(c: &mut AsyncConn, next: bool) -> Result<Option<ResultSet>, String> {
    let r = if next {
        c.next_result().await
    } else {
        c.read_query_result().await.map(Some)
    };
    r.map_err(describe)
}

/// Reads the pending wide result with up to 40 futures under `timeout(ZERO)` (one
/// poll each, then dropped), then with one under a 5 s timeout: it must complete
/// with the full result or fail with `Broken`; then `SELECT '<token>'` must answer.
/// `yield_between` lets the reactor run between the dropped polls (so they land at
/// different points of the header).
async fn case5_round(
    c: &mut AsyncConn,
    round: usize,
    next: bool,
    yield_between: bool,
) -> Result<(), String> {
    let mut result = None;
    let mut dropped = 0;
    for _ in 0..40 {
        match timeout(Duration::ZERO, case5_read(c, next)).await {
            Ok(r) => {
                result = Some(r);
                break;
            }
            Err(_) => dropped += 1,
        }
        if yield_between {
            tokio::task::yield_now().await;
        }
    }
    let result = match result {
        Some(r) => r,
        None => match timeout(Duration::from_secs(5), case5_read(c, next)).await {
            Ok(r) => r,
            Err(_) => {
                return Err(format!(
                    "round {round}: after {dropped} dropped futures, the next one did not \
                     finish within 5 s (the connection hangs)"
                ))
            }
        },
    };
    let broken = match result {
        Ok(Some(rs)) => {
            check_wide(&rs, CASE5_WIDE).map_err(|e| format!("round {round}: {e}"))?;
            false
        }
        Ok(None) => return Err(format!("round {round}: the wide result set is missing")),
        Err(e) if e.starts_with("Broken") => true,
        Err(e) => {
            return Err(format!(
                "round {round}: after {dropped} dropped futures: {e} (expected the full \
                 result or Broken)"
            ))
        }
    };
    match token_query(c).await {
        Ok(true) if !broken => Ok(()),
        Ok(false) if broken => Ok(()),
        Ok(ok) => Err(format!(
            "round {round}: the read said broken={broken}, the next query said broken={}",
            !ok
        )),
        Err(e) => Err(format!(
            "round {round} (after {dropped} dropped futures): {e}"
        )),
    }
}

fn describe(e: mysqlclient_async::Error) -> String {
    format!("{:?}: {e}", e.kind())
}

#[test]
fn case5_read_query_result_wide_header_dropped_repeatedly() {
    let _g = serial();
    bounded("case5 read_query_result", WATCHDOG, || {
        let url = support::url();
        support::block_on(async move {
            let wide = wide_select(CASE5_WIDE);
            let mut c = connect(&url).await.unwrap();
            for round in 0..10 {
                if c.is_broken() {
                    c = connect(&url).await.unwrap();
                }
                within("send_query", c.send_query(&wide)).await.unwrap();
                let r = case5_round(&mut c, round, false, round >= 5).await;
                if let Err(e) = r {
                    panic!("case 5 (read_query_result of {CASE5_WIDE} columns): {e}");
                }
            }
        });
    });
}

#[test]
fn case5_next_result_wide_header_dropped_repeatedly() {
    let _g = serial();
    bounded("case5 next_result", WATCHDOG, || {
        let url = support::url();
        support::block_on(async move {
            let sql = format!("SELECT 1; {}", wide_select(CASE5_WIDE));
            let mut c = connect(&url).await.unwrap();
            for round in 0..10 {
                if c.is_broken() {
                    c = connect(&url).await.unwrap();
                }
                within("send_query", c.send_query(&sql)).await.unwrap();
                let first = within("read_query_result", c.read_query_result())
                    .await
                    .unwrap();
                assert_eq!(first_cell(&first), Some(1));
                let r = case5_round(&mut c, round, true, round >= 5).await;
                if let Err(e) = r {
                    panic!("case 5 (next_result of {CASE5_WIDE} columns): {e}");
                }
            }
        });
    });
}

// ---------------------------------------------------------------------------------
// Case 6: dropped commit/rollback futures and the transaction they end
// ---------------------------------------------------------------------------------

/// How the `commit()`/`rollback()` future is treated before it is dropped.
#[derive(Clone, Copy, Debug)]
enum Case6 {
    /// Created and dropped without a poll.
    Unpolled,
    /// Polled once on an idle connection (its statement is sent in that poll).
    PolledOnce,
    /// Polled once while an unread `send_query` answer is pending in the
    /// transaction: the first poll waits for that answer, its own statement is
    /// not sent yet.
    PolledOnceBehindPendingWork,
}

/// Insert a row in a transaction, drop `commit()`/`rollback()` as `how` says, then run
/// `COMMIT` on the connection: the row must not be committed (the dropped future
/// never sent its `COMMIT`, or sent a `ROLLBACK`), and no transaction may be open.
async fn case6(url: &str, commit: bool, how: Case6) -> Result<(), String> {
    let mut c = connect(url).await?;
    let mut observer = connect(url).await?;
    let table = format!("test.t_case6_{}", std::process::id());
    within(
        "create table",
        c.query_drop(&format!(
            "CREATE TABLE IF NOT EXISTS {table} (id BIGINT PRIMARY KEY) ENGINE=InnoDB"
        )),
    )
    .await?;
    let id = next_id();
    {
        let mut tx = within("begin", c.begin()).await?;
        within(
            "insert",
            tx.query_drop(&format!("INSERT INTO {table} VALUES ({id})")),
        )
        .await?;
        if matches!(how, Case6::PolledOnceBehindPendingWork) {
            // A query abandoned after one poll: sent, its answer unread.
            let _ = poll_at_most(tx.query_drop("SELECT SLEEP(0.05)"), 1, Drive::OnWake).await?;
        }
        let fut = if commit {
            futures_util::future::Either::Left(tx.commit())
        } else {
            futures_util::future::Either::Right(tx.rollback())
        };
        match how {
            Case6::Unpolled => drop(fut),
            Case6::PolledOnce | Case6::PolledOnceBehindPendingWork => {
                if let Some(r) = poll_at_most(fut, 1, Drive::OnWake).await? {
                    // Finished in one poll after all: then it must have done its job.
                    r.map_err(|e| format!("completed with an error: {e}"))?;
                }
            }
        }
    }
    within("COMMIT after the dropped future", c.query_drop("COMMIT")).await?;
    let n: i64 = within(
        "count",
        observer.query_one(&format!("SELECT COUNT(*) FROM {table} WHERE id = {id}")),
    )
    .await?;
    let open = c.in_transaction();
    let _ = within(
        "drop table",
        observer.query_drop(&format!("DROP TABLE IF EXISTS {table}")),
    )
    .await;
    if n != 0 {
        return Err(format!(
            "the row was committed: the dropped {}() future left the transaction open and \
             the later COMMIT committed it",
            if commit { "commit" } else { "rollback" }
        ));
    }
    if open {
        return Err("a transaction is still open after COMMIT".into());
    }
    Ok(())
}

fn run_case6(commit: bool) {
    let url = support::url();
    let failed: Vec<String> = support::block_on(async {
        let mut failed = Vec::new();
        let cases: &[Case6] = if commit {
            // A commit polled once on an idle connection has sent its COMMIT.
            &[Case6::Unpolled, Case6::PolledOnceBehindPendingWork]
        } else {
            &[
                Case6::Unpolled,
                Case6::PolledOnce,
                Case6::PolledOnceBehindPendingWork,
            ]
        };
        for &how in cases {
            let r = case6(&url, commit, how).await;
            println!(
                "case 6, {} {how:?}: {r:?}",
                if commit { "commit" } else { "rollback" }
            );
            if let Err(e) = r {
                failed.push(format!("{how:?}: {e}"));
            }
        }
        failed
    });
    assert!(failed.is_empty(), "case 6:\n{}", failed.join("\n"));
}

#[test]
fn case6_dropped_rollback_never_commits() {
    let _g = serial();
    bounded("case6 rollback", WATCHDOG, || run_case6(false));
}

#[test]
fn case6_dropped_commit_before_send_never_commits() {
    let _g = serial();
    bounded("case6 commit", WATCHDOG, || run_case6(true));
}

// ---------------------------------------------------------------------------------
// Case 8: dropping a broken connection that still holds an unbuffered result
// ---------------------------------------------------------------------------------

/// SIGCONTs the server when dropped, also when the test fails.
struct Resume<'a>(&'a support::Server);

impl Drop for Resume<'_> {
    fn drop(&mut self) {
        self.0.sigcont();
    }
}

/// How the connection of a case 8 scenario gets broken.
#[derive(Clone, Copy, Debug)]
enum Case8 {
    /// The server is frozen before the next query: the query times out, the
    /// `KILL QUERY` side connection cannot reach the server (1 s connect timeout), the
    /// drain of the unread rows times out, and the connection is marked broken while
    /// it still holds the unbuffered result, with a fetch suspended.
    FrozenBeforeQuery,
    /// The server keeps sending rows but refuses the `KILL QUERY` side connection
    /// (the user's `MAX_USER_CONNECTIONS 1` is used up): the drain of the unread
    /// rows runs for the 5 s recovery limit and is cut off between two fetches (a
    /// busy task on the same runtime keeps the socket buffers full, so the drain
    /// never waits for the network), and the connection is marked broken while it
    /// holds the unbuffered result with no fetch suspended. Then the server is
    /// frozen.
    KillRefusedWhileRowsFlow,
}

/// Break a connection that holds an unbuffered result (see [`Case8`]), freeze the
/// server, and drop the connection on a plain thread: it must return within 2 s.
async fn case8(server: &support::Server, how: Case8) -> Result<(), String> {
    let (url, sql) = match how {
        Case8::FrozenBeforeQuery => (
            format!("{}?connect_timeout=1", server.url()),
            "SELECT seq, REPEAT('x', 1000) FROM seq_1_to_2000000",
        ),
        Case8::KillRefusedWhileRowsFlow => (
            format!(
                "mysql://case8@127.0.0.1:{}/test?connect_timeout=1",
                server.port()
            ),
            "SELECT seq, REPEAT('x', 100) FROM seq_1_to_1000000000",
        ),
    };
    let mut c = connect(&url).await?;
    let id = c.thread_id();
    c.set_query_timeout(Some(Duration::from_millis(300)));
    {
        let mut s = within("query_stream", c.query_stream::<Row>(sql)).await?;
        match s.try_next().await.transpose() {
            Some(Ok(_)) => {}
            other => return Err(format!("first row: {:?}", other.map(|r| r.map(|_| ())))),
        }
    }
    let resume = Resume(server);
    if let Case8::FrozenBeforeQuery = how {
        server.sigstop();
    }
    // Another task that takes the thread 1 ms at a time: the client reads slower
    // than the server sends, so rows are always buffered when the drain runs.
    let stop_hog = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let hog = matches!(how, Case8::KillRefusedWhileRowsFlow).then(|| {
        let stop = stop_hog.clone();
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                while t.elapsed() < Duration::from_millis(1) {
                    std::hint::spin_loop();
                }
                tokio::task::yield_now().await;
            }
        })
    });
    let t0 = Instant::now();
    let r = timeout(Duration::from_secs(30), c.query_drop("SELECT 1")).await;
    stop_hog.store(true, Ordering::Relaxed);
    if let Some(hog) = hog {
        let _ = hog.await;
    }
    let e = match r {
        Ok(Err(e)) => e,
        Ok(Ok(_)) => return Err("the query after the unread stream succeeded".into()),
        Err(_) => return Err("the query ignored its 300 ms timeout for 30 s".into()),
    };
    println!(
        "case 8 {how:?}: the query failed after {:.1} s with {:?} ({e}); broken: {}, \
         pending work: {}",
        t0.elapsed().as_secs_f64(),
        e.kind(),
        c.is_broken(),
        c.has_pending_work()
    );
    if let Case8::KillRefusedWhileRowsFlow = how {
        server.sigstop();
    }
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let t = Instant::now();
        drop(c);
        let _ = tx.send(t.elapsed());
    });
    let dropped = rx.recv_timeout(Duration::from_secs(2));
    // Clean up before judging: resume the server and end the session, so that a
    // blocked drop gets EOF and returns.
    drop(resume);
    if let Ok(mut root) = connect(&server.url()).await {
        let _ = timeout(FOLLOW_UP_LIMIT, root.query_drop(&format!("KILL {id}"))).await;
    }
    match dropped {
        Ok(took) => {
            println!("case 8 {how:?}: the drop took {took:?}");
            Ok(())
        }
        Err(_) => {
            let late = rx.recv_timeout(Duration::from_secs(10));
            Err(format!(
                "{how:?}: dropping the broken AsyncConn (holding an unbuffered result, \
                 server frozen) did not return within 2 s: Drop blocks the thread ({})",
                match late {
                    Ok(t) => format!(
                        "it returned only once the server was resumed and the session \
                         killed, after {t:?} in all"
                    ),
                    Err(_) => "still blocked 10 s after the server was resumed".to_string(),
                }
            ))
        }
    }
}

#[test]
fn case8_dropping_a_broken_conn_holding_an_unbuffered_result_does_not_block() {
    let _g = serial();
    bounded("case8", WATCHDOG, || {
        // A dedicated server: SIGSTOP must not freeze the other tests' server.
        let server = support::start_private_with(&[]);
        server.cli(
            "CREATE USER 'case8'@'%' IDENTIFIED BY '' WITH MAX_USER_CONNECTIONS 1; \
             GRANT SELECT ON *.* TO 'case8'@'%'",
        );
        let failed: Vec<String> = support::block_on(async {
            let mut failed = Vec::new();
            for how in [Case8::FrozenBeforeQuery, Case8::KillRefusedWhileRowsFlow] {
                if let Err(e) = case8(&server, how).await {
                    failed.push(e);
                }
            }
            failed
        });
        assert!(failed.is_empty(), "case 8:\n{}", failed.join("\n"));
    });
}
