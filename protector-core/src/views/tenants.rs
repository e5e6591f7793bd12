//! Tenant (project) mappings between sites.

use serde_json::json;

use super::{List, Record};
use crate::model::TenantMapping;

/// `dr tenant mapping create`.
pub fn tenant_mapping(m: &TenantMapping) -> Record {
    Record::new()
        .field("id", m.id.to_string())
        .field("local_site", m.local_site.as_str())
        .field("local_tenant", m.local_tenant.as_str())
        .field("remote_site", m.remote_site.as_str())
        .field("remote_tenant", m.remote_tenant.as_str())
        .field("description", m.description.as_str())
}

/// `dr tenant mapping list`.
pub fn tenant_mappings(mappings: &[TenantMapping]) -> List {
    let mut list = List::with_keys(&[
        "id",
        "local_site",
        "local_tenant",
        "remote_site",
        "remote_tenant",
        "description",
    ]);
    for m in mappings {
        list.push(vec![
            json!(m.id.to_string()),
            json!(m.local_site),
            json!(m.local_tenant),
            json!(m.remote_site),
            json!(m.remote_tenant),
            json!(m.description),
        ]);
    }
    list
}
