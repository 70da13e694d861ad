//! The flags of `rdsguard iam-policy` and `rdsguard setup`: the IAM documents, and the organization's
//! set-up as code built from them.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::DEFAULT_ROLE_NAME;

#[derive(Debug, Args)]
pub struct IamPolicyArgs {
    /// What rdsguard will be run for (repeatable): audit, remediate (includes audit), security-hub,
    /// step-functions (the state machine's execution role: add it to remediate), drill (restore
    /// drills in the vault accounts: add it to audit).
    #[arg(long, value_enum, default_value = "audit", value_name = "MODE")]
    pub mode: Vec<crate::iam::Mode>,

    /// The member role's name (as --role-name of audit).
    #[arg(long, default_value = DEFAULT_ROLE_NAME, value_name = "NAME")]
    pub role_name: String,

    /// The role (or user) that runs rdsguard: the only principal the member role's trust policy names.
    #[arg(long, value_name = "ARN")]
    pub caller_role_arn: Option<String>,

    /// The account rdsguard runs in, for the trust policy's placeholder role ARN when
    /// --caller-role-arn is not given.
    #[arg(long, value_name = "ID")]
    pub caller_account: Option<String>,

    /// The AWS partition of the accounts (aws, aws-cn, aws-us-gov).
    #[arg(long, default_value = "aws", value_name = "PARTITION")]
    pub partition: String,

    /// Require this external id in the trust policy (as --external-id of audit).
    #[arg(long, value_name = "ID")]
    pub external_id: Option<String>,

    /// Require the caller to be in this organization (aws:PrincipalOrgID in the trust policy) and the
    /// roles it assumes too (aws:ResourceOrgID in the caller policy).
    #[arg(long, value_name = "ORG_ID")]
    pub organization_id: Option<String>,

    /// The rules rdsguard runs with: Secrets Manager access is scoped to the secrets their restores
    /// name, in their destination accounts. Without it, no Secrets Manager action is granted.
    #[arg(long = "rules", value_name = "PATH")]
    pub rules: Vec<PathBuf>,

    /// One member role policy (`member_role_policy`) with every statement, instead of one document
    /// per job (audit role, source and vault remediation, Security Hub).
    #[arg(long)]
    pub one_role: bool,

    /// Print only one document.
    #[arg(long, value_enum, value_name = "PART")]
    pub part: Option<PolicyPart>,
}

pub const SETUP_AFTER_HELP: &str = "\
Files written (Terraform: the same as modules, terraform/<name>/main.tf.json):
  cloudformation/member-roles.json  a service-managed StackSet for the source accounts' OUs
                                    (not the vault): the member role, its trust policy,
                                    audit_role_policy, and source_remediation_policy with
                                    --mode remediate
  cloudformation/source-key.json    the shareable source CMK (+ alias) the rules'
                                    source_kms_key names; the vault may Decrypt, DescribeKey
                                    and CreateGrant. Same StackSet targets
  cloudformation/vault.json         a stack in the vault account: its member role
                                    (audit_role_policy, vault_remediation_policy), the vault
                                    key (+ alias), the restores' DB subnet groups
  cloudformation/caller.json        a stack in the account that runs rdsguard: caller_policy,
                                    attached to the --caller-role-arn role

Then audit with the same names: rdsguard audit --role-name NAME [--external-id ID].
Nothing is sent to AWS; the folder gets every file or none (exit 2 on bad input).
Docs: docs/setup.md";

/// What `setup` writes the set-up as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SetupFormat {
    /// CloudFormation templates (JSON), one folder `cloudformation/`.
    Cloudformation,
    /// Terraform modules (Terraform JSON syntax, `main.tf.json`), one folder each under `terraform/`.
    Terraform,
}

/// What the deployed roles may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SetupMode {
    /// `rdsguard audit` only: read-only roles.
    Audit,
    /// `rdsguard audit --remediate` and `rollback` too: the source and vault remediation policies.
    Remediate,
}

#[derive(Debug, Args)]
pub struct SetupArgs {
    /// cloudformation or terraform.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: SetupFormat,

    /// audit (read-only roles) or remediate (adds the source and vault remediation policies).
    #[arg(long, value_enum, value_name = "MODE")]
    pub mode: SetupMode,

    /// The member roles also trust the Step Functions execution role (`audit --remediate --engine
    /// step-functions`, `remediation export`), and the caller's policy may deploy and run the state
    /// machine. Needs --mode remediate.
    #[arg(long)]
    pub step_functions: bool,

    /// The rules rdsguard runs with: their destination accounts, vault key aliases
    /// (destination.kms_key), source key aliases (source_kms_key), restore subnet groups and secrets
    /// shape the templates. Without it: the vault account from --vault-account, the aliases
    /// alias/rds-vault and alias/rds-share, and no Secrets Manager access.
    #[arg(long = "rules", value_name = "PATH")]
    pub rules: Vec<PathBuf>,

    /// The member role's name in every account (pass the same --role-name to audit). Not
    /// OrganizationAccountAccessRole: setup must not replace the role Organizations made.
    #[arg(long, default_value = "rdsguard", value_name = "NAME")]
    pub role_name: String,

    /// The role (or user) that runs rdsguard: the only principal the member roles trust, and the one
    /// caller.json gives the caller policy. Without it, the templates ask for it (parameter
    /// CallerRoleArn, variable caller_role_arn).
    #[arg(long, value_name = "ARN")]
    pub caller_role_arn: Option<String>,

    /// Require this external id in the member roles' trust policy (pass the same to audit).
    #[arg(long, value_name = "ID")]
    pub external_id: Option<String>,

    /// The organization: aws:PrincipalOrgID in the trust policy, aws:ResourceOrgID on the caller's
    /// AssumeRole and on KMS use, and the organization's accounts may use the vault key through RDS
    /// and AWS Backup (copies into the vault).
    #[arg(long, value_name = "ORG_ID")]
    pub organization_id: Option<String>,

    /// The vault (destination) account the source keys are shared with (repeatable). Default: the
    /// rules' destination accounts.
    #[arg(long = "vault-account", value_name = "ID")]
    pub vault_accounts: Vec<String>,

    /// The AWS partition of the accounts (aws, aws-cn, aws-us-gov).
    #[arg(long, default_value = "aws", value_name = "PARTITION")]
    pub partition: String,

    /// Folder to write into (created if missing; files of an earlier setup are replaced).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PolicyPart {
    CallerPolicy,
    AuditRolePolicy,
    SourceRemediationPolicy,
    VaultRemediationPolicy,
    SecurityHubPolicy,
    /// With --mode drill.
    DrillPolicy,
    /// With --one-role.
    MemberRolePolicy,
    MemberRoleTrustPolicy,
    /// With --mode step-functions.
    StateMachineExecutionPolicy,
    /// With --mode step-functions.
    StateMachineExecutionTrust,
}
