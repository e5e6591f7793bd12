//! FlashArray: volumes, protection groups, replication (and data it carries), pods.

use std::sync::Arc;

use protector_core::api::{ArrayApi, CopyVolume, CreatePgSnapshot, ServerStatus};
use protector_core::ErrorKind;
use protector_mock::{Clock, Pace, Simulator};

use crate::common::*;

const REPLICATE_NOW: CreatePgSnapshot = CreatePgSnapshot {
    replicate_now: true,
    apply_retention: false,
    suffix: None,
};

/// A protection group `pg` on flasharray-a with the given array volumes, replicating to
/// flasharray-b (allowed when `allow`).
async fn protect(
    sim: &Simulator,
    pg: &str,
    volumes: &[String],
    allow: bool,
) -> (Arc<dyn ArrayApi>, Arc<dyn ArrayApi>) {
    let a = array(sim, "site-a").await;
    let b = array(sim, "site-b").await;
    a.create_protection_group(pg).await.unwrap();
    a.add_protection_group_volumes(pg, volumes).await.unwrap();
    a.add_protection_group_target(pg, "flasharray-b")
        .await
        .unwrap();
    if allow {
        b.set_protection_group_allowed(&format!("flasharray-a:{pg}"), true)
            .await
            .unwrap();
    }
    (a, b)
}

async fn array_volume_of(sim: &Simulator, server: &str, index: usize) -> (String, String) {
    let a = clients(sim, "site-a").await;
    let server = sim.find_server("site-a", server).unwrap();
    let id = server.attached_volumes[index].volume_id.clone();
    let volume = a.block_storage.get_volume(&id).await.unwrap().unwrap();
    (id, volume.array_volume.unwrap())
}

#[tokio::test]
async fn stop_snapshot_replicate_copy_loses_no_data() {
    let sim = Simulator::in_memory().unwrap();
    let site_a = clients(&sim, "site-a").await;
    let db = sim.find_server("site-a", "db-server-1").unwrap();
    let (root_id, root) = array_volume_of(&sim, "db-server-1", 0).await;
    let (data_id, data) = array_volume_of(&sim, "db-server-1", 1).await;
    let (a, b) = protect(&sim, "pg-db", &[root.clone(), data.clone()], true).await;

    // Quiesce: stop the VM before the final snapshot.
    site_a.compute.stop_server(&db.id).await.unwrap();
    wait_server(&site_a, &db.id, ServerStatus::Shutoff).await;
    let last_root = sim.volume_fingerprint("site-a", &root_id).unwrap();
    let last_data = sim.volume_fingerprint("site-a", &data_id).unwrap();

    let snap = a.create_pg_snapshot("pg-db", &REPLICATE_NOW).await.unwrap();
    assert_eq!(snap.name, "pg-db.1");
    assert_eq!(snap.source, "pg-db");
    let replica = "flasharray-a:pg-db.1";
    let polls = wait_transfer(&b, replica).await;
    assert!(
        polls <= 4,
        "a transfer takes about three ticks, took {polls} polls"
    );
    let transfers = b
        .list_pg_snapshot_transfers("flasharray-a:pg-db")
        .await
        .unwrap();
    assert_eq!(transfers[0].name, replica);
    assert_eq!(transfers[0].progress, 1.0);
    assert!(transfers[0].data_transferred > 0);
    // The source side reports the same transfer as done.
    assert!(a.list_pg_snapshot_transfers("pg-db.1").await.unwrap()[0].is_complete());

    let snaps = b.list_volume_snapshots(replica).await.unwrap();
    let names: Vec<&str> = snaps.iter().map(|s| s.name.as_str()).collect();
    let mut expected = vec![format!("{replica}.{root}"), format!("{replica}.{data}")];
    expected.sort();
    assert_eq!(names, expected);
    assert!(snaps.iter().any(|s| s.source_volume == root));

    // Writes after the snapshot (there are none: the VM is off) would not be in it.
    sim.tick(5).unwrap();
    b.copy_volume(&CopyVolume {
        name: "prot-db-root".into(),
        source: format!("{replica}.{root}"),
        overwrite: false,
    })
    .await
    .unwrap();
    b.copy_volume(&CopyVolume {
        name: "prot-db-data".into(),
        source: format!("{replica}.{data}"),
        overwrite: false,
    })
    .await
    .unwrap();
    assert_eq!(
        sim.array_volume_fingerprint("site-b", "prot-db-root"),
        Some(last_root)
    );
    assert_eq!(
        sim.array_volume_fingerprint("site-b", "prot-db-data"),
        Some(last_data)
    );
    assert_eq!(sim.volume_fingerprint("site-a", &root_id), Some(last_root));
    let copied = b.get_volume("prot-db-data").await.unwrap().unwrap();
    assert_eq!(copied.provisioned_bytes, 100 << 30);
    assert!(!copied.destroyed);
    let inventory = sim.inspect();
    let replica_summary = inventory.arrays["site-b"]
        .snapshots
        .iter()
        .find(|s| s.name == replica)
        .unwrap();
    assert!(replica_summary.complete);
    assert_eq!(replica_summary.fingerprints[&root], last_root);
}

