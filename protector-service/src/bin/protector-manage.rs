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

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use protector_core::store::mysql::{MySqlStore, SCHEMA_VERSION};
use protector_core::store::{SecretKey, SqliteStore};
use protector_core::{Error, ErrorKind, Result};
use protector_service::config::{Database, ServiceConfig, DEFAULT_CONFIG_FILE};

/// Administration of a site's protector database.
#[derive(Debug, Parser)]
#[command(name = "protector-manage", version)]
struct Args {
    /// The site's protector.conf; its `[database] connection` names the database.
    #[arg(long, default_value = DEFAULT_CONFIG_FILE)]
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
    let database = match args.connection {
        Some(url) => Database::parse(&url)?,
        None => ServiceConfig::load(&args.config_file)?.database()?,
    };
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
