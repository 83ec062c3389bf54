//! What the query spans cost, in one run:
//!
//! ```text
//! scripts/with-mysql.sh cargo run --release -p mysqlclient-async-bench --bin tracing-cost
//! cargo run --release -p mysqlclient-async-bench --bin tracing-cost -- --url URL [--batches 15]
//! ```
//!
//! The same loops (`SELECT 1`, and a 1,000-row read into `(i64, String)` tuples,
//! on one `AsyncConn` on a current-thread runtime) under three set-ups, in this
//! order in one process:
//!
//! - (a) no subscriber at all (measured first, before any subscriber ever
//!   existed in the process, as in a program that never installs one);
//!   then (a′) no subscriber, (b) and (c) take turns batch by batch, so that a
//!   drift of the machine or the server affects them alike (the ratios compare
//!   these three):
//! - (b) a subscriber whose filter disables the target `mysqlclient_async::query`
//!   (every other target enabled);
//! - (c) a subscriber that records every span: it visits every field of every
//!   span and counts the spans (a minimal `tracing::Subscriber`, no formatting).
//!
//! Each figure is the median over `--batches` batches of the time per query. The
//! cost of one span when nobody listens is measured apart, without I/O: the
//! library's span entry point (`__trace_probe`, what a query runs to open and
//! close its span) called in a loop, in ns per call.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use mysqlclient_async::AsyncConn;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

type R<T> = Result<T, Box<dyn std::error::Error>>;

const TARGET: &str = "mysqlclient_async::query";

/// (b): every target but the query spans'.
struct FilteredOut;

impl Subscriber for FilteredOut {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        m.target() != TARGET
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &Event<'_>) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

/// (c): every span, every field visited, spans counted.
#[derive(Clone, Default)]
struct Counting {
    spans: Arc<AtomicU64>,
    fields: Arc<AtomicU64>,
    closed: Arc<AtomicU64>,
}

struct CountFields(u64);

impl Visit for CountFields {
    fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {
        self.0 += 1;
    }
}

impl Subscriber for Counting {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let mut v = CountFields(0);
        attrs.record(&mut v);
        self.fields.fetch_add(v.0, Ordering::Relaxed);
        Id::from_u64(self.spans.fetch_add(1, Ordering::Relaxed) + 1)
    }
    fn record(&self, _: &Id, values: &Record<'_>) {
        let mut v = CountFields(0);
        values.record(&mut v);
        self.fields.fetch_add(v.0, Ordering::Relaxed);
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &Event<'_>) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
    fn try_close(&self, _: Id) -> bool {
        self.closed.fetch_add(1, Ordering::Relaxed);
        true
    }
}

struct Config {
    url: String,
    batches: usize,
    select1: usize,
    rows_reads: usize,
    probes: usize,
}

fn parse_args() -> R<Config> {
    let mut cfg = Config {
        url: std::env::var("MYSQL_URL")
            .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test?ssl_mode=disabled".into()),
        batches: 15,
        select1: 2_000,
        rows_reads: 40,
        probes: 2_000_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut val = || it.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--url" => cfg.url = val()?,
            "--batches" => cfg.batches = val()?.parse::<usize>()?.max(1),
            "--select1" => cfg.select1 = val()?.parse::<usize>()?.max(1),
            "--rows-reads" => cfg.rows_reads = val()?.parse::<usize>()?.max(1),
            "--probes" => cfg.probes = val()?.parse::<usize>()?.max(1),
            _ => {
                return Err(
                    "usage: tracing-cost [--url URL] [--batches 15] [--select1 2000] \
                            [--rows-reads 40] [--probes 2000000]"
                        .into(),
                )
            }
        }
    }
    Ok(cfg)
}

/// Medians of one set-up: ns per `SELECT 1`, ns per 1,000-row read, ns per probe.
#[derive(Clone, Copy)]
struct Figures {
    select1: f64,
    rows: f64,
    probe: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Per-batch times of one set-up.
#[derive(Default)]
struct Batches {
    select1: Vec<f64>,
    rows: Vec<f64>,
    probe: Vec<f64>,
}

impl Batches {
    fn medians(self) -> Figures {
        Figures {
            select1: median(self.select1),
            rows: median(self.rows),
            probe: median(self.probe),
        }
    }
}

async fn batch(cfg: &Config, conn: &mut AsyncConn, into: &mut Batches) -> R<()> {
    let t = Instant::now();
    for _ in 0..cfg.select1 {
        let v: Vec<i64> = conn.query("SELECT 1").await?;
        black_box(v);
    }
    into.select1
        .push(t.elapsed().as_nanos() as f64 / cfg.select1 as f64);

    let t = Instant::now();
    for _ in 0..cfg.rows_reads {
        let v: Vec<(i64, String)> = conn.query("SELECT id, name FROM bench_trace_rows").await?;
        assert_eq!(v.len(), 1000);
        black_box(v);
    }
    into.rows
        .push(t.elapsed().as_nanos() as f64 / cfg.rows_reads as f64);

    let t = Instant::now();
    for _ in 0..cfg.probes {
        mysqlclient_async::__trace_probe(black_box("SELECT 1"));
    }
    into.probe
        .push(t.elapsed().as_nanos() as f64 / cfg.probes as f64);
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("tracing-cost: {e}");
        std::process::exit(1);
    }
}

