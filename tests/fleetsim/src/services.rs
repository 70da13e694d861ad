//! STS (query protocol, XML), Organizations and KMS (awsJson1_1).

use std::fmt::Write as _;

use serde_json::{json, Value};

use crate::fleet::{Fleet, Key, KeyPolicy, LIST_ACCOUNTS_MAX, MANAGEMENT, VAULT};
use crate::proto::{el, param, Answer};
use crate::time::{iso, now_epoch};

const STS_NS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// The access key AssumeRole hands out for `account`: `ASIA` + the 12-digit account + 4 letters, so
/// every later request says which account it acts in (as real keys do, through STS's records).
pub fn access_key_for(account_id: &str) -> String {
    format!("ASIA{account_id}FSIM")
}

/// The account a request acts in: the one its assumed-role key encodes, else the management account
/// (whatever long-term keys the caller has).
pub fn account_of_key(fleet: &Fleet, access_key: &str) -> usize {
    access_key
        .strip_prefix("ASIA")
        .and_then(|rest| rest.get(..12))
        .and_then(|id| fleet.account_index(id))
        .unwrap_or(MANAGEMENT)
}

pub fn sts(
    fleet: &Fleet,
    account: usize,
    action: &str,
    form: &[(String, String)],
    rid: &str,
) -> Answer {
    match action {
        "GetCallerIdentity" => {
            let id = fleet.account_id(account);
            let arn = if account == MANAGEMENT {
                format!("arn:aws:iam::{id}:user/fleetsim-auditor")
            } else {
                format!("arn:aws:sts::{id}:assumed-role/OrganizationAccountAccessRole/rdsguard")
            };
            let mut out = String::with_capacity(512);
            let _ = write!(
                out,
                "<GetCallerIdentityResponse xmlns=\"{STS_NS}\"><GetCallerIdentityResult>"
            );
            el(&mut out, "Arn", &arn);
            el(&mut out, "UserId", &format!("AIDA{id}FLEETSIM"));
            el(&mut out, "Account", id);
            let _ = write!(
                out,
                "</GetCallerIdentityResult><ResponseMetadata><RequestId>{rid}</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
            );
            Answer::xml(out)
        }
        "AssumeRole" => {
            let Some(role_arn) = param(form, "RoleArn") else {
                return Answer::query_error(400, "MissingParameter", "RoleArn is required", rid);
            };
            let session = param(form, "RoleSessionName").unwrap_or("session");
            let target = role_arn
                .strip_prefix("arn:aws:iam::")
                .and_then(|rest| rest.split_once(":role/"));
            let Some((target_id, role_name)) =
                target.filter(|(id, _)| fleet.account_index(id).is_some())
            else {
                return Answer::query_error(
                    403,
                    "AccessDenied",
                    &format!("User: arn:aws:iam::{}:user/fleetsim-auditor is not authorized to perform: sts:AssumeRole on resource: {role_arn}", fleet.management_id()),
                    rid,
                );
            };
            let duration: i64 = param(form, "DurationSeconds")
                .and_then(|d| d.parse().ok())
                .unwrap_or(3600);
            let mut out = String::with_capacity(1024);
            let _ = write!(
                out,
                "<AssumeRoleResponse xmlns=\"{STS_NS}\"><AssumeRoleResult><Credentials>"
            );
            el(&mut out, "AccessKeyId", &access_key_for(target_id));
            el(
                &mut out,
                "SecretAccessKey",
                "fleetsim/secret/access/key/not/checked/anywhere",
            );
            el(
                &mut out,
                "SessionToken",
                &format!("FwoGZXIvYXdzEfleetsim{target_id}{}", "A".repeat(120)),
            );
            // Real time, not the fleet's as_of: the SDK refreshes credentials that look expired.
            el(&mut out, "Expiration", &iso(now_epoch() + duration));
            out.push_str("</Credentials><AssumedRoleUser>");
            el(
                &mut out,
                "AssumedRoleId",
                &format!("AROA{target_id}FLEETSIM:{session}"),
            );
            el(
                &mut out,
                "Arn",
                &format!("arn:aws:sts::{target_id}:assumed-role/{role_name}/{session}"),
            );
            let _ = write!(
                out,
                "</AssumedRoleUser><PackedPolicySize>6</PackedPolicySize></AssumeRoleResult><ResponseMetadata><RequestId>{rid}</RequestId></ResponseMetadata></AssumeRoleResponse>"
            );
            Answer::xml(out)
        }
        other => Answer::query_error(
            400,
            "InvalidAction",
            &format!("Could not find operation {other} for version 2011-06-15"),
            rid,
        ),
    }
}

