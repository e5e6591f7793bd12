//! The API traits with every call through a [`Gate`]: each method waits for room at its
//! service's gate and holds it while the call runs. Every method is forwarded, the ones with
//! a default implementation too (a decorator that left one out would answer with the
//! default, e.g. `Unsupported`, instead of the client's answer).

use std::sync::Arc;

use async_trait::async_trait;
use futures::future::BoxFuture;
use futures::FutureExt;

use super::batch::PortBatcher;
use super::flight::Flight;
use super::Gate;
use crate::api::{
    ArrayApi, ArrayCapabilities, ArrayConnection, ArrayInfo, ArrayProtectionGroup, ArrayVolume,
    AuthInfo, AvailabilityZone, BlockStorageApi, ComputeApi, ComputeLimits, CopyVolume,
    CreatePgSnapshot, CreatePort, CreateServer, CreateVolumeGroup, Flavor, Hypervisor, IdentityApi,
    Keypair, ListPorts, ListServers, ListVolumes, ManageVolume, Network, NetworkApi, PgParts,
    PgSnapshot, PgSnapshotTransfer, Pod, Port, QuotaUsage, SecurityGroup, Server, Volume,
    VolumeGroup, VolumeLimits, VolumeService, VolumeSnapshot, VolumeType,
};
use crate::error::Result;

/// Runs `$call` (an `inner` method call) inside `$self`'s gate.
macro_rules! gated {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {{
        let _permit = $self.gate.enter().await;
        $self.inner.$method($($arg),*).await
    }};
}

#[derive(Debug)]
pub(super) struct LimitedIdentity {
    pub(super) inner: Arc<dyn IdentityApi>,
    pub(super) gate: Arc<Gate>,
}

#[async_trait]
impl IdentityApi for LimitedIdentity {
    async fn authenticate(&self) -> Result<AuthInfo> {
        gated!(self.authenticate())
    }

    async fn probe(&self) -> Result<AuthInfo> {
        gated!(self.probe())
    }
}

#[derive(Debug)]
pub(super) struct LimitedCompute {
    pub(super) inner: Arc<dyn ComputeApi>,
    pub(super) gate: Arc<Gate>,
}

#[async_trait]
impl ComputeApi for LimitedCompute {
    async fn get_server(&self, id: &str) -> Result<Option<Server>> {
        gated!(self.get_server(id))
    }

    async fn list_servers(&self, filter: &ListServers) -> Result<Vec<Server>> {
        gated!(self.list_servers(filter))
    }

    async fn create_server(&self, request: &CreateServer) -> Result<Server> {
        gated!(self.create_server(request))
    }

    async fn stop_server(&self, id: &str) -> Result<()> {
        gated!(self.stop_server(id))
    }

    async fn start_server(&self, id: &str) -> Result<()> {
        gated!(self.start_server(id))
    }

    async fn delete_server(&self, id: &str) -> Result<()> {
        gated!(self.delete_server(id))
    }

    async fn find_flavor(&self, id_or_name: &str) -> Result<Option<Flavor>> {
        gated!(self.find_flavor(id_or_name))
    }

    async fn list_flavors(&self) -> Result<Vec<Flavor>> {
        gated!(self.list_flavors())
    }

    async fn get_keypair(&self, name: &str) -> Result<Option<Keypair>> {
        gated!(self.get_keypair(name))
    }

    async fn get_limits(&self) -> Result<ComputeLimits> {
        gated!(self.get_limits())
    }

    async fn list_hypervisors(&self) -> Result<Vec<Hypervisor>> {
        gated!(self.list_hypervisors())
    }

    async fn list_availability_zones(&self) -> Result<Vec<AvailabilityZone>> {
        gated!(self.list_availability_zones())
    }
}

#[derive(Debug)]
pub(super) struct LimitedBlockStorage {
    pub(super) inner: Arc<dyn BlockStorageApi>,
    pub(super) gate: Arc<Gate>,
}

#[async_trait]
impl BlockStorageApi for LimitedBlockStorage {
    async fn get_volume(&self, id: &str) -> Result<Option<Volume>> {
        gated!(self.get_volume(id))
    }

    async fn list_volumes(&self, filter: &ListVolumes) -> Result<Vec<Volume>> {
        gated!(self.list_volumes(filter))
    }

    async fn find_volume_type(&self, name_or_id: &str) -> Result<Option<VolumeType>> {
        gated!(self.find_volume_type(name_or_id))
    }

    async fn list_volume_types(&self) -> Result<Vec<VolumeType>> {
        gated!(self.list_volume_types())
    }

