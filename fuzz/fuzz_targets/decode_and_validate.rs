//! Fuzzes everything that reads untrusted text: session ids, timestamps,
//! stored hashes (as another service or an attacker may have written them),
//! caller input (typed and as the JSON documents hosts send) and the packed
//! kv batches and replies that cross `kv.execute`. Nothing may panic, and what is accepted must survive
//! a write and a read unchanged.

#![no_main]

use agent_sessions_guest::encoding::{HashContents, decode_session, encode_data, encode_meta};
use agent_sessions_guest::id::SessionId;
use agent_sessions_guest::kv::{Batch, Op, rules, wire};
use agent_sessions_guest::model::{DataField, ImportRecord, SessionCreate, SessionUpdate};
use agent_sessions_guest::timestamp::Timestamp;
use agent_sessions_guest::validation::{validate_create, validate_update};
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    id: String,
    timestamp: String,
    data: Vec<(String, String)>,
    meta: Vec<(String, String)>,
    ttl_ms: i64,
    create: Create,
    update: Update,
    document: String,
    keys: Vec<String>,
    packed: String,
}

#[derive(Arbitrary, Debug)]
struct Create {
    id: Option<String>,
    model_id: String,
    persona_id: Option<String>,
    name: Option<String>,
    temperature: Option<f64>,
    reasoning_effort: Option<i64>,
    max_tokens: Option<i64>,
    tools: Vec<String>,
    custom_prompt: Option<String>,
    agent_internal_id: Option<String>,
    status: Option<String>,
}

#[derive(Arbitrary, Debug)]
struct Update {
    create: Create,
    tools: Option<Vec<String>>,
    clear: Vec<u8>,
    expected_version: Option<u64>,
}

fn session_create(c: Create) -> SessionCreate {
    SessionCreate {
        id: c.id,
        model_id: c.model_id,
        persona_id: c.persona_id,
        name: c.name,
        temperature: c.temperature,
        reasoning_effort: c.reasoning_effort,
        max_tokens: c.max_tokens,
        tools: c.tools,
        custom_prompt: c.custom_prompt,
        agent_internal_id: c.agent_internal_id,
        status: c.status,
    }
}

const FIELDS: [DataField; 8] = [
    DataField::PersonaId,
    DataField::Name,
    DataField::Temperature,
    DataField::ReasoningEffort,
    DataField::MaxTokens,
    DataField::Tools,
    DataField::CustomPrompt,
    DataField::AgentInternalId,
];

fuzz_target!(|input: Input| {
    // JSON documents as hosts send them, and packed batches and replies:
    // typed errors, never a panic; a packed batch unpacks and packs to the same text.
    let _ = serde_json::from_str::<SessionCreate>(&input.document);
    let _ = serde_json::from_str::<SessionUpdate>(&input.document);
    if let Ok(value) = serde_json::from_str(&input.document) {
        let _ = ImportRecord::from_json(value);
    }
    if let Ok(batch) = wire::decode_batch(&input.keys, &input.packed) {
        let _ = rules::check(&batch);
        if let Ok(packed) = wire::encode_batch(&batch) {
            let keys: Vec<String> =
                if packed.keys.is_empty() { Vec::new() } else { packed.keys.split('\n').map(str::to_owned).collect() };
            let again = wire::decode_batch(&keys, &packed.batch).expect("a packed batch unpacks");
            let repacked = wire::encode_batch(&again).expect("an unpacked batch packs");
            assert_eq!(repacked, packed);
        }
    }
    let probe = Batch::new().op(Op::HashGetAll("h".into())).op(Op::TtlMs("k".into()));
    let _ = wire::decode_reply(&probe, &input.packed);

    if let Ok(id) = SessionId::parse(&input.id) {
        // No accepted id can open a hash tag, end a key segment or match as a pattern.
        assert!(!id.as_str().contains(|c: char| ":{}*?[]\\".contains(c) || c.is_whitespace()), "{id}");
        assert_eq!(SessionId::parse(id.as_str()), Ok(id));
    }
    if let Ok(time) = Timestamp::parse(&input.timestamp) {
        // What we write reads back, to the second.
        let written = time.to_string();
        if let Ok(again) = Timestamp::parse(&written) {
            assert_eq!(again.unix_millis().div_euclid(1000), time.unix_millis().div_euclid(1000), "{written}");
        }
    }

    // Stored hashes as anyone may have written them.
    let fields = HashContents::Fields;
    if let Ok(session) = decode_session("id", "data", fields(input.data), "meta", fields(input.meta), input.ttl_ms) {
        let (data, meta) = (fields(encode_data(&session.data)), fields(encode_meta(&session.meta)));
        let again = decode_session("id", "data", data, "meta", meta, input.ttl_ms)
            .expect("what was read can be written and read again");
        assert_eq!(again.data, session.data);
        assert_eq!(again.meta.status, session.meta.status);
        assert_eq!(again.meta.is_active, session.meta.is_active);
        assert_eq!(again.meta.version, session.meta.version);
        assert_eq!(again.meta.created_at.to_string(), session.meta.created_at.to_string());
    }

    // Caller input: accepted values are stored and read back exactly.
    if let Ok(valid) = validate_create(session_create(input.create)) {
        let meta = vec![
            ("created_at".to_owned(), "2025-04-01T14:30:00Z".to_owned()),
            ("updated_at".to_owned(), "2025-04-01T14:30:00Z".to_owned()),
            ("last_activity".to_owned(), "2025-04-01T14:30:00Z".to_owned()),
            ("is_active".to_owned(), valid.is_active.to_string()),
            ("status".to_owned(), valid.status.clone()),
        ];
        let read = decode_session("id", "data", fields(encode_data(&valid.data)), "meta", fields(meta), 1000)
            .expect("valid input decodes after encoding");
        assert_eq!(read.data, valid.data);
    }
    let update = SessionUpdate {
        tools: input.update.tools,
        clear: input.update.clear.iter().map(|n| FIELDS[*n as usize % FIELDS.len()]).collect(),
        expected_version: input.update.expected_version,
        ..{
            let c = session_create(input.update.create);
            SessionUpdate {
                model_id: Some(c.model_id),
                persona_id: c.persona_id,
                name: c.name,
                temperature: c.temperature,
                reasoning_effort: c.reasoning_effort,
                max_tokens: c.max_tokens,
                custom_prompt: c.custom_prompt,
                agent_internal_id: c.agent_internal_id,
                status: c.status,
                ..SessionUpdate::default()
            }
        }
    };
    let _ = validate_update(update);
});
