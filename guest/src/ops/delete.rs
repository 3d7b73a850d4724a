//! `delete`: one atomic batch removing every key and index entry.

use crate::environment::Environment;
use crate::error::SessionError;
use crate::kv::{Batch, Op, Storage};
use crate::repository::{Repository, parse_id};

impl<S: Storage, E: Environment> Repository<S, E> {
    /// True when a live session was deleted. Leftovers of an expired session
    /// (hashes in their grace period, set and index members) are removed
    /// too, but return false, as `get` already calls that session not found.
    pub fn delete(&mut self, id: &str) -> Result<bool, SessionError> {
        let layout = self.settings.layout();
        let id = parse_id(id)?;
        let id_text = id.to_string();
        let keys = layout.session_keys(&id);
        let batch = Batch {
            conditions: vec![],
            ops: vec![
                Op::Delete(keys.expiry),
                Op::Delete(keys.data),
                Op::Delete(keys.meta),
                Op::SetRemove { key: keys.active, members: vec![id_text.clone()] },
                Op::SortedRemove { key: keys.index, members: vec![id_text.clone()] },
            ],
        };
        let mut replies = self.execute_unconditional(batch, &id_text)?;
        Ok(replies.next_reply()?.into_integer()? == 1)
    }
}
