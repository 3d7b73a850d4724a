//! `GET /openapi.json`: an OpenAPI 3.1 document generated from the route
//! table and the embedded JSON Schema of the documents, so neither the
//! routes nor the documents have a second owner.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::problem::{KINDS, TYPE_BASE};
use crate::routes::{BodyKind, ROUTES, Route};

/// The documents' JSON Schema (one owner: generated from the guest's types).
pub const SCHEMA: &str = include_str!("../../../schema/sessions.schema.json");

/// The front's own documents, besides the schema's.
fn own_schemas() -> Value {
    let kinds: Vec<&str> = KINDS.iter().map(|(kind, _)| *kind).collect();
    json!({
        "Problem": {
            "type": "object",
            "description": "An RFC 9457 problem document: every error response.",
            "properties": {
                "type": { "type": "string", "description": format!("{TYPE_BASE}<kind>") },
                "title": { "type": "string" },
                "status": { "type": "integer", "minimum": 400, "maximum": 599 },
                "detail": { "type": "string" },
                "kind": { "type": "string", "enum": kinds },
                "field": { "type": "string", "description": "The field or parameter the input is wrong in, when the message names one." },
                "corruption": { "$ref": "#/components/schemas/Corruption" }
            },
            "required": ["type", "title", "status", "detail", "kind"]
        },
        "ItemsCount": {
            "type": "object",
            "properties": {
                "id": { "type": "string" },
                "count": { "type": "integer", "minimum": 0 },
                "version": { "type": "integer", "minimum": 0 }
            },
            "required": ["id", "count", "version"]
        },
        "Health": {
            "type": "object",
            "properties": { "status": { "const": "ok" } },
            "required": ["status"]
        },
        "Ready": {
            "type": "object",
            "properties": {
                "status": { "const": "ready" },
                "shards": { "type": "integer", "minimum": 0, "description": "0: the design document's key layout." }
            },
            "required": ["status", "shards"]
        },
        "ItemsArray": {
            "type": "array",
            "items": true,
            "minItems": 1,
            "maxItems": 1000,
            "description": "Items to append, as an ItemsAppend document's `items`."
        }
    })
}

/// The schema's `$defs` with their `$ref`s pointing into components.
fn schema_definitions() -> Map<String, Value> {
    let mut schema: Value = serde_json::from_str(SCHEMA).unwrap_or(Value::Null);
    let defs = schema.get_mut("$defs").map(Value::take).unwrap_or(Value::Null);
    match rewrite_refs(defs) {
        Value::Object(defs) => defs,
        _ => Map::new(),
    }
}

fn rewrite_refs(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| {
                    let value = match (key.as_str(), value) {
                        ("$ref", Value::String(target)) => Value::String(
                            target
                                .strip_prefix("#/$defs/")
                                .map_or(target.clone(), |name| format!("#/components/schemas/{name}")),
                        ),
                        (_, value) => rewrite_refs(value),
                    };
                    (key, value)
                })
                .collect(),
        ),
        Value::Array(values) => Value::Array(values.into_iter().map(rewrite_refs).collect()),
        other => other,
    }
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn describe(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No content",
        400 => "The request is malformed: a query parameter, If-Match, or JSON that does not parse (malformed_json)",
        401 => "No or wrong bearer token",
        404 => "No live session with this id",
        409 => "Conflict: the id is taken, or expected_version in the body did not match",
        412 => "If-Match did not match the session's version",
        413 => "The body is over SESSIONS_API_MAX_BODY bytes",
        415 => "The body is not Content-Type: application/json",
        422 => "The input breaks a rule; `field` names it when the message does",
        500 => {
            "Stored data is corrupt (data_corrupt, with the corruption document), the key layout does not fit (layout_mismatch), or storage failed otherwise"
        }
        503 => "Storage unavailable",
        504 => "Storage did not answer in time",
        _ => "Error",
    }
}