    async fn list_volume_services(&self) -> Result<Vec<VolumeService>> {
        gated!(self.list_volume_services())
    }

    async fn manage_volume(&self, request: &ManageVolume) -> Result<Volume> {
        gated!(self.manage_volume(request))
    }

    async fn unmanage_volume(&self, id: &str) -> Result<()> {
        gated!(self.unmanage_volume(id))
    }

    async fn delete_volume(&self, id: &str) -> Result<()> {
        gated!(self.delete_volume(id))
    }

    async fn create_volume_group(&self, request: &CreateVolumeGroup) -> Result<VolumeGroup> {
        gated!(self.create_volume_group(request))
    }

    async fn get_volume_group(&self, id: &str) -> Result<Option<VolumeGroup>> {
        gated!(self.get_volume_group(id))
    }

    async fn update_volume_group(&self, id: &str, add: &[String], remove: &[String]) -> Result<()> {
        gated!(self.update_volume_group(id, add, remove))
    }

    async fn delete_volume_group(&self, id: &str) -> Result<()> {
        gated!(self.delete_volume_group(id))
    }

    async fn get_limits(&self) -> Result<VolumeLimits> {
        gated!(self.get_limits())
    }
}

#[derive(Debug)]
pub(super) struct LimitedNetwork {
    pub(super) inner: Arc<dyn NetworkApi>,
    pub(super) gate: Arc<Gate>,
    pub(super) ports: Arc<PortBatcher>,
}

#[async_trait]
impl NetworkApi for LimitedNetwork {
    async fn find_network(&self, id_or_name: &str) -> Result<Option<Network>> {
        gated!(self.find_network(id_or_name))
    }

    async fn list_networks(&self) -> Result<Vec<Network>> {
        gated!(self.list_networks())
    }

    async fn list_ports(&self, filter: &ListPorts) -> Result<Vec<Port>> {
        gated!(self.list_ports(filter))
    }

    async fn get_port(&self, id: &str) -> Result<Option<Port>> {
        gated!(self.get_port(id))
    }

    async fn create_port(&self, request: &CreatePort) -> Result<Port> {
        // Through the gate too, with the creates of the same moment (batch.rs).
        self.ports.create(request).await
    }

    async fn create_ports(&self, requests: &[CreatePort]) -> Result<Vec<Result<Port>>> {
        gated!(self.create_ports(requests))
    }

    async fn delete_port(&self, id: &str) -> Result<()> {
        gated!(self.delete_port(id))
    }

    async fn find_security_group(&self, id_or_name: &str) -> Result<Option<SecurityGroup>> {
        gated!(self.find_security_group(id_or_name))
    }

    async fn list_security_groups(&self) -> Result<Vec<SecurityGroup>> {
        gated!(self.list_security_groups())
    }

    async fn get_port_quota(&self, project_id: &str) -> Result<QuotaUsage> {
        gated!(self.get_port_quota(project_id))
    }
}

#[derive(Debug)]
pub(super) struct LimitedArray {
    pub(super) inner: Arc<dyn ArrayApi>,
    pub(super) gate: Arc<Gate>,
    /// Its `GET /arrays` in flight, shared by the callers of the same moment (flight.rs).
    pub(super) info: Flight<ArrayInfo>,
    /// Its `GET /array-connections` in flight, shared the same way: every group of a site
    /// failover checks the same replication link when it plans.
    pub(super) connections: Flight<Vec<ArrayConnection>>,
}

impl LimitedArray {
    /// What `read` answers from the inner array, through the gate, joined by the callers that
    /// ask while it is in flight (`flight`, flight.rs).
    async fn shared<T: Clone + Send + Sync + 'static>(
        &self,
        flight: &Flight<T>,
        read: impl FnOnce(Arc<dyn ArrayApi>) -> BoxFuture<'static, Result<T>> + Send + 'static,
    ) -> Result<T> {
        let (inner, gate) = (self.inner.clone(), self.gate.clone());
        flight
            .read(move || {
                async move {
                    let _permit = gate.enter().await;
                    read(inner).await
                }
                .boxed()
            })
            .await
    }
}

#[async_trait]
impl ArrayApi for LimitedArray {
    fn capabilities(&self) -> ArrayCapabilities {
        self.inner.capabilities()
    }

    async fn array_info(&self) -> Result<ArrayInfo> {
        self.shared(&self.info, |inner| {
            async move { inner.array_info().await }.boxed()
        })
        .await
    }

    async fn connect(&self) -> Result<()> {
        gated!(self.connect())
    }

