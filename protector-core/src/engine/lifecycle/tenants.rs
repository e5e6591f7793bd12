//! Tenant mappings: which project owns a group on the other site.

use uuid::Uuid;

use crate::engine::Protector;
use crate::error::{Error, ErrorKind, Result};
use crate::model::TenantMapping;

impl Protector {
    /// Creates a tenant mapping and writes it on both sites.
    pub async fn create_tenant_mapping(
        &self,
        local_tenant: &str,
        remote_site: &str,
        remote_tenant: &str,
        description: &str,
    ) -> Result<TenantMapping> {
        if remote_site == self.local_site() {
            return Err(Error::invalid(format!(
                "remote site '{remote_site}' is the local site: give the other site"
            )));
        }
        self.site(remote_site).await?;
        if local_tenant.is_empty() || remote_tenant.is_empty() {
            return Err(Error::invalid("tenant ids must not be empty"));
        }
        let remote = match self.ensure_reachable(remote_site).await {
            Ok(clients) => clients,
            Err(e) if e.kind() != ErrorKind::Unavailable => {
                return Err(e.with_prefix("cannot create tenant mapping"))
            }
            Err(e) => {
                return Err(Error::unavailable(format!(
                    "Cannot create tenant mapping - remote site '{remote_site}' unreachable ({}): wait for it to recover and retry",
                    e.message()
                )))
            }
        };
        // A mapping decides who owns a group on the other site: without the admin role, only
        // the caller's own project here, paired with one its credentials act in there.
        let caller = self.caller().await?;
        if let Some(auth) = caller.auth().filter(|_| !caller.is_admin()) {
            let in_remote = if remote.identity.authenticate().await?.project_id == remote_tenant {
                true
            } else {
                let site = self.site(remote_site).await?;
                match self
                    .inner
                    .connector
                    .site_for_project(&site, remote_tenant)
                    .await
                {
                    Ok(scoped) => scoped
                        .identity
                        .authenticate()
                        .await
                        .is_ok_and(|a| a.project_id == remote_tenant),
                    Err(_) => false,
                }
            };
            if local_tenant != auth.project_id || !in_remote {
                return Err(Error::new(
                    ErrorKind::PermissionDenied,
                    format!(
                        "user '{}' may map only its own project {} on {} to a project it has a role in on {remote_site}: \
                         {local_tenant} to {remote_tenant} needs the admin role. Nothing was changed",
                        auth.user_name,
                        auth.project_id,
                        self.local_site()
                    ),
                ));
            }
        }
        let existing = self.store().list_tenant_mappings().await?;
        if existing
            .iter()
            .any(|m| m.local_tenant == local_tenant && m.remote_site == remote_site)
        {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                format!("tenant {local_tenant} is already mapped on {remote_site}"),
            ));
        }
        let mapping = TenantMapping {
            id: Uuid::new_v4(),
            local_site: self.local_site().to_string(),
            local_tenant: local_tenant.to_string(),
            remote_site: remote_site.to_string(),
            remote_tenant: remote_tenant.to_string(),
            description: description.to_string(),
        };
        self.store_of(remote_site)?
            .put_tenant_mapping(&mapping)
            .await?;
        self.store().put_tenant_mapping(&mapping).await?;
        Ok(mapping)
    }

    /// The tenant mappings of the caller's project (every one with the admin role).
    pub async fn tenant_mappings(&self) -> Result<Vec<TenantMapping>> {
        let caller = self.caller().await?;
        let mut mappings = self.store().list_tenant_mappings().await?;
        mappings.retain(|m| caller.sees_mapping(m));
        Ok(mappings)
    }
}
