//! Connection options (documented on [`Opts`] and [`OptsBuilder`]).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, ErrorKind, Result};
use crate::target::{HostOrder, Target};

/// How a connection's I/O is driven on an event loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum IoMode {
    /// Every step (connect, TLS, send, result header, each row, ping, close) goes
    /// through the library's own non-blocking API (MariaDB Connector/C's
    /// `_start`/`_cont`, Oracle libmysqlclient's `_nonblocking`), so nothing
    /// blocks the thread. On a library without such an API the connection falls
    /// back to [`IoMode::ReadableThenRead`] (see [`crate::backend`]).
    #[default]
    NonBlocking,
    /// The 2011 Chartio technique, portable to every libmysqlclient: send the query,
    /// wait until the socket is readable (the server has answered), then read the
    /// result with the blocking calls. The connect runs on tokio's blocking pool;
    /// large results and rows arriving slowly still block the runtime thread, each
    /// read for at most the read timeout, which on this path defaults to the
    /// connect timeout (10 s) when unset. Use it only where `NonBlocking` is
    /// missing.
    ReadableThenRead,
}

/// TLS policy for a connection.
///
/// The default is `Disabled`, as in most Rust MySQL drivers: TLS that protects
/// against an active attacker needs a CA (`VerifyCa`/`VerifyIdentity`), which is an
/// explicit choice anyway. With MariaDB Connector/C 3.3, `Preferred` and `Required`
/// without a CA also cost about 30 ms of CPU per connection (the library loads the
/// system trust store for every connection); with a CA a TLS connect costs ~2 ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum SslMode {
    /// Never use TLS.
    #[default]
    Disabled,
    /// Use TLS when the server offers it; fall back to plain text otherwise.
    Preferred,
    /// Require TLS, without checking the certificate.
    Required,
    /// Require TLS and a server certificate signed by the configured CA.
    VerifyCa,
    /// Like `VerifyCa`, and the certificate must name the host connected to.
    VerifyIdentity,
}

impl SslMode {
    fn parse(s: &str) -> Option<SslMode> {
        Some(match s.to_ascii_lowercase().replace('-', "_").as_str() {
            "disabled" | "disable" | "false" | "0" => SslMode::Disabled,
            "preferred" | "prefer" => SslMode::Preferred,
            "required" | "require" | "true" | "1" => SslMode::Required,
            "verify_ca" => SslMode::VerifyCa,
            "verify_identity" | "verify_full" => SslMode::VerifyIdentity,
            _ => return None,
        })
    }
}

/// A password that never prints: `Debug` and `Display` show `***`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a password.
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    /// The password itself. Keep it out of logs.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "***" })
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[derive(Clone, Debug)]
struct Inner {
    host: String,
    port: u16,
    socket: Option<PathBuf>,
    user: String,
    password: Secret,
    db_name: Option<String>,
    connect_timeout: Option<Duration>,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    max_allowed_packet: Option<u32>,
    cancel_timeout: Duration,
    max_concurrent_connects: Option<usize>,
    charset: String,
    init_sql: Vec<String>,
    io_mode: IoMode,
    multi_statements: bool,
    ssl_mode: SslMode,
    ssl_ca: Option<PathBuf>,
    ssl_cert: Option<PathBuf>,
    ssl_key: Option<PathBuf>,
    stmt_cache_size: usize,
    client_side_params: bool,
    trace_statement_text: bool,
    coroutine_stack_size: usize,
    /// Hosts after the first (`host`, `port`), tried in `host_order`.
    extra_hosts: Vec<(String, u16)>,
    target: Target,
    host_order: HostOrder,
    deny_duration: Duration,
    track_gtid: Option<bool>,
    /// One host of a list whose target was `Primary` (see `Opts::for_host`).
    from_primary_target: bool,
}

/// How long a host that could not be reached stays at the end of the host
/// list (see [`OptsBuilder::deny_duration`]).
pub const DEFAULT_DENY_DURATION: Duration = Duration::from_secs(30);

/// Statements each connection keeps prepared (see
/// [`OptsBuilder::stmt_cache_size`]).
pub const DEFAULT_STMT_CACHE_SIZE: usize = 256;

/// Handshakes one process runs at once to one server (see
/// [`OptsBuilder::max_concurrent_connects`]).
pub const DEFAULT_MAX_CONCURRENT_CONNECTS: usize = 64;

/// The size in bytes of the stack MariaDB Connector/C gives each connection's
/// co-routine unless [`OptsBuilder::coroutine_stack_size`] says otherwise: 28 KiB,
/// four times the deepest use measured (6,952 bytes: a connect that loads the
/// `client_ed25519` plugin; TLS traffic reaches 6.5 KB, everything else under
/// 1 KB), rounded up to whole pages. The library's own default is 256 KiB
/// (Connector/C 3.3). `tests/coroutine_stack.rs` measures every operation and
/// fails if the margin shrinks below four; the README's "Co-routine stack" has
/// the figures.
pub const DEFAULT_COROUTINE_STACK_SIZE: usize = 4096 * 7;

/// The smallest co-routine stack accepted (see
/// [`OptsBuilder::coroutine_stack_size`]): 16 KiB, twice the deepest use measured,
/// rounded up to whole pages. A smaller value is an [`ErrorKind::Config`] error:
/// the stack has no guard page, so a stack too small would corrupt memory.
pub const MIN_COROUTINE_STACK_SIZE: usize = 4096 * 4;

impl Default for Inner {
    fn default() -> Inner {
        Inner {
            host: "localhost".into(),
            port: 3306,
            socket: None,
            user: "root".into(),
            password: Secret::default(),
            db_name: None,
            connect_timeout: Some(Duration::from_secs(10)),
            read_timeout: None,
            write_timeout: None,
            max_allowed_packet: None,
            cancel_timeout: Duration::from_secs(1),
            max_concurrent_connects: Some(DEFAULT_MAX_CONCURRENT_CONNECTS),
            charset: "utf8mb4".into(),
            init_sql: Vec::new(),
            io_mode: IoMode::default(),
            multi_statements: true,
            ssl_mode: SslMode::default(),
            ssl_ca: None,
            ssl_cert: None,
            ssl_key: None,
            stmt_cache_size: DEFAULT_STMT_CACHE_SIZE,
            client_side_params: false,
            trace_statement_text: false,
            coroutine_stack_size: DEFAULT_COROUTINE_STACK_SIZE,
            extra_hosts: Vec::new(),
            target: Target::Any,
            host_order: HostOrder::Sequential,
            deny_duration: DEFAULT_DENY_DURATION,
            track_gtid: None,
            from_primary_target: false,
        }
    }
}

/// Connection options: from a `mysql://` URL ([`Opts::from_url`], which lists the
/// URL parameters) or a builder ([`Opts::builder`]). Every `connect` and
/// [`Pool::builder`](crate::Pool::builder) accepts either, or a URL string
/// ([`IntoOpts`]). Cloning is cheap (one reference count).
///
/// ```
/// use mysqlclient_async::Opts;
/// use std::time::Duration;
///
/// let opts = Opts::from_url("mysql://app:s3cret@db.internal:3306/shop?connect_timeout=5").unwrap();
/// assert_eq!(opts.host(), "db.internal");
/// assert_eq!(opts.connect_timeout(), Some(Duration::from_secs(5)));
/// // The password never shows up in Debug output.
/// assert!(!format!("{opts:?}").contains("s3cret"));
///
/// let opts = Opts::builder()
///     .socket("/run/mysqld/mysqld.sock")
///     .user("root")
///     .db_name("test")
///     .init_sql("SET time_zone = '+00:00'")
///     .build();
/// assert_eq!(opts.socket(), Some(std::path::Path::new("/run/mysqld/mysqld.sock")));
/// ```
#[derive(Clone)]
pub struct Opts(Arc<Inner>);

