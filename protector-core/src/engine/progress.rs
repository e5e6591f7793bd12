//! Live progress of operations.

use tokio::sync::mpsc;

use crate::model::Operation;

/// Receives the operation record every time it changes (progress, step done, status).
///
/// Called inline by the engine: implementations must be quick and must not block.
pub trait ProgressObserver: Send + Sync {
    /// The operation changed.
    fn on_update(&self, operation: &Operation);
}

impl<F> ProgressObserver for F
where
    F: Fn(&Operation) + Send + Sync,
{
    fn on_update(&self, operation: &Operation) {
        self(operation)
    }
}

/// Ignores progress.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl ProgressObserver for NoProgress {
    fn on_update(&self, _operation: &Operation) {}
}

/// The sending half of a progress channel: hand it to [`Protector::run`](super::Protector::run).
#[derive(Debug, Clone)]
pub struct ProgressSender(mpsc::UnboundedSender<Operation>);

/// The receiving half of a progress channel: the operation record every time it changes, in
/// order (a record a step, so a run sends a few hundred at most; sending never blocks the run).
#[derive(Debug)]
pub struct ProgressReceiver(mpsc::UnboundedReceiver<Operation>);

/// A new progress channel.
pub fn progress_channel() -> (ProgressSender, ProgressReceiver) {
    let (tx, rx) = mpsc::unbounded_channel();
    (ProgressSender(tx), ProgressReceiver(rx))
}

impl ProgressSender {
    /// A sender nobody listens to (what it is sent is dropped at once).
    pub fn discard() -> ProgressSender {
        progress_channel().0
    }
}

impl ProgressObserver for ProgressSender {
    fn on_update(&self, operation: &Operation) {
        // Nobody listens any more: the run goes on regardless.
        let _ = self.0.send(operation.clone());
    }
}

impl ProgressReceiver {
    /// The next record; `None` once the run has ended and every record was read.
    pub async fn next(&mut self) -> Option<Operation> {
        self.0.recv().await
    }
}
