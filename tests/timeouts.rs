//! Every timeout is a bound: a fault-injecting relay (tests/support/proxy.rs)
//! between the client and the server stalls, drips, resets, truncates and corrupts
//! the server's bytes, never greets, greets halfway, closes at once, or black-holes
//! idle pooled connections. For every scenario and client kind the call returns
//! within its documented bound plus 500 ms, its error says what happened, the next
//! call returns its own result or a clear `Broken`, and descriptors go back to
//! their baseline. A table of the figures is printed.

mod support;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use mysqlclient_async::{AsyncConn, Conn, ErrorKind, IoMode, Opts, Pool, Row};
use support::proxy::{Fault, OnAccept, Proxy};

/// The query timeout of the async connections.
const T: Duration = Duration::from_secs(1);
/// The options' cancel timeout (its default).
const CANCEL: Duration = Duration::from_secs(1);
/// connect_timeout and the blocking connection's read/write timeouts.
const NET: Duration = Duration::from_secs(1);
/// Slack on every bound.
const SLACK: Duration = Duration::from_millis(500);
/// A result large enough to be mid-flight when a fault strikes.
const BIG: &str = "SELECT seq, REPEAT('x', 200) FROM seq_1_to_20000";

/// About 400 bytes of answer: 2 to 3.5 s at one byte every 5 ms.
const DRIP: &str = "SELECT REPEAT('x', 300)";
/// The bound of a drip that completes because each blocking read gets its byte in
/// time (the blocking `Conn` and the portable path).
const DRIP_BOUND: Duration = Duration::from_secs(5);

/// Whether a scenario is a server that is slow but alive (a drip), which only a
/// whole-call bound stops: a per-read timeout (the blocking connection, the portable
/// path's blocking row reads) sees a byte every 5 ms and rightly waits.
fn slow_but_alive(m: &MidQuery) -> bool {
    matches!(m.fault, Fault::Drip(_))
}

/// The scenarios share the server; one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn proxy() -> Proxy {
    let port = support::private_server().port();
    Proxy::start(format!("127.0.0.1:{port}").parse().unwrap())
}

/// Options through the proxy: connect_timeout for every client, and for the
/// blocking connection (whose only bounds they are) the read and write timeouts.
fn opts(p: &Proxy, mode: IoMode) -> Opts {
    let base = format!("{}?connect_timeout=1", support::private_server().url());
    Opts::from_url(&p.url(&base))
        .unwrap()
        .to_builder()
        .io_mode(mode)
        .build()
}

fn blocking_opts(p: &Proxy) -> Opts {
    let base = format!(
        "{}?connect_timeout=1&read_timeout=1&write_timeout=1",
        support::private_server().url()
    );
    Opts::from_url(&p.url(&base)).unwrap()
}

/// One line of the printed table.
struct Figure {
    scenario: &'static str,
    client: String,
    bound: Duration,
    took: Duration,
    error: String,
    after: String,
}

static FIGURES: Mutex<Vec<Figure>> = Mutex::new(Vec::new());

fn record(f: Figure) {
    assert!(
        f.took <= f.bound + SLACK,
        "{} / {}: took {:?}, bound {:?} (+{SLACK:?}): {}",
        f.scenario,
        f.client,
        f.took,
        f.bound,
        f.error
    );
    println!(
        "| {} | {} | {:?} | {:.0} ms | {} | {} |",
        f.scenario,
        f.client,
        f.bound,
        f.took.as_secs_f64() * 1e3,
        f.error,
        f.after
    );
    FIGURES.lock().unwrap_or_else(|e| e.into_inner()).push(f);
}

/// What a mid-query fault does, and what the error must say.
#[derive(Clone, Copy)]
struct MidQuery {
    name: &'static str,
    fault: Fault,
    /// Also fault the side connection that sends KILL QUERY (all new connections).
    side_too: bool,
    sql: &'static str,
    /// Substrings one of which the error must contain.
    says: &'static [&'static str],
}

