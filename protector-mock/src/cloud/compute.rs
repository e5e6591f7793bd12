//! Nova v2.1: servers (boot from volume with pre-created ports), power actions, flavors and
//! keypairs. Validation and messages follow `nova/api/openstack/compute/servers.py`.

use std::collections::BTreeSet;

use protector_core::api::{
    AttachedVolume, CreateServer, Flavor, Keypair, ListServers, Server, ServerStatus,
};
use protector_core::{Error, Result};

use super::Caller;
use crate::state::records::{AttachmentRec, ServerRec, ServerTask, ServerVolume};
use crate::state::World;

/// Ticks a server spends in BUILD.
pub(crate) const BOOT_TICKS: u64 = 2;
/// Ticks a power action takes.
pub(crate) const POWER_TICKS: u64 = 1;

fn instance_not_found(id: &str) -> Error {
    Error::not_found(format!("Instance {id} could not be found."))
}

/// Nova's `vm_state` for a status, used in 409 messages.
fn vm_state(server: &ServerRec) -> &'static str {
    match server.status.as_str() {
        "ACTIVE" => "active",
        "SHUTOFF" => "stopped",
        "BUILD" => "building",
        "ERROR" => "error",
        _ => "unknown",
    }
}

/// The server as the API shows it.
pub(crate) fn server_view(world: &World, server: &ServerRec) -> Server {
    let mut security_groups = BTreeSet::new();
    for port_id in &server.port_ids {
        if let Some(port) = world.ports.get(port_id) {
            for sg in &port.security_group_ids {
                if let Some(group) = world.security_groups.get(sg) {
                    security_groups.insert(group.name.clone());
                }
            }
        }
    }
    // Nova shows a volume as attached once the BDM exists; BUILD servers already have them.
    let attached_volumes = server
        .volumes
        .iter()
        .map(|v| AttachedVolume {
            volume_id: v.volume_id.clone(),
            delete_on_termination: v.delete_on_termination,
        })
        .collect();
    Server {
        id: server.id.clone(),
        name: server.name.clone(),
        status: ServerStatus::parse(&server.status),
        project_id: server.project_id.clone(),
        flavor_id: server.flavor_id.clone(),
        flavor_name: server.flavor_name.clone(),
        key_name: server.key_name.clone(),
        availability_zone: Some(server.availability_zone.clone()),
        attached_volumes,
        security_groups: security_groups.into_iter().collect(),
        metadata: server.metadata.clone(),
        fault: server.fault.clone(),
    }
}

/// The server `id` if the caller may see it.
pub(crate) fn visible<'w>(world: &'w World, caller: &Caller, id: &str) -> Option<&'w ServerRec> {
    world
        .servers
        .get(id)
        .filter(|s| s.site == caller.site && caller.can_see(&s.project_id))
}

/// `GET /servers/{id}`.
pub(crate) fn get_server(world: &World, caller: &Caller, id: &str) -> Option<Server> {
    visible(world, caller, id).map(|s| server_view(world, s))
}

/// `GET /servers/detail` in the token's project, newest first.
pub(crate) fn list_servers(world: &World, caller: &Caller, filter: &ListServers) -> Vec<Server> {
    let mut servers: Vec<&ServerRec> = world
        .servers
        .values()
        .filter(|s| s.site == caller.site && s.project_id == caller.project_id)
        .filter(|s| filter.name.as_ref().is_none_or(|n| &s.name == n))
        .filter(|s| {
            filter
                .metadata
                .as_ref()
                .is_none_or(|(k, v)| s.metadata.get(k) == Some(v))
        })
        .collect();
    servers.sort_by_key(|s| std::cmp::Reverse(s.seq));
    servers.into_iter().map(|s| server_view(world, s)).collect()
}

/// A network interface asked for in `networks[]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Nic {
    /// A pre-created port (`{"port": id}`).
    Port(String),
    /// A port Nova creates on a network (`{"uuid": id, "fixed_ip"?: ip}`).
    Network {
        network_id: String,
        fixed_ip: Option<String>,
    },
}

/// What the wire's `POST /servers` can ask beyond the in-process request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ServerExtras {
    /// The interfaces in order; when empty, `CreateServer::port_ids`.
    pub nics: Vec<Nic>,
    /// Names or ids of the project's security groups for the ports Nova creates (Nova does not
    /// apply them to pre-created ports). Empty: the project's `default`.
    pub security_groups: Vec<String>,
    /// Free text (2.19+).
    pub description: Option<String>,
}

/// `POST /servers`: boot from existing volumes with pre-created ports.
pub(crate) fn create_server(
    world: &mut World,
    caller: &Caller,
    request: &CreateServer,
) -> Result<Server> {
    let server = create_server_with(world, caller, request, &ServerExtras::default())?;
    Ok(server_view(world, &server))
}

