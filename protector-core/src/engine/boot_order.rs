//! Boot order: the waves a group's servers boot in, the checks that keep priorities and
//! dependencies bootable, and running a phase wave by wave.
//!
//! Members have a priority (1 boots first, 5 last, SRM's five priority groups) and may depend
//! on other members of the group ("db before app"). [`waves`] is the one function that turns
//! them into waves: tiers by priority ascending and, inside a tier, dependency levels (a
//! member is in the wave after the last of its dependencies). Failover, failback and drills
//! boot wave by wave ([`boot_in_waves`]): a wave's servers are created, then verified ACTIVE
//! (the per-member verification, with whatever readiness wait it has), then the next wave
//! starts. A member whose dependency failed is not started; later waves still run, as SRM's
//! later priority groups do.

use std::collections::BTreeMap;
use std::future::Future;

use chrono::Utc;
use uuid::Uuid;

use serde_json::json;

use super::runner::{each_bounded, lock, Run};
use crate::error::{Error, Result};
use crate::model::{BootWave, Member, WaveRun, HIGHEST_PRIORITY, LOWEST_PRIORITY};
use crate::plan::MemberPlan;
use crate::store::JournalKind;

/// What [`waves`] needs of a member (a group member or a planned one).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Node<'a> {
    pub(crate) id: Uuid,
    pub(crate) priority: u8,
    pub(crate) depends_on: &'a [Uuid],
}

impl<'a> From<&'a Member> for Node<'a> {
    fn from(m: &'a Member) -> Self {
        Node {
            id: m.id,
            priority: m.priority,
            depends_on: &m.depends_on,
        }
    }
}

impl<'a> From<&'a MemberPlan> for Node<'a> {
    fn from(m: &'a MemberPlan) -> Self {
        Node {
            id: m.member_id,
            priority: m.priority,
            depends_on: &m.depends_on,
        }
    }
}

/// One wave: its tier, its level in the tier, its member ids (in the order given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Wave {
    pub(crate) priority: u8,
    pub(crate) level: u32,
    pub(crate) members: Vec<Uuid>,
}

