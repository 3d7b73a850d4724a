//! The typed errors every repository operation returns.

use std::fmt;

use crate::kv::{ErrorKind, KvError};
use crate::model::Corruption;

#[derive(Debug, Clone, PartialEq)]
pub enum SessionError {
    /// The input breaks a rule; the message says which and why.
    InvalidInput(String),
    /// No live session has this id; the payload is the id.
    NotFound(String),
    /// An expected version did not match.
    Conflict(String),
    /// Stored data does not decode.
    DataCorrupt(Corruption),
    /// Storage failed; `kind` says how (unavailable, timeout, ...).
    Backend { kind: ErrorKind, message: String },
}

impl SessionError {
    /// Maps a storage error met while working on `session_id`: a key of the
    /// wrong type is corrupt data of that session, the rest is the backend's.
    pub(crate) fn from_kv(error: KvError, session_id: &str) -> Self {
        match error.kind {
            ErrorKind::WrongType => SessionError::DataCorrupt(Corruption {
                session_id: session_id.to_owned(),
                key: error.key,
                field: String::new(),
                message: error.message,
            }),
            kind => SessionError::Backend { kind, message: error.message },
        }
    }

    /// A storage failure of kind `other`: storage said something the rules
    /// cannot make sense of.
    pub(crate) fn backend(message: impl Into<String>) -> Self {
        SessionError::Backend { kind: ErrorKind::Other, message: message.into() }
    }
}

impl From<KvError> for SessionError {
    fn from(error: KvError) -> Self {
        SessionError::from_kv(error, "")
    }
}

impl From<Corruption> for SessionError {
    fn from(corruption: Corruption) -> Self {
        SessionError::DataCorrupt(corruption)
    }
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::InvalidInput(message) => write!(f, "invalid input: {message}"),
            SessionError::NotFound(id) => write!(f, "session {id} not found"),
            SessionError::Conflict(message) => write!(f, "conflict: {message}"),
            SessionError::DataCorrupt(c) if c.field.is_empty() => {
                write!(f, "corrupt data in {}: {}", c.key, c.message)
            }
            SessionError::DataCorrupt(c) => write!(f, "corrupt data in {} field {}: {}", c.key, c.field, c.message),
            SessionError::Backend { message, .. } => write!(f, "storage error: {message}"),
        }
    }
}

impl std::error::Error for SessionError {}
