//! Thousands of connections: the `storm` and `footprint` sections. Each (driver,
//! level) runs in a child process (this binary again, with the hidden `--child`
//! argument), so that the memory and descriptors it reports are that driver's
//! alone; the child prints its figures on one `RESULT` line (and a `KIND` line per
//! kind of error), which the parent reads back.
//!
//! - `storm`: N connections opened at once, from one current-thread runtime (the
//!   async drivers: N tasks spawned together, each connecting) or from
//!   `--storm-threads` threads each opening its share in turn (the sync `mysql`
//!   crate). Reported: the time until every attempt has finished, the failures (and
//!   the first error text of each kind), the peak RSS (`VmHWM`) and the RSS with
//!   all of them open. Then all are closed.
//! - `footprint`: K connections opened one after another, measured (RSS from
//!   `/proc/self/statm`, descriptors by counting `/proc/self/fd`) before, when all
//!   are open and idle, and after each of them has read a 1,000-row result (collected
//!   into a `Vec` and dropped). The baseline is taken after one connection has
//!   opened, read the result and closed, so the libraries' one-time setup is not
//!   counted per connection.

use std::io::Read as _;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mysqlclient_async_bench::{fmt_num, Table};

use super::{note, prepare_rows_table, spawn, AsyncDriver, Config, Exec, Failures, Ours, R};

/// The table every connection reads in `footprint`.
const FOOTPRINT_TABLE: &str = "bench_footprint";
/// Its rows.
const FOOTPRINT_ROWS: u64 = 1000;
/// The longest one connection attempt may take in `storm` (async drivers).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(120);

fn footprint_sql() -> String {
    format!("SELECT id, name, score, at, body FROM {FOOTPRINT_TABLE}")
}

/// What a child process measures.
#[derive(Clone, Copy, Debug)]
pub enum Child {
    /// Open this many connections at once.
    Storm(usize),
    /// Hold this many connections, idle and after a read.
    Footprint(usize),
}

impl Child {
    /// From the hidden `--child KIND --child-n N` arguments.
    pub fn parse(kind: &str, n: usize) -> R<Child> {
        if n == 0 {
            return Err("--child needs --child-n N (N >= 1)".into());
        }
        match kind {
            "storm" => Ok(Child::Storm(n)),
            "footprint" => Ok(Child::Footprint(n)),
            other => Err(format!("unknown child kind `{other}`").into()),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Child::Storm(_) => "storm",
            Child::Footprint(_) => "footprint",
        }
    }

    fn n(self) -> usize {
        match self {
            Child::Storm(n) | Child::Footprint(n) => n,
        }
    }
}

// ---------------------------------------------------------------- /proc

fn page_kib() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if page > 0 {
        page as u64 / 1024
    } else {
        4
    }
}

/// Resident set size now, KiB (`/proc/self/statm`).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * page_kib())
}

/// Peak resident set size so far, KiB (`VmHWM` in `/proc/self/status`).
fn hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

/// Open file descriptors (entries of `/proc/self/fd`, less the one reading it).
fn open_fds() -> u64 {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count().saturating_sub(1) as u64)
}

/// (RSS KiB, open fds) now.
fn usage() -> (u64, u64) {
    (rss_kib(), open_fds())
}

/// Descriptors held back while a storm may use up the open-files limit, so that
/// /proc can still be read afterwards: released just before measuring.
struct Spare(Vec<std::fs::File>);

impl Spare {
    fn hold() -> Spare {
        Spare(
            (0..4)
                .filter_map(|_| std::fs::File::open("/dev/null").ok())
                .collect(),
        )
    }

    /// (peak RSS, (RSS, fds)) now, with the spare descriptors released.
    fn measure(self) -> (u64, (u64, u64)) {
        drop(self.0);
        (hwm_kib(), usage())
    }
}

// ---------------------------------------------------------------- the child side

/// What a storm child measured.
struct Storm {
    secs: f64,
    opened: u64,
    failures: Failures,
    rss_before: u64,
    hwm: u64,
    rss_open: u64,
    fds_open: u64,
}

/// What a footprint child measured: (RSS KiB, fds) before, idle, after the reads.
struct Footprint {
    before: (u64, u64),
    idle: (u64, u64),
    after: (u64, u64),
}

