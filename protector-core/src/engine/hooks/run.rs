//! Hooks in a failover or failback [`Run`]: its plan's hooks at each phase boundary, and
//! `after_boot` inside the per-member wait for ACTIVE.

use uuid::Uuid;

use super::{HookOutcome, HookScope};
use crate::engine::runner::{lock, Run};
use crate::error::Result;
use crate::model::{HookPoint, OperationType};
use crate::plan::MemberPlan;

/// The variables of one member: who it is, and its instance on the target once it has one.
#[derive(Debug, Clone, Default)]
pub(in crate::engine) struct MemberVars {
    pub(in crate::engine) member_id: Uuid,
    pub(in crate::engine) instance_name: String,
    /// Its server on the target (empty before it is created).
    pub(in crate::engine) instance_id: String,
    /// The fixed IPs it asks for on the target (the source's, where the target subnet holds
    /// them).
    pub(in crate::engine) fixed_ips: Vec<String>,
}

impl MemberVars {
    /// The variables of `member` with its server `instance_id` on the target.
    pub(in crate::engine) fn of(member: &MemberPlan, instance_id: Option<String>) -> Self {
        MemberVars {
            member_id: member.member_id,
            instance_name: member.instance_name.clone(),
            instance_id: instance_id.unwrap_or_default(),
            fixed_ips: member
                .nics
                .iter()
                .flat_map(|n| n.fixed_ips.iter().filter_map(|ip| ip.ip_address.clone()))
                .collect(),
        }
    }
}

impl Run<'_> {
    fn hook_scope(&self) -> HookScope {
        let op = lock(&self.op);
        HookScope {
            operation_id: op.id,
            operation_type: op.operation_type,
            group: self.plan.group_name.clone(),
            source_site: self.plan.source_site.clone(),
            target_site: self.plan.target_site.clone(),
        }
    }

    fn member_vars(&self) -> Vec<MemberVars> {
        let results = lock(&self.results);
        self.plan
            .members
            .iter()
            .filter(|m| results.get(&m.member_id).is_none_or(|r| r.error.is_none()))
            .map(|m| {
                MemberVars::of(
                    m,
                    results.get(&m.member_id).and_then(|r| r.server_id.clone()),
                )
            })
            .collect()
    }

    /// Runs the plan's hooks at `point`: warnings recorded on the operation, the first
    /// `stop` failure returned (the run fails and rolls back as for any failed step).
    pub(in crate::engine) async fn hooks_at(&self, point: HookPoint) -> Result<()> {
        if !self.plan.hooks.iter().any(|h| h.at == point) {
            return Ok(());
        }
        debug_assert!(matches!(
            lock(&self.op).operation_type,
            OperationType::Failover | OperationType::Failback
        ));
        let outcomes = self
            .engine
            .run_hooks(
                &self.plan.hooks,
                &self.hook_scope(),
                point,
                &self.member_vars(),
            )
            .await;
        let stop = self.record_hooks(outcomes);
        self.save().await?;
        match stop {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// `after_boot` hooks of `member`, whose server is ACTIVE: a `stop` failure fails the
    /// member (the run restores it on the source like one whose server went to ERROR).
    pub(in crate::engine) async fn after_boot(&self, member: &MemberPlan) {
        if !self
            .plan
            .hooks
            .iter()
            .any(|h| h.at == HookPoint::AfterBoot && h.member == Some(member.member_id))
        {
            return;
        }
        let server = lock(&self.results)
            .get(&member.member_id)
            .and_then(|r| r.server_id.clone())
            .or_else(|| member.target_instance_id.clone());
        let vars = [MemberVars::of(member, server)];
        let outcomes = self
            .engine
            .run_hooks(
                &self.plan.hooks,
                &self.hook_scope(),
                HookPoint::AfterBoot,
                &vars,
            )
            .await;
        if let Some(e) = self.record_hooks(outcomes) {
            lock(&self.results)
                .entry(member.member_id)
                .or_default()
                .error = Some(e.message().to_string());
        }
    }

    /// Records warnings on the operation; returns the first stopping failure.
    fn record_hooks(&self, outcomes: Vec<HookOutcome>) -> Option<crate::error::Error> {
        let mut op = lock(&self.op);
        let mut stop = None;
        for outcome in outcomes {
            op.warnings.extend(outcome.warning);
            if stop.is_none() {
                stop = outcome.stop;
            }
        }
        stop
    }
}
