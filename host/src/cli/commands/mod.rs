//! One file per command: its flags (a clap `Args` struct whose doc comment
//! is the command's help) and its `run`.

use super::Failure;
use super::exit_code::Finding;

/// Declares each command once: its module, its variant of [`Command`]
/// (the clap subcommand, named after the variant) and its dispatch.
macro_rules! commands {
    ($($module:ident :: $command:ident),* $(,)?) => {
        $(pub mod $module;)*

        // Each command's help is its struct's doc comment, in its file.
        #[derive(Debug, clap::Subcommand)]
        pub enum Command {
            $($command($module::$command),)*
        }

        impl Command {
            /// Runs the command.
            pub async fn run(self, context: &Context) -> Result<Finding, Failure> {
                match self {
                    $(Command::$command(command) => command.run(context).await,)*
                }
            }
        }
    };
}

// In the order `sessions --help` lists them.
commands! {
    create::Create,
    get::Get,
    update::Update,
    delete::Delete,
    list::List,
    extend::Extend,
    items::Items,
    add_items::AddItems,
    pop_item::PopItem,
    clear_items::ClearItems,
    count_items::CountItems,
    cleanup::Cleanup,
    reindex::Reindex,
    stats::Stats,
    export::Export,
    import::Import,
    migrate::Migrate,
    health::Health,
    serve::Serve,
    demo::Demo,
}

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
