//! Opening a Redis connection: the URL (or a cluster's seed URLs), TLS,
//! whether the server is a Redis Cluster, timeouts and reconnection. What
//! the connection then does (reconnecting after a restart, following a
//! cluster through redirects and failovers, reloading a script a node has
//! not seen) is redis-rs's: a connection manager on one server, the
//! cluster client on a cluster.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisError, RedisFuture, Value};

pub use agent_sessions_guest::kv::redact::redact_url;

/// Timeouts, reconnection, TLS, cluster mode and replication of the Redis
/// connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisOptions {
    /// Longest wait for a TCP connection (and handshake) to Redis.
    pub connect_timeout: Duration,
    /// Longest wait for the reply to one command (one server).
    pub response_timeout: Duration,
    /// Reconnection attempts per failed command before giving up on it
    /// (one server).
    pub reconnect_retries: usize,
    /// For `rediss://` URLs: a PEM file of the certificate authority to trust
    /// instead of the system's trust store (self-signed or private CAs).
    pub tls_ca_file: Option<PathBuf>,
    /// Treat the server as a Redis Cluster without asking it (by default
    /// the first seed that answers says whether it is one).
    pub cluster: bool,
    /// On a cluster: longest wait for one command, redirects, retries and
    /// the promotion of a replica after a primary fails included. A primary
    /// killed with `--cluster-node-timeout 2000` is replaced in 3-4 s.
    pub cluster_timeout: Duration,
    /// Acknowledge a write only once this many replicas have it.
    pub wait_replicas: Option<WaitReplicas>,
}

/// `WAIT replicas timeout` after every batch that wrote, on the connection
/// that sent it (WAIT counts that connection's writes).
///
/// Redis holds a connection's later commands while its WAIT waits, and
/// connections are shared by concurrent calls: while a primary has fewer
/// replicas than asked, writes to it take turns of `timeout` each. Keep the
/// timeout short ([`DEFAULT_WAIT_TIMEOUT`]); with healthy replicas WAIT
/// returns in well under a millisecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitReplicas {
    pub replicas: u32,
    /// How long to wait for them (`WAIT`'s timeout).
    pub timeout: Duration,
}

/// What `--wait-timeout` defaults to.
pub const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_millis(250);

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(2),
            response_timeout: Duration::from_secs(5),
            reconnect_retries: 2,
            tls_ca_file: None,
            cluster: false,
            cluster_timeout: Duration::from_secs(10),
            wait_replicas: None,
        }
    }
}

/// Why [`RedisBackend::connect`] failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectError {
    /// The URL or TLS settings are unusable; retrying will not help.
    Invalid(String),
    /// Redis did not answer, or refused the connection or the credentials.
    Unreachable(String),
}

/// One server or a cluster, behind one `ConnectionLike`.
#[derive(Clone)]
pub(crate) enum Link {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Link {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Link::Single(connection) => connection.req_packed_command(cmd),
            Link::Cluster(connection) => connection.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Link::Single(connection) => connection.req_packed_commands(pipeline, offset, count),
            Link::Cluster(connection) => connection.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Link::Single(connection) => connection.get_db(),
            Link::Cluster(connection) => connection.get_db(),
        }
    }
}

/// What made a connection, to open another one like it.
enum Recipe {
    Single(redis::Client, ConnectionManagerConfig),
    Cluster(ClusterClient),
}

/// An open connection, and how to open another like it.
#[derive(Clone)]
pub(crate) struct RedisConnection {
    pub(crate) link: Link,
    recipe: Arc<Recipe>,
    /// The URLs with any password replaced by `***`, for messages.
    pub(crate) redacted_url: String,
}

