//! The invariants every run must keep, read from the simulator and protector's records after
//! the measured command: one running copy of each VM, nothing leaked, no data lost. They are
//! reported PASS/FAIL per run (a benchmark whose run broke something measures nothing).

use std::collections::BTreeMap;

use serde::Serialize;

use protector_core::model::{Operation, OperationStatus};
use protector_core::plan::Plan;
use protector_core::Protector;
use protector_mock::Inventory;

use crate::scenario::{Kind, Scenario};
use crate::world::World;

/// One invariant's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// `completed`, `one_running_copy`, `no_leaks`, `zero_loss`.
    pub name: &'static str,
    /// Whether it held.
    pub passed: bool,
    /// What was seen (the first offenders when it failed).
    pub detail: String,
}

fn check(name: &'static str, problems: Vec<String>, passed_detail: String) -> Check {
    let passed = problems.is_empty();
    let detail = if passed {
        passed_detail
    } else {
        let shown: Vec<&str> = problems.iter().take(5).map(String::as_str).collect();
        let more = problems.len().saturating_sub(shown.len());
        let mut text = shown.join("; ");
        if more > 0 {
            text.push_str(&format!("; and {more} more"));
        }
        text
    };
    Check {
        name,
        passed,
        detail,
    }
}

/// The operation ended `completed` (a site failover: with every group completed).
pub fn completed(scenario: &Scenario, op: &Operation) -> Check {
    let mut problems = Vec::new();
    if op.status != OperationStatus::Completed {
        problems.push(format!(
            "operation {} ended {}: {}",
            op.id,
            op.status.as_str(),
            op.error_message.as_deref().unwrap_or("no message")
        ));
    }
    if scenario.kind == Kind::SiteFailover {
        let done = op.completed_count.unwrap_or(0) as usize;
        if done != scenario.groups {
            problems.push(format!("{done} of {} groups completed", scenario.groups));
        }
    }
    check("completed", problems, format!("operation {}", op.id))
}

/// The ACTIVE servers named `name`, by site.
fn active(inventory: &Inventory, name: &str) -> BTreeMap<String, usize> {
    inventory
        .sites
        .iter()
        .map(|(site, s)| {
            let n = s
                .servers
                .iter()
                .filter(|v| v.name == name && v.status == "ACTIVE")
                .count();
            (site.clone(), n)
        })
        .collect()
}

/// Exactly one ACTIVE server per VM across both sites, on the site it should run on. A drill
/// leaves production where it is and runs one test copy (`test-<vm>`) on the DR site.
pub fn one_running_copy(scenario: &Scenario, world: &World, inventory: &Inventory) -> Check {
    let expected = match scenario.kind {
        Kind::Failover | Kind::SiteFailover => "site-b",
        Kind::Failback | Kind::Drill => "site-a",
    };
    let mut problems = Vec::new();
    for vm in world.vms() {
        let running = active(inventory, vm);
        let total: usize = running.values().sum();
        if total != 1 || running.get(expected) != Some(&1) {
            problems.push(format!("{vm} runs {running:?}"));
        }
        if scenario.kind == Kind::Drill {
            let copies = active(inventory, &format!("test-{vm}"));
            if copies.get("site-b") != Some(&1) || copies.values().sum::<usize>() != 1 {
                problems.push(format!("test-{vm} runs {copies:?}"));
            }
        }
    }
    check(
        "one_running_copy",
        problems,
        format!("{} VMs, each ACTIVE once, on {expected}", scenario.vms()),
    )
}

/// Nothing protector tagged or named is left without an owner, on either site or array.
pub async fn no_leaks(protector: &Protector) -> Check {
    match protector.leak_scan(&[]).await {
        Err(e) => check(
            "no_leaks",
            vec![format!("leak scan failed: {e}")],
            String::new(),
        ),
        Ok(scan) => {
            let mut problems: Vec<String> = scan
                .not_scanned
                .iter()
                .map(|n| format!("not scanned: {n:?}"))
                .collect();
            problems.extend(scan.leaks.iter().map(|l| format!("leak: {l:?}")));
            check(
                "no_leaks",
                problems,
                format!("{} places scanned", scan.scanned.len()),
            )
        }
    }
}

