//! Cinder: every BlockStorageApi call's request line, headers, body and decoding.

use std::collections::BTreeMap;

use protector_core::api::{
    BlockStorageApi, ListVolumes, ManageVolume, Volume, VolumeAttachment, VolumeService,
};
use protector_core::ErrorKind;
use serde_json::{json, Value};
use wiremock::matchers::{body_json, query_param};
use wiremock::ResponseTemplate;

use super::support::*;

fn volume_json(id: &str, name: &str) -> Value {
    json!({
        "id": id, "name": name, "status": "in-use", "size": 20, "volume_type": "replicated",
        "bootable": "true", "os-vol-host-attr:host": "ctrl1@pure#pure",
        "os-vol-tenant-attr:tenant_id": "owner-project",
        "attachments": [{"server_id": "s1", "device": "/dev/vda", "attachment_id": "a1",
                         "volume_id": id, "host_name": null}],
        "group_id": "g1", "provider_id": "volume-abc-cinder",
        "metadata": {"array_volume_name": "ignored-when-provider-id", "k": "v"},
        "description": null, "availability_zone": "nova"
    })
}

#[tokio::test]
async fn get_volume_maps_the_admin_view_at_3_21() {
    let f = Fixture::start().await;
    cinder("GET", "volumes/v1", "3.21")
        .respond_with(json_response(
            200,
            json!({"volume": volume_json("v1", "web-root")}),
        ))
        .expect(1)
        .mount(&f.server)
        .await;
    let volume = f
        .cloud
        .block_storage()
        .get_volume("v1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        volume,
        Volume {
            id: "v1".into(),
            name: "web-root".into(),
            status: "in-use".into(),
            size_gb: 20,
            volume_type: "replicated".into(),
            bootable: true,
            host: Some("ctrl1@pure#pure".into()),
            project_id: "owner-project".into(),
            attachments: vec![VolumeAttachment {
                server_id: "s1".into(),
                device: "/dev/vda".into(),
            }],
            group_id: Some("g1".into()),
            array_volume: Some("volume-abc-cinder".into()),
            metadata: BTreeMap::from([
                (
                    "array_volume_name".into(),
                    "ignored-when-provider-id".into()
                ),
                ("k".into(), "v".into()),
            ]),
        }
    );
}

