//! `protector sim ...`: the two-site simulator as a tool of its own.
//!
//! - `sim serve` puts the simulator behind the real wire APIs (Keystone, Nova, Cinder, Neutron
//!   per site, FlashArray REST 2.x per array) on 127.0.0.1, so unmodified clients can use it.
//! - `sim fault` changes the injected faults in the same state file; a running server sees them
//!   on its next call, because the simulator reloads the state whenever another process
//!   committed to it.
//! - `sim inspect` prints what the simulator holds, whatever the faults.
//!
//! Everything lives in one directory: `DIR/sim.db` (the state), and, while serving,
//! `DIR/clouds.yaml`, `DIR/arrays.json` and the arrays' certificate.

use std::fmt;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use protector_core::Error;
use protector_mock::http::{ServeOptions, ServePorts, SimServer, SitePorts};
use protector_mock::{InjectedError, Service, Simulator};

use crate::args::{Format, OutputOptions};
use crate::error::{CliError, CliResult};
use crate::output::{eprint_line, Printer};

use super::sim_capacity::open_existing;
use super::sim_inspect::inventory_tables;

/// Every simulated site, in display order.
const SITES: [&str; 2] = ["site-a", "site-b"];

#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Serve both simulated sites and both FlashArrays on 127.0.0.1 until SIGINT or SIGTERM.
    ///
    /// Opens DIR/sim.db (a fresh DIR is seeded with the default inventory; an existing one
    /// resumes where it stopped), writes DIR/clouds.yaml (site-a, site-b, site-a-member,
    /// site-b-member, site-a-tenant2, site-b-tenant2) and DIR/arrays.json, then prints `ready`
    /// on stdout. Everything else goes to stderr.
    ///
    /// `--seed-vms N [--seed-projects M]` seeds a fresh DIR with N more running VMs on site-a
    /// (benchmarks, demos) and lists them in DIR/scale-seed.json.
    Serve(ServeArgs),

    /// Inject or remove faults in a simulator directory; a running server sees them at once.
    ///
    /// Examples: `--site site-b --down`, `--site site-b --up`,
    /// `--site site-a --service volume --error-rate 0.1`, `--site site-a --latency-ms 50`,
    /// `--site site-a --array-down`, `--partition`, `--heal`, `--clear`.
    Fault(FaultArgs),

    /// Print both sites' and arrays' inventory as the simulator sees it, whatever the faults.
    Inspect(InspectArgs),
    #[command(flatten)]
    Capacity(super::sim_capacity::CapacityCommand),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Simulator directory: state, clouds.yaml, arrays.json and certificate (created if missing).
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,

    /// Listen on consecutive ports from N instead of ephemeral ones.
    #[arg(long, value_name = "N")]
    pub port_base: Option<u16>,

    #[command(flatten)]
    pub seed: super::sim_seed::SeedArgs,

    /// How many ticks (calls) the services' transitions take: `realistic` (a boot is seen in
    /// BUILD once, a replicated snapshot arrives over three ticks) or `prompt` (every
    /// transition completes by the next call, as the benchmark's critical-path bound assumes).
    /// Kept in the state; a restart without it keeps the pace it had.
    #[arg(long, value_enum, value_name = "PACE")]
    pub pace: Option<PaceArg>,

    /// What simulated time follows: `calls` (one simulated second per call: deterministic,
    /// and the arrays' schedules fire every few hundred calls) or `wall` (real time, as a
    /// real array's schedules do). Kept in the state; a restart without it keeps the clock
    /// it had.
    #[arg(long, value_enum, value_name = "CLOCK")]
    pub clock: Option<ClockArg>,
}

/// What simulated time follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ClockArg {
    /// One simulated second per call (the default of a fresh directory).
    Calls,
    /// Real time.
    Wall,
}

impl From<ClockArg> for protector_mock::Clock {
    fn from(clock: ClockArg) -> protector_mock::Clock {
        match clock {
            ClockArg::Calls => protector_mock::Clock::Calls,
            ClockArg::Wall => protector_mock::Clock::Wall,
        }
    }
}

/// How fast the simulated services' transitions complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PaceArg {
    /// As the services report them (the default of a fresh directory).
    Realistic,
    /// Every transition completes by the next call.
    Prompt,
}

