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
use crate::tags::{DRILL_EVIDENCE, TAG_DRILL};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Mode {
    /// `rdsguard audit` (read-only).
    Audit,
    /// `rdsguard audit --remediate` and `rdsguard rollback` (includes audit).
    Remediate,
    /// `rdsguard audit --security-hub` (add to audit).
    SecurityHub,
    /// The Step Functions state machine's execution role (`remediation export`): it only assumes the
    /// member roles, which need `remediate` too.
    StepFunctions,
    /// `rdsguard drill` (includes audit): restore drills in the vault accounts.
    Drill,
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
    "rds:DescribeAccountAttributes",
    "rds:DescribeBlueGreenDeployments",
    "rds:DescribeDBClusterSnapshotAttributes",
    "rds:DescribeDBClusterSnapshots",
    "rds:DescribeDBClusters",
    "rds:DescribeDBInstances",
    "rds:DescribeDBSnapshotAttributes",
    "rds:DescribeDBSnapshots",
    "rds:DescribeOptionGroups",
];

const READ_KEYS: &[&str] = &["kms:DescribeKey", "kms:GetKeyPolicy"];

/// Listing a destination's backup vaults takes no resource-level scope.
const LIST_VAULTS: &[&str] = &["backup:ListBackupVaults"];

/// Reads of one backup vault: its RDS and Aurora recovery points, its access policy.
const READ_VAULTS: &[&str] = &[
    "backup:GetBackupVaultAccessPolicy",
    "backup:ListRecoveryPointsByBackupVault",
];

/// What RDS asks KMS for on the caller's behalf when it copies a snapshot under another key, copies a
/// snapshot shared under a source account's key, or restores an encrypted snapshot.
const KMS_THROUGH_RDS: &[&str] = &[
    "kms:Decrypt",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
];

const COPY_SNAPSHOTS: &[&str] = &["rds:CopyDBClusterSnapshot", "rds:CopyDBSnapshot"];

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

/// A rule's `remediate = "backup"`: the source vault its backup jobs write to, and the role AWS
/// Backup is handed (a name with its path, or an ARN).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct BackupScope {
    pub source_vault: String,
    pub role: String,
}

/// The backup jobs the rules' `remediate = "backup"` start, each vault and role once.
pub fn backup_scopes(rules: &RuleSet) -> Vec<BackupScope> {
    let mut scopes: Vec<BackupScope> = rules
        .rules
        .iter()
        .filter_map(|rule| rule.backup_remediation.as_ref())
        .map(|b| BackupScope {
            source_vault: b.source_vault.clone(),
            role: b.role.clone(),
        })
        .collect();
    scopes.sort();
    scopes.dedup();
    scopes
}

