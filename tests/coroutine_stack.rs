//! The co-routine stack of MariaDB Connector/C: how deep each operation goes, and
//! whether the default size (`DEFAULT_COROUTINE_STACK_SIZE`) and the smallest size
//! accepted (`MIN_COROUTINE_STACK_SIZE`) leave the documented margin.
//!
//! `make stack-depth` runs this file with `--nocapture` and prints the figures.
//!
//! The technique needs no private struct layout of the library. A connection asks
//! for a stack larger than glibc's largest dynamic mmap threshold, so that malloc
//! serves it with a mapping of its own; the mapping is found in `/proc/self/maps`
//! as the address range that appeared during the connect with that size, and glibc
//! writes the chunk's size (with its "mmapped" bit) in front of the memory it
//! returns, which confirms the find. A fresh mapping is zeroed. After an operation
//! finishes (nothing suspended, so nothing on the stack is alive), the lowest
//! non-zero byte is the deepest point the operation reached; the region is zeroed
//! again before the next one. One connection at a time, on a current-thread
//! runtime.
//!
//! On the `oracle` and `portable` backends there is no co-routine: there the test
//! checks that the option is accepted, checked, and allocates nothing.

mod support;

use std::sync::{Mutex, MutexGuard};

use mysqlclient_async::{
    AsyncConn, ErrorKind, Opts, Row, SslMode, DEFAULT_COROUTINE_STACK_SIZE,
    MIN_COROUTINE_STACK_SIZE,
};

/// The tests of this file one at a time: they read the process's mappings and RSS.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

const PAGE: usize = 4096;

/// The probe stack: above glibc's largest dynamic mmap threshold (32 MiB on 64-bit;
/// a freed mmapped chunk raises the threshold up to that), so malloc always serves
/// it with its own mapping, whatever the process freed before.
const PROBE: usize = (32 << 20) + 12 * 1024;

/// The safety margins the README documents: the default stack holds at least
/// `MARGIN` times the deepest measured use, the smallest accepted one at least
/// `FLOOR_MARGIN` times.
const MARGIN: usize = 4;
const FLOOR_MARGIN: usize = 2;

/// The bytes above the stack top the scan leaves alone (the co-routine's entry
/// frame is rebuilt by every `_start` anyway).
const TOP_KEEP: usize = 64;

/// The address ranges mapped in this process.
fn mappings() -> Vec<(usize, usize)> {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("read /proc/self/maps");
    maps.lines()
        .map(|l| {
            let range = l.split_whitespace().next().expect("maps line");
            let (a, b) = range.split_once('-').expect("maps range");
            (
                usize::from_str_radix(a, 16).expect("maps start"),
                usize::from_str_radix(b, 16).expect("maps end"),
            )
        })
        .collect()
}

/// The ranges covered in `after` and not in `before`.
fn added(before: &[(usize, usize)], after: &[(usize, usize)]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for &(a, b) in after {
        let mut pieces = vec![(a, b)];
        for &(c, d) in before {
            pieces = pieces
                .into_iter()
                .flat_map(|(x, y)| {
                    if d <= x || c >= y {
                        vec![(x, y)]
                    } else {
                        [(x, c.max(x)), (d.min(y), y)]
                            .into_iter()
                            .filter(|(p, q)| p < q)
                            .collect()
                    }
                })
                .collect();
        }
        out.extend(pieces);
    }
    out
}

/// The probe stack of one connection.
struct Probe {
    /// The stack's lowest address (what malloc returned).
    bot: usize,
    /// One past its highest address (`bot + PROBE`).
    top: usize,
}

