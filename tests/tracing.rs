//! Query spans against a real server: one span per query (text, prepared,
//! streamed, blocking), the OpenTelemetry fields they carry, the statement text
//! only when asked for and never with the values, and no span at all when the
//! subscriber's filter disables the target.
//!
//! Each test installs its own subscriber for its thread only
//! (`tracing::subscriber::with_default`), so the tests run in parallel.

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

use mysqlclient_async::{AsyncConn, Conn, ErrorKind, Opts, Row};

const TARGET: &str = "mysqlclient_async::query";

/// One span as the subscriber saw it.
#[derive(Debug, Clone)]
struct Captured {
    name: &'static str,
    target: String,
    fields: HashMap<String, String>,
    closed: bool,
}

impl Captured {
    fn get(&self, f: &str) -> Option<&str> {
        self.fields.get(f).map(String::as_str)
    }
}

/// A subscriber that keeps every span and its recorded fields; with `deny`, its
/// filter disables the query target.
#[derive(Clone, Default)]
struct Capture {
    spans: Arc<Mutex<Vec<Captured>>>,
    next: Arc<AtomicU64>,
    deny: bool,
    /// Spans of our target the filter was asked about (and refused, with `deny`).
    asked: Arc<AtomicU64>,
}

struct Fields<'a>(&'a mut HashMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
}

impl Subscriber for Capture {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        if m.target() == TARGET {
            self.asked.fetch_add(1, Ordering::Relaxed);
            return !self.deny;
        }
        true
    }
    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let mut fields = HashMap::new();
        attrs.record(&mut Fields(&mut fields));
        let mut spans = self.spans.lock().unwrap();
        spans.push(Captured {
            name: attrs.metadata().name(),
            target: attrs.metadata().target().to_string(),
            fields,
            closed: false,
        });
        self.next.fetch_add(1, Ordering::Relaxed);
        Id::from_u64(spans.len() as u64)
    }
    fn record(&self, id: &Id, values: &Record<'_>) {
        let mut spans = self.spans.lock().unwrap();
        let s = &mut spans[id.into_u64() as usize - 1];
        values.record(&mut Fields(&mut s.fields));
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &Event<'_>) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
    fn try_close(&self, id: Id) -> bool {
        self.spans.lock().unwrap()[id.into_u64() as usize - 1].closed = true;
        true
    }
}

impl Capture {
    fn denying() -> Capture {
        Capture {
            deny: true,
            ..Capture::default()
        }
    }
    /// The query spans so far.
    fn queries(&self) -> Vec<Captured> {
        self.spans
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.target == TARGET)
            .cloned()
            .collect()
    }
    fn clear(&self) {
        // Ids index the list: keep it, mark what was seen.
        for s in self.spans.lock().unwrap().iter_mut() {
            s.target = "seen".into();
        }
    }
}

/// Run `f` with `c` as this thread's subscriber.
fn with<T>(c: &Capture, f: impl FnOnce() -> T) -> T {
    tracing::subscriber::with_default(c.clone(), f)
}

fn opts() -> Opts {
    Opts::from_url(&support::url()).unwrap()
}

fn text_opts() -> Opts {
    opts().to_builder().trace_statement_text(true).build()
}

/// The one query span of `c`, closed.
fn only(c: &Capture) -> Captured {
    let q = c.queries();
    assert_eq!(q.len(), 1, "expected one query span, got {q:#?}");
    assert!(q[0].closed, "the span is still open: {:#?}", q[0]);
    q[0].clone()
}

/// The fields every query span has.
fn check_common(s: &Captured, o: &Opts, server_version: &str) {
    let system = if server_version.contains("MariaDB") {
        "mariadb"
    } else {
        "mysql"
    };
    assert_eq!(s.get("db.system.name"), Some(system), "{s:#?}");
    assert_eq!(s.get("otel.kind"), Some("client"));
    match o.socket() {
        Some(p) => {
            assert_eq!(s.get("server.address"), p.to_str());
            assert_eq!(s.get("network.transport"), Some("unix"));
        }
        None => {
            assert_eq!(s.get("server.address"), Some(o.host()));
            assert_eq!(s.get("server.port"), Some(&*o.port().to_string()));
            assert_eq!(s.get("network.transport"), Some("tcp"));
        }
    }
    if let Some(db) = o.db_name() {
        assert_eq!(s.get("db.namespace"), Some(db));
    }
    let ms: f64 = s.get("duration_ms").expect("duration_ms").parse().unwrap();
    assert!(ms >= 0.0);
}

