//! The DB instance calls remediation makes in the destination: restore a replica, wait for it, tag the
//! one it supersedes, delete old restores.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_rds::client::Waiters;

use aws_sdk_rds::operation::delete_db_cluster::DeleteDBClusterError;
use aws_sdk_rds::operation::delete_db_instance::DeleteDBInstanceError;
use aws_sdk_rds::operation::describe_db_clusters::{
    DescribeDBClustersError, DescribeDbClustersOutput,
};
use aws_sdk_rds::operation::describe_db_instances::DescribeDBInstancesError;

use super::super::records::DatabaseFields;
use super::super::{tag_list, tags, Scope};
use crate::inventory::AwsError;

#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    pub arn: String,
    pub identifier: String,
    pub status: String,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub deletion_protection: bool,
    pub tags: BTreeMap<String, String>,
}

/// A restore of a snapshot into a new database, and what that database is made like (the rule's
/// `restore` or `drill` table): remediation's restores and a drill's share it.
pub struct RestoreSpec<'a> {
    /// The snapshot: an identifier or ARN in the restoring scope.
    pub snapshot: &'a str,
    /// The new DB instance, or the new Aurora cluster.
    pub identifier: &'a str,
    /// The source's engine (a cluster restore and its instance name it).
    pub engine: &'a str,
    pub instance_class: &'a str,
    pub subnet_group: Option<&'a str>,
    pub security_groups: &'a [String],
    pub parameter_group: Option<&'a str>,
}

impl Instance {
    fn of<'a>(db: impl Into<DatabaseFields<'a>>) -> Instance {
        let db = db.into();
        Instance {
            arn: db.name.arn.unwrap_or_default().to_string(),
            identifier: db.name.identifier(),
            status: db.status.unwrap_or_default().to_string(),
            host: db.host.map(str::to_string),
            port: db.port.and_then(|p| u16::try_from(p).ok()),
            deletion_protection: db.deletion_protection.unwrap_or(false),
            tags: tags(db.tags),
        }
    }
}

pub async fn find(scope: &Scope<'_>, identifier: &str) -> Result<Option<Instance>, AwsError> {
    let request = scope.client.describe_db_instances();
    let answer = request.db_instance_identifier(identifier).send();
    found_instance(scope, identifier, answer).await
}

/// [`find`], with an interceptor on the call (a drill reads the `Date` of AWS's answer).
pub async fn find_with(
    scope: &Scope<'_>,
    identifier: &str,
    interceptor: impl aws_sdk_rds::config::Intercept + 'static,
) -> Result<Option<Instance>, AwsError> {
    let request = scope.client.describe_db_instances();
    let request = request.db_instance_identifier(identifier).customize();
    let answer = request.interceptor(interceptor).send();
    found_instance(scope, identifier, answer).await
}

async fn found_instance<R: std::fmt::Debug>(
    scope: &Scope<'_>,
    identifier: &str,
    answer: impl std::future::Future<
        Output = Result<
            aws_sdk_rds::operation::describe_db_instances::DescribeDbInstancesOutput,
            aws_sdk_rds::error::SdkError<DescribeDBInstancesError, R>,
        >,
    >,
) -> Result<Option<Instance>, AwsError> {
    let is_absent = DescribeDBInstancesError::is_db_instance_not_found_fault;
    let found = scope
        .unless_absent("DescribeDBInstances", identifier, answer, is_absent)
        .await?;
    Ok(found.and_then(|out| out.db_instances().first().map(Instance::of)))
}

/// `RestoreDBInstanceFromDBSnapshot` of the spec's snapshot into its identifier, in its class,
/// subnet group, security groups and parameter group, without deletion protection and never publicly
/// accessible (without the parameter, AWS makes it public where the VPC has an internet gateway):
/// what every restore of a DB snapshot shares (remediation's, a drill's).
pub fn restore_request(
    scope: &Scope<'_>,
    spec: &RestoreSpec<'_>,
) -> aws_sdk_rds::operation::restore_db_instance_from_db_snapshot::builders::RestoreDBInstanceFromDBSnapshotFluentBuilder{
    let groups = spec.security_groups;
    scope
        .client
        .restore_db_instance_from_db_snapshot()
        .db_snapshot_identifier(spec.snapshot)
        .db_instance_identifier(spec.identifier)
        .db_instance_class(spec.instance_class)
        .set_db_subnet_group_name(spec.subnet_group.map(str::to_string))
        .set_vpc_security_group_ids((!groups.is_empty()).then(|| groups.to_vec()))
        .set_db_parameter_group_name(spec.parameter_group.map(str::to_string))
        .deletion_protection(false)
        .publicly_accessible(false)
}

