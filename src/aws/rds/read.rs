//! Reads of one (account, region): DB instances and clusters, manual snapshots, and who a snapshot is
//! shared with. Every page at the maximum size; every failure becomes an error entry and the rest goes
//! on. Discovery (`crate::discover::plan`) decides which of these each scope needs.

use std::collections::BTreeMap;

use aws_sdk_rds::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_rds::operation::describe_db_cluster_snapshots::DescribeDbClusterSnapshotsOutput;
use aws_sdk_rds::operation::describe_db_snapshots::DescribeDbSnapshotsOutput;
use aws_smithy_async::future::pagination_stream::PaginationStream;
use futures::stream::{self, StreamExt};

use super::records::{DatabaseFields, SnapshotFields};
use super::{tags, time, with_resource};
use crate::aws::error::aws_error;
use crate::aws::pace::Pacer;
use crate::inventory::{
    AccountQuotas, AwsError, Database, GreenSide, GroupOption, OptionGroup, OptionGroupListing,
    Quota, ReplicaInstance, Snapshot, Source, SourceKind, BLUE_GREEN_OPERATION,
    OPTION_GROUPS_OPERATION, QUOTAS_OPERATION, TAG_SOURCE_ARN,
};

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
    /// Set by discovery once the scope's Blue/Green deployments were read and its green sides marked.
    pub blue_green_read: bool,
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
    let mut pages_read = 0;
    let instances = client
        .describe_db_instances()
        .max_records(PAGE_SIZE)
        .into_paginator()
        .send();
    let read = each_page(instances, pacer, |page| {
        pages_read += 1;
        out.record(page.db_instances(), account_id, region);
    })
    .await;
    if let Err(e) = read {
        let error = aws_error(account_id, region, "DescribeDBInstances", &e);
        let opt_in = !crate::aws::DEFAULT_REGIONS.contains(&region);
        if opt_in && pages_read == 0 && REGION_NOT_ENABLED_CODES.contains(&error.code.as_str()) {
            out.region_not_enabled = true;
            return out;
        }
        out.errors.push(error);
    }

    let clusters = client
        .describe_db_clusters()
        .max_records(PAGE_SIZE)
        .into_paginator()
        .send();
    let read = each_page(clusters, pacer, |page| {
        out.record(page.db_clusters(), account_id, region)
    })
    .await;
    if let Err(e) = read {
        out.errors
            .push(aws_error(account_id, region, "DescribeDBClusters", &e));
    }
    out
}

impl ScopeRead {
    /// Records the databases of one page: sources, except Aurora members (the cluster is the source)
    /// and rdsguard's restores, which are replicas.
    fn record<'a, D>(&mut self, databases: &'a [D], account_id: &str, region: &str)
    where
        &'a D: Into<DatabaseFields<'a>>,
    {
        let databases = databases.iter().map(Into::<DatabaseFields>::into);
        for db in databases.filter(|db| !db.in_cluster) {
            let (identifier, arn) = (db.name.identifier(), db.name.arn_in(region, account_id));
            let tags = tags(db.tags);
            if tags.contains_key(TAG_SOURCE_ARN) {
                self.replica_instances.push(ReplicaInstance {
                    arn,
                    account_id: account_id.to_string(),
                    region: region.to_string(),
                    identifier,
                    status: db.status.map(str::to_string),
                    endpoint: db.host.map(str::to_string),
                    deletion_protection: db.deletion_protection.unwrap_or(false),
                    tags,
                });
                continue;
            }
            self.sources.push(Source {
                db: Database {
                    arn,
                    kind: db.name.kind,
                    account_id: account_id.to_string(),
                    region: region.to_string(),
                    identifier,
                    engine: db.engine.unwrap_or_default().to_string(),
                },
                status: db.status.map(str::to_string),
                encrypted: db.encrypted.unwrap_or(false),
                kms_key_id: db.kms_key_id.map(str::to_string),
                tags,
                created_at: time(db.created),
                read_replica_of: db.replica_of_arn(region, account_id),
                option_group: db.option_group.map(str::to_string),
                green_of: None,
            });
        }
    }
}

