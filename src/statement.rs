//! Server-side prepared statements: the [`Statement`] handle (whose docs say how
//! the cache works), what `exec` accepts ([`StatementLike`]), and each connection's
//! statement cache.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use crate::column::Column;
use crate::error::{Error, ErrorKind, Result};
use crate::params::lexer::{untracked_changes, Untracked};
use crate::protocol::broken;
use crate::raw::consts::CR_NEW_STMT_METADATA;
use crate::raw::stmt::RawStmt;
use crate::row::ExecResult;
use crate::types::Value;

/// A statement prepared on the server, from [`AsyncConn::prepare`] or
/// [`Conn::prepare`]. Cheap to clone; pass it to `exec*` instead of the SQL text.
///
/// It knows its number of parameters and its result columns (as of the prepare:
/// when a table changes, the rows of a later execute carry the new columns).
///
/// A connection owns every statement prepared on it, in its cache, keyed by the
/// SQL text. A `Statement` handle names one by its text and pins it: a pinned
/// statement is never evicted. Unpinned statements beyond the cache's size
/// ([`OptsBuilder::stmt_cache_size`](crate::OptsBuilder::stmt_cache_size)) are
/// closed on the server, least recently used first, by the connection's next
/// command (closing sends one packet and waits for nothing). So dropping a
/// handle never blocks, and a handle stays usable on any connection: where its
/// statement is not prepared (another connection, or after a reset), `exec`
/// prepares it again.
///
/// [`AsyncConn::prepare`]: crate::AsyncConn::prepare
/// [`Conn::prepare`]: crate::Conn::prepare
#[derive(Clone)]
pub struct Statement(Arc<Meta>);

struct Meta {
    sql: Arc<str>,
    params: usize,
    columns: Arc<[Column]>,
}

impl Statement {
    pub(crate) fn new(sql: Arc<str>, params: usize, columns: Arc<[Column]>) -> Statement {
        Statement(Arc::new(Meta {
            sql,
            params,
            columns,
        }))
    }

    /// The SQL text.
    pub fn sql(&self) -> &str {
        &self.0.sql
    }

    /// Number of `?` placeholders: `exec` refuses any other number of parameters
    /// before sending anything.
    pub fn param_count(&self) -> usize {
        self.0.params
    }

    /// The result columns (empty for statements that return no rows).
    pub fn columns(&self) -> &[Column] {
        &self.0.columns
    }

    /// Whether a handle other than the cache's own exists.
    fn pinned(&self) -> bool {
        Arc::strong_count(&self.0) > 1
    }
}

impl fmt::Debug for Statement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Statement")
            .field("sql", &self.sql())
            .field("params", &self.param_count())
            .field("columns", &self.columns().len())
            .finish()
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for str {}
    impl Sealed for String {}
    impl Sealed for super::Statement {}
}

/// What `exec*` accepts: SQL text (`&str`, `&String`), prepared once per
/// connection and then taken from its statement cache, or a [`Statement`].
pub trait StatementLike: sealed::Sealed + Sync {
    /// The SQL text.
    fn sql_text(&self) -> &str;
}

impl StatementLike for str {
    fn sql_text(&self) -> &str {
        self
    }
}

impl StatementLike for String {
    fn sql_text(&self) -> &str {
        self
    }
}

impl StatementLike for Statement {
    fn sql_text(&self) -> &str {
        self.sql()
    }
}

/// One cached statement.
pub(crate) struct Entry {
    pub(crate) raw: RawStmt,
    pub(crate) handle: Statement,
    last_used: u64,
    /// What the text may change that the server does not report
    /// (`params::lexer::untracked_changes`): each execute marks the session.
    untracked: Option<Untracked>,
}

/// A connection's prepared statements (see [`Statement`]): entries in slots,
/// found by SQL text once per call; the active statement is a slot index, so
/// reading its rows does not look the text up again.
pub(crate) struct StmtCache {
    index: HashMap<Arc<str>, usize>,
    slots: Vec<Option<Entry>>,
    free: Vec<usize>,
    capacity: usize,
    tick: u64,
    /// Statements to close on the server at the next command.
    pub(crate) to_close: Vec<RawStmt>,
    /// A statement whose prepare is in flight (its future may be dropped).
    pub(crate) preparing: Option<(Arc<str>, RawStmt)>,
    /// A statement being closed (the library frees it when the close finishes).
    pub(crate) closing: Option<RawStmt>,
    /// The slot of the statement whose execute, rows or long data are in flight.
    active: Option<usize>,
    /// Long data was sent for the active statement and its execute has not
    /// started: the server would use that data in the next execute, so the
    /// statement is closed if the call is abandoned.
    pub(crate) long_data_pending: bool,
    /// The last command sent was an execute of the active statement (not a text
    /// query): what a lost connection may have run is that statement.
    pub(crate) executed_last: bool,
    /// The current call runs its statement as text with client-side parameters:
    /// the server (or a proxy) refused to prepare it.
    pub(crate) text_fallback: bool,
    /// The server refused `COM_STMT_PREPARE` itself (an unknown command, as behind
    /// a proxy without prepared statements): every statement runs as text.
    refuses_prepare: bool,
    /// Statements the server refused to prepare one by one (`ER_UNSUPPORTED_PS`).
    unpreparable: std::collections::HashSet<Arc<str>>,
}

