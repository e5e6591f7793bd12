//! The worker loop: scan, claim, run, renew, release.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use protector_core::engine::NoProgress;
use protector_core::model::{Operation, OperationStatus};
use protector_core::store::{LeaseAttempt, Store};
use protector_core::{ErrorKind, Protector, Result};
use tokio::task::JoinSet;
use tokio::time::Instant;
use uuid::Uuid;

/// The longest pause between scans while the store does not answer.
const MAX_STORE_BACKOFF: Duration = Duration::from_secs(30);

/// A worker's tunables (`[engine]` of protector.conf).
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Operations run at once by this worker (`[engine] workers`, default 4).
    pub workers: usize,
    /// How long a claim lives without renewal (`[engine] lease_seconds`, default 30 s); it is
    /// renewed every third of it.
    pub lease: Duration,
    /// Pause between two scans for work (`[engine] poll_interval`, default 2 s). This is the
    /// latency from a submission to its claim, not a synchronisation: claims are atomic in the
    /// store whatever the timing.
    pub poll_interval: Duration,
    /// How long a shutdown waits for running operations (`[engine] shutdown_timeout`,
    /// default 60 s).
    pub shutdown_timeout: Duration,
    /// Who claims (`<host>:<pid>:<short uuid>`), unique per worker.
    pub holder: String,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            workers: 4,
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_secs(2),
            shutdown_timeout: Duration::from_secs(60),
            holder: default_holder(),
        }
    }
}

/// `<host>:<pid>:<8 hex digits>`.
fn default_holder() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string());
    let short = Uuid::new_v4().simple().to_string();
    format!("{host}:{}:{}", std::process::id(), &short[..8])
}

/// How a worker stopped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Operations that ended (or were given back) while it ran.
    pub finished: usize,
    /// Operations still running at the shutdown timeout: left to their leases, another worker
    /// resumes them from their journals.
    pub abandoned: Vec<Uuid>,
    /// Scans for work that failed because the store did not answer (each followed by a
    /// longer pause, then another scan).
    pub store_errors: usize,
}

/// Builds the engine an operation runs with, when it is claimed (so that sites registered
/// since the worker started, and their protector-api, are known).
pub type EngineSource = Arc<
    dyn Fn() -> std::pin::Pin<Box<dyn Future<Output = Result<Protector>> + Send>> + Send + Sync,
>;

/// One worker process's loop over the site's store: see the module documentation.
#[derive(Clone)]
pub struct Worker {
    protector: Protector,
    store: Arc<dyn Store>,
    options: WorkerOptions,
    source: Option<EngineSource>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("protector", &self.protector)
            .field("store", &self.store)
            .field("options", &self.options)
            .field("source", &self.source.is_some())
            .finish()
    }
}

/// What came of one claimed operation.
#[derive(Debug)]
enum Outcome {
    /// It ran to an end (or was refused and recorded so).
    Ended,
    /// Another process runs it or recovers it: try again later.
    Busy,
    /// It failed without an end being recorded (the store or a site did not answer): try again
    /// later, from its journal.
    Failed,
}

impl Worker {
    /// A worker running `protector`'s operations, claimed in `store` (the local site's, the
    /// same as `protector`'s).
    pub fn new(protector: Protector, store: Arc<dyn Store>, options: WorkerOptions) -> Worker {
        Worker {
            protector,
            store,
            options,
            source: None,
        }
    }

    /// Builds the engine of each claimed operation with `source` (falling back to the one
    /// given to [`Worker::new`] when it fails).
    #[must_use]
    pub fn with_engine_source(mut self, source: EngineSource) -> Worker {
        self.source = Some(source);
        self
    }

    /// Who this worker claims as.
    pub fn holder(&self) -> &str {
        &self.options.holder
    }

