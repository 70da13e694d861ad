//! The snapshot calls remediation makes, one function per action, for DB snapshots and DB cluster
//! snapshots alike. Each creating action is paired with [`find`], so a step can look for its own
//! earlier result before acting.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_rds::client::Waiters;

use super::super::{tag_list, tags, time, Scope};
use crate::inventory::{AwsError, SourceKind};

/// What a step needs to know of a snapshot it made or found.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub arn: String,
    pub status: String,
    /// The point in time of the data (`OriginalSnapshotCreateTime`, else `SnapshotCreateTime`).
    pub data_time: Option<chrono::DateTime<chrono::Utc>>,
    pub kms_key_id: Option<String>,
    pub tags: BTreeMap<String, String>,
}

/// The snapshot named `identifier` in this scope, if it exists.
pub async fn find(
    scope: &Scope<'_>,
    kind: SourceKind,
    identifier: &str,
) -> Result<Option<Found>, AwsError> {
    match kind {
        SourceKind::DbInstance => {
            match scope
                .client
                .describe_db_snapshots()
                .db_snapshot_identifier(identifier)
                .send()
                .await
            {
                Ok(out) => Ok(out.db_snapshots().first().map(|s| Found {
                    arn: s.db_snapshot_arn().unwrap_or_default().to_string(),
                    status: s.status().unwrap_or_default().to_string(),
                    data_time: time(
                        s.original_snapshot_create_time()
                            .or(s.snapshot_create_time()),
                    ),
                    kms_key_id: s.kms_key_id().map(str::to_string),
                    tags: tags(s.tag_list()),
                })),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_db_snapshot_not_found_fault()) =>
                {
                    Ok(None)
                }
                Err(e) => Err(scope.error("DescribeDBSnapshots", identifier, &e)),
            }
        }
        SourceKind::DbCluster => {
            match scope
                .client
                .describe_db_cluster_snapshots()
                .db_cluster_snapshot_identifier(identifier)
                .send()
                .await
            {
                Ok(out) => Ok(out.db_cluster_snapshots().first().map(|s| Found {
                    arn: s.db_cluster_snapshot_arn().unwrap_or_default().to_string(),
                    status: s.status().unwrap_or_default().to_string(),
                    data_time: time(s.snapshot_create_time()),
                    kms_key_id: s.kms_key_id().map(str::to_string),
                    tags: tags(s.tag_list()),
                })),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_db_cluster_snapshot_not_found_fault()) =>
                {
                    Ok(None)
                }
                Err(e) => Err(scope.error("DescribeDBClusterSnapshots", identifier, &e)),
            }
        }
    }
}

/// A manual snapshot of the database `source_identifier`.
pub async fn create(
    scope: &Scope<'_>,
    kind: SourceKind,
    source_identifier: &str,
    identifier: &str,
    tags: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    match kind {
        SourceKind::DbInstance => scope
            .client
            .create_db_snapshot()
            .db_instance_identifier(source_identifier)
            .db_snapshot_identifier(identifier)
            .set_tags(Some(tag_list(tags)))
            .send()
            .await
            .map(drop)
            .map_err(|e| scope.error("CreateDBSnapshot", identifier, &e)),
        SourceKind::DbCluster => scope
            .client
            .create_db_cluster_snapshot()
            .db_cluster_identifier(source_identifier)
            .db_cluster_snapshot_identifier(identifier)
            .set_tags(Some(tag_list(tags)))
            .send()
            .await
            .map(drop)
            .map_err(|e| scope.error("CreateDBClusterSnapshot", identifier, &e)),
    }
}