/// The waves `nodes` boot in: by priority ascending, then by dependency level inside the
/// priority (0: nothing in the tier to wait for; n: after the level n-1 it depends on).
/// Dependencies on ids not among `nodes` (a member left out of the operation) and on earlier
/// tiers add no level. A dependency cycle (refused when set, so only in a hand-edited record)
/// puts its members in the tier's last wave rather than nowhere.
pub(crate) fn waves(nodes: &[Node<'_>]) -> Vec<Wave> {
    let by_id: BTreeMap<Uuid, &Node<'_>> = nodes.iter().map(|n| (n.id, n)).collect();
    let mut levels: BTreeMap<Uuid, u32> = BTreeMap::new();
    // Relaxation over at most `nodes.len()` rounds: a longer chain can only be a cycle.
    let mut unresolved: Vec<&Node<'_>> = nodes.iter().collect();
    for _ in 0..=nodes.len() {
        let mut next = Vec::new();
        for node in unresolved {
            let same_tier: Vec<Uuid> = node
                .depends_on
                .iter()
                .filter(|d| by_id.get(d).is_some_and(|n| n.priority == node.priority))
                .copied()
                .collect();
            match same_tier
                .iter()
                .map(|d| levels.get(d).copied())
                .collect::<Option<Vec<u32>>>()
            {
                Some(found) => {
                    levels.insert(node.id, found.into_iter().map(|l| l + 1).max().unwrap_or(0));
                }
                None => next.push(node),
            }
        }
        unresolved = next;
        if unresolved.is_empty() {
            break;
        }
    }
    let mut grouped: BTreeMap<(u8, u32), Vec<Uuid>> = BTreeMap::new();
    for node in nodes {
        let level = match levels.get(&node.id) {
            Some(level) => *level,
            None => u32::try_from(nodes.len()).unwrap_or(u32::MAX),
        };
        grouped
            .entry((node.priority, level))
            .or_default()
            .push(node.id);
    }
    // Levels of a tier are renumbered 0, 1, 2… (a cycle's placeholder level included).
    let mut out: Vec<Wave> = Vec::new();
    for ((priority, _), members) in grouped {
        let level = out
            .last()
            .filter(|w| w.priority == priority)
            .map_or(0, |w| w.level + 1);
        out.push(Wave {
            priority,
            level,
            members,
        });
    }
    out
}

/// The plan's boot order: [`waves`] of the planned members, with their names.
pub(crate) fn plan_boot_order(members: &[MemberPlan]) -> Vec<BootWave> {
    let nodes: Vec<Node<'_>> = members.iter().map(Node::from).collect();
    let names: BTreeMap<Uuid, &str> = members
        .iter()
        .map(|m| (m.member_id, m.instance_name.as_str()))
        .collect();
    waves(&nodes)
        .into_iter()
        .map(|w| {
            let mut members: Vec<String> =
                w.members.iter().map(|id| names[id].to_string()).collect();
            members.sort();
            BootWave {
                priority: w.priority,
                level: w.level,
                members,
            }
        })
        .collect()
}

/// Refuses (`InvalidInput`) an order the group's members cannot boot in: a priority outside
/// 1-5, a dependency on an unknown member or on itself, on a member with a later priority,
/// or a cycle. `members` is the whole group after the change.
pub(crate) fn check_order(group: &str, members: &[Member]) -> Result<()> {
    let by_id: BTreeMap<Uuid, &Member> = members.iter().map(|m| (m.id, m)).collect();
    for m in members {
        if !(HIGHEST_PRIORITY..=LOWEST_PRIORITY).contains(&m.priority) {
            return Err(Error::invalid(format!(
                "priority {} of member {} in protection group '{group}' is outside {HIGHEST_PRIORITY}-{LOWEST_PRIORITY}: give {HIGHEST_PRIORITY} (boots first) to {LOWEST_PRIORITY} (boots last)",
                m.priority, m.instance_name
            )));
        }
    }
    // Ranges first, for every member: a dependency check must not judge an invalid priority.
    for m in members {
        for dependency in &m.depends_on {
            if *dependency == m.id {
                return Err(Error::invalid(format!(
                    "member {} of protection group '{group}' cannot depend on itself: name other members",
                    m.instance_name
                )));
            }
            let Some(other) = by_id.get(dependency) else {
                return Err(Error::invalid(format!(
                    "member {} of protection group '{group}' depends on {dependency}, which is not a member of the group: name members of the group",
                    m.instance_name
                )));
            };
            if other.priority > m.priority {
                return Err(Error::invalid(format!(
                    "member {} (priority {}) of protection group '{group}' cannot depend on {} (priority {}), which boots later: raise the priority of {} (a lower number) or lower the priority of {}",
                    m.instance_name, m.priority, other.instance_name, other.priority, other.instance_name, m.instance_name
                )));
            }
        }
    }
    if let Some(cycle) = find_cycle(&by_id) {
        return Err(Error::invalid(format!(
            "the dependencies of protection group '{group}' form a cycle ({}): none of them could boot first; remove one of these dependencies",
            cycle.join(" → ")
        )));
    }
    Ok(())
}

/// A dependency cycle, as instance names from a member back to itself.
fn find_cycle(by_id: &BTreeMap<Uuid, &Member>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        id: Uuid,
        by_id: &BTreeMap<Uuid, &Member>,
        marks: &mut BTreeMap<Uuid, Mark>,
        path: &mut Vec<Uuid>,
    ) -> Option<Vec<String>> {
        match marks.get(&id) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let start = path.iter().position(|p| *p == id).unwrap_or(0);
                let mut names: Vec<String> = path[start..]
                    .iter()
                    .map(|p| by_id[p].instance_name.clone())
                    .collect();
                names.push(by_id[&id].instance_name.clone());
                return Some(names);
            }
            None => {}
        }
        marks.insert(id, Mark::Open);
        path.push(id);
        for dependency in &by_id[&id].depends_on {
            if by_id.contains_key(dependency) {
                if let Some(cycle) = visit(*dependency, by_id, marks, path) {
                    return Some(cycle);
                }
            }
        }
        path.pop();
        marks.insert(id, Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for id in by_id.keys() {
        if let Some(cycle) = visit(*id, by_id, &mut marks, &mut Vec::new()) {
            return Some(cycle);
        }
    }
    None
}

