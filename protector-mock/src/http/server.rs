//! [`SimServer`]: both simulated sites on loopback. Per site one HTTP listener serving Keystone,
//! Nova, Cinder and Neutron under path prefixes, and one HTTPS listener serving the site's
//! FlashArray; `clouds.yaml`, `arrays.json` and `ports.json` written to the server's directory.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, Mutex};
use tokio::task::JoinHandle;

use protector_core::{Error, ErrorKind, Result};

use super::connection::{ConnectionInfo, SimListener};
use super::openstack::{self, SiteContext};
use super::requests::{self, Recorder, RequestLog};
use crate::state::SITES;
use crate::Simulator;

/// How often a running server looks for fault changes made by another process (site or array
/// taken down or brought back).
const FAULT_POLL: Duration = Duration::from_millis(100);

/// The ports of one site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SitePorts {
    /// Keystone, Nova, Cinder and Neutron (HTTP).
    pub openstack: u16,
    /// The FlashArray REST API (HTTPS).
    pub array: u16,
}

/// The ports of both sites (`DIR/ports.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServePorts {
    /// `site-a`.
    #[serde(rename = "site-a")]
    pub site_a: SitePorts,
    /// `site-b`.
    #[serde(rename = "site-b")]
    pub site_b: SitePorts,
}

impl ServePorts {
    /// The ports of `site`.
    pub fn site(&self, site: &str) -> Option<SitePorts> {
        match site {
            "site-a" => Some(self.site_a),
            "site-b" => Some(self.site_b),
            _ => None,
        }
    }
}

/// Where and how to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeOptions {
    /// Directory for `clouds.yaml`, `arrays.json`, `ports.json` and the arrays' certificate.
    /// The simulator's state file is the caller's choice ([`ServeOptions::state_file`] is the
    /// conventional place).
    pub dir: PathBuf,
    /// Address to listen on (default 127.0.0.1); URLs name 127.0.0.1 when it is unspecified.
    pub bind: IpAddr,
    /// Fixed ports (an error if one is taken). `None`: the ports of the last run on `dir`
    /// (`ports.json`) when they are free, else ephemeral ones.
    pub ports: Option<ServePorts>,
}

impl ServeOptions {
    /// Serve from `dir` on 127.0.0.1, on the previous ports or ephemeral ones.
    pub fn new(dir: impl Into<PathBuf>) -> ServeOptions {
        ServeOptions {
            dir: dir.into(),
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            ports: None,
        }
    }

    /// `dir/sim.db`, the state file `protector sim serve` keeps in its directory.
    pub fn state_file(dir: &Path) -> PathBuf {
        dir.join("sim.db")
    }
}

/// A running HTTP listener.
struct HttpListener {
    stop: oneshot::Sender<()>,
    closed: oneshot::Receiver<()>,
}

impl HttpListener {
    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.closed.await;
    }
}

/// A running HTTPS listener.
struct HttpsListener {
    handle: axum_server::Handle<SocketAddr>,
    task: Option<JoinHandle<()>>,
}

