//! What [`Protector::submit`] checks before it records an operation: every refusal an
//! operation makes before it starts, and the `pending` record and request it keeps.

use chrono::Utc;

use super::clients::Warm;
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

    /// Reaches, while the group is resolved and the plan read, the sites and arrays the
    /// operation on one group needs in any case ([`Protector::warm_groups`]: a failover's or
    /// drill's target, both sites of a failback, a planned failover's source array). The group
    /// is looked up in the local store only to know its sites and arrays: nothing is shown,
    /// and access is checked where it is resolved. A site failover warms in its run.
    async fn warm(&self, request: &OperationRequest) {
        let Ok(groups) = self.store().list_groups().await else {
            return;
        };
        let (chosen, warm) = match request {
            OperationRequest::Failover { group, request } => (
                one_group(&groups, group),
                Warm {
                    both_sites: false,
                    source_array: request.mode == FailoverMode::Planned,
                },
            ),
            OperationRequest::TestFailover { group, .. } => (
                one_group(&groups, group),
                Warm {
                    both_sites: false,
                    source_array: false,
                },
            ),
            OperationRequest::Failback { group, .. } => (
                one_group(&groups, group),
                Warm {
                    both_sites: true,
                    source_array: false,
                },
            ),
            _ => return,
        };
        self.warm_groups(&chosen, warm).await;
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
                // replicated yet, ...) comes back to the caller, and nothing is recorded. A run
                // in this process that starts at once uses the plan made here; a later one, or
                // one in another process, plans again (the snapshot may be newer by then).
                let pending = pending_for(&found, kind);
                Box::pin(self.admit_drill(found.clone(), &request, pending.id)).await?;
                let group = found.id.to_string();
                (
                    pending,
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
