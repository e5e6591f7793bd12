//! A keyed collection that remembers which rows changed since the last save.

use std::collections::{BTreeMap, BTreeSet};

use serde::de::DeserializeOwned;
use serde::Serialize;

use protector_core::{Error, Result};

/// Rows of one kind keyed by a string, with change tracking so a save writes only what changed.
///
/// Every mutable access marks the row dirty; reads never do.
#[derive(Debug, Clone)]
pub(crate) struct Table<T> {
    rows: BTreeMap<String, T>,
    dirty: BTreeSet<String>,
    /// Of `dirty`, the rows only marked for saving ([`Table::mark_dirty`]), not changed by a
    /// tracked access since (in memory only).
    marked: BTreeSet<String>,
    /// Tracked changes so far (in memory only): lets derived data notice that rows changed.
    mutations: u64,
    /// Keys changed (tracked) or loaded since the last [`Table::take_touched`], for tables
    /// whose rows feed an index (`crate::state::due`); `None` for the others (in memory only).
    touched: Option<Vec<String>>,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table {
            rows: BTreeMap::new(),
            dirty: BTreeSet::new(),
            marked: BTreeSet::new(),
            mutations: 0,
            touched: None,
        }
    }
}

impl<T> Table<T> {
    /// An empty table that remembers which keys changed for [`Table::take_touched`].
    pub(crate) fn touch_tracked() -> Self {
        Table {
            touched: Some(Vec::new()),
            ..Table::default()
        }
    }

    fn touch(&mut self, key: &str) {
        if let Some(touched) = &mut self.touched {
            touched.push(key.to_string());
        }
    }

    /// The keys changed (tracked) or loaded since the last call, possibly repeated; empty for
    /// a table made without [`Table::touch_tracked`].
    pub(crate) fn take_touched(&mut self) -> Vec<String> {
        self.touched
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    pub(crate) fn get(&self, key: &str) -> Option<&T> {
        self.rows.get(key)
    }

    pub(crate) fn get_mut(&mut self, key: &str) -> Option<&mut T> {
        let row = self.rows.get_mut(key)?;
        self.dirty.insert(key.to_string());
        if !self.marked.is_empty() {
            self.marked.remove(key);
        }
        self.mutations += 1;
        // Fields apart from `rows` (borrowed by `row`), so not `self.touch`.
        if let Some(touched) = &mut self.touched {
            touched.push(key.to_string());
        }
        Some(row)
    }

    /// A row to change without marking it dirty or counting a mutation: only for changes the
    /// store persists another way (the guests' writes, [`crate::writes`]).
    pub(crate) fn get_mut_untracked(&mut self, key: &str) -> Option<&mut T> {
        self.rows.get_mut(key)
    }

    /// Changes the rows with the keys of `updates` untracked (as
    /// [`Table::get_mut_untracked`]), in the order given; `updates` must be in ascending key
    /// order (a key may repeat). Keys without a row are skipped. Many updates cost one walk of
    /// the table instead of a search each.
    pub(crate) fn update_sorted_untracked<'k, X>(
        &mut self,
        updates: impl IntoIterator<Item = (&'k str, X)>,
        mut f: impl FnMut(&mut T, X),
    ) {
        let mut rows = self.rows.iter_mut();
        let Some(mut row) = rows.next() else {
            return;
        };
        for (key, x) in updates {
            while row.0.as_str() < key {
                match rows.next() {
                    Some(next) => row = next,
                    None => return,
                }
            }
            if row.0.as_str() == key {
                f(row.1, x);
            }
        }
    }

    /// Marks row `key` for the next save (a row changed untracked).
    pub(crate) fn mark_dirty(&mut self, key: &str) {
        if !self.dirty.contains(key) {
            self.dirty.insert(key.to_string());
            self.marked.insert(key.to_string());
        }
    }

    /// The keys of the rows changed since the last save (they will be saved).
    pub(crate) fn dirty_keys(&self) -> impl Iterator<Item = &String> {
        self.dirty.iter()
    }

    /// The keys of the rows a tracked access (`get_mut`, `insert`, `remove`) changed since the
    /// last save: [`Table::dirty_keys`] without the rows only marked for saving.
    pub(crate) fn changed_keys(&self) -> impl Iterator<Item = &String> {
        self.dirty.iter().filter(|k| !self.marked.contains(*k))
    }

    /// Whether row `key` changed since the last save (it will be saved).
    pub(crate) fn is_dirty(&self, key: &str) -> bool {
        self.dirty.contains(key)
    }

    /// How many tracked changes (`get_mut`, `insert`, `remove`) this table has seen in memory.
    pub(crate) fn mutations(&self) -> u64 {
        self.mutations
    }

    /// The number of rows.
    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }

