//! The wit-bindgen layer (wasm32 only): the `kv` and `config` exports over
//! one [`RedisKv`] per instance, configured from the environment on the
//! first call.

use std::cell::RefCell;

use agent_sessions_kv::{ErrorKind, KvError};

use crate::config::{Config, Settings};
use crate::redis_kv::RedisKv;

wit_bindgen::generate!({
    path: "../../wit",
    world: "kv-redis",
});

use exports::agent::sessions::types::{StorageErrorKind, StorageFailure};
use exports::agent::sessions::{config, kv};

struct Component;

export!(Component);

/// The instance's settings and adapter. A component instance runs one call
/// at a time on one thread; the connection lives as long as the instance.
struct State {
    settings: Settings,
    kv: RedisKv,
}

thread_local! {
    static STATE: RefCell<Option<State>> = const { RefCell::new(None) };
}

fn with_state<T>(f: impl FnOnce(&mut State) -> T) -> T {
    STATE.with(|state| {
        let mut state = state.borrow_mut();
        let state = state.get_or_insert_with(|| match Config::from_vars(std::env::vars()) {
            Ok(config) => State { settings: config.settings, kv: RedisKv::new(&config) },
            // The guest gets working defaults and every kv call fails with
            // the message naming the variable, so the error reaches the caller.
            Err(message) => State { settings: Settings::default(), kv: RedisKv::misconfigured(message) },
        });
        f(state)
    })
}

fn failure(error: KvError) -> StorageFailure {
    let kind = match error.kind {
        ErrorKind::Unavailable => StorageErrorKind::Unavailable,
        ErrorKind::Timeout => StorageErrorKind::Timeout,
        ErrorKind::WrongType => StorageErrorKind::WrongType,
        ErrorKind::InvalidBatch => StorageErrorKind::InvalidBatch,
        ErrorKind::Other => StorageErrorKind::Other,
    };
    StorageFailure { kind, message: error.message }
}

impl kv::Guest for Component {
    fn execute(keys: String, batch: String) -> Result<String, StorageFailure> {
        with_state(|state| state.kv.execute(&keys, &batch)).map_err(failure)
    }

    fn execute_each(keys: String, batches: String) -> Result<String, StorageFailure> {
        with_state(|state| state.kv.execute_each(&keys, &batches)).map_err(failure)
    }
}

impl config::Guest for Component {
    fn get_settings() -> config::Settings {
        let settings = with_state(|state| state.settings);
        config::Settings {
            session_ttl_seconds: settings.session_ttl_seconds,
            grace_seconds: settings.grace_seconds,
            batch_size: settings.batch_size,
            shards: settings.shards,
        }
    }
}
