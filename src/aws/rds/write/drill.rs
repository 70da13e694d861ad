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
use super::instances::{self, Instance, RestoreSpec};
use crate::aws::ServerTime;
use crate::inventory::AwsError;

/// Adding the drill evidence to a replica, or the drill tags to what a restore job made.
pub use super::instances::add_tags;

/// Restores the spec's snapshot into a new DB instance, never publicly accessible, without Multi-AZ,
/// with `tags`. Returns the `Date` of AWS's answer.
pub async fn restore(
    scope: &Scope<'_>,
    spec: &RestoreSpec<'_>,
    tags: &BTreeMap<String, String>,
) -> Result<Option<DateTime<Utc>>, AwsError> {
    let time = ServerTime::default();
    let request = instances::restore_request(scope, spec)
        .multi_az(false)
        .set_tags(Some(tag_list(tags)));
    let answer = request.customize().interceptor(time.clone()).send();
    scope
        .done("RestoreDBInstanceFromDBSnapshot", spec.identifier, answer)
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

/// Restores the spec's cluster snapshot into a new Aurora cluster, with `tags`. AWS makes no
/// instance: [`add_member`] does, once the cluster is available. Returns the `Date` of AWS's answer.
pub async fn restore_cluster(
    scope: &Scope<'_>,
    spec: &RestoreSpec<'_>,
    tags: &BTreeMap<String, String>,
) -> Result<Option<DateTime<Utc>>, AwsError> {
    let time = ServerTime::default();
    let request = instances::cluster_restore_request(scope, spec).set_tags(Some(tag_list(tags)));
    let answer = request.customize().interceptor(time.clone()).send();
    scope
        .done("RestoreDBClusterFromSnapshot", spec.identifier, answer)
        .await?;
    Ok(time.get())
}

/// `CreateDBInstance` of the drill cluster's one instance `member`, in the drill's class, never
/// publicly accessible, with `tags` (a cluster without an instance serves no connection).
pub async fn add_member(
    scope: &Scope<'_>,
    spec: &RestoreSpec<'_>,
    member: &str,
    tags: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    let request = instances::member_request(scope, spec, member).set_tags(Some(tag_list(tags)));
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
