//! One `tracing` span per query, after the OpenTelemetry semantic conventions for
//! database client spans.
//!
//! A connection's handle (`RawConn`) keeps the span of its current query in a
//! [`QueryTrace`]: opened when a text query is sent or a prepared statement's
//! execution begins, it counts the rows read and closes when the connection is
//! back to idle (the result complete), broken, or the query is abandoned (its
//! result left unread, found at the connection's next command or its drop).
//!
//! With no subscriber, or one whose filter disables the target
//! `mysqlclient_async::query` at DEBUG, opening costs one `tracing::enabled!`
//! check: nothing is read, scanned, allocated or timed.

use std::time::Instant;

use tracing::field::{display, Empty};
use tracing::Span;

use crate::error::{Error, ErrorKind};
use crate::opts::Opts;
use crate::params::lexer::first_keyword;

/// The `tracing` target of the query spans.
pub(crate) const TARGET: &str = "mysqlclient_async::query";

/// The span of a connection's current query, if any, and what it needs to open one.
#[derive(Default)]
pub(crate) struct QueryTrace {
    live: Option<Live>,
    /// The options the connection was made with (server address, statement-text
    /// opt-in); `None` before they are applied.
    opts: Option<Opts>,
    /// The text with placeholders of a query whose values were written into it on
    /// the client, with the length of the text sent, so that the span shows the
    /// placeholders and never the values.
    template: Option<(Box<str>, usize)>,
}

struct Live {
    span: Span,
    start: Instant,
    rows: u64,
    error: Option<Failure>,
    /// A prepared statement's execution is still being set up (prepare, execute,
    /// prepare again): the connection passing through idle does not end it.
    held: bool,
}

#[derive(Clone, Copy)]
struct Failure {
    kind: ErrorKind,
    code: Option<u32>,
}

/// What a span says about the connection, read from the handle when one opens.
pub(crate) struct Site<'a> {
    /// The current database.
    pub(crate) db: Option<&'a str>,
    /// The server is MariaDB (its version string says so).
    pub(crate) mariadb: bool,
}

/// Whether a query span would be recorded: the one check made when nobody listens.
#[inline]
pub(crate) fn enabled() -> bool {
    tracing::enabled!(target: TARGET, tracing::Level::DEBUG)
}

/// A query span named `$name` with every field declared.
macro_rules! query_span {
    ($name:literal, $op:expr, $system:expr, $s:expr, $text:expr) => {
        tracing::debug_span!(
            target: TARGET,
            $name,
            otel.name = $op,
            otel.kind = "client",
            otel.status_code = Empty,
            db.system.name = $system,
            db.namespace = $s.db,
            db.operation.name = $op,
            db.query.text = $text,
            server.address = $s.address,
            server.port = $s.port,
            network.transport = $s.transport,
            db.response.returned_rows = Empty,
            db.response.status_code = Empty,
            error.type = Empty,
            duration_ms = Empty,
            abandoned = Empty,
        )
    };
}

/// The fields known when a span opens.
struct Opening<'a> {
    db: Option<&'a str>,
    address: Option<&'a str>,
    port: Option<u16>,
    transport: &'static str,
}

/// The span, named after the operation for the common ones (a span name is
/// static); `db.query` otherwise. `otel.name` carries the operation either way.
fn open_span(op: Option<&str>, system: &str, s: &Opening<'_>, text: Option<&str>) -> Span {
    match op {
        Some("SELECT") => query_span!("SELECT", op, system, s, text),
        Some("INSERT") => query_span!("INSERT", op, system, s, text),
        Some("UPDATE") => query_span!("UPDATE", op, system, s, text),
        Some("DELETE") => query_span!("DELETE", op, system, s, text),
        Some("REPLACE") => query_span!("REPLACE", op, system, s, text),
        Some("CALL") => query_span!("CALL", op, system, s, text),
        Some("WITH") => query_span!("WITH", op, system, s, text),
        Some("SET") => query_span!("SET", op, system, s, text),
        Some("SHOW") => query_span!("SHOW", op, system, s, text),
        Some("DO") => query_span!("DO", op, system, s, text),
        Some("BEGIN") => query_span!("BEGIN", op, system, s, text),
        Some("START") => query_span!("START", op, system, s, text),
        Some("COMMIT") => query_span!("COMMIT", op, system, s, text),
        Some("ROLLBACK") => query_span!("ROLLBACK", op, system, s, text),
        Some("CREATE") => query_span!("CREATE", op, system, s, text),
        Some("ALTER") => query_span!("ALTER", op, system, s, text),
        Some("DROP") => query_span!("DROP", op, system, s, text),
        Some("TRUNCATE") => query_span!("TRUNCATE", op, system, s, text),
        _ => query_span!("db.query", op, system, s, text),
    }
}

