//! Errors: what happened, what the server said, and whether the connection survives
//! (documented on [`Error`]).

use std::fmt;

use crate::raw::consts;
use crate::raw::ffi;

/// The broad class of an [`Error`]. Match on this to decide what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The server rejected the statement (syntax, constraint, unknown table, …).
    /// [`Error::server`] has the details. Usually not fatal.
    Server,
    /// Connecting failed: refused, unreachable, DNS, authentication, handshake.
    Connect,
    /// The connection broke while talking to the server (lost, gone away, reset).
    /// Always fatal.
    ConnectionLost,
    /// A client-side library error that is not a lost connection (out of memory,
    /// malformed packet, out-of-sync protocol state, …).
    Client,
    /// An earlier command on this connection was cancelled (its future dropped or a
    /// timeout hit) and the connection could not be brought back to a clean state.
    /// Always fatal: reconnect (a pool does this for you).
    Broken,
    /// A command was issued while the previous one had not finished, e.g. a second
    /// `send_query` before `read_query_result`. Nothing was sent; not fatal.
    Busy,
    /// A timeout configured by the caller expired.
    Timeout,
    /// The query was cancelled on the server with `KILL QUERY`.
    Cancelled,
    /// Invalid options or URL.
    Config,
    /// A value could not be converted to or from the requested Rust type.
    Conversion,
    /// Query parameters did not match the placeholders, or a value cannot be
    /// written as SQL (NaN, infinity). Nothing was sent; not fatal.
    Params,
    /// The query text itself cannot be sent (it contains a NUL byte, for example).
    /// Nothing was sent; not fatal.
    InvalidQuery,
    /// An operating-system I/O error (registering the socket with the reactor, …).
    Io,
    /// A connection pool could not hand out a connection in time.
    Pool,
    /// `query_one`/`exec_one` found no row. Not fatal.
    NoRows,
    /// The result set this call would return had been partly read by an earlier
    /// call whose future was dropped; the rest was read and discarded. The
    /// connection is in sync; not fatal.
    Discarded,
}

impl ErrorKind {
    fn describe(self) -> &'static str {
        match self {
            ErrorKind::Server => "server error",
            ErrorKind::Connect => "connect failed",
            ErrorKind::ConnectionLost => "connection lost",
            ErrorKind::Client => "client library error",
            ErrorKind::Broken => "connection broken",
            ErrorKind::Busy => "connection busy",
            ErrorKind::Timeout => "timed out",
            ErrorKind::Cancelled => "query cancelled",
            ErrorKind::Config => "invalid configuration",
            ErrorKind::Conversion => "conversion failed",
            ErrorKind::Params => "bad query parameters",
            ErrorKind::InvalidQuery => "invalid query",
            ErrorKind::Io => "I/O error",
            ErrorKind::Pool => "pool error",
            ErrorKind::NoRows => "no rows",
            ErrorKind::Discarded => "result discarded",
        }
    }
}

