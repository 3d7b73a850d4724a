//! The session family: what `create` and `update` take, what `get`,
//! `update` and `list` return, and the table of the session's fields that
//! encoding, validation, updates and hosts follow.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Corruption;
use super::lenient;
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

/// The JSON type of a field's value (absent values are `null`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonType {
    String,
    Number,
    Integer,
    Boolean,
    /// A list of strings.
    StringList,
    /// An object of keys to JSON values.
    Object,
}

/// A session document, by the name the WIT comments and the schema use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Document {
    SessionCreate,
    SessionUpdate,
    Session,
}

impl Document {
    pub const fn name(self) -> &'static str {
        match self {
            Document::SessionCreate => "session-create",
            Document::SessionUpdate => "session-update",
            Document::Session => "session",
        }
    }
}

/// Where a field is kept in Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// In the key names (the session id).
    Key,
    /// In `session:<id>:data`, as text (see `encoding`).
    DataHash,
    /// In `session:<id>:meta`.
    MetaHash,
    /// In the state hashes (`state` and its `app:`/`user:` keys).
    StateHash,
}

/// One field of the session documents: the table hosts derive their flags,
/// types and output from, and that encoding, validation and `update` follow.
#[derive(Debug, Clone, Copy)]
pub struct SessionField {
    /// The JSON key (snake_case, as the design document names it), which is
    /// also the hash field.
    pub name: &'static str,
    pub json_type: JsonType,
    /// The documents that have it.
    pub documents: &'static [Document],
    /// `create` needs it (and it may not be blank).
    pub required: bool,
    /// Its name in `session-update`'s `clear`, for fields `update` can reset.
    pub clear: Option<DataField>,
    pub stored: Stored,
    /// One line for a command-line flag or a form.
    pub help: &'static str,
    /// Data fields only: how the guest reads, checks and writes the value.
    pub(crate) data: Option<DataAccess>,
}

impl SessionField {
    pub fn accepted_by(&self, document: Document) -> bool {
        self.documents.contains(&document)
    }

    /// A data field's value in `data` (`None` for the other fields);
    /// `encoding::encode_value` gives its stored text.
    pub fn value_in(&self, data: &SessionData) -> Option<FieldValue> {
        self.data.as_ref().map(|access| (access.get)(data))
    }
}

/// A data field's value, whatever its type.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Text(Option<String>),
    Number(Option<f64>),
    Integer(Option<i64>),
    List(Vec<String>),
}

/// The rule a data field's value passes (the checks are in `validation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rule {
    ModelId,
    Identifier,
    Name,
    CustomPrompt,
    Temperature,
    ReasoningEffort,
    MaxTokens,
    Tools,
}

/// Where a data field is in each document type.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DataAccess {
    pub(crate) rule: Rule,
    pub(crate) get: fn(&SessionData) -> FieldValue,
    pub(crate) set: fn(&mut SessionData, FieldValue),
    pub(crate) take_create: fn(&mut SessionCreate) -> FieldValue,
    pub(crate) put_create: fn(&mut SessionCreate, FieldValue),
    /// `None`: the update leaves it as it is.
    pub(crate) take_update: fn(&mut SessionUpdate) -> Option<FieldValue>,
}

impl SessionField {
    pub(crate) fn access(&self) -> &DataAccess {
        // Only data fields are asked; the table gives each of them one.
        self.data.as_ref().expect("a data field")
    }
}

/// Conversions between a struct field's Rust type and [`FieldValue`].
trait Value: Sized {
    fn into_value(self) -> FieldValue;
    fn from_value(value: FieldValue) -> Self;
}

impl Value for String {
    fn into_value(self) -> FieldValue {
        FieldValue::Text(Some(self))
    }
    fn from_value(value: FieldValue) -> Self {
        Option::<String>::from_value(value).unwrap_or_default()
    }
}

impl Value for Option<String> {
    fn into_value(self) -> FieldValue {
        FieldValue::Text(self)
    }
    fn from_value(value: FieldValue) -> Self {
        if let FieldValue::Text(text) = value { text } else { None }
    }
}

