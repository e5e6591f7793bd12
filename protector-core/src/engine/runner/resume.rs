//! Continuing a run whose process ended: what the interrupted run had done is observed (its
//! journal, its record's completed steps, and the resources on the target that carry its
//! tags), and the run goes through its steps again under the same operation id. A step whose
//! resource already exists adopts it instead of making it again; a step that only changes
//! state (stop, start, overwrite from a snapshot) is made again, which is idempotent, unless
//! the record says it had completed and making it again could lose data.
//!
//! Tags by which an in-doubt step is found (written with the request, so a create whose
//! answer was lost is found too):
//! - servers and Cinder volumes: metadata `protector:step` = `<op>:<step>`;
//! - ports: description `protector:<op>:<step>`;
//! - array copies: the name the journal's `copy_volume:<name>` intent chose.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::{lock, Run};
use crate::api::{ArrayApi, ListPorts, ListServers, ListVolumes, SiteClients};
use crate::error::Result;
use crate::model::GroupStatus;
use crate::plan::Plan;
use crate::store::{JournalEntry, JournalKind};

const OPERATION_TAG: &str = "protector:operation";
const STEP_TAG: &str = "protector:step";

/// What a run executes, journaled ([`JournalKind::Planned`]) before its first side effect so
/// that its recovery can continue it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(in crate::engine) struct RunRecord {
    /// The plan the run executes.
    pub(in crate::engine) plan: Plan,
    /// The group's status before the run claimed it (what a rollback returns it to).
    pub(in crate::engine) previous_status: GroupStatus,
    /// Failback only: whether replication is reversed at the end.
    #[serde(default)]
    pub(in crate::engine) reverse_replication: bool,
}

impl RunRecord {
    /// The record journaled by the run of operation `id`, if it began.
    pub(in crate::engine) fn of(journal: &[JournalEntry]) -> Option<RunRecord> {
        journal
            .iter()
            .rev()
            .find(|e| e.kind == JournalKind::Planned)
            .and_then(|e| serde_json::from_value(e.detail.clone()).ok())
    }
}

/// What an interrupted run of the same operation left, observed when it is resumed.
#[derive(Debug, Default)]
pub(in crate::engine) struct Resumed {
    /// The interrupted run's journal.
    pub(in crate::engine) journal: Vec<JournalEntry>,
    /// The steps its record says it completed.
    pub(in crate::engine) completed: Vec<String>,
    servers: BTreeMap<String, String>,
    ports: BTreeMap<String, String>,
    volumes: BTreeMap<String, String>,
    copies: BTreeSet<String>,
}

/// The step a `<op>:<step>` tag names, when it names operation `op`.
fn step_of(tag: &str, op: Uuid) -> Option<String> {
    tag.strip_prefix(&format!("{op}:")).map(str::to_string)
}

impl Resumed {
    /// Observes what operation `op` created on the site of `target` (and on `array`) before
    /// its process ended. Only reads.
    pub(in crate::engine) async fn observe(
        op: Uuid,
        completed: Vec<String>,
        journal: Vec<JournalEntry>,
        target: &SiteClients,
        array: &Arc<dyn ArrayApi>,
    ) -> Result<Resumed> {
        let tag = (OPERATION_TAG.to_string(), op.to_string());
        let mut servers = BTreeMap::new();
        for server in target
            .compute
            .list_servers(&ListServers {
                name: None,
                metadata: Some(tag.clone()),
            })
            .await?
        {
            if server.metadata.get(OPERATION_TAG) != Some(&tag.1) {
                continue;
            }
            if let Some(step) = server.metadata.get(STEP_TAG).and_then(|t| step_of(t, op)) {
                servers.insert(step, server.id);
            }
        }
        let mut volumes = BTreeMap::new();
        for volume in target
            .block_storage
            .list_volumes(&ListVolumes {
                name: None,
                metadata: Some(tag.clone()),
            })
            .await?
        {
            // A manage that failed is not adopted: the sweep of a failed run removes it.
            if volume.metadata.get(OPERATION_TAG) != Some(&tag.1)
                || volume.status.starts_with("error")
            {
                continue;
            }
            if let Some(step) = volume.metadata.get(STEP_TAG).and_then(|t| step_of(t, op)) {
                volumes.insert(step, volume.id);
            }
        }
        let prefix = format!("protector:{op}:");
        let ports = target
            .network
            .list_ports(&ListPorts::default())
            .await?
            .into_iter()
            .filter_map(|p| {
                let step = p.description.strip_prefix(&prefix)?.to_string();
                Some((step, p.id))
            })
            .collect();
        let mut copies = BTreeSet::new();
        for name in crate::engine::copies::copies_of(&journal) {
            if array.get_volume(&name).await?.is_some() {
                copies.insert(name);
            }
        }
        Ok(Resumed {
            journal,
            completed,
            servers,
            ports,
            volumes,
            copies,
        })
    }