/// Why a member is not started: `member`'s first dependency (among `members`) that failed.
pub(crate) fn blocked_by(
    member: &MemberPlan,
    members: &[MemberPlan],
    failure: &dyn Fn(Uuid) -> Option<String>,
) -> Option<String> {
    member.depends_on.iter().find_map(|dependency| {
        let other = members.iter().find(|m| m.member_id == *dependency)?;
        let why = failure(*dependency)?;
        Some(format!(
            "not started: it depends on {}, which failed: {why}",
            other.instance_name
        ))
    })
}

/// How an executor keeps its member outcomes, for [`boot_in_waves`].
pub(in crate::engine) trait WaveOutcomes: Sync {
    /// Why `member` failed so far, if it did.
    fn failure(&self, member: Uuid) -> Option<String>;
    /// Records that `member` failed (it goes through the executor's failure handling).
    fn fail(&self, member: Uuid, why: String);
}

/// Boots `members` wave by wave: for each wave, members whose dependency failed are failed
/// with the reason, `record` is told the wave started, `boot` then `verify` run for each of
/// the others (at most `limit` members at once), then `record` is told how the wave ended. Members that
/// already failed (an earlier phase) are left out. Returns the first `Err` of `boot`, `verify`
/// or `record` (the operation fails and compensates, as it did before waves).
pub(in crate::engine) async fn boot_in_waves<'m, B, BF, V, VF, R, RF>(
    members: &'m [MemberPlan],
    limit: usize,
    outcomes: &dyn WaveOutcomes,
    mut record: R,
    boot: B,
    verify: V,
) -> Result<()>
where
    B: Fn(&'m MemberPlan) -> BF,
    BF: Future<Output = Result<()>>,
    V: Fn(&'m MemberPlan) -> VF,
    VF: Future<Output = Result<()>>,
    R: FnMut(WaveRun) -> RF,
    RF: Future<Output = Result<()>>,
{
    let nodes: Vec<Node<'_>> = members.iter().map(Node::from).collect();
    let by_id: BTreeMap<Uuid, &'m MemberPlan> = members.iter().map(|m| (m.member_id, m)).collect();
    for wave in waves(&nodes) {
        let mut ready: Vec<&'m MemberPlan> = Vec::new();
        let mut not_started = Vec::new();
        for id in &wave.members {
            let member = by_id[id];
            if outcomes.failure(*id).is_some() {
                continue;
            }
            match blocked_by(member, members, &|d| outcomes.failure(d)) {
                Some(why) => {
                    outcomes.fail(*id, why);
                    not_started.push(member.instance_name.clone());
                }
                None => ready.push(member),
            }
        }
        // By name: the order the plan shows, and one that does not change from run to run.
        ready.sort_by(|a, b| a.instance_name.cmp(&b.instance_name));
        not_started.sort();
        let mut run = WaveRun {
            priority: wave.priority,
            level: wave.level,
            members: ready.iter().map(|m| m.instance_name.clone()).collect(),
            not_started,
            failed: Vec::new(),
            started_at: Utc::now(),
            finished_at: None,
        };
        record(run.clone()).await?;
        // Each member is verified as soon as it booted: one slow boot holds no other
        // member's verification (the wave still ends when its last member does).
        // A boot that errs fails the operation: members not verified yet are not waited for.
        let aborted = std::sync::atomic::AtomicBool::new(false);
        each_bounded(&ready, limit, |m| {
            let (boot, verify, aborted) = (&boot, &verify, &aborted);
            async move {
                if let Err(e) = boot(m).await {
                    aborted.store(true, std::sync::atomic::Ordering::SeqCst);
                    return Err(e);
                }
                if outcomes.failure(m.member_id).is_none()
                    && !aborted.load(std::sync::atomic::Ordering::SeqCst)
                {
                    verify(m).await?;
                }
                Ok(())
            }
        })
        .await?;
        run.failed = ready
            .iter()
            .filter(|m| outcomes.failure(m.member_id).is_some())
            .map(|m| m.instance_name.clone())
            .collect();
        run.finished_at = Some(Utc::now());
        record(run).await?;
    }
    Ok(())
}

/// Puts `run` into `waves`: replaces the entry of the same wave (a resumed run boots it
/// again), else appends.
pub(in crate::engine) fn note_wave(waves: &mut Vec<WaveRun>, run: WaveRun) {
    match waves
        .iter_mut()
        .find(|w| w.priority == run.priority && w.level == run.level)
    {
        Some(existing) => {
            let started_at = existing.started_at.min(run.started_at);
            *existing = WaveRun { started_at, ..run };
        }
        None => waves.push(run),
    }
}

impl WaveOutcomes for Run<'_> {
    fn failure(&self, member: Uuid) -> Option<String> {
        lock(&self.results)
            .get(&member)
            .and_then(|r| r.error.clone())
    }

    fn fail(&self, member: Uuid, why: String) {
        lock(&self.results).entry(member).or_default().error = Some(why);
    }
}

impl Run<'_> {
    /// Boots the plan's members wave by wave with `boot` (create or start a server), each
    /// wave verified ACTIVE ([`Run::verify_server`]) before the next starts.
    pub(in crate::engine) async fn boot_waves<'m, B, BF>(&'m self, boot: B) -> Result<()>
    where
        B: Fn(&'m MemberPlan) -> BF,
        BF: Future<Output = Result<()>>,
    {
        // Boxed: every member's boot and verification is one large future.
        Box::pin(boot_in_waves(
            &self.plan.members,
            self.engine.options().member_concurrency,
            self,
            |wave| self.record_wave(wave),
            boot,
            |m| self.verify_server(m),
        ))
        .await
    }

    /// Keeps `wave` on the operation and in the journal (`boot_wave:<priority>.<level>`).
    async fn record_wave(&self, wave: WaveRun) -> Result<()> {
        let (step, kind, detail) = wave_journal(&wave);
        note_wave(&mut lock(&self.op).boot_waves, wave);
        self.journal(&step, kind, detail).await;
        self.save().await
    }
}

