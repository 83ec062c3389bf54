//! The protocol core both connection types follow: which step comes next in
//! each [`Phase`], how a result set ends, and the errors for calls made out of
//! turn. `Conn` performs the steps with blocking calls, `AsyncConn` without
//! blocking; the decisions are the same and live here once. The phase itself and
//! its transitions after a result header or a result set belong to the handle
//! (`RawConn::after_header`, `RawConn::after_result`).

use std::sync::Arc;

use crate::column::Column;
use crate::error::{Error, ErrorKind, Result};
use crate::raw::stmt::RawStmt;
use crate::raw::{Phase, RawConn};
use crate::row::ExecResult;

/// The next protocol step on the way back to an idle connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Idle: nothing left to read.
    Done,
    /// Nothing can be read any more.
    Broken,
    /// A query was sent: read its result header.
    ReadHeader,
    /// A result set's header was read: read (or skip) its rows.
    ReadRows,
    /// Rows are being read: read (or skip) the rest.
    FinishRows,
    /// Another result set follows: read its header.
    NextHeader,
    /// A prepared statement's results remain: read (or skip) them.
    StmtResults,
}

/// What to do next to bring a connection in `phase` back to idle, discarding
/// whatever an earlier, unfinished command left on the wire.
pub(crate) fn drain_step(phase: Phase) -> Step {
    match phase {
        Phase::Idle => Step::Done,
        Phase::Broken => Step::Broken,
        Phase::Sent => Step::ReadHeader,
        Phase::ResultPending => Step::ReadRows,
        Phase::Fetching => Step::FinishRows,
        Phase::MoreResults => Step::NextHeader,
        Phase::StmtRows | Phase::StmtMore | Phase::StmtStale => Step::StmtResults,
    }
}

/// What to do next to finish the result sets of the caller's own query (its
/// first header was read): read every remaining set, stop when idle.
pub(crate) fn finish_step(phase: Phase) -> Step {
    match phase {
        Phase::ResultPending => Step::ReadRows,
        Phase::MoreResults => Step::NextHeader,
        Phase::Broken => Step::Broken,
        _ => Step::Done,
    }
}

/// The rows of a result set ended (`fetch_row` gave NULL), with `error` if that
/// was an error rather than the end. An error packet may end a result after
/// some rows (a killed query, say): the protocol stays in sync unless the error
/// is fatal.
pub(crate) fn end_rows(raw: &mut RawConn, error: Option<Error>) -> Result<()> {
    if let Some(e) = &error {
        raw.trace_error(e);
    }
    match error {
        Some(e) if e.is_fatal() => {
            raw.set_phase(Phase::Broken);
            Err(e)
        }
        Some(e) => {
            raw.after_result();
            Err(e)
        }
        None => {
            raw.after_result();
            Ok(())
        }
    }
}

/// The outcome of the last statement.
pub(crate) fn status_of(raw: &RawConn) -> ExecResult {
    ExecResult {
        affected_rows: raw.affected_rows(),
        last_insert_id: raw.insert_id(),
        warnings: raw.warning_count(),
        info: raw.info(),
    }
}

/// The outcome of a prepared statement's last execute (`stmt`: the active one).
pub(crate) fn stmt_status_of(raw: &RawConn, stmt: Option<&RawStmt>) -> ExecResult {
    match stmt {
        Some(s) => ExecResult {
            affected_rows: s.affected_rows(),
            last_insert_id: s.insert_id(),
            warnings: raw.warning_count(),
            info: raw.info(),
        },
        None => ExecResult::default(),
    }
}

/// The columns of a statement without a result set.
pub(crate) fn empty_columns() -> Arc<[Column]> {
    Arc::from(Vec::new())
}

/// A call made while a split query's result is unread.
pub(crate) fn busy(what: &str) -> Error {
    Error::new(
        ErrorKind::Busy,
        format!("{what}: a query was sent and its result has not been read yet; call read_query_result first"),
    )
    .with_fatal(false)
}

/// A call on a broken connection.
pub(crate) fn broken() -> Error {
    Error::new(
        ErrorKind::Broken,
        "an earlier command on this connection failed or was abandoned mid-protocol; open a new connection",
    )
}

/// `query_one` found no row.
pub(crate) fn no_rows() -> Error {
    Error::new(
        ErrorKind::NoRows,
        "query_one: the query returned no rows (use query_opt when none is a valid answer)",
    )
    .with_fatal(false)
}

/// `read_query_result` without a query sent.
pub(crate) fn nothing_pending() -> Error {
    Error::new(
        ErrorKind::Busy,
        "read_query_result: no query is pending; call send_query first",
    )
    .with_fatal(false)
}