/// What an error means for the statement that produced it, and for the transaction
/// it was part of: whether it can have taken effect. [`Error::outcome`] gives it;
/// `Display` says it in words (`[not sent; connection still usable]`).
///
/// Decide what to do from this, not from the kind alone:
///
/// | outcome | the statement | an open transaction | safe to run again? |
/// |---|---|---|---|
/// | [`NotSent`](Self::NotSent) | never reached the server | as it was (unless the connection is unusable: see below) | yes |
/// | [`Rejected`](Self::Rejected) | the server refused it: no effect | still open | after fixing the cause |
/// | [`Executed`](Self::Executed) | ran; the error is about its result on the client | still open | no: it ran |
/// | [`Unknown`](Self::Unknown) | sent, and the answer was lost: it may or may not have run | unknown | no, not blindly |
/// | [`TransactionRolledBack`](Self::TransactionRolledBack) | undone with the whole transaction | rolled back by the server | the whole transaction, from its start |
///
/// The client cannot tell a command that never reached the server from one whose
/// answer was lost once it has written it to the socket: a proxy or network that
/// drops the command and one that drops the answer look the same, and both are
/// [`Unknown`](Self::Unknown). In particular a `COMMIT` whose answer was lost is
/// `Unknown`: the transaction may be committed. Only a failure while writing the
/// command (the connection was already gone) is [`NotSent`](Self::NotSent).
///
/// Outside a transaction (autocommit), a statement's effect is its own:
/// `Unknown` there means the write may have been applied. A text holding several
/// statements (`multi_statements`) is one command: when a later statement fails,
/// the ones before it ran, whatever the outcome says about the failed one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// The command never reached the server, so it cannot have run: bad
    /// parameters ([`ErrorKind::Params`]), a NUL byte in the text
    /// ([`ErrorKind::InvalidQuery`]), a busy connection, bad options, a failed
    /// connect, a pool that had no connection to give, a packet the library refused
    /// to send, a failure while writing the command ([`Error::is_unsent`]), or a
    /// call that timed out while still finishing an earlier abandoned call's work.
    NotSent,
    /// The server answered with an error: the statement did not take effect (its
    /// changes, if any, were undone by the server: statement-level rollback on
    /// InnoDB; a non-transactional engine such as MyISAM may keep part of a
    /// multi-row change). An open transaction is still open. Duplicate key (1062),
    /// syntax (1064), unknown table, a statement killed by `KILL QUERY` (1317) or by
    /// `max_statement_time` (1969), and a lock wait timeout (1205), which by default
    /// rolls back the statement only (with `innodb_rollback_on_timeout=ON` the
    /// server rolls back the whole transaction, which the client is not told).
    Rejected,
    /// The statement ran and succeeded, and the error concerns its result on the
    /// client: a row that does not convert ([`ErrorKind::Conversion`]), no row for
    /// `query_one` ([`ErrorKind::NoRows`]), a result discarded after an abandoned
    /// call ([`ErrorKind::Discarded`]).
    Executed,
    /// The command was sent and no answer came back: the connection was lost, timed
    /// out, or the call was cancelled. The statement may or may not have run. This
    /// is the outcome of a `COMMIT` whose answer was lost (the transaction may be
    /// committed), and of any statement outside a transaction. A statement that may
    /// commit by itself (DDL, `SET`, `CALL`, several statements in one text) is
    /// treated like a `COMMIT`. A query timeout whose `KILL QUERY` brought the
    /// connection back in sync is `Unknown` too (the statement may have finished
    /// just before the kill); the transaction, if any, is still open then.
    Unknown,
    /// The server rolled the whole transaction back: a deadlock (1213, also what a
    /// Galera certification conflict returns, on any later statement of the losing
    /// transaction or on its `COMMIT`; MySQL's group replication answers a `COMMIT`
    /// with 3101). Also a connection lost in the middle of a transaction while the
    /// statement was not one that commits: the server rolls back the open
    /// transaction of a dead session, so nothing of it can have been committed.
    /// The whole transaction can run again from its start (see
    /// [`Pool::transaction`](crate::Pool::transaction)).
    TransactionRolledBack,
}

impl Outcome {
    /// The words `Display` uses for it.
    pub fn describe(self) -> &'static str {
        match self {
            Outcome::NotSent => "not sent",
            Outcome::Rejected => "rejected: it did not take effect",
            Outcome::Executed => "the statement ran",
            Outcome::Unknown => "outcome unknown: it may have run",
            Outcome::TransactionRolledBack => "transaction rolled back",
        }
    }

    /// Whether the statement may have taken effect ([`Executed`](Self::Executed)
    /// or [`Unknown`](Self::Unknown)).
    pub fn may_have_run(self) -> bool {
        matches!(self, Outcome::Executed | Outcome::Unknown)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// What the server (or the client library, for `CR_*` codes 2000–2999) reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerError {
    /// The numeric error code, e.g. 1064 (`ER_PARSE_ERROR`) or 2013 (`CR_SERVER_LOST`).
    pub code: u32,
    /// The five-character SQLSTATE, e.g. `"42000"`.
    pub sqlstate: String,
    /// The message text as the library reported it.
    pub message: String,
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ERROR {} ({}): {}",
            self.code, self.sqlstate, self.message
        )
    }
}

/// The crate's error type. Cheap to move (one pointer).
///
/// Every error carries an [`ErrorKind`], an optional [`ServerError`] (code, SQLSTATE,
/// message) and a verdict, [`Error::is_fatal`]: `true` means the connection that
/// produced it must be dropped (a pool discards it), `false` means the next command
/// on the same connection is safe.
pub struct Error(Box<Inner>);

