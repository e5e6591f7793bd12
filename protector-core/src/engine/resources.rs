//! Waiting for and removing servers, Cinder volumes and array volumes, the way every
//! operation needs it: a resource already gone counts as removed. Also the requests that
//! create ports and servers, starting and stopping servers, and making a FlashArray
//! protection group replicate.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::api::{
    ArrayApi, BlockDevice, BlockStorageApi, ComputeApi, CreatePort, CreateServer, Server,
    ServerStatus, SiteClients, Volume,
};
use crate::engine::bulk_wait::{wait_server, wait_volume};
use crate::engine::wait::{PollOutcome, PollPolicy};
use crate::error::{Error, ErrorKind, Hint, MappedResource, Result};
use crate::plan::{MemberPlan, NicPlan};

/// The request for the port of `nic` of `member` on `site`: its mapped network, its fixed IPs
/// where the target subnet allows them, its security groups.
pub(in crate::engine) fn port_request(
    member: &MemberPlan,
    nic: &NicPlan,
    name: String,
    description: String,
    site: &str,
) -> Result<CreatePort> {
    let network_id = nic.network.target_id.clone().ok_or_else(|| {
        Error::not_found(format!(
            "network {} of member {} is not mapped to a network on {site}",
            nic.network.source, member.instance_name
        ))
    })?;
    let fixed_ips = nic
        .fixed_ips
        .iter()
        .map(|ip| (ip.subnet_id.clone(), ip.ip_address.clone()))
        .collect();
    Ok(CreatePort {
        network_id,
        name,
        fixed_ips,
        security_group_ids: nic.security_group_ids.clone(),
        description,
    })
}

/// The boot request of `member` on `site` under `name`: its mapped flavor and keypair, its
/// volumes (`volume_ids`, in the plan's order) with their boot order, its pre-created ports.
pub(in crate::engine) fn server_request(
    member: &MemberPlan,
    name: &str,
    volume_ids: &[String],
    port_ids: Vec<String>,
    metadata: BTreeMap<String, String>,
    site: &str,
) -> Result<CreateServer> {
    let flavor_id = member.flavor.target_id.clone().ok_or_else(|| {
        Error::not_found(format!(
            "flavor '{}' not found on {site}",
            member.flavor.source
        ))
        .with_hint(Hint::MapResource {
            resource: MappedResource::Flavor,
            source: member.flavor.source.clone(),
            site: site.to_string(),
            isolated: false,
        })
    })?;
    let block_devices = member
        .volumes
        .iter()
        .zip(volume_ids)
        .map(|(volume, id)| BlockDevice {
            volume_id: id.clone(),
            boot_index: volume.boot_index,
            device_name: (!volume.device.is_empty()).then(|| volume.device.clone()),
            delete_on_termination: false,
        })
        .collect();
    Ok(CreateServer {
        name: name.to_string(),
        flavor_id,
        key_name: member.key_name.clone(),
        availability_zone: member.availability_zone.clone(),
        block_devices,
        port_ids,
        metadata,
    })
}

/// Waits until server `id` has finished booting, ACTIVE or ERROR, and returns it.
pub(in crate::engine) async fn wait_server_booted(
    compute: &Arc<dyn ComputeApi>,
    id: &str,
    what: &str,
    poll: &PollPolicy,
) -> Result<Server> {
    wait_server(
        compute,
        id,
        &format!("{what} to become ACTIVE"),
        poll,
        |server| {
            Ok(match server {
                Some(s) if matches!(s.status, ServerStatus::Active | ServerStatus::Error) => {
                    PollOutcome::Ready(s.clone())
                }
                Some(s) => PollOutcome::Pending(s.status.as_str().to_string()),
                None => PollOutcome::Pending("not visible yet".into()),
            })
        },
    )
    .await
}

/// Waits until Cinder volume `id` is `available` (after a manage), or `in-use` (a volume an
/// interrupted run managed and attached, adopted when it is continued); an `error*` status
/// fails at once.
pub(in crate::engine) async fn wait_volume_available(
    storage: &Arc<dyn BlockStorageApi>,
    id: &str,
    what: &str,
    poll: &PollPolicy,
) -> Result<Volume> {
    wait_volume(
        storage,
        id,
        &format!("{what} to become available"),
        poll,
        |volume| match volume {
            Some(v) if v.status == "available" || v.status == "in-use" => {
                Ok(PollOutcome::Ready(v.clone()))
            }
            Some(v) if v.status.starts_with("error") => Err(Error::unexpected(format!(
                "{what} went to status {}: check the cinder-volume log",
                v.status
            ))),
            Some(v) => Ok(PollOutcome::Pending(v.status.clone())),
            None => Ok(PollOutcome::Pending("not visible yet".into())),
        },
    )
    .await
}

