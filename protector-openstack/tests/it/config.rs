//! clouds.yaml, secure.yaml and OS_* variables, from files in a temporary directory and an
//! environment given as a map (the process environment is never touched).

use std::fs;
use std::path::Path;

use protector_core::model::Secret;
use protector_core::ErrorKind;
use protector_openstack::config::{
    ApplicationCredentialRef, AuthMethod, DomainRef, Interface, ProjectRef, UserRef,
};
use protector_openstack::{CloudConfig, ConfigLoader, OpenStackCloud, ServiceType};

const CLOUDS: &str = r#"
clouds:
  site-a:
    auth:
      auth_url: https://keystone-a.example.com:5000/v3
      username: admin
      project_name: tenant
      user_domain_name: Default
      project_domain_id: default
    region_name: RegionOne
    interface: internal
    cacert: certs/ca.pem
    block_storage_endpoint_override: https://cinder-a.example.com/v3/$(project_id)s
  site-b-appcred:
    auth_type: v3applicationcredential
    auth:
      auth_url: https://keystone-b.example.com:5000
      application_credential_id: 6d0b
    regions: [RegionTwo, RegionThree]
    verify: false
  shorthand:
    auth:
      auth-url: https://k/v3
      user-id: u-1
      project_name: p
      domain_name: Corp
      password: inline
"#;

const SECURE: &str = r#"
clouds:
  site-a:
    auth:
      password: from-secure-yaml
  site-b-appcred:
    auth:
      application_credential_secret: app-secret
"#;

fn write(dir: &Path, name: &str, text: &str) {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join(name), text).unwrap();
}

fn loader(cwd: &Path, env: &[(&str, &str)]) -> ConfigLoader {
    ConfigLoader::new(env.iter().copied())
        .with_current_dir(cwd)
        .with_system_dir(cwd.join("etc-openstack"))
}

#[test]
fn a_named_cloud_merges_secure_yaml_and_reads_its_settings() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "clouds.yaml", CLOUDS);
    write(dir.path(), "secure.yaml", SECURE);
    let config = loader(dir.path(), &[("OS_CLOUD", "site-a")])
        .load(None)
        .unwrap();
    let expected = CloudConfig::new(
        "site-a",
        "https://keystone-a.example.com:5000/v3",
        AuthMethod::Password {
            user: UserRef::Name {
                name: "admin".into(),
                domain: DomainRef::Name("Default".into()),
            },
            password: Secret::new("from-secure-yaml"),
            project: Some(ProjectRef::Name {
                name: "tenant".into(),
                domain: DomainRef::Id("default".into()),
            }),
        },
    )
    .with_region("RegionOne")
    .with_interface(Interface::Internal)
    .with_cacert(dir.path().join("certs/ca.pem"))
    .with_endpoint_override(
        ServiceType::BlockStorage,
        "https://cinder-a.example.com/v3/$(project_id)s",
    );
    assert_eq!(config, expected);
    assert!(config.verify());
}

#[test]
fn application_credentials_regions_list_and_verify_false() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "clouds.yaml", CLOUDS);
    write(dir.path(), "secure.yaml", SECURE);
    let config = loader(dir.path(), &[])
        .load(Some("site-b-appcred"))
        .unwrap();
    assert_eq!(
        config.auth(),
        &AuthMethod::ApplicationCredential {
            credential: ApplicationCredentialRef::Id("6d0b".into()),
            secret: Secret::new("app-secret"),
        }
    );
    assert_eq!(config.region_name(), Some("RegionTwo"));
    assert!(!config.verify());
    assert_eq!(config.interface(), Interface::Public);
}

#[test]
fn hyphenated_keys_and_the_domain_shorthand() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "clouds.yaml", CLOUDS);
    let config = loader(dir.path(), &[]).load(Some("shorthand")).unwrap();
    assert_eq!(
        config.auth(),
        &AuthMethod::Password {
            user: UserRef::Id("u-1".into()),
            password: Secret::new("inline"),
            project: Some(ProjectRef::Name {
                name: "p".into(),
                domain: DomainRef::Name("Corp".into()),
            }),
        }
    );
}

