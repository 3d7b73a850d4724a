//! One file per repository operation.

mod cleanup;
mod create;
mod delete;
mod extend;
mod get;
mod guard;
mod items;
mod layout;
mod lease;
mod list;
mod migrate;
mod owner;
mod reindex;
mod stats;
mod transfer;
mod update;
