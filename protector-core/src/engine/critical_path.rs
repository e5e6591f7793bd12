//! The bound of a recovery: the longest chain of dependent round trips an operation's plan
//! needs, whatever the implementation. Calls that do not depend on each other overlap (every
//! VM's stop, every volume's copy, a site's token and its array's login), so the bound does
//! not grow with the number of VMs, volumes or NICs; it grows with what each call must wait
//! for. Times the latency of one round trip, it is the least time any correct implementation
//! can take to have the workload running on the target ([`CriticalPath::bound`]).
//!
//! The chain ends when the last boot wave is ACTIVE on the target: re-protection (replication
//! set up in the other direction, metadata pushed to the peer) happens after the workload runs
//! and is not on the path of the time to recovery that the bound limits.
//!
//! What the bound assumes, per link (see [`Link`]):
//! - **identity token**: one Keystone round trip per site before its first call; the sites'
//!   tokens and the arrays' logins overlap, so only one is on the path.
//! - **array login**: one FlashArray session per array; off the path whenever a token is on it.
//! - **plan reads**: what a plan must know before its first side effect, read in parallel: the
//!   members' servers on the source (one filtered list), the target's flavors, networks,
//!   subnets, security groups, keypairs and volume types, the protection group on the source
//!   array, the latest replicated snapshot (or the pod) on the target array. Nothing is
//!   changed before the plan is known to hold: no source VM is stopped for a target that
//!   cannot take it.
//! - **stop** and **stop poll** (planned failover, failback; an unplanned failover whose source
//!   answers): every source VM's stop at once, then one poll that sees them SHUTOFF.
//! - **final snapshot** and **transfer poll** (planned, async): one protection-group snapshot
//!   with replicate-now once the VMs are stopped (nothing written after it), then one poll of
//!   the target array that sees it arrived. A sync (pod) group has no snapshot: the pod
//!   volume on the target array already holds every write.
//! - **copy**: every volume's copy on the target array at once, from the replicated snapshot
//!   (or the pod volume, or the drill's chosen snapshot).
//! - **manage** and **manage poll**: every copy imported into Cinder at once, then one poll
//!   that sees them available.
//! - **ports**: created once the plan is read, in parallel with storage: never on the path.
//! - **boot** and **boot poll**: every server of the first boot wave at once, then one poll
//!   that sees them ACTIVE; each further wave of the plan's boot order adds a boot and a poll.
//! - failback of a member whose original server is still on the target: **overwrite** its
//!   original volumes from the replicated snapshot, then **start** and **start poll** instead of
//!   copy, manage and boot. The reverse protection group is the failover's re-protection: the
//!   plan reads it, nothing has to be made.
//! - a DR drill recovers from a snapshot that has already arrived: no stop, no snapshot.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::ReplicationType;
use crate::plan::{FailoverMode, Plan};

/// One round trip on the critical path (many calls of the same kind at once count once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// Short name (`stop_poll`, `boot:2`).
    pub name: String,
    /// What it is, in words.
    pub description: String,
}

/// What kind of chain a plan needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PathKind {
    /// A planned failover or a failback: the source is stopped and its last writes replicated
    /// (or, for a sync group, already on the target).
    Planned,
    /// An unplanned failover: recovery from the replicated snapshot (or the pod) on the target.
    Unplanned,
    /// A DR drill: test copies from an already replicated snapshot; production untouched.
    Drill,
}

/// The longest chain of dependent round trips of a plan ([`critical_path`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CriticalPath {
    /// The chain it is.
    pub kind: PathKind,
    /// The round trips in order, each waiting for the one before.
    pub links: Vec<Link>,
}

impl CriticalPath {
    /// How many dependent round trips.
    pub fn round_trips(&self) -> usize {
        self.links.len()
    }

    /// The least time to recovery with `latency` per round trip.
    pub fn bound(&self, latency: Duration) -> Duration {
        latency * u32::try_from(self.links.len()).unwrap_or(u32::MAX)
    }