impl Default for Opts {
    fn default() -> Opts {
        Opts(Arc::new(Inner::default()))
    }
}

impl fmt::Debug for Opts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Inner's derived Debug prints the password through `Secret`, i.e. as ***.
        self.0.fmt(f)
    }
}

impl Opts {
    /// Start from defaults: `root@localhost:3306`, no password, utf8mb4,
    /// 10 s connect timeout, multi-statements on, TLS disabled, non-blocking I/O.
    pub fn builder() -> OptsBuilder {
        OptsBuilder(Inner::default())
    }

    /// Parse `mysql://user:pass@host:port/db?param=value&…` (`mariadb://` works too).
    ///
    /// User, password and database are percent-decoded. Parameters (each one is
    /// also an [`OptsBuilder`] method, which gives its default):
    ///
    /// | parameter | value |
    /// |---|---|
    /// | `socket` | unix socket path |
    /// | `connect_timeout`, `read_timeout`, `write_timeout`, `cancel_timeout` | seconds, fractions allowed |
    /// | `max_allowed_packet` | bytes |
    /// | `max_concurrent_connects` | handshakes at once to one server (`0`: no limit) |
    /// | `charset` | character set name |
    /// | `init` | SQL run after connecting; repeat for several |
    /// | `multi_statements`, `client_side_params`, `trace_statement_text` | `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`) |
    /// | `stmt_cache_size` | number of statements |
    /// | `coroutine_stack_size` | bytes (MariaDB Connector/C only; ignored elsewhere) |
    /// | `io_mode` | `nonblocking` or `readable_then_read` |
    /// | `ssl_mode` (or `sslmode`) | `disabled`, `preferred`, `required`, `verify_ca`, `verify_identity` |
    /// | `ssl_ca`, `ssl_cert`, `ssl_key` | file paths |
    /// | `target` (or libpq's `target_session_attrs`) | `any`, `primary` (`read-write`), `replica` (`read-only`, `standby`), `prefer_replica` (`prefer-standby`) |
    /// | `host_order` (or libpq's `load_balance_hosts`) | `sequential` (`disable`) or `random` |
    /// | `deny_for` | seconds an unreachable host is tried last |
    /// | `track_gtid` | `true`/`false`: the GTID of each write (see [`OptsBuilder::track_gtid`]) |
    ///
    /// Several hosts are separated by commas: `mysql://u:p@db1:3306,db2:3306,[::1]:3307/app`
    /// (a host without a port gets 3306). See [`OptsBuilder::add_host`].
    ///
    /// The names other drivers use for the same options are accepted too:
    /// sqlx's `ssl-mode`/`sslmode`, `ssl-ca`/`sslca`, `ssl-cert`/`sslcert`,
    /// `ssl-key`/`sslkey` and `statement-cache-capacity`; `sslMode` and
    /// `sslrootcert`; mysql_async's `require_ssl` with `verify_ca` and
    /// `verify_identity` (TLS with the certificate and host checked unless those
    /// say `false`), `prefer_socket=false` and `tcp_nodelay=true` (what every
    /// connection does anyway). Their options that have no equivalent here
    /// (`compression`, `pool_max`, …) are an error that says so, and so is an
    /// unknown parameter (naming the closest known one), or one option given two
    /// different values.
    ///
    /// ```
    /// use mysqlclient_async::{Opts, SslMode};
    ///
    /// let sqlx = Opts::from_url("mysql://h/db?ssl-mode=VERIFY_CA&ssl-ca=/ca.pem").unwrap();
    /// assert_eq!(sqlx.ssl_mode(), SslMode::VerifyCa);
    /// let e = Opts::from_url("mysql://h/db?sslmod=required").unwrap_err();
    /// assert!(e.to_string().contains("did you mean `ssl_mode`?"));
    /// ```
    pub fn from_url(url: &str) -> Result<Opts> {
        let bad = |msg: String| Error::new(ErrorKind::Config, msg).with_fatal(false);
        let (url, extra_hosts) = split_host_list(url)?;
        let u = url::Url::parse(&url).map_err(|e| bad(format!("invalid URL: {e}")))?;
        if u.scheme() != "mysql" && u.scheme() != "mariadb" {
            return Err(bad(format!(
                "URL scheme must be mysql:// or mariadb://, got {}://",
                u.scheme()
            )));
        }
        let mut b = Opts::builder();
        if let Some(host) = u.host_str() {
            let host = host.trim_start_matches('[').trim_end_matches(']');
            b = b.host(host);
        }
        if let Some(port) = u.port() {
            b = b.port(port);
        }
        for (host, port) in extra_hosts {
            b = b.add_host(host, port);
        }
        let decode = |s: &str| -> Result<String> {
            percent_encoding_decode(s).ok_or_else(|| {
                bad("URL user or password is not valid UTF-8 after percent-decoding".into())
            })
        };
        if !u.username().is_empty() {
            b = b.user(decode(u.username())?);
        }
        if let Some(p) = u.password() {
            b = b.password(decode(p)?);
        }
        let path = u.path().trim_start_matches('/');
        if !path.is_empty() {
            b = b.db_name(decode(path)?);
        }
        let mut seen: Vec<(&'static str, String, String)> = Vec::new();
        // mysql_async's TLS switches, combined into an `ssl_mode` at the end.
        let (mut require_ssl, mut verify_ca, mut verify_identity) = (None, true, true);
        for (k, v) in u.query_pairs() {
            let Some(name) = url_option(&k)? else {
                return Err(bad(unknown_option(&k)));
            };
            let secs = |v: &str| -> Result<Duration> {
                v.parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s >= 0.0)
                    .map(Duration::from_secs_f64)
                    .ok_or_else(|| bad(format!("{k}={v}: expected a number of seconds")))
            };
            let flag = |v: &str| -> Result<bool> {
                match v.to_ascii_lowercase().as_str() {
                    "1" | "true" | "yes" | "on" => Ok(true),
                    "0" | "false" | "no" | "off" => Ok(false),
                    _ => Err(bad(format!("{k}={v}: expected true or false"))),
                }
            };
            let ssl_mode = |v: &str| {
                SslMode::parse(v).ok_or_else(|| {
                    bad(format!(
                        "{k}={v}: expected disabled, preferred, required, verify_ca or verify_identity"
                    ))
                })
            };
            // The value as it takes effect, to compare with an earlier one.
            let value: String;
            (b, value) = match name {
                "socket" => (b.socket(v.as_ref()), v.to_string()),
                "connect_timeout" => {
                    let t = secs(&v)?;
                    (b.connect_timeout(t), format!("{t:?}"))
                }
                "read_timeout" => {
                    let t = secs(&v)?;
                    (b.read_timeout(t), format!("{t:?}"))
                }
                "write_timeout" => {
                    let t = secs(&v)?;
                    (b.write_timeout(t), format!("{t:?}"))
                }
                "cancel_timeout" => {
                    let t = secs(&v)?;
                    (b.cancel_timeout(t), format!("{t:?}"))
                }
                "max_allowed_packet" => {
                    let n = v
                        .parse::<u32>()
                        .map_err(|_| bad(format!("{k}={v}: expected a number of bytes")))?;
                    (b.max_allowed_packet(n), n.to_string())
                }
                "max_concurrent_connects" => {
                    let n = v.parse::<usize>().map_err(|_| {
                        bad(format!(
                            "{k}={v}: expected a number of handshakes (0: no limit)"
                        ))
                    })?;
                    (b.max_concurrent_connects(n), n.to_string())
                }
                "charset" => (b.charset(v.as_ref()), v.to_string()),
                "init" => {
                    b = b.init_sql(v.as_ref());
                    continue; // repeatable: each adds a statement
                }
                "multi_statements" => {
                    let on = flag(&v)?;
                    (b.multi_statements(on), on.to_string())
                }
                "stmt_cache_size" => {
                    let n = v
                        .parse::<usize>()
                        .map_err(|_| bad(format!("{k}={v}: expected a number of statements")))?;
                    (b.stmt_cache_size(n), n.to_string())
                }
                "coroutine_stack_size" => {
                    let n = v
                        .parse::<usize>()
                        .map_err(|_| bad(format!("{k}={v}: expected a number of bytes")))?;
                    check_coroutine_stack_size(n)?;
                    (b.coroutine_stack_size(n), n.to_string())
                }
                "client_side_params" => {
                    let on = flag(&v)?;
                    (b.client_side_params(on), on.to_string())
                }
                "trace_statement_text" => {
                    let on = flag(&v)?;
                    (b.trace_statement_text(on), on.to_string())
                }
                "io_mode" => {
                    let mode = match v.as_ref() {
                        "nonblocking" | "non_blocking" => IoMode::NonBlocking,
                        "readable_then_read" | "chartio" => IoMode::ReadableThenRead,
                        _ => {
                            return Err(bad(format!(
                                "{k}={v}: expected nonblocking or readable_then_read"
                            )))
                        }
                    };
                    (b.io_mode(mode), format!("{mode:?}"))
                }
                "ssl_mode" => {
                    let mode = ssl_mode(&v)?;
                    (b.ssl_mode(mode), format!("{mode:?}"))
                }
                "target" => {
                    let t = Target::parse(&v).ok_or_else(|| {
                        bad(format!(
                            "{k}={v}: expected any, primary, replica or prefer_replica"
                        ))
                    })?;
                    (b.target(t), format!("{t:?}"))
                }
                "host_order" => {
                    let o = match v.to_ascii_lowercase().as_str() {
                        "sequential" | "disable" | "in_order" => HostOrder::Sequential,
                        "random" => HostOrder::Random,
                        _ => return Err(bad(format!("{k}={v}: expected sequential or random"))),
                    };
                    (b.host_order(o), format!("{o:?}"))
                }
                "deny_for" => {
                    let t = secs(&v)?;
                    (b.deny_duration(t), format!("{t:?}"))
                }
                "track_gtid" => {
                    let on = flag(&v)?;
                    (b.track_gtid(on), on.to_string())
                }
                "ssl_ca" => (b.ssl_ca(v.as_ref()), v.to_string()),
                "ssl_cert" => (b.ssl_cert(v.as_ref()), v.to_string()),
                "ssl_key" => (b.ssl_key(v.as_ref()), v.to_string()),
                "require_ssl" => {
                    let on = flag(&v)?;
                    require_ssl = Some(on);
                    (b, on.to_string())
                }
                "verify_ca" => {
                    verify_ca = flag(&v)?;
                    (b, verify_ca.to_string())
                }
                "verify_identity" => {
                    verify_identity = flag(&v)?;
                    (b, verify_identity.to_string())
                }
                "prefer_socket" => {
                    if flag(&v)? {
                        return Err(bad(format!(
                            "{k}={v} is not supported: a connection never switches from TCP \
                             to the server's unix socket by itself; name the socket with \
                             `socket=/path/to/mysqld.sock` (prefer_socket=false is accepted: \
                             it is what every connection does)"
                        )));
                    }
                    (b, "false".into())
                }
                "tcp_nodelay" => {
                    if !flag(&v)? {
                        return Err(bad(format!(
                            "{k}={v} is not supported: the client library always sets \
                             TCP_NODELAY (tcp_nodelay=true is accepted)"
                        )));
                    }
                    (b, "true".into())
                }
                other => {
                    return Err(bad(format!(
                        "{k}={v}: option `{other}` is recognised but not handled (a bug in \
                         this crate: please report it)"
                    )))
                }
            };
            match seen.iter().find(|(n, _, _)| *n == name) {
                Some((_, first, was)) if *was != value => {
                    return Err(bad(format!(
                        "conflicting URL options: `{first}` and `{k}={v}` both set {name}"
                    )));
                }
                Some(_) => {}
                None => seen.push((name, format!("{k}={v}"), value)),
            }
        }
        if let Some(on) = require_ssl {
            // mysql_async: TLS with the certificate and host name checked unless
            // `verify_ca=false` / `verify_identity=false` say otherwise.
            let mode = match (on, verify_ca, verify_identity) {
                (false, _, _) => SslMode::Disabled,
                (true, false, _) => SslMode::Required,
                (true, true, false) => SslMode::VerifyCa,
                (true, true, true) => SslMode::VerifyIdentity,
            };
            if let Some((_, first, was)) = seen.iter().find(|(n, _, _)| *n == "ssl_mode") {
                if *was != format!("{mode:?}") {
                    return Err(bad(format!(
                        "conflicting URL options: `{first}` and require_ssl={on} \
                         (with verify_ca={verify_ca}, verify_identity={verify_identity}: \
                         ssl_mode={mode:?}) both set ssl_mode"
                    )));
                }
            }
            b = b.ssl_mode(mode);
        }
        Ok(b.build())
    }

