//! Test support shared by the integration-test binaries (`mod support;`).
//!
//! Unless `MYSQL_TEST_URL` names an existing server, every test binary starts its
//! own throwaway `mariadbd` (fresh data directory, free port, private unix socket,
//! a test CA and server certificate of the test process) the first time a test asks
//! for it, and throws it away when the binary exits.
//!
//! The fresh data directory is a copy of a template that `mariadb-install-db` makes
//! once per machine and caches in `$TMPDIR/mysqlclient-async-template-<uid>-<key>`
//! (see [`template`]; `MYSQLCLIENT_ASYNC_TEST_NO_TEMPLATE=1` runs it for every
//! server instead, as happens anyway when the template cannot be made).
//!
//! Cleanup is layered so that nothing outlives the test process:
//! - a [`Server`] returned by [`start_private_with`] is stopped and its directory
//!   removed when the value is dropped;
//! - an `atexit` handler SIGKILLs every server still alive and removes its directory
//!   (this covers the shared [`private_server`], which lives in a static);
//! - every `mariadbd` is spawned by one long-lived thread with
//!   `PR_SET_PDEATHSIG(SIGKILL)`, so it dies even if the test process is SIGKILLed
//!   (a server run as the `mysql` user, see [`ServerOptions::as_mysql_user`], is
//!   switched to it by us before the PDEATHSIG is set, since a change of user
//!   clears it);
//! - directories left behind by crashed runs
//!   (`$TMPDIR/mysqlclient-async-test-<pid>-<n>` whose pid is gone) are removed the
//!   next time a server starts, and so are templates of other keys that no live
//!   process uses and that are old or too many (see [`sweep_stale_dirs`]).

#![allow(dead_code)]

pub mod cluster;
pub mod proxy;
pub mod template;

use std::ffi::OsStr;
use std::fs::{self, OpenOptions};
use std::io::{self, Read};
use std::net::TcpListener;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard, Once, OnceLock, PoisonError, TryLockError};
use std::thread;
use std::time::{Duration, Instant};

/// Environment variable naming an external server, e.g. `mysql://user:pass@host:port/db`.
pub const TEST_URL_ENV: &str = "MYSQL_TEST_URL";

const DIR_PREFIX: &str = "mysqlclient-async-test-";
const START_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
const DROP_GRACE: Duration = Duration::from_secs(10);
const CLI_TIMEOUT: Duration = Duration::from_secs(30);
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
const TOOL_TIMEOUT: Duration = Duration::from_secs(120);
const EXTRA_BIN_DIRS: [&str; 4] = ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"];

/// Runs once per data directory, inside `mariadb-install-db`'s bootstrap (where the
/// grant tables are not loaded yet, hence the leading FLUSH PRIVILEGES).
const BOOTSTRAP_SQL: &str = "\
FLUSH PRIVILEGES;
CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
CREATE USER IF NOT EXISTS 'root'@'%' IDENTIFIED BY '';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;
CREATE DATABASE IF NOT EXISTS test;
";

/// Our own OpenSSL config, so the certificates do not depend on /etc/ssl/openssl.cnf.
const OPENSSL_CNF: &str = "\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
[client_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
";

// ---------------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------------

/// `MYSQL_TEST_URL` if it is set and non-empty.
pub fn external_url() -> Option<String> {
    std::env::var(TEST_URL_ENV)
        .ok()
        .filter(|u| !u.trim().is_empty())
}

/// URL of the server the tests should use: `MYSQL_TEST_URL` if set, otherwise the
/// shared private server over TCP (`mysql://root@127.0.0.1:PORT/test`).
pub fn url() -> String {
    external_url().unwrap_or_else(|| private_server().url())
}

/// Like [`url`], but over the unix socket
/// (`mysql://root@localhost/test?socket=/path`); `MYSQL_TEST_URL` as-is if set.
pub fn socket_url() -> String {
    external_url().unwrap_or_else(|| private_server().socket_url())
}

static SHARED: OnceLock<Result<Server, String>> = OnceLock::new();

/// The shared private server of this test binary, started on first use. Always the
/// private one, even when `MYSQL_TEST_URL` is set (for tests that kill/restart it).
/// A failed start is remembered: every later caller panics with the same message.
pub fn private_server() -> &'static Server {
    match SHARED.get_or_init(|| Server::launch(&ServerOptions::default())) {
        Ok(server) => server,
        Err(e) => panic!("{e}"),
    }
}

/// Starts an additional, independent private server with extra `mariadbd` options
/// (appended last, so they override the defaults, e.g. `--max-connections=20`).
/// It is stopped and its directory removed when the value is dropped.
pub fn start_private_with(extra_args: &[&str]) -> Server {
    start_private_opts(&ServerOptions {
        args: extra_args.iter().map(|s| s.to_string()).collect(),
        ..ServerOptions::default()
    })
}

/// How [`start_private_opts`] sets up an additional private server.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// Extra `mariadbd` options, appended last (they override the defaults); see
    /// also [`Server::set_extra_args`].
    pub args: Vec<String>,
    /// When the tests run as root: run `mariadbd` (and `mariadb-install-db`) as the
    /// `mysql` system user, with the server's whole directory owned by it, instead
    /// of as root. Needed where the server runs helpers that drop root privileges
    /// (Galera's rsync state transfer). Ignored when not running as root. Every
    /// directory above `$TMPDIR` must be traversable by `mysql`.
    pub as_mysql_user: bool,
    /// Prepare everything (directory, certificates, data directory, port) but do
    /// not start `mariadbd`: the first [`Server::start`] does (and does not retry
    /// with another port if the chosen one was taken meanwhile).
    pub deferred: bool,
}

/// Starts (or, with [`ServerOptions::deferred`], only prepares) an additional,
/// independent private server. It is stopped and its directory removed when the
/// value is dropped.
pub fn start_private_opts(opts: &ServerOptions) -> Server {
    Server::launch(opts).unwrap_or_else(|e| panic!("{e}"))
}

