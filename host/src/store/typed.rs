//! Typed methods over [`SessionStore::call`]: each turns its arguments into
//! the operation's parameters and reads the reply into the guest crate's
//! document types. Every operation is reachable through `call` without one.

use std::time::Duration;

use agent_sessions_guest::conversation::{
    ItemOptions, ItemPopped, ItemsAppend, ItemsPage, ItemsQuery, ItemsReceipt, OwnerPage,
};
use agent_sessions_guest::model::{
    CleanupReport, ConflictPolicy, ExportPage, ImportRecord, ImportReport, MigratePage, Session, SessionCreate,
    SessionPage, SessionStats, SessionUpdate, StatsPage,
};
use serde::de::DeserializeOwned;

use super::{SessionStore, from_json, to_json};
use crate::error::Error;
use crate::operations::{Arg, Reply};

impl SessionStore {
    /// Creates a session with a fresh id (or the input's `id`).
    pub async fn create(&self, input: SessionCreate) -> Result<Session, Error> {
        self.document("create", vec![to_json(&input)?.into()]).await
    }

    /// The live session `id`, or [`Error::NotFound`].
    pub async fn get(&self, id: &str) -> Result<Session, Error> {
        self.document("get", vec![id.into()]).await
    }

    /// Applies `changes` to the live session `id` and returns it updated.
    pub async fn update(&self, id: &str, changes: SessionUpdate) -> Result<Session, Error> {
        self.document("update", vec![id.into(), to_json(&changes)?.into()]).await
    }

    /// Deletes session `id`; true when a live session was deleted.
    pub async fn delete(&self, id: &str) -> Result<bool, Error> {
        self.flag("delete", vec![id.into()]).await
    }

    /// Appends conversation items (an `items-append` document) in one
    /// atomic step; returns the `items-receipt`.
    pub async fn append_items(&self, id: &str, request: &ItemsAppend) -> Result<ItemsReceipt, Error> {
        self.document("append-items", vec![id.into(), to_json(request)?.into()]).await
    }

    /// Items of session `id`, oldest first, as an `items-query` asks.
    pub async fn get_items(&self, id: &str, query: &ItemsQuery) -> Result<ItemsPage, Error> {
        self.document("get-items", vec![id.into(), to_json(query)?.into()]).await
    }

    /// Every item of session `id` that `query` selects (the newest `last`,
    /// or all), in one call: the component reads page by page at one
    /// version of the session and starts over if it changes meanwhile.
    pub async fn get_all_items(&self, id: &str, query: ItemsQuery) -> Result<ItemsPage, Error> {
        self.get_items(id, &ItemsQuery { whole: true, ..query }).await
    }

    /// Removes and returns the newest item of session `id`.
    pub async fn pop_item(&self, id: &str, options: &ItemOptions) -> Result<ItemPopped, Error> {
        self.document("pop-item", vec![id.into(), to_json(options)?.into()]).await
    }

    /// Removes every item of session `id`, keeping the session.
    pub async fn clear_items(&self, id: &str, options: &ItemOptions) -> Result<ItemsReceipt, Error> {
        self.document("clear-items", vec![id.into(), to_json(options)?.into()]).await
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
        self.document("list-by-owner", vec![app_name.into(), user_id.into(), limit.into(), page_token.into()]).await
    }

    /// Deletes session `id` only if it has the options' owner and version.
    pub async fn delete_with(&self, id: &str, options: &ItemOptions) -> Result<bool, Error> {
        self.flag("delete-with", vec![id.into(), to_json(options)?.into()]).await
    }

    /// A page of sessions, newest first: ranks `offset..offset + limit`.
    /// The page's `next_page_token` continues it with
    /// [`list_after`](Self::list_after).
    pub async fn list(&self, limit: u32, offset: u64) -> Result<SessionPage, Error> {
        self.document("list", vec![limit.into(), offset.into(), "".into()]).await
    }

    /// The `limit` sessions after the page whose `next_page_token` is
    /// `page_token`, newest first: stable while sessions are added or
    /// removed, and as cheap on page 1,000 as on page 1.
    pub async fn list_after(&self, limit: u32, page_token: &str) -> Result<SessionPage, Error> {
        self.document("list", vec![limit.into(), 0u64.into(), page_token.into()]).await
    }

