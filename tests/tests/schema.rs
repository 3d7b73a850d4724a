//! `schema/sessions.schema.json`: the JSON Schema of every document that
//! crosses the component boundary (and that the CLI prints with `--json`),
//! generated from the guest's serde types. This test fails when the file and
//! the types drift apart; `UPDATE_SCHEMA=1 cargo test --test schema`
//! rewrites the file.

use agent_sessions_guest::conversation::{
    ItemOptions, ItemPopped, ItemsAppend, ItemsPage, ItemsQuery, ItemsReceipt, OwnerPage,
};
use agent_sessions_guest::model::{
    CleanupReport, Corruption, ExportPage, ImportRecord, ImportReport, MigratePage, SessionCreate, SessionPage,
    SessionUpdate, StatsPage,
};
use agent_sessions_guest::model::{
    DataField, Document, JsonType, SESSION_FIELDS, Session, SessionField, SessionStats, clearable_fields,
};
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

/// Each document by the name the WIT comments use for it.
fn bundle() -> Value {
    let mut generator = SchemaSettings::draft2020_12().into_generator();
    let documents = [
        ("session-create", generator.subschema_for::<SessionCreate>()),
        ("session-update", generator.subschema_for::<SessionUpdate>()),
        ("session", generator.subschema_for::<Session>()),
        ("session-page", generator.subschema_for::<SessionPage>()),
        ("corruption", generator.subschema_for::<Corruption>()),
        ("cleanup-report", generator.subschema_for::<CleanupReport>()),
        ("session-stats", generator.subschema_for::<SessionStats>()),
        ("stats-page", generator.subschema_for::<StatsPage>()),
        ("export-page", generator.subschema_for::<ExportPage>()),
        ("import-record", generator.subschema_for::<ImportRecord>()),
        ("import-report", generator.subschema_for::<ImportReport>()),
        ("migrate-page", generator.subschema_for::<MigratePage>()),
        ("items-append", generator.subschema_for::<ItemsAppend>()),
        ("items-receipt", generator.subschema_for::<ItemsReceipt>()),
        ("items-query", generator.subschema_for::<ItemsQuery>()),
        ("items-page", generator.subschema_for::<ItemsPage>()),
        ("item-options", generator.subschema_for::<ItemOptions>()),
        ("item-popped", generator.subschema_for::<ItemPopped>()),
        ("owner-page", generator.subschema_for::<OwnerPage>()),
    ];
    let documents: Map<String, Value> =
        documents.into_iter().map(|(name, schema)| (name.to_owned(), schema.to_value())).collect();
    let mut definitions: Map<String, Value> = generator.take_definitions(true).into_iter().collect();
    // The session fields' help (their one owner is the field table) is
    // their description wherever the type has none of its own.
    for field in &SESSION_FIELDS {
        for document in field.documents {
            let property = &mut definitions[definition_of(*document)]["properties"][field.name];
            if property.get("description").is_none() {
                property["description"] = Value::String(field.help.to_owned());
            }
        }
    }
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "agent-sessions documents",
        "description": "The JSON documents of wit/sessions.wit's repository interface, the CLI's --json output and the Python and JavaScript hosts' objects. Generated from guest/src/model/ and guest/src/conversation.rs by tests/tests/schema.rs; do not edit by hand.",
        "documents": documents,
        "$defs": definitions,
    })
}

/// The `$defs` entry of a session document.
fn definition_of(document: Document) -> &'static str {
    match document {
        Document::SessionCreate => "SessionCreate",
        Document::SessionUpdate => "SessionUpdate",
        Document::Session => "Session",
    }
}

/// The JSON type names of the schema for a field of `json_type`.
fn type_names(json_type: JsonType) -> &'static str {
    match json_type {
        JsonType::String => "string",
        JsonType::Number => "number",
        JsonType::Integer => "integer",
        JsonType::Boolean => "boolean",
        JsonType::StringList => "array",
        JsonType::Object => "object",
    }
}