#[tokio::test]
async fn a_running_vm_keeps_writing_after_the_snapshot() {
    let sim = Simulator::in_memory().unwrap();
    let (root_id, root) = array_volume_of(&sim, "web-server-1", 0).await;
    let (a, b) = protect(&sim, "pg-web", std::slice::from_ref(&root), true).await;
    a.create_pg_snapshot("pg-web", &REPLICATE_NOW)
        .await
        .unwrap();
    let captured = sim.inspect().arrays["site-a"].snapshots[0].fingerprints[&root];
    wait_transfer(&b, "flasharray-a:pg-web.1").await;
    b.copy_volume(&CopyVolume {
        name: "copy".into(),
        source: format!("flasharray-a:pg-web.1.{root}"),
        overwrite: false,
    })
    .await
    .unwrap();
    let copied = sim.array_volume_fingerprint("site-b", "copy").unwrap();
    assert_eq!(copied, captured);
    let source_now = sim.volume_fingerprint("site-a", &root_id).unwrap();
    assert!(
        source_now > copied,
        "the unplanned case loses what was written since the snapshot"
    );
}

#[tokio::test]
async fn transfers_need_an_allowed_target_and_a_link() {
    let sim = Simulator::in_memory().unwrap();
    let (_, root) = array_volume_of(&sim, "web-server-2", 0).await;
    let (a, b) = protect(&sim, "pg", std::slice::from_ref(&root), false).await;
    let replica_group = b
        .get_protection_group("flasharray-a:pg")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(replica_group.source, "flasharray-a");
    assert!(!replica_group.targets[0].allowed);
    assert!(!a.get_protection_group("pg").await.unwrap().unwrap().targets[0].allowed);

    // Not allowed: nothing is sent.
    a.create_pg_snapshot("pg", &REPLICATE_NOW).await.unwrap();
    sim.tick(5).unwrap();
    assert!(b
        .list_pg_snapshot_transfers("flasharray-a:pg")
        .await
        .unwrap()
        .is_empty());
    let local = a.list_pg_snapshot_transfers("pg").await.unwrap();
    assert_eq!(local[0].progress, 0.0);
    assert!(local[0].started.is_none());
    assert_error(
        &a.set_protection_group_allowed("pg", true)
            .await
            .unwrap_err(),
        ErrorKind::InvalidInput,
        "must be set from the target array",
    );
    b.set_protection_group_allowed("flasharray-a:pg", true)
        .await
        .unwrap();
    b.set_protection_group_allowed("flasharray-a:pg", true)
        .await
        .unwrap();
    assert!(a.get_protection_group("pg").await.unwrap().unwrap().targets[0].allowed);

    // Partitioned: the snapshot waits on the source and nothing arrives.
    sim.set_partition(true).unwrap();
    let snap = a.create_pg_snapshot("pg", &REPLICATE_NOW).await.unwrap();
    assert_eq!(snap.name, "pg.2");
    sim.tick(10).unwrap();
    assert!(b
        .list_pg_snapshot_transfers("flasharray-a:pg")
        .await
        .unwrap()
        .is_empty());
    sim.set_partition(false).unwrap();
    let polls = wait_transfer(&b, "flasharray-a:pg.2").await;
    assert!(polls <= 4);

    // A partition in the middle of a transfer stalls it; healing resumes it.
    let snap = a.create_pg_snapshot("pg", &REPLICATE_NOW).await.unwrap();
    assert_eq!(snap.name, "pg.3");
    sim.tick(1).unwrap();
    sim.set_partition(true).unwrap();
    sim.tick(20).unwrap();
    let stalled = b
        .list_pg_snapshot_transfers("flasharray-a:pg.3")
        .await
        .unwrap();
    assert!(
        stalled[0].progress > 0.0 && stalled[0].progress < 1.0,
        "{stalled:?}"
    );
    assert!(stalled[0].completed.is_none());
    let copy = b
        .copy_volume(&CopyVolume {
            name: "early".into(),
            source: format!("flasharray-a:pg.3.{root}"),
            overwrite: false,
        })
        .await
        .unwrap_err();
    assert_error(&copy, ErrorKind::Conflict, "is still being replicated");
    // Newest first, and only complete ones are what failover may use.
    let all = b
        .list_pg_snapshot_transfers("flasharray-a:pg")
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        ["flasharray-a:pg.3", "flasharray-a:pg.2"]
    );
    assert_eq!(
        all.iter().find(|t| t.is_complete()).unwrap().name,
        "flasharray-a:pg.2"
    );
    sim.set_partition(false).unwrap();
    wait_transfer(&b, "flasharray-a:pg.3").await;

    // The target array down stalls too, and its API is unreachable.
    sim.set_array_down("site-b", true).unwrap();
    a.create_pg_snapshot("pg", &REPLICATE_NOW).await.unwrap();
    let down = b.list_pg_snapshots("flasharray-a:pg").await.unwrap_err();
    assert_eq!(down.kind(), ErrorKind::Unavailable);
    assert_eq!(
        down.message(),
        "flasharray-b is unreachable: connection refused (simulated)"
    );
    sim.set_array_down("site-b", false).unwrap();
    wait_transfer(&b, "flasharray-a:pg.4").await;
    let listed: Vec<String> = b
        .list_pg_snapshots("flasharray-a:pg")
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(
        listed,
        [
            "flasharray-a:pg.2",
            "flasharray-a:pg.3",
            "flasharray-a:pg.4"
        ]
    );
}

