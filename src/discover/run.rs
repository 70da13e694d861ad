//! Discovery's orchestration: runs the rounds [`super::plan`] decides, through `aws::scoped`, with
//! bounded concurrency, the destinations first. Every decision of what to read is the planner's.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use futures::stream::{self, StreamExt};
use tracing::info;

use super::first::{first_read, record_first_reads, Ahead, FirstRead};
use super::plan::{self, Known, Readable, ScopeId};
use super::progress::{Phase, Progress};
use super::reads::{merge_key, read_keys, read_secrets, read_vault_policies};
use crate::aws::{scoped, ClientFactory};
use crate::checks::REGISTRY;
use crate::inventory::{Account, Inventory, Snapshot, Source, SourceKind};
use crate::rules::RuleSet;

pub struct Plan {
    pub accounts: Vec<Account>,
    pub regions: Vec<String>,
    /// Account-region pairs read besides accounts x regions (the rules' named destination regions).
    pub extra_scopes: Vec<(String, String)>,
    pub concurrency: usize,
    /// The day exemptions are judged on (the run's as-of day): an exempt database needs no reads.
    pub today: NaiveDate,
    /// Databases outside this plan's scopes whose replicas may be inside them: remediation re-reads
    /// only the scopes it touched, and every database with replicas there must still be judged.
    pub also_judge: Vec<Source>,
}

