//! mysqlclient-async against its peers, in one run, on one machine and one server.
//!
//! ```text
//! make bench                     # a throwaway mariadbd (or MYSQL_URL), all peers
//! cargo run --release -p mysqlclient-async-bench --features peers -- [OPTIONS]
//! ```
//!
//! Figures, each for every driver:
//! - `SELECT 1` queries per second at c = 1, 16 and 64, one connection per task (per
//!   thread for the sync `mysql` crate), counted over a fixed window after a warm-up;
//!   `--repeat` interleaved rounds (every driver at every level in turn), the median
//!   round reported;
//! - client CPU µs per query in that window: `getrusage(RUSAGE_SELF)` user + sys over
//!   the whole process, divided by the queries (and the user-space part alone); when
//!   the server is a local mariadbd, its CPU time per query too (`/proc/PID/stat`);
//! - rows/s reading a 200,000-row x 5-column table (BIGINT, VARCHAR, DOUBLE,
//!   DATETIME(6), TEXT) into `Vec<(i64, String, f64, String, String)>`;
//! - Chartio without HTTP at each `--chartio-c` level (1,000, 5,000 and 10,000):
//!   c tasks (threads for `mysql`) each run `--rounds` x (check out a pooled
//!   connection, `SELECT SLEEP(1)`, return it), n = rounds x c requests, on a cold
//!   pool (empty: the c connects are inside the timing) and on a warm one (c
//!   connections already open), against `null` (the same tasks sleeping 1 s) at the
//!   same level, each driver as a percentage of it. A failed checkout or query is
//!   counted (with the first error text of each kind) and the task goes on; q/s
//!   counts the requests that succeeded;
//! - `storm`: N connections opened at once (`--storm`, 1,000, 5,000 and 10,000):
//!   from N tasks on one current-thread runtime for the async drivers, from
//!   `--storm-threads` (64) threads for `mysql`; the time until all are open, the
//!   failures (first error text of each kind), the peak RSS (`VmHWM`) and the RSS
//!   with all open, each (driver, N) in a child process of its own (`src/scale.rs`);
//! - `footprint`: per-connection memory (RSS) and descriptors with
//!   `--footprint-conns` (1,000) connections open, idle and after each has read a
//!   1,000-row result, each driver in a child process of its own;
//! - the pool's checkout cycle (check out, `DO 1`, return) at c = 1 and 16 for the
//!   async pools, ours with and without its session reset on return: what the reset
//!   costs per checkout;
//! - prepared statements over the binary protocol (`src/stmt.rs`): a 200,000-row
//!   read with one parameter (`stmt_read`), point selects by primary key at c = 1
//!   and 16 (`point_select`), a 100,000-row batch insert (`insert_batch`), and a
//!   pool checkout with one cached `exec` at c = 16 (`pool_exec`).
//!
//! Fairness: every driver talks plain TCP to 127.0.0.1 without TLS (ours with
//! `ssl_mode=disabled`; the peers are built without any TLS feature, and `mysql` /
//! `mysql_async` get `prefer_socket=false` so they do not switch to the unix socket);
//! every query outside the prepared-statement sections goes over the text protocol
//! (COM_QUERY: `query` for ours, mysql and mysql_async, `raw_sql` for sqlx), so the
//! server does the same work for all;
//! DATETIME(6) is read as its text. The async drivers share one current-thread tokio
//! runtime (one core, the Tornado setting); with `--workers N` (N >= 1) they run
//! SELECT 1 and Chartio on a multi-thread runtime of N workers instead (tasks from
//! `tokio::spawn`; every other section stays on the current-thread one). The sync
//! `mysql` crate gets one OS thread per connection. Pools use each driver's defaults
//! apart from their size (mysql and mysql_async reset each returned connection, mysql
//! and sqlx ping on checkout: that is what their users get). `make bench` (scripts/bench.sh) pins a throwaway
//! server to one core and this program to the other, so that every driver has one
//! client core and the scheduler cannot put client and server on one core for some
//! runs and not others. The thousands of connections need a server that accepts
//! them and open-files limits to match: scripts/bench.sh starts the throwaway server
//! with `MYSQL_MAX_CONNECTIONS=12000` and raises the open-files limit (this program
//! raises its soft limit to the hard one, and the hard one to 65,536 when allowed);
//! `footprint` shows how many descriptors each driver holds per connection.
//!
//! Chartio here has no HTTP layer, on purpose: it compares the drivers and their pools
//! alone. The HTTP version (examples/chartio.rs driven by ab, `make chartio-sweep`)
//! measures our modes with axum in front.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mysqlclient_async_bench::{fmt_num, Mark, Measurement, Rounds, Table};

mod scale;
mod stmt;

type R<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

const DECODE_TABLE: &str = "bench_decode";

fn decode_sql() -> String {
    format!("SELECT id, name, score, at, body FROM {DECODE_TABLE}")
}

// ---------------------------------------------------------------- configuration

#[derive(Clone, Debug)]
struct Config {
    /// Our URL (with ssl_mode=disabled).
    url: String,
    /// The same server for the peers: scheme, user, password, host, port, db only.
    peer_url: String,
    levels: Vec<usize>,
    warmup: Duration,
    window: Duration,
    rows: u64,
    /// Rows of the table `stmt_read` and `point_select` read.
    stmt_rows: u64,
    /// Rows `insert_batch` inserts.
    batch_rows: u64,
    decode_iters: usize,
    repeat: usize,
    /// Chartio's concurrency levels.
    chartio_c: Vec<usize>,
    chartio_rounds: usize,
    sleep: f64,
    /// `storm`: connections opened at once, one child process per driver and level.
    storm: Vec<usize>,
    /// `storm`: the threads opening the sync `mysql` crate's connections.
    storm_threads: usize,
    /// `footprint`: connections held by each driver's child process.
    footprint_conns: usize,
    /// Workers of the multi-thread runtime for select1 and chartio (0: the
    /// current-thread runtime).
    workers: usize,
    /// The longest a child process may take before it is killed.
    child_timeout: Duration,
    drivers: Vec<String>,
    sections: Vec<String>,
    out: String,
    /// Set in a child process (re-executed with `--child`): what it measures.
    child: Option<scale::Child>,
}

const USAGE: &str = "usage: mysqlclient-async-bench [--url URL] [--levels 1,16,64] [--secs 3] \
[--warmup 0.5] [--repeat 3] [--rows 200000] [--stmt-rows 200000] [--batch-rows 100000] [--decode-iters 3] \
[--chartio-c 1000,5000,10000] [--rounds 5] [--sleep 1] [--workers 0] \
[--storm 1000,5000,10000] [--storm-threads 64] [--footprint-conns 1000] [--child-timeout 600] \
[--drivers ours,mysql_async,sqlx,mysql] \
[--only select1,decode,chartio,checkout,stmt_read,point_select,insert_batch,pool_exec,storm,footprint] \
[--out target/bench/report.md]";

fn all_drivers() -> Vec<String> {
    let mut d = vec!["ours".to_string()];
    if cfg!(feature = "peers") {
        d.extend(["mysql_async", "sqlx", "mysql"].map(String::from));
    }
    d
}

