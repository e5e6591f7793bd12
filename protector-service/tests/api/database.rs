//! The site's database out of reach (503, then served again without a restart) and a handler
//! that panics (500), both with the error body and request id.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use protector_core::model::{
    Member, Operation, ProtectionGroup, ReplicationPolicy, Site, TenantMapping,
};
use protector_core::store::fixtures::group;
use protector_core::store::{
    GroupDocument, GroupMappings, JournalEntry, Lease, LeaseAttempt, LockAttempt, SecretKey,
    SqliteStore, Store, SyncLogEntry, SyncState, VersionCheck,
};
use protector_core::{Error, Result};
use reqwest::Method;
use uuid::Uuid;

use crate::keystone::{authenticator, keystone, GOOD, PROJECT};
use crate::support::{assert_error, call, ApiServer};

/// A store whose database can be taken away (every call `Unavailable`, as sqlx says when the
/// server is down) and brought back, or made to panic.
#[derive(Debug)]
struct Flaky {
    inner: SqliteStore,
    down: AtomicBool,
    panics: AtomicBool,
}

impl Flaky {
    fn check(&self) -> Result<()> {
        assert!(
            !self.panics.load(Ordering::SeqCst),
            "the store panics, as a bug would"
        );
        if self.down.load(Ordering::SeqCst) {
            return Err(Error::unavailable(
                "cannot reach the MariaDB server at db.site-a:3306 (connection refused)",
            ));
        }
        Ok(())
    }
}

macro_rules! checked {
    ($self:ident . $call:ident ( $($arg:expr),* )) => {{
        $self.check()?;
        $self.inner.$call($($arg),*).await
    }};
}

#[async_trait]
impl Store for Flaky {
    async fn put_site(&self, site: &Site) -> Result<()> {
        checked!(self.put_site(site))
    }
    async fn get_site(&self, name: &str) -> Result<Option<Site>> {
        checked!(self.get_site(name))
    }
    async fn list_sites(&self) -> Result<Vec<Site>> {
        checked!(self.list_sites())
    }
    async fn delete_site(&self, name: &str) -> Result<()> {
        checked!(self.delete_site(name))
    }
    async fn put_group(&self, group: &ProtectionGroup) -> Result<()> {
        checked!(self.put_group(group))
    }
    async fn get_group(&self, id: &Uuid) -> Result<Option<ProtectionGroup>> {
        checked!(self.get_group(id))
    }
    async fn list_groups(&self) -> Result<Vec<ProtectionGroup>> {
        checked!(self.list_groups())
    }
    async fn delete_group(&self, id: &Uuid) -> Result<()> {
        checked!(self.delete_group(id))
    }
    async fn put_member(&self, member: &Member) -> Result<()> {
        checked!(self.put_member(member))
    }
    async fn list_members(&self, group_id: &Uuid) -> Result<Vec<Member>> {
        checked!(self.list_members(group_id))
    }
    async fn delete_member(&self, id: &Uuid) -> Result<()> {
        checked!(self.delete_member(id))
    }
    async fn put_policy(&self, policy: &ReplicationPolicy) -> Result<()> {
        checked!(self.put_policy(policy))
    }
    async fn get_policy(&self, group_id: &Uuid) -> Result<Option<ReplicationPolicy>> {
        checked!(self.get_policy(group_id))
    }
    async fn put_mappings(&self, mappings: &GroupMappings) -> Result<()> {
        checked!(self.put_mappings(mappings))
    }
    async fn list_mappings(&self, group_id: &Uuid) -> Result<Vec<GroupMappings>> {
        checked!(self.list_mappings(group_id))
    }
    async fn apply_document(&self, document: &GroupDocument) -> Result<()> {
        checked!(self.apply_document(document))
    }
    async fn apply_document_if(&self, document: &GroupDocument, check: VersionCheck) -> Result<()> {
        checked!(self.apply_document_if(document, check))
    }
    async fn put_tenant_mapping(&self, mapping: &TenantMapping) -> Result<()> {
        checked!(self.put_tenant_mapping(mapping))
    }
    async fn list_tenant_mappings(&self) -> Result<Vec<TenantMapping>> {
        checked!(self.list_tenant_mappings())
    }
    async fn put_operation(&self, operation: &Operation) -> Result<()> {
        checked!(self.put_operation(operation))
    }
    async fn get_operation(&self, id: &Uuid) -> Result<Option<Operation>> {
        checked!(self.get_operation(id))
    }
    async fn list_operations(&self) -> Result<Vec<Operation>> {
        checked!(self.list_operations())
    }
    async fn append_journal(&self, entry: &JournalEntry) -> Result<u64> {
        checked!(self.append_journal(entry))
    }
    async fn list_journal(&self, operation_id: &Uuid) -> Result<Vec<JournalEntry>> {
        checked!(self.list_journal(operation_id))
    }
    async fn put_sync_state(&self, state: &SyncState) -> Result<()> {
        checked!(self.put_sync_state(state))
    }
    async fn get_sync_state(&self, group_id: &Uuid) -> Result<Option<SyncState>> {
        checked!(self.get_sync_state(group_id))
    }
    async fn append_sync_log(&self, entry: &SyncLogEntry) -> Result<()> {
        checked!(self.append_sync_log(entry))
    }
    async fn list_sync_log(&self, group_id: &Uuid, limit: usize) -> Result<Vec<SyncLogEntry>> {
        checked!(self.list_sync_log(group_id, limit))
    }
    async fn lock_operation(&self, id: &Uuid) -> Result<LockAttempt> {
        checked!(self.lock_operation(id))
    }
    async fn acquire_lease(&self, id: &Uuid, holder: &str, ttl: Duration) -> Result<LeaseAttempt> {
        checked!(self.acquire_lease(id, holder, ttl))
    }
    async fn renew_lease(&self, id: &Uuid, holder: &str, ttl: Duration) -> Result<bool> {
        checked!(self.renew_lease(id, holder, ttl))
    }
    async fn release_lease(&self, id: &Uuid, holder: &str) -> Result<()> {
        checked!(self.release_lease(id, holder))
    }
    async fn get_lease(&self, id: &Uuid) -> Result<Option<Lease>> {
        checked!(self.get_lease(id))
    }
}

