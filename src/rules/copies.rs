//! Where a rule's copies go, which kinds count, and how remediation makes them: the `destination`
//! table, `immutable`, and `remediate = "backup"` with its `backup` table.

use super::{pattern, Duration};

#[derive(Debug, Clone, PartialEq)]
pub enum DestinationRegion {
    /// The source's own region.
    Same,
    Named(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Destination {
    pub account: String,
    pub region: DestinationRegion,
    /// The key replicas must be encrypted with: an alias (resolved in the destination) or a key ARN.
    pub kms_key: Option<String>,
    /// Which copies count as replicas (`replicas = ["snapshot", "backup"]`, the default).
    pub replicas: ReplicaKinds,
    /// Only recovery points in backup vaults whose name matches this pattern count (`vault`).
    pub vault: Option<String>,
    /// The option group of the destination account that remediation's copies are associated with
    /// (`CopyDBSnapshot`'s `OptionGroupName`), where a source's option group calls for one.
    pub option_group: Option<TargetOptionGroup>,
}

/// `destination.option_group`: one name for every region, or a name per region (the region the
/// copy is made in). Option groups belong to one account and region (RDS User Guide, "Option group
/// considerations"), so the group must exist in the destination account there.
#[derive(Debug, Clone, PartialEq)]
pub enum TargetOptionGroup {
    Everywhere(String),
    PerRegion(std::collections::BTreeMap<String, String>),
}

impl TargetOptionGroup {
    /// The option group named for copies made in `region`, if any.
    pub fn for_region(&self, region: &str) -> Option<&str> {
        match self {
            TargetOptionGroup::Everywhere(name) => Some(name),
            TargetOptionGroup::PerRegion(names) => names.get(region).map(String::as_str),
        }
    }
}

/// Which kinds of copy in the destination count as replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplicaKinds {
    /// Manual DB snapshots and DB cluster snapshots (`"snapshot"`).
    pub snapshot: bool,
    /// AWS Backup recovery points (`"backup"`).
    pub backup: bool,
}

impl Default for ReplicaKinds {
    fn default() -> Self {
        ReplicaKinds {
            snapshot: true,
            backup: true,
        }
    }
}

/// How `--remediate` copies a database with AWS Backup (`remediate = "backup"` and the `backup` table):
/// an on-demand backup job into `source_vault` of the source account, then a copy job into
/// `destination_vault` of the destination account.
#[derive(Debug, Clone, PartialEq)]
pub struct BackupRemediation {
    pub source_vault: String,
    pub destination_vault: String,
    /// The role AWS Backup assumes in the source account: a role name with its path, or an ARN.
    pub role: String,
    /// The recovery points' `DeleteAfterDays`.
    pub delete_after_days: i64,
}

/// The role AWS Backup creates for itself in an account, used when `backup.role` is not given.
pub const DEFAULT_BACKUP_ROLE: &str = "service-role/AWSBackupDefaultServiceRole";

impl BackupRemediation {
    /// The role's ARN in the source account `account_id`.
    pub fn role_arn(&self, partition: &str, account_id: &str) -> String {
        role_arn(&self.role, partition, account_id)
    }
}

/// The ARN of a role AWS Backup is handed (a name with its path, or an ARN) in `account_id`.
pub fn role_arn(role: &str, partition: &str, account_id: &str) -> String {
    if role.starts_with("arn:") {
        role.to_string()
    } else {
        format!("arn:{partition}:iam::{account_id}:role/{role}")
    }
}

/// `immutable`: the newest replica must sit in a backup vault locked in compliance mode whose
/// minimum retention covers `min_retention`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Immutable {
    pub min_retention: Option<Duration>,
}

impl Destination {
    /// True when a copy counts as a replica under this destination: of a kind it counts, and for a
    /// recovery point, in a vault whose name matches `vault`.
    pub fn counts(&self, snapshot: &crate::inventory::Snapshot) -> bool {
        match &snapshot.backup {
            Some(point) => {
                self.replicas.backup
                    && self
                        .vault
                        .as_deref()
                        .is_none_or(|p| pattern::matches(p, &point.vault_name))
            }
            None => self.replicas.snapshot && !snapshot.made_by_backup(),
        }
    }

    pub fn region_for<'a>(&'a self, source_region: &'a str) -> &'a str {
        match &self.region {
            DestinationRegion::Same => source_region,
            DestinationRegion::Named(region) => region,
        }
    }
}