struct Inner {
    kind: ErrorKind,
    server: Option<ServerError>,
    message: String,
    fatal: bool,
    /// The error is not about an open connection (bad options, a failed connect, a
    /// pool that could not hand one out): `Display` says nothing about one.
    no_connection: bool,
    /// Sending the command failed, so the server never received all of it and
    /// cannot have executed it.
    unsent: bool,
    /// The outcome decided by the connection that knew the context (a transaction
    /// open, the statement a `COMMIT`); `None`: derived from the kind and code.
    outcome: Option<Outcome>,
    /// The error came from the session reset command (`COM_RESET_CONNECTION`).
    at_reset: bool,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    /// Build an error of `kind` with a human message.
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        let fatal = matches!(
            kind,
            ErrorKind::Connect | ErrorKind::ConnectionLost | ErrorKind::Broken
        );
        Error(Box::new(Inner {
            kind,
            server: None,
            message: message.into(),
            fatal,
            no_connection: matches!(
                kind,
                ErrorKind::Config | ErrorKind::Connect | ErrorKind::Pool
            ),
            unsent: false,
            outcome: None,
            at_reset: false,
            source: None,
        }))
    }

    /// Correct the verdict of a library error on an established connection by
    /// whether the library kept its socket open. Connector/C reports
    /// `CR_NET_PACKET_TOO_LARGE` both for a command it refused to send (the
    /// connection is fine) and after it closed the connection (an oversized packet
    /// from the server): without a socket, nothing is usable.
    pub(crate) fn given_socket(mut self, socket_open: bool) -> Error {
        if !socket_open && !self.0.fatal {
            self.0.kind = ErrorKind::ConnectionLost;
            self.0.fatal = true;
        }
        self
    }

    /// Override the fatality verdict.
    pub(crate) fn with_fatal(mut self, fatal: bool) -> Error {
        self.0.fatal = fatal;
        self
    }

    /// Mark: sending the command failed, so the server never received all of it
    /// and running it again elsewhere cannot run it twice.
    pub(crate) fn mark_unsent(mut self) -> Error {
        self.0.unsent = true;
        self
    }

    /// Whether the command failed while it was being sent: the server never
    /// received all of it, so it cannot have run (a pool may then safely retry it on
    /// another connection). A failure after the whole command was sent is never
    /// marked, since the server may have run it.
    pub fn is_unsent(&self) -> bool {
        self.0.unsent
    }

    /// What this error means for the statement and for an open transaction: not
    /// sent, rejected by the server, executed, unknown, or the transaction rolled
    /// back (see [`Outcome`]).
    ///
    /// ```no_run
    /// # async fn demo(conn: &mut mysqlclient_async::AsyncConn) -> mysqlclient_async::Result<()> {
    /// use mysqlclient_async::Outcome;
    ///
    /// let mut tx = conn.begin().await?;
    /// match tx.exec_drop("INSERT INTO users (id, name) VALUES (?, ?)", (1, "ada")).await {
    ///     Ok(_) => tx.commit().await?,
    ///     // 1062: this statement had no effect; the transaction goes on.
    ///     Err(e) if e.outcome() == Outcome::Rejected => tx.commit().await?,
    ///     // Deadlock, or the connection died mid-transaction: run it all again.
    ///     Err(e) if e.outcome() == Outcome::TransactionRolledBack => return Err(e),
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn outcome(&self) -> Outcome {
        match self.0.outcome {
            Some(o) => o,
            None if self.0.unsent => Outcome::NotSent,
            None => self.default_outcome(),
        }
    }

    /// The outcome from the kind and code alone, without knowing whether a
    /// transaction was open or what the statement was.
    fn default_outcome(&self) -> Outcome {
        match self.0.kind {
            ErrorKind::Params
            | ErrorKind::InvalidQuery
            | ErrorKind::Busy
            | ErrorKind::Config
            | ErrorKind::Connect
            | ErrorKind::Pool => Outcome::NotSent,
            ErrorKind::Conversion | ErrorKind::NoRows | ErrorKind::Discarded => Outcome::Executed,
            ErrorKind::Server => match self.code() {
                Some(c) if rolls_back_transaction(c) => Outcome::TransactionRolledBack,
                _ => Outcome::Rejected,
            },
            ErrorKind::Cancelled => Outcome::Rejected,
            // The server's `max_statement_time` (1969) killed it; a client-side
            // timeout cannot know whether the statement finished before the kill.
            ErrorKind::Timeout if self.code().is_some() => Outcome::Rejected,
            // A library error that left the connection usable was raised before
            // anything was written (a packet too large to send, an unsupported
            // call).
            ErrorKind::Client if !self.0.fatal => Outcome::NotSent,
            ErrorKind::Timeout
            | ErrorKind::Client
            | ErrorKind::ConnectionLost
            | ErrorKind::Broken
            | ErrorKind::Io => Outcome::Unknown,
        }
    }

    /// Set the outcome the caller knows from the context.
    pub(crate) fn with_outcome(mut self, outcome: Outcome) -> Error {
        self.0.outcome = Some(outcome);
        self
    }

    /// Whether an outcome was set from the context already.
    pub(crate) fn has_context_outcome(&self) -> bool {
        self.0.outcome.is_some()
    }

    /// Mark: the error came from the session reset command.
    pub(crate) fn at_reset(mut self) -> Error {
        self.0.at_reset = true;
        self
    }

    /// Whether the session reset command (`COM_RESET_CONNECTION`) produced this
    /// error (see [`at_reset`](Self::at_reset)).
    pub(crate) fn is_from_reset(&self) -> bool {
        self.0.at_reset
    }

    /// Attach an underlying cause.
    pub(crate) fn with_source(
        mut self,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        self.0.source = Some(Box::new(source));
        self
    }

    /// Prefix the message with context (e.g. "acquire timed out; last connect error: …").
    pub(crate) fn context(mut self, context: impl fmt::Display) -> Error {
        self.0.message = format!("{context}: {}", self.0.message);
        self
    }

    /// Classify a code reported by the C library after a failed call.
    /// `connecting` is true while the handshake has not completed.
    pub(crate) fn from_code(
        code: u32,
        sqlstate: String,
        message: String,
        connecting: bool,
    ) -> Error {
        let (kind, fatal) = classify(code, connecting);
        let text = format!(
            "{}{} (error {code}, SQLSTATE {sqlstate})",
            explain_library_message(code, &message),
            if is_network_code(code) {
                explain_os_error(&message)
            } else {
                String::new()
            }
        );
        Error(Box::new(Inner {
            kind,
            server: Some(ServerError {
                code,
                sqlstate,
                message,
            }),
            message: text,
            fatal,
            no_connection: kind == ErrorKind::Connect,
            unsent: false,
            outcome: None,
            at_reset: false,
            source: None,
        }))
    }

    /// Read the error of the last failed call on `mysql`. Call it right after the
    /// failing call, before anything else touches the handle.
    ///
    /// # Safety
    /// `mysql` must be a valid handle from `mysql_init` that no other thread uses.
    pub(crate) unsafe fn from_handle(mysql: *mut ffi::MYSQL, connecting: bool) -> Error {
        // SAFETY: the caller guarantees `mysql` is valid and exclusively ours; the
        // returned strings point into the handle and are copied out at once.
        let (code, sqlstate, message) = unsafe {
            let code = ffi::mysql_errno(mysql);
            let sqlstate = cstr_lossy(ffi::mysql_sqlstate(mysql));
            let message = cstr_lossy(ffi::mysql_error(mysql));
            (code, sqlstate, message)
        };
        if code == 0 {
            // The library failed without recording why (seen with out-of-memory).
            return Error::new(
                ErrorKind::Client,
                "the client library reported a failure without an error code",
            )
            .with_fatal(true);
        }
        Error::from_code(code, sqlstate, message, connecting)
    }

    /// The class of this error.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The server's (or library's) code, SQLSTATE and message, when there is one.
    pub fn server(&self) -> Option<&ServerError> {
        self.0.server.as_ref()
    }

    /// The numeric error code, when there is one (shortcut for `server().code`).
    pub fn code(&self) -> Option<u32> {
        self.0.server.as_ref().map(|s| s.code)
    }

    /// `true` if the connection that returned this error must be discarded;
    /// `false` if it is still usable for the next command.
    pub fn is_fatal(&self) -> bool {
        self.0.fatal
    }
}

