//! Sites and their volume types.

use serde_json::json;

use super::{time, Column, List, Record};
use crate::api::VolumeType;
use crate::engine::SiteValidation;
use crate::model::Site;

/// `site show` / `site create`.
pub fn site(site: &Site) -> Record {
    Record::new()
        .field("id", site.id.to_string())
        .field("name", site.name.as_str())
        .field("description", site.description.as_str())
        .field("site_type", site.site_type.as_str())
        .field("auth_url", site.auth_url.as_str())
        .field("region_name", site.region_name.as_str())
        .field("status", site.status.as_str())
        .field("cloud", site.cloud_name())
        .field("created_at", time(&site.created_at))
}

/// `site list` (spec/004 example 1; the `type` heading holds `site_type`).
pub fn sites(sites: &[Site]) -> List {
    let mut list = List::new(vec![
        Column::new("id", "id"),
        Column::new("name", "name"),
        Column::new("site_type", "type"),
        Column::new("auth_url", "auth_url"),
        Column::new("region_name", "region_name"),
        Column::new("status", "status"),
    ]);
    for s in sites {
        list.push(vec![
            json!(s.id.to_string()),
            json!(s.name),
            json!(s.site_type.as_str()),
            json!(s.auth_url),
            json!(s.region_name),
            json!(s.status.as_str()),
        ]);
    }
    list
}

/// `site validate`.
pub fn site_validation(v: &SiteValidation) -> Record {
    Record::new()
        .field("name", v.name.as_str())
        .field("status", v.status.as_str())
        .field("keystone", v.keystone.as_str())
        .field("nova", v.nova.as_str())
        .field("cinder", v.cinder.as_str())
        .field("neutron", v.neutron.as_str())
        .field("volume_manage", v.volume_manage.as_str())
}

/// `site list-volume-types` (spec/004 example 2): the replication extra specs as columns,
/// empty when the type has none.
pub fn volume_types(types: &[VolumeType]) -> List {
    let mut list = List::with_keys(&["id", "name", "replication_enabled", "replication_type"]);
    for t in types {
        let spec = |k: &str| t.extra_specs.get(k).cloned().unwrap_or_default();
        list.push(vec![
            json!(t.id),
            json!(t.name),
            json!(spec("replication_enabled")),
            json!(spec("replication_type")),
        ]);
    }
    list
}