const MID_QUERY: [MidQuery; 8] = [
    MidQuery {
        name: "stall before the header",
        fault: Fault::Stall,
        side_too: false,
        sql: "SELECT 1",
        says: &["exceeded its 1s timeout; within the cancel timeout (1s) KILL QUERY was confirmed"],
    },
    MidQuery {
        name: "stall before the header, KILL connection never greeted",
        fault: Fault::Stall,
        side_too: true,
        sql: "SELECT 1",
        says: &[
            "KILL QUERY could not connect (no answer or no greeting from the server), so the query may still be running",
            "KILL QUERY failed, so the query may still be running",
        ],
    },
    MidQuery {
        name: "stall after 64 KB of rows",
        fault: Fault::StallAfter(64 * 1024),
        side_too: false,
        sql: BIG,
        says: &["exceeded its 1s timeout", "no row arrived within"],
    },
    MidQuery {
        name: "drip one byte every 5 ms",
        fault: Fault::Drip(Duration::from_millis(5)),
        side_too: false,
        sql: DRIP,
        says: &["exceeded its 1s timeout", "no row arrived within"],
    },
    MidQuery {
        name: "RST mid-result",
        fault: Fault::ResetAfter(64 * 1024 + 3),
        side_too: false,
        sql: BIG,
        says: &["connection lost", "onnection reset"],
    },
    MidQuery {
        name: "truncated packet, then close",
        fault: Fault::TruncateAfter(64 * 1024 + 3),
        side_too: false,
        sql: BIG,
        says: &["connection lost", "closed the connection"],
    },
    MidQuery {
        name: "garbage instead of rows",
        fault: Fault::GarbageAfter(64 * 1024 + 3),
        side_too: false,
        sql: BIG,
        says: &["could not be parsed", "exceeded its 1s timeout", "no row arrived", "connection lost"],
    },
    MidQuery {
        name: "bogus packet length",
        fault: Fault::BogusLength,
        side_too: false,
        sql: "SELECT 1",
        says: &["exceeded its 1s timeout", "could not be parsed", "connection lost"],
    },
];

/// The error must say what happened. On the portable path, where a blocking read
/// of rows met the fault, the library's own account of the lost read also does.
fn check_says(m: &MidQuery, client: &str, e: &mysqlclient_async::Error, portable: bool) {
    let text = e.to_string();
    let lost_read =
        portable && (text.contains("Lost connection") || text.contains("onnection reset"));
    assert!(
        lost_read || m.says.iter().any(|s| text.contains(s)),
        "{} / {client}: the error does not say what happened: {text}",
        m.name
    );
    assert!(
        !text.contains("was killed on the server"),
        "{} / {client}: claims a kill it cannot know: {text}",
        m.name
    );
}

/// A follow-up call on the same connection: its own result, or `Broken`.
async fn follow_up(c: &mut AsyncConn) -> String {
    match tokio::time::timeout(T + CANCEL + SLACK, c.query_one::<String>("SELECT 'next'")).await {
        Ok(Ok(v)) => {
            assert_eq!(v, "next");
            "usable: next query returned its own result".into()
        }
        Ok(Err(e)) => {
            assert_eq!(e.kind(), ErrorKind::Broken, "follow-up: {e}");
            assert!(c.is_broken());
            "broken (next call: Broken)".into()
        }
        Err(_) => panic!("the follow-up call hung"),
    }
}

async fn async_mid_query(m: MidQuery, client: &str, mode: IoMode, stream: bool) {
    let p = proxy();
    let mut c = AsyncConn::connect(&opts(&p, mode)).await.unwrap();
    c.set_query_timeout(Some(T));
    assert_eq!(c.query_one::<i32>("SELECT 1").await.unwrap(), 1);
    if m.side_too {
        p.set(m.fault);
    } else {
        p.set_existing(m.fault);
    }
    let t0 = Instant::now();
    let r: Result<usize, mysqlclient_async::Error> = if stream {
        match c.query_stream::<Row>(m.sql).await {
            Ok(mut s) => {
                let mut n = 0;
                loop {
                    match s.try_next().await.transpose() {
                        Some(Ok(_)) => n += 1,
                        Some(Err(e)) => break Err(e),
                        None => break Ok(n),
                    }
                }
            }
            Err(e) => Err(e),
        }
    } else {
        c.query::<Row>(m.sql).await.map(|r| r.len())
    };
    let took = t0.elapsed();
    let portable = !c.is_nonblocking();
    let e = match r {
        Err(e) => e,
        // Rows are read with blocking calls on the portable path: a drip completes,
        // each read well within the read timeout (the documented caveat).
        Ok(_) if portable && slow_but_alive(&m) => {
            p.set(Fault::Pass);
            let after = follow_up(&mut c).await;
            record(Figure {
                scenario: m.name,
                client: client.into(),
                bound: DRIP_BOUND,
                took,
                error: "none: completed (rows are read with blocking calls on this path)".into(),
                after,
            });
            return;
        }
        Ok(_) => panic!("{} / {client}: the fault did not surface", m.name),
    };
    check_says(&m, client, &e, portable);
    if e.is_fatal() {
        assert!(c.is_broken(), "{e}");
    }
    p.set(Fault::Pass);
    let after = follow_up(&mut c).await;
    // A buffered call: T plus the recovery. A stream: the call that returns it the
    // same, and each wait for a row T (then it is marked broken at once). The
    // portable path: also one blocking read, bounded by the read timeout (which
    // defaults to the connect timeout there).
    let bound = if portable {
        T + CANCEL + NET
    } else {
        T + CANCEL
    };
    record(Figure {
        scenario: m.name,
        client: client.into(),
        bound,
        took,
        error: e.to_string(),
        after,
    });
}

