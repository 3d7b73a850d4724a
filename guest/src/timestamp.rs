//! Timestamps: written as `YYYY-MM-DDTHH:MM:SSZ` in UTC, as the design
//! document shows; read tolerantly, because other services write them too
//! (Python's `isoformat()` gives fractional seconds, `+00:00`, or no offset
//! at all for naive datetimes).

use std::fmt;

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// A point in time, in milliseconds since the Unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub fn from_unix_millis(millis: i64) -> Self {
        Timestamp(millis)
    }

    pub fn unix_millis(self) -> i64 {
        self.0
    }

    /// Parses what services write: RFC 3339 with any offset and optional
    /// fractional seconds, a space instead of `T`, or no offset (taken as UTC).
    pub fn parse(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        let normalised: String = if trimmed.len() > 10 && trimmed.as_bytes()[10] == b' ' {
            format!("{}T{}", &trimmed[..10], &trimmed[11..])
        } else {
            trimmed.to_owned()
        };
        let normalised = normalised.replace('t', "T").replace('z', "Z");
        let parsed = OffsetDateTime::parse(&normalised, &Rfc3339).or_else(|_| {
            let naive = format_description!(
                version = 2,
                "[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]]"
            );
            PrimitiveDateTime::parse(&normalised, naive).map(|dt| dt.assume_offset(UtcOffset::UTC))
        });
        match parsed {
            Ok(datetime) => {
                let millis = datetime.unix_timestamp_nanos() / 1_000_000;
                i64::try_from(millis).map(Timestamp).map_err(|_| format!("timestamp {text:?} is out of range"))
            }
            Err(_) => Err(format!("{text:?} is not a timestamp like 2025-04-01T14:30:00Z")),
        }
    }
}

impl fmt::Display for Timestamp {
    /// `YYYY-MM-DDTHH:MM:SSZ`, whole seconds, UTC.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.0.div_euclid(1000);
        let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
        match OffsetDateTime::from_unix_timestamp(seconds).ok().and_then(|dt| dt.format(format).ok()) {
            Some(text) => f.write_str(&text),
            // Unreachable for clocks after year 0; never panic over it.
            None => write!(f, "@{seconds}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const APRIL_FIRST: i64 = 1_743_517_800_000; // 2025-04-01T14:30:00Z

    #[test]
    fn formats_as_the_design_document() {
        assert_eq!(Timestamp::from_unix_millis(APRIL_FIRST).to_string(), "2025-04-01T14:30:00Z");
        assert_eq!(Timestamp::from_unix_millis(APRIL_FIRST + 999).to_string(), "2025-04-01T14:30:00Z");
    }

    #[test]
    fn reads_what_other_services_write() {
        for (text, millis) in [
            ("2025-04-01T14:30:00Z", APRIL_FIRST),
            ("2025-04-01T14:30:00.250Z", APRIL_FIRST + 250),
            ("2025-04-01T14:30:00+00:00", APRIL_FIRST),
            ("2025-04-01T14:30:00.123456+00:00", APRIL_FIRST + 123),
            ("2025-04-01T16:30:00+02:00", APRIL_FIRST),
            ("2025-04-01T14:30:00", APRIL_FIRST),
            ("2025-04-01T14:30:00.5", APRIL_FIRST + 500),
            ("2025-04-01 14:30:00+00:00", APRIL_FIRST),
            ("2025-04-01t14:30:00z", APRIL_FIRST),
        ] {
            assert_eq!(Timestamp::parse(text), Ok(Timestamp::from_unix_millis(millis)), "{text}");
        }
    }

    #[test]
    fn rejects_garbage() {
        for text in ["", "yesterday", "2025-13-01T00:00:00Z", "2025-04-01", "1743517800", "2025-04-01T14:30:00+25:00"] {
            assert!(Timestamp::parse(text).is_err(), "{text} was accepted");
        }
    }
}