impl From<PaceArg> for protector_mock::Pace {
    fn from(pace: PaceArg) -> protector_mock::Pace {
        match pace {
            PaceArg::Realistic => protector_mock::Pace::Realistic,
            PaceArg::Prompt => protector_mock::Pace::Prompt,
        }
    }
}

/// A service of a simulated site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ServiceArg {
    /// Keystone.
    Identity,
    /// Nova.
    Compute,
    /// Cinder.
    Volume,
    /// Neutron.
    Network,
    /// The site's FlashArray.
    Array,
}

impl From<ServiceArg> for Service {
    fn from(service: ServiceArg) -> Service {
        match service {
            ServiceArg::Identity => Service::Identity,
            ServiceArg::Compute => Service::Compute,
            ServiceArg::Volume => Service::Volume,
            ServiceArg::Network => Service::Network,
            ServiceArg::Array => Service::Array,
        }
    }
}

/// The error a service answers at the injected rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ErrorArg {
    /// 500 Internal Server Error; the request has no effect.
    #[value(name = "500")]
    InternalServerError,
    /// 503 Service Unavailable; the request has no effect.
    #[value(name = "503")]
    ServiceUnavailable,
    /// 429 Too Many Requests with Retry-After (--retry-after); the request has no effect.
    #[value(name = "429")]
    TooManyRequests,
    /// No answer: the request IS applied and the response is lost.
    Timeout,
}

#[derive(Debug, Args)]
pub struct FaultArgs {
    /// Simulator directory (holding sim.db, as written by `protector sim serve`).
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,

    /// The site to change (site-a or site-b).
    #[arg(long, value_name = "SITE")]
    pub site: Option<String>,

    /// Limit --error-rate and --latency-ms to one service [default: every service of the site];
    /// with --down / --up only `array` is accepted (the same as --array-down / --array-up).
    #[arg(long, value_enum, value_name = "SERVICE")]
    pub service: Option<ServiceArg>,

    /// Take every OpenStack service of the site down: calls are refused (VMs keep running).
    #[arg(long)]
    pub down: bool,

    /// Bring the site's OpenStack services back.
    #[arg(long)]
    pub up: bool,

    /// Power the site's FlashArray off: its API is refused, no write lands, replication stalls.
    #[arg(long)]
    pub array_down: bool,

    /// Power the site's FlashArray back on.
    #[arg(long)]
    pub array_up: bool,

    /// Cut the replication link between the two arrays (takes no --site).
    #[arg(long)]
    pub partition: bool,

    /// Restore the replication link (takes no --site).
    #[arg(long)]
    pub heal: bool,

    /// Fail this fraction (0 to 1) of the calls, drawn from a seeded generator; 0 removes it.
    #[arg(long, value_name = "R")]
    pub error_rate: Option<f64>,

    /// The error of --error-rate [default: 503].
    #[arg(long, value_enum, value_name = "ERROR")]
    pub error: Option<ErrorArg>,

    /// Retry-After seconds of `--error 429` [default: 1].
    #[arg(long, value_name = "SECS")]
    pub retry_after: Option<u64>,

    /// Delay every call by this many milliseconds of real time; 0 removes it.
    #[arg(long, value_name = "MS")]
    pub latency_ms: Option<u64>,

    /// Remove every fault on both sites (takes nothing else).
    #[arg(long)]
    pub clear: bool,
}

/// How `sim inspect` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InspectFormat {
    /// A readable summary: one table per site and resource, one per array and resource.
    Table,
    /// The inventory as JSON: `{"sites": {...}, "arrays": {...}}`.
    Json,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Simulator directory (holding sim.db, as written by `protector sim serve`).
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,

    /// Output format.
    #[arg(short = 'f', long = "format", value_enum, default_value_t = InspectFormat::Table)]
    pub format: InspectFormat,
}

/// Runs `protector sim ...`.
pub async fn run(command: SimCommand) -> CliResult {
    match command {
        SimCommand::Serve(args) => serve(args).await,
        SimCommand::Fault(args) => fault(args),
        SimCommand::Inspect(args) => inspect(args),
        SimCommand::Capacity(command) => super::sim_capacity::run(command),
    }
}

// ---------------------------------------------------------------------------------- serve

