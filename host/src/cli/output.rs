//! What `sessions` prints: one JSON document with `--json`, text otherwise.

use agent_sessions_host::conversation::OwnerPage;
use agent_sessions_host::{CleanupReport, Corruption, Error, Health, Session, SessionPage, SessionStats};
use serde_json::{Value, json};

use super::fields::SESSION_FIELDS;

/// Writes to stdout; a reader that went away ends the process (exit 0, as
/// Unix tools do on a closed pipe), any other failure exits 1 with a line.
pub fn write_stdout(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(error) = stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("sessions: cannot write to stdout: {error}");
        std::process::exit(1);
    }
}

/// A JSON value, indented, on stdout.
pub fn print_json(value: &Value) {
    outln!("{}", serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string()));
}

/// A value as its JSON document: the shared schema of every host
/// (`schema/sessions.schema.json`), never a second list of fields.
pub fn document<T: serde::Serialize>(value: &T) -> Value {
    // Plain data with string keys always serialises.
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// A document as indented JSON, written straight from the value: items and
/// state values keep the exact text they were stored with (big integers
/// included), which a detour through `Value` would not.
pub fn pretty<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\": \"cannot print: {e}\"}}"))
}

/// A stored JSON text on one line: as stored, unless it spans several
/// lines, then without the whitespace between tokens (a JSON string holds
/// no raw line break, so every one is between tokens).
pub fn one_line(text: &str) -> String {
    if !text.contains(['\n', '\r']) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            out.push(c);
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            in_string = c == '"';
            out.push(c);
        }
    }
    out
}

/// An owner's page of sessions as a table, newest-updated first.
pub fn owner_page_text(page: &OwnerPage) -> String {
    let mut out = String::new();
    if page.sessions.is_empty() {
        out.push_str("no sessions on this page\n");
    } else {
        out.push_str(&format!("{:<36}  {:<20}  {:<20}  {:>7}  {}\n", "ID", "USER", "UPDATED", "VERSION", "STATE KEYS"));
        for session in &page.sessions {
            let keys: Vec<&str> = session.state.keys().map(String::as_str).collect();
            out.push_str(&format!(
                "{:<36}  {:<20}  {:<20}  {:>7}  {}\n",
                session.id,
                shorten_to(&session.user_id, 20),
                session.updated_at.to_string(),
                session.version,
                keys.join(", ")
            ));
        }
    }
    if let Some(token) = &page.next_page_token {
        out.push_str(&format!("next page: --page-token {token}\n"));
    }
    for c in &page.corrupt {
        out.push_str(&format!("corrupt: session {} ({} {}): {}\n", c.session_id, c.key, c.field, c.message));
    }
    out
}

fn corruption_json(c: &Corruption) -> Value {
    document(c)
}

pub fn cleanup_text(report: &CleanupReport) -> String {
    let mut out = format!("removed {} expired session(s)\n", report.removed);
    if report.skipped > 0 {
        out.push_str(&format!("left {} entr(ies) it cannot judge:\n", report.skipped));
        for c in &report.problems {
            out.push_str(&format!("  {} {:?}: {}\n", c.key, c.field, c.message));
        }
    }
    out
}

pub fn health_json(health: &Health, component: &str) -> Value {
    json!({
        "status": "ok",
        "storage": health.storage,
        "storage_latency_ms": millis(health.storage_latency),
        "component": component,
        "component_latency_ms": millis(health.component_latency),
        "indexed_sessions": health.indexed_sessions,
    })
}

/// The error document printed on stdout with `--json` (the one-line message
/// still goes to stderr).
pub fn error_json(error: &Error) -> Value {
    let kind = agent_sessions_host::metrics::error_kind(error);
    let mut document = json!({ "error": { "kind": kind, "message": error.to_string() } });
    if let Error::DataCorrupt(c) = error {
        document["error"]["corruption"] = corruption_json(c);
    }
    document
}

pub fn millis(duration: std::time::Duration) -> f64 {
    (duration.as_secs_f64() * 1e6).round() / 1e3
}

/// A session as aligned `field: value` lines: its id and owner, its data
/// fields in the schema's order, then its meta fields.
pub fn session_text(session: &Session) -> String {
    /// The fields with rows of their own, around the data fields.
    const OWN_ROWS: [&str; 10] = [
        "id",
        "app_name",
        "user_id",
        "status",
        "is_active",
        "created_at",
        "updated_at",
        "last_activity",
        "version",
        "expires_in_seconds",
    ];
    let meta = &session.meta;
    let mut rows = vec![("id", session.id.clone())];
    if let (Some(app_name), Some(user_id)) = (&meta.app_name, &meta.user_id) {
        rows.push(("app_name", app_name.clone()));
        rows.push(("user_id", user_id.clone()));
    }
    let document = document(session);
    for name in SESSION_FIELDS.into_iter().filter(|name| !OWN_ROWS.contains(name)) {
        rows.push((name, field_text(&document[name])));
    }
    rows.extend([
        ("status", format!("{} ({})", meta.status, if meta.is_active { "active" } else { "inactive" })),
        ("created_at", meta.created_at.to_string()),
        ("updated_at", meta.updated_at.to_string()),
        ("last_activity", meta.last_activity.to_string()),
        ("version", meta.version.to_string()),
        ("expires_in", session.expires_in_seconds.map_or("never (no TTL)".to_owned(), |s| format!("{s} s"))),
    ]);
    rows.iter().map(|(name, value)| format!("{name:<18} {value}\n")).collect()
}