/// A child's measurement.
enum Outcome {
    Storm(Storm),
    Footprint(Footprint),
}

/// Run in a child process: measure one driver (`--drivers`, exactly one) and print
/// the result lines on stdout.
pub fn run_child(cfg: &Config, child: &Child) -> R<()> {
    mysqlclient_async_bench::raise_fd_limit();
    let [driver] = cfg.drivers.as_slice() else {
        return Err("a child process measures exactly one driver (--drivers)".into());
    };
    let exec = Exec::new(0)?;
    macro_rules! on_async {
        ($d:ty) => {
            match *child {
                Child::Storm(n) => exec.local(storm_async::<$d>(cfg, n)).map(Outcome::Storm),
                Child::Footprint(k) => exec
                    .local(footprint_async::<$d>(cfg, k))
                    .map(Outcome::Footprint),
            }
        };
    }
    let out = match driver.as_str() {
        "ours" => on_async!(Ours),
        #[cfg(feature = "peers")]
        "mysql_async" => on_async!(crate::peers::MysqlAsync),
        #[cfg(feature = "peers")]
        "sqlx" => on_async!(crate::peers::Sqlx),
        #[cfg(feature = "peers")]
        "mysql" => match *child {
            Child::Storm(n) => peers::storm_threads(cfg, n).map(Outcome::Storm),
            Child::Footprint(k) => peers::footprint_sync(cfg, k).map(Outcome::Footprint),
        },
        other => Err(format!("unknown driver {other}").into()),
    }?;
    let clean = |s: &str| s.replace(['\t', '\n', '\r'], " ");
    match out {
        Outcome::Storm(s) => {
            println!(
                "RESULT\tsecs={}\topened={}\tfailed={}\trss_before={}\thwm={}\trss_open={}\tfds_open={}",
                s.secs,
                s.opened,
                s.failures.count(),
                s.rss_before,
                s.hwm,
                s.rss_open,
                s.fds_open
            );
            for (n, text) in s.failures.kinds() {
                println!("KIND\t{n}\t{}", clean(&text));
            }
        }
        Outcome::Footprint(f) => println!(
            "RESULT\trss_before={}\tfds_before={}\trss_idle={}\tfds_idle={}\trss_after={}\tfds_after={}",
            f.before.0, f.before.1, f.idle.0, f.idle.1, f.after.0, f.after.1
        ),
    }
    Ok(())
}

