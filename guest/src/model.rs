//! Session values: the one definition of every document that crosses the
//! component boundary, the CLI's `--json` output and the Python and
//! JavaScript hosts' objects. serde gives their JSON form (field names as in
//! the design document, natural JSON types); `schema/sessions.schema.json`
//! publishes it, and a test keeps the two in step.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::timestamp::Timestamp;

/// What every session id matches (the JSON Schema's `pattern`): the
/// hyphenated UUID form is a subset of it. `id::SessionId::parse` is the gate.
pub const SESSION_ID_PATTERN: &str = "^[A-Za-z0-9._-]{1,128}$";

/// Input of `create`. See `validation` for every rule. In JSON, numbers and
/// tools may also come in the string form the design document stores
/// (`"0.7"`, `"[\"search\"]"`), so a dump of a data hash reads back.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct SessionCreate {
    /// The new session's id, chosen by the caller; omitted or null: a fresh
    /// UUID v4. Either a UUID in the 36-character hyphenated form (either
    /// case, stored lowercase) or 1 to 128 characters of A-Z, a-z, 0-9, `.`,
    /// `_` and `-`, case-sensitive and stored as given. A live session with
    /// that id makes `create` a conflict; the leftovers of an expired one are
    /// replaced.
    #[cfg_attr(feature = "schema", schemars(pattern(SESSION_ID_PATTERN)))]
    pub id: Option<String>,
    pub model_id: String,
    pub persona_id: Option<String>,
    pub name: Option<String>,
    #[serde(deserialize_with = "lenient::number", serialize_with = "lenient::finite")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<f64>"))]
    pub temperature: Option<f64>,
    #[serde(deserialize_with = "lenient::whole_number")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<i64>"))]
    pub reasoning_effort: Option<i64>,
    #[serde(deserialize_with = "lenient::whole_number")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<i64>"))]
    pub max_tokens: Option<i64>,
    #[serde(deserialize_with = "lenient::tools")]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<String>"))]
    pub tools: Vec<String>,
    pub custom_prompt: Option<String>,
    pub agent_internal_id: Option<String>,
    pub status: Option<String>,
    /// The owner, for frameworks that scope sessions by app and user
    /// (Google ADK): both or neither; never changed afterwards.
    pub app_name: Option<String>,
    pub user_id: Option<String>,
    /// Initial state: JSON values by key, with ADK's prefixes (`app:` and
    /// `user:` keys go to the owner's shared state, `temp:` keys are dropped).
    pub state: Option<BTreeMap<String, serde_json::Value>>,
}

/// A data field that `update` can reset to absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum DataField {
    PersonaId,
    Name,
    Temperature,
    ReasoningEffort,
    MaxTokens,
    Tools,
    CustomPrompt,
    AgentInternalId,
}

/// Input of `update`: `None` leaves a field as it is.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct SessionUpdate {
    pub model_id: Option<String>,
    pub persona_id: Option<String>,
    pub name: Option<String>,
    #[serde(deserialize_with = "lenient::number", serialize_with = "lenient::finite")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<f64>"))]
    pub temperature: Option<f64>,
    #[serde(deserialize_with = "lenient::whole_number")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<i64>"))]
    pub reasoning_effort: Option<i64>,
    #[serde(deserialize_with = "lenient::whole_number")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<i64>"))]
    pub max_tokens: Option<i64>,
    #[serde(deserialize_with = "lenient::optional_tools")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<Vec<String>>"))]
    pub tools: Option<Vec<String>>,
    pub custom_prompt: Option<String>,
    pub agent_internal_id: Option<String>,
    pub status: Option<String>,
    pub clear: Vec<DataField>,
    pub expected_version: Option<u64>,
}

/// The nine data fields of the design document, decoded.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default)]
pub struct SessionData {
    pub model_id: String,
    pub persona_id: Option<String>,
    pub name: Option<String>,
    pub temperature: Option<f64>,
    pub reasoning_effort: Option<i64>,
    pub max_tokens: Option<i64>,
    pub tools: Vec<String>,
    pub custom_prompt: Option<String>,
    pub agent_internal_id: Option<String>,
}

/// The meta hash, decoded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SessionMeta {
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub last_activity: Timestamp,
    pub is_active: bool,
    pub status: String,
    /// 0 when the session was written without a version (another service).
    #[serde(default)]
    pub version: u64,
    /// The owner, when the session has one (see `SessionCreate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

