//! The scope of the printed IAM documents, proven offline: moto judges actions only (tests/integration/
//! iam.rs), so what the conditions and resource ARNs allow is evaluated here with
//! `@cloud-copilot/iam-simulate` (AWS's policy evaluation logic and its published actions, resource
//! types and condition keys), and linted with `parliament`. Both are test-only tools that
//! `make iam-tools` installs (tests/iam: package.json + package-lock.json, requirements.txt).
//!
//! The table below is docs/architecture.md's "What the documents allow, request by request", row by
//! row: the test fails when the two differ.

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

use crate::harness::{repo, run_json, Cmd};

const R: &str = "us-east-1";
/// A destination region other than the sources'.
const FAR: &str = "eu-west-1";
const CALLER: &str = "999999999999";
const SOURCE: &str = "111111111111";
const VAULT: &str = "222222222222";
const ORG: &str = "o-rdsguard01";
/// An account outside the organization, whose key policy lets anyone use its key.
const OUTSIDE: &str = "444444444444";
const EXTERNAL_ID: &str = "rdsguard-nightly";

/// Who makes a request, with which of the printed documents.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    /// The member role in a source account: `audit_role_policy` + `source_remediation_policy`.
    Source,
    /// The member role in the vault: `audit_role_policy` + `vault_remediation_policy`.
    Vault,
    /// The member role of an audit-only deployment: `audit_role_policy`.
    Auditor,
    /// The member role in the vault of a deployment that runs drills: `audit_role_policy` +
    /// `drill_policy`.
    Driller,
    /// The caller (`caller_policy`), in its own account.
    Caller,
    /// Another role in the caller's account, with the caller's policy.
    OtherCallerRole,
}

impl Who {
    fn name(self) -> &'static str {
        match self {
            Who::Source => "source role",
            Who::Vault => "vault role",
            Who::Auditor => "audit role",
            Who::Driller => "vault role running drills",
            Who::Caller => "caller",
            Who::OtherCallerRole => "other role of the caller's account",
        }
    }

    fn account(self) -> &'static str {
        match self {
            Who::Source | Who::Auditor => SOURCE,
            Who::Vault | Who::Driller => VAULT,
            Who::Caller | Who::OtherCallerRole => CALLER,
        }
    }

    fn principal(self) -> String {
        match self {
            Who::Caller => format!("arn:aws:iam::{CALLER}:role/rdsguard-runner"),
            Who::OtherCallerRole => format!("arn:aws:iam::{CALLER}:role/developer"),
            _ => format!("arn:aws:iam::{}:role/rdsguard", self.account()),
        }
    }

    fn documents(self) -> &'static [&'static str] {
        match self {
            Who::Source => &["audit_role_policy", "source_remediation_policy"],
            Who::Vault => &["audit_role_policy", "vault_remediation_policy"],
            Who::Auditor => &["audit_role_policy"],
            Who::Driller => &["audit_role_policy", "drill_policy"],
            Who::Caller | Who::OtherCallerRole => &["caller_policy"],
        }
    }
}

struct Row {
    allowed: bool,
    who: Who,
    action: &'static str,
    resource: String,
    context: Value,
    /// What the row stands for.
    what: &'static str,
}

fn rds(account: &str, resource: &str) -> String {
    format!("arn:aws:rds:{R}:{account}:{resource}")
}

fn backup_vault(account: &str, name: &str) -> String {
    format!("arn:aws:backup:{R}:{account}:backup-vault:{name}")
}

fn key(account: &str, id: &str) -> String {
    format!("arn:aws:kms:{R}:{account}:key/{id}")
}

fn secret(name: &str) -> String {
    format!("arn:aws:secretsmanager:{R}:{VAULT}:secret:{name}-Ab12Cd")
}

/// The tags rdsguard sets on what it creates (remediate::plan), as request context.
fn creating(extra: &[&str]) -> Value {
    let mut keys = vec![
        "rdsguard:managed",
        "rdsguard:role",
        "rdsguard:run-id",
        "rdsguard:source-arn",
    ];
    keys.extend_from_slice(extra);
    json!({"aws:RequestTag/rdsguard:managed": "true", "aws:TagKeys": keys})
}

/// The tags of a drill instance, as request context.
fn drilling() -> Value {
    json!({
        "aws:RequestTag/rdsguard:managed": "true",
        "aws:RequestTag/rdsguard:drill": "arn:aws:rds:us-east-1:222222222222:snapshot:rdsguard-111111111111-orders-20261129030000-abcdefgh",
        "aws:TagKeys": ["rdsguard:drill", "rdsguard:managed", "rdsguard:role"]
    })
}

/// A DB instance created or restored not publicly accessible.
fn private() -> Value {
    json!({"rds:PubliclyAccessible": "false"})
}

/// A DB instance created or restored publicly accessible.
fn public() -> Value {
    json!({"rds:PubliclyAccessible": "true"})
}

fn managed() -> Value {
    json!({"aws:ResourceTag/rdsguard:managed": "true"})
}

/// A KMS request made through `service`, on a key of the organization.
fn via(service: &str) -> Value {
    json!({"kms:ViaService": format!("{service}.{R}.amazonaws.com"), "aws:ResourceOrgID": ORG})
}

fn grant() -> Value {
    with(via("rds"), json!({"kms:GrantIsForAWSResource": "true"}))
}

fn with(mut a: Value, b: Value) -> Value {
    if let (Some(a), Some(b)) = (a.as_object_mut(), b.as_object()) {
        a.extend(b.clone());
    }
    a
}

fn trust_context() -> Value {
    json!({"sts:ExternalId": EXTERNAL_ID, "aws:PrincipalOrgID": ORG, "aws:ResourceOrgID": ORG})
}