#[test]
fn the_search_order_is_the_cli_s() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let one = |name: &str| {
        format!(
            "clouds:\n  c:\n    auth: {{auth_url: https://{name}/v3, user_id: u, password: p}}\n"
        )
    };
    let home = root.join("home");
    let cwd = root.join("cwd");
    write(&cwd.join("etc-openstack"), "clouds.yaml", &one("system"));
    let env_home = [("HOME", home.to_str().unwrap())];
    let url = |env: &[(&str, &str)]| {
        loader(&cwd, env)
            .load(Some("c"))
            .unwrap()
            .auth_url()
            .to_string()
    };
    assert_eq!(url(&env_home), "https://system/v3");
    write(&home.join(".config/openstack"), "clouds.yml", &one("home"));
    assert_eq!(url(&env_home), "https://home/v3");
    let xdg = root.join("xdg");
    write(&xdg.join("openstack"), "clouds.yaml", &one("xdg"));
    assert_eq!(
        url(&[
            ("HOME", home.to_str().unwrap()),
            ("XDG_CONFIG_HOME", xdg.to_str().unwrap())
        ]),
        "https://xdg/v3"
    );
    write(&cwd, "clouds.yaml", &one("cwd"));
    assert_eq!(url(&env_home), "https://cwd/v3");
    let explicit = root.join("explicit.json");
    fs::write(
        &explicit,
        r#"{"clouds": {"c": {"auth": {"auth_url": "https://explicit/v3", "user_id": "u", "password": "p"}}}}"#,
    )
    .unwrap();
    assert_eq!(
        url(&[("OS_CLIENT_CONFIG_FILE", explicit.to_str().unwrap())]),
        "https://explicit/v3"
    );
}

#[test]
fn os_variables_describe_the_cloud_when_none_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("OS_AUTH_URL", "https://keystone.example.com/v3"),
        ("OS_USERNAME", "admin"),
        ("OS_PASSWORD", "env-password"),
        ("OS_PROJECT_ID", "p-1"),
        ("OS_USER_DOMAIN_ID", "default"),
        ("OS_REGION_NAME", "RegionOne"),
        ("OS_INTERFACE", "publicURL"),
        ("OS_INSECURE", "true"),
        ("OS_CACERT", "/etc/ssl/ca.pem"),
    ];
    let config = loader(dir.path(), &env).load(None).unwrap();
    assert_eq!(config.name(), "envvars");
    assert_eq!(
        config.auth(),
        &AuthMethod::Password {
            user: UserRef::Name {
                name: "admin".into(),
                domain: DomainRef::Id("default".into()),
            },
            password: Secret::new("env-password"),
            project: Some(ProjectRef::Id("p-1".into())),
        }
    );
    assert_eq!(config.region_name(), Some("RegionOne"));
    assert_eq!(config.interface(), Interface::Public);
    assert!(!config.verify());
    assert_eq!(config.cacert().unwrap(), Path::new("/etc/ssl/ca.pem"));

    let env = [
        ("OS_AUTH_URL", "https://keystone.example.com/v3"),
        ("OS_AUTH_TYPE", "v3applicationcredential"),
        ("OS_APPLICATION_CREDENTIAL_NAME", "dr"),
        ("OS_APPLICATION_CREDENTIAL_SECRET", "s"),
        ("OS_USER_ID", "u-9"),
    ];
    let config = loader(dir.path(), &env).load(None).unwrap();
    assert_eq!(
        config.auth(),
        &AuthMethod::ApplicationCredential {
            credential: ApplicationCredentialRef::Name {
                name: "dr".into(),
                user: UserRef::Id("u-9".into()),
            },
            secret: Secret::new("s"),
        }
    );
}

