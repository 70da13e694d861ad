//! The remediation plan: which failing sources get which steps, with every name decided up front.
//! Pure: a function of the inventory, the rules and the findings, so `--dry-run` shows exactly what a
//! real run will do, and the journal can replay it after a crash.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::tags::{self, ROLE_TRANSIT, TAG_RESTORED_FROM, TAG_SOURCE_ARN};
use crate::checks::CheckId;
use crate::inventory::{Inventory, Source, SourceKind};
use crate::linkage::Index;
use crate::report::{CheckStatus, Findings, SourceReport, Status};
use crate::rules::{DestinationRegion, RuleSet};

pub use crate::report::remediation::{
    BackupJobs, Blocked, CopyOptionGroups, Item, Names, Plan, RestorePlan,
};

mod option_groups;
mod quotas;
use quotas::refuse_past_quotas;

fn failing(report: &SourceReport, id: CheckId) -> Option<&crate::report::CheckResult> {
    report
        .checks
        .iter()
        .find(|c| c.id == id && c.status == CheckStatus::Fail)
}

/// An RDS snapshot identifier: letters, digits and single hyphens, starting with a letter, at most 255.
fn snapshot_name(parts: &[&str]) -> String {
    let mut name = String::new();
    for c in parts.join("-").chars() {
        let c = if c.is_ascii_alphanumeric() {
            c.to_ascii_lowercase()
        } else {
            '-'
        };
        if c == '-' && name.ends_with('-') {
            continue;
        }
        name.push(c);
    }
    name.truncate(240);
    name.trim_end_matches('-').to_string()
}

/// How a copy into another region is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CopyPath {
    /// The vault account copies the shared snapshot straight into the destination region: one
    /// `CopyDBSnapshot` across accounts and regions, as AWS documents it (`SourceDBSnapshotIdentifier`
    /// "can also" be "an ARN of a snapshot that is in a different account and a different AWS
    /// Region", RDS API Reference), so no stage copy is made.
    #[default]
    OneStep,
    /// First a copy in the source's region of the vault account (`copy-stage`), then that copy across
    /// regions: the path from before AWS allowed both at once.
    TwoStep,
}

