//! Inventory beyond the seed (projects, role grants, VMs) and clients scoped to another project
//! with the same credentials (`Connector::site_for_project`).

use crate::common::site_model;
use protector_core::api::{Connector, CreatePort, ServerStatus};
use protector_core::ErrorKind;
use protector_mock::{NewServer, Simulator};

fn web_vm(name: &str, project: &str, ip: &str) -> NewServer {
    NewServer {
        site: "site-a".into(),
        name: name.into(),
        project: project.into(),
        user: "admin".into(),
        flavor: "m1.small".into(),
        key_name: Some("ops-key".into()),
        nics: vec![("net-primary-web".into(), ip.into())],
        security_groups: vec!["default".into()],
        volumes: vec![("root".into(), 20, "replicated-ssd".into())],
    }
}

#[tokio::test]
async fn added_projects_and_servers_look_like_the_seeded_ones() {
    let sim = Simulator::in_memory().unwrap();
    let ids = sim.add_project("tenant3").unwrap();
    assert_eq!(ids.len(), 2);
    assert_ne!(
        ids["site-a"], ids["site-b"],
        "each site has its own Keystone"
    );
    assert_eq!(
        sim.project_id("site-b", "tenant3").as_ref(),
        Some(&ids["site-b"])
    );
    assert_eq!(
        sim.add_project("tenant3").unwrap_err().kind(),
        ErrorKind::AlreadyExists
    );

    let server = sim
        .add_server(&web_vm("t3-app", "tenant3", "10.10.1.60"))
        .unwrap();
    assert_eq!(server.status, ServerStatus::Active);
    assert_eq!(server.project_id, ids["site-a"]);
    let inventory = sim.inspect();
    let volumes: Vec<_> = inventory.sites["site-a"]
        .volumes
        .iter()
        .filter(|v| v.name == "t3-app-root")
        .collect();
    assert_eq!(volumes.len(), 1);
    assert_eq!(volumes[0].status, "in-use");
    assert_eq!(volumes[0].project_id, ids["site-a"]);
    assert!(volumes[0].fingerprint.is_some_and(|f| f > 0));

    // Wrong input is refused and adds nothing.
    let before = sim.inspect();
    let taken = sim
        .add_server(&web_vm("dup", "tenant3", "10.10.1.60"))
        .unwrap_err();
    assert_eq!(taken.kind(), ErrorKind::Conflict, "{taken}");
    let outside = sim
        .add_server(&web_vm("far", "tenant3", "10.99.0.5"))
        .unwrap_err();
    assert_eq!(outside.kind(), ErrorKind::InvalidInput, "{outside}");
    let nobody = sim
        .add_server(&web_vm("x", "no-such-project", "10.10.1.61"))
        .unwrap_err();
    assert_eq!(nobody.kind(), ErrorKind::NotFound, "{nobody}");
    assert_eq!(sim.inspect(), before);
}

#[tokio::test]
async fn clients_scoped_to_another_project_need_a_role_there_and_create_in_it() {
    let sim = Simulator::in_memory().unwrap();
    let connector = sim.connector();
    let site_b = site_model(&sim, "site-b", None);
    let tenant2 = sim.project_id("site-b", "tenant2").unwrap();

    // The seeded admin has no role in tenant2: Keystone refuses the scope.
    let scoped = connector.site_for_project(&site_b, &tenant2).await.unwrap();
    let refused = scoped.identity.authenticate().await.unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Unauthenticated);

    sim.grant_roles("site-b", "admin", "tenant2", &["admin", "member"])
        .unwrap();
    let auth = scoped.identity.authenticate().await.unwrap();
    assert_eq!(auth.user_name, "admin");
    assert_eq!(auth.project_id, tenant2);
    assert!(auth.has_role("admin"));

    // What the scoped clients create belongs to tenant2; the default clients still act in
    // production-project.
    let network = scoped
        .network
        .find_network("net-secondary-web")
        .await
        .unwrap()
        .unwrap();
    let port = scoped
        .network
        .create_port(&CreatePort {
            network_id: network.id.clone(),
            name: "t2-port".into(),
            fixed_ips: Vec::new(),
            security_group_ids: Vec::new(),
            description: String::new(),
        })
        .await
        .unwrap();
    assert_eq!(port.project_id, tenant2);
    let groups = scoped.network.list_security_groups().await.unwrap();
    assert!(groups.iter().all(|g| g.project_id == tenant2));
    let default = connector.site(&site_b).await.unwrap();
    let own = default.identity.authenticate().await.unwrap();
    assert_eq!(
        Some(own.project_id),
        sim.project_id("site-b", "production-project")
    );
}
