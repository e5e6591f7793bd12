//! Volume lineage: where each Cinder volume's data came from when it was created, and the
//! last write it held at that moment. Write numbers are global and a recovered VM keeps
//! writing once it boots, so "the target holds a later write than the source" proves nothing
//! (a copy of an old snapshot passes it); the lineage does: a recovered volume started from
//! its source's last write when it was copied from a snapshot (or pod volume) of that source
//! and held exactly the source's final write when Cinder adopted it.

use serde::{Deserialize, Serialize};

use crate::inspect::Inventory;

/// How a Cinder volume came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineageKind {
    /// `POST /volumes`: a new, empty array volume.
    Created,
    /// `manageable_volumes` / `os-volume-manage`: an existing array volume adopted.
    Managed,
    /// Part of the simulator's seeded inventory.
    Seeded,
}

/// Where a Cinder volume's data came from when it was created, and what it held then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeLineage {
    /// Created, managed or seeded.
    pub kind: LineageKind,
    /// Managed: the array volume adopted, as named before Cinder renamed it.
    #[serde(default)]
    pub array_volume: Option<String>,
    /// When that array volume was made by a copy: the snapshot or volume it was copied from,
    /// as named on its array (a replicated snapshot is `source-array:pg.N.volume`).
    #[serde(default)]
    pub copied_from: Option<String>,
    /// When it was a copy: the volume whose data it holds, as named on its array (a replica's
    /// source is `source-array:volume`; a pod volume is `pod::volume` on every array).
    #[serde(default)]
    pub source_volume: Option<String>,
    /// When it was a copy: the last write the copied snapshot or volume held.
    #[serde(default)]
    pub copied_fingerprint: Option<u64>,
    /// The last write the volume held when Cinder created or adopted it.
    pub fingerprint: u64,
}

/// What the array recorded when a volume was made by copying another volume or a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ArrayCopyRec {
    /// The snapshot or volume copied, as named on the array.
    pub from: String,
    /// The volume whose data it holds (`source` in REST).
    pub source_volume: String,
    /// The last write the copied object held.
    pub fingerprint: u64,
}

impl Inventory {
    /// Checks that Cinder volume `volume_id` on `site` started from the last write of array
    /// volume `source_volume` of `source_site`'s array: it was adopted from a copy of that
    /// volume (or of a snapshot of it) and held exactly the source's current fingerprint
    /// then. Meaningful once the source stopped writing (its VM is off). Returns that
    /// fingerprint, or why the check failed.
    pub fn check_started_from_last_write(
        &self,
        site: &str,
        volume_id: &str,
        source_site: &str,
        source_volume: &str,
    ) -> Result<u64, String> {
        let volume = self
            .sites
            .get(site)
            .and_then(|s| s.volumes.iter().find(|v| v.id == volume_id))
            .ok_or_else(|| format!("volume {volume_id} is not on {site}"))?;
        let source_array = self
            .arrays
            .get(source_site)
            .ok_or_else(|| format!("{source_site} has no array"))?;
        let last_write = source_array
            .volumes
            .iter()
            .find(|v| v.name == source_volume)
            .map(|v| v.fingerprint)
            .ok_or_else(|| {
                format!(
                    "array volume {source_volume} is not on {}",
                    source_array.name
                )
            })?;
        let lineage = volume
            .lineage
            .as_ref()
            .ok_or_else(|| format!("volume {volume_id} on {site} has no recorded lineage"))?;
        let copied = lineage.source_volume.as_deref().unwrap_or_default();
        let replica = format!("{}:{source_volume}", source_array.name);
        if copied != source_volume && copied != replica {
            return Err(format!(
                "volume {volume_id} on {site} was {:?} from {:?}, not from {source_volume} of {}",
                lineage.kind, lineage.copied_from, source_array.name
            ));
        }
        if lineage.fingerprint != last_write {
            return Err(format!(
                "volume {volume_id} on {site} started from write {} (copied from {}), but the last write of {source_volume} on {} is {last_write}: data lost",
                lineage.fingerprint,
                lineage.copied_from.as_deref().unwrap_or("?"),
                source_array.name
            ));
        }
        Ok(last_write)
    }
}
