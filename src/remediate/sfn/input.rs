//! The executions' input: the plan, one entry per item and leg, with what the states read.
//!
//! SDK integrations call only the state machine's own region. An item whose steps all call one
//! region (same-region copies, AWS Backup jobs: `StartCopyJob` is called in the source region even
//! for a vault in another region) is one leg. A cross-region item is cut where its steps change
//! region ([`super::side`]): e.g. `find-replica` (destination region), `snapshot`…`copy-stage`
//! (source region), `copy` (destination), `cleanup` (source), `restore`/`prune` (destination).
//! Leg `n` of every item runs in round `n`; a round is one execution per region, the same machine
//! deployed in each. Rounds run one after the other: what an earlier round found (`data_time`, and
//! whether `find-replica` found the replica) is handed to the next by whoever starts the rounds
//! (the next slice).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Map, Value};

use super::{check_item, flag, side, Options, Refused, Side};
use crate::inventory::SourceKind;
use crate::remediate::limits;
use crate::remediate::plan::{Item, Plan};
use crate::remediate::steps::{share, Step};
use crate::remediate::tags::{self, ROLE_RESTORE, ROLE_TRANSIT, TAG_RESTORED_FROM};

/// One execution of the state machine: in `region`, in `round`, with `input` (`{"run_id", "items"}`).
/// A round's items in one region that do not fit one execution's input are cut into parts (`part`
/// from 1), run one after the other.
#[derive(Debug, Clone, Serialize)]
pub struct Execution {
    pub round: usize,
    pub part: usize,
    pub region: String,
    pub input: Value,
}

/// Step Functions' quota on an execution's input: 256 KiB of UTF-8.
pub const INPUT_QUOTA: usize = 256 * 1024;
/// What rdsguard adds to an item's entry between rounds (`data_time`, `find_replica`), at the most:
/// reserved in every round but the first (nothing comes before it).
const CARRIED_BYTES: usize = 512;
/// `{"run_id": "...", "items": [...]}` around the items, with a run id of any length rdsguard makes.
const ENVELOPE_BYTES: usize = 256;

fn partition(item: &Item) -> &str {
    crate::inventory::parse_rds_arn(&item.source_arn)
        .map(|a| a.partition)
        .unwrap_or("aws")
}

fn tag_list(tags: BTreeMap<String, String>) -> Value {
    Value::Array(
        tags.into_iter()
            .map(|(k, v)| json!({"Key": k, "Value": v}))
            .collect(),
    )
}

/// The region of `step` for `item`.
fn region_of(item: &Item, step: Step) -> &str {
    match side(step) {
        Side::Source => &item.region,
        Side::Destination => &item.dest_region,
    }
}

/// The item's legs: its steps cut where they change region, each with its region.
pub fn legs(item: &Item) -> Vec<(String, Vec<Step>)> {
    let mut legs: Vec<(String, Vec<Step>)> = Vec::new();
    for step in item.steps() {
        let region = region_of(item, step);
        match legs.last_mut() {
            Some((r, steps)) if r == region => steps.push(step),
            _ => legs.push((region.to_string(), vec![step])),
        }
    }
    legs
}

