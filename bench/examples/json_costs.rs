//! What the JSON documents cost natively: a session and an update, written
//! and read, per call. `json_costs [CALLS]`
use std::time::Instant;

use agent_sessions_guest::model::{Session, SessionData, SessionMeta, SessionUpdate};
use agent_sessions_guest::timestamp::Timestamp;

fn main() {
    let calls: u32 = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(200_000);
    let now = Timestamp::from_unix_millis(1_750_000_000_000);
    let session = Session {
        id: "8f14e45f-ceea-467f-a0e6-3e8d0e7a8c1b".into(),
        data: SessionData {
            model_id: "gpt-4".into(),
            persona_id: Some("programmer".into()),
            name: Some("A session".into()),
            temperature: Some(0.7),
            reasoning_effort: Some(5),
            max_tokens: Some(2000),
            tools: vec!["search".into(), "code_analysis".into()],
            custom_prompt: Some("You are a helpful assistant.".into()),
            agent_internal_id: Some("agent-1".into()),
        },
        meta: SessionMeta {
            created_at: now,
            updated_at: now,
            last_activity: now,
            is_active: true,
            status: "running".into(),
            version: 3,
            app_name: None,
            user_id: None,
        },
        expires_in_seconds: Some(3600),
    };
    let text = serde_json::to_string(&session).unwrap();
    let time = |name: &str, f: &dyn Fn()| {
        let started = Instant::now();
        for _ in 0..calls {
            f();
        }
        println!("{name:<24} {:>7.2} us", started.elapsed().as_secs_f64() * 1e6 / f64::from(calls));
    };
    time("session to JSON", &|| {
        std::hint::black_box(serde_json::to_string(std::hint::black_box(&session)).unwrap());
    });
    time("session from JSON", &|| {
        std::hint::black_box(serde_json::from_str::<Session>(std::hint::black_box(&text)).unwrap());
    });
    let update = SessionUpdate { max_tokens: Some(100), temperature: Some(0.5), ..Default::default() };
    let update_text = serde_json::to_string(&update).unwrap();
    time("update to JSON", &|| {
        std::hint::black_box(serde_json::to_string(std::hint::black_box(&update)).unwrap());
    });
    time("update from JSON", &|| {
        std::hint::black_box(serde_json::from_str::<SessionUpdate>(std::hint::black_box(&update_text)).unwrap());
    });
}
