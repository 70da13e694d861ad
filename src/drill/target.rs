//! What a drill makes and unmakes in the destination account: the restore (a DB instance, or an
//! Aurora cluster and then its one instance; through RDS from a manual snapshot, or with an AWS
//! Backup restore job from a recovery point), the wait until it serves connections, and its deletion
//! (the instance, then the cluster; only what carries rdsguard's drill tags).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tracing::warn;

use super::run::Ctx;
use super::Options;
use crate::aws::backup::resource_type;
use crate::aws::backup::restore::{self, RestoreRequest};
use crate::aws::rds::write::drill as aws_drill;
use crate::aws::rds::write::instances::{self, Instance, RestoreSpec};
use crate::aws::rds::Scope;
use crate::inventory::AwsError;
use crate::tags::{is_drill_instance, ROLE_DRILL, TAG_DRILL, TAG_MANAGED, TAG_ROLE};

/// How many times a failed delete is tried before it is reported.
const DELETE_ATTEMPTS: u32 = 3;

/// Statuses from which a drill database will not become available.
const FAILED: &[&str] = &[
    "failed",
    "incompatible-restore",
    "incompatible-parameters",
    "incompatible-network",
    "storage-full",
    "inaccessible-encryption-credentials",
    "deleting",
];

/// The restore AWS accepted: AWS's time of its answer, and the AWS Backup restore job, if any.
pub(super) struct Started {
    pub at: Option<DateTime<Utc>>,
    pub job: Option<String>,
}

/// The restore of the item's replica into its drill database (the rule's `drill` table).
fn spec<'a>(ctx: &Ctx<'a>) -> RestoreSpec<'a> {
    let item = ctx.item;
    RestoreSpec {
        snapshot: &item.replica_arn,
        identifier: &item.instance,
        engine: item.engine.as_deref().unwrap_or_default(),
        instance_class: &item.instance_class,
        subnet_group: item.subnet_group.as_deref(),
        security_groups: &item.security_groups,
        parameter_group: None,
    }
}

/// Starts the restore of the item's replica into its drill database, with `tags`.
pub(super) async fn start(
    ctx: &Ctx<'_>,
    tags: &BTreeMap<String, String>,
) -> Result<Started, AwsError> {
    let item = ctx.item;
    let Some(backup) = &item.backup else {
        let at = if item.is_cluster() {
            aws_drill::restore_cluster(&ctx.scope, &spec(ctx), tags).await?
        } else {
            aws_drill::restore(&ctx.scope, &spec(ctx), tags).await?
        };
        return Ok(Started { at, job: None });
    };
    let jobs = ctx.jobs();
    let backed_up = restore::metadata(&jobs, &backup.vault_name, &item.replica_arn).await?;
    let request = RestoreRequest {
        point: &item.replica_arn,
        resource_type: resource_type(item.kind),
        metadata: metadata(item, backed_up),
        role_arn: &backup.role_arn,
        token: &backup.token,
    };
    let (job, at) = restore::start(&jobs, request).await?;
    Ok(Started { at, job: Some(job) })
}

/// Restore metadata keys of the backed-up database that name things of its own account (network,
/// parameter and option groups): the drill uses the rule's, or the destination's defaults.
const ACCOUNT_BOUND: &[&str] = &[
    "AvailabilityZone",
    "AvailabilityZones",
    "DBSubnetGroupName",
    "VpcSecurityGroupIds",
    "DBParameterGroupName",
    "DBClusterParameterGroupName",
    "OptionGroupName",
    "Domain",
    "DomainIAMRoleName",
];