/// What the states of `item` read, for a leg that runs `steps`.
pub fn item_input(item: &Item, steps: &[Step], run_id: &str, o: &Options) -> Value {
    let partition = partition(item);
    let role = |account: &str| format!("arn:{partition}:iam::{account}:role/{}", o.role_name);
    let snapshot_type = match item.kind {
        SourceKind::DbInstance => "snapshot",
        SourceKind::DbCluster => "cluster-snapshot",
    };
    let arn = |region: &str, account: &str, name: &str| {
        format!("arn:{partition}:rds:{region}:{account}:{snapshot_type}:{name}")
    };
    let shared = share::shared_name(item).to_string();
    let shared_arn = arn(&item.region, &item.account_id, &shared);
    let copy_from = match &item.names.stage {
        Some(stage) => arn(&item.region, &item.dest_account, stage),
        None => shared_arn.clone(),
    };
    // As `cleanup` does: this run's transit snapshots, then those earlier runs left.
    let mut transit: Vec<String> = Vec::new();
    if item.copy {
        transit.push(item.names.snapshot.clone());
        transit.extend(item.names.reencrypted.clone());
    }
    transit.extend(item.orphans.iter().cloned());
    let mut restore_tags = tags::provenance(&item.source_arn, ROLE_RESTORE, run_id);
    if let Some(restore) = &item.restore {
        restore_tags.insert(
            TAG_RESTORED_FROM.to_string(),
            arn(
                &item.dest_region,
                &item.dest_account,
                &restore.from_snapshot,
            ),
        );
    }
    let mut flags = Map::new();
    for step in Step::ALL {
        flags.insert(flag(step), json!(steps.contains(&step)));
    }
    json!({
        "run_id": run_id,
        "item": item,
        "steps": flags,
        "roles": {"source": role(&item.account_id), "vault": role(&item.dest_account)},
        "refs": {
            "shared": shared,
            "shared_arn": shared_arn,
            "copy_from": copy_from,
            "transit": transit,
            "has_stage": item.copy && item.names.stage.is_some(),
            // What `tags::is_ours` asks of a resource, as two entries of its `TagList`.
            "ours": {
                "managed": {"Key": tags::TAG_MANAGED, "Value": "true"},
                "source": {"Key": tags::TAG_SOURCE_ARN, "Value": item.source_arn},
            },
            "tags": {
                "transit": tag_list(tags::provenance(&item.source_arn, ROLE_TRANSIT, run_id)),
                "restore": tag_list(restore_tags),
            }
        },
        "data_time": {"value": null},
        // `find-replica`'s answer (`$.find_replica.value`), in the item's output for the next round.
        "find_replica": {"value": null}
    })
}

/// How many of a leg's items may run at once: `--max-parallel`, or fewer when the leg copies across
/// regions, where AWS allows [`limits::cross_region_copies`] in progress per destination account and
/// region. Every such copy of a round's execution lands in its region, so a bound over the whole
/// execution holds for each account in it (and a round's parts run one after the other).
fn leg_bound(item: &Item, steps: &[Step], o: &Options) -> u16 {
    let copies_across = steps.contains(&Step::Copy) && item.region != item.dest_region;
    match copies_across {
        true => o
            .max_parallel
            .min(limits::cross_region_copies(item.kind) as u16),
        false => o.max_parallel,
    }
}

/// The plan as executions: round by round, one per region (in parts under [`INPUT_QUOTA`]), each
/// with its `max_parallel` (the map's concurrency, [`leg_bound`]). Refuses an item with a step the
/// engine does not run, naming it.
pub fn executions(plan: &Plan, o: &Options) -> Result<Vec<Execution>, Refused> {
    executions_within(plan, o, INPUT_QUOTA)
}

/// [`executions`], each execution's input at most `quota` bytes once rounds have carried what they
/// find into it.
pub fn executions_within(
    plan: &Plan,
    o: &Options,
    quota: usize,
) -> Result<Vec<Execution>, Refused> {
    let mut rounds: BTreeMap<(usize, String), (u16, Vec<Value>)> = BTreeMap::new();
    for item in &plan.items {
        check_item(item)?;
        for (round, (region, steps)) in legs(item).into_iter().enumerate() {
            let entry = rounds
                .entry((round + 1, region))
                .or_insert((o.max_parallel, Vec::new()));
            entry.0 = entry.0.min(leg_bound(item, &steps, o));
            entry.1.push(item_input(item, &steps, &plan.run_id, o));
        }
    }
    let budget = quota.saturating_sub(ENVELOPE_BYTES + plan.run_id.len());
    let mut executions = Vec::new();
    for ((round, region), (bound, items)) in rounds {
        let mut parts: Vec<(Vec<Value>, usize)> = vec![(Vec::new(), 0)];
        for item in items {
            let carried = if round > 1 { CARRIED_BYTES } else { 0 };
            let size = item.to_string().len() + 1 + carried;
            let last = parts
                .last_mut()
                .filter(|(p, used)| p.is_empty() || used + size <= budget);
            match last {
                Some((part, used)) => {
                    part.push(item);
                    *used += size;
                }
                None => parts.push((vec![item], size)),
            }
        }
        for (n, (items, _)) in parts.into_iter().enumerate() {
            executions.push(Execution {
                round,
                part: n + 1,
                region: region.clone(),
                input: json!({"run_id": plan.run_id, "max_parallel": bound, "items": items}),
            });
        }
    }
    Ok(executions)
}
