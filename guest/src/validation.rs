//! Input rules. Every limit a caller can hit is a constant here, and every
//! message names the field, the rule and what was given.

use crate::id::{SessionId, quote_for_message};
use crate::model::{FieldValue, Rule, SessionCreate, SessionData, SessionField, SessionUpdate, data_fields};

/// Longest model id, persona id, agent internal id or tool name, in characters.
pub const MAX_IDENTIFIER_CHARS: usize = 200;
/// Longest session name, in characters.
pub const MAX_NAME_CHARS: usize = 500;
/// Longest custom prompt, in characters.
pub const MAX_CUSTOM_PROMPT_CHARS: usize = 100_000;
/// Most tools per session.
pub const MAX_TOOLS: usize = 128;
/// Temperature range, inclusive.
pub const TEMPERATURE_RANGE: (f64, f64) = (0.0, 2.0);
/// Reasoning effort range, inclusive.
pub const REASONING_EFFORT_RANGE: (i64, i64) = (0, 10);
/// Max tokens range, inclusive.
pub const MAX_TOKENS_RANGE: (i64, i64) = (1, 1_000_000);
/// Largest page `list` returns.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// Statuses of a session that is working or can resume: `is_active` true.
pub const ACTIVE_STATUSES: [&str; 3] = ["running", "idle", "paused"];
/// Statuses of a finished session: `is_active` false.
pub const INACTIVE_STATUSES: [&str; 3] = ["completed", "failed", "cancelled"];
/// Status of a new session when the caller gives none.
pub const DEFAULT_STATUS: &str = "running";

/// `is_active` for a status; `None` when the status is not in the set.
pub fn status_is_active(status: &str) -> Option<bool> {
    if ACTIVE_STATUSES.contains(&status) {
        Some(true)
    } else if INACTIVE_STATUSES.contains(&status) {
        Some(false)
    } else {
        None
    }
}

/// A create input that passed every rule, normalised for storage.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidCreate {
    /// The caller's id, canonical; `None`: generate one.
    pub id: Option<SessionId>,
    pub data: SessionData,
    pub status: String,
    pub is_active: bool,
}