/// `n` distinct TCP ports that were free on 127.0.0.1 when we looked (all bound at
/// once, then released).
pub fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("local_addr").port())
        .collect()
}

/// Number of open file descriptors of this process (entries of `/proc/self/fd`, not
/// counting the one used to list them).
pub fn fd_count() -> usize {
    fs::read_dir("/proc/self/fd")
        .expect("read /proc/self/fd")
        .count()
        .saturating_sub(1)
}

/// Runs `sql` with the `mariadb` CLI (`-N -B`) against `server` over its unix socket
/// and returns stdout without the final newline (tab-separated columns, one row per
/// line). Panics with the CLI's stderr on failure.
pub fn mariadb_cli(server: &Server, sql: &str) -> String {
    server.cli(sql)
}

/// Runs `sql` with the `mariadb` CLI (`-N -B`) against the server named by a
/// `mysql://user:pass@host:port/db?socket=…` URL (e.g. [`url`] or [`socket_url`]).
/// `ssl_mode`/`ssl_ca` parameters are honoured; TLS is off otherwise.
pub fn mariadb_cli_url(url: &str, sql: &str) -> String {
    let parts = parse_url(url).unwrap_or_else(|e| panic!("mariadb_cli_url({url:?}): {e}"));
    let mut args = vec![format!("-u{}", parts.user)];
    if let Some(socket) = &parts.socket {
        args.push("--protocol=socket".into());
        args.push(format!("--socket={socket}"));
    } else {
        args.push("--protocol=tcp".into());
        args.push(format!("--host={}", parts.host));
        args.push(format!("--port={}", parts.port.unwrap_or(3306)));
    }
    if let Some(db) = &parts.db {
        args.push(format!("--database={db}"));
    }
    match parts.ssl_mode.as_deref() {
        None | Some("disabled") => args.push("--skip-ssl".into()),
        Some(mode) => {
            args.push("--ssl".into());
            if mode == "verify_ca" || mode == "verify_identity" {
                args.push("--ssl-verify-server-cert".into());
            }
        }
    }
    if let Some(ca) = &parts.ssl_ca {
        args.push(format!("--ssl-ca={ca}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_mariadb(&args, sql, parts.password.as_deref(), CLI_TIMEOUT)
        .unwrap_or_else(|e| panic!("mariadb CLI against {url}: {e}"))
}

/// Runs the `mariadb` CLI as `mariadb --no-defaults -N -B <args> -e <sql>` and returns
/// stdout without the final newline, or an error with the exit status and stderr.
/// The caller supplies all connection options (`--socket=…`, `--ssl-ca=…`, …).
pub fn mariadb_cli_args(args: &[&str], sql: &str) -> Result<String, String> {
    run_mariadb(args, sql, None, CLI_TIMEOUT)
}

// ---------------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------------

/// A private throwaway `mariadbd` with its own directory, port, socket and TLS files.
pub struct Server {
    dir: PathBuf,
    port: u16,
    extra_args: Mutex<Vec<String>>,
    /// `(uid, gid)` mariadbd runs as when it is not the test process's own.
    run_as: Option<(u32, u32)>,
    tools: &'static Tools,
    /// Pid of the running (not yet reaped) mariadbd, 0 if none; shared with the
    /// atexit registry.
    pid: Arc<AtomicI32>,
    child: Mutex<Option<Child>>,
}

impl Server {
    /// TCP port (the same across [`kill9`](Self::kill9)/[`start`](Self::start)).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Root of this server's temporary directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of the unix socket.
    pub fn socket_path(&self) -> PathBuf {
        self.dir.join("mysqld.sock")
    }

    /// `mysql://root@127.0.0.1:PORT/test`.
    pub fn url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}/test", self.port)
    }

    /// `mysql://root@localhost/test?socket=/path/to/mysqld.sock`.
    pub fn socket_url(&self) -> String {
        format!(
            "mysql://root@localhost/test?socket={}",
            percent_encode_path(self.socket_path().as_os_str())
        )
    }

    /// Pid of the running `mariadbd`. Panics if it is not running.
    pub fn pid(&self) -> u32 {
        let mut slot = self.lock();
        if !self.reap(&mut slot) {
            panic!("mariadbd in {} is not running", self.dir.display());
        }
        slot.as_ref().map(Child::id).expect("running child")
    }

    /// The server's data directory (`--datadir`).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// The server's private temporary directory (`--tmpdir`).
    pub fn tmp_dir(&self) -> PathBuf {
        self.dir.join("tmp")
    }

    /// The server's error log (`--log-error`).
    pub fn error_log_path(&self) -> PathBuf {
        self.dir.join("error.log")
    }

    /// Directory with `ca.pem` + `ca-key.pem` (the test CA), `server-cert.pem` +
    /// `server-key.pem` and `client-cert.pem` + `client-key.pem` (signed by it),
    /// `other-ca.pem` (an unrelated CA) and the `openssl.cnf` they were made with
    /// (sections `ca_ext`, `server_ext`, `client_ext`). Keys are EC P-256. Every
    /// server of a test process has copies of the same files (one CA per process).
    pub fn tls_dir(&self) -> PathBuf {
        self.dir.join("tls")
    }

    /// The CA that signed the server certificate (CN/SAN `localhost`, SAN IP 127.0.0.1).
    pub fn tls_ca_path(&self) -> PathBuf {
        self.tls_dir().join("ca.pem")
    }

    /// A CA that did NOT sign the server certificate, for negative tests.
    pub fn tls_other_ca_path(&self) -> PathBuf {
        self.tls_dir().join("other-ca.pem")
    }

    /// A client certificate signed by [`tls_ca_path`](Self::tls_ca_path) (CN `client`).
    pub fn tls_client_cert_path(&self) -> PathBuf {
        self.tls_dir().join("client-cert.pem")
    }

    /// Key of [`tls_client_cert_path`](Self::tls_client_cert_path).
    pub fn tls_client_key_path(&self) -> PathBuf {
        self.tls_dir().join("client-key.pem")
    }

    /// SIGKILLs `mariadbd` and waits for it to die. No-op if it is not running.
    pub fn kill9(&self) {
        let mut slot = self.lock();
        self.kill_locked(&mut slot);
    }

    /// Starts `mariadbd` again on the same port, socket and data directory and waits
    /// until it accepts connections; panics with the error log's tail if it does not
    /// within 60 s. No-op if it is already running.
    pub fn start(&self) {
        let mut slot = self.lock();
        if let Err(e) = self.start_locked(&mut slot) {
            panic!("{e}");
        }
    }

    /// Clean shutdown (SIGTERM), then [`start`](Self::start).
    pub fn restart(&self) {
        self.stop();
        self.start();
    }

    /// Clean shutdown: SIGTERM and wait. Panics if it needed a SIGKILL after 30 s.
    /// No-op if it is not running.
    pub fn stop(&self) {
        let mut slot = self.lock();
        if let Some(mut child) = slot.take() {
            let clean = terminate(&mut child, STOP_TIMEOUT);
            self.pid.store(0, Ordering::SeqCst);
            assert!(
                clean,
                "mariadbd did not shut down within {STOP_TIMEOUT:?}; SIGKILLed it{}",
                self.diagnostics()
            );
        }
    }

    /// Whether the `mariadbd` process is alive (a SIGSTOPped one counts as alive).
    pub fn is_running(&self) -> bool {
        let mut slot = self.lock();
        self.reap(&mut slot)
    }

    /// Waits until the server answers `SELECT 1` (over TCP unless started with
    /// `--skip-networking`, else over the socket). False on timeout or if not running.
    pub fn wait_ready(&self, timeout: Duration) -> bool {
        let mut slot = self.lock();
        self.wait_ready_locked(&mut slot, timeout).is_ok()
    }

    /// Freezes `mariadbd` with SIGSTOP (it keeps its sockets but answers nothing).
    pub fn sigstop(&self) {
        self.signal(libc::SIGSTOP);
    }

    /// Resumes a [`sigstop`](Self::sigstop)ped `mariadbd` with SIGCONT.
    pub fn sigcont(&self) {
        self.signal(libc::SIGCONT);
    }

    /// Runs `sql` with the `mariadb` CLI over the unix socket (see [`mariadb_cli`]).
    pub fn cli(&self, sql: &str) -> String {
        let args = self.socket_cli_args();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_mariadb(&args, sql, None, CLI_TIMEOUT)
            .unwrap_or_else(|e| panic!("mariadb CLI over {}: {e}", self.socket_path().display()))
    }

    /// Runs `sql` with the `mariadb` CLI over TCP (127.0.0.1, no TLS).
    pub fn cli_tcp(&self, sql: &str) -> String {
        let args = self.tcp_cli_args();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_mariadb(&args, sql, None, CLI_TIMEOUT)
            .unwrap_or_else(|e| panic!("mariadb CLI over 127.0.0.1:{}: {e}", self.port))
    }

    /// Like [`cli`](Self::cli) (over the unix socket), but returns the CLI's error
    /// (which contains e.g. `ERROR 1047 (08S01)`) instead of panicking.
    pub fn try_cli(&self, sql: &str) -> Result<String, String> {
        let args = self.socket_cli_args();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_mariadb(&args, sql, None, CLI_TIMEOUT)
    }

    /// Like [`cli_tcp`](Self::cli_tcp), but returns the CLI's error instead of
    /// panicking.
    pub fn try_cli_tcp(&self, sql: &str) -> Result<String, String> {
        let args = self.tcp_cli_args();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_mariadb(&args, sql, None, CLI_TIMEOUT)
    }

    /// The extra `mariadbd` options (see [`ServerOptions::args`]).
    pub fn extra_args(&self) -> Vec<String> {
        self.extra_args
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces the extra `mariadbd` options for the next [`start`](Self::start)
    /// (a running server is not affected).
    pub fn set_extra_args(&self, args: &[String]) {
        *self
            .extra_args
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = args.to_vec();
    }

    /// Resident memory of the running `mariadbd` in KiB (`VmRSS` of
    /// `/proc/PID/status`). Panics if it is not running.
    pub fn rss_kib(&self) -> u64 {
        let pid = self.pid();
        let status = fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap_or_else(|e| panic!("read /proc/{pid}/status: {e}"));
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no VmRSS in /proc/{pid}/status"))
    }

    /// The last `lines` lines of the error log.
    pub fn error_log_tail(&self, lines: usize) -> String {
        tail_of_file(&self.error_log_path(), lines)
    }

    // --- internals -----------------------------------------------------------------

    fn launch(opts: &ServerOptions) -> Result<Server, String> {
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let tools = server_tools()?;
        static SWEEP: Once = Once::new();
        SWEEP.call_once(sweep_stale_dirs);
        register_atexit();

        let t0 = Instant::now();
        let dir = std::env::temp_dir().join(format!(
            "{DIR_PREFIX}{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        let run_as = if opts.as_mysql_user && is_root() {
            let ids = mysql_user_ids()?;
            check_traversable(&dir, ids)?;
            Some(ids)
        } else {
            None
        };
        fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        let pid = Arc::new(AtomicI32::new(0));
        lock_live().push(Live {
            dir: dir.clone(),
            pid: Arc::clone(&pid),
        });
        // From here on, dropping `server` (on any error) stops it and removes `dir`.
        let mut server = Server {
            dir,
            port: 0,
            extra_args: Mutex::new(opts.args.clone()),
            run_as,
            tools,
            pid,
            child: Mutex::new(None),
        };
        let socket_len = server.socket_path().as_os_str().len();
        if socket_len >= 100 {
            return Err(format!(
                "socket path {} is too long ({socket_len} bytes) for a unix socket; \
                 set TMPDIR to a shorter directory",
                server.socket_path().display()
            ));
        }
        fs::create_dir_all(server.tmp_dir())
            .map_err(|e| format!("create {}: {e}", server.tmp_dir().display()))?;
        make_tls(tools, &server.tls_dir())?;
        let t_tls = t0.elapsed();
        let copied_from = server.copy_template();
        if let Some((uid, gid)) = run_as {
            chown_tree(&server.dir, uid, gid)?;
        }
        if copied_from.is_none() {
            server.install_db()?;
        }
        let t_data = t0.elapsed() - t_tls;
        if opts.deferred {
            server.port = free_port()?;
            return Ok(server);
        }

        // The port is free when we look but could be taken before mariadbd binds it;
        // retry with another one in that case.
        let mut attempt = 0;
        loop {
            attempt += 1;
            server.port = free_port()?;
            let log_offset = fs::metadata(server.error_log_path())
                .map(|m| m.len())
                .unwrap_or(0);
            let result = {
                let mut slot = server.lock();
                server.start_locked(&mut slot)
            };
            match result {
                Ok(()) => break,
                Err(_)
                    if attempt < 5
                        && read_from(&server.error_log_path(), log_offset)
                            .contains("Address already in use") => {}
                Err(e) => return Err(e),
            }
        }
        eprintln!(
            "support: private mariadbd ready on 127.0.0.1:{} in {:.2?} \
             (certificates {:.2?}, data directory {:.2?} {}, start {:.2?}) in {}",
            server.port,
            t0.elapsed(),
            t_tls,
            t_data,
            match &copied_from {
                Some(_) => "copied from the template",
                None => "by mariadb-install-db",
            },
            t0.elapsed() - t_tls - t_data,
            server.dir.display()
        );
        Ok(server)
    }

    /// Gives the server a copy of the data-directory template (see the `template`
    /// module); the template's path, or `None` (and nothing copied) if there is no
    /// template or the copy failed (said on stderr).
    fn copy_template(&self) -> Option<PathBuf> {
        let template = template::shared(self.tools).ok()?;
        match template::copy_data_dir(template, &self.data_dir()) {
            Ok(()) => Some(template.dir().to_path_buf()),
            Err(e) => {
                eprintln!(
                    "support: copying the data-directory template {} failed ({e}); \
                     running mariadb-install-db for {} instead",
                    template.dir().display(),
                    self.dir.display()
                );
                let _ = fs::remove_dir_all(self.data_dir());
                None
            }
        }
    }

    /// A data directory of its own by `mariadb-install-db` (when there is no
    /// template).
    fn install_db(&self) -> Result<(), String> {
        let sql_path = self.dir.join("bootstrap.sql");
        fs::write(&sql_path, BOOTSTRAP_SQL)
            .map_err(|e| format!("write {}: {e}", sql_path.display()))?;
        let user = if self.run_as.is_some() {
            Some("mysql")
        } else if is_root() {
            Some("root")
        } else {
            None
        };
        template::run_install_db(template::install_db_command(
            self.tools,
            &self.data_dir(),
            &self.tmp_dir(),
            &sql_path,
            user,
        ))
    }

    fn mariadbd_args(&self) -> Vec<String> {
        let path = |p: PathBuf| p.display().to_string();
        let mut args: Vec<String> = vec![
            "--no-defaults".into(),
            format!("--datadir={}", path(self.data_dir())),
            format!("--socket={}", path(self.socket_path())),
            format!("--port={}", self.port),
            "--bind-address=127.0.0.1".into(),
            format!("--pid-file={}", path(self.dir.join("mariadbd.pid"))),
            format!("--log-error={}", path(self.error_log_path())),
            format!("--tmpdir={}", path(self.tmp_dir())),
            "--max-connections=2500".into(),
            "--skip-name-resolve".into(),
            "--innodb-buffer-pool-size=64M".into(),
            "--innodb-log-file-size=16M".into(),
            "--skip-log-bin".into(),
            "--character-set-server=utf8mb4".into(),
            "--collation-server=utf8mb4_general_ci".into(),
            "--max-allowed-packet=64M".into(),
            format!("--ssl-ca={}", path(self.tls_ca_path())),
            format!(
                "--ssl-cert={}",
                path(self.tls_dir().join("server-cert.pem"))
            ),
            format!("--ssl-key={}", path(self.tls_dir().join("server-key.pem"))),
        ];
        if is_root() && self.run_as.is_none() {
            args.push("--user=root".into());
        }
        args.extend(self.extra_args());
        args
    }

    fn lock(&self) -> MutexGuard<'_, Option<Child>> {
        self.child.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// True if the child is alive; otherwise forgets it (reaping it if needed).
    fn reap(&self, slot: &mut Option<Child>) -> bool {
        let running = match slot.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        };
        if !running {
            *slot = None;
            self.pid.store(0, Ordering::SeqCst);
        }
        running
    }

    fn kill_locked(&self, slot: &mut Option<Child>) {
        if let Some(mut child) = slot.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.pid.store(0, Ordering::SeqCst);
    }

    fn start_locked(&self, slot: &mut Option<Child>) -> Result<(), String> {
        if self.reap(slot) {
            return Ok(());
        }
        let out_path = self.dir.join("mariadbd.out");
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&out_path)
            .map_err(|e| format!("open {}: {e}", out_path.display()))?;
        let err = out
            .try_clone()
            .map_err(|e| format!("dup {}: {e}", out_path.display()))?;
        let mut cmd = Command::new(&self.tools.mariadbd);
        cmd.args(self.mariadbd_args())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        // Helpers it runs (e.g. Galera's wsrep_sst_* scripts) are looked up on PATH.
        cmd.env("PATH", path_with_system_dirs());
        let parent = std::process::id() as libc::pid_t;
        let run_as = self.run_as;
        // SAFETY: the closure runs in the forked child between fork and exec, where
        // only async-signal-safe calls are allowed: setgroups, setgid, setuid, prctl,
        // getppid and raise are, and `io::Error::last_os_error` only reads errno. It
        // captures plain integers. The change of user comes first because it clears
        // the parent-death signal.
        unsafe {
            cmd.pre_exec(move || {
                if let Some((uid, gid)) = run_as {
                    let groups = [gid as libc::gid_t];
                    if libc::setgroups(1, groups.as_ptr()) != 0
                        || libc::setgid(gid) != 0
                        || libc::setuid(uid) != 0
                    {
                        return Err(io::Error::last_os_error());
                    }
                }
                if libc::prctl(
                    libc::PR_SET_PDEATHSIG,
                    libc::SIGKILL as libc::c_ulong,
                    0,
                    0,
                    0,
                ) != 0
                {
                    return Err(io::Error::last_os_error());
                }
                // The parent may have died before prctl took effect.
                if libc::getppid() != parent {
                    libc::raise(libc::SIGKILL);
                }
                Ok(())
            });
        }
        let child = spawn_on_manager(cmd)
            .map_err(|e| format!("spawn {}: {e}", self.tools.mariadbd.display()))?;
        self.pid.store(child.id() as i32, Ordering::SeqCst);
        *slot = Some(child);
        if let Err(e) = self.wait_ready_locked(slot, START_TIMEOUT) {
            self.kill_locked(slot);
            return Err(e);
        }
        Ok(())
    }

    fn wait_ready_locked(&self, slot: &mut Option<Child>, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            let exited = match slot.as_mut() {
                None => return Err(format!("mariadbd in {} is not running", self.dir.display())),
                Some(child) => child.try_wait().ok().flatten(),
            };
            if let Some(status) = exited {
                *slot = None;
                self.pid.store(0, Ordering::SeqCst);
                return Err(format!(
                    "mariadbd exited during startup ({status}){}",
                    self.diagnostics()
                ));
            }
            if self.probe() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "mariadbd did not accept connections within {timeout:?}{}",
                    self.diagnostics()
                ));
            }
            thread::sleep(Duration::from_millis(25));
        }
    }

    /// One readiness check: `SELECT @@socket` must name our socket, so a foreign
    /// server that grabbed our port does not count.
    fn probe(&self) -> bool {
        let networking = !self
            .extra_args()
            .iter()
            .any(|a| a.starts_with("--skip-networking") || a.starts_with("--skip_networking"));
        let args = if networking {
            self.tcp_cli_args()
        } else {
            if !self.socket_path().exists() {
                return false;
            }
            self.socket_cli_args()
        };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        match run_mariadb(&args, "SELECT @@socket", None, PROBE_TIMEOUT) {
            Ok(out) => Path::new(out.trim()) == self.socket_path(),
            Err(_) => false,
        }
    }

    fn socket_cli_args(&self) -> Vec<String> {
        vec![
            "--protocol=socket".into(),
            format!("--socket={}", self.socket_path().display()),
            "-uroot".into(),
            "--skip-ssl".into(),
        ]
    }

    fn tcp_cli_args(&self) -> Vec<String> {
        vec![
            "--protocol=tcp".into(),
            "--host=127.0.0.1".into(),
            format!("--port={}", self.port),
            "-uroot".into(),
            "--skip-ssl".into(),
        ]
    }

    fn signal(&self, sig: libc::c_int) {
        let mut slot = self.lock();
        if !self.reap(&mut slot) {
            panic!("mariadbd in {} is not running", self.dir.display());
        }
        let pid = slot.as_ref().map(Child::id).expect("running child") as libc::pid_t;
        // SAFETY: `pid` is our unreaped child (we hold the lock), so it cannot have
        // been reused by another process.
        let rc = unsafe { libc::kill(pid, sig) };
        assert_eq!(rc, 0, "kill({pid}, {sig}): {}", io::Error::last_os_error());
    }

    fn diagnostics(&self) -> String {
        format!(
            "\n--- tail of {} ---\n{}\n--- tail of mariadbd stdout/stderr ---\n{}",
            self.error_log_path().display(),
            self.error_log_tail(30),
            tail_of_file(&self.dir.join("mariadbd.out"), 10)
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let slot = self.child.get_mut().unwrap_or_else(PoisonError::into_inner);
        if let Some(mut child) = slot.take() {
            terminate(&mut child, DROP_GRACE);
        }
        self.pid.store(0, Ordering::SeqCst);
        lock_live().retain(|l| !Arc::ptr_eq(&l.pid, &self.pid));
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// SIGCONT + SIGTERM, wait up to `grace`, then SIGKILL. True if it exited by itself.
fn terminate(child: &mut Child, grace: Duration) -> bool {
    if let Ok(Some(_)) = child.try_wait() {
        return true;
    }
    let pid = child.id() as libc::pid_t;
    // SAFETY: `child` has not been reaped, so `pid` still names our child process.
    unsafe {
        libc::kill(pid, libc::SIGCONT);
        libc::kill(pid, libc::SIGTERM);
    }
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        match child.try_wait() {
            Ok(None) => thread::sleep(Duration::from_millis(20)),
            _ => return true,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    false
}

// ---------------------------------------------------------------------------------
// Process management: spawner thread, atexit cleanup, stale-dir sweep
// ---------------------------------------------------------------------------------

struct SpawnRequest {
    cmd: Command,
    reply: mpsc::Sender<io::Result<Child>>,
}

/// Spawns `cmd` from a dedicated thread that lives until the process exits, so that
/// `PR_SET_PDEATHSIG` (which fires when the *spawning thread* exits) only fires when
/// the whole test process goes away.
fn spawn_on_manager(cmd: Command) -> io::Result<Child> {
    static MANAGER: OnceLock<mpsc::Sender<SpawnRequest>> = OnceLock::new();
    let tx = MANAGER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        thread::Builder::new()
            .name("support-mariadbd-spawner".into())
            .spawn(move || {
                // The sender lives in a static, so this loop only ends with the process.
                for mut req in rx {
                    let _ = req.reply.send(req.cmd.spawn());
                }
            })
            .expect("start the mariadbd spawner thread");
        tx
    });
    let (reply, result) = mpsc::channel();
    tx.send(SpawnRequest { cmd, reply })
        .map_err(|_| io::Error::other("mariadbd spawner thread is gone"))?;
    result
        .recv()
        .map_err(|_| io::Error::other("mariadbd spawner thread is gone"))?
}

/// A live server, for the atexit handler.
struct Live {
    dir: PathBuf,
    pid: Arc<AtomicI32>,
}

static LIVE: Mutex<Vec<Live>> = Mutex::new(Vec::new());

fn lock_live() -> MutexGuard<'static, Vec<Live>> {
    LIVE.lock().unwrap_or_else(PoisonError::into_inner)
}

