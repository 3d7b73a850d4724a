//! How session values become hash fields and back.
//!
//! Writing is exact and matches the design document's example (`0.7`, `5`,
//! `2000`, tools as a JSON array, `true`/`false`, `2025-04-01T14:30:00Z`).
//! Reading is tolerant of what other services write (see `timestamp`, and
//! "" / `None` / `null` for absent values) and reports anything it cannot
//! decode as a [`Corruption`] naming the key and field.

use crate::model::{Corruption, FieldValue, JsonType, Session, SessionData, SessionMeta, data_fields};
use crate::timestamp::Timestamp;

/// Meta hash fields: the design document's five, then ours.
pub mod meta_field {
    pub const CREATED_AT: &str = "created_at";
    pub const UPDATED_AT: &str = "updated_at";
    pub const LAST_ACTIVITY: &str = "last_activity";
    pub const IS_ACTIVE: &str = "is_active";
    pub const STATUS: &str = "status";
    /// Incremented by every update; the basis of compare-and-set.
    pub const VERSION: &str = "version";
    /// Layout version of the session's keys, for future migrations.
    pub const SCHEMA_VERSION: &str = "schema_version";
    /// The owner (both or neither), for frameworks that scope sessions by
    /// app and user; written at create only.
    pub const APP_NAME: &str = "app_name";
    pub const USER_ID: &str = "user_id";
    /// `updated_at` in milliseconds: the owner indexes' score.
    pub const UPDATED_AT_MS: &str = "updated_at_ms";
}

/// The data fields, in the order `get` asks Redis for them (the table's,
/// `model::SESSION_FIELDS`).
pub const DATA_FIELDS: [&str; crate::model::DATA_FIELD_COUNT] = crate::model::DATA_FIELD_NAMES;

/// The meta fields `get` reads, in order.
pub const META_FIELDS: [&str; 9] = [
    meta_field::CREATED_AT,
    meta_field::UPDATED_AT,
    meta_field::LAST_ACTIVITY,
    meta_field::IS_ACTIVE,
    meta_field::STATUS,
    meta_field::VERSION,
    meta_field::SCHEMA_VERSION,
    meta_field::APP_NAME,
    meta_field::USER_ID,
];

/// What was read of one hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HashContents {
    /// Every field (HGETALL); empty when the hash is missing.
    Fields(Vec<(String, String)>),
    /// The values of `names`, in order (HMGET); all `None` when the hash
    /// is missing. Reading only the known fields halves what crosses the
    /// component boundary.
    Values { names: &'static [&'static str], values: Vec<Option<String>> },
}

/// The layout version this guest writes.
pub const CURRENT_SCHEMA_VERSION: &str = "1";

pub fn encode_optional_text(value: &Option<String>) -> String {
    value.clone().unwrap_or_default()
}

/// Shortest text that reads back as the same number, with `.0` on whole
/// numbers as Python's `str(float)` writes them.
pub fn encode_float(value: f64) -> String {
    let text = value.to_string();
    if text.contains(['.', 'e', 'E']) || !value.is_finite() { text } else { format!("{text}.0") }
}

pub fn encode_optional_float(value: Option<f64>) -> String {
    value.map(encode_float).unwrap_or_default()
}

pub fn encode_optional_integer(value: Option<i64>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

/// A JSON array with `", "` between items, as Python's `json.dumps` writes
/// it and the design document shows it: `["search", "code_analysis"]`.
pub fn encode_tools(tools: &[String]) -> String {
    let items: Vec<String> = tools
        .iter()
        // Serialising a string cannot fail.
        .map(|tool| serde_json::to_string(tool).unwrap_or_default())
        .collect();
    format!("[{}]", items.join(", "))
}

pub fn encode_bool(value: bool) -> &'static str {
    if value { "true" } else { "false" }
}

/// A data field's value as its hash field holds it ("" when absent).
pub fn encode_value(value: &FieldValue) -> String {
    match value {
        FieldValue::Text(text) => encode_optional_text(text),
        FieldValue::Number(number) => encode_optional_float(*number),
        FieldValue::Integer(number) => encode_optional_integer(*number),
        FieldValue::List(list) => encode_tools(list),
    }
}

/// All nine data fields, as stored on create.
pub fn encode_data(data: &SessionData) -> Vec<(String, String)> {
    data_fields().iter().map(|field| (field.name.to_owned(), encode_value(&(field.access().get)(data)))).collect()
}

