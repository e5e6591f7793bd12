//! The seeded inventory of one site, drawn in a fixed order from the id generator: Keystone
//! projects and users, Nova flavors and the `ops-key` keypair, Cinder volume types and the
//! backend service, Neutron networks, subnets and security groups; and the two FlashArrays
//! with the stretched pod that holds sync-replicated volumes. `seed_site` returns the ids the
//! seeded servers are placed with.

use std::collections::BTreeMap;

use super::{array_name, backend_host, SYNC_POD, TYPE_ASYNC, TYPE_STANDARD, TYPE_SYNC};
use crate::state::records::*;
use crate::state::World;

/// Public key of the `ops-key` keypair on both sites.
pub(crate) const OPS_PUBLIC_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPr0tect0rS1mu1at0rOpsK3yF0rDrT3st1ngOnly ops@protector-sim";
const OPS_FINGERPRINT: &str = "5e:1d:0f:9a:c3:27:44:8b:e1:7a:52:6c:0d:93:b8:f4";

/// The ids of one seeded site that `seed_servers` places the seeded servers with.
pub(super) struct SiteIds {
    pub(super) production: String,
    pub(super) tenant2: String,
    pub(super) admin: String,
    pub(super) tenant2_user: String,
    pub(super) flavor_small: String,
    pub(super) flavor_large: String,
    pub(super) networks: BTreeMap<&'static str, (String, String)>,
    /// (project id, sg name) → id
    pub(super) security_groups: BTreeMap<(String, &'static str), String>,
    pub(super) types: BTreeMap<&'static str, String>,
}

pub(super) fn seed_site(w: &mut World, site: &str) -> SiteIds {
    // Keystone
    let production = w.new_uuid();
    let tenant2 = w.new_uuid();
    for (id, name) in [(&production, "production-project"), (&tenant2, "tenant2")] {
        w.projects.insert(
            id.clone(),
            ProjectRec {
                id: id.clone(),
                site: site.to_string(),
                name: name.to_string(),
                domain_id: "default".to_string(),
            },
        );
    }
    let roles = |list: &[&str]| list.iter().map(|r| r.to_string()).collect::<Vec<_>>();
    let admin = w.new_uuid();
    let member_user = w.new_uuid();
    let tenant2_user = w.new_uuid();
    for (id, name, project, granted) in [
        (
            &admin,
            "admin",
            &production,
            roles(&["admin", "member", "reader", "dr_site_admin"]),
        ),
        (
            &member_user,
            "member-user",
            &production,
            roles(&["member", "reader"]),
        ),
        (
            &tenant2_user,
            "tenant2-user",
            &tenant2,
            roles(&["member", "reader"]),
        ),
    ] {
        let mut assignments = BTreeMap::new();
        assignments.insert(project.clone(), granted);
        w.users.insert(
            id.clone(),
            UserRec {
                id: id.clone(),
                site: site.to_string(),
                name: name.to_string(),
                roles: assignments,
                password: String::new(),
            },
        );
    }

    // Nova
    let prefix = if site == "site-a" { "m1" } else { "m2" };
    let flavor_small = w.new_uuid();
    let flavor_large = w.new_uuid();
    for (id, size, vcpus, ram_mb, disk_gb) in [
        (&flavor_small, "small", 1, 2048, 20),
        (&flavor_large, "large", 4, 8192, 80),
    ] {
        w.flavors.insert(
            id.clone(),
            FlavorRec {
                id: id.clone(),
                site: site.to_string(),
                name: format!("{prefix}.{size}"),
                vcpus,
                ram_mb,
                disk_gb,
            },
        );
    }
    w.keypairs.insert(
        format!("{site}/{admin}/ops-key"),
        KeypairRec {
            site: site.to_string(),
            user_id: admin.clone(),
            name: "ops-key".to_string(),
            public_key: OPS_PUBLIC_KEY.to_string(),
            fingerprint: OPS_FINGERPRINT.to_string(),
            key_type: "ssh".to_string(),
            created: None,
        },
    );

    // Cinder
    let mut types = BTreeMap::new();
    for (name, description, replication) in [
        (
            TYPE_ASYNC,
            "SSD on FlashArray, asynchronously replicated",
            Some("<in> async"),
        ),
        (
            TYPE_SYNC,
            "SSD on FlashArray, synchronously replicated (ActiveCluster)",
            Some("<in> sync"),
        ),
        (TYPE_STANDARD, "SSD on FlashArray, not replicated", None),
    ] {
        let id = w.new_uuid();
        let mut extra_specs = BTreeMap::new();
        extra_specs.insert("volume_backend_name".to_string(), "pure".to_string());
        if let Some(kind) = replication {
            extra_specs.insert("replication_enabled".to_string(), "<is> True".to_string());
            extra_specs.insert("replication_type".to_string(), kind.to_string());
        }
        w.volume_types.insert(
            id.clone(),
            VolumeTypeRec {
                id: id.clone(),
                site: site.to_string(),
                name: name.to_string(),
                description: description.to_string(),
                extra_specs,
            },
        );
        types.insert(name, id);
    }
    let host = backend_host(site);
    w.volume_services.insert(
        format!("{site}/{host}"),
        VolumeServiceRec {
            site: site.to_string(),
            host,
            binary: "cinder-volume".to_string(),
            zone: "nova".to_string(),
            state: "up".to_string(),
            status: "enabled".to_string(),
        },
    );

    // Neutron
    let nets: &[(&'static str, &str, bool)] = if site == "site-a" {
        &[
            ("net-primary-web", "10.10.1.0/24", true),
            ("net-primary-db", "10.10.2.0/24", true),
        ]
    } else {
        &[
            ("net-secondary-web", "10.20.1.0/24", true),
            ("net-secondary-db", "10.20.2.0/24", true),
            ("dr-test-net", "10.99.0.0/24", false),
        ]
    };
    let mut networks = BTreeMap::new();
    for (name, cidr, shared) in nets {
        let net_id = w.new_uuid();
        let subnet_id = w.new_uuid();
        let gateway_ip = format!("{}.1", cidr.rsplit_once('.').map(|(p, _)| p).unwrap_or(""));
        w.subnets.insert(
            subnet_id.clone(),
            SubnetRec {
                id: subnet_id.clone(),
                site: site.to_string(),
                name: format!("{}-subnet", name),
                network_id: net_id.clone(),
                project_id: production.clone(),
                cidr: cidr.to_string(),
                gateway_ip,
                allocation_pools: Vec::new(),
                enable_dhcp: true,
                dns_nameservers: Vec::new(),
                description: String::new(),
            },
        );
        w.networks.insert(
            net_id.clone(),
            NetworkRec {
                id: net_id.clone(),
                site: site.to_string(),
                name: name.to_string(),
                project_id: production.clone(),
                shared: *shared,
                subnet_ids: vec![subnet_id.clone()],
                admin_state_up: true,
                mtu: None,
                description: String::new(),
            },
        );
        networks.insert(*name, (net_id, subnet_id));
    }
    let mut security_groups = BTreeMap::new();
    for project in [&production, &tenant2] {
        for (name, description) in [
            ("default", "Default security group"),
            ("web", "HTTP and HTTPS from anywhere"),
            ("db", "Database traffic from the web tier"),
        ] {
            let id = w.new_uuid();
            w.security_groups.insert(
                id.clone(),
                SecurityGroupRec {
                    id: id.clone(),
                    site: site.to_string(),
                    project_id: project.clone(),
                    name: name.to_string(),
                    description: description.to_string(),
                },
            );
            security_groups.insert((project.clone(), name), id);
        }
    }

    SiteIds {
        production,
        tenant2,
        admin,
        tenant2_user,
        flavor_small,
        flavor_large,
        networks,
        security_groups,
        types,
    }
}

pub(super) fn seed_arrays(w: &mut World) {
    let now = w.now();
    for site in crate::state::SITES {
        let name = array_name(site);
        let id = w.new_uuid();
        let token = w.new_uuid();
        let peer = array_name(if site == "site-a" { "site-b" } else { "site-a" });
        w.arrays.insert(
            name.clone(),
            ArrayRec {
                url: format!("https://{name}.sim.invalid"),
                name: name.clone(),
                id,
                site: site.to_string(),
                api_token: token,
                version: "6.7.3".to_string(),
                connections: vec![peer],
            },
        );
    }
    w.pods.insert(
        SYNC_POD,
        PodRec {
            name: SYNC_POD.to_string(),
            members: crate::state::SITES
                .iter()
                .map(|site| PodMemberRec {
                    array: array_name(site),
                    status: "online".to_string(),
                    promotion: "promoted".to_string(),
                })
                .collect(),
            destroyed: false,
            created: now,
            destroyed_at: None,
        },
    );
}