fn register_atexit() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: `cleanup_at_exit` is a plain `extern "C" fn()` that does not unwind
        // and only touches statics that outlive `exit`.
        let rc = unsafe { libc::atexit(cleanup_at_exit) };
        if rc != 0 {
            eprintln!("support: atexit registration failed; relying on PDEATHSIG");
        }
    });
}

extern "C" fn cleanup_at_exit() {
    let live = match LIVE.try_lock() {
        Ok(guard) => guard,
        Err(TryLockError::Poisoned(p)) => p.into_inner(),
        Err(TryLockError::WouldBlock) => return,
    };
    for server in live.iter() {
        let pid = server.pid.swap(0, Ordering::SeqCst);
        if pid > 0 {
            // SAFETY: a non-zero pid is an unreaped child of ours, so it cannot have
            // been reused; waitpid reaps it after the SIGKILL.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
        }
        let _ = fs::remove_dir_all(&server.dir);
    }
}

/// Removes `$TMPDIR/mysqlclient-async-test-<pid>-<n>` directories whose pid is no
/// longer alive (left by crashed runs), SIGKILLing a `mariadbd` still running from
/// one, then sweeps the data-directory templates ([`template::sweep`]: never one a
/// live process uses). Runs automatically before the first server of a process
/// starts.
pub fn sweep_stale_dirs() {
    sweep_server_dirs();
    template::sweep();
}

