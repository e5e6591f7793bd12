//! Helpers the SQLite store's own tests share (records: `store::fixtures`).

use std::path::Path;

pub(super) use crate::store::fixtures::*;

use super::*;

pub(super) fn store() -> SqliteStore {
    SqliteStore::in_memory(key(1)).unwrap()
}

/// Every byte SQLite wrote for the store in `dir`: database, WAL and shared memory files.
pub(super) fn bytes_on_disk(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            all.extend(std::fs::read(path).unwrap());
        }
    }
    all
}

pub(super) fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}
