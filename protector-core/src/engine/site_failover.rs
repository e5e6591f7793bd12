//! Site failover (spec/002): every protection group whose current primary is the failed site,
//! across tenants, each through the per-group failover, in parallel under a bound.

use std::sync::atomic::{AtomicBool, Ordering};

use chrono::Utc;
use futures::stream::{self, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::access::DR_SITE_ADMIN_ROLE;
use super::clients::Warm;
use super::planner::FailoverRequest;
use super::progress::ProgressObserver;
use super::Protector;
use crate::api::AuthInfo;
use crate::error::{Error, ErrorKind, Hint, Result};
use crate::model::{
    GroupResult, Operation, OperationStatus, OperationType, Phase, ProtectionGroup,
    ResourceMappings,
};
use crate::plan::{FailoverMode, Plan, SiteFailoverPlan, SiteGroupAction, SiteGroupPlan};

/// How many groups a site failover fails over at once unless told otherwise. The calls of
/// all of them go through the engine's per-service limits ([`super::CallLimits`]), which
/// bound the load on each service and set the pace; the group bound only keeps the number of
/// groups in flight (each with its journal, lock and members at work) finite. It is above the
/// number of groups of a 1,000-VM site (100 groups of 10: measured, a bound of 64 held 36
/// groups back until others finished, a second wave that cost 0.4-0.5 s of a 3.3 s run, and
/// more poll rounds), so that every group's chain starts at once and the services' gates,
/// not the group bound, decide what waits.
pub const DEFAULT_SITE_FAILOVER_CONCURRENCY: usize = 256;

/// Ask for a site failover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteFailoverRequest {
    /// Planned or unplanned (`--failover-type unplanned --force`).
    pub mode: FailoverMode,
    /// At most this many groups fail over at once.
    pub concurrency: usize,
    /// Only these groups (names or ids), e.g. to retry the ones that failed; all otherwise.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Use this id for the operation; a fresh one otherwise.
    #[serde(default)]
    pub operation_id: Option<Uuid>,
}

/// Notes whether a group's failover got as far as recording its operation.
#[derive(Default)]
struct ChildStarted(AtomicBool);

impl ProgressObserver for ChildStarted {
    fn on_update(&self, _operation: &Operation) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// The site operation while it runs: every change is saved and reported in order.
pub(super) struct SiteRun<'a> {
    pub(super) engine: &'a Protector,
    pub(super) observer: &'a dyn ProgressObserver,
    pub(super) op: tokio::sync::Mutex<Operation>,
}

impl SiteRun<'_> {
    /// Applies `change`, recounts, saves to the local store and tells the observer. The lock
    /// is held across the save so that records reach the store in the order they were made.
    async fn update(&self, change: impl FnOnce(&mut Operation)) -> Result<()> {
        let mut op = self.op.lock().await;
        change(&mut op);
        recount(&mut op);
        let result = self.engine.store().put_operation(&op).await;
        self.observer.on_update(&op);
        result
    }

    /// Like [`SiteRun::update`], but a store failure only warns: the groups keep going.
    pub(super) async fn record(&self, change: impl FnOnce(&mut Operation)) {
        if let Err(e) = self.update(change).await {
            tracing::warn!(error = %e, "could not record the site failover");
        }
    }

    pub(super) async fn set_group(&self, group_id: Uuid, change: impl FnOnce(&mut GroupResult)) {
        self.record(|op| {
            if let Some(result) = op.group_results.iter_mut().find(|r| r.group_id == group_id) {
                change(result);
            }
        })
        .await;
    }

    /// Fails `group` over and records its result; never fails itself.
    pub(super) async fn run_group(&self, group: &ProtectionGroup, mode: FailoverMode) {
        // A group busy with another operation is reported, not touched.
        if let Some(message) = busy(group) {
            self.set_group(group.id, |r| {
                r.status = OperationStatus::Failed;
                r.error_message = Some(message);
            })
            .await;
            return;
        }
        let site_op = self.op.lock().await.id;
        if let Err(stop) = self.engine.stop_if_cancelled(&site_op, &group.name).await {
            let message = format!("{stop}: protection group '{}' was not touched", group.name);
            self.set_group(group.id, |r| {
                r.status = OperationStatus::Failed;
                r.error_message = Some(message);
            })
            .await;
            return;
        }
        let child_id = Uuid::new_v4();
        self.set_group(group.id, |r| {
            r.status = OperationStatus::Running;
            r.operation_id = Some(child_id);
        })
        .await;
        let started = ChildStarted::default();
        let request = group_request(mode, Some(child_id));
        let outcome = Box::pin(self.engine.failover_of(&group.id, request, &started)).await;
        let recorded = started.0.load(Ordering::Relaxed);
        self.set_group(group.id, |r| match outcome {
            Ok(child) => {
                r.status = child.status;
                r.error_message = child.error_message;
            }
            Err(error) => {
                r.status = OperationStatus::Failed;
                r.error_message = Some(error.to_string());
                // Refused before it started: there is no operation record to point at.
                if !recorded {
                    r.operation_id = None;
                }
            }
        })
        .await;
    }
}