    /// The servers the journal's intents of steps starting with `prefix` name.
    pub(in crate::engine) fn servers_of(&self, prefix: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .journal
            .iter()
            .filter(|e| e.kind == JournalKind::Intent && e.step.starts_with(prefix))
            .filter_map(|e| e.detail.get("server").and_then(serde_json::Value::as_str))
            .map(str::to_string)
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// What the side effect `step` returned, when the journal recorded it done.
    pub(in crate::engine) fn output(&self, step: &str) -> Option<&serde_json::Value> {
        self.journal
            .iter()
            .rev()
            .find(|e| e.kind == JournalKind::Done && e.step == step)
            .map(|e| &e.detail)
    }

    /// How many side effects of the interrupted run were found already made.
    pub(in crate::engine) fn found(&self) -> usize {
        self.servers.len() + self.ports.len() + self.volumes.len() + self.copies.len()
    }
}

/// A resource an interrupted run already made.
#[derive(Debug, Clone, Copy)]
pub(in crate::engine) enum Made {
    Server,
    Port,
    Volume,
    Copy,
}

impl Run<'_> {
    /// The resource the interrupted run made in `step`, if this run resumes it and the
    /// resource exists: the step is journaled done with it (`adopted`), not made again.
    pub(in crate::engine) async fn adopted(&self, made: Made, step: &str) -> Option<String> {
        let found = self.made_before(made, step)?;
        self.journal(step, JournalKind::Done, json!({"adopted": found}))
            .await;
        Some(found)
    }

    /// The resource the interrupted run made in `step`, if this run resumes it and the
    /// resource exists.
    pub(in crate::engine) fn made_before(&self, made: Made, step: &str) -> Option<String> {
        let resumed = self.resumed.as_ref()?;
        match made {
            Made::Server => resumed.servers.get(step).cloned(),
            Made::Port => resumed.ports.get(step).cloned(),
            Made::Volume => resumed.volumes.get(step).cloned(),
            Made::Copy => step
                .strip_prefix("copy_volume:")
                .filter(|name| resumed.copies.contains(*name))
                .map(str::to_string),
        }
    }

    /// Whether the interrupted run this run resumes had completed plan step `step`.
    pub(in crate::engine) fn completed_before(&self, step: &str) -> bool {
        self.resumed
            .as_ref()
            .is_some_and(|r| r.completed.iter().any(|s| s == step))
    }

    /// What side effect `step` of the interrupted run returned, when it is recorded done.
    pub(in crate::engine) fn output_before(&self, step: &str) -> Option<serde_json::Value> {
        self.resumed.as_ref()?.output(step).cloned()
    }

    /// Whether the group is already claimed by this operation (a resumed run claimed it
    /// before its process ended).
    pub(in crate::engine) fn claimed_before(&self, group: &crate::model::ProtectionGroup) -> bool {
        self.resumed.is_some() && group.active_operation_id == Some(self.op_id())
    }

    /// Journals what this run executes, before its first side effect (see [`RunRecord`]).
    pub(in crate::engine) async fn record_plan(&self, reverse_replication: bool) {
        if self.resumed.is_some() {
            return;
        }
        let record = RunRecord {
            plan: self.plan.clone(),
            previous_status: self.previous_status,
            reverse_replication,
        };
        self.journal(
            "plan",
            JournalKind::Planned,
            serde_json::to_value(&record).unwrap_or_default(),
        )
        .await;
    }

    /// What the interrupted run changed that a rollback of this one must undo too: source
    /// VMs it stopped and original VMs it started.
    pub(in crate::engine) fn inherit_undo(&self) {
        let Some(resumed) = &self.resumed else {
            return;
        };
        let mut undo = lock(&self.undo);
        undo.stopped = resumed.servers_of("stop_server:");
        undo.started = resumed.servers_of("start_server:");
    }
}