impl Probe {
    /// The probe stack among the ranges mapped since `before`, if one appeared.
    fn find(before: &[(usize, usize)]) -> Option<Probe> {
        let fresh = added(before, &mappings());
        let mut found = fresh
            .iter()
            .filter(|(a, b)| b - a >= PROBE && b - a <= PROBE + 2 * PAGE)
            .map(|&(a, b)| {
                // glibc's mmapped chunk: 8 bytes of alignment correction (zero),
                // then the chunk size with IS_MMAPPED (2), then the memory.
                // SAFETY: `a` starts a mapping of this process that appeared with
                // the connection just made and is alive while it is; aligned.
                let head = unsafe { std::ptr::read_volatile((a + 8) as *const usize) };
                assert_eq!(
                    head,
                    (b - a) | 2,
                    "the new {}-byte mapping is not one malloc'd chunk of that size",
                    b - a
                );
                Probe {
                    bot: a + 16,
                    top: a + 16 + PROBE,
                }
            });
        let probe = found.next();
        assert!(
            found.next().is_none(),
            "two probe-sized mappings: {fresh:x?}"
        );
        probe
    }

    /// The deepest point reached since the last call, in bytes below the stack top;
    /// the used part is zeroed again. Only with no operation suspended.
    fn take(&self) -> usize {
        let words = (self.top - self.bot) / 8;
        // SAFETY: the stack is the connection's malloc'd memory, alive while the
        // connection is; no operation is suspended, so the library neither uses it
        // nor will read what is on it; this thread is the only one running it.
        let stack = unsafe { std::slice::from_raw_parts(self.bot as *const u64, words) };
        let Some(first) = stack.iter().position(|&w| w != 0) else {
            return 0;
        };
        let low = self.bot + first * 8;
        let keep = self.top - TOP_KEEP;
        if low < keep {
            // SAFETY: as above; within the stack, below the kept top bytes.
            unsafe { std::ptr::write_bytes(low as *mut u8, 0, keep - low) };
        }
        self.top - low
    }
}

/// One connection with the probe stack, and the depths of what ran on it.
struct Measured {
    conn: AsyncConn,
    probe: Probe,
}

impl Measured {
    /// Connect with the probe stack; the connect's depth goes in `table`.
    async fn connect(opts: Opts, what: &str, table: &mut Vec<(String, usize)>) -> Measured {
        let opts = opts.to_builder().coroutine_stack_size(PROBE).build();
        let before = mappings();
        let conn = AsyncConn::connect(opts).await.expect("connect");
        let probe = Probe::find(&before).expect(
            "no mapping of the probe stack's size appeared: the library did not allocate \
             the stack size it was given",
        );
        let m = Measured { conn, probe };
        m.record(what, table);
        m
    }

    /// The server ends the session (`KILL CONNECTION` from another connection);
    /// the next query finds out, a client-side error.
    async fn closed_by_the_server(&mut self) {
        let id = self.conn.thread_id();
        let mut admin = AsyncConn::connect(private_opts()).await.unwrap();
        admin
            .query_drop(&format!("KILL CONNECTION {id}"))
            .await
            .unwrap();
        drop(admin);
        let e = self.conn.query_drop("DO 1").await.unwrap_err();
        assert!(e.is_fatal(), "{e}");
    }

    fn record(&self, what: &str, table: &mut Vec<(String, usize)>) {
        table.push((what.to_string(), self.probe.take()));
    }
}

fn private_opts() -> Opts {
    Opts::from_url(&support::private_server().url()).unwrap()
}

