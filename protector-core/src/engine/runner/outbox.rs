//! A run's writes to its store, grouped into commits.
//!
//! A run of many members writes a journal intent before each side effect and its operation
//! record after each step, and its members' chains do so at the same moments (a hundred stops
//! start together, two hundred copies follow one snapshot). A commit (its log frames, its
//! locks) is most of what a write costs, and the engine's CPU per API call was a third store
//! writes. So the chains share commits:
//!
//! - an outcome (`done`) waits in the outbox and goes with the next commit: a kill between a
//!   side effect and its outcome's write leaves an intent without outcome whenever it is
//!   written, and a resumed run looks at the target then;
//! - an intent or a save asks for a commit and returns once its commit is done, so an intent
//!   is still in the store before its side effect starts;
//! - the first chain to ask leads: it lets the other ready chains of the same moment add
//!   theirs (one yield to the executor), then commits everything waiting, again while more
//!   waits. The others wait for the commit that holds theirs.
//!
//! A leader dropped half-way (its run abandoned) hands over: what it had not taken waits for
//! the next leader, and a commit it had taken counts as failed for the chains waiting on it.

use std::collections::BTreeMap;
use std::sync::Mutex;

use futures::future::BoxFuture;
use tokio::sync::watch;

use super::lock;
use super::run::Run;
use crate::error::{Error, ErrorKind, Result};
use crate::store::JournalEntry;

/// How many failed commits the outbox remembers for the chains waiting on them.
const FAILED_KEPT: usize = 64;

/// What waits to be written, and the commits done (see the module documentation).
#[derive(Debug)]
pub(in crate::engine) struct Outbox {
    state: Mutex<State>,
    /// The number of the next commit to be done: commits below it are done (or failed).
    done: watch::Sender<u64>,
}

#[derive(Debug, Default)]
struct State {
    /// Journal entries waiting, in the order they were journaled.
    entries: Vec<JournalEntry>,
    /// Whether the operation record waits to be written.
    save: bool,
    /// Whether a chain leads (commits for the others).
    leading: bool,
    /// The number of the commit that takes what waits now.
    next: u64,
    /// The commit the leader is doing, if any.
    writing: Option<u64>,
    /// Commits that failed, by number: the kind and message of their error.
    failed: BTreeMap<u64, (ErrorKind, String)>,
}

impl Default for Outbox {
    fn default() -> Self {
        Outbox {
            state: Mutex::default(),
            done: watch::channel(0).0,
        }
    }
}

impl Outbox {
    /// Queues `entry` without asking for a commit: it goes with the next one.
    pub(in crate::engine) fn defer(&self, entry: JournalEntry) {
        lock(&self.state).entries.push(entry);
    }
}

/// The lead of a chain: when dropped before it is done, the lead passes on (see the module
/// documentation).
struct Lead<'a> {
    outbox: &'a Outbox,
    done: bool,
}

impl Drop for Lead<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut state = lock(&self.outbox.state);
        state.leading = false;
        if let Some(number) = state.writing.take() {
            state.failed.insert(
                number,
                (
                    ErrorKind::Unexpected,
                    "the run stopped while writing its journal".to_string(),
                ),
            );
            drop(state);
            self.outbox.done.send_replace(number + 1);
        } else {
            drop(state);
            // Wakes the waiting chains: one of them leads now.
            self.outbox.done.send_modify(|_| {});
        }
    }
}

/// Writes journal entries and, when asked, the operation record, in one commit.
pub(in crate::engine) type Write<'a> =
    dyn Fn(Vec<JournalEntry>, bool) -> BoxFuture<'a, Result<()>> + Send + Sync + 'a;

impl Outbox {
    /// Has `entry` (when given) and, when `save`, the operation record written by `write`,
    /// with every entry waiting, in a commit shared with the other chains; returns once that
    /// commit is done.
    pub(in crate::engine) async fn commit(
        &self,
        entry: Option<JournalEntry>,
        save: bool,
        write: &Write<'_>,
    ) -> Result<()> {
        let mut done = self.done.subscribe();
        let number = {
            let mut state = lock(&self.state);
            if entry.is_none() && !save && state.entries.is_empty() {
                return Ok(());
            }
            state.entries.extend(entry);
            state.save |= save;
            state.next
        };
        loop {
            if *done.borrow_and_update() > number {
                break;
            }
            let lead = {
                let mut state = lock(&self.state);
                !std::mem::replace(&mut state.leading, true)
            };
            if lead {
                self.lead(write).await;
                continue;
            }
            // The sender lives as long as the outbox.
            let _ = done.changed().await;
        }
        match lock(&self.state).failed.get(&number) {
            Some((kind, message)) => Err(Error::new(*kind, message.clone())),
            None => Ok(()),
        }
    }

    /// Commits what waits until nothing does (see the module documentation).
    async fn lead(&self, write: &Write<'_>) {
        let mut lead = Lead {
            outbox: self,
            done: false,
        };
        tokio::task::yield_now().await;
        loop {
            let (entries, save, number) = {
                let mut state = lock(&self.state);
                if state.entries.is_empty() && !state.save {
                    state.leading = false;
                    lead.done = true;
                    return;
                }
                let number = state.next;
                state.next += 1;
                state.writing = Some(number);
                (
                    std::mem::take(&mut state.entries),
                    std::mem::take(&mut state.save),
                    number,
                )
            };
            let written = write(entries, save).await;
            {
                let mut state = lock(&self.state);
                state.writing = None;
                if let Err(e) = &written {
                    tracing::warn!(error = %e, "could not write the journal or the operation");
                    state
                        .failed
                        .insert(number, (e.kind(), e.message().to_string()));
                    while state.failed.len() > FAILED_KEPT {
                        state.failed.pop_first();
                    }
                }
            }
            self.done.send_replace(number + 1);
        }
    }
}

impl Run<'_> {
    /// [`Outbox::commit`] to this run's store; after a save the observer hears of the
    /// record written.
    pub(in crate::engine) async fn commit(
        &self,
        entry: Option<JournalEntry>,
        save: bool,
    ) -> Result<()> {
        let write = |entries: Vec<JournalEntry>, save: bool| -> BoxFuture<'_, Result<()>> {
            Box::pin(async move {
                let op = save.then(|| self.snapshot());
                self.engine.store().record(&entries, op.as_ref()).await?;
                if let Some(op) = &op {
                    self.observer.on_update(op);
                }
                Ok(())
            })
        };
        self.outbox.commit(entry, save, &write).await
    }
}

#[cfg(test)]
#[path = "outbox_tests.rs"]
mod tests;
