//! Creating and deleting protection groups.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api::{CreateVolumeGroup, PgParts, VolumeType};
use crate::engine::sync::PeerPolicy;
use crate::engine::Protector;
use crate::error::{Error, ErrorKind, Hint, Result};
use crate::model::check_name;
use crate::model::{
    ConsistencyGroupBinding, GroupEvent, GroupStatus, MetadataVersion, ProtectionGroup,
    ReplicationType,
};
use crate::store::GroupDocument;

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
            recovery_point: None,
            hooks: Vec::new(),
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
            if array
                .get_protection_group_parts(pg, PgParts::GROUP)
                .await?
                .is_some()
            {
                array.destroy_protection_group(pg).await?;
            }
        }
        self.store_of(&peer)?.delete_group(&group.id).await?;
        self.store().delete_group(&group.id).await?;
        Ok(document.group)
    }
}
