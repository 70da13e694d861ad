//! The DB instance calls remediation makes in the destination: restore a replica, wait for it, tag the
//! one it supersedes, delete old restores.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_rds::client::Waiters;
use aws_sdk_rds::types::Tag;

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

/// What a restored instance is made like (the rule's `restore` table).
pub struct RestoreSpec<'a> {
    pub instance_class: &'a str,
    pub subnet_group: Option<&'a str>,
    pub security_groups: &'a [String],
    pub parameter_group: Option<&'a str>,
}

pub async fn find(scope: &Scope<'_>, identifier: &str) -> Result<Option<Instance>, AwsError> {
    match scope
        .client
        .describe_db_instances()
        .db_instance_identifier(identifier)
        .send()
        .await
    {
        Ok(out) => Ok(out.db_instances().first().map(|db| Instance {
            arn: db.db_instance_arn().unwrap_or_default().to_string(),
            identifier: db.db_instance_identifier().unwrap_or_default().to_string(),
            status: db.db_instance_status().unwrap_or_default().to_string(),
            host: db.endpoint().and_then(|e| e.address()).map(str::to_string),
            port: db
                .endpoint()
                .and_then(|e| e.port())
                .and_then(|p| u16::try_from(p).ok()),
            deletion_protection: db.deletion_protection().unwrap_or(false),
            tags: tags(db.tag_list()),
        })),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_db_instance_not_found_fault()) =>
        {
            Ok(None)
        }
        Err(e) => Err(scope.error("DescribeDBInstances", identifier, &e)),
    }
}

pub async fn restore(
    scope: &Scope<'_>,
    snapshot: &str,
    identifier: &str,
    spec: &RestoreSpec<'_>,
    tags: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    scope
        .client
        .restore_db_instance_from_db_snapshot()
        .db_snapshot_identifier(snapshot)
        .db_instance_identifier(identifier)
        .db_instance_class(spec.instance_class)
        .set_db_subnet_group_name(spec.subnet_group.map(str::to_string))
        .set_vpc_security_group_ids(
            (!spec.security_groups.is_empty()).then(|| spec.security_groups.to_vec()),
        )
        .set_db_parameter_group_name(spec.parameter_group.map(str::to_string))
        .deletion_protection(false)
        .set_tags(Some(tag_list(tags)))
        .send()
        .await
        .map(drop)
        .map_err(|e| scope.error("RestoreDBInstanceFromDBSnapshot", identifier, &e))
}

pub async fn wait_available(
    scope: &Scope<'_>,
    identifier: &str,
    max_wait: Duration,
) -> Result<(), AwsError> {
    scope
        .client
        .wait_until_db_instance_available()
        .db_instance_identifier(identifier)
        .wait(max_wait)
        .await
        .map(drop)
        .map_err(|e| {
            let message = aws_sdk_rds::error::DisplayErrorContext(e).to_string();
            scope.waiter_error("WaitDBInstanceAvailable", identifier, message)
        })
}

pub async fn add_tag(scope: &Scope<'_>, arn: &str, key: &str, value: &str) -> Result<(), AwsError> {
    scope
        .client
        .add_tags_to_resource()
        .resource_name(arn)
        .tags(Tag::builder().key(key).value(value).build())
        .send()
        .await
        .map(drop)
        .map_err(|e| scope.error("AddTagsToResource", arn, &e))
}

/// Deletes a restored copy (no final snapshot: its data is the replica snapshot it came from).
pub async fn delete(scope: &Scope<'_>, identifier: &str) -> Result<(), AwsError> {
    match scope
        .client
        .delete_db_instance()
        .db_instance_identifier(identifier)
        .skip_final_snapshot(true)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_db_instance_not_found_fault()) =>
        {
            Ok(())
        }
        Err(e) => Err(scope.error("DeleteDBInstance", identifier, &e)),
    }
}

