//! Helpers shared by the benchmark binaries: CPU time, measurements, markdown
//! tables and the Chartio sweep data.
//!
//! - `src/main.rs` (`cargo run --release -p mysqlclient-async-bench --features peers`,
//!   or `make bench`): this crate against mysql_async, sqlx and the sync mysql crate.
//! - `src/bin/chartio-plot.rs`: the SVG plot of `make chartio-sweep`.

use std::time::Duration;

/// CPU time this process has used so far, over all its threads: (user, system).
pub fn cpu_times() -> (Duration, Duration) {
    // SAFETY: getrusage writes into the zeroed struct we pass; nothing else is touched.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut ru) != 0 {
            return (Duration::ZERO, Duration::ZERO);
        }
        ru
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    (tv(ru.ru_utime), tv(ru.ru_stime))
}

/// CPU time (user + system) this process has used so far, over all its threads.
pub fn cpu_time() -> Duration {
    let (u, s) = cpu_times();
    u + s
}

static SERVER_PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();

/// Also measure this process (the database server, when it runs on this machine)
/// in every [`Mark`].
pub fn watch_server(pid: u32) -> bool {
    if process_cpu(pid).is_some() {
        let _ = SERVER_PID.set(pid);
        true
    } else {
        false
    }
}

/// CPU time (user + system) of another process, from `/proc/PID/stat`.
pub fn process_cpu(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are the 14th and
    // 15th fields of the whole line.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = if hz > 0 { hz as u64 } else { 100 };
    Some(Duration::from_nanos((utime + stime) * 1_000_000_000 / hz))
}

/// Work done in a measured window.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Measurement {
    /// Operations (queries, rows, requests) completed in the window.
    pub ops: u64,
    /// Wall-clock length of the window, seconds.
    pub secs: f64,
    /// CPU time the whole process used in the window, seconds.
    pub cpu_secs: f64,
    /// Of which in user space.
    pub user_secs: f64,
    /// CPU time of the database server in the window, when it could be read.
    pub server_cpu_secs: Option<f64>,
}

impl Measurement {
    /// Operations per second.
    pub fn rate(&self) -> f64 {
        if self.secs > 0.0 {
            self.ops as f64 / self.secs
        } else {
            0.0
        }
    }

    /// Client CPU microseconds per operation.
    pub fn cpu_us_per_op(&self) -> f64 {
        self.per_op(self.cpu_secs)
    }

    /// Client user-space CPU microseconds per operation.
    pub fn user_us_per_op(&self) -> f64 {
        self.per_op(self.user_secs)
    }

    /// Server CPU microseconds per operation (NaN when unknown).
    pub fn server_us_per_op(&self) -> f64 {
        self.server_cpu_secs.map_or(f64::NAN, |s| self.per_op(s))
    }

    fn per_op(&self, secs: f64) -> f64 {
        if self.ops > 0 {
            secs * 1e6 / self.ops as f64
        } else {
            f64::NAN
        }
    }
}

/// Snapshot of an operation counter, the CPU clocks and the wall clock.
#[derive(Debug, Clone, Copy)]
pub struct Mark {
    ops: u64,
    user: Duration,
    sys: Duration,
    server: Option<Duration>,
    at: std::time::Instant,
}

impl Mark {
    /// Take a snapshot with the counter at `ops`.
    pub fn now(ops: u64) -> Mark {
        let (user, sys) = cpu_times();
        Mark {
            ops,
            user,
            sys,
            server: SERVER_PID.get().and_then(|&pid| process_cpu(pid)),
            at: std::time::Instant::now(),
        }
    }

    /// What happened between `self` and `later`.
    pub fn until(&self, later: &Mark) -> Measurement {
        let user = later.user.saturating_sub(self.user).as_secs_f64();
        let sys = later.sys.saturating_sub(self.sys).as_secs_f64();
        Measurement {
            ops: later.ops.saturating_sub(self.ops),
            secs: later.at.duration_since(self.at).as_secs_f64(),
            cpu_secs: user + sys,
            user_secs: user,
            server_cpu_secs: match (self.server, later.server) {
                (Some(a), Some(b)) => Some(b.saturating_sub(a).as_secs_f64()),
                _ => None,
            },
        }
    }
}

