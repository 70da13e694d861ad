//! Reads of one (account, region): DB instances and clusters, manual snapshots, and who a snapshot is
//! shared with. Every page at the maximum size; every failure becomes an error entry and the rest goes
//! on. Discovery (`crate::discover::plan`) decides which of these each scope needs.

use futures::stream::{self, StreamExt};

use super::{tags, time, with_resource};
use crate::aws::error::aws_error;
use crate::aws::pace::Pacer;
use crate::inventory::{AwsError, ReplicaInstance, Snapshot, Source, SourceKind, TAG_SOURCE_ARN};

/// RDS's largest page for Describe* calls.
const PAGE_SIZE: i32 = 100;
/// Attribute reads in flight per scope: enough to use a raised RDS quota (400/s at 40 ms per call needs
/// 16, with no slack); under the default quota the scope's pacer is what limits them.
const ATTRIBUTE_CONCURRENCY: usize = 32;

/// What an RDS call answers in a region the account has not enabled (opt-in regions): the same
/// credentials work elsewhere. Only believed for opt-in regions, on the scope's first call.
const REGION_NOT_ENABLED_CODES: &[&str] = &[
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "AuthFailure",
];

#[derive(Default)]
pub struct ScopeRead {
    /// The region is not enabled for the account: nothing can live there, nothing else was asked.
    pub region_not_enabled: bool,
    pub sources: Vec<Source>,
    pub replica_instances: Vec<ReplicaInstance>,
    pub errors: Vec<AwsError>,
}

/// The databases of one account-region: DB instances (sources, and rdsguard's restores) and DB
/// clusters. Every call waits for `pacer` first: RDS throttles per account and region.
pub async fn read_databases(
    client: &aws_sdk_rds::Client,
    pacer: &Pacer,
    account_id: &str,
    region: &str,
) -> ScopeRead {
    let mut out = ScopeRead::default();
    // DB instances: sources, except Aurora members (the cluster is the source) and rdsguard's restores.
    let mut pages = client
        .describe_db_instances()
        .max_records(PAGE_SIZE)
        .into_paginator()
        .send();
    let mut first_page = true;
    while let Some(page) = {
        pacer.wait().await;
        pages.next().await
    } {
        let first = std::mem::replace(&mut first_page, false);
        match page {
            Ok(page) => {
                for db in page.db_instances() {
                    if db.db_cluster_identifier().is_some() {
                        continue;
                    }
                    let identifier = db.db_instance_identifier().unwrap_or_default().to_string();
                    let arn = db.db_instance_arn().map(str::to_string).unwrap_or_else(|| {
                        format!("arn:aws:rds:{region}:{account_id}:db:{identifier}")
                    });
                    let tags = tags(db.tag_list());
                    if tags.contains_key(TAG_SOURCE_ARN) {
                        out.replica_instances.push(ReplicaInstance {
                            arn,
                            account_id: account_id.to_string(),
                            region: region.to_string(),
                            identifier,
                            status: db.db_instance_status().map(str::to_string),
                            endpoint: db.endpoint().and_then(|e| e.address()).map(str::to_string),
                            deletion_protection: db.deletion_protection().unwrap_or(false),
                            tags,
                        });
                        continue;
                    }
                    // In-region replicas name their source by identifier, cross-region ones by ARN.
                    let read_replica_of =
                        db.read_replica_source_db_instance_identifier()
                            .map(|source| match source.starts_with("arn:") {
                                true => source.to_string(),
                                false => format!("arn:aws:rds:{region}:{account_id}:db:{source}"),
                            });
                    out.sources.push(Source {
                        arn,
                        kind: SourceKind::DbInstance,
                        account_id: account_id.to_string(),
                        region: region.to_string(),
                        identifier,
                        engine: db.engine().unwrap_or_default().to_string(),
                        status: db.db_instance_status().map(str::to_string),
                        encrypted: db.storage_encrypted().unwrap_or(false),
                        kms_key_id: db.kms_key_id().map(str::to_string),
                        tags,
                        created_at: time(db.instance_create_time()),
                        read_replica_of,
                    });
                }
            }
            Err(e) => {
                let error = aws_error(account_id, region, "DescribeDBInstances", &e);
                let opt_in = !crate::aws::DEFAULT_REGIONS.contains(&region);
                if opt_in && first && REGION_NOT_ENABLED_CODES.contains(&error.code.as_str()) {
                    out.region_not_enabled = true;
                    return out;
                }
                out.errors.push(error);
                break;
            }
        }
    }

    let mut pages = client
        .describe_db_clusters()
        .max_records(PAGE_SIZE)
        .into_paginator()
        .send();
    while let Some(page) = {
        pacer.wait().await;
        pages.next().await
    } {
        match page {
            Ok(page) => {
                for cluster in page.db_clusters() {
                    let identifier = cluster
                        .db_cluster_identifier()
                        .unwrap_or_default()
                        .to_string();
                    let tags = tags(cluster.tag_list());
                    if tags.contains_key(TAG_SOURCE_ARN) {
                        // rdsguard's restore of a cluster: a replica, not a source.
                        out.replica_instances.push(ReplicaInstance {
                            arn: cluster.db_cluster_arn().unwrap_or_default().to_string(),
                            account_id: account_id.to_string(),
                            region: region.to_string(),
                            identifier,
                            status: cluster.status().map(str::to_string),
                            endpoint: cluster.endpoint().map(str::to_string),
                            deletion_protection: cluster.deletion_protection().unwrap_or(false),
                            tags,
                        });
                        continue;
                    }
                    out.sources.push(Source {
                        arn: cluster
                            .db_cluster_arn()
                            .map(str::to_string)
                            .unwrap_or_else(|| {
                                format!("arn:aws:rds:{region}:{account_id}:cluster:{identifier}")
                            }),
                        kind: SourceKind::DbCluster,
                        account_id: account_id.to_string(),
                        region: region.to_string(),
                        identifier,
                        engine: cluster.engine().unwrap_or_default().to_string(),
                        status: cluster.status().map(str::to_string),
                        encrypted: cluster.storage_encrypted().unwrap_or(false),
                        kms_key_id: cluster.kms_key_id().map(str::to_string),
                        tags,
                        created_at: time(cluster.cluster_create_time()),
                        read_replica_of: cluster
                            .replication_source_identifier()
                            .map(str::to_string),
                    });
                }
            }
            Err(e) => {
                out.errors
                    .push(aws_error(account_id, region, "DescribeDBClusters", &e));
                break;
            }
        }
    }

    out
}

