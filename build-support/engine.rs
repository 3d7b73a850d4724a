//! The wasmtime compilation settings, shared by `host/build.rs` (which
//! precompiles the component) and the runtime (which loads it): a
//! precompiled component only loads into an engine with the same settings.

pub fn compilation_config() -> wasmtime::Config {
    let mut config = wasmtime::Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config
}
