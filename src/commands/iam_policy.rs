//! `rdsguard iam-policy`: the IAM policies rdsguard needs, as JSON.

use serde_json::Value;

use crate::cli::{IamPolicyArgs, PolicyPart};
use crate::error::Error;
use crate::iam;
use crate::rules::is_account_id;

/// The policy document, or the one part of it that `--part` asks for.
pub fn run(args: &IamPolicyArgs) -> Result<Value, Error> {
    if let Some(bad) = args.caller_account.as_deref().filter(|a| !is_account_id(a)) {
        return Err(Error::Usage(format!(
            "--caller-account: `{bad}` is not a 12-digit account id"
        )));
    }
    let mut document = iam::policies(&iam::Options {
        modes: &args.mode,
        partition: &args.partition,
        role_name: &args.role_name,
        caller_account: args.caller_account.as_deref(),
        external_id: args.external_id.as_deref(),
    });
    let key = args.part.map(|part| match part {
        PolicyPart::CallerPolicy => "caller_policy",
        PolicyPart::MemberRolePolicy => "member_role_policy",
        PolicyPart::MemberRoleTrustPolicy => "member_role_trust_policy",
    });
    Ok(match key {
        Some(k) => document[k].take(),
        None => document,
    })
}
