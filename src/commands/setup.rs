//! `rdsguard setup`: writes the organization's set-up as code (`crate::setup`) into `--out`, every
//! file or none. The policies come from `iam::policies`, the call `iam-policy` makes.

use std::path::{Path, PathBuf};

use crate::cli::{SetupArgs, SetupFormat, SetupMode};
use crate::error::Error;
use crate::iam;
use crate::rules::{self, is_account_id};
use crate::setup::{self, Format, Inputs};

/// What setup wrote, and what it could not put into the templates.
pub struct Written {
    pub files: Vec<PathBuf>,
    pub warnings: Vec<String>,
}

pub fn run(args: &SetupArgs) -> Result<Written, Error> {
    super::iam_policy::check_ids(
        None,
        args.caller_role_arn.as_deref(),
        args.organization_id.as_deref(),
    )?;
    if let Some(bad) = args.vault_accounts.iter().find(|a| !is_account_id(a)) {
        return Err(Error::Usage(format!(
            "--vault-account: `{bad}` is not a 12-digit account id"
        )));
    }
    if args.role_name == "OrganizationAccountAccessRole" {
        return Err(Error::Usage(
            "--role-name OrganizationAccountAccessRole: that role already exists in accounts Organizations created, and setup must not replace it; pick another name (default: rdsguard)".into(),
        ));
    }
    let rules = if args.rules.is_empty() {
        None
    } else {
        Some(rules::load(&args.rules)?)
    };
    let from_rules = setup::from_rules(rules.as_ref());
    let mut vault_accounts = args.vault_accounts.clone();
    vault_accounts.extend(from_rules.vault_accounts);
    vault_accounts.sort();
    vault_accounts.dedup();
    if vault_accounts.is_empty() {
        return Err(Error::Usage(
            "setup needs the vault (destination) account the source keys are shared with: pass --rules (their destination accounts) or --vault-account ID".into(),
        ));
    }
    let mut modes = match args.mode {
        SetupMode::Audit => vec![iam::Mode::Audit],
        SetupMode::Remediate => vec![iam::Mode::Remediate],
    };
    if args.step_functions {
        if args.mode != SetupMode::Remediate {
            return Err(Error::Usage(
                "--step-functions needs --mode remediate: the state machine remediates".into(),
            ));
        }
        if args.caller_role_arn.is_none() {
            return Err(Error::Usage(
                "--step-functions needs --caller-role-arn: the state machine runs in the caller's account, which the templates name".into(),
            ));
        }
        modes.push(iam::Mode::StepFunctions);
    }
    // Rules with `drill`: the vault role runs `rdsguard drill` too.
    let drills = rules
        .as_ref()
        .is_some_and(|r| r.rules.iter().any(|rule| rule.drill.is_some()));
    if drills {
        modes.push(iam::Mode::Drill);
    }
    let secrets = rules.as_ref().map(iam::secret_scopes).unwrap_or_default();
    let backup_jobs = rules.as_ref().map(iam::backup_scopes).unwrap_or_default();
    let drill_roles = rules.as_ref().map(iam::drill_roles).unwrap_or_default();
    let documents = iam::policies(&iam::Options {
        modes: &modes,
        partition: &args.partition,
        role_name: &args.role_name,
        caller_arn: args.caller_role_arn.as_deref(),
        caller_account: None,
        external_id: args.external_id.as_deref(),
        organization_id: args.organization_id.as_deref(),
        secrets: &secrets,
        backup_jobs: &backup_jobs,
        drill_roles: &drill_roles,
        one_role: false,
    });
    let remediate = args.mode == SetupMode::Remediate;
    let inputs = Inputs {
        remediate,
        drills,
        partition: args.partition.clone(),
        role_name: args.role_name.clone(),
        caller_role_arn: args.caller_role_arn.clone(),
        organization_id: args.organization_id.clone(),
        documents,
        vault_accounts,
        vault_key_aliases: from_rules.vault_key_aliases,
        source_key_aliases: from_rules.source_key_aliases,
        subnet_groups: if remediate {
            from_rules.subnet_groups
        } else {
            Vec::new()
        },
    };
    let format = match args.format {
        SetupFormat::Cloudformation => Format::CloudFormation,
        SetupFormat::Terraform => Format::Terraform,
    };
    let mut contents = Vec::new();
    for file in setup::files(format, &inputs) {
        let text = serde_json::to_string_pretty(&file.content)
            .map_err(|e| Error::Usage(format!("cannot serialise {}: {e}", file.path)))?;
        contents.push((file.path, text + "\n"));
    }
    Ok(Written {
        files: write_all(&args.out, &contents)?,
        warnings: from_rules.warnings,
    })
}

/// Writes every file into a staging folder inside `out`, then moves each into place: a folder that
/// cannot be written gets nothing, and a folder setup created is removed again on failure.
fn write_all(out: &Path, files: &[(String, String)]) -> Result<Vec<PathBuf>, Error> {
    let created = !out.exists();
    std::fs::create_dir_all(out).map_err(|e| Error::io("create the folder", out, e))?;
    let staging = out.join(format!(".rdsguard-setup-{}", std::process::id()));
    let result = stage_and_move(out, &staging, files);
    let _ = std::fs::remove_dir_all(&staging);
    if result.is_err() && created {
        let _ = std::fs::remove_dir_all(out);
    }
    result
}

fn stage_and_move(
    out: &Path,
    staging: &Path,
    files: &[(String, String)],
) -> Result<Vec<PathBuf>, Error> {
    std::fs::create_dir(staging).map_err(|e| Error::io("write into the folder", out, e))?;
    for (path, text) in files {
        let staged = staging.join(path);
        if let Some(parent) = staged.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::io("create the folder", parent, e))?;
        }
        std::fs::write(&staged, text).map_err(|e| Error::io("write", &staged, e))?;
    }
    let mut written = Vec::new();
    for (path, _) in files {
        let target = out.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::io("create the folder", parent, e))?;
        }
        std::fs::rename(staging.join(path), &target).map_err(|e| Error::io("write", &target, e))?;
        written.push(target);
    }
    Ok(written)
}
