//! The wit-bindgen layer: WIT calls in, [`Repository`] calls out, and the
//! imported `kv.execute` as the [`Storage`]. No rules live here; only type
//! conversions.

use crate::SessionError;
use crate::environment::SystemEnvironment;
use crate::kv::{self, Storage};
use crate::model::{self, DataField};
use crate::repository::Repository;
use crate::settings::Settings;
use crate::timestamp::Timestamp;

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
    fn execute(&mut self, batch: kv::Batch) -> Result<kv::BatchOutcome, kv::KvError> {
        let batch = wit_kv::Batch {
            conditions: batch.conditions.into_iter().map(condition_to_wit).collect(),
            ops: batch.ops.into_iter().map(op_to_wit).collect(),
        };
        match wit_kv::execute(&batch) {
            Ok(wit_kv::BatchOutcome::Applied(replies)) => {
                Ok(kv::BatchOutcome::Applied(replies.into_iter().map(reply_from_wit).collect()))
            }
            Ok(wit_kv::BatchOutcome::ConditionFailed(failure)) => {
                Ok(kv::BatchOutcome::ConditionFailed { index: failure.index, actual: failure.actual })
            }
            Err(error) => Err(kv::KvError {
                kind: match error.kind {
                    wit_kv::ErrorKind::Unavailable => kv::ErrorKind::Unavailable,
                    wit_kv::ErrorKind::Timeout => kv::ErrorKind::Timeout,
                    wit_kv::ErrorKind::WrongType => kv::ErrorKind::WrongType,
                    wit_kv::ErrorKind::InvalidBatch => kv::ErrorKind::InvalidBatch,
                    wit_kv::ErrorKind::Other => kv::ErrorKind::Other,
                },
                key: error.key,
                message: error.message,
            }),
        }
    }
}

/// A repository over the host's storage and settings, made per call so that
/// settings changes on the host take effect at once.
fn repository() -> Result<Repository<ImportedStorage, SystemEnvironment>, wit::SessionError> {
    let settings = config::get_settings();
    let settings = Settings {
        session_ttl_seconds: settings.session_ttl_seconds,
        grace_seconds: settings.grace_seconds,
        batch_size: settings.batch_size,
    };
    Repository::new(ImportedStorage, SystemEnvironment, settings).map_err(error_to_wit)
}

impl Guest for Component {
    fn create(input: wit::SessionCreate) -> Result<wit::Session, wit::SessionError> {
        let input = model::SessionCreate {
            model_id: input.model_id,
            persona_id: input.persona_id,
            name: input.name,
            temperature: input.temperature,
            reasoning_effort: input.reasoning_effort,
            max_tokens: input.max_tokens,
            tools: input.tools,
            custom_prompt: input.custom_prompt,
            agent_internal_id: input.agent_internal_id,
            status: input.status,
        };
        repository()?.create(input).map(session_to_wit).map_err(error_to_wit)
    }

    fn get(id: String) -> Result<wit::Session, wit::SessionError> {
        repository()?.get(&id).map(session_to_wit).map_err(error_to_wit)
    }

    fn update(id: String, changes: wit::SessionUpdate) -> Result<wit::Session, wit::SessionError> {
        let changes = model::SessionUpdate {
            model_id: changes.model_id,
            persona_id: changes.persona_id,
            name: changes.name,
            temperature: changes.temperature,
            reasoning_effort: changes.reasoning_effort,
            max_tokens: changes.max_tokens,
            tools: changes.tools,
            custom_prompt: changes.custom_prompt,
            agent_internal_id: changes.agent_internal_id,
            status: changes.status,
            clear: changes.clear.into_iter().map(data_field_from_wit).collect(),
            expected_version: changes.expected_version,
        };
        repository()?.update(&id, changes).map(session_to_wit).map_err(error_to_wit)
    }

    fn delete(id: String) -> Result<bool, wit::SessionError> {
        repository()?.delete(&id).map_err(error_to_wit)
    }

    fn list(limit: u32, offset: u64) -> Result<wit::SessionPage, wit::SessionError> {
        let page = repository()?.list(limit, offset).map_err(error_to_wit)?;
        Ok(wit::SessionPage {
            sessions: page.sessions.into_iter().map(session_to_wit).collect(),
            total: page.total,
            limit: page.limit,
            offset: page.offset,
            corrupt: page.corrupt.into_iter().map(corruption_to_wit).collect(),
        })
    }

    fn extend_ttl(id: String) -> Result<bool, wit::SessionError> {
        repository()?.extend_ttl(&id).map_err(error_to_wit)
    }

