//! Cinder resources beside volumes: types and extra specs, `os-services`, manage
//! (`os-volume-manage`, `manageable_volumes`), groups and group types, snapshots,
//! availability zones, limits and quota sets. This module registers their routes (each under both URL forms); the
//! handlers live in one submodule per resource family.

mod groups;
mod manage;
mod quotas;
mod snapshots;
mod types;

use axum::routing::{get, post};
use axum::Router;

use super::both;
use groups::{
    create_group, group_action, group_specs, list_group_types, list_groups, list_groups_detail,
    show_group, show_group_type, update_group,
};
use manage::{
    list_manageable, list_manageable_detail, list_manageable_legacy, list_manageable_legacy_detail,
    manage, manage_legacy,
};
use snapshots::{
    create_snapshot, delete_snapshot, legacy_consistency_groups, list_snapshots,
    list_snapshots_detail, show_snapshot,
};
use types::{
    availability_zones, list_services, list_types, show_type, type_extra_spec, type_extra_specs,
};

pub(super) fn routes(mut router: Router<super::SiteContext>) -> Router<super::SiteContext> {
    router = both(router, "/types", get(list_types));
    router = both(router, "/types/{id}", get(show_type));
    router = both(router, "/types/{id}/extra_specs", get(type_extra_specs));
    router = both(
        router,
        "/types/{id}/extra_specs/{key}",
        get(type_extra_spec),
    );
    router = both(router, "/os-services", get(list_services));
    router = both(
        router,
        "/os-volume-manage",
        get(list_manageable_legacy).post(manage_legacy),
    );
    router = both(
        router,
        "/os-volume-manage/detail",
        get(list_manageable_legacy_detail),
    );
    router = both(
        router,
        "/manageable_volumes",
        get(list_manageable).post(manage),
    );
    router = both(
        router,
        "/manageable_volumes/detail",
        get(list_manageable_detail),
    );
    router = both(router, "/group_types", get(list_group_types));
    router = both(router, "/group_types/{id}", get(show_group_type));
    router = both(router, "/group_types/{id}/group_specs", get(group_specs));
    router = both(router, "/groups", get(list_groups).post(create_group));
    router = both(router, "/groups/detail", get(list_groups_detail));
    router = both(router, "/groups/{id}", get(show_group).put(update_group));
    router = both(router, "/groups/{id}/action", post(group_action));
    router = both(
        router,
        "/snapshots",
        get(list_snapshots).post(create_snapshot),
    );
    router = both(router, "/snapshots/detail", get(list_snapshots_detail));
    router = both(
        router,
        "/snapshots/{id}",
        get(show_snapshot).delete(delete_snapshot),
    );
    router = both(router, "/consistencygroups", get(legacy_consistency_groups));
    router = both(
        router,
        "/consistencygroups/detail",
        get(legacy_consistency_groups),
    );
    router = both(router, "/limits", get(quotas::limits));
    router = both(router, "/os-quota-sets/{target}", get(quotas::quota_set));
    router = both(
        router,
        "/os-quota-sets/{target}/{view}",
        get(quotas::quota_set),
    );
    both(router, "/os-availability-zone", get(availability_zones))
}
