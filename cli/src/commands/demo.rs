//! `protector demo`: the whole planned-failover story against the embedded simulator, then proof
//! from the simulator itself that the VMs moved and no data was lost.
//!
//! Every step calls the same engine methods as the matching command and prints the command a
//! person would type, so the demo doubles as a tour of the CLI.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Utc;
use protector_core::api::CombinedConnector;
use protector_core::engine::{AddMember, CreateGroup, CreatePolicy, FailoverRequest, RegisterSite};
use protector_core::model::{
    ArrayEndpoint, GroupStatus, Member, ReplicationType, ResourceMappings, Secret, SiteStatus,
    SiteType,
};
use protector_mock::http::{ServeOptions, SimServer};
use protector_mock::Simulator;
use protector_openstack::{ClientOptions, ConfigLoader, OpenStackConnector};
use protector_pure::FlashArrayConnector;

use crate::args::{DemoArgs, Format, OutputOptions};
use crate::commands::group::operation_outcome;
use crate::context::open_engine;
use crate::error::{CliError, CliResult};
use crate::output::{render_table, Printer};
use crate::progress::ProgressDisplay;
use crate::transport::Transport;
use crate::views;

const GROUP: &str = "prod-web-app";
const PRIMARY: &str = "site-a";
const SECONDARY: &str = "site-b";
const VOLUME_TYPE: &str = "replicated-ssd";
const VMS: [&str; 3] = ["web-server-1", "web-server-2", "db-server-1"];
const NETWORK_MAPPINGS: [&str; 2] = [
    "net-primary-web=net-secondary-web",
    "net-primary-db=net-secondary-db",
];
const FLAVOR_MAPPINGS: [&str; 1] = ["m1.large=m2.large"];
const STEPS: usize = 13;

struct Demo {
    out: Printer,
    step: usize,
}

impl Demo {
    fn section(&mut self, title: &str, explain: &str) -> CliResult {
        self.step += 1;
        let header = format!("[{}/{STEPS}] {title}", self.step);
        self.out.text(&format!(
            "\n{}\n{header}\n{}\n{explain}\n\n",
            "=".repeat(header.chars().count().max(60)),
            "=".repeat(header.chars().count().max(60)),
        ))
    }

    fn command(&mut self, line: &str) -> CliResult {
        self.out.text(&format!("$ {line}\n"))
    }

    fn blank(&mut self) -> CliResult {
        self.out.text("\n")
    }
}

fn table_options() -> OutputOptions {
    OutputOptions {
        format: Format::Table,
        columns: Vec::new(),
    }
}

fn check(ok: bool, message: impl FnOnce() -> String) -> CliResult {
    if ok {
        Ok(())
    } else {
        Err(CliError::CheckFailed(format!(
            "demo check failed: {}",
            message()
        )))
    }
}