/// An update input that passed every rule.
#[derive(Debug, Clone)]
pub struct ValidUpdate {
    /// Data fields to write, in stored order, already normalised (an
    /// absent value: store as absent).
    pub data: Vec<(&'static SessionField, FieldValue)>,
    /// New status and the `is_active` it implies.
    pub status: Option<(String, bool)>,
    pub expected_version: Option<u64>,
}

impl ValidUpdate {
    /// The new value of the data field `name`, if the update writes it.
    pub fn change(&self, name: &str) -> Option<&FieldValue> {
        self.data.iter().find(|(field, _)| field.name == name).map(|(_, value)| value)
    }
}

pub fn validate_create(mut input: SessionCreate) -> Result<ValidCreate, String> {
    let (status, is_active) = match input.status.take() {
        Some(status) => {
            let is_active = validate_status(&status)?;
            (status, is_active)
        }
        None => (DEFAULT_STATUS.to_owned(), true),
    };
    let id = input.id.as_deref().map(SessionId::parse).transpose()?;
    let mut data = SessionData::default();
    for field in data_fields() {
        let access = field.access();
        let value = check_value(field, (access.take_create)(&mut input))?;
        (access.set)(&mut data, value);
    }
    Ok(ValidCreate { id, data, status, is_active })
}

pub fn validate_update(mut input: SessionUpdate) -> Result<ValidUpdate, String> {
    let mut given = Vec::new();
    for field in data_fields() {
        let value = (field.access().take_update)(&mut input);
        let cleared = field.clear.is_some_and(|clear| input.clear.contains(&clear));
        // Setting and clearing one field in the same call is ambiguous.
        if cleared && value.is_some() {
            return Err(format!("{} is both set and cleared; do one or the other", field.name));
        }
        given.push((field, value, cleared));
    }
    let mut data = Vec::new();
    for (field, value, cleared) in given {
        if cleared {
            data.push((field, absent(field)));
        } else if let Some(value) = value {
            data.push((field, check_value(field, value)?));
        }
    }
    Ok(ValidUpdate {
        data,
        status: input.status.map(|status| validate_status(&status).map(|is_active| (status, is_active))).transpose()?,
        expected_version: input.expected_version,
    })
}

/// A cleared field's value: absent (tools: the empty list).
fn absent(field: &SessionField) -> FieldValue {
    match (field.access().get)(&SessionData::default()) {
        FieldValue::Text(_) => FieldValue::Text(None),
        other => other,
    }
}

/// Checks one data field's value by its rule and normalises it.
fn check_value(field: &SessionField, value: FieldValue) -> Result<FieldValue, String> {
    let name = field.name;
    Ok(match (field.access().rule, value) {
        (Rule::ModelId, FieldValue::Text(text)) => {
            FieldValue::Text(Some(validate_model_id(name, text.unwrap_or_default())?))
        }
        (Rule::Identifier, FieldValue::Text(text)) => FieldValue::Text(optional_identifier(name, text)?),
        (Rule::Name, FieldValue::Text(text)) => FieldValue::Text(optional_name(name, text)?),
        (Rule::CustomPrompt, FieldValue::Text(text)) => FieldValue::Text(optional_custom_prompt(name, text)?),
        (Rule::Temperature, FieldValue::Number(number)) => FieldValue::Number(optional(number, validate_temperature)?),
        (Rule::ReasoningEffort, FieldValue::Integer(number)) => {
            FieldValue::Integer(optional(number, |v| check_integer(name, v, REASONING_EFFORT_RANGE))?)
        }
        (Rule::MaxTokens, FieldValue::Integer(number)) => {
            FieldValue::Integer(optional(number, |v| check_integer(name, v, MAX_TOKENS_RANGE))?)
        }
        (Rule::Tools, FieldValue::List(tools)) => FieldValue::List(validate_tools(tools)?),
        (rule, value) => return Err(format!("{name}: a {value:?} does not fit the rule {rule:?}")),
    })
}

pub fn validate_page_size(limit: u32) -> Result<u32, String> {
    if limit > MAX_PAGE_SIZE {
        return Err(format!("limit must be at most {MAX_PAGE_SIZE}, got {limit}"));
    }
    Ok(limit)
}

fn optional<T, U>(value: Option<T>, check: impl FnOnce(T) -> Result<U, String>) -> Result<Option<U>, String> {
    value.map(check).transpose()
}

fn validate_model_id(field: &str, model_id: String) -> Result<String, String> {
    if model_id.trim().is_empty() {
        return Err(format!("{field} is required and must not be blank"));
    }
    validate_identifier(field, &model_id)?;
    Ok(model_id)
}

/// Optional identifiers: "" means absent.
fn optional_identifier(field: &str, value: Option<String>) -> Result<Option<String>, String> {
    match value {
        Some(v) if !v.is_empty() => {
            validate_identifier(field, &v)?;
            Ok(Some(v))
        }
        _ => Ok(None),
    }
}

fn validate_identifier(field: &str, value: &str) -> Result<(), String> {
    check_length(field, value, MAX_IDENTIFIER_CHARS)?;
    if value.chars().any(char::is_control) {
        return Err(format!("{field} must not contain control characters, got {}", quote_for_message(value)));
    }
    if value.trim() != value {
        return Err(format!("{field} must not start or end with white space, got {}", quote_for_message(value)));
    }
    Ok(())
}

fn optional_name(field: &str, value: Option<String>) -> Result<Option<String>, String> {
    match value {
        Some(v) if !v.is_empty() => {
            check_length(field, &v, MAX_NAME_CHARS)?;
            if v.chars().any(char::is_control) {
                return Err(format!(
                    "{field} must be one line without control characters, got {}",
                    quote_for_message(&v)
                ));
            }
            Ok(Some(v))
        }
        _ => Ok(None),
    }
}

fn optional_custom_prompt(field: &str, value: Option<String>) -> Result<Option<String>, String> {
    match value {
        Some(v) if !v.is_empty() => {
            check_length(field, &v, MAX_CUSTOM_PROMPT_CHARS)?;
            if v.contains('\0') {
                return Err(format!("{field} must not contain NUL characters"));
            }
            Ok(Some(v))
        }
        _ => Ok(None),
    }
}

fn check_length(field: &str, value: &str, max: usize) -> Result<(), String> {
    // Bytes bound characters from above: skip counting for the common case.
    if value.len() > max {
        let chars = value.chars().count();
        if chars > max {
            return Err(format!("{field} must be at most {max} characters, got {chars}"));
        }
    }
    Ok(())
}

fn validate_temperature(value: f64) -> Result<f64, String> {
    let (low, high) = TEMPERATURE_RANGE;
    if !value.is_finite() {
        return Err(format!("temperature must be a finite number, got {value}"));
    }
    if !(low..=high).contains(&value) {
        return Err(format!("temperature must be between {low:.1} and {high:.1}, got {value}"));
    }
    // -0.0 would be stored as "-0.0"; it means 0.
    Ok(if value == 0.0 { 0.0 } else { value })
}

fn check_integer(field: &str, value: i64, (low, high): (i64, i64)) -> Result<i64, String> {
    if !(low..=high).contains(&value) {
        return Err(format!("{field} must be a whole number from {low} to {high}, got {value}"));
    }
    Ok(value)
}

fn validate_tools(tools: Vec<String>) -> Result<Vec<String>, String> {
    if tools.len() > MAX_TOOLS {
        return Err(format!("tools may hold at most {MAX_TOOLS} entries, got {}", tools.len()));
    }
    for (index, tool) in tools.iter().enumerate() {
        if tool.trim().is_empty() {
            return Err(format!("tools[{index}] must not be blank"));
        }
        validate_identifier(&format!("tools[{index}]"), tool)?;
        if let Some(first) = tools[..index].iter().position(|earlier| earlier == tool) {
            return Err(format!("tools lists {} twice (entries {first} and {index})", quote_for_message(tool)));
        }
    }
    Ok(tools)
}

fn validate_status(status: &str) -> Result<bool, String> {
    status_is_active(status).ok_or_else(|| {
        format!(
            "status must be one of {}, {} (active) or {}, {}, {} (inactive); got {}",
            ACTIVE_STATUSES[0],
            ACTIVE_STATUSES[1..].join(", "),
            INACTIVE_STATUSES[0],
            INACTIVE_STATUSES[1],
            INACTIVE_STATUSES[2],
            quote_for_message(status)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DataField;

    fn create(model_id: &str) -> SessionCreate {
        SessionCreate { model_id: model_id.to_owned(), ..Default::default() }
    }

    #[test]
    fn minimal_create_gets_defaults() {
        let valid = validate_create(create("gpt-4")).unwrap();
        assert_eq!(valid.status, "running");
        assert!(valid.is_active);
        assert_eq!(valid.data.persona_id, None);
        assert_eq!(valid.id, None);
    }

    #[test]
    fn a_given_id_is_checked_and_made_canonical() {
        let with_id = |id: &str| validate_create(SessionCreate { id: Some(id.into()), ..create("m") });
        assert_eq!(with_id("chat-42").unwrap().id.unwrap().as_str(), "chat-42");
        assert_eq!(
            with_id("0B6F2A52-3C1E-4D7A-9A55-6F1F3E2B9C10").unwrap().id.unwrap().as_str(),
            "0b6f2a52-3c1e-4d7a-9a55-6f1f3e2b9c10"
        );
        for bad in ["", "a:b", "{x}", "a b", &"x".repeat(129)] {
            let message = with_id(bad).unwrap_err();
            assert!(message.contains("session id"), "{bad:?}: {message}");
        }
    }

    #[test]
    fn empty_optional_strings_mean_absent() {
        let mut input = create("gpt-4");
        input.persona_id = Some(String::new());
        input.name = Some(String::new());
        let valid = validate_create(input).unwrap();
        assert_eq!(valid.data.persona_id, None);
        assert_eq!(valid.data.name, None);
    }

    #[test]
    fn bad_inputs_say_what_is_wrong() {
        let cases: Vec<(SessionCreate, &str)> = vec![
            (create(""), "model_id is required"),
            (create("   "), "model_id is required"),
            (create(&"m".repeat(201)), "at most 200 characters"),
            (create("gpt\n4"), "control characters"),
            (SessionCreate { temperature: Some(f64::NAN), ..create("m") }, "finite"),
            (SessionCreate { temperature: Some(f64::INFINITY), ..create("m") }, "finite"),
            (SessionCreate { temperature: Some(2.5), ..create("m") }, "between 0.0 and 2.0"),
            (SessionCreate { temperature: Some(-0.1), ..create("m") }, "between 0.0 and 2.0"),
            (SessionCreate { reasoning_effort: Some(11), ..create("m") }, "reasoning_effort"),
            (SessionCreate { reasoning_effort: Some(-1), ..create("m") }, "reasoning_effort"),
            (SessionCreate { max_tokens: Some(0), ..create("m") }, "max_tokens"),
            (SessionCreate { max_tokens: Some(i64::MAX), ..create("m") }, "max_tokens"),
            (SessionCreate { tools: vec!["".into()], ..create("m") }, "tools[0] must not be blank"),
            (SessionCreate { tools: vec!["a".into(), "a".into()], ..create("m") }, "twice"),
            (SessionCreate { tools: vec!["t".into(); 129], ..create("m") }, "at most 128"),
            (SessionCreate { status: Some("sleeping".into()), ..create("m") }, "status must be one of"),
            (SessionCreate { name: Some("a\nb".into()), ..create("m") }, "one line"),
            (SessionCreate { custom_prompt: Some("p".repeat(100_001)), ..create("m") }, "custom_prompt"),
        ];
        for (input, expected) in cases {
            let message = validate_create(input.clone()).unwrap_err();
            assert!(message.contains(expected), "{input:?}: {message}");
        }
    }

    #[test]
    fn status_decides_is_active() {
        for (status, active) in [("running", true), ("paused", true), ("completed", false), ("failed", false)] {
            let valid = validate_create(SessionCreate { status: Some(status.into()), ..create("m") }).unwrap();
            assert_eq!(valid.is_active, active, "{status}");
        }
    }

    #[test]
    fn multibyte_limits_count_characters() {
        assert!(validate_create(create(&"é".repeat(200))).is_ok());
        assert!(validate_create(create(&"é".repeat(201))).is_err());
    }

    #[test]
    fn update_clear_and_set_conflict() {
        let update = SessionUpdate { name: Some("x".into()), clear: vec![DataField::Name], ..Default::default() };
        assert!(validate_update(update).unwrap_err().contains("both set and cleared"));
    }

    #[test]
    fn update_clear_resets_fields() {
        let update = SessionUpdate { clear: vec![DataField::Temperature, DataField::Tools], ..Default::default() };
        let valid = validate_update(update).unwrap();
        assert_eq!(valid.change("temperature"), Some(&FieldValue::Number(None)));
        assert_eq!(valid.change("tools"), Some(&FieldValue::List(vec![])));
        assert_eq!(valid.change("name"), None);
    }

    #[test]
    fn negative_zero_temperature_is_zero() {
        let valid = validate_create(SessionCreate { temperature: Some(-0.0), ..create("m") }).unwrap();
        assert!(valid.data.temperature.unwrap().is_sign_positive());
    }
}
