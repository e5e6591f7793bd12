//! Live progress of a running operation, on stderr.
//!
//! On a terminal: an indicatif bar with the progress, the phase and the latest step. Otherwise
//! (CI logs, pipes): one plain line per finished step, such as
//! `[ 45%] storage: create_volumes_site_b`.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use protector_core::engine::ProgressObserver;
use protector_core::model::{Operation, OperationStatus};
use uuid::Uuid;

use crate::output::escape_controls;

/// Shows an operation's progress while it runs.
pub struct ProgressDisplay {
    bar: Option<ProgressBar>,
    reported: Mutex<Reported>,
}

/// What has been shown already.
#[derive(Default)]
struct Reported {
    steps_completed: usize,
    steps_failed: usize,
    /// Site failover: the last status shown per group.
    groups: BTreeMap<Uuid, OperationStatus>,
    /// Whether the "workload running" line was shown.
    recovered: bool,
}

impl ProgressDisplay {
    /// A bar when stderr is a terminal, plain lines otherwise.
    pub fn new(title: &str) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(Some(100), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{spinner:.green} {prefix} [{bar:32.cyan/blue}] {pos:>3}% {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(title.to_string());
            bar.set_message("planning and validating");
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        ProgressDisplay {
            bar,
            reported: Mutex::new(Reported::default()),
        }
    }

    /// Removes the bar (the final record is printed by the command).
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    fn line(op: &Operation, step: &str, failed: bool) -> String {
        format!(
            "[{:>3}%] {}: {}{}",
            op.progress,
            op.phase.as_str(),
            escape_controls(step, &[]),
            if failed { " FAILED" } else { "" }
        )
    }

    /// `[ 40%] group prod-web-app: completed` for every group of a site failover whose status
    /// changed since the last update.
    fn group_lines(op: &Operation, shown: &mut BTreeMap<Uuid, OperationStatus>) -> Vec<String> {
        let mut lines = Vec::new();
        for result in &op.group_results {
            if result.status == OperationStatus::Pending
                || shown.get(&result.group_id) == Some(&result.status)
            {
                continue;
            }
            shown.insert(result.group_id, result.status);
            lines.push(format!(
                "[{:>3}%] group {}: {}{}",
                op.progress,
                escape_controls(&result.group_name, &[]),
                result.status.as_str(),
                result
                    .error_message
                    .as_deref()
                    .and_then(|m| m.lines().next())
                    .map(|m| format!(" ({})", escape_controls(m, &[])))
                    .unwrap_or_default()
            ));
        }
        lines
    }
}

impl ProgressObserver for ProgressDisplay {
    fn on_update(&self, op: &Operation) {
        let mut reported = self
            .reported
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (done, failed) = (reported.steps_completed, reported.steps_failed);
        let mut groups = Self::group_lines(op, &mut reported.groups);
        if let Some(secs) = op.recovery_seconds().filter(|_| !reported.recovered) {
            reported.recovered = true;
            if op.status == OperationStatus::Running {
                groups.push(format!(
                    "workload running on {} after {secs} s; re-protecting…",
                    escape_controls(&op.target_site, &[])
                ));
            }
        }
        match &self.bar {
            Some(bar) => {
                bar.set_position(u64::from(op.progress));
                let latest = op
                    .steps_failed
                    .last()
                    .filter(|_| op.steps_failed.len() > failed)
                    .map(|s| format!("{s} FAILED"))
                    .or_else(|| op.steps_completed.last().map(|s| format!("done: {s}")))
                    .unwrap_or_else(|| "starting".to_string());
                bar.set_message(format!(
                    "{} ({})",
                    op.phase.as_str(),
                    escape_controls(&latest, &[])
                ));
                for step in op.steps_failed.iter().skip(failed) {
                    bar.println(Self::line(op, step, true));
                }
                for line in groups {
                    bar.println(line);
                }
            }
            None => {
                let mut err = std::io::stderr().lock();
                for step in op.steps_completed.iter().skip(done) {
                    let _ = writeln!(err, "{}", Self::line(op, step, false));
                }
                for step in op.steps_failed.iter().skip(failed) {
                    let _ = writeln!(err, "{}", Self::line(op, step, true));
                }
                for line in groups {
                    let _ = writeln!(err, "{line}");
                }
            }
        }
        reported.steps_completed = op.steps_completed.len();
        reported.steps_failed = op.steps_failed.len();
    }
}

impl Drop for ProgressDisplay {
    fn drop(&mut self) {
        self.finish();
    }
}
