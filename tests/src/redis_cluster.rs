//! A throwaway Redis Cluster for one test: three primaries with one replica
//! each (six `redis-server` processes) on free ports of 127.0.0.1, no
//! persistence, every node in its own directory under one temporary
//! directory, all stopped and removed when dropped. Tests never share one
//! and never rely on a cluster already running; when `redis-server` or
//! `redis-cli` is missing they fail, never skip.
//!
//! For the Redis Cluster work: the sharded key layout, routing, and
//! failover (`kill_node`, or SIGSTOP/SIGCONT of `pid`, then
//! `wait_until_healthy`). A start takes 2-3.5 s here, also with four starting
//! at once (measured 2.0-3.4 s): the servers answer within 0.1 s, and nearly
//! all the rest is `redis-cli --cluster create`, which waits in whole
//! seconds for the nodes to join. With `--cluster-node-timeout 2000` a
//! killed primary's replica has taken over 3.6-5 s after the kill.

use std::collections::{HashMap, HashSet};
use std::net::TcpListener;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::redis_server::{install_hint, spawn_server};

/// Primaries of a cluster; each gets one replica.
const PRIMARIES: usize = 3;
/// Redis Cluster's hash slots: 0..=16383.
const SLOTS: u32 = 16_384;
/// How long `start` and `wait_until_healthy` wait for a healthy cluster.
const HEALTHY_WITHIN: Duration = Duration::from_secs(30);
/// How long one node may take to answer after it was started.
const READY_WITHIN: Duration = Duration::from_secs(10);
/// Between two looks at the cluster while waiting.
const POLL_EVERY: Duration = Duration::from_millis(25);
/// Connect/read/write timeout of the harness's own checks, so that a
/// stopped (SIGSTOP) node makes a check fail instead of hang.
const CHECK_TIMEOUT: Duration = Duration::from_secs(1);

/// A running Redis Cluster of three primaries and three replicas; see the
/// module documentation.
pub struct RedisCluster {
    /// Holds one directory per node (named after its port) and the output of
    /// `redis-cli --cluster create`; removed on drop.
    dir: PathBuf,
    nodes: Vec<Node>,
}

/// One `redis-server` process of the cluster.
struct Node {
    port: u16,
    child: Child,
    /// Killed with `kill_node` (and waited for): gone for good.
    killed: bool,
    dir: PathBuf,
}

/// Whether a node serves slots or replicates a primary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Holds slots (`master` in `CLUSTER NODES`).
    Primary,
    /// Replicates a primary (`slave` in `CLUSTER NODES`).
    Replica,
}

/// One node as a cluster member sees it in `CLUSTER NODES`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// The 40-character node id.
    pub id: String,
    /// Its client port on 127.0.0.1.
    pub port: u16,
    /// Primary or replica.
    pub role: Role,
    /// The slot ranges it serves, in the order listed (primaries only; empty
    /// for replicas).
    pub slots: Vec<RangeInclusive<u16>>,
    /// The id of the primary it replicates (replicas only).
    pub primary_id: Option<String>,
    /// The flags besides the role, e.g. `myself`, `fail?`, `fail`.
    pub flags: Vec<String>,
}

impl NodeInfo {
    /// Whether this node serves `slot`.
    pub fn owns(&self, slot: u16) -> bool {
        self.slots.iter().any(|range| range.contains(&slot))
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Whether some node has flagged this one as failing (`fail?`) or
    /// failed (`fail`).
    pub fn is_failing(&self) -> bool {
        self.flags.iter().any(|flag| flag == "fail" || flag == "fail?")
    }
}

impl RedisCluster {
    /// Starts three primaries and three replicas, joins them with
    /// `redis-cli --cluster create`, and waits until every node reports
    /// `cluster_state:ok` and every replica's link to its primary is up.
    /// Panics with install instructions when `redis-server` or `redis-cli`
    /// is missing (tests fail, never skip).
    pub fn start() -> Self {
        let mut cluster = RedisCluster { dir: unique_dir(), nodes: Vec::new() };
        let mut last_error = String::new();
        for _ in 0..5 {
            match cluster.spawn_nodes() {
                Ok(()) => break,
                // Another process may have taken a port in between; retry
                // with new ones.
                Err(e) => {
                    last_error = e;
                    cluster.stop_all();
                    cluster.nodes.clear();
                }
            }
        }
        if cluster.nodes.is_empty() {
            panic!("redis-server did not start for the cluster: {last_error}");
        }
        cluster.create();
        cluster.wait_until_healthy();
        cluster
    }

