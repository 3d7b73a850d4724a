//! [`SessionStore`]: the library's front door. It owns the compiled
//! component and the storage connection; [`SessionStore::call`] runs any
//! repository operation in a sandboxed instance, and `typed` adds typed
//! methods over it. `builder` makes stores.

mod builder;
mod typed;

use std::sync::Arc;
use std::time::Duration;

use agent_sessions_guest::Settings;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use self::builder::{SessionStoreBuilder, StorageConfig};
use crate::error::Error;
use crate::kv::KvStore;
use crate::kv::redis::ConnectError;
use crate::operations::{Arg, Operations, Reply};
use crate::runtime::{GuestLimits, Runtime};

/// The session store. Cheap to clone; clones share the component and the
/// connection, and can be used from many tasks at once.
#[derive(Clone)]
pub struct SessionStore {
    inner: Arc<Inner>,
}

struct Inner {
    runtime: Arc<Runtime>,
    kv: KvStore,
    settings: Settings,
}

/// Health of a store, as `sessions health` reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    /// Where sessions are kept (password redacted).
    pub storage: String,
    /// Round trip of a `PING` (zero for the in-memory store).
    pub storage_latency: Duration,
    /// Round trip of a full component call (instantiate, `list(0, 0)`).
    pub component_latency: Duration,
    /// Sessions in the list index.
    pub indexed_sessions: u64,
}

impl SessionStore {
    /// Starts a builder: in-memory storage, empty prefix, default TTLs and
    /// limits, the embedded component.
    pub fn builder() -> SessionStoreBuilder {
        SessionStoreBuilder::default()
    }

    /// A store over Redis at `url` with every default.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        Self::builder().redis(url).build().await
    }

    /// An in-memory store with every default.
    pub async fn in_memory() -> Result<Self, Error> {
        Self::builder().memory().build().await
    }

    /// The same store (component, connection, prefix) with other settings,
    /// for example a shorter TTL for one kind of session.
    pub fn with_settings(&self, settings: Settings) -> Result<SessionStore, Error> {
        let settings = settings.validate().map_err(Error::InvalidInput)?;
        if settings.shards != self.inner.settings.shards {
            return Err(Error::InvalidInput(format!(
                "the key layout cannot change on a built store (shards {} -> {}); build another store",
                self.inner.settings.shards, settings.shards
            )));
        }
        Ok(SessionStore {
            inner: Arc::new(Inner { runtime: self.inner.runtime.clone(), kv: self.inner.kv.clone(), settings }),
        })
    }

    /// The same store (component, settings, prefix, round-trip count) on
    /// a Redis connection of its own, driven by the async runtime this is
    /// called on: for example one per thread, each blocking on its own
    /// current-thread runtime, so that a call never hands off to another
    /// thread. Fails with [`Error::Unavailable`] when Redis cannot be reached.
    pub async fn with_own_connection(&self) -> Result<SessionStore, Error> {
        let kv = self.inner.kv.with_own_connection().await.map_err(|e| match e {
            ConnectError::Invalid(message) => Error::InvalidInput(message),
            ConnectError::Unreachable(message) => Error::Unavailable(message),
        })?;
        Ok(SessionStore {
            inner: Arc::new(Inner { runtime: self.inner.runtime.clone(), kv, settings: self.inner.settings }),
        })
    }

    pub fn settings(&self) -> Settings {
        self.inner.settings
    }

    pub fn limits(&self) -> GuestLimits {
        self.inner.runtime.limits()
    }

    pub fn prefix(&self) -> &str {
        self.inner.kv.prefix()
    }

    /// Storage round trips (kv batches) made so far by this store and its
    /// clones.
    pub fn round_trips(&self) -> u64 {
        self.inner.kv.round_trips()
    }

    /// The storage this store talks to (shared with its clones).
    pub fn kv(&self) -> &KvStore {
        &self.inner.kv
    }

    /// Where sessions are kept, safe to print.
    pub fn storage_description(&self) -> String {
        self.inner.kv.backend().describe()
    }

    /// Checks storage and the component: one `PING`, one component call.
    pub async fn health(&self) -> Result<Health, Error> {
        let storage_latency = self.inner.kv.backend().ping().await.map_err(|e| Error::Unavailable(e.message))?;
        let started = std::time::Instant::now();
        let page = self.list(0, 0).await?;
        Ok(Health {
            storage: self.storage_description(),
            storage_latency,
            component_latency: started.elapsed(),
            indexed_sessions: page.total,
        })
    }

    /// Average time to prepare a sandboxed store and instance, the fixed
    /// cost of every call (for benchmarks).
    #[doc(hidden)]
    pub async fn instance_preparation_time(&self, samples: u32) -> Result<Duration, Error> {
        self.inner.runtime.instance_preparation(&self.inner.kv, self.inner.settings, samples).await
    }

    /// Runs the repository operation `operation` (its WIT export name,
    /// `get-items`) with `args` in a sandboxed instance: the one path every
    /// operation takes. The component says which operations there are and
    /// what they take ([`operations`](Self::operations)); arguments that do
    /// not fit are [`Error::InvalidInput`]. JSON documents travel as text
    /// in the shared schema (`schema/sessions.schema.json`).
    pub async fn call(&self, operation: &str, args: Vec<Arg>) -> Result<Reply, Error> {
        let operation = self.inner.runtime.operations().get(operation)?;
        let args = operation.lower(args)?;
        let started = std::time::Instant::now();
        let result = self.inner.runtime.call(operation, &args, &self.inner.kv, self.inner.settings).await;
        crate::metrics::record_operation(&operation.name, started.elapsed(), &result);
        result
    }

    /// The repository's operations, as the component declares them.
    pub fn operations(&self) -> &Operations {
        self.inner.runtime.operations()
    }
}

/// A document for the component, in the shared JSON schema.
fn to_json<T: Serialize>(value: &T) -> Result<String, Error> {
    serde_json::to_string(value).map_err(|e| Error::InvalidInput(format!("cannot write the input as JSON: {e}")))
}

/// A document from the component; one that does not read is a guest bug.
fn from_json<T: DeserializeOwned>(json: &str) -> Result<T, Error> {
    serde_json::from_str(json)
        .map_err(|e| Error::Guest(format!("the component returned a document that does not read: {e}")))
}