fn parse_args() -> R<Config> {
    let mut url =
        std::env::var("MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into());
    let mut cfg = Config {
        url: String::new(),
        peer_url: String::new(),
        levels: vec![1, 16, 64],
        warmup: Duration::from_millis(500),
        window: Duration::from_secs(3),
        rows: 200_000,
        stmt_rows: 200_000,
        batch_rows: 100_000,
        decode_iters: 3,
        repeat: 3,
        chartio_c: vec![1000, 5000, 10_000],
        chartio_rounds: 5,
        sleep: 1.0,
        storm: vec![1000, 5000, 10_000],
        storm_threads: 64,
        footprint_conns: 1000,
        workers: 0,
        child_timeout: Duration::from_secs(600),
        drivers: all_drivers(),
        sections: vec![
            "select1".into(),
            "decode".into(),
            "chartio".into(),
            "checkout".into(),
            "stmt_read".into(),
            "point_select".into(),
            "insert_batch".into(),
            "pool_exec".into(),
            "storm".into(),
            "footprint".into(),
        ],
        out: "target/bench/report.md".into(),
        child: None,
    };
    let mut child_kind = None;
    let mut child_n = 0usize;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut val = || {
            it.next()
                .ok_or_else(|| format!("{a} needs a value\n{USAGE}"))
        };
        let list = |s: String| -> Vec<String> {
            s.split(',')
                .map(|x| x.trim().to_string())
                .filter(|x| !x.is_empty())
                .collect()
        };
        let sizes = |s: String| -> R<Vec<usize>> {
            let v = list(s)
                .iter()
                .map(|x| x.parse::<usize>())
                .collect::<Result<Vec<_>, _>>()?;
            if v.contains(&0) {
                return Err(format!("{a}: levels start at 1").into());
            }
            Ok(v)
        };
        match a.as_str() {
            "--url" => url = val()?,
            "--levels" => cfg.levels = sizes(val()?)?,
            "--secs" => cfg.window = Duration::from_secs_f64(val()?.parse()?),
            "--warmup" => cfg.warmup = Duration::from_secs_f64(val()?.parse()?),
            "--rows" => cfg.rows = val()?.parse()?,
            "--stmt-rows" => cfg.stmt_rows = val()?.parse::<u64>()?.max(1),
            "--batch-rows" => cfg.batch_rows = val()?.parse::<u64>()?.max(1),
            "--decode-iters" => cfg.decode_iters = val()?.parse::<usize>()?.max(1),
            "--repeat" => cfg.repeat = val()?.parse::<usize>()?.max(1),
            "--chartio-c" => cfg.chartio_c = sizes(val()?)?,
            "--storm" => cfg.storm = sizes(val()?)?,
            "--storm-threads" => cfg.storm_threads = val()?.parse::<usize>()?.max(1),
            "--footprint-conns" => cfg.footprint_conns = val()?.parse::<usize>()?.max(1),
            "--workers" => cfg.workers = val()?.parse()?,
            "--child-timeout" => cfg.child_timeout = Duration::from_secs_f64(val()?.parse()?),
            // Hidden: the child processes of `storm` and `footprint`.
            "--child" => child_kind = Some(val()?),
            "--child-n" => child_n = val()?.parse()?,
            "--rounds" => cfg.chartio_rounds = val()?.parse::<usize>()?.max(1),
            "--sleep" => cfg.sleep = val()?.parse()?,
            "--drivers" => cfg.drivers = list(val()?),
            "--only" => cfg.sections = list(val()?),
            "--out" => cfg.out = val()?,
            "-h" | "--help" => return Err(USAGE.into()),
            _ => return Err(format!("unknown argument `{a}`\n{USAGE}").into()),
        }
    }
    for d in &cfg.drivers {
        if !all_drivers().contains(d) {
            return Err(if cfg!(feature = "peers") {
                format!("unknown driver `{d}`")
            } else {
                format!("driver `{d}` needs the `peers` feature (make bench)")
            }
            .into());
        }
    }
    if let Some(kind) = child_kind {
        cfg.child = Some(scale::Child::parse(&kind, child_n)?);
    }
    let base = url.split('?').next().unwrap_or(&url).to_string();
    cfg.peer_url = base.clone();
    cfg.url = if url.contains("ssl_mode=") {
        url
    } else if url.contains('?') {
        format!("{url}&ssl_mode=disabled")
    } else {
        format!("{url}?ssl_mode=disabled")
    };
    Ok(cfg)
}

// ---------------------------------------------------------------- async drivers

/// One async driver, as its users would write it. Its futures are `Send`, so that
/// the same code runs as tasks of the current-thread runtime (local tasks) and of a
/// multi-thread one (`--workers`; see [`spawn`]).
trait AsyncDriver: 'static {
    type Conn: Send + 'static;
    type Pool: Clone + Send + Sync + 'static;
    type Pooled: Send + 'static;
    fn connect(cfg: &Config) -> impl Future<Output = R<Self::Conn>> + Send;
    fn select1(conn: &mut Self::Conn) -> impl Future<Output = R<i64>> + Send;
    /// Read every row into tuples; returns (rows, a checksum).
    fn decode(conn: &mut Self::Conn, sql: &str) -> impl Future<Output = R<(usize, u64)>> + Send;
    fn close(conn: Self::Conn) -> impl Future<Output = ()> + Send;
    /// An empty pool of at most `max` connections.
    fn pool(cfg: &Config, max: usize) -> R<Self::Pool>;
    fn checkout(pool: &Self::Pool) -> impl Future<Output = R<Self::Pooled>> + Send;
    fn exec(conn: &mut Self::Pooled, sql: &str) -> impl Future<Output = R<()>> + Send;
    fn close_pool(pool: Self::Pool) -> impl Future<Output = ()> + Send;
}

/// Spawn a task: a local task on the current-thread runtime (inside its `LocalSet`,
/// as the benchmark always ran), a task any worker may run on a multi-thread one.
fn spawn<F>(fut: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match tokio::runtime::Handle::current().runtime_flavor() {
        tokio::runtime::RuntimeFlavor::CurrentThread => tokio::task::spawn_local(fut),
        _ => tokio::spawn(fut),
    }
}

/// The runtimes: the current-thread one with its `LocalSet` for every section, and
/// with `--workers N` a multi-thread one of N workers for select1 and chartio.
struct Exec {
    rt: tokio::runtime::Runtime,
    local: tokio::task::LocalSet,
    multi: Option<tokio::runtime::Runtime>,
}

impl Exec {
    fn new(workers: usize) -> R<Exec> {
        let multi = if workers > 0 {
            Some(
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(workers)
                    .enable_all()
                    .build()?,
            )
        } else {
            None
        };
        Ok(Exec {
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?,
            local: tokio::task::LocalSet::new(),
            multi,
        })
    }

    /// Run `fut` on the current-thread runtime.
    fn local<F: Future>(&self, fut: F) -> F::Output {
        self.local.block_on(&self.rt, fut)
    }

    /// Run `fut` on the multi-thread runtime if there is one (its tasks spread over
    /// the workers), else on the current-thread one.
    fn scaled<F: Future>(&self, fut: F) -> F::Output {
        match &self.multi {
            Some(rt) => rt.block_on(fut),
            None => self.local(fut),
        }
    }

