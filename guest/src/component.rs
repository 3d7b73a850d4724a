//! The wit-bindgen layer: WIT calls in, [`Repository`] calls out, and the
//! imported `kv.execute` as the [`Storage`]. No rules live here: documents
//! cross as JSON of the `model` types, batches as the packed form of
//! `kv::wire`.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::SessionError;
use crate::environment::SystemEnvironment;
use crate::kv::{self, Storage, wire};
use crate::model::{self, ConflictPolicy, ImportRecord};
use crate::repository::Repository;
use crate::settings::Settings;

wit_bindgen::generate!({
    path: "../wit",
    world: "session-store",
});

use agent::sessions::config;
use agent::sessions::kv as wit_kv;
use agent::sessions::types as wit;
use exports::agent::sessions::repository::Guest;

struct Component;

export!(Component);

/// `kv.execute`, the component's only way to storage.
struct ImportedStorage;

impl Storage for ImportedStorage {
    fn execute(&mut self, batch: kv::Batch) -> std::result::Result<kv::BatchOutcome, kv::KvError> {
        let packed = wire::encode_batch(&batch)?;
        match wit_kv::execute(&packed.keys, &packed.batch) {
            Ok(reply) => wire::decode_reply(&batch, &reply),
            Err(failure) => Err(kv::KvError::new(kind_from_wit(failure.kind), failure.message)),
        }
    }

    fn execute_each(
        &mut self,
        batches: Vec<kv::Batch>,
    ) -> std::result::Result<Vec<std::result::Result<kv::BatchOutcome, kv::KvError>>, kv::KvError> {
        match batches.len() {
            0 => return Ok(Vec::new()),
            1 => return Ok(vec![self.execute(batches.into_iter().next().expect("one batch"))]),
            _ => {}
        }
        let separator = wire::BATCH_SEPARATOR.to_string();
        let packed = batches.iter().map(wire::encode_batch).collect::<std::result::Result<Vec<_>, _>>()?;
        let keys = packed.iter().map(|p| p.keys.as_str()).collect::<Vec<_>>().join(&separator);
        let texts = packed.iter().map(|p| p.batch.as_str()).collect::<Vec<_>>().join(&separator);
        let replies = match wit_kv::execute_each(&keys, &texts) {
            Ok(replies) => replies,
            Err(failure) => return Err(kv::KvError::new(kind_from_wit(failure.kind), failure.message)),
        };
        let replies: Vec<&str> = replies.split(wire::BATCH_SEPARATOR).collect();
        if replies.len() != batches.len() {
            return Err(kv::KvError::new(
                kv::ErrorKind::InvalidBatch,
                format!("kv.execute-each returned {} replies for {} batches", replies.len(), batches.len()),
            ));
        }
        Ok(batches.iter().zip(replies).map(|(batch, reply)| wire::decode_reply(batch, reply)).collect())
    }
}

type Result<T> = std::result::Result<T, wit::SessionError>;

/// A repository over the host's storage and settings, made per call so that
/// settings changes on the host take effect at once.
fn repository() -> Result<Repository<ImportedStorage, SystemEnvironment>> {
    let settings = config::get_settings();
    let settings = Settings {
        session_ttl_seconds: settings.session_ttl_seconds,
        grace_seconds: settings.grace_seconds,
        batch_size: settings.batch_size,
        shards: settings.shards,
    };
    Repository::new(ImportedStorage, SystemEnvironment, settings).map_err(error_to_wit)
}

/// A JSON parameter; one that does not read is invalid input.
fn parse<T: DeserializeOwned>(what: &str, json: &str) -> Result<T> {
    model::read_json(json).map_err(|e| wit::SessionError::InvalidInput(format!("{what}: {e}")))
}

/// An options document, where "" means all defaults.
fn parse_options<T: DeserializeOwned + Default>(what: &str, json: &str) -> Result<T> {
    if json.trim().is_empty() { Ok(T::default()) } else { parse(what, json) }
}

fn document<T: Serialize>(value: std::result::Result<T, SessionError>) -> Result<String> {
    let value = value.map_err(error_to_wit)?;
    // Serialising plain data with string keys cannot fail.
    serde_json::to_string(&value).map_err(|e| wit::SessionError::InvalidInput(format!("cannot write JSON: {e}")))
}

impl Guest for Component {
    fn create(input: String) -> Result<String> {
        let input = parse("session-create", &input)?;
        document(repository()?.create(input))
    }

    fn get(id: String) -> Result<String> {
        document(repository()?.get(&id))
    }

    fn update(id: String, changes: String) -> Result<String> {
        let changes = parse("session-update", &changes)?;
        document(repository()?.update(&id, changes))
    }

    fn delete(id: String) -> Result<bool> {
        repository()?.delete(&id).map_err(error_to_wit)
    }

    fn list(limit: u32, offset: u64, page_token: String) -> Result<String> {
        document(repository()?.list(limit, offset, &page_token))
    }

    fn extend_ttl(id: String) -> Result<bool> {
        repository()?.extend_ttl(&id).map_err(error_to_wit)
    }

    fn cleanup_expired() -> Result<String> {
        document(repository()?.cleanup_expired())
    }