/// A live session as `get`, `update` and `list` return it: in JSON one flat
/// object (id, the data fields, the meta fields, expires_in_seconds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Session {
    /// A UUID (lowercase, hyphenated) or a caller-chosen id of 1 to 128
    /// characters of A-Z, a-z, 0-9, `.`, `_` and `-`.
    #[cfg_attr(feature = "schema", schemars(pattern(SESSION_ID_PATTERN)))]
    pub id: String,
    #[serde(flatten)]
    pub data: SessionData,
    #[serde(flatten)]
    pub meta: SessionMeta,
    /// Seconds until expiry; `None` when the expiry key has no TTL.
    #[serde(default)]
    pub expires_in_seconds: Option<u64>,
}

/// A stored value that does not decode, named precisely enough to find it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Corruption {
    pub session_id: String,
    /// Redis key without the host's prefix.
    pub key: String,
    /// Hash field, or "" when the key itself is the problem.
    pub field: String,
    pub message: String,
}

/// One page of `list`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SessionPage {
    pub sessions: Vec<Session>,
    pub total: u64,
    pub limit: u32,
    pub offset: u64,
    /// Pass to `list` for the page after this one: stable while sessions
    /// are added or removed. None after the last page.
    #[serde(default)]
    pub next_page_token: Option<String>,
    pub corrupt: Vec<Corruption>,
}

/// What `cleanup_expired` did.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CleanupReport {
    /// Expired sessions whose leftovers this call removed.
    pub removed: u64,
    /// Entries left in place because they cannot be judged.
    pub skipped: u64,
    /// The first [`MAX_REPORTED_PROBLEMS`] of those.
    pub problems: Vec<Corruption>,
}

/// How many skipped entries a cleanup report names.
pub const MAX_REPORTED_PROBLEMS: usize = 100;

impl CleanupReport {
    pub(crate) fn skip(&mut self, problem: Corruption) {
        self.skipped += 1;
        if self.problems.len() < MAX_REPORTED_PROBLEMS {
            self.problems.push(problem);
        }
    }
}

/// Upper bounds, in seconds, of the remaining-TTL buckets `stats` counts
/// live sessions in; a last bucket holds longer TTLs.
pub const TTL_BUCKET_BOUNDS: [u64; 7] = [60, 300, 900, 3_600, 21_600, 86_400, 604_800];

/// Most problems `stats` lists (it counts all of them).
pub const MAX_STATS_PROBLEMS: usize = 100;

/// Live sessions whose remaining TTL is at most `up_to_seconds` (and more
/// than the previous bucket's bound); `None`: longer than every bound.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TtlBucket {
    pub up_to_seconds: Option<u64>,
    pub count: u64,
}

/// What `stats` found in the keyspace: counts for monitoring and the
/// inconsistencies an operator should know about.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SessionStats {
    /// Live sessions (in `active_sessions`, expiry key present).
    pub sessions: u64,
    /// Live sessions whose `is_active` is true, and the others.
    pub active: u64,
    pub inactive: u64,
    /// Live sessions by `status`.
    pub by_status: BTreeMap<String, u64>,
    /// Live sessions by remaining TTL (see [`TTL_BUCKET_BOUNDS`]).
    pub ttl_buckets: Vec<TtlBucket>,
    /// The oldest and newest live session by created_at, and when.
    pub oldest_session_id: Option<String>,
    pub oldest_created_at: Option<Timestamp>,
    pub newest_session_id: Option<String>,
    pub newest_created_at: Option<Timestamp>,
    /// Members whose expiry key is gone but whose hashes remain: cleanup
    /// will remove them.
    pub expired_awaiting_cleanup: u64,
    /// Members of `active_sessions` with no key at all (or no session id).
    pub members_without_keys: u64,
    /// Per-session keys whose id is not in `active_sessions`.
    pub keys_without_members: u64,
    /// Per-session keys without a TTL.
    pub keys_without_ttl: u64,
    /// Sizes of `active_sessions` and the list index when the scan began.
    pub set_size: u64,
    pub index_size: u64,
    /// Conversation items of live sessions: in all, how many sessions have
    /// any, and the most one session holds (and which).
    #[serde(default)]
    pub items: u64,
    #[serde(default)]
    pub sessions_with_items: u64,
    #[serde(default)]
    pub max_items: u64,
    #[serde(default)]
    pub max_items_session_id: Option<String>,
    /// Live sessions with an owner (`app_name`, `user_id`).
    #[serde(default)]
    pub owned_sessions: u64,
    /// The first [`MAX_STATS_PROBLEMS`] inconsistencies, each naming key and member.
    pub problems: Vec<Corruption>,
}

/// One step of `stats`: the totals so far, and where to go on.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct StatsPage {
    /// Pass to the next call; meaningless once `done`.
    pub cursor: String,
    pub done: bool,
    pub stats: SessionStats,
}

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

