//! `report.html`: the auditor-facing report, one self-contained file (inline CSS, JS and SVG; no remote
//! scripts, fonts or images), rendered with Tera from `templates/report.html.tera` and the chart macros
//! of `templates/charts.html.tera`, both compiled into the binary.
//!
//! Everything read from AWS (tags, identifiers, account names, messages) is attacker-controllable.
//! The templates are registered as `report.html` and `charts.html`, so Tera escapes every value they
//! print, chart labels included: no markup is built in Rust and no value is printed `safe`. A
//! Content-Security-Policy that admits only the template's own script and style (by hash) is a second
//! line: an injected `<script>` would not run even if escaping ever failed.
//!
//! [`view`] formats every value (ages, times, counts) and [`charts`] computes the charts' geometry, so
//! the templates need none of Tera's builtins: they only print.

use std::io::{self, Write};

use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest, Sha256};

use crate::report::v1::ReportV1;
use crate::report::{CheckStatus, DrillState, Status};

mod charts;
mod view;

#[cfg(test)]
mod tests;

/// The page template, compiled in: the binary renders reports with no file beside it.
const TEMPLATE: &str = include_str!("../../../templates/report.html.tera");
/// The name the page template is registered under: its `.html` suffix turns Tera's autoescaping on.
const TEMPLATE_NAME: &str = "report.html";
/// The chart macros the page imports, compiled in the same way.
const CHARTS: &str = include_str!("../../../templates/charts.html.tera");
/// The name the page imports the chart macros by (`.html`: escaped like the page).
const CHARTS_NAME: &str = "charts.html";

/// Statuses in display order, with the CSS class and the sort rank (most urgent first).
const STATUSES: [(Status, &str, u8); 5] = [
    (Status::Error, "error", 0),
    (Status::NonCompliant, "noncompliant", 1),
    (Status::Compliant, "compliant", 2),
    (Status::Exempt, "exempt", 3),
    (Status::Ungoverned, "ungoverned", 4),
];

fn status_class(status: Status) -> &'static str {
    STATUSES
        .iter()
        .find(|(s, _, _)| *s == status)
        .map(|(_, class, _)| *class)
        .unwrap_or("ungoverned")
}

fn status_rank(status: Status) -> u8 {
    STATUSES
        .iter()
        .find(|(s, _, _)| *s == status)
        .map(|(_, _, rank)| *rank)
        .unwrap_or(9)
}

fn check_class(status: CheckStatus) -> &'static str {
    match status {
        CheckStatus::Pass => "pass",
        CheckStatus::Fail => "fail",
        CheckStatus::Skip => "skip",
        CheckStatus::Error => "error",
    }
}

/// The drill states in the coverage table's order, with their words and the CSS class of a check
/// result they read as.
const DRILL_STATES: [(DrillState, &str, &str); 6] = [
    (
        DrillState::Passed,
        "passed within drill.every and the RTO",
        "pass",
    ),
    (DrillState::OverRto, "over the RTO", "fail"),
    (DrillState::Failed, "failed (restore or probe)", "fail"),
    (DrillState::Stale, "older than drill.every", "fail"),
    (DrillState::Never, "never drilled", "fail"),
    (
        DrillState::Unknown,
        "not judged (no replica, or unreadable)",
        "skip",
    ),
];

fn drill_words(state: DrillState) -> (&'static str, &'static str) {
    DRILL_STATES
        .iter()
        .find(|(s, _, _)| *s == state)
        .map(|(_, words, class)| (*words, *class))
        .unwrap_or(("not judged", "skip"))
}

pub fn write(report: &ReportV1, out: &mut dyn Write) -> io::Result<()> {
    let mut tera = tera::Tera::default();
    tera.autoescape_on(vec![".html"]);
    // Added together, so the page's `import` of the chart macros resolves.
    tera.add_raw_templates([(CHARTS_NAME, CHARTS), (TEMPLATE_NAME, TEMPLATE)])
        .map_err(|e| io::Error::other(format!("report.html template: {}", error_chain(&e))))?;
    let context = tera::Context::from_serialize(view::View::of(report))
        .map_err(|e| io::Error::other(format!("report.html context: {e}")))?;
    tera.render_to(TEMPLATE_NAME, &context, out)
        .map_err(|e| io::Error::other(format!("report.html: {}", error_chain(&e))))
}

fn error_chain(error: &tera::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Standard base64 (RFC 4648, padded), for the CSP hashes.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The text between the first `open` and the next `close` in the template: the inline script or
/// style exactly as the page will carry it (they contain no Tera tags), to hash for the CSP.
fn inline_block(open: &str, close: &str) -> &'static str {
    TEMPLATE
        .split_once(open)
        .and_then(|(_, rest)| rest.split_once(close))
        .map(|(block, _)| block)
        .unwrap_or("")
}

fn csp_hash(block: &str) -> String {
    format!("'sha256-{}'", base64(&Sha256::digest(block.as_bytes())))
}

/// The page's policy: no network at all, and only its own inline style and script, by their hashes.
fn content_security_policy() -> String {
    format!(
        "default-src 'none'; img-src data:; style-src {}; script-src {}; base-uri 'none'; form-action 'none'",
        csp_hash(inline_block("<style>", "</style>")),
        csp_hash(inline_block("<script>", "</script>")),
    )
}

fn rfc3339(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The short form of a KMS key ARN for the table (`key/...` or `alias/...`); the evidence shows it whole.
fn short_key(arn: &str) -> &str {
    arn.rsplit_once(':').map(|(_, tail)| tail).unwrap_or(arn)
}

fn account_label(id: &str, name: Option<&str>) -> String {
    match name {
        Some(name) if !name.is_empty() => format!("{name} ({id})"),
        _ => id.to_string(),
    }
}

fn percent(part: usize, whole: usize) -> String {
    if whole == 0 {
        return "-".to_string();
    }
    format!("{:.0}%", part as f64 * 100.0 / whole as f64)
}