    /// For `SslMode::Preferred`: the options to retry with when TLS cannot be
    /// established (error 2026), i.e. the same options with TLS disabled.
    pub(crate) fn plain_text_fallback(&self, e: &Error) -> Option<Opts> {
        const CR_SSL_CONNECTION_ERROR: u32 = 2026;
        (self.ssl_mode() == SslMode::Preferred && e.code() == Some(CR_SSL_CONNECTION_ERROR))
            .then(|| self.to_builder().ssl_mode(SslMode::Disabled).build())
    }

    /// A builder that starts from these options.
    pub fn to_builder(&self) -> OptsBuilder {
        OptsBuilder((*self.0).clone())
    }

    /// Host name or IP address (ignored when [`socket`](Self::socket) is set).
    pub fn host(&self) -> &str {
        &self.0.host
    }

    /// Every host to connect to, in the order listed: the first is
    /// [`host`](Self::host) and [`port`](Self::port), the others were added with
    /// [`OptsBuilder::add_host`] or listed in the URL.
    pub fn hosts(&self) -> Vec<HostAddr> {
        std::iter::once((self.0.host.as_str(), self.0.port))
            .chain(self.0.extra_hosts.iter().map(|(h, p)| (h.as_str(), *p)))
            .map(|(h, p)| HostAddr {
                host: h.to_string(),
                port: p,
            })
            .collect()
    }

    /// The kind of server a connection must land on.
    pub fn target(&self) -> Target {
        self.0.target
    }

    /// The order in which the hosts are tried.
    pub fn host_order(&self) -> HostOrder {
        self.0.host_order
    }

    /// How long an unreachable host is tried last.
    pub fn deny_duration(&self) -> Duration {
        self.0.deny_duration
    }

