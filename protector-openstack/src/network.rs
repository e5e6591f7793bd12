//! Neutron (network API v2.0). Neutron has no microversions.

use std::sync::Arc;

use async_trait::async_trait;
use protector_core::api::{
    CreatePort, ListPorts, Network, NetworkApi, Port, PortFixedIp, SecurityGroup, Subnet,
};
use protector_core::{Error, Result};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::catalog::ServiceType;
use crate::service::{null_default, take, ServiceClient};
use crate::session::Session;

/// Neutron of one cloud, implementing [`NetworkApi`].
#[derive(Debug)]
pub struct NetworkClient {
    service: ServiceClient,
}

impl NetworkClient {
    pub(crate) fn new(session: Arc<Session>) -> Self {
        NetworkClient {
            service: ServiceClient::new(session, ServiceType::Network),
        }
    }

    async fn subnets(&self, network_id: Option<&str>) -> Result<Vec<SubnetWire>> {
        let mut request = self
            .service
            .request(Method::GET, &["subnets"], "list subnets", None)
            .await?;
        if let Some(id) = network_id {
            request = request.query("network_id", id);
        }
        self.service.list(request, "subnets").await
    }

    /// `wanted` among `candidates` found by name: the project's own first, then one visible
    /// from elsewhere (shared); several left is ambiguous.
    async fn pick<T>(
        &self,
        what: &str,
        wanted: &str,
        candidates: Vec<T>,
        owner: impl Fn(&T) -> &str,
        id: impl Fn(&T) -> &str,
    ) -> Result<Option<T>> {
        let project = self.service.project_id().await?;
        let (mut own, mut other): (Vec<T>, Vec<T>) =
            candidates.into_iter().partition(|c| owner(c) == project);
        let pool = if own.is_empty() { &mut other } else { &mut own };
        match pool.len() {
            0 | 1 => Ok(pool.pop()),
            _ => Err(Error::conflict(format!(
                "several {what}s are named '{wanted}' ({}); use the id",
                pool.iter().map(&id).collect::<Vec<_>>().join(", ")
            ))),
        }
    }
}

#[async_trait]
impl NetworkApi for NetworkClient {
    async fn find_network(&self, id_or_name: &str) -> Result<Option<Network>> {
        let request = self
            .service
            .request(
                Method::GET,
                &["networks", id_or_name],
                format!("show network {id_or_name}"),
                None,
            )
            .await?;
        let network = match self
            .service
            .get_optional::<NetworkWire>(&request, "network")
            .await?
        {
            Some(network) => Some(network),
            None => {
                let request = self
                    .service
                    .request(
                        Method::GET,
                        &["networks"],
                        format!("find network '{id_or_name}'"),
                        None,
                    )
                    .await?
                    .query("name", id_or_name);
                let found: Vec<NetworkWire> = self.service.list(request, "networks").await?;
                let found = found.into_iter().filter(|n| n.name == id_or_name).collect();
                self.pick("network", id_or_name, found, |n| n.owner(), |n| &n.id)
                    .await?
            }
        };
        match network {
            Some(network) => {
                let subnets = self.subnets(Some(&network.id)).await?;
                Ok(Some(network.into_network(&subnets)))
            }
            None => Ok(None),
        }
    }

    async fn list_networks(&self) -> Result<Vec<Network>> {
        let request = self
            .service
            .request(Method::GET, &["networks"], "list networks", None)
            .await?;
        // The subnets do not depend on the networks: both lists at once.
        let (networks, subnets) = tokio::try_join!(
            self.service.list::<NetworkWire>(request, "networks"),
            self.subnets(None)
        )?;
        Ok(networks
            .into_iter()
            .map(|n| n.into_network(&subnets))
            .collect())
    }

    async fn list_ports(&self, filter: &ListPorts) -> Result<Vec<Port>> {
        let mut request = self
            .service
            .request(Method::GET, &["ports"], "list ports", None)
            .await?;
        for (key, value) in [
            ("device_id", &filter.device_id),
            ("network_id", &filter.network_id),
            ("description", &filter.description),
        ] {
            if let Some(value) = value {
                request = request.query(key, value);
            }
        }
        let ports: Vec<PortWire> = self.service.list(request, "ports").await?;
        // Checked again here: not every deployment filters on every attribute.
        Ok(ports
            .into_iter()
            .map(Port::from)
            .filter(|p| filter.device_id.as_ref().is_none_or(|d| &p.device_id == d))
            .filter(|p| {
                filter
                    .network_id
                    .as_ref()
                    .is_none_or(|n| &p.network_id == n)
            })
            .filter(|p| {
                filter
                    .description
                    .as_ref()
                    .is_none_or(|d| &p.description == d)
            })
            .collect())
    }

