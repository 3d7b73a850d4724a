//! `delete`: one atomic batch that removes every key and index entry of a
//! session, live or expired. An owned session's owner-index entries go too:
//! its owner is learned first when the caller did not name it (see
//! `owner.rs`, `delete-with`).

use crate::conversation::ItemOptions;
use crate::environment::Environment;
use crate::error::SessionError;
use crate::kv::Storage;
use crate::repository::Repository;

impl<S: Storage, E: Environment> Repository<S, E> {
    /// True when a live session was deleted. Leftovers of an expired session
    /// (hashes in their grace period, set and index members) are removed
    /// too, but return false, as `get` already calls that session not found.
    pub fn delete(&mut self, id: &str) -> Result<bool, SessionError> {
        self.delete_with(id, ItemOptions::default())
    }
}