/// Reads what the rules' checks need ([`crate::checks::Check::needs`]), and nothing else. The long
/// pole of a large organization is the vault: it holds every database's replicas, and who each
/// replica is shared with costs one RDS call, paced under the vault's quota. So the vault's work
/// starts first and everything else overlaps it:
/// 1. at once: every scope's DB instances and clusters, and the manual snapshots of the destination
///    scopes ([`plan::destination_scopes`]);
/// 2. then, together ([`plan::next_reads`]): the sharing of the listed snapshots the judged databases'
///    checks need; the manual snapshot quotas of the destinations they copy into (one call each);
///    in the other scopes where a judged database lives, its snapshots (of the kinds needed) and
///    then their sharing, and its option groups where a judged DB instance uses one that is not a
///    default group (one listing); the KMS keys, in two rounds ([`plan::second_keys`]);
/// 3. the secrets `restore.secret` names ([`plan::secrets`]).
///
/// `ahead`: step 1 started ahead for some scopes ([`super::first::read_destinations_ahead`]), or [`Ahead::none`].
/// `progress` is told of each phase and of the work done in it (for a display, and the timings).
pub async fn discover(
    factory: &ClientFactory,
    plan: &Plan,
    rules: &RuleSet,
    ahead: Ahead,
    progress: &Progress,
) -> Inventory {
    progress.enter(Phase::ReadDatabases);
    let mut inventory = Inventory::new();
    inventory.accounts = plan.accounts.clone();
    inventory.regions = plan.regions.clone();
    let mut scopes: Vec<ScopeId> = plan
        .accounts
        .iter()
        .flat_map(|a| plan.regions.iter().map(move |r| (a.id.clone(), r.clone())))
        .collect();
    for extra in &plan.extra_scopes {
        if !scopes.contains(extra) {
            scopes.push(extra.clone());
        }
    }
    for (_, region) in &plan.extra_scopes {
        if !inventory.regions.contains(region) {
            inventory.regions.push(region.clone());
        }
    }
    info!(
        accounts = plan.accounts.len(),
        regions = plan.regions.len(),
        "reading {} account-region scopes",
        scopes.len()
    );
    let concurrency = plan.concurrency.max(1);
    let planned: BTreeSet<ScopeId> = scopes.iter().cloned().collect();
    let destinations: BTreeSet<ScopeId> = plan::destination_scopes(rules, &plan.regions, REGISTRY)
        .into_iter()
        .filter(|scope| planned.contains(scope))
        .collect();

    // 1. Databases everywhere; snapshots in the destinations (once their region answered as
    // enabled), which start first, unless they were started ahead.
    let Ahead {
        scopes: started,
        reads: ahead,
    } = ahead;
    progress.scopes.add_total(scopes.len());
    scopes.retain(|scope| !started.contains(scope));
    scopes.sort_by_key(|scope| !destinations.contains(scope));
    let destinations_ref = &destinations;
    let filters = plan::vault_filters(rules, REGISTRY);
    let filters = &filters;
    let today = plan.today;
    let here = stream::iter(scopes)
        .map(|(account, region)| async move {
            let destination = destinations_ref
                .contains(&(account.clone(), region.clone()))
                .then(|| filters.get(&account));
            let read = first_read(factory, account, region, destination, rules, today).await;
            progress.scopes.done_one();
            read
        })
        .buffer_unordered(concurrency)
        .collect::<Vec<FirstRead>>();
    let ahead = async {
        match ahead {
            Some(reads) => match reads.await {
                Ok(reads) => reads,
                // The work started ahead was dropped: read those scopes now, never leave them out.
                Err(_) => {
                    let again = started
                        .iter()
                        .filter(|s| planned.contains(*s))
                        .map(|(a, r)| {
                            let destination = destinations_ref
                                .contains(&(a.clone(), r.clone()))
                                .then(|| filters.get(a));
                            first_read(factory, a.clone(), r.clone(), destination, rules, today)
                        });
                    futures::future::join_all(again).await
                }
            },
            None => Vec::new(),
        }
    };
    let (mut reads, ahead) = tokio::join!(here, ahead);
    // Started before the plan was known: kept for the plan's scopes only.
    let ahead: Vec<FirstRead> = ahead
        .into_iter()
        .filter(|f| planned.contains(&f.scope))
        .collect();
    for _ in &ahead {
        progress.scopes.done_one();
    }
    reads.extend(ahead);
    let readable = record_first_reads(&mut inventory, reads);
    info!(
        databases = inventory.sources.len(),
        destination_snapshots = inventory.snapshots.len(),
        "read the databases, and the snapshots in {} destination scopes",
        destinations.len()
    );

    // 2. What the checks of the judged databases need, given the databases and the destinations'
    // snapshots.
    let reads = plan::next_reads(
        &Known {
            inventory: &inventory,
            also_judge: &plan.also_judge,
            today: plan.today,
            destinations: &destinations,
            readable: &readable,
        },
        rules,
        REGISTRY,
    );
    let where_readable = Readable::of(&inventory);
    let mut destination_shares: BTreeMap<ScopeId, Vec<Snapshot>> = BTreeMap::new();
    for snapshot in std::mem::take(&mut inventory.snapshots) {
        if reads.shares.contains(&snapshot.arn) {
            destination_shares
                .entry((snapshot.account_id.clone(), snapshot.region.clone()))
                .or_default()
                .push(snapshot);
        } else {
            inventory.snapshots.push(snapshot);
        }
    }
    info!(
        destination_shares = reads.shares.len(),
        source_scopes = reads.snapshot_lists.len(),
        "reading who the judged snapshots are shared with, and the keys"
    );
    let mut destination_shares: Vec<_> = destination_shares.into_iter().collect();
    destination_shares.sort_by_key(|(_, snapshots)| std::cmp::Reverse(snapshots.len()));
    progress.enter(Phase::ReadShares);
    progress
        .shares
        .add_total(destination_shares.iter().map(|(_, s)| s.len()).sum());
    progress
        .snapshot_lists
        .add_total(reads.snapshot_lists.len());
    progress.keys.add_total(reads.keys.first.len());
    // The scope with the most share reads bounds the wall time: its pace gives the ETA.
    if let Some(((account, region), snapshots)) = destination_shares.first() {
        let per_second = factory.pacer(account, region).per_second();
        progress.set_busiest(account, region, snapshots.len(), per_second);
    }
    let destination_shares = stream::iter(destination_shares)
        .map(|((account, region), snapshots)| async move {
            let done = || progress.share_done(&account, &region);
            scoped::shares(factory, &account, &region, snapshots, &done).await
        })
        .buffer_unordered(concurrency)
        .collect::<Vec<_>>();
    let own_shares = &reads.own_shares;
    let sources_scopes = stream::iter(reads.snapshot_lists)
        .map(|((account, region), kinds)| async move {
            let kinds: Vec<SourceKind> = kinds.into_iter().collect();
            let (listed, errors) = scoped::snapshots(factory, &account, &region, &kinds).await;
            // A database's own snapshots carry its identifier.
            let (own, other): (Vec<Snapshot>, Vec<Snapshot>) = listed.into_iter().partition(|s| {
                own_shares.contains(&(
                    account.clone(),
                    region.clone(),
                    s.kind,
                    s.source_identifier.clone(),
                ))
            });
            progress.shares.add_total(own.len());
            let done = || progress.share_done(&account, &region);
            let (mut snapshots, share_errors) =
                scoped::shares(factory, &account, &region, own, &done).await;
            snapshots.extend(other);
            progress.snapshot_lists.done_one();
            ((account, region), kinds, snapshots, errors, share_errors)
        })
        .buffer_unordered(concurrency)
        .collect::<Vec<_>>();
    let vault_policies = read_vault_policies(
        factory,
        &inventory.backup_vaults,
        &reads.vault_policies,
        concurrency,
    );
    let quotas = stream::iter(reads.quotas.iter().cloned())
        .map(|(account, region)| async move { scoped::quotas(factory, &account, &region).await })
        .buffer_unordered(concurrency)
        .collect::<Vec<_>>();
    let option_groups =
        stream::iter(reads.option_groups.iter().cloned())
            .map(|(account, region)| async move {
                scoped::option_groups(factory, &account, &region).await
            })
            .buffer_unordered(concurrency)
            .collect::<Vec<_>>();
    let (destination_shares, sources_scopes, keys, vault_policies, quotas, option_groups) = tokio::join!(
        destination_shares,
        sources_scopes,
        read_keys(factory, &reads.keys, &where_readable, concurrency, progress),
        vault_policies,
        quotas,
        option_groups
    );
    for result in option_groups {
        match result {
            Ok(listing) => inventory.option_groups.push(listing),
            Err(error) => inventory.record_errors(vec![error]),
        }
    }
    for result in quotas {
        match result {
            Ok(quotas) => inventory.quotas.push(quotas),
            Err(error) => inventory.record_errors(vec![error]),
        }
    }
    for (arn, result) in vault_policies {
        match result {
            Ok(policy) => inventory
                .backup_vaults
                .iter_mut()
                .filter(|v| v.arn == arn)
                .for_each(|v| v.access_policy = Some(policy.clone())),
            Err(error) => inventory.record_errors(vec![error]),
        }
    }
    for (mut snapshots, errors) in destination_shares {
        inventory.record_errors(errors);
        inventory.snapshots.append(&mut snapshots);
    }
    for (scope, kinds, mut snapshots, errors, share_errors) in sources_scopes {
        inventory.record_listing(&scope, kinds, errors);
        inventory.record_errors(share_errors);
        inventory.snapshots.append(&mut snapshots);
    }
    for (wanted, result) in keys {
        match result {
            Ok((Some(fact), policy_error)) => {
                merge_key(&mut inventory.keys, fact);
                inventory.errors.extend(policy_error);
            }
            Ok((None, _)) => inventory.missing_keys.push(wanted),
            Err(error) => inventory.errors.push(error),
        }
    }
    info!(
        snapshots = inventory.snapshots.len(),
        keys = inventory.keys.len(),
        errors = inventory.errors.len(),
        "read the snapshots' sharing and the keys"
    );
    // 3. Secrets.
    progress.enter(Phase::ReadSecrets);
    let secrets = plan::secrets(&inventory, &plan.also_judge, plan.today, rules, REGISTRY);
    progress.secrets.add_total(secrets.len());
    read_secrets(factory, &mut inventory, secrets, concurrency, progress).await;
    progress.finish();
    inventory.normalise();
    inventory
}