/// Connect-time faults: never greet, greet halfway, close at once.
const ON_ACCEPT: [(&str, OnAccept, &[&str]); 3] = [
    (
        "accept, never greet",
        OnAccept::NeverGreet,
        &["timed out after 1s (connect_timeout)", "no answer in time"],
    ),
    (
        "greet halfway",
        OnAccept::GreetHalfway(20),
        &["timed out after 1s (connect_timeout)", "no answer in time"],
    ),
    (
        "close on accept",
        OnAccept::CloseAtOnce,
        &["closed the connection", "Lost connection"],
    ),
];

/// The runtime thread's longest busy period (from waking up to parking again): its
/// CPU time, or its wall time if the thread blocked in a system call meanwhile.
/// A heartbeat gap is wall time, so other processes taking the CPU (the server and
/// the relay share 2 cores here) inflate it too; a stall of this crate shows as a
/// long busy period.
static WORST_BUSY: Mutex<Duration> = Mutex::new(Duration::ZERO);

thread_local! {
    static BUSY_SINCE: std::cell::Cell<Option<(Instant, Duration, i64)>> =
        const { std::cell::Cell::new(None) };
}

/// Wall clock, this thread's CPU time and its voluntary context switches.
fn thread_sample() -> (Instant, Duration, i64) {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-parameter; CLOCK_THREAD_CPUTIME_ID always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    // SAFETY: an all-zero `rusage` is a valid value and out-parameter.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid out-parameter; RUSAGE_THREAD is the calling thread.
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    let cpu = Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32);
    (Instant::now(), cpu, ru.ru_nvcsw)
}

fn busy_ends() {
    let Some((wall0, cpu0, sw0)) = BUSY_SINCE.take() else {
        return;
    };
    let (wall1, cpu1, sw1) = thread_sample();
    let busy = if sw1 > sw0 {
        wall1 - wall0
    } else {
        cpu1.saturating_sub(cpu0)
    };
    let mut worst = WORST_BUSY.lock().unwrap_or_else(|e| e.into_inner());
    *worst = (*worst).max(busy);
}

/// Runs `f` on a current-thread runtime beside a 5 ms heartbeat; returns the
/// largest gap between two ticks and the runtime thread's longest busy period.
fn with_heartbeat<F: std::future::Future<Output = ()>>(f: F) -> (Duration, Duration) {
    *WORST_BUSY.lock().unwrap_or_else(|e| e.into_inner()) = Duration::ZERO;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .on_thread_park(busy_ends)
        .on_thread_unpark(|| BUSY_SINCE.set(Some(thread_sample())))
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    let gap = std::rc::Rc::new(std::cell::Cell::new(Duration::ZERO));
    let stop = std::rc::Rc::new(std::cell::Cell::new(false));
    local.block_on(&rt, async {
        let (g, s) = (gap.clone(), stop.clone());
        let hb = tokio::task::spawn_local(async move {
            let mut last = Instant::now();
            while !s.get() {
                tokio::time::sleep(Duration::from_millis(5)).await;
                let now = Instant::now();
                g.set(g.get().max(now - last));
                last = now;
            }
        });
        tokio::time::timeout(support::ASYNC_TEST_LIMIT, f)
            .await
            .expect("test exceeded its time limit");
        stop.set(true);
        hb.await.unwrap();
    });
    let busy = *WORST_BUSY.lock().unwrap_or_else(|e| e.into_inner());
    (gap.get(), busy)
}

