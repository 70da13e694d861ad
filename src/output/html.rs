//! `report.html`: the auditor-facing report, one self-contained file (inline CSS, JS and SVG; no remote
//! scripts, fonts or images), rendered with Tera from `templates/report.html.tera`, which is compiled
//! into the binary.
//!
//! Everything read from AWS (tags, identifiers, account names, messages) is attacker-controllable.
//! The template is registered as `report.html`, so Tera escapes every value it prints; the only
//! markup that reaches the page unescaped is the SVG built here, whose text all goes through
//! [`escape`]. A Content-Security-Policy that admits only the template's own script and style (by
//! hash) is a second line: an injected `<script>` would not run even if escaping ever failed.
//!
//! Values are formatted here (ages, times, counts) so the template needs none of Tera's builtins.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::report::v1::Drift;
use crate::report::v1::ReportV1;
use crate::report::{CheckStatus, SourceReport, Status};
use crate::rules::format_seconds;

/// The template, compiled in: the binary renders reports with no file beside it.
const TEMPLATE: &str = include_str!("../../templates/report.html.tera");
/// The name the template is registered under: its `.html` suffix turns Tera's autoescaping on.
const TEMPLATE_NAME: &str = "report.html";

/// The sources table is cut into tables of this many rows, each laid out only near the screen.
const CHUNK_ROWS: usize = 500;

/// Bar charts show at most this many rows (the worst first); the data table under each shows all.
const MAX_CHART_ROWS: usize = 40;

/// Statuses in display order, with the CSS class and the sort rank (most urgent first).
const STATUSES: [(Status, &str, u8); 5] = [
    (Status::Error, "error", 0),
    (Status::NonCompliant, "noncompliant", 1),
    (Status::Compliant, "compliant", 2),
    (Status::Exempt, "exempt", 3),
    (Status::Ungoverned, "ungoverned", 4),
];

/// Chart colours: each at least 3:1 against white (WCAG non-text contrast); every segment also has
/// a text label or a legend entry, so no status is told by colour alone.
fn status_fill(status: Status) -> &'static str {
    match status {
        Status::Compliant => "#2e7d32",
        Status::NonCompliant => "#c62828",
        Status::Error => "#a15c00",
        Status::Exempt => "#3949ab",
        Status::Ungoverned => "#6b6b6b",
    }
}

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