/// The manual snapshots of one kind in one account-region, without their sharing (see [`read_shares`]).
/// On a failed page: what was read so far, and the error.
pub async fn read_snapshots(
    client: &aws_sdk_rds::Client,
    pacer: &Pacer,
    account_id: &str,
    region: &str,
    kind: SourceKind,
) -> (Vec<Snapshot>, Option<AwsError>) {
    match kind {
        SourceKind::DbInstance => read_db_snapshots(client, pacer, account_id, region).await,
        SourceKind::DbCluster => read_cluster_snapshots(client, pacer, account_id, region).await,
    }
}

async fn read_db_snapshots(
    client: &aws_sdk_rds::Client,
    pacer: &Pacer,
    account_id: &str,
    region: &str,
) -> (Vec<Snapshot>, Option<AwsError>) {
    let mut snapshots = Vec::new();
    let mut pages = client
        .describe_db_snapshots()
        .snapshot_type("manual")
        .max_records(PAGE_SIZE)
        .into_paginator()
        .send();
    while let Some(page) = {
        pacer.wait().await;
        pages.next().await
    } {
        match page {
            Ok(page) => {
                for s in page.db_snapshots() {
                    let identifier = s.db_snapshot_identifier().unwrap_or_default().to_string();
                    snapshots.push(Snapshot {
                        arn: s.db_snapshot_arn().map(str::to_string).unwrap_or_else(|| {
                            format!("arn:aws:rds:{region}:{account_id}:snapshot:{identifier}")
                        }),
                        kind: SourceKind::DbInstance,
                        account_id: account_id.to_string(),
                        region: region.to_string(),
                        identifier,
                        source_identifier: s
                            .db_instance_identifier()
                            .unwrap_or_default()
                            .to_string(),
                        status: s.status().unwrap_or_default().to_string(),
                        encrypted: s.encrypted().unwrap_or(false),
                        kms_key_id: s.kms_key_id().map(str::to_string),
                        snapshot_create_time: time(s.snapshot_create_time()),
                        original_snapshot_create_time: time(s.original_snapshot_create_time()),
                        source_snapshot_arn: s.source_db_snapshot_identifier().map(str::to_string),
                        source_region: s.source_region().map(str::to_string),
                        tags: tags(s.tag_list()),
                        shared_with: None,
                        backup: None,
                    });
                }
            }
            Err(e) => {
                let error = aws_error(account_id, region, "DescribeDBSnapshots", &e);
                return (snapshots, Some(error));
            }
        }
    }
    (snapshots, None)
}