/// Server codes after which the server has rolled back the whole transaction.
fn rolls_back_transaction(code: u32) -> bool {
    /// `ER_LOCK_DEADLOCK`: also Galera's answer to a certification conflict.
    const ER_LOCK_DEADLOCK: u32 = 1213;
    /// `ER_XA_RBDEADLOCK`: an XA transaction chosen as a deadlock victim.
    const ER_XA_RBDEADLOCK: u32 = 1614;
    /// MySQL's `ER_TRANSACTION_ROLLBACK_DURING_COMMIT`: group replication's
    /// certification refused the `COMMIT`.
    const ER_TRANSACTION_ROLLBACK_DURING_COMMIT: u32 = 3101;
    matches!(
        code,
        ER_LOCK_DEADLOCK | ER_XA_RBDEADLOCK | ER_TRANSACTION_ROLLBACK_DURING_COMMIT
    )
}

/// Decide kind and fatality from a MySQL/MariaDB error code.
fn classify(code: u32, connecting: bool) -> (ErrorKind, bool) {
    // Server codes that end the session.
    const ER_CON_COUNT_ERROR: u32 = 1040;
    const ER_ACCESS_DENIED: u32 = 1045;
    const ER_SERVER_SHUTDOWN: u32 = 1053;
    const ER_ABORTING_CONNECTION: u32 = 1152;
    const ER_NET_PACKET_TOO_LARGE: u32 = 1153;
    const ER_NET_READ_ERROR: u32 = 1158;
    const ER_NET_READ_INTERRUPTED: u32 = 1159;
    const ER_NET_ERROR_ON_WRITE: u32 = 1160;
    const ER_NET_WRITE_INTERRUPTED: u32 = 1161;
    const ER_QUERY_INTERRUPTED: u32 = 1317;
    const ER_CONNECTION_KILLED: u32 = 1927;
    const ER_STATEMENT_TIMEOUT: u32 = 1969;
    const ER_CLIENT_INTERACTION_TIMEOUT: u32 = 4031;

    if connecting {
        return (ErrorKind::Connect, true);
    }
    match code {
        ER_QUERY_INTERRUPTED => (ErrorKind::Cancelled, false),
        ER_STATEMENT_TIMEOUT => (ErrorKind::Timeout, false),
        ER_CON_COUNT_ERROR | ER_ACCESS_DENIED => (ErrorKind::Connect, true),
        ER_SERVER_SHUTDOWN
        | ER_ABORTING_CONNECTION
        | ER_NET_PACKET_TOO_LARGE
        | ER_NET_READ_ERROR
        | ER_NET_READ_INTERRUPTED
        | ER_NET_ERROR_ON_WRITE
        | ER_NET_WRITE_INTERRUPTED
        | ER_CONNECTION_KILLED
        | ER_CLIENT_INTERACTION_TIMEOUT => (ErrorKind::ConnectionLost, true),
        c if (consts::CR_MIN_ERROR..=consts::CR_MAX_ERROR).contains(&c) || c >= 5000 => match c {
            consts::CR_SERVER_GONE_ERROR
            | consts::CR_SERVER_LOST
            | consts::CR_SERVER_LOST_EXTENDED
            | consts::CR_CONNECTION_ERROR
            | consts::CR_CONN_HOST_ERROR
            | consts::CR_SSL_CONNECTION_ERROR => (ErrorKind::ConnectionLost, true),
            // The packet was refused before it was sent, the connection stays in sync.
            consts::CR_NET_PACKET_TOO_LARGE => (ErrorKind::Client, false),
            // The result of a statement whose table changed: its rows are discarded
            // and the statement prepared again (see `async_conn/statement.rs`).
            consts::CR_NEW_STMT_METADATA => (ErrorKind::Client, false),
            _ => (ErrorKind::Client, true),
        },
        _ => (ErrorKind::Server, false),
    }
}

