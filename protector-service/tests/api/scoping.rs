//! Tenant scoping with the simulator's real tokens: a member of another project neither sees
//! nor changes a production-project group (404, as a missing one) and cannot create one for
//! that project (403); the project's own member and an admin do.

use std::sync::Arc;

use protector_core::model::{Operation, OperationStatus, ProtectionGroup};
use protector_core::store::fixtures::{at, group, member, operation, site};
use protector_core::store::remote::DocumentWrite;
use protector_core::store::{GroupDocument, OperationQuery, Store, VersionCheck};
use protector_core::ErrorKind;
use reqwest::Method;
use serde_json::json;

use crate::support::{assert_error, call, remote, sqlite, ApiServer, Sim};

struct World {
    sim: Sim,
    api: ApiServer,
    store: Arc<protector_core::store::SqliteStore>,
    production: String,
    web: ProtectionGroup,
}

/// Site A's API over SQLite; group `web` of production-project, with a member and an
/// operation, written by the admin through the API.
async fn world() -> World {
    let sim = Sim::start().await;
    let store = sqlite(sim.dir.path(), "site-a");
    let (api, admin) = remote(&sim, "site-a", store.clone(), "site-a").await;
    let production = sim.sim.project_id("site-a", "production-project").unwrap();
    let mut web = group(1, "web");
    web.project_id = production.clone();
    web.project_name = "production-project".into();
    admin.put_group(&web).await.unwrap();
    admin
        .put_member(&member(11, web.id, "web-1"))
        .await
        .unwrap();
    let mut op: Operation = operation(21, at(1));
    op.group_id = Some(web.id);
    admin.put_operation(&op).await.unwrap();
    World {
        sim,
        api,
        store,
        production,
        web,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_projects_member_gets_404_for_a_group_and_403_to_create_one_for_its_project() {
    let w = world().await;
    let (token, tenant2) = w.sim.token("site-a-tenant2").await;
    let at = |path: &str| w.api.at(&tenant2, path);
    let web = format!("protection-groups/{}", w.web.id);
    let mut mine_now = w.web.clone();
    mine_now.description = "mine now".into();

    let (status, _, body) = call(Method::GET, &at("protection-groups"), Some(&token), None).await;
    assert_eq!((status, body), (200, json!({"protection_groups": []})));
    let (status, _, body) = call(Method::GET, &at("operations"), Some(&token), None).await;
    assert_eq!((status, body), (200, json!({"operations": []})));

    for (method, path, body) in [
        (Method::GET, web.clone(), None),
        (Method::GET, format!("{web}/members"), None),
        (Method::GET, format!("{web}/policy"), None),
        (
            Method::GET,
            format!("operations/{}", protector_core::store::fixtures::id(21)),
            None,
        ),
        (
            Method::PUT,
            web.clone(),
            Some(json!({"protection_group": mine_now.clone()})),
        ),
    ] {
        let (status, headers, body) = call(method.clone(), &at(&path), Some(&token), body).await;
        assert_error(status, &headers, &body, 404, "not_found");
        assert!(!body.to_string().contains("web-1"), "{body}");
    }

    // Through the RemoteStore of a tenant2 front-end: the same answers as core kinds.
    let tenant2_store = protector_openstack::RemoteStore::with_endpoint(
        &w.sim.cloud("site-a-tenant2"),
        "site-a",
        w.api.url.clone(),
    );
    assert_eq!(tenant2_store.get_group(&w.web.id).await.unwrap(), None);
    assert!(tenant2_store.list_groups().await.unwrap().is_empty());
    let mut changed = w.web.clone();
    changed.description = "mine now".into();
    let err = tenant2_store.put_group(&changed).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    let mut next = changed.clone();
    next.metadata.version = w.web.metadata.version + 1;
    let document = GroupDocument {
        group: next,
        members: Vec::new(),
        policy: None,
        mappings: Vec::new(),
    };
    let err = tenant2_store
        .apply_document_if(&document, VersionCheck::Exactly(w.web.metadata.version))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    // Deleting is answered as for a missing group, and deletes nothing.
    tenant2_store.delete_group(&w.web.id).await.unwrap();
    tenant2_store
        .delete_member(&protector_core::store::fixtures::id(11))
        .await
        .unwrap();
    assert_eq!(
        w.store.get_group(&w.web.id).await.unwrap(),
        Some(w.web.clone())
    );
    assert_eq!(w.store.list_members(&w.web.id).await.unwrap().len(), 1);

    // A new group for production-project: 403.
    let mut intruder = group(2, "intruder");
    intruder.project_id = w.production.clone();
    intruder.project_name = "production-project".into();
    let err = tenant2_store.put_group(&intruder).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    let write = DocumentWrite {
        document: GroupDocument {
            group: intruder.clone(),
            members: Vec::new(),
            policy: None,
            mappings: Vec::new(),
        },
        check: Some(VersionCheck::Exactly(0)),
    };
    let (status, headers, body) = call(
        Method::PUT,
        &at(&format!("protection-groups/{}/document", intruder.id)),
        Some(&token),
        Some(serde_json::to_value(&write).unwrap()),
    )
    .await;
    assert_error(status, &headers, &body, 403, "permission_denied");
    assert_eq!(w.store.get_group(&intruder.id).await.unwrap(), None);

    // Its own project's group is fine; taking over a production member by its id is not.
    let mut own = group(3, "tenant2-app");
    own.project_id = tenant2.clone();
    own.project_name = "tenant2".into();
    tenant2_store.put_group(&own).await.unwrap();
    assert_eq!(
        tenant2_store.list_groups().await.unwrap(),
        vec![own.clone()]
    );
    let hijack = member(11, own.id, "stolen");
    let err = tenant2_store.put_member(&hijack).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    let mut next = own.clone();
    next.metadata.version += 1;
    let err = tenant2_store
        .apply_document(&GroupDocument {
            group: next,
            members: vec![hijack],
            policy: None,
            mappings: Vec::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert_eq!(
        w.store.list_members(&w.web.id).await.unwrap()[0].instance_name,
        "web-1"
    );
    tenant2_store
        .put_member(&member(31, own.id, "mine"))
        .await
        .unwrap();
    assert_eq!(tenant2_store.list_members(&own.id).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_projects_member_sees_its_group_and_an_admin_sees_all() {
    let w = world().await;
    let member_store = protector_openstack::RemoteStore::with_endpoint(
        &w.sim.cloud("site-a-member"),
        "site-a",
        w.api.url.clone(),
    );
    assert_eq!(
        member_store.list_groups().await.unwrap(),
        vec![w.web.clone()]
    );
    assert_eq!(member_store.list_members(&w.web.id).await.unwrap().len(), 1);
    assert_eq!(member_store.list_operations().await.unwrap().len(), 1);
    // Sites are the admin's to write.
    let err = member_store.put_site(&site("site-c")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert!(member_store.list_sites().await.unwrap().is_empty());

    let tenant2 = w.sim.sim.project_id("site-a", "tenant2").unwrap();
    let mut other = group(4, "other");
    other.project_id = tenant2;
    other.project_name = "tenant2".into();
    w.store.put_group(&other).await.unwrap();
    let admin = protector_openstack::RemoteStore::with_endpoint(
        &w.sim.cloud("site-a"),
        "site-a",
        w.api.url.clone(),
    );
    let names: Vec<String> = admin
        .list_groups()
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.name)
        .collect();
    assert_eq!(names, ["other", "web"]);
    admin.put_site(&site("site-c")).await.unwrap();
    assert_eq!(member_store.list_sites().await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_are_selected_by_the_server_and_a_members_limit_counts_what_it_sees() {
    let w = world().await;
    let tenant2 = w.sim.sim.project_id("site-a", "tenant2").unwrap();
    let mut other = group(4, "other");
    other.project_id = tenant2;
    other.project_name = "tenant2".into();
    w.store.put_group(&other).await.unwrap();
    // web's running operation 21 (the world's), then web's failed 23, then other's 24.
    let mut failed = operation(23, at(3));
    failed.group_id = Some(w.web.id);
    failed.status = OperationStatus::Failed;
    let mut theirs = operation(24, at(4));
    theirs.group_id = Some(other.id);
    for op in [&failed, &theirs] {
        w.store.put_operation(op).await.unwrap();
    }
    let ids = |body: &serde_json::Value| -> Vec<String> {
        body["operations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|op| op["id"].as_str().unwrap().to_string())
            .collect()
    };
    let id_of = |op: &Operation| op.id.to_string();

    // The admin's raw request: the server selects (a client that filtered would hide it).
    let (admin, project) = w.sim.token("site-a").await;
    let get = |query: &str| {
        let url = w.api.at(&project, &format!("operations{query}"));
        let admin = admin.clone();
        async move { call(Method::GET, &url, Some(&admin), None).await }
    };
    let (status, _, body) = get("?status=failed,partial").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ids(&body), [id_of(&failed)]);
    let (_, _, body) = get(&format!("?group_id={}&limit=1", w.web.id)).await;
    assert_eq!(ids(&body), [id_of(&failed)]);
    let (_, _, body) = get("?operation_type=failover&target_site=site-b&limit=2").await;
    assert_eq!(ids(&body), [id_of(&theirs), id_of(&failed)]);
    let (status, headers, body) = get("?status=finished").await;
    assert_error(status, &headers, &body, 400, "invalid_input");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(
            "query parameter status: unknown operation status 'finished': use one of pending, \
             running"
        ),
        "{message}"
    );

    // A member of web's project: the newest operation it sees is web's, though another
    // project's is newer.
    let (member, production) = w.sim.token("site-a-member").await;
    let url = w.api.at(&production, "operations?limit=1");
    let (status, _, body) = call(Method::GET, &url, Some(&member), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ids(&body), [id_of(&failed)]);
    let member_store = protector_openstack::RemoteStore::with_endpoint(
        &w.sim.cloud("site-a-member"),
        "site-a",
        w.api.url.clone(),
    );
    let running = OperationQuery::default().unfinished();
    let found = member_store.query_operations(&running).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, protector_core::store::fixtures::id(21));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_token_on_another_projects_url_is_403() {
    let w = world().await;
    let (token, _) = w.sim.token("site-a-tenant2").await;
    let (status, headers, body) = call(
        Method::GET,
        &w.api.at(&w.production, "protection-groups"),
        Some(&token),
        None,
    )
    .await;
    assert_error(status, &headers, &body, 403, "permission_denied");
}
