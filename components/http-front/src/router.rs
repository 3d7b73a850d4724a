//! Matching a request line against the route table, and the percent
//! decoding of paths and queries.

use crate::routes::{Method, ROUTES, Route};

/// The outcome of matching a method and path.
#[derive(Debug)]
pub enum Match {
    /// A route, with its path parameters (raw, still percent-encoded) in
    /// template order.
    Found(&'static Route, Vec<(&'static str, String)>),
    /// The path exists, not with this method; the methods it has.
    MethodNotAllowed(Vec<Method>),
    NotFound,
}

/// Matches `path` (without the query) against every route's template.
pub fn route(method: &str, path: &str) -> Match {
    let segments: Vec<&str> = split(path);
    let mut allowed = Vec::new();
    for row in ROUTES {
        let Some(params) = match_template(row.path, &segments) else { continue };
        if Method::parse(method) == Some(row.method) {
            return Match::Found(row, params);
        }
        if !allowed.contains(&row.method) {
            allowed.push(row.method);
        }
    }
    if allowed.is_empty() { Match::NotFound } else { Match::MethodNotAllowed(allowed) }
}

/// Every method a path template has (for `Allow`).
pub fn allow_header(methods: &[Method]) -> String {
    methods.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", ")
}

fn split(path: &str) -> Vec<&str> {
    // "/" is the empty path: no segments. Otherwise each "/" starts one,
    // so "/sessions/" has an empty last segment and matches no route.
    match path.strip_prefix('/') {
        Some("") | None => Vec::new(),
        Some(rest) => rest.split('/').collect(),
    }
}

fn match_template(template: &'static str, segments: &[&str]) -> Option<Vec<(&'static str, String)>> {
    let parts = split(template);
    if parts.len() != segments.len() {
        return None;
    }
    let mut params = Vec::new();
    for (part, segment) in parts.iter().zip(segments) {
        if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            // An empty id is no id: `/sessions//extend` is not a route.
            if segment.is_empty() {
                return None;
            }
            params.push((name, (*segment).to_string()));
        } else if part != segment {
            return None;
        }
    }
    Some(params)
}

/// Splits a request target into its path and query ("" when none).
pub fn split_target(target: &str) -> (&str, &str) {
    // A fragment never reaches a server, but drop one if it does.
    let target = target.split('#').next().unwrap_or("");
    match target.split_once('?') {
        Some((path, query)) => (path, query),
        None => (target, ""),
    }
}

/// Percent-decodes a path segment (`+` stays a plus); None when the
/// result is not UTF-8.
pub fn decode_segment(text: &str) -> Option<String> {
    decode(text, false)
}

/// Query pairs, decoded the `application/x-www-form-urlencoded` way
/// (`+` is a space); a pair that does not decode to UTF-8 is an error
/// naming its parameter.
pub fn parse_query(query: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = decode(name, true).ok_or_else(|| "a query parameter's name is not UTF-8".to_string())?;
        let value = decode(value, true).ok_or_else(|| format!("{name}: not UTF-8 once percent-decoded"))?;
        pairs.push((name, value));
    }
    Ok(pairs)
}

fn decode(text: &str, plus_is_space: bool) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() && hex(bytes[i + 1]).is_some() && hex(bytes[i + 2]).is_some() => {
                out.push(hex(bytes[i + 1])? * 16 + hex(bytes[i + 2])?);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            // A `%` not followed by two hex digits stays as it is.
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn hex(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Percent-encodes a path segment (for `Location`).
pub fn encode_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::Op;

    fn op(method: &str, path: &str) -> Option<Op> {
        match route(method, path) {
            Match::Found(row, _) => Some(row.op),
            _ => None,
        }
    }

    #[test]
    fn every_route_matches_its_own_template() {
        for row in ROUTES {
            let path = row.path.replace("{id}", "abc").replace("{app}", "chat");
            assert_eq!(op(row.method.as_str(), &path), Some(row.op), "{} {}", row.method.as_str(), row.path);
        }
    }

    #[test]
    fn literal_segments_win_over_parameters_by_shape() {
        assert_eq!(op("POST", "/sessions/x/items/pop"), Some(Op::PopItem));
        assert_eq!(op("GET", "/sessions/x/items/count"), Some(Op::CountItems));
        assert_eq!(op("GET", "/sessions/count"), Some(Op::Get));
    }

    #[test]
    fn parameters_come_back_raw() {
        let Match::Found(row, params) = route("GET", "/apps/my%20app/sessions") else { panic!("no match") };
        assert_eq!(row.op, Op::ListByOwner);
        assert_eq!(params, vec![("app", "my%20app".to_string())]);
    }

    #[test]
    fn wrong_method_lists_the_allowed_ones() {
        match route("PUT", "/sessions/x") {
            Match::MethodNotAllowed(methods) => assert_eq!(allow_header(&methods), "GET, PATCH, DELETE"),
            other => panic!("{other:?}"),
        }
        match route("GET", "/cleanup") {
            Match::MethodNotAllowed(methods) => assert_eq!(allow_header(&methods), "POST"),
            other => panic!("{other:?}"),
        }
        match route("DELETE", "/sessions/x/items/pop") {
            Match::MethodNotAllowed(methods) => assert_eq!(allow_header(&methods), "POST"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_paths_are_not_found() {
        for path in ["/", "", "/nope", "/sessions/", "/sessions//extend", "/sessions/x/y", "/sessions/x/items/pop/z"] {
            assert!(matches!(route("GET", path), Match::NotFound), "{path}");
        }
    }

    #[test]
    fn targets_split_into_path_and_query() {
        assert_eq!(split_target("/sessions?limit=5"), ("/sessions", "limit=5"));
        assert_eq!(split_target("/sessions"), ("/sessions", ""));
        assert_eq!(split_target("/a?b=c#frag"), ("/a", "b=c"));
    }

    #[test]
    fn decoding() {
        assert_eq!(decode_segment("a%2Fb+c").as_deref(), Some("a/b+c"));
        assert_eq!(decode_segment("%zz%4").as_deref(), Some("%zz%4"));
        assert_eq!(decode_segment("%C3%A9").as_deref(), Some("é"));
        assert_eq!(decode_segment("%FF"), None);
        let pairs = parse_query("user_id=a+b%21&limit=5&&flag").unwrap();
        assert_eq!(
            pairs,
            vec![("user_id".into(), "a b!".into()), ("limit".into(), "5".into()), ("flag".into(), String::new())]
        );
        assert!(parse_query("x=%FF").unwrap_err().starts_with("x:"));
        assert_eq!(encode_segment("a b/é"), "a%20b%2F%C3%A9");
    }
}
