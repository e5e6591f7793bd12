//! Protection groups: reads, members, targets, the target's consent, schedule, destroy.

use protector_core::api::{PgParts, PgTarget};
use protector_core::ErrorKind;
use serde_json::json;
use wiremock::matchers::{body_json, method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::common::*;

async fn mount_members(fake: &Fake, group: &str, members: &[&str]) {
    let items_json: Vec<_> = members
        .iter()
        .map(|m| json!({"group": {"name": group}, "member": {"name": m, "destroyed": false}}))
        .collect();
    Mock::given(method("GET"))
        .and(path(api("protection-groups/volumes")))
        .and(exact_query(&[("group_names", group), ("limit", "500")]))
        .and(authed())
        .respond_with(items(json!(items_json)))
        .mount(&fake.server)
        .await;
}

/// `POST /protection-groups/volumes` of `members` (comma-separated) into `pg1`, answered with
/// `answer`, expected once.
async fn mount_add(fake: &Fake, members: &str, answer: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path(api("protection-groups/volumes")))
        .and(exact_query(&[
            ("group_names", "pg1"),
            ("member_names", members),
        ]))
        .and(authed())
        .respond_with(answer)
        .expect(1)
        .mount(&fake.server)
        .await;
}

/// The array's refusal of a volume that already is a member of `pg1`.
fn already_member() -> ResponseTemplate {
    pure_error(400, "vol-1", "Volume is already in protection group pg1.")
}

#[tokio::test]
async fn get_protection_group_reads_group_members_and_targets() {
    let fake = Fake::start().await;
    Mock::given(method("GET"))
        .and(path(api("protection-groups")))
        .and(exact_query(&[("names", "pg1"), ("limit", "500")]))
        .and(authed())
        .respond_with(items(json!([{
            "name": "pg1", "is_local": true, "destroyed": false,
            "source": {"id": "a", "name": "array-a"},
            "replication_schedule": {"enabled": true, "frequency": 3600000, "at": null},
            "target_count": 1, "volume_count": 2
        }])))
        .expect(1)
        .mount(&fake.server)
        .await;
    mount_members(&fake, "pg1", &["vol-1", "vol-2"]).await;
    Mock::given(method("GET"))
        .and(path(api("protection-groups/targets")))
        .and(exact_query(&[("group_names", "pg1"), ("limit", "500")]))
        .respond_with(items(json!([{
            "group": {"name": "pg1"},
            "member": {"name": "array-b", "resource_type": "remote-arrays"},
            "allowed": true, "status": "replicating"
        }])))
        .expect(1)
        .mount(&fake.server)
        .await;
    let pg = fake
        .array()
        .get_protection_group("pg1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pg.name, "pg1");
    assert_eq!(pg.source, "array-a");
    assert_eq!(pg.volumes, vec!["vol-1", "vol-2"]);
    assert_eq!(
        pg.targets,
        vec![PgTarget {
            name: "array-b".into(),
            allowed: true
        }]
    );
    assert!(pg.replication_enabled);
    assert_eq!(pg.replication_frequency_secs, 3600);
    assert!(!pg.destroyed);
    fake.check_headers().await;
}

#[tokio::test]
async fn a_read_of_some_parts_asks_only_for_them() {
    let fake = Fake::start().await;
    Mock::given(method("GET"))
        .and(path(api("protection-groups")))
        .and(exact_query(&[("names", "pg1"), ("limit", "500")]))
        .respond_with(items(json!([{
            "name": "pg1", "is_local": true, "destroyed": false,
            "source": {"id": "a", "name": "array-a"}
        }])))
        .expect(2)
        .mount(&fake.server)
        .await;
    Mock::given(method("GET"))
        .and(path(api("protection-groups/targets")))
        .and(exact_query(&[("group_names", "pg1"), ("limit", "500")]))
        .respond_with(items(json!([{
            "group": {"name": "pg1"},
            "member": {"name": "array-b", "resource_type": "remote-arrays"},
            "allowed": false, "status": "disallowed"
        }])))
        .expect(1)
        .mount(&fake.server)
        .await;
    let group = fake
        .array()
        .get_protection_group_parts("pg1", PgParts::GROUP)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (group.name.as_str(), group.source.as_str()),
        ("pg1", "array-a")
    );
    assert!(group.volumes.is_empty() && group.targets.is_empty());
    let with_targets = fake
        .array()
        .get_protection_group_parts("pg1", PgParts::TARGETS)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        with_targets.targets,
        vec![PgTarget {
            name: "array-b".into(),
            allowed: false
        }]
    );
    assert!(with_targets.volumes.is_empty());
    // The members were never asked for.
    assert!(fake
        .requests_to("GET", &api("protection-groups/volumes"))
        .await
        .is_empty());
}

