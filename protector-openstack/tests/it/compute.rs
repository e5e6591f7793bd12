//! Nova: every ComputeApi call's request line, headers, body and decoding.

use std::collections::BTreeMap;

use protector_core::api::{
    AttachedVolume, BlockDevice, ComputeApi, CreateServer, Flavor, ListServers, Server,
    ServerStatus,
};
use protector_core::ErrorKind;
use serde_json::{json, Value};
use wiremock::matchers::{body_json, query_param, query_param_is_missing};
use wiremock::ResponseTemplate;

use super::support::*;

fn server_json(id: &str, name: &str, status: &str) -> Value {
    json!({
        "id": id, "name": name, "status": status, "tenant_id": PROJECT, "user_id": USER,
        "image": "", "key_name": "ops-key",
        "flavor": {"original_name": "m1.small", "vcpus": 1, "ram": 2048, "disk": 20,
                   "ephemeral": 0, "swap": 0},
        "OS-EXT-AZ:availability_zone": "nova",
        "OS-EXT-STS:task_state": null,
        "os-extended-volumes:volumes_attached": [
            {"id": "vol-root", "delete_on_termination": false},
            {"id": "vol-data", "delete_on_termination": true}],
        "security_groups": [{"name": "default"}, {"name": "web"}, {"name": "default"}],
        "metadata": {"protector:member": "m1"},
        "addresses": {}
    })
}

fn expected_server(id: &str, name: &str, status: ServerStatus) -> Server {
    Server {
        id: id.into(),
        name: name.into(),
        status,
        project_id: PROJECT.into(),
        flavor_id: String::new(),
        flavor_name: "m1.small".into(),
        key_name: Some("ops-key".into()),
        availability_zone: Some("nova".into()),
        attached_volumes: vec![
            AttachedVolume {
                volume_id: "vol-root".into(),
                delete_on_termination: false,
            },
            AttachedVolume {
                volume_id: "vol-data".into(),
                delete_on_termination: true,
            },
        ],
        security_groups: vec!["default".into(), "web".into()],
        metadata: BTreeMap::from([("protector:member".into(), "m1".into())]),
        fault: None,
    }
}

#[tokio::test]
async fn get_server_reads_the_2_47_view() {
    let f = Fixture::start().await;
    nova("GET", "servers/s1", "2.47")
        .respond_with(json_response(
            200,
            json!({"server": server_json("s1", "web-01", "ACTIVE")}),
        ))
        .expect(1)
        .mount(&f.server)
        .await;
    let server = f.cloud.compute().get_server("s1").await.unwrap().unwrap();
    assert_eq!(
        server,
        expected_server("s1", "web-01", ServerStatus::Active)
    );
}

#[tokio::test]
async fn get_server_of_an_old_nova_negotiates_down_and_reads_the_flavor_id() {
    let f = Fixture::with_versions("2.30", "3.71").await;
    let mut body = server_json("s1", "web-01", "ERROR");
    body["flavor"] = json!({"id": "42", "links": []});
    body["fault"] = json!({"code": 500, "message": "No valid host was found."});
    nova("GET", "servers/s1", "2.30")
        .respond_with(json_response(200, json!({ "server": body })))
        .expect(1)
        .mount(&f.server)
        .await;
    let server = f.cloud.compute().get_server("s1").await.unwrap().unwrap();
    assert_eq!(server.flavor_id, "42");
    assert_eq!(server.flavor_name, "");
    assert_eq!(server.status, ServerStatus::Error);
    assert_eq!(server.fault.as_deref(), Some("No valid host was found."));
}

#[tokio::test]
async fn a_missing_server_is_none() {
    let f = Fixture::start().await;
    nova("GET", "servers/gone", "2.47")
        .respond_with(nova_fault(
            404,
            "itemNotFound",
            "Instance gone could not be found.",
        ))
        .expect(1)
        .mount(&f.server)
        .await;
    assert_eq!(f.cloud.compute().get_server("gone").await.unwrap(), None);
}

