//! More than one server: host lists, roles, the deny list, node health and
//! read-your-writes (documented on [`Target`](crate::Target) and in the README, "Replicas and
//! clusters").

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind, Result};
use crate::opts::Opts;
use crate::target::endpoint;
pub(crate) use crate::target::{HostOrder, Role, Target};

/// What a check of the server found (see [`AsyncConn::node`](crate::AsyncConn::node)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeState {
    /// Primary or replica, by `@@global.read_only`.
    pub role: Role,
    /// On a Galera node (`wsrep_on = ON`): `wsrep_ready` and
    /// `wsrep_local_state` (4 is Synced, 2 Donor/Desynced, 1 Joining, 3 Joined).
    pub galera: Option<GaleraState>,
}

/// The state of a Galera node (see [`NodeState`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GaleraState {
    /// `wsrep_ready`: the node is part of the primary component and accepts
    /// queries. `false` after it lost quorum.
    pub ready: bool,
    /// `wsrep_local_state`: 4 is Synced; anything else refuses or delays
    /// statements.
    pub local_state: u32,
}

impl NodeState {
    /// Whether the node serves statements: not a Galera node, or a Galera node
    /// that is ready and Synced.
    pub fn is_healthy(&self) -> bool {
        self.galera.is_none_or(|g| g.ready && g.local_state == 4)
    }

    pub(crate) fn unhealthy_reason(&self) -> String {
        match self.galera {
            Some(g) if !g.ready => "a Galera node that is not ready (wsrep_ready = OFF: \
                 it is not part of the primary component, it lost quorum)"
                .into(),
            Some(g) => format!(
                "a Galera node that is not Synced (wsrep_local_state = {}{})",
                g.local_state,
                match g.local_state {
                    1 => ", Joining",
                    2 => ", Donor/Desynced",
                    3 => ", Joined",
                    _ => "",
                }
            ),
            None => "healthy".into(),
        }
    }
}

/// Whether `e` says the connection's server is not what the pool was asked for:
/// 1047 from Galera (a node not ready: "WSREP has not yet prepared node for
/// application use"; a proxy's "Unknown command" has the same code and is not
/// this), 1290 for `--read-only` (a demoted primary; the same code names other
/// options, such as `--secure-file-priv`, which are not this), 1792 (a write in
/// a read-only transaction) and 1836 (read-only mode). A pool discards a
/// connection that saw one of them instead of handing it out again.
pub(crate) fn says_node_unfit(e: &Error) -> bool {
    let Some(server) = e.server() else {
        return false;
    };
    match server.code {
        1047 => server.message.contains("WSREP"),
        1290 => {
            let m = server.message.to_ascii_lowercase();
            m.contains("read-only") || m.contains("read_only")
        }
        1792 | 1836 => true,
        _ => false,
    }
}

// ---- the deny list ----------------------------------------------------------------

/// Hosts that could not be reached, and until when they are tried last.
fn deny_list() -> &'static Mutex<HashMap<String, Instant>> {
    static LIST: std::sync::OnceLock<Mutex<HashMap<String, Instant>>> = std::sync::OnceLock::new();
    LIST.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Put `host` on the deny list for `d`.
pub(crate) fn deny(host: &str, d: Duration) {
    if d.is_zero() {
        return;
    }
    let mut list = deny_list().lock().unwrap_or_else(|e| e.into_inner());
    let now = Instant::now();
    list.retain(|_, until| *until > now);
    list.insert(host.to_string(), now + d);
}

/// Take `host` off the deny list (it served).
pub(crate) fn allow(host: &str) {
    let mut list = deny_list().lock().unwrap_or_else(|e| e.into_inner());
    list.remove(host);
}

/// Whether `host` is on the deny list now.
pub(crate) fn is_denied(host: &str) -> bool {
    let list = deny_list().lock().unwrap_or_else(|e| e.into_inner());
    list.get(host).is_some_and(|until| *until > Instant::now())
}

