//! Keystone, Nova, Cinder and Neutron of one simulated site, forwarding to `cloud/`.

use async_trait::async_trait;

use protector_core::api::{
    AuthInfo, AvailabilityZone, BlockStorageApi, ComputeApi, ComputeLimits, CreatePort,
    CreateServer, CreateVolumeGroup, Flavor, Hypervisor, IdentityApi, Keypair, ListPorts,
    ListServers, ListVolumes, ManageVolume, Network, NetworkApi, Port, QuotaUsage, SecurityGroup,
    Server, Volume, VolumeGroup, VolumeLimits, VolumeService, VolumeType,
};
use protector_core::Result;

use super::SimCloud;
use crate::cloud::{block_storage, capacity, compute, identity, network};
use crate::faults::Service;

/// Keystone of one simulated site.
#[derive(Debug)]
pub(super) struct SimIdentity(pub(super) SimCloud);

#[async_trait]
impl IdentityApi for SimIdentity {
    async fn authenticate(&self) -> Result<AuthInfo> {
        self.0
            .call(Service::Identity, "authenticate", |w, c| {
                Ok(identity::auth_info(w, c))
            })
            .await
    }
}

/// Nova of one simulated site.
#[derive(Debug)]
pub(super) struct SimCompute(pub(super) SimCloud);

#[async_trait]
impl ComputeApi for SimCompute {
    async fn get_server(&self, id: &str) -> Result<Option<Server>> {
        self.0
            .call(Service::Compute, "get_server", |w, c| {
                Ok(compute::get_server(w, c, id))
            })
            .await
    }

    async fn list_servers(&self, filter: &ListServers) -> Result<Vec<Server>> {
        self.0
            .call(Service::Compute, "list_servers", |w, c| {
                Ok(compute::list_servers(w, c, filter))
            })
            .await
    }

    async fn create_server(&self, request: &CreateServer) -> Result<Server> {
        self.0
            .call(Service::Compute, "create_server", |w, c| {
                compute::create_server(w, c, request)
            })
            .await
    }

    async fn stop_server(&self, id: &str) -> Result<()> {
        self.0
            .call(Service::Compute, "stop_server", |w, c| {
                compute::stop_server(w, c, id)
            })
            .await
    }

    async fn start_server(&self, id: &str) -> Result<()> {
        self.0
            .call(Service::Compute, "start_server", |w, c| {
                compute::start_server(w, c, id)
            })
            .await
    }

    async fn delete_server(&self, id: &str) -> Result<()> {
        self.0
            .call(Service::Compute, "delete_server", |w, c| {
                compute::delete_server(w, c, id)
            })
            .await
    }

    async fn find_flavor(&self, id_or_name: &str) -> Result<Option<Flavor>> {
        self.0
            .call(Service::Compute, "find_flavor", |w, c| {
                Ok(compute::find_flavor(w, c, id_or_name))
            })
            .await
    }

    async fn list_flavors(&self) -> Result<Vec<Flavor>> {
        self.0
            .call(Service::Compute, "list_flavors", |w, c| {
                Ok(compute::list_flavors(w, c))
            })
            .await
    }

    async fn get_keypair(&self, name: &str) -> Result<Option<Keypair>> {
        self.0
            .call(Service::Compute, "get_keypair", |w, c| {
                Ok(compute::get_keypair(w, c, name))
            })
            .await
    }

    async fn get_limits(&self) -> Result<ComputeLimits> {
        self.0
            .call(Service::Compute, "get_limits", |w, c| {
                Ok(capacity::compute_limits(w, c))
            })
            .await
    }

    async fn list_hypervisors(&self) -> Result<Vec<Hypervisor>> {
        self.0
            .call(Service::Compute, "list_hypervisors", |w, c| {
                capacity::list_hypervisors(w, c)
            })
            .await
    }

    async fn list_availability_zones(&self) -> Result<Vec<AvailabilityZone>> {
        self.0
            .call(Service::Compute, "list_availability_zones", |w, c| {
                let mut zones = capacity::availability_zones(w, &c.site);
                if !c.is_admin() {
                    // The hosts come from the admin-only detail view.
                    zones.iter_mut().for_each(|z| z.hosts.clear());
                }
                Ok(zones)
            })
            .await
    }
}

/// Cinder of one simulated site.
#[derive(Debug)]
pub(super) struct SimBlockStorage(pub(super) SimCloud);

#[async_trait]
impl BlockStorageApi for SimBlockStorage {
    async fn get_volume(&self, id: &str) -> Result<Option<Volume>> {
        self.0
            .call(Service::Volume, "get_volume", |w, c| {
                Ok(block_storage::get_volume(w, c, id))
            })
            .await
    }

    async fn list_volumes(&self, filter: &ListVolumes) -> Result<Vec<Volume>> {
        self.0
            .call(Service::Volume, "list_volumes", |w, c| {
                Ok(block_storage::list_volumes(w, c, filter))
            })
            .await
    }

    async fn find_volume_type(&self, name_or_id: &str) -> Result<Option<VolumeType>> {
        self.0
            .call(Service::Volume, "find_volume_type", |w, c| {
                Ok(block_storage::find_volume_type(w, c, name_or_id))
            })
            .await
    }