#[tokio::test]
async fn list_servers_by_name_follows_next_links_on_our_endpoint() {
    let f = Fixture::start().await;
    nova("GET", "servers/detail", "2.47")
        .and(query_param("name", "^web\\.01$"))
        .and(query_param_is_missing("marker"))
        .respond_with(json_response(200, json!({
            "servers": [server_json("s1", "web.01", "ACTIVE")],
            "servers_links": [{"rel": "next",
                "href": "http://nova.internal.invalid:8774/v2.1/servers/detail?name=%5Eweb%5C.01%24&marker=s1"}]
        })))
        .expect(1)
        .mount(&f.server)
        .await;
    nova("GET", "servers/detail", "2.47")
        .and(query_param("marker", "s1"))
        .respond_with(json_response(200, json!({
            "servers": [server_json("s2", "web.01", "SHUTOFF"), server_json("s3", "web.01-old", "ACTIVE")]
        })))
        .expect(1)
        .mount(&f.server)
        .await;
    let filter = ListServers {
        name: Some("web.01".into()),
        metadata: None,
    };
    let servers = f.cloud.compute().list_servers(&filter).await.unwrap();
    let ids: Vec<&str> = servers.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["s1", "s2"]);
    assert_eq!(servers[1].status, ServerStatus::Shutoff);
}

#[tokio::test]
async fn list_servers_by_metadata_filters_here() {
    let f = Fixture::start().await;
    let mut other = server_json("s2", "db", "ACTIVE");
    other["metadata"] = json!({"protector:member": "m2"});
    nova("GET", "servers/detail", "2.47")
        .and(query_param_is_missing("name"))
        .respond_with(json_response(
            200,
            json!({"servers": [server_json("s1", "web", "ACTIVE"), other]}),
        ))
        .expect(1)
        .mount(&f.server)
        .await;
    let filter = ListServers {
        name: None,
        metadata: Some(("protector:member".into(), "m1".into())),
    };
    let servers = f.cloud.compute().list_servers(&filter).await.unwrap();
    assert_eq!(
        servers,
        [expected_server("s1", "web", ServerStatus::Active)]
    );
}

fn create_request() -> CreateServer {
    CreateServer {
        name: "web-01-dr".into(),
        flavor_id: "3".into(),
        key_name: Some("ops-key".into()),
        availability_zone: Some("nova".into()),
        block_devices: vec![
            BlockDevice {
                volume_id: "vol-root".into(),
                boot_index: 0,
                device_name: Some("/dev/vda".into()),
                delete_on_termination: false,
            },
            BlockDevice {
                volume_id: "vol-data".into(),
                boot_index: -1,
                device_name: None,
                delete_on_termination: false,
            },
        ],
        port_ids: vec!["port-1".into(), "port-2".into()],
        metadata: BTreeMap::from([("protector:operation".into(), "op-1".into())]),
    }
}

#[tokio::test]
async fn create_server_boots_from_volumes_on_given_ports_at_2_74() {
    let f = Fixture::start().await;
    nova("POST", "servers", "2.74")
        .and(body_json(json!({"server": {
            "name": "web-01-dr", "flavorRef": "3", "key_name": "ops-key",
            "availability_zone": "nova",
            "block_device_mapping_v2": [
                {"boot_index": 0, "uuid": "vol-root", "source_type": "volume",
                 "destination_type": "volume", "delete_on_termination": false,
                 "device_name": "/dev/vda"},
                {"boot_index": -1, "uuid": "vol-data", "source_type": "volume",
                 "destination_type": "volume", "delete_on_termination": false}],
            "networks": [{"port": "port-1"}, {"port": "port-2"}],
            "metadata": {"protector:operation": "op-1"}}})))
        .respond_with(
            json_response(
                202,
                json!({"server": {"id": "new-1", "links": [],
                "OS-DCF:diskConfig": "MANUAL", "adminPass": "xyz", "security_groups": []}}),
            )
            .insert_header("Location", "http://x/v2.1/servers/new-1"),
        )
        .expect(1)
        .mount(&f.server)
        .await;
    let server = f
        .cloud
        .compute()
        .create_server(&create_request())
        .await
        .unwrap();
    assert_eq!(server.id, "new-1");
    assert_eq!(server.status, ServerStatus::Build);
    assert_eq!(server.name, "web-01-dr");
    assert_eq!(server.flavor_id, "3");
    assert_eq!(server.project_id, PROJECT);
    assert_eq!(server.attached_volumes.len(), 2);
    assert_eq!(server.metadata["protector:operation"], "op-1");
}

