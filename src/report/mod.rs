//! The report: what evaluation concluded, in the terms of the JSON contract (DESIGN §6).
//! Outputs (`crate::output`) only read it.

pub mod drift;
pub mod remediation;
pub mod v1;

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::inventory::{Account, AwsError, Caller, Database, SourceKind};
use crate::rules::Severity;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Compliant,
    NonCompliant,
    Error,
    Exempt,
    Ungoverned,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Compliant => "COMPLIANT",
            Status::NonCompliant => "NON_COMPLIANT",
            Status::Error => "ERROR",
            Status::Exempt => "EXEMPT",
            Status::Ungoverned => "UNGOVERNED",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum CheckStatus {
    Pass,
    Fail,
    Skip,
    Error,
}

impl CheckStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Pass => "PASS",
            CheckStatus::Fail => "FAIL",
            CheckStatus::Skip => "SKIP",
            CheckStatus::Error => "ERROR",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    pub id: String,
    pub status: CheckStatus,
    pub severity: Severity,
    pub observed: String,
    pub expected: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatestReplica {
    pub arn: String,
    pub account_id: String,
    pub region: String,
    pub replica_time: DateTime<Utc>,
    pub age_seconds: i64,
    pub kms_key_arn: Option<String>,
    /// For an AWS Backup recovery point: the backup vault it sits in (absent for a snapshot).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_vault: Option<String>,
    /// For a recovery point: when AWS Backup deletes it (`CalculatedLifecycle.DeleteAt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExemptionInfo {
    pub arn_pattern: String,
    pub reason: String,
    pub expires: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceReport {
    /// The source's ARN, kind, account, region, identifier and engine (flattened: the published
    /// report's fields are unchanged).
    #[serde(flatten)]
    pub db: Database,
    pub rule: Option<String>,
    pub status: Status,
    pub latest_replica: Option<LatestReplica>,
    pub replica_count: usize,
    pub checks: Vec<CheckResult>,
    pub exemption: Option<ExemptionInfo>,
    /// The database's tags, as read (attacker-controllable text: outputs must escape it).
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Replica snapshots in the destination made after `as_of`: left out of every check, since they
    /// did not exist at the instant judged (only when re-judging with an earlier `--as-of`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub replicas_after_as_of: usize,
    /// Why no rule governs an `UNGOVERNED` source, when there is more to say than "no rule selects
    /// it" (a read replica: its data is its source's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ungoverned_reason: Option<String>,
    /// The last restore drill of a replica of this source, when its rule has `drill` and a replica
    /// carries drill evidence (`rdsguard:drill-*` tags) from before `as_of`; the `restore-tested`
    /// check judges it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_drill: Option<LastDrill>,
}

/// A source's last restore drill, as the drilled replica's evidence tags hold it, with the rule's
/// `drill.every` and `drill.rto` it is judged against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastDrill {
    pub replica_arn: String,
    /// When the drill ended (`rdsguard:drill-at`: the restore's end on AWS's clock).
    pub at: DateTime<Utc>,
    /// `as_of - at`.
    pub age_seconds: i64,
    /// `passed`, `probe-failed` or `restore-failed` (`rdsguard:drill-result`).
    pub result: String,
    /// How long the restore took (`rdsguard:drill-restore-seconds`), when recorded.
    pub restore_seconds: Option<i64>,
    pub rto_seconds: i64,
    pub every_seconds: i64,
}

/// Where a source whose rule has `drill` stands, for the drill coverage summaries: the
/// `restore-tested` verdict, and why it fails (in the check's order: result, age, RTO).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrillState {
    /// `restore-tested` passes: a passed drill within `every` and the RTO.
    Passed,
    /// The last drill did not pass (its restore or its probe failed).
    Failed,
    /// The last drill passed but is older than `every`.
    Stale,
    /// The last drill, within `every`, took longer than the RTO.
    OverRto,
    /// No replica carries drill evidence.
    Never,
    /// Not judged: no replica to drill, an unreadable destination, no restore time recorded.
    Unknown,
}

