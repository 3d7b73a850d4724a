//! The Redis layout is a contract with existing services: these tests read
//! Redis directly (key names, types, fields, encodings, TTLs), and write
//! sessions straight into Redis the way another service would.

use std::collections::HashMap;
use std::time::Duration;

use agent_sessions_guest::keys::Layout;
use agent_sessions_host::{Error, SessionCreate, SessionStore, SessionUpdate};
use agent_sessions_tests::{Harness, RedisServer, example, expire_on_redis};
use redis::Commands;

const DATA_FIELDS: [&str; 9] = [
    "model_id",
    "persona_id",
    "name",
    "temperature",
    "reasoning_effort",
    "max_tokens",
    "tools",
    "custom_prompt",
    "agent_internal_id",
];

fn is_timestamp(text: &str) -> bool {
    // YYYY-MM-DDTHH:MM:SSZ
    text.len() == 20
        && text.char_indices().all(|(i, c)| match i {
            4 | 7 => c == '-',
            10 => c == 'T',
            13 | 16 => c == ':',
            19 => c == 'Z',
            _ => c.is_ascii_digit(),
        })
}

fn all_keys(connection: &mut redis::Connection) -> Vec<String> {
    let mut keys: Vec<String> = connection.keys("*").unwrap();
    keys.sort();
    keys
}