fn sweep_server_dirs() {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    let me = std::process::id();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(DIR_PREFIX)) else {
            continue;
        };
        let Some((pid, seq)) = rest.split_once('-') else {
            continue;
        };
        let (Ok(pid), Ok(_)) = (pid.parse::<u32>(), seq.parse::<u64>()) else {
            continue;
        };
        if pid == me || pid_alive(pid) || !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let path = entry.path();
        kill_orphan(&path);
        let _ = fs::remove_dir_all(&path);
    }
}

/// Alive means it exists and is not a zombie (an unreaped dead process still has a
/// /proc entry and answers kill(pid, 0)).
fn pid_alive(pid: u32) -> bool {
    if let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) {
        // "pid (comm) S ...": the state follows the last ')'.
        let state = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start());
        return !matches!(state.and_then(|s| s.chars().next()), Some('Z' | 'X'));
    }
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks for existence and permission; nothing is sent.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// SIGKILLs the mariadbd recorded in `dir`'s pid file if its command line still
/// mentions `dir`.
fn kill_orphan(dir: &Path) {
    let Ok(text) = fs::read_to_string(dir.join("mariadbd.pid")) else {
        return;
    };
    let Ok(pid) = text.trim().parse::<libc::pid_t>() else {
        return;
    };
    let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline")) else {
        return;
    };
    let needle = dir.as_os_str().as_bytes();
    if !needle.is_empty() && cmdline.windows(needle.len()).any(|w| w == needle) {
        // SAFETY: plain kill(2); the pid was just checked to be that dir's mariadbd.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
}

