//! Removing what a drill record lists: the drill's compensation and its cleanup.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::Utc;
use futures::stream::{self, StreamExt};
use serde_json::json;
use uuid::Uuid;

use super::plan::{cleanup_sites, cleanup_steps, sweeps_tags};
use super::{port_description, update_member, MEMBER_TAG, OPERATION_TAG, SOURCE_VOLUME_TAG};
use crate::api::{ArrayApi, ListPorts, ListServers, ListVolumes, SiteClients};
use crate::engine::planner::site_token;
use crate::engine::progress::ProgressObserver;
use crate::engine::resources::{remove_array_volume, remove_server, remove_volume};
use crate::engine::runner::{lock, Tracker};
use crate::engine::sync::PeerPolicy;
use crate::engine::wait::PollPolicy;
use crate::engine::Protector;
use crate::error::{Error, Hint, Result};
use crate::model::{
    Operation, OperationStatus, OperationType, ProtectionGroup, TestFailoverRecord,
    TestFailoverStatus, TestMember,
};
use crate::store::{GroupDocument, LockAttempt, OperationQuery, RemoteSyncStatus};

/// Removes what a drill record lists from the drill site, phase by phase, keeping in the
/// record whatever could not be removed and why.
///
/// A member whose server could not be removed keeps its ports and volumes (they are still
/// attached); a volume Cinder could not delete keeps its array volume. Every removal is
/// journaled in the operation of `tracker` (the cleanup, or the drill it compensates).
pub(super) struct Remover<'a> {
    clients: &'a SiteClients,
    array: &'a Arc<dyn ArrayApi>,
    tracker: &'a Tracker<'a>,
    /// Journal step prefix: `delete` for a cleanup, `compensate:delete` for a rollback.
    step_prefix: &'static str,
    poll: &'a PollPolicy,
    limit: usize,
    record: Mutex<TestFailoverRecord>,
    errors: Mutex<Vec<String>>,
}

impl<'a> Remover<'a> {
    pub(super) fn new(
        clients: &'a SiteClients,
        array: &'a Arc<dyn ArrayApi>,
        tracker: &'a Tracker<'a>,
        step_prefix: &'static str,
        record: TestFailoverRecord,
    ) -> Self {
        let options = tracker.engine().options();
        Remover {
            clients,
            array,
            tracker,
            step_prefix,
            poll: &options.poll,
            limit: options.member_concurrency,
            record: Mutex::new(record),
            errors: Mutex::new(Vec::new()),
        }
    }

    fn site(&self) -> String {
        lock(&self.record).site.clone()
    }

    fn tag(&self) -> String {
        lock(&self.record).operation_id.to_string()
    }

    fn members(&self) -> Vec<TestMember> {
        lock(&self.record).members.clone()
    }

    fn update(&self, member_id: Uuid, f: impl FnOnce(&mut TestMember)) {
        update_member(&self.record, member_id, f);
    }

    fn failed(&self, what: String, e: &Error) {
        lock(&self.errors).push(format!("{what} on {}: {}", self.site(), e.message()));
    }

    fn not_ours(&self, what: &str) -> Error {
        Error::conflict(format!(
            "{what} does not carry the tag of drill {}, so it was left alone: remove it by hand if it is a leftover",
            self.tag()
        ))
    }