/// Every operation the crate runs on the co-routine, each measured alone.
async fn measure() -> Vec<(String, usize)> {
    let mut t = Vec::new();
    let server = support::private_server();

    // Users for the other authentication paths (the client plugins are loaded
    // on the co-routine).
    let mut admin = AsyncConn::connect(private_opts()).await.unwrap();
    admin
        .query_drop(
            "CREATE OR REPLACE USER stack_native@'%' IDENTIFIED BY 'pw-native';
             GRANT ALL ON test.* TO stack_native@'%'",
        )
        .await
        .unwrap();
    // 1968: the plugin is already installed.
    let installed = match admin.query_drop("INSTALL SONAME 'auth_ed25519'").await {
        Ok(_) => true,
        Err(e) => e.code() == Some(1968),
    };
    let ed25519 = installed
        && admin
            .query_drop(
                "CREATE OR REPLACE USER stack_ed@'%' IDENTIFIED VIA ed25519 \
                 USING PASSWORD('pw-ed'); GRANT ALL ON test.* TO stack_ed@'%'",
            )
            .await
            .is_ok();
    admin
        .query_drop(
            "CREATE OR REPLACE PROCEDURE test.stack_two() BEGIN SELECT 1; SELECT 2, 'b'; END",
        )
        .await
        .unwrap();
    drop(admin);

    for (user, pw, what) in [
        (
            "stack_native",
            "pw-native",
            "connect, mysql_native_password",
        ),
        ("stack_ed", "pw-ed", "connect, client_ed25519 (plugin load)"),
    ] {
        if user == "stack_ed" && !ed25519 {
            println!("(auth_ed25519 is not available on this server: not measured)");
            continue;
        }
        let o = private_opts().to_builder().user(user).password(pw).build();
        let mut m = Measured::connect(o, what, &mut t).await;
        m.conn.query_drop("DO 1").await.unwrap();
        m.record("query (after password auth)", &mut t);
    }
    let sock = Opts::from_url(&server.socket_url()).unwrap();
    drop(Measured::connect(sock, "connect, unix socket", &mut t).await);

    // Plain TCP: every operation.
    let opts = private_opts().to_builder().stmt_cache_size(1).build();
    let mut m = Measured::connect(opts, "connect, TCP, no password", &mut t).await;
    m.conn.query_drop("DO 1").await.unwrap();
    m.record("query_drop (send + read result)", &mut t);
    let _: Vec<(i64, String)> = m.conn.query("SELECT 1, 'a'").await.unwrap();
    m.record("query, one row", &mut t);
    let e = m.conn.query_drop("SELEC 1").await.unwrap_err();
    assert_eq!(e.code(), Some(1064));
    m.record("query, server error", &mut t);
    {
        let mut s = m
            .conn
            .query_stream::<(i64, String)>("SELECT seq, REPEAT('x', 100) FROM seq_1_to_10000")
            .await
            .unwrap();
        let mut n = 0;
        while s.try_next().await.unwrap().is_some() {
            n += 1;
        }
        assert_eq!(n, 10_000);
    }
    m.record("query_stream, 10,000 rows", &mut t);
    let big: Vec<u8> = m
        .conn
        .query_one("SELECT REPEAT('x', 16 * 1024 * 1024)")
        .await
        .unwrap();
    assert_eq!(big.len(), 16 << 20);
    m.record("query, one 16 MiB row", &mut t);
    let sets = m
        .conn
        .query_multi("SELECT 1; SELECT 2, 'b'; DO 3")
        .await
        .unwrap();
    assert_eq!(sets.len(), 3);
    m.record("query_multi (next_result)", &mut t);
    m.conn.ping().await.unwrap();
    m.record("ping", &mut t);
    m.conn.select_db("mysql").await.unwrap();
    m.conn.select_db("test").await.unwrap();
    m.record("select_db", &mut t);
    m.conn.reset_connection().await.unwrap();
    m.record("reset_connection (the pool's reset)", &mut t);
    let stmt = m
        .conn
        .prepare("SELECT ? + 1, REPEAT('y', ?)")
        .await
        .unwrap();
    m.record("prepare", &mut t);
    let rows: Vec<(i64, String)> = m.conn.exec(&stmt, (41, 10)).await.unwrap();
    assert_eq!(rows, [(42, "y".repeat(10))]);
    m.record("exec, one row (execute + fetch)", &mut t);
    {
        let mut s = m
            .conn
            .exec_stream::<(i64, String), _>(
                "SELECT seq, REPEAT('z', ?) FROM seq_1_to_10000",
                (100,),
            )
            .await
            .unwrap();
        let mut n = 0;
        while s.try_next().await.unwrap().is_some() {
            n += 1;
        }
        assert_eq!(n, 10_000);
    }
    m.record(
        "exec_stream, 10,000 rows (prepare + execute + fetch)",
        &mut t,
    );
    let big: Vec<u8> = m
        .conn
        .exec_one("SELECT REPEAT('x', ?)", (16 << 20,))
        .await
        .unwrap();
    assert_eq!(big.len(), 16 << 20);
    m.record("exec, one 16 MiB row", &mut t);
    let n: i64 = m
        .conn
        .exec_one("SELECT LENGTH(?)", (vec![7u8; 3 << 20],))
        .await
        .unwrap();
    assert_eq!(n, 3 << 20);
    m.record("exec, 3 MiB parameter (send_long_data)", &mut t);
    m.conn
        .query_drop("CREATE TEMPORARY TABLE stack_t (a INT, b VARCHAR(20))")
        .await
        .unwrap();
    m.probe.take();
    let r = m
        .conn
        .exec_batch(
            "INSERT INTO stack_t VALUES (?, ?)",
            (0..1000).map(|i| (i, format!("row {i}"))),
        )
        .await
        .unwrap();
    assert_eq!(r.affected_rows, 1000);
    m.record("exec_batch, 1,000 rows (bulk execute)", &mut t);
    m.conn.exec_drop("CALL stack_two()", ()).await.unwrap();
    m.record("exec of CALL (stmt next_result)", &mut t);
    let e = m
        .conn
        .exec_drop("SELECT * FROM no_such_table WHERE a = ?", (1,))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(1146));
    m.record("exec, server error", &mut t);
    // The cache holds one statement: the statements above were evicted, and the
    // next command closes them on the server first.
    m.conn.ping().await.unwrap();
    m.record("statement close (+ ping)", &mut t);
    drop(stmt);
    // A client-side error: the server ends the session, the next query finds out.
    m.closed_by_the_server().await;
    m.record(
        "query on a connection the server closed (client error)",
        &mut t,
    );
    drop(m);

    // TLS: the connect (on Connector/C 3.3 a blocking connect on tokio's blocking
    // pool) and the traffic after it, which runs on the co-routine.
    let tls = private_opts()
        .to_builder()
        .ssl_mode(SslMode::VerifyCa)
        .ssl_ca(server.tls_ca_path())
        .build();
    let mut m = Measured::connect(tls, "TLS connect (verify_ca)", &mut t).await;
    assert!(m.conn.tls_cipher().is_some());
    m.conn.query_drop("DO 1").await.unwrap();
    m.record("TLS query_drop", &mut t);
    {
        let mut s = m
            .conn
            .query_stream::<(i64, String)>("SELECT seq, REPEAT('x', 100) FROM seq_1_to_10000")
            .await
            .unwrap();
        while s.try_next().await.unwrap().is_some() {}
    }
    m.record("TLS query_stream, 10,000 rows", &mut t);
    let big: Vec<u8> = m
        .conn
        .query_one("SELECT REPEAT('x', 16 * 1024 * 1024)")
        .await
        .unwrap();
    assert_eq!(big.len(), 16 << 20);
    m.record("TLS query, one 16 MiB row", &mut t);
    let rows: Vec<Row> = m
        .conn
        .exec("SELECT seq FROM seq_1_to_100 WHERE seq > ?", (50,))
        .await
        .unwrap();
    assert_eq!(rows.len(), 50);
    m.record("TLS exec (prepare + execute + fetch)", &mut t);
    let n: i64 = m
        .conn
        .exec_one("SELECT LENGTH(?)", (vec![7u8; 3 << 20],))
        .await
        .unwrap();
    assert_eq!(n, 3 << 20);
    m.record("TLS exec, 3 MiB parameter (send_long_data)", &mut t);
    m.conn.ping().await.unwrap();
    m.record("TLS ping", &mut t);
    m.conn.reset_connection().await.unwrap();
    m.record("TLS reset_connection", &mut t);
    m.closed_by_the_server().await;
    m.record("TLS query on a connection the server closed", &mut t);
    t
}