// ---------------------------------------------------------------------------------
// Tools, TLS, helpers
// ---------------------------------------------------------------------------------

struct Tools {
    mariadbd: PathBuf,
    install_db: PathBuf,
    openssl: PathBuf,
}

fn no_server_message(missing: &[&str]) -> String {
    format!(
        "no test server: set MYSQL_TEST_URL=mysql://user:pass@host:port/db or run \
         `bash scripts/setup.sh` (which installs mariadb-server); not found on PATH or in \
         {}: {}",
        EXTRA_BIN_DIRS.join(", "),
        missing.join(", ")
    )
}

fn server_tools() -> Result<&'static Tools, String> {
    static TOOLS: OnceLock<Result<Tools, String>> = OnceLock::new();
    TOOLS
        .get_or_init(|| {
            let mariadbd = find_tool(&["mariadbd", "mysqld"]);
            let install_db = find_tool(&["mariadb-install-db", "mysql_install_db"]);
            let openssl = find_tool(&["openssl"]);
            let cli = find_tool(&["mariadb", "mysql"]);
            match (mariadbd, install_db, openssl, cli) {
                (Some(mariadbd), Some(install_db), Some(openssl), Some(_)) => Ok(Tools {
                    mariadbd,
                    install_db,
                    openssl,
                }),
                (d, i, o, c) => {
                    let mut missing = Vec::new();
                    for (found, name) in [
                        (d.is_some(), "mariadbd"),
                        (i.is_some(), "mariadb-install-db"),
                        (o.is_some(), "openssl"),
                        (c.is_some(), "mariadb"),
                    ] {
                        if !found {
                            missing.push(name);
                        }
                    }
                    Err(no_server_message(&missing))
                }
            }
        })
        .as_ref()
        .map_err(Clone::clone)
}

