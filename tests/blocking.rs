//! The blocking `Conn` against a real server.

mod support;

use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use mysqlclient_async::{Conn, ErrorKind, Opts, Row};

fn conn() -> Conn {
    Conn::connect(support::url().as_str()).expect("connect to the test server")
}

/// A table name unique to this test process and call site.
fn table(name: &str) -> String {
    format!("t_{name}_{}", std::process::id())
}

#[test]
fn connect_and_select() {
    let mut c = conn();
    let v: i64 = c.query_one("SELECT 1 + 41").unwrap();
    assert_eq!(v, 42);
    assert!(c.thread_id() > 0);
    assert!(c.server_version().contains('.'), "{}", c.server_version());
    assert!(c.server_version_number() > 50000);
    c.ping().unwrap();
    let cs: String = c.query_one("SELECT @@character_set_client").unwrap();
    assert_eq!(cs, "utf8mb4", "utf8mb4 is the default charset");
}

#[test]
fn connect_over_unix_socket() {
    let mut c = Conn::connect(support::socket_url().as_str()).unwrap();
    let v: i32 = c.query_one("SELECT 7").unwrap();
    assert_eq!(v, 7);
}

#[test]
fn wrong_password_is_a_typed_error() {
    let opts = Opts::from_url(&support::url())
        .unwrap()
        .to_builder()
        .user("root")
        .password("definitely-wrong")
        .build();
    let e = Conn::connect(&opts).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connect, "{e}");
    assert_eq!(e.code(), Some(1045), "{e:?}");
    assert_eq!(e.server().unwrap().sqlstate, "28000");
    assert!(e.is_fatal());
    assert!(
        !format!("{e} {e:?}").contains("definitely-wrong"),
        "password leaked"
    );
}

#[test]
fn unknown_database_is_a_typed_error() {
    let opts = Opts::from_url(&support::url())
        .unwrap()
        .to_builder()
        .db_name("no_such_db_here")
        .build();
    let e = Conn::connect(&opts).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connect, "{e}");
    assert_eq!(e.code(), Some(1049), "{e:?}");
}

#[test]
fn refused_port_is_a_typed_error() {
    // Bind then drop a listener: nothing listens on that port afterwards.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let e = Conn::connect(format!("mysql://root@127.0.0.1:{port}/test").as_str()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connect, "{e}");
    assert!(matches!(e.code(), Some(2002) | Some(2003)), "{e:?}");
}

#[test]
fn bad_url_is_a_typed_error() {
    let e = Conn::connect("postgres://x@y/z").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    let e = Conn::connect("mysql://h/?bogus=1").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.to_string().contains("bogus"), "{e}");
}

#[test]
fn crud_round_trip() {
    let mut c = conn();
    let t = table("crud");
    c.query_drop(&format!("DROP TABLE IF EXISTS {t}")).unwrap();
    c.query_drop(&format!(
        "CREATE TABLE {t} (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(50) NOT NULL, note TEXT NULL)"
    ))
    .unwrap();
    let r = c
        .execute(&format!(
            "INSERT INTO {t} (name, note) VALUES ('a', NULL), ('b', '')"
        ))
        .unwrap();
    assert_eq!(r.affected_rows, 2);
    assert_eq!(r.last_insert_id, 1, "first id of a multi-row insert");
    let rows: Vec<(i32, String, Option<String>)> = c
        .query(&format!("SELECT id, name, note FROM {t} ORDER BY id"))
        .unwrap();
    assert_eq!(
        rows,
        vec![(1, "a".into(), None), (2, "b".into(), Some(String::new()))],
        "NULL and the empty string stay distinct"
    );
    let r = c
        .execute(&format!("UPDATE {t} SET name = 'z' WHERE id = 2"))
        .unwrap();
    assert_eq!(r.affected_rows, 1);
    assert!(r.info.unwrap().contains("Rows matched: 1"));
    let r = c.execute(&format!("DELETE FROM {t}")).unwrap();
    assert_eq!(r.affected_rows, 2);
    let none: Option<Row> = c.query_opt(&format!("SELECT * FROM {t}")).unwrap();
    assert!(none.is_none());
    c.query_drop(&format!("DROP TABLE {t}")).unwrap();
}

#[test]
fn column_metadata() {
    let mut c = conn();
    let t = table("meta");
    c.query_drop(&format!("DROP TABLE IF EXISTS {t}")).unwrap();
    c.query_drop(&format!(
        "CREATE TABLE {t} (id BIGINT UNSIGNED NOT NULL PRIMARY KEY, name VARCHAR(20) NULL, data BLOB)"
    ))
    .unwrap();
    let rs = c
        .query_result(&format!("SELECT id, name AS n, data FROM {t}"))
        .unwrap();
    assert!(rs.rows.is_empty());
    let cols = &rs.columns;
    assert_eq!(cols.len(), 3);
    assert_eq!(cols[0].name(), "id");
    assert_eq!(
        cols[0].column_type(),
        mysqlclient_async::ColumnType::LongLong
    );
    assert!(cols[0].is_unsigned());
    assert!(!cols[0].is_nullable());
    assert_eq!(cols[1].name(), "n");
    assert_eq!(cols[1].org_name(), "name");
    assert_eq!(cols[1].org_table(), t);
    assert!(cols[1].is_nullable());
    assert!(!cols[1].is_binary());
    assert!(cols[2].is_binary());
    c.query_drop(&format!("DROP TABLE {t}")).unwrap();
}