async fn read_cluster_snapshots(
    client: &aws_sdk_rds::Client,
    pacer: &Pacer,
    account_id: &str,
    region: &str,
) -> (Vec<Snapshot>, Option<AwsError>) {
    let mut snapshots = Vec::new();
    let mut pages = client
        .describe_db_cluster_snapshots()
        .snapshot_type("manual")
        .max_records(PAGE_SIZE)
        .into_paginator()
        .send();
    while let Some(page) = {
        pacer.wait().await;
        pages.next().await
    } {
        match page {
            Ok(page) => {
                for s in page.db_cluster_snapshots() {
                    let identifier = s
                        .db_cluster_snapshot_identifier()
                        .unwrap_or_default()
                        .to_string();
                    snapshots.push(Snapshot {
                        arn: s.db_cluster_snapshot_arn().map(str::to_string).unwrap_or_else(|| {
                            format!("arn:aws:rds:{region}:{account_id}:cluster-snapshot:{identifier}")
                        }),
                        kind: SourceKind::DbCluster,
                        account_id: account_id.to_string(),
                        region: region.to_string(),
                        identifier,
                        source_identifier: s.db_cluster_identifier().unwrap_or_default().to_string(),
                        status: s.status().unwrap_or_default().to_string(),
                        encrypted: s.storage_encrypted().unwrap_or(false),
                        kms_key_id: s.kms_key_id().map(str::to_string),
                        snapshot_create_time: time(s.snapshot_create_time()),
                        // Cluster snapshots carry no OriginalSnapshotCreateTime.
                        original_snapshot_create_time: None,
                        source_snapshot_arn: s.source_db_cluster_snapshot_arn().map(str::to_string),
                        source_region: None,
                        tags: tags(s.tag_list()),
                        shared_with: None,
                        backup: None,
                    });
                }
            }
            Err(e) => {
                let error = aws_error(account_id, region, "DescribeDBClusterSnapshots", &e);
                return (snapshots, Some(error));
            }
        }
    }
    (snapshots, None)
}

/// Who each snapshot is shared with (its `restore` attribute): one paced call per snapshot, up to
/// [`ATTRIBUTE_CONCURRENCY`] at once. A snapshot whose attribute could not be read keeps
/// `shared_with: None`, and the error says which.
pub async fn read_shares(
    client: &aws_sdk_rds::Client,
    pacer: &Pacer,
    account_id: &str,
    region: &str,
    snapshots: Vec<Snapshot>,
    on_done: &(dyn Fn() + Sync),
) -> (Vec<Snapshot>, Vec<AwsError>) {
    let results: Vec<(Snapshot, Result<Vec<String>, AwsError>)> = stream::iter(snapshots)
        .map(|snapshot| async move {
            pacer.wait().await;
            let shared = read_restore_attribute(client, account_id, region, &snapshot).await;
            on_done();
            (snapshot, shared)
        })
        .buffer_unordered(ATTRIBUTE_CONCURRENCY)
        .collect()
        .await;
    let mut errors = Vec::new();
    let snapshots = results
        .into_iter()
        .map(|(mut snapshot, shared)| {
            match shared {
                Ok(accounts) => snapshot.shared_with = Some(accounts),
                Err(error) => errors.push(error),
            }
            snapshot
        })
        .collect();
    (snapshots, errors)
}

async fn read_restore_attribute(
    client: &aws_sdk_rds::Client,
    account_id: &str,
    region: &str,
    snapshot: &Snapshot,
) -> Result<Vec<String>, AwsError> {
    let values: Vec<String> = match snapshot.kind {
        SourceKind::DbInstance => {
            let response = client
                .describe_db_snapshot_attributes()
                .db_snapshot_identifier(&snapshot.identifier)
                .send()
                .await
                .map_err(|e| {
                    with_resource(
                        aws_error(account_id, region, "DescribeDBSnapshotAttributes", &e),
                        &snapshot.arn,
                    )
                })?;
            response
                .db_snapshot_attributes_result()
                .map(|r| {
                    r.db_snapshot_attributes()
                        .iter()
                        .filter(|a| a.attribute_name() == Some("restore"))
                        .flat_map(|a| a.attribute_values().iter().cloned())
                        .collect()
                })
                .unwrap_or_default()
        }
        SourceKind::DbCluster => {
            let response = client
                .describe_db_cluster_snapshot_attributes()
                .db_cluster_snapshot_identifier(&snapshot.identifier)
                .send()
                .await
                .map_err(|e| {
                    with_resource(
                        aws_error(
                            account_id,
                            region,
                            "DescribeDBClusterSnapshotAttributes",
                            &e,
                        ),
                        &snapshot.arn,
                    )
                })?;
            response
                .db_cluster_snapshot_attributes_result()
                .map(|r| {
                    r.db_cluster_snapshot_attributes()
                        .iter()
                        .filter(|a| a.attribute_name() == Some("restore"))
                        .flat_map(|a| a.attribute_values().iter().cloned())
                        .collect()
                })
                .unwrap_or_default()
        }
    };
    Ok(values)
}
