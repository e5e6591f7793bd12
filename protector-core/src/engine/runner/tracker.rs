//! Bookkeeping of a running operation: its record, steps with phase and progress, the journal
//! of side effects, the progress observer.

use std::future::Future;
use std::sync::Mutex;

use chrono::Utc;
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::lock;
use crate::engine::progress::ProgressObserver;
use crate::engine::Protector;
use crate::error::Result;
use crate::model::{Operation, OperationStatus, Phase};
use crate::store::{JournalEntry, JournalKind};

/// One step of an operation: its name, its phase and the progress reached once it is done.
#[derive(Debug, Clone)]
pub(in crate::engine) struct StepSpec {
    name: String,
    phase: Phase,
    done_at: u8,
}

impl StepSpec {
    pub(in crate::engine) fn new(name: impl Into<String>, phase: Phase, done_at: u8) -> Self {
        StepSpec {
            name: name.into(),
            phase,
            done_at,
        }
    }
}

/// Keeps an operation record up to date while it runs: steps, phase and progress, the
/// journal of side effects, the progress observer, the final record on both sites.
pub(in crate::engine) struct Tracker<'a> {
    engine: &'a Protector,
    observer: &'a dyn ProgressObserver,
    steps: Vec<StepSpec>,
    op: Mutex<Operation>,
    /// Another site whose store keeps the final record, so `operation show` works there too.
    peer: Option<String>,
}

impl<'a> Tracker<'a> {
    pub(in crate::engine) fn new(
        engine: &'a Protector,
        observer: &'a dyn ProgressObserver,
        op: Operation,
        steps: Vec<StepSpec>,
        peer: Option<String>,
    ) -> Self {
        Tracker {
            engine,
            observer,
            steps,
            op: Mutex::new(op),
            peer,
        }
    }

    /// The engine running the operation.
    pub(in crate::engine) fn engine(&self) -> &'a Protector {
        self.engine
    }

    pub(in crate::engine) fn id(&self) -> Uuid {
        lock(&self.op).id
    }

    pub(in crate::engine) fn edit<R>(&self, f: impl FnOnce(&mut Operation) -> R) -> R {
        f(&mut lock(&self.op))
    }

    /// Stores the record and tells the observer.
    pub(in crate::engine) async fn publish(&self) -> Result<()> {
        let op = lock(&self.op).clone();
        self.engine.store().put_operation(&op).await?;
        self.observer.on_update(&op);
        Ok(())
    }

    fn spec(&self, name: &str) -> Option<&StepSpec> {
        self.steps.iter().find(|s| s.name == name)
    }

    /// `name` starts: the operation enters its phase.
    pub(in crate::engine) async fn begin(&self, name: &str) -> Result<()> {
        self.engine.stop_if_cancelled(&self.id(), name).await?;
        if let Some(phase) = self.spec(name).map(|s| s.phase) {
            self.edit(|op| {
                op.phase = phase;
                op.note_step_started(name, phase, Utc::now());
            });
        }
        self.journal(name, JournalKind::StepStarted, json!({}))
            .await;
        self.publish().await
    }

    /// `name` is done: recorded, progress advanced to the step's mark.
    pub(in crate::engine) async fn done(&self, name: &str) -> Result<()> {
        let done_at = self.spec(name).map_or(0, |s| s.done_at);
        self.edit(|op| {
            op.steps_completed.push(name.to_string());
            op.progress = op.progress.max(done_at);
            op.note_step_done(name, Utc::now());
        });
        self.journal(name, JournalKind::StepDone, json!({})).await;
        self.publish().await
    }

    /// The first step not done yet: the one that failed when the operation fails.
    fn pending_step(&self) -> String {
        let op = lock(&self.op);
        self.steps
            .iter()
            .find(|s| !op.steps_completed.contains(&s.name))
            .map_or_else(|| "unknown".to_string(), |s| s.name.clone())
    }

    /// Appends to the operation's journal; a journal that cannot be written is logged only.
    pub(in crate::engine) async fn journal(
        &self,
        step: &str,
        kind: JournalKind,
        detail: serde_json::Value,
    ) {
        let operation_id = self.id();
        let entry = JournalEntry {
            operation_id,
            seq: 0,
            step: step.to_string(),
            kind,
            idempotency_key: format!("{operation_id}:{step}"),
            detail,
            at: Utc::now(),
        };
        if let Err(e) = self.engine.store().append_journal(&entry).await {
            tracing::warn!(error = %e, step, "could not write the journal");
        }
    }

    /// Runs one side effect with its intent and its outcome journaled.
    pub(in crate::engine) async fn effect<T: Serialize>(
        &self,
        step: &str,
        intent: serde_json::Value,
        side_effect: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        self.journal(step, JournalKind::Intent, intent).await;
        let outcome = side_effect.await;
        let (kind, detail) = match &outcome {
            Ok(value) => (
                JournalKind::Done,
                serde_json::to_value(value).unwrap_or_default(),
            ),
            Err(e) => (
                JournalKind::Failed,
                json!({"kind": e.kind(), "error": e.message()}),
            ),
        };
        self.journal(step, kind, detail).await;
        outcome
    }

    /// Ends the operation with `status` and stores the final record on both sites.
    pub(in crate::engine) async fn finish(
        &self,
        status: OperationStatus,
        error_message: Option<String>,
    ) -> Operation {
        let failed_step = (status != OperationStatus::Completed).then(|| self.pending_step());
        let op = self.edit(|op| {
            op.status = status;
            op.completed_at = Some(Utc::now());
            op.error_message = error_message;
            if status == OperationStatus::Failed {
                op.steps_failed
                    .extend(failed_step.filter(|step| !op.steps_failed.contains(step)));
            } else {
                op.progress = 100;
                op.phase = Phase::Finalization;
            }
            op.clone()
        });
        if let Err(e) = self.engine.store().put_operation(&op).await {
            tracing::warn!(error = %e, "could not record the operation");
        }
        if let Some(peer) = self.peer.as_deref() {
            if let Ok(store) = self.engine.store_of(peer) {
                let _ = store.put_operation(&op).await;
            }
        }
        self.observer.on_update(&op);
        op
    }
}
