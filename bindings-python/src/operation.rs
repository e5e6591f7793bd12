//! `OperationHandle`: a long operation started from Python (or followed by id). It waits (with
//! a timeout; Ctrl-C interrupts), iterates progress (sync and async) and cancels.
//!
//! A task on the runtime drives the run (or follows the record another process writes) and
//! publishes the latest record and, at the end, the outcome on a `watch` channel; Python reads
//! that channel on its own thread, so a progress callback never runs on a tokio worker.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use pyo3::exceptions::{PyStopAsyncIteration, PyStopIteration};
use pyo3::prelude::*;
use tokio::sync::{watch, Mutex};
use uuid::Uuid;

use protector_core::engine::{progress_channel, Submitted};
use protector_core::error::{Error, ErrorKind, Hint};
use protector_core::model::Operation;
use protector_core::plan::Plan;
use protector_core::Protector;

use crate::convert::to_record;
use crate::errors::{engine_error, panic_error};
use crate::runtime::{awaitable, block_on, runtime};

/// What the driving task has seen of the operation.
#[derive(Clone)]
struct RunState {
    latest: Operation,
    outcome: Option<Result<Operation, Arc<Error>>>,
}

/// A long operation: started by a `Protector` method, or followed by id.
#[pyclass(frozen, module = "protector._protector")]
pub struct OperationHandle {
    engine: Protector,
    id: Uuid,
    plan: Option<Plan>,
    state: watch::Receiver<RunState>,
}

impl OperationHandle {
    /// Runs the submitted operation on the runtime and returns its handle.
    pub fn run(engine: Protector, submitted: Submitted) -> OperationHandle {
        let id = submitted.operation.id;
        let (tx, rx) = watch::channel(RunState {
            latest: submitted.operation.clone(),
            outcome: None,
        });
        let (progress, mut updates) = progress_channel();
        let run = AssertUnwindSafe(engine.run(id, progress)).catch_unwind();
        runtime().spawn(async move {
            let mut run = std::pin::pin!(run);
            let result = loop {
                tokio::select! {
                    result = &mut run => break result,
                    Some(op) = updates.next() => { tx.send_modify(|s| s.latest = op); }
                }
            };
            while let Some(op) = updates.next().await {
                tx.send_modify(|s| s.latest = op);
            }
            let outcome = match result {
                Ok(result) => result.map_err(Arc::new),
                Err(panic) => Err(Arc::new(panic_error(panic))),
            };
            tx.send_modify(|s| {
                if let Ok(op) = &outcome {
                    s.latest = op.clone();
                }
                s.outcome = Some(outcome);
            });
        });
        OperationHandle {
            engine,
            id,
            plan: submitted.plan,
            state: rx,
        }
    }

    /// Follows the submitted operation, run by the site's protector-engine workers.
    pub fn follow_submitted(engine: Protector, submitted: Submitted) -> OperationHandle {
        let mut handle = OperationHandle::follow(engine, submitted.operation);
        handle.plan = submitted.plan;
        handle
    }

    /// Follows operation `current` (run by this or any other process) through the store.
    pub fn follow(engine: Protector, current: Operation) -> OperationHandle {
        let id = current.id;
        let (tx, rx) = watch::channel(RunState {
            latest: current,
            outcome: None,
        });
        let records = engine.watch(&id.to_string());
        runtime().spawn(async move {
            let mut records = std::pin::pin!(records);
            while let Some(record) = records.next().await {
                match record {
                    Ok(op) => {
                        let ended = op.status.is_terminal();
                        tx.send_modify(|s| {
                            s.latest = op.clone();
                            if ended {
                                s.outcome = Some(Ok(op));
                            }
                        });
                        if ended {
                            return;
                        }
                    }
                    Err(e) => {
                        tx.send_modify(|s| s.outcome = Some(Err(Arc::new(e))));
                        return;
                    }
                }
            }
        });
        OperationHandle {
            engine,
            id,
            plan: None,
            state: rx,
        }
    }

    fn timeout_error(&self, latest: &Operation) -> Error {
        Error::new(
            ErrorKind::Timeout,
            format!(
                "operation op-{} is still {} at {}% when the wait ended: it goes on",
                self.id,
                latest.status.as_str(),
                latest.progress
            ),
        )
        .with_context("operation", format!("op-{}", self.id))
        .with_hint(Hint::FollowOperation {
            operation: format!("op-{}", self.id),
        })
    }
}

fn outcome_to_py(py: Python<'_>, outcome: &Result<Operation, Arc<Error>>) -> PyResult<Py<PyAny>> {
    match outcome {
        Ok(op) => to_record(py, "Operation", op),
        Err(e) => Err(engine_error(py, e)),
    }
}

#[pymethods]
impl OperationHandle {
    /// The operation's id (a UUID, as `str`).
    #[getter]
    fn id(&self) -> String {
        self.id.to_string()
    }

    /// The plan made when it was submitted (failover and failback), else `None`. An
    /// unplanned failover's `plan.recovery_point` is the data at risk.
    #[getter]
    fn plan(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match &self.plan {
            Some(plan) => to_record(py, "Plan", plan),
            None => Ok(py.None()),
        }
    }

    /// The latest record seen, without waiting.
    fn status(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        to_record(py, "Operation", &self.state.borrow().latest)
    }

    /// Whether it has ended.
    fn done(&self) -> bool {
        self.state.borrow().outcome.is_some()
    }

