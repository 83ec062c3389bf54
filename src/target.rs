//! The role a connection must land on and the order of a host list (see
//! [`Target`]); the connecting itself is in `cluster.rs`.

use std::fmt;

/// Which kind of server a connection may land on (see
/// [`OptsBuilder::target`](crate::OptsBuilder::target)).
///
/// With any target but [`Any`](Target::Any), or with more than one host, every
/// connect checks the server after logging in: `@@global.read_only` tells a
/// primary (`OFF`) from a replica (`ON`), and on a Galera node
/// `wsrep_ready = ON` and `wsrep_local_state = 4` (Synced) must hold, whatever the
/// target: a node that lost quorum or left the Synced state answers pings and
/// logins but refuses every table access (error 1047).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Target {
    /// Any healthy server (the default).
    #[default]
    Any,
    /// A server that accepts writes (`read_only = OFF`).
    Primary,
    /// A read-only server (`read_only = ON`); its sessions run
    /// `SET SESSION TRANSACTION READ ONLY`.
    Replica,
    /// A replica if one is reachable, else a primary.
    PreferReplica,
}

impl Target {
    pub(crate) fn parse(s: &str) -> Option<Target> {
        Some(match s.to_ascii_lowercase().replace('-', "_").as_str() {
            "any" => Target::Any,
            "primary" | "read_write" | "master" => Target::Primary,
            "replica" | "read_only" | "secondary" | "standby" | "slave" => Target::Replica,
            "prefer_replica" | "prefer_standby" | "prefer_secondary" => Target::PreferReplica,
            _ => return None,
        })
    }

    pub(crate) fn accepts(self, role: Role) -> bool {
        match self {
            Target::Any => true,
            Target::Primary => role == Role::Primary,
            Target::Replica | Target::PreferReplica => role == Role::Replica,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Target::Any => "any server",
            Target::Primary => "a primary",
            Target::Replica => "a replica",
            Target::PreferReplica => "a replica (or else a primary)",
        })
    }
}

/// The role a connection's server had when it was last checked (see
/// [`AsyncConn::node`](crate::AsyncConn::node)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Role {
    /// `read_only = OFF`: accepts writes.
    Primary,
    /// `read_only = ON`.
    Replica,
}

/// The order in which the hosts of a list are tried (see
/// [`OptsBuilder::host_order`](crate::OptsBuilder::host_order)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum HostOrder {
    /// As listed (the default): the first host of the right role serves.
    #[default]
    Sequential,
    /// In a new random order at each connect: spreads connections over the hosts
    /// of the right role.
    Random,
}

/// `host:port`, with brackets around an IPv6 address.
pub(crate) fn endpoint(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_with_other_drivers_names() {
        assert_eq!(Target::parse("primary"), Some(Target::Primary));
        assert_eq!(Target::parse("read-write"), Some(Target::Primary));
        assert_eq!(Target::parse("standby"), Some(Target::Replica));
        assert_eq!(Target::parse("prefer-standby"), Some(Target::PreferReplica));
        assert_eq!(Target::parse("Prefer_Replica"), Some(Target::PreferReplica));
        assert_eq!(Target::parse("any"), Some(Target::Any));
        assert_eq!(Target::parse("leader"), None);
    }
}
