//! Live progress of operations.

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
