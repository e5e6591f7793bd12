//! Protector's metadata in a local state directory: one SQLite store per site
//! (`<site>.db`) and the key that encrypts the secrets in them (`secret.key`). What the CLI
//! and the Python module open when a caller stands on a site from one machine.
//!
//! [`StateDir::open`] finds the stores there, opens the local site's and those of every site
//! it knows, and builds the engine over them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::api::Connector;
use crate::engine::{EngineOptions, RegisterSite};
use crate::error::{Error, ErrorKind, Hint, Result};
use crate::model::Site;
use crate::store::{check_site_name, SecretKey, SqliteStore, Store};
use crate::Protector;

/// A state directory (it need not exist yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateDir {
    path: PathBuf,
}

/// What [`StateDir::open`] needs besides the directory.
#[derive(Debug, Clone)]
pub struct OpenState {
    /// The site the caller stands on.
    pub local_site: String,
    /// Stores to open besides those found (created when missing): sites about to be
    /// registered.
    pub extra_sites: Vec<String>,
    /// Whether the transport has credentials for `local_site` (a clouds.yaml entry of that
    /// name): then its store may be created before the site is registered anywhere.
    pub local_site_configured: bool,
    /// A file in the directory that is not a store although it ends in `.db` (a simulator's
    /// state kept beside the stores).
    pub skip: Option<PathBuf>,
    /// Engine tunables.
    pub options: EngineOptions,
}

/// An engine over a state directory, with the stores it opened. Built by [`StateDir::open`]
/// only (`non_exhaustive`: more of what was opened may come).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LocalEngine {
    /// The engine.
    pub protector: Protector,
    /// Every store opened, by site.
    pub stores: BTreeMap<String, Arc<dyn Store>>,
    /// The sites whose store is their protector-api (site mode), with its URL; the others'
    /// stores are files in the state directory.
    pub services: BTreeMap<String, String>,
}

impl LocalEngine {
    /// Whether operations submitted here are run by the local site's protector-engine
    /// workers (its store is its protector-api), rather than by the caller's process.
    pub fn operations_run_on_site(&self) -> bool {
        self.protector.operations_run_on_site()
    }
}

