//! The Keystone service catalog and endpoint selection.

use std::fmt;

use protector_core::{Error, ErrorKind, Result};
use serde::Deserialize;

use crate::config::Interface;

/// The services protector talks to, by their service-types-authority names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ServiceType {
    /// Keystone (`identity`).
    Identity,
    /// Nova (`compute`).
    Compute,
    /// Cinder (`block-storage`, also catalogued as `volumev3`, `volume`, `block-store`).
    BlockStorage,
    /// Neutron (`network`).
    Network,
    /// protector-api (`protector`, endpoint `/v1/%(tenant_id)s`, spec/004).
    Protector,
}

impl ServiceType {
    /// The official service type.
    pub fn as_str(self) -> &'static str {
        self.catalog_types()[0]
    }

    /// Catalog types accepted for this service, in order of preference.
    ///
    /// `volumev2` is left out on purpose: protector speaks Cinder v3 only.
    pub fn catalog_types(self) -> &'static [&'static str] {
        match self {
            ServiceType::Identity => &["identity"],
            ServiceType::Compute => &["compute"],
            ServiceType::BlockStorage => &["block-storage", "volumev3", "volume", "block-store"],
            ServiceType::Network => &["network"],
            ServiceType::Protector => &["protector"],
        }
    }

    /// The service of a clouds.yaml `<service>_endpoint_override` key prefix
    /// (`block_storage`, `volumev3`, `compute`, …). `None` for services protector does not use.
    pub fn from_config_key(prefix: &str) -> Option<Self> {
        let wanted = prefix.replace('_', "-");
        [
            ServiceType::Identity,
            ServiceType::Compute,
            ServiceType::BlockStorage,
            ServiceType::Network,
            ServiceType::Protector,
        ]
        .into_iter()
        .find(|s| s.catalog_types().contains(&wanted.as_str()))
    }
}

impl fmt::Display for ServiceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The catalog of a token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub(crate) struct Catalog(Vec<CatalogEntry>);

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
struct CatalogEntry {
    #[serde(rename = "type")]
    service_type: String,
    #[serde(default)]
    endpoints: Vec<CatalogEndpoint>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
struct CatalogEndpoint {
    #[serde(default)]
    interface: String,
    #[serde(default)]
    region_id: Option<String>,
    #[serde(default)]
    region: Option<String>,
    url: String,
}

impl CatalogEndpoint {
    fn in_region(&self, region: &str) -> bool {
        self.region_id.as_deref() == Some(region) || self.region.as_deref() == Some(region)
    }

    fn region_name(&self) -> &str {
        self.region_id
            .as_deref()
            .or(self.region.as_deref())
            .unwrap_or("")
    }
}

impl Catalog {
    /// Whether the catalog is empty (unscoped token, or `?nocatalog`).
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The URL of `service` for `interface` in `region` (any region when `None`).
    ///
    /// Keystone has already expanded `$(project_id)s` in the URLs. The first catalog type in
    /// [`ServiceType::catalog_types`] order that has a matching endpoint wins. Several regions
    /// offering the service with no region configured is an error rather than a guess: a DR
    /// tool must not silently act on the wrong region.
    pub(crate) fn endpoint(
        &self,
        service: ServiceType,
        interface: Interface,
        region: Option<&str>,
    ) -> Result<String> {
        let entries: Vec<&CatalogEntry> = service
            .catalog_types()
            .iter()
            .flat_map(|t| self.0.iter().filter(move |e| e.service_type == *t))
            .collect();
        if entries.is_empty() {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "the service catalog has no {service} service (looked for types {}); check the cloud's Keystone endpoints",
                    service.catalog_types().join(", ")
                ),
            ));
        }
        for entry in &entries {
            let matching: Vec<&CatalogEndpoint> = entry
                .endpoints
                .iter()
                .filter(|e| Interface::parse(&e.interface) == Some(interface))
                .filter(|e| region.is_none_or(|r| e.in_region(r)))
                .collect();
            let Some(first) = matching.first() else {
                continue;
            };
            if region.is_none()
                && matching
                    .iter()
                    .any(|e| e.region_name() != first.region_name())
            {
                let mut regions: Vec<&str> = matching.iter().map(|e| e.region_name()).collect();
                regions.dedup();
                return Err(Error::new(
                    ErrorKind::ConfigInvalid,
                    format!(
                        "{service} is offered in several regions ({}); set region_name in clouds.yaml or OS_REGION_NAME",
                        regions.join(", ")
                    ),
                ));
            }
            return Ok(first.url.clone());
        }
        let available: Vec<String> = entries
            .iter()
            .flat_map(|e| &e.endpoints)
            .map(|e| {
                let interface =
                    Interface::parse(&e.interface).map_or(e.interface.as_str(), |i| i.as_str());
                format!("{interface} in {}", e.region_name())
            })
            .collect();
        Err(Error::new(
            ErrorKind::ConfigInvalid,
            format!(
                "the catalog has no {interface} {service} endpoint{} (available: {}); check interface and region_name",
                region.map(|r| format!(" in region {r}")).unwrap_or_default(),
                available.join(", ")
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn catalog() -> Catalog {
        serde_json::from_value(json!([
            {"type": "identity", "endpoints": [
                {"interface": "public", "region_id": "R1", "url": "https://id/v3"}]},
            {"type": "volumev3", "endpoints": [
                {"interface": "public", "region_id": "R1", "url": "https://vol-r1/v3/p1"},
                {"interface": "internal", "region_id": "R1", "url": "https://vol-int/v3/p1"},
                {"interface": "public", "region_id": "R2", "url": "https://vol-r2/v3/p1"}]},
            {"type": "compute", "endpoints": [
                {"interface": "publicURL", "region": "R1", "url": "https://nova/v2.1"}]}
        ]))
        .unwrap()
    }

    #[test]
    fn block_storage_is_found_through_its_volumev3_alias() {
        let c = catalog();
        let url = c
            .endpoint(ServiceType::BlockStorage, Interface::Public, Some("R2"))
            .unwrap();
        assert_eq!(url, "https://vol-r2/v3/p1");
        let url = c
            .endpoint(ServiceType::BlockStorage, Interface::Internal, None)
            .unwrap();
        assert_eq!(url, "https://vol-int/v3/p1");
    }

    #[test]
    fn legacy_interface_spelling_and_region_field_match() {
        let url = catalog()
            .endpoint(ServiceType::Compute, Interface::Public, Some("R1"))
            .unwrap();
        assert_eq!(url, "https://nova/v2.1");
    }

    #[test]
    fn several_regions_without_a_region_is_an_error() {
        let err = catalog()
            .endpoint(ServiceType::BlockStorage, Interface::Public, None)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConfigInvalid);
        assert!(err.message().contains("R1, R2"), "{err}");
    }

    #[test]
    fn missing_service_and_missing_region_are_distinguished() {
        let err = catalog()
            .endpoint(ServiceType::Network, Interface::Public, None)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsupported);
        let err = catalog()
            .endpoint(ServiceType::Compute, Interface::Admin, Some("R1"))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConfigInvalid);
        assert!(err.message().contains("public in R1"), "{err}");
    }

    #[test]
    fn config_keys_map_to_services() {
        assert_eq!(
            ServiceType::from_config_key("block_storage"),
            Some(ServiceType::BlockStorage)
        );
        assert_eq!(
            ServiceType::from_config_key("volumev3"),
            Some(ServiceType::BlockStorage)
        );
        assert_eq!(
            ServiceType::from_config_key("protector"),
            Some(ServiceType::Protector)
        );
        assert_eq!(ServiceType::from_config_key("image"), None);
    }
}
