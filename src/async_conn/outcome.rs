//! What a failed call's error means for its statement and for an open transaction
//! ([`Outcome`]), from what the connection knew when the call started and what it
//! sent: the context that the error's kind and code alone do not have.

use super::connection::AsyncConn;
use crate::error::{Error, Outcome};
use crate::params::lexer;

impl AsyncConn {
    /// Whether a transaction is open as a call starts, when the connection knows
    /// for sure: `None` while an abandoned call's work is pending (its statement,
    /// perhaps a `COMMIT`, may still change that) or right after a reset (the
    /// status flags are stale).
    pub(super) fn transaction_at_call_start(&self) -> Option<bool> {
        if self.has_pending_work() || self.raw.status_stale() {
            None
        } else {
            Some(self.in_transaction())
        }
    }

    /// Give `e`, the error of the call that started with a transaction open
    /// (`in_tx`), the outcome its context implies:
    ///
    /// - the connection is unusable and a transaction was open: the server rolls
    ///   it back when the session ends, so nothing of it is committed, unless the
    ///   statement sent was one that commits (a `COMMIT`, DDL, several statements:
    ///   then it stays [`Outcome::Unknown`]);
    /// - the call's own statement was never sent (it failed while finishing an
    ///   earlier call's work): [`Outcome::NotSent`] rather than unknown.
    pub(super) fn in_context(&mut self, e: Error, in_tx: Option<bool>) -> Error {
        if e.has_context_outcome() {
            return e;
        }
        let sent = self.call_sent && !e.is_unsent();
        if e.is_fatal() && in_tx == Some(true) && !(sent && self.last_sent_may_commit()) {
            return e.with_outcome(Outcome::TransactionRolledBack);
        }
        if !self.call_sent && e.outcome() == Outcome::Unknown {
            return e.with_outcome(Outcome::NotSent);
        }
        e
    }

    /// Whether the last statement sent may have committed a transaction: its
    /// text, or the text of the prepared statement last executed.
    fn last_sent_may_commit(&mut self) -> bool {
        if self.stmts.executed_last {
            match self.stmts.active_entry() {
                Some(e) => may_commit(e.handle.sql().as_bytes()),
                None => true,
            }
        } else {
            may_commit(&self.query_buf)
        }
    }
}

/// First keywords of statements that cannot commit a transaction, implicitly or
/// otherwise (a stored function or trigger cannot commit either).
const NEVER_COMMIT: [&str; 16] = [
    "SELECT",
    "INSERT",
    "UPDATE",
    "DELETE",
    "REPLACE",
    "WITH",
    "VALUES",
    "TABLE",
    "DO",
    "SAVEPOINT",
    "RELEASE",
    "ROLLBACK",
    "SHOW",
    "DESCRIBE",
    "DESC",
    "EXPLAIN",
];

/// Whether `sql` may commit a transaction: `COMMIT` itself, and anything not known
/// not to (DDL and the other statements that commit implicitly, `SET autocommit`,
/// `CALL` of a procedure that commits, `START TRANSACTION`, `LOCK TABLES`, …),
/// several statements in one text, an executable comment.
fn may_commit(sql: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(sql) else {
        return true;
    };
    // Where a statement ends depends on the modes; any reading with a second
    // statement counts.
    for (backslash_escapes, ansi_quotes) in [(true, false), (false, false), (false, true)] {
        let s = lexer::scan(text, backslash_escapes, ansi_quotes);
        if s.multi || s.exec_comment {
            return true;
        }
    }
    match lexer::first_keyword(sql) {
        Some((start, end)) => {
            let word = &sql[start..end];
            !NEVER_COMMIT
                .iter()
                .any(|k| word.eq_ignore_ascii_case(k.as_bytes()))
        }
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::may_commit;

    #[test]
    fn statements_that_may_commit() {
        for sql in [
            "COMMIT",
            "commit work",
            "  /* c */ COMMIT",
            "CREATE TABLE t (a INT)",
            "ALTER TABLE t ADD b INT",
            "SET autocommit = 1",
            "START TRANSACTION",
            "BEGIN",
            "CALL p()",
            "LOCK TABLES t WRITE",
            "INSERT INTO t VALUES (1); COMMIT",
            "UPDATE t SET a = 1; DROP TABLE t",
            "/*!40101 COMMIT */",
            "",
            "-- only a comment",
        ] {
            assert!(may_commit(sql.as_bytes()), "{sql}");
        }
        for sql in [
            "SELECT 1",
            "  select * from t for update",
            "(SELECT 1) UNION (SELECT 2)",
            "INSERT INTO t VALUES ('a;COMMIT')",
            "update t set a = 2 where b = ';'",
            "DELETE FROM t",
            "REPLACE INTO t VALUES (1)",
            "WITH x AS (SELECT 1) SELECT * FROM x",
            "DO 0",
            "SAVEPOINT s1",
            "RELEASE SAVEPOINT s1",
            "ROLLBACK",
            "ROLLBACK TO SAVEPOINT s1",
            "INSERT INTO t VALUES (1);",
            "# comment\nSELECT 1",
        ] {
            assert!(!may_commit(sql.as_bytes()), "{sql}");
        }
        assert!(may_commit(b"SELECT \xff"));
    }
}