/// Client-library codes for network failures, whose text ends with an errno.
fn is_network_code(code: u32) -> bool {
    matches!(
        code,
        consts::CR_CONNECTION_ERROR
            | consts::CR_CONN_HOST_ERROR
            | consts::CR_SERVER_GONE_ERROR
            | consts::CR_SERVER_LOST
            | consts::CR_SERVER_LOST_EXTENDED
    )
}

/// The client library's own text for some codes says little ("Unknown or
/// undefined error code"): say what it means.
fn explain_library_message(code: u32, message: &str) -> String {
    const CR_UNKNOWN_ERROR: u32 = 2000;
    const CR_MALFORMED_PACKET: u32 = 2027;
    match code {
        CR_UNKNOWN_ERROR | CR_MALFORMED_PACKET => format!(
            "the server's reply could not be parsed (a malformed or truncated packet); \
             the client library said: {message}"
        ),
        _ => message.to_string(),
    }
}

/// The client library ends network errors with the `errno` it saw, as
/// "system error: N" or "(N)", often a stale one: say what the number means, and
/// what it means here when it is no real cause (0, EAGAIN, EINPROGRESS).
fn explain_os_error(message: &str) -> String {
    let tail = message.trim_end();
    let number = if let Some(p) = tail.rfind("system error: ") {
        tail[p + "system error: ".len()..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|n| n.parse::<i32>().ok())
    } else if tail.ends_with(')') {
        tail.rfind('(')
            .and_then(|p| tail[p + 1..tail.len() - 1].parse::<i32>().ok())
    } else {
        None
    };
    match number {
        None => String::new(),
        Some(0) | Some(libc::EAGAIN) | Some(libc::ETIMEDOUT) => {
            "; no answer in time, or the server closed the connection (no operating-system error)"
                .to_string()
        }
        Some(libc::EINPROGRESS) => "; the TCP connection was not established in time".to_string(),
        Some(n) => format!("; {}", std::io::Error::from_raw_os_error(n)),
    }
}