impl RedisConnection {
    /// Parses the URL (or comma-separated seed URLs of a cluster) and
    /// connects. A bad URL or CA file is [`ConnectError::Invalid`]; a
    /// server that cannot be reached is [`ConnectError::Unreachable`].
    pub(crate) async fn open(url: &str, options: &RedisOptions) -> Result<Self, ConnectError> {
        let redacted_url = redact_url(url);
        let seeds: Vec<&str> = url.split(',').map(str::trim).filter(|seed| !seed.is_empty()).collect();
        if seeds.is_empty() {
            return Err(ConnectError::Invalid("no Redis URL was given".into()));
        }
        if seeds.iter().any(|seed| seed.starts_with("rediss://")) {
            // Exactly one rustls crypto provider is compiled in; make it the
            // process default (an embedder may have installed one already).
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let certificates = match &options.tls_ca_file {
            None => None,
            Some(path) => {
                if !seeds.iter().all(|seed| seed.starts_with("rediss://")) {
                    return Err(ConnectError::Invalid(format!(
                        "a TLS CA file was given but {redacted_url} is not a rediss:// URL"
                    )));
                }
                let root_cert = std::fs::read(path).map_err(|e| {
                    ConnectError::Invalid(format!("cannot read the TLS CA file {}: {e}", path.display()))
                })?;
                Some(redis::TlsCertificates { client_tls: None, root_cert: Some(root_cert) })
            }
        };
        let cluster = options.cluster || is_cluster(&seeds, options, certificates.as_ref()).await?;
        let (connection, recipe) = if cluster {
            let mut builder = ClusterClientBuilder::new(seeds.iter().map(|seed| seed.to_string()))
                .connection_timeout(options.connect_timeout)
                // A timed-out attempt must not be retried: the script may
                // have run. With a per-attempt timeout longer than the
                // overall one, the overall one always ends the call first.
                .response_timeout(options.cluster_timeout + Duration::from_secs(1))
                .overall_response_timeout(Some(options.cluster_timeout));
            if let Some(certificates) = certificates {
                builder = builder.certs(certificates);
            }
            let client = builder.build().map_err(|e| invalid_url(&redacted_url, &e))?;
            let connection = client.get_async_connection().await.map_err(|e| unreachable(&redacted_url, &e))?;
            (Link::Cluster(connection), Recipe::Cluster(client))
        } else {
            if seeds.len() > 1 {
                return Err(ConnectError::Invalid(format!(
                    "several URLs were given ({redacted_url}) but the server is not a Redis Cluster"
                )));
            }
            let client = single_client(seeds[0], certificates).map_err(|e| invalid_url(&redacted_url, &e))?;
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(options.connect_timeout))
                .set_response_timeout(Some(options.response_timeout))
                .set_number_of_retries(options.reconnect_retries)
                .set_max_delay(Duration::from_millis(500));
            let connection = ConnectionManager::new_with_config(client.clone(), config.clone())
                .await
                .map_err(|e| unreachable(&redacted_url, &e))?;
            (Link::Single(connection), Recipe::Single(client, config))
        };
        Ok(Self { link: connection, recipe: Arc::new(recipe), redacted_url })
    }

    /// Another connection like this one, driven by the async runtime this
    /// is called on.
    pub(crate) async fn another(&self) -> Result<Self, ConnectError> {
        let link = match &*self.recipe {
            Recipe::Single(client, config) => Link::Single(
                ConnectionManager::new_with_config(client.clone(), config.clone())
                    .await
                    .map_err(|e| unreachable(&self.redacted_url, &e))?,
            ),
            Recipe::Cluster(client) => {
                Link::Cluster(client.get_async_connection().await.map_err(|e| unreachable(&self.redacted_url, &e))?)
            }
        };
        Ok(Self { link, ..self.clone() })
    }
}

fn single_client(url: &str, certificates: Option<redis::TlsCertificates>) -> Result<redis::Client, RedisError> {
    match certificates {
        None => redis::Client::open(url),
        Some(certificates) => redis::Client::build_with_tls(url, certificates),
    }
}

fn invalid_url(redacted_url: &str, error: &RedisError) -> ConnectError {
    ConnectError::Invalid(format!("{redacted_url} is not a usable Redis URL ({})", describe(error)))
}

fn unreachable(redacted_url: &str, error: &RedisError) -> ConnectError {
    ConnectError::Unreachable(format!("cannot connect to Redis at {redacted_url}: {}", describe(error)))
}

/// Asks the seeds in turn, until one answers, whether they are a cluster
/// (`cluster_enabled:1` in `INFO cluster`).
async fn is_cluster(
    seeds: &[&str],
    options: &RedisOptions,
    certificates: Option<&redis::TlsCertificates>,
) -> Result<bool, ConnectError> {
    let mut last_error = None;
    for seed in seeds {
        let redacted = redact_url(seed);
        let client = single_client(seed, certificates.cloned()).map_err(|e| invalid_url(&redacted, &e))?;
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(options.connect_timeout))
            .set_response_timeout(Some(options.response_timeout));
        let info = async {
            let mut connection = client.get_multiplexed_async_connection_with_config(&config).await?;
            redis::cmd("INFO").arg("cluster").query_async::<String>(&mut connection).await
        };
        match info.await {
            Ok(info) => return Ok(info.lines().any(|line| line.trim() == "cluster_enabled:1")),
            Err(e) => last_error = Some(unreachable(&redacted, &e)),
        }
    }
    Err(last_error.unwrap_or_else(|| ConnectError::Invalid("no Redis URL was given".into())))
}

/// A Redis error's text without anything that could carry credentials.
pub(crate) fn describe(error: &RedisError) -> String {
    // redis-rs does not put URLs or passwords into its messages; strip any
    // `user:pass@` form anyway, in case a future version does.
    redact_url(&error.to_string())
}
