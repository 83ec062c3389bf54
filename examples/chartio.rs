//! The 2011 Chartio benchmark, replicated: an HTTP server whose `GET /` runs one slow
//! query (`SELECT SLEEP(1)` by default) and answers JSON. `make chartio` drives it
//! with `ab -c 100 -n 10000`, one process per mode:
//!
//! | mode          | what `GET /` does                                                       |
//! |---------------|-------------------------------------------------------------------------|
//! | `async`       | an [`AsyncConn`] from our pool, on a single-threaded runtime (Tornado)  |
//! | `per-request` | a fresh [`AsyncConn`] per request, closed afterwards (the post's code)  |
//! | `blocking`    | the blocking [`Conn`] called right in the handler: every client waits   |
//! | `threads`     | the blocking [`Conn`] on `spawn_blocking`, one connection per thread    |
//! | `null`        | no database: sleeps as long as one query takes (the HTTP/ab ceiling)    |
//!
//! ```text
//! cargo run --release --example chartio -- --mode async [--port 8080] [--url URL]
//!     [--sleep 1] [--sql 'SELECT SLEEP(1)'] [--concurrency 100] [--warm] [--workers N]
//! ```
//!
//! Every mode runs on a current-thread tokio runtime unless `--workers N` asks for a
//! multi-thread runtime with N worker threads; `threads` adds a blocking pool of
//! `--concurrency` threads. `--port 0` (the default) picks a free port; the server prints
//! `chartio: listening on http://127.0.0.1:PORT/ mode=…` once it accepts connections.
//! `GET /health` answers without touching the database.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use mysqlclient_async::{AsyncConn, Conn, Opts, ResultSet};

/// The pool used by `async` mode, named in one place.
mod db_pool {
    pub use mysqlclient_async::Pool;
    use mysqlclient_async::{Opts, Result};

