//! Host lists with a target role, on single servers: a dead host and a replica
//! before the primary, the deny list, authentication errors that stop at once,
//! replica sessions that refuse writes, a pool that leaves a server whose role
//! changed, and the GTID of each write read from the OK packet.
//!
//! A "replica" here is a private server started with `--read-only=ON`: that is
//! what the role check reads. Real replication and Galera are in
//! `tests/replicas.rs` and `tests/galera.rs`.

mod support;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use mysqlclient_async::{AsyncConn, ErrorKind, Opts, Pool, Role, Target};
use support::proxy::{OnAccept, Proxy};

/// A read-only server: the replica of these tests.
fn read_only_server() -> &'static support::Server {
    static S: OnceLock<support::Server> = OnceLock::new();
    S.get_or_init(|| support::start_private_with(&["--read-only=ON"]))
}

/// A server with a binary log, whose writes get GTIDs.
fn binlog_server() -> &'static support::Server {
    static S: OnceLock<support::Server> = OnceLock::new();
    S.get_or_init(|| support::start_private_with(&["--log-bin", "--server-id=7"]))
}

/// A relay to the shared server that closes every connection it accepts, and
/// counts them: a host that cannot be reached, whose attempts are visible.
fn dead_host() -> Proxy {
    let p = Proxy::start(
        format!("127.0.0.1:{}", support::private_server().port())
            .parse()
            .unwrap(),
    );
    p.on_accept(OnAccept::CloseAtOnce);
    p
}

fn url(ports: &[u16], query: &str) -> String {
    let hosts: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    format!("mysql://root@{}/test?{query}", hosts.join(","))
}

/// A user without the privileges that bypass `read_only`.
fn app_user(server: &support::Server) {
    server.cli(
        "CREATE USER IF NOT EXISTS 'app'@'%' IDENTIFIED BY 'pw'; \
         GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP ON test.* TO 'app'@'%';",
    );
}

#[tokio::test]
async fn target_primary_passes_a_dead_host_and_a_replica_and_denies_the_dead_one() {
    let primary = support::private_server();
    let replica = read_only_server();
    let dead = dead_host();
    let url = url(
        &[dead.port(), replica.port(), primary.port()],
        "target=primary&connect_timeout=3",
    );
    let t0 = Instant::now();
    let mut conn = AsyncConn::connect(&url).await.unwrap();
    let took = t0.elapsed();
    eprintln!("target=primary past a dead host and a replica: {took:?}");
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert_eq!(conn.opts().port(), primary.port());
    assert_eq!(conn.node().unwrap().role, Role::Primary);
    let ro: i64 = conn.query_one("SELECT @@global.read_only").await.unwrap();
    assert_eq!(ro, 0);
    assert_eq!(dead.accepted(), 1, "the dead host is tried once");

    // While it is on the deny list, it is tried last: the primary answers first.
    for _ in 0..3 {
        let c = AsyncConn::connect(&url).await.unwrap();
        assert_eq!(c.opts().port(), primary.port());
    }
    assert_eq!(dead.accepted(), 1, "the denied host was tried again");

    // With nothing else to try, a denied host is still tried (and fails).
    let only_dead = self::url(&[dead.port()], "target=primary&connect_timeout=3");
    let e = AsyncConn::connect(&only_dead).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connect);
    assert!(
        e.to_string()
            .contains(&format!("127.0.0.1:{}", dead.port())),
        "{e}"
    );
    assert_eq!(dead.accepted(), 2);
}

#[tokio::test]
async fn the_deny_list_expires() {
    let primary = support::private_server();
    let dead = dead_host();
    let url = url(
        &[dead.port(), primary.port()],
        "target=any&deny_for=0.3&connect_timeout=3",
    );
    AsyncConn::connect(&url).await.unwrap();
    AsyncConn::connect(&url).await.unwrap();
    assert_eq!(dead.accepted(), 1);
    tokio::time::sleep(Duration::from_millis(400)).await;
    AsyncConn::connect(&url).await.unwrap();
    assert_eq!(
        dead.accepted(),
        2,
        "an expired entry is tried in its place again"
    );
}