/// The roles the rules' `drill.backup_role` hand AWS Backup to restore recovery points in the vault
/// accounts (a name with its path, or an ARN), each once; the default role when no rule names one
/// (or no rules are given).
pub fn drill_roles(rules: &RuleSet) -> Vec<String> {
    let mut roles: Vec<String> = rules
        .rules
        .iter()
        .filter_map(|rule| Some(rule.drill.as_ref()?.backup_role.clone()))
        .collect();
    roles.sort();
    roles.dedup();
    roles
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
    /// The rules' AWS Backup jobs (`backup_scopes`); none: no backup job action at all.
    pub backup_jobs: &'a [BackupScope],
    /// The roles drills hand AWS Backup (`drill_roles`); none: the default role.
    pub drill_roles: &'a [String],
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

    fn backup_roles(&self) -> Vec<String> {
        self.role_arns(self.backup_jobs.iter().map(|b| b.role.as_str()))
    }

    /// The roles drills hand AWS Backup, in any account.
    fn drill_backup_roles(&self) -> Vec<String> {
        match self.drill_roles {
            [] => self.role_arns([crate::rules::DEFAULT_BACKUP_ROLE].into_iter()),
            roles => self.role_arns(roles.iter().map(String::as_str)),
        }
    }

    /// Role names (with their path) in any account, or role ARNs, as ARNs; sorted, each once.
    fn role_arns<'r>(&self, roles: impl Iterator<Item = &'r str>) -> Vec<String> {
        let mut roles: Vec<String> = roles
            .map(|role| crate::rules::role_arn(role, self.partition, "*"))
            .collect();
        roles.sort();
        roles.dedup();
        roles
    }

    fn source_vaults(&self) -> Vec<String> {
        let mut vaults: Vec<String> = self
            .backup_jobs
            .iter()
            .map(|b| self.arn("backup", &format!("backup-vault:{}", b.source_vault)))
            .collect();
        vaults.sort();
        vaults.dedup();
        vaults
    }

    fn vaults(&self) -> String {
        self.arn("backup", "backup-vault:*")
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

mod statements;
use statements::{document, member_documents, merged, principal, statement};

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
    if o.modes.contains(&Mode::StepFunctions) {
        caller.extend(run_the_state_machine(o));
    }

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
    let mut trusted = vec![trust];
    if o.modes.contains(&Mode::StepFunctions) {
        // The state machine's Tasks assume the member roles through `Credentials` (a role ARN only:
        // no external id), from the execution role in the machine's account.
        let account = machine_account(o);
        let mut machine = json!({
            "Sid": "TheStateMachine",
            "Effect": "Allow",
            "Principal": {"AWS": format!(
                "arn:{}:iam::{account}:role/{}",
                o.partition,
                crate::remediate::sfn::EXECUTION_ROLE_NAME
            )},
            "Action": "sts:AssumeRole"
        });
        if let Some(org) = o.organization_id {
            machine["Condition"] = json!({"StringEquals": {"aws:PrincipalOrgID": org}});
        }
        trusted.push(machine);
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
    out.insert("member_role_trust_policy".into(), document(trusted));
    if o.modes.contains(&Mode::StepFunctions) {
        // The machine's own account: the caller's, when given.
        let account = o.caller_account.unwrap_or("STATE_MACHINE_ACCOUNT_ID");
        let machine = crate::remediate::sfn::Options {
            role_name: o.role_name.to_string(),
            partition: o.partition.to_string(),
            ..Default::default()
        };
        out.insert(
            "state_machine_execution_policy".into(),
            crate::remediate::sfn::template::execution_policy(&machine, "*", account),
        );
        out.insert(
            "state_machine_execution_trust".into(),
            crate::remediate::sfn::template::execution_trust(account),
        );
    }
    Value::Object(out)
}

/// The account the state machine runs in: the caller's (`--caller-account`, else the account of
/// `--caller-role-arn`), or a placeholder to fill in.
fn machine_account<'a>(o: &Options<'a>) -> &'a str {
    o.caller_account
        .or_else(|| o.caller_arn.and_then(|arn| arn.split(':').nth(4)))
        .filter(|a| !a.is_empty())
        .unwrap_or("STATE_MACHINE_ACCOUNT_ID")
}

/// What `audit --remediate --engine step-functions` does with the caller's credentials: deploy
/// rdsguard's own state machine (in the machine's account, every region), start and watch its
/// executions, and hand it the execution role.
fn run_the_state_machine(o: &Options<'_>) -> Vec<Value> {
    use crate::remediate::sfn::{EXECUTION_ROLE_NAME, STATE_MACHINE_NAME};
    let account = machine_account(o);
    let machine = format!(
        "arn:{}:states:*:{account}:stateMachine:{STATE_MACHINE_NAME}",
        o.partition
    );
    let executions = format!(
        "arn:{}:states:*:{account}:execution:{STATE_MACHINE_NAME}:*",
        o.partition
    );
    let pass = statement(
        "HandTheExecutionRoleToStepFunctions",
        &["iam:PassRole"],
        vec![format!(
            "arn:{}:iam::{account}:role/{EXECUTION_ROLE_NAME}",
            o.partition
        )],
        Some(json!({"StringEquals": {"iam:PassedToService": "states.amazonaws.com"}})),
    );
    vec![
        statement(
            "DeployTheStateMachine",
            &[
                "states:CreateStateMachine",
                "states:DescribeStateMachine",
                "states:StartExecution",
                "states:TagResource",
                "states:UpdateStateMachine",
            ],
            vec![machine],
            None,
        ),
        statement(
            "WatchItsExecutions",
            &["states:DescribeExecution"],
            vec![executions],
            None,
        ),
        pass,
    ]
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
mod tests;