async fn flaky_api() -> (wiremock::MockServer, Arc<Flaky>, ApiServer, ProtectionGroup) {
    let keystone = keystone().await;
    let store = Arc::new(Flaky {
        inner: SqliteStore::in_memory(SecretKey::generate()).unwrap(),
        down: AtomicBool::new(false),
        panics: AtomicBool::new(false),
    });
    let mut web = group(1, "web");
    web.project_id = PROJECT.to_string();
    web.project_name = PROJECT.to_string();
    store.put_group(&web).await.unwrap();
    let auth = authenticator(&format!("{}/identity/v3", keystone.uri()), "http://k");
    let api = ApiServer::start("site-a", store.clone(), auth).await;
    (keystone, store, api, web)
}

#[tokio::test]
async fn a_database_out_of_reach_is_503_and_the_service_serves_again_when_it_is_back() {
    let (_keystone, store, api, web) = flaky_api().await;
    let url = api.at(PROJECT, &format!("protection-groups/{}", web.id));

    store.down.store(true, Ordering::SeqCst);
    for url in [url.clone(), api.at(PROJECT, "protection-groups")] {
        let (status, headers, body) = call(Method::GET, &url, Some(GOOD), None).await;
        assert_error(status, &headers, &body, 503, "unavailable");
        assert_eq!(headers["retry-after"], "5");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with(
                "the database of site 'site-a' cannot be reached (cannot reach the MariaDB server"
            ),
            "{message}"
        );
        assert_eq!(body["error"]["site"], "site-a");
    }

    store.down.store(false, Ordering::SeqCst);
    let (status, _, body) = call(Method::GET, &url, Some(GOOD), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["protection_group"]["name"], "web");
}

#[tokio::test]
async fn a_panic_is_a_500_with_the_request_id_and_the_service_goes_on() {
    let (_keystone, store, api, web) = flaky_api().await;
    let url = api.at(PROJECT, &format!("protection-groups/{}", web.id));
    store.panics.store(true, Ordering::SeqCst);
    let (status, headers, body) = call(Method::GET, &url, Some(GOOD), None).await;
    assert_error(status, &headers, &body, 500, "unexpected");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("report it with the request id"),
        "{body}"
    );
    store.panics.store(false, Ordering::SeqCst);
    let (status, _, _) = call(Method::GET, &url, Some(GOOD), None).await;
    assert_eq!(status, 200);
}
