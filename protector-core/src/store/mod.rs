//! Protector's own metadata, one store per site.
//!
//! Each site keeps its own store (no shared database). A modification is written to the local
//! store and pushed to the peer's store as a whole [`GroupDocument`], so both sites hold the same
//! version; see `engine::sync`.
//!
//! Two backends: `SqliteStore`, a file on the host (the embedded default, feature `sqlite`, on by
//! default), and, with the feature `mariadb`, `MySqlStore` in the site's MariaDB/MySQL database, shared by the site's
//! services (its schema created by `MySqlStore::migrate`). Both pass one conformance suite
//! (`store/conformance`).

mod crypto;
#[cfg(feature = "sqlite")]
mod local;
#[cfg_attr(
    not(feature = "sqlite"),
    expect(
        dead_code,
        reason = "the file and in-memory locks serve the SQLite store"
    )
)]
mod lock;
#[cfg(feature = "mariadb")]
pub mod mysql;
pub mod remote;
#[cfg(any(feature = "sqlite", feature = "mariadb"))]
mod shared;
mod site_name;
#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
#[cfg(any(test, feature = "conformance"))]
pub mod fixtures;

pub use crypto::SecretKey;
#[cfg(feature = "sqlite")]
pub use local::{LocalEngine, OpenState, StateDir};
pub use lock::{LockAttempt, OperationLock};
#[cfg(feature = "mariadb")]
pub use mysql::MySqlStore;
pub use site_name::check_site_name;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::Result;
use crate::model::{
    Member, Operation, OperationStatus, OperationType, ProtectionGroup, ReplicationPolicy,
    ResourceMappings, Site, TenantMapping,
};

/// Resource mappings stored for one direction of one group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMappings {
    /// The group.
    pub group_id: Uuid,
    /// Source site of the direction.
    pub from_site: String,
    /// Target site of the direction.
    pub to_site: String,
    /// The mappings.
    pub mappings: ResourceMappings,
}

/// Everything that makes up a group's metadata at one version: what is pushed to the peer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupDocument {
    /// The group, including its metadata version and checksum.
    pub group: ProtectionGroup,
    /// Members, ordered by id.
    pub members: Vec<Member>,
    /// Policy, if attached.
    pub policy: Option<ReplicationPolicy>,
    /// Stored mappings.
    pub mappings: Vec<GroupMappings>,
}

impl GroupDocument {
    /// The stored mappings from `from_site` to `to_site`, merged into one set.
    pub fn mappings_between(&self, from_site: &str, to_site: &str) -> ResourceMappings {
        self.mappings
            .iter()
            .filter(|m| m.from_site == from_site && m.to_site == to_site)
            .fold(ResourceMappings::default(), |acc, m| {
                acc.merged_with(&m.mappings)
            })
    }
}

/// Whether the last push of a group to the peer worked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemoteSyncStatus {
    /// The peer acknowledged the version.
    Synced,
    /// The peer answered with an error.
    Failed,
    /// The peer could not be reached.
    Unreachable,
}

impl RemoteSyncStatus {
    /// The spelling of spec/003 (`SYNCED`, `FAILED`, `UNREACHABLE`).
    pub fn as_str(self) -> &'static str {
        match self {
            RemoteSyncStatus::Synced => "SYNCED",
            RemoteSyncStatus::Failed => "FAILED",
            RemoteSyncStatus::Unreachable => "UNREACHABLE",
        }
    }
}

/// The local view of a group's sync with its peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncState {
    /// The group.
    pub group_id: Uuid,
    /// The peer site.
    pub peer_site: String,
    /// Result of the last push.
    pub status: RemoteSyncStatus,
    /// Version the peer acknowledged last.
    pub remote_version: u64,
    /// When the peer last acknowledged.
    pub last_sync_at: Option<DateTime<Utc>>,
    /// Error of the last failed push.
    pub last_error: Option<String>,
}