impl HttpsListener {
    async fn stop(mut self) {
        self.handle.shutdown();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for HttpsListener {
    fn drop(&mut self) {
        self.handle.shutdown();
    }
}

/// One site's listeners; `None` while the site (or its array) is down.
struct SiteListeners {
    ports: SitePorts,
    openstack: Option<HttpListener>,
    array: Option<HttpsListener>,
}

struct Shared {
    sim: Simulator,
    bind: IpAddr,
    host: String,
    tls: Arc<rustls::ServerConfig>,
    sites: Mutex<BTreeMap<String, SiteListeners>>,
    requests: RequestLog,
}

/// Both simulated sites served on loopback until [`SimServer::shutdown`] (or drop).
///
/// ```no_run
/// # async fn demo() -> protector_core::Result<()> {
/// use protector_mock::http::{ServeOptions, SimServer};
/// use protector_mock::Simulator;
///
/// let dir = std::path::Path::new("/tmp/sim");
/// std::fs::create_dir_all(dir).unwrap();
/// let sim = Simulator::open(&ServeOptions::state_file(dir))?;
/// let server = SimServer::start(sim, ServeOptions::new(dir)).await?;
/// println!("{}", server.auth_url("site-a").unwrap()); // http://127.0.0.1:PORT/identity/v3
/// server.shutdown().await;
/// # Ok(()) }
/// ```
///
/// Site and array faults show on the wire: a site that is down has its OpenStack listener
/// closed (connections are refused) and an array that is down its HTTPS listener; the server
/// notices changes made by another process within 100 ms ([`SimServer::sync_faults`] applies
/// them at once).
pub struct SimServer {
    shared: Arc<Shared>,
    dir: PathBuf,
    ports: ServePorts,
    ca_file: PathBuf,
    watcher: JoinHandle<()>,
}

impl std::fmt::Debug for SimServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimServer")
            .field("dir", &self.dir)
            .field("ports", &self.ports)
            .finish()
    }
}

fn io_error(what: &str, e: std::io::Error) -> Error {
    Error::new(ErrorKind::ConfigInvalid, format!("{what}: {e}"))
}

/// Writes `text` to `path` atomically (a reader never sees half a file).
fn write_file(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| io_error(&format!("cannot write {}", path.display()), e))
}

async fn bind(ip: IpAddr, port: u16) -> std::io::Result<TcpListener> {
    TcpListener::bind(SocketAddr::new(ip, port)).await
}

/// Binds `wanted` if given and free; a remembered port that is taken falls back to an
/// ephemeral one, a required one is an error.
async fn bind_port(ip: IpAddr, wanted: Option<u16>, required: bool) -> Result<TcpListener> {
    if let Some(port) = wanted {
        match bind(ip, port).await {
            Ok(listener) => return Ok(listener),
            Err(e) if required => {
                return Err(io_error(&format!("cannot listen on {ip}:{port}"), e));
            }
            Err(_) => {}
        }
    }
    bind(ip, 0)
        .await
        .map_err(|e| io_error(&format!("cannot listen on {ip}"), e))
}

impl SimServer {
    /// Serves both sites of `sim` as `options` say, writes `clouds.yaml`, `arrays.json` and
    /// `ports.json` to `options.dir`, and returns once every listener accepts connections.
    pub async fn start(sim: Simulator, options: ServeOptions) -> Result<SimServer> {
        std::fs::create_dir_all(&options.dir).map_err(|e| {
            io_error(
                &format!("cannot create the directory {}", options.dir.display()),
                e,
            )
        })?;
        // States saved before the wire face existed lack passwords and the like.
        sim.update_world(crate::seed::complete_wire_inventory)?;
        let (tls, ca_file) = super::tls::server_config(&options.dir)?;
        let ports_file = options.dir.join("ports.json");
        let remembered: Option<ServePorts> = std::fs::read_to_string(&ports_file)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok());
        let required = options.ports.is_some();
        let wanted = options.ports.or(remembered);