    /// Claims and runs operations until `shutdown` resolves, then stops claiming and waits for
    /// the running ones up to the shutdown timeout. Never ends because the store or a site does
    /// not answer: it logs, backs off and keeps going.
    pub async fn run_until(&self, shutdown: impl Future<Output = ()>) -> ShutdownReport {
        tokio::pin!(shutdown);
        let mut tasks: JoinSet<(Uuid, Outcome)> = JoinSet::new();
        let mut in_flight: HashSet<Uuid> = HashSet::new();
        // Operations another process holds (or that failed), not tried again before then.
        let mut later: HashMap<Uuid, Instant> = HashMap::new();
        let mut pause = self.options.poll_interval;
        let mut report = ShutdownReport::default();
        tracing::info!(
            holder = %self.options.holder,
            site = %self.protector.local_site(),
            workers = self.options.workers,
            "protector-engine worker started"
        );
        loop {
            if tasks.len() < self.options.workers {
                match self
                    .claim(self.options.workers - tasks.len(), &in_flight, &mut later)
                    .await
                {
                    Ok(claimed) => {
                        pause = self.options.poll_interval;
                        for op in claimed {
                            in_flight.insert(op.id);
                            tasks.spawn(self.clone().work(op));
                        }
                    }
                    Err(e) => {
                        report.store_errors += 1;
                        pause = (pause * 2).min(MAX_STORE_BACKOFF.max(self.options.poll_interval));
                        tracing::warn!(
                            error = %e,
                            retry_in_ms = pause.as_millis() as u64,
                            "cannot look for work in the site's store: retrying"
                        );
                    }
                }
            }
            tokio::select! {
                () = &mut shutdown => break,
                Some(joined) = tasks.join_next(), if !tasks.is_empty() => {
                    self.settle(joined, &mut in_flight, &mut later, &mut report);
                }
                () = tokio::time::sleep(pause) => {}
            }
        }

        tracing::info!(
            running = tasks.len(),
            timeout_s = self.options.shutdown_timeout.as_secs_f64(),
            "stopping: claiming nothing more, waiting for the running operations"
        );
        let deadline = Instant::now() + self.options.shutdown_timeout;
        while !tasks.is_empty() {
            match tokio::time::timeout_at(deadline, tasks.join_next()).await {
                Ok(Some(joined)) => self.settle(joined, &mut in_flight, &mut later, &mut report),
                Ok(None) => break,
                Err(_) => {
                    // Dropping their futures ends them where they are, as a killed process
                    // would: their journals and leases let another worker resume them.
                    tasks.shutdown().await;
                    report.abandoned = in_flight.iter().copied().collect();
                    report.abandoned.sort();
                    tracing::warn!(
                        operations = ?report.abandoned,
                        "shutdown timeout: leaving running operations to their leases; another \
                         worker resumes them"
                    );
                    break;
                }
            }
        }
        report
    }

    fn settle(
        &self,
        joined: std::result::Result<(Uuid, Outcome), tokio::task::JoinError>,
        in_flight: &mut HashSet<Uuid>,
        later: &mut HashMap<Uuid, Instant>,
        report: &mut ShutdownReport,
    ) {
        let (id, outcome) = match joined {
            Ok(done) => done,
            Err(e) => {
                // A panic in a run: its id is lost with the task; the lease lapses and the
                // operation is resumed from its journal.
                tracing::error!(error = %e, "an operation's task ended abnormally");
                return;
            }
        };
        in_flight.remove(&id);
        report.finished += 1;
        if matches!(outcome, Outcome::Busy | Outcome::Failed) {
            later.insert(id, Instant::now() + self.options.lease);
        }
    }

