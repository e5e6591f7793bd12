//! What a drill records for its report (`Protector::drill_report`) while it runs: the checks
//! it passed before it started, the recovery point it copies, and the moment each test server
//! was seen booted. Written to the operation's journal, so that the report can still be made
//! after the cleanup has removed the drill record.

use chrono::Utc;
use serde_json::json;

use super::Drill;
use crate::engine::drill_report::{
    Check, DrillEvidence, EvidenceMember, RecoveryPointUsed, BOOTED_STEP, EVIDENCE_STEP,
};
use crate::engine::validate::Severity;
use crate::model::ReplicationType;
use crate::store::JournalKind;

impl Drill<'_> {
    /// Journals what the drill verified before it started and the recovery point it uses.
    pub(super) async fn record_evidence(&self) {
        let plan = &self.plan.plan;
        let group = &self.plan.group;
        let mut checks = vec![Check::passed(
            "group_state",
            format!(
                "protection group '{}' was {}, not fenced, with no earlier drill left",
                group.name, group.status
            ),
        )];
        // Production network names, for the reader: the plan keeps their ids.
        let names: std::collections::BTreeMap<String, String> = self
            .engine
            .store()
            .list_members(&group.id)
            .await
            .unwrap_or_default()
            .into_iter()
            .flat_map(|m| m.recovery.networks)
            .map(|n| (n.network_id, n.network_name))
            .collect();
        let mut networks = Vec::new();
        for member in &plan.members {
            for nic in &member.nics {
                networks.push(format!(
                    "{}: {} -> {}",
                    member.instance_name,
                    names
                        .get(&nic.network.source)
                        .unwrap_or(&nic.network.source),
                    nic.network
                        .target_name
                        .as_deref()
                        .or(nic.network.target_id.as_deref())
                        .unwrap_or("?")
                ));
            }
        }
        networks.sort();
        checks.push(Check::passed(
            "networks_isolated",
            if networks.is_empty() {
                "no NIC to map: the test instances have no network".to_string()
            } else {
                format!(
                    "every NIC is attached to an isolated network given for the drill (never a production network): {}",
                    networks.join("; ")
                )
            },
        ));
        let warnings: Vec<_> = plan
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Warning)
            .collect();
        checks.push(Check::passed(
            "drill_site_ready",
            format!(
                "the failover planner found nothing blocking on {}: flavors, volume type and cinder-volume host resolved",
                plan.target_site
            ),
        ));
        for finding in warnings {
            checks.push(Check::warning(&finding.code, finding.message.clone()));
        }
        let volumes = self.plan.sources.len();
        checks.push(Check::passed(
            "recovery_point_complete",
            format!(
                "{} holds a copy of each of the {volumes} member volumes on {}'s FlashArray",
                self.plan.snapshot, plan.target_site
            ),
        ));
        checks.push(Check::passed(
            "recorded_on_both_sites",
            format!(
                "the drill record was written on {} and {} before anything was created",
                plan.source_site, plan.target_site
            ),
        ));
        // Ages are measured on the array's clock (`_as_of`), as replication lag is: the
        // caller's clock may differ from the arrays'.
        let now = match self.plan.array.array_info().await {
            Ok(info) => info.as_of.unwrap_or_else(Utc::now),
            Err(_) => Utc::now(),
        };
        let created_at = if group.replication_type == ReplicationType::Sync {
            // The pod holds every acknowledged write: the copies are as of now.
            Some(now)
        } else if let Some(point) = plan
            .recovery_point
            .as_ref()
            .filter(|p| p.snapshot == self.plan.snapshot)
        {
            Some(point.created_at)
        } else {
            match self
                .plan
                .array
                .list_volume_snapshots(&self.plan.snapshot)
                .await
            {
                Ok(snapshots) => snapshots.iter().map(|s| s.created).min(),
                Err(e) => {
                    tracing::warn!(error = %e, "could not read when the drill's snapshot was taken");
                    None
                }
            }
        };
        let evidence = DrillEvidence {
            run_from_site: self.engine.local_site().to_string(),
            checks,
            recovery_point: Some(RecoveryPointUsed {
                snapshot: self.plan.snapshot.clone(),
                created_at,
                age_secs: created_at.map(|at| (now - at).num_seconds().max(0)),
            }),
            members: lock_members(self),
        };
        self.tracker
            .journal(
                EVIDENCE_STEP,
                JournalKind::Done,
                serde_json::to_value(&evidence).unwrap_or_default(),
            )
            .await;
    }

    /// Journals that test server `server_name` (`server_id`) was seen ACTIVE now.
    pub(super) async fn record_boot(&self, server_name: &str, server_id: &str) {
        self.tracker
            .journal(
                &format!("{BOOTED_STEP}{server_name}"),
                JournalKind::Done,
                json!({"server_id": server_id, "status": "ACTIVE"}),
            )
            .await;
    }
}

fn lock_members(drill: &Drill<'_>) -> Vec<EvidenceMember> {
    super::lock(&drill.record)
        .members
        .iter()
        .map(|m| EvidenceMember {
            member_id: m.member_id,
            instance_name: m.instance_name.clone(),
            server_name: m.server_name.clone(),
        })
        .collect()
}
