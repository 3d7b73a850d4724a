//! Builds the session component from `guest/` for wasm32-wasip2 and hands
//! its path to the crate (`AGENT_SESSIONS_COMPONENT`), so the `sessions`
//! binary embeds it and works as a single file.
//!
//! Set `AGENT_SESSIONS_COMPONENT=/path/to/component.wasm` to embed a
//! prebuilt component instead (packaging, or machines without the target).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";

fn main() {
    println!("cargo:rerun-if-env-changed=AGENT_SESSIONS_COMPONENT");
    if let Ok(prebuilt) = env::var("AGENT_SESSIONS_COMPONENT") {
        println!("cargo:rerun-if-changed={prebuilt}");
        println!("cargo:rustc-env=AGENT_SESSIONS_COMPONENT={prebuilt}");
        return;
    }

    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().expect("host/ sits in the workspace root");
    for watched in ["guest/src", "guest/Cargo.toml", "wit", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }

    // A target directory of its own: the outer cargo holds the lock on the
    // main one while build scripts run.
    let target_dir =
        env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target")).join("component");
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(root)
        .args(["build", "--package", "agent-sessions-guest", "--lib", "--release", "--target", TARGET])
        // The component is small and hot: whole-program optimisation pays
        // off there, while the host's own release build stays quick.
        .args(["--config", "profile.release.lto=true", "--config", "profile.release.codegen-units=1"])
        .arg("--target-dir")
        .arg(&target_dir);
    // What the outer build set for the host must not leak into the wasm
    // build (clippy's wrapper, host RUSTFLAGS, the jobserver of a make -j).
    for variable in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "CARGO_MAKEFLAGS",
        "CLIPPY_ARGS",
    ] {
        command.env_remove(variable);
    }
    let status = command.status().unwrap_or_else(|e| panic!("could not run cargo to build the component: {e}"));
    if !status.success() {
        panic!(
            "building the session component failed (see above). If the {TARGET} target is missing, \
             install it with `rustup target add {TARGET}` (or `make setup`)."
        );
    }

    let wasm = target_dir.join(TARGET).join("release").join("agent_sessions_guest.wasm");
    assert!(Path::new(&wasm).exists(), "the component build produced no {}", wasm.display());
    println!("cargo:rustc-env=AGENT_SESSIONS_COMPONENT={}", wasm.display());
}
