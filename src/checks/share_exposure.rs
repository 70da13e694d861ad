//! `share-exposure`: no snapshot of the source (in its own account, or a replica in the destination) is
//! public or shared with an account other than the rule's destination; and no backup vault holding a
//! recovery point of it lets another account copy out, restore or delete it (its access policy).

use std::collections::BTreeSet;

use super::{vault_policy, Check, CheckId, Ctx, Fact, Outcome};
use crate::inventory::Snapshot;

pub const CHECK: Check = Check {
    id: CheckId::new("share-exposure"),
    title: "No snapshot of the source is public or shared outside the destinations",
    failure: "A snapshot of the database is shared outside the vault account",
    remediation: "Remove the extra accounts (or 'all') from the snapshot's restore attribute: aws rds modify-db-snapshot-attribute --attribute-name restore --values-to-remove ACCOUNT.",
    needs: |_| &[
        Fact::ReplicaSnapshots,
        Fact::ReplicaShares,
        Fact::OwnSnapshots,
        Fact::OwnSnapshotShares,
        Fact::VaultPolicies,
    ],
    run,
};

fn run(ctx: &Ctx<'_>) -> Option<Outcome> {
    let expected = format!("shared with nobody but {}", ctx.dest_account);
    let source = ctx.source;
    let own_errors =
        ctx.index
            .snapshot_read_errors(&source.db.account_id, &source.db.region, source.db.kind);
    if let Some(first) = own_errors.first() {
        return Some(Outcome::error(
            expected,
            format!(
                "could not list the source's snapshots in {}/{}: {} on {}",
                source.db.account_id, source.db.region, first.code, first.operation
            ),
        ));
    }
    if let Some(error) = ctx.unreadable_destination(&expected) {
        return Some(error);
    }
    // Only what existed at the instant judged (when judging before the inventory was read): a
    // snapshot made later was shared with nobody then.
    let mut snapshots: Vec<&Snapshot> = ctx
        .index
        .own_snapshots(source)
        .into_iter()
        .filter(|s| ctx.cutoff.is_none_or(|at| s.existed_at(at)))
        .collect();
    let (points, manual): (Vec<&Snapshot>, Vec<&Snapshot>) =
        ctx.replicas.iter().partition(|s| s.backup.is_some());
    snapshots.extend(manual);
    let mut exposed = Vec::new();
    let mut unknown = Vec::new();
    // Recovery points: who may reach them is their vault's access policy.
    let mut vaults = BTreeSet::new();
    let mut unread_vault: Option<String> = None;
    for point in &points {
        let Some(vault) = ctx.index.vault_of(point) else {
            unknown.push(point.arn.as_str());
            continue;
        };
        if !vaults.insert(vault.arn.as_str()) {
            continue;
        }
        match &vault.access_policy {
            None => {
                let refused = ctx.index.inventory.errors.iter().any(|e| {
                    e.operation == "GetBackupVaultAccessPolicy"
                        && e.resource.as_deref() == Some(vault.arn.as_str())
                });
                let why = if refused {
                    "could not read"
                } else {
                    "did not read (its owner account is not one this audit reads, or no rule judged it then)"
                };
                unread_vault.get_or_insert(format!(
                    "{why} the access policy of vault {} (owner {}), which holds a recovery point of this database",
                    vault.arn, vault.owner_account
                ));
            }
            Some(None) => {}
            Some(Some(policy)) => match vault_policy::exposure(policy, ctx.dest_account) {
                Ok(found) => exposed.extend(
                    found
                        .into_iter()
                        .map(|f| format!("vault {}: {f}", vault.name)),
                ),
                Err(problem) => {
                    unread_vault
                        .get_or_insert(format!("could not judge vault {}: {problem}", vault.name));
                }
            },
        }
    }
    for snapshot in &snapshots {
        match &snapshot.shared_with {
            None => unknown.push(snapshot.arn.as_str()),
            Some(accounts) => {
                let outside: Vec<&str> = accounts
                    .iter()
                    .map(String::as_str)
                    .filter(|a| *a != ctx.dest_account)
                    .collect();
                if !outside.is_empty() {
                    let who = outside
                        .iter()
                        .map(|a| if *a == "all" { "all (public)" } else { a })
                        .collect::<Vec<_>>()
                        .join(", ");
                    exposed.push(format!("{} shared with {who}", snapshot.identifier));
                }
            }
        }
    }
    if !exposed.is_empty() {
        return Some(Outcome::fail(
            exposed.join("; "),
            expected,
            format!(
                "{} snapshot(s) or vault policy statement(s) let accounts beyond the destination reach copies of this database",
                exposed.len()
            ),
        ));
    }
    if let Some(why) = unread_vault {
        return Some(Outcome::error(expected, why));
    }
    if let Some(first) = unknown.first() {
        let failed = ctx
            .index
            .inventory
            .errors
            .iter()
            .any(|e| e.resource.as_deref() == Some(*first));
        let why = if failed {
            "could not read"
        } else {
            "the audit that wrote this inventory did not read (no rule judged them then)"
        };
        return Some(Outcome::error(
            expected,
            format!(
                "{why} who {} snapshot(s) or vault(s) are shared with (first: {first})",
                unknown.len()
            ),
        ));
    }
    let vaults = match vaults.len() {
        0 => String::new(),
        n => format!(" and {n} vault(s)"),
    };
    Some(Outcome::pass(
        format!(
            "{} snapshot(s){vaults}, none shared beyond {}",
            snapshots.len(),
            ctx.dest_account
        ),
        expected,
        "no snapshot of this database is public or shared outside the destination",
    ))
}
