//! The repository as the HTTP mapping sees it: the functions of
//! `interface repository` it calls, with documents as JSON text. The
//! component implements it with the wit-bindgen imports; unit tests of the
//! HTTP mapping implement it with a fake.

/// How storage failed (`storage-error-kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageKind {
    Unavailable,
    Timeout,
    WrongType,
    InvalidBatch,
    Other,
}

/// `session-error`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RepoError {
    InvalidInput(String),
    NotFound(String),
    Conflict(String),
    DataCorrupt(String),
    Backend(StorageKind, String),
}

pub type RepoResult<T> = Result<T, RepoError>;

/// The imported functions, named as in the WIT.
pub trait Repository {
    fn create(&self, input: &str) -> RepoResult<String>;
    fn get(&self, id: &str) -> RepoResult<String>;
    fn update(&self, id: &str, changes: &str) -> RepoResult<String>;
    fn delete(&self, id: &str) -> RepoResult<bool>;
    fn list(&self, limit: u32, offset: u64, page_token: &str) -> RepoResult<String>;
    fn extend_ttl(&self, id: &str) -> RepoResult<bool>;
    fn cleanup_expired(&self) -> RepoResult<String>;
    fn check_layout(&self) -> RepoResult<u32>;
    fn stats(&self, cursor: &str, so_far: &str) -> RepoResult<String>;
    fn append_items(&self, id: &str, request: &str) -> RepoResult<String>;
    fn get_items(&self, id: &str, query: &str) -> RepoResult<String>;
    fn pop_item(&self, id: &str, options: &str) -> RepoResult<String>;
    fn clear_items(&self, id: &str, options: &str) -> RepoResult<String>;
    fn list_by_owner(&self, app_name: &str, user_id: &str, limit: u32, page_token: &str) -> RepoResult<String>;
    fn delete_with(&self, id: &str, options: &str) -> RepoResult<bool>;
}
