//! Helpers shared by the simulator's integration tests.
// Each test binary uses a different subset of these helpers, so `expect` would not hold.
#![allow(dead_code)]

use std::future::Future;
use std::sync::Arc;

use protector_core::api::{ArrayApi, Connector, PgSnapshotTransfer, ServerStatus, SiteClients};
use protector_core::model::{Site, SiteStatus, SiteType};
use protector_core::Error;
use protector_mock::Simulator;

/// The `Site` protector would register for simulated `site`, using clouds.yaml entry `cloud`.
pub fn site_model(sim: &Simulator, site: &str, cloud: Option<&str>) -> Site {
    let registration = sim.site_registration(site).expect("simulated site");
    Site {
        id: uuid::Uuid::nil(),
        name: registration.name,
        description: registration.description,
        site_type: if site == "site-a" {
            SiteType::Primary
        } else {
            SiteType::Secondary
        },
        auth_url: registration.auth_url,
        region_name: registration.region_name,
        status: SiteStatus::Active,
        cloud: cloud.map(str::to_string),
        created_at: sim.now(),
    }
}

/// Admin clients of `site`.
pub async fn clients(sim: &Simulator, site: &str) -> SiteClients {
    clients_as(sim, site, None).await
}

/// Clients of `site` authenticated with clouds.yaml entry `cloud`.
pub async fn clients_as(sim: &Simulator, site: &str, cloud: Option<&str>) -> SiteClients {
    sim.connector()
        .site(&site_model(sim, site, cloud))
        .await
        .expect("simulated site clients")
}

/// The array client of `site`.
pub async fn array(sim: &Simulator, site: &str) -> Arc<dyn ArrayApi> {
    let endpoint = sim.array_endpoint(site).expect("simulated array");
    sim.connector()
        .array(&endpoint)
        .await
        .expect("array client")
}

/// Calls `poll` until it returns `Some`, at most `max` times (each call is a simulated tick).
pub async fn poll<T, F, Fut>(max: usize, mut poll: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    for _ in 0..max {
        if let Some(value) = poll().await {
            return value;
        }
    }
    panic!("condition not reached after {max} polls");
}

/// Polls a server until it reaches `status`.
pub async fn wait_server(clients: &SiteClients, id: &str, status: ServerStatus) {
    poll(10, || async {
        let server = clients.compute.get_server(id).await.unwrap().unwrap();
        (server.status == status).then_some(())
    })
    .await
}

/// Polls a volume until it reaches `status`.
pub async fn wait_volume(clients: &SiteClients, id: &str, status: &str) {
    poll(10, || async {
        let volume = clients.block_storage.get_volume(id).await.unwrap().unwrap();
        (volume.status == status).then_some(())
    })
    .await
}

/// Polls the transfer of `snapshot` on `array` until it is complete; returns the polls taken.
pub async fn wait_transfer(array: &Arc<dyn ArrayApi>, snapshot: &str) -> usize {
    let mut polls = 0;
    poll(10, || {
        polls += 1;
        async {
            let transfers: Vec<PgSnapshotTransfer> =
                array.list_pg_snapshot_transfers(snapshot).await.ok()?;
            transfers
                .into_iter()
                .find(|t| t.name == snapshot && t.is_complete())
                .map(|_| ())
        }
    })
    .await;
    polls
}

/// Asserts an error's kind and that its message contains `text`.
pub fn assert_error(error: &Error, kind: protector_core::ErrorKind, text: &str) {
    assert_eq!(error.kind(), kind, "unexpected error: {error:?}");
    assert!(
        error.message().contains(text),
        "message {:?} does not contain {text:?}",
        error.message()
    );
}
