//! The operation lifecycle: the one API every front-end (the CLI, the Python module, the OSC
//! plugin, Horizon, an engine service) drives a long operation through.
//!
//! 1. [`Protector::submit`] validates an [`OperationRequest`] and records it `pending`, with
//!    what to run, in the local store. Every refusal comes back here, at once, and records
//!    nothing.
//! 2. [`Protector::run`] (or [`Protector::start`], which spawns it) runs a submitted
//!    operation, in this process or in any other that shares the store: a detached worker,
//!    a service. Its future is `Send + 'static` and owns its arguments; progress arrives as
//!    owned [`Operation`] records through a [`ProgressReceiver`].
//! 3. [`Protector::wait`] and [`Protector::watch`] follow an operation that another process
//!    runs; [`Protector::cancel`] asks it to stop (a submitted one ends at once, a running one
//!    stops at its next step and rolls back); [`Protector::recover_operation`] ends one whose
//!    process died; [`Protector::operation`] and [`Protector::operations`] show them.
//!
//! What to run is kept in the operation's journal (a [`JournalKind::Submitted`] entry, written
//! before the `pending` record), so whichever process runs it needs nothing but its id.

use std::future::Future;
use std::time::Duration;

use chrono::Utc;
use futures::Stream;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::progress::{progress_channel, ProgressReceiver};
use super::{
    FailbackRequest, FailoverRequest, ProgressObserver, Protector, SiteFailoverRequest,
    TestFailoverRequest,
};
use crate::error::{Error, ErrorKind, Hint, Result};
use crate::model::{Operation, OperationStatus, OperationType};
use crate::plan::{Plan, SiteFailoverPlan};
use crate::store::{JournalEntry, JournalKind, LockAttempt};

/// A long operation to run, with everything it needs (owned, serializable: it is what the
/// store keeps for whichever process runs it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OperationRequest {
    /// Planned or unplanned failover of a protection group (name or id).
    Failover {
        /// The protection group.
        group: String,
        /// How.
        request: FailoverRequest,
    },
    /// Failback of a protection group to its original primary.
    Failback {
        /// The protection group.
        group: String,
        /// How.
        request: FailbackRequest,
    },
    /// A DR drill of a protection group.
    TestFailover {
        /// The protection group.
        group: String,
        /// How.
        request: TestFailoverRequest,
    },
    /// Removes a drill's copies.
    TestFailoverCleanup {
        /// The protection group.
        group: String,
    },
    /// Every protection group of a failed site.
    SiteFailover {
        /// The failed site.
        site: String,
        /// How.
        request: SiteFailoverRequest,
    },
}

impl OperationRequest {
    /// The kind of operation it records.
    pub fn operation_type(&self) -> OperationType {
        match self {
            OperationRequest::Failover { .. } => OperationType::Failover,
            OperationRequest::Failback { .. } => OperationType::Failback,
            OperationRequest::TestFailover { .. } => OperationType::TestFailover,
            OperationRequest::TestFailoverCleanup { .. } => OperationType::TestCleanup,
            OperationRequest::SiteFailover { .. } => OperationType::SiteFailover,
        }
    }

    /// A short title, such as `failover prod-web-app` or `site failover site-a`.
    pub fn title(&self) -> String {
        match self {
            OperationRequest::Failover { group, .. } => format!("failover {group}"),
            OperationRequest::Failback { group, .. } => format!("failback {group}"),
            OperationRequest::TestFailover { group, .. } => format!("test failover {group}"),
            OperationRequest::TestFailoverCleanup { group } => {
                format!("test failover cleanup {group}")
            }
            OperationRequest::SiteFailover { site, .. } => format!("site failover {site}"),
        }
    }
}