/// On the wall clock, calls run the services' steps but time passes as real time does: a
/// schedule fires and the guests write by the seconds that passed, not by the calls;
/// switching back goes on from the time reached, a second per call; the clock is kept with
/// the state, and the writes replay from it.
#[tokio::test]
async fn on_the_wall_clock_time_follows_real_time_and_never_goes_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sim.db");
    let sim = Simulator::open(&path).unwrap();
    let (_, root) = array_volume_of(&sim, "web-server-1", 0).await;
    let (a, _) = protect(&sim, "pg-wall", std::slice::from_ref(&root), true).await;
    a.set_replication_schedule("pg-wall", true, 60)
        .await
        .unwrap();
    assert_eq!(sim.clock(), Clock::Calls);
    // A second per call: every call is a round of the guests' writes.
    let written = sim.last_write();
    sim.tick(1).unwrap();
    let round = sim.last_write() - written;
    assert!(round > 0);
    sim.set_clock(Clock::Wall).unwrap();
    assert_eq!(sim.clock(), Clock::Wall);
    let real = std::time::Instant::now();
    let simulated = sim.now();
    let written = sim.last_write();
    sim.tick(600).unwrap();
    let taken = a.list_pg_snapshots("pg-wall").await.unwrap();
    let passed = sim.now() - simulated;
    // The guests write once a simulated second, not once a call.
    let writes = sim.last_write() - written;
    assert_eq!(writes % round, 0, "{writes} writes in rounds of {round}");
    assert!(
        writes / round <= passed.num_seconds() as u64 + 1,
        "{} rounds in {passed}",
        writes / round
    );
    let real = chrono::Duration::from_std(real.elapsed()).unwrap();
    // Simulated time moved by the real time that passed (not by 601 calls; the system clock
    // and the monotonic one may differ by a slew), and the schedule fired once for every
    // minute of it.
    let slew = chrono::Duration::milliseconds(1);
    assert!(
        passed >= chrono::Duration::zero() && passed <= real + slew,
        "{passed} in {real}"
    );
    assert_eq!(taken.len() as i64, passed.num_seconds() / 60, "{taken:?}");

    // Kept with the state; the writes replay to the same data.
    let (last, data) = (
        sim.last_write(),
        sim.array_volume_fingerprint("site-a", &root).unwrap(),
    );
    drop((a, sim));
    let sim = Simulator::open(&path).unwrap();
    assert_eq!(sim.clock(), Clock::Wall);
    assert_eq!(sim.last_write(), last);
    assert_eq!(sim.array_volume_fingerprint("site-a", &root).unwrap(), data);
    let a = array(&sim, "site-a").await;
    let reached = sim.now();
    sim.set_clock(Clock::Calls).unwrap();
    assert!(sim.now() >= reached);
    let before = a.list_pg_snapshots("pg-wall").await.unwrap().len();
    let from = sim.now();
    sim.tick(60).unwrap();
    assert_eq!(sim.now() - from, chrono::Duration::seconds(60));
    let after = a.list_pg_snapshots("pg-wall").await.unwrap().len();
    assert_eq!(
        after,
        before + 1,
        "a simulated minute passed: the schedule fired"
    );
}

