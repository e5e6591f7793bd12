//! Nova's JSON views of servers, flavors and keypairs, per microversion.

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha224};

use super::super::common::{iso_seconds, SiteContext};
use super::super::microversion::Microversion;
use crate::cloud::Caller;
use crate::state::records::{FlavorRec, KeypairRec, ServerRec, ServerTask};
use crate::state::World;

/// `{base}/compute/v2.1/{path}` and the bookmark `{base}/compute/{path}`.
pub(crate) fn links(ctx: &SiteContext, path: &str) -> Value {
    json!([
        {"rel": "self", "href": format!("{}/compute/v2.1/{path}", ctx.base_url)},
        {"rel": "bookmark", "href": format!("{}/compute/{path}", ctx.base_url)},
    ])
}

fn vm_state(server: &ServerRec) -> &'static str {
    match server.status.as_str() {
        "ACTIVE" => "active",
        "SHUTOFF" => "stopped",
        "BUILD" => "building",
        "ERROR" => "error",
        _ => "unknown",
    }
}

fn task_state(server: &ServerRec) -> Value {
    match &server.task {
        Some(ServerTask::Spawning { .. }) => json!("spawning"),
        Some(ServerTask::PoweringOff { .. }) => json!("powering-off"),
        Some(ServerTask::PoweringOn { .. }) => json!("powering-on"),
        None => Value::Null,
    }
}

/// Nova's power states: 0 no state, 1 running, 4 shutdown.
fn power_state(server: &ServerRec) -> u8 {
    match server.status.as_str() {
        "ACTIVE" => 1,
        "SHUTOFF" => 4,
        _ => 0,
    }
}

/// Whether the server was scheduled to a host (it left BUILD without an error).
fn placed(server: &ServerRec) -> bool {
    matches!(server.status.as_str(), "ACTIVE" | "SHUTOFF")
}

fn compute_host(server: &ServerRec) -> String {
    crate::seed::compute_host(&server.site)
}

/// `hostId`: SHA-224 of project id and host, as Nova hashes it.
fn host_id(server: &ServerRec) -> String {
    if !placed(server) {
        return String::new();
    }
    let mut hasher = Sha224::new();
    hasher.update(server.project_id.as_bytes());
    hasher.update(compute_host(server).as_bytes());
    hex::encode(hasher.finalize())
}

fn addresses(world: &World, server: &ServerRec) -> Value {
    let mut out = Map::new();
    for port_id in &server.port_ids {
        let Some(port) = world.ports.get(port_id) else {
            continue;
        };
        let network = world
            .networks
            .get(&port.network_id)
            .map(|n| n.name.clone())
            .unwrap_or_default();
        let entry = out
            .entry(network)
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = entry {
            for (_, ip) in &port.fixed_ips {
                list.push(json!({
                    "version": 4,
                    "addr": ip,
                    "OS-EXT-IPS:type": "fixed",
                    "OS-EXT-IPS-MAC:mac_addr": port.mac_address,
                }));
            }
        }
    }
    Value::Object(out)
}

fn security_groups(world: &World, server: &ServerRec) -> Value {
    let mut names: Vec<String> = Vec::new();
    for port_id in &server.port_ids {
        if let Some(port) = world.ports.get(port_id) {
            for id in &port.security_group_ids {
                if let Some(group) = world.security_groups.get(id) {
                    if !names.contains(&group.name) {
                        names.push(group.name.clone());
                    }
                }
            }
        }
    }
    Value::Array(names.into_iter().map(|n| json!({ "name": n })).collect())
}