#[tokio::test]
async fn replica_group_members_include_remote_and_missing_group_is_none() {
    let fake = Fake::start().await;
    Mock::given(method("GET"))
        .and(path(api("protection-groups")))
        .and(exact_query(&[("names", "array-a:pg1"), ("limit", "500")]))
        .respond_with(items(json!([{"name": "array-a:pg1", "is_local": false}])))
        .mount(&fake.server)
        .await;
    Mock::given(method("GET"))
        .and(path(api("protection-groups/volumes")))
        .and(exact_query(&[
            ("group_names", "array-a:pg1"),
            ("include_remote", "true"),
            ("limit", "500"),
        ]))
        .respond_with(items(json!([{"member": {"name": "array-a:vol-1"}}])))
        .expect(1)
        .mount(&fake.server)
        .await;
    Mock::given(method("GET"))
        .and(path(api("protection-groups/targets")))
        .respond_with(items(json!([])))
        .mount(&fake.server)
        .await;
    Mock::given(method("GET"))
        .and(path(api("protection-groups")))
        .and(exact_query(&[("names", "nope"), ("limit", "500")]))
        .respond_with(pure_error(400, "nope", "Protection group does not exist."))
        .mount(&fake.server)
        .await;
    let pg = fake
        .array()
        .get_protection_group("array-a:pg1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pg.source, "array-a");
    assert_eq!(pg.volumes, vec!["array-a:vol-1"]);
    assert_eq!(
        fake.array().get_protection_group("nope").await.unwrap(),
        None
    );
}

/// The group, its members and its targets are read at once; the members are asked as a
/// replica's (`include_remote`) when the name says `source:pg`, and asked again when the array
/// says otherwise than the name.
#[tokio::test]
async fn members_are_asked_again_when_the_array_says_the_group_is_a_replica() {
    let fake = Fake::start().await;
    Mock::given(method("GET"))
        .and(path(api("protection-groups")))
        .and(exact_query(&[("names", "pg1"), ("limit", "500")]))
        .respond_with(items(json!([{"name": "pg1", "is_local": false}])))
        .expect(1)
        .mount(&fake.server)
        .await;
    Mock::given(method("GET"))
        .and(path(api("protection-groups/volumes")))
        .and(exact_query(&[("group_names", "pg1"), ("limit", "500")]))
        .respond_with(items(json!([{"member": {"name": "wrong"}}])))
        .expect(1)
        .mount(&fake.server)
        .await;
    Mock::given(method("GET"))
        .and(path(api("protection-groups/volumes")))
        .and(exact_query(&[
            ("group_names", "pg1"),
            ("include_remote", "true"),
            ("limit", "500"),
        ]))
        .respond_with(items(json!([{"member": {"name": "array-a:vol-1"}}])))
        .expect(1)
        .mount(&fake.server)
        .await;
    Mock::given(method("GET"))
        .and(path(api("protection-groups/targets")))
        .respond_with(items(json!([])))
        .expect(1)
        .mount(&fake.server)
        .await;
    let pg = fake
        .array()
        .get_protection_group("pg1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pg.volumes, vec!["array-a:vol-1"]);
}

#[tokio::test]
async fn create_protection_group_posts_the_name() {
    let fake = Fake::start().await;
    Mock::given(method("POST"))
        .and(path(api("protection-groups")))
        .and(exact_query(&[("names", "pg1")]))
        .and(authed())
        .respond_with(items(json!([{
            "name": "pg1", "source": {"name": "array-a"}, "destroyed": false,
            "replication_schedule": {"enabled": false, "frequency": 14400000}
        }])))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&fake.server)
        .await;
    Mock::given(method("POST"))
        .and(path(api("protection-groups")))
        .respond_with(pure_error(400, "pg1", "Protection group already exists."))
        .mount(&fake.server)
        .await;
    let pg = fake.array().create_protection_group("pg1").await.unwrap();
    assert_eq!((pg.name.as_str(), pg.source.as_str()), ("pg1", "array-a"));
    assert_eq!(pg.replication_frequency_secs, 14400);
    assert!(pg.volumes.is_empty() && pg.targets.is_empty());
    let err = fake
        .array()
        .create_protection_group("pg1")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists);
    let posts = fake.requests_to("POST", &api("protection-groups")).await;
    assert!(posts[0].body.is_empty());
    fake.check_headers().await;
}