    pub fn build(opts: &Opts, max_size: usize) -> Result<Pool> {
        Pool::builder(opts).max_size(max_size).build()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Async,
    PerRequest,
    Blocking,
    Threads,
    Null,
}

impl Mode {
    fn parse(s: &str) -> Option<Mode> {
        Some(match s {
            "async" => Mode::Async,
            "per-request" => Mode::PerRequest,
            "blocking" => Mode::Blocking,
            "threads" => Mode::Threads,
            "null" => Mode::Null,
            _ => return None,
        })
    }
}

struct Args {
    mode: Mode,
    url: String,
    sql: String,
    sleep: Duration,
    concurrency: usize,
    port: u16,
    warm: bool,
    /// `Some(n)`: a multi-thread runtime with n workers; `None`: current-thread.
    workers: Option<usize>,
    info: bool,
}

const USAGE: &str = "usage: chartio --mode async|per-request|blocking|threads|null \
[--url URL] [--sql SQL] [--sleep SECONDS] [--concurrency N] [--port PORT] [--warm] \
[--workers N]
       chartio --info [--url URL]   (prints the server's version and max_connections)";

fn parse_args() -> Result<Args, String> {
    let mut mode = None;
    let mut url =
        std::env::var("MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into());
    let mut sql = None;
    let mut sleep = 1.0f64;
    let mut concurrency = 100usize;
    let mut port = 0u16;
    let mut warm = false;
    let mut workers = None;
    let mut info = false;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut val = || {
            it.next()
                .ok_or_else(|| format!("{a} needs a value\n{USAGE}"))
        };
        match a.as_str() {
            "--mode" => {
                let v = val()?;
                mode = Some(Mode::parse(&v).ok_or_else(|| format!("unknown mode `{v}`\n{USAGE}"))?);
            }
            "--url" => url = val()?,
            "--sql" => sql = Some(val()?),
            "--sleep" => {
                sleep = val()?.parse().map_err(|e| format!("--sleep: {e}"))?;
                if !(sleep >= 0.0 && sleep.is_finite()) {
                    return Err("--sleep must be a non-negative number of seconds".into());
                }
            }
            "--concurrency" => {
                concurrency = val()?.parse().map_err(|e| format!("--concurrency: {e}"))?;
                concurrency = concurrency.max(1);
            }
            "--port" => port = val()?.parse().map_err(|e| format!("--port: {e}"))?,
            "--warm" => warm = true,
            "--workers" => {
                let n: usize = val()?.parse().map_err(|e| format!("--workers: {e}"))?;
                if n == 0 {
                    return Err("--workers must be at least 1".into());
                }
                workers = Some(n);
            }
            "--info" => info = true,
            "-h" | "--help" => return Err(USAGE.into()),
            _ => return Err(format!("unknown argument `{a}`\n{USAGE}")),
        }
    }
    if info {
        mode = mode.or(Some(Mode::Null));
    }
    Ok(Args {
        mode: mode.ok_or_else(|| format!("--mode is required\n{USAGE}"))?,
        url,
        sql: sql.unwrap_or_else(|| format!("SELECT SLEEP({sleep})")),
        sleep: Duration::from_secs_f64(sleep),
        concurrency,
        port,
        warm,
        workers,
        info,
    })
}

/// c = 1000 needs ~1000 client sockets plus ~1000 database sockets: lift the soft
/// RLIMIT_NOFILE to the hard limit.
fn raise_fd_limit() -> libc::rlim_t {
    // SAFETY: plain libc calls on a local, fully initialised struct.
    unsafe {
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) != 0 {
            return 0;
        }
        if r.rlim_cur < r.rlim_max {
            let want = libc::rlimit {
                rlim_cur: r.rlim_max,
                rlim_max: r.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &want) == 0 {
                r = want;
            }
        }
        r.rlim_cur
    }
}

// One per process: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
enum Backend {
    Async(db_pool::Pool),
    PerRequest(Opts),
    Blocking(Mutex<Conn>),
    Threads(Opts),
    Null,
}

struct App {
    backend: Backend,
    sql: String,
    sleep: Duration,
}

fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `{"rows": N, "value": <first cell of the first row>}`.
fn answer(rs: &ResultSet) -> Response {
    let value = match rs.rows.first().filter(|r| !r.is_empty()) {
        Some(row) => match row.raw(0) {
            Some(b) => json_str(&String::from_utf8_lossy(b)),
            None => "null".into(),
        },
        None => "null".into(),
    };
    json_response(
        StatusCode::OK,
        format!("{{\"rows\":{},\"value\":{value}}}", rs.rows.len()),
    )
}

fn failure(e: impl std::fmt::Display) -> Response {
    json_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("{{\"error\":{}}}", json_str(&e.to_string())),
    )
}

thread_local! {
    /// `threads` mode: each blocking-pool thread keeps its own connection.
    static THREAD_CONN: RefCell<Option<Conn>> = const { RefCell::new(None) };
}

fn query_on_thread_conn(opts: &Opts, sql: &str) -> mysqlclient_async::Result<ResultSet> {
    THREAD_CONN.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_some_and(|c| c.is_broken()) {
            *slot = None;
        }
        if slot.is_none() {
            *slot = Some(Conn::connect(opts)?);
        }
        let conn = slot.as_mut().expect("connected above");
        let r = conn.query_result(sql);
        if conn.is_broken() {
            *slot = None;
        }
        r
    })
}