/// One line of a group's sync history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncLogEntry {
    /// The group.
    pub group_id: Uuid,
    /// When.
    pub at: DateTime<Utc>,
    /// Version pushed.
    pub version: u64,
    /// Peer site.
    pub peer_site: String,
    /// `success` / `failed` / `unreachable`.
    pub result: String,
    /// What caused the push (`member-add`, `sync-force`, …).
    pub reason: String,
    /// Error, when it failed.
    pub error: Option<String>,
}

/// The condition on a group's stored metadata version for [`Store::apply_document_if`].
///
/// On the wire (`store::remote`): `{"exactly": 3}` or `"older"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VersionCheck {
    /// The stored group must be at exactly this version; `0` means the group must not exist.
    Exactly(u64),
    /// The stored group must be older than the document, or absent: a push to the peer site,
    /// which may lag behind but must never be overwritten with an older or concurrent version.
    Older,
}

impl VersionCheck {
    /// Whether a group stored at `stored` (`None`: absent) passes the check for a document at
    /// `version`.
    pub fn admits(self, stored: Option<u64>, version: u64) -> bool {
        match self {
            VersionCheck::Exactly(expected) => stored.unwrap_or(0) == expected,
            VersionCheck::Older => stored.is_none_or(|v| v < version),
        }
    }
}

/// Intent or outcome of one step's side effect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JournalKind {
    /// About to call the side effect.
    Intent,
    /// The side effect succeeded; `detail` holds its output.
    Done,
    /// The side effect failed; `detail` holds the error.
    Failed,
    /// A compensation undid the step.
    Compensated,
    /// The operation was submitted: `detail` holds what to run (`engine::OperationRequest`
    /// and, for an unplanned failover, the plan whose data at risk was reported). Not a side
    /// effect.
    Submitted,
    /// Someone asked the operation to stop (`operation cancel`): the run stops at its next
    /// step and rolls back. Not a side effect.
    CancelRequested,
    /// A run began executing: `detail` holds what it executes (the plan, and what else its
    /// recovery needs to continue it), written before its first side effect. Not a side
    /// effect.
    Planned,
    /// A step of the operation began (`step` names it): the timeline of a drill report. Not
    /// a side effect.
    StepStarted,
    /// A step of the operation ended (`step` names it). Not a side effect.
    StepDone,
}

impl JournalKind {
    /// Every kind.
    pub const ALL: [JournalKind; 9] = [
        JournalKind::Intent,
        JournalKind::Done,
        JournalKind::Failed,
        JournalKind::Compensated,
        JournalKind::Submitted,
        JournalKind::CancelRequested,
        JournalKind::Planned,
        JournalKind::StepStarted,
        JournalKind::StepDone,
    ];

    /// The name an entry's JSON gives it (`"kind": "cancel_requested"`): what a store's query
    /// of the kind compares with.
    pub fn as_str(&self) -> &'static str {
        match self {
            JournalKind::Intent => "intent",
            JournalKind::Done => "done",
            JournalKind::Failed => "failed",
            JournalKind::Compensated => "compensated",
            JournalKind::Submitted => "submitted",
            JournalKind::CancelRequested => "cancel_requested",
            JournalKind::Planned => "planned",
            JournalKind::StepStarted => "step_started",
            JournalKind::StepDone => "step_done",
        }
    }
}

impl JournalKind {
    /// Whether the entry records a side effect (intent or outcome), as opposed to the
    /// operation's lifecycle (submission, cancel requests).
    pub fn is_side_effect(&self) -> bool {
        !matches!(
            self,
            JournalKind::Submitted
                | JournalKind::CancelRequested
                | JournalKind::Planned
                | JournalKind::StepStarted
                | JournalKind::StepDone
        )
    }
}