/// Why a site failover leaves `group` alone: it is busy with another operation.
fn busy(group: &ProtectionGroup) -> Option<String> {
    if !group.status.is_in_flight() && group.active_operation_id.is_none() {
        return None;
    }
    let busy = group
        .active_operation_id
        .map(|id| format!(" (operation op-{id})"))
        .unwrap_or_default();
    Some(format!(
        "protection group '{}' is {}{busy}: not touched; retry it alone once that operation has finished",
        group.name, group.status
    ))
}

/// The failover request a site failover makes for each group: its mode, the group's stored
/// mappings.
fn group_request(mode: FailoverMode, operation_id: Option<Uuid>) -> FailoverRequest {
    FailoverRequest {
        mode,
        mappings: ResourceMappings::default(),
        operation_id,
        recovery_point: None,
        // A site failover commits each group at once: it has no per-group window.
        commit_window_secs: Some(0),
    }
}

impl Protector {
    /// [`Protector::failover`] of a group held by id (read again: another operation may have
    /// changed it since the site failover listed it).
    async fn failover_of(
        &self,
        group: &Uuid,
        request: FailoverRequest,
        observer: &dyn ProgressObserver,
    ) -> Result<Operation> {
        let group = self.group_by_id(group).await?;
        // Boxed: a site failover nests a whole group failover (plan, validation, run) in its
        // own future; inline, debug builds overflow a 2 MiB thread stack.
        let plan = Box::pin(self.plan_failover_of(group, &request)).await?;
        Box::pin(self.validate_plan(&plan))
            .await?
            .into_result(&format!(
                "failover of protection group '{}'",
                plan.group_name
            ))?;
        Box::pin(self.execute_failover(&plan, observer)).await
    }
}

/// The failover plan of `group` in a site failover plan; `None` for a busy group (skipped).
async fn plan_in_site_failover(
    engine: &Protector,
    group: &ProtectionGroup,
    mode: FailoverMode,
) -> Result<Option<Plan>> {
    if busy(group).is_some() {
        return Ok(None);
    }
    Box::pin(engine.plan_failover(&group.id.to_string(), &group_request(mode, None)))
        .await
        .map(Some)
}

/// Counters, progress and (once every group is done) the final status, from the group results.
fn recount(op: &mut Operation) {
    let results = &op.group_results;
    let total = results.len();
    let count = |f: &dyn Fn(OperationStatus) -> bool| {
        u32::try_from(results.iter().filter(|r| f(r.status)).count()).unwrap_or(u32::MAX)
    };
    let succeeded = count(&|s| matches!(s, OperationStatus::Completed | OperationStatus::Partial));
    let failed = count(&|s| s == OperationStatus::Failed);
    let done = count(&|s| s.is_terminal());
    op.total_protection_groups = Some(u32::try_from(total).unwrap_or(u32::MAX));
    op.completed_count = Some(succeeded);
    op.failed_count = Some(failed);
    op.progress = if total == 0 {
        op.progress
    } else {
        u8::try_from(u64::from(done) * 100 / u64::from(op.total_protection_groups.unwrap_or(1)))
            .unwrap_or(100)
    };
}