pub async fn run(args: DemoArgs) -> CliResult {
    // The temporary directory lives until the end of the demo; --keep leaves the state behind.
    let (root, _temporary) = match &args.keep {
        Some(dir) => {
            if dir.join("sim.db").exists() || dir.join("state").exists() {
                return Err(CliError::invalid(format!(
                    "{} already holds a demo: give --keep an empty or new directory",
                    dir.display()
                )));
            }
            (dir.clone(), None)
        }
        None => {
            let temporary = tempfile::Builder::new()
                .prefix("protector-demo-")
                .tempdir()
                .map_err(|e| {
                    CliError::config(format!("cannot create a temporary directory: {e}"))
                })?;
            (temporary.path().to_path_buf(), Some(temporary))
        }
    };
    let state_dir = root.join("state");
    let sim_path = root.join("sim.db");
    std::fs::create_dir_all(&state_dir)
        .map_err(|e| CliError::config(format!("cannot create {}: {e}", state_dir.display())))?;

    let mut demo = Demo {
        out: Printer::stdout(&table_options()),
        step: 0,
    };
    demo.out.text(
        "protector demo: a planned failover of three VMs from site-a to site-b, against an\n\
         embedded simulator of two OpenStack clouds with one Pure FlashArray each, served on\n\
         loopback over the real APIs (Keystone, Nova, Cinder, Neutron, FlashArray REST) and\n\
         reached only through protector's HTTP clients.\n",
    )?;

    // 1. The simulator and the stores.
    demo.section(
        "Start the simulated sites",
        "Two OpenStack clouds (Keystone, Nova, Cinder, Neutron) and two FlashArrays that replicate\n\
         to each other. site-a runs web-server-1, web-server-2 and db-server-1 on volume type\n\
         replicated-ssd. protector keeps its own metadata in one store per site.",
    )?;
    let simulator = Transport::simulator(&sim_path)?.simulator_handle()?;
    // Serve it over the real wire APIs on loopback; protector reaches it only through its HTTP
    // clients, with the credentials the server writes, exactly as it would reach real clouds.
    let server =
        SimServer::start((*simulator).clone(), ServeOptions::new(root.join("wire"))).await?;
    let loader = ConfigLoader::new([(
        "OS_CLIENT_CONFIG_FILE",
        server.clouds_yaml().display().to_string(),
    )]);
    let transport = Transport::Wire {
        simulator: Some(simulator.clone()),
        connector: Arc::new(CombinedConnector {
            sites: Arc::new(OpenStackConnector::new(loader, ClientOptions::default())),
            arrays: Arc::new(FlashArrayConnector::new()),
        }),
    };
    let simulator = SimulatorView {
        simulator,
        arrays: read_arrays_json(&server.arrays_json())?,
        auth_urls: [PRIMARY, SECONDARY]
            .iter()
            .filter_map(|site| server.auth_url(site).map(|url| (site.to_string(), url)))
            .collect(),
    };
    let engine = open_engine(&state_dir, PRIMARY, transport, &[PRIMARY, SECONDARY]).await?;
    let protector = &engine.protector;
    demo.out.text(&format!(
        "simulator state: {}\nstores:          {}\nsite-a:          {}\nsite-b:          {}\n",
        sim_path.display(),
        state_dir.display(),
        simulator.auth_urls.get(PRIMARY).map_or("", String::as_str),
        simulator
            .auth_urls
            .get(SECONDARY)
            .map_or("", String::as_str),
    ))?;
    if args.keep.is_some() {
        demo.out.text(&format!(
            "inspect later:   protector --state-dir {} --sim-state {} protection-group show {GROUP}\n",
            state_dir.display(),
            sim_path.display()
        ))?;
    }

    // 2. Register.
    demo.section(
        "Register both sites",
        "Sites are registered once, in the stores of both sites.",
    )?;
    for (site, site_type) in [
        (PRIMARY, SiteType::Primary),
        (SECONDARY, SiteType::Secondary),
    ] {
        let registration = simulator.registration(site)?;
        demo.command(&format!(
            "protector site create --name {} --site-type {} --auth-url {} --region-name {} --description '{}'",
            registration.name,
            site_type.as_str(),
            registration.auth_url,
            registration.region_name,
            registration.description
        ))?;
        protector
            .register_site(RegisterSite {
                name: registration.name,
                description: registration.description,
                site_type,
                auth_url: registration.auth_url,
                region_name: registration.region_name,
                cloud: None,
            })
            .await?;
    }
    engine.share_site_registrations().await?;
    demo.command("protector site list")?;
    demo.out.list(&views::sites(&protector.sites().await?))?;

    // 3. Validate.
    demo.section(
        "Validate both sites",
        "Keystone, Nova, Cinder and Neutron must answer, and Cinder must let us manage volumes.",
    )?;
    for site in [PRIMARY, SECONDARY] {
        demo.command(&format!("protector site validate {site}"))?;
        let validation = protector.validate_site(site).await?;
        demo.out.show(&views::site_validation(&validation))?;
        check(validation.status == SiteStatus::Active, || {
            format!("site {site} is {}", validation.status.as_str())
        })?;
    }

    // 4. Volume types.
    demo.section(
        "Replication-enabled volume types",
        "Only a volume type with replication_enabled='<is> True' can back a protection group.",
    )?;
    demo.command(&format!("protector site list-volume-types {PRIMARY}"))?;
    let types = protector.list_replication_volume_types(PRIMARY).await?;
    demo.out.list(&views::volume_types(&types))?;
    check(types.iter().any(|t| t.name == VOLUME_TYPE), || {
        format!("{VOLUME_TYPE} is not replication-enabled on {PRIMARY}")
    })?;

    // 5. Group.
    demo.section(
        "Create the protection group",
        "A group fails over as one unit; protector creates a Cinder consistency group on each site\n\
         and writes metadata version 1 on both.",
    )?;
    demo.command(&format!(
        "protector protection-group create --name {GROUP} --description 'Production web application' \
         --replication-type async --primary-site {PRIMARY} --secondary-site {SECONDARY} --volume-type {VOLUME_TYPE}"
    ))?;
    let group = protector
        .create_group(CreateGroup {
            name: GROUP.to_string(),
            description: "Production web application".to_string(),
            replication_type: ReplicationType::Async,
            primary_site: PRIMARY.to_string(),
            secondary_site: SECONDARY.to_string(),
            volume_type: VOLUME_TYPE.to_string(),
        })
        .await?;
    demo.out.show(&views::group(&group).select(&[
        "id",
        "name",
        "status",
        "replication_type",
        "primary_site",
        "secondary_site",
        "current_primary_site",
        "consistency_group_id",
        "failover_count",
        "created_at",
    ])?)?;

    // 6. Members.
    demo.section(
        "Add the VMs",
        "Each VM's flavor, networks, ports, security groups and volumes are captured now, so it can\n\
         be rebuilt on the other site; its volumes join the consistency group.",
    )?;
    for vm in VMS {
        let server = simulator.server(PRIMARY, vm)?;
        demo.command(&format!(
            "protector protection-group member-add {GROUP} --instance-id {}   # {vm}",
            server.id
        ))?;
        let member = protector
            .add_member(
                GROUP,
                AddMember {
                    instance_id: server.id.clone(),
                },
            )
            .await?;
        demo.out.text(&format!(
            "  {} protected: {} volume(s), member id {}\n",
            member.instance_name,
            member.recovery.volumes.len(),
            member.id
        ))?;
    }

    // 7. Policy.
    demo.section(
        "Attach the replication policy",
        "The FlashArray protection group replicates the members' volumes from site-a's array to\n\
         site-b's every 300 s; tokens are stored encrypted and never printed.",
    )?;
    let primary_array = simulator.array(PRIMARY)?;
    let secondary_array = simulator.array(SECONDARY)?;
    demo.command(&format!(
        "protector protection-group policy-create {GROUP} --primary-fa-url {} \
         --primary-fa-token-file site-a.token --secondary-fa-url {} \
         --secondary-fa-token-file site-b.token --pure-pg-name pg-{GROUP} \
         --replication-interval 300 --rpo-minutes 15",
        primary_array.url, secondary_array.url
    ))?;
    let policy = protector
        .create_policy(
            GROUP,
            CreatePolicy {
                primary_array,
                secondary_array,
                pure_pg_name: format!("pg-{GROUP}"),
                replication_interval_secs: 300,
                rpo_minutes: 15,
            },
        )
        .await?;
    let group = protector.group(GROUP).await?;
    demo.out.show(&views::policy(&group, &policy))?;

    // 8. Member list.
    demo.section(
        "The protected VMs",
        "Every member must be 'protected' before a failover.",
    )?;
    demo.command(&format!("protector protection-group member-list {GROUP}"))?;
    let members_before = protector.members(GROUP).await?;
    demo.out.list(&views::members(&members_before))?;
    check(members_before.len() == VMS.len(), || {
        format!("{} members instead of {}", members_before.len(), VMS.len())
    })?;

    // 9. Sync status.
    demo.section(
        "Metadata in sync on both sites",
        "Every change was pushed to site-b; a failover refuses to run otherwise.",
    )?;
    demo.command(&format!("protector protection-group sync-status {GROUP}"))?;
    let report = protector.sync_status(GROUP).await?;
    demo.out
        .text(&views::sync_status_text(&report, &Utc::now()))?;
    check(report.in_sync, || format!("{GROUP} is out of sync"))?;

    // 10. Failover.
    demo.section(
        "Planned failover to site-b",
        "Preparation (0-20%), storage (20-60%: stop the VMs on site-a, replicate a final snapshot,\n\
         import its volumes on site-b), instances (60-90%: ports and servers on site-b),\n\
         finalization (90-100%). Progress is shown on stderr.",
    )?;
    demo.command(&format!(
        "protector protection-group failover {GROUP} --network-mapping {} --flavor-mapping {} --wait",
        NETWORK_MAPPINGS.join(" "),
        FLAVOR_MAPPINGS.join(" ")
    ))?;
    let request = FailoverRequest::planned(ResourceMappings {
        networks: ResourceMappings::parse_pairs("network", NETWORK_MAPPINGS)?,
        flavors: ResourceMappings::parse_pairs("flavor", FLAVOR_MAPPINGS)?,
        security_groups: Default::default(),
        availability_zones: Default::default(),
    });
    let progress = ProgressDisplay::new(&format!("failover {GROUP}"));
    let result = protector.failover(GROUP, request, &progress).await;
    progress.finish();
    let op = result?;
    demo.out.text(&format!(
        "operation {} {} at {}%\n",
        op.id,
        op.status.as_str(),
        op.progress
    ))?;
    if let Err(e) = operation_outcome(&op) {
        demo.out.show(&views::operation(&op, "id"))?;
        return Err(e);
    }

    // 11. Group after.
    demo.section(
        "The protection group after the failover",
        "site-b is now the group's current primary; site-a is the standby for a later failback.",
    )?;
    demo.command(&format!(
        "protector --os-cloud {SECONDARY} protection-group show {GROUP}"
    ))?;
    let on_b = protector.on_site(SECONDARY)?;
    let group = on_b.group(GROUP).await?;
    demo.out
        .show(&views::group(&group).select(&views::GROUP_SHOW_SPEC_FIELDS)?)?;

    // 12. Operation.
    demo.section("The operation record", "Kept on both sites.")?;
    demo.command(&format!("protector operation show {}", op.id))?;
    let op = protector.operation(&op.id.to_string()).await?;
    demo.out
        .show(&views::operation(&op, "id").select(&views::OPERATION_SHOW_SPEC_FIELDS)?)?;

    // 13. Verify.
    demo.section(
        "Verify on the simulator",
        "Read back from the simulated clouds and arrays, not from protector's records: each VM must\n\
         be ACTIVE on site-b and SHUTOFF on site-a. Every volume carries a fingerprint, the number\n\
         of the last write it holds, and its lineage: what it was made from and the write it held\n\
         then. Each volume on site-b must have started from a copy of its site-a source holding\n\
         that source's last write (the VMs on site-b write on once they boot, so their volumes'\n\
         fingerprints now prove nothing).",
    )?;
    let mut members = on_b.members(GROUP).await?;
    members.sort_by_key(|m| VMS.iter().position(|vm| *vm == m.instance_name));
    let verification = verify(&simulator, &members);
    demo.out.text(&verification.table)?;
    demo.blank()?;

    let mut failures = verification.failures;
    if group.status != GroupStatus::FailedOver {
        failures.push(format!("group status is {}, not failed_over", group.status));
    }
    if group.current_primary_site != SECONDARY {
        failures.push(format!(
            "current primary site is {}, not {SECONDARY}",
            group.current_primary_site
        ));
    }
    if group.failover_count != 1 {
        failures.push(format!("failover_count is {}, not 1", group.failover_count));
    }
    if members.len() != VMS.len() {
        failures.push(format!(
            "{} members instead of {}",
            members.len(),
            VMS.len()
        ));
    }
    server.shutdown().await;
    if failures.is_empty() {
        demo.out.text(&format!(
            "PASS: {} VMs run on {SECONDARY} and are stopped on {PRIMARY}; {} volumes on {SECONDARY} \
             started from the last write of their {PRIMARY} sources: no data lost.\n",
            members.len(),
            verification.volumes
        ))?;
        Ok(())
    } else {
        demo.out
            .text(&format!("FAIL:\n  - {}\n", failures.join("\n  - ")))?;
        Err(CliError::CheckFailed(format!(
            "demo check failed: {}",
            failures.join("; ")
        )))
    }
}

