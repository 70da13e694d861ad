//! `rdsguard setup`: the organization's set-up as code, from the documents `iam::policies` prints
//! (the same call as `rdsguard iam-policy`, so there is no second copy of a policy) and the rules.
//!
//! Pure: [`Inputs`] in, [`File`]s (JSON values, serialised by the command) out. Four deployments,
//! in either format (`cloudformation.rs`, `terraform.rs`):
//!
//! - `member-roles`: the member role of every source account (a service-managed StackSet): its trust
//!   policy, `audit_role_policy` and, when remediating, `source_remediation_policy`;
//! - `source-key`: the shareable source CMK (+ alias) of every source account, the key the rules'
//!   `source_kms_key` names, whose policy grants the vault exactly what `source-key-shareable` checks;
//! - `vault`: the vault account's member role (`audit_role_policy`, `vault_remediation_policy`), the
//!   vault key (+ alias) and the DB subnet groups the rules' restores name;
//! - `caller`: `caller_policy`, for the role that runs rdsguard.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::checks::SOURCE_KEY_ACTIONS;
use crate::rules::RuleSet;

mod cloudformation;
mod terraform;

/// Without rules, the aliases the example rules (and DESIGN.md) use.
pub const DEFAULT_VAULT_KEY_ALIAS: &str = "alias/rds-vault";
pub const DEFAULT_SOURCE_KEY_ALIAS: &str = "alias/rds-share";

/// The deployments, by file stem, in the order they are deployed.
pub const MEMBER_ROLES: &str = "member-roles";
pub const SOURCE_KEY: &str = "source-key";
pub const VAULT: &str = "vault";
pub const CALLER: &str = "caller";

/// Everything the templates are made of.
pub struct Inputs {
    pub remediate: bool,
    /// The rules have `drill`: the vault role gets `drill_policy`.
    pub drills: bool,
    pub partition: String,
    pub role_name: String,
    /// The trust policy's principal, the default of the templates' caller parameter.
    pub caller_role_arn: Option<String>,
    pub organization_id: Option<String>,
    /// `iam::policies`' output: `caller_policy`, `audit_role_policy`, (remediating)
    /// `source_remediation_policy` and `vault_remediation_policy`, `member_role_trust_policy`.
    pub documents: Value,
    /// The accounts the source keys are shared with.
    pub vault_accounts: Vec<String>,
    pub vault_key_aliases: Vec<String>,
    pub source_key_aliases: Vec<String>,
    /// The DB subnet groups the rules' restores name (remediating only).
    pub subnet_groups: Vec<String>,
}

/// The four files of one format, `path` naming each from its template's name.
fn four_files(
    inputs: &Inputs,
    path: impl Fn(&str) -> String,
    makers: [fn(&Inputs) -> Value; 4],
) -> Vec<File> {
    [MEMBER_ROLES, SOURCE_KEY, VAULT, CALLER]
        .into_iter()
        .zip(makers)
        .map(|(name, make)| File {
            path: path(name),
            content: make(inputs),
        })
        .collect()
}

/// A file to write: its path under the output folder (`/`-separated) and its JSON content.
#[derive(Debug, Clone, PartialEq)]
pub struct File {
    pub path: String,
    pub content: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    CloudFormation,
    Terraform,
}

/// What the rules ask setup to create, and what it cannot (warnings).
pub struct FromRules {
    pub vault_accounts: Vec<String>,
    pub vault_key_aliases: Vec<String>,
    pub source_key_aliases: Vec<String>,
    pub subnet_groups: Vec<String>,
    pub warnings: Vec<String>,
}

/// The rules' destination accounts, key aliases and subnet groups, sorted, without repeats. A key
/// named by ARN cannot be created with that ARN: it is left out, with a warning.
pub fn from_rules(rules: Option<&RuleSet>) -> FromRules {
    let mut out = FromRules {
        vault_accounts: Vec::new(),
        vault_key_aliases: Vec::new(),
        source_key_aliases: Vec::new(),
        subnet_groups: Vec::new(),
        warnings: Vec::new(),
    };
    let Some(rules) = rules else {
        out.vault_key_aliases.push(DEFAULT_VAULT_KEY_ALIAS.into());
        out.source_key_aliases.push(DEFAULT_SOURCE_KEY_ALIAS.into());
        return out;
    };
    let (mut accounts, mut vault, mut source, mut subnets) = (
        BTreeSet::new(),
        BTreeSet::new(),
        BTreeSet::new(),
        BTreeSet::new(),
    );
    for rule in &rules.rules {
        accounts.insert(rule.destination.account.clone());
        for (key, aliases, what) in [
            (&rule.destination.kms_key, &mut vault, "destination.kms_key"),
            (&rule.source_kms_key, &mut source, "source_kms_key"),
        ] {
            match key {
                Some(alias) if alias.starts_with("alias/") => {
                    aliases.insert(alias.clone());
                }
                Some(arn) => out.warnings.push(format!(
                    "rule `{}`: {what} is a key ARN ({arn}); setup creates keys under aliases only, so this key is not in the templates",
                    rule.id
                )),
                None => {}
            }
        }
        if let Some(group) = rule.restore.as_ref().and_then(|r| r.subnet_group.clone()) {
            subnets.insert(group);
        }
    }
    out.vault_accounts = accounts.into_iter().collect();
    out.vault_key_aliases = vault.into_iter().collect();
    out.source_key_aliases = source.into_iter().collect();
    out.subnet_groups = subnets.into_iter().collect();
    out
}

/// The files of one format.
pub fn files(format: Format, inputs: &Inputs) -> Vec<File> {
    match format {
        Format::CloudFormation => cloudformation::files(inputs),
        Format::Terraform => terraform::files(inputs),
    }
}