#[test]
fn one_megabyte_blob_round_trips() {
    let mut c = conn();
    let t = table("blob");
    c.query_drop(&format!("DROP TABLE IF EXISTS {t}")).unwrap();
    c.query_drop(&format!("CREATE TABLE {t} (b LONGBLOB)"))
        .unwrap();
    let blob: Vec<u8> = (0..1_048_576u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
        .collect();
    let hex: String = blob.iter().map(|b| format!("{b:02x}")).collect();
    c.query_drop(&format!("INSERT INTO {t} VALUES (X'{hex}')"))
        .unwrap();
    let back: Vec<u8> = c.query_one(&format!("SELECT b FROM {t}")).unwrap();
    assert_eq!(back.len(), blob.len());
    assert!(back == blob, "blob differs");
    c.query_drop(&format!("DROP TABLE {t}")).unwrap();
}

#[test]
fn multiple_statements_give_multiple_result_sets() {
    let mut c = conn();
    let sets = c
        .query_multi("SELECT 1 AS a; SELECT 2 AS b, 3 AS c; DO 1; SELECT 'x'")
        .unwrap();
    assert_eq!(sets.len(), 4);
    assert_eq!(sets[0].rows[0].get::<i32>("a"), 1);
    assert_eq!(sets[1].columns.len(), 2);
    assert_eq!(sets[1].rows[0].get::<i32>(1), 3);
    assert!(sets[2].columns.is_empty());
    assert_eq!(sets[3].rows[0].get::<String>(0), "x");
    // The connection is in sync afterwards.
    assert_eq!(c.query_one::<i32>("SELECT 5").unwrap(), 5);

    // An error in a later statement surfaces and the connection stays usable.
    let e = c
        .query::<Row>("SELECT 1; SELECT * FROM no_such_table_x; SELECT 3")
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Server);
    assert_eq!(e.code(), Some(1146));
    assert!(!e.is_fatal());
    assert_eq!(c.query_one::<i32>("SELECT 6").unwrap(), 6);
}

#[test]
fn server_error_keeps_connection_usable() {
    let mut c = conn();
    let e = c.query_drop("SELEC 1").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Server);
    assert_eq!(e.code(), Some(1064));
    assert_eq!(e.server().unwrap().sqlstate, "42000");
    assert!(!e.is_fatal());
    assert!(e.to_string().contains("still usable"), "{e}");
    assert_eq!(c.query_one::<i32>("SELECT 1").unwrap(), 1);
}

fn poll_readable(fd: i32, timeout_ms: i32) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the duration of the call.
    let n = unsafe { libc::poll(&mut p, 1, timeout_ms) };
    assert!(n >= 0, "poll failed");
    n == 1 && p.revents & libc::POLLIN != 0
}

#[test]
fn fd_is_readable_only_once_the_server_answers() {
    let mut c = conn();
    c.send_query("SELECT SLEEP(0.5) AS s").unwrap();
    let fd = c.as_raw_fd();
    let t0 = Instant::now();
    assert!(
        !poll_readable(fd, 100),
        "fd readable while the server is still sleeping"
    );
    assert!(poll_readable(fd, 5_000), "fd never became readable");
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_millis(400),
        "readable too early: {waited:?}"
    );
    let rs = c.read_query_result().unwrap();
    assert_eq!(rs.rows.len(), 1);
    assert_eq!(rs.rows[0].get::<i64>("s"), 0);
}

#[test]
fn second_send_while_pending_is_refused() {
    let mut c = conn();
    c.send_query("SELECT 1").unwrap();
    let e = c.send_query("SELECT 2").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Busy);
    assert!(!e.is_fatal());
    assert!(c.has_pending_work());
    let rs = c.read_query_result().unwrap();
    assert_eq!(
        rs.rows[0].get::<i32>(0),
        1,
        "the first query's result, not the second"
    );
    let e = c.read_query_result().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Busy, "nothing pending");
    // A normal query while a result is pending drains it first.
    c.send_query("SELECT 'old'").unwrap();
    let s: String = c.query_one("SELECT 'new'").unwrap();
    assert_eq!(s, "new");
}

#[test]
fn session_calls() {
    let mut c = conn();
    let db = format!("db_sess_{}", std::process::id());
    c.query_drop(&format!("CREATE DATABASE IF NOT EXISTS {db}"))
        .unwrap();
    c.select_db(&db).unwrap();
    let cur: String = c.query_one("SELECT DATABASE()").unwrap();
    assert_eq!(cur, db);
    c.query_drop("SET @x = 5").unwrap();
    c.reset_connection().unwrap();
    let x: Option<i64> = c.query_one("SELECT @x").unwrap();
    assert_eq!(x, None, "reset_connection clears user variables");
    assert_eq!(c.escape("it's a \\ test").unwrap(), "it\\'s a \\\\ test");
    c.query_drop(&format!("DROP DATABASE {db}")).unwrap();
}

#[test]
fn init_sql_runs_on_connect() {
    let opts = Opts::from_url(&support::url())
        .unwrap()
        .to_builder()
        .init_sql("SET @init_a = 11")
        .init_sql("SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES'")
        .build();
    let mut c = Conn::connect(&opts).unwrap();
    let a: i64 = c.query_one("SELECT @init_a").unwrap();
    assert_eq!(a, 11);
    // MariaDB's escaping follows NO_BACKSLASH_ESCAPES: quotes are doubled instead.
    assert_eq!(c.escape("it's").unwrap(), "it''s");
}

#[test]
fn drop_without_close_works() {
    for _ in 0..20 {
        let mut c = conn();
        c.send_query("SELECT SLEEP(0.01)").unwrap();
        drop(c); // pending result, never read
    }
    let mut c = conn();
    c.query_drop("SELECT 1").unwrap();
    drop(c);
    let c = conn();
    c.close().unwrap();
}

#[test]
fn conn_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<Conn>();
    let c = conn();
    let id = std::thread::spawn(move || c.thread_id()).join().unwrap();
    assert!(id > 0);
}
