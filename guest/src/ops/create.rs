//! `create`: one atomic batch that writes every key of a new session and
//! never overwrites an existing one.

use crate::encoding::{encode_data, encode_meta};
use crate::environment::Environment;
use crate::error::SessionError;
use crate::id::SessionId;
use crate::kv::{Batch, BatchOutcome, Condition, Op, Storage};
use crate::model::{Session, SessionCreate, SessionMeta};
use crate::repository::Repository;
use crate::validation::validate_create;

/// A fresh v4 id colliding with a stored one is practically impossible; if
/// the random source is broken, give up after a few tries instead of looping.
const ID_ATTEMPTS: usize = 3;

impl<S: Storage, E: Environment> Repository<S, E> {
    pub fn create(&mut self, input: SessionCreate) -> Result<Session, SessionError> {
        let layout = self.settings.layout();
        let valid = validate_create(input).map_err(SessionError::InvalidInput)?;
        let now = self.env.now();
        let meta = SessionMeta {
            created_at: now,
            updated_at: now,
            last_activity: now,
            is_active: valid.is_active,
            status: valid.status,
            version: 1,
        };
        let data_fields = encode_data(&valid.data);
        let meta_fields = encode_meta(&meta);

        for _ in 0..ID_ATTEMPTS {
            let id = SessionId::from_random_bytes(self.env.random_bytes());
            let id_text = id.to_string();
            let keys = layout.session_keys(&id);
            let batch = Batch {
                conditions: vec![
                    Condition::KeyMissing(keys.expiry.clone()),
                    Condition::KeyMissing(keys.data.clone()),
                    Condition::KeyMissing(keys.meta.clone()),
                ],
                ops: vec![
                    Op::HashSet { key: keys.data.clone(), fields: data_fields.clone() },
                    Op::Expire { key: keys.data.clone(), ttl_ms: self.settings.hash_ttl_ms() },
                    Op::HashSet { key: keys.meta.clone(), fields: meta_fields.clone() },
                    Op::Expire { key: keys.meta.clone(), ttl_ms: self.settings.hash_ttl_ms() },
                    Op::StringSet {
                        key: keys.expiry.clone(),
                        value: String::new(),
                        ttl_ms: Some(self.settings.session_ttl_ms()),
                    },
                    Op::SetAdd { key: keys.active.clone(), members: vec![id_text.clone()] },
                    Op::SortedAdd {
                        key: keys.index.clone(),
                        members: vec![(now.unix_millis() as f64, id_text.clone())],
                    },
                ],
            };
            match self.execute(batch, &id_text)? {
                BatchOutcome::Applied(_) => {
                    return Ok(Session {
                        id: id_text,
                        data: valid.data,
                        meta,
                        expires_in_seconds: Some(self.settings.session_ttl_seconds),
                    });
                }
                BatchOutcome::ConditionFailed { .. } => continue,
            }
        }
        Err(SessionError::Conflict(format!(
            "{ID_ATTEMPTS} freshly generated session ids were all taken; the host's random source looks broken"
        )))
    }
}
