//! AWS Backup writes for remediation (`remediate = "backup"`): an on-demand backup job in the source
//! account and a copy job into the destination vault, each started with an idempotency token (a
//! resumed run starts nothing twice) and waited for until it ends.

use std::time::Duration;

use aws_sdk_backup::types::{BackupJobState, CopyJobState, Lifecycle};

use super::super::error::aws_error;
use crate::inventory::AwsError;

/// Where a job's calls go, for errors.
pub struct JobScope<'a> {
    pub client: &'a aws_sdk_backup::Client,
    pub account_id: &'a str,
    pub region: &'a str,
}

impl JobScope<'_> {
    fn error(&self, operation: &str, code: &str, message: String, resource: &str) -> AwsError {
        AwsError {
            account_id: self.account_id.to_string(),
            region: self.region.to_string(),
            operation: operation.to_string(),
            code: code.to_string(),
            message,
            resource: Some(resource.to_string()),
        }
    }
}

/// What a backup or copy job is asked to do.
pub struct JobRequest<'a> {
    /// The same token for the same job: AWS answers a retry with the first call's job.
    pub token: &'a str,
    pub role_arn: &'a str,
    pub delete_after_days: i64,
}

fn lifecycle(days: i64) -> Lifecycle {
    Lifecycle::builder().delete_after_days(days).build()
}

/// The job id a `Start*Job` call answered with, or its error, about `resource`.
pub(super) async fn started<T, E, R>(
    scope: &JobScope<'_>,
    operation: &str,
    resource: &str,
    sent: impl std::future::Future<Output = Result<T, aws_sdk_backup::error::SdkError<E, R>>>,
    job_id: impl FnOnce(&T) -> Option<&str>,
) -> Result<String, AwsError>
where
    E: aws_sdk_backup::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let response = sent.await.map_err(|e| {
        let mut error = aws_error(scope.account_id, scope.region, operation, &e);
        error.resource = Some(resource.to_string());
        error
    })?;
    job_id(&response).map(str::to_string).ok_or_else(|| {
        scope.error(
            operation,
            "NoJobId",
            format!("{operation} answered without a job id"),
            resource,
        )
    })
}

/// `StartBackupJob` of `resource_arn` into `vault`; returns the job id.
pub async fn start_backup(
    scope: &JobScope<'_>,
    vault: &str,
    resource_arn: &str,
    request: &JobRequest<'_>,
) -> Result<String, AwsError> {
    let sent = scope
        .client
        .start_backup_job()
        .backup_vault_name(vault)
        .resource_arn(resource_arn)
        .iam_role_arn(request.role_arn)
        .idempotency_token(request.token)
        .lifecycle(lifecycle(request.delete_after_days))
        .send();
    started(scope, "StartBackupJob", resource_arn, sent, |r| {
        r.backup_job_id()
    })
    .await
}

/// `StartCopyJob` of `recovery_point` (in `source_vault`) into `destination_vault_arn`; the job id.
pub async fn start_copy(
    scope: &JobScope<'_>,
    source_vault: &str,
    recovery_point: &str,
    destination_vault_arn: &str,
    request: &JobRequest<'_>,
) -> Result<String, AwsError> {
    let sent = scope
        .client
        .start_copy_job()
        .source_backup_vault_name(source_vault)
        .recovery_point_arn(recovery_point)
        .destination_backup_vault_arn(destination_vault_arn)
        .iam_role_arn(request.role_arn)
        .idempotency_token(request.token)
        .lifecycle(lifecycle(request.delete_after_days))
        .send();
    started(scope, "StartCopyJob", recovery_point, sent, |r| {
        r.copy_job_id()
    })
    .await
}

/// How one poll of a job went.
pub(super) enum Poll {
    Running,
    /// Ended well: the recovery point it made.
    Completed(String),
    /// Ended badly: its state and AWS's message.
    Failed(String, String),
}

/// Polls a job until it ends (first at once, then every 2 s growing to 30 s), at most `max_wait`.
pub(super) async fn wait_for<F, Fut>(
    scope: &JobScope<'_>,
    operation: &str,
    job_id: &str,
    max_wait: Duration,
    mut poll: F,
) -> Result<String, AwsError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Poll, AwsError>>,
{
    let started = tokio::time::Instant::now();
    let mut pause = Duration::from_secs(2);
    loop {
        match poll().await? {
            Poll::Completed(point) => return Ok(point),
            Poll::Failed(state, message) => {
                return Err(scope.error(
                    operation,
                    &format!("Job{state}"),
                    format!("job {job_id} ended {state}: {message}"),
                    job_id,
                ))
            }
            Poll::Running if started.elapsed() + pause > max_wait => {
                return Err(scope.error(
                    operation,
                    "StepTimeout",
                    format!(
                        "job {job_id} had not ended after {}s (--step-timeout); it goes on in AWS Backup, and a resumed run waits for the same job",
                        max_wait.as_secs()
                    ),
                    job_id,
                ))
            }
            Poll::Running => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// Waits for backup job `job_id`; returns its recovery point's ARN.
pub async fn wait_backup(
    scope: &JobScope<'_>,
    job_id: &str,
    max_wait: Duration,
) -> Result<String, AwsError> {
    wait_for(scope, "DescribeBackupJob", job_id, max_wait, || async {
        let job = scope
            .client
            .describe_backup_job()
            .backup_job_id(job_id)
            .send()
            .await
            .map_err(|e| aws_error(scope.account_id, scope.region, "DescribeBackupJob", &e))?;
        let message = job.status_message().unwrap_or_default().to_string();
        Ok(match job.state() {
            Some(BackupJobState::Completed) => match job.recovery_point_arn() {
                Some(point) => Poll::Completed(point.to_string()),
                None => Poll::Failed("COMPLETED".into(), "no recovery point ARN".into()),
            },
            Some(
                state @ (BackupJobState::Failed
                | BackupJobState::Aborted
                | BackupJobState::Expired
                | BackupJobState::Partial),
            ) => Poll::Failed(state.as_str().to_string(), message),
            _ => Poll::Running,
        })
    })
    .await
}

/// Waits for copy job `job_id`; returns the ARN of the recovery point it made in the destination.
pub async fn wait_copy(
    scope: &JobScope<'_>,
    job_id: &str,
    max_wait: Duration,
) -> Result<String, AwsError> {
    wait_for(scope, "DescribeCopyJob", job_id, max_wait, || async {
        let response = scope
            .client
            .describe_copy_job()
            .copy_job_id(job_id)
            .send()
            .await
            .map_err(|e| aws_error(scope.account_id, scope.region, "DescribeCopyJob", &e))?;
        let Some(job) = response.copy_job() else {
            return Ok(Poll::Running);
        };
        let message = job.status_message().unwrap_or_default().to_string();
        Ok(match job.state() {
            Some(CopyJobState::Completed) => match job.destination_recovery_point_arn() {
                Some(point) => Poll::Completed(point.to_string()),
                None => Poll::Failed("COMPLETED".into(), "no destination recovery point".into()),
            },
            Some(state @ (CopyJobState::Failed | CopyJobState::Partial)) => {
                Poll::Failed(state.as_str().to_string(), message)
            }
            _ => Poll::Running,
        })
    })
    .await
}