#[test]
fn stack_depth_of_every_operation() {
    let _g = serial();
    if mysqlclient_async::backend() != "mariadb" {
        return option_is_checked_and_ignored();
    }
    let table = support::block_on(measure());
    let deepest = table.iter().map(|(_, d)| *d).max().unwrap();
    println!("co-routine stack, bytes used below the top ({PROBE}-byte probe stack):");
    for (what, d) in &table {
        println!("  {d:>6}  {what}");
    }
    println!(
        "deepest {deepest}: x{MARGIN} = {} (default {DEFAULT_COROUTINE_STACK_SIZE}), \
         x{FLOOR_MARGIN} = {} (smallest accepted {MIN_COROUTINE_STACK_SIZE})",
        deepest * MARGIN,
        deepest * FLOOR_MARGIN
    );
    // Everything after a plain connect runs on the co-routine.
    for (what, d) in &table {
        if !what.starts_with("TLS connect") {
            assert!(*d > 0, "{what}: nothing ran on the co-routine stack?");
        }
    }
    assert!(
        deepest * MARGIN <= DEFAULT_COROUTINE_STACK_SIZE,
        "the default stack ({DEFAULT_COROUTINE_STACK_SIZE}) is not {MARGIN}x the deepest use \
         ({deepest})"
    );
    assert!(
        deepest * FLOOR_MARGIN <= MIN_COROUTINE_STACK_SIZE,
        "the smallest accepted stack ({MIN_COROUTINE_STACK_SIZE}) is not {FLOOR_MARGIN}x the \
         deepest use ({deepest})"
    );

    // The floor, and every connection at the default size, allocate no probe:
    // the size asked for is the size allocated.
    support::block_on(async {
        for size in [MIN_COROUTINE_STACK_SIZE, DEFAULT_COROUTINE_STACK_SIZE] {
            let before = mappings();
            let o = private_opts()
                .to_builder()
                .coroutine_stack_size(size)
                .build();
            let mut c = AsyncConn::connect(o).await.unwrap();
            let v: i64 = c.query_one("SELECT 7").await.unwrap();
            assert_eq!(v, 7);
            assert!(Probe::find(&before).is_none());
            c.close().await.unwrap();
        }
    });
    too_small_is_a_config_error();
}