/// Representative requests of a full `audit --remediate` run (allowed) and what must stay out of
/// reach (denied).
fn table() -> Vec<Row> {
    let transit = "snapshot:rdsguard-orders-20261129030000-abcdefgh";
    let shareable = "snapshot:rdsguard-orders-20261129030000-abcdefgh-shareable";
    let replica = "snapshot:rdsguard-111111111111-orders-20261129030000-abcdefgh";
    let cluster_replica = "cluster-snapshot:rdsguard-111111111111-ledger-20261129030000-abcdefgh";
    let restore = "db:rdsguard-orders-20261129030000-abcdefgh";
    let cluster_restore = "cluster:rdsguard-ledger-20261129030000-abcdefgh";
    let drill = "db:rdsguard-drill-orders-20261129030000-abcdefgh";
    let drill_cluster = "cluster:rdsguard-drill-ledger-20261129030000-abcdefgh";
    let drill_member = "db:rdsguard-drill-ledger-20261129030000-abcdefgh-1";
    let row = |allowed, who, action, resource: String, context: Value, what| Row {
        allowed,
        who,
        action,
        resource,
        context,
        what,
    };
    use Who::*;
    vec![
        // Audit.
        row(
            true,
            Auditor,
            "rds:DescribeDBSnapshots",
            "*".into(),
            json!({}),
            "list snapshots",
        ),
        row(
            true,
            Auditor,
            "rds:DescribeOptionGroups",
            "*".into(),
            json!({}),
            "list a source account's option groups",
        ),
        row(
            true,
            Auditor,
            "rds:DescribeBlueGreenDeployments",
            rds(SOURCE, "deployment:bgd-0123456789abcdef"),
            json!({}),
            "tell the green side of a Blue/Green deployment apart",
        ),
        row(
            true,
            Auditor,
            "kms:GetKeyPolicy",
            key(SOURCE, "share"),
            json!({}),
            "read a source key's policy",
        ),
        row(
            true,
            Vault,
            "secretsmanager:GetSecretValue",
            secret("rds/orders"),
            json!({}),
            "read the secret a rule's restore names",
        ),
        row(
            true,
            Vault,
            "kms:Decrypt",
            key(VAULT, "secrets"),
            via("secretsmanager"),
            "decrypt that secret, through Secrets Manager",
        ),
        // Source account: snapshot, re-encrypt, share, clean up.
        row(
            true,
            Source,
            "rds:CreateDBSnapshot",
            rds(SOURCE, "db:orders"),
            creating(&[]),
            "snapshot the source database",
        ),
        row(
            true,
            Source,
            "rds:CreateDBSnapshot",
            rds(SOURCE, transit),
            creating(&[]),
            "the new snapshot, with rdsguard's tags",
        ),
        row(
            true,
            Source,
            "rds:AddTagsToResource",
            rds(SOURCE, transit),
            creating(&[]),
            "its tags, on creation",
        ),
        row(
            true,
            Source,
            "rds:CreateDBClusterSnapshot",
            rds(SOURCE, "cluster:ledger"),
            creating(&[]),
            "snapshot the source cluster",
        ),
        row(
            true,
            Source,
            "rds:CopyDBSnapshot",
            rds(SOURCE, transit),
            with(managed(), creating(&[])),
            "re-encrypt: copy from rdsguard's snapshot",
        ),
        row(
            true,
            Source,
            "rds:CopyDBSnapshot",
            rds(SOURCE, shareable),
            creating(&[]),
            "re-encrypt: the copy under the shareable key",
        ),
        row(
            true,
            Source,
            "kms:CreateGrant",
            key(SOURCE, "share"),
            grant(),
            "RDS's grant on the shareable key",
        ),
        row(
            true,
            Source,
            "kms:ReEncryptTo",
            key(SOURCE, "share"),
            via("rds"),
            "RDS re-encrypts under the shareable key",
        ),
        row(
            true,
            Source,
            "rds:ModifyDBSnapshotAttribute",
            rds(SOURCE, shareable),
            managed(),
            "share rdsguard's snapshot with the vault",
        ),
        // Source account, remediate = "backup": AWS Backup jobs.
        row(
            true,
            Source,
            "backup:StartBackupJob",
            backup_vault(SOURCE, "Default"),
            json!({}),
            "an on-demand backup into the rule's source vault",
        ),
        row(
            false,
            Source,
            "backup:StartBackupJob",
            backup_vault(SOURCE, "scratch"),
            json!({}),
            "a backup into a vault no rule names",
        ),
        row(
            true,
            Source,
            "iam:PassRole",
            format!("arn:aws:iam::{SOURCE}:role/service-role/AWSBackupDefaultServiceRole"),
            json!({"iam:PassedToService": "backup.amazonaws.com"}),
            "hand the rule's backup role to AWS Backup",
        ),
        row(
            false,
            Source,
            "iam:PassRole",
            format!("arn:aws:iam::{SOURCE}:role/service-role/AWSBackupDefaultServiceRole"),
            json!({"iam:PassedToService": "ec2.amazonaws.com"}),
            "hand that role to another service",
        ),
        row(
            false,
            Source,
            "iam:PassRole",
            format!("arn:aws:iam::{SOURCE}:role/admin"),
            json!({"iam:PassedToService": "backup.amazonaws.com"}),
            "hand AWS Backup a role no rule names",
        ),
        // Vault account, `rdsguard drill`.
        row(
            true,
            Driller,
            "rds:RestoreDBInstanceFromDBSnapshot",
            rds(VAULT, replica),
            json!({}),
            "restore the newest replica for a drill",
        ),
        row(
            true,
            Driller,
            "rds:RestoreDBInstanceFromDBSnapshot",
            rds(VAULT, drill),
            with(drilling(), private()),
            "into a drill instance with rdsguard's drill tags",
        ),
        row(
            false,
            Driller,
            "rds:RestoreDBInstanceFromDBSnapshot",
            rds(VAULT, drill),
            with(drilling(), public()),
            "into a publicly accessible drill instance",
        ),
        row(
            true,
            Driller,
            "rds:RestoreDBClusterFromSnapshot",
            rds(VAULT, cluster_replica),
            json!({}),
            "restore the newest cluster snapshot for a drill",
        ),
        row(
            true,
            Driller,
            "rds:RestoreDBClusterFromSnapshot",
            rds(VAULT, drill_cluster),
            drilling(),
            "into a drill cluster with rdsguard's drill tags",
        ),
        row(
            false,
            Driller,
            "rds:RestoreDBClusterFromSnapshot",
            rds(VAULT, drill_cluster),
            creating(&[]),
            "into a cluster without the drill tag",
        ),
        row(
            true,
            Driller,
            "rds:CreateDBInstance",
            rds(VAULT, drill_member),
            with(drilling(), private()),
            "the drill cluster's instance, not publicly accessible",
        ),
        row(
            false,
            Driller,
            "rds:CreateDBInstance",
            rds(VAULT, drill_member),
            with(drilling(), public()),
            "a publicly accessible drill cluster instance",
        ),
        row(
            false,
            Driller,
            "rds:CreateDBInstance",
            rds(VAULT, "db:orders-2"),
            with(drilling(), private()),
            "an instance not named as a drill",
        ),
        row(
            true,
            Driller,
            "rds:AddTagsToResource",
            rds(VAULT, drill),
            drilling(),
            "the drill tags on what AWS Backup restored for a drill",
        ),
        row(
            false,
            Driller,
            "rds:AddTagsToResource",
            rds(VAULT, "db:orders-2"),
            drilling(),
            "the drill tags on an instance not named as a drill",
        ),
        row(
            true,
            Driller,
            "backup:StartRestoreJob",
            rds(VAULT, "snapshot:awsbackup:copyjob-1f2e"),
            json!({}),
            "have AWS Backup restore a recovery point for a drill",
        ),
        row(
            true,
            Driller,
            "iam:PassRole",
            format!("arn:aws:iam::{VAULT}:role/service-role/AWSBackupDefaultServiceRole"),
            json!({"iam:PassedToService": "backup.amazonaws.com"}),
            "hand AWS Backup the drill's restore role",
        ),
        row(
            false,
            Driller,
            "iam:PassRole",
            format!("arn:aws:iam::{VAULT}:role/admin"),
            json!({"iam:PassedToService": "backup.amazonaws.com"}),
            "hand AWS Backup a role no rule names for drills",
        ),
        row(
            false,
            Driller,
            "rds:RestoreDBInstanceFromDBSnapshot",
            rds(VAULT, drill),
            creating(&[]),
            "into an instance without the drill tag",
        ),
        row(
            false,
            Driller,
            "rds:RestoreDBInstanceFromDBSnapshot",
            rds(VAULT, "db:orders-copy"),
            with(drilling(), private()),
            "into an instance not named as a drill",
        ),
        row(
            true,
            Driller,
            "rds:DeleteDBInstance",
            rds(VAULT, drill),
            json!({"aws:ResourceTag/rdsguard:managed": "true", "aws:ResourceTag/rdsguard:drill": rds(VAULT, replica)}),
            "delete the drill instance",
        ),
        row(
            false,
            Driller,
            "rds:DeleteDBInstance",
            rds(VAULT, drill),
            managed(),
            "delete a drill-named instance without the drill tag",
        ),
        row(
            false,
            Driller,
            "rds:DeleteDBInstance",
            rds(VAULT, restore),
            managed(),
            "delete remediation's restore",
        ),
        row(
            true,
            Driller,
            "rds:DeleteDBCluster",
            rds(VAULT, drill_cluster),
            json!({"aws:ResourceTag/rdsguard:managed": "true", "aws:ResourceTag/rdsguard:drill": rds(VAULT, cluster_replica)}),
            "delete the drill cluster",
        ),
        row(
            false,
            Driller,
            "rds:DeleteDBCluster",
            rds(VAULT, cluster_restore),
            managed(),
            "delete remediation's restored cluster",
        ),
        row(
            true,
            Driller,
            "rds:AddTagsToResource",
            rds(VAULT, replica),
            json!({"aws:TagKeys": ["rdsguard:drill-at", "rdsguard:drill-restore-seconds", "rdsguard:drill-result"]}),
            "write the drill evidence on the replica",
        ),
        row(
            true,
            Driller,
            "rds:AddTagsToResource",
            rds(VAULT, cluster_replica),
            json!({"aws:TagKeys": ["rdsguard:drill-at", "rdsguard:drill-restore-seconds", "rdsguard:drill-result"]}),
            "write the drill evidence on a cluster snapshot",
        ),
        row(
            false,
            Driller,
            "rds:AddTagsToResource",
            rds(VAULT, replica),
            json!({"aws:TagKeys": ["rdsguard:source-arn"]}),
            "any other tag on a snapshot",
        ),
        row(
            true,
            Driller,
            "kms:CreateGrant",
            key(VAULT, "vault"),
            grant(),
            "RDS's grant on the vault key, to restore an encrypted replica",
        ),
        row(
            false,
            Driller,
            "kms:CreateGrant",
            key(VAULT, "vault"),
            via("rds"),
            "a grant on the vault key that is not for an AWS resource",
        ),
        row(
            true,
            Source,
            "rds:DeleteDBSnapshot",
            rds(SOURCE, transit),
            managed(),
            "clean up rdsguard's transit snapshot",
        ),
        row(
            true,
            Source,
            "rds:ModifyDBClusterSnapshotAttribute",
            rds(
                SOURCE,
                "cluster-snapshot:rdsguard-ledger-20261129030000-abcdefgh",
            ),
            managed(),
            "share rdsguard's cluster snapshot",
        ),
        // Vault: copy in, restore, repoint, prune.
        row(
            true,
            Vault,
            "rds:CopyDBSnapshot",
            rds(VAULT, shareable),
            with(managed(), creating(&["rdsguard:data-time"])),
            "copy from the shared snapshot (evaluated as in the vault: RDS has no resource policy)",
        ),
        row(
            true,
            Vault,
            "rds:CopyDBSnapshot",
            rds(VAULT, replica),
            creating(&["rdsguard:data-time"]),
            "the replica, with rdsguard's tags",
        ),
        // One step across accounts and regions (--cross-region-copy one-step): called in the
        // destination region with the shared snapshot's ARN in the source's region.
        row(
            true,
            Vault,
            "rds:CopyDBClusterSnapshot",
            rds(
                VAULT,
                "cluster-snapshot:rdsguard-ledger-20261129030000-abcdefgh",
            ),
            managed(),
            "one-step copy: from the shared cluster snapshot in the source's region",
        ),
        row(
            true,
            Vault,
            "rds:CopyDBSnapshot",
            format!("arn:aws:rds:{FAR}:{VAULT}:{replica}"),
            creating(&["rdsguard:data-time"]),
            "one-step copy: the replica in the destination region",
        ),
        row(
            true,
            Vault,
            "kms:ReEncryptTo",
            format!("arn:aws:kms:{FAR}:{VAULT}:key/vault"),
            json!({"kms:ViaService": format!("rds.{FAR}.amazonaws.com"), "aws:ResourceOrgID": ORG}),
            "one-step copy: RDS encrypts under the vault key in the destination region",
        ),
        row(
            false,
            Vault,
            "rds:CopyDBSnapshot",
            rds(VAULT, "snapshot:orders-nightly"),
            json!({}),
            "one-step copy: never from a snapshot that is not rdsguard's",
        ),
        // `share` reads who the snapshot is shared with before it adds the vault (at most 20).
        row(
            true,
            Source,
            "rds:DescribeDBSnapshotAttributes",
            rds(SOURCE, shareable),
            managed(),
            "read the restore attribute of rdsguard's snapshot before sharing it",
        ),
        row(
            true,
            Vault,
            "kms:Decrypt",
            key(SOURCE, "share"),
            via("rds"),
            "RDS decrypts with the source's shared key (cross-account)",
        ),
        row(
            true,
            Vault,
            "kms:CreateGrant",
            key(SOURCE, "share"),
            grant(),
            "RDS's grant on the source's shared key (cross-account)",
        ),
        row(
            true,
            Vault,
            "kms:GenerateDataKeyWithoutPlaintext",
            key(VAULT, "vault"),
            via("rds"),
            "RDS encrypts the replica under the vault key",
        ),
        row(
            true,
            Vault,
            "rds:RestoreDBInstanceFromDBSnapshot",
            rds(VAULT, replica),
            managed(),
            "restore from rdsguard's replica",
        ),
        row(
            true,
            Vault,
            "rds:RestoreDBInstanceFromDBSnapshot",
            rds(VAULT, restore),
            with(creating(&["rdsguard:restored-from"]), private()),
            "into an instance with rdsguard's name and tags, not publicly accessible",
        ),
        row(
            false,
            Vault,
            "rds:RestoreDBInstanceFromDBSnapshot",
            rds(VAULT, restore),
            with(creating(&["rdsguard:restored-from"]), public()),
            "never into a publicly accessible instance",
        ),
        row(
            false,
            Vault,
            "rds:RestoreDBInstanceFromDBSnapshot",
            rds(VAULT, restore),
            creating(&["rdsguard:restored-from"]),
            "nor without saying it is not publicly accessible",
        ),
        row(
            true,
            Vault,
            "rds:RestoreDBInstanceFromDBSnapshot",
            rds(VAULT, "subgrp:vault-private"),
            with(creating(&["rdsguard:restored-from"]), private()),
            "in the rule's subnet group",
        ),
        row(
            true,
            Vault,
            "rds:RestoreDBClusterFromSnapshot",
            rds(VAULT, cluster_replica),
            managed(),
            "restore a cluster from rdsguard's replica",
        ),
        row(
            true,
            Vault,
            "rds:RestoreDBClusterFromSnapshot",
            rds(VAULT, cluster_restore),
            creating(&["rdsguard:restored-from"]),
            "into a cluster with rdsguard's name and tags",
        ),
        row(
            true,
            Vault,
            "rds:CreateDBInstance",
            rds(VAULT, "db:rdsguard-ledger-20261129030000-abcdefgh-1"),
            with(creating(&["rdsguard:restored-from"]), private()),
            "the restored cluster's instance",
        ),
        row(
            false,
            Vault,
            "rds:CreateDBInstance",
            rds(VAULT, "db:rdsguard-ledger-20261129030000-abcdefgh-1"),
            with(creating(&["rdsguard:restored-from"]), public()),
            "never a publicly accessible instance in the restored cluster",
        ),
        row(
            true,
            Vault,
            "rds:CreateDBInstance",
            rds(VAULT, cluster_restore),
            with(creating(&["rdsguard:restored-from"]), private()),
            "in the restored cluster (the cluster it joins)",
        ),
        row(
            true,
            Vault,
            "secretsmanager:PutSecretValue",
            secret("rds/orders"),
            json!({}),
            "repoint the rule's secret",
        ),
        row(
            true,
            Vault,
            "kms:GenerateDataKey",
            key(VAULT, "secrets"),
            via("secretsmanager"),
            "encrypt that secret, through Secrets Manager",
        ),
        row(
            true,
            Vault,
            "rds:AddTagsToResource",
            rds(VAULT, "db:rdsguard-orders-20261128030000-abcdefgh"),
            json!({"aws:TagKeys": ["rdsguard:superseded-at"]}),
            "mark the restore the secret left",
        ),
        row(
            true,
            Vault,
            "rds:DeleteDBInstance",
            rds(VAULT, "db:rdsguard-orders-20261120030000-abcdefgh"),
            managed(),
            "prune rdsguard's older restore",
        ),
        row(
            true,
            Vault,
            "rds:DeleteDBCluster",
            rds(VAULT, "cluster:rdsguard-ledger-20261120030000-abcdefgh"),
            managed(),
            "prune rdsguard's older cluster restore",
        ),
        row(
            true,
            Vault,
            "rds:DeleteDBInstance",
            rds(VAULT, "db:rdsguard-ledger-20261120030000-abcdefgh-1"),
            managed(),
            "its instance, before it",
        ),
        row(
            true,
            Vault,
            "rds:DeleteDBSnapshot",
            rds(VAULT, replica),
            managed(),
            "prune rdsguard's older replica",
        ),
        // Caller.
        row(
            true,
            Caller,
            "organizations:ListAccounts",
            "*".into(),
            json!({}),
            "list the organization's accounts",
        ),
        row(
            true,
            Caller,
            "sts:AssumeRole",
            format!("arn:aws:iam::{SOURCE}:role/rdsguard"),
            trust_context(),
            "assume the member role (trust policy with external id and organization)",
        ),
        row(
            true,
            Caller,
            "rds:DeleteDBSnapshot",
            rds(CALLER, transit),
            managed(),
            "its own account: rdsguard's snapshots only, as in a member",
        ),
        // Denied: deletes of what rdsguard did not make.
        row(
            false,
            Source,
            "rds:DeleteDBInstance",
            rds(SOURCE, "db:orders"),
            managed(),
            "delete a database in a source account, even one tagged rdsguard:managed",
        ),
        row(
            false,
            Source,
            "rds:DeleteDBCluster",
            rds(SOURCE, "cluster:ledger"),
            managed(),
            "delete a cluster in a source account, even one tagged",
        ),
        row(
            false,
            Source,
            "rds:DeleteDBSnapshot",
            rds(SOURCE, "snapshot:orders-nightly"),
            json!({}),
            "delete an untagged snapshot in a source account",
        ),
        row(
            false,
            Source,
            "rds:DeleteDBClusterSnapshot",
            rds(SOURCE, "cluster-snapshot:ledger-nightly"),
            json!({}),
            "delete an untagged cluster snapshot in a source account",
        ),
        row(
            false,
            Vault,
            "rds:DeleteDBInstance",
            rds(VAULT, "db:billing"),
            json!({}),
            "delete an untagged database in the vault",
        ),
        row(
            false,
            Vault,
            "rds:DeleteDBCluster",
            rds(VAULT, "cluster:reporting"),
            json!({}),
            "delete an untagged cluster in the vault",
        ),
        row(
            false,
            Vault,
            "rds:DeleteDBSnapshot",
            rds(VAULT, "snapshot:backup-of-another-tool"),
            json!({}),
            "delete an untagged snapshot in the vault",
        ),
        row(
            false,
            Vault,
            "rds:DeleteDBClusterSnapshot",
            rds(VAULT, "cluster-snapshot:backup-of-another-tool"),
            json!({}),
            "delete an untagged cluster snapshot in the vault",
        ),
        // Denied: sharing and tagging what rdsguard did not make.
        row(
            false,
            Source,
            "rds:ModifyDBSnapshotAttribute",
            rds(SOURCE, "snapshot:orders-manual"),
            json!({}),
            "share a snapshot rdsguard did not make",
        ),
        row(
            false,
            Source,
            "rds:ModifyDBClusterSnapshotAttribute",
            rds(SOURCE, "cluster-snapshot:ledger-manual"),
            json!({}),
            "share a cluster snapshot rdsguard did not make",
        ),
        row(
            false,
            Vault,
            "rds:ModifyDBSnapshotAttribute",
            rds(VAULT, replica),
            managed(),
            "share from the vault, even rdsguard's replica",
        ),
        row(
            false,
            Source,
            "rds:AddTagsToResource",
            rds(SOURCE, "snapshot:orders-nightly"),
            creating(&[]),
            "tag a snapshot rdsguard:managed to make it deletable",
        ),
        row(
            false,
            Vault,
            "rds:AddTagsToResource",
            rds(VAULT, "db:billing"),
            json!({"aws:RequestTag/rdsguard:managed": "true", "aws:TagKeys": ["rdsguard:managed"]}),
            "tag a database rdsguard:managed to make it deletable",
        ),
        // Denied: creating without rdsguard's tags, from what is not rdsguard's.
        row(
            false,
            Source,
            "rds:CreateDBSnapshot",
            rds(SOURCE, transit),
            json!({}),
            "a snapshot without rdsguard's tags",
        ),
        row(
            false,
            Source,
            "rds:CopyDBSnapshot",
            rds(SOURCE, "snapshot:orders-nightly"),
            creating(&[]),
            "copy a snapshot rdsguard did not make",
        ),
        row(
            false,
            Vault,
            "rds:RestoreDBInstanceFromDBSnapshot",
            rds(VAULT, "snapshot:backup-of-another-tool"),
            creating(&[]),
            "restore a snapshot rdsguard did not make",
        ),
        row(
            false,
            Vault,
            "rds:RestoreDBInstanceFromDBSnapshot",
            rds(VAULT, restore),
            json!({}),
            "restore into an instance without rdsguard's tags",
        ),
        row(
            false,
            Auditor,
            "rds:CreateDBSnapshot",
            rds(SOURCE, transit),
            creating(&[]),
            "the audit role writes nothing",
        ),
        // Denied: secrets the rules do not name.
        row(
            false,
            Vault,
            "secretsmanager:GetSecretValue",
            secret("prod/payments-api"),
            json!({}),
            "read a secret the rules do not name",
        ),
        row(
            false,
            Vault,
            "secretsmanager:PutSecretValue",
            secret("prod/payments-api"),
            json!({}),
            "write a secret the rules do not name",
        ),
        row(
            false,
            Source,
            "secretsmanager:GetSecretValue",
            format!("arn:aws:secretsmanager:{R}:{SOURCE}:secret:rds/orders-Ab12Cd"),
            json!({}),
            "read a rule's secret name outside the destination account",
        ),
        // Denied: keys outside the services.
        row(
            false,
            Vault,
            "kms:Decrypt",
            key(VAULT, "vault"),
            json!({}),
            "decrypt directly",
        ),
        row(
            false,
            Vault,
            "kms:Decrypt",
            key(VAULT, "vault"),
            via("ec2"),
            "decrypt through another service",
        ),
        row(
            false,
            Source,
            "kms:ReEncryptTo",
            key(OUTSIDE, "outside"),
            with(via("rds"), json!({"aws:ResourceOrgID": "o-elsewhere01"})),
            "re-encrypt a copy under a key outside the organization",
        ),
        row(
            false,
            Source,
            "rds:ModifyDBSnapshotAttribute",
            rds(SOURCE, shareable),
            json!({}),
            "share a snapshot that lost its rdsguard:managed tag",
        ),
        row(
            false,
            Source,
            "kms:Decrypt",
            key(SOURCE, "secrets"),
            via("secretsmanager"),
            "decrypt through Secrets Manager with a key outside the destination accounts",
        ),
        row(
            false,
            Source,
            "kms:CreateGrant",
            key(SOURCE, "share"),
            via("rds"),
            "a grant that is not for an AWS resource",
        ),
        row(
            false,
            Source,
            "kms:ReEncryptFrom",
            key(SOURCE, "share"),
            via("secretsmanager"),
            "re-encrypt through Secrets Manager",
        ),
        // Denied: trust.
        row(
            false,
            OtherCallerRole,
            "sts:AssumeRole",
            format!("arn:aws:iam::{SOURCE}:role/rdsguard"),
            trust_context(),
            "another role of the caller's account assumes the member role",
        ),
        row(
            false,
            Caller,
            "sts:AssumeRole",
            format!("arn:aws:iam::{SOURCE}:role/rdsguard"),
            json!({"aws:PrincipalOrgID": ORG, "aws:ResourceOrgID": ORG}),
            "the caller, without the external id",
        ),
        row(
            false,
            Caller,
            "sts:AssumeRole",
            format!("arn:aws:iam::{SOURCE}:role/rdsguard"),
            json!({"sts:ExternalId": EXTERNAL_ID, "aws:PrincipalOrgID": "o-elsewhere01", "aws:ResourceOrgID": ORG}),
            "the caller, from another organization",
        ),
    ]
}