/// Which operations [`Store::query_operations`] returns: those that match every condition
/// given (an empty list or `None` is no condition).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OperationQuery {
    /// Of this protection group.
    pub group_id: Option<Uuid>,
    /// Of one of these types.
    pub types: Vec<OperationType>,
    /// In one of these statuses.
    pub statuses: Vec<OperationStatus>,
    /// Into this site.
    pub target_site: Option<String>,
    /// At most this many, the newest.
    pub limit: Option<usize>,
}

impl OperationQuery {
    /// The operations of protection group `id`.
    pub fn of_group(id: Uuid) -> Self {
        OperationQuery {
            group_id: Some(id),
            ..Default::default()
        }
    }

    /// Also of one of `types`.
    #[must_use]
    pub fn of_types(mut self, types: &[OperationType]) -> Self {
        self.types = types.to_vec();
        self
    }

    /// Also in one of `statuses`.
    #[must_use]
    pub fn in_statuses(mut self, statuses: &[OperationStatus]) -> Self {
        self.statuses = statuses.to_vec();
        self
    }

    /// Also unfinished (pending or running).
    #[must_use]
    pub fn unfinished(self) -> Self {
        let unfinished: Vec<OperationStatus> = OperationStatus::ALL
            .into_iter()
            .filter(|s| !s.is_terminal())
            .collect();
        self.in_statuses(&unfinished)
    }

    /// Also into `site`.
    #[must_use]
    pub fn into_site(mut self, site: &str) -> Self {
        self.target_site = Some(site.to_string());
        self
    }

    /// At most the `limit` newest.
    #[must_use]
    pub fn newest(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Those of `operations` (newest first) that match, at most the limit.
    pub fn select(&self, mut operations: Vec<Operation>) -> Vec<Operation> {
        operations.retain(|op| self.matches(op));
        if let Some(limit) = self.limit {
            operations.truncate(limit);
        }
        operations
    }

    /// Whether `op` matches (the limit aside).
    pub fn matches(&self, op: &Operation) -> bool {
        self.group_id.is_none_or(|id| op.group_id == Some(id))
            && (self.types.is_empty() || self.types.contains(&op.operation_type))
            && (self.statuses.is_empty() || self.statuses.contains(&op.status))
            && self
                .target_site
                .as_ref()
                .is_none_or(|site| &op.target_site == site)
    }
}

/// Who owns an operation for a while: a worker of the site's protector-engine (or a front-end
/// acting on its behalf) holds it from its claim until it gives it up or stops renewing it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The operation.
    pub operation_id: Uuid,
    /// Who holds it (`<host>:<pid>:<worker>`).
    pub holder: String,
    /// When it lapses unless renewed, by the store's clock (the database server's).
    pub expires_at: DateTime<Utc>,
}

/// The outcome of [`Store::acquire_lease`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome", content = "lease")]
pub enum LeaseAttempt {
    /// The caller holds the lease now (taken, taken over after it lapsed, or renewed).
    Acquired(Lease),
    /// Another holder has a live lease.
    Held(Lease),
}

/// One journal record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// The operation.
    pub operation_id: Uuid,
    /// Sequence number within the operation (assigned by the store when 0).
    pub seq: u64,
    /// Step id from the plan (`create_server:web-1`).
    pub step: String,
    /// Intent or outcome.
    pub kind: JournalKind,
    /// Key stamped on the resource the step creates, so an in-doubt step can be observed.
    pub idempotency_key: String,
    /// Output or error as JSON.
    pub detail: serde_json::Value,
    /// When.
    pub at: DateTime<Utc>,
}