    /// Resets the TTLs of session `id`; false when it is gone.
    pub async fn extend_ttl(&self, id: &str) -> Result<bool, Error> {
        self.flag("extend-ttl", vec![id.into()]).await
    }

    /// Removes every expired session; reports how many, and what it could
    /// not judge and left alone.
    pub async fn cleanup_expired(&self) -> Result<CleanupReport, Error> {
        self.document("cleanup-expired", vec![]).await
    }

    /// Checks the key layout recorded in storage against this store's
    /// settings (recording the sharded layout if none is); `build` does it
    /// once. A mismatch is [`Error::InvalidInput`] saying both layouts.
    pub async fn check_layout(&self) -> Result<u32, Error> {
        let shards = self.count("check-layout", vec![]).await?;
        u32::try_from(shards).map_err(|_| Error::Guest(format!("check-layout returned {shards} shards")))
    }

    /// Indexes live sessions written by another service; returns how many.
    pub async fn reindex(&self) -> Result<u64, Error> {
        self.count("reindex", vec![]).await
    }

    /// One bounded step of the stats walk (see [`SessionStore::stats`]):
    /// start with cursor "" and default stats, repeat until `done`.
    pub async fn stats_page(&self, cursor: &str, so_far: SessionStats) -> Result<StatsPage, Error> {
        self.document("stats", vec![cursor.into(), to_json(&so_far)?.into()]).await
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
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        self.flag("acquire-cleanup-lease", vec![holder.into(), ttl_ms.into()]).await
    }

    /// Gives the cleanup lease back if `holder` holds it.
    pub async fn release_cleanup_lease(&self, holder: &str) -> Result<bool, Error> {
        self.flag("release-cleanup-lease", vec![holder.into()]).await
    }

    /// One page of live sessions as stored (both hashes byte for byte and
    /// the remaining TTL). Start with cursor ""; repeat until `done`.
    pub async fn export_sessions(&self, cursor: &str) -> Result<ExportPage, Error> {
        self.document("export-sessions", vec![cursor.into()]).await
    }

    /// Validates `records` (at most 1000), then, unless `dry_run`, writes
    /// the valid ones, each atomically with every key, in one round trip.
    pub async fn import_sessions(
        &self,
        records: Vec<ImportRecord>,
        on_conflict: ConflictPolicy,
        dry_run: bool,
    ) -> Result<ImportReport, Error> {
        let policy = match on_conflict {
            ConflictPolicy::Skip => "skip",
            ConflictPolicy::Overwrite => "overwrite",
            ConflictPolicy::Fail => "fail",
        };
        self.document("import-sessions", vec![to_json(&records)?.into(), policy.into(), dry_run.into()]).await
    }

    /// One page of bringing foreign sessions up to this layout (index, hash
    /// TTLs, schema_version). Start with cursor ""; repeat until `done`.
    pub async fn migrate(&self, cursor: &str, dry_run: bool) -> Result<MigratePage, Error> {
        self.document("migrate", vec![cursor.into(), dry_run.into()]).await
    }

    /// An operation that returns a JSON document, read as `T`.
    async fn document<T: DeserializeOwned>(&self, operation: &str, args: Vec<Arg>) -> Result<T, Error> {
        match self.call(operation, args).await? {
            Reply::Text(json) => from_json(&json),
            other => Err(unexpected(operation, &other)),
        }
    }

    /// An operation that returns a boolean.
    async fn flag(&self, operation: &str, args: Vec<Arg>) -> Result<bool, Error> {
        match self.call(operation, args).await? {
            Reply::Bool(value) => Ok(value),
            other => Err(unexpected(operation, &other)),
        }
    }

    /// An operation that returns a whole number.
    async fn count(&self, operation: &str, args: Vec<Arg>) -> Result<u64, Error> {
        match self.call(operation, args).await? {
            Reply::Int(value) => Ok(value),
            other => Err(unexpected(operation, &other)),
        }
    }
}

fn unexpected(operation: &str, reply: &Reply) -> Error {
    Error::Guest(format!("{operation} returned {reply:?}, not what its typed method reads"))
}
