//! Checks the cluster test support (tests/support/cluster.rs) with the `mariadb` CLI
//! only: a replica pair replicates, a delayed one lags, and a 3-node Galera cluster
//! replicates, desyncs, loses quorum on an isolated node and shrinks when a node is
//! killed. Prints start times, memory and what the health query answers in each
//! state.

mod support;

use std::time::{Duration, Instant};

use support::cluster::{
    app_url, Galera, ReplicaPair, CLUSTER_WAIT, HEALTH_SQL, WSREP_DONOR_DESYNCED, WSREP_SYNCED,
};
use support::{mariadb_cli_args, mariadb_cli_url, Server};

fn rss_mib(server: &Server) -> f64 {
    server.rss_kib() as f64 / 1024.0
}

/// Runs `sql` as [`support::cluster::APP_USER`] over TCP; the CLI's error if it fails.
fn try_cli_as_app(server: &Server, sql: &str) -> Result<String, String> {
    let port = format!("--port={}", server.port());
    let user = format!("-u{}", support::cluster::APP_USER);
    mariadb_cli_args(
        &[
            "--protocol=tcp",
            "--host=127.0.0.1",
            &port,
            &user,
            "--skip-ssl",
        ],
        sql,
    )
}

#[test]
fn replica_pair_replicates_and_promotes() {
    let pair = ReplicaPair::start();
    eprintln!(
        "replica pair: started in {:.2?}; RSS primary {:.0} MiB, replica {:.0} MiB",
        pair.started_in(),
        rss_mib(pair.primary()),
        rss_mib(pair.replica())
    );
    eprintln!(
        "health query on a plain (non-Galera) primary: {:?}, replica: {:?}",
        pair.primary().cli(HEALTH_SQL),
        pair.replica().cli(HEALTH_SQL)
    );
    let status = pair.replica_status();
    assert_eq!(
        status.get("Slave_IO_Running").map(String::as_str),
        Some("Yes")
    );
    assert_eq!(
        status.get("Using_Gtid").map(String::as_str),
        Some("Slave_Pos")
    );
    assert_eq!(pair.replica().cli("SELECT @@read_only"), "1");
    // Copies of one data-directory template: nothing in it pins a server id or a
    // GTID position, so every GTID so far is the primary's (server 1).
    assert_eq!(pair.primary().cli("SELECT @@server_id"), "1");
    assert_eq!(pair.replica().cli("SELECT @@server_id"), "2");
    for server in [pair.primary(), pair.replica()] {
        let state = server.cli("SELECT @@gtid_binlog_state");
        assert!(
            !state.is_empty() && state.split(',').all(|g| g.starts_with("0-1-")),
            "{state:?}"
        );
    }

    pair.primary()
        .cli("CREATE TABLE test.r (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO test.r VALUES (1, 'one')");
    pair.wait_replica_caught_up(CLUSTER_WAIT);
    assert_eq!(
        pair.replica().cli("SELECT v FROM test.r WHERE id = 1"),
        "one"
    );

    // The unprivileged user reached the replica through replication, and
    // read_only refuses its writes there (root's are not refused).
    let app_err = try_cli_as_app(pair.replica(), "INSERT INTO test.r VALUES (2, 'two')")
        .expect_err("a write by the app user on the read-only replica");
    assert!(app_err.contains("1290"), "{app_err}");
    assert_eq!(
        mariadb_cli_url(&app_url(pair.primary()), "SELECT COUNT(*) FROM test.r"),
        "1"
    );

    pair.promote_replica();
    assert_eq!(pair.replica().cli("SELECT @@read_only"), "0");
    assert!(pair.replica_status().is_empty());
    mariadb_cli_url(
        &app_url(pair.replica()),
        "INSERT INTO test.r VALUES (2, 'two')",
    );
    assert_eq!(pair.replica().cli("SELECT COUNT(*) FROM test.r"), "2");
    assert_eq!(pair.primary().cli("SELECT COUNT(*) FROM test.r"), "1");
}

#[test]
fn delayed_replica_lags() {
    let pair = ReplicaPair::start_delayed(2);
    eprintln!("delayed replica pair: started in {:.2?}", pair.started_in());
    assert_eq!(pair.delay_secs(), 2);
    assert_eq!(
        pair.replica_status().get("SQL_Delay").map(String::as_str),
        Some("2")
    );
    pair.primary()
        .cli("CREATE TABLE test.d (id INT PRIMARY KEY) ENGINE=InnoDB");
    pair.wait_replica_caught_up(CLUSTER_WAIT);

    let t0 = Instant::now();
    pair.primary().cli("INSERT INTO test.d VALUES (1)");
    // The binary log has whole-second timestamps, so a 2 s delay holds the row
    // back for more than 1 s after the commit.
    let early = pair.replica().cli("SELECT COUNT(*) FROM test.d");
    let early_at = t0.elapsed();
    if early_at < Duration::from_millis(900) {
        assert_eq!(early, "0", "the row reached the replica after {early_at:?}");
    }
    pair.wait_replica_caught_up(CLUSTER_WAIT);
    let lag = t0.elapsed();
    assert_eq!(pair.replica().cli("SELECT COUNT(*) FROM test.d"), "1");
    eprintln!(
        "delayed replica: the row arrived after {lag:.2?} (checked absent at {early_at:.2?})"
    );
    assert!(lag >= Duration::from_secs(1), "the delay was only {lag:?}");
}