    /// Waits for the end and returns the final record. `on_progress(operation)` is called on
    /// this thread with every new record; Ctrl-C interrupts the wait (the operation goes on).
    /// Raises `protector.TimeoutError` when `timeout` seconds pass first, and the error of a
    /// run refused before it started.
    #[pyo3(signature = (timeout=None, on_progress=None))]
    fn wait(
        &self,
        py: Python<'_>,
        timeout: Option<f64>,
        on_progress: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let deadline = match timeout {
            Some(t) if !t.is_finite() || t < 0.0 => {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "timeout must be a non-negative number of seconds, got {t}"
                )))
            }
            Some(t) => Some(std::time::Instant::now() + Duration::from_secs_f64(t)),
            None => None,
        };
        let mut rx = self.state.clone();
        let mut reported: Option<Operation> = None;
        loop {
            let state = rx.borrow_and_update().clone();
            if let Some(callback) = &on_progress {
                if reported.as_ref() != Some(&state.latest) {
                    callback.call1((to_record(py, "Operation", &state.latest)?,))?;
                    reported = Some(state.latest.clone());
                }
            }
            if let Some(outcome) = &state.outcome {
                return outcome_to_py(py, outcome);
            }
            let slice = match deadline {
                Some(d) => {
                    let left = d.saturating_duration_since(std::time::Instant::now());
                    if left.is_zero() {
                        return Err(engine_error(py, &self.timeout_error(&state.latest)));
                    }
                    left
                }
                None => Duration::MAX,
            };
            block_on(py, async {
                let _ = tokio::time::timeout(slice, rx.changed()).await;
            })?;
        }
    }

    /// `wait` as an awaitable.
    #[pyo3(signature = (timeout=None))]
    fn wait_async<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut rx = self.state.clone();
        let timeout_error = self.timeout_error(&rx.borrow().latest);
        let limit = timeout.map(Duration::from_secs_f64);
        awaitable(py, async move {
            let ended = rx.wait_for(|s| s.outcome.is_some());
            let state = match limit {
                Some(limit) => match tokio::time::timeout(limit, ended).await {
                    Ok(state) => state.map(|s| s.clone()),
                    Err(_) => return Python::attach(|py| Err(engine_error(py, &timeout_error))),
                },
                None => ended.await.map(|s| s.clone()),
            };
            let state = state.map_err(|_| {
                pyo3::exceptions::PyRuntimeError::new_err("the operation's runner went away")
            })?;
            Python::attach(|py| {
                outcome_to_py(py, state.outcome.as_ref().expect("waited for the outcome"))
            })
        })
    }

    /// Every new record until the end (iterate with `for`, or `async for` on the handle).
    fn progress(&self) -> ProgressIterator {
        ProgressIterator {
            state: Arc::new(Mutex::new(Cursor {
                rx: self.state.clone(),
                last: None,
                finished: false,
            })),
        }
    }

    fn __aiter__(&self) -> ProgressIterator {
        self.progress()
    }

    /// Asks it to stop: a submitted one ends at once, a running one stops at its next step
    /// and rolls back. Returns the record as it is now.
    fn cancel(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let engine = self.engine.clone();
        let id = self.id.to_string();
        let result = block_on(py, async move { engine.cancel(&id).await })?;
        match result {
            Ok(op) => to_record(py, "Operation", &op),
            Err(e) => Err(engine_error(py, &e)),
        }
    }

    fn __repr__(&self) -> String {
        let state = self.state.borrow();
        format!(
            "<OperationHandle op-{} {} {}%>",
            self.id,
            state.latest.status.as_str(),
            state.latest.progress
        )
    }
}

struct Cursor {
    rx: watch::Receiver<RunState>,
    last: Option<Operation>,
    finished: bool,
}

/// The next new record, `Ok(None)` after the last one.
async fn next_record(cursor: Arc<Mutex<Cursor>>) -> Result<Option<Operation>, Arc<Error>> {
    let mut cursor = cursor.lock().await;
    loop {
        if cursor.finished {
            return Ok(None);
        }
        let state = cursor.rx.borrow_and_update().clone();
        if cursor.last.as_ref() != Some(&state.latest) {
            cursor.last = Some(state.latest.clone());
            return Ok(Some(state.latest));
        }
        if let Some(outcome) = state.outcome {
            cursor.finished = true;
            return outcome.map(|_| None);
        }
        if cursor.rx.changed().await.is_err() {
            cursor.finished = true;
            return Ok(None);
        }
    }
}

/// The records of an operation as they change (sync and async iterator).
#[pyclass(frozen, module = "protector._protector")]
pub struct ProgressIterator {
    state: Arc<Mutex<Cursor>>,
}

#[pymethods]
impl ProgressIterator {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match block_on(py, next_record(self.state.clone()))? {
            Ok(Some(op)) => to_record(py, "Operation", &op),
            Ok(None) => Err(PyStopIteration::new_err(())),
            Err(e) => Err(engine_error(py, &e)),
        }
    }

    fn __aiter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __anext__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let state = self.state.clone();
        awaitable(py, async move {
            let next = next_record(state).await;
            Python::attach(|py| match next {
                Ok(Some(op)) => to_record(py, "Operation", &op),
                Ok(None) => Err(PyStopAsyncIteration::new_err(())),
                Err(e) => Err(engine_error(py, &e)),
            })
        })
    }
}