impl Inputs {
    /// One of `iam::policies`' documents (null when these flags print none).
    fn document(&self, key: &str) -> Value {
        self.documents.get(key).cloned().unwrap_or(Value::Null)
    }

    /// The member role's inline policies in a source account: (policy name, document key).
    fn source_policies(&self) -> Vec<(&'static str, &'static str)> {
        let mut policies = vec![("rdsguard-audit", "audit_role_policy")];
        if self.remediate {
            policies.push(("rdsguard-source-remediation", "source_remediation_policy"));
        }
        policies
    }

    /// The member role's inline policies in the vault account.
    fn vault_policies(&self) -> Vec<(&'static str, &'static str)> {
        let mut policies = vec![("rdsguard-audit", "audit_role_policy")];
        if self.remediate {
            policies.push(("rdsguard-vault-remediation", "vault_remediation_policy"));
        }
        if self.drills {
            policies.push(("rdsguard-drill", "drill_policy"));
        }
        policies
    }

    /// The trust policy with its principal replaced by `principal` (a template parameter).
    fn trust_policy(&self, principal: Value) -> Value {
        let mut trust = self.document("member_role_trust_policy");
        if let Some(statements) = trust["Statement"].as_array_mut() {
            // The caller's statement: the state machine's (with --step-functions) names its own role.
            for statement in statements
                .iter_mut()
                .filter(|s| s["Sid"] != "TheStateMachine")
            {
                statement["Principal"]["AWS"] = principal.clone();
            }
        }
        trust
    }

    fn root(&self, account: &str) -> String {
        format!("arn:{}:iam::{account}:root", self.partition)
    }

    /// The shareable source key's policy: its own account administers it (and so its IAM policies,
    /// the member role's `KmsThroughRds` among them, apply); the vault accounts may use it for a
    /// shared snapshot's copy, exactly the actions `source-key-shareable` checks.
    fn source_key_policy(&self, own_root: Value) -> Value {
        let vaults: Vec<String> = self.vault_accounts.iter().map(|a| self.root(a)).collect();
        json!({
            "Version": "2012-10-17",
            "Statement": [
                administer(own_root),
                {
                    "Sid": "TheVaultCopiesSharedSnapshots",
                    "Effect": "Allow",
                    "Principal": {"AWS": vaults},
                    "Action": SOURCE_KEY_ACTIONS,
                    "Resource": "*"
                }
            ]
        })
    }

    /// The vault key's policy: the vault account administers it (its member role copies in with its
    /// `KmsThroughRds` statements); with an organization, the organization's accounts may use it
    /// through RDS and AWS Backup, for the copies they send into the vault (AWS Backup copy jobs).
    fn vault_key_policy(&self, own_root: Value) -> Value {
        let mut statements = vec![administer(own_root)];
        if let Some(org) = &self.organization_id {
            statements.push(json!({
                "Sid": "TheOrganizationsCopiesIn",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": [
                    "kms:CreateGrant",
                    "kms:Decrypt",
                    "kms:DescribeKey",
                    "kms:GenerateDataKey*",
                    "kms:ReEncrypt*"
                ],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"aws:PrincipalOrgID": org},
                    "StringLike": {"kms:ViaService": ["rds.*.amazonaws.com", "backup.*.amazonaws.com"]}
                }
            }));
        }
        json!({"Version": "2012-10-17", "Statement": statements})
    }
}

/// The key policy statement AWS gives every key by default: the account, and through it its IAM
/// policies, administers the key.
fn administer(own_root: Value) -> Value {
    json!({
        "Sid": "TheAccountAdministersTheKey",
        "Effect": "Allow",
        "Principal": {"AWS": own_root},
        "Action": "kms:*",
        "Resource": "*"
    })
}

/// A name made of letters and digits from an alias or a group name (`alias/rds-vault` ->
/// `RdsVault`), distinct from the names already in `taken`.
fn logical_name(name: &str, taken: &mut BTreeSet<String>) -> String {
    let base: String = name
        .trim_start_matches("alias/")
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect();
    let base = if base.is_empty() { "Key".into() } else { base };
    let mut candidate = base.clone();
    let mut n = 2;
    while !taken.insert(candidate.clone()) {
        candidate = format!("{base}{n}");
        n += 1;
    }
    candidate
}

/// What the caller templates say of the principal that runs rdsguard.
const CALLER_TEMPLATE: &str = "rdsguard caller policy, for the account that runs rdsguard (the management or a delegated administrator account). Generated by rdsguard setup.";
const CALLER_POLICY: &str =
    "What rdsguard's caller needs: read the organization, assume the member roles (rdsguard setup)";

/// The principal that runs rdsguard, from `--caller-role-arn`: a role (also when none is named) or a
/// user, and its name as the template's default.
struct Caller {
    default: Option<String>,
    user: bool,
}

impl Caller {
    fn of(inputs: &Inputs) -> Caller {
        let named = inputs.caller_role_arn.as_deref().map(principal_name);
        Caller {
            user: named.as_ref().is_some_and(|(_, user)| *user),
            default: named.map(|(name, _)| name),
        }
    }

    /// The input's description: which kind of principal, in this account.
    fn description(&self) -> String {
        let what = if self.user { "user" } else { "role" };
        format!("The name of the {what} that runs rdsguard, in this account")
    }
}

/// The role name of a role or user ARN (`arn:aws:iam::1:role/path/name` -> `name`), and whether it
/// is a user.
fn principal_name(arn: &str) -> (String, bool) {
    let resource = arn.splitn(6, ':').nth(5).unwrap_or_default();
    let user = resource.starts_with("user/");
    (
        resource.rsplit('/').next().unwrap_or_default().to_string(),
        user,
    )
}

#[cfg(test)]
mod tests;