    /// How the async drivers run select1 and chartio, for the report.
    fn describe(&self, cfg: &Config) -> String {
        match self.multi {
            Some(_) => format!(
                "on a multi-thread tokio runtime of {} workers for SELECT 1 and Chartio \
                 (one current-thread runtime elsewhere)",
                cfg.workers
            ),
            None => "on one current-thread tokio runtime".into(),
        }
    }
}

/// Failed operations: how many, and the first error text of each kind (the message
/// with its numbers blanked out).
#[derive(Default)]
struct Failures {
    count: AtomicU64,
    kinds: Mutex<Vec<(String, u64, String)>>,
}

impl Failures {
    fn add(&self, err: &str) {
        self.count.fetch_add(1, Ordering::Relaxed);
        let kind: String = err
            .chars()
            .map(|c| if c.is_ascii_digit() { '#' } else { c })
            .take(80)
            .collect();
        let mut kinds = self.kinds.lock().unwrap_or_else(|e| e.into_inner());
        match kinds.iter_mut().find(|(k, _, _)| *k == kind) {
            Some((_, n, _)) => *n += 1,
            None => kinds.push((kind, 1, err.to_string())),
        }
    }

    fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// (count, first text) of each kind, in order of first appearance.
    fn kinds(&self) -> Vec<(u64, String)> {
        let kinds = self.kinds.lock().unwrap_or_else(|e| e.into_inner());
        kinds.iter().map(|(_, n, t)| (*n, t.clone())).collect()
    }
}

type Decoded = (i64, String, f64, String, String);

fn checksum(rows: &[Decoded]) -> u64 {
    rows.iter().fold(0u64, |acc, (id, name, score, at, body)| {
        acc.wrapping_add(*id as u64)
            .wrapping_add((name.len() + at.len() + body.len()) as u64)
            .wrapping_add(*score as u64)
    })
}

/// This crate; `RESET` is the pool's reset of a returned connection's session
/// (on by default; off only in the checkout figure, to show what it costs).
struct Ours<const RESET: bool = true>;

impl<const RESET: bool> AsyncDriver for Ours<RESET> {
    type Conn = mysqlclient_async::AsyncConn;
    type Pool = mysqlclient_async::Pool;
    type Pooled = mysqlclient_async::PooledConn;

    async fn connect(cfg: &Config) -> R<Self::Conn> {
        Ok(mysqlclient_async::AsyncConn::connect(cfg.url.as_str()).await?)
    }
    async fn select1(conn: &mut Self::Conn) -> R<i64> {
        Ok(conn.query_one::<i64>("SELECT 1").await?)
    }
    async fn decode(conn: &mut Self::Conn, sql: &str) -> R<(usize, u64)> {
        let rows: Vec<Decoded> = conn.query(sql).await?;
        Ok((rows.len(), checksum(&rows)))
    }
    async fn close(conn: Self::Conn) {
        let _ = conn.close().await;
    }
    fn pool(cfg: &Config, max: usize) -> R<Self::Pool> {
        Ok(mysqlclient_async::Pool::builder(cfg.url.as_str())
            .max_size(max)
            .acquire_timeout(Duration::from_secs(120))
            .reset_on_return(RESET)
            .build()?)
    }
    async fn checkout(pool: &Self::Pool) -> R<Self::Pooled> {
        Ok(pool.get().await?)
    }
    async fn exec(conn: &mut Self::Pooled, sql: &str) -> R<()> {
        conn.query_drop(sql).await?;
        Ok(())
    }
    async fn close_pool(pool: Self::Pool) {
        pool.close().await;
    }
}

#[cfg(feature = "peers")]
mod peers {
    use super::*;
    use mysql_async::prelude::Queryable as _;
    use sqlx::{Connection as _, Row as _};
    use std::sync::Barrier;

    pub struct MysqlAsync;

    fn ma_opts(cfg: &Config, pool_max: Option<usize>) -> R<mysql_async::Opts> {
        let mut b =
            mysql_async::OptsBuilder::from_opts(mysql_async::Opts::from_url(&cfg.peer_url)?)
                .prefer_socket(false);
        if let Some(max) = pool_max {
            let constraints = mysql_async::PoolConstraints::new(0, max).ok_or("bad pool size")?;
            b = b.pool_opts(mysql_async::PoolOpts::default().with_constraints(constraints));
        }
        Ok(b.into())
    }

    impl AsyncDriver for MysqlAsync {
        type Conn = mysql_async::Conn;
        type Pool = mysql_async::Pool;
        type Pooled = mysql_async::Conn;

        async fn connect(cfg: &Config) -> R<Self::Conn> {
            Ok(mysql_async::Conn::new(ma_opts(cfg, None)?).await?)
        }
        async fn select1(conn: &mut Self::Conn) -> R<i64> {
            Ok(conn
                .query_first::<i64, _>("SELECT 1")
                .await?
                .ok_or("no row")?)
        }
        async fn decode(conn: &mut Self::Conn, sql: &str) -> R<(usize, u64)> {
            let rows: Vec<Decoded> = conn.query(sql).await?;
            Ok((rows.len(), checksum(&rows)))
        }
        async fn close(conn: Self::Conn) {
            let _ = conn.disconnect().await;
        }
        fn pool(cfg: &Config, max: usize) -> R<Self::Pool> {
            Ok(mysql_async::Pool::new(ma_opts(cfg, Some(max))?))
        }
        async fn checkout(pool: &Self::Pool) -> R<Self::Pooled> {
            Ok(pool.get_conn().await?)
        }
        async fn exec(conn: &mut Self::Pooled, sql: &str) -> R<()> {
            conn.query_drop(sql).await?;
            Ok(())
        }
        async fn close_pool(pool: Self::Pool) {
            let _ = pool.disconnect().await;
        }
    }

    pub struct Sqlx;

    fn sqlx_opts(cfg: &Config) -> R<sqlx::mysql::MySqlConnectOptions> {
        Ok(cfg
            .peer_url
            .parse::<sqlx::mysql::MySqlConnectOptions>()?
            .ssl_mode(sqlx::mysql::MySqlSslMode::Disabled))
    }

    fn sql_of(sql: &str) -> sqlx::AssertSqlSafe<String> {
        sqlx::AssertSqlSafe(sql.to_owned())
    }

    impl AsyncDriver for Sqlx {
        type Conn = sqlx::MySqlConnection;
        type Pool = sqlx::MySqlPool;
        type Pooled = sqlx::pool::PoolConnection<sqlx::MySql>;

