//! The HTTP mapping against a fake repository that records its calls and
//! answers what each test sets. Only the mapping is under test here; the
//! end-to-end suite runs the real component on a real Redis.

use std::cell::RefCell;
use std::sync::atomic::AtomicBool;

use super::*;
use crate::repository::{RepoResult, StorageKind};

#[derive(Default)]
struct Fake {
    calls: RefCell<Vec<String>>,
    /// Replies by function name, taken in order; missing: a default.
    replies: RefCell<Vec<(&'static str, RepoResult<String>)>>,
}

impl Fake {
    fn reply(&self, function: &'static str, result: RepoResult<&str>) {
        self.replies.borrow_mut().push((function, result.map(str::to_string)));
    }

    fn take(&self, function: &'static str, call: String, default: &str) -> RepoResult<String> {
        self.calls.borrow_mut().push(call);
        let mut replies = self.replies.borrow_mut();
        match replies.iter().position(|(f, _)| *f == function) {
            Some(at) => replies.remove(at).1,
            None => Ok(default.to_string()),
        }
    }

    fn calls(&self) -> Vec<String> {
        self.calls.borrow().clone()
    }
}

const SESSION: &str = r#"{"id":"s1","version":3,"state":{}}"#;

impl Repository for Fake {
    fn create(&self, input: &str) -> RepoResult<String> {
        self.take("create", format!("create {input}"), SESSION)
    }
    fn get(&self, id: &str) -> RepoResult<String> {
        self.take("get", format!("get {id}"), SESSION)
    }
    fn update(&self, id: &str, changes: &str) -> RepoResult<String> {
        self.take("update", format!("update {id} {changes}"), SESSION)
    }
    fn delete(&self, id: &str) -> RepoResult<bool> {
        self.take("delete", format!("delete {id}"), "true").map(|t| t == "true")
    }
    fn list(&self, limit: u32, offset: u64, page_token: &str) -> RepoResult<String> {
        self.take("list", format!("list {limit} {offset} {page_token:?}"), r#"{"sessions":[]}"#)
    }
    fn extend_ttl(&self, id: &str) -> RepoResult<bool> {
        self.take("extend-ttl", format!("extend-ttl {id}"), "true").map(|t| t == "true")
    }
    fn cleanup_expired(&self) -> RepoResult<String> {
        self.take("cleanup-expired", "cleanup-expired".into(), r#"{"removed":0,"skipped":0,"problems":[]}"#)
    }
    fn check_layout(&self) -> RepoResult<u32> {
        self.take("check-layout", "check-layout".into(), "4").map(|t| t.parse().unwrap_or(0))
    }
    fn stats(&self, cursor: &str, so_far: &str) -> RepoResult<String> {
        self.take("stats", format!("stats {cursor:?} {so_far}"), r#"{"cursor":"","done":true,"stats":{"sessions":0}}"#)
    }
    fn append_items(&self, id: &str, request: &str) -> RepoResult<String> {
        self.take("append-items", format!("append-items {id} {request}"), r#"{"id":"s1","version":4,"count":2}"#)
    }
    fn get_items(&self, id: &str, query: &str) -> RepoResult<String> {
        self.take("get-items", format!("get-items {id} {query}"), r#"{"id":"s1","items":[],"total":5,"version":9}"#)
    }
    fn pop_item(&self, id: &str, options: &str) -> RepoResult<String> {
        self.take("pop-item", format!("pop-item {id} {options:?}"), r#"{"id":"s1","item":1,"version":5,"count":0}"#)
    }
    fn clear_items(&self, id: &str, options: &str) -> RepoResult<String> {
        self.take("clear-items", format!("clear-items {id} {options:?}"), r#"{"id":"s1","version":6,"count":0}"#)
    }
    fn list_by_owner(&self, app_name: &str, user_id: &str, limit: u32, page_token: &str) -> RepoResult<String> {
        self.take("list-by-owner", format!("list-by-owner {app_name:?} {user_id:?} {limit} {page_token:?}"), "{}")
    }
    fn delete_with(&self, id: &str, options: &str) -> RepoResult<bool> {
        self.take("delete-with", format!("delete-with {id} {options}"), "true").map(|t| t == "true")
    }
}

const TOKEN: &str = "s3cret-token";

fn config() -> Config {
    Config::from_lookup(|name| (name == "SESSIONS_API_TOKEN").then(|| TOKEN.to_string()))
}

struct Harness {
    fake: Fake,
    config: Config,
    layout: AtomicBool,
}

impl Harness {
    fn new() -> Harness {
        Harness { fake: Fake::default(), config: config(), layout: AtomicBool::new(false) }
    }

    fn with_config(config: Config) -> Harness {
        Harness { fake: Fake::default(), config, layout: AtomicBool::new(false) }
    }

    /// A request with the token, JSON content type when there is a body,
    /// and `extra` headers.
    fn send(&self, method: &str, target: &str, body: &str, extra: &[(&str, &str)]) -> Response {
        let mut headers = vec![("Authorization".to_string(), format!("Bearer {TOKEN}"))];
        if !body.is_empty() {
            headers.push(("Content-Type".into(), "application/json".into()));
        }
        headers.extend(extra.iter().map(|(n, v)| (n.to_string(), v.to_string())));
        self.raw(method, target, body, headers)
    }

    fn raw(&self, method: &str, target: &str, body: &str, headers: Vec<(String, String)>) -> Response {
        let front = Front { repo: &self.fake, config: &self.config, layout_checked: &self.layout };
        let request = Request { method, target, headers: &headers };
        let body = body.as_bytes().to_vec();
        front.handle(&request, |limit| if body.len() as u64 > limit { Err(BodyError::TooLarge) } else { Ok(body) })
    }

    /// The repository calls, without the first check-layout.
    fn calls(&self) -> Vec<String> {
        self.fake.calls().into_iter().filter(|c| c != "check-layout").collect()
    }
}

fn json_body(response: &Response) -> Value {
    serde_json::from_slice(&response.body)
        .unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(&response.body)))
}

fn problem(response: &Response) -> (u16, String) {
    assert_eq!(response.header("content-type"), Some("application/problem+json"));
    let body = json_body(response);
    assert_eq!(body["status"], response.status);
    (response.status, body["kind"].as_str().unwrap_or("").to_string())
}

#[test]
fn create_answers_201_with_location_and_etag() {
    let h = Harness::new();
    let response = h.send("POST", "/sessions", r#"{"model_id":"m"}"#, &[]);
    assert_eq!(response.status, 201);
    assert_eq!(response.header("location"), Some("/sessions/s1"));
    assert_eq!(response.header("etag"), Some("\"3\""));
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(json_body(&response)["id"], "s1");
    assert_eq!(h.calls(), vec![r#"create {"model_id":"m"}"#]);
}

#[test]
fn create_conflict_is_409_even_with_if_match() {
    let h = Harness::new();
    h.fake.reply("create", Err(RepoError::Conflict("id taken".into())));
    let response = h.send("POST", "/sessions", r#"{"id":"s1"}"#, &[("If-Match", "\"1\"")]);
    assert_eq!(problem(&response), (409, "conflict".into()));
}

#[test]
fn check_layout_runs_once_per_instance() {
    let h = Harness::new();
    h.send("GET", "/sessions/a", "", &[]);
    h.send("GET", "/sessions/b", "", &[]);
    let layouts = h.fake.calls().iter().filter(|c| *c == "check-layout").count();
    assert_eq!(layouts, 1);
}

#[test]
fn check_layout_is_skipped_when_the_host_did_it() {
    let config = Config::from_lookup(|name| match name {
        "SESSIONS_API_AUTH" => Some("none".into()),
        "SESSIONS_LAYOUT_CHECKED" => Some("1".into()),
        _ => None,
    });
    let h = Harness::with_config(config);
    assert_eq!(h.raw("GET", "/sessions/a", "", Vec::new()).status, 200);
    assert_eq!(h.fake.calls(), vec!["get a"]);
}

#[test]
fn a_failed_layout_check_fails_the_request_and_is_retried() {
    let h = Harness::new();
    h.fake.reply("check-layout", Err(RepoError::Backend(StorageKind::Unavailable, "refused".into())));
    assert_eq!(problem(&h.send("GET", "/sessions/a", "", &[])), (503, "unavailable".into()));
    assert_eq!(h.send("GET", "/sessions/a", "", &[]).status, 200);
    h.layout.store(false, Ordering::Release);
    h.fake.reply("check-layout", Err(RepoError::InvalidInput("layout: 4 shards recorded, 0 configured".into())));
    assert_eq!(problem(&h.send("GET", "/sessions/a", "", &[])), (500, "layout_mismatch".into()));
}

#[test]
fn get_carries_the_etag_and_decodes_the_id() {
    let h = Harness::new();
    let response = h.send("GET", "/sessions/a%2Fb%20c", "", &[]);
    assert_eq!(response.status, 200);
    assert_eq!(response.header("etag"), Some("\"3\""));
    assert_eq!(h.calls(), vec!["get a/b c"]);
    assert_eq!(problem(&h.send("GET", "/sessions/%FF", "", &[])), (400, "invalid_input".into()));
}

#[test]
fn not_found_and_invalid_input() {
    let h = Harness::new();
    h.fake.reply("get", Err(RepoError::NotFound("x".into())));
    let response = h.send("GET", "/sessions/x", "", &[]);
    assert_eq!(problem(&response), (404, "not_found".into()));
    assert_eq!(json_body(&response)["detail"], "no live session has id \"x\"");
    h.fake.reply("update", Err(RepoError::InvalidInput("temperature must be between 0.0 and 2.0, got 3".into())));
    let response = h.send("PATCH", "/sessions/x", r#"{"temperature":3}"#, &[]);
    assert_eq!(problem(&response), (422, "invalid_input".into()));
    assert_eq!(json_body(&response)["field"], "temperature");
}

#[test]
fn if_match_becomes_expected_version_and_412() {
    let h = Harness::new();
    let response = h.send("PATCH", "/sessions/x", r#"{"name":"n","expected_version":1}"#, &[("If-Match", "\"7\"")]);
    assert_eq!(response.status, 200);
    assert_eq!(h.calls(), vec![r#"update x {"name":"n","expected_version":7}"#]);
    h.fake.reply("update", Err(RepoError::Conflict("expected version 7, found 8".into())));
    let response = h.send("PATCH", "/sessions/x", r#"{"name":"n"}"#, &[("If-Match", "7")]);
    assert_eq!(problem(&response), (412, "precondition_failed".into()));
    // Without If-Match, a version in the body that does not match is a 409.
    h.fake.reply("update", Err(RepoError::Conflict("expected version 1, found 8".into())));
    let response = h.send("PATCH", "/sessions/x", r#"{"expected_version":1}"#, &[]);
    assert_eq!(problem(&response), (409, "conflict".into()));
    // `*` checks nothing.
    h.send("PATCH", "/sessions/x", r#"{"name":"m"}"#, &[("If-Match", "*")]);
    assert_eq!(h.calls().last().map(String::as_str), Some(r#"update x {"name":"m"}"#));
    assert_eq!(
        problem(&h.send("PATCH", "/sessions/x", "{}", &[("If-Match", "W/\"1\"")])),
        (400, "invalid_input".into())
    );
}

#[test]
fn delete_with_and_without_if_match() {
    let h = Harness::new();
    assert_eq!(h.send("DELETE", "/sessions/x", "", &[]).status, 204);
    assert_eq!(h.send("DELETE", "/sessions/x", "", &[("If-Match", "\"4\"")]).status, 204);
    assert_eq!(h.calls(), vec!["delete x", r#"delete-with x {"expected_version":4}"#]);
    h.fake.reply("delete", Ok("false"));
    assert_eq!(problem(&h.send("DELETE", "/sessions/x", "", &[])), (404, "not_found".into()));
    h.fake.reply("delete-with", Err(RepoError::Conflict("version".into())));
    assert_eq!(
        problem(&h.send("DELETE", "/sessions/x", "", &[("If-Match", "1")])),
        (412, "precondition_failed".into())
    );
    // A conflict because nothing is there is a 404, as without If-Match.
    h.fake.reply("delete-with", Err(RepoError::Conflict("session x is at version 0".into())));
    h.fake.reply("get", Err(RepoError::NotFound("x".into())));
    assert_eq!(problem(&h.send("DELETE", "/sessions/x", "", &[("If-Match", "1")])), (404, "not_found".into()));
    h.send("DELETE", "/sessions/x?app_name=a&user_id=u", "", &[]);
    assert_eq!(h.calls().last().unwrap(), r#"delete-with x {"owner":{"app_name":"a","user_id":"u"}}"#);
}

#[test]
fn extend() {
    let h = Harness::new();
    let response = h.send("POST", "/sessions/x/extend", "", &[]);
    assert_eq!((response.status, response.body.len()), (204, 0));
    h.fake.reply("extend-ttl", Ok("false"));
    assert_eq!(problem(&h.send("POST", "/sessions/x/extend", "", &[])), (404, "not_found".into()));
}

#[test]
fn list_parameters() {
    let h = Harness::new();
    assert_eq!(h.send("GET", "/sessions", "", &[]).status, 200);
    assert_eq!(h.send("GET", "/sessions?limit=5&offset=10", "", &[]).status, 200);
    assert_eq!(h.send("GET", "/sessions?page_token=a%2Bb+c", "", &[]).status, 200);
    assert_eq!(h.calls(), vec![r#"list 50 0 """#, r#"list 5 10 """#, r#"list 50 0 "a+b c""#]);
    for bad in ["/sessions?limit=x", "/sessions?limit=-1", "/sessions?limit=4294967296", "/sessions?offset=1.5"] {
        let response = h.send("GET", bad, "", &[]);
        assert_eq!(problem(&response), (400, "invalid_input".into()), "{bad}");
        assert!(json_body(&response)["field"].is_string());
    }
}

#[test]
fn items_reads() {
    let h = Harness::new();
    let response = h.send("GET", "/sessions/x/items?last=3&include_session=true", "", &[]);
    assert_eq!(response.status, 200);
    assert_eq!(response.header("etag"), Some("\"9\""));
    h.send("GET", "/sessions/x/items?start=2&stop=4&whole=1&app_name=a&user_id=u", "", &[]);
    h.send("GET", "/sessions/x/items", "", &[]);
    // Compared as JSON values: the key order depends on serde_json's
    // `preserve_order`, which another crate of the workspace may turn on.
    let queries: Vec<serde_json::Value> = h
        .calls()
        .iter()
        .map(|call| {
            let query = call.strip_prefix("get-items x ").expect("a get-items call");
            serde_json::from_str(query).expect("a JSON query")
        })
        .collect();
    assert_eq!(
        queries,
        vec![
            serde_json::json!({"include_session": true, "last": 3}),
            serde_json::json!({"owner": {"app_name": "a", "user_id": "u"}, "start": 2, "stop": 4, "whole": true}),
            serde_json::json!({}),
        ]
    );
    assert_eq!(problem(&h.send("GET", "/sessions/x/items?whole=yes", "", &[])), (400, "invalid_input".into()));
    let response = h.send("GET", "/sessions/x/items/count", "", &[]);
    assert_eq!(json_body(&response), json!({"id": "s1", "count": 5, "version": 9}));
    assert_eq!(response.header("etag"), Some("\"9\""));
}

#[test]
fn append_keeps_item_bytes_and_wraps_arrays() {
    let h = Harness::new();
    let items = r#"[ {"b":1,"a":2.50}, "x" ]"#;
    let response = h.send("POST", "/sessions/x/items", items, &[("If-Match", "\"3\"")]);
    assert_eq!(response.status, 200);
    assert_eq!(response.header("etag"), Some("\"4\""));
    let object = r#"{"items":[{"z":1e2,"a":null}],"keep_last":5}"#;
    h.send("POST", "/sessions/x/items", object, &[]);
    h.send("POST", "/sessions/x/items", object, &[("If-Match", "2")]);
    assert_eq!(
        h.calls(),
        vec![
            r#"append-items x {"items":[ {"b":1,"a":2.50}, "x" ],"expected_version":3}"#.to_string(),
            format!("append-items x {object}"),
            r#"append-items x {"items":[{"z":1e2,"a":null}],"keep_last":5,"expected_version":2}"#.to_string(),
        ]
    );
    h.fake.reply("append-items", Ok(r#"{"id":"new","version":1,"count":1,"created":true}"#));
    let response = h.send("POST", "/sessions/new/items", r#"{"items":[1],"create_if_missing":{}}"#, &[]);
    assert_eq!(response.status, 201);
    assert_eq!(response.header("location"), Some("/sessions/new"));
    assert_eq!(response.header("etag"), Some("\"1\""));
}

#[test]
fn pop_and_clear_options() {
    let h = Harness::new();
    assert_eq!(h.send("POST", "/sessions/x/items/pop", "", &[]).status, 200);
    assert_eq!(h.send("POST", "/sessions/x/items/pop", "", &[("If-Match", "\"5\"")]).status, 200);
    let response =
        h.send("DELETE", "/sessions/x/items", r#"{"owner":{"app_name":"a","user_id":"u"}}"#, &[("If-Match", "5")]);
    assert_eq!(response.header("etag"), Some("\"6\""));
    assert_eq!(
        h.calls(),
        vec![
            r#"pop-item x """#,
            r#"pop-item x "{\"expected_version\":5}""#,
            r#"clear-items x "{\"owner\":{\"app_name\":\"a\",\"user_id\":\"u\"},\"expected_version\":5}""#,
        ]
    );
    // An optional body, once there, must still be JSON.
    let response = h.raw(
        "POST",
        "/sessions/x/items/pop",
        "{}",
        vec![("authorization".into(), format!("bearer {TOKEN}")), ("content-type".into(), "text/plain".into())],
    );
    assert_eq!(problem(&response), (415, "unsupported_media_type".into()));
}

#[test]
fn owner_listing_stats_cleanup() {
    let h = Harness::new();
    h.send("GET", "/apps/my%20app/sessions?user_id=u1&limit=7&page_token=t", "", &[]);
    h.send("GET", "/apps/a/sessions", "", &[]);
    h.fake.reply("stats", Ok(r#"{"cursor":"c1","done":false,"stats":{"sessions":2}}"#));
    h.fake.reply("stats", Ok(r#"{"cursor":"c2","done":false,"stats":{"sessions":5}}"#));
    h.fake.reply("stats", Ok(r#"{"cursor":"","done":true,"stats":{"sessions":9}}"#));
    let response = h.send("GET", "/stats", "", &[]);
    assert_eq!(json_body(&response), json!({"sessions": 9}));
    assert_eq!(h.send("POST", "/cleanup", "", &[]).status, 200);
    assert_eq!(
        h.calls(),
        vec![
            r#"list-by-owner "my app" "u1" 7 "t""#,
            r#"list-by-owner "a" "" 50 """#,
            r#"stats "" "#,
            r#"stats "c1" {"sessions":2}"#,
            r#"stats "c2" {"sessions":5}"#,
            "cleanup-expired",
        ]
    );
}

#[test]
fn body_checks() {
    let h = Harness::new();
    let auth = || vec![("Authorization".to_string(), format!("Bearer {TOKEN}"))];
    let response = h.raw("POST", "/sessions", "{}", auth());
    assert_eq!(problem(&response), (415, "unsupported_media_type".into()));
    let mut headers = auth();
    headers.push(("content-type".into(), "Application/JSON; charset=utf-8".into()));
    assert_eq!(h.raw("POST", "/sessions", "{}", headers).status, 201);
    let response = h.send("POST", "/sessions", "{\"a\":\n  tru}", &[]);
    assert_eq!(problem(&response), (400, "malformed_json".into()));
    assert!(json_body(&response)["detail"].as_str().unwrap().contains("line 2"));
    // A required body that is empty is malformed JSON, not an absent one.
    let mut headers = auth();
    headers.push(("content-type".into(), "application/json".into()));
    assert_eq!(problem(&h.raw("POST", "/sessions", "", headers)), (400, "malformed_json".into()));
    assert!(h.calls().iter().all(|c| !c.starts_with("create {\"a\"")));
}

#[test]
fn body_limit() {
    let config = Config::from_lookup(|name| match name {
        "SESSIONS_API_AUTH" => Some("none".into()),
        "SESSIONS_API_MAX_BODY" => Some("10".into()),
        _ => None,
    });
    let h = Harness::with_config(config);
    let json = || ("content-type".to_string(), "application/json".to_string());
    assert_eq!(h.raw("POST", "/sessions", r#"{"a":"1"}"#, vec![json()]).status, 201);
    assert_eq!(
        problem(&h.raw("POST", "/sessions", r#"{"a":"12345"}"#, vec![json()])),
        (413, "payload_too_large".into())
    );
    // Content-Length alone is enough to refuse before reading.
    let headers = vec![json(), ("content-length".into(), "11".into())];
    assert_eq!(problem(&h.raw("POST", "/sessions", "{}", headers)), (413, "payload_too_large".into()));
}

#[test]
fn auth() {
    let h = Harness::new();
    let none = h.raw("GET", "/sessions/x", "", Vec::new());
    assert_eq!(problem(&none), (401, "unauthorized".into()));
    assert_eq!(none.header("www-authenticate"), Some("Bearer"));
    let wrong = h.raw("GET", "/sessions/x", "", vec![("authorization".into(), "Bearer nope-nope-nope".into())]);
    assert_eq!(problem(&wrong), (401, "unauthorized".into()));
    assert!(!String::from_utf8_lossy(&wrong.body).contains("nope"));
    let basic = h.raw("GET", "/sessions/x", "", vec![("authorization".into(), format!("Basic {TOKEN}"))]);
    assert_eq!(basic.status, 401);
    // Refused before anything reaches storage, routes and bodies included.
    assert_eq!(h.raw("DELETE", "/nope", "", Vec::new()).status, 401);
    assert_eq!(h.raw("POST", "/sessions", "{", vec![("content-type".into(), "application/json".into())]).status, 401);
    assert!(h.fake.calls().is_empty());
    // Health needs no token; nothing else does without one.
    assert_eq!(h.raw("GET", "/healthz", "", Vec::new()).status, 200);
    assert_eq!(h.raw("GET", "/openapi.json", "", Vec::new()).status, 401);
    assert_eq!(h.raw("GET", "/readyz", "", Vec::new()).status, 401);
    assert!(h.fake.calls().is_empty());
}

#[test]
fn unconfigured_auth_refuses_and_says_how_to_configure() {
    let h = Harness::with_config(Config::from_lookup(|_| None));
    let response = h.send("GET", "/sessions", "", &[]);
    assert_eq!(problem(&response), (401, "unauthorized".into()));
    assert!(json_body(&response)["detail"].as_str().unwrap().contains("SESSIONS_API_TOKEN"));
    assert_eq!(h.send("GET", "/healthz", "", &[]).status, 200);
    assert!(h.fake.calls().is_empty());
    let open = Harness::with_config(Config::from_lookup(|name| (name == "SESSIONS_API_AUTH").then(|| "none".into())));
    assert_eq!(open.raw("GET", "/sessions", "", Vec::new()).status, 200);
}

#[test]
fn routing_errors() {
    let h = Harness::new();
    assert_eq!(problem(&h.send("GET", "/nope", "", &[])), (404, "not_found".into()));
    let response = h.send("PUT", "/sessions/x", "", &[]);
    assert_eq!(problem(&response), (405, "method_not_allowed".into()));
    assert_eq!(response.header("allow"), Some("GET, PATCH, DELETE"));
    assert_eq!(h.send("HEAD", "/healthz", "", &[]).header("allow"), Some("GET"));
    assert!(h.fake.calls().is_empty());
}

#[test]
fn storage_errors() {
    let h = Harness::new();
    for (kind, status, name) in [
        (StorageKind::Unavailable, 503, "unavailable"),
        (StorageKind::Timeout, 504, "timeout"),
        (StorageKind::WrongType, 500, "wrong_type"),
        (StorageKind::Other, 500, "other"),
    ] {
        h.fake.reply("get", Err(RepoError::Backend(kind, "storage says no".into())));
        assert_eq!(problem(&h.send("GET", "/sessions/x", "", &[])), (status, name.into()));
    }
    h.fake.reply(
        "get",
        Err(RepoError::DataCorrupt(r#"{"session_id":"x","key":"k","field":"f","message":"bad"}"#.into())),
    );
    let response = h.send("GET", "/sessions/x", "", &[]);
    assert_eq!(problem(&response), (500, "data_corrupt".into()));
    assert_eq!(json_body(&response)["corruption"]["session_id"], "x");
}

#[test]
fn health_ready_openapi() {
    let h = Harness::new();
    assert_eq!(json_body(&h.send("GET", "/healthz", "", &[])), json!({"status": "ok"}));
    assert!(h.fake.calls().is_empty());
    assert_eq!(json_body(&h.send("GET", "/readyz", "", &[])), json!({"status": "ready", "shards": 4}));
    h.fake.reply("check-layout", Err(RepoError::Backend(StorageKind::Timeout, "slow".into())));
    assert_eq!(problem(&h.send("GET", "/readyz", "", &[])), (503, "timeout".into()));
    h.fake.reply("check-layout", Err(RepoError::InvalidInput("layout mismatch".into())));
    assert_eq!(problem(&h.send("GET", "/readyz", "", &[])), (503, "invalid_input".into()));
    let doc = json_body(&h.send("GET", "/openapi.json", "", &[]));
    assert_eq!(doc["openapi"], "3.1.0");
}

#[test]
fn a_bad_setting_is_reported_but_health_still_answers() {
    let config = Config::from_lookup(|name| match name {
        "SESSIONS_API_AUTH" => Some("none".into()),
        "SESSIONS_API_MAX_BODY" => Some("big".into()),
        _ => None,
    });
    let h = Harness::with_config(config);
    assert_eq!(problem(&h.raw("GET", "/sessions", "", Vec::new())), (500, "other".into()));
    assert_eq!(h.raw("GET", "/healthz", "", Vec::new()).status, 200);
}

#[test]
fn the_token_never_appears_in_a_response() {
    let h = Harness::new();
    h.fake.reply("get", Err(RepoError::InvalidInput("id must be ...".into())));
    for (method, target) in [("GET", "/sessions/x"), ("GET", "/nope"), ("PUT", "/sessions"), ("GET", "/openapi.json")] {
        let response = h.send(method, target, "", &[]);
        assert!(!String::from_utf8_lossy(&response.body).contains(TOKEN));
        assert!(response.headers.iter().all(|(_, v)| !v.contains(TOKEN)));
    }
}
