//! Arguments of `dr test report` and `leak-scan`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

/// Format of a drill report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// The report as JSON.
    Json,
    /// One self-contained, printable HTML page (no script, no external asset).
    Html,
}

#[derive(Debug, Args)]
pub struct DrillReportArgs {
    /// Protection group name or id.
    #[arg(value_name = "GROUP")]
    pub group: String,
    /// The drill (test failover) operation to report on, `op-<id>` or its id; the group's
    /// latest drill by default.
    #[arg(long, value_name = "ID")]
    pub operation: Option<String>,
    /// Report format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Json)]
    pub format: ReportFormat,
    /// Write the report to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Format of a leak scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScanFormat {
    /// A table of what was found, then what could not be scanned.
    Table,
    /// The whole scan as JSON.
    Json,
}

#[derive(Debug, Args)]
pub struct LeakScanArgs {
    /// Scan only this site (and its FlashArrays); repeat for several. Every registered site
    /// by default.
    #[arg(long, value_name = "SITE")]
    pub site: Vec<String>,
    /// Output format.
    #[arg(short = 'f', long = "format", value_enum, default_value_t = ScanFormat::Table)]
    pub format: ScanFormat,
}
