//! How a run ends: its outcome recorded, and on failure everything it did undone
//! (compensation), the group set back, and what could not be undone named.

use chrono::Utc;
use serde_json::json;

use super::{lock, Run, Undo};
use crate::api::SiteClients;
use crate::engine::resources::{remove_resources, start_server_and_wait, stop_server_and_wait};
use crate::engine::sync::PeerPolicy;
use crate::error::{Error, ErrorKind, Result};
use crate::model::{GroupEvent, GroupStatus, Operation, OperationStatus, OperationType, Phase};
use crate::store::{GroupDocument, JournalKind, RemoteSyncStatus};

impl Run<'_> {
    /// Before anything is created on the target (the group is claimed, nothing else runs on
    /// it): removes what earlier failed failovers and failbacks of the group left there, found
    /// by their tags (a create whose answer was lost, a rollback that could not reach the
    /// site), so that this run adds the only set. Never what a member of the group uses. Best
    /// effort: what cannot be removed is journaled, and stays for the next run or for
    /// recovering the failed operation.
    pub(in crate::engine) async fn clear_earlier_leftovers(&self) {
        let result = async {
            let group = self.engine.group_by_id(&self.plan.group_id).await?;
            self.engine
                .remove_earlier_leftovers(&group, self.op_id(), &self.target, &self.target_array)
                .await
        }
        .await;
        let (kind, detail) = match &result {
            Ok((0, _)) => return,
            Ok((removed, leftovers)) => (
                if leftovers.is_empty() {
                    JournalKind::Done
                } else {
                    JournalKind::Failed
                },
                json!({"found": removed, "leftovers": leftovers}),
            ),
            Err(e) => (JournalKind::Failed, json!({"error": e.message()})),
        };
        if kind == JournalKind::Failed {
            tracing::warn!(%detail, site = %self.plan.target_site, "could not remove what earlier failed operations left");
        }
        self.journal("remove_earlier_leftovers", kind, detail).await;
    }

    /// Deletes servers (waiting until gone), then ports, then volumes (once detached) on the
    /// site of `clients`, journaling each. Missing ones count as removed. Returns what could not
    /// be removed.
    pub(in crate::engine) async fn remove_site_resources(
        &self,
        clients: &SiteClients,
        servers: &[String],
        ports: &[String],
        volumes: &[String],
    ) -> Vec<String> {
        let leftovers = remove_resources(
            clients,
            servers,
            ports,
            volumes,
            &self.engine.options().poll,
        )
        .await;
        self.journal(
            &format!("remove_resources:{}", clients.site),
            JournalKind::Compensated,
            json!({"servers": servers, "ports": ports, "volumes": volumes, "leftovers": leftovers}),
        )
        .await;
        leftovers
    }

    /// Undoes the whole run: what `undo` lists and everything else on the target tagged with
    /// this operation (a create whose answer was lost, a timeout or a reset connection after
    /// the request took effect, left no id in `undo`). Returns what could not be undone; when
    /// the target could not be searched, that says so and names the recovery.
    pub(in crate::engine) async fn compensate(&self, undo: Undo) -> Vec<String> {
        self.undo_all(undo, true).await
    }

    /// Undoes what `undo` lists and nothing else (one member of a run that goes on). Returns
    /// what could not be undone.
    pub(in crate::engine) async fn undo_listed(&self, undo: Undo) -> Vec<String> {
        self.undo_all(undo, false).await
    }

    /// What the target holds tagged with this operation: servers and volumes by metadata,
    /// ports by description, array copies by the names its journal intended (and `copies`).
    /// Nothing a member of the group uses is returned. The search only reads, so a transient
    /// failure (the same timeouts that lose answers) is tried again, three times at most.
    async fn tagged_on_target(&self, copies: &[String]) -> Result<crate::engine::copies::Copies> {
        let op_id = self.op_id();
        let journal = self.engine.store().list_journal(&op_id).await?;
        let mut names = crate::engine::copies::copies_of(&journal);
        names.extend(
            copies
                .iter()
                .filter(|c| !names.contains(c))
                .cloned()
                .collect::<Vec<_>>(),
        );
        let members = self
            .engine
            .store()
            .list_members(&self.plan.group_id)
            .await?;
        let keep = crate::engine::copies::in_use(&members);
        let mut attempt = 1;
        loop {
            let found = crate::engine::copies::tagged_on(
                &self.target,
                Some(&self.target_array),
                op_id,
                &names,
                &keep,
            )
            .await;
            match found {
                Err(e) if e.is_retryable() && attempt < 3 => attempt += 1,
                other => return other,
            }
        }
    }

    /// Undoes what `undo` lists (and, with `sweep`, what the target holds tagged with this
    /// operation), in reverse order of creation. Returns what could not be undone.
    async fn undo_all(&self, undo: Undo, sweep: bool) -> Vec<String> {
        let mut leftovers = Vec::new();
        let poll = &self.engine.options().poll;
        let compute = self.target.compute.clone();
        let stopped = futures::future::join_all(undo.started.iter().map(|id| {
            let compute = &compute;
            async move { (id, stop_server_and_wait(compute, id, poll).await) }
        }))
        .await;
        for (id, result) in stopped {
            if let Err(e) = result {
                leftovers.push(format!(
                    "server {id} on {} was started and could not be stopped again: {}",
                    self.plan.target_site,
                    e.message()
                ));
            }
        }
        let mut copies = crate::engine::copies::Copies {
            servers: undo.servers.clone(),
            ports: undo.ports.clone(),
            volumes: undo.volumes.clone(),
            array_volumes: undo.copies.clone(),
        };
        if sweep {
            match self.tagged_on_target(&undo.copies).await {
                Ok(found) => copies.merge(found),
                Err(e) => {
                    let op_id = self.op_id();
                    leftovers.push(format!(
                        "{site} could not be searched for what operation op-{op_id} created there ({}): recover the operation op-{op_id} once {site} answers, to remove what it left",
                        e.message(),
                        site = self.plan.target_site,
                    ));
                }
            }
        }
        let removed = crate::engine::copies::remove_copies(
            &self.target,
            Some(&self.target_array),
            &copies,
            poll,
        )
        .await;
        self.journal(
            &format!("remove_resources:{}", self.target.site),
            JournalKind::Compensated,
            json!({
                "servers": copies.servers,
                "ports": copies.ports,
                "volumes": copies.volumes,
                "array_volumes": copies.array_volumes,
                "leftovers": removed,
            }),
        )
        .await;
        leftovers.extend(removed);
        if !undo.stopped.is_empty() {
            match self.source() {
                Ok(source) => {
                    let started = futures::future::join_all(undo.stopped.iter().map(|id| {
                        let compute = &source.compute;
                        async move { (id, start_server_and_wait(compute, id, poll).await) }
                    }))
                    .await;
                    for (id, result) in started {
                        if let Err(e) = result {
                            leftovers.push(format!(
                                "source server {id} on {} was not restarted: {}",
                                self.plan.source_site,
                                e.message()
                            ));
                        }
                    }
                }
                Err(e) => leftovers.push(format!("source VMs were not restarted: {}", e.message())),
            }
        }
        leftovers
    }

    /// Records the outcome: compensates on failure and settles the group status.
    /// What the rollback could not record, and how to repair it: the group's end state written
    /// by the rollback (`recorded`) may have reached only the local site, or neither.
    async fn unrecorded_rollback(
        &self,
        recorded: Result<GroupDocument>,
        in_flight: GroupStatus,
    ) -> Option<String> {
        let group = &self.plan.group_name;
        let local = self.engine.local_site().to_string();
        let document = match recorded {
            Ok(document) => document,
            Err(e) => {
                tracing::warn!(error = %e, "could not record the failed operation on the group");
                return Some(format!(
                    "the group could not be set back and is still recorded as {in_flight} ({}): \
                     recover operation op-{} to settle it",
                    e.message(),
                    self.op_id()
                ));
            }
        };
        let peer = document.group.peer_of(&local).to_string();
        let synced = self
            .engine
            .store()
            .get_sync_state(&document.group.id)
            .await
            .ok()
            .flatten()
            .is_some_and(|s| {
                s.status == RemoteSyncStatus::Synced
                    && s.remote_version == document.group.metadata.version
            });
        (!synced).then(|| {
            format!(
                "{peer} could not be told and still records protection group '{group}' as \
                 {in_flight}: once {peer} is reachable, run sync-force on the group to repair it"
            )
        })
    }

    /// The error to return instead of the operation record when the run stopped because
    /// another operation claimed the group first (nothing was changed by this run).
    pub(in crate::engine) fn claim_refused(&self, outcome: &Result<()>) -> Option<Error> {
        let Err(error) = outcome else {
            return None;
        };
        let claimed = lock(&self.op)
            .steps_completed
            .iter()
            .any(|s| s == "create_dr_record");
        (error.kind() == ErrorKind::Conflict && !claimed)
            .then(|| Error::conflict(error.message().to_string()))
    }

    pub(in crate::engine) async fn finish(&self, outcome: Result<()>) -> Operation {
        let now = Utc::now();
        // The journal complete before a rollback reads it.
        if let Err(e) = self.write(Vec::new(), None).await {
            tracing::warn!(error = %e, "could not write the journal");
        }
        match outcome {
            Ok(()) => {
                let mut op = lock(&self.op);
                op.status = if op.instances_failed > 0 {
                    OperationStatus::Partial
                } else {
                    OperationStatus::Completed
                };
                op.progress = 100;
                op.phase = Phase::Finalization;
                op.completed_at = Some(now);
            }
            Err(error) => {
                let failed_step = {
                    let op = lock(&self.op);
                    self.plan
                        .steps
                        .iter()
                        .find(|s| !op.steps_completed.contains(&s.name))
                        .map_or_else(|| "unknown".to_string(), |s| s.name.clone())
                };
                let undo = std::mem::take(&mut *lock(&self.undo));
                let changed_world = !(undo.stopped.is_empty()
                    && undo.started.is_empty()
                    && undo.copies.is_empty()
                    && undo.volumes.is_empty()
                    && undo.ports.is_empty()
                    && undo.servers.is_empty());
                let leftovers = self.compensate(undo).await;
                let failback = lock(&self.op).operation_type == OperationType::Failback;
                let in_flight = if failback {
                    GroupStatus::FailingBack
                } else {
                    GroupStatus::FailingOver
                };
                // Only the operation that holds the group may put it back: a run that lost
                // the claim to another operation must not undo what that one recorded.
                let op_id = self.op_id();
                let group_recorded = self
                    .engine
                    .group_by_id(&self.plan.group_id)
                    .await
                    .is_ok_and(|g| g.status == in_flight && g.active_operation_id == Some(op_id));
                let mut note = if leftovers.is_empty() {
                    if changed_world {
                        format!("rolled back: nothing was left on {} and the source VMs run again on {}", self.plan.target_site, self.plan.source_site)
                    } else {
                        "nothing was changed".to_string()
                    }
                } else {
                    format!(
                        "rollback incomplete, clean up by hand: {}",
                        leftovers.join("; ")
                    )
                };
                if group_recorded {
                    if let Ok(group) = self.engine.group_by_id(&self.plan.group_id).await {
                        if let Ok(mut document) = self.engine.document(group).await {
                            let event = if !leftovers.is_empty() {
                                GroupEvent::OperationFailed
                            } else if failback {
                                GroupEvent::FailbackAborted {
                                    previous: self.previous_status,
                                }
                            } else {
                                GroupEvent::FailoverAborted {
                                    previous: self.previous_status,
                                }
                            };
                            if document.group.apply(event).is_ok() {
                                document.group.active_operation_id = None;
                                let recorded = self
                                    .engine
                                    .commit(
                                        document,
                                        if failback {
                                            "failback-failed"
                                        } else {
                                            "failover-failed"
                                        },
                                        PeerPolicy::BestEffort,
                                    )
                                    .await;
                                if let Some(gap) =
                                    self.unrecorded_rollback(recorded, in_flight).await
                                {
                                    note.push_str("; ");
                                    note.push_str(&gap);
                                }
                            }
                        }
                    }
                }
                let mut op = lock(&self.op);
                op.status = OperationStatus::Failed;
                op.steps_failed.push(failed_step);
                op.completed_at = Some(now);
                op.error_message = Some(format!("{error} ({note})"));
            }
        }
        let op = self.snapshot();
        if let Err(e) = self.write(Vec::new(), Some(&op)).await {
            tracing::warn!(error = %e, "could not record the operation");
        }
        self.observer.on_update(&op);
        op
    }
}