/// The `StartRestoreJob` metadata of a drill: what the database was backed up with
/// (`GetRecoveryPointRestoreMetadata`), without what names the source account's resources, with the
/// drill's name, class, subnet group and security groups, never publicly accessible (AWS Backup
/// accepts the parameters of `RestoreDBInstanceFromDBSnapshot` or `RestoreDBClusterFromSnapshot`;
/// keys are not case sensitive; lists are JSON arrays in a string).
pub(super) fn metadata(
    item: &super::Item,
    backed_up: HashMap<String, String>,
) -> HashMap<String, String> {
    let mut out: HashMap<String, String> = backed_up
        .into_iter()
        .filter(|(k, _)| !ACCOUNT_BOUND.iter().any(|b| b.eq_ignore_ascii_case(k)))
        .collect();
    let mut set = |key: &str, value: String| {
        out.retain(|k, _| !k.eq_ignore_ascii_case(key));
        out.insert(key.to_string(), value);
    };
    if item.is_cluster() {
        set("DBClusterIdentifier", item.instance.clone());
        if let Some(engine) = &item.engine {
            set("Engine", engine.clone());
        }
    } else {
        set("DBInstanceIdentifier", item.instance.clone());
        set("DBInstanceClass", item.instance_class.clone());
        set("PubliclyAccessible", "false".into());
        set("MultiAZ", "false".into());
        set("DeletionProtection", "false".into());
    }
    if let Some(group) = &item.subnet_group {
        set("DBSubnetGroupName", group.clone());
    }
    if !item.security_groups.is_empty() {
        let groups = serde_json::Value::from(item.security_groups.clone());
        set("VpcSecurityGroupIds", groups.to_string());
    }
    out
}

/// How the drill database looks after one round of looking.
enum Look {
    Ready(Instance),
    Pending(String),
    Failed(String),
}

fn status_of(instance: &Instance) -> Look {
    match instance.status.as_str() {
        "available" => Look::Ready(instance.clone()),
        s if FAILED.contains(&s) => Look::Failed(s.to_string()),
        s => Look::Pending(s.to_string()),
    }
}

/// Tags a database an AWS Backup restore job made (it copies none of rdsguard's tags) as this
/// drill's, so that only drill tags decide what a drill deletes.
async fn adopt(
    ctx: &Ctx<'_>,
    found: &Instance,
    tags: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    if ctx.item.backup.is_some() && !is_drill_instance(&found.tags) {
        aws_drill::add_tags(&ctx.scope, &found.arn, tags).await?;
    }
    Ok(())
}

/// One look at the drill database (the cluster's instance is made once the cluster is available);
/// the `Date` of the last answer in `last_seen`.
async fn look(
    ctx: &Ctx<'_>,
    tags: &BTreeMap<String, String>,
    last_seen: &mut Option<DateTime<Utc>>,
) -> Result<Look, AwsError> {
    let item = ctx.item;
    let Some(member) = item.member() else {
        let (found, at) = aws_drill::look(&ctx.scope, &item.instance).await?;
        *last_seen = at.or(*last_seen);
        let Some(found) = found else {
            return Ok(Look::Pending("not found".into()));
        };
        adopt(ctx, &found, tags).await?;
        return Ok(status_of(&found));
    };
    let (found, at) = aws_drill::look_cluster(&ctx.scope, &item.instance).await?;
    *last_seen = at.or(*last_seen);
    let Some((cluster, members)) = found else {
        return Ok(Look::Pending("not found".into()));
    };
    adopt(ctx, &cluster, tags).await?;
    let ready = match status_of(&cluster) {
        Look::Ready(cluster) => cluster,
        other => return Ok(other),
    };
    if !members.contains(&member) {
        aws_drill::add_member(&ctx.scope, &spec(ctx), &member, tags).await?;
        return Ok(Look::Pending("its instance is being created".into()));
    }
    let (found, at) = aws_drill::look(&ctx.scope, &member).await?;
    *last_seen = at.or(*last_seen);
    Ok(match found.as_ref().map(status_of) {
        None => Look::Pending("its instance is not found".into()),
        Some(Look::Ready(_)) => Look::Ready(ready),
        Some(Look::Pending(s)) => Look::Pending(format!("its instance is {s}")),
        Some(Look::Failed(s)) => Look::Failed(format!("its instance went to status {s}")),
    })
}