fn flavor(ctx: &SiteContext, world: &World, server: &ServerRec, v: Microversion) -> Value {
    if !v.at_least(47) {
        return json!({
            "id": server.flavor_id,
            "links": [{"rel": "bookmark", "href": format!("{}/compute/flavors/{}", ctx.base_url, server.flavor_id)}],
        });
    }
    let (vcpus, ram, disk) = world
        .flavors
        .get(&server.flavor_id)
        .map(|f| (f.vcpus, f.ram_mb, f.disk_gb))
        .unwrap_or_default();
    json!({
        "vcpus": vcpus,
        "ram": ram,
        "disk": disk,
        "ephemeral": 0,
        "swap": 0,
        "original_name": server.flavor_name,
        "extra_specs": {},
    })
}

/// The full view of `GET /servers/{id}` and `GET /servers/detail`.
pub(crate) fn server(
    ctx: &SiteContext,
    world: &World,
    caller: &Caller,
    server: &ServerRec,
    v: Microversion,
) -> Value {
    let updated = server.updated.unwrap_or(server.created);
    let launched = placed(server).then(|| iso_seconds(server.created));
    let volumes: Vec<Value> = server
        .volumes
        .iter()
        .map(|attached| {
            if v.at_least(3) {
                json!({"id": attached.volume_id, "delete_on_termination": attached.delete_on_termination})
            } else {
                json!({ "id": attached.volume_id })
            }
        })
        .collect();
    let mut body = json!({
        "id": server.id,
        "name": server.name,
        "status": server.status,
        "tenant_id": server.project_id,
        "user_id": server.user_id,
        "metadata": server.metadata,
        "hostId": host_id(server),
        "image": "",
        "flavor": flavor(ctx, world, server, v),
        "created": iso_seconds(server.created),
        "updated": iso_seconds(updated),
        "addresses": addresses(world, server),
        "accessIPv4": "",
        "accessIPv6": "",
        "links": links(ctx, &format!("servers/{}", server.id)),
        "OS-DCF:diskConfig": "MANUAL",
        "progress": 0,
        "OS-EXT-AZ:availability_zone": server.availability_zone,
        "config_drive": "",
        "key_name": server.key_name,
        "OS-SRV-USG:launched_at": launched.map(|t| t.trim_end_matches('Z').to_string() + ".000000"),
        "OS-SRV-USG:terminated_at": null,
        "security_groups": security_groups(world, server),
        "os-extended-volumes:volumes_attached": volumes,
        "OS-EXT-STS:task_state": task_state(server),
        "OS-EXT-STS:vm_state": vm_state(server),
        "OS-EXT-STS:power_state": power_state(server),
    });
    if server.status == "ERROR" {
        let mut fault = json!({
            "code": 500,
            "created": iso_seconds(updated),
            "message": server.fault.clone().unwrap_or_default(),
        });
        if caller.is_admin() {
            fault["details"] = json!("");
        }
        body["fault"] = fault;
    }
    if caller.is_admin() {
        let host = placed(server).then(|| compute_host(server));
        body["OS-EXT-SRV-ATTR:host"] = json!(host);
        body["OS-EXT-SRV-ATTR:hypervisor_hostname"] =
            json!(host.as_ref().map(|h| format!("{h}.sim.invalid")));
        body["OS-EXT-SRV-ATTR:instance_name"] = json!(format!("instance-{:08x}", server.seq));
        if v.at_least(3) {
            body["OS-EXT-SRV-ATTR:reservation_id"] =
                json!(format!("r-{}", &server.id.replace('-', "")[..8]));
            body["OS-EXT-SRV-ATTR:launch_index"] = json!(0);
            body["OS-EXT-SRV-ATTR:hostname"] = json!(hostname(&server.name));
            body["OS-EXT-SRV-ATTR:kernel_id"] = json!("");
            body["OS-EXT-SRV-ATTR:ramdisk_id"] = json!("");
            body["OS-EXT-SRV-ATTR:root_device_name"] = json!("/dev/vda");
            body["OS-EXT-SRV-ATTR:user_data"] = Value::Null;
        }
        if v.at_least(16) {
            body["host_status"] = json!(if placed(server) { "UP" } else { "" });
        }
    } else if v.at_least(90) {
        body["OS-EXT-SRV-ATTR:hostname"] = json!(hostname(&server.name));
    }
    if v.at_least(9) {
        body["locked"] = json!(false);
    }
    if v.at_least(19) {
        body["description"] = json!(server.description);
    }
    if v.at_least(26) {
        body["tags"] = json!([]);
    }
    if v.at_least(63) {
        body["trusted_image_certificates"] = Value::Null;
    }
    if v.at_least(73) {
        body["locked_reason"] = Value::Null;
    }
    if v.at_least(96) {
        body["pinned_availability_zone"] = Value::Null;
    }
    body
}