#[tokio::test]
async fn layout_matches_the_design_document() {
    let h = Harness::redis(|b| b.session_ttl(Duration::from_secs(600)).grace_period(Duration::from_secs(300))).await;
    let session = h.store.create(example()).await.unwrap();
    let id = &session.id;
    let mut r = h.server().connection();

    let mut expected_keys = vec![
        "active_sessions".to_owned(),
        format!("session:{id}:data"),
        format!("session:{id}:meta"),
        format!("session_expiry:{id}"),
        "session_index".to_owned(),
    ];
    expected_keys.sort();
    assert_eq!(all_keys(&mut r), expected_keys);

    let key_type = |r: &mut redis::Connection, key: &str| -> String { redis::cmd("TYPE").arg(key).query(r).unwrap() };
    assert_eq!(key_type(&mut r, &format!("session:{id}:data")), "hash");
    assert_eq!(key_type(&mut r, &format!("session:{id}:meta")), "hash");
    assert_eq!(key_type(&mut r, &format!("session_expiry:{id}")), "string");
    assert_eq!(key_type(&mut r, "active_sessions"), "set");
    assert_eq!(key_type(&mut r, "session_index"), "zset");

    let data: HashMap<String, String> = r.hgetall(format!("session:{id}:data")).unwrap();
    let mut data_names: Vec<&str> = data.keys().map(String::as_str).collect();
    data_names.sort();
    let mut expected_names = DATA_FIELDS.to_vec();
    expected_names.sort();
    assert_eq!(data_names, expected_names, "exactly the nine data fields");
    assert_eq!(data["model_id"], "gpt-4");
    assert_eq!(data["persona_id"], "programmer");
    assert_eq!(data["name"], "Code Review Session");
    assert_eq!(data["temperature"], "0.7");
    assert_eq!(data["reasoning_effort"], "5");
    assert_eq!(data["max_tokens"], "2000");
    assert_eq!(data["tools"], r#"["search", "code_analysis"]"#);
    assert_eq!(data["custom_prompt"], "...");
    assert_eq!(data["agent_internal_id"], "agent-54321");

    let meta: HashMap<String, String> = r.hgetall(format!("session:{id}:meta")).unwrap();
    for field in ["created_at", "updated_at", "last_activity"] {
        assert!(is_timestamp(&meta[field]), "{field} = {:?}", meta[field]);
    }
    assert_eq!(meta["is_active"], "true");
    assert_eq!(meta["status"], "running");
    assert_eq!(meta["version"], "1");
    assert_eq!(meta["schema_version"], "1");
    assert_eq!(meta.len(), 7, "the document's five meta fields plus version and schema_version");

    let expiry: String = r.get(format!("session_expiry:{id}")).unwrap();
    assert_eq!(expiry, "");
    let members: Vec<String> = r.smembers("active_sessions").unwrap();
    assert_eq!(members, vec![id.clone()]);
    let score: f64 = r.zscore("session_index", id).unwrap();
    let created_ms = session.meta.created_at.unix_millis() as f64;
    assert!((score - created_ms).abs() < 1000.0, "index score is the creation time in ms");

    // TTLs: expiry key the session's, hashes the session's plus grace; the
    // set and the index have none.
    let ttl = |r: &mut redis::Connection, key: &str| -> i64 { r.ttl(key).unwrap() };
    assert!((595..=600).contains(&ttl(&mut r, &format!("session_expiry:{id}"))));
    assert!((895..=900).contains(&ttl(&mut r, &format!("session:{id}:data"))));
    assert!((895..=900).contains(&ttl(&mut r, &format!("session:{id}:meta"))));
    assert_eq!(ttl(&mut r, "active_sessions"), -1);
    assert_eq!(ttl(&mut r, "session_index"), -1);
}

#[tokio::test]
async fn absent_values_are_stored_as_empty_strings() {
    let h = Harness::redis(|b| b).await;
    let id = h.store.create(SessionCreate { model_id: "m".into(), ..SessionCreate::default() }).await.unwrap().id;
    let mut r = h.server().connection();
    let data: HashMap<String, String> = r.hgetall(format!("session:{id}:data")).unwrap();
    assert_eq!(data.len(), 9);
    for field in
        ["persona_id", "name", "temperature", "reasoning_effort", "max_tokens", "custom_prompt", "agent_internal_id"]
    {
        assert_eq!(data[field], "", "{field}");
    }
    assert_eq!(data["tools"], "[]");
}

#[tokio::test]
async fn update_and_extend_reset_every_ttl_and_bump_timestamps() {
    let h = Harness::redis(|b| b.session_ttl(Duration::from_secs(100)).grace_period(Duration::from_secs(50))).await;
    let id = h.store.create(example()).await.unwrap().id;
    let mut r = h.server().connection();
    let keys = [format!("session_expiry:{id}"), format!("session:{id}:data"), format!("session:{id}:meta")];
    for key in &keys {
        let _: () = r.expire(key, 10).unwrap();
    }
    h.store.update(&id, SessionUpdate { status: Some("completed".into()), ..SessionUpdate::default() }).await.unwrap();
    let ttls: Vec<i64> = keys.iter().map(|k| r.ttl(k).unwrap()).collect();
    assert!(
        (95..=100).contains(&ttls[0]) && (145..=150).contains(&ttls[1]) && (145..=150).contains(&ttls[2]),
        "{ttls:?}"
    );
    let meta: HashMap<String, String> = r.hgetall(&keys[2]).unwrap();
    assert_eq!(
        (meta["status"].as_str(), meta["is_active"].as_str(), meta["version"].as_str()),
        ("completed", "false", "2")
    );

    for key in &keys {
        let _: () = r.expire(key, 10).unwrap();
    }
    let _: () = r.hset(&keys[2], "last_activity", "2020-01-01T00:00:00Z").unwrap();
    assert!(h.store.extend_ttl(&id).await.unwrap());
    let ttls: Vec<i64> = keys.iter().map(|k| r.ttl(k).unwrap()).collect();
    assert!(
        (95..=100).contains(&ttls[0]) && (145..=150).contains(&ttls[1]) && (145..=150).contains(&ttls[2]),
        "{ttls:?}"
    );
    let last_activity: String = r.hget(&keys[2], "last_activity").unwrap();
    assert_ne!(last_activity, "2020-01-01T00:00:00Z");
    let version: String = r.hget(&keys[2], "version").unwrap();
    assert_eq!(version, "2", "extend is not an update");
}

/// Writes a session exactly as the design document describes, as a Python
/// service would: no version, no schema version, no index entry, no TTL
/// on the hashes, Python's spellings.
fn write_foreign_session(r: &mut redis::Connection, prefix: &str, id: &str) {
    let data = [
        ("model_id", "gpt-4"),
        ("persona_id", "programmer"),
        ("name", "Code Review Session"),
        ("temperature", "0.7"),
        ("reasoning_effort", "5"),
        ("max_tokens", "2000"),
        ("tools", "[\"search\", \"code_analysis\"]"),
        ("custom_prompt", "..."),
        ("agent_internal_id", "agent-54321"),
    ];
    let meta = [
        ("created_at", "2025-04-01T14:30:00.123456+00:00"),
        ("updated_at", "2025-04-01T16:45:00Z"),
        ("last_activity", "2025-04-01T16:45:00"),
        ("is_active", "True"),
        ("status", "running"),
    ];
    let _: () = r.hset_multiple(format!("{prefix}session:{id}:data"), &data).unwrap();
    let _: () = r.hset_multiple(format!("{prefix}session:{id}:meta"), &meta).unwrap();
    let _: () = r.sadd(format!("{prefix}active_sessions"), id).unwrap();
    let _: () = r.set_ex(format!("{prefix}session_expiry:{id}"), "", 3600).unwrap();
}

#[tokio::test]
async fn sessions_written_by_another_service_work() {
    let h = Harness::redis(|b| b).await;
    let mut r = h.server().connection();
    let id = "6f1f3e2b-9c10-4d7a-9a55-0b6f2a523c1e";
    write_foreign_session(&mut r, "", id);

    let session = h.store.get(id).await.unwrap();
    assert_eq!(session.data.tools, vec!["search", "code_analysis"]);
    assert_eq!(session.meta.created_at.to_string(), "2025-04-01T14:30:00Z");
    assert!(session.meta.is_active);
    assert_eq!(session.meta.version, 0);

    // Not in the index yet: list shows it after reindex.
    assert_eq!(h.store.list(10, 0).await.unwrap().total, 0);
    assert_eq!(h.store.reindex().await, Ok(1));
    assert_eq!(h.store.reindex().await, Ok(0), "reindex is idempotent");
    let page = h.store.list(10, 0).await.unwrap();
    assert_eq!(page.sessions.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), vec![id]);
    let score: f64 = r.zscore("session_index", id).unwrap();
    assert_eq!(score, 1_743_517_800_123.0, "scored by the stored created_at");

    // Compare-and-set from "no version yet".
    let update = SessionUpdate { name: Some("renamed".into()), expected_version: Some(0), ..SessionUpdate::default() };
    let updated = h.store.update(id, update).await.unwrap();
    assert_eq!((updated.data.name.as_deref(), updated.meta.version), (Some("renamed"), 1));
    let ttl: i64 = r.ttl(format!("session:{id}:data")).unwrap();
    assert!(ttl > 0, "update gives the hashes a TTL");
    let untouched: String = r.hget(format!("session:{id}:meta"), "created_at").unwrap();
    assert_eq!(untouched, "2025-04-01T14:30:00.123456+00:00", "fields not changed are left byte for byte");

    assert_eq!(h.store.extend_ttl(id).await, Ok(true));
    assert_eq!(h.store.delete(id).await, Ok(true));
    assert!(all_keys(&mut r).is_empty(), "delete leaves nothing: {:?}", all_keys(&mut r));
}

