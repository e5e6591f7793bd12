//! Following pages: continuation tokens, the x-next-token header, offsets for sorted listings.

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::common::*;

async fn paged_fake() -> Fake {
    let fake = Fake::bare(|b| b.with_page_size(2)).await;
    mount_versions(&fake.server, VERSIONS).await;
    mount_login(&fake.server, VERSION, SESSION).await;
    fake
}

fn members(names: &[&str]) -> Vec<serde_json::Value> {
    names
        .iter()
        .map(|n| json!({"group": {"name": "pg1"}, "member": {"name": n}}))
        .collect()
}

#[tokio::test]
async fn follows_continuation_tokens_with_one_request_id() {
    let fake = paged_fake().await;
    Mock::given(method("GET"))
        .and(path(api("protection-groups/volumes")))
        .and(exact_query(&[("group_names", "pg1"), ("limit", "2")]))
        .and(authed())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "items": members(&["v1", "v2"]),
            "continuation_token": "Mg==",
            "more_items_remaining": true,
            "total_item_count": null
        })))
        .expect(1)
        .mount(&fake.server)
        .await;
    Mock::given(method("GET"))
        .and(path(api("protection-groups/volumes")))
        .and(exact_query(&[
            ("group_names", "pg1"),
            ("limit", "2"),
            ("continuation_token", "Mg=="),
        ]))
        .respond_with(items(json!(members(&["v3"]))))
        .expect(1)
        .mount(&fake.server)
        .await;
    Mock::given(method("GET"))
        .and(path(api("protection-groups")))
        .respond_with(items(json!([{"name": "pg1", "is_local": true}])))
        .mount(&fake.server)
        .await;
    Mock::given(method("GET"))
        .and(path(api("protection-groups/targets")))
        .respond_with(items(json!([])))
        .mount(&fake.server)
        .await;
    let pg = fake
        .array()
        .get_protection_group("pg1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pg.volumes, vec!["v1", "v2", "v3"]);
    let pages = fake
        .requests_to("GET", &api("protection-groups/volumes"))
        .await;
    let ids: Vec<&str> = pages
        .iter()
        .map(|r| r.headers.get("x-request-id").unwrap().to_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(
        ids[0], ids[1],
        "one request id across the pages of a listing"
    );
    fake.check_headers().await;
}

#[tokio::test]
async fn follows_the_next_token_header() {
    let fake = paged_fake().await;
    Mock::given(method("GET"))
        .and(path(api("pods")))
        .and(exact_query(&[("names", "pod1"), ("limit", "2")]))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-next-token", "Tk9=")
                .set_body_json(json!({"items": [{"name": "pod1"}]})),
        )
        .expect(1)
        .mount(&fake.server)
        .await;
    Mock::given(method("GET"))
        .and(path(api("pods")))
        .and(exact_query(&[
            ("names", "pod1"),
            ("limit", "2"),
            ("continuation_token", "Tk9="),
        ]))
        .respond_with(items(json!([])))
        .expect(1)
        .mount(&fake.server)
        .await;
    assert!(fake.array().get_pod("pod1").await.unwrap().is_some());
}

#[tokio::test]
async fn sorted_listings_page_by_offset() {
    let fake = paged_fake().await;
    let snap =
        |n: u32| json!({"name": format!("pg1.{n}"), "created": n, "source": {"name": "pg1"}});
    let base = [
        ("source_names", "pg1"),
        ("destroyed", "false"),
        ("sort", "created"),
        ("limit", "2"),
    ];
    Mock::given(method("GET"))
        .and(path(api("protection-group-snapshots")))
        .and(exact_query(&base))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "items": [snap(1), snap(2)], "more_items_remaining": true
        })))
        .expect(1)
        .mount(&fake.server)
        .await;
    let mut second = base.to_vec();
    second.push(("offset", "2"));
    Mock::given(method("GET"))
        .and(path(api("protection-group-snapshots")))
        .and(exact_query(&second))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "items": [snap(3)], "more_items_remaining": false
        })))
        .expect(1)
        .mount(&fake.server)
        .await;
    let names: Vec<String> = fake
        .array()
        .list_pg_snapshots("pg1")
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, vec!["pg1.1", "pg1.2", "pg1.3"]);
}

#[tokio::test]
async fn a_repeated_token_is_an_error_not_a_loop() {
    let fake = paged_fake().await;
    Mock::given(method("GET"))
        .and(path(api("pods")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "items": [{"name": "pod1"}], "continuation_token": "same", "more_items_remaining": true
        })))
        .expect(2)
        .mount(&fake.server)
        .await;
    let err = fake.array().get_pod("pod1").await.unwrap_err();
    assert!(err.message().contains("same continuation token"), "{err}");
}
