//! `vault-capacity`: the destination account-region has room in its manual snapshot quota for every
//! copy the rules keep there. Per database, so it lands in every output; the sum is per destination
//! scope and kind ([`Capacity`]):
//!
//! `projected = Used - (replicas of the counted databases that exist now) + sum of their retain.max`
//!
//! `Used` (from `DescribeAccountAttributes`) counts every manual snapshot of the kind in the scope:
//! the counted databases' replicas now, and what others keep there (other tools, databases whose
//! rule sets no `retain.max`, exempt ones). The counted databases' replicas are taken out and
//! replaced by what their rules keep at most, `retain.max` each. FAIL when `projected > Max`; PASS
//! with a warning from 90% of `Max`.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::{Check, CheckId, Ctx, Fact, Outcome};
use crate::inventory::{SourceKind, QUOTAS_OPERATION};
use crate::linkage::Index;
use crate::report::{HeadroomState, QuotaHeadroom};
use crate::rules::{Rule, RuleSet};

pub const CHECK: Check = Check {
    id: CheckId::new("vault-capacity"),
    title: "The destination's manual snapshot quota holds every copy the rules keep there",
    failure: "The vault account's manual snapshot quota cannot hold the copies the rules keep",
    remediation: "Raise the destination's manual snapshot quota (Service Quotas: Amazon RDS, 'Manual DB instance snapshots' or 'Manual DB cluster snapshots', per Region), lower retain.max of the rules copying there, delete manual snapshots that nothing needs in that account and Region, or spread the databases over more destination accounts or Regions.",
    needs,
    run,
};

/// True when the rule's copies are manual snapshots kept to a bound: only then are they judged
/// against the quota.
fn bounded_snapshots(rule: &Rule) -> bool {
    rule.retain.max.is_some() && copies_snapshots(rule)
}

/// Copies that count against the manual snapshot quota: the rule counts snapshots, and its
/// remediation makes snapshots (not AWS Backup recovery points).
fn copies_snapshots(rule: &Rule) -> bool {
    rule.destination.replicas.snapshot && rule.backup_remediation.is_none()
}

fn needs(rule: &Rule) -> &'static [Fact] {
    if bounded_snapshots(rule) {
        &[Fact::ReplicaSnapshots, Fact::DestinationQuotas]
    } else {
        &[]
    }
}

/// The per-scope sums: for every destination (account, region, kind), the databases counted, their
/// replica snapshots now, and their rules' `retain.max` total.
#[derive(Debug, Default)]
pub struct Capacity {
    tallies: BTreeMap<(String, String, SourceKind), (usize, i64, i64)>,
}

impl Capacity {
    /// Sums over every database judged on `today` (governed, not exempt) whose rule copies bounded
    /// snapshots into a destination of another account.
    pub fn of(index: &Index<'_>, rules: &RuleSet, today: NaiveDate) -> Capacity {
        let mut capacity = Capacity::default();
        for source in &index.inventory.sources {
            let Some(rule) = rules.judging_rule(source, today) else {
                continue;
            };
            let Some(max) = rule.retain.max.filter(|_| copies_snapshots(rule)) else {
                continue;
            };
            let account = &rule.destination.account;
            if *account == source.db.account_id {
                continue;
            }
            let region = rule.destination.region_for(&source.db.region);
            let replicas = index
                .replicas(source, &rule.destination, region)
                .iter()
                .filter(|s| s.backup.is_none())
                .count() as i64;
            let tally = capacity
                .tallies
                .entry((account.clone(), region.to_string(), source.db.kind))
                .or_default();
            tally.0 += 1;
            tally.1 += replicas;
            tally.2 += i64::from(max);
        }
        capacity
    }

    /// The headroom of one scope's quota of `kind`, when its quotas were read and list it.
    pub fn headroom(
        &self,
        index: &Index<'_>,
        account: &str,
        region: &str,
        kind: SourceKind,
    ) -> Option<QuotaHeadroom> {
        let tally = self
            .tallies
            .get(&(account.to_string(), region.to_string(), kind))?;
        let quota = index
            .inventory
            .quotas
            .iter()
            .find(|q| q.account_id == account && q.region == region)?
            .for_kind(kind)?;
        Some(QuotaHeadroom::new(
            (account, region),
            kind,
            (quota.used, quota.max),
            *tally,
        ))
    }

    /// Every scope's headroom that can be told (its quota was read), sorted.
    pub fn all(&self, index: &Index<'_>) -> Vec<QuotaHeadroom> {
        self.tallies
            .keys()
            .filter_map(|(account, region, kind)| self.headroom(index, account, region, *kind))
            .collect()
    }
}

fn run(ctx: &Ctx<'_>) -> Option<Outcome> {
    let kind = ctx.source.db.kind;
    let destination = ctx.destination();
    if !copies_snapshots(ctx.rule) {
        return Some(Outcome::skip(
            "-",
            "the rule's copies are AWS Backup recovery points, not manual snapshots: the manual snapshot quota is not judged",
        ));
    }
    let Some(max) = ctx.rule.retain.max else {
        return Some(Outcome::skip(
            "retain.max",
            "the rule sets no retain.max: the copies it keeps are unbounded, so no quota can hold them for sure",
        ));
    };
    let expected = format!(
        "the {} quota of {destination} holds retain.max = {max} copies of each database copied there",
        kind.quota_name()
    );
    if ctx.source.db.account_id == ctx.dest_account {
        return Some(Outcome::skip(
            expected,
            "the destination is the database's own account: nothing is copied",
        ));
    }
    if let Some(error) = ctx.unreadable_destination(&expected) {
        return Some(error);
    }
    let inventory = ctx.index.inventory;
    if let Some(error) = ctx.read_error(ctx.dest_account, ctx.dest_region, QUOTAS_OPERATION) {
        return Some(Outcome::error(
            expected,
            format!(
                "could not read the quotas of {destination}: {} on {}: {}",
                error.code, error.operation, error.message
            ),
        ));
    }
    let Some(quotas) = inventory
        .quotas
        .iter()
        .find(|q| q.account_id == ctx.dest_account && q.region == ctx.dest_region)
    else {
        return Some(Outcome::error(
            expected,
            format!("the quotas of {destination} were not read ({QUOTAS_OPERATION}): re-run the audit with these rules"),
        ));
    };
    if quotas.for_kind(kind).is_none() {
        return Some(Outcome::error(
            expected,
            format!(
                "{QUOTAS_OPERATION} in {destination} listed no {} quota",
                kind.quota_name()
            ),
        ));
    }
    let headroom = ctx
        .capacity
        .headroom(ctx.index, ctx.dest_account, ctx.dest_region, kind)?;
    let observed = headroom.summary();
    let how = headroom.formula();
    Some(match headroom.state {
        HeadroomState::Over => Outcome::fail(
            observed,
            expected,
            format!(
                "the {} quota of {destination} is {}: {how}, {} more than it allows; copies would fail with SnapshotQuotaExceeded",
                kind.quota_name(),
                headroom.max,
                headroom.projected - headroom.max
            ),
        ),
        HeadroomState::Near | HeadroomState::Ok => {
            let warning = if headroom.state == HeadroomState::Near { "warning: " } else { "" };
            let message = format!(
                "{warning}{}% of the quota ({} of {}): {how}",
                headroom.percent, headroom.projected, headroom.max
            );
            Outcome::pass(observed, expected, message)
        }
    })
}
