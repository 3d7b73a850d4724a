//! Turning flags and `--from-json` documents into create and update inputs.
//!
//! JSON uses the design document's field names. Values may be natural JSON
//! (`0.7`, `["search"]`) or the strings the document stores in Redis
//! (`"0.7"`, `"[\"search\"]"`), so a dump of a data hash can be fed back in.
//! On update, `null` clears a field (JSON merge-patch style).

use std::io::Read;

use agent_sessions_host::{DataField, SessionCreate, SessionUpdate};
use serde_json::{Map, Value};

use super::args::{ClearableField, DataFlags};

const DATA_FIELDS: [&str; 10] = [
    "model_id",
    "persona_id",
    "name",
    "temperature",
    "reasoning_effort",
    "max_tokens",
    "tools",
    "custom_prompt",
    "agent_internal_id",
    "status",
];

/// Fields of `sessions get --json` output that cannot be written; accepted
/// and ignored so that output can be edited and fed back.
const READ_ONLY_FIELDS: [&str; 7] =
    ["id", "created_at", "updated_at", "last_activity", "is_active", "version", "expires_in_seconds"];

/// A problem with the command line input; exit code 2.
#[derive(Debug)]
pub struct InputError(pub String);

pub fn create_input(flags: DataFlags, from_json: Option<&str>) -> Result<SessionCreate, InputError> {
    let mut input = SessionCreate::default();
    if let Some(source) = from_json {
        let document = read_document(source)?;
        input.model_id = text(&document, "model_id")?.unwrap_or_default();
        input.persona_id = text(&document, "persona_id")?;
        input.name = text(&document, "name")?;
        input.temperature = float(&document, "temperature")?;
        input.reasoning_effort = integer(&document, "reasoning_effort")?;
        input.max_tokens = integer(&document, "max_tokens")?;
        input.tools = tools(&document)?.unwrap_or_default();
        input.custom_prompt = text(&document, "custom_prompt")?;
        input.agent_internal_id = text(&document, "agent_internal_id")?;
        input.status = text(&document, "status")?;
    }
    let DataFlags {
        model_id,
        persona_id,
        name,
        temperature,
        reasoning_effort,
        max_tokens,
        tools,
        custom_prompt,
        agent_internal_id,
        status,
    } = flags;
    if let Some(model_id) = model_id {
        input.model_id = model_id;
    } else if from_json.is_none() {
        return Err(InputError("--model-id is required (or give the fields with --from-json)".into()));
    }
    input.persona_id = persona_id.or(input.persona_id);
    input.name = name.or(input.name);
    input.temperature = temperature.or(input.temperature);
    input.reasoning_effort = reasoning_effort.or(input.reasoning_effort);
    input.max_tokens = max_tokens.or(input.max_tokens);
    if !tools.is_empty() {
        input.tools = tools;
    }
    input.custom_prompt = custom_prompt.or(input.custom_prompt);
    input.agent_internal_id = agent_internal_id.or(input.agent_internal_id);
    input.status = status.or(input.status);
    Ok(input)
}

pub fn update_input(
    flags: DataFlags,
    clear: Vec<ClearableField>,
    expected_version: Option<u64>,
    from_json: Option<&str>,
) -> Result<SessionUpdate, InputError> {
    let mut update = SessionUpdate { expected_version, ..SessionUpdate::default() };
    if let Some(source) = from_json {
        let document = read_document(source)?;
        for (name, field) in [
            ("persona_id", DataField::PersonaId),
            ("name", DataField::Name),
            ("temperature", DataField::Temperature),
            ("reasoning_effort", DataField::ReasoningEffort),
            ("max_tokens", DataField::MaxTokens),
            ("tools", DataField::Tools),
            ("custom_prompt", DataField::CustomPrompt),
            ("agent_internal_id", DataField::AgentInternalId),
        ] {
            if document.get(name).is_some_and(Value::is_null) {
                update.clear.push(field);
            }
        }
        update.model_id = text(&document, "model_id")?;
        update.persona_id = text(&document, "persona_id")?;
        update.name = text(&document, "name")?;
        update.temperature = float(&document, "temperature")?;
        update.reasoning_effort = integer(&document, "reasoning_effort")?;
        update.max_tokens = integer(&document, "max_tokens")?;
        update.tools = tools(&document)?;
        update.custom_prompt = text(&document, "custom_prompt")?;
        update.agent_internal_id = text(&document, "agent_internal_id")?;
        update.status = text(&document, "status")?;
    }
    update.model_id = flags.model_id.or(update.model_id);
    update.persona_id = flags.persona_id.or(update.persona_id);
    update.name = flags.name.or(update.name);
    update.temperature = flags.temperature.or(update.temperature);
    update.reasoning_effort = flags.reasoning_effort.or(update.reasoning_effort);
    update.max_tokens = flags.max_tokens.or(update.max_tokens);
    if !flags.tools.is_empty() {
        update.tools = Some(flags.tools);
    }
    update.custom_prompt = flags.custom_prompt.or(update.custom_prompt);
    update.agent_internal_id = flags.agent_internal_id.or(update.agent_internal_id);
    update.status = flags.status.or(update.status);
    update.clear.extend(clear.into_iter().map(|field| match field {
        ClearableField::PersonaId => DataField::PersonaId,
        ClearableField::Name => DataField::Name,
        ClearableField::Temperature => DataField::Temperature,
        ClearableField::ReasoningEffort => DataField::ReasoningEffort,
        ClearableField::MaxTokens => DataField::MaxTokens,
        ClearableField::Tools => DataField::Tools,
        ClearableField::CustomPrompt => DataField::CustomPrompt,
        ClearableField::AgentInternalId => DataField::AgentInternalId,
    }));
    Ok(update)
}