#[tokio::test]
async fn scheduled_replication_takes_and_sends_snapshots_with_retention() {
    let sim = Simulator::in_memory().unwrap();
    let (root_id, root) = array_volume_of(&sim, "web-server-1", 0).await;
    let (a, b) = protect(&sim, "pg-sched", std::slice::from_ref(&root), true).await;
    a.set_replication_schedule("pg-sched", true, 60)
        .await
        .unwrap();
    let group = a.get_protection_group("pg-sched").await.unwrap().unwrap();
    assert!(group.replication_enabled);
    assert_eq!(group.replication_frequency_secs, 60);
    // Every call is a tick: the get above, 57, and this listing = 59 seconds after enabling.
    sim.tick(57).unwrap();
    assert!(a.list_pg_snapshots("pg-sched").await.unwrap().is_empty());
    sim.tick(1).unwrap();
    let snaps = a.list_pg_snapshots("pg-sched").await.unwrap();
    assert_eq!(snaps.len(), 1);
    sim.tick(3).unwrap();
    let latest = b
        .list_pg_snapshot_transfers("flasharray-a:pg-sched")
        .await
        .unwrap();
    assert!(latest[0].is_complete());

    // Purity's default retention keeps every snapshot for a day, on each side.
    sim.tick(60 * 12).unwrap();
    let source = a.list_pg_snapshots("pg-sched").await.unwrap();
    let target = b.list_pg_snapshots("flasharray-a:pg-sched").await.unwrap();
    assert_eq!(source.len(), 13);
    assert_eq!(target.len(), 13);
    assert_eq!(source.last().unwrap().name, "pg-sched.13");
    // An unplanned failover from the latest complete snapshot loses at most one period.
    let newest = b
        .list_pg_snapshot_transfers("flasharray-a:pg-sched")
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.is_complete())
        .unwrap();
    b.copy_volume(&CopyVolume {
        name: "rpo".into(),
        source: format!("{}.{root}", newest.name),
        overwrite: false,
    })
    .await
    .unwrap();
    let lost = sim.volume_fingerprint("site-a", &root_id).unwrap()
        - sim.array_volume_fingerprint("site-b", "rpo").unwrap();
    let writes_per_tick = sim.inspect().sites["site-a"].servers.len() as u64 + 2;
    assert!(lost <= 64 * writes_per_tick, "lost {lost} writes");
    a.set_replication_schedule("pg-sched", false, 60)
        .await
        .unwrap();
    sim.tick(120).unwrap();
    assert_eq!(
        a.list_pg_snapshots("pg-sched")
            .await
            .unwrap()
            .last()
            .unwrap()
            .name,
        "pg-sched.13"
    );
}

