//! Per-member chains (issue 17): after the group's storage step each member goes on as soon
//! as its own inputs are ready; the workload is reported running (`recovered_at`) before the
//! re-protection step ends.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio::sync::watch;

use crate::common::{mappings, setup, Env, MEMBERS};
use protector_core::api::{
    ArrayApi, BlockStorageApi, ComputeApi, Connector, CreateServer, CreateVolumeGroup, Flavor,
    Keypair, ListServers, ListVolumes, ManageVolume, Server, SiteClients, Volume, VolumeGroup,
    VolumeService, VolumeType,
};
use protector_core::engine::{EngineOptions, FailoverRequest, NoProgress, PollPolicy};
use protector_core::model::{ArrayEndpoint, OperationStatus, Site};
use protector_core::store::JournalKind;
use protector_core::{Protector, Result};

/// The member whose volume import is held back.
const SLOW: &str = "web-server-2";

/// What the clients saw, in order, and the gate that holds the slow member's manage until
/// every other member's server was created.
#[derive(Debug)]
struct Gate {
    events: Mutex<Vec<String>>,
    created: watch::Sender<BTreeSet<String>>,
}

impl Gate {
    fn note(&self, event: String) {
        self.events.lock().unwrap().push(event);
    }
}

#[derive(Debug)]
struct GatedConnector {
    inner: Arc<dyn Connector>,
    gate: Arc<Gate>,
}

#[async_trait]
impl Connector for GatedConnector {
    async fn site(&self, site: &Site) -> Result<SiteClients> {
        let clients = self.inner.site(site).await?;
        Ok(self.wrap(clients))
    }

    async fn site_for_project(&self, site: &Site, project_id: &str) -> Result<SiteClients> {
        let clients = self.inner.site_for_project(site, project_id).await?;
        Ok(self.wrap(clients))
    }

    async fn array(&self, endpoint: &ArrayEndpoint) -> Result<Arc<dyn ArrayApi>> {
        self.inner.array(endpoint).await
    }
}

impl GatedConnector {
    fn wrap(&self, clients: SiteClients) -> SiteClients {
        if clients.site != "site-b" {
            return clients;
        }
        SiteClients {
            compute: Arc::new(GatedCompute {
                inner: clients.compute.clone(),
                gate: self.gate.clone(),
            }),
            block_storage: Arc::new(GatedStorage {
                inner: clients.block_storage.clone(),
                gate: self.gate.clone(),
            }),
            ..clients
        }
    }
}

#[derive(Debug)]
struct GatedCompute {
    inner: Arc<dyn ComputeApi>,
    gate: Arc<Gate>,
}

#[async_trait]
impl ComputeApi for GatedCompute {
    async fn get_server(&self, id: &str) -> Result<Option<Server>> {
        self.inner.get_server(id).await
    }
    async fn list_servers(&self, filter: &ListServers) -> Result<Vec<Server>> {
        self.inner.list_servers(filter).await
    }
    async fn create_server(&self, request: &CreateServer) -> Result<Server> {
        let server = self.inner.create_server(request).await?;
        self.gate.note(format!("create_server {}", request.name));
        self.gate.created.send_modify(|c| {
            c.insert(request.name.clone());
        });
        Ok(server)
    }
    async fn stop_server(&self, id: &str) -> Result<()> {
        self.inner.stop_server(id).await
    }
    async fn start_server(&self, id: &str) -> Result<()> {
        self.inner.start_server(id).await
    }
    async fn delete_server(&self, id: &str) -> Result<()> {
        self.inner.delete_server(id).await
    }
    async fn find_flavor(&self, id_or_name: &str) -> Result<Option<Flavor>> {
        self.inner.find_flavor(id_or_name).await
    }
    async fn list_flavors(&self) -> Result<Vec<Flavor>> {
        self.inner.list_flavors().await
    }
    async fn get_keypair(&self, name: &str) -> Result<Option<Keypair>> {
        self.inner.get_keypair(name).await
    }
}

#[derive(Debug)]
struct GatedStorage {
    inner: Arc<dyn BlockStorageApi>,
    gate: Arc<Gate>,
}

#[async_trait]
impl BlockStorageApi for GatedStorage {
    async fn get_volume(&self, id: &str) -> Result<Option<Volume>> {
        self.inner.get_volume(id).await
    }
    async fn list_volumes(&self, filter: &ListVolumes) -> Result<Vec<Volume>> {
        self.inner.list_volumes(filter).await
    }
    async fn find_volume_type(&self, name_or_id: &str) -> Result<Option<VolumeType>> {
        self.inner.find_volume_type(name_or_id).await
    }
    async fn list_volume_types(&self) -> Result<Vec<VolumeType>> {
        self.inner.list_volume_types().await
    }
    async fn list_volume_services(&self) -> Result<Vec<VolumeService>> {
        self.inner.list_volume_services().await
    }
    async fn manage_volume(&self, request: &ManageVolume) -> Result<Volume> {
        if request.name.contains(SLOW) {
            // Held until every other member's server was created on the target.
            let others: BTreeSet<String> = MEMBERS
                .iter()
                .filter(|m| **m != SLOW)
                .map(|m| (*m).to_string())
                .collect();
            let mut created = self.gate.created.subscribe();
            created
                .wait_for(|c| others.is_subset(c))
                .await
                .expect("the gate lives as long as the test");
        }
        let volume = self.inner.manage_volume(request).await?;
        self.gate.note(format!("manage_volume {}", request.name));
        Ok(volume)
    }
    async fn unmanage_volume(&self, id: &str) -> Result<()> {
        self.inner.unmanage_volume(id).await
    }
    async fn delete_volume(&self, id: &str) -> Result<()> {
        self.inner.delete_volume(id).await
    }
    async fn create_volume_group(&self, request: &CreateVolumeGroup) -> Result<VolumeGroup> {
        self.inner.create_volume_group(request).await
    }
    async fn get_volume_group(&self, id: &str) -> Result<Option<VolumeGroup>> {
        self.inner.get_volume_group(id).await
    }
    async fn update_volume_group(&self, id: &str, add: &[String], remove: &[String]) -> Result<()> {
        self.inner.update_volume_group(id, add, remove).await
    }
    async fn delete_volume_group(&self, id: &str) -> Result<()> {
        self.inner.delete_volume_group(id).await
    }
}

