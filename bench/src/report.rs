//! What one run measured, the medians over a scenario's runs, and their table and JSON.

use std::collections::BTreeMap;

use serde::Serialize;

use protector_core::engine::CriticalPath;

use crate::checks::Check;

/// One run of one scenario.
#[derive(Debug, Clone, Serialize)]
pub struct RunMetrics {
    /// API requests the simulator served during the command (both sites, every service).
    pub calls: usize,
    /// GET requests after the command's first side effect (waits and observations), the
    /// number of them per `site service METHOD route` in `polls_by_kind`.
    pub polls: usize,
    /// Poll requests by site and kind.
    pub polls_by_kind: BTreeMap<String, usize>,
    /// Requests per site and service.
    pub calls_by_service: BTreeMap<String, usize>,
    /// Dependent round trips on the executed plan's critical path.
    pub round_trips: usize,
    /// `round_trips` times the injected latency, in milliseconds.
    pub bound_ms: f64,
    /// From spawn to exit of the command, in milliseconds.
    pub wall_ms: f64,
    /// From spawn to the workload running on the target (the operation's `recovered_at`, or
    /// its completion when it records none), in milliseconds.
    pub recovered_ms: Option<f64>,
    /// Whether `recovered_ms` comes from `recovered_at` (else from `completed_at`).
    pub recovered_at_recorded: bool,
    /// User plus system CPU of the command, in milliseconds.
    pub cpu_ms: f64,
    /// User plus system CPU of the simulator while it served the command (the harness
    /// process, which hosts it and otherwise waits), in milliseconds.
    pub sim_cpu_ms: f64,
    /// CPU cores this process may run on.
    pub cores: usize,
    /// Peak resident set size of the command, in MiB.
    pub peak_rss_mb: f64,
    /// Where the plan of the bound came from: the run's journal, or a dry run before it.
    pub plan_source: &'static str,
    /// The invariants after the run.
    pub checks: Vec<Check>,
}

impl RunMetrics {
    /// The least wall time the CPU of the command and of the simulator allow on `cores`
    /// cores, in milliseconds: a run cannot end before both have had their CPU.
    pub fn cpu_floor_ms(&self) -> f64 {
        (self.cpu_ms + self.sim_cpu_ms) / self.cores.max(1) as f64
    }

    /// Whether every invariant held.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }
}

/// The medians of a scenario's runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// VMs in the scenario.
    pub vms: usize,
    /// API requests.
    pub calls: f64,
    /// API requests per VM.
    pub calls_per_vm: f64,
    /// Poll requests.
    pub polls: f64,
    /// The bound, in milliseconds.
    pub bound_ms: f64,
    /// Wall time, in milliseconds.
    pub wall_ms: f64,
    /// Wall time over the bound.
    pub wall_over_bound: Option<f64>,
    /// Time to recovery, in milliseconds.
    pub recovered_ms: Option<f64>,
    /// Time to recovery over the bound (the bound ends when the workload runs).
    pub recovered_over_bound: Option<f64>,
    /// Engine CPU, in milliseconds.
    pub cpu_ms: f64,
    /// Engine CPU per API request, in milliseconds.
    pub cpu_ms_per_call: Option<f64>,
    /// Simulator CPU while it served the command, in milliseconds.
    pub sim_cpu_ms: f64,
    /// The CPU floor ([`RunMetrics::cpu_floor_ms`]), in milliseconds.
    pub cpu_floor_ms: f64,
    /// The CPU floor over the bound: above 1, this machine's cores, not the latency, bound
    /// the run.
    pub floor_over_bound: Option<f64>,
    /// Peak RSS, in MiB.
    pub peak_rss_mb: f64,
    /// Whether every check of every run passed.
    pub passed: bool,
}

/// The median of `values` (the mean of the middle two for an even count); `None` for none.
pub fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

/// The medians of `runs` of a scenario of `vms` VMs.
pub fn summarize(vms: usize, runs: &[RunMetrics]) -> Summary {
    let m = |f: &dyn Fn(&RunMetrics) -> f64| median(runs.iter().map(f).collect()).unwrap_or(0.0);
    let calls = m(&|r| r.calls as f64);
    let bound_ms = m(&|r| r.bound_ms);
    let wall_ms = m(&|r| r.wall_ms);
    let cpu_ms = m(&|r| r.cpu_ms);
    let recovered_ms = median(runs.iter().filter_map(|r| r.recovered_ms).collect());
    let cpu_floor_ms = m(&RunMetrics::cpu_floor_ms);
    Summary {
        vms,
        calls,
        calls_per_vm: if vms == 0 { 0.0 } else { calls / vms as f64 },
        polls: m(&|r| r.polls as f64),
        bound_ms,
        wall_ms,
        wall_over_bound: (bound_ms > 0.0).then(|| wall_ms / bound_ms),
        recovered_ms,
        recovered_over_bound: recovered_ms
            .filter(|_| bound_ms > 0.0)
            .map(|recovered| recovered / bound_ms),
        cpu_ms,
        cpu_ms_per_call: (calls > 0.0).then(|| cpu_ms / calls),
        sim_cpu_ms: m(&|r| r.sim_cpu_ms),
        cpu_floor_ms,
        floor_over_bound: (bound_ms > 0.0).then(|| cpu_floor_ms / bound_ms),
        peak_rss_mb: m(&|r| r.peak_rss_mb),
        passed: !runs.is_empty() && runs.iter().all(RunMetrics::passed),
    }
}

