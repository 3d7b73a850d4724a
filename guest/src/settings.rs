//! Settings the host passes in through the `config` interface.

/// Lifetime of a session without activity, when the host says nothing else.
pub const DEFAULT_SESSION_TTL_SECONDS: u64 = 3600;
/// How much longer the hashes outlive the expiry key, so cleanup still finds
/// them (the same idea as Spring Session's five extra minutes).
pub const DEFAULT_GRACE_SECONDS: u64 = 300;
/// Sessions per Redis batch in cleanup and reindex.
pub const DEFAULT_BATCH_SIZE: u32 = 250;

const MAX_TTL_SECONDS: u64 = 10 * 365 * 24 * 3600;
const MAX_GRACE_SECONDS: u64 = 7 * 24 * 3600;
const MAX_BATCH_SIZE: u32 = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    pub session_ttl_seconds: u64,
    pub grace_seconds: u64,
    pub batch_size: u32,
    /// 0 for the design document's layout, else the sharded layout's shard
    /// count (see [`crate::keys::Layout`]).
    pub shards: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            session_ttl_seconds: DEFAULT_SESSION_TTL_SECONDS,
            grace_seconds: DEFAULT_GRACE_SECONDS,
            batch_size: DEFAULT_BATCH_SIZE,
            shards: 0,
        }
    }
}

impl Settings {
    /// Checks what a host passed; the message names the setting.
    pub fn validate(self) -> Result<Self, String> {
        if !(1..=MAX_TTL_SECONDS).contains(&self.session_ttl_seconds) {
            return Err(format!(
                "host setting session-ttl-seconds must be from 1 to {MAX_TTL_SECONDS}, got {}",
                self.session_ttl_seconds
            ));
        }
        if self.grace_seconds > MAX_GRACE_SECONDS {
            return Err(format!(
                "host setting grace-seconds must be at most {MAX_GRACE_SECONDS}, got {}",
                self.grace_seconds
            ));
        }
        if !(1..=MAX_BATCH_SIZE).contains(&self.batch_size) {
            return Err(format!("host setting batch-size must be from 1 to {MAX_BATCH_SIZE}, got {}", self.batch_size));
        }
        if self.shards > crate::shard::MAX_SHARDS {
            return Err(format!(
                "host setting shards must be at most {}, got {}",
                crate::shard::MAX_SHARDS,
                self.shards
            ));
        }
        Ok(self)
    }

    /// The key layout these settings choose.
    pub fn layout(&self) -> crate::keys::Layout {
        match self.shards {
            0 => crate::keys::Layout::Document,
            shards => crate::keys::Layout::Sharded { shards },
        }
    }

    /// TTL of the expiry key.
    pub fn session_ttl_ms(&self) -> u64 {
        self.session_ttl_seconds * 1000
    }

    /// TTL of the data and meta hashes: the session's plus the grace period.
    pub fn hash_ttl_ms(&self) -> u64 {
        (self.session_ttl_seconds + self.grace_seconds) * 1000
    }
}
