//! Shared by the build scripts that build a workspace crate as a
//! wasm32-wasip2 component (`host/build.rs`, `tests/build.rs`).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

pub const TARGET: &str = "wasm32-wasip2";

/// Builds `package` (whose library is `lib_name`) for wasm32-wasip2 in
/// release mode and returns the `.wasm` path. `root` is the workspace root.
// host/build.rs builds its two components with `build_components`.
#[allow(dead_code)]
pub fn build_component(root: &Path, package: &str, lib_name: &str, lto: bool) -> PathBuf {
    build_components(root, &[(package, lib_name)], lto).remove(0)
}

/// Builds several `(package, lib_name)` components in one cargo run, so
/// that the dependencies they share are compiled once, and returns their
/// `.wasm` paths in the same order.
pub fn build_components(root: &Path, packages: &[(&str, &str)], lto: bool) -> Vec<PathBuf> {
    // A target directory of its own: the outer cargo holds the lock on the
    // main one while build scripts run.
    let target_dir =
        env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target")).join("component");
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(root)
        .arg("build")
        .args(packages.iter().flat_map(|(package, _)| ["--package", package]))
        .args(["--lib", "--release", "--target", TARGET])
        .arg("--target-dir")
        .arg(&target_dir);
    if lto {
        // The component is small and hot: whole-program optimisation pays
        // off there, while the host's own release build stays quick.
        command.args(["--config", "profile.release.lto=true", "--config", "profile.release.codegen-units=1"]);
    }
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
    let names: Vec<&str> = packages.iter().map(|(package, _)| *package).collect();
    let names = names.join(", ");
    let status = command.status().unwrap_or_else(|e| panic!("could not run cargo to build {names}: {e}"));
    if !status.success() {
        panic!(
            "building the {names} component(s) failed (see above). If the {TARGET} target is missing, \
             install it with `rustup target add {TARGET}` (or `make setup`)."
        );
    }
    packages
        .iter()
        .map(|(_, lib_name)| {
            let wasm = target_dir.join(TARGET).join("release").join(format!("{lib_name}.wasm"));
            assert!(wasm.exists(), "the component build produced no {}", wasm.display());
            wasm
        })
        .collect()
}
