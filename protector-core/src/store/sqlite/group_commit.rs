//! Journal writes of concurrent runs in one commit.
//!
//! A run writes an intent before each side effect and waits for it to be committed; at 1,000
//! VMs hundreds of runs do so at the same moment, and a commit (its log frames, their
//! checksums, the write to the file) cost more than the rows themselves. Each write is queued;
//! whoever commits next takes every write queued by then, in queue order, in one transaction,
//! and tells each writer. A writer returns only once its own write is committed (or failed),
//! so "written before the side effect" holds as before. When a shared commit fails, each of its
//! writes is tried alone, so one write's failure is not another's.

use std::sync::{Mutex, PoisonError};

use rusqlite::Connection;
use tokio::sync::oneshot;
use uuid::Uuid;

use super::records::{write_journal, write_operation_row};
use super::{sql_error, SqliteStore};
use crate::error::{Error, Result};
use crate::store::shared::OperationRow;

/// One [`crate::store::Store::record`] call, serialized, waiting for its commit.
pub(super) struct Queued {
    /// What is written, for errors.
    pub what: String,
    /// Journal entries: operation id and JSON.
    pub entries: Vec<(Uuid, String)>,
    /// The operation's row.
    pub operation: Option<OperationRow>,
    pub done: oneshot::Sender<Result<()>>,
}

/// Writes waiting for the next commit.
#[derive(Default)]
pub(super) struct CommitQueue {
    queued: Mutex<Vec<Queued>>,
}

impl CommitQueue {
    fn push(&self, write: Queued) {
        self.queued
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(write);
    }

    fn take(&self) -> Vec<Queued> {
        std::mem::take(&mut *self.queued.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl SqliteStore {
    /// Queues `write`, lets the other tasks of this moment queue theirs, commits whatever is
    /// queued (unless another caller took it already) and returns the outcome of `write`.
    pub(super) async fn record_queued(
        &self,
        what: String,
        entries: Vec<(Uuid, String)>,
        operation: Option<OperationRow>,
    ) -> Result<()> {
        let (done, outcome) = oneshot::channel();
        self.commits.push(Queued {
            what: what.clone(),
            entries,
            operation,
            done,
        });
        tokio::task::yield_now().await;
        self.commit_queued();
        // Committed by now: by this call, or by the one that took it while holding the
        // connection, which it held until it told every writer.
        outcome.await.unwrap_or_else(|_| {
            Err(Error::unexpected(format!(
                "{what}: the commit it was part of did not finish"
            )))
        })
    }

    /// Commits every queued write (holding the connection from before taking them until
    /// every writer is told).
    fn commit_queued(&self) {
        let mut conn = self.conn();
        let batch = self.commits.take();
        if batch.is_empty() {
            return;
        }
        tracing::debug!(writes = batch.len(), "committing journal writes");
        match commit(&mut conn, &batch) {
            Ok(()) => {
                for write in batch {
                    let _ = write.done.send(Ok(()));
                }
            }
            Err(err) if batch.len() == 1 => {
                if let Some(write) = batch.into_iter().next() {
                    let _ = write.done.send(Err(sql_error(&write.what, err)));
                }
            }
            Err(_) => {
                for write in batch {
                    let outcome = commit(&mut conn, std::slice::from_ref(&write))
                        .map_err(|err| sql_error(&write.what, err));
                    let _ = write.done.send(outcome);
                }
            }
        }
    }
}

/// Writes `batch` in one immediate transaction, in order.
fn commit(conn: &mut Connection, batch: &[Queued]) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    for write in batch {
        for (operation_id, json) in &write.entries {
            write_journal(&tx, operation_id, json)?;
        }
        if let Some(row) = &write.operation {
            write_operation_row(&tx, row)?;
        }
    }
    tx.commit()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::store::fixtures::{id, journal};
    use crate::store::{JournalKind, Store};

    /// Runs writing at once each get their own entries committed, in the order each wrote
    /// them.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_writes_are_all_committed_in_each_writers_order() {
        let store = Arc::new(super::super::fixtures::store());
        let tasks: Vec<_> = (0..64u128)
            .map(|task| {
                let store = store.clone();
                tokio::spawn(async move {
                    for i in 0..5 {
                        let entry =
                            journal(id(task % 8), &format!("t{task}-{i}"), JournalKind::Intent);
                        store.record(&[entry], None).await.unwrap();
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        for operation in 0..8u128 {
            let steps: Vec<String> = store
                .list_journal(&id(operation))
                .await
                .unwrap()
                .into_iter()
                .map(|e| e.step)
                .collect();
            assert_eq!(steps.len(), 8 * 5, "operation {operation}");
            for task in (operation..64).step_by(8) {
                let mine: Vec<&String> = steps
                    .iter()
                    .filter(|s| s.starts_with(&format!("t{task}-")))
                    .collect();
                let expected: Vec<String> = (0..5).map(|i| format!("t{task}-{i}")).collect();
                assert_eq!(mine, expected.iter().collect::<Vec<_>>(), "task {task}");
            }
        }
    }

    /// A write the database refuses fails alone: the others queued with it are committed.
    #[tokio::test]
    async fn a_refused_write_fails_alone() {
        let store = super::super::fixtures::store();
        store
            .conn()
            .execute_batch(&format!(
                "CREATE TEMP TRIGGER refuse BEFORE INSERT ON journal \
                 WHEN NEW.operation_id = '{}' BEGIN SELECT RAISE(ABORT, 'refused'); END;",
                id(2)
            ))
            .unwrap();
        let mut outcomes = Vec::new();
        for n in 1..=3 {
            let (done, outcome) = oneshot::channel();
            let entry = journal(id(n), "stop", JournalKind::Intent);
            store.commits.push(Queued {
                what: format!("appending to the journal of operation {}", id(n)),
                entries: vec![(id(n), serde_json::to_string(&entry).unwrap())],
                operation: None,
                done,
            });
            outcomes.push(outcome);
        }
        store.commit_queued();
        let outcomes: Vec<Result<()>> = futures::future::join_all(outcomes)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert!(outcomes[0].is_ok() && outcomes[2].is_ok(), "{outcomes:?}");
        let refused = outcomes[1].as_ref().unwrap_err();
        assert!(
            refused.to_string().contains(&id(2).to_string()),
            "{refused}"
        );
        for (n, written) in [(1, 1), (2, 0), (3, 1)] {
            assert_eq!(store.list_journal(&id(n)).await.unwrap().len(), written);
        }
    }
}
