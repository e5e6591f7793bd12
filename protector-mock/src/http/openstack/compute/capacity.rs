//! Nova's limits, quota sets, hypervisors and availability zones (`GET /limits`,
//! `/os-quota-sets/{project_id}[/detail|/defaults]`, `/os-hypervisors[/detail]`,
//! `/os-availability-zone[/detail]`), each as the real API shapes it at the requested
//! microversion.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Map, Value};

use super::{from_core, nova_call, F};
use crate::cloud::capacity::{self, default_quota, quota, usage, Usage};
use crate::cloud::Caller;
use crate::http::openstack::common::{json_response, parse_query, ApiError, SiteContext};
use crate::http::openstack::microversion::Microversion;
use crate::state::records::QuotaRec;
use crate::state::World;

/// The project whose quota `caller` asks for: its own, or any for an admin (`tenant_id`).
fn project_of(world: &World, caller: &Caller, wanted: Option<&String>) -> Result<String, ApiError> {
    match wanted.filter(|p| **p != caller.project_id) {
        None => Ok(caller.project_id.clone()),
        Some(_) if !caller.is_admin() => Err(ApiError::forbidden(
            F,
            "Policy doesn't allow os_compute_api:os-quota-sets:show to be performed.",
        )),
        Some(p) => Ok(world
            .projects
            .find(|rec| rec.site == caller.site && (rec.id == *p || rec.name == *p))
            .map_or_else(|| p.clone(), |rec| rec.id.clone())),
    }
}

/// `GET /limits[?tenant_id=]`.
pub(super) async fn limits(
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    nova_call(&ctx, "get_limits", &headers, move |world, caller, v| {
        let query = parse_query(raw.as_deref());
        let project = project_of(world, caller, query.get("tenant_id"))?;
        let q = quota(world, &caller.site, &project);
        let u = usage(world, &caller.site, &project);
        let mut absolute = json!({
            "maxTotalInstances": q.instances, "totalInstancesUsed": u.instances,
            "maxTotalCores": q.cores, "totalCoresUsed": u.cores,
            "maxTotalRAMSize": q.ram, "totalRAMUsed": u.ram,
            "maxServerMeta": 128, "maxTotalKeypairs": 100,
            "maxServerGroups": 10, "maxServerGroupMembers": 10, "totalServerGroupsUsed": 0,
        });
        let fields = absolute.as_object_mut().expect("an object");
        if !v.at_least(39) {
            fields.insert("maxImageMeta".into(), json!(128));
        }
        if !v.at_least(36) {
            for (key, value) in [
                ("maxSecurityGroups", 10),
                ("maxSecurityGroupRules", 20),
                ("maxTotalFloatingIps", 10),
                ("totalFloatingIpsUsed", 0),
                ("totalSecurityGroupsUsed", 0),
            ] {
                fields.insert(key.into(), json!(value));
            }
        }
        if !v.at_least(57) {
            fields.insert("maxPersonality".into(), json!(5));
            fields.insert("maxPersonalitySize".into(), json!(10240));
        }
        Ok(json_response(
            StatusCode::OK,
            &json!({"limits": {"rate": [], "absolute": absolute}}),
        ))
    })
    .await
}

/// The quota set's resources at `v`: (name, limit, in use).
fn quota_items(q: &QuotaRec, u: &Usage, v: Microversion) -> Vec<(&'static str, i64, i64)> {
    let mut items = vec![
        ("instances", q.instances, u.instances),
        ("cores", q.cores, u.cores),
        ("ram", q.ram, u.ram),
        ("metadata_items", 128, 0),
        ("key_pairs", 100, 0),
        ("server_groups", 10, 0),
        ("server_group_members", 10, 0),
    ];
    if !v.at_least(36) {
        items.extend([
            ("fixed_ips", -1, 0),
            ("floating_ips", 10, 0),
            ("security_groups", 10, 0),
            ("security_group_rules", 20, 0),
        ]);
    }
    if !v.at_least(57) {
        items.extend([
            ("injected_files", 5, 0),
            ("injected_file_content_bytes", 10240, 0),
            ("injected_file_path_bytes", 255, 0),
        ]);
    }
    items
}