/// `n` connections at once: `n` tasks spawned together on this current-thread
/// runtime, each connecting (at most [`CONNECT_TIMEOUT`]); then all closed.
async fn storm_async<D: AsyncDriver>(cfg: &Config, n: usize) -> R<Storm> {
    let shared = Arc::new(cfg.clone());
    let failures = Failures::default();
    let rss_before = rss_kib();
    let spare = Spare::hold();
    let t0 = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let cfg = shared.clone();
            spawn(async move {
                match tokio::time::timeout(CONNECT_TIMEOUT, D::connect(&cfg)).await {
                    Ok(Ok(conn)) => Ok(conn),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err(format!(
                        "connect timed out after {} s",
                        CONNECT_TIMEOUT.as_secs()
                    )),
                }
            })
        })
        .collect();
    let mut conns = Vec::with_capacity(n);
    for t in tasks {
        match t.await? {
            Ok(conn) => conns.push(conn),
            Err(e) => failures.add(&e),
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let (hwm, (rss_open, fds_open)) = spare.measure();
    let opened = conns.len() as u64;
    let closing: Vec<_> = conns.into_iter().map(|c| spawn(D::close(c))).collect();
    for t in closing {
        t.await?;
    }
    Ok(Storm {
        secs,
        opened,
        failures,
        rss_before,
        hwm,
        rss_open,
        fds_open,
    })
}

fn check_footprint_rows(n: usize) -> R<()> {
    if n as u64 != FOOTPRINT_ROWS {
        return Err(format!("footprint read {n} rows, expected {FOOTPRINT_ROWS}").into());
    }
    Ok(())
}

/// `k` connections opened one after another; measured before, idle, and after each
/// has read the 1,000-row result; then all closed.
async fn footprint_async<D: AsyncDriver>(cfg: &Config, k: usize) -> R<Footprint> {
    let sql = footprint_sql();
    // The one-time setup (library init, first buffers) is not per connection.
    let mut first = D::connect(cfg).await?;
    check_footprint_rows(D::decode(&mut first, &sql).await?.0)?;
    D::close(first).await;
    let mut conns = Vec::with_capacity(k);
    let before = usage();
    for _ in 0..k {
        conns.push(D::connect(cfg).await?);
    }
    let idle = usage();
    for conn in &mut conns {
        let (n, sum) = D::decode(conn, &sql).await?;
        std::hint::black_box(sum);
        check_footprint_rows(n)?;
    }
    let after = usage();
    for conn in conns {
        D::close(conn).await;
    }
    Ok(Footprint {
        before,
        idle,
        after,
    })
}

#[cfg(feature = "peers")]
mod peers {
    use super::*;
    use crate::peers::my_opts;
    use crate::Decoded;
    use mysql::prelude::Queryable as _;

    /// `n` connections opened by `--storm-threads` threads, each opening its share
    /// one after another (the sync crate's natural form); then all closed.
    pub fn storm_threads(cfg: &Config, n: usize) -> R<Storm> {
        let opts = my_opts(cfg, None)?;
        let threads = cfg.storm_threads.min(n);
        let failures = Arc::new(Failures::default());
        let rss_before = rss_kib();
        let spare = Spare::hold();
        let t0 = Instant::now();
        let mut handles = Vec::with_capacity(threads);
        for t in 0..threads {
            let share = n / threads + usize::from(t < n % threads);
            let (opts, failures) = (opts.clone(), failures.clone());
            handles.push(std::thread::spawn(move || {
                let mut conns = Vec::with_capacity(share);
                for _ in 0..share {
                    match mysql::Conn::new(opts.clone()) {
                        Ok(c) => conns.push(c),
                        Err(e) => failures.add(&e.to_string()),
                    }
                }
                conns
            }));
        }
        let mut conns = Vec::with_capacity(n);
        for h in handles {
            conns.extend(h.join().map_err(|_| "thread panicked")?);
        }
        let secs = t0.elapsed().as_secs_f64();
        let (hwm, (rss_open, fds_open)) = spare.measure();
        let opened = conns.len() as u64;
        drop(conns);
        let failures = Arc::try_unwrap(failures).map_err(|_| "failures still shared")?;
        Ok(Storm {
            secs,
            opened,
            failures,
            rss_before,
            hwm,
            rss_open,
            fds_open,
        })
    }

    /// [`footprint_async`] for the sync crate, on this one thread.
    pub fn footprint_sync(cfg: &Config, k: usize) -> R<Footprint> {
        let opts = my_opts(cfg, None)?;
        let sql = footprint_sql();
        let read = |conn: &mut mysql::Conn| -> R<()> {
            let rows: Vec<Decoded> = conn.query(&sql)?;
            std::hint::black_box(crate::checksum(&rows));
            check_footprint_rows(rows.len())
        };
        let mut first = mysql::Conn::new(opts.clone())?;
        read(&mut first)?;
        drop(first);
        let mut conns = Vec::with_capacity(k);
        let before = usage();
        for _ in 0..k {
            conns.push(mysql::Conn::new(opts.clone())?);
        }
        let idle = usage();
        for conn in &mut conns {
            read(conn)?;
        }
        let after = usage();
        drop(conns);
        Ok(Footprint {
            before,
            idle,
            after,
        })
    }
}

// ---------------------------------------------------------------- the parent side

/// A child's result line as (key, value) pairs, and its error kinds.
struct ChildOutput {
    fields: Vec<(String, f64)>,
    kinds: Vec<(u64, String)>,
}

impl ChildOutput {
    fn get(&self, key: &str) -> R<f64> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| *v)
            .ok_or_else(|| format!("the child's result has no `{key}`").into())
    }
}