#[test]
fn the_published_schema_matches_the_types() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema/sessions.schema.json");
    let generated = serde_json::to_string_pretty(&bundle()).unwrap() + "\n";
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let published = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        published == generated,
        "{} is out of step with guest/src/model/; run `UPDATE_SCHEMA=1 cargo test -p agent-sessions-tests --test schema` and commit it",
        path.display()
    );
}

#[test]
fn documents_name_the_design_documents_fields() {
    let schema = bundle();
    let session = &schema["$defs"]["Session"];
    let text = session.to_string();
    for field in ["id", "model_id", "tools", "created_at", "is_active", "version", "expires_in_seconds"] {
        assert!(text.contains(&format!("\"{field}\"")), "{field} missing from {text}");
    }
}

#[test]
fn the_field_table_matches_the_documents() {
    let schema = bundle();
    for field in &SESSION_FIELDS {
        for document in [Document::SessionCreate, Document::SessionUpdate, Document::Session] {
            let property = &schema["$defs"][definition_of(document)]["properties"][field.name];
            assert_eq!(
                !property.is_null(),
                field.accepted_by(document),
                "{}: the table and {} disagree on whether it has the field",
                field.name,
                document.name()
            );
            if property.is_null() {
                continue;
            }
            let types = property["type"].to_string();
            assert!(
                types.contains(&format!("\"{}\"", type_names(field.json_type))),
                "{} in {}: the table says {:?}, the schema {types}",
                field.name,
                document.name(),
                field.json_type
            );
        }
    }
    // Every data field of the documents is in the table.
    let data = &schema["$defs"]["Session"]["properties"];
    for name in data.as_object().unwrap().keys() {
        let known = SESSION_FIELDS.iter().any(|field: &SessionField| field.name == name);
        let meta = ["created_at", "updated_at", "last_activity", "is_active", "version", "expires_in_seconds"];
        assert!(known || meta.contains(&name.as_str()), "session field {name} is missing from SESSION_FIELDS");
    }
    for name in schema["$defs"]["SessionUpdate"]["properties"].as_object().unwrap().keys() {
        let known = SESSION_FIELDS.iter().any(|field| field.name == name);
        assert!(
            known || ["clear", "expected_version"].contains(&name.as_str()),
            "{name} is missing from SESSION_FIELDS"
        );
    }
}

#[test]
fn the_clearable_fields_are_the_clear_lists_names() {
    let schema = bundle();
    let in_schema: Vec<&str> =
        schema["$defs"]["DataField"]["enum"].as_array().unwrap().iter().map(|name| name.as_str().unwrap()).collect();
    let in_table: Vec<&str> = clearable_fields().map(|(_, field)| field.name).collect();
    assert_eq!(in_schema, in_table);
    for (clear, field) in clearable_fields() {
        assert_eq!(clear.name(), field.name);
        assert_eq!(DataField::from_name(field.name), Some(clear));
        assert_eq!(serde_json::to_value(clear).unwrap(), json!(field.name));
    }
}

#[test]
fn the_example_session_is_a_session_create_document() {
    let schema = bundle();
    let example = serde_json::to_value(agent_sessions_guest::SessionCreate::example()).unwrap();
    let properties = &schema["$defs"]["SessionCreate"]["properties"];
    for (name, value) in example.as_object().unwrap() {
        let types = properties[name]["type"].to_string();
        assert!(!properties[name].is_null(), "{name} is not a session-create field");
        let kind = match value {
            Value::Null => "null",
            Value::String(_) => "string",
            Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
            Value::Number(_) => "number",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
            Value::Bool(_) => "boolean",
        };
        // An integer is also a number.
        let fits = types.contains(&format!("\"{kind}\"")) || (kind == "integer" && types.contains("\"number\""));
        assert!(fits, "{name}: {value} is not of the schema's type {types}");
    }
    assert!(!example["model_id"].as_str().unwrap_or_default().is_empty());
}
