//! The in-process face: core's traits implemented by forwarding each call to the simulated
//! services through [`Simulator`]'s call pipeline. No behaviour lives here beyond what
//! protector's own HTTP clients do on top of the wire APIs (treating "already done" as done).

use std::sync::Arc;

use async_trait::async_trait;

use protector_core::api::{
    ArrayApi, ArrayCapabilities, ArrayInfo, ArrayProtectionGroup, ArrayVolume, AuthInfo,
    BlockStorageApi, ComputeApi, Connector, CopyVolume, CreatePgSnapshot, CreatePort, CreateServer,
    CreateVolumeGroup, Flavor, IdentityApi, Keypair, ListPorts, ListServers, ListVolumes,
    ManageVolume, Network, NetworkApi, PgSnapshot, PgSnapshotTransfer, Pod, Port, SecurityGroup,
    Server, SiteClients, Volume, VolumeGroup, VolumeService, VolumeSnapshot, VolumeType,
};
use protector_core::model::{ArrayEndpoint, Secret, Site};
use protector_core::{Error, ErrorKind, Result};

use crate::array::{self, pgroups, pods};
use crate::cloud::{block_storage, compute, identity, network, Credential};
use crate::faults::Service;
use crate::simulator::Simulator;
use crate::state::SITES;

/// Hands out clients of a [`Simulator`]: [`Connector::site`] recognises the simulated site by
/// the host of the site's `auth_url` (`site-a.sim.invalid`) or else by its name, and picks the
/// credentials by the site's cloud name:
///
/// | cloud name | user | project | roles |
/// |---|---|---|---|
/// | `<site>`, `<site>-dradmin` | `admin` | `production-project` | admin, member, reader, dr_site_admin |
/// | `<site>-member` | `member-user` | `production-project` | member, reader |
/// | `<site>-tenant2` | `tenant2-user` | `tenant2` | member, reader |
/// | `<site>-badpassword` | `admin` with a wrong password | | (refused) |
///
/// `<site>` is the simulated site name or the name the site was registered under.
#[derive(Debug, Clone)]
pub struct SimConnector {
    sim: Simulator,
}

impl SimConnector {
    pub(crate) fn new(sim: Simulator) -> SimConnector {
        SimConnector { sim }
    }

    /// The simulator behind this connector.
    pub fn simulator(&self) -> &Simulator {
        &self.sim
    }
}

/// The simulated site a registered site points at.
fn simulated_site(site: &Site) -> Option<&'static str> {
    let host = site
        .auth_url
        .split("://")
        .nth(1)
        .unwrap_or(&site.auth_url)
        .split(['/', ':'])
        .next()
        .unwrap_or("");
    SITES
        .into_iter()
        .find(|s| host == format!("{s}.sim.invalid"))
        .or_else(|| SITES.into_iter().find(|s| *s == site.name))
}

fn credential_for(sim_site: &str, registered: &str, cloud: &str) -> Option<Credential> {
    let owner = |rest: &str| rest == sim_site || rest == registered;
    let make = |user: &str, project: &str, valid: bool| Credential {
        user: user.to_string(),
        project: project.to_string(),
        valid,
    };
    if owner(cloud) {
        return Some(make("admin", "production-project", true));
    }
    for (suffix, user, project, valid) in [
        ("-dradmin", "admin", "production-project", true),
        ("-member", "member-user", "production-project", true),
        ("-tenant2", "tenant2-user", "tenant2", true),
        ("-badpassword", "admin", "production-project", false),
    ] {
        if cloud.strip_suffix(suffix).is_some_and(owner) {
            return Some(make(user, project, valid));
        }
    }
    None
}

