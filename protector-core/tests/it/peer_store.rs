//! An engine given no store for the peer site (a site's service that cannot reach the peer's
//! metadata) treats the peer as unreachable for metadata: a change that needs both sites is
//! refused, an operation that must record what it did marks the peer out of sync.

use std::sync::Arc;

use crate::common::{groups, mappings, setup, Env};
use protector_core::engine::{
    EngineOptions, FailoverRequest, NoProgress, OperationRequest, PollPolicy,
};
use protector_core::error::ErrorKind;
use protector_core::model::{GroupStatus, OperationStatus};
use protector_core::plan::FailoverMode;
use protector_core::store::RemoteSyncStatus;
use protector_core::Protector;

/// An engine on `site` with that site's store only.
fn alone(env: &Env, site: &str) -> Protector {
    let store = if site == "site-a" {
        env.store_a.clone()
    } else {
        env.store_b.clone()
    };
    Protector::builder()
        .with_local_site(site)
        .with_store(site, store)
        .with_connector(Arc::new(env.sim.connector()))
        .with_options(EngineOptions {
            poll: PollPolicy::immediate(500),
            member_concurrency: 4,
            ..EngineOptions::default()
        })
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_change_needing_both_sites_is_refused_as_with_an_unreachable_peer() {
    let env = setup().await;
    let engine = alone(&env, "site-a");
    let before = groups(&env).await;
    let member = engine.members("prod-web-app").await.unwrap().remove(0);

    let err = engine
        .remove_member("prod-web-app", &member.id.to_string())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(
        err.message().starts_with(
            "Cannot modify protection group 'prod-web-app' - remote site 'site-b' unreachable"
        ),
        "{err}"
    );
    assert_eq!(
        groups(&env).await,
        before,
        "nothing changed in either store"
    );

    let status = engine.sync_status("prod-web-app").await.unwrap();
    assert_eq!(status.remote_status, RemoteSyncStatus::Unreachable);
    assert!(!status.in_sync);
    let err = engine.sync_force("prod-web-app").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(
        err.message()
            .contains("remote site 'site-b' is unreachable"),
        "{err}"
    );
}

#[tokio::test]
async fn an_operation_records_its_change_locally_and_marks_the_peer_out_of_sync() {
    let env = setup().await;
    // A replicated snapshot to recover from, then site-a is lost and site-b's engine takes
    // the failover; site-a's clouds answer again before it runs, its metadata stays out of
    // reach (no store of it here).
    env.sim.tick(320).unwrap();
    env.sim.set_site_down("site-a", true).unwrap();
    let (on_a, _) = groups(&env).await;
    let engine = alone(&env, "site-b");
    let submitted = engine
        .submit(OperationRequest::Failover {
            group: "prod-web-app".into(),
            request: FailoverRequest {
                mode: FailoverMode::Unplanned,
                ..FailoverRequest::planned(mappings())
            },
        })
        .await
        .unwrap();
    env.sim.set_site_down("site-a", false).unwrap();
    let op = engine
        .run(submitted.operation.id, NoProgress)
        .await
        .unwrap();
    assert_eq!(op.status, OperationStatus::Completed, "{op:?}");

    let (a, b) = groups(&env).await;
    assert_eq!(a, on_a, "site-a's store was not written");
    assert_eq!(b.status, GroupStatus::FailedOver);
    let state = env.store_b.get_sync_state(&b.id).await.unwrap().unwrap();
    assert_eq!(state.status, RemoteSyncStatus::Unreachable, "{state:?}");
    assert!(
        state
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("metadata store of site 'site-a'")),
        "{state:?}"
    );
}