/// Reads a JSON document; the error names the field it is wrong in, as
/// `temperature: expected a number, got "hot"`.
pub fn read_json<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, String> {
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(describe_path_error)?;
    deserializer.end().map_err(|e| e.to_string())?;
    Ok(value)
}

/// [`read_json`] for a document already parsed.
pub fn read_json_value<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(describe_path_error)
}

fn describe_path_error(error: serde_path_to_error::Error<serde_json::Error>) -> String {
    let path = error.path().to_string();
    let inner = error.into_inner();
    // The position means nothing to a caller who sent a document, not text.
    let mut message = inner.to_string();
    if inner.line() > 0
        && let Some(at) = message.rfind(" at line ")
    {
        message.truncate(at);
    }
    if path.is_empty() || path == "." { message } else { format!("{path}: {message}") }
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

/// One page of `migrate`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct MigratePage {
    pub cursor: String,
    pub done: bool,
    pub examined: u64,
    pub indexed: u64,
    pub hash_ttls_set: u64,
    pub schema_versions_set: u64,
}

/// Numbers and tools as JSON values or as the strings Redis holds; an empty
/// string is absent.
mod lenient {
    use std::fmt;

    use serde::Deserializer;
    use serde::de::{Error, SeqAccess, Visitor};

    /// `null` (or a missing value) is absent; anything else is read as is.
    macro_rules! absent_is_none {
        () => {
            fn visit_unit<E: Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_none<E: Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(self)
            }
        };
    }

    /// A number as JSON or as text; `Ok(None)` for null or "".
    struct Number;

    impl<'de> Visitor<'de> for Number {
        type Value = Option<f64>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a number")
        }
        absent_is_none!();
        fn visit_f64<E: Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_i64<E: Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v as f64))
        }
        fn visit_u64<E: Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v as f64))
        }
        fn visit_str<E: Error>(self, v: &str) -> Result<Self::Value, E> {
            let v = v.trim();
            if v.is_empty() {
                return Ok(None);
            }
            v.parse().map(Some).map_err(|_| E::custom(format!("expected a number, got {v:?}")))
        }
    }

    pub fn number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<f64>, D::Error> {
        deserializer.deserialize_option(Number)
    }

    /// JSON has no NaN or infinity (serde_json would write `null`, losing
    /// the value); refuse them instead.
    pub fn finite<S: serde::Serializer>(value: &Option<f64>, serializer: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(number) if !number.is_finite() => {
                Err(serde::ser::Error::custom(format!("temperature must be a finite number, got {number}")))
            }
            other => serde::Serialize::serialize(other, serializer),
        }
    }

    /// Whole numbers: integers as JSON, or text holding one ("2000").
    struct Whole;

    impl<'de> Visitor<'de> for Whole {
        type Value = Option<i64>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a whole number")
        }
        absent_is_none!();
        fn visit_i64<E: Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_u64<E: Error>(self, v: u64) -> Result<Self::Value, E> {
            i64::try_from(v).map(Some).map_err(|_| E::custom(format!("expected a whole number, got {v}")))
        }
        fn visit_f64<E: Error>(self, v: f64) -> Result<Self::Value, E> {
            Err(E::custom(format!("expected a whole number, got {v}")))
        }
        fn visit_str<E: Error>(self, v: &str) -> Result<Self::Value, E> {
            let v = v.trim();
            if v.is_empty() {
                return Ok(None);
            }
            v.parse().map(Some).map_err(|_| E::custom(format!("expected a whole number, got {v:?}")))
        }
    }

    pub fn whole_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
        deserializer.deserialize_option(Whole)
    }

    /// Tools: a list of strings, or the JSON text of one as Redis holds it.
    struct Tools;

    impl<'de> Visitor<'de> for Tools {
        type Value = Option<Vec<String>>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of strings")
        }
        absent_is_none!();
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut tools = Vec::with_capacity(seq.size_hint().unwrap_or(0));
            while let Some(tool) = seq.next_element::<serde_json::Value>()? {
                match tool {
                    serde_json::Value::String(tool) => tools.push(tool),
                    other => return Err(A::Error::custom(format!("expected a list of strings, got an item {other}"))),
                }
            }
            Ok(Some(tools))
        }
        fn visit_str<E: Error>(self, v: &str) -> Result<Self::Value, E> {
            if v.trim().is_empty() {
                return Ok(Some(Vec::new()));
            }
            serde_json::from_str(v).map(Some).map_err(|_| E::custom(format!("expected a list of strings, got {v:?}")))
        }
    }

    pub fn optional_tools<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Vec<String>>, D::Error> {
        deserializer.deserialize_option(Tools)
    }

    pub fn tools<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
        optional_tools(deserializer).map(Option::unwrap_or_default)
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
