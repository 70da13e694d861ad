//! Discovery: the only code that calls AWS. Organizations -> AssumeRole into each account -> each region:
//! RDS resources and the KMS keys they use, into an [`Inventory`].

mod client;
mod error;
mod kms;
pub mod pace;
pub mod rds;
pub mod secrets;
pub mod securityhub;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures::stream::{self, StreamExt};
use tracing::{debug, info, warn};

pub use client::{
    base_config, kms_client, rds_client, secrets_client, securityhub_client, ClientFactory,
    ConnectOptions, RoleOptions, FALLBACK_REGION,
};
pub use error::aws_error;

use chrono::NaiveDate;

use crate::inventory::{
    Account, AwsError, Caller, Inventory, KeyFact, KeyRef, Scope, SecretFact, Snapshot, Source,
    SourceKind,
};
use crate::linkage::Index;
use crate::rules::{Rule, RuleSet};

/// The regions RDS offers that every account has enabled by default (opt-in regions are not listed:
/// name them with `--regions`). Walked when a rule matches any region and `--regions` is not given.
pub const DEFAULT_REGIONS: &[&str] = &[
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ca-central-1",
    "eu-central-1",
    "eu-north-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
];

/// Who is calling, from `sts:GetCallerIdentity` with the base credentials.
pub async fn caller(factory_base: &aws_config::SdkConfig) -> Result<Caller, AwsError> {
    let sts = aws_sdk_sts::Client::new(factory_base);
    let region = factory_base
        .region()
        .map(|r| r.to_string())
        .unwrap_or_else(|| FALLBACK_REGION.to_string());
    let identity = sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| aws_error("(caller)", &region, "GetCallerIdentity", &e))?;
    Ok(Caller {
        account_id: identity.account().unwrap_or_default().to_string(),
        arn: identity.arn().unwrap_or_default().to_string(),
    })
}

/// The organization's ACTIVE accounts and its id, read with the base credentials.
pub async fn organization_accounts(
    base: &aws_config::SdkConfig,
) -> Result<(Vec<Account>, Option<String>), AwsError> {
    let client = aws_sdk_organizations::Client::new(base);
    let region = base.region().map(|r| r.to_string()).unwrap_or_default();
    let mut accounts = Vec::new();
    let mut pages = client
        .list_accounts()
        .max_results(20)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("(caller)", &region, "ListAccounts", &e))?;
        for account in page.accounts() {
            let active = account.status().is_none_or(|s| s.as_str() == "ACTIVE");
            if let (Some(id), true) = (account.id(), active) {
                accounts.push(Account {
                    id: id.to_string(),
                    name: account.name().map(str::to_string),
                });
            }
        }
    }
    let organization_id = match client.describe_organization().send().await {
        Ok(out) => out.organization().and_then(|o| o.id()).map(str::to_string),
        Err(e) => {
            warn!(error = %aws_error("(caller)", &region, "DescribeOrganization", &e).code, "could not read the organization id");
            None
        }
    };
    Ok((accounts, organization_id))
}

/// One database, read from its account and region (for commands that act on a single source).
pub async fn read_source(
    factory: &ClientFactory,
    account_id: &str,
    region: &str,
    arn: &str,
) -> Result<Option<crate::inventory::Source>, AwsError> {
    let config = factory.config(account_id, region).await?;
    let client = rds_client(&config, account_id, region);
    let pacer = factory.pacer(account_id, region);
    let mut read = rds::read::read_databases(&client, &pacer, account_id, region).await;
    if let Some(error) = read.errors.pop() {
        return Err(error);
    }
    Ok(read.sources.into_iter().find(|s| s.arn == arn))
}

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