    /// Finds, by their tags, the resources of a drill that were never recorded: it was
    /// interrupted before it could, or a create's answer was lost after it took effect.
    pub(super) async fn discover(&self) -> Result<()> {
        let tag = (OPERATION_TAG.to_string(), self.tag());
        let servers = self
            .clients
            .compute
            .list_servers(&ListServers {
                metadata: Some(tag.clone()),
                ..ListServers::default()
            })
            .await?;
        let volumes = self
            .clients
            .block_storage
            .list_volumes(&ListVolumes {
                metadata: Some(tag),
                ..ListVolumes::default()
            })
            .await?;
        let operation_id = lock(&self.record).operation_id;
        for member in self.members() {
            let ports = self
                .clients
                .network
                .list_ports(&ListPorts {
                    description: Some(port_description(operation_id, &member.instance_name)),
                    ..ListPorts::default()
                })
                .await?;
            let member_tag = member.member_id.to_string();
            let server = servers
                .iter()
                .find(|s| s.metadata.get(MEMBER_TAG) == Some(&member_tag));
            self.update(member.member_id, |m| {
                if m.server_id.is_none() {
                    m.server_id = server.map(|s| s.id.clone());
                }
                for port in ports {
                    if !m.port_ids.contains(&port.id) {
                        m.port_ids.push(port.id);
                    }
                }
                for volume in &mut m.volumes {
                    let found = volumes.iter().find(|v| {
                        v.metadata.get(SOURCE_VOLUME_TAG) == Some(&volume.source_volume_id)
                    });
                    if let (None, Some(found)) = (&volume.volume_id, found) {
                        volume.volume_id = Some(found.id.clone());
                        volume.array_volumes.extend(found.array_volume.clone());
                    }
                }
            });
        }
        Ok(())
    }

    /// Runs `f` on every member's entry as it is now, at most `limit` at once.
    async fn each_member<F, Fut>(&self, f: F)
    where
        F: FnMut(TestMember) -> Fut,
        Fut: Future<Output = ()>,
    {
        stream::iter(self.members())
            .map(f)
            .buffer_unordered(self.limit.max(1))
            .collect::<Vec<()>>()
            .await;
    }

    /// Removes one listed resource if it is still there and the drill's. `found` says whether
    /// the site still has it (`None`: gone, counts as removed) and whether it carries the
    /// drill's tag. Returns whether it is gone now; otherwise the reason is kept.
    async fn remove_tagged(
        &self,
        what: String,
        found: Result<Option<bool>>,
        remove: impl Future<Output = Result<()>>,
    ) -> bool {
        let outcome = match found {
            Ok(None) => Ok(()),
            Ok(Some(false)) => Err(self.not_ours(&what)),
            Ok(Some(true)) => {
                let step = format!("{}:{what}", self.step_prefix);
                self.tracker.effect(&step, json!({}), remove).await
            }
            Err(e) => Err(e),
        };
        outcome.map_err(|e| self.failed(what, &e)).is_ok()
    }

    fn tagged(&self, metadata: &BTreeMap<String, String>) -> bool {
        metadata.get(OPERATION_TAG) == Some(&self.tag())
    }

    async fn servers(&self) {
        self.each_member(|member| async move {
            let Some(id) = member.server_id.clone() else {
                return;
            };
            let compute = &self.clients.compute;
            let found = compute.get_server(&id).await;
            let found = found.map(|s| s.map(|s| self.tagged(&s.metadata)));
            let what = format!("server {id} ({})", member.server_name);
            let removal = remove_server(compute, &id, self.poll);
            if self.remove_tagged(what, found, removal).await {
                self.update(member.member_id, |m| m.server_id = None);
            }
        })
        .await;
    }

    /// Ports of members whose server is gone (a live server still uses its ports).
    async fn ports(&self) {
        let prefix = format!("protector:{}:", self.tag());
        self.each_member(|member| {
            let prefix = prefix.clone();
            async move {
                if member.server_id.is_some() {
                    return;
                }
                let network = &self.clients.network;
                for id in &member.port_ids {
                    let found = network.get_port(id).await;
                    let found = found.map(|p| p.map(|p| p.description.starts_with(&prefix)));
                    let what = format!("port {id} of {}", member.server_name);
                    if self
                        .remove_tagged(what, found, network.delete_port(id))
                        .await
                    {
                        self.update(member.member_id, |m| m.port_ids.retain(|p| p != id));
                    }
                }
            }
        })
        .await;
    }

    /// Cinder volumes of members whose server is gone (a live server keeps them attached).
    async fn volumes(&self) {
        self.each_member(|member| async move {
            if member.server_id.is_some() {
                return;
            }
            let storage = &self.clients.block_storage;
            for (index, volume) in member.volumes.iter().enumerate() {
                let Some(id) = volume.volume_id.as_deref() else {
                    continue;
                };
                let found = storage.get_volume(id).await;
                let found = found.map(|v| v.map(|v| self.tagged(&v.metadata)));
                let what = format!("volume {id} ({})", volume.name);
                let removal = remove_volume(storage, id, self.poll);
                if self.remove_tagged(what, found, removal).await {
                    self.update(member.member_id, |m| m.volumes[index].volume_id = None);
                }
            }
        })
        .await;
    }