fn cli_path() -> Result<&'static Path, String> {
    static CLI: OnceLock<Option<PathBuf>> = OnceLock::new();
    CLI.get_or_init(|| find_tool(&["mariadb", "mysql"]))
        .as_deref()
        .ok_or_else(|| {
            format!(
                "the `mariadb` CLI was not found on PATH or in {}; run `bash scripts/setup.sh`",
                EXTRA_BIN_DIRS.join(", ")
            )
        })
}

/// First executable named one of `names` on PATH or in the usual system directories.
fn find_tool(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    dirs.extend(EXTRA_BIN_DIRS.iter().map(PathBuf::from));
    names.iter().find_map(|name| {
        dirs.iter().map(|d| d.join(name)).find(|p| {
            fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// PATH with the usual system directories appended (those missing from it).
fn path_with_system_dirs() -> std::ffi::OsString {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    for extra in EXTRA_BIN_DIRS.iter().map(PathBuf::from) {
        if !dirs.contains(&extra) {
            dirs.push(extra);
        }
    }
    std::env::join_paths(dirs).unwrap_or(path)
}

/// `(uid, gid)` of the `mysql` system user.
fn mysql_user_ids() -> Result<(u32, u32), String> {
    let id = |flag: &str| -> Result<u32, String> {
        let mut cmd = Command::new("id");
        cmd.args([flag, "mysql"]);
        let out = run_with_timeout(cmd, TOOL_TIMEOUT)?;
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .map_err(|_| {
                format!(
                    "no `mysql` user to run mariadbd as (`id {flag} mysql`: {}); \
                     run `bash scripts/setup.sh` (mariadb-server creates it)",
                    String::from_utf8_lossy(&out.stderr).trim()
                )
            })
    };
    Ok((id("-u")?, id("-g")?))
}

/// Checks that every existing ancestor of `dir` lets `(uid, gid)` through.
fn check_traversable(dir: &Path, (uid, gid): (u32, u32)) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    for ancestor in dir.ancestors().skip(1) {
        let Ok(meta) = fs::metadata(ancestor) else {
            continue;
        };
        let mode = meta.mode();
        let ok = if meta.uid() == uid {
            mode & 0o100 != 0
        } else if meta.gid() == gid {
            mode & 0o010 != 0
        } else {
            mode & 0o001 != 0
        };
        if !ok {
            return Err(format!(
                "{} (mode {:o}) is not traversable by the mysql user, which the server in \
                 {} runs as; set TMPDIR to a directory it can reach (e.g. /tmp)",
                ancestor.display(),
                mode & 0o7777,
                dir.display()
            ));
        }
    }
    Ok(())
}

/// chown -R (symbolic links themselves, not their targets).
fn chown_tree(path: &Path, uid: u32, gid: u32) -> Result<(), String> {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))
        .map_err(|e| format!("chown {}: {e}", path.display()))?;
    if fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
        let entries = fs::read_dir(path).map_err(|e| format!("read {}: {e}", path.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("read {}: {e}", path.display()))?;
            chown_tree(&entry.path(), uid, gid)?;
        }
    }
    Ok(())
}

fn free_port() -> Result<u16, String> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind 127.0.0.1:0: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("local_addr: {e}"))
}

