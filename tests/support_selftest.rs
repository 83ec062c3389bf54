//! Checks the test-support module itself: the private mariadbd starts, answers over
//! TCP and the unix socket, survives kill -9 + start on the same port, extra servers
//! take extra options and clean up after themselves, and TLS is set up.

mod support;

use std::fs;
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// Tests that use (and in one case kill) the shared server, and those that sweep,
/// run one at a time.
static SHARED: Mutex<()> = Mutex::new(());

fn shared_lock() -> MutexGuard<'static, ()> {
    SHARED.lock().unwrap_or_else(PoisonError::into_inner)
}

#[test]
fn shared_server_answers_over_tcp_and_socket() {
    let _g = shared_lock();
    let s = support::private_server();
    assert_eq!(support::mariadb_cli(s, "SELECT 1"), "1");
    assert_eq!(s.cli_tcp("SELECT 1"), "1");
    assert_eq!(s.cli_tcp("SELECT @@port"), s.port().to_string());
    assert_eq!(
        s.cli_tcp("SELECT CURRENT_USER()"),
        "root@127.0.0.1",
        "TCP logins must use the 127.0.0.1 account"
    );
    assert_eq!(
        s.cli("SELECT @@character_set_server, @@collation_server, @@max_connections"),
        "utf8mb4\tutf8mb4_general_ci\t2500"
    );

    // The URL helpers point at the same server.
    assert_eq!(s.url(), format!("mysql://root@127.0.0.1:{}/test", s.port()));
    assert_eq!(
        support::mariadb_cli_url(&s.url(), "SELECT DATABASE(), @@socket"),
        format!("test\t{}", s.socket_path().display())
    );
    assert_eq!(
        support::mariadb_cli_url(&s.socket_url(), "SELECT DATABASE(), @@port"),
        format!("test\t{}", s.port())
    );
    if support::external_url().is_none() {
        assert_eq!(support::url(), s.url());
        assert_eq!(support::socket_url(), s.socket_url());
    }

    assert!(s.socket_path().exists());
    assert!(s.data_dir().join("mysql").is_dir());
    assert!(s.data_dir().join("test").is_dir(), "database `test` exists");
    let dir_name = s.dir().file_name().unwrap().to_str().unwrap().to_owned();
    assert!(
        dir_name.starts_with(&format!("mysqlclient-async-test-{}-", std::process::id())),
        "{dir_name}"
    );
}

#[test]
fn kill9_then_start_keeps_port_and_data() {
    let _g = shared_lock();
    let s = support::private_server();
    let port = s.port();
    let old_pid = s.pid();
    s.cli(
        "CREATE TABLE IF NOT EXISTS test.survivor (id INT PRIMARY KEY) ENGINE=InnoDB; \
           REPLACE INTO test.survivor VALUES (42)",
    );

    s.kill9();
    assert!(!s.is_running());
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "nothing listens after kill9"
    );
    assert!(!s.wait_ready(Duration::from_millis(100)));
    s.kill9(); // no-op when already dead

    s.start();
    assert!(s.is_running());
    assert_eq!(s.port(), port);
    assert_ne!(s.pid(), old_pid);
    assert_eq!(s.cli_tcp("SELECT @@port"), port.to_string());
    assert_eq!(s.cli("SELECT id FROM test.survivor"), "42");

    // Clean stop / start, and restart.
    s.stop();
    assert!(!s.is_running());
    s.start();
    s.start(); // no-op when already running
    s.restart();
    assert!(s.wait_ready(Duration::from_secs(5)));
    assert_eq!(s.cli("SELECT id FROM test.survivor"), "42");

    // SIGSTOP / SIGCONT.
    s.sigstop();
    assert!(s.is_running());
    s.sigcont();
    assert!(s.wait_ready(Duration::from_secs(10)));
    s.cli("DROP TABLE test.survivor");
}

#[test]
fn extra_server_takes_options_and_cleans_up() {
    let s = support::start_private_with(&["--wait-timeout=2", "--max-connections=20"]);
    assert_eq!(
        s.cli("SELECT @@global.wait_timeout, @@wait_timeout"),
        "2\t2"
    );
    assert_eq!(s.cli_tcp("SELECT @@max_connections"), "20");
    if support::external_url().is_none() {
        assert_ne!(s.port(), support::private_server().port());
    }
    let dir = s.dir().to_path_buf();
    let pid = s.pid();
    assert!(dir.is_dir());
    drop(s);
    assert!(!dir.exists(), "{} survived the drop", dir.display());
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "mariadbd {pid} survived the drop"
    );
}