#[test]
fn async_query_has_one_span_with_the_fields() {
    let c = Capture::default();
    with(&c, || {
        support::block_on(async {
            let o = opts();
            let mut conn = AsyncConn::connect(o.clone()).await.unwrap();
            c.clear();
            let rows: Vec<i64> = conn
                .query("SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3")
                .await
                .unwrap();
            assert_eq!(rows.len(), 3);
            let s = only(&c);
            assert_eq!(s.name, "SELECT");
            assert_eq!(s.get("db.operation.name"), Some("SELECT"));
            assert_eq!(s.get("otel.name"), Some("SELECT"));
            assert_eq!(s.get("db.response.returned_rows"), Some("3"));
            assert_eq!(s.get("db.query.text"), None, "text is opt-in");
            assert_eq!(s.get("error.type"), None);
            check_common(&s, &o, &conn.server_version());
        })
    });
}

#[test]
fn operation_name_after_comments_and_for_insert() {
    let c = Capture::default();
    with(&c, || {
        support::block_on(async {
            let mut conn = AsyncConn::connect(opts()).await.unwrap();
            conn.query_drop("CREATE TEMPORARY TABLE t (a INT)")
                .await
                .unwrap();
            c.clear();
            conn.query_drop("/* app: billing */ -- note\n # more\n insert into t VALUES (1), (2)")
                .await
                .unwrap();
            let s = only(&c);
            assert_eq!(s.name, "INSERT");
            assert_eq!(s.get("db.operation.name"), Some("INSERT"));
            assert_eq!(s.get("db.response.returned_rows"), Some("0"));
            c.clear();
            conn.query_drop("Optimize TABLE t").await.unwrap();
            let s = only(&c);
            assert_eq!(s.name, "db.query", "no span name of its own");
            assert_eq!(s.get("db.operation.name"), Some("OPTIMIZE"));
            assert_eq!(s.get("otel.name"), Some("OPTIMIZE"));
        })
    });
}

#[test]
fn exec_text_and_prepared_one_span_each() {
    let c = Capture::default();
    with(&c, || {
        support::block_on(async {
            let mut conn = AsyncConn::connect(opts()).await.unwrap();
            // Server-side where the backend has it, client-side otherwise; both
            // explicitly client-side too.
            for client_side in [false, true] {
                let o = opts().to_builder().client_side_params(client_side).build();
                let mut conn2 = AsyncConn::connect(o).await.unwrap();
                c.clear();
                let v: Vec<(i64, i64)> = conn2
                    .exec(
                        "SELECT ?, 1 UNION ALL SELECT ?, 2 UNION ALL SELECT ?, 3",
                        (7, 8, 9),
                    )
                    .await
                    .unwrap();
                assert_eq!(v.len(), 3);
                let s = only(&c);
                assert_eq!(s.name, "SELECT");
                assert_eq!(s.get("db.response.returned_rows"), Some("3"));
                // Prepared again from the cache: still one span.
                c.clear();
                conn2.exec_drop("DO ?", (1,)).await.unwrap();
                conn2.exec_drop("DO ?", (2,)).await.unwrap();
                let q = c.queries();
                assert_eq!(q.len(), 2, "{q:#?}");
                assert!(q.iter().all(|s| s.closed && s.name == "DO"));
            }
            // A prepared statement handle.
            if let Ok(st) = conn.prepare("SELECT ? + 1").await {
                c.clear();
                let n: i64 = conn.exec_one(&st, (1,)).await.unwrap();
                assert_eq!(n, 2);
                let s = only(&c);
                assert_eq!(s.get("db.response.returned_rows"), Some("1"));
            }
        })
    });
}

