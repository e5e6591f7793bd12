//! One execution of a plan (a failover or a failback): its operation record, steps with phase
//! and progress, the journal of its side effects, its clients, and what to undo.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use futures::stream::{self, StreamExt};
use serde_json::json;
use uuid::Uuid;

use super::lock;
use crate::api::{ArrayApi, SiteClients};
use crate::engine::progress::ProgressObserver;
use crate::engine::Protector;
use crate::error::{Error, Result};
use crate::model::{GroupStatus, Operation, Phase};
use crate::plan::{MemberPlan, Plan};
use crate::store::{JournalEntry, JournalKind};

/// What a run created or changed, so that a failure can be undone.
#[derive(Debug, Default)]
pub(in crate::engine) struct Undo {
    /// Source servers this run stopped.
    pub(in crate::engine) stopped: Vec<String>,
    /// Array volumes on the target created by copy and not (yet) managed.
    pub(in crate::engine) copies: Vec<String>,
    /// Cinder volumes created on the target by manage.
    pub(in crate::engine) volumes: Vec<String>,
    /// Ports created on the target.
    pub(in crate::engine) ports: Vec<String>,
    /// Servers created on the target.
    pub(in crate::engine) servers: Vec<String>,
    /// Existing servers this run started on the target (failback): stopped again on rollback.
    pub(in crate::engine) started: Vec<String>,
}

/// What happened to one member on the target.
#[derive(Debug, Default, Clone)]
pub(in crate::engine) struct MemberResult {
    pub(in crate::engine) volume_ids: Vec<String>,
    pub(in crate::engine) array_volumes: Vec<String>,
    pub(in crate::engine) port_ids: Vec<String>,
    pub(in crate::engine) server_id: Option<String>,
    pub(in crate::engine) error: Option<String>,
}

/// One execution of a plan (failover or failback): the operation record, the clients, and
/// what to undo.
pub(in crate::engine) struct Run<'a> {
    pub(in crate::engine) engine: &'a Protector,
    pub(in crate::engine) plan: &'a Plan,
    pub(in crate::engine) op: Mutex<Operation>,
    pub(in crate::engine) observer: &'a dyn ProgressObserver,
    pub(in crate::engine) source: Option<SiteClients>,
    pub(in crate::engine) target: SiteClients,
    pub(in crate::engine) source_array: Option<Arc<dyn ArrayApi>>,
    pub(in crate::engine) target_array: Arc<dyn ArrayApi>,
    pub(in crate::engine) undo: Mutex<Undo>,
    pub(in crate::engine) results: Mutex<BTreeMap<Uuid, MemberResult>>,
    pub(in crate::engine) previous_status: GroupStatus,
    /// What the interrupted run this one continues had done (recovery), or `None` for a
    /// fresh run.
    pub(in crate::engine) resumed: Option<super::resume::Resumed>,
    /// Outcomes journaled and not written yet: they go with the run's next write (an intent,
    /// a save), in the same commit. An intent is written before its side effect; an outcome
    /// may wait, as a kill between a side effect and its outcome's write leaves an intent
    /// without outcome whenever it is written (a resumed run looks at the target then).
    pub(in crate::engine) unwritten: Mutex<Vec<JournalEntry>>,
}

