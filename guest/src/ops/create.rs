//! `create`: one atomic batch that writes every key of a new session and
//! never overwrites a live one.
//!
//! A generated id (UUID v4) must find none of the session's keys; a
//! collision, practically impossible, draws another id. A caller-chosen id
//! gets one attempt: it must find no expiry key (a live session with that id
//! is a conflict), and the batch first deletes the data and meta hashes, the
//! leftovers of an expired session with that id, so the new session never
//! inherits them. A concurrent cleanup cannot remove the new session: its
//! delete is guarded by the expiry key's absence.

use std::collections::BTreeMap;

use serde_json::value::RawValue;

use crate::conversation::{Owner, StateMap, split_state, validate_owner};
use crate::encoding::{encode_data, encode_meta, meta_field as m};
use crate::environment::Environment;
use crate::error::SessionError;
use crate::id::SessionId;
use crate::kv::{Batch, BatchOutcome, Condition, Op, Storage};
use crate::model::{Session, SessionCreate, SessionMeta};
use crate::ops::items::state_ops;
use crate::repository::Repository;
use crate::validation::validate_create;

/// A fresh v4 id colliding with a stored one is practically impossible; if
/// the random source is broken, give up after a few tries instead of looping.
const ID_ATTEMPTS: usize = 3;

impl<S: Storage, E: Environment> Repository<S, E> {
    pub fn create(&mut self, mut input: SessionCreate) -> Result<Session, SessionError> {
        let layout = self.settings.layout();
        let owner = match (input.app_name.take(), input.user_id.take()) {
            (None, None) => None,
            (Some(app_name), Some(user_id)) => {
                let owner = Owner { app_name, user_id };
                validate_owner(&owner).map_err(SessionError::InvalidInput)?;
                Some(owner)
            }
            _ => return Err(SessionError::InvalidInput("give both app_name and user_id, or neither".into())),
        };
        let state = raw_state(input.state.take().unwrap_or_default())?;
        let split = split_state(&state, owner.is_some(), "state").map_err(SessionError::InvalidInput)?;
        let valid = validate_create(input).map_err(SessionError::InvalidInput)?;
        let now = self.env.now();
        let meta = SessionMeta {
            created_at: now,
            updated_at: now,
            last_activity: now,
            is_active: valid.is_active,
            status: valid.status,
            version: 1,
            app_name: owner.as_ref().map(|o| o.app_name.clone()),
            user_id: owner.as_ref().map(|o| o.user_id.clone()),
        };
        let data_fields = encode_data(&valid.data);
        let mut meta_fields = encode_meta(&meta);
        if owner.is_some() {
            meta_fields.push((m::UPDATED_AT_MS.into(), now.unix_millis().to_string()));
        }
        let hash_ttl_ms = self.settings.hash_ttl_ms();
        let session_ttl_ms = self.settings.session_ttl_ms();

        // The batch for `id`: its conditions, then (for a caller's id) the
        // deletes of leftovers, then the writes.
        let batch_for = |id: &SessionId, chosen: bool| {
            let id_text = id.to_string();
            let keys = layout.session_keys(id);
            let (conditions, mut ops) = if chosen {
                (
                    vec![Condition::KeyMissing(keys.expiry.clone())],
                    vec![
                        Op::Delete(keys.data.clone()),
                        Op::Delete(keys.meta.clone()),
                        Op::Delete(keys.items.clone()),
                        Op::Delete(keys.state.clone()),
                    ],
                )
            } else {
                (
                    vec![
                        Condition::KeyMissing(keys.expiry.clone()),
                        Condition::KeyMissing(keys.data.clone()),
                        Condition::KeyMissing(keys.meta.clone()),
                    ],
                    Vec::new(),
                )
            };
            ops.extend([
                Op::HashSet { key: keys.data.clone(), fields: data_fields.clone() },
                Op::Expire { key: keys.data.clone(), ttl_ms: hash_ttl_ms },
                Op::HashSet { key: keys.meta.clone(), fields: meta_fields.clone() },
                Op::Expire { key: keys.meta.clone(), ttl_ms: hash_ttl_ms },
                Op::StringSet { key: keys.expiry.clone(), value: String::new(), ttl_ms: Some(session_ttl_ms) },
                Op::SetAdd { key: keys.active.clone(), members: vec![id_text.clone()] },
                Op::SortedAdd { key: keys.index.clone(), members: vec![(now.unix_millis() as f64, id_text.clone())] },
            ]);
            ops.extend(state_ops(layout, &keys, owner.as_ref(), &split, true));
            if !split.session.is_empty() {
                ops.push(Op::Expire { key: keys.state.clone(), ttl_ms: hash_ttl_ms });
            }
            if let Some(owner) = &owner {
                let owner_keys = layout.owner_keys(id, owner);
                let score = now.unix_millis() as f64;
                ops.push(Op::SortedAdd { key: owner_keys.user_index, members: vec![(score, id_text.clone())] });
                ops.push(Op::SortedAdd { key: owner_keys.app_index, members: vec![(score, id_text)] });
            }
            Batch { conditions, ops }
        };

        let attempts = if valid.id.is_some() { 1 } else { ID_ATTEMPTS };
        for _ in 0..attempts {
            let (id, chosen) = match &valid.id {
                Some(id) => (id.clone(), true),
                None => (SessionId::from_random_bytes(self.env.random_bytes()), false),
            };
            let id_text = id.to_string();
            match self.execute(batch_for(&id, chosen), &id_text)? {
                BatchOutcome::Applied(_) => {
                    self.apply_shared_state(layout, owner.as_ref(), &split, &id_text, 1)?;
                    return Ok(Session {
                        id: id_text,
                        data: valid.data,
                        meta,
                        expires_in_seconds: Some(self.settings.session_ttl_seconds),
                    });
                }
                BatchOutcome::ConditionFailed { .. } if chosen => {
                    return Err(SessionError::Conflict(format!("session {id_text} already exists")));
                }
                BatchOutcome::ConditionFailed { .. } => continue,
            }
        }
        Err(SessionError::Conflict(format!(
            "{ID_ATTEMPTS} freshly generated session ids were all taken; the host's random source looks broken"
        )))
    }
}

/// Initial state values as JSON texts.
fn raw_state(state: BTreeMap<String, serde_json::Value>) -> Result<StateMap, SessionError> {
    state
        .into_iter()
        .map(|(key, value)| {
            let text = serde_json::to_string(&value).map_err(|e| SessionError::InvalidInput(format!("state: {e}")))?;
            let raw = RawValue::from_string(text).map_err(|e| SessionError::InvalidInput(format!("state: {e}")))?;
            Ok((key, raw))
        })
        .collect()
}
