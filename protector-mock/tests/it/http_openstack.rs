//! The OpenStack wire face of `SimServer`, part one: Keystone (tokens, catalog, 401s),
//! clouds.yaml and arrays.json, microversions, faults on the wire, and state kept across a
//! restart on the same directory. Nova, Cinder and Neutron are in `http_openstack_services.rs`.

use std::path::Path;

use crate::http_openstack_support::*;
use protector_mock::http::ServeOptions;
use protector_mock::{InjectedError, Service};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

// ------------------------------------------------------------------ Keystone

#[tokio::test]
async fn keystone_issues_tokens_with_the_catalog_and_validates_them() {
    let env = env().await;
    let base = env.base("site-a");
    let root = send(env.http.get(format!("{base}/identity"))).await;
    assert_eq!(root.status, StatusCode::MULTIPLE_CHOICES);
    assert_eq!(root.body["versions"]["values"][0]["id"], "v3.14");
    let v3 = send(env.http.get(env.server.auth_url("site-a").unwrap())).await;
    assert_eq!(v3.status, StatusCode::OK);
    assert_eq!(v3.body["version"]["status"], "stable");

    let admin = env.login("site-a").await;
    let token = &admin.body["token"];
    assert!(admin.token.starts_with("gAAAAA"), "Fernet-looking token");
    assert_eq!(token["methods"], json!(["password"]));
    assert_eq!(token["project"]["name"], "production-project");
    assert_eq!(token["user"]["name"], "admin");
    let mut roles: Vec<&str> = token["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    roles.sort();
    assert_eq!(roles, ["admin", "dr_site_admin", "member", "reader"]);
    let catalog = token["catalog"].as_array().unwrap();
    let mut types: Vec<&str> = catalog
        .iter()
        .map(|s| s["type"].as_str().unwrap())
        .collect();
    types.sort();
    assert_eq!(
        types,
        [
            "block-storage",
            "compute",
            "identity",
            "network",
            "volumev3"
        ]
    );
    for service in catalog {
        let interfaces: Vec<&str> = service["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                assert_eq!(e["region_id"], "RegionOne");
                e["interface"].as_str().unwrap()
            })
            .collect();
        assert_eq!(interfaces, ["public", "internal", "admin"]);
    }
    let volume = catalog.iter().find(|s| s["type"] == "volumev3").unwrap();
    assert_eq!(
        volume["endpoints"][0]["url"],
        format!("{base}/volume/v3/{}", admin.project_id)
    );
    let compute = catalog.iter().find(|s| s["type"] == "compute").unwrap();
    assert_eq!(
        compute["endpoints"][0]["url"],
        format!("{base}/compute/v2.1")
    );

    // Validation: GET and HEAD with the subject token; ?nocatalog drops the catalog.
    let validate = |method: Method| {
        env.http
            .request(method, format!("{base}/identity/v3/auth/tokens?nocatalog"))
            .header("x-auth-token", &admin.token)
            .header("x-subject-token", &admin.token)
    };
    let shown = send(validate(Method::GET)).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert_eq!(shown.header("x-subject-token"), Some(admin.token.as_str()));
    assert!(shown.body["token"].get("catalog").is_none());
    assert_eq!(send(validate(Method::HEAD)).await.status, StatusCode::OK);
    let bogus = send(
        env.http
            .get(format!("{base}/identity/v3/auth/tokens"))
            .header("x-auth-token", &admin.token)
            .header("x-subject-token", "gAAAAAnotatoken"),
    )
    .await;
    assert_eq!(bogus.status, StatusCode::NOT_FOUND);
    assert_eq!(
        bogus.body["error"]["message"],
        "Could not find token: gAAAAAnotatoken"
    );

    // A token of site-a means nothing to site-b's services.
    let other = send(
        env.http
            .get(format!("{}/compute/v2.1/servers", env.base("site-b")))
            .header("x-auth-token", &admin.token),
    )
    .await;
    assert_eq!(other.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn keystone_refuses_bad_credentials_like_keystone() {
    let env = env().await;
    let base = env.base("site-a");
    let refused = send(
        env.http
            .post(format!("{base}/identity/v3/auth/tokens"))
            .json(&password_body("admin", "wrong", "production-project")),
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        refused.body,
        json!({"error": {"code": 401, "message": "The request you have made requires authentication.", "title": "Unauthorized"}})
    );
    // A project the user has no role on is refused the same way.
    let clouds = clouds(&env.server.clouds_yaml());
    let admin = &clouds["site-a"];
    let foreign = send(
        env.http
            .post(format!("{base}/identity/v3/auth/tokens"))
            .json(&password_body("admin", &admin["password"], "tenant2")),
    )
    .await;
    assert_eq!(foreign.status, StatusCode::UNAUTHORIZED);

    // Every other service wants a token: keystonemiddleware's 401, with where to get one.
    let anonymous = send(env.http.get(format!("{base}/volume/v3/volumes"))).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.body["error"]["code"], 401);
    assert_eq!(
        anonymous.header("www-authenticate"),
        Some(format!("Keystone uri=\"{base}/identity\"").as_str())
    );

    // Application credentials: by id works; asking for a scope is refused as Keystone does.
    let appcred = &clouds["site-a-appcred"];
    let body = |scope: Option<Value>| {
        let mut body = json!({"auth": {"identity": {
            "methods": ["application_credential"],
            "application_credential": {
                "id": appcred["application_credential_id"],
                "secret": appcred["application_credential_secret"],
            }
        }}});
        if let Some(scope) = scope {
            body["auth"]["scope"] = scope;
        }
        body
    };
    let issued = send(
        env.http
            .post(format!("{base}/identity/v3/auth/tokens"))
            .json(&body(None)),
    )
    .await;
    assert_eq!(issued.status, StatusCode::CREATED);
    assert_eq!(
        issued.body["token"]["methods"],
        json!(["application_credential"])
    );
    assert_eq!(
        issued.body["token"]["application_credential"]["restricted"],
        true
    );
    let scoped = send(
        env.http
            .post(format!("{base}/identity/v3/auth/tokens"))
            .json(&body(Some(
                json!({"project": {"name": "production-project", "domain": {"id": "default"}}}),
            ))),
    )
    .await;
    assert_eq!(scoped.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        scoped.body["error"]["message"],
        "Error authenticating with application credential: Application credentials cannot request a scope."
    );

    // A revoked token stops working.
    let member = env.login("site-a-member").await;
    let revoke = send(
        env.http
            .delete(format!("{base}/identity/v3/auth/tokens"))
            .header("x-auth-token", &member.token)
            .header("x-subject-token", &member.token),
    )
    .await;
    assert_eq!(revoke.status, StatusCode::NO_CONTENT);
    assert_eq!(
        member.get("/compute/v2.1/servers", None).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn keystone_rescopes_a_token_with_the_token_method_like_keystone() {
    let env = env().await;
    let base = env.base("site-a");
    let tokens = format!("{base}/identity/v3/auth/tokens");
    let clouds = clouds(&env.server.clouds_yaml());
    let admin = &clouds["site-a"];
    // An unscoped password token (what a login page holds before a project is chosen).
    let unscoped = send(env.http.post(&tokens).json(&json!({"auth": {"identity": {
        "methods": ["password"],
        "password": {"user": {"name": "admin", "domain": {"name": "Default"},
                              "password": admin["password"]}}}}})))
    .await;
    assert_eq!(unscoped.status, StatusCode::CREATED);
    assert!(unscoped.body["token"].get("project").is_none());
    assert!(unscoped.body["token"].get("catalog").is_none());
    let unscoped_token = unscoped.header("x-subject-token").unwrap().to_string();

    let rescope = |token: &str, project: Value| {
        env.http.post(&tokens).json(&json!({"auth": {
            "identity": {"methods": ["token"], "token": {"id": token}},
            "scope": {"project": project}}}))
    };
    let scoped = send(rescope(
        &unscoped_token,
        json!({"name": "production-project", "domain": {"id": "default"}}),
    ))
    .await;
    assert_eq!(scoped.status, StatusCode::CREATED, "{}", scoped.body);
    let token = &scoped.body["token"];
    assert_eq!(token["methods"], json!(["token", "password"]));
    assert_eq!(token["project"]["name"], "production-project");
    assert!(token["catalog"].as_array().is_some_and(|c| !c.is_empty()));
    // A rescoped token never outlives the one it came from, and carries its audit chain.
    assert_eq!(token["expires_at"], unscoped.body["token"]["expires_at"]);
    assert_eq!(
        token["audit_ids"][1],
        unscoped.body["token"]["audit_ids"][0]
    );
    let scoped_token = scoped.header("x-subject-token").unwrap().to_string();
    assert_ne!(scoped_token, unscoped_token);
    let project_id = token["project"]["id"].as_str().unwrap().to_string();

    // The scoped token works on the services and can itself be rescoped (by id).
    let servers = send(
        env.http
            .get(format!("{base}/compute/v2.1/servers"))
            .header("x-auth-token", &scoped_token),
    )
    .await;
    assert_eq!(servers.status, StatusCode::OK);
    let again = send(rescope(&scoped_token, json!({"id": project_id}))).await;
    assert_eq!(again.status, StatusCode::CREATED);

    // A project without a role, a token that is not one, and a token of another site are
    // refused with Keystone's one 401.
    for (token, project) in [
        (
            unscoped_token.as_str(),
            json!({"name": "tenant2", "domain": {"id": "default"}}),
        ),
        ("gAAAAAnotatoken", json!({"id": project_id})),
    ] {
        let refused = send(rescope(token, project)).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            refused.body["error"]["message"],
            "The request you have made requires authentication."
        );
    }
    let other_site = send(
        env.http
            .post(format!("{}/identity/v3/auth/tokens", env.base("site-b")))
            .json(&json!({"auth": {
                "identity": {"methods": ["token"], "token": {"id": scoped_token}},
                "scope": {"project": {"id": project_id}}}})),
    )
    .await;
    assert_eq!(other_site.status, StatusCode::UNAUTHORIZED);
    // The token method needs the token's id (Keystone's schema).
    let no_id = send(env.http.post(&tokens).json(&json!({"auth": {
        "identity": {"methods": ["token"], "token": {}}}})))
    .await;
    assert_eq!(no_id.status, StatusCode::BAD_REQUEST);

    // Revoking the token it came from revokes the rescoped one too.
    let revoke = send(
        env.http
            .delete(&tokens)
            .header("x-auth-token", &unscoped_token)
            .header("x-subject-token", &unscoped_token),
    )
    .await;
    assert_eq!(revoke.status, StatusCode::NO_CONTENT);
    let after = send(
        env.http
            .get(format!("{base}/compute/v2.1/servers"))
            .header("x-auth-token", &scoped_token),
    )
    .await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn clouds_yaml_and_arrays_json_describe_the_running_server() {
    let env = env().await;
    let clouds = clouds(&env.server.clouds_yaml());
    let names: Vec<&str> = clouds.keys().map(String::as_str).collect();
    for expected in [
        "site-a",
        "site-a-member",
        "site-a-tenant2",
        "site-b",
        "site-b-member",
        "site-b-tenant2",
    ] {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }
    for (name, user, project) in [
        ("site-a", "admin", "production-project"),
        ("site-b-member", "member-user", "production-project"),
        ("site-a-tenant2", "tenant2-user", "tenant2"),
    ] {
        let cloud = &clouds[name];
        let site = &name[..6];
        assert_eq!(cloud["auth_url"], env.server.auth_url(site).unwrap());
        assert_eq!(cloud["username"], user);
        assert_eq!(cloud["project_name"], project);
        assert_eq!(cloud["user_domain_name"], "Default");
        assert_eq!(cloud["project_domain_name"], "Default");
        assert_eq!(cloud["region_name"], "RegionOne");
        assert_eq!(cloud["interface"], "public");
        assert_eq!(cloud["identity_api_version"], "3");
        // Every entry logs in, with the roles it is meant to have.
        let session = env.login(name).await;
        let roles: Vec<&str> = session.body["token"]["roles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            roles.contains(&"admin"),
            name == "site-a",
            "{name}: {roles:?}"
        );
        assert!(roles.contains(&"member"));
    }
    let arrays: Value =
        serde_json::from_str(&std::fs::read_to_string(env.server.arrays_json()).unwrap()).unwrap();
    for site in ["site-a", "site-b"] {
        assert_eq!(arrays[site]["url"], env.server.array_url(site).unwrap());
        assert_eq!(
            arrays[site]["api_token"].as_str().unwrap(),
            env.sim.array_endpoint(site).unwrap().api_token.expose()
        );
        assert!(Path::new(arrays[site]["ca_file"].as_str().unwrap()).exists());
    }
    assert!(env.server.dir().join("ports.json").exists());
}

// ------------------------------------------------------------------ microversions

#[tokio::test]
async fn microversions_are_negotiated_and_shape_the_views() {
    let env = env().await;
    let admin = env.login("site-a").await;
    let discovery = send(
        env.http
            .get(format!("{}/compute/v2.1/", env.base("site-a"))),
    )
    .await;
    assert_eq!(discovery.body["version"]["version"], "2.96");
    assert_eq!(discovery.body["version"]["min_version"], "2.1");
    let cinder = send(env.http.get(format!("{}/volume/v3/", env.base("site-a")))).await;
    assert_eq!(cinder.body["versions"][0]["version"], "3.71");

    let old = admin.get("/compute/v2.1/servers/detail", None).await;
    assert_eq!(old.header("openstack-api-version"), Some("compute 2.1"));
    assert_eq!(old.header("x-openstack-nova-api-version"), Some("2.1"));
    let flavor = &old.body["servers"][0]["flavor"];
    assert!(flavor["id"].is_string() && flavor.get("original_name").is_none());

    let new = admin
        .get("/compute/v2.1/servers/detail", Some("compute 2.47"))
        .await;
    assert_eq!(new.header("openstack-api-version"), Some("compute 2.47"));
    let server = &new.body["servers"][0];
    assert!(server["flavor"]["original_name"]
        .as_str()
        .unwrap()
        .starts_with("m1."));
    assert!(server["flavor"].get("id").is_none());
    assert_eq!(server["OS-EXT-AZ:availability_zone"], "nova");
    assert_eq!(
        server["os-extended-volumes:volumes_attached"][0]["delete_on_termination"],
        false
    );

    // The legacy header alone is honoured.
    let legacy = admin
        .call(Method::GET, "/compute/v2.1/flavors/detail", None, None)
        .await;
    assert_eq!(legacy.header("x-openstack-nova-api-version"), Some("2.1"));
    let legacy = send(
        env.http
            .get(format!(
                "{}/compute/v2.1/flavors/detail",
                env.base("site-a")
            ))
            .header("x-auth-token", &admin.token)
            .header("x-openstack-nova-api-version", "2.61"),
    )
    .await;
    assert_eq!(legacy.header("openstack-api-version"), Some("compute 2.61"));
    assert!(legacy.body["flavors"][0]["extra_specs"].is_object());

    let too_new = admin
        .get("/compute/v2.1/servers", Some("compute 2.97"))
        .await;
    assert_eq!(too_new.status, StatusCode::NOT_ACCEPTABLE);
    assert_eq!(
        too_new.body["computeFault"]["message"],
        "Version 2.97 is not supported by the API. Minimum is 2.1 and maximum is 2.96."
    );
    let malformed = admin
        .get("/compute/v2.1/servers", Some("compute 2.x"))
        .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    let cinder_new = admin
        .get(&admin.volume_path("/volumes"), Some("volume 3.72"))
        .await;
    assert_eq!(cinder_new.status, StatusCode::NOT_ACCEPTABLE);

    // Cinder: provider_id from 3.21 (admin), group_id from 3.13, bootable as a string.
    let volumes = admin
        .get(&admin.volume_path("/volumes/detail"), Some("volume 3.21"))
        .await;
    assert_eq!(volumes.header("openstack-api-version"), Some("volume 3.21"));
    let volume = &volumes.body["volumes"][0];
    assert!(volume["provider_id"].as_str().unwrap().ends_with("-cinder"));
    assert!(volume["bootable"] == "true" || volume["bootable"] == "false");
    assert!(volume.get("group_id").is_some());
    let base = admin.get(&admin.volume_path("/volumes/detail"), None).await;
    assert!(base.body["volumes"][0].get("provider_id").is_none());
    assert!(base.body["volumes"][0].get("group_id").is_none());
    // Cinder from Yoga: the same resources without the project id.
    let no_project = admin.get("/volume/v3/volumes", Some("volume 3.67")).await;
    assert_eq!(no_project.status, StatusCode::OK);
    assert_eq!(
        no_project.body["volumes"].as_array().unwrap().len(),
        base.body["volumes"].as_array().unwrap().len()
    );
    // A project id in the URL that is not the token's is refused.
    let foreign = admin.get("/volume/v3/not-my-project/volumes", None).await;
    assert_eq!(foreign.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        foreign.body["badRequest"]["message"],
        "Malformed request url"
    );
}

// ------------------------------------------------------------------ faults

#[tokio::test]
async fn faults_show_on_the_wire() {
    let env = env().await;
    let admin = env.login("site-a").await;

    env.sim
        .set_error_rate(
            "site-a",
            Service::Compute,
            1.0,
            InjectedError::InternalServerError,
        )
        .unwrap();
    let broken = admin.get("/compute/v2.1/servers", None).await;
    assert_eq!(broken.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(broken.body["computeFault"]["message"].is_string());
    assert!(broken.header("x-compute-request-id").is_some());
    env.sim
        .set_error_rate(
            "site-a",
            Service::Volume,
            1.0,
            InjectedError::TooManyRequests {
                retry_after_secs: 7,
            },
        )
        .unwrap();
    let limited = admin.get(&admin.volume_path("/volumes"), None).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.header("retry-after"), Some("7"));
    assert!(limited.body["overLimit"]["message"].is_string());
    env.sim
        .set_error_rate(
            "site-a",
            Service::Network,
            1.0,
            InjectedError::ServiceUnavailable,
        )
        .unwrap();
    let unavailable = admin.get("/network/v2.0/networks", None).await;
    assert_eq!(unavailable.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        unavailable.body["NeutronError"]["type"],
        "HTTPServiceUnavailable"
    );

    // A timeout applies the request and loses the answer: the connection closes unanswered.
    env.sim
        .set_error_rate("site-a", Service::Volume, 1.0, InjectedError::Timeout)
        .unwrap();
    let lost = admin
        .http
        .post(format!("{}{}", admin.base, admin.volume_path("/volumes")))
        .header("x-auth-token", &admin.token)
        .json(&json!({"volume": {"size": 1, "name": "in-doubt"}}))
        .send()
        .await;
    assert!(lost.is_err(), "no answer: {lost:?}");
    env.sim.clear().unwrap();
    let volumes = admin
        .get(&admin.volume_path("/volumes?name=in-doubt"), None)
        .await;
    assert_eq!(
        volumes.body["volumes"].as_array().unwrap().len(),
        1,
        "the lost request was applied"
    );

    // A site that is down refuses connections; the other site answers.
    env.sim.set_site_down("site-a", true).unwrap();
    env.server.sync_faults().await;
    let refused = env
        .http
        .get(format!("{}/identity/v3", env.base("site-a")))
        .send()
        .await;
    let error = refused.expect_err("connection refused");
    assert!(error.is_connect(), "{error:?}");
    let other = send(env.http.get(format!("{}/identity/v3", env.base("site-b")))).await;
    assert_eq!(other.status, StatusCode::OK);
    env.sim.set_site_down("site-a", false).unwrap();
    env.server.sync_faults().await;
    let back = send(env.http.get(format!("{}/identity/v3", env.base("site-a")))).await;
    assert_eq!(back.status, StatusCode::OK);
    // Tokens issued before the outage still work (they are self-contained).
    assert_eq!(
        admin.get("/compute/v2.1/servers", None).await.status,
        StatusCode::OK
    );

    // The array's listener closes while the array is down.
    env.sim.set_array_down("site-b", true).unwrap();
    env.server.sync_faults().await;
    let array = env.server.array_url("site-b").unwrap();
    let insecure = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let down = insecure
        .get(format!("{array}/api/api_version"))
        .send()
        .await;
    assert!(down.expect_err("array down").is_connect());
    env.sim.set_array_down("site-b", false).unwrap();
    env.server.sync_faults().await;
    let up = insecure
        .get(format!("{array}/api/api_version"))
        .send()
        .await
        .unwrap();
    assert_eq!(up.status(), StatusCode::OK);
}

#[tokio::test]
async fn faults_set_by_another_process_reach_the_wire() {
    let env = env().await;
    let dir = env._dir.as_ref().expect("tempdir").path().to_path_buf();
    // `protector sim fault` opens the same state file from another process.
    let other = protector_mock::Simulator::open(&ServeOptions::state_file(&dir)).unwrap();
    other.set_site_down("site-b", true).unwrap();
    let url = format!("{}/identity/v3", env.base("site-b"));
    // The server polls the state every 100 ms; give it up to 5 s.
    let mut refused = false;
    for _ in 0..100 {
        match env.http.get(&url).send().await {
            Err(e) if e.is_connect() => {
                refused = true;
                break;
            }
            _ => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
        }
    }
    assert!(
        refused,
        "site-b went down in another process, its listener must close"
    );
    other.set_site_down("site-b", false).unwrap();
    let mut back = false;
    for _ in 0..100 {
        if env.http.get(&url).send().await.is_ok() {
            back = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(back, "site-b came back");
}

// ------------------------------------------------------------------ restart

#[tokio::test]
async fn a_restart_on_the_same_directory_keeps_state_ports_and_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let (server, sim) = start_in(dir.path()).await;
    let first = Env {
        server,
        sim,
        http: http.clone(),
        _dir: None,
    };
    let admin = first.login("site-a").await;
    let volume = admin.create_volume("survivor", false).await;
    let ports = first.server.ports();
    let clouds_before = std::fs::read_to_string(first.server.clouds_yaml()).unwrap();
    let Env { server, sim, .. } = first;
    server.shutdown().await;
    drop(sim);
    let refused = http.get(format!("{}/identity/v3", admin.base)).send().await;
    assert!(refused.expect_err("stopped").is_connect());

    let (server, sim) = start_in(dir.path()).await;
    assert_eq!(server.ports(), ports, "the previous ports are reused");
    assert_eq!(
        std::fs::read_to_string(server.clouds_yaml()).unwrap(),
        clouds_before
    );
    let again = Env {
        server,
        sim,
        http,
        _dir: None,
    };
    // The token from before the restart is still valid, and the volume is still there.
    let shown = admin
        .get(&admin.volume_path(&format!("/volumes/{volume}")), None)
        .await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
    assert_eq!(shown.body["volume"]["name"], "survivor");
    assert_eq!(shown.body["volume"]["status"], "available");
    let fresh = again.login("site-a").await;
    let listed = fresh
        .get(&fresh.volume_path("/volumes?name=survivor"), None)
        .await;
    assert_eq!(listed.body["volumes"][0]["id"], volume);
    again.server.shutdown().await;
}
