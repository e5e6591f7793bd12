//! Input the engine refuses before it changes anything (issue 10, defect 6): names that are not
//! printable words, plain-http array URLs, replication schedules out of range, mappings of
//! resources no member uses, and credentials a site refuses (reported as such, not as an
//! outage). Each refusal leaves both sites and both stores as they were.

use std::sync::Arc;

use crate::common::{mappings, setup, shape, sites_only, Env};
use protector_core::engine::{
    CreateGroup, CreatePolicy, EngineOptions, FailoverRequest, NoProgress, PollPolicy, RegisterSite,
};
use protector_core::model::{
    OperationStatus, ReplicationType, ResourceMappings, SiteStatus, SiteType,
};
use protector_core::store::{SecretKey, SqliteStore, Store};
use protector_core::{ErrorKind, Protector};
use protector_mock::Simulator;

fn create_request(name: &str) -> CreateGroup {
    CreateGroup {
        name: name.into(),
        description: String::new(),
        replication_type: ReplicationType::Async,
        primary_site: "site-a".into(),
        secondary_site: "site-b".into(),
        volume_type: "replicated-ssd".into(),
    }
}

/// The simulator's inventory and both stores' groups, sites and policies.
async fn state(env: &Env) -> serde_json::Value {
    let mut stores = Vec::new();
    for store in [&env.store_a, &env.store_b] {
        let groups = store.list_groups().await.unwrap();
        let mut policies = Vec::new();
        let mut mappings = Vec::new();
        for group in &groups {
            policies
                .push(serde_json::to_value(store.get_policy(&group.id).await.unwrap()).unwrap());
            mappings
                .push(serde_json::to_value(store.list_mappings(&group.id).await.unwrap()).unwrap());
        }
        stores.push(serde_json::json!({
            "groups": serde_json::to_value(&groups).unwrap(),
            "sites": serde_json::to_value(store.list_sites().await.unwrap()).unwrap(),
            "policies": policies,
            "mappings": mappings,
        }));
    }
    serde_json::json!({"sim": shape(&env.sim.inspect()), "stores": stores})
}

// -------------------------------------------------------------------------------- names

#[tokio::test]
async fn group_names_with_control_characters_or_paths_are_refused_and_nothing_is_created() {
    let env = sites_only().await;
    let before = state(&env).await;
    for (name, shown) in [
        ("prod\nweb", "'\\n'"),
        ("red\u{1b}[31m", "'\\u{1b}'"),
        ("../prod", "'/'"),
        ("a/b", "'/'"),
        (".hidden", "starts with '.'"),
    ] {
        let err = env
            .engine
            .create_group(create_request(name))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{name:?}: {err}");
        assert!(err.message().contains(shown), "{name:?}: {err}");
        assert!(!err.message().contains('\n'), "{name:?}: {err}");
        assert!(!err.message().contains('\u{1b}'), "{name:?}: {err}");
    }
    assert_eq!(state(&env).await, before);
}

