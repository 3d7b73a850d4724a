//! RFC 9457 problem documents: every error the API returns.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use serde_json::{Map, Value, json};

use crate::repository::{RepoError, StorageKind};

/// Where problem `type` URIs live; the kind follows.
pub const TYPE_BASE: &str = "https://agent-sessions.dev/problems/";

/// One error response.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    pub status: u16,
    pub kind: &'static str,
    pub detail: String,
    pub field: Option<String>,
    /// The corruption document of `data_corrupt`.
    pub corruption: Option<Box<Value>>,
    /// Extra response headers (`Allow`, `WWW-Authenticate`).
    pub headers: Vec<(&'static str, String)>,
}

impl Problem {
    pub fn new(status: u16, kind: &'static str, detail: impl Into<String>) -> Problem {
        Problem { status, kind, detail: detail.into(), field: None, corruption: None, headers: Vec::new() }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Problem {
        self.field = Some(field.into());
        self
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Problem {
        self.headers.push((name, value.into()));
        self
    }

    /// A request that is malformed in itself (query, header): 400.
    pub fn bad_request(field: &str, detail: impl Into<String>) -> Problem {
        Problem::new(400, "invalid_input", detail).with_field(field)
    }

    pub fn title(&self) -> &'static str {
        title(self.kind)
    }

    /// The `application/problem+json` body.
    pub fn body(&self) -> String {
        let mut doc = Map::new();
        doc.insert("type".into(), json!(format!("{TYPE_BASE}{}", self.kind)));
        doc.insert("title".into(), json!(self.title()));
        doc.insert("status".into(), json!(self.status));
        doc.insert("detail".into(), json!(self.detail));
        doc.insert("kind".into(), json!(self.kind));
        if let Some(field) = &self.field {
            doc.insert("field".into(), json!(field));
        }
        if let Some(corruption) = &self.corruption {
            doc.insert("corruption".into(), (**corruption).clone());
        }
        Value::Object(doc).to_string()
    }
}

/// Every kind the API returns, with its title; the OpenAPI document lists
/// them as the problem schema's `kind` enum.
pub const KINDS: &[(&str, &str)] = &[
    ("invalid_input", "Invalid input"),
    ("malformed_json", "Malformed JSON"),
    ("not_found", "Not found"),
    ("conflict", "Conflict"),
    ("precondition_failed", "Precondition failed"),
    ("data_corrupt", "Stored data is corrupt"),
    ("layout_mismatch", "Storage key layout does not fit the settings"),
    ("unavailable", "Storage unavailable"),
    ("timeout", "Storage timeout"),
    ("wrong_type", "Storage error: wrong type"),
    ("invalid_batch", "Storage error: invalid batch"),
    ("other", "Storage error"),
    ("unauthorized", "Unauthorized"),
    ("payload_too_large", "Payload too large"),
    ("unsupported_media_type", "Unsupported media type"),
    ("method_not_allowed", "Method not allowed"),
];

fn title(kind: &str) -> &'static str {
    KINDS.iter().find(|(k, _)| *k == kind).map_or("Error", |(_, title)| title)
}

/// How the request that failed was made, which decides a conflict's status.
#[derive(Clone, Copy, Debug, Default)]
pub struct Context {
    /// The request carried an `If-Match` with a version.
    pub if_match: bool,
    /// The operation creates (a conflict is an id taken).
    pub creates: bool,
}

