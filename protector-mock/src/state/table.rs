//! A keyed collection that remembers which rows changed since the last save.

use std::collections::{BTreeMap, BTreeSet};

use serde::de::DeserializeOwned;
use serde::Serialize;

use protector_core::{Error, Result};

/// Rows of one kind keyed by a string, with change tracking so a save writes only what changed.
///
/// Every mutable access marks the row dirty; reads never do. Rows live in slots that stay
/// theirs while they exist ([`Slot`]): code that updates the same rows again and again (the
/// guests' writes, [`crate::writes`]) reaches them without a search by key.
#[derive(Debug, Clone)]
pub(crate) struct Table<T> {
    /// Key → slot, in key order.
    index: BTreeMap<String, u32>,
    /// The rows by slot; `None` for a free slot.
    slots: Vec<Option<T>>,
    /// How many times each slot was freed: a [`Slot`] taken before is stale.
    generations: Vec<u32>,
    /// Free slots, reused last freed first.
    free: Vec<u32>,
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
            index: BTreeMap::new(),
            slots: Vec::new(),
            generations: Vec::new(),
            free: Vec::new(),
            dirty: BTreeSet::new(),
            marked: BTreeSet::new(),
            mutations: 0,
            touched: None,
        }
    }
}

/// Where a row lives in its [`Table`] (while it exists: a slot freed and reused is another
/// row's, and the slot taken before no longer reaches it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slot {
    index: u32,
    generation: u32,
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

    fn row(&self, slot: u32) -> Option<&T> {
        self.slots.get(slot as usize).and_then(Option::as_ref)
    }

    fn row_mut(&mut self, slot: u32) -> Option<&mut T> {
        self.slots.get_mut(slot as usize).and_then(Option::as_mut)
    }

    pub(crate) fn get(&self, key: &str) -> Option<&T> {
        self.row(*self.index.get(key)?)
    }

    pub(crate) fn get_mut(&mut self, key: &str) -> Option<&mut T> {
        let slot = *self.index.get(key)?;
        self.dirty.insert(key.to_string());
        if !self.marked.is_empty() {
            self.marked.remove(key);
        }
        self.mutations += 1;
        self.touch(key);
        self.row_mut(slot)
    }

    /// A row to change without marking it dirty or counting a mutation: only for changes the
    /// store persists another way (the guests' writes, [`crate::writes`]).
    pub(crate) fn get_mut_untracked(&mut self, key: &str) -> Option<&mut T> {
        let slot = *self.index.get(key)?;
        self.row_mut(slot)
    }

    /// Row `key` and its slot, if it exists.
    pub(crate) fn get_with_slot(&self, key: &str) -> Option<(Slot, &T)> {
        let index = *self.index.get(key)?;
        let slot = Slot {
            index,
            generation: self.generations[index as usize],
        };
        Some((slot, self.row(index)?))
    }

    /// The row in `slot` to change untracked (as [`Table::get_mut_untracked`]); `None` when
    /// the row it was taken from is gone.
    pub(crate) fn get_slot_mut_untracked(&mut self, slot: Slot) -> Option<&mut T> {
        if self.generations.get(slot.index as usize) != Some(&slot.generation) {
            return None;
        }
        self.row_mut(slot.index)
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
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    pub(crate) fn contains_key(&self, key: &str) -> bool {
        self.index.contains_key(key)
    }

    /// Puts `row` at `key`: in the slot of the row it replaces, or a free one.
    fn put(&mut self, key: String, row: T) {
        if let Some(slot) = self.index.get(&key) {
            self.slots[*slot as usize] = Some(row);
            return;
        }
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(row);
                slot
            }
            None => {
                self.slots.push(Some(row));
                self.generations.push(0);
                (self.slots.len() - 1) as u32
            }
        };
        self.index.insert(key, slot);
    }

    pub(crate) fn insert(&mut self, key: impl Into<String>, row: T) {
        let key = key.into();
        self.dirty.insert(key.clone());
        if !self.marked.is_empty() {
            self.marked.remove(&key);
        }
        self.mutations += 1;
        self.touch(&key);
        self.put(key, row);
    }

    pub(crate) fn remove(&mut self, key: &str) -> Option<T> {
        let slot = self.index.remove(key)?;
        let row = self.slots[slot as usize].take()?;
        self.generations[slot as usize] = self.generations[slot as usize].wrapping_add(1);
        self.free.push(slot);
        self.dirty.insert(key.to_string());
        if !self.marked.is_empty() {
            self.marked.remove(key);
        }
        self.mutations += 1;
        self.touch(key);
        Some(row)
    }

    /// The rows in key order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &T> {
        self.index.values().filter_map(|slot| self.row(*slot))
    }

    /// Keys of rows matching `pred`, in key order (collect first, then mutate).
    pub(crate) fn keys_where(&self, mut pred: impl FnMut(&T) -> bool) -> Vec<String> {
        self.index
            .iter()
            .filter(|(_, slot)| self.row(**slot).is_some_and(&mut pred))
            .map(|(key, _)| key.clone())
            .collect()
    }

    /// Rows whose key starts with `prefix`, in key order: a range of the ordered map, so it
    /// costs the rows it returns, not the table.
    pub(crate) fn with_prefix<'a, 'p>(
        &'a self,
        prefix: &'p str,
    ) -> impl Iterator<Item = (&'a String, &'a T)> + 'p
    where
        'a: 'p,
    {
        self.index
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(move |(key, _)| key.starts_with(prefix))
            .filter_map(|(key, slot)| Some((key, self.row(*slot)?)))
    }

    /// The first row matching `pred`, in key order.
    pub(crate) fn find(&self, mut pred: impl FnMut(&T) -> bool) -> Option<&T> {
        self.values().find(|row| pred(row))
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
            let body = match self.get(&key) {
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
        self.put(key, row);
        Ok(())
    }

    fn mark_all_dirty(&mut self) {
        // Whatever changed is unknown now: every row counts as changed.
        self.dirty = self.index.keys().cloned().collect();
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

    /// A row keeps its slot while it exists, through changes and an overwrite; once it is
    /// removed the slot no longer reaches anything, even when another row reuses it.
    #[test]
    fn a_slot_reaches_its_row_while_it_exists() {
        let mut table: Table<Vec<u32>> = Table::default();
        for key in ["b", "d", "f"] {
            table.insert(key, Vec::new());
        }
        let (d, _) = table.get_with_slot("d").unwrap();
        table.get_mut("d").unwrap().push(1);
        table.insert("d", vec![2]);
        table.insert("a", Vec::new());
        table.get_slot_mut_untracked(d).unwrap().push(3);
        assert_eq!(table.get("d"), Some(&vec![2, 3]));
        assert_eq!(table.remove("d"), Some(vec![2, 3]));
        assert_eq!(table.get_slot_mut_untracked(d), None);
        table.insert("c", vec![4]);
        assert_eq!(table.get_slot_mut_untracked(d), None, "the slot went to c");
        assert_eq!(
            table.values().collect::<Vec<_>>(),
            [&vec![], &vec![], &vec![4], &vec![]]
        );
        assert_eq!(
            table
                .with_prefix("c")
                .map(|(k, _)| k.as_str())
                .collect::<Vec<_>>(),
            ["c"]
        );
        assert_eq!(table.len(), 4);
    }
}
