//! The default inventory: two sites, one FlashArray each, and a handful of running VMs on
//! site-a. Everything is created in a fixed order from the seeded id generator, so two fresh
//! simulators are identical.

use std::collections::BTreeMap;

use protector_core::{Error, ErrorKind, Result};
use serde::{Deserialize, Serialize};

use crate::state::records::*;
use crate::state::World;

/// Bytes in a GiB.
pub(crate) const GIB: u64 = 1 << 30;

/// Public key of the `ops-key` keypair on both sites.
pub(crate) const OPS_PUBLIC_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPr0tect0rS1mu1at0rOpsK3yF0rDrT3st1ngOnly ops@protector-sim";
const OPS_FINGERPRINT: &str = "5e:1d:0f:9a:c3:27:44:8b:e1:7a:52:6c:0d:93:b8:f4";

/// Cinder's replicated async type.
pub(crate) const TYPE_ASYNC: &str = "replicated-ssd";
/// Cinder's replicated sync type.
pub(crate) const TYPE_SYNC: &str = "replicated-sync";
/// Cinder's non-replicated type.
pub(crate) const TYPE_STANDARD: &str = "standard";
/// The stretched pod holding sync-replicated volumes (what the Pure driver calls it).
pub(crate) const SYNC_POD: &str = "cinder-pod";

/// The Cinder backend host of a site.
pub(crate) fn backend_host(site: &str) -> String {
    format!("{site}-controller@pure")
}

/// The host of a volume on that backend (`host@backend#pool`).
pub(crate) fn volume_host(site: &str) -> String {
    format!("{}#pure", backend_host(site))
}

/// The Purity host object of a site's compute nodes.
pub(crate) fn compute_host(site: &str) -> String {
    format!("{site}-compute")
}

/// The array of a site.
pub(crate) fn array_name(site: &str) -> String {
    match site.strip_prefix("site-") {
        Some(letter) => format!("flasharray-{letter}"),
        None => format!("flasharray-{site}"),
    }
}

/// Array volume name the Pure driver gives a Cinder volume.
pub(crate) fn cinder_array_name(volume_id: &str) -> String {
    format!("volume-{volume_id}-cinder")
}

/// A deterministic Nova-style MAC.
pub(crate) fn new_mac(world: &mut World) -> String {
    let r = world.next_random();
    format!(
        "fa:16:3e:{:02x}:{:02x}:{:02x}",
        (r >> 16) & 0xff,
        (r >> 8) & 0xff,
        r & 0xff
    )
}

/// A deterministic FlashArray volume serial.
pub(crate) fn new_serial(world: &mut World) -> String {
    let a = world.next_random();
    let b = world.next_random();
    format!("{:016X}{:08X}", a, b as u32)
}

