//! Errors of the host library: the guest's typed errors, plus what can go
//! wrong around it (storage unreachable, limits, loading the component).

use std::time::Duration;

use agent_sessions_guest::kv::ErrorKind;

pub use agent_sessions_guest::Corruption;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// The input breaks a session rule; the message says which.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// No live session has this id.
    #[error("session {0} not found")]
    NotFound(String),
    /// An expected version did not match.
    #[error("conflict: {0}")]
    Conflict(String),
    /// Stored data does not decode.
    #[error("{}", describe_corruption(.0))]
    DataCorrupt(Corruption),
    /// Storage cannot be reached; nothing was written.
    #[error("{0}")]
    Unavailable(String),
    /// Storage did not answer in time; a write may or may not have happened.
    #[error("{0}")]
    StorageTimeout(String),
    /// Storage answered with an error (`kind`: wrong type, invalid batch,
    /// other); nothing was written.
    #[error("storage error: {message}")]
    Backend { kind: ErrorKind, message: String },
    /// A write was applied on the Redis primary but fewer replicas than
    /// the store waits for (`wait_replicas`) confirmed it in time: it may
    /// be lost if the primary fails now.
    #[error("{0}")]
    NotReplicated(String),
    /// The whole operation took longer than the configured timeout.
    #[error("operation timed out after {0:?}")]
    Timeout(Duration),
    /// The guest trapped or hit a memory or CPU limit. The host is unharmed
    /// and the next call gets a fresh instance.
    #[error("the session component failed: {0}")]
    Guest(String),
    /// The component could not be loaded or the store not set up.
    #[error("{0}")]
    Setup(String),
}

fn describe_corruption(c: &Corruption) -> String {
    if c.field.is_empty() {
        format!("corrupt data in {}: {}", c.key, c.message)
    } else {
        format!("corrupt data in {} field {}: {}", c.key, c.field, c.message)
    }
}

impl From<agent_sessions_guest::SessionError> for Error {
    fn from(error: agent_sessions_guest::SessionError) -> Self {
        use agent_sessions_guest::SessionError as E;
        match error {
            E::InvalidInput(message) => Error::InvalidInput(message),
            E::NotFound(id) => Error::NotFound(id),
            E::Conflict(message) => Error::Conflict(message),
            E::DataCorrupt(corruption) => Error::DataCorrupt(corruption),
            E::Backend { kind, message } => Error::storage(kind, message),
        }
    }
}

impl Error {
    /// A storage failure by its kind.
    pub fn storage(kind: ErrorKind, message: String) -> Self {
        match kind {
            ErrorKind::Unavailable => Error::Unavailable(message),
            ErrorKind::Timeout => Error::StorageTimeout(message),
            _ => Error::Backend { kind, message },
        }
    }

    /// How storage failed, for errors that come from storage.
    pub fn storage_kind(&self) -> Option<ErrorKind> {
        match self {
            Error::Unavailable(_) => Some(ErrorKind::Unavailable),
            Error::StorageTimeout(_) => Some(ErrorKind::Timeout),
            Error::Backend { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// A `data-corrupt` error's JSON `corruption` document.
    pub(crate) fn data_corrupt(json: &str) -> Self {
        match serde_json::from_str(json) {
            Ok(corruption) => Error::DataCorrupt(corruption),
            Err(e) => Error::Guest(format!("the component reported corrupt data it did not describe ({e}): {json}")),
        }
    }
}