impl Value for Option<f64> {
    fn into_value(self) -> FieldValue {
        FieldValue::Number(self)
    }
    fn from_value(value: FieldValue) -> Self {
        if let FieldValue::Number(number) = value { number } else { None }
    }
}

impl Value for Option<i64> {
    fn into_value(self) -> FieldValue {
        FieldValue::Integer(self)
    }
    fn from_value(value: FieldValue) -> Self {
        if let FieldValue::Integer(number) = value { number } else { None }
    }
}

impl Value for f64 {
    fn into_value(self) -> FieldValue {
        FieldValue::Number(Some(self))
    }
    fn from_value(value: FieldValue) -> Self {
        Option::<f64>::from_value(value).unwrap_or_default()
    }
}

impl Value for i64 {
    fn into_value(self) -> FieldValue {
        FieldValue::Integer(Some(self))
    }
    fn from_value(value: FieldValue) -> Self {
        Option::<i64>::from_value(value).unwrap_or_default()
    }
}

impl Value for Vec<String> {
    fn into_value(self) -> FieldValue {
        FieldValue::List(self)
    }
    fn from_value(value: FieldValue) -> Self {
        if let FieldValue::List(list) = value { list } else { Vec::new() }
    }
}

/// An update's field: `None` leaves it; `Some` is the value to check.
fn some_value<T: Value>(value: Option<T>) -> Option<FieldValue> {
    value.map(Value::into_value)
}

const IN_EVERY_DOCUMENT: &[Document] = &[Document::SessionCreate, Document::SessionUpdate, Document::Session];

/// A data field of the table: `$field` names it in [`SessionData`],
/// [`SessionCreate`] and [`SessionUpdate`] alike.
macro_rules! data_field {
    ($field:ident, $json_type:ident, $rule:ident, $clear:expr, $help:literal) => {
        SessionField {
            name: stringify!($field),
            json_type: JsonType::$json_type,
            documents: IN_EVERY_DOCUMENT,
            required: matches!(Rule::$rule, Rule::ModelId),
            clear: $clear,
            stored: Stored::DataHash,
            help: $help,
            data: Some(DataAccess {
                rule: Rule::$rule,
                get: |data| Value::into_value(data.$field.clone()),
                set: |data, value| data.$field = Value::from_value(value),
                take_create: |input| Value::into_value(std::mem::take(&mut input.$field)),
                put_create: |input, value| input.$field = Value::from_value(value),
                take_update: |input| some_value(input.$field.take()),
            }),
        }
    };
}

/// How many of [`SESSION_FIELDS`] are data fields (they come first).
pub const DATA_FIELD_COUNT: usize = 9;

