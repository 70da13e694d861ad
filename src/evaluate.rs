//! `evaluate(inventory, rules, as_of) -> Findings`: pure, no I/O, no clock.

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};

use crate::checks::{Capacity, Ctx, REGISTRY};
use crate::inventory::{Inventory, Source};
use crate::linkage::Index;
use crate::report::{
    CheckResult, CheckStatus, ExemptionInfo, Findings, HeadroomState, LatestReplica, SourceReport,
    Status, Summary,
};
use crate::rules::{pattern, RuleSet};

pub fn evaluate(inventory: &Inventory, rules: &RuleSet, as_of: DateTime<Utc>) -> Findings {
    let index = Index::new(inventory);
    let today = as_of.date_naive();
    let mut warnings: Vec<String> = rules.warnings.iter().map(ToString::to_string).collect();
    for exemption in rules.exemptions.iter().filter(|e| e.is_expired(today)) {
        let matched = inventory
            .sources
            .iter()
            .filter(|s| pattern::matches(&exemption.arn, &s.db.arn))
            .count();
        warnings.push(format!(
            "{}: exemption for {} expired on {}; it no longer applies and its {matched} source(s) are judged normally",
            exemption.location,
            exemption.arn,
            exemption
                .expires
                .map(|d| d.to_string())
                .unwrap_or_default(),
        ));
    }
    // Evidence from after `as_of` exists only when the inventory was read after it (re-judging the
    // past); then what was made later is left out. A live audit judges at or after its own reads, and
    // a snapshot that seems newer than that is only the clocks of AWS and this machine disagreeing.
    let cutoff = match inventory.collected_at {
        Some(read) if as_of >= read.trunc_subsecs(0) => None,
        _ => Some(as_of),
    };
    let capacity = Capacity::of(&index, rules, today);
    let mut sources: Vec<SourceReport> = inventory
        .sources
        .iter()
        .map(|source| evaluate_source(&index, rules, source, as_of, cutoff, &capacity))
        .collect();
    sources.sort_by(|a, b| a.db.arn.cmp(&b.db.arn));
    warnings.extend(evidence_warnings(inventory, &sources, as_of));
    let quotas = capacity.all(&index);
    warnings.extend(
        quotas
            .iter()
            .filter(|q| q.state == HeadroomState::Near)
            .map(|q| {
                format!(
                    "{}: {}% of the quota ({}): copies beyond it will fail with SnapshotQuotaExceeded",
                    q.summary(),
                    q.percent,
                    q.quota
                )
            }),
    );
    let unreadable_scopes = inventory
        .scopes
        .iter()
        .filter(|s| !s.complete)
        .map(|s| format!("{}/{}", s.account_id, s.region))
        .collect();
    Findings {
        as_of,
        summary: Summary::count(&sources),
        sources,
        errors: inventory.errors.clone(),
        unreadable_scopes,
        skipped_scopes: inventory.skipped_scopes.clone(),
        warnings,
        quotas,
    }
}

