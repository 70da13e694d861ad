//! The `restore` attribute of a manual snapshot: the accounts it is shared with. Read by discovery
//! (`share-exposure`) and by remediation's `share` step, before it adds an account.

use super::super::error::aws_error;
use crate::inventory::{AwsError, SourceKind};

/// The values of the `restore` attribute of the snapshot `identifier` (account ids, or `all`).
pub async fn restore(
    client: &aws_sdk_rds::Client,
    account_id: &str,
    region: &str,
    kind: SourceKind,
    identifier: &str,
) -> Result<Vec<String>, AwsError> {
    match kind {
        SourceKind::DbInstance => client
            .describe_db_snapshot_attributes()
            .db_snapshot_identifier(identifier)
            .send()
            .await
            .map(|response| {
                let result = response.db_snapshot_attributes_result();
                let attributes = result.map(|r| r.db_snapshot_attributes());
                let pairs = attributes.unwrap_or_default().iter();
                restore_values(pairs.map(|a| (a.attribute_name(), a.attribute_values())))
            })
            .map_err(|e| aws_error(account_id, region, "DescribeDBSnapshotAttributes", &e)),
        SourceKind::DbCluster => client
            .describe_db_cluster_snapshot_attributes()
            .db_cluster_snapshot_identifier(identifier)
            .send()
            .await
            .map(|response| {
                let result = response.db_cluster_snapshot_attributes_result();
                let attributes = result.map(|r| r.db_cluster_snapshot_attributes());
                let pairs = attributes.unwrap_or_default().iter();
                restore_values(pairs.map(|a| (a.attribute_name(), a.attribute_values())))
            })
            .map_err(|e| {
                let operation = "DescribeDBClusterSnapshotAttributes";
                aws_error(account_id, region, operation, &e)
            }),
    }
}

/// The values of the `restore` attribute among a snapshot's (name, values) attributes.
fn restore_values<'a>(
    attributes: impl Iterator<Item = (Option<&'a str>, &'a [String])>,
) -> Vec<String> {
    attributes
        .filter(|(name, _)| *name == Some("restore"))
        .flat_map(|(_, values)| values.iter().cloned())
        .collect()
}
