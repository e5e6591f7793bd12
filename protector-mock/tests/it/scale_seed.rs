//! Inventories at scale (`Simulator::seed_scale`): every seeded VM is a proper one, the
//! projects are usable by protector's DR admin on both sites, and twice the VMs fit on the
//! target site.

use std::collections::BTreeSet;

use protector_core::api::{Connector, ListServers};
use protector_core::ErrorKind;
use protector_mock::{ScaleSeed, ScaleSeeded, Simulator};

use crate::common::*;

fn spec() -> ScaleSeed {
    ScaleSeed {
        volumes_per_vm: 2,
        nics_per_vm: 2,
        ..ScaleSeed::new(3, 4)
    }
}

/// Every seeded VM on the seeding site: ACTIVE in its project, each volume in use, attached,
/// backed by `volume-<id>-cinder` on the array with the Cinder volume's fingerprint (sync ones
/// in the stretched pod, on both arrays), its ports on the bench network with distinct
/// addresses.
fn assert_consistent(sim: &Simulator, seeded: &ScaleSeeded, spec: &ScaleSeed) {
    let inv = sim.inspect();
    let site = &inv.sites[&spec.site];
    let array = &inv.arrays[&spec.site];
    let peer = if spec.site == "site-a" {
        "site-b"
    } else {
        "site-a"
    };
    let array_volumes: std::collections::BTreeMap<&str, u64> = array
        .volumes
        .iter()
        .filter(|v| !v.destroyed)
        .map(|v| (v.name.as_str(), v.fingerprint))
        .collect();
    let peer_volumes: BTreeSet<&str> = inv.arrays[peer]
        .volumes
        .iter()
        .map(|v| v.name.as_str())
        .collect();
    let mut addresses = BTreeSet::new();
    assert_eq!(seeded.servers().count(), spec.total_vms());
    for project in &seeded.projects {
        assert_eq!(project.site_ids[&spec.site], project.id);
        assert_eq!(
            sim.project_id(peer, &project.name).as_deref(),
            Some(project.site_ids[peer].as_str()),
            "{} exists on {peer}",
            project.name
        );
        for server in &project.servers {
            let summary = site
                .servers
                .iter()
                .find(|s| s.id == server.id)
                .unwrap_or_else(|| panic!("{} is on {}", server.name, spec.site));
            assert_eq!(summary.name, server.name);
            assert_eq!(summary.status, "ACTIVE");
            assert_eq!(summary.project_id, project.id);
            assert_eq!(summary.volumes.len(), spec.volumes_per_vm);
            for (index, volume_id) in summary.volumes.iter().enumerate() {
                let volume = site.volumes.iter().find(|v| v.id == *volume_id).unwrap();
                assert_eq!(volume.status, "in-use");
                assert_eq!(volume.project_id, project.id);
                let expected_role = if index == 0 {
                    "root".to_string()
                } else {
                    format!("data-{index}")
                };
                assert_eq!(volume.name, format!("{}-{expected_role}", server.name));
                let backing = volume.array_volume.as_deref().unwrap();
                let plain = format!("volume-{volume_id}-cinder");
                if server.volume_type == "replicated-sync" {
                    assert_eq!(backing, format!("cinder-pod::{plain}"));
                    assert!(peer_volumes.contains(backing), "{backing} is stretched");
                } else {
                    assert_eq!(backing, plain);
                }
                let fingerprint = volume.fingerprint.expect("backed by the array");
                assert!(fingerprint > 0);
                assert_eq!(array_volumes.get(backing), Some(&fingerprint));
                assert_eq!(
                    sim.volume_fingerprint(&spec.site, volume_id),
                    Some(fingerprint)
                );
            }
            let ports: Vec<_> = site
                .ports
                .iter()
                .filter(|p| p.device_id == server.id)
                .collect();
            assert_eq!(ports.len(), spec.nics_per_vm);
            for port in ports {
                for ip in &port.fixed_ips {
                    assert!(
                        addresses.insert(ip.ip_address.clone()),
                        "{} is handed out once",
                        ip.ip_address
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn seeded_vms_are_proper_ones_in_projects_on_both_sites() {
    let sim = Simulator::in_memory().unwrap();
    let before = sim.inspect();
    let spec = spec();
    let seeded = sim.seed_scale(&spec).unwrap();

    assert_eq!(seeded.site, "site-a");
    assert_eq!(
        seeded
            .projects
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>(),
        ["bench-1", "bench-2", "bench-3"]
    );
    assert_eq!(
        seeded.projects[1]
            .servers
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>(),
        ["bench-2-1", "bench-2-2", "bench-2-3", "bench-2-4"]
    );
    // Both replicated types, round-robin per VM.
    let types: Vec<&str> = seeded.servers().map(|s| s.volume_type.as_str()).collect();
    assert_eq!(&types[..4], ["replicated-ssd", "replicated-sync"].repeat(2));
    assert_consistent(&sim, &seeded, &spec);
    assert_eq!(sim.scale_seed(), Some(spec.clone()));

    // The seed's own VMs are untouched.
    let inv = sim.inspect();
    for server in &before.sites["site-a"].servers {
        assert!(inv.sites["site-a"].servers.contains(server));
    }

    // The seeded VMs write like the others as time passes.
    let first = &seeded.projects[0].servers[0];
    let root = &inv.sites["site-a"]
        .servers
        .iter()
        .find(|s| s.id == first.id)
        .unwrap()
        .volumes[0];
    let written = sim.volume_fingerprint("site-a", root).unwrap();
    sim.tick(1).unwrap();
    assert!(sim.volume_fingerprint("site-a", root).unwrap() > written);
}

#[tokio::test]
async fn the_dr_admin_acts_in_seeded_projects_and_twice_the_vms_fit_on_the_target() {
    let sim = Simulator::in_memory().unwrap();
    let spec = spec();
    let seeded = sim.seed_scale(&spec).unwrap();
    let connector = sim.connector();
    let project = &seeded.projects[2];
    for site in ["site-a", "site-b"] {
        let scoped = connector
            .site_for_project(&site_model(&sim, site, None), &project.site_ids[site])
            .await
            .unwrap();
        let auth = scoped.identity.authenticate().await.unwrap();
        assert_eq!(auth.project_id, project.site_ids[site]);
        assert!(auth.has_role("admin"), "{site}");

        let servers = scoped
            .compute
            .list_servers(&ListServers::default())
            .await
            .unwrap();
        let expected: BTreeSet<&str> = if site == "site-a" {
            project.servers.iter().map(|s| s.id.as_str()).collect()
        } else {
            BTreeSet::new()
        };
        assert_eq!(
            servers
                .iter()
                .map(|s| s.id.as_str())
                .collect::<BTreeSet<_>>(),
            expected
        );
        let network = scoped
            .network
            .find_network(&seeded.networks[site])
            .await
            .unwrap()
            .expect("bench network visible");
        assert_eq!(network.subnets.len(), 1);

        // Quota: the project's VMs twice over, beside what it runs.
        let limits = scoped.compute.get_limits().await.unwrap();
        let vms = spec.vms_per_project as u64;
        let running = if site == "site-a" { vms } else { 0 };
        assert_eq!(limits.instances.used, running);
        assert!(limits.instances.limit.unwrap() >= running + 2 * vms);
        assert!(limits.cores.limit.unwrap() >= limits.cores.used + 2 * vms);
        let volumes = scoped.block_storage.get_limits().await.unwrap();
        assert!(
            volumes.volumes.limit.unwrap()
                >= volumes.volumes.used + 2 * vms * spec.volumes_per_vm as u64
        );
    }

    // Compute capacity: every seeded VM twice over fits on site-b's zone-nova node.
    let admin_b = clients(&sim, "site-b").await;
    let flavor = admin_b
        .compute
        .find_flavor("m2.small")
        .await
        .unwrap()
        .unwrap();
    let hypervisors = admin_b.compute.list_hypervisors().await.unwrap();
    let node = hypervisors
        .iter()
        .find(|h| h.hostname == "site-b-compute")
        .unwrap();
    let total = 2 * spec.total_vms() as u64;
    assert!(node.vcpus - node.vcpus_used >= total * u64::from(flavor.vcpus));
    assert!(node.memory_mb - node.memory_mb_used >= total * flavor.ram_mb);
}

#[test]
fn seeding_in_production_project_with_one_type_and_flavor() {
    let sim = Simulator::in_memory().unwrap();
    let spec = ScaleSeed {
        projects: 0,
        vms_per_project: 12,
        volume_types: vec!["replicated-ssd".into()],
        flavor: Some("m1.large".into()),
        name_prefix: "load".into(),
        ..ScaleSeed::default()
    };
    let seeded = sim.seed_scale(&spec).unwrap();
    assert_eq!(seeded.projects.len(), 1);
    assert_eq!(seeded.projects[0].name, "production-project");
    assert_eq!(
        Some(seeded.projects[0].id.clone()),
        sim.project_id("site-a", "production-project")
    );
    let names: Vec<&str> = seeded.servers().map(|s| s.name.as_str()).collect();
    assert_eq!(names.first(), Some(&"load-01"));
    assert_eq!(names.last(), Some(&"load-12"));
    assert!(seeded.servers().all(|s| s.volume_type == "replicated-ssd"));
    let server = sim.find_server("site-a", "load-07").unwrap();
    assert_eq!(server.flavor_name, "m1.large");
    assert_consistent(&sim, &seeded, &spec);
}

#[test]
fn a_thousand_vms_in_a_hundred_projects() {
    let sim = Simulator::in_memory().unwrap();
    let spec = ScaleSeed::new(100, 10);
    let seeded = sim.seed_scale(&spec).unwrap();
    assert_eq!(seeded.servers().count(), 1000);
    assert_eq!(seeded.projects[99].name, "bench-100");
    assert_eq!(seeded.projects[99].servers[9].name, "bench-100-10");
    assert_consistent(&sim, &seeded, &spec);
    let ids: BTreeSet<&str> = seeded.servers().map(|s| s.id.as_str()).collect();
    assert_eq!(ids.len(), 1000);
}

#[test]
fn a_bad_spec_is_refused_before_any_change() {
    let sim = Simulator::in_memory().unwrap();
    sim.add_project("busy-2").unwrap();
    let before = sim.inspect();
    let refused = |spec: ScaleSeed, kind: ErrorKind, needle: &str| {
        let error = sim.seed_scale(&spec).unwrap_err();
        assert_eq!(error.kind(), kind, "{error}");
        assert!(error.to_string().contains(needle), "{error}");
    };
    refused(
        ScaleSeed {
            volumes_per_vm: 0,
            ..ScaleSeed::new(1, 1)
        },
        ErrorKind::InvalidInput,
        "volumes_per_vm is 0",
    );
    refused(
        ScaleSeed {
            nics_per_vm: 17,
            ..ScaleSeed::new(1, 1)
        },
        ErrorKind::InvalidInput,
        "nics_per_vm is 17",
    );
    refused(
        ScaleSeed::new(2, 0),
        ErrorKind::InvalidInput,
        "vms_per_project",
    );
    refused(
        ScaleSeed {
            site: "site-c".into(),
            ..ScaleSeed::new(1, 1)
        },
        ErrorKind::InvalidInput,
        "site-c",
    );
    refused(
        ScaleSeed {
            name_prefix: "no spaces".into(),
            ..ScaleSeed::new(1, 1)
        },
        ErrorKind::InvalidInput,
        "name_prefix",
    );
    refused(
        ScaleSeed {
            volume_types: vec!["gold".into()],
            ..ScaleSeed::new(1, 1)
        },
        ErrorKind::NotFound,
        "volume type 'gold'",
    );
    refused(
        ScaleSeed {
            flavor: Some("m9.huge".into()),
            ..ScaleSeed::new(1, 1)
        },
        ErrorKind::NotFound,
        "flavor 'm9.huge'",
    );
    refused(
        ScaleSeed {
            project_prefix: "busy".into(),
            ..ScaleSeed::new(2, 1)
        },
        ErrorKind::AlreadyExists,
        "project 'busy-2'",
    );
    refused(
        ScaleSeed::new(1000, 100),
        ErrorKind::InvalidInput,
        "bench network",
    );
    assert_eq!(sim.inspect(), before);
    assert_eq!(sim.scale_seed(), None);

    sim.seed_scale(&ScaleSeed::new(1, 2)).unwrap();
    let after_first = sim.inspect();
    let again = sim
        .seed_scale(&ScaleSeed {
            project_prefix: "other".into(),
            ..ScaleSeed::new(1, 2)
        })
        .unwrap_err();
    assert_eq!(again.kind(), ErrorKind::AlreadyExists, "{again}");
    assert!(again.to_string().contains("fresh state"), "{again}");
    assert_eq!(sim.inspect(), after_first);
}

#[test]
fn a_scale_seed_is_saved_with_the_state() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sim.db");
    let spec = ScaleSeed::new(2, 3);
    let seeded = {
        let sim = Simulator::open(&path).unwrap();
        sim.seed_scale(&spec).unwrap()
    };
    let reopened = Simulator::open(&path).unwrap();
    assert_eq!(reopened.scale_seed(), Some(spec.clone()));
    assert_consistent(&reopened, &seeded, &spec);
}
