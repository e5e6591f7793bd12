//! Cinder generic volume groups: create (group type choice), show, update, delete.

use protector_core::api::{BlockStorageApi, CreateVolumeGroup};
use protector_core::ErrorKind;
use serde_json::{json, Value};
use wiremock::matchers::{body_json, query_param};
use wiremock::ResponseTemplate;

use super::support::*;

fn type_json(id: &str, name: &str) -> Value {
    json!({"id": id, "name": name, "is_public": true,
           "extra_specs": {"replication_enabled": "<is> True"}})
}

fn volume_json(id: &str, group: Option<&str>) -> Value {
    json!({"id": id, "name": id, "status": "available", "size": 1, "bootable": "false",
           "attachments": [], "group_id": group, "metadata": {}})
}

#[tokio::test]
async fn create_volume_group_picks_the_consistency_group_type() {
    let f = Fixture::start().await;
    cinder("GET", "types/replicated", "3.0")
        .respond_with(nova_fault(
            404,
            "itemNotFound",
            "Volume type could not be found.",
        ))
        .mount(&f.server)
        .await;
    cinder("GET", "types", "3.0")
        .respond_with(json_response(
            200,
            json!({"volume_types": [type_json("t1", "replicated")]}),
        ))
        .mount(&f.server)
        .await;
    cinder("GET", "group_types", "3.11")
        .respond_with(json_response(200, json!({"group_types": [
            {"id": "gt-plain", "name": "a-plain", "group_specs": {}},
            {"id": "gt-cg", "name": "cg", "group_specs": {"consistent_group_snapshot_enabled": "<is> True"}}]})))
        .expect(1)
        .mount(&f.server)
        .await;
    cinder("POST", "groups", "3.13")
        .and(body_json(
            json!({"group": {"name": "pg-web", "description": "web tier",
            "group_type": "gt-cg", "volume_types": ["t1"]}}),
        ))
        .respond_with(json_response(
            202,
            json!({"group": {"id": "g1", "name": "pg-web"}}),
        ))
        .expect(1)
        .mount(&f.server)
        .await;
    let group = f
        .cloud
        .block_storage()
        .create_volume_group(&CreateVolumeGroup {
            name: "pg-web".into(),
            description: "web tier".into(),
            volume_type: "replicated".into(),
        })
        .await
        .unwrap();
    assert_eq!(group.id, "g1");
    assert_eq!(group.status, "creating");
    assert_eq!(group.volume_types, ["t1"]);
}

#[tokio::test]
async fn create_volume_group_falls_back_to_the_default_group_type() {
    let f = Fixture::start().await;
    cinder("GET", "types/t1", "3.0")
        .respond_with(json_response(
            200,
            json!({"volume_type": type_json("t1", "replicated")}),
        ))
        .mount(&f.server)
        .await;
    cinder("GET", "group_types", "3.11")
        .respond_with(json_response(200, json!({"group_types": []})))
        .mount(&f.server)
        .await;
    cinder("GET", "group_types/default", "3.11")
        .respond_with(json_response(200, json!({"group_type": {"id": "gt-default", "name": "default_group_type", "group_specs": {}}})))
        .expect(1)
        .mount(&f.server)
        .await;
    cinder("POST", "groups", "3.13")
        .and(wiremock::matchers::body_partial_json(
            json!({"group": {"group_type": "gt-default"}}),
        ))
        .respond_with(json_response(202, json!({"group": {"id": "g2"}})))
        .expect(1)
        .mount(&f.server)
        .await;
    let request = CreateVolumeGroup {
        name: "pg".into(),
        description: String::new(),
        volume_type: "t1".into(),
    };
    let group = f
        .cloud
        .block_storage()
        .create_volume_group(&request)
        .await
        .unwrap();
    assert_eq!(group.id, "g2");
}

