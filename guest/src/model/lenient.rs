//! Numbers and tools as JSON values or as the strings Redis holds; an empty
//! string is absent.
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