        async fn connect(cfg: &Config) -> R<Self::Conn> {
            Ok(sqlx::MySqlConnection::connect_with(&sqlx_opts(cfg)?).await?)
        }
        async fn select1(conn: &mut Self::Conn) -> R<i64> {
            let row = sqlx::raw_sql("SELECT 1").fetch_one(&mut *conn).await?;
            Ok(row.try_get::<i64, _>(0)?)
        }
        async fn decode(conn: &mut Self::Conn, sql: &str) -> R<(usize, u64)> {
            use futures_util::TryStreamExt as _;
            let mut stream = sqlx::raw_sql(sql_of(sql)).fetch(&mut *conn);
            let mut rows: Vec<Decoded> = Vec::new();
            while let Some(row) = stream.try_next().await? {
                rows.push((
                    row.try_get(0)?,
                    row.try_get(1)?,
                    row.try_get(2)?,
                    // No chrono/time feature: the text protocol's DATETIME text.
                    row.try_get_unchecked(3)?,
                    row.try_get(4)?,
                ));
            }
            Ok((rows.len(), checksum(&rows)))
        }
        async fn close(conn: Self::Conn) {
            let _ = conn.close().await;
        }
        fn pool(cfg: &Config, max: usize) -> R<Self::Pool> {
            Ok(sqlx::mysql::MySqlPoolOptions::new()
                .max_connections(max as u32)
                .min_connections(0)
                .acquire_timeout(Duration::from_secs(120))
                .connect_lazy_with(sqlx_opts(cfg)?))
        }
        async fn checkout(pool: &Self::Pool) -> R<Self::Pooled> {
            Ok(pool.acquire().await?)
        }
        async fn exec(conn: &mut Self::Pooled, sql: &str) -> R<()> {
            sqlx::raw_sql(sql_of(sql)).execute(&mut **conn).await?;
            Ok(())
        }
        async fn close_pool(pool: Self::Pool) {
            pool.close().await;
        }
    }

    // ------------------------------------------------ the sync mysql crate on threads

    use mysql::prelude::Queryable as _;

    pub fn my_opts(cfg: &Config, pool_max: Option<usize>) -> R<mysql::Opts> {
        let mut b = mysql::OptsBuilder::from_opts(mysql::Opts::from_url(&cfg.peer_url)?)
            .prefer_socket(false);
        if let Some(max) = pool_max {
            let constraints = mysql::PoolConstraints::new(0, max).ok_or("bad pool size")?;
            b = b.pool_opts(mysql::PoolOpts::default().with_constraints(constraints));
        }
        Ok(b.into())
    }

    pub fn select1_threads(cfg: &Config, c: usize) -> R<Measurement> {
        loop_threads(cfg, c, |conn, _, _| {
            let v: i64 = conn
                .query_first("SELECT 1")
                .map_err(|e| e.to_string())?
                .ok_or("no row")?;
            std::hint::black_box(v);
            Ok(())
        })
    }

    /// `op(conn, thread, k)` in a loop on `c` threads with a connection each (`k`
    /// counts the thread's calls); the calls done in a window after a warm-up.
    pub fn loop_threads<F>(cfg: &Config, c: usize, op: F) -> R<Measurement>
    where
        F: Fn(&mut mysql::Conn, usize, u64) -> Result<(), String> + Clone + Send + 'static,
    {
        let opts = my_opts(cfg, None)?;
        let count = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let start = Arc::new(Barrier::new(c + 1));
        let mut threads = Vec::new();
        for t in 0..c {
            let mut conn = mysql::Conn::new(opts.clone())?;
            let (count, stop, start, op) = (count.clone(), stop.clone(), start.clone(), op.clone());
            threads.push(std::thread::spawn(move || -> Result<(), String> {
                start.wait();
                let mut k = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    op(&mut conn, t, k)?;
                    k += 1;
                    count.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            }));
        }
        start.wait();
        std::thread::sleep(cfg.warmup);
        let m0 = Mark::now(count.load(Ordering::Relaxed));
        std::thread::sleep(cfg.window);
        let m1 = Mark::now(count.load(Ordering::Relaxed));
        stop.store(true, Ordering::Relaxed);
        for t in threads {
            t.join().map_err(|_| "thread panicked")??;
        }
        Ok(m0.until(&m1))
    }

    pub fn decode_sync(cfg: &Config) -> R<Measurement> {
        let mut conn = mysql::Conn::new(my_opts(cfg, None)?)?;
        let sql = decode_sql();
        let m0 = Mark::now(0);
        let rows: Vec<Decoded> = conn.query(&sql)?;
        let n = rows.len() as u64;
        std::hint::black_box(checksum(&rows));
        let m = m0.until(&Mark::now(n));
        drop(rows);
        check_rows(cfg, n)?;
        Ok(m)
    }

    /// Chartio on threads: `c` threads, each `rounds` x (check out, slow query,
    /// return), failed requests counted.
    pub fn chartio_threads(cfg: &Config, c: usize, warm: bool) -> R<ChartioRun> {
        let pool = mysql::Pool::new(my_opts(cfg, Some(c))?)?;
        let sql = sleep_sql(cfg);
        let spawn = |f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(f)
                .map_err(|e| e.to_string())
        };
        let warmup = Arc::new(Failures::default());
        if warm {
            let all = Arc::new(Barrier::new(c));
            let mut threads = Vec::new();
            for _ in 0..c {
                let (pool, all, warmup) = (pool.clone(), all.clone(), warmup.clone());
                threads.push(spawn(Box::new(move || {
                    // Every thread reaches the barrier, whether it got a connection or not.
                    let conn = pool.get_conn().map_err(|e| warmup.add(&e.to_string()));
                    all.wait();
                    drop(conn);
                }))?);
            }
            for t in threads {
                t.join().map_err(|_| "thread panicked")?;
            }
        }
        let failures = Arc::new(Failures::default());
        let done = Arc::new(AtomicU64::new(0));
        let start = Arc::new(Barrier::new(c + 1));
        let mut threads = Vec::new();
        for _ in 0..c {
            let (pool, start, sql) = (pool.clone(), start.clone(), sql.clone());
            let (failures, done) = (failures.clone(), done.clone());
            let rounds = cfg.chartio_rounds;
            threads.push(spawn(Box::new(move || {
                start.wait();
                for _ in 0..rounds {
                    let r = pool.get_conn().and_then(|mut conn| conn.query_drop(&sql));
                    match r {
                        Ok(()) => {
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => failures.add(&e.to_string()),
                    }
                }
            }))?);
        }
        start.wait();
        let m0 = Mark::now(0);
        for t in threads {
            t.join().map_err(|_| "thread panicked")?;
        }
        let m = m0.until(&Mark::now(done.load(Ordering::Relaxed)));
        drop(pool);
        Ok(ChartioRun {
            m,
            failures,
            warmup,
        })
    }
}

fn check_rows(cfg: &Config, n: u64) -> R<()> {
    if n != cfg.rows {
        return Err(format!("decode read {n} rows, expected {}", cfg.rows).into());
    }
    Ok(())
}

fn sleep_sql(cfg: &Config) -> String {
    format!("SELECT SLEEP({})", cfg.sleep)
}

/// `SELECT 1` in a loop on `c` connections, one task each; the queries done in a
/// window after a warm-up.
async fn select1_async<D: AsyncDriver>(cfg: &Config, c: usize) -> R<Measurement> {
    let mut conns = Vec::with_capacity(c);
    for _ in 0..c {
        conns.push(D::connect(cfg).await?);
    }
    let count = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for mut conn in conns {
        let (count, stop) = (count.clone(), stop.clone());
        tasks.push(spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let v = D::select1(&mut conn).await.map_err(|e| e.to_string())?;
                if v != 1 {
                    return Err(format!("SELECT 1 returned {v}"));
                }
                count.fetch_add(1, Ordering::Relaxed);
            }
            D::close(conn).await;
            Ok::<(), String>(())
        }));
    }
    measure_window(cfg, &count, &stop, tasks).await
}

