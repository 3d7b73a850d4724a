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
use agent_sessions_guest::model::{Session, SessionStats};
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
    let definitions: Map<String, Value> = generator.take_definitions(true).into_iter().collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "agent-sessions documents",
        "description": "The JSON documents of wit/sessions.wit's repository interface, the CLI's --json output and the Python and JavaScript hosts' objects. Generated from guest/src/model.rs and guest/src/conversation.rs by tests/tests/schema.rs; do not edit by hand.",
        "documents": documents,
        "$defs": definitions,
    })
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
        "{} is out of step with guest/src/model.rs; run `UPDATE_SCHEMA=1 cargo test -p agent-sessions-tests --test schema` and commit it",
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
