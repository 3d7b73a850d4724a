//! [`SessionStore`]: the library's front door. It owns the compiled
//! component and the storage connection; every method runs the matching
//! repository operation in a fresh sandboxed instance.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use agent_sessions_guest::Settings;
use agent_sessions_guest::conversation::{
    ItemOptions, ItemPopped, ItemsAppend, ItemsPage, ItemsQuery, ItemsReceipt, OwnerPage,
};
use agent_sessions_guest::model::{
    CleanupReport, ConflictPolicy, ExportPage, ImportRecord, ImportReport, MigratePage, Session, SessionCreate,
    SessionPage, SessionStats, SessionUpdate, StatsPage,
};
use agent_sessions_guest::shard::DEFAULT_SHARDS;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bindings::wit_types::ConflictPolicy as WitConflictPolicy;
use crate::error::Error;
use crate::kv::memory::MemoryBackend;
use crate::kv::redis::{ConnectError, RedisBackend, RedisOptions};
use crate::kv::{Backend, KvStore};
use crate::runtime::{ComponentSource, GuestLimits, Runtime};

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
        SessionStoreBuilder {
            storage: StorageConfig::Memory,
            prefix: String::new(),
            settings: Settings::default(),
            shards: None,
            limits: GuestLimits::default(),
            component: ComponentSource::Embedded,
        }
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

    /// Creates a session with a fresh id.
    pub async fn create(&self, input: SessionCreate) -> Result<Session, Error> {
        from_json(&self.create_json(to_json(&input)?).await?)
    }

    /// [`create`](Self::create) with the input and the session as JSON
    /// documents of the shared schema (`schema/sessions.schema.json`), for
    /// hosts that pass documents through: the component reads the input and
    /// says what is wrong with it, field by field.
    pub async fn create_json(&self, input: String) -> Result<String, Error> {
        self.call("create", move |bindings, store| {
            Box::pin(async move { bindings.agent_sessions_repository().call_create(store, &input).await })
        })
        .await
    }

    /// The live session `id`, or [`Error::NotFound`].
    pub async fn get(&self, id: &str) -> Result<Session, Error> {
        from_json(&self.get_json(id).await?)
    }

    /// [`get`](Self::get), the session as a JSON document.
    pub async fn get_json(&self, id: &str) -> Result<String, Error> {
        let id = id.to_owned();
        self.call("get", move |bindings, store| {
            Box::pin(async move { bindings.agent_sessions_repository().call_get(store, &id).await })
        })
        .await
    }

    /// Applies `changes` to the live session `id` and returns it updated.
    pub async fn update(&self, id: &str, changes: SessionUpdate) -> Result<Session, Error> {
        from_json(&self.update_json(id, to_json(&changes)?).await?)
    }

    /// [`update`](Self::update) with the changes and the session as JSON
    /// documents.
    pub async fn update_json(&self, id: &str, changes: String) -> Result<String, Error> {
        let id = id.to_owned();
        self.call("update", move |bindings, store| {
            Box::pin(async move { bindings.agent_sessions_repository().call_update(store, &id, &changes).await })
        })
        .await
    }

    /// Deletes session `id`; true when a live session was deleted.
    pub async fn delete(&self, id: &str) -> Result<bool, Error> {
        let id = id.to_owned();
        self.call("delete", move |bindings, store| {
            Box::pin(async move { bindings.agent_sessions_repository().call_delete(store, &id).await })
        })
        .await
    }

    /// Appends conversation items (an `items-append` document) in one
    /// atomic step; returns the `items-receipt`.
    pub async fn append_items(&self, id: &str, request: &ItemsAppend) -> Result<ItemsReceipt, Error> {
        from_json(&self.append_items_json(id, to_json(request)?).await?)
    }

    /// [`append_items`](Self::append_items) with JSON documents.
    pub async fn append_items_json(&self, id: &str, request: String) -> Result<String, Error> {
        let id = id.to_owned();
        self.call("append_items", move |bindings, store| {
            Box::pin(async move { bindings.agent_sessions_repository().call_append_items(store, &id, &request).await })
        })
        .await
    }

    /// Items of session `id`, oldest first, as an `items-query` asks.
    pub async fn get_items(&self, id: &str, query: &ItemsQuery) -> Result<ItemsPage, Error> {
        from_json(&self.get_items_json(id, to_json(query)?).await?)
    }

    /// [`get_items`](Self::get_items) with JSON documents.
    pub async fn get_items_json(&self, id: &str, query: String) -> Result<String, Error> {
        let id = id.to_owned();
        self.call("get_items", move |bindings, store| {
            Box::pin(async move { bindings.agent_sessions_repository().call_get_items(store, &id, &query).await })
        })
        .await
    }

    /// Removes and returns the newest item of session `id`.
    pub async fn pop_item(&self, id: &str, options: &ItemOptions) -> Result<ItemPopped, Error> {
        from_json(&self.pop_item_json(id, to_json(options)?).await?)
    }

    /// [`pop_item`](Self::pop_item) with JSON documents.
    pub async fn pop_item_json(&self, id: &str, options: String) -> Result<String, Error> {
        let id = id.to_owned();
        self.call("pop_item", move |bindings, store| {
            Box::pin(async move { bindings.agent_sessions_repository().call_pop_item(store, &id, &options).await })
        })
        .await
    }

    /// Removes every item of session `id`, keeping the session.
    pub async fn clear_items(&self, id: &str, options: &ItemOptions) -> Result<ItemsReceipt, Error> {
        from_json(&self.clear_items_json(id, to_json(options)?).await?)
    }

    /// [`clear_items`](Self::clear_items) with JSON documents.
    pub async fn clear_items_json(&self, id: &str, options: String) -> Result<String, Error> {
        let id = id.to_owned();
        self.call("clear_items", move |bindings, store| {
            Box::pin(async move { bindings.agent_sessions_repository().call_clear_items(store, &id, &options).await })
        })
        .await
    }

    /// Sessions of `user_id` of `app_name` ("" for every user of the app),
    /// newest-updated first.
    pub async fn list_by_owner(
        &self,
        app_name: &str,
        user_id: &str,
        limit: u32,
        page_token: &str,
    ) -> Result<OwnerPage, Error> {
        from_json(&self.list_by_owner_json(app_name, user_id, limit, page_token.to_owned()).await?)
    }

    /// [`list_by_owner`](Self::list_by_owner) returning JSON.
    pub async fn list_by_owner_json(
        &self,
        app_name: &str,
        user_id: &str,
        limit: u32,
        page_token: String,
    ) -> Result<String, Error> {
        let (app_name, user_id) = (app_name.to_owned(), user_id.to_owned());
        self.call("list_by_owner", move |bindings, store| {
            Box::pin(async move {
                bindings
                    .agent_sessions_repository()
                    .call_list_by_owner(store, &app_name, &user_id, limit, &page_token)
                    .await
            })
        })
        .await
    }

    /// Deletes session `id` only if it has the options' owner and version.
    pub async fn delete_with(&self, id: &str, options: &ItemOptions) -> Result<bool, Error> {
        self.delete_with_json(id, to_json(options)?).await
    }

    /// [`delete_with`](Self::delete_with) with the options as JSON.
    pub async fn delete_with_json(&self, id: &str, options: String) -> Result<bool, Error> {
        let id = id.to_owned();
        self.call("delete_with", move |bindings, store| {
            Box::pin(async move { bindings.agent_sessions_repository().call_delete_with(store, &id, &options).await })
        })
        .await
    }

    /// A page of sessions, newest first: ranks `offset..offset + limit`.
    /// The page's `next_page_token` continues it with
    /// [`list_after`](Self::list_after).
    pub async fn list(&self, limit: u32, offset: u64) -> Result<SessionPage, Error> {
        from_json(&self.list_json(limit, offset, String::new()).await?)
    }

    /// The `limit` sessions after the page whose `next_page_token` is
    /// `page_token`, newest first: stable while sessions are added or
    /// removed, and as cheap on page 1,000 as on page 1.
    pub async fn list_after(&self, limit: u32, page_token: &str) -> Result<SessionPage, Error> {
        from_json(&self.list_json(limit, 0, page_token.to_owned()).await?)
    }

    /// [`list`](Self::list) or, with a page token, [`list_after`](Self::list_after);
    /// the page as a JSON document.
    pub async fn list_json(&self, limit: u32, offset: u64, page_token: String) -> Result<String, Error> {
        self.call("list", move |bindings, store| {
            Box::pin(
                async move { bindings.agent_sessions_repository().call_list(store, limit, offset, &page_token).await },
            )
        })
        .await
    }

    /// Resets the TTLs of session `id`; false when it is gone.
    pub async fn extend_ttl(&self, id: &str) -> Result<bool, Error> {
        let id = id.to_owned();
        self.call("extend_ttl", move |bindings, store| {
            Box::pin(async move { bindings.agent_sessions_repository().call_extend_ttl(store, &id).await })
        })
        .await
    }

    /// Removes every expired session; reports how many, and what it could
    /// not judge and left alone.
    pub async fn cleanup_expired(&self) -> Result<CleanupReport, Error> {
        from_json(&self.cleanup_expired_json().await?)
    }

    /// [`cleanup_expired`](Self::cleanup_expired), the report as a JSON
    /// document.
    pub async fn cleanup_expired_json(&self) -> Result<String, Error> {
        self.call("cleanup_expired", |bindings, store| {
            Box::pin(async move { bindings.agent_sessions_repository().call_cleanup_expired(store).await })
        })
        .await
    }

    /// Checks the key layout recorded in storage against this store's
    /// settings (recording the sharded layout if none is); `build` does it
    /// once. A mismatch is [`Error::InvalidInput`] saying both layouts.
    pub async fn check_layout(&self) -> Result<u32, Error> {
        self.call("check_layout", |bindings, store| {
            Box::pin(async move { bindings.agent_sessions_repository().call_check_layout(store).await })
        })
        .await
    }

    /// Indexes live sessions written by another service; returns how many.
    pub async fn reindex(&self) -> Result<u64, Error> {
        self.call("reindex", |bindings, store| {
            Box::pin(async move { bindings.agent_sessions_repository().call_reindex(store).await })
        })
        .await
    }

    /// One bounded step of the stats walk (see [`SessionStore::stats`]):
    /// start with cursor "" and default stats, repeat until `done`.
    pub async fn stats_page(&self, cursor: &str, so_far: SessionStats) -> Result<StatsPage, Error> {
        from_json(&self.stats_page_json(cursor, to_json(&so_far)?).await?)
    }

    /// [`stats_page`](Self::stats_page) with the totals so far and the page
    /// as JSON documents; `so_far` may be "" for the first step.
    pub async fn stats_page_json(&self, cursor: &str, so_far: String) -> Result<String, Error> {
        let cursor = cursor.to_owned();
        self.call("stats", move |bindings, store| {
            Box::pin(async move { bindings.agent_sessions_repository().call_stats(store, &cursor, &so_far).await })
        })
        .await
    }

    /// Counts sessions (by status, activity, remaining TTL) and
    /// inconsistencies over the whole keyspace, in bounded steps of
    /// `batch_size` (SCAN-based: Redis is never blocked). `progress` sees
    /// each step's totals.
    pub async fn stats(&self, mut progress: impl FnMut(&StatsPage)) -> Result<SessionStats, Error> {
        let mut page = StatsPage::default();
        loop {
            page = self.stats_page(&page.cursor, page.stats).await?;
            progress(&page);
            if page.done {
                return Ok(page.stats);
            }
        }
    }

    /// Takes (or renews) the cleanup lease for `ttl` if nobody else holds
    /// it; true when `holder` holds it afterwards.
    pub async fn acquire_cleanup_lease(&self, holder: &str, ttl: Duration) -> Result<bool, Error> {
        let holder = holder.to_owned();
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        self.call("acquire_cleanup_lease", move |bindings, store| {
            Box::pin(async move {
                bindings.agent_sessions_repository().call_acquire_cleanup_lease(store, &holder, ttl_ms).await
            })
        })
        .await
    }

    /// Gives the cleanup lease back if `holder` holds it.
    pub async fn release_cleanup_lease(&self, holder: &str) -> Result<bool, Error> {
        let holder = holder.to_owned();
        self.call("release_cleanup_lease", move |bindings, store| {
            Box::pin(
                async move { bindings.agent_sessions_repository().call_release_cleanup_lease(store, &holder).await },
            )
        })
        .await
    }

    /// One page of live sessions as stored (both hashes byte for byte and
    /// the remaining TTL). Start with cursor ""; repeat until `done`.
    pub async fn export_sessions(&self, cursor: &str) -> Result<ExportPage, Error> {
        let cursor = cursor.to_owned();
        let page = self
            .call("export_sessions", move |bindings, store| {
                Box::pin(async move { bindings.agent_sessions_repository().call_export_sessions(store, &cursor).await })
            })
            .await?;
        from_json(&page)
    }

    /// Validates `records` (at most 1000), then, unless `dry_run`, writes
    /// the valid ones, each atomically with every key, in one round trip.
    pub async fn import_sessions(
        &self,
        records: Vec<ImportRecord>,
        on_conflict: ConflictPolicy,
        dry_run: bool,
    ) -> Result<ImportReport, Error> {
        let records = to_json(&records)?;
        let policy = match on_conflict {
            ConflictPolicy::Skip => WitConflictPolicy::Skip,
            ConflictPolicy::Overwrite => WitConflictPolicy::Overwrite,
            ConflictPolicy::Fail => WitConflictPolicy::Fail,
        };
        let report = self
            .call("import_sessions", move |bindings, store| {
                Box::pin(async move {
                    bindings.agent_sessions_repository().call_import_sessions(store, &records, policy, dry_run).await
                })
            })
            .await?;
        from_json(&report)
    }

    /// One page of bringing foreign sessions up to this layout (index, hash
    /// TTLs, schema_version). Start with cursor ""; repeat until `done`.
    pub async fn migrate(&self, cursor: &str, dry_run: bool) -> Result<MigratePage, Error> {
        let cursor = cursor.to_owned();
        let page = self
            .call("migrate", move |bindings, store| {
                Box::pin(
                    async move { bindings.agent_sessions_repository().call_migrate(store, &cursor, dry_run).await },
                )
            })
            .await?;
        from_json(&page)
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

    async fn call<T, F>(&self, operation: &'static str, call: F) -> Result<T, Error>
    where
        F: for<'a> FnOnce(
            &'a crate::bindings::SessionStore,
            &'a mut wasmtime::Store<crate::runtime::HostState>,
        ) -> std::pin::Pin<
            Box<dyn Future<Output = wasmtime::Result<Result<T, crate::bindings::wit_types::SessionError>>> + Send + 'a>,
        >,
    {
        let started = std::time::Instant::now();
        let result = self.inner.runtime.call(operation, &self.inner.kv, self.inner.settings, call).await;
        crate::metrics::record_operation(operation, started.elapsed(), &result);
        result
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