    /// Array volumes no longer in Cinder (Cinder removes the others with their volume).
    async fn array_volumes(&self) {
        self.each_member(|member| async move {
            for (index, volume) in member.volumes.iter().enumerate() {
                if volume.volume_id.is_some() {
                    continue;
                }
                for name in &volume.array_volumes {
                    let what = format!("array volume {name}");
                    // Array volumes carry no tags; their names hold the drill's id, or are
                    // the name Cinder gave the drill's tagged volume.
                    let removal = remove_array_volume(self.array, name);
                    if self.remove_tagged(what, Ok(Some(true)), removal).await {
                        self.update(member.member_id, |m| {
                            m.volumes[index].array_volumes.retain(|n| n != name);
                        });
                    }
                }
            }
        })
        .await;
    }

    /// Every phase in order.
    pub(super) async fn all(&self) {
        self.servers().await;
        self.ports().await;
        self.volumes().await;
        self.array_volumes().await;
    }

    /// The record as it stands now, and what could not be removed.
    pub(super) fn into_parts(self) -> (TestFailoverRecord, Vec<String>) {
        let record = self
            .record
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        let errors = self
            .errors
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        (record, errors)
    }
}

impl Protector {
    /// Writes (or clears) the drill record of `group` on both sites. The world already
    /// changed, so the peer being unreachable does not stop it (see [`Protector::sync_note`]).
    pub(super) async fn record_drill(
        &self,
        group: ProtectionGroup,
        record: Option<TestFailoverRecord>,
    ) -> Result<GroupDocument> {
        let reason = match &record {
            None => "test-failover-cleanup",
            Some(r) if r.status == TestFailoverStatus::Ready => "test-failover",
            Some(_) => "test-failover-leftovers",
        };
        let mut document = self.document(group).await?;
        document.group.test_failover = record;
        self.commit(document, reason, PeerPolicy::BestEffort).await
    }

    /// What to tell the operator when a committed version did not reach the peer.
    pub(super) async fn sync_note(&self, committed: &GroupDocument) -> Option<String> {
        let group = &committed.group;
        let state = self.store().get_sync_state(&group.id).await.ok().flatten();
        match state {
            Some(s)
                if s.status == RemoteSyncStatus::Synced
                    && s.remote_version == group.metadata.version =>
            {
                None
            }
            other => Some(format!(
                "metadata version {} could not be pushed to the other site ({}): {}",
                group.metadata.version,
                other
                    .and_then(|s| s.last_error)
                    .unwrap_or_else(|| "unknown".into()),
                Hint::SyncForce {
                    group: group.name.clone()
                }
                .describe()
            )),
        }
    }

    /// Removes exactly what the drill of `group` created; safe to run again.
    ///
    /// `operation_id` is the id of the cleanup operation itself (a caller that recorded a
    /// pending operation first); a fresh one otherwise. Without a drill on record the cleanup
    /// succeeds without doing anything. The operation is `completed` when everything is gone
    /// (the drill record is cleared on both sites), `partial` when some resources could not be
    /// removed and `failed` when none could; the message lists each with the reason, and the
    /// drill record keeps them for the next run. A completed cleanup also ends the records of
    /// earlier cleanups of the group that were left unfinished by a process that is gone.
    ///
    /// Refused (`Conflict`, nothing removed) while the group is in flight, while the drill
    /// itself still runs in another process, and while another process holds `operation_id`.
    pub async fn test_failover_cleanup(
        &self,
        group: &str,
        operation_id: Option<Uuid>,
        observer: &dyn ProgressObserver,
    ) -> Result<Operation> {
        let id = operation_id.unwrap_or_else(Uuid::new_v4);
        let _owner = self.own_operation(&id).await?;
        let group = self.group(group).await?;
        self.run_cleanup(group, id, observer).await
    }