/// `POST /servers` with the wire's extras: boot from existing volumes, on pre-created ports
/// and on ports Nova creates on the requested networks.
pub(crate) fn create_server_with(
    world: &mut World,
    caller: &Caller,
    request: &CreateServer,
    extras: &ServerExtras,
) -> Result<ServerRec> {
    let site = caller.site.clone();
    let nics: Vec<Nic> = if extras.nics.is_empty() {
        request.port_ids.iter().cloned().map(Nic::Port).collect()
    } else {
        extras.nics.clone()
    };
    let port_ids: Vec<String> = nics
        .iter()
        .filter_map(|n| match n {
            Nic::Port(id) => Some(id.clone()),
            Nic::Network { .. } => None,
        })
        .collect();
    if request.name.trim().is_empty() {
        return Err(Error::invalid(
            "Invalid input for field/attribute name. Value: . '' is too short",
        ));
    }
    let flavor = world
        .flavors
        .get(&request.flavor_id)
        .filter(|f| f.site == site)
        .cloned()
        .ok_or_else(|| Error::invalid("Invalid flavorRef provided."))?;
    let (availability_zone, host) =
        super::capacity::place_server(world, &site, request.availability_zone.as_deref())?;
    if let Some(key_name) = &request.key_name {
        let key = format!("{site}/{}/{key_name}", caller.user_id);
        if !world.keypairs.contains_key(&key) {
            return Err(Error::invalid("Invalid key_name provided."));
        }
    }

    // Block devices: exactly one boot disk, every volume available, the boot one bootable.
    let roots = request
        .block_devices
        .iter()
        .filter(|b| b.boot_index == 0)
        .count();
    if roots != 1 {
        return Err(Error::invalid(
            "Block Device Mapping is Invalid: Boot sequence for the instance and image/block device mapping combination is not valid.",
        ));
    }
    let mut seen = BTreeSet::new();
    for device in &request.block_devices {
        if !seen.insert(device.volume_id.clone()) {
            return Err(Error::invalid(format!(
                "Block Device Mapping is Invalid: volume {} is given twice.",
                device.volume_id
            )));
        }
        let volume = world
            .volumes
            .get(&device.volume_id)
            .filter(|v| v.site == site && caller.can_see(&v.project_id))
            .ok_or_else(|| {
                Error::invalid(format!(
                    "Block Device Mapping is Invalid: failed to get volume {}.",
                    device.volume_id
                ))
            })?;
        if volume.status != "available" {
            return Err(Error::invalid(format!(
                "Invalid volume: Volume {} status must be available or downloading to reserve, but the current status is {}.",
                volume.id, volume.status
            )));
        }
        if device.boot_index == 0 && !volume.bootable {
            return Err(Error::invalid(format!(
                "Block Device {} is not bootable.",
                volume.id
            )));
        }
    }

    super::capacity::check_server_quota(world, caller, flavor.vcpus, flavor.ram_mb)?;

    // Ports: exist, unbound, and in the instance's project.
    let server_id = world.new_uuid();
    let mut seen = BTreeSet::new();
    for port_id in &port_ids {
        let port = world
            .ports
            .get(port_id)
            .filter(|p| p.site == site && caller.can_see(&p.project_id))
            .ok_or_else(|| Error::invalid(format!("Port id {port_id} could not be found.")))?;
        if !port.device_id.is_empty() || !seen.insert(port_id.clone()) {
            return Err(Error::conflict(format!("Port {port_id} is still in use.")));
        }
        if port.project_id != caller.project_id {
            return Err(Error::invalid(format!(
                "Port {port_id} not usable for instance {server_id}."
            )));
        }
    }

    // Networks: visible, and a requested address inside one of their subnets.
    let mut wanted_ports = Vec::new();
    for nic in &nics {
        let Nic::Network {
            network_id,
            fixed_ip,
        } = nic
        else {
            continue;
        };
        let network = super::network::find_network(world, caller, network_id)
            .filter(|n| &n.id == network_id)
            .ok_or_else(|| Error::invalid(format!("Network {network_id} could not be found.")))?;
        let fixed_ips = match fixed_ip {
            None => Vec::new(),
            Some(ip) => {
                let subnet = super::network::subnet_for_address(world, &network.id, ip)
                    .ok_or_else(|| {
                        Error::invalid(format!(
                            "Fixed IP address {ip} is not valid on network {network_id}."
                        ))
                    })?;
                vec![(subnet, Some(ip.clone()))]
            }
        };
        wanted_ports.push(protector_core::api::CreatePort {
            network_id: network.id.clone(),
            name: String::new(),
            fixed_ips,
            security_group_ids: Vec::new(),
            description: String::new(),
        });
    }
    if !wanted_ports.is_empty() {
        let mut groups = Vec::new();
        for name in &extras.security_groups {
            let group = super::network::find_security_group(world, caller, name)
                .filter(|g| g.project_id == caller.project_id)
                .ok_or_else(|| {
                    Error::invalid(format!(
                        "Security group {name} not found for project {}.",
                        caller.project_id
                    ))
                })?;
            if !groups.contains(&group.id) {
                groups.push(group.id);
            }
        }
        for port in &mut wanted_ports {
            port.security_group_ids = groups.clone();
        }
    }

    // Accepted: create Nova's ports (all or none), reserve volumes, bind ports, spawn on a
    // later tick.
    let mut created_port_ids = Vec::new();
    for wanted in &wanted_ports {
        match super::network::create_port(world, caller, wanted) {
            Ok(port) => created_port_ids.push(port.id),
            Err(e) => {
                for id in &created_port_ids {
                    world.ports.remove(id);
                }
                return Err(Error::invalid(e.message().to_string()));
            }
        }
    }
    let mut created = created_port_ids.iter();
    let all_port_ids: Vec<String> = nics
        .iter()
        .filter_map(|n| match n {
            Nic::Port(id) => Some(id.clone()),
            Nic::Network { .. } => created.next().cloned(),
        })
        .collect();
    let fault = world
        .faults
        .boot_failures
        .remove(&format!("{site}/{}", request.name));
    let mut volumes = Vec::new();
    let mut next_device = 0u8;
    let mut ordered: Vec<_> = request.block_devices.iter().collect();
    ordered.sort_by_key(|b| {
        if b.boot_index < 0 {
            i32::MAX
        } else {
            b.boot_index
        }
    });
    for device in ordered {
        let name = device.device_name.clone().unwrap_or_else(|| {
            let name = format!("/dev/vd{}", (b'a' + next_device) as char);
            next_device += 1;
            name
        });
        if let Some(volume) = world.volumes.get_mut(&device.volume_id) {
            volume.status = "reserved".to_string();
        }
        volumes.push(ServerVolume {
            volume_id: device.volume_id.clone(),
            device: name,
            boot_index: device.boot_index,
            delete_on_termination: device.delete_on_termination,
        });
    }
    for port_id in &all_port_ids {
        if let Some(port) = world.ports.get_mut(port_id) {
            port.device_id = server_id.clone();
            port.device_owner = format!("compute:{availability_zone}");
        }
    }
    let until_tick = world.meta.tick + world.meta.pace.boot_ticks();
    let seq = world.next_seq();
    let now = world.now();
    let server = ServerRec {
        id: server_id.clone(),
        site,
        seq,
        name: request.name.clone(),
        project_id: caller.project_id.clone(),
        user_id: caller.user_id.clone(),
        flavor_id: flavor.id.clone(),
        flavor_name: flavor.name.clone(),
        key_name: request.key_name.clone(),
        availability_zone,
        status: "BUILD".to_string(),
        task: Some(ServerTask::Spawning { until_tick, fault }),
        volumes,
        port_ids: all_port_ids,
        metadata: request.metadata.clone(),
        fault: None,
        created: now,
        created_port_ids,
        description: extras.description.clone(),
        updated: Some(now),
        host,
    };
    world.servers.insert(server_id, server.clone());
    Ok(server)
}

