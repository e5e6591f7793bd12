//! The drill report as one printable, self-contained HTML page: inline CSS, no script, no
//! external asset; every value escaped.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::{utc, DrillReport};

const STYLE: &str = "body{font-family:sans-serif;margin:2em;color:#111}\
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.5em;border-bottom:1px solid #999}\
table{border-collapse:collapse;margin:.5em 0;width:100%}\
th,td{border:1px solid #999;padding:.25em .5em;text-align:left;vertical-align:top}\
th{background:#eee}.passed{color:#060}.warning{color:#850}.failed{color:#a00}\
footer{margin-top:2em;font-size:.85em;color:#555}\
@media print{body{margin:0}h2{page-break-after:avoid}tr{page-break-inside:avoid}}";

/// `text` with `&`, `<`, `>`, `"` and `'` escaped, for HTML text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn time(at: Option<&DateTime<Utc>>) -> String {
    at.map_or_else(|| "-".to_string(), utc)
}

fn secs(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_string(), |s| format!("{s:.1} s"))
}

/// A table: a header row, then one row per entry; every cell escaped here.
fn table(out: &mut String, headers: &[&str], rows: &[Vec<String>]) {
    out.push_str("<table><thead><tr>");
    for header in headers {
        let _ = write!(out, "<th>{}</th>", escape(header));
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{}</td>", escape(cell));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
}

impl DrillReport {
    /// The report as one self-contained, printable HTML page.
    pub fn to_html(&self) -> String {
        let mut out = String::new();
        let title = format!("DR drill report: protection group {}", self.group);
        let _ = write!(
            out,
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body><h1>{}</h1>",
            escape(&title),
            escape(&title)
        );
        out.push_str("<h2>Summary</h2>");
        let summary: Vec<Vec<String>> = [
            (
                "Protection group",
                format!("{} ({})", self.group, self.group_id),
            ),
            (
                "Project",
                format!("{} ({})", self.project_name, self.project_id),
            ),
            ("Drill operation", self.operation_id.to_string()),
            ("Production site", self.source_site.clone()),
            ("Drill site", self.drill_site.clone()),
            (
                "Run from site",
                self.run_from_site
                    .clone()
                    .unwrap_or_else(|| "not recorded".into()),
            ),
            ("Outcome", self.status.as_str().to_string()),
            ("Started", utc(&self.started_at)),
            ("Ended", time(self.completed_at.as_ref())),
            ("RTO", self.rto.summary.clone()),
            (
                "Test resources",
                if self.resources_present {
                    "still present (cleanup not run yet)".to_string()
                } else {
                    "removed".to_string()
                },
            ),
            (
                "Error",
                self.error_message.clone().unwrap_or_else(|| "none".into()),
            ),
        ]
        .into_iter()
        .map(|(k, v)| vec![k.to_string(), v])
        .collect();
        table(&mut out, &["Item", "Value"], &summary);
        for note in &self.notes {
            let _ = write!(out, "<p class=\"warning\">{}</p>", escape(note));
        }

        out.push_str("<h2>Timeline</h2>");
        let rows: Vec<Vec<String>> = self
            .timeline
            .iter()
            .map(|s| {
                vec![
                    s.step.clone(),
                    s.status.clone(),
                    utc(&s.started_at),
                    time(s.completed_at.as_ref()),
                    secs(
                        s.completed_at
                            .map(|end| super::seconds_between(s.started_at, end)),
                    ),
                ]
            })
            .collect();
        table(
            &mut out,
            &["Step", "Status", "Started", "Ended", "Duration"],
            &rows,
        );

        out.push_str("<h2>Test instances</h2>");
        let rows: Vec<Vec<String>> = self
            .instances
            .iter()
            .map(|i| {
                vec![
                    i.instance_name.clone(),
                    i.server_name.clone(),
                    i.server_id.clone().unwrap_or_else(|| "-".into()),
                    time(i.boot_requested_at.as_ref()),
                    time(i.active_at.as_ref()),
                    secs(i.boot_secs),
                    i.status.clone(),
                    i.error.clone().unwrap_or_default(),
                ]
            })
            .collect();
        table(
            &mut out,
            &[
                "Instance",
                "Test server",
                "Server id",
                "Boot requested",
                "ACTIVE at",
                "Boot time",
                "Status",
                "Error",
            ],
            &rows,
        );

        out.push_str("<h2>Checks</h2><table><thead><tr><th>Check</th><th>Outcome</th><th>Detail</th></tr></thead><tbody>");
        for check in &self.checks {
            let outcome = check.outcome.as_str();
            let _ = write!(
                out,
                "<tr><td>{}</td><td class=\"{outcome}\">{outcome}</td><td>{}</td></tr>",
                escape(&check.name),
                escape(&check.detail)
            );
        }
        out.push_str("</tbody></table>");

        out.push_str("<h2>Recovery point</h2>");
        let rows = match &self.recovery_point {
            Some(point) => vec![
                vec!["Snapshot".to_string(), point.snapshot.clone()],
                vec!["Taken".to_string(), time(point.created_at.as_ref())],
                vec![
                    "Age at drill start".to_string(),
                    point
                        .age_secs
                        .map_or_else(|| "-".to_string(), |s| format!("{s} s")),
                ],
            ],
            None => vec![vec!["Snapshot".to_string(), "not recorded".to_string()]],
        };
        table(&mut out, &["Item", "Value"], &rows);

        out.push_str("<h2>Recovery time (RTO)</h2>");
        let rows = vec![
            vec!["Achieved".to_string(), secs(self.rto.achieved_secs)],
            vec![
                "Last instance ACTIVE".to_string(),
                time(self.rto.last_active_at.as_ref()),
            ],
            vec![
                "Estimate".to_string(),
                self.rto
                    .estimated_secs
                    .map_or_else(|| "no estimate recorded".to_string(), |s| format!("{s} s")),
            ],
            vec!["Summary".to_string(), self.rto.summary.clone()],
        ];
        table(&mut out, &["Item", "Value"], &rows);

        out.push_str("<h2>Cleanup</h2>");
        match &self.cleanup {
            Some(cleanup) => {
                let rows = vec![
                    vec!["Operation".to_string(), cleanup.operation_id.to_string()],
                    vec!["Outcome".to_string(), cleanup.status.as_str().to_string()],
                    vec!["Started".to_string(), utc(&cleanup.started_at)],
                    vec!["Ended".to_string(), time(cleanup.completed_at.as_ref())],
                    vec!["Removed".to_string(), cleanup.removed.join(", ")],
                    vec![
                        "Error".to_string(),
                        cleanup
                            .error_message
                            .clone()
                            .unwrap_or_else(|| "none".into()),
                    ],
                ];
                table(&mut out, &["Item", "Value"], &rows);
            }
            None => out.push_str("<p>No cleanup has run yet.</p>"),
        }
        let _ = writeln!(
            out,
            "<footer>Generated by protector {} at {}.</footer></body></html>",
            escape(&self.protector_version),
            utc(&self.generated_at)
        );
        out
    }
}