    /// Starts six nodes on new free ports and waits until each answers.
    fn spawn_nodes(&mut self) -> Result<(), String> {
        let nodes = PRIMARIES * 2;
        // A client port and a cluster bus port per node: the bus port is not
        // left at port + 10000, which may be taken or beyond 65535.
        let ports = free_ports(nodes * 2);
        for (&port, &bus_port) in ports[..nodes].iter().zip(&ports[nodes..]) {
            let dir = self.dir.join(port.to_string());
            std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
            let child = spawn_server(
                Command::new("redis-server")
                    .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                    .args(["--cluster-enabled", "yes", "--cluster-port", &bus_port.to_string()])
                    .arg("--cluster-config-file")
                    .arg(dir.join("nodes.conf"))
                    .args(["--cluster-node-timeout", "2000", "--repl-diskless-sync-delay", "0"])
                    .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                    .arg("--logfile")
                    .arg(dir.join("redis.log"))
                    .arg("--dir")
                    .arg(&dir),
            );
            self.nodes.push(Node { port, child, killed: false, dir });
        }
        for node in &mut self.nodes {
            node.wait_until_ready()?;
        }
        Ok(())
    }

    /// Joins the nodes: `redis-cli --cluster create ... --cluster-replicas 1`.
    fn create(&self) {
        let log_path = self.dir.join("cluster-create.log");
        let log = std::fs::File::create(&log_path).expect("create the redis-cli log file");
        let child = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(self.nodes.iter().map(|node| format!("127.0.0.1:{}", node.port)))
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the redis-cli log file"))
            .stderr(log)
            .spawn();
        let mut child = match child {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!("{}", install_hint("redis-cli")),
            Err(e) => panic!("could not start redis-cli: {e}"),
        };
        let deadline = Instant::now() + HEALTHY_WITHIN;
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for redis-cli") {
                break Some(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(POLL_EVERY);
        };
        if status.is_some_and(|status| status.success()) {
            return;
        }
        let output = std::fs::read_to_string(&log_path).unwrap_or_default();
        let what = match status {
            Some(status) => format!("exited with {status}"),
            None => format!("did not finish within {} s", HEALTHY_WITHIN.as_secs()),
        };
        panic!(
            "`redis-cli --cluster create` on ports {:?} {what}; its output:\n{output}\n{}",
            self.ports(),
            self.log_tails()
        );
    }

    /// Waits (up to 30 s, looking every 25 ms) until the cluster is healthy
    /// again: every live node (not killed with `kill_node`) reports
    /// `cluster_state:ok`, knows every other live node, and sees every slot
    /// served by a live primary not flagged as failing, all live nodes see
    /// the same slot map and the same primary for every replica, and every
    /// live replica reports `master_link_status:up`. After a primary was killed, this waits for
    /// its replica's promotion. Panics naming what did not happen.
    pub fn wait_until_healthy(&self) {
        let deadline = Instant::now() + HEALTHY_WITHIN;
        loop {
            let problem = match self.health() {
                Ok(()) => return,
                Err(problem) => problem,
            };
            if Instant::now() > deadline {
                panic!(
                    "the Redis Cluster on ports {:?} did not become healthy within {} s: {problem}\n{}",
                    self.live_ports(),
                    HEALTHY_WITHIN.as_secs(),
                    self.log_tails()
                );
            }
            std::thread::sleep(POLL_EVERY);
        }
    }