/// Every field of the session documents: the nine data fields of the
/// design document first (in its order, the order they are stored and
/// read in), then the others.
pub const SESSION_FIELDS: [SessionField; 14] = [
    data_field!(model_id, String, ModelId, None, "Model the agent runs, e.g. gpt-4."),
    data_field!(
        persona_id,
        String,
        Identifier,
        Some(DataField::PersonaId),
        "Persona the agent plays, e.g. programmer."
    ),
    data_field!(name, String, Name, Some(DataField::Name), "Display name of the session."),
    data_field!(temperature, Number, Temperature, Some(DataField::Temperature), "Sampling temperature, 0.0 to 2.0."),
    data_field!(
        reasoning_effort,
        Integer,
        ReasoningEffort,
        Some(DataField::ReasoningEffort),
        "Reasoning effort, 0 to 10."
    ),
    data_field!(max_tokens, Integer, MaxTokens, Some(DataField::MaxTokens), "Token limit, 1 to 1000000."),
    data_field!(
        tools,
        StringList,
        Tools,
        Some(DataField::Tools),
        "Tools the agent may use (on update, replaces the list)."
    ),
    data_field!(custom_prompt, String, CustomPrompt, Some(DataField::CustomPrompt), "Extra system prompt text."),
    data_field!(
        agent_internal_id,
        String,
        Identifier,
        Some(DataField::AgentInternalId),
        "The agent runtime's own id for this session."
    ),
    SessionField {
        name: "status",
        json_type: JsonType::String,
        documents: IN_EVERY_DOCUMENT,
        required: false,
        clear: None,
        stored: Stored::MetaHash,
        help: "running, idle, paused (active) or completed, failed, cancelled.",
        data: None,
    },
    SessionField {
        name: "id",
        json_type: JsonType::String,
        documents: &[Document::SessionCreate, Document::Session],
        required: false,
        clear: None,
        stored: Stored::Key,
        help: "The session's id: a UUID, or 1 to 128 characters of A-Z, a-z, 0-9, '.', '_' and '-' (default: a new UUID).",
        data: None,
    },
    SessionField {
        name: "app_name",
        json_type: JsonType::String,
        documents: &[Document::SessionCreate, Document::Session],
        required: false,
        clear: None,
        stored: Stored::MetaHash,
        help: "The app the session belongs to (with user_id); never changed afterwards.",
        data: None,
    },
    SessionField {
        name: "user_id",
        json_type: JsonType::String,
        documents: &[Document::SessionCreate, Document::Session],
        required: false,
        clear: None,
        stored: Stored::MetaHash,
        help: "The user the session belongs to (with app_name).",
        data: None,
    },
    SessionField {
        name: "state",
        json_type: JsonType::Object,
        documents: &[Document::SessionCreate],
        required: false,
        clear: None,
        stored: Stored::StateHash,
        help: "Initial state: app: and user: keys go to the owner's shared state, temp: keys are dropped.",
        data: None,
    },
];

/// The data fields' names, in stored order.
pub const DATA_FIELD_NAMES: [&str; DATA_FIELD_COUNT] = {
    let mut names = [""; DATA_FIELD_COUNT];
    let mut at = 0;
    while at < DATA_FIELD_COUNT {
        assert!(matches!(SESSION_FIELDS[at].stored, Stored::DataHash), "data fields come first");
        names[at] = SESSION_FIELDS[at].name;
        at += 1;
    }
    names
};

/// The nine data fields, in stored order.
pub fn data_fields() -> &'static [SessionField] {
    &SESSION_FIELDS[..DATA_FIELD_COUNT]
}

/// The field of this name.
pub fn session_field(name: &str) -> Option<&'static SessionField> {
    SESSION_FIELDS.iter().find(|field| field.name == name)
}

/// The fields `update` can reset (`session-update`'s `clear`), in order.
pub fn clearable_fields() -> impl Iterator<Item = (DataField, &'static SessionField)> {
    SESSION_FIELDS.iter().filter_map(|field| field.clear.map(|clear| (clear, field)))
}

impl DataField {
    /// Its name in `clear`, which is the field's.
    pub fn name(self) -> &'static str {
        clearable_fields().find(|(clear, _)| *clear == self).map_or("", |(_, field)| field.name)
    }

    /// The clearable field of this name.
    pub fn from_name(name: &str) -> Option<DataField> {
        session_field(name).and_then(|field| field.clear)
    }
}

impl SessionCreate {
    /// A create input with the data fields of `data`.
    pub fn from_data(data: SessionData) -> Self {
        let mut input = SessionCreate::default();
        for field in data_fields() {
            (field.access().put_create)(&mut input, (field.access().get)(&data));
        }
        input
    }

    /// The design document's example session: its data hash as the
    /// document shows it (`schema/examples/session-data.json`), which
    /// `session-create` reads (numbers and tools may be in their stored text).
    pub fn example() -> Self {
        // The guest's tests read the fixture with this type.
        super::read_json(EXAMPLE_SESSION_DATA).expect("schema/examples/session-data.json reads as a session-create")
    }
}

/// `schema/examples/session-data.json`: the design document's example
/// session's data hash, field for field as stored.
pub const EXAMPLE_SESSION_DATA: &str = include_str!("../../../schema/examples/session-data.json");
