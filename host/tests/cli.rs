//! Black-box tests of the `sessions` binary: real processes, real
//! redis-server, checking stdout, stderr and exit codes.

#[path = "../../build-support/component.rs"]
mod component;
#[path = "../../tests/src/redis_server.rs"]
#[allow(dead_code)] // shared with tests/, which uses all of it
mod redis_server;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use redis_server::{RedisServer, ServerOptions};
use serde_json::Value;

fn sessions(redis: &RedisServer, args: &[&str]) -> Output {
    run(&[&["--redis", &redis.url()], args].concat(), None)
}

fn run(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sessions"))
        .args(args)
        .env_remove("REDIS_URL")
        .env_remove("SESSIONS_PREFIX")
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

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", String::from_utf8_lossy(&output.stdout)))
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("exited normally")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Errors are one line, prefixed, with no panic or backtrace.
fn assert_clean_error(output: &Output) {
    let err = stderr(output);
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("sessions: "), "{err}");
    assert!(!err.contains("panicked") && !err.contains("backtrace"), "{err}");
}

#[test]
fn lifecycle_with_json_output() {
    let redis = RedisServer::start();
    let created = sessions(
        &redis,
        &[
            "--json",
            "create",
            "--model-id",
            "gpt-4",
            "--persona-id",
            "programmer",
            "--name",
            "Code Review Session",
            "--temperature",
            "0.7",
            "--reasoning-effort",
            "5",
            "--max-tokens",
            "2000",
            "--tool",
            "search",
            "--tool",
            "code_analysis",
            "--custom-prompt",
            "...",
            "--agent-internal-id",
            "agent-54321",
        ],
    );
    assert_eq!(code(&created), 0, "{}", stderr(&created));
    let session = json(&created);
    let id = session["id"].as_str().unwrap().to_owned();
    assert_eq!(session["temperature"], 0.7);
    assert_eq!(session["reasoning_effort"], 5);
    assert_eq!(session["max_tokens"], 2000);
    assert_eq!(session["tools"], serde_json::json!(["search", "code_analysis"]));
    assert_eq!(session["is_active"], true);
    assert_eq!(session["status"], "running");
    assert_eq!(session["version"], 1);
    assert_eq!(session["expires_in_seconds"], 3600);
    let keys: Vec<&str> = session.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "id",
            "model_id",
            "persona_id",
            "name",
            "temperature",
            "reasoning_effort",
            "max_tokens",
            "tools",
            "custom_prompt",
            "agent_internal_id",
            "created_at",
            "updated_at",
            "last_activity",
            "is_active",
            "status",
            "version",
            "expires_in_seconds",
        ],
        "one flat object"
    );

    let got = sessions(&redis, &["--json", "get", &id]);
    assert_eq!(code(&got), 0);
    assert_eq!(json(&got), session);

    let updated = sessions(&redis, &["--json", "update", &id, "--status", "completed", "--expect-version", "1"]);
    assert_eq!(code(&updated), 0, "{}", stderr(&updated));
    let updated = json(&updated);
    assert_eq!(
        (updated["status"].clone(), updated["is_active"].clone(), updated["version"].clone()),
        ("completed".into(), false.into(), 2.into())
    );

    let page = sessions(&redis, &["--json", "list", "--limit", "5"]);
    assert_eq!(code(&page), 0);
    let page = json(&page);
    assert_eq!((page["total"].clone(), page["limit"].clone(), page["offset"].clone()), (1.into(), 5.into(), 0.into()));
    assert_eq!(page["sessions"][0]["id"], id.as_str());

    let extended = sessions(&redis, &["--json", "extend", &id]);
    assert_eq!((code(&extended), json(&extended)["extended"].clone()), (0, true.into()));

    let deleted = sessions(&redis, &["--json", "delete", &id]);
    assert_eq!((code(&deleted), json(&deleted)["deleted"].clone()), (0, true.into()));

    let cleanup = sessions(&redis, &["--json", "cleanup"]);
    assert_eq!((code(&cleanup), json(&cleanup)["removed"].clone()), (0, 0.into()));
}

#[test]
fn text_output_is_readable() {
    let redis = RedisServer::start();
    let created = sessions(&redis, &["create", "--model-id", "gpt-4", "--name", "Review"]);
    assert_eq!(code(&created), 0);
    let text = String::from_utf8_lossy(&created.stdout);
    assert!(text.contains("model_id           gpt-4"), "{text}");
    assert!(text.contains("status             running (active)"), "{text}");
    let listed = sessions(&redis, &["list"]);
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(text.contains("sessions 1-1 of 1"), "{text}");
}

