//! A volume's written blocks ([`crate::array::diff`]): block index → sequence number of the
//! last write to it, at most [`crate::array::diff::HOT_BLOCKS`] blocks.
//!
//! Every call writes to every running volume (one block each), so this is the simulator's
//! hottest data: held densely (one slot per block up to the highest written, a write is one
//! store), not as a tree (a search through nodes spread over memory per write). It is saved
//! and compared as the map it stands for: `{"block": seq, …}` in block order, as a
//! `BTreeMap<u64, u64>` is, so saved states read the same either way.
//!
//! The slots are shared until written: a snapshot, its replica and a copy hold the volume's
//! map without copying it (the schedules of a 1,000-VM run take tens of thousands of volume
//! snapshots, most of stopped volumes), and the first write after one copies it once.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Blocks a map holds at most (the simulator's guests write to at most
/// [`crate::array::diff::HOT_BLOCKS`]); a saved entry past it is not read back.
const MAX_BLOCKS: u64 = 1 << 16;

/// Block index → sequence number of the last write to it.
#[derive(Clone, Default)]
pub(crate) struct WrittenBlocks {
    /// Slot `b`: the last write to block `b`, if any. No trailing empty slot.
    slots: Arc<Vec<Option<u64>>>,
}

impl WrittenBlocks {
    pub(crate) fn new() -> WrittenBlocks {
        WrittenBlocks::default()
    }

    /// Records `seq` as the last write to `block`.
    pub(crate) fn insert(&mut self, block: u64, seq: u64) {
        if block >= MAX_BLOCKS {
            return;
        }
        let i = block as usize;
        let slots = Arc::make_mut(&mut self.slots);
        if i >= slots.len() {
            slots.resize(i + 1, None);
        }
        slots[i] = Some(seq);
    }

    /// The last write to `block`.
    pub(crate) fn get(&self, block: u64) -> Option<u64> {
        usize::try_from(block)
            .ok()
            .and_then(|i| self.slots.get(i).copied().flatten())
    }

    /// (block, last write), by block.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, seq)| seq.map(|seq| (i as u64, seq)))
    }

    /// The written blocks, ascending.
    pub(crate) fn keys(&self) -> impl Iterator<Item = u64> + '_ {
        self.iter().map(|(block, _)| block)
    }

    /// Keeps the blocks `keep` says yes to.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(u64) -> bool) {
        let dropped: Vec<usize> = self
            .iter()
            .map(|(block, _)| block)
            .filter(|block| !keep(*block))
            .map(|block| block as usize)
            .collect();
        if dropped.is_empty() {
            return;
        }
        let slots = Arc::make_mut(&mut self.slots);
        for i in dropped {
            slots[i] = None;
        }
        while slots.last().is_some_and(Option::is_none) {
            slots.pop();
        }
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    #[cfg(test)]
    pub(crate) fn clear(&mut self) {
        self.slots = Arc::default();
    }
}

impl<const N: usize> From<[(u64, u64); N]> for WrittenBlocks {
    fn from(entries: [(u64, u64); N]) -> WrittenBlocks {
        let mut blocks = WrittenBlocks::new();
        for (block, seq) in entries {
            blocks.insert(block, seq);
        }
        blocks
    }
}

// Slots never end empty, so equal maps have equal slots.
impl PartialEq for WrittenBlocks {
    fn eq(&self, other: &WrittenBlocks) -> bool {
        self.slots == other.slots
    }
}

impl Eq for WrittenBlocks {}

impl fmt::Debug for WrittenBlocks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for WrittenBlocks {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for WrittenBlocks {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<WrittenBlocks, D::Error> {
        let map = BTreeMap::<u64, u64>::deserialize(deserializer)?;
        let mut blocks = WrittenBlocks::new();
        for (block, seq) in map {
            blocks.insert(block, seq);
        }
        Ok(blocks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_reads_saves_and_compares_as_the_map_it_stands_for() {
        let mut blocks = WrittenBlocks::new();
        blocks.insert(3, 30);
        blocks.insert(0, 7);
        blocks.insert(3, 31);
        assert_eq!(blocks.iter().collect::<Vec<_>>(), [(0, 7), (3, 31)]);
        assert_eq!(
            (blocks.get(3), blocks.get(1), blocks.get(99)),
            (Some(31), None, None)
        );
        let saved = serde_json::to_string(&blocks).unwrap();
        let map: BTreeMap<u64, u64> = BTreeMap::from([(0, 7), (3, 31)]);
        assert_eq!(saved, serde_json::to_string(&map).unwrap());
        assert_eq!(
            serde_json::from_str::<WrittenBlocks>(&saved).unwrap(),
            blocks
        );
        // Emptied at the end, it equals the map without those blocks.
        blocks.retain(|b| b < 3);
        assert_eq!(blocks, WrittenBlocks::from([(0, 7)]));
        blocks.retain(|_| false);
        assert!(blocks.is_empty());
        assert_eq!(blocks, WrittenBlocks::new());
    }

    #[test]
    fn a_copy_keeps_its_blocks_when_the_original_is_written_or_cut() {
        let mut volume = WrittenBlocks::from([(0, 1), (2, 2)]);
        let snapshot = volume.clone();
        volume.insert(2, 3);
        volume.insert(5, 4);
        assert_eq!(snapshot, WrittenBlocks::from([(0, 1), (2, 2)]));
        let copy = volume.clone();
        volume.retain(|b| b < 1);
        assert_eq!(volume, WrittenBlocks::from([(0, 1)]));
        assert_eq!(copy, WrittenBlocks::from([(0, 1), (2, 3), (5, 4)]));
    }
}
