//! Nova (compute API v2.1).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use protector_core::api::{
    AttachedVolume, AvailabilityZone, ComputeApi, ComputeLimits, CreateServer, Flavor, Hypervisor,
    Keypair, ListServers, Server, ServerStatus,
};
use protector_core::{Error, ErrorKind, Result};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::catalog::ServiceType;
use crate::service::{null_default, take, Microversion, ServiceClient, Versions};
use crate::session::Session;

/// Show and list: from 2.47 the flavor is embedded with its `original_name`.
const SHOW: Versions = Versions::range((2, 1), (2, 47));
/// Create: 2.74 (the schema `create_v274`); our body is valid from 2.1 on.
const CREATE: Versions = Versions::range((2, 1), (2, 74));
/// `os-stop`, `os-start`, delete: unchanged since 2.1.
const ACTION: Versions = Versions::exactly(2, 1);
/// Flavors: the fields we read are in 2.1.
const FLAVORS: Versions = Versions::exactly(2, 1);
/// Keypairs: `type` appears in 2.2.
const KEYPAIRS: Versions = Versions::range((2, 1), (2, 2));
/// From 2.37 `networks` is required; `"none"` says there are none.
const NETWORKS_REQUIRED: Microversion = Microversion(2, 37);

/// Nova of one cloud, implementing [`ComputeApi`].
#[derive(Debug)]
pub struct ComputeClient {
    service: ServiceClient,
}

impl ComputeClient {
    pub(crate) fn new(session: Arc<Session>) -> Self {
        ComputeClient {
            service: ServiceClient::new(session, ServiceType::Compute),
        }
    }

    async fn show(&self, id: &str) -> Result<Option<ServerWire>> {
        let request = self
            .service
            .request(
                Method::GET,
                &["servers", id],
                format!("show server {id}"),
                Some(SHOW),
            )
            .await?;
        self.service.get_optional(&request, "server").await
    }

    /// Sends `os-stop` / `os-start`; a 409 means done when the server is already in `target`
    /// or on its way there (`task_state`).
    async fn power_action(&self, id: &str, action: &str, target: &str, task: &str) -> Result<()> {
        let verb = action.trim_start_matches("os-");
        let request = self
            .service
            .request(
                Method::POST,
                &["servers", id, "action"],
                format!("{verb} server {id}"),
                Some(ACTION),
            )
            .await?
            .json(json!({ action: null }));
        match self.service.send(&request).await {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == ErrorKind::Conflict => match self.show(id).await? {
                Some(s) if s.status == target || s.task_state.as_deref() == Some(task) => Ok(()),
                Some(_) => Err(e),
                None => Err(Error::not_found(format!(
                    "{verb} server {id}: no such server"
                ))),
            },
            Err(e) => Err(e.with_context("server", id)),
        }
    }
}

#[async_trait]
impl ComputeApi for ComputeClient {
    async fn get_server(&self, id: &str) -> Result<Option<Server>> {
        Ok(self.show(id).await?.map(Server::from))
    }

    async fn list_servers(&self, filter: &ListServers) -> Result<Vec<Server>> {
        let mut request = self
            .service
            .request(
                Method::GET,
                &["servers", "detail"],
                "list servers",
                Some(SHOW),
            )
            .await?;
        if let Some(name) = &filter.name {
            // Nova's name filter is a regular expression.
            request = request.query("name", &format!("^{}$", regex_escape(name)));
        }
        let servers: Vec<ServerWire> = self.service.list(request, "servers").await?;
        // Nova has no metadata filter, and the name is checked again for exactness.
        Ok(servers
            .into_iter()
            .map(Server::from)
            .filter(|s| filter.name.as_ref().is_none_or(|n| &s.name == n))
            .filter(|s| {
                filter
                    .metadata
                    .as_ref()
                    .is_none_or(|(k, v)| s.metadata.get(k) == Some(v))
            })
            .collect())
    }

    async fn create_server(&self, request: &CreateServer) -> Result<Server> {
        let mut http = self
            .service
            .request(
                Method::POST,
                &["servers"],
                format!("create server '{}'", request.name),
                Some(CREATE),
            )
            .await?;
        // The body depends on the microversion: written again if the cloud wants an older one.
        let create = request.clone();
        http = http.json_at(Arc::new(move |version| create_body(&create, version)));
        let response = self
            .service
            .send(&http)
            .await
            .map_err(|e| e.with_context("server_name", request.name.clone()))?;
        let created: CreatedWire = take(&response, "server")?;
        Ok(Server {
            id: created.id,
            name: request.name.clone(),
            status: ServerStatus::Build,
            project_id: self.service.project_id().await?,
            flavor_id: request.flavor_id.clone(),
            flavor_name: String::new(),
            key_name: request.key_name.clone(),
            availability_zone: request.availability_zone.clone(),
            attached_volumes: request
                .block_devices
                .iter()
                .map(|b| AttachedVolume {
                    volume_id: b.volume_id.clone(),
                    delete_on_termination: b.delete_on_termination,
                })
                .collect(),
            security_groups: unique(created.security_groups.into_iter().map(|g| g.name)),
            metadata: request.metadata.clone(),
            fault: None,
        })
    }

