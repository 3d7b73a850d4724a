//! The wasm glue: wasi:http's incoming-handler export (from the `wasip2`
//! crate's bindings) and the `repository` import (wit-bindgen against
//! wit/sessions.wit's `http-front` world). No HTTP rules live here.

use std::io::{Read, Write};
use std::sync::OnceLock;
use std::sync::atomic::AtomicBool;

use wasip2::exports::http::incoming_handler::Guest;
use wasip2::http::types::{
    Fields, IncomingBody, IncomingRequest, Method as WasiMethod, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

use crate::config::Config;
use crate::handler::{BodyError, Front, Request, Response};
use crate::repository::{RepoError, RepoResult, Repository, StorageKind};

wit_bindgen::generate!({
    path: "../../wit",
    world: "http-front",
});

use agent::sessions::repository as imported;
use agent::sessions::types::{SessionError, StorageErrorKind};

/// The settings, read once per instance (the environment does not change).
fn config() -> &'static Config {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    CONFIG.get_or_init(Config::from_env)
}

/// Set once check-layout passed in this instance.
static LAYOUT_CHECKED: AtomicBool = AtomicBool::new(false);

struct Imported;

fn convert(error: SessionError) -> RepoError {
    match error {
        SessionError::InvalidInput(m) => RepoError::InvalidInput(m),
        SessionError::NotFound(m) => RepoError::NotFound(m),
        SessionError::Conflict(m) => RepoError::Conflict(m),
        SessionError::DataCorrupt(m) => RepoError::DataCorrupt(m),
        SessionError::Backend(failure) => {
            let kind = match failure.kind {
                StorageErrorKind::Unavailable => StorageKind::Unavailable,
                StorageErrorKind::Timeout => StorageKind::Timeout,
                StorageErrorKind::WrongType => StorageKind::WrongType,
                StorageErrorKind::InvalidBatch => StorageKind::InvalidBatch,
                StorageErrorKind::Other => StorageKind::Other,
            };
            RepoError::Backend(kind, failure.message)
        }
    }
}

impl Repository for Imported {
    fn create(&self, input: &str) -> RepoResult<String> {
        imported::create(input).map_err(convert)
    }
    fn get(&self, id: &str) -> RepoResult<String> {
        imported::get(id).map_err(convert)
    }
    fn update(&self, id: &str, changes: &str) -> RepoResult<String> {
        imported::update(id, changes).map_err(convert)
    }
    fn delete(&self, id: &str) -> RepoResult<bool> {
        imported::delete(id).map_err(convert)
    }
    fn list(&self, limit: u32, offset: u64, page_token: &str) -> RepoResult<String> {
        imported::list(limit, offset, page_token).map_err(convert)
    }
    fn extend_ttl(&self, id: &str) -> RepoResult<bool> {
        imported::extend_ttl(id).map_err(convert)
    }
    fn cleanup_expired(&self) -> RepoResult<String> {
        imported::cleanup_expired().map_err(convert)
    }
    fn check_layout(&self) -> RepoResult<u32> {
        imported::check_layout().map_err(convert)
    }
    fn stats(&self, cursor: &str, so_far: &str) -> RepoResult<String> {
        imported::stats(cursor, so_far).map_err(convert)
    }
    fn append_items(&self, id: &str, request: &str) -> RepoResult<String> {
        imported::append_items(id, request).map_err(convert)
    }
    fn get_items(&self, id: &str, query: &str) -> RepoResult<String> {
        imported::get_items(id, query).map_err(convert)
    }
    fn pop_item(&self, id: &str, options: &str) -> RepoResult<String> {
        imported::pop_item(id, options).map_err(convert)
    }
    fn clear_items(&self, id: &str, options: &str) -> RepoResult<String> {
        imported::clear_items(id, options).map_err(convert)
    }
    fn list_by_owner(&self, app_name: &str, user_id: &str, limit: u32, page_token: &str) -> RepoResult<String> {
        imported::list_by_owner(app_name, user_id, limit, page_token).map_err(convert)
    }
    fn delete_with(&self, id: &str, options: &str) -> RepoResult<bool> {
        imported::delete_with(id, options).map_err(convert)
    }
}

