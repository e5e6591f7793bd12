//! Metadata sync between the two sites' stores.
//!
//! Every modification of a group goes through [`Protector::commit`]: the new version (with its
//! checksum) is written locally as a compare-and-set on the version it was made from (this is
//! what makes claiming a group for an operation atomic across processes), then pushed to the
//! peer as a compare-and-set on "older than this"; a refused push undoes the local write, so a
//! refused change changes nothing.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::Protector;
use crate::error::{Error, ErrorKind, Hint, Result};
use crate::model::{ProtectionGroup, TestFailoverStatus};
use crate::store::{GroupDocument, RemoteSyncStatus, Store, SyncLogEntry, SyncState, VersionCheck};

/// Whether a change may be recorded when the peer cannot take it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PeerPolicy {
    /// Refuse the change (every tenant modification).
    Required,
    /// Record it locally and mark the peer out of sync (an operation that already changed the
    /// world must record what it did).
    BestEffort,
}

/// The output of `sync-status` (spec/003 example 4, spec/001 example 2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncStatusReport {
    /// Group name.
    pub group: String,
    /// Whether both sites hold the same version and checksum.
    pub in_sync: bool,
    /// Local version.
    pub local_version: u64,
    /// Local site.
    pub local_site: String,
    /// Site the group's VMs run on.
    pub current_site: String,
    /// When the local version was written.
    pub last_modified: Option<DateTime<Utc>>,
    /// Peer site.
    pub remote_site: String,
    /// `SYNCED`, `FAILED` or `UNREACHABLE`.
    pub remote_status: RemoteSyncStatus,
    /// The peer's version (read live when reachable, else the last acknowledged one).
    pub remote_version: Option<u64>,
    /// When the peer last acknowledged a version.
    pub last_sync: Option<DateTime<Utc>>,
    /// The last error talking to the peer.
    pub error: Option<String>,
}

/// The output of `sync-force` (spec/001, spec/003 example 5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncForceReport {
    /// Group name.
    pub group: String,
    /// Site that received the metadata.
    pub pushed_to: String,
    /// Site whose metadata won (the higher version).
    pub source_site: String,
    /// Version both sites hold now.
    pub version: u64,
    /// Checksum of that version.
    pub checksum: String,
    /// Wall time of the push, in milliseconds.
    pub duration_ms: u64,
}

/// SHA-256 over the canonical JSON of a document, excluding the checksum itself.
pub(crate) fn checksum(document: &GroupDocument) -> String {
    let mut canonical = document.clone();
    canonical.group.metadata.checksum.clear();
    let mut members = canonical.members;
    members.sort_by_key(|m| m.id);
    canonical.members = members;
    let mut mappings = canonical.mappings;
    mappings.sort_by(|a, b| (&a.from_site, &a.to_site).cmp(&(&b.from_site, &b.to_site)));
    canonical.mappings = mappings;
    let bytes = serde_json::to_vec(&canonical).expect("documents serialize");
    hex::encode(Sha256::digest(bytes))
}

impl Protector {
    /// The group's full metadata document from the local store.
    pub(crate) async fn document(&self, group: ProtectionGroup) -> Result<GroupDocument> {
        let store = self.store();
        let mut members = store.list_members(&group.id).await?;
        members.sort_by_key(|m| m.id);
        Ok(GroupDocument {
            policy: store.get_policy(&group.id).await?,
            mappings: store.list_mappings(&group.id).await?,
            members,
            group,
        })
    }

    fn unreachable_refusal(group: &str, peer: &str, cause: &Error) -> Error {
        if cause.kind() != ErrorKind::Unavailable {
            // The peer answered but refused (its credentials, its store): not an outage.
            return Error::new(
                cause.kind(),
                format!(
                    "cannot modify protection group '{group}': {}",
                    cause.message()
                ),
            )
            .with_retry(cause.retry_status())
            .with_context("site", peer)
            .with_context("group", group);
        }
        Error::unavailable(format!(
            "Cannot modify protection group '{group}' - remote site '{peer}' unreachable ({}). \
             Modification requires both sites to be reachable to prevent metadata divergence; \
             wait for {peer} to recover",
            cause.message()
        ))
        .with_hint(Hint::SyncForce {
            group: group.to_string(),
        })
        .with_context("site", peer)
        .with_context("group", group)
    }

