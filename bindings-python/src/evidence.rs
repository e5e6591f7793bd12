//! The drill report and the leak scan for Python (`Protector.drill_report`, `leak_scan`).

use protector_core::{Error, Protector, Result};
use uuid::Uuid;

/// The report of `group`'s latest drill (or of drill `operation`, `op-<uuid>` or the uuid):
/// its JSON as data, or its HTML page as a string.
pub async fn drill_report(
    engine: &Protector,
    group: &str,
    operation: Option<&str>,
    html: bool,
) -> Result<serde_json::Value> {
    let operation = operation
        .map(|id| {
            Uuid::parse_str(id.trim().trim_start_matches("op-")).map_err(|_| {
                Error::invalid(format!(
                    "'{id}' is not an operation id: give op-<uuid> or the uuid of a drill"
                ))
            })
        })
        .transpose()?;
    let report = engine.drill_report(group, operation).await?;
    if html {
        return Ok(serde_json::Value::String(report.to_html()));
    }
    serde_json::to_value(&report)
        .map_err(|e| Error::unexpected(format!("cannot convert the drill report: {e}")))
}