#[test]
fn async_connection_current_thread() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let _ = support::private_server();
    let baseline = baseline_fds();
    let (gap, busy) = with_heartbeat(async {
        for m in MID_QUERY {
            async_mid_query(m, "AsyncConn, current-thread", IoMode::NonBlocking, false).await;
        }
        for m in MID_QUERY {
            async_mid_query(m, "query_stream, current-thread", IoMode::NonBlocking, true).await;
        }
        // The other timed entry points: ping, and the two steps.
        for step in ["ping", "read_query_result"] {
            let p = proxy();
            let mut c = AsyncConn::connect(&opts(&p, IoMode::NonBlocking))
                .await
                .unwrap();
            c.set_query_timeout(Some(T));
            if step == "read_query_result" {
                c.send_query("SELECT SLEEP(0.01)").await.unwrap();
            }
            p.set_existing(Fault::Stall);
            let t0 = Instant::now();
            let e = if step == "ping" {
                c.ping().await.unwrap_err()
            } else {
                c.read_query_result().await.unwrap_err()
            };
            let took = t0.elapsed();
            assert_eq!(e.kind(), ErrorKind::Timeout, "{step}: {e}");
            p.set(Fault::Pass);
            let after = follow_up(&mut c).await;
            record(Figure {
                scenario: "stall before the answer",
                client: format!("AsyncConn::{step}, current-thread"),
                bound: T + CANCEL,
                took,
                error: e.to_string(),
                after,
            });
        }
        for (name, what, says) in ON_ACCEPT {
            let p = proxy();
            p.on_accept(what);
            let t0 = Instant::now();
            let e = AsyncConn::connect(&opts(&p, IoMode::NonBlocking))
                .await
                .expect_err("connect must fail");
            let took = t0.elapsed();
            assert_eq!(e.kind(), ErrorKind::Connect, "{e}");
            let text = e.to_string();
            assert!(says.iter().any(|s| text.contains(s)), "{name}: {text}");
            record(Figure {
                scenario: name,
                client: "AsyncConn::connect, current-thread".into(),
                bound: NET,
                took,
                error: text,
                after: "no connection".into(),
            });
        }
    });
    println!(
        "heartbeat: largest gap {:.1} ms; longest busy period of the runtime thread {:.1} ms",
        gap.as_secs_f64() * 1e3,
        busy.as_secs_f64() * 1e3
    );
    // A build without a non-blocking API (the portable backend) reads rows with
    // blocking calls (the documented caveat): a stall holds the loop for one read
    // timeout (the connect timeout by default), and a drip for the whole row, as
    // long as each byte comes within the read timeout (2 to 3.5 s here).
    let limit = if mysqlclient_async::backend() == "portable" {
        DRIP_BOUND + SLACK
    } else {
        Duration::from_millis(25)
    };
    // A gap over the limit fails unless every busy period of the runtime thread
    // stayed under it: then other processes took the CPU, not this crate.
    assert!(
        gap < limit || busy < limit,
        "the loop stalled for {gap:?} (limit {limit:?}; longest busy period {busy:?})"
    );
    assert_fds_back(baseline);
}

#[test]
fn async_connection_multi_thread() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let _ = support::private_server();
    let baseline = baseline_fds();
    support::block_on_multi(async {
        for m in MID_QUERY {
            tokio::spawn(async_mid_query(
                m,
                "AsyncConn, multi-thread",
                IoMode::NonBlocking,
                false,
            ))
            .await
            .unwrap();
        }
    });
    assert_fds_back(baseline);
}

/// The portable path reads rows and later result sets with blocking calls: there
/// the library's read timeout bounds each read, inside the query timeout and
/// recovery. It is left unset here: on this path it defaults to the connect
/// timeout (1 s here, whole seconds).
#[test]
fn async_connection_portable_path() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let _ = support::private_server();
    let baseline = baseline_fds();
    support::block_on(async {
        for m in MID_QUERY {
            async_mid_query(
                m,
                "AsyncConn, portable path",
                IoMode::ReadableThenRead,
                false,
            )
            .await;
        }
        for m in MID_QUERY {
            async_mid_query(
                m,
                "query_stream, portable path",
                IoMode::ReadableThenRead,
                true,
            )
            .await;
        }
    });
    assert_fds_back(baseline);
}

