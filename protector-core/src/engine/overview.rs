//! One line per protection group with what a dashboard shows beside it: member count,
//! replication health and lag against the RPO, metadata sync, the last operation.

use std::collections::BTreeMap;

use futures::stream::{self, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::report::ReplicationHealth;
use super::Protector;
use crate::error::Result;
use crate::model::{Operation, ProtectionGroup};
use crate::store::RemoteSyncStatus;

/// How many groups' arrays are asked at once.
const CONCURRENCY: usize = 8;

/// Whether the peer site holds the group's current metadata, as the last push recorded it
/// (no round trip to the peer: `sync-status` asks it live).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum OverviewSync {
    /// The peer acknowledged the current version.
    Synced,
    /// The last push reached the peer, but the local version has moved on since.
    Pending,
    /// The peer answered the last push with an error.
    Failed,
    /// The peer could not be reached by the last push.
    Unreachable,
    /// No push has been recorded.
    Never,
}

impl OverviewSync {
    /// `SYNCED`, `PENDING`, `FAILED`, `UNREACHABLE` or `NEVER`.
    pub fn as_str(self) -> &'static str {
        match self {
            OverviewSync::Synced => "SYNCED",
            OverviewSync::Pending => "PENDING",
            OverviewSync::Failed => "FAILED",
            OverviewSync::Unreachable => "UNREACHABLE",
            OverviewSync::Never => "NEVER",
        }
    }
}

/// A protection group with its health at a glance (Horizon's Protection Groups table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GroupOverview {
    /// The group.
    pub group: ProtectionGroup,
    /// Its members.
    pub member_count: usize,
    /// Replication as the target array sees it now (`unknown` when it cannot be asked).
    pub replication_status: ReplicationHealth,
    /// Age of the newest replicated snapshot (async; `0` for an online pod).
    pub replication_lag_seconds: Option<i64>,
    /// The policy's RPO.
    pub rpo_minutes: Option<u64>,
    /// Why replication cannot be read or does not work.
    pub replication_error: Option<String>,
    /// Metadata sync with the peer site.
    pub sync_status: OverviewSync,
    /// The group's newest operation (running or ended).
    pub last_operation: Option<Operation>,
}

impl Protector {
    /// [`GroupOverview`]s of the groups the caller sees (as [`Protector::groups`]), in the
    /// store's order. The arrays of up to eight groups are asked at once; an array that does
    /// not answer makes that group's replication `unknown`, not the listing fail.
    pub async fn group_overviews(&self) -> Result<Vec<GroupOverview>> {
        let groups = self.groups().await?;
        let latest = self.latest_operations().await?;
        stream::iter(groups)
            .map(|g| {
                let last = latest.get(&g.id).cloned();
                self.overview_of(g, last)
            })
            .buffered(CONCURRENCY)
            .try_collect()
            .await
    }

    /// The [`GroupOverview`] of one group, by name or id.
    pub async fn group_overview(&self, group: &str) -> Result<GroupOverview> {
        let group = self.group(group).await?;
        let last = self.latest_operations().await?.remove(&group.id);
        self.overview_of(group, last).await
    }

    /// Each group's newest operation of its own (failover, failback, drill, cleanup; a site
    /// failover is the site's, not the group's).
    async fn latest_operations(&self) -> Result<BTreeMap<Uuid, Operation>> {
        let mut latest = BTreeMap::new();
        // Newest first: the first one seen of a group is its latest.
        for op in self.store().list_operations().await? {
            if let Some(group) = op.group_id {
                latest.entry(group).or_insert(op);
            }
        }
        Ok(latest)
    }

    async fn overview_of(
        &self,
        group: ProtectionGroup,
        last_operation: Option<Operation>,
    ) -> Result<GroupOverview> {
        let member_count = self.store().list_members(&group.id).await?.len();
        let replication = self.consistency_group_of(&group).await?;
        let sync_status = match self.store().get_sync_state(&group.id).await? {
            None => OverviewSync::Never,
            Some(state) => match state.status {
                RemoteSyncStatus::Synced if state.remote_version >= group.metadata.version => {
                    OverviewSync::Synced
                }
                RemoteSyncStatus::Synced => OverviewSync::Pending,
                RemoteSyncStatus::Failed => OverviewSync::Failed,
                RemoteSyncStatus::Unreachable => OverviewSync::Unreachable,
            },
        };
        Ok(GroupOverview {
            member_count,
            replication_status: replication.replication_status,
            replication_lag_seconds: replication.replication_lag_seconds,
            rpo_minutes: replication.rpo_minutes,
            replication_error: replication.replication_error,
            sync_status,
            last_operation,
            group,
        })
    }
}
