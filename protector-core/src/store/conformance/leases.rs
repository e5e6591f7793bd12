//! Operation leases: what every backend must do with them.

use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use super::Fixture;
use crate::store::{Lease, LeaseAttempt, Store};

const LONG: Duration = Duration::from_secs(300);

fn acquired(attempt: LeaseAttempt) -> Lease {
    match attempt {
        LeaseAttempt::Acquired(lease) => lease,
        LeaseAttempt::Held(lease) => panic!("expected the lease, it is held: {lease:?}"),
    }
}

fn held(attempt: LeaseAttempt) -> Lease {
    match attempt {
        LeaseAttempt::Held(lease) => lease,
        LeaseAttempt::Acquired(lease) => panic!("expected a held lease, it was taken: {lease:?}"),
    }
}

/// Tries to take `id` for `holder` until it lapses for its holder and is taken, polling the
/// store; panics after a generous deadline.
async fn take_when_lapsed(s: &dyn Store, id: &Uuid, holder: &str) -> Lease {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let LeaseAttempt::Acquired(lease) = s.acquire_lease(id, holder, LONG).await.unwrap() {
            return lease;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the lease of {id} never lapsed: {:?}",
            s.get_lease(id).await.unwrap()
        );
        // Polling interval, not a synchronisation: the lapse is observed by the store.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn leases_are_taken_held_renewed_and_released(f: Fixture) {
    let (s, other) = (&*f.store, &*f.other);
    let (op, unrelated) = (Uuid::new_v4(), Uuid::new_v4());
    assert_eq!(s.get_lease(&op).await.unwrap(), None);

    let lease = acquired(s.acquire_lease(&op, "host-a:1:w1", LONG).await.unwrap());
    assert_eq!(lease.operation_id, op);
    assert_eq!(lease.holder, "host-a:1:w1");
    assert_eq!(other.get_lease(&op).await.unwrap(), Some(lease.clone()));

    // Held by another, on either handle; the holder's lease is unchanged.
    for store in [s, other] {
        let found = held(store.acquire_lease(&op, "host-b:2:w1", LONG).await.unwrap());
        assert_eq!(found, lease);
    }
    // Another operation is independent.
    acquired(
        other
            .acquire_lease(&unrelated, "host-b:2:w1", LONG)
            .await
            .unwrap(),
    );

    // Renewed by its holder (also by taking it again); refused to another.
    assert!(other.renew_lease(&op, "host-a:1:w1", LONG).await.unwrap());
    let renewed = s.get_lease(&op).await.unwrap().unwrap();
    assert_eq!(renewed.holder, "host-a:1:w1");
    assert!(
        renewed.expires_at >= lease.expires_at,
        "{renewed:?} / {lease:?}"
    );
    let again = acquired(s.acquire_lease(&op, "host-a:1:w1", LONG).await.unwrap());
    assert!(
        again.expires_at >= renewed.expires_at,
        "{again:?} / {renewed:?}"
    );
    assert!(!s.renew_lease(&op, "host-b:2:w1", LONG).await.unwrap());
    assert_eq!(s.get_lease(&op).await.unwrap(), Some(again.clone()));

    // Released by a non-holder: nothing changes.
    other.release_lease(&op, "host-b:2:w1").await.unwrap();
    assert_eq!(s.get_lease(&op).await.unwrap(), Some(again));

    // Released by its holder: gone, free for anyone, and no longer the old holder's.
    other.release_lease(&op, "host-a:1:w1").await.unwrap();
    assert_eq!(s.get_lease(&op).await.unwrap(), None);
    assert!(!s.renew_lease(&op, "host-a:1:w1", LONG).await.unwrap());
    assert_eq!(s.get_lease(&op).await.unwrap(), None);
    let taken = acquired(other.acquire_lease(&op, "host-b:2:w1", LONG).await.unwrap());
    assert_eq!(taken.holder, "host-b:2:w1");
    // Releasing what one does not hold, or what was never taken, succeeds.
    s.release_lease(&op, "host-a:1:w1").await.unwrap();
    s.release_lease(&Uuid::new_v4(), "host-a:1:w1")
        .await
        .unwrap();
    assert_eq!(s.get_lease(&op).await.unwrap(), Some(taken));
    assert_eq!(
        s.get_lease(&unrelated).await.unwrap().unwrap().holder,
        "host-b:2:w1"
    );
}

pub async fn a_lapsed_lease_is_taken_over_and_lost_by_its_old_holder(f: Fixture) {
    let (s, other) = (&*f.store, &*f.other);

    // A lease of no duration lapses at once: deterministic.
    let op = Uuid::new_v4();
    acquired(
        s.acquire_lease(&op, "host-a:1:w1", Duration::ZERO)
            .await
            .unwrap(),
    );
    // Lapsed but not taken: still its holder's, who may renew it.
    assert!(s
        .renew_lease(&op, "host-a:1:w1", Duration::ZERO)
        .await
        .unwrap());
    let taken = acquired(other.acquire_lease(&op, "host-b:2:w1", LONG).await.unwrap());
    assert_eq!(taken.holder, "host-b:2:w1");
    assert!(!s.renew_lease(&op, "host-a:1:w1", LONG).await.unwrap());
    held(s.acquire_lease(&op, "host-a:1:w1", LONG).await.unwrap());

    // A short lease, observed to lapse by polling the store.
    let op = Uuid::new_v4();
    let first = acquired(
        s.acquire_lease(&op, "host-a:1:w1", Duration::from_secs(1))
            .await
            .unwrap(),
    );
    let second = take_when_lapsed(other, &op, "host-b:2:w1").await;
    assert_eq!(second.holder, "host-b:2:w1");
    assert!(
        second.expires_at > first.expires_at,
        "{second:?} / {first:?}"
    );
    // The old holder lost it: renewing is refused, releasing changes nothing.
    assert!(!s.renew_lease(&op, "host-a:1:w1", LONG).await.unwrap());
    s.release_lease(&op, "host-a:1:w1").await.unwrap();
    assert_eq!(s.get_lease(&op).await.unwrap(), Some(second.clone()));
    assert_eq!(
        held(s.acquire_lease(&op, "host-a:1:w1", LONG).await.unwrap()),
        second
    );
}

pub async fn of_concurrent_claimants_exactly_one_gets_the_lease(f: Fixture) {
    for round in 0..5 {
        let op = Uuid::new_v4();
        let mut tasks = Vec::new();
        for n in 0..8 {
            let s: Arc<dyn Store> = if n % 2 == 0 {
                f.store.clone()
            } else {
                f.other.clone()
            };
            tasks.push(tokio::spawn(async move {
                let holder = format!("host-{n}:{n}:w");
                (
                    holder.clone(),
                    s.acquire_lease(&op, &holder, LONG).await.unwrap(),
                )
            }));
        }
        let mut winners = Vec::new();
        let mut seen = Vec::new();
        for task in tasks {
            match task.await.unwrap() {
                (holder, LeaseAttempt::Acquired(lease)) => {
                    assert_eq!(lease.holder, holder);
                    winners.push(lease);
                }
                (_, LeaseAttempt::Held(lease)) => seen.push(lease),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
        let winner = &winners[0];
        assert!(
            seen.iter().all(|lease| lease.holder == winner.holder),
            "round {round}: the losers saw another holder than {winner:?}: {seen:?}"
        );
        assert_eq!(f.store.get_lease(&op).await.unwrap().as_ref(), Some(winner));
    }
}