impl StateDir {
    /// The state directory at `path`.
    pub fn new(path: impl Into<PathBuf>) -> StateDir {
        StateDir { path: path.into() }
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The default location: `$XDG_DATA_HOME/protector`, else `~/.local/share/protector`.
    pub fn default_location() -> Result<StateDir> {
        if let Some(data) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
            return Ok(StateDir::new(PathBuf::from(data).join("protector")));
        }
        if let Some(home) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            return Ok(StateDir::new(
                PathBuf::from(home).join(".local/share/protector"),
            ));
        }
        Err(Error::new(
            ErrorKind::ConfigInvalid,
            "cannot find a state directory: HOME is not set",
        )
        .with_hint(Hint::UseStateDir))
    }

    /// Where the background run of operation `id` writes its output
    /// (`<dir>/operations/op-<id>.log`).
    pub fn operation_log(&self, id: &uuid::Uuid) -> PathBuf {
        self.path.join("operations").join(format!("op-{id}.log"))
    }

    /// Opens the stores and builds the engine standing on `request.local_site`.
    ///
    /// `NotFound` when the local site has no store here, is registered in none, and the
    /// transport has no credentials of that name; `ConfigInvalid` when the directory cannot
    /// be created or read, or the key is missing while stores exist (a new key could not
    /// read their secrets); `InvalidInput` for a site name that cannot name a file.
    pub async fn open(
        &self,
        request: OpenState,
        connector: Arc<dyn Connector>,
    ) -> Result<LocalEngine> {
        let local = check_site_name(&request.local_site)?.to_string();
        let mut names: BTreeSet<String> = BTreeSet::new();
        names.insert(local.clone());
        for site in &request.extra_sites {
            names.insert(check_site_name(site)?.to_string());
        }
        let existing = if self.path.is_dir() {
            self.site_stores(request.skip.as_deref())?
        } else {
            Vec::new()
        };
        let local_known = existing.contains(&local)
            || request.extra_sites.contains(&local)
            || request.local_site_configured;
        if !local_known && existing.is_empty() {
            return Err(self.unknown_site(&local));
        }

        std::fs::create_dir_all(&self.path).map_err(|e| {
            Error::new(
                ErrorKind::ConfigInvalid,
                format!(
                    "cannot create the state directory {}: {e}",
                    self.path.display()
                ),
            )
            .with_hint(Hint::UseStateDir)
        })?;
        let key = self.load_key(&existing)?;
        let mut services = BTreeMap::new();
        // Site mode: a site without a store file here whose protector-api is known or found.
        for site in &names {
            if let Some(url) = self.service_of(site, &existing, connector.as_ref()).await? {
                services.insert(site.clone(), url);
            }
        }
        let local_known = local_known || services.contains_key(&local);
        let open = |site: &str| -> Result<Arc<dyn Store>> {
            let path = self.path.join(format!("{site}.db"));
            Ok(Arc::new(SqliteStore::open(&path, key.clone())?) as Arc<dyn Store>)
        };
        let mut stores = BTreeMap::new();
        for (site, url) in &services {
            stores.insert(site.clone(), connector.metadata_store(site, url).await?);
        }

        if !local_known {
            // Registered in a store of its peer only: look before creating its own.
            let mut registered = false;
            for site in &existing {
                let store = open(site)?;
                registered |= store.list_sites().await?.iter().any(|s| s.name == local);
                stores.insert(site.clone(), store);
            }
            if !registered {
                return Err(self.unknown_site(&local));
            }
        }
        names.extend(existing.iter().cloned());

        let local_store = match stores.get(&local) {
            Some(store) => store.clone(),
            None => open(&local)?,
        };
        let mut registered = BTreeSet::new();
        for site in local_store.list_sites().await? {
            if check_site_name(&site.name).is_ok() && !names.contains(&site.name) {
                registered.insert(site.name);
            }
        }
        stores.insert(local.clone(), local_store);
        for site in &registered {
            if let Some(url) = self.service_of(site, &existing, connector.as_ref()).await? {
                stores.insert(site.clone(), connector.metadata_store(site, &url).await?);
                services.insert(site.clone(), url);
            }
        }
        names.extend(registered);
        for site in names {
            if let std::collections::btree_map::Entry::Vacant(slot) = stores.entry(site) {
                let store = open(slot.key())?;
                slot.insert(store);
            }
        }

        let mut builder = Protector::builder()
            .with_local_site(local)
            .with_connector(connector)
            .with_options(request.options);
        for (site, store) in &stores {
            builder = builder.with_store(site.clone(), store.clone());
        }
        Ok(LocalEngine {
            protector: builder.build()?,
            stores,
            services,
        })
    }

    /// The protector-api URL of `site` when its metadata lives there (site mode): the one
    /// remembered in `<site>.api` here, else, for a site with no store file here (`existing`),
    /// the one the connector finds (its Keystone catalog), then remembered. A site with a
    /// store file here keeps it (embedded mode). A site whose Keystone cannot be asked now is
    /// taken as embedded only while it was never found to have an API.
    async fn service_of(
        &self,
        site: &str,
        existing: &[String],
        connector: &dyn Connector,
    ) -> Result<Option<String>> {
        let remembered = self.path.join(format!("{site}.api"));
        match std::fs::read_to_string(&remembered) {
            Ok(url) if !url.trim().is_empty() => return Ok(Some(url.trim().to_string())),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(Error::new(
                    ErrorKind::ConfigInvalid,
                    format!("cannot read {}: {e}", remembered.display()),
                ))
            }
        }
        if existing.iter().any(|s| s == site) {
            return Ok(None);
        }
        let found = match connector.metadata_service(site).await {
            Ok(found) => found,
            Err(e) => {
                tracing::debug!(site, error = %e, "cannot look for the site's protector-api; using the embedded store");
                None
            }
        };
        if let Some(url) = &found {
            std::fs::write(&remembered, format!("{url}\n")).map_err(|e| {
                Error::new(
                    ErrorKind::ConfigInvalid,
                    format!("cannot write {}: {e}", remembered.display()),
                )
                .with_hint(Hint::UseStateDir)
            })?;
        }
        Ok(found)
    }

    /// Registers a site (`site create`) in the stores of this directory, standing on
    /// `open.local_site`: opens the engine with the new site's store, registers it, and copies
    /// every registration into each store that lacks it, so that each site's store lists both
    /// sites. Returns the site and the engine reopened with its store.
    ///
    /// A registration that fails leaves no store behind that it created (an `AlreadyExists`
    /// refusal leaves the existing one alone): nothing changes.
    pub async fn register_site(
        &self,
        mut open: OpenState,
        request: RegisterSite,
        connector: Arc<dyn Connector>,
    ) -> Result<(Site, LocalEngine)> {
        let name = check_site_name(&request.name)?.to_string();
        let store_path = self.path.join(format!("{name}.db"));
        let store_existed = store_path.exists();
        open.extra_sites.push(name);
        let engine = self.open(open, connector).await?;
        match engine.protector.register_site(request).await {
            Ok(site) => {
                engine.share_site_registrations().await?;
                Ok((site, engine))
            }
            Err(e) => {
                // Close every store first: the files are removed below.
                drop(engine);
                if !store_existed && e.kind() != ErrorKind::AlreadyExists {
                    for suffix in ["", "-wal", "-shm"] {
                        let _ = std::fs::remove_file(format!("{}{suffix}", store_path.display()));
                    }
                }
                Err(e)
            }
        }
    }

    /// Site names of the `<site>.db` stores in the directory, leaving out `skip`.
    pub fn site_stores(&self, skip: Option<&Path>) -> Result<Vec<String>> {
        let skip = skip.map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf()));
        let entries = std::fs::read_dir(&self.path).map_err(|e| {
            Error::new(
                ErrorKind::ConfigInvalid,
                format!(
                    "cannot read the state directory {}: {e}",
                    self.path.display()
                ),
            )
        })?;
        let mut names = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("db") {
                continue;
            }
            if skip.is_some() && std::fs::canonicalize(&path).ok() == skip {
                continue;
            }
            if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
                if check_site_name(stem).is_ok() {
                    names.push(stem.to_string());
                }
            }
        }
        names.sort();
        Ok(names)
    }

    /// The key of the stores here; created only when there is no store yet (`stores`), since
    /// a new key cannot read the secrets sealed with a lost one.
    fn load_key(&self, stores: &[String]) -> Result<SecretKey> {
        let path = self.path.join("secret.key");
        if stores.is_empty() {
            return SecretKey::load_or_create(&path);
        }
        if std::fs::symlink_metadata(&path).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
        {
            let mut names: Vec<String> = stores.iter().map(|s| format!("{s}.db")).collect();
            names.sort();
            return Err(Error::new(
                ErrorKind::ConfigInvalid,
                format!(
                    "the key file {} is missing, but {} holds stores ({}) whose FlashArray tokens it \
                     encrypts: restore it from a backup (a new key could not read them)",
                    path.display(),
                    self.path.display(),
                    names.join(", ")
                ),
            ));
        }
        SecretKey::load(&path)
    }

    /// The caller stands on a site protector knows nothing about.
    fn unknown_site(&self, site: &str) -> Error {
        Error::not_found(format!(
            "site '{site}' is unknown: it has no store in {}, is not registered, and no clouds.yaml \
             entry has that name",
            self.path.display()
        ))
        .with_hint(Hint::CheckSite {
            site: site.to_string(),
        })
    }
}

impl LocalEngine {
    /// Copies every site the engine knows into each store that lacks it: each site's store
    /// lists both sites, whichever one a site was registered on.
    pub async fn share_site_registrations(&self) -> Result<()> {
        let sites = self.protector.sites().await?;
        for store in self.stores.values() {
            let known: BTreeSet<String> = store
                .list_sites()
                .await?
                .into_iter()
                .map(|s| s.name)
                .collect();
            for site in &sites {
                if !known.contains(&site.name) {
                    store.put_site(site).await?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_are_the_db_files_with_site_names() {
        let dir = tempfile::tempdir().unwrap();
        for file in [
            "site-a.db",
            "site-b.db",
            "sim.db",
            ".x.db",
            "notes.txt",
            "a b.db",
        ] {
            std::fs::write(dir.path().join(file), b"").unwrap();
        }
        let state = StateDir::new(dir.path());
        let skip = dir.path().join("sim.db");
        assert_eq!(
            state.site_stores(Some(&skip)).unwrap(),
            ["site-a", "site-b"]
        );
    }
}