/// A repository error as a problem.
pub fn from_repo(error: RepoError, context: Context) -> Problem {
    match error {
        RepoError::InvalidInput(message) => {
            let field = field_of(&message);
            let problem = Problem::new(422, "invalid_input", message);
            match field {
                Some(field) => problem.with_field(field),
                None => problem,
            }
        }
        RepoError::NotFound(message) => Problem::new(404, "not_found", message),
        RepoError::Conflict(message) if context.if_match && !context.creates => {
            Problem::new(412, "precondition_failed", message)
        }
        RepoError::Conflict(message) => Problem::new(409, "conflict", message),
        RepoError::DataCorrupt(document) => {
            // The detail is the document's message; the document rides along.
            match serde_json::from_str::<Value>(&document) {
                Ok(value) => {
                    let message = value.get("message").and_then(Value::as_str).unwrap_or(&document).to_string();
                    let mut problem = Problem::new(500, "data_corrupt", message);
                    problem.corruption = Some(Box::new(value));
                    problem
                }
                Err(_) => Problem::new(500, "data_corrupt", document),
            }
        }
        RepoError::Backend(kind, message) => {
            let (status, kind) = match kind {
                StorageKind::Unavailable => (503, "unavailable"),
                StorageKind::Timeout => (504, "timeout"),
                StorageKind::WrongType => (500, "wrong_type"),
                StorageKind::InvalidBatch => (500, "invalid_batch"),
                StorageKind::Other => (500, "other"),
            };
            Problem::new(status, kind, message)
        }
    }
}

/// The field an invalid-input message names, if it names one. The guest's
/// messages start with the field (`temperature must be ...`, `tools[2]
/// must ...`, `owner.user_id: expected a string`), after the document's
/// name when the JSON did not read (`session-update: temperature: ...`);
/// serde names missing and unknown fields in backticks.
pub fn field_of(message: &str) -> Option<String> {
    let mut rest = message;
    // The document name the component puts in front of decoding errors.
    if let Some((head, tail)) = rest.split_once(": ")
        && DOCUMENTS.contains(&head)
    {
        rest = tail;
    }
    // The id checks name the id in prose: `session id "x" is neither ...`.
    if rest.starts_with("session id ") {
        return Some("id".to_string());
    }
    let path = leading_path(rest);
    if let Some(path) = path {
        let after = &rest[path.len()..];
        let known = known_names().contains(base_name(path));
        // `app_name "" must be ...` quotes the value after the name.
        let separators = [": ", " must ", " is ", " may ", " lists ", " \""];
        if known && separators.iter().any(|s| after.starts_with(s)) {
            // `owner: missing field `user_id``: the missing one is deeper.
            if let Some(inner) = after.strip_prefix(": ").and_then(backticked_field) {
                return Some(format!("{path}.{inner}"));
            }
            return Some(path.to_string());
        }
    }
    backticked_field(rest).map(str::to_string)
}

/// Names of the documents the component reads (its messages' prefixes).
const DOCUMENTS: &[&str] =
    &["session-create", "session-update", "items-append", "items-query", "item-options", "stats"];

fn leading_path(text: &str) -> Option<&str> {
    let end = text
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']')))
        .map_or(text.len(), |(i, _)| i);
    let path = text[..end].trim_end_matches('.');
    if path.is_empty() || !path.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') { None } else { Some(path) }
}

fn base_name(path: &str) -> &str {
    path.split(['.', '[']).next().unwrap_or(path)
}

fn backticked_field(text: &str) -> Option<&str> {
    for marker in ["missing field `", "unknown field `", "duplicate field `"] {
        if let Some(at) = text.find(marker) {
            let rest = &text[at + marker.len()..];
            return rest.split_once('`').map(|(name, _)| name);
        }
    }
    None
}

/// Property names of every document in the schema, and the query
/// parameters: the words a message may start with that are fields.
fn known_names() -> &'static BTreeSet<String> {
    static NAMES: OnceLock<BTreeSet<String>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let mut names = BTreeSet::new();
        if let Ok(schema) = serde_json::from_str::<Value>(crate::openapi::SCHEMA) {
            collect_properties(&schema, &mut names);
        }
        for row in crate::routes::ROUTES {
            names.extend(row.query.iter().map(|p| p.name.to_string()));
        }
        names
    })
}