struct Verification {
    table: String,
    failures: Vec<String>,
    volumes: usize,
}

/// Compares the simulator's view of both sites for every member: where each VM runs, and
/// whether each volume on site-b started from its site-a source's last write (its lineage).
fn verify(simulator: &SimulatorView, members: &[Member]) -> Verification {
    let inventory = simulator.simulator.inspect();
    let headings: Vec<String> = [
        "VM",
        "site-a",
        "site-b",
        "volume",
        "site-a last write",
        "site-b started from",
        "site-b now",
        "result",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    let mut volumes = 0;
    let shown = |v: Option<u64>| v.map_or_else(|| "missing".to_string(), |v| v.to_string());
    for member in members {
        let name = &member.instance_name;
        let on_a = simulator.server_status(PRIMARY, name);
        let on_b = simulator.server_status(SECONDARY, name);
        if on_a.as_deref() != Some("SHUTOFF") {
            failures.push(format!(
                "{name} is {} on {PRIMARY}, not SHUTOFF",
                on_a.as_deref().unwrap_or("missing")
            ));
        }
        if on_b.as_deref() != Some("ACTIVE") {
            failures.push(format!(
                "{name} is {} on {SECONDARY}, not ACTIVE",
                on_b.as_deref().unwrap_or("missing")
            ));
        }
        if member.current.site != SECONDARY {
            failures.push(format!("{name} is recorded on {}", member.current.site));
        }
        // (volume id, array volume) of each source volume on site-a.
        let sources: Vec<(String, String)> = match &member.standby {
            Some(standby) if standby.site == PRIMARY => standby
                .volume_ids
                .iter()
                .cloned()
                .zip(standby.array_volumes.iter().cloned())
                .collect(),
            _ => member
                .recovery
                .volumes
                .iter()
                .map(|v| (v.volume_id.clone(), v.array_volume.clone()))
                .collect(),
        };
        for (i, (source, array_volume)) in sources.iter().enumerate() {
            volumes += 1;
            let target = member.current.volume_ids.get(i);
            let last_write = simulator.fingerprint(PRIMARY, source);
            let started_from = target.and_then(|t| {
                inventory.sites[SECONDARY]
                    .volumes
                    .iter()
                    .find(|v| &v.id == t)
                    .and_then(|v| v.lineage.as_ref())
                    .map(|l| l.fingerprint)
            });
            let now = target.and_then(|t| simulator.fingerprint(SECONDARY, t));
            let checked = match target {
                Some(target) => inventory.check_started_from_last_write(
                    SECONDARY,
                    target,
                    PRIMARY,
                    array_volume,
                ),
                None => Err(format!("no volume on {SECONDARY}")),
            };
            let same = checked.is_ok();
            if let Err(why) = checked {
                failures.push(format!("volume {} of {name}: {why}", i + 1));
            }
            let first = i == 0;
            let once = |v: &Option<String>| {
                if first {
                    v.clone().unwrap_or_else(|| "missing".into())
                } else {
                    String::new()
                }
            };
            rows.push(vec![
                if first { name.clone() } else { String::new() },
                once(&on_a),
                once(&on_b),
                member
                    .recovery
                    .volumes
                    .get(i)
                    .map_or_else(|| format!("#{}", i + 1), |v| v.device.clone()),
                shown(last_write),
                shown(started_from),
                shown(now),
                if same { "no data lost" } else { "DATA LOST" }.to_string(),
            ]);
        }
    }
    Verification {
        table: render_table(&headings, &rows),
        failures,
        volumes,
    }
}

// ---------------------------------------------------------------------------------- simulator
// The few things the demo reads from the simulator, behind one small adapter.

/// The demo's view of the simulator.
struct SimulatorView {
    simulator: Arc<Simulator>,
    /// Array endpoints as the wire face published them (`arrays.json`).
    arrays: BTreeMap<String, ArrayEndpoint>,
    /// Keystone URLs of the wire face, by site.
    auth_urls: BTreeMap<String, String>,
}

/// Reads the `arrays.json` written by the simulator's wire face.
fn read_arrays_json(path: &std::path::Path) -> CliResult<BTreeMap<String, ArrayEndpoint>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::unexpected(format!("cannot read {}: {e}", path.display())))?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| CliError::unexpected(format!("{} is not JSON: {e}", path.display())))?;
    let mut arrays = BTreeMap::new();
    for (site, v) in json.as_object().into_iter().flatten() {
        let (Some(url), Some(token)) = (v["url"].as_str(), v["api_token"].as_str()) else {
            return Err(CliError::unexpected(format!(
                "{} lacks the url or api_token of {site}",
                path.display()
            )));
        };
        arrays.insert(
            site.clone(),
            ArrayEndpoint {
                url: url.to_string(),
                api_token: Secret::new(token),
                ca_file: v["ca_file"].as_str().map(str::to_string),
                allow_insecure_http: false,
            },
        );
    }
    Ok(arrays)
}

