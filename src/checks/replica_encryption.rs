//! `replica-encryption`: the newest replica is encrypted with a customer managed key that is usable,
//! and, where the rule pins `destination.kms_key`, with exactly that key (aliases resolved in the
//! destination account and region).

use super::{Check, CheckId, Ctx, Fact, Outcome};
use crate::inventory::{KeyFact, KeyManager};

pub const CHECK: Check = Check {
    id: CheckId::new("replica-encryption"),
    title: "The newest replica is encrypted with the right customer managed key",
    failure: "The copy in the vault account is not encrypted with the required key",
    remediation: "Copy the replica again inside the vault account with --kms-key-id set to the vault's customer managed key (the rule's destination.kms_key), then delete the copy under the wrong key.",
    needs: |_| &[
        Fact::ReplicaSnapshots,
        Fact::PinnedDestinationKey,
        Fact::NewestReplicaKey,
    ],
    run,
};

pub fn is_aws_managed(key: &KeyFact) -> bool {
    key.key_manager == KeyManager::Aws || key.lookups.iter().any(|l| l.contains("alias/aws/"))
}

/// Why a key cannot protect data it encrypts, if it can't.
pub(crate) fn unusable(key: &KeyFact) -> Option<String> {
    match key.key_state.as_deref() {
        Some("PendingDeletion") => Some(format!(
            "key {} is pending deletion: data under it becomes unreadable when it is deleted",
            key.arn
        )),
        Some("Disabled") | Some("PendingImport") | Some("Unavailable") => Some(format!(
            "key {} is {}: data under it cannot be read",
            key.arn,
            key.key_state.as_deref().unwrap_or("not enabled")
        )),
        _ if !key.enabled => Some(format!("key {} is disabled", key.arn)),
        _ => None,
    }
}

fn run(ctx: &Ctx<'_>) -> Option<Outcome> {
    let pinned = ctx.rule.destination.kms_key.as_deref();
    let expected = match pinned {
        Some(key) => format!("encrypted with {key}"),
        None => "encrypted with a customer managed key".to_string(),
    };
    if let Some(error) = ctx.unreadable_destination(&expected) {
        return Some(error);
    }
    let Some(newest) = ctx.replicas.first() else {
        return Some(Outcome::skip(expected, "no replica to inspect"));
    };
    if !newest.encrypted {
        return Some(Outcome::fail(
            "unencrypted",
            expected,
            format!("replica {} is not encrypted", newest.arn),
        ));
    }
    if let Some(point) = newest.backup.as_ref().filter(|p| p.aws_owned_key()) {
        // A key AWS owns is in no account: no policy to govern, nothing to pin; the vault's
        // isolation (a logically air-gapped vault) is AWS's own.
        let observed = format!("AWS-owned key (vault {})", point.vault_name);
        return Some(match pinned {
            Some(pinned) => Outcome::fail(
                observed,
                expected,
                format!(
                    "recovery point {} is encrypted with a key AWS owns, not the rule's destination.kms_key {pinned}",
                    newest.arn
                ),
            ),
            None => Outcome::pass(
                observed,
                expected,
                format!(
                    "recovery point {} is encrypted with an AWS-owned key in vault {}: reported as such (no customer managed key to check)",
                    newest.arn, point.vault_name
                ),
            ),
        });
    }
    let Some(key_id) = newest.kms_key_id.as_deref() else {
        return Some(Outcome::error(
            expected,
            format!("replica {} is encrypted but reports no key", newest.arn),
        ));
    };
    let key = ctx.index.key(ctx.dest_account, ctx.dest_region, key_id);
    if let Some(pinned) = pinned {
        let Some(pinned_key) = ctx.index.key(ctx.dest_account, ctx.dest_region, pinned) else {
            if ctx
                .index
                .key_missing(ctx.dest_account, ctx.dest_region, pinned)
            {
                return Some(Outcome::fail(
                    key.map(|k| k.arn.as_str()).unwrap_or(key_id),
                    expected,
                    format!(
                        "the rule's destination.kms_key {pinned} does not exist in {}: no replica can be under it",
                        ctx.destination()
                    ),
                ));
            }
            return Some(Outcome::error(
                expected,
                format!(
                    "the rule's destination.kms_key {pinned} could not be resolved in {}",
                    ctx.destination()
                ),
            ));
        };
        let same = key.map(|k| k.arn.as_str()).unwrap_or(key_id) == pinned_key.arn;
        if !same {
            let observed = match key {
                Some(k) if is_aws_managed(k) => format!("{} (AWS managed)", k.arn),
                Some(k) => k.arn.clone(),
                None => key_id.to_string(),
            };
            return Some(Outcome::fail(
                observed,
                format!("{} ({pinned})", pinned_key.arn),
                format!(
                    "replica {} is encrypted with another key than the rule pins",
                    newest.arn
                ),
            ));
        }
    }
    let Some(key) = key else {
        if key_id.contains("alias/aws/") {
            return Some(Outcome::fail(
                key_id,
                expected,
                "replica is encrypted with an AWS managed key, which cannot be shared or governed",
            ));
        }
        return Some(Outcome::error(
            expected,
            format!("could not describe the replica's key {key_id}"),
        ));
    };
    if is_aws_managed(key) {
        return Some(Outcome::fail(
            format!("{} (AWS managed)", key.arn),
            expected,
            "replica is encrypted with an AWS managed key (aws/rds): its key policy cannot be controlled and the copy cannot be shared",
        ));
    }
    if let Some(problem) = unusable(key) {
        return Some(Outcome::fail(&key.arn, expected, problem));
    }
    Some(Outcome::pass(
        &key.arn,
        expected,
        format!("replica {} is encrypted with {}", newest.arn, key.arn),
    ))
}
