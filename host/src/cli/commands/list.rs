//! `sessions list`: a page of every session, or (`--app-name`) of an
//! owner's sessions.

use clap::Args;

use super::Context;
use crate::cli::exit_code::Finding;
use crate::cli::{Failure, output};

/// List sessions, newest first (with --app-name, an owner's sessions).
///
/// With --app-name, the sessions created with that owner, most recently
/// updated first, from the owner index.
#[derive(Debug, Args)]
pub struct List {
    /// Sessions per page (0 to 1000; 1 to 1000 with --app-name).
    #[arg(long, default_value_t = 10)]
    limit: u32,
    /// Sessions to skip (costs O(offset); see --page-token).
    #[arg(long, default_value_t = 0, conflicts_with_all = ["page_token", "app_name"])]
    offset: u64,
    /// Continue after the page that printed this token (its
    /// `next_page_token`): stable while sessions are added, and as cheap
    /// deep in the list as at its start.
    #[arg(long)]
    page_token: Option<String>,
    /// List the sessions of this app (created with --app-name), most
    /// recently updated first, from its owner index.
    #[arg(long, value_name = "APP")]
    app_name: Option<String>,
    /// Only this user's sessions of the app (default: every user's).
    #[arg(long, value_name = "USER", requires = "app_name")]
    user_id: Option<String>,
}

impl List {
    pub async fn run(self, context: &Context) -> Result<Finding, Failure> {
        let store = &context.store;
        if let Some(app_name) = &self.app_name {
            let user_id = self.user_id.as_deref().unwrap_or("");
            let page =
                store.list_by_owner(app_name, user_id, self.limit, self.page_token.as_deref().unwrap_or("")).await?;
            context.show_pretty(&page, || output::owner_page_text(&page));
            return Ok(if page.corrupt.is_empty() { Finding::Done } else { Finding::UnreadableEntries });
        }
        let page = match &self.page_token {
            Some(token) => store.list_after(self.limit, token).await?,
            None => store.list(self.limit, self.offset).await?,
        };
        context.show(output::document(&page), output::page_text(&page, self.page_token.is_some()));
        Ok(if page.corrupt.is_empty() { Finding::Done } else { Finding::UnreadableEntries })
    }
}
