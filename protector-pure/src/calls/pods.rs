//! ActiveCluster pods: read, create, stretch, promote and demote.

use protector_core::api::Pod;
use protector_core::{Error, Result};
use serde_json::json;

use crate::client::FlashArrayClient;
use crate::error::{array_says, is_missing};
use crate::request::Request;
use crate::wire::WirePod;

impl FlashArrayClient {
    /// A pod by name (`GET /pods?names=`). `Ok(None)` when missing.
    pub async fn get_pod(&self, name: &str) -> Result<Option<Pod>> {
        let request = Request::get("pods", "read pod")
            .names("names", &[name])
            .object(name);
        match self.list::<WirePod>(&request).await {
            Ok(pods) => Ok(pods.into_iter().next().map(Into::into)),
            Err(e) if is_missing(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates a pod (`POST /pods?names=` with `{}`). `AlreadyExists` when the name is taken.
    pub async fn create_pod(&self, name: &str) -> Result<Pod> {
        let request = Request::post("pods", "create pod")
            .names("names", &[name])
            .body(json!({}))
            .object(name);
        let pods: Vec<WirePod> = self.items(&request).await?;
        pods.into_iter().next().map(Into::into).ok_or_else(|| {
            Error::unexpected(format!(
                "create pod {name} on FlashArray {}: the array answered without the pod",
                self.inner.label
            ))
        })
    }

    /// Stretches a pod to another array: `POST /pods/members?pod_names=&member_names=` from
    /// REST 2.36, `POST /pods/arrays?group_names=&member_names=` before (deprecated since).
    /// Stretching to an array that is already a member succeeds.
    pub async fn add_pod_array(&self, pod: &str, array: &str) -> Result<()> {
        let request = if self.api_version().await?.at_least(2, 36) {
            Request::post("pods/members", "stretch pod").names("pod_names", &[pod])
        } else {
            Request::post("pods/arrays", "stretch pod").names("group_names", &[pod])
        }
        .names("member_names", &[array])
        .object(format!("{pod} to {array}"));
        match self.run(&request).await {
            Err(e) if array_says(&e, &["already"]) => Ok(()),
            // Also what a second stretch to the same array may say; look before deciding.
            Err(e) if array_says(&e, &["limit reached"]) => {
                let stretched = self
                    .get_pod(pod)
                    .await?
                    .is_some_and(|p| p.arrays.iter().any(|a| a.name == array));
                if stretched {
                    Ok(())
                } else {
                    Err(e)
                }
            }
            other => other,
        }
    }

    /// Promotes a pod on this array (`PATCH /pods?names=` with
    /// `{"requested_promotion_state": "promoted"}`). The array then reports `promoting` until
    /// done; poll [`FlashArrayClient::get_pod`].
    pub async fn promote_pod(&self, pod: &str) -> Result<()> {
        self.request_promotion(pod, "promoted", "promote pod").await
    }

    /// Demotes a pod on this array (`{"requested_promotion_state": "demoted"}`): it stops
    /// taking writes.
    pub async fn demote_pod(&self, pod: &str) -> Result<()> {
        self.request_promotion(pod, "demoted", "demote pod").await
    }

    async fn request_promotion(
        &self,
        pod: &str,
        state: &str,
        operation: &'static str,
    ) -> Result<()> {
        let request = Request::patch("pods", operation)
            .names("names", &[pod])
            .body(json!({"requested_promotion_state": state}))
            .object(pod);
        match self.run(&request).await {
            Err(e) if array_says(&e, &["already"]) => Ok(()),
            other => other,
        }
    }
}
