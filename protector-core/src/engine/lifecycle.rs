//! Sites, protection groups, members, policies and tenant mappings: everything before and
//! around a failover.

use std::collections::BTreeMap;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::sync::PeerPolicy;
use super::Protector;
use crate::api::{CreateVolumeGroup, ListPorts, SiteClients, VolumeType};
use crate::error::{Error, ErrorKind, Hint, Result};
use crate::model::{check_name, check_replication_schedule};
use crate::model::{
    ArrayEndpoint, ConsistencyGroupBinding, FixedIp, FlavorRef, GroupEvent, GroupStatus, Member,
    MemberStatus, MetadataVersion, NicSpec, Placement, ProtectionGroup, RecoveryMetadata,
    ReplicationPolicy, ReplicationType, SecurityGroupRef, Site, SiteStatus, SiteType,
    TenantMapping, VolumeSpec,
};
use crate::store::GroupDocument;

/// Register a site (`site create`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterSite {
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Registered role.
    pub site_type: SiteType,
    /// Keystone v3 URL.
    pub auth_url: String,
    /// Region.
    pub region_name: String,
    /// clouds.yaml entry with the credentials, when not named like the site.
    pub cloud: Option<String>,
}

/// The result of `site validate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteValidation {
    /// Site name.
    pub name: String,
    /// Resulting status.
    pub status: SiteStatus,
    /// `ok` or the error.
    pub keystone: String,
    /// `ok` or the error.
    pub nova: String,
    /// `ok` or the error.
    pub cinder: String,
    /// `ok` or the error.
    pub neutron: String,
    /// Whether the credentials may list cinder-volume services (the right volume manage needs).
    pub volume_manage: String,
    /// The kind of Keystone's error when it failed: `Unauthenticated` when it refused the
    /// credentials, `Unavailable` when it did not answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keystone_error: Option<ErrorKind>,
}

/// Create a protection group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateGroup {
    /// Unique per tenant.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Async or sync.
    pub replication_type: ReplicationType,
    /// Where the VMs run.
    pub primary_site: String,
    /// The DR site.
    pub secondary_site: String,
    /// Cinder volume type (name or id) of every member volume.
    pub volume_type: String,
}

/// Attach a replication policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatePolicy {
    /// Array of the group's primary site.
    pub primary_array: ArrayEndpoint,
    /// Array of the group's secondary site.
    pub secondary_array: ArrayEndpoint,
    /// FlashArray protection group (or pod) name.
    pub pure_pg_name: String,
    /// Seconds between replicated snapshots.
    pub replication_interval_secs: u64,
    /// RPO in minutes.
    pub rpo_minutes: u64,
}

/// Add a VM to a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddMember {
    /// Nova instance id on the group's current primary site.
    pub instance_id: String,
}

/// Whether `vt` can back a group of `replication_type`; `Err` says why not.
fn check_volume_type(site: &str, vt: &VolumeType, replication_type: ReplicationType) -> Result<()> {
    if !vt.replication_enabled() {
        return Err(Error::invalid(format!(
            "volume type '{}' on {site} is not eligible for replication: it lacks replication_enabled='<is> True'; \
             set it with `openstack volume type set {} --property replication_enabled='<is> True' --property replication_type='<in> {}'` on both sites",
            vt.name, vt.name, replication_type.as_str()
        )));
    }
    if let Some(kind) = vt.replication_type() {
        if kind != replication_type.as_str() {
            return Err(Error::invalid(format!(
                "volume type '{}' on {site} replicates '{kind}', but the protection group asks for '{}': choose a type with replication_type='<in> {}'",
                vt.name, replication_type.as_str(), replication_type.as_str()
            )));
        }
    }
    Ok(())
}

