//! Conversions between the wasmtime-generated WIT types and the plain Rust
//! session types the library exposes (shared with the guest crate).

use agent_sessions_guest::model::{self, DataField, SessionData, SessionMeta};
use agent_sessions_guest::timestamp::Timestamp;

use crate::bindings::wit_types as wit;
use crate::error::Error;

pub(crate) fn create_to_wit(input: model::SessionCreate) -> wit::SessionCreate {
    wit::SessionCreate {
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
    }
}

pub(crate) fn update_to_wit(changes: model::SessionUpdate) -> wit::SessionUpdate {
    wit::SessionUpdate {
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
        clear: changes.clear.into_iter().map(data_field_to_wit).collect(),
        expected_version: changes.expected_version,
    }
}

fn data_field_to_wit(field: DataField) -> wit::DataField {
    match field {
        DataField::PersonaId => wit::DataField::PersonaId,
        DataField::Name => wit::DataField::Name,
        DataField::Temperature => wit::DataField::Temperature,
        DataField::ReasoningEffort => wit::DataField::ReasoningEffort,
        DataField::MaxTokens => wit::DataField::MaxTokens,
        DataField::Tools => wit::DataField::Tools,
        DataField::CustomPrompt => wit::DataField::CustomPrompt,
        DataField::AgentInternalId => wit::DataField::AgentInternalId,
    }
}

/// A session from the guest. Its timestamps were formatted by the guest, so
/// a parse failure means a guest bug, reported as such.
pub(crate) fn session_from_wit(session: wit::Session) -> Result<model::Session, Error> {
    let time = |text: &str| {
        Timestamp::parse(text).map_err(|e| Error::Guest(format!("the component returned a bad timestamp: {e}")))
    };
    Ok(model::Session {
        meta: SessionMeta {
            created_at: time(&session.created_at)?,
            updated_at: time(&session.updated_at)?,
            last_activity: time(&session.last_activity)?,
            is_active: session.is_active,
            status: session.status,
            version: session.version,
        },
        data: SessionData {
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
        id: session.id,
        expires_in_seconds: session.expires_in_seconds,
    })
}

pub(crate) fn page_from_wit(page: wit::SessionPage) -> Result<model::SessionPage, Error> {
    Ok(model::SessionPage {
        sessions: page.sessions.into_iter().map(session_from_wit).collect::<Result<_, _>>()?,
        total: page.total,
        limit: page.limit,
        offset: page.offset,
        corrupt: page.corrupt.into_iter().map(corruption_from_wit).collect(),
    })
}

pub(crate) fn cleanup_report_from_wit(report: wit::CleanupReport) -> model::CleanupReport {
    model::CleanupReport {
        removed: report.removed,
        skipped: report.skipped,
        problems: report.problems.into_iter().map(corruption_from_wit).collect(),
    }
}

pub(crate) fn stats_to_wit(stats: model::SessionStats) -> wit::SessionStats {
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
        problems: stats
            .problems
            .into_iter()
            .map(|c| wit::Corruption { session_id: c.session_id, key: c.key, field: c.field, message: c.message })
            .collect(),
    }
}

pub(crate) fn stats_page_from_wit(page: wit::StatsPage) -> Result<model::StatsPage, Error> {
    let time = |text: Option<String>| -> Result<Option<Timestamp>, Error> {
        text.map(|text| {
            Timestamp::parse(&text).map_err(|e| Error::Guest(format!("the component returned a bad timestamp: {e}")))
        })
        .transpose()
    };
    let stats = page.stats;
    Ok(model::StatsPage {
        cursor: page.cursor,
        done: page.done,
        stats: model::SessionStats {
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
            problems: stats.problems.into_iter().map(corruption_from_wit).collect(),
        },
    })
}

pub(crate) fn export_page_from_wit(page: wit::ExportPage) -> model::ExportPage {
    let fields = |fields: Vec<wit::StoredField>| fields.into_iter().map(|f| (f.field, f.value)).collect();
    model::ExportPage {
        cursor: page.cursor,
        done: page.done,
        sessions: page
            .sessions
            .into_iter()
            .map(|s| model::StoredSession { id: s.id, data: fields(s.data), meta: fields(s.meta), ttl_ms: s.ttl_ms })
            .collect(),
    }
}

pub(crate) fn import_record_to_wit(record: model::ImportRecord) -> Result<wit::ImportRecord, Error> {
    let fields = |fields: Vec<(String, String)>| {
        fields.into_iter().map(|(field, value)| wit::StoredField { field, value }).collect()
    };
    Ok(match record {
        model::ImportRecord::Stored(s) => wit::ImportRecord::Stored(wit::StoredSession {
            id: s.id,
            data: fields(s.data),
            meta: fields(s.meta),
            ttl_ms: s.ttl_ms,
        }),
        model::ImportRecord::Typed(session) => wit::ImportRecord::Typed(session_to_wit(*session)),
        model::ImportRecord::Unreadable(message) => {
            return Err(Error::InvalidInput(format!("an unreadable record cannot be imported: {message}")));
        }
    })
}

fn session_to_wit(session: model::Session) -> wit::Session {
    let model::Session { id, data, meta, expires_in_seconds } = session;
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
        created_at: meta.created_at.to_string(),
        updated_at: meta.updated_at.to_string(),
        last_activity: meta.last_activity.to_string(),
        is_active: meta.is_active,
        status: meta.status,
        version: meta.version,
        expires_in_seconds,
    }
}

pub(crate) fn conflict_policy_to_wit(policy: model::ConflictPolicy) -> wit::ConflictPolicy {
    match policy {
        model::ConflictPolicy::Skip => wit::ConflictPolicy::Skip,
        model::ConflictPolicy::Overwrite => wit::ConflictPolicy::Overwrite,
        model::ConflictPolicy::Fail => wit::ConflictPolicy::Fail,
    }
}

pub(crate) fn import_report_from_wit(report: wit::ImportReport) -> model::ImportReport {
    model::ImportReport {
        imported: report.imported,
        overwritten: report.overwritten,
        skipped: report.skipped,
        rejected: report
            .rejected
            .into_iter()
            .map(|r| model::RejectedRecord { index: r.index, message: r.message })
            .collect(),
    }
}

pub(crate) fn migrate_page_from_wit(page: wit::MigratePage) -> model::MigratePage {
    model::MigratePage {
        cursor: page.cursor,
        done: page.done,
        examined: page.examined,
        indexed: page.indexed,
        hash_ttls_set: page.hash_ttls_set,
        schema_versions_set: page.schema_versions_set,
    }
}

fn corruption_from_wit(c: wit::Corruption) -> model::Corruption {
    model::Corruption { session_id: c.session_id, key: c.key, field: c.field, message: c.message }
}

pub(crate) fn error_from_wit(error: wit::SessionError) -> Error {
    match error {
        wit::SessionError::InvalidInput(message) => Error::InvalidInput(message),
        wit::SessionError::NotFound(id) => Error::NotFound(id),
        wit::SessionError::Conflict(message) => Error::Conflict(message),
        wit::SessionError::DataCorrupt(c) => Error::DataCorrupt(corruption_from_wit(c)),
        wit::SessionError::Backend(message) => Error::Backend(message),
    }
}