/// How many governed sources have a drill rule, and where they stand ([`DrillState`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DrillCoverage {
    /// Sources (governed, not exempt) whose rule has `drill`.
    pub with_rule: usize,
    /// Of those, the last drill is no older than `drill.every`, whatever its outcome.
    pub within_every: usize,
    pub passed: usize,
    pub failed: usize,
    pub stale: usize,
    pub over_rto: usize,
    pub never: usize,
    pub unknown: usize,
}

impl DrillCoverage {
    /// One line for the terminal and summary.md, or `None` when no rule has `drill`.
    pub fn line(&self) -> Option<String> {
        if self.with_rule == 0 {
            return None;
        }
        let mut text = format!(
            "Restore drills: {} of {} database(s) with a drill rule passed within drill.every and the RTO",
            self.passed, self.with_rule
        );
        let rest: Vec<String> = [
            (self.over_rto, "over the RTO"),
            (self.failed, "failed"),
            (self.stale, "older than drill.every"),
            (self.never, "never drilled"),
            (self.unknown, "not judged"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        if !rest.is_empty() {
            text.push_str("; ");
            text.push_str(&rest.join(", "));
        }
        Some(text)
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl SourceReport {
    /// The failing checks, most severe first.
    pub fn failures(&self) -> impl Iterator<Item = &CheckResult> {
        self.checks.iter().filter(|c| c.status == CheckStatus::Fail)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub sources: usize,
    pub compliant: usize,
    pub non_compliant: usize,
    pub error: usize,
    pub exempt: usize,
    pub ungoverned: usize,
}

impl Summary {
    pub fn count(sources: &[SourceReport]) -> Summary {
        let mut summary = Summary {
            sources: sources.len(),
            ..Summary::default()
        };
        for source in sources {
            match source.status {
                Status::Compliant => summary.compliant += 1,
                Status::NonCompliant => summary.non_compliant += 1,
                Status::Error => summary.error += 1,
                Status::Exempt => summary.exempt += 1,
                Status::Ungoverned => summary.ungoverned += 1,
            }
        }
        summary
    }
}

/// What `evaluate` concludes: pure data, a function of (inventory, rules, as_of).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Findings {
    pub as_of: DateTime<Utc>,
    pub summary: Summary,
    pub sources: Vec<SourceReport>,
    /// AWS errors met during discovery (copied from the inventory).
    pub errors: Vec<AwsError>,
    /// Account-region pairs where at least one read failed: what they hold may be missing or partial.
    pub unreadable_scopes: Vec<String>,
    /// Account-region pairs skipped: the region is not enabled for the account, so nothing is there.
    pub skipped_scopes: Vec<String>,
    /// Things a reader must know that are not findings (an expired exemption, an unused rule table).
    pub warnings: Vec<String>,
    /// The manual snapshot quota of each destination scope judged databases copy into, once the
    /// rules' `retain.max` copies are kept (`vault-capacity`).
    #[serde(default)]
    pub quotas: Vec<QuotaHeadroom>,
}

/// One destination account-region's manual snapshot quota (of one kind), once every governed
/// database copied there keeps `retain.max` copies: `projected = used - replicas + retain_max`
/// (what is there now, less the counted databases' replicas, plus what their rules keep).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaHeadroom {
    pub account_id: String,
    pub region: String,
    /// AWS's quota name: `ManualSnapshots` (DB snapshots) or `ManualClusterSnapshots` (Aurora).
    pub quota: String,
    /// `Used` and `Max`, as `DescribeAccountAttributes` said.
    pub used: i64,
    pub max: i64,
    /// The databases counted: judged, of this kind, whose rule copies here with a `retain.max`.
    pub sources: usize,
    /// Of `used`, the replica snapshots of those databases that exist now.
    pub replicas: i64,
    /// The sum of their rules' `retain.max`.
    pub retain_max: i64,
    pub projected: i64,
    /// `projected` in percent of `max`, rounded down.
    pub percent: i64,
    pub state: HeadroomState,
}

/// Where a quota stands once the rules' copies are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HeadroomState {
    /// Below 90% of the quota.
    Ok,
    /// At 90% of the quota or more, and within it: `vault-capacity` passes with a warning.
    Near,
    /// Beyond the quota: `vault-capacity` fails.
    Over,
}

/// From this share of a quota on, `vault-capacity` warns.
pub const QUOTA_WARNING_PERCENT: i64 = 90;

impl QuotaHeadroom {
    pub fn new(
        (account_id, region): (&str, &str),
        kind: SourceKind,
        (used, max): (i64, i64),
        (sources, replicas, retain_max): (usize, i64, i64),
    ) -> QuotaHeadroom {
        let projected = used - replicas + retain_max;
        let percent = if max > 0 {
            projected * 100 / max
        } else {
            i64::MAX
        };
        let state = if projected > max {
            HeadroomState::Over
        } else if projected * 100 >= max * QUOTA_WARNING_PERCENT {
            HeadroomState::Near
        } else {
            HeadroomState::Ok
        };
        QuotaHeadroom {
            account_id: account_id.to_string(),
            region: region.to_string(),
            quota: kind.quota_name().to_string(),
            used,
            max,
            sources,
            replicas,
            retain_max,
            projected,
            percent,
            state,
        }
    }

    /// What the quota counts, for messages ("manual DB snapshots").
    pub fn noun(&self) -> &'static str {
        if self.quota == SourceKind::DbCluster.quota_name() {
            SourceKind::DbCluster.quota_noun()
        } else {
            SourceKind::DbInstance.quota_noun()
        }
    }

    /// `94 of 100 manual DB snapshots in 222222222222/us-east-1 after retain.max`.
    pub fn summary(&self) -> String {
        format!(
            "{} of {} {} in {}/{} after retain.max",
            self.projected,
            self.max,
            self.noun(),
            self.account_id,
            self.region
        )
    }

    /// How `projected` is made up, for messages.
    pub fn formula(&self) -> String {
        format!(
            "{} used now - {} replica(s) of the {} database(s) copied here + their retain.max total {} = {}",
            self.used, self.replicas, self.sources, self.retain_max, self.projected
        )
    }
}

impl Findings {
    /// True when part of the organization could not be read: exit code 3, never "all compliant".
    pub fn incomplete(&self) -> bool {
        !self.errors.is_empty() || self.summary.error > 0
    }
}

/// Facts about the run, set by the caller (evaluation has no clock).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    pub id: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub tool_version: String,
    pub rules_sha256: String,
    pub organization_id: Option<String>,
    pub caller: Option<Caller>,
    pub accounts: Vec<Account>,
    pub rules: Vec<RuleSummary>,
    pub docs_url: Option<String>,
}

/// What a report reader needs to know of a rule (its RPO for charts, its destination).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleSummary {
    pub id: String,
    pub description: Option<String>,
    pub severity: Severity,
    pub max_age_seconds: i64,
    pub destination_account: String,
    /// A region name, or `same` (the source's region).
    pub destination_region: String,
    pub destination_kms_key: Option<String>,
}

impl RuleSummary {
    pub fn of(rule: &crate::rules::Rule) -> Self {
        RuleSummary {
            id: rule.id.clone(),
            description: rule.description.clone(),
            severity: rule.severity,
            max_age_seconds: rule.max_age.seconds,
            destination_account: rule.destination.account.clone(),
            destination_region: match &rule.destination.region {
                crate::rules::DestinationRegion::Same => "same".to_string(),
                crate::rules::DestinationRegion::Named(region) => region.clone(),
            },
            destination_kms_key: rule.destination.kms_key.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub run: RunInfo,
    pub findings: Findings,
}

#[cfg(test)]
mod tests;