/// `GET /os-quota-sets/{project_id}`, `/detail` (with usage) and `/defaults`.
pub(super) async fn quota_set(
    State(ctx): State<SiteContext>,
    Path(params): Path<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    let project = params
        .iter()
        .find(|(k, _)| k == "project_id")
        .map(|(_, p)| p.clone())
        .unwrap_or_default();
    let view = params
        .iter()
        .find(|(k, _)| k == "view")
        .map(|(_, p)| p.clone());
    nova_call(&ctx, "show_quota_set", &headers, move |world, caller, v| {
        let id = project_of(world, caller, Some(&project))?;
        let (q, u) = match view.as_deref() {
            Some("defaults") => (default_quota(&caller.site, &id), Usage::default()),
            None | Some("detail") => (
                quota(world, &caller.site, &id),
                usage(world, &caller.site, &id),
            ),
            Some(other) => {
                return Err(ApiError::not_found(
                    F,
                    format!("The resource could not be found. ({other})"),
                ))
            }
        };
        let mut set = Map::new();
        set.insert("id".into(), json!(project));
        for (name, limit, in_use) in quota_items(&q, &u, v) {
            let value = if view.as_deref() == Some("detail") {
                json!({"limit": limit, "in_use": in_use, "reserved": 0})
            } else {
                json!(limit)
            };
            set.insert(name.into(), value);
        }
        Ok(json_response(StatusCode::OK, &json!({ "quota_set": set })))
    })
    .await
}

/// `GET /os-hypervisors` and `/os-hypervisors/detail` (admin only).
pub(super) async fn hypervisors(
    State(ctx): State<SiteContext>,
    headers: HeaderMap,
    detail: bool,
) -> Response {
    nova_call(
        &ctx,
        "list_hypervisors",
        &headers,
        move |world, caller, v| {
            let items = hypervisor_views(world, caller, v, detail)?;
            Ok(json_response(
                StatusCode::OK,
                &json!({ "hypervisors": items }),
            ))
        },
    )
    .await
}

/// `GET /os-hypervisors/{id}` (admin only), always the detailed view.
pub(super) async fn show_hypervisor(
    State(ctx): State<SiteContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    nova_call(&ctx, "get_hypervisor", &headers, move |world, caller, v| {
        let found = hypervisor_views(world, caller, v, true)?
            .into_iter()
            .find(|h| {
                h["id"]
                    .as_str()
                    .map_or_else(|| h["id"].to_string(), str::to_string)
                    == id
            })
            .ok_or_else(|| {
                ApiError::not_found(F, format!("Hypervisor with ID {id} could not be found."))
            })?;
        Ok(json_response(
            StatusCode::OK,
            &json!({ "hypervisor": found }),
        ))
    })
    .await
}

fn hypervisor_views(
    world: &World,
    caller: &Caller,
    v: Microversion,
    detail: bool,
) -> Result<Vec<Value>, ApiError> {
    let list = capacity::list_hypervisors(world, caller).map_err(from_core)?;
    let items: Vec<Value> = list
        .into_iter()
        .map(|h| {
            let id = if v.at_least(53) {
                json!(world.derived_uuid(&["hypervisor", &caller.site, &h.hostname]))
            } else {
                json!(h.id.parse::<u64>().unwrap_or_default())
            };
            let mut view = json!({
                "id": id,
                "hypervisor_hostname": h.hostname,
                "state": if h.up { "up" } else { "down" },
                "status": if h.enabled { "enabled" } else { "disabled" },
            });
            if !detail {
                return view;
            }
            let fields = view.as_object_mut().expect("an object");
            let service_id = if v.at_least(53) {
                json!(world.derived_uuid(&["compute-service", &caller.site, &h.hostname]))
            } else {
                json!(h.id.parse::<u64>().unwrap_or_default() + 100)
            };
            fields.insert("hypervisor_type".into(), json!("QEMU"));
            fields.insert("hypervisor_version".into(), json!(8_002_000));
            fields.insert("host_ip".into(), json!("192.0.2.10"));
            fields.insert(
                "service".into(),
                json!({"host": h.service_host, "id": service_id,
                       "disabled_reason": if h.enabled { Value::Null } else { json!("disabled") }}),
            );
            if v.at_least(88) {
                fields.insert("uptime".into(), Value::Null);
            } else {
                let running = world
                    .servers
                    .values()
                    .filter(|s| s.site == caller.site && s.host.as_deref() == Some(&h.hostname))
                    .count();
                for (key, value) in [
                    ("vcpus", json!(h.vcpus)),
                    ("vcpus_used", json!(h.vcpus_used)),
                    ("memory_mb", json!(h.memory_mb)),
                    ("memory_mb_used", json!(h.memory_mb_used)),
                    (
                        "free_ram_mb",
                        json!(h.memory_mb as i64 - h.memory_mb_used as i64),
                    ),
                    ("local_gb", json!(1000)),
                    ("local_gb_used", json!(0)),
                    ("free_disk_gb", json!(1000)),
                    ("disk_available_least", json!(1000)),
                    ("current_workload", json!(0)),
                    ("running_vms", json!(running)),
                    ("cpu_info", json!("{}")),
                ] {
                    fields.insert(key.into(), value);
                }
            }
            view
        })
        .collect();
    Ok(items)
}