#[tokio::test]
async fn add_volumes_sends_them_all_in_one_call() {
    let fake = Fake::start().await;
    Mock::given(method("POST"))
        .and(path(api("protection-groups/volumes")))
        .and(exact_query(&[
            ("group_names", "pg1"),
            ("member_names", "vol-1,vol-2"),
        ]))
        .and(authed())
        .respond_with(items(json!([])))
        .expect(1)
        .mount(&fake.server)
        .await;
    let volumes = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    fake.array()
        .add_protection_group_volumes("pg1", &volumes(&["vol-1", "vol-2"]))
        .await
        .unwrap();
    // Nothing to add: nothing sent.
    fake.array()
        .add_protection_group_volumes("pg1", &[])
        .await
        .unwrap();
    // No read of the members before the add.
    assert!(fake
        .requests_to("GET", &api("protection-groups/volumes"))
        .await
        .is_empty());
    fake.check_headers().await;
}

#[tokio::test]
async fn add_volumes_sends_only_new_members_when_the_array_says_some_already_are() {
    let fake = Fake::start().await;
    mount_members(&fake, "pg1", &["vol-1"]).await;
    mount_add(&fake, "vol-1,vol-2,vol-3", already_member()).await;
    mount_add(&fake, "vol-2,vol-3", items(json!([]))).await;
    mount_add(&fake, "vol-1", already_member()).await;
    let volumes = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    fake.array()
        .add_protection_group_volumes("pg1", &volumes(&["vol-1", "vol-2", "vol-3"]))
        .await
        .unwrap();
    // Already a member: the refusal is success, with nothing sent again.
    fake.array()
        .add_protection_group_volumes("pg1", &volumes(&["vol-1"]))
        .await
        .unwrap();
    fake.check_headers().await;
}

#[tokio::test]
async fn add_volumes_to_a_missing_group_is_not_found() {
    let fake = Fake::start().await;
    Mock::given(method("POST"))
        .and(path(api("protection-groups/volumes")))
        .respond_with(pure_error(400, "pgx", "Protection group does not exist."))
        .mount(&fake.server)
        .await;
    let err = fake
        .array()
        .add_protection_group_volumes("pgx", &["vol-1".to_string()])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn remove_volumes_sends_only_members() {
    let fake = Fake::start().await;
    mount_members(&fake, "pg1", &["vol-1", "vol-2"]).await;
    Mock::given(method("DELETE"))
        .and(path(api("protection-groups/volumes")))
        .and(exact_query(&[
            ("group_names", "pg1"),
            ("member_names", "vol-2"),
        ]))
        .and(authed())
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&fake.server)
        .await;
    fake.array()
        .remove_protection_group_volumes("pg1", &["vol-2".into(), "vol-9".into()])
        .await
        .unwrap();
    fake.array()
        .remove_protection_group_volumes("pg1", &["vol-9".into()])
        .await
        .unwrap();
    fake.check_headers().await;
}