pub fn build(
    inventory: &Inventory,
    rules: &RuleSet,
    findings: &Findings,
    run_id: &str,
    now: DateTime<Utc>,
    copy_path: CopyPath,
) -> Plan {
    let index = Index::new(inventory);
    // Time and run: two runs in the same second never share a name (a step would take the other
    // run's snapshot for its own), while a resumed run replays the journal's names.
    let stamp = format!(
        "{}-{}",
        now.format("%Y%m%d%H%M%S"),
        run_id
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(8)
            .collect::<String>()
    );
    let sources: BTreeMap<&str, &Source> = inventory
        .sources
        .iter()
        .map(|s| (s.db.arn.as_str(), s))
        .collect();
    let mut plan = Plan {
        run_id: run_id.to_string(),
        created_at: now,
        items: Vec::new(),
        blocked: Vec::new(),
    };
    for report in findings
        .sources
        .iter()
        .filter(|s| s.status == Status::NonCompliant)
    {
        let (Some(source), Some(rule)) = (
            sources.get(report.db.arn.as_str()),
            rules
                .rules
                .iter()
                .find(|r| Some(&r.id) == report.rule.as_ref()),
        ) else {
            continue;
        };
        let block = |reason: String| Blocked {
            source_arn: source.db.arn.clone(),
            reason,
        };
        let dest_region = rule.destination.region_for(&source.db.region).to_string();
        // What rdsguard's copies can make up for and prune: manual snapshots. A recovery point is
        // AWS Backup's to keep and delete.
        let replicas: Vec<_> = index
            .replicas(source, &rule.destination, &dest_region)
            .into_iter()
            .filter(|s| s.backup.is_none())
            .collect();
        // A failing check that a new copy repairs.
        let copy_repairs = [
            CheckId::REPLICA_PRESENT,
            CheckId::REPLICA_AGE,
            CheckId::REPLICA_ENCRYPTION,
        ]
        .into_iter()
        .any(|id| failing(report, id).is_some());
        let too_few = |count: usize| rule.retain.min.is_some_and(|min| (count as u32) < min);
        let needs_copy = copy_repairs || too_few(replicas.len());
        let restorable = rule.restore.is_some();
        let needs_restore =
            restorable && (needs_copy || failing(report, CheckId::RESTORE_CURRENT).is_some());
        let max = rule.retain.max.map(|m| m as usize);
        let total_after = replicas.len() + usize::from(needs_copy);
        let needs_prune = max.is_some_and(|m| total_after > m);
        let mut notes = Vec::new();
        if failing(report, CheckId::SHARE_EXPOSURE).is_some() {
            notes.push(format!(
                "{} is not remediated: who a snapshot is shared with is a person's decision",
                CheckId::SHARE_EXPOSURE
            ));
        }
        if failing(report, CheckId::VAULT_CAPACITY).is_some() {
            notes.push(format!(
                "{} is not remediated: raise the destination's manual snapshot quota or lower retain.max",
                CheckId::VAULT_CAPACITY
            ));
        }
        if !needs_copy && !needs_prune && !needs_restore {
            if !notes.is_empty() {
                plan.blocked.push(block(notes.join("; ")));
            }
            continue;
        }
        if let Some(backup) = &rule.backup_remediation {
            // Recovery points count for the rule: judge the count on all its replicas.
            let all = index
                .replicas(source, &rule.destination, &dest_region)
                .len();
            let needs_copy = copy_repairs || too_few(all);
            if !needs_copy {
                if !notes.is_empty() {
                    plan.blocked.push(block(notes.join("; ")));
                }
                continue;
            }
            let partition = crate::inventory::parse_rds_arn(&source.db.arn)
                .map(|a| a.partition)
                .unwrap_or("aws");
            let token = snapshot_name(&[
                "rdsguard",
                &source.db.account_id,
                &source.db.identifier,
                &stamp,
            ]);
            plan.items.push(Item {
                backup: Some(BackupJobs {
                    source_vault: backup.source_vault.clone(),
                    destination_vault_arn: format!(
                        "arn:{partition}:backup:{dest_region}:{}:backup-vault:{}",
                        rule.destination.account, backup.destination_vault
                    ),
                    role_arn: backup.role_arn(partition, &source.db.account_id),
                    delete_after_days: backup.delete_after_days,
                    backup_token: format!("{token}-backup"),
                    copy_token: format!("{token}-copy"),
                }),
                ..item(source, rule, report, dest_region, notes)
            });
            continue;
        }
        if needs_copy && !rule.destination.replicas.snapshot {
            plan.blocked.push(block(format!(
                "rule `{}` counts AWS Backup copies only (destination.replicas = [\"backup\"]): a snapshot copy would not count; give the rule remediate = \"backup\" and a backup table to copy with AWS Backup jobs",
                rule.id
            )));
            continue;
        }
        if needs_copy {
            if let Some(check) = failing(report, CheckId::SOURCE_KEY_SHAREABLE) {
                plan.blocked.push(block(format!(
                    "{} fails ({}): the destination could not copy what is shared",
                    CheckId::SOURCE_KEY_SHAREABLE,
                    check.message
                )));
                continue;
            }
            let status = source.status.as_deref().unwrap_or("available");
            if !matches!(
                status,
                "available" | "stopped" | "backing-up" | "storage-optimization"
            ) {
                plan.blocked.push(block(format!(
                    "the database is `{status}`: it cannot be snapshotted now"
                )));
                continue;
            }
        }
        // Only a copy needs the vault key; pruning and restoring do not.
        let dest_key = match (rule.destination.kms_key.clone(), needs_copy) {
            (Some(key), _) => key,
            (None, false) => String::new(),
            (None, true) => {
                plan.blocked.push(block(format!(
                    "rule `{}` names no destination.kms_key: remediation copies under that key",
                    rule.id
                )));
                continue;
            }
        };
        let cross_region = matches!(&rule.destination.region, DestinationRegion::Named(r) if *r != source.db.region);
        if cross_region && dest_key.starts_with("arn:") {
            plan.blocked.push(block(format!(
                "destination.kms_key {dest_key} names one region; a cross-region destination needs an alias that exists in {} and {dest_region}",
                source.db.region
            )));
            continue;
        }
        let staged = cross_region && copy_path == CopyPath::TwoStep;
        let option_groups =
            match option_groups::targets(inventory, source, rule, report, needs_copy, staged) {
                Ok(groups) => groups,
                Err(reason) => {
                    plan.blocked.push(block(reason));
                    continue;
                }
            };
        let own_key_usable = source.encrypted
            && source.kms_key_id.as_deref().is_some_and(|id| {
                index
                    .key(&source.db.account_id, &source.db.region, id)
                    .is_some_and(|k| !crate::checks::is_aws_managed(k))
            });
        let reencrypt_key = if own_key_usable {
            None
        } else {
            match &rule.source_kms_key {
                Some(key) => Some(key.clone()),
                // Unencrypted: shared as it is, encrypted under the vault key by the copy.
                None if !source.encrypted => None,
                None if needs_copy => {
                    plan.blocked.push(block(
                        "the source is under aws/rds and the rule names no source_kms_key".into(),
                    ));
                    continue;
                }
                None => None,
            }
        };
        let snapshot = snapshot_name(&["rdsguard", &source.db.identifier, &stamp]);
        let names = Names {
            reencrypted: reencrypt_key.as_ref().map(|_| format!("{snapshot}-cmk")),
            stage: (cross_region && copy_path == CopyPath::TwoStep)
                .then(|| format!("{snapshot}-stage")),
            // Identifiers repeat across accounts: the replica's name carries the source account.
            replica: snapshot_name(&[
                "rdsguard",
                &source.db.account_id,
                &source.db.identifier,
                &stamp,
            ]),
            snapshot,
        };
        let mut prune = Vec::new();
        if let Some(max) = max {
            let newest = replicas.first().map(|s| s.arn.clone());
            let mut excess = total_after.saturating_sub(max);
            for old in replicas.iter().rev() {
                if excess == 0 {
                    break;
                }
                if tags::is_ours(&old.tags, &source.db.arn) && Some(&old.arn) != newest.as_ref() {
                    prune.push(old.identifier.clone());
                    excess -= 1;
                }
            }
            if excess > 0 {
                notes.push(format!(
                    "{excess} replica(s) beyond retain.max are not rdsguard's (or are the newest) and are kept"
                ));
            }
        }
        let restore = match (&rule.restore, needs_restore) {
            (Some(r), true) => Some(plan_restore(
                inventory,
                source,
                r,
                &names,
                needs_copy,
                &replicas,
                (&rule.destination.account, &dest_region),
                &stamp,
                &mut notes,
            )),
            _ => None,
        };
        let orphans = index
            .snapshots_in(&source.db.account_id, &source.db.region)
            .iter()
            .filter(|s| tags::has_role(&s.tags, &source.db.arn, ROLE_TRANSIT))
            .map(|s| s.identifier.clone())
            .collect();
        plan.items.push(Item {
            dest_kms_key: dest_key,
            reencrypt_key,
            names,
            copy: needs_copy,
            prune,
            orphans,
            restore,
            option_groups,
            ..item(source, rule, report, dest_region, notes)
        });
    }
    refuse_past_quotas(inventory, &mut plan);
    plan
}

