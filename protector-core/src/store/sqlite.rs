//! Placeholder: replaced by the SQLite store.

/// SQLite store.
#[derive(Debug)]
pub struct SqliteStore;
