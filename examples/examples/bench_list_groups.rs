//! The Rust side of `scripts/bench-python`: `Protector::groups()` timed from Rust, the engine
//! opened exactly as `protector.Protector(site, state_dir)` opens it (the stores in the state
//! directory, the site's credentials from clouds.yaml and `OS_*`).
//!
//! ```text
//! bench_list_groups seed --state-dir DIR --site SITE --groups N
//! bench_list_groups time --state-dir DIR --site SITE --calls N --warmup W [--call site]
//! ```
//!
//! `seed` creates protection groups through the engine (`create_group`: both sites' Cinder
//! and stores) until the site sees `N`. `time` calls `groups()` `W` times untimed, then `N`
//! times each timed alone (the list is dropped outside the timing), and prints one JSON line:
//! the number of groups and each call's time in nanoseconds. `--call site` times `site(SITE)`
//! instead: one small record, the fixed cost of a call.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use protector_core::api::CombinedConnector;
use protector_core::engine::{CreateGroup, EngineOptions};
use protector_core::model::{ProtectionGroup, ReplicationType, Site};
use protector_core::store::{OpenState, StateDir};
use protector_core::Protector;
use protector_openstack::{ConfigLoader, OpenStackConnector};
use protector_pure::FlashArrayConnector;

type BoxError = Box<dyn std::error::Error>;

const USAGE: &str = "usage: bench_list_groups (seed --groups N | time --calls N --warmup W \
                     [--call groups|site]) --state-dir DIR --site SITE";

/// The command line: a mode and `--name value` pairs.
struct Args {
    mode: String,
    state_dir: PathBuf,
    site: String,
    groups: usize,
    calls: usize,
    warmup: usize,
    call: Call,
}

/// The call `time` times: `groups()`, or `site(SITE)` (one small record: the fixed cost of a
/// call).
#[derive(Clone, Copy)]
enum Call {
    Groups,
    Site,
}

/// A call's result, dropped after the timing.
enum Answer {
    Groups(Vec<ProtectionGroup>),
    Sites(Vec<Site>),
}

impl Answer {
    fn len(&self) -> usize {
        match self {
            Answer::Groups(groups) => groups.len(),
            Answer::Sites(sites) => sites.len(),
        }
    }
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
        call: Call::Groups,
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
            "--call" if value == "groups" => parsed.call = Call::Groups,
            "--call" if value == "site" => parsed.call = Call::Site,
            "--call" => return Err(format!("--call {value} is not groups or site; {USAGE}").into()),
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

async fn call(engine: &Protector, call: Call, site: &str) -> Result<Answer, BoxError> {
    Ok(match call {
        Call::Groups => Answer::Groups(engine.groups().await?),
        Call::Site => Answer::Sites(vec![engine.site(site).await?]),
    })
}

async fn time(engine: &Protector, args: &Args) -> Result<(), BoxError> {
    let mut items = 0;
    for _ in 0..args.warmup {
        items = call(engine, args.call, &args.site).await?.len();
    }
    let mut samples = Vec::with_capacity(args.calls);
    for _ in 0..args.calls {
        let started = Instant::now();
        let answer = call(engine, args.call, &args.site).await?;
        samples.push(started.elapsed().as_nanos());
        items = answer.len();
        drop(answer); // outside the timing, as Python frees its result
    }
    println!(
        "{}",
        serde_json::json!({ "items": items, "samples_ns": samples })
    );
    Ok(())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), BoxError> {
    let args = parse(&std::env::args().skip(1).collect::<Vec<_>>())?;
    let engine = open(&args.site, args.state_dir.clone()).await?;
    match args.mode.as_str() {
        "seed" => seed(&engine, &args.site, args.groups).await,
        "time" => time(&engine, &args).await,
        other => Err(format!("unknown mode {other}; {USAGE}").into()),
    }
}
