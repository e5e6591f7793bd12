//! The leak scan (`Protector::leak_scan`): every resource protector tagged or named on the
//! sites and their FlashArrays that no protection group and no unfinished operation owns.
//!
//! What protector marks: servers and Cinder volumes with `protector:*` metadata (their
//! `protector:operation` names the operation that created them), ports whose description
//! begins with `protector:<operation id>:`, and array volumes named `protector-<8 hex of the
//! operation>-…` (a failover's copies) or `test-protector-…` (a drill's). Owned: what a
//! member uses on any site (current and standby placements), what a drill record lists (and
//! whatever carries its drill's tag), and whatever an operation still pending or running
//! created: per the operation records of every store this engine reads (the other site's
//! too) and the operation each group is locked by. protector takes no pg snapshot under a
//! name of its own (they are the schedule's and the failovers' recovery points), so array
//! snapshots are not scanned. Read-only: nothing is removed;
//! each finding says how to remove it.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::copies::in_use;
use super::Protector;
use crate::api::{ArrayApi, ListPorts, ListServers, ListVolumes, SiteClients};
use crate::error::Result;
use crate::model::{ArrayEndpoint, Operation, ProtectionGroup};

/// Metadata key naming the operation that created a server or volume.
const OPERATION_TAG: &str = "protector:operation";
/// Metadata key naming the member a server or volume belongs to.
const MEMBER_TAG: &str = "protector:member";
/// What every protector tag begins with.
const TAG_PREFIX: &str = "protector:";
/// The name prefixes of protector's array copies: failovers' and drills'.
const COPY_PREFIXES: [&str; 2] = ["protector-", "test-protector-"];

/// What kind of resource leaked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeakKind {
    /// A Nova server.
    Server,
    /// A Neutron port.
    Port,
    /// A Cinder volume.
    Volume,
    /// A FlashArray volume.
    ArrayVolume,
}

impl LeakKind {
    /// The spelling used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            LeakKind::Server => "server",
            LeakKind::Port => "port",
            LeakKind::Volume => "volume",
            LeakKind::ArrayVolume => "array_volume",
        }
    }
}

/// A site or a FlashArray the scan read, or could not.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ScanPlace {
    /// The site, or the site whose FlashArray it is.
    pub site: String,
    /// The FlashArray's name (or URL when its name is not recorded); `None` for the site's
    /// OpenStack.
    pub array: Option<String>,
}

impl std::fmt::Display for ScanPlace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.array {
            None => write!(f, "{}", self.site),
            Some(array) => write!(f, "FlashArray {array} of {}", self.site),
        }
    }
}

/// A place that could not be read, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotScanned {
    /// Where.
    pub place: ScanPlace,
    /// Why.
    pub reason: String,
}

/// One resource protector marked that nothing owns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leak {
    /// Where it is.
    pub place: ScanPlace,
    /// What it is.
    pub kind: LeakKind,
    /// Its id (for an array volume: its name).
    pub id: String,
    /// Its name.
    pub name: String,
    /// The marks that say protector made it: `protector:*` metadata, the port description, or
    /// `name` for an array volume named like protector's copies.
    pub tags: BTreeMap<String, String>,
    /// The operation it names, if any.
    pub operation_id: Option<Uuid>,
    /// The protection group that operation (or its member tag) names, if it still exists.
    pub group: Option<String>,
    /// Why nothing owns it.
    pub reason: String,
    /// The command that removes it (the scan never does).
    pub remove_with: String,
}

/// What [`Protector::leak_scan`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeakScan {
    /// The places read, in order.
    pub scanned: Vec<ScanPlace>,
    /// The places that could not be read: their leaks are not listed.
    pub not_scanned: Vec<NotScanned>,
    /// What nothing owns, by place, kind and id.
    pub leaks: Vec<Leak>,
}

impl LeakScan {
    /// Whether every place was read.
    pub fn is_complete(&self) -> bool {
        self.not_scanned.is_empty()
    }
}