async fn serve(args: ServeArgs) -> CliResult {
    args.seed.spec()?;
    std::fs::create_dir_all(&args.dir).map_err(|e| {
        CliError::config(format!(
            "cannot create the simulator directory {}: {e}",
            args.dir.display()
        ))
    })?;
    let path = ServeOptions::state_file(&args.dir);
    let resumed = path.exists();
    let sim = Simulator::open(&path)?;
    if let Err(e) = super::sim_seed::apply(&sim, &args.dir, &args.seed, resumed) {
        if !resumed {
            // Leave no half-made directory behind: the next serve starts fresh.
            drop(sim);
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
        }
        return Err(e);
    }
    if let Some(pace) = args.pace {
        sim.set_pace(pace.into())?;
    }
    if let Some(clock) = args.clock {
        sim.set_clock(clock.into())?;
    }
    // Reading once makes the simulator notice, from now on, every commit another process
    // (`sim fault`) makes to the state file: the store records the file's version on its
    // first read, and a change before that would go unseen and be overwritten.
    sim.inspect();
    let ports = args.port_base.map(ports_from).transpose()?;
    let server = SimServer::start(
        sim,
        ServeOptions {
            dir: args.dir.clone(),
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            ports,
        },
    )
    .await?;

    let state = if resumed { "resumed" } else { "seeded" };
    eprint_line(&format!(
        "protector sim: state {} ({state})",
        path.display()
    ));
    for site in SITES {
        eprint_line(&format!(
            "protector sim: {site}: Keystone {}, FlashArray {}",
            server.auth_url(site).unwrap_or_default(),
            server.array_url(site).unwrap_or_default()
        ));
    }
    eprint_line(&format!(
        "protector sim: clouds {}, arrays {}; stop with SIGINT or SIGTERM",
        server.clouds_yaml().display(),
        server.arrays_json().display()
    ));
    let mut signals = ShutdownSignals::register()?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "ready")
        .and_then(|()| stdout.flush())
        .map_err(CliError::from_io)?;

    let signal = signals.recv().await;
    eprint_line(&format!("protector sim: {signal}: shutting down"));
    server.shutdown().await;
    Ok(())
}

/// `--port-base N`: site-a's OpenStack and array ports are N and N+1, site-b's N+2 and N+3.
fn ports_from(base: u16) -> CliResult<ServePorts> {
    let port = |offset: u16| {
        base.checked_add(offset)
            .filter(|_| base != 0)
            .ok_or_else(|| {
                CliError::invalid(format!(
                    "--port-base {base} leaves no room for four ports: choose 1 to 65532"
                ))
            })
    };
    Ok(ServePorts {
        site_a: SitePorts {
            openstack: port(0)?,
            array: port(1)?,
        },
        site_b: SitePorts {
            openstack: port(2)?,
            array: port(3)?,
        },
    })
}

/// SIGINT and SIGTERM, registered before `ready` is printed: a signal sent right after `ready`
/// must shut the server down cleanly, not kill it with the default action.
struct ShutdownSignals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl ShutdownSignals {
    fn register() -> CliResult<ShutdownSignals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let watch = |kind: SignalKind, name: &str| {
                signal(kind).map_err(|e| CliError::unexpected(format!("cannot watch {name}: {e}")))
            };
            Ok(ShutdownSignals {
                interrupt: watch(SignalKind::interrupt(), "SIGINT")?,
                terminate: watch(SignalKind::terminate(), "SIGTERM")?,
            })
        }
        #[cfg(not(unix))]
        Ok(ShutdownSignals {})
    }

    /// Waits for the first one and names it.
    async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => "SIGINT",
                _ = self.terminate.recv() => "SIGTERM",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}

// ---------------------------------------------------------------------------------- fault

/// One change to the injected faults.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultChange {
    /// Every OpenStack service of a site refuses calls (or answers again).
    SiteDown { site: String, down: bool },
    /// A site's FlashArray is off (or on).
    ArrayDown { site: String, down: bool },
    /// The replication link between the arrays is cut (or restored).
    Partition(bool),
    /// A fraction of a service's calls fail (0 removes it).
    ErrorRate {
        site: String,
        service: Service,
        rate: f64,
        error: InjectedError,
    },
    /// Every call of a service is delayed (0 removes it).
    Latency {
        site: String,
        service: Service,
        ms: u64,
    },
    /// No fault anywhere.
    Clear,
}

