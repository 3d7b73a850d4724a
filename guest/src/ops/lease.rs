//! The cleanup lease: of several processes that run cleanup on a schedule
//! (`sessions serve` replicas), the one holding the lease sweeps. The lease
//! is a hash `{holder}` with a TTL, so a holder that dies stops blocking the
//! others when the TTL runs out.

use crate::environment::Environment;
use crate::error::SessionError;
use crate::keys;
use crate::kv::{Batch, BatchOutcome, Condition, Op, Storage};
use crate::repository::Repository;

const HOLDER: &str = "holder";
/// Longest lease: a day.
pub const MAX_LEASE_MS: u64 = 86_400_000;
/// Longest holder name, in characters.
pub const MAX_HOLDER_CHARS: usize = 200;

fn validate(holder: &str, ttl_ms: Option<u64>) -> Result<(), SessionError> {
    if holder.is_empty() || holder.chars().count() > MAX_HOLDER_CHARS || holder.chars().any(char::is_control) {
        return Err(SessionError::InvalidInput(format!(
            "a lease holder must be 1 to {MAX_HOLDER_CHARS} characters without control characters"
        )));
    }
    if let Some(ttl_ms) = ttl_ms
        && !(1..=MAX_LEASE_MS).contains(&ttl_ms)
    {
        return Err(SessionError::InvalidInput(format!("a lease lasts 1 to {MAX_LEASE_MS} ms, not {ttl_ms}")));
    }
    Ok(())
}

impl<S: Storage, E: Environment> Repository<S, E> {
    /// Takes the cleanup lease for `ttl_ms` if nobody holds it, or renews
    /// it if `holder` does. True when `holder` holds it afterwards.
    pub fn acquire_cleanup_lease(&mut self, holder: &str, ttl_ms: u64) -> Result<bool, SessionError> {
        validate(holder, Some(ttl_ms))?;
        let lease = || keys::CLEANUP_LEASE.to_owned();
        let write = |batch: Batch| {
            batch
                .op(Op::HashSet { key: lease(), fields: vec![(HOLDER.into(), holder.into())] })
                .op(Op::Expire { key: lease(), ttl_ms })
        };
        if let BatchOutcome::Applied(_) =
            self.execute(write(Batch::new().condition(Condition::KeyMissing(lease()))), "")?
        {
            return Ok(true);
        }
        let renew =
            Batch::new().condition(Condition::FieldEquals { key: lease(), field: HOLDER.into(), value: holder.into() });
        Ok(matches!(self.execute(write(renew), "")?, BatchOutcome::Applied(_)))
    }

    /// Gives the lease back if `holder` holds it; true when it did.
    pub fn release_cleanup_lease(&mut self, holder: &str) -> Result<bool, SessionError> {
        validate(holder, None)?;
        let release = Batch::new()
            .condition(Condition::FieldEquals {
                key: keys::CLEANUP_LEASE.into(),
                field: HOLDER.into(),
                value: holder.into(),
            })
            .op(Op::Delete(keys::CLEANUP_LEASE.into()));
        Ok(matches!(self.execute(release, "")?, BatchOutcome::Applied(_)))
    }
}
