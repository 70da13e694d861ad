//! The published report, schema `rdsguard.report/v1` (DESIGN §6), written as `findings.json` by
//! [`crate::output::json`]. The envelope (and the `drift` object) is defined here; the nested source,
//! check and summary records serialise from the report types; the `published` snapshot
//! (src/report/snapshots) pins the whole shape, so a change to the contract is always a reviewed one.
//! Fields beyond DESIGN §6 (`exemption`, `warnings`, `unreadable_scopes`, `errors[].resource`,
//! `run.organization_id`, `run.caller_arn`, `accounts`, `rules`,
//! `sources[].tags`, `sources[].last_drill`, `drift`, `remediation`, `quotas`) are additions, allowed within v1. Every other
//! output renders from [`ReportV1`], so a saved `findings.json` can be rendered again.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Report, RuleSummary, SourceReport, Status, Summary};
use crate::inventory::{Account, AwsError};

pub const SCHEMA: &str = "rdsguard.report/v1";

#[derive(Debug, Serialize, Deserialize)]
pub struct ReportV1 {
    pub schema: String,
    pub run: RunV1,
    pub summary: Summary,
    pub sources: Vec<SourceReport>,
    pub errors: Vec<AwsError>,
    pub unreadable_scopes: Vec<String>,
    /// Account-regions skipped because the region is not enabled for the account (opt-in regions).
    #[serde(default)]
    pub skipped_scopes: Vec<String>,
    pub warnings: Vec<String>,
    /// The accounts the run covered, with their organization names where known.
    #[serde(default)]
    pub accounts: Vec<Account>,
    /// The rules the run applied, in order.
    #[serde(default)]
    pub rules: Vec<RuleSummary>,
    /// Changes since a baseline run (`--baseline`), when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<Drift>,
    /// What `--remediate` planned and did (the sources above show the state after it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<Remediation>,
    /// The manual snapshot quota of each destination scope judged databases copy into, once the
    /// rules' `retain.max` copies are kept (`vault-capacity`); absent when no rule bounds them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quotas: Vec<super::QuotaHeadroom>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Remediation {
    pub dry_run: bool,
    pub plan: super::remediation::Plan,
    pub results: Vec<super::remediation::ItemResult>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct RunV1 {
    pub id: String,
    pub as_of: DateTime<Utc>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub tool_version: String,
    pub rules_sha256: String,
    pub organization_id: Option<String>,
    pub caller_arn: Option<String>,
    /// Where docs/checks.md is published (`--docs-url`), for links in findings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docs_url: Option<String>,
    /// How long each phase of the run took, in order (`audit`: discovery's phases, then evaluation),
    /// so a slow nightly run can be diagnosed afterwards.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phases: Vec<PhaseTiming>,
}

/// One phase of a run and its wall time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseTiming {
    /// `list-accounts`, `read-databases`, `read-shares-and-keys`, `read-secrets`, `remediate`,
    /// `evaluate`.
    pub phase: String,
    pub seconds: f64,
}

impl PhaseTiming {
    pub fn new(phase: &str, took: std::time::Duration) -> PhaseTiming {
        PhaseTiming {
            phase: phase.to_string(),
            // Milliseconds are enough, and keep the file short.
            seconds: (took.as_secs_f64() * 1000.0).round() / 1000.0,
        }
    }
}

impl ReportV1 {
    /// Reads a saved `findings.json`, refusing other schemas.
    pub fn read(path: &std::path::Path) -> Result<ReportV1, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
        let report: ReportV1 = serde_json::from_str(&text)
            .map_err(|e| format!("line {}: not an rdsguard report: {e}", e.line()))?;
        if report.schema != SCHEMA {
            return Err(format!("schema `{}` is not `{SCHEMA}`", report.schema));
        }
        Ok(report)
    }

    pub fn account_name(&self, account_id: &str) -> Option<&str> {
        self.accounts
            .iter()
            .find(|a| a.id == account_id)
            .and_then(|a| a.name.as_deref())
    }

    pub fn from_report(report: &Report) -> Self {
        let findings = &report.findings;
        ReportV1 {
            schema: SCHEMA.to_string(),
            run: RunV1 {
                id: report.run.id.clone(),
                as_of: findings.as_of,
                started_at: report.run.started_at,
                finished_at: report.run.finished_at,
                tool_version: report.run.tool_version.clone(),
                rules_sha256: report.run.rules_sha256.clone(),
                organization_id: report.run.organization_id.clone(),
                caller_arn: report.run.caller.as_ref().map(|c| c.arn.clone()),
                docs_url: report.run.docs_url.clone(),
                phases: Vec::new(),
            },
            summary: findings.summary.clone(),
            sources: findings.sources.clone(),
            errors: findings.errors.clone(),
            unreadable_scopes: findings.unreadable_scopes.clone(),
            skipped_scopes: findings.skipped_scopes.clone(),
            warnings: findings.warnings.clone(),
            accounts: report.run.accounts.clone(),
            rules: report.run.rules.clone(),
            drift: None,
            remediation: None,
            quotas: findings.quotas.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Drift {
    pub baseline: Baseline,
    pub age_threshold_seconds: i64,
    /// Checks that fail now and did not before (including on databases that are new).
    pub new_failures: Vec<DriftItem>,
    /// Checks that failed before and pass (or are exempt) now.
    pub resolved: Vec<DriftItem>,
    pub regressions: Vec<Regression>,
    pub status_changes: Vec<StatusChange>,
    pub new_sources: Vec<String>,
    pub removed_sources: Vec<String>,
}

impl Drift {
    pub fn is_worse(&self) -> bool {
        !self.new_failures.is_empty() || !self.regressions.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    pub run_id: String,
    pub as_of: DateTime<Utc>,
    pub path: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftItem {
    pub arn: String,
    pub identifier: String,
    pub check: String,
    /// The observed value that failed (now for new failures, then for resolved ones).
    pub observed: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RegressionKind {
    /// The newest replica's age grew by more than the threshold: it was not refreshed.
    ReplicaAgeGrew,
    /// The newest replica is under another key than before.
    KeyChanged,
    /// Fewer replicas than before.
    ReplicaCountDropped,
    /// A snapshot of the database became shared beyond the destination.
    ShareAppeared,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Regression {
    pub arn: String,
    pub identifier: String,
    pub kind: RegressionKind,
    pub before: String,
    pub after: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusChange {
    pub arn: String,
    pub identifier: String,
    pub before: Status,
    pub after: Status,
}
