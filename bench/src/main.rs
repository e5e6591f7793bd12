//! `protector-bench`: recovery time of protector against the served simulator, next to its
//! bound (the critical path of dependent round trips of the executed plan times the injected
//! latency). Each run builds a fresh simulator, serves it on loopback from this process (which
//! counts every request), sets the scenario up through protector-core in process, injects the
//! latency into every service, then runs the real `protector` command as a child process with
//! default engine settings and reaps it with wait4(2) for its CPU time and peak RSS. The
//! invariants (one running copy, no leak, zero loss) are checked after every run.
//!
//! `scripts/bench` builds it and `protector` in release and runs it; see the README's
//! "Benchmarks".

mod checks;
mod measure;
mod report;
mod run;
mod scenario;
mod world;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use serde::Serialize;

use crate::measure::Protector;
use crate::report::{summarize, table, ScenarioReport};

/// Why a run could not be measured, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure(pub String);

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Measures protector's failover, site failover, failback and drill against the served
/// simulator with injected latency, and compares each with its critical-path bound.
#[derive(Debug, Parser)]
#[command(name = "protector-bench")]
struct Args {
    /// Scenario to run (repeat for several): failover-1, failover-20, failover-100, site-10x10,
    /// site-100x10, failback-20, drill-20, or all (every one but site-100x10 unless --large).
    #[arg(long = "scenario", value_name = "NAME", default_value = "all")]
    scenarios: Vec<String>,
    /// Run every scenario (as `--scenario all`).
    #[arg(long)]
    all: bool,
    /// With all: include the 1,000-VM site failover (several minutes per run).
    #[arg(long)]
    large: bool,
    /// Runs per scenario; the table shows their medians.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    runs: u32,
    /// Latency injected into every API call of both sites and arrays, in milliseconds.
    #[arg(long, default_value_t = 50)]
    latency_ms: u64,
    /// How many calls the simulated services' transitions take while measured: `prompt`
    /// (each completes by the next call, as the bound assumes: one poll sees it) or `realistic`
    /// (a boot is seen in BUILD once, a replicated snapshot arrives over three calls; a client
    /// that polls more often then finishes sooner, so it measures the simulator's pace).
    #[arg(long, value_enum, default_value = "prompt")]
    pace: PaceArg,
    /// What the simulator's time follows while measured: `wall` (real time: the arrays'
    /// replication schedules and retention see the seconds the run takes, as a real array
    /// would) or `calls` (a simulated second per call: a 1,000-VM run passes hours of
    /// schedules, and the simulator spends its CPU on them).
    #[arg(long, value_enum, default_value = "wall")]
    clock: ClockArg,
    /// Also write every run's numbers, the medians and the critical paths to FILE as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// The protector executable [default: `protector` next to this one].
    #[arg(long, value_name = "PATH")]
    protector: Option<PathBuf>,
    /// Diagnosis: run the command with `PROTECTOR_LOG=debug` and keep each run's log (every
    /// request with its timestamp) as DIR/<scenario>-<run>.log. Logging costs CPU: the numbers
    /// of a traced run are not the ones to report.
    #[arg(long, value_name = "DIR")]
    trace: Option<PathBuf>,
}

/// The simulator's pace while measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
enum PaceArg {
    Prompt,
    Realistic,
}

impl From<PaceArg> for protector_mock::Pace {
    fn from(pace: PaceArg) -> protector_mock::Pace {
        match pace {
            PaceArg::Prompt => protector_mock::Pace::Prompt,
            PaceArg::Realistic => protector_mock::Pace::Realistic,
        }
    }
}

/// What the simulator's time follows while measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
enum ClockArg {
    Wall,
    Calls,
}

impl From<ClockArg> for protector_mock::Clock {
    fn from(clock: ClockArg) -> protector_mock::Clock {
        match clock {
            ClockArg::Wall => protector_mock::Clock::Wall,
            ClockArg::Calls => protector_mock::Clock::Calls,
        }
    }
}

/// What `--json` holds.
#[derive(Serialize)]
struct JsonReport<'a> {
    date: String,
    latency_ms: u64,
    pace: PaceArg,
    clock: ClockArg,
    runs: u32,
    cpus: usize,
    protector: String,
    scenarios: &'a [ScenarioReport],
}

