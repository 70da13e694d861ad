//! One row of the report's sources table ([`SourceView`]): the database, its verdict, its newest
//! replica, each check, its tags and its exemption, every value formatted for the template.

use serde::Serialize;

use super::super::{check_class, drill_words, rfc3339, short_key, status_class, status_rank};
use crate::checks::restore_tested::drill_state;
use crate::checks::CheckId;
use crate::report::v1::ReportV1;
use crate::report::{CheckStatus, SourceReport};
use crate::rules::format_seconds;

/// One row of the sources table, with the details it unfolds.
#[derive(Serialize)]
pub(super) struct SourceView {
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
    /// The last restore drill, when the rule has `drill`.
    drill: Option<DrillView>,
}

#[derive(Serialize)]
struct DrillView {
    state: &'static str,
    class: &'static str,
    last: Option<LastDrillView>,
}

#[derive(Serialize)]
struct LastDrillView {
    replica_arn: String,
    at: String,
    age: String,
    every: String,
    result: String,
    took: String,
    rto: String,
    /// `within the RTO`, `over the RTO`, or `no restore time recorded`.
    versus_rto: &'static str,
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
    /// `manual snapshot`, or `AWS Backup recovery point in vault NAME`.
    made_by: String,
}

#[derive(Serialize)]
struct ExemptionView {
    pattern: String,
    reason: String,
    expires: String,
}

impl SourceView {
    pub(super) fn of(report: &ReportV1, source: &SourceReport) -> SourceView {
        let rule = source
            .rule
            .as_deref()
            .and_then(|id| report.rules.iter().find(|r| r.id == id));
        let replica = source.latest_replica.as_ref();
        SourceView {
            arn: source.db.arn.clone(),
            kind: source.db.kind.as_str(),
            account_id: source.db.account_id.clone(),
            account_name: report
                .account_name(&source.db.account_id)
                .unwrap_or_default()
                .to_string(),
            region: source.db.region.clone(),
            identifier: source.db.identifier.clone(),
            engine: source.db.engine.clone(),
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
            restore: match source
                .checks
                .iter()
                .find(|c| c.id == CheckId::RESTORE_CURRENT)
            {
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
                made_by: match (&r.backup_vault, &r.delete_at) {
                    (Some(vault), Some(at)) => format!(
                        "AWS Backup recovery point in vault {vault}, deleted by AWS Backup at {}",
                        rfc3339(at)
                    ),
                    (Some(vault), None) => format!("AWS Backup recovery point in vault {vault}"),
                    _ => "manual snapshot".to_string(),
                },
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
            drill: drill_state(source).map(|state| {
                let (words, class) = drill_words(state);
                DrillView {
                    state: words,
                    class,
                    last: source.last_drill.as_ref().map(|d| LastDrillView {
                        replica_arn: d.replica_arn.clone(),
                        at: rfc3339(&d.at),
                        age: format_seconds(d.age_seconds),
                        every: format_seconds(d.every_seconds),
                        result: d.result.clone(),
                        took: d
                            .restore_seconds
                            .map(format_seconds)
                            .unwrap_or_else(|| "unknown".to_string()),
                        rto: format_seconds(d.rto_seconds),
                        versus_rto: match d.restore_seconds {
                            Some(s) if s <= d.rto_seconds => "within the RTO",
                            Some(_) => "over the RTO",
                            None => "no restore time recorded",
                        },
                    }),
                }
            }),
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
