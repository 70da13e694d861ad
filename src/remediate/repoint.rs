//! Point a restore's secret at an instance, then tag the instance it pointed at before
//! `rdsguard:superseded-at`: one code path for remediation's `repoint` and `supersede` steps and for
//! `rdsguard rollback`.

use std::future::Future;

use chrono::Utc;

use super::plan::TAG_SUPERSEDED_AT;
use crate::aws::rds::write::instances::{self, Instance};
use crate::aws::rds::Scope;
use crate::aws::secrets::{self, Endpoint};
use crate::inventory::AwsError;

/// Runs one named step: remediation journals each step; rollback journals around both.
pub(crate) trait Steps {
    type Error;
    async fn step<T>(
        &self,
        name: &str,
        detail: String,
        work: impl Future<Output = Result<T, AwsError>>,
    ) -> Result<T, Self::Error>;
}

/// Runs the steps as they are, with no journal of their own.
pub(crate) struct Plain;

impl Steps for Plain {
    type Error = AwsError;
    async fn step<T>(
        &self,
        _name: &str,
        _detail: String,
        work: impl Future<Output = Result<T, AwsError>>,
    ) -> Result<T, AwsError> {
        work.await
    }
}

/// Step `repoint`: points `secret` (in `scope`'s account and region) at `to`. Then, if it pointed at
/// another instance before, step `supersede`: tags that instance `rdsguard:superseded-at`. Returns
/// where the secret pointed before.
pub(crate) async fn repoint_and_supersede<S: Steps>(
    steps: &S,
    client: &aws_sdk_secretsmanager::Client,
    scope: &Scope<'_>,
    secret: &str,
    to: &Instance,
    cluster: bool,
) -> Result<Endpoint, S::Error> {
    let endpoint = Endpoint {
        host: to.host.clone(),
        port: to.port,
        instance: Some(to.identifier.clone()),
    };
    let before = steps
        .step(
            "repoint",
            format!("point secret {secret} at {}", to.identifier),
            secrets::repoint(
                client,
                scope.account_id,
                scope.region,
                secret,
                &endpoint,
                cluster,
            ),
        )
        .await?;
    if let Some(previous) = before.instance.as_deref().filter(|p| *p != to.identifier) {
        let now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        steps
            .step(
                "supersede",
                format!("tag {previous} {TAG_SUPERSEDED_AT}"),
                async {
                    if let Some(old) = instances::find_restored(scope, previous, cluster).await? {
                        instances::add_tag(scope, &old.arn, TAG_SUPERSEDED_AT, &now).await?;
                    }
                    Ok(())
                },
            )
            .await?;
    }
    Ok(before)
}
