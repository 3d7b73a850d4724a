//! Turning flags and `--from-json` documents into create and update inputs.
//!
//! JSON uses the design document's field names. Values may be natural JSON
//! (`0.7`, `["search"]`) or the strings the document stores in Redis
//! (`"0.7"`, `"[\"search\"]"`), so a dump of a data hash can be fed back in.
//! On update, `null` clears a field (JSON merge-patch style). Flags are a
//! document too (field name to value), laid over the file's.

use std::io::Read;

use agent_sessions_host::{DataField, SessionCreate, SessionUpdate};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::fields::{REQUIRED_ON_CREATE, SESSION_CREATE_FIELDS, SESSION_FIELDS, SESSION_UPDATE_FIELDS};

/// A problem with the command line input; exit code 2.
#[derive(Debug)]
pub struct InputError(pub String);

/// The create input: `--from-json`'s document, if any, with the fields the
/// flags give over it (an `id` there chooses the id unless `--id` does).
pub fn create_input(from_json: Option<&str>, flags: Map<String, Value>) -> Result<SessionCreate, InputError> {
    let (mut document, origin) = match from_json {
        Some(source) => read_document(source)?,
        None => {
            if let Some((_, flag)) = REQUIRED_ON_CREATE.iter().find(|(field, _)| !flags.contains_key(*field)) {
                return Err(InputError(format!("{flag} is required (or give the fields with --from-json)")));
            }
            (Map::new(), "the flags".to_owned())
        }
    };
    document.extend(flags);
    typed(document, &origin, &SESSION_CREATE_FIELDS)
}

/// The update input: `--from-json`'s changes (`null` clears a field), the
/// flags over them, the `--clear` fields and `--expect-version`.
pub fn update_input(
    from_json: Option<&str>,
    flags: Map<String, Value>,
    clear: Vec<String>,
    expected_version: Option<u64>,
) -> Result<SessionUpdate, InputError> {
    let (mut document, origin) = match from_json {
        Some(source) => read_document(source)?,
        None => (Map::new(), "the flags".to_owned()),
    };
    let mut cleared: Vec<DataField> = Vec::new();
    document.retain(|name, value| {
        if !value.is_null() {
            return true;
        }
        cleared.extend(data_field(name));
        false
    });
    document.extend(flags);
    let mut update: SessionUpdate = typed(document, &origin, &SESSION_UPDATE_FIELDS)?;
    update.clear = cleared;
    update.clear.extend(clear.iter().filter_map(|name| data_field(name)));
    update.expected_version = expected_version;
    Ok(update)
}

/// The clearable field of this name (`session-update`'s `clear`).
fn data_field(name: &str) -> Option<DataField> {
    serde_json::from_value(Value::String(name.to_owned())).ok()
}

/// `--state-json`: a JSON object of keys to values.
pub fn state(text: &str) -> Result<Value, InputError> {
    serde_json::from_str::<Map<String, Value>>(text)
        .map(Value::Object)
        .map_err(|e| InputError(format!("--state-json must be a JSON object of keys to values: {e}")))
}

/// Reads a create or update document with the shared schema's rules; the
/// fields only a stored session has (timestamps, `version`, ...; `id` on
/// update), those of `SESSION_FIELDS` not in `writable`, are accepted and
/// ignored, so `get --json` output can be edited and fed back.
fn typed<T: serde::de::DeserializeOwned>(
    mut document: Map<String, Value>,
    origin: &str,
    writable: &[&str],
) -> Result<T, InputError> {
    document.retain(|name, _| writable.contains(&name.as_str()) || !SESSION_FIELDS.contains(&name.as_str()));
    agent_sessions_host::model::read_json_value(Value::Object(document))
        .map_err(|e| InputError(format!("{origin}: {e}")))
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
            Value::Object(map) => typed(map, "test", &SESSION_CREATE_FIELDS),
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
            Value::Object(map) => typed(map, "test", &SESSION_UPDATE_FIELDS).unwrap(),
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