pub async fn restore(
    scope: &Scope<'_>,
    spec: &RestoreSpec<'_>,
    tags: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    let request = restore_request(scope, spec).set_tags(Some(tag_list(tags)));
    scope
        .done(
            "RestoreDBInstanceFromDBSnapshot",
            spec.identifier,
            request.send(),
        )
        .await
}

pub async fn wait_available(
    scope: &Scope<'_>,
    identifier: &str,
    max_wait: Duration,
) -> Result<(), AwsError> {
    let waiter = scope.client.wait_until_db_instance_available();
    let waited = waiter.db_instance_identifier(identifier).wait(max_wait);
    scope
        .waited("WaitDBInstanceAvailable", identifier, waited)
        .await
}

/// Adds `tags` to the RDS resource `arn` (a database or a snapshot).
pub async fn add_tags(
    scope: &Scope<'_>,
    arn: &str,
    tags: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    let request = scope.client.add_tags_to_resource().resource_name(arn);
    let answer = request.set_tags(Some(tag_list(tags))).send();
    scope.done("AddTagsToResource", arn, answer).await
}

pub async fn add_tag(scope: &Scope<'_>, arn: &str, key: &str, value: &str) -> Result<(), AwsError> {
    let tags = BTreeMap::from([(key.to_string(), value.to_string())]);
    add_tags(scope, arn, &tags).await
}

/// Deletes a restored copy (no final snapshot: its data is the replica snapshot it came from).
pub async fn delete(scope: &Scope<'_>, identifier: &str) -> Result<(), AwsError> {
    let request = scope.client.delete_db_instance();
    let request = request.db_instance_identifier(identifier);
    let answer = request.skip_final_snapshot(true).send();
    let is_absent = DeleteDBInstanceError::is_db_instance_not_found_fault;
    scope
        .unless_absent("DeleteDBInstance", identifier, answer, is_absent)
        .await?;
    Ok(())
}

/// A restored Aurora cluster, seen as an `Instance` (its writer endpoint is the host).
pub async fn find_cluster(
    scope: &Scope<'_>,
    identifier: &str,
) -> Result<Option<Instance>, AwsError> {
    let found = describe_cluster(scope, identifier, None::<crate::aws::ServerTime>).await?;
    Ok(found.and_then(|out| out.db_clusters().first().map(Instance::of)))
}

/// [`find_cluster`], with the identifiers of the cluster's instances, and an interceptor on the call
/// (a drill reads the `Date` of AWS's answer).
pub async fn find_cluster_with(
    scope: &Scope<'_>,
    identifier: &str,
    interceptor: impl aws_sdk_rds::config::Intercept + 'static,
) -> Result<Option<(Instance, Vec<String>)>, AwsError> {
    let found = describe_cluster(scope, identifier, Some(interceptor)).await?;
    let cluster = found.as_ref().and_then(|out| out.db_clusters().first());
    Ok(cluster.map(|c| {
        let members = c.db_cluster_members().iter();
        let members = members.filter_map(|m| m.db_instance_identifier());
        (Instance::of(c), members.map(str::to_string).collect())
    }))
}

/// `DescribeDBClusters` of one cluster; `None` when there is no such cluster.
async fn describe_cluster(
    scope: &Scope<'_>,
    identifier: &str,
    interceptor: Option<impl aws_sdk_rds::config::Intercept + 'static>,
) -> Result<Option<DescribeDbClustersOutput>, AwsError> {
    let request = scope.client.describe_db_clusters();
    let request = request.db_cluster_identifier(identifier).customize();
    let answer = match interceptor {
        Some(interceptor) => request.interceptor(interceptor),
        None => request,
    }
    .send();
    let is_absent = DescribeDBClustersError::is_db_cluster_not_found_fault;
    scope
        .unless_absent("DescribeDBClusters", identifier, answer, is_absent)
        .await
}

/// The writer instance rdsguard adds to a restored cluster.
pub fn cluster_member(cluster: &str) -> String {
    format!("{cluster}-1")
}

/// Restores an Aurora cluster from a cluster snapshot, waits until it is available, then adds one
/// instance (a cluster without one cannot serve a connection) and waits for it, at most `max_wait`
/// each; each call only when an earlier run did not make it. AWS takes the instance only once the
/// restored cluster is available (`RestoreDBClusterFromSnapshot`, RDS API reference).
pub async fn restore_cluster(
    scope: &Scope<'_>,
    spec: &RestoreSpec<'_>,
    tags: &BTreeMap<String, String>,
    max_wait: Duration,
) -> Result<(), AwsError> {
    if find_cluster(scope, spec.identifier).await?.is_none() {
        let request = cluster_restore_request(scope, spec).set_tags(Some(tag_list(tags)));
        let answer = request.send();
        scope
            .done("RestoreDBClusterFromSnapshot", spec.identifier, answer)
            .await?;
    }
    let waiter = scope.client.wait_until_db_cluster_available();
    let waited = waiter.db_cluster_identifier(spec.identifier).wait(max_wait);
    scope
        .waited("WaitDBClusterAvailable", spec.identifier, waited)
        .await?;
    let member = cluster_member(spec.identifier);
    if find(scope, &member).await?.is_none() {
        let request = member_request(scope, spec, &member).set_tags(Some(tag_list(tags)));
        scope
            .done("CreateDBInstance", &member, request.send())
            .await?;
    }
    wait_available(scope, &member, max_wait).await
}

