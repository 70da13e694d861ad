//! The snapshot calls remediation makes, one function per action, for DB snapshots and DB cluster
//! snapshots alike. Each creating action is paired with [`find`], so a step can look for its own
//! earlier result before acting.
//!
//! The SDK has a twin of every call for each kind (`copy_db_snapshot` / `copy_db_cluster_snapshot`,
//! ...), with builders of different types. Each action is written once, as a local template macro,
//! and `per_kind!` instantiates it for the snapshot's kind from one line of that kind's SDK names.

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

/// `$template!`, a function's local template of its action, with the SDK names of the call for
/// `$kind`: `[$db]` for a DB snapshot, `[$cluster]` for a DB cluster snapshot.
macro_rules! per_kind {
    ($kind:expr, $template:ident, [$($db:tt)*], [$($cluster:tt)*]) => {
        match $kind {
            SourceKind::DbInstance => $template!($($db)*),
            SourceKind::DbCluster => $template!($($cluster)*),
        }
    };
}

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
            arn: s.name.arn.unwrap_or_default().to_string(),
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
    macro_rules! find {
        ($call:ident $id:ident $list:ident $operation:literal $is_absent:path) => {{
            let answer = scope.client.$call().$id(identifier).send();
            scope
                .unless_absent($operation, identifier, answer, $is_absent)
                .await?
                .and_then(|out| out.$list().first().map(Found::of))
        }};
    }
    let found = per_kind!(
        kind,
        find,
        [describe_db_snapshots db_snapshot_identifier db_snapshots "DescribeDBSnapshots" DescribeDBSnapshotsError::is_db_snapshot_not_found_fault],
        [describe_db_cluster_snapshots db_cluster_snapshot_identifier db_cluster_snapshots "DescribeDBClusterSnapshots" DescribeDBClusterSnapshotsError::is_db_cluster_snapshot_not_found_fault]
    );
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
    macro_rules! create {
        ($call:ident $source:ident $id:ident $operation:literal) => {{
            let request = scope
                .client
                .$call()
                .$source(source_identifier)
                .$id(identifier);
            let answer = request.set_tags(Some(tag_list(tags))).send();
            scope.done($operation, identifier, answer).await
        }};
    }
    per_kind!(
        kind,
        create,
        [create_db_snapshot db_instance_identifier db_snapshot_identifier "CreateDBSnapshot"],
        [create_db_cluster_snapshot db_cluster_identifier db_cluster_snapshot_identifier "CreateDBClusterSnapshot"]
    )
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
    // An option group is a DB snapshot's only (Aurora cluster snapshots have none).
    macro_rules! copy {
        ($call:ident $source:ident $target:ident $operation:literal $($option_group:ident)?) => {{
            let request = scope.client.$call().$source(source).$target(identifier);
            $(let request = request.$option_group(option_group.map(str::to_string));)?
            let request = request.kms_key_id(kms_key).copy_tags(false);
            let answer = request.set_tags(Some(tag_list(tags))).send();
            scope.done($operation, identifier, answer).await
        }};
    }
    per_kind!(
        kind,
        copy,
        [copy_db_snapshot source_db_snapshot_identifier target_db_snapshot_identifier "CopyDBSnapshot" set_option_group_name],
        [copy_db_cluster_snapshot source_db_cluster_snapshot_identifier target_db_cluster_snapshot_identifier "CopyDBClusterSnapshot"]
    )
}

/// Waits until the snapshot is `available`, at most `max_wait`.
pub async fn wait_available(
    scope: &Scope<'_>,
    kind: SourceKind,
    identifier: &str,
    max_wait: Duration,
) -> Result<(), AwsError> {
    macro_rules! wait {
        ($call:ident $id:ident $operation:literal) => {{
            let waited = scope.client.$call().$id(identifier).wait(max_wait);
            scope.waited($operation, identifier, waited).await
        }};
    }
    per_kind!(
        kind,
        wait,
        [wait_until_db_snapshot_available db_snapshot_identifier "WaitDBSnapshotAvailable"],
        [wait_until_db_cluster_snapshot_available db_cluster_snapshot_identifier "WaitDBClusterSnapshotAvailable"]
    )
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
    macro_rules! share {
        ($call:ident $id:ident $operation:literal) => {{
            let request = scope
                .client
                .$call()
                .$id(identifier)
                .attribute_name("restore");
            let request = request
                .set_values_to_add(to_add)
                .set_values_to_remove(to_remove);
            scope.done($operation, identifier, request.send()).await
        }};
    }
    per_kind!(
        kind,
        share,
        [modify_db_snapshot_attribute db_snapshot_identifier "ModifyDBSnapshotAttribute"],
        [modify_db_cluster_snapshot_attribute db_cluster_snapshot_identifier "ModifyDBClusterSnapshotAttribute"]
    )
}

/// Deletes the snapshot; one that is already gone counts as deleted.
pub async fn delete(scope: &Scope<'_>, kind: SourceKind, identifier: &str) -> Result<(), AwsError> {
    macro_rules! delete {
        ($call:ident $id:ident $operation:literal $is_absent:path) => {{
            let answer = scope.client.$call().$id(identifier).send();
            scope
                .unless_absent($operation, identifier, answer, $is_absent)
                .await
                .map(drop)
        }};
    }
    per_kind!(
        kind,
        delete,
        [delete_db_snapshot db_snapshot_identifier "DeleteDBSnapshot" DeleteDBSnapshotError::is_db_snapshot_not_found_fault],
        [delete_db_cluster_snapshot db_cluster_snapshot_identifier "DeleteDBClusterSnapshot" DeleteDBClusterSnapshotError::is_db_cluster_snapshot_not_found_fault]
    )
}