/// The documents without their scope: every identity statement on `*` without Condition; the trust
/// policy without Condition (its principal stays).
fn unscoped(documents: &Value) -> Value {
    let mut documents = documents.clone();
    for (name, document) in documents.as_object_mut().expect("documents") {
        for statement in document["Statement"].as_array_mut().expect("statements") {
            let statement = statement.as_object_mut().expect("statement");
            statement.remove("Condition");
            if name != "member_role_trust_policy" {
                statement.insert("Resource".into(), json!("*"));
            }
        }
    }
    documents
}

/// A row as a line of docs/architecture.md's table.
fn markdown(row: &Row) -> String {
    let context = row
        .context
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| match v {
                    Value::String(s) => format!("{k}={s}"),
                    other => format!("{k}={other}"),
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    format!(
        "| {} | {} | {} | `{}` | `{}` | {} | {} |",
        if row.allowed { "allowed" } else { "denied" },
        row.who.name(),
        row.who.documents().join(" + "),
        row.action,
        row.resource,
        if context.is_empty() {
            "none".to_string()
        } else {
            format!("`{context}`")
        },
        row.what
    )
}

/// The key policy: the key's account delegates to IAM, and the source's shareable key is granted
/// to the vault (as `source-key-shareable` requires).
fn key_policy(resource: &str) -> Value {
    let account = resource.split(':').nth(4).unwrap_or_default();
    let mut principals = vec![format!("arn:aws:iam::{account}:root")];
    if account == SOURCE {
        principals.push(format!("arn:aws:iam::{VAULT}:root"));
    }
    if account == OUTSIDE {
        principals = vec!["*".to_string()];
    }
    json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "DelegateToIam", "Effect": "Allow", "Principal": {"AWS": principals}, "Action": "kms:*", "Resource": "*"}
    ]})
}

