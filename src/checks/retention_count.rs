//! `retention-count`: the number of replica snapshots is within the rule's `retain` bounds.

use super::{Check, CheckId, Ctx, Fact, Outcome};
use crate::rules::Rule;

pub const CHECK: Check = Check {
    id: CheckId::new("retention-count"),
    title: "The destination keeps the number of replicas the rule asks for",
    failure: "The vault account keeps the wrong number of copies",
    remediation: "Below retain.min: copy snapshots more often. Above retain.max: delete the oldest copies in the vault account (never the newest).",
    needs,
    run,
};

/// Without `retain` bounds the check skips before looking at the destination.
fn needs(rule: &Rule) -> &'static [Fact] {
    match (rule.retain.min, rule.retain.max) {
        (None, None) => &[],
        _ => &[Fact::ReplicaSnapshots],
    }
}

fn run(ctx: &Ctx<'_>) -> Option<Outcome> {
    let retain = ctx.rule.retain;
    let expected = match (retain.min, retain.max) {
        (None, None) => return Some(Outcome::skip("-", "the rule sets no retain bounds")),
        (Some(min), None) => format!(">= {min}"),
        (None, Some(max)) => format!("<= {max}"),
        (Some(min), Some(max)) => format!("{min}..={max}"),
    };
    if let Some(error) = ctx.unreadable_destination(&expected) {
        return Some(error);
    }
    if let Some(grace) = ctx.in_grace() {
        return Some(Outcome::skip(expected, grace));
    }
    let count = ctx.replicas.len() as u32;
    let observed = count.to_string();
    if let Some(min) = retain.min.filter(|min| count < *min) {
        return Some(Outcome::fail(
            observed,
            expected,
            format!(
                "{count} replica(s) in {}, fewer than retain.min = {min}{}",
                ctx.destination(),
                ctx.left_out()
            ),
        ));
    }
    if let Some(max) = retain.max.filter(|max| count > *max) {
        return Some(Outcome::fail(
            observed,
            expected,
            format!(
                "{count} replica(s) in {}, more than retain.max = {max}: older copies are kept beyond policy{}",
                ctx.destination(),
                ctx.left_out()
            ),
        ));
    }
    Some(Outcome::pass(
        observed,
        expected,
        format!(
            "{count} replica(s) in {}{}",
            ctx.destination(),
            ctx.left_out()
        ),
    ))
}
