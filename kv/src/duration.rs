//! The duration text forms that the CLI options and the deployments'
//! environment variables take: `90`, `0.5`, `500ms`, `90s`, `15m`, `2h`,
//! `1d`. One owner, so `sessions --ttl 2h` and `SESSIONS_TTL=2h` under any
//! runtime mean the same and fail with the same message.

use std::time::Duration;

/// What `--ttl` and `--grace` (`SESSIONS_TTL`, `SESSIONS_GRACE`) accept,
/// for their error messages.
pub const WHOLE_FORMS: &str = "use a number of seconds or a number with s, m, h or d, e.g. 90, 90s, 15m, 2h, 1d";
/// What the durations that allow less than a second accept.
pub const FINE_FORMS: &str =
    "use a number of seconds or a number with ms, s, m, h or d, e.g. 90, 0.5, 500ms, 90s, 15m, 2h, 1d";

/// Nanoseconds in one of each unit; a number without one is seconds.
const UNITS: [(&str, u128); 5] = [
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
    ("d", 86_400_000_000_000),
];

/// Why a duration was refused; the caller adds which forms it takes
/// ([`invalid`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DurationError {
    /// Not a number with a known unit.
    Malformed,
    /// More than `Duration` holds.
    TooLarge,
}

/// Parses `90`, `0.5`, `500ms`, `90s`, `1.5m`, `2h`, `1d`: a decimal number
/// (digits, at most one point, no sign or exponent) and an optional unit.
/// Exact to the nanosecond; finer fractions are cut off.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit_nanos = if unit.is_empty() {
        1_000_000_000
    } else {
        UNITS.iter().find(|(name, _)| *name == unit).ok_or(DurationError::Malformed)?.1
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
        return Err(DurationError::Malformed);
    }
    // Digits past the ninth cannot matter once multiplied by at most a day
    // in nanoseconds and divided back; dropping them keeps the arithmetic in u128.
    let fraction = &fraction[..fraction.len().min(9)];
    let whole: u128 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| DurationError::TooLarge)? };
    let fraction_nanos = if fraction.is_empty() {
        0
    } else {
        let digits: u128 = fraction.parse().map_err(|_| DurationError::Malformed)?;
        digits * unit_nanos / 10u128.pow(fraction.len() as u32)
    };
    let nanos =
        whole.checked_mul(unit_nanos).and_then(|n| n.checked_add(fraction_nanos)).ok_or(DurationError::TooLarge)?;
    let seconds = u64::try_from(nanos / 1_000_000_000).map_err(|_| DurationError::TooLarge)?;
    Ok(Duration::new(seconds, (nanos % 1_000_000_000) as u32))
}

/// The message for a refused `text`; `forms` says what is accepted
/// ([`WHOLE_FORMS`], [`FINE_FORMS`]).
pub fn invalid(text: &str, error: DurationError, forms: &str) -> String {
    match error {
        DurationError::Malformed => format!("invalid duration '{text}': {forms}"),
        DurationError::TooLarge => format!("invalid duration '{text}': too large"),
    }
}

/// A whole number of seconds, for the settings the component counts in seconds.
fn whole_seconds(text: &str) -> Result<u64, String> {
    let duration = parse_duration(text).map_err(|e| invalid(text, e, WHOLE_FORMS))?;
    if duration.subsec_nanos() != 0 {
        return Err(format!("invalid duration '{text}': must be a whole number of seconds; {WHOLE_FORMS}"));
    }
    Ok(duration.as_secs())
}

/// A session's lifetime (`--ttl`, `SESSIONS_TTL`): at least one second
/// (the component checks the upper bound).
pub fn parse_ttl(text: &str) -> Result<u64, String> {
    match whole_seconds(text)? {
        0 => Err(format!("invalid duration '{text}': a session lives at least 1s")),
        seconds => Ok(seconds),
    }
}

/// The grace period (`--grace`, `SESSIONS_GRACE`): zero or more seconds
/// (the component checks the upper bound).
pub fn parse_grace(text: &str) -> Result<u64, String> {
    whole_seconds(text)
}

/// A timeout (`--timeout`, `SESSIONS_REDIS_TIMEOUT`): more than zero;
/// fractions of a second allowed.
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    match parse_duration(text).map_err(|e| invalid(text, e, FINE_FORMS))? {
        Duration::ZERO => Err(format!("invalid duration '{text}': a timeout must be more than 0")),
        duration => Ok(duration),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn each_unit_and_a_plain_number() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(15 * 60)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(2 * 3600)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn fractions_are_exact() {
        assert_eq!(parse_duration("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration(".25s"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5m"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("0.1"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_duration("1.5ms"), Ok(Duration::from_micros(1500)));
        // Past nanoseconds the digits are cut off, not rounded or refused.
        assert_eq!(parse_duration("0.0000000019"), Ok(Duration::from_nanos(1)));
    }

    #[test]
    fn garbage_is_refused() {
        for text in
            ["", "15x", "x", "s", ".", "1.2.3", "-1", "+1", "1e3", "inf", "NaN", " 90", "90 s", "1M", "1h30m", "0x10"]
        {
            assert_eq!(parse_duration(text), Err(DurationError::Malformed), "{text:?}");
        }
    }

    #[test]
    fn overflow_is_refused() {
        assert_eq!(parse_duration("18446744073709551615"), Ok(Duration::from_secs(u64::MAX)));
        assert_eq!(parse_duration("18446744073709551616"), Err(DurationError::TooLarge));
        assert_eq!(parse_duration("213503982334601d"), Ok(Duration::from_secs(213_503_982_334_601 * 86_400)));
        assert_eq!(parse_duration("213503982334602d"), Err(DurationError::TooLarge));
        assert_eq!(parse_duration(&"9".repeat(60)), Err(DurationError::TooLarge));
        assert_eq!(
            parse_ttl("99999999999999999999d"),
            Err("invalid duration '99999999999999999999d': too large".to_owned())
        );
    }

    #[test]
    fn ttl_and_grace_take_whole_seconds() {
        assert_eq!(parse_ttl("15m"), Ok(900));
        assert_eq!(parse_ttl("1.5m"), Ok(90));
        assert_eq!(parse_grace("0"), Ok(0));
        assert_eq!(parse_grace("5m"), Ok(300));
        assert_eq!(
            parse_ttl("15x"),
            Err("invalid duration '15x': use a number of seconds or a number with s, m, h or d, e.g. 90, 90s, 15m, 2h, 1d"
                .to_owned())
        );
        for text in ["500ms", "0.5", "1.5s"] {
            let error = parse_ttl(text).unwrap_err();
            assert!(error.contains("whole number of seconds"), "{error}");
        }
        assert!(parse_ttl("0").unwrap_err().contains("at least 1s"));
        assert!(parse_ttl("0d").is_err());
    }

    #[test]
    fn timeouts_take_fractions_of_a_second() {
        assert_eq!(parse_timeout("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_timeout("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_timeout("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_timeout("0").unwrap_err().contains("more than 0"));
        assert!(parse_timeout("0ms").is_err());
        assert!(parse_timeout("15x").unwrap_err().contains("ms, s, m, h or d"));
    }
}
