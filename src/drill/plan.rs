//! Which databases to drill, decided purely from the inventory, the rules and an instant: per governed
//! database whose rule has `drill` and whose last successful drill is older than `drill.every`, the
//! newest replica in the destination that a drill can restore and tag (a manual snapshot, or an AWS
//! Backup recovery point in a standard vault of the destination account), and every name up front.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::checks::drill_evidence;
use crate::inventory::{parse_rds_arn, Inventory, Snapshot, SourceKind};
use crate::linkage::Index;
use crate::rules::{format_seconds, Drill, RuleSet};
use crate::tags::DRILL_PASSED;

/// One drill: restore `replica_arn` into `instance` (a DB instance, or an Aurora cluster and its one
/// instance) in the destination, then delete it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub source_arn: String,
    pub identifier: String,
    pub rule: String,
    pub dest_account: String,
    pub dest_region: String,
    /// The replica restored: the newest replica in the destination that can be drilled.
    pub replica_arn: String,
    /// What is restored: a DB instance, or an Aurora cluster (journals written before clusters were
    /// drilled hold instances only).
    #[serde(default = "default_kind")]
    pub kind: SourceKind,
    /// The engine of a restored Aurora cluster (the source's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    /// Set when the replica is an AWS Backup recovery point: restored by an AWS Backup restore job.
    /// Otherwise the snapshot is restored through RDS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<BackupRestore>,
    /// The drill instance's identifier (the drill cluster's, for Aurora; its instance is
    /// [`Item::member`]), made by this drill, deleted by it.
    pub instance: String,
    pub instance_class: String,
    pub subnet_group: Option<String>,
    pub security_groups: Vec<String>,
    pub probe: Option<String>,
    pub probe_timeout_seconds: i64,
    /// The name of the secret the probe may read (a name only).
    pub secret_name: Option<String>,
    pub rto_seconds: i64,
    /// Why this database is due: its last passed drill and when, or none.
    pub why: String,
}

/// How an AWS Backup recovery point is restored: `StartRestoreJob` in the destination account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackupRestore {
    /// The backup vault that holds the recovery point (the destination account's own).
    pub vault_name: String,
    /// The role AWS Backup assumes to create the drill database (`drill.backup_role`).
    pub role_arn: String,
    /// `StartRestoreJob`'s idempotency token: a retried call starts no second restore.
    pub token: String,
}

/// What a journal or `drill.json` written before Aurora drills restored: a DB instance.
pub fn default_kind() -> SourceKind {
    SourceKind::DbInstance
}

impl Item {
    pub fn is_cluster(&self) -> bool {
        self.kind == SourceKind::DbCluster
    }

    /// The one DB instance of a drill cluster (none for a DB instance drill).
    pub fn member(&self) -> Option<String> {
        self.is_cluster()
            .then(|| crate::aws::rds::write::instances::cluster_member(&self.instance))
    }
}

/// A governed database with `drill` that is not drilled this run, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    pub source_arn: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub items: Vec<Item>,
    pub skipped: Vec<Skipped>,
}

/// A drill database's identifier: `rdsguard-drill-<id>-<UTC time>-<run>`, at most 63 characters
/// (61 for a cluster, whose instance adds `-1`), letters, digits and single hyphens, starting with a
/// letter (RDS's rule for instance and cluster identifiers).
pub fn instance_name(
    identifier: &str,
    now: DateTime<Utc>,
    run_id: &str,
    kind: SourceKind,
) -> String {
    let mut id = String::new();
    for c in identifier.chars() {
        let c = if c.is_ascii_alphanumeric() {
            c.to_ascii_lowercase()
        } else {
            '-'
        };
        if !(c == '-' && (id.ends_with('-') || id.is_empty())) {
            id.push(c);
        }
    }
    id.truncate(match kind {
        SourceKind::DbInstance => 24,
        SourceKind::DbCluster => 22,
    });
    let id = id.trim_end_matches('-');
    let run: String = run_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(8)
        .collect::<String>()
        .to_ascii_lowercase();
    format!("rdsguard-drill-{id}-{}-{run}", now.format("%Y%m%d%H%M%S")).replace("--", "-")
}

