//! CPU time the simulator spends per API call with a large inventory, in-process and over the
//! wire: seeds `--vms N` running VMs (default 1,000) into a file-backed state (as `protector sim
//! serve` runs it), then times a few thousand typical calls: GET server, list servers, GET
//! volume, POST server action (stop, then start).
//!
//! ```sh
//! cargo run --release -p protector-mock --example sim_cpu -- --vms 1000 --calls 2000
//! ```
//!
//! CPU is the process's user + system time (`/proc/self/stat`), so over the wire it includes
//! the HTTP client in the same process: an upper bound of the simulator's share. Not a test:
//! it asserts nothing and prints numbers.

use std::time::{Duration, Instant};

use protector_core::api::{Connector, ListServers, SiteClients};
use protector_core::model::{Site, SiteStatus, SiteType};
use protector_mock::http::{ServeOptions, SimServer};
use protector_mock::{ScaleSeed, Simulator};

/// User + system CPU time of this process.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at field 3.
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 (1-based), 11 and 12 after the ')'.
    let clock_ticks = 100; // sysconf(_SC_CLK_TCK) on Linux
    Duration::from_millis((ticks(11) + ticks(12)) * 1000 / clock_ticks)
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Measure {
    label: &'static str,
    calls: usize,
    cpu: Duration,
    wall: Duration,
}

impl Measure {
    fn print(&self) {
        println!(
            "{:<34} {:>6} calls  cpu {:>8.3} ms/call  wall {:>8.3} ms/call",
            self.label,
            self.calls,
            self.cpu.as_secs_f64() * 1000.0 / self.calls as f64,
            self.wall.as_secs_f64() * 1000.0 / self.calls as f64,
        );
    }
}

async fn timed<F, Fut>(label: &'static str, calls: usize, mut f: F) -> Measure
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let (cpu0, wall0) = (cpu_time(), Instant::now());
    for i in 0..calls {
        f(i).await;
    }
    Measure {
        label,
        calls,
        cpu: cpu_time() - cpu0,
        wall: wall0.elapsed(),
    }
}

fn site_model(sim: &Simulator, site: &str) -> Site {
    let registration = sim.site_registration(site).expect("simulated site");
    Site {
        id: uuid::Uuid::nil(),
        name: registration.name,
        description: registration.description,
        site_type: SiteType::Primary,
        auth_url: registration.auth_url,
        region_name: registration.region_name,
        status: SiteStatus::Active,
        cloud: None,
        created_at: sim.now(),
    }
}

async fn in_process(sim: &Simulator, servers: &[String], volumes: &[String], calls: usize) {
    let clients: SiteClients = sim
        .connector()
        .site(&site_model(sim, "site-a"))
        .await
        .expect("clients");
    let list_calls = (calls / 20).max(5);
    let results = [
        timed("in-process GET server", calls, |i| {
            let compute = clients.compute.clone();
            let id = servers[i % servers.len()].clone();
            async move {
                compute.get_server(&id).await.unwrap().unwrap();
            }
        })
        .await,
        timed("in-process list servers", list_calls, |_| {
            let compute = clients.compute.clone();
            async move {
                compute.list_servers(&ListServers::default()).await.unwrap();
            }
        })
        .await,
        timed("in-process GET volume", calls, |i| {
            let storage = clients.block_storage.clone();
            let id = volumes[i % volumes.len()].clone();
            async move {
                storage.get_volume(&id).await.unwrap().unwrap();
            }
        })
        .await,
        timed(
            "in-process POST action (stop)",
            calls.min(servers.len()),
            |i| {
                let compute = clients.compute.clone();
                let id = servers[i].clone();
                async move {
                    compute.stop_server(&id).await.unwrap();
                }
            },
        )
        .await,
    ];
    sim.tick(2).unwrap();
    let start = timed(
        "in-process POST action (start)",
        calls.min(servers.len()),
        |i| {
            let compute = clients.compute.clone();
            let id = servers[i].clone();
            async move {
                compute.start_server(&id).await.unwrap();
            }
        },
    )
    .await;
    sim.tick(2).unwrap();
    for m in results.iter().chain([&start]) {
        m.print();
    }
}