/// A planned failover or failback loses nothing: for every volume of every executed plan the
/// newest snapshot on the target array holds the source volume's last write (the source VM
/// stopped writing when it was stopped, so its fingerprint now is the one at the stop), and the
/// volume the VM runs on there holds at least that write.
pub fn zero_loss(world: &World, inventory: &Inventory, plans: &[Plan]) -> Check {
    let mut problems = Vec::new();
    let mut volumes = 0usize;
    for plan in plans {
        let (source, target) = (plan.source_site.as_str(), plan.target_site.as_str());
        let Some(target_array) = inventory.arrays.get(target) else {
            problems.push(format!("no array on {target}"));
            continue;
        };
        for member in &plan.members {
            let server = inventory.sites.get(target).and_then(|s| {
                s.servers
                    .iter()
                    .find(|v| v.name == member.instance_name && v.status == "ACTIVE")
            });
            for volume in &member.volumes {
                volumes += 1;
                // The array volume as planned, else as Cinder's unmanage renamed it (a
                // failback unmanages the DR copies it leaves), else the one behind the Cinder
                // volume now.
                let mut unmanaged = format!("{}-unmanaged", volume.source_array_volume);
                unmanaged.truncate(63);
                let cinder = inventory
                    .sites
                    .get(source)
                    .and_then(|s| s.volumes.iter().find(|v| v.id == volume.source_volume_id));
                let found = world
                    .sim
                    .array_volume_fingerprint(source, &volume.source_array_volume)
                    .map(|f| (volume.source_array_volume.clone(), f))
                    .or_else(|| {
                        let f = world.sim.array_volume_fingerprint(source, &unmanaged)?;
                        Some((volume.source_array_volume.clone(), f))
                    })
                    .or_else(|| {
                        let c = cinder?;
                        Some((c.array_volume.clone()?, c.fingerprint?))
                    });
                let Some((name, last)) = found else {
                    problems.push(format!(
                        "{source}: neither array volume {} nor Cinder volume {} is there",
                        volume.source_array_volume, volume.source_volume_id
                    ));
                    continue;
                };
                let name = &name;
                let replicated = target_array
                    .snapshots
                    .iter()
                    .rev()
                    .find_map(|s| s.fingerprints.get(name).copied());
                if replicated != Some(last) {
                    problems.push(format!(
                        "{}: the newest snapshot of {name} on {target} holds write {replicated:?}, the source's last is {last}",
                        member.instance_name
                    ));
                }
                // The recovered volume started from exactly that write (its lineage: adopted
                // from a copy of the source volume's snapshot that held it), not merely from
                // something at least as new.
                let on_target = server.and_then(|s| s.volumes.get(volume_position(member, volume)));
                let started = match on_target {
                    Some(id) => inventory.check_started_from_last_write(target, id, source, name),
                    None => Err(format!("no volume of {} on {target}", member.instance_name)),
                };
                if let Err(why) = started {
                    problems.push(format!("{}: {why}", member.instance_name));
                }
            }
        }
    }
    check(
        "zero_loss",
        problems,
        format!("{volumes} volumes started from their source's last write"),
    )
}

/// Where `volume` is among the member's volumes (root first, as attached).
fn volume_position(
    member: &protector_core::plan::MemberPlan,
    volume: &protector_core::plan::VolumePlan,
) -> usize {
    member
        .volumes
        .iter()
        .position(|v| v.source_volume_id == volume.source_volume_id)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_check_shows_its_first_offenders() {
        let problems = (0..8).map(|i| format!("vm-{i} runs twice")).collect();
        let c = check("one_running_copy", problems, "fine".into());
        assert!(!c.passed);
        assert_eq!(
            c.detail,
            "vm-0 runs twice; vm-1 runs twice; vm-2 runs twice; vm-3 runs twice; vm-4 runs twice; and 3 more"
        );
        let ok = check("no_leaks", Vec::new(), "4 places scanned".into());
        assert!(ok.passed);
        assert_eq!(ok.detail, "4 places scanned");
    }
}