#[test]
fn stream_span_closes_when_the_stream_ends() {
    let c = Capture::default();
    with(&c, || {
        support::block_on(async {
            let mut conn = AsyncConn::connect(opts()).await.unwrap();
            c.clear();
            let sql = "SELECT seq FROM (SELECT 1 seq UNION ALL SELECT 2 UNION ALL SELECT 3 \
                       UNION ALL SELECT 4 UNION ALL SELECT 5) x";
            let mut s = conn.query_stream::<Row>(sql).await.unwrap();
            let mut n = 0;
            while let Some(r) = s.next().await {
                r.unwrap();
                n += 1;
                let q = c.queries();
                assert!(!q[0].closed, "open while rows are read");
            }
            assert_eq!(n, 5);
            // Closed at the end of the rows, with the stream still alive.
            let q = only(&c);
            assert_eq!(q.get("db.response.returned_rows"), Some("5"));
            assert_eq!(q.get("abandoned"), None);
            drop(s);

            // exec_stream, owned rows through the Stream impl.
            c.clear();
            let mut s = conn.exec_stream::<Row, _>(sql, ()).await.unwrap();
            let mut n = 0;
            while let Some(r) = StreamExt::next(&mut s).await {
                let _: Row = r.unwrap();
                n += 1;
            }
            assert_eq!(n, 5);
            drop(s);
            let q = only(&c);
            assert_eq!(q.get("db.response.returned_rows"), Some("5"));

            // A stream dropped early: the span ends as abandoned at the next
            // command, with the rows read so far.
            c.clear();
            let mut s = conn.query_stream::<Row>(sql).await.unwrap();
            s.next().await.unwrap().unwrap();
            s.next().await.unwrap().unwrap();
            drop(s);
            let q = c.queries();
            assert!(!q[0].closed);
            conn.query_drop("DO 1").await.unwrap();
            let q = c.queries();
            assert_eq!(q.len(), 2, "{q:#?}");
            assert!(q[0].closed);
            assert_eq!(q[0].get("abandoned"), Some("true"));
            assert_eq!(q[0].get("db.response.returned_rows"), Some("2"));
            assert_eq!(q[1].name, "DO");
        })
    });
}

#[test]
fn blocking_conn_one_span_per_query() {
    let c = Capture::default();
    with(&c, || {
        let o = opts();
        let mut conn = Conn::connect(o.clone()).unwrap();
        c.clear();
        let v: Vec<i64> = conn
            .query("SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3")
            .unwrap();
        assert_eq!(v.len(), 3);
        let s = only(&c);
        assert_eq!(s.name, "SELECT");
        assert_eq!(s.get("db.response.returned_rows"), Some("3"));
        check_common(&s, &o, &conn.server_version());

        c.clear();
        let v: Vec<i64> = conn.exec("SELECT ? UNION ALL SELECT ?", (1, 2)).unwrap();
        assert_eq!(v.len(), 2);
        let s = only(&c);
        assert_eq!(s.get("db.response.returned_rows"), Some("2"));

        c.clear();
        conn.send_query("SELECT 1").unwrap();
        let r = conn.read_query_result().unwrap();
        assert_eq!(r.rows.len(), 1);
        let s = only(&c);
        assert_eq!(s.get("db.response.returned_rows"), Some("1"));

        c.clear();
        conn.query_drop("CREATE TEMPORARY TABLE b (a INT)").unwrap();
        c.clear();
        conn.exec_batch("INSERT INTO b VALUES (?)", [(1,), (2,), (3,)])
            .unwrap();
        let q = c.queries();
        assert!(!q.is_empty() && q.iter().all(|s| s.closed), "{q:#?}");
        assert!(q
            .iter()
            .all(|s| s.get("db.operation.name") == Some("INSERT")
                || s.get("db.operation.name") == Some("SELECT")));
    });
}

#[test]
fn failing_query_records_the_server_code() {
    let c = Capture::default();
    with(&c, || {
        support::block_on(async {
            let mut conn = AsyncConn::connect(opts()).await.unwrap();
            c.clear();
            let e = conn
                .query_drop("SELECT * FROM no_such_table_for_tracing")
                .await
                .unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Server);
            let s = only(&c);
            assert_eq!(s.get("db.response.status_code"), Some("1146"));
            assert_eq!(s.get("error.type"), Some("1146"));
            assert_eq!(s.get("otel.status_code"), Some("ERROR"));

            c.clear();
            let e = conn
                .exec_drop("SELECT * FROM no_such_table_for_tracing WHERE a = ?", (1,))
                .await
                .unwrap_err();
            assert_eq!(e.code(), Some(1146));
            let s = only(&c);
            assert_eq!(s.get("db.response.status_code"), Some("1146"));

            // The connection goes on: the next span has no error.
            c.clear();
            conn.query_drop("DO 1").await.unwrap();
            assert_eq!(only(&c).get("error.type"), None);
        })
    });
    let c = Capture::default();
    with(&c, || {
        let mut conn = Conn::connect(opts()).unwrap();
        c.clear();
        conn.query_drop("SELEC 1").unwrap_err();
        let s = only(&c);
        assert_eq!(s.get("db.response.status_code"), Some("1064"));
        c.clear();
        conn.exec_drop("SELECT * FROM no_such_table_for_tracing WHERE a = ?", (1,))
            .unwrap_err();
        assert_eq!(only(&c).get("error.type"), Some("1146"));
    });
}

