//! The view: what the page template prints, every value already formatted (ages, times, counts), so
//! the template needs none of Tera's builtins. The charts' own view is in [`super::charts`], a row of
//! the sources table in [`source`]; this file holds the page: the run, totals, errors, drift, filters
//! and rules.

use serde::Serialize;

use super::charts::{self, ChartView};
use super::{
    account_label, content_security_policy, percent, rfc3339, status_class, DRILL_STATES, STATUSES,
};
use crate::checks::restore_tested::drill_coverage;
use crate::report::v1::Drift;
use crate::report::v1::ReportV1;
use crate::report::{DrillCoverage, DrillState, HeadroomState, Status};
use crate::rules::format_seconds;

mod source;

use source::SourceView;

/// The sources table is cut into tables of this many rows, each laid out only near the screen.
const CHUNK_ROWS: usize = 500;

#[derive(Serialize)]
pub(super) struct View {
    title: String,
    csp: String,
    run: RunView,
    incomplete: bool,
    error_sources: usize,
    errors: Vec<ErrorView>,
    unreadable_scopes: Vec<String>,
    warnings: Vec<String>,
    quotas: Vec<QuotaView>,
    drift: Option<DriftView>,
    counts: Vec<CountView>,
    total: usize,
    /// Restore drill coverage, when a rule has `drill`.
    drills: Option<DrillsView>,
    charts: Vec<ChartView>,
    filters: Filters,
    chunks: Vec<ChunkView>,
    rules: Vec<RuleView>,
}

/// One destination's manual snapshot quota once the rules' copies are kept (`vault-capacity`).
#[derive(Serialize)]
struct QuotaView {
    scope: String,
    quota: String,
    used: i64,
    max: i64,
    sources: usize,
    replicas: i64,
    retain_max: i64,
    projected: i64,
    percent: i64,
    /// `ok`, `near` (90% or more) or `over`.
    state: &'static str,
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
    /// `list-accounts 1.2 s · read-databases 3.4 s · ...`, or empty.
    phases: String,
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

/// How many governed sources have a drill rule, and where they stand.
#[derive(Serialize)]
struct DrillsView {
    with_rule: usize,
    within_every: usize,
    rows: Vec<DrillRowView>,
}

#[derive(Serialize)]
struct DrillRowView {
    label: &'static str,
    class: &'static str,
    count: usize,
    share: String,
}

impl DrillsView {
    fn of(coverage: &DrillCoverage) -> Option<DrillsView> {
        if coverage.with_rule == 0 {
            return None;
        }
        let rows = DRILL_STATES
            .iter()
            .map(|(state, label, class)| {
                let count = match state {
                    DrillState::Passed => coverage.passed,
                    DrillState::OverRto => coverage.over_rto,
                    DrillState::Failed => coverage.failed,
                    DrillState::Stale => coverage.stale,
                    DrillState::Never => coverage.never,
                    DrillState::Unknown => coverage.unknown,
                };
                DrillRowView {
                    label,
                    class,
                    count,
                    share: percent(count, coverage.with_rule),
                }
            })
            .collect();
        Some(DrillsView {
            with_rule: coverage.with_rule,
            within_every: coverage.within_every,
            rows,
        })
    }
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
    pub(super) fn of(report: &ReportV1) -> View {
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
            .map(|s| s.db.account_id.as_str())
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
            csp: content_security_policy(),
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
                phases: report
                    .run
                    .phases
                    .iter()
                    .map(|p| format!("{} {:.1} s", p.phase, p.seconds))
                    .collect::<Vec<_>>()
                    .join(" · "),
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
            quotas: report
                .quotas
                .iter()
                .map(|q| QuotaView {
                    scope: format!(
                        "{}/{}",
                        account_label(&q.account_id, report.account_name(&q.account_id)),
                        q.region
                    ),
                    quota: q.noun().to_string(),
                    used: q.used,
                    max: q.max,
                    sources: q.sources,
                    replicas: q.replicas,
                    retain_max: q.retain_max,
                    projected: q.projected,
                    percent: q.percent,
                    state: match q.state {
                        HeadroomState::Ok => "ok",
                        HeadroomState::Near => "near",
                        HeadroomState::Over => "over",
                    },
                })
                .collect(),
            drift: report.drift.as_ref().map(DriftView::of),
            counts,
            total,
            drills: DrillsView::of(&drill_coverage(&report.sources)),
            charts: vec![
                charts::by_account(report),
                charts::by_rule(report, &rule_ids),
                charts::ages(report),
            ],
            filters,
            chunks,
            rules,
        }
    }
}
