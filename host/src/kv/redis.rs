//! The Redis backend: every batch is one `EVALSHA` of `redis/kv_batch.lua`
//! with the prefixed keys and the packed batch as they are; after a batch
//! whose flag says it writes, `WAIT` when the store waits for replicas.
//! Opening the connection (URL, TLS, cluster or not, timeouts) is
//! [`super::redis_connection`]'s; reconnecting, cluster redirects and
//! reloading the script after `NOSCRIPT` are redis-rs's.

use std::sync::Arc;
use std::time::{Duration, Instant};

use agent_sessions_guest::kv::{ErrorKind, KvError, wire};
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{RedisError, Script};

pub use super::redis_connection::{ConnectError, DEFAULT_WAIT_TIMEOUT, RedisOptions, WaitReplicas, redact_url};
use super::redis_connection::{Link, RedisConnection, describe};
/// The batch script, shared with every other host.
pub use agent_sessions_guest::kv::KV_BATCH_SCRIPT;

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
pub struct RedisBackend {
    connection: RedisConnection,
    script: Arc<Script>,
    wait_replicas: Option<WaitReplicas>,
}

impl RedisBackend {
    /// Connects (see [`RedisConnection::open`]) and checks that the server
    /// answers.
    pub async fn connect(url: &str, options: RedisOptions) -> Result<Self, ConnectError> {
        let backend = Self {
            connection: RedisConnection::open(url, &options).await?,
            script: Arc::new(Script::new(KV_BATCH_SCRIPT)),
            wait_replicas: options.wait_replicas.filter(|wait| wait.replicas > 0),
        };
        // A cluster client connects lazily; make sure one node answers.
        backend.ping().await.map_err(|e| ConnectError::Unreachable(e.message))?;
        Ok(backend)
    }

    /// A backend like this one on a connection of its own, driven by the
    /// async runtime this is called on. Fails when Redis cannot be reached.
    pub async fn another_connection(&self) -> Result<Self, ConnectError> {
        Ok(Self { connection: self.connection.another().await?, ..self.clone() })
    }

    /// Where the data lives, with any password replaced by `***`.
    pub fn redacted_url(&self) -> &str {
        &self.connection.redacted_url
    }

    /// Whether this is a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self.connection.link, Link::Cluster(_))
    }

    /// Round-trip time of one `PING` (to one node of a cluster).
    pub async fn ping(&self) -> Result<Duration, KvError> {
        let started = Instant::now();
        let _: String =
            redis::cmd("PING").query_async(&mut self.connection.link.clone()).await.map_err(|e| self.error(&e))?;
        Ok(started.elapsed())
    }

    /// `EVALSHA kv_batch <n> <keys...> <prefix> <batch>`; the script's reply,
    /// one JSON text, as it is. redis-rs loads the script on `NOSCRIPT` (a
    /// new or restarted server, a promoted replica) and sends it again; on
    /// a cluster it routes it by its first key. With `wait_replicas`, a
    /// batch whose packed form says it writes is followed by `WAIT` on the
    /// connection (the node) that ran it.
    pub async fn execute(&self, keys: &[String], prefix: &str, batch: &str) -> Result<Executed, KvError> {
        let mut link = self.connection.link.clone();
        let mut invocation = self.script.prepare_invoke();
        invocation.key(keys).arg(prefix).arg(batch);
        let reply: Vec<u8> = invocation.invoke_async(&mut link).await.map_err(|e| self.error(&e))?;
        // Values written by other tools may hold invalid UTF-8; keep them
        // readable (the guest reports the field as corrupt if it matters).
        let reply = String::from_utf8(reply).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        // Only an applied batch (`[1, ...]`) wrote anything to wait for.
        let wait = self.wait_replicas.filter(|_| wire::batch_writes(batch) && reply.starts_with("[1"));
        let not_replicated = match wait {
            Some(wait) => {
                let acknowledged = self.wait(&mut link, wait, keys.first()).await?;
                (acknowledged < i64::from(wait.replicas)).then(|| {
                    format!(
                        "the write was applied on the primary but confirmed by {acknowledged} of {} replicas within {:?} at {}",
                        wait.replicas,
                        wait.timeout,
                        self.redacted_url()
                    )
                })
            }
            None => None,
        };
        Ok(Executed { reply, not_replicated })
    }

    /// `WAIT replicas timeout`: how many replicas have this connection's
    /// writes. On a cluster it goes to the primary of the batch's slot, the
    /// node that ran it.
    async fn wait(&self, link: &mut Link, wait: WaitReplicas, key: Option<&String>) -> Result<i64, KvError> {
        let mut command = redis::cmd("WAIT");
        command.arg(wait.replicas).arg(wait.timeout.as_millis().max(1) as u64);
        let acknowledged = match (link, key) {
            (Link::Cluster(connection), Some(key)) => {
                let node = Route::with_key(key.as_bytes(), SlotAddr::Master);
                let route = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(node));
                connection
                    .route_command(command, route)
                    .await
                    .and_then(|value| redis::from_redis_value::<i64>(value).map_err(RedisError::from))
            }
            (link, _) => command.query_async(link).await,
        };
        acknowledged.map_err(|e| self.error(&e))
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
        KvError::new(kind, format!("{what} at {}: {}", self.redacted_url(), describe(error)))
    }
}
