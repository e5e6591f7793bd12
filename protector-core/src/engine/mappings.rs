//! Stored resource mappings of a protection group, one set per direction (spec/002 "resource
//! mapping": configuration that translates one site's networks, flavors and security groups
//! to the other's). A failover, failback or drill merges what it is given over them, and a
//! site failover, which takes no mappings, relies on them.

use std::collections::{BTreeMap, BTreeSet};

use super::sync::PeerPolicy;
use super::validate::Finding;
use super::Protector;
use crate::api::SiteClients;
use crate::error::{Error, ErrorKind, Result};
use crate::model::{Member, ProtectionGroup, ResourceMappings};
use crate::store::GroupMappings;

impl Protector {
    /// Stores `mappings` for `group` in the direction `from_site` → its other site, on both
    /// sites. Every target must exist on the other site. With `replace` the stored set of that
    /// direction is replaced; otherwise the new entries are merged over it. Returns what is
    /// stored now.
    pub async fn set_mappings(
        &self,
        group: &str,
        from_site: &str,
        mappings: ResourceMappings,
        replace: bool,
    ) -> Result<GroupMappings> {
        let group = self.group(group).await?;
        if !group.involves(from_site) {
            return Err(Error::invalid(format!(
                "site '{from_site}' is not a site of protection group '{}' ({} and {})",
                group.name, group.primary_site, group.secondary_site
            )));
        }
        if group.status.is_in_flight() {
            return Err(Error::conflict(format!(
                "cannot change the mappings of protection group '{}' while it is {}",
                group.name, group.status
            )));
        }
        self.ensure_peer_in_sync(&group).await?;
        let to_site = group.peer_of(from_site).to_string();
        self.check_mapping_sources(&group, from_site, &mappings)
            .await?;
        let target = self.group_clients(&to_site, &group).await?;
        let mut missing = Vec::new();
        if !mappings.networks.is_empty() {
            let networks = target.network.list_networks().await?;
            for wanted in mappings.networks.values() {
                if !networks
                    .iter()
                    .any(|n| &n.id == wanted || &n.name == wanted)
                {
                    missing.push(format!("network '{wanted}'"));
                }
            }
        }
        if !mappings.flavors.is_empty() {
            let flavors = target.compute.list_flavors().await?;
            for wanted in mappings.flavors.values() {
                if !flavors.iter().any(|f| &f.id == wanted || &f.name == wanted) {
                    missing.push(format!("flavor '{wanted}'"));
                }
            }
        }
        if !mappings.security_groups.is_empty() {
            let groups = target.network.list_security_groups().await?;
            for wanted in mappings.security_groups.values() {
                if !groups.iter().any(|g| &g.id == wanted || &g.name == wanted) {
                    missing.push(format!("security group '{wanted}'"));
                }
            }
        }
        if !mappings.availability_zones.is_empty() {
            missing.extend(super::capacity::missing_zones(&target, &mappings).await?);
        }
        if !missing.is_empty() {
            return Err(Error::new(
                ErrorKind::ValidationFailed,
                format!(
                    "{} not found on {to_site}: map to resources that exist there (nothing was stored)",
                    missing.join(", ")
                ),
            ));
        }
        let mut document = self.document(group.clone()).await?;
        let stored = document
            .mappings
            .iter()
            .find(|m| m.from_site == from_site && m.to_site == to_site)
            .map(|m| m.mappings.clone())
            .unwrap_or_default();
        let merged = if replace {
            mappings
        } else {
            mappings.merged_with(&stored)
        };
        document
            .mappings
            .retain(|m| !(m.from_site == from_site && m.to_site == to_site));
        let entry = GroupMappings {
            group_id: group.id,
            from_site: from_site.to_string(),
            to_site,
            mappings: merged,
        };
        document.mappings.push(entry.clone());
        self.commit(document, "mapping-set", PeerPolicy::Required)
            .await?;
        Ok(entry)
    }
}

/// The ids and names a plan of `members` looks up in the mappings: each member's networks,
/// flavor and security groups as its recovery metadata records them. Every other key is
/// ignored.
struct UsedSources<'a> {
    networks: BTreeSet<&'a str>,
    flavors: BTreeSet<&'a str>,
    security_groups: BTreeSet<&'a str>,
}

impl<'a> UsedSources<'a> {
    fn of(members: &'a [Member]) -> Self {
        let recovery = || members.iter().map(|m| &m.recovery);
        UsedSources {
            networks: recovery()
                .flat_map(|r| &r.networks)
                .flat_map(|n| [n.network_id.as_str(), n.network_name.as_str()])
                .collect(),
            flavors: recovery()
                .flat_map(|r| [r.flavor.id.as_str(), r.flavor.name.as_str()])
                .collect(),
            security_groups: recovery()
                .flat_map(|r| &r.security_groups)
                .flat_map(|g| [g.id.as_str(), g.name.as_str()])
                .collect(),
        }
    }

