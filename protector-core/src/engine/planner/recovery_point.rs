//! What a failover recovers from: the replication a planned failover needs (checked before
//! anything stops), and the recovery point of an unplanned one with the data at risk.

use crate::api::ArrayApi;
use crate::engine::report::{ReplicaState, ReplicationHealth};
use crate::engine::text::{human_age, human_bytes};
use crate::engine::validate::Finding;
use crate::engine::Protector;
use crate::error::{ErrorKind, Hint, Result};
use crate::model::{ArrayEndpoint, ProtectionGroup, ReplicationPolicy, ReplicationType};
use crate::plan::{Plan, RecoveryPoint};

/// The array's clock (`_as_of` of its answers), the wall clock when it does not say.
pub(crate) fn array_clock(info: &crate::api::ArrayInfo) -> chrono::DateTime<chrono::Utc> {
    info.as_of.unwrap_or_else(chrono::Utc::now)
}

/// A planned failover stops the VMs and then waits for a final snapshot to reach the target:
/// refuse it, before anything stops, when replication could not deliver that snapshot.
pub(super) fn planned_replication_findings(
    plan: &mut Plan,
    group: &ProtectionGroup,
    policy: &ReplicationPolicy,
    state: Result<ReplicaState>,
) {
    let (name, source, target) = (&group.name, &plan.source_site, &plan.target_site);
    let way_out = "restore the replication link between the arrays and retry, or run an unplanned (forced) failover, which recovers from the last replicated data and accepts the data at risk";
    let state = match state {
        Ok(state) => state,
        Err(e) => {
            plan.findings.push(Finding::error(
                e.kind(),
                "replication_unknown",
                format!(
                    "the replication state of protection group '{name}' could not be read ({}): a planned failover needs working replication to {target}; retry when both arrays answer",
                    e.message()
                ),
            ));
            return;
        }
    };
    let problem = state.problem.unwrap_or_default();
    match state.health {
        ReplicationHealth::Interrupted => plan.findings.push(Finding::error(
            ErrorKind::ValidationFailed,
            "replication_interrupted",
            format!(
                "replication of protection group '{name}' (FlashArray protection group '{}') from {source} to {target} is interrupted: {problem}; a planned failover would stop the VMs and then wait for a final snapshot that cannot arrive: {way_out}",
                policy.pure_pg_name
            ),
        )),
        ReplicationHealth::Degraded => plan.findings.push(Finding::error(
            ErrorKind::ValidationFailed,
            "pod_not_in_sync",
            format!(
                "protection group '{name}' cannot fail over as planned to {target}: {problem}; {way_out}"
            ),
        )),
        ReplicationHealth::RpoExceeded => plan.findings.push(Finding::warning(
            "replication_lagging",
            format!(
                "the last snapshot of protection group '{name}' that reached {target} is {} old, beyond the RPO of {} minutes: the final snapshot may take long to arrive while the VMs are stopped",
                human_age(state.lag_seconds.unwrap_or(0)),
                policy.rpo_minutes
            ),
        )),
        // No replicated snapshot yet, with a working link and a target that allows the
        // replica: the final snapshot is the first full copy. It can arrive, so a group may be
        // moved as soon as it is protected (its wait is bounded like any other).
        ReplicationHealth::NoReplicatedSnapshot
        | ReplicationHealth::Ok
        | ReplicationHealth::Synchronous
        | ReplicationHealth::NotConfigured
        | ReplicationHealth::Unknown => {}
    }
}