fn read_document(source: &str) -> Result<Map<String, Value>, InputError> {
    let (text, origin) = if source == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| InputError(format!("cannot read JSON from stdin: {e}")))?;
        (text, "stdin".to_owned())
    } else {
        let text = std::fs::read_to_string(source).map_err(|e| InputError(format!("cannot read {source}: {e}")))?;
        (text, source.to_owned())
    };
    let value: Value =
        serde_json::from_str(&text).map_err(|e| InputError(format!("{origin} is not valid JSON: {e}")))?;
    let Value::Object(document) = value else {
        return Err(InputError(format!("{origin} must hold a JSON object with the session's fields")));
    };
    if let Some(unknown) =
        document.keys().find(|k| !DATA_FIELDS.contains(&k.as_str()) && !READ_ONLY_FIELDS.contains(&k.as_str()))
    {
        return Err(InputError(format!(
            "{origin}: unknown field {unknown:?}; the fields are {}",
            DATA_FIELDS.join(", ")
        )));
    }
    Ok(document)
}

fn wrong_type(field: &str, wanted: &str, value: &Value) -> InputError {
    InputError(format!("field {field} must be {wanted}, got {value}"))
}

pub(super) fn text(document: &Map<String, Value>, field: &str) -> Result<Option<String>, InputError> {
    match document.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(other) => Err(wrong_type(field, "a string", other)),
    }
}

pub(super) fn float(document: &Map<String, Value>, field: &str) -> Result<Option<f64>, InputError> {
    match document.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) => {
            number.as_f64().map(Some).ok_or_else(|| wrong_type(field, "a number", &Value::Number(number.clone())))
        }
        Some(Value::String(text)) if text.is_empty() => Ok(None),
        Some(Value::String(text)) => {
            text.trim().parse().map(Some).map_err(|_| wrong_type(field, "a number", &Value::String(text.clone())))
        }
        Some(other) => Err(wrong_type(field, "a number", other)),
    }
}

pub(super) fn integer(document: &Map<String, Value>, field: &str) -> Result<Option<i64>, InputError> {
    match document.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) => {
            number.as_i64().map(Some).ok_or_else(|| wrong_type(field, "a whole number", &Value::Number(number.clone())))
        }
        Some(Value::String(text)) if text.is_empty() => Ok(None),
        Some(Value::String(text)) => {
            text.trim().parse().map(Some).map_err(|_| wrong_type(field, "a whole number", &Value::String(text.clone())))
        }
        Some(other) => Err(wrong_type(field, "a whole number", other)),
    }
}

pub(super) fn tools(document: &Map<String, Value>) -> Result<Option<Vec<String>>, InputError> {
    let list = match document.get("tools") {
        None | Some(Value::Null) => return Ok(None),
        // The design document stores tools as a JSON array in a string.
        Some(Value::String(text)) if text.is_empty() => return Ok(Some(Vec::new())),
        Some(Value::String(text)) => serde_json::from_str::<Value>(text)
            .map_err(|_| wrong_type("tools", "a list of strings", &Value::String(text.clone())))?,
        Some(other) => other.clone(),
    };
    match &list {
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::String(tool) => Ok(tool.clone()),
                _ => Err(wrong_type("tools", "a list of strings", &list)),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        _ => Err(wrong_type("tools", "a list of strings", &list)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(json: &str) -> Map<String, Value> {
        match serde_json::from_str(json).unwrap() {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    #[test]
    fn natural_and_stored_spellings_are_read() {
        let natural = document(r#"{"temperature": 0.7, "max_tokens": 2000, "tools": ["search"]}"#);
        let stored = document(r#"{"temperature": "0.7", "max_tokens": "2000", "tools": "[\"search\"]"}"#);
        for doc in [natural, stored] {
            assert_eq!(float(&doc, "temperature").unwrap(), Some(0.7));
            assert_eq!(integer(&doc, "max_tokens").unwrap(), Some(2000));
            assert_eq!(tools(&doc).unwrap(), Some(vec!["search".to_owned()]));
        }
    }

    #[test]
    fn wrong_types_are_explained() {
        let doc = document(r#"{"temperature": "warm", "max_tokens": 1.5, "tools": [1]}"#);
        assert!(float(&doc, "temperature").unwrap_err().0.contains("temperature must be a number"));
        assert!(integer(&doc, "max_tokens").unwrap_err().0.contains("whole number"));
        assert!(tools(&doc).unwrap_err().0.contains("list of strings"));
    }
}
