//! What a read or a maintenance walk reports: stored values that do not
//! decode, and what `cleanup_expired` and `migrate` did.

use serde::{Deserialize, Serialize};

/// A stored value that does not decode, named precisely enough to find it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Corruption {
    pub session_id: String,
    /// Redis key without the host's prefix.
    pub key: String,
    /// Hash field, or "" when the key itself is the problem.
    pub field: String,
    pub message: String,
}

/// What `cleanup_expired` did.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CleanupReport {
    /// Expired sessions whose leftovers this call removed.
    pub removed: u64,
    /// Entries left in place because they cannot be judged.
    pub skipped: u64,
    /// The first [`MAX_REPORTED_PROBLEMS`] of those.
    pub problems: Vec<Corruption>,
}

/// How many skipped entries a cleanup report names.
pub const MAX_REPORTED_PROBLEMS: usize = 100;

impl CleanupReport {
    pub(crate) fn skip(&mut self, problem: Corruption) {
        self.skipped += 1;
        if self.problems.len() < MAX_REPORTED_PROBLEMS {
            self.problems.push(problem);
        }
    }
}

/// One page of `migrate`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct MigratePage {
    pub cursor: String,
    pub done: bool,
    pub examined: u64,
    pub indexed: u64,
    pub hash_ttls_set: u64,
    pub schema_versions_set: u64,
}
