//! The Redis backend: every batch is one `EVALSHA` of `redis/kv_batch.lua`
//! with the packed batch passed through as it is, on one server (a
//! connection manager that reconnects by itself after Redis restarts) or on
//! a Redis Cluster (the redis crate's cluster client, which routes a script
//! by its first key and follows the cluster through redirects and
//! failovers), with bounded connect and response timeouts.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use agent_sessions_guest::kv::{ErrorKind, KvError};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{RedisError, Script};

/// The batch script, shared with every other host.
pub const KV_BATCH_SCRIPT: &str = include_str!("../../../redis/kv_batch.lua");

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

/// What a batch did, as far as the host can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Executed {
    /// The script's reply, one JSON text.
    pub reply: String,
    /// The batch wrote, but fewer replicas than asked confirmed it in time:
    /// what to tell the caller.
    pub not_replicated: Option<String>,
}

#[derive(Clone)]
enum Connection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

/// What made a connection, to open another one like it.
enum Recipe {
    Single(redis::Client, ConnectionManagerConfig),
    Cluster(ClusterClient),
}

#[derive(Clone)]
pub struct RedisBackend {
    connection: Connection,
    recipe: Arc<Recipe>,
    script: Arc<Script>,
    wait_replicas: Option<WaitReplicas>,
    /// The URLs with any password replaced by `***`, for messages.
    redacted_url: String,
}

impl RedisBackend {
    /// Parses the URL (or comma-separated seed URLs of a cluster),
    /// connects, and checks the server answers. A bad URL or CA file is
    /// [`ConnectError::Invalid`]; a server that cannot be reached (or
    /// refuses the credentials) is [`ConnectError::Unreachable`].
    pub async fn connect(url: &str, options: RedisOptions) -> Result<Self, ConnectError> {
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
        let cluster = options.cluster || is_cluster(&seeds, &options, certificates.as_ref()).await?;
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
            (Connection::Cluster(connection), Recipe::Cluster(client))
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
            (Connection::Single(connection), Recipe::Single(client, config))
        };
        let backend = Self {
            connection,
            recipe: Arc::new(recipe),
            script: Arc::new(Script::new(KV_BATCH_SCRIPT)),
            wait_replicas: options.wait_replicas.filter(|wait| wait.replicas > 0),
            redacted_url,
        };
        // A cluster client connects lazily; make sure one node answers.
        backend.ping().await.map_err(|e| ConnectError::Unreachable(e.message))?;
        Ok(backend)
    }

    /// A backend like this one on a connection of its own, driven by the
    /// async runtime this is called on. Fails when Redis cannot be reached.
    pub async fn another_connection(&self) -> Result<Self, ConnectError> {
        let connection = match &*self.recipe {
            Recipe::Single(client, config) => Connection::Single(
                ConnectionManager::new_with_config(client.clone(), config.clone())
                    .await
                    .map_err(|e| unreachable(&self.redacted_url, &e))?,
            ),
            Recipe::Cluster(client) => Connection::Cluster(
                client.get_async_connection().await.map_err(|e| unreachable(&self.redacted_url, &e))?,
            ),
        };
        Ok(Self { connection, ..self.clone() })
    }

    pub fn redacted_url(&self) -> &str {
        &self.redacted_url
    }

    /// Whether writes wait for replicas (`WAIT`).
    pub fn waits_for_replicas(&self) -> bool {
        self.wait_replicas.is_some()
    }

    /// Whether this is a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self.connection, Connection::Cluster(_))
    }

    /// Round-trip time of one `PING` (to one node of a cluster).
    pub async fn ping(&self) -> Result<Duration, KvError> {
        let started = Instant::now();
        let ping = redis::cmd("PING");
        let _: String = match self.connection.clone() {
            Connection::Single(mut connection) => ping.query_async(&mut connection).await,
            Connection::Cluster(mut connection) => ping.query_async(&mut connection).await,
        }
        .map_err(|e| self.error(&e))?;
        Ok(started.elapsed())
    }

    /// `EVALSHA kv_batch <n> <keys...> <prefix> <batch>`; the script's reply,
    /// one JSON text, as it is. With `wait_replicas`, a batch that `writes`
    /// is followed by `WAIT` on the node that ran it.
    pub async fn execute(&self, keys: &[String], prefix: &str, batch: &str, writes: bool) -> Result<Executed, KvError> {
        let wait = self.wait_replicas.filter(|_| writes);
        let (reply, acknowledged) = match self.connection.clone() {
            Connection::Single(mut connection) => {
                self.execute_single(&mut connection, keys, prefix, batch, wait).await?
            }
            Connection::Cluster(mut connection) => {
                // The cluster client routes the script by its first key,
                // answers MOVED, ASK, TRYAGAIN and CLUSTERDOWN (which come
                // before a script runs), and on NOSCRIPT (a promoted replica
                // has an empty script cache) loads it and sends it again.
                let mut invocation = self.script.prepare_invoke();
                invocation.key(keys).arg(prefix).arg(batch);
                let reply: Vec<u8> = invocation.invoke_async(&mut connection).await.map_err(|e| self.error(&e))?;
                let acknowledged = match (wait, keys.first()) {
                    // WAIT goes to the primary of the batch's slot: the node
                    // that ran it. (Separately, so that redirects apply to
                    // the script as to any command.)
                    (Some(wait), Some(key)) => {
                        let route = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(Route::with_key(
                            key.as_bytes(),
                            SlotAddr::Master,
                        )));
                        let value =
                            connection.route_command(wait_command(wait), route).await.map_err(|e| self.error(&e))?;
                        Some(redis::from_redis_value::<i64>(value).map_err(|e| self.error(&e.into()))?)
                    }
                    _ => None,
                };
                (reply, acknowledged)
            }
        };
        // Values written by other tools may hold invalid UTF-8; keep them
        // readable (the guest reports the field as corrupt if it matters).
        let reply = String::from_utf8(reply).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        let not_replicated = match (wait, acknowledged) {
            (Some(wait), Some(acknowledged)) if acknowledged < i64::from(wait.replicas) && applied(&reply) => {
                Some(format!(
                    "the write was applied on the primary but confirmed by {acknowledged} of {} replicas within {:?} at {}",
                    wait.replicas, wait.timeout, self.redacted_url
                ))
            }
            _ => None,
        };
        Ok(Executed { reply, not_replicated })
    }

    /// One server: the script, and `WAIT` in the same round trip if asked.
    async fn execute_single(
        &self,
        connection: &mut ConnectionManager,
        keys: &[String],
        prefix: &str,
        batch: &str,
        wait: Option<WaitReplicas>,
    ) -> Result<(Vec<u8>, Option<i64>), KvError> {
        let mut evalsha = redis::cmd("EVALSHA");
        evalsha.arg(self.script.get_hash()).arg(keys.len()).arg(keys).arg(prefix).arg(batch);
        let send = |connection: &mut ConnectionManager| {
            let evalsha = evalsha.clone();
            let mut connection = connection.clone();
            async move {
                match wait {
                    None => evalsha.query_async::<Vec<u8>>(&mut connection).await.map(|reply| (reply, None)),
                    Some(wait) => redis::pipe()
                        .add_command(evalsha)
                        .add_command(wait_command(wait))
                        .query_async::<(Vec<u8>, i64)>(&mut connection)
                        .await
                        .map(|(reply, acknowledged)| (reply, Some(acknowledged))),
                }
            }
        };
        match send(connection).await {
            // A new or restarted server has not seen the script yet: load
            // it and send the batch again (it was not run).
            Err(e) if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) => {
                let _: String = redis::cmd("SCRIPT")
                    .arg("LOAD")
                    .arg(KV_BATCH_SCRIPT)
                    .query_async(connection)
                    .await
                    .map_err(|e| self.error(&e))?;
                send(connection).await.map_err(|e| self.error(&e))
            }
            other => other.map_err(|e| self.error(&e)),
        }
    }

    fn error(&self, error: &RedisError) -> KvError {
        let kind = if error.is_timeout() {
            ErrorKind::Timeout
        } else if error.is_io_error()
            || error.is_connection_dropped()
            || error.is_connection_refusal()
            || error.is_cluster_error()
        {
            ErrorKind::Unavailable
        } else {
            ErrorKind::Other
        };
        let what = match kind {
            ErrorKind::Timeout => "Redis did not answer in time",
            ErrorKind::Unavailable => "Redis is unavailable",
            _ => "Redis refused the batch",
        };
        KvError::new(kind, format!("{what} at {}: {}", self.redacted_url, describe(error)))
    }
}