/// A scenario's result, as printed and written to `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioReport {
    /// Its name.
    pub scenario: String,
    /// Protection groups.
    pub groups: usize,
    /// The medians.
    pub median: Summary,
    /// The critical path of the last run (its links in order).
    pub critical_path: Option<CriticalPath>,
    /// Every run.
    pub runs: Vec<RunMetrics>,
    /// Why the scenario could not be measured, when it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn seconds(ms: f64) -> String {
    format!("{:.2} s", ms / 1000.0)
}

/// The table of `reports`: one row per scenario, medians.
pub fn table(reports: &[ScenarioReport]) -> String {
    let header = [
        "scenario",
        "VMs",
        "calls",
        "calls/VM",
        "polls",
        "bound",
        "wall",
        "wall/bound",
        "recovered",
        "rec/bound",
        "CPU ms",
        "CPU ms/call",
        "sim CPU ms",
        "CPU floor",
        "peak RSS MB",
        "checks",
    ];
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
    for r in reports {
        let s = &r.median;
        let row = if let Some(error) = &r.error {
            let mut row = vec![r.scenario.clone(), s.vms.to_string()];
            row.extend(std::iter::repeat_n("-".to_string(), header.len() - 3));
            row.push(format!("ERROR: {error}"));
            row
        } else {
            vec![
                r.scenario.clone(),
                s.vms.to_string(),
                format!("{:.0}", s.calls),
                format!("{:.1}", s.calls_per_vm),
                format!("{:.0}", s.polls),
                seconds(s.bound_ms),
                seconds(s.wall_ms),
                s.wall_over_bound.map_or("-".into(), |x| format!("{x:.1}x")),
                s.recovered_ms.map_or("-".into(), seconds),
                s.recovered_over_bound
                    .map_or("-".into(), |x| format!("{x:.1}x")),
                format!("{:.0}", s.cpu_ms),
                s.cpu_ms_per_call.map_or("-".into(), |x| format!("{x:.2}")),
                format!("{:.0}", s.sim_cpu_ms),
                match s.floor_over_bound {
                    Some(x) => format!("{} ({x:.1}x)", seconds(s.cpu_floor_ms)),
                    None => seconds(s.cpu_floor_ms),
                },
                format!("{:.0}", s.peak_rss_mb),
                if s.passed { "PASS" } else { "FAIL" }.to_string(),
            ]
        };
        rows.push(row);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .filter(|r| i + 1 < r.len())
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for (n, row) in rows.iter().enumerate() {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                if i + 1 == row.len() {
                    cell.clone()
                } else if i == 0 {
                    format!("{cell:<w$}", w = widths[i])
                } else {
                    format!("{cell:>w$}", w = widths[i])
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
        if n == 0 {
            let rule: usize = widths.iter().sum::<usize>() + 2 * (widths.len() - 1) + 6;
            out.push_str(&"-".repeat(rule));
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(calls: usize, wall_ms: f64, passed: bool) -> RunMetrics {
        RunMetrics {
            calls,
            polls: 4,
            polls_by_kind: BTreeMap::new(),
            calls_by_service: BTreeMap::new(),
            round_trips: 11,
            bound_ms: 550.0,
            wall_ms,
            recovered_ms: Some(wall_ms - 100.0),
            recovered_at_recorded: false,
            cpu_ms: 30.0,
            sim_cpu_ms: 50.0,
            cores: 2,
            peak_rss_mb: 20.0,
            plan_source: "journal",
            checks: vec![Check {
                name: "zero_loss",
                passed,
                detail: String::new(),
            }],
        }
    }

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(Vec::new()), None);
    }

    #[test]
    fn a_summary_takes_medians_and_fails_when_one_run_failed() {
        let runs = [
            run(60, 1100.0, true),
            run(40, 900.0, true),
            run(50, 2000.0, true),
        ];
        let s = summarize(20, &runs);
        assert_eq!(s.calls, 50.0);
        assert_eq!(s.calls_per_vm, 2.5);
        assert_eq!(s.wall_ms, 1100.0);
        assert_eq!(s.wall_over_bound, Some(2.0));
        assert_eq!(s.recovered_ms, Some(1000.0));
        assert_eq!(s.cpu_ms_per_call, Some(0.6));
        // (30 + 50) ms of CPU on 2 cores: 40 ms, against a bound of 550.
        assert_eq!(s.sim_cpu_ms, 50.0);
        assert_eq!(s.cpu_floor_ms, 40.0);
        assert_eq!(s.floor_over_bound, Some(40.0 / 550.0));
        assert!(s.passed);
        let failed = summarize(20, &[run(60, 1100.0, true), run(60, 1100.0, false)]);
        assert!(!failed.passed);
        assert!(!summarize(20, &[]).passed);
    }

    #[test]
    fn the_table_aligns_columns_and_marks_failures() {
        let report = |name: &str, passed: bool| ScenarioReport {
            scenario: name.into(),
            groups: 1,
            median: summarize(20, &[run(261, 11900.0, passed)]),
            critical_path: None,
            runs: Vec::new(),
            error: None,
        };
        let mut failed = report("site-100x10", true);
        failed.error = Some("no protector".into());
        let text = table(&[
            report("failover-20", true),
            report("drill-20", false),
            failed,
        ]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("scenario     VMs  calls  calls/VM"),
            "{text}"
        );
        assert!(lines[1].starts_with("-----"));
        assert!(
            lines[2].starts_with("failover-20   20    261      13.1"),
            "{text}"
        );
        assert!(
            lines[2].contains("0.55 s  11.90 s       21.6x    11.80 s"),
            "{text}"
        );
        assert!(lines[2].contains("  50  0.04 s (0.1x)  "), "{text}");
        assert!(lines[2].ends_with("PASS"));
        assert!(lines[3].ends_with("FAIL"));
        assert!(lines[4].ends_with("ERROR: no protector"), "{text}");
    }
}