async fn over_the_wire(
    sim: Simulator,
    dir: &std::path::Path,
    servers: &[String],
    volumes: &[String],
    calls: usize,
) {
    let server = SimServer::start(sim, ServeOptions::new(dir))
        .await
        .expect("server");
    let auth_url = server.auth_url("site-a").unwrap();
    let clouds = std::fs::read_to_string(server.clouds_yaml()).unwrap();
    // The admin password of site-a, from the clouds.yaml the server wrote.
    let password = clouds
        .lines()
        .skip_while(|l| l.trim() != "\"site-a\":" && l.trim() != "site-a:")
        .find_map(|l| l.trim().strip_prefix("password: "))
        .map(|p| p.trim_matches('"').to_string())
        .expect("site-a password");
    let http = reqwest::Client::new();
    let body = serde_json::json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": "admin", "domain": {"name": "Default"}, "password": password}}},
        "scope": {"project": {"name": "production-project", "domain": {"name": "Default"}}}
    }});
    let response = http
        .post(format!("{auth_url}/auth/tokens"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "token");
    let token = response.headers()["x-subject-token"]
        .to_str()
        .unwrap()
        .to_string();
    let base = server.base_url("site-a").unwrap();
    let compute = format!("{base}/compute/v2.1");
    let volume = format!("{base}/volume/v3");
    let list_calls = (calls / 20).max(5);
    let get = |url: String| {
        let http = http.clone();
        let token = token.clone();
        async move {
            let r = http
                .get(url)
                .header("X-Auth-Token", token)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{}", r.status());
            r.bytes().await.unwrap();
        }
    };
    let action = |url: String, body: serde_json::Value| {
        let http = http.clone();
        let token = token.clone();
        async move {
            let r = http
                .post(url)
                .header("X-Auth-Token", token)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{}", r.status());
        }
    };
    let results = [
        timed("wire GET server", calls, |i| {
            get(format!("{compute}/servers/{}", servers[i % servers.len()]))
        })
        .await,
        timed("wire list servers (detail)", list_calls, |_| {
            get(format!("{compute}/servers/detail"))
        })
        .await,
        timed("wire GET volume", calls, |i| {
            get(format!("{volume}/volumes/{}", volumes[i % volumes.len()]))
        })
        .await,
        timed(
            "wire POST action (os-stop)",
            calls.min(servers.len()),
            |i| {
                action(
                    format!("{compute}/servers/{}/action", servers[i]),
                    serde_json::json!({"os-stop": null}),
                )
            },
        )
        .await,
    ];
    for m in &results {
        m.print();
    }
    server.shutdown().await;
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let vms = arg("--vms", 1000);
    let calls = arg("--calls", 2000);
    let dir = tempfile::tempdir().expect("temporary directory");
    let state = ServeOptions::state_file(dir.path());
    let sim = Simulator::open(&state).expect("state");
    let started = (cpu_time(), Instant::now());
    let seeded = sim
        .seed_scale(&ScaleSeed {
            volume_types: vec!["replicated-ssd".into()],
            ..ScaleSeed::new(0, vms)
        })
        .expect("seed");
    println!(
        "seeded {vms} VMs: cpu {:.3} s, wall {:.3} s",
        (cpu_time() - started.0).as_secs_f64(),
        started.1.elapsed().as_secs_f64()
    );
    let servers: Vec<String> = seeded.servers().map(|s| s.id.clone()).collect();
    let inventory = sim.inspect();
    let volumes: Vec<String> = inventory.sites["site-a"]
        .servers
        .iter()
        .filter(|s| servers.contains(&s.id))
        .flat_map(|s| s.volumes.clone())
        .collect();
    // Every VM running: restart the ones the in-process run stopped before the wire run.
    in_process(&sim, &servers, &volumes, calls).await;
    // The wire run stops a fresh set: the in-process run started them all again.
    over_the_wire(sim, dir.path(), &servers, &volumes, calls).await;
}
