//! `update`: one atomic batch that applies the changes, bumps the version and
//! timestamps, resets every TTL and reads the result back, only while the
//! session is alive (so it can never bring back an expired or deleted one).
//! The guard and the touch (version, timestamps, TTLs, owner indexes) are
//! those of every write to a live session (`guard.rs`).

use crate::encoding::{encode_bool, encode_value, meta_field as m};
use crate::environment::Environment;
use crate::error::SessionError;
use crate::kv::{Op, Replies, Storage};
use crate::model::{Session, SessionUpdate};
use crate::ops::guard::touch_ops;
use crate::repository::{Repository, decode_session_reads, parse_id, session_reads};
use crate::validation::{ValidUpdate, validate_update};

impl<S: Storage, E: Environment> Repository<S, E> {
    pub fn update(&mut self, id: &str, changes: SessionUpdate) -> Result<Session, SessionError> {
        let settings = self.settings;
        let layout = settings.layout();
        let id = parse_id(id)?;
        let valid = validate_update(changes).map_err(SessionError::InvalidInput)?;
        let id_text = id.to_string();
        let keys = layout.session_keys(&id);
        let now = self.env.now();

        let data_fields = data_changes(&valid);
        let mut writes = 0;
        let outcome = self.guarded_write(&id, &keys, None, valid.expected_version, |owner| {
            let mut ops = Vec::with_capacity(16);
            if !data_fields.is_empty() {
                ops.push(Op::HashSet { key: keys.data.clone(), fields: data_fields.clone() });
            }
            if let Some((status, is_active)) = &valid.status {
                ops.push(Op::HashSet {
                    key: keys.meta.clone(),
                    fields: vec![
                        (m::STATUS.into(), status.clone()),
                        (m::IS_ACTIVE.into(), encode_bool(*is_active).into()),
                    ],
                });
            }
            ops.extend(touch_ops(&settings, &id, &keys, owner, now));
            writes = ops.len();
            ops.extend(session_reads(&keys));
            Ok((Vec::new(), ops))
        })?;
        let Ok(applied) = outcome else {
            return Err(SessionError::backend("update has no condition of its own"));
        };
        let mut replies = Replies::new(applied.replies);
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
}

/// The data hash fields this update writes.
fn data_changes(valid: &ValidUpdate) -> Vec<(String, String)> {
    valid.data.iter().map(|(field, value)| (field.name.to_owned(), encode_value(value))).collect()
}
