//! Session values: the one definition of every document that crosses the
//! component boundary, the CLI's `--json` output and the Python and
//! JavaScript hosts' objects. serde gives their JSON form (field names as in
//! the design document, natural JSON types); `schema/sessions.schema.json`
//! publishes it, and a test keeps the two in step.

mod lenient;
mod problems;
mod session;
mod stats;
mod transfer;

pub use problems::*;
pub use session::*;
pub use stats::*;
pub use transfer::*;

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
