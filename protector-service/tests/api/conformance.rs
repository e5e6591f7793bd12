//! The store conformance suite on RemoteStore → protector-api → the site's store, as an admin
//! of the simulator's site A: what the front-ends' site mode relies on is what the embedded
//! store does. Over SQLite always; over MariaDB when `PROTECTOR_TEST_MYSQL_URL` names a server
//! (`scripts/mariadb.sh start DIR PORT`), else those tests say they are skipped and pass.

use std::sync::Arc;

use async_trait::async_trait;
use protector_core::store::conformance::{Fixture, Raw};
use protector_core::store::Store;
use protector_openstack::RemoteStore;
use uuid::Uuid;

use crate::support::{remote, ApiServer, Sim};

/// What is at rest (the API's own store), holding the servers for the test's duration.
struct AtRest {
    raw: Box<dyn Raw>,
    _api: ApiServer,
    _sim: Sim,
}

#[async_trait]
impl Raw for AtRest {
    async fn raw_policy(&self, group_id: Uuid) -> String {
        self.raw.raw_policy(group_id).await
    }
}

/// Site A's API over `store` (at rest: `raw`); two front-ends' RemoteStores on it, each with
/// its own session.
async fn fixture(sim: Sim, store: Arc<dyn Store>, raw: Box<dyn Raw>) -> Fixture {
    let (api, one) = remote(&sim, "site-a", store, "site-a").await;
    let other = RemoteStore::with_endpoint(&sim.cloud("site-a"), "site-a", api.url.clone());
    Fixture {
        store: Arc::new(one),
        other: Arc::new(other),
        raw: Box::new(AtRest {
            raw,
            _api: api,
            _sim: sim,
        }),
    }
}

mod sqlite {
    use super::*;

    async fn open() -> Option<Fixture> {
        let sim = Sim::start().await;
        let store = crate::support::sqlite(sim.dir.path(), "site-a");
        Some(fixture(sim, store.clone(), Box::new(store)).await)
    }

    protector_core::store::conformance::suite!(open);
}

mod mariadb {
    use super::*;

    async fn open() -> Option<Fixture> {
        let (_, store, _) = protector_core::store::conformance::mariadb::fresh_database().await?;
        let store = Arc::new(store);
        let sim = Sim::start().await;
        Some(fixture(sim, store.clone(), Box::new(store)).await)
    }

    protector_core::store::conformance::suite!(open);
}

// A single-threaded runtime cannot wait for the release in `Drop`: the store's next lock of
// the operation waits for it instead.
#[tokio::test]
async fn on_one_thread_a_dropped_lock_is_free_for_the_stores_next_lock() {
    use protector_core::store::LockAttempt;

    let sim = Sim::start().await;
    let sqlite = crate::support::sqlite(sim.dir.path(), "site-a");
    let (_api, store) = remote(&sim, "site-a", sqlite.clone(), "site-a").await;
    let op = Uuid::new_v4();
    for round in 0..3 {
        let lock = match store.lock_operation(&op).await.unwrap() {
            LockAttempt::Acquired(lock) => lock,
            LockAttempt::Held { .. } => panic!("round {round}: a dropped lock is still held"),
        };
        assert!(matches!(
            store.lock_operation(&op).await.unwrap(),
            LockAttempt::Held { pid: None }
        ));
        let lease = sqlite.get_lease(&op).await.unwrap().unwrap();
        assert!(lease.holder.starts_with("client:"), "{lease:?}");
        assert!(
            lease.holder.contains(&format!(":{}:", std::process::id())),
            "{lease:?}"
        );
        drop(lock);
    }
}

// A process that ends its single-threaded runtime after its work (the CLI) waits for the
// releases its drops started: the lease is gone from the site's store, not left to lapse.
#[tokio::test]
async fn on_one_thread_settled_releases_leave_no_lease() {
    use protector_core::store::LockAttempt;

    let sim = Sim::start().await;
    let sqlite = crate::support::sqlite(sim.dir.path(), "site-a");
    let (_api, store) = remote(&sim, "site-a", sqlite.clone(), "site-a").await;
    let op = Uuid::new_v4();
    let lock = match store.lock_operation(&op).await.unwrap() {
        LockAttempt::Acquired(lock) => lock,
        LockAttempt::Held { .. } => panic!("a new operation's lock is held"),
    };
    assert!(sqlite.get_lease(&op).await.unwrap().is_some());
    drop(lock);
    protector_openstack::protector_api::settle_releases(std::time::Duration::from_secs(60)).await;
    assert_eq!(sqlite.get_lease(&op).await.unwrap(), None);
}
