//! `rdsguard iam-policy`: the IAM policies rdsguard needs, as JSON.

use serde_json::Value;

use crate::cli::{IamPolicyArgs, PolicyPart};
use crate::error::Error;
use crate::iam;
use crate::rules::{self, is_account_id};

/// The policy documents, or the one that `--part` asks for.
pub fn run(args: &IamPolicyArgs) -> Result<Value, Error> {
    check_ids(
        args.caller_account.as_deref(),
        args.caller_role_arn.as_deref(),
        args.organization_id.as_deref(),
    )?;
    let rules = if args.rules.is_empty() {
        None
    } else {
        Some(rules::load(&args.rules)?)
    };
    let secrets = rules.as_ref().map(iam::secret_scopes).unwrap_or_default();
    let backup_jobs = rules.as_ref().map(iam::backup_scopes).unwrap_or_default();
    let drill_roles = rules.as_ref().map(iam::drill_roles).unwrap_or_default();
    let mut document = iam::policies(&iam::Options {
        modes: &args.mode,
        partition: &args.partition,
        role_name: &args.role_name,
        caller_arn: args.caller_role_arn.as_deref(),
        caller_account: args.caller_account.as_deref(),
        external_id: args.external_id.as_deref(),
        organization_id: args.organization_id.as_deref(),
        secrets: &secrets,
        backup_jobs: &backup_jobs,
        drill_roles: &drill_roles,
        one_role: args.one_role,
    });
    let Some(part) = args.part else {
        return Ok(document);
    };
    let key = match part {
        PolicyPart::CallerPolicy => "caller_policy",
        PolicyPart::AuditRolePolicy => "audit_role_policy",
        PolicyPart::SourceRemediationPolicy => "source_remediation_policy",
        PolicyPart::VaultRemediationPolicy => "vault_remediation_policy",
        PolicyPart::SecurityHubPolicy => "security_hub_policy",
        PolicyPart::DrillPolicy => "drill_policy",
        PolicyPart::MemberRolePolicy => "member_role_policy",
        PolicyPart::MemberRoleTrustPolicy => "member_role_trust_policy",
        PolicyPart::StateMachineExecutionPolicy => "state_machine_execution_policy",
        PolicyPart::StateMachineExecutionTrust => "state_machine_execution_trust",
    };
    match document.get_mut(key) {
        Some(doc) => Ok(doc.take()),
        None => Err(Error::Usage(format!(
            "--part {}: not printed for these flags (printed: {})",
            key.replace('_', "-"),
            document
                .as_object()
                .map(|o| o
                    .keys()
                    .map(|k| k.replace('_', "-"))
                    .collect::<Vec<_>>()
                    .join(", "))
                .unwrap_or_default()
        ))),
    }
}

/// The ids and ARNs `iam-policy` and `setup` put into the documents, checked before anything is
/// generated.
pub(super) fn check_ids(
    caller_account: Option<&str>,
    caller_role_arn: Option<&str>,
    organization_id: Option<&str>,
) -> Result<(), Error> {
    if let Some(bad) = caller_account.filter(|a| !is_account_id(a)) {
        return Err(Error::Usage(format!(
            "--caller-account: `{bad}` is not a 12-digit account id"
        )));
    }
    if let Some(bad) = caller_role_arn.filter(|a| !is_principal_arn(a)) {
        return Err(Error::Usage(format!(
            "--caller-role-arn: `{bad}` is not an IAM role or user ARN (arn:PARTITION:iam::ACCOUNT:role/NAME)"
        )));
    }
    if let Some(bad) = organization_id.filter(|o| !is_organization_id(o)) {
        return Err(Error::Usage(format!(
            "--organization-id: `{bad}` is not an organization id (o-, then 10 to 32 letters or digits)"
        )));
    }
    Ok(())
}

/// `arn:PARTITION:iam::ACCOUNT:role/...` or `:user/...`.
fn is_principal_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    matches!(parts.as_slice(), ["arn", partition, "iam", "", account, resource]
        if !partition.is_empty()
            && is_account_id(account)
            && (resource.starts_with("role/") || resource.starts_with("user/"))
            && resource.len() > 5)
}

fn is_organization_id(id: &str) -> bool {
    id.strip_prefix("o-").is_some_and(|rest| {
        (10..=32).contains(&rest.len())
            && rest
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principals_and_organizations() {
        assert!(is_principal_arn("arn:aws:iam::111111111111:role/rdsguard"));
        assert!(is_principal_arn("arn:aws-us-gov:iam::111111111111:user/ci"));
        assert!(!is_principal_arn("arn:aws:iam::111111111111:root"));
        assert!(!is_principal_arn(
            "arn:aws:sts::111111111111:assumed-role/r/s"
        ));
        assert!(is_organization_id("o-abcdefghij"));
        assert!(!is_organization_id("o-ABC"));
    }
}