impl Protector {
    /// Registers a site in every configured store.
    pub async fn register_site(&self, request: RegisterSite) -> Result<Site> {
        check_name("site", &request.name)?;
        if !request.auth_url.starts_with("http://") && !request.auth_url.starts_with("https://") {
            return Err(Error::invalid(format!(
                "auth URL '{}' of site '{}' is not an http(s) URL: give the Keystone v3 endpoint, e.g. https://keystone.example.com:5000/v3",
                request.auth_url, request.name
            )));
        }
        if self.store().get_site(&request.name).await?.is_some() {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                format!("site '{}' is already registered", request.name),
            )
            .with_hint(Hint::ShowSite {
                site: request.name.clone(),
            }));
        }
        let site = Site {
            id: Uuid::new_v4(),
            name: request.name,
            description: request.description,
            site_type: request.site_type,
            auth_url: request.auth_url,
            region_name: request.region_name,
            status: SiteStatus::Active,
            cloud: request.cloud,
            created_at: Utc::now(),
        };
        for store in self.inner.stores.values() {
            store.put_site(&site).await?;
        }
        Ok(site)
    }

    /// Checks Keystone, Nova, Cinder and Neutron of a site and the rights volume manage needs;
    /// records the resulting status.
    pub async fn validate_site(&self, name: &str) -> Result<SiteValidation> {
        let mut site = self.site(name).await?;
        let clients = self.inner.connector.site(&site).await?;
        fn show<T>(r: &Result<T>) -> String {
            match r {
                Ok(_) => "ok".to_string(),
                Err(e) => format!("error: {}", e.message()),
            }
        }
        let keystone = clients.identity.authenticate().await;
        let (nova, cinder, neutron, manage) = if keystone.is_ok() {
            (
                show(&clients.compute.list_flavors().await),
                show(&clients.block_storage.list_volume_types().await),
                show(&clients.network.list_networks().await),
                match clients.block_storage.list_volume_services().await {
                    Ok(services) if services.iter().any(|s| s.is_usable()) => "ok".to_string(),
                    Ok(_) => "error: no cinder-volume service is up and enabled".to_string(),
                    Err(e) => format!("error: {}", e.message()),
                },
            )
        } else {
            let skipped = "skipped: keystone failed".to_string();
            (skipped.clone(), skipped.clone(), skipped.clone(), skipped)
        };
        let status = match &keystone {
            Err(e) if matches!(e.kind(), ErrorKind::Unavailable | ErrorKind::Timeout) => {
                SiteStatus::Unreachable
            }
            Err(_) => SiteStatus::Error,
            Ok(_)
                if [&nova, &cinder, &neutron, &manage]
                    .iter()
                    .all(|s| *s == "ok") =>
            {
                SiteStatus::Active
            }
            Ok(_) => SiteStatus::Error,
        };
        site.status = status;
        for store in self.inner.stores.values() {
            // A store that cannot be written (its site is down) keeps its last known status.
            let _ = store.put_site(&site).await;
        }
        Ok(SiteValidation {
            name: site.name,
            status,
            keystone: show(&keystone),
            keystone_error: keystone.as_ref().err().map(Error::kind),
            nova,
            cinder,
            neutron,
            volume_manage: manage,
        })
    }

    /// Volume types of a site that can back a protection group.
    pub async fn list_replication_volume_types(&self, site: &str) -> Result<Vec<VolumeType>> {
        let clients = self.ensure_reachable(site).await?;
        let types = clients.block_storage.list_volume_types().await?;
        Ok(types
            .into_iter()
            .filter(VolumeType::replication_enabled)
            .collect())
    }

    /// Creates a protection group: checks the volume type on both sites, creates the Cinder
    /// consistency group on both, writes metadata version 1 on both sites.
    pub async fn create_group(&self, request: CreateGroup) -> Result<ProtectionGroup> {
        check_name("protection group", &request.name)?;
        if request.primary_site == request.secondary_site {
            return Err(Error::invalid(format!(
                "primary and secondary site are both '{}': choose two different sites",
                request.primary_site
            )));
        }
        if request.primary_site != self.local_site() && request.secondary_site != self.local_site()
        {
            return Err(Error::invalid(format!(
                "the local site '{}' is neither the primary nor the secondary site of the new group",
                self.local_site(),
            ))
            .with_hint(Hint::UseSite {
                site: Some(request.primary_site.clone()),
            }));
        }
        let primary = self.ensure_reachable(&request.primary_site).await?;
        let secondary = match self.ensure_reachable(&request.secondary_site).await {
            Ok(c) => c,
            // Credentials refused or a wrong clouds.yaml entry: not an outage, say what it is.
            Err(e) if e.kind() != ErrorKind::Unavailable => {
                return Err(
                    e.with_prefix(format!("cannot create protection group '{}'", request.name))
                )
            }
            Err(e) => {
                return Err(Error::unavailable(format!(
                    "Cannot create protection group '{}' - remote site '{}' unreachable ({}): both sites must be reachable",
                    request.name, request.secondary_site, e.message()
                )))
            }
        };
        let auth = primary.identity.authenticate().await?;
        let existing = self.store().list_groups().await?;
        if existing
            .iter()
            .any(|g| g.name == request.name && g.project_id == auth.project_id)
        {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                format!(
                    "protection group '{}' already exists in project {}: choose another name",
                    request.name, auth.project_name
                ),
            ));
        }
        let mut type_names = Vec::new();
        for clients in [&primary, &secondary] {
            let vt = clients
                .block_storage
                .find_volume_type(&request.volume_type)
                .await?
                .ok_or_else(|| {
                    Error::invalid(format!(
                        "volume type '{}' not found on {}: create it with replication_enabled='<is> True' on both sites",
                        request.volume_type, clients.site
                    ))
                })?;
            check_volume_type(&clients.site, &vt, request.replication_type)?;
            type_names.push(vt.name);
        }

        let cg_request = CreateVolumeGroup {
            name: format!("protector-{}", request.name),
            description: format!("Consistency group of protection group {}", request.name),
            volume_type: request.volume_type.clone(),
        };
        let primary_cg = primary
            .block_storage
            .create_volume_group(&cg_request)
            .await?;
        let secondary_cg = match secondary
            .block_storage
            .create_volume_group(&cg_request)
            .await
        {
            Ok(cg) => cg,
            Err(e) => {
                let _ = primary
                    .block_storage
                    .delete_volume_group(&primary_cg.id)
                    .await;
                return Err(e.with_prefix(format!(
                    "creating the consistency group on {}",
                    request.secondary_site
                )));
            }
        };
        let now = Utc::now();
        let mut group = ProtectionGroup {
            id: Uuid::new_v4(),
            name: request.name.clone(),
            description: request.description,
            project_id: auth.project_id,
            project_name: auth.project_name,
            primary_site: request.primary_site.clone(),
            secondary_site: request.secondary_site.clone(),
            current_primary_site: request.primary_site.clone(),
            replication_type: request.replication_type,
            volume_type: type_names.swap_remove(0),
            status: GroupStatus::Creating,
            failover_count: 0,
            last_failover_at: None,
            consistency_group: ConsistencyGroupBinding {
                id: Uuid::new_v4(),
                primary_cg_id: Some(primary_cg.id.clone()),
                secondary_cg_id: Some(secondary_cg.id.clone()),
                array_group: format!("protector-{}", request.name),
                backend_name: None,
            },
            metadata: MetadataVersion::default(),
            active_operation_id: None,
            fence_required_on: None,
            last_operation_id: None,
            test_failover: None,
            created_at: now,
            updated_at: now,
        };
        group.apply(GroupEvent::Created)?;
        let document = GroupDocument {
            group,
            members: Vec::new(),
            policy: None,
            mappings: Vec::new(),
        };
        match self.commit(document, "create", PeerPolicy::Required).await {
            Ok(doc) => Ok(doc.group),
            Err(e) => {
                let _ = primary
                    .block_storage
                    .delete_volume_group(&primary_cg.id)
                    .await;
                let _ = secondary
                    .block_storage
                    .delete_volume_group(&secondary_cg.id)
                    .await;
                Err(e)
            }
        }
    }

    fn refuse_in_flight(group: &ProtectionGroup, what: &str) -> Result<()> {
        if group.status.is_in_flight() {
            return Err(Error::conflict(format!(
                "cannot {what} protection group '{}' while it is {}: wait for the running operation{} to finish",
                group.name,
                group.status,
                group.active_operation_id.map(|id| format!(" op-{id}")).unwrap_or_default()
            )));
        }
        Ok(())
    }

    /// Refuses when an operation on `group` is recorded as pending or running: one started
    /// without `--wait` has its record before the group changes status.
    async fn refuse_pending_operation(&self, group: &ProtectionGroup, what: &str) -> Result<()> {
        let operations = self.store().list_operations().await?;
        if let Some(op) = operations
            .iter()
            .find(|op| op.group_id == Some(group.id) && !op.status.is_terminal())
        {
            return Err(Error::conflict(format!(
                "cannot {what} protection group '{}' while its {} operation op-{} is {}: wait for it to finish",
                group.name,
                op.operation_type.as_str(),
                op.id,
                op.status.as_str(),
            ))
            .with_hint(Hint::FollowOperation {
                operation: format!("op-{}", op.id),
            }));
        }
        Ok(())
    }

    /// Adds a VM: discovers its volumes, checks their type and backend, captures the recovery
    /// metadata, adds the volumes to the consistency group, and syncs.
    pub async fn add_member(&self, group: &str, request: AddMember) -> Result<Member> {
        let group = self.group(group).await?;
        Self::refuse_in_flight(&group, "modify")?;
        self.ensure_peer_in_sync(&group).await?;
        let mut document = self.document(group.clone()).await?;
        let caller = self.caller().await?;
        for g in self.store().list_groups().await? {
            for m in self.store().list_members(&g.id).await? {
                if m.instance_id == request.instance_id
                    || m.current.instance_id == request.instance_id
                {
                    // Another project's group is not named.
                    let message = if caller.sees(&g) {
                        format!(
                            "instance {} ({}) is already a member of protection group '{}'",
                            request.instance_id, m.instance_name, g.name
                        )
                    } else {
                        format!(
                            "instance {} is already a member of another protection group",
                            request.instance_id
                        )
                    };
                    return Err(Error::new(ErrorKind::AlreadyExists, message));
                }
            }
        }
        let site = group.current_primary_site.clone();
        let clients = self.ensure_reachable(&site).await?;
        let (recovery, placement, backend) =
            capture_member(&clients, &group, &request.instance_id).await?;
        if let Some(expected) = &group.consistency_group.backend_name {
            if let Some(found) = &backend {
                if found != expected {
                    return Err(Error::invalid(format!(
                        "instance {} has volumes on backend '{found}', but protection group '{}' uses '{expected}': all volumes of a consistency group must share one backend",
                        request.instance_id, group.name
                    )));
                }
            }
        }
        let cg_id = group.cinder_group_on(&site);
        if let Some(cg) = &cg_id {
            clients
                .block_storage
                .update_volume_group(cg, &placement.volume_ids, &[])
                .await
                .map_err(|e| e.with_prefix("adding the volumes to the consistency group"))?;
        }
        if let Some(policy) = &document.policy {
            if group.replication_type == ReplicationType::Async {
                let array = self
                    .inner
                    .connector
                    .array(policy.array_on(&group, &site))
                    .await?;
                if let Err(e) = array
                    .add_protection_group_volumes(&policy.pure_pg_name, &placement.array_volumes)
                    .await
                {
                    if let Some(cg) = &cg_id {
                        let _ = clients
                            .block_storage
                            .update_volume_group(cg, &[], &placement.volume_ids)
                            .await;
                    }
                    return Err(
                        e.with_prefix("adding the volumes to the FlashArray protection group")
                    );
                }
            }
        }
        let member = Member {
            id: Uuid::new_v4(),
            group_id: group.id,
            instance_id: request.instance_id.clone(),
            instance_name: recovery_name(&clients, &request.instance_id).await?,
            status: MemberStatus::Protected,
            error_message: None,
            recovery,
            current: placement,
            standby: None,
        };
        if document.group.consistency_group.backend_name.is_none() {
            document.group.consistency_group.backend_name = backend;
        }
        document.members.push(member.clone());
        if let Err(e) = self
            .commit(document, "member-add", PeerPolicy::Required)
            .await
        {
            if let Some(cg) = &cg_id {
                let _ = clients
                    .block_storage
                    .update_volume_group(cg, &[], &member.current.volume_ids)
                    .await;
            }
            return Err(e);
        }
        Ok(member)
    }

    /// Removes a member: its volumes leave the consistency group; the VM is untouched.
    pub async fn remove_member(&self, group: &str, member_id: &str) -> Result<Member> {
        let group = self.group(group).await?;
        Self::refuse_in_flight(&group, "modify")?;
        self.ensure_peer_in_sync(&group).await?;
        let mut document = self.document(group.clone()).await?;
        let position = document
            .members
            .iter()
            .position(|m| {
                m.id.to_string() == member_id
                    || m.instance_id == member_id
                    || m.current.instance_id == member_id
            })
            .ok_or_else(|| {
                Error::not_found(format!(
                    "member '{member_id}' not found in protection group '{}'",
                    group.name
                ))
                .with_hint(Hint::ListMembers {
                    group: group.name.clone(),
                })
            })?;
        let member = document.members.remove(position);
        let clients = self.ensure_reachable(&member.current.site).await?;
        let cg_id = group.cinder_group_on(&member.current.site);
        if let Some(cg) = &cg_id {
            clients
                .block_storage
                .update_volume_group(cg, &[], &member.current.volume_ids)
                .await?;
        }
        if let Some(policy) = &document.policy {
            if group.replication_type == ReplicationType::Async {
                let array = self
                    .inner
                    .connector
                    .array(policy.array_on(&group, &member.current.site))
                    .await?;
                array
                    .remove_protection_group_volumes(
                        &policy.pure_pg_name,
                        &member.current.array_volumes,
                    )
                    .await?;
            }
        }
        self.commit(document, "member-remove", PeerPolicy::Required)
            .await?;
        Ok(member)
    }

    /// Deletes a protection group on both sites: its volumes leave the Cinder consistency
    /// groups and the FlashArray protection group, both consistency groups and the array
    /// protection group are removed, and the records go from both stores. VMs and volumes are
    /// untouched.
    ///
    /// Refused while an operation runs, and when the peer site cannot be reached (the records
    /// would diverge). A deletion interrupted half-way leaves the group `deleting`; running it
    /// again finishes it.
    pub async fn delete_group(&self, group: &str) -> Result<ProtectionGroup> {
        let group = self.group(group).await?;
        if group.status != GroupStatus::Deleting {
            Self::refuse_in_flight(&group, "delete")?;
            self.refuse_pending_operation(&group, "delete").await?;
            if let Some(drill) = &group.test_failover {
                return Err(Error::conflict(format!(
                    "cannot delete protection group '{}' while its DR drill (op-{}) has test resources on {}: clean them up first",
                    group.name, drill.operation_id, drill.site
                ))
                .with_hint(Hint::CleanupDrill {
                    group: group.name.clone(),
                }));
            }
        }
        let peer = group.peer_of(self.local_site()).to_string();
        if let Err(e) = self.ensure_reachable(&peer).await {
            if e.kind() != ErrorKind::Unavailable {
                return Err(
                    e.with_prefix(format!("cannot delete protection group '{}'", group.name))
                );
            }
            return Err(Error::unavailable(format!(
                "Cannot delete protection group '{}' - remote site '{peer}' unreachable ({}): the group exists on both sites; retry when {peer} is back",
                group.name,
                e.message()
            )));
        }
        let mut document = self.document(group.clone()).await?;
        // Everything the cascade needs is resolved before the group is marked, so that a
        // configuration problem refuses the deletion and changes nothing.
        let mut clients = Vec::new();
        for site in [&group.primary_site, &group.secondary_site] {
            clients.push(self.ensure_reachable(site).await?);
        }
        let array = match &document.policy {
            Some(policy) if group.replication_type == ReplicationType::Async => Some((
                self.inner
                    .connector
                    .array(policy.array_on(&group, &group.current_primary_site))
                    .await?,
                policy.pure_pg_name.clone(),
            )),
            _ => None,
        };
        if document.group.status != GroupStatus::Deleting {
            document.group.apply(GroupEvent::DeleteStarted)?;
            document = self
                .commit(document, "delete", PeerPolicy::Required)
                .await?;
        }
        for (site, clients) in [&group.primary_site, &group.secondary_site]
            .into_iter()
            .zip(&clients)
        {
            if let Some(cg) = group.cinder_group_on(site) {
                if let Some(found) = clients.block_storage.get_volume_group(&cg).await? {
                    if !found.volume_ids.is_empty() {
                        clients
                            .block_storage
                            .update_volume_group(&cg, &[], &found.volume_ids)
                            .await?;
                    }
                    clients.block_storage.delete_volume_group(&cg).await?;
                }
            }
        }
        if let Some((array, pg)) = &array {
            if array.get_protection_group(pg).await?.is_some() {
                array.destroy_protection_group(pg).await?;
            }
        }
        self.store_of(&peer)?.delete_group(&group.id).await?;
        self.store().delete_group(&group.id).await?;
        Ok(document.group)
    }

    /// Members of a group.
    pub async fn members(&self, group: &str) -> Result<Vec<Member>> {
        let group = self.group(group).await?;
        self.store().list_members(&group.id).await
    }

    /// Attaches (or replaces) the replication policy: checks both arrays and sets up the
    /// FlashArray protection group with its target, schedule and the members' volumes.
    pub async fn create_policy(
        &self,
        group: &str,
        request: CreatePolicy,
    ) -> Result<ReplicationPolicy> {
        let group = self.group(group).await?;
        Self::refuse_in_flight(&group, "modify")?;
        check_name("FlashArray protection group", &request.pure_pg_name)?;
        request.primary_array.check_url()?;
        request.secondary_array.check_url()?;
        if group.replication_type == ReplicationType::Async {
            check_replication_schedule(request.replication_interval_secs, request.rpo_minutes)?;
        }
        self.ensure_peer_in_sync(&group).await?;
        if group.replication_type == ReplicationType::Sync {
            return self.create_sync_policy(group, request).await;
        }
        let super::pods::PolicyArrays {
            source,
            target,
            source_info,
            target_info,
        } = self.policy_arrays(&group, &request).await?;
        let pg = request.pure_pg_name.clone();
        if source.get_protection_group(&pg).await?.is_none() {
            source.create_protection_group(&pg).await?;
        }
        source
            .add_protection_group_target(&pg, &target_info.name)
            .await?;
        target
            .set_protection_group_allowed(&format!("{}:{pg}", source_info.name), true)
            .await?;
        source
            .set_replication_schedule(&pg, true, request.replication_interval_secs)
            .await?;
        let mut document = self.document(group.clone()).await?;
        let volumes: Vec<String> = document
            .members
            .iter()
            .flat_map(|m| m.current.array_volumes.clone())
            .collect();
        if !volumes.is_empty() {
            source.add_protection_group_volumes(&pg, &volumes).await?;
        }
        let policy = ReplicationPolicy {
            group_id: group.id,
            primary_array: request.primary_array,
            secondary_array: request.secondary_array,
            pure_pg_name: pg.clone(),
            replication_interval_secs: request.replication_interval_secs,
            rpo_minutes: request.rpo_minutes,
            primary_array_name: Some(if group.current_primary_site == group.primary_site {
                source_info.name.clone()
            } else {
                target_info.name.clone()
            }),
            secondary_array_name: Some(if group.current_primary_site == group.primary_site {
                target_info.name.clone()
            } else {
                source_info.name.clone()
            }),
        };
        document.policy = Some(policy.clone());
        document.group.consistency_group.array_group = pg;
        self.commit(document, "policy-create", PeerPolicy::Required)
            .await?;
        Ok(policy)
    }

    /// The policy of a group.
    pub async fn policy(&self, group: &str) -> Result<Option<ReplicationPolicy>> {
        let group = self.group(group).await?;
        self.store().get_policy(&group.id).await
    }

    /// Creates a tenant mapping and writes it on both sites.
    pub async fn create_tenant_mapping(
        &self,
        local_tenant: &str,
        remote_site: &str,
        remote_tenant: &str,
        description: &str,
    ) -> Result<TenantMapping> {
        if remote_site == self.local_site() {
            return Err(Error::invalid(format!(
                "remote site '{remote_site}' is the local site: give the other site"
            )));
        }
        self.site(remote_site).await?;
        if local_tenant.is_empty() || remote_tenant.is_empty() {
            return Err(Error::invalid("tenant ids must not be empty"));
        }
        let remote = match self.ensure_reachable(remote_site).await {
            Ok(clients) => clients,
            Err(e) if e.kind() != ErrorKind::Unavailable => {
                return Err(e.with_prefix("cannot create tenant mapping"))
            }
            Err(e) => {
                return Err(Error::unavailable(format!(
                    "Cannot create tenant mapping - remote site '{remote_site}' unreachable ({}): wait for it to recover and retry",
                    e.message()
                )))
            }
        };
        // A mapping decides who owns a group on the other site: without the admin role, only
        // the caller's own project here, paired with one its credentials act in there.
        let caller = self.caller().await?;
        if let Some(auth) = caller.auth().filter(|_| !caller.is_admin()) {
            let in_remote = if remote.identity.authenticate().await?.project_id == remote_tenant {
                true
            } else {
                let site = self.site(remote_site).await?;
                match self
                    .inner
                    .connector
                    .site_for_project(&site, remote_tenant)
                    .await
                {
                    Ok(scoped) => scoped
                        .identity
                        .authenticate()
                        .await
                        .is_ok_and(|a| a.project_id == remote_tenant),
                    Err(_) => false,
                }
            };
            if local_tenant != auth.project_id || !in_remote {
                return Err(Error::new(
                    ErrorKind::PermissionDenied,
                    format!(
                        "user '{}' may map only its own project {} on {} to a project it has a role in on {remote_site}: \
                         {local_tenant} to {remote_tenant} needs the admin role. Nothing was changed",
                        auth.user_name,
                        auth.project_id,
                        self.local_site()
                    ),
                ));
            }
        }
        let existing = self.store().list_tenant_mappings().await?;
        if existing
            .iter()
            .any(|m| m.local_tenant == local_tenant && m.remote_site == remote_site)
        {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                format!("tenant {local_tenant} is already mapped on {remote_site}"),
            ));
        }
        let mapping = TenantMapping {
            id: Uuid::new_v4(),
            local_site: self.local_site().to_string(),
            local_tenant: local_tenant.to_string(),
            remote_site: remote_site.to_string(),
            remote_tenant: remote_tenant.to_string(),
            description: description.to_string(),
        };
        self.store_of(remote_site)?
            .put_tenant_mapping(&mapping)
            .await?;
        self.store().put_tenant_mapping(&mapping).await?;
        Ok(mapping)
    }

    /// The tenant mappings of the caller's project (every one with the admin role).
    pub async fn tenant_mappings(&self) -> Result<Vec<TenantMapping>> {
        let caller = self.caller().await?;
        let mut mappings = self.store().list_tenant_mappings().await?;
        mappings.retain(|m| caller.sees_mapping(m));
        Ok(mappings)
    }
}