/// Puts the test process's TLS files into `tls` (see [`generate_tls`]): the first
/// server of the process generates them, later ones get copies (six `openssl` runs
/// take some 0.2 s, more on a busy machine). A failure is remembered.
fn make_tls(tools: &Tools, tls: &Path) -> Result<(), String> {
    /// (file name, mode, contents)
    type Files = Vec<(String, u32, Vec<u8>)>;
    static FILES: OnceLock<Result<Files, String>> = OnceLock::new();
    let files = FILES
        .get_or_init(|| {
            generate_tls(tools, tls)?;
            let mut files = Files::new();
            let entries = fs::read_dir(tls).map_err(|e| format!("read {}: {e}", tls.display()))?;
            for entry in entries {
                let entry = entry.map_err(|e| format!("read {}: {e}", tls.display()))?;
                let path = entry.path();
                let mode = entry
                    .metadata()
                    .map_err(|e| format!("stat {}: {e}", path.display()))?
                    .permissions()
                    .mode();
                let bytes = fs::read(&path).map_err(|e| format!("read {}: {e}", path.display()))?;
                files.push((
                    entry.file_name().to_string_lossy().into_owned(),
                    mode,
                    bytes,
                ));
            }
            Ok(files)
        })
        .as_ref()
        .map_err(Clone::clone)?;
    fs::create_dir_all(tls).map_err(|e| format!("create {}: {e}", tls.display()))?;
    for (name, mode, bytes) in files {
        let path = tls.join(name);
        fs::write(&path, bytes)
            .and_then(|()| fs::set_permissions(&path, fs::Permissions::from_mode(*mode)))
            .map_err(|e| format!("write {}: {e}", path.display()))?;
    }
    Ok(())
}

