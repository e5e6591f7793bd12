//! Fault injection.

use protector_core::api::{CreatePort, ListPorts, ListServers, ListVolumes};
use protector_core::ErrorKind;
use protector_mock::{InjectedError, Service, Simulator};

use crate::common::*;

#[tokio::test]
async fn a_site_down_refuses_every_service_but_not_its_array() {
    let sim = Simulator::in_memory().unwrap();
    let b = clients(&sim, "site-b").await;
    sim.set_site_down("site-b", true).unwrap();
    let expected = "site-b is unreachable: connection refused (simulated)";
    let errors = [
        b.identity.authenticate().await.map(drop).unwrap_err(),
        b.compute
            .list_servers(&ListServers::default())
            .await
            .map(drop)
            .unwrap_err(),
        b.block_storage
            .list_volumes(&ListVolumes::default())
            .await
            .map(drop)
            .unwrap_err(),
        b.block_storage
            .list_volume_services()
            .await
            .map(drop)
            .unwrap_err(),
        b.network.list_networks().await.map(drop).unwrap_err(),
        b.network
            .list_ports(&ListPorts::default())
            .await
            .map(drop)
            .unwrap_err(),
    ];
    for error in &errors {
        assert_eq!(error.kind(), ErrorKind::Unavailable);
        assert!(error.is_retryable());
        assert_eq!(error.message(), expected);
        assert_eq!(error.context_value("site"), Some("site-b"));
    }
    // The other site, both arrays and inspect() still answer.
    clients(&sim, "site-a")
        .await
        .identity
        .authenticate()
        .await
        .unwrap();
    array(&sim, "site-b").await.array_info().await.unwrap();
    assert!(sim.inspect().sites["site-b"].servers.is_empty());
    // Connectors never contact the site.
    sim.connector();
    clients(&sim, "site-b").await;

    sim.set_site_down("site-b", false).unwrap();
    b.identity.authenticate().await.unwrap();

    sim.set_array_down("site-a", true).unwrap();
    let error = array(&sim, "site-a").await.array_info().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unavailable);
    assert_eq!(
        error.message(),
        "flasharray-a is unreachable: connection refused (simulated)"
    );
    clients(&sim, "site-a")
        .await
        .identity
        .authenticate()
        .await
        .unwrap();
    assert_eq!(
        sim.set_site_down("site-c", true).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
}

#[tokio::test]
async fn an_array_down_stops_the_writes_it_would_take() {
    let sim = Simulator::in_memory().unwrap();
    let web1 = sim.find_server("site-a", "web-server-1").unwrap();
    let root = web1.attached_volumes[0].volume_id.clone();
    sim.set_array_down("site-a", true).unwrap();
    let before = sim.volume_fingerprint("site-a", &root);
    sim.tick(5).unwrap();
    assert_eq!(sim.volume_fingerprint("site-a", &root), before);
    sim.set_array_down("site-a", false).unwrap();
    sim.tick(1).unwrap();
    assert!(sim.volume_fingerprint("site-a", &root) > before);
}

/// The outcome (ok or error kind) of `n` identical calls.
async fn outcomes(sim: &Simulator, n: usize) -> Vec<Option<ErrorKind>> {
    let b = clients(sim, "site-b").await;
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(b.compute.list_flavors().await.err().map(|e| e.kind()));
    }
    out
}

#[tokio::test]
async fn error_rates_are_seeded_and_map_to_retryable_kinds() {
    let one = Simulator::in_memory().unwrap();
    let two = Simulator::in_memory().unwrap();
    for sim in [&one, &two] {
        sim.set_error_rate(
            "site-b",
            Service::Compute,
            0.5,
            InjectedError::InternalServerError,
        )
        .unwrap();
    }
    let first = outcomes(&one, 40).await;
    assert_eq!(
        first,
        outcomes(&two, 40).await,
        "same seed, same calls, same failures"
    );
    let failures = first.iter().filter(|o| o.is_some()).count();
    assert!((8..=32).contains(&failures), "about half fail: {failures}");
    assert!(first.iter().flatten().all(|k| *k == ErrorKind::Unavailable));
    // Other services of the site are untouched.
    let b = clients(&one, "site-b").await;
    for _ in 0..10 {
        b.network.list_networks().await.unwrap();
    }

    one.set_error_rate(
        "site-b",
        Service::Compute,
        1.0,
        InjectedError::TooManyRequests {
            retry_after_secs: 7,
        },
    )
    .unwrap();
    let limited = b.compute.list_flavors().await.unwrap_err();
    assert_eq!(limited.kind(), ErrorKind::RateLimited);
    assert!(limited.is_retryable());
    assert_eq!(limited.context_value("retry_after_secs"), Some("7"));
    one.set_error_rate(
        "site-b",
        Service::Compute,
        1.0,
        InjectedError::ServiceUnavailable,
    )
    .unwrap();
    assert!(b
        .compute
        .list_flavors()
        .await
        .unwrap_err()
        .message()
        .contains("503"));
    one.set_error_rate(
        "site-b",
        Service::Compute,
        0.0,
        InjectedError::ServiceUnavailable,
    )
    .unwrap();
    b.compute.list_flavors().await.unwrap();
    assert_eq!(
        one.set_error_rate("site-b", Service::Compute, 1.5, InjectedError::Timeout)
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );
}

