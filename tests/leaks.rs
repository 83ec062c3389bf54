//! File-descriptor leak checks. A test binary of their own, with a single test, so
//! that no other test opens or closes descriptors while they count.

mod support;

use mysqlclient_async::{AsyncConn, Conn};

#[test]
fn no_fd_leaks() {
    let url = support::url();

    // 10,000 sequential queries leave the open-fd count unchanged.
    let mut c = Conn::connect(url.as_str()).unwrap();
    c.query_drop("SELECT 1").unwrap();
    let before = support::fd_count();
    for i in 0..10_000u32 {
        let v: u32 = c.query_one(&format!("SELECT {i}")).unwrap();
        assert_eq!(v, i);
    }
    assert_eq!(
        support::fd_count(),
        before,
        "10,000 queries changed the fd count"
    );
    drop(c);

    // Connections dropped without close, some with a result still pending.
    let before = support::fd_count();
    for i in 0..50 {
        let mut c = Conn::connect(url.as_str()).unwrap();
        if i % 2 == 0 {
            c.send_query("SELECT SLEEP(0.01)").unwrap();
        }
        drop(c);
    }
    assert_eq!(
        support::fd_count(),
        before,
        "dropped connections leaked fds"
    );

    // The async connection: the reactor registration uses a duplicate fd, which
    // must be closed with the connection, whether closed, dropped idle, or dropped
    // mid-query.
    support::block_on(async {
        let mut warm = AsyncConn::connect(url.as_str()).await.unwrap();
        warm.query_drop("SELECT 1").await.unwrap();
        let before = support::fd_count();
        for i in 0..60 {
            let mut c = AsyncConn::connect(url.as_str()).await.unwrap();
            match i % 3 {
                0 => c.close().await.unwrap(),
                1 => drop(c),
                _ => {
                    let q = c.query_drop("SELECT SLEEP(1)");
                    let r = tokio::time::timeout(std::time::Duration::from_millis(5), q).await;
                    assert!(r.is_err(), "the query should still be running");
                    drop(c);
                }
            }
        }
        for _ in 0..1000 {
            warm.query_drop("SELECT 1").await.unwrap();
        }
        assert_eq!(support::fd_count(), before, "async connections leaked fds");
    });
}
