//! The array and its volumes: request shape, decoding, "already done" contracts.

use protector_core::api::CopyVolume;
use protector_core::ErrorKind;
use serde_json::json;
use wiremock::matchers::{body_json, method, path};
use wiremock::Mock;

use crate::common::*;

#[tokio::test]
async fn array_info_decodes_identity() {
    let fake = Fake::start().await;
    Mock::given(method("GET"))
        .and(path(api("arrays")))
        .and(exact_query(&[("limit", "500")]))
        .and(authed())
        .respond_with(items(json!([{
            "id": "b8a4", "name": "array-a", "os": "Purity//FA", "version": "6.7.3",
            "_as_of": 1795312482018_i64, "capacity": 10995116277760_i64
        }])))
        .expect(1)
        .mount(&fake.server)
        .await;
    let info = fake.array().array_info().await.unwrap();
    assert_eq!(
        (info.id.as_str(), info.name.as_str(), info.version.as_str()),
        ("b8a4", "array-a", "6.7.3")
    );
    // The array's own clock, for measuring replication lag.
    assert_eq!(
        info.as_of.map(|t| t.timestamp_millis()),
        Some(1_795_312_482_018)
    );
    fake.check_headers().await;
}

#[tokio::test]
async fn array_connections_name_the_peer_and_its_link_status() {
    let fake = Fake::start().await;
    Mock::given(method("GET"))
        .and(path(api("array-connections")))
        .and(exact_query(&[("limit", "500")]))
        .and(authed())
        .respond_with(items(json!([
            {
                "id": "c1", "name": "array-b", "status": "connecting",
                "remote": {"id": "r1", "name": "array-b", "resource_type": "remote-arrays"},
                "type": "async-replication", "replication_transport": "ip"
            },
            {"id": "c2", "name": "array-c", "status": "connected"}
        ])))
        .expect(1)
        .mount(&fake.server)
        .await;
    let connections = fake.array().array_connections().await.unwrap();
    let seen: Vec<(&str, &str, bool)> = connections
        .iter()
        .map(|c| (c.name.as_str(), c.status.as_str(), c.is_connected()))
        .collect();
    assert_eq!(
        seen,
        [
            ("array-b", "connecting", false),
            ("array-c", "connected", true)
        ]
    );
    fake.check_headers().await;
}

