//! Behind a proxy that lacks commands: the fault proxy (tests/support/proxy.rs)
//! refuses `COM_RESET_CONNECTION` (with an error, or by closing the connection
//! as ProxySQL before 2.4 did) and `COM_STMT_PREPARE`. The pool keeps serving
//! clean sessions and remembers the refusal; `exec*` falls back to client-side
//! parameters, once per connection, with hostile values intact and real errors
//! still reported.

mod support;

use support::block_on_multi as run;
use support::proxy::{Proxy, COM_QUERY, COM_RESET_CONNECTION, COM_STMT_PREPARE};

use std::time::{Duration, Instant};

use mysqlclient_async::{AsyncConn, ErrorKind, Outcome, Pool};

fn url() -> String {
    support::private_server().url()
}

/// Whether `exec*` prepares statements on the server with this build's client
/// library (MariaDB Connector/C); elsewhere it always fills parameters in on the
/// client and never sends `COM_STMT_PREPARE`.
fn prepares() -> bool {
    mysqlclient_async::backend() == "mariadb"
}

/// `n` prepares where `exec*` prepares, else none.
fn prepares_seen(n: usize) -> usize {
    if prepares() {
        n
    } else {
        0
    }
}

fn proxy() -> Proxy {
    let port = support::private_server().port();
    Proxy::start(format!("127.0.0.1:{port}").parse().unwrap())
}

