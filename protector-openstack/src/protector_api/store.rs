//! [`RemoteStore`]: one site's store over that site's protector-api.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use protector_core::model::{
    Member, Operation, ProtectionGroup, ReplicationPolicy, Site, TenantMapping,
};
use protector_core::store::remote::{
    keys, Appended, DocumentWrite, LeaseRequest, OperationsQuery, Renewed, Resource,
};
use protector_core::store::{
    GroupDocument, GroupMappings, JournalEntry, Lease, LeaseAttempt, LockAttempt, OperationLock,
    OperationQuery, Store, SyncLogEntry, SyncState, VersionCheck,
};
use protector_core::{Error, ErrorKind, Result};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::lease::{LeaseGuard, LOCK_TTL};
use crate::catalog::ServiceType;
use crate::cloud::OpenStackCloud;
use crate::error::recast;
use crate::service::{take, ServiceClient};
use crate::transport::Request;

/// The [`Store`] of one site, kept by that site's protector-api (spec/004's deployment): a
/// front-end runs protector-core as in embedded mode, with this store in place of a local
/// SQLite file.
///
/// Every call is one request with the token of the front-end's session of that site (renewed
/// as that session renews it; never in URLs, `Debug` or errors). The endpoint is the Keystone
/// catalog's `protector` service (`/v1/%(tenant_id)s`), clouds.yaml's
/// `protector_endpoint_override`, or one given to [`RemoteStore::with_endpoint`].
///
/// Errors are the server's: the same [`ErrorKind`] and message the site's store gave, with the
/// server's request id. A protector-api that cannot be reached is `Unavailable`, naming its URL.
/// [`Store::lock_operation`] is a lease of the operation (`operations/{id}/lease`), renewed in
/// the background every third of its time to live and released when the lock is dropped; a
/// process that dies without releasing it leaves it to lapse.
#[derive(Clone)]
pub struct RemoteStore {
    inner: Arc<Inner>,
}

pub(super) struct Inner {
    site: String,
    client: ServiceClient,
    /// Releases of dropped locks still under way (a single-threaded runtime cannot wait for
    /// them in `Drop`): a later lock of the same operation waits for its release first.
    releasing: std::sync::Mutex<std::collections::HashMap<Uuid, tokio::task::JoinHandle<()>>>,
}

impl fmt::Debug for RemoteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteStore")
            .field("site", &self.inner.site)
            .field("endpoint", &self.inner.endpoint())
            .finish_non_exhaustive()
    }
}

impl RemoteStore {
    /// The store of site `site` behind the protector-api of `cloud`'s catalog (or its
    /// `protector_endpoint_override`). Does not contact the cloud.
    pub fn new(cloud: &OpenStackCloud, site: impl Into<String>) -> RemoteStore {
        Self::from_client(
            site,
            ServiceClient::new(Arc::clone(cloud.session()), ServiceType::Protector),
        )
    }

    /// The store of site `site` behind the protector-api at `url`: its root
    /// (`http://controller:8788`) or its catalog form (`…/v1/%(tenant_id)s`), with `cloud`'s
    /// token. Does not contact the cloud.
    pub fn with_endpoint(
        cloud: &OpenStackCloud,
        site: impl Into<String>,
        url: impl Into<String>,
    ) -> RemoteStore {
        Self::from_client(
            site,
            ServiceClient::with_endpoint(Arc::clone(cloud.session()), ServiceType::Protector, url),
        )
    }

    fn from_client(site: impl Into<String>, client: ServiceClient) -> RemoteStore {
        RemoteStore {
            inner: Arc::new(Inner {
                site: site.into(),
                client,
                releasing: std::sync::Mutex::new(std::collections::HashMap::new()),
            }),
        }
    }

    /// The site whose store it is.
    pub fn site(&self) -> &str {
        &self.inner.site
    }