    fn cleanup_expired() -> Result<wit::CleanupReport, wit::SessionError> {
        let report = repository()?.cleanup_expired().map_err(error_to_wit)?;
        Ok(wit::CleanupReport {
            removed: report.removed,
            skipped: report.skipped,
            problems: report.problems.into_iter().map(corruption_to_wit).collect(),
        })
    }

    fn reindex() -> Result<u64, wit::SessionError> {
        repository()?.reindex().map_err(error_to_wit)
    }

    fn acquire_cleanup_lease(holder: String, ttl_ms: u64) -> Result<bool, wit::SessionError> {
        repository()?.acquire_cleanup_lease(&holder, ttl_ms).map_err(error_to_wit)
    }

    fn release_cleanup_lease(holder: String) -> Result<bool, wit::SessionError> {
        repository()?.release_cleanup_lease(&holder).map_err(error_to_wit)
    }

    fn export_sessions(cursor: String) -> Result<wit::ExportPage, wit::SessionError> {
        let page = repository()?.export_sessions(&cursor).map_err(error_to_wit)?;
        Ok(wit::ExportPage {
            cursor: page.cursor,
            done: page.done,
            sessions: page.sessions.into_iter().map(stored_to_wit).collect(),
        })
    }

    fn import_sessions(
        records: Vec<wit::ImportRecord>,
        on_conflict: wit::ConflictPolicy,
        dry_run: bool,
    ) -> Result<wit::ImportReport, wit::SessionError> {
        let records = records
            .into_iter()
            .map(|record| match record {
                wit::ImportRecord::Stored(stored) => model::ImportRecord::Stored(model::StoredSession {
                    id: stored.id,
                    data: stored.data.into_iter().map(|f| (f.field, f.value)).collect(),
                    meta: stored.meta.into_iter().map(|f| (f.field, f.value)).collect(),
                    ttl_ms: stored.ttl_ms,
                }),
                wit::ImportRecord::Typed(session) => match session_from_wit(session) {
                    Ok(session) => model::ImportRecord::Typed(Box::new(session)),
                    Err(message) => model::ImportRecord::Unreadable(message),
                },
            })
            .collect();
        let policy = match on_conflict {
            wit::ConflictPolicy::Skip => model::ConflictPolicy::Skip,
            wit::ConflictPolicy::Overwrite => model::ConflictPolicy::Overwrite,
            wit::ConflictPolicy::Fail => model::ConflictPolicy::Fail,
        };
        let report = repository()?.import_sessions(records, policy, dry_run).map_err(error_to_wit)?;
        Ok(wit::ImportReport {
            imported: report.imported,
            overwritten: report.overwritten,
            skipped: report.skipped,
            rejected: report
                .rejected
                .into_iter()
                .map(|r| wit::RejectedRecord { index: r.index, message: r.message })
                .collect(),
        })
    }

    fn migrate(cursor: String, dry_run: bool) -> Result<wit::MigratePage, wit::SessionError> {
        let page = repository()?.migrate(&cursor, dry_run).map_err(error_to_wit)?;
        Ok(wit::MigratePage {
            cursor: page.cursor,
            done: page.done,
            examined: page.examined,
            indexed: page.indexed,
            hash_ttls_set: page.hash_ttls_set,
            schema_versions_set: page.schema_versions_set,
        })
    }

    fn stats(cursor: String, so_far: wit::SessionStats) -> Result<wit::StatsPage, wit::SessionError> {
        let so_far = stats_from_wit(so_far)?;
        let page = repository()?.stats_page(&cursor, so_far).map_err(error_to_wit)?;
        Ok(wit::StatsPage { cursor: page.cursor, done: page.done, stats: stats_to_wit(page.stats) })
    }
}

fn stored_to_wit(stored: model::StoredSession) -> wit::StoredSession {
    let fields = |fields: Vec<(String, String)>| {
        fields.into_iter().map(|(field, value)| wit::StoredField { field, value }).collect()
    };
    wit::StoredSession { id: stored.id, data: fields(stored.data), meta: fields(stored.meta), ttl_ms: stored.ttl_ms }
}

/// A typed session from a host; timestamps that do not parse make it unreadable.
fn session_from_wit(session: wit::Session) -> Result<model::Session, String> {
    let time = |name: &str, text: &str| Timestamp::parse(text).map_err(|e| format!("{name}: {e}"));
    Ok(model::Session {
        data: model::SessionData {
            model_id: session.model_id,
            persona_id: session.persona_id,
            name: session.name,
            temperature: session.temperature,
            reasoning_effort: session.reasoning_effort,
            max_tokens: session.max_tokens,
            tools: session.tools,
            custom_prompt: session.custom_prompt,
            agent_internal_id: session.agent_internal_id,
        },
        meta: model::SessionMeta {
            created_at: time("created_at", &session.created_at)?,
            updated_at: time("updated_at", &session.updated_at)?,
            last_activity: time("last_activity", &session.last_activity)?,
            is_active: session.is_active,
            status: session.status,
            version: session.version,
        },
        id: session.id,
        expires_in_seconds: session.expires_in_seconds,
    })
}