    /// Whether the GTID of each write is tracked (see [`OptsBuilder::track_gtid`]).
    pub fn track_gtid(&self) -> bool {
        self.0
            .track_gtid
            .unwrap_or(self.0.target == Target::Primary || self.0.from_primary_target)
    }

    /// Whether GTID tracking was asked for explicitly: then a server that cannot
    /// report GTIDs (MySQL, MariaDB before 10.3) is an error; when it is only the
    /// default of `target=primary`, such a server just reports none.
    pub(crate) fn track_gtid_required(&self) -> bool {
        self.0.track_gtid == Some(true)
    }

    /// Whether a connect must pick among hosts or check the server's role.
    pub(crate) fn is_routed(&self) -> bool {
        !self.0.extra_hosts.is_empty() || self.0.target != Target::Any
    }

    /// The same options for one host of the list.
    pub(crate) fn for_host(&self, host: &str, port: u16) -> Opts {
        let mut inner = (*self.0).clone();
        inner.host = host.to_string();
        inner.port = port;
        inner.extra_hosts.clear();
        // The role was chosen among the list: a connection made again with these
        // options (a cancel token's) goes to this host whatever its role now.
        inner.from_primary_target |= inner.target == Target::Primary;
        inner.target = Target::Any;
        Opts(Arc::new(inner))
    }
    /// TCP port.
    pub fn port(&self) -> u16 {
        self.0.port
    }
    /// Unix socket path, if connecting over a socket.
    pub fn socket(&self) -> Option<&Path> {
        self.0.socket.as_deref()
    }
    /// User name.
    pub fn user(&self) -> &str {
        &self.0.user
    }
    /// The password (printing it shows `***`).
    pub fn password(&self) -> &Secret {
        &self.0.password
    }
    /// Default database.
    pub fn db_name(&self) -> Option<&str> {
        self.0.db_name.as_deref()
    }
    /// Connect timeout (TCP connect plus handshake).
    pub fn connect_timeout(&self) -> Option<Duration> {
        self.0.connect_timeout
    }
    /// Read timeout for every network read (library-level; whole seconds).
    pub fn read_timeout(&self) -> Option<Duration> {
        self.0.read_timeout
    }
    /// Write timeout for every network write (library-level; whole seconds).
    pub fn write_timeout(&self) -> Option<Duration> {
        self.0.write_timeout
    }
    /// How long stopping a query may take (default 1 s): the side connection that
    /// sends `KILL QUERY`, and the recovery after a query timeout (see
    /// [`AsyncConn::set_query_timeout`](crate::AsyncConn::set_query_timeout)).
    pub fn cancel_timeout(&self) -> Duration {
        self.0.cancel_timeout
    }
    /// The largest packet the client library sends or accepts (its default, 1 GiB,
    /// when `None`). A larger packet from the server breaks the connection.
    pub fn max_allowed_packet(&self) -> Option<u32> {
        self.0.max_allowed_packet
    }
    /// How many handshakes this process runs at once to this server (`None`: no
    /// limit). See [`OptsBuilder::max_concurrent_connects`].
    pub fn max_concurrent_connects(&self) -> Option<usize> {
        self.0.max_concurrent_connects
    }
    /// How many prepared statements each connection keeps beyond those a
    /// [`Statement`](crate::Statement) handle pins (default 256).
    pub fn stmt_cache_size(&self) -> usize {
        self.0.stmt_cache_size
    }
    /// The size in bytes of the co-routine stack MariaDB Connector/C allocates for
    /// this connection (default [`DEFAULT_COROUTINE_STACK_SIZE`]); see
    /// [`OptsBuilder::coroutine_stack_size`].
    pub fn coroutine_stack_size(&self) -> usize {
        self.0.coroutine_stack_size
    }
    /// Whether `exec*` fills in parameters on the client instead of using
    /// server-side prepared statements (default `false`).
    pub fn client_side_params(&self) -> bool {
        self.0.client_side_params
    }
    /// Whether query spans record the statement text (`db.query.text`; default
    /// `false`). See [`OptsBuilder::trace_statement_text`].
    pub fn trace_statement_text(&self) -> bool {
        self.0.trace_statement_text
    }
    /// Connection character set (default `utf8mb4`).
    pub fn charset(&self) -> &str {
        &self.0.charset
    }
    /// SQL statements run, in order, on every new connection.
    pub fn init_sql(&self) -> &[String] {
        &self.0.init_sql
    }
    /// How I/O is driven on an event loop.
    pub fn io_mode(&self) -> IoMode {
        self.0.io_mode
    }
    /// Whether `a; b` in one query string is allowed (multiple result sets).
    pub fn multi_statements(&self) -> bool {
        self.0.multi_statements
    }
    /// TLS policy.
    pub fn ssl_mode(&self) -> SslMode {
        self.0.ssl_mode
    }
    /// CA certificate file.
    pub fn ssl_ca(&self) -> Option<&Path> {
        self.0.ssl_ca.as_deref()
    }
    /// Client certificate file.
    pub fn ssl_cert(&self) -> Option<&Path> {
        self.0.ssl_cert.as_deref()
    }
    /// Client key file.
    pub fn ssl_key(&self) -> Option<&Path> {
        self.0.ssl_key.as_deref()
    }
}

/// The URL options: each name as it may be written, and the option it sets.
/// Ours first; then the names of mysql_async and sqlx (and the `sslMode` /
/// `sslrootcert` forms of other clients) that mean the same. `require_ssl`,
/// `verify_ca` and `verify_identity` are mysql_async's TLS switches, combined
/// into an `ssl_mode`.
const URL_OPTIONS: &[(&str, &str)] = &[
    ("socket", "socket"),
    ("connect_timeout", "connect_timeout"),
    ("read_timeout", "read_timeout"),
    ("write_timeout", "write_timeout"),
    ("cancel_timeout", "cancel_timeout"),
    ("max_allowed_packet", "max_allowed_packet"),
    ("max_concurrent_connects", "max_concurrent_connects"),
    ("charset", "charset"),
    ("init", "init"),
    ("multi_statements", "multi_statements"),
    ("stmt_cache_size", "stmt_cache_size"),
    ("coroutine_stack_size", "coroutine_stack_size"),
    ("client_side_params", "client_side_params"),
    ("trace_statement_text", "trace_statement_text"),
    ("io_mode", "io_mode"),
    ("ssl_mode", "ssl_mode"),
    ("ssl_ca", "ssl_ca"),
    ("ssl_cert", "ssl_cert"),
    ("ssl_key", "ssl_key"),
    ("target", "target"),
    ("host_order", "host_order"),
    ("deny_for", "deny_for"),
    ("track_gtid", "track_gtid"),
    // libpq
    ("target_session_attrs", "target"),
    ("load_balance_hosts", "host_order"),
    // sqlx
    ("ssl-mode", "ssl_mode"),
    ("sslmode", "ssl_mode"),
    ("ssl-ca", "ssl_ca"),
    ("sslca", "ssl_ca"),
    ("ssl-cert", "ssl_cert"),
    ("sslcert", "ssl_cert"),
    ("ssl-key", "ssl_key"),
    ("sslkey", "ssl_key"),
    ("statement-cache-capacity", "stmt_cache_size"),
    // JDBC and libpq spellings
    ("sslMode", "ssl_mode"),
    ("sslrootcert", "ssl_ca"),
    // mysql_async
    ("require_ssl", "require_ssl"),
    ("verify_ca", "verify_ca"),
    ("verify_identity", "verify_identity"),
    ("prefer_socket", "prefer_socket"),
    ("tcp_nodelay", "tcp_nodelay"),
];

