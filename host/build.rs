//! Builds the session component from `guest/` and the HTTP front from
//! `components/http-front/` for wasm32-wasip2 (one cargo run, so their
//! shared dependencies compile once) and hands their paths to the crate
//! (`AGENT_SESSIONS_COMPONENT`, `AGENT_SESSIONS_HTTP_FRONT`), so the
//! `sessions` binary embeds both and works as a single file.
//!
//! It also precompiles both for the target (`.cwasm`), so that a process
//! loads native code instead of compiling a component at start.
//!
//! Set `AGENT_SESSIONS_COMPONENT=/path/to/component.wasm` (or
//! `AGENT_SESSIONS_HTTP_FRONT=/path/to/front.wasm`) to embed a prebuilt
//! component instead (packaging, or machines without the target).
//!
//! And it writes the `sessions` CLI's session-field flags from
//! `schema/sessions.schema.json` (`cli_fields.rs`), so the CLI names no
//! session field by hand.

#[path = "../build-support/component.rs"]
mod component;
#[path = "../build-support/engine.rs"]
mod engine;

use std::env;
use std::path::{Path, PathBuf};

/// One embedded component: the variable that names a prebuilt one (and
/// carries its path to the crate), the package that builds it, the
/// sources it is built from, and its precompiled file.
struct Embedded {
    variable: &'static str,
    package: &'static str,
    lib_name: &'static str,
    sources: &'static [&'static str],
    precompiled: &'static str,
    precompiled_variable: &'static str,
}

const EMBEDDED: [Embedded; 2] = [
    Embedded {
        variable: "AGENT_SESSIONS_COMPONENT",
        package: "agent-sessions-guest",
        lib_name: "agent_sessions_guest",
        sources: &["kv/src", "kv/Cargo.toml", "redis", "guest/src", "guest/Cargo.toml"],
        precompiled: "agent_sessions.cwasm",
        precompiled_variable: "AGENT_SESSIONS_PRECOMPILED",
    },
    Embedded {
        variable: "AGENT_SESSIONS_HTTP_FRONT",
        package: "agent-sessions-http-front",
        lib_name: "agent_sessions_http_front",
        sources: &["components/http-front/src", "components/http-front/Cargo.toml", "schema"],
        precompiled: "agent_sessions_http_front.cwasm",
        precompiled_variable: "AGENT_SESSIONS_HTTP_FRONT_PRECOMPILED",
    },
];

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().expect("host/ sits in the workspace root");
    cli_fields::generate(root);
    let mut to_build = Vec::new();
    for embedded in &EMBEDDED {
        println!("cargo:rerun-if-env-changed={}", embedded.variable);
        match env::var(embedded.variable) {
            Ok(prebuilt) => {
                println!("cargo:rerun-if-changed={prebuilt}");
                provide(embedded, Path::new(&prebuilt));
            }
            Err(_) => to_build.push(embedded),
        }
    }
    if to_build.is_empty() {
        return;
    }
    let mut watched: Vec<&str> = vec!["wit", "Cargo.lock", "build-support"];
    watched.extend(to_build.iter().flat_map(|embedded| embedded.sources.iter().copied()));
    for path in watched {
        println!("cargo:rerun-if-changed={}", root.join(path).display());
    }
    let packages: Vec<(&str, &str)> = to_build.iter().map(|embedded| (embedded.package, embedded.lib_name)).collect();
    let built = component::build_components(root, &packages, true);
    for (embedded, wasm) in to_build.into_iter().zip(built) {
        provide(embedded, &wasm);
    }
}

/// Hands the component's path to the crate and precompiles it.
fn provide(embedded: &Embedded, wasm: &Path) {
    println!("cargo:rustc-env={}={}", embedded.variable, wasm.display());
    precompile(wasm, embedded.precompiled, embedded.precompiled_variable);
}

