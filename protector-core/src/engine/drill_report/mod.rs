//! The report of a DR drill (`Protector::drill_report`): what an auditor asks of a drill, made
//! from the drill's operation record and journal (which outlive the drill's cleanup), and
//! rendered as JSON (serde) or as one self-contained HTML page ([`DrillReport::to_html`]).
//!
//! While it runs a drill journals, besides its side effects, when each step began and ended
//! (`StepStarted`/`StepDone`), what it verified before it started and the recovery point it
//! copies ([`EVIDENCE_STEP`]), and when each test server was seen ACTIVE ([`BOOTED_STEP`]).
//! A drill recorded before these entries existed gets a report with what its journal holds.

mod html;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Protector;
use crate::error::{Error, Result};
use crate::model::{Operation, OperationStatus, OperationType, ProtectionGroup};
use crate::store::{JournalEntry, JournalKind};

/// Journal step of the drill's [`DrillEvidence`].
pub(crate) const EVIDENCE_STEP: &str = "drill_evidence";
/// Journal step prefix (then the test server's name) of the moment a test server was ACTIVE.
pub(crate) const BOOTED_STEP: &str = "booted:";
/// Journal step prefix (then the test server's name) of the request that creates it.
const CREATE_SERVER_STEP: &str = "create_server:";
/// Journal step prefix (then the test server's name) of a test server that did not boot.
const VERIFY_SERVER_STEP: &str = "verify_server:";

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckOutcome {
    /// Verified.
    Passed,
    /// Verified with a warning that did not stop the drill.
    Warning,
    /// Not met.
    Failed,
}

impl CheckOutcome {
    /// The spelling used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckOutcome::Passed => "passed",
            CheckOutcome::Warning => "warning",
            CheckOutcome::Failed => "failed",
        }
    }
}

/// One thing the drill verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// Stable name (`networks_isolated`, `instances_active`, …).
    pub name: String,
    /// How it ended.
    pub outcome: CheckOutcome,
    /// What was verified, on what.
    pub detail: String,
}

impl Check {
    pub(crate) fn passed(name: &str, detail: impl Into<String>) -> Self {
        Check {
            name: name.to_string(),
            outcome: CheckOutcome::Passed,
            detail: detail.into(),
        }
    }

    pub(crate) fn warning(name: &str, detail: impl Into<String>) -> Self {
        Check {
            name: name.to_string(),
            outcome: CheckOutcome::Warning,
            detail: detail.into(),
        }
    }
}

/// The replicated data a drill's test volumes were copied from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryPointUsed {
    /// The protection-group snapshot (`source-array:pg.N`), or `pod <name>` for sync groups.
    pub snapshot: String,
    /// When the data was taken on the source array (for a pod: when the drill started).
    pub created_at: Option<DateTime<Utc>>,
    /// Its age when the drill started, in seconds, by the drill site's array clock.
    pub age_secs: Option<i64>,
}

/// A member as the drill named it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct EvidenceMember {
    pub(crate) member_id: Uuid,
    pub(crate) instance_name: String,
    pub(crate) server_name: String,
}

/// What a drill journals before it creates anything ([`EVIDENCE_STEP`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DrillEvidence {
    /// The site whose engine ran the drill.
    pub(crate) run_from_site: String,
    pub(crate) checks: Vec<Check>,
    pub(crate) recovery_point: Option<RecoveryPointUsed>,
    pub(crate) members: Vec<EvidenceMember>,
}

/// One step of the drill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineStep {
    /// Step name (`create_instances_site_b`).
    pub step: String,
    /// `done`, `failed` or `started` (the drill ended inside it).
    pub status: String,
    /// When it began.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub completed_at: Option<DateTime<Utc>>,
}

/// One test instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceReport {
    /// The production instance.
    pub instance_name: String,
    /// The test server's name.
    pub server_name: String,
    /// The test server's id, once created.
    pub server_id: Option<String>,
    /// When its creation was requested.
    pub boot_requested_at: Option<DateTime<Utc>>,
    /// When it was seen ACTIVE.
    pub active_at: Option<DateTime<Utc>>,
    /// `active_at - boot_requested_at`, in seconds.
    pub boot_secs: Option<f64>,
    /// `ACTIVE`, `ERROR` or `not created`.
    pub status: String,
    /// Why it did not become ACTIVE.
    pub error: Option<String>,
}

/// Recovery time achieved against the estimate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RtoReport {
    /// From the drill's start to the last test instance seen ACTIVE, in seconds.
    pub achieved_secs: Option<f64>,
    /// When the last test instance was seen ACTIVE.
    pub last_active_at: Option<DateTime<Utc>>,
    /// The estimate recorded for the drill, in seconds.
    pub estimated_secs: Option<u64>,
    /// In words: the comparison, or why there is none.
    pub summary: String,
}

