//! Sync replication: FlashArray ActiveCluster pods.
//!
//! The Pure Cinder driver keeps every volume of a sync-replicated type in one pod stretched over
//! both arrays (`pure_replication_pod_name`, `cinder-pod` by default): the volume
//! `pod::volume-<id>-cinder` exists with the same data on both arrays at every moment. A sync
//! protection group binds to that pod. A failover copies the pod volumes on the target array
//! (a stretched pod volume cannot be managed into Cinder twice) after stopping the source VMs,
//! so that a planned failover and, while the target side of the pod is online, an unplanned
//! one lose nothing.

use super::lifecycle::CreatePolicy;
use super::sync::PeerPolicy;
use super::Protector;
use crate::api::{ArrayApi, Pod};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{ProtectionGroup, ReplicationPolicy};

/// Whether `array` is an online member of `pod`.
pub(crate) fn online_on(pod: &Pod, array: &str) -> bool {
    pod.arrays
        .iter()
        .any(|a| a.name == array && a.status == "online")
}

/// The pod a pod volume name (`pod::vol`) lives in.
pub(crate) fn pod_of(array_volume: &str) -> Option<&str> {
    array_volume.split_once("::").map(|(pod, _)| pod)
}

/// `pod` as `array` sees it, with a clear error when it is missing.
pub(crate) async fn pod_on(array: &dyn ArrayApi, array_name: &str, pod: &str) -> Result<Pod> {
    array.get_pod(pod).await?.ok_or_else(|| {
        Error::not_found(format!(
            "pod '{pod}' does not exist on FlashArray {array_name}: sync protection groups use the pod the Pure Cinder driver keeps its sync-replicated volumes in (pure_replication_pod_name)"
        ))
    })
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
