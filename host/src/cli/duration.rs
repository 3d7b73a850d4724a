//! The durations the options take: `90`, `0.5`, `500ms`, `90s`, `15m`, `2h`,
//! `1d`. The forms and their messages are the kv crate's
//! ([`agent_sessions_guest::kv::duration`]), shared with the environment
//! variables of the wasm deployments; only `serve`'s intervals are the CLI's own.

use std::time::Duration;

use agent_sessions_guest::kv::duration::{FINE_FORMS, invalid, parse_duration};
pub use agent_sessions_guest::kv::duration::{parse_grace, parse_timeout, parse_ttl};

/// `serve --cleanup-interval` and `--stats-interval`: at least 100 ms, so
/// a typo cannot make the service spin.
pub fn parse_interval(text: &str) -> Result<Duration, String> {
    let duration = parse_duration(text).map_err(|e| invalid(text, e, FINE_FORMS))?;
    if duration < Duration::from_millis(100) {
        return Err(format!("invalid duration '{text}': an interval must be at least 100ms"));
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_options_keep_their_messages() {
        assert_eq!(parse_ttl("15m"), Ok(900));
        assert_eq!(
            parse_ttl("15x"),
            Err("invalid duration '15x': use a number of seconds or a number with s, m, h or d, e.g. 90, 90s, 15m, 2h, 1d"
                .to_owned())
        );
        assert_eq!(parse_grace("5m"), Ok(300));
        assert!(parse_timeout("15x").unwrap_err().contains("ms, s, m, h or d"));
    }

    #[test]
    fn intervals_take_fractions_of_a_second() {
        assert_eq!(parse_interval("0.2"), Ok(Duration::from_millis(200)));
        assert_eq!(parse_interval("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_interval("2h"), Ok(Duration::from_secs(7200)));
        assert!(parse_interval("99ms").unwrap_err().contains("at least 100ms"));
        assert!(parse_interval("0").is_err());
        assert!(parse_interval("15x").unwrap_err().contains("ms, s, m, h or d"));
    }
}
