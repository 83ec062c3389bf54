//! Connecting to one of several hosts by role and health, and the node check
//! (the pure parts, shared with the pool, are in `cluster.rs`).

use std::time::Duration;

use super::connection::AsyncConn;
use crate::cluster::{
    allow, candidates, check_gtid, deny, may_move_on, NodeState, Role, Target, MARIADB_NODE_QUERY,
    READ_ONLY_SESSION,
};
use crate::error::{Error, ErrorKind, Result};
use crate::opts::Opts;
use crate::target::endpoint;

impl AsyncConn {
    /// Connect to the first host of `opts` whose server has the target role and
    /// is healthy (see [`Target`]).
    pub(super) async fn connect_routed(opts: Opts) -> Result<AsyncConn> {
        if opts.socket().is_some() && opts.hosts().len() > 1 {
            return Err(Error::new(
                ErrorKind::Config,
                "a unix socket and a list of hosts cannot be combined: the socket names one server",
            )
            .with_fatal(false));
        }
        let target = opts.target();
        let deny_for = opts.deny_duration();
        let mut fallback: Option<(AsyncConn, NodeState)> = None;
        let mut why: Vec<String> = Vec::new();
        for (host, port) in candidates(&opts) {
            let at = endpoint(&host, port);
            let one = opts.for_host(&host, port);
            let mut conn = match Self::connect_one_host(one).await {
                Ok(c) => c,
                Err(e) if may_move_on(&e) => {
                    tracing::debug!(target: "mysqlclient_async::cluster", host = %at, error = %e, "host unreachable: on the deny list");
                    deny(&at, deny_for);
                    why.push(format!("{at}: {e}"));
                    continue;
                }
                // Authentication and option errors: every host would say the same.
                Err(e) => return Err(e.context(format_args!("connecting to {at}"))),
            };
            let node = match conn.check_node().await {
                Ok(n) => n,
                Err(e) => {
                    deny(&at, deny_for);
                    why.push(format!("{at}: checking its role failed: {e}"));
                    continue;
                }
            };
            if !node.is_healthy() {
                tracing::debug!(target: "mysqlclient_async::cluster", host = %at, state = ?node, "node not healthy: on the deny list");
                deny(&at, deny_for);
                why.push(format!("{at}: {}", node.unhealthy_reason()));
                continue;
            }
            allow(&at);
            if target.accepts(node.role) {
                conn.enter_node_session(node).await?;
                return Ok(conn);
            }
            if target == Target::PreferReplica && fallback.is_none() {
                fallback = Some((conn, node));
                continue;
            }
            why.push(format!(
                "{at}: is a {} (read_only = {})",
                match node.role {
                    Role::Primary => "primary",
                    Role::Replica => "replica",
                },
                if node.role == Role::Replica {
                    "ON"
                } else {
                    "OFF"
                }
            ));
        }
        if let Some((mut conn, node)) = fallback {
            conn.enter_node_session(node).await?;
            return Ok(conn);
        }
        Err(Error::new(
            ErrorKind::Connect,
            format!(
                "no host can serve as {target}: {}",
                if why.is_empty() {
                    "no hosts are listed".to_string()
                } else {
                    why.join("; ")
                }
            ),
        ))
    }

    /// The role and health of this connection's server as last checked: when it
    /// was made with a [`Target`](crate::Target) or a host list, at connect and
    /// at each [`check_node`](Self::check_node) (a pool's checkout after idle).
    /// `None` for a connection whose server was never checked.
    pub fn node(&self) -> Option<NodeState> {
        self.node
    }

    /// Check the server's role (`@@global.read_only`) and, on Galera, whether
    /// the node is ready and Synced, in one query that a node without quorum
    /// still answers; remember it for [`node`](Self::node).
    pub async fn check_node(&mut self) -> Result<NodeState> {
        let node = if self.server_version().contains("MariaDB") {
            NodeState::from_row(self.query_one(MARIADB_NODE_QUERY).await?)
        } else {
            // MySQL: no wsrep variables unless it is Percona XtraDB Cluster; the
            // role is what read_only says.
            let ro: i64 = self.query_one("SELECT @@global.read_only").await?;
            NodeState::from_row((ro, 0, None, None))
        };
        self.node = Some(node);
        Ok(node)
    }

    /// This connection serves `node`: a replica's session is read-only (a user
    /// with every privilege could otherwise write to a read-only replica and
    /// break replication).
    pub(super) async fn enter_node_session(&mut self, node: NodeState) -> Result<()> {
        self.node = Some(node);
        if node.role == Role::Replica {
            self.query_drop(READ_ONLY_SESSION).await?;
        }
        Ok(())
    }

    /// Wait until this connection's server has applied `gtid` (a position from
    /// [`last_gtid`](Self::last_gtid)), at most `timeout`: `MASTER_GTID_WAIT` on
    /// MariaDB. `Ok(true)` once it has, `Ok(false)` if the timeout passed first.
    /// It compares with what the server applied as a replica (`gtid_slave_pos`):
    /// on a server that never replicated, such as the primary that wrote it, it
    /// waits the whole timeout and says `false`.
    pub async fn wait_for_gtid(&mut self, gtid: &str, timeout: Duration) -> Result<bool> {
        check_gtid(gtid)?;
        let sql = format!(
            "SELECT MASTER_GTID_WAIT('{gtid}', {:.3})",
            timeout.as_secs_f64()
        );
        let r: Option<i64> = self.query_one(&sql).await?;
        Ok(r == Some(0))
    }
}
