//! `update`: one atomic batch that applies the changes, bumps the version and
//! timestamps, resets every TTL and reads the result back, only while the
//! session is alive (so it can never bring back an expired or deleted one).

use crate::encoding::{
    CURRENT_SCHEMA_VERSION, data_field as d, encode_bool, encode_optional_float, encode_optional_integer,
    encode_optional_text, encode_tools, meta_field as m,
};
use crate::environment::Environment;
use crate::error::SessionError;
use crate::kv::{Batch, BatchOutcome, Condition, Op, Replies, Storage};
use crate::model::{Corruption, Session, SessionUpdate};
use crate::repository::{Repository, decode_session_reads, parse_id, session_reads};
use crate::validation::{ValidUpdate, validate_update};

// Indices of the conditions, to explain which one failed.
const SESSION_ALIVE: u32 = 0;
const DATA_PRESENT: u32 = 1;
const META_PRESENT: u32 = 2;
const VERSION_MATCHES: u32 = 3;

impl<S: Storage, E: Environment> Repository<S, E> {
    pub fn update(&mut self, id: &str, changes: SessionUpdate) -> Result<Session, SessionError> {
        let layout = self.settings.layout();
        let id = parse_id(id)?;
        let valid = validate_update(changes).map_err(SessionError::InvalidInput)?;
        let id_text = id.to_string();
        let keys = layout.session_keys(&id);
        let now = self.env.now().to_string();

        let mut conditions = vec![
            Condition::KeyExists(keys.expiry.clone()),
            Condition::KeyExists(keys.data.clone()),
            Condition::KeyExists(keys.meta.clone()),
        ];
        match valid.expected_version {
            Some(0) => conditions.push(Condition::FieldMissing { key: keys.meta.clone(), field: m::VERSION.into() }),
            Some(version) => conditions.push(Condition::FieldEquals {
                key: keys.meta.clone(),
                field: m::VERSION.into(),
                value: version.to_string(),
            }),
            None => {}
        }

        let mut meta_fields = vec![
            (m::UPDATED_AT.to_owned(), now.clone()),
            (m::LAST_ACTIVITY.to_owned(), now),
            (m::SCHEMA_VERSION.to_owned(), CURRENT_SCHEMA_VERSION.to_owned()),
        ];
        if let Some((status, is_active)) = &valid.status {
            meta_fields.push((m::STATUS.into(), status.clone()));
            meta_fields.push((m::IS_ACTIVE.into(), encode_bool(*is_active).into()));
        }

        let mut ops = Vec::with_capacity(10);
        let data_fields = data_changes(&valid);
        if !data_fields.is_empty() {
            ops.push(Op::HashSet { key: keys.data.clone(), fields: data_fields });
        }
        ops.extend([
            Op::HashSet { key: keys.meta.clone(), fields: meta_fields },
            Op::HashIncrement { key: keys.meta.clone(), field: m::VERSION.into(), delta: 1 },
            Op::Expire { key: keys.data.clone(), ttl_ms: self.settings.hash_ttl_ms() },
            Op::Expire { key: keys.meta.clone(), ttl_ms: self.settings.hash_ttl_ms() },
            Op::Expire { key: keys.expiry.clone(), ttl_ms: self.settings.session_ttl_ms() },
        ]);
        let writes = ops.len();
        ops.extend(session_reads(&keys));

        match self.execute(Batch { conditions, ops }, &id_text)? {
            BatchOutcome::Applied(replies) => {
                let mut replies = Replies::new(replies);
                for _ in 0..writes {
                    replies.next_reply()?;
                }
                match decode_session_reads(&id, &keys, &mut replies)? {
                    Some(session) => Ok(session),
                    // The batch checked the expiry key first; reaching this
                    // means storage broke atomicity.
                    None => Err(SessionError::backend(format!("session {id_text} vanished inside an atomic update"))),
                }
            }
            BatchOutcome::ConditionFailed { index, actual } => Err(match index {
                SESSION_ALIVE => SessionError::NotFound(id_text),
                DATA_PRESENT | META_PRESENT => {
                    let key = if index == DATA_PRESENT { keys.data } else { keys.meta };
                    SessionError::DataCorrupt(Corruption {
                        session_id: id_text,
                        key,
                        field: String::new(),
                        message: "the hash is missing while the session's expiry key exists".into(),
                    })
                }
                VERSION_MATCHES => SessionError::Conflict(format!(
                    "session {id_text} is at version {}, not the expected {}",
                    actual.as_deref().unwrap_or("0"),
                    valid.expected_version.unwrap_or(0),
                )),
                other => SessionError::backend(format!("storage reported unknown condition {other} failed")),
            }),
        }
    }
}

/// The data hash fields this update writes.
fn data_changes(valid: &ValidUpdate) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    let mut push = |name: &str, value: Option<String>| {
        if let Some(value) = value {
            fields.push((name.to_owned(), value));
        }
    };
    push(d::MODEL_ID, valid.model_id.clone());
    push(d::PERSONA_ID, valid.persona_id.as_ref().map(encode_optional_text));
    push(d::NAME, valid.name.as_ref().map(encode_optional_text));
    push(d::TEMPERATURE, valid.temperature.map(encode_optional_float));
    push(d::REASONING_EFFORT, valid.reasoning_effort.map(encode_optional_integer));
    push(d::MAX_TOKENS, valid.max_tokens.map(encode_optional_integer));
    push(d::TOOLS, valid.tools.as_deref().map(encode_tools));
    push(d::CUSTOM_PROMPT, valid.custom_prompt.as_ref().map(encode_optional_text));
    push(d::AGENT_INTERNAL_ID, valid.agent_internal_id.as_ref().map(encode_optional_text));
    fields
}
