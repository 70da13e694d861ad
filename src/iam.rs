//! The least-privilege IAM policies each mode needs (`rdsguard iam-policy`), one document per job:
//! the caller's policy, the read-only audit role policy (every member account), the remediation
//! policies of source accounts and of vault (destination) accounts, the Security Hub policy, and the
//! member role's trust policy. Every write is scoped to rdsguard's own resources (its `rdsguard:*`
//! tags and `rdsguard-` names), secrets to those the rules name, and KMS to use through RDS and
//! Secrets Manager.
//!
//! Proofs: tests/integration/iam.rs runs each mode under moto's IAM enforcement with the same actions
//! (moto judges actions only); tests/integration/iam_offline.rs evaluates the printed documents with
//! `@cloud-copilot/iam-simulate` (a table of allowed and denied requests) and lints them with
//! `parliament`.

use serde_json::{json, Map, Value};

use crate::remediate::tags::{TAG_MANAGED, TAG_SUPERSEDED_AT};
use crate::rules::{DestinationRegion, RuleSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Mode {
    /// `rdsguard audit` (read-only).
    Audit,
    /// `rdsguard audit --remediate` and `rdsguard rollback` (includes audit).
    Remediate,
    /// `rdsguard audit --security-hub` (add to audit).
    SecurityHub,
}

/// Every tag rdsguard sets starts with this (`rdsguard:managed`, `rdsguard:role`, ...).
const TAG_PREFIX: &str = "rdsguard:";
/// Every snapshot, instance and cluster rdsguard creates is named `rdsguard-...` (remediate::plan).
const NAME_PREFIX: &str = "rdsguard-";

/// Called with the caller's own credentials (management or delegated administrator account).
const CALLER: &[&str] = &[
    "organizations:DescribeOrganization",
    "organizations:ListAccounts",
];

const READ_RDS: &[&str] = &[
    "rds:DescribeDBClusterSnapshotAttributes",
    "rds:DescribeDBClusterSnapshots",
    "rds:DescribeDBClusters",
    "rds:DescribeDBInstances",
    "rds:DescribeDBSnapshotAttributes",
    "rds:DescribeDBSnapshots",
];

const READ_KEYS: &[&str] = &["kms:DescribeKey", "kms:GetKeyPolicy"];

/// What RDS asks KMS for on the caller's behalf when it copies a snapshot under another key, copies a
/// snapshot shared under a source account's key, or restores an encrypted snapshot.
const KMS_THROUGH_RDS: &[&str] = &[
    "kms:Decrypt",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
];

/// Creating calls: the new snapshot carries rdsguard's tags.
const CREATE_SNAPSHOTS: &[&str] = &[
    "rds:CopyDBClusterSnapshot",
    "rds:CopyDBSnapshot",
    "rds:CreateDBClusterSnapshot",
    "rds:CreateDBSnapshot",
];

const DELETE_SNAPSHOTS: &[&str] = &["rds:DeleteDBClusterSnapshot", "rds:DeleteDBSnapshot"];

const SHARE_SNAPSHOTS: &[&str] = &[
    "rds:ModifyDBClusterSnapshotAttribute",
    "rds:ModifyDBSnapshotAttribute",
];

const RESTORE: &[&str] = &[
    "rds:CreateDBInstance",
    "rds:RestoreDBClusterFromSnapshot",
    "rds:RestoreDBInstanceFromDBSnapshot",
];

const DELETE_RESTORES: &[&str] = &["rds:DeleteDBCluster", "rds:DeleteDBInstance"];

/// A secret a rule's restore points at: its destination account, region (`*`: any) and name, with
/// the rule's `{identifier}` and `{account}` turned into `*`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SecretScope {
    pub account: String,
    pub region: String,
    pub name: String,
}

/// The secrets the rules' restores can name, sorted and without repeats.
pub fn secret_scopes(rules: &RuleSet) -> Vec<SecretScope> {
    let mut scopes: Vec<SecretScope> = rules
        .rules
        .iter()
        .filter_map(|rule| {
            let secret = rule.restore.as_ref()?.secret.as_ref()?;
            Some(SecretScope {
                account: rule.destination.account.clone(),
                region: match &rule.destination.region {
                    DestinationRegion::Same => "*".to_string(),
                    DestinationRegion::Named(region) => region.clone(),
                },
                name: secret
                    .replace("{identifier}", "*")
                    .replace("{account}", "*"),
            })
        })
        .collect();
    scopes.sort();
    scopes.dedup();
    scopes
}