    async fn stop_server(&self, id: &str) -> Result<()> {
        self.power_action(id, "os-stop", "SHUTOFF", "powering-off")
            .await
    }

    async fn start_server(&self, id: &str) -> Result<()> {
        self.power_action(id, "os-start", "ACTIVE", "powering-on")
            .await
    }

    async fn delete_server(&self, id: &str) -> Result<()> {
        let request = self
            .service
            .request(
                Method::DELETE,
                &["servers", id],
                format!("delete server {id}"),
                Some(ACTION),
            )
            .await?;
        self.service.send_optional(&request).await.map(|_| ())
    }

    async fn find_flavor(&self, id_or_name: &str) -> Result<Option<Flavor>> {
        let request = self
            .service
            .request(
                Method::GET,
                &["flavors", id_or_name],
                format!("show flavor {id_or_name}"),
                Some(FLAVORS),
            )
            .await?;
        if let Some(flavor) = self
            .service
            .get_optional::<FlavorWire>(&request, "flavor")
            .await?
        {
            return Ok(Some(flavor.into()));
        }
        let mut named: Vec<Flavor> = self
            .list_flavors()
            .await?
            .into_iter()
            .filter(|f| f.name == id_or_name)
            .collect();
        match named.len() {
            0 | 1 => Ok(named.pop()),
            _ => Err(Error::conflict(format!(
                "several flavors are named '{id_or_name}' ({}); use the flavor id",
                named
                    .iter()
                    .map(|f| f.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    async fn list_flavors(&self) -> Result<Vec<Flavor>> {
        // `is_public=None`: admins see private flavors too; others get public + accessible.
        let request = self
            .service
            .request(
                Method::GET,
                &["flavors", "detail"],
                "list flavors",
                Some(FLAVORS),
            )
            .await?
            .query("is_public", "None");
        let flavors: Vec<FlavorWire> = self.service.list(request, "flavors").await?;
        Ok(flavors.into_iter().map(Flavor::from).collect())
    }

    async fn get_keypair(&self, name: &str) -> Result<Option<Keypair>> {
        let request = self
            .service
            .request(
                Method::GET,
                &["os-keypairs", name],
                format!("show keypair {name}"),
                Some(KEYPAIRS),
            )
            .await?;
        let keypair: Option<KeypairWire> = self.service.get_optional(&request, "keypair").await?;
        Ok(keypair.map(|k| Keypair {
            name: k.name,
            public_key: k.public_key,
            fingerprint: k.fingerprint,
        }))
    }
    async fn get_limits(&self) -> Result<ComputeLimits> {
        crate::capacity::compute_limits(&self.service).await
    }

    async fn list_hypervisors(&self) -> Result<Vec<Hypervisor>> {
        crate::capacity::hypervisors(&self.service).await
    }

    async fn list_availability_zones(&self) -> Result<Vec<AvailabilityZone>> {
        crate::capacity::availability_zones(&self.service).await
    }
}

/// The `POST /servers` body: boot from existing volumes, pre-created ports, no image.
fn create_body(request: &CreateServer, version: Microversion) -> Value {
    let mut server = Map::new();
    server.insert("name".into(), json!(request.name));
    server.insert("flavorRef".into(), json!(request.flavor_id));
    let devices: Vec<Value> = request
        .block_devices
        .iter()
        .map(|b| {
            let mut device = json!({
                "boot_index": b.boot_index,
                "uuid": b.volume_id,
                "source_type": "volume",
                "destination_type": "volume",
                "delete_on_termination": b.delete_on_termination,
            });
            if let Some(name) = &b.device_name {
                device["device_name"] = json!(name);
            }
            device
        })
        .collect();
    server.insert("block_device_mapping_v2".into(), Value::Array(devices));
    let networks: Vec<Value> = request
        .port_ids
        .iter()
        .map(|p| json!({ "port": p }))
        .collect();
    if !networks.is_empty() {
        server.insert("networks".into(), Value::Array(networks));
    } else if version >= NETWORKS_REQUIRED {
        server.insert("networks".into(), json!("none"));
    }
    if let Some(key) = &request.key_name {
        server.insert("key_name".into(), json!(key));
    }
    if let Some(zone) = &request.availability_zone {
        server.insert("availability_zone".into(), json!(zone));
    }
    if !request.metadata.is_empty() {
        server.insert("metadata".into(), json!(request.metadata));
    }
    json!({ "server": server })
}

fn regex_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

fn unique(names: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in names {
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

#[derive(Deserialize)]
struct ServerWire {
    id: String,
    #[serde(default, deserialize_with = "null_default")]
    name: String,
    #[serde(default, deserialize_with = "null_default")]
    status: String,
    #[serde(default, deserialize_with = "null_default")]
    tenant_id: String,
    #[serde(default, deserialize_with = "null_default")]
    flavor: FlavorRefWire,
    #[serde(default)]
    key_name: Option<String>,
    #[serde(rename = "OS-EXT-AZ:availability_zone", default)]
    availability_zone: Option<String>,
    #[serde(rename = "OS-EXT-STS:task_state", default)]
    task_state: Option<String>,
    #[serde(
        rename = "os-extended-volumes:volumes_attached",
        default,
        deserialize_with = "null_default"
    )]
    volumes_attached: Vec<AttachedWire>,
    #[serde(default, deserialize_with = "null_default")]
    security_groups: Vec<NameWire>,
    #[serde(default, deserialize_with = "null_default")]
    metadata: BTreeMap<String, String>,
    #[serde(default)]
    fault: Option<FaultWire>,
}

/// Before 2.47 `{id, links}`; from 2.47 `{original_name, vcpus, …}` without the id.
#[derive(Deserialize, Default)]
struct FlavorRefWire {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    original_name: Option<String>,
}

#[derive(Deserialize)]
struct AttachedWire {
    id: String,
    #[serde(default)]
    delete_on_termination: bool,
}

#[derive(Deserialize)]
struct NameWire {
    name: String,
}

#[derive(Deserialize)]
struct FaultWire {
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
struct CreatedWire {
    id: String,
    #[serde(default, deserialize_with = "null_default")]
    security_groups: Vec<NameWire>,
}

#[derive(Deserialize)]
struct FlavorWire {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    vcpus: u32,
    #[serde(default)]
    ram: u64,
    #[serde(default)]
    disk: u64,
}

#[derive(Deserialize)]
struct KeypairWire {
    name: String,
    #[serde(default)]
    public_key: String,
    #[serde(default)]
    fingerprint: String,
}

impl From<ServerWire> for Server {
    fn from(w: ServerWire) -> Self {
        Server {
            id: w.id,
            name: w.name,
            status: ServerStatus::parse(&w.status),
            project_id: w.tenant_id,
            flavor_id: w.flavor.id.unwrap_or_default(),
            flavor_name: w.flavor.original_name.unwrap_or_default(),
            key_name: w.key_name.filter(|k| !k.is_empty()),
            availability_zone: w.availability_zone.filter(|z| !z.is_empty()),
            attached_volumes: w
                .volumes_attached
                .into_iter()
                .map(|v| AttachedVolume {
                    volume_id: v.id,
                    delete_on_termination: v.delete_on_termination,
                })
                .collect(),
            security_groups: unique(w.security_groups.into_iter().map(|g| g.name)),
            metadata: w.metadata,
            fault: w.fault.map(|f| f.message).filter(|m| !m.is_empty()),
        }
    }
}

impl From<FlavorWire> for Flavor {
    fn from(w: FlavorWire) -> Self {
        Flavor {
            id: w.id,
            name: w.name,
            vcpus: w.vcpus,
            ram_mb: w.ram,
            disk_gb: w.disk,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_metacharacters_are_escaped() {
        assert_eq!(regex_escape("web-01.a(b)"), r"web-01\.a\(b\)");
    }

    #[test]
    fn servers_without_ports_say_none_from_2_37() {
        let request = CreateServer {
            name: "s".into(),
            flavor_id: "f".into(),
            key_name: None,
            availability_zone: None,
            block_devices: Vec::new(),
            port_ids: Vec::new(),
            metadata: BTreeMap::new(),
        };
        assert_eq!(
            create_body(&request, Microversion(2, 74))["server"]["networks"],
            json!("none")
        );
        assert!(create_body(&request, Microversion(2, 1))["server"]
            .get("networks")
            .is_none());
    }
}