/// Let `tasks` count for the warm-up, then measure the window, then stop them.
async fn measure_window(
    cfg: &Config,
    count: &AtomicU64,
    stop: &AtomicBool,
    tasks: Vec<tokio::task::JoinHandle<Result<(), String>>>,
) -> R<Measurement> {
    tokio::time::sleep(cfg.warmup).await;
    let m0 = Mark::now(count.load(Ordering::Relaxed));
    tokio::time::sleep(cfg.window).await;
    let m1 = Mark::now(count.load(Ordering::Relaxed));
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await??;
    }
    Ok(m0.until(&m1))
}

/// Pooled round trips: `c` tasks, each looping {check out, `DO 1`, return} on a
/// pool of `c` (warm: connections opened before the window).
async fn checkout_async<D: AsyncDriver>(cfg: &Config, c: usize) -> R<Measurement> {
    let pool = D::pool(cfg, c)?;
    let mut held = Vec::new();
    for _ in 0..c {
        held.push(D::checkout(&pool).await?);
    }
    drop(held);
    let count = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..c {
        let (pool, count, stop) = (pool.clone(), count.clone(), stop.clone());
        tasks.push(spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let mut conn = D::checkout(&pool).await.map_err(|e| e.to_string())?;
                D::exec(&mut conn, "DO 1")
                    .await
                    .map_err(|e| e.to_string())?;
                drop(conn);
                count.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<(), String>(())
        }));
    }
    let m = measure_window(cfg, &count, &stop, tasks).await;
    D::close_pool(pool).await;
    m
}

/// One full read of the decode table (connecting is not timed).
async fn decode_async<D: AsyncDriver>(cfg: &Config) -> R<Measurement> {
    let mut conn = D::connect(cfg).await?;
    let sql = decode_sql();
    let m0 = Mark::now(0);
    let (n, sum) = D::decode(&mut conn, &sql).await?;
    std::hint::black_box(sum);
    let m = m0.until(&Mark::now(n as u64));
    check_rows(cfg, n as u64)?;
    D::close(conn).await;
    Ok(m)
}

/// One Chartio run of a driver at one level: the requests that succeeded (the
/// measurement's operations), the failed ones, and the warm-up's failed checkouts.
pub struct ChartioRun {
    m: Measurement,
    failures: Arc<Failures>,
    warmup: Arc<Failures>,
}