/// A field's value for a row: `-` when absent or empty, a list joined
/// with commas, long or multi-line text shortened.
fn field_text(value: &Value) -> String {
    match value {
        Value::Null => "-".to_owned(),
        Value::String(text) => shorten(text),
        // As Rust prints the number (2, not 2.0).
        Value::Number(number) => match (number.as_i64(), number.as_f64()) {
            (Some(whole), _) => whole.to_string(),
            (None, Some(float)) => float.to_string(),
            (None, None) => number.to_string(),
        },
        Value::Array(values) if values.is_empty() => "-".to_owned(),
        Value::Array(values) => values.iter().map(field_text).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// A page as a table, one session per line; `after_token` when it was
/// asked for with a page token (so its ranks are unknown).
pub fn page_text(page: &SessionPage, after_token: bool) -> String {
    let mut out = String::new();
    if page.sessions.is_empty() {
        out.push_str("no sessions on this page\n");
    } else {
        out.push_str(&format!(
            "{:<36}  {:<10}  {:<20}  {:<20}  {:>10}  {}\n",
            "ID", "STATUS", "CREATED", "MODEL", "EXPIRES IN", "NAME"
        ));
        for session in &page.sessions {
            out.push_str(&format!(
                "{:<36}  {:<10}  {:<20}  {:<20}  {:>10}  {}\n",
                session.id,
                session.meta.status,
                session.meta.created_at.to_string(),
                shorten_to(&session.data.model_id, 20),
                session.expires_in_seconds.map_or("-".to_owned(), |s| format!("{s} s")),
                session.data.name.as_deref().unwrap_or("")
            ));
        }
    }
    if after_token {
        out.push_str(&format!(
            "{} sessions after the page token, of {} (limit {})\n",
            page.sessions.len(),
            page.total,
            page.limit
        ));
    } else {
        let shown_to = page.offset + page.sessions.len() as u64;
        out.push_str(&format!(
            "sessions {}-{} of {} (limit {})\n",
            if page.sessions.is_empty() { page.offset } else { page.offset + 1 },
            shown_to,
            page.total,
            page.limit
        ));
    }
    if let Some(token) = &page.next_page_token {
        out.push_str(&format!("next page: --page-token {token}\n"));
    }
    for c in &page.corrupt {
        out.push_str(&format!("corrupt: session {} ({} {}): {}\n", c.session_id, c.key, c.field, c.message));
    }
    out
}

fn shorten(text: &str) -> String {
    shorten_to(text, 60)
}

fn shorten_to(text: &str, max: usize) -> String {
    let first_line = text.lines().next().unwrap_or("");
    if first_line.chars().count() <= max && first_line.len() == text.len() {
        text.to_owned()
    } else {
        let head: String = first_line.chars().take(max.saturating_sub(3)).collect();
        format!("{head}...")
    }
}

/// A TTL bucket's bound, for people: "60s", "5m", "1h", "1d", "1w".
fn bound_label(seconds: Option<u64>) -> String {
    match seconds {
        None => "longer".into(),
        Some(s) if s % 604_800 == 0 => format!("<={}w", s / 604_800),
        Some(s) if s % 86_400 == 0 => format!("<={}d", s / 86_400),
        Some(s) if s % 3_600 == 0 => format!("<={}h", s / 3_600),
        Some(s) if s % 60 == 0 => format!("<={}m", s / 60),
        Some(s) => format!("<={s}s"),
    }
}

pub fn stats_text(stats: &SessionStats) -> String {
    let join = |items: Vec<String>| if items.is_empty() { "-".to_owned() } else { items.join(" · ") };
    let mut out = String::new();
    out.push_str(&format!(
        "sessions              {} live ({} active, {} inactive)\n",
        stats.sessions, stats.active, stats.inactive
    ));
    let statuses = stats.by_status.iter().map(|(s, n)| format!("{} {n}", if s.is_empty() { "(none)" } else { s }));
    out.push_str(&format!("by status             {}\n", join(statuses.collect())));
    let buckets = stats.ttl_buckets.iter().map(|b| format!("{} {}", bound_label(b.up_to_seconds), b.count));
    out.push_str(&format!("remaining TTL         {}\n", join(buckets.collect())));
    let time = |t: Option<agent_sessions_host::Timestamp>| t.map_or("-".to_owned(), |t| t.to_string());
    let id = |id: &Option<String>| id.as_deref().unwrap_or("-").to_owned();
    out.push_str(&format!(
        "oldest session        {} (created {})\n",
        id(&stats.oldest_session_id),
        time(stats.oldest_created_at)
    ));
    out.push_str(&format!(
        "newest session        {} (created {})\n",
        id(&stats.newest_session_id),
        time(stats.newest_created_at)
    ));
    out.push_str(&format!("awaiting cleanup      {} expired\n", stats.expired_awaiting_cleanup));
    out.push_str(&format!(
        "inconsistencies       {} members without keys · {} keys without members · {} keys without TTL\n",
        stats.members_without_keys, stats.keys_without_members, stats.keys_without_ttl
    ));
    out.push_str(&format!(
        "active_sessions       {} members; list index {} entries\n",
        stats.set_size, stats.index_size
    ));
    if !stats.problems.is_empty() {
        out.push_str(&format!("problems (first {}):\n", stats.problems.len()));
        for c in &stats.problems {
            let field = if c.field.is_empty() { String::new() } else { format!(" {:?}", c.field) };
            out.push_str(&format!("  {}{field}: {}\n", c.key, c.message));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn one_line_keeps_single_line_text_and_strings() {
        assert_eq!(one_line(r#"{ "a" : [1, 2.50] }"#), r#"{ "a" : [1, 2.50] }"#, "as stored");
        assert_eq!(
            one_line("{\n  \"a b\": \"x \\\" y\",\n  \"n\": 18446744073709551617\n}"),
            r#"{"a b":"x \" y","n":18446744073709551617}"#
        );
        assert_eq!(one_line("[\r\n \"\\\\\", 1\r\n]"), r#"["\\",1]"#);
    }
}
