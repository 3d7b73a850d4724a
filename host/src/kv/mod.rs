//! `kv`: the storage the guest reaches, and nothing else.
//!
//! [`KvStore`] is what a component instance talks to. It takes a batch in
//! the packed form of `kv.execute` (see the `agent-sessions-kv` crate),
//! puts the configured prefix in front of every key, and hands it to one
//! backend: [`redis::RedisBackend`] runs `redis/kv_batch.lua` on it as it
//! is; [`memory::MemoryBackend`] unpacks it and checks it with the kv
//! crate's unpacker and batch rules. No op is known here: whether a batch
//! writes (for `WAIT`) is its packed flag.
//! `wit` adapts it to the WIT import.

pub mod memory;
pub mod redis;
mod redis_connection;
pub(crate) mod wit;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use agent_sessions_guest::kv::{Batch, BatchOutcome, ErrorKind, KvError, wire};

/// One of the two storage backends.
#[derive(Clone)]
pub enum Backend {
    Redis(redis::RedisBackend),
    Memory(memory::MemoryBackend),
}

impl Backend {
    /// Runs a packed batch under `prefix`; returns the packed reply.
    async fn execute(&self, keys: &str, prefix: &str, batch: &str) -> Result<redis::Executed, KvError> {
        match self {
            Backend::Redis(redis) => redis.execute(&prefixed(keys, prefix), prefix, batch).await,
            Backend::Memory(memory) => {
                Ok(redis::Executed { reply: memory.execute_packed(keys, prefix, batch), not_replicated: None })
            }
        }
    }

    /// Round-trip time to storage.
    pub async fn ping(&self) -> Result<Duration, KvError> {
        match self {
            Backend::Redis(redis) => redis.ping().await,
            Backend::Memory(_) => Ok(Duration::ZERO),
        }
    }

    /// Where the data lives, safe to print (no password).
    pub fn describe(&self) -> String {
        match self {
            Backend::Redis(redis) => redis.redacted_url().to_owned(),
            Backend::Memory(_) => "in-memory store".to_owned(),
        }
    }
}

/// A backend seen through a key prefix.
#[derive(Clone)]
pub struct KvStore {
    backend: Backend,
    prefix: String,
    /// Batches sent to storage, one round trip each (shared by clones).
    round_trips: Arc<AtomicU64>,
}

impl KvStore {
    pub fn new(backend: Backend, prefix: impl Into<String>) -> Self {
        Self { backend, prefix: prefix.into(), round_trips: Arc::default() }
    }

    /// Batches sent to storage so far by this store and its clones; each is
    /// one round trip.
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }

    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// This store (prefix, round-trip count) on a storage connection of
    /// its own, driven by the async runtime this is called on; the
    /// in-memory backend is shared as it is.
    pub async fn with_own_connection(&self) -> Result<KvStore, redis::ConnectError> {
        let backend = match &self.backend {
            Backend::Redis(redis) => Backend::Redis(redis.another_connection().await?),
            Backend::Memory(memory) => Backend::Memory(memory.clone()),
        };
        Ok(KvStore { backend, prefix: self.prefix.clone(), round_trips: self.round_trips.clone() })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `kv.execute`: `keys` one per line (relative), `batch` the packed
    /// entries; returns the packed reply. Errors are storage that did not
    /// run the batch (unavailable, timeout, other).
    pub async fn execute_packed(&self, keys: &str, batch: &str) -> Result<String, KvError> {
        Ok(self.execute_packed_noting(keys, batch).await?.reply)
    }

    /// [`execute_packed`](Self::execute_packed), saying also whether a
    /// write fell short of the replicas the store waits for.
    pub async fn execute_packed_noting(&self, keys: &str, batch: &str) -> Result<redis::Executed, KvError> {
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        self.backend.execute(keys, &self.prefix, batch).await
    }

    /// `kv.execute-each`: batches joined by
    /// [`BATCH_SEPARATOR`](wire::BATCH_SEPARATOR) (their keys likewise), sent
    /// at once (to their nodes, on a cluster); their replies joined the
    /// same way. Each counts as a round trip, though they wait together.
    pub async fn execute_each_packed(&self, keys: &str, batches: &str) -> Result<redis::Executed, KvError> {
        let keys: Vec<&str> = keys.split(wire::BATCH_SEPARATOR).collect();
        let batches: Vec<&str> = batches.split(wire::BATCH_SEPARATOR).collect();
        if keys.len() != batches.len() {
            return Err(KvError::new(
                ErrorKind::InvalidBatch,
                format!("kv.execute-each got keys for {} batches and {} batches", keys.len(), batches.len()),
            ));
        }
        let executed = futures_util::future::try_join_all(
            keys.iter().zip(&batches).map(|(keys, batch)| self.execute_packed_noting(keys, batch)),
        )
        .await?;
        let separator = wire::BATCH_SEPARATOR.to_string();
        Ok(redis::Executed {
            reply: executed.iter().map(|e| e.reply.as_str()).collect::<Vec<_>>().join(&separator),
            not_replicated: executed.into_iter().find_map(|e| e.not_replicated),
        })
    }

    /// A typed batch, packed and unpacked with the kv crate's wire code
    /// (for native callers: benchmarks, tests).
    pub async fn execute(&self, batch: &Batch) -> Result<BatchOutcome, KvError> {
        let packed = wire::encode_batch(batch)?;
        let reply = self.execute_packed(&packed.keys, &packed.batch).await?;
        wire::decode_reply(batch, &reply)
    }
}

/// The packed key lines, each with `prefix` in front (none for "").
pub(crate) fn prefixed(keys: &str, prefix: &str) -> Vec<String> {
    if keys.is_empty() { Vec::new() } else { keys.split('\n').map(|key| format!("{prefix}{key}")).collect() }
}

/// `text` with Redis' glob characters escaped, so that a prefix matches
/// only itself in a SCAN pattern (the script does the same).
pub fn escape_glob(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}