/// The blocking connection: connect_timeout, read_timeout and write_timeout bound
/// every call (whole seconds; the library retries a timed-out read once).
#[test]
fn blocking_connection() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let _ = support::private_server();
    let baseline = baseline_fds();
    for m in MID_QUERY.iter().filter(|m| !m.side_too) {
        let p = proxy();
        let mut c = Conn::connect(blocking_opts(&p)).unwrap();
        assert_eq!(c.query_one::<i32>("SELECT 1").unwrap(), 1);
        p.set_existing(m.fault);
        let t0 = Instant::now();
        let r = c.query::<Row>(m.sql);
        let took = t0.elapsed();
        p.set(Fault::Pass);
        if slow_but_alive(m) {
            // Each read gets a byte within 5 ms: a per-read timeout rightly waits.
            assert!(r.is_ok(), "{}: {:?}", m.name, r.err());
            record(Figure {
                scenario: m.name,
                client: "Conn (blocking)".into(),
                bound: DRIP_BOUND,
                took,
                error: "none: completed (read_timeout bounds each read)".into(),
                after: "usable".into(),
            });
            continue;
        }
        let e = r.expect_err("the fault must surface as an error");
        let after = match c.query_one::<String>("SELECT 'next'") {
            Ok(v) => {
                assert_eq!(v, "next");
                "usable".to_string()
            }
            Err(e2) => {
                assert!(
                    matches!(e2.kind(), ErrorKind::Broken | ErrorKind::ConnectionLost),
                    "{e2}"
                );
                format!("broken ({:?})", e2.kind())
            }
        };
        record(Figure {
            scenario: m.name,
            client: "Conn (blocking)".into(),
            bound: 3 * NET,
            took,
            error: e.to_string(),
            after,
        });
    }
    for (name, what, _) in ON_ACCEPT {
        let p = proxy();
        p.on_accept(what);
        let t0 = Instant::now();
        let e = Conn::connect(blocking_opts(&p)).expect_err("connect must fail");
        let took = t0.elapsed();
        assert_eq!(e.kind(), ErrorKind::Connect, "{e}");
        record(Figure {
            scenario: name,
            client: "Conn::connect (blocking)".into(),
            bound: 3 * NET,
            took,
            error: e.to_string(),
            after: "no connection".into(),
        });
    }
    assert_fds_back(baseline);
}

/// Idle pooled connections whose traffic is black-holed: each costs at most the
/// health-check timeout, `get` stays within the acquire timeout, the discards are
/// counted, and the pool serves again once traffic passes.
#[test]
fn pool_with_black_holed_idle_connections() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let _ = support::private_server();
    let baseline = baseline_fds();
    support::block_on(async {
        let p = proxy();
        let acquire = Duration::from_secs(3);
        let pool = Pool::builder(opts(&p, IoMode::NonBlocking))
            .max_size(4)
            .acquire_timeout(acquire)
            .ping_after_idle(Duration::ZERO)
            .health_check_timeout(Duration::from_millis(500))
            .build()
            .unwrap();
        let mut held = Vec::new();
        for _ in 0..4 {
            held.push(pool.get().await.unwrap());
        }
        drop(held);
        let t0 = Instant::now();
        while pool.metrics().idle < 4 {
            assert!(
                t0.elapsed() < Duration::from_secs(5),
                "{:?}",
                pool.metrics()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let discarded = pool.metrics().discarded;
        p.set_existing(Fault::BlackHole);
        let t0 = Instant::now();
        let r = pool.get().await;
        let took = t0.elapsed();
        let m = pool.metrics();
        let error = match &r {
            Ok(_) => "none: a fresh connection was handed out".to_string(),
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Pool, "{e}");
                e.to_string()
            }
        };
        assert!(
            m.discarded > discarded,
            "black-holed connections not counted: {m:?}"
        );
        drop(r);
        record(Figure {
            scenario: "black-holed idle pooled connections",
            client: "Pool::get".into(),
            bound: acquire,
            took,
            error,
            after: format!("discarded {} connections", m.discarded - discarded),
        });
        // With traffic passing again the pool serves.
        p.set(Fault::Pass);
        let v: i32 = pool.query_one("SELECT 5").await.unwrap();
        assert_eq!(v, 5);
        // A stalled server through the pool: the query timeout of the borrower.
        let mut c = pool.get().await.unwrap();
        c.set_query_timeout(Some(T));
        p.set_existing(Fault::Stall);
        let t0 = Instant::now();
        let e = c.query_drop("SELECT 1").await.unwrap_err();
        let took = t0.elapsed();
        assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
        drop(c);
        p.set(Fault::Pass);
        record(Figure {
            scenario: "stall before the header",
            client: "PooledConn".into(),
            bound: T + CANCEL,
            took,
            error: e.to_string(),
            after: "returned to the pool".into(),
        });
        let v: i32 = pool.query_one("SELECT 6").await.unwrap();
        assert_eq!(v, 6);
        // Acquire against a server that never greets: bounded by acquire_timeout.
        let p2 = proxy();
        p2.on_accept(OnAccept::NeverGreet);
        let pool2 = Pool::builder(opts(&p2, IoMode::NonBlocking))
            .acquire_timeout(Duration::from_millis(1500))
            .build()
            .unwrap();
        let t0 = Instant::now();
        let e = pool2.get().await.unwrap_err();
        let took = t0.elapsed();
        record(Figure {
            scenario: "accept, never greet",
            client: "Pool::get".into(),
            bound: Duration::from_millis(1500),
            took,
            error: e.to_string(),
            after: "no connection".into(),
        });
        pool.close().await;
        pool2.close().await;
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_fds_back(baseline);
}

/// `close()` never waits for abandoned work, and `cancel_query` is bounded.
#[test]
fn close_and_cancel_are_bounded() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let _ = support::private_server();
    support::block_on(async {
        let p = proxy();
        let mut c = AsyncConn::connect(&opts(&p, IoMode::NonBlocking))
            .await
            .unwrap();
        p.set_existing(Fault::Stall);
        // Abandon a query whose answer never comes.
        let _ = tokio::time::timeout(Duration::from_millis(100), c.query_drop(BIG)).await;
        assert!(c.has_pending_work());
        let token = c.cancel_token();
        let t0 = Instant::now();
        c.close().await.unwrap();
        let took = t0.elapsed();
        record(Figure {
            scenario: "stall with abandoned work",
            client: "AsyncConn::close".into(),
            bound: Duration::ZERO,
            took,
            error: "none".into(),
            after: "closed".into(),
        });
        // The KILL's side connection never greeted: bounded by cancel_timeout.
        p.set(Fault::Stall);
        let t0 = Instant::now();
        let e = token.cancel_query().await.unwrap_err();
        let took = t0.elapsed();
        assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
        assert!(e.to_string().contains("could not connect"), "{e}");
        assert!(e.to_string().contains("may still be running"), "{e}");
        record(Figure {
            scenario: "side connection never greeted",
            client: "CancelToken::cancel_query".into(),
            bound: CANCEL,
            took,
            error: e.to_string(),
            after: "n/a".into(),
        });
    });
}