struct SiteIds {
    production: String,
    tenant2: String,
    admin: String,
    tenant2_user: String,
    flavor_small: String,
    flavor_large: String,
    networks: BTreeMap<&'static str, (String, String)>,
    /// (project id, sg name) → id
    security_groups: BTreeMap<(String, &'static str), String>,
    types: BTreeMap<&'static str, String>,
}

/// Builds the default world from `seed`.
pub(crate) fn default_world(seed: u64) -> World {
    let mut w = World::empty(seed);
    let ids_a = seed_site(&mut w, "site-a");
    seed_site(&mut w, "site-b");
    seed_arrays(&mut w);
    seed_servers(&mut w, &ids_a);
    complete_wire_inventory(&mut w);
    w
}

/// Name of the application credential seeded for each site's admin.
pub(crate) const APP_CREDENTIAL_NAME: &str = "protector-dr";

/// What the wire face needs beyond the in-process inventory: user passwords, an application
/// credential per site, Cinder group types and security-group rules. Every id and secret is
/// derived from the seed (no draw from the id generator, so ids drawn later do not shift), and
/// only what is missing is added: a state saved before the wire face existed is completed the
/// same way.
pub(crate) fn complete_wire_inventory(w: &mut World) {
    for key in w.users.keys_where(|u| u.password.is_empty()) {
        let Some((site, name)) = w.users.get(&key).map(|u| (u.site.clone(), u.name.clone())) else {
            continue;
        };
        let password = format!(
            "{name}-{}",
            &hex::encode(w.derived_digest(&["password", &site, &name]))[..16]
        );
        if let Some(user) = w.users.get_mut(&key) {
            user.password = password;
        }
    }
    for site in crate::state::SITES {
        seed_application_credential(w, site);
        seed_group_types(w, site);
    }
    seed_security_group_rules(w);
}

/// The secret of the application credential seeded for `site` (derived from the seed).
pub(crate) fn app_credential_secret(w: &World, site: &str) -> String {
    hex::encode(w.derived_digest(&["application-credential-secret", site]))[..32].to_string()
}

fn seed_application_credential(w: &mut World, site: &str) {
    let id = w
        .derived_uuid(&["application-credential", site])
        .replace('-', "");
    if w.application_credentials.contains_key(&id) {
        return;
    }
    let Some(admin) = w
        .users
        .find(|u| u.site == site && u.name == "admin")
        .cloned()
    else {
        return;
    };
    let Some(project) = w
        .projects
        .find(|p| p.site == site && p.name == "production-project")
        .cloned()
    else {
        return;
    };
    let secret = app_credential_secret(w, site);
    let roles = admin.roles.get(&project.id).cloned().unwrap_or_default();
    w.application_credentials.insert(
        id.clone(),
        ApplicationCredentialRec {
            id,
            site: site.to_string(),
            user_id: admin.id,
            project_id: project.id,
            name: APP_CREDENTIAL_NAME.to_string(),
            description: "protector's disaster-recovery orchestrator".to_string(),
            secret_hash: crate::cloud::identity::secret_hash(&secret),
            roles,
            unrestricted: false,
            expires_at: None,
        },
    );
}

/// Cinder's own `default_group_type` and a consistency-group type the Pure driver snapshots
/// and replicates as one protection group.
fn seed_group_types(w: &mut World, site: &str) {
    for (name, description, specs) in [
        ("default_group_type", "Default group type", &[][..]),
        (
            "consistent-replication",
            "Consistency group: one Purity protection group, snapshotted and replicated together",
            &[
                ("consistent_group_snapshot_enabled", "<is> True"),
                ("consistent_group_replication_enabled", "<is> True"),
            ][..],
        ),
    ] {
        let id = w.derived_uuid(&["group-type", site, name]);
        if w.group_types.contains_key(&id) {
            continue;
        }
        w.group_types.insert(
            id.clone(),
            GroupTypeRec {
                id,
                site: site.to_string(),
                name: name.to_string(),
                description: description.to_string(),
                group_specs: specs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            },
        );
    }
}

/// One seeded security-group rule.
struct Rule {
    direction: &'static str,
    ethertype: &'static str,
    protocol: Option<&'static str>,
    port: Option<u32>,
    prefix: Option<&'static str>,
    remote_group: Option<String>,
}

impl Rule {
    fn egress(ethertype: &'static str) -> Rule {
        Rule {
            direction: "egress",
            ethertype,
            protocol: None,
            port: None,
            prefix: None,
            remote_group: None,
        }
    }

    fn from_anywhere(port: u32) -> Rule {
        Rule {
            direction: "ingress",
            ethertype: "IPv4",
            protocol: Some("tcp"),
            port: Some(port),
            prefix: Some("0.0.0.0/0"),
            remote_group: None,
        }
    }