    /// `Ok` when healthy as `wait_until_healthy` means it, or the first
    /// problem found.
    fn health(&self) -> Result<(), String> {
        let live: HashSet<u16> = self.live_ports().into_iter().collect();
        let mut agreed: Option<(u16, Topology)> = None;
        for &port in &self.live_ports() {
            let mut connection = checking_connection(port)?;
            let info: String = query(&mut connection, &["CLUSTER", "INFO"], port)?;
            match info_field(&info, "cluster_state") {
                Some("ok") => {}
                state => return Err(format!("node {port} reports cluster_state:{}", state.unwrap_or("(none)"))),
            }
            let nodes: String = query(&mut connection, &["CLUSTER", "NODES"], port)?;
            let view = parse_cluster_nodes(&nodes);
            let by_id: HashMap<&str, &NodeInfo> = view.iter().map(|node| (node.id.as_str(), node)).collect();
            for &other in &live {
                if !view.iter().any(|node| node.port == other && !node.flags.iter().any(|f| f == "handshake")) {
                    return Err(format!("node {port} does not know node {other} yet"));
                }
            }
            let mut slot_map = Vec::new();
            for owner in view.iter().filter(|node| node.role == Role::Primary && !node.slots.is_empty()) {
                if !live.contains(&owner.port) {
                    return Err(format!("node {port} sees slots {:?} on the killed node {}", owner.slots, owner.port));
                }
                if owner.is_failing() {
                    return Err(format!("node {port} sees node {} as {}", owner.port, owner.flags.join(",")));
                }
                slot_map.extend(owner.slots.iter().map(|range| (*range.start(), *range.end(), owner.port)));
            }
            slot_map.sort_unstable();
            let mut next = 0_u32;
            for &(start, end, _) in &slot_map {
                if u32::from(start) != next {
                    return Err(format!("node {port} sees no primary for slot {next}"));
                }
                next = u32::from(end) + 1;
            }
            if next != SLOTS {
                return Err(format!("node {port} sees no primary for slot {next}"));
            }
            // Who replicates whom, by port, for the live nodes.
            let mut roles: Vec<(u16, bool, Option<u16>)> = view
                .iter()
                .filter(|node| live.contains(&node.port))
                .map(|node| {
                    let primary = node.primary_id.as_deref().and_then(|id| by_id.get(id)).map(|primary| primary.port);
                    (node.port, node.role == Role::Replica, primary)
                })
                .collect();
            roles.sort_unstable();
            let topology = Topology { slot_map, roles };
            match &agreed {
                None => agreed = Some((port, topology)),
                Some((first, seen)) if *seen != topology => {
                    return Err(format!(
                        "nodes {first} and {port} do not agree on the topology yet: {seen:?} and {topology:?}"
                    ));
                }
                Some(_) => {}
            }
            let me = view.iter().find(|node| node.flags.iter().any(|f| f == "myself"));
            let me = me.ok_or_else(|| format!("node {port} does not list itself in CLUSTER NODES"))?;
            if me.role == Role::Replica {
                let primary = me.primary_id.as_deref().and_then(|id| by_id.get(id));
                match primary {
                    Some(primary) if live.contains(&primary.port) && primary.role == Role::Primary => {}
                    _ => return Err(format!("replica {port} does not replicate a live primary")),
                }
                let replication: String = query(&mut connection, &["INFO", "replication"], port)?;
                match info_field(&replication, "master_link_status") {
                    Some("up") => {}
                    status => {
                        return Err(format!(
                            "replica {port} reports master_link_status:{}",
                            status.unwrap_or("(none)")
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// `redis://127.0.0.1:PORT` of every node (killed ones included), e.g.
    /// as the seeds of a cluster client.
    pub fn seed_urls(&self) -> Vec<String> {
        self.nodes.iter().map(|node| format!("redis://127.0.0.1:{}", node.port)).collect()
    }

    /// The client ports of every node started, killed ones included.
    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(|node| node.port).collect()
    }

    /// The client ports of the nodes not killed with `kill_node`.
    pub fn live_ports(&self) -> Vec<u16> {
        self.nodes.iter().filter(|node| !node.killed).map(|node| node.port).collect()
    }

    /// The primaries, by port, as the first live node sees them in
    /// `CLUSTER NODES` (killed nodes left out).
    pub fn primaries(&self) -> Vec<NodeInfo> {
        self.members(Role::Primary)
    }

    /// The replicas, by port, as the first live node sees them in
    /// `CLUSTER NODES` (killed nodes left out).
    pub fn replicas(&self) -> Vec<NodeInfo> {
        self.members(Role::Replica)
    }

    fn members(&self, role: Role) -> Vec<NodeInfo> {
        let live: HashSet<u16> = self.live_ports().into_iter().collect();
        let port = self.any_live_port();
        let text: String = redis::cmd("CLUSTER")
            .arg("NODES")
            .query(&mut self.connection(port))
            .unwrap_or_else(|e| panic!("CLUSTER NODES on node {port}: {e}"));
        let mut nodes: Vec<NodeInfo> = parse_cluster_nodes(&text)
            .into_iter()
            .filter(|node| node.role == role && live.contains(&node.port))
            .filter(|node| !node.flags.iter().any(|flag| flag == "handshake"))
            .collect();
        nodes.sort_by_key(|node| node.port);
        nodes
    }

    /// The hash slot of `key` (`CLUSTER KEYSLOT` on a live node).
    pub fn keyslot(&self, key: &str) -> u16 {
        let port = self.any_live_port();
        let slot: i64 = redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(key)
            .query(&mut self.connection(port))
            .unwrap_or_else(|e| panic!("CLUSTER KEYSLOT {key:?} on node {port}: {e}"));
        u16::try_from(slot).unwrap_or_else(|_| panic!("CLUSTER KEYSLOT {key:?} gave {slot}"))
    }

    /// The primary serving `slot` as `primaries` sees it; panics if none.
    pub fn primary_for_slot(&self, slot: u16) -> NodeInfo {
        let primaries = self.primaries();
        match primaries.iter().find(|node| node.owns(slot)) {
            Some(owner) => owner.clone(),
            None => panic!("no live primary serves slot {slot}; primaries: {primaries:?}"),
        }
    }

    /// A plain synchronous connection to the node on `port` (no cluster
    /// routing: keys of other nodes' slots answer `MOVED`).
    pub fn connection(&self, port: u16) -> redis::Connection {
        let node = self.node(port);
        assert!(!node.killed, "node {port} was killed");
        redis::Client::open(format!("redis://127.0.0.1:{port}"))
            .and_then(|client| client.get_connection())
            .unwrap_or_else(|e| panic!("connect to the cluster node on port {port}: {e}"))
    }

    /// The process id of the node on `port`, e.g. to SIGSTOP and SIGCONT it.
    pub fn pid(&self, port: u16) -> u32 {
        self.node(port).child.id()
    }

    /// Moves `slots` slots (with their keys) from primary `from` to primary
    /// `to` with `redis-cli --cluster reshard`, while clients keep running:
    /// they meet ASK, TRYAGAIN and MOVED as the keys move. Returns when
    /// redis-cli is done; panics with its output if it failed.
    pub fn reshard(&self, from: &NodeInfo, to: &NodeInfo, slots: u32) {
        let output = Command::new("redis-cli")
            .args(["--cluster", "reshard", &format!("127.0.0.1:{}", to.port)])
            .args(["--cluster-from", &from.id, "--cluster-to", &to.id])
            .args(["--cluster-slots", &slots.to_string(), "--cluster-yes"])
            .args(["--cluster-pipeline", "10"])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("could not start redis-cli: {e}"));
        assert!(
            output.status.success() && !String::from_utf8_lossy(&output.stdout).contains("[ERR]"),
            "`redis-cli --cluster reshard` failed: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Kills the node on `port` with SIGKILL and waits for it to exit; the
    /// others keep running. Its port is left out of the health checks,
    /// `primaries` and `replicas` from now on.
    pub fn kill_node(&mut self, port: u16) {
        let node = self.node_mut(port);
        assert!(!node.killed, "node {port} was already killed");
        node.stop();
    }

    fn node(&self, port: u16) -> &Node {
        self.nodes.iter().find(|node| node.port == port).unwrap_or_else(|| panic!("no cluster node on port {port}"))
    }

    fn node_mut(&mut self, port: u16) -> &mut Node {
        self.nodes.iter_mut().find(|node| node.port == port).unwrap_or_else(|| panic!("no cluster node on port {port}"))
    }

    fn any_live_port(&self) -> u16 {
        *self.live_ports().first().expect("every node of the cluster was killed")
    }

    fn stop_all(&mut self) {
        for node in self.nodes.iter_mut().filter(|node| !node.killed) {
            node.stop();
        }
    }

    /// The last lines of every node's log, for failure messages.
    fn log_tails(&self) -> String {
        let mut tails = String::new();
        for node in &self.nodes {
            let log = std::fs::read_to_string(node.dir.join("redis.log")).unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            let state = if node.killed { " (killed)" } else { "" };
            tails.push_str(&format!("--- node {}{state}, end of its log:\n", node.port));
            for line in &lines[lines.len().saturating_sub(8)..] {
                tails.push_str(line);
                tails.push('\n');
            }
        }
        tails
    }
}

/// What every live node must see alike: the slot map as (first slot, last
/// slot, primary's port), and for each live node (by port) whether it is a
/// replica and of which primary (by port).
#[derive(Debug, PartialEq, Eq)]
struct Topology {
    slot_map: Vec<(u16, u16, u16)>,
    roles: Vec<(u16, bool, Option<u16>)>,
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        self.stop_all();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Node {
    /// Waits until this process answers on its port: another process on
    /// the port (which makes ours exit) is an error, so is a timeout.
    fn wait_until_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_WITHIN;
        let pid = self.child.id();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default();
                return Err(format!("redis-server on port {} exited with {status}: {}", self.port, log.trim()));
            }
            if let Ok(mut connection) = checking_connection(self.port)
                && let Ok(info) = redis::cmd("INFO").arg("server").query::<String>(&mut connection)
            {
                return match info_field(&info, "process_id") {
                    Some(answering) if answering == pid.to_string() => Ok(()),
                    answering => Err(format!(
                        "port {} is served by process {} instead of {pid}",
                        self.port,
                        answering.unwrap_or("(unknown)")
                    )),
                };
            }
            if Instant::now() > deadline {
                return Err(format!("no answer on port {} within {} s", self.port, READY_WITHIN.as_secs()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.killed = true;
    }
}

/// A new directory under the system's temporary directory, unique to this
/// process and cluster.
fn unique_dir() -> PathBuf {
    static CLUSTERS: AtomicUsize = AtomicUsize::new(0);
    let name =
        format!("agent-sessions-redis-cluster-{}-{}", std::process::id(), CLUSTERS.fetch_add(1, Ordering::Relaxed));
    let dir = std::env::temp_dir().join(name);
    // Left over by an earlier process with the same id that did not clean up.
    let _ = std::fs::remove_dir_all(&dir);
    create_dir(&dir);
    dir
}

fn create_dir(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
}

/// `count` distinct free ports on 127.0.0.1 (all held until all are found).
fn free_ports(count: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> =
        (0..count).map(|_| TcpListener::bind("127.0.0.1:0").expect("find a free port on 127.0.0.1")).collect();
    listeners.iter().map(|listener| listener.local_addr().expect("a bound port").port()).collect()
}

/// A connection whose connect, reads and writes time out, for the checks.
fn checking_connection(port: u16) -> Result<redis::Connection, String> {
    let connection = redis::Client::open(format!("redis://127.0.0.1:{port}"))
        .and_then(|client| client.get_connection_with_timeout(CHECK_TIMEOUT))
        .map_err(|e| format!("cannot connect to node {port}: {e}"))?;
    connection
        .set_read_timeout(Some(CHECK_TIMEOUT))
        .and_then(|()| connection.set_write_timeout(Some(CHECK_TIMEOUT)))
        .map_err(|e| format!("cannot set timeouts on node {port}: {e}"))?;
    Ok(connection)
}

/// Runs the command `args` on a checking connection to node `port`.
fn query<T: redis::FromRedisValue>(connection: &mut redis::Connection, args: &[&str], port: u16) -> Result<T, String> {
    let mut cmd = redis::cmd(args[0]);
    cmd.arg(&args[1..]);
    cmd.query(connection).map_err(|e| format!("node {port} did not answer {}: {e}", args.join(" ")))
}

/// The value of `name:value` in `INFO`-style text.
fn info_field<'a>(info: &'a str, name: &str) -> Option<&'a str> {
    info.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(':')).map(str::trim)
}

/// Parses `CLUSTER NODES`: `<id> <ip:port@cport[,hostname]> <flags> <primary>
/// <ping-sent> <pong-recv> <config-epoch> <link-state> <slot>...`. Slots in
/// migration (`[slot->-id]`, `[slot-<-id]`) are left out.
fn parse_cluster_nodes(text: &str) -> Vec<NodeInfo> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 8 {
                return None;
            }
            let port = fields[1]
                .split(['@', ','])
                .next()
                .and_then(|address| address.rsplit(':').next())
                .and_then(|port| port.parse().ok())
                .unwrap_or(0);
            let mut flags: Vec<String> = fields[2].split(',').map(str::to_owned).collect();
            let role = if flags.iter().any(|flag| flag == "slave") { Role::Replica } else { Role::Primary };
            flags.retain(|flag| flag != "master" && flag != "slave");
            let primary_id = (role == Role::Replica && fields[3] != "-").then(|| fields[3].to_owned());
            let slots = fields[8..]
                .iter()
                .filter(|slot| !slot.starts_with('['))
                .filter_map(|slot| match slot.split_once('-') {
                    Some((start, end)) => Some(start.parse().ok()?..=end.parse().ok()?),
                    None => slot.parse().ok().map(|slot| slot..=slot),
                })
                .collect();
            Some(NodeInfo { id: fields[0].to_owned(), port, role, slots, primary_id, flags })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_nodes_are_parsed() {
        let text = "\
07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@31004,host slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 4 connected
e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@31001 myself,master - 0 0 1 connected 0-5460 7000 [5461->-292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f]
292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f 127.0.0.1:30003@31003 master,fail - 0 1426238316232 3 connected
";
        let nodes = parse_cluster_nodes(text);
        assert_eq!(nodes.len(), 3);
        assert_eq!(nodes[0].port, 30004);
        assert_eq!(nodes[0].role, Role::Replica);
        assert_eq!(nodes[0].primary_id.as_deref(), Some("e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca"));
        assert!(nodes[0].slots.is_empty());
        assert_eq!(nodes[1].role, Role::Primary);
        assert_eq!(nodes[1].slots, vec![0..=5460, 7000..=7000]);
        assert_eq!(nodes[1].flags, vec!["myself"]);
        assert!(nodes[1].owns(7000) && !nodes[1].owns(5461));
        assert!(nodes[2].is_failing());
        assert_eq!(nodes[2].primary_id, None);
    }

    #[test]
    fn info_fields_are_found() {
        let info = "# Cluster\r\ncluster_state:ok\r\ncluster_slots_assigned:16384\r\n";
        assert_eq!(info_field(info, "cluster_state"), Some("ok"));
        assert_eq!(info_field(info, "cluster_slots"), None);
    }
}