    /// Claims up to `room` operations: `pending` ones and `running` ones whose lease lapsed,
    /// oldest first. Those this worker runs, and those in `later`, are skipped.
    async fn claim(
        &self,
        room: usize,
        in_flight: &HashSet<Uuid>,
        later: &mut HashMap<Uuid, Instant>,
    ) -> Result<Vec<Operation>> {
        let now = Instant::now();
        later.retain(|_, until| *until > now);
        let mut candidates: Vec<Operation> = self
            .store
            .list_operations()
            .await?
            .into_iter()
            .filter(|op| {
                matches!(
                    op.status,
                    OperationStatus::Pending | OperationStatus::Running
                ) && !in_flight.contains(&op.id)
                    && !later.contains_key(&op.id)
            })
            .collect();
        candidates.sort_by_key(|op| op.started_at);
        let mut claimed = Vec::new();
        for op in candidates {
            if claimed.len() == room {
                break;
            }
            let attempt = self
                .store
                .acquire_lease(&op.id, &self.options.holder, self.options.lease)
                .await;
            match attempt {
                // What is claimed already runs; the rest waits for the next scan.
                Err(e) if !claimed.is_empty() => {
                    tracing::warn!(error = %e, "cannot claim more operations now");
                    break;
                }
                Err(e) => return Err(e),
                Ok(LeaseAttempt::Acquired(_)) => {
                    tracing::info!(
                        operation = %format!("op-{}", op.id),
                        status = op.status.as_str(),
                        "claimed"
                    );
                    claimed.push(op);
                }
                Ok(LeaseAttempt::Held(_)) => {}
            }
        }
        Ok(claimed)
    }

    /// Runs (or resumes) one claimed operation, renewing its lease meanwhile, and releases it.
    async fn work(self, op: Operation) -> (Uuid, Outcome) {
        let id = op.id;
        let name = format!("op-{id}");
        let renewing = tokio::spawn(renew(
            self.store.clone(),
            id,
            self.options.holder.clone(),
            self.options.lease,
        ));
        let protector = match &self.source {
            Some(source) => match source().await {
                Ok(protector) => protector,
                Err(e) => {
                    tracing::warn!(operation = %name, error = %e, "cannot refresh the engine; running with the one built at start");
                    self.protector.clone()
                }
            },
            None => self.protector.clone(),
        };
        let result = if op.status == OperationStatus::Pending {
            tracing::info!(operation = %name, "running");
            protector.run(id, NoProgress).await
        } else {
            tracing::info!(operation = %name, "resuming: its worker stopped renewing its lease");
            protector.recover_operation(&name).await
        };
        renewing.abort();
        let outcome = match result {
            Ok(done) => {
                tracing::info!(operation = %name, status = done.status.as_str(), "ended");
                Outcome::Ended
            }
            Err(e) if e.kind() == ErrorKind::Conflict => {
                tracing::info!(operation = %name, reason = %e, "left to the process that holds it");
                Outcome::Busy
            }
            Err(e) => match self.store.get_operation(&id).await {
                Ok(Some(now)) if now.status.is_terminal() => {
                    tracing::warn!(operation = %name, status = now.status.as_str(), error = %e, "ended with an error");
                    Outcome::Ended
                }
                _ => {
                    tracing::warn!(operation = %name, error = %e, "did not end: it will be resumed from its journal");
                    Outcome::Failed
                }
            },
        };
        if let Err(e) = self.store.release_lease(&id, &self.options.holder).await {
            tracing::warn!(operation = %name, error = %e, "cannot release the lease: it lapses on its own");
        }
        (id, outcome)
    }
}

/// Renews `holder`'s lease of `id` every third of `lease` until aborted or until the lease is
/// lost (another worker took it after it lapsed: the operation's lock still keeps it from
/// running the operation a second time).
async fn renew(store: Arc<dyn Store>, id: Uuid, holder: String, lease: Duration) {
    let mut every = tokio::time::interval_at(Instant::now() + lease / 3, lease / 3);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        match store.renew_lease(&id, &holder, lease).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(
                    operation = %format!("op-{id}"),
                    "lost the lease (it lapsed and another worker took it): its lock still \
                     keeps a second runner out; no longer renewing"
                );
                return;
            }
            Err(e) => tracing::warn!(
                operation = %format!("op-{id}"),
                error = %e,
                "cannot renew the lease: retrying"
            ),
        }
    }
}