pub fn write(report: &ReportV1, out: &mut dyn Write) -> io::Result<()> {
    let mut tera = tera::Tera::default();
    tera.autoescape_on(vec![".html"]);
    tera.add_raw_template(TEMPLATE_NAME, TEMPLATE)
        .map_err(|e| io::Error::other(format!("report.html template: {e:?}")))?;
    let context = tera::Context::from_serialize(View::of(report))
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

/// Markup escaping, shared with the other markup outputs.
pub use super::escape::escape_xml as escape;

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

fn rfc3339(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The short form of a KMS key ARN for the table (`key/...` or `alias/...`); the evidence shows it whole.
fn short_key(arn: &str) -> &str {
    arn.rsplit_once(':').map(|(_, tail)| tail).unwrap_or(arn)
}

// ---------------------------------------------------------------------------------------------------
// The view: what the template prints, every value already formatted.

#[derive(Serialize)]
struct View {
    title: String,
    csp: String,
    run: RunView,
    incomplete: bool,
    error_sources: usize,
    errors: Vec<ErrorView>,
    unreadable_scopes: Vec<String>,
    warnings: Vec<String>,
    drift: Option<DriftView>,
    counts: Vec<CountView>,
    total: usize,
    charts: Vec<ChartView>,
    filters: Filters,
    chunks: Vec<ChunkView>,
    rules: Vec<RuleView>,
}

/// A run of consecutive rows of the sources table (numbered from 1).
#[derive(Serialize)]
struct ChunkView {
    first_chunk: bool,
    /// Holds [`CHUNK_ROWS`] rows: laid out only near the screen, at the height the CSS estimates.
    /// A smaller (last) chunk is always laid out, so a small report never relies on the estimate.
    full: bool,
    first: usize,
    last: usize,
    sources: Vec<SourceView>,
}

#[derive(Serialize)]
struct RunView {
    organization_id: String,
    id: String,
    as_of: String,
    started_at: String,
    finished_at: String,
    rules_sha256: String,
    tool_version: String,
    caller_arn: String,
    schema: String,
}

#[derive(Serialize)]
struct ErrorView {
    account: String,
    region: String,
    operation: String,
    code: String,
    message: String,
    resource: String,
}

/// Changes since the baseline run (`--baseline`), when the report has them.
#[derive(Serialize)]
struct DriftView {
    baseline_run: String,
    baseline_as_of: String,
    baseline_path: String,
    threshold: String,
    worse: bool,
    new_failures: Vec<DriftItemView>,
    resolved: Vec<DriftItemView>,
    regressions: Vec<RegressionView>,
    status_changes: Vec<StatusChangeView>,
    new_sources: Vec<String>,
    removed_sources: Vec<String>,
}

#[derive(Serialize)]
struct DriftItemView {
    identifier: String,
    arn: String,
    check: String,
    observed: String,
}

#[derive(Serialize)]
struct RegressionView {
    identifier: String,
    arn: String,
    kind: String,
    before: String,
    after: String,
}

#[derive(Serialize)]
struct StatusChangeView {
    identifier: String,
    arn: String,
    before: &'static str,
    before_class: &'static str,
    after: &'static str,
    after_class: &'static str,
}

impl DriftView {
    fn of(drift: &Drift) -> DriftView {
        let item = |i: &crate::report::v1::DriftItem| DriftItemView {
            identifier: i.identifier.clone(),
            arn: i.arn.clone(),
            check: i.check.clone(),
            observed: i.observed.clone(),
        };
        DriftView {
            baseline_run: drift.baseline.run_id.clone(),
            baseline_as_of: rfc3339(&drift.baseline.as_of),
            baseline_path: drift.baseline.path.clone().unwrap_or_default(),
            threshold: format_seconds(drift.age_threshold_seconds),
            worse: drift.is_worse(),
            new_failures: drift.new_failures.iter().map(item).collect(),
            resolved: drift.resolved.iter().map(item).collect(),
            regressions: drift
                .regressions
                .iter()
                .map(|r| RegressionView {
                    identifier: r.identifier.clone(),
                    arn: r.arn.clone(),
                    // The kind's published name (`replica-age-grew`), read as words.
                    kind: serde_json::to_value(r.kind)
                        .ok()
                        .and_then(|v| v.as_str().map(|k| k.replace('-', " ")))
                        .unwrap_or_default(),
                    before: r.before.clone(),
                    after: r.after.clone(),
                })
                .collect(),
            status_changes: drift
                .status_changes
                .iter()
                .map(|c| StatusChangeView {
                    identifier: c.identifier.clone(),
                    arn: c.arn.clone(),
                    before: c.before.as_str(),
                    before_class: status_class(c.before),
                    after: c.after.as_str(),
                    after_class: status_class(c.after),
                })
                .collect(),
            new_sources: drift.new_sources.clone(),
            removed_sources: drift.removed_sources.clone(),
        }
    }
}

#[derive(Serialize)]
struct CountView {
    status: &'static str,
    class: &'static str,
    count: usize,
    share: String,
}

#[derive(Serialize)]
struct ChartView {
    id: &'static str,
    heading: String,
    note: String,
    /// SVG markup built by this module, every text in it escaped with [`escape`].
    svg: String,
    table: ChartTable,
}

#[derive(Serialize)]
struct ChartTable {
    caption: String,
    columns: Vec<String>,
    rows: Vec<Vec<String>>,
}

#[derive(Serialize)]
struct Filters {
    accounts: Vec<Choice>,
    rules: Vec<Choice>,
    ungoverned: bool,
}

#[derive(Serialize)]
struct Choice {
    value: String,
    label: String,
}

#[derive(Serialize)]
struct SourceView {
    arn: String,
    kind: &'static str,
    account_id: String,
    account_name: String,
    region: String,
    identifier: String,
    engine: String,
    rule: String,
    status: &'static str,
    class: &'static str,
    rank: u8,
    age: String,
    age_sort: i64,
    replica_count: usize,
    key: String,
    failing: usize,
    checks: Vec<CheckView>,
    replica: Option<ReplicaView>,
    /// The restore link of the chain, from the restore-current check.
    restore: String,
    expected_key: String,
    severity: String,
    tags: Vec<TagView>,
    exemption: Option<ExemptionView>,
}

#[derive(Serialize)]
struct TagView {
    key: String,
    value: String,
}

#[derive(Serialize)]
struct CheckView {
    id: String,
    status: &'static str,
    class: &'static str,
    severity: &'static str,
    observed: String,
    expected: String,
    message: String,
}

#[derive(Serialize)]
struct ReplicaView {
    arn: String,
    account_id: String,
    account_name: String,
    region: String,
    time: String,
    age: String,
    kms_key_arn: String,
}

#[derive(Serialize)]
struct ExemptionView {
    pattern: String,
    reason: String,
    expires: String,
}

#[derive(Serialize)]
struct RuleView {
    id: String,
    description: String,
    severity: &'static str,
    max_age: String,
    destination_account: String,
    destination_region: String,
    destination_kms_key: String,
    sources: usize,
}

impl View {
    fn of(report: &ReportV1) -> View {
        let summary = &report.summary;
        let total = report.sources.len();
        let as_of = rfc3339(&report.run.as_of);
        let organization_id = report
            .run
            .organization_id
            .clone()
            .unwrap_or_else(|| "not read (accounts named on the command line)".to_string());
        let name = |id: &str| report.account_name(id).unwrap_or_default().to_string();
        let counts = STATUSES
            .iter()
            .map(|(status, class, _)| {
                let count = match status {
                    Status::Compliant => summary.compliant,
                    Status::NonCompliant => summary.non_compliant,
                    Status::Error => summary.error,
                    Status::Exempt => summary.exempt,
                    Status::Ungoverned => summary.ungoverned,
                };
                CountView {
                    status: status.as_str(),
                    class,
                    count,
                    share: percent(count, summary.sources),
                }
            })
            .collect();

        let mut accounts: Vec<&str> = report
            .sources
            .iter()
            .map(|s| s.account_id.as_str())
            .collect();
        accounts.sort_unstable();
        accounts.dedup();
        let mut rule_ids: Vec<String> = report.rules.iter().map(|r| r.id.clone()).collect();
        for source in &report.sources {
            if let Some(rule) = &source.rule {
                if !rule_ids.contains(rule) {
                    rule_ids.push(rule.clone());
                }
            }
        }
        let filters = Filters {
            accounts: accounts
                .iter()
                .map(|id| Choice {
                    value: id.to_string(),
                    label: account_label(id, report.account_name(id)),
                })
                .collect(),
            rules: rule_ids
                .iter()
                .map(|id| Choice {
                    value: id.clone(),
                    label: id.clone(),
                })
                .collect(),
            ungoverned: report.sources.iter().any(|s| s.rule.is_none()),
        };

        let mut chunks: Vec<ChunkView> = Vec::new();
        for (i, source) in report.sources.iter().enumerate() {
            if i % CHUNK_ROWS == 0 {
                chunks.push(ChunkView {
                    first_chunk: i == 0,
                    full: total - i >= CHUNK_ROWS,
                    first: i + 1,
                    last: (i + CHUNK_ROWS).min(total),
                    sources: Vec::with_capacity(CHUNK_ROWS.min(total - i)),
                });
            }
            if let Some(chunk) = chunks.last_mut() {
                chunk.sources.push(SourceView::of(report, source));
            }
        }
        let rules = report
            .rules
            .iter()
            .map(|rule| RuleView {
                id: rule.id.clone(),
                description: rule.description.clone().unwrap_or_default(),
                severity: rule.severity.as_str(),
                max_age: format_seconds(rule.max_age_seconds),
                destination_account: account_label(
                    &rule.destination_account,
                    report.account_name(&rule.destination_account),
                ),
                destination_region: rule.destination_region.clone(),
                destination_kms_key: rule.destination_kms_key.clone().unwrap_or_default(),
                sources: report
                    .sources
                    .iter()
                    .filter(|s| s.rule.as_deref() == Some(rule.id.as_str()))
                    .count(),
            })
            .collect();

        View {
            title: format!("rdsguard audit report: {organization_id}, {as_of}"),
            csp: format!(
                "default-src 'none'; img-src data:; style-src {}; script-src {}; base-uri 'none'; form-action 'none'",
                csp_hash(inline_block("<style>", "</style>")),
                csp_hash(inline_block("<script>", "</script>")),
            ),
            run: RunView {
                organization_id,
                id: report.run.id.clone(),
                as_of,
                started_at: rfc3339(&report.run.started_at),
                finished_at: rfc3339(&report.run.finished_at),
                rules_sha256: report.run.rules_sha256.clone(),
                tool_version: report.run.tool_version.clone(),
                caller_arn: report
                    .run
                    .caller_arn
                    .clone()
                    .unwrap_or_else(|| "unknown".to_string()),
                schema: report.schema.clone(),
            },
            incomplete: !report.errors.is_empty()
                || !report.unreadable_scopes.is_empty()
                || summary.error > 0,
            error_sources: summary.error,
            errors: report
                .errors
                .iter()
                .map(|e| ErrorView {
                    account: account_label(&e.account_id, report.account_name(&e.account_id)),
                    region: e.region.clone(),
                    operation: e.operation.clone(),
                    code: e.code.clone(),
                    message: e.message.clone(),
                    resource: e.resource.clone().unwrap_or_default(),
                })
                .collect(),
            unreadable_scopes: report
                .unreadable_scopes
                .iter()
                .map(|scope| match scope.split_once('/') {
                    Some((account, region)) if !name(account).is_empty() => {
                        format!("{account} ({})/{region}", name(account))
                    }
                    _ => scope.clone(),
                })
                .collect(),
            warnings: report.warnings.clone(),
            drift: report.drift.as_ref().map(DriftView::of),
            counts,
            total,
            charts: vec![
                by_account_chart(report),
                by_rule_chart(report, &rule_ids),
                age_chart(report),
            ],
            filters,
            chunks,
            rules,
        }
    }
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

impl SourceView {
    fn of(report: &ReportV1, source: &SourceReport) -> SourceView {
        let rule = source
            .rule
            .as_deref()
            .and_then(|id| report.rules.iter().find(|r| r.id == id));
        let replica = source.latest_replica.as_ref();
        SourceView {
            arn: source.arn.clone(),
            kind: source.kind.as_str(),
            account_id: source.account_id.clone(),
            account_name: report
                .account_name(&source.account_id)
                .unwrap_or_default()
                .to_string(),
            region: source.region.clone(),
            identifier: source.identifier.clone(),
            engine: source.engine.clone(),
            rule: source.rule.clone().unwrap_or_default(),
            status: source.status.as_str(),
            class: status_class(source.status),
            rank: status_rank(source.status),
            age: replica
                .map(|r| format_seconds(r.age_seconds))
                .unwrap_or_default(),
            // No replica sorts after the oldest one: it is the worst case.
            age_sort: replica.map(|r| r.age_seconds).unwrap_or(i64::MAX / 2),
            replica_count: source.replica_count,
            restore: match source.checks.iter().find(|c| c.id == "restore-current") {
                None => "not required by the rule".to_string(),
                Some(check) => format!("{} ({})", check.message, check.status.as_str()),
            },
            key: replica
                .and_then(|r| r.kms_key_arn.as_deref())
                .map(|k| short_key(k).to_string())
                .unwrap_or_default(),
            failing: source
                .checks
                .iter()
                .filter(|c| matches!(c.status, CheckStatus::Fail | CheckStatus::Error))
                .count(),
            checks: source
                .checks
                .iter()
                .map(|c| CheckView {
                    id: c.id.clone(),
                    status: c.status.as_str(),
                    class: check_class(c.status),
                    severity: c.severity.as_str(),
                    observed: c.observed.clone(),
                    expected: c.expected.clone(),
                    message: c.message.clone(),
                })
                .collect(),
            replica: replica.map(|r| ReplicaView {
                arn: r.arn.clone(),
                account_id: r.account_id.clone(),
                account_name: report
                    .account_name(&r.account_id)
                    .unwrap_or_default()
                    .to_string(),
                region: r.region.clone(),
                time: rfc3339(&r.replica_time),
                age: format_seconds(r.age_seconds),
                kms_key_arn: r.kms_key_arn.clone().unwrap_or_default(),
            }),
            expected_key: rule
                .and_then(|r| r.destination_kms_key.clone())
                .unwrap_or_default(),
            severity: rule
                .map(|r| r.severity.as_str().to_string())
                .unwrap_or_default(),
            tags: source
                .tags
                .iter()
                .map(|(key, value)| TagView {
                    key: key.clone(),
                    value: value.clone(),
                })
                .collect(),
            exemption: source.exemption.as_ref().map(|e| ExemptionView {
                pattern: e.arn_pattern.clone(),
                reason: e.reason.clone(),
                expires: e
                    .expires
                    .map(|d| d.to_string())
                    .unwrap_or_else(|| "never".to_string()),
            }),
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Charts: inline SVG, every text escaped.

/// Counts by status, in [`STATUSES`] order.
#[derive(Default, Clone)]
struct Tally([usize; 5]);

impl Tally {
    fn add(&mut self, status: Status) {
        if let Some(i) = STATUSES.iter().position(|(s, _, _)| *s == status) {
            self.0[i] += 1;
        }
    }
    fn get(&self, status: Status) -> usize {
        STATUSES
            .iter()
            .position(|(s, _, _)| *s == status)
            .map(|i| self.0[i])
            .unwrap_or(0)
    }
    fn total(&self) -> usize {
        self.0.iter().sum()
    }
    fn governed(&self) -> usize {
        self.get(Status::Compliant) + self.get(Status::NonCompliant) + self.get(Status::Error)
    }
    fn problems(&self) -> usize {
        self.get(Status::NonCompliant) + self.get(Status::Error)
    }
    fn compliance(&self) -> String {
        let governed = self.governed();
        if governed == 0 {
            "none governed".to_string()
        } else {
            format!(
                "{} of {} compliant ({})",
                self.get(Status::Compliant),
                governed,
                percent(self.get(Status::Compliant), governed)
            )
        }
    }
}

fn tally_table(caption: String, first: &str, rows: &[(String, Tally)]) -> ChartTable {
    let mut columns = vec![first.to_string()];
    columns.extend(STATUSES.iter().map(|(s, _, _)| s.as_str().to_string()));
    columns.push("Sources".to_string());
    columns.push("Compliance".to_string());
    ChartTable {
        caption,
        columns,
        rows: rows
            .iter()
            .map(|(label, tally)| {
                let mut row = vec![label.clone()];
                row.extend(tally.0.iter().map(usize::to_string));
                row.push(tally.total().to_string());
                row.push(tally.compliance());
                row
            })
            .collect(),
    }
}

fn by_account_chart(report: &ReportV1) -> ChartView {
    let mut tallies: BTreeMap<&str, Tally> = BTreeMap::new();
    for source in &report.sources {
        tallies
            .entry(source.account_id.as_str())
            .or_default()
            .add(source.status);
    }
    let mut rows: Vec<(String, Tally)> = tallies
        .into_iter()
        .map(|(id, tally)| (account_label(id, report.account_name(id)), tally))
        .collect();
    let table = tally_table(
        "Sources by account and status".to_string(),
        "Account",
        &rows,
    );
    let count = rows.len();
    // The chart shows the accounts with the most problems first.
    rows.sort_by_key(|row| std::cmp::Reverse(row.1.problems()));
    rows.truncate(MAX_CHART_ROWS);
    let note = if count > MAX_CHART_ROWS {
        format!(
            "The {MAX_CHART_ROWS} accounts with the most non-compliant or error sources, of {count}; the table lists all."
        )
    } else {
        format!("{count} account(s) with databases.")
    };
    ChartView {
        id: "chart-accounts",
        heading: "Compliance by account".to_string(),
        svg: stacked_bars("chart-accounts", "Compliance by account", &rows),
        note,
        table,
    }
}

fn by_rule_chart(report: &ReportV1, rule_ids: &[String]) -> ChartView {
    let mut rows: Vec<(String, Tally)> = rule_ids
        .iter()
        .map(|id| (id.clone(), Tally::default()))
        .collect();
    let mut none = Tally::default();
    for source in &report.sources {
        match &source.rule {
            Some(rule) => {
                if let Some((_, tally)) = rows.iter_mut().find(|(id, _)| id == rule) {
                    tally.add(source.status);
                }
            }
            None => none.add(source.status),
        }
    }
    if none.total() > 0 {
        rows.push(("(no rule)".to_string(), none));
    }
    let table = tally_table("Sources by rule and status".to_string(), "Rule", &rows);
    let count = rows.len();
    rows.truncate(MAX_CHART_ROWS);
    ChartView {
        id: "chart-rules",
        heading: "Compliance by rule".to_string(),
        svg: stacked_bars("chart-rules", "Compliance by rule", &rows),
        note: format!(
            "{count} rule(s); sources no rule selects are UNGOVERNED; exempt sources keep their rule."
        ),
        table,
    }
}

/// Cuts `text` to `max` characters, with an ellipsis.
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
        out.push('\u{2026}');
        out
    }
}

fn svg_open(out: &mut String, id: &str, title: &str, desc: &str, width: u32, height: u32) {
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-labelledby="{id}-t {id}-d"><title id="{id}-t">{}</title><desc id="{id}-d">{}</desc>"#,
        escape(title),
        escape(desc)
    );
}

fn legend(out: &mut String, items: &[(&str, &str)], y: u32) {
    let mut x = 0u32;
    for (label, fill) in items {
        let _ = write!(
            out,
            r#"<rect x="{x}" y="{}" width="12" height="12" fill="{fill}"/><text x="{}" y="{}" class="lg">{}</text>"#,
            y,
            x + 16,
            y + 10,
            escape(label)
        );
        x += 24 + 7 * label.len() as u32;
    }
}

/// One 100%-wide bar per row, split by status, with the row's label and its compliance in text.
fn stacked_bars(id: &str, title: &str, rows: &[(String, Tally)]) -> String {
    const LABEL: u32 = 230;
    const BAR: f64 = 330.0;
    const ROW: u32 = 24;
    const TOP: u32 = 28;
    let width = LABEL + BAR as u32 + 190;
    let height = TOP + ROW * rows.len().max(1) as u32 + 6;
    let desc = rows
        .iter()
        .map(|(label, tally)| format!("{label}: {}", tally.compliance()))
        .collect::<Vec<_>>()
        .join("; ");
    let mut out = String::new();
    svg_open(&mut out, id, title, &desc, width, height);
    let items: Vec<(&str, &str)> = STATUSES
        .iter()
        .map(|(s, _, _)| (s.as_str(), status_fill(*s)))
        .collect();
    legend(&mut out, &items, 4);
    if rows.is_empty() {
        let _ = write!(out, r#"<text x="0" y="{}">No sources.</text>"#, TOP + 14);
    }
    for (i, (label, tally)) in rows.iter().enumerate() {
        let y = TOP + ROW * i as u32;
        let _ = write!(
            out,
            r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
            LABEL - 8,
            y + 14,
            escape(&clip(label, 32))
        );
        let total = tally.total().max(1) as f64;
        let mut x = f64::from(LABEL);
        for (j, (status, _, _)) in STATUSES.iter().enumerate() {
            let n = tally.0[j];
            if n == 0 {
                continue;
            }
            let w = BAR * n as f64 / total;
            let _ = write!(
                out,
                r#"<rect x="{x:.1}" y="{y}" width="{w:.1}" height="18" fill="{}"><title>{}: {n} {}</title></rect>"#,
                status_fill(*status),
                escape(label),
                status.as_str()
            );
            x += w;
        }
        let _ = write!(
            out,
            r#"<text x="{}" y="{}">{}</text>"#,
            LABEL + BAR as u32 + 8,
            y + 14,
            escape(&tally.compliance())
        );
    }
    out.push_str("</svg>");
    out
}

/// Age bins (upper bounds, seconds): near-logarithmic, so hours and weeks both read.
const AGE_BINS: [i64; 11] = [
    3_600,
    3 * 3_600,
    6 * 3_600,
    12 * 3_600,
    86_400,
    2 * 86_400,
    3 * 86_400,
    7 * 86_400,
    14 * 86_400,
    30 * 86_400,
    90 * 86_400,
];

fn age_bin(age: i64) -> usize {
    AGE_BINS
        .iter()
        .position(|upper| age < *upper)
        .unwrap_or(AGE_BINS.len())
}

fn bin_label(i: usize) -> String {
    match i {
        0 => format!("< {}", format_seconds(AGE_BINS[0])),
        i if i >= AGE_BINS.len() => format!(">= {}", format_seconds(AGE_BINS[AGE_BINS.len() - 1])),
        i => format!(
            "{}-{}",
            format_seconds(AGE_BINS[i - 1]),
            format_seconds(AGE_BINS[i])
        ),
    }
}

/// Where an age falls on the histogram's x axis, in bins (linear within a bin).
fn age_position(age: i64) -> f64 {
    let bin = age_bin(age);
    let lower = if bin == 0 { 0 } else { AGE_BINS[bin - 1] };
    match AGE_BINS.get(bin) {
        Some(upper) => bin as f64 + (age - lower).max(0) as f64 / (upper - lower) as f64,
        None => AGE_BINS.len() as f64 + 0.5,
    }
}

fn age_chart(report: &ReportV1) -> ChartView {
    // Per bin: newest replica within its rule's max_age, past it, not judged.
    let bins = AGE_BINS.len() + 1;
    let mut within = vec![0usize; bins];
    let mut past = vec![0usize; bins];
    let mut other = vec![0usize; bins];
    let mut without = 0usize;
    for source in &report.sources {
        let Some(replica) = &source.latest_replica else {
            without += 1;
            continue;
        };
        let bin = age_bin(replica.age_seconds);
        match source
            .checks
            .iter()
            .find(|c| c.id == "replica-age")
            .map(|c| c.status)
        {
            Some(CheckStatus::Pass) => within[bin] += 1,
            Some(CheckStatus::Fail) => past[bin] += 1,
            _ => other[bin] += 1,
        }
    }
    // RPO lines: one per distinct max_age, naming its rules.
    let mut rpo: BTreeMap<i64, Vec<&str>> = BTreeMap::new();
    for rule in &report.rules {
        rpo.entry(rule.max_age_seconds)
            .or_default()
            .push(rule.id.as_str());
    }

    const LEFT: f64 = 44.0;
    const COL: f64 = 56.0;
    const TOP: f64 = 30.0;
    const PLOT: f64 = 180.0;
    let lines_h = 14.0 * rpo.len() as f64;
    let width = (LEFT + COL * bins as f64 + 20.0) as u32;
    let height = (TOP + lines_h + PLOT + 44.0) as u32;
    let base = TOP + lines_h + PLOT;
    let max = (0..bins)
        .map(|i| within[i] + past[i] + other[i])
        .max()
        .unwrap_or(0)
        .max(1);
    let scale = PLOT / max as f64;

    let rpo_text = rpo
        .iter()
        .map(|(age, ids)| format!("{} (max_age {})", ids.join(", "), format_seconds(*age)))
        .collect::<Vec<_>>()
        .join("; ");
    let desc = format!(
        "Histogram of the newest replica's age per source, {} bins from under 1h to over 90d; bars split into within and past the rule's max_age. RPO lines: {}. {} source(s) have no replica.",
        bins,
        if rpo_text.is_empty() { "none" } else { &rpo_text },
        without
    );
    let mut out = String::new();
    svg_open(
        &mut out,
        "chart-ages",
        "Newest replica age",
        &desc,
        width,
        height,
    );
    legend(
        &mut out,
        &[
            ("within max_age", status_fill(Status::Compliant)),
            ("past max_age", status_fill(Status::NonCompliant)),
            ("not judged", status_fill(Status::Ungoverned)),
            ("rule max_age (RPO)", "#000000"),
        ],
        4,
    );
    // Y axis: 0, half, max.
    for (value, label) in [(0, "0".to_string()), (max, max.to_string())]
        .into_iter()
        .chain((max >= 4).then(|| (max / 2, (max / 2).to_string())))
    {
        let y = base - value as f64 * scale;
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#d0d0d0"/><text x="{}" y="{:.1}" text-anchor="end" class="ax">{label}</text>"##,
            LEFT + COL * bins as f64,
            LEFT - 4.0,
            y + 4.0
        );
    }
    for i in 0..bins {
        let x = LEFT + COL * i as f64 + 6.0;
        let mut y = base;
        for (n, fill, what) in [
            (within[i], status_fill(Status::Compliant), "within max_age"),
            (past[i], status_fill(Status::NonCompliant), "past max_age"),
            (other[i], status_fill(Status::Ungoverned), "not judged"),
        ] {
            if n == 0 {
                continue;
            }
            let h = n as f64 * scale;
            y -= h;
            let _ = write!(
                out,
                r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{h:.1}" fill="{fill}"><title>{}: {n} {what}</title></rect>"#,
                COL - 12.0,
                escape(&bin_label(i))
            );
        }
        let n = within[i] + past[i] + other[i];
        if n > 0 {
            let _ = write!(
                out,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" class="ax">{n}</text>"#,
                x + (COL - 12.0) / 2.0,
                y - 3.0
            );
        }
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" class="ax">{}</text>"#,
            x + (COL - 12.0) / 2.0,
            base + 16.0,
            escape(&bin_label(i))
        );
    }
    let _ = write!(
        out,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" class="ax">age of the newest replica's data</text>"#,
        LEFT + COL * bins as f64 / 2.0,
        base + 34.0
    );
    for (k, (age, ids)) in rpo.iter().enumerate() {
        let x = LEFT + COL * age_position(*age);
        let label_y = TOP + 10.0 + 14.0 * k as f64;
        let label = format!("{} {}", format_seconds(*age), ids.join(", "));
        let _ = write!(
            out,
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="{:.1}" y2="{base:.1}" stroke="#000" stroke-width="1.5" stroke-dasharray="5 3"><title>{}</title></line><text x="{:.1}" y="{label_y:.1}" class="rpo">{}</text>"##,
            label_y + 2.0,
            escape(&label),
            x + 3.0,
            escape(&clip(&label, 48))
        );
    }
    out.push_str("</svg>");

    let table = ChartTable {
        caption: "Sources by age of the newest replica".to_string(),
        columns: ["Age", "Within max_age", "Past max_age", "Not judged"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        rows: (0..bins)
            .map(|i| {
                vec![
                    bin_label(i),
                    within[i].to_string(),
                    past[i].to_string(),
                    other[i].to_string(),
                ]
            })
            .chain(std::iter::once(vec![
                "no replica".to_string(),
                "-".to_string(),
                "-".to_string(),
                without.to_string(),
            ]))
            .collect(),
    };
    ChartView {
        id: "chart-ages",
        heading: "Replica age against each rule's RPO".to_string(),
        svg: out,
        note: format!(
            "Dashed lines: each rule's max_age. {without} source(s) have no replica and are not in the histogram."
        ),
        table,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Account, AwsError, SourceKind};
    use crate::report::{
        CheckResult, ExemptionInfo, LatestReplica, RuleSummary, SourceReport, Summary,
    };
    use crate::rules::Severity;
    use chrono::TimeZone;

    const HOSTILE: &str = "<script>alert(1)</script>";

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 24, h, 0, 0).unwrap()
    }

    fn check(id: &str, status: CheckStatus, observed: &str, message: &str) -> CheckResult {
        CheckResult {
            id: id.to_string(),
            status,
            severity: Severity::High,
            observed: observed.to_string(),
            expected: "<= 1d2h".to_string(),
            message: message.to_string(),
        }
    }

    fn source(account: &str, id: &str, status: Status) -> SourceReport {
        SourceReport {
            arn: format!("arn:aws:rds:us-east-1:{account}:db:{id}"),
            kind: SourceKind::DbInstance,
            account_id: account.to_string(),
            region: "us-east-1".to_string(),
            identifier: id.to_string(),
            engine: "postgres".to_string(),
            rule: None,
            status,
            latest_replica: None,
            replica_count: 0,
            checks: Vec::new(),
            exemption: None,
            tags: BTreeMap::new(),
        }
    }

    /// Built from JSON, so fields added to the model later (with serde defaults) need no change here.
    fn empty() -> ReportV1 {
        serde_json::from_value(serde_json::json!({
            "schema": crate::report::v1::SCHEMA,
            "run": {
                "id": "run-1",
                "as_of": at(6),
                "started_at": at(5),
                "finished_at": at(6),
                "tool_version": "0.1.0",
                "rules_sha256": "ab".repeat(32),
                "organization_id": "o-abc123",
                "caller_arn": "arn:aws:iam::111111111111:user/auditor"
            },
            "summary": Summary::default(),
            "sources": [],
            "errors": [],
            "unreadable_scopes": [],
            "warnings": []
        }))
        .unwrap()
    }

    /// Four sources: compliant, failing with a hostile tag, exempt, ungoverned; a hostile account name.
    fn sample() -> ReportV1 {
        let mut report = empty();
        report.accounts = vec![
            Account {
                id: "111111111111".to_string(),
                name: Some(HOSTILE.to_string()),
            },
            Account {
                id: "222222222222".to_string(),
                name: Some("Vault".to_string()),
            },
        ];
        report.rules = vec![RuleSummary {
            id: "prod".to_string(),
            description: Some("Production".to_string()),
            severity: Severity::High,
            max_age_seconds: 26 * 3600,
            destination_account: "222222222222".to_string(),
            destination_region: "same".to_string(),
            destination_kms_key: Some("alias/rds-vault".to_string()),
        }];
        let replica = |id: &str, age_h: i64| LatestReplica {
            arn: format!("arn:aws:rds:us-east-1:222222222222:snapshot:{id}-copy"),
            account_id: "222222222222".to_string(),
            region: "us-east-1".to_string(),
            replica_time: at(6) - chrono::Duration::hours(age_h),
            age_seconds: age_h * 3600,
            kms_key_arn: Some("arn:aws:kms:us-east-1:222222222222:key/vault-key-id".to_string()),
        };
        let mut ok = source("111111111111", "orders", Status::Compliant);
        ok.rule = Some("prod".to_string());
        ok.latest_replica = Some(replica("orders", 3));
        ok.replica_count = 2;
        ok.checks = vec![
            check("replica-age", CheckStatus::Pass, "3h", "fresh"),
            check("replica-present", CheckStatus::Pass, "2", "present"),
        ];
        let mut bad = source("111111111111", "payments", Status::NonCompliant);
        bad.rule = Some("prod".to_string());
        bad.latest_replica = Some(replica("payments", 40));
        bad.replica_count = 1;
        bad.checks = vec![
            check(
                "replica-age",
                CheckStatus::Fail,
                "1d16h",
                "older than the rule's max_age",
            ),
            check("replica-present", CheckStatus::Pass, "1", "present"),
        ];
        bad.tags.insert("team".to_string(), HOSTILE.to_string());
        bad.tags
            .insert(HOSTILE.to_string(), "x\"onmouseover=\"alert(2)".to_string());
        let mut exempt = source("111111111111", "legacy-crm", Status::Exempt);
        exempt.rule = Some("prod".to_string());
        exempt.exemption = Some(ExemptionInfo {
            arn_pattern: "arn:aws:rds:*:111111111111:db:legacy-*".to_string(),
            reason: "Decommission ticket OPS-123".to_string(),
            expires: chrono::NaiveDate::from_ymd_opt(2027, 1, 31),
        });
        let scratch = source("222222222222", "scratch", Status::Ungoverned);
        report.sources = vec![ok, bad, exempt, scratch];
        report.summary = Summary::count(&report.sources);
        report
    }

    fn render(report: &ReportV1) -> String {
        let mut out = Vec::new();
        write(report, &mut out).expect("render");
        String::from_utf8(out).expect("utf-8")
    }

    /// The source rows: each source is one `<tbody class="src">`.
    fn rows(html: &str) -> usize {
        html.matches("<tbody class=\"src\"").count()
    }

    #[test]
    fn escape_covers_markup_and_attribute_characters() {
        assert_eq!(
            escape(r#"<a href="x" title='y'>&</a>"#),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
        );
        assert_eq!(escape("plain text, ünïcode"), "plain text, ünïcode");
        assert_eq!(escape("bell\u{7}\tend\n"), "bell\u{FFFD}\tend\n");
    }

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), expected);
        }
    }

    #[test]
    fn hostile_strings_render_as_text() {
        let html = render(&sample());
        assert!(!html.contains("<script>alert"), "raw script tag in output");
        assert!(!html.contains("onmouseover=\"alert"), "attribute injection");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;&#x2F;script&gt;"),
            "the tag value and the account name are shown, escaped by Tera"
        );
        // The SVG chart labels carry the account name too, escaped by `escape`.
        let svg_start = html.find("<svg").expect("a chart");
        assert!(html[svg_start..].contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        // The only scripts are the template's own.
        assert_eq!(html.matches("<script").count(), 1);
    }

    #[test]
    fn the_csp_admits_exactly_the_inline_script_and_style() {
        let html = render(&sample());
        let script = html
            .split_once("<script>")
            .and_then(|(_, rest)| rest.split_once("</script>"))
            .map(|(s, _)| s)
            .expect("inline script");
        let style = html
            .split_once("<style>")
            .and_then(|(_, rest)| rest.split_once("</style>"))
            .map(|(s, _)| s)
            .expect("inline style");
        assert!(script.len() > 100 && style.len() > 100);
        // The policy is an attribute value, printed escaped; the browser reads it unescaped.
        let attribute = |text: String| tera::escape_html(&text);
        assert!(html.contains(&attribute(format!("script-src {}", csp_hash(script)))));
        assert!(html.contains(&attribute(format!("style-src {}", csp_hash(style)))));
        assert!(html.contains(&attribute("default-src 'none'".to_string())));
    }

    #[test]
    fn self_contained_no_remote_resources() {
        let html = render(&sample());
        for needle in [
            "src=\"http",
            "href=\"http",
            "url(",
            "@import",
            "<link rel=\"stylesheet",
        ] {
            assert!(!html.contains(needle), "found {needle}");
        }
        // The only absolute URL is the SVG namespace.
        let urls = html.matches("http:").count() + html.matches("https:").count();
        let namespaces = html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count();
        assert_eq!(urls, namespaces);
    }

    #[test]
    fn every_source_and_its_evidence_is_shown() {
        let report = sample();
        let html = render(&report);
        assert_eq!(rows(&html), 4);
        for source in &report.sources {
            assert!(html.contains(&format!(">{}<", source.identifier)));
        }
        // Header.
        for needle in [
            "o-abc123",
            "run-1",
            "2026-11-24T06:00:00Z",
            &"ab".repeat(32),
            "0.1.0",
            "arn:aws:iam::111111111111:user&#x2F;auditor",
        ] {
            assert!(html.contains(needle), "header lacks {needle}");
        }
        // Status counts, never by colour alone: the words are there.
        for status in ["COMPLIANT", "NON_COMPLIANT", "EXEMPT", "UNGOVERNED"] {
            assert!(html.contains(&format!(">{status}<")), "{status}");
        }
        // Evidence: observed vs expected, message, chain, keys, exemption, tags.
        assert!(html.contains("1d16h"));
        assert!(html.contains("&lt;= 1d2h"));
        assert!(html.contains("older than the rule&#x27;s max_age"));
        assert!(html.contains("arn:aws:rds:us-east-1:222222222222:snapshot:payments-copy"));
        assert!(html.contains("arn:aws:kms:us-east-1:222222222222:key&#x2F;vault-key-id"));
        assert!(html.contains("alias&#x2F;rds-vault"));
        assert!(html.contains("Decommission ticket OPS-123"));
        assert!(html.contains("2027-01-31"));
        assert!(html.contains("Restored instance: not required by the rule"));
        // Human ages in the table, raw seconds only as sort keys.
        assert!(html.contains(">3h<"));
        assert!(html.contains("data-s=\"10800\""));
        // No error banner for a complete run.
        assert!(!html.contains("id=\"incomplete\""));
    }

    #[test]
    fn errors_come_first_and_say_the_run_is_incomplete() {
        let mut report = sample();
        report.errors = vec![AwsError {
            account_id: "333333333333".to_string(),
            region: "eu-west-1".to_string(),
            operation: "AssumeRole".to_string(),
            code: "AccessDenied".to_string(),
            message: HOSTILE.to_string(),
            resource: None,
        }];
        report.unreadable_scopes = vec!["333333333333/eu-west-1".to_string()];
        report.warnings = vec!["exemption for legacy-* expired".to_string()];
        let html = render(&report);
        let banner = html.find("id=\"incomplete\"").expect("banner");
        assert!(banner < html.find("id=\"summary\"").expect("summary"));
        assert!(html.contains("AccessDenied"));
        assert!(html.contains("333333333333&#x2F;eu-west-1"));
        assert!(html.contains("exemption for legacy-* expired"));
        assert!(!html.contains("<script>alert"));

        // A source in ERROR alone also makes the run incomplete.
        let mut report = sample();
        report.sources[0].status = Status::Error;
        report.summary = Summary::count(&report.sources);
        assert!(render(&report).contains("id=\"incomplete\""));
    }

    #[test]
    fn drift_since_the_baseline_is_shown() {
        let mut report = sample();
        assert!(
            !render(&report).contains("id=\"drift\""),
            "no baseline, no section"
        );
        let arn = "arn:aws:rds:us-east-1:111111111111:db:payments";
        report.drift = Some(
            serde_json::from_value(serde_json::json!({
                "baseline": {"run_id": "run-0", "as_of": at(1), "path": "reports/old/findings.json"},
                "age_threshold_seconds": 43_200,
                "new_failures": [{"arn": arn, "identifier": HOSTILE, "check": "replica-age", "observed": "1d16h"}],
                "resolved": [],
                "regressions": [{"arn": arn, "identifier": "payments", "kind": "key-changed",
                                 "before": "key/a", "after": "key/b"}],
                "status_changes": [{"arn": arn, "identifier": "payments",
                                    "before": "COMPLIANT", "after": "NON_COMPLIANT"}],
                "new_sources": [],
                "removed_sources": ["arn:aws:rds:us-east-1:111111111111:db:gone"]
            }))
            .unwrap(),
        );
        let html = render(&report);
        let drift = html.find("id=\"drift\"").expect("the drift section");
        assert!(drift < html.find("id=\"summary\"").expect("summary"));
        for needle in [
            "run-0",
            "2026-11-24T01:00:00Z",
            "1 new failure(s)",
            "Worse than the previous run",
            "key changed",
            "db:gone",
            "12h",
        ] {
            assert!(html.contains(needle), "drift lacks {needle}");
        }
        assert!(!html.contains("<script>alert"));
    }

    #[test]
    fn an_empty_report_renders() {
        let html = render(&empty());
        assert_eq!(rows(&html), 0);
        assert!(html.contains("No databases were found"));
        assert!(html.contains("</html>"));
    }

    #[test]
    fn rendering_is_deterministic() {
        assert_eq!(render(&sample()), render(&sample()));
    }

    #[test]
    fn age_histogram_places_rpo_lines_and_counts() {
        assert_eq!(age_bin(0), 0);
        assert_eq!(age_bin(3_599), 0);
        assert_eq!(age_bin(3_600), 1);
        assert_eq!(age_bin(100 * 86_400), AGE_BINS.len());
        // 26h is 1/12 into the 1d-2d bin (bin 5).
        assert!((age_position(26 * 3_600) - (5.0 + 2.0 / 24.0)).abs() < 1e-9);
        let chart = age_chart(&sample());
        assert!(chart.svg.contains("1d2h prod"));
        assert!(chart.note.contains("2 source(s) have no replica"));
        let row = |label: &str| {
            chart
                .table
                .rows
                .iter()
                .find(|r| r[0] == label)
                .cloned()
                .unwrap_or_default()
        };
        assert_eq!(row("3h-6h"), ["3h-6h", "1", "0", "0"]);
        assert_eq!(row("1d-2d"), ["1d-2d", "0", "1", "0"]);
    }

    #[test]
    fn account_chart_shows_the_worst_accounts_first_and_caps_rows() {
        let mut report = empty();
        for i in 0..(MAX_CHART_ROWS + 5) {
            let account = format!("{:012}", i);
            let status = if i == 7 {
                Status::NonCompliant
            } else {
                Status::Compliant
            };
            report.sources.push(source(&account, "db", status));
        }
        report.summary = Summary::count(&report.sources);
        let chart = by_account_chart(&report);
        assert_eq!(chart.table.rows.len(), MAX_CHART_ROWS + 5);
        assert_eq!(
            chart.svg.matches("text-anchor=\"end\"").count(),
            MAX_CHART_ROWS
        );
        let first = chart.svg.find("000000000007").expect("worst account shown");
        assert!(first < chart.svg.find("000000000000").expect("another account"));
        assert!(chart.note.contains("of 45"));
    }

    /// A report of 10,000 sources for the scale figures in docs/html-report.md:
    /// `cargo test --lib output::html -- --ignored --nocapture` writes target/big-findings.json and
    /// target/big-report.html and prints the size and the render time.
    #[test]
    #[ignore]
    fn scale_10000_sources() {
        let report = big_report(10_000);
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
        std::fs::create_dir_all(&dir).unwrap();
        let mut json = Vec::new();
        crate::output::json::write(&report, &mut json).unwrap();
        std::fs::write(dir.join("big-findings.json"), &json).unwrap();
        let started = std::time::Instant::now();
        let html = render(&report);
        let elapsed = started.elapsed();
        std::fs::write(dir.join("big-report.html"), &html).unwrap();
        assert_eq!(rows(&html), 10_000);
        println!(
            "10000 sources: findings.json {} bytes, report.html {} bytes, rendered in {:?}",
            json.len(),
            html.len(),
            elapsed
        );
    }

    /// `n` sources over 50 accounts and 4 rules, with the mix of statuses and checks a real run has.
    pub(super) fn big_report(n: usize) -> ReportV1 {
        let mut report = empty();
        let vault = "999999999999";
        report.accounts = (0..50)
            .map(|i| Account {
                id: format!("{:012}", 100_000_000_000u64 + i),
                name: Some(format!("Team {i} production")),
            })
            .collect();
        report.rules = ["production", "analytics", "payments", "archive"]
            .iter()
            .zip([26 * 3600, 7 * 86_400, 12 * 3600, 30 * 86_400])
            .map(|(id, max_age)| RuleSummary {
                id: id.to_string(),
                description: Some(format!("{id} databases")),
                severity: Severity::High,
                max_age_seconds: max_age,
                destination_account: vault.to_string(),
                destination_region: "same".to_string(),
                destination_kms_key: Some("alias/rds-vault".to_string()),
            })
            .collect();
        for i in 0..n {
            let account = format!("{:012}", 100_000_000_000u64 + (i % 50) as u64);
            let id = format!("db-{i:05}");
            let status = match i % 20 {
                0..=13 => Status::Compliant,
                14..=16 => Status::NonCompliant,
                17 => Status::Error,
                18 => Status::Exempt,
                _ => Status::Ungoverned,
            };
            let mut s = source(&account, &id, status);
            s.engine = ["postgres", "mysql", "aurora-postgresql"][i % 3].to_string();
            s.tags.insert("env".to_string(), "prod".to_string());
            s.tags
                .insert("team".to_string(), format!("team-{}", i % 50));
            if matches!(status, Status::Ungoverned) {
                report.sources.push(s);
                continue;
            }
            let rule = &report.rules[i % 4];
            s.rule = Some(rule.id.clone());
            if status == Status::Exempt {
                s.exemption = Some(ExemptionInfo {
                    arn_pattern: format!("arn:aws:rds:*:{account}:db:db-*"),
                    reason: "Decommission ticket OPS-123".to_string(),
                    expires: chrono::NaiveDate::from_ymd_opt(2027, 1, 31),
                });
                report.sources.push(s);
                continue;
            }
            let age = ((i * 7919) % (40 * 86_400)) as i64;
            let key = "arn:aws:kms:us-east-1:999999999999:key/d5a55d1c-4418-49b9-b95c-84cf3e57ac9f";
            s.latest_replica = Some(LatestReplica {
                arn: format!("arn:aws:rds:us-east-1:{vault}:snapshot:{id}-copy"),
                account_id: vault.to_string(),
                region: "us-east-1".to_string(),
                replica_time: at(6) - chrono::Duration::seconds(age),
                age_seconds: age,
                kms_key_arn: Some(key.to_string()),
            });
            s.replica_count = 1 + i % 3;
            let failing = status == Status::NonCompliant;
            let c = |id: &str, pass: bool, observed: String, expected: &str, message: String| {
                CheckResult {
                    id: id.to_string(),
                    status: if status == Status::Error && id == "replica-present" {
                        CheckStatus::Error
                    } else if pass {
                        CheckStatus::Pass
                    } else {
                        CheckStatus::Fail
                    },
                    severity: Severity::High,
                    observed,
                    expected: expected.to_string(),
                    message,
                }
            };
            let age_ok = age <= rule.max_age_seconds;
            s.checks = vec![
                c("replica-age", age_ok || !failing, format_seconds(age), "<= 1d2h",
                  format!("newest replica holds data from {}", rfc3339(&(at(6) - chrono::Duration::seconds(age))))),
                c("replica-encryption", true, key.to_string(), "encrypted with alias/rds-vault",
                  format!("replica arn:aws:rds:us-east-1:{vault}:snapshot:{id}-copy is encrypted with {key}")),
                c("replica-present", true, format!("1 in {vault}/us-east-1"),
                  "at least 1 available snapshot in 999999999999/us-east-1", "1 replica(s) in the destination".to_string()),
                c("retention-count", true, "1".to_string(), "1..=3", format!("1 replica(s) in {vault}/us-east-1")),
                c("share-exposure", true, format!("2 snapshot(s), none shared beyond {vault}"),
                  "shared with nobody but 999999999999",
                  "no snapshot of this database is public or shared outside the destination".to_string()),
                c("source-key-shareable", true, format!("arn:aws:kms:us-east-1:{account}:key/bab5edb4-798e-41cd-9e2c-5ec125579be4"),
                  "a customer managed key whose policy grants 999999999999 kms:Decrypt, kms:DescribeKey, kms:CreateGrant",
                  format!("key policy of arn:aws:kms:us-east-1:{account}:key/bab5edb4-798e-41cd-9e2c-5ec125579be4 grants {vault} what a cross-account copy needs")),
            ];
            report.sources.push(s);
        }
        report.summary = Summary::count(&report.sources);
        report
    }
}
