//! `protector dr test report <group>` (the report of a DR drill) and `protector leak-scan`.

use std::io::Write;

use protector_core::engine::{LeakScan, NotScanned};
use protector_core::{Error, ErrorKind};

use crate::args::{DrillReportArgs, LeakScanArgs, ReportFormat, ScanFormat};
use crate::commands::background::parse_operation_id;
use crate::context::Context;
use crate::error::{CliError, CliResult};
use crate::output::{escape_controls, render_table};

pub async fn drill_report(ctx: &Context, args: DrillReportArgs) -> CliResult {
    let operation = args
        .operation
        .as_deref()
        .map(parse_operation_id)
        .transpose()?;
    let engine = ctx.engine_with_transport().await?;
    let report = engine
        .protector
        .drill_report(&args.group, operation)
        .await?;
    let text = match args.format {
        ReportFormat::Json => {
            let mut json = serde_json::to_string_pretty(&report).map_err(|e| {
                CliError::unexpected(format!("cannot write the drill report as JSON: {e}"))
            })?;
            json.push('\n');
            json
        }
        ReportFormat::Html => report.to_html(),
    };
    match &args.output {
        Some(path) => std::fs::write(path, text).map_err(|e| {
            CliError::invalid(format!(
                "cannot write the drill report to {}: {e}",
                path.display()
            ))
        }),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())
                .and_then(|()| out.flush())
                .map_err(CliError::from_io)
        }
    }
}

fn not_scanned_lines(not_scanned: &[NotScanned]) -> String {
    not_scanned
        .iter()
        .map(|n| format!("not scanned: {} ({})\n", n.place, n.reason))
        .collect()
}

fn table(scan: &LeakScan) -> String {
    let mut out = String::new();
    if scan.leaks.is_empty() {
        out.push_str("No leaked resource found.\n");
    } else {
        let headings: Vec<String> = [
            "Where",
            "Kind",
            "Id",
            "Name",
            "Operation",
            "Group",
            "Why",
            "Remove with",
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        let rows: Vec<Vec<String>> = scan
            .leaks
            .iter()
            .map(|l| {
                vec![
                    l.place.to_string(),
                    l.kind.as_str().to_string(),
                    l.id.clone(),
                    l.name.clone(),
                    l.operation_id
                        .map(|o| format!("op-{o}"))
                        .unwrap_or_default(),
                    l.group.clone().unwrap_or_default(),
                    l.reason.clone(),
                    l.remove_with.clone(),
                ]
            })
            .collect();
        out.push_str(&render_table(&headings, &rows));
    }
    let scanned: Vec<String> = scan.scanned.iter().map(ToString::to_string).collect();
    out.push_str(&format!("scanned: {}\n", scanned.join(", ")));
    out.push_str(&not_scanned_lines(&scan.not_scanned));
    out
}

pub async fn leak_scan(ctx: &Context, args: LeakScanArgs) -> CliResult {
    let engine = ctx.engine_with_transport().await?;
    let scan = engine.protector.leak_scan(&args.site).await?;
    let text = match args.format {
        ScanFormat::Json => {
            let mut json = serde_json::to_string_pretty(&scan).map_err(|e| {
                CliError::unexpected(format!("cannot write the leak scan as JSON: {e}"))
            })?;
            json.push('\n');
            json
        }
        ScanFormat::Table => escape_controls(&table(&scan), &['\n']).into_owned(),
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(CliError::from_io)?;
    let incomplete = if scan.is_complete() {
        String::new()
    } else {
        let places: Vec<String> = scan
            .not_scanned
            .iter()
            .map(|n| n.place.to_string())
            .collect();
        format!(" (incomplete: {} could not be read)", places.join(", "))
    };
    if !scan.leaks.is_empty() {
        return Err(Error::new(
            ErrorKind::Conflict,
            format!(
                "{} leaked resource(s) found{incomplete}: nothing was removed; each line says the command that removes it",
                scan.leaks.len()
            ),
        )
        .into());
    }
    if !scan.is_complete() {
        return Err(Error::unavailable(format!(
            "no leaked resource found, but the scan is incomplete: {} could not be read; scan again once they answer",
            scan.not_scanned
                .iter()
                .map(|n| n.place.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .into());
    }
    Ok(())
}