/// Reads what the rules' checks need, and nothing else. The long pole of a large organization is the
/// vault: it holds every database's replicas, and who each replica is shared with costs one RDS call,
/// paced under the vault's quota. So the vault's work starts first and everything else overlaps it:
/// 1. at once: every scope's DB instances and clusters, and the manual snapshots of the rules'
///    destination accounts, in every region walked and in the rules' named destination regions;
/// 2. then, together: who each replica of a judged database (one a rule governs and no exemption
///    covers) and each judged database's own snapshot in a destination scope is shared with; in every
///    other scope where a judged database lives, its snapshots (of the kinds needed) and then their
///    sharing; the KMS keys the checks ask about;
/// 3. the secrets `restore.secret` names.
///
/// `ahead`: step 1 started ahead for some scopes ([`read_destinations_ahead`]), or [`Ahead::none`].
pub async fn discover(
    factory: &ClientFactory,
    plan: &Plan,
    rules: &RuleSet,
    ahead: Ahead,
) -> Inventory {
    let mut inventory = Inventory::new();
    inventory.accounts = plan.accounts.clone();
    inventory.regions = plan.regions.clone();
    let mut scopes: Vec<(String, String)> = plan
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
    let planned: BTreeSet<(String, String)> = scopes.iter().cloned().collect();
    let destinations: BTreeSet<(String, String)> = destination_scopes(rules, &plan.regions)
        .into_iter()
        .filter(|scope| planned.contains(scope))
        .collect();

    // 1. Databases everywhere; snapshots in the destinations (once their region answered as
    // enabled), which start first, unless they were started ahead.
    let Ahead {
        scopes: started,
        reads: ahead,
    } = ahead;
    scopes.retain(|scope| !started.contains(scope));
    scopes.sort_by_key(|scope| !destinations.contains(scope));
    let destinations_ref = &destinations;
    let here = stream::iter(scopes)
        .map(|(account, region)| async move {
            let destination = destinations_ref.contains(&(account.clone(), region.clone()));
            first_read(factory, account, region, destination).await
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
                            first_read(
                                factory,
                                a.clone(),
                                r.clone(),
                                destinations_ref.contains(&(a.clone(), r.clone())),
                            )
                        });
                    futures::future::join_all(again).await
                }
            },
            None => Vec::new(),
        }
    };
    let (mut reads, ahead) = tokio::join!(here, ahead);
    // Started before the plan was known: kept for the plan's scopes only.
    reads.extend(ahead.into_iter().filter(|f| planned.contains(&f.scope)));
    let mut account_errors: BTreeMap<String, AwsError> = BTreeMap::new();
    let mut readable: BTreeSet<(String, String)> = BTreeSet::new();
    let mut destination_lists = Vec::new();
    for FirstRead {
        scope: (account, region),
        read,
        listing,
    } in reads
    {
        if let Some(listing) = listing {
            destination_lists.push(((account.clone(), region.clone()), listing));
        }
        let mut scope = Scope {
            account_id: account.clone(),
            region: region.clone(),
            complete: false,
            snapshot_kinds: Vec::new(),
        };
        match read {
            Ok(read) if read.region_not_enabled => {
                // Nothing can live there: complete, every kind known (to be none).
                inventory.skipped_scopes.push(format!("{account}/{region}"));
                scope.complete = true;
                scope.snapshot_kinds = SourceKind::both();
            }
            Ok(mut read) => {
                readable.insert((account, region));
                scope.complete = read.errors.is_empty();
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
    info!(
        databases = inventory.sources.len(),
        destination_snapshots = inventory.snapshots.len(),
        "read the databases, and the snapshots in {} destination scopes",
        destinations.len()
    );

    // 2. What the checks judge, given the databases and the destinations' snapshots.
    let (judged_in_destinations, keys, source_lists) = {
        let index = Index::new(&inventory);
        let mut shares: BTreeSet<String> = BTreeSet::new();
        let mut keys = KeyWants::new(&inventory);
        let mut source_lists: BTreeMap<(String, String), BTreeSet<SourceKind>> = BTreeMap::new();
        for (source, rule) in judged(&inventory.sources, plan, rules) {
            let dest_account = rule.destination.account.as_str();
            let dest_region = rule.destination.region_for(&source.region);
            let replicas = index.replicas(source, dest_account, dest_region);
            shares.extend(replicas.iter().map(|s| s.arn.clone()));
            keys.judge(source, rule, dest_region, replicas.first().copied());
            let home = (source.account_id.clone(), source.region.clone());
            if destinations.contains(&home) {
                shares.extend(index.own_snapshots(source).iter().map(|s| s.arn.clone()));
            } else if readable.contains(&home) {
                source_lists.entry(home).or_default().insert(source.kind);
            }
        }
        (shares, keys, source_lists)
    };
    let mut destination_shares: BTreeMap<(String, String), Vec<Snapshot>> = BTreeMap::new();
    for snapshot in std::mem::take(&mut inventory.snapshots) {
        if judged_in_destinations.contains(&snapshot.arn) {
            destination_shares
                .entry((snapshot.account_id.clone(), snapshot.region.clone()))
                .or_default()
                .push(snapshot);
        } else {
            inventory.snapshots.push(snapshot);
        }
    }
    info!(
        destination_shares = judged_in_destinations.len(),
        source_scopes = source_lists.len(),
        "reading who the judged snapshots are shared with, and the keys"
    );
    let mut destination_shares: Vec<_> = destination_shares.into_iter().collect();
    destination_shares.sort_by_key(|(_, snapshots)| std::cmp::Reverse(snapshots.len()));
    let destination_shares = stream::iter(destination_shares)
        .map(|((account, region), snapshots)| async move {
            read_shares(factory, &account, &region, snapshots).await
        })
        .buffer_unordered(concurrency)
        .collect::<Vec<_>>();
    let judged_here: BTreeSet<(&str, &str, SourceKind, &str)> =
        judged(&inventory.sources, plan, rules)
            .map(|(s, _)| {
                let home = (s.account_id.as_str(), s.region.as_str());
                (home.0, home.1, s.kind, s.identifier.as_str())
            })
            .collect();
    let judged_here = &judged_here;
    let sources_scopes = stream::iter(source_lists)
        .map(|((account, region), kinds)| async move {
            let kinds: Vec<SourceKind> = kinds.into_iter().collect();
            let (listed, errors) = list_snapshots(factory, &account, &region, &kinds).await;
            // A database's own snapshots carry its identifier.
            let (own, other): (Vec<Snapshot>, Vec<Snapshot>) = listed.into_iter().partition(|s| {
                judged_here.contains(&(
                    account.as_str(),
                    region.as_str(),
                    s.kind,
                    s.source_identifier.as_str(),
                ))
            });
            let (mut snapshots, share_errors) = read_shares(factory, &account, &region, own).await;
            snapshots.extend(other);
            ((account, region), kinds, snapshots, errors, share_errors)
        })
        .buffer_unordered(concurrency)
        .collect::<Vec<_>>();
    let where_readable = Readable::of(&inventory);
    let in_plan = |account: &str, region: &str| where_readable.allows(account, region);
    let (destination_shares, sources_scopes, keys) = tokio::join!(
        destination_shares,
        sources_scopes,
        read_keys(factory, keys, &in_plan, concurrency)
    );
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
    read_secrets(factory, &mut inventory, plan, rules, &where_readable).await;
    inventory.normalise();
    inventory
}

/// The destination scopes: every rule's destination account in every walked region, and in the rules'
/// named destination regions. Not only where replicas must be: a copy made in another region of the
/// vault and copied on is linked through it.
fn destination_scopes(rules: &RuleSet, walked: &[String]) -> BTreeSet<(String, String)> {
    let mut scopes: BTreeSet<(String, String)> = rules
        .destination_accounts()
        .into_iter()
        .flat_map(|account| walked.iter().map(move |r| (account.clone(), r.clone())))
        .collect();
    scopes.extend(rules.destination_scopes());
    scopes
}

/// Step 1 of discovery in one scope: its databases, and, in a destination scope whose region is
/// enabled, its manual snapshots of both kinds.
struct FirstRead {
    scope: (String, String),
    read: Result<rds::read::ScopeRead, AwsError>,
    listing: Option<(Vec<Snapshot>, Vec<AwsError>)>,
}

async fn first_read(
    factory: &ClientFactory,
    account: String,
    region: String,
    destination: bool,
) -> FirstRead {
    let read = match factory.config(&account, &region).await {
        Ok(config) => {
            let client = rds_client(&config, &account, &region);
            let pacer = factory.pacer(&account, &region);
            debug!(%account, %region, "reading RDS");
            Ok(rds::read::read_databases(&client, &pacer, &account, &region).await)
        }
        Err(error) => Err(error),
    };
    let listing = match &read {
        Ok(read) if destination && !read.region_not_enabled => {
            Some(list_snapshots(factory, &account, &region, &SourceKind::both()).await)
        }
        _ => None,
    };
    FirstRead {
        scope: (account, region),
        read,
        listing,
    }
}

/// Step 1 of [`discover`] done ahead of it for some scopes.
#[derive(Default)]
pub struct Ahead {
    scopes: BTreeSet<(String, String)>,
    reads: Option<tokio::sync::oneshot::Receiver<Vec<FirstRead>>>,
}

impl Ahead {
    /// Nothing read ahead.
    pub fn none() -> Ahead {
        Ahead::default()
    }
}

/// Step 1 of [`discover`] for the rules' destination scopes (`walked`: the regions the plan walks).
/// The vault holds every replica, so its reads bound a large audit and can start while the
/// organization's accounts are still being listed. Returns the work, to be run alongside the listing
/// and `discover`, and its handle for `discover`.
pub fn read_destinations_ahead<'a>(
    factory: &'a ClientFactory,
    rules: &RuleSet,
    walked: &[String],
) -> (impl std::future::Future<Output = ()> + 'a, Ahead) {
    let scopes = destination_scopes(rules, walked);
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let work = {
        let scopes = scopes.clone();
        async move {
            let reads = futures::future::join_all(
                scopes
                    .into_iter()
                    .map(|(account, region)| first_read(factory, account, region, true)),
            )
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

/// The manual snapshots of `kinds` in one account-region (the kinds listed at once), and the errors.
async fn list_snapshots(
    factory: &ClientFactory,
    account: &str,
    region: &str,
    kinds: &[SourceKind],
) -> (Vec<Snapshot>, Vec<AwsError>) {
    let config = match factory.config(account, region).await {
        Ok(config) => config,
        Err(error) => return (Vec::new(), vec![error]),
    };
    let client = rds_client(&config, account, region);
    let pacer = factory.pacer(account, region);
    let reads = kinds
        .iter()
        .map(|kind| rds::read::read_snapshots(&client, &pacer, account, region, *kind));
    let mut snapshots = Vec::new();
    let mut errors = Vec::new();
    for (mut read, error) in futures::future::join_all(reads).await {
        snapshots.append(&mut read);
        errors.extend(error);
    }
    (snapshots, errors)
}

/// Who each of `snapshots` (all in one account-region) is shared with.
async fn read_shares(
    factory: &ClientFactory,
    account: &str,
    region: &str,
    snapshots: Vec<Snapshot>,
) -> (Vec<Snapshot>, Vec<AwsError>) {
    if snapshots.is_empty() {
        return (snapshots, Vec::new());
    }
    match factory.config(account, region).await {
        Ok(config) => {
            let client = rds_client(&config, account, region);
            let pacer = factory.pacer(account, region);
            rds::read::read_shares(&client, &pacer, account, region, snapshots).await
        }
        Err(error) => (snapshots, vec![error]),
    }
}

/// Where keys and secrets are read: the plan's accounts and regions (a key ARN of another account
/// rdsguard reads is read there), not regions an account has not enabled.
struct Readable {
    accounts: BTreeSet<String>,
    regions: BTreeSet<String>,
    skipped: BTreeSet<String>,
}

impl Readable {
    fn of(inventory: &Inventory) -> Readable {
        Readable {
            accounts: inventory.accounts.iter().map(|a| a.id.clone()).collect(),
            regions: inventory.regions.iter().cloned().collect(),
            skipped: inventory.skipped_scopes.iter().cloned().collect(),
        }
    }

    fn allows(&self, account: &str, region: &str) -> bool {
        self.accounts.contains(account)
            && self.regions.contains(region)
            && !self.skipped.contains(&format!("{account}/{region}"))
    }
}

/// The databases the checks will judge (a rule governs them and no exemption covers them on the
/// plan's day, or the next: a run may end after midnight), with their rule: those read now and those
/// the plan names from elsewhere.
fn judged<'a>(
    sources: &'a [Source],
    plan: &'a Plan,
    rules: &'a RuleSet,
) -> impl Iterator<Item = (&'a Source, &'a Rule)> {
    sources.iter().chain(&plan.also_judge).filter_map(|source| {
        let rule = rules.judging_rule(source, plan.today).or_else(|| {
            let tomorrow = plan.today.succ_opt()?;
            rules.judging_rule(source, tomorrow)
        })?;
        Some((source, rule))
    })
}

/// Where each governing rule's `restore.secret` points, read in the destination account and region.
async fn read_secrets(
    factory: &ClientFactory,
    inventory: &mut Inventory,
    plan: &Plan,
    rules: &RuleSet,
    readable: &Readable,
) {
    // Accounts whose role could not be assumed are already reported.
    let blocked: BTreeSet<String> = inventory
        .errors
        .iter()
        .filter(|e| e.region == "*")
        .map(|e| e.account_id.clone())
        .collect();
    let mut wanted: BTreeSet<(String, String, String)> = BTreeSet::new();
    for (source, rule) in judged(&inventory.sources, plan, rules) {
        let region = rule.destination.region_for(&source.region);
        let account = rule.destination.account.as_str();
        if blocked.contains(account) || !readable.allows(account, region) {
            continue;
        }
        if let Some(name) = rule.restore.as_ref().and_then(|r| r.secret_for(source)) {
            wanted.insert((account.to_string(), region.to_string(), name));
        }
    }
    let results: Vec<_> = stream::iter(wanted)
        .map(|(account, region, name)| async move {
            let result = match factory.config(&account, &region).await {
                Ok(config) => {
                    let client = secrets_client(&config);
                    secrets::read_endpoint(&client, &account, &region, &name).await
                }
                Err(error) => Err(error),
            };
            (account, region, name, result)
        })
        .buffer_unordered(plan.concurrency.max(1))
        .collect()
        .await;
    for (account_id, region, name, result) in results {
        match result {
            Ok(endpoint) => inventory.secrets.push(SecretFact {
                account_id,
                region,
                name,
                exists: endpoint.is_some(),
                host: endpoint.as_ref().and_then(|e| e.host.clone()),
                port: endpoint.as_ref().and_then(|e| e.port),
                instance: endpoint.and_then(|e| e.instance),
            }),
            Err(error) => inventory.errors.push(error),
        }
    }
}

/// (account, region, reference) -> whether the key policy is wanted too.
type Wanted = BTreeMap<(String, String, String), bool>;

/// The keys the checks will ask about, where they are used. Some are only known to be needed once the
/// first look-ups have answered ([`KeyWants::later`]).
struct KeyWants {
    /// Accounts rdsguard reads (see [`key_place`]).
    readable: BTreeSet<String>,
    /// Accounts whose role could not be assumed: already reported, not asked again per key.
    blocked: BTreeSet<String>,
    /// The judged databases' own keys (with policy) and the rules' pinned destination keys.
    first: Wanted,
    /// Looked up after `first`: the keys of the newest replicas (skipped when `first` already described
    /// that ARN there, e.g. through the pinned alias), and the rule's `source_kms_key` where a database
    /// is unencrypted or its own key turns out to be AWS managed.
    later: Vec<Later>,
}

enum Later {
    Key {
        account: String,
        region: String,
        arn: String,
    },
    SourceKmsKey {
        account: String,
        region: String,
        own_key: Option<String>,
        reference: String,
    },
}

impl KeyWants {
    fn new(inventory: &Inventory) -> Self {
        KeyWants {
            readable: inventory.accounts.iter().map(|a| a.id.clone()).collect(),
            blocked: inventory
                .errors
                .iter()
                .filter(|e| e.region == "*")
                .map(|e| e.account_id.clone())
                .collect(),
            first: Wanted::new(),
            later: Vec::new(),
        }
    }

    fn place(&self, account: &str, region: &str, reference: &str) -> (String, String) {
        key_place(&self.readable, account, region, reference)
    }

    fn want(wanted: &mut Wanted, place: (String, String), reference: &str, policy: bool) {
        *wanted
            .entry((place.0, place.1, reference.to_string()))
            .or_insert(false) |= policy;
    }

    /// What the checks of `source` (judged under `rule`) ask KMS, given its newest replica.
    fn judge(
        &mut self,
        source: &Source,
        rule: &Rule,
        dest_region: &str,
        newest: Option<&Snapshot>,
    ) {
        let own_key = source.kms_key_id.as_deref().filter(|_| source.encrypted);
        if let Some(key) = own_key {
            let place = self.place(&source.account_id, &source.region, key);
            Self::want(&mut self.first, place, key, true);
        }
        if let Some(reference) = &rule.source_kms_key {
            self.later.push(Later::SourceKmsKey {
                account: source.account_id.clone(),
                region: source.region.clone(),
                own_key: own_key.map(str::to_string),
                reference: reference.clone(),
            });
        }
        let dest_account = rule.destination.account.as_str();
        if let Some(key) = &rule.destination.kms_key {
            let place = self.place(dest_account, dest_region, key);
            Self::want(&mut self.first, place, key, false);
        }
        if let Some(key) = newest
            .filter(|s| s.encrypted)
            .and_then(|s| s.kms_key_id.as_deref())
        {
            let (account, region) = self.place(dest_account, dest_region, key);
            self.later.push(Later::Key {
                account,
                region,
                arn: key.to_string(),
            });
        }
    }
}

/// Where `reference`, used in `account`/`region`, is looked up: a key ARN owned by another account
/// rdsguard reads is looked up in that account (KMS serves key policies only to the key's owner).
fn key_place(
    readable: &BTreeSet<String>,
    account: &str,
    region: &str,
    reference: &str,
) -> (String, String) {
    match reference.split(':').collect::<Vec<_>>().as_slice() {
        ["arn", _, "kms", key_region, owner, _]
            if *owner != account && readable.contains(*owner) =>
        {
            (owner.to_string(), key_region.to_string())
        }
        _ => (account.to_string(), region.to_string()),
    }
}

type KeyResult = (
    KeyRef,
    Result<(Option<KeyFact>, Option<AwsError>), AwsError>,
);

/// Looks up the wanted keys in two rounds (see [`KeyWants`]); a key whose policy one round read is not
/// asked for its policy again. Only keys in scopes `in_plan` accepts are read.
async fn read_keys(
    factory: &ClientFactory,
    wants: KeyWants,
    in_plan: &dyn Fn(&str, &str) -> bool,
    concurrency: usize,
) -> Vec<KeyResult> {
    let KeyWants {
        readable,
        blocked,
        first,
        later,
    } = wants;
    let asked = first.clone();
    let mut results = lookup_keys(factory, first, &blocked, in_plan, &[], concurrency).await;
    // (account, region, ARN or name looked up) -> what the first round found.
    let mut found: HashMap<(&str, &str, &str), &KeyFact> = HashMap::new();
    for (_, result) in &results {
        if let Ok((Some(fact), _)) = result {
            for name in std::iter::once(&fact.arn).chain(&fact.lookups) {
                found.insert((&fact.account_id, &fact.region, name), fact);
            }
        }
    }
    let known = |account: &str, region: &str, reference: &str| {
        found.get(&(account, region, reference)).copied()
    };
    let mut second = Wanted::new();
    for later in later {
        match later {
            Later::Key {
                account,
                region,
                arn,
            } => {
                if known(&account, &region, &arn).is_none() {
                    KeyWants::want(&mut second, (account, region), &arn, false);
                }
            }
            Later::SourceKmsKey {
                account,
                region,
                own_key,
                reference,
            } => {
                let needed = match own_key {
                    None => true,
                    Some(own) => {
                        let place = key_place(&readable, &account, &region, &own);
                        known(&place.0, &place.1, &own).is_some_and(crate::checks::is_aws_managed)
                    }
                };
                if needed {
                    let place = key_place(&readable, &account, &region, &reference);
                    KeyWants::want(&mut second, place, &reference, true);
                }
            }
        }
    }
    // Nothing the first round asked is asked again (its answer, or its error, is already in hand),
    // unless the first round did not ask for a policy the second wants.
    second.retain(|wanted, policy| match asked.get(wanted) {
        Some(asked_policy) => *policy && !asked_policy,
        None => true,
    });
    // Keys whose policy the first round read (or was refused): not asked for it again.
    let policy_asked: Vec<(String, String, String)> = results
        .iter()
        .filter_map(|(_, result)| match result {
            Ok((Some(fact), refused)) if fact.policy.is_some() || refused.is_some() => Some((
                fact.account_id.clone(),
                fact.region.clone(),
                fact.arn.clone(),
            )),
            _ => None,
        })
        .collect();
    let more = lookup_keys(
        factory,
        second,
        &blocked,
        in_plan,
        &policy_asked,
        concurrency,
    )
    .await;
    results.extend(more);
    results
}

async fn lookup_keys(
    factory: &ClientFactory,
    wanted: Wanted,
    blocked: &BTreeSet<String>,
    in_plan: &dyn Fn(&str, &str) -> bool,
    with_policy: &[(String, String, String)],
    concurrency: usize,
) -> Vec<KeyResult> {
    stream::iter(
        wanted.into_iter().filter(|((account, region, _), _)| {
            !blocked.contains(account) && in_plan(account, region)
        }),
    )
    .map(|((account, region, reference), policy)| async move {
        let has_policy = |arn: &str| {
            with_policy
                .iter()
                .any(|(a, r, known)| *a == account && *r == region && known == arn)
        };
        let result = match factory.config(&account, &region).await {
            Ok(config) => {
                let client = kms_client(&config, &account, &region);
                kms::describe(&client, &account, &region, &reference, policy, has_policy).await
            }
            Err(error) => Err(error),
        };
        let wanted = KeyRef {
            account_id: account,
            region,
            reference,
        };
        (wanted, result)
    })
    .buffer_unordered(concurrency)
    .collect()
    .await
}

fn merge_key(keys: &mut Vec<KeyFact>, fact: KeyFact) {
    if let Some(known) = keys
        .iter_mut()
        .find(|k| k.arn == fact.arn && k.account_id == fact.account_id && k.region == fact.region)
    {
        for lookup in fact.lookups {
            if !known.lookups.contains(&lookup) {
                known.lookups.push(lookup);
            }
        }
        if known.policy.is_none() {
            known.policy = fact.policy;
        }
        known.lookups.sort();
    } else {
        keys.push(fact);
    }
}