/// Chartio without HTTP: `c` tasks, each `rounds` x (check out, slow query,
/// return). Cold: the pool starts empty. Warm: `c` connections are opened (and held
/// at once) before the clock starts. A failed checkout or query is counted, and the
/// task goes on with its next request.
async fn chartio_async<D: AsyncDriver>(cfg: &Config, c: usize, warm: bool) -> R<ChartioRun> {
    let pool = D::pool(cfg, c)?;
    let warmup = Arc::new(Failures::default());
    if warm {
        let all = Arc::new(tokio::sync::Barrier::new(c));
        let mut tasks = Vec::new();
        for _ in 0..c {
            let (pool, all, warmup) = (pool.clone(), all.clone(), warmup.clone());
            tasks.push(spawn(async move {
                let conn = match D::checkout(&pool).await {
                    Ok(mut conn) => match D::exec(&mut conn, "DO 1").await {
                        Ok(()) => Some(conn),
                        Err(e) => {
                            warmup.add(&e.to_string());
                            None
                        }
                    },
                    Err(e) => {
                        warmup.add(&e.to_string());
                        None
                    }
                };
                // Every task reaches the barrier, whether it got a connection or not.
                all.wait().await;
                drop(conn);
            }));
        }
        for t in tasks {
            t.await?;
        }
    }
    let sql: Arc<str> = sleep_sql(cfg).into();
    let start = Arc::new(tokio::sync::Barrier::new(c + 1));
    let failures = Arc::new(Failures::default());
    let done = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..c {
        let (pool, sql, start, rounds) =
            (pool.clone(), sql.clone(), start.clone(), cfg.chartio_rounds);
        let (failures, done) = (failures.clone(), done.clone());
        tasks.push(spawn(async move {
            start.wait().await;
            for _ in 0..rounds {
                let r = match D::checkout(&pool).await {
                    Ok(mut conn) => D::exec(&mut conn, &sql).await,
                    Err(e) => Err(e),
                };
                match r {
                    Ok(()) => {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => failures.add(&e.to_string()),
                }
            }
        }));
    }
    start.wait().await;
    let m0 = Mark::now(0);
    for t in tasks {
        t.await?;
    }
    let m = m0.until(&Mark::now(done.load(Ordering::Relaxed)));
    D::close_pool(pool).await;
    Ok(ChartioRun {
        m,
        failures,
        warmup,
    })
}

/// The ceiling: the same tasks, sleeping instead of querying.
async fn chartio_null(cfg: &Config, c: usize) -> R<Measurement> {
    let d = Duration::from_secs_f64(cfg.sleep);
    let start = Arc::new(tokio::sync::Barrier::new(c + 1));
    let mut tasks = Vec::new();
    for _ in 0..c {
        let (start, rounds) = (start.clone(), cfg.chartio_rounds);
        tasks.push(spawn(async move {
            start.wait().await;
            for _ in 0..rounds {
                tokio::time::sleep(d).await;
            }
        }));
    }
    start.wait().await;
    let m0 = Mark::now(0);
    for t in tasks {
        t.await?;
    }
    Ok(m0.until(&Mark::now((c * cfg.chartio_rounds) as u64)))
}

// ---------------------------------------------------------------- running it all

/// Results: figure name -> per-driver measurement.
#[derive(Default)]
struct Results {
    rows: Vec<(String, Vec<(String, Measurement)>)>,
    /// Chartio's `null` at each level.
    null_chartio: Vec<(usize, Measurement)>,
    /// Chartio's failures: (level, pool, driver, failed requests and their kinds,
    /// failed warm-up checkouts and their kinds), for the runs with any.
    chartio_failures: Vec<ChartioFailures>,
}

/// The failures of one Chartio run.
struct ChartioFailures {
    c: usize,
    pool: &'static str,
    driver: String,
    failed: u64,
    kinds: Vec<(u64, String)>,
    warmup_failed: u64,
    warmup_kinds: Vec<(u64, String)>,
}

impl Results {
    fn put(&mut self, figure: &str, driver: &str, m: Measurement) {
        match self.rows.iter_mut().find(|(f, _)| f == figure) {
            Some((_, v)) => v.push((driver.into(), m)),
            None => self.rows.push((figure.into(), vec![(driver.into(), m)])),
        }
    }
    fn get(&self, figure: &str, driver: &str) -> Option<Measurement> {
        self.rows
            .iter()
            .find(|(f, _)| f == figure)
            .and_then(|(_, v)| v.iter().find(|(d, _)| d == driver).map(|(_, m)| *m))
    }
    fn failed(&self, c: usize, pool: &str, driver: &str) -> u64 {
        self.chartio_failures
            .iter()
            .find(|f| f.c == c && f.pool == pool && f.driver == driver)
            .map_or(0, |f| f.failed)
    }
}

fn note(msg: impl AsRef<str>) {
    eprintln!("bench: {}", msg.as_ref());
}

#[derive(Clone, Copy, Debug)]
enum Task {
    Select1(usize),
    Decode,
    Checkout(usize),
}

/// One measurement of one driver.
fn measure(cfg: &Config, exec: &Exec, driver: &str, task: Task) -> R<Measurement> {
    macro_rules! on_async {
        ($d:ty) => {
            match task {
                Task::Select1(c) => exec.scaled(select1_async::<$d>(cfg, c)),
                Task::Decode => exec.local(decode_async::<$d>(cfg)),
                Task::Checkout(c) => exec.local(checkout_async::<$d>(cfg, c)),
            }
        };
    }
    match driver {
        "ours" => on_async!(Ours),
        "ours-noreset" => on_async!(Ours<false>),
        #[cfg(feature = "peers")]
        "mysql_async" => on_async!(peers::MysqlAsync),
        #[cfg(feature = "peers")]
        "sqlx" => on_async!(peers::Sqlx),
        #[cfg(feature = "peers")]
        "mysql" => match task {
            Task::Select1(c) => peers::select1_threads(cfg, c),
            Task::Decode => peers::decode_sync(cfg),
            Task::Checkout(_) => Err("the checkout figure is for the async pools".into()),
        },
        other => Err(format!("unknown driver {other}").into()),
    }
}

/// One Chartio run of one driver at level `c`.
fn measure_chartio(cfg: &Config, exec: &Exec, driver: &str, c: usize, warm: bool) -> R<ChartioRun> {
    let run = match driver {
        "ours" => exec.scaled(chartio_async::<Ours>(cfg, c, warm)),
        #[cfg(feature = "peers")]
        "mysql_async" => exec.scaled(chartio_async::<peers::MysqlAsync>(cfg, c, warm)),
        #[cfg(feature = "peers")]
        "sqlx" => exec.scaled(chartio_async::<peers::Sqlx>(cfg, c, warm)),
        #[cfg(feature = "peers")]
        "mysql" => peers::chartio_threads(cfg, c, warm),
        other => Err(format!("unknown driver {other}").into()),
    }?;
    // Let the server finish closing the pool's connections.
    scale::wait_server_idle(cfg);
    Ok(run)
}

/// Create (once) the 200k-row table the decode figure reads.
fn prepare_decode_table(cfg: &Config) -> R<()> {
    prepare_rows_table(cfg, DECODE_TABLE, cfg.rows)
}

/// Create (once) `table` with ids 1..=`rows` and 5 columns (BIGINT, VARCHAR, DOUBLE,
/// DATETIME(6), TEXT), unless it already has that many rows.
fn prepare_rows_table(cfg: &Config, table: &str, rows: u64) -> R<()> {
    let mut conn = mysqlclient_async::Conn::connect(cfg.url.as_str())?;
    let n: Option<i64> = conn
        .query_opt(&format!(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = '{table}'"
        ))?;
    if n == Some(1) {
        let have: i64 = conn.query_one(&format!("SELECT COUNT(*) FROM {table}"))?;
        if have as u64 == rows {
            return Ok(());
        }
    }
    note(format!("creating {table} with {rows} rows"));
    conn.query_drop(&format!("DROP TABLE IF EXISTS {table}"))?;
    conn.query_drop(&format!(
        "CREATE TABLE {table} (id BIGINT PRIMARY KEY, name VARCHAR(64) NOT NULL, \
         score DOUBLE NOT NULL, at DATETIME(6) NOT NULL, body TEXT NOT NULL) ENGINE=InnoDB"
    ))?;
    conn.query_drop(&format!(
        "INSERT INTO {table} SELECT seq, CONCAT('name-', seq), seq * 1.25, \
         TIMESTAMP'2020-01-01 00:00:00' + INTERVAL seq SECOND + INTERVAL (seq * 7919) MOD 1000000 MICROSECOND, \
         REPEAT(CHAR(97 + seq MOD 26), 20 + seq MOD 180) FROM seq_1_to_{rows}"
    ))?;
    Ok(())
}

trait NoneOrNan {
    fn is_none_or_nan(&self, value: &dyn Fn(&Measurement) -> f64) -> bool;
}

impl NoneOrNan for Option<Measurement> {
    fn is_none_or_nan(&self, value: &dyn Fn(&Measurement) -> f64) -> bool {
        self.as_ref().is_none_or(|m| !value(m).is_finite())
    }
}

fn pct(a: f64, b: f64) -> String {
    if b > 0.0 && a.is_finite() {
        format!("{:.1}%", 100.0 * a / b)
    } else {
        "n/a".into()
    }
}

fn ratio(ours: f64, peer: f64) -> String {
    if peer > 0.0 && ours.is_finite() && peer.is_finite() {
        format!("{:.2}×", ours / peer)
    } else {
        "n/a".into()
    }
}

fn report(cfg: &Config, res: &Results) -> String {
    let peers: Vec<&String> = cfg.drivers.iter().filter(|d| *d != "ours").collect();
    let title = |d: &str| match d {
        "ours" => "mysqlclient-async".to_string(),
        "mysql" => "mysql (threads)".to_string(),
        other => other.to_string(),
    };
    let mut header = vec!["figure".to_string()];
    header.extend(cfg.drivers.iter().map(|d| title(d)));
    header.extend(peers.iter().map(|p| format!("ours ÷ {}", title(p))));
    let mut t = Table::new(header);
    let mut line = |label: String,
                    figure: &str,
                    value: &dyn Fn(&Measurement) -> f64,
                    decimals: usize,
                    extra: &dyn Fn(&str, &Measurement) -> String| {
        if cfg
            .drivers
            .iter()
            .all(|d| res.get(figure, d).is_none_or_nan(value))
        {
            return;
        }
        let mut cells = vec![label];
        for d in &cfg.drivers {
            cells.push(match res.get(figure, d) {
                Some(m) => format!("{}{}", fmt_num(value(&m), decimals), extra(d, &m)),
                None => "—".into(),
            });
        }
        let ours = res.get(figure, "ours").map(|m| value(&m));
        for p in &peers {
            cells.push(match (ours, res.get(figure, p)) {
                (Some(o), Some(m)) => ratio(o, value(&m)),
                _ => "—".into(),
            });
        }
        t.row(cells);
    };
    let none = |_: &str, _: &Measurement| String::new();
    for &c in &cfg.levels {
        line(
            format!("SELECT 1, q/s, c={c}"),
            &format!("select1-{c}"),
            &|m| m.rate(),
            0,
            &none,
        );
    }
    for &c in &cfg.levels {
        line(
            format!("client CPU µs/query (lower is better), c={c}"),
            &format!("select1-{c}"),
            &|m| m.cpu_us_per_op(),
            2,
            &none,
        );
    }
    for &c in &cfg.levels {
        line(
            format!("… of which user space, c={c}"),
            &format!("select1-{c}"),
            &|m| m.user_us_per_op(),
            2,
            &none,
        );
    }
    for &c in &cfg.levels {
        line(
            format!("server CPU µs/query, c={c}"),
            &format!("select1-{c}"),
            &|m| m.server_us_per_op(),
            2,
            &none,
        );
    }
    line(
        format!("rows/s, {}k rows × 5 columns", cfg.rows / 1000),
        "decode",
        &|m| m.rate(),
        0,
        &none,
    );
    for &c in &cfg.chartio_c {
        let null = res
            .null_chartio
            .iter()
            .find(|(cc, _)| *cc == c)
            .map(|(_, m)| *m);
        for label in ["cold", "warm"] {
            let figure = format!("chartio-{label}-{c}");
            let extra = |d: &str, m: &Measurement| {
                let mut s = match null {
                    Some(n) => format!(" ({} of null", pct(m.rate(), n.rate())),
                    None => " (".into(),
                };
                let failed = res.failed(c, label, d);
                if failed > 0 {
                    if null.is_some() {
                        s.push_str(", ");
                    }
                    s.push_str(&format!("{} failed", fmt_num(failed as f64, 0)));
                }
                if s == " (" {
                    String::new()
                } else {
                    s + ")"
                }
            };
            line(
                format!("Chartio c={c}, {label} pool, q/s"),
                &figure,
                &|m| m.rate(),
                1,
                &extra,
            );
        }
    }
    let mut out = if t.is_empty() {
        String::new()
    } else {
        t.render()
    };
    for (c, n) in &res.null_chartio {
        out.push_str(&format!(
            "\nChartio `null` at c={c} (tasks sleeping {} s, no database): {} q/s; the limit is c / query time = {} q/s.",
            cfg.sleep,
            fmt_num(n.rate(), 1),
            fmt_num(*c as f64 / cfg.sleep, 1)
        ));
    }
    if !res.null_chartio.is_empty() {
        out.push('\n');
    }
    for f in &res.chartio_failures {
        out.push_str(&format!(
            "\nChartio c={}, {} pool, {}: {} of {} requests failed{}{}",
            f.c,
            f.pool,
            title(&f.driver),
            fmt_num(f.failed as f64, 0),
            fmt_num((f.c * cfg.chartio_rounds) as f64, 0),
            kinds_text(&f.kinds),
            if f.warmup_failed > 0 {
                format!(
                    "; {} warm-up checkouts failed{}",
                    fmt_num(f.warmup_failed as f64, 0),
                    kinds_text(&f.warmup_kinds)
                )
            } else {
                String::new()
            }
        ));
    }
    if !res.chartio_failures.is_empty() {
        out.push('\n');
    }
    out
}

/// `: 12 × `first text`, 3 × `…`` for error kinds (none: empty).
fn kinds_text(kinds: &[(u64, String)]) -> String {
    if kinds.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = kinds
        .iter()
        .map(|(n, t)| format!("{} × `{}`", fmt_num(*n as f64, 0), t.replace('`', "'")))
        .collect();
    format!(": {}", parts.join(", "))
}

fn main() {
    let cfg = match parse_args() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let result = match &cfg.child {
        Some(child) => scale::run_child(&cfg, child),
        None => run(&cfg),
    };
    if let Err(e) = result {
        eprintln!("bench: error: {e}");
        std::process::exit(1);
    }
}

fn run(cfg: &Config) -> R<()> {
    let fd_limit = mysqlclient_async_bench::raise_fd_limit();
    let load_before = format!(
        "{} (1-minute load average), {} idle",
        loadavg(),
        idle_share()
    );
    if !cfg!(feature = "peers") {
        note("built without the `peers` feature: measuring mysqlclient-async only (make bench adds the peers)");
    }
    note(format!(
        "server {}, drivers: {}",
        cfg.peer_url,
        cfg.drivers.join(", ")
    ));
    match watch_local_server(cfg) {
        Some(pid) => note(format!("server pid {pid}: its CPU time is measured too")),
        None => note(
            "server CPU not measured (not a local mariadbd/mysqld, or its pid file is unreadable)",
        ),
    }
    if cfg.sections.iter().any(|s| s == "decode") {
        prepare_decode_table(cfg)?;
    }
    let has = |section: &str| cfg.sections.iter().any(|s| s == section);
    // The most connections any section opens at once, and the option that sets it.
    let mut most: Vec<(usize, &str)> = Vec::new();
    if has("chartio") {
        most.extend(cfg.chartio_c.iter().max().map(|&c| (c, "--chartio-c")));
    }
    if has("storm") {
        most.extend(cfg.storm.iter().max().map(|&c| (c, "--storm")));
    }
    if has("footprint") {
        most.push((cfg.footprint_conns, "--footprint-conns"));
    }
    if let Some(&(need, option)) = most.iter().max() {
        let mut conn = mysqlclient_async::Conn::connect(cfg.url.as_str())?;
        let max: i64 = conn.query_one("SELECT @@max_connections")?;
        if (max as usize) < need + 10 {
            return Err(format!(
                "the server's max_connections is {max}, below {option} {need} (+ 10 spare): unset MYSQL_URL to use a throwaway server (scripts/with-mysql.sh, MYSQL_MAX_CONNECTIONS), or lower {option}"
            )
            .into());
        }
        // Each connection is a socket, plus the runtime's and the libraries' own.
        if (fd_limit as usize) < need + 100 {
            note(format!(
                "open-files limit {fd_limit} is low for {need} connections: expect failures (run as root, or raise `ulimit -Hn`)"
            ));
        }
    }
    let exec = Exec::new(cfg.workers)?;
    let (rt, local) = (&exec.rt, &exec.local);
    let mut res = Results::default();
    if has("select1") {
        // Rounds: every driver at every level in turn, `repeat` times (see `Rounds`).
        let mut samples = Rounds::default();
        for round in 1..=cfg.repeat {
            for &c in &cfg.levels {
                for d in &cfg.drivers {
                    let m = measure(cfg, &exec, d, Task::Select1(c))?;
                    note(format!(
                        "round {round}/{}: {d:12} SELECT 1 c={c:<3} {:>9} q/s  {:>6} µs CPU/query",
                        cfg.repeat,
                        fmt_num(m.rate(), 0),
                        fmt_num(m.cpu_us_per_op(), 2)
                    ));
                    samples.push((format!("select1-{c}"), d.clone()), m);
                }
            }
        }
        for ((fig, d), m) in samples.into_medians() {
            res.put(&fig, &d, m);
        }
    }
    if has("decode") {
        let mut best: Vec<(String, Measurement)> = Vec::new();
        for round in 1..=cfg.decode_iters {
            for d in &cfg.drivers {
                let m = measure(cfg, &exec, d, Task::Decode)?;
                note(format!(
                    "round {round}/{}: {d:12} decode {:>11} rows/s",
                    cfg.decode_iters,
                    fmt_num(m.rate(), 0)
                ));
                match best.iter_mut().find(|(dd, _)| dd == d) {
                    Some((_, b)) if m.rate() > b.rate() => *b = m,
                    Some(_) => {}
                    None => best.push((d.clone(), m)),
                }
            }
        }
        for (d, m) in best {
            res.put("decode", &d, m);
        }
    }
    if has("chartio") {
        for &c in &cfg.chartio_c {
            let m = exec.scaled(chartio_null(cfg, c))?;
            note(format!(
                "null         chartio c={c} {:>8} q/s",
                fmt_num(m.rate(), 1)
            ));
            res.null_chartio.push((c, m));
            for d in &cfg.drivers {
                for (warm, label) in [(false, "cold"), (true, "warm")] {
                    let run = measure_chartio(cfg, &exec, d, c, warm)?;
                    let failed = run.failures.count();
                    let warmup_failed = run.warmup.count();
                    note(format!(
                        "{d:12} chartio c={c} {label} {:>8} q/s, {failed} failed{}",
                        fmt_num(run.m.rate(), 1),
                        run.failures
                            .kinds()
                            .first()
                            .map_or(String::new(), |(_, t)| format!(" (first: {t})"))
                    ));
                    res.put(&format!("chartio-{label}-{c}"), d, run.m);
                    if failed > 0 || warmup_failed > 0 {
                        res.chartio_failures.push(ChartioFailures {
                            c,
                            pool: label,
                            driver: d.clone(),
                            failed,
                            kinds: run.failures.kinds(),
                            warmup_failed,
                            warmup_kinds: run.warmup.kinds(),
                        });
                    }
                }
            }
        }
    }
    let mut table = report(cfg, &res);
    if has("checkout") {
        table.push_str(&checkout_section(cfg, &exec)?);
    }
    for s in stmt::Section::ALL {
        if has(s.name()) {
            table.push_str(&stmt::section(cfg, rt, local, s)?);
        }
    }
    if has("storm") {
        table.push_str(&scale::storm_section(cfg)?);
    }
    if has("footprint") {
        table.push_str(&scale::footprint_section(cfg)?);
    }
    let machine = format!("{}; before the run: {load_before}", machine());
    let text = format!(
        "Peer comparison, {machine}. Async drivers {}, \
         `mysql` on one OS thread per connection; TCP to 127.0.0.1 without TLS; text protocol \
         outside the prepared-statement sections; \
         SELECT 1: windows of {} s after {} s warm-up, median of {} interleaved rounds; \
         decode: best of {}; Chartio: {} rounds of `SELECT SLEEP({})` per task.\n\n{}",
        exec.describe(cfg),
        cfg.window.as_secs_f64(),
        cfg.warmup.as_secs_f64(),
        cfg.repeat,
        cfg.decode_iters,
        cfg.chartio_rounds,
        cfg.sleep,
        table.trim_start()
    );
    println!("\n{text}");
    if let Some(dir) = std::path::Path::new(&cfg.out).parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&cfg.out, &text)?;
    note(format!("written to {}", cfg.out));
    Ok(())
}

