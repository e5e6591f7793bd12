//! The array's JSON items, as far as protector reads them, and their conversion to core types.
//! Unknown fields are ignored; fields the array may leave out or send as `null` are optional.

use chrono::{DateTime, Utc};
use protector_core::api::{
    ArrayConnection, ArrayInfo, ArrayVolume, PgSnapshot, PgSnapshotTransfer, Pod, PodArray,
    VolumeSnapshot,
};
use serde::Deserialize;

/// A `{id, name}` reference.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Reference {
    #[serde(default)]
    pub(crate) name: Option<String>,
}

impl Reference {
    fn name(reference: &Option<Reference>) -> Option<String> {
        reference
            .as_ref()
            .and_then(|r| r.name.clone())
            .filter(|n| !n.is_empty())
    }
}

/// Milliseconds since the epoch; the epoch itself when missing or out of range.
pub(crate) fn time(ms: Option<i64>) -> DateTime<Utc> {
    ms.and_then(DateTime::from_timestamp_millis)
        .unwrap_or(DateTime::UNIX_EPOCH)
}

/// `GET /arrays` item.
#[derive(Debug, Deserialize)]
pub(crate) struct WireArray {
    #[serde(default)]
    id: Option<String>,
    name: String,
    #[serde(default)]
    version: Option<String>,
    /// The array's clock when it answered, in milliseconds since the epoch.
    #[serde(default, rename = "_as_of")]
    as_of: Option<i64>,
}

impl From<WireArray> for ArrayInfo {
    fn from(a: WireArray) -> Self {
        ArrayInfo {
            id: a.id.unwrap_or_default(),
            name: a.name,
            version: a.version.unwrap_or_default(),
            as_of: a.as_of.and_then(DateTime::from_timestamp_millis),
        }
    }
}

/// `GET /array-connections` item. The peer's name is `remote.name` (REST 2.x); older answers
/// carry it as `name` only.
#[derive(Debug, Deserialize)]
pub(crate) struct WireArrayConnection {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    remote: Option<Reference>,
    #[serde(default)]
    status: Option<String>,
}

impl From<WireArrayConnection> for ArrayConnection {
    fn from(c: WireArrayConnection) -> Self {
        ArrayConnection {
            name: Reference::name(&c.remote).or(c.name).unwrap_or_default(),
            status: c.status.unwrap_or_default(),
        }
    }
}

/// `GET /volumes` item.
#[derive(Debug, Deserialize)]
pub(crate) struct WireVolume {
    name: String,
    #[serde(default)]
    provisioned: Option<u64>,
    #[serde(default)]
    serial: Option<String>,
    #[serde(default)]
    destroyed: Option<bool>,
    #[serde(default)]
    pod: Option<Reference>,
    #[serde(default)]
    created: Option<i64>,
}

impl From<WireVolume> for ArrayVolume {
    fn from(v: WireVolume) -> Self {
        ArrayVolume {
            pod: Reference::name(&v.pod),
            name: v.name,
            provisioned_bytes: v.provisioned.unwrap_or(0),
            serial: v.serial.unwrap_or_default(),
            destroyed: v.destroyed.unwrap_or(false),
            created: time(v.created),
        }
    }
}

/// `replication_schedule` of a protection group.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct WireSchedule {
    #[serde(default)]
    pub(crate) enabled: Option<bool>,
    /// Milliseconds.
    #[serde(default)]
    pub(crate) frequency: Option<u64>,
}

/// `GET /protection-groups` item.
#[derive(Debug, Deserialize)]
pub(crate) struct WireProtectionGroup {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) source: Option<Reference>,
    #[serde(default)]
    pub(crate) destroyed: Option<bool>,
    #[serde(default)]
    pub(crate) is_local: Option<bool>,
    #[serde(default)]
    pub(crate) replication_schedule: Option<WireSchedule>,
}

impl WireProtectionGroup {
    /// The owning array: `source.name`, else the prefix of a replica's name (`src:pg`).
    pub(crate) fn source_name(&self) -> String {
        Reference::name(&self.source).unwrap_or_else(|| match self.name.split_once(':') {
            Some((source, rest)) if !rest.starts_with(':') => source.to_string(),
            _ => String::new(),
        })
    }
}

/// `GET /protection-groups/volumes` item.
#[derive(Debug, Deserialize)]
pub(crate) struct WireMembership {
    #[serde(default)]
    pub(crate) member: Option<Reference>,
}

impl WireMembership {
    pub(crate) fn member_name(&self) -> Option<String> {
        Reference::name(&self.member)
    }
}

/// `GET /protection-groups/targets` item.
#[derive(Debug, Deserialize)]
pub(crate) struct WireTarget {
    #[serde(default)]
    pub(crate) member: Option<Reference>,
    #[serde(default)]
    pub(crate) allowed: Option<bool>,
}

impl WireTarget {
    pub(crate) fn member_name(&self) -> Option<String> {
        Reference::name(&self.member)
    }
}

