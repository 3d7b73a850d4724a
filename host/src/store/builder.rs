//! [`SessionStoreBuilder`]: where sessions are kept, the key prefix,
//! settings, limits and which component runs.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use agent_sessions_guest::Settings;
use agent_sessions_guest::shard::DEFAULT_SHARDS;

use super::{Inner, SessionStore};
use crate::error::Error;
use crate::kv::memory::MemoryBackend;
use crate::kv::redis::{ConnectError, RedisBackend, RedisOptions};
use crate::kv::{Backend, KvStore};
use crate::runtime::{ComponentSource, GuestLimits, Runtime};

/// Where sessions are kept.
#[derive(Clone)]
pub enum StorageConfig {
    /// A Redis server, by URL: `redis://[user:password@]host[:port][/db]`;
    /// or a Redis Cluster, by one or more comma-separated node URLs.
    Redis { url: String, options: RedisOptions },
    /// An in-memory store, private to this `SessionStore` and its clones.
    Memory,
    /// This in-memory store (keep a clone to share it or drive its clock).
    MemoryBackend(MemoryBackend),
}

/// Builds a [`SessionStore`]; see [`SessionStore::builder`].
#[derive(Clone)]
pub struct SessionStoreBuilder {
    storage: StorageConfig,
    prefix: String,
    settings: Settings,
    /// The shard count asked for; `None`: the document's layout on one
    /// server, the sharded layout with the default count on a cluster.
    shards: Option<u32>,
    limits: GuestLimits,
    component: ComponentSource,
}

impl Default for SessionStoreBuilder {
    /// In-memory storage, empty prefix, default TTLs and limits, the
    /// embedded component.
    fn default() -> Self {
        SessionStoreBuilder {
            storage: StorageConfig::Memory,
            prefix: String::new(),
            settings: Settings::default(),
            shards: None,
            limits: GuestLimits::default(),
            component: ComponentSource::Embedded,
        }
    }
}

impl SessionStoreBuilder {
    /// Keep sessions in Redis at `url`, or on the Redis Cluster whose
    /// nodes' URLs `url` lists comma-separated (one is enough; a single URL
    /// of a cluster node works too: the server says it is one).
    pub fn redis(mut self, url: impl Into<String>) -> Self {
        self.storage = StorageConfig::Redis { url: url.into(), options: RedisOptions::default() };
        self
    }

    /// Keep sessions in Redis at `url`, with these timeouts.
    pub fn redis_with_options(mut self, url: impl Into<String>, options: RedisOptions) -> Self {
        self.storage = StorageConfig::Redis { url: url.into(), options };
        self
    }

    /// Keep sessions in memory (lost when the store is dropped).
    pub fn memory(mut self) -> Self {
        self.storage = StorageConfig::Memory;
        self
    }

    /// Keep sessions in this in-memory backend, for example one with a
    /// [`ManualClock`](crate::kv::memory::ManualClock) that tests advance.
    pub fn memory_backend(mut self, backend: MemoryBackend) -> Self {
        self.storage = StorageConfig::MemoryBackend(backend);
        self
    }

    /// Put every key under `prefix` (default: none, the design document's
    /// layout as is). Two prefixes on one Redis never see each other.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Session lifetime without activity (default one hour).
    pub fn session_ttl(mut self, ttl: Duration) -> Self {
        self.settings.session_ttl_seconds = ttl.as_secs();
        self
    }

    /// How much longer the hashes outlive the session (default 300 s).
    pub fn grace_period(mut self, grace: Duration) -> Self {
        self.settings.grace_seconds = grace.as_secs();
        self
    }

    /// The sharded key layout with `shards` shards (0: the design
    /// document's layout). Every key of a session and its shard's set and
    /// index carry the shard's hash tag, so each operation's batch touches
    /// one Redis Cluster slot. By default: the document's layout on one
    /// server, the sharded layout with
    /// [`DEFAULT_SHARDS`](agent_sessions_guest::shard::DEFAULT_SHARDS)
    /// (64) on a cluster, where it is the only one that works.
    pub fn shards(mut self, shards: u32) -> Self {
        self.shards = Some(shards);
        self
    }

    /// Sessions per Redis batch in cleanup and reindex (default 250).
    pub fn batch_size(mut self, batch_size: u32) -> Self {
        self.settings.batch_size = batch_size;
        self
    }

    /// Memory, CPU and time limits of each call into the component.
    pub fn limits(mut self, limits: GuestLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Run another build of the component instead of the embedded one.
    pub fn component_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.component = ComponentSource::File(path.into());
        self
    }

    pub fn component(mut self, source: ComponentSource) -> Self {
        self.component = source;
        self
    }

    /// Loads the component and connects to storage. Fails with
    /// [`Error::Unavailable`] when Redis cannot be reached (or refuses the
    /// credentials), and with [`Error::InvalidInput`] for a bad URL, CA file
    /// or settings out of range.
    pub async fn build(self) -> Result<SessionStore, Error> {
        self.settings.validate().map_err(Error::InvalidInput)?;
        let runtime = Runtime::new(&self.component, self.limits)?;
        let backend = match self.storage {
            StorageConfig::Redis { url, options } => {
                Backend::Redis(RedisBackend::connect(&url, options).await.map_err(|e| match e {
                    ConnectError::Invalid(message) => Error::InvalidInput(message),
                    ConnectError::Unreachable(message) => Error::Unavailable(message),
                })?)
            }
            StorageConfig::Memory => Backend::Memory(MemoryBackend::new()),
            StorageConfig::MemoryBackend(backend) => Backend::Memory(backend),
        };
        let cluster = matches!(&backend, Backend::Redis(redis) if redis.is_cluster());
        let shards = match self.shards {
            Some(0) if cluster => {
                return Err(Error::InvalidInput(format!(
                    "{} is a Redis Cluster, where only the sharded layout works (a batch's keys must share a \
                     slot); choose a shard count (default {DEFAULT_SHARDS})",
                    backend.describe()
                )));
            }
            Some(shards) => shards,
            None if cluster => DEFAULT_SHARDS,
            None => 0,
        };
        let settings = Settings { shards, ..self.settings }.validate().map_err(Error::InvalidInput)?;
        let store = SessionStore {
            inner: Arc::new(Inner { runtime: Arc::new(runtime), kv: KvStore::new(backend, self.prefix), settings }),
        };
        // In-memory stores live and die with their process: nothing to
        // agree on with other hosts.
        if matches!(store.inner.kv.backend(), Backend::Redis(_)) {
            store.check_layout().await?;
        }
        Ok(store)
    }
}
