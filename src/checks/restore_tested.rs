//! `restore-tested`: when the rule asks for drills, the last restore drill of a replica of this
//! database (`rdsguard drill`) passed, is newer than `drill.every`, and took at most `drill.rto`. The
//! evidence is the drill tags on the drilled replicas (`rdsguard:drill-at`,
//! `rdsguard:drill-restore-seconds`, `rdsguard:drill-result`), read with the replicas; on a recovery
//! point, with its RDS view (one listing per destination account-region, only for rules with
//! `drill` that count AWS Backup copies).

use chrono::{DateTime, Utc};

use super::{Check, CheckId, Ctx, Fact, Outcome};
use crate::inventory::Snapshot;
use crate::report::{CheckStatus, DrillCoverage, DrillState, LastDrill, SourceReport};
use crate::rules::{format_seconds, Rule};
use crate::tags::{DRILL_PASSED, TAG_DRILL_AT, TAG_DRILL_RESTORE_SECONDS, TAG_DRILL_RESULT};

pub const CHECK: Check = Check {
    id: CheckId::new("restore-tested"),
    title: "A replica was restored in a drill recently, within the RTO",
    failure: "No recent successful restore drill within the RTO",
    remediation: "Run rdsguard drill: it restores the newest replica in the vault account, times it against the rule's drill.rto, runs the probe and deletes the drill instance. A slow restore needs a larger instance class or a smaller database; a failing probe, a look at the restored data.",
    needs,
    run,
};

/// Only for rules with `drill`: the evidence is on the replicas (a recovery point's, on its RDS
/// view).
fn needs(rule: &Rule) -> &'static [Fact] {
    match rule.drill {
        Some(_) => &[Fact::ReplicaSnapshots, Fact::ReplicaDrillEvidence],
        None => &[],
    }
}

/// One drill's evidence, as its replica's tags hold it.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    pub at: DateTime<Utc>,
    pub restore_seconds: Option<i64>,
    pub result: String,
}

/// The drill evidence on one replica, if it has any (a `drill-at` that is not a time is none).
pub fn evidence(snapshot: &Snapshot) -> Option<Evidence> {
    let at = DateTime::parse_from_rfc3339(snapshot.tags.get(TAG_DRILL_AT)?).ok()?;
    Some(Evidence {
        at: at.with_timezone(&Utc),
        restore_seconds: snapshot
            .tags
            .get(TAG_DRILL_RESTORE_SECONDS)
            .and_then(|s| s.parse().ok()),
        result: snapshot
            .tags
            .get(TAG_DRILL_RESULT)
            .cloned()
            .unwrap_or_else(|| "unknown".to_string()),
    })
}

/// The last drill of any replica, and that replica (drills made after `as_of` did not exist then).
fn last<'a>(replicas: &[&'a Snapshot], as_of: DateTime<Utc>) -> Option<(Evidence, &'a Snapshot)> {
    replicas
        .iter()
        .filter_map(|r| evidence(r).map(|e| (e, *r)))
        .filter(|(e, _)| e.at <= as_of)
        .max_by_key(|(e, _)| e.at)
}

/// The last drill the check judges, for the published findings (`sources[].last_drill`): `None`
/// when the rule has no `drill` or no replica carries drill evidence.
pub fn last_drill(rule: &Rule, replicas: &[&Snapshot], as_of: DateTime<Utc>) -> Option<LastDrill> {
    let drill = rule.drill.as_ref()?;
    let (evidence, replica) = last(replicas, as_of)?;
    Some(LastDrill {
        replica_arn: replica.arn.clone(),
        at: evidence.at,
        age_seconds: (as_of - evidence.at).num_seconds().max(0),
        result: evidence.result,
        restore_seconds: evidence.restore_seconds,
        rto_seconds: drill.rto.seconds,
        every_seconds: drill.every.seconds,
    })
}