#[test]
fn list_pages_with_page_tokens() {
    let redis = RedisServer::start();
    for name in ["a", "b", "c"] {
        assert_eq!(code(&sessions(&redis, &["create", "--model-id", "m", "--name", name])), 0);
    }
    let first = json(&sessions(&redis, &["--json", "list", "--limit", "2"]));
    let token = first["next_page_token"].as_str().expect("a full page has a token").to_owned();
    let text = sessions(&redis, &["list", "--limit", "2"]);
    assert!(String::from_utf8_lossy(&text.stdout).contains(&format!("next page: --page-token {token}")));
    let second = sessions(&redis, &["--json", "list", "--limit", "2", "--page-token", &token]);
    assert_eq!(code(&second), 0, "{}", stderr(&second));
    let second = json(&second);
    assert_eq!(second["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(second["next_page_token"], Value::Null);
    let mut names: Vec<Value> = first["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["sessions"].as_array().unwrap())
        .map(|s| s["name"].clone())
        .collect();
    names.sort_by_key(|name| name.to_string());
    assert_eq!(names, ["a", "b", "c"]);
    let both = sessions(&redis, &["list", "--offset", "1", "--page-token", &token]);
    assert_eq!(code(&both), 2, "an offset and a token together are a usage error");
    let bad = sessions(&redis, &["list", "--page-token", "nonsense"]);
    assert_eq!(code(&bad), 2);
    assert!(stderr(&bad).contains("page token"), "{}", stderr(&bad));
}

#[test]
fn exit_codes_say_what_happened() {
    let redis = RedisServer::start();
    let missing = "0b6f2a52-3c1e-4d7a-9a55-6f1f3e2b9c10";
    for args in
        [vec!["get", missing], vec!["delete", missing], vec!["extend", missing], vec!["update", missing, "--name", "x"]]
    {
        let output = sessions(&redis, &args);
        assert_eq!(code(&output), 3, "{args:?}: {}", stderr(&output));
        assert_clean_error(&output);
    }

    let created = json(&sessions(&redis, &["--json", "create", "--model-id", "m"]));
    let id = created["id"].as_str().unwrap();
    let conflict = sessions(&redis, &["update", id, "--name", "x", "--expect-version", "7"]);
    assert_eq!(code(&conflict), 4, "{}", stderr(&conflict));
    assert_clean_error(&conflict);

    let mut r = redis.connection();
    let _: () =
        redis::cmd("HSET").arg(format!("session:{id}:data")).arg("max_tokens").arg("lots").query(&mut r).unwrap();
    let corrupt = sessions(&redis, &["--json", "get", id]);
    assert_eq!(code(&corrupt), 6, "{}", stderr(&corrupt));
    assert_clean_error(&corrupt);
    let document = json(&corrupt);
    assert_eq!(document["error"]["kind"], "data_corrupt");
    assert_eq!(document["error"]["corruption"]["field"], "max_tokens");
    assert_eq!(document["error"]["corruption"]["key"], format!("session:{id}:data"));
}

#[test]
fn bad_input_exits_2_with_one_clear_line() {
    let redis = RedisServer::start();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["get", "not a uuid"], "is neither a UUID"),
        (vec!["get", "*"], "is neither a UUID"),
        (vec!["delete", "../x"], "is neither a UUID"),
        (vec!["extend", "{tag}"], "is neither a UUID"),
        (vec!["create", "--model-id", ""], "model_id"),
        (vec!["create"], "--model-id is required"),
        (vec!["create", "--model-id", "m", "--temperature", "NaN"], "temperature"),
        (vec!["create", "--model-id", "m", "--temperature", "inf"], "temperature"),
        (vec!["create", "--model-id", "m", "--temperature", "2.5"], "temperature"),
        (vec!["create", "--model-id", "m", "--temperature", "-1"], "temperature"),
        (vec!["create", "--model-id", "m", "--reasoning-effort", "11"], "reasoning_effort"),
        (vec!["create", "--model-id", "m", "--max-tokens", "-5"], "max_tokens"),
        (vec!["create", "--model-id", "m", "--max-tokens", "99999999999999999999"], "max-tokens"),
        (vec!["create", "--model-id", "m", "--status", "sleeping"], "status"),
        (vec!["create", "--model-id", "m", "--tool", ""], "tools[0]"),
        (vec!["create", "--model-id", "m", "--tool", "a", "--tool", "a"], "twice"),
        (vec!["list", "--limit", "5000"], "limit"),
        (vec!["frobnicate"], "frobnicate"),
    ];
    let long_name = "n".repeat(501);
    let mut cases = cases;
    cases.push((vec!["create", "--model-id", "m", "--name", &long_name], "name"));
    for (args, expected) in cases {
        let output = sessions(&redis, &args);
        assert_eq!(code(&output), 2, "{args:?}: {}", stderr(&output));
        let err = stderr(&output);
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        if args[0] != "frobnicate" && !args.contains(&"99999999999999999999") {
            assert_clean_error(&output);
        }
    }
    let mut r = redis.connection();
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut r).unwrap();
    assert!(keys.is_empty(), "bad input wrote nothing: {keys:?}");
}