#[test]
fn a_named_cloud_does_not_take_os_variables() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "clouds.yaml", CLOUDS);
    let env = [("OS_CLOUD", "site-a"), ("OS_PASSWORD", "env-password")];
    let err = loader(dir.path(), &env).load(None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConfigInvalid);
    assert!(
        err.message()
            .ends_with("auth.password is missing; put it in secure.yaml or OS_PASSWORD"),
        "{err}"
    );
}

#[test]
fn configuration_errors_name_the_file_the_cloud_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let none = loader(dir.path(), &[]).load(Some("x")).unwrap_err();
    assert_eq!(none.kind(), ErrorKind::ConfigInvalid);
    assert!(
        none.message()
            .starts_with("no clouds.yaml found (searched "),
        "{none}"
    );
    assert!(none.message().contains("clouds.yaml"), "{none}");

    let unselected = loader(dir.path(), &[]).load(None).unwrap_err();
    assert!(
        unselected.message().starts_with("no cloud selected"),
        "{unselected}"
    );

    write(dir.path(), "clouds.yaml", CLOUDS);
    let clouds_path = dir.path().join("clouds.yaml");
    let unknown = loader(dir.path(), &[]).load(Some("nope")).unwrap_err();
    assert_eq!(
        unknown.message(),
        format!(
            "cloud 'nope' is not in {} (clouds: shorthand, site-a, site-b-appcred); add it or pick another with OS_CLOUD",
            clouds_path.display()
        )
    );

    let bad = "clouds:\n  c1:\n    auth_type: oidcpassword\n    auth: {auth_url: https://k/v3}\n  c2:\n    auth: {auth_url: https://k/v3, username: u, password: p}\n  c3:\n    auth: {auth_url: 'not a url', user_id: u, password: p}\n  c4:\n    interface: sideways\n    auth: {auth_url: https://k/v3, user_id: u, password: p}\n";
    write(dir.path(), "clouds.yaml", bad);
    let message = |cloud: &str| {
        loader(dir.path(), &[])
            .load(Some(cloud))
            .unwrap_err()
            .message()
            .to_string()
    };
    assert!(message("c1").ends_with(
        "auth_type 'oidcpassword' is not supported; use password, v3applicationcredential or token"
    ));
    assert!(message("c2")
        .ends_with("username needs user_domain_name or user_domain_id (OS_USER_DOMAIN_NAME)"));
    assert!(message("c3").starts_with("cloud 'c3': auth_url is not a valid URL"));
    assert!(message("c4").ends_with("interface 'sideways' is not one of public, internal, admin"));

    write(dir.path(), "clouds.yaml", "clouds: [unclosed");
    let broken = loader(dir.path(), &[]).load(Some("c")).unwrap_err();
    assert!(broken.message().contains("is not valid"), "{broken}");
}

#[test]
fn cloud_names_lists_the_entries() {
    let dir = tempfile::tempdir().unwrap();
    assert!(loader(dir.path(), &[]).cloud_names().unwrap().is_empty());
    write(dir.path(), "clouds.yaml", CLOUDS);
    assert_eq!(
        loader(dir.path(), &[]).cloud_names().unwrap(),
        ["shorthand", "site-a", "site-b-appcred"]
    );
}

#[test]
fn a_cacert_must_exist_and_hold_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let base = || {
        CloudConfig::new(
            "c",
            "https://k/v3",
            AuthMethod::Password {
                user: UserRef::Id("u".into()),
                password: Secret::new("p"),
                project: None,
            },
        )
    };
    let missing = OpenStackCloud::new(base().with_cacert(dir.path().join("nope.pem"))).unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::ConfigInvalid);
    assert!(
        missing.message().contains("cannot read cacert"),
        "{missing}"
    );
    fs::write(dir.path().join("junk.pem"), "not a certificate").unwrap();
    let junk = OpenStackCloud::new(base().with_cacert(dir.path().join("junk.pem"))).unwrap_err();
    assert!(
        junk.message().contains("holds no PEM certificate"),
        "{junk}"
    );
    let ca = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ca.pem");
    OpenStackCloud::new(base().with_cacert(ca)).unwrap();
}