async fn recovery_name(clients: &SiteClients, instance_id: &str) -> Result<String> {
    Ok(clients
        .compute
        .get_server(instance_id)
        .await?
        .map(|s| s.name)
        .unwrap_or_default())
}

/// Reads a server's full recovery metadata on `clients`' site.
///
/// Returns the metadata, the server's placement, and the volumes' common backend.
pub(crate) async fn capture_member(
    clients: &SiteClients,
    group: &ProtectionGroup,
    instance_id: &str,
) -> Result<(RecoveryMetadata, Placement, Option<String>)> {
    let server = clients.compute.get_server(instance_id).await?.ok_or_else(|| {
        Error::not_found(format!(
            "instance {instance_id} not found on {}: give the Nova id of a VM on the group's current primary site",
            clients.site
        ))
    })?;
    if server.attached_volumes.is_empty() {
        return Err(Error::invalid(format!(
            "instance {} ({instance_id}) has no Cinder volumes: only boot-from-volume VMs on replicated volumes can be protected",
            server.name
        )));
    }
    let mut volumes = Vec::new();
    let mut backends = BTreeMap::new();
    for attached in &server.attached_volumes {
        let volume = clients
            .block_storage
            .get_volume(&attached.volume_id)
            .await?
            .ok_or_else(|| {
                Error::not_found(format!(
                    "volume {} of instance {} not found",
                    attached.volume_id, server.name
                ))
            })?;
        if volume.volume_type != group.volume_type {
            return Err(Error::invalid(format!(
                "volume type mismatch: volume {} ({}) of instance {} has type '{}', but protection group '{}' uses '{}'; \
                 migrate the volume to '{}' or leave the VM out",
                volume.id, volume.name, server.name, volume.volume_type, group.name, group.volume_type, group.volume_type
            )));
        }
        if let Some(host) = &volume.host {
            let backend = host.split('#').next().unwrap_or(host).to_string();
            backends.insert(backend, volume.id.clone());
        }
        let device = volume
            .attachments
            .iter()
            .find(|a| a.server_id == server.id)
            .map(|a| a.device.clone())
            .unwrap_or_default();
        volumes.push((volume, device));
    }
    if backends.len() > 1 {
        return Err(Error::invalid(format!(
            "instance {} has volumes on several backends ({}): all volumes of a consistency group must share one backend",
            server.name,
            backends.keys().cloned().collect::<Vec<_>>().join(", ")
        )));
    }
    volumes.sort_by(|a, b| a.1.cmp(&b.1));
    let mut specs = Vec::new();
    for (i, (volume, device)) in volumes.iter().enumerate() {
        specs.push(VolumeSpec {
            volume_id: volume.id.clone(),
            name: volume.name.clone(),
            size_gb: volume.size_gb,
            bootable: volume.bootable,
            device: device.clone(),
            boot_index: if i == 0 { Some(0) } else { None },
            array_volume: volume
                .array_volume
                .clone()
                .unwrap_or_else(|| format!("volume-{}-cinder", volume.id)),
            volume_type: volume.volume_type.clone(),
        });
    }
    if !specs[0].bootable {
        return Err(Error::invalid(format!(
            "the root volume {} of instance {} is not bootable: Nova could not boot it on the other site",
            specs[0].volume_id, server.name
        )));
    }
    let ports = clients
        .network
        .list_ports(&ListPorts {
            device_id: Some(server.id.clone()),
            ..ListPorts::default()
        })
        .await?;
    let mut nics = Vec::new();
    for port in &ports {
        let network_name = clients
            .network
            .find_network(&port.network_id)
            .await?
            .map(|n| n.name)
            .unwrap_or_default();
        nics.push(NicSpec {
            network_id: port.network_id.clone(),
            network_name,
            port_id: port.id.clone(),
            mac_address: port.mac_address.clone(),
            fixed_ips: port
                .fixed_ips
                .iter()
                .map(|ip| FixedIp {
                    subnet_id: ip.subnet_id.clone(),
                    ip_address: ip.ip_address.clone(),
                })
                .collect(),
            security_group_ids: port.security_group_ids.clone(),
        });
    }
    let mut security_groups: Vec<SecurityGroupRef> = Vec::new();
    let mut sg_ids: Vec<String> = ports
        .iter()
        .flat_map(|p| p.security_group_ids.clone())
        .collect();
    sg_ids.sort();
    sg_ids.dedup();
    for id in sg_ids {
        if let Some(sg) = clients.network.find_security_group(&id).await? {
            security_groups.push(SecurityGroupRef {
                id: sg.id,
                name: sg.name,
            });
        }
    }
    let flavor_name = if server.flavor_name.is_empty() {
        clients
            .compute
            .find_flavor(&server.flavor_id)
            .await?
            .map(|f| f.name)
            .unwrap_or_default()
    } else {
        server.flavor_name.clone()
    };
    let recovery = RecoveryMetadata {
        flavor: FlavorRef {
            id: server.flavor_id.clone(),
            name: flavor_name,
        },
        networks: nics,
        security_groups,
        key_name: server.key_name.clone(),
        availability_zone: server.availability_zone.clone(),
        volumes: specs.clone(),
    };
    let placement = Placement {
        site: clients.site.clone(),
        instance_id: server.id.clone(),
        volume_ids: specs.iter().map(|v| v.volume_id.clone()).collect(),
        array_volumes: specs.iter().map(|v| v.array_volume.clone()).collect(),
        port_ids: ports.iter().map(|p| p.id.clone()).collect(),
    };
    Ok((recovery, placement, backends.into_keys().next()))
}