/// Deletes server `id` and waits until it is gone. A missing server counts as deleted.
pub(in crate::engine) async fn remove_server(
    compute: &Arc<dyn ComputeApi>,
    id: &str,
    poll: &PollPolicy,
) -> Result<()> {
    compute.delete_server(id).await?;
    wait_server(
        compute,
        id,
        &format!("server {id} to be deleted"),
        poll,
        |server| {
            Ok(match server {
                None => PollOutcome::Ready(()),
                Some(s) if s.status == ServerStatus::Deleted => PollOutcome::Ready(()),
                Some(s) => PollOutcome::Pending(s.status.as_str().to_string()),
            })
        },
    )
    .await
}

/// Deletes Cinder volume `id` (Cinder removes its array volume) once it is detached and
/// settled, and waits until it is gone. A missing volume counts as deleted.
pub(in crate::engine) async fn remove_volume(
    storage: &Arc<dyn BlockStorageApi>,
    id: &str,
    poll: &PollPolicy,
) -> Result<()> {
    // `deleting`: someone already deletes it; wait until it is gone.
    const BUSY: [&str; 6] = [
        "creating",
        "attaching",
        "detaching",
        "reserved",
        "in-use",
        "deleting",
    ];
    let settled = wait_volume(
        storage,
        id,
        &format!("volume {id} to detach"),
        poll,
        |volume| {
            Ok(match volume {
                Some(v) if !v.attachments.is_empty() || BUSY.contains(&v.status.as_str()) => {
                    PollOutcome::Pending(v.status.clone())
                }
                other => PollOutcome::Ready(other.is_some()),
            })
        },
    )
    .await?;
    if !settled {
        return Ok(());
    }
    storage.delete_volume(id).await?;
    wait_volume(
        storage,
        id,
        &format!("volume {id} to be deleted"),
        poll,
        |volume| match volume {
            None => Ok(PollOutcome::Ready(())),
            Some(v) if v.status == "error_deleting" => Err(Error::unexpected(format!(
                "volume {id} went to status error_deleting: check the cinder-volume log, then reset its state"
            ))),
            Some(v) => Ok(PollOutcome::Pending(v.status.clone())),
        },
    )
    .await
}

/// Destroys and eradicates array volume `name`. A missing volume counts as removed.
pub(in crate::engine) async fn remove_array_volume(
    array: &Arc<dyn ArrayApi>,
    name: &str,
) -> Result<()> {
    array.destroy_volume(name).await?;
    array.eradicate_volume(name).await
}

/// Deletes servers (waiting until gone), then ports, then volumes (once detached) on the site
/// of `clients`. Missing ones count as removed. Returns what could not be removed.
pub(super) async fn remove_resources(
    clients: &SiteClients,
    servers: &[String],
    ports: &[String],
    volumes: &[String],
    poll: &super::wait::PollPolicy,
) -> Vec<String> {
    // Each kind at once (the per-service limits bound the calls): servers first, gone before
    // their ports and volumes (a volume deletes only once detached), then ports and volumes
    // together (nothing links them once the servers are gone).
    let removed = futures::future::join_all(
        servers
            .iter()
            .map(|id| async move { (id, remove_server(&clients.compute, id, poll).await) }),
    )
    .await;
    let mut leftovers: Vec<String> = removed
        .into_iter()
        .filter_map(|(id, r)| {
            r.err()
                .map(|e| format!("server {id} on {}: {}", clients.site, e.message()))
        })
        .collect();
    let (ports_removed, volumes_removed) =
        futures::join!(
            futures::future::join_all(
                ports
                    .iter()
                    .map(|id| async move { (id, clients.network.delete_port(id).await) }),
            ),
            futures::future::join_all(volumes.iter().map(|id| async move {
                (id, remove_volume(&clients.block_storage, id, poll).await)
            }),)
        );
    leftovers.extend(ports_removed.into_iter().filter_map(|(id, r)| {
        r.err()
            .map(|e| format!("port {id} on {}: {}", clients.site, e.message()))
    }));
    leftovers.extend(volumes_removed.into_iter().filter_map(|(id, r)| {
        r.err()
            .map(|e| format!("volume {id} on {}: {}", clients.site, e.message()))
    }));
    leftovers
}

