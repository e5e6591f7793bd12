//! What each write changes, and how two volumes or snapshots differ (`GET /volumes/diff`).
//!
//! A simulated write changes one [`WRITE_BLOCK_BYTES`] block, chosen from the write's sequence
//! number: block `seq % hot_blocks`, where a volume's hot blocks are its first
//! [`HOT_BLOCKS`] blocks (fewer on a small volume). Guests keep rewriting the same places
//! (logs, database pages), and a bounded set keeps every record small: each volume and each
//! volume snapshot carries a map block → sequence number of the last write to it, at most
//! [`HOT_BLOCKS`] entries. Snapshots, replication and copies carry the map with the
//! fingerprint, so two objects hold the same data in a block exactly when their maps agree
//! there, and the diff is the blocks where they do not.
//!
//! States saved before writes were tracked have empty maps: their earlier writes show in the
//! fingerprints only and count as no change.

use protector_core::{Error, Result};

use crate::state::records::{array_key, ArrayVolumeRec};
use crate::state::World;

/// Bytes one simulated write changes.
pub(crate) const WRITE_BLOCK_BYTES: u64 = 4 << 20;

/// The most blocks of one volume that writes reach (1 GiB of 4 MiB blocks).
pub(crate) const HOT_BLOCKS: u64 = 256;

pub(crate) use crate::state::blocks::WrittenBlocks;

fn block_count(provisioned: u64) -> u64 {
    provisioned.div_ceil(WRITE_BLOCK_BYTES)
}

/// Records write `seq` on `volume`: its fingerprint and the block it changes.
pub(crate) fn record_write(volume: &mut ArrayVolumeRec, seq: u64) {
    volume.fingerprint = seq;
    let hot = block_count(volume.provisioned_bytes).min(HOT_BLOCKS);
    if hot > 0 {
        volume.written_blocks.insert(seq % hot, seq);
    }
}

/// Drops what a shrink to `provisioned` bytes cut off.
pub(crate) fn truncate(volume: &mut ArrayVolumeRec, provisioned: u64) {
    let count = block_count(provisioned);
    volume.written_blocks.retain(|block| block < count);
}

/// The extents (offset, length) of an object of `provisioned` bytes holding `data` that
/// differ from `base`, in offset order, one per block, the last one clipped to the size.
pub(crate) fn extents(
    data: &WrittenBlocks,
    provisioned: u64,
    base: &WrittenBlocks,
) -> Vec<(u64, u64)> {
    let count = block_count(provisioned);
    let mut blocks: Vec<u64> = data
        .keys()
        .chain(base.keys())
        .filter(|b| *b < count && data.get(*b) != base.get(*b))
        .collect();
    blocks.sort_unstable();
    blocks.dedup();
    blocks
        .into_iter()
        .map(|b| {
            let offset = b * WRITE_BLOCK_BYTES;
            (offset, WRITE_BLOCK_BYTES.min(provisioned - offset))
        })
        .collect()
}

/// The size and written blocks of a volume or volume snapshot of `array`. `NotFound` when
/// neither exists; `Conflict` for a replicated snapshot still in transfer (its data has not
/// all arrived).
pub(crate) fn resolve<'a>(
    world: &'a World,
    array: &str,
    name: &str,
) -> Result<(u64, &'a WrittenBlocks)> {
    if let Some(v) = world.array_volumes.get(&array_key(array, name)) {
        return Ok((v.provisioned_bytes, &v.written_blocks));
    }
    if let Some(snap) = world.volume_snapshots.get(&array_key(array, name)) {
        let in_flight = world
            .pg_snapshots
            .get(&array_key(array, &snap.pg_snapshot))
            .and_then(|pg| pg.transfer.as_ref())
            .is_some_and(|t| t.completed.is_none());
        if in_flight {
            return Err(Error::conflict(format!(
                "Snapshot {name} is still being replicated; wait until its transfer completes."
            )));
        }
        return Ok((snap.provisioned_bytes, &snap.written_blocks));
    }
    Err(Error::not_found(format!(
        "Volume or snapshot {name} does not exist."
    )))
}

/// `GET /volumes/diff?names=&base_name=` over the whole of `name`: the extents that differ
/// from `base`.
pub(crate) fn diff(world: &World, array: &str, name: &str, base: &str) -> Result<Vec<(u64, u64)>> {
    let (provisioned, data) = resolve(world, array, name)?;
    let (_, base) = resolve(world, array, base)?;
    Ok(extents(data, provisioned, base))
}

/// Bytes of `name` that differ from `base`.
pub(crate) fn changed_bytes(world: &World, array: &str, name: &str, base: &str) -> Result<u64> {
    Ok(diff(world, array, name, base)?
        .iter()
        .map(|(_, length)| length)
        .sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extents_are_the_blocks_whose_last_write_differs() {
        let data = WrittenBlocks::from([(0, 7), (1, 9), (3, 4)]);
        let base = WrittenBlocks::from([(0, 7), (1, 5), (2, 6)]);
        let size = 3 * WRITE_BLOCK_BYTES + 512;
        assert_eq!(
            extents(&data, size, &base),
            vec![
                (WRITE_BLOCK_BYTES, WRITE_BLOCK_BYTES),
                (2 * WRITE_BLOCK_BYTES, WRITE_BLOCK_BYTES),
                (3 * WRITE_BLOCK_BYTES, 512),
            ]
        );
        assert!(extents(&data, size, &data).is_empty());
        // Past the end of the volume nothing counts.
        assert_eq!(extents(&data, WRITE_BLOCK_BYTES, &base), vec![]);
    }
}