/// The pools' checkout cycle (check out, `DO 1`, return), with and without our
/// session reset on return: what the reset costs per checkout.
fn checkout_section(cfg: &Config, exec: &Exec) -> R<String> {
    let mut drivers = vec!["ours".to_string(), "ours-noreset".to_string()];
    drivers.extend(
        cfg.drivers
            .iter()
            .filter(|d| !matches!(d.as_str(), "ours" | "mysql"))
            .cloned(),
    );
    let levels = [1usize, 16];
    let mut samples = Rounds::default();
    for round in 1..=cfg.repeat {
        for &c in &levels {
            for d in &drivers {
                let m = measure(cfg, exec, d, Task::Checkout(c))?;
                note(format!(
                    "round {round}/{}: {d:12} checkout c={c:<3} {:>9} cycles/s",
                    cfg.repeat,
                    fmt_num(m.rate(), 0)
                ));
                samples.push((d.clone(), c), m);
            }
        }
    }
    let get = |d: &str, c: usize| samples.median(&(d.to_string(), c));
    let mut header = vec!["pool checkout cycle (check out, DO 1, return)".to_string()];
    for &c in &levels {
        header.push(format!("cycles/s c={c}"));
        header.push(format!("µs per cycle c={c}"));
    }
    let mut t = Table::new(header);
    for d in &drivers {
        let mut cells = vec![match d.as_str() {
            "ours" => "mysqlclient-async (session reset on return, the default)".to_string(),
            "ours-noreset" => "mysqlclient-async, reset_on_return(false)".to_string(),
            other => format!("{other} (its default pool)"),
        }];
        for &c in &levels {
            match get(d, c) {
                Some(m) => {
                    cells.push(fmt_num(m.rate(), 0));
                    cells.push(fmt_num(c as f64 * 1e6 / m.rate(), 1));
                }
                None => cells.extend(["—".to_string(), "—".to_string()]),
            }
        }
        t.row(cells);
    }
    let mut out = format!("\n\n{}", t.render());
    for &c in &levels {
        if let (Some(a), Some(b)) = (get("ours", c), get("ours-noreset", c)) {
            out.push_str(&format!(
                "\nThe reset costs {} µs per checkout at c={c} ({} vs {} cycles/s).",
                fmt_num(c as f64 * 1e6 / a.rate() - c as f64 * 1e6 / b.rate(), 1),
                fmt_num(a.rate(), 0),
                fmt_num(b.rate(), 0)
            ));
        }
    }
    Ok(out)
}

