//! Cinder: manage / unmanage / delete with the Pure driver's renames, policy, groups.

use std::collections::BTreeMap;

use protector_core::api::{CopyVolume, CreateVolumeGroup, ListVolumes, ManageVolume, ServerStatus};
use protector_core::ErrorKind;
use protector_mock::{Service, Simulator};

use crate::common::*;

fn manage_request(source: &str, name: &str) -> ManageVolume {
    let mut metadata = BTreeMap::new();
    metadata.insert("protector:step".to_string(), format!("step-{name}"));
    ManageVolume {
        host: "site-b-controller@pure#pure".into(),
        source_name: source.into(),
        name: name.into(),
        volume_type: "replicated-ssd".into(),
        bootable: true,
        description: "imported".into(),
        metadata,
    }
}

/// Puts a volume named `name` with `gib` GiB (plus `extra` bytes) on flasharray-b by copying a
/// pod volume that already lives there.
async fn array_volume_on_b(sim: &Simulator, name: &str) {
    let pod_volume = sim.inspect().arrays["site-b"].volumes[0].name.clone();
    array(sim, "site-b")
        .await
        .copy_volume(&CopyVolume {
            name: name.into(),
            source: pod_volume,
            overwrite: false,
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn manage_renames_the_array_volume_and_keeps_its_data() {
    let sim = Simulator::in_memory().unwrap();
    let b = clients(&sim, "site-b").await;
    array_volume_on_b(&sim, "prot-import-1").await;
    let fingerprint = sim
        .array_volume_fingerprint("site-b", "prot-import-1")
        .unwrap();
    let provisioned = array(&sim, "site-b")
        .await
        .get_volume("prot-import-1")
        .await
        .unwrap()
        .unwrap()
        .provisioned_bytes;

    let created = b
        .block_storage
        .manage_volume(&manage_request("prot-import-1", "web-root"))
        .await
        .unwrap();
    assert_eq!(created.status, "creating");
    assert_eq!(
        created.project_id,
        sim.project_id("site-b", "production-project").unwrap()
    );
    // Cinder's driver renames on its own time, not inside the API call.
    assert!(sim
        .array_volume_fingerprint("site-b", "prot-import-1")
        .is_some());

    wait_volume(&b, &created.id, "available").await;
    let volume = b
        .block_storage
        .get_volume(&created.id)
        .await
        .unwrap()
        .unwrap();
    let renamed = format!("volume-{}-cinder", created.id);
    assert_eq!(volume.array_volume.as_deref(), Some(renamed.as_str()));
    assert_eq!(
        volume.size_gb,
        provisioned.div_ceil(1 << 30),
        "ceil(provisioned / GiB)"
    );
    assert_eq!(volume.volume_type, "replicated-ssd");
    assert!(volume.bootable);
    assert_eq!(volume.host.as_deref(), Some("site-b-controller@pure#pure"));
    assert_eq!(volume.metadata["protector:step"], "step-web-root");
    assert_eq!(volume.metadata["array_volume_name"], renamed);
    assert!(sim
        .array_volume_fingerprint("site-b", "prot-import-1")
        .is_none());
    assert_eq!(
        sim.array_volume_fingerprint("site-b", &renamed),
        Some(fingerprint)
    );
    assert_eq!(
        sim.volume_fingerprint("site-b", &created.id),
        Some(fingerprint)
    );
    let listed = b
        .block_storage
        .list_volumes(&ListVolumes {
            metadata: Some(("protector:step".into(), "step-web-root".into())),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);

    // Managing the renamed volume again is refused by the API: it is already managed.
    let again = b
        .block_storage
        .manage_volume(&manage_request(&renamed, "again"))
        .await
        .unwrap_err();
    assert_error(
        &again,
        ErrorKind::InvalidInput,
        "The volume is already managed",
    );
}

#[tokio::test]
async fn manage_is_admin_only_unless_the_policy_is_relaxed() {
    let sim = Simulator::in_memory().unwrap();
    array_volume_on_b(&sim, "prot-import-2").await;
    let member = clients_as(&sim, "site-b", Some("site-b-member")).await;
    let denied = member
        .block_storage
        .manage_volume(&manage_request("prot-import-2", "x"))
        .await
        .unwrap_err();
    assert_eq!(denied.kind(), ErrorKind::PermissionDenied);
    assert_eq!(
        denied.message(),
        "Policy doesn't allow volume_extension:volume_manage to be performed."
    );
    assert!(!denied.is_retryable());
    let denied = member
        .block_storage
        .list_volume_services()
        .await
        .unwrap_err();
    assert_eq!(
        denied.message(),
        "Policy doesn't allow volume_extension:services:index to be performed."
    );
    // Non-admins see only replication_enabled among the extra specs.
    let ssd = member
        .block_storage
        .find_volume_type("replicated-ssd")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        ssd.extra_specs.keys().collect::<Vec<_>>(),
        ["replication_enabled"]
    );
    assert!(ssd.replication_enabled());
    assert_eq!(
        ssd.replication_type().as_deref(),
        Some("async"),
        "hidden type reads as async"
    );

    sim.set_manage_policy_admin_only("site-b", false).unwrap();
    let created = member
        .block_storage
        .manage_volume(&manage_request("prot-import-2", "x"))
        .await
        .unwrap();
    wait_volume(&member, &created.id, "available").await;
    let volume = member
        .block_storage
        .get_volume(&created.id)
        .await
        .unwrap()
        .unwrap();
    assert!(volume.host.is_none(), "the backend host is admin-only");
    assert_eq!(
        member
            .block_storage
            .list_volume_services()
            .await
            .unwrap()
            .len(),
        1
    );
    sim.set_manage_policy_admin_only("site-b", true).unwrap();
    assert_eq!(
        member
            .block_storage
            .unmanage_volume(&created.id)
            .await
            .unwrap_err()
            .message(),
        "Policy doesn't allow volume_extension:volume_unmanage to be performed."
    );
}

#[tokio::test]
async fn manage_checks_host_type_and_reference() {
    let sim = Simulator::in_memory().unwrap();
    let b = clients(&sim, "site-b").await;
    array_volume_on_b(&sim, "prot-import-3").await;

    let mut bad = manage_request("prot-import-3", "x");
    bad.host = "site-a-controller@pure#pure".into();
    let error = b.block_storage.manage_volume(&bad).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unavailable);
    assert_eq!(
        error.message(),
        "Host 'site-a-controller@pure#pure' not found."
    );
    assert!(!error.is_retryable());

    let mut bad = manage_request("prot-import-3", "x");
    bad.volume_type = "gold".into();
    assert_error(
        &b.block_storage.manage_volume(&bad).await.unwrap_err(),
        ErrorKind::InvalidInput,
        "Cannot find requested 'gold' volume type",
    );

    // A reference that does not exist, or sits in a pod, fails in the driver: the volume goes
    // to error_managing, which Cinder's API shows as error.
    let missing = b
        .block_storage
        .manage_volume(&manage_request("no-such-volume", "m"))
        .await
        .unwrap();
    wait_volume(&b, &missing.id, "error").await;
    assert_eq!(
        sim.inspect().sites["site-b"]
            .volumes
            .iter()
            .find(|v| v.id == missing.id)
            .map(|v| v.status.as_str()),
        Some("error_managing"),
        "Cinder's own status"
    );
    let pod_volume = sim.inspect().arrays["site-b"].volumes[0].name.clone();
    let stretched = b
        .block_storage
        .manage_volume(&manage_request(&pod_volume, "p"))
        .await
        .unwrap();
    wait_volume(&b, &stretched.id, "error").await;
    assert!(
        sim.array_volume_fingerprint("site-b", &pod_volume)
            .is_some(),
        "not renamed"
    );

    // An error_managing volume can be unmanaged (it never owned an array volume).
    b.block_storage.unmanage_volume(&missing.id).await.unwrap();
    assert!(b
        .block_storage
        .get_volume(&missing.id)
        .await
        .unwrap()
        .is_none());

    // A volume attached on site-a cannot be managed: it is connected to a host.
    let a = clients(&sim, "site-a").await;
    let web1 = sim.find_server("site-a", "web-server-1").unwrap();
    let root = a
        .block_storage
        .get_volume(&web1.attached_volumes[0].volume_id)
        .await
        .unwrap()
        .unwrap();
    array(&sim, "site-a")
        .await
        .rename_volume(
            root.array_volume.as_deref().unwrap(),
            "renamed-behind-cinders-back",
        )
        .await
        .unwrap();
    let mut on_a = manage_request("renamed-behind-cinders-back", "y");
    on_a.host = "site-a-controller@pure".into();
    let created = a.block_storage.manage_volume(&on_a).await.unwrap();
    wait_volume(&a, &created.id, "error").await;
}

#[tokio::test]
async fn unmanage_requires_a_detached_ungrouped_volume() {
    let sim = Simulator::in_memory().unwrap();
    let a = clients(&sim, "site-a").await;
    let web1 = sim.find_server("site-a", "web-server-1").unwrap();
    let root_id = web1.attached_volumes[0].volume_id.clone();
    let attached = a.block_storage.unmanage_volume(&root_id).await.unwrap_err();
    assert_error(
        &attached,
        ErrorKind::Conflict,
        "Volume status must be available",
    );

    // Detach by deleting the server, then put the volume in a group.
    a.compute.delete_server(&web1.id).await.unwrap();
    let root = a.block_storage.get_volume(&root_id).await.unwrap().unwrap();
    assert_eq!(root.status, "available");
    let group = a
        .block_storage
        .create_volume_group(&CreateVolumeGroup {
            name: "cg".into(),
            description: String::new(),
            volume_type: "replicated-ssd".into(),
        })
        .await
        .unwrap();
    a.block_storage
        .update_volume_group(&group.id, std::slice::from_ref(&root_id), &[])
        .await
        .unwrap();
    assert_eq!(
        a.block_storage
            .get_volume(&root_id)
            .await
            .unwrap()
            .unwrap()
            .group_id
            .as_deref(),
        Some(group.id.as_str())
    );
    assert_error(
        &a.block_storage.unmanage_volume(&root_id).await.unwrap_err(),
        ErrorKind::Conflict,
        "belong to a group",
    );
    assert_error(
        &a.block_storage.delete_volume(&root_id).await.unwrap_err(),
        ErrorKind::Conflict,
        "belong to a group",
    );

    // Deleting the group keeps its volumes.
    a.block_storage
        .delete_volume_group(&group.id)
        .await
        .unwrap();
    assert!(a
        .block_storage
        .get_volume_group(&group.id)
        .await
        .unwrap()
        .is_none());
    assert!(a
        .block_storage
        .get_volume(&root_id)
        .await
        .unwrap()
        .unwrap()
        .group_id
        .is_none());
    a.block_storage
        .delete_volume_group(&group.id)
        .await
        .unwrap();

    let array_name = root.array_volume.clone().unwrap();
    let fingerprint = sim.array_volume_fingerprint("site-a", &array_name).unwrap();
    a.block_storage.unmanage_volume(&root_id).await.unwrap();
    // The driver renames on the volume manager's next tick.
    assert!(sim
        .array_volume_fingerprint("site-a", &array_name)
        .is_some());
    assert!(a
        .block_storage
        .get_volume(&root_id)
        .await
        .unwrap()
        .is_none());
    assert!(sim
        .array_volume_fingerprint("site-a", &array_name)
        .is_none());
    assert_eq!(
        sim.array_volume_fingerprint("site-a", &format!("{array_name}-unmanaged")),
        Some(fingerprint)
    );
    a.block_storage.unmanage_volume(&root_id).await.unwrap();
}

#[tokio::test]
async fn delete_removes_the_array_volume_and_refuses_attached_ones() {
    let sim = Simulator::in_memory().unwrap();
    let a = clients(&sim, "site-a").await;
    let legacy = sim.find_server("site-a", "legacy-app").unwrap();
    let root_id = legacy.attached_volumes[0].volume_id.clone();
    assert_error(
        &a.block_storage.delete_volume(&root_id).await.unwrap_err(),
        ErrorKind::Conflict,
        "attached",
    );
    a.compute.stop_server(&legacy.id).await.unwrap();
    wait_server(&a, &legacy.id, ServerStatus::Shutoff).await;
    a.compute.delete_server(&legacy.id).await.unwrap();
    let array_name = a
        .block_storage
        .get_volume(&root_id)
        .await
        .unwrap()
        .unwrap()
        .array_volume
        .unwrap();
    a.block_storage.delete_volume(&root_id).await.unwrap();
    assert!(a
        .block_storage
        .get_volume(&root_id)
        .await
        .unwrap()
        .is_none());
    assert!(
        array(&sim, "site-a")
            .await
            .get_volume(&array_name)
            .await
            .unwrap()
            .is_none(),
        "destroyed and eradicated"
    );
    a.block_storage.delete_volume(&root_id).await.unwrap();
}

#[tokio::test]
async fn groups_take_only_volumes_of_their_type() {
    let sim = Simulator::in_memory().unwrap();
    let a = clients(&sim, "site-a").await;
    let missing = a
        .block_storage
        .create_volume_group(&CreateVolumeGroup {
            name: "x".into(),
            description: String::new(),
            volume_type: "gold".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound);
    let group = a
        .block_storage
        .create_volume_group(&CreateVolumeGroup {
            name: "web".into(),
            description: String::new(),
            volume_type: "replicated-ssd".into(),
        })
        .await
        .unwrap();
    assert_eq!(group.status, "available");
    let ssd = a
        .block_storage
        .find_volume_type("replicated-ssd")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(group.volume_types, [ssd.id]);

    let legacy = sim.find_server("site-a", "legacy-app").unwrap();
    let standard_root = legacy.attached_volumes[0].volume_id.clone();
    assert_error(
        &a.block_storage
            .update_volume_group(&group.id, std::slice::from_ref(&standard_root), &[])
            .await
            .unwrap_err(),
        ErrorKind::InvalidInput,
        "is not supported by the group",
    );
    let web1 = sim.find_server("site-a", "web-server-1").unwrap();
    let web2 = sim.find_server("site-a", "web-server-2").unwrap();
    let ids = [
        web1.attached_volumes[0].volume_id.clone(),
        web2.attached_volumes[0].volume_id.clone(),
    ];
    // in-use volumes may join a group.
    a.block_storage
        .update_volume_group(&group.id, &ids, &[])
        .await
        .unwrap();
    let got = a
        .block_storage
        .get_volume_group(&group.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.volume_ids, ids);
    assert_error(
        &a.block_storage
            .update_volume_group(&group.id, &[], std::slice::from_ref(&standard_root))
            .await
            .unwrap_err(),
        ErrorKind::InvalidInput,
        "because it is not in the group",
    );
    a.block_storage
        .update_volume_group(&group.id, &[], &ids[..1])
        .await
        .unwrap();
    let got = a
        .block_storage
        .get_volume_group(&group.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.volume_ids, ids[1..]);
    assert_error(
        &a.block_storage
            .update_volume_group("nope", &[], &[])
            .await
            .unwrap_err(),
        ErrorKind::NotFound,
        "Group nope could not be found.",
    );
    // Targeted one-shot failures hit the named operation only.
    sim.fail_next(
        "site-a",
        Service::Volume,
        "get_volume_group",
        ErrorKind::Unavailable,
        "boom",
        1,
    )
    .unwrap();
    assert!(a.block_storage.get_volume_group(&group.id).await.is_err());
    assert!(a.block_storage.get_volume_group(&group.id).await.is_ok());
}