impl Run<'_> {
    pub(in crate::engine) fn snapshot(&self) -> Operation {
        lock(&self.op).clone()
    }

    pub(in crate::engine) async fn save(&self) -> Result<()> {
        let op = self.snapshot();
        self.write(Vec::new(), Some(&op)).await?;
        self.observer.on_update(&op);
        Ok(())
    }

    /// Writes the outcomes not written yet, then `entries`, then `op` when given: one commit.
    pub(in crate::engine) async fn write(
        &self,
        entries: Vec<JournalEntry>,
        op: Option<&Operation>,
    ) -> Result<()> {
        let mut all = std::mem::take(&mut *lock(&self.unwritten));
        all.extend(entries);
        self.engine.store().record(&all, op).await
    }

    fn phase_progress(&self, op: &Operation, phase: Phase) -> u8 {
        let steps: Vec<_> = self
            .plan
            .steps
            .iter()
            .filter(|s| s.phase == phase)
            .collect();
        let done = steps
            .iter()
            .filter(|s| op.steps_completed.contains(&s.name))
            .count();
        let (start, end) = phase.range();
        let span = usize::from(end - start);
        let total = steps.len().max(1);
        start + u8::try_from(span * done / total).unwrap_or(0)
    }

    pub(in crate::engine) async fn step_started(&self, name: &str) -> Result<()> {
        let id = lock(&self.op).id;
        self.engine.stop_if_cancelled(&id, name).await?;
        // A step the plan does not list (`reprotect`) stays in the current phase.
        let current = lock(&self.op).phase;
        let phase = self
            .plan
            .steps
            .iter()
            .find(|s| s.name == name)
            .map_or(current, |s| s.phase);
        {
            let mut op = lock(&self.op);
            op.phase = phase;
            op.progress = op.progress.max(self.phase_progress(&op, phase));
            op.note_step_started(name, phase, Utc::now());
        }
        self.save().await
    }

    pub(in crate::engine) async fn step_done(&self, name: &str) -> Result<()> {
        {
            let mut op = lock(&self.op);
            if !op.steps_completed.iter().any(|s| s == name) {
                op.steps_completed.push(name.to_string());
            }
            op.note_step_done(name, Utc::now());
            // Overlapping steps (member chains): a step done moves the operation on to its
            // phase, never back.
            if let Some(step) = self.plan.steps.iter().find(|s| s.name == name) {
                if step.phase.range().0 > op.phase.range().0 {
                    op.phase = step.phase;
                }
            }
            let phase = op.phase;
            op.progress = op.progress.max(self.phase_progress(&op, phase));
        }
        self.save().await
    }

    /// Records that the workload runs on the target now (`recovered_at`, kept when a resumed
    /// run had recorded it), journals it and tells the observer: re-protection follows.
    pub(in crate::engine) async fn mark_recovered(&self) -> Result<()> {
        let at = *lock(&self.op).recovered_at.get_or_insert_with(Utc::now);
        self.journal("recovered", JournalKind::Done, json!({"recovered_at": at}))
            .await;
        self.save().await
    }

    pub(in crate::engine) async fn journal(
        &self,
        step: &str,
        kind: JournalKind,
        detail: serde_json::Value,
    ) {
        let op_id = lock(&self.op).id;
        let entry = JournalEntry {
            operation_id: op_id,
            seq: 0,
            step: step.to_string(),
            kind,
            idempotency_key: format!("{op_id}:{step}"),
            detail,
            at: Utc::now(),
        };
        if entry.kind == JournalKind::Done {
            lock(&self.unwritten).push(entry);
            return;
        }
        if let Err(e) = self.write(vec![entry], None).await {
            tracing::warn!(error = %e, step, "could not write the journal");
        }
    }

    /// Runs one side effect with intent and outcome journaled.
    pub(in crate::engine) async fn effect<T, F>(
        &self,
        step: &str,
        intent: serde_json::Value,
        f: F,
    ) -> Result<T>
    where
        F: std::future::Future<Output = Result<T>>,
        T: serde::Serialize,
    {
        self.journal(step, JournalKind::Intent, intent).await;
        match f.await {
            Ok(v) => {
                self.journal(
                    step,
                    JournalKind::Done,
                    serde_json::to_value(&v).unwrap_or_default(),
                )
                .await;
                Ok(v)
            }
            Err(e) => {
                self.journal(
                    step,
                    JournalKind::Failed,
                    json!({"kind": e.kind(), "error": e.message()}),
                )
                .await;
                Err(e)
            }
        }
    }

    pub(in crate::engine) fn source(&self) -> Result<&SiteClients> {
        self.source.as_ref().ok_or_else(|| {
            Error::unavailable(format!(
                "source site {} is unreachable",
                self.plan.source_site
            ))
        })
    }

    pub(in crate::engine) fn op_id(&self) -> Uuid {
        lock(&self.op).id
    }

    /// Runs `f` for every member with bounded concurrency; the first error wins after all ran.
    pub(in crate::engine) async fn for_members<'m, F, Fut>(&'m self, f: F) -> Result<()>
    where
        F: Fn(&'m MemberPlan) -> Fut,
        Fut: std::future::Future<Output = Result<()>> + 'm,
    {
        self.for_members_where(|_| true, f).await
    }

    /// [`Run::for_members`] for the members `keep` selects.
    pub(in crate::engine) async fn for_members_where<'m, K, F, Fut>(
        &'m self,
        keep: K,
        f: F,
    ) -> Result<()>
    where
        K: Fn(&MemberPlan) -> bool,
        F: Fn(&'m MemberPlan) -> Fut,
        Fut: std::future::Future<Output = Result<()>> + 'm,
    {
        let skip: Vec<Uuid> = lock(&self.results)
            .iter()
            .filter(|(_, r)| r.error.is_some())
            .map(|(id, _)| *id)
            .collect();
        // The futures are made up front (they do nothing until polled) so that the stream
        // holds no closure: that keeps the whole operation's future `Send` for any caller.
        let futures: Vec<Fut> = self
            .plan
            .members
            .iter()
            .filter(|m| !skip.contains(&m.member_id) && keep(m))
            .map(f)
            .collect();
        let results: Vec<Result<()>> = stream::iter(futures)
            .buffer_unordered(self.engine.options().member_concurrency.max(1))
            .collect()
            .await;
        results.into_iter().collect()
    }
}