/// The `oracle` and `portable` backends: the option is accepted, checked like
/// everywhere, and allocates nothing.
fn option_is_checked_and_ignored() {
    support::block_on(async {
        let before = mappings();
        let o = private_opts()
            .to_builder()
            .coroutine_stack_size(PROBE)
            .build();
        let mut c = AsyncConn::connect(o).await.unwrap();
        let v: i64 = c.query_one("SELECT 7").await.unwrap();
        assert_eq!(v, 7);
        assert!(
            Probe::find(&before).is_none(),
            "backend {} allocated a co-routine stack",
            mysqlclient_async::backend()
        );
    });
    too_small_is_a_config_error();
}

fn too_small_is_a_config_error() {
    let url = support::private_server().url();
    let small = MIN_COROUTINE_STACK_SIZE - 1;
    let e = Opts::from_url(&format!("{url}?coroutine_stack_size={small}")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.to_string().contains("coroutine_stack_size"), "{e}");
    let ok = Opts::from_url(&format!(
        "{url}?coroutine_stack_size={MIN_COROUTINE_STACK_SIZE}"
    ))
    .unwrap();
    assert_eq!(ok.coroutine_stack_size(), MIN_COROUTINE_STACK_SIZE);
    support::block_on(async {
        for size in [0, small] {
            let o = private_opts()
                .to_builder()
                .coroutine_stack_size(size)
                .build();
            let Err(e) = AsyncConn::connect(o).await else {
                panic!("a {size}-byte co-routine stack was accepted");
            };
            assert_eq!(e.kind(), ErrorKind::Config, "{e}");
        }
    });
}