/// A co-routine stack size below [`MIN_COROUTINE_STACK_SIZE`] is a configuration
/// error (on every backend, so that options valid on one are valid on all).
pub(crate) fn check_coroutine_stack_size(n: usize) -> Result<()> {
    if n < MIN_COROUTINE_STACK_SIZE {
        return Err(Error::new(
            ErrorKind::Config,
            format!(
                "coroutine_stack_size {n} is below the smallest accepted, \
                 {MIN_COROUTINE_STACK_SIZE} bytes (the client library's co-routine \
                 stack has no guard page: a stack too small corrupts memory)"
            ),
        )
        .with_fatal(false));
    }
    Ok(())
}

/// Options of mysql_async and sqlx with no equivalent here, and why.
const URL_UNSUPPORTED: &[(&str, &str)] = &[
    (
        "compression",
        "the protocol's compression is not supported by this crate",
    ),
    (
        "collation",
        "set the collation with `init=SET NAMES <charset> COLLATE <collation>`",
    ),
    (
        "connection-attributes",
        "connection attributes are not sent by this crate",
    ),
    (
        "pool_min",
        "pool settings are not read from the URL: use `Pool::builder(url).min_idle(n)`",
    ),
    (
        "pool_max",
        "pool settings are not read from the URL: use `Pool::builder(url).max_size(n)`",
    ),
    (
        "conn_ttl",
        "pool settings are not read from the URL: use `Pool::builder(url).idle_timeout(t)`",
    ),
    (
        "inactive_connection_ttl",
        "pool settings are not read from the URL: use `Pool::builder(url).idle_timeout(t)`",
    ),
    (
        "abs_conn_ttl",
        "pool settings are not read from the URL: use `Pool::builder(url).max_lifetime(t)`",
    ),
    (
        "abs_conn_ttl_jitter",
        "the pool has no jitter on `max_lifetime`",
    ),
    (
        "ttl_check_interval",
        "the pool checks a connection's age and idle time at each checkout",
    ),
    (
        "reset_connection",
        "pool settings are not read from the URL: use `Pool::builder(url).reset_on_return(b)`",
    ),
    (
        "wait_timeout",
        "set it with `init=SET SESSION wait_timeout = N`",
    ),
    (
        "tcp_keepalive",
        "TCP keep-alive is not configurable in this crate",
    ),
    (
        "enable_cleartext_plugin",
        "the client library's authentication plugins are not configurable here",
    ),
    (
        "secure_auth",
        "the client library's authentication plugins are not configurable here",
    ),
    (
        "client_found_rows",
        "affected rows are always the rows changed (CLIENT_FOUND_ROWS is not set)",
    ),
];

/// The option a URL key sets; `Ok(None)` if the key is unknown, an error if it
/// is another driver's option that has no equivalent here.
fn url_option(key: &str) -> Result<Option<&'static str>> {
    if let Some((_, name)) = URL_OPTIONS.iter().find(|(k, _)| *k == key) {
        return Ok(Some(name));
    }
    if let Some((k, why)) = URL_UNSUPPORTED.iter().find(|(k, _)| *k == key) {
        return Err(Error::new(
            ErrorKind::Config,
            format!("URL option `{k}` is not supported: {why}"),
        )
        .with_fatal(false));
    }
    Ok(None)
}

/// The error text for an unknown URL option, naming the closest known one (as
/// our name) when it is a few edits away.
fn unknown_option(key: &str) -> String {
    let lower = key.to_ascii_lowercase();
    let best = URL_OPTIONS
        .iter()
        .map(|&(k, name)| (edit_distance(&lower, &k.to_ascii_lowercase()), name))
        .chain(
            URL_UNSUPPORTED
                .iter()
                .map(|&(k, _)| (edit_distance(&lower, k), k)),
        )
        .min_by_key(|&(d, _)| d);
    match best {
        Some((d, name)) if d <= (key.chars().count() / 3).clamp(1, 3) => {
            format!("unknown option `{key}`; did you mean `{name}`?")
        }
        _ => {
            let ours: Vec<&str> = URL_OPTIONS
                .iter()
                .filter(|(k, name)| k == name)
                .map(|(k, _)| *k)
                .collect();
            format!(
                "unknown option `{key}`; the options are {}",
                ours.join(", ")
            )
        }
    }
}

/// Levenshtein distance (insertions, deletions, substitutions) between `a` and
/// `b`, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let next = (diag + usize::from(ca != cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

fn percent_encoding_decode(s: &str) -> Option<String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// Anything a connection can be made from: a URL (`&str`, `String`), an [`Opts`]
/// (owned or borrowed), or an [`OptsBuilder`].
pub trait IntoOpts {
    /// Convert (parsing a URL may fail with [`ErrorKind::Config`]).
    fn into_opts(self) -> Result<Opts>;
}

impl IntoOpts for Opts {
    fn into_opts(self) -> Result<Opts> {
        Ok(self)
    }
}

impl IntoOpts for &Opts {
    fn into_opts(self) -> Result<Opts> {
        Ok(self.clone())
    }
}

impl IntoOpts for OptsBuilder {
    fn into_opts(self) -> Result<Opts> {
        Ok(self.build())
    }
}

impl IntoOpts for &str {
    fn into_opts(self) -> Result<Opts> {
        Opts::from_url(self)
    }
}

impl IntoOpts for String {
    fn into_opts(self) -> Result<Opts> {
        Opts::from_url(&self)
    }
}

impl IntoOpts for &String {
    fn into_opts(self) -> Result<Opts> {
        Opts::from_url(self)
    }
}

impl From<OptsBuilder> for Opts {
    fn from(b: OptsBuilder) -> Opts {
        b.build()
    }
}

/// Builder for [`Opts`]. Every setter consumes and returns the builder.
#[derive(Clone, Debug)]
pub struct OptsBuilder(Inner);