fn machine() -> String {
    // SAFETY: sysconf has no preconditions.
    let online = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }.max(1) as usize;
    let usable = std::thread::available_parallelism().map_or(online, |n| n.get());
    let mem_gb = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| {
                    l.split_whitespace()
                        .nth(1)
                        .and_then(|k| k.parse::<f64>().ok())
                })
        })
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let pinned = if usable < online {
        format!(" (this client pinned to {usable} of them)")
    } else {
        String::new()
    };
    format!("{date}, {online} cores{pinned}, {mem_gb:.0} GB")
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_default()
}

/// Share of the machine's CPU time that was idle over one second (from /proc/stat).
fn idle_share() -> String {
    let sample = || -> Option<(u64, u64)> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let cpu = stat.lines().next()?;
        let v: Vec<u64> = cpu
            .split_whitespace()
            .skip(1)
            .filter_map(|x| x.parse().ok())
            .collect();
        let idle = v.get(3)? + v.get(4).unwrap_or(&0);
        Some((idle, v.iter().sum()))
    };
    let Some((i0, t0)) = sample() else {
        return "?".into();
    };
    std::thread::sleep(Duration::from_secs(1));
    let Some((i1, t1)) = sample() else {
        return "?".into();
    };
    if t1 > t0 {
        format!("{:.0}%", 100.0 * (i1 - i0) as f64 / (t1 - t0) as f64)
    } else {
        "?".into()
    }
}

/// When the server runs on this machine, find its pid (from `@@pid_file`) so that
/// every measurement also reports the server's CPU time.
fn watch_local_server(cfg: &Config) -> Option<u32> {
    let opts = mysqlclient_async::Opts::from_url(&cfg.url).ok()?;
    let local = opts.socket().is_some() || matches!(opts.host(), "127.0.0.1" | "localhost" | "::1");
    if !local {
        return None;
    }
    let mut conn = mysqlclient_async::Conn::connect(&opts).ok()?;
    let path: String = conn.query_one("SELECT @@pid_file").ok()?;
    let datadir: String = conn.query_one("SELECT @@datadir").ok()?;
    let path = if path.starts_with('/') {
        path
    } else {
        format!("{datadir}/{path}")
    };
    let pid: u32 = std::fs::read_to_string(path).ok()?.trim().parse().ok()?;
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    let comm = comm.trim();
    if comm != "mariadbd" && comm != "mysqld" {
        return None;
    }
    mysqlclient_async_bench::watch_server(pid).then_some(pid)
}