/// A copy of `source` (an identifier in this scope, or the ARN of a snapshot shared with it or in
/// another region) under `kms_key`. A cross-region copy is called in the target region with the
/// source's ARN; outside GovCloud, RDS needs no presigned URL for it.
pub async fn copy(
    scope: &Scope<'_>,
    kind: SourceKind,
    source: &str,
    identifier: &str,
    kms_key: &str,
    tags: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    match kind {
        SourceKind::DbInstance => scope
            .client
            .copy_db_snapshot()
            .source_db_snapshot_identifier(source)
            .target_db_snapshot_identifier(identifier)
            .kms_key_id(kms_key)
            .copy_tags(false)
            .set_tags(Some(tag_list(tags)))
            .send()
            .await
            .map(drop)
            .map_err(|e| scope.error("CopyDBSnapshot", identifier, &e)),
        SourceKind::DbCluster => scope
            .client
            .copy_db_cluster_snapshot()
            .source_db_cluster_snapshot_identifier(source)
            .target_db_cluster_snapshot_identifier(identifier)
            .kms_key_id(kms_key)
            .copy_tags(false)
            .set_tags(Some(tag_list(tags)))
            .send()
            .await
            .map(drop)
            .map_err(|e| scope.error("CopyDBClusterSnapshot", identifier, &e)),
    }
}

/// Waits until the snapshot is `available`, at most `max_wait`.
pub async fn wait_available(
    scope: &Scope<'_>,
    kind: SourceKind,
    identifier: &str,
    max_wait: Duration,
) -> Result<(), AwsError> {
    let (operation, result) = match kind {
        SourceKind::DbInstance => (
            "WaitDBSnapshotAvailable",
            scope
                .client
                .wait_until_db_snapshot_available()
                .db_snapshot_identifier(identifier)
                .wait(max_wait)
                .await
                .map(drop)
                .map_err(|e| aws_sdk_rds::error::DisplayErrorContext(e).to_string()),
        ),
        SourceKind::DbCluster => (
            "WaitDBClusterSnapshotAvailable",
            scope
                .client
                .wait_until_db_cluster_snapshot_available()
                .db_cluster_snapshot_identifier(identifier)
                .wait(max_wait)
                .await
                .map(drop)
                .map_err(|e| aws_sdk_rds::error::DisplayErrorContext(e).to_string()),
        ),
    };
    result.map_err(|message| scope.waiter_error(operation, identifier, message))
}

/// Adds (or removes) `account` in the snapshot's `restore` attribute.
pub async fn share(
    scope: &Scope<'_>,
    kind: SourceKind,
    identifier: &str,
    account: &str,
    add: bool,
) -> Result<(), AwsError> {
    let values = Some(vec![account.to_string()]);
    let (to_add, to_remove) = if add { (values, None) } else { (None, values) };
    match kind {
        SourceKind::DbInstance => scope
            .client
            .modify_db_snapshot_attribute()
            .db_snapshot_identifier(identifier)
            .attribute_name("restore")
            .set_values_to_add(to_add)
            .set_values_to_remove(to_remove)
            .send()
            .await
            .map(drop)
            .map_err(|e| scope.error("ModifyDBSnapshotAttribute", identifier, &e)),
        SourceKind::DbCluster => scope
            .client
            .modify_db_cluster_snapshot_attribute()
            .db_cluster_snapshot_identifier(identifier)
            .attribute_name("restore")
            .set_values_to_add(to_add)
            .set_values_to_remove(to_remove)
            .send()
            .await
            .map(drop)
            .map_err(|e| scope.error("ModifyDBClusterSnapshotAttribute", identifier, &e)),
    }
}

/// Deletes the snapshot; one that is already gone counts as deleted.
pub async fn delete(scope: &Scope<'_>, kind: SourceKind, identifier: &str) -> Result<(), AwsError> {
    match kind {
        SourceKind::DbInstance => match scope
            .client
            .delete_db_snapshot()
            .db_snapshot_identifier(identifier)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_db_snapshot_not_found_fault()) =>
            {
                Ok(())
            }
            Err(e) => Err(scope.error("DeleteDBSnapshot", identifier, &e)),
        },
        SourceKind::DbCluster => match scope
            .client
            .delete_db_cluster_snapshot()
            .db_cluster_snapshot_identifier(identifier)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_db_cluster_snapshot_not_found_fault()) =>
            {
                Ok(())
            }
            Err(e) => Err(scope.error("DeleteDBClusterSnapshot", identifier, &e)),
        },
    }
}