async fn handle(State(app): State<Arc<App>>) -> Response {
    let r = match &app.backend {
        Backend::Null => {
            // tokio's timer fires 1-2 ms late (1 ms wheel, epoll timeout rounded up),
            // which would make `null` slower than a real `SELECT SLEEP(1)` round trip;
            // aim 1 ms early so that the ceiling is not lower than the real thing.
            let early = Duration::from_millis(1);
            let d = if app.sleep > 10 * early {
                app.sleep - early
            } else {
                app.sleep
            };
            tokio::time::sleep(d).await;
            return json_response(StatusCode::OK, "{\"rows\":1,\"value\":\"0\"}".into());
        }
        Backend::Async(pool) => match pool.get().await {
            Ok(mut conn) => conn.query_result(&app.sql).await,
            Err(e) => Err(e),
        },
        Backend::PerRequest(opts) => match AsyncConn::connect(opts).await {
            Ok(mut conn) => match conn.query_result(&app.sql).await {
                Ok(rs) => conn.close().await.map(|()| rs),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        },
        // Deliberately blocks the runtime's only thread for the whole query.
        Backend::Blocking(conn) => {
            let mut conn = conn.lock().unwrap_or_else(|p| p.into_inner());
            conn.query_result(&app.sql)
        }
        Backend::Threads(opts) => {
            let (opts, sql) = (opts.clone(), app.sql.clone());
            match tokio::task::spawn_blocking(move || query_on_thread_conn(&opts, &sql)).await {
                Ok(r) => r,
                Err(e) => return failure(e),
            }
        }
    };
    match r {
        Ok(rs) => answer(&rs),
        Err(e) => failure(e),
    }
}

async fn serve(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let opts = || Opts::from_url(&args.url);
    let backend = match args.mode {
        Mode::Null => Backend::Null,
        Mode::Async => {
            let pool = db_pool::build(&opts()?, args.concurrency)?;
            if args.warm {
                // Open every connection up front: check out max_size at once, then
                // return them all.
                let mut tasks = tokio::task::JoinSet::new();
                for _ in 0..args.concurrency {
                    let pool = pool.clone();
                    tasks.spawn(async move {
                        let mut c = pool.get().await?;
                        c.query_drop("DO 1").await?;
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        Ok::<_, mysqlclient_async::Error>(())
                    });
                }
                while let Some(r) = tasks.join_next().await {
                    r??;
                }
            }
            Backend::Async(pool)
        }
        Mode::PerRequest => Backend::PerRequest(opts()?),
        Mode::Blocking => Backend::Blocking(Mutex::new(Conn::connect(&opts()?)?)),
        Mode::Threads => Backend::Threads(opts()?),
    };
    let app = Arc::new(App {
        backend,
        sql: args.sql.clone(),
        sleep: args.sleep,
    });
    let router = Router::new()
        .route("/", get(handle))
        .route("/health", get(|| async { "ok" }))
        .with_state(app);

    let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    // A deep accept queue: c = 1000 clients connect at once, and in `blocking` mode
    // nobody accepts while a query runs.
    let listener = socket.listen(4096)?;
    let local = listener.local_addr()?;
    let runtime = match args.workers {
        Some(n) => format!("multi-thread({n})"),
        None => "current-thread".into(),
    };
    println!(
        "chartio: listening on http://{local}/ mode={:?} concurrency={} sql={:?} backend={} runtime={runtime}",
        args.mode,
        args.concurrency,
        args.sql,
        mysqlclient_async::backend()
    );
    axum::serve(listener, router).await?;
    Ok(())
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("{msg}");
            std::process::exit(2);
        }
    };
    if args.info {
        // For scripts/chartio.sh: the report's server version, and a check that
        // max_connections covers the concurrency.
        let r = Conn::connect(args.url.as_str()).and_then(|mut c| {
            let max: u64 = c.query_one("SELECT @@max_connections")?;
            Ok((c.server_version(), max))
        });
        match r {
            Ok((version, max)) => println!("version={version}\nmax_connections={max}"),
            Err(e) => {
                eprintln!("chartio: {e}");
                std::process::exit(1);
            }
        }
        return;
    }
    let nofile = raise_fd_limit();
    if nofile < (2 * args.concurrency + 64) as libc::rlim_t {
        eprintln!(
            "chartio: warning: RLIMIT_NOFILE is {nofile}, too low for concurrency {}",
            args.concurrency
        );
    }
    let mut rt = match args.workers {
        Some(n) => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(n);
            b
        }
        None => tokio::runtime::Builder::new_current_thread(),
    };
    rt.enable_all();
    if args.mode == Mode::Threads {
        // The thread-pool approach: one blocking thread (and connection) per client,
        // kept alive for the whole run.
        rt.max_blocking_threads(args.concurrency)
            .thread_keep_alive(Duration::from_secs(3600));
    }
    let rt = rt.build().expect("tokio runtime");
    if let Err(e) = rt.block_on(serve(args)) {
        eprintln!("chartio: {e}");
        std::process::exit(1);
    }
}
