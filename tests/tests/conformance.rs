//! The Rust runner of the language-neutral conformance suite in
//! `tests/conformance/` (the format is specified in its README).
//!
//! Every `*.json` scenario runs, in name order, against one `redis-server`
//! emptied with `FLUSHALL` before each scenario, through a `SessionStore`
//! built with the scenario's settings and prefix; and again on a Redis
//! Cluster in the sharded layout, where the scenarios' Redis commands and
//! key names are read through `ShardedView` (the document's names stand
//! for the sharded keys). A scenario stops at its
//! first failing step (later steps depend on its state); the others still
//! run, and the test fails at the end listing every failure with the file,
//! the step, and the expected and actual values.
//!
//! `CONFORMANCE_ONLY=007` runs only the scenarios whose file name contains
//! that text.
//!
//! Errors map to the WIT `session-error` cases; an error's `message` is the
//! text that case carries (for `not_found`, the id; for `data_corrupt`, the
//! corruption's message).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use agent_sessions_guest::keys::Layout;
use agent_sessions_host::{Arg, Error, ParamType, Reply, SessionStore};
use agent_sessions_tests::sharded_view::{ShardedView, untag};
use agent_sessions_tests::{RedisCluster, RedisServer};
use serde_json::{Map, Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_scenarios() {
    let server = RedisServer::start();
    let connection = server.connection();
    run_every_scenario(&mut Target::Server { url: server.url(), connection }, "one Redis").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_scenarios_on_a_cluster() {
    let cluster = RedisCluster::start();
    let view = ShardedView::new(&cluster, Layout::Sharded { shards: agent_sessions_host::DEFAULT_SHARDS });
    let url = cluster.seed_urls().join(",");
    run_every_scenario(&mut Target::Cluster { url, view: Box::new(view) }, "a Redis Cluster").await;
}

/// Where the scenarios run.
enum Target {
    Server { url: String, connection: redis::Connection },
    Cluster { url: String, view: Box<ShardedView> },
}

impl Target {
    fn url(&self) -> &str {
        match self {
            Target::Server { url, .. } | Target::Cluster { url, .. } => url,
        }
    }

    fn flush(&mut self) {
        match self {
            Target::Server { connection, .. } => redis::cmd("FLUSHALL").exec(connection),
            Target::Cluster { view, .. } => view.flush(),
        }
        .expect("FLUSHALL between scenarios")
    }

    fn run(&mut self, parts: &[&str], prefix: &str) -> redis::RedisResult<redis::Value> {
        match self {
            Target::Server { connection, .. } => redis::cmd(parts[0]).arg(&parts[1..]).query(connection),
            Target::Cluster { view, .. } => view.run(parts, prefix),
        }
    }

    /// A result as the scenarios spell it (the document's key names).
    fn spelled(&self, value: Value) -> Value {
        match self {
            Target::Server { .. } => value,
            Target::Cluster { .. } => match value {
                Value::String(text) => Value::String(untag(&text)),
                Value::Array(items) => Value::Array(items.into_iter().map(|item| self.spelled(item)).collect()),
                Value::Object(object) => {
                    Value::Object(object.into_iter().map(|(key, value)| (key, self.spelled(value))).collect())
                }
                other => other,
            },
        }
    }
}

async fn run_every_scenario(target: &mut Target, on: &str) {
    let started = Instant::now();
    let only = std::env::var("CONFORMANCE_ONLY").ok();
    let files: Vec<PathBuf> = scenario_files()
        .into_iter()
        .filter(|file| only.as_deref().is_none_or(|only| file_name(file).contains(only)))
        .collect();
    assert!(!files.is_empty(), "no scenario files found in {}", scenario_dir().display());

    let mut failures = Vec::new();
    let mut steps_passed = 0;
    let mut steps_total = 0;
    for file in &files {
        target.flush();
        let outcome = run_scenario(file, target).await;
        steps_passed += outcome.steps_passed;
        steps_total += outcome.steps_total;
        if let Some(failure) = outcome.failure {
            failures.push(failure);
        }
    }

    eprintln!(
        "conformance on {on}: {} of {} scenarios passed, {steps_passed} of {steps_total} steps, in {:.1?}",
        files.len() - failures.len(),
        files.len(),
        started.elapsed(),
    );
    if !failures.is_empty() {
        panic!(
            "{} of {} conformance scenarios failed on {on}:\n\n{}",
            failures.len(),
            files.len(),
            failures.join("\n\n")
        );
    }
}

fn scenario_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance")
}

fn scenario_files() -> Vec<PathBuf> {
    let dir = scenario_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| entry.expect("read a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    files
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default()
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

/// Indents every line after the first, so multi-line JSON lines up under
/// its label.
fn indent(text: &str) -> String {
    text.replace('\n', "\n          ")
}

// ---------------------------------------------------------------------------
// Scenarios and steps
// ---------------------------------------------------------------------------

struct ScenarioOutcome {
    steps_passed: usize,
    steps_total: usize,
    failure: Option<String>,
}

/// Why a step failed.
struct StepFailure {
    problem: String,
    /// Expected and actual values, when the step got an answer.
    values: Option<Box<(Value, Value)>>,
}

impl StepFailure {
    fn problem(problem: impl Into<String>) -> Self {
        Self { problem: problem.into(), values: None }
    }

    fn mismatch(problem: impl Into<String>, expected: &Value, actual: &Value) -> Self {
        Self { problem: problem.into(), values: Some(Box::new((expected.clone(), actual.clone()))) }
    }
}

impl From<String> for StepFailure {
    fn from(problem: String) -> Self {
        Self::problem(problem)
    }
}

async fn run_scenario(file: &Path, target: &mut Target) -> ScenarioOutcome {
    let name = file_name(file);
    let fail = |message: String| ScenarioOutcome {
        steps_passed: 0,
        steps_total: 0,
        failure: Some(format!("=== {name}\n{message}")),
    };
    let scenario: Value = match std::fs::read_to_string(file)
        .map_err(|e| e.to_string())
        .and_then(|text| serde_json::from_str(&text).map_err(|e| e.to_string()))
    {
        Ok(scenario) => scenario,
        Err(e) => return fail(format!("cannot read the scenario: {e}")),
    };
    if let Err(e) = check_scenario(&scenario) {
        return fail(format!("the scenario is malformed: {e}"));
    }
    let (store, steps) = match setup(&scenario, target.url()).await {
        Ok(setup) => setup,
        Err(e) => return fail(format!("cannot set the scenario up: {e}")),
    };

    let prefix = store.prefix().to_owned();
    let mut runner = Runner { store, target, prefix, vars: HashMap::new() };
    for (index, raw) in steps.iter().enumerate() {
        let number = index + 1;
        // Substitute first, so the report shows the step as it was run.
        let (step, result) = match runner.substitute(raw) {
            Ok(step) => {
                let result = runner.run_step(&step).await;
                (step, result)
            }
            Err(problem) => (raw.clone(), Err(StepFailure::problem(problem))),
        };
        if let Err(failure) = result {
            let mut report = format!("=== {name}, step {number} of {} (numbered from 1)\n", steps.len());
            let _ = writeln!(report, "step:     {}", indent(&pretty(&step)));
            let _ = writeln!(report, "problem:  {}", indent(&failure.problem));
            if let Some(values) = &failure.values {
                let (expected, actual) = &**values;
                let _ = writeln!(report, "expected: {}", indent(&pretty(expected)));
                let _ = writeln!(report, "actual:   {}", indent(&pretty(actual)));
            }
            return ScenarioOutcome { steps_passed: index, steps_total: steps.len(), failure: Some(report) };
        }
    }
    ScenarioOutcome { steps_passed: steps.len(), steps_total: steps.len(), failure: None }
}

/// Checks the scenario's top level and builds its store.
async fn setup(scenario: &Value, url: &str) -> Result<(SessionStore, Vec<Value>), String> {
    let top = as_object(scenario, "the scenario")?;
    check_keys(top, &["description", "settings", "prefix", "steps"], &["description", "steps"], "the scenario")?;
    as_str(&top["description"], "description")?;
    let steps = match &top["steps"] {
        Value::Array(steps) if !steps.is_empty() => steps.clone(),
        _ => return Err("\"steps\" must be a non-empty list".into()),
    };
    let prefix = match top.get("prefix") {
        None => String::new(),
        Some(prefix) => as_str(prefix, "prefix")?.to_owned(),
    };
    let mut ttl = agent_sessions_host::DEFAULT_SESSION_TTL_SECONDS;
    let mut grace = agent_sessions_host::DEFAULT_GRACE_SECONDS;
    if let Some(settings) = top.get("settings") {
        let settings = as_object(settings, "settings")?;
        check_keys(settings, &["session_ttl_seconds", "grace_seconds"], &[], "settings")?;
        if let Some(value) = opt_u64(settings, "session_ttl_seconds")? {
            ttl = value;
        }
        if let Some(value) = opt_u64(settings, "grace_seconds")? {
            grace = value;
        }
    }
    let store = SessionStore::builder()
        .redis(url)
        .prefix(prefix)
        .session_ttl(Duration::from_secs(ttl))
        .grace_period(Duration::from_secs(grace))
        .build()
        .await
        .map_err(|e| format!("building the store failed: {e:?}"))?;
    Ok((store, steps))
}

// ---------------------------------------------------------------------------
// Scenario structure
// ---------------------------------------------------------------------------

/// Checks a scenario's structure before any of it runs, with the same rules
/// as `check_scenario` in the Python runner (python/tests/test_conformance.py):
/// the top level's keys, and for every step exactly one of `call` and
/// `redis`, a known call, every key the step needs (`expect` included: a
/// step without it would pass on any outcome) and no key it does not take.
/// Errors name the step (numbered from 1) and the offending key.
fn check_scenario(scenario: &Value) -> Result<(), String> {
    let top = as_object(scenario, "the scenario")?;
    check_keys(top, &["description", "settings", "prefix", "steps"], &["description", "steps"], "the scenario")?;
    if let Some(settings) = top.get("settings") {
        check_keys(as_object(settings, "settings")?, &["session_ttl_seconds", "grace_seconds"], &[], "settings")?;
    }
    let steps = match &top["steps"] {
        Value::Array(steps) if !steps.is_empty() => steps,
        _ => return Err("\"steps\" must be a non-empty list".into()),
    };
    for (index, step) in steps.iter().enumerate() {
        check_step(step).map_err(|e| format!("step {} (numbered from 1): {e}", index + 1))?;
    }
    Ok(())
}

/// The arguments of each call, all required; `None` for an unknown call.
fn call_arguments(call: &str) -> Option<&'static [&'static str]> {
    Some(match call {
        "create" => &["input"],
        "get" | "delete" | "extend_ttl" => &["id"],
        "update" => &["id", "changes"],
        "list" => &["limit", "offset"],
        "cleanup_expired" | "reindex" | "stats" => &[],
        "append_items" => &["id", "request"],
        "get_items" => &["id", "query"],
        "pop_item" | "clear_items" | "delete_with" => &["id", "options"],
        "list_by_owner" => &["app_name", "user_id", "limit"],
        _ => return None,
    })
}

/// The keys a call may leave out: `save` on `create` (the id), `list` and
/// `list_by_owner` (the next page token), `page_token` on the last two.
fn optional_call_keys(call: &str) -> &'static [&'static str] {
    match call {
        "create" => &["save"],
        "list" | "list_by_owner" => &["save", "page_token"],
        _ => &[],
    }
}

/// One step's keys: a call step takes `call`, its arguments and `expect`
/// (plus its optional keys); a Redis step takes `redis` and `expect`. A
/// call's `expect` must also be well formed.
fn check_step(step: &Value) -> Result<(), String> {
    let object = as_object(step, "a step")?;
    let (what, allowed, optional) = match (object.get("call"), object.contains_key("redis")) {
        (Some(call), false) => {
            let call = as_str(call, "call")?;
            let arguments = call_arguments(call).ok_or_else(|| format!("unknown call {call:?}"))?;
            let mut allowed = vec!["call", "expect"];
            allowed.extend_from_slice(arguments);
            allowed.extend_from_slice(optional_call_keys(call));
            (format!("a {call} step"), allowed, optional_call_keys(call))
        }
        (None, true) => ("a redis step".to_owned(), vec!["redis", "expect"], &[][..]),
        _ => return Err("a step needs exactly one of \"call\" and \"redis\"".into()),
    };
    let required: Vec<&str> = allowed.iter().copied().filter(|key| !optional.contains(key)).collect();
    check_keys(object, &allowed, &required, &what)?;
    if object.contains_key("call") {
        parse_call_expectation(&object["expect"])?;
    }
    Ok(())
}

struct Runner<'a> {
    store: SessionStore,
    target: &'a mut Target,
    prefix: String,
    /// Saved ids, by name.
    vars: HashMap<String, String>,
}