fn operation(row: &Route) -> Value {
    let mut op = Map::new();
    op.insert("operationId".into(), json!(row.operation_id));
    op.insert("summary".into(), json!(row.summary));
    if !row.repository.is_empty() {
        op.insert("description".into(), json!(format!("Calls the repository's `{}`.", row.repository)));
        op.insert("x-repository-operation".into(), json!(row.repository));
    }
    if !row.auth {
        op.insert("security".into(), json!([]));
    }
    let mut parameters: Vec<Value> = row
        .query
        .iter()
        .map(|p| {
            let schema: Value = serde_json::from_str(p.schema).unwrap_or(json!({}));
            json!({ "name": p.name, "in": "query", "required": false, "description": p.description, "schema": schema })
        })
        .collect();
    if row.if_match {
        parameters.push(json!({ "$ref": "#/components/parameters/IfMatch" }));
    }
    if !parameters.is_empty() {
        op.insert("parameters".into(), Value::Array(parameters));
    }
    let json_body = |schema: Value, required: bool| json!({ "required": required, "content": { "application/json": { "schema": schema } } });
    match row.body {
        BodyKind::None => {}
        BodyKind::Required(name) => {
            op.insert("requestBody".into(), json_body(schema_ref(name), true));
        }
        BodyKind::Optional(name) => {
            op.insert("requestBody".into(), json_body(schema_ref(name), false));
        }
        BodyKind::Items => {
            let schema = json!({ "oneOf": [schema_ref("ItemsArray"), schema_ref("ItemsAppend")] });
            op.insert("requestBody".into(), json_body(schema, true));
        }
    }
    let mut responses = Map::new();
    for status in std::iter::once(row.success).chain(row.also.iter().copied()) {
        let mut response = Map::new();
        response.insert("description".into(), json!(describe(status)));
        let mut headers = Map::new();
        if row.etag {
            headers.insert("ETag".into(), json!({ "$ref": "#/components/headers/ETag" }));
        }
        if status == 201 {
            headers.insert("Location".into(), json!({ "$ref": "#/components/headers/Location" }));
        }
        if !headers.is_empty() {
            response.insert("headers".into(), Value::Object(headers));
        }
        let schema = match row.response {
            "" if status == 204 => None,
            // The OpenAPI document itself: any object.
            "" => Some(json!({ "type": "object" })),
            name => Some(schema_ref(name)),
        };
        if let Some(schema) = schema {
            response.insert("content".into(), json!({ "application/json": { "schema": schema } }));
        }
        responses.insert(status.to_string(), Value::Object(response));
    }
    let mut errors: Vec<u16> = row.errors.to_vec();
    if row.auth {
        errors.push(401);
    }
    errors.sort_unstable();
    for status in errors {
        responses.insert(status.to_string(), json!({ "$ref": format!("#/components/responses/Problem{status}") }));
    }
    op.insert("responses".into(), Value::Object(responses));
    Value::Object(op)
}

/// Every error status any route returns.
fn error_statuses() -> Vec<u16> {
    let mut statuses: Vec<u16> = ROUTES.iter().flat_map(|r| r.errors.iter().copied()).collect();
    statuses.push(401);
    statuses.sort_unstable();
    statuses.dedup();
    statuses
}

fn path_parameter(name: &str, schemas: &Map<String, Value>) -> Value {
    // Dot segments would be resolved away by clients before they are sent.
    let mut schema = json!({ "type": "string", "minLength": 1, "not": { "enum": [".", ".."] } });
    let description = match name {
        "id" => {
            // The id rule has one owner: the schema's SessionCreate.id.
            if let Some(pattern) = schemas.get("SessionCreate").and_then(|s| s.pointer("/properties/id/pattern")) {
                schema["pattern"] = pattern.clone();
            }
            "The session's id (percent-decoded)."
        }
        _ => "The app's name (percent-decoded).",
    };
    json!({ "name": name, "in": "path", "required": true, "description": description, "schema": schema })
}