    fn from_group(ethertype: &'static str, tcp_port: Option<u32>, group: &str) -> Rule {
        Rule {
            direction: "ingress",
            ethertype,
            protocol: tcp_port.map(|_| "tcp"),
            port: tcp_port,
            prefix: None,
            remote_group: Some(group.to_string()),
        }
    }
}

/// Neutron's rules: every group lets everything out (IPv4 and IPv6); `default` lets its own
/// members in, `web` HTTP and HTTPS from anywhere, `db` PostgreSQL from the project's `web`.
fn seed_security_group_rules(w: &mut World) {
    let groups: Vec<SecurityGroupRec> = w.security_groups.values().cloned().collect();
    for group in groups {
        let web = w
            .security_groups
            .find(|g| g.site == group.site && g.project_id == group.project_id && g.name == "web")
            .map(|g| g.id.clone());
        let mut rules = vec![Rule::egress("IPv4"), Rule::egress("IPv6")];
        match group.name.as_str() {
            "default" => {
                rules.push(Rule::from_group("IPv4", None, &group.id));
                rules.push(Rule::from_group("IPv6", None, &group.id));
            }
            "web" => {
                rules.push(Rule::from_anywhere(80));
                rules.push(Rule::from_anywhere(443));
            }
            "db" => {
                if let Some(web) = &web {
                    rules.push(Rule::from_group("IPv4", Some(5432), web));
                }
            }
            _ => continue,
        }
        for (index, rule) in rules.into_iter().enumerate() {
            let Rule {
                direction,
                ethertype,
                protocol,
                port,
                prefix,
                remote_group,
            } = rule;
            let id = w.derived_uuid(&["security-group-rule", &group.id, &index.to_string()]);
            if w.security_group_rules.contains_key(&id) {
                continue;
            }
            w.security_group_rules.insert(
                id.clone(),
                SecurityGroupRuleRec {
                    id,
                    site: group.site.clone(),
                    security_group_id: group.id.clone(),
                    project_id: group.project_id.clone(),
                    direction: direction.to_string(),
                    ethertype: ethertype.to_string(),
                    protocol: protocol.map(str::to_string),
                    port_range_min: port,
                    port_range_max: port,
                    remote_ip_prefix: prefix.map(str::to_string),
                    remote_group_id: remote_group,
                    description: String::new(),
                },
            );
        }
    }
}

fn seed_site(w: &mut World, site: &str) -> SiteIds {
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

fn seed_arrays(w: &mut World) {
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

struct SeedServer {
    name: &'static str,
    tenant2: bool,
    large: bool,
    nics: &'static [(&'static str, &'static str)],
    security_groups: &'static [&'static str],
    key: bool,
    volumes: &'static [(&'static str, u64, &'static str)],
}

const SEED_SERVERS: &[SeedServer] = &[
    SeedServer {
        name: "web-server-1",
        tenant2: false,
        large: true,
        nics: &[("net-primary-web", "10.10.1.11")],
        security_groups: &["web", "default"],
        key: true,
        volumes: &[("root", 20, TYPE_ASYNC)],
    },
    SeedServer {
        name: "web-server-2",
        tenant2: false,
        large: true,
        nics: &[("net-primary-web", "10.10.1.12")],
        security_groups: &["web", "default"],
        key: true,
        volumes: &[("root", 20, TYPE_ASYNC)],
    },
    SeedServer {
        name: "db-server-1",
        tenant2: false,
        large: true,
        nics: &[
            ("net-primary-db", "10.10.2.21"),
            ("net-primary-web", "10.10.1.21"),
        ],
        security_groups: &["db"],
        key: true,
        volumes: &[("root", 40, TYPE_ASYNC), ("data", 100, TYPE_ASYNC)],
    },
    SeedServer {
        name: "legacy-app",
        tenant2: false,
        large: false,
        nics: &[("net-primary-web", "10.10.1.31")],
        security_groups: &["default"],
        key: true,
        volumes: &[("root", 20, TYPE_STANDARD)],
    },
    SeedServer {
        name: "ledger-db",
        tenant2: false,
        large: false,
        nics: &[("net-primary-db", "10.10.2.41")],
        security_groups: &["db"],
        key: true,
        volumes: &[("root", 20, TYPE_SYNC), ("data", 50, TYPE_SYNC)],
    },
    SeedServer {
        name: "t2-app",
        tenant2: true,
        large: false,
        nics: &[("net-primary-web", "10.10.1.51")],
        security_groups: &["default"],
        key: false,
        volumes: &[("root", 20, TYPE_ASYNC)],
    },
];

fn seed_servers(w: &mut World, ids: &SiteIds) {
    let site = "site-a";
    for spec in SEED_SERVERS {
        let (project, user) = if spec.tenant2 {
            (&ids.tenant2, &ids.tenant2_user)
        } else {
            (&ids.production, &ids.admin)
        };
        let (flavor_id, flavor_name) = if spec.large {
            (&ids.flavor_large, "m1.large")
        } else {
            (&ids.flavor_small, "m1.small")
        };
        let placement = ServerPlacement {
            site,
            name: spec.name,
            project_id: project,
            user_id: user,
            flavor_id,
            flavor_name,
            key_name: spec.key.then_some("ops-key"),
            nics: spec
                .nics
                .iter()
                .map(|(network, ip)| {
                    let (net_id, subnet_id) = ids.networks[network].clone();
                    (net_id, subnet_id, ip.to_string())
                })
                .collect(),
            security_group_ids: spec
                .security_groups
                .iter()
                .map(|name| ids.security_groups[&(project.clone(), *name)].clone())
                .collect(),
            volumes: spec
                .volumes
                .iter()
                .map(|(role, size_gb, volume_type)| {
                    (
                        role.to_string(),
                        *size_gb,
                        volume_type.to_string(),
                        ids.types[volume_type].clone(),
                    )
                })
                .collect(),
        };
        insert_server(w, &placement);
    }
}

/// A server to create, every name resolved.
struct ServerPlacement<'a> {
    site: &'a str,
    name: &'a str,
    project_id: &'a str,
    user_id: &'a str,
    flavor_id: &'a str,
    flavor_name: &'a str,
    key_name: Option<&'a str>,
    /// (network id, subnet id, address), in NIC order.
    nics: Vec<(String, String, String)>,
    security_group_ids: Vec<String>,
    /// (role, size in GiB, volume type name, volume type id), root first.
    volumes: Vec<(String, u64, String, String)>,
}

/// Inserts a running server with its ports, its volumes (attached, each holding one write) and
/// their array volumes on the site's array (and on both arrays, in the pod, for sync ones).
/// Returns its id.
fn insert_server(w: &mut World, spec: &ServerPlacement<'_>) -> String {
    let site = spec.site;
    let array = array_name(site);
    let now = w.now();
    let server_id = w.new_uuid();

    let mut port_ids = Vec::new();
    for (index, (net_id, subnet_id, ip)) in spec.nics.iter().enumerate() {
        let port_id = w.new_uuid();
        let mac = new_mac(w);
        let seq = w.next_seq();
        w.ports.insert(
            port_id.clone(),
            PortRec {
                id: port_id.clone(),
                site: site.to_string(),
                seq,
                name: format!("{}-eth{index}", spec.name),
                network_id: net_id.clone(),
                project_id: spec.project_id.to_string(),
                device_id: server_id.clone(),
                device_owner: "compute:nova".to_string(),
                mac_address: mac,
                fixed_ips: vec![(subnet_id.clone(), ip.clone())],
                security_group_ids: spec.security_group_ids.clone(),
                description: String::new(),
                status: "ACTIVE".to_string(),
            },
        );
        port_ids.push(port_id);
    }

    let mut server_volumes = Vec::new();
    for (index, (role, size_gb, volume_type, volume_type_id)) in spec.volumes.iter().enumerate() {
        let volume_id = w.new_uuid();
        let device = format!("/dev/vd{}", (b'a' + index as u8) as char);
        let base = cinder_array_name(&volume_id);
        let sync = volume_type == TYPE_SYNC;
        let array_volume = if sync {
            format!("{SYNC_POD}::{base}")
        } else {
            base
        };
        let fingerprint = w.next_write();
        let serial = new_serial(w);
        let arrays: Vec<String> = if sync {
            crate::state::SITES.iter().map(|s| array_name(s)).collect()
        } else {
            vec![array.clone()]
        };
        for on in arrays {
            let hosts = if on == array {
                vec![compute_host(site)]
            } else {
                Vec::new()
            };
            let mut volume = ArrayVolumeRec {
                array: on,
                name: array_volume.clone(),
                provisioned_bytes: size_gb * GIB,
                serial: serial.clone(),
                destroyed: false,
                destroyed_at: None,
                pod: sync.then(|| SYNC_POD.to_string()),
                created: now,
                fingerprint,
                hosts,
                source: None,
                written_blocks: Default::default(),
            };
            crate::array::diff::record_write(&mut volume, fingerprint);
            w.array_volumes
                .insert(array_key(&volume.array, &array_volume), volume);
        }
        let mut metadata = BTreeMap::new();
        metadata.insert("array_name".to_string(), array.clone());
        metadata.insert("array_volume_name".to_string(), array_volume.clone());
        let seq = w.next_seq();
        w.volumes.insert(
            volume_id.clone(),
            VolumeRec {
                id: volume_id.clone(),
                site: site.to_string(),
                seq,
                name: format!("{}-{role}", spec.name),
                description: String::new(),
                status: "in-use".to_string(),
                size_gb: *size_gb,
                volume_type_id: volume_type_id.clone(),
                volume_type: volume_type.clone(),
                bootable: index == 0,
                host: Some(volume_host(site)),
                project_id: spec.project_id.to_string(),
                availability_zone: "nova".to_string(),
                attachments: vec![AttachmentRec {
                    server_id: server_id.clone(),
                    device: device.clone(),
                }],
                group_id: None,
                array_volume: Some(array_volume),
                metadata,
                task: None,
                created: now,
                user_id: spec.user_id.to_string(),
                updated: None,
            },
        );
        server_volumes.push(ServerVolume {
            volume_id,
            device,
            boot_index: if index == 0 { 0 } else { -1 },
            delete_on_termination: false,
        });
    }

    let seq = w.next_seq();
    w.servers.insert(
        server_id.clone(),
        ServerRec {
            id: server_id.clone(),
            site: site.to_string(),
            seq,
            name: spec.name.to_string(),
            project_id: spec.project_id.to_string(),
            user_id: spec.user_id.to_string(),
            flavor_id: spec.flavor_id.to_string(),
            flavor_name: spec.flavor_name.to_string(),
            key_name: spec.key_name.map(str::to_string),
            availability_zone: "nova".to_string(),
            status: "ACTIVE".to_string(),
            task: None,
            volumes: server_volumes,
            port_ids,
            metadata: BTreeMap::new(),
            fault: None,
            created: now,
            created_port_ids: Vec::new(),
            description: None,
            updated: None,
        },
    );
    server_id
}

// ------------------------------------------------------------------ beyond the seed

/// A running VM to add to a simulated site beyond the seeded inventory (tests, demos), made the
/// way the seeded ones are: ports with fixed addresses, volumes attached and holding one write,
/// their array volumes on the site's FlashArray (in the stretched pod for sync types).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewServer {
    /// Site (`site-a`, `site-b`).
    pub site: String,
    /// Server name.
    pub name: String,
    /// Owning project, by name.
    pub project: String,
    /// Owning user, by name (the owner of `key_name`).
    pub user: String,
    /// Flavor name.
    pub flavor: String,
    /// A keypair of `user`, if any.
    pub key_name: Option<String>,
    /// NICs in order: network name (shared or the project's) and fixed IPv4 address.
    pub nics: Vec<(String, String)>,
    /// Security groups of the project, by name, on every port.
    pub security_groups: Vec<String>,
    /// Volumes, root first: role (the volume is named `<server>-<role>`), size in GiB and
    /// volume type name.
    pub volumes: Vec<(String, u64, String)>,
}