#[tokio::test]
async fn site_names_with_control_characters_are_refused() {
    let env = sites_only().await;
    let before = state(&env).await;
    let reg = env.sim.site_registration("site-a").unwrap();
    let err = env
        .engine
        .register_site(RegisterSite {
            name: "site-c\r\nX-Injected: 1".into(),
            description: String::new(),
            site_type: SiteType::Secondary,
            auth_url: reg.auth_url,
            region_name: reg.region_name,
            cloud: None,
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(err.message().contains("'\\r'"), "{err}");
    assert_eq!(state(&env).await, before);
}

// ---------------------------------------------------------------------- array endpoints

/// `sites_only` plus the group `prod-web-app` without members or policy.
async fn group_without_policy() -> Env {
    let env = sites_only().await;
    env.engine
        .create_group(create_request("prod-web-app"))
        .await
        .unwrap();
    env
}

fn policy_request(env: &Env, scheme: &str, allow_insecure_http: bool) -> CreatePolicy {
    let endpoint = |site: &str| {
        let mut e = env.sim.array_endpoint(site).unwrap();
        e.url = e.url.replacen("https://", scheme, 1);
        e.allow_insecure_http = allow_insecure_http;
        e
    };
    CreatePolicy {
        primary_array: endpoint("site-a"),
        secondary_array: endpoint("site-b"),
        pure_pg_name: "pg-prod-web-app".into(),
        replication_interval_secs: 300,
        rpo_minutes: 15,
    }
}

#[tokio::test]
async fn a_plain_http_array_url_is_refused_and_nothing_is_set_up() {
    let env = group_without_policy().await;
    let before = state(&env).await;
    for scheme in ["http://", "HTTP://", "ftp://"] {
        let err = env
            .engine
            .create_policy("prod-web-app", policy_request(&env, scheme, false))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{scheme}: {err}");
        assert!(err.message().contains("FlashArray URL"), "{err}");
        assert!(!err.message().contains("T-"), "a token in {err}");
    }
    let err = env
        .engine
        .create_policy("prod-web-app", policy_request(&env, "http://", false))
        .await
        .unwrap_err();
    assert!(
        err.message()
            .contains("uses plain http, which would send the API token unencrypted"),
        "{err}"
    );
    assert_eq!(state(&env).await, before);
}

#[tokio::test]
async fn a_plain_http_array_url_is_accepted_when_explicitly_allowed() {
    let env = group_without_policy().await;
    // Setting the policy up reaches both arrays (protection group, target, schedule).
    let policy = env
        .engine
        .create_policy("prod-web-app", policy_request(&env, "http://", true))
        .await
        .unwrap();
    assert!(policy.primary_array.url.starts_with("http://"));
    assert!(policy.primary_array.allow_insecure_http);
    // Stored with the allowance on both sites, so later operations reach the array too.
    let id = env.engine.group("prod-web-app").await.unwrap().id;
    for store in [&env.store_a, &env.store_b] {
        let stored = store.get_policy(&id).await.unwrap().unwrap();
        assert!(stored.primary_array.allow_insecure_http);
        assert!(stored.secondary_array.allow_insecure_http);
    }
}

#[tokio::test]
async fn a_replication_schedule_out_of_range_is_refused_and_nothing_is_set_up() {
    let env = group_without_policy().await;
    let before = state(&env).await;
    for (interval, rpo, expected) in [
        (
            300,
            u64::MAX,
            "RPO of 18446744073709551615 minutes is out of range",
        ),
        (0, 15, "replication interval 0 s is out of range"),
        (u64::MAX, 15, "out of range"),
        (900, 5, "shorter than the replication interval"),
    ] {
        let mut request = policy_request(&env, "https://", false);
        request.replication_interval_secs = interval;
        request.rpo_minutes = rpo;
        let err = env
            .engine
            .create_policy("prod-web-app", request)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        assert!(err.message().contains(expected), "{err}");
    }
    assert_eq!(state(&env).await, before);
}

// ----------------------------------------------------------------------------- mappings

#[tokio::test]
async fn a_mapping_of_a_network_no_member_uses_is_refused_and_nothing_is_stored() {
    let env = setup().await;
    let before = state(&env).await;
    // m1.small exists on site-a, but no member has it.
    let unused = ResourceMappings {
        networks: ResourceMappings::parse_pairs("network", ["net-unused=net-secondary-web"])
            .unwrap(),
        flavors: ResourceMappings::parse_pairs("flavor", ["m1.small=m2.large"]).unwrap(),
        ..ResourceMappings::default()
    };
    let err = env
        .engine
        .set_mappings("prod-web-app", "site-a", unused, false)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(
        err.message().contains(
            "network 'net-unused', flavor 'm1.small' not used by any member of protection group 'prod-web-app' on site-a"
        ),
        "{err}"
    );
    assert_eq!(state(&env).await, before);
}

#[tokio::test]
async fn a_mapping_to_a_network_missing_on_the_target_is_refused_and_nothing_is_stored() {
    let env = setup().await;
    let before = state(&env).await;
    let missing = ResourceMappings {
        networks: ResourceMappings::parse_pairs("network", ["net-primary-db=no-such-net"]).unwrap(),
        ..ResourceMappings::default()
    };
    let err = env
        .engine
        .set_mappings("prod-web-app", "site-a", missing, false)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ValidationFailed, "{err}");
    assert!(
        err.message()
            .contains("network 'no-such-net' not found on site-b"),
        "{err}"
    );
    assert_eq!(state(&env).await, before);
    // The members' own networks are accepted, in the reverse direction too when they exist
    // on site-b.
    env.engine
        .set_mappings("prod-web-app", "site-a", mappings(), false)
        .await
        .unwrap();
    let reverse = ResourceMappings {
        networks: ResourceMappings::parse_pairs("network", ["net-secondary-web=net-primary-web"])
            .unwrap(),
        ..ResourceMappings::default()
    };
    env.engine
        .set_mappings("prod-web-app", "site-b", reverse, false)
        .await
        .unwrap();
    let typo = ResourceMappings {
        networks: ResourceMappings::parse_pairs("network", ["net-secundary-web=net-primary-web"])
            .unwrap(),
        ..ResourceMappings::default()
    };
    let err = env
        .engine
        .set_mappings("prod-web-app", "site-b", typo, false)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(
        err.message()
            .contains("network 'net-secundary-web' not found on site-b, the source side"),
        "{err}"
    );
}

#[tokio::test]
async fn a_failover_mapping_of_an_unused_network_to_a_missing_one_is_refused_before_anything_moves()
{
    let env = setup().await;
    let before = shape(&env.sim.inspect());
    let mut given = mappings();
    given
        .networks
        .insert("net-unused".into(), "no-such-net".into());
    let err = env
        .engine
        .failover("prod-web-app", FailoverRequest::planned(given), &NoProgress)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ValidationFailed, "{err}");
    assert!(
        err.to_string().contains(
            "network 'no-such-net' not found on site-b (mapped from 'net-unused', which no member uses)"
        ),
        "{err}"
    );
    assert_eq!(shape(&env.sim.inspect()), before);
    // The same mapping to a network that exists there is harmless.
    let mut given = mappings();
    given
        .networks
        .insert("net-unused".into(), "net-secondary-db".into());
    let op = env
        .engine
        .failover("prod-web-app", FailoverRequest::planned(given), &NoProgress)
        .await
        .unwrap();
    assert_eq!(op.status, OperationStatus::Completed, "{op:?}");
}