/// What a repository call returned, in the JSON shapes of the spec.
enum CallOutcome {
    Ok(Value),
    /// `{"kind", "message"}`, plus `key` and `field` for data_corrupt.
    Error(Value),
}

impl Runner<'_> {
    /// Replaces `${name}` in every string of the step, object keys included.
    fn substitute(&self, value: &Value) -> Result<Value, String> {
        Ok(match value {
            Value::String(text) => Value::String(substitute_text(&self.vars, text)?),
            Value::Array(items) => {
                Value::Array(items.iter().map(|item| self.substitute(item)).collect::<Result<_, _>>()?)
            }
            Value::Object(object) => Value::Object(
                object
                    .iter()
                    .map(|(key, value)| Ok((substitute_text(&self.vars, key)?, self.substitute(value)?)))
                    .collect::<Result<_, String>>()?,
            ),
            other => other.clone(),
        })
    }

    async fn run_step(&mut self, step: &Value) -> Result<(), StepFailure> {
        let object = as_object(step, "a step")?;
        match (object.contains_key("call"), object.contains_key("redis")) {
            (true, false) => self.run_call(object).await,
            (false, true) => self.run_redis(object),
            _ => Err(StepFailure::problem("a step needs exactly one of \"call\" and \"redis\"")),
        }
    }

    // --- repository calls --------------------------------------------------

    async fn run_call(&mut self, step: &Map<String, Value>) -> Result<(), StepFailure> {
        // The step's keys were checked by `check_scenario` before the run.
        let call = as_str(&step["call"], "call")?;
        let expect = parse_call_expectation(&step["expect"])?;
        let save = step.get("save").map(|name| as_str(name, "save").map(str::to_owned)).transpose()?;
        if let Some(name) = &save {
            if self.vars.contains_key(name) {
                return Err(format!("\"save\": {name:?} is already saved in this scenario").into());
            }
            if matches!(expect, CallExpectation::Error(_)) {
                return Err("\"save\" on a step that expects an error".to_owned().into());
            }
        }

        let outcome = match self.call(call, step).await? {
            CallOutcome::Ok(value) => CallOutcome::Ok(self.target.spelled(value)),
            CallOutcome::Error(value) => CallOutcome::Error(self.target.spelled(value)),
        };

        match (&expect, &outcome) {
            (CallExpectation::Ok(expected), CallOutcome::Ok(actual)) => {
                if let Err(problem) = matches(expected, actual, "ok") {
                    return Err(StepFailure::mismatch(problem, expected, actual));
                }
            }
            (CallExpectation::Error(expected), CallOutcome::Error(actual)) => {
                check_error(expected, actual).map_err(|problem| {
                    StepFailure::mismatch(problem, &json!({ "error": expected.raw }), &json!({ "error": actual }))
                })?;
            }
            (CallExpectation::Ok(expected), CallOutcome::Error(actual)) => {
                return Err(StepFailure::mismatch(
                    "expected success, the call failed",
                    &json!({ "ok": expected }),
                    &json!({ "error": actual }),
                ));
            }
            (CallExpectation::Error(expected), CallOutcome::Ok(actual)) => {
                return Err(StepFailure::mismatch(
                    "expected an error, the call succeeded",
                    &json!({ "error": expected.raw }),
                    &json!({ "ok": actual }),
                ));
            }
        }

        if let Some(name) = save {
            match &outcome {
                CallOutcome::Ok(result) => {
                    // A create saves the session's id, a list its next page token.
                    let field = if call.starts_with("list") { "next_page_token" } else { "id" };
                    let value = result[field]
                        .as_str()
                        .ok_or_else(|| StepFailure::problem(format!("\"save\": the result has no {field}")))?;
                    self.vars.insert(name, value.to_owned());
                }
                CallOutcome::Error(actual) => {
                    return Err(StepFailure::mismatch(
                        format!("\"save\": {name:?} needs the {call} to succeed"),
                        &json!({ "ok": {"$any": true} }),
                        &json!({ "error": actual }),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Runs one repository call. Guest and setup failures fail the step
    /// whatever it expects: no scenario can ask for them.
    ///
    /// Every call but the stats walk goes through the store's one generic
    /// path: the step names the operation (`pop_item` for `pop-item`) and
    /// gives each of its WIT parameters by name (`page-token` as
    /// `page_token`); documents are sent as the JSON text of the step's
    /// value, so a document that does not read is the component's
    /// invalid_input, as for every host.
    async fn call(&self, call: &str, step: &Map<String, Value>) -> Result<CallOutcome, StepFailure> {
        let store = &self.store;
        let result: Result<Value, Error> = if call == "stats" {
            store.stats(|_| {}).await.map(|stats| to_json(&stats))
        } else {
            let export = call.replace('_', "-");
            let operation = store.operations().get(&export).map_err(|_| format!("unknown call {call:?}"))?;
            let mut args = Vec::new();
            for (param, ty) in &operation.params {
                let value = step.get(&param.replace('-', "_"));
                args.push(argument(param, ty, value)?);
            }
            match store.call(&export, args).await {
                Ok(Reply::Text(json)) => parsed(Ok(json)),
                Ok(Reply::Bool(value)) => Ok(Value::Bool(value)),
                Ok(Reply::Int(value)) => Ok(json!(value)),
                Err(error) => Err(error),
            }
        };
        // A page's last token is null in every host's output.
        let result = result.map(|mut page| {
            if call.starts_with("list")
                && let Value::Object(fields) = &mut page
            {
                fields.entry("next_page_token").or_insert(Value::Null);
            }
            page
        });
        match result {
            Ok(value) => Ok(CallOutcome::Ok(value)),
            Err(error) => error_json(error).map(CallOutcome::Error),
        }
    }

    // --- direct Redis commands ---------------------------------------------

    fn run_redis(&mut self, step: &Map<String, Value>) -> Result<(), StepFailure> {
        // The step's keys were checked by `check_scenario` before the run.
        let command: Vec<&str> = match &step["redis"] {
            Value::Array(parts) if !parts.is_empty() => parts
                .iter()
                .map(|part| part.as_str().ok_or_else(|| format!("redis command parts must be strings, got {part}")))
                .collect::<Result<_, _>>()?,
            _ => return Err("\"redis\" must be a non-empty list of strings".to_owned().into()),
        };
        let name = command[0].to_ascii_uppercase();
        let reply: redis::Value = self
            .target
            .run(&command, &self.prefix)
            .map_err(|e| StepFailure::problem(format!("Redis answered {} with an error: {e}", command.join(" "))))?;
        let actual = normalise_reply(&name, reply)?;
        let expected = &step["expect"];
        if let Err(problem) = matches(expected, &actual, "reply") {
            return Err(StepFailure::mismatch(problem, expected, &actual));
        }
        Ok(())
    }
}

/// Replaces every `${name}` in `text` by the saved value.
fn substitute_text(vars: &HashMap<String, String>, text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or_else(|| format!("unclosed ${{ in {text:?}"))?;
        let name = &after[..end];
        let value = vars.get(name).ok_or_else(|| {
            let mut known: Vec<&str> = vars.keys().map(String::as_str).collect();
            known.sort();
            format!("${{{name}}} was never saved (saved so far: {known:?})")
        })?;
        out.push_str(value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A Redis reply in the spec's normal form.
fn normalise_reply(command: &str, reply: redis::Value) -> Result<Value, String> {
    use redis::Value as R;
    let text =
        |bytes: Vec<u8>| String::from_utf8(bytes).map_err(|e| format!("Redis replied with non-UTF-8 bytes: {e}"));
    let list = |items: Vec<R>| items.into_iter().map(|item| normalise_reply("", item)).collect::<Result<Vec<_>, _>>();
    let value = match reply {
        R::Nil => Value::Null,
        R::Int(n) => json!(n),
        R::BulkString(bytes) => Value::String(text(bytes)?),
        R::SimpleString(s) => Value::String(s),
        R::Okay => Value::String("OK".into()),
        R::Double(d) => json!(d),
        R::Boolean(b) => Value::Bool(b),
        R::VerbatimString { text, .. } => Value::String(text),
        R::Map(pairs) => {
            let mut object = Map::new();
            for (key, value) in pairs {
                let key = match normalise_reply("", key)? {
                    Value::String(key) => key,
                    other => return Err(format!("Redis replied with a map key that is not a string: {other}")),
                };
                object.insert(key, normalise_reply("", value)?);
            }
            return Ok(Value::Object(object));
        }
        R::Array(items) | R::Set(items) if command == "HGETALL" => {
            if items.len() % 2 != 0 {
                return Err("HGETALL replied with an odd number of elements".into());
            }
            let mut object = Map::new();
            let mut items = list(items)?.into_iter();
            while let (Some(key), Some(value)) = (items.next(), items.next()) {
                let Value::String(key) = key else { return Err(format!("HGETALL replied with field {key}")) };
                object.insert(key, value);
            }
            return Ok(Value::Object(object));
        }
        R::Array(items) | R::Set(items) => {
            let mut items = list(items)?;
            if command == "SMEMBERS" || command == "KEYS" {
                // Rust's string order is byte order.
                items.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
            }
            Value::Array(items)
        }
        R::ServerError(error) => return Err(format!("Redis answered with an error: {error:?}")),
        other => return Err(format!("Redis replied with {other:?}, which has no normal form")),
    };
    Ok(value)
}

// ---------------------------------------------------------------------------
// Expectations and matching
// ---------------------------------------------------------------------------

enum CallExpectation {
    Ok(Value),
    Error(ErrorExpectation),
}

struct ErrorExpectation {
    raw: Value,
    kind: String,
    message_contains: Option<String>,
    key: Option<Value>,
    field: Option<Value>,
}

const ERROR_KINDS: [&str; 5] = ["invalid_input", "not_found", "conflict", "data_corrupt", "backend"];

fn parse_call_expectation(expect: &Value) -> Result<CallExpectation, String> {
    let object = as_object(expect, "expect")?;
    if object.len() != 1 {
        return Err("\"expect\" of a call must have exactly one key, \"ok\" or \"error\"".into());
    }
    if let Some(ok) = object.get("ok") {
        return Ok(CallExpectation::Ok(ok.clone()));
    }
    let Some(error) = object.get("error") else {
        return Err(format!("\"expect\" of a call must be {{\"ok\": ..}} or {{\"error\": ..}}, got {expect}"));
    };
    let fields = as_object(error, "expect.error")?;
    check_keys(fields, &["kind", "message_contains", "key", "field"], &["kind"], "expect.error")?;
    let kind = as_str(&fields["kind"], "expect.error.kind")?.to_owned();
    if !ERROR_KINDS.contains(&kind.as_str()) {
        return Err(format!("unknown error kind {kind:?}; known: {ERROR_KINDS:?}"));
    }
    if (fields.contains_key("key") || fields.contains_key("field")) && kind != "data_corrupt" {
        return Err("\"key\" and \"field\" apply only to data_corrupt errors".into());
    }
    let message_contains =
        fields.get("message_contains").map(|m| as_str(m, "message_contains").map(str::to_owned)).transpose()?;
    Ok(CallExpectation::Error(ErrorExpectation {
        raw: error.clone(),
        kind,
        message_contains,
        key: fields.get("key").cloned(),
        field: fields.get("field").cloned(),
    }))
}

fn check_error(expected: &ErrorExpectation, actual: &Value) -> Result<(), String> {
    if actual["kind"] != expected.kind.as_str() {
        return Err(format!("expected a {} error, got {}", expected.kind, actual["kind"]));
    }
    if let Some(text) = &expected.message_contains {
        let message = actual["message"].as_str().unwrap_or_default();
        if !message.contains(text.as_str()) {
            return Err(format!("the error message does not contain {text:?}"));
        }
    }
    for (name, expected) in [("key", &expected.key), ("field", &expected.field)] {
        if let Some(expected) = expected {
            matches(expected, &actual[name], &format!("error.{name}"))?;
        }
    }
    Ok(())
}

/// Whether `actual` matches `expected` by the spec's rules; the error names
/// the path of the first difference.
fn matches(expected: &Value, actual: &Value, path: &str) -> Result<(), String> {
    let differ = || format!("at {path}: expected {expected}, got {actual}");
    match expected {
        Value::Object(object)
            if object.len() == 1 && object.keys().all(|key| key.starts_with('$') && key != "$exact") =>
        {
            let (matcher, argument) = object.iter().next().expect("one key");
            match_special(matcher, argument, actual, path)
        }
        Value::Object(object) => {
            let exact = match object.get("$exact") {
                None => false,
                Some(Value::Bool(exact)) => *exact,
                Some(other) => return Err(format!("at {path}: \"$exact\" must be true or false, got {other}")),
            };
            if let Some(key) = object.keys().find(|key| key.starts_with('$') && *key != "$exact") {
                return Err(format!("at {path}: {key:?} is not a matcher here (a matcher is an object's only key)"));
            }
            let Value::Object(actual_object) = actual else {
                return Err(format!("at {path}: expected an object, got {actual}"));
            };
            for (key, expected) in object.iter().filter(|(key, _)| *key != "$exact") {
                match actual_object.get(key) {
                    Some(actual) => matches(expected, actual, &format!("{path}.{key}"))?,
                    None => return Err(format!("at {path}: key {key:?} is missing")),
                }
            }
            if exact && let Some(extra) = actual_object.keys().find(|key| !object.contains_key(*key)) {
                return Err(format!("at {path}: key {extra:?} is not expected (\"$exact\": true)"));
            }
            Ok(())
        }
        Value::Array(expected_items) => {
            let Value::Array(actual_items) = actual else {
                return Err(format!("at {path}: expected a list, got {actual}"));
            };
            if expected_items.len() != actual_items.len() {
                return Err(format!(
                    "at {path}: expected {} elements, got {}",
                    expected_items.len(),
                    actual_items.len()
                ));
            }
            for (index, (expected, actual)) in expected_items.iter().zip(actual_items).enumerate() {
                matches(expected, actual, &format!("{path}[{index}]"))?;
            }
            Ok(())
        }
        Value::Number(expected_number) => match actual {
            Value::Number(actual_number) if numbers_equal(expected_number, actual_number) => Ok(()),
            _ => Err(differ()),
        },
        _ if expected == actual => Ok(()),
        _ => Err(differ()),
    }
}

fn numbers_equal(a: &serde_json::Number, b: &serde_json::Number) -> bool {
    match (a.as_i64(), b.as_i64(), a.as_u64(), b.as_u64()) {
        (Some(a), Some(b), _, _) => a == b,
        (_, _, Some(a), Some(b)) => a == b,
        _ => a.as_f64() == b.as_f64(),
    }
}

fn match_special(matcher: &str, argument: &Value, actual: &Value, path: &str) -> Result<(), String> {
    let fail = |what: &str| Err(format!("at {path}: expected {what}, got {actual}"));
    match matcher {
        "$match" => match argument.as_str() {
            Some("uuid") => match actual.as_str() {
                Some(text) if is_uuid_v4(text) => Ok(()),
                _ => fail("a lowercase hyphenated UUID v4"),
            },
            Some("timestamp") => match actual.as_str() {
                Some(text) if is_timestamp(text) => Ok(()),
                _ => fail("a timestamp YYYY-MM-DDTHH:MM:SSZ"),
            },
            _ => Err(format!("at {path}: unknown \"$match\" pattern {argument}; known: \"uuid\", \"timestamp\"")),
        },
        "$between" => {
            let bounds = argument.as_array().filter(|bounds| bounds.len() == 2 && bounds.iter().all(Value::is_number));
            let Some(bounds) = bounds else {
                return Err(format!("at {path}: \"$between\" needs [LOW, HIGH] numbers, got {argument}"));
            };
            let (low, high) = (bounds[0].as_f64().unwrap_or(f64::NAN), bounds[1].as_f64().unwrap_or(f64::NAN));
            match actual.as_f64() {
                Some(n) if actual.is_number() && low <= n && n <= high => Ok(()),
                _ => fail(&format!("a number from {} to {}", bounds[0], bounds[1])),
            }
        }
        "$contains" => {
            let Some(text) = argument.as_str() else {
                return Err(format!("at {path}: \"$contains\" needs a string, got {argument}"));
            };
            match actual.as_str() {
                Some(actual) if actual.contains(text) => Ok(()),
                _ => fail(&format!("a string containing {text:?}")),
            }
        }
        "$any" => match argument {
            Value::Bool(true) => Ok(()),
            _ => Err(format!("at {path}: \"$any\" must be true, got {argument}")),
        },
        other => Err(format!("at {path}: unknown matcher {other:?}; known: $match, $between, $contains, $any")),
    }
}

fn is_uuid_v4(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            14 => *b == b'4',
            19 => matches!(b, b'8' | b'9' | b'a' | b'b'),
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(b),
        })
}

fn is_timestamp(text: &str) -> bool {
    text.len() == 20
        && text.char_indices().all(|(i, c)| match i {
            4 | 7 => c == '-',
            10 => c == 'T',
            13 | 16 => c == ':',
            19 => c == 'Z',
            _ => c.is_ascii_digit(),
        })
}

// ---------------------------------------------------------------------------
// Host values to JSON
// ---------------------------------------------------------------------------

/// A host value as the shared schema's JSON document (what every host
/// returns), so the runner holds no list of fields.
fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("plain data serialises")
}

/// A document the component returned, parsed.
fn parsed(result: Result<String, Error>) -> Result<Value, Error> {
    result.and_then(|text| {
        serde_json::from_str(&text).map_err(|e| Error::Guest(format!("the component's answer is not JSON: {e}")))
    })
}

/// An error as `{"kind", "message"}` (plus `key` and `field` for
/// data_corrupt); guest and setup failures fail the step outright.
fn error_json(error: Error) -> Result<Value, StepFailure> {
    let (kind, message) = match &error {
        Error::InvalidInput(message) => ("invalid_input", message.clone()),
        Error::NotFound(id) => ("not_found", id.clone()),
        Error::Conflict(message) => ("conflict", message.clone()),
        Error::DataCorrupt(corruption) => {
            return Ok(json!({
                "kind": "data_corrupt",
                "message": corruption.message,
                "session_id": corruption.session_id,
                "key": corruption.key,
                "field": corruption.field,
            }));
        }
        Error::Unavailable(_)
        | Error::StorageTimeout(_)
        | Error::Backend { .. }
        | Error::Timeout(_)
        | Error::NotReplicated(_) => ("backend", error.to_string()),
        Error::Guest(_) | Error::Setup(_) => {
            return Err(StepFailure::problem(format!("the host failed outside the session contract: {error:?}")));
        }
    };
    Ok(json!({ "kind": kind, "message": message }))
}

fn as_object<'a>(value: &'a Value, what: &str) -> Result<&'a Map<String, Value>, String> {
    value.as_object().ok_or_else(|| format!("{what} must be an object, got {value}"))
}

fn as_str<'a>(value: &'a Value, what: &str) -> Result<&'a str, String> {
    value.as_str().ok_or_else(|| format!("\"{what}\" must be a string, got {value}"))
}

