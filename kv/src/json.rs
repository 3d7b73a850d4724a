//! JSON pieces both halves of the packed form share.

use serde_json::Value;

use crate::{ErrorKind, KvError, ScoreBound};

pub(crate) fn invalid(message: impl Into<String>) -> KvError {
    KvError::new(ErrorKind::InvalidBatch, message)
}

/// Appends `text` as a JSON string.
pub(crate) fn push_json_string(out: &mut String, text: &str) {
    out.push('"');
    let mut start = 0;
    for (i, byte) in text.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&text[start..i]);
        if escape.is_empty() {
            out.push_str(&format!("\\u{byte:04x}"));
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&text[start..]);
    out.push('"');
}

/// cjson writes whole numbers beyond 10^14 in exponent form.
pub(crate) fn integer(value: &Value) -> Option<i64> {
    value.as_i64().or_else(|| value.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.3e18).map(|f| f as i64))
}

/// A score bound as Redis reads it: `12`, `(12` (exclusive), `+inf`, `-inf`.
pub(crate) fn bound_text(bound: &ScoreBound) -> String {
    let score = score_text(bound.score);
    if bound.exclusive { format!("({score}") } else { score }
}

/// A score as Redis writes it: integers without a fraction, `inf`, `-inf`.
pub(crate) fn score_text(score: f64) -> String {
    if score == f64::INFINITY {
        "+inf".to_owned()
    } else if score == f64::NEG_INFINITY {
        "-inf".to_owned()
    } else {
        score.to_string()
    }
}

/// The bound `text` stands for: `(` makes it exclusive; `inf`, `+inf` and
/// `-inf` are the infinities; anything else must be a number.
pub(crate) fn parse_bound(text: &str) -> Option<ScoreBound> {
    let (exclusive, number) = match text.strip_prefix('(') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let score = match number {
        "inf" | "+inf" => f64::INFINITY,
        "-inf" => f64::NEG_INFINITY,
        _ => number.parse::<f64>().ok().filter(|score| score.is_finite())?,
    };
    Some(ScoreBound { score, exclusive })
}

pub(crate) fn text(value: Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text),
        _ => None,
    }
}

/// `Some(None)` for `false`/`null` (missing), `None` when malformed.
pub(crate) fn optional_text(value: Value) -> Option<Option<String>> {
    match value {
        Value::String(text) => Some(Some(text)),
        Value::Bool(false) | Value::Null => Some(None),
        _ => None,
    }
}

/// An array, or the `{}` cjson writes for an empty one.
pub(crate) fn list(value: Value) -> Option<Vec<Value>> {
    match value {
        Value::Array(items) => Some(items),
        Value::Object(map) if map.is_empty() => Some(Vec::new()),
        _ => None,
    }
}

pub(crate) fn texts(value: Value) -> Option<Vec<String>> {
    list(value)?.into_iter().map(text).collect()
}