fn stats_from_wit(stats: wit::SessionStats) -> Result<model::SessionStats, wit::SessionError> {
    let time = |text: Option<String>| match text {
        None => Ok(None),
        Some(text) => Timestamp::parse(&text)
            .map(Some)
            .map_err(|e| wit::SessionError::InvalidInput(format!("so-far stats hold a bad timestamp: {e}"))),
    };
    Ok(model::SessionStats {
        sessions: stats.sessions,
        active: stats.active,
        inactive: stats.inactive,
        by_status: stats.by_status.into_iter().map(|s| (s.status, s.count)).collect(),
        ttl_buckets: stats
            .ttl_buckets
            .into_iter()
            .map(|b| model::TtlBucket { up_to_seconds: b.up_to_seconds, count: b.count })
            .collect(),
        oldest_session_id: stats.oldest_session_id,
        oldest_created_at: time(stats.oldest_created_at)?,
        newest_session_id: stats.newest_session_id,
        newest_created_at: time(stats.newest_created_at)?,
        expired_awaiting_cleanup: stats.expired_awaiting_cleanup,
        members_without_keys: stats.members_without_keys,
        keys_without_members: stats.keys_without_members,
        keys_without_ttl: stats.keys_without_ttl,
        set_size: stats.set_size,
        index_size: stats.index_size,
        problems: stats
            .problems
            .into_iter()
            .map(|c| model::Corruption { session_id: c.session_id, key: c.key, field: c.field, message: c.message })
            .collect(),
    })
}

fn stats_to_wit(stats: model::SessionStats) -> wit::SessionStats {
    wit::SessionStats {
        sessions: stats.sessions,
        active: stats.active,
        inactive: stats.inactive,
        by_status: stats.by_status.into_iter().map(|(status, count)| wit::StatusCount { status, count }).collect(),
        ttl_buckets: stats
            .ttl_buckets
            .into_iter()
            .map(|b| wit::TtlBucket { up_to_seconds: b.up_to_seconds, count: b.count })
            .collect(),
        oldest_session_id: stats.oldest_session_id,
        oldest_created_at: stats.oldest_created_at.map(|t| t.to_string()),
        newest_session_id: stats.newest_session_id,
        newest_created_at: stats.newest_created_at.map(|t| t.to_string()),
        expired_awaiting_cleanup: stats.expired_awaiting_cleanup,
        members_without_keys: stats.members_without_keys,
        keys_without_members: stats.keys_without_members,
        keys_without_ttl: stats.keys_without_ttl,
        set_size: stats.set_size,
        index_size: stats.index_size,
        problems: stats.problems.into_iter().map(corruption_to_wit).collect(),
    }
}

fn data_field_from_wit(field: wit::DataField) -> DataField {
    match field {
        wit::DataField::PersonaId => DataField::PersonaId,
        wit::DataField::Name => DataField::Name,
        wit::DataField::Temperature => DataField::Temperature,
        wit::DataField::ReasoningEffort => DataField::ReasoningEffort,
        wit::DataField::MaxTokens => DataField::MaxTokens,
        wit::DataField::Tools => DataField::Tools,
        wit::DataField::CustomPrompt => DataField::CustomPrompt,
        wit::DataField::AgentInternalId => DataField::AgentInternalId,
    }
}

fn session_to_wit(session: model::Session) -> wit::Session {
    let model::Session { id, data, meta, expires_in_seconds } = session;
    let time = |t: Timestamp| t.to_string();
    wit::Session {
        id,
        model_id: data.model_id,
        persona_id: data.persona_id,
        name: data.name,
        temperature: data.temperature,
        reasoning_effort: data.reasoning_effort,
        max_tokens: data.max_tokens,
        tools: data.tools,
        custom_prompt: data.custom_prompt,
        agent_internal_id: data.agent_internal_id,
        created_at: time(meta.created_at),
        updated_at: time(meta.updated_at),
        last_activity: time(meta.last_activity),
        is_active: meta.is_active,
        status: meta.status,
        version: meta.version,
        expires_in_seconds,
    }
}

fn corruption_to_wit(c: model::Corruption) -> wit::Corruption {
    wit::Corruption { session_id: c.session_id, key: c.key, field: c.field, message: c.message }
}

