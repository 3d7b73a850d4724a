//! The owner the conversation commands may name: a session of another
//! owner is not found to them (exit 3).

use agent_sessions_host::conversation::Owner;
use clap::Args;

/// `--app-name` and `--user-id` of the items commands.
#[derive(Debug, Clone, Args, Default)]
pub struct OwnerFlags {
    /// Only if the session belongs to this app (with --user-id); a session
    /// of another owner is not found (exit 3).
    #[arg(long, value_name = "APP", requires = "user_id")]
    pub app_name: Option<String>,
    /// Only if the session belongs to this user (with --app-name).
    #[arg(long, value_name = "USER", requires = "app_name")]
    pub user_id: Option<String>,
}

impl OwnerFlags {
    /// The owner the flags name (clap makes them come in pairs).
    pub fn owner(&self) -> Option<Owner> {
        match (&self.app_name, &self.user_id) {
            (Some(app_name), Some(user_id)) => Some(Owner { app_name: app_name.clone(), user_id: user_id.clone() }),
            _ => None,
        }
    }
}
