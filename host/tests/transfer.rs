//! `sessions export`, `import` and `migrate` as real processes against
//! real redis-servers: round trips of thousands of sessions compared byte
//! for byte, bad files, re-runs, and the design document's layout migrated.

#[path = "../../tests/src/redis_server.rs"]
#[allow(dead_code)] // shared with tests/, which uses all of it
mod redis_server;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Output, Stdio};

use redis_server::RedisServer;
use serde_json::{Value, json};

fn sessions(redis: &RedisServer, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sessions"))
        .args(["--redis", &redis.url()])
        .args(args)
        .env_remove("REDIS_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sessions");
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn ok_json(output: &Output) -> Value {
    assert!(output.status.success(), "exit {:?}: {}", output.status.code(), String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

fn typed_line(n: usize) -> String {
    json!({
        "id": format!("{:08x}-0000-4000-8000-{:012x}", n, n),
        "model_id": format!("model-{}", n % 7),
        "name": format!("Session {n} ✓"),
        "temperature": (n % 20) as f64 / 10.0,
        "max_tokens": 100 + n,
        "tools": ["search", format!("tool-{n}")],
        "custom_prompt": "line one\nline two \"quoted\"",
        "created_at": "2025-04-01T14:30:00Z",
        "updated_at": "2025-04-02T10:00:00Z",
        "status": if n.is_multiple_of(3) { "completed" } else { "running" },
        "version": 3,
        "expires_in_seconds": 3600 + n as u64,
    })
    .to_string()
}

/// Every key of ours with its contents (hashes as field maps, sets and
/// sorted sets as sorted lists) and its TTL in seconds.
fn snapshot(redis: &RedisServer) -> BTreeMap<String, (String, i64)> {
    let mut connection = redis.connection();
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut connection).unwrap();
    keys.into_iter()
        .map(|key| {
            let kind: String = redis::cmd("TYPE").arg(&key).query(&mut connection).unwrap();
            let contents = match kind.as_str() {
                "hash" => {
                    let map: BTreeMap<String, String> = redis::cmd("HGETALL").arg(&key).query(&mut connection).unwrap();
                    format!("{map:?}")
                }
                "set" => {
                    let mut members: Vec<String> = redis::cmd("SMEMBERS").arg(&key).query(&mut connection).unwrap();
                    members.sort();
                    format!("{members:?}")
                }
                "zset" => {
                    let members: Vec<(String, String)> =
                        redis::cmd("ZRANGE").arg(&key).arg(0).arg(-1).arg("WITHSCORES").query(&mut connection).unwrap();
                    format!("{members:?}")
                }
                _ => {
                    let value: String = redis::cmd("GET").arg(&key).query(&mut connection).unwrap();
                    format!("{value:?}")
                }
            };
            let ttl: i64 = redis::cmd("TTL").arg(&key).query(&mut connection).unwrap();
            (key, (contents, ttl))
        })
        .collect()
}

#[test]
fn export_then_import_reproduces_every_session() {
    let source = RedisServer::start();
    let sessions_count = 3000;
    let file: String = (0..sessions_count).map(|n| typed_line(n) + "\n").collect();
    let loaded = ok_json(&sessions(&source, &["--json", "import", "-"], Some(&file)));
    assert_eq!(loaded["imported"], sessions_count);

    let dir = std::env::temp_dir().join(format!("agent-sessions-export-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let export_file = dir.join("sessions.jsonl");
    let export_path = export_file.to_str().unwrap();
    let exported = ok_json(&sessions(&source, &["--json", "export", "--output", export_path], None));
    assert_eq!(exported["exported"], sessions_count);
    let lines = std::fs::read_to_string(&export_file).unwrap();
    assert_eq!(lines.lines().count(), sessions_count);

    let target = RedisServer::start();
    let import_started = std::time::Instant::now();
    let imported = ok_json(&sessions(&target, &["--json", "import", export_path], None));
    assert_eq!(imported["imported"], sessions_count);
    let (before, after) = (snapshot(&source), snapshot(&target));
    assert_eq!(before.len(), after.len());
    for (key, (contents, _)) in &before {
        let (copied, _) = after.get(key).unwrap_or_else(|| panic!("{key} was not imported"));
        assert_eq!(copied, contents, "{key} differs");
    }
    // Each session's TTLs are those the export recorded, less the time
    // since the import began (and no more), within a second.
    let elapsed_ms = import_started.elapsed().as_millis() as i64;
    let mut connection = target.connection();
    for line in lines.lines().step_by(97) {
        let exported: Value = serde_json::from_str(line).unwrap();
        let (id, ttl_ms) = (exported["id"].as_str().unwrap(), exported["ttl_ms"].as_i64().unwrap());
        for (key, expected) in [
            (format!("session_expiry:{id}"), ttl_ms),
            (format!("session:{id}:data"), ttl_ms + 300_000),
            (format!("session:{id}:meta"), ttl_ms + 300_000),
        ] {
            let pttl: i64 = redis::cmd("PTTL").arg(&key).query(&mut connection).unwrap();
            assert!(
                pttl <= expected && pttl >= expected - elapsed_ms - 1000,
                "{key}: TTL {pttl} ms, exported {expected} ms, {elapsed_ms} ms since the import began"
            );
        }
    }

    // Running it again changes nothing.
    let again = ok_json(&sessions(&target, &["--json", "import", export_path], None));
    assert_eq!((again["imported"].as_u64(), again["skipped"].as_u64()), (Some(0), Some(sessions_count as u64)));
    let unchanged = snapshot(&target);
    assert_eq!(unchanged.keys().collect::<Vec<_>>(), after.keys().collect::<Vec<_>>());
    for (key, (contents, _)) in &after {
        assert_eq!(&unchanged[key].0, contents, "{key} changed on re-import");
    }
    // The typed form was encoded exactly like sessions the component writes.
    let id = "00000003-0000-4000-8000-000000000003";
    let session = ok_json(&sessions(&target, &["--json", "get", id], None));
    assert_eq!(session["status"], "completed");
    assert_eq!(session["is_active"], false);
    assert_eq!(session["version"], 3);
    assert_eq!(session["temperature"], 0.3);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_lines_are_reported_by_number_and_nothing_is_written() {
    let redis = RedisServer::start();
    let file = [
        typed_line(1),
        "{not json".into(),
        typed_line(2),
        json!({ "id": "not a uuid", "model_id": "m", "created_at": "2025-04-01T14:30:00Z" }).to_string(),
        json!({ "id": "00000005-0000-4000-8000-000000000005", "model_id": "m", "temperature": 9,
                "created_at": "2025-04-01T14:30:00Z" })
        .to_string(),
        json!({ "id": "00000006-0000-4000-8000-000000000006", "data": {"model_id": "m"}, "meta": {}, "ttl_ms": 1000 })
            .to_string(),
    ]
    .join("\n");
    let refused = sessions(&redis, &["import", "-"], Some(&file));
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    for line in [2, 4, 5, 6] {
        assert!(stderr.contains(&format!("-:{line}: ")), "line {line} not reported: {stderr}");
    }
    assert!(!stderr.contains("-:1: ") && !stderr.contains("-:3: "), "{stderr}");
    assert!(stderr.contains("temperature"), "{stderr}");
    let mut connection = redis.connection();
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut connection).unwrap();
    assert!(keys.is_empty(), "nothing is written when a line is bad: {keys:?}");

    let skipped = ok_json(&sessions(&redis, &["--json", "import", "-", "--skip-invalid"], Some(&file)));
    assert_eq!((skipped["imported"].as_u64(), skipped["invalid"].as_u64()), (Some(2), Some(4)));
}

#[test]
fn on_conflict_skip_overwrite_and_fail() {
    let redis = RedisServer::start();
    let first = typed_line(7);
    ok_json(&sessions(&redis, &["--json", "import", "-"], Some(&first)));
    let changed = first.replace("Session 7", "Renamed 7");
    let skip = ok_json(&sessions(&redis, &["--json", "import", "-"], Some(&changed)));
    assert_eq!(skip["skipped"], 1);
    let id = "00000007-0000-4000-8000-000000000007";
    assert_eq!(ok_json(&sessions(&redis, &["--json", "get", id], None))["name"], "Session 7 ✓");
    let fail = sessions(&redis, &["import", "-", "--on-conflict", "fail"], Some(&changed));
    assert_eq!(fail.status.code(), Some(4));
    assert_eq!(ok_json(&sessions(&redis, &["--json", "get", id], None))["name"], "Session 7 ✓");
    let overwrite =
        ok_json(&sessions(&redis, &["--json", "import", "-", "--on-conflict", "overwrite"], Some(&changed)));
    assert_eq!(overwrite["overwritten"], 1);
    assert_eq!(ok_json(&sessions(&redis, &["--json", "get", id], None))["name"], "Renamed 7 ✓");
}

#[test]
fn migrate_brings_the_documents_layout_up_to_ours() {
    let redis = RedisServer::start();
    let mut connection = redis.connection();
    let ids: Vec<String> = (0..120).map(|n| format!("{n:08x}-1111-4111-8111-111111111111")).collect();
    for id in &ids {
        let _: () = redis::cmd("HSET")
            .arg(format!("session:{id}:data"))
            .arg(&["model_id", "gpt-4", "temperature", "0.7", "tools", "[\"search\"]"])
            .query(&mut connection)
            .unwrap();
        let _: () = redis::cmd("HSET")
            .arg(format!("session:{id}:meta"))
            .arg(&["created_at", "2025-04-01T14:30:00Z", "updated_at", "2025-04-01T16:45:00Z"])
            .arg(&["last_activity", "2025-04-01T16:45:00Z", "is_active", "true", "status", "running"])
            .query(&mut connection)
            .unwrap();
        let _: () = redis::cmd("SADD").arg("active_sessions").arg(id).query(&mut connection).unwrap();
        let _: () = redis::cmd("SET")
            .arg(format!("session_expiry:{id}"))
            .arg("")
            .arg("EX")
            .arg(3600)
            .query(&mut connection)
            .unwrap();
    }
    let before = snapshot(&redis);
    let dry = ok_json(&sessions(&redis, &["--json", "migrate", "--dry-run"], None));
    assert_eq!((dry["indexed"].as_u64(), dry["hash_ttls_set"].as_u64()), (Some(120), Some(240)));
    assert_eq!(snapshot(&redis), before, "a dry run changes nothing");

    let done = ok_json(&sessions(&redis, &["--json", "migrate"], None));
    assert_eq!(done["examined"], 120);
    assert_eq!(
        (done["indexed"].as_u64(), done["hash_ttls_set"].as_u64(), done["schema_versions_set"].as_u64()),
        (Some(120), Some(240), Some(120))
    );
    let after = snapshot(&redis);
    for id in &ids {
        let ttl = after[&format!("session:{id}:data")].1;
        assert!((3890..=3900).contains(&ttl), "data TTL {ttl}");
        assert!(after[&format!("session:{id}:meta")].0.contains("\"schema_version\": \"1\""));
    }
    let page = ok_json(&sessions(&redis, &["--json", "list", "--limit", "5"], None));
    assert_eq!(page["total"], 120);
    let again = ok_json(&sessions(&redis, &["--json", "migrate"], None));
    assert_eq!(
        (again["indexed"].as_u64(), again["hash_ttls_set"].as_u64(), again["schema_versions_set"].as_u64()),
        (Some(0), Some(0), Some(0))
    );
}

// ---------------------------------------------------------------------------
// import against another writer that races it
//
// Driven natively: the guest crate's `Repository` over the in-memory backend,
// through a `Storage` that lets another writer store a session between the
// import's existence check and its write batch. Deterministic, no timing.
// ---------------------------------------------------------------------------

mod race {
    use agent_sessions_guest::kv::{Batch, BatchOutcome, KvError, Op, Reply, Storage};
    use agent_sessions_guest::{Repository, SessionCreate, Settings, SystemEnvironment};
    use agent_sessions_host::kv::memory::MemoryBackend;
    use agent_sessions_host::{ConflictPolicy, ImportRecord, ImportReport, StoredSession};

    /// The backend as is.
    struct Plain(MemoryBackend);

    impl Storage for Plain {
        fn execute(&mut self, batch: Batch) -> Result<BatchOutcome, KvError> {
            self.0.execute(&batch)
        }
    }

    /// Another writer's work, run against the same backend.
    type Intruder = Box<dyn FnOnce(&MemoryBackend)>;

    /// Runs `intruder` once, just before the first batch that writes.
    struct Intruding {
        backend: MemoryBackend,
        intruder: Option<Intruder>,
    }

    impl Storage for Intruding {
        fn execute(&mut self, batch: Batch) -> Result<BatchOutcome, KvError> {
            if batch.ops.iter().any(Op::is_write)
                && let Some(intruder) = self.intruder.take()
            {
                intruder(&self.backend);
            }
            self.backend.execute(&batch)
        }
    }

    fn repository<S: Storage>(storage: S) -> Repository<S, SystemEnvironment> {
        Repository::new(storage, SystemEnvironment, Settings::default()).unwrap()
    }

    /// A valid stored session with this model, as `export` gives it.
    fn stored(model_id: &str) -> StoredSession {
        let mut scratch = repository(Plain(MemoryBackend::new()));
        scratch.create(SessionCreate { model_id: model_id.into(), ..SessionCreate::default() }).unwrap();
        scratch.export_sessions("").unwrap().sessions.remove(0)
    }

    fn model_of(backend: &MemoryBackend, id: &str) -> Option<String> {
        let read = Batch::new().op(Op::HashGet { key: format!("session:{id}:data"), field: "model_id".into() });
        match backend.execute(&read).unwrap() {
            BatchOutcome::Applied(mut replies) => match replies.remove(0) {
                Reply::Text(text) => text,
                other => panic!("HGET replied {other:?}"),
            },
            other => panic!("{other:?}"),
        }
    }

    /// Imports `ours` and a second fresh session; another writer stores
    /// `ours`'s id (model "theirs") after the check and before the write.
    fn import_racing(policy: ConflictPolicy) -> (MemoryBackend, String, String, ImportReport) {
        let ours = stored("ours");
        let other = stored("ours");
        let (raced, fresh) = (ours.id.clone(), other.id.clone());
        let theirs = StoredSession { id: raced.clone(), ..stored("theirs") };
        let backend = MemoryBackend::new();
        let intruder = Box::new(move |backend: &MemoryBackend| {
            let report = repository(Plain(backend.clone()))
                .import_sessions(vec![ImportRecord::Stored(theirs)], ConflictPolicy::Skip, false)
                .unwrap();
            assert_eq!(report.imported, 1, "the other writer stores its session");
        });
        let mut importer = repository(Intruding { backend: backend.clone(), intruder: Some(intruder) });
        let records = vec![ImportRecord::Stored(ours), ImportRecord::Stored(other)];
        let report = importer.import_sessions(records, policy, false).unwrap();
        (backend, raced, fresh, report)
    }

    #[test]
    fn skip_never_overwrites_a_session_stored_after_the_check() {
        let (backend, raced, fresh, report) = import_racing(ConflictPolicy::Skip);
        assert_eq!(model_of(&backend, &raced).as_deref(), Some("theirs"), "the other writer's session is kept");
        assert_eq!(model_of(&backend, &fresh).as_deref(), Some("ours"), "the free id is still imported");
        assert_eq!((report.imported, report.overwritten, report.skipped), (1, 0, 1), "{report:?}");
        assert!(report.rejected.is_empty(), "{report:?}");
    }

    #[test]
    fn fail_writes_nothing_when_a_session_is_stored_after_the_check() {
        let (backend, raced, fresh, report) = import_racing(ConflictPolicy::Fail);
        assert_eq!(model_of(&backend, &raced).as_deref(), Some("theirs"), "the other writer's session is kept");
        assert_eq!(model_of(&backend, &fresh), None, "nothing of the refused call is written");
        assert_eq!((report.imported, report.overwritten, report.skipped), (0, 0, 0), "{report:?}");
        assert_eq!(report.rejected.len(), 1, "{report:?}");
        assert_eq!(report.rejected[0].index, 0);
        assert!(report.rejected[0].message.contains(&raced), "{report:?}");
    }

    #[test]
    fn overwrite_replaces_a_session_stored_after_the_check() {
        let (backend, raced, fresh, report) = import_racing(ConflictPolicy::Overwrite);
        assert_eq!(model_of(&backend, &raced).as_deref(), Some("ours"));
        assert_eq!(model_of(&backend, &fresh).as_deref(), Some("ours"));
        assert_eq!(report.imported + report.overwritten, 2, "{report:?}");
    }
}