fn run(ctx: &Ctx<'_>) -> Option<Outcome> {
    let drill = ctx.rule.drill.as_ref()?;
    let expected = format!("<= {}, <= {}", drill.every, drill.rto);
    if let Some(error) = ctx.unreadable_destination(&expected) {
        return Some(error);
    }
    if ctx.replicas.is_empty() {
        return Some(Outcome::skip(expected, "no replica to drill"));
    }
    let Some((last, replica)) = last(ctx.replicas, ctx.as_of) else {
        return Some(Outcome::fail(
            "no drill",
            expected,
            format!(
                "no replica of this database in {} carries drill evidence: run rdsguard drill",
                ctx.destination()
            ),
        ));
    };
    let age = (ctx.as_of - last.at).num_seconds().max(0);
    let took = match last.restore_seconds {
        Some(s) => format_seconds(s),
        None => "unknown".to_string(),
    };
    let observed = format!("last drill {} ago, {took}", format_seconds(coarse(age)));
    let when = last.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let what = format!("the drill of {} at {when}", replica.arn);
    if last.result != DRILL_PASSED {
        return Some(Outcome::fail(
            observed,
            expected,
            format!("{what} did not pass: {}", last.result),
        ));
    }
    if age > drill.every.seconds {
        return Some(Outcome::fail(
            observed,
            expected,
            format!(
                "{what} is older than drill.every ({}): run rdsguard drill",
                drill.every
            ),
        ));
    }
    match last.restore_seconds {
        Some(s) if s <= drill.rto.seconds => Some(Outcome::pass(
            observed,
            expected,
            format!("{what} passed, within the RTO"),
        )),
        Some(_) => Some(Outcome::fail(
            observed,
            expected,
            format!("{what} took longer than drill.rto ({})", drill.rto),
        )),
        None => Some(Outcome::fail(
            observed,
            expected,
            format!("{what} recorded no restore time (rdsguard:drill-restore-seconds)"),
        )),
    }
}

/// An age for people: to the hour past a day, to the minute past an hour (`41d3h`, not `41d3h12m5s`).
fn coarse(seconds: i64) -> i64 {
    match seconds {
        s if s >= 86_400 => s - s % 3_600,
        s if s >= 3_600 => s - s % 60,
        s => s,
    }
}

/// Where `source` stands on restore drills; `None` when its rule has no `drill` (or it is exempt or
/// ungoverned). Read from its `restore-tested` result and its last drill.
pub fn drill_state(source: &SourceReport) -> Option<DrillState> {
    let check = source
        .checks
        .iter()
        .find(|c| c.id == CheckId::RESTORE_TESTED)?;
    Some(match (check.status, &source.last_drill) {
        (CheckStatus::Pass, _) => DrillState::Passed,
        (CheckStatus::Fail, None) => DrillState::Never,
        (CheckStatus::Fail, Some(d)) if d.result != crate::tags::DRILL_PASSED => DrillState::Failed,
        (CheckStatus::Fail, Some(d)) if d.age_seconds > d.every_seconds => DrillState::Stale,
        (CheckStatus::Fail, Some(d)) if d.restore_seconds.is_some_and(|s| s > d.rto_seconds) => {
            DrillState::OverRto
        }
        _ => DrillState::Unknown,
    })
}

/// How many governed sources have a drill rule, and where they stand ([`drill_state`]).
pub fn drill_coverage(sources: &[SourceReport]) -> DrillCoverage {
    let mut c = DrillCoverage::default();
    for source in sources {
        let Some(state) = drill_state(source) else {
            continue;
        };
        c.with_rule += 1;
        if source
            .last_drill
            .as_ref()
            .is_some_and(|d| d.age_seconds <= d.every_seconds)
        {
            c.within_every += 1;
        }
        match state {
            DrillState::Passed => c.passed += 1,
            DrillState::Failed => c.failed += 1,
            DrillState::Stale => c.stale += 1,
            DrillState::OverRto => c.over_rto += 1,
            DrillState::Never => c.never += 1,
            DrillState::Unknown => c.unknown += 1,
        }
    }
    c
}
