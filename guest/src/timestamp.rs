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
        if let Some(timestamp) = Self::parse_canonical(text) {
            return Ok(timestamp);
        }
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

// The layout's own format is read and written on every operation; these
// fast paths handle it without the general parser and formatter (a few
// times faster inside the component), and fall back to them otherwise.
impl Timestamp {
    /// `YYYY-MM-DDTHH:MM:SSZ` exactly, years 1970 to 9999.
    fn parse_canonical(text: &str) -> Option<Self> {
        let b = text.as_bytes();
        if b.len() != 20
            || b[4] != b'-'
            || b[7] != b'-'
            || b[10] != b'T'
            || b[13] != b':'
            || b[16] != b':'
            || b[19] != b'Z'
        {
            return None;
        }
        let number = |range: std::ops::Range<usize>| -> Option<i64> {
            b[range].iter().try_fold(0i64, |n, &c| c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0')))
        };
        let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
        let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
        let days_in_month = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
            2 => 28,
            _ => return None,
        };
        if year < 1970 || day < 1 || day > days_in_month || hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        let days = days_from_civil(year, month, day);
        Some(Timestamp((days * 86_400 + hour * 3600 + minute * 60 + second) * 1000))
    }

    /// Writes the canonical form for years 1970 to 9999; `None` otherwise.
    fn format_canonical(self) -> Option<[u8; 20]> {
        let seconds = self.0.div_euclid(1000);
        let (days, second_of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
        let (year, month, day) = civil_from_days(days);
        if !(1970..=9999).contains(&year) {
            return None;
        }
        let mut out = *b"0000-00-00T00:00:00Z";
        let mut put = |at: usize, value: i64, width: usize| {
            let mut value = value;
            for i in (0..width).rev() {
                out[at + i] = b'0' + (value % 10) as u8;
                value /= 10;
            }
        };
        put(0, year, 4);
        put(5, month, 2);
        put(8, day, 2);
        put(11, second_of_day / 3600, 2);
        put(14, second_of_day % 3600 / 60, 2);
        put(17, second_of_day % 60, 2);
        Some(out)
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl fmt::Display for Timestamp {
    /// `YYYY-MM-DDTHH:MM:SSZ`, whole seconds, UTC.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(text) = self.format_canonical() {
            // Only ASCII digits and separators were written.
            return f.write_str(std::str::from_utf8(&text).unwrap_or_default());
        }
        let seconds = self.0.div_euclid(1000);
        let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
        match OffsetDateTime::from_unix_timestamp(seconds).ok().and_then(|dt| dt.format(format).ok()) {
            Some(text) => f.write_str(&text),
            // Unreachable for clocks after year 0; never panic over it.
            None => write!(f, "@{seconds}"),
        }
    }
}

/// In JSON a timestamp is its text, `YYYY-MM-DDTHH:MM:SSZ`; reading accepts
/// what [`Timestamp::parse`] accepts.
impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a timestamp like 2025-04-01T14:30:00Z")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Timestamp, E> {
                Timestamp::parse(text).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

#[cfg(feature = "schema")]
impl schemars::JsonSchema for Timestamp {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Timestamp".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "UTC, written as YYYY-MM-DDTHH:MM:SSZ; read as any RFC 3339 time",
            "examples": ["2025-04-01T14:30:00Z"]
        })
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
    fn fast_paths_agree_with_the_general_parser_and_formatter() {
        // Every day from 1970 to 2100 at a few times of day, and leap days.
        let mut millis = 0i64;
        while millis < 4_102_444_800_000 {
            for offset in [0, 1_000, 3_599_000, 86_399_000] {
                let timestamp = Timestamp::from_unix_millis(millis + offset);
                let fast = timestamp.format_canonical().map(|b| String::from_utf8(b.to_vec()).unwrap());
                let seconds = (millis + offset) / 1000;
                let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
                let general = OffsetDateTime::from_unix_timestamp(seconds).unwrap().format(format).unwrap();
                assert_eq!(fast.as_deref(), Some(general.as_str()));
                assert_eq!(Timestamp::parse_canonical(&general), Some(Timestamp::from_unix_millis(seconds * 1000)));
            }
            millis += 86_400_000;
        }
        for bad in ["2025-02-29T00:00:00Z", "2025-04-31T00:00:00Z", "2025-04-01T24:00:00Z", "1969-12-31T23:59:59Z"] {
            assert_eq!(Timestamp::parse_canonical(bad), None, "{bad}");
        }
        assert!(Timestamp::parse_canonical("2024-02-29T12:00:00Z").is_some());
    }

    #[test]
    fn rejects_garbage() {
        for text in ["", "yesterday", "2025-13-01T00:00:00Z", "2025-04-01", "1743517800", "2025-04-01T14:30:00+25:00"] {
            assert!(Timestamp::parse(text).is_err(), "{text} was accepted");
        }
    }
}