    /// The longest of several independent chains (a site failover: its groups do not wait
    /// for each other); `None` for none.
    pub fn longest(paths: impl IntoIterator<Item = CriticalPath>) -> Option<CriticalPath> {
        paths.into_iter().max_by_key(CriticalPath::round_trips)
    }
}

/// The round trips a plan needs, as a graph: each node one round trip, after its inputs.
#[derive(Default)]
struct Chain {
    nodes: Vec<Node>,
}

struct Node {
    link: Link,
    after: Vec<usize>,
}

impl Chain {
    /// Adds a round trip after `after` (nodes added before it) and returns it.
    fn add(&mut self, name: impl Into<String>, description: &str, after: &[usize]) -> usize {
        self.nodes.push(Node {
            link: Link {
                name: name.into(),
                description: description.to_string(),
            },
            after: after.to_vec(),
        });
        self.nodes.len() - 1
    }

    /// The longest path ending at `end`: every node's inputs come before it, so one pass in
    /// insertion order finds each node's depth and the input it waits for longest.
    fn longest_to(self, end: usize) -> Vec<Link> {
        let mut depth = vec![0usize; self.nodes.len()];
        let mut via: Vec<Option<usize>> = vec![None; self.nodes.len()];
        for (i, node) in self.nodes.iter().enumerate() {
            let before = node
                .after
                .iter()
                .copied()
                .max_by_key(|&j| (depth[j], std::cmp::Reverse(j)));
            depth[i] = 1 + before.map_or(0, |j| depth[j]);
            via[i] = before;
        }
        let mut order = Vec::new();
        let mut at = Some(end);
        while let Some(i) = at {
            order.push(i);
            at = via[i];
        }
        let mut nodes: Vec<Option<Node>> = self.nodes.into_iter().map(Some).collect();
        order
            .into_iter()
            .rev()
            .filter_map(|i| nodes[i].take().map(|n| n.link))
            .collect()
    }
}