/// Looks at the drill database at once, then after 2 s, the pause doubling up to `options.poll`,
/// until it is available (the cluster's writer endpoint, for Aurora), at most `step_timeout`; a
/// failed restore job or status ends the wait. `last_seen`: the `Date` of each answer.
pub(super) async fn wait_available(
    ctx: &Ctx<'_>,
    options: &Options,
    job: Option<&str>,
    tags: &BTreeMap<String, String>,
    last_seen: &mut Option<DateTime<Utc>>,
) -> Result<Instance, AwsError> {
    let bound = tokio::time::Instant::now() + options.step_timeout;
    let mut pause = Duration::from_secs(2).min(options.poll);
    loop {
        if let Some(job) = job {
            let state = restore::describe(&ctx.jobs(), job).await?;
            if state.failed() {
                let message = format!(
                    "the restore job {job} ended {}: {}",
                    state.status, state.message
                );
                return Err(ctx.wait_error("WaiterFailure", message));
            }
        }
        let status = match look(ctx, tags, last_seen).await? {
            Look::Ready(instance) => return Ok(instance),
            Look::Failed(status) => {
                let message = format!("the drill database went to status {status}");
                return Err(ctx.wait_error("WaiterFailure", message));
            }
            Look::Pending(status) => status,
        };
        if tokio::time::Instant::now() + pause > bound {
            let message = format!(
                "the drill database was not available within --step-timeout ({}s; last status: {status})",
                options.step_timeout.as_secs()
            );
            return Err(ctx.wait_error("WaiterTimeout", message));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(options.poll);
    }
}

fn not_a_drill(scope: &Scope<'_>, operation: &str, identifier: &str) -> AwsError {
    AwsError {
        account_id: scope.account_id.to_string(),
        region: scope.region.to_string(),
        operation: operation.into(),
        code: "NotADrillInstance".into(),
        message: format!(
            "{identifier} does not carry rdsguard's drill tags ({TAG_DRILL}, {TAG_MANAGED}=true, {TAG_ROLE}={ROLE_DRILL}): left alone"
        ),
        resource: Some(identifier.to_string()),
    }
}

/// Runs `attempt` until it succeeds, [`DELETE_ATTEMPTS`] times at most (never again after
/// `NotADrillInstance`).
async fn with_retries<T, F, Fut>(what: &str, mut attempt: F) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, AwsError>>,
{
    let mut tried = 0;
    loop {
        tried += 1;
        match attempt().await {
            Ok(done) => return Ok(done),
            Err(error) if error.code == "NotADrillInstance" || tried >= DELETE_ATTEMPTS => {
                return Err(error)
            }
            Err(error) => {
                warn!(resource = what, code = %error.code, attempt = tried, "delete failed, trying again: {}", error.message);
                tokio::time::sleep(Duration::from_secs(2 * u64::from(tried))).await;
            }
        }
    }
}

/// Deletes the drill DB instance `identifier` (no final snapshot) if it exists and carries the drill
/// tags (tagged first when `adopt`: an AWS Backup restore made it), then waits until it is gone.
async fn delete_instance(
    ctx: &Ctx<'_>,
    identifier: &str,
    adopt_tags: Option<&BTreeMap<String, String>>,
    options: &Options,
) -> Result<bool, AwsError> {
    let scope = &ctx.scope;
    let existed = with_retries(identifier, || async {
        let Some(found) = instances::find(scope, identifier).await? else {
            return Ok(false);
        };
        if let Some(tags) = adopt_tags {
            adopt(ctx, &found, tags).await?;
        } else if !is_drill_instance(&found.tags) {
            return Err(not_a_drill(scope, "DeleteDBInstance", identifier));
        }
        if found.status != "deleting" {
            instances::delete(scope, identifier).await?;
        }
        Ok(true)
    })
    .await?;
    if existed {
        instances::wait_deleted(scope, identifier, options.step_timeout).await?;
    }
    Ok(existed)
}

/// Deletes what the drill made: its instance, or its cluster's instances and then the cluster (no
/// final snapshot), each only if it carries the drill tags (`adopt_tags`: tagged first, for what an
/// AWS Backup restore made under the drill's own name); waits until they are gone. Returns what it
/// did, for the journal.
pub(super) async fn delete(
    ctx: &Ctx<'_>,
    options: &Options,
    adopt_tags: Option<&BTreeMap<String, String>>,
) -> Result<String, AwsError> {
    let identifier = &ctx.item.instance;
    if !ctx.item.is_cluster() {
        let existed = delete_instance(ctx, identifier, adopt_tags, options).await?;
        return Ok(gone(identifier, existed));
    }
    let scope = &ctx.scope;
    let Some((cluster, members)) = aws_drill::look_cluster(scope, identifier).await?.0 else {
        // A cluster's instance cannot outlive it; the planned one is looked for all the same.
        let member = ctx.item.member().unwrap_or_default();
        delete_instance(ctx, &member, adopt_tags, options).await?;
        return Ok(gone(identifier, false));
    };
    match adopt_tags {
        Some(tags) => adopt(ctx, &cluster, tags).await?,
        None if !is_drill_instance(&cluster.tags) => {
            return Err(not_a_drill(scope, "DeleteDBCluster", identifier))
        }
        None => {}
    }
    for member in &members {
        delete_instance(ctx, member, adopt_tags, options).await?;
    }
    with_retries(identifier, || {
        instances::delete_cluster_alone(scope, identifier)
    })
    .await?;
    instances::wait_cluster_deleted(scope, identifier, options.step_timeout).await?;
    Ok(format!(
        "{identifier} and its instance(s) {} deleted",
        members.join(", ")
    ))
}

fn gone(identifier: &str, existed: bool) -> String {
    match existed {
        true => format!("{identifier} deleted"),
        false => format!("{identifier} is gone"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drill::plan::BackupRestore;
    use crate::drill::Item;
    use crate::inventory::SourceKind;

    fn item(kind: SourceKind) -> Item {
        Item {
            source_arn: "arn:aws:rds:us-east-1:111111111111:db:orders".into(),
            identifier: "orders".into(),
            rule: "prod".into(),
            dest_account: "222222222222".into(),
            dest_region: "us-east-1".into(),
            replica_arn: "arn:aws:rds:us-east-1:222222222222:snapshot:awsbackup:copyjob-1".into(),
            kind,
            engine: (kind == SourceKind::DbCluster).then(|| "aurora-postgresql".into()),
            backup: Some(BackupRestore {
                vault_name: "central".into(),
                role_arn: "arn:aws:iam::222222222222:role/service-role/AWSBackupDefaultServiceRole"
                    .into(),
                token: "rdsguard-drill-orders".into(),
            }),
            instance: "rdsguard-drill-orders".into(),
            instance_class: "db.t3.micro".into(),
            subnet_group: Some("vault-db".into()),
            security_groups: vec!["sg-1".into(), "sg-2".into()],
            probe: None,
            probe_timeout_seconds: 600,
            secret_name: None,
            rto_seconds: 7200,
            why: String::new(),
        }
    }

    fn backed_up(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The source's network and groups are dropped (they name the source account's), the drill's
    /// name, class and network set, never public, whatever case AWS Backup spelt the keys in.
    #[test]
    fn the_restore_metadata_is_the_drills_never_public_never_the_sources_network() {
        let source = backed_up(&[
            ("DBInstanceIdentifier", "orders"),
            ("dbinstanceclass", "db.r6g.4xlarge"),
            ("PubliclyAccessible", "true"),
            ("MultiAZ", "true"),
            ("Engine", "postgres"),
            ("Port", "5432"),
            ("AvailabilityZone", "us-east-1a"),
            ("vpcSecurityGroupIds", "[\"sg-source\"]"),
            ("DBParameterGroupName", "orders-params"),
        ]);
        let meta = metadata(&item(SourceKind::DbInstance), source);
        let want = backed_up(&[
            ("DBInstanceIdentifier", "rdsguard-drill-orders"),
            ("DBInstanceClass", "db.t3.micro"),
            ("PubliclyAccessible", "false"),
            ("MultiAZ", "false"),
            ("DeletionProtection", "false"),
            ("Engine", "postgres"),
            ("Port", "5432"),
            ("DBSubnetGroupName", "vault-db"),
            ("VpcSecurityGroupIds", "[\"sg-1\",\"sg-2\"]"),
        ]);
        assert_eq!(meta, want);
    }

    /// Aurora: the cluster only (AWS Backup makes no instance), under the drill's name and engine.
    #[test]
    fn an_aurora_restore_names_the_drill_cluster() {
        let mut aurora = item(SourceKind::DbCluster);
        aurora.subnet_group = None;
        aurora.security_groups.clear();
        let source = backed_up(&[
            ("DBClusterIdentifier", "ledger"),
            ("Engine", "aurora-mysql"),
            ("DBSubnetGroupName", "source-net"),
            ("EngineVersion", "15.4"),
        ]);
        let meta = metadata(&aurora, source);
        let want = backed_up(&[
            ("DBClusterIdentifier", "rdsguard-drill-orders"),
            ("Engine", "aurora-postgresql"),
            ("EngineVersion", "15.4"),
        ]);
        assert_eq!(meta, want);
    }
}
