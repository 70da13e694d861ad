//! `restore-current`: when the rule asks for a restored instance, the newest replica has one (an
//! instance in the destination tagged `rdsguard:restored-from` with the replica's ARN), and the rule's
//! secret points at it (its host or instance id). Only the secret's endpoint fields are read.

use super::{Check, CheckId, Ctx, Fact, Outcome};
use crate::inventory::{TAG_RESTORED_FROM, TAG_SOURCE_ARN};
use crate::rules::Rule;

pub const CHECK: Check = Check {
    id: CheckId::new("restore-current"),
    title: "The newest replica is restored and the secret points at it",
    failure: "The newest copy is not restored or the secret does not point at it",
    remediation: "Restore the newest replica in the vault account and point the rule's secret at the restored instance (rdsguard audit --remediate does both; rdsguard rollback repoints to an earlier restore).",
    needs,
    run,
};

/// Only for rules with `restore`; the secret is read for the databases it names one for.
fn needs(rule: &Rule) -> &'static [Fact] {
    match rule.restore {
        Some(_) => &[
            Fact::ReplicaSnapshots,
            Fact::RestoredInstances,
            Fact::RestoreSecret,
        ],
        None => &[],
    }
}

fn run(ctx: &Ctx<'_>) -> Option<Outcome> {
    let restore = ctx.rule.restore.as_ref()?;
    let expected = match restore.secret_for(ctx.source) {
        Some(secret) => {
            format!("an instance restored from the newest replica, and {secret} pointing at it")
        }
        None => "an instance restored from the newest replica".to_string(),
    };
    if let Some(error) = ctx.unreadable_destination(&expected) {
        return Some(error);
    }
    let Some(newest) = ctx.replicas.first() else {
        return Some(Outcome::skip(expected, "no replica to restore"));
    };
    let unread = ctx.index.inventory.errors.iter().find(|e| {
        e.account_id == ctx.dest_account
            && (e.region == "*"
                || (e.region == ctx.dest_region
                    && matches!(
                        e.operation.as_str(),
                        "DescribeDBInstances" | "DescribeDBClusters"
                    )))
    });
    if let Some(error) = unread {
        return Some(Outcome::error(
            expected,
            format!(
                "could not list the restored copies in {}: {} on {}: {}",
                ctx.destination(),
                error.code,
                error.operation,
                error.message
            ),
        ));
    }
    let restored = ctx.index.inventory.replica_instances.iter().find(|i| {
        i.account_id == ctx.dest_account
            && i.region == ctx.dest_region
            && i.tags.get(TAG_RESTORED_FROM) == Some(&newest.arn)
            && i.tags.get(TAG_SOURCE_ARN) == Some(&ctx.source.db.arn)
            && !matches!(
                i.status.as_deref(),
                Some(
                    "deleting"
                        | "failed"
                        | "incompatible-restore"
                        | "inaccessible-encryption-credentials"
                )
            )
    });
    let Some(restored) = restored else {
        return Some(Outcome::fail(
            "no restore of the newest replica",
            expected,
            format!(
                "no instance in {} is restored from {}",
                ctx.destination(),
                newest.arn
            ),
        ));
    };
    let Some(name) = restore.secret_for(ctx.source) else {
        return Some(Outcome::pass(
            &restored.identifier,
            expected,
            "the newest replica is restored",
        ));
    };
    let secret = ctx.index.inventory.secrets.iter().find(|s| {
        s.account_id == ctx.dest_account && s.region == ctx.dest_region && s.name == name
    });
    let Some(secret) = secret else {
        return Some(Outcome::error(
            expected,
            format!("could not read where the secret {name} points"),
        ));
    };
    if !secret.exists {
        return Some(Outcome::fail(
            format!("secret {name} does not exist"),
            expected,
            format!(
                "the rule's secret {name} does not exist in {}",
                ctx.destination()
            ),
        ));
    }
    let points_at_it = secret.instance.as_deref() == Some(restored.identifier.as_str())
        || (secret.host.is_some() && secret.host == restored.endpoint);
    let observed = secret
        .instance
        .clone()
        .or_else(|| secret.host.clone())
        .unwrap_or_else(|| "nothing".to_string());
    if points_at_it {
        Some(Outcome::pass(
            observed,
            expected,
            format!(
                "{name} points at {}, restored from the newest replica",
                restored.identifier
            ),
        ))
    } else {
        Some(Outcome::fail(
            format!("{name} points at {observed}"),
            expected,
            format!(
                "{name} does not point at {} (restored from the newest replica {})",
                restored.identifier, newest.arn
            ),
        ))
    }
}
