//! `protector protection-group ...`

use chrono::Utc;
use protector_core::api::ListServers;
use protector_core::engine::{
    AddMember, CreateGroup, CreatePolicy, FailbackRequest, FailoverRequest, MemberOrder,
    OperationRequest,
};
use protector_core::model::{
    ArrayEndpoint, Operation, OperationStatus, OperationType, ReplicationType, ResourceMappings,
};
use protector_core::plan::FailoverMode;
use protector_core::{Error, ErrorKind};

use crate::args::{Format, GroupCommand, ReplicationTypeArg};
use crate::commands::{background, dry_run};
use crate::context::{Context, Engine};
use crate::error::{CliError, CliResult};
use crate::output::Printer;
use crate::secret_input::SecretSource;
use crate::views;

pub async fn run(ctx: &Context, command: GroupCommand) -> CliResult {
    match command {
        GroupCommand::Create(args) => {
            let engine = ctx.engine_with_transport().await?;
            let group = engine
                .protector
                .create_group(CreateGroup {
                    name: args.name,
                    description: args.description,
                    replication_type: match args.replication_type {
                        ReplicationTypeArg::Async => ReplicationType::Async,
                        ReplicationTypeArg::Sync => ReplicationType::Sync,
                    },
                    primary_site: args.primary_site,
                    secondary_site: args.secondary_site,
                    volume_type: args.volume_type,
                })
                .await?;
            Printer::stdout(&args.output).show(&views::group(&group))
        }
        GroupCommand::List(args) => {
            let engine = ctx.engine(&[]).await?;
            let groups = engine.protector.groups().await?;
            Printer::stdout(&args.output).list(&views::groups(&groups))
        }
        GroupCommand::Show(args) => {
            let engine = ctx.engine(&[]).await?;
            let group = engine.protector.group(&args.group).await?;
            Printer::stdout(&args.output).show(&views::group(&group))
        }
        GroupCommand::Delete(args) => {
            let engine = ctx.engine_with_transport().await?;
            let group = engine.protector.delete_group(&args.group).await?;
            Printer::stdout(&args.output).show(&views::group(&group))
        }
        GroupCommand::HookAdd(args) => super::hooks::add(ctx, args).await,
        GroupCommand::HookList(args) => super::hooks::list(ctx, args).await,
        GroupCommand::HookRemove(args) => super::hooks::remove(ctx, args).await,
        GroupCommand::MemberAdd(args) => {
            let engine = ctx.engine_with_transport().await?;
            let instance_id = resolve_instance(&engine, &args.group, &args.instance_id).await?;
            let order = MemberOrder {
                priority: args.order.priority,
                depends_on: Some(args.order.depends_on).filter(|d| !d.is_empty()),
            };
            let member = engine
                .protector
                .add_member_ordered(&args.group, AddMember { instance_id }, order)
                .await?;
            Printer::stdout(&args.output).show(&views::member_added(&member))
        }
        GroupCommand::MemberRemove(args) => {
            let engine = ctx.engine_with_transport().await?;
            let member = engine
                .protector
                .remove_member(&args.group, &args.member_id)
                .await?;
            Printer::stdout(&args.output).show(&views::member(&member))
        }
        GroupCommand::MemberList(args) => {
            let engine = ctx.engine(&[]).await?;
            let members = engine.protector.members(&args.group).await?;
            Printer::stdout(&args.output).list(&views::members(&members))
        }
        GroupCommand::MemberCandidates(args) => {
            let engine = ctx.engine(&[]).await?;
            let candidates = engine.protector.member_candidates(&args.group).await?;
            Printer::stdout(&args.output).list(&views::member_candidates(&candidates))
        }
        GroupCommand::MemberShow(args) => {
            let engine = ctx.engine(&[]).await?;
            let member = engine
                .protector
                .member(&args.group, &args.member_id)
                .await?;
            Printer::stdout(&args.output).show(&views::member(&member))
        }
        GroupCommand::MemberSet(args) => {
            let engine = ctx.engine_with_transport().await?;
            let depends_on = if args.no_depends_on || !args.order.depends_on.is_empty() {
                Some(args.order.depends_on)
            } else {
                None
            };
            if args.order.priority.is_none() && depends_on.is_none() {
                return Err(CliError::invalid(
                    "member-set changes nothing without --priority, --depends-on or --no-depends-on",
                ));
            }
            let member = engine
                .protector
                .set_member_order(
                    &args.group,
                    &args.member,
                    MemberOrder {
                        priority: args.order.priority,
                        depends_on,
                    },
                )
                .await?;
            Printer::stdout(&args.output).show(&views::member(&member))
        }
        GroupCommand::PolicyCreate(args) => {
            // Tokens first: a bad token source changes nothing.
            let primary = SecretSource {
                what: "the primary FlashArray's API token",
                file: args.primary_fa_token_file.as_deref(),
                file_option: "--primary-fa-token-file",
                value: args.primary_fa_token,
                env_var: "PROTECTOR_PRIMARY_FA_TOKEN",
            };
            let secondary = SecretSource {
                what: "the secondary FlashArray's API token",
                file: args.secondary_fa_token_file.as_deref(),
                file_option: "--secondary-fa-token-file",
                value: args.secondary_fa_token,
                env_var: "PROTECTOR_SECONDARY_FA_TOKEN",
            };
            if primary.reads_stdin() && secondary.reads_stdin() {
                return Err(CliError::invalid(
                    "only one token can be read from stdin: give the other one a file or its \
                     environment variable",
                ));
            }
            let (primary_token, secondary_token) = (primary.read()?, secondary.read()?);
            let engine = ctx.engine_with_transport().await?;
            let policy = engine
                .protector
                .create_policy(
                    &args.group,
                    CreatePolicy {
                        primary_array: ArrayEndpoint {
                            url: args.primary_fa_url,
                            api_token: primary_token,
                            ca_file: args.primary_fa_ca_file,
                            allow_insecure_http: args.allow_insecure_http,
                        },
                        secondary_array: ArrayEndpoint {
                            url: args.secondary_fa_url,
                            api_token: secondary_token,
                            ca_file: args.secondary_fa_ca_file,
                            allow_insecure_http: args.allow_insecure_http,
                        },
                        pure_pg_name: args.pure_pg_name,
                        replication_interval_secs: u64::from(args.replication_interval),
                        rpo_minutes: u64::from(args.rpo_minutes),
                    },
                )
                .await?;
            let group = engine.protector.group(&args.group).await?;
            Printer::stdout(&args.output).show(&views::policy(&group, &policy))
        }
        GroupCommand::SyncStatus(args) => {
            let engine = ctx.engine_with_transport().await?;
            let report = engine.protector.sync_status(&args.group).await?;
            let mut printer = Printer::stdout(&args.output);
            if printer.format() == Format::Table && !printer.has_column_filter() {
                printer.text(&views::sync_status_text(&report, &Utc::now()))?;
            } else {
                printer.show(&views::sync_status(&report))?;
            }
            if report.in_sync {
                Ok(())
            } else {
                Err(Error::new(
                    ErrorKind::OutOfSync,
                    format!(
                        "protection group '{}' is OUT OF SYNC (local version {} on {}, remote version {} on {}): run `protector protection-group sync-force {}`",
                        report.group,
                        report.local_version,
                        report.local_site,
                        report
                            .remote_version
                            .map_or_else(|| "unknown".to_string(), |v| v.to_string()),
                        report.remote_site,
                        report.group
                    ),
                )
                .into())
            }
        }
        GroupCommand::SyncForce(args) => {
            let engine = ctx.engine_with_transport().await?;
            let report = engine.protector.sync_force(&args.group).await?;
            let mut printer = Printer::stdout(&args.output);
            if printer.format() == Format::Table && !printer.has_column_filter() {
                let local = engine.protector.local_site();
                let peer = if report.pushed_to == local {
                    &report.source_site
                } else {
                    &report.pushed_to
                };
                printer.text(&views::sync_force_text(&report, peer))
            } else {
                printer.show(&views::sync_force(&report))
            }
        }
        GroupCommand::SyncLog(args) => {
            let engine = ctx.engine(&[]).await?;
            let entries = engine.protector.sync_log(&args.group, args.limit).await?;
            Printer::stdout(&args.output).list(&views::sync_log(&entries))
        }
        GroupCommand::Failover(args) => {
            let mappings = mappings(
                &args.network_mapping,
                &args.flavor_mapping,
                &args.security_group_mapping,
                &args.az_mapping,
            )?;
            let request = FailoverRequest {
                mode: if args.force {
                    FailoverMode::Unplanned
                } else {
                    FailoverMode::Planned
                },
                mappings,
                operation_id: None,
                recovery_point: args.point.recovery_point.clone(),
                commit_window_secs: args.window.commit_window,
            };
            let engine = ctx.engine_with_transport().await?;
            if args.plan.dry_run {
                let plan = engine
                    .protector
                    .plan_failover(&args.group, &request)
                    .await?;
                Printer::stdout(&args.output).text(&format!("{}\n", plan.to_json()))?;
                dry_run::explain(&plan);
                engine
                    .protector
                    .validate_plan(&plan)
                    .await?
                    .into_result(&format!(
                        "failover of protection group '{}'",
                        plan.group_name
                    ))?;
                if let Some(point) = &plan.recovery_point {
                    crate::output::eprint_line(&format!("Data at risk: {}", point.data_at_risk));
                }
                return Ok(());
            }
            let request = OperationRequest::Failover {
                group: args.group.clone(),
                request,
            };
            background::launch(ctx, &engine, request, &args.run, &args.output).await
        }
        GroupCommand::Failback(args) => {
            let mappings = mappings(
                &args.network_mapping,
                &args.flavor_mapping,
                &args.security_group_mapping,
                &args.az_mapping,
            )?;
            let request = FailbackRequest {
                mappings,
                reverse_replication: args.reverse_replication,
                force: args.force,
                operation_id: None,
            };
            let engine = ctx.engine_with_transport().await?;
            if args.plan.dry_run {
                return dry_run::failback(&engine, &args.group, &request, &args.output).await;
            }
            let request = OperationRequest::Failback {
                group: args.group.clone(),
                request,
            };
            background::launch(ctx, &engine, request, &args.run, &args.output).await
        }
        GroupCommand::RecoveryPoints(args) => super::recovery::recovery_points(ctx, args).await,
        GroupCommand::FailoverCommit(args) => super::recovery::failover_commit(ctx, args).await,
        GroupCommand::FailoverRollback(args) => super::recovery::failover_rollback(ctx, args).await,
        GroupCommand::Fence(args) => {
            let engine = ctx.engine_with_transport().await?;
            let group = engine.protector.fence(&args.group).await?;
            Printer::stdout(&args.output).show(&views::group(&group))
        }
        GroupCommand::MappingSet(args) => {
            let given = mappings(
                &args.network_mapping,
                &args.flavor_mapping,
                &args.security_group_mapping,
                &args.az_mapping,
            )?;
            if is_empty(&given) && !args.replace {
                return Err(CliError::invalid(
                    "no mapping given: add --network-mapping, --flavor-mapping, --security-group-mapping or --az-mapping SOURCE=TARGET (or --replace alone to clear the stored mappings of the direction)",
                ));
            }
            let engine = ctx.engine_with_transport().await?;
            let from_site = match args.from_site {
                Some(site) => site,
                None => {
                    engine
                        .protector
                        .group(&args.group)
                        .await?
                        .current_primary_site
                }
            };
            let stored = engine
                .protector
                .set_mappings(&args.group, &from_site, given, args.replace)
                .await?;
            Printer::stdout(&args.output).list(&views::mappings(std::slice::from_ref(&stored)))
        }
        GroupCommand::MappingList(args) => {
            let engine = ctx.engine(&[]).await?;
            let stored = engine.protector.mappings(&args.group).await?;
            Printer::stdout(&args.output).list(&views::mappings(&stored))
        }
    }
}