fn evaluate_source(
    index: &Index<'_>,
    rules: &RuleSet,
    source: &Source,
    as_of: DateTime<Utc>,
    cutoff: Option<DateTime<Utc>>,
    capacity: &Capacity,
) -> SourceReport {
    let today = as_of.date_naive();
    let rule = rules.rule_for(source);
    let mut report = SourceReport {
        db: source.db.clone(),
        rule: rule.map(|r| r.id.clone()),
        status: Status::Ungoverned,
        latest_replica: None,
        replica_count: 0,
        checks: Vec::new(),
        exemption: None,
        tags: source.tags.clone(),
        replicas_after_as_of: 0,
        ungoverned_reason: None,
        last_drill: None,
    };
    if let Some(exemption) = rules.exemption_for(source, today) {
        report.status = Status::Exempt;
        report.exemption = Some(ExemptionInfo {
            arn_pattern: exemption.arn.clone(),
            reason: exemption.reason.clone(),
            expires: exemption.expires,
        });
        return report;
    }
    let Some(rule) = rule else {
        report.ungoverned_reason = match (&source.green_of, &source.read_replica_of) {
            (Some(green), _) => Some(format!(
                "green side of Blue/Green deployment {} of {}: a staging copy of that database, judged there (a rule selects it with select.read_replicas = true)",
                green.deployment, green.blue_arn
            )),
            (None, Some(of)) => Some(format!("read replica of {of}: its data is that database's, judged there (a rule selects read replicas with select.read_replicas = true)")),
            (None, None) => None,
        };
        return report;
    };
    let dest_account = rule.destination.account.as_str();
    let dest_region = rule.destination.region_for(&source.db.region);
    // What the inventory holds now, less what did not exist yet at `as_of`.
    let (replicas, later): (Vec<_>, Vec<_>) = index
        .replicas(source, &rule.destination, dest_region)
        .into_iter()
        .partition(|s| cutoff.is_none_or(|at| s.existed_at(at)));
    let mut dest_errors = Vec::new();
    if rule.destination.replicas.snapshot {
        dest_errors = index.snapshot_read_errors(dest_account, dest_region, source.db.kind);
    }
    dest_errors.extend(index.backup_read_errors(&rule.destination, dest_region));
    let ctx = Ctx {
        index,
        source,
        rule,
        dest_account,
        dest_region,
        replicas: &replicas,
        later: &later,
        cutoff,
        dest_errors: &dest_errors,
        as_of,
        capacity,
    };
    report.checks = REGISTRY
        .iter()
        .filter_map(|check| {
            (check.run)(&ctx).map(|outcome| CheckResult {
                id: check.id.to_string(),
                status: outcome.status,
                severity: rule.severity,
                observed: outcome.observed,
                expected: outcome.expected,
                message: outcome.message,
            })
        })
        .collect();
    report.checks.sort_by(|a, b| a.id.cmp(&b.id));
    let has = |status| report.checks.iter().any(|c| c.status == status);
    report.status = if has(CheckStatus::Fail) {
        Status::NonCompliant
    } else if has(CheckStatus::Error) {
        Status::Error
    } else {
        Status::Compliant
    };
    report.last_drill = crate::checks::last_drill(rule, &replicas, as_of);
    report.replica_count = replicas.len();
    report.replicas_after_as_of = later.len();
    report.latest_replica = replicas.first().and_then(|newest| {
        let time = newest.replica_time()?;
        Some(LatestReplica {
            arn: newest.arn.clone(),
            account_id: newest.account_id.clone(),
            region: newest.region.clone(),
            replica_time: time,
            age_seconds: (as_of - time).num_seconds(),
            kms_key_arn: newest.kms_key_id.as_deref().map(|id| {
                index
                    .key(&newest.account_id, &newest.region, id)
                    .map(|k| k.arn.clone())
                    .unwrap_or_else(|| id.to_string())
            }),
            backup_vault: newest.backup.as_ref().map(|b| b.vault_name.clone()),
            delete_at: newest.backup.as_ref().and_then(|b| b.delete_at),
        })
    });
    report
}

/// What a reader must know when `as_of` is earlier than the evidence: the inventory was read later
/// than the instant judged (re-judging an old inventory, or `--as-of` in the past), and how many
/// replicas were left out because they were made after `as_of`.
fn evidence_warnings(
    inventory: &Inventory,
    sources: &[SourceReport],
    as_of: DateTime<Utc>,
) -> Vec<String> {
    let mut warnings = Vec::new();
    let stamp = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    // Whole seconds: a live audit's as_of (now, in whole seconds) is never "before" its own reads.
    if let Some(read) = inventory.collected_at.map(|t| t.trunc_subsecs(0)) {
        if as_of < read {
            warnings.push(format!(
                "the evidence was read at {}, later than the instant judged ({}): snapshots, keys, sharing and secrets are as they were when read, not as they were then",
                stamp(read),
                stamp(as_of)
            ));
        }
    }
    let later: Vec<&SourceReport> = sources
        .iter()
        .filter(|s| s.replicas_after_as_of > 0)
        .collect();
    if !later.is_empty() {
        let snapshots: usize = later.iter().map(|s| s.replicas_after_as_of).sum();
        warnings.push(format!(
            "{snapshots} replica snapshot(s) of {} database(s) were made after {} and are left out: they did not exist at the instant judged, so they are neither replicas nor counted for retention",
            later.len(),
            stamp(as_of)
        ));
    }
    warnings
}