pub struct Options<'a> {
    pub modes: &'a [Mode],
    /// `aws`, `aws-cn`, `aws-us-gov`.
    pub partition: &'a str,
    pub role_name: &'a str,
    /// The identity that runs rdsguard (a role, or a user), named by the member role's trust policy.
    pub caller_arn: Option<&'a str>,
    /// The account the caller runs in, for the placeholder ARN when `caller_arn` is not given.
    pub caller_account: Option<&'a str>,
    pub external_id: Option<&'a str>,
    /// `aws:PrincipalOrgID` in the trust policy, `aws:ResourceOrgID` on the caller's AssumeRole.
    pub organization_id: Option<&'a str>,
    /// The secrets the rules name (`secret_scopes`); none: no Secrets Manager action at all.
    pub secrets: &'a [SecretScope],
    /// One member role policy with every statement (`member_role_policy`) instead of one per job.
    pub one_role: bool,
}

impl Options<'_> {
    fn remediates(&self) -> bool {
        self.modes.contains(&Mode::Remediate)
    }

    fn arn(&self, service: &str, resource: &str) -> String {
        format!("arn:{}:{service}:*:*:{resource}", self.partition)
    }

    fn rds(&self, types: &[&str], name: &str) -> Vec<String> {
        types
            .iter()
            .map(|t| self.arn("rds", &format!("{t}:{name}")))
            .collect()
    }

    fn keys(&self) -> String {
        self.arn("kms", "key/*")
    }

    fn secret_arns(&self) -> Vec<String> {
        self.secrets
            .iter()
            .map(|s| {
                if s.name.starts_with("arn:") {
                    s.name.clone()
                } else {
                    // Secrets Manager appends `-` and six random characters to the name.
                    format!(
                        "arn:{}:secretsmanager:{}:{}:secret:{}-??????",
                        self.partition, s.region, s.account, s.name
                    )
                }
            })
            .collect()
    }
}