#[test]
fn tls_files_exist_and_server_speaks_tls() {
    let _g = shared_lock();
    let s = support::private_server();
    let tls = s.tls_dir();
    for f in [
        "ca.pem",
        "server-cert.pem",
        "server-key.pem",
        "other-ca.pem",
        "client-cert.pem",
        "client-key.pem",
    ] {
        assert!(tls.join(f).is_file(), "missing {f}");
    }
    assert_eq!(s.tls_ca_path(), tls.join("ca.pem"));

    let port = format!("--port={}", s.port());
    let tcp_tls = |ca: &Path| {
        let ca = format!("--ssl-ca={}", ca.display());
        support::mariadb_cli_args(
            &[
                "--protocol=tcp",
                "--host=127.0.0.1",
                &port,
                "-uroot",
                "--ssl",
                &ca,
                "--ssl-verify-server-cert",
            ],
            "SHOW STATUS LIKE 'Ssl_cipher'",
        )
    };
    let out = tcp_tls(&s.tls_ca_path()).expect("TLS with the right CA");
    let cipher = out.split('\t').nth(1).unwrap_or_default();
    assert!(!cipher.trim().is_empty(), "no cipher in {out:?}");

    let err = tcp_tls(&s.tls_other_ca_path()).expect_err("the other CA must not verify");
    assert!(err.contains("TLS/SSL error"), "{err}");

    // The same through the URL helper.
    let url = format!(
        "{}?ssl_mode=verify_identity&ssl_ca={}",
        s.url(),
        s.tls_ca_path().display()
    );
    let out = support::mariadb_cli_url(&url, "SHOW STATUS LIKE 'Ssl_version'");
    assert!(out.starts_with("Ssl_version\tTLSv1."), "{out}");

    // The client certificate chains to the CA and is accepted by REQUIRE X509.
    let verify = Command::new("openssl")
        .args([
            "verify",
            "-CAfile",
            "ca.pem",
            "client-cert.pem",
            "server-cert.pem",
        ])
        .current_dir(&tls)
        .output()
        .expect("run openssl verify");
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
    s.cli(
        "CREATE USER IF NOT EXISTS 'x509user'@'127.0.0.1' REQUIRE X509; \
         GRANT USAGE ON *.* TO 'x509user'@'127.0.0.1'",
    );
    let cert = format!("--ssl-cert={}", s.tls_client_cert_path().display());
    let key = format!("--ssl-key={}", s.tls_client_key_path().display());
    let ca = format!("--ssl-ca={}", s.tls_ca_path().display());
    let who = support::mariadb_cli_args(
        &[
            "--protocol=tcp",
            "--host=127.0.0.1",
            &port,
            "-ux509user",
            "--ssl",
            &ca,
            &cert,
            &key,
        ],
        "SELECT CURRENT_USER()",
    );
    s.cli("DROP USER 'x509user'@'127.0.0.1'");
    assert_eq!(who.expect("REQUIRE X509 login"), "x509user@127.0.0.1");
}

#[test]
fn stale_dirs_of_dead_processes_are_swept() {
    // One sweep at a time (it sweeps templates too, see the test below).
    let _g = shared_lock();
    // A pid that just exited (and was reaped) is dead.
    let mut child = Command::new("true").spawn().expect("spawn true");
    let dead = child.id();
    child.wait().unwrap();
    let tmp = std::env::temp_dir();
    let stale = tmp.join(format!("mysqlclient-async-test-{dead}-7"));
    let mine = tmp.join(format!(
        "mysqlclient-async-test-{}-999999",
        std::process::id()
    ));
    let other = tmp.join(format!("mysqlclient-async-test-{dead}-x"));
    for d in [&stale, &mine, &other] {
        fs::create_dir_all(d.join("data")).unwrap();
    }
    support::sweep_stale_dirs();
    let (stale_gone, mine_kept, other_kept) = (!stale.exists(), mine.exists(), other.exists());
    let _ = fs::remove_dir_all(&mine);
    let _ = fs::remove_dir_all(&other);
    let _ = fs::remove_dir_all(&stale);
    assert!(stale_gone, "stale dir of dead pid {dead} was kept");
    assert!(mine_kept, "our own dir was removed");
    assert!(other_kept, "a dir not matching the pattern was removed");
}

#[test]
fn fd_count_sees_new_descriptors() {
    let before = support::fd_count();
    assert!(before >= 3, "stdin/stdout/stderr at least, got {before}");
    // Other tests run in parallel, so only check that 50 new descriptors show up.
    let files: Vec<fs::File> = (0..50)
        .map(|_| fs::File::open("/proc/self/status").unwrap())
        .collect();
    let during = support::fd_count();
    drop(files);
    assert!(
        during >= before + 40,
        "{before} -> {during} with 50 more open"
    );
}