#[tokio::test]
async fn volumes_follow_purity_rules() {
    let sim = Simulator::in_memory().unwrap();
    let (_, root) = array_volume_of(&sim, "web-server-1", 0).await;
    let a = array(&sim, "site-a").await;

    let copy = CopyVolume {
        name: "scratch".into(),
        source: root.clone(),
        overwrite: false,
    };
    let made = a.copy_volume(&copy).await.unwrap();
    assert_eq!(made.name, "scratch");
    assert_eq!(made.provisioned_bytes, 20 << 30);
    assert_error(
        &a.copy_volume(&copy).await.unwrap_err(),
        ErrorKind::AlreadyExists,
        "already exists",
    );
    sim.tick(2).unwrap();
    let overwritten = a
        .copy_volume(&CopyVolume {
            overwrite: true,
            ..copy.clone()
        })
        .await
        .unwrap();
    assert_eq!(overwritten.serial, made.serial);
    assert_eq!(
        sim.array_volume_fingerprint("site-a", "scratch"),
        sim.array_volume_fingerprint("site-a", &root)
    );
    assert_error(
        &a.copy_volume(&CopyVolume {
            name: "x".into(),
            source: "nope".into(),
            overwrite: false,
        })
        .await
        .unwrap_err(),
        ErrorKind::NotFound,
        "does not exist",
    );
    assert_error(
        &a.copy_volume(&CopyVolume {
            name: "bad.name".into(),
            source: root.clone(),
            overwrite: false,
        })
        .await
        .unwrap_err(),
        ErrorKind::InvalidInput,
        "is invalid",
    );

    a.rename_volume("scratch", "scratch-2").await.unwrap();
    assert!(a.get_volume("scratch").await.unwrap().is_none());
    assert_error(
        &a.rename_volume("scratch", "y").await.unwrap_err(),
        ErrorKind::NotFound,
        "does not exist",
    );
    assert_error(
        &a.rename_volume("scratch-2", &root).await.unwrap_err(),
        ErrorKind::AlreadyExists,
        "already exists",
    );

    // An attached volume cannot be destroyed; a free one is destroyed, then eradicated.
    assert_error(
        &a.destroy_volume(&root).await.unwrap_err(),
        ErrorKind::Conflict,
        "existing connections",
    );
    assert_error(
        &a.eradicate_volume("scratch-2").await.unwrap_err(),
        ErrorKind::Conflict,
        "not destroyed",
    );
    a.destroy_volume("scratch-2").await.unwrap();
    a.destroy_volume("scratch-2").await.unwrap();
    assert!(a.get_volume("scratch-2").await.unwrap().unwrap().destroyed);
    assert_error(
        &a.copy_volume(&CopyVolume {
            name: "scratch-2".into(),
            source: root.clone(),
            overwrite: true,
        })
        .await
        .unwrap_err(),
        ErrorKind::Conflict,
        "has been destroyed",
    );
    assert_error(
        &a.copy_volume(&CopyVolume {
            name: "z".into(),
            source: "scratch-2".into(),
            overwrite: false,
        })
        .await
        .unwrap_err(),
        ErrorKind::Conflict,
        "has been destroyed",
    );
    a.eradicate_volume("scratch-2").await.unwrap();
    a.eradicate_volume("scratch-2").await.unwrap();
    a.destroy_volume("scratch-2").await.unwrap();
    assert!(a.get_volume("scratch-2").await.unwrap().is_none());

    // Destroyed volumes are eradicated after a simulated day.
    a.copy_volume(&CopyVolume {
        name: "old".into(),
        source: root.clone(),
        overwrite: false,
    })
    .await
    .unwrap();
    a.destroy_volume("old").await.unwrap();
    sim.tick(24 * 3600).unwrap();
    assert!(a.get_volume("old").await.unwrap().is_none());
}