/// The final status and message once every group is done.
pub(super) fn settle(op: &mut Operation) {
    let results = &op.group_results;
    let all = |s: OperationStatus| results.iter().all(|r| r.status == s);
    op.status = if results.is_empty() || all(OperationStatus::Completed) {
        OperationStatus::Completed
    } else if all(OperationStatus::Failed) {
        OperationStatus::Failed
    } else {
        OperationStatus::Partial
    };
    let unfinished: Vec<String> = results
        .iter()
        .filter(|r| r.status != OperationStatus::Completed)
        .map(|r| {
            format!(
                "{} {}: {}",
                r.group_name,
                r.status.as_str(),
                brief(r.error_message.as_deref().unwrap_or("no error recorded"))
            )
        })
        .collect();
    op.error_message = (!unfinished.is_empty()).then(|| {
        format!(
            "{} of {} protection groups did not complete (details in group_results); retry each on its own (a site failover of {} limited to that group) once its cause is fixed: {}",
            unfinished.len(),
            results.len(),
            op.source_site,
            unfinished.join("; ")
        )
    });
    op.progress = 100;
    op.phase = Phase::Finalization;
    op.completed_at = Some(Utc::now());
}

/// The first line of a group's error, at most 160 characters: the full text is in the group's
/// result and its own operation.
fn brief(message: &str) -> String {
    let line = message.lines().next().unwrap_or_default();
    if line.chars().count() <= 160 {
        line.to_string()
    } else {
        format!("{}…", line.chars().take(159).collect::<String>())
    }
}

impl Protector {
    /// Fails over every protection group whose current primary is `failed_site`, across all
    /// tenants (or only `request.groups`), each through [`Protector::failover`] with the
    /// group's stored mappings, at most `request.concurrency` at once.
    ///
    /// Refused before anything happens (no operation recorded, nothing changed) when the
    /// caller's credentials on the local site lack the [`DR_SITE_ADMIN_ROLE`]
    /// (`PermissionDenied`), when `failed_site` is not registered or a named group does not
    /// exist (`NotFound`), for a concurrency of 0, or for an unplanned failover run from the
    /// failed site itself (`InvalidInput`).
    ///
    /// Otherwise returns the site operation: saved to the local store and reported to
    /// `observer` at every change, first `pending` with every group in scope `pending`, then
    /// each group `running` (with its own operation id) and finally `completed`, `partial` or
    /// `failed` with its error. One group failing does not stop the others; each failed group
    /// is left as its own failover leaves it (rolled back), so that it can be retried alone
    /// (`groups: [name]`). The site operation ends `completed` when every group completed,
    /// `failed` when every group failed, `partial` otherwise; `completed_count` counts groups
    /// whose workload moved (completed or partial), `failed_count` the failed ones.
    ///
    /// Groups whose current primary is not `failed_site` (already failed over, or not
    /// involving it) are not in scope, even when named. Groups busy with another operation
    /// are reported failed without being touched.
    pub async fn site_failover(
        &self,
        failed_site: &str,
        request: SiteFailoverRequest,
        observer: &dyn ProgressObserver,
    ) -> Result<Operation> {
        // One operation: each site's Keystone is asked once whether it answers, and every
        // group's planning, validation and execution reuses the answer and the tokens.
        let this = self.for_operation();
        // Past the dr_site_admin check: the groups of every tenant, each failed over as such.
        let engine = this.unscoped();
        // The other sites' Keystones and the groups' arrays are reached (read-only: tokens,
        // array sessions) while the caller's role is checked and the groups start: their
        // plans wait for the same sessions instead of opening them one after the other.
        let warming = async {
            let Ok(groups) = engine.store().list_groups().await else {
                return;
            };
            let chosen: Vec<&ProtectionGroup> = groups
                .iter()
                .filter(|g| g.current_primary_site == failed_site)
                .filter(|g| {
                    request.groups.is_empty()
                        || request
                            .groups
                            .iter()
                            .any(|n| g.name == *n || g.id.to_string() == *n)
                })
                .collect();
            let warm = Warm {
                both_sites: false,
                source_array: request.mode == FailoverMode::Planned,
            };
            engine.warm_groups(&chosen, warm).await;
        };
        let running = async {
            let (op, in_scope) = this.site_failover_scope(failed_site, &request).await?;
            let owner = self.own_operation(&op.id).await?;
            let run = SiteRun {
                engine: &engine,
                observer,
                op: tokio::sync::Mutex::new(op),
            };
            run.update(|_| {}).await?;
            run.record(|op| op.status = OperationStatus::Running).await;
            stream::iter(in_scope.iter())
                .for_each_concurrent(request.concurrency, |group| {
                    run.run_group(group, request.mode)
                })
                .await;
            run.record(settle).await;
            Ok::<_, Error>((run.op.into_inner(), owner))
        };
        let (ran, ()) = futures::join!(Box::pin(running), Box::pin(warming));
        let (op, _owner) = ran?;
        let local = self.local_site().to_string();
        let target = op.target_site.clone();
        // The other site keeps the record too, so `operation show` works from either side.
        if target != local {
            if let Ok(peer) = self.store_of(&target) {
                if let Err(e) = peer.put_operation(&op).await {
                    tracing::warn!(error = %e, site = %target, "could not copy the site failover record");
                }
            }
        }
        Ok(op)
    }

