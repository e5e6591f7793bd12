//! Running a group's hooks ([`crate::model::Hook`]) during an operation: which hooks a point
//! runs, their variables, their journal, what their failure does.
//!
//! - Group hooks run once at their point; member hooks at a phase point run once per member of
//!   the operation, with that member's variables. `after_boot` hooks run inside the per-member
//!   wait for ACTIVE and are retried until they succeed or their timeout ends.
//! - A run is journaled (`hook:<point>:<name>[:<member id>]`, intent then outcome, with the
//!   last 4 KiB of stdout/stderr). A resumed operation does not run again a hook whose run is
//!   journaled done, and runs again one that started and did not finish: hooks must be
//!   idempotent, as SRM's are.
//! - Failure: `stop` fails the operation (a group hook, or a member hook at a phase point: a
//!   phase boundary has no per-member path) or the member (`after_boot`); `warn` is recorded
//!   in the operation's `warnings`. At `post_finalization` the outcome is decided: a failure
//!   there is always a warning.
//! - Commands get `PROTECTOR_*` variables (operation id and type, group, phase, point, source
//!   and target site; for member hooks the member, its instance name, id on the target and
//!   fixed IPs) and `PATH`, `HOME`, `LANG`, `LC_ALL`, `TZ`, `TMPDIR`, `USER` from the engine's
//!   environment, nothing else: no cloud credential. URL hooks POST the same variables as JSON.

mod exec;
mod run;

use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use uuid::Uuid;

use super::validate::Finding;
use super::Protector;
use crate::error::{Error, ErrorKind, Result};
use crate::model::{Hook, HookAction, HookFailure, HookPoint, HookUndo, OperationType};
use crate::store::{JournalEntry, JournalKind};

pub(in crate::engine) use run::MemberVars;

/// The hooks of `hooks` a drill (`drill`) or a failover/failback runs, in the order of their
/// points: what a plan lists.
pub(crate) fn planned(hooks: &[Hook], drill: bool) -> Vec<Hook> {
    let mut out: Vec<Hook> = hooks
        .iter()
        .filter(|h| h.applies_to.covers(drill))
        .cloned()
        .collect();
    let order = |p: HookPoint| HookPoint::ALL.iter().position(|q| *q == p);
    out.sort_by_key(|h| order(h.at));
    out
}

/// Code of the finding that an engine refuses command hooks.
pub(crate) const COMMANDS_REFUSED: &str = "command_hooks_refused";

impl Protector {
    /// Blocking findings for `hooks` a plan runs: command hooks on an engine that runs none.
    pub(in crate::engine) fn hook_findings(&self, hooks: &[Hook]) -> Vec<Finding> {
        if self.inner.allow_command_hooks {
            return Vec::new();
        }
        hooks
            .iter()
            .filter(|h| h.runs_command())
            .map(|h| {
                Finding::error(
                    ErrorKind::PermissionDenied,
                    COMMANDS_REFUSED,
                    exec::command_refused(&format!("hook '{}'", h.name))
                        .message()
                        .to_string(),
                )
            })
            .collect()
    }
}

/// Who runs hooks and where: the variables every hook of one operation gets.
#[derive(Debug, Clone)]
pub(in crate::engine) struct HookScope {
    pub(in crate::engine) operation_id: Uuid,
    pub(in crate::engine) operation_type: OperationType,
    pub(in crate::engine) group: String,
    pub(in crate::engine) source_site: String,
    pub(in crate::engine) target_site: String,
}

impl HookScope {
    fn variables(&self, point: HookPoint, member: Option<&MemberVars>) -> Vec<(String, String)> {
        let mut vars = vec![
            ("PROTECTOR_OPERATION_ID", self.operation_id.to_string()),
            (
                "PROTECTOR_OPERATION_TYPE",
                self.operation_type.as_str().to_string(),
            ),
            ("PROTECTOR_GROUP", self.group.clone()),
            ("PROTECTOR_PHASE", point.phase().to_string()),
            ("PROTECTOR_HOOK_POINT", point.as_str().to_string()),
            ("PROTECTOR_SOURCE_SITE", self.source_site.clone()),
            ("PROTECTOR_TARGET_SITE", self.target_site.clone()),
        ];
        if let Some(m) = member {
            vars.extend([
                ("PROTECTOR_MEMBER", m.member_id.to_string()),
                ("PROTECTOR_INSTANCE_NAME", m.instance_name.clone()),
                ("PROTECTOR_INSTANCE_ID", m.instance_id.clone()),
                ("PROTECTOR_FIXED_IPS", m.fixed_ips.join(",")),
            ]);
        }
        vars.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }
}

