//! What discovery reads of AWS Backup: recovery points (as [`super::Snapshot::backup`]) and vaults.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What AWS Backup says of a recovery point of an RDS instance or Aurora cluster
/// (`ListRecoveryPointsByBackupVault`). Its [`Snapshot`](super::Snapshot) has the point's ARN, `ResourceType`
/// (as the kind), status (`COMPLETED`, ...), `IsEncrypted`, `EncryptionKeyArn`, and `CreationDate` as
/// the data's time (a copy keeps the original backup's date).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RecoveryPoint {
    /// The ARN of the database backed up: the only thing that links a point to its source.
    pub resource_arn: String,
    pub vault_name: String,
    pub vault_arn: String,
    /// Set on copies: the vault the point was copied from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_vault_arn: Option<String>,
    /// `CalculatedLifecycle.DeleteAt`: when AWS Backup deletes the point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_at: Option<DateTime<Utc>>,
    /// `EncryptionKeyType`: `AWS_OWNED_KMS_KEY` (no key ARN; logically air-gapped vaults by
    /// default) or `CUSTOMER_MANAGED_KMS_KEY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_type: Option<String>,
}

/// The encryption key type AWS Backup reports for a key AWS owns (not in any account).
pub const AWS_OWNED_KMS_KEY: &str = "AWS_OWNED_KMS_KEY";

impl RecoveryPoint {
    pub fn aws_owned_key(&self) -> bool {
        self.key_type.as_deref() == Some(AWS_OWNED_KMS_KEY)
    }

    /// The account that owns the point's vault, from the vault's ARN.
    pub fn vault_owner(&self) -> Option<&str> {
        vault_owner(&self.vault_arn)
    }
}

/// The account in a backup vault's ARN (`arn:aws:backup:REGION:ACCOUNT:backup-vault:NAME`).
pub fn vault_owner(vault_arn: &str) -> Option<&str> {
    vault_arn.split(':').nth(4).filter(|a| !a.is_empty())
}

/// An AWS Backup vault of a destination scope, as `ListBackupVaults` describes it (its lock
/// included: Vault Lock has no read of its own).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BackupVault {
    /// The account that listed it (owner, or the account it is shared into).
    pub account_id: String,
    pub region: String,
    pub name: String,
    pub arn: String,
    /// The account that owns it (from its ARN).
    pub owner_account: String,
    /// `BACKUP_VAULT`, `LOGICALLY_AIR_GAPPED_BACKUP_VAULT`, ...
    pub vault_type: Option<String>,
    pub vault_state: Option<String>,
    pub locked: bool,
    /// Set for a compliance-mode lock: from then on nobody can remove the lock.
    pub lock_date: Option<DateTime<Utc>>,
    pub min_retention_days: Option<i64>,
    pub max_retention_days: Option<i64>,
    pub encryption_key_arn: Option<String>,
    pub encryption_key_type: Option<String>,
    /// The vault's access policy: `None` until read; `Some(None)` when it has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_policy: Option<Option<String>>,
}

/// `VaultType` of a logically air-gapped vault: always compliance-locked.
pub const AIR_GAPPED_VAULT: &str = "LOGICALLY_AIR_GAPPED_BACKUP_VAULT";

impl BackupVault {
    pub fn air_gapped(&self) -> bool {
        self.vault_type.as_deref() == Some(AIR_GAPPED_VAULT)
    }
}