impl fmt::Display for FaultChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultChange::SiteDown { site, down: true } => {
                write!(f, "{site}: OpenStack services down (calls are refused)")
            }
            FaultChange::SiteDown { site, down: false } => {
                write!(f, "{site}: OpenStack services up")
            }
            FaultChange::ArrayDown { site, down: true } => write!(f, "{site}: array down"),
            FaultChange::ArrayDown { site, down: false } => write!(f, "{site}: array up"),
            FaultChange::Partition(true) => f.write_str("replication link cut (partition)"),
            FaultChange::Partition(false) => f.write_str("replication link restored"),
            FaultChange::ErrorRate {
                site,
                service,
                rate,
                ..
            } if *rate == 0.0 => write!(f, "{site}/{service}: no error rate"),
            FaultChange::ErrorRate {
                site,
                service,
                rate,
                error,
            } => {
                let error = match error {
                    InjectedError::InternalServerError => "500".to_string(),
                    InjectedError::ServiceUnavailable => "503".to_string(),
                    InjectedError::TooManyRequests { retry_after_secs } => {
                        format!("429, Retry-After {retry_after_secs} s")
                    }
                    InjectedError::Timeout => "timeout, request applied".to_string(),
                };
                write!(f, "{site}/{service}: error rate {rate} ({error})")
            }
            FaultChange::Latency { site, service, ms } if *ms == 0 => {
                write!(f, "{site}/{service}: no added latency")
            }
            FaultChange::Latency { site, service, ms } => {
                write!(f, "{site}/{service}: latency {ms} ms")
            }
            FaultChange::Clear => f.write_str("every fault cleared"),
        }
    }
}

/// The changes `args` ask for, or why the combination makes no sense. Pure: nothing is applied.
pub fn fault_changes(args: &FaultArgs) -> Result<Vec<FaultChange>, Error> {
    let invalid = |message: String| Err(Error::invalid(message));

    if args.clear {
        let others = [
            (args.site.is_some(), "--site"),
            (args.service.is_some(), "--service"),
            (args.down, "--down"),
            (args.up, "--up"),
            (args.array_down, "--array-down"),
            (args.array_up, "--array-up"),
            (args.partition, "--partition"),
            (args.heal, "--heal"),
            (args.error_rate.is_some(), "--error-rate"),
            (args.error.is_some(), "--error"),
            (args.retry_after.is_some(), "--retry-after"),
            (args.latency_ms.is_some(), "--latency-ms"),
        ];
        let given: Vec<&str> = others.iter().filter(|(g, _)| *g).map(|(_, n)| *n).collect();
        if !given.is_empty() {
            return invalid(format!(
                "--clear removes every fault on both sites and takes no other option (got {})",
                given.join(", ")
            ));
        }
        return Ok(vec![FaultChange::Clear]);
    }

    for (a, b) in [
        (args.down && args.up, "--down and --up"),
        (
            args.array_down && args.array_up,
            "--array-down and --array-up",
        ),
        (args.partition && args.heal, "--partition and --heal"),
    ] {
        if a {
            return invalid(format!("{b} contradict each other: give one"));
        }
    }
    if args.error.is_some() && args.error_rate.is_none() {
        return invalid("--error chooses the error of --error-rate: give --error-rate too".into());
    }
    if args.retry_after.is_some() && args.error != Some(ErrorArg::TooManyRequests) {
        return invalid("--retry-after applies to --error 429 only".into());
    }
    if let Some(rate) = args.error_rate {
        if !(0.0..=1.0).contains(&rate) {
            return invalid(format!(
                "--error-rate {rate} is not a fraction: give a number from 0 to 1"
            ));
        }
    }
    if (args.down || args.up) && args.service.is_some_and(|s| s != ServiceArg::Array) {
        return invalid(format!(
            "--down / --up take a whole site down or up, or its array with --service array; \
             a single OpenStack service cannot be taken down: make it fail every call with \
             --service {} --error-rate 1 --error 503",
            Service::from(args.service.unwrap_or(ServiceArg::Array))
        ));
    }
    if (args.array_down || args.array_up) && args.service.is_some() {
        return invalid("--array-down / --array-up take no --service".into());
    }

    let site_scoped = args.down
        || args.up
        || args.array_down
        || args.array_up
        || args.error_rate.is_some()
        || args.latency_ms.is_some();
    if !site_scoped && !args.partition && !args.heal {
        return invalid(
            "nothing to change: give --down, --up, --array-down, --array-up, --partition, \
             --heal, --error-rate, --latency-ms or --clear"
                .into(),
        );
    }
    let site = match (&args.site, site_scoped) {
        (Some(site), true) => {
            if !SITES.contains(&site.as_str()) {
                return invalid(format!(
                    "unknown simulated site '{site}': use {}",
                    SITES.join(" or ")
                ));
            }
            site.clone()
        }
        (None, true) => {
            return invalid(format!("which site? give --site ({})", SITES.join(" or ")))
        }
        (Some(_), false) => {
            return invalid(
                "--partition / --heal act on the link between the two sites and take no --site"
                    .into(),
            )
        }
        (None, false) => String::new(),
    };
    if args.service.is_some()
        && !(args.down || args.up || args.error_rate.is_some() || args.latency_ms.is_some())
    {
        return invalid("--service applies to --error-rate, --latency-ms, --down and --up".into());
    }

    let services: Vec<Service> = match args.service {
        Some(service) => vec![service.into()],
        None => Service::ALL.to_vec(),
    };
    let mut changes = Vec::new();
    if args.down || args.up {
        let down = args.down;
        changes.push(if args.service == Some(ServiceArg::Array) {
            FaultChange::ArrayDown {
                site: site.clone(),
                down,
            }
        } else {
            FaultChange::SiteDown {
                site: site.clone(),
                down,
            }
        });
    }
    if args.array_down || args.array_up {
        changes.push(FaultChange::ArrayDown {
            site: site.clone(),
            down: args.array_down,
        });
    }
    if args.partition || args.heal {
        changes.push(FaultChange::Partition(args.partition));
    }
    if let Some(rate) = args.error_rate {
        let error = match args.error.unwrap_or(ErrorArg::ServiceUnavailable) {
            ErrorArg::InternalServerError => InjectedError::InternalServerError,
            ErrorArg::ServiceUnavailable => InjectedError::ServiceUnavailable,
            ErrorArg::TooManyRequests => InjectedError::TooManyRequests {
                retry_after_secs: args.retry_after.unwrap_or(1),
            },
            ErrorArg::Timeout => InjectedError::Timeout,
        };
        for &service in &services {
            changes.push(FaultChange::ErrorRate {
                site: site.clone(),
                service,
                rate,
                error,
            });
        }
    }
    if let Some(ms) = args.latency_ms {
        for &service in &services {
            changes.push(FaultChange::Latency {
                site: site.clone(),
                service,
                ms,
            });
        }
    }
    Ok(changes)
}

