//! Keystone's read calls around a login, on the wire: what Horizon's `openstack_auth` asks
//! before it holds a project-scoped token (the user's projects with the unscoped password
//! token, a domain scope it may be refused, the rescoping to a project).

use crate::http_openstack_support::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// An unscoped password token of `cloud`'s user: (token, user id).
async fn unscoped(env: &Env, cloud: &str) -> (String, String) {
    let entry = &clouds(&env.server.clouds_yaml())[cloud];
    let answer = send(
        env.http
            .post(format!("{}/auth/tokens", entry["auth_url"]))
            .json(&json!({"auth": {"identity": {
                "methods": ["password"],
                "password": {"user": {"name": entry["username"], "domain": {"name": "Default"},
                                      "password": entry["password"]}}}}})),
    )
    .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    assert!(answer.body["token"].get("project").is_none());
    (
        answer.header("x-subject-token").unwrap().to_string(),
        answer.body["token"]["user"]["id"]
            .as_str()
            .unwrap()
            .to_string(),
    )
}

fn names(projects: &Value) -> Vec<&str> {
    projects
        .as_array()
        .expect("a list of projects")
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn an_unscoped_token_lists_its_users_projects_like_keystone() {
    let env = env().await;
    let base = env.base("site-a");
    let (token, user_id) = unscoped(&env, "site-a").await;

    // GET /v3/users/{id}/projects (openstack_auth's project list) with the unscoped token.
    let listed = send(
        env.http
            .get(format!("{base}/identity/v3/users/{user_id}/projects"))
            .header("x-auth-token", &token),
    )
    .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert_eq!(names(&listed.body["projects"]), ["production-project"]);
    let project = &listed.body["projects"][0];
    assert_eq!(project["domain_id"], "default");
    assert_eq!(project["enabled"], true);
    assert_eq!(project["is_domain"], false);
    assert_eq!(
        project["links"]["self"],
        format!(
            "{base}/identity/v3/projects/{}",
            project["id"].as_str().unwrap()
        )
    );
    assert_eq!(
        listed.body["links"],
        json!({"self": format!("{base}/identity/v3/users/{user_id}/projects"),
               "previous": null, "next": null})
    );
    // GET /v3/auth/projects says the same.
    let auth_projects = send(
        env.http
            .get(format!("{base}/identity/v3/auth/projects"))
            .header("x-auth-token", &token),
    )
    .await;
    assert_eq!(auth_projects.status, StatusCode::OK);
    assert_eq!(auth_projects.body["projects"], listed.body["projects"]);

    // Another user's projects: Keystone's policy (admin, or the user's own id) refuses.
    let (member_token, member_id) = unscoped(&env, "site-a-tenant2").await;
    let refused = send(
        env.http
            .get(format!("{base}/identity/v3/users/{user_id}/projects"))
            .header("x-auth-token", &member_token),
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(
        refused.body["error"]["message"],
        "You are not authorized to perform the requested action: identity:list_user_projects."
    );
    // A project-scoped admin token may list anyone's.
    let admin = env.login("site-a").await;
    let by_admin = admin
        .get(&format!("/identity/v3/users/{member_id}/projects"), None)
        .await;
    assert_eq!(by_admin.status, StatusCode::OK, "{}", by_admin.body);
    assert_eq!(names(&by_admin.body["projects"]), ["tenant2"]);
    // An unknown user, and no token at all.
    let unknown = send(
        env.http
            .get(format!("{base}/identity/v3/users/nobody/projects"))
            .header("x-auth-token", &token),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(
        unknown.body["error"]["message"],
        "Could not find user: nobody."
    );
    let anonymous = send(
        env.http
            .get(format!("{base}/identity/v3/users/{user_id}/projects")),
    )
    .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn horizons_login_sequence_ends_with_a_project_scoped_token_and_its_catalog() {
    let env = env().await;
    let base = env.base("site-a");
    let tokens = format!("{base}/identity/v3/auth/tokens");
    let (token, user_id) = unscoped(&env, "site-a").await;
    let rescope = |scope: Value| {
        env.http.post(&tokens).json(&json!({"auth": {
            "identity": {"methods": ["token"], "token": {"id": token}},
            "scope": scope}}))
    };
    // openstack_auth first tries the user's domain: the seeded users have no role on a domain,
    // and Keystone answers that with its one 401.
    let domain = send(rescope(json!({"domain": {"name": "Default"}}))).await;
    assert_eq!(domain.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        domain.body["error"]["message"],
        "The request you have made requires authentication."
    );
    // Then the first project of GET /v3/users/{id}/projects, by id.
    let listed = send(
        env.http
            .get(format!("{base}/identity/v3/users/{user_id}/projects"))
            .header("x-auth-token", &token),
    )
    .await;
    let project_id = listed.body["projects"][0]["id"].as_str().unwrap();
    let scoped = send(rescope(json!({"project": {"id": project_id}}))).await;
    assert_eq!(scoped.status, StatusCode::CREATED, "{}", scoped.body);
    let body = &scoped.body["token"];
    assert_eq!(body["project"]["id"], project_id);
    assert_eq!(body["user"]["id"], user_id.as_str());
    let mut roles: Vec<&str> = body["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    roles.sort_unstable();
    assert_eq!(roles, ["admin", "dr_site_admin", "member", "reader"]);
    // The catalog Horizon's panels are enabled by, each service with its public endpoint.
    let catalog = body["catalog"].as_array().unwrap();
    let public = |kind: &str| {
        catalog
            .iter()
            .find(|s| s["type"] == kind)
            .and_then(|s| s["endpoints"].as_array())
            .and_then(|e| e.iter().find(|e| e["interface"] == "public"))
            .map(|e| e["url"].as_str().unwrap().to_string())
    };
    assert_eq!(
        public("identity").as_deref(),
        Some(format!("{base}/identity").as_str())
    );
    assert_eq!(
        public("compute").as_deref(),
        Some(format!("{base}/compute/v2.1").as_str())
    );
    assert_eq!(
        public("volumev3").as_deref(),
        Some(format!("{base}/volume/v3/{project_id}").as_str())
    );
    assert_eq!(
        public("network").as_deref(),
        Some(format!("{base}/network").as_str())
    );
}

#[tokio::test]
async fn groups_and_credentials_are_listed_empty_with_keystones_policy() {
    let env = env().await;
    let base = env.base("site-a");
    let admin = env.login("site-a").await;
    let member = env.login("site-a-member").await;
    for (path, key) in [("groups", "groups"), ("credentials", "credentials")] {
        let listed = admin.get(&format!("/identity/v3/{path}"), None).await;
        assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
        assert_eq!(
            listed.body,
            json!({key: [], "links": {"self": format!("{base}/identity/v3/{path}"),
                                      "previous": null, "next": null}})
        );
    }
    // Anyone may list their own credentials; groups are an admin's.
    let own = member.get("/identity/v3/credentials", None).await;
    assert_eq!(own.status, StatusCode::OK);
    assert_eq!(own.body["credentials"], json!([]));
    let refused = member.get("/identity/v3/groups", None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(
        refused.body["error"]["message"],
        "You are not authorized to perform the requested action: identity:list_groups."
    );
    let anonymous = send(env.http.get(format!("{base}/identity/v3/credentials"))).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_registered_service_joins_the_catalog_with_its_project_expanded() {
    let env = env().await;
    let admin = env.login("site-a").await;
    let member = env.login("site-a-member").await;
    // What `openstack service create` and `openstack endpoint create` send (spec/004).
    let refused = member
        .post(
            "/identity/v3/services",
            None,
            json!({"service": {"type": "protector", "name": "protector"}}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let created = admin
        .post(
            "/identity/v3/services",
            None,
            json!({"service": {"type": "protector", "name": "protector",
                               "description": "OpenStack Disaster Recovery", "enabled": true}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let service_id = created.body["service"]["id"].as_str().unwrap().to_string();
    // No endpoint yet: not in the catalog.
    let scoped = admin.get("/identity/v3/auth/catalog", None).await;
    assert!(!scoped.body["catalog"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["type"] == "protector"));
    for interface in ["public", "internal", "admin"] {
        let endpoint = admin
            .post(
                "/identity/v3/endpoints",
                None,
                json!({"endpoint": {"service_id": service_id, "interface": interface,
                                    "url": "http://controller:8788/v1/%(tenant_id)s",
                                    "region_id": "RegionOne"}}),
            )
            .await;
        assert_eq!(endpoint.status, StatusCode::CREATED, "{}", endpoint.body);
        assert_eq!(
            endpoint.body["endpoint"]["url"],
            "http://controller:8788/v1/%(tenant_id)s"
        );
    }
    let bad = admin
        .post(
            "/identity/v3/endpoints",
            None,
            json!({"endpoint": {"service_id": service_id, "interface": "private",
                                "url": "http://controller:8788/v1"}}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let listed = member
        .get(
            &format!("/identity/v3/endpoints?service_id={service_id}"),
            None,
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.body["endpoints"].as_array().unwrap().len(), 3);
    let services = member
        .get("/identity/v3/services?type=protector", None)
        .await;
    assert_eq!(services.body["services"][0]["id"], service_id.as_str());
    // A member's token now carries the endpoint, with its own project substituted.
    let catalog = member.get("/identity/v3/auth/catalog", None).await;
    let protector = catalog.body["catalog"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["type"] == "protector")
        .expect("protector in the catalog")
        .clone();
    let project = member.project_id.clone();
    let public = protector["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["interface"] == "public")
        .unwrap();
    assert_eq!(
        public["url"],
        format!("http://controller:8788/v1/{project}")
    );
    // The simulator's own services are listed too, and cannot be removed.
    let all = admin.get("/identity/v3/services", None).await;
    let compute = all.body["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["type"] == "compute")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let kept = admin
        .call(
            Method::DELETE,
            &format!("/identity/v3/services/{compute}"),
            None,
            None,
        )
        .await;
    assert_eq!(kept.status, StatusCode::FORBIDDEN);
    // Deleting the service removes its endpoints.
    let deleted = admin
        .call(
            Method::DELETE,
            &format!("/identity/v3/services/{service_id}"),
            None,
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let none = admin
        .get(
            &format!("/identity/v3/endpoints?service_id={service_id}"),
            None,
        )
        .await;
    assert_eq!(none.body["endpoints"], json!([]));
}