/// Whether `mappings` maps nothing.
fn is_empty(mappings: &ResourceMappings) -> bool {
    mappings.networks.is_empty()
        && mappings.flavors.is_empty()
        && mappings.security_groups.is_empty()
        && mappings.availability_zones.is_empty()
}

/// The three `--*-mapping` options as resource mappings.
pub fn mappings(
    networks: &[String],
    flavors: &[String],
    security_groups: &[String],
    availability_zones: &[String],
) -> CliResult<ResourceMappings> {
    Ok(ResourceMappings {
        networks: ResourceMappings::parse_pairs("network", networks.iter().map(String::as_str))?,
        flavors: ResourceMappings::parse_pairs("flavor", flavors.iter().map(String::as_str))?,
        security_groups: ResourceMappings::parse_pairs(
            "security group",
            security_groups.iter().map(String::as_str),
        )?,
        availability_zones: ResourceMappings::parse_pairs(
            "availability zone",
            availability_zones.iter().map(String::as_str),
        )?,
    })
}

/// The Nova id of `id_or_name` on the group's current primary site: ids pass through, a name
/// must match exactly one server (as the openstack CLI resolves names).
async fn resolve_instance(engine: &Engine, group: &str, id_or_name: &str) -> CliResult<String> {
    if uuid::Uuid::parse_str(id_or_name).is_ok() {
        return Ok(id_or_name.to_string());
    }
    let group = engine.protector.group(group).await?;
    let site = &group.current_primary_site;
    let clients = engine.protector.clients(site).await?;
    let servers = clients
        .compute
        .list_servers(&ListServers {
            name: Some(id_or_name.to_string()),
            ..ListServers::default()
        })
        .await?;
    match servers.as_slice() {
        [server] => Ok(server.id.clone()),
        [] => Err(Error::not_found(format!(
            "no server with id or name '{id_or_name}' on {site}: give the Nova id of a VM on the group's current primary site"
        ))
        .into()),
        several => Err(CliError::invalid(format!(
            "{} servers are named '{id_or_name}' on {site}: give the Nova id instead",
            several.len()
        ))),
    }
}