impl StmtCache {
    pub(crate) fn new(capacity: usize) -> StmtCache {
        StmtCache {
            index: HashMap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            capacity,
            tick: 0,
            to_close: Vec::new(),
            preparing: None,
            closing: None,
            active: None,
            long_data_pending: false,
            executed_last: false,
            text_fallback: false,
            refuses_prepare: false,
            unpreparable: std::collections::HashSet::new(),
        }
    }

    /// Whether `sql` must run as text: the server refused to prepare statements,
    /// or this one.
    pub(crate) fn prepare_refused(&self, sql: &str) -> bool {
        self.refuses_prepare || self.unpreparable.contains(sql)
    }

    /// Whether the server refused to prepare statements at all on this connection.
    pub(crate) fn refuses_prepare(&self) -> bool {
        self.refuses_prepare
    }

    /// Remember that the server refused to prepare `sql` with `e`, if the refusal
    /// means "not supported" (a refused prepare ran nothing): error 1047
    /// (`ER_UNKNOWN_COM_ERROR`, the command itself is unknown, as behind a proxy
    /// without prepared statements: every statement from now on) or 1295
    /// (`ER_UNSUPPORTED_PS`: this statement cannot be prepared). Anything else (a
    /// syntax error, an unknown table) is the statement's own error. Returns
    /// whether it was such a refusal.
    pub(crate) fn note_refusal(&mut self, sql: &str, e: &Error) -> bool {
        const ER_UNKNOWN_COM_ERROR: u32 = 1047;
        const ER_UNSUPPORTED_PS: u32 = 1295;
        /// Statements remembered one by one, at most.
        const MAX_UNPREPARABLE: usize = 1024;
        if e.is_fatal() || e.kind() != ErrorKind::Server {
            return false;
        }
        match e.server() {
            // Galera answers 1047 to every command while the node is not ready
            // ("WSREP has not yet prepared node for application use"): not a
            // refusal of prepared statements.
            Some(s) if s.code == ER_UNKNOWN_COM_ERROR && !s.message.starts_with("WSREP") => {
                self.refuses_prepare = true;
                true
            }
            Some(s) if s.code == ER_UNSUPPORTED_PS => {
                if self.unpreparable.len() >= MAX_UNPREPARABLE {
                    self.unpreparable.clear();
                }
                self.unpreparable.insert(Arc::from(sql));
                true
            }
            _ => false,
        }
    }

    /// Make the cached statement for `sql` the active one (marked as just used);
    /// false if it is not cached.
    pub(crate) fn activate(&mut self, sql: &str) -> bool {
        let Some(&slot) = self.index.get(sql) else {
            return false;
        };
        self.tick += 1;
        if let Some(e) = self.slots[slot].as_mut() {
            e.last_used = self.tick;
        }
        self.active = Some(slot);
        true
    }

    /// The entry of the active statement.
    pub(crate) fn active_entry(&mut self) -> Option<&mut Entry> {
        self.slots.get_mut(self.active?)?.as_mut()
    }

    /// What the active statement may change that the server does not report.
    pub(crate) fn active_untracked(&self) -> Option<Untracked> {
        self.slots[self.active?].as_ref()?.untracked
    }

    /// The active statement, or the error of a connection that lost track of it.
    pub(crate) fn active_raw(&mut self) -> Result<&mut RawStmt> {
        self.active_entry().map(|e| &mut e.raw).ok_or_else(broken)
    }

