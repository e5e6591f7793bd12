//! The OpenStack wire face of `SimServer`, part two: Nova (a server's life, refusals, boot
//! faults, keypairs), Cinder (manage and its policy, types, services, groups, snapshots),
//! strict request bodies in each service's words, and Neutron ports and security groups.

use crate::http_openstack_support::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

// ------------------------------------------------------------------ Nova

#[tokio::test]
async fn a_server_boots_from_a_volume_stops_and_is_deleted() {
    let env = env().await;
    let admin = env.login("site-a").await;
    let root = admin.create_volume("wire-root", true).await;
    let networks = admin
        .get("/network/v2.0/networks?name=net-primary-web", None)
        .await;
    let network = networks.body["networks"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let flavors = admin.get("/compute/v2.1/flavors/detail", None).await;
    let flavor = flavors.body["flavors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "m1.small")
        .unwrap()["id"]
        .clone();

    let created = admin
        .post(
            "/compute/v2.1/servers",
            Some("compute 2.74"),
            json!({"server": {
                "name": "wire-vm",
                "flavorRef": flavor,
                "key_name": "ops-key",
                "block_device_mapping_v2": [{
                    "boot_index": "0", "uuid": root, "source_type": "volume",
                    "destination_type": "volume", "delete_on_termination": false
                }],
                "networks": [{"uuid": network, "fixed_ip": "10.10.1.77"}],
                "security_groups": [{"name": "web"}],
                "metadata": {"protector:source_server": "abc"}
            }}),
        )
        .await;
    assert_eq!(created.status, StatusCode::ACCEPTED, "{}", created.body);
    let id = created.body["server"]["id"].as_str().unwrap().to_string();
    assert!(created.body["server"]["adminPass"].is_string());
    assert!(created
        .header("location")
        .unwrap()
        .ends_with(&format!("/compute/v2.1/servers/{id}")));
    assert!(created
        .header("x-compute-request-id")
        .unwrap()
        .starts_with("req-"));
    assert!(created
        .header("x-openstack-request-id")
        .unwrap()
        .starts_with("req-"));

    let path = format!("/compute/v2.1/servers/{id}");
    let first = admin.get(&path, Some("compute 2.47")).await;
    assert_eq!(first.body["server"]["status"], "BUILD");
    assert_eq!(first.body["server"]["OS-EXT-STS:task_state"], "spawning");
    let active = admin
        .until(&path, Some("compute 2.47"), |a| {
            a.body["server"]["status"] != "BUILD"
        })
        .await;
    let server = &active.body["server"];
    assert_eq!(server["status"], "ACTIVE");
    assert_eq!(
        server["addresses"]["net-primary-web"][0]["addr"],
        "10.10.1.77"
    );
    assert_eq!(server["security_groups"], json!([{"name": "web"}]));
    assert_eq!(server["key_name"], "ops-key");
    assert_eq!(server["metadata"]["protector:source_server"], "abc");
    assert_eq!(
        server["os-extended-volumes:volumes_attached"][0]["id"],
        root
    );
    let volume = admin
        .get(&admin.volume_path(&format!("/volumes/{root}")), None)
        .await;
    assert_eq!(volume.body["volume"]["status"], "in-use");
    assert_eq!(volume.body["volume"]["attachments"][0]["server_id"], id);
    let ports = admin
        .get(&format!("/network/v2.0/ports?device_id={id}"), None)
        .await;
    assert_eq!(ports.body["ports"].as_array().unwrap().len(), 1);
    assert_eq!(ports.body["ports"][0]["device_owner"], "compute:nova");

    // Power: 202, then SHUTOFF; stopping again is a 409 as in Nova.
    let action = format!("{path}/action");
    let stop = admin.post(&action, None, json!({"os-stop": null})).await;
    assert_eq!(stop.status, StatusCode::ACCEPTED);
    admin
        .until(&path, None, |a| a.body["server"]["status"] == "SHUTOFF")
        .await;
    let again = admin.post(&action, None, json!({"os-stop": null})).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(
        again.body["conflictingRequest"]["message"],
        format!("Cannot 'stop' instance {id} while it is in vm_state stopped")
    );
    let start = admin.post(&action, None, json!({"os-start": null})).await;
    assert_eq!(start.status, StatusCode::ACCEPTED);
    admin
        .until(&path, None, |a| a.body["server"]["status"] == "ACTIVE")
        .await;

    // Delete: 204, then 404; the volume is kept and detached, Nova's own port is gone.
    let deleted = admin.call(Method::DELETE, &path, None, None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let gone = admin.get(&path, None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(
        gone.body["itemNotFound"]["message"],
        format!("Instance {id} could not be found.")
    );
    let volume = admin
        .get(&admin.volume_path(&format!("/volumes/{root}")), None)
        .await;
    assert_eq!(volume.body["volume"]["status"], "available");
    let ports = admin
        .get(&format!("/network/v2.0/ports?device_id={id}"), None)
        .await;
    assert_eq!(ports.body["ports"], json!([]));
}

#[tokio::test]
async fn nova_refuses_what_nova_refuses_and_reports_boot_faults() {
    let env = env().await;
    let admin = env.login("site-a").await;
    let plain = admin.create_volume("not-bootable", false).await;
    let network = admin
        .get("/network/v2.0/networks?name=net-primary-db", None)
        .await;
    let network = network.body["networks"][0]["id"].clone();
    let flavors = admin.get("/compute/v2.1/flavors", None).await;
    let flavor = flavors.body["flavors"][0]["id"].clone();
    let body = |volume: &str, name: &str| {
        json!({"server": {
            "name": name, "flavorRef": flavor, "networks": [{"uuid": network}],
            "block_device_mapping_v2": [{"boot_index": 0, "uuid": volume,
                "source_type": "volume", "destination_type": "volume"}]
        }})
    };
    let refused = admin
        .post(
            "/compute/v2.1/servers",
            Some("compute 2.74"),
            body(&plain, "vm"),
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        refused.body["badRequest"]["message"],
        format!("Block Device {plain} is not bootable.")
    );

    let root = admin.create_volume("boot-fails", true).await;
    env.sim
        .fail_server_boot("site-a", "doomed", "No valid host was found.")
        .unwrap();
    let created = admin
        .post(
            "/compute/v2.1/servers",
            Some("compute 2.74"),
            body(&root, "doomed"),
        )
        .await;
    assert_eq!(created.status, StatusCode::ACCEPTED);
    let id = created.body["server"]["id"].as_str().unwrap().to_string();
    let failed = admin
        .until(&format!("/compute/v2.1/servers/{id}"), None, |a| {
            a.body["server"]["status"] == "ERROR"
        })
        .await;
    assert_eq!(failed.body["server"]["fault"]["code"], 500);
    assert_eq!(
        failed.body["server"]["fault"]["message"],
        "No valid host was found."
    );
    // A member does not see another user's keypair; keypairs are per user.
    let member = env.login("site-a-member").await;
    let keys = member.get("/compute/v2.1/os-keypairs", None).await;
    assert_eq!(keys.body["keypairs"], json!([]));
    let imported = member
        .post(
            "/compute/v2.1/os-keypairs",
            Some("compute 2.92"),
            json!({"keypair": {"name": "member-key", "public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMemberKeyForTheSimulatorTests member"}}),
        )
        .await;
    assert_eq!(imported.status, StatusCode::CREATED, "{}", imported.body);
    assert_eq!(imported.body["keypair"]["type"], "ssh");
    let duplicate = member
        .post(
            "/compute/v2.1/os-keypairs",
            Some("compute 2.92"),
            json!({"keypair": {"name": "member-key", "public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMemberKeyForTheSimulatorTests member"}}),
        )
        .await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);
}

// ------------------------------------------------------------------ Cinder

#[tokio::test]
async fn manage_is_admin_only_and_follows_the_pure_driver() {
    let env = env().await;
    let admin = env.login("site-a").await;
    let member = env.login("site-a-member").await;
    // An array volume Cinder does not know: unmanage one of Cinder's.
    let id = admin.create_volume("to-unmanage", false).await;
    let unmanage = admin
        .post(
            &admin.volume_path(&format!("/volumes/{id}/action")),
            None,
            json!({"os-unmanage": null}),
        )
        .await;
    assert_eq!(unmanage.status, StatusCode::ACCEPTED);
    admin
        .until(&admin.volume_path(&format!("/volumes/{id}")), None, |a| {
            a.status == StatusCode::NOT_FOUND
        })
        .await;
    let unmanaged = format!("volume-{id}-cinder-unmanaged");

    let host = "site-a-controller@pure#pure";
    let listing = format!("/manageable_volumes/detail?host={host}");
    let too_old = admin
        .get(&admin.volume_path(&listing), Some("volume 3.7"))
        .await;
    assert_eq!(too_old.status, StatusCode::NOT_FOUND);
    assert_eq!(
        too_old.body["itemNotFound"]["message"],
        "API version 3.7 is not supported on this method."
    );
    let listed = admin
        .get(&admin.volume_path(&listing), Some("volume 3.8"))
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let entries = listed.body["manageable-volumes"].as_array().unwrap();
    let entry = entries
        .iter()
        .find(|e| e["reference"]["name"] == unmanaged.as_str())
        .expect("the unmanaged volume is manageable");
    assert_eq!(entry["safe_to_manage"], true);
    assert_eq!(entry["reason_not_safe"], "");
    assert_eq!(entry["size"], 1);
    let in_use = entries
        .iter()
        .find(|e| {
            e["reason_not_safe"]
                .as_str()
                .unwrap()
                .contains("connected to host")
        })
        .expect("a volume of a running VM");
    assert_eq!(in_use["safe_to_manage"], false);
    assert!(in_use["cinder_id"].is_string());
    assert_eq!(
        member
            .get(&member.volume_path(&listing), Some("volume 3.8"))
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    let manage = |name: &str| {
        json!({"volume": {
            "host": host, "ref": {"name": unmanaged}, "name": name,
            "volume_type": "replicated-ssd", "bootable": true,
            "description": null, "availability_zone": null, "metadata": null
        }})
    };
    let refused = member
        .post(
            &member.volume_path("/manageable_volumes"),
            Some("volume 3.71"),
            manage("by-member"),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(
        refused.body["forbidden"]["message"],
        "Policy doesn't allow volume_extension:volume_manage to be performed."
    );
    let managed = admin
        .post(
            &admin.volume_path("/manageable_volumes"),
            Some("volume 3.71"),
            manage("managed"),
        )
        .await;
    assert_eq!(managed.status, StatusCode::ACCEPTED, "{}", managed.body);
    assert_eq!(managed.body["volume"]["status"], "creating");
    let new_id = managed.body["volume"]["id"].as_str().unwrap().to_string();
    let available = admin
        .until(
            &admin.volume_path(&format!("/volumes/{new_id}")),
            Some("volume 3.21"),
            |a| a.body["volume"]["status"] != "creating",
        )
        .await;
    let volume = &available.body["volume"];
    assert_eq!(volume["status"], "available");
    assert_eq!(volume["bootable"], "true");
    assert_eq!(volume["size"], 1);
    assert_eq!(volume["provider_id"], format!("volume-{new_id}-cinder"));
    assert_eq!(volume["os-vol-tenant-attr:tenant_id"], admin.project_id);

    // The Pure driver knows array volumes by {"name": ...}; another reference fails in the
    // driver, after the API accepted it.
    let wrong_key = admin
        .post(
            &admin.volume_path("/os-volume-manage"),
            None,
            json!({"volume": {"host": host, "ref": {"source-name": unmanaged}, "name": "wrong-key"}}),
        )
        .await;
    assert_eq!(wrong_key.status, StatusCode::ACCEPTED);
    let wrong_id = wrong_key.body["volume"]["id"].as_str().unwrap().to_string();
    admin
        .until(
            &admin.volume_path(&format!("/volumes/{wrong_id}")),
            None,
            |a| a.body["volume"]["status"] == "error",
        )
        .await;
    // Cinder keeps error_managing inside and shows error (its volume views' status map).
    assert_eq!(
        env.sim.inspect().sites["site-a"]
            .volumes
            .iter()
            .find(|v| v.id == wrong_id)
            .map(|v| v.status.clone())
            .as_deref(),
        Some("error_managing")
    );
    let deleted = admin
        .call(
            reqwest::Method::DELETE,
            &admin.volume_path(&format!("/volumes/{wrong_id}")),
            None,
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::ACCEPTED, "{}", deleted.body);
    admin
        .until(
            &admin.volume_path(&format!("/volumes/{wrong_id}")),
            None,
            |a| a.status == StatusCode::NOT_FOUND,
        )
        .await;
    // An unknown host is Cinder's 503.
    let unknown = admin
        .post(
            &admin.volume_path("/os-volume-manage"),
            None,
            json!({"volume": {"host": "nowhere@pure#pure", "ref": {"name": "x"}}}),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        unknown.body["serviceUnavailable"]["message"],
        "Host 'nowhere@pure#pure' not found."
    );
}

#[tokio::test]
async fn types_services_groups_and_snapshots_follow_cinder_policy() {
    let env = env().await;
    let admin = env.login("site-a").await;
    let member = env.login("site-a-member").await;
    async fn specs(session: &Session) -> Value {
        let types = session.get(&session.volume_path("/types"), None).await;
        types.body["volume_types"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == "replicated-ssd")
            .unwrap()["extra_specs"]
            .clone()
    }
    assert_eq!(
        specs(&admin).await,
        json!({"replication_enabled": "<is> True", "replication_type": "<in> async", "volume_backend_name": "pure"})
    );
    assert_eq!(
        specs(&member).await,
        json!({"replication_enabled": "<is> True"})
    );

    let services = admin
        .get(
            &admin.volume_path("/os-services?binary=cinder-volume"),
            Some("volume 3.49"),
        )
        .await;
    let service = &services.body["services"][0];
    assert_eq!(service["host"], "site-a-controller@pure");
    assert_eq!(service["state"], "up");
    assert_eq!(service["backend_state"], "up");
    assert_eq!(
        member
            .get(&member.volume_path("/os-services"), None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    // Groups need 3.13, group types 3.11.
    assert_eq!(
        admin
            .get(&admin.volume_path("/groups"), Some("volume 3.12"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let group_types = admin
        .get(&admin.volume_path("/group_types"), Some("volume 3.11"))
        .await;
    let names: Vec<&str> = group_types.body["group_types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["consistent-replication", "default_group_type"]);
    let volume = admin.create_volume("grouped", false).await;
    let created = admin
        .post(
            &admin.volume_path("/groups"),
            Some("volume 3.13"),
            json!({"group": {"name": "cg", "group_type": "consistent-replication", "volume_types": ["replicated-ssd"]}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::ACCEPTED, "{}", created.body);
    let group = created.body["group"]["id"].as_str().unwrap().to_string();
    let added = admin
        .call(
            Method::PUT,
            &admin.volume_path(&format!("/groups/{group}")),
            Some("volume 3.13"),
            Some(json!({"group": {"add_volumes": volume}})),
        )
        .await;
    assert_eq!(added.status, StatusCode::ACCEPTED, "{}", added.body);
    let shown = admin
        .get(
            &admin.volume_path(&format!("/groups/{group}?list_volume=True")),
            Some("volume 3.25"),
        )
        .await;
    assert_eq!(shown.body["group"]["volumes"], json!([volume]));
    // Cinder refuses to unmanage a volume that is in a group: 400 InvalidVolume.
    let refused = admin
        .post(
            &admin.volume_path(&format!("/volumes/{volume}/action")),
            None,
            json!({"os-unmanage": null}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body["badRequest"]["message"]
        .as_str()
        .unwrap()
        .starts_with("Invalid volume:"));

    // Snapshots block deletion until they are gone.
    let removed = admin
        .call(
            Method::PUT,
            &admin.volume_path(&format!("/groups/{group}")),
            Some("volume 3.13"),
            Some(json!({"group": {"remove_volumes": volume}})),
        )
        .await;
    assert_eq!(removed.status, StatusCode::ACCEPTED);
    let snapshot = admin
        .post(
            &admin.volume_path("/snapshots"),
            None,
            json!({"snapshot": {"volume_id": volume, "name": "snap"}}),
        )
        .await;
    assert_eq!(snapshot.status, StatusCode::ACCEPTED, "{}", snapshot.body);
    let snapshot_id = snapshot.body["snapshot"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    admin
        .until(
            &admin.volume_path(&format!("/snapshots/{snapshot_id}")),
            None,
            |a| a.body["snapshot"]["status"] == "available",
        )
        .await;
    let blocked = admin
        .call(
            Method::DELETE,
            &admin.volume_path(&format!("/volumes/{volume}")),
            None,
            None,
        )
        .await;
    assert_eq!(blocked.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        blocked.body["badRequest"]["message"],
        "Invalid volume: Volume still has 1 dependent snapshots."
    );
    let deleted = admin
        .call(
            Method::DELETE,
            &admin.volume_path(&format!("/snapshots/{snapshot_id}")),
            None,
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::ACCEPTED);
    admin
        .until(
            &admin.volume_path(&format!("/snapshots/{snapshot_id}")),
            None,
            |a| a.status == StatusCode::NOT_FOUND,
        )
        .await;
    let deleted = admin
        .call(
            Method::DELETE,
            &admin.volume_path(&format!("/volumes/{volume}")),
            None,
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::ACCEPTED);
}

// ------------------------------------------------------------------ strict bodies

#[tokio::test]
async fn invalid_bodies_get_400_in_each_service_s_words() {
    let env = env().await;
    let admin = env.login("site-a").await;
    let nova = |v: &'static str, body: Value| {
        let admin = &admin;
        async move { admin.post("/compute/v2.1/servers", Some(v), body).await }
    };
    let missing = nova(
        "compute 2.74",
        json!({"server": {"name": "s", "networks": "none"}}),
    )
    .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        missing.body["badRequest"],
        json!({"code": 400, "message": "Invalid input for field/attribute server. Value: {'name': 's', 'networks': 'none'}. 'flavorRef' is a required property"})
    );
    let unknown = nova(
        "compute 2.74",
        json!({"server": {"name": "s", "flavorRef": "1", "networks": "none", "bogus": 1}}),
    )
    .await;
    assert!(unknown.body["badRequest"]["message"]
        .as_str()
        .unwrap()
        .ends_with("Additional properties are not allowed ('bogus' was unexpected)"));
    // `networks` is required from 2.37; `description` exists from 2.19.
    let no_networks = nova(
        "compute 2.37",
        json!({"server": {"name": "s", "flavorRef": "1"}}),
    )
    .await;
    assert!(no_networks.body["badRequest"]["message"]
        .as_str()
        .unwrap()
        .ends_with("'networks' is a required property"));
    let early = nova(
        "compute 2.18",
        json!({"server": {"name": "s", "flavorRef": "1", "description": "d"}}),
    )
    .await;
    assert!(early.body["badRequest"]["message"]
        .as_str()
        .unwrap()
        .ends_with("Additional properties are not allowed ('description' was unexpected)"));
    let bad_uuid = nova(
        "compute 2.74",
        json!({"server": {"name": "s", "flavorRef": "1", "networks": [{"uuid": "not-a-uuid"}]}}),
    )
    .await;
    assert_eq!(bad_uuid.status, StatusCode::BAD_REQUEST);
    let stop = admin
        .post(
            "/compute/v2.1/servers/00000000-0000-4000-8000-000000000000/action",
            None,
            json!({"os-stop": {}}),
        )
        .await;
    assert_eq!(stop.status, StatusCode::NOT_FOUND, "missing server first");
    let servers = admin.get("/compute/v2.1/servers", None).await;
    let server = servers.body["servers"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let stop = admin
        .post(
            &format!("/compute/v2.1/servers/{server}/action"),
            None,
            json!({"os-stop": {}}),
        )
        .await;
    assert_eq!(
        stop.body["badRequest"]["message"],
        "Invalid input for field/attribute os-stop. Value: {}. {} is not of type 'null'"
    );
    let key = admin
        .post(
            "/compute/v2.1/os-keypairs",
            Some("compute 2.92"),
            json!({"keypair": {"name": "k"}}),
        )
        .await;
    assert!(key.body["badRequest"]["message"]
        .as_str()
        .unwrap()
        .ends_with("'public_key' is a required property"));

    // Cinder: manage before 3.16 has no `cluster`; host pattern; bootable values.
    let manage = |v: &'static str, volume: Value| {
        let admin = &admin;
        async move {
            admin
                .post(
                    &admin.volume_path("/manageable_volumes"),
                    Some(v),
                    json!({ "volume": volume }),
                )
                .await
        }
    };
    let cluster = manage(
        "volume 3.15",
        json!({"ref": {"name": "x"}, "host": "h@b#p", "cluster": "c"}),
    )
    .await;
    assert_eq!(cluster.status, StatusCode::BAD_REQUEST);
    assert!(cluster.body["badRequest"]["message"]
        .as_str()
        .unwrap()
        .ends_with("Additional properties are not allowed ('cluster' was unexpected)"));
    let both = manage(
        "volume 3.16",
        json!({"ref": {"name": "x"}, "host": "h@b#p", "cluster": "c"}),
    )
    .await;
    assert_eq!(
        both.body["badRequest"]["message"],
        "Invalid input received: One and only one of cluster and host must be set."
    );
    let host = manage(
        "volume 3.16",
        json!({"ref": {"name": "x"}, "host": "bad host"}),
    )
    .await;
    assert!(host.body["badRequest"]["message"]
        .as_str()
        .unwrap()
        .starts_with("Invalid input for field/attribute host. Value: 'bad host'."));
    let bootable = manage(
        "volume 3.16",
        json!({"ref": {"name": "x"}, "host": "h", "bootable": "yes-please"}),
    )
    .await;
    assert!(bootable.body["badRequest"]["message"]
        .as_str()
        .unwrap()
        .contains("'yes-please' is not one of"));
    let no_ref = manage("volume 3.8", json!({"host": "h"})).await;
    assert!(no_ref.body["badRequest"]["message"]
        .as_str()
        .unwrap()
        .ends_with("'ref' is a required property"));
    let unmanage = admin
        .post(
            &admin.volume_path("/volumes/00000000-0000-4000-8000-000000000000/action"),
            None,
            json!({"os-unmanage": 1}),
        )
        .await;
    assert_eq!(unmanage.status, StatusCode::NOT_FOUND);
    let volumes = admin.get(&admin.volume_path("/volumes"), None).await;
    let volume = volumes.body["volumes"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let unmanage = admin
        .post(
            &admin.volume_path(&format!("/volumes/{volume}/action")),
            None,
            json!({"os-unmanage": 1}),
        )
        .await;
    assert_eq!(unmanage.status, StatusCode::BAD_REQUEST);
    // Volume create is strict from 3.53.
    let strict = admin
        .post(
            &admin.volume_path("/volumes"),
            Some("volume 3.53"),
            json!({"volume": {"size": 1, "bootable": true}}),
        )
        .await;
    assert!(strict.body["badRequest"]["message"]
        .as_str()
        .unwrap()
        .ends_with("Additional properties are not allowed ('bootable' was unexpected)"));
    let group = admin
        .post(
            &admin.volume_path("/groups"),
            Some("volume 3.13"),
            json!({"group": {"group_type": "default_group_type"}}),
        )
        .await;
    assert!(group.body["badRequest"]["message"]
        .as_str()
        .unwrap()
        .ends_with("'volume_types' is a required property"));
    let malformed = admin
        .call(Method::POST, &admin.volume_path("/volumes"), None, None)
        .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);

    // Neutron: unknown attributes, missing ones, bad values.
    let networks = admin.get("/network/v2.0/networks", None).await;
    let network = networks.body["networks"][0]["id"].clone();
    let port = |body: Value| {
        let admin = &admin;
        async move { admin.post("/network/v2.0/ports", None, body).await }
    };
    let unknown = port(json!({"port": {"network_id": network, "bogus": 1}})).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        unknown.body,
        json!({"NeutronError": {"type": "HTTPBadRequest", "message": "Unrecognized attribute(s) 'bogus'", "detail": ""}})
    );
    let missing = port(json!({"port": {"name": "p"}})).await;
    assert_eq!(
        missing.body["NeutronError"]["message"],
        "Failed to parse request. Required attribute 'network_id' not specified"
    );
    let bad = port(json!({"port": {"network_id": "nope"}})).await;
    assert_eq!(
        bad.body["NeutronError"]["message"],
        "Invalid input for network_id. Reason: 'nope' is not a valid UUID."
    );

    // Keystone's own words.
    let auth = send(
        env.http
            .post(format!("{}/identity/v3/auth/tokens", env.base("site-a")))
            .json(&json!({"auth": {"identity": {}}})),
    )
    .await;
    assert_eq!(auth.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        auth.body["error"],
        json!({"code": 400, "title": "Bad Request", "message": "Invalid input for field 'identity': 'methods' is a required property"})
    );
}

// ------------------------------------------------------------------ Neutron

#[tokio::test]
async fn neutron_ports_and_security_groups() {
    let env = env().await;
    let admin = env.login("site-b").await;
    let extensions = admin.get("/network/v2.0/extensions", None).await;
    assert!(extensions.body["extensions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["alias"] == "security-group"));
    let networks = admin
        .get("/network/v2.0/networks?name=net-secondary-web", None)
        .await;
    let network = &networks.body["networks"][0];
    assert_eq!(networks.body["networks"].as_array().unwrap().len(), 1);
    let subnet = network["subnets"][0].as_str().unwrap().to_string();
    let subnets = admin
        .get(
            &format!(
                "/network/v2.0/subnets?network_id={}",
                network["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(subnets.body["subnets"][0]["cidr"], "10.20.1.0/24");

    let group = admin
        .post(
            "/network/v2.0/security-groups",
            None,
            json!({"security_group": {"name": "dr-web", "description": "from site-a's web"}}),
        )
        .await;
    assert_eq!(group.status, StatusCode::CREATED, "{}", group.body);
    let group_id = group.body["security_group"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        group.body["security_group"]["security_group_rules"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "Neutron's two egress rules"
    );
    let rule = admin
        .post(
            "/network/v2.0/security-group-rules",
            None,
            json!({"security_group_rule": {"security_group_id": group_id, "direction": "ingress",
                   "protocol": "tcp", "port_range_min": 443, "port_range_max": 443,
                   "remote_ip_prefix": "0.0.0.0/0"}}),
        )
        .await;
    assert_eq!(rule.status, StatusCode::CREATED, "{}", rule.body);

    let port = admin
        .post(
            "/network/v2.0/ports",
            None,
            json!({"port": {"network_id": network["id"], "name": "web-01-dr-eth0",
                   "fixed_ips": [{"subnet_id": subnet, "ip_address": "10.20.1.11"}],
                   "security_groups": [group_id], "description": "protector"}}),
        )
        .await;
    assert_eq!(port.status, StatusCode::CREATED, "{}", port.body);
    let port_id = port.body["port"]["id"].as_str().unwrap().to_string();
    assert_eq!(port.body["port"]["status"], "DOWN");
    assert_eq!(port.body["port"]["device_id"], "");
    assert_eq!(
        port.body["port"]["fixed_ips"][0]["ip_address"],
        "10.20.1.11"
    );
    let taken = admin
        .post(
            "/network/v2.0/ports",
            None,
            json!({"port": {"network_id": network["id"],
                   "fixed_ips": [{"subnet_id": subnet, "ip_address": "10.20.1.11"}]}}),
        )
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert_eq!(
        taken.body["NeutronError"]["type"],
        "IpAddressAlreadyAllocated"
    );
    let in_use = admin
        .call(
            Method::DELETE,
            &format!("/network/v2.0/security-groups/{group_id}"),
            None,
            None,
        )
        .await;
    assert_eq!(in_use.status, StatusCode::CONFLICT);
    assert_eq!(in_use.body["NeutronError"]["type"], "SecurityGroupInUse");
    let listed = admin
        .get(
            "/network/v2.0/ports?name=web-01-dr-eth0&fields=id&fields=name",
            None,
        )
        .await;
    assert_eq!(
        listed.body["ports"],
        json!([{"id": port_id, "name": "web-01-dr-eth0"}])
    );
    assert_eq!(
        admin
            .call(
                Method::DELETE,
                &format!("/network/v2.0/ports/{port_id}"),
                None,
                None
            )
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let gone = admin
        .get(&format!("/network/v2.0/ports/{port_id}"), None)
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(
        gone.body["NeutronError"],
        json!({"type": "PortNotFound", "message": format!("Port {port_id} could not be found."), "detail": ""})
    );
    assert_eq!(
        admin
            .call(
                Method::DELETE,
                &format!("/network/v2.0/security-groups/{group_id}"),
                None,
                None
            )
            .await
            .status,
        StatusCode::NO_CONTENT
    );
}
