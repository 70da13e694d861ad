//! The RDS calls of a restore drill (`rdsguard drill`), in the destination account only: restore a
//! replica into a drill instance (or an Aurora drill cluster and its one instance) that is never
//! publicly accessible, look at it, and tag the drilled replica with the evidence.
//!
//! Times come from AWS: every call here returns the `Date` header of AWS's answer ([`ServerTime`]),
//! so a drill's start and end are AWS's clock (the emulator's per-account clock in tests), never the
//! machine's calendar.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::super::{tag_list, Scope};
use super::instances::{self, Instance};
use crate::aws::ServerTime;
use crate::inventory::AwsError;

/// Adding the drill evidence to a replica, or the drill tags to what a restore job made.
pub use super::instances::add_tags;

/// What a drill instance is made like (the rule's `drill` table).
pub struct DrillSpec<'a> {
    pub instance_class: &'a str,
    pub subnet_group: Option<&'a str>,
    pub security_groups: &'a [String],
}

/// Restores `snapshot` (an identifier or ARN in this scope) into a new DB instance `identifier`,
/// never publicly accessible, with `tags`. Returns the `Date` of AWS's answer.
pub async fn restore(
    scope: &Scope<'_>,
    snapshot: &str,
    identifier: &str,
    spec: &DrillSpec<'_>,
    tags: &BTreeMap<String, String>,
) -> Result<Option<DateTime<Utc>>, AwsError> {
    let time = ServerTime::default();
    let request = instances::restore_request(
        scope,
        snapshot,
        identifier,
        spec.instance_class,
        spec.subnet_group,
        spec.security_groups,
    )
    .publicly_accessible(false)
    .deletion_protection(false)
    .multi_az(false)
    .set_tags(Some(tag_list(tags)));
    let answer = request.customize().interceptor(time.clone()).send();
    scope
        .done("RestoreDBInstanceFromDBSnapshot", identifier, answer)
        .await?;
    Ok(time.get())
}

/// The drill instance `identifier` as AWS describes it now, and the `Date` of that answer.
pub async fn look(
    scope: &Scope<'_>,
    identifier: &str,
) -> Result<(Option<Instance>, Option<DateTime<Utc>>), AwsError> {
    let time = ServerTime::default();
    let found = instances::find_with(scope, identifier, time.clone()).await?;
    Ok((found, time.get()))
}

/// Restores the cluster snapshot `snapshot` into a new Aurora cluster `identifier` (`engine`: the
/// source's) in the drill's subnet group and security groups, with `tags`. AWS makes no instance:
/// [`add_member`] does, once the cluster is available. Returns the `Date` of AWS's answer.
pub async fn restore_cluster(
    scope: &Scope<'_>,
    snapshot: &str,
    identifier: &str,
    engine: &str,
    spec: &DrillSpec<'_>,
    tags: &BTreeMap<String, String>,
) -> Result<Option<DateTime<Utc>>, AwsError> {
    let time = ServerTime::default();
    let groups = (spec.subnet_group, spec.security_groups);
    let request = instances::cluster_restore_request(scope, snapshot, identifier, engine, groups)
        .set_tags(Some(tag_list(tags)));
    let answer = request.customize().interceptor(time.clone()).send();
    scope
        .done("RestoreDBClusterFromSnapshot", identifier, answer)
        .await?;
    Ok(time.get())
}

/// `CreateDBInstance` of the drill cluster's one instance `member`, in the drill's class, never
/// publicly accessible, with `tags` (a cluster without an instance serves no connection).
pub async fn add_member(
    scope: &Scope<'_>,
    cluster: &str,
    member: &str,
    engine: &str,
    instance_class: &str,
    tags: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    let request = instances::member_request(scope, cluster, member, engine, instance_class)
        .set_tags(Some(tag_list(tags)));
    scope.done("CreateDBInstance", member, request.send()).await
}

/// The drill cluster `identifier` as AWS describes it now (its writer endpoint as the host), with
/// its instances, and the `Date` of that answer.
pub async fn look_cluster(
    scope: &Scope<'_>,
    identifier: &str,
) -> Result<(Option<(Instance, Vec<String>)>, Option<DateTime<Utc>>), AwsError> {
    let time = ServerTime::default();
    let found = instances::find_cluster_with(scope, identifier, time.clone()).await?;
    Ok((found, time.get()))
}
