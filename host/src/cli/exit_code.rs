//! Exit codes of `sessions`, one per kind of outcome, so scripts can branch.

use std::process::ExitCode;

use agent_sessions_host::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success = 0,
    /// Anything not covered below.
    Failure = 1,
    /// Bad command line or invalid input.
    Usage = 2,
    NotFound = 3,
    Conflict = 4,
    /// Redis unavailable or timed out.
    Unavailable = 5,
    /// Stored data does not decode.
    Corrupt = 6,
    /// The write was applied on the primary but not confirmed by the
    /// replicas `--wait-replicas` asks for.
    NotReplicated = 7,
}

impl Exit {
    pub fn for_error(error: &Error) -> Self {
        match error {
            Error::InvalidInput(_) => Exit::Usage,
            Error::NotFound(_) => Exit::NotFound,
            Error::Conflict(_) => Exit::Conflict,
            Error::Unavailable(_) | Error::Timeout(_) | Error::StorageTimeout(_) => Exit::Unavailable,
            Error::DataCorrupt(_) => Exit::Corrupt,
            Error::NotReplicated(_) => Exit::NotReplicated,
            Error::Backend { .. } | Error::Guest(_) | Error::Setup(_) => Exit::Failure,
        }
    }
}

/// What a command that did not fail found, where that decides its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finding {
    /// Everything asked for was done.
    Done,
    /// `delete` or `extend` found no live session.
    SessionGone,
    /// `list` or `cleanup` met entries it could not read or judge.
    UnreadableEntries,
    /// `import` refused: bad lines, or (`ids_taken`) ids already stored with
    /// `--on-conflict fail`.
    ImportRefused { ids_taken: bool },
    /// `serve` could not start or keep serving (metrics, listening socket).
    ServiceFailed,
}

impl Exit {
    pub fn for_finding(finding: Finding) -> Self {
        match finding {
            Finding::Done => Exit::Success,
            Finding::SessionGone => Exit::NotFound,
            Finding::UnreadableEntries => Exit::Corrupt,
            Finding::ImportRefused { ids_taken: true } => Exit::Conflict,
            Finding::ImportRefused { ids_taken: false } => Exit::Usage,
            Finding::ServiceFailed => Exit::Failure,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_documented_ones() {
        assert_eq!(Exit::for_error(&Error::InvalidInput("x".into())) as u8, 2);
        assert_eq!(Exit::for_error(&Error::NotFound("x".into())) as u8, 3);
        assert_eq!(Exit::for_error(&Error::Conflict("x".into())) as u8, 4);
        assert_eq!(Exit::for_error(&Error::Unavailable("x".into())) as u8, 5);
        assert_eq!(Exit::for_error(&Error::Timeout(std::time::Duration::from_secs(1))) as u8, 5);
        let corruption = agent_sessions_host::Corruption {
            session_id: "x".into(),
            key: "k".into(),
            field: "f".into(),
            message: "m".into(),
        };
        assert_eq!(Exit::for_error(&Error::DataCorrupt(corruption)) as u8, 6);
        assert_eq!(Exit::for_error(&Error::Guest("trap".into())) as u8, 1);
        assert_eq!(Exit::for_error(&Error::NotReplicated("x".into())) as u8, 7);
    }
}
