//! Property tests: hostile input never traps or panics (a typed error or
//! success, and what succeeds reads back unchanged), and random sequences
//! of operations agree with a small reference model on both backends.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use agent_sessions_host::kv::memory::{ManualClock, MemoryBackend};
use agent_sessions_host::{DataField, Error, SessionCreate, SessionData, SessionStore, SessionUpdate};
use agent_sessions_tests::RedisServer;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// Text from anywhere: any Unicode (control characters included), the
/// empty string, lookalikes of valid values, and now and then huge strings.
fn hostile_text() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => any::<String>(),
        8 => "[a-z0-9_-]{1,12}",
        1 => Just(String::new()),
        1 => Just(" ".to_owned()),
        1 => "\\PC{190,210}",
        1 => (1usize..300_000).prop_map(|n| "x".repeat(n)),
        1 => Just("../x".to_owned()),
        1 => Just("{tag}".to_owned()),
        1 => Just("\u{0}\u{7}\n\r\t".to_owned()),
    ]
}

fn hostile_float() -> impl Strategy<Value = f64> {
    prop_oneof![
        1 => any::<f64>(),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(-0.0),
        1 => Just(2.0),
        1 => Just(2.000_000_000_000_000_4),
        8 => 0.0..=2.0f64,
    ]
}

fn hostile_integer() -> impl Strategy<Value = i64> {
    prop_oneof![1 => any::<i64>(), 1 => Just(i64::MIN), 1 => Just(i64::MAX), 1 => Just(0), 1 => Just(-1), 1 => -5..1_000_005i64, 4 => 1..11i64]
}

fn hostile_tools() -> impl Strategy<Value = Vec<String>> {
    prop_oneof![
        3 => Just(Vec::new()),
        1 => prop::collection::vec(hostile_text(), 0..6),
        1 => prop::collection::vec("[a-z]{1,3}", 0..20),
        1 => (1usize..300).prop_map(|n| vec!["t".to_owned(); n]),
        1 => Just(vec!["search".to_owned(), "search".to_owned()]),
    ]
}

fn hostile_status() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof![
        Just("running".to_owned()),
        Just("completed".to_owned()),
        Just("RUNNING".to_owned()),
        hostile_text()
    ])
}

fn hostile_create() -> impl Strategy<Value = SessionCreate> {
    (
        hostile_text(),
        prop::option::of(hostile_text()),
        prop::option::of(hostile_text()),
        prop::option::of(hostile_float()),
        prop::option::of(hostile_integer()),
        prop::option::of(hostile_integer()),
        hostile_tools(),
        prop::option::of(hostile_text()),
        prop::option::of(hostile_text()),
        hostile_status(),
    )
        .prop_map(
            |(
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
            )| {
                SessionCreate {
                    id: None,
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
                    ..SessionCreate::default()
                }
            },
        )
}

fn data_field() -> impl Strategy<Value = DataField> {
    prop_oneof![
        Just(DataField::PersonaId),
        Just(DataField::Name),
        Just(DataField::Temperature),
        Just(DataField::ReasoningEffort),
        Just(DataField::MaxTokens),
        Just(DataField::Tools),
        Just(DataField::CustomPrompt),
        Just(DataField::AgentInternalId),
    ]
}

fn hostile_update() -> impl Strategy<Value = SessionUpdate> {
    (
        (prop::option::of(hostile_text()), prop::option::of(hostile_text()), prop::option::of(hostile_text())),
        (prop::option::of(hostile_float()), prop::option::of(hostile_integer()), prop::option::of(hostile_integer())),
        (prop::option::of(hostile_tools()), prop::option::of(hostile_text()), prop::option::of(hostile_text())),
        hostile_status(),
        prop::collection::vec(data_field(), 0..3),
        prop::option::of(prop_oneof![Just(0u64), Just(1), Just(2), any::<u64>()]),
    )
        .prop_map(
            |(
                (model_id, persona_id, name),
                (temperature, reasoning_effort, max_tokens),
                (tools, custom_prompt, agent_internal_id),
                status,
                clear,
                expected_version,
            )| {
                SessionUpdate {
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
                    clear,
                    expected_version,
                }
            },
        )
}

