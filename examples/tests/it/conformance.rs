//! One conformance suite per trait, run against both faces of the simulator: the in-process
//! implementations, and protector-openstack / protector-pure over HTTP(S) against the wire
//! face. The same contract (what an already-done call returns, whether missing is `Ok(None)`)
//! must hold for both.

use std::sync::Arc;

use crate::common::{arrays, wire_connector};
use protector_core::api::{
    ArrayApi, Connector, CopyVolume, CreatePgSnapshot, CreatePort, ListPorts, ListServers,
    ManageVolume, ServerStatus, SiteClients,
};
use protector_core::model::{ArrayEndpoint, Site, SiteStatus, SiteType};
use protector_core::ErrorKind;
use protector_mock::http::{ServeOptions, SimServer};
use protector_mock::Simulator;

fn site(name: &str, auth_url: String) -> Site {
    Site {
        id: uuid::Uuid::new_v4(),
        name: name.into(),
        description: String::new(),
        site_type: SiteType::Primary,
        auth_url,
        region_name: "RegionOne".into(),
        status: SiteStatus::Active,
        cloud: None,
        created_at: chrono::Utc::now(),
    }
}

async fn identity_contract(clients: &SiteClients) {
    let auth = clients.identity.authenticate().await.unwrap();
    assert_eq!(auth.project_name, "production-project");
    assert!(auth.has_role("admin"));
}