        let host = if options.bind.is_unspecified() {
            "127.0.0.1".to_string()
        } else {
            match options.bind {
                IpAddr::V6(v6) => format!("[{v6}]"),
                v4 => v4.to_string(),
            }
        };
        let shared = Arc::new(Shared {
            sim,
            bind: options.bind,
            host,
            tls,
            sites: Mutex::new(BTreeMap::new()),
            requests: RequestLog::default(),
        });
        let mut ports = BTreeMap::new();
        {
            let mut sites = shared.sites.lock().await;
            for site in SITES {
                let wanted_ports = wanted.and_then(|p| p.site(site));
                let openstack =
                    bind_port(options.bind, wanted_ports.map(|p| p.openstack), required).await?;
                let array =
                    bind_port(options.bind, wanted_ports.map(|p| p.array), required).await?;
                let site_ports = SitePorts {
                    openstack: local_port(&openstack)?,
                    array: local_port(&array)?,
                };
                ports.insert(site, site_ports);
                let (down, array_down) = shared.sim.read_world(|w| {
                    (
                        w.faults.sites_down.contains(site),
                        w.faults.arrays_down.contains(site),
                    )
                });
                let openstack = if down {
                    None
                } else {
                    Some(shared.serve_openstack(site, openstack, site_ports.openstack))
                };
                let array = if array_down {
                    None
                } else {
                    Some(shared.serve_array(site, array)?)
                };
                sites.insert(
                    site.to_string(),
                    SiteListeners {
                        ports: site_ports,
                        openstack,
                        array,
                    },
                );
            }
        }
        let ports = ServePorts {
            site_a: ports["site-a"],
            site_b: ports["site-b"],
        };
        let server = SimServer {
            watcher: tokio::spawn(watch_faults(Arc::downgrade(&shared))),
            shared,
            dir: options.dir.clone(),
            ports,
            ca_file,
        };
        let ports_json = serde_json::to_string_pretty(&ports)
            .map_err(|e| Error::unexpected(format!("ports cannot be written: {e}")))?;
        write_file(&ports_file, &(ports_json + "\n"))?;
        write_file(&server.clouds_yaml(), &server.render_clouds_yaml())?;
        write_file(&server.arrays_json(), &server.render_arrays_json()?)?;
        Ok(server)
    }

    /// The directory the server writes its files to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `DIR/clouds.yaml`.
    pub fn clouds_yaml(&self) -> PathBuf {
        self.dir.join("clouds.yaml")
    }

    /// `DIR/arrays.json`.
    pub fn arrays_json(&self) -> PathBuf {
        self.dir.join("arrays.json")
    }

    /// The PEM file that verifies the arrays' certificate.
    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }

    /// The ports in use.
    pub fn ports(&self) -> ServePorts {
        self.ports
    }

    /// `http://HOST:PORT`, the root of the OpenStack services of `site`.
    pub fn base_url(&self, site: &str) -> Option<String> {
        let ports = self.ports.site(site)?;
        Some(format!("http://{}:{}", self.shared.host, ports.openstack))
    }

    /// Keystone's URL for clouds.yaml: `http://HOST:PORT/identity/v3`.
    pub fn auth_url(&self, site: &str) -> Option<String> {
        Some(format!("{}/identity/v3", self.base_url(site)?))
    }

    /// The FlashArray REST URL of `site`: `https://HOST:PORT`.
    pub fn array_url(&self, site: &str) -> Option<String> {
        let ports = self.ports.site(site)?;
        Some(format!("https://{}:{}", self.shared.host, ports.array))
    }

    /// The requests served so far, both sites, every service, in arrival order (see
    /// [`RequestLog`]): how a test counts round trips.
    pub fn requests(&self) -> &RequestLog {
        &self.shared.requests
    }

    /// Opens or closes listeners to match the current faults (site down: its OpenStack
    /// listener closed; array down: its HTTPS listener closed). The server does this by itself
    /// every 100 ms; call it to apply a change made through the [`Simulator`] at once.
    pub async fn sync_faults(&self) {
        self.shared.sync_faults().await;
    }

    /// Stops every listener and waits until they are closed.
    pub async fn shutdown(self) {
        self.watcher.abort();
        let mut sites = self.shared.sites.lock().await;
        for listeners in sites.values_mut() {
            if let Some(l) = listeners.openstack.take() {
                l.stop().await;
            }
            if let Some(l) = listeners.array.take() {
                l.stop().await;
            }
        }
    }

    fn render_clouds_yaml(&self) -> String {
        let entries = self.shared.sim.read_world(|world| {
            let mut entries = Vec::new();
            for site in SITES {
                for (suffix, user, project) in [
                    ("", "admin", "production-project"),
                    ("-member", "member-user", "production-project"),
                    ("-tenant2", "tenant2-user", "tenant2"),
                ] {
                    let password = world
                        .users
                        .find(|u| u.site == site && u.name == user)
                        .map(|u| u.password.clone())
                        .unwrap_or_default();
                    entries.push(CloudEntry::Password {
                        name: format!("{site}{suffix}"),
                        site,
                        user: user.to_string(),
                        password,
                        project: project.to_string(),
                    });
                }
                // The DR admin in each project of a scale seed (`Simulator::seed_scale`).
                let scale_projects = world
                    .meta
                    .scale_seed
                    .as_ref()
                    .map(|seed| seed.project_names())
                    .unwrap_or_default();
                for project in scale_projects {
                    let password = world
                        .users
                        .find(|u| u.site == site && u.name == "admin")
                        .map(|u| u.password.clone())
                        .unwrap_or_default();
                    entries.push(CloudEntry::Password {
                        name: format!("{site}-{project}"),
                        site,
                        user: "admin".to_string(),
                        password,
                        project,
                    });
                }
                if let Some(credential) = world
                    .application_credentials
                    .find(|c| c.site == site && c.name == crate::seed::APP_CREDENTIAL_NAME)
                {
                    entries.push(CloudEntry::AppCredential {
                        name: format!("{site}-appcred"),
                        site,
                        id: credential.id.clone(),
                        secret: crate::seed::app_credential_secret(world, site),
                    });
                }
            }
            entries
        });
        let mut out = String::from(
            "# Written by protector's simulator. Entries per site: <site> (admin of\n\
             # production-project), <site>-member (member only), <site>-tenant2 (member of tenant2),\n\
             # <site>-appcred (the admin's application credential), <site>-<project> (the admin\n\
             # in each project of a scale seed). The credentials are the\n\
             # simulator's seeded ones.\nclouds:\n",
        );
        for entry in entries {
            let (name, site) = match &entry {
                CloudEntry::Password { name, site, .. }
                | CloudEntry::AppCredential { name, site, .. } => (name, *site),
            };
            let auth_url = self.auth_url(site).unwrap_or_default();
            out.push_str(&format!("  {}:\n", yaml_str(name)));
            match &entry {
                CloudEntry::Password {
                    user,
                    password,
                    project,
                    ..
                } => {
                    out.push_str("    auth:\n");
                    for (key, value) in [
                        ("auth_url", auth_url.as_str()),
                        ("username", user),
                        ("password", password),
                        ("project_name", project),
                        ("user_domain_name", "Default"),
                        ("project_domain_name", "Default"),
                    ] {
                        out.push_str(&format!("      {key}: {}\n", yaml_str(value)));
                    }
                }
                CloudEntry::AppCredential { id, secret, .. } => {
                    out.push_str("    auth_type: \"v3applicationcredential\"\n    auth:\n");
                    for (key, value) in [
                        ("auth_url", auth_url.as_str()),
                        ("application_credential_id", id),
                        ("application_credential_secret", secret),
                    ] {
                        out.push_str(&format!("      {key}: {}\n", yaml_str(value)));
                    }
                }
            }
            out.push_str(
                "    region_name: \"RegionOne\"\n    interface: \"public\"\n    identity_api_version: 3\n",
            );
        }
        out
    }

    fn render_arrays_json(&self) -> Result<String> {
        let tokens = self.shared.sim.read_world(|world| {
            SITES
                .iter()
                .map(|site| {
                    (
                        site.to_string(),
                        world
                            .array_of_site(site)
                            .map(|a| a.api_token.clone())
                            .unwrap_or_default(),
                    )
                })
                .collect::<Vec<_>>()
        });
        let mut arrays = serde_json::Map::new();
        for (site, token) in tokens {
            arrays.insert(
                site.clone(),
                serde_json::json!({
                    "url": self.array_url(&site),
                    "api_token": token,
                    "ca_file": self.ca_file.display().to_string(),
                }),
            );
        }
        serde_json::to_string_pretty(&arrays)
            .map(|s| s + "\n")
            .map_err(|e| Error::unexpected(format!("arrays.json cannot be written: {e}")))
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        self.watcher.abort();
    }
}

