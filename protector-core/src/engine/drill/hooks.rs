//! Hooks in a DR drill: the plan's drill hooks at the phase boundaries and after each test
//! server's boot; the undo actions of those that ran are kept on the drill record for the
//! cleanup (or run by the drill's own rollback).

use super::Drill;
use crate::engine::hooks::{HookOutcome, HookScope, MemberVars};
use crate::engine::runner::lock;
use crate::error::{Error, Result};
use crate::model::{HookPoint, OperationType};
use crate::plan::MemberPlan;

impl Drill<'_> {
    pub(super) fn hook_scope(&self) -> HookScope {
        HookScope {
            operation_id: self.tracker.id(),
            operation_type: OperationType::TestFailover,
            group: self.plan.group.name.clone(),
            source_site: self.plan.plan.source_site.clone(),
            target_site: self.plan.plan.target_site.clone(),
        }
    }

    fn member_vars(&self) -> Vec<MemberVars> {
        self.plan
            .plan
            .members
            .iter()
            .map(|m| MemberVars::of(m, self.member(m.member_id).server_id))
            .collect()
    }

    /// Runs the drill hooks at `point`: warnings recorded, undo actions kept on the record,
    /// the first `stop` failure returned (the drill rolls back).
    pub(super) async fn hooks_at(&self, point: HookPoint) -> Result<()> {
        let hooks = &self.plan.plan.hooks;
        if !hooks.iter().any(|h| h.at == point) {
            return Ok(());
        }
        let outcomes = self
            .engine
            .run_hooks(hooks, &self.hook_scope(), point, &self.member_vars())
            .await;
        let stop = self.record_hooks(outcomes);
        self.tracker.publish().await?;
        stop.map_or(Ok(()), Err)
    }

    /// `after_boot` hooks of `member`, whose test server is ACTIVE: a `stop` failure marks
    /// the member failed (kept for inspection, like a server in ERROR).
    pub(super) async fn after_boot(&self, member: &MemberPlan) {
        let hooks = &self.plan.plan.hooks;
        if !hooks
            .iter()
            .any(|h| h.at == HookPoint::AfterBoot && h.member == Some(member.member_id))
        {
            return;
        }
        let vars = [MemberVars::of(
            member,
            self.member(member.member_id).server_id,
        )];
        let outcomes = self
            .engine
            .run_hooks(hooks, &self.hook_scope(), HookPoint::AfterBoot, &vars)
            .await;
        if let Some(e) = self.record_hooks(outcomes) {
            self.update(member.member_id, |m| {
                m.error = Some(e.message().to_string())
            });
        }
    }

    fn record_hooks(&self, outcomes: Vec<HookOutcome>) -> Option<Error> {
        let mut stop = None;
        for outcome in outcomes {
            if let Some(undo) = outcome.undo {
                let mut record = lock(&self.record);
                if !record.hooks_to_undo.contains(&undo) {
                    record.hooks_to_undo.push(undo);
                }
            }
            self.tracker.edit(|op| op.warnings.extend(outcome.warning));
            if stop.is_none() {
                stop = outcome.stop;
            }
        }
        stop
    }

    /// The rollback runs the undo actions of the hooks that ran: its record may not outlive it.
    pub(super) async fn undo_hooks(&self) {
        let undo = std::mem::take(&mut lock(&self.record).hooks_to_undo);
        if undo.is_empty() {
            return;
        }
        let warnings = self.engine.undo_hooks(&undo, &self.hook_scope()).await;
        self.tracker.edit(|op| op.warnings.extend(warnings));
    }
}

impl crate::engine::Protector {
    /// A drill cleanup (operation of `tracker`) runs the undo actions of the drill hooks that
    /// ran in the drill of `record`, newest first, before removing its resources. Returns a
    /// warning for each that failed.
    pub(super) async fn undo_drill_hooks(
        &self,
        group: &crate::model::ProtectionGroup,
        record: &crate::model::TestFailoverRecord,
        tracker: &crate::engine::runner::Tracker<'_>,
    ) -> Vec<String> {
        if record.hooks_to_undo.is_empty() {
            return Vec::new();
        }
        let scope = HookScope {
            operation_id: tracker.id(),
            operation_type: OperationType::TestCleanup,
            group: group.name.clone(),
            source_site: record.source_site.clone(),
            target_site: record.site.clone(),
        };
        self.undo_hooks(&record.hooks_to_undo, &scope).await
    }
}