/// `GET /os-availability-zone` (everyone) and `/os-availability-zone/detail` (admin only,
/// with the hosts of each zone and Nova's `internal` zone of control services).
pub(super) async fn availability_zones(
    State(ctx): State<SiteContext>,
    headers: HeaderMap,
    detail: bool,
) -> Response {
    nova_call(&ctx, "list_availability_zones", &headers, move |world, caller, _| {
        if detail && !caller.is_admin() {
            return Err(ApiError::forbidden(
                F,
                "Policy doesn't allow os_compute_api:os-availability-zone:detail to be performed.",
            ));
        }
        let updated = world.now().format("%Y-%m-%dT%H:%M:%S.000000").to_string();
        let service = |available: bool| {
            json!({"available": available, "active": true, "updated_at": updated})
        };
        let mut items = Vec::new();
        if detail {
            let controller = format!("{}-controller", caller.site);
            items.push(json!({
                "zoneName": "internal", "zoneState": {"available": true},
                "hosts": {controller: {"nova-conductor": service(true), "nova-scheduler": service(true)}},
            }));
        }
        for zone in capacity::availability_zones(world, &caller.site) {
            let hosts = if detail {
                let mut hosts = Map::new();
                for host in &zone.hosts {
                    let enabled = world
                        .hypervisors
                        .get(&format!("{}/{host}", caller.site))
                        .is_none_or(|h| h.enabled);
                    hosts.insert(host.clone(), json!({"nova-compute": service(enabled)}));
                }
                Value::Object(hosts)
            } else {
                Value::Null
            };
            items.push(json!({
                "zoneName": zone.name, "zoneState": {"available": zone.available}, "hosts": hosts,
            }));
        }
        Ok(json_response(
            StatusCode::OK,
            &json!({ "availabilityZoneInfo": items }),
        ))
    })
    .await
}

/// `GET /os-aggregates` (admin only): one host aggregate per availability zone other than
/// Nova's default one, which needs none.
pub(super) async fn aggregates(State(ctx): State<SiteContext>, headers: HeaderMap) -> Response {
    nova_call(
        &ctx,
        "list_aggregates",
        &headers,
        move |world, caller, v| {
            if !caller.is_admin() {
                return Err(ApiError::forbidden(
                    F,
                    "Policy doesn't allow os_compute_api:os-aggregates:index to be performed.",
                ));
            }
            let created = crate::http::openstack::text::iso_seconds(world.meta.epoch);
            let items: Vec<Value> = capacity::availability_zones(world, &caller.site)
            .into_iter()
            .filter(|z| z.name != capacity::DEFAULT_ZONE)
            .enumerate()
            .map(|(index, z)| {
                let mut view = json!({
                    "id": index + 1, "name": z.name, "availability_zone": z.name,
                    "hosts": z.hosts, "metadata": {"availability_zone": z.name},
                    "created_at": created, "updated_at": null, "deleted": false, "deleted_at": null,
                });
                if v.at_least(41) {
                    view["uuid"] = json!(world.derived_uuid(&["aggregate", &caller.site, &z.name]));
                }
                view
            })
            .collect();
            Ok(json_response(
                StatusCode::OK,
                &json!({ "aggregates": items }),
            ))
        },
    )
    .await
}
