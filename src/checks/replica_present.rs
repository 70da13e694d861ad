//! `replica-present`: the source has at least one replica in the destination account.

use super::{Check, CheckId, Ctx, Fact, Outcome};

pub const CHECK: Check = Check {
    id: CheckId::new("replica-present"),
    title: "A replica exists in the destination account",
    failure: "The database has no copy in the vault account",
    remediation: "Copy a recent snapshot of the database into the vault account: share a snapshot encrypted with a shareable customer managed key with the vault account, then copy it there by ARN under the vault key (or run rdsguard audit --remediate once available).",
    needs: |_| &[Fact::ReplicaSnapshots],
    run,
};

fn run(ctx: &Ctx<'_>) -> Option<Outcome> {
    let expected = format!(
        "at least 1 available {} in {}",
        ctx.copy_kinds(),
        ctx.destination()
    );
    if let Some(error) = ctx.unreadable_destination(&expected) {
        return Some(error);
    }
    // Whether the database is a source at all (not the green side of a Blue/Green deployment) is
    // unknown when the deployments were not read, or could not be: never PASS then.
    let source = ctx.source;
    if !ctx.rule.select.read_replicas && source.read_replica_of.is_none() {
        if let Some(e) = ctx
            .index
            .green_sides_unknown(&source.db.account_id, &source.db.region)
        {
            return Some(Outcome::error(
                expected,
                format!(
                    "could not tell whether this is the green side of a Blue/Green deployment: {} on {}: {}",
                    e.code, e.operation, e.message
                ),
            ));
        }
    }
    if let Some(grace) = ctx.in_grace() {
        return Some(Outcome::skip(expected, grace));
    }
    let count = ctx.replicas.len();
    if count > 0 {
        return Some(Outcome::pass(
            format!("{count} in {}", ctx.destination()),
            expected,
            format!("{count} replica(s) in the destination{}", ctx.left_out()),
        ));
    }
    let message = if ctx.dest_account == ctx.source.db.account_id {
        "the source lives in the destination account: a replica must be owned by another account"
            .to_string()
    } else {
        let how = match (
            ctx.rule.destination.replicas.snapshot,
            ctx.rule.destination.replicas.backup,
        ) {
            (true, true) => " (a snapshot by the rdsguard:source-arn tag, or by a source ARN naming {src} and identifier {id}; a recovery point by its resource ARN)",
            (false, true) => " (by the recovery point's resource ARN)",
            _ => " (by the rdsguard:source-arn tag, or by a source ARN naming {src} and identifier {id})",
        }
        .replace("{src}", &format!("{}/{}", ctx.source.db.account_id, ctx.source.db.region))
        .replace("{id}", &ctx.source.db.identifier);
        format!(
            "no available {} in {} is linked to this source{how}{}",
            ctx.copy_kinds(),
            ctx.destination(),
            ctx.left_out()
        )
    };
    Some(Outcome::fail(
        format!("0 in {}", ctx.destination()),
        expected,
        message,
    ))
}