pub fn organizations(fleet: &Fleet, account: usize, operation: &str, body: &Value) -> Answer {
    if account != MANAGEMENT {
        return Answer::json_error(
            400,
            "AccessDeniedException",
            "You don't have permissions to access this resource.",
        );
    }
    match operation {
        "ListAccounts" => {
            let max = match body.get("MaxResults").and_then(Value::as_u64) {
                None => LIST_ACCOUNTS_MAX,
                Some(n) if (1..=LIST_ACCOUNTS_MAX as u64).contains(&n) => n as usize,
                Some(n) => {
                    return Answer::json_error(
                        400,
                        "InvalidInputException",
                        &format!("MaxResults {n} is out of range: 1 to {LIST_ACCOUNTS_MAX}"),
                    )
                }
            };
            let start = match body.get("NextToken").and_then(Value::as_str) {
                None => 0,
                Some(token) => match token
                    .strip_prefix("fsim-")
                    .and_then(|n| n.parse::<usize>().ok())
                {
                    Some(n) if n <= fleet.accounts.len() => n,
                    _ => {
                        return Answer::json_error(
                            400,
                            "InvalidInputException",
                            "The NextToken is not valid.",
                        )
                    }
                },
            };
            let end = (start + max).min(fleet.accounts.len());
            let mgmt = fleet.management_id();
            let accounts: Vec<Value> = fleet.accounts[start..end]
                .iter()
                .map(|a| {
                    json!({
                        "Id": a.id,
                        "Arn": format!("arn:aws:organizations::{mgmt}:account/{}/{}", fleet.organization_id, a.id),
                        "Email": a.email,
                        "Name": a.name,
                        "Status": "ACTIVE",
                        "State": "ACTIVE",
                        "JoinedMethod": if a.id == mgmt { "CREATED" } else { "INVITED" },
                        "JoinedTimestamp": a.joined as f64,
                    })
                })
                .collect();
            let mut out = json!({ "Accounts": accounts });
            if end < fleet.accounts.len() {
                out["NextToken"] = json!(format!("fsim-{end}"));
            }
            Answer::json(&out)
        }
        "DescribeOrganization" => {
            let mgmt = fleet.management_id();
            Answer::json(&json!({
                "Organization": {
                    "Id": fleet.organization_id,
                    "Arn": format!("arn:aws:organizations::{mgmt}:organization/{}", fleet.organization_id),
                    "FeatureSet": "ALL",
                    "MasterAccountArn": format!("arn:aws:organizations::{mgmt}:account/{}/{mgmt}", fleet.organization_id),
                    "MasterAccountId": mgmt,
                    "MasterAccountEmail": fleet.accounts[MANAGEMENT].email,
                    "AvailablePolicyTypes": [],
                }
            }))
        }
        other => Answer::json_error(
            400,
            "UnknownOperationException",
            &format!("fleetsim does not serve {other}"),
        ),
    }
}

