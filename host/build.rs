//! Builds the session component from `guest/` for wasm32-wasip2 and hands
//! its path to the crate (`AGENT_SESSIONS_COMPONENT`), so the `sessions`
//! binary embeds it and works as a single file.
//!
//! It also precompiles the component for the target (`.cwasm`), so that a
//! process loads native code instead of compiling the component at start.
//!
//! Set `AGENT_SESSIONS_COMPONENT=/path/to/component.wasm` to embed a
//! prebuilt component instead (packaging, or machines without the target).

#[path = "../build-support/component.rs"]
mod component;
#[path = "../build-support/engine.rs"]
mod engine;

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=AGENT_SESSIONS_COMPONENT");
    if let Ok(prebuilt) = env::var("AGENT_SESSIONS_COMPONENT") {
        println!("cargo:rerun-if-changed={prebuilt}");
        println!("cargo:rustc-env=AGENT_SESSIONS_COMPONENT={prebuilt}");
        precompile(std::path::Path::new(&prebuilt));
        return;
    }
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().expect("host/ sits in the workspace root");
    for watched in ["guest/src", "guest/Cargo.toml", "wit", "Cargo.lock", "build-support"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    let wasm = component::build_component(root, "agent-sessions-guest", "agent_sessions_guest", true);
    println!("cargo:rustc-env=AGENT_SESSIONS_COMPONENT={}", wasm.display());
    precompile(&wasm);
}

/// Compiles the component to native code for the target now, so that a
/// process loads it (AGENT_SESSIONS_PRECOMPILED) instead of compiling it on
/// every start. Empty when that is not possible; the host then compiles.
fn precompile(wasm: &std::path::Path) {
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("agent_sessions.cwasm");
    let compiled = (|| -> wasmtime::Result<Vec<u8>> {
        let mut config = engine::compilation_config();
        config.target(&env::var("TARGET")?)?;
        let engine = wasmtime::Engine::new(&config)?;
        engine.precompile_component(&std::fs::read(wasm)?)
    })();
    let bytes = compiled.unwrap_or_else(|e| {
        println!("cargo:warning=could not precompile the component ({e}); it will be compiled at start-up");
        Vec::new()
    });
    std::fs::write(&out, bytes).expect("write the precompiled component");
    println!("cargo:rustc-env=AGENT_SESSIONS_PRECOMPILED={}", out.display());
}