/// Keywords a statement starts with, upper-cased, so that the operation name of
/// the usual statements needs no allocation.
const KEYWORDS: &[&str] = &[
    "SELECT",
    "INSERT",
    "UPDATE",
    "DELETE",
    "REPLACE",
    "CALL",
    "WITH",
    "SET",
    "SHOW",
    "DO",
    "BEGIN",
    "START",
    "COMMIT",
    "ROLLBACK",
    "SAVEPOINT",
    "RELEASE",
    "CREATE",
    "ALTER",
    "DROP",
    "TRUNCATE",
    "RENAME",
    "USE",
    "EXPLAIN",
    "DESCRIBE",
    "DESC",
    "ANALYZE",
    "OPTIMIZE",
    "CHECK",
    "REPAIR",
    "LOCK",
    "UNLOCK",
    "GRANT",
    "REVOKE",
    "LOAD",
    "HANDLER",
    "PREPARE",
    "EXECUTE",
    "DEALLOCATE",
    "KILL",
    "FLUSH",
    "RESET",
    "PURGE",
    "XA",
    "VALUES",
    "TABLE",
    "SIGNAL",
    "RESIGNAL",
    "INSTALL",
    "UNINSTALL",
    "CHECKSUM",
    "HELP",
    "BINLOG",
    "CACHE",
    "SHUTDOWN",
];

/// The longest operation name kept for a keyword outside [`KEYWORDS`].
const MAX_OPERATION_LEN: usize = 32;

/// The operation name of `sql`: its first keyword, upper-cased. A static string
/// for the keywords of [`KEYWORDS`]; an upper-cased copy otherwise.
pub(crate) fn operation_name(sql: &[u8]) -> Option<std::borrow::Cow<'static, str>> {
    let (a, b) = first_keyword(sql)?;
    let word = &sql[a..b];
    if let Some(k) = KEYWORDS
        .iter()
        .find(|k| k.as_bytes().eq_ignore_ascii_case(word))
    {
        return Some(std::borrow::Cow::Borrowed(k));
    }
    let word = &word[..word.len().min(MAX_OPERATION_LEN)];
    // The keyword is ASCII (letters, digits, `_`): any prefix is UTF-8.
    let s = std::str::from_utf8(word).ok()?;
    Some(std::borrow::Cow::Owned(s.to_ascii_uppercase()))
}

/// The `error.type` of an error without a server code.
fn kind_label(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Server => "server",
        ErrorKind::Connect => "connect",
        ErrorKind::ConnectionLost => "connection_lost",
        ErrorKind::Client => "client",
        ErrorKind::Broken => "broken",
        ErrorKind::Busy => "busy",
        ErrorKind::Timeout => "timeout",
        ErrorKind::Cancelled => "cancelled",
        ErrorKind::Config => "config",
        ErrorKind::Conversion => "conversion",
        ErrorKind::Params => "params",
        ErrorKind::InvalidQuery => "invalid_query",
        ErrorKind::Io => "io",
        ErrorKind::Pool => "pool",
        ErrorKind::NoRows => "no_rows",
        ErrorKind::Discarded => "discarded",
    }
}

/// Codes the client library reports of itself (2000–2999, and Connector/C's
/// 5000–5999): not a status the server returned.
fn is_client_code(code: u32) -> bool {
    (2000..3000).contains(&code) || (5000..6000).contains(&code)
}

impl QueryTrace {
    /// Remember the options of the connection (at connect).
    pub(crate) fn set_opts(&mut self, opts: &Opts) {
        self.opts = Some(opts.clone());
    }

    /// Whether the statement text is to be recorded (the options opt in).
    fn wants_text(&self) -> bool {
        self.opts.as_ref().is_some_and(Opts::trace_statement_text)
    }

    /// The values of `template` were written into the text about to be sent,
    /// `sent_len` bytes long: the span shows `template` instead. Only kept while a
    /// span would record it.
    pub(crate) fn set_template(&mut self, template: &str, sent_len: usize) {
        if self.wants_text() && enabled() {
            self.template = Some((template.into(), sent_len));
        }
    }

    /// Whether a span is open.
    #[inline]
    pub(crate) fn is_live(&self) -> bool {
        self.live.is_some()
    }