#[tokio::test]
async fn an_authentication_error_stops_at_once() {
    let primary = support::private_server();
    let next = Proxy::start(format!("127.0.0.1:{}", primary.port()).parse().unwrap());
    let url = format!(
        "mysql://nobody:wrong@127.0.0.1:{},127.0.0.1:{}/test?target=primary",
        primary.port(),
        next.port()
    );
    let e = AsyncConn::connect(&url).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connect);
    assert_eq!(e.code(), Some(1045), "{e}");
    assert_eq!(next.accepted(), 0, "moved on after an authentication error");
}

#[tokio::test]
async fn a_replica_session_refuses_writes_even_for_root() {
    let primary = support::private_server();
    let replica = read_only_server();
    let url = url(&[primary.port(), replica.port()], "target=replica");
    // root may write to a read_only server (as replication's own thread does).
    replica.cli("CREATE TABLE IF NOT EXISTS test.ro_probe (id INT)");
    replica.cli("INSERT INTO test.ro_probe VALUES (0)");
    let mut conn = AsyncConn::connect(&url).await.unwrap();
    assert_eq!(conn.opts().port(), replica.port());
    assert_eq!(conn.node().unwrap().role, Role::Replica);
    // The replica session does not let it.
    let n: i64 = conn
        .query_one("SELECT COUNT(*) FROM test.ro_probe")
        .await
        .unwrap();
    assert!(n >= 1);
    let e = conn
        .query_drop("INSERT INTO test.ro_probe VALUES (1)")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(1792), "{e}");
    assert!(!e.is_fatal());

    // A pool discards a connection that saw it.
    let pool = Pool::builder(&url).max_size(2).build().unwrap();
    let mut c = pool.get().await.unwrap();
    let id = c.thread_id();
    let e = c
        .query_drop("INSERT INTO test.ro_probe VALUES (1)")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(1792));
    drop(c);
    let c = pool.get().await.unwrap();
    assert_ne!(c.thread_id(), id, "the connection that saw 1792 came back");
    assert_eq!(pool.metrics().discarded, 1);
    // The read-only mode survives the pool's session reset.
    drop(c);
    let mut c = pool.get().await.unwrap();
    c.query_drop("SET @x = 1").await.unwrap();
    drop(c);
    let mut c = pool.get().await.unwrap();
    let ro: i64 = c.query_one("SELECT @@session.tx_read_only").await.unwrap();
    assert_eq!(ro, 1);
}