/// `GET|POST /protection-group-snapshots` item.
#[derive(Debug, Deserialize)]
pub(crate) struct WirePgSnapshot {
    name: String,
    #[serde(default)]
    source: Option<Reference>,
    #[serde(default)]
    created: Option<i64>,
    #[serde(default)]
    destroyed: Option<bool>,
}

impl From<WirePgSnapshot> for PgSnapshot {
    fn from(s: WirePgSnapshot) -> Self {
        let source = Reference::name(&s.source).unwrap_or_else(|| {
            s.name
                .split_once('.')
                .map_or(String::new(), |(group, _)| group.to_string())
        });
        PgSnapshot {
            name: s.name,
            source,
            created: time(s.created),
            destroyed: s.destroyed.unwrap_or(false),
        }
    }
}

/// `GET /protection-group-snapshots/transfer` item.
#[derive(Debug, Deserialize)]
pub(crate) struct WireTransfer {
    name: String,
    #[serde(default)]
    progress: Option<f64>,
    #[serde(default)]
    started: Option<i64>,
    #[serde(default)]
    completed: Option<i64>,
    #[serde(default)]
    data_transferred: Option<u64>,
}

impl From<WireTransfer> for PgSnapshotTransfer {
    fn from(t: WireTransfer) -> Self {
        PgSnapshotTransfer {
            name: t.name,
            progress: t.progress.unwrap_or(0.0),
            started: t.started.and_then(DateTime::from_timestamp_millis),
            completed: t.completed.and_then(DateTime::from_timestamp_millis),
            data_transferred: t.data_transferred.unwrap_or(0),
        }
    }
}

/// `GET /volume-snapshots` item.
#[derive(Debug, Deserialize)]
pub(crate) struct WireVolumeSnapshot {
    pub(crate) name: String,
    #[serde(default)]
    source: Option<Reference>,
    #[serde(default)]
    created: Option<i64>,
}

impl WireVolumeSnapshot {
    /// A volume snapshot of pg snapshot `pg_snapshot`: its name is `<pg_snapshot>.<volume>`,
    /// and `<volume>` is the volume's name on the source array (on a target `source.name` is the
    /// replica `src:vol`, so the name is the reliable part).
    pub(crate) fn into_core(self, pg_snapshot: &str) -> VolumeSnapshot {
        let source_volume = self
            .name
            .strip_prefix(pg_snapshot)
            .and_then(|rest| rest.strip_prefix('.'))
            .map(str::to_string)
            .or_else(|| Reference::name(&self.source))
            .unwrap_or_default();
        VolumeSnapshot {
            name: self.name,
            source_volume,
            created: time(self.created),
        }
    }
}

/// One array of a pod.
#[derive(Debug, Deserialize)]
pub(crate) struct WirePodArray {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    status: Option<String>,
}

/// `GET /pods` item.
#[derive(Debug, Deserialize)]
pub(crate) struct WirePod {
    name: String,
    #[serde(default)]
    arrays: Option<Vec<WirePodArray>>,
    #[serde(default)]
    promotion_status: Option<String>,
    #[serde(default)]
    destroyed: Option<bool>,
}

impl From<WirePod> for Pod {
    fn from(p: WirePod) -> Self {
        Pod {
            name: p.name,
            arrays: p
                .arrays
                .unwrap_or_default()
                .into_iter()
                .filter_map(|a| {
                    Some(PodArray {
                        name: a.name?,
                        status: a.status.unwrap_or_else(|| "unknown".to_string()),
                    })
                })
                .collect(),
            promotion_status: p.promotion_status.unwrap_or_else(|| "promoted".to_string()),
            destroyed: p.destroyed.unwrap_or(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_sparse_items() {
        let v: WireVolume = serde_json::from_str(r#"{"name":"v","pod":null,"extra":1}"#).unwrap();
        let v = ArrayVolume::from(v);
        assert_eq!((v.provisioned_bytes, v.destroyed, v.pod), (0, false, None));
        let s: WirePgSnapshot = serde_json::from_str(r#"{"name":"a:pg.3"}"#).unwrap();
        assert_eq!(PgSnapshot::from(s).source, "a:pg");
        let g: WireProtectionGroup = serde_json::from_str(r#"{"name":"a:pg"}"#).unwrap();
        assert_eq!(g.source_name(), "a");
        let g: WireProtectionGroup = serde_json::from_str(r#"{"name":"pod::pg"}"#).unwrap();
        assert_eq!(g.source_name(), "");
    }

    #[test]
    fn volume_snapshot_source_comes_from_its_name() {
        let s: WireVolumeSnapshot = serde_json::from_str(
            r#"{"name":"a:pg.2.vol-1","source":{"name":"a:vol-1"},"created":1000}"#,
        )
        .unwrap();
        let s = s.into_core("a:pg.2");
        assert_eq!(s.source_volume, "vol-1");
        assert_eq!(s.created.timestamp_millis(), 1000);
    }
}

/// `GET /volumes/diff` item (`VolumeDiff`): one extent that differs from the base. Its
/// `offset` is not needed: only the lengths are summed.
#[derive(Debug, Deserialize)]
pub(crate) struct WireVolumeDiff {
    /// Length of the extent, in bytes.
    #[serde(default)]
    pub(crate) length: Option<u64>,
}
