//! `replica-immutable`: for a rule with `immutable`, the newest replica is an AWS Backup recovery point
//! in a vault locked in compliance mode (`Locked`, with a `LockDate` at or before `as_of`; logically
//! air-gapped vaults always are) whose minimum retention covers the rule's `min_retention`.

use super::{Check, CheckId, Ctx, Fact, Outcome};
use crate::rules::format_seconds;

pub const CHECK: Check = Check {
    id: CheckId::new("replica-immutable"),
    title: "The newest replica is in a backup vault locked in compliance mode",
    failure: "The newest copy in the vault account can be deleted before its minimum retention",
    remediation: "Copy the database's backups into an AWS Backup vault under Vault Lock in compliance mode (put-backup-vault-lock-configuration with --changeable-for-days, then wait out the cooling-off period), or into a logically air-gapped vault, with a minimum retention at least the rule's immutable.min_retention.",
    needs: |rule| {
        if rule.immutable.is_some() {
            &[Fact::ReplicaSnapshots]
        } else {
            &[]
        }
    },
    run,
};

const DAY: i64 = 86_400;

fn run(ctx: &Ctx<'_>) -> Option<Outcome> {
    let immutable = ctx.rule.immutable?;
    let expected = match immutable.min_retention {
        Some(min) => format!("in a compliance-locked vault, minimum retention >= {min}"),
        None => "in a compliance-locked vault".to_string(),
    };
    if let Some(error) = ctx.unreadable_destination(&expected) {
        return Some(error);
    }
    let Some(newest) = ctx.replicas.first() else {
        return Some(Outcome::skip(
            expected,
            format!("no replica to inspect{}", ctx.left_out()),
        ));
    };
    if newest.backup.is_none() {
        return Some(Outcome::fail(
            format!("manual snapshot {}", newest.identifier),
            expected,
            format!(
                "the newest replica {} is a manual snapshot: anyone allowed rds:DeleteDBSnapshot in {} can delete it at any time; only a recovery point in a compliance-locked backup vault is immutable",
                newest.arn, ctx.dest_account
            ),
        ));
    }
    let Some(vault) = ctx.index.vault_of(newest) else {
        return Some(Outcome::error(
            expected,
            format!(
                "the vault of recovery point {} was not among the vaults listed in {}",
                newest.arn,
                ctx.destination()
            ),
        ));
    };
    let name = &vault.name;
    let lock = match (vault.locked, vault.lock_date) {
        (false, _) => Err(format!("vault {name} is not locked: its recovery points can be deleted")),
        (true, None) => Err(format!(
            "vault {name} is locked in governance mode: a principal allowed backup:DeleteBackupVaultLockConfiguration can remove the lock, then delete the recovery points"
        )),
        (true, Some(date)) if date > ctx.as_of => Err(format!(
            "vault {name} is in its Vault Lock cooling-off period until {}: the lock can still be removed",
            date.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )),
        (true, Some(_)) => Ok(()),
    };
    let kind = if vault.air_gapped() {
        "logically air-gapped vault"
    } else {
        "vault"
    };
    let retention = vault
        .min_retention_days
        .map(|d| format!("minimum retention {d}d"))
        .unwrap_or_else(|| "no minimum retention".to_string());
    if let Err(problem) = lock {
        let state = if vault.locked {
            "locked (not in compliance mode)"
        } else {
            "unlocked"
        };
        return Some(Outcome::fail(
            format!("{kind} {name}: {state}"),
            expected,
            problem,
        ));
    }
    if let Some(min) = immutable.min_retention {
        let covered = vault
            .min_retention_days
            .is_some_and(|days| days.saturating_mul(DAY) >= min.seconds);
        if !covered {
            return Some(Outcome::fail(
                format!("{kind} {name}: compliance-locked, {retention}"),
                expected,
                format!(
                    "vault {name} lets a recovery point be deleted after {}, sooner than the rule's immutable.min_retention of {min}",
                    vault
                        .min_retention_days
                        .map(|d| format_seconds(d.saturating_mul(DAY)))
                        .unwrap_or_else(|| "any time (no minimum)".to_string())
                ),
            ));
        }
    }
    Some(Outcome::pass(
        format!("{kind} {name}: compliance-locked, {retention}"),
        expected,
        format!(
            "recovery point {} is in {kind} {name}, locked in compliance mode",
            newest.arn
        ),
    ))
}