#[tokio::test]
async fn a_cloud_older_than_the_client_gets_the_create_again_at_its_version_and_body() {
    // Nova 2.30: the create at 2.74 is refused (406), the version document read, and the
    // create sent again at 2.30, where a server without ports has no `networks` ("none" only
    // exists from 2.37 on).
    let f = Fixture::with_versions("2.30", "3.71").await;
    nova("POST", "servers", "2.30")
        .and(body_json(json!({"server": {
            "name": "web-01-dr", "flavorRef": "3",
            "block_device_mapping_v2": [
                {"boot_index": 0, "uuid": "vol-root", "source_type": "volume",
                 "destination_type": "volume", "delete_on_termination": false}]}})))
        .respond_with(json_response(
            202,
            json!({"server": {"id": "new-1", "links": []}}),
        ))
        .expect(1)
        .mount(&f.server)
        .await;
    let request = CreateServer {
        name: "web-01-dr".into(),
        flavor_id: "3".into(),
        key_name: None,
        availability_zone: None,
        block_devices: vec![BlockDevice {
            volume_id: "vol-root".into(),
            boot_index: 0,
            device_name: None,
            delete_on_termination: false,
        }],
        port_ids: Vec::new(),
        metadata: BTreeMap::new(),
    };
    let server = f.cloud.compute().create_server(&request).await.unwrap();
    assert_eq!(server.id, "new-1");
    let creates: Vec<_> = f
        .server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == "/compute/v2.1/servers")
        .collect();
    assert_eq!(creates.len(), 2);
    let first: serde_json::Value = serde_json::from_slice(&creates[0].body).unwrap();
    assert_eq!(first["server"]["networks"], "none");
    assert_eq!(creates[0].headers["X-OpenStack-Nova-API-Version"], "2.74");
    assert_eq!(f.requests_to("/compute/v2.1/").await, 1);
    // The next call that prefers a newer version goes straight to 2.30.
    nova("GET", "servers/gone", "2.30")
        .respond_with(nova_fault(
            404,
            "itemNotFound",
            "Instance gone could not be found.",
        ))
        .mount(&f.server)
        .await;
    assert!(f
        .cloud
        .compute()
        .get_server("gone")
        .await
        .unwrap()
        .is_none());
    assert_eq!(f.requests_to("/compute/v2.1/servers/gone").await, 1);
    assert_eq!(f.requests_to("/compute/v2.1/").await, 1);
}

#[tokio::test]
async fn a_rejected_create_is_invalid_input_with_nova_s_message() {
    let f = Fixture::start().await;
    nova("POST", "servers", "2.74")
        .respond_with(nova_fault(
            400,
            "badRequest",
            "Block Device vol-root is not bootable.",
        ))
        .expect(1)
        .mount(&f.server)
        .await;
    let err = f
        .cloud
        .compute()
        .create_server(&create_request())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(
        err.message(),
        "create server 'web-01-dr' failed: Nova answered 400 Bad Request: Block Device vol-root is not bootable."
    );
    assert_eq!(err.context_value("request_id"), Some("req-nova"));
    assert_eq!(err.context_value("server_name"), Some("web-01-dr"));
}

#[tokio::test]
async fn stop_server_sends_os_stop() {
    let f = Fixture::start().await;
    nova("POST", "servers/s1/action", "2.1")
        .and(body_json(json!({"os-stop": null})))
        .respond_with(ResponseTemplate::new(202))
        .expect(1)
        .mount(&f.server)
        .await;
    f.cloud.compute().stop_server("s1").await.unwrap();
}

#[tokio::test]
async fn stopping_a_stopped_server_succeeds() {
    let f = Fixture::start().await;
    nova("POST", "servers/s1/action", "2.1")
        .respond_with(nova_fault(
            409,
            "conflictingRequest",
            "Cannot 'stop' instance s1 while it is in vm_state stopped",
        ))
        .expect(1)
        .mount(&f.server)
        .await;
    nova("GET", "servers/s1", "2.47")
        .respond_with(json_response(
            200,
            json!({"server": server_json("s1", "web", "SHUTOFF")}),
        ))
        .expect(1)
        .mount(&f.server)
        .await;
    f.cloud.compute().stop_server("s1").await.unwrap();
}

#[tokio::test]
async fn a_stop_conflict_on_a_running_server_is_a_conflict() {
    let f = Fixture::start().await;
    let mut busy = server_json("s1", "web", "ACTIVE");
    busy["OS-EXT-STS:task_state"] = json!("rebooting");
    nova("POST", "servers/s1/action", "2.1")
        .respond_with(nova_fault(
            409,
            "conflictingRequest",
            "Cannot 'stop' instance s1 while it is in task_state rebooting",
        ))
        .mount(&f.server)
        .await;
    nova("GET", "servers/s1", "2.47")
        .respond_with(json_response(200, json!({ "server": busy })))
        .mount(&f.server)
        .await;
    let err = f.cloud.compute().stop_server("s1").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert!(err.message().contains("task_state rebooting"), "{err}");
}