/// Every meta field, as stored on create.
pub fn encode_meta(meta: &SessionMeta) -> Vec<(String, String)> {
    use meta_field::*;
    let mut fields = vec![
        (CREATED_AT.into(), meta.created_at.to_string()),
        (UPDATED_AT.into(), meta.updated_at.to_string()),
        (LAST_ACTIVITY.into(), meta.last_activity.to_string()),
        (IS_ACTIVE.into(), encode_bool(meta.is_active).into()),
        (STATUS.into(), meta.status.clone()),
        (VERSION.into(), meta.version.to_string()),
        (SCHEMA_VERSION.into(), CURRENT_SCHEMA_VERSION.into()),
    ];
    if let (Some(app_name), Some(user_id)) = (&meta.app_name, &meta.user_id) {
        fields.push((APP_NAME.into(), app_name.clone()));
        fields.push((USER_ID.into(), user_id.clone()));
    }
    fields
}

/// Decodes one session from its two hashes and the expiry key's TTL in
/// milliseconds (-1: no TTL).
pub fn decode_session(
    id: &str,
    data_key: &str,
    data: HashContents,
    meta_key: &str,
    meta: HashContents,
    expiry_ttl_ms: i64,
) -> Result<Session, Corruption> {
    let data = Fields { id, key: data_key, fields: data };
    let meta = Fields { id, key: meta_key, fields: meta };
    data.require_key()?;
    meta.require_key()?;

    let mut session_data = SessionData::default();
    for field in data_fields() {
        let name = field.name;
        let value = match field.json_type {
            JsonType::String if field.required => FieldValue::Text(Some(data.required(name)?.to_owned())),
            JsonType::Number => FieldValue::Number(data.decode_optional(name, decode_float)?),
            JsonType::Integer => FieldValue::Integer(data.decode_optional(name, decode_integer)?),
            JsonType::StringList => FieldValue::List(data.decode_optional(name, decode_tools)?.unwrap_or_default()),
            _ => FieldValue::Text(data.optional_text(name)),
        };
        (field.access().set)(&mut session_data, value);
    }

    use meta_field as m;
    let session_meta = SessionMeta {
        created_at: meta.decode_required(m::CREATED_AT, Timestamp::parse)?,
        updated_at: meta.decode_required(m::UPDATED_AT, Timestamp::parse)?,
        last_activity: meta.decode_required(m::LAST_ACTIVITY, Timestamp::parse)?,
        is_active: meta.decode_required(m::IS_ACTIVE, decode_bool)?,
        status: meta.required(m::STATUS)?.to_owned(),
        version: meta.decode_optional(m::VERSION, decode_version)?.unwrap_or(0),
        app_name: meta.optional_text(m::APP_NAME),
        user_id: meta.optional_text(m::USER_ID),
    };

    Ok(Session {
        id: id.to_owned(),
        data: session_data,
        meta: session_meta,
        expires_in_seconds: ttl_ms_to_seconds(expiry_ttl_ms),
    })
}

/// Remaining TTL in whole seconds, rounded up so a live session never shows 0.
pub fn ttl_ms_to_seconds(ttl_ms: i64) -> Option<u64> {
    u64::try_from(ttl_ms).ok().map(|ms| ms.div_ceil(1000))
}

struct Fields<'a> {
    id: &'a str,
    key: &'a str,
    fields: HashContents,
}

impl Fields<'_> {
    fn corruption(&self, field: &str, message: String) -> Corruption {
        Corruption { session_id: self.id.to_owned(), key: self.key.to_owned(), field: field.to_owned(), message }
    }

    fn require_key(&self) -> Result<(), Corruption> {
        let missing = match &self.fields {
            HashContents::Fields(fields) => fields.is_empty(),
            HashContents::Values { values, .. } => values.iter().all(Option::is_none),
        };
        if missing {
            return Err(self.corruption("", "the hash is missing while the session's expiry key exists".into()));
        }
        Ok(())
    }

    fn get(&self, field: &str) -> Option<&str> {
        match &self.fields {
            HashContents::Fields(fields) => {
                fields.iter().find(|(name, _)| name == field).map(|(_, value)| value.as_str())
            }
            HashContents::Values { names, values } => {
                let position = names.iter().position(|name| *name == field)?;
                values.get(position)?.as_deref()
            }
        }
    }

    fn required(&self, field: &str) -> Result<&str, Corruption> {
        self.get(field).ok_or_else(|| self.corruption(field, "the field is missing".into()))
    }

    fn decode_required<T>(&self, field: &str, decode: fn(&str) -> Result<T, String>) -> Result<T, Corruption> {
        decode(self.required(field)?).map_err(|message| self.corruption(field, message))
    }

    /// Missing, "", "None" and "null" are all absent.
    fn decode_optional<T>(&self, field: &str, decode: fn(&str) -> Result<T, String>) -> Result<Option<T>, Corruption> {
        match self.get(field) {
            None | Some("" | "None" | "null") => Ok(None),
            Some(text) => decode(text).map(Some).map_err(|message| self.corruption(field, message)),
        }
    }

    fn optional_text(&self, field: &str) -> Option<String> {
        self.get(field).filter(|text| !text.is_empty()).map(str::to_owned)
    }
}