#[test]
fn galera_cluster_replicates_desyncs_isolates_and_shrinks() {
    let g = Galera::start(3);
    let rss: Vec<String> = g
        .nodes()
        .iter()
        .map(|n| format!("{:.0} MiB", rss_mib(n)))
        .collect();
    eprintln!(
        "galera: 3 nodes started in {:.2?}; RSS {}",
        g.started_in(),
        rss.join(", ")
    );
    eprintln!("health query, synced: {:?}", g.node(0).cli(HEALTH_SQL));
    // Copies of one data-directory template, yet three members of one history.
    let ids: Vec<(String, String)> = g
        .nodes()
        .iter()
        .map(|n| {
            let out = n.cli(
                "SELECT VARIABLE_NAME, VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS \
                 WHERE VARIABLE_NAME IN ('WSREP_GCOMM_UUID', 'WSREP_CLUSTER_STATE_UUID') \
                 ORDER BY VARIABLE_NAME",
            );
            let v: Vec<&str> = out.lines().filter_map(|l| l.split('\t').nth(1)).collect();
            assert_eq!(v.len(), 2, "{out:?}");
            (v[0].to_string(), v[1].to_string())
        })
        .collect();
    let (states, members): (Vec<_>, Vec<_>) = ids.iter().cloned().unzip();
    assert!(states.iter().all(|s| s == &states[0]), "{ids:?}");
    let mut distinct = members.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 3, "{ids:?}");

    // Writes on node 0 are visible on node 2 (wsrep_sync_wait: causal reads).
    g.node(0)
        .cli("CREATE TABLE test.g (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO test.g VALUES (1, 'one')");
    assert_eq!(
        mariadb_cli_url(
            &g.url(2),
            "SET SESSION wsrep_sync_wait = 1; SELECT v FROM test.g WHERE id = 1"
        ),
        "one"
    );
    assert_eq!(
        mariadb_cli_url(&app_url(g.node(1)), "SELECT CURRENT_USER()"),
        "app@%"
    );

    // Desynced: state 2, still serves queries.
    let s = g.desync(1, true);
    assert_eq!(s.local_state, WSREP_DONOR_DESYNCED, "{s:?}");
    assert_eq!(s.local_state_comment, "Donor/Desynced");
    eprintln!("health query, desynced: {:?}", g.node(1).cli(HEALTH_SQL));
    assert_eq!(g.node(1).cli("SELECT COUNT(*) FROM test.g"), "1");
    assert_eq!(g.desync(1, false).local_state, WSREP_SYNCED);

    // Isolated: non-Primary; SELECT 1 and the health query answer, tables do not.
    let t = Instant::now();
    let s = g.isolate(2);
    eprintln!(
        "galera: node 2 non-Primary {:.2?} after isolation: {s:?}",
        t.elapsed()
    );
    assert_eq!(g.node(2).cli("SELECT 1"), "1");
    eprintln!("health query, non-Primary: {:?}", g.node(2).cli(HEALTH_SQL));
    let err = g
        .node(2)
        .try_cli("SELECT COUNT(*) FROM test.g")
        .expect_err("table access on a non-Primary node");
    assert!(err.contains("1047"), "{err}");
    // The other two keep quorum.
    g.wait_synced(0, 2, CLUSTER_WAIT);
    g.node(0).cli("INSERT INTO test.g VALUES (2, 'two')");
    g.reconnect(2);
    assert_eq!(
        g.node(2)
            .cli("SET SESSION wsrep_sync_wait = 1; SELECT COUNT(*) FROM test.g"),
        "2"
    );

    // Killed: the others shrink to 2; restarted, it catches up.
    let t = Instant::now();
    g.kill_node(1);
    g.wait_cluster_size(2, CLUSTER_WAIT);
    eprintln!(
        "galera: cluster size 2 {:.2?} after SIGKILL of node 1",
        t.elapsed()
    );
    assert_eq!(g.state(0).expect("node 0 answers").cluster_size, 2);
    g.node(0).cli("INSERT INTO test.g VALUES (3, 'three')");
    g.restart_node(1);
    assert_eq!(
        g.node(1)
            .cli("SET SESSION wsrep_sync_wait = 1; SELECT COUNT(*) FROM test.g"),
        "3"
    );
}
