//! What `audit` and `evaluate` share: the checked inputs of a judgement ([`Judge`]), and [`finish`],
//! which evaluates, publishes and writes the run's files.

use std::path::{Path, PathBuf};

use chrono::{DateTime, SubsecRound, Utc};
use tracing::warn;

use crate::aws::{self, ClientFactory};
use crate::cli::{FailOn, JudgeArgs};
use crate::error::{Error, EXIT_COMPLIANT, EXIT_FINDINGS, EXIT_INCOMPLETE};
use crate::evaluate::evaluate;
use crate::inventory::Inventory;
use crate::report::drift;
use crate::report::v1::{self, ReportV1};
use crate::report::{CheckStatus, Report, RuleSummary, RunInfo, Status};
use crate::rules::{self, parse_duration, RuleSet, Severity};
use crate::run_dir::{append_step_summary, find_baseline, load_report, write_outputs};

pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Now, in whole seconds: `as_of` is written to the report and must replay exactly with `--as-of`.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

fn parse_as_of(text: Option<&str>) -> Result<Option<DateTime<Utc>>, Error> {
    text.map(|t| {
        DateTime::parse_from_rfc3339(t)
            .map(|d| d.with_timezone(&Utc))
            .map_err(|e| {
                Error::Usage(format!(
                    "--as-of `{t}` is not an RFC 3339 time like 2026-11-24T06:00:00Z: {e}"
                ))
            })
    })
    .transpose()
}

/// Everything `audit` and `evaluate` need to judge, checked before any AWS call.
pub struct Judge<'a> {
    pub args: &'a JudgeArgs,
    pub run_id: String,
    pub rules: RuleSet,
    pub as_of: Option<DateTime<Utc>>,
    pub started: DateTime<Utc>,
    pub age_threshold_seconds: i64,
    pub quiet: bool,
}

impl<'a> Judge<'a> {
    pub fn new(args: &'a JudgeArgs, quiet: bool) -> Result<Self, Error> {
        let started = Utc::now();
        let as_of = parse_as_of(args.as_of.as_deref())?;
        let age_threshold_seconds = parse_duration(&args.drift_age_threshold)
            .map_err(|e| Error::Usage(format!("--drift-age-threshold: {e}")))?
            .seconds;
        if let Some(path) = args.baseline.as_deref().filter(|p| *p != Path::new("auto")) {
            load_report(path)?;
        }
        let rules = rules::load(&args.rules)?;
        for warning in &rules.warnings {
            warn!("{warning}");
        }
        Ok(Judge {
            args,
            run_id: uuid::Uuid::new_v4().to_string(),
            rules,
            as_of,
            started,
            age_threshold_seconds,
            quiet,
        })
    }
}

/// A judged run: the published report, the run's files, and the exit code.
pub struct Judged {
    pub report: ReportV1,
    pub files: Vec<PathBuf>,
    pub exit: u8,
    /// How much of the failing sources the terminal summary lists (`--show`).
    pub show: crate::output::terminal::Show,
}

/// Evaluates, adds drift and Security Hub, and writes the run files (and `$GITHUB_STEP_SUMMARY`).
pub async fn finish(
    judge: &Judge<'_>,
    inventory: &Inventory,
    out_dir: &Path,
    security_hub: Option<(&ClientFactory, usize)>,
    remediation: Option<v1::Remediation>,
    mut phases: Vec<v1::PhaseTiming>,
) -> Result<Judged, Error> {
    let as_of = judge.as_of.unwrap_or_else(now);
    let evaluating = std::time::Instant::now();
    let findings = evaluate(inventory, &judge.rules, as_of);
    phases.push(v1::PhaseTiming::new("evaluate", evaluating.elapsed()));
    let report = Report {
        run: RunInfo {
            id: judge.run_id.clone(),
            started_at: judge.started,
            finished_at: Utc::now(),
            tool_version: TOOL_VERSION.to_string(),
            rules_sha256: judge.rules.sha256.clone(),
            organization_id: inventory.organization_id.clone(),
            caller: inventory.caller.clone(),
            accounts: inventory.accounts.clone(),
            rules: judge.rules.rules.iter().map(RuleSummary::of).collect(),
            docs_url: judge.args.docs_url.clone(),
        },
        findings,
    };
    let mut published = ReportV1::from_report(&report);
    published.run.phases = phases;
    if let Some(remediation) = remediation {
        // A step that failed is an AWS error of this run: visible, and the exit says so.
        published
            .errors
            .extend(remediation.results.iter().filter_map(|r| r.error.clone()));
        published.remediation = Some(remediation);
    }
    let baseline = match judge.args.baseline.as_deref() {
        Some(path) if path == Path::new("auto") => {
            let found = find_baseline(out_dir, as_of);
            if found.is_none() {
                published
                    .warnings
                    .push("--baseline auto: no earlier run found beside this one; no drift".into());
            }
            found
        }
        Some(path) => Some(load_report(path)?),
        None => None,
    };
    if let Some((old, path)) = baseline {
        published.drift = Some(drift::compare(
            &old,
            &published,
            Some(path.display().to_string()),
            judge.age_threshold_seconds,
        ));
    }
    if let Some((factory, concurrency)) = security_hub {
        let outcome = aws::securityhub::publish(factory, &published, concurrency).await;
        published.errors.extend(outcome.errors);
    }
    crate::inventory::sort_errors(&mut published.errors);
    // The log says why a run is incomplete, even under -q: a nightly job's log must not show a bare
    // exit 3. (The summary on stdout says it too, for people.)
    for e in &published.errors {
        tracing::error!(
            account = %e.account_id,
            region = %e.region,
            operation = %e.operation,
            code = %e.code,
            "could not read or act: {}",
            e.message
        );
    }
    published.run.finished_at = Utc::now();
    let exit = exit_code(&published, judge.args.fail_on);
    let mut files = write_outputs(&published, out_dir, |_| true)?;
    files.push(out_dir.join("inventory.json"));
    if let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY") {
        append_step_summary(Path::new(&summary), &out_dir.join("summary.md"))?;
    }
    Ok(Judged {
        report: published,
        files,
        exit,
        show: judge
            .args
            .show
            .unwrap_or(crate::output::terminal::Show::DEFAULT),
    })
}

/// 3 when anything could not be read (incomplete beats non-compliant: the report is partial);
/// else 1 when a failing check reaches the threshold; else 0.
pub fn exit_code(report: &ReportV1, fail_on: FailOn) -> u8 {
    if !report.errors.is_empty() || report.summary.error > 0 {
        return EXIT_INCOMPLETE;
    }
    let threshold = match fail_on {
        FailOn::None => return EXIT_COMPLIANT,
        FailOn::Any => Severity::Informational,
        FailOn::Low => Severity::Low,
        FailOn::Medium => Severity::Medium,
        FailOn::High => Severity::High,
        FailOn::Critical => Severity::Critical,
    };
    let failing = report
        .sources
        .iter()
        .filter(|s| s.status == Status::NonCompliant)
        .flat_map(|s| s.checks.iter())
        .any(|c| c.status == CheckStatus::Fail && c.severity >= threshold);
    if failing {
        EXIT_FINDINGS
    } else {
        EXIT_COMPLIANT
    }
}
