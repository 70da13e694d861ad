//! Where a rule's copies go and how they are made: `destination` (account, region, key, the kinds of
//! copy that count, the vault pattern) and `remediate = "backup"` with its `backup` table.

use toml::Spanned;

use super::super::raw::{RawBackup, RawDestination, RawOptionGroup};
use super::{check_key_reference, is_account_id, is_aws_managed_alias, is_region};
use crate::rules::{
    parse_duration, BackupRemediation, Destination, DestinationRegion, ReplicaKinds,
    TargetOptionGroup, DEFAULT_BACKUP_ROLE,
};

/// The raw `remediate` and `backup` keys of a rule, and what else of the rule they depend on.
pub(super) struct Remediate {
    pub mode: Option<Spanned<String>>,
    pub backup: Option<Spanned<RawBackup>>,
    /// The rule has `restore`.
    pub restore: bool,
    /// Where the rule starts, for problems of the rule as a whole.
    pub rule_at: usize,
}

/// `remediate = "backup"` and its `backup` table, checked against the rule's destination.
pub(super) fn backup_remediation(
    input: Remediate,
    destination: &Option<Destination>,
    error: &mut impl FnMut(usize, String),
) -> Option<BackupRemediation> {
    let backup_at = input.backup.as_ref().map(|b| b.span().start);
    let remediate_at = input.mode.as_ref().map(|r| r.span().start);
    let by_backup = input.mode.as_ref().is_some_and(|r| r.get_ref() == "backup");
    let backup_remediation = match (input.mode.as_ref(), input.backup) {
        (None, None) => None,
        (Some(mode), _) if mode.get_ref() == "snapshot" => {
            if let Some(offset) = backup_at {
                error(
                    offset,
                    "backup: only used with remediate = \"backup\"".to_string(),
                );
            }
            None
        }
        (Some(mode), backup) if mode.get_ref() == "backup" => {
            let offset = mode.span().start;
            match backup.map(Spanned::into_inner) {
                None => {
                    error(
                        offset,
                        "remediate = \"backup\" needs a backup table, for example backup = { destination_vault = \"central\" }".to_string(),
                    );
                    None
                }
                Some(table) => backup_table(offset, table, destination, error),
            }
        }
        (Some(mode), _) => {
            error(
                mode.span().start,
                format!(
                    "remediate `{}` is not \"snapshot\" (copy snapshots, the default) or \"backup\" (start AWS Backup jobs)",
                    mode.get_ref()
                ),
            );
            None
        }
        (None, Some(_)) => {
            if let Some(offset) = backup_at {
                error(
                    offset,
                    "backup: only used with remediate = \"backup\"".to_string(),
                );
            }
            None
        }
    };
    if by_backup && destination.as_ref().is_some_and(|d| !d.replicas.backup) {
        error(
            remediate_at.unwrap_or(input.rule_at),
            "remediate = \"backup\" makes recovery points, but destination.replicas does not count \"backup\"".to_string(),
        );
    }
    if by_backup && input.restore {
        error(
            input.rule_at,
            "restore: restoring from an AWS Backup recovery point is not built yet; a rule with remediate = \"backup\" cannot have restore".to_string(),
        );
    }

    backup_remediation
}

fn backup_table(
    offset: usize,
    table: RawBackup,
    destination: &Option<Destination>,
    error: &mut impl FnMut(usize, String),
) -> Option<BackupRemediation> {
    let Some(vault) = table.destination_vault else {
        error(
            offset,
            "backup: missing required key `destination_vault` (the vault in the destination account that copies go into)".to_string(),
        );
        return None;
    };
    if let Some(dest) = destination.as_ref().filter(|d| d.replicas.backup) {
        if let Some(pattern) = dest.vault.as_deref() {
            if !crate::rules::pattern::matches(pattern, vault.get_ref()) {
                error(
                    vault.span().start,
                    format!(
                        "backup.destination_vault `{}` does not match destination.vault `{pattern}`: its copies would not count",
                        vault.get_ref()
                    ),
                );
            }
        }
    }
    let delete_after_days = match &table.delete_after {
        None => 35,
        Some(text) => match parse_duration(text.get_ref()) {
            Ok(d) if d.seconds >= 86_400 => (d.seconds + 86_399) / 86_400,
            Ok(_) => {
                error(
                    text.span().start,
                    "backup.delete_after must be at least 1d (AWS Backup keeps recovery points whole days)".to_string(),
                );
                35
            }
            Err(message) => {
                error(text.span().start, format!("backup.delete_after: {message}"));
                35
            }
        },
    };
    let role = role_name("backup.role", table.role, error);
    Some(BackupRemediation {
        source_vault: table.source_vault.unwrap_or_else(|| "Default".to_string()),
        destination_vault: vault.into_inner(),
        role,
        delete_after_days,
    })
}