#[tokio::test]
async fn protection_groups_follow_purity_rules() {
    let sim = Simulator::in_memory().unwrap();
    let (_, root) = array_volume_of(&sim, "web-server-1", 0).await;
    let (a, b) = protect(&sim, "pg", std::slice::from_ref(&root), true).await;
    assert_error(
        &a.create_protection_group("pg").await.unwrap_err(),
        ErrorKind::AlreadyExists,
        "already exists",
    );
    a.add_protection_group_volumes("pg", std::slice::from_ref(&root))
        .await
        .unwrap();
    a.add_protection_group_target("pg", "flasharray-b")
        .await
        .unwrap();
    a.remove_protection_group_volumes("pg", &["not-a-member".to_string()])
        .await
        .unwrap();
    assert_error(
        &a.add_protection_group_volumes("pg", &["ghost".to_string()])
            .await
            .unwrap_err(),
        ErrorKind::NotFound,
        "does not exist",
    );
    assert_error(
        &a.add_protection_group_target("pg", "flasharray-z")
            .await
            .unwrap_err(),
        ErrorKind::NotFound,
        "flasharray-z",
    );
    assert_error(
        &a.create_pg_snapshot("nope", &REPLICATE_NOW)
            .await
            .unwrap_err(),
        ErrorKind::NotFound,
        "does not exist",
    );
    assert_error(
        &b.create_pg_snapshot("flasharray-a:pg", &REPLICATE_NOW)
            .await
            .unwrap_err(),
        ErrorKind::InvalidInput,
        "replica",
    );
    assert!(a.get_protection_group("nope").await.unwrap().is_none());

    // A renamed member stays a member under its new name (what Cinder's manage relies on).
    a.copy_volume(&CopyVolume {
        name: "member".into(),
        source: root.clone(),
        overwrite: false,
    })
    .await
    .unwrap();
    a.add_protection_group_volumes("pg", &["member".to_string()])
        .await
        .unwrap();
    a.rename_volume("member", "member-renamed").await.unwrap();
    let group = a.get_protection_group("pg").await.unwrap().unwrap();
    assert_eq!(group.volumes, [root.clone(), "member-renamed".to_string()]);

    let suffixed = a
        .create_pg_snapshot(
            "pg",
            &CreatePgSnapshot {
                suffix: Some("dr1".into()),
                ..REPLICATE_NOW
            },
        )
        .await
        .unwrap();
    assert_eq!(suffixed.name, "pg.dr1");
    assert_error(
        &a.create_pg_snapshot(
            "pg",
            &CreatePgSnapshot {
                suffix: Some("dr1".into()),
                ..REPLICATE_NOW
            },
        )
        .await
        .unwrap_err(),
        ErrorKind::AlreadyExists,
        "already exists",
    );
    wait_transfer(&b, "flasharray-a:pg.dr1").await;
    a.eradicate_pg_snapshot("pg.dr1").await.unwrap();
    a.eradicate_pg_snapshot("pg.dr1").await.unwrap();
    assert!(a.list_pg_snapshots("pg").await.unwrap().is_empty());
    // The replica is independent of the source snapshot.
    assert_eq!(
        b.list_volume_snapshots("flasharray-a:pg.dr1")
            .await
            .unwrap()
            .len(),
        2
    );
    b.eradicate_pg_snapshot("flasharray-a:pg.dr1")
        .await
        .unwrap();
    assert_error(
        &b.list_volume_snapshots("flasharray-a:pg.dr1")
            .await
            .unwrap_err(),
        ErrorKind::NotFound,
        "does not exist",
    );

    a.destroy_protection_group("pg").await.unwrap();
    a.destroy_protection_group("pg").await.unwrap();
    assert!(
        a.get_protection_group("pg")
            .await
            .unwrap()
            .unwrap()
            .destroyed
    );
    assert_error(
        &a.create_protection_group("pg").await.unwrap_err(),
        ErrorKind::Conflict,
        "has been destroyed",
    );
    sim.tick(24 * 3600).unwrap();
    assert!(a.get_protection_group("pg").await.unwrap().is_none());
    a.create_protection_group("pg").await.unwrap();
    a.destroy_protection_group("never-existed").await.unwrap();
}

#[tokio::test]
async fn stretched_pods_keep_both_copies_equal_until_partitioned() {
    let sim = Simulator::in_memory().unwrap();
    let (ledger_id, ledger) = array_volume_of(&sim, "ledger-db", 0).await;
    assert!(ledger.starts_with("cinder-pod::"));
    let a = array(&sim, "site-a").await;
    let b = array(&sim, "site-b").await;
    let pod = b.get_pod("cinder-pod").await.unwrap().unwrap();
    assert_eq!(pod.arrays.len(), 2);
    assert!(pod.arrays.iter().all(|m| m.status == "online"));
    assert_eq!(
        b.get_volume(&ledger).await.unwrap().unwrap().pod.as_deref(),
        Some("cinder-pod")
    );

    sim.tick(3).unwrap();
    let on_a = sim.array_volume_fingerprint("site-a", &ledger).unwrap();
    assert_eq!(
        sim.array_volume_fingerprint("site-b", &ledger),
        Some(on_a),
        "sync: equal on both arrays"
    );
    assert_eq!(sim.volume_fingerprint("site-a", &ledger_id), Some(on_a));

    sim.set_partition(true).unwrap();
    sim.tick(5).unwrap();
    let pod = a.get_pod("cinder-pod").await.unwrap().unwrap();
    let status: Vec<(&str, &str)> = pod
        .arrays
        .iter()
        .map(|m| (m.name.as_str(), m.status.as_str()))
        .collect();
    assert_eq!(
        status,
        [("flasharray-a", "online"), ("flasharray-b", "offline")]
    );
    let a_now = sim.array_volume_fingerprint("site-a", &ledger).unwrap();
    let b_now = sim.array_volume_fingerprint("site-b", &ledger).unwrap();
    assert!(
        a_now > b_now,
        "the preferred array keeps taking writes; the other stops"
    );
    assert_error(
        &b.copy_volume(&CopyVolume {
            name: "cinder-pod::x".into(),
            source: ledger.clone(),
            overwrite: false,
        })
        .await
        .unwrap_err(),
        ErrorKind::Conflict,
        "does not accept writes",
    );

    sim.set_partition(false).unwrap();
    sim.tick(1).unwrap();
    assert_eq!(
        sim.array_volume_fingerprint("site-b", &ledger),
        sim.array_volume_fingerprint("site-a", &ledger),
        "resynced when the link is back"
    );

    // A copy out of the pod on site-b is a plain volume holding the pod's data.
    let site_a = clients(&sim, "site-a").await;
    let ledger_vm = sim.find_server("site-a", "ledger-db").unwrap();
    site_a.compute.stop_server(&ledger_vm.id).await.unwrap();
    wait_server(&site_a, &ledger_vm.id, ServerStatus::Shutoff).await;
    let last = sim.volume_fingerprint("site-a", &ledger_id).unwrap();
    let out = b
        .copy_volume(&CopyVolume {
            name: "ledger-root-dr".into(),
            source: ledger.clone(),
            overwrite: false,
        })
        .await
        .unwrap();
    assert!(out.pod.is_none());
    assert_eq!(
        sim.array_volume_fingerprint("site-b", "ledger-root-dr"),
        Some(last)
    );
}

