//! One file per command: its flags (a clap `Args` struct whose doc comment
//! is the command's help) and its `run`.

pub mod add_items;
pub mod cleanup;
pub mod clear_items;
pub mod count_items;
pub mod create;
pub mod delete;
pub mod demo;
pub mod export;
pub mod extend;
pub mod get;
pub mod health;
pub mod import;
pub mod items;
pub mod list;
pub mod migrate;
pub mod pop_item;
pub mod reindex;
pub mod serve;
pub mod stats;
pub mod update;

use std::path::PathBuf;

use agent_sessions_host::SessionStore;
use serde_json::Value;

use super::output;

/// What every command runs with besides its own flags.
pub struct Context {
    pub store: SessionStore,
    /// `--json`: print one JSON document instead of text.
    pub json: bool,
    /// `--component`, when the store runs another component than the embedded one.
    pub component: Option<PathBuf>,
}

impl Context {
    /// Prints `value` with `--json`, else `text`.
    pub fn show(&self, value: Value, text: String) {
        if self.json {
            output::print_json(&value);
        } else {
            out!("{text}");
        }
    }

    /// Prints `value` as indented JSON straight from the value (keeping
    /// stored JSON texts as they are) with `--json`, else `text`.
    pub fn show_pretty<T: serde::Serialize>(&self, value: &T, text: impl FnOnce() -> String) {
        if self.json {
            outln!("{}", output::pretty(value));
        } else {
            out!("{}", text());
        }
    }
}