/// Nova's sanitised hostname of a server name.
fn hostname(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    out.truncate(63);
    out.trim_matches('-').to_string()
}

/// The summary of `GET /servers`.
pub(crate) fn server_summary(ctx: &SiteContext, server: &ServerRec) -> Value {
    json!({
        "id": server.id,
        "name": server.name,
        "links": links(ctx, &format!("servers/{}", server.id)),
    })
}

/// A flavor, summary or detailed.
pub(crate) fn flavor_view(
    ctx: &SiteContext,
    f: &FlavorRec,
    detail: bool,
    v: Microversion,
) -> Value {
    let mut body = json!({
        "id": f.id,
        "name": f.name,
        "links": links(ctx, &format!("flavors/{}", f.id)),
    });
    if v.at_least(55) {
        body["description"] = Value::Null;
    }
    if detail {
        body["ram"] = json!(f.ram_mb);
        body["disk"] = json!(f.disk_gb);
        body["vcpus"] = json!(f.vcpus);
        body["swap"] = if v.at_least(75) { json!(0) } else { json!("") };
        body["OS-FLV-EXT-DATA:ephemeral"] = json!(0);
        body["OS-FLV-DISABLED:disabled"] = json!(false);
        body["os-flavor-access:is_public"] = json!(true);
        body["rxtx_factor"] = json!(1.0);
        if v.at_least(61) {
            body["extra_specs"] = json!({});
        }
    }
    body
}

/// A keypair in a list.
pub(crate) fn keypair_in_list(k: &KeypairRec, v: Microversion) -> Value {
    let mut body = json!({
        "name": k.name,
        "public_key": k.public_key,
        "fingerprint": k.fingerprint,
    });
    if v.at_least(2) {
        body["type"] = json!(keypair_type(k));
    }
    json!({ "keypair": body })
}

fn keypair_type(k: &KeypairRec) -> &str {
    if k.key_type.is_empty() {
        "ssh"
    } else {
        &k.key_type
    }
}

/// A keypair shown (`GET /os-keypairs/{name}`).
pub(crate) fn keypair_show(world: &World, k: &KeypairRec, v: Microversion) -> Value {
    let mut body = json!({
        "name": k.name,
        "public_key": k.public_key,
        "fingerprint": k.fingerprint,
        "user_id": k.user_id,
        "created_at": iso_seconds(k.created.unwrap_or(world.meta.epoch)).trim_end_matches('Z').to_string() + ".000000",
        "updated_at": null,
        "deleted_at": null,
        "deleted": false,
        "id": 1 + world.keypairs.values().position(|other| other.site == k.site && other.user_id == k.user_id && other.name == k.name).unwrap_or(0),
    });
    if v.at_least(2) {
        body["type"] = json!(keypair_type(k));
    }
    json!({ "keypair": body })
}

/// A keypair as created (with the private key when Nova generated it).
pub(crate) fn keypair_created(k: &KeypairRec, private_key: Option<&str>, v: Microversion) -> Value {
    let mut body = json!({
        "name": k.name,
        "public_key": k.public_key,
        "fingerprint": k.fingerprint,
        "user_id": k.user_id,
    });
    if v.at_least(2) {
        body["type"] = json!(keypair_type(k));
    }
    if let Some(private_key) = private_key {
        body["private_key"] = json!(private_key);
    }
    json!({ "keypair": body })
}