/// `RestoreDBClusterFromSnapshot` of the spec's snapshot into the cluster it names, in its subnet
/// group and security groups, without deletion protection: what every restore of a cluster snapshot
/// shares (remediation's, a drill's).
pub fn cluster_restore_request(
    scope: &Scope<'_>,
    spec: &RestoreSpec<'_>,
) -> aws_sdk_rds::operation::restore_db_cluster_from_snapshot::builders::RestoreDBClusterFromSnapshotFluentBuilder{
    let groups = spec.security_groups;
    scope
        .client
        .restore_db_cluster_from_snapshot()
        .snapshot_identifier(spec.snapshot)
        .db_cluster_identifier(spec.identifier)
        .engine(spec.engine)
        .set_db_subnet_group_name(spec.subnet_group.map(str::to_string))
        .set_vpc_security_group_ids((!groups.is_empty()).then(|| groups.to_vec()))
        .deletion_protection(false)
}

/// `CreateDBInstance` of the instance `member` in the spec's restored cluster, in its class and
/// parameter group (a restored cluster serves no connection without one), never publicly accessible
/// (without the parameter, AWS makes it public where the VPC has an internet gateway).
pub fn member_request(
    scope: &Scope<'_>,
    spec: &RestoreSpec<'_>,
    member: &str,
) -> aws_sdk_rds::operation::create_db_instance::builders::CreateDBInstanceFluentBuilder {
    scope
        .client
        .create_db_instance()
        .db_instance_identifier(member)
        .db_cluster_identifier(spec.identifier)
        .engine(spec.engine)
        .db_instance_class(spec.instance_class)
        .set_db_parameter_group_name(spec.parameter_group.map(str::to_string))
        .publicly_accessible(false)
}

/// Deletes a restored cluster: its instances first, then the cluster (no final snapshot).
pub async fn delete_cluster(scope: &Scope<'_>, identifier: &str) -> Result<(), AwsError> {
    let Some(out) = describe_cluster(scope, identifier, None::<crate::aws::ServerTime>).await?
    else {
        return Ok(());
    };
    let members = out
        .db_clusters()
        .iter()
        .flat_map(|c| c.db_cluster_members());
    for member in members.filter_map(|m| m.db_instance_identifier()) {
        delete(scope, member).await?;
    }
    delete_cluster_alone(scope, identifier).await
}

/// `DeleteDBCluster` with no final snapshot, once its instances are deleted or deleting (AWS
/// refuses a cluster with others).
pub async fn delete_cluster_alone(scope: &Scope<'_>, identifier: &str) -> Result<(), AwsError> {
    let request = scope.client.delete_db_cluster();
    let request = request.db_cluster_identifier(identifier);
    let answer = request.skip_final_snapshot(true).send();
    let is_absent = DeleteDBClusterError::is_db_cluster_not_found_fault;
    scope
        .unless_absent("DeleteDBCluster", identifier, answer, is_absent)
        .await?;
    Ok(())
}

/// A restored copy by name: an Aurora cluster when `cluster`, else a DB instance.
pub async fn find_restored(
    scope: &Scope<'_>,
    identifier: &str,
    cluster: bool,
) -> Result<Option<Instance>, AwsError> {
    if cluster {
        find_cluster(scope, identifier).await
    } else {
        find(scope, identifier).await
    }
}

/// Waits until the Aurora cluster `identifier` is gone.
pub async fn wait_cluster_deleted(
    scope: &Scope<'_>,
    identifier: &str,
    max_wait: Duration,
) -> Result<(), AwsError> {
    let waiter = scope.client.wait_until_db_cluster_deleted();
    let waited = waiter.db_cluster_identifier(identifier).wait(max_wait);
    scope
        .waited("WaitDBClusterDeleted", identifier, waited)
        .await
}

/// Waits until the DB instance `identifier` is gone.
pub async fn wait_deleted(
    scope: &Scope<'_>,
    identifier: &str,
    max_wait: Duration,
) -> Result<(), AwsError> {
    let waiter = scope.client.wait_until_db_instance_deleted();
    let waited = waiter.db_instance_identifier(identifier).wait(max_wait);
    scope
        .waited("WaitDBInstanceDeleted", identifier, waited)
        .await
}