    /// Each kind of `mappings` with what it maps and the sources used among them.
    fn kinds<'m>(
        &self,
        mappings: &'m ResourceMappings,
    ) -> [(
        &'static str,
        &'m BTreeMap<String, String>,
        &BTreeSet<&'a str>,
    ); 3] {
        [
            ("network", &mappings.networks, &self.networks),
            ("flavor", &mappings.flavors, &self.flavors),
            (
                "security group",
                &mappings.security_groups,
                &self.security_groups,
            ),
        ]
    }
}

/// The sources of `mappings` (`network 'x'`, `flavor 'y'`) that no plan of `members` looks up.
fn unused_sources(members: &[Member], mappings: &ResourceMappings) -> Vec<String> {
    let used = UsedSources::of(members);
    used.kinds(mappings)
        .into_iter()
        .flat_map(|(what, given, used)| {
            given
                .keys()
                .filter(|k| !used.contains(k.as_str()))
                .map(move |k| format!("{what} '{k}'"))
        })
        .collect()
}

/// Checks the targets of the mappings a plan will not use (no member has their source), which
/// the plan itself never resolves: a mapping given for a failover must name something that
/// exists on the target site even when it does not apply to this group, so that a typo is
/// found before it matters.
pub(super) async fn check_unused_targets(
    findings: &mut Vec<Finding>,
    members: &[Member],
    mappings: &ResourceMappings,
    target: &SiteClients,
) -> Result<()> {
    let site = &target.site;
    let used = UsedSources::of(members);
    for (what, given, used) in used.kinds(mappings) {
        let unused: Vec<(&String, &String)> = given
            .iter()
            .filter(|(source, _)| !used.contains(source.as_str()))
            .collect();
        if unused.is_empty() {
            continue;
        }
        let known: Vec<(String, String)> = match what {
            "network" => (target.network.list_networks().await?.into_iter())
                .map(|n| (n.id, n.name))
                .collect(),
            "flavor" => (target.compute.list_flavors().await?.into_iter())
                .map(|f| (f.id, f.name))
                .collect(),
            _ => (target.network.list_security_groups().await?.into_iter())
                .map(|g| (g.id, g.name))
                .collect(),
        };
        for (source, wanted) in unused {
            if !known
                .iter()
                .any(|(id, name)| id == wanted || name == wanted)
            {
                findings.push(Finding::error(
                    ErrorKind::ValidationFailed,
                    "mapping_target_missing",
                    format!(
                        "{what} '{wanted}' not found on {site} (mapped from '{source}', which no member uses): check the {what} mappings"
                    ),
                ));
            }
        }
    }
    Ok(())
}

impl Protector {
    /// Refuses mappings whose source no plan would ever look up, so that a typo or a wrong
    /// group is not stored as if it were configuration. From the group's primary site the
    /// sources must be networks, flavors or security groups (id or name) of the members'
    /// recovery metadata, the keys a failover looks up; from the other site, where the members
    /// have no captured resources, they must at least exist there.
    async fn check_mapping_sources(
        &self,
        group: &ProtectionGroup,
        from_site: &str,
        mappings: &ResourceMappings,
    ) -> Result<()> {
        if from_site == group.primary_site {
            let members = self.store().list_members(&group.id).await?;
            let unused = unused_sources(&members, mappings);
            if !unused.is_empty() {
                return Err(Error::invalid(format!(
                    "{} not used by any member of protection group '{}' on {from_site}: map the members' own networks, flavors and security groups (nothing was stored)",
                    unused.join(", "),
                    group.name
                )));
            }
            return Ok(());
        }
        let source = self.group_clients(from_site, group).await?;
        let mut unused = Vec::new();
        if !mappings.networks.is_empty() {
            let networks = source.network.list_networks().await?;
            unused.extend(
                mappings
                    .networks
                    .keys()
                    .filter(|k| !networks.iter().any(|n| &n.id == *k || &n.name == *k))
                    .map(|k| format!("network '{k}'")),
            );
        }
        if !mappings.flavors.is_empty() {
            let flavors = source.compute.list_flavors().await?;
            unused.extend(
                mappings
                    .flavors
                    .keys()
                    .filter(|k| !flavors.iter().any(|f| &f.id == *k || &f.name == *k))
                    .map(|k| format!("flavor '{k}'")),
            );
        }
        if !mappings.security_groups.is_empty() {
            let groups = source.network.list_security_groups().await?;
            unused.extend(
                mappings
                    .security_groups
                    .keys()
                    .filter(|k| !groups.iter().any(|g| &g.id == *k || &g.name == *k))
                    .map(|k| format!("security group '{k}'")),
            );
        }
        if !unused.is_empty() {
            return Err(Error::invalid(format!(
                "{} not found on {from_site}, the source side of the mapping: map resources that exist there (nothing was stored)",
                unused.join(", ")
            )));
        }
        Ok(())
    }

    /// The stored mappings of `group`, one entry per direction.
    pub async fn mappings(&self, group: &str) -> Result<Vec<GroupMappings>> {
        let group = self.group(group).await?;
        self.store().list_mappings(&group.id).await
    }
}
