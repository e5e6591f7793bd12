//! Recovery point choice: the replicated snapshots of a group still on the array it fails over
//! to (newest first, with their age by that array's clock), the choice of one of them for an
//! unplanned failover or a drill, and the record of the point a failed-over group runs on.
//!
//! The commit window that follows an unplanned failover (commit, roll back to an older point)
//! is in `commit_window`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::validate::Finding;
use super::Protector;
use crate::api::{ArrayApi, PgSnapshotTransfer};
use crate::error::{Error, ErrorKind, Hint, Result};
use crate::model::{GroupStatus, ProtectionGroup, ReplicationType, RunningPoint};
use crate::plan::{FailoverMode, Plan};

/// The commit window of an unplanned failover when the request names none: one hour.
pub const DEFAULT_COMMIT_WINDOW_SECS: u64 = 3600;

/// One replicated protection-group snapshot on the array a group fails over to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecoveryPointEntry {
    /// `array:pg.N`, as the target array names it.
    pub name: String,
    /// When the source array took it.
    pub created_at: DateTime<Utc>,
    /// Replication progress, 0.0 – 1.0.
    pub progress: f64,
    /// When it had fully arrived.
    pub replicated_at: Option<DateTime<Utc>>,
    /// Its age by the target array's clock (every write after it is lost when recovering from
    /// it).
    pub age_secs: i64,
    /// Fully arrived: a failover or a drill can recover from it.
    pub usable: bool,
    /// The group runs on it now (an uncommitted failover recovered from it).
    pub current: bool,
}

/// What [`Protector::recovery_points`] lists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecoveryPoints {
    /// The protection group.
    pub group: String,
    /// The site whose array holds the points: the group's current secondary, or, while a
    /// failover awaits its commit, the site it failed over to (the points a rollback can use).
    pub site: String,
    /// That site's FlashArray.
    pub array: String,
    /// That array's clock when it was asked: the ages are measured against it.
    pub array_time: DateTime<Utc>,
    /// Replication type: a sync (pod) group has no point to choose.
    pub replication_type: ReplicationType,
    /// Why the list is empty or what it means, when that needs saying.
    pub note: Option<String>,
    /// Newest first.
    pub points: Vec<RecoveryPointEntry>,
}

/// Whether snapshot `name` (`array:pg.N`) is the one `wanted` names: its full name, its name
/// on the source array (`pg.N`) or its suffix (`N`).
pub(crate) fn names(name: &str, wanted: &str) -> bool {
    let wanted = wanted.trim();
    !wanted.is_empty()
        && (name == wanted
            || name
                .split_once(':')
                .is_some_and(|(_, local)| local == wanted)
            || name
                .rsplit_once('.')
                .is_some_and(|(_, suffix)| suffix == wanted))
}

/// The snapshot to recover from among `transfers` (newest first): the one `wanted` names,
/// which must have fully arrived, or the latest one that has. `Ok(None)`: nothing has arrived
/// yet (and nothing was asked for). `InvalidInput` naming the snapshot otherwise.
pub(crate) fn choose(
    transfers: Vec<PgSnapshotTransfer>,
    wanted: Option<&str>,
    group: &str,
    site: &str,
) -> Result<Option<PgSnapshotTransfer>> {
    let Some(wanted) = wanted else {
        return Ok(transfers.into_iter().find(PgSnapshotTransfer::is_complete));
    };
    let hint = Hint::ListRecoveryPoints {
        group: group.to_string(),
    };
    match transfers.into_iter().find(|t| names(&t.name, wanted)) {
        None => Err(Error::invalid(format!(
            "recovery point '{wanted}' of protection group '{group}' is not a replicated snapshot on {site}'s FlashArray (unknown, or removed by retention): choose one the list shows"
        ))
        .with_hint(hint)),
        Some(t) if !t.is_complete() => Err(Error::invalid(format!(
            "recovery point {} of protection group '{group}' has not fully arrived on {site}'s FlashArray ({:.0} % replicated): choose one that has",
            t.name,
            t.progress * 100.0
        ))
        .with_hint(hint)),
        Some(t) => Ok(Some(t)),
    }
}

