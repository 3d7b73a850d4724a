//! Settings from environment variables (wasi:cli/environment in the
//! component, so `wasmtime serve --env`, jco's process environment and the
//! native host all reach it the same way).

/// The default request body limit: 8 MiB.
pub const DEFAULT_MAX_BODY: u64 = 8 * 1024 * 1024;

/// Who may call.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// `SESSIONS_API_TOKEN`: this bearer token.
    Token(String),
    /// `SESSIONS_API_AUTH=none`: anyone (local testing).
    Open,
    /// Neither: every request but `GET /healthz` is refused.
    Unconfigured,
}

// Never print the token, even by accident in a debug log.
impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Token(_) => f.write_str("Token(..)"),
            Auth::Open => f.write_str("Open"),
            Auth::Unconfigured => f.write_str("Unconfigured"),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    pub auth: Auth,
    /// Request bodies longer than this are refused with 413.
    pub max_body: u64,
    /// `SESSIONS_LAYOUT_CHECKED=1`: the host already ran check-layout.
    pub layout_checked: bool,
    /// A setting that does not read; every request but `/healthz` reports it.
    pub error: Option<String>,
}

impl Config {
    /// Reads the settings through `get` (an environment lookup).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Config {
        let token = get("SESSIONS_API_TOKEN").filter(|t| !t.is_empty());
        let open = get("SESSIONS_API_AUTH").is_some_and(|v| v.trim().eq_ignore_ascii_case("none"));
        // A configured token wins over the opt-out: the safer reading.
        let auth = match (token, open) {
            (Some(token), _) => Auth::Token(token),
            (None, true) => Auth::Open,
            (None, false) => Auth::Unconfigured,
        };
        let mut error = None;
        let max_body = match get("SESSIONS_API_MAX_BODY") {
            None => DEFAULT_MAX_BODY,
            Some(text) => text.trim().parse::<u64>().unwrap_or_else(|_| {
                error = Some(format!("SESSIONS_API_MAX_BODY must be a number of bytes, got {text:?}"));
                DEFAULT_MAX_BODY
            }),
        };
        let layout_checked = get("SESSIONS_LAYOUT_CHECKED").is_some_and(|v| v.trim() == "1");
        Config { auth, max_body, layout_checked, error }
    }

    /// From the process environment.
    pub fn from_env() -> Config {
        Config::from_lookup(|name| std::env::var(name).ok())
    }
}

/// Compares a presented token with the configured one in time that does
/// not depend on where they differ (only on the presented length).
pub fn token_matches(presented: &[u8], expected: &[u8]) -> bool {
    let mut diff = (presented.len() != expected.len()) as u8;
    for (i, byte) in presented.iter().enumerate() {
        // Reading past the end compares against 0; the length check above
        // already failed such a token.
        let other = expected.get(i % expected.len().max(1)).copied().unwrap_or(0);
        diff |= byte ^ other;
    }
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Config {
        Config::from_lookup(|name| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string()))
    }

    #[test]
    fn auth_settings() {
        assert_eq!(config(&[]).auth, Auth::Unconfigured);
        assert_eq!(config(&[("SESSIONS_API_AUTH", "none")]).auth, Auth::Open);
        assert_eq!(config(&[("SESSIONS_API_TOKEN", "")]).auth, Auth::Unconfigured);
        assert_eq!(
            config(&[("SESSIONS_API_TOKEN", "s3"), ("SESSIONS_API_AUTH", "none")]).auth,
            Auth::Token("s3".into())
        );
        assert!(!format!("{:?}", config(&[("SESSIONS_API_TOKEN", "s3cret")])).contains("s3cret"));
    }

    #[test]
    fn body_limit_and_layout() {
        assert_eq!(config(&[]).max_body, DEFAULT_MAX_BODY);
        assert_eq!(config(&[("SESSIONS_API_MAX_BODY", "100")]).max_body, 100);
        assert!(config(&[("SESSIONS_API_MAX_BODY", "lots")]).error.is_some());
        assert!(config(&[("SESSIONS_LAYOUT_CHECKED", "1")]).layout_checked);
        assert!(!config(&[]).layout_checked);
    }

    #[test]
    fn tokens() {
        assert!(token_matches(b"abc", b"abc"));
        assert!(!token_matches(b"abd", b"abc"));
        assert!(!token_matches(b"ab", b"abc"));
        assert!(!token_matches(b"abcd", b"abc"));
        assert!(!token_matches(b"", b"abc"));
        assert!(!token_matches(b"x", b""));
    }
}
