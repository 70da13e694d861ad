//! The least-privilege IAM policies each mode needs (`rdsguard iam-policy`), from one table of the API
//! calls the code makes. A test under IAM enforcement grants exactly these and runs the mode; removing any
//! one action must make it fail.

use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Mode {
    /// `rdsguard audit` (read-only).
    Audit,
    /// `rdsguard audit --remediate` and `rdsguard rollback` (includes audit).
    Remediate,
    /// `rdsguard audit --security-hub` (add to audit).
    SecurityHub,
}

/// Called with the caller's own credentials (management or delegated administrator account).
const CALLER: &[&str] = &[
    "organizations:ListAccounts",
    "organizations:DescribeOrganization",
];

/// Called in every member account through the role.
const AUDIT: &[&str] = &[
    "rds:DescribeDBInstances",
    "rds:DescribeDBClusters",
    "rds:DescribeDBSnapshots",
    "rds:DescribeDBClusterSnapshots",
    "rds:DescribeDBSnapshotAttributes",
    "rds:DescribeDBClusterSnapshotAttributes",
    "kms:DescribeKey",
    "kms:GetKeyPolicy",
    // Only where rules restore: where the secret points (rdsguard keeps the endpoint fields only),
    // and kms:Decrypt for secrets encrypted under a customer managed key.
    "secretsmanager:GetSecretValue",
    "kms:Decrypt",
];

const SECURITY_HUB: &[&str] = &["securityhub:BatchImportFindings", "securityhub:GetFindings"];

const REMEDIATE: &[&str] = &[
    "rds:CreateDBSnapshot",
    "rds:CreateDBClusterSnapshot",
    "rds:CopyDBSnapshot",
    "rds:CopyDBClusterSnapshot",
    "rds:ModifyDBSnapshotAttribute",
    "rds:ModifyDBClusterSnapshotAttribute",
    "rds:DeleteDBSnapshot",
    "rds:DeleteDBClusterSnapshot",
    "rds:AddTagsToResource",
    "rds:RestoreDBInstanceFromDBSnapshot",
    "rds:DeleteDBInstance",
    // Aurora: a cluster restored from the replica, with one instance.
    "rds:RestoreDBClusterFromSnapshot",
    "rds:CreateDBInstance",
    "rds:DeleteDBCluster",
    // Copies under another key, and copies of snapshots shared under a source account's key.
    "kms:CreateGrant",
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKeyWithoutPlaintext",
    // Writing a secret encrypted under a customer managed key.
    "kms:GenerateDataKey",
    "secretsmanager:PutSecretValue",
];

/// The actions of the member role for these modes, sorted and without repeats.
pub fn member_actions(modes: &[Mode]) -> Vec<&'static str> {
    let mut actions: Vec<&str> = AUDIT.to_vec();
    if modes.contains(&Mode::Remediate) {
        actions.extend(REMEDIATE);
    }
    if modes.contains(&Mode::SecurityHub) {
        actions.extend(SECURITY_HUB);
    }
    actions.sort_unstable();
    actions.dedup();
    actions
}

pub struct Options<'a> {
    pub modes: &'a [Mode],
    /// `aws`, `aws-cn`, `aws-us-gov`.
    pub partition: &'a str,
    pub role_name: &'a str,
    /// The account the caller runs in (the member role's trust names it); `*` placeholder when unknown.
    pub caller_account: Option<&'a str>,
    pub external_id: Option<&'a str>,
}

/// Three documents: the caller's policy, the member role's policy, the member role's trust policy.
pub fn policies(options: &Options<'_>) -> Value {
    let mut caller_actions: Vec<&str> = CALLER.to_vec();
    caller_actions.sort_unstable();
    let caller = json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ReadTheOrganization", "Effect": "Allow", "Action": caller_actions, "Resource": "*"},
            {"Sid": "AssumeTheMemberRole", "Effect": "Allow", "Action": "sts:AssumeRole",
             "Resource": format!("arn:{}:iam::*:role/{}", options.partition, options.role_name)},
            // The caller's own account is read with the caller's credentials, not through the role.
            {"Sid": "ReadTheCallersOwnAccount", "Effect": "Allow",
             "Action": member_actions(options.modes), "Resource": "*"}
        ]
    });
    let member = json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Rdsguard", "Effect": "Allow", "Action": member_actions(options.modes), "Resource": "*"}
        ]
    });
    let principal = match options.caller_account {
        Some(account) => format!("arn:{}:iam::{account}:root", options.partition),
        None => format!("arn:{}:iam::CALLER_ACCOUNT_ID:root", options.partition),
    };
    let mut trust_statement = json!({
        "Effect": "Allow",
        "Principal": {"AWS": principal},
        "Action": "sts:AssumeRole"
    });
    if let Some(external_id) = options.external_id {
        trust_statement["Condition"] = json!({"StringEquals": {"sts:ExternalId": external_id}});
    }
    json!({
        "caller_policy": caller,
        "member_role_policy": member,
        "member_role_trust_policy": {"Version": "2012-10-17", "Statement": [trust_statement]},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_add_up_and_audit_is_read_only() {
        let audit = member_actions(&[Mode::Audit]);
        assert!(audit.iter().all(|a| {
            let name = a.split(':').nth(1).unwrap_or_default();
            // kms:Decrypt reads a CMK-encrypted secret; it changes nothing.
            name.starts_with("Describe")
                || name.starts_with("Get")
                || name.starts_with("List")
                || *a == "kms:Decrypt"
        }));
        let remediate = member_actions(&[Mode::Remediate]);
        assert!(
            audit.iter().all(|a| remediate.contains(a)),
            "remediate includes audit"
        );
        assert!(remediate.contains(&"rds:CopyDBSnapshot"));
        let hub = member_actions(&[Mode::Audit, Mode::SecurityHub]);
        assert!(hub.contains(&"securityhub:BatchImportFindings"));
        assert!(!hub.contains(&"rds:CopyDBSnapshot"));
    }

    #[test]
    fn the_trust_policy_names_the_caller_and_the_external_id() {
        let doc = policies(&Options {
            modes: &[Mode::Audit],
            partition: "aws",
            role_name: "OrganizationAccountAccessRole",
            caller_account: Some("111111111111"),
            external_id: Some("nightly"),
        });
        let trust = &doc["member_role_trust_policy"]["Statement"][0];
        assert_eq!(trust["Principal"]["AWS"], "arn:aws:iam::111111111111:root");
        assert_eq!(
            trust["Condition"]["StringEquals"]["sts:ExternalId"],
            "nightly"
        );
        assert_eq!(
            doc["caller_policy"]["Statement"][1]["Resource"],
            "arn:aws:iam::*:role/OrganizationAccountAccessRole"
        );
    }
}