fn collect_properties(value: &Value, names: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Object(properties)) = map.get("properties") {
                names.extend(properties.keys().cloned());
            }
            map.values().for_each(|v| collect_properties(v, names));
        }
        Value::Array(values) => values.iter().for_each(|v| collect_properties(v, names)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_named_by_the_guests_messages() {
        let cases = [
            ("temperature must be between 0.0 and 2.0, got 3", Some("temperature")),
            ("tools[2] must not be blank", Some("tools[2]")),
            ("tools lists \"x\" twice (entries 0 and 1)", Some("tools")),
            ("model_id is required and must not be blank", Some("model_id")),
            ("session-update: temperature: invalid type: string \"hot\", expected f64", Some("temperature")),
            ("session-create: missing field `x`", Some("x")),
            ("session-create: unknown field `colour`, expected one of `id`, `model_id`", Some("colour")),
            ("items-append: owner: missing field `user_id`", Some("owner.user_id")),
            ("items-append: state_delta.x: invalid type", Some("state_delta.x")),
            ("limit must be at most 1000, got 5000", Some("limit")),
            ("keep_last must be from 1 to 10000, not 0", Some("keep_last")),
            ("give both app_name and user_id, or neither", None),
            ("app_name \"\" must be 1 to 128 characters without control characters", Some("app_name")),
            ("session id \"a b\" is neither a UUID nor 1 to 128 characters", Some("id")),
            ("give either last or start/stop, not both", None),
            ("the session is gone", None),
            ("stats cursor \"x\" was not returned by stats", None),
            ("session-create: expected value", None),
        ];
        for (message, field) in cases {
            assert_eq!(field_of(message).as_deref(), field, "{message}");
        }
    }

    #[test]
    fn statuses_and_kinds() {
        let plain = Context::default();
        let guarded = Context { if_match: true, creates: false };
        let creating = Context { if_match: true, creates: true };
        let cases = [
            (RepoError::InvalidInput("limit must be at most 1000".into()), plain, 422, "invalid_input"),
            (RepoError::NotFound("x".into()), guarded, 404, "not_found"),
            (RepoError::Conflict("x".into()), plain, 409, "conflict"),
            (RepoError::Conflict("x".into()), guarded, 412, "precondition_failed"),
            (RepoError::Conflict("x".into()), creating, 409, "conflict"),
            (RepoError::Backend(StorageKind::Unavailable, "down".into()), plain, 503, "unavailable"),
            (RepoError::Backend(StorageKind::Timeout, "slow".into()), plain, 504, "timeout"),
            (RepoError::Backend(StorageKind::WrongType, "t".into()), plain, 500, "wrong_type"),
            (RepoError::Backend(StorageKind::InvalidBatch, "b".into()), plain, 500, "invalid_batch"),
            (RepoError::Backend(StorageKind::Other, "o".into()), plain, 500, "other"),
        ];
        for (error, context, status, kind) in cases {
            let problem = from_repo(error, context);
            assert_eq!((problem.status, problem.kind), (status, kind));
            assert!(KINDS.iter().any(|(k, _)| *k == kind));
        }
    }

    #[test]
    fn corruption_rides_along() {
        let doc = r#"{"session_id":"a","key":"session:a","field":"temperature","message":"not a number"}"#;
        let problem = from_repo(RepoError::DataCorrupt(doc.into()), Context::default());
        assert_eq!(problem.status, 500);
        assert_eq!(problem.detail, "not a number");
        let body: Value = serde_json::from_str(&problem.body()).unwrap();
        assert_eq!(body["corruption"]["field"], "temperature");
        assert_eq!(body["type"], "https://agent-sessions.dev/problems/data_corrupt");
        assert_eq!(body["status"], 500);
    }

    #[test]
    fn body_has_the_rfc_9457_members() {
        let body: Value = serde_json::from_str(&Problem::bad_request("limit", "limit: not a number").body()).unwrap();
        assert_eq!(body["title"], "Invalid input");
        assert_eq!(body["kind"], "invalid_input");
        assert_eq!(body["field"], "limit");
        assert_eq!(body["status"], 400);
        assert_eq!(body["detail"], "limit: not a number");
    }
}
