//! What remediation planned and did, as the published report carries it (`remediation` in
//! findings.json): the plan's items with every name decided up front, the databases left alone, and
//! each item's result. `remediate` builds and runs these; the report only holds them, so the report
//! does not depend on remediation.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::inventory::{AwsError, SourceKind};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Names {
    /// The manual snapshot in the source account.
    pub snapshot: String,
    /// Its copy under the shareable key, when the source is unencrypted or under aws/rds.
    pub reencrypted: Option<String>,
    /// The in-region copy in the destination account, for a cross-region destination.
    pub stage: Option<String>,
    /// The replica in the destination account and region.
    pub replica: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub source_arn: String,
    pub kind: SourceKind,
    pub account_id: String,
    pub region: String,
    pub identifier: String,
    pub rule: String,
    pub dest_account: String,
    pub dest_region: String,
    /// The destination key reference (an alias: valid in the stage region and the destination region).
    pub dest_kms_key: String,
    /// The shareable key in the source account, when the source's own key cannot be shared.
    pub reencrypt_key: Option<String>,
    pub names: Names,
    /// Make a new replica (false: only prune).
    pub copy: bool,
    /// Replica snapshots in the destination to delete, oldest first (rdsguard's own only).
    pub prune: Vec<String>,
    /// Transit snapshots that earlier runs left in the source account.
    pub orphans: Vec<String>,
    /// Restore the replica and repoint the rule's secret, when the rule asks for it.
    #[serde(default)]
    pub restore: Option<RestorePlan>,
    /// The option groups the copies in the destination account are associated with, where the
    /// source's option group calls for them.
    #[serde(default)]
    pub option_groups: CopyOptionGroups,
    /// Copy with AWS Backup jobs instead of snapshots (`remediate = "backup"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<BackupJobs>,
    /// Why the source is in the plan: its failing checks.
    pub reasons: Vec<String>,
    /// What remediation leaves alone, for a person to decide.
    pub notes: Vec<String>,
}

/// `CopyDBSnapshot`'s `OptionGroupName` for the copies in the destination account (the rule's
/// `destination.option_group` in the copy's region): for the copy across regions of a database whose
/// option group is not a default one, and for the first copy of a shared Oracle snapshot whose group
/// has `Timezone` or `OLS`. `None`: the copy names no option group.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CopyOptionGroups {
    /// For the stage copy (`names.stage`), in the source's region.
    pub stage: Option<String>,
    /// For the replica (`names.replica`), in the destination region.
    pub replica: Option<String>,
}

/// The AWS Backup jobs that make a copy for `remediate = "backup"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackupJobs {
    /// The source account's vault the on-demand backup goes into.
    pub source_vault: String,
    /// The destination vault the copy goes into.
    pub destination_vault_arn: String,
    /// The role AWS Backup uses in the source account (passed to both jobs).
    pub role_arn: String,
    pub delete_after_days: i64,
    /// The backup job's idempotency token: the same in a resumed run, so no second job is started.
    pub backup_token: String,
    /// The copy job's idempotency token.
    pub copy_token: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestorePlan {
    /// The replica snapshot to restore, in the destination (the new replica, or the newest one).
    pub from_snapshot: String,
    /// The restored instance: new, or the existing restore of the newest replica.
    pub instance: String,
    pub instance_class: String,
    pub subnet_group: Option<String>,
    pub security_groups: Vec<String>,
    pub parameter_group: Option<String>,
    pub secret: Option<String>,
    /// An Aurora cluster (restored with one instance) rather than a DB instance.
    #[serde(default)]
    pub cluster: bool,
    /// The source's engine (a cluster restore names it).
    #[serde(default)]
    pub engine: String,
    /// Earlier restores to delete (rdsguard's own, unprotected, not the secret's target).
    pub prune: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Blocked {
    pub source_arn: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub run_id: String,
    pub created_at: DateTime<Utc>,
    pub items: Vec<Item>,
    pub blocked: Vec<Blocked>,
}

/// What one item's run did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemResult {
    pub source_arn: String,
    pub ok: bool,
    /// The step that failed, and the AWS error.
    pub failed_step: Option<String>,
    pub error: Option<AwsError>,
    pub created: Vec<String>,
    pub deleted: Vec<String>,
}