#[tokio::test]
async fn a_member_s_view_falls_back_to_metadata_and_the_token_project() {
    let f = Fixture::start().await;
    let body = json!({"volume": {"id": "v2", "name": null, "status": "available", "size": 1,
        "volume_type": null, "bootable": "false", "attachments": [], "group_id": null,
        "metadata": {"array_volume_name": "vol-7"}}});
    cinder("GET", "volumes/v2", "3.21")
        .respond_with(json_response(200, body))
        .mount(&f.server)
        .await;
    let volume = f
        .cloud
        .block_storage()
        .get_volume("v2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(volume.array_volume.as_deref(), Some("vol-7"));
    assert_eq!(volume.project_id, PROJECT);
    assert_eq!(volume.name, "");
    assert!(!volume.bootable);
    assert_eq!(volume.host, None);
    assert_eq!(volume.group_id, None);
}

#[tokio::test]
async fn a_missing_volume_is_none() {
    let f = Fixture::start().await;
    cinder("GET", "volumes/gone", "3.21")
        .respond_with(nova_fault(
            404,
            "itemNotFound",
            "Volume gone could not be found.",
        ))
        .expect(1)
        .mount(&f.server)
        .await;
    assert_eq!(
        f.cloud.block_storage().get_volume("gone").await.unwrap(),
        None
    );
}

#[tokio::test]
async fn list_volumes_filters_by_name_and_metadata_across_pages() {
    let f = Fixture::start().await;
    let mut tagged = volume_json("v2", "web-root");
    tagged["metadata"] = json!({"protector:step": "s9"});
    cinder("GET", "volumes/detail", "3.21")
        .and(query_param("name", "web-root"))
        .and(wiremock::matchers::query_param_is_missing("marker"))
        .respond_with(json_response(200, json!({
            "volumes": [volume_json("v1", "web-root")],
            "volumes_links": [{"rel": "next", "href": format!("http://cinder.invalid/v3/{PROJECT}/volumes/detail?name=web-root&marker=v1")}]
        })))
        .expect(1)
        .mount(&f.server)
        .await;
    cinder("GET", "volumes/detail", "3.21")
        .and(query_param("marker", "v1"))
        .respond_with(json_response(200, json!({ "volumes": [tagged] })))
        .expect(1)
        .mount(&f.server)
        .await;
    let filter = ListVolumes {
        name: Some("web-root".into()),
        metadata: Some(("protector:step".into(), "s9".into())),
    };
    let volumes = f.cloud.block_storage().list_volumes(&filter).await.unwrap();
    let ids: Vec<&str> = volumes.iter().map(|v| v.id.as_str()).collect();
    assert_eq!(ids, ["v2"]);
}

fn type_json(id: &str, name: &str) -> Value {
    json!({"id": id, "name": name, "is_public": true, "description": null,
           "extra_specs": {"replication_enabled": "<is> True", "replication_type": "<in> async"}})
}

#[tokio::test]
async fn find_volume_type_by_id_then_by_name() {
    let f = Fixture::start().await;
    cinder("GET", "types/t1", "3.0")
        .respond_with(json_response(
            200,
            json!({"volume_type": type_json("t1", "replicated")}),
        ))
        .expect(1)
        .mount(&f.server)
        .await;
    for name in ["replicated", "nothing"] {
        cinder("GET", &format!("types/{name}"), "3.0")
            .respond_with(nova_fault(
                404,
                "itemNotFound",
                "Volume type could not be found.",
            ))
            .expect(1)
            .mount(&f.server)
            .await;
    }
    cinder("GET", "types", "3.0")
        .and(query_param("is_public", "None"))
        .respond_with(json_response(
            200,
            json!({"volume_types": [type_json("t1", "replicated"), type_json("t2", "plain")]}),
        ))
        .expect(2)
        .mount(&f.server)
        .await;
    let storage = f.cloud.block_storage();
    let by_id = storage.find_volume_type("t1").await.unwrap().unwrap();
    assert_eq!(by_id.name, "replicated");
    assert!(by_id.replication_enabled());
    assert_eq!(by_id.replication_type().as_deref(), Some("async"));
    let by_name = storage
        .find_volume_type("replicated")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_name.id, "t1");
    assert_eq!(storage.find_volume_type("nothing").await.unwrap(), None);
}

#[tokio::test]
async fn list_volume_services_asks_for_cinder_volume() {
    let f = Fixture::start().await;
    cinder("GET", "os-services", "3.0")
        .and(query_param("binary", "cinder-volume"))
        .respond_with(json_response(
            200,
            json!({"services": [
            {"binary": "cinder-volume", "host": "ctrl1@pure", "zone": "nova", "status": "enabled",
             "state": "up", "updated_at": "2026-01-01T00:00:00", "disabled_reason": null,
             "replication_status": "enabled", "active_backend_id": null, "frozen": false}]}),
        ))
        .expect(1)
        .mount(&f.server)
        .await;
    let services = f
        .cloud
        .block_storage()
        .list_volume_services()
        .await
        .unwrap();
    assert_eq!(
        services,
        [VolumeService {
            host: "ctrl1@pure".into(),
            binary: "cinder-volume".into(),
            state: "up".into(),
            status: "enabled".into(),
            zone: "nova".into(),
        }]
    );
    assert!(services[0].is_usable());
}

#[tokio::test]
async fn list_volume_services_without_admin_is_permission_denied() {
    let f = Fixture::start().await;
    cinder("GET", "os-services", "3.0")
        .respond_with(nova_fault(
            403,
            "forbidden",
            "Policy doesn't allow volume_extension:services:index to be performed.",
        ))
        .expect(1)
        .mount(&f.server)
        .await;
    let err = f
        .cloud
        .block_storage()
        .list_volume_services()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert!(err.message().contains("Policy doesn't allow"), "{err}");
}

fn manage_request() -> ManageVolume {
    ManageVolume {
        host: "ctrl1@pure#pure".into(),
        source_name: "pod1::volume-5a1b-cinder".into(),
        name: "web-root".into(),
        volume_type: "replicated".into(),
        bootable: true,
        description: "DR import".into(),
        metadata: BTreeMap::from([("protector:step".into(), "st-1".into())]),
    }
}