    async fn get_port(&self, id: &str) -> Result<Option<Port>> {
        let request = self
            .service
            .request(Method::GET, &["ports", id], format!("show port {id}"), None)
            .await?;
        Ok(self
            .service
            .get_optional::<PortWire>(&request, "port")
            .await?
            .map(Port::from))
    }

    async fn create_port(&self, request: &CreatePort) -> Result<Port> {
        let port = port_body(request);
        let http = self
            .service
            .request(
                Method::POST,
                &["ports"],
                format!("create port '{}'", request.name),
                None,
            )
            .await?
            .json(json!({ "port": port }));
        let response = self
            .service
            .send(&http)
            .await
            .map_err(|e| e.with_context("network", request.network_id.clone()))?;
        Ok(take::<PortWire>(&response, "port")?.into())
    }

    async fn create_ports(&self, requests: &[CreatePort]) -> Result<Vec<Result<Port>>> {
        // Neutron's bulk create: one request, atomic (all the ports or none).
        let ports: Vec<Value> = requests
            .iter()
            .map(|r| Value::Object(port_body(r)))
            .collect();
        let networks: Vec<&str> = requests.iter().map(|r| r.network_id.as_str()).collect();
        let http = self
            .service
            .request(
                Method::POST,
                &["ports"],
                format!("create {} ports", requests.len()),
                None,
            )
            .await?
            .json(json!({ "ports": ports }));
        let response = self
            .service
            .send(&http)
            .await
            .map_err(|e| e.with_context("network", networks.join(",")))?;
        Ok(take::<Vec<PortWire>>(&response, "ports")?
            .into_iter()
            .map(|p| Ok(p.into()))
            .collect())
    }

    async fn delete_port(&self, id: &str) -> Result<()> {
        let request = self
            .service
            .request(
                Method::DELETE,
                &["ports", id],
                format!("delete port {id}"),
                None,
            )
            .await?;
        self.service.send_optional(&request).await.map(|_| ())
    }

    async fn find_security_group(&self, id_or_name: &str) -> Result<Option<SecurityGroup>> {
        let request = self
            .service
            .request(
                Method::GET,
                &["security-groups", id_or_name],
                format!("show security group {id_or_name}"),
                None,
            )
            .await?;
        if let Some(group) = self
            .service
            .get_optional::<SecurityGroupWire>(&request, "security_group")
            .await?
        {
            return Ok(Some(group.into()));
        }
        // Names are per project (every project has its own `default`).
        let project = self.service.project_id().await?;
        let request = self
            .service
            .request(
                Method::GET,
                &["security-groups"],
                format!("find security group '{id_or_name}'"),
                None,
            )
            .await?
            .query("name", id_or_name)
            .query("project_id", &project);
        let found: Vec<SecurityGroupWire> = self.service.list(request, "security_groups").await?;
        let found = found
            .into_iter()
            .filter(|g| g.name == id_or_name && g.owner() == project)
            .collect();
        Ok(self
            .pick(
                "security group",
                id_or_name,
                found,
                |g| g.owner(),
                |g| &g.id,
            )
            .await?
            .map(SecurityGroup::from))
    }

    async fn list_security_groups(&self) -> Result<Vec<SecurityGroup>> {
        let project = self.service.project_id().await?;
        let request = self
            .service
            .request(
                Method::GET,
                &["security-groups"],
                "list security groups",
                None,
            )
            .await?
            .query("project_id", &project);
        let groups: Vec<SecurityGroupWire> = self.service.list(request, "security_groups").await?;
        Ok(groups
            .into_iter()
            .filter(|g| g.owner() == project)
            .map(SecurityGroup::from)
            .collect())
    }

    async fn get_port_quota(&self, project_id: &str) -> Result<protector_core::api::QuotaUsage> {
        crate::capacity::port_quota(&self.service, project_id).await
    }
}

/// Neutron writes both `project_id` and the older `tenant_id`.
#[derive(Deserialize)]
struct Owner {
    #[serde(default, deserialize_with = "null_default")]
    project_id: String,
    #[serde(default, deserialize_with = "null_default")]
    tenant_id: String,
}

impl Owner {
    fn id(&self) -> &str {
        if self.project_id.is_empty() {
            &self.tenant_id
        } else {
            &self.project_id
        }
    }
}