/// The whole document.
pub fn document() -> Value {
    let mut schemas = schema_definitions();
    if let Value::Object(own) = own_schemas() {
        schemas.extend(own);
    }
    let mut paths: BTreeMap<&str, Map<String, Value>> = BTreeMap::new();
    for row in ROUTES {
        let item = paths.entry(row.path).or_default();
        if item.is_empty() {
            let params: Vec<Value> = row
                .path
                .split('/')
                .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
                .map(|name| path_parameter(name, &schemas))
                .collect();
            if !params.is_empty() {
                item.insert("parameters".into(), Value::Array(params));
            }
        }
        item.insert(row.method.as_str().to_ascii_lowercase(), operation(row));
    }
    let mut responses = Map::new();
    for status in error_statuses() {
        let mut response = json!({
            "description": describe(status),
            "content": { "application/problem+json": { "schema": schema_ref("Problem") } }
        });
        if status == 401 {
            response["headers"] = json!({ "WWW-Authenticate": { "$ref": "#/components/headers/WWW-Authenticate" } });
        }
        responses.insert(format!("Problem{status}"), response);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "agent-sessions",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "A session store for AI-agent platforms, as a JSON REST API. Generated from the HTTP front's route table and schema/sessions.schema.json.",
            "license": { "name": "Apache-2.0", "identifier": "Apache-2.0" }
        },
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "security": [{ "bearer": [] }],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": responses,
            "parameters": {
                "IfMatch": {
                    "name": "If-Match",
                    "in": "header",
                    "required": false,
                    "description": "Compare-and-set: the session's version as an entity tag (\"7\"), a bare number, or * for any.",
                    "schema": { "type": "string", "pattern": "^(\\*|\"[0-9]{1,19}\"|[0-9]{1,19})$" }
                }
            },
            "headers": {
                "ETag": {
                    "description": "The session's version as a strong entity tag.",
                    "required": true,
                    "schema": { "type": "string", "pattern": "^\"[0-9]+\"$" }
                },
                "Location": {
                    "description": "The session's URL.",
                    "required": true,
                    "schema": { "type": "string" }
                },
                "WWW-Authenticate": {
                    "description": "The scheme to authenticate with.",
                    "required": true,
                    "schema": { "type": "string" }
                }
            },
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer", "description": "SESSIONS_API_TOKEN" }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve<'a>(doc: &'a Value, pointer: &str) -> Option<&'a Value> {
        doc.pointer(pointer.strip_prefix('#')?)
    }

    fn refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(target)) = map.get("$ref") {
                    out.push(target.clone());
                }
                map.values().for_each(|v| refs(v, out));
            }
            Value::Array(values) => values.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn every_route_is_present() {
        let doc = document();
        for row in ROUTES {
            let op = &doc["paths"][row.path][row.method.as_str().to_ascii_lowercase()];
            assert_eq!(op["operationId"], row.operation_id, "{} {}", row.method.as_str(), row.path);
            assert!(op["responses"][row.success.to_string()].is_object());
            for status in row.errors {
                assert!(op["responses"][status.to_string()].is_object(), "{} {status}", row.path);
            }
            assert_eq!(op["responses"].get("401").is_some(), row.auth);
        }
    }

    #[test]
    fn every_ref_resolves() {
        let doc = document();
        let mut targets = Vec::new();
        refs(&doc, &mut targets);
        assert!(targets.len() > 50);
        for target in targets {
            assert!(target.starts_with("#/components/"), "{target}");
            assert!(resolve(&doc, &target).is_some(), "{target} does not resolve");
        }
    }

    #[test]
    fn every_schema_definition_is_carried_over() {
        let schema: Value = serde_json::from_str(SCHEMA).unwrap();
        let doc = document();
        for name in schema["$defs"].as_object().unwrap().keys() {
            assert!(doc["components"]["schemas"][name].is_object(), "{name}");
        }
        assert!(!doc.to_string().contains("$defs"));
    }

    #[test]
    fn the_id_parameter_carries_the_schemas_id_rule() {
        let doc = document();
        let pattern = &doc["paths"]["/sessions/{id}"]["parameters"][0]["schema"]["pattern"];
        assert_eq!(pattern, &doc["components"]["schemas"]["SessionCreate"]["properties"]["id"]["pattern"]);
        assert!(pattern.is_string());
    }

    #[test]
    fn operation_ids_are_unique() {
        let mut ids: Vec<&str> = ROUTES.iter().map(|r| r.operation_id).collect();
        ids.sort_unstable();
        let before = ids.len();
        ids.dedup();
        assert_eq!(before, ids.len());
    }

    #[test]
    fn query_parameter_schemas_are_json() {
        for row in ROUTES {
            for param in row.query {
                assert!(serde_json::from_str::<Value>(param.schema).is_ok(), "{}", param.name);
            }
        }
    }
}
