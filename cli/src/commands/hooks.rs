//! `protector protection-group hook-add | hook-list | hook-remove`

use protector_core::engine::HookSpec;
use protector_core::model::{HookAction, HookAppliesTo, HookFailure, HookMethod, HookPoint};

use crate::args::{
    AppliesToArg, GroupArgs, HookAddArgs, HookPointArg, HookRemoveArgs, MethodArg, OnFailureArg,
};
use crate::context::Context;
use crate::error::CliResult;
use crate::output::Printer;
use crate::views;

fn point(at: HookPointArg) -> HookPoint {
    match at {
        HookPointArg::PrePreparation => HookPoint::PrePreparation,
        HookPointArg::PostPreparation => HookPoint::PostPreparation,
        HookPointArg::PreStorage => HookPoint::PreStorage,
        HookPointArg::PostStorage => HookPoint::PostStorage,
        HookPointArg::PreInstances => HookPoint::PreInstances,
        HookPointArg::PostInstances => HookPoint::PostInstances,
        HookPointArg::PreFinalization => HookPoint::PreFinalization,
        HookPointArg::PostFinalization => HookPoint::PostFinalization,
        HookPointArg::AfterBoot => HookPoint::AfterBoot,
    }
}

/// The action of `--command ARG...` or `--url URL` (clap makes one of them required and the
/// other absent).
fn action(command: Option<Vec<String>>, url: Option<String>, method: MethodArg) -> HookAction {
    match (command, url) {
        (Some(argv), _) => HookAction::Command { argv },
        (None, Some(url)) => match HookAction::url(url) {
            HookAction::Url {
                url,
                status_min,
                status_max,
                ..
            } => HookAction::Url {
                method: match method {
                    MethodArg::Get => HookMethod::Get,
                    MethodArg::Post => HookMethod::Post,
                },
                url,
                status_min,
                status_max,
            },
            other => other,
        },
        (None, None) => HookAction::Command { argv: Vec::new() },
    }
}

pub async fn add(ctx: &Context, args: HookAddArgs) -> CliResult {
    let undo = (args.undo_command.is_some() || args.undo_url.is_some())
        .then(|| action(args.undo_command, args.undo_url, args.method));
    let spec = HookSpec {
        name: args.name,
        member: args.member,
        at: point(args.at),
        action: action(args.command, args.url, args.method),
        timeout_secs: args.timeout,
        on_failure: args.on_failure.map(|f| match f {
            OnFailureArg::Stop => HookFailure::Stop,
            OnFailureArg::Warn => HookFailure::Warn,
        }),
        applies_to: match args.applies_to {
            AppliesToArg::Failover => HookAppliesTo::Failover,
            AppliesToArg::Drill => HookAppliesTo::Drill,
            AppliesToArg::Both => HookAppliesTo::Both,
        },
        undo,
    };
    let engine = ctx.engine(&[]).await?;
    let hook = engine.protector.add_hook(&args.group, spec).await?;
    let members = engine.protector.members(&args.group).await?;
    Printer::stdout(&args.output).show(&views::hook(&hook, &members))
}

pub async fn list(ctx: &Context, args: GroupArgs) -> CliResult {
    let engine = ctx.engine(&[]).await?;
    let hooks = engine.protector.hooks(&args.group).await?;
    let members = engine.protector.members(&args.group).await?;
    Printer::stdout(&args.output).list(&views::hooks(&hooks, &members))
}

pub async fn remove(ctx: &Context, args: HookRemoveArgs) -> CliResult {
    let engine = ctx.engine(&[]).await?;
    let hook = engine
        .protector
        .remove_hook(&args.group, &args.name)
        .await?;
    let members = engine.protector.members(&args.group).await?;
    Printer::stdout(&args.output).show(&views::hook(&hook, &members))
}