/// A restored Aurora cluster, seen as an `Instance` (its writer endpoint is the host).
pub async fn find_cluster(
    scope: &Scope<'_>,
    identifier: &str,
) -> Result<Option<Instance>, AwsError> {
    match scope
        .client
        .describe_db_clusters()
        .db_cluster_identifier(identifier)
        .send()
        .await
    {
        Ok(out) => Ok(out.db_clusters().first().map(|c| Instance {
            arn: c.db_cluster_arn().unwrap_or_default().to_string(),
            identifier: c.db_cluster_identifier().unwrap_or_default().to_string(),
            status: c.status().unwrap_or_default().to_string(),
            host: c.endpoint().map(str::to_string),
            port: c.port().and_then(|p| u16::try_from(p).ok()),
            deletion_protection: c.deletion_protection().unwrap_or(false),
            tags: tags(c.tag_list()),
        })),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_db_cluster_not_found_fault()) =>
        {
            Ok(None)
        }
        Err(e) => Err(scope.error("DescribeDBClusters", identifier, &e)),
    }
}

/// The writer instance rdsguard adds to a restored cluster.
pub fn cluster_member(cluster: &str) -> String {
    format!("{cluster}-1")
}

/// Restores an Aurora cluster from a cluster snapshot and adds one instance (a cluster without an
/// instance cannot serve a connection).
pub async fn restore_cluster(
    scope: &Scope<'_>,
    snapshot: &str,
    identifier: &str,
    engine: &str,
    spec: &RestoreSpec<'_>,
    tags: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    let tag_list = tag_list(tags);
    if find_cluster(scope, identifier).await?.is_none() {
        scope
            .client
            .restore_db_cluster_from_snapshot()
            .snapshot_identifier(snapshot)
            .db_cluster_identifier(identifier)
            .engine(engine)
            .set_db_subnet_group_name(spec.subnet_group.map(str::to_string))
            .set_vpc_security_group_ids(
                (!spec.security_groups.is_empty()).then(|| spec.security_groups.to_vec()),
            )
            .deletion_protection(false)
            .set_tags(Some(tag_list.clone()))
            .send()
            .await
            .map_err(|e| scope.error("RestoreDBClusterFromSnapshot", identifier, &e))?;
    }
    let member = cluster_member(identifier);
    if find(scope, &member).await?.is_none() {
        scope
            .client
            .create_db_instance()
            .db_instance_identifier(&member)
            .db_cluster_identifier(identifier)
            .engine(engine)
            .db_instance_class(spec.instance_class)
            .set_db_parameter_group_name(spec.parameter_group.map(str::to_string))
            .set_tags(Some(tag_list))
            .send()
            .await
            .map_err(|e| scope.error("CreateDBInstance", &member, &e))?;
    }
    Ok(())
}

pub async fn wait_cluster_available(
    scope: &Scope<'_>,
    identifier: &str,
    max_wait: Duration,
) -> Result<(), AwsError> {
    scope
        .client
        .wait_until_db_cluster_available()
        .db_cluster_identifier(identifier)
        .wait(max_wait)
        .await
        .map(drop)
        .map_err(|e| {
            let message = aws_sdk_rds::error::DisplayErrorContext(e).to_string();
            scope.waiter_error("WaitDBClusterAvailable", identifier, message)
        })?;
    wait_available(scope, &cluster_member(identifier), max_wait).await
}

/// Deletes a restored cluster: its instances first, then the cluster (no final snapshot).
pub async fn delete_cluster(scope: &Scope<'_>, identifier: &str) -> Result<(), AwsError> {
    let members: Vec<String> = match scope
        .client
        .describe_db_clusters()
        .db_cluster_identifier(identifier)
        .send()
        .await
    {
        Ok(out) => out
            .db_clusters()
            .iter()
            .flat_map(|c| c.db_cluster_members())
            .filter_map(|m| m.db_instance_identifier().map(str::to_string))
            .collect(),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_db_cluster_not_found_fault()) =>
        {
            return Ok(())
        }
        Err(e) => return Err(scope.error("DescribeDBClusters", identifier, &e)),
    };
    for member in members {
        delete(scope, &member).await?;
    }
    match scope
        .client
        .delete_db_cluster()
        .db_cluster_identifier(identifier)
        .skip_final_snapshot(true)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_db_cluster_not_found_fault()) =>
        {
            Ok(())
        }
        Err(e) => Err(scope.error("DeleteDBCluster", identifier, &e)),
    }
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