async fn bench(args: Args) -> Result<bool, Failure> {
    let mut names = args.scenarios.clone();
    if args.all {
        names = vec!["all".into()];
    }
    let scenarios = scenario::select(&names, args.large).map_err(Failure)?;
    let protector = match &args.protector {
        Some(binary) => Protector {
            binary: binary.clone(),
            trace: None,
        },
        None => Protector::next_to_self()?,
    };
    let protector = Protector {
        trace: args.trace.clone(),
        ..protector
    };
    if let Some(dir) = &args.trace {
        std::fs::create_dir_all(dir)
            .map_err(|e| Failure(format!("cannot create {}: {e}", dir.display())))?;
    }
    let latency = Duration::from_millis(args.latency_ms);
    eprintln!(
        "protector-bench: {} scenario(s), {} run(s) each, {} ms per call, {}",
        scenarios.len(),
        args.runs,
        args.latency_ms,
        protector.binary.display()
    );
    let mut reports = Vec::new();
    for s in &scenarios {
        let mut runs = Vec::new();
        let mut path = None;
        let mut error = None;
        for n in 1..=args.runs {
            match run::run_once(
                s,
                latency,
                args.pace.into(),
                args.clock.into(),
                &protector,
                n,
            )
            .await
            {
                Ok((metrics, critical)) => {
                    eprintln!(
                        "  {s} run {n}: {} calls, wall {:.2} s, bound {:.2} s, checks {}",
                        metrics.calls,
                        metrics.wall_ms / 1000.0,
                        metrics.bound_ms / 1000.0,
                        if metrics.passed() { "PASS" } else { "FAIL" }
                    );
                    for c in metrics.checks.iter().filter(|c| !c.passed) {
                        eprintln!("    FAIL {}: {}", c.name, c.detail);
                    }
                    runs.push(metrics);
                    path = Some(critical);
                }
                Err(e) => {
                    eprintln!("  {s} run {n}: ERROR {e}");
                    error = Some(e.0);
                    break;
                }
            }
        }
        reports.push(ScenarioReport {
            scenario: s.name.to_string(),
            groups: s.groups,
            median: summarize(s.vms(), &runs),
            critical_path: path,
            runs,
            error,
        });
    }
    print!("{}", table(&reports));
    if let Some(file) = &args.json {
        let report = JsonReport {
            date: chrono::Utc::now().to_rfc3339(),
            latency_ms: args.latency_ms,
            pace: args.pace,
            clock: args.clock,
            runs: args.runs,
            cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
            protector: protector.binary.display().to_string(),
            scenarios: &reports,
        };
        let text = serde_json::to_string_pretty(&report)
            .map_err(|e| Failure(format!("cannot write the report: {e}")))?;
        std::fs::write(file, text + "\n")
            .map_err(|e| Failure(format!("cannot write {}: {e}", file.display())))?;
    }
    Ok(reports.iter().all(|r| r.error.is_none() && r.median.passed))
}

/// mimalloc, as in `protector`: the simulator this process serves allocates and drops many
/// small JSON values per call.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(bench(args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The harness end to end on the smallest scenario, without latency: the `protector` built
    /// beside this test (`cargo test --workspace` builds it; alone: `cargo build -p
    /// protector-cli` first) fails one VM over, every request is counted, the bound comes from
    /// the journaled plan, and every invariant holds.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_vm_failover_is_measured_and_keeps_every_invariant() {
        let protector = Protector::next_to_self().unwrap();
        let failover = scenario::SCENARIOS[0];
        assert_eq!(failover.name, "failover-1");
        let (metrics, path) = run::run_once(
            &failover,
            Duration::ZERO,
            protector_mock::Pace::Prompt,
            protector_mock::Clock::Wall,
            &protector,
            1,
        )
        .await
        .unwrap();
        assert!(metrics.calls > 0 && metrics.polls > 0, "{metrics:?}");
        assert!(metrics.calls_by_service.contains_key("site-b compute"));
        assert!(metrics.cpu_ms > 0.0 && metrics.peak_rss_mb > 0.0);
        assert!(metrics.recovered_ms.is_some());
        assert_eq!(metrics.plan_source, "journal");
        assert_eq!(path.round_trips(), metrics.round_trips);
        assert_eq!(metrics.bound_ms, 0.0);
        let names: Vec<&str> = metrics.checks.iter().map(|c| c.name).collect();
        assert_eq!(
            names,
            ["completed", "one_running_copy", "no_leaks", "zero_loss"]
        );
        assert!(metrics.passed(), "{:?}", metrics.checks);
    }
}
