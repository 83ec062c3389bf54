//! Smoke test of the Chartio example (examples/chartio.rs): the `async` mode serves
//! 20 concurrent slow requests at once, the `blocking` mode one after another.
//!
//! The example is built by running `cargo build --example chartio` (same profile as
//! this test) and taking the executable path from cargo's JSON messages, so it works
//! whether or not `cargo test` built examples, and with any CARGO_TARGET_DIR. The
//! HTTP client is a few lines of HTTP/1.0 over `TcpStream`.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Barrier, OnceLock};
use std::time::{Duration, Instant};

fn chartio_binary() -> &'static PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let mut cmd = Command::new(env!("CARGO"));
        cmd.args([
            "build",
            "--quiet",
            "--example",
            "chartio",
            "--message-format=json",
        ])
        .arg("--manifest-path")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"));
        if !cfg!(debug_assertions) {
            cmd.arg("--release");
        }
        let out = cmd
            .stderr(Stdio::inherit())
            .output()
            .expect("run cargo build --example chartio");
        assert!(out.status.success(), "cargo build --example chartio failed");
        let stdout = String::from_utf8_lossy(&out.stdout);
        stdout
            .lines()
            .filter(|l| l.contains("\"compiler-artifact\"") && l.contains("\"name\":\"chartio\""))
            .find_map(|l| {
                let rest = &l[l.find("\"executable\":\"")? + "\"executable\":\"".len()..];
                Some(PathBuf::from(&rest[..rest.find('"')?]))
            })
            .expect("cargo named the chartio executable")
    })
}

/// A running chartio server, killed on drop.
struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(mode: &str, concurrency: usize) -> Server {
    let mut child = Command::new(chartio_binary())
        .args(["--mode", mode, "--sleep", "0.5", "--port", "0"])
        .args(["--concurrency", &concurrency.to_string()])
        .args(["--url", &support::url()])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the chartio example");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped"))
        .read_line(&mut line)
        .expect("read the chartio banner");
    // "chartio: listening on http://127.0.0.1:PORT/ mode=..."
    let port = line
        .split("http://127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .and_then(|p| p.parse().ok());
    match port {
        Some(port) => Server { child, port },
        None => {
            let _ = child.kill();
            panic!("chartio {mode} did not start; it printed {line:?}");
        }
    }
}

/// `GET /` over HTTP/1.0; returns the status line and the body.
fn get(port: u16) -> (String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to chartio");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s.write_all(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .expect("send request");
    let mut resp = String::new();
    s.read_to_string(&mut resp).expect("read response");
    let status = resp.lines().next().unwrap_or_default().to_string();
    let body = resp
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// `clients` threads start together and each sends `per_client` requests in turn.
/// Returns the wall time for all of them; asserts every answer is a 200 with the
/// query's value.
fn load(port: u16, clients: usize, per_client: usize) -> Duration {
    let go = Arc::new(Barrier::new(clients + 1));
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let go = go.clone();
            std::thread::spawn(move || {
                go.wait();
                (0..per_client).map(|_| get(port)).collect::<Vec<_>>()
            })
        })
        .collect();
    go.wait();
    let t0 = Instant::now();
    let mut n = 0;
    for t in threads {
        for (status, body) in t.join().expect("client thread") {
            assert!(status.contains(" 200 "), "status {status:?}, body {body}");
            assert_eq!(body, r#"{"rows":1,"value":"0"}"#);
            n += 1;
        }
    }
    assert_eq!(n, clients * per_client);
    t0.elapsed()
}

#[test]
fn async_mode_serves_slow_queries_concurrently() {
    let server = start("async", 20);
    // 40 requests of SELECT SLEEP(0.5) at c = 20: two rounds, ~1 s. A server that
    // ran them one at a time would need 20 s.
    let took = load(server.port, 20, 2);
    assert!(
        took < Duration::from_secs(4),
        "async: 40 requests at c=20 took {took:?}"
    );
}

#[test]
fn blocking_mode_makes_every_client_wait() {
    let server = start("blocking", 4);
    // The handler blocks the only runtime thread: 4 x 0.5 s one after another.
    let took = load(server.port, 4, 1);
    assert!(
        took >= Duration::from_millis(1900),
        "blocking: 4 requests at c=4 took only {took:?}"
    );
}