    /// The store of `peer` once its Keystone answered: `Unavailable` when it does not, or when
    /// this engine has no store of `peer` (an unreachable peer either way).
    async fn reach_peer_store(&self, peer: &str) -> Result<Arc<dyn Store>> {
        self.ensure_reachable(peer).await?;
        Ok(self.store_of(peer)?.clone())
    }

    /// Refuses unless the peer of `group` is reachable and holds the same metadata version.
    pub(crate) async fn ensure_peer_in_sync(&self, group: &ProtectionGroup) -> Result<()> {
        let peer = group.peer_of(self.local_site()).to_string();
        let peer_store = match self.reach_peer_store(&peer).await {
            Ok(store) => store,
            Err(e) => return Err(Self::unreachable_refusal(&group.name, &peer, &e)),
        };
        let remote = peer_store.get_group(&group.id).await?;
        let remote_version = remote.as_ref().map(|g| g.metadata.version);
        let same = remote.as_ref().is_some_and(|g| {
            g.metadata.version == group.metadata.version
                && g.metadata.checksum == group.metadata.checksum
        });
        if !same {
            return Err(Error::new(
                ErrorKind::OutOfSync,
                format!(
                    "Protection group metadata is out of sync with remote site — resolve sync before proceeding \
                     (group '{}': local version {} on {}, remote version {} on {})",
                    group.name,
                    group.metadata.version,
                    self.local_site(),
                    remote_version.map_or_else(|| "none".to_string(), |v| v.to_string()),
                    peer,
                ),
            )
            .with_hint(Hint::SyncForce {
                group: group.name.clone(),
            })
            .with_context("group", group.name.clone()));
        }
        Ok(())
    }

    /// Writes a new version of a group's metadata: bumps the version, computes the checksum,
    /// writes it locally if the local store still holds the version the change was made from,
    /// then pushes it to the peer if the peer holds an older one.
    ///
    /// Both writes are compare-and-set in the stores ([`Store::apply_document_if`]): of two
    /// changes made from the same version (two operators, two processes, two operations claiming
    /// one group) exactly one is written and the other is refused with
    /// [`ErrorKind::Conflict`], naming the operation that holds the group when there is one.
    ///
    /// With [`PeerPolicy::Required`] an unreachable peer refuses the change and nothing is
    /// written anywhere. With [`PeerPolicy::BestEffort`] the change is recorded locally and the
    /// sync state says why the peer is behind. A peer that answers with a newer or concurrent
    /// version refuses the change under either policy, and the local write is undone.
    ///
    /// [`Store::apply_document_if`]: crate::store::Store::apply_document_if
    pub(crate) async fn commit(
        &self,
        mut document: GroupDocument,
        reason: &str,
        peer_policy: PeerPolicy,
    ) -> Result<GroupDocument> {
        let now = Utc::now();
        let peer = document.group.peer_of(self.local_site()).to_string();
        let base_version = document.group.metadata.version;
        document.group.metadata.version += 1;
        document.group.metadata.modified_at = Some(now);
        document.group.updated_at = now;
        document.group.metadata.checksum = checksum(&document);
        let version = document.group.metadata.version;

        let reachable = self.reach_peer_store(&peer).await;
        if let (Err(e), PeerPolicy::Required) = (&reachable, peer_policy) {
            self.log_sync(&document.group, &peer, reason, Some(e)).await;
            return Err(Self::unreachable_refusal(&document.group.name, &peer, e));
        }

        // The claim: the local write applies only over the version this change was made from.
        let previous = match self.store().get_group(&document.group.id).await? {
            Some(group) => Some(self.document(group).await?),
            None => None,
        };
        let stored_version = previous.as_ref().map(|d| d.group.metadata.version);
        if !VersionCheck::Exactly(base_version).admits(stored_version, version) {
            return Err(self.concurrent_change(&document.group).await);
        }
        if let Err(e) = self
            .store()
            .apply_document_if(&document, VersionCheck::Exactly(base_version))
            .await
        {
            return Err(if e.kind() == ErrorKind::Conflict {
                self.concurrent_change(&document.group).await
            } else {
                e
            });
        }

        let (peer_store, pushed) = match reachable {
            Ok(peer_store) => {
                let pushed = peer_store
                    .apply_document_if(&document, VersionCheck::Older)
                    .await;
                (Some(peer_store), pushed)
            }
            Err(e) => (None, Err(e)),
        };
        if let Err(e) = &pushed {
            if peer_policy == PeerPolicy::Required || e.kind() == ErrorKind::Conflict {
                self.undo_local_write(&document, previous).await;
                self.log_sync(&document.group, &peer, reason, Some(e)).await;
                return Err(if e.kind() == ErrorKind::Conflict {
                    Error::conflict(format!(
                        "protection group '{}' was changed on {peer} concurrently (or {peer} holds \
                         newer metadata): nothing was changed; check `sync-status` and retry",
                        document.group.name
                    ))
                    .with_context("site", peer.clone())
                    .with_context("group", document.group.name.clone())
                } else {
                    Self::unreachable_refusal(&document.group.name, &peer, e)
                });
            }
        }
        let sync_state = match &pushed {
            Ok(()) => SyncState {
                group_id: document.group.id,
                peer_site: peer.clone(),
                status: RemoteSyncStatus::Synced,
                remote_version: version,
                last_sync_at: Some(now),
                last_error: None,
            },
            Err(e) => {
                let previous = self.store().get_sync_state(&document.group.id).await?;
                SyncState {
                    group_id: document.group.id,
                    peer_site: peer.clone(),
                    status: if e.kind() == ErrorKind::Unavailable {
                        RemoteSyncStatus::Unreachable
                    } else {
                        RemoteSyncStatus::Failed
                    },
                    remote_version: previous.as_ref().map_or(0, |s| s.remote_version),
                    last_sync_at: previous.and_then(|s| s.last_sync_at),
                    last_error: Some(e.message().to_string()),
                }
            }
        };
        self.store().put_sync_state(&sync_state).await?;
        self.log_sync(&document.group, &peer, reason, pushed.as_ref().err())
            .await;
        if pushed.is_ok() {
            // The peer keeps its own view of the sync too.
            let mirrored = SyncState {
                peer_site: self.local_site().to_string(),
                ..sync_state
            };
            if let Some(store) = &peer_store {
                let _ = store.put_sync_state(&mirrored).await;
            }
        }
        Ok(document)
    }