// -------------------------------------------------------------------------- credentials

/// An engine over a fresh simulator with site-b registered under the clouds.yaml entry
/// `site-b-badpassword` (the seeded admin with a wrong password).
async fn wrong_password_on_site_b() -> Env {
    let sim = Simulator::in_memory().unwrap();
    let key = SecretKey::generate();
    let store_a: Arc<dyn Store> = Arc::new(SqliteStore::in_memory(key.clone()).unwrap());
    let store_b: Arc<dyn Store> = Arc::new(SqliteStore::in_memory(key).unwrap());
    let engine = Protector::builder()
        .with_local_site("site-a")
        .with_store("site-a", store_a.clone())
        .with_store("site-b", store_b.clone())
        .with_connector(Arc::new(sim.connector()))
        .with_options(EngineOptions {
            poll: PollPolicy::immediate(500),
            member_concurrency: 4,
            ..EngineOptions::default()
        })
        .build()
        .unwrap();
    for (site, site_type, cloud) in [
        ("site-a", SiteType::Primary, None),
        ("site-b", SiteType::Secondary, Some("site-b-badpassword")),
    ] {
        let reg = sim.site_registration(site).unwrap();
        engine
            .register_site(RegisterSite {
                name: reg.name,
                description: reg.description,
                site_type,
                auth_url: reg.auth_url,
                region_name: reg.region_name,
                cloud: cloud.map(str::to_string),
            })
            .await
            .unwrap();
    }
    Env {
        sim,
        engine,
        store_a,
        store_b,
    }
}

#[tokio::test]
async fn a_wrong_password_is_reported_as_refused_credentials_not_as_an_outage() {
    let env = wrong_password_on_site_b().await;
    let validation = env.engine.validate_site("site-b").await.unwrap();
    assert_eq!(validation.keystone_error, Some(ErrorKind::Unauthenticated));
    assert_eq!(validation.status, SiteStatus::Error);
    assert!(validation.keystone.starts_with("error: "), "{validation:?}");
    assert_eq!(validation.nova, "skipped: keystone failed");
    let ok = env.engine.validate_site("site-a").await.unwrap();
    assert_eq!(ok.keystone_error, None);
    assert_eq!(ok.status, SiteStatus::Active);

    let before = state(&env).await;
    let err = env
        .engine
        .create_group(create_request("prod-web-app"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
    assert!(
        err.message()
            .starts_with("cannot create protection group 'prod-web-app': site 'site-b'"),
        "{err}"
    );
    assert!(!err.message().contains("unreachable"), "{err}");
    assert_eq!(state(&env).await, before);
}