fn as_u64(value: &Value, what: &str) -> Result<u64, String> {
    value.as_u64().ok_or_else(|| format!("\"{what}\" must be a non-negative integer, got {value}"))
}

/// Fails on keys outside `allowed` (typos) and on missing `required` keys.
fn check_keys(object: &Map<String, Value>, allowed: &[&str], required: &[&str], what: &str) -> Result<(), String> {
    if let Some(unknown) = object.keys().find(|key| !allowed.contains(&key.as_str())) {
        return Err(format!("{what} has the unknown key {unknown:?}; allowed: {allowed:?}"));
    }
    if let Some(missing) = required.iter().find(|key| !object.contains_key(**key)) {
        return Err(format!("{what} lacks the key {missing:?}"));
    }
    Ok(())
}

/// A present value must have the right type: `null` is not "absent" (use
/// `clear` for that), so it is refused rather than guessed at.
fn optional<'a, T>(
    object: &'a Map<String, Value>,
    key: &str,
    kind: &str,
    convert: impl FnOnce(&'a Value) -> Option<T>,
) -> Result<Option<T>, String> {
    match object.get(key) {
        None => Ok(None),
        Some(value) => convert(value).map(Some).ok_or_else(|| format!("\"{key}\" must be {kind}, got {value}")),
    }
}