impl OptsBuilder {
    /// Host name or IP address. Names are resolved on the async runtime, not inside
    /// the C library (whose resolver blocks).
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.0.host = host.into();
        self
    }
    /// TCP port (default 3306).
    pub fn port(mut self, port: u16) -> Self {
        self.0.port = port;
        self
    }
    /// Connect over this unix socket instead of TCP.
    pub fn socket(mut self, path: impl Into<PathBuf>) -> Self {
        self.0.socket = Some(path.into());
        self
    }
    /// User name (default `root`).
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.0.user = user.into();
        self
    }
    /// Password.
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.0.password = Secret::new(password);
        self
    }
    /// Default database.
    pub fn db_name(mut self, db: impl Into<String>) -> Self {
        self.0.db_name = Some(db.into());
        self
    }
    /// Connect timeout (`None` for the library default). Default 10 s.
    pub fn connect_timeout(mut self, t: impl Into<Option<Duration>>) -> Self {
        self.0.connect_timeout = t.into();
        self
    }
    /// Library-level read timeout (rounded up to whole seconds). It bounds each
    /// blocking read: every read of [`Conn`](crate::Conn), and on the
    /// [`IoMode::ReadableThenRead`] path, where it defaults to the connect timeout,
    /// the reads after a result's first byte. Non-blocking reads have the query
    /// timeout instead.
    pub fn read_timeout(mut self, t: impl Into<Option<Duration>>) -> Self {
        self.0.read_timeout = t.into();
        self
    }
    /// Library-level write timeout (rounded up to whole seconds); on the
    /// [`IoMode::ReadableThenRead`] path it defaults to the connect timeout.
    pub fn write_timeout(mut self, t: impl Into<Option<Duration>>) -> Self {
        self.0.write_timeout = t.into();
        self
    }
    /// How long stopping a query may take (default 1 s): connecting the side
    /// connection and sending `KILL QUERY` (see [`CancelToken`](crate::CancelToken)),
    /// and the whole recovery after a query timeout, which is therefore bounded by
    /// the query timeout plus this. Keep it above a few round trips to the server.
    pub fn cancel_timeout(mut self, t: Duration) -> Self {
        self.0.cancel_timeout = t;
        self
    }
    /// How many connects this process runs at once to one server (default 64;
    /// URL `max_concurrent_connects=N`; `0`: no limit). The others wait their turn
    /// in a first-come, first-served queue shared by every [`AsyncConn`](crate::AsyncConn)
    /// and [`Pool`](crate::Pool) of the process with the same target (host and port,
    /// or socket) and limit. A storm of thousands of connects (a cold pool under
    /// load) then never overflows the server's listen queue (`back_log`, 80 on a
    /// default MariaDB) nor its handshake timer, which would drop connections.
    ///
    /// The connect timeout starts when a connect's turn comes: the wait in the
    /// queue does not eat into its handshake. A queue that moves is waited out
    /// however long it is; a connect gives up waiting (an
    /// [`ErrorKind::Connect`](crate::ErrorKind::Connect) error that names the
    /// queue) once it has waited for the connect timeout and no connect to that
    /// server has succeeded for as long, so a server that answers nobody fails
    /// the queued connects too. Through a [`Pool`](crate::Pool), the pool's
    /// acquire timeout bounds the wait and the handshake together. The blocking
    /// [`Conn`](crate::Conn) does not queue.
    pub fn max_concurrent_connects(mut self, n: usize) -> Self {
        self.0.max_concurrent_connects = (n > 0).then_some(n);
        self
    }
    /// How many prepared statements each connection keeps (default 256; URL
    /// `stmt_cache_size=N`). `exec` with SQL text prepares a statement once per
    /// connection and takes it from this cache afterwards. Beyond this size the
    /// least recently used statements that no [`Statement`](crate::Statement)
    /// handle pins are closed on the server by the connection's next command. With
    /// 0, every `exec` with SQL text prepares, executes and closes.
    pub fn stmt_cache_size(mut self, n: usize) -> Self {
        self.0.stmt_cache_size = n;
        self
    }
    /// The size in bytes of the stack MariaDB Connector/C allocates for each
    /// connection's co-routine, on which every non-blocking step runs (default
    /// [`DEFAULT_COROUTINE_STACK_SIZE`]; URL `coroutine_stack_size=N`).
    ///
    /// The library allocates it with `malloc` when the connection is made, with no
    /// guard page below it: a stack too small for the deepest step corrupts the
    /// heap instead of failing cleanly. A size below [`MIN_COROUTINE_STACK_SIZE`] is
    /// therefore refused with an [`ErrorKind::Config`] error when connecting. See
    /// the README's "Co-routine stack" design note for the measured depths.
    ///
    /// Only the `mariadb` backend has a co-routine (see [`crate::backend`]); the
    /// `oracle` and `portable` backends, and [`IoMode::ReadableThenRead`]
    /// connections, check the value and otherwise ignore it.
    pub fn coroutine_stack_size(mut self, bytes: usize) -> Self {
        self.0.coroutine_stack_size = bytes;
        self
    }
    /// Fill in `exec*` parameters on the client and send text, instead of using
    /// server-side prepared statements (default `false`; URL
    /// `client_side_params=true`). For proxies that do not support prepared
    /// statements, and for text with several statements. See the README's
    /// "Parameters and values" for how each path keeps values apart from SQL.
    pub fn client_side_params(mut self, on: bool) -> Self {
        self.0.client_side_params = on;
        self
    }
    /// Record each query's text in its `tracing` span, as the OpenTelemetry field
    /// `db.query.text` (default `false`; URL `trace_statement_text=true`).
    ///
    /// Off by default because statement text can hold personal data. The text is
    /// the statement as written, with its `?` placeholders: the values of
    /// parameters are never recorded, also where they are written into the text
    /// on the client (see [`client_side_params`](Self::client_side_params)). A
    /// query written with its values inline is recorded with them.
    ///
    /// Every query has a span (target `mysqlclient_async::query`, level DEBUG)
    /// whether or not this is set; see the README's "Tracing".
    pub fn trace_statement_text(mut self, on: bool) -> Self {
        self.0.trace_statement_text = on;
        self
    }
    /// The largest packet the client library sends or accepts, in bytes (default:
    /// the library's, 1 GiB). A larger result row breaks the connection with error
    /// 2020; a larger command is refused before it is sent.
    pub fn max_allowed_packet(mut self, bytes: impl Into<Option<u32>>) -> Self {
        self.0.max_allowed_packet = bytes.into();
        self
    }
    /// Connection character set (default `utf8mb4`).
    pub fn charset(mut self, charset: impl Into<String>) -> Self {
        self.0.charset = charset.into();
        self
    }
    /// Add a statement to run on every new connection (after connect, in order).
    pub fn init_sql(mut self, sql: impl Into<String>) -> Self {
        self.0.init_sql.push(sql.into());
        self
    }
    /// How I/O is driven on an event loop (default [`IoMode::NonBlocking`]).
    pub fn io_mode(mut self, mode: IoMode) -> Self {
        self.0.io_mode = mode;
        self
    }
    /// Allow several statements in one query string (default on).
    pub fn multi_statements(mut self, on: bool) -> Self {
        self.0.multi_statements = on;
        self
    }
    /// TLS policy (default [`SslMode::Disabled`]; see [`SslMode`]).
    pub fn ssl_mode(mut self, mode: SslMode) -> Self {
        self.0.ssl_mode = mode;
        self
    }
    /// CA certificate file for `VerifyCa`/`VerifyIdentity`.
    pub fn ssl_ca(mut self, path: impl Into<PathBuf>) -> Self {
        self.0.ssl_ca = Some(path.into());
        self
    }
    /// Client certificate file.
    pub fn ssl_cert(mut self, path: impl Into<PathBuf>) -> Self {
        self.0.ssl_cert = Some(path.into());
        self
    }
    /// Client private key file.
    pub fn ssl_key(mut self, path: impl Into<PathBuf>) -> Self {
        self.0.ssl_key = Some(path.into());
        self
    }
    /// Drop every init statement (for internal side connections, such as the one
    /// a `CancelToken` opens to send `KILL QUERY`).
    pub(crate) fn without_init_sql(mut self) -> Self {
        self.0.init_sql.clear();
        self
    }

    /// Add a host to try after the first (and any added before): for a primary
    /// with replicas, a Galera cluster, or several proxies. Each connect tries
    /// the hosts in [`host_order`](Self::host_order), skips those that cannot be
    /// reached (refused, timed out, gone: they go on a deny list for
    /// [`deny_duration`](Self::deny_duration), and are tried last while on it)
    /// and those whose role is not the [`target`](Self::target); an
    /// authentication error stops at once (the next host would say the same).
    /// Each attempt has its own `connect_timeout`. Not with a unix socket.
    pub fn add_host(mut self, host: impl Into<String>, port: u16) -> Self {
        self.0.extra_hosts.push((host.into(), port));
        self
    }

    /// The kind of server to connect to (default [`Target::Any`]). With any
    /// other target, or with more than one host, each connect checks the
    /// server's role and health after logging in (one query; see [`Target`]),
    /// and a [`Pool`](crate::Pool) checks it again at checkout after
    /// `ping_after_idle`, instead of a ping. A connection on a replica runs
    /// `SET SESSION TRANSACTION READ ONLY`.
    pub fn target(mut self, target: Target) -> Self {
        self.0.target = target;
        self
    }

    /// The order in which hosts are tried (default [`HostOrder::Sequential`]).
    pub fn host_order(mut self, order: HostOrder) -> Self {
        self.0.host_order = order;
        self
    }

    /// How long a host that could not be reached (or a Galera node that was not
    /// Synced) is tried last (default [`DEFAULT_DENY_DURATION`], 30 s; zero: never
    /// deny). The deny list is shared by every connection and pool of the process.
    pub fn deny_duration(mut self, d: Duration) -> Self {
        self.0.deny_duration = d;
        self
    }

    /// Track the GTID of each write (default: on for [`Target::Primary`], off
    /// otherwise). The connection asks the server to report `last_gtid` with
    /// session-state tracking (`session_track_system_variables`, MariaDB 10.3+),
    /// so the OK packet of each write carries it at no extra round trip:
    /// [`AsyncConn::last_gtid`](crate::AsyncConn::last_gtid) reads it, and
    /// [`Pool::get_caught_up`](crate::Pool::get_caught_up) waits for it on a
    /// replica.
    pub fn track_gtid(mut self, on: bool) -> Self {
        self.0.track_gtid = Some(on);
        self
    }

    /// Finish.
    pub fn build(self) -> Opts {
        Opts(Arc::new(self.0))
    }
}