/// Compiles the component to native code for the target now, so that a
/// process loads it (the `*_PRECOMPILED` file) instead of compiling it on
/// every start. Empty when that is not possible; the host then compiles.
fn precompile(wasm: &Path, file: &str, variable: &str) {
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join(file);
    let compiled = (|| -> wasmtime::Result<Vec<u8>> {
        let mut config = engine::compilation_config();
        config.target(&env::var("TARGET")?)?;
        let engine = wasmtime::Engine::new(&config)?;
        engine.precompile_component(&std::fs::read(wasm)?)
    })();
    let bytes = compiled.unwrap_or_else(|e| {
        println!("cargo:warning=could not precompile {} ({e}); it will be compiled at start-up", wasm.display());
        Vec::new()
    });
    std::fs::write(&out, bytes).expect("write the precompiled component");
    println!("cargo:rustc-env={variable}={}", out.display());
}

/// The `sessions` CLI's session-field flags, generated from the schema:
/// one `--flag` per field both `session-create` and `session-update` take,
/// the fields `update --clear` resets, and each document's field names.
mod cli_fields {
    use std::fmt::Write;
    use std::path::Path;

    use serde_json::{Map, Value};

    /// The help heading the field flags are listed under.
    const HEADING: &str = "Session fields";

    struct Field {
        name: String,
        /// The one JSON type of its value (`null` aside).
        json_type: String,
        /// `session-create` needs it: its type there is not nullable and not a list.
        required: bool,
        clearable: bool,
        help: String,
    }