    /// Cache a freshly prepared statement and make it the active one.
    pub(crate) fn insert(&mut self, sql: Arc<str>, raw: RawStmt) {
        self.tick += 1;
        let handle = Statement::new(sql.clone(), raw.param_count(), raw.columns().clone());
        let entry = Entry {
            untracked: Some(untracked_changes(sql.as_bytes())).filter(|u| u.any),
            raw,
            handle,
            last_used: self.tick,
        };
        if let Some(&old) = self.index.get(&sql) {
            self.evict_slot(old);
        }
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot] = Some(entry);
                slot
            }
            None => {
                self.slots.push(Some(entry));
                self.slots.len() - 1
            }
        };
        self.index.insert(sql, slot);
        self.active = Some(slot);
    }

    /// Forget the active statement (it is closed at the next command).
    pub(crate) fn evict_active(&mut self) {
        if let Some(slot) = self.active {
            self.evict_slot(slot);
        }
    }

    fn evict_slot(&mut self, slot: usize) {
        if let Some(e) = self.slots[slot].take() {
            self.index.remove(e.handle.sql());
            self.to_close.push(e.raw);
            self.free.push(slot);
        }
        if self.active == Some(slot) {
            self.active = None;
        }
    }

    /// Move the least recently used unpinned statements beyond the cache's size
    /// to the close list.
    pub(crate) fn trim(&mut self) {
        while self.index.len() > self.capacity {
            let victim = self
                .slots
                .iter()
                .enumerate()
                .filter_map(|(i, e)| Some((i, e.as_ref()?)))
                .filter(|(_, e)| !e.handle.pinned())
                .min_by_key(|(_, e)| e.last_used)
                .map(|(i, _)| i);
            match victim {
                Some(slot) => self.evict_slot(slot),
                None => break,
            }
        }
    }

    /// Whether any statement waits to be closed (or the cache is over its size).
    pub(crate) fn needs_cleanup(&self) -> bool {
        !self.to_close.is_empty() || self.index.len() > self.capacity
    }

    /// Testing aid: make the server not know the cached statement for `sql` (see
    /// `RawStmt::forget_on_server`); false if it is not cached.
    pub(crate) fn forget_on_server(&mut self, sql: &str) -> bool {
        let Some(&slot) = self.index.get(sql) else {
            return false;
        };
        match self.slots[slot].as_mut() {
            Some(e) => {
                e.raw.forget_on_server();
                true
            }
            None => false,
        }
    }

    /// Every statement was dropped by the server (a reset): close them all
    /// client-side.
    pub(crate) fn clear(&mut self) {
        for slot in 0..self.slots.len() {
            self.evict_slot(slot);
        }
    }
}

/// The running total of an `exec_batch`: affected rows and warnings summed, the
/// first generated id kept.
#[derive(Default)]
pub(crate) struct BatchTotal(ExecResult);

impl BatchTotal {
    /// Add one execute's (or one bulk chunk's) outcome.
    pub(crate) fn add(&mut self, r: &ExecResult) {
        self.0.affected_rows += r.affected_rows;
        self.0.warnings += r.warnings;
        if self.0.last_insert_id == 0 {
            self.0.last_insert_id = r.last_insert_id;
        }
    }

    /// Rows affected so far.
    pub(crate) fn affected(&self) -> u64 {
        self.0.affected_rows
    }

    pub(crate) fn finish(self) -> ExecResult {
        self.0
    }
}

/// Refuse a batch whose rows do not all carry `params` values.
pub(crate) fn check_batch_rows(rows: &[Vec<Value>], params: usize) -> Result<()> {
    match rows.iter().position(|r| r.len() != params) {
        None => Ok(()),
        Some(bad) => Err(Error::new(
            ErrorKind::Params,
            format!(
                "exec_batch: row {} has {} parameter(s), the statement {params}; nothing was sent",
                bad + 1,
                rows[bad].len(),
            ),
        )
        .with_fatal(false)),
    }
}

/// `ER_UNKNOWN_STMT_HANDLER`: the server does not know the statement (it was
/// closed by a reset, a proxy, or a server-side limit).
pub(crate) const ER_UNKNOWN_STMT_HANDLER: u32 = 1243;
/// `ER_NEED_REPREPARE`: the statement must be prepared again.
pub(crate) const ER_NEED_REPREPARE: u32 = 1615;

/// Whether an execute failed because the statement must be prepared again: the
/// server forgot it, or its result has other columns than when it was prepared.
pub(crate) fn needs_reprepare(e: &Error) -> bool {
    matches!(
        e.code(),
        Some(ER_UNKNOWN_STMT_HANDLER | ER_NEED_REPREPARE | CR_NEW_STMT_METADATA)
    )
}

/// How many of `rows` fit one bulk packet below `limit` bytes (at least one).
pub(crate) fn chunk_len(rows: &[Vec<Value>], limit: usize) -> usize {
    // Leave room for the header and the parameter types.
    let budget = limit.saturating_sub(4096).max(1024) / 2;
    let mut size = 0usize;
    for (n, row) in rows.iter().enumerate() {
        let row_size: usize = row.iter().map(value_size).sum::<usize>() + row.len();
        if n > 0 && size + row_size > budget {
            return n;
        }
        size += row_size;
    }
    rows.len()
}

/// An upper bound of a value's size in a bulk packet.
fn value_size(v: &Value) -> usize {
    match v {
        Value::Text(s) => s.len() + 9,
        Value::Bytes(b) => b.len() + 9,
        Value::Decimal(d) => d.as_str().len() + 9,
        _ => 13,
    }
}

/// An error in the middle of a batch, saying how much was applied before it.
pub(crate) fn batch_error(e: Error, first: usize, n: usize, applied: u64) -> Error {
    let rows = if n == 1 {
        format!("row {}", first + 1)
    } else {
        format!("rows {}–{}", first + 1, first + n)
    };
    e.context(format!(
        "exec_batch: {rows} failed; the {first} row(s) before them were executed \
         ({applied} affected), the failed chunk's rows were not (a statement's effects are \
         undone on error with InnoDB; with a non-transactional engine some may remain)"
    ))
}
