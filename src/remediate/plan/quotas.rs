//! The plan's refusals past the destinations' manual snapshot quotas (docs/remediation.md, "Quotas").

use std::collections::BTreeMap;

use super::{Blocked, Plan};
use crate::inventory::{Inventory, SourceKind};

/// Takes out of the plan, into `blocked`, every item whose copies would push a destination
/// account-region past its manual snapshot quota (where discovery read it): in plan order, an item
/// goes ahead only if every snapshot it adds there fits in what is left of `Max - Used`. A copy
/// comes before the prune that makes room for it, and items run in parallel, so each counts its
/// copy (and its cross-region stage copy, in the source's region of the destination account) in
/// full. A refused item is not started at all: no half-done work.
pub(super) fn refuse_past_quotas(inventory: &Inventory, plan: &mut Plan) {
    let free = |account: &str, region: &str, kind: SourceKind| {
        let quotas = inventory
            .quotas
            .iter()
            .find(|q| q.account_id == account && q.region == region)?;
        let quota = quotas.for_kind(kind)?;
        Some((quota.used, quota.max))
    };
    // (account, region, kind) -> snapshots the items kept so far add there.
    let mut planned: BTreeMap<(String, String, SourceKind), i64> = BTreeMap::new();
    let items = std::mem::take(&mut plan.items);
    for item in items {
        let mut adds: Vec<(String, String)> = Vec::new();
        if item.copy && item.backup.is_none() {
            adds.push((item.dest_account.clone(), item.dest_region.clone()));
            if item.names.stage.is_some() {
                adds.push((item.dest_account.clone(), item.region.clone()));
            }
        }
        let refused = adds.iter().find_map(|(account, region)| {
            let (used, max) = free(account, region, item.kind)?;
            let key = (account.clone(), region.clone(), item.kind);
            let before = planned.get(&key).copied().unwrap_or(0);
            (used + before + 1 > max).then(|| {
                format!(
                    "the copy would push {account}/{region} over its {} quota ({}): {used} of {max} used{}; nothing is done for this database (raise the quota, or delete manual snapshots there first: rdsguard copies before it prunes)",
                    item.kind.quota_name(),
                    item.kind.quota_noun(),
                    match before {
                        0 => String::new(),
                        n => format!(", and {n} planned by the databases before it"),
                    }
                )
            })
        });
        match refused {
            Some(reason) => plan.blocked.push(Blocked {
                source_arn: item.source_arn.clone(),
                reason,
            }),
            None => {
                for (account, region) in adds {
                    *planned.entry((account, region, item.kind)).or_default() += 1;
                }
                plan.items.push(item);
            }
        }
    }
}
