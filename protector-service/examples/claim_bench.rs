//! A benchmark of protector-engine (not a timed test): the time from an operation's submission
//! (its `pending` record written to the site's store) to a worker claiming it.
//!
//! ```sh
//! cargo run --release -p protector-service --example claim_bench -- --poll-interval 2 --operations 20
//! cargo run --release -p protector-service --example claim_bench -- --mysql-url mysql://u:p@127.0.0.1:3307/db
//! ```
//!
//! Two workers (as `[engine] workers = 4` processes) scan the store every `--poll-interval`
//! seconds; operations are submitted one at a time at random moments of the scan cycle. The
//! bound is the store's own cost of one claim (a scan and a lease, measured alone): what a
//! worker that never waited would take. The expected latency is half the poll interval plus
//! that bound. Prints a table and JSON.

use std::sync::Arc;
use std::time::{Duration, Instant};

use protector_core::engine::{EngineOptions, PollPolicy, RegisterSite};
use protector_core::model::{OperationStatus, SiteType};
use protector_core::store::{fixtures, SecretKey, SqliteStore, Store};
use protector_core::Protector;
use protector_mock::Simulator;
use protector_service::engine::{Worker, WorkerOptions};
use serde_json::json;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let mut poll = 2.0f64;
    let mut operations = 20usize;
    let mut mysql_url = None;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--poll-interval" => poll = value.parse().expect("--poll-interval SECONDS"),
            "--operations" => operations = value.parse().expect("--operations N"),
            "--mysql-url" => mysql_url = Some(value),
            other => panic!("unknown option {other}"),
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let (store, backend): (Arc<dyn Store>, &str) = match &mysql_url {
        Some(url) => {
            let store =
                protector_core::store::MySqlStore::connect_unchecked(url, SecretKey::generate())
                    .await
                    .unwrap();
            store.migrate().await.unwrap();
            (Arc::new(store), "mariadb")
        }
        None => (
            Arc::new(
                SqliteStore::open(&dir.path().join("claims.db"), SecretKey::generate()).unwrap(),
            ),
            "sqlite",
        ),
    };
    let sim = Simulator::in_memory().unwrap();
    let protector = Protector::builder()
        .with_local_site("site-a")
        .with_store("site-a", store.clone())
        .with_connector(Arc::new(sim.connector()))
        .with_options(EngineOptions {
            poll: PollPolicy::immediate(100),
            member_concurrency: 8,
            ..EngineOptions::default()
        })
        .build()
        .unwrap();

    // The site, so that a claimed record is read (and refused: it names no request) at once.
    let reg = sim.site_registration("site-a").unwrap();
    protector
        .register_site(RegisterSite {
            name: reg.name,
            description: reg.description,
            site_type: SiteType::Primary,
            auth_url: reg.auth_url,
            region_name: reg.region_name,
            cloud: None,
        })
        .await
        .unwrap();

    // The bound: one scan and one lease, alone.
    let probe = fixtures::operation(1_000_000, chrono::Utc::now());
    store.put_operation(&probe).await.unwrap();
    let started = Instant::now();
    let _ = store.list_operations().await.unwrap();
    store
        .acquire_lease(&probe.id, "probe", Duration::from_secs(30))
        .await
        .unwrap();
    let bound = started.elapsed();
    store.release_lease(&probe.id, "probe").await.unwrap();
    let mut done = probe.clone();
    done.status = OperationStatus::Failed;
    store.put_operation(&done).await.unwrap();

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut workers = Vec::new();
    for _ in 0..2 {
        let worker = Worker::new(
            protector.clone(),
            store.clone(),
            WorkerOptions {
                poll_interval: Duration::from_secs_f64(poll),
                ..WorkerOptions::default()
            },
        );
        let mut stopped = stopped.clone();
        workers.push(tokio::spawn(async move {
            worker
                .run_until(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })
                .await
        }));
    }

    let mut latencies = Vec::new();
    for n in 0..operations {
        // A random moment of the scan cycle.
        let offset = Duration::from_secs_f64(poll * rand_fraction(n));
        tokio::time::sleep(offset).await;
        let mut op = fixtures::operation(n as u128 + 1, chrono::Utc::now());
        op.status = OperationStatus::Pending;
        let submitted = Instant::now();
        store.put_operation(&op).await.unwrap();
        loop {
            let claimed = store.get_lease(&op.id).await.unwrap().is_some()
                || store.get_operation(&op.id).await.unwrap().unwrap().status
                    != OperationStatus::Pending;
            if claimed {
                latencies.push(submitted.elapsed());
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    let _ = stop.send(true);
    for worker in workers {
        let _ = worker.await;
    }
    latencies.sort();
    let pick = |p: f64| latencies[((p / 100.0) * (latencies.len() - 1) as f64).round() as usize];
    let expected = poll / 2.0 * 1000.0 + ms(bound);
    let report = json!({
        "scenario": "submit to claim, two workers",
        "backend": backend,
        "poll_interval_s": poll,
        "operations": operations,
        "latency_ms": {"p50": ms(pick(50.0)), "p90": ms(pick(90.0)), "max": ms(pick(100.0))},
        "bound_ms": ms(bound),
        "expected_mean_ms": expected,
    });
    println!("| backend | poll s | p50 ms | p90 ms | max ms | bound ms (scan + lease) | expected mean ms |");
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| {backend} | {poll} | {:.0} | {:.0} | {:.0} | {:.2} | {expected:.0} |",
        ms(pick(50.0)),
        ms(pick(90.0)),
        ms(pick(100.0)),
        ms(bound)
    );
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
}

/// A fraction in [0, 1), deterministic per `n` (no RNG dependency for a benchmark).
fn rand_fraction(n: usize) -> f64 {
    let mut x = (n as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= x >> 29;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 32;
    (x % 10_000) as f64 / 10_000.0
}
