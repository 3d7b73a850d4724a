//! One request in, one response out: auth, routing, body checks, the
//! repository call and the mapping of its result to HTTP. Independent of
//! wasi:http, so it runs natively in unit tests.

use std::sync::atomic::{AtomicBool, Ordering};

use serde::Deserialize;
use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use crate::conditional::{IfMatch, etag, parse_if_match};
use crate::config::{Auth, Config, token_matches};
use crate::problem::{self, Context, Problem};
use crate::repository::{RepoError, Repository};
use crate::router::{self, Match};
use crate::routes::{BodyKind, Op, Route};

/// A request's head; the body is read on demand, only by routes that take
/// one and only after the caller is authenticated.
pub struct Request<'a> {
    pub method: &'a str,
    /// Path and query, as sent.
    pub target: &'a str,
    /// Header names in any case; values as text.
    pub headers: &'a [(String, String)],
}

impl Request<'_> {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Why a body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// Longer than the limit.
    TooLarge,
    Read(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    fn json(status: u16, body: String) -> Response {
        Response { status, headers: vec![("content-type".into(), "application/json".into())], body: body.into_bytes() }
    }

    fn empty(status: u16) -> Response {
        Response { status, headers: Vec::new(), body: Vec::new() }
    }

    fn with_header(mut self, name: &str, value: String) -> Response {
        self.headers.push((name.to_string(), value));
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

impl From<Problem> for Response {
    fn from(problem: Problem) -> Response {
        let mut response = Response {
            status: problem.status,
            headers: vec![("content-type".into(), "application/problem+json".into())],
            body: problem.body().into_bytes(),
        };
        for (name, value) in problem.headers {
            response.headers.push((name.to_string(), value));
        }
        response
    }
}

/// What the handler needs besides the request: the repository, the
/// settings, and whether check-layout already passed in this instance.
pub struct Front<'a, R: Repository> {
    pub repo: &'a R,
    pub config: &'a Config,
    pub layout_checked: &'a AtomicBool,
}

impl<R: Repository> Front<'_, R> {
    /// Answers one request; `read_body(limit)` reads the whole body, or
    /// fails with TooLarge past `limit` bytes.
    pub fn handle(&self, request: &Request, read_body: impl FnOnce(u64) -> Result<Vec<u8>, BodyError>) -> Response {
        match self.respond(request, read_body) {
            Ok(response) => response,
            Err(problem) => problem.into(),
        }
    }

    fn respond(
        &self,
        request: &Request,
        read_body: impl FnOnce(u64) -> Result<Vec<u8>, BodyError>,
    ) -> Result<Response, Problem> {
        let (path, query) = router::split_target(request.target);
        let found = router::route(request.method, path);
        let public = matches!(&found, Match::Found(row, _) if !row.auth);
        if !public {
            self.authenticate(request)?;
            if let Some(error) = &self.config.error {
                return Err(Problem::new(500, "other", error.clone()));
            }
        }
        let (row, raw_params) = match found {
            Match::Found(row, params) => (row, params),
            Match::MethodNotAllowed(methods) => {
                let allow = router::allow_header(&methods);
                return Err(Problem::new(405, "method_not_allowed", format!("{path} takes {allow}"))
                    .with_header("allow", allow));
            }
            Match::NotFound => {
                return Err(Problem::new(404, "not_found", "no such route; see GET /openapi.json"));
            }
        };
        let mut params = Vec::with_capacity(raw_params.len());
        for (name, raw) in raw_params {
            let value = router::decode_segment(&raw)
                .ok_or_else(|| Problem::bad_request(name, format!("{name}: not UTF-8 once percent-decoded")))?;
            params.push(value);
        }
        let if_match = if row.if_match {
            parse_if_match(request.header("if-match")).map_err(|e| Problem::bad_request("If-Match", e))?
        } else {
            IfMatch::Absent
        };
        let body = match row.body {
            BodyKind::None => None,
            _ => self.read_json_body(row, request, read_body)?,
        };
        let query = if row.query.is_empty() {
            Vec::new()
        } else {
            router::parse_query(query).map_err(|e| Problem::new(400, "invalid_input", e))?
        };
        let call = Call { row, params, query, if_match, body };
        if !row.repository.is_empty() && row.op != Op::Ready {
            self.ensure_layout()?;
        }
        self.dispatch(&call).map_err(|error| {
            let context = Context { if_match: if_match.version().is_some(), creates: row.op == Op::Create };
            let mut problem = problem::from_repo(error, context);
            // The component's not-found message is the bare id; say what it means.
            if problem.kind == "not_found" && call.params.first() == Some(&problem.detail) {
                problem.detail = format!("no live session has id {:?}", problem.detail);
            }
            problem
        })?
    }

    fn authenticate(&self, request: &Request) -> Result<(), Problem> {
        let expected = match &self.config.auth {
            Auth::Open => return Ok(()),
            Auth::Token(token) => token,
            Auth::Unconfigured => {
                return Err(unauthorized(
                    "no API token is configured: set SESSIONS_API_TOKEN (or SESSIONS_API_AUTH=none for local testing)",
                ));
            }
        };
        let presented = request.header("authorization").and_then(|value| {
            let (scheme, token) = value.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
        match presented {
            None => Err(unauthorized("send Authorization: Bearer <token>")),
            Some(token) if token_matches(token.as_bytes(), expected.as_bytes()) => Ok(()),
            // Never echo what was sent: it may be a real token of something else.
            Some(_) => Err(unauthorized("the bearer token is not the configured one")),
        }
    }

    /// Reads, bounds and checks a JSON body; None when an optional one is
    /// absent.
    fn read_json_body(
        &self,
        row: &Route,
        request: &Request,
        read_body: impl FnOnce(u64) -> Result<Vec<u8>, BodyError>,
    ) -> Result<Option<String>, Problem> {
        let limit = self.config.max_body;
        let too_large = || Problem::new(413, "payload_too_large", format!("the request body is over {limit} bytes"));
        if let Some(length) = request.header("content-length")
            && length.trim().parse::<u64>().is_ok_and(|n| n > limit)
        {
            return Err(too_large());
        }
        let bytes = match read_body(limit) {
            Ok(bytes) => bytes,
            Err(BodyError::TooLarge) => return Err(too_large()),
            Err(BodyError::Read(e)) => {
                return Err(Problem::new(400, "invalid_input", format!("the request body could not be read: {e}")));
            }
        };
        let optional = matches!(row.body, BodyKind::Optional(_));
        if optional && bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        if !is_json(request.header("content-type")) {
            return Err(Problem::new(
                415,
                "unsupported_media_type",
                "the request body must be Content-Type: application/json",
            ));
        }
        let text = String::from_utf8(bytes)
            .map_err(|e| Problem::new(400, "malformed_json", format!("the body is not UTF-8: {e}")))?;
        serde_json::from_str::<IgnoredAny>(&text)
            .map_err(|e| Problem::new(400, "malformed_json", format!("the body is not JSON: {e}")))?;
        Ok(Some(text))
    }

    /// check-layout once per instance, before the first storage operation.
    fn ensure_layout(&self) -> Result<(), Problem> {
        if self.config.layout_checked || self.layout_checked.load(Ordering::Acquire) {
            return Ok(());
        }
        match self.repo.check_layout() {
            Ok(_) => {
                self.layout_checked.store(true, Ordering::Release);
                Ok(())
            }
            // Not the request's fault: the deployment's settings do not fit the store.
            Err(RepoError::InvalidInput(message)) => Err(Problem::new(500, "layout_mismatch", message)),
            Err(error) => Err(problem::from_repo(error, Context::default())),
        }
    }

    fn dispatch(&self, call: &Call) -> Result<Result<Response, Problem>, RepoError> {
        let repo = self.repo;
        let id = call.params.first().map_or("", String::as_str);
        let response = match call.row.op {
            Op::Create => {
                let session = repo.create(call.body_text())?;
                let head = read_head(&session);
                let mut response = Response::json(201, session);
                if let Some(head) = head {
                    response = response
                        .with_header("location", format!("/sessions/{}", router::encode_segment(&head.id)))
                        .with_header("etag", etag(head.version));
                }
                response
            }
            Op::List => {
                let limit = match call.number::<u32>("limit") {
                    Ok(limit) => limit.unwrap_or(50),
                    Err(problem) => return Ok(Err(problem)),
                };
                let offset = match call.number::<u64>("offset") {
                    Ok(offset) => offset.unwrap_or(0),
                    Err(problem) => return Ok(Err(problem)),
                };
                Response::json(200, repo.list(limit, offset, call.text("page_token").unwrap_or(""))?)
            }
            Op::Get => versioned(200, repo.get(id)?),
            Op::Update => {
                let changes = with_expected_version(call.body_text(), call.if_match.version());
                versioned(200, repo.update(id, &changes)?)
            }
            Op::Delete => {
                let mut options = Map::new();
                if let Some(version) = call.if_match.version() {
                    options.insert("expected_version".into(), json!(version));
                }
                if let Some(owner) = call.owner() {
                    options.insert("owner".into(), owner);
                }
                let deleted = if options.is_empty() {
                    repo.delete(id)?
                } else {
                    match repo.delete_with(id, &Value::Object(options).to_string()) {
                        // The component reports a missing session as version 0:
                        // a conflict. The route promises 404 for "no live session".
                        Err(RepoError::Conflict(message)) => match repo.get(id) {
                            Err(RepoError::NotFound(_)) => false,
                            _ => return Err(RepoError::Conflict(message)),
                        },
                        other => other?,
                    }
                };
                if !deleted {
                    return Err(RepoError::NotFound(format!("no live session has id {id:?}")));
                }
                Response::empty(204)
            }
            Op::Extend => {
                if !repo.extend_ttl(id)? {
                    return Err(RepoError::NotFound(format!("no live session has id {id:?}")));
                }
                Response::empty(204)
            }
            Op::GetItems => match call.items_query() {
                Ok(query) => versioned(200, repo.get_items(id, &query)?),
                Err(problem) => return Ok(Err(problem)),
            },
            Op::AppendItems => {
                let request = items_request(call.body_text(), call.if_match.version());
                let receipt = repo.append_items(id, &request)?;
                let created = serde_json::from_str::<Created>(&receipt).is_ok_and(|c| c.created);
                let mut response = versioned(if created { 201 } else { 200 }, receipt);
                if created {
                    response = response.with_header("location", format!("/sessions/{}", router::encode_segment(id)));
                }
                response
            }
            Op::ClearItems => versioned(200, repo.clear_items(id, &call.options())?),
            Op::PopItem => versioned(200, repo.pop_item(id, &call.options())?),
            Op::CountItems => {
                let page = repo.get_items(id, r#"{"last":0}"#)?;
                match serde_json::from_str::<Count>(&page) {
                    Ok(count) => {
                        let body = json!({ "id": count.id, "count": count.total, "version": count.version });
                        Response::json(200, body.to_string()).with_header("etag", etag(count.version))
                    }
                    Err(e) => return Ok(Err(unreadable_reply("get-items", &e))),
                }
            }
            Op::ListByOwner => {
                let limit = match call.number::<u32>("limit") {
                    Ok(limit) => limit.unwrap_or(50),
                    Err(problem) => return Ok(Err(problem)),
                };
                let app = id;
                let user = call.text("user_id").unwrap_or("");
                Response::json(200, repo.list_by_owner(app, user, limit, call.text("page_token").unwrap_or(""))?)
            }
            Op::Cleanup => Response::json(200, repo.cleanup_expired()?),
            Op::Stats => match walk_stats(repo)? {
                Ok(stats) => Response::json(200, stats),
                Err(problem) => return Ok(Err(problem)),
            },
            Op::Health => Response::json(200, json!({ "status": "ok" }).to_string()),
            Op::Ready => match repo.check_layout() {
                Ok(shards) => {
                    self.layout_checked.store(true, Ordering::Release);
                    Response::json(200, json!({ "status": "ready", "shards": shards }).to_string())
                }
                Err(error) => {
                    // Whatever failed, the answer to "ready?" is no: 503,
                    // keeping the kind and message of the cause.
                    let mut problem = problem::from_repo(error, Context::default());
                    problem.status = 503;
                    problem.field = None;
                    return Ok(Err(problem));
                }
            },
            Op::OpenApi => Response::json(200, crate::openapi::document().to_string()),
        };
        Ok(Ok(response))
    }
}

/// A matched request, decoded.
struct Call {
    row: &'static Route,
    params: Vec<String>,
    query: Vec<(String, String)>,
    if_match: IfMatch,
    body: Option<String>,
}

impl Call {
    fn body_text(&self) -> &str {
        self.body.as_deref().unwrap_or("")
    }

    fn text(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn number<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, Problem> {
        match self.text(name) {
            None => Ok(None),
            Some(text) => text.parse::<T>().map(Some).map_err(|_| {
                Problem::bad_request(name, format!("{name} must be a whole number in range, got {:?}", clip(text)))
            }),
        }
    }

    fn flag(&self, name: &str) -> Result<Option<bool>, Problem> {
        match self.text(name) {
            None => Ok(None),
            Some("true" | "1") => Ok(Some(true)),
            Some("false" | "0") => Ok(Some(false)),
            Some(text) => {
                Err(Problem::bad_request(name, format!("{name} must be true or false, got {:?}", clip(text))))
            }
        }
    }

    /// The `items-query` document of GET items' parameters.
    fn items_query(&self) -> Result<String, Problem> {
        let mut query = Map::new();
        if let Some(last) = self.number::<u32>("last")? {
            query.insert("last".into(), json!(last));
        }
        if let Some(start) = self.number::<i64>("start")? {
            query.insert("start".into(), json!(start));
        }
        if let Some(stop) = self.number::<i64>("stop")? {
            query.insert("stop".into(), json!(stop));
        }
        if let Some(include) = self.flag("include_session")? {
            query.insert("include_session".into(), json!(include));
        }
        if let Some(whole) = self.flag("whole")? {
            query.insert("whole".into(), json!(whole));
        }
        if let Some(owner) = self.owner() {
            query.insert("owner".into(), owner);
        }
        Ok(Value::Object(query).to_string())
    }

    /// The `owner` of `app_name` and `user_id`, when either is given (one
    /// without the other is the component's to refuse).
    fn owner(&self) -> Option<Value> {
        let (app, user) = (self.text("app_name"), self.text("user_id"));
        (app.is_some() || user.is_some())
            .then(|| json!({ "app_name": app.unwrap_or(""), "user_id": user.unwrap_or("") }))
    }

    /// An `item-options` document: the body (if any), with If-Match's
    /// version as `expected_version`.
    fn options(&self) -> String {
        match (&self.body, self.if_match.version()) {
            (Some(body), version) => with_expected_version(body, version),
            (None, Some(version)) => json!({ "expected_version": version }).to_string(),
            (None, None) => String::new(),
        }
    }
}

fn clip(text: &str) -> String {
    text.chars().take(40).collect()
}

fn unauthorized(detail: &str) -> Problem {
    Problem::new(401, "unauthorized", detail).with_header("www-authenticate", "Bearer".to_string())
}

fn is_json(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|value| {
        let essence = value.split(';').next().unwrap_or("").trim();
        essence.eq_ignore_ascii_case("application/json")
    })
}

#[derive(Deserialize)]
struct Head {
    id: String,
    version: u64,
}

#[derive(Deserialize)]
struct Version {
    version: u64,
}

#[derive(Deserialize)]
struct Created {
    #[serde(default)]
    created: bool,
}

#[derive(Deserialize)]
struct Count {
    id: String,
    total: u64,
    version: u64,
}

fn read_head(document: &str) -> Option<Head> {
    serde_json::from_str(document).ok()
}

/// A 200/201 document whose `version` becomes the ETag.
fn versioned(status: u16, document: String) -> Response {
    let version = serde_json::from_str::<Version>(&document).ok().map(|v| v.version);
    let response = Response::json(status, document);
    match version {
        Some(version) => response.with_header("etag", etag(version)),
        None => response,
    }
}

fn unreadable_reply(operation: &str, error: &serde_json::Error) -> Problem {
    Problem::new(500, "other", format!("{operation} returned a document that does not read: {error}"))
}

/// GET /stats: the `stats` pages walked to the end.
fn walk_stats(repo: &impl Repository) -> Result<Result<String, Problem>, RepoError> {
    #[derive(Deserialize)]
    struct Page {
        cursor: String,
        done: bool,
        stats: Box<RawValue>,
    }
    let (mut cursor, mut so_far) = (String::new(), String::new());
    loop {
        let text = repo.stats(&cursor, &so_far)?;
        let page: Page = match serde_json::from_str(&text) {
            Ok(page) => page,
            Err(e) => return Ok(Err(unreadable_reply("stats", &e))),
        };
        if page.done {
            return Ok(Ok(page.stats.get().to_string()));
        }
        cursor = page.cursor;
        so_far = page.stats.get().to_string();
    }
}

/// A JSON object's members in order, values kept as their text.
struct Members(Vec<(String, Box<RawValue>)>);

impl<'de> Deserialize<'de> for Members {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Members, D::Error> {
        struct MembersVisitor;
        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = Members;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
                let mut members = Vec::new();
                while let Some(entry) = map.next_entry::<String, Box<RawValue>>()? {
                    members.push(entry);
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(MembersVisitor)
    }
}

impl Members {
    fn write(&self) -> String {
        let mut out = String::from("{");
        for (i, (name, value)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&Value::String(name.clone()).to_string());
            out.push(':');
            out.push_str(value.get());
        }
        out.push('}');
        out
    }

    fn set(&mut self, name: &str, value: Box<RawValue>) {
        self.0.retain(|(n, _)| n != name);
        self.0.push((name.to_string(), value));
    }
}

fn raw_number(version: u64) -> Box<RawValue> {
    // A number's text is always valid JSON.
    RawValue::from_string(version.to_string()).unwrap_or_else(|_| unreachable!("a number is JSON"))
}

/// The body with `expected_version` set to If-Match's version; a body that
/// is not an object goes on unchanged for the component to refuse.
fn with_expected_version(body: &str, version: Option<u64>) -> String {
    let Some(version) = version else { return body.to_string() };
    match serde_json::from_str::<Members>(body) {
        Ok(mut members) => {
            members.set("expected_version", raw_number(version));
            members.write()
        }
        Err(_) => body.to_string(),
    }
}

/// POST items' body as an `items-append` document: an array is wrapped
/// (its text kept as it is), an object goes on with If-Match's version.
fn items_request(body: &str, version: Option<u64>) -> String {
    if body.trim_start().starts_with('[') {
        let mut members = Members(Vec::new());
        // The body already parsed as JSON, so its text is a valid RawValue.
        if let Ok(items) = RawValue::from_string(body.trim().to_string()) {
            members.set("items", items);
        }
        if let Some(version) = version {
            members.set("expected_version", raw_number(version));
        }
        members.write()
    } else {
        with_expected_version(body, version)
    }
}

#[cfg(test)]
mod tests;