#[tokio::test]
async fn manage_volume_posts_to_manageable_volumes_at_3_8() {
    let f = Fixture::start().await;
    cinder("POST", "manageable_volumes", "3.8")
        .and(body_json(json!({"volume": {
            "host": "ctrl1@pure#pure", "ref": {"name": "pod1::volume-5a1b-cinder", "source-name": "pod1::volume-5a1b-cinder"},
            "name": "web-root", "description": "DR import", "volume_type": "replicated",
            "bootable": true, "metadata": {"protector:step": "st-1"}}})))
        .respond_with(json_response(
            202,
            json!({"volume": {"id": "new-v", "status": "creating",
            "size": 0, "name": "web-root", "bootable": "false", "attachments": [],
            "metadata": {}, "volume_type": null}}),
        ))
        .expect(1)
        .mount(&f.server)
        .await;
    let volume = f
        .cloud
        .block_storage()
        .manage_volume(&manage_request())
        .await
        .unwrap();
    assert_eq!(volume.id, "new-v");
    assert_eq!(volume.status, "creating");
    assert_eq!(volume.volume_type, "replicated");
    assert!(volume.bootable);
    assert_eq!(volume.metadata["protector:step"], "st-1");
}

#[tokio::test]
async fn manage_of_an_already_managed_volume_is_invalid_input() {
    let f = Fixture::start().await;
    cinder("POST", "manageable_volumes", "3.8")
        .respond_with(nova_fault(
            400,
            "badRequest",
            "Manage existing volume failed due to invalid backend reference: already managed.",
        ))
        .expect(1)
        .mount(&f.server)
        .await;
    let err = f
        .cloud
        .block_storage()
        .manage_volume(&manage_request())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(
        err.context_value("array_volume"),
        Some("pod1::volume-5a1b-cinder")
    );
}

#[tokio::test]
async fn unmanage_sends_os_unmanage_and_a_missing_volume_is_done() {
    let f = Fixture::start().await;
    cinder("POST", "volumes/v1/action", "3.0")
        .and(body_json(json!({"os-unmanage": null})))
        .respond_with(ResponseTemplate::new(202))
        .expect(1)
        .mount(&f.server)
        .await;
    cinder("POST", "volumes/gone/action", "3.0")
        .respond_with(nova_fault(
            404,
            "itemNotFound",
            "Volume gone could not be found.",
        ))
        .expect(1)
        .mount(&f.server)
        .await;
    f.cloud.block_storage().unmanage_volume("v1").await.unwrap();
    f.cloud
        .block_storage()
        .unmanage_volume("gone")
        .await
        .unwrap();
}

#[tokio::test]
async fn unmanage_of_a_busy_volume_is_a_conflict() {
    let f = Fixture::start().await;
    cinder("POST", "volumes/v1/action", "3.0")
        .respond_with(nova_fault(400, "badRequest", "Invalid volume: Volume status must be available or error, but current status is: in-use."))
        .expect(1)
        .mount(&f.server)
        .await;
    let err = f
        .cloud
        .block_storage()
        .unmanage_volume("v1")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert!(
        err.message().contains("current status is: in-use."),
        "{err}"
    );
    assert_eq!(err.context_value("request_id"), Some("req-nova"));
    assert_eq!(err.context_value("volume"), Some("v1"));
}

#[tokio::test]
async fn delete_volume_and_a_missing_one() {
    let f = Fixture::start().await;
    cinder("DELETE", "volumes/v1", "3.0")
        .respond_with(ResponseTemplate::new(202))
        .expect(1)
        .mount(&f.server)
        .await;
    cinder("DELETE", "volumes/gone", "3.0")
        .respond_with(nova_fault(
            404,
            "itemNotFound",
            "Volume gone could not be found.",
        ))
        .expect(1)
        .mount(&f.server)
        .await;
    f.cloud.block_storage().delete_volume("v1").await.unwrap();
    f.cloud.block_storage().delete_volume("gone").await.unwrap();
}