/// One statement; actions sorted, a single resource written as a string.
fn statement(
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

fn document(statements: Vec<Value>) -> Value {
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// The resource already carries `rdsguard:managed=true`.
fn managed_resource() -> Value {
    json!({"StringEquals": {format!("aws:ResourceTag/{TAG_MANAGED}"): "true"}})
}

/// The request sets `rdsguard:managed=true` and only rdsguard's tags.
fn managed_request() -> Value {
    json!({
        "StringEquals": {format!("aws:RequestTag/{TAG_MANAGED}"): "true"},
        "ForAllValues:StringLike": {"aws:TagKeys": [format!("{TAG_PREFIX}*")]}
    })
}

/// KMS used through `service` only, and with `--organization-id`, only keys of the organization's
/// accounts (a copy cannot be re-encrypted under a key outside it).
fn via(o: &Options<'_>, service: &str) -> Value {
    let mut condition =
        json!({"StringLike": {"kms:ViaService": format!("{service}.*.amazonaws.com")}});
    if let Some(org) = o.organization_id {
        condition["StringEquals"] = json!({"aws:ResourceOrgID": org});
    }
    condition
}

/// Read-only, in every member account (and the caller's own).
fn audit_statements(o: &Options<'_>) -> Vec<Value> {
    let mut statements = vec![
        // Describe calls list: they take no resource-level scope.
        statement("ReadRds", READ_RDS, vec!["*".into()], None),
        statement("ReadKeys", READ_KEYS, vec![o.keys()], None),
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
fn secret_keys(o: &Options<'_>) -> Vec<String> {
    let mut accounts: Vec<&str> = o.secrets.iter().map(|s| s.account.as_str()).collect();
    accounts.sort_unstable();
    accounts.dedup();
    accounts
        .iter()
        .map(|a| format!("arn:{}:kms:*:{a}:key/*", o.partition))
        .collect()
}

/// Snapshot creation and KMS through RDS: both source and vault accounts copy.
fn copy_statements(o: &Options<'_>, sid: &str, creates: &[&str]) -> Vec<Value> {
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
        statement(
            "KmsGrantsForRds",
            &["kms:CreateGrant"],
            vec![o.keys()],
            Some({
                let mut c = via(o, "rds");
                c["Bool"] = json!({"kms:GrantIsForAWSResource": "true"});
                c
            }),
        ),
    ]
}

/// Remediation in source accounts: snapshot, re-encrypt, share with the vault, clean up.
fn source_statements(o: &Options<'_>) -> Vec<Value> {
    let mut statements = vec![
        // What a snapshot is taken of, or copied from: the source database, rdsguard's own transit
        // snapshot.
        statement(
            "SnapshotTheSources",
            &["rds:CreateDBClusterSnapshot", "rds:CreateDBSnapshot"],
            o.rds(&["db", "cluster"], "*"),
            None,
        ),
        statement(
            "CopyRdsguardSnapshots",
            &["rds:CopyDBClusterSnapshot", "rds:CopyDBSnapshot"],
            o.rds(&["snapshot", "cluster-snapshot"], "*"),
            Some(managed_resource()),
        ),
    ];
    statements.extend(copy_statements(
        o,
        "CreateRdsguardSnapshots",
        CREATE_SNAPSHOTS,
    ));
    statements.push(statement(
        "ShareAndDeleteRdsguardSnapshots",
        &[SHARE_SNAPSHOTS, DELETE_SNAPSHOTS].concat(),
        o.rds(&["snapshot", "cluster-snapshot"], "*"),
        Some(managed_resource()),
    ));
    statements
}

/// Remediation in vault (destination) accounts: copy in, restore, repoint the secret, prune.
fn vault_statements(o: &Options<'_>) -> Vec<Value> {
    let mut statements = vec![
        // The snapshot copied in is rdsguard's (shared from a source account, or the staged copy).
        statement(
            "CopyRdsguardSnapshots",
            &["rds:CopyDBClusterSnapshot", "rds:CopyDBSnapshot"],
            o.rds(&["snapshot", "cluster-snapshot"], "*"),
            Some(managed_resource()),
        ),
    ];
    statements.extend(copy_statements(
        o,
        "CreateRdsguardCopies",
        &["rds:CopyDBClusterSnapshot", "rds:CopyDBSnapshot"],
    ));
    statements.extend([
        statement(
            "DeleteRdsguardSnapshots",
            DELETE_SNAPSHOTS,
            o.rds(&["snapshot", "cluster-snapshot"], "*"),
            Some(managed_resource()),
        ),
        // Restore only rdsguard's replicas, into databases with rdsguard's name and tags.
        statement(
            "RestoreRdsguardReplicas",
            &[
                "rds:RestoreDBClusterFromSnapshot",
                "rds:RestoreDBInstanceFromDBSnapshot",
            ],
            o.rds(&["snapshot", "cluster-snapshot"], "*"),
            Some(managed_resource()),
        ),
        statement(
            "RestoreIntoRdsguardDatabases",
            RESTORE,
            o.rds(&["db", "cluster"], &format!("{NAME_PREFIX}*")),
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
        // AWS lists a final snapshot among DeleteDBCluster's resources; rdsguard skips it. This
        // allows nothing alone: the cluster, also checked, must be rdsguard's.
        statement(
            "NoFinalSnapshotOfRestores",
            &["rds:DeleteDBCluster"],
            o.rds(&["cluster-snapshot"], "*"),
            None,
        ),
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

fn security_hub_statements(o: &Options<'_>) -> Vec<Value> {
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
fn member_documents(o: &Options<'_>) -> Vec<(&'static str, Vec<Value>)> {
    let mut documents = vec![("audit_role_policy", audit_statements(o))];
    if o.remediates() {
        documents.push(("source_remediation_policy", source_statements(o)));
        documents.push(("vault_remediation_policy", vault_statements(o)));
    }
    if o.modes.contains(&Mode::SecurityHub) {
        documents.push(("security_hub_policy", security_hub_statements(o)));
    }
    documents
}

/// Statements of several documents in one, each once (documents share some statements: a Sid names
/// one statement everywhere), Sids prefixed with `prefix`.
fn merged(documents: &[(&str, Vec<Value>)], prefix: &str) -> Vec<Value> {
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
fn principal(o: &Options<'_>) -> String {
    match (o.caller_arn, o.caller_account) {
        (Some(arn), _) => arn.to_string(),
        (None, account) => format!(
            "arn:{}:iam::{}:role/CALLER_ROLE_NAME",
            o.partition,
            account.unwrap_or("CALLER_ACCOUNT_ID")
        ),
    }
}

/// The documents, by output key: `caller_policy`, one policy per job (or `member_role_policy` with
/// `one_role`), and `member_role_trust_policy`.
pub fn policies(o: &Options<'_>) -> Value {
    let members = member_documents(o);
    let mut assume = statement(
        "AssumeTheMemberRole",
        &["sts:AssumeRole"],
        vec![format!("arn:{}:iam::*:role/{}", o.partition, o.role_name)],
        None,
    );
    if let Some(org) = o.organization_id {
        assume["Condition"] = json!({"StringEquals": {"aws:ResourceOrgID": org}});
    }
    let mut caller = vec![
        statement("ReadTheOrganization", CALLER, vec!["*".into()], None),
        assume,
    ];
    // The caller's own account is read (and repaired) with the caller's credentials, not the role.
    caller.extend(merged(&members, "OwnAccount"));

    let mut conditions = Map::new();
    if let Some(external_id) = o.external_id {
        conditions.insert("sts:ExternalId".into(), json!(external_id));
    }
    if let Some(org) = o.organization_id {
        conditions.insert("aws:PrincipalOrgID".into(), json!(org));
    }
    let mut trust = json!({
        "Sid": "TheCallerOnly",
        "Effect": "Allow",
        "Principal": {"AWS": principal(o)},
        "Action": "sts:AssumeRole"
    });
    if !conditions.is_empty() {
        trust["Condition"] = json!({"StringEquals": conditions});
    }

    let mut out = Map::new();
    out.insert("caller_policy".into(), document(caller));
    if o.one_role {
        out.insert("member_role_policy".into(), document(merged(&members, "")));
    } else {
        for (key, statements) in members {
            out.insert(key.into(), document(statements));
        }
    }
    out.insert("member_role_trust_policy".into(), document(vec![trust]));
    Value::Object(out)
}

/// Every action a document allows, sorted and without repeats.
pub fn actions(document: &Value) -> Vec<String> {
    let mut actions: Vec<String> = document["Statement"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| match &s["Action"] {
            Value::String(a) => vec![a.clone()],
            Value::Array(list) => list
                .iter()
                .filter_map(|a| a.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        })
        .collect();
    actions.sort_unstable();
    actions.dedup();
    actions
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options<'a>(modes: &'a [Mode], secrets: &'a [SecretScope], one_role: bool) -> Options<'a> {
        Options {
            modes,
            partition: "aws",
            role_name: "rdsguard",
            caller_arn: Some("arn:aws:iam::111111111111:role/rdsguard-runner"),
            caller_account: None,
            external_id: Some("nightly"),
            organization_id: Some("o-abcdefghij"),
            secrets,
            one_role,
        }
    }

    fn orders() -> Vec<SecretScope> {
        vec![SecretScope {
            account: "222222222222".into(),
            region: "*".into(),
            name: "rds/*".into(),
        }]
    }

    #[test]
    fn the_audit_role_only_reads_and_reads_secrets_only_when_rules_name_them() {
        let without = policies(&options(&[Mode::Audit], &[], false));
        let audit = actions(&without["audit_role_policy"]);
        assert!(audit.iter().all(|a| {
            let name = a.split(':').nth(1).unwrap_or_default();
            name.starts_with("Describe") || name.starts_with("Get") || name.starts_with("List")
        }));
        assert!(!audit.iter().any(|a| a.starts_with("secretsmanager:")));
        assert!(without.get("source_remediation_policy").is_none());

        let secrets = orders();
        let with = policies(&options(&[Mode::Audit], &secrets, false));
        let audit = &with["audit_role_policy"]["Statement"];
        let read = audit
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["Sid"] == "ReadTheRulesSecrets")
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            read["Resource"],
            "arn:aws:secretsmanager:*:222222222222:secret:rds/*-??????"
        );
        assert!(actions(&with["audit_role_policy"]).contains(&"kms:Decrypt".to_string()));
    }

    #[test]
    fn deletes_and_shares_need_rdsguards_tag_and_sources_never_delete_databases() {
        let secrets = orders();
        let doc = policies(&options(&[Mode::Remediate], &secrets, false));
        for key in ["source_remediation_policy", "vault_remediation_policy"] {
            for s in doc[key]["Statement"].as_array().into_iter().flatten() {
                let writes = actions(&json!({"Statement": [s]}));
                let risky = writes.iter().any(|a| {
                    a.contains(":Delete")
                        || a.contains("SnapshotAttribute")
                        || a.contains(":Restore")
                });
                // Subnet, parameter and option groups are used as they are; every database and
                // snapshot a risky call touches is rdsguard's.
                let touches_data = s["Resource"].to_string().contains("snapshot:")
                    || s["Resource"].to_string().contains(":db:")
                    || s["Resource"].to_string().contains(":cluster:");
                // The final-snapshot resource of DeleteDBCluster allows nothing alone: the
                // cluster, also checked, must be rdsguard's.
                let final_snapshot = s["Sid"] == "NoFinalSnapshotOfRestores";
                if risky && touches_data && !final_snapshot {
                    assert!(s["Condition"].is_object(), "{key} {s}");
                }
                assert_ne!(s["Resource"], "*", "{key} {s}");
            }
        }
        let source = actions(&doc["source_remediation_policy"]);
        assert!(!source.contains(&"rds:DeleteDBInstance".to_string()));
        assert!(!source.contains(&"rds:DeleteDBCluster".to_string()));
        assert!(!source.iter().any(|a| a.starts_with("secretsmanager:")));
        let vault = actions(&doc["vault_remediation_policy"]);
        assert!(vault.contains(&"rds:DeleteDBInstance".to_string()));
        assert!(!vault.contains(&"rds:ModifyDBSnapshotAttribute".to_string()));
    }

    #[test]
    fn one_role_holds_every_statement_of_the_separate_documents() {
        let secrets = orders();
        let modes = [Mode::Remediate, Mode::SecurityHub];
        let separate = policies(&options(&modes, &secrets, false));
        let one = policies(&options(&modes, &secrets, true));
        let statements = |v: &Value| v["Statement"].as_array().cloned().unwrap_or_default();
        let mut all: Vec<Value> = Vec::new();
        for key in [
            "audit_role_policy",
            "source_remediation_policy",
            "vault_remediation_policy",
            "security_hub_policy",
        ] {
            for s in statements(&separate[key]) {
                if !all.contains(&s) {
                    all.push(s);
                }
            }
        }
        assert_eq!(statements(&one["member_role_policy"]), all);
        assert_eq!(one["caller_policy"], separate["caller_policy"]);
        assert!(one.get("audit_role_policy").is_none());
        for doc in [&one["caller_policy"], &one["member_role_policy"]] {
            let sids: Vec<String> = statements(doc)
                .iter()
                .map(|s| s["Sid"].to_string())
                .collect();
            let mut unique = sids.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(
                unique.len(),
                sids.len(),
                "a Sid names one statement: {sids:?}"
            );
        }
    }

    #[test]
    fn the_trust_policy_names_the_caller_the_external_id_and_the_organization() {
        let doc = policies(&options(&[Mode::Audit], &[], false));
        let trust = &doc["member_role_trust_policy"]["Statement"][0];
        assert_eq!(
            trust["Principal"]["AWS"],
            "arn:aws:iam::111111111111:role/rdsguard-runner"
        );
        assert_eq!(
            trust["Condition"]["StringEquals"]["sts:ExternalId"],
            "nightly"
        );
        assert_eq!(
            trust["Condition"]["StringEquals"]["aws:PrincipalOrgID"],
            "o-abcdefghij"
        );
        assert_eq!(
            doc["caller_policy"]["Statement"][1]["Resource"],
            "arn:aws:iam::*:role/rdsguard"
        );
        let mut o = options(&[Mode::Audit], &[], false);
        o.caller_arn = None;
        o.caller_account = Some("111111111111");
        let doc = policies(&o);
        assert_eq!(
            doc["member_role_trust_policy"]["Statement"][0]["Principal"]["AWS"],
            "arn:aws:iam::111111111111:role/CALLER_ROLE_NAME"
        );
    }
}