fn run() -> R<()> {
    let cfg = parse_args()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut conn = rt.block_on(async {
        let mut conn = AsyncConn::connect(cfg.url.as_str()).await?;
        conn.query_drop(
            "CREATE TEMPORARY TABLE bench_trace_rows (id BIGINT PRIMARY KEY, name VARCHAR(40))",
        )
        .await?;
        let filled = conn
            .query_drop(
                "INSERT INTO bench_trace_rows \
                 SELECT seq, CONCAT('name number ', seq) FROM seq_1_to_1000",
            )
            .await;
        if filled.is_err() {
            fill_without_sequence(&mut conn).await?;
        }
        // Warm-up, nobody listening.
        for _ in 0..cfg.select1 {
            let _: Vec<i64> = conn.query("SELECT 1").await?;
        }
        R::Ok(conn)
    })?;

    // (a) first, before any subscriber existed; then (a′), (b) and (c) in turn,
    // batch by batch, so that a drift of the machine or the server affects them
    // alike.
    let mut a = Batches::default();
    for _ in 0..cfg.batches {
        rt.block_on(batch(&cfg, &mut conn, &mut a))?;
    }
    let (mut a2, mut b, mut c) = (Batches::default(), Batches::default(), Batches::default());
    let counting = Counting::default();
    for _ in 0..cfg.batches {
        rt.block_on(batch(&cfg, &mut conn, &mut a2))?;
        tracing::subscriber::with_default(FilteredOut, || {
            rt.block_on(batch(&cfg, &mut conn, &mut b))
        })?;
        tracing::subscriber::with_default(counting.clone(), || {
            rt.block_on(batch(&cfg, &mut conn, &mut c))
        })?;
    }
    let (a, a2, b, c) = (a.medians(), a2.medians(), b.medians(), c.medians());
    let spans = counting.spans.load(Ordering::Relaxed);
    let queries = (cfg.select1 + cfg.rows_reads) * cfg.batches;
    let probes = cfg.probes * cfg.batches;

    println!("## Tracing: what the query spans cost\n");
    println!(
        "{} batches of {} × `SELECT 1`, {} × a 1,000-row read, {} × the span entry point; \
         medians of the time per call. Server: {}.\n",
        cfg.batches,
        cfg.select1,
        cfg.rows_reads,
        cfg.probes,
        conn.server_version()
    );
    println!("| set-up | `SELECT 1` µs | 1,000 rows µs | span entry ns/call |");
    println!("| --- | ---: | ---: | ---: |");
    for (name, f) in [
        ("(a) no subscriber (first, none ever installed)", a),
        ("(a′) no subscriber (interleaved with b and c)", a2),
        ("(b) subscriber, target filtered out", b),
        ("(c) subscriber recording every span", c),
    ] {
        println!(
            "| {name} | {:.2} | {:.1} | {:.1} |",
            f.select1 / 1e3,
            f.rows / 1e3,
            f.probe
        );
    }
    println!();
    let pristine = a;
    let a = a2; // the ratios compare set-ups measured side by side
    println!(
        "Ratios against (a′): `SELECT 1` b/a′ {:.3}, c/a′ {:.3}; 1,000 rows b/a′ {:.3}, c/a′ {:.3}.",
        b.select1 / a.select1,
        c.select1 / a.select1,
        b.rows / a.rows,
        c.rows / a.rows
    );
    println!(
        "A disabled span costs {:.1} ns per query with no subscriber ever installed, {:.1} ns \
         with none installed any more, {:.1} ns with the target filtered out; a recorded one \
         {:.0} ns (this minimal subscriber).",
        pristine.probe, a.probe, b.probe, c.probe
    );
    println!(
        "(c) saw {spans} spans for {queries} queries and {probes} probes ({} closed, {} field \
         values).",
        counting.closed.load(Ordering::Relaxed),
        counting.fields.load(Ordering::Relaxed)
    );
    Ok(())
}

/// Without MariaDB's sequence engine: 1,000 rows in one multi-row INSERT.
async fn fill_without_sequence(conn: &mut AsyncConn) -> mysqlclient_async::Result<()> {
    let rows: Vec<String> = (1..=1000)
        .map(|i| format!("({i}, 'name number {i}')"))
        .collect();
    conn.query_drop("DELETE FROM bench_trace_rows").await?;
    conn.query_drop(&format!(
        "INSERT INTO bench_trace_rows VALUES {}",
        rows.join(",")
    ))
    .await?;
    Ok(())
}