fn wait_command(wait: WaitReplicas) -> redis::Cmd {
    let mut cmd = redis::cmd("WAIT");
    cmd.arg(wait.replicas).arg(wait.timeout.as_millis().max(1) as u64);
    cmd
}

/// Whether a script reply is an applied batch (`[1, ...]`) rather than a
/// failed condition (`[0, ...]`) (see the reply format in `kv_batch.lua`).
fn applied(reply: &str) -> bool {
    reply.starts_with("[1")
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
fn describe(error: &RedisError) -> String {
    // redis-rs does not put URLs or passwords into its messages; strip any
    // `user:pass@` form anyway, in case a future version does.
    redact_url(&error.to_string())
}

/// Replaces the password of every `scheme://user:password@` in `text` by `***`.
pub fn redact_url(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(scheme_end) = rest.find("://") {
        let (head, tail) = rest.split_at(scheme_end + 3);
        out.push_str(head);
        let authority_end = tail.find(['/', ' ', '?', '#']).unwrap_or(tail.len());
        let authority = &tail[..authority_end];
        match authority.rfind('@') {
            Some(at) => {
                let userinfo = &authority[..at];
                match userinfo.find(':') {
                    Some(colon) => {
                        out.push_str(&userinfo[..colon]);
                        out.push_str(":***");
                    }
                    // `redis://password@host` is read as a password by some clients.
                    None if !userinfo.is_empty() => out.push_str("***"),
                    None => {}
                }
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[authority_end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact_url("redis://user:secret@host:6379/2"), "redis://user:***@host:6379/2");
        assert_eq!(redact_url("rediss://:secret@host"), "rediss://:***@host");
        assert_eq!(redact_url("redis://secret@host"), "redis://***@host");
        assert_eq!(redact_url("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        assert_eq!(
            redact_url("failed redis://a:b@h1/0 and redis://c:d@h2"),
            "failed redis://a:***@h1/0 and redis://c:***@h2"
        );
    }
}
