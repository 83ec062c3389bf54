//! A real three-node Galera cluster (started by the test support as the `mysql`
//! user, stopped afterwards), one for the whole file since it takes ~10 s to
//! start: a pool over its nodes never hands out a node without quorum or out of
//! the Synced state, leaves a node that is desynced, survives the death of a
//! node under load, and the transaction-retry helper resolves a certification
//! conflict between two nodes. The measured times are printed.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mysqlclient_async::{AsyncConn, ErrorKind, Pool, RetryPolicy};
use support::cluster::Galera;

/// `mysql://app@n_a,n_b,…/test?…` over the given nodes, in that order.
fn url(g: &Galera, nodes: &[usize], query: &str) -> String {
    let hosts: Vec<String> = nodes
        .iter()
        .map(|&i| format!("127.0.0.1:{}", g.node(i).port()))
        .collect();
    format!("mysql://app@{}/test?{query}", hosts.join(","))
}

fn node_of(g: &Galera, port: u16) -> usize {
    (0..g.len())
        .find(|&i| g.node(i).port() == port)
        .expect("a node's port")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_over_a_galera_cluster() {
    let g = Galera::start(3);
    g.node(0).cli(
        "CREATE TABLE test.kv (id INT PRIMARY KEY, v INT NOT NULL); \
         INSERT INTO test.kv VALUES (1, 0), (2, 0), (3, 0), (4, 0), (5, 0);",
    );

    // Every connection to a Galera node checks it at connect.
    let mut c = AsyncConn::connect(url(&g, &[0, 1, 2], "")).await.unwrap();
    let node = c.node().expect("checked at connect");
    let galera = node.galera.expect("a Galera node");
    assert!(galera.ready && galera.local_state == 4, "{node:?}");
    let n: i64 = c.query_one("SELECT COUNT(*) FROM kv").await.unwrap();
    assert_eq!(n, 5);
    drop(c);

    certification_conflicts_are_retried(&g).await;
    a_desynced_node_is_left(&g).await;
    a_node_without_quorum_is_never_handed_out(&g).await;
    the_survivors_serve_when_a_node_dies_under_load(&g).await;
}

/// Two sessions on two nodes update one row: the loser's COMMIT fails
/// certification (1213), and the helper re-runs its whole transaction.
async fn certification_conflicts_are_retried(g: &Galera) {
    const EACH: i64 = 15;
    let start: i64 = g
        .node(0)
        .cli("SELECT v FROM test.kv WHERE id = 1")
        .trim()
        .parse()
        .unwrap();
    let policy = RetryPolicy::new()
        .max_attempts(100)
        .backoff(Duration::from_millis(1), Duration::from_millis(20));
    // One pool on node 0, one on node 1: the same row, read then written back
    // plus one, with a pause between, on both at once.
    let run = |node: usize| {
        let pool = Pool::builder(url(g, &[node], ""))
            .max_size(1)
            .build()
            .unwrap();
        let policy = policy.clone();
        tokio::spawn(async move {
            for _ in 0..EACH {
                pool.transaction(&policy, async move |tx| {
                    let v: i64 = tx
                        .query_one("SELECT v FROM kv WHERE id = 1 FOR UPDATE")
                        .await?;
                    tx.query_drop("DO SLEEP(0.01)").await?;
                    tx.exec_drop("UPDATE kv SET v = ? WHERE id = 1", (v + 1,))
                        .await?;
                    Ok(())
                })
                .await
                .unwrap();
            }
            pool.metrics().tx_retries
        })
    };
    let t0 = Instant::now();
    let (a, b) = (run(0), run(1));
    let retries = a.await.unwrap() + b.await.unwrap();
    let v: i64 = g
        .node(2)
        .cli("SET SESSION wsrep_sync_wait = 1; SELECT v FROM test.kv WHERE id = 1")
        .trim()
        .parse()
        .unwrap();
    eprintln!(
        "galera: {} read-modify-write transactions on two nodes in {:?}, {retries} retried \
         after a certification conflict",
        2 * EACH,
        t0.elapsed()
    );
    assert_eq!(v, start + 2 * EACH, "an update was lost or applied twice");
    assert!(
        retries > 0,
        "no certification conflict in {} overlapping transactions",
        2 * EACH
    );
}

/// `wsrep_desync=ON`: the node leaves the Synced state; idle connections to it
/// fail the checkout's check and new ones go elsewhere.
async fn a_desynced_node_is_left(g: &Galera) {
    let pool = Pool::builder(url(g, &[0, 1, 2], "deny_for=1"))
        .max_size(2)
        .ping_after_idle(Duration::ZERO)
        .build()
        .unwrap();
    let c = pool.get().await.unwrap();
    assert_eq!(
        node_of(g, c.opts().port()),
        0,
        "sequential order: node 0 first"
    );
    drop(c);
    let t0 = Instant::now();
    g.desync(0, true);
    let mut c = pool.get().await.unwrap();
    assert_ne!(
        node_of(g, c.opts().port()),
        0,
        "a desynced node was handed out"
    );
    c.query_drop("UPDATE kv SET v = v + 1 WHERE id = 5")
        .await
        .unwrap();
    assert_eq!(pool.metrics().discarded, 1);
    eprintln!(
        "galera: the pool left the desynced node within {:?}",
        t0.elapsed()
    );
    drop(c);
    // A new connect skips it too (it is not Synced, whatever the deny list says).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let c = AsyncConn::connect(url(g, &[0, 1], "")).await.unwrap();
    assert_eq!(node_of(g, c.opts().port()), 1);
    g.desync(0, false);
}

/// An isolated node (`gmcast.isolate=1`) loses quorum: it answers pings and
/// logins, and refuses table access (1047). It is never handed out.
async fn a_node_without_quorum_is_never_handed_out(g: &Galera) {
    let pool = Pool::builder(url(g, &[2, 0], "deny_for=1"))
        .max_size(2)
        .ping_after_idle(Duration::ZERO)
        .build()
        .unwrap();
    let c = pool.get().await.unwrap();
    assert_eq!(node_of(g, c.opts().port()), 2);
    drop(c);
    g.isolate(2);
    // The idle connection to node 2 is checked and discarded; the new one is
    // on node 0.
    for _ in 0..3 {
        let mut c = pool.get().await.unwrap();
        assert_eq!(
            node_of(g, c.opts().port()),
            0,
            "a node without quorum was handed out"
        );
        let n: i64 = c.query_one("SELECT COUNT(*) FROM kv").await.unwrap();
        assert_eq!(n, 5);
    }
    // A list with only that node: no connection, and the error says why.
    let only = Pool::builder(url(g, &[2], "target=primary"))
        .max_size(1)
        .build()
        .unwrap();
    let e = only.get().await.unwrap_err();
    assert!(e.to_string().contains("wsrep_ready = OFF"), "{e}");
    // A plain connection to it logs in, and the first table access says 1047;
    // a pool would discard that connection.
    let mut raw = AsyncConn::connect(g.url(2).replace("root", "app"))
        .await
        .unwrap();
    let e = raw.query_drop("SELECT * FROM kv").await.unwrap_err();
    assert_eq!(e.code(), Some(1047), "{e}");
    g.reconnect(2);
}

/// SIGKILL one node while eight tasks write through a pool over all three in
/// random order: writes on the dead node's connections fail (connection lost),
/// the others go on, and the pool replaces the lost connections on the
/// survivors.
async fn the_survivors_serve_when_a_node_dies_under_load(g: &Galera) {
    let pool = Pool::builder(url(g, &[0, 1, 2], "host_order=random&connect_timeout=2"))
        .max_size(6)
        .build()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for t in 0..8i64 {
        let (pool, stop, ok, failed) = (pool.clone(), stop.clone(), ok.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let id = 100 + t;
                let r = pool
                    .exec_drop(
                        "INSERT INTO kv VALUES (?, 1) ON DUPLICATE KEY UPDATE v = v + 1",
                        (id,),
                    )
                    .await;
                match r {
                    Ok(_) => ok.fetch_add(1, Ordering::Relaxed),
                    Err(e) => {
                        assert!(
                            matches!(
                                e.kind(),
                                ErrorKind::ConnectionLost | ErrorKind::Connect | ErrorKind::Server
                            ),
                            "{e}"
                        );
                        failed.fetch_add(1, Ordering::Relaxed)
                    }
                };
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let before = ok.load(Ordering::Relaxed);
    let killed = Instant::now();
    g.kill_node(1);
    // Galera holds every commit until it evicts the dead node (after
    // evs.suspect_timeout, 5 s by default); then the survivors serve again.
    let resumed = loop {
        let n = ok.load(Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(100)).await;
        if ok.load(Ordering::Relaxed) >= n + 20 && killed.elapsed() > Duration::from_millis(200) {
            break killed.elapsed();
        }
        assert!(
            killed.elapsed() < Duration::from_secs(30),
            "the survivors served no write within 30 s of the kill"
        );
    };
    let at = ok.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let after = ok.load(Ordering::Relaxed) - at;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    eprintln!(
        "galera: {before} writes in 0.7 s before the kill; {} failed around it; writes \
         flowed again {resumed:?} after the kill, {after} in the second after that",
        failed.load(Ordering::Relaxed),
    );
    assert!(after > 0, "the survivors served no write after the kill");
    // The pool's connections are on the survivors only.
    let mut held = Vec::new();
    for _ in 0..6 {
        let mut c = pool.get().await.unwrap();
        assert_ne!(
            node_of(g, c.opts().port()),
            1,
            "a connection to the dead node"
        );
        c.query_drop("SELECT 1").await.unwrap();
        held.push(c);
    }
}