/// A site's protector metadata.
///
/// # Behavior (every method)
/// - `get_*` return `Ok(None)` for a missing record; `delete_*` of a missing record succeeds.
/// - `put_*` insert or replace by id.
/// - Secrets in policies are encrypted at rest by the implementation.
/// - `Unavailable` when the store cannot be reached.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug + 'static {
    /// Inserts or replaces a site.
    async fn put_site(&self, site: &Site) -> Result<()>;
    /// A site by name.
    async fn get_site(&self, name: &str) -> Result<Option<Site>>;
    /// Every site, by name.
    async fn list_sites(&self) -> Result<Vec<Site>>;
    /// Removes a site.
    async fn delete_site(&self, name: &str) -> Result<()>;

    /// Inserts or replaces a group.
    async fn put_group(&self, group: &ProtectionGroup) -> Result<()>;
    /// A group by id.
    async fn get_group(&self, id: &Uuid) -> Result<Option<ProtectionGroup>>;
    /// Every group, by name.
    async fn list_groups(&self) -> Result<Vec<ProtectionGroup>>;
    /// Removes a group with its members, policy, mappings and sync state.
    async fn delete_group(&self, id: &Uuid) -> Result<()>;

    /// Inserts or replaces a member.
    async fn put_member(&self, member: &Member) -> Result<()>;
    /// Members of a group, by id.
    async fn list_members(&self, group_id: &Uuid) -> Result<Vec<Member>>;
    /// Removes a member.
    async fn delete_member(&self, id: &Uuid) -> Result<()>;

    /// Inserts or replaces a group's policy.
    async fn put_policy(&self, policy: &ReplicationPolicy) -> Result<()>;
    /// A group's policy.
    async fn get_policy(&self, group_id: &Uuid) -> Result<Option<ReplicationPolicy>>;

    /// Inserts or replaces stored mappings of one direction.
    async fn put_mappings(&self, mappings: &GroupMappings) -> Result<()>;
    /// Stored mappings of a group.
    async fn list_mappings(&self, group_id: &Uuid) -> Result<Vec<GroupMappings>>;

    /// Replaces everything about `document.group` in one transaction (metadata push).
    async fn apply_document(&self, document: &GroupDocument) -> Result<()>;

    /// Replaces everything about `document.group` in one transaction, only if the stored
    /// version of the group passes `check`; the check and the write are one atomic step, also
    /// between processes sharing the store.
    ///
    /// This is how an operation claims a group: two writers that read the same version cannot
    /// both succeed. Returns [`ErrorKind::Conflict`](crate::error::ErrorKind::Conflict) (with
    /// the stored version in its context as `stored_version`) and writes nothing when the check
    /// fails. A group new to this store is also refused, with
    /// [`ErrorKind::AlreadyExists`](crate::error::ErrorKind::AlreadyExists), when another group
    /// of the same project already has its name (names are unique per project).
    async fn apply_document_if(&self, document: &GroupDocument, check: VersionCheck) -> Result<()>;

    /// Inserts or replaces a tenant mapping.
    async fn put_tenant_mapping(&self, mapping: &TenantMapping) -> Result<()>;
    /// Every tenant mapping.
    async fn list_tenant_mappings(&self) -> Result<Vec<TenantMapping>>;

    /// Inserts or replaces an operation.
    async fn put_operation(&self, operation: &Operation) -> Result<()>;
    /// An operation by id.
    async fn get_operation(&self, id: &Uuid) -> Result<Option<Operation>>;
    /// Operations, newest first.
    async fn list_operations(&self) -> Result<Vec<Operation>>;
    /// The operations `query` matches, newest first (in the order of
    /// [`list_operations`](Store::list_operations)), at most its limit. The engine asks this
    /// at every plan; a store that can select without reading every operation overrides it.
    async fn query_operations(&self, query: &OperationQuery) -> Result<Vec<Operation>> {
        Ok(query.select(self.list_operations().await?))
    }

    /// Appends a journal record; returns its sequence number.
    async fn append_journal(&self, entry: &JournalEntry) -> Result<u64>;
    /// An operation's journal, in order.
    async fn list_journal(&self, operation_id: &Uuid) -> Result<Vec<JournalEntry>>;
    /// Appends `entries` to their operations' journals, in order, then writes `operation`
    /// when given: a run's journal entries that may wait go with its next write, in one
    /// transaction where the store has them (the SQLite store; by default one write each,
    /// in the same order).
    async fn record(&self, entries: &[JournalEntry], operation: Option<&Operation>) -> Result<()> {
        for entry in entries {
            self.append_journal(entry).await?;
        }
        if let Some(operation) = operation {
            self.put_operation(operation).await?;
        }
        Ok(())
    }
    /// Whether an operation's journal holds an entry of `kind` (a run asks it before each
    /// step: was a cancel requested?). By default a read of the whole journal; a store that
    /// can answer it in its database does (the SQLite store).
    async fn journal_has(&self, operation_id: &Uuid, kind: JournalKind) -> Result<bool> {
        Ok(self
            .list_journal(operation_id)
            .await?
            .iter()
            .any(|e| e.kind == kind))
    }

    /// Inserts or replaces a group's sync state.
    async fn put_sync_state(&self, state: &SyncState) -> Result<()>;
    /// A group's sync state.
    async fn get_sync_state(&self, group_id: &Uuid) -> Result<Option<SyncState>>;
    /// Appends to a group's sync log.
    async fn append_sync_log(&self, entry: &SyncLogEntry) -> Result<()>;
    /// A group's sync log, newest first, at most `limit`.
    async fn list_sync_log(&self, group_id: &Uuid, limit: usize) -> Result<Vec<SyncLogEntry>>;

    /// Tries to take the lock of operation `id`, without waiting: `Held` when another holder
    /// (this process or another one using the same store) has it.
    ///
    /// The process running an operation holds its lock until the run ends; whoever would act
    /// on the operation's behalf (recovery) takes it first. The lock is released when the
    /// [`OperationLock`] is dropped and when its process ends in any way (killed included), so
    /// a free lock on a `running` record means that its process is gone. Independent of the
    /// records: locking an unknown id succeeds.
    async fn lock_operation(&self, id: &Uuid) -> Result<LockAttempt>;

    /// Whether a service behind this store resumes an operation whose runner died (a site's
    /// protector-engine workers take it over once its lease lapses): then a follower waits
    /// for that instead of asking for `operation recover`. `false` for a store the caller's
    /// own processes run operations on.
    fn resumes_operations(&self) -> bool {
        false
    }

    /// Takes the lease of operation `id` for `holder` for `ttl`: when nobody holds it, when its
    /// lease lapsed (judged by the store's own clock, so hosts' clocks do not matter), or when
    /// `holder` already holds it (then it is renewed). Atomic between processes and hosts
    /// sharing the store: of two claimants exactly one gets it.
    async fn acquire_lease(
        &self,
        id: &Uuid,
        holder: &str,
        ttl: std::time::Duration,
    ) -> Result<LeaseAttempt>;

    /// Extends `holder`'s lease of `id` by `ttl` from now; `Ok(false)` when the lease is no
    /// longer `holder`'s (it lapsed and was taken, or was released): stop acting on it. A
    /// lease that lapsed but that nobody took is still `holder`'s, and is renewed.
    async fn renew_lease(&self, id: &Uuid, holder: &str, ttl: std::time::Duration) -> Result<bool>;

    /// Gives up `holder`'s lease of `id`; nothing happens when `holder` does not hold it.
    async fn release_lease(&self, id: &Uuid, holder: &str) -> Result<()>;

    /// The lease of `id`, live or lapsed, if one was ever taken and not released.
    async fn get_lease(&self, id: &Uuid) -> Result<Option<Lease>>;
}

#[cfg(test)]
mod tests {
    use super::JournalKind;

    #[test]
    fn a_journal_kind_is_named_as_its_json_says() {
        for kind in JournalKind::ALL {
            assert_eq!(
                serde_json::to_value(&kind).unwrap(),
                serde_json::json!(kind.as_str())
            );
        }
    }
}