/// Format a number with thousands separators and `decimals` decimals.
pub fn fmt_num(x: f64, decimals: usize) -> String {
    if !x.is_finite() {
        return "n/a".into();
    }
    let s = format!("{:.*}", decimals, x.abs());
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i.to_string(), Some(f.to_string())),
        None => (s.clone(), None),
    };
    let mut grouped = String::new();
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    let sign = if x < 0.0 { "-" } else { "" };
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// A markdown table.
#[derive(Debug, Default, Clone)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column titles.
    pub fn new<S: Into<String>>(header: impl IntoIterator<Item = S>) -> Table {
        Table {
            header: header.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Add a row (padded or cut to the header's width).
    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) {
        let mut r: Vec<String> = cells.into_iter().map(Into::into).collect();
        r.resize(self.header.len(), String::new());
        self.rows.push(r);
    }

    /// Whether no row was added.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Render as GitHub markdown; the first column left-aligned, the rest right-aligned.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let line = |cells: &[String]| format!("| {} |\n", cells.join(" | "));
        out.push_str(&line(&self.header));
        let align: Vec<String> = (0..self.header.len())
            .map(|i| if i == 0 { "---".into() } else { "---:".into() })
            .collect();
        out.push_str(&line(&align));
        for r in &self.rows {
            out.push_str(&line(r));
        }
        out
    }
}

/// Raise this process's open-files limit: to 65,536 (or the hard limit if higher,
/// and at most `/proc/sys/fs/nr_open`) when allowed to raise the hard limit (root),
/// else the soft limit up to the hard one. Returns the soft limit in force.
pub fn raise_fd_limit() -> u64 {
    let nr_open = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(1 << 20);
    // SAFETY: plain libc calls on a local struct.
    unsafe {
        let mut r: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) != 0 {
            return 0;
        }
        let want = r.rlim_max.max(65_536).min(nr_open);
        if want > r.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: want,
                rlim_max: want,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                return want;
            }
        }
        if r.rlim_cur < r.rlim_max {
            r.rlim_cur = r.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        }
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut r);
        r.rlim_cur
    }
}

/// One line of `target/chartio/sweep.tsv` (written by scripts/chartio.sh): mode,
/// concurrency, completed requests, req/s, p50 ms, p99 ms, failed, seconds, and
/// optionally the load generator, non-2xx responses and listen-queue drops.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepRow {
    /// `async`, `per-request`, `blocking`, `threads`, `null`, or a peer (`mysql_async`,
    /// `sqlx`).
    pub mode: String,
    /// The load generator's concurrency (ab -c, wrk -c).
    pub concurrency: u32,
    /// Requests completed.
    pub requests: u64,
    /// Requests per second.
    pub rps: f64,
    /// Median latency, ms (None if the load generator printed none).
    pub p50_ms: Option<f64>,
    /// 99th percentile latency, ms.
    pub p99_ms: Option<f64>,
    /// Failed requests: ab's "Failed requests" or wrk's socket errors (files from
    /// before the non-2xx column counted non-2xx responses here too).
    pub failed: u64,
    /// The load generator, `ab` (the default when the column is absent) or `wrk`.
    pub loadgen: String,
    /// Non-2xx responses, if the file says.
    pub non2xx: Option<u64>,
    /// Connections dropped by full listen queues during the run, if the file says.
    pub listen_drops: Option<u64>,
}

impl SweepRow {
    /// Answers per second that were not errors: `rps` less the share of non-2xx
    /// answers and, for ab (which counts them among its completed requests), of
    /// failed requests. An error answer comes back at once, so a run full of
    /// them would otherwise look faster than the ceiling.
    pub fn ok_rps(&self) -> f64 {
        if self.requests == 0 {
            return 0.0;
        }
        let failed = if self.loadgen == "ab" { self.failed } else { 0 };
        let errors = failed.max(self.non2xx.unwrap_or(0)).min(self.requests);
        self.rps * (self.requests - errors) as f64 / self.requests as f64
    }
}

/// Parse the sweep TSV; blank lines are skipped, a malformed line is an error.
pub fn parse_sweep(text: &str) -> Result<Vec<SweepRow>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 7 {
            return Err(format!(
                "line {}: expected at least 7 tab-separated fields, got {}",
                i + 1,
                f.len()
            ));
        }
        let num = |s: &str, what: &str| -> Result<f64, String> {
            s.trim()
                .parse::<f64>()
                .map_err(|e| format!("line {}: {what} `{s}`: {e}", i + 1))
        };
        let opt = |s: &str| s.trim().parse::<f64>().ok();
        out.push(SweepRow {
            mode: f[0].to_string(),
            concurrency: num(f[1], "concurrency")? as u32,
            requests: num(f[2], "requests")? as u64,
            rps: num(f[3], "req/s")?,
            p50_ms: opt(f[4]),
            p99_ms: opt(f[5]),
            failed: num(f[6], "failed")? as u64,
            loadgen: match f.get(8).map(|s| s.trim()) {
                Some(s) if !s.is_empty() => s.to_string(),
                _ => "ab".to_string(),
            },
            non2xx: f.get(9).and_then(|s| s.trim().parse().ok()),
            listen_drops: f.get(10).and_then(|s| s.trim().parse().ok()),
        });
    }
    Ok(out)
}

/// The measurements of several rounds, grouped by figure (a driver at a level,
/// say): each figure is the round with the median rate, so that a burst of other
/// load on the machine hits one round of every driver rather than all rounds of one.
pub struct Rounds<K>(Vec<(K, Vec<Measurement>)>);

