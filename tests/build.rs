//! Builds the hostile test component (`tests/hostile-guest`) for the
//! sandbox tests: `HOSTILE_COMPONENT` is its path.

#[path = "../build-support/component.rs"]
mod component;

use std::env;
use std::path::PathBuf;

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().expect("tests/ sits in the workspace root");
    for watched in ["tests/hostile-guest", "wit", "Cargo.lock", "build-support"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    let wasm = component::build_component(root, "hostile-guest", "hostile_guest", false);
    println!("cargo:rustc-env=HOSTILE_COMPONENT={}", wasm.display());
}