/// The critical path of `plan`: the chain of dependent round trips from the start of the
/// operation to its last boot wave ACTIVE on the target (see the module documentation for
/// each link and why it is needed). An empty plan (no members) needs none.
pub fn critical_path(plan: &Plan) -> CriticalPath {
    let kind = if plan.source_snapshot.is_some() {
        PathKind::Drill
    } else {
        match plan.mode {
            FailoverMode::Planned => PathKind::Planned,
            FailoverMode::Unplanned => PathKind::Unplanned,
        }
    };
    if plan.members.is_empty() {
        return CriticalPath {
            kind,
            links: Vec::new(),
        };
    }
    let sync = plan.replication_type == ReplicationType::Sync;
    let stop_source = match kind {
        PathKind::Planned => true,
        PathKind::Unplanned => plan.source_reachable,
        PathKind::Drill => false,
    };
    let mut chain = Chain::default();

    // Sessions (none depends on another), then the plan reads, in parallel. Among reads of
    // equal depth the path names the first: the source's servers when the source is stopped.
    let mut reads = Vec::new();
    let mut source_login = None;
    if stop_source {
        let token = chain.add("identity_token", "Keystone token on the source site", &[]);
        reads.push(chain.add(
            "plan_reads",
            "the members' servers on the source (one filtered list)",
            &[token],
        ));
    }
    let target_token = chain.add("identity_token", "Keystone token on the target site", &[]);
    reads.push(chain.add(
        "plan_reads",
        "the target's flavors, networks, subnets, security groups, keypairs and volume types",
        &[target_token],
    ));
    let target_login = chain.add("array_login", "session on the target FlashArray", &[]);
    reads.push(chain.add(
        "plan_reads_array",
        if kind == PathKind::Planned {
            "the original volumes or the replicated protection group on the target array"
        } else {
            "the replicated snapshot (or the pod) to recover from on the target array"
        },
        &[target_login],
    ));
    if kind == PathKind::Planned {
        let login = chain.add("array_login", "session on the source FlashArray", &[]);
        reads.push(chain.add(
            "plan_reads_array",
            "the protection group (or the pod) on the source array",
            &[login],
        ));
        source_login = Some(login);
    }

    // The source quiesced, when it is.
    let stopped = stop_source.then(|| {
        let stop = chain.add("stop", "stop every source VM at once", &reads);
        chain.add("stop_poll", "one poll: every source VM SHUTOFF", &[stop])
    });
    // The data on the target array, ready to copy.
    let data_ready = match (kind, sync, stopped) {
        (PathKind::Planned, false, Some(stopped)) => {
            let mut after = vec![stopped];
            after.extend(source_login);
            let snapshot = chain.add(
                "final_snapshot",
                "protection-group snapshot with replicate-now, after the stop",
                &after,
            );
            let mut after = vec![snapshot];
            after.extend(reads.iter().copied());
            vec![chain.add(
                "transfer_poll",
                "one poll of the target array: the snapshot has arrived",
                &after,
            )]
        }
        // A pod volume holds every write once the VMs are stopped.
        (PathKind::Planned, _, Some(stopped)) => {
            let mut after = vec![stopped];
            after.extend(reads.iter().copied());
            after
        }
        _ => reads.clone(),
    };
    let ports = chain.add(
        "ports",
        "every port on the mapped networks at once (off the storage path)",
        &reads,
    );

    // Each member's way to a server that can start, then the boot waves.
    let mut rebuilt = None;
    let mut restarted = None;
    for member in &plan.members {
        if member.target_instance_id.is_some() {
            if restarted.is_none() {
                let overwrite = chain.add(
                    "overwrite",
                    "overwrite the original volumes on the target array from the snapshot",
                    &data_ready,
                );
                restarted = Some(overwrite);
            }
        } else if rebuilt.is_none() {
            let copy = chain.add(
                "copy",
                "copy every volume on the target array at once",
                &data_ready,
            );
            let manage = chain.add(
                "manage",
                "import every copy into Cinder at once (manage existing)",
                &[copy],
            );
            rebuilt = Some(chain.add(
                "manage_poll",
                "one poll: every imported volume available",
                &[manage],
            ));
        }
    }
    let mut ready: Vec<usize> = vec![ports];
    ready.extend(rebuilt);
    ready.extend(restarted);
    // An unplanned failover whose source answers boots once its VMs are stopped: one copy
    // runs.
    ready.extend(stopped);
    let waves = plan.boot_order.len().max(1);
    let (boot, poll) = match (rebuilt, restarted) {
        (None, Some(_)) => (
            ("start", "start every original server of the wave at once"),
            ("start_poll", "one poll: every server of the wave ACTIVE"),
        ),
        _ => (
            ("boot", "boot every server of the wave at once"),
            ("boot_poll", "one poll: every server of the wave ACTIVE"),
        ),
    };
    let mut last = None;
    for wave in 1..=waves {
        let name = |base: &str| {
            if wave == 1 {
                base.to_string()
            } else {
                format!("{base}:{wave}")
            }
        };
        let after = match last {
            None => ready.clone(),
            Some(previous) => vec![previous],
        };
        let started = chain.add(name(boot.0), boot.1, &after);
        last = Some(chain.add(name(poll.0), poll.1, &[started]));
    }
    let end = last.unwrap_or(ports);
    CriticalPath {
        kind,
        links: chain.longest_to(end),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::test_plans::{member, plan};
    use crate::model::BootWave;

    fn names(path: &CriticalPath) -> Vec<&str> {
        path.links.iter().map(|l| l.name.as_str()).collect()
    }

    fn waves(n: usize) -> Vec<BootWave> {
        (0..n)
            .map(|i| BootWave {
                priority: 3,
                level: i as u32,
                members: vec![format!("vm-{i}")],
            })
            .collect()
    }

    #[test]
    fn a_planned_failover_waits_for_stop_snapshot_import_and_boot() {
        let path = critical_path(&plan(FailoverMode::Planned, vec![member("vm-0", false)]));
        assert_eq!(path.kind, PathKind::Planned);
        assert_eq!(
            names(&path),
            [
                "identity_token",
                "plan_reads",
                "stop",
                "stop_poll",
                "final_snapshot",
                "transfer_poll",
                "copy",
                "manage",
                "manage_poll",
                "boot",
                "boot_poll"
            ]
        );
        assert_eq!(
            path.bound(Duration::from_millis(50)),
            Duration::from_millis(550)
        );
    }

    #[test]
    fn the_bound_does_not_grow_with_members_but_with_boot_waves() {
        let one = critical_path(&plan(FailoverMode::Planned, vec![member("vm-0", false)]));
        let many = critical_path(&plan(
            FailoverMode::Planned,
            (0..100)
                .map(|i| member(&format!("vm-{i}"), false))
                .collect(),
        ));
        assert_eq!(one.round_trips(), many.round_trips());

        let mut ordered = plan(
            FailoverMode::Planned,
            (0..3).map(|i| member(&format!("vm-{i}"), false)).collect(),
        );
        ordered.boot_order = waves(3);
        let path = critical_path(&ordered);
        assert_eq!(path.round_trips(), one.round_trips() + 4);
        assert_eq!(
            names(&path)[path.round_trips() - 4..],
            ["boot:2", "boot_poll:2", "boot:3", "boot_poll:3"]
        );
    }

    #[test]
    fn an_unplanned_failover_recovers_from_the_replicated_snapshot() {
        let mut lost = plan(FailoverMode::Unplanned, vec![member("vm-0", false)]);
        lost.source_reachable = false;
        let path = critical_path(&lost);
        assert_eq!(path.kind, PathKind::Unplanned);
        assert_eq!(path.round_trips(), 7);
        assert!(!names(&path).contains(&"stop"));
        assert_eq!(
            names(&path)[2..],
            ["copy", "manage", "manage_poll", "boot", "boot_poll"]
        );

        // A source that answers is stopped, but that is shorter than the import.
        let mut reachable = lost.clone();
        reachable.source_reachable = true;
        assert_eq!(critical_path(&reachable).round_trips(), 7);
    }

    #[test]
    fn a_drill_has_no_stop_and_no_snapshot() {
        let mut drill = plan(FailoverMode::Unplanned, vec![member("vm-0", false)]);
        drill.source_snapshot = Some("array-a:pg-g.3".into());
        let path = critical_path(&drill);
        assert_eq!(path.kind, PathKind::Drill);
        assert_eq!(
            names(&path),
            [
                "identity_token",
                "plan_reads",
                "copy",
                "manage",
                "manage_poll",
                "boot",
                "boot_poll"
            ]
        );
    }

    #[test]
    fn a_sync_group_has_no_snapshot_to_wait_for() {
        let mut pod = plan(FailoverMode::Planned, vec![member("vm-0", false)]);
        pod.replication_type = ReplicationType::Sync;
        let path = critical_path(&pod);
        assert_eq!(path.round_trips(), 9);
        assert!(!names(&path).contains(&"final_snapshot"));
        assert_eq!(names(&path)[2..5], ["stop", "stop_poll", "copy"]);
    }

    #[test]
    fn a_failback_overwrites_and_starts_the_original_servers() {
        let back = plan(FailoverMode::Planned, vec![member("vm-0", true)]);
        let path = critical_path(&back);
        assert_eq!(
            names(&path)[4..],
            [
                "final_snapshot",
                "transfer_poll",
                "overwrite",
                "start",
                "start_poll"
            ]
        );
        assert_eq!(path.round_trips(), 9);

        // A member whose original is gone is rebuilt: the longer chain counts.
        let mixed = plan(
            FailoverMode::Planned,
            vec![member("vm-0", true), member("vm-1", false)],
        );
        assert_eq!(critical_path(&mixed).round_trips(), 11);
    }

    #[test]
    fn a_site_failover_is_bound_by_its_longest_group() {
        let short = critical_path(&plan(FailoverMode::Planned, vec![member("vm-0", false)]));
        let mut ordered = plan(FailoverMode::Planned, vec![member("vm-1", false)]);
        ordered.boot_order = waves(2);
        let long = critical_path(&ordered);
        let site = CriticalPath::longest([short.clone(), long.clone()]).unwrap();
        assert_eq!(site, long);
        assert!(CriticalPath::longest(Vec::new()).is_none());
        assert_eq!(
            critical_path(&plan(FailoverMode::Planned, Vec::new())).round_trips(),
            0
        );
    }
}
