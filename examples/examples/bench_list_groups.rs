//! The Rust side of `scripts/bench-python`: `Protector::groups()` timed from Rust, the engine
//! opened exactly as `protector.Protector(site, state_dir)` opens it (the stores in the state
//! directory, the site's credentials from clouds.yaml and `OS_*`).
//!
//! ```text
//! bench_list_groups seed --state-dir DIR --site SITE --groups N
//! bench_list_groups time --state-dir DIR --site SITE --calls N --warmup W
//! ```
//!
//! `seed` creates protection groups through the engine (`create_group`: both sites' Cinder
//! and stores) until the site sees `N`. `time` calls `groups()` `W` times untimed, then `N`
//! times each timed alone (the list is dropped outside the timing), and prints one JSON line:
//! the number of groups and each call's time in nanoseconds.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use protector_core::api::CombinedConnector;
use protector_core::engine::{CreateGroup, EngineOptions};
use protector_core::model::ReplicationType;
use protector_core::store::{OpenState, StateDir};
use protector_core::Protector;
use protector_openstack::{ConfigLoader, OpenStackConnector};
use protector_pure::FlashArrayConnector;

type BoxError = Box<dyn std::error::Error>;

const USAGE: &str = "usage: bench_list_groups (seed --groups N | time --calls N --warmup W) \
                     --state-dir DIR --site SITE";

/// The command line: a mode and `--name value` pairs.
struct Args {
    mode: String,
    state_dir: PathBuf,
    site: String,
    groups: usize,
    calls: usize,
    warmup: usize,
}

fn parse(args: &[String]) -> Result<Args, BoxError> {
    let (mode, pairs) = args.split_first().ok_or(USAGE)?;
    let mut parsed = Args {
        mode: mode.clone(),
        state_dir: PathBuf::new(),
        site: String::new(),
        groups: 0,
        calls: 0,
        warmup: 0,
    };
    for pair in pairs.chunks(2) {
        let [name, value] = pair else {
            return Err(format!("{} has no value; {USAGE}", pair[0]).into());
        };
        let number = || {
            value
                .parse::<usize>()
                .map_err(|_| format!("{name} {value} is not a count; {USAGE}"))
        };
        match name.as_str() {
            "--state-dir" => parsed.state_dir = PathBuf::from(value),
            "--site" => parsed.site = value.clone(),
            "--groups" => parsed.groups = number()?,
            "--calls" => parsed.calls = number()?,
            "--warmup" => parsed.warmup = number()?,
            _ => return Err(format!("unknown option {name}; {USAGE}").into()),
        }
    }
    if parsed.state_dir.as_os_str().is_empty() || parsed.site.is_empty() {
        return Err(USAGE.into());
    }
    Ok(parsed)
}

/// The engine as `bindings-python`'s `Protector(site, state_dir)` opens it.
async fn open(site: &str, state_dir: PathBuf) -> Result<Protector, BoxError> {
    let configured = ConfigLoader::from_process()
        .cloud_names()?
        .iter()
        .any(|name| name == site);
    let connector = Arc::new(CombinedConnector {
        sites: Arc::new(OpenStackConnector::from_process()),
        arrays: Arc::new(FlashArrayConnector::new()),
    });
    let request = OpenState {
        local_site: site.to_string(),
        extra_sites: Vec::new(),
        local_site_configured: configured,
        skip: None,
        options: EngineOptions::default(),
    };
    Ok(StateDir::new(state_dir)
        .open(request, connector)
        .await?
        .protector)
}

async fn seed(engine: &Protector, site: &str, wanted: usize) -> Result<(), BoxError> {
    let peer = engine
        .sites()
        .await?
        .into_iter()
        .map(|s| s.name)
        .find(|name| name != site)
        .ok_or("seeding needs a second registered site")?;
    for n in engine.groups().await?.len()..wanted {
        engine
            .create_group(CreateGroup {
                name: format!("bench-{n:05}"),
                description: "a protection group of the list benchmark".into(),
                replication_type: ReplicationType::Async,
                primary_site: site.to_string(),
                secondary_site: peer.clone(),
                volume_type: "replicated-ssd".into(),
            })
            .await?;
    }
    Ok(())
}

async fn time(engine: &Protector, calls: usize, warmup: usize) -> Result<(), BoxError> {
    let mut groups = 0;
    for _ in 0..warmup {
        groups = engine.groups().await?.len();
    }
    let mut samples = Vec::with_capacity(calls);
    for _ in 0..calls {
        let started = Instant::now();
        let listed = engine.groups().await?;
        samples.push(started.elapsed().as_nanos());
        groups = listed.len();
        drop(listed); // outside the timing, as Python frees its list
    }
    println!(
        "{}",
        serde_json::json!({ "groups": groups, "samples_ns": samples })
    );
    Ok(())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), BoxError> {
    let args = parse(&std::env::args().skip(1).collect::<Vec<_>>())?;
    let engine = open(&args.site, args.state_dir).await?;
    match args.mode.as_str() {
        "seed" => seed(&engine, &args.site, args.groups).await,
        "time" => time(&engine, args.calls, args.warmup).await,
        other => Err(format!("unknown mode {other}; {USAGE}").into()),
    }
}