/// One host of a list (see [`Opts::hosts`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostAddr {
    host: String,
    port: u16,
}

impl HostAddr {
    /// The host name or IP address.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl fmt::Display for HostAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::target::endpoint(&self.host, self.port))
    }
}

/// Hosts after the first of a URL's list.
type HostList = Vec<(String, u16)>;

/// Split `mysql://user:pass@h1:1,h2:2/db` into the URL with the first host only
/// (which `url` can parse) and the other hosts (a missing port is 3306).
fn split_host_list(url: &str) -> Result<(std::borrow::Cow<'_, str>, HostList)> {
    let bad = |msg: String| Error::new(ErrorKind::Config, msg).with_fatal(false);
    let Some(start) = url.find("://").map(|i| i + 3) else {
        return Ok((url.into(), Vec::new()));
    };
    let end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    let hosts_at = url[start..end].rfind('@').map_or(start, |i| start + i + 1);
    let list = &url[hosts_at..end];
    if !list.contains(',') {
        return Ok((url.into(), Vec::new()));
    }
    let mut parts = list.split(',');
    let first = parts.next().unwrap_or_default();
    let mut extra = Vec::new();
    for part in parts {
        let part = part.trim();
        let (host, port) = if let Some(rest) = part.strip_prefix('[') {
            let (h, after) = rest
                .split_once(']')
                .ok_or_else(|| bad(format!("host `{part}` in the URL's host list: missing `]`")))?;
            (h, after.strip_prefix(':'))
        } else {
            match part.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (part, None),
            }
        };
        if host.is_empty() || host.contains(':') && !part.starts_with('[') {
            return Err(bad(format!(
                "host `{part}` in the URL's host list: expected host, host:port or [ipv6]:port"
            )));
        }
        let port = match port {
            None => 3306,
            Some(p) => p.parse::<u16>().map_err(|_| {
                bad(format!(
                    "host `{part}` in the URL's host list: `{p}` is not a port"
                ))
            })?,
        };
        let host = percent_encoding_decode(host).ok_or_else(|| {
            bad(format!(
                "host `{part}` is not valid UTF-8 after percent-decoding"
            ))
        })?;
        extra.push((host, port));
    }
    if first.is_empty() {
        return Err(bad("the URL's host list starts with an empty host".into()));
    }
    let one = format!("{}{}{}", &url[..hosts_at], first, &url[end..]);
    Ok((one.into(), extra))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_full() {
        let o = Opts::from_url(
            "mysql://us%40er:p%3Ass@127.0.0.1:3307/db?socket=/tmp/s.sock&connect_timeout=2.5&read_timeout=3&init=SET%20a%3D1&init=SET%20b%3D2&ssl_mode=verify_ca&ssl_ca=/ca.pem&io_mode=readable_then_read",
        )
        .unwrap();
        assert_eq!(o.user(), "us@er");
        assert_eq!(o.password().expose(), "p:ss");
        assert_eq!(o.host(), "127.0.0.1");
        assert_eq!(o.port(), 3307);
        assert_eq!(o.db_name(), Some("db"));
        assert_eq!(o.socket(), Some(Path::new("/tmp/s.sock")));
        assert_eq!(o.connect_timeout(), Some(Duration::from_millis(2500)));
        assert_eq!(o.read_timeout(), Some(Duration::from_secs(3)));
        assert_eq!(o.init_sql(), ["SET a=1", "SET b=2"]);
        assert_eq!(o.ssl_mode(), SslMode::VerifyCa);
        assert_eq!(o.ssl_ca(), Some(Path::new("/ca.pem")));
        assert_eq!(o.io_mode(), IoMode::ReadableThenRead);
        assert!(!format!("{o:?}").contains("p:ss"));
    }

    #[test]
    fn url_errors() {
        for bad in [
            "http://x/",
            "not a url",
            "mysql://h/?connect_timeout=abc",
            "mysql://h/?what=1",
            "mysql://h/?ssl_mode=sometimes",
            "mysql://h:99999/",
        ] {
            let e = Opts::from_url(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config, "{bad}");
        }
    }

    /// The options a URL gives, compared through `Debug` (every field).
    fn parsed(query: &str) -> String {
        format!(
            "{:?}",
            Opts::from_url(&format!("mysql://u@h:3306/db?{query}")).unwrap()
        )
    }

    fn error(query: &str) -> String {
        let e = Opts::from_url(&format!("mysql://u@h:3306/db?{query}")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config, "{query}");
        e.to_string()
    }

    #[test]
    fn url_aliases_mean_the_same_as_ours() {
        for (alias, ours) in [
            ("ssl-mode=required", "ssl_mode=required"),
            ("sslmode=VERIFY_CA", "ssl_mode=verify_ca"),
            ("sslMode=Verify_Identity", "ssl_mode=verify_identity"),
            ("ssl-mode=DISABLED", "ssl_mode=disabled"),
            ("ssl-mode=PREFERRED", "ssl_mode=preferred"),
            ("ssl-mode=REQUIRED", "ssl_mode=required"),
            ("ssl-mode=VERIFY_IDENTITY", "ssl_mode=verify_identity"),
            ("ssl-ca=/ca.pem", "ssl_ca=/ca.pem"),
            ("sslca=/ca.pem", "ssl_ca=/ca.pem"),
            ("sslrootcert=/ca.pem", "ssl_ca=/ca.pem"),
            ("ssl-cert=/c.pem", "ssl_cert=/c.pem"),
            ("sslcert=/c.pem", "ssl_cert=/c.pem"),
            ("ssl-key=/k.pem", "ssl_key=/k.pem"),
            ("sslkey=/k.pem", "ssl_key=/k.pem"),
            ("statement-cache-capacity=7", "stmt_cache_size=7"),
            ("statement-cache-capacity=0", "stmt_cache_size=0"),
            ("socket=/s.sock", "socket=/s.sock"),
            ("charset=latin1", "charset=latin1"),
            ("max_allowed_packet=65536", "max_allowed_packet=65536"),
            ("require_ssl=true", "ssl_mode=verify_identity"),
            (
                "require_ssl=true&verify_identity=false",
                "ssl_mode=verify_ca",
            ),
            ("require_ssl=true&verify_ca=false", "ssl_mode=required"),
            (
                "verify_ca=false&verify_identity=false&require_ssl=true",
                "ssl_mode=required",
            ),
            ("require_ssl=false", "ssl_mode=disabled"),
            ("verify_ca=false", ""),
            ("prefer_socket=false", ""),
            ("tcp_nodelay=true", ""),
            ("multi_statements=TRUE", "multi_statements=true"),
        ] {
            assert_eq!(parsed(alias), parsed(ours), "{alias} vs {ours}");
        }
        // And they change something: the defaults differ.
        assert_ne!(parsed("ssl-mode=required"), parsed(""));
        assert_ne!(parsed("statement-cache-capacity=7"), parsed(""));
        assert_ne!(parsed("trace_statement_text=true"), parsed(""));
    }

    #[test]
    fn unknown_options_name_the_closest() {
        assert!(
            error("sslmod=required").contains("unknown option `sslmod`; did you mean `ssl_mode`?"),
            "{}",
            error("sslmod=required")
        );
        assert!(error("stmt_cache_sise=1").contains("did you mean `stmt_cache_size`?"));
        assert!(error("SSL_CA=/x").contains("did you mean `ssl_ca`?"));
        assert!(error("statement-cache-capacty=1").contains("did you mean `stmt_cache_size`?"));
        assert!(error("conect_timeout=1").contains("did you mean `connect_timeout`?"));
        // Nothing close: the list of options instead.
        let e = error("frobnicate=1");
        assert!(
            e.contains("unknown option `frobnicate`; the options are socket,"),
            "{e}"
        );
        assert!(!e.contains("did you mean"));
    }

    #[test]
    fn other_drivers_options_without_equivalent_say_so() {
        for (q, says) in [
            ("compression=fast", "`compression` is not supported"),
            ("pool_max=10", "max_size"),
            ("pool_min=1", "min_idle"),
            ("conn_ttl=60", "idle_timeout"),
            ("collation=utf8mb4_bin", "SET NAMES"),
            ("wait_timeout=60", "wait_timeout"),
            ("prefer_socket=true", "not supported"),
            ("tcp_nodelay=false", "not supported"),
        ] {
            let e = error(q);
            assert!(e.contains(says), "{q}: {e}");
        }
    }

    #[test]
    fn conflicting_duplicates_are_errors() {
        for q in [
            "ssl_mode=disabled&ssl-mode=required",
            "ssl_mode=required&ssl_mode=preferred",
            "ssl-ca=/a.pem&sslrootcert=/b.pem",
            "stmt_cache_size=1&statement-cache-capacity=2",
            "ssl_mode=disabled&require_ssl=true",
            "connect_timeout=1&connect_timeout=2",
        ] {
            let e = error(q);
            assert!(e.contains("conflicting URL options"), "{q}: {e}");
        }
        let e = error("ssl_mode=disabled&ssl-mode=required");
        assert!(
            e.contains("`ssl_mode=disabled` and `ssl-mode=required`"),
            "{e}"
        );
        // The same value twice, in any spelling, is fine; `init` repeats.
        assert_eq!(
            parsed("ssl_mode=required&ssl-mode=REQUIRED&require_ssl=true&verify_ca=false"),
            parsed("ssl_mode=required")
        );
        assert_eq!(
            parsed("connect_timeout=2&connect_timeout=2.0"),
            parsed("connect_timeout=2")
        );
        assert!(parsed("init=SET%20a%3D1&init=SET%20b%3D2").contains("SET b=2"));
    }

    #[test]
    fn coroutine_stack_size_from_the_url() {
        assert_eq!(
            Opts::default().coroutine_stack_size(),
            DEFAULT_COROUTINE_STACK_SIZE
        );
        let ok = format!("coroutine_stack_size={MIN_COROUTINE_STACK_SIZE}");
        assert_eq!(
            Opts::from_url(&format!("mysql://h/?{ok}"))
                .unwrap()
                .coroutine_stack_size(),
            MIN_COROUTINE_STACK_SIZE
        );
        assert_ne!(parsed(&ok), parsed(""));
        let small = MIN_COROUTINE_STACK_SIZE - 1;
        let e = error(&format!("coroutine_stack_size={small}"));
        assert!(e.contains("below the smallest accepted"), "{e}");
        assert!(error("coroutine_stack_size=big").contains("expected a number of bytes"));
        assert!(error("coroutine_stack_size=-1").contains("expected a number of bytes"));
        assert!(error("coroutine_stak_size=65536").contains("did you mean `coroutine_stack_size`?"));
        let e = error("coroutine_stack_size=65536&coroutine_stack_size=32768");
        assert!(e.contains("conflicting URL options"), "{e}");
        assert_eq!(
            parsed("coroutine_stack_size=65536&coroutine_stack_size=65536"),
            parsed("coroutine_stack_size=65536")
        );
    }

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("sslmod", "sslmode"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }

    #[test]
    fn ipv6_host() {
        let o = Opts::from_url("mysql://[::1]:3306/").unwrap();
        assert_eq!(o.host(), "::1");
    }

    #[test]
    fn host_lists() {
        let o = Opts::from_url(
            "mysql://app:p%40ss@db1:3307,db2,[::1]:3308/shop?target=read-write&host_order=random&deny_for=2.5",
        )
        .unwrap();
        let hosts: Vec<String> = o.hosts().iter().map(|h| h.to_string()).collect();
        assert_eq!(hosts, ["db1:3307", "db2:3306", "[::1]:3308"]);
        assert_eq!(o.user(), "app");
        assert_eq!(o.password().expose(), "p@ss");
        assert_eq!(o.db_name(), Some("shop"));
        assert_eq!(o.target(), Target::Primary);
        assert_eq!(o.host_order(), HostOrder::Random);
        assert_eq!(o.deny_duration(), Duration::from_millis(2500));
        // Tracked by default for a primary, so reads can wait for the write.
        assert!(o.track_gtid());
        assert!(o.is_routed());
        let one = o.for_host("db2", 3306);
        assert_eq!(one.hosts().len(), 1);
        assert!(!one.is_routed());
        assert!(one.track_gtid());
        assert!(!one.track_gtid_required());

        let o =
            Opts::from_url("mysql://u@h/db?target_session_attrs=prefer-standby&track_gtid=false")
                .unwrap();
        assert_eq!(o.target(), Target::PreferReplica);
        assert!(!o.track_gtid());
        assert_eq!(o.hosts().len(), 1);
        assert!(Opts::from_url("mysql://u@h1,h2:x/db").is_err());
        assert!(Opts::from_url("mysql://u@h1,,h2/db").is_err());
        assert!(Opts::from_url("mysql://u@h1,::1/db").is_err());
        let e = Opts::from_url("mysql://u@h/db?target=leader").unwrap_err();
        assert!(e.to_string().contains("primary"), "{e}");
        let b = Opts::builder()
            .host("a")
            .add_host("b", 3307)
            .target(Target::Replica)
            .build();
        assert_eq!(b.hosts()[1].port(), 3307);
        assert!(!b.track_gtid());
    }
}