/// The cleanup that removed the drill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanupReport {
    /// Its operation.
    pub operation_id: Uuid,
    /// How it ended.
    pub status: OperationStatus,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub completed_at: Option<DateTime<Utc>>,
    /// What it removed (`server <id>`, `volume <id>`, …), in order.
    pub removed: Vec<String>,
    /// Why it did not finish, if it did not.
    pub error_message: Option<String>,
}

/// The report of one DR drill: JSON as is, HTML with [`DrillReport::to_html`].
///
/// Times are UTC; lists are in the order things happened (instances by name).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrillReport {
    /// The protection group.
    pub group: String,
    /// Its id.
    pub group_id: Uuid,
    /// Its project.
    pub project_id: String,
    /// Its project's name.
    pub project_name: String,
    /// The drill's operation.
    pub operation_id: Uuid,
    /// Where production ran (untouched by the drill).
    pub source_site: String,
    /// Where the test instances ran.
    pub drill_site: String,
    /// The site whose engine ran the drill, when recorded.
    pub run_from_site: Option<String>,
    /// How the drill ended (`running` while it runs).
    pub status: OperationStatus,
    /// Why it failed or what went wrong, if anything.
    pub error_message: Option<String>,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub completed_at: Option<DateTime<Utc>>,
    /// Every step, in order.
    pub timeline: Vec<TimelineStep>,
    /// Every test instance, by production instance name.
    pub instances: Vec<InstanceReport>,
    /// What the drill verified.
    pub checks: Vec<Check>,
    /// The replicated data the test volumes were copied from.
    pub recovery_point: Option<RecoveryPointUsed>,
    /// Recovery time achieved against the estimate.
    pub rto: RtoReport,
    /// Whether the drill's test resources still exist (its record is on the group).
    pub resources_present: bool,
    /// The cleanup, once it ran.
    pub cleanup: Option<CleanupReport>,
    /// What the report could not establish, and why.
    #[serde(default)]
    pub notes: Vec<String>,
    /// When this report was made.
    pub generated_at: DateTime<Utc>,
    /// The protector version that made it.
    pub protector_version: String,
}