/// What [`Protector::submit`] recorded.
#[derive(Debug, Clone)]
pub struct Submitted {
    /// The `pending` record.
    pub operation: Operation,
    /// The plan made and validated now (failover and failback), for display: its recovery
    /// point is the data at risk. An unplanned failover runs exactly this plan, a planned one
    /// too unless, when it runs, the group's metadata changed or a site does not answer (it
    /// plans again then); a failback plans again.
    pub plan: Option<Plan>,
    /// For an unplanned site failover, every group's plan made now: each one's recovery point
    /// is that group's data at risk, reported before anything runs (the site failover plans
    /// each group again when its turn comes).
    pub site_plan: Option<SiteFailoverPlan>,
}

/// The journal detail of a [`JournalKind::Submitted`] entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SubmittedDetail {
    request: OperationRequest,
    #[serde(default)]
    plan: Option<Plan>,
}

const SUBMITTED_STEP: &str = "submitted";
const CANCEL_STEP: &str = "cancel_requested";

/// An operation running on a task of its own ([`Protector::start`]).
#[derive(Debug)]
pub struct RunningOperation {
    id: Uuid,
    progress: Option<ProgressReceiver>,
    task: tokio::task::JoinHandle<Result<Operation>>,
}

impl RunningOperation {
    /// The operation's id.
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// Its progress, once (`None` when taken before).
    pub fn take_progress(&mut self) -> Option<ProgressReceiver> {
        self.progress.take()
    }

    /// Waits for it to end: its final record, or why it was refused.
    pub async fn wait(self) -> Result<Operation> {
        match self.task.await {
            Ok(result) => result,
            Err(e) => Err(Error::unexpected(format!(
                "the run of operation op-{} ended abnormally: {e}",
                self.id
            ))),
        }
    }
}

/// How often [`Protector::wait`] and [`Protector::watch`] read the record: the engine's poll
/// interval, at least 20 ms (a simulator's engine polls back to back).
fn follow_interval(engine: &Protector) -> Duration {
    engine
        .options()
        .poll
        .interval
        .max(Duration::from_millis(20))
}

fn entry(
    operation_id: Uuid,
    step: &str,
    kind: JournalKind,
    detail: serde_json::Value,
) -> JournalEntry {
    JournalEntry {
        operation_id,
        seq: 0,
        step: step.to_string(),
        kind,
        idempotency_key: String::new(),
        detail,
        at: Utc::now(),
    }
}

impl Protector {
    /// Whether operations submitted here are run by the local site's protector-engine
    /// workers (the local store is the site's protector-api), so that a front-end follows
    /// them ([`Protector::watch`], [`Protector::wait`]) instead of running them
    /// ([`Protector::run`]).
    pub fn operations_run_on_site(&self) -> bool {
        self.store().resumes_operations()
    }

    /// Validates `request` and records it as a `pending` operation in the local store, with
    /// what to run: [`Protector::run`] (here or in another process) runs it by id.
    ///
    /// Every refusal the operation makes before it starts comes back here (the group or
    /// site does not exist or is not the caller's, another operation runs on the group, the
    /// plan has errors, replication is not healthy for a planned failover, the role is
    /// missing for a site failover, a drill's pre-flight refuses: an unmapped network,
    /// nothing replicated yet), and nothing is recorded then.
    pub async fn submit(&self, request: OperationRequest) -> Result<Submitted> {
        // One operation: each site's Keystone is asked once whether it answers.
        let (operation, request, plan, site_plan) = self.for_operation().admit(request).await?;
        // A failover runs the plan checked now: an unplanned one exactly (its data at risk was
        // reported), a planned one (and a failback) unless the group changed meanwhile or a
        // site stopped answering (then it plans again).
        let detail = SubmittedDetail {
            request,
            plan: plan.clone().filter(|_| {
                matches!(
                    operation.operation_type,
                    OperationType::Failover | OperationType::Failback
                )
            }),
        };
        let detail = serde_json::to_value(&detail).map_err(|e| {
            Error::unexpected(format!(
                "cannot record the request of op-{}: {e}",
                operation.id
            ))
        })?;
        // What to run first: a pending record always has it.
        self.store()
            .append_journal(&entry(
                operation.id,
                SUBMITTED_STEP,
                JournalKind::Submitted,
                detail,
            ))
            .await?;
        self.store().put_operation(&operation).await?;
        Ok(Submitted {
            operation,
            plan,
            site_plan,
        })
    }

