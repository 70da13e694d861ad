//! The statements of each job's document: what a member role may do, scoped by rdsguard's tags and
//! names, the rules' secrets and `kms:ViaService`.

use super::*;

/// One statement; actions sorted, a single resource written as a string.
pub(super) fn statement(
    sid: &str,
    actions: &[&str],
    resources: Vec<String>,
    condition: Option<Value>,
) -> Value {
    let mut actions = actions.to_vec();
    actions.sort_unstable();
    actions.dedup();
    let mut s = Map::new();
    s.insert("Sid".into(), json!(sid));
    s.insert("Effect".into(), json!("Allow"));
    s.insert(
        "Action".into(),
        match actions.as_slice() {
            [one] => json!(one),
            many => json!(many),
        },
    );
    s.insert(
        "Resource".into(),
        match resources.as_slice() {
            [one] => json!(one),
            many => json!(many),
        },
    );
    if let Some(condition) = condition {
        s.insert("Condition".into(), condition);
    }
    Value::Object(s)
}

pub(super) fn document(statements: Vec<Value>) -> Value {
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// The resource already carries `rdsguard:managed=true`.
pub(super) fn managed_resource() -> Value {
    json!({"StringEquals": {format!("aws:ResourceTag/{TAG_MANAGED}"): "true"}})
}

/// `actions` on snapshots that already carry `rdsguard:managed=true`.
fn on_rdsguard_snapshots(o: &Options<'_>, sid: &str, actions: &[&str]) -> Value {
    let snapshots = o.rds(&["snapshot", "cluster-snapshot"], "*");
    statement(sid, actions, snapshots, Some(managed_resource()))
}

/// The request sets `rdsguard:managed=true` and only rdsguard's tags.
pub(super) fn managed_request() -> Value {
    json!({
        "StringEquals": {format!("aws:RequestTag/{TAG_MANAGED}"): "true"},
        "ForAllValues:StringLike": {"aws:TagKeys": [format!("{TAG_PREFIX}*")]}
    })
}

/// `condition`, and the DB instance created or restored is not publicly accessible.
fn never_public(mut condition: Value) -> Value {
    condition["Bool"] = json!({"rds:PubliclyAccessible": "false"});
    condition
}

/// KMS used through `service` only, and with `--organization-id`, only keys of the organization's
/// accounts (a copy cannot be re-encrypted under a key outside it).
pub(super) fn via(o: &Options<'_>, service: &str) -> Value {
    let mut condition =
        json!({"StringLike": {"kms:ViaService": format!("{service}.*.amazonaws.com")}});
    if let Some(org) = o.organization_id {
        condition["StringEquals"] = json!({"aws:ResourceOrgID": org});
    }
    condition
}

/// Read-only, in every member account (and the caller's own).
pub(super) fn audit_statements(o: &Options<'_>) -> Vec<Value> {
    let mut statements = vec![
        // Describe calls list: they take no resource-level scope.
        statement("ReadRds", READ_RDS, vec!["*".into()], None),
        statement("ReadKeys", READ_KEYS, vec![o.keys()], None),
        statement("ListBackupVaults", LIST_VAULTS, vec!["*".into()], None),
        statement("ReadBackupVaults", READ_VAULTS, vec![o.vaults()], None),
    ];
    if !o.secrets.is_empty() {
        // rdsguard keeps the endpoint fields only; the secrets are in the rules' destinations.
        statements.push(statement(
            "ReadTheRulesSecrets",
            &["secretsmanager:GetSecretValue"],
            o.secret_arns(),
            None,
        ));
        statements.push(statement(
            "DecryptTheRulesSecrets",
            &["kms:Decrypt"],
            secret_keys(o),
            Some(via(o, "secretsmanager")),
        ));
    }
    statements
}

/// Keys in the accounts that hold the rules' secrets. Secrets Manager asks KMS only for a secret the
/// caller may read or write, and those are the rules' secrets. (AWS also offers
/// `kms:EncryptionContext:SecretARN`; the offline simulator cannot evaluate it, so it is left out.)
pub(super) fn secret_keys(o: &Options<'_>) -> Vec<String> {
    let mut accounts: Vec<&str> = o.secrets.iter().map(|s| s.account.as_str()).collect();
    accounts.sort_unstable();
    accounts.dedup();
    accounts
        .iter()
        .map(|a| format!("arn:{}:kms:*:{a}:key/*", o.partition))
        .collect()
}

/// Snapshot creation and KMS through RDS: both source and vault accounts copy.
pub(super) fn copy_statements(o: &Options<'_>, sid: &str, creates: &[&str]) -> Vec<Value> {
    let named = o.rds(
        &["snapshot", "cluster-snapshot"],
        &format!("{NAME_PREFIX}*"),
    );
    vec![
        // The new snapshot: rdsguard's name and tags. (The source snapshot of a copy, or the
        // database of a snapshot, is matched by the statements below.)
        statement(sid, creates, named.clone(), Some(managed_request())),
        // Tags given to a creating call: only on resources rdsguard names, only rdsguard's tags.
        statement(
            "TagRdsguardCreations",
            &["rds:AddTagsToResource"],
            [named, o.rds(&["db", "cluster"], &format!("{NAME_PREFIX}*"))].concat(),
            Some(managed_request()),
        ),
        statement(
            "KmsThroughRds",
            KMS_THROUGH_RDS,
            vec![o.keys()],
            Some(via(o, "rds")),
        ),
        kms_grants_for_rds(o),
    ]
}

/// RDS's grant on a key, made for the caller when it copies or restores an encrypted snapshot
/// (AWS checks `kms:CreateGrant` on the caller's behalf).
fn kms_grants_for_rds(o: &Options<'_>) -> Value {
    statement(
        "KmsGrantsForRds",
        &["kms:CreateGrant"],
        vec![o.keys()],
        Some({
            let mut c = via(o, "rds");
            c["Bool"] = json!({"kms:GrantIsForAWSResource": "true"});
            c
        }),
    )
}

/// Remediation in source accounts: snapshot, re-encrypt, share with the vault, clean up.
pub(super) fn source_statements(o: &Options<'_>) -> Vec<Value> {
    let mut statements = vec![
        // What a snapshot is taken of, or copied from: the source database, rdsguard's own transit
        // snapshot.
        statement(
            "SnapshotTheSources",
            &["rds:CreateDBClusterSnapshot", "rds:CreateDBSnapshot"],
            o.rds(&["db", "cluster"], "*"),
            None,
        ),
        on_rdsguard_snapshots(o, "CopyRdsguardSnapshots", COPY_SNAPSHOTS),
    ];
    statements.extend(copy_statements(
        o,
        "CreateRdsguardSnapshots",
        CREATE_SNAPSHOTS,
    ));
    statements.push(on_rdsguard_snapshots(
        o,
        "ShareAndDeleteRdsguardSnapshots",
        &[SHARE_SNAPSHOTS, DELETE_SNAPSHOTS].concat(),
    ));
    statements.extend(backup_job_statements(o));
    statements
}

/// `remediate = "backup"`: on-demand backup jobs into the rules' source vaults, copy jobs of their
/// recovery points, watching both, and handing the rules' backup roles to AWS Backup only. Nothing
/// when no rule remediates with AWS Backup.
pub(super) fn backup_job_statements(o: &Options<'_>) -> Vec<Value> {
    if o.backup_jobs.is_empty() {
        return Vec::new();
    }
    vec![
        statement(
            "BackupIntoTheRulesVaults",
            &["backup:StartBackupJob"],
            o.source_vaults(),
            None,
        ),
        // The recovery point copied is the one the backup job just made; RDS recovery points carry
        // RDS snapshot ARNs, which AWS Backup's recoveryPoint resource type does not describe.
        statement(
            "CopyRecoveryPoints",
            &["backup:StartCopyJob"],
            vec!["*".into()],
            None,
        ),
        // Describe calls on jobs take no resource-level scope.
        statement(
            "WatchBackupJobs",
            &["backup:DescribeBackupJob", "backup:DescribeCopyJob"],
            vec!["*".into()],
            None,
        ),
        statement(
            "PassTheRulesBackupRoles",
            &["iam:PassRole"],
            o.backup_roles(),
            Some(json!({"StringEquals": {"iam:PassedToService": "backup.amazonaws.com"}})),
        ),
    ]
}

/// AWS lists a final snapshot among DeleteDBCluster's resources; rdsguard skips it. This allows
/// nothing alone: the cluster, also checked, must be rdsguard's (a restore, or a drill cluster).
fn no_final_snapshot(o: &Options<'_>) -> Value {
    statement(
        "NoFinalSnapshotOfRestores",
        &["rds:DeleteDBCluster"],
        o.rds(&["cluster-snapshot"], "*"),
        None,
    )
}

/// Remediation in vault (destination) accounts: copy in, restore, repoint the secret, prune.
pub(super) fn vault_statements(o: &Options<'_>) -> Vec<Value> {
    let mut statements = vec![
        // The snapshot copied in is rdsguard's (shared from a source account, or the staged copy).
        on_rdsguard_snapshots(o, "CopyRdsguardSnapshots", COPY_SNAPSHOTS),
    ];
    statements.extend(copy_statements(o, "CreateRdsguardCopies", COPY_SNAPSHOTS));
    statements.extend([
        on_rdsguard_snapshots(o, "DeleteRdsguardSnapshots", DELETE_SNAPSHOTS),
        // Restore only rdsguard's replicas, into databases with rdsguard's name and tags.
        on_rdsguard_snapshots(
            o,
            "RestoreRdsguardReplicas",
            &[
                "rds:RestoreDBClusterFromSnapshot",
                "rds:RestoreDBInstanceFromDBSnapshot",
            ],
        ),
        // A restored DB instance (alone, or a restored cluster's) is never publicly accessible.
        statement(
            "RestoreIntoRdsguardInstances",
            &[
                "rds:CreateDBInstance",
                "rds:RestoreDBInstanceFromDBSnapshot",
            ],
            o.rds(&["db", "cluster"], &format!("{NAME_PREFIX}*")),
            Some(never_public(managed_request())),
        ),
        statement(
            "RestoreIntoRdsguardClusters",
            &["rds:RestoreDBClusterFromSnapshot"],
            o.rds(&["cluster"], &format!("{NAME_PREFIX}*")),
            Some(managed_request()),
        ),
        // The rule's subnet group, parameter groups and option group, as they are.
        statement(
            "RestoreWithTheRulesSettings",
            RESTORE,
            o.rds(&["subgrp", "pg", "cluster-pg", "og", "secgrp"], "*"),
            None,
        ),
        statement(
            "DeleteRdsguardRestores",
            DELETE_RESTORES,
            o.rds(&["db", "cluster"], "*"),
            Some(managed_resource()),
        ),
        no_final_snapshot(o),
        // The restore a secret pointed at before: one tag, rdsguard:superseded-at.
        statement(
            "MarkSupersededRestores",
            &["rds:AddTagsToResource"],
            o.rds(&["db", "cluster"], "*"),
            Some(json!({
                "ForAllValues:StringEquals": {"aws:TagKeys": [TAG_SUPERSEDED_AT]},
                "Null": {"aws:TagKeys": "false"}
            })),
        ),
    ]);
    if !o.secrets.is_empty() {
        statements.push(statement(
            "RepointTheRulesSecrets",
            &["secretsmanager:PutSecretValue"],
            o.secret_arns(),
            None,
        ));
        statements.push(statement(
            "KmsThroughSecretsManager",
            &["kms:GenerateDataKey"],
            secret_keys(o),
            Some(via(o, "secretsmanager")),
        ));
    }
    statements
}

/// Restore drills in vault (destination) accounts: restore any replica into a database (a DB
/// instance, or an Aurora cluster and its one instance) named and tagged as rdsguard's drill, never
/// publicly accessible, or have AWS Backup restore a recovery point under a role the rules name; tag
/// what AWS Backup made as the drill's; delete only such databases; and write the three evidence tags
/// on the replica. Reads are the audit's.
pub(super) fn drill_statements(o: &Options<'_>) -> Vec<Value> {
    let drills = o.rds(&["db", "cluster"], &format!("{NAME_PREFIX}drill-*"));
    let tagged_drill = json!({
        "StringEquals": {format!("aws:RequestTag/{TAG_MANAGED}"): "true"},
        "Null": {format!("aws:RequestTag/{TAG_DRILL}"): "false"}
    });
    let never_public = never_public(tagged_drill.clone());
    vec![
        // A drill restores whichever replica is the newest, rdsguard's copy or another tool's.
        statement(
            "RestoreReplicasForDrills",
            &[
                "rds:RestoreDBClusterFromSnapshot",
                "rds:RestoreDBInstanceFromDBSnapshot",
            ],
            o.rds(&["snapshot", "cluster-snapshot"], "*"),
            None,
        ),
        // The DB instances a drill makes (restored, or added to its cluster): never public.
        statement(
            "RestoreIntoDrillInstances",
            &[
                "rds:CreateDBInstance",
                "rds:RestoreDBInstanceFromDBSnapshot",
            ],
            drills.clone(),
            Some(never_public),
        ),
        // The drill cluster, and the drill tags (on a database a drill creates, or that AWS Backup
        // restored for it).
        statement(
            "RestoreIntoDrillClusters",
            &["rds:AddTagsToResource", "rds:RestoreDBClusterFromSnapshot"],
            drills.clone(),
            Some(tagged_drill),
        ),
        // The rule's drill subnet group and security groups, as they are.
        statement(
            "RestoreWithTheDrillSettings",
            &[
                "rds:CreateDBInstance",
                "rds:RestoreDBClusterFromSnapshot",
                "rds:RestoreDBInstanceFromDBSnapshot",
            ],
            o.rds(&["subgrp", "pg", "cluster-pg", "og", "secgrp"], "*"),
            None,
        ),
        statement(
            "DeleteDrillDatabases",
            &["rds:DeleteDBCluster", "rds:DeleteDBInstance"],
            drills,
            Some(json!({
                "StringEquals": {format!("aws:ResourceTag/{TAG_MANAGED}"): "true"},
                "Null": {format!("aws:ResourceTag/{TAG_DRILL}"): "false"}
            })),
        ),
        no_final_snapshot(o),
        // Restoring a replica encrypted under a customer managed key: RDS's grant on it.
        kms_grants_for_rds(o),
        // The evidence on the drilled replica: these three tags and no other.
        statement(
            "TagDrillEvidence",
            &["rds:AddTagsToResource"],
            o.rds(&["snapshot", "cluster-snapshot"], "*"),
            Some(json!({
                "ForAllValues:StringEquals": {"aws:TagKeys": DRILL_EVIDENCE},
                "Null": {"aws:TagKeys": "false"}
            })),
        ),
        // A recovery point of the vault's own backup vaults, restored by AWS Backup. RDS recovery
        // points carry RDS snapshot ARNs, which AWS Backup's recoveryPoint resource type does not
        // describe.
        statement(
            "RestoreRecoveryPointsForDrills",
            &[
                "backup:GetRecoveryPointRestoreMetadata",
                "backup:StartRestoreJob",
            ],
            vec!["*".into()],
            None,
        ),
        // Restore jobs take no resource-level scope.
        statement(
            "WatchRestoreJobs",
            &["backup:DescribeRestoreJob", "backup:ListRestoreJobs"],
            vec!["*".into()],
            None,
        ),
        statement(
            "PassTheDrillBackupRoles",
            &["iam:PassRole"],
            o.drill_backup_roles(),
            Some(json!({"StringEquals": {"iam:PassedToService": "backup.amazonaws.com"}})),
        ),
    ]
}

pub(super) fn security_hub_statements(o: &Options<'_>) -> Vec<Value> {
    vec![
        statement(
            "ImportFindings",
            &["securityhub:BatchImportFindings"],
            vec![o.arn("securityhub", "product/*/default")],
            None,
        ),
        statement(
            "ReadFindings",
            &["securityhub:GetFindings"],
            vec![o.arn("securityhub", "hub/default")],
            None,
        ),
    ]
}

/// The member role documents of the modes, by output key, in the order they are printed.
pub(super) fn member_documents(o: &Options<'_>) -> Vec<(&'static str, Vec<Value>)> {
    let mut documents = vec![("audit_role_policy", audit_statements(o))];
    if o.remediates() {
        documents.push(("source_remediation_policy", source_statements(o)));
        documents.push(("vault_remediation_policy", vault_statements(o)));
    }
    if o.modes.contains(&Mode::SecurityHub) {
        documents.push(("security_hub_policy", security_hub_statements(o)));
    }
    if o.modes.contains(&Mode::Drill) {
        documents.push(("drill_policy", drill_statements(o)));
    }
    documents
}

/// Statements of several documents in one, each once (documents share some statements: a Sid names
/// one statement everywhere), Sids prefixed with `prefix`.
pub(super) fn merged(documents: &[(&str, Vec<Value>)], prefix: &str) -> Vec<Value> {
    let mut statements: Vec<Value> = Vec::new();
    for statement in documents.iter().flat_map(|(_, s)| s) {
        let mut statement = statement.clone();
        let sid = format!("{prefix}{}", statement["Sid"].as_str().unwrap_or_default());
        statement["Sid"] = json!(sid);
        if !statements.contains(&statement) {
            statements.push(statement);
        }
    }
    statements
}

/// The trust policy's principal: the caller's ARN, or a placeholder to replace.
pub(super) fn principal(o: &Options<'_>) -> String {
    match (o.caller_arn, o.caller_account) {
        (Some(arn), _) => arn.to_string(),
        (None, account) => format!(
            "arn:{}:iam::{}:role/CALLER_ROLE_NAME",
            o.partition,
            account.unwrap_or("CALLER_ACCOUNT_ID")
        ),
    }
}
