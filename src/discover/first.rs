//! Step 1 of discovery, per scope: its databases and, in a destination, its snapshots and backup
//! vaults (the first reads); for the destinations, started ahead of the organization's listing.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;

use super::plan::{self, ScopeId, VaultFilter};
use crate::aws::{rds, scoped, ClientFactory};
use crate::checks::REGISTRY;
use crate::inventory::{AwsError, BackupVault, Inventory, Scope, Snapshot, SourceKind};
use crate::rules::RuleSet;

/// Puts step 1's reads into the inventory; returns the scopes whose databases could be read.
pub(super) fn record_first_reads(
    inventory: &mut Inventory,
    reads: Vec<FirstRead>,
) -> BTreeSet<ScopeId> {
    let mut account_errors: BTreeMap<String, AwsError> = BTreeMap::new();
    let mut readable: BTreeSet<ScopeId> = BTreeSet::new();
    let mut destination_lists = Vec::new();
    let mut backup_lists = Vec::new();
    for FirstRead {
        scope: (account, region),
        read,
        listing,
        backups,
    } in reads
    {
        if let Some(listing) = listing {
            destination_lists.push(((account.clone(), region.clone()), listing));
        }
        if let Some(backups) = backups {
            backup_lists.push(((account.clone(), region.clone()), backups));
        }
        let mut scope = Scope {
            account_id: account.clone(),
            region: region.clone(),
            complete: false,
            snapshot_kinds: Vec::new(),
            backups_listed: false,
            blue_green_read: false,
        };
        match read {
            Ok(read) if read.region_not_enabled => {
                // Nothing can live there: complete, every kind known (to be none).
                inventory.skipped_scopes.push(format!("{account}/{region}"));
                scope.complete = true;
                scope.snapshot_kinds = SourceKind::both();
                scope.backups_listed = true;
                scope.blue_green_read = true;
            }
            Ok(mut read) => {
                readable.insert((account, region));
                scope.complete = read.errors.is_empty();
                scope.blue_green_read = read.blue_green_read;
                inventory.sources.append(&mut read.sources);
                inventory
                    .replica_instances
                    .append(&mut read.replica_instances);
                inventory.errors.append(&mut read.errors);
            }
            Err(error) => {
                account_errors.entry(account).or_insert(error);
            }
        }
        inventory.scopes.push(scope);
    }
    inventory.errors.extend(account_errors.into_values());
    for (scope, (mut snapshots, errors)) in destination_lists {
        inventory.record_listing(&scope, SourceKind::both(), errors);
        inventory.snapshots.append(&mut snapshots);
    }
    for (scope, (mut vaults, mut points, errors)) in backup_lists {
        inventory.record_backups(&scope, errors);
        inventory.backup_vaults.append(&mut vaults);
        inventory.snapshots.append(&mut points);
    }
    inventory.cross_check_backup_times();
    readable
}

/// Step 1 of discovery in one scope: its databases, and, in a destination scope whose region is
/// enabled, its manual snapshots of both kinds and, where its rules count AWS Backup copies, its
/// backup vaults and their recovery points (and, where those rules drill, the RDS view of its DB
/// instance recovery points: their tags hold the drill evidence).
pub(super) struct FirstRead {
    pub(super) scope: ScopeId,
    read: Result<rds::read::ScopeRead, AwsError>,
    listing: Option<(Vec<Snapshot>, Vec<AwsError>)>,
    backups: Option<(Vec<BackupVault>, Vec<Snapshot>, Vec<AwsError>)>,
}

/// `destination`: `None` for a scope that is no destination; else the vaults read there, if any.
/// Alongside those, where the planner says being a green side matters
/// ([`plan::wants_green_sides`]), the scope's Blue/Green deployments, which mark the green databases;
/// if they cannot be read, the error makes the scope incomplete, no database is marked, and
/// `replica-present` is ERROR for the databases the read would have told apart.
pub(super) async fn first_read(
    factory: &ClientFactory,
    account: String,
    region: String,
    destination: Option<Option<&VaultFilter>>,
    rules: &RuleSet,
    today: NaiveDate,
) -> FirstRead {
    let mut read = scoped::databases(factory, &account, &region).await;
    let enabled = matches!(&read, Ok(read) if !read.region_not_enabled);
    let greens = async {
        match &read {
            Ok(r) if enabled && plan::wants_green_sides(&r.sources, rules, today) => {
                Some(scoped::green_sides(factory, &account, &region).await)
            }
            _ => None,
        }
    };
    let destination_reads = async {
        match destination {
            Some(vaults) if enabled => {
                let both = SourceKind::both();
                let snapshots = async {
                    let (mut listed, mut errors) =
                        scoped::snapshots(factory, &account, &region, &both).await;
                    if vaults.is_some_and(|filter| filter.drill_views) {
                        let (mut views, mut more) =
                            scoped::backup_views(factory, &account, &region).await;
                        listed.append(&mut views);
                        errors.append(&mut more);
                    }
                    (listed, errors)
                };
                let backups = async {
                    match vaults {
                        Some(filter) => Some(
                            scoped::backups(factory, &account, &region, &|name| filter.wants(name))
                                .await,
                        ),
                        None => None,
                    }
                };
                let (snapshots, backups) = tokio::join!(snapshots, backups);
                (Some(snapshots), backups)
            }
            _ => (None, None),
        }
    };
    let (greens, (listing, backups)) = tokio::join!(greens, destination_reads);
    if let (Ok(read), Some(greens)) = (&mut read, greens) {
        match greens {
            Ok(greens) => {
                read.blue_green_read = true;
                for source in &mut read.sources {
                    source.green_of = greens.get(&source.db.arn).cloned();
                }
            }
            Err(error) => read.errors.push(error),
        }
    }
    FirstRead {
        scope: (account, region),
        read,
        listing,
        backups,
    }
}

/// Step 1 of [`super::run::discover`] done ahead of it for some scopes.
#[derive(Default)]
pub struct Ahead {
    pub(super) scopes: BTreeSet<ScopeId>,
    pub(super) reads: Option<tokio::sync::oneshot::Receiver<Vec<FirstRead>>>,
}

impl Ahead {
    /// Nothing read ahead.
    pub fn none() -> Ahead {
        Ahead::default()
    }
}

/// Step 1 of [`super::run::discover`] for the destination scopes (`walked`: the regions the plan walks). The
/// vault holds every replica, so its reads bound a large audit and can start while the
/// organization's accounts are still being listed. Returns the work, to be run alongside the listing
/// and `discover`, and its handle for `discover`.
pub fn read_destinations_ahead<'a>(
    factory: &'a ClientFactory,
    rules: &'a RuleSet,
    walked: &[String],
    today: NaiveDate,
) -> (impl std::future::Future<Output = ()> + 'a, Ahead) {
    let scopes = plan::destination_scopes(rules, walked, REGISTRY);
    let filters = plan::vault_filters(rules, REGISTRY);
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let work = {
        let scopes = scopes.clone();
        async move {
            let reads = futures::future::join_all(scopes.into_iter().map(|(account, region)| {
                let vaults = filters.get(&account);
                first_read(factory, account, region, Some(vaults), rules, today)
            }))
            .await;
            // `discover` may have ended without waiting (an error before it): nothing to hand over.
            let _ = sender.send(reads);
        }
    };
    let ahead = Ahead {
        scopes,
        reads: Some(receiver),
    };
    (work, ahead)
}
