//! [`ArrayApi`] for [`FlashArrayClient`]: each method forwards to the inherent call of the same
//! name in `calls/`, where the REST details are documented.

use async_trait::async_trait;
use protector_core::api::{
    ArrayApi, ArrayCapabilities, ArrayConnection, ArrayInfo, ArrayProtectionGroup, ArrayVolume,
    CopyVolume, CreatePgSnapshot, PgParts, PgSnapshot, PgSnapshotTransfer, Pod, VolumeSnapshot,
};
use protector_core::Result;

use crate::client::FlashArrayClient;

#[async_trait]
impl ArrayApi for FlashArrayClient {
    /// Both: every REST version this client negotiates (2.4 or later) has protection groups
    /// with targets and pods. Whether the array is licensed and connected for them shows when
    /// a call is made.
    fn capabilities(&self) -> ArrayCapabilities {
        ArrayCapabilities {
            async_replication: true,
            sync_replication: true,
        }
    }

    async fn array_info(&self) -> Result<ArrayInfo> {
        FlashArrayClient::array_info(self).await
    }

    async fn connect(&self) -> Result<()> {
        self.session().await.map(|_| ())
    }

    async fn array_connections(&self) -> Result<Vec<ArrayConnection>> {
        FlashArrayClient::array_connections(self).await
    }

    async fn get_volume(&self, name: &str) -> Result<Option<ArrayVolume>> {
        FlashArrayClient::get_volume(self, name).await
    }

    async fn get_volumes(&self, names: &[String]) -> Result<Vec<Option<ArrayVolume>>> {
        FlashArrayClient::get_volumes(self, names).await
    }

    async fn list_volumes(&self, name_prefix: &str) -> Result<Vec<ArrayVolume>> {
        FlashArrayClient::list_volumes(self, name_prefix).await
    }

    async fn copy_volume(&self, request: &CopyVolume) -> Result<ArrayVolume> {
        FlashArrayClient::copy_volume(self, request).await
    }

    async fn rename_volume(&self, name: &str, new_name: &str) -> Result<()> {
        FlashArrayClient::rename_volume(self, name, new_name).await
    }

    async fn destroy_volume(&self, name: &str) -> Result<()> {
        FlashArrayClient::destroy_volume(self, name).await
    }

    async fn eradicate_volume(&self, name: &str) -> Result<()> {
        FlashArrayClient::eradicate_volume(self, name).await
    }

    async fn get_protection_group(&self, name: &str) -> Result<Option<ArrayProtectionGroup>> {
        FlashArrayClient::get_protection_group(self, name).await
    }

    async fn get_protection_group_parts(
        &self,
        name: &str,
        parts: PgParts,
    ) -> Result<Option<ArrayProtectionGroup>> {
        FlashArrayClient::get_protection_group_parts(self, name, parts).await
    }

    async fn create_protection_group(&self, name: &str) -> Result<ArrayProtectionGroup> {
        FlashArrayClient::create_protection_group(self, name).await
    }

    async fn add_protection_group_volumes(&self, group: &str, volumes: &[String]) -> Result<()> {
        FlashArrayClient::add_protection_group_volumes(self, group, volumes).await
    }

    async fn remove_protection_group_volumes(&self, group: &str, volumes: &[String]) -> Result<()> {
        FlashArrayClient::remove_protection_group_volumes(self, group, volumes).await
    }

    async fn add_protection_group_target(&self, group: &str, target_array: &str) -> Result<()> {
        FlashArrayClient::add_protection_group_target(self, group, target_array).await
    }

    async fn set_protection_group_allowed(&self, replica_group: &str, allowed: bool) -> Result<()> {
        FlashArrayClient::set_protection_group_allowed(self, replica_group, allowed).await
    }

    async fn set_replication_schedule(
        &self,
        group: &str,
        enabled: bool,
        frequency_secs: u64,
    ) -> Result<()> {
        FlashArrayClient::set_replication_schedule(self, group, enabled, frequency_secs).await
    }

    async fn destroy_protection_group(&self, name: &str) -> Result<()> {
        FlashArrayClient::destroy_protection_group(self, name).await
    }

    async fn create_pg_snapshot(
        &self,
        group: &str,
        request: &CreatePgSnapshot,
    ) -> Result<PgSnapshot> {
        FlashArrayClient::create_pg_snapshot(self, group, request).await
    }

    async fn list_pg_snapshots(&self, group: &str) -> Result<Vec<PgSnapshot>> {
        FlashArrayClient::list_pg_snapshots(self, group).await
    }

    async fn list_pg_snapshot_transfers(
        &self,
        group_or_snapshot: &str,
    ) -> Result<Vec<PgSnapshotTransfer>> {
        FlashArrayClient::list_pg_snapshot_transfers(self, group_or_snapshot).await
    }

    async fn list_volume_snapshots(&self, pg_snapshot: &str) -> Result<Vec<VolumeSnapshot>> {
        FlashArrayClient::list_volume_snapshots(self, pg_snapshot).await
    }

    async fn eradicate_pg_snapshot(&self, name: &str) -> Result<()> {
        FlashArrayClient::eradicate_pg_snapshot(self, name).await
    }

    async fn changed_bytes_since(&self, volume: &str, base: &str) -> Result<u64> {
        FlashArrayClient::changed_bytes_since(self, volume, base).await
    }

    async fn get_pod(&self, name: &str) -> Result<Option<Pod>> {
        FlashArrayClient::get_pod(self, name).await
    }

    async fn create_pod(&self, name: &str) -> Result<Pod> {
        FlashArrayClient::create_pod(self, name).await
    }

    async fn add_pod_array(&self, pod: &str, array: &str) -> Result<()> {
        FlashArrayClient::add_pod_array(self, pod, array).await
    }

    async fn promote_pod(&self, pod: &str) -> Result<()> {
        FlashArrayClient::promote_pod(self, pod).await
    }

    async fn demote_pod(&self, pod: &str) -> Result<()> {
        FlashArrayClient::demote_pod(self, pod).await
    }
}