    /// The root URL of the protector-api this store talks to (`http://controller:8788`), or
    /// `None` when the cloud has none: its catalog lists no service type `protector` and its
    /// configuration overrides none. Contacts Keystone (a token) the first time.
    pub async fn discover(&self) -> Result<Option<String>> {
        match self.inner.client.base().await {
            Ok(base) => {
                // Everything before `/v1/<project>`: a prefix of a proxied API is kept.
                let mut root = base.clone();
                let prefix: Vec<&str> = base
                    .path_segments()
                    .map(|segments| segments.take_while(|s| *s != "v1").collect())
                    .unwrap_or_default();
                root.set_path(&prefix.join("/"));
                root.set_query(None);
                Ok(Some(root.as_str().trim_end_matches('/').to_string()))
            }
            Err(e) if e.kind() == protector_core::ErrorKind::Unsupported => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl Inner {
    /// Records the release of a dropped lock of `id`, running in the background.
    pub(super) fn releasing(&self, id: Uuid, release: tokio::task::JoinHandle<()>) {
        self.releasing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id, release);
    }

    /// Waits for the release of a dropped lock of `id`, if one is under way.
    async fn released(&self, id: &Uuid) {
        let pending = self
            .releasing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(id);
        if let Some(release) = pending {
            // Its failure was logged; the lease lapses by itself then.
            let _ = release.await;
        }
    }

    /// The endpoint, without credentials, once known.
    fn endpoint(&self) -> String {
        match self.client.resolved_base() {
            Some(base) => {
                let mut url = base.clone();
                let _ = url.set_username("");
                let _ = url.set_password(None);
                url.to_string()
            }
            None => "its catalog endpoint".to_string(),
        }
    }

    async fn request(
        &self,
        method: Method,
        resource: &Resource,
        what: impl fmt::Display,
    ) -> Result<Request> {
        let segments = resource.segments();
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        let operation = format!("{what} in the store of site '{}'", self.site);
        self.client
            .request(method, &segments, operation, None)
            .await
            .map_err(|e| self.unreachable(e))
    }

    async fn send(&self, request: &Request) -> Result<crate::transport::Response> {
        self.client
            .send(request)
            .await
            .map_err(|e| self.unreachable(e))
    }

    /// A failure without an answer names the site's protector-api; the server's own errors
    /// are passed on as they are.
    fn unreachable(&self, error: Error) -> Error {
        let answered = error.context_value("http_status").is_some();
        if answered || !matches!(error.kind(), ErrorKind::Unavailable | ErrorKind::Timeout) {
            return error;
        }
        recast(
            &error,
            ErrorKind::Unavailable,
            format!(
                "the protector-api of site '{}' at {} cannot be reached ({}); check that the service runs and that this host reaches it",
                self.site,
                self.endpoint(),
                error.message()
            ),
        )
        .with_retry(error.retry_status())
        .with_context("site", self.site.clone())
    }

    /// `GET`: the record under `key`, `None` on 404.
    async fn get<T: DeserializeOwned>(
        &self,
        resource: &Resource,
        what: impl fmt::Display,
    ) -> Result<Option<T>> {
        let request = self.request(Method::GET, resource, what).await?;
        match self.send(&request).await {
            Ok(response) => Ok(Some(take(&response, resource.key())?)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET` of a list under `key`.
    async fn list<T: DeserializeOwned>(
        &self,
        resource: &Resource,
        query: &[(&str, String)],
        what: impl fmt::Display,
    ) -> Result<Vec<T>> {
        let mut request = self.request(Method::GET, resource, what).await?;
        for (key, value) in query {
            request = request.query(key, value);
        }
        let response = self.send(&request).await?;
        take(&response, resource.key())
    }

    /// A request with a JSON body; the answer's body.
    async fn write(
        &self,
        method: Method,
        resource: &Resource,
        body: Value,
        idempotent: bool,
        what: impl fmt::Display,
    ) -> Result<crate::transport::Response> {
        let request = self
            .request(method, resource, what)
            .await?
            .json(body)
            .idempotent(idempotent);
        self.send(&request).await
    }

    async fn put<T: Serialize>(
        &self,
        resource: &Resource,
        key: &str,
        record: &T,
        what: impl fmt::Display,
    ) -> Result<()> {
        let body = json!({ key: to_value(record)? });
        self.write(Method::PUT, resource, body, true, what).await?;
        Ok(())
    }

    async fn delete(
        &self,
        resource: &Resource,
        query: &[(&str, &str)],
        what: impl fmt::Display,
    ) -> Result<()> {
        let mut request = self.request(Method::DELETE, resource, what).await?;
        for (key, value) in query {
            request = request.query(key, value);
        }
        match self.send(&request).await {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub(super) async fn acquire_lease(
        &self,
        id: &Uuid,
        holder: &str,
        ttl: Duration,
    ) -> Result<LeaseAttempt> {
        self.released(id).await;
        let body = to_value(&LeaseRequest::new(holder, ttl))?;
        // Taking a lease one holds again renews it: harmless to send twice.
        let response = self
            .write(
                Method::POST,
                &Resource::Lease(*id),
                body,
                true,
                format!("take the lease of operation op-{id}"),
            )
            .await?;
        response.json()
    }

    pub(super) async fn renew_lease(&self, id: &Uuid, holder: &str, ttl: Duration) -> Result<bool> {
        let body = to_value(&LeaseRequest::new(holder, ttl))?;
        let response = self
            .write(
                Method::PUT,
                &Resource::Lease(*id),
                body,
                true,
                format!("renew the lease of operation op-{id}"),
            )
            .await?;
        Ok(response.json::<Renewed>()?.renewed)
    }

    pub(super) async fn release_lease(&self, id: &Uuid, holder: &str) -> Result<()> {
        self.delete(
            &Resource::Lease(*id),
            &[("holder", holder)],
            format!("release the lease of operation op-{id}"),
        )
        .await
    }
}

fn to_value<T: Serialize>(record: &T) -> Result<Value> {
    serde_json::to_value(record)
        .map_err(|e| Error::unexpected(format!("a record cannot be written as JSON: {e}")))
}

#[async_trait]
impl Store for RemoteStore {
    async fn put_site(&self, site: &Site) -> Result<()> {
        let what = format!("save site '{}'", site.name);
        self.inner
            .put(&Resource::Site(site.name.clone()), keys::SITE, site, what)
            .await
    }

    async fn get_site(&self, name: &str) -> Result<Option<Site>> {
        self.inner
            .get(
                &Resource::Site(name.to_string()),
                format!("read site '{name}'"),
            )
            .await
    }

    async fn list_sites(&self) -> Result<Vec<Site>> {
        self.inner.list(&Resource::Sites, &[], "list sites").await
    }

    async fn delete_site(&self, name: &str) -> Result<()> {
        self.inner
            .delete(
                &Resource::Site(name.to_string()),
                &[],
                format!("delete site '{name}'"),
            )
            .await
    }

    async fn put_group(&self, group: &ProtectionGroup) -> Result<()> {
        let what = format!("save protection group '{}'", group.name);
        self.inner
            .put(&Resource::Group(group.id), keys::GROUP, group, what)
            .await
    }

    async fn get_group(&self, id: &Uuid) -> Result<Option<ProtectionGroup>> {
        self.inner
            .get(&Resource::Group(*id), format!("read protection group {id}"))
            .await
    }

    async fn list_groups(&self) -> Result<Vec<ProtectionGroup>> {
        self.inner
            .list(&Resource::Groups, &[], "list protection groups")
            .await
    }

    async fn delete_group(&self, id: &Uuid) -> Result<()> {
        self.inner
            .delete(
                &Resource::Group(*id),
                &[],
                format!("delete protection group {id}"),
            )
            .await
    }

    async fn put_member(&self, member: &Member) -> Result<()> {
        let what = format!("save member '{}'", member.instance_name);
        self.inner
            .put(&Resource::Member(member.id), keys::MEMBER, member, what)
            .await
    }

    async fn list_members(&self, group_id: &Uuid) -> Result<Vec<Member>> {
        self.inner
            .list(
                &Resource::Members(*group_id),
                &[],
                format!("list the members of protection group {group_id}"),
            )
            .await
    }

    async fn delete_member(&self, id: &Uuid) -> Result<()> {
        self.inner
            .delete(&Resource::Member(*id), &[], format!("delete member {id}"))
            .await
    }

    async fn put_policy(&self, policy: &ReplicationPolicy) -> Result<()> {
        let what = format!("save the policy of protection group {}", policy.group_id);
        self.inner
            .put(
                &Resource::Policy(policy.group_id),
                keys::POLICY,
                policy,
                what,
            )
            .await
    }

    async fn get_policy(&self, group_id: &Uuid) -> Result<Option<ReplicationPolicy>> {
        self.inner
            .get(
                &Resource::Policy(*group_id),
                format!("read the policy of protection group {group_id}"),
            )
            .await
    }

    async fn put_mappings(&self, mappings: &GroupMappings) -> Result<()> {
        let what = format!(
            "save the mappings of protection group {} from {} to {}",
            mappings.group_id, mappings.from_site, mappings.to_site
        );
        self.inner
            .put(
                &Resource::Mappings(mappings.group_id),
                keys::MAPPING,
                mappings,
                what,
            )
            .await
    }

    async fn list_mappings(&self, group_id: &Uuid) -> Result<Vec<GroupMappings>> {
        self.inner
            .list(
                &Resource::Mappings(*group_id),
                &[],
                format!("list the mappings of protection group {group_id}"),
            )
            .await
    }

    async fn apply_document(&self, document: &GroupDocument) -> Result<()> {
        let body = to_value(&DocumentWrite {
            document: document.clone(),
            check: None,
        })?;
        let what = format!("write protection group '{}'", document.group.name);
        self.inner
            .write(
                Method::PUT,
                &Resource::Document(document.group.id),
                body,
                true,
                what,
            )
            .await?;
        Ok(())
    }

    async fn apply_document_if(&self, document: &GroupDocument, check: VersionCheck) -> Result<()> {
        let body = to_value(&DocumentWrite {
            document: document.clone(),
            check: Some(check),
        })?;
        let what = format!(
            "write version {} of protection group '{}'",
            document.group.metadata.version, document.group.name
        );
        // A compare-and-set that may have been applied is not sent again blindly: a second
        // copy would find its own version and report a conflict.
        self.inner
            .write(
                Method::PUT,
                &Resource::Document(document.group.id),
                body,
                false,
                what,
            )
            .await?;
        Ok(())
    }

    async fn put_tenant_mapping(&self, mapping: &TenantMapping) -> Result<()> {
        let body = json!({ keys::TENANT_MAPPING: to_value(mapping)? });
        let what = format!("save tenant mapping {}", mapping.id);
        // Inserts or replaces by id: harmless to send twice.
        self.inner
            .write(Method::POST, &Resource::TenantMappings, body, true, what)
            .await?;
        Ok(())
    }

    async fn list_tenant_mappings(&self) -> Result<Vec<TenantMapping>> {
        self.inner
            .list(&Resource::TenantMappings, &[], "list tenant mappings")
            .await
    }

    async fn put_operation(&self, operation: &Operation) -> Result<()> {
        let what = format!("save operation op-{}", operation.id);
        self.inner
            .put(
                &Resource::Operation(operation.id),
                keys::OPERATION,
                operation,
                what,
            )
            .await
    }

    async fn get_operation(&self, id: &Uuid) -> Result<Option<Operation>> {
        self.inner
            .get(&Resource::Operation(*id), format!("read operation op-{id}"))
            .await
    }

    async fn list_operations(&self) -> Result<Vec<Operation>> {
        self.inner
            .list(&Resource::Operations, &[], "list operations")
            .await
    }

    async fn query_operations(&self, query: &OperationQuery) -> Result<Vec<Operation>> {
        let pairs = OperationsQuery::from_query(query).pairs();
        let operations: Vec<Operation> = self
            .inner
            .list(&Resource::Operations, &pairs, "list operations")
            .await?;
        // A server older than the query's parameters answers every operation: the same
        // selection again here (a no-op on what a current server selected).
        Ok(query.select(operations))
    }

    async fn append_journal(&self, entry: &JournalEntry) -> Result<u64> {
        let id = entry.operation_id;
        let body = json!({ keys::ENTRY: to_value(entry)? });
        let response = self
            .inner
            .write(
                Method::POST,
                &Resource::Journal(id),
                body,
                false,
                format!("append to the journal of operation op-{id}"),
            )
            .await?;
        Ok(response.json::<Appended>()?.seq)
    }

    async fn list_journal(&self, operation_id: &Uuid) -> Result<Vec<JournalEntry>> {
        self.inner
            .list(
                &Resource::Journal(*operation_id),
                &[],
                format!("read the journal of operation op-{operation_id}"),
            )
            .await
    }

    async fn put_sync_state(&self, state: &SyncState) -> Result<()> {
        let what = format!("save the sync state of protection group {}", state.group_id);
        self.inner
            .put(
                &Resource::SyncState(state.group_id),
                keys::SYNC_STATE,
                state,
                what,
            )
            .await
    }

    async fn get_sync_state(&self, group_id: &Uuid) -> Result<Option<SyncState>> {
        self.inner
            .get(
                &Resource::SyncState(*group_id),
                format!("read the sync state of protection group {group_id}"),
            )
            .await
    }

    async fn append_sync_log(&self, entry: &SyncLogEntry) -> Result<()> {
        let id = entry.group_id;
        let body = json!({ keys::ENTRY: to_value(entry)? });
        self.inner
            .write(
                Method::POST,
                &Resource::SyncLog(id),
                body,
                false,
                format!("append to the sync log of protection group {id}"),
            )
            .await?;
        Ok(())
    }

    async fn list_sync_log(&self, group_id: &Uuid, limit: usize) -> Result<Vec<SyncLogEntry>> {
        self.inner
            .list(
                &Resource::SyncLog(*group_id),
                &[("limit", limit.to_string())],
                format!("read the sync log of protection group {group_id}"),
            )
            .await
    }

    fn resumes_operations(&self) -> bool {
        // The site's protector-engine workers take over an operation whose worker died.
        true
    }

    async fn lock_operation(&self, id: &Uuid) -> Result<LockAttempt> {
        let holder = super::lease::holder();
        match self.inner.acquire_lease(id, &holder, LOCK_TTL).await? {
            LeaseAttempt::Acquired(_) => {
                let guard = LeaseGuard::start(Arc::clone(&self.inner), *id, holder);
                Ok(LockAttempt::Acquired(OperationLock::with_guard(*id, guard)))
            }
            LeaseAttempt::Held(_) => Ok(LockAttempt::Held { pid: None }),
        }
    }

    async fn acquire_lease(&self, id: &Uuid, holder: &str, ttl: Duration) -> Result<LeaseAttempt> {
        self.inner.acquire_lease(id, holder, ttl).await
    }

    async fn renew_lease(&self, id: &Uuid, holder: &str, ttl: Duration) -> Result<bool> {
        self.inner.renew_lease(id, holder, ttl).await
    }

    async fn release_lease(&self, id: &Uuid, holder: &str) -> Result<()> {
        self.inner.release_lease(id, holder).await
    }

    async fn get_lease(&self, id: &Uuid) -> Result<Option<Lease>> {
        self.inner
            .get(
                &Resource::Lease(*id),
                format!("read the lease of operation op-{id}"),
            )
            .await
    }
}
