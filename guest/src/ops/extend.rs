//! `extend_ttl`: one atomic batch resetting every TTL and last_activity,
//! only while the session is alive; nothing is written otherwise.

use crate::encoding::meta_field as m;
use crate::environment::Environment;
use crate::error::SessionError;
use crate::kv::{Batch, BatchOutcome, Condition, Op, Storage};
use crate::model::Corruption;
use crate::repository::{Repository, parse_id};

impl<S: Storage, E: Environment> Repository<S, E> {
    pub fn extend_ttl(&mut self, id: &str) -> Result<bool, SessionError> {
        let layout = self.settings.layout();
        let id = parse_id(id)?;
        let id_text = id.to_string();
        let keys = layout.session_keys(&id);
        let now = self.env.now().to_string();
        let batch = Batch {
            conditions: vec![
                Condition::KeyExists(keys.expiry.clone()),
                Condition::KeyExists(keys.data.clone()),
                Condition::KeyExists(keys.meta.clone()),
            ],
            ops: vec![
                Op::Expire { key: keys.expiry.clone(), ttl_ms: self.settings.session_ttl_ms() },
                Op::Expire { key: keys.data.clone(), ttl_ms: self.settings.hash_ttl_ms() },
                Op::Expire { key: keys.meta.clone(), ttl_ms: self.settings.hash_ttl_ms() },
                Op::Expire { key: keys.items.clone(), ttl_ms: self.settings.hash_ttl_ms() },
                Op::Expire { key: keys.state.clone(), ttl_ms: self.settings.hash_ttl_ms() },
                Op::HashSet { key: keys.meta.clone(), fields: vec![(m::LAST_ACTIVITY.into(), now)] },
            ],
        };
        match self.execute(batch, &id_text)? {
            BatchOutcome::Applied(_) => Ok(true),
            BatchOutcome::ConditionFailed { index: 0, .. } => Ok(false),
            BatchOutcome::ConditionFailed { index, .. } => Err(SessionError::DataCorrupt(Corruption {
                session_id: id_text,
                key: if index == 1 { keys.data } else { keys.meta },
                field: String::new(),
                message: "the hash is missing while the session's expiry key exists".into(),
            })),
        }
    }
}