impl<K: PartialEq> Default for Rounds<K> {
    fn default() -> Self {
        Rounds(Vec::new())
    }
}

impl<K: PartialEq> Rounds<K> {
    /// Add one round's measurement of `key`.
    pub fn push(&mut self, key: K, m: Measurement) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(m),
            None => self.0.push((key, vec![m])),
        }
    }

    /// The round of `key` with the median rate.
    pub fn median(&self, key: &K) -> Option<Measurement> {
        let (_, v) = self.0.iter().find(|(k, _)| k == key)?;
        median(v.clone())
    }

    /// Every figure with its median round, in the order first measured.
    pub fn into_medians(self) -> impl Iterator<Item = (K, Measurement)> {
        self.0
            .into_iter()
            .filter_map(|(k, v)| Some((k, median(v)?)))
    }
}

/// The measurement with the median rate.
fn median(mut v: Vec<Measurement>) -> Option<Measurement> {
    v.sort_by(|a, b| a.rate().total_cmp(&b.rate()));
    v.get(v.len() / 2).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped() {
        assert_eq!(fmt_num(1234567.891, 1), "1,234,567.9");
        assert_eq!(fmt_num(999.0, 0), "999");
        assert_eq!(fmt_num(1000.0, 0), "1,000");
        assert_eq!(fmt_num(-12345.0, 2), "-12,345.00");
        assert_eq!(fmt_num(f64::NAN, 2), "n/a");
    }

    #[test]
    fn measurement_rates() {
        let m = Measurement {
            ops: 1000,
            secs: 2.0,
            cpu_secs: 0.004,
            user_secs: 0.001,
            server_cpu_secs: Some(0.01),
        };
        assert_eq!(m.rate(), 500.0);
        assert!((m.cpu_us_per_op() - 4.0).abs() < 1e-9);
        assert!((m.user_us_per_op() - 1.0).abs() < 1e-9);
        assert!((m.server_us_per_op() - 10.0).abs() < 1e-9);
        assert!(Measurement::default().cpu_us_per_op().is_nan());
        assert!(Measurement::default().server_us_per_op().is_nan());
    }

    #[test]
    fn cpu_time_advances() {
        let a = cpu_time();
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(cpu_time() > a);
    }

    #[test]
    fn reads_own_process_cpu() {
        assert!(process_cpu(std::process::id()).is_some());
        assert!(process_cpu(u32::MAX).is_none());
    }

    #[test]
    fn table_renders() {
        let mut t = Table::new(["a", "b"]);
        t.row(["x", "1"]);
        t.row(["y"]);
        assert_eq!(
            t.render(),
            "| a | b |\n| --- | ---: |\n| x | 1 |\n| y |  |\n"
        );
    }

    #[test]
    fn sweep_parses() {
        let rows = parse_sweep(
            "null\t10\t100\t90.91\t1001\t1003\t0\t1.1\n\nasync\t10\t100\t90.5\t-\t-\t2\t1.1\n",
        )
        .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].mode, "null");
        assert_eq!(rows[0].concurrency, 10);
        assert_eq!(rows[0].p50_ms, Some(1001.0));
        assert_eq!(rows[1].p99_ms, None);
        assert_eq!(rows[1].failed, 2);
        assert_eq!(rows[0].loadgen, "ab");
        assert_eq!(rows[0].non2xx, None);
        let rows =
            parse_sweep("sqlx\t5000\t9000\t450.5\t1001\t1900\t3\t20.00\twrk\t7\t12\n").unwrap();
        assert_eq!(rows[0].loadgen, "wrk");
        assert_eq!(rows[0].failed, 3);
        assert_eq!(rows[0].non2xx, Some(7));
        assert_eq!(rows[0].listen_drops, Some(12));
        assert!(parse_sweep("null\t10\n").is_err());
        assert!(parse_sweep("null\tx\t1\t1\t1\t1\t0\n").is_err());
    }

    #[test]
    fn error_answers_are_left_out_of_the_rate() {
        let rows = parse_sweep(
            "a\t10\t100\t50\t-\t-\t0\t1\twrk\t25\t0\n\
             b\t10\t100\t50\t-\t-\t10\t1\tab\t4\t0\n\
             c\t10\t100\t50\t-\t-\t10\t1\twrk\t0\t0\n\
             d\t10\t0\t0\t-\t-\t0\t1\n",
        )
        .unwrap();
        // wrk: non-2xx answers out; its socket errors were never answers.
        assert_eq!(rows[0].ok_rps(), 37.5);
        // ab: its failed requests include the non-2xx ones.
        assert_eq!(rows[1].ok_rps(), 45.0);
        assert_eq!(rows[2].ok_rps(), 50.0);
        assert_eq!(rows[3].ok_rps(), 0.0);
    }
}