    /// The pending record of a site failover of `failed_site` (every group in scope
    /// `pending`), after every refusal [`Protector::site_failover`] makes before it runs:
    /// what a caller records before starting the run elsewhere. Nothing is saved.
    pub async fn plan_site_failover(
        &self,
        failed_site: &str,
        request: &SiteFailoverRequest,
    ) -> Result<Operation> {
        Ok(self.site_failover_scope(failed_site, request).await?.0)
    }

    /// What a site failover of `failed_site` will do, group by group: every group in scope
    /// (the one [`Protector::site_failover`] takes, in the order it starts them), whether it
    /// is failed over or skipped as busy, in which mode, and its failover plan as it stands
    /// now, made with the request the site failover makes for it. Refused like
    /// [`Protector::site_failover`] before it runs; nothing is changed.
    ///
    /// The site failover plans each group again when its turn comes (its plan must not be
    /// stale by then); a group whose plan has a blocking finding is refused then and reported
    /// failed, the others go on.
    pub async fn plan_site_failover_groups(
        &self,
        failed_site: &str,
        request: &SiteFailoverRequest,
    ) -> Result<SiteFailoverPlan> {
        Ok(self
            .plan_site_failover_with_groups(failed_site, request)
            .await?
            .1)
    }

    /// [`Protector::plan_site_failover`] and [`Protector::plan_site_failover_groups`] at once.
    pub(super) async fn plan_site_failover_with_groups(
        &self,
        failed_site: &str,
        request: &SiteFailoverRequest,
    ) -> Result<(Operation, SiteFailoverPlan)> {
        // One operation: each site is probed once and its inventory read once per project,
        // whatever the number of groups; the groups are planned at once, within the bound.
        let this = self.within_operation();
        let (op, in_scope) = this.site_failover_scope(failed_site, request).await?;
        let engine = this.unscoped();
        // The futures are made first: a stream of a closure over borrowed groups would not be
        // `Send` for every lifetime (the operation future must be).
        let plans: Vec<_> = in_scope
            .iter()
            .map(|group| plan_in_site_failover(&engine, group, request.mode))
            .collect();
        let plans: Vec<Option<Plan>> = stream::iter(plans)
            .buffered(request.concurrency.max(1))
            .try_collect()
            .await?;
        let mut groups = Vec::new();
        for (group, plan) in in_scope.iter().zip(plans) {
            let reason = busy(group);
            groups.push(SiteGroupPlan {
                group_id: group.id,
                group_name: group.name.clone(),
                project_id: group.project_id.clone(),
                mode: request.mode,
                action: if reason.is_some() {
                    SiteGroupAction::Skip
                } else {
                    SiteGroupAction::Failover
                },
                reason,
                plan,
            });
        }
        let plan = SiteFailoverPlan {
            id: op.id,
            mode: request.mode,
            failed_site: op.source_site.clone(),
            target_site: op.target_site.clone(),
            concurrency: request.concurrency,
            groups,
        };
        Ok((op, plan))
    }

