//! The snapshot calls remediation makes, one function per action, for DB snapshots and DB cluster
//! snapshots alike. Each creating action is paired with [`find`], so a step can look for its own
//! earlier result before acting.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_rds::client::Waiters;

use aws_sdk_rds::operation::delete_db_cluster_snapshot::DeleteDBClusterSnapshotError;
use aws_sdk_rds::operation::delete_db_snapshot::DeleteDBSnapshotError;
use aws_sdk_rds::operation::describe_db_cluster_snapshots::DescribeDBClusterSnapshotsError;
use aws_sdk_rds::operation::describe_db_snapshots::DescribeDBSnapshotsError;

use super::super::records::SnapshotFields;
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

impl Found {
    fn of<'a>(s: impl Into<SnapshotFields<'a>>) -> Found {
        let s = s.into();
        Found {
            arn: s.arn.unwrap_or_default().to_string(),
            status: s.status.unwrap_or_default().to_string(),
            data_time: time(s.original_created.or(s.created)),
            kms_key_id: s.kms_key_id.map(str::to_string),
            tags: tags(s.tags),
        }
    }
}

/// The snapshot named `identifier` in this scope, if it exists.
pub async fn find(
    scope: &Scope<'_>,
    kind: SourceKind,
    identifier: &str,
) -> Result<Option<Found>, AwsError> {
    let client = scope.client;
    let found = match kind {
        SourceKind::DbInstance => {
            let answer = client
                .describe_db_snapshots()
                .db_snapshot_identifier(identifier)
                .send();
            let is_absent = DescribeDBSnapshotsError::is_db_snapshot_not_found_fault;
            scope
                .unless_absent("DescribeDBSnapshots", identifier, answer, is_absent)
                .await?
                .and_then(|out| out.db_snapshots().first().map(Found::of))
        }
        SourceKind::DbCluster => {
            let answer = client
                .describe_db_cluster_snapshots()
                .db_cluster_snapshot_identifier(identifier)
                .send();
            let is_absent = DescribeDBClusterSnapshotsError::is_db_cluster_snapshot_not_found_fault;
            let operation = "DescribeDBClusterSnapshots";
            scope
                .unless_absent(operation, identifier, answer, is_absent)
                .await?
                .and_then(|out| out.db_cluster_snapshots().first().map(Found::of))
        }
    };
    Ok(found)
}

/// A manual snapshot of the database `source_identifier`.
pub async fn create(
    scope: &Scope<'_>,
    kind: SourceKind,
    source_identifier: &str,
    identifier: &str,
    tags: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    let (client, tags) = (scope.client, Some(tag_list(tags)));
    match kind {
        SourceKind::DbInstance => {
            let request = client
                .create_db_snapshot()
                .db_instance_identifier(source_identifier)
                .db_snapshot_identifier(identifier);
            let answer = request.set_tags(tags).send();
            scope.done("CreateDBSnapshot", identifier, answer).await
        }
        SourceKind::DbCluster => {
            let request = client
                .create_db_cluster_snapshot()
                .db_cluster_identifier(source_identifier)
                .db_cluster_snapshot_identifier(identifier);
            let answer = request.set_tags(tags).send();
            scope
                .done("CreateDBClusterSnapshot", identifier, answer)
                .await
        }
    }
}

/// A copy of `source` (an identifier in this scope, or the ARN of a snapshot shared with it or in
/// another region) under `kms_key`, associated with `option_group` when given (DB snapshots only:
/// a cluster snapshot has no option group). A cross-region copy is called in the target region with
/// the source's ARN; outside GovCloud, RDS needs no presigned URL for it.
pub async fn copy(
    scope: &Scope<'_>,
    kind: SourceKind,
    source: &str,
    identifier: &str,
    kms_key: &str,
    tags: &BTreeMap<String, String>,
    option_group: Option<&str>,
) -> Result<(), AwsError> {
    let (client, tags) = (scope.client, Some(tag_list(tags)));
    match kind {
        SourceKind::DbInstance => {
            let request = client
                .copy_db_snapshot()
                .source_db_snapshot_identifier(source)
                .target_db_snapshot_identifier(identifier)
                .set_option_group_name(option_group.map(str::to_string));
            let request = request.kms_key_id(kms_key).copy_tags(false).set_tags(tags);
            scope
                .done("CopyDBSnapshot", identifier, request.send())
                .await
        }
        SourceKind::DbCluster => {
            let request = client
                .copy_db_cluster_snapshot()
                .source_db_cluster_snapshot_identifier(source)
                .target_db_cluster_snapshot_identifier(identifier);
            let request = request.kms_key_id(kms_key).copy_tags(false).set_tags(tags);
            scope
                .done("CopyDBClusterSnapshot", identifier, request.send())
                .await
        }
    }
}

/// Waits until the snapshot is `available`, at most `max_wait`.
pub async fn wait_available(
    scope: &Scope<'_>,
    kind: SourceKind,
    identifier: &str,
    max_wait: Duration,
) -> Result<(), AwsError> {
    let client = scope.client;
    match kind {
        SourceKind::DbInstance => {
            let waiter = client.wait_until_db_snapshot_available();
            let waited = waiter.db_snapshot_identifier(identifier).wait(max_wait);
            scope
                .waited("WaitDBSnapshotAvailable", identifier, waited)
                .await
        }
        SourceKind::DbCluster => {
            let waiter = client.wait_until_db_cluster_snapshot_available();
            let waited = waiter
                .db_cluster_snapshot_identifier(identifier)
                .wait(max_wait);
            scope
                .waited("WaitDBClusterSnapshotAvailable", identifier, waited)
                .await
        }
    }
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
    let client = scope.client;
    match kind {
        SourceKind::DbInstance => {
            let request = client
                .modify_db_snapshot_attribute()
                .db_snapshot_identifier(identifier)
                .attribute_name("restore");
            let request = request
                .set_values_to_add(to_add)
                .set_values_to_remove(to_remove);
            scope
                .done("ModifyDBSnapshotAttribute", identifier, request.send())
                .await
        }
        SourceKind::DbCluster => {
            let request = client
                .modify_db_cluster_snapshot_attribute()
                .db_cluster_snapshot_identifier(identifier)
                .attribute_name("restore");
            let request = request
                .set_values_to_add(to_add)
                .set_values_to_remove(to_remove);
            let operation = "ModifyDBClusterSnapshotAttribute";
            scope.done(operation, identifier, request.send()).await
        }
    }
}

/// Deletes the snapshot; one that is already gone counts as deleted.
pub async fn delete(scope: &Scope<'_>, kind: SourceKind, identifier: &str) -> Result<(), AwsError> {
    let client = scope.client;
    match kind {
        SourceKind::DbInstance => {
            let request = client.delete_db_snapshot();
            let answer = request.db_snapshot_identifier(identifier).send();
            let is_absent = DeleteDBSnapshotError::is_db_snapshot_not_found_fault;
            scope
                .unless_absent("DeleteDBSnapshot", identifier, answer, is_absent)
                .await?;
        }
        SourceKind::DbCluster => {
            let request = client.delete_db_cluster_snapshot();
            let answer = request.db_cluster_snapshot_identifier(identifier).send();
            let is_absent = DeleteDBClusterSnapshotError::is_db_cluster_snapshot_not_found_fault;
            scope
                .unless_absent("DeleteDBClusterSnapshot", identifier, answer, is_absent)
                .await?;
        }
    }
    Ok(())
}
