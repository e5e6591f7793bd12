//! The one tokio runtime of the process, and the two ways Python waits on it.
//!
//! The runtime is created on the first call that needs it, never at import: WSGI servers
//! import the application and then `fork()`, and a runtime's worker threads do not survive a
//! fork. It remembers the pid that made it; a call from a forked child builds a fresh one (the
//! parent's is leaked in the child: dropping it would wait for threads that do not exist there).
//!
//! Blocking calls run their future with the GIL released ([`Python::detach`]) in short slices,
//! checking for signals between them so that Ctrl-C interrupts a wait. `_async` twins hand
//! their future to pyo3-async-runtimes' generic bridge, spawned on this same runtime.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pyo3::prelude::*;
use pyo3_async_runtimes::generic::{ContextExt, JoinError, Runtime};
use pyo3_async_runtimes::TaskLocals;

/// How long a blocking call keeps the GIL released before it looks for a pending signal.
const SIGNAL_CHECK: Duration = Duration::from_millis(100);

static RUNTIME: Mutex<Option<(u32, Arc<tokio::runtime::Runtime>)>> = Mutex::new(None);

/// The process's runtime, created now if this process (this pid) has none yet.
pub fn runtime() -> Arc<tokio::runtime::Runtime> {
    let pid = std::process::id();
    let mut slot = RUNTIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((owner, runtime)) = slot.as_ref() {
        if *owner == pid {
            return runtime.clone();
        }
    }
    if let Some((_, inherited)) = slot.take() {
        // A runtime inherited through fork(): its threads live only in the parent.
        std::mem::forget(inherited);
    }
    let runtime = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .thread_name("protector")
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("cannot start protector's async runtime: {e}")),
    );
    *slot = Some((pid, runtime.clone()));
    runtime
}

/// Runs `future` to its end on the runtime with the GIL released; a pending signal (Ctrl-C)
/// raises its exception here and drops the future.
pub fn block_on<F, T>(py: Python<'_>, future: F) -> PyResult<T>
where
    F: Future<Output = T> + Send,
    T: Send,
{
    let runtime = runtime();
    let mut future = std::pin::pin!(future);
    loop {
        let step = py.detach(|| {
            runtime.block_on(async { tokio::time::timeout(SIGNAL_CHECK, &mut future).await })
        });
        match step {
            Ok(value) => return Ok(value),
            Err(_elapsed) => py.check_signals()?,
        }
    }
}

/// Runs `future` as a task of its own and waits for it. When the caller stops waiting (Ctrl-C
/// in a blocking call, a cancelled asyncio task) the engine's work still goes on to its end:
/// a call is never dropped halfway through its side effects (a Cinder group made on one site
/// and no record of it). A task that ends abnormally is an `unexpected` error.
pub async fn detached<T, F>(future: F) -> protector_core::Result<T>
where
    F: Future<Output = protector_core::Result<T>> + Send + 'static,
    T: Send + 'static,
{
    match runtime().spawn(future).await {
        Ok(result) => result,
        Err(e) => Err(protector_core::Error::unexpected(format!(
            "protector's engine task ended abnormally: {e}"
        ))),
    }
}

/// The runtime as pyo3-async-runtimes sees it (for `future_into_py`).
pub struct ProtectorRuntime;

/// A task that ended abnormally.
pub struct TaskJoinError(tokio::task::JoinError);

impl JoinError for TaskJoinError {
    fn is_panic(&self) -> bool {
        self.0.is_panic()
    }

    fn into_panic(self) -> Box<dyn std::any::Any + Send + 'static> {
        self.0.into_panic()
    }
}

type TaskHandle = Pin<Box<dyn Future<Output = Result<(), TaskJoinError>> + Send>>;

impl Runtime for ProtectorRuntime {
    type JoinError = TaskJoinError;
    type JoinHandle = TaskHandle;

    fn spawn<F>(fut: F) -> Self::JoinHandle
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let handle = runtime().spawn(fut);
        Box::pin(async move { handle.await.map_err(TaskJoinError) })
    }

    fn spawn_blocking<F>(f: F) -> Self::JoinHandle
    where
        F: FnOnce() + Send + 'static,
    {
        let handle = runtime().spawn_blocking(f);
        Box::pin(async move { handle.await.map_err(TaskJoinError) })
    }
}

tokio::task_local! {
    static TASK_LOCALS: std::cell::OnceCell<TaskLocals>;
}

impl ContextExt for ProtectorRuntime {
    fn scope<F, R>(locals: TaskLocals, fut: F) -> Pin<Box<dyn Future<Output = R> + Send>>
    where
        F: Future<Output = R> + Send + 'static,
    {
        let cell = std::cell::OnceCell::new();
        cell.set(locals).ok();
        Box::pin(TASK_LOCALS.scope(cell, fut))
    }

    fn get_task_locals() -> Option<TaskLocals> {
        TASK_LOCALS
            .try_with(|cell| cell.get().cloned())
            .unwrap_or_default()
    }
}

/// An awaitable of `future`'s result, run on the runtime.
pub fn awaitable<'py, F, T>(py: Python<'py>, future: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = PyResult<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    pyo3_async_runtimes::generic::future_into_py::<ProtectorRuntime, _, T>(py, future)
}