/// The journal entry of a boot wave (`boot_wave:<priority>.<level>`): its intent when it
/// starts, done when it ended. One shape for failovers, failbacks and drills.
pub(in crate::engine) fn wave_journal(wave: &WaveRun) -> (String, JournalKind, serde_json::Value) {
    let step = format!("boot_wave:{}.{}", wave.priority, wave.level + 1);
    let kind = if wave.finished_at.is_some() {
        JournalKind::Done
    } else {
        JournalKind::Intent
    };
    let detail = json!({
        "priority": wave.priority,
        "members": wave.members,
        "not_started": wave.not_started,
        "failed": wave.failed,
    });
    (step, kind, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(n: u128, priority: u8, depends_on: &[Uuid]) -> Node<'_> {
        Node {
            id: Uuid::from_u128(n),
            priority,
            depends_on,
        }
    }

    #[test]
    fn tiers_come_first_then_dependency_levels() {
        let db = [Uuid::from_u128(1)];
        let app = [Uuid::from_u128(2)];
        let nodes = [
            node(3, 2, &app),
            node(2, 2, &db),
            node(1, 2, &[]),
            node(4, 1, &[]),
            node(5, 5, &db),
        ];
        let names = ["", "db", "app", "web", "cache", "batch"];
        let got: Vec<(u8, u32, Vec<&str>)> = waves(&nodes)
            .into_iter()
            .map(|w| {
                let names = w
                    .members
                    .iter()
                    .map(|id| names[usize::try_from(id.as_u128()).unwrap()])
                    .collect();
                (w.priority, w.level, names)
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (1, 0, vec!["cache"]),
                (2, 0, vec!["db"]),
                (2, 1, vec!["app"]),
                (2, 2, vec!["web"]),
                (5, 0, vec!["batch"]),
            ]
        );
    }

    #[test]
    fn a_cycle_still_boots_last_in_its_tier() {
        let a = [Uuid::from_u128(2)];
        let b = [Uuid::from_u128(1)];
        let nodes = [node(1, 3, &a), node(2, 3, &b), node(3, 3, &[])];
        let got: Vec<(u32, usize)> = waves(&nodes)
            .iter()
            .map(|w| (w.level, w.members.len()))
            .collect();
        assert_eq!(got, vec![(0, 1), (1, 2)]);
    }
}