    /// Puts the local store back to `previous` after the peer refused a change written locally
    /// (only if nothing else wrote in between, which the claim excludes).
    async fn undo_local_write(&self, written: &GroupDocument, previous: Option<GroupDocument>) {
        let check = VersionCheck::Exactly(written.group.metadata.version);
        let undone = match previous {
            Some(previous) => self.store().apply_document_if(&previous, check).await,
            None => self.store().delete_group(&written.group.id).await,
        };
        if let Err(e) = undone {
            tracing::warn!(error = %e, group = %written.group.name,
                "could not undo a local metadata write the peer refused; run sync-force");
        }
    }

    /// Refuses with [`ErrorKind::Conflict`] when another operation than `mine` holds `group`
    /// (read before claiming it, so the refusal names the operation rather than a status).
    pub(crate) fn ensure_not_claimed(group: &ProtectionGroup, mine: Uuid) -> Result<()> {
        match group.active_operation_id {
            Some(running) if running != mine => Err(Error::conflict(format!(
                "operation op-{running} is running on protection group '{}' (status {}): \
                 nothing was changed; wait for it to finish (or recover it if its process died) \
                 and retry",
                group.name, group.status
            ))
            .with_context("group", group.name.clone())
            .with_context("operation", format!("op-{running}"))),
            _ => Ok(()),
        }
    }

