//! Protection-group snapshots, their replication progress and their volume snapshots.

use std::cmp::Reverse;

use protector_core::api::{CreatePgSnapshot, PgSnapshot, PgSnapshotTransfer, VolumeSnapshot};
use protector_core::{Error, Result};
use serde_json::json;

use crate::client::FlashArrayClient;
use crate::error::{array_says, is_missing};
use crate::filter::{Filter, Sort};
use crate::request::Request;
use crate::wire::{WirePgSnapshot, WireTransfer, WireVolumeSnapshot};

impl FlashArrayClient {
    /// Takes a pg snapshot (`POST /protection-group-snapshots?source_names=`, with
    /// `replicate_now` / `apply_retention` when asked and `{"suffix": …}` when given).
    pub async fn create_pg_snapshot(
        &self,
        group: &str,
        request: &CreatePgSnapshot,
    ) -> Result<PgSnapshot> {
        let mut call = Request::post("protection-group-snapshots", "snapshot protection group")
            .names("source_names", &[group])
            .flag("replicate_now", request.replicate_now)
            .flag("apply_retention", request.apply_retention)
            .object(group);
        if let Some(suffix) = &request.suffix {
            call = call.body(json!({"suffix": suffix}));
        }
        let snapshots: Vec<WirePgSnapshot> = self.items(&call).await?;
        snapshots.into_iter().next().map(Into::into).ok_or_else(|| {
            Error::unexpected(format!(
                "snapshot protection group {group} on FlashArray {}: the array answered without the snapshot",
                self.inner.label
            ))
        })
    }

    /// Live snapshots of a protection group (`pg`, or `source:pg` on a target), oldest first
    /// (`GET /protection-group-snapshots?source_names=&destroyed=false&sort=created`).
    pub async fn list_pg_snapshots(&self, group: &str) -> Result<Vec<PgSnapshot>> {
        let request = Request::get(
            "protection-group-snapshots",
            "list protection group snapshots",
        )
        .names("source_names", &[group])
        .param("destroyed", "false")
        .sort(&Sort::asc("created"))
        .object(group);
        let snapshots: Vec<WirePgSnapshot> = self.list(&request).await?;
        let mut snapshots: Vec<PgSnapshot> = snapshots.into_iter().map(Into::into).collect();
        snapshots.sort_by_key(|s| s.created);
        Ok(snapshots)
    }

    /// Replication progress of the live snapshots of `group` (or of one snapshot, given its
    /// full name), newest first: not yet started, then by start time
    /// (`GET /protection-group-snapshots/transfer?names=&destroyed=false&sort=started-`, the
    /// query the Cinder driver sends). `NotFound` when the group or snapshot is not (yet) on
    /// this array.
    pub async fn list_pg_snapshot_transfers(
        &self,
        group_or_snapshot: &str,
    ) -> Result<Vec<PgSnapshotTransfer>> {
        let request = Request::get(
            "protection-group-snapshots/transfer",
            "list snapshot transfers",
        )
        .names("names", &[group_or_snapshot])
        .param("destroyed", "false")
        .sort(&Sort::desc("started"))
        .object(group_or_snapshot);
        let transfers: Vec<WireTransfer> = self.list(&request).await?;
        let mut transfers: Vec<PgSnapshotTransfer> =
            transfers.into_iter().map(Into::into).collect();
        transfers.sort_by_key(|t| (t.started.is_some(), Reverse(t.started)));
        Ok(transfers)
    }

    /// The volume snapshots inside pg snapshot `pg_snapshot`
    /// (`GET /volume-snapshots?filter=name='<pg_snapshot>.*'`), by name. `NotFound` when the pg
    /// snapshot does not exist.
    pub async fn list_volume_snapshots(&self, pg_snapshot: &str) -> Result<Vec<VolumeSnapshot>> {
        let prefix = format!("{pg_snapshot}.");
        let request = Request::get("volume-snapshots", "list volume snapshots")
            .filter(&Filter::like("name", &format!("{prefix}*")))
            .param("destroyed", "false")
            .object(pg_snapshot);
        let snapshots: Vec<WireVolumeSnapshot> = self.list(&request).await?;
        let mut snapshots: Vec<VolumeSnapshot> = snapshots
            .into_iter()
            .filter(|s| s.name.starts_with(&prefix))
            .map(|s| s.into_core(pg_snapshot))
            .collect();
        if snapshots.is_empty() {
            // An empty answer does not say whether the pg snapshot exists; ask.
            let check = Request::get(
                "protection-group-snapshots",
                "read protection group snapshot",
            )
            .names("names", &[pg_snapshot])
            .param("destroyed", "false")
            .object(pg_snapshot);
            self.list::<WirePgSnapshot>(&check).await?;
        }
        snapshots.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(snapshots)
    }

    /// Destroys then eradicates a pg snapshot (`PATCH` with `{"destroyed": true}`, then
    /// `DELETE /protection-group-snapshots?names=`), removing its volume snapshots. A missing
    /// snapshot is success.
    pub async fn eradicate_pg_snapshot(&self, name: &str) -> Result<()> {
        let destroy = Request::patch(
            "protection-group-snapshots",
            "destroy protection group snapshot",
        )
        .names("names", &[name])
        .body(json!({"destroyed": true}))
        .object(name);
        match self.run(&destroy).await {
            Ok(()) => {}
            Err(e) if is_missing(&e) => return Ok(()),
            Err(e) if array_says(&e, &["been destroyed", "already destroyed"]) => {}
            Err(e) => return Err(e),
        }
        let eradicate = Request::delete(
            "protection-group-snapshots",
            "eradicate protection group snapshot",
        )
        .names("names", &[name])
        .object(name);
        match self.run(&eradicate).await {
            Err(e) if is_missing(&e) => Ok(()),
            other => other,
        }
    }
}