fn error_to_wit(error: SessionError) -> wit::SessionError {
    match error {
        SessionError::InvalidInput(message) => wit::SessionError::InvalidInput(message),
        SessionError::NotFound(id) => wit::SessionError::NotFound(id),
        SessionError::Conflict(message) => wit::SessionError::Conflict(message),
        SessionError::DataCorrupt(c) => wit::SessionError::DataCorrupt(corruption_to_wit(c)),
        SessionError::Backend(message) => wit::SessionError::Backend(message),
    }
}

fn condition_to_wit(condition: kv::Condition) -> wit_kv::Condition {
    match condition {
        kv::Condition::KeyExists(key) => wit_kv::Condition::KeyExists(key),
        kv::Condition::KeyMissing(key) => wit_kv::Condition::KeyMissing(key),
        kv::Condition::FieldEquals { key, field, value } => {
            wit_kv::Condition::FieldEquals(wit_kv::HashFieldValue { key, field, value })
        }
        kv::Condition::FieldMissing { key, field } => wit_kv::Condition::FieldMissing(wit_kv::HashField { key, field }),
    }
}

fn members(key: String, members: Vec<String>) -> wit_kv::Members {
    wit_kv::Members { key, members }
}

fn scan(request: kv::ScanRequest) -> wit_kv::ScanRequest {
    wit_kv::ScanRequest { key: request.key, cursor: request.cursor, count: request.count }
}

fn op_to_wit(op: kv::Op) -> wit_kv::Op {
    use wit_kv::Op as W;
    match op {
        kv::Op::HashGetAll(key) => W::HashGetAll(key),
        kv::Op::HashGet { key, field } => W::HashGet(wit_kv::HashField { key, field }),
        kv::Op::HashGetFields { key, fields } => W::HashGetFields(wit_kv::HashFields { key, fields }),
        kv::Op::HashSet { key, fields } => W::HashSet(wit_kv::HashWrite {
            key,
            fields: fields.into_iter().map(|(field, value)| wit_kv::FieldValue { field, value }).collect(),
        }),
        kv::Op::HashIncrement { key, field, delta } => W::HashIncrement(wit_kv::HashIncrement { key, field, delta }),
        kv::Op::StringSet { key, value, ttl_ms } => W::StringSet(wit_kv::StringWrite { key, value, ttl_ms }),
        kv::Op::Exists(key) => W::Exists(key),
        kv::Op::TtlMs(key) => W::TtlMs(key),
        kv::Op::Expire { key, ttl_ms } => W::Expire(wit_kv::KeyExpiry { key, ttl_ms }),
        kv::Op::Delete(key) => W::Delete(key),
        kv::Op::SetAdd { key, members: m } => W::SetAdd(members(key, m)),
        kv::Op::SetRemove { key, members: m } => W::SetRemove(members(key, m)),
        kv::Op::SetSize(key) => W::SetSize(key),
        kv::Op::SetScan(request) => W::SetScan(scan(request)),
        kv::Op::SortedAdd { key, members } => W::SortedAdd(wit_kv::ScoredMembers {
            key,
            members: members.into_iter().map(|(score, member)| wit_kv::ScoredMember { score, member }).collect(),
        }),
        kv::Op::SortedRemove { key, members: m } => W::SortedRemove(members(key, m)),
        kv::Op::SortedSize(key) => W::SortedSize(key),
        kv::Op::SortedScore { key, member } => W::SortedScore(wit_kv::MemberOf { key, member }),
        kv::Op::SortedRangeDesc { key, start, stop } => W::SortedRangeDesc(wit_kv::RankRange { key, start, stop }),
        kv::Op::SortedScan(request) => W::SortedScan(scan(request)),
        kv::Op::SetContains { key, member } => W::SetContains(wit_kv::MemberOf { key, member }),
        kv::Op::KeyScan(request) => W::KeyScan(wit_kv::KeyScanRequest {
            pattern: request.pattern,
            cursor: request.cursor,
            count: request.count,
        }),
    }
}

fn reply_from_wit(reply: wit_kv::Reply) -> kv::Reply {
    match reply {
        wit_kv::Reply::Integer(value) => kv::Reply::Integer(value),
        wit_kv::Reply::Text(value) => kv::Reply::Text(value),
        wit_kv::Reply::Texts(values) => kv::Reply::Texts(values),
        wit_kv::Reply::Fields(fields) => {
            kv::Reply::Fields(fields.into_iter().map(|pair| (pair.field, pair.value)).collect())
        }
        wit_kv::Reply::Values(values) => kv::Reply::Values(values),
        wit_kv::Reply::Scan(page) => kv::Reply::Scan(kv::ScanPage { cursor: page.cursor, members: page.members }),
    }
}