    /// The refusal of a change made from a version that is no longer the stored one.
    async fn concurrent_change(&self, group: &ProtectionGroup) -> Error {
        let stored = self.store().get_group(&group.id).await.ok().flatten();
        let running = stored.as_ref().and_then(|g| {
            g.active_operation_id.or_else(|| {
                g.test_failover
                    .as_ref()
                    .filter(|d| d.status == TestFailoverStatus::Running)
                    .map(|d| d.operation_id)
            })
        });
        let message = match (&stored, running) {
            (_, Some(op)) => format!(
                "operation op-{op} is running on protection group '{}': nothing was changed; \
                 wait for it to finish (or recover it if its process died) and retry",
                group.name
            ),
            (Some(g), None) => format!(
                "protection group '{}' was changed by another request while this one ran (now at \
                 version {}): nothing was changed; read it again and retry",
                group.name, g.metadata.version
            ),
            (None, None) => format!(
                "protection group '{}' was deleted by another request: nothing was changed",
                group.name
            ),
        };
        let error = Error::conflict(message).with_context("group", group.name.clone());
        match running {
            Some(op) => error.with_context("operation", format!("op-{op}")),
            None => error,
        }
    }

    async fn log_sync(
        &self,
        group: &ProtectionGroup,
        peer: &str,
        reason: &str,
        err: Option<&Error>,
    ) {
        let entry = SyncLogEntry {
            group_id: group.id,
            at: Utc::now(),
            version: group.metadata.version,
            peer_site: peer.to_string(),
            result: match err {
                None => "success".to_string(),
                Some(e) if e.kind() == ErrorKind::Unavailable => "unreachable".to_string(),
                Some(_) => "failed".to_string(),
            },
            reason: reason.to_string(),
            error: err.map(|e| e.message().to_string()),
        };
        if let Err(e) = self.store().append_sync_log(&entry).await {
            tracing::warn!(error = %e, "could not append to the sync log");
        }
    }

    /// Compares the group's metadata on both sites (`sync-status`).
    pub async fn sync_status(&self, group: &str) -> Result<SyncStatusReport> {
        let group = self.group(group).await?;
        let peer = group.peer_of(self.local_site()).to_string();
        let state = self.store().get_sync_state(&group.id).await?;
        let live = match self.reach_peer_store(&peer).await {
            Ok(peer_store) => Ok(peer_store.get_group(&group.id).await?),
            Err(e) => Err(e),
        };
        let (remote_status, remote_version, error) = match &live {
            Ok(Some(remote)) => {
                let same = remote.metadata.version == group.metadata.version
                    && remote.metadata.checksum == group.metadata.checksum;
                let status = if same {
                    RemoteSyncStatus::Synced
                } else {
                    RemoteSyncStatus::Failed
                };
                let error = if same {
                    None
                } else {
                    state
                        .as_ref()
                        .and_then(|s| s.last_error.clone())
                        .or_else(|| {
                            Some(format!(
                                "version mismatch (local: {}, remote: {})",
                                group.metadata.version, remote.metadata.version
                            ))
                        })
                };
                (status, Some(remote.metadata.version), error)
            }
            Ok(None) => (
                RemoteSyncStatus::Failed,
                None,
                Some(format!("the group is missing on {peer}")),
            ),
            Err(e) => (
                RemoteSyncStatus::Unreachable,
                state.as_ref().map(|s| s.remote_version),
                Some(e.message().to_string()),
            ),
        };
        Ok(SyncStatusReport {
            group: group.name.clone(),
            in_sync: remote_status == RemoteSyncStatus::Synced,
            local_version: group.metadata.version,
            local_site: self.local_site().to_string(),
            current_site: group.current_primary_site.clone(),
            last_modified: group.metadata.modified_at,
            remote_site: peer,
            remote_status,
            remote_version,
            last_sync: state.and_then(|s| s.last_sync_at),
            error,
        })
    }