#[tokio::test]
async fn expired_sessions_vanish_at_once_and_cleanup_removes_every_key() {
    let h = Harness::redis(|b| b.session_ttl(Duration::from_secs(600)).grace_period(Duration::from_secs(300))).await;
    let live = h.store.create(example()).await.unwrap().id;
    let id = h.store.create(example()).await.unwrap().id;
    let mut r = h.server().connection();
    expire_on_redis(&mut r, "", Layout::Document, std::slice::from_ref(&id));
    assert_eq!(h.store.get(&id).await, Err(Error::NotFound(id.clone())), "gone as soon as its expiry key is");
    // The hashes are in their grace period: still there, but the session is gone.
    let exists: bool = r.exists(format!("session:{id}:data")).unwrap();
    assert!(exists);
    assert_eq!(h.store.cleanup_expired().await.map(|r| r.removed), Ok(1));
    let keys = all_keys(&mut r);
    assert!(keys.iter().all(|k| !k.contains(&id)), "{keys:?}");
    let members: Vec<String> = r.smembers("active_sessions").unwrap();
    assert_eq!(members, vec![live.clone()]);
    let indexed: Vec<String> = r.zrange("session_index", 0, -1).unwrap();
    assert_eq!(indexed, vec![live]);
}

#[tokio::test]
async fn an_update_racing_expiry_never_brings_a_session_back() {
    let h = Harness::redis(|b| b).await;
    let id = h.store.create(example()).await.unwrap().id;
    let mut r = h.server().connection();
    expire_on_redis(&mut r, "", Layout::Document, std::slice::from_ref(&id));
    assert_eq!(h.store.get(&id).await, Err(Error::NotFound(id.clone())));
    let before = all_keys(&mut r);
    let result = h.store.update(&id, SessionUpdate { name: Some("zombie".into()), ..SessionUpdate::default() }).await;
    assert_eq!(result, Err(Error::NotFound(id.clone())));
    assert_eq!(h.store.extend_ttl(&id).await, Ok(false));
    assert_eq!(all_keys(&mut r), before, "nothing was written");
    let name: String = r.hget(format!("session:{id}:data"), "name").unwrap();
    assert_eq!(name, "Code Review Session");
}

