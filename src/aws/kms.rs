//! KMS key facts: DescribeKey for every key a check needs, GetKeyPolicy for customer managed source keys.

use aws_sdk_kms::types::KeyManagerType;

use super::error::aws_error;
use crate::inventory::{AwsError, KeyFact, KeyManager};

/// DescribeKey of `reference` in `account_id`/`region`, and GetKeyPolicy when `want_policy` and the key is
/// customer managed, unless `has_policy` says that key's policy was already read. `Ok((None, _))`: KMS
/// says the key does not exist.
pub async fn describe(
    client: &aws_sdk_kms::Client,
    account_id: &str,
    region: &str,
    reference: &str,
    want_policy: bool,
    has_policy: impl Fn(&str) -> bool,
) -> Result<(Option<KeyFact>, Option<AwsError>), AwsError> {
    let with_resource = |mut error: AwsError| {
        error.resource = Some(reference.to_string());
        error
    };
    let response = match client.describe_key().key_id(reference).send().await {
        Ok(response) => response,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_not_found_exception()) =>
        {
            return Ok((None, None))
        }
        Err(e) => {
            return Err(with_resource(aws_error(
                account_id,
                region,
                "DescribeKey",
                &e,
            )))
        }
    };
    let Some(meta) = response.key_metadata() else {
        return Err(with_resource(AwsError {
            account_id: account_id.into(),
            region: region.into(),
            operation: "DescribeKey".into(),
            code: "NoKeyMetadata".into(),
            message: "DescribeKey answered without key metadata".into(),
            resource: None,
        }));
    };
    let arn = meta.arn().unwrap_or(reference).to_string();
    let key_manager = match meta.key_manager() {
        Some(KeyManagerType::Aws) => KeyManager::Aws,
        _ => KeyManager::Customer,
    };
    let mut fact = KeyFact {
        arn: arn.clone(),
        account_id: account_id.to_string(),
        region: region.to_string(),
        lookups: vec![reference.to_string()],
        key_manager,
        key_state: meta.key_state().map(|s| s.as_str().to_string()),
        enabled: meta.enabled(),
        policy: None,
    };
    if want_policy && key_manager == KeyManager::Customer && !has_policy(&arn) {
        match client
            .get_key_policy()
            .key_id(&arn)
            .policy_name("default")
            .send()
            .await
        {
            Ok(response) => fact.policy = response.policy().map(str::to_string),
            Err(e) => {
                let error = with_resource(aws_error(account_id, region, "GetKeyPolicy", &e));
                return Ok((Some(fact), Some(error)));
            }
        }
    }
    Ok((Some(fact), None))
}