/// What one hook did, for its caller to record.
#[derive(Debug, Default)]
pub(in crate::engine) struct HookOutcome {
    /// A failure that only warns (or that came too late to stop anything).
    pub(in crate::engine) warning: Option<String>,
    /// A failure that stops the operation, or the member of an `after_boot` hook.
    pub(in crate::engine) stop: Option<Error>,
    /// A drill hook with an undo action that ran (now or in the run this one resumes).
    pub(in crate::engine) undo: Option<HookUndo>,
}

impl Protector {
    /// Runs the hooks of `hooks` at `point` (in their order) for `scope`: group hooks once,
    /// member hooks for each of `members` they name. Returns one outcome per hook run (or
    /// skipped as journaled done before); never fails itself (a journal that cannot be read
    /// runs every hook).
    ///
    /// Boxed: it sits inside every run's future (a site failover nests one run per group).
    pub(in crate::engine) fn run_hooks<'a>(
        &'a self,
        hooks: &'a [Hook],
        scope: &'a HookScope,
        point: HookPoint,
        members: &'a [MemberVars],
    ) -> futures::future::BoxFuture<'a, Vec<HookOutcome>> {
        Box::pin(self.run_hooks_now(hooks, scope, point, members))
    }

    async fn run_hooks_now(
        &self,
        hooks: &[Hook],
        scope: &HookScope,
        point: HookPoint,
        members: &[MemberVars],
    ) -> Vec<HookOutcome> {
        let due: Vec<(&Hook, Option<&MemberVars>)> = hooks
            .iter()
            .filter(|h| h.at == point)
            .flat_map(|h| match h.member {
                None => vec![(h, None)],
                Some(id) => members
                    .iter()
                    .filter(|m| m.member_id == id)
                    .map(|m| (h, Some(m)))
                    .collect(),
            })
            .collect();
        if due.is_empty() {
            return Vec::new();
        }
        let journal = self
            .store()
            .list_journal(&scope.operation_id)
            .await
            .unwrap_or_default();
        let mut outcomes = Vec::new();
        for (hook, member) in due {
            let step = step_name(hook, point, member);
            let done_before = journal
                .iter()
                .any(|e| e.step == step && e.kind == JournalKind::Done);
            let mut outcome = HookOutcome::default();
            if !done_before {
                if let Err(e) = self.run_hook(hook, scope, point, member, &step).await {
                    let what = hook_label(hook, member);
                    if hook.on_failure == HookFailure::Warn || point == HookPoint::PostFinalization
                    {
                        outcome.warning = Some(format!("{what}: {}", e.message()));
                    } else {
                        outcome.stop = Some(e);
                    }
                }
            }
            if outcome.stop.is_none() {
                outcome.undo = hook.undo.clone().map(|action| HookUndo {
                    hook: hook.name.clone(),
                    member: member.map(|m| m.member_id),
                    action,
                    timeout_secs: hook.timeout_secs,
                });
            }
            outcomes.push(outcome);
        }
        outcomes
    }

    /// Runs one hook: once, or (`after_boot`) until it succeeds or its timeout ends.
    async fn run_hook(
        &self,
        hook: &Hook,
        scope: &HookScope,
        point: HookPoint,
        member: Option<&MemberVars>,
        step: &str,
    ) -> Result<()> {
        let what = hook_label(hook, member);
        let variables = scope.variables(point, member);
        let timeout = Duration::from_secs(hook.timeout_secs);
        self.hook_journal(
            scope.operation_id,
            step,
            JournalKind::Intent,
            json!({"hook": hook.name, "at": point.as_str(), "action": hook.action.describe()}),
        )
        .await;
        let deadline = tokio::time::Instant::now() + timeout;
        let mut attempts = 0u32;
        let result = loop {
            attempts += 1;
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let outcome = exec::run_action(self, &what, &hook.action, &variables, left).await;
            let retry = point == HookPoint::AfterBoot
                && matches!(&outcome, Err((e, _)) if e.kind() != ErrorKind::PermissionDenied && e.kind() != ErrorKind::Unsupported);
            let pause = self.options().poll.interval.max(Duration::from_secs(1));
            if !retry || tokio::time::Instant::now() + pause >= deadline {
                break outcome;
            }
            tokio::time::sleep(pause).await;
        };
        let (kind, detail, error) = match result {
            Ok(ran) => (JournalKind::Done, ran.detail(), None),
            Err((e, ran)) => {
                let mut detail = ran.detail();
                detail["error"] = json!(e.message());
                detail["kind"] = json!(e.kind());
                (JournalKind::Failed, detail, Some(e))
            }
        };
        let mut detail = detail;
        detail["attempts"] = json!(attempts);
        self.hook_journal(scope.operation_id, step, kind, detail)
            .await;
        match error {
            None => Ok(()),
            Some(e) if point == HookPoint::AfterBoot && attempts > 1 => Err(Error::new(
                e.kind(),
                format!(
                    "{} (after {attempts} attempts within its timeout of {} s)",
                    e.message(),
                    hook.timeout_secs
                ),
            )),
            Some(e) => Err(e),
        }
    }

    /// Runs the undo actions of the drill hooks in `undo`, newest first. Returns a warning for
    /// each that failed; journaled in `operation_id` (`hook-undo:<name>[:<member>]`).
    pub(in crate::engine) async fn undo_hooks(
        &self,
        undo: &[HookUndo],
        scope: &HookScope,
    ) -> Vec<String> {
        let journal = self
            .store()
            .list_journal(&scope.operation_id)
            .await
            .unwrap_or_default();
        let mut warnings = Vec::new();
        for entry in undo.iter().rev() {
            let step = match entry.member {
                Some(m) => format!("hook-undo:{}:{m}", entry.hook),
                None => format!("hook-undo:{}", entry.hook),
            };
            if journal
                .iter()
                .any(|e| e.step == step && e.kind == JournalKind::Done)
            {
                continue;
            }
            let what = format!("the undo action of hook '{}'", entry.hook);
            let member = entry.member.map(|id| MemberVars {
                member_id: id,
                ..MemberVars::default()
            });
            let variables = scope.variables(HookPoint::PostFinalization, member.as_ref());
            self.hook_journal(
                scope.operation_id,
                &step,
                JournalKind::Intent,
                json!({"hook": entry.hook, "action": entry.action.describe()}),
            )
            .await;
            let outcome = exec::run_action(
                self,
                &what,
                &entry.action,
                &variables,
                Duration::from_secs(entry.timeout_secs),
            )
            .await;
            let (kind, detail) = match &outcome {
                Ok(ran) => (JournalKind::Done, ran.detail()),
                Err((e, ran)) => {
                    warnings.push(e.message().to_string());
                    let mut d = ran.detail();
                    d["error"] = json!(e.message());
                    (JournalKind::Failed, d)
                }
            };
            self.hook_journal(scope.operation_id, &step, kind, detail)
                .await;
        }
        warnings
    }

    async fn hook_journal(
        &self,
        operation_id: Uuid,
        step: &str,
        kind: JournalKind,
        detail: serde_json::Value,
    ) {
        let entry = JournalEntry {
            operation_id,
            seq: 0,
            step: step.to_string(),
            kind,
            idempotency_key: format!("{operation_id}:{step}"),
            detail,
            at: Utc::now(),
        };
        if let Err(e) = self.store().append_journal(&entry).await {
            tracing::warn!(error = %e, step, "could not write the journal");
        }
    }
}

fn step_name(hook: &Hook, point: HookPoint, member: Option<&MemberVars>) -> String {
    match member {
        Some(m) => format!("hook:{}:{}:{}", point.as_str(), hook.name, m.member_id),
        None => format!("hook:{}:{}", point.as_str(), hook.name),
    }
}

fn hook_label(hook: &Hook, member: Option<&MemberVars>) -> String {
    let kind = match hook.action {
        HookAction::Command { .. } => "command hook",
        HookAction::Url { .. } => "URL hook",
    };
    match member {
        Some(m) if !m.instance_name.is_empty() => format!(
            "{kind} '{}' ({}) of member {}",
            hook.name,
            hook.at.as_str(),
            m.instance_name
        ),
        _ => format!("{kind} '{}' ({})", hook.name, hook.at.as_str()),
    }
}