/// Hands every page to `each`, each page after `pacer`; stops at the first page that fails.
async fn each_page<P, E>(
    mut pages: PaginationStream<Result<P, SdkError<E>>>,
    pacer: &Pacer,
    mut each: impl FnMut(P),
) -> Result<(), SdkError<E>> {
    while let Some(page) = {
        pacer.wait().await;
        pages.next().await
    } {
        each(page?);
    }
    Ok(())
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
        SourceKind::DbInstance => {
            let pages = client
                .describe_db_snapshots()
                .snapshot_type("manual")
                .max_records(PAGE_SIZE)
                .into_paginator()
                .send();
            let items = DescribeDbSnapshotsOutput::db_snapshots;
            list_snapshots(kind, pages, items, pacer, account_id, region).await
        }
        SourceKind::DbCluster => {
            let pages = client
                .describe_db_cluster_snapshots()
                .snapshot_type("manual")
                .max_records(PAGE_SIZE)
                .into_paginator()
                .send();
            let items = DescribeDbClusterSnapshotsOutput::db_cluster_snapshots;
            list_snapshots(kind, pages, items, pacer, account_id, region).await
        }
    }
}

/// The DB snapshots AWS Backup manages in one account-region (`SnapshotType=awsbackup`): the RDS
/// view of its DB instance recovery points, with their tags (restore drill evidence). On a failed
/// page: what was read so far, and the error.
pub async fn read_backup_views(
    client: &aws_sdk_rds::Client,
    pacer: &Pacer,
    account_id: &str,
    region: &str,
) -> (Vec<Snapshot>, Option<AwsError>) {
    let pages = client
        .describe_db_snapshots()
        .snapshot_type("awsbackup")
        .max_records(PAGE_SIZE)
        .into_paginator()
        .send();
    let items = DescribeDbSnapshotsOutput::db_snapshots;
    list_snapshots(
        SourceKind::DbInstance,
        pages,
        items,
        pacer,
        account_id,
        region,
    )
    .await
}

/// The snapshots on every page (`items` of each), until a page fails.
async fn list_snapshots<S, P, E>(
    kind: SourceKind,
    pages: PaginationStream<Result<P, SdkError<E>>>,
    items: fn(&P) -> &[S],
    pacer: &Pacer,
    account_id: &str,
    region: &str,
) -> (Vec<Snapshot>, Option<AwsError>)
where
    for<'a> &'a S: Into<SnapshotFields<'a>>,
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let mut snapshots = Vec::new();
    let read = each_page(pages, pacer, |page| {
        let listed = items(&page).iter();
        snapshots.extend(listed.map(|s| s.into().snapshot(account_id, region)));
    })
    .await;
    let operation = kind.snapshot_list_operation();
    let error = read
        .err()
        .map(|e| aws_error(account_id, region, operation, &e));
    (snapshots, error)
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
    let (kind, identifier) = (snapshot.kind, &snapshot.identifier);
    super::attributes::restore(client, account_id, region, kind, identifier)
        .await
        .map_err(|error| with_resource(error, &snapshot.arn))
}

/// The manual snapshot quotas of one account-region (`DescribeAccountAttributes`, one call, no
/// parameters): `ManualSnapshots` and `ManualClusterSnapshots`, used and max.
pub async fn read_quotas(
    client: &aws_sdk_rds::Client,
    pacer: &Pacer,
    account_id: &str,
    region: &str,
) -> Result<AccountQuotas, AwsError> {
    pacer.wait().await;
    let response = client
        .describe_account_attributes()
        .send()
        .await
        .map_err(|e| aws_error(account_id, region, QUOTAS_OPERATION, &e))?;
    let quota = |name: &str| {
        let found = response
            .account_quotas()
            .iter()
            .find(|q| q.account_quota_name() == Some(name))?;
        Some(Quota {
            used: found.used()?,
            max: found.max()?,
        })
    };
    Ok(AccountQuotas {
        account_id: account_id.to_string(),
        region: region.to_string(),
        manual_snapshots: quota(SourceKind::DbInstance.quota_name()),
        manual_cluster_snapshots: quota(SourceKind::DbCluster.quota_name()),
    })
}

