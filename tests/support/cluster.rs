//! Throwaway replication topologies on loopback, built from private servers.
//!
//! - [`ReplicaPair`]: a GTID primary and a read-only replica (optionally delayed).
//! - [`Galera`]: an n-node Galera cluster (rsync state transfer), its nodes run as
//!   the `mysql` user (see [`ServerOptions::as_mysql_user`]).
//!
//! Every server is a [`Server`] from the parent module: free ports, a temporary
//! directory, the same cleanup layers (drop, atexit, PDEATHSIG), the same
//! `mysql://root@127.0.0.1:PORT/test` URLs. Every wait is bounded and panics with
//! what did not happen, what was seen last and the tail of the error logs.
//!
//! Both topologies also create [`APP_USER`], an unprivileged user with all
//! privileges on `test` only: unlike root, it is refused writes on a read-only
//! replica (error 1290).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use super::{free_ports, run_mariadb, start_private_opts, Server, ServerOptions, CLI_TIMEOUT};

/// How long a replica or a Galera node may take to reach a state we wait for.
pub const CLUSTER_WAIT: Duration = Duration::from_secs(60);

/// An unprivileged user (no password, all privileges on `test` only) that
/// [`ReplicaPair`] and [`Galera`] create on every server.
pub const APP_USER: &str = "app";

const APP_USER_SQL: &str = "CREATE USER IF NOT EXISTS 'app'@'%' IDENTIFIED BY ''; \
                            GRANT ALL PRIVILEGES ON test.* TO 'app'@'%';";

/// Answers on any server, Galera or not: `@@global.read_only`, `WSREP_READY` and
/// `WSREP_LOCAL_STATE` (see the self-test for what each state returns).
pub const HEALTH_SQL: &str = "SELECT @@global.read_only, \
     (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS \
      WHERE VARIABLE_NAME='WSREP_READY'), \
     (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS \
      WHERE VARIABLE_NAME='WSREP_LOCAL_STATE')";

/// `mysql://app@127.0.0.1:PORT/test` for `server` (see [`APP_USER`]).
pub fn app_url(server: &Server) -> String {
    format!("mysql://{APP_USER}@127.0.0.1:{}/test", server.port())
}

