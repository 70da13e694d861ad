//! AWS Backup reads for discovery (remediation's jobs: [`jobs`]): the backup vaults of a destination scope (its own and those shared
//! into it), their RDS and Aurora recovery points, and a vault's access policy.

pub mod jobs;
pub mod restore;

use aws_sdk_backup::types::{BackupVaultListMember, RecoveryPointByBackupVault};
use chrono::{DateTime, Utc};

use super::error::aws_error;
use crate::inventory::{AwsError, BackupVault, RecoveryPoint, Snapshot, SourceKind};

/// The `ResourceType` AWS Backup gives each kind of database.
pub fn resource_type(kind: SourceKind) -> &'static str {
    match kind {
        SourceKind::DbInstance => "RDS",
        SourceKind::DbCluster => "Aurora",
    }
}

/// Every vault `account` sees in `region`: its own (`ListBackupVaults`), then those other accounts
/// share into it through AWS RAM (`ByShared`, e.g. logically air-gapped vaults).
pub async fn list_vaults(
    client: &aws_sdk_backup::Client,
    account: &str,
    region: &str,
) -> (Vec<BackupVault>, Vec<AwsError>) {
    let mut vaults = Vec::new();
    let mut errors = Vec::new();
    for shared in [false, true] {
        let mut pages = client
            .list_backup_vaults()
            .set_by_shared(shared.then_some(true))
            .max_results(1000)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            match page {
                Ok(page) => vaults.extend(
                    page.backup_vault_list()
                        .iter()
                        .filter_map(|v| vault(v, account, region)),
                ),
                Err(e) => {
                    errors.push(aws_error(account, region, "ListBackupVaults", &e));
                    break;
                }
            }
        }
    }
    (vaults, errors)
}

fn time(t: Option<&aws_sdk_backup::primitives::DateTime>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
}

fn vault(member: &BackupVaultListMember, account: &str, region: &str) -> Option<BackupVault> {
    let arn = member.backup_vault_arn()?.to_string();
    let owner_account = crate::inventory::vault_owner(&arn)
        .unwrap_or(account)
        .to_string();
    Some(BackupVault {
        account_id: account.to_string(),
        region: region.to_string(),
        name: member.backup_vault_name()?.to_string(),
        arn,
        owner_account,
        vault_type: member.vault_type().map(|t| t.as_str().to_string()),
        vault_state: member.vault_state().map(|t| t.as_str().to_string()),
        locked: member.locked().unwrap_or(false),
        lock_date: time(member.lock_date()),
        min_retention_days: member.min_retention_days(),
        max_retention_days: member.max_retention_days(),
        encryption_key_arn: member.encryption_key_arn().map(str::to_string),
        encryption_key_type: member.encryption_key_type().map(|t| t.as_str().to_string()),
        access_policy: None,
    })
}

/// The recovery points of RDS instances and Aurora clusters in `vault` (read from `account`, which
/// owns it or has it shared in), 1,000 a page, as [`Snapshot`]s with [`Snapshot::backup`] set. One
/// listing per resource type: a central vault also holds other services' backups.
pub async fn list_recovery_points(
    client: &aws_sdk_backup::Client,
    account: &str,
    region: &str,
    vault: &BackupVault,
) -> (Vec<Snapshot>, Vec<AwsError>) {
    let mut points = Vec::new();
    let mut errors = Vec::new();
    for kind in SourceKind::both() {
        let mut pages = client
            .list_recovery_points_by_backup_vault()
            .backup_vault_name(&vault.name)
            .set_backup_vault_account_id(
                (vault.owner_account != account).then(|| vault.owner_account.clone()),
            )
            .by_resource_type(resource_type(kind))
            .max_results(1000)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            match page {
                Ok(page) => points.extend(
                    page.recovery_points()
                        .iter()
                        .filter_map(|p| recovery_point(p, kind, vault)),
                ),
                Err(e) => {
                    let mut error =
                        aws_error(account, region, "ListRecoveryPointsByBackupVault", &e);
                    error.resource = Some(vault.arn.clone());
                    errors.push(error);
                    break;
                }
            }
        }
    }
    (points, errors)
}

fn recovery_point(
    point: &RecoveryPointByBackupVault,
    kind: SourceKind,
    vault: &BackupVault,
) -> Option<Snapshot> {
    let arn = point.recovery_point_arn()?.to_string();
    let resource_arn = point.resource_arn()?.to_string();
    // `...:snapshot:awsbackup:job-ID` for points that are RDS snapshots; `...:recovery-point:ID`.
    let identifier = crate::inventory::parse_rds_arn(&arn)
        .map(|a| a.name.to_string())
        .or_else(|| arn.rsplit(':').next().map(str::to_string))?;
    let source_identifier = crate::inventory::parse_rds_arn(&resource_arn)
        .map(|a| a.name.to_string())
        .unwrap_or_default();
    let created = time(point.creation_date());
    Some(Snapshot {
        arn,
        kind,
        account_id: vault.account_id.clone(),
        region: vault.region.clone(),
        identifier,
        source_identifier,
        status: point
            .status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        encrypted: point.is_encrypted(),
        kms_key_id: point.encryption_key_arn().map(str::to_string),
        // The data's time: a copy keeps the original backup's creation date.
        original_snapshot_create_time: created,
        // When this point itself came to be (a copy completes later than its data).
        snapshot_create_time: time(point.completion_date()).or(created),
        source_snapshot_arn: None,
        source_region: None,
        tags: Default::default(),
        shared_with: None,
        backup: Some(RecoveryPoint {
            resource_arn,
            vault_name: vault.name.clone(),
            vault_arn: vault.arn.clone(),
            source_vault_arn: point.source_backup_vault_arn().map(str::to_string),
            delete_at: time(point.calculated_lifecycle().and_then(|l| l.delete_at())),
            key_type: point.encryption_key_type().map(|t| t.as_str().to_string()),
        }),
    })
}

/// The access policy of a vault `account` owns: `Ok(None)` when it has none.
pub async fn access_policy(
    client: &aws_sdk_backup::Client,
    account: &str,
    region: &str,
    vault: &BackupVault,
) -> Result<Option<String>, AwsError> {
    match client
        .get_backup_vault_access_policy()
        .backup_vault_name(&vault.name)
        .send()
        .await
    {
        Ok(response) => Ok(response.policy().map(str::to_string)),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(e) => {
            let mut error = aws_error(account, region, "GetBackupVaultAccessPolicy", &e);
            error.resource = Some(vault.arn.clone());
            Err(error)
        }
    }
}
