//! A benchmark of protector-api (not a timed test): throughput and latency of listing
//! protection groups with many groups and many concurrent clients.
//!
//! ```sh
//! cargo run --release -p protector-service --example api_bench -- --groups 1000 --clients 100 --seconds 10
//! cargo run --release -p protector-service --example api_bench -- --mysql-url mysql://u:p@127.0.0.1:3307/db
//! ```
//!
//! The API serves a store (SQLite in a temporary file, or the MariaDB of `--mysql-url`, whose
//! database is emptied first) holding `--groups` groups, with Keystone token validation against
//! the simulator's Keystone (cached after the first request, as keystonemiddleware caches).
//! `--clients` tasks list the groups as admin (every group in every answer) for `--seconds`.
//! It prints requests per second, latency percentiles and the physical bound: the machine's
//! cores divided by the CPU cost of the essential work of one answer (reading every group from
//! the store and writing the JSON body, measured in-process), as a table and as JSON.

use std::sync::Arc;
use std::time::{Duration, Instant};

use protector_core::store::remote::keys;
use protector_core::store::{fixtures, GroupDocument, SecretKey, SqliteStore, Store};
use protector_mock::http::{ServeOptions, SimServer};
use protector_mock::Simulator;
use protector_openstack::{ClientOptions, ConfigLoader, TokenValidator};
use protector_service::api::{serve, Api, Authenticator};
use serde_json::json;

struct Args {
    groups: usize,
    clients: usize,
    seconds: u64,
    mysql_url: Option<String>,
}

fn args() -> Args {
    let mut args = Args {
        groups: 1000,
        clients: 100,
        seconds: 10,
        mysql_url: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--groups" => args.groups = value.parse().expect("--groups N"),
            "--clients" => args.clients = value.parse().expect("--clients N"),
            "--seconds" => args.seconds = value.parse().expect("--seconds N"),
            "--mysql-url" => args.mysql_url = Some(value),
            other => panic!("unknown option {other}"),
        }
    }
    args
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A project-scoped token of the simulator's admin (clouds.yaml entry `site-a`).
async fn login(config: &protector_openstack::CloudConfig) -> (String, String) {
    let protector_openstack::config::AuthMethod::Password { password, .. } = config.auth() else {
        panic!("site-a is not a password cloud");
    };
    let body = json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": "admin", "domain": {"name": "Default"}, "password": password.expose()}}},
        "scope": {"project": {"name": "production-project", "domain": {"name": "Default"}}}
    }});
    let response = reqwest::Client::new()
        .post(format!(
            "{}/auth/tokens",
            config.auth_url().trim_end_matches('/')
        ))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "admin login");
    let token = response.headers()["x-subject-token"]
        .to_str()
        .unwrap()
        .to_string();
    let body: serde_json::Value = response.json().await.unwrap();
    let project = body["token"]["project"]["id"].as_str().unwrap().to_string();
    (token, project)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args = args();
    let dir = tempfile::tempdir().unwrap();
    let sim = Simulator::in_memory().unwrap();
    let server = SimServer::start(sim, ServeOptions::new(dir.path()))
        .await
        .unwrap();
    let loader = ConfigLoader::new([(
        "OS_CLIENT_CONFIG_FILE",
        server.clouds_yaml().display().to_string(),
    )]);
    let admin = loader.load(Some("site-a")).unwrap();

    let (store, backend): (Arc<dyn Store>, &str) = match &args.mysql_url {
        Some(url) => {
            let store =
                protector_core::store::MySqlStore::connect_unchecked(url, SecretKey::generate())
                    .await
                    .unwrap();
            store.migrate().await.unwrap();
            for group in store.list_groups().await.unwrap() {
                store.delete_group(&group.id).await.unwrap();
            }
            (Arc::new(store), "mariadb")
        }
        None => (
            Arc::new(
                SqliteStore::open(&dir.path().join("bench.db"), SecretKey::generate()).unwrap(),
            ),
            "sqlite",
        ),
    };
    let seeding = Instant::now();
    for n in 0..args.groups {
        let group = fixtures::group(n as u128 + 1, &format!("group-{n:05}"));
        store
            .apply_document(&GroupDocument {
                group,
                members: Vec::new(),
                policy: None,
                mappings: Vec::new(),
            })
            .await
            .unwrap();
    }
    eprintln!(
        "seeded {} groups in {:.1} s",
        args.groups,
        seeding.elapsed().as_secs_f64()
    );

    // The physical bound: the essential work of one answer, on one core.
    let mut costs = Vec::new();
    let mut body_bytes = 0;
    for _ in 0..20 {
        let started = Instant::now();
        let groups = store.list_groups().await.unwrap();
        let body = serde_json::to_vec(&json!({ keys::GROUPS: groups })).unwrap();
        costs.push(started.elapsed());
        body_bytes = body.len();
    }
    costs.sort();
    let essential = costs[costs.len() / 2];
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let bound_rps = cores as f64 / essential.as_secs_f64();

    let validator = TokenValidator::new(admin.clone(), ClientOptions::default()).unwrap();
    let auth = Authenticator::new(
        validator,
        Duration::from_secs(300),
        server.auth_url("site-a").unwrap(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = Api::new("site-a", store.clone(), auth).router();
    tokio::spawn(serve(listener, router, std::future::pending()));

    let (token, project) = login(&admin).await;
    let list = format!("{url}/v1/{project}/protection-groups");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients)
        .build()
        .unwrap();
    // Warm-up: the first request validates the token with Keystone.
    let warm = http
        .get(&list)
        .header("X-Auth-Token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(warm.status(), 200, "warm-up list");

    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.clients {
        let http = http.clone();
        let list = list.clone();
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            while Instant::now() < deadline {
                let t = Instant::now();
                match http.get(&list).header("X-Auth-Token", &token).send().await {
                    Ok(r) if r.status() == 200 => {
                        let _ = r.bytes().await;
                        latencies.push(t.elapsed());
                    }
                    _ => errors += 1,
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (l, e) = task.await.unwrap();
        latencies.extend(l);
        errors += e;
    }
    let wall = started.elapsed();
    latencies.sort();
    let rps = latencies.len() as f64 / wall.as_secs_f64();
    let report = json!({
        "scenario": "list protection groups (admin: every group in every answer)",
        "backend": backend,
        "groups": args.groups,
        "clients": args.clients,
        "seconds": wall.as_secs_f64(),
        "requests": latencies.len(),
        "errors": errors,
        "requests_per_second": rps,
        "latency_ms": {
            "p50": ms(percentile(&latencies, 50.0)),
            "p90": ms(percentile(&latencies, 90.0)),
            "p99": ms(percentile(&latencies, 99.0)),
            "max": ms(latencies.last().copied().unwrap_or_default()),
        },
        "body_bytes": body_bytes,
        "bound": {
            "essential_ms_per_answer": ms(essential),
            "cores": cores,
            "requests_per_second": bound_rps,
        },
        "bound_over_achieved": bound_rps / rps,
    });
    println!(
        "| backend | groups | clients | req/s | p50 ms | p99 ms | bound req/s | bound / achieved |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    println!(
        "| {backend} | {} | {} | {rps:.0} | {:.1} | {:.1} | {bound_rps:.0} | {:.2}x |",
        args.groups,
        args.clients,
        ms(percentile(&latencies, 50.0)),
        ms(percentile(&latencies, 99.0)),
        bound_rps / rps
    );
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
    assert_eq!(errors, 0, "requests failed during the benchmark");
}