async fn compute_contract(clients: &SiteClients) {
    let compute = &clients.compute;
    assert!(compute
        .get_server("0badc0de-0000-4000-8000-000000000000")
        .await
        .unwrap()
        .is_none());
    compute
        .delete_server("0badc0de-0000-4000-8000-000000000000")
        .await
        .unwrap();
    let web = compute
        .list_servers(&ListServers {
            name: Some("web-server-1".into()),
            ..ListServers::default()
        })
        .await
        .unwrap();
    assert_eq!(web.len(), 1);
    let server = &web[0];
    assert_eq!(server.status, ServerStatus::Active);
    assert_eq!(server.flavor_name, "m1.large");
    assert!(!server.attached_volumes.is_empty());
    assert!(compute.find_flavor("m1.large").await.unwrap().is_some());
    assert!(compute
        .find_flavor("no-such-flavor")
        .await
        .unwrap()
        .is_none());
    assert!(compute.get_keypair("ops-key").await.unwrap().is_some());
    assert!(compute.get_keypair("no-such-key").await.unwrap().is_none());
    // Stopping is idempotent: a SHUTOFF server stops again without error.
    compute.stop_server(&server.id).await.unwrap();
    for _ in 0..50 {
        if compute
            .get_server(&server.id)
            .await
            .unwrap()
            .unwrap()
            .status
            == ServerStatus::Shutoff
        {
            break;
        }
    }
    assert_eq!(
        compute
            .get_server(&server.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        ServerStatus::Shutoff
    );
    compute.stop_server(&server.id).await.unwrap();
    compute.start_server(&server.id).await.unwrap();
}

async fn block_storage_contract(clients: &SiteClients) {
    let storage = &clients.block_storage;
    assert!(storage
        .get_volume("0badc0de-0000-4000-8000-000000000000")
        .await
        .unwrap()
        .is_none());
    storage
        .delete_volume("0badc0de-0000-4000-8000-000000000000")
        .await
        .unwrap();
    storage
        .unmanage_volume("0badc0de-0000-4000-8000-000000000000")
        .await
        .unwrap();
    let vt = storage
        .find_volume_type("replicated-ssd")
        .await
        .unwrap()
        .unwrap();
    assert!(vt.replication_enabled());
    assert_eq!(vt.replication_type().as_deref(), Some("async"));
    assert!(storage
        .find_volume_type("no-such-type")
        .await
        .unwrap()
        .is_none());
    let services = storage.list_volume_services().await.unwrap();
    assert!(services.iter().any(|s| s.is_usable()));
    let volumes = storage.list_volumes(&Default::default()).await.unwrap();
    let attached = volumes.iter().find(|v| !v.attachments.is_empty()).unwrap();
    // Attached volumes cannot be unmanaged.
    let err = storage.unmanage_volume(&attached.id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    storage
        .delete_volume_group("0badc0de-0000-4000-8000-000000000000")
        .await
        .unwrap();
    assert!(storage
        .get_volume_group("0badc0de-0000-4000-8000-000000000000")
        .await
        .unwrap()
        .is_none());
}

async fn network_contract(clients: &SiteClients) {
    let network = &clients.network;
    let net = network
        .find_network("net-primary-web")
        .await
        .unwrap()
        .unwrap();
    assert!(network.find_network("no-such-net").await.unwrap().is_none());
    let sg = network.find_security_group("web").await.unwrap().unwrap();
    let port = network
        .create_port(&CreatePort {
            network_id: net.id.clone(),
            name: "conformance".into(),
            fixed_ips: vec![(net.subnets[0].id.clone(), None)],
            security_group_ids: vec![sg.id.clone()],
            description: "conformance-port".into(),
        })
        .await
        .unwrap();
    assert_eq!(port.security_group_ids, vec![sg.id.clone()]);
    let found = network
        .list_ports(&ListPorts {
            description: Some("conformance-port".into()),
            ..ListPorts::default()
        })
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    // The same address twice is a conflict.
    let taken = port.fixed_ips[0].ip_address.clone();
    let err = network
        .create_port(&CreatePort {
            network_id: net.id.clone(),
            name: "conformance-2".into(),
            fixed_ips: vec![(net.subnets[0].id.clone(), Some(taken))],
            security_group_ids: vec![],
            description: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    network.delete_port(&port.id).await.unwrap();
    network.delete_port(&port.id).await.unwrap();
    assert!(network.get_port(&port.id).await.unwrap().is_none());
}

async fn array_contract(source: &Arc<dyn ArrayApi>, target: &Arc<dyn ArrayApi>, volume: &str) {
    let source_info = source.array_info().await.unwrap();
    let target_info = target.array_info().await.unwrap();
    assert!(source.get_volume("no-such-volume").await.unwrap().is_none());
    source.destroy_volume("no-such-volume").await.unwrap();
    source.eradicate_volume("no-such-volume").await.unwrap();
    assert!(source
        .get_protection_group("conformance-pg")
        .await
        .unwrap()
        .is_none());
    source
        .create_protection_group("conformance-pg")
        .await
        .unwrap();
    let err = source
        .create_protection_group("conformance-pg")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{err}");
    let volumes = vec![volume.to_string()];
    source
        .add_protection_group_volumes("conformance-pg", &volumes)
        .await
        .unwrap();
    source
        .add_protection_group_volumes("conformance-pg", &volumes)
        .await
        .unwrap();
    source
        .add_protection_group_target("conformance-pg", &target_info.name)
        .await
        .unwrap();
    source
        .add_protection_group_target("conformance-pg", &target_info.name)
        .await
        .unwrap();
    let replica = format!("{}:conformance-pg", source_info.name);
    target
        .set_protection_group_allowed(&replica, true)
        .await
        .unwrap();
    let snap = source
        .create_pg_snapshot(
            "conformance-pg",
            &CreatePgSnapshot {
                replicate_now: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let replica_snap = format!("{}:{}", source_info.name, snap.name);
    let mut complete = false;
    for _ in 0..100 {
        let transfers = target
            .list_pg_snapshot_transfers(&replica)
            .await
            .unwrap_or_default();
        if transfers
            .iter()
            .any(|t| t.name == replica_snap && t.is_complete())
        {
            complete = true;
            break;
        }
    }
    assert!(complete, "{replica_snap} never arrived");
    let snaps = target.list_volume_snapshots(&replica_snap).await.unwrap();
    let copy = CopyVolume {
        name: "conformance-copy".into(),
        source: snaps[0].name.clone(),
        overwrite: false,
    };
    target.copy_volume(&copy).await.unwrap();
    changed_bytes_contract(source, target, volume, &snap.name, &snaps[0].name).await;
    let err = target.copy_volume(&copy).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{err}");
    target
        .copy_volume(&CopyVolume {
            overwrite: true,
            ..copy.clone()
        })
        .await
        .unwrap();
    target.destroy_volume("conformance-copy").await.unwrap();
    target.destroy_volume("conformance-copy").await.unwrap();
    assert!(
        target
            .get_volume("conformance-copy")
            .await
            .unwrap()
            .unwrap()
            .destroyed
    );
    target.eradicate_volume("conformance-copy").await.unwrap();
    assert!(target
        .get_volume("conformance-copy")
        .await
        .unwrap()
        .is_none());
    source
        .remove_protection_group_volumes("conformance-pg", &volumes)
        .await
        .unwrap();
    source
        .remove_protection_group_volumes("conformance-pg", &volumes)
        .await
        .unwrap();
}

/// `changed_bytes_since` after `pg_snapshot` of `volume` replicated and `conformance-copy` was
/// made on the target from its replica `replica_volume_snapshot`.
async fn changed_bytes_contract(
    source: &Arc<dyn ArrayApi>,
    target: &Arc<dyn ArrayApi>,
    volume: &str,
    pg_snapshot: &str,
    replica_volume_snapshot: &str,
) {
    // A copy holds exactly its snapshot.
    assert_eq!(
        target
            .changed_bytes_since("conformance-copy", replica_volume_snapshot)
            .await
            .unwrap(),
        0
    );
    // The source volume belongs to a running server: what it wrote since the snapshot shows,
    // and never more than the volume holds.
    let local = format!("{pg_snapshot}.{volume}");
    let changed = source.changed_bytes_since(volume, &local).await.unwrap();
    let size = source
        .get_volume(volume)
        .await
        .unwrap()
        .unwrap()
        .provisioned_bytes;
    assert!(changed > 0 && changed <= size, "{changed} of {size}");
    let err = source
        .changed_bytes_since("no-such-volume", &local)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    let err = source
        .changed_bytes_since(volume, "no-such-snapshot")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
}

/// Polls `id` until its status leaves `creating` (each call moves the simulator's clock).
async fn settled_status(clients: &SiteClients, id: &str) -> String {
    for _ in 0..20 {
        let volume = clients.block_storage.get_volume(id).await.unwrap().unwrap();
        if volume.status != "creating" {
            return volume.status;
        }
    }
    panic!("volume {id} is still creating");
}

/// Managing array volumes as API users see it: `creating` until the driver ran, then
/// `available`, or `error` when the driver refused (Cinder's `error_managing`, shown as
/// `error`); the Pure driver refuses a volume in a pod, stretched or not, and leaves it as it
/// was. The adopted volume records its lineage.
async fn manage_contract(
    clients: &SiteClients,
    array: &Arc<dyn ArrayApi>,
    sim: &Simulator,
    volume: &str,
) {
    let storage = &clients.block_storage;
    let host = storage.list_volume_services().await.unwrap()[0]
        .host
        .clone();
    let request = |source: &str, name: &str| ManageVolume {
        host: host.clone(),
        source_name: source.into(),
        name: name.into(),
        volume_type: "replicated-ssd".into(),
        bootable: false,
        description: String::new(),
        metadata: Default::default(),
    };
    array
        .copy_volume(&CopyVolume {
            name: "conformance-plain".into(),
            source: volume.into(),
            overwrite: false,
        })
        .await
        .unwrap();
    let copied = sim
        .array_volume_fingerprint("site-a", "conformance-plain")
        .unwrap();
    let plain = storage
        .manage_volume(&request("conformance-plain", "conformance-plain"))
        .await
        .unwrap();
    assert_eq!(
        plain.status, "creating",
        "Cinder's `managing`, as the API shows it"
    );
    assert_eq!(settled_status(clients, &plain.id).await, "available");
    let lineage = sim.inspect().sites["site-a"]
        .volumes
        .iter()
        .find(|v| v.id == plain.id)
        .and_then(|v| v.lineage.clone())
        .unwrap();
    assert_eq!(lineage.array_volume.as_deref(), Some("conformance-plain"));
    assert_eq!(lineage.copied_from.as_deref(), Some(volume));
    assert_eq!(lineage.fingerprint, copied);

    array.create_pod("conformance-pod").await.unwrap();
    array
        .copy_volume(&CopyVolume {
            name: "conformance-pod::vol".into(),
            source: volume.into(),
            overwrite: false,
        })
        .await
        .unwrap();
    let in_pod = storage
        .manage_volume(&request("conformance-pod::vol", "conformance-in-pod"))
        .await
        .unwrap();
    assert_eq!(settled_status(clients, &in_pod.id).await, "error");
    let internal = sim.inspect().sites["site-a"]
        .volumes
        .iter()
        .find(|v| v.id == in_pod.id)
        .map(|v| v.status.clone());
    assert_eq!(internal.as_deref(), Some("error_managing"));
    assert!(
        array
            .get_volume("conformance-pod::vol")
            .await
            .unwrap()
            .is_some(),
        "the refused manage left the pod volume as it was"
    );
    storage.delete_volume(&in_pod.id).await.unwrap();
    storage.delete_volume(&plain.id).await.unwrap();
}

async fn run_suite(
    connector: Arc<dyn Connector>,
    sim: &Simulator,
    auth_url: impl Fn(&str) -> String,
    arrays: impl Fn(&str) -> ArrayEndpoint,
) {
    let a = connector
        .site(&site("site-a", auth_url("site-a")))
        .await
        .unwrap();
    identity_contract(&a).await;
    compute_contract(&a).await;
    block_storage_contract(&a).await;
    network_contract(&a).await;
    let source = connector.array(&arrays("site-a")).await.unwrap();
    let target = connector.array(&arrays("site-b")).await.unwrap();
    let volume = sim.inspect().sites["site-a"].volumes[0]
        .array_volume
        .clone()
        .unwrap();
    array_contract(&source, &target, &volume).await;
    manage_contract(&a, &source, sim, &volume).await;
}

#[tokio::test]
async fn in_process_face_meets_the_contracts() {
    let sim = Simulator::in_memory().unwrap();
    let reg = |s: &str| sim.site_registration(s).unwrap().auth_url;
    let arrays = |s: &str| sim.array_endpoint(s).unwrap();
    run_suite(Arc::new(sim.connector()), &sim, reg, arrays).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_clients_against_the_wire_face_meet_the_contracts() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Simulator::open(&ServeOptions::state_file(dir.path())).unwrap();
    let server = SimServer::start(sim.clone(), ServeOptions::new(dir.path()))
        .await
        .unwrap();
    let connector = wire_connector(&server.clouds_yaml());
    let endpoints = arrays(&server.arrays_json());
    let arrays = |s: &str| endpoints[s].clone();
    let auth = |s: &str| server.auth_url(s).unwrap();
    run_suite(connector, &sim, auth, arrays).await;
    server.shutdown().await;
}