fn baseline_fds() -> usize {
    // Once-per-process descriptors exist before the baseline: the client library's
    // stand-in for closed sockets, and tokio's global signal pipe (created by the
    // first runtime with all drivers).
    let _ = Conn::connect(support::private_server().url().as_str()).unwrap();
    drop(
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap(),
    );
    std::thread::sleep(Duration::from_millis(100));
    support::fd_count()
}

fn assert_fds_back(baseline: usize) {
    let t0 = Instant::now();
    loop {
        let now = support::fd_count();
        if now <= baseline {
            return;
        }
        if t0.elapsed() >= Duration::from_secs(5) {
            let fds: Vec<String> = std::fs::read_dir("/proc/self/fd")
                .unwrap()
                .flatten()
                .map(|e| {
                    let target = std::fs::read_link(e.path()).unwrap_or_default();
                    format!(
                        "{} -> {}",
                        e.file_name().to_string_lossy(),
                        target.display()
                    )
                })
                .collect();
            panic!("descriptors: {now}, baseline {baseline}: {fds:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A call that times out while still finishing an earlier, abandoned call's work
/// says that its own statement was never sent.
#[test]
fn a_timeout_on_abandoned_work_says_the_call_was_not_sent() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let _ = support::private_server();
    support::block_on(async {
        let p = proxy();
        let mut c = AsyncConn::connect(&opts(&p, IoMode::NonBlocking))
            .await
            .unwrap();
        p.set_existing(Fault::Stall);
        // Abandoned without a timeout of its own: its rows never come.
        let _ = tokio::time::timeout(Duration::from_millis(100), c.query_drop(BIG)).await;
        c.set_query_timeout(Some(T));
        let t0 = Instant::now();
        let e = c.query_drop("SELECT 'mine'").await.unwrap_err();
        let took = t0.elapsed();
        assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
        let text = e.to_string();
        assert!(
            text.contains("this call's own statement was not sent"),
            "{text}"
        );
        assert!(!text.contains("the call exceeded"), "{text}");
        record(Figure {
            scenario: "stall under an abandoned query",
            client: "AsyncConn, the next call".into(),
            bound: T + CANCEL,
            took,
            error: text,
            after: if c.is_broken() { "broken" } else { "usable" }.into(),
        });
    });
}