pub(super) fn destination(
    offset: usize,
    dest: RawDestination,
    error: &mut impl FnMut(usize, String),
) -> Option<Destination> {
    let account = match dest.account {
        None => {
            error(
                offset,
                "destination: missing required key `account` (the vault's 12-digit account id)"
                    .to_string(),
            );
            None
        }
        Some(account) => {
            if !is_account_id(account.get_ref()) {
                error(
                    account.span().start,
                    format!(
                        "destination.account `{}` is not a 12-digit AWS account id",
                        account.get_ref()
                    ),
                );
            }
            Some(account.into_inner())
        }
    };
    let region = match dest.region {
        None => DestinationRegion::Same,
        Some(r) if r.get_ref() == "same" => DestinationRegion::Same,
        Some(r) => {
            if !is_region(r.get_ref()) {
                error(
                    r.span().start,
                    format!(
                        "destination.region `{}` is not a region name (or \"same\")",
                        r.get_ref()
                    ),
                );
            }
            DestinationRegion::Named(r.into_inner())
        }
    };
    if let Some(key) = &dest.kms_key {
        if let Err(message) = check_key_reference(key.get_ref()) {
            error(key.span().start, format!("destination.kms_key: {message}"));
        } else if is_aws_managed_alias(key.get_ref()) {
            error(
                key.span().start,
                format!(
                    "destination.kms_key `{}` is an AWS managed key; pin a customer managed key",
                    key.get_ref()
                ),
            );
        }
    }
    let mut replicas = ReplicaKinds::default();
    if let Some(kinds) = dest.replicas {
        replicas = ReplicaKinds {
            snapshot: false,
            backup: false,
        };
        if kinds.is_empty() {
            error(
                offset,
                "destination.replicas is empty: name at least one of \"snapshot\", \"backup\""
                    .to_string(),
            );
        }
        for kind in kinds {
            match kind.get_ref().as_str() {
                "snapshot" => replicas.snapshot = true,
                "backup" => replicas.backup = true,
                other => error(
                    kind.span().start,
                    format!(
                        "destination.replicas: `{other}` is not a kind of copy (expected \"snapshot\" for manual DB snapshots, \"backup\" for AWS Backup recovery points)"
                    ),
                ),
            }
        }
    }
    if let (Some(vault), false) = (&dest.vault, replicas.backup) {
        error(
            vault.span().start,
            "destination.vault names backup vaults, but destination.replicas does not count \"backup\"".to_string(),
        );
    }
    let option_group = dest.option_group.and_then(|group| {
        if !replicas.snapshot {
            error(
                group.span().start,
                "destination.option_group is for remediation's snapshot copies, but destination.replicas does not count \"snapshot\"".to_string(),
            );
        }
        option_group(group, error)
    });
    Some(Destination {
        account: account?,
        region,
        kms_key: dest.kms_key.map(Spanned::into_inner),
        replicas,
        vault: dest.vault.map(Spanned::into_inner),
        option_group,
    })
}

/// `destination.option_group`: a name, or names by region, each an option group name AWS accepts
/// (`CreateOptionGroup`: 1 to 255 letters, digits or hyphens, starting with a letter, no hyphen at
/// the end or twice in a row) and not a default option group (those hold no options).
fn option_group(
    group: Spanned<RawOptionGroup>,
    error: &mut impl FnMut(usize, String),
) -> Option<TargetOptionGroup> {
    let offset = group.span().start;
    let check = |error: &mut dyn FnMut(usize, String), offset: usize, name: &str, within: &str| {
        if let Some(problem) = option_group_name_problem(name) {
            error(
                offset,
                format!("destination.option_group{within} `{name}` {problem}"),
            );
        }
    };
    match group.into_inner() {
        RawOptionGroup::Name(name) => {
            check(error, offset, &name, "");
            Some(TargetOptionGroup::Everywhere(name))
        }
        RawOptionGroup::PerRegion(names) => {
            if names.is_empty() {
                error(
                    offset,
                    "destination.option_group is an empty table: name an option group per region, e.g. { us-west-2 = \"vault-options\" }".to_string(),
                );
            }
            let mut out = std::collections::BTreeMap::new();
            for (region, name) in names {
                let at = name.span().start;
                if !is_region(&region) {
                    error(
                        at,
                        format!("destination.option_group: `{region}` is not a region name"),
                    );
                }
                check(error, at, name.get_ref(), &format!(".{region}"));
                out.insert(region, name.into_inner());
            }
            Some(TargetOptionGroup::PerRegion(out))
        }
    }
}

/// Why `name` is no option group name a copy can be associated with, if it is not.
fn option_group_name_problem(name: &str) -> Option<&'static str> {
    if name.starts_with("default:") {
        return Some("is a default option group: it holds no options, so it cannot carry the source's (name one you created in the destination account)");
    }
    let valid = (1..=255).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !name.ends_with('-')
        && !name.contains("--");
    (!valid).then_some(
        "is not an option group name (1 to 255 letters, digits or hyphens, starting with a letter, no hyphen at the end or two in a row)",
    )
}

/// A role AWS Backup is handed (`backup.role`, `drill.backup_role`): a name with its path, or an
/// IAM role ARN; [`DEFAULT_BACKUP_ROLE`] when not given.
pub(super) fn role_name(
    key: &str,
    role: Option<Spanned<String>>,
    error: &mut impl FnMut(usize, String),
) -> String {
    let Some(role) = role else {
        return DEFAULT_BACKUP_ROLE.to_string();
    };
    let text = role.get_ref();
    let valid = if text.starts_with("arn:") {
        text.split(':').nth(2) == Some("iam") && text.contains(":role/")
    } else {
        !text.is_empty() && !text.starts_with('/') && !text.contains(char::is_whitespace)
    };
    if !valid {
        error(
            role.span().start,
            format!("{key} `{text}` is not a role name (with its path, e.g. service-role/AWSBackupDefaultServiceRole) or an IAM role ARN"),
        );
    }
    role.into_inner()
}
