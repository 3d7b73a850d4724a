//! Session ids: UUIDs in the lowercase hyphenated form of Python's
//! `str(uuid4())`. Anything else is rejected before it can reach a key, so no
//! `*`, `../x` or `{tag}` ever becomes part of a Redis key name.

use std::fmt;

use uuid::Uuid;

/// A validated session id; displays in canonical form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(Uuid);

impl SessionId {
    /// Accepts the 36-character hyphenated form in either case; other UUID
    /// spellings (braces, urn:, no hyphens) are rejected so that one session
    /// has exactly one key name.
    pub fn parse(text: &str) -> Result<Self, String> {
        let well_formed = text.len() == 36
            && text.char_indices().all(|(i, c)| match i {
                8 | 13 | 18 | 23 => c == '-',
                _ => c.is_ascii_hexdigit(),
            });
        if !well_formed {
            return Err(format!(
                "session id {} is not a UUID (expected the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)",
                quote_for_message(text)
            ));
        }
        Uuid::parse_str(text).map(SessionId).map_err(|e| format!("session id {text:?} is not a UUID: {e}"))
    }

    /// A fresh version 4 id from 16 random bytes.
    pub fn from_random_bytes(bytes: [u8; 16]) -> Self {
        SessionId(uuid::Builder::from_random_bytes(bytes).into_uuid())
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

/// Quotes user text for an error message, cut short so that a megabyte of
/// garbage does not become a megabyte of error.
pub(crate) fn quote_for_message(text: &str) -> String {
    const MAX: usize = 60;
    if text.chars().count() <= MAX {
        format!("{text:?}")
    } else {
        let head: String = text.chars().take(MAX).collect();
        format!("{head:?}... ({} characters)", text.chars().count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_ids_round_trip() {
        let text = "0b6f2a52-3c1e-4d7a-9a55-6f1f3e2b9c10";
        assert_eq!(SessionId::parse(text).unwrap().to_string(), text);
    }

    #[test]
    fn uppercase_is_normalised() {
        let id = SessionId::parse("0B6F2A52-3C1E-4D7A-9A55-6F1F3E2B9C10").unwrap();
        assert_eq!(id.to_string(), "0b6f2a52-3c1e-4d7a-9a55-6f1f3e2b9c10");
    }

    #[test]
    fn non_uuids_are_rejected() {
        for bad in [
            "",
            "*",
            "../x",
            "{tag}",
            "0b6f2a523c1e4d7a9a556f1f3e2b9c10",
            "{0b6f2a52-3c1e-4d7a-9a55-6f1f3e2b9c10}",
            "0b6f2a52-3c1e-4d7a-9a55-6f1f3e2b9c1g",
            "0b6f2a52_3c1e_4d7a_9a55_6f1f3e2b9c10",
            "0b6f2a52-3c1e-4d7a-9a55-6f1f3e2b9c10 ",
            "ｏb6f2a52-3c1e-4d7a-9a55-6f1f3e2b9c1",
        ] {
            assert!(SessionId::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn random_ids_are_version_4() {
        let id = SessionId::from_random_bytes([0xAB; 16]).to_string();
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"));
    }

    #[test]
    fn long_garbage_is_cut_in_messages() {
        let message = SessionId::parse(&"x".repeat(10_000)).unwrap_err();
        assert!(message.len() < 200, "{message}");
    }
}