/// Run this binary again as a child measuring `driver`, and read its result back
/// (killed after `--child-timeout`).
fn run_child_process(cfg: &Config, driver: &str, child: Child) -> R<ChildOutput> {
    let exe = std::env::current_exe()?;
    let mut proc = Command::new(exe)
        .args([
            "--url",
            &cfg.url,
            "--drivers",
            driver,
            "--child",
            child.name(),
        ])
        .args(["--child-n", &child.n().to_string()])
        .args(["--storm-threads", &cfg.storm_threads.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let mut stdout = proc.stdout.take().ok_or("no stdout")?;
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).map(|_| s)
    });
    let deadline = Instant::now() + cfg.child_timeout;
    let status = loop {
        if let Some(status) = proc.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = proc.kill();
            let _ = proc.wait();
            return Err(format!(
                "still running after {} s (--child-timeout): killed",
                cfg.child_timeout.as_secs_f64()
            )
            .into());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let text = reader.join().map_err(|_| "reader thread panicked")??;
    if !status.success() {
        return Err(format!("the child process failed ({status})").into());
    }
    let mut out = ChildOutput {
        fields: Vec::new(),
        kinds: Vec::new(),
    };
    let mut seen = false;
    for line in text.lines() {
        let mut f = line.split('\t');
        match f.next() {
            Some("RESULT") => {
                seen = true;
                for kv in f {
                    let (k, v) = kv.split_once('=').ok_or("bad RESULT field")?;
                    out.fields.push((k.to_string(), v.parse()?));
                }
            }
            Some("KIND") => {
                let n = f.next().ok_or("bad KIND line")?.parse()?;
                out.kinds
                    .push((n, f.next().unwrap_or_default().to_string()));
            }
            _ => {}
        }
    }
    if !seen {
        return Err("the child printed no result".into());
    }
    Ok(out)
}

/// Wait (up to 60 s) until the server has let go of every connection but ours, so
/// that each run starts from an idle server.
pub fn wait_server_idle(cfg: &Config) {
    // After tens of thousands of connections the server may be too busy tearing
    // them down to greet a new one within the connect timeout: try again.
    let t0 = Instant::now();
    let mut conn = loop {
        match mysqlclient_async::Conn::connect(cfg.url.as_str()) {
            Ok(c) => break c,
            Err(e) if t0.elapsed() > Duration::from_secs(60) => {
                note(format!("cannot reach the server to wait for it: {e}"));
                return;
            }
            Err(_) => std::thread::sleep(Duration::from_millis(500)),
        }
    };
    while t0.elapsed() < Duration::from_secs(60) {
        match conn.query_one::<i64>(
            "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'THREADS_CONNECTED'",
        ) {
            Ok(n) if n > 1 => std::thread::sleep(Duration::from_millis(100)),
            _ => return,
        }
    }
    note("the server still has other connections after 60 s");
}

fn title(d: &str) -> String {
    match d {
        "ours" => "mysqlclient-async".into(),
        "mysql" => "mysql (threads)".into(),
        other => other.into(),
    }
}

fn mib(kib: f64) -> String {
    fmt_num(kib / 1024.0, 1)
}