    pub(crate) fn contains_key(&self, key: &str) -> bool {
        self.rows.contains_key(key)
    }

    pub(crate) fn insert(&mut self, key: impl Into<String>, row: T) {
        let key = key.into();
        self.dirty.insert(key.clone());
        if !self.marked.is_empty() {
            self.marked.remove(&key);
        }
        self.mutations += 1;
        self.touch(&key);
        self.rows.insert(key, row);
    }

    pub(crate) fn remove(&mut self, key: &str) -> Option<T> {
        let row = self.rows.remove(key)?;
        self.dirty.insert(key.to_string());
        if !self.marked.is_empty() {
            self.marked.remove(key);
        }
        self.mutations += 1;
        self.touch(key);
        Some(row)
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &T> {
        self.rows.values()
    }

    /// Keys of rows matching `pred`, in key order (collect first, then mutate).
    pub(crate) fn keys_where(&self, mut pred: impl FnMut(&T) -> bool) -> Vec<String> {
        self.rows
            .iter()
            .filter(|(_, row)| pred(row))
            .map(|(key, _)| key.clone())
            .collect()
    }

    /// Rows whose key starts with `prefix`, in key order: a range of the ordered map, so it
    /// costs the rows it returns, not the table.
    pub(crate) fn with_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a String, &'a T)> + 'a {
        self.rows
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(move |(key, _)| key.starts_with(prefix))
    }

    /// The first row matching `pred`, in key order.
    pub(crate) fn find(&self, mut pred: impl FnMut(&T) -> bool) -> Option<&T> {
        self.rows.values().find(|row| pred(row))
    }
}

/// A table the store can save and load without knowing its row type.
pub(crate) trait PersistTable {
    /// Rows changed since the last call: `Some(json)` to upsert, `None` to delete.
    fn drain_dirty(&mut self) -> Result<Vec<(String, Option<String>)>>;
    /// Loads one saved row (not marked dirty).
    fn load_row(&mut self, key: String, body: &str) -> Result<()>;
    /// Marks every row dirty (a full save).
    fn mark_all_dirty(&mut self);
    /// Forgets which rows changed (nothing is saved).
    fn forget_dirty(&mut self);
}

impl<T: Serialize + DeserializeOwned> PersistTable for Table<T> {
    fn drain_dirty(&mut self) -> Result<Vec<(String, Option<String>)>> {
        let dirty = std::mem::take(&mut self.dirty);
        self.marked.clear();
        let mut out = Vec::with_capacity(dirty.len());
        for key in dirty {
            let body = match self.rows.get(&key) {
                Some(row) => Some(serde_json::to_string(row).map_err(|e| {
                    Error::unexpected(format!("simulator state row {key} cannot be saved: {e}"))
                })?),
                None => None,
            };
            out.push((key, body));
        }
        Ok(out)
    }

    fn load_row(&mut self, key: String, body: &str) -> Result<()> {
        let row = serde_json::from_str(body).map_err(|e| {
            Error::new(
                protector_core::ErrorKind::ConfigInvalid,
                format!("simulator state row {key} cannot be read ({e}); delete the state file to start over"),
            )
        })?;
        self.touch(&key);
        self.rows.insert(key, row);
        Ok(())
    }

    fn mark_all_dirty(&mut self) {
        // Whatever changed is unknown now: every row counts as changed.
        self.dirty = self.rows.keys().cloned().collect();
        self.marked.clear();
    }

    fn forget_dirty(&mut self) {
        self.dirty.clear();
        self.marked.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sorted updates reach their rows in the order given, skip keys without a row (before,
    /// between and after the rows) and leave the rows unmarked.
    #[test]
    fn sorted_updates_walk_the_rows_once() {
        let mut table: Table<Vec<u32>> = Table::default();
        for key in ["b", "d", "f"] {
            table.insert(key, Vec::new());
        }
        let _ = std::mem::take(&mut table.dirty);
        let mutations = table.mutations();
        table.update_sorted_untracked(
            [("a", 1), ("b", 2), ("b", 3), ("c", 4), ("f", 5), ("g", 6)],
            |row, x| row.push(x),
        );
        assert_eq!(table.get("b"), Some(&vec![2, 3]));
        assert_eq!(table.get("d"), Some(&vec![]));
        assert_eq!(table.get("f"), Some(&vec![5]));
        assert!(!table.contains_key("a") && !table.contains_key("g"));
        assert!(table.dirty.is_empty());
        assert_eq!(table.mutations(), mutations);
    }
}