#[tokio::test]
async fn add_target_twice_succeeds() {
    let fake = Fake::start().await;
    Mock::given(method("POST"))
        .and(path(api("protection-groups/targets")))
        .and(exact_query(&[
            ("group_names", "pg1"),
            ("member_names", "array-b"),
        ]))
        .and(authed())
        .respond_with(items(
            json!([{"group": {"name": "pg1"}, "member": {"name": "array-b"}, "allowed": false}]),
        ))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&fake.server)
        .await;
    Mock::given(method("POST"))
        .and(path(api("protection-groups/targets")))
        .respond_with(pure_error(
            400,
            "pg1",
            "Protection group already includes array-b.",
        ))
        .expect(1)
        .mount(&fake.server)
        .await;
    fake.array()
        .add_protection_group_target("pg1", "array-b")
        .await
        .unwrap();
    fake.array()
        .add_protection_group_target("pg1", "array-b")
        .await
        .unwrap();
    assert!(fake
        .requests_to("POST", &api("protection-groups/targets"))
        .await[0]
        .body
        .is_empty());
    fake.check_headers().await;
}

#[tokio::test]
async fn allow_on_target_names_this_array_and_twice_succeeds() {
    let fake = Fake::start().await;
    Mock::given(method("GET"))
        .and(path(api("arrays")))
        .respond_with(items(
            json!([{"id": "b", "name": "array-b", "version": "6.7.3"}]),
        ))
        .expect(1)
        .mount(&fake.server)
        .await;
    Mock::given(method("PATCH"))
        .and(path(api("protection-groups/targets")))
        .and(exact_query(&[
            ("group_names", "array-a:pg1"),
            ("member_names", "array-b"),
        ]))
        .and(body_json(json!({"allowed": true})))
        .and(authed())
        .respond_with(items(json!([{"allowed": true}])))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&fake.server)
        .await;
    Mock::given(method("PATCH"))
        .and(path(api("protection-groups/targets")))
        .respond_with(pure_error(
            400,
            "array-a:pg1",
            "Protection group is already allowed on array-b.",
        ))
        .expect(1)
        .mount(&fake.server)
        .await;
    fake.array()
        .set_protection_group_allowed("array-a:pg1", true)
        .await
        .unwrap();
    fake.array()
        .set_protection_group_allowed("array-a:pg1", true)
        .await
        .unwrap();
    fake.check_headers().await;
}

#[tokio::test]
async fn replication_schedule_is_sent_in_milliseconds() {
    let fake = Fake::start().await;
    Mock::given(method("PATCH"))
        .and(path(api("protection-groups")))
        .and(exact_query(&[("names", "pg1")]))
        .and(body_json(
            json!({"replication_schedule": {"enabled": true, "frequency": 900000}}),
        ))
        .and(authed())
        .respond_with(items(json!([{"name": "pg1"}])))
        .expect(1)
        .mount(&fake.server)
        .await;
    fake.array()
        .set_replication_schedule("pg1", true, 900)
        .await
        .unwrap();
    fake.check_headers().await;
}

#[tokio::test]
async fn destroy_protection_group_is_idempotent() {
    let fake = Fake::start().await;
    for (name, answer) in [
        ("pg1", items(json!([{"name": "pg1", "destroyed": true}]))),
        (
            "gone",
            pure_error(400, "gone", "Protection group does not exist."),
        ),
        (
            "dead",
            pure_error(400, "dead", "Protection group has been destroyed."),
        ),
    ] {
        Mock::given(method("PATCH"))
            .and(path(api("protection-groups")))
            .and(exact_query(&[("names", name)]))
            .and(body_json(json!({"destroyed": true})))
            .respond_with(answer)
            .expect(1)
            .mount(&fake.server)
            .await;
    }
    for name in ["pg1", "gone", "dead"] {
        fake.array().destroy_protection_group(name).await.unwrap();
    }
    fake.check_headers().await;
}