pub fn kms(
    fleet: &Fleet,
    account: usize,
    region: Option<usize>,
    region_name: &str,
    operation: &str,
    body: &Value,
) -> Answer {
    let Some(reference) = body.get("KeyId").and_then(Value::as_str) else {
        return Answer::json_error(400, "ValidationException", "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null");
    };
    // A key ARN names its account; anything else is looked up in the caller's account.
    let owner = reference
        .strip_prefix("arn:aws:kms:")
        .and_then(|rest| rest.split(':').nth(1))
        .and_then(|id| fleet.account_index(id))
        .unwrap_or(account);
    let key = region.and_then(|r| fleet.scope(owner, r).key(reference));
    let Some(key) = key else {
        let what = if reference.contains("alias/") {
            "Alias"
        } else {
            "Key"
        };
        let name = if reference.starts_with("arn:") {
            reference.to_string()
        } else if reference.starts_with("alias/") {
            format!(
                "arn:aws:kms:{region_name}:{}:{reference}",
                fleet.account_id(account)
            )
        } else {
            format!(
                "arn:aws:kms:{region_name}:{}:key/{reference}",
                fleet.account_id(account)
            )
        };
        return Answer::json_error(
            400,
            "NotFoundException",
            &format!("{what} '{name}' does not exist"),
        );
    };
    let owner_id = fleet.account_id(owner);
    let arn = format!("arn:aws:kms:{region_name}:{owner_id}:key/{}", key.id);
    match operation {
        "DescribeKey" => Answer::json(&json!({ "KeyMetadata": metadata(key, &arn, owner_id) })),
        "GetKeyPolicy" => {
            if key.policy == KeyPolicy::Denied {
                return Answer::json_error(
                    400,
                    "AccessDeniedException",
                    &format!("User: arn:aws:sts::{}:assumed-role/OrganizationAccountAccessRole/rdsguard is not authorized to perform: kms:GetKeyPolicy on resource: {arn} because no resource-based policy allows the kms:GetKeyPolicy action", fleet.account_id(account)),
                );
            }
            Answer::json(&json!({
                "Policy": policy(fleet, key, owner_id),
                "PolicyName": "default",
            }))
        }
        other => Answer::json_error(
            400,
            "UnknownOperationException",
            &format!("fleetsim does not serve {other}"),
        ),
    }
}

fn metadata(key: &Key, arn: &str, owner_id: &str) -> Value {
    json!({
        "AWSAccountId": owner_id,
        "KeyId": key.id,
        "Arn": arn,
        "CreationDate": key.created as f64,
        "Enabled": true,
        "Description": if key.aws_managed { "Default key that protects my RDS database volumes when no other key is defined" } else { "RDS data key" },
        "KeyUsage": "ENCRYPT_DECRYPT",
        "KeyState": "Enabled",
        "Origin": "AWS_KMS",
        "KeyManager": if key.aws_managed { "AWS" } else { "CUSTOMER" },
        "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT",
        "KeySpec": "SYMMETRIC_DEFAULT",
        "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
        "MultiRegion": false,
    })
}

fn policy(fleet: &Fleet, key: &Key, owner_id: &str) -> String {
    let vault = fleet.vault_id();
    let mut statements = vec![json!({
        "Sid": "Enable IAM User Permissions",
        "Effect": "Allow",
        "Principal": { "AWS": format!("arn:aws:iam::{owner_id}:root") },
        "Action": "kms:*",
        "Resource": "*",
    })];
    if !key.aws_managed && owner_id != fleet.account_id(VAULT) {
        let actions: &[&str] = match key.policy {
            KeyPolicy::MissingGrant => &["kms:Decrypt", "kms:DescribeKey"],
            _ => &["kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant"],
        };
        statements.push(json!({
            "Sid": "AllowVaultCopies",
            "Effect": "Allow",
            "Principal": { "AWS": format!("arn:aws:iam::{vault}:root") },
            "Action": actions,
            "Resource": "*",
        }));
    }
    json!({ "Version": "2012-10-17", "Id": "key-default-1", "Statement": statements }).to_string()
}