    /// Pushes the higher of the two versions to the other site (`sync-force`).
    pub async fn sync_force(&self, group: &str) -> Result<SyncForceReport> {
        let local_group = self.group(group).await?;
        let peer = local_group.peer_of(self.local_site()).to_string();
        let peer_store = match self.reach_peer_store(&peer).await {
            Ok(store) => store,
            Err(e) if e.kind() != ErrorKind::Unavailable => {
                return Err(e.with_prefix(format!(
                    "cannot sync protection group '{}'",
                    local_group.name
                )));
            }
            Err(e) => return Err(Error::unavailable(format!(
                "cannot sync protection group '{}': remote site '{peer}' is unreachable ({}); wait for it to recover and retry",
                local_group.name,
                e.message()
            ))),
        };
        let started = std::time::Instant::now();
        let remote = peer_store.get_group(&local_group.id).await?;
        let remote_newer = remote
            .as_ref()
            .is_some_and(|r| r.metadata.version > local_group.metadata.version);
        let (document, source, target, target_store) = if remote_newer {
            let remote_engine = self.on_site(&peer)?;
            let doc = remote_engine
                .document(remote.expect("remote newer implies present"))
                .await?;
            (
                doc,
                peer.clone(),
                self.local_site().to_string(),
                self.store().clone(),
            )
        } else {
            let doc = self.document(local_group.clone()).await?;
            (
                doc,
                self.local_site().to_string(),
                peer.clone(),
                Arc::clone(&peer_store),
            )
        };
        // Atomic against a change that lands on the target while this push runs.
        let target_version = target_store
            .get_group(&document.group.id)
            .await?
            .map_or(0, |g| g.metadata.version);
        target_store
            .apply_document_if(&document, VersionCheck::Exactly(target_version))
            .await?;
        let version = document.group.metadata.version;
        self.mark_synced(document.group.id, &peer, &peer_store, version)
            .await?;
        self.log_sync(&document.group, &target, "sync-force", None)
            .await;
        Ok(SyncForceReport {
            group: document.group.name.clone(),
            pushed_to: target,
            source_site: source,
            version,
            checksum: document.group.metadata.checksum.clone(),
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        })
    }

    /// Records in both sites' stores that each holds `version` of group `group_id` (after a
    /// push), each naming the other as its peer.
    async fn mark_synced(
        &self,
        group_id: Uuid,
        peer: &str,
        peer_store: &Arc<dyn Store>,
        version: u64,
    ) -> Result<()> {
        let now = Utc::now();
        let local = self.local_site();
        for (store, peer_site) in [(self.store(), peer), (peer_store, local)] {
            store
                .put_sync_state(&SyncState {
                    group_id,
                    peer_site: peer_site.to_string(),
                    status: RemoteSyncStatus::Synced,
                    remote_version: version,
                    last_sync_at: Some(now),
                    last_error: None,
                })
                .await?;
        }
        Ok(())
    }

    /// Pushes the local metadata of `group` to its peer when the peer holds an older version
    /// (a process that ended between its local write and the push left it behind). Returns
    /// whether the peer holds the local version now; an unreachable or newer peer is left as
    /// it is (its sync state and log say why).
    pub(crate) async fn push_if_behind(&self, group: &ProtectionGroup, reason: &str) -> bool {
        let peer = group.peer_of(self.local_site()).to_string();
        let pushed = async {
            let peer_store = self.reach_peer_store(&peer).await?;
            let remote = peer_store.get_group(&group.id).await?;
            let remote_version = remote.as_ref().map(|g| g.metadata.version);
            if remote_version == Some(group.metadata.version) {
                return Ok(true);
            }
            if remote_version > Some(group.metadata.version) {
                return Ok(false);
            }
            let document = self.document(group.clone()).await?;
            peer_store
                .apply_document_if(&document, VersionCheck::Older)
                .await?;
            self.mark_synced(group.id, &peer, &peer_store, group.metadata.version)
                .await?;
            Ok::<bool, Error>(true)
        }
        .await;
        match pushed {
            Ok(synced) => {
                if synced {
                    self.log_sync(group, &peer, reason, None).await;
                }
                synced
            }
            Err(e) => {
                self.log_sync(group, &peer, reason, Some(&e)).await;
                false
            }
        }
    }

    /// A group's sync history, newest first.
    pub async fn sync_log(&self, group: &str, limit: usize) -> Result<Vec<SyncLogEntry>> {
        let group = self.group(group).await?;
        self.store().list_sync_log(&group.id, limit).await
    }

    /// Records a group whose id is known, by id, for any caller: the engine-internal re-read
    /// of a group this call already resolved with [`Protector::group`] (or an operation on it
    /// recorded). Never for a group a caller names.
    pub(crate) async fn group_by_id(&self, id: &Uuid) -> Result<ProtectionGroup> {
        self.store()
            .get_group(id)
            .await?
            .ok_or_else(|| Error::not_found(format!("protection group {id} not found")))
    }
}
