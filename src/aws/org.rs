//! The caller and the organization: `sts:GetCallerIdentity` and `organizations:ListAccounts` /
//! `DescribeOrganization`, with the base credentials.

use tracing::warn;

use super::client::FALLBACK_REGION;
use super::error::aws_error;
use crate::inventory::{Account, AwsError, Caller};

/// Who is calling, from `sts:GetCallerIdentity` with the base credentials.
pub async fn caller(factory_base: &aws_config::SdkConfig) -> Result<Caller, AwsError> {
    let sts = aws_sdk_sts::Client::new(factory_base);
    let region = factory_base
        .region()
        .map(|r| r.to_string())
        .unwrap_or_else(|| FALLBACK_REGION.to_string());
    let identity = sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| aws_error("(caller)", &region, "GetCallerIdentity", &e))?;
    Ok(Caller {
        account_id: identity.account().unwrap_or_default().to_string(),
        arn: identity.arn().unwrap_or_default().to_string(),
    })
}

/// The organization's ACTIVE accounts and its id, read with the base credentials.
pub async fn organization_accounts(
    base: &aws_config::SdkConfig,
) -> Result<(Vec<Account>, Option<String>), AwsError> {
    let client = aws_sdk_organizations::Client::new(base);
    let region = base.region().map(|r| r.to_string()).unwrap_or_default();
    let mut accounts = Vec::new();
    let mut pages = client
        .list_accounts()
        .max_results(20)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("(caller)", &region, "ListAccounts", &e))?;
        for account in page.accounts() {
            let active = account.status().is_none_or(|s| s.as_str() == "ACTIVE");
            if let (Some(id), true) = (account.id(), active) {
                accounts.push(Account {
                    id: id.to_string(),
                    name: account.name().map(str::to_string),
                });
            }
        }
    }
    let organization_id = match client.describe_organization().send().await {
        Ok(out) => out.organization().and_then(|o| o.id()).map(str::to_string),
        Err(e) => {
            warn!(error = %aws_error("(caller)", &region, "DescribeOrganization", &e).code, "could not read the organization id");
            None
        }
    };
    Ok((accounts, organization_id))
}
