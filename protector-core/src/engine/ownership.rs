//! Who owns an operation: the process that runs it holds its lock in the local store
//! ([`Store::lock_operation`](crate::store::Store::lock_operation)) from before its first side
//! effect to its end, and recovery takes the same lock before it looks at the record. A
//! `running` record whose lock is free belongs to a process that is gone.

use uuid::Uuid;

use super::Protector;
use crate::error::{Error, Result};
use crate::store::{LockAttempt, OperationLock};

fn holder(pid: Option<u32>) -> String {
    pid.map_or_else(|| "pid unknown".to_string(), |pid| format!("pid {pid}"))
}

impl Protector {
    /// Takes the lock of operation `id` (`op-<uuid>` or bare) for acting on its behalf, such as
    /// recovering it; the operation is this caller's until the lock is dropped.
    ///
    /// Refused with `Conflict` while another holder has it (its process still runs the
    /// operation, or recovers it); nothing is changed then.
    pub async fn lock_operation(&self, id: &Uuid) -> Result<OperationLock> {
        match self.store().lock_operation(id).await? {
            LockAttempt::Acquired(lock) => Ok(lock),
            LockAttempt::Held { pid } => Err(Error::conflict(format!(
                "operation op-{id} is still running in another process ({}): wait for it to finish or stop that process first; nothing was changed",
                holder(pid)
            ))),
        }
    }

    /// Whether the lock of operation `id` is free: a record that is not finished then belongs
    /// to a process that is gone. Takes the lock for a moment.
    pub async fn is_orphaned(&self, id: &Uuid) -> Result<bool> {
        Ok(matches!(
            self.store().lock_operation(id).await?,
            LockAttempt::Acquired(_)
        ))
    }

    /// The lock a run of operation `id` holds to its end, taken before its first side effect.
    ///
    /// Refused with `Conflict` when another process holds it (a second run of the same
    /// operation, or its recovery), and when the operation's record has already ended (it was
    /// recovered or superseded before this run began): nothing is started then.
    pub(super) async fn own_operation(&self, id: &Uuid) -> Result<OperationLock> {
        let lock = match self.store().lock_operation(id).await? {
            LockAttempt::Acquired(lock) => lock,
            LockAttempt::Held { pid } => {
                return Err(Error::conflict(format!(
                    "operation op-{id} is already held by another process ({}) that runs or recovers it: nothing was started",
                    holder(pid)
                )))
            }
        };
        if let Some(op) = self.store().get_operation(id).await? {
            if op.status.is_terminal() {
                return Err(Error::conflict(format!(
                    "operation op-{id} has already ended ({}): nothing was started; start a new operation",
                    op.status.as_str()
                )));
            }
        }
        Ok(lock)
    }
}
