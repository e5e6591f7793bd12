//! Per-member chains instead of phase barriers.
//!
//! After the group-wide storage step (the final snapshot and its transfer, or the pod
//! promoted, or the recovery point picked), nothing links one member's resources to
//! another's: each member runs its own chain as soon as its inputs are ready. Its volumes are
//! copied (all at once), then managed into the target Cinder (all at once, each awaited
//! available by the bulk waiter); its ports are created meanwhile, off the storage path; its
//! server boots as soon as its volumes and ports exist and the members of earlier boot waves
//! ([`crate::engine::boot_order`]) are ACTIVE.
//!
//! The operation's steps keep their meaning and overlap: `create_volumes_*`,
//! `manage_volumes_*` and `create_ports_*` start together and each is done when the last
//! member passed it; the instance step starts with them and is done when the last wave is.
//! The journal records every side effect as before (intent, then outcome, per resource), so a
//! resumed run adopts what an interrupted one made whatever the interleaving was.
//!
//! Hooks at the `post_storage` or `pre_instances` boundary need every member past storage
//! before any boots; a plan with such a hook keeps the phase barriers
//! ([`Run::needs_barriers`]).

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Mutex;

use futures::future::join;
use futures::stream::{self, StreamExt};
use tokio::sync::watch;
use uuid::Uuid;

use super::{lock, Run};
use crate::error::{Error, Result};
use crate::model::HookPoint;
use crate::plan::MemberPlan;

/// The names of the steps a chain passes (`create_volumes_<site>` …).
pub(in crate::engine) struct ChainSteps {
    pub(in crate::engine) create_volumes: String,
    pub(in crate::engine) manage_volumes: String,
    pub(in crate::engine) create_ports: String,
    /// The step the boot waves run in.
    pub(in crate::engine) instances: String,
}

/// Which members passed the storage and port steps (their boots may go), or that one failed
/// (no boot should start: the operation fails and compensates).
#[derive(Debug, Default)]
struct Gates {
    ready: BTreeSet<Uuid>,
    failed: bool,
}

/// Steps still awaiting members: a step is done when its count reaches zero, and steps are
/// recorded done in the plan's order (a step finished early waits for the ones before it),
/// so that the operation's completed steps read as its plan.
struct Countdown(Mutex<Vec<(String, usize)>>);

impl Countdown {
    /// One member passed `step`; returns the steps to record done now, in order.
    fn pass(&self, step: &str) -> Vec<String> {
        let mut left = lock(&self.0);
        if let Some((_, n)) = left.iter_mut().find(|(s, _)| s == step) {
            *n = n.saturating_sub(1);
        }
        let done = left.iter().take_while(|(_, n)| *n == 0).count();
        left.drain(..done).map(|(s, _)| s).collect()
    }
}