/// What protector's records own.
struct Owners {
    /// Ids and array names in use by members or listed by drill records.
    used: BTreeSet<String>,
    operations: BTreeMap<Uuid, Operation>,
    /// Operations a group is locked by or whose drill record it holds (synced metadata: also
    /// those run from the other site).
    active: BTreeSet<Uuid>,
    groups: BTreeMap<Uuid, ProtectionGroup>,
    /// Member id → its group.
    members: BTreeMap<Uuid, Uuid>,
}

impl Owners {
    /// The operation an array copy name points at (its first 8 hex digits), if known.
    fn operation_of_copy(&self, name: &str) -> Option<&Operation> {
        let rest = COPY_PREFIXES
            .iter()
            .rev()
            .find_map(|p| name.strip_prefix(p))?;
        let key = rest.get(..8)?;
        self.operations
            .values()
            .find(|op| op.id.simple().to_string().starts_with(key))
    }

    /// Why a resource marked by `operation` (and `member`) is not owned, or `None` when it is.
    fn unowned(
        &self,
        id: &str,
        operation: Option<Uuid>,
        member: Option<Uuid>,
    ) -> Option<(String, Option<String>)> {
        if self.used.contains(id) {
            return None;
        }
        if operation.is_some_and(|o| self.active.contains(&o)) {
            return None;
        }
        let op = operation.and_then(|o| self.operations.get(&o));
        if op.is_some_and(|op| !op.status.is_terminal()) {
            return None;
        }
        let group_id = op
            .and_then(|op| op.group_id)
            .or_else(|| member.and_then(|m| self.members.get(&m).copied()));
        let group = group_id
            .and_then(|g| self.groups.get(&g))
            .map(|g| g.name.clone());
        let mut reason = match (operation, op) {
            (Some(_), Some(op)) => format!(
                "its operation ({}) ended {}{} and no protection group uses it",
                op.operation_type.as_str(),
                op.status.as_str(),
                op.completed_at
                    .map(|at| format!(" at {}", at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)))
                    .unwrap_or_default()
            ),
            (Some(o), None) => format!(
                "its operation {o} is recorded in no store read (the record was deleted, or the operation ran against another store) and no protection group uses it"
            ),
            (None, _) => "it names no operation and no protection group uses it".to_string(),
        };
        if let (Some(g), None) = (group_id, &group) {
            reason.push_str(&format!("; its protection group {g} no longer exists"));
        }
        Some((reason, group))
    }
}

fn operation_tag(metadata: &BTreeMap<String, String>) -> Option<Uuid> {
    metadata
        .get(OPERATION_TAG)
        .and_then(|v| Uuid::parse_str(v).ok())
}

fn member_tag(metadata: &BTreeMap<String, String>) -> Option<Uuid> {
    metadata
        .get(MEMBER_TAG)
        .and_then(|v| Uuid::parse_str(v).ok())
}

