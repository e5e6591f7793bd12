//! The store conformance suite on RemoteStore → protector-api → SqliteStore, as an admin of
//! the simulator's site A: what the front-ends' site mode relies on is what the embedded store
//! does.

use std::sync::Arc;

use async_trait::async_trait;
use protector_core::store::conformance::{Fixture, Raw};
use protector_core::store::SqliteStore;
use protector_openstack::RemoteStore;
use uuid::Uuid;

use crate::support::{remote, sqlite, ApiServer, Sim};

/// What is at rest (the API's SQLite file), holding the servers for the test's duration.
struct AtRest {
    sqlite: Arc<SqliteStore>,
    _api: ApiServer,
    _sim: Sim,
}

#[async_trait]
impl Raw for AtRest {
    async fn raw_policy(&self, group_id: Uuid) -> String {
        self.sqlite.raw_policy_json(group_id)
    }
}

async fn open() -> Option<Fixture> {
    let sim = Sim::start().await;
    let sqlite = sqlite(sim.dir.path(), "site-a");
    let (api, store) = remote(&sim, "site-a", sqlite.clone(), "site-a").await;
    // Another front-end process: its own session and token.
    let other = RemoteStore::with_endpoint(&sim.cloud("site-a"), "site-a", api.url.clone());
    Some(Fixture {
        store: Arc::new(store),
        other: Arc::new(other),
        raw: Box::new(AtRest {
            sqlite,
            _api: api,
            _sim: sim,
        }),
    })
}

protector_core::store::conformance::suite!(open);
