//! AWS Backup restore jobs, for restore drills of recovery points (`rdsguard drill`), in the
//! destination account: the point's restore metadata, the restore job (an idempotency token fixed
//! by the drill's plan), its state, and the jobs started since a time (a resumed drill finds the job
//! an interrupted one may have started).

use std::collections::HashMap;

use aws_sdk_backup::types::RestoreJobStatus;
use chrono::{DateTime, Utc};

use super::jobs::{started, wait_for, JobScope, Poll};
use crate::aws::error::aws_error;
use crate::aws::ServerTime;
use crate::inventory::AwsError;

/// `GetRecoveryPointRestoreMetadata` of `point` in the caller's vault `vault`: the configuration the
/// database was backed up with, as AWS Backup's restore keys.
pub async fn metadata(
    scope: &JobScope<'_>,
    vault: &str,
    point: &str,
) -> Result<HashMap<String, String>, AwsError> {
    let answer = scope
        .client
        .get_recovery_point_restore_metadata()
        .backup_vault_name(vault)
        .recovery_point_arn(point)
        .send()
        .await
        .map_err(|e| {
            let mut error = aws_error(
                scope.account_id,
                scope.region,
                "GetRecoveryPointRestoreMetadata",
                &e,
            );
            error.resource = Some(point.to_string());
            error
        })?;
    Ok(answer.restore_metadata().cloned().unwrap_or_default())
}

/// What a restore job is asked to do.
pub struct RestoreRequest<'a> {
    pub point: &'a str,
    /// `RDS` or `Aurora`.
    pub resource_type: &'a str,
    pub metadata: HashMap<String, String>,
    pub role_arn: &'a str,
    /// The same token for the same drill: AWS answers a retry with no action taken.
    pub token: &'a str,
}

/// `StartRestoreJob`, copying no tags of the source onto the restored database; returns the job id
/// and the `Date` of AWS's answer.
pub async fn start(
    scope: &JobScope<'_>,
    request: RestoreRequest<'_>,
) -> Result<(String, Option<DateTime<Utc>>), AwsError> {
    let time = ServerTime::default();
    let sent = scope
        .client
        .start_restore_job()
        .recovery_point_arn(request.point)
        .set_metadata(Some(request.metadata))
        .iam_role_arn(request.role_arn)
        .idempotency_token(request.token)
        .resource_type(request.resource_type)
        .copy_source_tags_to_restored_resource(false)
        .customize()
        .interceptor(time.clone())
        .send();
    let job = started(scope, "StartRestoreJob", request.point, sent, |r| {
        r.restore_job_id()
    })
    .await?;
    Ok((job, time.get()))
}

/// A restore job as AWS Backup describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct RestoreJob {
    pub id: String,
    /// `PENDING`, `RUNNING`, `COMPLETED`, `ABORTED`, `FAILED`.
    pub status: String,
    pub message: String,
    pub recovery_point: Option<String>,
    /// The database it made, once it has.
    pub created_resource: Option<String>,
}

impl RestoreJob {
    /// It ended and will make nothing more.
    pub fn ended(&self) -> bool {
        ["COMPLETED", "ABORTED", "FAILED"].contains(&self.status.as_str())
    }

    /// It ended without making its database.
    pub fn failed(&self) -> bool {
        self.ended() && self.status != "COMPLETED"
    }
}

fn status(status: Option<&RestoreJobStatus>) -> String {
    status.map(|s| s.as_str().to_string()).unwrap_or_default()
}

/// `DescribeRestoreJob` of `job_id`.
pub async fn describe(scope: &JobScope<'_>, job_id: &str) -> Result<RestoreJob, AwsError> {
    let job = scope
        .client
        .describe_restore_job()
        .restore_job_id(job_id)
        .send()
        .await
        .map_err(|e| {
            let mut error = aws_error(scope.account_id, scope.region, "DescribeRestoreJob", &e);
            error.resource = Some(job_id.to_string());
            error
        })?;
    Ok(RestoreJob {
        id: job_id.to_string(),
        status: status(job.status()),
        message: job.status_message().unwrap_or_default().to_string(),
        recovery_point: job.recovery_point_arn().map(str::to_string),
        created_resource: job.created_resource_arn().map(str::to_string),
    })
}

/// Waits until restore job `job_id` ends (first at once, then every 2 s growing to 30 s), at most
/// `max_wait`; the ARN of what it made (empty when it made nothing).
pub async fn wait(
    scope: &JobScope<'_>,
    job_id: &str,
    max_wait: std::time::Duration,
) -> Result<String, AwsError> {
    wait_for(scope, "DescribeRestoreJob", job_id, max_wait, || async {
        let job = describe(scope, job_id).await?;
        Ok(match job.ended() {
            false => Poll::Running,
            true if job.failed() => Poll::Failed(job.status, job.message),
            true => Poll::Completed(job.created_resource.unwrap_or_default()),
        })
    })
    .await
}

/// `ListRestoreJobs` of the caller's account and region created after `after`, every page.
pub async fn since(
    scope: &JobScope<'_>,
    after: DateTime<Utc>,
) -> Result<Vec<RestoreJob>, AwsError> {
    let after = aws_sdk_backup::primitives::DateTime::from_secs(after.timestamp());
    let mut pages = scope
        .client
        .list_restore_jobs()
        .by_created_after(after)
        .max_results(1000)
        .into_paginator()
        .send();
    let mut jobs = Vec::new();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| aws_error(scope.account_id, scope.region, "ListRestoreJobs", &e))?;
        jobs.extend(page.restore_jobs().iter().map(|j| RestoreJob {
            id: j.restore_job_id().unwrap_or_default().to_string(),
            status: status(j.status()),
            message: j.status_message().unwrap_or_default().to_string(),
            recovery_point: j.recovery_point_arn().map(str::to_string),
            created_resource: j.created_resource_arn().map(str::to_string),
        }));
    }
    Ok(jobs)
}