fn opt_u64(object: &Map<String, Value>, key: &str) -> Result<Option<u64>, String> {
    optional(object, key, "a non-negative integer", Value::as_u64)
}

/// The runner's own rules, so a broken matcher cannot make every scenario
/// pass.
#[test]
fn matching_rules() {
    let ok = |expected: Value, actual: Value| matches(&expected, &actual, "v").is_ok();
    assert!(ok(json!(2000), json!(2000.0)));
    assert!(!ok(json!(2000), json!("2000")));
    assert!(ok(json!({"a": 1}), json!({"a": 1, "b": 2})));
    assert!(!ok(json!({"a": 1, "$exact": true}), json!({"a": 1, "b": 2})));
    assert!(!ok(json!({"a": 1}), json!({"b": 1})));
    assert!(!ok(json!([1, 2]), json!([1, 2, 3])));
    assert!(!ok(json!(null), json!(false)));
    assert!(ok(json!({"$any": true}), json!(null)));
    assert!(ok(json!({"$match": "uuid"}), json!("0b6f2a52-3c1e-4d7a-9a55-6f1f3e2b9c10")));
    assert!(!ok(json!({"$match": "uuid"}), json!("0B6F2A52-3C1E-4D7A-9A55-6F1F3E2B9C10")));
    assert!(!ok(json!({"$match": "uuid"}), json!("0b6f2a52-3c1e-1d7a-9a55-6f1f3e2b9c10")));
    assert!(ok(json!({"$match": "timestamp"}), json!("2025-04-01T14:30:00Z")));
    assert!(!ok(json!({"$match": "timestamp"}), json!("2025-04-01T14:30:00.1Z")));
    assert!(ok(json!({"$between": [1, 2]}), json!(2)));
    assert!(!ok(json!({"$between": [1, 2]}), json!(2.5)));
    assert!(!ok(json!({"$between": [1, 2]}), json!("1")));
    assert!(ok(json!({"$contains": "b"}), json!("abc")));
    assert!(!ok(json!({"$contains": "b"}), json!(["b"])));
    assert!(!ok(json!({"$betwen": [1, 2]}), json!(1)));
    assert!(!ok(json!({"a": 1, "$any": true}), json!({"a": 1})));
}

