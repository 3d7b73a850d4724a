//! The one `bindgen!` of the host: Rust types and traits for the
//! `session-store` world in `wit/`. Imports are async so that `kv` can await
//! Redis while the guest sees an ordinary blocking call.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "session-store",
    // Settings are answered from memory: a plain call, no async machinery.
    imports: {
        "agent:sessions/config.get-settings": trappable,
        default: async | trappable,
    },
    exports: { default: async },
});

pub use agent::sessions::config::Settings as WitSettings;
pub use agent::sessions::kv as wit_kv;
pub use agent::sessions::types as wit_types;