    async fn list_volume_types(&self) -> Result<Vec<VolumeType>> {
        self.0
            .call(Service::Volume, "list_volume_types", |w, c| {
                Ok(block_storage::list_volume_types(w, c))
            })
            .await
    }

    async fn list_volume_services(&self) -> Result<Vec<VolumeService>> {
        self.0
            .call(Service::Volume, "list_volume_services", |w, c| {
                block_storage::list_volume_services(w, c)
            })
            .await
    }

    async fn manage_volume(&self, request: &ManageVolume) -> Result<Volume> {
        self.0
            .call(Service::Volume, "manage_volume", |w, c| {
                block_storage::manage_volume(w, c, request)
            })
            .await
    }

    async fn unmanage_volume(&self, id: &str) -> Result<()> {
        self.0
            .call(Service::Volume, "unmanage_volume", |w, c| {
                block_storage::unmanage_volume(w, c, id)
            })
            .await
    }

    async fn delete_volume(&self, id: &str) -> Result<()> {
        self.0
            .call(Service::Volume, "delete_volume", |w, c| {
                block_storage::delete_volume(w, c, id)
            })
            .await
    }

    async fn create_volume_group(&self, request: &CreateVolumeGroup) -> Result<VolumeGroup> {
        self.0
            .call(Service::Volume, "create_volume_group", |w, c| {
                block_storage::create_volume_group(w, c, request)
            })
            .await
    }

    async fn get_volume_group(&self, id: &str) -> Result<Option<VolumeGroup>> {
        self.0
            .call(Service::Volume, "get_volume_group", |w, c| {
                Ok(block_storage::get_volume_group(w, c, id))
            })
            .await
    }

    async fn update_volume_group(&self, id: &str, add: &[String], remove: &[String]) -> Result<()> {
        self.0
            .call(Service::Volume, "update_volume_group", |w, c| {
                block_storage::update_volume_group(w, c, id, add, remove)
            })
            .await
    }

    async fn delete_volume_group(&self, id: &str) -> Result<()> {
        // Cinder refuses to delete a group that still has volumes unless they are deleted too;
        // keeping them means emptying the group first, as protector's HTTP client does.
        self.0
            .call(Service::Volume, "delete_volume_group", |w, c| {
                if block_storage::get_volume_group(w, c, id).is_none() {
                    return Ok(());
                }
                let members = block_storage::group_members(w, id);
                if !members.is_empty() {
                    block_storage::update_volume_group(w, c, id, &[], &members)?;
                }
                block_storage::delete_volume_group(w, c, id)
            })
            .await
    }

    async fn get_limits(&self) -> Result<VolumeLimits> {
        self.0
            .call(Service::Volume, "get_limits", |w, c| {
                Ok(capacity::volume_limits(w, c))
            })
            .await
    }
}

/// Neutron of one simulated site.
#[derive(Debug)]
pub(super) struct SimNetwork(pub(super) SimCloud);

#[async_trait]
impl NetworkApi for SimNetwork {
    async fn find_network(&self, id_or_name: &str) -> Result<Option<Network>> {
        self.0
            .call(Service::Network, "find_network", |w, c| {
                Ok(network::find_network(w, c, id_or_name))
            })
            .await
    }

    async fn list_networks(&self) -> Result<Vec<Network>> {
        self.0
            .call(Service::Network, "list_networks", |w, c| {
                Ok(network::list_networks(w, c))
            })
            .await
    }

    async fn list_ports(&self, filter: &ListPorts) -> Result<Vec<Port>> {
        self.0
            .call(Service::Network, "list_ports", |w, c| {
                Ok(network::list_ports(w, c, filter))
            })
            .await
    }

    async fn get_port(&self, id: &str) -> Result<Option<Port>> {
        self.0
            .call(Service::Network, "get_port", |w, c| {
                Ok(network::get_port(w, c, id))
            })
            .await
    }

    async fn create_port(&self, request: &CreatePort) -> Result<Port> {
        self.0
            .call(Service::Network, "create_port", |w, c| {
                network::create_port(w, c, request)
            })
            .await
    }

    async fn delete_port(&self, id: &str) -> Result<()> {
        self.0
            .call(Service::Network, "delete_port", |w, c| {
                network::delete_port(w, c, id)
            })
            .await
    }

    async fn find_security_group(&self, id_or_name: &str) -> Result<Option<SecurityGroup>> {
        self.0
            .call(Service::Network, "find_security_group", |w, c| {
                Ok(network::find_security_group(w, c, id_or_name))
            })
            .await
    }

    async fn list_security_groups(&self) -> Result<Vec<SecurityGroup>> {
        self.0
            .call(Service::Network, "list_security_groups", |w, c| {
                Ok(network::list_security_groups(w, c))
            })
            .await
    }

    async fn get_port_quota(&self, project_id: &str) -> Result<QuotaUsage> {
        self.0
            .call(Service::Network, "get_port_quota", |w, c| {
                capacity::port_quota(w, c, project_id)
            })
            .await
    }
}
