//! Session ids. An id is either a UUID in the 36-character hyphenated form
//! of Python's `str(uuid4())` (either case, normalised to lowercase), or a
//! caller-chosen id of 1 to 128 characters of `[A-Za-z0-9._-]`, stored as
//! given (case-sensitive). Anything else is rejected before it can reach a
//! key: no id contains `:`, `{`, `}`, `*`, `?`, `[`, `\`, whitespace or a line
//! break, so none can open a hash tag, end a key segment or act as a SCAN
//! pattern. Generated ids are UUID v4.

use std::fmt;

use uuid::Uuid;

/// Longest caller-chosen id, in characters (all ASCII, so bytes too).
pub const MAX_CALLER_ID_LEN: usize = 128;

/// A validated session id, holding its canonical text: the lowercase
/// hyphenated UUID, or a caller id as given.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(Box<str>);

impl SessionId {
    /// Accepts the 36-character hyphenated UUID form in either case
    /// (normalised to lowercase, so that one session has exactly one key
    /// name), or 1 to 128 characters of `[A-Za-z0-9._-]` as given.
    pub fn parse(text: &str) -> Result<Self, String> {
        if is_hyphenated_uuid(text) {
            return Uuid::parse_str(text)
                .map(|uuid| SessionId(uuid.hyphenated().to_string().into_boxed_str()))
                .map_err(|e| format!("session id {} is not a UUID: {e}", quote_for_message(text)));
        }
        let well_formed = !text.is_empty()
            && text.len() <= MAX_CALLER_ID_LEN
            && text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !well_formed {
            return Err(format!(
                "session id {} is neither a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx) nor 1 to \
                 {MAX_CALLER_ID_LEN} characters of A-Z, a-z, 0-9, '.', '_' and '-'",
                quote_for_message(text)
            ));
        }
        Ok(SessionId(text.into()))
    }

    /// A fresh version 4 id from 16 random bytes.
    pub fn from_random_bytes(bytes: [u8; 16]) -> Self {
        SessionId(uuid::Builder::from_random_bytes(bytes).into_uuid().hyphenated().to_string().into_boxed_str())
    }

    /// The canonical text: what key names and documents carry.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the id is a UUID (generated, or given in UUID form).
    pub fn is_uuid(&self) -> bool {
        is_hyphenated_uuid(&self.0)
    }
}

/// The 36-character hyphenated UUID form, either case.
fn is_hyphenated_uuid(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for SessionId {
    fn as_ref(&self) -> &str {
        &self.0
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
        let id = SessionId::parse(text).unwrap();
        assert_eq!(id.to_string(), text);
        assert_eq!(id.as_str(), text);
        assert!(id.is_uuid());
    }

    #[test]
    fn uppercase_is_normalised() {
        let id = SessionId::parse("0B6F2A52-3C1E-4D7A-9A55-6F1F3E2B9C10").unwrap();
        assert_eq!(id.to_string(), "0b6f2a52-3c1e-4d7a-9a55-6f1f3e2b9c10");
        assert_eq!(id, SessionId::parse("0b6f2a52-3c1e-4d7a-9a55-6f1f3e2b9c10").unwrap());
    }

    #[test]
    fn caller_ids_are_stored_as_given() {
        for good in [
            "a",
            "chat-42",
            "User_7.session-A",
            "0b6f2a523c1e4d7a9a556f1f3e2b9c10",
            "0b6f2a52_3c1e_4d7a_9a55_6f1f3e2b9c10",
            "0B6F2A523C1E4D7A9A556F1F3E2B9C10",
            "...",
            &"x".repeat(MAX_CALLER_ID_LEN),
        ] {
            let id = SessionId::parse(good).unwrap_or_else(|e| panic!("{good:?} was rejected: {e}"));
            assert_eq!(id.as_str(), good, "caller ids are case-sensitive and kept as given");
            assert!(!id.is_uuid(), "{good:?}");
        }
        assert_ne!(SessionId::parse("Chat").unwrap(), SessionId::parse("chat").unwrap());
        assert_ne!(
            SessionId::parse("0b6f2a523c1e4d7a9a556f1f3e2b9c10").unwrap(),
            SessionId::parse("0b6f2a52-3c1e-4d7a-9a55-6f1f3e2b9c10").unwrap(),
            "the no-hyphen form is a distinct caller id, not the same UUID"
        );
    }

    #[test]
    fn invalid_ids_are_rejected() {
        let too_long = "x".repeat(MAX_CALLER_ID_LEN + 1);
        for bad in [
            "",
            "*",
            "../x",
            "{tag}",
            "{0b6f2a52-3c1e-4d7a-9a55-6f1f3e2b9c10}",
            "0b6f2a52-3c1e-4d7a-9a55-6f1f3e2b9c10 ",
            "ｏb6f2a52-3c1e-4d7a-9a55-6f1f3e2b9c1",
            too_long.as_str(),
            "a:b",
            "a\nb",
            "a b",
            "a?",
            "a[b]",
            "a\\b",
            "a\tb",
            "urn:uuid:0b6f2a52-3c1e-4d7a-9a55-6f1f3e2b9c10",
        ] {
            assert!(SessionId::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn a_uuid_lookalike_with_a_non_hex_digit_is_a_caller_id() {
        // Hyphens where a UUID has them but a non-hex digit: neither a UUID
        // nor rejected, since it is a valid caller id, kept as given.
        let text = "0b6f2a52-3c1e-4d7a-9a55-6f1f3e2b9c1g";
        let id = SessionId::parse(text).unwrap();
        assert_eq!(id.as_str(), text);
        assert!(!id.is_uuid());
    }

    #[test]
    fn random_ids_are_version_4() {
        let id = SessionId::from_random_bytes([0xAB; 16]);
        assert!(id.is_uuid());
        let text = id.to_string();
        assert_eq!(&text[14..15], "4");
        assert!(matches!(&text[19..20], "8" | "9" | "a" | "b"));
        assert_eq!(SessionId::parse(&text).unwrap(), id);
    }

    #[test]
    fn long_garbage_is_cut_in_messages() {
        let message = SessionId::parse(&"x".repeat(10_000)).unwrap_err();
        assert!(message.len() < 300, "{message}");
    }
}
