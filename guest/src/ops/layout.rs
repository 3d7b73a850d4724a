//! `check-layout`: the key layout is chosen once per Redis (and prefix) and
//! recorded in the `session_layout` hash (`shards` = S); a host started with
//! another layout refuses to run instead of writing sessions that the
//! others cannot find. Hosts call it once, before their first operation.
//!
//! - The sharded layout records itself the first time (if no session of
//!   the document's layout is there), atomically, so that of two hosts
//!   starting at once with different S one wins and the other refuses.
//! - The document's layout only reads the record: services that already
//!   share a Redis in the document's layout see no new key.

use crate::environment::Environment;
use crate::error::SessionError;
use crate::keys;
use crate::kv::{Batch, BatchOutcome, Condition, Op, Storage};
use crate::repository::Repository;

const SHARDS: &str = "shards";

fn describe(shards: u32) -> String {
    match shards {
        0 => "the design document's layout".to_owned(),
        shards => format!("the sharded layout with {shards} shards"),
    }
}

fn mismatch(wanted: u32, recorded: &str) -> SessionError {
    let recorded = match recorded.parse::<u32>() {
        Ok(shards) => describe(shards),
        Err(_) => format!("a layout this version does not know ({SHARDS} = {recorded:?})"),
    };
    SessionError::InvalidInput(format!(
        "this store is set up for {} but the Redis holds {recorded} (recorded in {}); \
         start with the recorded layout, or move the sessions over with `sessions export` and `sessions import`",
        describe(wanted),
        keys::SESSION_LAYOUT
    ))
}

impl<S: Storage, E: Environment> Repository<S, E> {
    /// Checks the recorded layout against the settings (recording it for
    /// the sharded layout if none is); returns the shard count in use.
    pub fn check_layout(&mut self) -> Result<u32, SessionError> {
        let wanted = self.settings.shards;
        let layout_key = || keys::SESSION_LAYOUT.to_owned();
        let read = Batch::new().op(Op::HashGet { key: layout_key(), field: SHARDS.into() });
        let recorded = self.execute_unconditional(read, "")?.next_reply()?.into_text()?;
        match recorded {
            Some(recorded) if recorded == wanted.to_string() => return Ok(wanted),
            Some(recorded) => return Err(mismatch(wanted, &recorded)),
            None if wanted == 0 => return Ok(0),
            None => {}
        }
        // Sessions written in the document's layout would be invisible.
        // (`active_sessions` alone: every writer of that layout keeps it.)
        let document = Batch::new().op(Op::Exists(keys::ACTIVE_SESSIONS.into()));
        if self.execute_unconditional(document, "")?.next_reply()?.into_integer()? == 1 {
            return Err(SessionError::InvalidInput(format!(
                "this store is set up for {} but the Redis holds sessions in the design document's layout \
                 ({} exists); move them over with `sessions export` and `sessions import`",
                describe(wanted),
                keys::ACTIVE_SESSIONS
            )));
        }
        let record = Batch::new()
            .condition(Condition::FieldMissing { key: layout_key(), field: SHARDS.into() })
            .op(Op::HashSet { key: layout_key(), fields: vec![(SHARDS.into(), wanted.to_string())] });
        match self.execute(record, "")? {
            BatchOutcome::Applied(_) => Ok(wanted),
            // Another host recorded a layout between the read and now.
            BatchOutcome::ConditionFailed { actual: Some(recorded), .. } if recorded == wanted.to_string() => {
                Ok(wanted)
            }
            BatchOutcome::ConditionFailed { actual, .. } => Err(mismatch(wanted, actual.as_deref().unwrap_or(""))),
        }
    }
}
