//! AWS errors as inventory entries: account, region, operation and the service's error code.

use aws_sdk_sts::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::inventory::AwsError;

/// Converts any SDK error into an [`AwsError`]. Service errors keep their code (`AccessDenied`,
/// `Throttling`, ...); transport failures get `DispatchFailure`, `Timeout` or `ResponseError`.
pub fn aws_error<E, R>(
    account_id: &str,
    region: &str,
    operation: &str,
    error: &SdkError<E, R>,
) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let (code, message) = match error {
        SdkError::ServiceError(service) => (
            service.err().code().unwrap_or("Unknown").to_string(),
            service
                .err()
                .message()
                .map(str::to_string)
                .unwrap_or_else(|| DisplayErrorContext(service.err()).to_string()),
        ),
        SdkError::TimeoutError(_) => (
            "Timeout".to_string(),
            DisplayErrorContext(error).to_string(),
        ),
        SdkError::DispatchFailure(failure) => (
            if failure.is_timeout() {
                "Timeout"
            } else {
                "DispatchFailure"
            }
            .to_string(),
            DisplayErrorContext(error).to_string(),
        ),
        SdkError::ResponseError(_) => (
            "ResponseError".to_string(),
            DisplayErrorContext(error).to_string(),
        ),
        _ => (
            "ConstructionFailure".to_string(),
            DisplayErrorContext(error).to_string(),
        ),
    };
    AwsError {
        account_id: account_id.to_string(),
        region: region.to_string(),
        operation: operation.to_string(),
        code,
        message,
        resource: None,
    }
}
