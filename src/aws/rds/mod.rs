//! Amazon RDS: what the reads for discovery ([`read`]) and the writes for remediation ([`mod@write`]) share.
//! Neither side imports the other; both import this module: the [`Scope`] a call goes to, the SDK's
//! tags and times as plain data, and the errors as [`AwsError`] entries.

pub mod attributes;
pub mod read;
mod records;
pub mod write;

use std::collections::BTreeMap;
use std::future::Future;

use aws_sdk_rds::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_rds::types::Tag;
use aws_sdk_rds::Client;
use aws_smithy_types_convert::date_time::DateTimeExt;

use super::error::aws_error;
use crate::inventory::AwsError;

/// Where the calls go: one client, for one account and region.
pub struct Scope<'a> {
    pub client: &'a Client,
    pub account_id: &'a str,
    pub region: &'a str,
}

impl Scope<'_> {
    /// An SDK error of `operation` on `resource` in this scope.
    fn error<E, R>(&self, operation: &str, resource: &str, e: &SdkError<E, R>) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        with_resource(
            aws_error(self.account_id, self.region, operation, e),
            resource,
        )
    }

    /// Makes the call (`operation` on `resource`), whose answer is not needed.
    async fn done<T, E, R>(
        &self,
        operation: &str,
        resource: &str,
        call: impl Future<Output = Result<T, SdkError<E, R>>>,
    ) -> Result<(), AwsError>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        call.await
            .map(drop)
            .map_err(|e| self.error(operation, resource, &e))
    }

    /// Makes the call (`operation` on `resource`) and returns its answer, `None` when the service
    /// says it is not there (`is_absent`: the operation's "not found" fault).
    async fn unless_absent<T, E, R>(
        &self,
        operation: &str,
        resource: &str,
        call: impl Future<Output = Result<T, SdkError<E, R>>>,
        is_absent: impl FnOnce(&E) -> bool,
    ) -> Result<Option<T>, AwsError>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        match call.await {
            Ok(answer) => Ok(Some(answer)),
            Err(e) if e.as_service_error().is_some_and(is_absent) => Ok(None),
            Err(e) => Err(self.error(operation, resource, &e)),
        }
    }

    /// Waits (`operation`) on `resource`.
    async fn waited<T, W>(
        &self,
        operation: &str,
        resource: &str,
        wait: impl Future<Output = Result<T, W>>,
    ) -> Result<(), AwsError>
    where
        W: std::error::Error,
    {
        wait.await.map(drop).map_err(|e| {
            let message = aws_sdk_rds::error::DisplayErrorContext(e).to_string();
            self.waiter_error(operation, resource, message)
        })
    }

    /// A waiter's failure on `resource` (the message of `DisplayErrorContext`), with [`waiter_code`].
    fn waiter_error(&self, operation: &str, resource: &str, message: String) -> AwsError {
        AwsError {
            account_id: self.account_id.to_string(),
            region: self.region.to_string(),
            operation: operation.to_string(),
            code: waiter_code(&message).to_string(),
            message,
            resource: Some(resource.to_string()),
        }
    }
}

/// The error, naming the resource it is about.
fn with_resource(mut error: AwsError, resource: &str) -> AwsError {
    error.resource = Some(resource.to_string());
    error
}

/// The code of a waiter's failure: it ran out of time, or the resource went to a failed state.
fn waiter_code(message: &str) -> &'static str {
    if message.contains("exceeded the max wait time") {
        "WaiterTimeout"
    } else {
        "WaiterFailure"
    }
}

/// An SDK tag list as a map.
fn tags(list: &[Tag]) -> BTreeMap<String, String> {
    list.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

/// A map of tags as the SDK's tag list.
fn tag_list(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// An SDK timestamp as UTC.
fn time(t: Option<&aws_sdk_rds::primitives::DateTime>) -> Option<chrono::DateTime<chrono::Utc>> {
    t.and_then(|t| t.to_chrono_utc().ok())
}
