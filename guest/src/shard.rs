//! Shards of the sharded layout, the one Redis Cluster needs: which shard a
//! session belongs to, and the hash tag that every key of that shard
//! carries, so that all of a session's keys and its shard's set and index
//! live in one slot and every batch stays one atomic script call.
//!
//! `shard_of(id, S) = fnv1a_32(id) mod S`, where `id` is the session id's
//! canonical text (the lowercase hyphenated UUID, or a caller id as given)
//! as UTF-8 and
//! FNV-1a 32 is: `h = 0x811c9dc5`; for each byte `h = (h ^ byte) *
//! 0x01000193 mod 2^32`. Every host that computes it (none needs to: the
//! component does) must give the test vectors below. The shard's hash tag
//! is `{s<k>}`.

use crate::id::SessionId;

/// Shards of a sharded layout unless chosen otherwise: enough that a
/// cluster of up to a few dozen primaries gets several each.
pub const DEFAULT_SHARDS: u32 = 64;

/// Most shards a layout may have: Redis Cluster's slot count.
pub const MAX_SHARDS: u32 = 16_384;

/// FNV-1a, 32 bits.
pub fn fnv1a_32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |hash, byte| (hash ^ u32::from(*byte)).wrapping_mul(0x0100_0193))
}

/// The shard of session `id` among `shards` (at least 1).
pub fn shard_of(id: &SessionId, shards: u32) -> u32 {
    fnv1a_32(id.as_str().as_bytes()) % shards.max(1)
}

/// The hash tag of shard `shard`: `{s17}`.
pub fn tag(shard: u32) -> String {
    format!("{{s{shard}}}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_reference_vectors() {
        assert_eq!(fnv1a_32(b""), 0x811c_9dc5);
        assert_eq!(fnv1a_32(b"a"), 0xe40c_292c);
    }

    /// The vectors README gives for other hosts.
    #[test]
    fn shards_of_documented_ids() {
        let shard = |id: &str, shards| shard_of(&SessionId::parse(id).unwrap(), shards);
        assert_eq!(fnv1a_32(b"11111111-1111-4111-8111-111111111111"), 0xd123_dc23);
        assert_eq!(shard("11111111-1111-4111-8111-111111111111", 64), 35);
        assert_eq!(shard("2cfdc22c-e8c0-41c3-a306-f7f6c7c2bd7e", 64), 61);
        assert_eq!(shard("2CFDC22C-E8C0-41C3-A306-F7F6C7C2BD7E", 64), 61, "the canonical lowercase text is hashed");
        assert_eq!(shard("00000000-0000-4000-8000-000000000000", 16), 5);
        assert_eq!(shard("00000000-0000-4000-8000-000000000000", 1), 0);
        assert_eq!(fnv1a_32(b"chat-42"), 0x93b1_7380);
        assert_eq!(shard("chat-42", 64), 0);
        assert_eq!(shard("Chat-42", 64), 32, "a caller id is hashed as given, case kept");
    }

    #[test]
    fn tags_name_the_shard() {
        assert_eq!(tag(0), "{s0}");
        assert_eq!(tag(63), "{s63}");
    }
}
