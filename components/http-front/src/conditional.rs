//! ETag and If-Match: the session version as a strong entity tag.

/// What an `If-Match` header asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IfMatch {
    /// No header: no condition.
    Absent,
    /// `*`: any current version (no compare-and-set).
    Any,
    /// This version exactly.
    Version(u64),
}

impl IfMatch {
    pub fn version(self) -> Option<u64> {
        match self {
            IfMatch::Version(v) => Some(v),
            _ => None,
        }
    }
}

/// The ETag of a version: a strong quoted tag, `"7"`.
pub fn etag(version: u64) -> String {
    format!("\"{version}\"")
}

/// Parses an `If-Match` value: `"7"`, `7` or `*`. Weak tags (`W/"7"`) and
/// lists are refused: a version is one strong tag, and compare-and-set
/// takes one version.
pub fn parse_if_match(value: Option<&str>) -> Result<IfMatch, String> {
    let Some(value) = value else { return Ok(IfMatch::Absent) };
    let value = value.trim();
    if value == "*" {
        return Ok(IfMatch::Any);
    }
    let digits = match value.strip_prefix('"') {
        Some(rest) => rest.strip_suffix('"').ok_or_else(|| bad(value))?,
        None => value,
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(value));
    }
    digits.parse::<u64>().map(IfMatch::Version).map_err(|_| bad(value))
}

fn bad(value: &str) -> String {
    // The value is the caller's own header; short enough to echo safely.
    let shown: String = value.chars().take(40).collect();
    format!("If-Match must be one version as an entity tag (\"7\"), a bare number or *, got {shown:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_forms() {
        assert_eq!(parse_if_match(None), Ok(IfMatch::Absent));
        assert_eq!(parse_if_match(Some("*")), Ok(IfMatch::Any));
        assert_eq!(parse_if_match(Some(" \"7\" ")), Ok(IfMatch::Version(7)));
        assert_eq!(parse_if_match(Some("12")), Ok(IfMatch::Version(12)));
        assert_eq!(parse_if_match(Some("\"18446744073709551615\"")), Ok(IfMatch::Version(u64::MAX)));
    }

    #[test]
    fn refused_forms() {
        for value in
            ["", "\"\"", "W/\"7\"", "\"7\", \"8\"", "\"7", "7\"", "-1", "+1", "1.0", "abc", "\"18446744073709551616\""]
        {
            assert!(parse_if_match(Some(value)).is_err(), "{value}");
        }
    }

    #[test]
    fn etags_round_trip() {
        assert_eq!(etag(7), "\"7\"");
        assert_eq!(parse_if_match(Some(&etag(42))), Ok(IfMatch::Version(42)));
    }
}
