//! The `kv` and `config` WIT imports, for the per-call host state: the
//! packed batch goes to [`KvStore::execute_packed`](super::KvStore) as it is.

use agent_sessions_guest::kv::ErrorKind;

use crate::bindings::{WitSettings, agent, wit_kv as w, wit_types};
use crate::runtime::HostState;

impl agent::sessions::types::Host for HostState {}

impl agent::sessions::config::Host for HostState {
    fn get_settings(&mut self) -> wasmtime::Result<WitSettings> {
        self.computing_since = std::time::Instant::now();
        Ok(WitSettings {
            session_ttl_seconds: self.settings.session_ttl_seconds,
            grace_seconds: self.settings.grace_seconds,
            batch_size: self.settings.batch_size,
            shards: self.settings.shards,
        })
    }
}

impl w::Host for HostState {
    async fn execute(
        &mut self,
        keys: String,
        batch: String,
    ) -> wasmtime::Result<Result<String, wit_types::StorageFailure>> {
        self.round_trips += 1;
        let outcome = self.kv.execute_packed_noting(&keys, &batch).await;
        Ok(self.finish(outcome))
    }

    async fn execute_each(
        &mut self,
        keys: String,
        batches: String,
    ) -> wasmtime::Result<Result<String, wit_types::StorageFailure>> {
        self.round_trips += batches.matches(agent_sessions_guest::kv::wire::BATCH_SEPARATOR).count() as u64 + 1;
        let outcome = self.kv.execute_each_packed(&keys, &batches).await;
        Ok(self.finish(outcome))
    }
}

impl HostState {
    /// What the guest gets back from storage.
    fn finish(
        &mut self,
        outcome: Result<crate::kv::redis::Executed, agent_sessions_guest::kv::KvError>,
    ) -> Result<String, wit_types::StorageFailure> {
        // Time waiting for storage is not the guest's CPU time.
        self.computing_since = std::time::Instant::now();
        outcome
            .map(|executed| {
                // The write stands; the call's result becomes the error.
                if executed.not_replicated.is_some() {
                    self.not_replicated = executed.not_replicated;
                }
                executed.reply
            })
            .map_err(|error| wit_types::StorageFailure { kind: kind_to_wit(error.kind), message: error.message })
    }
}

pub(crate) fn kind_to_wit(kind: ErrorKind) -> wit_types::StorageErrorKind {
    use wit_types::StorageErrorKind as W;
    match kind {
        ErrorKind::Unavailable => W::Unavailable,
        ErrorKind::Timeout => W::Timeout,
        ErrorKind::WrongType => W::WrongType,
        ErrorKind::InvalidBatch => W::InvalidBatch,
        ErrorKind::Other => W::Other,
    }
}
