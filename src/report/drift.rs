//! Drift between two published reports: what newly fails, what was fixed, and what got worse without
//! (yet) failing. Pure: `compare(old, new)`. The `drift` object itself is part of the published report
//! ([`super::v1`]).

use std::collections::BTreeMap;

use super::v1::ReportV1;
pub use super::v1::{Baseline, Drift, DriftItem, Regression, RegressionKind, StatusChange};
use super::{CheckStatus, SourceReport, Status};

/// Default for `--drift-age-threshold`: a nightly copy that refreshes keeps its age roughly flat;
/// growth beyond this means the newest replica was not refreshed since the baseline.
pub const DEFAULT_AGE_THRESHOLD_SECONDS: i64 = 12 * 3600;

fn check_status(source: &SourceReport, id: &str) -> Option<CheckStatus> {
    source.checks.iter().find(|c| c.id == id).map(|c| c.status)
}

fn item(source: &SourceReport, check: &str) -> DriftItem {
    DriftItem {
        arn: source.db.arn.clone(),
        identifier: source.db.identifier.clone(),
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
        old.sources.iter().map(|s| (s.db.arn.as_str(), s)).collect();
    let after: BTreeMap<&str, &SourceReport> =
        new.sources.iter().map(|s| (s.db.arn.as_str(), s)).collect();
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
                identifier: now.db.identifier.clone(),
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
            arn: now.db.arn.clone(),
            identifier: now.db.identifier.clone(),
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