fn decode_float(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(value) if value.is_finite() => Ok(value),
        _ => Err(format!("{} is not a finite number", crate::id::quote_for_message(text))),
    }
}

/// Whole numbers, also written as `5.0` by services that store floats.
fn decode_integer(text: &str) -> Result<i64, String> {
    let trimmed = text.trim();
    if let Ok(value) = trimmed.parse::<i64>() {
        return Ok(value);
    }
    match trimmed.parse::<f64>() {
        Ok(value) if value.fract() == 0.0 && value.abs() < 9.0e15 => Ok(value as i64),
        _ => Err(format!("{} is not a whole number", crate::id::quote_for_message(text))),
    }
}

fn decode_version(text: &str) -> Result<u64, String> {
    text.trim().parse::<u64>().map_err(|_| format!("{} is not a version number", crate::id::quote_for_message(text)))
}

fn decode_tools(text: &str) -> Result<Vec<String>, String> {
    serde_json::from_str::<Vec<String>>(text)
        .map_err(|_| format!("{} is not a JSON array of strings", crate::id::quote_for_message(text)))
}

/// `true`/`false`, and the spellings Python (`True`) and others (`1`) use.
pub(crate) fn decode_bool(text: &str) -> Result<bool, String> {
    match text.trim() {
        "true" | "True" | "TRUE" | "1" => Ok(true),
        "false" | "False" | "FALSE" | "0" => Ok(false),
        _ => Err(format!("{} is not true or false", crate::id::quote_for_message(text))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// The design document's data hash, as `schema/examples/session-data.json` holds it.
    fn document_data() -> Vec<(String, String)> {
        let fields: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(crate::model::EXAMPLE_SESSION_DATA).unwrap();
        fields.into_iter().map(|(field, value)| (field, value.as_str().unwrap().to_owned())).collect()
    }

    fn document_meta() -> Vec<(String, String)> {
        pairs(&[
            ("created_at", "2025-04-01T14:30:00Z"),
            ("updated_at", "2025-04-01T16:45:00Z"),
            ("last_activity", "2025-04-01T16:45:00Z"),
            ("is_active", "true"),
            ("status", "running"),
        ])
    }

    fn decode(data: Vec<(String, String)>, meta: Vec<(String, String)>) -> Result<Session, Corruption> {
        let session = decode_session(
            "id",
            "session:id:data",
            HashContents::Fields(data.clone()),
            "session:id:meta",
            HashContents::Fields(meta.clone()),
            1500,
        );
        // Reading by name (HMGET) must decode the same.
        let by_name = |names: &'static [&'static str], pairs: &[(String, String)]| HashContents::Values {
            names,
            values: names.iter().map(|n| pairs.iter().find(|(f, _)| f == n).map(|(_, v)| v.clone())).collect(),
        };
        let positional = decode_session(
            "id",
            "session:id:data",
            by_name(&DATA_FIELDS, &data),
            "session:id:meta",
            by_name(&META_FIELDS, &meta),
            1500,
        );
        assert_eq!(session, positional);
        session
    }

    #[test]
    fn floats_are_written_as_python_writes_them() {
        assert_eq!(encode_float(0.7), "0.7");
        assert_eq!(encode_float(1.0), "1.0");
        assert_eq!(encode_float(0.0), "0.0");
        assert_eq!(encode_float(2.0), "2.0");
        assert_eq!(encode_float(0.1 + 0.2), "0.30000000000000004");
    }

    #[test]
    fn tools_are_written_as_the_design_document_shows() {
        assert_eq!(encode_tools(&["search".into(), "code_analysis".into()]), r#"["search", "code_analysis"]"#);
        assert_eq!(encode_tools(&[]), "[]");
        assert_eq!(encode_tools(&["say \"hi\"".into()]), r#"["say \"hi\""]"#);
    }

    #[test]
    fn meta_carries_the_schema_version() {
        let session = decode(document_data(), document_meta()).unwrap();
        let meta = encode_meta(&session.meta);
        assert!(meta.contains(&("schema_version".to_owned(), "1".to_owned())));
        assert!(meta.contains(&("version".to_owned(), "0".to_owned())));
    }

    #[test]
    fn the_design_documents_example_decodes() {
        let session = decode(document_data(), document_meta()).unwrap();
        assert_eq!(session.data.temperature, Some(0.7));
        assert_eq!(session.data.reasoning_effort, Some(5));
        assert_eq!(session.data.max_tokens, Some(2000));
        assert_eq!(session.data.tools, vec!["search", "code_analysis"]);
        assert_eq!(session.meta.version, 0);
        assert_eq!(session.meta.created_at.to_string(), "2025-04-01T14:30:00Z");
        assert_eq!(session.expires_in_seconds, Some(2));
    }

    #[test]
    fn the_design_documents_example_is_written_as_it_shows_it() {
        let valid = crate::validation::validate_create(crate::model::SessionCreate::example()).unwrap();
        let written = encode_data(&valid.data);
        assert_eq!(written.iter().map(|(field, _)| field.as_str()).collect::<Vec<_>>(), DATA_FIELDS);
        let mut written = written;
        let mut document = document_data();
        written.sort();
        document.sort();
        assert_eq!(written, document);
    }

    #[test]
    fn every_data_field_reads_its_own_value() {
        let session = decode(document_data(), document_meta()).unwrap();
        for (field, (name, text)) in crate::model::data_fields().iter().zip(encode_data(&session.data)) {
            assert_eq!(field.name, name);
            assert_eq!(field.value_in(&session.data).map(|value| encode_value(&value)), Some(text));
        }
        assert_eq!(crate::model::session_field("status").and_then(|field| field.value_in(&session.data)), None);
    }

    #[test]
    fn encoding_round_trips() {
        let session = decode(document_data(), document_meta()).unwrap();
        let again = decode(encode_data(&session.data), encode_meta(&session.meta)).unwrap();
        assert_eq!(session.data, again.data);
        assert_eq!(session.meta, again.meta);
    }

    #[test]
    fn absent_values_have_several_spellings() {
        let mut data = pairs(&[("model_id", "m"), ("temperature", ""), ("max_tokens", "None"), ("tools", "")]);
        data.push(("reasoning_effort".into(), "null".into()));
        let session = decode(data, document_meta()).unwrap();
        assert_eq!(session.data.temperature, None);
        assert_eq!(session.data.max_tokens, None);
        assert_eq!(session.data.reasoning_effort, None);
        assert!(session.data.tools.is_empty());
    }

    #[test]
    fn undecodable_fields_name_key_and_field() {
        let cases: Vec<(&str, &str, &str)> = vec![
            ("data", "temperature", "warm"),
            ("data", "temperature", "NaN"),
            ("data", "max_tokens", "lots"),
            ("data", "tools", "search,code"),
            ("data", "tools", "[1, 2]"),
            ("meta", "created_at", "yesterday"),
            ("meta", "is_active", "maybe"),
            ("meta", "version", "-1"),
        ];
        for (hash, field, value) in cases {
            let (mut data, mut meta) = (document_data(), document_meta());
            let target = if hash == "data" { &mut data } else { &mut meta };
            target.retain(|(name, _)| name != field);
            target.push((field.into(), value.into()));
            let corruption = decode(data, meta).unwrap_err();
            assert_eq!(corruption.key, format!("session:id:{hash}"), "{field}={value}");
            assert_eq!(corruption.field, field);
        }
    }

    #[test]
    fn missing_hashes_and_fields_are_corrupt() {
        let corruption = decode(document_data(), vec![]).unwrap_err();
        assert_eq!((corruption.key.as_str(), corruption.field.as_str()), ("session:id:meta", ""));
        let mut meta = document_meta();
        meta.retain(|(name, _)| name != "status");
        assert_eq!(decode(document_data(), meta).unwrap_err().field, "status");
        let mut data = document_data();
        data.retain(|(name, _)| name != "model_id");
        assert_eq!(decode(data, document_meta()).unwrap_err().field, "model_id");
    }

    #[test]
    fn lenient_spellings_are_read() {
        let mut meta = document_meta();
        meta.retain(|(name, _)| name != "is_active");
        meta.push(("is_active".into(), "True".into()));
        let mut data = document_data();
        data.retain(|(name, _)| name != "max_tokens");
        data.push(("max_tokens".into(), "2000.0".into()));
        let session = decode(data, meta).unwrap();
        assert!(session.meta.is_active);
        assert_eq!(session.data.max_tokens, Some(2000));
    }

    #[test]
    fn ttl_rounds_up() {
        assert_eq!(ttl_ms_to_seconds(1), Some(1));
        assert_eq!(ttl_ms_to_seconds(1000), Some(1));
        assert_eq!(ttl_ms_to_seconds(1001), Some(2));
        assert_eq!(ttl_ms_to_seconds(-1), None);
    }
}
