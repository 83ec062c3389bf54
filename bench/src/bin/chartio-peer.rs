//! The Chartio HTTP server of `examples/chartio.rs` (its `async` mode), on a peer
//! driver: `GET /` checks a connection out of a pool of at most `--concurrency`
//! connections (cold: the pool starts empty), runs one slow query (`SELECT SLEEP(1)` by
//! default) and answers the same JSON, `{"rows": N, "value": <first cell>}`; `GET
//! /health` answers without touching the database. `scripts/chartio.sh` runs it for the
//! modes `mysql_async` and `sqlx`.
//!
//! ```text
//! chartio-peer --driver mysql_async|sqlx [--url URL] [--sql SQL] [--sleep SECONDS]
//!     [--concurrency N] [--port PORT] [--workers N]
//! ```
//!
//! As in the example, the server runs on a current-thread tokio runtime unless
//! `--workers N` asks for a multi-thread runtime with N workers, `--port 0` (the
//! default) picks a free port, and the server prints `chartio: listening on
//! http://127.0.0.1:PORT/ mode=…` once it accepts connections. Both drivers use the text
//! protocol over TCP without TLS, as in `make bench`; their pools keep their defaults
//! apart from the size.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use mysql_async::prelude::Queryable as _;
use sqlx::Row as _;

const USAGE: &str = "usage: chartio-peer --driver mysql_async|sqlx [--url URL] [--sql SQL] \
[--sleep SECONDS] [--concurrency N] [--port PORT] [--workers N]";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Driver {
    MysqlAsync,
    Sqlx,
}

struct Args {
    driver: Driver,
    url: String,
    sql: String,
    concurrency: usize,
    port: u16,
    /// `Some(n)`: a multi-thread runtime with n workers; `None`: current-thread.
    workers: Option<usize>,
}

