//! Builds the session component from `guest/` for wasm32-wasip2 and hands
//! its path to the crate (`AGENT_SESSIONS_COMPONENT`), so the `sessions`
//! binary embeds it and works as a single file.
//!
//! Set `AGENT_SESSIONS_COMPONENT=/path/to/component.wasm` to embed a
//! prebuilt component instead (packaging, or machines without the target).

#[path = "../build-support/component.rs"]
mod component;

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=AGENT_SESSIONS_COMPONENT");
    if let Ok(prebuilt) = env::var("AGENT_SESSIONS_COMPONENT") {
        println!("cargo:rerun-if-changed={prebuilt}");
        println!("cargo:rustc-env=AGENT_SESSIONS_COMPONENT={prebuilt}");
        return;
    }
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().expect("host/ sits in the workspace root");
    for watched in ["guest/src", "guest/Cargo.toml", "wit", "Cargo.lock", "build-support"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    let wasm = component::build_component(root, "agent-sessions-guest", "agent_sessions_guest", true);
    println!("cargo:rustc-env=AGENT_SESSIONS_COMPONENT={}", wasm.display());
}
