//! One Redis server or one Redis Cluster, behind the same few methods, so
//! that a scenario written once runs on both: the URL a store connects to,
//! direct commands on the node holding a key, the invariant checker over
//! every primary, and what it takes to let sessions expire.

use std::collections::HashMap;

use agent_sessions_guest::id::SessionId;
use agent_sessions_guest::keys::Layout;
use agent_sessions_host::SessionStore;

use crate::invariants;
use crate::redis_cluster::{NodeInfo, RedisCluster};
use crate::redis_server::RedisServer;

pub enum Deployment {
    Server(RedisServer),
    Cluster(RedisCluster),
}

/// An async connection that reaches every key: a multiplexed connection to
/// the server, or a cluster connection.
#[derive(Clone)]
pub enum AnyConnection {
    Server(redis::aio::MultiplexedConnection),
    Cluster(redis::cluster_async::ClusterConnection),
}

impl AnyConnection {
    pub async fn query<T: redis::FromRedisValue>(&mut self, cmd: &redis::Cmd) -> redis::RedisResult<T> {
        match self {
            AnyConnection::Server(connection) => cmd.query_async(connection).await,
            AnyConnection::Cluster(connection) => cmd.query_async(connection).await,
        }
    }
}

impl Deployment {
    pub fn server() -> Self {
        Deployment::Server(RedisServer::start())
    }

    pub fn cluster() -> Self {
        Deployment::Cluster(RedisCluster::start())
    }

    /// What a store connects to: the server's URL, or the primaries' URLs
    /// comma-separated (seeds).
    pub fn url(&self) -> String {
        match self {
            Deployment::Server(server) => server.url(),
            Deployment::Cluster(cluster) => cluster.primaries().iter().map(NodeInfo::url).collect::<Vec<_>>().join(","),
        }
    }

    /// The key layout a store gets here by default.
    pub fn default_layout(&self) -> Layout {
        match self {
            Deployment::Server(_) => Layout::Document,
            Deployment::Cluster(_) => Layout::Sharded { shards: agent_sessions_host::DEFAULT_SHARDS },
        }
    }

    pub async fn store(&self) -> SessionStore {
        SessionStore::connect(&self.url()).await.expect("connect a store")
    }

    pub async fn connection(&self) -> AnyConnection {
        match self {
            Deployment::Server(server) => AnyConnection::Server(
                redis::Client::open(server.url()).unwrap().get_multiplexed_async_connection().await.unwrap(),
            ),
            Deployment::Cluster(cluster) => AnyConnection::Cluster(
                redis::cluster::ClusterClient::new(cluster.seed_urls())
                    .unwrap()
                    .get_async_connection()
                    .await
                    .expect("a cluster connection"),
            ),
        }
    }

    /// One plain connection per primary, and which of them holds a key.
    pub fn nodes(&self) -> (Vec<redis::Connection>, impl Fn(&str) -> usize + '_) {
        let (connections, primaries) = match self {
            Deployment::Server(server) => (vec![server.connection()], Vec::new()),
            Deployment::Cluster(cluster) => {
                let primaries = cluster.primaries();
                (primaries.iter().map(|node| cluster.connection(node.port)).collect(), primaries)
            }
        };
        let slots = std::sync::Mutex::new(HashMap::<String, u16>::new());
        let owner = move |key: &str| match self {
            Deployment::Server(_) => 0,
            Deployment::Cluster(cluster) => {
                let slot = *slots.lock().unwrap().entry(key.to_owned()).or_insert_with(|| cluster.keyslot(key));
                primaries.iter().position(|node| node.owns(slot)).expect("a primary serves every slot")
            }
        };
        (connections, owner)
    }

    /// Runs the invariant checker over every primary, one cleanup, and the
    /// checker again; panics listing any violation.
    pub async fn assert_no_violations(&self, store: &SessionStore) {
        let (mut nodes, owner) = self.nodes();
        let violations = invariants::check_after_cleanup_in(store, &mut nodes, owner).await;
        assert!(violations.is_empty(), "{} invariant violations:\n{}", violations.len(), violations.join("\n"));
    }

    /// Expires sessions `ids` at once (their expiry keys deleted, as Redis
    /// does when a TTL runs out), checking each was there.
    pub fn expire(&self, store: &SessionStore, ids: &[String]) {
        let layout = store.settings().layout();
        let (mut nodes, owner) = self.nodes();
        for id in ids {
            let key = format!("{}{}", store.prefix(), layout.session_keys(&SessionId::parse(id).unwrap()).expiry);
            let deleted: u64 = redis::cmd("DEL").arg(&key).query(&mut nodes[owner(&key)]).expect("DEL");
            assert_eq!(deleted, 1, "{key} was already gone");
        }
    }

    /// Every key matching `pattern` on every primary.
    pub fn keys(&self, pattern: &str) -> Vec<String> {
        let (nodes, _) = self.nodes();
        let mut found = Vec::new();
        for mut connection in nodes {
            let keys: Vec<String> = redis::cmd("KEYS").arg(pattern).query(&mut connection).expect("KEYS");
            found.extend(keys);
        }
        found
    }
}