struct Handler;

wasip2::http::proxy::export!(Handler);

impl Guest for Handler {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let method = match request.method() {
            WasiMethod::Get => "GET".to_string(),
            WasiMethod::Head => "HEAD".to_string(),
            WasiMethod::Post => "POST".to_string(),
            WasiMethod::Put => "PUT".to_string(),
            WasiMethod::Delete => "DELETE".to_string(),
            WasiMethod::Connect => "CONNECT".to_string(),
            WasiMethod::Options => "OPTIONS".to_string(),
            WasiMethod::Trace => "TRACE".to_string(),
            WasiMethod::Patch => "PATCH".to_string(),
            WasiMethod::Other(other) => other,
        };
        let target = request.path_with_query().unwrap_or_else(|| "/".to_string());
        let headers: Vec<(String, String)> = request
            .headers()
            .entries()
            .into_iter()
            .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
            .collect();
        let head = Request { method: &method, target: &target, headers: &headers };
        let front = Front { repo: &Imported, config: config(), layout_checked: &LAYOUT_CHECKED };
        let body_read = std::cell::Cell::new(false);
        let response = front.handle(&head, |limit| {
            body_read.set(true);
            read_body(&request, limit)
        });
        if !body_read.get() && has_body(&headers) {
            // Answered before reading the body (401, 404, 405, ...): read it
            // now (as far as the limit), or the server under us cannot keep
            // the connection and closes it without saying so, which breaks
            // the client's next request on it.
            let _ = read_body(&request, config().max_body);
        }
        send(response, response_out);
    }
}

/// Whether the request announces a body (a non-zero length, or chunks).
fn has_body(headers: &[(String, String)]) -> bool {
    headers.iter().any(|(name, value)| {
        name.eq_ignore_ascii_case("transfer-encoding")
            || (name.eq_ignore_ascii_case("content-length") && value.trim() != "0")
    })
}

/// The whole body, failing past `limit` bytes without reading on.
fn read_body(request: &IncomingRequest, limit: u64) -> Result<Vec<u8>, BodyError> {
    let body: IncomingBody = request.consume().map_err(|()| BodyError::Read("the body was already taken".into()))?;
    let mut bytes = Vec::new();
    {
        let mut stream = body.stream().map_err(|()| BodyError::Read("the body has no stream".into()))?;
        // One byte past the limit tells "exactly the limit" from "over it".
        let mut bounded = stream.by_ref().take(limit.saturating_add(1));
        bounded.read_to_end(&mut bytes).map_err(|e| BodyError::Read(e.to_string()))?;
        // The stream is a child of the body: dropped before the body is finished.
    }
    if bytes.len() as u64 > limit {
        return Err(BodyError::TooLarge);
    }
    drop(IncomingBody::finish(body));
    Ok(bytes)
}

fn send(response: Response, out: ResponseOutparam) {
    let mut entries: Vec<(String, Vec<u8>)> =
        response.headers.into_iter().map(|(name, value)| (name, value.into_bytes())).collect();
    if !response.body.is_empty() {
        entries.push(("content-length".into(), response.body.len().to_string().into_bytes()));
    }
    // Header names and values are ours and valid; an empty set is the fallback.
    let fields = Fields::from_list(&entries).unwrap_or_else(|_| Fields::new());
    let outgoing = OutgoingResponse::new(fields);
    // Every status we produce is valid.
    let _ = outgoing.set_status_code(response.status);
    let Ok(body) = outgoing.body() else {
        ResponseOutparam::set(out, Ok(outgoing));
        return;
    };
    ResponseOutparam::set(out, Ok(outgoing));
    if let Ok(mut stream) = body.write() {
        // A client that went away is nobody to report to.
        let _ = stream.write_all(&response.body);
        let _ = stream.flush();
    }
    let _ = OutgoingBody::finish(body, None);
}
