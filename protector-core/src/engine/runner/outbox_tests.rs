use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::poll;
use uuid::Uuid;

use super::*;
use crate::store::JournalKind;

fn entry(step: &str, kind: JournalKind) -> JournalEntry {
    JournalEntry {
        operation_id: Uuid::nil(),
        seq: 0,
        step: step.to_string(),
        kind,
        idempotency_key: step.to_string(),
        detail: serde_json::Value::Null,
        at: chrono::Utc::now(),
    }
}

/// A store's commits as the outbox made them: the steps of each, and whether it saved.
#[derive(Default)]
struct Commits {
    made: Mutex<Vec<(Vec<String>, bool)>>,
    /// Calls answered so far; the ones listed in `fail_calls` fail, and `stall_call` never
    /// answers.
    calls: AtomicUsize,
    fail_calls: Vec<usize>,
    stall_call: Option<usize>,
}

impl Commits {
    fn made(&self) -> Vec<(Vec<String>, bool)> {
        lock(&self.made).clone()
    }

    fn steps(&self) -> Vec<String> {
        self.made()
            .into_iter()
            .flat_map(|(steps, _)| steps)
            .collect()
    }
}

fn writer(
    commits: &Arc<Commits>,
) -> impl Fn(Vec<JournalEntry>, bool) -> BoxFuture<'static, Result<()>> {
    let commits = commits.clone();
    move |entries, save| {
        let commits = commits.clone();
        Box::pin(async move {
            let call = commits.calls.fetch_add(1, Ordering::SeqCst);
            if commits.stall_call == Some(call) {
                futures::future::pending::<()>().await;
            }
            if commits.fail_calls.contains(&call) {
                return Err(Error::unavailable("the store is locked"));
            }
            let steps = entries.into_iter().map(|e| e.step).collect();
            lock(&commits.made).push((steps, save));
            Ok(())
        })
    }
}

#[tokio::test]
async fn the_chains_of_one_moment_share_one_commit_and_each_returns_with_its_entry_written() {
    let outbox = Outbox::default();
    let commits = Arc::new(Commits::default());
    let write = writer(&commits);
    let chains = (0..50).map(|i| {
        let (outbox, commits, write) = (&outbox, &commits, &write);
        async move {
            let step = format!("stop_server:vm-{i:02}");
            outbox
                .commit(Some(entry(&step, JournalKind::Intent)), i == 7, write)
                .await
                .unwrap();
            // Written before the side effect would start.
            assert!(commits.steps().contains(&step), "{step} not written");
        }
    });
    futures::future::join_all(chains).await;

    let made = commits.made();
    assert_eq!(made.len(), 1, "one commit for the fifty: {made:?}");
    let (steps, saved) = &made[0];
    let expected: Vec<_> = (0..50).map(|i| format!("stop_server:vm-{i:02}")).collect();
    assert_eq!(steps, &expected);
    assert!(saved, "a save asked by one chain goes with the commit");
}

#[tokio::test]
async fn outcomes_wait_for_the_next_commit_in_order_and_alone_write_nothing() {
    let outbox = Outbox::default();
    let commits = Arc::new(Commits::default());
    let write = writer(&commits);
    outbox.commit(None, false, &write).await.unwrap();
    assert!(commits.made().is_empty(), "nothing waited, nothing written");

    outbox.defer(entry("copy_volume:a", JournalKind::Done));
    outbox.defer(entry("copy_volume:b", JournalKind::Done));
    assert!(commits.made().is_empty(), "an outcome asks for no commit");
    outbox
        .commit(
            Some(entry("manage_volume:a", JournalKind::Intent)),
            false,
            &write,
        )
        .await
        .unwrap();
    // A flush writes what waits.
    outbox.defer(entry("manage_volume:a", JournalKind::Done));
    outbox.commit(None, false, &write).await.unwrap();
    outbox.commit(None, true, &write).await.unwrap();
    assert_eq!(
        commits.made(),
        vec![
            (
                vec![
                    "copy_volume:a".to_string(),
                    "copy_volume:b".to_string(),
                    "manage_volume:a".to_string()
                ],
                false
            ),
            (vec!["manage_volume:a".to_string()], false),
            (vec![], true),
        ]
    );
}

#[tokio::test]
async fn a_failed_commit_fails_the_chains_in_it_with_its_error_and_the_next_one_works() {
    let outbox = Outbox::default();
    let commits = Arc::new(Commits {
        fail_calls: vec![0],
        ..Commits::default()
    });
    let write = writer(&commits);
    let (first, second) = futures::join!(
        outbox.commit(Some(entry("a", JournalKind::Intent)), false, &write),
        outbox.commit(None, true, &write),
    );
    for result in [first, second] {
        let err = result.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable);
        assert_eq!(err.message(), "the store is locked");
    }
    outbox
        .commit(Some(entry("b", JournalKind::Intent)), false, &write)
        .await
        .unwrap();
    assert_eq!(commits.made(), vec![(vec!["b".to_string()], false)]);
}

#[tokio::test]
async fn a_leader_dropped_before_its_commit_hands_over_what_waits() {
    let outbox = Outbox::default();
    let commits = Arc::new(Commits::default());
    let write = writer(&commits);
    let mut leader = Box::pin(outbox.commit(Some(entry("a", JournalKind::Intent)), false, &write));
    let mut follower =
        Box::pin(outbox.commit(Some(entry("b", JournalKind::Intent)), false, &write));
    assert!(
        poll!(&mut leader).is_pending(),
        "the leader lets the others add theirs"
    );
    assert!(poll!(&mut follower).is_pending(), "the follower waits");
    drop(leader);

    follower.await.unwrap();
    assert_eq!(
        commits.made(),
        vec![(vec!["a".to_string(), "b".to_string()], false)],
        "the follower led and wrote both"
    );
}

#[tokio::test]
async fn a_leader_dropped_during_its_commit_fails_the_chains_in_it_and_the_next_one_works() {
    let outbox = Outbox::default();
    let commits = Arc::new(Commits {
        stall_call: Some(0),
        ..Commits::default()
    });
    let write = writer(&commits);
    let mut leader = Box::pin(outbox.commit(Some(entry("a", JournalKind::Intent)), false, &write));
    let mut follower =
        Box::pin(outbox.commit(Some(entry("b", JournalKind::Intent)), false, &write));
    assert!(poll!(&mut leader).is_pending());
    assert!(poll!(&mut follower).is_pending());
    assert!(
        poll!(&mut leader).is_pending(),
        "the leader's commit never ends"
    );
    assert_eq!(commits.calls.load(Ordering::SeqCst), 1);
    drop(leader);

    let err = follower.await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unexpected);
    assert_eq!(err.message(), "the run stopped while writing its journal");
    outbox
        .commit(Some(entry("c", JournalKind::Intent)), false, &write)
        .await
        .unwrap();
    assert_eq!(commits.made(), vec![(vec!["c".to_string()], false)]);
}