struct Registration {
    name: String,
    description: String,
    auth_url: String,
    region_name: String,
}

struct ServerRef {
    id: String,
}

impl SimulatorView {
    fn registration(&self, site: &str) -> CliResult<Registration> {
        let r = self
            .simulator
            .site_registration(site)
            .ok_or_else(|| CliError::unexpected(format!("the simulator has no site {site}")))?;
        let auth_url = self.auth_urls.get(site).cloned().ok_or_else(|| {
            CliError::unexpected(format!("the wire face serves no Keystone for {site}"))
        })?;
        Ok(Registration {
            name: r.name,
            description: r.description,
            auth_url,
            region_name: r.region_name,
        })
    }

    fn array(&self, site: &str) -> CliResult<ArrayEndpoint> {
        self.arrays.get(site).cloned().ok_or_else(|| {
            CliError::unexpected(format!("the wire face serves no FlashArray for {site}"))
        })
    }

    fn server(&self, site: &str, name: &str) -> CliResult<ServerRef> {
        let server = self.simulator.find_server(site, name).ok_or_else(|| {
            CliError::unexpected(format!("the simulator has no server {name} on {site}"))
        })?;
        Ok(ServerRef { id: server.id })
    }

    fn server_status(&self, site: &str, name: &str) -> Option<String> {
        self.simulator
            .find_server(site, name)
            .map(|s| s.status.as_str().to_string())
    }

    fn fingerprint(&self, site: &str, volume_id: &str) -> Option<u64> {
        self.simulator.volume_fingerprint(site, volume_id)
    }
}