#[async_trait]
impl Connector for SimConnector {
    async fn site(&self, site: &Site) -> Result<SiteClients> {
        let sim_site = simulated_site(site).ok_or_else(|| {
            Error::new(
                ErrorKind::ConfigInvalid,
                format!(
                    "site {} ({}) is not a simulated site; register it with the auth_url of site-a or site-b from the simulator",
                    site.name, site.auth_url
                ),
            )
        })?;
        let cloud = site.cloud_name();
        let credential = credential_for(sim_site, &site.name, cloud).ok_or_else(|| {
            Error::new(
                ErrorKind::ConfigInvalid,
                format!(
                    "cloud '{cloud}' not found in the simulated clouds.yaml; use {sim_site}, {sim_site}-member, {sim_site}-tenant2 or {sim_site}-dradmin"
                ),
            )
        })?;
        let client = SimCloud {
            sim: self.sim.clone(),
            site: sim_site.to_string(),
            credential,
        };
        Ok(SiteClients {
            site: site.name.clone(),
            identity: Arc::new(SimIdentity(client.clone())),
            compute: Arc::new(SimCompute(client.clone())),
            block_storage: Arc::new(SimBlockStorage(client.clone())),
            network: Arc::new(SimNetwork(client)),
        })
    }

    async fn array(&self, endpoint: &ArrayEndpoint) -> Result<Arc<dyn ArrayApi>> {
        let wanted = endpoint.url.trim_end_matches('/');
        let site = SITES
            .into_iter()
            .find(|s| {
                self.sim
                    .array_endpoint(s)
                    .is_some_and(|e| e.url.trim_end_matches('/') == wanted)
            })
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::ConfigInvalid,
                    format!("{} is not a simulated FlashArray", endpoint.url),
                )
            })?;
        Ok(Arc::new(SimArray {
            sim: self.sim.clone(),
            site: site.to_string(),
            token: endpoint.api_token.clone(),
        }))
    }
}

/// One site's clients share this: which site, as whom.
#[derive(Clone)]
struct SimCloud {
    sim: Simulator,
    site: String,
    credential: Credential,
}

impl std::fmt::Debug for SimCloud {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimCloud")
            .field("site", &self.site)
            .field("user", &self.credential.user)
            .field("project", &self.credential.project)
            .finish()
    }
}

impl SimCloud {
    async fn call<T>(
        &self,
        service: Service,
        operation: &'static str,
        f: impl FnOnce(&mut crate::state::World, &crate::cloud::Caller) -> Result<T>,
    ) -> Result<T> {
        self.sim
            .call_cloud(&self.site, &self.credential, service, operation, f)
            .await
    }
}

/// Keystone of one simulated site.
#[derive(Debug)]
struct SimIdentity(SimCloud);

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
struct SimCompute(SimCloud);

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
}

/// Cinder of one simulated site.
#[derive(Debug)]
struct SimBlockStorage(SimCloud);

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
}

/// Neutron of one simulated site.
#[derive(Debug)]
struct SimNetwork(SimCloud);

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
}

/// The FlashArray of one simulated site, reached with one API token.
struct SimArray {
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

    async fn get_volume(&self, name: &str) -> Result<Option<ArrayVolume>> {
        self.call("get_volume", |w, a| Ok(array::get_volume(w, a, name)))
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
            pgroups::create_snapshot(w, a, group, request)
        })
        .await
    }

    async fn list_pg_snapshots(&self, group: &str) -> Result<Vec<PgSnapshot>> {
        self.call("list_pg_snapshots", |w, a| {
            pgroups::list_snapshots(w, a, group)
        })
        .await
    }

    async fn list_pg_snapshot_transfers(
        &self,
        group_or_snapshot: &str,
    ) -> Result<Vec<PgSnapshotTransfer>> {
        self.call("list_pg_snapshot_transfers", |w, a| {
            pgroups::list_transfers(w, a, group_or_snapshot)
        })
        .await
    }

    async fn list_volume_snapshots(&self, pg_snapshot: &str) -> Result<Vec<VolumeSnapshot>> {
        self.call("list_volume_snapshots", |w, a| {
            pgroups::list_volume_snapshots(w, a, pg_snapshot)
        })
        .await
    }

    async fn eradicate_pg_snapshot(&self, name: &str) -> Result<()> {
        self.call("eradicate_pg_snapshot", |w, a| {
            pgroups::eradicate_snapshot(w, a, name).map(drop)
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
