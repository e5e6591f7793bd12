//! `changed_bytes_since`: `GET /volumes/diff` over the whole volume, segment by segment and
//! page by page, summing the extents; missing objects and old arrays.

use protector_core::ErrorKind;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::*;

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;
const VOLUME: &str = "volume-4c73-cinder";
const BASE: &str = "cinder-group.3.volume-4c73-cinder";

/// Mounts `GET /volumes?names=VOLUME` answering a volume of `bytes`.
async fn mount_volume(server: &MockServer, version: &str, bytes: u64) {
    Mock::given(method("GET"))
        .and(path(format!("/api/{version}/volumes")))
        .and(exact_query(&[("names", VOLUME), ("limit", "500")]))
        .respond_with(items(json!([{
            "name": VOLUME, "provisioned": bytes, "serial": "S", "created": 1, "destroyed": false
        }])))
        .mount(server)
        .await;
}

/// The query of one diff request for the segment at `offset` of `length` bytes.
fn diff_query(offset: u64, length: u64, extra: &[(&str, &str)]) -> ExactQuery {
    let offset = offset.to_string();
    let length = length.to_string();
    let block = MIB.to_string();
    let mut pairs = vec![
        ("names", VOLUME),
        ("base_name", BASE),
        ("block_size", block.as_str()),
        ("segment_offset", offset.as_str()),
        ("segment_length", length.as_str()),
        ("limit", "500"),
    ];
    pairs.extend_from_slice(extra);
    exact_query(&pairs)
}

fn extents(list: &[(u64, u64)]) -> serde_json::Value {
    json!(list
        .iter()
        .map(|(offset, length)| json!({"context": {"name": "array-a"}, "offset": offset, "length": length}))
        .collect::<Vec<_>>())
}

#[tokio::test]
async fn sums_the_extents_of_a_one_segment_volume() {
    let fake = Fake::start().await;
    mount_volume(&fake.server, VERSION, 4 * GIB).await;
    Mock::given(method("GET"))
        .and(path(api("volumes/diff")))
        .and(diff_query(0, 4 * GIB, &[]))
        .and(authed())
        .respond_with(items(extents(&[(0, MIB), (8 * MIB, 3 * MIB), (GIB, 512)])))
        .expect(1)
        .mount(&fake.server)
        .await;
    let changed = fake
        .array()
        .changed_bytes_since(VOLUME, BASE)
        .await
        .unwrap();
    assert_eq!(changed, 4 * MIB + 512);
    fake.check_headers().await;
}

#[tokio::test]
async fn nothing_changed_is_zero() {
    let fake = Fake::start().await;
    mount_volume(&fake.server, VERSION, GIB).await;
    Mock::given(method("GET"))
        .and(path(api("volumes/diff")))
        .and(diff_query(0, GIB, &[]))
        .respond_with(items(json!([])))
        .expect(1)
        .mount(&fake.server)
        .await;
    assert_eq!(
        fake.array()
            .changed_bytes_since(VOLUME, BASE)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn walks_every_segment_and_every_page() {
    let fake = Fake::start().await;
    // 16 GiB segments: [0, 16 GiB) in two pages, then the last 4 GiB and 512 bytes.
    let size = 20 * GIB + 512;
    mount_volume(&fake.server, VERSION, size).await;
    Mock::given(method("GET"))
        .and(path(api("volumes/diff")))
        .and(diff_query(0, 16 * GIB, &[]))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "items": extents(&[(0, 2 * MIB), (4 * MIB, MIB)]),
            "continuation_token": "page-2",
            "more_items_remaining": true,
            "total_item_count": null
        })))
        .expect(1)
        .mount(&fake.server)
        .await;
    Mock::given(method("GET"))
        .and(path(api("volumes/diff")))
        .and(diff_query(0, 16 * GIB, &[("continuation_token", "page-2")]))
        .respond_with(items(extents(&[(10 * GIB, 5 * MIB)])))
        .expect(1)
        .mount(&fake.server)
        .await;
    Mock::given(method("GET"))
        .and(path(api("volumes/diff")))
        .and(diff_query(16 * GIB, 4 * GIB + 512, &[]))
        .respond_with(items(extents(&[(20 * GIB, 512)])))
        .expect(1)
        .mount(&fake.server)
        .await;
    let changed = fake
        .array()
        .changed_bytes_since(VOLUME, BASE)
        .await
        .unwrap();
    assert_eq!(changed, 8 * MIB + 512);
}

#[tokio::test]
async fn missing_volume_or_base_is_not_found() {
    let fake = Fake::start().await;
    Mock::given(method("GET"))
        .and(path(api("volumes")))
        .and(exact_query(&[("names", "ghost"), ("limit", "500")]))
        .respond_with(pure_error(400, "ghost", "Volume does not exist."))
        .mount(&fake.server)
        .await;
    mount_volume(&fake.server, VERSION, GIB).await;
    Mock::given(method("GET"))
        .and(path(api("volumes/diff")))
        .and(diff_query(0, GIB, &[]))
        .respond_with(pure_error(400, BASE, "Volume snapshot does not exist."))
        .expect(1)
        .mount(&fake.server)
        .await;

    let err = fake
        .array()
        .changed_bytes_since("ghost", BASE)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert!(
        err.to_string().contains("volume ghost does not exist"),
        "{err}"
    );
    let err = fake
        .array()
        .changed_bytes_since(VOLUME, BASE)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert!(err.to_string().contains("does not exist"), "{err}");
    assert!(fake
        .requests_to("GET", &api("volumes/diff"))
        .await
        .iter()
        .all(|r| r
            .url
            .query_pairs()
            .any(|(k, v)| k == "base_name" && v == BASE)));
}

#[tokio::test]
async fn an_endpoint_the_array_lacks_is_not_found() {
    let fake = Fake::start().await;
    mount_volume(&fake.server, VERSION, GIB).await;
    Mock::given(method("GET"))
        .and(path(api("volumes/diff")))
        .respond_with(pure_error(404, "", "Not found."))
        .expect(1)
        .mount(&fake.server)
        .await;
    let err = fake
        .array()
        .changed_bytes_since(VOLUME, BASE)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
}

#[tokio::test]
async fn arrays_before_rest_2_9_are_unsupported() {
    let fake = Fake::bare(|b| b).await;
    mount_versions(&fake.server, &["1.19", "2.0", "2.8"]).await;
    mount_login(&fake.server, "2.8", SESSION).await;
    mount_volume(&fake.server, "2.8", GIB).await;
    let err = fake
        .array()
        .changed_bytes_since(VOLUME, BASE)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
    assert!(err.to_string().contains("REST 2.9 or later"), "{err}");
    assert!(fake
        .requests_to("GET", "/api/2.8/volumes/diff")
        .await
        .is_empty());
}