enum CloudEntry {
    Password {
        name: String,
        site: &'static str,
        user: String,
        password: String,
        project: String,
    },
    AppCredential {
        name: String,
        site: &'static str,
        id: String,
        secret: String,
    },
}

/// A double-quoted YAML scalar (JSON string syntax is valid YAML).
fn yaml_str(value: &str) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "\"\"".to_string())
}

fn local_port(listener: &TcpListener) -> Result<u16> {
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| io_error("listener address", e))
}

impl Shared {
    fn recorder(&self, site: &str, array: bool) -> Recorder {
        Recorder {
            log: self.requests.clone(),
            site: site.to_string(),
            array,
        }
    }

    fn serve_openstack(&self, site: &str, listener: TcpListener, port: u16) -> HttpListener {
        let ctx = SiteContext {
            sim: self.sim.clone(),
            site: site.to_string(),
            base_url: format!("http://{}:{port}", self.host),
        };
        let app = openstack::router(ctx).layer(axum::middleware::from_fn_with_state(
            self.recorder(site, false),
            requests::record,
        ));
        let (listener, closed) = SimListener::new(listener);
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let served = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<ConnectionInfo>(),
            )
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await;
            if let Err(e) = served {
                tracing::warn!(error = %e, "simulated OpenStack listener failed");
            }
        });
        HttpListener { stop, closed }
    }

    fn serve_array(&self, site: &str, listener: TcpListener) -> Result<HttpsListener> {
        let router = super::flasharray::router(self.sim.clone(), site.to_string()).layer(
            axum::middleware::from_fn_with_state(self.recorder(site, true), requests::record),
        );
        let listener = listener
            .into_std()
            .map_err(|e| io_error("array listener", e))?;
        let config = axum_server::tls_rustls::RustlsConfig::from_config(self.tls.clone());
        let handle = axum_server::Handle::new();
        let server = axum_server::from_tcp_rustls(listener, config)
            .map_err(|e| io_error("array listener", e))?
            .handle(handle.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = server.serve(router.into_make_service()).await {
                tracing::warn!(error = %e, "simulated FlashArray listener failed");
            }
        });
        Ok(HttpsListener {
            handle,
            task: Some(task),
        })
    }

    async fn sync_faults(&self) {
        let (sites_down, arrays_down) = self
            .sim
            .read_world(|w| (w.faults.sites_down.clone(), w.faults.arrays_down.clone()));
        let mut sites = self.sites.lock().await;
        for (site, listeners) in sites.iter_mut() {
            let down = sites_down.contains(site);
            match (down, listeners.openstack.is_some()) {
                (true, true) => {
                    if let Some(l) = listeners.openstack.take() {
                        l.stop().await;
                    }
                }
                (false, false) => match bind(self.bind, listeners.ports.openstack).await {
                    Ok(l) => {
                        listeners.openstack =
                            Some(self.serve_openstack(site, l, listeners.ports.openstack))
                    }
                    Err(e) => {
                        tracing::warn!(site, error = %e, "cannot reopen the OpenStack listener")
                    }
                },
                _ => {}
            }
            let down = arrays_down.contains(site);
            match (down, listeners.array.is_some()) {
                (true, true) => {
                    if let Some(l) = listeners.array.take() {
                        l.stop().await;
                    }
                }
                (false, false) => {
                    let reopened = match bind(self.bind, listeners.ports.array).await {
                        Ok(l) => self.serve_array(site, l),
                        Err(e) => Err(io_error("array listener", e)),
                    };
                    match reopened {
                        Ok(l) => listeners.array = Some(l),
                        Err(e) => {
                            tracing::warn!(site, error = %e, "cannot reopen the array listener")
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

/// Applies fault changes (from this process or another on the same state) until the server
/// goes away.
async fn watch_faults(shared: std::sync::Weak<Shared>) {
    loop {
        tokio::time::sleep(FAULT_POLL).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        shared.sync_faults().await;
    }
}