/// `os-stop`: ACTIVE or ERROR → SHUTOFF on a later tick; SHUTOFF is a no-op.
pub(crate) fn stop_server(world: &mut World, caller: &Caller, id: &str) -> Result<()> {
    let server = visible(world, caller, id).ok_or_else(|| instance_not_found(id))?;
    if let Some(task) = &server.task {
        return Err(Error::conflict(format!(
            "Cannot 'stop' instance {id} while it is in task_state {}",
            task.state_name()
        )));
    }
    match server.status.as_str() {
        "SHUTOFF" => Ok(()),
        "ACTIVE" | "ERROR" => {
            let until_tick = world.meta.tick + POWER_TICKS;
            if let Some(server) = world.servers.get_mut(id) {
                server.task = Some(ServerTask::PoweringOff { until_tick });
            }
            Ok(())
        }
        _ => Err(Error::conflict(format!(
            "Cannot 'stop' instance {id} while it is in vm_state {}",
            vm_state(server)
        ))),
    }
}

/// `os-start`: SHUTOFF → ACTIVE on a later tick; ACTIVE is a no-op.
pub(crate) fn start_server(world: &mut World, caller: &Caller, id: &str) -> Result<()> {
    let server = visible(world, caller, id).ok_or_else(|| instance_not_found(id))?;
    if let Some(task) = &server.task {
        return Err(Error::conflict(format!(
            "Cannot 'start' instance {id} while it is in task_state {}",
            task.state_name()
        )));
    }
    match server.status.as_str() {
        "ACTIVE" => Ok(()),
        "SHUTOFF" => {
            let until_tick = world.meta.tick + POWER_TICKS;
            if let Some(server) = world.servers.get_mut(id) {
                server.task = Some(ServerTask::PoweringOn { until_tick });
            }
            Ok(())
        }
        _ => Err(Error::conflict(format!(
            "Cannot 'start' instance {id} while it is in vm_state {}",
            vm_state(server)
        ))),
    }
}

