//! [`TxOptions`]: how a transaction starts (isolation level, access mode, snapshot).

use std::fmt;

use crate::error::{Error, ErrorKind};

/// A transaction isolation level (`SET TRANSACTION ISOLATION LEVEL …`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IsolationLevel {
    /// `READ UNCOMMITTED`: reads may see other transactions' uncommitted changes.
    ReadUncommitted,
    /// `READ COMMITTED`: each read sees what was committed when it started.
    ReadCommitted,
    /// `REPEATABLE READ` (InnoDB's default): reads see one snapshot, taken at the
    /// first read.
    RepeatableRead,
    /// `SERIALIZABLE`: plain reads take shared locks.
    Serializable,
}

impl IsolationLevel {
    /// The level as SQL writes it, e.g. `"READ COMMITTED"`.
    pub fn as_sql(self) -> &'static str {
        match self {
            IsolationLevel::ReadUncommitted => "READ UNCOMMITTED",
            IsolationLevel::ReadCommitted => "READ COMMITTED",
            IsolationLevel::RepeatableRead => "REPEATABLE READ",
            IsolationLevel::Serializable => "SERIALIZABLE",
        }
    }
}

impl fmt::Display for IsolationLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_sql())
    }
}

/// How `begin_with` starts a transaction. The
/// default is what plain `begin` does: `START TRANSACTION` with the session's
/// isolation level and access mode.
///
/// ```
/// use mysqlclient_async::{IsolationLevel, TxOptions};
///
/// let opts = TxOptions::new()
///     .isolation(IsolationLevel::RepeatableRead)
///     .read_only(true)
///     .consistent_snapshot(true);
/// assert_eq!(
///     opts.start_sql(),
///     "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"
/// );
/// assert_eq!(
///     opts.isolation_sql().as_deref(),
///     Some("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
/// );
/// ```
///
/// The isolation level applies to this transaction only (`SET TRANSACTION`
/// without `SESSION`, one extra round trip before `START TRANSACTION`); the
/// session's own level is unchanged afterwards.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TxOptions {
    isolation: Option<IsolationLevel>,
    read_only: Option<bool>,
    consistent_snapshot: bool,
}

impl TxOptions {
    /// The defaults: the session's isolation level and access mode, no snapshot.
    pub fn new() -> TxOptions {
        TxOptions::default()
    }

    /// Run the transaction at this isolation level.
    pub fn isolation(mut self, level: IsolationLevel) -> TxOptions {
        self.isolation = Some(level);
        self
    }

    /// `READ ONLY` (`true`: writes to tables fail with error 1792) or
    /// `READ WRITE` (`false`). Unset, the session's access mode applies.
    pub fn read_only(mut self, read_only: bool) -> TxOptions {
        self.read_only = Some(read_only);
        self
    }

    /// `WITH CONSISTENT SNAPSHOT`: take the InnoDB read snapshot at the start,
    /// not at the first read (meaningful with `REPEATABLE READ`).
    pub fn consistent_snapshot(mut self, yes: bool) -> TxOptions {
        self.consistent_snapshot = yes;
        self
    }

    /// The isolation level, if one is set.
    pub fn isolation_level(&self) -> Option<IsolationLevel> {
        self.isolation
    }

    /// The access mode, if one is set (`Some(true)`: read-only).
    pub fn access_mode(&self) -> Option<bool> {
        self.read_only
    }

    /// Whether the snapshot is taken at the start.
    pub fn has_consistent_snapshot(&self) -> bool {
        self.consistent_snapshot
    }

    /// The statement that sets the isolation level for the next transaction,
    /// when one is set.
    pub fn isolation_sql(&self) -> Option<String> {
        self.isolation
            .map(|l| format!("SET TRANSACTION ISOLATION LEVEL {}", l.as_sql()))
    }

    /// The `START TRANSACTION` statement with this snapshot and access mode.
    pub fn start_sql(&self) -> String {
        let mut parts: Vec<&str> = Vec::new();
        if self.consistent_snapshot {
            parts.push("WITH CONSISTENT SNAPSHOT");
        }
        match self.read_only {
            Some(true) => parts.push("READ ONLY"),
            Some(false) => parts.push("READ WRITE"),
            None => {}
        }
        if parts.is_empty() {
            "START TRANSACTION".to_string()
        } else {
            format!("START TRANSACTION {}", parts.join(", "))
        }
    }
}

/// The name of a nested transaction's savepoint `n` (numbered per connection,
/// so a rollback can never reach an older savepoint of the same name).
pub(crate) fn savepoint_name(n: u64) -> String {
    format!("mysqlclient_async_sp{n}")
}

/// The statement that makes savepoint `n` (`n` > 0).
pub(crate) fn savepoint_sql(n: u64) -> String {
    format!("SAVEPOINT {}", savepoint_name(n))
}

/// The statement that keeps savepoint `n`'s work (0: commits the transaction).
pub(crate) fn commit_sql(n: u64) -> String {
    if n == 0 {
        "COMMIT".into()
    } else {
        format!("RELEASE SAVEPOINT {}", savepoint_name(n))
    }
}

/// The statement that abandons savepoint `n` (0: the whole transaction).
pub(crate) fn rollback_sql(n: u64) -> String {
    if n == 0 {
        "ROLLBACK".into()
    } else {
        format!("ROLLBACK TO SAVEPOINT {}", savepoint_name(n))
    }
}

/// `begin_with` on a transaction: refused, nothing sent (async and blocking).
pub(crate) fn nested_begin_with_error() -> Error {
    Error::new(
        ErrorKind::Client,
        "begin_with inside a transaction: a savepoint cannot change the isolation level, \
         access mode or snapshot (they are set when the outer transaction begins); use \
         begin() for a savepoint, or begin_with on the connection before the transaction",
    )
    .with_fatal(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements() {
        assert_eq!(TxOptions::new().start_sql(), "START TRANSACTION");
        assert_eq!(TxOptions::new().isolation_sql(), None);
        assert_eq!(
            TxOptions::new().read_only(false).start_sql(),
            "START TRANSACTION READ WRITE"
        );
        assert_eq!(
            TxOptions::new().consistent_snapshot(true).start_sql(),
            "START TRANSACTION WITH CONSISTENT SNAPSHOT"
        );
        assert_eq!(
            TxOptions::new()
                .isolation(IsolationLevel::ReadCommitted)
                .isolation_sql()
                .as_deref(),
            Some("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
        );
    }

    #[test]
    fn savepoint_statements() {
        assert_eq!(commit_sql(0), "COMMIT");
        assert_eq!(rollback_sql(0), "ROLLBACK");
        assert_eq!(savepoint_sql(3), "SAVEPOINT mysqlclient_async_sp3");
        assert_eq!(commit_sql(3), "RELEASE SAVEPOINT mysqlclient_async_sp3");
        assert_eq!(
            rollback_sql(3),
            "ROLLBACK TO SAVEPOINT mysqlclient_async_sp3"
        );
    }
}