    fn check_layout() -> Result<u32> {
        repository()?.check_layout().map_err(error_to_wit)
    }

    fn reindex() -> Result<u64> {
        repository()?.reindex().map_err(error_to_wit)
    }

    fn acquire_cleanup_lease(holder: String, ttl_ms: u64) -> Result<bool> {
        repository()?.acquire_cleanup_lease(&holder, ttl_ms).map_err(error_to_wit)
    }

    fn release_cleanup_lease(holder: String) -> Result<bool> {
        repository()?.release_cleanup_lease(&holder).map_err(error_to_wit)
    }

    fn export_sessions(cursor: String) -> Result<String> {
        document(repository()?.export_sessions(&cursor))
    }

    fn import_sessions(records: String, on_conflict: wit::ConflictPolicy, dry_run: bool) -> Result<String> {
        let records: Vec<ImportRecord> = parse("import records", &records)?;
        let policy = match on_conflict {
            wit::ConflictPolicy::Skip => ConflictPolicy::Skip,
            wit::ConflictPolicy::Overwrite => ConflictPolicy::Overwrite,
            wit::ConflictPolicy::Fail => ConflictPolicy::Fail,
        };
        document(repository()?.import_sessions(records, policy, dry_run))
    }

    fn migrate(cursor: String, dry_run: bool) -> Result<String> {
        document(repository()?.migrate(&cursor, dry_run))
    }

    fn append_items(id: String, request: String) -> Result<String> {
        let request = parse("items-append", &request)?;
        document(repository()?.append_items(&id, request))
    }

    fn get_items(id: String, query: String) -> Result<String> {
        let query = parse_options("items-query", &query)?;
        let page = repository()?.get_items(&id, query).map_err(error_to_wit)?;
        // A whole read may hold 16 MiB of items: write it into a buffer of
        // about its size, not one that doubles past it (guest memory is
        // bounded).
        let size: usize = page.items.iter().map(|item| item.get().len() + 1).sum();
        let mut json = Vec::with_capacity(size + 64 * 1024);
        serde_json::to_writer(&mut json, &page)
            .map_err(|e| wit::SessionError::InvalidInput(format!("cannot write JSON: {e}")))?;
        // serde_json writes UTF-8.
        String::from_utf8(json).map_err(|e| wit::SessionError::InvalidInput(format!("cannot write JSON: {e}")))
    }

    fn pop_item(id: String, options: String) -> Result<String> {
        let options = parse_options("item-options", &options)?;
        document(repository()?.pop_item(&id, options))
    }

    fn clear_items(id: String, options: String) -> Result<String> {
        let options = parse_options("item-options", &options)?;
        document(repository()?.clear_items(&id, options))
    }

    fn list_by_owner(app_name: String, user_id: String, limit: u32, page_token: String) -> Result<String> {
        document(repository()?.list_by_owner(&app_name, &user_id, limit, &page_token))
    }

    fn delete_with(id: String, options: String) -> Result<bool> {
        let options = parse_options("item-options", &options)?;
        repository()?.delete_with(&id, options).map_err(error_to_wit)
    }

    fn stats(cursor: String, so_far: String) -> Result<String> {
        let so_far: model::SessionStats = if so_far.is_empty() { Default::default() } else { parse("stats", &so_far)? };
        document(repository()?.stats_page(&cursor, so_far))
    }
}

fn kind_from_wit(kind: wit::StorageErrorKind) -> kv::ErrorKind {
    match kind {
        wit::StorageErrorKind::Unavailable => kv::ErrorKind::Unavailable,
        wit::StorageErrorKind::Timeout => kv::ErrorKind::Timeout,
        wit::StorageErrorKind::WrongType => kv::ErrorKind::WrongType,
        wit::StorageErrorKind::InvalidBatch => kv::ErrorKind::InvalidBatch,
        wit::StorageErrorKind::Other => kv::ErrorKind::Other,
    }
}

fn kind_to_wit(kind: kv::ErrorKind) -> wit::StorageErrorKind {
    match kind {
        kv::ErrorKind::Unavailable => wit::StorageErrorKind::Unavailable,
        kv::ErrorKind::Timeout => wit::StorageErrorKind::Timeout,
        kv::ErrorKind::WrongType => wit::StorageErrorKind::WrongType,
        kv::ErrorKind::InvalidBatch => wit::StorageErrorKind::InvalidBatch,
        kv::ErrorKind::Other => wit::StorageErrorKind::Other,
    }
}

fn error_to_wit(error: SessionError) -> wit::SessionError {
    match error {
        SessionError::InvalidInput(message) => wit::SessionError::InvalidInput(message),
        SessionError::NotFound(id) => wit::SessionError::NotFound(id),
        SessionError::Conflict(message) => wit::SessionError::Conflict(message),
        SessionError::DataCorrupt(c) => {
            wit::SessionError::DataCorrupt(serde_json::to_string(&c).unwrap_or_else(|_| "{}".into()))
        }
        SessionError::Backend { kind, message } => {
            wit::SessionError::Backend(wit::StorageFailure { kind: kind_to_wit(kind), message })
        }
    }
}
