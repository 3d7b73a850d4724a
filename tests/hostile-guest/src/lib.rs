//! The session-store world, implemented badly on purpose. `get(id)` picks
//! the misbehaviour from the id; every other export refuses politely.
//!
//! - `loop`: spins forever (CPU limit, timeout)
//! - `grow`: allocates without end (memory limit)
//! - `trap`: panics, which traps (unreachable)
//! - `recurse`: recurses without end (stack overflow)
//! - anything else: `not-found`, so a following call shows the host is fine.

#![cfg(target_arch = "wasm32")]

wit_bindgen::generate!({
    path: "../../wit",
    world: "session-store",
});

use agent::sessions::types::{ConflictPolicy, SessionError, StorageErrorKind, StorageFailure};
use exports::agent::sessions::repository::Guest;

struct Hostile;

export!(Hostile);

fn refuse<T>() -> Result<T, SessionError> {
    Err(SessionError::Backend(StorageFailure {
        kind: StorageErrorKind::Other,
        message: "the hostile component only implements get".into(),
    }))
}

#[inline(never)]
fn recurse(depth: u64) -> u64 {
    let local = [depth; 64];
    std::hint::black_box(&local);
    recurse(depth + 1) + local[0]
}

impl Guest for Hostile {
    fn get(id: String) -> Result<String, SessionError> {
        match id.as_str() {
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "grow" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "trap" => panic!("the hostile component traps on purpose"),
            "recurse" => {
                std::hint::black_box(recurse(0));
                refuse()
            }
            _ => Err(SessionError::NotFound(id)),
        }
    }

    fn create(_: String) -> Result<String, SessionError> {
        refuse()
    }
    fn update(_: String, _: String) -> Result<String, SessionError> {
        refuse()
    }
    fn delete(_: String) -> Result<bool, SessionError> {
        refuse()
    }
    fn list(_: u32, _: u64, _: String) -> Result<String, SessionError> {
        refuse()
    }
    fn extend_ttl(_: String) -> Result<bool, SessionError> {
        refuse()
    }
    fn cleanup_expired() -> Result<String, SessionError> {
        refuse()
    }
    /// Accepts any layout, so that stores over this component build.
    fn check_layout() -> Result<u32, SessionError> {
        Ok(0)
    }
    fn reindex() -> Result<u64, SessionError> {
        refuse()
    }
    fn stats(_: String, _: String) -> Result<String, SessionError> {
        refuse()
    }
    fn acquire_cleanup_lease(_: String, _: u64) -> Result<bool, SessionError> {
        refuse()
    }
    fn release_cleanup_lease(_: String) -> Result<bool, SessionError> {
        refuse()
    }
    fn export_sessions(_: String) -> Result<String, SessionError> {
        refuse()
    }
    fn import_sessions(_: String, _: ConflictPolicy, _: bool) -> Result<String, SessionError> {
        refuse()
    }
    fn migrate(_: String, _: bool) -> Result<String, SessionError> {
        refuse()
    }
    fn append_items(_: String, _: String) -> Result<String, SessionError> {
        refuse()
    }
    fn get_items(_: String, _: String) -> Result<String, SessionError> {
        refuse()
    }
    fn pop_item(_: String, _: String) -> Result<String, SessionError> {
        refuse()
    }
    fn clear_items(_: String, _: String) -> Result<String, SessionError> {
        refuse()
    }
    fn list_by_owner(_: String, _: String, _: u32, _: String) -> Result<String, SessionError> {
        refuse()
    }
    fn delete_with(_: String, _: String) -> Result<bool, SessionError> {
        refuse()
    }
}