#[test]
fn create_and_update_from_json() {
    let redis = RedisServer::start();
    let document = r#"{"model_id": "gpt-4", "persona_id": "programmer", "temperature": "0.7",
        "reasoning_effort": 5, "max_tokens": "2000", "tools": "[\"search\", \"code_analysis\"]"}"#;
    let created =
        run(&["--redis", &redis.url(), "--json", "create", "--from-json", "-", "--name", "From flags"], Some(document));
    assert_eq!(code(&created), 0, "{}", stderr(&created));
    let session = json(&created);
    assert_eq!(session["temperature"], 0.7);
    assert_eq!(session["max_tokens"], 2000);
    assert_eq!(session["tools"], serde_json::json!(["search", "code_analysis"]));
    assert_eq!(session["name"], "From flags");
    let id = session["id"].as_str().unwrap();

    let file = std::env::temp_dir().join(format!("sessions-update-{id}.json"));
    std::fs::write(&file, r#"{"persona_id": null, "max_tokens": 100, "created_at": "ignored"}"#).unwrap();
    let updated = sessions(&redis, &["--json", "update", id, "--from-json", file.to_str().unwrap()]);
    std::fs::remove_file(&file).unwrap();
    assert_eq!(code(&updated), 0, "{}", stderr(&updated));
    let updated = json(&updated);
    assert_eq!((updated["persona_id"].clone(), updated["max_tokens"].clone()), (Value::Null, 100.into()));

    let bad = run(&["--redis", &redis.url(), "create", "--from-json", "-"], Some(r#"{"model": "typo"}"#));
    assert_eq!(code(&bad), 2);
    assert!(stderr(&bad).contains("unknown field `model`"), "{}", stderr(&bad));
    let bad = run(&["--redis", &redis.url(), "create", "--from-json", "-"], Some("[1, 2"));
    assert_eq!(code(&bad), 2);
    assert!(stderr(&bad).contains("not valid JSON"), "{}", stderr(&bad));
}

#[test]
fn create_takes_a_caller_chosen_id() {
    let redis = RedisServer::start();
    let created = sessions(&redis, &["--json", "create", "--id", "chat-42", "--model-id", "m"]);
    assert_eq!(code(&created), 0, "{}", stderr(&created));
    assert_eq!(json(&created)["id"], "chat-42");
    let got = sessions(&redis, &["--json", "get", "chat-42"]);
    assert_eq!((code(&got), json(&got)["model_id"].clone()), (0, Value::from("m")));
    let again = sessions(&redis, &["create", "--id", "chat-42", "--model-id", "other"]);
    assert_eq!(code(&again), 4, "a live session with that id is a conflict: {}", stderr(&again));
    assert!(stderr(&again).contains("session chat-42 already exists"), "{}", stderr(&again));
    assert_clean_error(&again);
    // --id overrides the file's id; a bad id is invalid input.
    let from_file = run(
        &["--redis", &redis.url(), "--json", "create", "--from-json", "-", "--id", "Chat-42"],
        Some(r#"{"id": "chat-42", "model_id": "m"}"#),
    );
    assert_eq!(code(&from_file), 0, "{}", stderr(&from_file));
    assert_eq!(json(&from_file)["id"], "Chat-42");
    for bad in ["a:b", "{x}", "", "a b"] {
        let refused = sessions(&redis, &["create", "--id", bad, "--model-id", "m"]);
        assert_eq!(code(&refused), 2, "{bad:?}: {}", stderr(&refused));
        assert!(stderr(&refused).contains("session id"), "{}", stderr(&refused));
    }
    let members: Vec<String> = redis::cmd("SMEMBERS").arg("active_sessions").query(&mut redis.connection()).unwrap();
    assert_eq!(members.len(), 2, "{members:?}");
}

#[test]
fn unreachable_redis_exits_5_without_the_password() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("redis://admin:s3cr3t-pass@127.0.0.1:{port}/2");
    for args in [vec!["--redis", &url, "health"], vec!["--redis", &url, "--json", "list"]] {
        let output = run(&args, None);
        assert_eq!(code(&output), 5, "{}", stderr(&output));
        assert_clean_error(&output);
        let all = format!("{}{}", stderr(&output), String::from_utf8_lossy(&output.stdout));
        assert!(!all.contains("s3cr3t"), "{all}");
        assert!(all.contains("cannot connect to Redis"), "{all}");
    }
}

#[test]
fn health_reports_redis_and_component() {
    let redis = RedisServer::start_with(ServerOptions {
        args: vec!["--requirepass".into(), "s3cret-pw".into()],
        credentials: Some("default:s3cret-pw".into()),
        ..ServerOptions::default()
    });
    for _ in 0..2 {
        assert_eq!(code(&sessions(&redis, &["create", "--model-id", "m"])), 0);
    }
    let output = sessions(&redis, &["--json", "health"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let health = json(&output);
    assert_eq!(health["status"], "ok");
    assert_eq!(health["storage"], format!("redis://default:***@127.0.0.1:{}", redis.port()), "the URL, redacted");
    assert!(!String::from_utf8_lossy(&output.stdout).contains("s3cret-pw"));
    for latency in ["storage_latency_ms", "component_latency_ms"] {
        assert!(health[latency].is_number(), "{latency} is a number of milliseconds: {health}");
    }
    assert_eq!(health["indexed_sessions"], 2);
    let embedded = format!("embedded ({} bytes)", agent_sessions_host::EMBEDDED_COMPONENT.len());
    assert_eq!(health["component"], embedded);
}

#[test]
fn demo_narrates_a_lifecycle() {
    let redis = RedisServer::start();
    let output = sessions(&redis, &["demo"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    for step in [
        "Create a session",
        "compare-and-set",
        "conflict, as expected",
        "invalid input",
        "deleted: true",
        "cleanup removed 1",
    ] {
        assert!(text.contains(step), "missing {step:?} in:\n{text}");
    }
    let mut r = redis.connection();
    let keys: Vec<String> = redis::cmd("KEYS").arg("session*").query(&mut r).unwrap();
    assert!(keys.is_empty(), "the demo cleans up after itself: {keys:?}");
    let memory = run(&["--memory", "demo"], None);
    assert_eq!(code(&memory), 0, "{}", stderr(&memory));
}

#[test]
fn another_component_can_be_loaded_and_a_bad_one_is_reported() {
    let redis = RedisServer::start();
    // The hostile test component (tests/hostile-guest), built as the
    // sandbox tests build it: its `get` answers not-found, or traps for the
    // id "trap"; everything else it refuses.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("host/ sits in the workspace root");
    let hostile = component::build_component(root, "hostile-guest", "hostile_guest", false);
    let hostile = hostile.to_str().unwrap();
    let missing = "0b6f2a52-3c1e-4d7a-9a55-6f1f3e2b9c10";
    let not_found = sessions(&redis, &["--component", hostile, "get", missing]);
    assert_eq!(code(&not_found), 3, "a call runs: {}", stderr(&not_found));
    assert_clean_error(&not_found);
    // The embedded component would answer not found for "trap" (exit 3).
    let trapped = sessions(&redis, &["--component", hostile, "get", "trap"]);
    assert_eq!(code(&trapped), 1, "{}", stderr(&trapped));
    assert_clean_error(&trapped);
    assert!(stderr(&trapped).contains("trapped"), "{}", stderr(&trapped));
    let refused = sessions(&redis, &["--component", hostile, "create", "--model-id", "m"]);
    assert_eq!(code(&refused), 1, "{}", stderr(&refused));
    assert!(stderr(&refused).contains("the hostile component only implements get"), "{}", stderr(&refused));
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut redis.connection()).unwrap();
    assert!(keys.is_empty(), "the hostile component wrote nothing: {keys:?}");
    // The embedded component is still the default.
    assert_eq!(code(&sessions(&redis, &["create", "--model-id", "m"])), 0);

    let bogus = std::env::temp_dir().join("sessions-bogus-component.wasm");
    std::fs::write(&bogus, b"not wasm").unwrap();
    let output = sessions(&redis, &["--component", bogus.to_str().unwrap(), "health"]);
    std::fs::remove_file(&bogus).unwrap();
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    assert_clean_error(&output);
    assert!(stderr(&output).contains("cannot load the session component"), "{}", stderr(&output));
}

#[test]
fn help_never_shows_the_password_from_redis_url() {
    let output = Command::new(env!("CARGO_BIN_EXE_sessions"))
        .arg("--help")
        .env("REDIS_URL", "redis://admin:hunter2@10.0.0.1:6379")
        .output()
        .unwrap();
    assert_eq!(code(&output), 0);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("Global options") && text.contains("Exit codes"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
}

#[test]
fn stats_prints_counts_and_inconsistencies() {
    let redis = RedisServer::start();
    for status in ["running", "idle", "completed"] {
        assert_eq!(code(&sessions(&redis, &["create", "--model-id", "m", "--status", status])), 0);
    }
    let mut connection = redis.connection();
    let _: () = redis::cmd("SADD").arg("active_sessions").arg("junk!").query(&mut connection).unwrap();
    let output = sessions(&redis, &["--json", "stats", "--batch-size", "2"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let stats = json(&output);
    assert_eq!(
        (stats["sessions"].as_u64(), stats["active"].as_u64(), stats["inactive"].as_u64()),
        (Some(3), Some(2), Some(1))
    );
    assert_eq!(stats["by_status"]["idle"], 1);
    assert_eq!(stats["members_without_keys"], 1);
    assert_eq!(stats["problems"][0]["field"], "junk!");
    let text = sessions(&redis, &["stats"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("3 live (2 active, 1 inactive)"), "{text}");
    assert!(text.contains("1 members without keys"), "{text}");
}

#[test]
fn the_layout_is_chosen_once_and_a_store_with_another_refuses_to_start() {
    let redis = RedisServer::start();
    let created = sessions(&redis, &["--json", "--layout", "sharded", "--shards", "8", "create", "--model-id", "m"]);
    assert_eq!(code(&created), 0, "{}", stderr(&created));
    let id = json(&created)["id"].as_str().unwrap().to_owned();
    let recorded: String =
        redis::cmd("HGET").arg("session_layout").arg("shards").query(&mut redis.connection()).unwrap();
    assert_eq!(recorded, "8");

    // The default (the document's layout) and another shard count refuse.
    for args in [vec!["get", id.as_str()], vec!["--shards", "16", "get", id.as_str()]] {
        let refused = sessions(&redis, &args);
        assert_eq!(code(&refused), 2, "{args:?}: {}", stderr(&refused));
        assert_clean_error(&refused);
        assert!(stderr(&refused).contains("the sharded layout with 8 shards"), "{}", stderr(&refused));
    }
    assert_eq!(code(&sessions(&redis, &["--shards", "8", "get", &id])), 0);
    let both = sessions(&redis, &["--layout", "document", "--shards", "8", "list"]);
    assert_eq!(code(&both), 2);
    assert_clean_error(&both);

    // A server is no cluster: several URLs are refused.
    let seeds = format!("{},{}", redis.url(), redis.url());
    let refused = run(&["--redis", &seeds, "list"], None);
    assert_eq!(code(&refused), 2, "{}", stderr(&refused));
    assert!(stderr(&refused).contains("not a Redis Cluster"), "{}", stderr(&refused));
}

#[test]
fn wait_replicas_reports_a_write_no_replica_confirmed_with_exit_7() {
    // A server without replicas: WAIT 1 confirms nothing.
    let redis = RedisServer::start();
    let output = sessions(&redis, &["--wait-replicas", "1", "--wait-timeout", "50ms", "create", "--model-id", "m"]);
    assert_eq!(code(&output), 7, "{}", stderr(&output));
    assert_clean_error(&output);
    assert!(stderr(&output).contains("applied on the primary but confirmed by 0 of 1 replicas"), "{}", stderr(&output));
    // The write stands; reads do not wait.
    let listed = sessions(&redis, &["--json", "--wait-replicas", "1", "--wait-timeout", "50ms", "list"]);
    assert_eq!(code(&listed), 0, "{}", stderr(&listed));
    assert_eq!(json(&listed)["total"], 1);
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn items_are_added_read_popped_and_cleared() {
    let redis = RedisServer::start();
    let url = redis.url();
    assert_eq!(code(&sessions(&redis, &["create", "--id", "chat-1", "--model-id", "m"])), 0);
    // A JSON array from a file: each element stored as the text given.
    let file = std::env::temp_dir().join(format!("sessions-items-{}.json", redis.port()));
    std::fs::write(&file, "[\n  {\"role\": \"user\", \"content\": \"hi\"},\n  \"two\"\n]\n").unwrap();
    let added = sessions(&redis, &["--json", "add-items", "chat-1", "--from-json", file.to_str().unwrap()]);
    std::fs::remove_file(&file).unwrap();
    assert_eq!(code(&added), 0, "{}", stderr(&added));
    let receipt = json(&added);
    assert_eq!(
        (receipt["id"].clone(), receipt["count"].clone(), receipt["version"].clone()),
        ("chat-1".into(), 2.into(), 2.into())
    );
    // JSON Lines from stdin, blank lines skipped, big integers kept.
    let lines = "{\"role\": \"assistant\", \"n\": 18446744073709551617}\n\n3\n4\n";
    let added = run(&["--redis", &url, "add-items", "chat-1", "--from-json", "-"], Some(lines));
    assert_eq!(code(&added), 0, "{}", stderr(&added));
    assert_eq!(stdout(&added), "added 3 item(s) to session chat-1: 5 item(s), version 3\n");
    let stored: Vec<String> =
        redis::cmd("LRANGE").arg("session:chat-1:items").arg(0).arg(-1).query(&mut redis.connection()).unwrap();
    assert_eq!(
        stored,
        [
            r#"{"role": "user", "content": "hi"}"#,
            r#""two""#,
            r#"{"role": "assistant", "n": 18446744073709551617}"#,
            "3",
            "4"
        ]
    );

    let all = sessions(&redis, &["items", "chat-1"]);
    assert_eq!(code(&all), 0, "{}", stderr(&all));
    assert_eq!(
        stdout(&all),
        "{\"role\": \"user\", \"content\": \"hi\"}\n\"two\"\n{\"role\": \"assistant\", \"n\": 18446744073709551617}\n3\n4\n"
    );
    assert_eq!(stdout(&sessions(&redis, &["items", "chat-1", "--limit", "2"])), "3\n4\n");
    assert_eq!(
        stdout(&sessions(&redis, &["items", "chat-1", "--range", "1:2"])),
        "\"two\"\n{\"role\": \"assistant\", \"n\": 18446744073709551617}\n"
    );
    assert_eq!(stdout(&sessions(&redis, &["items", "chat-1", "--range", "3:"])), "3\n4\n");
    let page = json(&sessions(&redis, &["--json", "items", "chat-1", "--limit", "2"]));
    assert_eq!(page["items"], serde_json::json!([3, 4]));
    assert_eq!(
        (page["total"].clone(), page["first_index"].clone(), page["left_out"].clone()),
        (5.into(), 3.into(), 0.into())
    );
    assert_eq!(stdout(&sessions(&redis, &["count-items", "chat-1"])), "5\n");
    assert_eq!(json(&sessions(&redis, &["--json", "count-items", "chat-1"]))["count"], 5);

    let popped = sessions(&redis, &["pop-item", "chat-1"]);
    assert_eq!((code(&popped), stdout(&popped)), (0, "4\n".to_owned()), "{}", stderr(&popped));
    let popped = json(&sessions(&redis, &["--json", "pop-item", "chat-1"]));
    assert_eq!(
        (popped["item"].clone(), popped["count"].clone(), popped["version"].clone()),
        (3.into(), 3.into(), 5.into())
    );

    let cleared = sessions(&redis, &["--json", "clear-items", "chat-1"]);
    assert_eq!(code(&cleared), 0, "{}", stderr(&cleared));
    assert_eq!((json(&cleared)["count"].clone(), json(&cleared)["version"].clone()), (0.into(), 6.into()));
    assert_eq!(stdout(&sessions(&redis, &["items", "chat-1"])), "");
    // Popping an empty conversation prints nothing and writes nothing.
    let empty = sessions(&redis, &["pop-item", "chat-1"]);
    assert_eq!((code(&empty), stdout(&empty)), (0, String::new()));
    assert!(stderr(&empty).contains("has no items"), "{}", stderr(&empty));
    assert_eq!(json(&sessions(&redis, &["--json", "get", "chat-1"]))["version"], 6);
    let keys: Vec<String> = redis::cmd("KEYS").arg("session:chat-1:items").query(&mut redis.connection()).unwrap();
    assert!(keys.is_empty(), "an emptied list is no key: {keys:?}");
}

#[test]
fn add_items_splits_long_inputs_and_can_create_the_session() {
    let redis = RedisServer::start();
    let lines: String = (0..2500).map(|n| format!("{n}\n")).collect();
    let added = run(
        &["--redis", &redis.url(), "--json", "add-items", "long", "--from-json", "-", "--create-if-missing", "gpt-4"],
        Some(&lines),
    );
    assert_eq!(code(&added), 0, "{}", stderr(&added));
    let receipt = json(&added);
    // Created (version 1), then three appends of 1000, 1000 and 500.
    assert_eq!(
        (receipt["count"].clone(), receipt["version"].clone(), receipt["created"].clone()),
        (2500.into(), 4.into(), true.into())
    );
    assert_eq!(json(&sessions(&redis, &["--json", "get", "long"]))["model_id"], "gpt-4");
    let all = stdout(&sessions(&redis, &["items", "long"]));
    assert_eq!(all, lines, "every item, in order, read in pages");
    let tail = stdout(&sessions(&redis, &["items", "long", "--limit", "1500"]));
    assert_eq!(tail.lines().next(), Some("1000"));
    assert_eq!(tail.lines().count(), 1500);
    // --keep-last trims in each call; --expect-version chains the calls.
    let trimmed = run(
        &[
            "--redis",
            &redis.url(),
            "--json",
            "add-items",
            "long",
            "--from-json",
            "-",
            "--keep-last",
            "3",
            "--expect-version",
            "4",
        ],
        Some(&lines),
    );
    assert_eq!(code(&trimmed), 0, "{}", stderr(&trimmed));
    assert_eq!((json(&trimmed)["count"].clone(), json(&trimmed)["version"].clone()), (3.into(), 7.into()));
    assert_eq!(stdout(&sessions(&redis, &["items", "long"])), "2497\n2498\n2499\n");
}

#[test]
fn item_commands_exit_with_what_happened() {
    let redis = RedisServer::start();
    let url = redis.url();
    for args in
        [vec!["items", "gone"], vec!["pop-item", "gone"], vec!["clear-items", "gone"], vec!["count-items", "gone"]]
    {
        let output = sessions(&redis, &args);
        assert_eq!(code(&output), 3, "{args:?}: {}", stderr(&output));
        assert_clean_error(&output);
    }
    let missing = run(&["--redis", &url, "--json", "add-items", "gone", "--from-json", "-"], Some("1\n"));
    assert_eq!(code(&missing), 3, "{}", stderr(&missing));
    assert_eq!(json(&missing)["error"]["kind"], "not_found");

    assert_eq!(code(&sessions(&redis, &["create", "--id", "chat-1", "--model-id", "m"])), 0);
    let stale = run(&["--redis", &url, "add-items", "chat-1", "--from-json", "-", "--expect-version", "7"], Some("1"));
    assert_eq!(code(&stale), 4, "{}", stderr(&stale));
    assert_clean_error(&stale);
    let cases: Vec<(Vec<&str>, Option<&str>, &str)> = vec![
        (
            vec!["add-items", "chat-1", "--from-json", "-"],
            Some("{\"a\": 1}\n{\"b\":}\n"),
            "stdin line 2 is not valid JSON",
        ),
        (vec!["add-items", "chat-1", "--from-json", "-"], Some("\n"), "holds no items"),
        (vec!["add-items", "chat-1", "--from-json", "-"], Some("[]"), "holds no items"),
        (vec!["add-items", "chat-1", "--from-json", "/nonexistent/items.json"], None, "cannot read"),
        (vec!["add-items", "chat-1", "--from-json", "-", "--keep-last", "0"], Some("1"), "keep_last"),
        (vec!["add-items", "a:b", "--from-json", "-"], Some("1"), "session id"),
        (vec!["items", "chat-1", "--range", "5:2"], None, "before START"),
        (vec!["items", "chat-1", "--range", "x"], None, "START:STOP"),
        (vec!["items", "chat-1", "--app-name", ""], None, "user-id"),
        (vec!["items", "chat-1", "--app-name", "", "--user-id", "u"], None, "app_name"),
        (vec!["create", "--model-id", "m", "--app-name", "a"], None, "user-id"),
        (vec!["create", "--model-id", "m", "--state-json", "[1]"], None, "--state-json"),
        (vec!["create", "--model-id", "m", "--state-json", r#"{"app:x": 1}"#], None, "owner"),
        (vec!["list", "--app-name", "a", "--limit", "0"], None, "limit"),
    ];
    for (args, input, expected) in cases {
        let output = run(&[&["--redis", url.as_str()], args.as_slice()].concat(), input);
        assert_eq!(code(&output), 2, "{args:?}: {}", stderr(&output));
        assert!(stderr(&output).contains(expected), "{args:?}: {}", stderr(&output));
        assert!(!stderr(&output).contains("panicked"), "{args:?}: {}", stderr(&output));
    }
    let keys: Vec<String> = redis::cmd("KEYS").arg("session:chat-1:items").query(&mut redis.connection()).unwrap();
    assert!(keys.is_empty(), "bad input wrote no item: {keys:?}");
    assert_eq!(json(&sessions(&redis, &["--json", "get", "chat-1"]))["version"], 1);
}

#[test]
fn sessions_with_an_owner_are_listed_by_owner() {
    let redis = RedisServer::start();
    let created = sessions(
        &redis,
        &[
            "--json",
            "create",
            "--id",
            "s1",
            "--model-id",
            "m",
            "--app-name",
            "shop",
            "--user-id",
            "ana",
            "--state-json",
            r#"{"topic": "rain", "user:lang": "en", "app:version": 1, "temp:x": true}"#,
        ],
    );
    assert_eq!(code(&created), 0, "{}", stderr(&created));
    let session = json(&created);
    assert_eq!((session["app_name"].clone(), session["user_id"].clone()), ("shop".into(), "ana".into()));
    let text = stdout(&sessions(&redis, &["get", "s1"]));
    assert!(text.contains("app_name           shop") && text.contains("user_id            ana"), "{text}");
    for (id, user) in [("s2", "ana"), ("s3", "ben")] {
        let created =
            sessions(&redis, &["create", "--id", id, "--model-id", "m", "--app-name", "shop", "--user-id", user]);
        assert_eq!(code(&created), 0, "{}", stderr(&created));
    }
    assert_eq!(code(&sessions(&redis, &["create", "--id", "loose", "--model-id", "m"])), 0);
    let state: std::collections::HashMap<String, String> =
        redis::cmd("HGETALL").arg("session:s1:state").query(&mut redis.connection()).unwrap();
    assert_eq!(state, [("topic".to_owned(), r#""rain""#.to_owned())].into());

    let page = sessions(&redis, &["--json", "list", "--app-name", "shop", "--user-id", "ana"]);
    assert_eq!(code(&page), 0, "{}", stderr(&page));
    let page = json(&page);
    let mut ids: Vec<&str> = page["sessions"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["s1", "s2"]);
    assert_eq!(page["app_state"]["version"], 1);
    assert_eq!(page["user_states"]["ana"]["lang"], "en");
    let everyone = json(&sessions(&redis, &["--json", "list", "--app-name", "shop"]));
    assert_eq!(everyone["sessions"].as_array().unwrap().len(), 3);
    let first = json(&sessions(&redis, &["--json", "list", "--app-name", "shop", "--limit", "2"]));
    let token = first["next_page_token"].as_str().expect("a full page has a token").to_owned();
    let rest =
        json(&sessions(&redis, &["--json", "list", "--app-name", "shop", "--limit", "2", "--page-token", &token]));
    assert_eq!(rest["sessions"].as_array().unwrap().len(), 1);
    let text = stdout(&sessions(&redis, &["list", "--app-name", "shop", "--user-id", "ben"]));
    assert!(text.contains("s3") && !text.contains("s1"), "{text}");

    // Another owner's session is not found to a call that names its owner.
    let wrong = sessions(&redis, &["items", "s1", "--app-name", "shop", "--user-id", "ben"]);
    assert_eq!(code(&wrong), 3, "{}", stderr(&wrong));
    let right = run(
        &["--redis", &redis.url(), "add-items", "s1", "--from-json", "-", "--app-name", "shop", "--user-id", "ana"],
        Some("1\n"),
    );
    assert_eq!(code(&right), 0, "{}", stderr(&right));
    let deleted = sessions(&redis, &["delete", "s1"]);
    assert_eq!(code(&deleted), 0, "{}", stderr(&deleted));
    let members: Vec<String> =
        redis::cmd("ZRANGE").arg("owner_index:shop:ana").arg(0).arg(-1).query(&mut redis.connection()).unwrap();
    assert_eq!(members, ["s2"]);
}
