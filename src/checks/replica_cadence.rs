//! `replica-cadence`: the newest `retain.min` replicas cover the last `retain.min` x `cadence` with no
//! gap longer than the cadence (plus a tolerance), so seven copies made one afternoon are not taken for
//! seven days of history. Only for rules with `cadence`.

use super::{Check, CheckId, Ctx, Fact, Outcome};
use crate::rules::{format_seconds, Duration, Rule};

pub const CHECK: Check = Check {
    id: CheckId::new("replica-cadence"),
    title: "The newest replicas are spread one cadence apart",
    failure: "The copies in the vault account do not cover the history the rule asks for",
    remediation: "Copy into the vault account on the rule's cadence (a scheduler that runs every cadence, e.g. daily), and keep at least retain.min copies; copies made close together do not add history.",
    needs,
    run,
};

/// Scheduling jitter allowed on every gap: a tenth of the cadence, at least a minute.
pub fn tolerance(cadence: Duration) -> i64 {
    (cadence.seconds / 10).max(60)
}

/// Only for rules with a `cadence` (validation requires `retain.min` with it).
fn needs(rule: &Rule) -> &'static [Fact] {
    match (rule.cadence, rule.retain.min) {
        (Some(_), Some(_)) => &[Fact::ReplicaSnapshots],
        _ => &[],
    }
}

fn run(ctx: &Ctx<'_>) -> Option<Outcome> {
    let cadence = ctx.rule.cadence?;
    // Rules validation requires retain.min with a cadence.
    let wanted = ctx.rule.retain.min? as usize;
    let slack = tolerance(cadence);
    let expected = format!(
        "{wanted} replica(s), newest within {cadence}, each at most {cadence} (+{}) apart, covering {}",
        format_seconds(slack),
        format_seconds(cadence.seconds * wanted as i64)
    );
    if let Some(error) = ctx.unreadable_destination(&expected) {
        return Some(error);
    }
    if let Some(grace) = ctx.in_grace() {
        return Some(Outcome::skip(expected, grace));
    }
    if ctx.replicas.len() < wanted {
        return Some(Outcome::fail(
            format!("{} replica(s)", ctx.replicas.len()),
            expected,
            format!(
                "only {} replica(s) in {}: {wanted} one cadence apart are needed to cover {}{}",
                ctx.replicas.len(),
                ctx.destination(),
                format_seconds(cadence.seconds * wanted as i64),
                ctx.left_out()
            ),
        ));
    }
    let mut times = Vec::with_capacity(wanted);
    for replica in &ctx.replicas[..wanted] {
        let Some(time) = replica.replica_time() else {
            return Some(Outcome::error(
                expected,
                format!("replica {} reports no snapshot time", replica.arn),
            ));
        };
        times.push(time);
    }
    // From as_of back through the newest replicas: the largest step between two points.
    let mut previous = ctx.as_of;
    let mut widest = (0, ctx.as_of, ctx.as_of);
    for time in &times {
        let gap = (previous - *time).num_seconds();
        if gap > widest.0 {
            widest = (gap, *time, previous);
        }
        previous = *time;
    }
    let oldest = times[wanted - 1];
    let span = (ctx.as_of - oldest).num_seconds();
    let stamp =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    if widest.0 > cadence.seconds + slack {
        let (gap, from, to) = widest;
        let what = if to == ctx.as_of {
            format!("the newest replica holds data from {}", stamp(from))
        } else {
            format!("no replica between {} and {}", stamp(from), stamp(to))
        };
        return Some(Outcome::fail(
            format!("largest gap {}", format_seconds(gap)),
            expected,
            format!(
                "{what}: a gap of {}, longer than the {cadence} cadence",
                format_seconds(gap)
            ),
        ));
    }
    let needed = cadence.seconds * (wanted as i64 - 1) - slack;
    if span < needed {
        return Some(Outcome::fail(
            format!("{wanted} replica(s) span {}", format_seconds(span)),
            expected,
            format!(
                "the newest {wanted} replica(s) hold data from the last {} only (oldest {}): at a {cadence} cadence they should reach back at least {}",
                format_seconds(span),
                stamp(oldest),
                format_seconds(cadence.seconds * (wanted as i64 - 1))
            ),
        ));
    }
    Some(Outcome::pass(
        format!(
            "{wanted} replica(s) over {}, largest gap {}",
            format_seconds(span),
            format_seconds(widest.0)
        ),
        expected,
        format!(
            "the newest {wanted} replica(s) are at most {cadence} (+{}) apart and reach back to {}",
            format_seconds(slack),
            stamp(oldest)
        ),
    ))
}
