//! Settings and connection parameters from environment variables, read
//! once per instance: `REDIS_URL`, `SESSIONS_PREFIX`, `SESSIONS_TTL`,
//! `SESSIONS_GRACE`, `SESSIONS_REDIS_TIMEOUT`. Durations take the CLI's
//! forms ([`agent_sessions_kv::duration`]). An empty value counts as unset,
//! so a deployment script can pass `--env SESSIONS_TTL=` through.

use std::time::Duration;

use agent_sessions_kv::duration::{parse_grace, parse_timeout, parse_ttl};

/// The session component's defaults (`guest/src/settings.rs`, which the
/// CLI uses too); a test checks they stay equal. Copied because this
/// component must not link the guest crate (its rlib exports `repository`).
pub const DEFAULT_SESSION_TTL_SECONDS: u64 = 3600;
pub const DEFAULT_GRACE_SECONDS: u64 = 300;
pub const DEFAULT_BATCH_SIZE: u32 = 250;
/// As the CLI's `--redis`.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";
/// Connect, read and write timeout of the Redis connection.
pub const DEFAULT_REDIS_TIMEOUT: Duration = Duration::from_secs(5);

/// WIT `config.settings`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    pub session_ttl_seconds: u64,
    pub grace_seconds: u64,
    pub batch_size: u32,
    /// Always 0: one server, the design document's layout.
    pub shards: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            session_ttl_seconds: DEFAULT_SESSION_TTL_SECONDS,
            grace_seconds: DEFAULT_GRACE_SECONDS,
            batch_size: DEFAULT_BATCH_SIZE,
            shards: 0,
        }
    }
}

/// Everything the adapter needs, or why the environment is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub settings: Settings,
    /// `REDIS_URL` as given (it may hold a password: never print it).
    pub url: String,
    pub prefix: String,
    pub timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            settings: Settings::default(),
            url: DEFAULT_REDIS_URL.to_owned(),
            prefix: String::new(),
            timeout: DEFAULT_REDIS_TIMEOUT,
        }
    }
}

impl Config {
    /// Reads the variables from `vars` (`std::env::vars()` in the
    /// component). An invalid value is an error naming its variable; every
    /// invalid one is named, joined by "; ".
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Result<Config, String> {
        let mut config = Config::default();
        let mut errors = Vec::new();
        for (name, value) in vars {
            if value.is_empty() {
                continue;
            }
            let outcome = match name.as_str() {
                "REDIS_URL" => {
                    config.url = value;
                    Ok(())
                }
                "SESSIONS_PREFIX" => {
                    config.prefix = value;
                    Ok(())
                }
                "SESSIONS_TTL" => parse_ttl(&value).map(|ttl| config.settings.session_ttl_seconds = ttl),
                "SESSIONS_GRACE" => parse_grace(&value).map(|grace| config.settings.grace_seconds = grace),
                "SESSIONS_REDIS_TIMEOUT" => parse_timeout(&value).map(|timeout| config.timeout = timeout),
                _ => Ok(()),
            };
            if let Err(message) = outcome {
                errors.push(format!("environment variable {name}: {message}"));
            }
        }
        if errors.is_empty() { Ok(config) } else { Err(errors.join("; ")) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect()
    }

    #[test]
    fn defaults_are_the_session_components() {
        let settings = Settings::default();
        assert_eq!(settings.session_ttl_seconds, agent_sessions_guest::settings::DEFAULT_SESSION_TTL_SECONDS);
        assert_eq!(settings.grace_seconds, agent_sessions_guest::settings::DEFAULT_GRACE_SECONDS);
        assert_eq!(settings.batch_size, agent_sessions_guest::settings::DEFAULT_BATCH_SIZE);
        assert_eq!(settings.shards, 0);
        assert_eq!(Config::from_vars(vars(&[("HOME", "/")])), Ok(Config::default()));
    }

    #[test]
    fn variables_take_the_cli_forms() {
        let config = Config::from_vars(vars(&[
            ("REDIS_URL", "redis://10.0.0.1:7000/2"),
            ("SESSIONS_PREFIX", "app:"),
            ("SESSIONS_TTL", "2h"),
            ("SESSIONS_GRACE", "0"),
            ("SESSIONS_REDIS_TIMEOUT", "250ms"),
        ]))
        .unwrap();
        assert_eq!(config.url, "redis://10.0.0.1:7000/2");
        assert_eq!(config.prefix, "app:");
        assert_eq!(config.settings.session_ttl_seconds, 7200);
        assert_eq!(config.settings.grace_seconds, 0);
        assert_eq!(config.timeout, Duration::from_millis(250));
    }

    #[test]
    fn empty_values_count_as_unset() {
        let config = Config::from_vars(vars(&[("SESSIONS_TTL", ""), ("REDIS_URL", "")])).unwrap();
        assert_eq!(config, Config::default());
    }

    #[test]
    fn invalid_values_name_their_variable() {
        let error = Config::from_vars(vars(&[("SESSIONS_TTL", "15x"), ("SESSIONS_REDIS_TIMEOUT", "0")])).unwrap_err();
        assert_eq!(
            error,
            "environment variable SESSIONS_TTL: invalid duration '15x': use a number of seconds or a number with \
             s, m, h or d, e.g. 90, 90s, 15m, 2h, 1d; environment variable SESSIONS_REDIS_TIMEOUT: invalid \
             duration '0': a timeout must be more than 0"
        );
        assert!(Config::from_vars(vars(&[("SESSIONS_GRACE", "1.5s")])).unwrap_err().contains("SESSIONS_GRACE"));
    }
}
