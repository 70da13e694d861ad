//! Discovery's reads, one account and region each, through the [`ClientFactory`]: each takes the
//! scope's config (assuming the role), client and RDS pacer, and calls one service wrapper
//! (`rds::read`, `kms`, `secrets`). What to read is decided by `crate::discover`.

use tracing::debug;

use super::client::{backup_client, kms_client, rds_client, secrets_client, ClientFactory};
use super::{backup, kms, rds, secrets};
use crate::inventory::{
    AccountQuotas, AwsError, BackupVault, GreenSide, KeyFact, OptionGroupListing, Snapshot, Source,
    SourceKind,
};

/// An RDS client in one scope, and the scope's pacer (RDS's request rate there).
async fn rds_reader(
    factory: &ClientFactory,
    account: &str,
    region: &str,
) -> Result<(aws_sdk_rds::Client, std::sync::Arc<super::pace::Pacer>), AwsError> {
    let config = factory.config(account, region).await?;
    Ok((
        rds_client(&config, account, region),
        factory.pacer(account, region),
    ))
}

/// The databases of one scope (and the instances restored there), or why the scope could not be
/// entered.
pub async fn databases(
    factory: &ClientFactory,
    account: &str,
    region: &str,
) -> Result<rds::read::ScopeRead, AwsError> {
    let (client, pacer) = rds_reader(factory, account, region).await?;
    debug!(%account, %region, "reading RDS");
    Ok(rds::read::read_databases(&client, &pacer, account, region).await)
}

/// The green sides of the scope's Blue/Green deployments that have not switched over, by ARN.
pub async fn green_sides(
    factory: &ClientFactory,
    account: &str,
    region: &str,
) -> Result<std::collections::BTreeMap<String, GreenSide>, AwsError> {
    let (client, pacer) = rds_reader(factory, account, region).await?;
    rds::read::read_green_sides(&client, &pacer, account, region).await
}

/// One database, read from its account and region (for commands that act on a single source).
pub async fn read_source(
    factory: &ClientFactory,
    account_id: &str,
    region: &str,
    arn: &str,
) -> Result<Option<Source>, AwsError> {
    let mut read = databases(factory, account_id, region).await?;
    if let Some(error) = read.errors.pop() {
        return Err(error);
    }
    Ok(read.sources.into_iter().find(|s| s.db.arn == arn))
}

/// The manual snapshots of `kinds` in one scope (the kinds listed at once), and the errors.
pub async fn snapshots(
    factory: &ClientFactory,
    account: &str,
    region: &str,
    kinds: &[SourceKind],
) -> (Vec<Snapshot>, Vec<AwsError>) {
    let (client, pacer) = match rds_reader(factory, account, region).await {
        Ok(reader) => reader,
        Err(error) => return (Vec::new(), vec![error]),
    };
    let reads = kinds
        .iter()
        .map(|kind| rds::read::read_snapshots(&client, &pacer, account, region, *kind));
    let mut snapshots = Vec::new();
    let mut errors = Vec::new();
    for (mut read, error) in futures::future::join_all(reads).await {
        snapshots.append(&mut read);
        errors.extend(error);
    }
    (snapshots, errors)
}

/// The RDS view of the DB instance recovery points of one scope (see
/// [`rds::read::read_backup_views`]).
pub async fn backup_views(
    factory: &ClientFactory,
    account: &str,
    region: &str,
) -> (Vec<Snapshot>, Vec<AwsError>) {
    let (client, pacer) = match rds_reader(factory, account, region).await {
        Ok(reader) => reader,
        Err(error) => return (Vec::new(), vec![error]),
    };
    let (views, error) = rds::read::read_backup_views(&client, &pacer, account, region).await;
    (views, error.into_iter().collect())
}

/// The manual snapshot quotas of one scope.
pub async fn quotas(
    factory: &ClientFactory,
    account: &str,
    region: &str,
) -> Result<AccountQuotas, AwsError> {
    let (client, pacer) = rds_reader(factory, account, region).await?;
    rds::read::read_quotas(&client, &pacer, account, region).await
}

/// The option groups of one scope.
pub async fn option_groups(
    factory: &ClientFactory,
    account: &str,
    region: &str,
) -> Result<OptionGroupListing, AwsError> {
    let (client, pacer) = rds_reader(factory, account, region).await?;
    rds::read::read_option_groups(&client, &pacer, account, region).await
}

/// Who each of `snapshots` (all in one scope) is shared with.
pub async fn shares(
    factory: &ClientFactory,
    account: &str,
    region: &str,
    snapshots: Vec<Snapshot>,
    on_done: &(dyn Fn() + Sync),
) -> (Vec<Snapshot>, Vec<AwsError>) {
    if snapshots.is_empty() {
        return (snapshots, Vec::new());
    }
    match rds_reader(factory, account, region).await {
        Ok((client, pacer)) => {
            rds::read::read_shares(&client, &pacer, account, region, snapshots, on_done).await
        }
        Err(error) => (snapshots, vec![error]),
    }
}

/// [`kms::describe`] of `reference` in one scope.
pub async fn key(
    factory: &ClientFactory,
    account: &str,
    region: &str,
    reference: &str,
    want_policy: bool,
    has_policy: impl Fn(&str) -> bool,
) -> Result<(Option<KeyFact>, Option<AwsError>), AwsError> {
    let config = factory.config(account, region).await?;
    let client = kms_client(&config, account, region);
    kms::describe(&client, account, region, reference, want_policy, has_policy).await
}

/// Where the secret `name` of one scope points; `None` when it does not exist.
pub async fn secret_endpoint(
    factory: &ClientFactory,
    account: &str,
    region: &str,
    name: &str,
) -> Result<Option<secrets::Endpoint>, AwsError> {
    let config = factory.config(account, region).await?;
    let client = secrets_client(&config);
    secrets::read_endpoint(&client, account, region, name).await
}

/// The backup vaults of one scope (its own and those shared into it) and, of those whose name
/// `wanted` accepts, the RDS and Aurora recovery points.
pub async fn backups(
    factory: &ClientFactory,
    account: &str,
    region: &str,
    wanted: &(dyn Fn(&str) -> bool + Sync),
) -> (Vec<BackupVault>, Vec<Snapshot>, Vec<AwsError>) {
    let config = match factory.config(account, region).await {
        Ok(config) => config,
        Err(error) => return (Vec::new(), Vec::new(), vec![error]),
    };
    let client = backup_client(&config, account, region);
    debug!(%account, %region, "reading AWS Backup");
    let (vaults, mut errors) = backup::list_vaults(&client, account, region).await;
    let listings = vaults
        .iter()
        .filter(|v| wanted(&v.name))
        .map(|v| backup::list_recovery_points(&client, account, region, v));
    let mut points = Vec::new();
    for (mut listed, listing_errors) in futures::future::join_all(listings).await {
        points.append(&mut listed);
        errors.extend(listing_errors);
    }
    (vaults, points, errors)
}

/// The access policy of `vault` (owned by `account`), read there.
pub async fn vault_policy(
    factory: &ClientFactory,
    account: &str,
    region: &str,
    vault: &BackupVault,
) -> Result<Option<String>, AwsError> {
    let config = factory.config(account, region).await?;
    let client = backup_client(&config, account, region);
    backup::access_policy(&client, account, region, vault).await
}