/// Adds project `name` on every site, with the security groups every seeded project has
/// (`default`, `web`, `db`, and their rules). Returns the project id of each site.
pub(crate) fn add_project(w: &mut World, name: &str) -> Result<BTreeMap<String, String>> {
    if crate::state::SITES.iter().any(|site| {
        w.projects
            .find(|p| p.site == *site && p.name == name)
            .is_some()
    }) {
        return Err(Error::new(
            ErrorKind::AlreadyExists,
            format!("project '{name}' already exists"),
        ));
    }
    let mut ids = BTreeMap::new();
    for site in crate::state::SITES {
        let id = w.new_uuid();
        w.projects.insert(
            id.clone(),
            ProjectRec {
                id: id.clone(),
                site: site.to_string(),
                name: name.to_string(),
                domain_id: "default".to_string(),
            },
        );
        for (group, description) in [
            ("default", "Default security group"),
            ("web", "HTTP and HTTPS from anywhere"),
            ("db", "Database traffic from the web tier"),
        ] {
            let group_id = w.new_uuid();
            w.security_groups.insert(
                group_id.clone(),
                SecurityGroupRec {
                    id: group_id,
                    site: site.to_string(),
                    project_id: id.clone(),
                    name: group.to_string(),
                    description: description.to_string(),
                },
            );
        }
        ids.insert(site.to_string(), id);
    }
    seed_security_group_rules(w);
    Ok(ids)
}