/// A plan item for `source` under `rule` that does nothing yet: the steps' fields are the caller's.
fn item(
    source: &Source,
    rule: &crate::rules::Rule,
    report: &SourceReport,
    dest_region: String,
    notes: Vec<String>,
) -> Item {
    Item {
        source_arn: source.db.arn.clone(),
        kind: source.db.kind,
        account_id: source.db.account_id.clone(),
        region: source.db.region.clone(),
        identifier: source.db.identifier.clone(),
        rule: rule.id.clone(),
        dest_account: rule.destination.account.clone(),
        dest_region,
        dest_kms_key: String::new(),
        reencrypt_key: None,
        names: Names {
            snapshot: String::new(),
            reencrypted: None,
            stage: None,
            replica: String::new(),
        },
        copy: false,
        prune: Vec::new(),
        orphans: Vec::new(),
        restore: None,
        backup: None,
        option_groups: CopyOptionGroups::default(),
        reasons: report.failures().map(|c| c.id.clone()).collect(),
        notes,
    }
}

/// The restore step of one source: what to restore, under which name, and which earlier restores go.
#[allow(clippy::too_many_arguments)]
fn plan_restore(
    inventory: &Inventory,
    source: &Source,
    restore: &crate::rules::Restore,
    names: &Names,
    needs_copy: bool,
    replicas: &[&crate::inventory::Snapshot],
    (dest_account, dest_region): (&str, &str),
    stamp: &str,
    notes: &mut Vec<String>,
) -> RestorePlan {
    let secret = restore.secret_for(source);
    let target = secret.as_ref().and_then(|name| {
        inventory
            .secrets
            .iter()
            .find(|s| s.account_id == dest_account && s.region == dest_region && &s.name == name)
            .and_then(|s| s.instance.clone())
    });
    // Restores of this source in the destination, newest first (names end in a timestamp).
    let mut restores: Vec<&crate::inventory::ReplicaInstance> = inventory
        .replica_instances
        .iter()
        .filter(|i| {
            i.account_id == dest_account
                && i.region == dest_region
                && i.tags.get(TAG_SOURCE_ARN) == Some(&source.db.arn)
        })
        .collect();
    restores.sort_by(|a, b| b.identifier.cmp(&a.identifier));
    let newest_replica = replicas.first();
    let (from_snapshot, existing) = if needs_copy {
        (names.replica.clone(), None)
    } else {
        let from = newest_replica
            .map(|r| r.identifier.clone())
            .unwrap_or_default();
        let existing = newest_replica.and_then(|r| {
            restores
                .iter()
                .find(|i| i.tags.get(TAG_RESTORED_FROM) == Some(&r.arn))
                .map(|i| i.identifier.clone())
        });
        (from, existing)
    };
    let instance = existing.clone().unwrap_or_else(|| {
        // DB instance identifiers: at most 63 characters (9 + 30 + 1 + 14 + 1 + 8).
        let short: String = source.db.identifier.chars().take(30).collect();
        snapshot_name(&["rdsguard", &short, stamp])
    });
    let keep = restore.keep as usize;
    let mut kept = usize::from(existing.is_none());
    let mut prune = Vec::new();
    for old in &restores {
        if old.identifier == instance {
            kept += 1;
            continue;
        }
        if kept < keep {
            kept += 1;
        } else if !tags::is_ours(&old.tags, &source.db.arn) {
            notes.push(format!(
                "{} is not tagged as rdsguard's: never pruned",
                old.identifier
            ));
        } else if old.deletion_protection {
            notes.push(format!(
                "{} has deletion protection: never pruned",
                old.identifier
            ));
        } else if target.as_deref() == Some(old.identifier.as_str()) {
            notes.push(format!(
                "{} is where the secret points now: never pruned",
                old.identifier
            ));
        } else {
            prune.push(old.identifier.clone());
        }
    }
    RestorePlan {
        from_snapshot,
        instance,
        instance_class: restore.instance_class.clone(),
        subnet_group: restore.subnet_group.clone(),
        security_groups: restore.security_groups.clone(),
        parameter_group: restore.parameter_group.clone(),
        secret,
        cluster: source.db.kind == SourceKind::DbCluster,
        engine: source.db.engine.clone(),
        prune,
    }
}

#[cfg(test)]
mod tests;