#[tokio::test]
async fn prefer_replica_falls_back_to_the_primary() {
    let primary = support::private_server();
    let replica = read_only_server();
    let both = url(&[primary.port(), replica.port()], "target=prefer_replica");
    let c = AsyncConn::connect(&both).await.unwrap();
    assert_eq!(c.opts().port(), replica.port(), "a replica is preferred");
    let dead = dead_host();
    let no_replica = url(&[primary.port(), dead.port()], "target=prefer_replica");
    let mut c = AsyncConn::connect(&no_replica).await.unwrap();
    assert_eq!(c.opts().port(), primary.port());
    assert_eq!(c.node().unwrap().role, Role::Primary);
    // The fallback primary's session is not read-only.
    let ro: i64 = c.query_one("SELECT @@session.tx_read_only").await.unwrap();
    assert_eq!(ro, 0);
    // No host of the role asked for: the error names each host and why.
    let e = AsyncConn::connect(url(&[primary.port()], "target=replica"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connect);
    assert!(e.to_string().contains("is a primary"), "{e}");
}

#[tokio::test]
async fn a_pool_leaves_a_server_that_stopped_being_primary() {
    let a = support::start_private_with(&[]);
    let b = support::start_private_with(&[]);
    app_user(&a);
    app_user(&b);
    let url = format!(
        "mysql://app:pw@127.0.0.1:{},127.0.0.1:{}/test?target=primary",
        a.port(),
        b.port()
    );
    let pool = Pool::builder(&url)
        .max_size(2)
        .ping_after_idle(Duration::ZERO)
        .build()
        .unwrap();
    let mut c = pool.get().await.unwrap();
    assert_eq!(c.opts().port(), a.port());
    c.query_drop("CREATE TABLE IF NOT EXISTS t (id INT)")
        .await
        .unwrap();
    drop(c);

    // A is demoted while the connection idles: the checkout's node check (not a
    // ping, which would pass) sees it, and the pool connects to B.
    a.cli("SET GLOBAL read_only = ON");
    let mut c = pool.get().await.unwrap();
    assert_eq!(c.opts().port(), b.port());
    assert_eq!(pool.metrics().discarded, 1);
    c.query_drop("CREATE TABLE IF NOT EXISTS t (id INT)")
        .await
        .unwrap();
    c.query_drop("INSERT INTO t VALUES (1)").await.unwrap();
    drop(c);

    // Demoted while in use: the write fails with 1290 and the connection is
    // discarded instead of returned.
    b.cli("SET GLOBAL read_only = OFF");
    a.cli("SET GLOBAL read_only = OFF");
    let pool = Pool::builder(&url).max_size(1).build().unwrap();
    let mut c = pool.get().await.unwrap();
    assert_eq!(c.opts().port(), a.port());
    a.cli("SET GLOBAL read_only = ON");
    let e = c.query_drop("INSERT INTO t VALUES (2)").await.unwrap_err();
    assert_eq!(e.code(), Some(1290), "{e}");
    drop(c);
    let c = pool.get().await.unwrap();
    assert_eq!(
        c.opts().port(),
        b.port(),
        "the pool went back to the demoted server"
    );
    assert_eq!(pool.metrics().discarded, 1);
}

#[tokio::test]
async fn the_gtid_of_each_write_comes_with_its_ok_packet() {
    let server = binlog_server();
    let url = format!("{}?track_gtid=true", server.url());
    let mut conn = AsyncConn::connect(&url).await.unwrap();
    assert_eq!(conn.last_gtid(), None);
    conn.query_drop("CREATE TABLE IF NOT EXISTS g (id INT PRIMARY KEY)")
        .await
        .unwrap();
    conn.query_drop("INSERT INTO g VALUES (1)").await.unwrap();
    let first = conn.last_gtid().expect("a GTID after a write").to_string();
    conn.exec_drop("INSERT INTO g VALUES (?)", (2,))
        .await
        .unwrap();
    let second = conn.last_gtid().unwrap().to_string();
    assert_ne!(first, second);
    let position: String = conn.query_one("SELECT @@gtid_binlog_pos").await.unwrap();
    assert_eq!(
        position, second,
        "the tracked GTID is the server's position"
    );
    // A read leaves it as it was.
    conn.query_drop("SELECT * FROM g").await.unwrap();
    assert_eq!(conn.last_gtid(), Some(second.as_str()));
    // The wait compares with what a replica applied: a primary never says yes.
    assert!(!conn
        .wait_for_gtid(&second, Duration::from_millis(100))
        .await
        .unwrap());
    // A hostile position never reaches SQL.
    let e = conn
        .wait_for_gtid("0-1-1', 0) OR SLEEP(5); --", Duration::from_secs(1))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Params);
    // A position not reached yet: false after the timeout.
    let t0 = Instant::now();
    assert!(!conn
        .wait_for_gtid("0-7-999999", Duration::from_millis(300))
        .await
        .unwrap());
    assert!(t0.elapsed() >= Duration::from_millis(250));

    // Tracking survives a pool's session reset.
    let pool = Pool::builder(&url).max_size(1).build().unwrap();
    let mut c = pool.get().await.unwrap();
    c.query_drop("SET @changed = 1").await.unwrap();
    drop(c);
    let mut c = pool.get().await.unwrap();
    c.query_drop("INSERT INTO g VALUES (3)").await.unwrap();
    assert!(c.last_gtid().is_some());
    // The blocking connection tracks it too.
    let blocking_url = url.clone();
    let gtid = tokio::task::spawn_blocking(move || {
        let mut b = mysqlclient_async::Conn::connect(blocking_url).unwrap();
        b.query_drop("INSERT INTO g VALUES (4)").unwrap();
        b.last_gtid().map(str::to_owned)
    })
    .await
    .unwrap();
    assert!(gtid.is_some());
}

#[tokio::test]
async fn options_that_cannot_be_combined_say_so() {
    let e =
        mysqlclient_async::Conn::connect("mysql://root@127.0.0.1:1,127.0.0.1:2/test").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.to_string().contains("AsyncConn or Pool"), "{e}");
    let opts = Opts::builder()
        .socket("/nonexistent.sock")
        .add_host("127.0.0.1", 1)
        .target(Target::Primary)
        .build();
    let e = AsyncConn::connect(opts).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
}
