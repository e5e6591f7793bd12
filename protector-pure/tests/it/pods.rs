//! Pods: read, create, stretch (pods/members or pods/arrays by version), promote, demote.

use protector_core::ErrorKind;
use serde_json::json;
use wiremock::matchers::{body_json, method, path};
use wiremock::Mock;

use crate::common::*;

fn pod(arrays: &[(&str, &str)]) -> serde_json::Value {
    let arrays: Vec<_> = arrays
        .iter()
        .map(|(name, status)| json!({"id": name, "name": name, "status": status, "mediator_status": "online"}))
        .collect();
    json!({"name": "pod1", "arrays": arrays, "array_count": arrays.len(),
           "promotion_status": "promoted", "destroyed": false})
}

#[tokio::test]
async fn get_pod_decodes_and_missing_is_none() {
    let fake = Fake::start().await;
    Mock::given(method("GET"))
        .and(path(api("pods")))
        .and(exact_query(&[("names", "pod1"), ("limit", "500")]))
        .and(authed())
        .respond_with(items(json!([pod(&[
            ("array-a", "online"),
            ("array-b", "resyncing")
        ])])))
        .mount(&fake.server)
        .await;
    Mock::given(method("GET"))
        .and(path(api("pods")))
        .and(exact_query(&[("names", "nope"), ("limit", "500")]))
        .respond_with(pure_error(400, "nope", "Pod does not exist."))
        .mount(&fake.server)
        .await;
    let p = fake.array().get_pod("pod1").await.unwrap().unwrap();
    assert_eq!(p.name, "pod1");
    let arrays: Vec<(&str, &str)> = p
        .arrays
        .iter()
        .map(|a| (a.name.as_str(), a.status.as_str()))
        .collect();
    assert_eq!(
        arrays,
        vec![("array-a", "online"), ("array-b", "resyncing")]
    );
    assert_eq!(p.promotion_status, "promoted");
    assert_eq!(fake.array().get_pod("nope").await.unwrap(), None);
    fake.check_headers().await;
}

#[tokio::test]
async fn create_pod_posts_an_empty_object() {
    let fake = Fake::start().await;
    Mock::given(method("POST"))
        .and(path(api("pods")))
        .and(exact_query(&[("names", "pod1")]))
        .and(body_json(json!({})))
        .and(authed())
        .respond_with(items(json!([pod(&[("array-a", "online")])])))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&fake.server)
        .await;
    Mock::given(method("POST"))
        .and(path(api("pods")))
        .respond_with(pure_error(400, "pod1", "Pod already exists."))
        .mount(&fake.server)
        .await;
    assert_eq!(
        fake.array().create_pod("pod1").await.unwrap().arrays.len(),
        1
    );
    let err = fake.array().create_pod("pod1").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists);
    fake.check_headers().await;
}

#[tokio::test]
async fn stretch_uses_pods_members_from_2_36_and_twice_succeeds() {
    let fake = Fake::start().await;
    Mock::given(method("POST"))
        .and(path(api("pods/members")))
        .and(exact_query(&[
            ("pod_names", "pod1"),
            ("member_names", "array-b"),
        ]))
        .and(authed())
        .respond_with(items(
            json!([{"pod": {"name": "pod1"}, "member": {"name": "array-b"}}]),
        ))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&fake.server)
        .await;
    Mock::given(method("POST"))
        .and(path(api("pods/members")))
        .respond_with(pure_error(400, "pod1", "Pod already belongs to array-b."))
        .expect(1)
        .mount(&fake.server)
        .await;
    fake.array().add_pod_array("pod1", "array-b").await.unwrap();
    fake.array().add_pod_array("pod1", "array-b").await.unwrap();
    fake.check_headers().await;
}

#[tokio::test]
async fn stretch_uses_pods_arrays_before_2_36_and_limit_reached_is_checked() {
    let fake = Fake::bare(|b| b).await;
    mount_versions(&fake.server, &["2.0", "2.21"]).await;
    mount_login(&fake.server, "2.21", SESSION).await;
    for (array, message) in [
        ("array-b", "Pod array limit reached."),
        ("array-c", "Pod array limit reached."),
    ] {
        Mock::given(method("POST"))
            .and(path("/api/2.21/pods/arrays"))
            .and(exact_query(&[
                ("group_names", "pod1"),
                ("member_names", array),
            ]))
            .and(authed())
            .respond_with(pure_error(400, "pod1", message))
            .expect(1)
            .mount(&fake.server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/api/2.21/pods"))
        .respond_with(items(json!([pod(&[
            ("array-a", "online"),
            ("array-b", "online")
        ])])))
        .expect(2)
        .mount(&fake.server)
        .await;
    fake.array().add_pod_array("pod1", "array-b").await.unwrap();
    let err = fake
        .array()
        .add_pod_array("pod1", "array-c")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert!(err.message().contains("limit reached"), "{err}");
}

#[tokio::test]
async fn promote_and_demote_request_a_promotion_state() {
    let fake = Fake::start().await;
    for state in ["promoted", "demoted"] {
        Mock::given(method("PATCH"))
            .and(path(api("pods")))
            .and(exact_query(&[("names", "pod1")]))
            .and(body_json(json!({"requested_promotion_state": state})))
            .and(authed())
            .respond_with(items(json!([pod(&[("array-a", "online")])])))
            .expect(1)
            .mount(&fake.server)
            .await;
    }
    fake.array().promote_pod("pod1").await.unwrap();
    fake.array().demote_pod("pod1").await.unwrap();
    fake.check_headers().await;
}
