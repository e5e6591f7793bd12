//! Resource and tenant mappings between sites.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Error, Result};

/// Source-site → target-site translations of site-local resources. Keys and values are ids or
/// names; the planner resolves both.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ResourceMappings {
    /// Network id or name → network id or name.
    #[serde(default)]
    pub networks: BTreeMap<String, String>,
    /// Flavor id or name → flavor id or name.
    #[serde(default)]
    pub flavors: BTreeMap<String, String>,
    /// Security group id or name → id or name.
    #[serde(default)]
    pub security_groups: BTreeMap<String, String>,
    /// Nova availability zone name → zone name on the target.
    #[serde(default)]
    pub availability_zones: BTreeMap<String, String>,
}

impl ResourceMappings {
    /// Parses `KEY=VALUE` pairs as given on the command line.
    pub fn parse_pairs<'a>(
        what: &str,
        pairs: impl IntoIterator<Item = &'a str>,
    ) -> Result<BTreeMap<String, String>> {
        let mut map = BTreeMap::new();
        for pair in pairs {
            for item in pair.split_whitespace() {
                let (k, v) = item.split_once('=').ok_or_else(|| {
                    Error::invalid(format!(
                        "{what} mapping '{item}' is not SOURCE=TARGET: write it as <source>=<target>"
                    ))
                })?;
                if k.is_empty() || v.is_empty() {
                    return Err(Error::invalid(format!(
                        "{what} mapping '{item}' has an empty side: write it as <source>=<target>"
                    )));
                }
                if let Some(prev) = map.insert(k.to_string(), v.to_string()) {
                    if prev != v {
                        return Err(Error::invalid(format!(
                            "{what} '{k}' is mapped twice ({prev} and {v}): give one target"
                        )));
                    }
                }
            }
        }
        Ok(map)
    }

    /// These mappings with `other`'s entries added where these have none.
    pub fn merged_with(&self, other: &ResourceMappings) -> ResourceMappings {
        let mut out = self.clone();
        for (k, v) in &other.networks {
            out.networks.entry(k.clone()).or_insert_with(|| v.clone());
        }
        for (k, v) in &other.flavors {
            out.flavors.entry(k.clone()).or_insert_with(|| v.clone());
        }
        for (k, v) in &other.security_groups {
            out.security_groups
                .entry(k.clone())
                .or_insert_with(|| v.clone());
        }
        for (k, v) in &other.availability_zones {
            out.availability_zones
                .entry(k.clone())
                .or_insert_with(|| v.clone());
        }
        out
    }
}

/// Local project ↔ remote project: project ids differ because each site has its own Keystone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantMapping {
    /// Protector's id.
    pub id: Uuid,
    /// Site of the local project.
    pub local_site: String,
    /// Project id on the local site.
    pub local_tenant: String,
    /// The other site.
    pub remote_site: String,
    /// Project id on the remote site.
    pub remote_tenant: String,
    /// Free text.
    pub description: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pairs_and_rejects_garbage() {
        let m = ResourceMappings::parse_pairs("network", ["a=b c=d", "e=f"]).unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m["c"], "d");
        let err = ResourceMappings::parse_pairs("network", ["a"]).unwrap_err();
        assert!(err.to_string().contains("'a' is not SOURCE=TARGET"));
        assert!(ResourceMappings::parse_pairs("network", ["a=b", "a=c"]).is_err());
    }
}