#[tokio::test]
async fn corrupt_data_is_reported_with_key_and_field() {
    let h = Harness::redis(|b| b).await;
    let mut r = h.server().connection();
    let healthy = h.store.create(example()).await.unwrap().id;
    let broken = h.store.create(example()).await.unwrap().id;
    let wrong_type = h.store.create(example()).await.unwrap().id;

    let _: () = r.hset(format!("session:{broken}:data"), "temperature", "warm").unwrap();
    match h.store.get(&broken).await {
        Err(Error::DataCorrupt(c)) => {
            assert_eq!((c.key.as_str(), c.field.as_str()), (format!("session:{broken}:data").as_str(), "temperature"));
            assert_eq!(c.session_id, broken);
        }
        other => panic!("{other:?}"),
    }
    let _: () = r.del(format!("session:{wrong_type}:meta")).unwrap();
    let _: () = r.set(format!("session:{wrong_type}:meta"), "not a hash").unwrap();
    match h.store.get(&wrong_type).await {
        Err(Error::DataCorrupt(c)) => assert_eq!(c.key, format!("session:{wrong_type}:meta")),
        other => panic!("{other:?}"),
    }
    // The page keeps the healthy session and names the broken ones.
    let page = h.store.list(10, 0).await.unwrap();
    assert_eq!(page.sessions.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), vec![healthy.as_str()]);
    let mut damaged: Vec<&str> = page.corrupt.iter().map(|c| c.session_id.as_str()).collect();
    damaged.sort();
    let mut expected = vec![broken.as_str(), wrong_type.as_str()];
    expected.sort();
    assert_eq!(damaged, expected);

    // A non-integer version: the update is refused before anything is written.
    let _: () = r.hset(format!("session:{healthy}:meta"), "version", "abc").unwrap();
    let result = h.store.update(&healthy, SessionUpdate { name: Some("x".into()), ..SessionUpdate::default() }).await;
    assert!(matches!(result, Err(Error::DataCorrupt(_))), "{result:?}");
    let name: String = r.hget(format!("session:{healthy}:data"), "name").unwrap();
    assert_eq!(name, "Code Review Session");
}

#[tokio::test]
async fn prefixes_isolate_stores_on_one_redis() {
    let redis = RedisServer::start();
    let store = |prefix: &'static str| {
        let url = redis.url();
        async move { SessionStore::builder().redis(url).prefix(prefix).build().await.unwrap() }
    };
    let (a, b) = (store("tenant-a:").await, store("tenant-b:").await);
    let in_a = a.create(example()).await.unwrap().id;
    let in_b = b.create(example()).await.unwrap().id;
    assert_eq!(b.get(&in_a).await, Err(Error::NotFound(in_a.clone())));
    assert_eq!(b.delete(&in_a).await, Ok(false));
    assert_eq!(b.extend_ttl(&in_a).await, Ok(false));
    assert_eq!(b.list(10, 0).await.unwrap().total, 1);
    let mut r = redis.connection();
    let keys = all_keys(&mut r);
    assert!(keys.iter().all(|k| k.starts_with("tenant-a:") || k.starts_with("tenant-b:")), "{keys:?}");
    assert!(keys.contains(&format!("tenant-a:session:{in_a}:data")));

    expire_on_redis(&mut r, "tenant-a:", Layout::Document, std::slice::from_ref(&in_a));
    expire_on_redis(&mut r, "tenant-b:", Layout::Document, std::slice::from_ref(&in_b));
    assert_eq!(a.get(&in_a).await, Err(Error::NotFound(in_a.clone())));
    assert_eq!(b.get(&in_b).await, Err(Error::NotFound(in_b.clone())));
    assert_eq!(a.cleanup_expired().await.map(|r| r.removed), Ok(1), "cleanup sees only its own prefix");
    assert!(all_keys(&mut r).iter().any(|k| k.contains(&in_b)), "tenant b untouched");
    assert_eq!(b.cleanup_expired().await.map(|r| r.removed), Ok(1));
}

#[tokio::test]
async fn a_database_number_in_the_url_is_used() {
    let redis = RedisServer::start();
    let store = SessionStore::connect(&format!("{}/3", redis.url())).await.unwrap();
    let id = store.create(example()).await.unwrap().id;
    let mut r = redis::Client::open(format!("{}/3", redis.url())).unwrap().get_connection().unwrap();
    let exists: bool = r.exists(format!("session:{id}:data")).unwrap();
    assert!(exists);
    assert!(all_keys(&mut redis.connection()).is_empty(), "database 0 stays empty");
}