#[tokio::test]
async fn a_timeout_loses_the_answer_not_the_request() {
    let sim = Simulator::in_memory().unwrap();
    let b = clients(&sim, "site-b").await;
    let net = b
        .network
        .find_network("net-secondary-web")
        .await
        .unwrap()
        .unwrap();
    sim.set_error_rate("site-b", Service::Network, 1.0, InjectedError::Timeout)
        .unwrap();
    let request = CreatePort {
        network_id: net.id.clone(),
        name: "in-doubt".into(),
        fixed_ips: vec![(net.subnets[0].id.clone(), Some("10.20.1.77".into()))],
        security_group_ids: vec![],
        description: "protector:op-1:create_port:vm:0".into(),
    };
    let error = b.network.create_port(&request).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Timeout);
    assert!(error.is_retryable());
    sim.clear().unwrap();
    // Observe before acting again: the port exists.
    let found = b
        .network
        .list_ports(&ListPorts {
            description: Some(request.description.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    // Blindly re-sending would collide.
    assert_eq!(
        b.network.create_port(&request).await.unwrap_err().kind(),
        ErrorKind::Conflict
    );
}

#[tokio::test]
async fn targeted_failures_hit_the_named_operation_a_given_number_of_times() {
    let sim = Simulator::in_memory().unwrap();
    let b = clients(&sim, "site-b").await;
    let message = "Policy doesn't allow volume_extension:volume_manage to be performed.";
    sim.fail_next(
        "site-b",
        Service::Volume,
        "list_volume_services",
        ErrorKind::PermissionDenied,
        message,
        2,
    )
    .unwrap();
    // Other operations and sites are unaffected.
    b.block_storage.list_volume_types().await.unwrap();
    clients(&sim, "site-a")
        .await
        .block_storage
        .list_volume_services()
        .await
        .unwrap();
    for _ in 0..2 {
        let error = b.block_storage.list_volume_services().await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::PermissionDenied);
        assert_eq!(error.message(), message);
        assert!(!error.is_retryable());
    }
    b.block_storage.list_volume_services().await.unwrap();

    // After-apply failures take effect and then fail.
    let net = b
        .network
        .find_network("net-secondary-db")
        .await
        .unwrap()
        .unwrap();
    sim.fail_next_after_apply(
        "site-b",
        Service::Network,
        "create_port",
        ErrorKind::Unavailable,
        "connection reset",
        1,
    )
    .unwrap();
    let request = CreatePort {
        network_id: net.id.clone(),
        name: "p".into(),
        fixed_ips: vec![],
        security_group_ids: vec![],
        description: "after-apply".into(),
    };
    assert_eq!(
        b.network.create_port(&request).await.unwrap_err().message(),
        "connection reset"
    );
    let ports = b
        .network
        .list_ports(&ListPorts {
            description: Some("after-apply".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(ports.len(), 1);

    // Array operations too.
    sim.fail_next(
        "site-a",
        Service::Array,
        "create_pg_snapshot",
        ErrorKind::Unavailable,
        "Server is busy",
        1,
    )
    .unwrap();
    let a = array(&sim, "site-a").await;
    a.create_protection_group("pg").await.unwrap();
    let busy = a
        .create_pg_snapshot("pg", &Default::default())
        .await
        .unwrap_err();
    assert_eq!(busy.message(), "Server is busy");
    assert!(
        a.list_pg_snapshots("pg").await.unwrap().is_empty(),
        "before-apply failures change nothing"
    );
    a.create_pg_snapshot("pg", &Default::default())
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn latency_delays_calls_without_moving_simulated_time() {
    let sim = Simulator::in_memory().unwrap();
    let b = clients(&sim, "site-b").await;
    sim.set_latency_ms("site-b", Service::Compute, 250).unwrap();
    let simulated = sim.now();
    let started = tokio::time::Instant::now();
    b.compute.list_flavors().await.unwrap();
    assert!(started.elapsed() >= std::time::Duration::from_millis(250));
    assert_eq!(
        (sim.now() - simulated).num_seconds(),
        1,
        "one call, one tick"
    );
    let started = tokio::time::Instant::now();
    b.network.list_networks().await.unwrap();
    assert!(started.elapsed() < std::time::Duration::from_millis(250));
    sim.clear().unwrap();
}

/// The in-process face of one process sees the latency another process sets on the shared
/// state file from its very next call, as the wire face does.
#[tokio::test(start_paused = true)]
async fn latency_set_by_another_process_delays_the_next_in_process_call() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sim.db");
    let engine_side = Simulator::open(&path).unwrap();
    let b = clients(&engine_side, "site-b").await;
    b.compute.list_flavors().await.unwrap();
    let operator_side = Simulator::open(&path).unwrap();
    operator_side
        .set_latency_ms("site-b", Service::Compute, 250)
        .unwrap();
    let started = tokio::time::Instant::now();
    b.compute.list_flavors().await.unwrap();
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(250),
        "the first call after the change waits"
    );
    operator_side
        .set_latency_ms("site-b", Service::Compute, 0)
        .unwrap();
    let started = tokio::time::Instant::now();
    b.compute.list_flavors().await.unwrap();
    assert!(started.elapsed() < std::time::Duration::from_millis(250));
}

#[tokio::test]
async fn clear_restores_every_default() {
    let sim = Simulator::in_memory().unwrap();
    let b = clients_as(&sim, "site-b", Some("site-b-member")).await;
    sim.set_manage_policy_admin_only("site-b", false).unwrap();
    sim.set_partition(true).unwrap();
    sim.set_site_down("site-a", true).unwrap();
    sim.set_error_rate(
        "site-b",
        Service::Identity,
        1.0,
        InjectedError::InternalServerError,
    )
    .unwrap();
    sim.clear().unwrap();
    b.identity.authenticate().await.unwrap();
    assert_eq!(
        b.block_storage
            .list_volume_services()
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::PermissionDenied
    );
    clients(&sim, "site-a")
        .await
        .identity
        .authenticate()
        .await
        .unwrap();
}
