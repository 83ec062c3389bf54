//! TLS against the private test server, whose CA and certificates the test support
//! generates with the `openssl` CLI.

mod support;

use support::block_on as current_thread;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use mysqlclient_async::{AsyncConn, Conn, ErrorKind, IoMode, Opts, Row, SslMode};

/// The TLS tests run one at a time: the stall probe measures this crate, not the
/// scheduler of a 2-core machine busy with six other tests.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn opts(server: &support::Server, mode: SslMode) -> Opts {
    Opts::from_url(&server.url())
        .unwrap()
        .to_builder()
        .ssl_mode(mode)
        .ssl_ca(server.tls_ca_path())
        .build()
}

async fn cipher(c: &mut AsyncConn) -> String {
    let (_, v): (String, String) = c
        .query_one("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
        .await
        .unwrap();
    v
}

#[test]
fn required_runs_a_thousand_queries_on_one_thread() {
    let _serial = serial();
    let server = support::private_server();
    current_thread(async {
        for mode in [IoMode::NonBlocking, IoMode::ReadableThenRead] {
            let o = opts(server, SslMode::Required)
                .to_builder()
                .io_mode(mode)
                .build();
            let mut c = AsyncConn::connect(&o).await.unwrap();
            let cipher = cipher(&mut c).await;
            assert!(!cipher.is_empty(), "Required must use TLS");
            let t0 = Instant::now();
            for i in 0..1000u32 {
                let (v, s): (u32, String) = c
                    .query_one(&format!("SELECT {i}, REPEAT('t', {i} % 2000)"))
                    .await
                    .unwrap();
                assert_eq!(v, i);
                assert_eq!(s.len() as u32, i % 2000);
            }
            // A result larger than one TLS record, streamed.
            let mut s = c
                .query_stream::<Row>("SELECT seq, REPEAT('x', 100) FROM seq_1_to_50000")
                .await
                .unwrap();
            let mut n = 0;
            while let Some(r) = s.try_next().await.transpose() {
                r.unwrap();
                n += 1;
            }
            assert_eq!(n, 50_000);
            println!(
                "TLS {cipher} ({mode:?}): 1000 queries in {:?}",
                t0.elapsed()
            );
            c.close().await.unwrap();
        }
    });
}

#[test]
fn verify_ca_accepts_the_right_ca_and_refuses_another() {
    let _serial = serial();
    let server = support::private_server();
    current_thread(async {
        let mut c = AsyncConn::connect(&opts(server, SslMode::VerifyCa))
            .await
            .unwrap();
        assert!(!cipher(&mut c).await.is_empty());
        let wrong = opts(server, SslMode::VerifyCa)
            .to_builder()
            .ssl_ca(server.tls_other_ca_path())
            .build();
        let e = AsyncConn::connect(&wrong).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Connect, "{e}");
        assert!(e.is_fatal());
        println!("verify_ca with a foreign CA: {e}");
        // The blocking connection verifies the same way.
        let e = Conn::connect(&wrong).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Connect, "{e}");
        Conn::connect(opts(server, SslMode::VerifyCa)).unwrap();
    });
}

#[test]
fn verify_identity_checks_the_host_name() {
    let _serial = serial();
    let server = support::private_server();
    current_thread(async {
        // The certificate names localhost and 127.0.0.1: both pass.
        let mut c = AsyncConn::connect(&opts(server, SslMode::VerifyIdentity))
            .await
            .unwrap();
        assert!(!cipher(&mut c).await.is_empty());
        let by_name = opts(server, SslMode::VerifyIdentity)
            .to_builder()
            .host("localhost")
            .build();
        AsyncConn::connect(&by_name).await.unwrap();
    });
    // A server whose certificate (signed by the same CA) names another host.
    let tls = server.tls_dir();
    let (cert, key) = wrong_name_cert(&tls);
    let other = support::start_private_with(&[
        &format!("--ssl-cert={}", cert.display()),
        &format!("--ssl-key={}", key.display()),
    ]);
    current_thread(async {
        let verify_ca = opts(&other, SslMode::VerifyCa)
            .to_builder()
            .ssl_ca(server.tls_ca_path())
            .build();
        AsyncConn::connect(&verify_ca)
            .await
            .expect("the CA signed it, so verify_ca accepts it");
        let verify_id = verify_ca
            .to_builder()
            .ssl_mode(SslMode::VerifyIdentity)
            .build();
        let e = AsyncConn::connect(&verify_id).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Connect, "{e}");
        println!("verify_identity against the wrong host name: {e}");
    });
}