/// Seconds with two decimals, for the start-time lines.
fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// Polls `check` every 50 ms until it returns `Ok`, for at most `timeout`; on
/// timeout returns the last `Err` (what was seen instead).
fn poll<T>(timeout: Duration, mut check: impl FnMut() -> Result<T, String>) -> Result<T, String> {
    let deadline = Instant::now() + timeout;
    loop {
        match check() {
            Ok(v) => return Ok(v),
            Err(last) if Instant::now() >= deadline => return Err(last),
            Err(_) => thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// The panic message of a wait that timed out.
fn timed_out(what: &str, timeout: Duration, last: &str, servers: &[(&str, &Server)]) -> String {
    let mut msg = format!("{what} did not happen within {timeout:?}; last seen: {last}");
    for (name, server) in servers {
        msg.push_str(&format!(
            "\n--- tail of {name}'s error log ({}) ---\n{}",
            server.error_log_path().display(),
            server.error_log_tail(25)
        ));
    }
    msg
}

/// Runs `f(i)` for `0..n` on threads of their own and returns the results in order.
fn in_parallel<T: Send>(n: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let f = &f;
    thread::scope(|s| {
        let handles: Vec<_> = (0..n).map(|i| s.spawn(move || f(i))).collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

// ---------------------------------------------------------------------------------
// Primary + replica
// ---------------------------------------------------------------------------------

/// A GTID primary (`server_id` 1, binary log in ROW format, strict GTID mode) and a
/// replica of it (`server_id` 2, `read_only`, its own binary log with the
/// replicated changes, so that it can be promoted), replicating as root with
/// `MASTER_USE_GTID=slave_pos`. The `test` database exists on both.
pub struct ReplicaPair {
    primary: Server,
    replica: Server,
    delay_secs: u32,
    started_in: Duration,
}

impl ReplicaPair {
    /// Starts a primary and a replica and waits until both replication threads run.
    pub fn start() -> ReplicaPair {
        Self::launch(0)
    }

    /// Like [`start`](Self::start), with `MASTER_DELAY=secs`: the replica applies
    /// each transaction no earlier than `secs` seconds after the primary wrote it
    /// (whole seconds: the binary log's timestamps have no fraction).
    pub fn start_delayed(secs: u32) -> ReplicaPair {
        Self::launch(secs)
    }

    fn launch(delay_secs: u32) -> ReplicaPair {
        let t0 = Instant::now();
        let common = [
            "--log-bin=mariadb-bin",
            "--binlog-format=ROW",
            "--gtid-strict-mode=ON",
            "--log-slave-updates=ON",
        ];
        let mut servers = in_parallel(2, |i| {
            let mut args: Vec<String> = common.iter().map(|s| s.to_string()).collect();
            args.push(format!("--server-id={}", i + 1));
            if i == 1 {
                args.push("--read-only=ON".into());
                args.push("--relay-log=relay-bin".into());
            }
            start_private_opts(&ServerOptions {
                args,
                ..ServerOptions::default()
            })
        });
        let replica = servers.pop().expect("two servers");
        let primary = servers.pop().expect("two servers");
        // Binlogged, so it reaches the replica through replication.
        primary.cli(APP_USER_SQL);
        let delay = if delay_secs > 0 {
            format!(", MASTER_DELAY={delay_secs}")
        } else {
            String::new()
        };
        replica.cli(&format!(
            "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={}, MASTER_USER='root', \
             MASTER_PASSWORD='', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1{delay}; \
             START SLAVE;",
            primary.port()
        ));
        let pair = ReplicaPair {
            primary,
            replica,
            delay_secs,
            started_in: Duration::ZERO,
        };
        pair.wait_replica_running(CLUSTER_WAIT);
        let started_in = t0.elapsed();
        eprintln!(
            "cluster: replica pair (delay {delay_secs} s) ready in {}: primary 127.0.0.1:{}, \
             replica 127.0.0.1:{}",
            secs(started_in),
            pair.primary.port(),
            pair.replica.port()
        );
        ReplicaPair { started_in, ..pair }
    }

    /// The primary (writable, `server_id` 1).
    pub fn primary(&self) -> &Server {
        &self.primary
    }

    /// The replica (`read_only` until [`promote_replica`](Self::promote_replica)).
    pub fn replica(&self) -> &Server {
        &self.replica
    }

    /// The `MASTER_DELAY` it was started with (0: none).
    pub fn delay_secs(&self) -> u32 {
        self.delay_secs
    }

    /// How long [`start`](Self::start) took, both servers included.
    pub fn started_in(&self) -> Duration {
        self.started_in
    }

    /// `SHOW SLAVE STATUS` of the replica as field → value (empty once promoted).
    pub fn replica_status(&self) -> BTreeMap<String, String> {
        self.try_replica_status()
            .unwrap_or_else(|e| panic!("SHOW SLAVE STATUS on the replica: {e}"))
    }

    fn try_replica_status(&self) -> Result<BTreeMap<String, String>, String> {
        // Vertical output, with the column names the support CLI leaves out by default.
        let mut args = self.replica.socket_cli_args();
        args.push("--column-names".into());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run_mariadb(&args, "SHOW SLAVE STATUS\\G", None, CLI_TIMEOUT)?;
        Ok(parse_vertical(&out))
    }

    /// Waits until the replica's `Slave_IO_Running` and `Slave_SQL_Running` are
    /// both `Yes`; panics otherwise.
    pub fn wait_replica_running(&self, timeout: Duration) {
        let result = poll(timeout, || {
            let status = self.try_replica_status()?;
            let field = |k: &str| status.get(k).map(String::as_str).unwrap_or("?");
            if field("Slave_IO_Running") == "Yes" && field("Slave_SQL_Running") == "Yes" {
                Ok(())
            } else {
                Err(format!(
                    "Slave_IO_Running={} Slave_SQL_Running={} Last_IO_Error={:?} \
                     Last_SQL_Error={:?}",
                    field("Slave_IO_Running"),
                    field("Slave_SQL_Running"),
                    field("Last_IO_Error"),
                    field("Last_SQL_Error")
                ))
            }
        });
        if let Err(last) = result {
            panic!(
                "{}",
                timed_out(
                    "replica: both replication threads running",
                    timeout,
                    &last,
                    &self.both()
                )
            );
        }
    }

    /// Waits until the replica has applied everything the primary had written when
    /// called (`@@gtid_slave_pos` of the replica reaches `@@gtid_binlog_pos` of the
    /// primary in every replication domain); panics otherwise.
    pub fn wait_replica_caught_up(&self, timeout: Duration) {
        let target = self.primary.cli("SELECT @@gtid_binlog_pos");
        let want = parse_gtid_pos(&target);
        let result = poll(timeout, || {
            let seen = self.replica.try_cli("SELECT @@gtid_slave_pos")?;
            let have = parse_gtid_pos(&seen);
            let behind = want
                .iter()
                .any(|(domain, seq)| have.get(domain).is_none_or(|s| s < seq));
            if behind {
                Err(format!("replica at {seen:?}"))
            } else {
                Ok(())
            }
        });
        if let Err(last) = result {
            panic!(
                "{}",
                timed_out(
                    &format!("replica catching up with the primary's {target:?}"),
                    timeout,
                    &last,
                    &self.both()
                )
            );
        }
    }

    /// Turns the replica into a writable primary of its own: `STOP SLAVE; RESET
    /// SLAVE ALL; SET GLOBAL read_only=OFF`. The old primary is left as it is.
    pub fn promote_replica(&self) {
        self.replica
            .cli("STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only=OFF;");
    }

    fn both(&self) -> [(&str, &Server); 2] {
        [("primary", &self.primary), ("replica", &self.replica)]
    }
}

/// Parses the CLI's vertical (`\G`) output of one row into field → value.
fn parse_vertical(out: &str) -> BTreeMap<String, String> {
    out.lines()
        .filter(|l| !l.starts_with("***"))
        .filter_map(|l| {
            l.split_once(": ")
                .or_else(|| l.strip_suffix(':').map(|k| (k, "")))
        })
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// `"0-1-5,1-1-3"` → {0: 5, 1: 3} (domain → sequence number).
fn parse_gtid_pos(pos: &str) -> BTreeMap<u32, u64> {
    pos.split(',')
        .filter_map(|gtid| {
            let mut parts = gtid.trim().split('-');
            let domain = parts.next()?.parse().ok()?;
            let _server = parts.next()?;
            let seq = parts.next()?.parse().ok()?;
            Some((domain, seq))
        })
        .collect()
}

// ---------------------------------------------------------------------------------
// Galera
// ---------------------------------------------------------------------------------

/// `wsrep_local_state` of a node that is in sync with its cluster.
pub const WSREP_SYNCED: u32 = 4;
/// `wsrep_local_state` of a donor, or of a node with `wsrep_desync=ON`.
pub const WSREP_DONOR_DESYNCED: u32 = 2;

/// The Galera status of one node (from `SHOW GLOBAL STATUS LIKE 'wsrep_%'`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeState {
    /// `wsrep_local_state`: 1 joining, 2 donor/desynced, 3 joined, 4 synced.
    pub local_state: u32,
    /// `wsrep_local_state_comment`, e.g. `Synced`, `Donor/Desynced`.
    pub local_state_comment: String,
    /// `wsrep_ready`: the node accepts queries on tables.
    pub ready: bool,
    /// `wsrep_connected`.
    pub connected: bool,
    /// `wsrep_cluster_size` (as this node sees it).
    pub cluster_size: u32,
    /// `wsrep_cluster_status`: `Primary`, `non-Primary` or `Disconnected`.
    pub cluster_status: String,
}

impl NodeState {
    /// Synced, ready, part of a primary component of `size` nodes.
    pub fn is_synced_in(&self, size: u32) -> bool {
        self.local_state == WSREP_SYNCED
            && self.ready
            && self.cluster_status == "Primary"
            && self.cluster_size == size
    }
}

/// The ports of one Galera node besides its SQL port.
#[derive(Debug, Clone, Copy)]
pub struct NodePorts {
    /// Group communication (`gmcast.listen_addr`, `base_port`).
    pub gcomm: u16,
    /// Incremental state transfer (`ist.recv_addr`).
    pub ist: u16,
    /// Snapshot state transfer (`wsrep_sst_receive_address`, the rsync daemon).
    pub sst: u16,
}

/// An n-node Galera cluster on loopback: each node a [`Server`] run as the `mysql`
/// user, `wsrep_sst_method=rsync`, gcache 32 MB; node 0 bootstraps it and the
/// others join one at a time. Dropping it stops every node.
pub struct Galera {
    nodes: Vec<Server>,
    ports: Vec<NodePorts>,
    name: String,
    started_in: Duration,
}

/// Where Debian and RPM packages put the Galera 4 provider.
const PROVIDER_PATHS: [&str; 3] = [
    "/usr/lib/galera/libgalera_smm.so",
    "/usr/lib/libgalera_smm.so",
    "/usr/lib64/galera-4/libgalera_smm.so",
];

fn galera_provider() -> PathBuf {
    PROVIDER_PATHS
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            panic!(
                "no Galera provider in {}; run `bash scripts/setup.sh` (installs galera-4)",
                PROVIDER_PATHS.join(", ")
            )
        })
}

impl Galera {
    /// Starts an `n`-node cluster and waits until every node is synced, ready and
    /// sees `n` nodes in a primary component.
    pub fn start(n: usize) -> Galera {
        assert!(n >= 1, "a Galera cluster needs at least one node");
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let t0 = Instant::now();
        let provider = galera_provider();
        let name = format!(
            "mca-test-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let flat = free_ports(3 * n);
        let ports: Vec<NodePorts> = flat
            .chunks(3)
            .map(|c| NodePorts {
                gcomm: c[0],
                ist: c[1],
                sst: c[2],
            })
            .collect();
        // Directories, certificates and data directories (in parallel); the nodes
        // then start one at a time.
        let nodes = in_parallel(n, |_| {
            start_private_opts(&ServerOptions {
                as_mysql_user: true,
                deferred: true,
                ..ServerOptions::default()
            })
        });
        let t_prepared = t0.elapsed();
        let mut galera = Galera {
            nodes,
            ports,
            name,
            started_in: Duration::ZERO,
        };
        for i in 0..n {
            let args = galera.node_args(i, &provider);
            let node = &galera.nodes[i];
            if i == 0 {
                let mut first = args.clone();
                first.push("--wsrep-new-cluster".into());
                node.set_extra_args(&first);
            } else {
                node.set_extra_args(&args);
            }
            let t = Instant::now();
            galera.start_node(i);
            galera.wait_synced(i, i as u32 + 1, CLUSTER_WAIT);
            // Later starts of node 0 join the cluster instead of founding another.
            node.set_extra_args(&args);
            if i == 0 {
                node.cli(APP_USER_SQL);
            }
            eprintln!(
                "cluster: galera node {i} synced in {} (127.0.0.1:{})",
                secs(t.elapsed()),
                node.port()
            );
        }
        galera.wait_cluster_size(n as u32, CLUSTER_WAIT);
        galera.started_in = t0.elapsed();
        eprintln!(
            "cluster: galera {} with {n} nodes ready in {} (directories and data directories {})",
            galera.name,
            secs(galera.started_in),
            secs(t_prepared)
        );
        galera
    }

    fn node_args(&self, i: usize, provider: &Path) -> Vec<String> {
        let p = self.ports[i];
        let members: Vec<String> = self
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{}", p.gcomm))
            .collect();
        vec![
            "--wsrep-on=ON".into(),
            format!("--wsrep-provider={}", provider.display()),
            format!("--wsrep-cluster-address=gcomm://{}", members.join(",")),
            format!("--wsrep-cluster-name={}", self.name),
            format!("--wsrep-node-name=node{i}"),
            format!("--wsrep-node-address=127.0.0.1:{}", p.gcomm),
            format!(
                "--wsrep-node-incoming-address=127.0.0.1:{}",
                self.nodes[i].port()
            ),
            format!(
                "--wsrep-provider-options=base_host=127.0.0.1;base_port={g};\
                 gmcast.listen_addr=tcp://127.0.0.1:{g};ist.recv_addr=127.0.0.1:{ist};\
                 gcache.size=32M",
                g = p.gcomm,
                ist = p.ist
            ),
            "--wsrep-sst-method=rsync".into(),
            format!("--wsrep-sst-receive-address=127.0.0.1:{}", p.sst),
            "--binlog-format=ROW".into(),
            "--innodb-autoinc-lock-mode=2".into(),
            "--default-storage-engine=InnoDB".into(),
        ]
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Node `i` (0 bootstrapped the cluster).
    pub fn node(&self, i: usize) -> &Server {
        &self.nodes[i]
    }

    /// All nodes.
    pub fn nodes(&self) -> &[Server] {
        &self.nodes
    }

    /// `mysql://root@127.0.0.1:PORT/test` of node `i`.
    pub fn url(&self, i: usize) -> String {
        self.nodes[i].url()
    }

    /// The URLs of all nodes, in order.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(Server::url).collect()
    }

    /// The Galera ports of node `i`.
    pub fn ports(&self, i: usize) -> NodePorts {
        self.ports[i]
    }

    /// `wsrep_cluster_name`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How long [`start`](Self::start) took.
    pub fn started_in(&self) -> Duration {
        self.started_in
    }

    /// The Galera status of node `i`, or the CLI's error if it does not answer.
    pub fn state(&self, i: usize) -> Result<NodeState, String> {
        let out = self.nodes[i].try_cli("SHOW GLOBAL STATUS LIKE 'wsrep%'")?;
        let vars: BTreeMap<&str, &str> = out.lines().filter_map(|l| l.split_once('\t')).collect();
        let get = |k: &str| vars.get(k).copied().unwrap_or("");
        Ok(NodeState {
            local_state: get("wsrep_local_state").parse().unwrap_or(0),
            local_state_comment: get("wsrep_local_state_comment").into(),
            ready: get("wsrep_ready") == "ON",
            connected: get("wsrep_connected") == "ON",
            cluster_size: get("wsrep_cluster_size").parse().unwrap_or(0),
            cluster_status: get("wsrep_cluster_status").into(),
        })
    }

    /// Waits until node `i`'s state satisfies `pred` and returns it; panics naming
    /// `what` (and showing the last state and the error log) otherwise.
    pub fn wait_state(
        &self,
        i: usize,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&NodeState) -> bool,
    ) -> NodeState {
        let result = poll(timeout, || {
            let state = self.state(i)?;
            if pred(&state) {
                Ok(state)
            } else {
                Err(format!("{state:?}"))
            }
        });
        result.unwrap_or_else(|last| {
            panic!(
                "{}",
                timed_out(
                    &format!("galera node {i}: {what}"),
                    timeout,
                    &last,
                    &[(&format!("node {i}"), &self.nodes[i])]
                )
            )
        })
    }

    /// Waits until node `i` is synced and ready in a primary component of `size`.
    pub fn wait_synced(&self, i: usize, size: u32, timeout: Duration) -> NodeState {
        self.wait_state(
            i,
            &format!("synced and ready in a primary component of {size}"),
            timeout,
            |s| s.is_synced_in(size),
        )
    }

    /// Waits until every running node is synced in a primary component of `size`.
    pub fn wait_cluster_size(&self, size: u32, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        for i in 0..self.nodes.len() {
            if self.nodes[i].is_running() {
                let left = deadline.saturating_duration_since(Instant::now());
                self.wait_synced(i, size, left);
            }
        }
    }

    /// SIGKILLs node `i` and returns at once (the others notice after Galera's
    /// suspect timeout; see [`wait_cluster_size`](Self::wait_cluster_size)).
    pub fn kill_node(&self, i: usize) {
        self.nodes[i].kill9();
    }

    /// Starts node `i` again (it rejoins with an incremental or full state
    /// transfer) and waits until it is synced with every running node.
    pub fn restart_node(&self, i: usize) {
        let t = Instant::now();
        self.start_node(i);
        let live = self.nodes.iter().filter(|n| n.is_running()).count() as u32;
        self.wait_cluster_size(live, CLUSTER_WAIT);
        eprintln!("cluster: galera node {i} rejoined in {}", secs(t.elapsed()));
    }

    /// `SET GLOBAL wsrep_desync=ON/OFF` on node `i`, then waits until it reports
    /// `Donor/Desynced` (2) or `Synced` (4).
    pub fn desync(&self, i: usize, on: bool) -> NodeState {
        let (value, want) = if on {
            ("ON", WSREP_DONOR_DESYNCED)
        } else {
            ("OFF", WSREP_SYNCED)
        };
        self.nodes[i].cli(&format!("SET GLOBAL wsrep_desync={value}"));
        self.wait_state(
            i,
            &format!("wsrep_local_state {want} after wsrep_desync={value}"),
            CLUSTER_WAIT,
            |s| s.local_state == want,
        )
    }

    /// Cuts node `i` off the group (`gmcast.isolate=1`: it drops its connections
    /// and refuses new ones) without stopping anything, then waits until it is
    /// outside the primary component (`non-Primary`: no table access, error 1047).
    /// The other nodes keep quorum if they are a majority.
    pub fn isolate(&self, i: usize) -> NodeState {
        self.nodes[i].cli("SET GLOBAL wsrep_provider_options='gmcast.isolate=1'");
        self.wait_state(i, "non-Primary after gmcast.isolate=1", CLUSTER_WAIT, |s| {
            s.cluster_status != "Primary" && !s.ready
        })
    }

    /// Undoes [`isolate`](Self::isolate) (`gmcast.isolate=0`) and waits until every
    /// running node is synced in one primary component again.
    pub fn reconnect(&self, i: usize) {
        let t = Instant::now();
        self.nodes[i].cli("SET GLOBAL wsrep_provider_options='gmcast.isolate=0'");
        let live = self.nodes.iter().filter(|n| n.is_running()).count() as u32;
        self.wait_cluster_size(live, CLUSTER_WAIT);
        eprintln!(
            "cluster: galera node {i} reconnected in {}",
            secs(t.elapsed())
        );
    }

    fn start_node(&self, i: usize) {
        // The node's own start panics with its error log; a failed join is usually
        // explained by the donor's.
        let node = &self.nodes[i];
        if !node.is_running() {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| node.start()));
            if let Err(e) = result {
                let mut others = String::new();
                for (j, other) in self.nodes.iter().enumerate() {
                    if j != i {
                        others.push_str(&format!(
                            "\n--- tail of node {j}'s error log ({}) ---\n{}",
                            other.error_log_path().display(),
                            other.error_log_tail(15)
                        ));
                    }
                }
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                panic!("galera node {i} did not start: {msg}{others}");
            }
        }
    }
}