#[tokio::test]
async fn pods_can_be_created_stretched_and_demoted() {
    let sim = Simulator::in_memory().unwrap();
    let (_, root) = array_volume_of(&sim, "web-server-1", 0).await;
    let a = array(&sim, "site-a").await;
    let b = array(&sim, "site-b").await;
    let pod = a.create_pod("dr-pod").await.unwrap();
    assert_eq!(pod.promotion_status, "promoted");
    assert_error(
        &b.create_pod("dr-pod").await.unwrap_err(),
        ErrorKind::AlreadyExists,
        "already exists",
    );
    assert!(
        b.get_pod("dr-pod").await.unwrap().is_none(),
        "not stretched to b yet"
    );
    a.copy_volume(&CopyVolume {
        name: "dr-pod::vol".into(),
        source: root.clone(),
        overwrite: false,
    })
    .await
    .unwrap();
    a.add_pod_array("dr-pod", "flasharray-b").await.unwrap();
    a.add_pod_array("dr-pod", "flasharray-b").await.unwrap();
    sim.tick(1).unwrap();
    let on_b = b.get_pod("dr-pod").await.unwrap().unwrap();
    assert!(on_b.arrays.iter().all(|m| m.status == "online"), "{on_b:?}");
    assert_eq!(
        sim.array_volume_fingerprint("site-b", "dr-pod::vol"),
        sim.array_volume_fingerprint("site-a", "dr-pod::vol")
    );

    // A write into the pod on either array lands on both.
    b.copy_volume(&CopyVolume {
        name: "dr-pod::from-b".into(),
        source: "dr-pod::vol".into(),
        overwrite: false,
    })
    .await
    .unwrap();
    assert_eq!(
        sim.array_volume_fingerprint("site-a", "dr-pod::from-b"),
        sim.array_volume_fingerprint("site-b", "dr-pod::vol")
    );

    // Demoted on b: b stops taking writes, a still does.
    b.demote_pod("dr-pod").await.unwrap();
    assert_eq!(
        b.get_pod("dr-pod").await.unwrap().unwrap().promotion_status,
        "demoted"
    );
    assert_eq!(
        a.get_pod("dr-pod").await.unwrap().unwrap().promotion_status,
        "promoted"
    );
    assert_error(
        &b.copy_volume(&CopyVolume {
            name: "dr-pod::vol2".into(),
            source: "dr-pod::vol".into(),
            overwrite: false,
        })
        .await
        .unwrap_err(),
        ErrorKind::Conflict,
        "demoted",
    );
    a.copy_volume(&CopyVolume {
        name: "dr-pod::vol2".into(),
        source: root.clone(),
        overwrite: false,
    })
    .await
    .unwrap();
    assert!(
        b.get_volume("dr-pod::vol2").await.unwrap().is_some(),
        "mirrored to b"
    );
    b.promote_pod("dr-pod").await.unwrap();
    b.promote_pod("dr-pod").await.unwrap();
    assert_error(
        &a.add_pod_array("nope", "flasharray-b").await.unwrap_err(),
        ErrorKind::NotFound,
        "does not exist",
    );
}

const BLOCK: u64 = 4 << 20;

