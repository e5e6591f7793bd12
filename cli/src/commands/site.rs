//! `protector site ...`

use protector_core::engine::RegisterSite;
use protector_core::model::{SiteStatus, SiteType};
use protector_core::{Error, ErrorKind};

use crate::args::{SiteCommand, SiteCreateArgs, SiteTypeArg};
use crate::context::{checked_site_name, Context};
use crate::error::CliResult;
use crate::output::Printer;
use crate::views;

pub async fn run(ctx: &Context, command: SiteCommand) -> CliResult {
    match command {
        SiteCommand::Create(args) => create(ctx, args).await,
        SiteCommand::List(args) => {
            let engine = ctx.engine(&[]).await?;
            let sites = engine.protector.sites().await?;
            Printer::stdout(&args.output).list(&views::sites(&sites))
        }
        SiteCommand::Show(args) => {
            let engine = ctx.engine(&[]).await?;
            let site = engine.protector.site(&args.name).await?;
            Printer::stdout(&args.output).show(&views::site(&site))
        }
        SiteCommand::Validate(args) => {
            let engine = ctx.engine_with_transport().await?;
            let validation = engine.protector.validate_site(&args.name).await?;
            Printer::stdout(&args.output).show(&views::site_validation(&validation))?;
            let problems: Vec<String> = [
                ("keystone", &validation.keystone),
                ("nova", &validation.nova),
                ("cinder", &validation.cinder),
                ("neutron", &validation.neutron),
                ("volume_manage", &validation.volume_manage),
            ]
            .iter()
            .filter(|(_, v)| v.as_str() != "ok")
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
            // Keystone answered and refused the credentials: exit 6, not "not ready for DR".
            if let Some(kind @ (ErrorKind::Unauthenticated | ErrorKind::PermissionDenied)) =
                validation.keystone_error
            {
                return Err(Error::new(
                    kind,
                    format!(
                        "site '{}' refused the credentials of its clouds.yaml entry: {}",
                        validation.name,
                        validation.keystone.trim_start_matches("error: ")
                    ),
                )
                .into());
            }
            match validation.status {
                SiteStatus::Active => Ok(()),
                SiteStatus::Unreachable => Err(Error::unavailable(format!(
                    "site '{}' is unreachable: {}",
                    validation.name, validation.keystone
                ))
                .into()),
                SiteStatus::Error => Err(Error::validation(
                    format!("site '{}' is not ready for DR", validation.name),
                    problems,
                )
                .into()),
            }
        }
        SiteCommand::ListVolumeTypes(args) => {
            let engine = ctx.engine_with_transport().await?;
            let types = engine
                .protector
                .list_replication_volume_types(&args.name)
                .await?;
            Printer::stdout(&args.output).list(&views::volume_types(&types))
        }
    }
}

async fn create(ctx: &Context, args: SiteCreateArgs) -> CliResult {
    let name = checked_site_name(&args.name)?.to_string();
    let store_path = ctx.state_dir()?.join(format!("{name}.db"));
    let store_existed = store_path.exists();
    let engine = ctx.engine(&[&name]).await?;
    let request = RegisterSite {
        name: name.clone(),
        description: args.description,
        site_type: match args.site_type {
            SiteTypeArg::Primary => SiteType::Primary,
            SiteTypeArg::Secondary => SiteType::Secondary,
        },
        auth_url: args.auth_url,
        region_name: args.region_name,
        cloud: args.cloud,
    };
    let site = match engine.protector.register_site(request).await {
        Ok(site) => site,
        Err(e) => {
            drop(engine);
            // Leave no empty store behind for a site that was not registered.
            if !store_existed && e.kind() != ErrorKind::AlreadyExists {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", store_path.display()));
                }
            }
            return Err(e.into());
        }
    };
    engine.share_site_registrations().await?;
    Printer::stdout(&args.output).show(&views::site(&site))
}