fn parse_args() -> Result<Args, String> {
    let mut driver = None;
    let mut url =
        std::env::var("MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into());
    let mut sql = None;
    let mut sleep = 1.0f64;
    let mut concurrency = 100usize;
    let mut port = 0u16;
    let mut workers = None;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut val = || {
            it.next()
                .ok_or_else(|| format!("{a} needs a value\n{USAGE}"))
        };
        match a.as_str() {
            "--driver" | "--mode" => {
                driver = Some(match val()?.as_str() {
                    "mysql_async" => Driver::MysqlAsync,
                    "sqlx" => Driver::Sqlx,
                    v => return Err(format!("unknown driver `{v}`\n{USAGE}")),
                })
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
            "--workers" => {
                let n: usize = val()?.parse().map_err(|e| format!("--workers: {e}"))?;
                if n == 0 {
                    return Err("--workers must be at least 1".into());
                }
                workers = Some(n);
            }
            "-h" | "--help" => return Err(USAGE.into()),
            _ => return Err(format!("unknown argument `{a}`\n{USAGE}")),
        }
    }
    // The peers get the URL without our options (ssl_mode=…): both are built
    // without TLS support and are told to skip it below.
    let url = url.split('?').next().unwrap_or(&url).to_string();
    Ok(Args {
        driver: driver.ok_or_else(|| format!("--driver is required\n{USAGE}"))?,
        url,
        sql: sql.unwrap_or_else(|| format!("SELECT SLEEP({sleep})")),
        concurrency,
        port,
        workers,
    })
}

enum Pool {
    MysqlAsync(mysql_async::Pool),
    Sqlx(sqlx::MySqlPool),
}

struct App {
    pool: Pool,
    sql: String,
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

/// `{"rows": N, "value": <first cell as JSON text, or null>}`.
fn answer(rows: usize, first: Option<String>) -> Response {
    let value = first.map_or_else(|| "null".into(), |s| json_str(&s));
    json_response(
        StatusCode::OK,
        format!("{{\"rows\":{rows},\"value\":{value}}}"),
    )
}

fn failure(e: impl std::fmt::Display) -> Response {
    json_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("{{\"error\":{}}}", json_str(&e.to_string())),
    )
}

type R<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// The first cell of a text-protocol row as text (`None` for SQL NULL).
fn mysql_async_cell(v: &mysql_async::Value) -> Option<String> {
    use mysql_async::Value;
    match v {
        Value::NULL => None,
        Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::Int(i) => Some(i.to_string()),
        Value::UInt(u) => Some(u.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Double(f) => Some(f.to_string()),
        other => Some(other.as_sql(true)),
    }
}

async fn run_query(app: &App) -> R<(usize, Option<String>)> {
    match &app.pool {
        Pool::MysqlAsync(pool) => {
            let mut conn = pool.get_conn().await?;
            let rows: Vec<mysql_async::Row> = conn.query(app.sql.as_str()).await?;
            let first = rows
                .first()
                .and_then(|r| r.as_ref(0))
                .and_then(mysql_async_cell);
            Ok((rows.len(), first))
        }
        Pool::Sqlx(pool) => {
            let mut conn = pool.acquire().await?;
            let rows = sqlx::raw_sql(sqlx::AssertSqlSafe(app.sql.clone()))
                .fetch_all(&mut *conn)
                .await?;
            let first = match rows.first().filter(|r| !r.is_empty()) {
                // The text protocol: every cell is text, whatever its column type.
                Some(row) => row.try_get_unchecked::<Option<String>, _>(0)?,
                None => None,
            };
            Ok((rows.len(), first))
        }
    }
}

async fn handle(State(app): State<Arc<App>>) -> Response {
    match run_query(&app).await {
        Ok((rows, first)) => answer(rows, first),
        Err(e) => failure(e),
    }
}

async fn serve(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let pool = match args.driver {
        Driver::MysqlAsync => {
            let constraints =
                mysql_async::PoolConstraints::new(0, args.concurrency).ok_or("bad pool size")?;
            let opts = mysql_async::OptsBuilder::from_opts(mysql_async::Opts::from_url(&args.url)?)
                .prefer_socket(false)
                .pool_opts(mysql_async::PoolOpts::default().with_constraints(constraints));
            Pool::MysqlAsync(mysql_async::Pool::new(opts))
        }
        Driver::Sqlx => {
            let opts = args
                .url
                .parse::<sqlx::mysql::MySqlConnectOptions>()?
                .ssl_mode(sqlx::mysql::MySqlSslMode::Disabled);
            Pool::Sqlx(
                sqlx::mysql::MySqlPoolOptions::new()
                    .max_connections(u32::try_from(args.concurrency)?)
                    .min_connections(0)
                    // Its default (30 s) would fail requests queued behind a
                    // saturated pool of slow queries.
                    .acquire_timeout(Duration::from_secs(600))
                    .connect_lazy_with(opts),
            )
        }
    };
    let app = Arc::new(App {
        pool,
        sql: args.sql.clone(),
    });
    let router = Router::new()
        .route("/", get(handle))
        .route("/health", get(|| async { "ok" }))
        .with_state(app);

    let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    // As in the example: a deep accept queue for thousands of clients connecting at once.
    let listener = socket.listen(4096)?;
    let local = listener.local_addr()?;
    let runtime = match args.workers {
        Some(n) => format!("multi-thread({n})"),
        None => "current-thread".into(),
    };
    let mode = match args.driver {
        Driver::MysqlAsync => "mysql_async",
        Driver::Sqlx => "sqlx",
    };
    println!(
        "chartio: listening on http://{local}/ mode={mode} concurrency={} sql={:?} runtime={runtime}",
        args.concurrency, args.sql,
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
    let nofile = mysqlclient_async_bench::raise_fd_limit();
    if nofile < (2 * args.concurrency + 64) as u64 {
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
    let rt = rt.enable_all().build().expect("tokio runtime");
    if let Err(e) = rt.block_on(serve(args)) {
        eprintln!("chartio: {e}");
        std::process::exit(1);
    }
}
