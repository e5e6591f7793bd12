//! What [`Protector::submit`] checks before it records an operation: every refusal an
//! operation makes before it starts, and the `pending` record and request it keeps.

use std::collections::{BTreeMap, BTreeSet};

use chrono::Utc;

use super::{
    FailbackRequest, FailoverRequest, OperationRequest, Protector, SiteFailoverRequest,
    TestFailoverRequest,
};
use crate::error::{Error, Result};
use crate::model::{Operation, OperationStatus, OperationType, ProtectionGroup};
use crate::plan::{FailoverMode, Plan, SiteFailoverPlan};

/// The one group named `name` (name or id), if exactly one matches.
fn one_group<'g>(groups: &'g [ProtectionGroup], name: &str) -> Vec<&'g ProtectionGroup> {
    let found: Vec<_> = groups
        .iter()
        .filter(|g| g.name == name || g.id.to_string() == name)
        .collect();
    match found.len() {
        1 => found,
        _ => Vec::new(),
    }
}

impl Protector {
    /// The checks of [`Protector::submit`]: the pending record, the request to keep (groups
    /// named by id, so a rename meanwhile changes nothing) and the plan to run exactly.
    pub(super) async fn admit(
        &self,
        request: OperationRequest,
    ) -> Result<(
        Operation,
        OperationRequest,
        Option<Plan>,
        Option<SiteFailoverPlan>,
    )> {
        if let OperationRequest::SiteFailover { site, request } = request {
            let request = SiteFailoverRequest {
                operation_id: None,
                ..request
            };
            let (mut pending, site_plan) = match request.mode {
                // Every group's recovery point, before anything runs.
                FailoverMode::Unplanned => {
                    let (pending, plan) =
                        self.plan_site_failover_with_groups(&site, &request).await?;
                    (pending, Some(plan))
                }
                FailoverMode::Planned => (self.plan_site_failover(&site, &request).await?, None),
            };
            pending.status = OperationStatus::Pending;
            return Ok((
                pending,
                OperationRequest::SiteFailover { site, request },
                None,
                site_plan,
            ));
        }
        // The site the operation needs besides the caller's is asked while the group is
        // resolved and the plan read (one Keystone round trip less on the path).
        let (admitted, ()) = futures::join!(
            Box::pin(self.admit_group(request.clone())),
            Box::pin(self.warm(&request))
        );
        let (operation, request, plan) = admitted?;
        Ok((operation, request, plan, None))
    }

    /// Checks, in this operation, the reachability of the sites `request` needs in any case:
    /// a failover's or drill's target, both sites of a failback, the other sites of a site
    /// failover (never an unplanned failover's source, which may be the site that is lost;
    /// a planned one's when it is not the local site), and opens the sessions of their arrays
    /// (and of the source arrays of a planned failover, which needs them). The groups are looked up in the local store only to know their sites and
    /// arrays: nothing is shown, and access is checked where they are resolved. Errors are
    /// left to the calls that need the answer.
    pub(super) async fn warm(&self, request: &OperationRequest) {
        let Ok(groups) = self.store().list_groups().await else {
            return;
        };
        // The groups, and whether their source array is needed.
        let (chosen, both, source_array): (Vec<&ProtectionGroup>, bool, bool) = match request {
            OperationRequest::Failover { group, request } => (
                one_group(&groups, group),
                false,
                request.mode == FailoverMode::Planned,
            ),
            OperationRequest::TestFailover { group, .. } => (one_group(&groups, group), false, false),
            OperationRequest::Failback { group, .. } => (one_group(&groups, group), true, false),
            OperationRequest::SiteFailover { site, request } => (
                groups
                    .iter()
                    .filter(|g| g.current_primary_site == *site)
                    .filter(|g| {
                        request.groups.is_empty()
                            || request
                                .groups
                                .iter()
                                .any(|n| g.name == *n || g.id.to_string() == *n)
                    })
                    .collect(),
                false,
                request.mode == FailoverMode::Planned,
            ),
            _ => return,
        };
        let mut keystones = BTreeSet::new();
        let mut arrays = BTreeMap::new();
        for group in chosen {
            let target = group.current_secondary_site().to_string();
            let source = group.current_primary_site.clone();
            let policy = self.store().get_policy(&group.id).await.ok().flatten();
            if let Some(policy) = &policy {
                let target_array = policy.array_on(group, &target);
                arrays.insert(target_array.url.clone(), target_array.clone());
                if both || source_array {
                    let source_array = policy.array_on(group, &source);
                    arrays.insert(source_array.url.clone(), source_array.clone());
                }
            }
            keystones.insert(target);
            // A planned operation needs its source; the local site is being asked already
            // (who the caller is).
            if both || (source_array && source != self.local_site()) {
                keystones.insert(source);
            }
        }
        let keystones = keystones.iter().map(|site| async move {
            if let Ok(clients) = self.clients(site).await {
                let _ = self.reach(&clients).await;
            }
        });
        // The arrays' version and login, ahead of the plan's reads.
        let arrays = arrays.values().map(|endpoint| async move {
            if let Ok(array) = self.inner.connector.array(endpoint).await {
                let _ = array.array_info().await;
            }
        });
        futures::join!(
            futures::future::join_all(keystones),
            futures::future::join_all(arrays)
        );
    }