#[test]
fn data_directory_is_a_copy_of_the_template() {
    let _g = shared_lock();
    let s = support::private_server();
    if !support::template::enabled() {
        eprintln!("{} is set: no template", support::template::NO_TEMPLATE_ENV);
        assert!(s.data_dir().join("mysql").is_dir());
        return;
    }
    let template = support::template::current_dir().expect("a template key");
    assert!(
        template.join("data").join("mysql").is_dir(),
        "no template at {}",
        template.display()
    );
    assert!(
        support::template::in_use(&template),
        "this process holds the template it copied"
    );
    // What makes a server one of a kind is not in the template, nor copied.
    for name in ["grastate.dat", "gvwstate.dat", "galera.cache", "ibtmp1"] {
        assert!(
            !template.join("data").join(name).exists(),
            "{name} in the template"
        );
    }
    assert!(support::template::is_per_server_file("grastate.dat"));
    assert!(support::template::is_per_server_file("mariadb-bin.000001"));
    assert!(support::template::is_per_server_file("relay-bin.index"));
    assert!(!support::template::is_per_server_file("ibdata1"));
    // A copy, not the template itself: the server's writes stay its own.
    s.cli("CREATE TABLE IF NOT EXISTS test.mine (id INT) ENGINE=InnoDB");
    assert!(s.data_dir().join("test").join("mine.frm").is_file());
    assert!(!template.join("data").join("test").join("mine.frm").exists());
    s.cli("DROP TABLE test.mine");
    assert_eq!(
        s.cli("SELECT @@gtid_binlog_state, @@gtid_slave_pos, @@server_id"),
        "\t\t1"
    );
}

#[test]
fn sweep_keeps_templates_in_use_and_bounds_the_rest() {
    use std::time::SystemTime;
    use support::template::{KEEP_OTHERS, MAX_IDLE, PREFIX};

    let _g = shared_lock();
    // The current template exists (unless turned off) and this process holds it.
    let _ = support::private_server();
    let current = support::template::current_dir().expect("a template key");
    let current_before = current.join("template.key").is_file();
    assert!(current_before || !support::template::enabled());
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    let tmp = std::env::temp_dir();
    let me = std::process::id();
    let fake = |tag: &str, age: Duration| {
        let dir = tmp.join(format!("{PREFIX}{euid}-selftest{me}{tag}"));
        fs::create_dir_all(dir.join("data").join("mysql")).unwrap();
        fs::write(dir.join("template.key"), "fake").unwrap();
        let lock = fs::File::create(dir.join("lock")).unwrap();
        lock.set_modified(SystemTime::now() - age).unwrap();
        dir
    };
    let hour = Duration::from_secs(3600);
    let old = fake("old", MAX_IDLE + hour);
    let held = fake("held", MAX_IDLE + hour);
    let recent: Vec<_> = (1..=KEEP_OTHERS as u32 + 1)
        .map(|i| fake(&format!("recent{i}"), hour * i))
        .collect();
    let unsealed = tmp.join(format!("{PREFIX}{euid}-selftest{me}unsealed"));
    fs::create_dir_all(&unsealed).unwrap();
    // Build directories: of a dead process, and of this (live) one.
    let mut child = Command::new("true").spawn().expect("spawn true");
    let dead = child.id();
    child.wait().unwrap();
    let dead_build = tmp.join(format!("{PREFIX}{euid}-selftest{me}x.build-{dead}-0"));
    let live_build = tmp.join(format!("{PREFIX}{euid}-selftest{me}x.build-{me}-0"));
    for d in [&dead_build, &live_build] {
        fs::create_dir_all(d.join("data")).unwrap();
    }
    // Another user of `held` (a lock of its own, as another process would have).
    let holder = support::template::hold(&held).expect("shared lock");

    let report = support::template::sweep();
    let exists: Vec<(String, bool)> = [&old, &held, &unsealed, &dead_build, &live_build]
        .into_iter()
        .chain(&recent)
        .map(|d| {
            (
                d.file_name().unwrap().to_string_lossy().into_owned(),
                d.exists(),
            )
        })
        .collect();
    let current_kept = current.join("template.key").is_file() || !current_before;
    // Unlocked templates of other keys left (ours and any other run's).
    let unlocked_left = fs::read_dir(&tmp)
        .unwrap()
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with(&format!("{PREFIX}{euid}-"))
                && !name.contains('.')
                && e.path() != current
                && e.path().join("lock").exists()
                && !support::template::in_use(&e.path())
        })
        .count();
    drop(holder);
    for d in [&old, &held, &unsealed, &dead_build, &live_build]
        .into_iter()
        .chain(&recent)
    {
        let _ = fs::remove_dir_all(d);
    }

    eprintln!("sweep: {report:?}; after it: {exists:?}");
    assert!(current_kept, "the current template was removed");
    let after = |tag: &str| {
        exists
            .iter()
            .find(|(n, _)| n.ends_with(tag))
            .map(|(_, e)| *e)
            .unwrap()
    };
    assert!(!after("old"), "an idle, unused template was kept");
    assert!(after("held"), "a template in use was removed");
    assert!(report.in_use.contains(&held));
    assert!(!after("unsealed"), "an unsealed template was kept");
    assert!(!after(&format!("build-{dead}-0")), "a dead build was kept");
    assert!(after(&format!("build-{me}-0")), "a live build was removed");
    // The oldest of the recent ones is beyond KEEP_OTHERS whatever else exists.
    assert!(!after(&format!("recent{}", KEEP_OTHERS + 1)));
    assert!(
        unlocked_left <= KEEP_OTHERS,
        "{unlocked_left} unused templates left"
    );
}
