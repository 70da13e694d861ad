//! The RDS calls of a restore drill (`rdsguard drill`), in the destination account only: restore a
//! replica into a drill instance that is never publicly accessible, look at it, delete it, and tag the
//! drilled replica with the evidence.
//!
//! Times come from AWS: every call here returns the `Date` header of AWS's answer ([`ServerTime`]),
//! so a drill's start and end are AWS's clock (the emulator's per-account clock in tests), never the
//! machine's calendar.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_rds::config::interceptors::BeforeDeserializationInterceptorContextRef;
use aws_sdk_rds::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_rds::error::BoxError;
use aws_sdk_rds::types::Tag;
use aws_smithy_types_convert::date_time::DateTimeExt;
use chrono::{DateTime, Utc};

use super::super::{tag_list, Scope};
use super::instances::{self, Instance};
use crate::inventory::AwsError;

/// Records the `Date` header of the answer to the call it is attached to.
#[derive(Debug, Clone, Default)]
pub struct ServerTime(Arc<Mutex<Option<DateTime<Utc>>>>);

impl ServerTime {
    /// The `Date` of the last answer seen, if it had one.
    pub fn get(&self) -> Option<DateTime<Utc>> {
        self.0.lock().ok().and_then(|t| *t)
    }
}

impl Intercept for ServerTime {
    fn name(&self) -> &'static str {
        "rdsguard::ServerTime"
    }

    fn read_before_deserialization(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let date = context
            .response()
            .headers()
            .get("date")
            .and_then(|d| {
                aws_sdk_rds::primitives::DateTime::from_str(
                    d,
                    aws_sdk_rds::primitives::DateTimeFormat::HttpDate,
                )
                .ok()
            })
            .and_then(|d| d.to_chrono_utc().ok());
        if let (Some(date), Ok(mut slot)) = (date, self.0.lock()) {
            *slot = Some(date);
        }
        Ok(())
    }
}

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
    instances::restore_request(
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
    .set_tags(Some(tag_list(tags)))
    .customize()
    .interceptor(time.clone())
    .send()
    .await
    .map_err(|e| scope.error("RestoreDBInstanceFromDBSnapshot", identifier, &e))?;
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

/// Adds `tags` to the resource `arn` (the drill evidence on a replica) in one call.
pub async fn add_tags(
    scope: &Scope<'_>,
    arn: &str,
    tags: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    let list: Vec<Tag> = tag_list(tags);
    scope
        .client
        .add_tags_to_resource()
        .resource_name(arn)
        .set_tags(Some(list))
        .send()
        .await
        .map(drop)
        .map_err(|e| scope.error("AddTagsToResource", arn, &e))
}