/// An engine over `env`'s stores and simulator whose target clients hold the slow member's
/// volume import, and the gate that records what they saw.
fn gated_engine(env: &Env) -> (Protector, Arc<Gate>) {
    let gate = Arc::new(Gate {
        events: Mutex::new(Vec::new()),
        created: watch::channel(BTreeSet::new()).0,
    });
    let engine = Protector::builder()
        .with_local_site("site-a")
        .with_store("site-a", env.store_a.clone())
        .with_store("site-b", env.store_b.clone())
        .with_connector(Arc::new(GatedConnector {
            inner: Arc::new(env.sim.connector()),
            gate: gate.clone(),
        }))
        .with_options(EngineOptions {
            poll: PollPolicy::immediate(500),
            member_concurrency: 4,
            ..EngineOptions::default()
        })
        .build()
        .unwrap();
    (engine, gate)
}

#[tokio::test]
async fn a_member_whose_volumes_are_ready_boots_before_another_members_slow_import() {
    let env = setup().await;
    let (engine, gate) = gated_engine(&env);
    // Under phase barriers the held import would wait for boots that wait for it: the guard
    // turns that deadlock into a failure instead of a hung test.
    let op = tokio::time::timeout(
        std::time::Duration::from_secs(120),
        engine.failover(
            "prod-web-app",
            FailoverRequest::planned(mappings()),
            &NoProgress,
        ),
    )
    .await
    .expect("the failover must not wait for the slow member's import to boot the others")
    .unwrap();
    assert_eq!(op.status, OperationStatus::Completed, "{op:?}");
    let events = gate.events.lock().unwrap().clone();
    let position = |event: &str| {
        events
            .iter()
            .position(|e| e.starts_with(event))
            .unwrap_or_else(|| panic!("{event} not in {events:?}"))
    };
    let slow_import = position(&format!("manage_volume {SLOW}"));
    for member in MEMBERS.iter().filter(|m| **m != SLOW) {
        assert!(
            position(&format!("create_server {member}")) < slow_import,
            "{events:?}"
        );
    }
    assert!(
        position(&format!("create_server {SLOW}")) > slow_import,
        "{events:?}"
    );
    // Every member runs on the target, once.
    let inventory = env.sim.inspect();
    for member in MEMBERS {
        let running: Vec<_> = inventory.sites["site-b"]
            .servers
            .iter()
            .filter(|s| s.name == member && s.status == "ACTIVE")
            .collect();
        assert_eq!(running.len(), 1, "{member}: {running:?}");
    }
    // The steps are all there, each done once.
    for step in [
        "create_volumes_site_b",
        "manage_volumes_site_b",
        "create_ports_site_b",
        "create_instances_site_b",
        "verify_instances",
    ] {
        assert_eq!(
            op.steps_completed.iter().filter(|s| *s == step).count(),
            1,
            "{step}: {:?}",
            op.steps_completed
        );
    }
}

#[tokio::test]
async fn the_workload_is_recorded_running_before_reprotection_ends() {
    let env = setup().await;
    let op = crate::common::planned_failover(&env).await.unwrap();
    assert_eq!(op.status, OperationStatus::Completed, "{op:?}");
    let recovered_at = op
        .recovered_at
        .expect("a completed failover records recovered_at");
    assert!(recovered_at >= op.started_at && Some(recovered_at) <= op.completed_at);
    assert!(op.recovery_seconds().is_some());
    // `reprotect` is its own timed step, after the recovery, and it succeeded.
    let reprotect = op
        .step_times
        .iter()
        .find(|s| s.name == "reprotect")
        .expect("reprotect step");
    let finished = reprotect.finished_at.expect("reprotect finished");
    assert!(recovered_at <= reprotect.started_at && reprotect.started_at <= finished);
    assert!(!op.steps_failed.iter().any(|s| s == "reprotect"));
    // Journaled: `recovered` before re-protection's outcome.
    let journal = env.store_a.list_journal(&op.id).await.unwrap();
    let recovered = journal
        .iter()
        .position(|e| e.step == "recovered" && e.kind == JournalKind::Done)
        .expect("recovered journaled");
    let protected = journal
        .iter()
        .position(|e| e.step == "protect_on_target" && e.kind == JournalKind::Done)
        .expect("protect_on_target journaled");
    assert!(recovered < protected);
    // The stored record keeps `recovered_at`.
    let stored = env.store_a.get_operation(&op.id).await.unwrap().unwrap();
    assert_eq!(stored.recovered_at, Some(recovered_at));
}
