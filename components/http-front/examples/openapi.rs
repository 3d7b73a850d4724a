//! Prints the OpenAPI document that `GET /openapi.json` serves:
//! `cargo run -p agent-sessions-http-front --example openapi > openapi.json`.

fn main() {
    let document = agent_sessions_http_front::openapi::document();
    // Pretty-printing a JSON value cannot fail.
    println!("{}", serde_json::to_string_pretty(&document).unwrap_or_default());
}