/// Returned connections are cleaned (or discarded) in the background: wait
/// until none is out.
async fn settled(pool: &Pool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while pool.metrics().in_use > 0 {
        assert!(
            Instant::now() < deadline,
            "returned connections never settled: {:?}",
            pool.metrics()
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Borrowers that change their session, one after the other: the next one
/// never sees the previous one's variables, and no error reaches them.
async fn borrowers_change_their_sessions(pool: &Pool, rounds: i64) {
    for i in 0..rounds {
        let mut c = pool.get().await.unwrap();
        let (leak, mode): (Option<i64>, String) = c
            .query_one("SELECT @leak, @@session.sql_mode")
            .await
            .unwrap();
        assert_eq!(leak, None, "round {i}: a user variable leaked");
        assert!(!mode.contains("ANSI_QUOTES"), "round {i}: sql_mode leaked");
        c.query_drop(&format!("SET @leak = {i}")).await.unwrap();
        c.query_drop("SET SESSION sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES')")
            .await
            .unwrap();
        drop(c);
        settled(pool).await;
        // The pool's own one-shot calls see a clean session too.
        let leak: Option<i64> = pool.query_one("SELECT @leak").await.unwrap();
        assert_eq!(leak, None, "round {i}");
    }
}

#[test]
fn a_refused_session_reset_is_remembered_and_sessions_stay_clean() {
    run(async {
        let p = proxy();
        p.refuse_command(COM_RESET_CONNECTION);
        let pool = Pool::builder(p.url(&url()).as_str())
            .max_size(2)
            .build()
            .unwrap();
        borrowers_change_their_sessions(&pool, 6).await;
        // Asked once; every later changed session was replaced without asking.
        assert_eq!(p.commands_seen(COM_RESET_CONNECTION), 1);
        let m = pool.metrics();
        assert!(m.reset_unsupported, "{m:?}");
        assert_eq!(m.resets, 0, "{m:?}");
        assert!(m.discarded >= 6, "{m:?}");
        // An untouched connection still goes back and is reused.
        let created = pool.metrics().created;
        for _ in 0..5 {
            assert_eq!(pool.query_one::<i64>("SELECT 1").await.unwrap(), 1);
            settled(&pool).await;
        }
        assert_eq!(pool.metrics().created, created);
        println!("refused with an error: {:?}", pool.metrics());
    });
}

#[test]
fn a_proxy_that_drops_the_connection_on_reset_is_learnt_too() {
    run(async {
        // ProxySQL before 2.4: "RECEIVED AN UNKNOWN COMMAND: 31", connection closed.
        let p = proxy();
        p.drop_on_command(COM_RESET_CONNECTION);
        let pool = Pool::builder(p.url(&url()).as_str())
            .max_size(2)
            .build()
            .unwrap();
        borrowers_change_their_sessions(&pool, 6).await;
        // Two lost connections in a row on the reset, none ever reset: refused.
        assert_eq!(p.commands_seen(COM_RESET_CONNECTION), 2);
        let m = pool.metrics();
        assert!(m.reset_unsupported, "{m:?}");
        println!("dropped on reset: {:?}", pool.metrics());
    });
}

#[test]
fn a_working_reset_is_not_mistaken_for_a_refusal() {
    run(async {
        let p = proxy();
        let pool = Pool::builder(p.url(&url()).as_str())
            .max_size(2)
            .build()
            .unwrap();
        borrowers_change_their_sessions(&pool, 3).await;
        let m = pool.metrics();
        assert!(!m.reset_unsupported, "{m:?}");
        assert_eq!(m.resets, 3, "{m:?}");
        assert_eq!(p.commands_seen(COM_RESET_CONNECTION), 3);
    });
}

/// Values that would break a statement if they were ever read as SQL.
const HOSTILE: [&str; 10] = [
    "O'Brien",
    "'; DROP TABLE hostile; -- ",
    "\\'; DROP TABLE hostile; #",
    "\"double\" and `tick`",
    "back\\slash\\",
    "?",
    "/* ? */ -- ?",
    "line\nbreak\r\n\t",
    "日本語 ' ünïcödé",
    "nul\0byte",
];

#[test]
fn exec_falls_back_to_client_side_parameters_when_prepare_is_refused() {
    run(async {
        let p = proxy();
        p.refuse_command(COM_STMT_PREPARE);
        let mut c = AsyncConn::connect(p.url(&url()).as_str()).await.unwrap();
        c.query_drop(
            "CREATE TEMPORARY TABLE hostile (id INT PRIMARY KEY, s TEXT CHARACTER SET utf8mb4)",
        )
        .await
        .unwrap();
        // The first exec meets the refusal inside exec_batch.
        let rows: Vec<(i32, &str)> = (0..).zip(HOSTILE).collect();
        let done = c
            .exec_batch("INSERT INTO hostile (id, s) VALUES (?, ?)", rows.clone())
            .await
            .unwrap();
        assert_eq!(done.affected_rows, HOSTILE.len() as u64);
        for (id, s) in &rows {
            let got: String = c
                .exec_one("SELECT s FROM hostile WHERE id = ?", (*id,))
                .await
                .unwrap();
            assert_eq!(got, *s);
            let n: i64 = c
                .exec_one("SELECT COUNT(*) FROM hostile WHERE s = ?", (*s,))
                .await
                .unwrap();
            assert_eq!(n, 1, "{s:?}");
        }
        let all: Vec<(i32, String)> = c
            .exec("SELECT id, s FROM hostile WHERE id >= ? ORDER BY id", (0,))
            .await
            .unwrap();
        assert_eq!(all.len(), HOSTILE.len());
        let done = c
            .exec_drop("UPDATE hostile SET s = ? WHERE id = ?", (HOSTILE[1], 0))
            .await
            .unwrap();
        assert_eq!(done.affected_rows, 1);
        assert_eq!(
            c.query_one::<i64>("SELECT COUNT(*) FROM hostile")
                .await
                .unwrap(),
            HOSTILE.len() as i64
        );
        // Refused once, remembered for the connection.
        assert_eq!(p.commands_seen(COM_STMT_PREPARE), prepares_seen(1));
        // A real error is still the statement's own.
        let e = c.exec_drop("SELEC ?", (1,)).await.unwrap_err();
        assert_eq!(
            (e.kind(), e.code(), e.outcome()),
            (ErrorKind::Server, Some(1064), Outcome::Rejected),
            "{e}"
        );
        // prepare asked explicitly reports the refusal.
        if prepares() {
            let e = c.prepare("SELECT ?").await.unwrap_err();
            assert_eq!(
                (e.code(), e.outcome()),
                (Some(1047), Outcome::Rejected),
                "{e}"
            );
            assert!(!e.is_fatal());
        }
        // Rows streamed, on the same connection.
        use futures_util::TryStreamExt;
        let streamed: Vec<String> = c
            .exec_stream::<String, _>("SELECT s FROM hostile WHERE id > ? ORDER BY id", (0,))
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        assert_eq!(streamed.len(), HOSTILE.len() - 1);
        c.close().await.unwrap();
    });
}

#[test]
fn the_first_refused_exec_runs_and_reports_its_own_errors() {
    run(async {
        let p = proxy();
        p.refuse_command(COM_STMT_PREPARE);
        let purl = p.url(&url());
        // The refusal met by a statement with a syntax error: the error is the
        // statement's, not swallowed by the fallback.
        let mut c = AsyncConn::connect(purl.as_str()).await.unwrap();
        let e = c.exec_drop("SELEC ?", (1,)).await.unwrap_err();
        assert_eq!(
            (e.code(), e.outcome()),
            (Some(1064), Outcome::Rejected),
            "{e}"
        );
        assert_eq!(p.commands_seen(COM_STMT_PREPARE), prepares_seen(1));
        let v: String = c.exec_one("SELECT ?", (HOSTILE[2],)).await.unwrap();
        assert_eq!(v, HOSTILE[2]);
        // exec_one first, on a fresh connection.
        let mut c = AsyncConn::connect(purl.as_str()).await.unwrap();
        let v: String = c
            .exec_one("SELECT CONCAT(?, ?)", (HOSTILE[0], HOSTILE[1]))
            .await
            .unwrap();
        assert_eq!(v, format!("{}{}", HOSTILE[0], HOSTILE[1]));
        assert_eq!(p.commands_seen(COM_STMT_PREPARE), prepares_seen(2));
        // Through the pool's one-shot calls.
        let pool = Pool::builder(purl.as_str()).max_size(2).build().unwrap();
        let v: String = pool.exec_one("SELECT ?", (HOSTILE[8],)).await.unwrap();
        assert_eq!(v, HOSTILE[8]);
        let queries_before = p.commands_seen(COM_QUERY);
        let v: i64 = pool.exec_one("SELECT ? + 1", (41,)).await.unwrap();
        assert_eq!(v, 42);
        assert!(p.commands_seen(COM_QUERY) > queries_before);
        // The refusal shares its code (1047) with a Galera node that is not
        // ready; the pool keeps the connection all the same.
        settled(&pool).await;
        let m = pool.metrics();
        assert_eq!(m.discarded, 0, "{m:?}");
    });
}

#[test]
fn a_server_error_at_prepare_is_no_refusal() {
    run(async {
        // A transparent proxy, to count the prepares.
        let p = proxy();
        let mut c = AsyncConn::connect(p.url(&url()).as_str()).await.unwrap();
        let e = c.exec_drop("SELEC ?", (1,)).await.unwrap_err();
        assert_eq!(e.code(), Some(1064), "{e}");
        let e = c
            .exec_drop("SELECT * FROM no_such_table WHERE a = ?", (1,))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(1146), "{e}");
        assert_eq!(p.commands_seen(COM_STMT_PREPARE), prepares_seen(2));
        // Still server-side statements.
        let v: i64 = c.exec_one("SELECT ? * 2", (21,)).await.unwrap();
        assert_eq!(v, 42);
        assert_eq!(p.commands_seen(COM_STMT_PREPARE), prepares_seen(3));
        if prepares() {
            assert!(c.prepare("SELECT ?").await.is_ok());
        }
    });
}