    async fn array_connections(&self) -> Result<Vec<ArrayConnection>> {
        self.shared(&self.connections, |inner| {
            async move { inner.array_connections().await }.boxed()
        })
        .await
    }

    async fn get_volume(&self, name: &str) -> Result<Option<ArrayVolume>> {
        gated!(self.get_volume(name))
    }

    async fn get_volumes(&self, names: &[String]) -> Result<Vec<Option<ArrayVolume>>> {
        gated!(self.get_volumes(names))
    }

    async fn list_volumes(&self, name_prefix: &str) -> Result<Vec<ArrayVolume>> {
        gated!(self.list_volumes(name_prefix))
    }

    async fn copy_volume(&self, request: &CopyVolume) -> Result<ArrayVolume> {
        gated!(self.copy_volume(request))
    }

    async fn rename_volume(&self, name: &str, new_name: &str) -> Result<()> {
        gated!(self.rename_volume(name, new_name))
    }

    async fn destroy_volume(&self, name: &str) -> Result<()> {
        gated!(self.destroy_volume(name))
    }

    async fn eradicate_volume(&self, name: &str) -> Result<()> {
        gated!(self.eradicate_volume(name))
    }

    async fn get_protection_group(&self, name: &str) -> Result<Option<ArrayProtectionGroup>> {
        gated!(self.get_protection_group(name))
    }

    async fn get_protection_group_parts(
        &self,
        name: &str,
        parts: PgParts,
    ) -> Result<Option<ArrayProtectionGroup>> {
        gated!(self.get_protection_group_parts(name, parts))
    }

    async fn create_protection_group(&self, name: &str) -> Result<ArrayProtectionGroup> {
        gated!(self.create_protection_group(name))
    }

    async fn add_protection_group_volumes(&self, group: &str, volumes: &[String]) -> Result<()> {
        gated!(self.add_protection_group_volumes(group, volumes))
    }

    async fn remove_protection_group_volumes(&self, group: &str, volumes: &[String]) -> Result<()> {
        gated!(self.remove_protection_group_volumes(group, volumes))
    }

    async fn add_protection_group_target(&self, group: &str, target_array: &str) -> Result<()> {
        gated!(self.add_protection_group_target(group, target_array))
    }

    async fn set_protection_group_allowed(&self, replica_group: &str, allowed: bool) -> Result<()> {
        gated!(self.set_protection_group_allowed(replica_group, allowed))
    }

    async fn set_replication_schedule(
        &self,
        group: &str,
        enabled: bool,
        frequency_secs: u64,
    ) -> Result<()> {
        gated!(self.set_replication_schedule(group, enabled, frequency_secs))
    }

    async fn destroy_protection_group(&self, name: &str) -> Result<()> {
        gated!(self.destroy_protection_group(name))
    }

    async fn create_pg_snapshot(
        &self,
        group: &str,
        request: &CreatePgSnapshot,
    ) -> Result<PgSnapshot> {
        gated!(self.create_pg_snapshot(group, request))
    }

    async fn list_pg_snapshots(&self, group: &str) -> Result<Vec<PgSnapshot>> {
        gated!(self.list_pg_snapshots(group))
    }

    async fn list_pg_snapshot_transfers(
        &self,
        group_or_snapshot: &str,
    ) -> Result<Vec<PgSnapshotTransfer>> {
        gated!(self.list_pg_snapshot_transfers(group_or_snapshot))
    }

    async fn list_volume_snapshots(&self, pg_snapshot: &str) -> Result<Vec<VolumeSnapshot>> {
        gated!(self.list_volume_snapshots(pg_snapshot))
    }

    async fn eradicate_pg_snapshot(&self, name: &str) -> Result<()> {
        gated!(self.eradicate_pg_snapshot(name))
    }

    async fn changed_bytes_since(&self, volume: &str, base: &str) -> Result<u64> {
        gated!(self.changed_bytes_since(volume, base))
    }

    async fn get_pod(&self, name: &str) -> Result<Option<Pod>> {
        gated!(self.get_pod(name))
    }

    async fn create_pod(&self, name: &str) -> Result<Pod> {
        gated!(self.create_pod(name))
    }

    async fn add_pod_array(&self, pod: &str, array: &str) -> Result<()> {
        gated!(self.add_pod_array(pod, array))
    }

    async fn promote_pod(&self, pod: &str) -> Result<()> {
        gated!(self.promote_pod(pod))
    }

    async fn demote_pod(&self, pod: &str) -> Result<()> {
        gated!(self.demote_pod(pod))
    }
}