/// The structural rules: a step without `expect`, or with a key its kind
/// of step does not take, fails the scenario before anything runs.
#[test]
fn scenario_rules() {
    let scenario = |step: Value| json!({"description": "inline", "steps": [step]});
    let check = |step: Value| check_scenario(&scenario(step));
    assert_eq!(check(json!({"call": "stats", "expect": {"ok": {}}})), Ok(()));
    assert_eq!(check(json!({"redis": ["GET", "x"], "expect": null})), Ok(()));
    assert_eq!(check(json!({"call": "create", "input": {"model_id": "m"}, "save": "a", "expect": {"ok": {}}})), Ok(()));
    assert_eq!(
        check(json!({"call": "list", "limit": 1, "offset": 0, "page_token": "t", "save": "b", "expect": {"ok": {}}})),
        Ok(())
    );
    assert_eq!(
        check(json!({"call": "append_items", "id": "x", "request": {"items": [1]}, "expect": {"ok": {}}})),
        Ok(())
    );
    assert_eq!(check(json!({"call": "get_items", "id": "x", "query": {}, "expect": {"ok": {}}})), Ok(()));
    for call in ["pop_item", "clear_items", "delete_with"] {
        assert_eq!(check(json!({"call": call, "id": "x", "options": {}, "expect": {"ok": {}}})), Ok(()), "{call}");
        let error = check(json!({"call": call, "id": "x", "expect": {"ok": {}}})).unwrap_err();
        assert!(error.contains("lacks the key \"options\""), "{call}: {error}");
    }
    let owner_page = json!({"call": "list_by_owner", "app_name": "a", "user_id": "", "limit": 2, "expect": {"ok": {}}});
    assert_eq!(check(owner_page.clone()), Ok(()));
    let mut paged = owner_page.clone();
    paged["page_token"] = json!("t");
    paged["save"] = json!("next");
    assert_eq!(check(paged), Ok(()));
    let mut without_user = owner_page;
    without_user.as_object_mut().unwrap().remove("user_id");
    assert!(check(without_user).unwrap_err().contains("lacks the key \"user_id\""));
    assert!(
        check(json!({"call": "get_items", "id": "x", "query": {}, "save": "a", "expect": {"ok": {}}}))
            .unwrap_err()
            .contains("unknown key \"save\"")
    );

    for step in [json!({"call": "stats"}), json!({"call": "get", "id": "x"}), json!({"redis": ["GET", "x"]})] {
        let error = check(step.clone()).unwrap_err();
        assert!(error.contains("step 1") && error.contains("lacks the key \"expect\""), "{step}: {error}");
    }
    for (step, unknown) in [
        (json!({"call": "get", "id": "x", "expect": {"ok": {}}, "expected": {"ok": {}}}), "expected"),
        (json!({"call": "get", "id": "x", "save": "a", "expect": {"ok": {}}}), "save"),
        (json!({"call": "stats", "id": "x", "expect": {"ok": {}}}), "id"),
        (json!({"redis": ["GET", "x"], "input": {}, "expect": null}), "input"),
        (json!({"redis": ["GET", "x"], "save": "a", "expect": null}), "save"),
    ] {
        let error = check(step.clone()).unwrap_err();
        assert!(error.contains(&format!("unknown key {unknown:?}")), "{step}: {error}");
    }
    assert!(check(json!({"call": "get", "expect": {"ok": {}}})).unwrap_err().contains("lacks the key \"id\""));
    assert!(check(json!({"call": "gett", "id": "x", "expect": {"ok": {}}})).unwrap_err().contains("unknown call"));
    assert!(check(json!({"call": "stats", "redis": ["GET", "x"], "expect": {"ok": {}}})).is_err());
    assert!(check(json!({"call": "stats", "expect": {"okay": {}}})).is_err());
    assert!(check_scenario(&json!({"description": "d", "steps": [], "step": []})).unwrap_err().contains("\"step\""));

    // Every scenario in the folder follows the rules.
    for file in scenario_files() {
        let scenario: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        check_scenario(&scenario).unwrap_or_else(|e| panic!("{}: {e}", file_name(&file)));
    }
}