/// A time as the report writes it (RFC 3339, UTC, seconds).
pub(crate) fn utc(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn seconds_between(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_milliseconds() as f64 / 1000.0
}

/// The RTO estimate recorded for the drill's plan, in seconds.
/// The recovery time the drill's plan estimated (start to the last server ACTIVE), in whole
/// seconds rounded up; `None` for a drill recorded before estimates existed.
fn estimated_rto(op: &Operation, _journal: &[JournalEntry]) -> Option<u64> {
    let estimate = op.estimate.as_ref()?;
    estimate
        .recovery_secs
        .is_finite()
        .then(|| estimate.recovery_secs.max(0.0).ceil() as u64)
}

/// Every step of the journal in the order it began; a step journaled only as done began when
/// the one before it ended (the drill's first checks, made before its record existed).
fn timeline(op: &Operation, journal: &[JournalEntry]) -> Vec<TimelineStep> {
    let mut steps: Vec<TimelineStep> = Vec::new();
    let mut last_end = op.started_at;
    for entry in journal {
        match entry.kind {
            JournalKind::StepStarted => steps.push(TimelineStep {
                step: entry.step.clone(),
                status: "started".into(),
                started_at: entry.at,
                completed_at: None,
            }),
            JournalKind::StepDone => {
                match steps
                    .iter_mut()
                    .rev()
                    .find(|s| s.step == entry.step && s.completed_at.is_none())
                {
                    Some(step) => {
                        step.status = "done".into();
                        step.completed_at = Some(entry.at);
                    }
                    None => steps.push(TimelineStep {
                        step: entry.step.clone(),
                        status: "done".into(),
                        started_at: last_end.min(entry.at),
                        completed_at: Some(entry.at),
                    }),
                }
                last_end = entry.at;
            }
            _ => {}
        }
    }
    for step in &mut steps {
        if step.completed_at.is_none() && op.steps_failed.contains(&step.step) {
            step.status = "failed".into();
            step.completed_at = op.completed_at;
        }
    }
    steps
}

fn instances(evidence: &DrillEvidence, journal: &[JournalEntry]) -> Vec<InstanceReport> {
    let mut names: Vec<(String, String)> = evidence
        .members
        .iter()
        .map(|m| (m.instance_name.clone(), m.server_name.clone()))
        .collect();
    if names.is_empty() {
        // A drill journaled before its evidence was: its create requests name its servers.
        for entry in journal {
            if let Some(server) = entry.step.strip_prefix(CREATE_SERVER_STEP) {
                let instance = server.strip_prefix("test-").unwrap_or(server);
                if !names.iter().any(|(_, s)| s == server) {
                    names.push((instance.to_string(), server.to_string()));
                }
            }
        }
    }
    names.sort();
    names
        .into_iter()
        .map(|(instance_name, server_name)| {
            let find = |prefix: &str, kind: JournalKind| {
                journal
                    .iter()
                    .find(|e| e.kind == kind && e.step.strip_prefix(prefix) == Some(&server_name))
            };
            let requested = find(CREATE_SERVER_STEP, JournalKind::Intent);
            let created = find(CREATE_SERVER_STEP, JournalKind::Done);
            let booted = find(BOOTED_STEP, JournalKind::Done);
            let failed = find(VERIFY_SERVER_STEP, JournalKind::Failed)
                .or_else(|| find(CREATE_SERVER_STEP, JournalKind::Failed));
            let server_id = created
                .and_then(|e| e.detail["id"].as_str())
                .or_else(|| booted.and_then(|e| e.detail["server_id"].as_str()))
                .map(str::to_string);
            let boot_requested_at = requested.map(|e| e.at);
            let active_at = booted.map(|e| e.at);
            let status = if active_at.is_some() {
                "ACTIVE"
            } else if server_id.is_some() && failed.is_some() {
                "ERROR"
            } else {
                "not created"
            };
            let error = failed.map(|e| {
                e.detail["fault"]
                    .as_str()
                    .or_else(|| e.detail["error"].as_str())
                    .unwrap_or("no fault recorded")
                    .to_string()
            });
            InstanceReport {
                boot_secs: boot_requested_at
                    .zip(active_at)
                    .map(|(from, to)| seconds_between(from, to)),
                instance_name,
                server_name,
                server_id,
                boot_requested_at,
                active_at,
                status: status.to_string(),
                error,
            }
        })
        .collect()
}

fn rto(op: &Operation, journal: &[JournalEntry], instances: &[InstanceReport]) -> RtoReport {
    let all_active = !instances.is_empty() && instances.iter().all(|i| i.active_at.is_some());
    let last_active_at = instances.iter().filter_map(|i| i.active_at).max();
    let achieved_secs = last_active_at
        .filter(|_| all_active)
        .map(|at| seconds_between(op.started_at, at));
    let estimated_secs = estimated_rto(op, journal);
    let achieved = match achieved_secs {
        Some(secs) => {
            format!("{secs:.1} s from the drill's start to its last test instance ACTIVE")
        }
        None => "not achieved: not every test instance became ACTIVE".to_string(),
    };
    let summary = match (achieved_secs, estimated_secs) {
        (Some(secs), Some(estimate)) if secs <= estimate as f64 => {
            format!("{achieved}, within the estimate of {estimate} s")
        }
        (Some(_), Some(estimate)) => format!("{achieved}, over the estimate of {estimate} s"),
        (_, None) => format!("{achieved}; no estimate recorded"),
        (None, Some(estimate)) => format!("{achieved}; the estimate was {estimate} s"),
    };
    RtoReport {
        achieved_secs,
        last_active_at,
        estimated_secs,
        summary,
    }
}

/// The drill's own verification of its instances, from what they became.
fn instance_check(instances: &[InstanceReport]) -> Check {
    let failed: Vec<String> = instances
        .iter()
        .filter(|i| i.status != "ACTIVE")
        .map(|i| {
            format!(
                "{} {}{}",
                i.server_name,
                i.status,
                i.error
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            )
        })
        .collect();
    if failed.is_empty() {
        Check::passed(
            "instances_active",
            format!("all {} test instances became ACTIVE", instances.len()),
        )
    } else {
        Check {
            name: "instances_active".into(),
            outcome: CheckOutcome::Failed,
            detail: format!(
                "{} of {} test instances did not become ACTIVE: {}",
                failed.len(),
                instances.len(),
                failed.join("; ")
            ),
        }
    }
}

impl Protector {
    /// The report of the latest DR drill of `group` (or of drill `operation`): timeline,
    /// per-instance boot times, what was checked, the recovery point used, the RTO achieved
    /// against the estimate, and the cleanup once it ran. Read-only; it works also after the
    /// cleanup, from the operation records and journals of this site's store.
    ///
    /// `NotFound` when the group never ran a drill recorded here, or `operation` is not one of
    /// its drills.
    pub async fn drill_report(&self, group: &str, operation: Option<Uuid>) -> Result<DrillReport> {
        let group = self.group(group).await?;
        let operations = self.store().list_operations().await?;
        let of_group = |op: &&Operation, kind: OperationType| {
            op.operation_type == kind && op.group_id == Some(group.id)
        };
        let mut drills: Vec<&Operation> = operations
            .iter()
            .filter(|op| of_group(op, OperationType::TestFailover))
            .collect();
        drills.sort_by_key(|op| std::cmp::Reverse(op.started_at));
        let op = match operation {
            Some(id) => drills.iter().find(|op| op.id == id).copied().ok_or_else(|| {
                Error::not_found(format!(
                    "operation {id} is not a DR drill of protection group '{}' recorded on {}: list the group's operations and give the id of one of its test failovers",
                    group.name,
                    self.local_site()
                ))
            })?,
            None => drills.first().copied().ok_or_else(|| {
                Error::not_found(format!(
                    "protection group '{}' has no DR drill recorded on {}: run a drill (test failover) of the group first, then ask for its report",
                    group.name,
                    self.local_site()
                ))
            })?,
        };
        let journal = self.store().list_journal(&op.id).await?;
        let evidence: DrillEvidence = journal
            .iter()
            .find(|e| e.step == EVIDENCE_STEP && e.kind == JournalKind::Done)
            .and_then(|e| serde_json::from_value(e.detail.clone()).ok())
            .unwrap_or_default();
        let instances = instances(&evidence, &journal);
        let mut checks = evidence.checks.clone();
        if op.steps_completed.iter().any(|s| s == "verify_instances") {
            checks.push(instance_check(&instances));
        }
        // The cleanup of this drill: the first one of the group after it started and before
        // the next drill.
        let next_drill = drills
            .iter()
            .filter(|d| d.started_at > op.started_at)
            .map(|d| d.started_at)
            .min();
        let mut cleanups: Vec<&Operation> = operations
            .iter()
            .filter(|c| of_group(c, OperationType::TestCleanup))
            .filter(|c| {
                c.started_at >= op.started_at && next_drill.is_none_or(|n| c.started_at < n)
            })
            .collect();
        cleanups.sort_by_key(|c| c.started_at);
        let cleanup = match cleanups
            .iter()
            .find(|c| c.status == OperationStatus::Completed)
            .or(cleanups.last())
        {
            Some(c) => Some(self.cleanup_report(c).await?),
            None => None,
        };
        Ok(self.assemble(&group, op, &journal, evidence, instances, checks, cleanup))
    }

    async fn cleanup_report(&self, op: &Operation) -> Result<CleanupReport> {
        let journal = self.store().list_journal(&op.id).await?;
        let removed = journal
            .iter()
            .filter(|e| e.kind == JournalKind::Done)
            .filter_map(|e| e.step.strip_prefix("delete:"))
            .map(str::to_string)
            .collect();
        Ok(CleanupReport {
            operation_id: op.id,
            status: op.status,
            started_at: op.started_at,
            completed_at: op.completed_at,
            removed,
            error_message: op.error_message.clone(),
        })
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "one call site, the parts of one report"
    )]
    fn assemble(
        &self,
        group: &ProtectionGroup,
        op: &Operation,
        journal: &[JournalEntry],
        evidence: DrillEvidence,
        instances: Vec<InstanceReport>,
        checks: Vec<Check>,
        cleanup: Option<CleanupReport>,
    ) -> DrillReport {
        let rto = rto(op, journal, &instances);
        let mut notes = Vec::new();
        if journal.is_empty() {
            notes.push(format!(
                "the journal of drill {} is not in the store of {}: its timeline, boot times and checks are kept by the site that ran it; ask for the report there",
                op.id,
                self.local_site()
            ));
        } else if evidence.checks.is_empty() {
            notes.push(
                "this drill ran before protector recorded its checks and recovery point: only its journal's steps and instances are reported".to_string(),
            );
        }
        DrillReport {
            group: group.name.clone(),
            group_id: group.id,
            project_id: group.project_id.clone(),
            project_name: group.project_name.clone(),
            operation_id: op.id,
            source_site: op.source_site.clone(),
            drill_site: op.target_site.clone(),
            run_from_site: (!evidence.run_from_site.is_empty()).then_some(evidence.run_from_site),
            status: op.status,
            error_message: op.error_message.clone(),
            started_at: op.started_at,
            completed_at: op.completed_at,
            timeline: timeline(op, journal),
            instances,
            checks,
            recovery_point: evidence.recovery_point,
            rto,
            resources_present: group
                .test_failover
                .as_ref()
                .is_some_and(|r| r.operation_id == op.id),
            cleanup,
            notes,
            generated_at: Utc::now(),
            protector_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}
