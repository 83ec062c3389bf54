//! The backend this build drives, and the promise every non-blocking backend
//! makes: while the server works, the client sleeps (no busy loop).

mod support;

use std::time::{Duration, Instant};

use mysqlclient_async::{AsyncConn, Opts};

/// CPU time (user + system) of the calling thread.
fn thread_cpu() -> Duration {
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, ru.as_mut_ptr()) };
    assert_eq!(rc, 0, "getrusage failed");
    // SAFETY: initialised by the successful call above.
    let ru = unsafe { ru.assume_init() };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// CI runs each configuration with the backend it expects, so that a build
/// that silently picked another one fails here.
#[test]
fn the_expected_backend_is_built() {
    let backend = mysqlclient_async::backend();
    println!("backend: {backend}");
    assert!(["mariadb", "oracle", "portable"].contains(&backend));
    if let Ok(want) = std::env::var("MYSQLCLIENT_ASYNC_EXPECT_BACKEND") {
        assert_eq!(backend, want, "MYSQLCLIENT_ASYNC_EXPECT_BACKEND");
    }
}

/// A `SELECT SLEEP(1)` costs the client next to no CPU: the runtime thread
/// sleeps in the reactor until the answer arrives. A backend that guessed the
/// wrong wait direction (writability while the answer is pending) would wake
/// at once, every time, and burn the whole second.
#[test]
fn no_busy_loop_while_the_server_works() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = support::url();
    rt.block_on(async {
        let mut c = AsyncConn::connect(Opts::from_url(&url).unwrap())
            .await
            .expect("connect");
        let nonblocking = c.is_nonblocking();
        // Warm up (first-use allocations, the reactor's registration).
        c.query_drop("DO 0").await.unwrap();
        let cpu0 = thread_cpu();
        let t0 = Instant::now();
        let v: i64 = c.query_one("SELECT SLEEP(1)").await.unwrap();
        let wall = t0.elapsed();
        let cpu = thread_cpu() - cpu0;
        println!(
            "backend {} (non-blocking: {nonblocking}): SELECT SLEEP(1) took {wall:?} wall, {cpu:?} client CPU",
            mysqlclient_async::backend()
        );
        assert_eq!(v, 0);
        assert!(wall >= Duration::from_millis(990), "{wall:?}");
        // A busy loop costs ~1 s; one wake-up costs microseconds. 100 ms leaves a
        // wide margin for a noisy machine.
        assert!(
            cpu < Duration::from_millis(100),
            "the client used {cpu:?} of CPU while the server slept for 1 s: a busy loop"
        );
    });
}