#[derive(Deserialize)]
struct NetworkWire {
    id: String,
    #[serde(default, deserialize_with = "null_default")]
    name: String,
    #[serde(flatten)]
    owner: Owner,
    #[serde(default, deserialize_with = "null_default")]
    subnets: Vec<String>,
}

impl NetworkWire {
    fn owner(&self) -> &str {
        self.owner.id()
    }

    fn into_network(self, subnets: &[SubnetWire]) -> Network {
        let mut own: Vec<Subnet> = subnets
            .iter()
            .filter(|s| s.network_id == self.id)
            .map(|s| Subnet {
                id: s.id.clone(),
                name: s.name.clone(),
                network_id: s.network_id.clone(),
                cidr: s.cidr.clone(),
            })
            .collect();
        // The network's own order of subnets; unknown ones last.
        own.sort_by_key(|s| {
            self.subnets
                .iter()
                .position(|id| id == &s.id)
                .unwrap_or(usize::MAX)
        });
        Network {
            project_id: self.owner().to_string(),
            id: self.id,
            name: self.name,
            subnets: own,
        }
    }
}

#[derive(Deserialize)]
struct SubnetWire {
    id: String,
    #[serde(default, deserialize_with = "null_default")]
    name: String,
    #[serde(default, deserialize_with = "null_default")]
    network_id: String,
    #[serde(default, deserialize_with = "null_default")]
    cidr: String,
}

#[derive(Deserialize)]
struct PortWire {
    id: String,
    #[serde(default, deserialize_with = "null_default")]
    name: String,
    #[serde(default, deserialize_with = "null_default")]
    network_id: String,
    #[serde(default, deserialize_with = "null_default")]
    device_id: String,
    #[serde(default, deserialize_with = "null_default")]
    mac_address: String,
    #[serde(default, deserialize_with = "null_default")]
    fixed_ips: Vec<FixedIpWire>,
    #[serde(default, deserialize_with = "null_default")]
    security_groups: Vec<String>,
    #[serde(flatten)]
    owner: Owner,
    #[serde(default, deserialize_with = "null_default")]
    description: String,
}

#[derive(Deserialize)]
struct FixedIpWire {
    #[serde(default, deserialize_with = "null_default")]
    subnet_id: String,
    #[serde(default, deserialize_with = "null_default")]
    ip_address: String,
}

impl From<PortWire> for Port {
    fn from(w: PortWire) -> Self {
        Port {
            project_id: w.owner.id().to_string(),
            id: w.id,
            name: w.name,
            network_id: w.network_id,
            device_id: w.device_id,
            mac_address: w.mac_address,
            fixed_ips: w
                .fixed_ips
                .into_iter()
                .map(|f| PortFixedIp {
                    subnet_id: f.subnet_id,
                    ip_address: f.ip_address,
                })
                .collect(),
            security_group_ids: w.security_groups,
            description: w.description,
        }
    }
}

#[derive(Deserialize)]
struct SecurityGroupWire {
    id: String,
    #[serde(default, deserialize_with = "null_default")]
    name: String,
    #[serde(flatten)]
    owner: Owner,
}

impl SecurityGroupWire {
    fn owner(&self) -> &str {
        self.owner.id()
    }
}

impl From<SecurityGroupWire> for SecurityGroup {
    fn from(w: SecurityGroupWire) -> Self {
        SecurityGroup {
            project_id: w.owner.id().to_string(),
            id: w.id,
            name: w.name,
        }
    }
}

/// The `port` object of a create request.
fn port_body(request: &CreatePort) -> Map<String, Value> {
    let mut port = Map::new();
    port.insert("network_id".into(), json!(request.network_id));
    port.insert("name".into(), json!(request.name));
    port.insert("description".into(), json!(request.description));
    port.insert("admin_state_up".into(), json!(true));
    if !request.fixed_ips.is_empty() {
        let fixed_ips: Vec<Value> = request
            .fixed_ips
            .iter()
            .map(|(subnet, ip)| match ip {
                Some(ip) => json!({"subnet_id": subnet, "ip_address": ip}),
                None => json!({ "subnet_id": subnet }),
            })
            .collect();
        port.insert("fixed_ips".into(), Value::Array(fixed_ips));
    }
    // Omitted, Neutron applies the project's `default` group; `[]` would mean none at all.
    if !request.security_group_ids.is_empty() {
        port.insert("security_groups".into(), json!(request.security_group_ids));
    }
    port
}