#[test]
fn substitution() {
    let vars = HashMap::from([("a".to_owned(), "X".to_owned())]);
    assert_eq!(substitute_text(&vars, "session:${a}:data").unwrap(), "session:X:data");
    assert_eq!(substitute_text(&vars, "${a}${a} $a {a}").unwrap(), "XX $a {a}");
    assert!(substitute_text(&vars, "${b}").unwrap_err().contains("never saved"));
    assert!(substitute_text(&vars, "${a").unwrap_err().contains("unclosed"));
}

/// A step's value for one parameter: strings as they are, documents as
/// their JSON text; an absent page token or cursor is "".
fn argument(param: &str, ty: &ParamType, value: Option<&Value>) -> Result<Arg, StepFailure> {
    Ok(match (ty, value) {
        (ParamType::String | ParamType::Enum(_), None) => Arg::Text(String::new()),
        (ParamType::String | ParamType::Enum(_), Some(Value::String(text))) => Arg::Text(text.clone()),
        (ParamType::String, Some(document)) => Arg::Text(document.to_string()),
        (ParamType::U32 | ParamType::U64, Some(number)) => Arg::Int(as_u64(number, param)?),
        (ParamType::Bool, Some(Value::Bool(value))) => Arg::Bool(*value),
        (ParamType::Bool, None) => Arg::Bool(false),
        (_, value) => return Err(format!("\"{param}\" must be given as a {ty:?}, not {value:?}").into()),
    })
}
