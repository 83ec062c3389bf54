//! A real GTID primary and replica (started by the test support, stopped
//! afterwards): failover of a `target=primary` pool when the primary dies and the
//! replica is promoted, and read-your-writes on a delayed replica
//! (`MASTER_DELAY`), with the fallback to the primary. The measured times are
//! printed (the README's failover table quotes them).

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mysqlclient_async::{ErrorKind, Outcome, Pool, Role};
use support::cluster::{app_url, ReplicaPair};

/// A failed write: when, its outcome and kind, and its message.
type Failure = (Instant, Outcome, ErrorKind, String);

/// `mysql://app@p,r/test?…`: both servers, the primary first.
fn both(pair: &ReplicaPair, query: &str) -> String {
    format!(
        "mysql://app@127.0.0.1:{},127.0.0.1:{}/test?{query}",
        pair.primary().port(),
        pair.replica().port()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_primary_dies_mid_load_and_the_promoted_replica_serves_writes() {
    let pair = ReplicaPair::start();
    pair.primary()
        .cli("CREATE TABLE test.writes (id INT AUTO_INCREMENT PRIMARY KEY, v INT)");
    pair.wait_replica_caught_up(Duration::from_secs(30));
    let _ = app_url(pair.primary());
    let pool = Pool::builder(both(&pair, "target=primary&connect_timeout=2&deny_for=1"))
        .max_size(4)
        .acquire_timeout(Duration::from_secs(2))
        .build()
        .unwrap();

    // Four writers, each inserting in a loop and recording how each write ended.
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicUsize::new(0));
    let errors: Arc<Mutex<Vec<Failure>>> = Arc::default();
    let last_ok: Arc<Mutex<Option<Instant>>> = Arc::default();
    let mut writers = Vec::new();
    for w in 0..4 {
        let (pool, stop, ok, errors, last_ok) = (
            pool.clone(),
            stop.clone(),
            ok.clone(),
            errors.clone(),
            last_ok.clone(),
        );
        writers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                match pool
                    .exec_drop("INSERT INTO writes (v) VALUES (?)", (w,))
                    .await
                {
                    Ok(_) => {
                        ok.fetch_add(1, Ordering::Relaxed);
                        *last_ok.lock().unwrap() = Some(Instant::now());
                    }
                    Err(e) => {
                        errors.lock().unwrap().push((
                            Instant::now(),
                            e.outcome(),
                            e.kind(),
                            e.to_string(),
                        ));
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = ok.load(Ordering::Relaxed);
    assert!(
        before > 0,
        "no write succeeded before the kill: {:?}",
        errors.lock().unwrap().first()
    );

    let killed = Instant::now();
    pair.primary().kill9();
    // Writes fail while there is no primary.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let promoted = Instant::now();
    pair.promote_replica();
    // Wait for the first write after the promotion.
    let deadline = Instant::now() + Duration::from_secs(20);
    let first_after = loop {
        if let Some(t) = *last_ok.lock().unwrap() {
            if t > promoted {
                break t;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no write succeeded within 20 s of the promotion"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }

    let errors = std::mem::take(&mut *errors.lock().unwrap());
    let during: Vec<_> = errors.iter().filter(|(t, ..)| *t >= killed).collect();
    let count = |o: Outcome| during.iter().filter(|(_, x, ..)| *x == o).count();
    eprintln!(
        "failover: {before} writes before the kill; write errors after it: {} \
         ({} outcome unknown, {} not sent, {} other); first write {:?} after the \
         promotion, {:?} after the kill",
        during.len(),
        count(Outcome::Unknown),
        count(Outcome::NotSent),
        during.len() - count(Outcome::Unknown) - count(Outcome::NotSent),
        first_after - promoted,
        first_after - killed,
    );
    assert!(!during.is_empty(), "the kill went unnoticed");
    for (_, outcome, kind, msg) in during.iter() {
        match kind {
            // A write on a connection that died: it was sent, the answer is lost.
            ErrorKind::ConnectionLost => {
                assert_eq!(*outcome, Outcome::Unknown, "{msg}")
            }
            // No primary to connect to: nothing was sent.
            ErrorKind::Connect | ErrorKind::Pool => {
                assert_eq!(*outcome, Outcome::NotSent, "{msg}")
            }
            other => panic!("unexpected error class {other:?}: {msg}"),
        }
    }
    // Every connection of the pool now is on the promoted server.
    let mut c = pool.get().await.unwrap();
    assert_eq!(c.opts().port(), pair.replica().port());
    assert_eq!(c.node().unwrap().role, Role::Primary);
    c.query_drop("INSERT INTO writes (v) VALUES (99)")
        .await
        .unwrap();
    assert!(
        first_after - promoted < Duration::from_secs(5),
        "writes resumed only {:?} after the promotion",
        first_after - promoted
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_wait_for_the_write_on_a_delayed_replica_or_fall_back() {
    let pair = ReplicaPair::start_delayed(2);
    pair.primary()
        .cli("CREATE TABLE test.ryw (id INT PRIMARY KEY, v INT)");
    // The table itself arrives after the delay.
    pair.wait_replica_caught_up(Duration::from_secs(30));
    let primary = Pool::builder(both(&pair, "target=primary"))
        .max_size(2)
        .build()
        .unwrap();
    let replicas = Pool::builder(both(&pair, "target=replica"))
        .max_size(2)
        .build()
        .unwrap();

    // A write, then a read that must see it: it waits for the replica (2 s).
    let mut w = primary.get().await.unwrap();
    w.query_drop("INSERT INTO ryw VALUES (1, 10)")
        .await
        .unwrap();
    let gtid = w
        .last_gtid()
        .expect("target=primary tracks GTIDs")
        .to_string();
    drop(w);
    let t0 = Instant::now();
    let mut r = replicas
        .get_caught_up(&gtid, Duration::from_secs(10), &primary)
        .await
        .unwrap();
    let waited = t0.elapsed();
    assert_eq!(r.node().unwrap().role, Role::Replica);
    let v: Option<i64> = r.query_opt("SELECT v FROM ryw WHERE id = 1").await.unwrap();
    assert_eq!(v, Some(10), "the replica read does not see the write");
    drop(r);
    eprintln!("read-your-writes: the replica caught up after {waited:?} (MASTER_DELAY=2)");
    assert!(
        waited >= Duration::from_millis(1000) && waited < Duration::from_secs(8),
        "waited {waited:?} for a 2 s delay"
    );
    // Without the wait, the replica does not have it yet.
    let mut w = primary.get().await.unwrap();
    w.query_drop("INSERT INTO ryw VALUES (2, 20)")
        .await
        .unwrap();
    let gtid = w.last_gtid().unwrap().to_string();
    drop(w);
    let mut r = replicas.get().await.unwrap();
    let v: Option<i64> = r.query_opt("SELECT v FROM ryw WHERE id = 2").await.unwrap();
    assert_eq!(v, None, "the delayed replica had the write at once");
    drop(r);

    // With a 0.5 s bound, the read goes to the primary, and sees the write.
    let t0 = Instant::now();
    let mut r = replicas
        .get_caught_up(&gtid, Duration::from_millis(500), &primary)
        .await
        .unwrap();
    let took = t0.elapsed();
    eprintln!("read-your-writes: fell back to the primary after {took:?} (bound 0.5 s)");
    assert_eq!(r.node().unwrap().role, Role::Primary);
    let v: Option<i64> = r.query_opt("SELECT v FROM ryw WHERE id = 2").await.unwrap();
    assert_eq!(v, Some(20));
    assert!(
        took >= Duration::from_millis(450) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert_eq!(replicas.metrics().fallbacks, 1);

    // A dead port and the replica listed before the primary: target=primary
    // lands on the primary, and the dead port is not tried again while denied.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_port = dead.local_addr().unwrap().port();
    drop(dead); // nothing listens there now: connects are refused
    let url = format!(
        "mysql://app@127.0.0.1:{dead_port},127.0.0.1:{},127.0.0.1:{}/test?target=primary&connect_timeout=2",
        pair.replica().port(),
        pair.primary().port()
    );
    let t0 = Instant::now();
    let c = mysqlclient_async::AsyncConn::connect(&url).await.unwrap();
    let took = t0.elapsed();
    assert_eq!(c.opts().port(), pair.primary().port());
    assert!(took < Duration::from_secs(2), "{took:?}");
    eprintln!("a dead port and a replica before the primary: connected in {took:?}");
    drop(c);
    let t0 = Instant::now();
    let c = mysqlclient_async::AsyncConn::connect(&url).await.unwrap();
    assert_eq!(c.opts().port(), pair.primary().port());
    eprintln!("again, with the dead port denied: {:?}", t0.elapsed());

    // A replica connection refuses writes, even for a user allowed to write.
    let mut r = replicas.get().await.unwrap();
    let e = r
        .query_drop("INSERT INTO ryw VALUES (3, 30)")
        .await
        .unwrap_err();
    assert!(matches!(e.code(), Some(1792) | Some(1290)), "{e}");
}