#[test]
fn statement_text_only_when_asked_and_never_the_values() {
    let c = Capture::default();
    with(&c, || {
        support::block_on(async {
            for client_side in [false, true] {
                let o = text_opts()
                    .to_builder()
                    .client_side_params(client_side)
                    .build();
                let mut conn = AsyncConn::connect(o).await.unwrap();
                c.clear();
                let n: i64 = conn
                    .exec_one("SELECT ? + 1 /* secret */", (424242,))
                    .await
                    .unwrap();
                assert_eq!(n, 424243);
                let s = only(&c);
                assert_eq!(s.get("db.query.text"), Some("SELECT ? + 1 /* secret */"));
                assert!(!format!("{s:?}").contains("424242"));

                c.clear();
                conn.query_drop("DO 5").await.unwrap();
                assert_eq!(only(&c).get("db.query.text"), Some("DO 5"));
            }
            // Off by default.
            let mut conn = AsyncConn::connect(opts()).await.unwrap();
            c.clear();
            conn.exec_drop("DO ?", (1,)).await.unwrap();
            assert_eq!(only(&c).get("db.query.text"), None);
        })
    });
    // The URL option, on the blocking connection.
    let c = Capture::default();
    with(&c, || {
        let url = support::url();
        let sep = if url.contains('?') { '&' } else { '?' };
        let mut conn = Conn::connect(format!("{url}{sep}trace_statement_text=true")).unwrap();
        c.clear();
        conn.exec_drop("DO ?", ("value-not-shown",)).unwrap();
        let s = only(&c);
        assert_eq!(s.get("db.query.text"), Some("DO ?"));
        assert!(!format!("{s:?}").contains("value-not-shown"));
    });
}

#[test]
fn no_span_when_the_filter_disables_the_target() {
    let c = Capture::denying();
    with(&c, || {
        support::block_on(async {
            let mut conn = AsyncConn::connect(text_opts()).await.unwrap();
            let _: Vec<i64> = conn.query("SELECT 1").await.unwrap();
            conn.exec_drop("DO ?", (1,)).await.unwrap();
            let mut s = conn.query_stream::<Row>("SELECT 1").await.unwrap();
            while s.next().await.is_some() {}
        });
        let mut conn = Conn::connect(opts()).unwrap();
        conn.query_drop("DO 1").unwrap();
    });
    assert!(c.queries().is_empty(), "{:#?}", c.queries());
    // The filter was consulted (the spans were not skipped some other way).
    assert!(c.asked.load(Ordering::Relaxed) > 0);
}

#[test]
fn dropped_and_timed_out_queries_close_their_spans() {
    use std::time::Duration;
    let c = Capture::default();
    with(&c, || {
        support::block_on(async {
            let mut conn = AsyncConn::connect(opts()).await.unwrap();
            c.clear();
            // A future dropped while the server runs the query: its span ends
            // at the connection's next command, marked abandoned.
            let r = tokio::time::timeout(
                Duration::from_millis(50),
                conn.query_drop("SELECT SLEEP(0.3)"),
            )
            .await;
            assert!(r.is_err());
            assert!(!c.queries()[0].closed);
            conn.query_drop("DO 1").await.unwrap();
            let q = c.queries();
            assert_eq!(q.len(), 2, "{q:#?}");
            assert!(q.iter().all(|s| s.closed));
            assert_eq!(q[0].get("abandoned"), Some("true"));
            assert_eq!(q[1].get("abandoned"), None);

            // The query timeout: the span says so.
            c.clear();
            conn.set_query_timeout(Some(Duration::from_millis(100)));
            let e = conn.query_drop("SELECT SLEEP(3)").await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
            let q = c.queries();
            let s = q
                .iter()
                .find(|s| s.get("db.operation.name") == Some("SELECT"))
                .expect("the query's span");
            assert!(s.closed);
            assert_eq!(s.get("error.type"), Some("timeout"), "{s:#?}");
            conn.set_query_timeout(None);
            conn.query_drop("DO 1").await.unwrap();
        })
    });
}