/// Hostile input may be refused, never anything else.
fn acceptable<T: std::fmt::Debug>(result: &Result<T, Error>) -> Result<(), TestCaseError> {
    match result {
        Ok(_) | Err(Error::InvalidInput(_)) | Err(Error::NotFound(_)) | Err(Error::Conflict(_)) => Ok(()),
        Err(other) => Err(TestCaseError::fail(format!("hostile input gave {other:?}"))),
    }
}

/// `build` makes the store on the runtime the test then uses (a Redis
/// connection lives on the runtime that made it).
fn hostile_input_never_traps(build: impl std::future::Future<Output = Result<SessionStore, Error>>, cases: u32) {
    let rt = runtime();
    let store = rt.block_on(build).unwrap();
    let id = rt.block_on(store.create(SessionCreate { model_id: "m".into(), ..Default::default() })).unwrap().id;
    let (accepted, refused) = (std::cell::Cell::new(0u32), std::cell::Cell::new(0u32));
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    runner
        .run(
            &(hostile_create(), hostile_update(), hostile_text(), any::<u32>(), any::<u64>()),
            |(create, update, text, limit, offset)| {
                rt.block_on(async {
                    let created = store.create(create.clone()).await;
                    acceptable(&created)?;
                    let counter = if created.is_ok() { &accepted } else { &refused };
                    counter.set(counter.get() + 1);
                    if let Ok(session) = &created {
                        // What was accepted reads back exactly.
                        let read = store.get(&session.id).await.map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
                        prop_assert_eq!(&read.data, &session.data);
                        prop_assert_eq!(read.data.model_id, create.model_id);
                    }
                    let updated = store.update(&id, update).await;
                    acceptable(&updated)?;
                    if let Ok(session) = &updated {
                        let read = store.get(&id).await.map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
                        prop_assert_eq!(&read.data, &session.data);
                    }
                    acceptable(&store.get(&text).await)?;
                    acceptable(&store.extend_ttl(&text).await)?;
                    acceptable(&store.update(&text, SessionUpdate::default()).await)?;
                    acceptable(&store.list(limit % 2000, offset).await)?;
                    acceptable(&store.delete(&text).await)?;
                    Ok(())
                })
            },
        )
        .unwrap();
    eprintln!("hostile creates: {} accepted, {} refused as invalid input", accepted.get(), refused.get());
    assert!(accepted.get() * 20 >= cases, "the strategy must also produce valid input ({} of {cases})", accepted.get());
}

#[test]
fn hostile_input_never_traps_in_memory() {
    hostile_input_never_traps(SessionStore::in_memory(), 256);
}

#[test]
fn hostile_input_never_traps_on_redis() {
    let redis = RedisServer::start();
    hostile_input_never_traps(SessionStore::connect(&redis.url()), 96);
}

// ---------------------------------------------------------------------------
// Model-based: random operation sequences against a reference model.

#[derive(Debug, Clone)]
enum Action {
    Create {
        name: Option<String>,
        max_tokens: Option<i64>,
    },
    Get(usize),
    Update {
        target: usize,
        name: Option<String>,
        status: Option<&'static str>,
        expected: Option<i64>,
    },
    Delete(usize),
    List {
        limit: u32,
        offset: u64,
    },
    Extend(usize),
    Cleanup,
    /// The session's expiry key disappears, as when its TTL runs out.
    Expire(usize),
}

fn action() -> impl Strategy<Value = Action> {
    let target = 0usize..8;
    prop_oneof![
        3 => (prop::option::of("[a-z]{1,6}"), prop::option::of(1i64..100)).prop_map(|(name, max_tokens)| Action::Create { name, max_tokens }),
        2 => target.clone().prop_map(Action::Get),
        3 => (target.clone(), prop::option::of("[a-z]{1,6}"), prop::option::of(prop_oneof![Just("running"), Just("paused"), Just("failed")]), prop::option::of(-1i64..4))
            .prop_map(|(target, name, status, expected)| Action::Update { target, name, status, expected }),
        1 => target.clone().prop_map(Action::Delete),
        2 => (0u32..6, 0u64..8).prop_map(|(limit, offset)| Action::List { limit, offset }),
        1 => target.clone().prop_map(Action::Extend),
        1 => Just(Action::Cleanup),
        1 => target.prop_map(Action::Expire),
    ]
}