/// `DELETE /servers/{id}`: volumes are detached and kept (protector never sets
/// delete_on_termination), ports are unbound and kept.
pub(crate) fn delete_server(world: &mut World, caller: &Caller, id: &str) -> Result<()> {
    if visible(world, caller, id).is_none() {
        return Ok(());
    }
    let Some(server) = world.servers.remove(id) else {
        return Ok(());
    };
    release_server_resources(world, &server);
    // Nova deletes the ports it created; pre-created ones stay, unbound.
    for port_id in &server.created_port_ids {
        world.ports.remove(port_id);
    }
    for volume in &server.volumes {
        if volume.delete_on_termination {
            if let Some(v) = world.volumes.get_mut(&volume.volume_id) {
                v.task = Some(crate::state::records::VolumeTask::Delete {
                    until_tick: world.meta.tick + 1,
                });
                v.status = "deleting".to_string();
            }
        }
    }
    Ok(())
}

/// Detaches the server's volumes (→ available) and unbinds its ports.
pub(crate) fn release_server_resources(world: &mut World, server: &ServerRec) {
    for attached in &server.volumes {
        let mut disconnect = None;
        if let Some(volume) = world.volumes.get_mut(&attached.volume_id) {
            volume.attachments.retain(|a| a.server_id != server.id);
            if volume.attachments.is_empty() {
                if volume.status == "in-use" || volume.status == "reserved" {
                    volume.status = "available".to_string();
                }
                disconnect = volume.array_volume.clone();
            }
        }
        if let Some(name) = disconnect {
            crate::array::set_connected(world, &server.site, &name, false);
        }
    }
    for port_id in &server.port_ids {
        if let Some(port) = world.ports.get_mut(port_id) {
            if port.device_id == server.id {
                port.device_id.clear();
                port.device_owner.clear();
                port.status = "DOWN".to_string();
            }
        }
    }
}

/// Attaches the server's volumes (→ in-use) and activates its ports, at the end of a boot.
pub(crate) fn attach_server_resources(world: &mut World, server: &ServerRec) {
    for attached in &server.volumes {
        let mut connect = None;
        if let Some(volume) = world.volumes.get_mut(&attached.volume_id) {
            volume.status = "in-use".to_string();
            if !volume.attachments.iter().any(|a| a.server_id == server.id) {
                volume.attachments.push(AttachmentRec {
                    server_id: server.id.clone(),
                    device: attached.device.clone(),
                });
            }
            connect = volume.array_volume.clone();
        }
        if let Some(name) = connect {
            crate::array::set_connected(world, &server.site, &name, true);
        }
    }
    for port_id in &server.port_ids {
        if let Some(port) = world.ports.get_mut(port_id) {
            port.status = "ACTIVE".to_string();
        }
    }
}

fn flavor_view(f: &crate::state::records::FlavorRec) -> Flavor {
    Flavor {
        id: f.id.clone(),
        name: f.name.clone(),
        vcpus: f.vcpus,
        ram_mb: f.ram_mb,
        disk_gb: f.disk_gb,
    }
}

/// A flavor by id, else by name.
pub(crate) fn find_flavor(world: &World, caller: &Caller, id_or_name: &str) -> Option<Flavor> {
    world
        .flavors
        .get(id_or_name)
        .filter(|f| f.site == caller.site)
        .or_else(|| {
            world
                .flavors
                .find(|f| f.site == caller.site && f.name == id_or_name)
        })
        .map(flavor_view)
}

/// `GET /flavors/detail`, by name.
pub(crate) fn list_flavors(world: &World, caller: &Caller) -> Vec<Flavor> {
    let mut flavors: Vec<Flavor> = world
        .flavors
        .values()
        .filter(|f| f.site == caller.site)
        .map(flavor_view)
        .collect();
    flavors.sort_by(|a, b| a.name.cmp(&b.name));
    flavors
}

/// `GET /os-keypairs/{name}` of the token's user.
pub(crate) fn get_keypair(world: &World, caller: &Caller, name: &str) -> Option<Keypair> {
    world
        .keypairs
        .get(&format!("{}/{}/{name}", caller.site, caller.user_id))
        .map(|k| Keypair {
            name: k.name.clone(),
            public_key: k.public_key.clone(),
            fingerprint: k.fingerprint.clone(),
        })
}
