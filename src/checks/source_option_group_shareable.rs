//! `source-option-group-shareable`: remediation can share the database's snapshots with the
//! destination. AWS refuses to share a DB snapshot "that uses an option group with permanent or
//! persistent options, except for Oracle DB instances that have the `Timezone` or `OLS` option (or
//! both)" (RDS User Guide, "Sharing a DB snapshot for Amazon RDS"): Transparent Data Encryption
//! (`TDE`) for SQL Server (persistent) or Oracle (persistent and permanent), for example. The options
//! come from `DescribeOptionGroups` (`Options[].Persistent`, `Options[].Permanent`) in the database's
//! account and region; a default option group holds none, and an Aurora cluster's snapshots carry
//! no option group. The check applies to rules whose copies are made by sharing snapshots (not
//! `remediate = "backup"`).

use super::{Check, CheckId, Ctx, Fact, Outcome};
use crate::inventory::{is_default_option_group, GroupOption, SourceKind, OPTION_GROUPS_OPERATION};
use crate::rules::Rule;

pub const CHECK: Check = Check {
    id: CheckId::new("source-option-group-shareable"),
    title: "The source's option group lets its snapshots be shared with the destination",
    failure: "The database's snapshots cannot be shared: its option group has persistent or permanent options",
    remediation: "AWS does not share a DB snapshot whose option group has persistent or permanent options (Oracle's Timezone and OLS excepted), such as TDE for SQL Server or Oracle. Copy this database's data to the vault another way (the engine's native backups, for example), record that with an exemption, or move the database to an option group without such options where the engine allows it (SQL Server: decrypt its databases, then remove TDE).",
    needs,
    run,
};

/// The rule's copies are snapshots that remediation shares with the destination.
fn shares_snapshots(rule: &Rule) -> bool {
    rule.backup_remediation.is_none()
}

fn needs(rule: &Rule) -> &'static [Fact] {
    if shares_snapshots(rule) {
        &[Fact::SourceOptionGroup]
    } else {
        &[]
    }
}

/// "TDE (persistent), NATIVE_NETWORK_ENCRYPTION (permanent)".
fn listed(options: &[&GroupOption]) -> String {
    let names: Vec<String> = options.iter().map(|o| o.describe()).collect();
    names.join(", ")
}

fn run(ctx: &Ctx<'_>) -> Option<Outcome> {
    if !shares_snapshots(ctx.rule) {
        return None;
    }
    let source = ctx.source;
    let expected = "an option group without persistent or permanent options (Oracle's Timezone and OLS excepted): AWS shares no snapshot of one";
    let Some(name) = source.option_group.as_deref() else {
        // Every DB instance belongs to an option group (its engine's default at least): none known
        // means it was not read (an inventory written before rdsguard read them).
        return Some(match source.db.kind {
            SourceKind::DbCluster => Outcome::pass(
                "no option group",
                expected,
                "an Aurora cluster's snapshots carry no option group",
            ),
            SourceKind::DbInstance => Outcome::error(
                expected,
                "the inventory does not say which option group the database is in (written before rdsguard read OptionGroupMemberships): re-run the audit",
            ),
        });
    };
    if is_default_option_group(name) {
        return Some(Outcome::pass(
            name,
            expected,
            format!("{name} is a default option group: it holds no options"),
        ));
    }
    let (account, region) = (&source.db.account_id, &source.db.region);
    let inventory = ctx.index.inventory;
    if let Some(error) = ctx.read_error(account, region, OPTION_GROUPS_OPERATION) {
        return Some(Outcome::error(
            expected,
            format!(
                "could not read the options of {name} in {account}/{region}: {} on {}: {}",
                error.code, error.operation, error.message
            ),
        ));
    }
    let Some(listing) = inventory
        .option_groups
        .iter()
        .find(|l| &l.account_id == account && &l.region == region)
    else {
        return Some(Outcome::error(
            expected,
            format!("the option groups of {account}/{region} were not read ({OPTION_GROUPS_OPERATION}): re-run the audit with these rules"),
        ));
    };
    let Some(group) = listing
        .groups
        .iter()
        .find(|g| g.name.eq_ignore_ascii_case(name))
    else {
        return Some(Outcome::error(
            expected,
            format!("{OPTION_GROUPS_OPERATION} in {account}/{region} did not list the database's option group {name}"),
        ));
    };
    let unshareable = group.unshareable(&source.db.engine);
    if !unshareable.is_empty() {
        let options = listed(&unshareable);
        return Some(Outcome::fail(
            format!("{name}: {options}"),
            expected,
            format!(
                "option group {name} has {options}: AWS does not share a snapshot that uses an option group with persistent or permanent options, so no copy of this database can be shared with {}",
                ctx.dest_account
            ),
        ));
    }
    let carried = group.carried_on_copy(&source.db.engine);
    if !carried.is_empty() {
        return Some(Outcome::pass(
            name,
            expected,
            format!(
                "option group {name} has {}: AWS shares an Oracle snapshot with these, and the copy into {} names a target option group that includes them (destination.option_group)",
                listed(&carried),
                ctx.dest_account
            ),
        ));
    }
    Some(Outcome::pass(
        name,
        expected,
        format!("option group {name} has no persistent or permanent options"),
    ))
}