    /// Runs the submitted operation `id` to its end and returns its final record
    /// (`completed`, `partial` or `failed`), reporting every change to `progress`.
    ///
    /// `progress` is any observer that owns what it uses, most simply the sending half of a
    /// [`progress_channel`].
    ///
    /// `Err` when it was refused before it started (its record is then marked `failed` with
    /// the reason, so that no record stays pending), when `id` is not a pending operation of
    /// the caller's, or when another process runs it. The future owns what it uses
    /// (`Send + 'static`): a binding or a worker may spawn it or hold it across awaits.
    pub fn run(
        &self,
        id: Uuid,
        progress: impl ProgressObserver + 'static,
    ) -> impl Future<Output = Result<Operation>> + Send + 'static {
        let engine = self.clone();
        async move { engine.run_submitted(id, progress).await }
    }

    /// [`Protector::run`] on a task of its own (needs a Tokio runtime).
    pub fn start(&self, id: Uuid) -> RunningOperation {
        let (tx, rx) = progress_channel();
        RunningOperation {
            id,
            progress: Some(rx),
            task: tokio::spawn(self.run(id, tx)),
        }
    }

    async fn run_submitted(&self, id: Uuid, progress: impl ProgressObserver) -> Result<Operation> {
        let op = self.operation(&id.to_string()).await?;
        if op.status != OperationStatus::Pending {
            return Err(Error::conflict(format!(
                "operation op-{id} is {}, not pending: only a submitted operation can be run",
                op.status.as_str()
            ))
            .with_hint(Hint::FollowOperation {
                operation: format!("op-{id}"),
            }));
        }
        let journal = self.store().list_journal(&id).await?;
        let submitted = journal
            .iter()
            .find(|e| e.kind == JournalKind::Submitted)
            .map(|e| serde_json::from_value::<SubmittedDetail>(e.detail.clone()));
        let detail = match submitted {
            Some(Ok(detail)) => detail,
            Some(Err(e)) => {
                let message = format!(
                    "the request recorded for operation op-{id} cannot be read ({e}): nothing was started; submit it again"
                );
                self.mark_refused(&id, &message).await?;
                return Err(Error::new(ErrorKind::ConfigInvalid, message));
            }
            None => {
                let message = format!(
                    "operation op-{id} has no recorded request (it was not submitted): nothing was started; submit it again"
                );
                self.mark_refused(&id, &message).await?;
                return Err(Error::invalid(message));
            }
        };
        if journal
            .iter()
            .any(|e| e.kind == JournalKind::CancelRequested)
        {
            return self.end_cancelled(&id).await;
        }
        // One operation: each site's Keystone is asked once, at the start, whether it answers.
        let result = self.for_operation().dispatch(id, detail, &progress).await;
        match result {
            Ok(op) => Ok(op),
            Err(e) => {
                if let Err(store_error) = self.mark_refused(&id, &e.to_string()).await {
                    tracing::error!(error = %store_error, "could not mark operation op-{id} failed");
                }
                Err(e)
            }
        }
    }

    async fn dispatch(
        &self,
        id: Uuid,
        detail: SubmittedDetail,
        observer: &dyn ProgressObserver,
    ) -> Result<Operation> {
        let operation_id = Some(id);
        match detail.request {
            OperationRequest::Failover { group, request } => {
                let submitted = match detail.plan {
                    Some(plan) => self.recheck_submitted(plan, id).await?,
                    None => None,
                };
                match submitted {
                    Some(plan) => self.execute_failover(&plan, observer).await,
                    None => {
                        let request = FailoverRequest {
                            operation_id,
                            ..request
                        };
                        self.failover(&group, request, observer).await
                    }
                }
            }
            OperationRequest::Failback { group, request } => {
                // Like a planned failover: the admitted plan while the group is unchanged and
                // both sites answer, else planned again.
                let submitted = match detail.plan {
                    Some(plan) => self.recheck_submitted(plan, id).await?,
                    None => None,
                };
                match submitted {
                    Some(plan) => {
                        let _owner = self.own_operation(&plan.id).await?;
                        self.run_failback(&plan, request.reverse_replication, observer, None)
                            .await
                    }
                    None => {
                        let request = FailbackRequest {
                            operation_id,
                            ..request
                        };
                        self.failback(&group, request, observer).await
                    }
                }
            }
            OperationRequest::TestFailover { group, request } => {
                let request = TestFailoverRequest {
                    operation_id,
                    ..request
                };
                self.test_failover(&group, request, observer).await
            }
            OperationRequest::TestFailoverCleanup { group } => {
                self.test_failover_cleanup(&group, operation_id, observer)
                    .await
            }
            OperationRequest::SiteFailover { site, request } => {
                let request = SiteFailoverRequest {
                    operation_id,
                    ..request
                };
                self.site_failover(&site, request, observer).await
            }
        }
    }

    /// Waits until operation `id` (run by this or another process) has ended and returns its
    /// final record. `Err(Conflict)` when it is running but no process runs it any more
    /// (recover it), `Err(Timeout)` when `timeout` passes first.
    pub async fn wait(&self, id: &str, timeout: Option<Duration>) -> Result<Operation> {
        let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
        loop {
            let op = self.operation(id).await?;
            if op.status.is_terminal() {
                return Ok(op);
            }
            if op.status == OperationStatus::Running
                && !self.store().resumes_operations()
                && self.is_orphaned(&op.id).await?
            {
                // Read again: it may have ended just before its lock was released.
                let again = self.operation(id).await?;
                if again.status.is_terminal() {
                    return Ok(again);
                }
                return Err(Error::conflict(format!(
                    "no process runs operation op-{} any more (it was interrupted at {}%)",
                    op.id, op.progress
                ))
                .with_hint(Hint::RecoverOperation {
                    operation: format!("op-{}", op.id),
                }));
            }
            if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
                return Err(Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "operation op-{} is still {} at {}%: it goes on",
                        op.id,
                        op.status.as_str(),
                        op.progress,
                    ),
                )
                .with_hint(Hint::FollowOperation {
                    operation: format!("op-{}", op.id),
                }));
            }
            tokio::time::sleep(follow_interval(self)).await;
        }
    }

    /// The record of operation `id` every time it changes (read from the store, so it follows
    /// a run in any process), ending after its final record. An error (the record became
    /// unreadable, the run was orphaned) is the stream's last item.
    pub fn watch(&self, id: &str) -> impl Stream<Item = Result<Operation>> + Send + 'static {
        let engine = self.clone();
        let id = id.to_string();
        futures::stream::unfold(
            (engine, id, None::<Operation>, false),
            |(engine, id, last, done)| async move {
                if done {
                    return None;
                }
                loop {
                    let op = match engine.operation(&id).await {
                        Ok(op) => op,
                        Err(e) => return Some((Err(e), (engine, id, last, true))),
                    };
                    if last.as_ref() != Some(&op) {
                        let ended = op.status.is_terminal();
                        return Some((Ok(op.clone()), (engine, id, Some(op), ended)));
                    }
                    // A site's workers take over an operation whose worker died.
                    if op.status == OperationStatus::Running && !engine.store().resumes_operations()
                    {
                        match engine.is_orphaned(&op.id).await {
                            Ok(false) => {}
                            Ok(true) => {
                                let again = engine.operation(&id).await;
                                if matches!(&again, Ok(a) if a != &op) {
                                    continue;
                                }
                                let e = Error::conflict(format!(
                                    "no process runs operation op-{} any more",
                                    op.id
                                ))
                                .with_hint(
                                    Hint::RecoverOperation {
                                        operation: format!("op-{}", op.id),
                                    },
                                );
                                return Some((Err(e), (engine, id, last, true)));
                            }
                            Err(e) => return Some((Err(e), (engine, id, last, true))),
                        }
                    }
                    tokio::time::sleep(follow_interval(&engine)).await;
                }
            },
        )
    }

    /// Asks operation `id` to stop. A submitted operation that has not started ends `failed`
    /// at once ("cancelled before it started", nothing changed) and its record is returned; a
    /// running one stops at its next step and rolls back like a failed run (its record is
    /// returned as it is now: follow it with [`Protector::wait`]). A site failover starts no
    /// further group; groups already running finish.
    ///
    /// `Err(Conflict)` for an operation that has ended or whose process is gone (recover it).
    pub async fn cancel(&self, id: &str) -> Result<Operation> {
        let op = self.operation(id).await?;
        if op.status.is_terminal() {
            return Err(Error::conflict(format!(
                "operation op-{} has already ended ({}): nothing to cancel",
                op.id,
                op.status.as_str()
            )));
        }
        match self.store().lock_operation(&op.id).await? {
            LockAttempt::Acquired(_owner) => {
                let op = self.operation(id).await?;
                match op.status {
                    OperationStatus::Pending => {
                        self.request_cancel(&op.id).await?;
                        self.finish_cancelled(op).await
                    }
                    OperationStatus::Running => Err(Error::conflict(format!(
                        "no process runs operation op-{} any more (it was interrupted at {}%): there is nothing to stop",
                        op.id, op.progress
                    ))
                    .with_hint(Hint::RecoverOperation {
                        operation: format!("op-{}", op.id),
                    })),
                    _ => Err(Error::conflict(format!(
                        "operation op-{} has already ended ({}): nothing to cancel",
                        op.id,
                        op.status.as_str()
                    ))),
                }
            }
            LockAttempt::Held { .. } => {
                self.request_cancel(&op.id).await?;
                self.operation(id).await
            }
        }
    }

    async fn request_cancel(&self, id: &Uuid) -> Result<()> {
        let detail = serde_json::json!({ "requested_at": Utc::now() });
        self.store()
            .append_journal(&entry(
                *id,
                CANCEL_STEP,
                JournalKind::CancelRequested,
                detail,
            ))
            .await?;
        Ok(())
    }

    /// What operation `id` was submitted to do, when it was submitted through
    /// [`Protector::submit`] (and the record is readable).
    pub(super) async fn submitted_request(&self, id: &Uuid) -> Result<Option<OperationRequest>> {
        Ok(self
            .store()
            .list_journal(id)
            .await?
            .into_iter()
            .find(|e| e.kind == JournalKind::Submitted)
            .and_then(|e| serde_json::from_value::<SubmittedDetail>(e.detail).ok())
            .map(|d| d.request))
    }

    /// Ends the pending operation `id` cancelled before it started, under its lock.
    async fn end_cancelled(&self, id: &Uuid) -> Result<Operation> {
        match self.store().lock_operation(id).await? {
            LockAttempt::Acquired(_owner) => {
                let op = self.operation(&id.to_string()).await?;
                if op.status.is_terminal() {
                    return Ok(op);
                }
                self.finish_cancelled(op).await
            }
            LockAttempt::Held { .. } => Err(Error::conflict(format!(
                "operation op-{id} is held by another process: nothing was started"
            ))),
        }
    }

    async fn finish_cancelled(&self, mut op: Operation) -> Result<Operation> {
        op.status = OperationStatus::Failed;
        op.completed_at = Some(Utc::now());
        op.error_message = Some(format!(
            "cancelled before the {} started: nothing was changed",
            op.operation_type.as_str()
        ));
        self.store().put_operation(&op).await?;
        Ok(op)
    }

    /// Marks the operation `id` failed with `message` unless it already ended.
    async fn mark_failed(&self, id: &Uuid, message: &str) -> Result<()> {
        let store = self.store();
        if let Some(mut op) = store.get_operation(id).await? {
            if !op.status.is_terminal() {
                op.status = OperationStatus::Failed;
                op.error_message = Some(message.to_string());
                op.completed_at = Some(Utc::now());
                store.put_operation(&op).await?;
            }
        }
        Ok(())
    }

    /// Marks the operation `id`, refused before it started, failed with `message`, unless
    /// another process holds its lock: that one (a run or a recovery of it) owns the record.
    async fn mark_refused(&self, id: &Uuid, message: &str) -> Result<()> {
        match self.store().lock_operation(id).await? {
            LockAttempt::Acquired(_owner) => self.mark_failed(id, message).await,
            LockAttempt::Held { .. } => Ok(()),
        }
    }

    /// Ends `op` as `failed` when it is a `pending` record whose run ended before it began
    /// the operation (killed, or its machine went down): nothing runs it and nothing was
    /// changed, so there is nothing to roll back. Returns the ended record, or `None` when
    /// `op` is not such a record. Call it under the operation's lock.
    ///
    /// A run records its operation `running` before its first side effect; a record still
    /// `pending` was never begun unless a side effect was journaled under its id or its group
    /// names it (a drill commits its record to the group before it publishes the operation).
    pub(super) async fn fail_unstarted(&self, mut op: Operation) -> Result<Option<Operation>> {
        if op.status != OperationStatus::Pending {
            return Ok(None);
        }
        let store = self.store();
        if store
            .list_journal(&op.id)
            .await?
            .iter()
            .any(|e| e.kind.is_side_effect())
        {
            return Ok(None);
        }
        if let Some(group_id) = op.group_id {
            if let Some(group) = store.get_group(&group_id).await? {
                let drill = group.test_failover.as_ref().map(|r| r.operation_id);
                if group.active_operation_id == Some(op.id) || drill == Some(op.id) {
                    return Ok(None);
                }
            }
        }
        op.status = OperationStatus::Failed;
        op.completed_at = Some(Utc::now());
        op.error_message = Some(format!(
            "the process that was to run it ended before the {} started: nothing was changed; recovered by marking it failed: start it again",
            op.operation_type.as_str(),
        ));
        store.put_operation(&op).await?;
        Ok(Some(op))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::FailoverMode;

    fn assert_send_static<T: Send + 'static>(_: &T) {}

    /// The lifecycle's futures and streams can be spawned or held by a binding across awaits.
    #[allow(dead_code)]
    fn lifecycle_futures_are_send_and_static(engine: &Protector) {
        let run = engine.run(Uuid::nil(), super::super::ProgressSender::discard());
        assert_send_static(&run);
        let watch = engine.watch("op-x");
        assert_send_static(&watch);
        let wait = {
            let engine = engine.clone();
            async move { engine.wait("op-x", None).await }
        };
        assert_send_static(&wait);
        let submit = {
            let engine = engine.clone();
            async move {
                engine
                    .submit(OperationRequest::TestFailoverCleanup { group: "g".into() })
                    .await
            }
        };
        assert_send_static(&submit);
        let cancel = {
            let engine = engine.clone();
            async move { engine.cancel("op-x").await }
        };
        assert_send_static(&cancel);
    }

    #[test]
    fn requests_round_trip_through_json() {
        let request = OperationRequest::SiteFailover {
            site: "site-a".into(),
            request: SiteFailoverRequest {
                mode: FailoverMode::Planned,
                concurrency: 4,
                groups: vec!["web".into()],
                operation_id: None,
            },
        };
        let json = serde_json::to_value(&request).unwrap();
        assert_eq!(json["kind"], "site_failover");
        let back: OperationRequest = serde_json::from_value(json).unwrap();
        assert_eq!(back, request);
        assert_eq!(request.title(), "site failover site-a");
        assert_eq!(request.operation_type(), OperationType::SiteFailover);
    }
}
