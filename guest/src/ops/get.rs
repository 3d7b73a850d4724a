//! `get`: one round trip reading the expiry key's TTL and both hashes.

use crate::environment::Environment;
use crate::error::SessionError;
use crate::kv::{Batch, Storage};
use crate::model::Session;
use crate::repository::{Repository, decode_session_reads, parse_id, session_reads};

impl<S: Storage, E: Environment> Repository<S, E> {
    pub fn get(&mut self, id: &str) -> Result<Session, SessionError> {
        let layout = self.settings.layout();
        let id = parse_id(id)?;
        let id_text = id.to_string();
        let keys = layout.session_keys(&id);
        let batch = Batch { conditions: vec![], ops: session_reads(&keys).into() };
        let mut replies = self.execute_unconditional(batch, &id_text)?;
        decode_session_reads(&id, &keys, &mut replies)?.ok_or(SessionError::NotFound(id_text))
    }
}
