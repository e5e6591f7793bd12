//! The VMs a caller could add to a protection group, each with whether it can join and, when
//! not, the refusal `add_member` would give (Horizon's instance picker, `member-candidates`).

use futures::stream::{self, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use super::members::eligible_member;
use crate::api::ListServers;
use crate::engine::Protector;
use crate::error::{ErrorKind, Result};

/// How many servers are inspected at once.
const CONCURRENCY: usize = 8;

/// An instance of the caller's project on a group's current primary site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MemberCandidate {
    /// Nova instance id.
    pub instance_id: String,
    /// Nova instance name.
    pub name: String,
    /// Nova status (`ACTIVE`, `SHUTOFF`, ...).
    pub status: String,
    /// Whether `add_member` would accept it now.
    pub eligible: bool,
    /// Why not: the message `add_member` refuses it with.
    pub reason: Option<String>,
}

impl Protector {
    /// The instances the caller's project runs on `group`'s current primary site, by name,
    /// each marked eligible or not with the reason `add_member` would refuse it for: already
    /// a member of a group, a copy protector made during an operation, no Cinder volumes,
    /// another volume type or backend, a root volume that is not bootable.
    ///
    /// Read-only. An error reading one instance's volumes or ports (other than the refusals
    /// above) fails the whole listing, as it would fail `add_member`.
    pub async fn member_candidates(&self, group: &str) -> Result<Vec<MemberCandidate>> {
        let group = self.group(group).await?;
        let caller = self.caller().await?;
        let taken = self.memberships(&caller).await?;
        let clients = self.ensure_reachable(&group.current_primary_site).await?;
        let servers = clients
            .compute
            .list_servers(&ListServers::default())
            .await
            .map_err(|e| e.with_prefix("listing the instances"))?;
        let (group, clients, taken) = (&group, &clients, &taken);
        let mut candidates: Vec<MemberCandidate> = stream::iter(servers)
            .map(|server| async move {
                let reason = if let Some(refusal) = taken.get(&server.id) {
                    Some(refusal.message().to_string())
                } else if let Some(op) = server.metadata.get("protector:operation") {
                    Some(format!(
                        "instance {} ({}) is a copy protector made for operation op-{op}: protect the VM it was made from",
                        server.id, server.name
                    ))
                } else {
                    match eligible_member(clients, group, &server.id).await {
                        Ok(_) => None,
                        Err(e) if matches!(e.kind(), ErrorKind::InvalidInput | ErrorKind::NotFound) => {
                            Some(e.message().to_string())
                        }
                        Err(e) => return Err(e),
                    }
                };
                Ok(MemberCandidate {
                    instance_id: server.id.clone(),
                    name: server.name.clone(),
                    status: server.status.as_str().to_string(),
                    eligible: reason.is_none(),
                    reason,
                })
            })
            .buffered(CONCURRENCY)
            .try_collect()
            .await?;
        candidates.sort_by(|a, b| {
            a.name
                .cmp(&b.name)
                .then_with(|| a.instance_id.cmp(&b.instance_id))
        });
        Ok(candidates)
    }
}