/// A recovery point asked for where there is no choice: a planned failover (it recovers from
/// the final snapshot it takes) or a sync group (the pod holds every write). A finding, so
/// that the failover is refused before anything runs.
pub(super) fn check_choice(
    plan: &mut Plan,
    group: &ProtectionGroup,
    mode: FailoverMode,
    wanted: Option<&str>,
) {
    let Some(wanted) = wanted else {
        return;
    };
    let (why, hint) = if mode == FailoverMode::Planned {
        (
            "a planned failover stops the VMs and recovers from the final snapshot it takes, losing nothing: a recovery point can only be chosen for an unplanned (forced) failover or a drill",
            Some(Hint::UnplannedFailover {
                group: group.name.clone(),
            }),
        )
    } else if group.replication_type == ReplicationType::Sync {
        (
            "it replicates synchronously (pod, RPO 0): the failover recovers from the pod itself, there is no point to choose",
            None,
        )
    } else {
        return;
    };
    let finding = Finding::error(
            ErrorKind::InvalidInput,
            "recovery_point_not_allowed",
            format!(
                "recovery point '{wanted}' cannot be used for this failover of protection group '{}': {why}",
                group.name
            ),
    );
    plan.findings.push(match hint {
        Some(hint) => finding.with_hint(hint),
        None => finding,
    });
}

/// What failover `plan` (operation `operation_id`, recovered from `snapshot`) leaves recorded
/// on its group: the point, and for an unplanned async failover its commit window (none when
/// the window is 0: committed at once).
pub(super) fn running_point(
    plan: &Plan,
    operation_id: uuid::Uuid,
    snapshot: &str,
    now: DateTime<Utc>,
) -> RunningPoint {
    let created_at = plan
        .recovery_point
        .as_ref()
        .filter(|p| p.snapshot == snapshot)
        .map_or(now, |p| p.created_at);
    let window = match plan.mode {
        FailoverMode::Unplanned if plan.replication_type == ReplicationType::Async => plan
            .commit_window_secs
            .unwrap_or(DEFAULT_COMMIT_WINDOW_SECS),
        _ => 0,
    };
    let deadline = (window > 0)
        .then(|| now + chrono::Duration::seconds(i64::try_from(window).unwrap_or(i64::MAX / 1000)));
    RunningPoint {
        snapshot: snapshot.to_string(),
        created_at,
        operation_id,
        commit_deadline: deadline,
        committed_at: deadline.is_none().then_some(now),
    }
}

/// Whether `group` has failed over and awaits the commit (or a rollback) at `now`.
pub(crate) fn awaits_commit(group: &ProtectionGroup, now: DateTime<Utc>) -> bool {
    matches!(
        group.status,
        GroupStatus::FailedOver | GroupStatus::FailedOverPartial
    ) && group
        .recovery_point
        .as_ref()
        .is_some_and(|p| !p.is_committed(now))
}

/// A replica group the array does not know yet holds no snapshot.
fn missing_is_empty<T>(listed: Result<Vec<T>>) -> Result<Vec<T>> {
    match listed {
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(Vec::new()),
        other => other,
    }
}

impl Protector {
    /// Every replicated snapshot of `group` still on the array it fails over to, newest first:
    /// name, creation time, replication progress, age by that array's clock, and whether a
    /// failover or a drill can recover from it (fully arrived).
    ///
    /// Normally the group's current secondary site; while a failover awaits its commit, the
    /// site it failed over to (the points a rollback can choose; the one it runs on is
    /// `current`). A sync (pod) group lists nothing and says why: the pod holds every write.
    /// Only reads. `Unavailable` when that array does not answer.
    pub async fn recovery_points(&self, group: &str) -> Result<RecoveryPoints> {
        let group = self.group(group).await?;
        self.list_points(&group).await
    }