impl Protector {
    /// Unplanned failover: refuses while both the source site and its array answer and
    /// replication works (a planned failover loses nothing then), and finds the replicated
    /// snapshot to recover from with the data at risk, by the target array's clock.
    #[expect(
        clippy::too_many_arguments,
        reason = "the planner's state, passed as the caller holds it"
    )]
    pub(super) async fn plan_recovery_point(
        &self,
        plan: &mut Plan,
        policy: &ReplicationPolicy,
        group: &ProtectionGroup,
        target_array: &dyn ArrayApi,
        source_ep: &ArrayEndpoint,
        source_site_reachable: bool,
        replication_broken: bool,
        wanted: Option<&str>,
    ) -> Result<()> {
        let source = plan.source_site.clone();
        let target = plan.target_site.clone();
        let source_array = self.inner.connector.array(source_ep).await?;
        let source_info = source_array.array_info().await.ok();
        let source_array_answers = source_info.is_some();
        // With replication broken a planned failover cannot finish: the unplanned one is the
        // way out, and it stops the source VMs first since they answer.
        if source_site_reachable && source_info.is_some() && !replication_broken {
            plan.findings.push(
                Finding::error(
                    ErrorKind::Conflict,
                    "source_reachable",
                    format!("{source} and its FlashArray answer"),
                )
                .with_hint(Hint::PlannedFailover {
                    group: group.name.clone(),
                }),
            );
        }
        if group.replication_type == ReplicationType::Sync {
            let info = match target_array.array_info().await {
                Ok(i) => i,
                // The target array being down is already a finding.
                Err(e) if e.kind() == ErrorKind::Unavailable => return Ok(()),
                Err(e) => return Err(e),
            };
            let array_time = array_clock(&info);
            match target_array.get_pod(&policy.pure_pg_name).await? {
                Some(pod) if crate::engine::pods::online_on(&pod, &info.name) => {
                    plan.recovery_point = Some(RecoveryPoint {
                        snapshot: format!("pod {}", pod.name),
                        created_at: array_time,
                        replicated_at: None,
                        array_time,
                        age_secs: 0,
                        changed_bytes: Some(0),
                        data_at_risk: format!(
                            "none: sync replication, pod '{}' is online on {target}'s FlashArray {} and holds every acknowledged write",
                            pod.name, info.name
                        ),
                    });
                }
                Some(pod) => plan.findings.push(Finding::error(
                    ErrorKind::Unavailable,
                    "pod_offline_on_target",
                    format!(
                        "pod '{}' is not online on {target}'s FlashArray {} ({}): the mediator kept the other array online, so the copy on {target} may miss writes; restore the link or the mediator first",
                        pod.name,
                        info.name,
                        pod.arrays
                            .iter()
                            .map(|a| format!("{} {}", a.name, a.status))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )),
                None => plan.findings.push(Finding::error(
                    ErrorKind::NotFound,
                    "pod_missing",
                    format!(
                        "pod '{}' does not exist on {target}'s FlashArray {}: nothing to recover '{}' from",
                        policy.pure_pg_name, info.name, group.name
                    ),
                )),
            }
            return Ok(());
        }
        let source_name = source_info
            .map(|i| i.name)
            .or_else(|| policy.array_name_on(group, &source).map(str::to_string));
        let Some(source_name) = source_name else {
            plan.findings.push(Finding::error(
                ErrorKind::ValidationFailed,
                "source_array_name_unknown",
                format!(
                    "the name of {source}'s FlashArray is not recorded in the policy of '{}' and the array does not answer (or fail over when it answers)",
                    group.name
                ),
            )
            .with_hint(Hint::CreatePolicy {
                group: group.name.clone(),
            }));
            return Ok(());
        };
        plan.source_array = Some(source_name.clone());
        let replica_group = format!("{source_name}:{}", policy.pure_pg_name);
        let (transfers, info) = match (
            target_array
                .list_pg_snapshot_transfers(&replica_group)
                .await,
            target_array.array_info().await,
        ) {
            (Ok(t), Ok(i)) => (t, i),
            // The target array being down is already a finding.
            (Err(e), _) | (_, Err(e)) if e.kind() == ErrorKind::Unavailable => return Ok(()),
            (Err(e), _) if e.kind() == ErrorKind::NotFound => {
                (Vec::new(), target_array.array_info().await?)
            }
            (Err(e), _) | (_, Err(e)) => return Err(e),
        };
        let chosen =
            crate::engine::recovery_points::choose(transfers, wanted, &group.name, &target);
        let chosen = match chosen {
            Ok(chosen) => chosen,
            Err(e) => {
                let finding = Finding::error(e.kind(), "recovery_point_unusable", e.message());
                plan.findings.push(match e.hint() {
                    Some(hint) => finding.with_hint(hint.clone()),
                    None => finding,
                });
                return Ok(());
            }
        };
        let Some(latest) = chosen else {
            plan.findings.push(Finding::error(
                ErrorKind::NotFound,
                "no_replicated_snapshot",
                format!(
                    "no fully replicated snapshot of {replica_group} exists on {target}'s FlashArray {}: there is nothing to recover '{}' from",
                    info.name, group.name
                ),
            ));
            return Ok(());
        };
        let created = target_array
            .list_pg_snapshots(&replica_group)
            .await?
            .into_iter()
            .find(|s| s.name == latest.name)
            .map(|s| s.created)
            .or(latest.started)
            .unwrap_or(array_clock(&info));
        let array_time = array_clock(&info);
        let age_secs = (array_time - created).num_seconds().max(0);
        // How much changed since, as the source array's volume diff says (when it answers).
        let (changed_bytes, changed_note) = if source_array_answers {
            let local = latest
                .name
                .split_once(':')
                .map_or(latest.name.as_str(), |(_, n)| n);
            let mut total = 0u64;
            let mut failure = None;
            for member in self.store().list_members(&group.id).await? {
                for volume in &member.current.array_volumes {
                    match source_array
                        .changed_bytes_since(volume, &format!("{local}.{volume}"))
                        .await
                    {
                        Ok(bytes) => total += bytes,
                        Err(e) => {
                            failure = Some(e.message().to_string());
                            break;
                        }
                    }
                }
            }
            match failure {
                None => (
                    Some(total),
                    format!(
                        "{source}'s FlashArray reports {} changed since then (at least: VMs there may still be writing)",
                        human_bytes(total)
                    ),
                ),
                Some(why) => (
                    None,
                    format!("{source}'s FlashArray could not say how much changed since ({why})"),
                ),
            }
        } else {
            (
                None,
                format!(
                    "how much was written since is unknown: {source}'s FlashArray does not answer"
                ),
            )
        };
        let data_at_risk = format!(
            "writes to the volumes of '{}' on {source} after {} ({}, {} ago by {target}'s FlashArray clock) are lost: the failover recovers from replicated snapshot {}; {changed_note}",
            group.name,
            created.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            latest.name,
            human_age(age_secs),
            latest.name
        );
        if u64::try_from(age_secs).unwrap_or(0) > policy.rpo_minutes * 60 {
            plan.findings.push(Finding::warning(
                "rpo_exceeded",
                format!(
                    "the latest replicated snapshot is {} old, beyond the RPO of {} minutes",
                    human_age(age_secs),
                    policy.rpo_minutes
                ),
            ));
        }
        plan.recovery_point = Some(RecoveryPoint {
            snapshot: latest.name,
            created_at: created,
            replicated_at: latest.completed,
            array_time,
            age_secs,
            changed_bytes,
            data_at_risk,
        });
        Ok(())
    }
}