#[derive(Debug, Clone)]
struct ModelSession {
    data: SessionData,
    status: String,
    version: u64,
}

/// What the repository should do, in a few lines: live sessions, and ids
/// still indexed (live, or expired and not yet cleaned up).
#[derive(Default)]
struct Model {
    live: BTreeMap<String, ModelSession>,
    indexed: BTreeSet<String>,
    /// Every id ever created, so actions can target gone sessions too.
    ids: Vec<String>,
}

/// How a backend lets the test end a session's TTL.
enum Expirer {
    Memory(MemoryBackend),
    Redis(redis::Connection),
}

impl Expirer {
    fn expire(&mut self, prefix: &str, id: &str) {
        let key = format!("{prefix}session_expiry:{id}");
        match self {
            Expirer::Memory(backend) => {
                backend.remove_key(&key);
            }
            Expirer::Redis(connection) => {
                let _: () = redis::cmd("DEL").arg(key).query(connection).unwrap();
            }
        }
    }
}

fn run_against_model(
    rt: &tokio::runtime::Runtime,
    store: &SessionStore,
    expirer: &mut Expirer,
    actions: &[Action],
) -> Result<(), TestCaseError> {
    let mut model = Model::default();
    let pick = |model: &Model, n: usize| -> String {
        model
            .ids
            .get(n % model.ids.len().max(1))
            .cloned()
            .unwrap_or_else(|| "0b6f2a52-3c1e-4d7a-9a55-6f1f3e2b9c10".into())
    };
    for action in actions {
        match action.clone() {
            Action::Create { name, max_tokens } => {
                let input = SessionCreate { model_id: "m".into(), name, max_tokens, ..Default::default() };
                let session = rt
                    .block_on(store.create(input.clone()))
                    .map_err(|e| TestCaseError::fail(format!("create: {e:?}")))?;
                prop_assert_eq!(session.meta.version, 1);
                model.ids.push(session.id.clone());
                model.indexed.insert(session.id.clone());
                model
                    .live
                    .insert(session.id, ModelSession { data: session.data, status: "running".into(), version: 1 });
            }
            Action::Get(n) => {
                let id = pick(&model, n);
                let result = rt.block_on(store.get(&id));
                match (model.live.get(&id), result) {
                    (Some(expected), Ok(session)) => {
                        prop_assert_eq!(&session.data, &expected.data);
                        prop_assert_eq!(&session.meta.status, &expected.status);
                        prop_assert_eq!(session.meta.version, expected.version);
                    }
                    (None, Err(Error::NotFound(_))) => {}
                    (expected, got) => prop_assert!(false, "get {id}: model {expected:?}, got {got:?}"),
                }
            }
            Action::Update { target, name, status, expected } => {
                let id = pick(&model, target);
                let change = SessionUpdate {
                    name: name.clone(),
                    status: status.map(str::to_owned),
                    expected_version: expected.and_then(|v| u64::try_from(v).ok()),
                    ..Default::default()
                };
                let result = rt.block_on(store.update(&id, change.clone()));
                match (model.live.get_mut(&id), result) {
                    (None, Err(Error::NotFound(_))) => {}
                    (Some(current), Err(Error::Conflict(_))) => {
                        prop_assert!(
                            change.expected_version.is_some_and(|v| v != current.version),
                            "unexpected conflict"
                        );
                    }
                    (Some(current), Ok(session)) => {
                        prop_assert!(
                            change.expected_version.is_none_or(|v| v == current.version),
                            "version check skipped"
                        );
                        if let Some(name) = name {
                            current.data.name = Some(name);
                        }
                        if let Some(status) = status {
                            current.status = status.to_owned();
                        }
                        current.version += 1;
                        prop_assert_eq!(&session.data, &current.data);
                        prop_assert_eq!(session.meta.version, current.version);
                        prop_assert_eq!(&session.meta.status, &current.status);
                        prop_assert_eq!(session.meta.is_active, current.status != "failed");
                    }
                    (model_session, got) => prop_assert!(false, "update {id}: model {model_session:?}, got {got:?}"),
                }
            }
            Action::Delete(n) => {
                let id = pick(&model, n);
                let deleted = rt.block_on(store.delete(&id)).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
                prop_assert_eq!(deleted, model.live.remove(&id).is_some());
                model.indexed.remove(&id);
            }
            Action::List { limit, offset } => {
                let page = rt.block_on(store.list(limit, offset)).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
                prop_assert_eq!(page.total, model.indexed.len() as u64);
                prop_assert!(page.sessions.len() <= limit as usize);
                prop_assert!(page.corrupt.is_empty());
                for session in &page.sessions {
                    prop_assert!(model.live.contains_key(&session.id), "listed a session that is not live");
                }
                let everything = rt.block_on(store.list(1000, 0)).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
                let listed: BTreeSet<String> = everything.sessions.into_iter().map(|s| s.id).collect();
                let live: BTreeSet<String> = model.live.keys().cloned().collect();
                prop_assert_eq!(listed, live);
            }
            Action::Extend(n) => {
                let id = pick(&model, n);
                let extended = rt.block_on(store.extend_ttl(&id)).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
                prop_assert_eq!(extended, model.live.contains_key(&id));
            }
            Action::Cleanup => {
                let removed =
                    rt.block_on(store.cleanup_expired()).map_err(|e| TestCaseError::fail(format!("{e:?}")))?.removed;
                let expired = model.indexed.iter().filter(|id| !model.live.contains_key(*id)).count();
                prop_assert_eq!(removed, expired as u64);
                model.indexed = model.live.keys().cloned().collect();
            }
            Action::Expire(n) => {
                let id = pick(&model, n);
                expirer.expire(store.prefix(), &id);
                model.live.remove(&id);
            }
        }
    }
    Ok(())
}