/// Every driver at every `--storm` level, each in its own child process.
pub fn storm_section(cfg: &Config) -> R<String> {
    let mut t = Table::new([
        "storm: N connections opened at once",
        "N",
        "opened",
        "failed",
        "s until all done",
        "RSS before, MiB",
        "peak RSS, MiB",
        "RSS all open, MiB",
        "KiB per open connection",
        "fds all open",
    ]);
    let mut notes = Vec::new();
    for &n in &cfg.storm {
        for d in &cfg.drivers {
            wait_server_idle(cfg);
            match run_child_process(cfg, d, Child::Storm(n)) {
                Ok(o) => {
                    let (opened, failed) = (o.get("opened")?, o.get("failed")?);
                    let (before, open) = (o.get("rss_before")?, o.get("rss_open")?);
                    note(format!(
                        "{d:12} storm N={n}: {opened} opened, {failed} failed in {:.2} s, peak RSS {} MiB",
                        o.get("secs")?,
                        mib(o.get("hwm")?)
                    ));
                    t.row([
                        title(d),
                        fmt_num(n as f64, 0),
                        fmt_num(opened, 0),
                        fmt_num(failed, 0),
                        fmt_num(o.get("secs")?, 2),
                        mib(before),
                        mib(o.get("hwm")?),
                        mib(open),
                        if opened > 0.0 {
                            fmt_num((open - before) / opened, 1)
                        } else {
                            "n/a".into()
                        },
                        fmt_num(o.get("fds_open")?, 0),
                    ]);
                    if !o.kinds.is_empty() {
                        notes.push(format!(
                            "{} at N={}{}",
                            title(d),
                            fmt_num(n as f64, 0),
                            crate::kinds_text(&o.kinds)
                        ));
                    }
                }
                Err(e) => {
                    note(format!("{d:12} storm N={n}: {e}"));
                    t.row([title(d), fmt_num(n as f64, 0), "—".into()]);
                    notes.push(format!(
                        "{} at N={}: no result: {e}",
                        title(d),
                        fmt_num(n as f64, 0)
                    ));
                }
            }
        }
    }
    let mut out = format!(
        "\n\n**storm**: N connections opened at once, each driver and level in a child process of its own: \
         the async drivers from N tasks on one current-thread runtime (one thread; each attempt given {} s), \
         `mysql` from {} threads each opening its share one after another (its natural form: it has no \
         async connect). \"s until all done\": until every attempt has succeeded or failed. Peak RSS is the \
         process's `VmHWM` at that point; everything is closed afterwards.\n\n{}",
        CONNECT_TIMEOUT.as_secs(),
        cfg.storm_threads,
        t.render()
    );
    for n in notes {
        out.push_str(&format!("\n- {n}"));
    }
    Ok(out)
}

/// Every driver's per-connection memory and descriptors, each in a child process.
pub fn footprint_section(cfg: &Config) -> R<String> {
    wait_server_idle(cfg);
    prepare_rows_table(cfg, FOOTPRINT_TABLE, FOOTPRINT_ROWS)?;
    let k = cfg.footprint_conns;
    let mut t = Table::new([
        "footprint per connection".to_string(),
        "KiB, idle".into(),
        "fds, idle".into(),
        "KiB after a 1,000-row read".into(),
        "fds after".into(),
        "RSS before, MiB".into(),
        "fds before".into(),
    ]);
    let mut notes = Vec::new();
    for d in &cfg.drivers {
        wait_server_idle(cfg);
        match run_child_process(cfg, d, Child::Footprint(k)) {
            Ok(o) => {
                // (figure at `key` - figure before) per connection.
                let per = |key: &str, before: &str| -> R<f64> {
                    Ok((o.get(key)? - o.get(before)?) / k as f64)
                };
                note(format!(
                    "{d:12} footprint K={k}: {} KiB and {} fds per connection idle, {} KiB after the read",
                    fmt_num(per("rss_idle", "rss_before")?, 1),
                    fmt_num(per("fds_idle", "fds_before")?, 2),
                    fmt_num(per("rss_after", "rss_before")?, 1)
                ));
                t.row([
                    title(d),
                    fmt_num(per("rss_idle", "rss_before")?, 1),
                    fmt_num(per("fds_idle", "fds_before")?, 2),
                    fmt_num(per("rss_after", "rss_before")?, 1),
                    fmt_num(per("fds_after", "fds_before")?, 2),
                    mib(o.get("rss_before")?),
                    fmt_num(o.get("fds_before")?, 0),
                ]);
            }
            Err(e) => {
                note(format!("{d:12} footprint K={k}: {e}"));
                t.row([title(d), "—".into()]);
                notes.push(format!("{}: no result: {e}", title(d)));
            }
        }
    }
    let mut out = format!(
        "\n\n**footprint**: {} connections held by each driver in a child process of its own, opened one \
         after another; RSS (`/proc/self/statm`) and open descriptors (`/proc/self/fd`) when all are open \
         and idle, then after every connection has read `{}` ({} rows x 5 columns, collected into a Vec and \
         dropped, one connection at a time), less the figures before the first of them, per connection. \
         The baseline follows one connection that opened, read the result and closed (one-time setup is not \
         counted). `mysql` holds its connections on one thread here (its usual one thread per connection \
         would add each thread's stack).\n\n{}",
        fmt_num(k as f64, 0),
        footprint_sql(),
        fmt_num(FOOTPRINT_ROWS as f64, 0),
        t.render()
    );
    for n in notes {
        out.push_str(&format!("\n- {n}"));
    }
    Ok(out)
}