#[tokio::test]
async fn changed_bytes_are_the_blocks_written_since_the_snapshot() {
    let sim = Simulator::in_memory().unwrap();
    let site_a = clients(&sim, "site-a").await;
    let web = sim.find_server("site-a", "web-server-1").unwrap();
    let (_, root) = array_volume_of(&sim, "web-server-1", 0).await;
    let (a, b) = protect(&sim, "pg-web", std::slice::from_ref(&root), true).await;

    // Quiesced: a fresh snapshot holds everything the volume does.
    site_a.compute.stop_server(&web.id).await.unwrap();
    wait_server(&site_a, &web.id, ServerStatus::Shutoff).await;
    a.create_pg_snapshot("pg-web", &REPLICATE_NOW)
        .await
        .unwrap();
    let first = format!("pg-web.1.{root}");
    assert_eq!(a.changed_bytes_since(&root, &first).await.unwrap(), 0);

    // Running: every tick writes one 4 MiB block; the ten ticks write ten different ones
    // (fewer writes than the volume has hot blocks), plus those of the calls themselves.
    site_a.compute.start_server(&web.id).await.unwrap();
    wait_server(&site_a, &web.id, ServerStatus::Active).await;
    sim.tick(10).unwrap();
    let changed = a.changed_bytes_since(&root, &first).await.unwrap();
    assert_eq!(changed % BLOCK, 0, "{changed}");
    assert!(
        (10 * BLOCK..=20 * BLOCK).contains(&changed),
        "ten ticks and a few calls of writes, got {} blocks",
        changed / BLOCK
    );

    // The next snapshot, replicated, holds what was written; the copy of the first one on
    // the peer differs from it by exactly what the source wrote in between.
    site_a.compute.stop_server(&web.id).await.unwrap();
    wait_server(&site_a, &web.id, ServerStatus::Shutoff).await;
    let since_first = a.changed_bytes_since(&root, &first).await.unwrap();
    assert!(since_first >= changed);
    a.create_pg_snapshot("pg-web", &REPLICATE_NOW)
        .await
        .unwrap();
    let second = format!("pg-web.2.{root}");
    assert_eq!(a.changed_bytes_since(&root, &second).await.unwrap(), 0);
    assert_eq!(
        a.changed_bytes_since(&root, &first).await.unwrap(),
        since_first
    );
    wait_transfer(&b, "flasharray-a:pg-web.1").await;
    wait_transfer(&b, "flasharray-a:pg-web.2").await;
    b.copy_volume(&CopyVolume {
        name: "copy".into(),
        source: format!("flasharray-a:{first}"),
        overwrite: false,
    })
    .await
    .unwrap();
    assert_eq!(
        b.changed_bytes_since("copy", &format!("flasharray-a:{first}"))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        b.changed_bytes_since("copy", &format!("flasharray-a:{second}"))
            .await
            .unwrap(),
        since_first
    );

    let err = a
        .changed_bytes_since("no-such-volume", &first)
        .await
        .unwrap_err();
    assert_error(&err, ErrorKind::NotFound, "no-such-volume does not exist");
    let err = a
        .changed_bytes_since(&root, "pg-web.9.x")
        .await
        .unwrap_err();
    assert_error(&err, ErrorKind::NotFound, "pg-web.9.x does not exist");
}

#[tokio::test]
async fn at_prompt_pace_a_transfer_and_a_power_change_complete_by_the_next_call() {
    let sim = Simulator::in_memory().unwrap();
    assert_eq!(sim.pace(), Pace::Realistic);
    let (_, root) = array_volume_of(&sim, "web-server-2", 0).await;
    let (a, b) = protect(&sim, "pg", std::slice::from_ref(&root), true).await;

    // Realistic: three calls see the transfer arrive.
    let snap = a.create_pg_snapshot("pg", &REPLICATE_NOW).await.unwrap();
    assert_eq!(
        wait_transfer(&b, &format!("flasharray-a:{}", snap.name)).await,
        3
    );

    sim.set_pace(Pace::Prompt).unwrap();
    assert_eq!(sim.pace(), Pace::Prompt);
    let snap = a.create_pg_snapshot("pg", &REPLICATE_NOW).await.unwrap();
    assert_eq!(
        wait_transfer(&b, &format!("flasharray-a:{}", snap.name)).await,
        1
    );

    // A stop and a start are seen done by the next call (a boot: compute.rs).
    let site_a = clients(&sim, "site-a").await;
    let web = sim.find_server("site-a", "web-server-2").unwrap();
    site_a.compute.stop_server(&web.id).await.unwrap();
    let seen = site_a.compute.get_server(&web.id).await.unwrap().unwrap();
    assert_eq!(seen.status, ServerStatus::Shutoff);
    site_a.compute.start_server(&web.id).await.unwrap();
    let seen = site_a.compute.get_server(&web.id).await.unwrap().unwrap();
    assert_eq!(seen.status, ServerStatus::Active);
}