#[tokio::test]
async fn stopping_a_missing_server_is_not_found() {
    let f = Fixture::start().await;
    nova("POST", "servers/gone/action", "2.1")
        .respond_with(nova_fault(
            404,
            "itemNotFound",
            "Instance gone could not be found.",
        ))
        .expect(1)
        .mount(&f.server)
        .await;
    let err = f.cloud.compute().stop_server("gone").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(err.context_value("server"), Some("gone"));
}

#[tokio::test]
async fn starting_a_server_that_is_powering_on_succeeds() {
    let f = Fixture::start().await;
    let mut starting = server_json("s1", "web", "SHUTOFF");
    starting["OS-EXT-STS:task_state"] = json!("powering-on");
    nova("POST", "servers/s1/action", "2.1")
        .and(body_json(json!({"os-start": null})))
        .respond_with(nova_fault(
            409,
            "conflictingRequest",
            "Instance s1 is in task_state powering-on",
        ))
        .expect(1)
        .mount(&f.server)
        .await;
    nova("GET", "servers/s1", "2.47")
        .respond_with(json_response(200, json!({ "server": starting })))
        .expect(1)
        .mount(&f.server)
        .await;
    f.cloud.compute().start_server("s1").await.unwrap();
}

#[tokio::test]
async fn delete_server_succeeds_and_a_missing_one_too() {
    let f = Fixture::start().await;
    nova("DELETE", "servers/s1", "2.1")
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&f.server)
        .await;
    nova("DELETE", "servers/gone", "2.1")
        .respond_with(nova_fault(
            404,
            "itemNotFound",
            "Instance gone could not be found.",
        ))
        .expect(1)
        .mount(&f.server)
        .await;
    f.cloud.compute().delete_server("s1").await.unwrap();
    f.cloud.compute().delete_server("gone").await.unwrap();
}

fn flavor_json(id: &str, name: &str) -> Value {
    json!({"id": id, "name": name, "vcpus": 2, "ram": 4096, "disk": 40,
           "OS-FLV-EXT-DATA:ephemeral": 0, "swap": "", "os-flavor-access:is_public": true})
}

#[tokio::test]
async fn find_flavor_by_id_then_by_name() {
    let f = Fixture::start().await;
    nova("GET", "flavors/3", "2.1")
        .respond_with(json_response(
            200,
            json!({"flavor": flavor_json("3", "m1.medium")}),
        ))
        .expect(1)
        .mount(&f.server)
        .await;
    for missing in ["m1.medium", "m1.dup", "nothing"] {
        nova("GET", &format!("flavors/{missing}"), "2.1")
            .respond_with(nova_fault(
                404,
                "itemNotFound",
                "Flavor could not be found.",
            ))
            .expect(1)
            .mount(&f.server)
            .await;
    }
    nova("GET", "flavors/detail", "2.1")
        .and(query_param("is_public", "None"))
        .respond_with(json_response(200, json!({"flavors": [
            flavor_json("3", "m1.medium"), flavor_json("7", "m1.dup"), flavor_json("8", "m1.dup")]})))
        .expect(3)
        .mount(&f.server)
        .await;
    let compute = f.cloud.compute();
    let expected = Flavor {
        id: "3".into(),
        name: "m1.medium".into(),
        vcpus: 2,
        ram_mb: 4096,
        disk_gb: 40,
    };
    assert_eq!(
        compute.find_flavor("3").await.unwrap(),
        Some(expected.clone())
    );
    assert_eq!(
        compute.find_flavor("m1.medium").await.unwrap(),
        Some(expected)
    );
    let err = compute.find_flavor("m1.dup").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert!(err.message().contains("(7, 8)"), "{err}");
    assert_eq!(compute.find_flavor("nothing").await.unwrap(), None);
}

#[tokio::test]
async fn get_keypair_reads_it_and_a_missing_one_is_none() {
    let f = Fixture::start().await;
    nova("GET", "os-keypairs/ops%20key", "2.2")
        .respond_with(json_response(
            200,
            json!({"keypair": {"name": "ops key",
            "public_key": "ssh-ed25519 AAAA", "fingerprint": "aa:bb", "type": "ssh",
            "user_id": USER, "id": 1}}),
        ))
        .expect(1)
        .mount(&f.server)
        .await;
    nova("GET", "os-keypairs/none", "2.2")
        .respond_with(nova_fault(
            404,
            "itemNotFound",
            "Keypair none not found for user",
        ))
        .expect(1)
        .mount(&f.server)
        .await;
    let keypair = f
        .cloud
        .compute()
        .get_keypair("ops key")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(keypair.name, "ops key");
    assert_eq!(keypair.fingerprint, "aa:bb");
    assert_eq!(f.cloud.compute().get_keypair("none").await.unwrap(), None);
}
