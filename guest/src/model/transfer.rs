//! `export_sessions` and `import_sessions`: sessions as stored, records
//! to import, and what an import did.

#[cfg(feature = "schema")]
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Session, read_json_value};

/// A session as stored: both hashes byte for byte and the remaining TTL of
/// its expiry key (`None`: no TTL).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct StoredSession {
    pub id: String,
    #[serde(with = "hash_fields")]
    #[cfg_attr(feature = "schema", schemars(with = "BTreeMap<String, String>"))]
    pub data: Vec<(String, String)>,
    #[serde(with = "hash_fields")]
    #[cfg_attr(feature = "schema", schemars(with = "BTreeMap<String, String>"))]
    pub meta: Vec<(String, String)>,
    pub ttl_ms: Option<u64>,
    /// The conversation items as stored (each item's JSON text), oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<String>,
    /// The session's own state hash as stored (key to JSON text).
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "hash_fields")]
    #[cfg_attr(feature = "schema", schemars(with = "BTreeMap<String, String>"))]
    pub state: Vec<(String, String)>,
}

/// One page of `export_sessions`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ExportPage {
    pub cursor: String,
    pub done: bool,
    pub sessions: Vec<StoredSession>,
}

/// One session to import.
#[derive(Debug, Clone, PartialEq)]
pub enum ImportRecord {
    /// As exported: written back byte for byte.
    Stored(StoredSession),
    /// Typed, e.g. converted from another store: validated and encoded.
    Typed(Box<Session>),
    /// A record the host could not even convert (says why).
    Unreadable(String),
}

/// In JSON, a record is the object `sessions export` writes (`id`, `data`,
/// `meta`, `ttl_ms`: stored) or the one `get --json` prints (typed;
/// `updated_at` and `last_activity` default to `created_at`, `status` to
/// running, `version` to 0, `expires_in_seconds` to the session TTL). A
/// string is a record the host could not read, saying why.
impl Serialize for ImportRecord {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ImportRecord::Stored(stored) => stored.serialize(serializer),
            ImportRecord::Typed(session) => session.serialize(serializer),
            ImportRecord::Unreadable(message) => serializer.serialize_str(message),
        }
    }
}

impl<'de> Deserialize<'de> for ImportRecord {
    /// Never fails: what does not read is [`ImportRecord::Unreadable`].
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(ImportRecord::from_json(serde_json::Value::deserialize(deserializer)?))
    }
}

impl ImportRecord {
    pub fn from_json(value: serde_json::Value) -> Self {
        use serde_json::Value;
        let mut object = match value {
            Value::Object(object) => object,
            Value::String(message) => return ImportRecord::Unreadable(message),
            other => return ImportRecord::Unreadable(format!("not a JSON object: {other}")),
        };
        if object.contains_key("data") || object.contains_key("meta") {
            return match read_json_value::<StoredSession>(Value::Object(object)) {
                Ok(stored) => ImportRecord::Stored(stored),
                Err(message) => ImportRecord::Unreadable(message),
            };
        }
        if let Some(created_at) = object.get("created_at").cloned() {
            for field in ["updated_at", "last_activity"] {
                object.entry(field).or_insert_with(|| created_at.clone());
            }
        }
        object.entry("status").or_insert_with(|| Value::String("running".into()));
        object.entry("is_active").or_insert(Value::Bool(true));
        let given: Vec<String> = object.keys().cloned().collect();
        let session = match read_json_value::<Session>(Value::Object(object)) {
            Ok(session) => session,
            Err(message) => return ImportRecord::Unreadable(message),
        };
        // `Session` flattens its parts, which serde cannot combine with
        // deny_unknown_fields; a field it does not write back is unknown.
        if let Ok(Value::Object(known)) = serde_json::to_value(&session)
            && let Some(unknown) = given.iter().find(|field| !known.contains_key(*field))
        {
            return ImportRecord::Unreadable(format!("unknown field {unknown:?}"));
        }
        ImportRecord::Typed(Box::new(session))
    }
}

/// What to do with a record whose id is already stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ConflictPolicy {
    Skip,
    Overwrite,
    Fail,
}

/// A record `import_sessions` refused, by position in the call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RejectedRecord {
    pub index: u32,
    pub reason: RejectReason,
    pub message: String,
}

/// Why `import_sessions` refused a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// The record does not read or breaks a session rule.
    Invalid,
    /// Its id is already stored (conflict policy fail).
    IdTaken,
}

/// What `import_sessions` did (or, in a dry run, would do).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ImportReport {
    pub imported: u64,
    pub overwritten: u64,
    pub skipped: u64,
    pub rejected: Vec<RejectedRecord>,
}

/// A hash's fields as a JSON object, in stored order.
mod hash_fields {
    use std::fmt;

    use serde::de::{MapAccess, Visitor};
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(fields: &[(String, String)], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(fields.iter().map(|(field, value)| (field, value)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<(String, String)>, D::Error> {
        struct Fields;
        impl<'de> Visitor<'de> for Fields {
            type Value = Vec<(String, String)>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of the hash's fields, each a string as stored")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(entry) = map.next_entry::<String, String>()? {
                    fields.push(entry);
                }
                Ok(fields)
            }
        }
        deserializer.deserialize_map(Fields)
    }
}

/// A record is a stored session, a typed one, or (from a host) the reason
/// it could not read one.
#[cfg(feature = "schema")]
impl schemars::JsonSchema for ImportRecord {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ImportRecord".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "anyOf": [
                generator.subschema_for::<StoredSession>(),
                generator.subschema_for::<Session>(),
                { "type": "string", "description": "a record the host could not read, and why" }
            ]
        })
    }
}