impl Run<'_> {
    /// Whether a hook sits between the storage and the instances phases: then every member
    /// must have passed storage before the first boots, and the phases keep their barriers.
    pub(in crate::engine) fn needs_barriers(&self) -> bool {
        self.plan
            .hooks
            .iter()
            .any(|h| matches!(h.at, HookPoint::PostStorage | HookPoint::PreInstances))
    }

    /// Runs every member's chain: for the members `chained` selects, copy and manage its
    /// volumes from `sources` while `ports` makes its ports; then, wave by wave, `boot`
    /// (and verification) for every member, each as soon as its own chain is through. The
    /// first error of a chain stops boots not yet started and is returned once every started
    /// chain has ended (the operation then compensates, as before).
    pub(in crate::engine) async fn member_chains<'m, K, P, PF, B, BF>(
        &'m self,
        steps: &'m ChainSteps,
        chained: K,
        sources: &'m BTreeMap<String, String>,
        ports: P,
        boot: B,
    ) -> Result<()>
    where
        K: Fn(&MemberPlan) -> bool + Copy,
        P: Fn(&'m MemberPlan) -> PF,
        PF: Future<Output = Result<()>> + 'm,
        B: Fn(&'m MemberPlan) -> BF,
        BF: Future<Output = Result<()>> + 'm,
    {
        let skip: BTreeSet<Uuid> = lock(&self.results)
            .iter()
            .filter(|(_, r)| r.error.is_some())
            .map(|(id, _)| *id)
            .collect();
        let members: Vec<&'m MemberPlan> = self
            .plan
            .members
            .iter()
            .filter(|m| !skip.contains(&m.member_id) && chained(m))
            .collect();
        let storage_steps = [
            &steps.create_volumes,
            &steps.manage_volumes,
            &steps.create_ports,
        ];
        for step in storage_steps {
            self.step_started(step).await?;
        }
        self.step_started(&steps.instances).await?;
        // Every step started, the operation is in the phase of the first until it is done.
        if let Some(first) = self
            .plan
            .steps
            .iter()
            .find(|s| s.name == steps.create_volumes)
        {
            lock(&self.op).phase = first.phase;
        }
        if members.is_empty() {
            for step in storage_steps {
                self.step_done(step).await?;
            }
        }
        let countdown = Countdown(Mutex::new(
            storage_steps
                .iter()
                .map(|s| ((*s).clone(), members.len()))
                .collect(),
        ));
        let (gates, _) = watch::channel(Gates {
            // Members without a chain (started, not built) may boot at once.
            ready: self
                .plan
                .members
                .iter()
                .filter(|m| !chained(m))
                .map(|m| m.member_id)
                .collect(),
            failed: false,
        });
        let (countdown, gates) = (&countdown, &gates);
        let pass = |step: &'m str| async move {
            for done in countdown.pass(step) {
                self.step_done(&done).await?;
            }
            Ok::<(), Error>(())
        };
        // The futures are made up front (they do nothing until polled) so that the stream
        // holds no closure: that keeps the operation's future `Send` (see `for_members`).
        let chains: Vec<_> = members
            .iter()
            .map(|member| {
                let member: &'m MemberPlan = member;
                let ports = ports(member);
                async move {
                    let storage = async {
                        self.copy_volumes(member, sources).await?;
                        pass(&steps.create_volumes).await?;
                        self.manage_volumes(member).await?;
                        pass(&steps.manage_volumes).await?;
                        // Observers see each member's import before its server boots (what
                        // an import holds can be checked before any write on the target).
                        self.save().await
                    };
                    let ports = async {
                        ports.await?;
                        pass(&steps.create_ports).await
                    };
                    let (storage, ports) = join(Box::pin(storage), Box::pin(ports)).await;
                    let outcome = storage.and(ports);
                    gates.send_modify(|g| match outcome {
                        Ok(()) => {
                            g.ready.insert(member.member_id);
                        }
                        Err(_) => g.failed = true,
                    });
                    outcome
                }
            })
            .collect();
        let limit = self.engine.options().member_concurrency.max(1);
        let chains = async move {
            stream::iter(chains)
                .buffer_unordered(limit)
                .collect::<Vec<Result<()>>>()
                .await
                .into_iter()
                .collect::<Result<()>>()
        };
        let boots = self.boot_waves(|member| {
            let boot = boot(member);
            async move {
                let mut gate = gates.subscribe();
                let passed = gate
                    .wait_for(|g| g.failed || g.ready.contains(&member.member_id))
                    .await
                    .map(|g| g.ready.contains(&member.member_id))
                    .unwrap_or(false);
                if !passed {
                    return Err(Error::conflict(format!(
                        "instance {} was not booted: the storage or network step of another member failed",
                        member.instance_name
                    )));
                }
                boot.await
            }
        });
        // Boxed: the chains are large futures, and a site failover nests one run per group.
        let (chains, boots) = join(Box::pin(chains), Box::pin(boots)).await;
        // A chain's own error explains a refused boot.
        chains?;
        boots?;
        self.step_done(&steps.instances).await
    }
}
