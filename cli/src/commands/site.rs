//! `protector site ...`

use protector_core::engine::RegisterSite;
use protector_core::model::{SiteStatus, SiteType};
use protector_core::store::StateDir;
use protector_core::{Error, ErrorKind};

use crate::args::{SiteCommand, SiteCreateArgs, SiteTypeArg};
use crate::context::{checked_site_name, open_request, Context};
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
    let transport = ctx.transport()?;
    let open = open_request(&ctx.global.os_cloud, &transport, &[])?;
    let request = RegisterSite {
        name,
        description: args.description,
        site_type: match args.site_type {
            SiteTypeArg::Primary => SiteType::Primary,
            SiteTypeArg::Secondary => SiteType::Secondary,
        },
        auth_url: args.auth_url,
        region_name: args.region_name,
        cloud: args.cloud,
    };
    let (site, _) = StateDir::new(ctx.state_dir()?)
        .register_site(open, request, transport.connector())
        .await?;
    Printer::stdout(&args.output).show(&views::site(&site))
}