/// Copy a C string, replacing invalid UTF-8. A null pointer gives "".
///
/// # Safety
/// `p` is null or points to a NUL-terminated string valid for the call.
pub(crate) unsafe fn cstr_lossy(p: *const std::os::raw::c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: non-null and NUL-terminated per the caller's contract.
    unsafe { std::ffi::CStr::from_ptr(p) }
        .to_string_lossy()
        .into_owned()
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.0.kind.describe(), self.0.message)?;
        if self.0.no_connection {
            return Ok(());
        }
        let connection = if self.0.fatal {
            "connection unusable: reconnect"
        } else {
            "connection still usable"
        };
        write!(f, " [{}; {connection}]", self.outcome())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.0.kind)
            .field("message", &self.0.message)
            .field("fatal", &self.0.fatal)
            .field("outcome", &self.outcome());
        if let Some(s) = &self.0.server {
            d.field("server", s);
        }
        if let Some(s) = &self.0.source {
            d.field("source", s);
        }
        d.finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::new(ErrorKind::Io, e.to_string())
            .with_fatal(true)
            .with_source(e)
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        let e = Error::from_code(1064, "42000".into(), "syntax".into(), false);
        assert_eq!(e.kind(), ErrorKind::Server);
        assert!(!e.is_fatal());
        assert_eq!(e.server().unwrap().sqlstate, "42000");
        let e = Error::from_code(2013, "HY000".into(), "lost".into(), false);
        assert_eq!(e.kind(), ErrorKind::ConnectionLost);
        assert!(e.is_fatal());
        let e = Error::from_code(1045, "28000".into(), "denied".into(), true);
        assert_eq!(e.kind(), ErrorKind::Connect);
        assert!(e.is_fatal());
        // A failed connect leaves no connection to talk about.
        assert!(!e.to_string().contains("connection"), "{e}");
        let e = Error::from_code(2013, "HY000".into(), "lost".into(), false);
        assert!(
            e.to_string()
                .ends_with("[outcome unknown: it may have run; connection unusable: reconnect]"),
            "{e}"
        );
        let e = Error::new(ErrorKind::Config, "bad URL").with_fatal(false);
        assert_eq!(e.to_string(), "invalid configuration: bad URL");
        let e = Error::new(ErrorKind::NoRows, "none").with_fatal(false);
        assert!(
            e.to_string()
                .ends_with("[the statement ran; connection still usable]"),
            "{e}"
        );
        // 2020 is fatal only when the library closed the connection.
        let e = Error::from_code(2020, "HY000".into(), "too large".into(), false);
        assert!(!e.is_fatal());
        let e = e.given_socket(true);
        assert!(!e.is_fatal());
        let e = e.given_socket(false);
        assert!(e.is_fatal());
        assert_eq!(e.kind(), ErrorKind::ConnectionLost);
        // The library's wording is explained.
        let e = Error::from_code(
            2013,
            "HY000".into(),
            "Lost connection to server at 'handshake: reading initial communication packet', system error: 11".into(),
            true,
        );
        assert!(e.to_string().contains("no answer in time"), "{e}");
        let e = Error::from_code(
            2002,
            "HY000".into(),
            "Can't connect to server on '127.0.0.1' (115)".into(),
            true,
        );
        assert!(
            e.to_string().contains("TCP connection was not established"),
            "{e}"
        );
        let e = Error::from_code(2002, "HY000".into(), "Can't connect (111)".into(), true);
        assert!(e.to_string().to_lowercase().contains("refused"), "{e}");
        let e = Error::from_code(
            2000,
            "HY000".into(),
            "Unknown or undefined error code (2000)".into(),
            false,
        );
        assert!(e.to_string().contains("could not be parsed"), "{e}");
        assert!(!e.to_string().contains("os error"), "{e}");
        assert!(e.is_fatal());
        let e = Error::from_code(1317, "70100".into(), "interrupted".into(), false);
        assert_eq!(e.kind(), ErrorKind::Cancelled);
        assert!(!e.is_fatal());
    }

    #[test]
    fn outcome_classification() {
        let server = |code: u32| Error::from_code(code, "HY000".into(), "m".into(), false);
        // The server refused the statement: no effect, the transaction goes on.
        for code in [1062, 1064, 1146, 1205, 1317, 1969] {
            assert_eq!(server(code).outcome(), Outcome::Rejected, "{code}");
        }
        // The server rolled the whole transaction back.
        for code in [1213, 1614, 3101] {
            let e = server(code);
            assert_eq!(e.outcome(), Outcome::TransactionRolledBack, "{code}");
            assert!(!e.is_fatal());
            assert!(e.to_string().contains("[transaction rolled back;"), "{e}");
        }
        // Lost, broken, killed connections: sent, no answer.
        for code in [2006, 2013, 1927, 1053] {
            let e = server(code);
            assert_eq!(e.outcome(), Outcome::Unknown, "{code}");
            assert!(e.outcome().may_have_run());
        }
        // A failure while writing: never received whole.
        let e = server(2013).mark_unsent();
        assert_eq!(e.outcome(), Outcome::NotSent);
        assert!(
            e.to_string().contains("[not sent; connection unusable"),
            "{e}"
        );
        // Refused on the client before anything was sent.
        for kind in [
            ErrorKind::Params,
            ErrorKind::InvalidQuery,
            ErrorKind::Busy,
            ErrorKind::Config,
            ErrorKind::Connect,
            ErrorKind::Pool,
        ] {
            assert_eq!(
                Error::new(kind, "m").outcome(),
                Outcome::NotSent,
                "{kind:?}"
            );
        }
        // 2020 refused before sending (connection kept) and after (closed).
        let e = server(2020);
        assert_eq!(e.outcome(), Outcome::NotSent);
        assert_eq!(e.given_socket(false).outcome(), Outcome::Unknown);
        // The statement ran; its result failed on the client.
        for kind in [
            ErrorKind::Conversion,
            ErrorKind::NoRows,
            ErrorKind::Discarded,
        ] {
            let e = Error::new(kind, "m").with_fatal(false);
            assert_eq!(e.outcome(), Outcome::Executed, "{kind:?}");
            assert!(e.outcome().may_have_run());
        }
        // A client-side timeout: unknown unless the context says otherwise.
        let e = Error::new(ErrorKind::Timeout, "t").with_fatal(false);
        assert_eq!(e.outcome(), Outcome::Unknown);
        assert!(
            e.to_string()
                .ends_with("[outcome unknown: it may have run; connection still usable]"),
            "{e}"
        );
        // The context wins, over the unsent mark too.
        let e = server(2013)
            .mark_unsent()
            .with_outcome(Outcome::TransactionRolledBack);
        assert_eq!(e.outcome(), Outcome::TransactionRolledBack);
        assert!(e.has_context_outcome());
        // Errors about no connection say nothing of one, nor of an outcome.
        let e = Error::new(ErrorKind::Pool, "closed");
        assert_eq!(e.to_string(), "pool error: closed");
        // Kept through added context.
        let e = server(1213).context("exec_batch: row 3 failed");
        assert_eq!(e.outcome(), Outcome::TransactionRolledBack);
        assert!(!Outcome::Rejected.may_have_run());
        assert_eq!(Outcome::NotSent.to_string(), "not sent");
    }
}