    /// Open the span of a query about to run `sql` (the text sent, or the
    /// statement prepared). `held`: a prepared statement's execution, ended by
    /// [`release`](Self::release) rather than by the connection passing through
    /// idle. Any span still open is closed as abandoned first.
    ///
    /// `site` is read only if a span is recorded.
    pub(crate) fn begin<'a>(&mut self, sql: &[u8], held: bool, site: impl FnOnce() -> Site<'a>) {
        self.abandon();
        let template = self.template.take();
        if !enabled() {
            return;
        }
        let site = site();
        let op = operation_name(sql);
        let text = if self.wants_text() {
            match &template {
                Some((t, len)) if *len == sql.len() => Some(&**t),
                _ => std::str::from_utf8(sql).ok(),
            }
        } else {
            None
        };
        let (address, port, transport) = match self.opts.as_ref() {
            Some(o) => match o.socket() {
                Some(p) => (p.to_str(), None, "unix"),
                None => (Some(o.host()), Some(o.port()), "tcp"),
            },
            None => (None, None, "tcp"),
        };
        let opening = Opening {
            db: site.db,
            address,
            port,
            transport,
        };
        let system = if site.mariadb { "mariadb" } else { "mysql" };
        let span = open_span(op.as_deref(), system, &opening, text);
        if span.is_disabled() {
            return;
        }
        self.live = Some(Live {
            span,
            start: Instant::now(),
            rows: 0,
            error: None,
            held,
        });
    }

    /// A row of the query's result was read.
    #[inline]
    pub(crate) fn row(&mut self) {
        if let Some(l) = &mut self.live {
            l.rows += 1;
        }
    }

    /// The query failed with `e` (the first error is kept).
    #[inline]
    pub(crate) fn error(&mut self, e: &Error) {
        self.error_kind(e.kind(), e.code());
    }

    /// The query failed with an error of `kind` (and the library's `code`).
    pub(crate) fn error_kind(&mut self, kind: ErrorKind, code: Option<u32>) {
        if let Some(l) = &mut self.live {
            l.error.get_or_insert(Failure { kind, code });
        }
    }

    /// A prepared statement's execution is set up, with `outcome`: from now on the
    /// span ends with its result. The outcome replaces what failed on the way (a
    /// statement the server had forgotten and that was prepared again).
    pub(crate) fn release(&mut self, outcome: Option<&Error>) {
        if let Some(l) = &mut self.live {
            l.held = false;
            l.error = outcome.map(|e| Failure {
                kind: e.kind(),
                code: e.code(),
            });
        }
    }

    /// The connection is idle or broken: the query is over, unless a prepared
    /// statement's execution is still being set up. `broken`: it ended broken, an
    /// error whatever the cause.
    #[inline]
    pub(crate) fn settle(&mut self, broken: bool) {
        if self.live.as_ref().is_some_and(|l| !l.held || broken) {
            if broken {
                self.error_kind(ErrorKind::Broken, None);
            }
            self.end(false);
        }
    }

    /// The query's result was left unread (the call was dropped, or a stream was
    /// not read to its end): close its span now.
    #[inline]
    pub(crate) fn abandon(&mut self) {
        if self.live.is_some() {
            self.end(true);
        }
    }

    fn end(&mut self, abandoned: bool) {
        let Some(l) = self.live.take() else {
            return;
        };
        let span = &l.span;
        span.record("db.response.returned_rows", l.rows);
        if let Some(f) = l.error {
            span.record("otel.status_code", "ERROR");
            match f.code {
                Some(c) if !is_client_code(c) => {
                    span.record("db.response.status_code", display(c));
                    span.record("error.type", display(c));
                }
                _ => {
                    span.record("error.type", kind_label(f.kind));
                }
            }
        }
        if abandoned {
            span.record("abandoned", true);
        }
        span.record("duration_ms", l.start.elapsed().as_secs_f64() * 1e3);
    }
}

impl Drop for QueryTrace {
    fn drop(&mut self) {
        // The connection is closed with the query's result unread.
        self.abandon();
    }
}

/// Open and close one span for `sql` on no connection, as a query does: what a
/// query pays for tracing. For the benchmark of the span's cost.
#[doc(hidden)]
pub fn probe(sql: &str) {
    let mut t = QueryTrace::default();
    t.begin(sql.as_bytes(), false, || Site {
        db: None,
        mariadb: true,
    });
    t.row();
    t.settle(false);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names() {
        let op = |s: &str| operation_name(s.as_bytes());
        assert_eq!(op("select 1").as_deref(), Some("SELECT"));
        assert!(matches!(
            op("select 1"),
            Some(std::borrow::Cow::Borrowed(_))
        ));
        assert_eq!(
            op("/* app */ -- x\n insert into t values (1)").as_deref(),
            Some("INSERT")
        );
        assert_eq!(op("Optimize table t").as_deref(), Some("OPTIMIZE"));
        assert_eq!(op("frobnicate now").as_deref(), Some("FROBNICATE"));
        assert_eq!(op("  ").as_deref(), None);
    }
}
