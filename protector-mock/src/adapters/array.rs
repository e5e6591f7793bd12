//! The FlashArray of one simulated site, forwarding to `array/`.

use async_trait::async_trait;

use protector_core::api::{
    ArrayApi, ArrayCapabilities, ArrayConnection, ArrayInfo, ArrayProtectionGroup, ArrayVolume,
    CopyVolume, CreatePgSnapshot, PgSnapshot, PgSnapshotTransfer, Pod, VolumeSnapshot,
};
use protector_core::model::Secret;
use protector_core::Result;

use crate::array::{self, pgroups, pods, snapshots};
use crate::simulator::Simulator;

/// The FlashArray of one simulated site, reached with one API token.
pub(super) struct SimArray {
    sim: Simulator,
    site: String,
    token: Secret,
}

impl std::fmt::Debug for SimArray {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimArray")
            .field("site", &self.site)
            .field("token", &self.token)
            .finish()
    }
}

impl SimArray {
    pub(super) fn new(sim: Simulator, site: &str, token: Secret) -> SimArray {
        SimArray {
            sim,
            site: site.to_string(),
            token,
        }
    }

    async fn call<T>(
        &self,
        operation: &'static str,
        f: impl FnOnce(&mut crate::state::World, &str) -> Result<T>,
    ) -> Result<T> {
        self.sim
            .call_array(&self.site, &self.token, operation, f)
            .await
    }
}

#[async_trait]
impl ArrayApi for SimArray {
    fn capabilities(&self) -> ArrayCapabilities {
        ArrayCapabilities {
            async_replication: true,
            sync_replication: true,
        }
    }

    async fn array_info(&self) -> Result<ArrayInfo> {
        self.call("array_info", |w, a| array::array_info(w, a))
            .await
    }

    async fn array_connections(&self) -> Result<Vec<ArrayConnection>> {
        self.call("list_array_connections", |w, a| {
            array::array_connections(w, a)
        })
        .await
    }

    async fn get_volume(&self, name: &str) -> Result<Option<ArrayVolume>> {
        self.call("get_volume", |w, a| Ok(array::get_volume(w, a, name)))
            .await
    }

    async fn list_volumes(&self, name_prefix: &str) -> Result<Vec<ArrayVolume>> {
        self.call("list_volumes", |w, a| {
            Ok(array::list_volumes(w, a, name_prefix))
        })
        .await
    }

    async fn copy_volume(&self, request: &CopyVolume) -> Result<ArrayVolume> {
        self.call("copy_volume", |w, a| array::copy_volume(w, a, request))
            .await
    }

    async fn rename_volume(&self, name: &str, new_name: &str) -> Result<()> {
        self.call("rename_volume", |w, a| {
            array::rename_volume(w, a, name, new_name)
        })
        .await
    }

    async fn destroy_volume(&self, name: &str) -> Result<()> {
        self.call("destroy_volume", |w, a| {
            array::destroy_volume(w, a, name).map(drop)
        })
        .await
    }

    async fn eradicate_volume(&self, name: &str) -> Result<()> {
        self.call("eradicate_volume", |w, a| {
            array::eradicate_volume(w, a, name).map(drop)
        })
        .await
    }

    async fn get_protection_group(&self, name: &str) -> Result<Option<ArrayProtectionGroup>> {
        self.call("get_protection_group", |w, a| {
            Ok(pgroups::get_protection_group(w, a, name))
        })
        .await
    }

    async fn create_protection_group(&self, name: &str) -> Result<ArrayProtectionGroup> {
        self.call("create_protection_group", |w, a| {
            pgroups::create_protection_group(w, a, name)
        })
        .await
    }

    async fn add_protection_group_volumes(&self, group: &str, volumes: &[String]) -> Result<()> {
        self.call("add_protection_group_volumes", |w, a| {
            pgroups::add_volumes(w, a, group, volumes).map(drop)
        })
        .await
    }

