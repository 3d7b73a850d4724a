//! Turning flags and `--from-json` documents into create and update inputs.
//!
//! JSON uses the design document's field names. Values may be natural JSON
//! (`0.7`, `["search"]`) or the strings the document stores in Redis
//! (`"0.7"`, `"[\"search\"]"`), so a dump of a data hash can be fed back in.
//! On update, `null` clears a field (JSON merge-patch style).

use std::collections::BTreeMap;
use std::io::Read;

use agent_sessions_host::{DataField, Session, SessionCreate, SessionData, SessionMeta, SessionUpdate, Timestamp};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::args::{ClearableField, DataFlags};

/// A problem with the command line input; exit code 2.
#[derive(Debug)]
pub struct InputError(pub String);

/// The create input from `--id`, the data flags and `--from-json` (whose
/// `id`, if any, chooses the id unless `--id` does).
pub fn create_input(
    id: Option<String>,
    flags: DataFlags,
    from_json: Option<&str>,
) -> Result<SessionCreate, InputError> {
    let mut input = match from_json {
        Some(source) => {
            let (document, origin) = read_document(source)?;
            typed::<SessionCreate>(document, &origin)?
        }
        None => SessionCreate::default(),
    };
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
    input.id = id.or(input.id);
    Ok(input)
}

pub fn update_input(
    flags: DataFlags,
    clear: Vec<ClearableField>,
    expected_version: Option<u64>,
    from_json: Option<&str>,
) -> Result<SessionUpdate, InputError> {
    let mut update = match from_json {
        Some(source) => {
            let (mut document, origin) = read_document(source)?;
            // `null` clears a field (JSON merge-patch style).
            let mut cleared = Vec::new();
            document.retain(|name, value| {
                if !value.is_null() {
                    return true;
                }
                if let Ok(field) = serde_json::from_value::<DataField>(Value::String(name.clone())) {
                    cleared.push(field);
                }
                false
            });
            let mut update = typed::<SessionUpdate>(document, &origin)?;
            update.clear = cleared;
            update
        }
        None => SessionUpdate::default(),
    };
    update.expected_version = expected_version;
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

/// Reads a create or update document with the shared schema's rules; fields
/// only a stored session has (timestamps, `version`, ...; `id` on update) are
/// accepted and ignored, so `get --json` output can be edited and fed back.
/// On create, `id` is the caller's choice of id.
fn typed<T: serde::de::DeserializeOwned + serde::Serialize + Default>(
    mut document: Map<String, Value>,
    origin: &str,
) -> Result<T, InputError> {
    let writable = field_names(&T::default());
    let read_only: Vec<String> =
        field_names(&sample_session()).into_iter().filter(|name| !writable.contains(name)).collect();
    document.retain(|name, _| !read_only.contains(name));
    agent_sessions_host::model::read_json_value(Value::Object(document))
        .map_err(|e| InputError(format!("{origin}: {e}")))
}

fn field_names<T: serde::Serialize>(value: &T) -> Vec<String> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => map.into_iter().map(|(name, _)| name).collect(),
        _ => Vec::new(),
    }
}

/// A session whose only use is naming the fields of its JSON document.
fn sample_session() -> Session {
    let epoch = Timestamp::from_unix_millis(0);
    Session {
        id: String::new(),
        data: SessionData::default(),
        meta: SessionMeta {
            created_at: epoch,
            updated_at: epoch,
            last_activity: epoch,
            is_active: true,
            status: String::new(),
            version: 0,
            app_name: Some(String::new()),
            user_id: Some(String::new()),
        },
        expires_in_seconds: None,
    }
}

/// The owner and initial state of `create --app-name --user-id
/// --state-json`, over what `--from-json` said.
pub fn apply_owner_and_state(
    input: &mut SessionCreate,
    app_name: Option<String>,
    user_id: Option<String>,
    state_json: Option<&str>,
) -> Result<(), InputError> {
    input.app_name = app_name.or(input.app_name.take());
    input.user_id = user_id.or(input.user_id.take());
    if let Some(text) = state_json {
        let state = serde_json::from_str::<BTreeMap<String, Value>>(text)
            .map_err(|e| InputError(format!("--state-json must be a JSON object of keys to values: {e}")))?;
        input.state = Some(state);
    }
    Ok(())
}

/// The items of `add-items --from-json`: a JSON array (its elements), or
/// JSON Lines (each non-blank line one item). Each item keeps the text it
/// was given, never re-serialised.
pub fn read_items(source: &str) -> Result<Vec<Box<RawValue>>, InputError> {
    let (text, origin) = read_source(source)?;
    items_of(&text, &origin)
}

