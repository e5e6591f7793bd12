//! Registering and validating sites.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api::VolumeType;
use crate::engine::Protector;
use crate::error::{Error, ErrorKind, Hint, Result};
use crate::model::check_name;
use crate::model::{Site, SiteStatus, SiteType};

/// Register a site (`site create`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterSite {
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Registered role.
    pub site_type: SiteType,
    /// Keystone v3 URL.
    pub auth_url: String,
    /// Region.
    pub region_name: String,
    /// clouds.yaml entry with the credentials, when not named like the site.
    pub cloud: Option<String>,
}

/// The result of `site validate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteValidation {
    /// Site name.
    pub name: String,
    /// Resulting status.
    pub status: SiteStatus,
    /// `ok` or the error.
    pub keystone: String,
    /// `ok` or the error.
    pub nova: String,
    /// `ok` or the error.
    pub cinder: String,
    /// `ok` or the error.
    pub neutron: String,
    /// Whether the credentials may list cinder-volume services (the right volume manage needs).
    pub volume_manage: String,
    /// The kind of Keystone's error when it failed: `Unauthenticated` when it refused the
    /// credentials, `Unavailable` when it did not answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keystone_error: Option<ErrorKind>,
}

impl Protector {
    /// Registers a site in every configured store.
    pub async fn register_site(&self, request: RegisterSite) -> Result<Site> {
        check_name("site", &request.name)?;
        if !request.auth_url.starts_with("http://") && !request.auth_url.starts_with("https://") {
            return Err(Error::invalid(format!(
                "auth URL '{}' of site '{}' is not an http(s) URL: give the Keystone v3 endpoint, e.g. https://keystone.example.com:5000/v3",
                request.auth_url, request.name
            )));
        }
        if self.store().get_site(&request.name).await?.is_some() {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                format!("site '{}' is already registered", request.name),
            )
            .with_hint(Hint::ShowSite {
                site: request.name.clone(),
            }));
        }
        let site = Site {
            id: Uuid::new_v4(),
            name: request.name,
            description: request.description,
            site_type: request.site_type,
            auth_url: request.auth_url,
            region_name: request.region_name,
            status: SiteStatus::Active,
            cloud: request.cloud,
            created_at: Utc::now(),
        };
        for store in self.inner.stores.values() {
            store.put_site(&site).await?;
        }
        Ok(site)
    }

    /// Checks Keystone, Nova, Cinder and Neutron of a site and the rights volume manage needs;
    /// records the resulting status.
    pub async fn validate_site(&self, name: &str) -> Result<SiteValidation> {
        let mut site = self.site(name).await?;
        let clients = self.inner.connector.site(&site).await?;
        fn show<T>(r: &Result<T>) -> String {
            match r {
                Ok(_) => "ok".to_string(),
                Err(e) => format!("error: {}", e.message()),
            }
        }
        let keystone = clients.identity.authenticate().await;
        let (nova, cinder, neutron, manage) = if keystone.is_ok() {
            (
                show(&clients.compute.list_flavors().await),
                show(&clients.block_storage.list_volume_types().await),
                show(&clients.network.list_networks().await),
                match clients.block_storage.list_volume_services().await {
                    Ok(services) if services.iter().any(|s| s.is_usable()) => "ok".to_string(),
                    Ok(_) => "error: no cinder-volume service is up and enabled".to_string(),
                    Err(e) => format!("error: {}", e.message()),
                },
            )
        } else {
            let skipped = "skipped: keystone failed".to_string();
            (skipped.clone(), skipped.clone(), skipped.clone(), skipped)
        };
        let status = match &keystone {
            Err(e) if matches!(e.kind(), ErrorKind::Unavailable | ErrorKind::Timeout) => {
                SiteStatus::Unreachable
            }
            Err(_) => SiteStatus::Error,
            Ok(_)
                if [&nova, &cinder, &neutron, &manage]
                    .iter()
                    .all(|s| *s == "ok") =>
            {
                SiteStatus::Active
            }
            Ok(_) => SiteStatus::Error,
        };
        site.status = status;
        for store in self.inner.stores.values() {
            // A store that cannot be written (its site is down) keeps its last known status.
            let _ = store.put_site(&site).await;
        }
        Ok(SiteValidation {
            name: site.name,
            status,
            keystone: show(&keystone),
            keystone_error: keystone.as_ref().err().map(Error::kind),
            nova,
            cinder,
            neutron,
            volume_manage: manage,
        })
    }

    /// Volume types of a site that can back a protection group.
    pub async fn list_replication_volume_types(&self, site: &str) -> Result<Vec<VolumeType>> {
        let clients = self.ensure_reachable(site).await?;
        let types = clients.block_storage.list_volume_types().await?;
        Ok(types
            .into_iter()
            .filter(VolumeType::replication_enabled)
            .collect())
    }
}