/// Applies one change; each is its own transaction, seen by a server on its next call.
fn apply(sim: &Simulator, change: &FaultChange) -> protector_core::Result<()> {
    match change {
        FaultChange::SiteDown { site, down } => sim.set_site_down(site, *down),
        FaultChange::ArrayDown { site, down } => sim.set_array_down(site, *down),
        FaultChange::Partition(cut) => sim.set_partition(*cut),
        FaultChange::ErrorRate {
            site,
            service,
            rate,
            error,
        } => sim.set_error_rate(site, *service, *rate, *error),
        FaultChange::Latency { site, service, ms } => sim.set_latency_ms(site, *service, *ms),
        FaultChange::Clear => sim.clear(),
    }
}

fn fault(args: FaultArgs) -> CliResult {
    let changes = fault_changes(&args)?;
    let sim = open_existing(&args.dir)?;
    let mut out = Printer::stdout(&OutputOptions {
        format: Format::Table,
        columns: Vec::new(),
    });
    for change in &changes {
        apply(&sim, change)?;
        out.text(&format!("{change}\n"))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------- inspect

fn inspect(args: InspectArgs) -> CliResult {
    let sim = open_existing(&args.dir)?;
    let inventory = sim.inspect();
    let text = match args.format {
        InspectFormat::Json => {
            let mut s = serde_json::to_string_pretty(&inventory)
                .map_err(|e| CliError::unexpected(format!("cannot render JSON: {e}")))?;
            s.push('\n');
            s
        }
        InspectFormat::Table => inventory_tables(&inventory),
    };
    let mut out = Printer::stdout(&OutputOptions {
        format: Format::Table,
        columns: Vec::new(),
    });
    out.text(&text)
}