fn node_tool(dir: &Path, script: &str, input: &Value) -> Value {
    let modules = dir.join("node_modules/@cloud-copilot/iam-simulate");
    assert!(
        modules.exists(),
        "{} not found: run `make iam-tools` (npm ci in tests/iam)",
        modules.display()
    );
    run_json(Command::new("node").arg(dir.join(script)), input, script)
}

/// The rules the documents are printed for: one restores with a secret, one only copies.
fn rules() -> String {
    format!(
        r#"[[rule]]
id = "restored"
select = {{ identifiers = ["orders", "ledger"], accounts = ["{SOURCE}"] }}
destination = {{ account = "{VAULT}", kms_key = "alias/rds-vault" }}
source_kms_key = "alias/rds-share"
max_age = "26h"
restore = {{ instance_class = "db.t3.micro", subnet_group = "vault-private", secret = "rds/{{identifier}}" }}

[[rule]]
id = "by-backup"
select = {{ identifiers = ["books"], accounts = ["{SOURCE}"] }}
destination = {{ account = "{VAULT}", replicas = ["backup"] }}
max_age = "26h"
remediate = "backup"
backup = {{ source_vault = "Default", destination_vault = "central" }}

[[rule]]
id = "all"
select = {{ accounts = ["{SOURCE}", "{CALLER}"] }}
destination = {{ account = "{VAULT}", kms_key = "alias/rds-vault" }}
source_kms_key = "alias/rds-share"
max_age = "26h"
"#
    )
}