/// Starts server `id` through `compute` (when SHUTOFF) and waits until it is ACTIVE (or gone).
pub(super) async fn start_server_and_wait(
    compute: &Arc<dyn crate::api::ComputeApi>,
    id: &str,
    poll: &super::wait::PollPolicy,
) -> Result<()> {
    match compute.get_server(id).await? {
        None => return Ok(()),
        Some(s) if s.status == ServerStatus::Active => return Ok(()),
        Some(_) => compute.start_server(id).await?,
    }
    wait_server(
        compute,
        id,
        &format!("server {id} to start"),
        poll,
        |server| {
            Ok(match server {
                Some(s) if s.status == ServerStatus::Active => PollOutcome::Ready(()),
                Some(s) => PollOutcome::Pending(s.status.as_str().to_string()),
                None => PollOutcome::Ready(()),
            })
        },
    )
    .await
}

/// Stops server `id` through `compute` and waits until it is SHUTOFF (or gone).
pub(super) async fn stop_server_and_wait(
    compute: &Arc<dyn crate::api::ComputeApi>,
    id: &str,
    poll: &super::wait::PollPolicy,
) -> Result<()> {
    match compute.get_server(id).await? {
        None => return Ok(()),
        Some(s) if s.status == ServerStatus::Shutoff => return Ok(()),
        Some(_) => compute.stop_server(id).await?,
    }
    wait_stopped(compute, id, &format!("server {id}"), poll).await
}

/// Waits until server `id` (`what`, for the timeout message) is SHUTOFF or gone.
pub(super) async fn wait_stopped(
    compute: &Arc<dyn crate::api::ComputeApi>,
    id: &str,
    what: &str,
    poll: &super::wait::PollPolicy,
) -> Result<()> {
    wait_server(compute, id, &format!("{what} to stop"), poll, |server| {
        Ok(match server {
            Some(s) if s.status == ServerStatus::Shutoff => PollOutcome::Ready(()),
            Some(s) => PollOutcome::Pending(s.status.as_str().to_string()),
            None => PollOutcome::Ready(()),
        })
    })
    .await
}

/// Makes `group` on `source` (with `volumes`) replicate to `target_name`, which allows it,
/// with the replication schedule of `schedule_secs` on when given. The group is created first
/// and read only when it exists already (an earlier run of the step, a failback to a site
/// that kept it): one call where a failover has none yet, instead of a read (three calls)
/// and the create. Once the group exists, the independent calls go at once (its volumes; its
/// target then the target's allowance; its schedule).
pub(super) async fn ensure_replicating(
    source: &dyn ArrayApi,
    source_name: &str,
    target: &dyn ArrayApi,
    target_name: &str,
    group: &str,
    volumes: &[String],
    schedule_secs: Option<u64>,
) -> Result<()> {
    let existing = match source.create_protection_group(group).await {
        Ok(created) => created,
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            source.get_protection_group(group).await?.ok_or_else(|| {
                Error::not_found(format!(
                    "protection group {group} on FlashArray {source_name} went away while it was set up to replicate to {target_name}: retry"
                ))
            })?
        }
        Err(e) => return Err(e),
    };
    let missing: Vec<String> = volumes
        .iter()
        .filter(|v| !existing.volumes.contains(v))
        .cloned()
        .collect();
    let add_volumes = async {
        if missing.is_empty() {
            Ok(())
        } else {
            source.add_protection_group_volumes(group, &missing).await
        }
    };
    let add_target = async {
        if !existing.targets.iter().any(|t| t.name == target_name) {
            source
                .add_protection_group_target(group, target_name)
                .await?;
        }
        target
            .set_protection_group_allowed(&format!("{source_name}:{group}"), true)
            .await
    };
    let schedule = async {
        match schedule_secs {
            Some(secs) => source.set_replication_schedule(group, true, secs).await,
            None => Ok(()),
        }
    };
    let (volumes, target, schedule) =
        futures::future::join3(add_volumes, add_target, schedule).await;
    volumes.and(target).and(schedule)
}
