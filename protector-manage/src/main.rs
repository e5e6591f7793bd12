//! `protector-manage`: the administration of a site's protector database, as spec/004's
//! installation runs it (`protector-manage db sync` after writing `/etc/protector/protector.conf`).
//!
//! - `db sync`: creates the schema of `[database] connection`, or upgrades it to this
//!   release's; safe to run again, and from several hosts at once.
//! - `db version`: the schema version of the database and the one this release uses.
//!
//! The connection is OpenStack's SQLAlchemy URL: `mysql+pymysql://user:pass@host/db` (any
//! `mysql+<driver>://` or `mysql://`: MariaDB or MySQL) or `sqlite:////var/lib/protector/x.db`
//! (the embedded store, whose schema is made when it is opened). The password never appears in
//! output or errors.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use protector_core::store::mysql::{MySqlStore, SCHEMA_VERSION};
use protector_core::store::{SecretKey, SqliteStore};
use protector_core::{Error, ErrorKind, Result};

/// Administration of a site's protector database.
#[derive(Debug, Parser)]
#[command(name = "protector-manage", version)]
struct Args {
    /// The site's protector.conf; its `[database] connection` names the database.
    #[arg(long, default_value = "/etc/protector/protector.conf")]
    config_file: PathBuf,
    /// The database URL, instead of the configuration file's (it holds a password: prefer the
    /// file or the environment).
    #[arg(long, env = "PROTECTOR_DATABASE_CONNECTION", hide_env_values = true)]
    connection: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The database schema.
    #[command(subcommand)]
    Db(DbCommand),
}

#[derive(Debug, Subcommand)]
enum DbCommand {
    /// Create the schema, or upgrade it to this release's.
    Sync,
    /// Print the database's schema version and this release's.
    Version,
}

/// Where the site's metadata lives.
#[derive(Debug, PartialEq, Eq)]
enum Database {
    /// MariaDB or MySQL, as a `mysql://` URL for sqlx.
    MySql(String),
    /// The embedded SQLite store.
    Sqlite(PathBuf),
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("protector-manage: {e}");
            ExitCode::from(match e.kind() {
                ErrorKind::ConfigInvalid | ErrorKind::InvalidInput => 2,
                ErrorKind::Unavailable | ErrorKind::Timeout => 3,
                _ => 1,
            })
        }
    }
}

fn run(args: Args) -> Result<()> {
    let connection = match args.connection {
        Some(url) => url,
        None => connection_from(&args.config_file)?,
    };
    let database = parse_connection(&connection)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::unexpected(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async {
        match (args.command, database) {
            (Command::Db(DbCommand::Sync), Database::MySql(url)) => {
                // Migrations touch no secret: the key only satisfies the store's constructor.
                let store = MySqlStore::connect_unchecked(&url, SecretKey::generate()).await?;
                let (before, after) = store.migrate().await?;
                if before == after {
                    println!("database schema is at version {after}: nothing to do");
                } else {
                    println!("database schema upgraded from version {before} to {after}");
                }
                Ok(())
            }
            (Command::Db(DbCommand::Version), Database::MySql(url)) => {
                let store = MySqlStore::connect_unchecked(&url, SecretKey::generate()).await?;
                let version = store.schema_version().await?;
                println!("database schema version: {version}");
                println!("this release's schema version: {SCHEMA_VERSION}");
                if version < SCHEMA_VERSION {
                    println!("run `protector-manage db sync` to upgrade it");
                }
                Ok(())
            }
            (Command::Db(command), Database::Sqlite(path)) => {
                // The embedded store makes and upgrades its schema when it is opened.
                SqliteStore::open(&path, SecretKey::generate())?;
                match command {
                    DbCommand::Sync => println!(
                        "SQLite store {} is ready (its schema is kept current when opened)",
                        path.display()
                    ),
                    DbCommand::Version => println!(
                        "SQLite store {}: its schema is kept current when opened",
                        path.display()
                    ),
                }
                Ok(())
            }
        }
    })
}

/// `[database] connection` of `path`.
fn connection_from(path: &Path) -> Result<String> {
    let conf = ini::Ini::load_from_file(path).map_err(|e| match e {
        ini::Error::Io(io) if io.kind() == std::io::ErrorKind::NotFound => Error::new(
            ErrorKind::ConfigInvalid,
            format!(
                "configuration file {} not found: give it with --config-file, or the database with --connection",
                path.display()
            ),
        ),
        other => Error::new(
            ErrorKind::ConfigInvalid,
            format!("cannot read configuration file {}: {other}", path.display()),
        ),
    })?;
    conf.get_from(Some("database"), "connection")
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .ok_or_else(|| {
            Error::new(
                ErrorKind::ConfigInvalid,
                format!(
                    "{} has no [database] connection: set it, e.g. connection = mysql+pymysql://protector:PASSWORD@controller/protector",
                    path.display()
                ),
            )
        })
}

/// An SQLAlchemy database URL as protector opens it. The error never repeats the URL (it may
/// hold a password), only its scheme.
fn parse_connection(url: &str) -> Result<Database> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(Error::new(
            ErrorKind::ConfigInvalid,
            "[database] connection is not a URL: use mysql+pymysql://USER:PASSWORD@HOST/DATABASE or sqlite:////PATH",
        ));
    };
    let dialect = scheme.split('+').next().unwrap_or_default();
    match dialect {
        "mysql" | "mariadb" => Ok(Database::MySql(format!("mysql://{rest}"))),
        "sqlite" => {
            // sqlite:////abs/path (absolute) or sqlite:///relative/path, as SQLAlchemy reads them.
            let path = rest.strip_prefix('/').unwrap_or(rest);
            if path.is_empty() {
                return Err(Error::new(
                    ErrorKind::ConfigInvalid,
                    "[database] connection sqlite:// names no file: use sqlite:////var/lib/protector/protector.db",
                ));
            }
            Ok(Database::Sqlite(PathBuf::from(path)))
        }
        other => Err(Error::new(
            ErrorKind::ConfigInvalid,
            format!(
                "[database] connection uses '{other}', which protector does not support: use MariaDB/MySQL (mysql+pymysql://...) or SQLite (sqlite:////...)"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openstack_urls_are_read_as_sqlalchemy_reads_them() {
        assert_eq!(
            parse_connection("mysql+pymysql://protector:pw@controller/protector").unwrap(),
            Database::MySql("mysql://protector:pw@controller/protector".into())
        );
        assert_eq!(
            parse_connection("mysql://u:p@127.0.0.1:3307/db").unwrap(),
            Database::MySql("mysql://u:p@127.0.0.1:3307/db".into())
        );
        assert_eq!(
            parse_connection("sqlite:////var/lib/protector/p.db").unwrap(),
            Database::Sqlite("/var/lib/protector/p.db".into())
        );
        assert_eq!(
            parse_connection("sqlite:///p.db").unwrap(),
            Database::Sqlite("p.db".into())
        );
    }

    #[test]
    fn a_bad_url_is_refused_without_repeating_it() {
        for url in ["postgresql://u:secret-pw@h/db", "secret-pw", "sqlite:///"] {
            let err = parse_connection(url).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ConfigInvalid, "{url}");
            assert!(!err.to_string().contains("secret-pw"), "{err}");
        }
    }
}
