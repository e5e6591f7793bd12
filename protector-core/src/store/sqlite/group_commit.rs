//! Journal writes of concurrent runs in one commit.
//!
//! A run writes an intent before each side effect and waits for it to be committed; at 1,000
//! VMs hundreds of runs do so at the same moment, and a commit (its log frames, their
//! checksums, the write to the file) cost more than the rows themselves. Each write is queued;
//! whoever commits next takes every write queued by then, in queue order, in one transaction,
//! and tells each writer. A writer returns only once its own write is committed (or failed),
//! so "written before the side effect" holds as before. When a shared commit fails, each of its
//! writes is tried alone, so one write's failure is not another's.

use std::collections::HashMap;
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

/// Writes `batch` in one immediate transaction, in order. An operation's row written more
/// than once in the batch (its run's member chains each finishing a step) is written once, as
/// its last write has it: no one reads the transaction's intermediate states.
fn commit(conn: &mut Connection, batch: &[Queued]) -> rusqlite::Result<()> {
    let last: HashMap<&str, usize> = batch
        .iter()
        .enumerate()
        .filter_map(|(n, write)| Some((write.operation.as_ref()?.id.as_str(), n)))
        .collect();
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    for (n, write) in batch.iter().enumerate() {
        for (operation_id, json) in &write.entries {
            write_journal(&tx, operation_id, json)?;
        }
        if let Some(row) = &write.operation {
            if last.get(row.id.as_str()) == Some(&n) {
                write_operation_row(&tx, row)?;
            }
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

    /// An operation written several times in one commit ends as its last write has it, in
    /// its JSON and in the columns the store selects on; a rewrite with the same columns
    /// updates the row in place (same rowid), one that changes them is found by them.
    #[tokio::test]
    async fn an_operation_written_many_times_ends_as_its_last_write() {
        use crate::model::OperationStatus;
        use crate::store::fixtures::{at, operation};
        use crate::store::OperationQuery;

        let store = super::super::fixtures::store();
        let rowid = |store: &SqliteStore| -> i64 {
            store
                .conn()
                .query_row(
                    "SELECT rowid FROM operations WHERE id = ?1",
                    [id(7).to_string()],
                    |row| row.get(0),
                )
                .unwrap()
        };
        let mut op = operation(7, at(1));
        store.record(&[], Some(&op)).await.unwrap();
        let first = rowid(&store);

        // Progress only: in place.
        op.progress = 40;
        store.record(&[], Some(&op)).await.unwrap();
        assert_eq!(rowid(&store), first);
        assert_eq!(
            store.get_operation(&id(7)).await.unwrap().unwrap().progress,
            40
        );

        // Three writes in one commit, the status changing in the last.
        let mut outcomes = Vec::new();
        for (progress, status) in [
            (50, OperationStatus::Running),
            (60, OperationStatus::Running),
            (100, OperationStatus::Completed),
        ] {
            op.progress = progress;
            op.status = status;
            let (done, outcome) = oneshot::channel();
            store.commits.push(Queued {
                what: format!("writing operation {}", op.id),
                entries: vec![(
                    op.id,
                    serde_json::to_string(&journal(op.id, "s", JournalKind::Intent)).unwrap(),
                )],
                operation: Some(OperationRow::new("test", &op).unwrap()),
                done,
            });
            outcomes.push(outcome);
        }
        store.commit_queued();
        for outcome in outcomes {
            outcome.await.unwrap().unwrap();
        }
        let stored = store.get_operation(&id(7)).await.unwrap().unwrap();
        assert_eq!(
            (stored.progress, stored.status),
            (100, OperationStatus::Completed)
        );
        assert_eq!(store.list_journal(&id(7)).await.unwrap().len(), 3);
        let completed = OperationQuery::of_group(id(1)).in_statuses(&[OperationStatus::Completed]);
        let found = store.query_operations(&completed).await.unwrap();
        assert_eq!(found.iter().map(|o| o.id).collect::<Vec<_>>(), vec![id(7)]);
        let running = OperationQuery::of_group(id(1)).in_statuses(&[OperationStatus::Running]);
        assert!(store.query_operations(&running).await.unwrap().is_empty());
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
