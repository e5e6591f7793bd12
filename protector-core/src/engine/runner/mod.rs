//! The shared execution machinery of operations, which every operation module builds on and
//! which depends on none of them:
//!
//! - [`Run`] (`run`): one execution of a plan (failover, failback) with its operation record,
//!   steps and progress, journal, clients and [`Undo`] list; the steps the two share (`steps`)
//!   and how a run ends, compensation included (`rollback`);
//! - [`Tracker`] (`tracker`): the same bookkeeping for operations without a plan (the DR
//!   drill and its cleanup), with its own step list ([`StepSpec`]);
//! - continuing an interrupted run (`resume`): what it did observed by its journal and
//!   tags, steps adopting what it made ([`Resumed`], [`RunRecord`]);
//! - [`each_bounded`] (`bounded`): bounded concurrency over members;
//! - [`lock`], and the check for a requested cancel that every step makes.

mod bounded;
mod chains;
mod resume;
mod rollback;
mod run;
mod steps;
mod tracker;

use std::sync::{Mutex, MutexGuard, PoisonError};

use uuid::Uuid;

pub(in crate::engine) use bounded::each_bounded;
pub(in crate::engine) use chains::ChainSteps;
pub(in crate::engine) use resume::{Made, Resumed, RunRecord};
pub(in crate::engine) use run::{Run, Undo};
pub(in crate::engine) use tracker::{StepSpec, Tracker};

use crate::engine::Protector;
use crate::error::{Error, Result};
use crate::store::JournalKind;

/// Locks `m`, whatever a panicking holder left behind.
pub(in crate::engine) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Protector {
    /// Whether someone asked operation `id` to stop ([`Protector::cancel`]); checked by runs
    /// before each step.
    pub(in crate::engine) async fn cancel_requested(&self, id: &Uuid) -> Result<bool> {
        self.store()
            .journal_has(id, JournalKind::CancelRequested)
            .await
    }

    /// `Err` that stops a run whose cancel was requested, before `step`.
    pub(in crate::engine) async fn stop_if_cancelled(&self, id: &Uuid, step: &str) -> Result<()> {
        if self.cancel_requested(id).await? {
            return Err(Error::conflict(format!(
                "operation op-{id} was cancelled before step '{step}'"
            )));
        }
        Ok(())
    }
}
