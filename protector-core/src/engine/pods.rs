//! Sync replication: FlashArray ActiveCluster pods.
//!
//! The Pure Cinder driver keeps every volume of a sync-replicated type in one pod stretched over
//! both arrays (`pure_replication_pod_name`, `cinder-pod` by default): the volume
//! `pod::volume-<id>-cinder` exists with the same data on both arrays at every moment. A sync
//! protection group binds to that pod. A failover copies the pod volumes on the target array
//! (a stretched pod volume cannot be managed into Cinder twice) after stopping the source VMs,
//! so that a planned failover and, while the target side of the pod is online, an unplanned
//! one lose nothing.

use crate::api::{ArrayApi, Pod};
use crate::error::{Error, Result};

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
