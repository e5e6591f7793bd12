//! Recovering a drill whose process ended while it ran.
//!
//! A drill changes nothing in production, so its continuation is simple and safe: what the
//! dead run made on the drill site (found by the drill record and by the drill's tags, as the
//! cleanup finds it) is removed, and the drill runs again under the same operation id from
//! the latest replicated snapshot, to its normal end (test VMs ACTIVE, record `ready`). A
//! drill that had recorded itself `ready` before its process ended is only marked finished.
//! Rolling back instead ([`RecoverMode::RollBack`](crate::engine::RecoverMode)) removes what
//! it made and ends it `failed`.

use chrono::Utc;

use super::cleanup::Remover;
use super::{drill_steps, TestFailoverRequest};
use crate::engine::runner::Tracker;
use crate::engine::{NoProgress, Protector};
use crate::error::{Error, Result};
use crate::model::{Operation, OperationStatus, ProtectionGroup, TestFailoverStatus};

impl Protector {
    /// Continues drill `op`, whose process ended, with the request it was submitted with
    /// (`continue_with`), or rolls it back (`None`); its lock is held by the caller.
    pub(in crate::engine) async fn recover_drill(
        &self,
        mut op: Operation,
        continue_with: Option<TestFailoverRequest>,
        continue_run: bool,
    ) -> Result<Operation> {
        let group_id = op.group_id.ok_or_else(|| {
            Error::invalid(format!("operation op-{} names no protection group", op.id))
        })?;
        let group = self.group_by_id(&group_id).await?;
        let record = group
            .test_failover
            .clone()
            .filter(|r| r.operation_id == op.id);
        if let Some(record) = record
            .as_ref()
            .filter(|r| r.status == TestFailoverStatus::Ready)
        {
            // It recorded itself ready: only its operation record was not ended.
            let failed = record.members.iter().filter(|m| m.error.is_some()).count();
            op.status = if failed == 0 {
                OperationStatus::Completed
            } else {
                OperationStatus::Partial
            };
            op.progress = 100;
            op.completed_at = Some(Utc::now());
            op.instances_created = u32::try_from(record.members.len() - failed).unwrap_or(u32::MAX);
            op.instances_failed = u32::try_from(failed).unwrap_or(u32::MAX);
            op.error_message = Some(
                "the process ended after the drill was recorded ready: recovered as finished"
                    .into(),
            );
            return self.record_drill_recovered(op, &group).await;
        }
        let request = continue_with.filter(|_| continue_run);
        let found = match record {
            Some(record) => {
                let site = record.site.clone();
                let clients = self.group_clients(&site, &group).await?;
                let array = self.group_array(&group, &site).await?;
                let tracker = Tracker::new(self, &NoProgress, op.clone(), drill_steps(&site), None);
                let remover = Remover::new(&clients, &array, &tracker, "recover:delete", record);
                let searched = remover.discover().await;
                remover.all().await;
                let (record, leftovers) = remover.into_parts();
                if let Err(e) = searched {
                    return Err(e.with_prefix(format!(
                        "drill op-{} cannot be recovered yet: {site} could not be searched for what it made",
                        op.id
                    )));
                }
                if !record.is_removed() {
                    return Err(Error::unavailable(format!(
                        "drill op-{} cannot be recovered yet: what it made on {site} could not all be removed ({}); retry the recovery",
                        op.id,
                        leftovers.join("; ")
                    )));
                }
                let document = self.record_drill(group, None).await?;
                (document.group, true)
            }
            None => (group, false),
        };
        let (group, removed) = found;
        let what = if removed {
            "what it had made was removed"
        } else {
            "it had made nothing yet"
        };
        match request {
            Some(request) => {
                let mut finished = self
                    .run_drill(group.clone(), &request, op.id, &NoProgress, Some(op))
                    .await?;
                let note = format!(
                    "the process ended while the drill ran: {what} and the drill was run again"
                );
                finished.error_message = Some(match finished.error_message.take() {
                    Some(message) => format!("{note}; {message}"),
                    None => note,
                });
                self.record_drill_recovered(finished, &group).await
            }
            None => {
                op.status = OperationStatus::Failed;
                op.completed_at = Some(Utc::now());
                op.steps_failed.push("interrupted".into());
                op.error_message = Some(if continue_run {
                    format!("the process ended while the drill ran: {what}; it was not submitted, so its request is unknown: run the drill again")
                } else {
                    format!("the process ended while the drill ran: rolled back, {what}")
                });
                self.record_drill_recovered(op, &group).await
            }
        }
    }

    async fn record_drill_recovered(
        &self,
        op: Operation,
        group: &ProtectionGroup,
    ) -> Result<Operation> {
        self.store().put_operation(&op).await?;
        if let Ok(peer) = self.store_of(group.peer_of(self.local_site())) {
            let _ = peer.put_operation(&op).await;
        }
        Ok(op)
    }
}
