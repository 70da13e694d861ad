//! `replica-age`: the newest replica's data is no older than the rule's `max_age` (the RPO).
//! Age is measured from the data's point in time (`OriginalSnapshotCreateTime`), not the copy's.

use super::{Check, CheckId, Ctx, Fact, Outcome};
use crate::rules::format_seconds;

pub const CHECK: Check = Check {
    id: CheckId::new("replica-age"),
    title: "The newest replica is within the RPO",
    failure: "The newest copy in the vault account is older than the RPO",
    remediation: "Find why the copy job stopped (scheduler, permissions, key grants), then copy a fresh snapshot into the vault account. The age counts from the original snapshot's time, so re-copying an old snapshot does not help.",
    needs: |_| &[Fact::ReplicaSnapshots],
    run,
};

fn run(ctx: &Ctx<'_>) -> Option<Outcome> {
    let expected = format!("<= {}", ctx.rule.max_age);
    if let Some(error) = ctx.unreadable_destination(&expected) {
        return Some(error);
    }
    if let Some(grace) = ctx.in_grace() {
        return Some(Outcome::skip(expected, grace));
    }
    let Some(newest) = ctx.replicas.first() else {
        return Some(Outcome::skip(
            expected,
            format!("no replica to measure{}", ctx.left_out()),
        ));
    };
    let Some(time) = newest.replica_time() else {
        return Some(Outcome::error(
            expected,
            format!("replica {} reports no snapshot time", newest.arn),
        ));
    };
    let age = (ctx.as_of - time).num_seconds();
    let observed = format_seconds(age);
    if age > ctx.rule.max_age.seconds {
        Some(Outcome::fail(
            observed,
            expected,
            format!(
                "newest replica holds data from {} ({} old), older than the rule's max_age of {}",
                time.to_rfc3339(),
                format_seconds(age),
                ctx.rule.max_age
            ),
        ))
    } else {
        Some(Outcome::pass(
            observed,
            expected,
            format!("newest replica holds data from {}", time.to_rfc3339()),
        ))
    }
}