    /// The cleanup of `group` as operation `id`, whose lock the caller holds.
    pub(in crate::engine) async fn run_cleanup(
        &self,
        group: ProtectionGroup,
        id: Uuid,
        observer: &dyn ProgressObserver,
    ) -> Result<Operation> {
        // A drill recorded as running is removed only once its process is gone; its lock
        // is held until the cleanup ends, so that it cannot be resumed meanwhile.
        let _drill = self.cleanup_preflight(&group).await?;
        let (site, source) = cleanup_sites(&group);
        let mut op = Operation::start(
            OperationType::TestCleanup,
            Some((&group.id, &group.name)),
            &source,
            &site,
            Utc::now(),
        );
        op.id = id;
        let peer = group.peer_of(self.local_site()).to_string();
        let tracker = Tracker::new(self, observer, op, cleanup_steps(&site), Some(peer));
        let op = match group.test_failover.clone() {
            None => tracker.finish(OperationStatus::Completed, None).await,
            Some(record) => {
                tracker.publish().await?;
                match self.clean_up(&group, record, &tracker).await {
                    Ok((status, message)) => tracker.finish(status, message).await,
                    Err(e) => {
                        let message = format!(
                            "{e} (the drill record is kept: run the cleanup again once this is fixed)"
                        );
                        tracker.finish(OperationStatus::Failed, Some(message)).await
                    }
                }
            }
        };
        if op.status == OperationStatus::Completed {
            self.close_superseded_cleanups(&group, op.id).await;
        }
        Ok(op)
    }

    async fn clean_up(
        &self,
        group: &ProtectionGroup,
        record: TestFailoverRecord,
        tracker: &Tracker<'_>,
    ) -> Result<(OperationStatus, Option<String>)> {
        let t = site_token(&record.site);
        let record_site = record.site.clone();
        tracker.begin("validate_sites").await?;
        let clients = self.group_clients(&record.site, group).await?;
        let policy = self.store().get_policy(&group.id).await?.ok_or_else(|| {
            Error::invalid(format!(
                "protection group '{}' has no replication policy: its FlashArrays are unknown",
                group.name
            ))
        })?;
        let array = self
            .inner
            .connector
            .array(policy.array_on(group, &record.site))
            .await?;
        let interrupted =
            (record.status == TestFailoverStatus::Running).then_some(record.operation_id);
        // A failed drill's rollback may not have reached the site: search by tags too.
        let search = sweeps_tags(&record);
        let remover = Remover::new(&clients, &array, tracker, "delete", record);
        if search {
            remover.discover().await?;
        }
        if let Some(drill) = interrupted {
            self.close_interrupted_drill(drill, tracker.id()).await;
        }
        tracker.done("validate_sites").await?;
        let drilled = lock(&remover.record).clone();
        let hook_warnings = self.undo_drill_hooks(group, &drilled, tracker).await;

        let listed = resource_count(&lock(&remover.record));
        let servers = format!("delete_instances_{t}");
        cleanup_phase(tracker, &remover, &servers, remover.servers()).await?;
        let ports = format!("delete_ports_{t}");
        cleanup_phase(tracker, &remover, &ports, remover.ports()).await?;
        let volumes = format!("delete_volumes_{t}");
        cleanup_phase(tracker, &remover, &volumes, remover.volumes()).await?;
        let arrays = format!("delete_array_volumes_{t}");
        cleanup_phase(tracker, &remover, &arrays, remover.array_volumes()).await?;
        let (mut record, leftovers) = remover.into_parts();

        tracker.begin("update_protection_group").await?;
        let current = self.group_by_id(&group.id).await?;
        if current
            .test_failover
            .as_ref()
            .is_none_or(|r| r.operation_id != record.operation_id)
        {
            return Err(Error::conflict(format!(
                "the DR drill record of protection group '{}' changed while the cleanup ran: run the cleanup again",
                group.name
            )));
        }
        // Their undo ran above; a failed one is a warning, not something left to remove.
        record.hooks_to_undo.clear();
        let done = record.is_removed();
        let anything_removed = resource_count(&record) < listed;
        if !done {
            record.status = TestFailoverStatus::CleanupIncomplete;
            record.errors = leftovers.clone();
        }
        let committed = self
            .record_drill(current, (!done).then_some(record))
            .await?;
        tracker.done("update_protection_group").await?;
        let mut notes = Vec::new();
        let status = if done {
            OperationStatus::Completed
        } else {
            notes.push(format!(
                "could not remove {} resource(s) of the DR drill on {}: {}; the drill record keeps them: fix the cause and run the cleanup again",
                leftovers.len(),
                record_site,
                leftovers.join("; ")
            ));
            if anything_removed {
                OperationStatus::Partial
            } else {
                OperationStatus::Failed
            }
        };
        notes.extend(self.sync_note(&committed).await);
        tracker.edit(|op| op.warnings.extend(hook_warnings));
        Ok((status, (!notes.is_empty()).then(|| notes.join("; "))))
    }
}