/// `Ok` when the operation completed; otherwise the error that sets exit code 8.
pub fn operation_outcome(op: &Operation) -> CliResult {
    if op.status == OperationStatus::Completed {
        return Ok(());
    }
    let subject = match (&op.group_name, op.operation_type) {
        (Some(group), _) => format!("protection group '{group}'"),
        (None, OperationType::SiteFailover) => format!("site '{}'", op.source_site),
        (None, _) => format!("{} → {}", op.source_site, op.target_site),
    };
    Err(CliError::OperationNotCompleted(format!(
        "{} of {subject} ended {}{}: see `protector operation show op-{}`",
        op.operation_type.as_str(),
        op.status.as_str(),
        op.error_message
            .as_deref()
            .map(|m| format!(" ({})", summary(m)))
            .unwrap_or_default(),
        op.id
    )))
}

/// The first line of `message`, cut at about 240 characters: the error line stays readable,
/// the whole message is in the operation record.
fn summary(message: &str) -> String {
    const MAX: usize = 240;
    let first = message.lines().next().unwrap_or_default().trim_end();
    let cut: String = first.chars().take(MAX).collect();
    if cut.len() < first.len() || message.trim_end().lines().count() > 1 {
        format!("{}…", cut.trim_end())
    } else {
        cut
    }
}