fn printed(extra: &[&str]) -> Value {
    let mut cmd = Cmd::new();
    cmd.file("rules.toml", &rules());
    let caller = Who::Caller.principal();
    let mut args = vec![
        "iam-policy",
        "--mode",
        "remediate",
        "--mode",
        "security-hub",
        "--mode",
        "drill",
        "--role-name",
        "rdsguard",
        "--rules",
        "rules.toml",
        "--caller-role-arn",
        &caller,
        "--external-id",
        EXTERNAL_ID,
        "--organization-id",
        ORG,
    ];
    args.extend_from_slice(extra);
    let run = cmd.run(&args);
    assert_eq!(run.code, 0, "{run}");
    serde_json::from_str(&run.stdout).expect("iam-policy prints JSON")
}

fn request(id: usize, row: &Row, documents: &Value, one_role: bool) -> Value {
    let mut identity = serde_json::Map::new();
    for name in row.who.documents() {
        let name = if one_role && *name != "caller_policy" {
            "member_role_policy"
        } else {
            name
        };
        identity.insert(name.to_string(), documents[name].clone());
    }
    let (resource_account, resource_policy) = if row.action == "sts:AssumeRole" {
        (
            SOURCE.to_string(),
            documents["member_role_trust_policy"].clone(),
        )
    } else if row.action.starts_with("kms:") {
        let account = row
            .resource
            .split(':')
            .nth(4)
            .unwrap_or_default()
            .to_string();
        (account, key_policy(&row.resource))
    } else {
        // RDS and Secrets Manager resources of the principal's own account (a shared snapshot is
        // reached through its restore attribute, which no IAM document holds).
        (row.who.account().to_string(), Value::Null)
    };
    json!({
        "id": id.to_string(),
        "principal": row.who.principal(),
        "action": row.action,
        "resource": row.resource,
        "resourceAccount": resource_account,
        "context": row.context,
        "identityPolicies": identity,
        "resourcePolicy": resource_policy,
    })
}