    async fn remove_protection_group_volumes(&self, group: &str, volumes: &[String]) -> Result<()> {
        self.call("remove_protection_group_volumes", |w, a| {
            pgroups::remove_volumes(w, a, group, volumes).map(drop)
        })
        .await
    }

    async fn add_protection_group_target(&self, group: &str, target_array: &str) -> Result<()> {
        self.call("add_protection_group_target", |w, a| {
            pgroups::add_target(w, a, group, target_array).map(drop)
        })
        .await
    }

    async fn set_protection_group_allowed(&self, replica_group: &str, allowed: bool) -> Result<()> {
        self.call("set_protection_group_allowed", |w, a| {
            pgroups::set_allowed(w, a, replica_group, allowed).map(drop)
        })
        .await
    }

    async fn set_replication_schedule(
        &self,
        group: &str,
        enabled: bool,
        frequency_secs: u64,
    ) -> Result<()> {
        self.call("set_replication_schedule", |w, a| {
            pgroups::set_schedule(w, a, group, enabled, frequency_secs)
        })
        .await
    }

    async fn destroy_protection_group(&self, name: &str) -> Result<()> {
        self.call("destroy_protection_group", |w, a| {
            pgroups::destroy_group(w, a, name).map(drop)
        })
        .await
    }

    async fn create_pg_snapshot(
        &self,
        group: &str,
        request: &CreatePgSnapshot,
    ) -> Result<PgSnapshot> {
        self.call("create_pg_snapshot", |w, a| {
            snapshots::create_snapshot(w, a, group, request)
        })
        .await
    }

    async fn list_pg_snapshots(&self, group: &str) -> Result<Vec<PgSnapshot>> {
        self.call("list_pg_snapshots", |w, a| {
            snapshots::list_snapshots(w, a, group)
        })
        .await
    }

    async fn list_pg_snapshot_transfers(
        &self,
        group_or_snapshot: &str,
    ) -> Result<Vec<PgSnapshotTransfer>> {
        self.call("list_pg_snapshot_transfers", |w, a| {
            snapshots::list_transfers(w, a, group_or_snapshot)
        })
        .await
    }

    async fn list_volume_snapshots(&self, pg_snapshot: &str) -> Result<Vec<VolumeSnapshot>> {
        self.call("list_volume_snapshots", |w, a| {
            snapshots::list_volume_snapshots(w, a, pg_snapshot)
        })
        .await
    }

    async fn eradicate_pg_snapshot(&self, name: &str) -> Result<()> {
        self.call("eradicate_pg_snapshot", |w, a| {
            snapshots::eradicate_snapshot(w, a, name).map(drop)
        })
        .await
    }

    async fn changed_bytes_since(&self, volume: &str, base: &str) -> Result<u64> {
        self.call("changed_bytes_since", |w, a| {
            if array::get_volume(w, a, volume).is_none() {
                return Err(array::does_not_exist("Volume", volume));
            }
            array::diff::changed_bytes(w, a, volume, base)
        })
        .await
    }

    async fn get_pod(&self, name: &str) -> Result<Option<Pod>> {
        self.call("get_pod", |w, a| Ok(pods::get_pod(w, a, name)))
            .await
    }

    async fn create_pod(&self, name: &str) -> Result<Pod> {
        self.call("create_pod", |w, a| pods::create_pod(w, a, name))
            .await
    }

    async fn add_pod_array(&self, pod: &str, array: &str) -> Result<()> {
        self.call("add_pod_array", |w, a| {
            pods::add_pod_array(w, a, pod, array).map(drop)
        })
        .await
    }

    async fn promote_pod(&self, pod: &str) -> Result<()> {
        self.call("promote_pod", |w, a| pods::promote_pod(w, a, pod).map(drop))
            .await
    }

    async fn demote_pod(&self, pod: &str) -> Result<()> {
        self.call("demote_pod", |w, a| pods::demote_pod(w, a, pod).map(drop))
            .await
    }
}