/// A server certificate for `wrong.example`, signed by the test CA in `tls`.
fn wrong_name_cert(tls: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = tls.join("wrong-name");
    std::fs::create_dir_all(&dir).unwrap();
    let cnf = dir.join("ext.cnf");
    std::fs::write(
        &cnf,
        "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = wrong.example\n\
         [ext]\nbasicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\n\
         extendedKeyUsage = serverAuth\nsubjectAltName = DNS:wrong.example\n",
    )
    .unwrap();
    let (key, csr, cert) = (
        dir.join("key.pem"),
        dir.join("req.csr"),
        dir.join("cert.pem"),
    );
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .env("OPENSSL_CONF", &cnf)
            .output()
            .expect("openssl (run scripts/setup.sh)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let s = |p: &Path| p.to_str().unwrap().to_string();
    run(&[
        "req",
        "-config",
        &s(&cnf),
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        &s(&key),
        "-out",
        &s(&csr),
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        &s(&csr),
        "-CA",
        &s(&tls.join("ca.pem")),
        "-CAkey",
        &s(&tls.join("ca-key.pem")),
        "-set_serial",
        "77",
        "-days",
        "3650",
        "-extfile",
        &s(&cnf),
        "-extensions",
        "ext",
        "-out",
        &s(&cert),
    ]);
    (cert, key)
}

#[test]
fn disabled_and_preferred() {
    let _serial = serial();
    let server = support::private_server();
    current_thread(async {
        let mut c = AsyncConn::connect(&opts(server, SslMode::Disabled))
            .await
            .unwrap();
        assert_eq!(cipher(&mut c).await, "", "Disabled must not use TLS");
        for i in 0..100 {
            assert_eq!(c.query_one::<i32>(&format!("SELECT {i}")).await.unwrap(), i);
        }
        assert_eq!(c.tls_cipher(), None);
        // The default is Disabled.
        let c = AsyncConn::connect(server.url().as_str()).await.unwrap();
        assert_eq!(c.tls_cipher(), None, "TLS is opt-in");
        // Preferred uses TLS when the server offers it.
        let mut c = AsyncConn::connect(&opts(server, SslMode::Preferred))
            .await
            .unwrap();
        assert!(
            !cipher(&mut c).await.is_empty(),
            "Preferred uses TLS when offered"
        );
        assert!(c.tls_cipher().is_some());
    });
}

#[test]
fn tls_options_in_the_url() {
    let _serial = serial();
    let server = support::private_server();
    let url = format!(
        "{}?ssl_mode=verify_ca&ssl_ca={}",
        server.url(),
        server.tls_ca_path().display()
    );
    let mut c = Conn::connect(url.as_str()).unwrap();
    let (_, v): (String, String) = c
        .query_one("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
        .unwrap();
    assert!(!v.is_empty());
    // Client certificate and key from the URL, too.
    let url = format!(
        "{url}&ssl_cert={}&ssl_key={}",
        server.tls_client_cert_path().display(),
        server.tls_client_key_path().display()
    );
    let mut c = Conn::connect(url.as_str()).unwrap();
    let (_, v): (String, String) = c
        .query_one("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
        .unwrap();
    assert!(!v.is_empty());
}

#[test]
fn required_refuses_a_server_without_tls() {
    let _serial = serial();
    let plain = support::start_private_with(&["--skip-ssl"]);
    current_thread(async {
        let base = Opts::from_url(&plain.url()).unwrap();
        for mode in [
            SslMode::Required,
            SslMode::VerifyCa,
            SslMode::VerifyIdentity,
        ] {
            let o = base.to_builder().ssl_mode(mode).build();
            // Refused by the library (2026) or, where it would let a plain-text
            // connection through, by our own check after the handshake.
            let e = AsyncConn::connect(&o).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Connect, "{e}");
            let text = e.to_string();
            assert!(
                text.contains("requires TLS") || e.code() == Some(2026),
                "{e}"
            );
            let e = Conn::connect(&o).unwrap_err();
            assert!(
                e.to_string().contains("requires TLS") || e.code() == Some(2026),
                "{e}"
            );
        }
        // Preferred falls back to plain text; Disabled never tries.
        for mode in [SslMode::Preferred, SslMode::Disabled] {
            let o = base.to_builder().ssl_mode(mode).build();
            let c = AsyncConn::connect(&o).await.unwrap();
            assert_eq!(c.tls_cipher(), None);
        }
    });
}

/// The stall probe over TLS: a 5 ms heartbeat keeps ticking while 20 TLS
/// connections are made (Connector/C 3.3's handshake blocks, so the connect runs on
/// the blocking pool) and a TLS result is streamed.
#[test]
fn tls_never_blocks_the_loop() {
    let _serial = serial();
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;
    let server = support::private_server();
    let o = opts(server, SslMode::VerifyCa);
    let gap = current_thread(async move {
        let max_gap = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let hb = {
            let (max_gap, stop) = (max_gap.clone(), stop.clone());
            tokio::spawn(async move {
                let mut last = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    let now = Instant::now();
                    max_gap.fetch_max(
                        now.duration_since(last).as_micros() as u64,
                        Ordering::Relaxed,
                    );
                    last = now;
                }
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        let mut conns = Vec::new();
        for _ in 0..20 {
            conns.push(AsyncConn::connect(&o).await.unwrap());
        }
        let mut s = conns[0]
            .query_stream::<Row>("SELECT seq, REPEAT('y', 50) FROM seq_1_to_100000")
            .await
            .unwrap();
        while let Some(r) = s.try_next().await.transpose() {
            r.unwrap();
        }
        drop(s);
        for c in conns {
            c.close().await.unwrap();
        }
        stop.store(true, Ordering::Relaxed);
        hb.await.unwrap();
        Duration::from_micros(max_gap.load(Ordering::Relaxed))
    });
    println!(
        "stall probe over TLS: largest heartbeat gap {:.1} ms",
        gap.as_secs_f64() * 1e3
    );
    assert!(gap < Duration::from_millis(25), "loop stalled for {gap:?}");
}