/// Writes a test CA, a server certificate signed by it (CN/SAN localhost, SAN IP
/// 127.0.0.1), a client certificate signed by it, and an unrelated second CA.
fn generate_tls(tools: &Tools, tls: &Path) -> Result<(), String> {
    fs::create_dir_all(tls).map_err(|e| format!("create {}: {e}", tls.display()))?;
    let cnf = tls.join("openssl.cnf");
    fs::write(&cnf, OPENSSL_CNF).map_err(|e| format!("write {}: {e}", cnf.display()))?;
    let tag = format!("pid {}", std::process::id());
    // All file names are relative to `tls` (the working directory) and contain no
    // spaces; the subject (which may) is passed separately.
    const EC: &str = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    let openssl = |args: &str, subj: Option<&str>| -> Result<(), String> {
        let mut cmd = Command::new(&tools.openssl);
        cmd.args(args.split_whitespace())
            .current_dir(tls)
            .env("OPENSSL_CONF", &cnf);
        if let Some(subj) = subj {
            cmd.arg("-subj").arg(format!("/CN={subj}"));
        }
        let out = run_with_timeout(cmd, TOOL_TIMEOUT)?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "openssl {args} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    };
    let self_signed_ca = |name: &str, cn: &str| {
        openssl(
            &format!(
                "req -config openssl.cnf -x509 {EC} -keyout {name}-key.pem -out {name}.pem \
                 -days 3650 -extensions ca_ext"
            ),
            Some(cn),
        )
    };
    let signed = |name: &str, cn: &str, ext: &str, serial: u32| -> Result<(), String> {
        openssl(
            &format!("req -config openssl.cnf -new {EC} -keyout {name}-key.pem -out {name}.csr"),
            Some(cn),
        )?;
        openssl(
            &format!(
                "x509 -req -in {name}.csr -CA ca.pem -CAkey ca-key.pem -set_serial {serial} \
                 -days 3650 -extfile openssl.cnf -extensions {ext} -out {name}-cert.pem"
            ),
            None,
        )?;
        let _ = fs::remove_file(tls.join(format!("{name}.csr")));
        Ok(())
    };
    self_signed_ca("ca", &format!("mysqlclient-async test CA {tag}"))?;
    signed("server", "localhost", "server_ext", 2)?;
    signed("client", "client", "client_ext", 3)?;
    self_signed_ca("other-ca", &format!("mysqlclient-async other CA {tag}"))?;
    Ok(())
}

/// Runs the CLI; a `password` goes through `MYSQL_PWD`, not the command line.
fn run_mariadb(
    args: &[&str],
    sql: &str,
    password: Option<&str>,
    timeout: Duration,
) -> Result<String, String> {
    let mut cmd = Command::new(cli_path()?);
    cmd.args(["--no-defaults", "-N", "-B", "--connect-timeout=10"])
        .args(args)
        .arg("-e")
        .arg(sql);
    for var in [
        "MYSQL_PWD",
        "MYSQL_HOST",
        "MYSQL_TCP_PORT",
        "MYSQL_UNIX_PORT",
    ] {
        cmd.env_remove(var);
    }
    if let Some(pw) = password {
        cmd.env("MYSQL_PWD", pw);
    }
    let out = run_with_timeout(cmd, timeout)?;
    if out.status.success() {
        let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
        if s.ends_with('\n') {
            s.pop();
        }
        Ok(s)
    } else {
        Err(format!(
            "`mariadb {}` -e {sql:?} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim_end()
        ))
    }
}

/// Runs `cmd` with stdin closed, collecting stdout and stderr; SIGKILLs it after
/// `timeout`.
fn run_with_timeout(mut cmd: Command, timeout: Duration) -> Result<Output, String> {
    let what = format!("{:?}", cmd.get_program());
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("spawn {what}: {e}"))?;
    fn reader<R: Read + Send + 'static>(r: Option<R>) -> thread::JoinHandle<Vec<u8>> {
        thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            buf
        })
    }
    let stdout = reader(child.stdout.take());
    let stderr = reader(child.stderr.take());
    let deadline = Instant::now() + timeout;
    let mut nap = Duration::from_millis(1);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{what} timed out after {timeout:?}"));
            }
            Ok(None) => {
                thread::sleep(nap);
                nap = (nap * 2).min(Duration::from_millis(20));
            }
            Err(e) => return Err(format!("wait for {what}: {e}")),
        }
    };
    Ok(Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    let mut out = all[all.len().saturating_sub(lines)..].join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

fn head(text: &str, lines: usize) -> String {
    let mut out: String = text.lines().take(lines).collect::<Vec<_>>().join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

fn tail_of_file(path: &Path, lines: usize) -> String {
    match fs::read(path) {
        Ok(bytes) => tail(&String::from_utf8_lossy(&bytes), lines),
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

fn read_from(path: &Path, offset: u64) -> String {
    let bytes = fs::read(path).unwrap_or_default();
    let start = usize::try_from(offset).unwrap_or(0).min(bytes.len());
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

fn percent_encode_path(path: &OsStr) -> String {
    let mut out = String::new();
    for &b in path.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

struct UrlParts {
    user: String,
    password: Option<String>,
    host: String,
    port: Option<u16>,
    db: Option<String>,
    socket: Option<String>,
    ssl_mode: Option<String>,
    ssl_ca: Option<String>,
}

fn parse_url(url: &str) -> Result<UrlParts, String> {
    let rest = url
        .strip_prefix("mysql://")
        .or_else(|| url.strip_prefix("mariadb://"))
        .ok_or("expected mysql://user:pass@host:port/db")?;
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, db) = rest.split_once('/').unwrap_or((rest, ""));
    let (userinfo, hostport) = authority.rsplit_once('@').unwrap_or(("", authority));
    let (user, password) = match userinfo.split_once(':') {
        Some((u, p)) => (percent_decode(u), Some(percent_decode(p))),
        None => (percent_decode(userinfo), None),
    };
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or("unterminated [ipv6] host")?;
        (h.to_string(), after.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (hostport.to_string(), None),
        }
    };
    let port = port
        .map(|p| p.parse::<u16>().map_err(|_| format!("bad port {p:?}")))
        .transpose()?;
    let mut parts = UrlParts {
        user: if user.is_empty() { "root".into() } else { user },
        password,
        host: if host.is_empty() {
            "localhost".into()
        } else {
            host
        },
        port,
        db: (!db.is_empty()).then(|| percent_decode(db)),
        socket: None,
        ssl_mode: None,
        ssl_ca: None,
    };
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_decode(v);
        match k {
            "socket" => parts.socket = Some(v),
            "ssl_mode" | "sslmode" => parts.ssl_mode = Some(v.to_ascii_lowercase()),
            "ssl_ca" => parts.ssl_ca = Some(v),
            _ => {}
        }
    }
    Ok(parts)
}

/// Every async test is bounded in time: a hang fails the test instead of CI.
pub const ASYNC_TEST_LIMIT: Duration = Duration::from_secs(120);

/// Run `f` on a fresh current-thread tokio runtime, failing after [`ASYNC_TEST_LIMIT`].
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    limited(
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime"),
        f,
    )
}

/// Run `f` on a fresh multi-thread tokio runtime with 2 workers, failing after
/// [`ASYNC_TEST_LIMIT`].
pub fn block_on_multi<F: std::future::Future>(f: F) -> F::Output {
    limited(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime"),
        f,
    )
}

fn limited<F: std::future::Future>(rt: tokio::runtime::Runtime, f: F) -> F::Output {
    rt.block_on(async {
        tokio::time::timeout(ASYNC_TEST_LIMIT, f)
            .await
            .expect("test exceeded its time limit")
    })
}
