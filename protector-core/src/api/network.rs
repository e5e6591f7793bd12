//! Neutron.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::capacity::QuotaUsage;
use crate::error::{Error, ErrorKind, Result};

/// A subnet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subnet {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Network id.
    pub network_id: String,
    /// CIDR.
    pub cidr: String,
}

/// A network with its subnets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Owning project.
    pub project_id: String,
    /// Subnets.
    pub subnets: Vec<Subnet>,
}

/// A fixed IP of a port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortFixedIp {
    /// Subnet id.
    pub subnet_id: String,
    /// Address.
    pub ip_address: String,
}

/// A port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Port {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Network id.
    pub network_id: String,
    /// Server id, or empty.
    pub device_id: String,
    /// MAC address.
    pub mac_address: String,
    /// Fixed IPs.
    pub fixed_ips: Vec<PortFixedIp>,
    /// Security group ids.
    pub security_group_ids: Vec<String>,
    /// Owning project.
    pub project_id: String,
    /// Description; protector writes its operation and step ids here.
    pub description: String,
}

/// A security group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityGroup {
    /// Id.
    pub id: String,
    /// Name (not unique across projects).
    pub name: String,
    /// Owning project.
    pub project_id: String,
}

/// Create a port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatePort {
    /// Network id.
    pub network_id: String,
    /// Name.
    pub name: String,
    /// Fixed IPs wanted; an address of `None` lets Neutron pick one in the subnet.
    pub fixed_ips: Vec<(String, Option<String>)>,
    /// Security group ids (Nova does not apply server security groups to given ports).
    pub security_group_ids: Vec<String>,
    /// Description; protector writes its operation and step ids here.
    pub description: String,
}

/// Filters for listing ports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListPorts {
    /// Ports of this server.
    pub device_id: Option<String>,
    /// Ports on this network.
    pub network_id: Option<String>,
    /// Ports with this exact description.
    pub description: Option<String>,
}

/// A site's Neutron.
#[async_trait]
pub trait NetworkApi: Send + Sync + std::fmt::Debug + 'static {
    /// A network by id, or by name within the project. `Ok(None)` when missing.
    async fn find_network(&self, id_or_name: &str) -> Result<Option<Network>>;

    /// Networks visible to the project.
    async fn list_networks(&self) -> Result<Vec<Network>>;

    /// Ports matching `filter`.
    async fn list_ports(&self, filter: &ListPorts) -> Result<Vec<Port>>;

    /// One port. `Ok(None)` when missing.
    async fn get_port(&self, id: &str) -> Result<Option<Port>>;

    /// Creates a port.
    ///
    /// # Behavior
    /// - `Conflict` when a requested IP is already in use on the subnet.
    /// - `NotFound` when the network or a security group does not exist.
    /// - Not idempotent: look for a port with the step's description before sending again.
    async fn create_port(&self, request: &CreatePort) -> Result<Port>;

    /// Creates several ports, each answered on its own: one result per request, in order.
    ///
    /// # Behavior
    /// - Over Neutron's API, one bulk request (`POST /v2.0/ports` with a `ports` list), which
    ///   Neutron makes atomic: `Err` when it refused the request as a whole, and then none was
    ///   created (a transport error leaves that unknown, as for a single create).
    /// - The default creates them one by one ([`NetworkApi::create_port`], all at once) and
    ///   never answers `Err` as a whole.
    /// - Not idempotent, as [`NetworkApi::create_port`].
    async fn create_ports(&self, requests: &[CreatePort]) -> Result<Vec<Result<Port>>> {
        Ok(futures::future::join_all(requests.iter().map(|r| self.create_port(r))).await)
    }

    /// Deletes a port.
    ///
    /// # Behavior
    /// - Deleting a missing port succeeds.
    async fn delete_port(&self, id: &str) -> Result<()>;

    /// A security group by id, or by name within the project. `Ok(None)` when missing.
    async fn find_security_group(&self, id_or_name: &str) -> Result<Option<SecurityGroup>>;

    /// Security groups of the project.
    async fn list_security_groups(&self) -> Result<Vec<SecurityGroup>>;

    /// The port quota of project `project_id` with its usage (`GET
    /// /v2.0/quotas/{project_id}/details`; `used` counts Neutron's `used` plus `reserved`).
    ///
    /// # Behavior
    /// - `PermissionDenied` when the credentials may not read that project's quota.
    /// - `Unsupported` (the default) when the transport cannot tell.
    async fn get_port_quota(&self, project_id: &str) -> Result<QuotaUsage> {
        let _ = project_id;
        Err(Error::new(
            ErrorKind::Unsupported,
            "this network client cannot read quotas",
        ))
    }
}