impl Protector {
    /// Ends the records of earlier cleanups of `group` left unfinished by a process that is
    /// gone (their lock is free), now that cleanup `by` has removed everything: otherwise
    /// they would stay `running` and block the group for good.
    async fn close_superseded_cleanups(&self, group: &ProtectionGroup, by: Uuid) {
        let unfinished = OperationQuery::of_group(group.id)
            .of_types(&[OperationType::TestCleanup])
            .unfinished();
        let Ok(operations) = self.store().query_operations(&unfinished).await else {
            return;
        };
        let stale = operations.into_iter().filter(|op| op.id != by);
        for op in stale {
            let Ok(LockAttempt::Acquired(_owner)) = self.store().lock_operation(&op.id).await
            else {
                continue;
            };
            // Read again under the lock: its process may have ended it meanwhile.
            let Ok(Some(mut op)) = self.store().get_operation(&op.id).await else {
                continue;
            };
            if op.status.is_terminal() {
                continue;
            }
            op.status = OperationStatus::Failed;
            op.completed_at = Some(Utc::now());
            op.steps_failed.push("interrupted".into());
            op.error_message = Some(format!(
                "the process ended before this cleanup finished; cleanup op-{by} superseded it and removed what was left of the DR drill"
            ));
            if let Err(e) = self.store().put_operation(&op).await {
                tracing::warn!(error = %e, operation = %op.id, "could not close a superseded cleanup");
                continue;
            }
            if let Ok(peer) = self.store_of(group.peer_of(self.local_site())) {
                let _ = peer.put_operation(&op).await;
            }
        }
    }

    /// Ends the operation record of a drill whose process died before it finished, so that it
    /// does not stay `running`.
    async fn close_interrupted_drill(&self, drill: Uuid, cleanup: Uuid) {
        let Ok(Some(mut op)) = self.store().get_operation(&drill).await else {
            return;
        };
        if op.status.is_terminal() {
            return;
        }
        op.status = OperationStatus::Failed;
        op.completed_at = Some(Utc::now());
        op.error_message = Some(format!(
            "the drill ended before it finished; cleanup op-{cleanup} removes what it had created"
        ));
        if let Err(e) = self.store().put_operation(&op).await {
            tracing::warn!(error = %e, "could not close the interrupted drill's operation");
        }
    }
}

/// One removal phase of a cleanup: a step that fails when the removal left something.
async fn cleanup_phase(
    tracker: &Tracker<'_>,
    remover: &Remover<'_>,
    step: &str,
    removal: impl Future<Output = ()>,
) -> Result<()> {
    tracker.begin(step).await?;
    let errors_before = lock(&remover.errors).len();
    removal.await;
    if lock(&remover.errors).len() == errors_before {
        tracker.done(step).await
    } else {
        tracker.edit(|op| op.steps_failed.push(step.to_string()));
        tracker.publish().await
    }
}

/// How many resources a record lists.
fn resource_count(record: &TestFailoverRecord) -> usize {
    record
        .members
        .iter()
        .map(|m| {
            usize::from(m.server_id.is_some())
                + m.port_ids.len()
                + m.volumes
                    .iter()
                    .map(|v| usize::from(v.volume_id.is_some()) + v.array_volumes.len())
                    .sum::<usize>()
        })
        .sum()
}
