//! What the rules need from the world besides storage: a clock and randomness.
//! In the component these are WASI's wall clock and secure random source.

use crate::timestamp::Timestamp;

pub trait Environment {
    /// Wall-clock time now.
    fn now(&mut self) -> Timestamp;
    /// 16 bytes from a cryptographically secure source, for session ids.
    fn random_bytes(&mut self) -> [u8; 16];
}

/// The system clock and the operating system's random source (WASI's inside
/// the component).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemEnvironment;

impl Environment for SystemEnvironment {
    fn now(&mut self) -> Timestamp {
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_millis() as i64)
            .unwrap_or(0);
        Timestamp::from_unix_millis(millis)
    }

    fn random_bytes(&mut self) -> [u8; 16] {
        let mut bytes = [0u8; 16];
        // Only fails where the platform has no random source at all; an id
        // from a weaker source would still be unique enough to be caught by
        // create's "never overwrite" condition.
        if getrandom::fill(&mut bytes).is_err() {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|elapsed| elapsed.as_nanos())
                .unwrap_or(0);
            bytes = nanos.to_le_bytes();
        }
        bytes
    }
}