    pub fn generate(root: &Path) {
        let path = root.join("schema/sessions.schema.json");
        println!("cargo:rerun-if-changed={}", path.display());
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let schema: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let definitions = &schema["$defs"];
        let properties = |document: &str| -> &Map<String, Value> {
            definitions[document]["properties"].as_object().unwrap_or_else(|| panic!("the schema has no {document}"))
        };
        let (create, update, session) =
            (properties("SessionCreate"), properties("SessionUpdate"), properties("Session"));
        let clearable: Vec<&str> = definitions["DataField"]["enum"]
            .as_array()
            .expect("the schema's DataField is an enum")
            .iter()
            .map(|name| name.as_str().expect("DataField names are strings"))
            .collect();
        let fields: Vec<Field> = update
            .iter()
            .filter(|(name, _)| create.contains_key(*name))
            .map(|(name, property)| {
                let types = type_names(property);
                let json_type = types.iter().find(|t| *t != "null").cloned().unwrap_or_default();
                let description = [property, &session[name], &create[name]]
                    .iter()
                    .find_map(|p| p["description"].as_str())
                    .map(|text| text.split_whitespace().collect::<Vec<_>>().join(" "))
                    .unwrap_or_else(|| format!("The session's {name}"));
                Field {
                    name: name.clone(),
                    required: json_type == "string" && !type_names(&create[name]).iter().any(|t| t == "null"),
                    clearable: clearable.contains(&name.as_str()),
                    help: description.trim_end_matches('.').to_owned(),
                    json_type,
                }
            })
            .collect();

        let mut out = String::from(
            "// Generated by host/build.rs from schema/sessions.schema.json; do not edit.\n\
             // The session fields of the `sessions` CLI: flags, clearable fields, document fields.\n\n",
        );
        out.push_str("/// One flag per field that `session-create` and `session-update` both take.\n");
        out.push_str("#[derive(Debug, Clone, Default, clap::Args)]\npub struct DataFlags {\n");
        for field in &fields {
            let (rust_type, value_name, long) = flag_shape(field);
            let mut help = field.help.clone();
            if field.required {
                help.push_str(" (required on create)");
            }
            if field.json_type == "array" {
                help.push_str(" (repeatable)");
            }
            let negative = if matches!(field.json_type.as_str(), "number" | "integer") {
                " allow_negative_numbers = true,"
            } else {
                ""
            };
            writeln!(
                out,
                "    #[arg(long = {long:?}, value_name = {value_name:?},{negative} help = {help:?}, help_heading = {HEADING:?})]\n    pub {}: {rust_type},",
                ident(&field.name)
            )
            .unwrap();
        }
        out.push_str("}\n\nimpl DataFlags {\n");
        out.push_str(
            "    /// The fields the flags give, as a JSON object of the design document's field names\n    \
             /// (non-finite numbers as text, which the lenient reader turns back into numbers).\n    \
             pub fn into_document(self) -> serde_json::Map<String, serde_json::Value> {\n        \
             let mut document = serde_json::Map::new();\n",
        );
        for field in &fields {
            let id = ident(&field.name);
            let value = match field.json_type.as_str() {
                "number" => {
                    "serde_json::Number::from_f64(value).map_or_else(|| serde_json::Value::String(value.to_string()), serde_json::Value::Number)"
                }
                _ => "serde_json::Value::from(value)",
            };
            if field.json_type == "array" {
                writeln!(out, "        if !self.{id}.is_empty() {{\n            let value = self.{id};\n            document.insert({:?}.to_owned(), {value});\n        }}", field.name).unwrap();
            } else {
                writeln!(out, "        if let Some(value) = self.{id} {{\n            document.insert({:?}.to_owned(), {value});\n        }}", field.name).unwrap();
            }
        }
        out.push_str("        document\n    }\n}\n\n");
        out.push_str("/// The fields `session-create` needs, with their flags.\n");
        let required: Vec<String> = fields
            .iter()
            .filter(|f| f.required)
            .map(|f| format!("({:?}, {:?})", f.name, format!("--{}", flag_shape(f).2)))
            .collect();
        writeln!(
            out,
            "pub const REQUIRED_ON_CREATE: [(&str, &str); {}] = [{}];\n",
            required.len(),
            required.join(", ")
        )
        .unwrap();
        fn list<'a>(names: impl Iterator<Item = &'a str>) -> String {
            format!("[{}]", names.map(|name| format!("{name:?}")).collect::<Vec<_>>().join(", "))
        }
        out.push_str("/// The fields `update --clear` resets (`session-update`'s `clear`).\n");
        writeln!(
            out,
            "pub const CLEARABLE_FIELDS: [&str; {}] = {};\n",
            clearable.len(),
            list(clearable.iter().copied())
        )
        .unwrap();
        out.push_str("/// The fields of each session document, in the schema's order.\n");
        for (constant, map) in
            [("SESSION_CREATE_FIELDS", create), ("SESSION_UPDATE_FIELDS", update), ("SESSION_FIELDS", session)]
        {
            writeln!(out, "pub const {constant}: [&str; {}] = {};", map.len(), list(map.keys().map(String::as_str)))
                .unwrap();
        }
        let target = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("cli_fields.rs");
        std::fs::write(&target, out).expect("write cli_fields.rs");
    }

    /// The `type` of a property, as a list.
    fn type_names(property: &Value) -> Vec<String> {
        match &property["type"] {
            Value::String(name) => vec![name.clone()],
            Value::Array(names) => names.iter().filter_map(|n| n.as_str().map(str::to_owned)).collect(),
            _ => Vec::new(),
        }
    }

    /// The Rust type, value name and long flag of a field's flag. A list
    /// takes one value per flag, named in the singular (`--tool TOOL`).
    fn flag_shape(field: &Field) -> (&'static str, String, String) {
        let kebab = field.name.replace('_', "-");
        match field.json_type.as_str() {
            "array" => {
                let singular = kebab.strip_suffix('s').unwrap_or(&kebab).to_owned();
                ("Vec<String>", singular.to_uppercase().replace('-', "_"), singular)
            }
            "integer" => ("Option<i64>", "N".into(), kebab),
            "number" => ("Option<f64>", "NUMBER".into(), kebab),
            "string" if field.name == "id" || field.name.ends_with("_id") => ("Option<String>", "ID".into(), kebab),
            "string" if field.clearable => ("Option<String>", "TEXT".into(), kebab),
            // A text field that is neither an id nor free text (status) is
            // named by itself.
            "string" => ("Option<String>", field.name.to_uppercase(), kebab),
            other => panic!("the CLI has no flag for {} of JSON type {other:?}; teach host/build.rs", field.name),
        }
    }

    /// A field name as a Rust identifier.
    fn ident(name: &str) -> String {
        const KEYWORDS: [&str; 12] =
            ["as", "fn", "for", "if", "impl", "in", "let", "match", "mod", "move", "ref", "type"];
        if KEYWORDS.contains(&name) { format!("r#{name}") } else { name.to_owned() }
    }
}