#[tokio::test]
async fn unreachable_redis_is_unavailable_and_hides_the_password() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let result = SessionStore::connect(&format!("redis://user:hunter2@127.0.0.1:{port}")).await;
    match result {
        Err(Error::Unavailable(message)) => {
            assert!(!message.contains("hunter2"), "{message}");
            assert!(message.contains("user:***@127.0.0.1"), "{message}");
        }
        Err(other) => panic!("expected unavailable, got {other:?}"),
        Ok(_) => panic!("expected unavailable, got a store"),
    }
}

#[tokio::test]
async fn a_restarted_empty_redis_means_not_found_and_the_store_recovers() {
    let mut redis = RedisServer::start();
    let port = redis.port();
    let store = SessionStore::connect(&redis.url()).await.unwrap();
    let id = store.create(example()).await.unwrap().id;
    redis.stop();
    assert!(matches!(store.get(&id).await, Err(Error::Unavailable(_))), "a stopped Redis is unavailable");
    // Start a new, empty server on the same port.
    let child = std::process::Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _restarted = Kill(child);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        match store.get(&id).await {
            Err(Error::NotFound(_)) => break,
            Err(Error::Unavailable(_)) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            other => panic!("expected not found after the restart, got {other:?}"),
        }
    }
    assert!(store.create(example()).await.is_ok(), "the same store works again without a restart");
}

/// CA and server certificate for 127.0.0.1, written as PEM files.
fn write_test_certificates(dir: &std::path::Path) -> agent_sessions_tests::redis_server::TlsFiles {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server_params = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let server = server_params.signed_by(&server_key, &issuer).unwrap();
    std::fs::create_dir_all(dir).unwrap();
    let files = agent_sessions_tests::redis_server::TlsFiles {
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
        ca: dir.join("ca.pem"),
    };
    std::fs::write(&files.cert, server.pem()).unwrap();
    std::fs::write(&files.key, server_key.serialize_pem()).unwrap();
    std::fs::write(&files.ca, ca.pem()).unwrap();
    files
}

#[tokio::test]
async fn tls_with_a_private_ca_works() {
    let dir = std::env::temp_dir().join(format!("agent-sessions-tls-{}", std::process::id()));
    let tls = write_test_certificates(&dir);
    let redis = RedisServer::start_with(agent_sessions_tests::redis_server::ServerOptions {
        tls: Some(tls.clone()),
        ..Default::default()
    });
    assert!(redis.url().starts_with("rediss://"));
    let options = agent_sessions_host::RedisOptions { tls_ca_file: Some(tls.ca.clone()), ..Default::default() };
    let store = SessionStore::builder().redis_with_options(redis.url(), options).build().await.unwrap();
    let id = store.create(example()).await.unwrap().id;
    assert_eq!(store.get(&id).await.unwrap().id, id);
    let exists: bool = redis.connection().exists(format!("session:{id}:data")).unwrap();
    assert!(exists);
    // Without the CA, the server's certificate is not trusted.
    let untrusted = SessionStore::connect(&redis.url()).await;
    assert!(matches!(untrusted, Err(Error::Unavailable(_))), "{:?}", untrusted.err());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn passwords_and_acl_users_in_the_url_work_and_never_show() {
    let redis = RedisServer::start_with(agent_sessions_tests::redis_server::ServerOptions {
        args: ["--user", "alice", "on", ">wonderland", "~*", "&*", "+@all"].map(String::from).to_vec(),
        credentials: Some("alice:wonderland".into()),
        ..Default::default()
    });
    let store = SessionStore::connect(&format!("{}/5", redis.url())).await.unwrap();
    let id = store.create(example()).await.unwrap().id;
    let mut db5 = redis::Client::open(format!("{}/5", redis.url())).unwrap().get_connection().unwrap();
    let exists: bool = db5.exists(format!("session:{id}:data")).unwrap();
    assert!(exists);

    let wrong = redis.url().replace("wonderland", "looking-glass");
    match SessionStore::connect(&wrong).await {
        Err(Error::Unavailable(message)) => {
            assert!(!message.contains("looking-glass"), "{message}");
            assert!(message.contains("alice:***@"), "{message}");
        }
        Err(other) => panic!("{other:?}"),
        Ok(_) => panic!("a wrong password was accepted"),
    }
}