/// Every option group of one account-region, with each option's `Persistent` and `Permanent`:
/// `DescribeOptionGroups` without a name, 100 a page. One listing serves every group the scope's
/// databases use (AWS's default quota is 20 option groups per account and Region, so one page),
/// where a call per group name would cost one call each. A failed page fails the listing: a
/// group missing from a partial one could not be told from a group that does not exist.
pub async fn read_option_groups(
    client: &aws_sdk_rds::Client,
    pacer: &Pacer,
    account_id: &str,
    region: &str,
) -> Result<OptionGroupListing, AwsError> {
    let pages = client
        .describe_option_groups()
        .max_records(PAGE_SIZE)
        .into_paginator()
        .send();
    let mut groups = Vec::new();
    each_page(pages, pacer, |page| {
        groups.extend(page.option_groups_list().iter().map(|g| {
            OptionGroup {
                name: g.option_group_name().unwrap_or_default().to_string(),
                engine: g.engine_name().map(str::to_string),
                options: g
                    .options()
                    .iter()
                    .map(|o| GroupOption {
                        name: o.option_name().unwrap_or_default().to_string(),
                        persistent: o.persistent().unwrap_or(false),
                        permanent: o.permanent().unwrap_or(false),
                    })
                    .collect(),
            }
        }))
    })
    .await
    .map_err(|e| aws_error(account_id, region, OPTION_GROUPS_OPERATION, &e))?;
    Ok(OptionGroupListing {
        account_id: account_id.to_string(),
        region: region.to_string(),
        groups,
    })
}

/// The green databases of one account-region's Blue/Green deployments that have not switched over,
/// by ARN (`DescribeBlueGreenDeployments`, every page, 100 a page): each deployment's `Target` (green
/// of its `Source`), and the `TargetMember` of each `SwitchoverDetails` pair (green of its
/// `SourceMember`: an instance's green read replicas, an Aurora cluster's green instances). Once a
/// deployment's `Status` is `SWITCHOVER_COMPLETED` its green side is the production database: none of
/// its databases is a green side any more. A deployment lives in one account and region.
/// On a failed page: the error, and none (which database is green is then unknown).
pub async fn read_green_sides(
    client: &aws_sdk_rds::Client,
    pacer: &Pacer,
    account_id: &str,
    region: &str,
) -> Result<BTreeMap<String, GreenSide>, AwsError> {
    let pages = client
        .describe_blue_green_deployments()
        .max_records(PAGE_SIZE)
        .into_paginator()
        .send();
    let mut greens = BTreeMap::new();
    each_page(pages, pacer, |page| {
        for deployment in page.blue_green_deployments() {
            if deployment.status() == Some("SWITCHOVER_COMPLETED") {
                continue;
            }
            let id = deployment.blue_green_deployment_identifier();
            let deployment_id = id.unwrap_or_default().to_string();
            let pairs = deployment
                .switchover_details()
                .iter()
                .map(|d| (d.source_member(), d.target_member()));
            let main = std::iter::once((deployment.source(), deployment.target()));
            for (blue, green) in main.chain(pairs) {
                if let (Some(blue), Some(green)) = (blue, green) {
                    greens.entry(green.to_string()).or_insert(GreenSide {
                        deployment: deployment_id.clone(),
                        blue_arn: blue.to_string(),
                    });
                }
            }
        }
    })
    .await
    .map_err(|e| aws_error(account_id, region, BLUE_GREEN_OPERATION, &e))?;
    Ok(greens)
}