/// A small random number (no dependency: the order of hosts needs no more).
fn random() -> u64 {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut x = nanos ^ SEQ.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
    // splitmix64
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The hosts in the order to try them: as listed or shuffled, then those on the
/// deny list moved to the end (kept, so that a list whose hosts are all denied
/// is still tried).
pub(crate) fn candidates(opts: &Opts) -> Vec<(String, u16)> {
    let mut hosts: Vec<(String, u16)> = opts
        .hosts()
        .iter()
        .map(|h| (h.host().to_string(), h.port()))
        .collect();
    if opts.host_order() == HostOrder::Random {
        for i in (1..hosts.len()).rev() {
            let j = (random() % (i as u64 + 1)) as usize;
            hosts.swap(i, j);
        }
    }
    let (mut ok, denied): (Vec<_>, Vec<_>) = hosts
        .into_iter()
        .partition(|(h, p)| !is_denied(&endpoint(h, *p)));
    ok.extend(denied);
    ok
}

/// Whether a failed connect means "this host cannot serve now" (move on to the
/// next) rather than "these credentials or options are wrong" (stop: the next
/// host would say the same).
pub(crate) fn may_move_on(e: &Error) -> bool {
    const ER_CON_COUNT_ERROR: u32 = 1040;
    const ER_UNKNOWN_COM_ERROR: u32 = 1047; // a Galera node not ready
    const ER_SERVER_SHUTDOWN: u32 = 1053;
    const CR_CONNECTION_ERROR: u32 = 2002;
    const CR_CONN_HOST_ERROR: u32 = 2003;
    const CR_UNKNOWN_HOST: u32 = 2005;
    const CR_SERVER_GONE_ERROR: u32 = 2006;
    const CR_SERVER_LOST: u32 = 2013;
    const CR_SERVER_LOST_EXTENDED: u32 = 2055;
    match e.code() {
        // Our own connect timeout, the connect queue, name resolution.
        None => matches!(e.kind(), ErrorKind::Connect | ErrorKind::Io),
        Some(c) => matches!(
            c,
            ER_CON_COUNT_ERROR
                | ER_UNKNOWN_COM_ERROR
                | ER_SERVER_SHUTDOWN
                | CR_CONNECTION_ERROR
                | CR_CONN_HOST_ERROR
                | CR_UNKNOWN_HOST
                | CR_SERVER_GONE_ERROR
                | CR_SERVER_LOST
                | CR_SERVER_LOST_EXTENDED
        ),
    }
}

/// The query that tells a primary from a replica and a Synced Galera node from
/// one that is not. It reads only global variables and `information_schema`,
/// which a Galera node answers even without quorum.
pub(crate) const MARIADB_NODE_QUERY: &str = "SELECT @@global.read_only, @@global.wsrep_on, \
     (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'WSREP_READY'), \
     (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'WSREP_LOCAL_STATE')";

/// Asks the server to report the GTID of each write in its OK packet:
/// `last_gtid` joins what `session_track_system_variables` tracks already.
pub(crate) const TRACK_GTID_SQL: &str = "SET SESSION session_track_system_variables = \
     CONCAT_WS(',', NULLIF(@@session.session_track_system_variables, ''), 'last_gtid')";

/// Makes a replica connection's session read-only.
pub(crate) const READ_ONLY_SESSION: &str = "SET SESSION TRANSACTION READ ONLY";

/// A row of [`MARIADB_NODE_QUERY`]: read_only, wsrep_on, wsrep_ready, wsrep_local_state.
pub(crate) type NodeRow = (i64, i64, Option<String>, Option<String>);

impl NodeState {
    /// What a row of [`MARIADB_NODE_QUERY`] says.
    pub(crate) fn from_row((ro, wsrep_on, ready, state): NodeRow) -> NodeState {
        let galera = (wsrep_on != 0).then(|| GaleraState {
            ready: ready
                .as_deref()
                .is_some_and(|r| r.eq_ignore_ascii_case("ON")),
            local_state: state.and_then(|s| s.trim().parse().ok()).unwrap_or(0),
        });
        NodeState {
            role: if ro != 0 {
                Role::Replica
            } else {
                Role::Primary
            },
            galera,
        }
    }
}

/// Whether a connection on `node` may serve a pool whose options ask for
/// `target`: healthy and of the role asked for (a [`Target::PreferReplica`]
/// pool keeps a primary connection: it was the fallback).
pub(crate) fn still_fits(target: Target, node: &NodeState) -> std::result::Result<(), String> {
    if !node.is_healthy() {
        return Err(node.unhealthy_reason());
    }
    if target != Target::PreferReplica && !target.accepts(node.role) {
        return Err(format!("the server is no longer {target}"));
    }
    Ok(())
}

// ---- read-your-writes ------------------------------------------------------------

/// Check that `gtid` is a MariaDB GTID position (`domain-server-sequence`, several
/// separated by commas), so that it can be written into SQL as a literal.
pub(crate) fn check_gtid(gtid: &str) -> Result<()> {
    let one = |p: &str| {
        let parts: Vec<&str> = p.trim().split('-').collect();
        parts.len() == 3
            && parts
                .iter()
                .all(|n| !n.is_empty() && n.len() <= 20 && n.bytes().all(|b| b.is_ascii_digit()))
    };
    if gtid.is_empty() || gtid.len() > 4096 || !gtid.split(',').all(one) {
        return Err(Error::new(
            ErrorKind::Params,
            format!(
                "`{}` is not a GTID position (domain-server-sequence, e.g. 0-1-42; several \
                 separated by commas)",
                gtid.chars().take(80).collect::<String>()
            ),
        )
        .with_fatal(false));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gtids_are_checked_before_they_reach_sql() {
        assert!(check_gtid("0-1-42").is_ok());
        assert!(check_gtid("0-1-42,1-2-7").is_ok());
        assert!(check_gtid("").is_err());
        assert!(check_gtid("0-1").is_err());
        assert!(check_gtid("0-1-42'); DROP TABLE t; --").is_err());
        assert!(check_gtid("0-1-x").is_err());
    }

    #[test]
    fn denied_hosts_go_last_and_come_back() {
        let opts =
            Opts::from_url("mysql://u@deny-a.invalid:1,deny-b.invalid:2,deny-c.invalid:3/db")
                .unwrap();
        deny("deny-a.invalid:1", Duration::from_millis(200));
        let order: Vec<String> = candidates(&opts)
            .iter()
            .map(|(h, p)| endpoint(h, *p))
            .collect();
        assert_eq!(
            order,
            ["deny-b.invalid:2", "deny-c.invalid:3", "deny-a.invalid:1"]
        );
        std::thread::sleep(Duration::from_millis(250));
        assert!(!is_denied("deny-a.invalid:1"));
        assert_eq!(candidates(&opts)[0].0, "deny-a.invalid");
    }

    #[test]
    fn random_order_visits_every_permutation_start() {
        let opts = Opts::from_url("mysql://u@r1:1,r2:2,r3:3/db?host_order=random").unwrap();
        let mut firsts = std::collections::HashSet::new();
        for _ in 0..200 {
            firsts.insert(candidates(&opts)[0].0.clone());
        }
        assert_eq!(firsts.len(), 3, "{firsts:?}");
    }

    #[test]
    fn unfit_node_errors() {
        let e = |code, msg: &str| Error::from_code(code, "HY000".into(), msg.into(), false);
        assert!(says_node_unfit(&e(
            1047,
            "WSREP has not yet prepared node for application use"
        )));
        assert!(!says_node_unfit(&e(1047, "Unknown command")));
        assert!(says_node_unfit(&e(
            1290,
            "The MariaDB server is running with the --read-only option so it cannot execute this statement"
        )));
        assert!(!says_node_unfit(&e(
            1290,
            "The MariaDB server is running with the --secure-file-priv option so it cannot execute this statement"
        )));
        assert!(says_node_unfit(&e(
            1792,
            "Cannot execute statement in a READ ONLY transaction"
        )));
        assert!(says_node_unfit(&e(1836, "Running in read-only mode")));
        assert!(!says_node_unfit(&e(1062, "Duplicate entry")));
    }

    #[test]
    fn health_and_fit() {
        let galera = |ready, local_state| NodeState {
            role: Role::Primary,
            galera: Some(GaleraState { ready, local_state }),
        };
        assert!(galera(true, 4).is_healthy());
        assert!(!galera(true, 2).is_healthy());
        assert!(!galera(false, 4).is_healthy());
        assert!(still_fits(Target::Primary, &galera(true, 4)).is_ok());
        assert!(still_fits(Target::Replica, &galera(true, 4)).is_err());
        assert!(still_fits(Target::PreferReplica, &galera(true, 4)).is_ok());
        let e = still_fits(Target::Any, &galera(true, 2)).unwrap_err();
        assert!(e.contains("Desynced"), "{e}");
    }
}