fn protector_tags(metadata: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    metadata
        .iter()
        .filter(|(k, _)| k.starts_with(TAG_PREFIX))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The operation a port description `protector:<operation id>:<step>` names.
fn port_operation(description: &str) -> Option<Uuid> {
    let rest = description.strip_prefix(TAG_PREFIX)?;
    Uuid::parse_str(rest.split(':').next()?).ok()
}

impl Protector {
    /// Lists every resource protector tagged or named on `sites` (every registered site when
    /// empty) and on their FlashArrays (those of the groups' policies) that no protection
    /// group and no unfinished operation owns. Read-only: it removes nothing; each finding
    /// names the command that would.
    ///
    /// What is listed is what the site credentials see (an admin's see every project). A site
    /// or array that cannot be read is reported in [`LeakScan::not_scanned`] and the others
    /// are scanned all the same. `NotFound` when a site given is not registered.
    pub async fn leak_scan(&self, sites: &[String]) -> Result<LeakScan> {
        let sites: Vec<String> = if sites.is_empty() {
            self.store()
                .list_sites()
                .await?
                .into_iter()
                .map(|s| s.name)
                .collect()
        } else {
            for site in sites {
                self.site(site).await?;
            }
            let mut sites = sites.to_vec();
            sites.sort();
            sites.dedup();
            sites
        };
        let owners = self.owners().await?;
        let mut scan = LeakScan {
            scanned: Vec::new(),
            not_scanned: Vec::new(),
            leaks: Vec::new(),
        };
        for site in &sites {
            let place = ScanPlace {
                site: site.clone(),
                array: None,
            };
            let found = async {
                let clients = self.clients(site).await?;
                scan_site(&clients, &place, &owners).await
            }
            .await;
            match found {
                Ok(leaks) => {
                    scan.leaks.extend(leaks);
                    scan.scanned.push(place);
                }
                Err(e) => scan.not_scanned.push(NotScanned {
                    place,
                    reason: e.message().to_string(),
                }),
            }
        }
        for (place, endpoint) in self.arrays_of(&sites, &owners).await? {
            let found = async {
                let array = self.inner.connector.array(&endpoint).await?;
                scan_array(array.as_ref(), &place, &owners).await
            }
            .await;
            match found {
                Ok(leaks) => {
                    scan.leaks.extend(leaks);
                    scan.scanned.push(place);
                }
                Err(e) => scan.not_scanned.push(NotScanned {
                    place,
                    reason: e.message().to_string(),
                }),
            }
        }
        scan.leaks
            .sort_by(|a, b| (&a.place, a.kind, &a.id).cmp(&(&b.place, b.kind, &b.id)));
        Ok(scan)
    }

    async fn owners(&self) -> Result<Owners> {
        let mut owners = Owners {
            used: BTreeSet::new(),
            operations: self
                .store()
                .list_operations()
                .await?
                .into_iter()
                .map(|op| (op.id, op))
                .collect(),
            active: BTreeSet::new(),
            groups: BTreeMap::new(),
            members: BTreeMap::new(),
        };
        // An operation run from another site is recorded there until it ends: read the other
        // stores too (one that does not answer is skipped; its groups' locks still count).
        for (site, store) in &self.inner.stores {
            if site.as_str() == self.local_site() {
                continue;
            }
            match store.list_operations().await {
                Ok(operations) => {
                    for op in operations {
                        owners.operations.entry(op.id).or_insert(op);
                    }
                }
                Err(e) => {
                    tracing::warn!(site = %site, error = %e, "leak scan: could not read the operations of a peer store")
                }
            }
        }
        for group in self.store().list_groups().await? {
            let members = self.store().list_members(&group.id).await?;
            owners.used.extend(in_use(&members));
            owners
                .members
                .extend(members.iter().map(|m| (m.id, group.id)));
            owners.active.extend(group.active_operation_id);
            if let Some(record) = &group.test_failover {
                owners.active.insert(record.operation_id);
                for member in &record.members {
                    owners.used.extend(member.server_id.iter().cloned());
                    owners.used.extend(member.port_ids.iter().cloned());
                    for volume in &member.volumes {
                        owners.used.extend(volume.volume_id.iter().cloned());
                        owners.used.extend(volume.array_volumes.iter().cloned());
                    }
                }
            }
            owners.groups.insert(group.id, group);
        }
        Ok(owners)
    }

    /// The FlashArrays of `sites` the groups' policies name, one entry per array URL.
    async fn arrays_of(
        &self,
        sites: &[String],
        owners: &Owners,
    ) -> Result<Vec<(ScanPlace, ArrayEndpoint)>> {
        let mut arrays: Vec<(ScanPlace, ArrayEndpoint)> = Vec::new();
        for group in owners.groups.values() {
            let Some(policy) = self.store().get_policy(&group.id).await? else {
                continue;
            };
            for site in [&group.primary_site, &group.secondary_site] {
                if !sites.contains(site) {
                    continue;
                }
                let endpoint = policy.array_on(group, site);
                if arrays.iter().any(|(_, e)| e.url == endpoint.url) {
                    continue;
                }
                let name = policy
                    .array_name_on(group, site)
                    .map_or_else(|| endpoint.url.clone(), str::to_string);
                arrays.push((
                    ScanPlace {
                        site: site.clone(),
                        array: Some(name),
                    },
                    endpoint.clone(),
                ));
            }
        }
        arrays.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(arrays)
    }
}

async fn scan_site(clients: &SiteClients, place: &ScanPlace, owners: &Owners) -> Result<Vec<Leak>> {
    let site = &place.site;
    let mut leaks = Vec::new();
    let servers = clients
        .compute
        .list_servers(&ListServers::default())
        .await?;
    for server in servers {
        let tags = protector_tags(&server.metadata);
        if tags.is_empty() {
            continue;
        }
        let operation = operation_tag(&server.metadata);
        if let Some((reason, group)) =
            owners.unowned(&server.id, operation, member_tag(&server.metadata))
        {
            leaks.push(Leak {
                place: place.clone(),
                kind: LeakKind::Server,
                remove_with: format!("openstack server delete {} (on {site})", server.id),
                id: server.id,
                name: server.name,
                tags,
                operation_id: operation,
                group,
                reason,
            });
        }
    }
    let ports = clients.network.list_ports(&ListPorts::default()).await?;
    for port in ports {
        if !port.description.starts_with(TAG_PREFIX) {
            continue;
        }
        let operation = port_operation(&port.description);
        if let Some((reason, group)) = owners.unowned(&port.id, operation, None) {
            leaks.push(Leak {
                place: place.clone(),
                kind: LeakKind::Port,
                remove_with: format!("openstack port delete {} (on {site})", port.id),
                tags: BTreeMap::from([("description".to_string(), port.description)]),
                id: port.id,
                name: port.name,
                operation_id: operation,
                group,
                reason,
            });
        }
    }
    let volumes = clients
        .block_storage
        .list_volumes(&ListVolumes::default())
        .await?;
    for volume in volumes {
        let tags = protector_tags(&volume.metadata);
        if tags.is_empty() {
            continue;
        }
        let operation = operation_tag(&volume.metadata);
        if let Some((reason, group)) =
            owners.unowned(&volume.id, operation, member_tag(&volume.metadata))
        {
            leaks.push(Leak {
                place: place.clone(),
                kind: LeakKind::Volume,
                remove_with: format!(
                    "openstack volume delete {} (on {site}; detach it first if it is attached)",
                    volume.id
                ),
                id: volume.id,
                name: volume.name,
                tags,
                operation_id: operation,
                group,
                reason,
            });
        }
    }
    Ok(leaks)
}

async fn scan_array(array: &dyn ArrayApi, place: &ScanPlace, owners: &Owners) -> Result<Vec<Leak>> {
    let mut leaks = Vec::new();
    let mut seen = BTreeSet::new();
    for prefix in COPY_PREFIXES {
        for volume in array.list_volumes(prefix).await? {
            if !seen.insert(volume.name.clone()) {
                continue;
            }
            let op = owners.operation_of_copy(&volume.name);
            let operation = op.map(|op| op.id);
            let Some((mut reason, group)) = owners.unowned(&volume.name, operation, None) else {
                continue;
            };
            if op.is_none() {
                reason = format!(
                    "it is named like protector's copies but no operation recorded in the stores read matches its name; {reason}"
                );
            }
            let array_name = place.array.as_deref().unwrap_or("?");
            let remove_with = if volume.destroyed {
                format!(
                    "purevol eradicate {} (on FlashArray {array_name}: already destroyed)",
                    volume.name
                )
            } else {
                format!(
                    "purevol destroy {name} && purevol eradicate {name} (on FlashArray {array_name})",
                    name = volume.name
                )
            };
            leaks.push(Leak {
                place: place.clone(),
                kind: LeakKind::ArrayVolume,
                id: volume.name.clone(),
                tags: BTreeMap::from([("name".to_string(), volume.name.clone())]),
                name: volume.name,
                operation_id: operation,
                group,
                reason,
                remove_with,
            });
        }
    }
    Ok(leaks)
}

#[cfg(test)]
mod tests {
    use super::port_operation;

    #[test]
    fn a_port_description_names_its_operation() {
        let id = uuid::Uuid::new_v4();
        assert_eq!(
            port_operation(&format!("protector:{id}:create_port:web-1")),
            Some(id)
        );
        assert_eq!(port_operation("protector:not-an-id:x"), None);
        assert_eq!(port_operation("something else"), None);
    }
}
