//! The replication policy of a protection group: the FlashArray protection group (async) or
//! the ActiveCluster pod (sync) and both arrays.

use serde::{Deserialize, Serialize};

use crate::api::{ArrayApi, PgParts};
use crate::engine::pods::{pod_of, pod_on};
use crate::engine::sync::PeerPolicy;
use crate::engine::Protector;
use crate::error::{Error, ErrorKind, Result};
use crate::model::{check_name, check_replication_schedule};
use crate::model::{ArrayEndpoint, ProtectionGroup, ReplicationPolicy, ReplicationType};

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

/// The two arrays of a policy request: the current primary's (`source`) and the other one,
/// both answering, distinct, and able to replicate the group's way.
pub(super) struct PolicyArrays {
    pub(super) source: std::sync::Arc<dyn ArrayApi>,
    pub(super) target: std::sync::Arc<dyn ArrayApi>,
    pub(super) source_info: crate::api::ArrayInfo,
    pub(super) target_info: crate::api::ArrayInfo,
}

impl Protector {
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
        let PolicyArrays {
            source,
            target,
            source_info,
            target_info,
        } = self.policy_arrays(&group, &request).await?;
        let pg = request.pure_pg_name.clone();
        if source
            .get_protection_group_parts(&pg, PgParts::GROUP)
            .await?
            .is_none()
        {
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

    /// Checks the arrays of a `policy-create` request: both answer, they are two arrays, and
    /// both can replicate the way the group does.
    pub(super) async fn policy_arrays(
        &self,
        group: &ProtectionGroup,
        request: &CreatePolicy,
    ) -> Result<PolicyArrays> {
        let (current_ep, other_ep) = if group.current_primary_site == group.primary_site {
            (&request.primary_array, &request.secondary_array)
        } else {
            (&request.secondary_array, &request.primary_array)
        };
        let source = self.inner.connector.array(current_ep).await?;
        let target = self.inner.connector.array(other_ep).await?;
        let source_info = source
            .array_info()
            .await
            .map_err(|e| e.with_prefix(format!("FlashArray {}", current_ep.url)))?;
        let target_info = target
            .array_info()
            .await
            .map_err(|e| e.with_prefix(format!("FlashArray {}", other_ep.url)))?;
        if source_info.id == target_info.id {
            return Err(Error::invalid(format!(
                "primary and secondary FlashArray are the same array ({}): give the DR site's array as the secondary",
                source_info.name
            )));
        }
        let sync = group.replication_type == crate::model::ReplicationType::Sync;
        for (array, url) in [(&source, &current_ep.url), (&target, &other_ep.url)] {
            let capabilities = array.capabilities();
            let (able, what) = if sync {
                (
                    capabilities.sync_replication,
                    "sync replication (ActiveCluster)",
                )
            } else {
                (capabilities.async_replication, "async replication")
            };
            if !able {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    format!("FlashArray {url} does not support {what}"),
                ));
            }
        }
        Ok(PolicyArrays {
            source,
            target,
            source_info,
            target_info,
        })
    }

    /// `policy-create` for a sync group: both arrays answer and support ActiveCluster, the pod
    /// exists and is stretched over both, and every member volume lives in it.
    pub(super) async fn create_sync_policy(
        &self,
        group: ProtectionGroup,
        request: CreatePolicy,
    ) -> Result<ReplicationPolicy> {
        let PolicyArrays {
            source,
            target,
            source_info,
            target_info,
        } = self.policy_arrays(&group, &request).await?;
        let pod = request.pure_pg_name.clone();
        let mut document = self.document(group.clone()).await?;
        // Member volumes must already be in the pod: the driver put them there.
        for member in &document.members {
            for volume in &member.current.array_volumes {
                if pod_of(volume) != Some(pod.as_str()) {
                    return Err(Error::new(ErrorKind::ValidationFailed, format!(
                        "volume {volume} of member {} is not in pod '{pod}'{}: give the pod the Pure Cinder driver uses for sync-replicated volumes",
                        member.instance_name,
                        pod_of(volume)
                            .map(|p| format!(" but in pod '{p}'"))
                            .unwrap_or_default()
                    )));
                }
            }
        }
        let existing = match source.get_pod(&pod).await? {
            Some(p) => p,
            None => source.create_pod(&pod).await?,
        };
        if !existing.arrays.iter().any(|a| a.name == target_info.name) {
            source.add_pod_array(&pod, &target_info.name).await?;
        }
        let stretched = pod_on(target.as_ref(), &target_info.name, &pod).await?;
        if !stretched.arrays.iter().any(|a| a.name == source_info.name) {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!(
                    "pod '{pod}' on {} is not stretched to {}: check the ActiveCluster connection between the arrays",
                    target_info.name, source_info.name
                ),
            ));
        }
        let current_is_primary = group.current_primary_site == group.primary_site;
        let (primary_name, secondary_name) = if current_is_primary {
            (source_info.name.clone(), target_info.name.clone())
        } else {
            (target_info.name.clone(), source_info.name.clone())
        };
        let policy = ReplicationPolicy {
            group_id: group.id,
            primary_array: request.primary_array,
            secondary_array: request.secondary_array,
            pure_pg_name: pod.clone(),
            replication_interval_secs: 0,
            rpo_minutes: 0,
            primary_array_name: Some(primary_name),
            secondary_array_name: Some(secondary_name),
        };
        document.policy = Some(policy.clone());
        document.group.consistency_group.array_group = pod;
        self.commit(document, "policy-create", PeerPolicy::Required)
            .await?;
        Ok(policy)
    }
}
