//! What `audit` and `rollback` share: the base credentials and the client factory.

use tracing::info;

use crate::aws::{self, ClientFactory, ConnectOptions, RoleOptions};
use crate::cli::ConnectArgs;
use crate::error::Error;
use crate::inventory::Caller;

/// The base credentials, who they belong to, and the client factory for the member accounts.
pub async fn connect(args: &ConnectArgs) -> Result<(ClientFactory, Caller), Error> {
    let base = aws::base_config(&ConnectOptions {
        endpoint_url: args.endpoint_url.clone(),
        region: None,
    })
    .await;
    let caller = aws::caller(&base).await.map_err(|e| {
        Error::Aws(format!(
            "cannot identify the caller with the configured AWS credentials: {} {}: {}. Set AWS_PROFILE, \
             AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or another source of the standard credential chain.",
            e.operation, e.code, e.message
        ))
    })?;
    info!(caller = %caller.arn, "authenticated");
    let partition = caller.arn.split(':').nth(1).unwrap_or("aws").to_string();
    let factory = ClientFactory::new(
        base,
        caller.account_id.clone(),
        partition,
        RoleOptions {
            role_name: args.role_name.clone(),
            external_id: args.external_id.clone(),
            session_name: args.role_session_name.clone(),
        },
    );
    Ok((factory, caller))
}