    async fn site_failover_scope(
        &self,
        failed_site: &str,
        request: &SiteFailoverRequest,
    ) -> Result<(Operation, Vec<ProtectionGroup>)> {
        if request.concurrency == 0 {
            return Err(Error::invalid(
                "site failover concurrency must be at least 1",
            ));
        }
        self.site(failed_site).await?;
        let local = self.local_site().to_string();
        if request.mode == FailoverMode::Unplanned && local == failed_site {
            return Err(Error::invalid(format!(
                "an unplanned failover of site '{failed_site}' must run from the surviving site"
            ))
            .with_hint(Hint::UseSite { site: None }));
        }
        self.ensure_dr_site_admin().await?;

        // A site failover is across tenants: the role above is its authorization.
        let engine = self.unscoped();
        let all = engine.groups().await?;
        let mut wanted = Vec::new();
        for name in &request.groups {
            wanted.push(engine.group(name).await?.id);
        }
        let in_scope: Vec<ProtectionGroup> = all
            .into_iter()
            .filter(|g| g.current_primary_site == failed_site)
            .filter(|g| wanted.is_empty() || wanted.contains(&g.id))
            .collect();
        let target = if local != failed_site {
            local.clone()
        } else {
            in_scope
                .first()
                .map(|g| g.current_secondary_site().to_string())
                .unwrap_or_default()
        };

        let mut op = Operation::start(
            OperationType::SiteFailover,
            None,
            failed_site,
            &target,
            Utc::now(),
        );
        if let Some(id) = request.operation_id {
            op.id = id;
        }
        op.status = OperationStatus::Pending;
        op.group_results = in_scope
            .iter()
            .map(|g| GroupResult {
                group_id: g.id,
                group_name: g.name.clone(),
                project_id: g.project_id.clone(),
                operation_id: None,
                status: OperationStatus::Pending,
                error_message: None,
            })
            .collect();
        recount(&mut op);
        Ok((op, in_scope))
    }

    /// Refuses unless the local site's credentials carry [`DR_SITE_ADMIN_ROLE`].
    async fn ensure_dr_site_admin(&self) -> Result<AuthInfo> {
        let local = self.local_site();
        let clients = self.clients(local).await?;
        let auth = self.reach(&clients).await?;
        if auth.has_role(DR_SITE_ADMIN_ROLE) {
            return Ok(auth);
        }
        Err(Error::new(
            ErrorKind::PermissionDenied,
            format!(
                "site failover requires the {DR_SITE_ADMIN_ROLE} role: user '{}' in project '{}' on {local} does not have it; \
                 ask an administrator to grant it (`openstack role add --user {} --project {} {DR_SITE_ADMIN_ROLE}`) or use credentials that have it. Nothing was changed",
                auth.user_name, auth.project_name, auth.user_name, auth.project_name
            ),
        )
        .with_context("site", local))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(name: &str, status: OperationStatus) -> GroupResult {
        GroupResult {
            group_id: Uuid::new_v4(),
            group_name: name.into(),
            project_id: "p".into(),
            operation_id: None,
            status,
            error_message: (status == OperationStatus::Failed).then(|| "boom".into()),
        }
    }

    fn op(statuses: &[OperationStatus]) -> Operation {
        let mut op = Operation::start(
            OperationType::SiteFailover,
            None,
            "site-a",
            "site-b",
            Utc::now(),
        );
        op.group_results = statuses
            .iter()
            .enumerate()
            .map(|(i, s)| result(&format!("g{i}"), *s))
            .collect();
        op
    }

    #[test]
    fn progress_is_the_share_of_finished_groups() {
        use OperationStatus::*;
        let mut o = op(&[Completed, Running, Pending, Failed]);
        recount(&mut o);
        assert_eq!(o.progress, 50);
        assert_eq!(o.total_protection_groups, Some(4));
        assert_eq!(o.completed_count, Some(1));
        assert_eq!(o.failed_count, Some(1));
    }

    #[test]
    fn final_status_follows_the_groups() {
        use OperationStatus::*;
        for (groups, expected) in [
            (vec![], Completed),
            (vec![Completed, Completed], Completed),
            (vec![Completed, Failed], Partial),
            (vec![Completed, Partial], Partial),
            (vec![Failed, Failed], Failed),
        ] {
            let mut o = op(&groups);
            settle(&mut o);
            assert_eq!(o.status, expected, "{groups:?}");
            assert_eq!(o.progress, 100);
            assert_eq!(o.error_message.is_some(), expected != Completed);
        }
        let mut o = op(&[Completed, Failed]);
        settle(&mut o);
        let message = o.error_message.unwrap();
        assert!(
            message.starts_with("1 of 2 protection groups did not complete"),
            "{message}"
        );
        assert!(message.ends_with("g1 failed: boom"), "{message}");
    }
}