#[tokio::test]
async fn get_volume_group_lists_member_ids_at_3_25() {
    let f = Fixture::start().await;
    cinder("GET", "groups/g1", "3.25")
        .and(query_param("list_volume", "True"))
        .respond_with(json_response(
            200,
            json!({"group": {"id": "g1", "name": "pg-web",
            "status": "available", "group_type": "gt-cg", "volume_types": ["t1"],
            "volumes": ["v1", "v2"]}}),
        ))
        .expect(1)
        .mount(&f.server)
        .await;
    cinder("GET", "groups/gone", "3.25")
        .respond_with(nova_fault(
            404,
            "itemNotFound",
            "Group gone could not be found.",
        ))
        .expect(1)
        .mount(&f.server)
        .await;
    let group = f
        .cloud
        .block_storage()
        .get_volume_group("g1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(group.volume_ids, ["v1", "v2"]);
    assert_eq!(group.status, "available");
    assert_eq!(
        f.cloud
            .block_storage()
            .get_volume_group("gone")
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn get_volume_group_before_3_25_finds_members_through_their_group_id() {
    let f = Fixture::with_versions("2.100", "3.20").await;
    cinder("GET", "groups/g1", "3.20")
        .respond_with(json_response(200, json!({"group": {"id": "g1", "name": "pg", "status": "available", "volume_types": ["t1"]}})))
        .expect(1)
        .mount(&f.server)
        .await;
    cinder("GET", "volumes/detail", "3.20")
        .respond_with(json_response(
            200,
            json!({"volumes": [volume_json("v1", Some("g1")), volume_json("v9", None)]}),
        ))
        .expect(1)
        .mount(&f.server)
        .await;
    let group = f
        .cloud
        .block_storage()
        .get_volume_group("g1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(group.volume_ids, ["v1"]);
}

#[tokio::test]
async fn groups_need_3_13_and_say_so_once_the_cloud_refused_the_call() {
    let f = Fixture::with_versions("2.100", "3.10").await;
    let err = f
        .cloud
        .block_storage()
        .get_volume_group("g1")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert_eq!(
        err.message(),
        "show volume group g1: needs block-storage API microversion 3.13 or later, the cloud offers up to 3.10; upgrade the service"
    );
    // Asked once at the preferred version (refused with 406), then the version document; not
    // sent again at a version the call cannot work with.
    let sent = f.server.received_requests().await.unwrap();
    let groups: Vec<_> = sent
        .iter()
        .filter(|r| r.url.path().contains("groups"))
        .collect();
    assert_eq!(groups.len(), 1);
    assert_eq!(f.requests_to("/volume/v3/").await, 1);
}

#[tokio::test]
async fn update_volume_group_sends_comma_separated_ids_and_skips_empty_updates() {
    let f = Fixture::start().await;
    cinder("PUT", "groups/g1", "3.13")
        .and(body_json(
            json!({"group": {"add_volumes": "v1,v2", "remove_volumes": "v3"}}),
        ))
        .respond_with(ResponseTemplate::new(202))
        .expect(1)
        .mount(&f.server)
        .await;
    let storage = f.cloud.block_storage();
    storage
        .update_volume_group("g1", &["v1".into(), "v2".into()], &["v3".into()])
        .await
        .unwrap();
    // Nothing to change sends nothing (any PUT would miss the mock and fail with 404).
    storage.update_volume_group("g1", &[], &[]).await.unwrap();
    let puts = f.server.received_requests().await.unwrap();
    assert_eq!(
        puts.iter().filter(|r| r.method.as_str() == "PUT").count(),
        1
    );
}

#[tokio::test]
async fn delete_volume_group_keeps_volumes_and_a_missing_group_is_done() {
    let f = Fixture::start().await;
    cinder("POST", "groups/g1/action", "3.13")
        .and(body_json(json!({"delete": {"delete-volumes": false}})))
        .respond_with(ResponseTemplate::new(202))
        .expect(1)
        .mount(&f.server)
        .await;
    cinder("POST", "groups/gone/action", "3.13")
        .respond_with(nova_fault(
            404,
            "itemNotFound",
            "Group gone could not be found.",
        ))
        .expect(1)
        .mount(&f.server)
        .await;
    f.cloud
        .block_storage()
        .delete_volume_group("g1")
        .await
        .unwrap();
    f.cloud
        .block_storage()
        .delete_volume_group("gone")
        .await
        .unwrap();
}
