//! Pg snapshots with replicate_now, transfer progress, volume snapshots, eradication.

use protector_core::api::CreatePgSnapshot;
use protector_core::ErrorKind;
use serde_json::json;
use wiremock::matchers::{body_json, method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::common::*;

#[tokio::test]
async fn create_pg_snapshot_with_replicate_now_retention_and_suffix() {
    let fake = Fake::start().await;
    Mock::given(method("POST"))
        .and(path(api("protection-group-snapshots")))
        .and(exact_query(&[
            ("source_names", "pg1"),
            ("replicate_now", "true"),
            ("apply_retention", "true"),
        ]))
        .and(body_json(json!({"suffix": "dr1"})))
        .and(authed())
        .respond_with(items(json!([{
            "name": "pg1.dr1", "suffix": "dr1", "created": 1795312482000_i64,
            "destroyed": false, "source": {"name": "pg1"}
        }])))
        .expect(1)
        .mount(&fake.server)
        .await;
    let snap = fake
        .array()
        .create_pg_snapshot(
            "pg1",
            &CreatePgSnapshot {
                replicate_now: true,
                apply_retention: true,
                suffix: Some("dr1".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (snap.name.as_str(), snap.source.as_str()),
        ("pg1.dr1", "pg1")
    );
    assert_eq!(snap.created.timestamp_millis(), 1795312482000);
    assert!(!snap.destroyed);
    fake.check_headers().await;
}

#[tokio::test]
async fn create_pg_snapshot_plain_has_no_flags_and_no_body() {
    let fake = Fake::start().await;
    Mock::given(method("POST"))
        .and(path(api("protection-group-snapshots")))
        .and(exact_query(&[("source_names", "pg1")]))
        .respond_with(items(json!([{"name": "pg1.7", "source": {"name": "pg1"}}])))
        .expect(1)
        .mount(&fake.server)
        .await;
    let snap = fake
        .array()
        .create_pg_snapshot("pg1", &CreatePgSnapshot::default())
        .await
        .unwrap();
    assert_eq!(snap.name, "pg1.7");
    assert!(fake
        .requests_to("POST", &api("protection-group-snapshots"))
        .await[0]
        .body
        .is_empty());
}

#[tokio::test]
async fn list_pg_snapshots_live_oldest_first() {
    let fake = Fake::start().await;
    Mock::given(method("GET"))
        .and(path(api("protection-group-snapshots")))
        .and(exact_query(&[
            ("source_names", "array-a:pg1"),
            ("destroyed", "false"),
            ("sort", "created"),
            ("limit", "500"),
        ]))
        .and(authed())
        .respond_with(items(json!([
            {"name": "array-a:pg1.1", "created": 1000, "source": {"name": "array-a:pg1"}},
            {"name": "array-a:pg1.2", "created": 2000, "source": {"name": "array-a:pg1"}}
        ])))
        .expect(1)
        .mount(&fake.server)
        .await;
    let snaps = fake.array().list_pg_snapshots("array-a:pg1").await.unwrap();
    let names: Vec<&str> = snaps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, vec!["array-a:pg1.1", "array-a:pg1.2"]);
    assert_eq!(snaps[0].source, "array-a:pg1");
    fake.check_headers().await;
}

#[tokio::test]
async fn transfers_newest_first_with_progress() {
    let fake = Fake::start().await;
    Mock::given(method("GET"))
        .and(path(api("protection-group-snapshots/transfer")))
        .and(exact_query(&[
            ("names", "array-a:pg1"),
            ("destroyed", "false"),
            ("sort", "started-"),
            ("limit", "500"),
        ]))
        .and(authed())
        .respond_with(items(json!([
            {"name": "array-a:pg1.2", "started": 2000, "completed": null, "progress": 0.5,
             "data_transferred": 512, "physical_bytes_written": 256, "destroyed": false},
            {"name": "array-a:pg1.1", "started": 1000, "completed": 1500, "progress": 1.0,
             "data_transferred": 1024, "destroyed": false},
            {"name": "array-a:pg1.3", "started": null, "completed": null, "progress": 0.0}
        ])))
        .expect(1)
        .mount(&fake.server)
        .await;
    Mock::given(method("GET"))
        .and(path(api("protection-group-snapshots/transfer")))
        .and(exact_query(&[
            ("names", "array-a:pg1.9"),
            ("destroyed", "false"),
            ("sort", "started-"),
            ("limit", "500"),
        ]))
        .respond_with(pure_error(
            400,
            "array-a:pg1.9",
            "Protection group snapshot does not exist.",
        ))
        .mount(&fake.server)
        .await;
    let transfers = fake
        .array()
        .list_pg_snapshot_transfers("array-a:pg1")
        .await
        .unwrap();
    let names: Vec<&str> = transfers.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        vec!["array-a:pg1.3", "array-a:pg1.2", "array-a:pg1.1"]
    );
    assert!(!transfers[1].is_complete());
    assert_eq!(transfers[1].progress, 0.5);
    assert!(transfers[2].is_complete());
    assert_eq!(transfers[2].data_transferred, 1024);
    assert_eq!(transfers[2].completed.unwrap().timestamp_millis(), 1500);
    let err = fake
        .array()
        .list_pg_snapshot_transfers("array-a:pg1.9")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    fake.check_headers().await;
}

#[tokio::test]
async fn volume_snapshots_by_name_filter() {
    let fake = Fake::start().await;
    Mock::given(method("GET"))
        .and(path(api("volume-snapshots")))
        .and(exact_query(&[
            ("filter", "name='array-a:pg1.2.*'"),
            ("destroyed", "false"),
            ("limit", "500"),
        ]))
        .and(authed())
        .respond_with(items(json!([
            {"name": "array-a:pg1.2.vol-2", "created": 2, "source": {"name": "array-a:vol-2"}},
            {"name": "array-a:pg1.2.vol-1", "created": 1, "source": {"name": "array-a:vol-1"}},
            {"name": "array-a:pg1.20.vol-1", "created": 1}
        ])))
        .expect(1)
        .mount(&fake.server)
        .await;
    let snaps = fake
        .array()
        .list_volume_snapshots("array-a:pg1.2")
        .await
        .unwrap();
    let got: Vec<(&str, &str)> = snaps
        .iter()
        .map(|s| (s.name.as_str(), s.source_volume.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("array-a:pg1.2.vol-1", "vol-1"),
            ("array-a:pg1.2.vol-2", "vol-2")
        ]
    );
    fake.check_headers().await;
}

#[tokio::test]
async fn volume_snapshots_of_a_missing_pg_snapshot_is_not_found() {
    let fake = Fake::start().await;
    Mock::given(method("GET"))
        .and(path(api("volume-snapshots")))
        .respond_with(items(json!([])))
        .mount(&fake.server)
        .await;
    Mock::given(method("GET"))
        .and(path(api("protection-group-snapshots")))
        .and(exact_query(&[
            ("names", "pg1.9"),
            ("destroyed", "false"),
            ("limit", "500"),
        ]))
        .respond_with(pure_error(
            400,
            "pg1.9",
            "Protection group snapshot does not exist.",
        ))
        .expect(1)
        .mount(&fake.server)
        .await;
    Mock::given(method("GET"))
        .and(path(api("protection-group-snapshots")))
        .and(exact_query(&[
            ("names", "pg1.8"),
            ("destroyed", "false"),
            ("limit", "500"),
        ]))
        .respond_with(items(json!([{"name": "pg1.8"}])))
        .expect(1)
        .mount(&fake.server)
        .await;
    let err = fake
        .array()
        .list_volume_snapshots("pg1.9")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(fake
        .array()
        .list_volume_snapshots("pg1.8")
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn eradicate_pg_snapshot_destroys_then_deletes_and_missing_succeeds() {
    let fake = Fake::start().await;
    Mock::given(method("PATCH"))
        .and(path(api("protection-group-snapshots")))
        .and(exact_query(&[("names", "pg1.3")]))
        .and(body_json(json!({"destroyed": true})))
        .and(authed())
        .respond_with(items(json!([{"name": "pg1.3", "destroyed": true}])))
        .expect(1)
        .mount(&fake.server)
        .await;
    Mock::given(method("PATCH"))
        .and(path(api("protection-group-snapshots")))
        .and(exact_query(&[("names", "pg1.4")]))
        .respond_with(pure_error(
            400,
            "pg1.4",
            "Protection group snapshot has been destroyed.",
        ))
        .expect(1)
        .mount(&fake.server)
        .await;
    Mock::given(method("PATCH"))
        .and(path(api("protection-group-snapshots")))
        .and(exact_query(&[("names", "pg1.5")]))
        .respond_with(pure_error(
            400,
            "pg1.5",
            "Protection group snapshot does not exist.",
        ))
        .expect(1)
        .mount(&fake.server)
        .await;
    for name in ["pg1.3", "pg1.4"] {
        Mock::given(method("DELETE"))
            .and(path(api("protection-group-snapshots")))
            .and(exact_query(&[("names", name)]))
            .and(authed())
            .respond_with(ResponseTemplate::new(200))
            .expect(1)
            .mount(&fake.server)
            .await;
    }
    for name in ["pg1.3", "pg1.4", "pg1.5"] {
        fake.array().eradicate_pg_snapshot(name).await.unwrap();
    }
    fake.check_headers().await;
}
