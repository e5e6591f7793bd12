//! Builds the engine from the global options: the state directory with one store per site, the
//! key that encrypts secrets, and the transport.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use protector_core::engine::{EngineOptions, PollPolicy};
use protector_core::store::{SecretKey, SqliteStore, Store};
use protector_core::Protector;

use crate::args::GlobalOptions;
use crate::error::{CliError, CliResult};
use crate::transport::Transport;

/// The engine of one CLI run, with what it was built from.
pub struct Engine {
    /// The engine, standing on the local site.
    pub protector: Protector,
    /// Every store the engine was given, by site.
    pub stores: BTreeMap<String, Arc<dyn Store>>,
}

impl Engine {
    /// Builds the engine standing on `local`, with a store in `state_dir` for `local`, for each
    /// of `extra_sites`, for every `<site>.db` already there and for every site registered in the
    /// local store.
    ///
    /// `local` must be known: a store for it exists, it is one of `extra_sites` (being
    /// registered), the transport knows a cloud of that name (clouds.yaml), or an existing
    /// store registers it. Otherwise (a typo in `--os-cloud`) nothing is created. The key file
    /// is created only while the state directory holds no store: a store whose key is lost
    /// must not be given a new one.
    pub async fn open(
        state_dir: &Path,
        local: &str,
        transport: Transport,
        extra_sites: &[&str],
    ) -> CliResult<Engine> {
        let local = checked_site_name(local)?;
        let mut names: BTreeSet<String> = BTreeSet::new();
        names.insert(local.to_string());
        for site in extra_sites {
            names.insert(checked_site_name(site)?.to_string());
        }
        let skip = match &transport {
            Transport::Simulator { path, .. } => Some(path.as_path()),
            Transport::Wire { .. } => None,
        };
        let existing = if state_dir.is_dir() {
            existing_stores(state_dir, skip)?
        } else {
            Vec::new()
        };
        let local_known = existing.iter().any(|s| s == local)
            || extra_sites.contains(&local)
            || transport.knows_cloud(local)?;
        if !local_known && existing.is_empty() {
            return Err(unknown_site(local, state_dir));
        }

        std::fs::create_dir_all(state_dir).map_err(|e| {
            CliError::config(format!(
                "cannot create the state directory {}: {e}: choose another with --state-dir",
                state_dir.display()
            ))
        })?;
        let key = load_key(state_dir, &existing)?;
        let open = |site: &str| -> CliResult<Arc<dyn Store>> {
            let path = state_dir.join(format!("{site}.db"));
            Ok(Arc::new(SqliteStore::open(&path, key.clone())?) as Arc<dyn Store>)
        };

        let mut stores = BTreeMap::new();
        if !local_known {
            // Registered in a store of its peer only: look before creating its own.
            let mut registered = false;
            for site in &existing {
                let store = open(site)?;
                registered |= store.list_sites().await?.iter().any(|s| s.name == local);
                stores.insert(site.clone(), store);
            }
            if !registered {
                return Err(unknown_site(local, state_dir));
            }
        }
        names.extend(existing);

        let local_store = match stores.get(local) {
            Some(store) => store.clone(),
            None => open(local)?,
        };
        for site in local_store.list_sites().await? {
            if checked_site_name(&site.name).is_ok() {
                names.insert(site.name);
            }
        }
        stores.insert(local.to_string(), local_store);
        for site in names {
            if let std::collections::btree_map::Entry::Vacant(slot) = stores.entry(site) {
                let store = open(slot.key())?;
                slot.insert(store);
            }
        }

        let options = if transport.is_simulated() {
            // The simulator's clock advances with every call: polling does not need to sleep.
            EngineOptions {
                poll: PollPolicy::immediate(2000),
                member_concurrency: 8,
            }
        } else {
            let mut options = EngineOptions::default();
            // Against a served simulator a short interval keeps operations quick; real clouds
            // keep the default back-off.
            if let Some(ms) = std::env::var("PROTECTOR_POLL_INTERVAL_MS")
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
            {
                options.poll.interval = std::time::Duration::from_millis(ms);
                options.poll.max_interval =
                    options.poll.interval.max(options.poll.max_interval / 4);
            }
            options
        };
        let mut builder = Protector::builder()
            .with_local_site(local)
            .with_connector(transport.connector())
            .with_options(options);
        for (site, store) in &stores {
            builder = builder.with_store(site.clone(), store.clone());
        }
        Ok(Engine {
            protector: builder.build()?,
            stores,
        })
    }