    pub(super) async fn list_points(&self, group: &ProtectionGroup) -> Result<RecoveryPoints> {
        let now = Utc::now();
        let rolling_back = awaits_commit(group, now);
        let (site, from) = if rolling_back {
            (
                group.current_primary_site.clone(),
                group.current_secondary_site().to_string(),
            )
        } else {
            (
                group.current_secondary_site().to_string(),
                group.current_primary_site.clone(),
            )
        };
        let policy = self.store().get_policy(&group.id).await?.ok_or_else(|| {
            Error::invalid(format!(
                "protection group '{}' has no replication policy: it has no recovery points",
                group.name
            ))
            .with_hint(Hint::CreatePolicy {
                group: group.name.clone(),
            })
        })?;
        let array: std::sync::Arc<dyn ArrayApi> = self
            .inner
            .connector
            .array(policy.array_on(group, &site))
            .await?;
        let info = array.array_info().await.map_err(|e| {
            e.with_prefix(format!(
                "the recovery points of protection group '{}' are on {site}'s FlashArray, which did not answer",
                group.name
            ))
        })?;
        let array_time = info.as_of.unwrap_or(now);
        let mut listed = RecoveryPoints {
            group: group.name.clone(),
            site: site.clone(),
            array: info.name.clone(),
            array_time,
            replication_type: group.replication_type,
            note: None,
            points: Vec::new(),
        };
        if group.replication_type == ReplicationType::Sync {
            listed.note = Some(format!(
                "pod '{}' replicates synchronously (RPO 0): a failover recovers from the pod itself, which holds every acknowledged write; there is no point to choose",
                policy.pure_pg_name
            ));
            return Ok(listed);
        }
        let from_name = match policy.array_name_on(group, &from) {
            Some(name) => name.to_string(),
            None => {
                let other = self
                    .inner
                    .connector
                    .array(policy.array_on(group, &from))
                    .await?;
                other.array_info().await.map(|i| i.name).map_err(|e| {
                    e.with_prefix(format!(
                        "the name of {from}'s FlashArray is not recorded in the policy of '{}' and the array does not answer",
                        group.name
                    ))
                })?
            }
        };
        let replica = format!("{from_name}:{}", policy.pure_pg_name);
        let transfers = missing_is_empty(array.list_pg_snapshot_transfers(&replica).await)?;
        let snapshots = missing_is_empty(array.list_pg_snapshots(&replica).await)?;
        let current = group
            .recovery_point
            .as_ref()
            .filter(|_| rolling_back)
            .map(|p| p.snapshot.clone());
        for t in transfers {
            let created_at = snapshots
                .iter()
                .find(|s| s.name == t.name)
                .map(|s| s.created)
                .or(t.started)
                .unwrap_or(array_time);
            listed.points.push(RecoveryPointEntry {
                usable: t.is_complete(),
                current: current.as_deref() == Some(t.name.as_str()),
                age_secs: (array_time - created_at).num_seconds().max(0),
                name: t.name,
                created_at,
                progress: t.progress,
                replicated_at: t.completed,
            });
        }
        listed
            .points
            .sort_by_key(|p| std::cmp::Reverse(p.created_at));
        if listed.points.is_empty() {
            listed.note = Some(format!(
                "no snapshot of {replica} is on {site}'s FlashArray {} yet: replication has not delivered one",
                info.name
            ));
        } else if rolling_back {
            listed.note = Some(format!(
                "the failover of '{}' awaits its commit: a rollback can choose a point older than the one it runs on",
                group.name
            ));
        }
        Ok(listed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transfer(name: &str, progress: f64) -> PgSnapshotTransfer {
        PgSnapshotTransfer {
            name: name.into(),
            progress,
            started: Some(Utc::now()),
            completed: (progress >= 1.0).then(Utc::now),
            data_transferred: 0,
        }
    }

    #[test]
    fn a_point_is_named_by_its_full_name_local_name_or_suffix() {
        for wanted in ["fa-a:pg.12", "pg.12", "12"] {
            assert!(names("fa-a:pg.12", wanted), "{wanted}");
        }
        for wanted in ["", "1", "pg.1", "fa-b:pg.12"] {
            assert!(!names("fa-a:pg.12", wanted), "{wanted}");
        }
    }

    #[test]
    fn choosing_takes_the_latest_arrived_or_the_named_one_if_it_arrived() {
        let listed = || {
            vec![
                transfer("fa-a:pg.3", 0.33),
                transfer("fa-a:pg.2", 1.0),
                transfer("fa-a:pg.1", 1.0),
            ]
        };
        let latest = choose(listed(), None, "g", "site-b").unwrap().unwrap();
        assert_eq!(latest.name, "fa-a:pg.2");
        let named = choose(listed(), Some("1"), "g", "site-b").unwrap().unwrap();
        assert_eq!(named.name, "fa-a:pg.1");
        let arriving = choose(listed(), Some("3"), "g", "site-b").unwrap_err();
        assert_eq!(arriving.kind(), ErrorKind::InvalidInput);
        assert!(
            arriving.message().contains("has not fully arrived"),
            "{arriving}"
        );
        let unknown = choose(listed(), Some("9"), "g", "site-b").unwrap_err();
        assert_eq!(unknown.kind(), ErrorKind::InvalidInput);
        assert_eq!(
            unknown.hint(),
            Some(&Hint::ListRecoveryPoints { group: "g".into() })
        );
        assert!(choose(Vec::new(), None, "g", "site-b").unwrap().is_none());
    }
}