#[test]
fn operation_sequences_agree_with_the_model_on_both_backends() {
    let rt = runtime();
    let redis = RedisServer::start();
    let case = std::sync::atomic::AtomicU64::new(0);
    let mut runner = TestRunner::new(Config { cases: 48, failure_persistence: None, ..Config::default() });
    runner
        .run(&prop::collection::vec(action(), 1..40), |actions| {
            let case = case.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            // A fresh store per case and backend; Redis cases use their own prefix.
            let backend = MemoryBackend::new();
            let memory = rt.block_on(SessionStore::builder().memory_backend(backend.clone()).build()).unwrap();
            run_against_model(&rt, &memory, &mut Expirer::Memory(backend), &actions)?;
            let on_redis =
                rt.block_on(SessionStore::builder().redis(redis.url()).prefix(format!("case{case}:")).build()).unwrap();
            run_against_model(&rt, &on_redis, &mut Expirer::Redis(redis.connection()), &actions)?;
            let violations =
                rt.block_on(agent_sessions_tests::invariants::check_after_cleanup(&on_redis, &mut redis.connection()));
            prop_assert!(violations.is_empty(), "{:?}", violations);
            Ok(())
        })
        .unwrap();
}

#[test]
fn a_manual_clock_expires_sessions_in_memory() {
    let rt = runtime();
    let clock = ManualClock::new();
    let store = rt
        .block_on(
            SessionStore::builder()
                .memory_backend(MemoryBackend::with_clock(clock.clone()))
                .session_ttl(Duration::from_secs(60))
                .build(),
        )
        .unwrap();
    let id = rt.block_on(store.create(SessionCreate { model_id: "m".into(), ..Default::default() })).unwrap().id;
    clock.advance(Duration::from_secs(59));
    assert!(rt.block_on(store.extend_ttl(&id)).unwrap(), "alive at 59 s, and extended");
    clock.advance(Duration::from_secs(59));
    assert!(rt.block_on(store.get(&id)).is_ok(), "the extension moved the deadline");
    clock.advance(Duration::from_secs(2));
    assert_eq!(rt.block_on(store.get(&id)), Err(Error::NotFound(id.clone())));
    assert_eq!(rt.block_on(store.cleanup_expired()).map(|r| r.removed), Ok(1));
}
