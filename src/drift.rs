//! Drift between two published reports: what newly fails, what was fixed, and what got worse without
//! (yet) failing. Pure: `compare(old, new)`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::output::json::ReportV1;
use crate::report::{CheckStatus, SourceReport, Status};

/// Default for `--drift-age-threshold`: a nightly copy that refreshes keeps its age roughly flat;
/// growth beyond this means the newest replica was not refreshed since the baseline.
pub const DEFAULT_AGE_THRESHOLD_SECONDS: i64 = 12 * 3600;

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

fn check_status(source: &SourceReport, id: &str) -> Option<CheckStatus> {
    source.checks.iter().find(|c| c.id == id).map(|c| c.status)
}

fn item(source: &SourceReport, check: &str) -> DriftItem {
    DriftItem {
        arn: source.arn.clone(),
        identifier: source.identifier.clone(),
        check: check.to_string(),
        observed: source
            .checks
            .iter()
            .find(|c| c.id == check)
            .map(|c| c.observed.clone())
            .unwrap_or_default(),
    }
}

pub fn compare(
    old: &ReportV1,
    new: &ReportV1,
    path: Option<String>,
    age_threshold_seconds: i64,
) -> Drift {
    let before: BTreeMap<&str, &SourceReport> =
        old.sources.iter().map(|s| (s.arn.as_str(), s)).collect();
    let after: BTreeMap<&str, &SourceReport> =
        new.sources.iter().map(|s| (s.arn.as_str(), s)).collect();
    let mut drift = Drift {
        baseline: Baseline {
            run_id: old.run.id.clone(),
            as_of: old.run.as_of,
            path,
        },
        age_threshold_seconds,
        new_failures: Vec::new(),
        resolved: Vec::new(),
        regressions: Vec::new(),
        status_changes: Vec::new(),
        new_sources: Vec::new(),
        removed_sources: Vec::new(),
    };
    for (arn, now) in &after {
        let Some(then) = before.get(arn) else {
            drift.new_sources.push(arn.to_string());
            for check in now.checks.iter().filter(|c| c.status == CheckStatus::Fail) {
                drift.new_failures.push(item(now, &check.id));
            }
            continue;
        };
        if then.status != now.status {
            drift.status_changes.push(StatusChange {
                arn: arn.to_string(),
                identifier: now.identifier.clone(),
                before: then.status,
                after: now.status,
            });
        }
        for check in &now.checks {
            let was = check_status(then, &check.id);
            if check.status == CheckStatus::Fail && was != Some(CheckStatus::Fail) {
                drift.new_failures.push(item(now, &check.id));
            }
        }
        for check in then.checks.iter().filter(|c| c.status == CheckStatus::Fail) {
            let fixed = now.status == Status::Exempt
                || matches!(
                    check_status(now, &check.id),
                    Some(CheckStatus::Pass | CheckStatus::Skip)
                );
            if fixed {
                drift.resolved.push(item(then, &check.id));
            }
        }
        regressions(then, now, age_threshold_seconds, &mut drift.regressions);
    }
    for arn in before.keys().filter(|arn| !after.contains_key(*arn)) {
        drift.removed_sources.push(arn.to_string());
    }
    drift
}

fn regressions(then: &SourceReport, now: &SourceReport, threshold: i64, out: &mut Vec<Regression>) {
    let mut push = |kind, before: String, after: String| {
        out.push(Regression {
            arn: now.arn.clone(),
            identifier: now.identifier.clone(),
            kind,
            before,
            after,
        })
    };
    if let (Some(a), Some(b)) = (&then.latest_replica, &now.latest_replica) {
        if b.age_seconds - a.age_seconds > threshold {
            push(
                RegressionKind::ReplicaAgeGrew,
                crate::rules::format_seconds(a.age_seconds),
                crate::rules::format_seconds(b.age_seconds),
            );
        }
        if let (Some(ka), Some(kb)) = (&a.kms_key_arn, &b.kms_key_arn) {
            if ka != kb {
                push(RegressionKind::KeyChanged, ka.clone(), kb.clone());
            }
        }
    }
    if now.replica_count < then.replica_count {
        push(
            RegressionKind::ReplicaCountDropped,
            then.replica_count.to_string(),
            now.replica_count.to_string(),
        );
    }
    if check_status(then, "share-exposure") == Some(CheckStatus::Pass)
        && check_status(now, "share-exposure") == Some(CheckStatus::Fail)
    {
        let observed = now
            .checks
            .iter()
            .find(|c| c.id == "share-exposure")
            .map(|c| c.observed.clone())
            .unwrap_or_default();
        push(RegressionKind::ShareAppeared, "not shared".into(), observed);
    }
}