/// How a replica is drilled in `dest_account`: through RDS (`None`), with an AWS Backup restore job
/// (`Some`), or not at all (the reason).
fn restorer(
    replica: &Snapshot,
    dest_account: &str,
    drill: &Drill,
    instance: &str,
) -> Result<Option<BackupRestore>, String> {
    let Some(point) = &replica.backup else {
        return Ok(None);
    };
    let owner = point.vault_owner().unwrap_or(dest_account);
    if owner != dest_account {
        return Err(format!(
            "{} is in the logically air-gapped vault {} that {owner} shares into {dest_account} through AWS RAM: {dest_account} may restore it, but only the vault's owner may tag it (backup:TagResource), so a drill could leave no evidence",
            replica.arn, point.vault_name
        ));
    }
    let Some(arn) = parse_rds_arn(&replica.arn) else {
        return Err(format!(
            "{} is in the logically air-gapped vault {}: it is no RDS snapshot, so the drill's evidence would need one backup:ListTags per recovery point in every audit",
            replica.arn, point.vault_name
        ));
    };
    Ok(Some(BackupRestore {
        vault_name: point.vault_name.clone(),
        role_arn: drill.backup_role_arn(arn.partition, dest_account),
        token: instance.to_string(),
    }))
}

/// The plan: `only` limits it to one database ARN; `as_of` decides which drills are due.
pub fn build(
    inventory: &Inventory,
    rules: &RuleSet,
    as_of: DateTime<Utc>,
    only: Option<&str>,
    run_id: &str,
) -> Plan {
    let index = Index::new(inventory);
    let today = as_of.date_naive();
    let mut plan = Plan {
        items: Vec::new(),
        skipped: Vec::new(),
    };
    let mut sources: Vec<_> = inventory.sources.iter().collect();
    sources.sort_by(|a, b| a.db.arn.cmp(&b.db.arn));
    for source in sources {
        if only.is_some_and(|arn| arn != source.db.arn) {
            continue;
        }
        let Some(rule) = rules.judging_rule(source, today) else {
            continue;
        };
        let Some(drill) = &rule.drill else {
            continue;
        };
        let mut skip = |reason: String| {
            plan.skipped.push(Skipped {
                source_arn: source.db.arn.clone(),
                reason,
            })
        };
        let dest_account = rule.destination.account.as_str();
        let dest_region = rule.destination.region_for(&source.db.region);
        let unread = index.snapshot_read_errors(dest_account, dest_region, source.db.kind);
        if let Some(error) = unread.first() {
            skip(format!(
                "the destination {dest_account}/{dest_region} could not be read: {} on {}",
                error.code, error.operation
            ));
            continue;
        }
        let replicas = index.replicas(source, &rule.destination, dest_region);
        let last_pass = replicas
            .iter()
            .filter_map(|r| drill_evidence(r))
            .filter(|e| e.result == DRILL_PASSED && e.at <= as_of)
            .filter(|e| e.restore_seconds.is_some_and(|s| s <= drill.rto.seconds))
            .map(|e| e.at)
            .max();
        if let Some(at) = last_pass {
            let age = (as_of - at).num_seconds().max(0);
            if age <= drill.every.seconds {
                skip(format!(
                    "not due: the last passed drill was {} ago (drill.every = {})",
                    format_seconds(age),
                    drill.every
                ));
                continue;
            }
        }
        let instance = instance_name(&source.db.identifier, as_of, run_id, source.db.kind);
        let mut unfit: Option<String> = None;
        let chosen =
            replicas
                .iter()
                .find_map(|r| match restorer(r, dest_account, drill, &instance) {
                    Ok(backup) => Some((*r, backup)),
                    Err(reason) => {
                        unfit.get_or_insert(reason);
                        None
                    }
                });
        let Some((replica, backup)) = chosen else {
            skip(match unfit {
                None => format!("no replica in {dest_account}/{dest_region} to drill"),
                Some(reason) => format!("no replica can be drilled: the newest, {reason}"),
            });
            continue;
        };
        let why = match last_pass {
            Some(at) => format!(
                "last passed drill {} ago (drill.every = {})",
                format_seconds((as_of - at).num_seconds().max(0)),
                drill.every
            ),
            None => "no passed drill within the RTO yet".to_string(),
        };
        let why = match unfit {
            Some(reason) => format!("{why}; an older replica is drilled: the newest, {reason}"),
            None => why,
        };
        plan.items.push(Item {
            source_arn: source.db.arn.clone(),
            identifier: source.db.identifier.clone(),
            rule: rule.id.clone(),
            dest_account: dest_account.to_string(),
            dest_region: dest_region.to_string(),
            replica_arn: replica.arn.clone(),
            kind: source.db.kind,
            engine: (source.db.kind == SourceKind::DbCluster).then(|| source.db.engine.clone()),
            backup,
            instance,
            instance_class: drill.instance_class.clone(),
            subnet_group: drill.subnet_group.clone(),
            security_groups: drill.security_groups.clone(),
            probe: drill.probe.clone(),
            probe_timeout_seconds: drill.probe_timeout.seconds,
            secret_name: drill.secret_for(source),
            rto_seconds: drill.rto.seconds,
            why,
        });
    }
    plan
}

#[cfg(test)]
mod tests;