#[tokio::test]
async fn get_volume_decodes_and_missing_is_none() {
    let fake = Fake::start().await;
    Mock::given(method("GET"))
        .and(path(api("volumes")))
        .and(exact_query(&[("names", "pod1::vol-1"), ("limit", "500")]))
        .and(authed())
        .respond_with(items(json!([{
            "id": "v1", "name": "pod1::vol-1", "provisioned": 1073741824_u64,
            "serial": "8343DFDE2DAFBE40000115E4", "created": 1795312480000_i64,
            "destroyed": false, "pod": {"id": "p", "name": "pod1"}, "source": null
        }])))
        .expect(1)
        .mount(&fake.server)
        .await;
    Mock::given(method("GET"))
        .and(path(api("volumes")))
        .and(exact_query(&[("names", "ghost"), ("limit", "500")]))
        .respond_with(pure_error(400, "ghost", "Volume does not exist."))
        .expect(1)
        .mount(&fake.server)
        .await;
    let v = fake
        .array()
        .get_volume("pod1::vol-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(v.name, "pod1::vol-1");
    assert_eq!(v.provisioned_bytes, 1073741824);
    assert_eq!(v.serial, "8343DFDE2DAFBE40000115E4");
    assert_eq!(v.pod.as_deref(), Some("pod1"));
    assert!(!v.destroyed);
    assert_eq!(v.created.timestamp_millis(), 1795312480000);
    assert_eq!(fake.array().get_volume("ghost").await.unwrap(), None);
    fake.check_headers().await;
}

#[tokio::test]
async fn copy_volume_sends_source_and_overwrite_only_when_asked() {
    let fake = Fake::start().await;
    let answer = items(json!([{"name": "vol-1", "provisioned": 512, "serial": "S", "created": 1}]));
    Mock::given(method("POST"))
        .and(path(api("volumes")))
        .and(exact_query(&[("names", "vol-1")]))
        .and(body_json(json!({"source": {"name": "array-a:pg.2.vol-1"}})))
        .and(authed())
        .respond_with(answer.clone())
        .expect(1)
        .mount(&fake.server)
        .await;
    Mock::given(method("POST"))
        .and(path(api("volumes")))
        .and(exact_query(&[("names", "vol-1"), ("overwrite", "true")]))
        .and(body_json(json!({"source": {"name": "array-a:pg.2.vol-1"}})))
        .respond_with(answer)
        .expect(1)
        .mount(&fake.server)
        .await;
    let mut request = CopyVolume {
        name: "vol-1".into(),
        source: "array-a:pg.2.vol-1".into(),
        overwrite: false,
    };
    let v = fake.array().copy_volume(&request).await.unwrap();
    assert_eq!((v.name.as_str(), v.provisioned_bytes), ("vol-1", 512));
    request.overwrite = true;
    fake.array().copy_volume(&request).await.unwrap();
    fake.check_headers().await;
}

#[tokio::test]
async fn copy_volume_maps_taken_name_and_missing_source() {
    let fake = Fake::start().await;
    Mock::given(method("POST"))
        .and(path(api("volumes")))
        .and(exact_query(&[("names", "taken")]))
        .respond_with(pure_error(400, "taken", "Volume already exists."))
        .mount(&fake.server)
        .await;
    Mock::given(method("POST"))
        .and(path(api("volumes")))
        .and(exact_query(&[("names", "new")]))
        .respond_with(pure_error(400, "nosnap", "No such volume or snapshot."))
        .mount(&fake.server)
        .await;
    let copy = |name: &str| CopyVolume {
        name: name.into(),
        source: "nosnap".into(),
        overwrite: false,
    };
    let err = fake.array().copy_volume(&copy("taken")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists);
    let err = fake.array().copy_volume(&copy("new")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(
        err.message().contains("copy volume new from nosnap"),
        "{err}"
    );
}

#[tokio::test]
async fn rename_volume_patches_the_name() {
    let fake = Fake::start().await;
    Mock::given(method("PATCH"))
        .and(path(api("volumes")))
        .and(exact_query(&[("names", "vol-1")]))
        .and(body_json(json!({"name": "vol-1-unmanaged"})))
        .and(authed())
        .respond_with(items(json!([{"name": "vol-1-unmanaged"}])))
        .expect(1)
        .mount(&fake.server)
        .await;
    fake.array()
        .rename_volume("vol-1", "vol-1-unmanaged")
        .await
        .unwrap();
    fake.check_headers().await;
}

#[tokio::test]
async fn destroy_volume_is_idempotent() {
    let fake = Fake::start().await;
    for (name, answer) in [
        ("live", items(json!([{"name": "live", "destroyed": true}]))),
        ("gone", pure_error(400, "gone", "Volume does not exist.")),
        (
            "dead",
            pure_error(400, "dead", "Volume has been destroyed."),
        ),
        (
            "busy",
            pure_error(
                400,
                "busy",
                "Volume cannot be deleted due to existing connections.",
            ),
        ),
    ] {
        Mock::given(method("PATCH"))
            .and(path(api("volumes")))
            .and(exact_query(&[("names", name)]))
            .and(body_json(json!({"destroyed": true})))
            .respond_with(answer)
            .expect(1)
            .mount(&fake.server)
            .await;
    }
    fake.array().destroy_volume("live").await.unwrap();
    fake.array().destroy_volume("gone").await.unwrap();
    fake.array().destroy_volume("dead").await.unwrap();
    let err = fake.array().destroy_volume("busy").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    fake.check_headers().await;
}

#[tokio::test]
async fn eradicate_volume_looks_first_then_deletes() {
    let fake = Fake::start().await;
    for (name, answer) in [
        ("dead", items(json!([{"name": "dead", "destroyed": true}]))),
        ("live", items(json!([{"name": "live", "destroyed": false}]))),
        ("gone", pure_error(400, "gone", "Volume does not exist.")),
    ] {
        Mock::given(method("GET"))
            .and(path(api("volumes")))
            .and(exact_query(&[("names", name), ("limit", "500")]))
            .respond_with(answer)
            .mount(&fake.server)
            .await;
    }
    Mock::given(method("DELETE"))
        .and(path(api("volumes")))
        .and(exact_query(&[("names", "dead")]))
        .and(authed())
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(json!({})))
        .expect(1)
        .mount(&fake.server)
        .await;
    fake.array().eradicate_volume("dead").await.unwrap();
    fake.array().eradicate_volume("gone").await.unwrap();
    let err = fake.array().eradicate_volume("live").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert!(err.message().contains("destroy it first"), "{err}");
    assert_eq!(fake.requests_to("DELETE", &api("volumes")).await.len(), 1);
    fake.check_headers().await;
}

#[tokio::test]
async fn list_volumes_by_name_prefix() {
    let fake = Fake::start().await;
    Mock::given(method("GET"))
        .and(path(api("volumes")))
        .and(exact_query(&[
            ("filter", "name='protector-*'"),
            ("limit", "500"),
        ]))
        .and(authed())
        .respond_with(items(json!([
            {"name": "protector-0badc0de-b", "provisioned": 1024, "serial": "S2",
             "destroyed": true, "created": 2},
            {"name": "protector-0badc0de-a", "provisioned": 1024, "serial": "S1",
             "destroyed": false, "created": 1}
        ])))
        .expect(1)
        .mount(&fake.server)
        .await;
    let volumes = fake.array().list_volumes("protector-").await.unwrap();
    let seen: Vec<(&str, bool)> = volumes
        .iter()
        .map(|v| (v.name.as_str(), v.destroyed))
        .collect();
    assert_eq!(
        seen,
        [
            ("protector-0badc0de-a", false),
            ("protector-0badc0de-b", true)
        ]
    );
    fake.check_headers().await;
}

/// Several volumes are one `GET /volumes?names=`, answered in the order asked; when the
/// array refuses the read because one name does not exist, each is read alone and the
/// missing one is `None`.
#[tokio::test]
async fn get_volumes_reads_many_at_once_and_a_missing_one_alone() {
    let fake = Fake::start().await;
    let volume = |name: &str| {
        json!({
            "id": format!("id-{name}"), "name": name, "provisioned": 1073741824_u64,
            "serial": "8343DFDE2DAFBE40000115E4", "created": 1795312480000_i64,
            "destroyed": false, "source": null
        })
    };
    Mock::given(method("GET"))
        .and(path(api("volumes")))
        .and(exact_query(&[("names", "vol-b,vol-a"), ("limit", "500")]))
        .and(authed())
        .respond_with(items(json!([volume("vol-a"), volume("vol-b")])))
        .expect(1)
        .mount(&fake.server)
        .await;
    Mock::given(method("GET"))
        .and(path(api("volumes")))
        .and(exact_query(&[("names", "vol-a,ghost"), ("limit", "500")]))
        .respond_with(pure_error(400, "ghost", "Volume does not exist."))
        .expect(1)
        .mount(&fake.server)
        .await;
    Mock::given(method("GET"))
        .and(path(api("volumes")))
        .and(exact_query(&[("names", "vol-a"), ("limit", "500")]))
        .respond_with(items(json!([volume("vol-a")])))
        .expect(1)
        .mount(&fake.server)
        .await;
    Mock::given(method("GET"))
        .and(path(api("volumes")))
        .and(exact_query(&[("names", "ghost"), ("limit", "500")]))
        .respond_with(pure_error(400, "ghost", "Volume does not exist."))
        .expect(1)
        .mount(&fake.server)
        .await;
    let names = |v: Vec<Option<protector_core::api::ArrayVolume>>| {
        v.into_iter().map(|v| v.map(|v| v.name)).collect::<Vec<_>>()
    };
    let read = fake
        .array()
        .get_volumes(&["vol-b".to_string(), "vol-a".to_string()])
        .await
        .unwrap();
    assert_eq!(
        names(read),
        [Some("vol-b".to_string()), Some("vol-a".to_string())]
    );
    let read = fake
        .array()
        .get_volumes(&["vol-a".to_string(), "ghost".to_string()])
        .await
        .unwrap();
    assert_eq!(names(read), [Some("vol-a".to_string()), None]);
    assert!(fake.array().get_volumes(&[]).await.unwrap().is_empty());
}