#[test]
fn iam_simulate_allows_every_call_of_a_remediation_and_denies_what_is_not_rdsguards() {
    let documents = printed(&[]);
    let one_role = printed(&["--one-role"]);
    let rows = table();
    let mut requests: Vec<Value> = rows
        .iter()
        .enumerate()
        .map(|(i, row)| request(i, row, &documents, false))
        .collect();
    // The one-role deployment allows at least every request the separate roles make.
    let allowed: Vec<usize> = (0..rows.len()).filter(|i| rows[*i].allowed).collect();
    requests.extend(
        allowed
            .iter()
            .map(|i| request(1000 + i, &rows[*i], &one_role, true)),
    );
    // The denials come from the scope: without Resource and Condition, every denied request whose
    // action the documents name is allowed.
    let loose = unscoped(&documents);
    let denied: Vec<usize> = (0..rows.len()).filter(|i| !rows[*i].allowed).collect();
    requests.extend(
        denied
            .iter()
            .map(|i| request(2000 + i, &rows[*i], &loose, false)),
    );
    let results = node_tool(
        &repo().join("tests/iam"),
        "simulate.mjs",
        &json!({"requests": requests}),
    );
    let results = results.as_array().expect("results");
    assert_eq!(results.len(), requests.len());
    let mut failures = Vec::new();
    let mut denied_by_scope = 0;
    for result in results {
        let id: usize = result["id"]
            .as_str()
            .unwrap_or_default()
            .parse()
            .unwrap_or(0);
        let (row, variant) = match id {
            2000.. => (&rows[id - 2000], "[unscoped] "),
            1000.. => (&rows[id - 1000], "[one role] "),
            _ => (&rows[id], ""),
        };
        let allowed = if id >= 2000 {
            let named = row.who.documents().iter().any(|d| {
                rdsguard::iam::actions(&loose[*d])
                    .iter()
                    .any(|a| a == row.action)
            });
            if named && row.who != Who::OtherCallerRole {
                denied_by_scope += 1;
            }
            named && row.who != Who::OtherCallerRole
        } else {
            row.allowed
        };
        let want = if allowed {
            "Allowed"
        } else {
            "ImplicitlyDenied"
        };
        let label = format!(
            "{variant}{} {} {} {}",
            row.who.name(),
            row.action,
            row.resource,
            row.what
        );
        if !result["errors"].is_null() {
            failures.push(format!("{label}: simulator errors {}", result["errors"]));
        }
        if result["ignoredContextKeys"] != json!([]) {
            failures.push(format!(
                "{label}: context keys AWS does not evaluate for this action: {}",
                result["ignoredContextKeys"]
            ));
        }
        if result["result"] != want {
            failures.push(format!(
                "{label}: {} (want {want}; decided by {})",
                result["result"], result["decidedBy"]
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // The same table, row by row, in the docs.
    let docs = std::fs::read_to_string(repo().join("docs/architecture.md")).expect("docs");
    let lines: Vec<String> = rows.iter().map(markdown).collect();
    let missing: Vec<&String> = lines
        .iter()
        .filter(|l| !docs.contains(l.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/architecture.md lacks these rows (the whole table follows):\n{}\n\n{}",
        missing
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        lines.join("\n")
    );
    let documented = docs
        .lines()
        .filter(|l| l.starts_with("| allowed |") || l.starts_with("| denied |"))
        .count();
    assert_eq!(
        documented,
        rows.len(),
        "the docs' table has rows the test does not"
    );
    eprintln!(
        "iam-simulate: {} requests allowed, {} denied, as the table says; {} allowed with --one-role; \
         {denied_by_scope} of the denied allowed once Resource and Condition are removed (the others \
         name an action the principal's documents lack, or another principal)",
        allowed.len(),
        denied.len(),
        allowed.len()
    );
}

/// Calls on RDS recovery points, whose RDS snapshot ARNs AWS Backup's recoveryPoint resource type
/// does not describe, and calls on restore jobs, which take no resource.
const BACKUP_RDS_POINTS: &[&str] = &[
    "backup:StartCopyJob",
    "backup:StartRestoreJob",
    "backup:GetRecoveryPointRestoreMetadata",
    "backup:DescribeRestoreJob",
    "backup:ListRestoreJobs",
];

/// What parliament may say about the printed documents, and why (docs/architecture.md explains each).
fn explained(document: &str, finding: &Value) -> bool {
    let issue = finding["issue"].as_str().unwrap_or_default();
    let actions: Vec<&str> = finding["actions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let detail = finding["detail"].as_str().unwrap_or_default();
    match issue {
        // The Describe calls list every database and snapshot: no identifier to scope them to.
        // StartCopyJob copies the recovery point the backup job just made, StartRestoreJob restores a
        // drill's (BACKUP_RDS_POINTS).
        "RESOURCE_STAR" => {
            let named: Vec<&str> = detail.split('\'').filter(|a| a.contains(':')).collect();
            !named.is_empty()
                && named
                    .iter()
                    .all(|a| a.starts_with("rds:Describe") || BACKUP_RDS_POINTS.contains(a))
        }
        // RDS asks KMS for grants when it copies or restores under a customer managed key; AWS
        // Backup's jobs are handed the rules' backup roles (iam:PassRole, to backup.amazonaws.com).
        "PERMISSIONS_MANAGEMENT_ACTIONS" => {
            !actions.is_empty()
                && actions
                    .iter()
                    .all(|a| *a == "kms:creategrant" || *a == "iam:passrole")
        }
        // Parliament's bundled IAM definitions predate rds:PubliclyAccessible, which AWS's service
        // reference (iam-simulate's data) lists for these two actions; the simulator's rows judge it.
        "UNKNOWN_CONDITION_FOR_ACTION" => [
            "Unknown condition rds:PubliclyAccessible for action rds:CreateDBInstance",
            "Unknown condition rds:PubliclyAccessible for action rds:RestoreDBInstanceFromDBSnapshot",
        ]
        .contains(&detail),
        // The caller assumes the member roles: that is its job.
        "CREDENTIALS_EXPOSURE" => document == "caller_policy" && actions == ["sts:assumerole"],
        // Statements split by resource type (the source database vs the new snapshot, the replica
        // vs the new instance, the final snapshot DeleteDBCluster never makes): each statement names
        // the resource types one condition fits; together they name every type.
        "RESOURCE_MISMATCH" => [
            "rds:CreateDBSnapshot",
            "rds:CreateDBClusterSnapshot",
            "rds:RestoreDBInstanceFromDBSnapshot",
            "rds:RestoreDBClusterFromSnapshot",
            "rds:CreateDBInstance",
            "rds:DeleteDBCluster",
        ]
        .iter()
        .any(|a| detail.contains(a)),
        _ => false,
    }
}

#[test]
fn parliament_finds_nothing_the_docs_do_not_explain() {
    let python = repo().join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} not found: run `make iam-tools`",
        python.display()
    );
    let documents = printed(&[]);
    let mut identity = documents.clone();
    // Parliament lints identity policies; the trust policy (a resource policy) is judged by the
    // simulator's trust rows above.
    identity
        .as_object_mut()
        .expect("documents")
        .remove("member_role_trust_policy");
    let one_role = printed(&["--one-role"]);
    identity["member_role_policy"] = one_role["member_role_policy"].clone();
    let findings = run_json(
        Command::new(&python).arg(repo().join("tests/iam/lint.py")),
        &identity,
        "parliament (tests/iam/lint.py)",
    );
    let mut unexplained = Vec::new();
    let mut counts = std::collections::BTreeMap::new();
    for (document, list) in findings.as_object().expect("by document") {
        for finding in list.as_array().expect("findings") {
            *counts
                .entry(finding["issue"].as_str().unwrap_or_default().to_string())
                .or_insert(0) += 1;
            if !explained(document, finding) {
                unexplained.push(format!("{document}: {finding}"));
            }
        }
    }
    assert!(unexplained.is_empty(), "{}", unexplained.join("\n"));
    eprintln!("parliament: {counts:?}, all explained");
}