    /// Copies every site registered in the local store into the stores that lack it, so that
    /// each site knows its peers whichever order they were registered in.
    pub async fn share_site_registrations(&self) -> CliResult<()> {
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

/// The global options, resolved.
pub struct Context {
    /// As given on the command line and in the environment.
    pub global: GlobalOptions,
}

impl Context {
    /// The state directory: `--state-dir`, else `$XDG_DATA_HOME/protector`, else
    /// `~/.local/share/protector`.
    pub fn state_dir(&self) -> CliResult<PathBuf> {
        if let Some(dir) = &self.global.state_dir {
            return Ok(dir.clone());
        }
        if let Some(data) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
            return Ok(PathBuf::from(data).join("protector"));
        }
        if let Some(home) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            return Ok(PathBuf::from(home).join(".local/share/protector"));
        }
        Err(CliError::config(
            "cannot find a state directory: HOME is not set; pass --state-dir DIR",
        ))
    }

    /// The transport: the simulator of `--sim-state`, or else protector's HTTP clients.
    pub fn transport(&self) -> CliResult<Transport> {
        match &self.global.sim_state {
            Some(path) => Ok(Transport::simulator(path)?),
            None => Ok(Transport::wire_from_process()),
        }
    }

    /// The engine standing on `--os-cloud`; `extra_sites` get a store too.
    pub async fn engine(&self, extra_sites: &[&str]) -> CliResult<Engine> {
        let dir = self.state_dir()?;
        Engine::open(&dir, &self.global.os_cloud, self.transport()?, extra_sites).await
    }

    /// Like [`Context::engine`]; for commands that reach OpenStack or a FlashArray.
    pub async fn engine_with_transport(&self) -> CliResult<Engine> {
        self.engine(&[]).await
    }
}

/// Site names become file names: letters, digits, `.`, `_`, `-`, not starting with `.`.
pub fn checked_site_name(name: &str) -> CliResult<&str> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(name)
    } else {
        Err(CliError::invalid(format!(
            "site name '{name}' is not usable: use letters, digits, '.', '_' and '-' (e.g. site-a)"
        )))
    }
}

/// `--os-cloud` names a site protector knows nothing about.
fn unknown_site(site: &str, state_dir: &Path) -> CliError {
    CliError::Engine(protector_core::Error::not_found(format!(
        "site '{site}' is unknown: it has no store in {}, is not registered, and no clouds.yaml \
         entry has that name: check --os-cloud (OS_CLOUD), or register the site with `protector \
         site create --name {site} ...`",
        state_dir.display()
    )))
}

/// The key of the stores in `state_dir`; created only when there is no store yet (`stores`),
/// since a new key cannot read the secrets sealed with a lost one.
fn load_key(state_dir: &Path, stores: &[String]) -> CliResult<SecretKey> {
    let path = state_dir.join("secret.key");
    if stores.is_empty() {
        return Ok(SecretKey::load_or_create(&path)?);
    }
    if std::fs::symlink_metadata(&path).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound) {
        let mut names: Vec<String> = stores.iter().map(|s| format!("{s}.db")).collect();
        names.sort();
        return Err(CliError::config(format!(
            "the key file {} is missing, but {} holds stores ({}) whose FlashArray tokens it \
             encrypts: restore it from a backup (a new key could not read them)",
            path.display(),
            state_dir.display(),
            names.join(", ")
        )));
    }
    Ok(SecretKey::load(&path)?)
}

/// Site names of the `<site>.db` stores in `dir`, leaving out `skip` (the simulator's state
/// when it lives there too).
fn existing_stores(dir: &Path, skip: Option<&Path>) -> CliResult<Vec<String>> {
    let skip = skip.map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf()));
    let entries = std::fs::read_dir(dir).map_err(|e| {
        CliError::config(format!(
            "cannot read the state directory {}: {e}",
            dir.display()
        ))
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
            if checked_site_name(stem).is_ok() {
                names.push(stem.to_string());
            }
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_names_are_file_safe() {
        assert!(checked_site_name("site-a").is_ok());
        assert!(checked_site_name("dc1.east_2").is_ok());
        for bad in ["", "../x", "a/b", ".hidden", "a b"] {
            assert!(checked_site_name(bad).is_err(), "{bad}");
        }
    }
}