fn items_of(text: &str, origin: &str) -> Result<Vec<Box<RawValue>>, InputError> {
    let items = match serde_json::from_str::<Vec<Box<RawValue>>>(text) {
        Ok(items) if text.trim_start().starts_with('[') => items,
        _ => {
            let mut items = Vec::new();
            for (number, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() {
                    continue;
                }
                let item = RawValue::from_string(line.to_owned()).map_err(|e| {
                    InputError(format!(
                        "{origin} line {} is not valid JSON ({e}); give a JSON array or JSON Lines",
                        number + 1
                    ))
                })?;
                items.push(item);
            }
            items
        }
    };
    if items.is_empty() {
        return Err(InputError(format!("{origin} holds no items")));
    }
    Ok(items)
}

/// The text of a file, or of stdin for "-", and its name for messages.
fn read_source(source: &str) -> Result<(String, String), InputError> {
    if source == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| InputError(format!("cannot read JSON from stdin: {e}")))?;
        Ok((text, "stdin".to_owned()))
    } else {
        let text = std::fs::read_to_string(source).map_err(|e| InputError(format!("cannot read {source}: {e}")))?;
        Ok((text, source.to_owned()))
    }
}

fn read_document(source: &str) -> Result<(Map<String, Value>, String), InputError> {
    let (text, origin) = read_source(source)?;
    let value: Value =
        serde_json::from_str(&text).map_err(|e| InputError(format!("{origin} is not valid JSON: {e}")))?;
    let Value::Object(document) = value else {
        return Err(InputError(format!("{origin} must hold a JSON object with the session's fields")));
    };
    Ok((document, origin))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(json: &str) -> Result<SessionCreate, InputError> {
        match serde_json::from_str(json).unwrap() {
            Value::Object(map) => typed(map, "test"),
            _ => unreachable!(),
        }
    }

    #[test]
    fn natural_and_stored_spellings_are_read() {
        let natural = create(r#"{"model_id": "m", "temperature": 0.7, "max_tokens": 2000, "tools": ["search"]}"#);
        let stored =
            create(r#"{"model_id": "m", "temperature": "0.7", "max_tokens": "2000", "tools": "[\"search\"]"}"#);
        for input in [natural.unwrap(), stored.unwrap()] {
            assert_eq!(input.temperature, Some(0.7));
            assert_eq!(input.max_tokens, Some(2000));
            assert_eq!(input.tools, vec!["search".to_owned()]);
        }
    }

    #[test]
    fn read_only_fields_are_ignored_and_unknown_ones_named() {
        let input = create(r#"{"model_id": "m", "id": "x", "version": 3, "created_at": "2025-01-01T00:00:00Z"}"#);
        let input = input.unwrap();
        assert_eq!((input.model_id.as_str(), input.id.as_deref()), ("m", Some("x")), "create takes the id");
        let update: SessionUpdate = match serde_json::from_str(r#"{"id": "x", "version": 3, "name": "n"}"#).unwrap() {
            Value::Object(map) => typed(map, "test").unwrap(),
            _ => unreachable!(),
        };
        assert_eq!(update.name.as_deref(), Some("n"), "update ignores the id");
        let error = create(r#"{"model_id": "m", "modle": 1}"#).unwrap_err().0;
        assert!(error.contains("unknown field `modle`"), "{error}");
    }

    #[test]
    fn items_come_as_an_array_or_json_lines_and_keep_their_text() {
        let texts = |text: &str| -> Vec<String> {
            items_of(text, "f").unwrap().iter().map(|item| item.get().to_owned()).collect()
        };
        assert_eq!(texts(r#"[{"a": 1}, 2 , "x"]"#), [r#"{"a": 1}"#, "2", r#""x""#]);
        assert_eq!(texts("  [\n {\"n\": 18446744073709551617}\n]\n"), [r#"{"n": 18446744073709551617}"#]);
        assert_eq!(texts("{\"a\": 1}\r\n\n  [2, 3]  \n\"x\"\n"), [r#"{"a": 1}"#, "[2, 3]", r#""x""#]);
        assert_eq!(texts("[1]\n[2]\n"), ["[1]", "[2]"], "arrays as JSON Lines");
        let error = items_of("{\"a\": 1}\n{\"b\":}\n", "f").unwrap_err().0;
        assert!(error.contains("f line 2 is not valid JSON"), "{error}");
        assert!(items_of("[1, 2", "f").unwrap_err().0.contains("line 1"));
        assert!(items_of(" \n\n", "f").unwrap_err().0.contains("holds no items"));
        assert!(items_of("[]", "f").unwrap_err().0.contains("holds no items"));
    }

    #[test]
    fn wrong_types_are_explained() {
        for (json, wanted) in [
            (r#"{"temperature": "warm"}"#, "expected a number"),
            (r#"{"max_tokens": 1.5}"#, "whole number"),
            (r#"{"tools": [1]}"#, "list of strings"),
        ] {
            let error = create(json).unwrap_err().0;
            assert!(error.contains(wanted), "{error}");
        }
    }
}