    /// [`Protector::admit`] of an operation on one group.
    async fn admit_group(
        &self,
        request: OperationRequest,
    ) -> Result<(Operation, OperationRequest, Option<Plan>)> {
        let kind = request.operation_type();
        Ok(match request {
            OperationRequest::Failover { group, request } => {
                let request = FailoverRequest {
                    operation_id: None,
                    ..request
                };
                let plan = self.plan_failover(&group, &request).await?;
                self.validate_plan(&plan).await?.into_result(&format!(
                    "failover of protection group '{}'",
                    plan.group_name
                ))?;
                let pending = pending_for_plan(&plan, kind);
                let group = plan.group_id.to_string();
                (
                    pending,
                    OperationRequest::Failover { group, request },
                    Some(plan),
                )
            }
            OperationRequest::Failback { group, request } => {
                let request = FailbackRequest {
                    operation_id: None,
                    ..request
                };
                let plan = self.plan_failback(&group, &request).await?;
                self.validate_plan(&plan).await?.into_result(&format!(
                    "failback of protection group '{}'",
                    plan.group_name
                ))?;
                let pending = pending_for_plan(&plan, kind);
                let group = plan.group_id.to_string();
                (
                    pending,
                    OperationRequest::Failback { group, request },
                    Some(plan),
                )
            }
            OperationRequest::TestFailover { group, request } => {
                let found = self.group(&group).await?;
                self.ensure_not_claimed_for(&found, kind)?;
                let request = TestFailoverRequest {
                    operation_id: None,
                    ..request
                };
                // Every refusal of the drill's pre-flight (unmapped networks, nothing
                // replicated yet, ...) comes back to the caller, and nothing is recorded. The
                // run plans again: the snapshot may be newer by then.
                self.check_drill(found.clone(), &request).await?;
                let group = found.id.to_string();
                (
                    pending_for(&found, kind),
                    OperationRequest::TestFailover { group, request },
                    None,
                )
            }
            OperationRequest::TestFailoverCleanup { group } => {
                let found = self.group(&group).await?;
                let group = found.id.to_string();
                (
                    pending_for(&found, kind),
                    OperationRequest::TestFailoverCleanup { group },
                    None,
                )
            }
            OperationRequest::SiteFailover { .. } => {
                return Err(Error::unexpected(
                    "a site failover is admitted by admit, not admit_group",
                ))
            }
        })
    }

    /// A drill is refused at once while another operation runs on the group.
    fn ensure_not_claimed_for(&self, group: &ProtectionGroup, kind: OperationType) -> Result<()> {
        match group.active_operation_id {
            Some(running) => Err(Error::conflict(format!(
                "operation op-{running} is running on protection group '{}' (status {}): nothing was changed; wait for it to finish, then start the {} again",
                group.name,
                group.status,
                kind.as_str()
            ))),
            None => Ok(()),
        }
    }
}

/// A `pending` record of `kind` about `group`, from its primary to its secondary.
fn pending_for(group: &ProtectionGroup, kind: OperationType) -> Operation {
    let mut op = Operation::start(
        kind,
        Some((&group.id, &group.name)),
        &group.current_primary_site,
        group.current_secondary_site(),
        Utc::now(),
    );
    op.status = OperationStatus::Pending;
    op
}

/// A `pending` record of what `plan` does.
fn pending_for_plan(plan: &Plan, kind: OperationType) -> Operation {
    let mut op = Operation::start(
        kind,
        Some((&plan.group_id, &plan.group_name)),
        &plan.source_site,
        &plan.target_site,
        Utc::now(),
    );
    op.id = plan.id;
    op.status = OperationStatus::Pending;
    op.estimate = plan.estimate.clone();
    op
}