/// Gives user `user` of `site` the roles `roles` on project `project` (both by name), on top of
/// those it has.
pub(crate) fn grant_roles(
    w: &mut World,
    site: &str,
    user: &str,
    project: &str,
    roles: &[&str],
) -> Result<()> {
    let project_id = w
        .projects
        .find(|p| p.site == site && p.name == project)
        .map(|p| p.id.clone())
        .ok_or_else(|| Error::not_found(format!("project '{project}' not found on {site}")))?;
    let key = w
        .users
        .keys_where(|u| u.site == site && u.name == user)
        .into_iter()
        .next()
        .ok_or_else(|| Error::not_found(format!("user '{user}' not found on {site}")))?;
    let record = w.users.get_mut(&key).expect("found by key");
    let granted = record.roles.entry(project_id).or_default();
    for role in roles {
        if !granted.iter().any(|r| r == role) {
            granted.push(role.to_string());
        }
    }
    Ok(())
}

/// Checks `spec` against the site's inventory and inserts the server. Returns its id.
pub(crate) fn add_server(w: &mut World, spec: &NewServer) -> Result<String> {
    let site = spec.site.as_str();
    if !crate::state::SITES.contains(&site) {
        return Err(Error::invalid(format!("unknown simulated site '{site}'")));
    }
    let missing =
        |what: &str, name: &str| Error::not_found(format!("{what} '{name}' not found on {site}"));
    let project_id = w
        .projects
        .find(|p| p.site == site && p.name == spec.project)
        .map(|p| p.id.clone())
        .ok_or_else(|| missing("project", &spec.project))?;
    let user_id = w
        .users
        .find(|u| u.site == site && u.name == spec.user)
        .map(|u| u.id.clone())
        .ok_or_else(|| missing("user", &spec.user))?;
    let flavor_id = w
        .flavors
        .find(|f| f.site == site && f.name == spec.flavor)
        .map(|f| f.id.clone())
        .ok_or_else(|| missing("flavor", &spec.flavor))?;
    if let Some(key) = &spec.key_name {
        if !w.keypairs.contains_key(&format!("{site}/{user_id}/{key}")) {
            return Err(missing("keypair of the user", key));
        }
    }
    let mut nics = Vec::new();
    for (network, ip) in &spec.nics {
        let net_id = w
            .networks
            .find(|n| {
                n.site == site && n.name == *network && (n.shared || n.project_id == project_id)
            })
            .map(|n| n.id.clone())
            .ok_or_else(|| missing("network", network))?;
        let subnet_id =
            crate::cloud::network::subnet_for_address(w, &net_id, ip).ok_or_else(|| {
                Error::invalid(format!(
                    "{ip} is in no subnet of network '{network}' on {site}"
                ))
            })?;
        let taken = w.ports.values().any(|p| {
            p.fixed_ips
                .iter()
                .any(|(subnet, address)| *subnet == subnet_id && address == ip)
        }) || nics
            .iter()
            .any(|(_, s, a): &(String, String, String)| *s == subnet_id && a == ip);
        if taken {
            return Err(Error::conflict(format!(
                "{ip} is already in use on network '{network}' of {site}"
            )));
        }
        nics.push((net_id, subnet_id, ip.clone()));
    }
    let mut security_group_ids = Vec::new();
    for name in &spec.security_groups {
        let id = w
            .security_groups
            .find(|g| g.site == site && g.project_id == project_id && g.name == *name)
            .map(|g| g.id.clone())
            .ok_or_else(|| missing("security group of the project", name))?;
        security_group_ids.push(id);
    }
    if spec.volumes.is_empty() {
        return Err(Error::invalid(format!(
            "server {} needs a root volume",
            spec.name
        )));
    }
    let mut volumes = Vec::new();
    for (role, size_gb, type_name) in &spec.volumes {
        let type_id = w
            .volume_types
            .find(|t| t.site == site && t.name == *type_name)
            .map(|t| t.id.clone())
            .ok_or_else(|| missing("volume type", type_name))?;
        volumes.push((role.clone(), *size_gb, type_name.clone(), type_id));
    }
    let placement = ServerPlacement {
        site,
        name: &spec.name,
        project_id: &project_id,
        user_id: &user_id,
        flavor_id: &flavor_id,
        flavor_name: &spec.flavor,
        key_name: spec.key_name.as_deref(),
        nics,
        security_group_ids,
        volumes,
    };
    Ok(insert_server(w, &placement))
}
