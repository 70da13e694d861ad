//! The planner: pure functions from the rules, the checks' declared needs ([`Fact`]) and what has been
//! read so far to the reads of the next round. No I/O: [`super::run`] calls AWS with what they return.
//!
//! The rounds: [`destination_scopes`] (before anything is read), [`next_reads`] (once the databases
//! and the destinations' snapshots are known; with the quotas of the destinations judged databases
//! copy into, and the option groups of their scopes), [`second_keys`] (once the first keys have answered),
//! [`secrets`] (last). Each reads, for every judged database, what its rule's checks need and nothing
//! else, so a check that stops needing a fact stops costing its calls.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::NaiveDate;

use crate::checks::{self, Check, Fact};
use crate::inventory::{
    is_default_option_group, AwsError, Inventory, KeyFact, KeyRef, Source, SourceKind,
};
use crate::linkage::Index;
use crate::rules::{DestinationRegion, Rule, RuleSet};

/// An (account, region) pair.
pub type ScopeId = (String, String);

/// The destination scopes whose snapshots are listed first, before any database is known: for every
/// rule whose checks need its replicas, its destination account in every walked region, and in its
/// named destination region. Not only where replicas must be: a copy made in another region of the
/// vault and copied on is linked through it.
pub fn destination_scopes(
    rules: &RuleSet,
    walked: &[String],
    checks: &[Check],
) -> BTreeSet<ScopeId> {
    let mut scopes = BTreeSet::new();
    for rule in &rules.rules {
        if !checks::facts(checks, rule)
            .iter()
            .any(|f| f.about_replicas())
        {
            continue;
        }
        let account = &rule.destination.account;
        scopes.extend(walked.iter().map(|r| (account.clone(), r.clone())));
        if let DestinationRegion::Named(region) = &rule.destination.region {
            scopes.insert((account.clone(), region.clone()));
        }
    }
    scopes
}

/// Which backup vaults of one destination account are read: none unless a rule whose checks need
/// its replicas counts AWS Backup copies there; then those whose name a rule's `vault` pattern
/// accepts (every vault when a rule names no pattern).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct VaultFilter {
    pub all: bool,
    pub patterns: BTreeSet<String>,
    /// The RDS view of the account's DB instance recovery points is listed too (their tags hold
    /// restore drill evidence: [`Fact::ReplicaDrillEvidence`]).
    pub drill_views: bool,
}

impl VaultFilter {
    /// True when the recovery points of the vault `name` are listed.
    pub fn wants(&self, name: &str) -> bool {
        self.all
            || self
                .patterns
                .iter()
                .any(|p| crate::rules::pattern::matches(p, name))
    }
}

/// The vault filter of every destination account whose rules count AWS Backup copies.
pub fn vault_filters(rules: &RuleSet, checks: &[Check]) -> BTreeMap<String, VaultFilter> {
    let mut filters: BTreeMap<String, VaultFilter> = BTreeMap::new();
    for rule in &rules.rules {
        let destination = &rule.destination;
        if !destination.replicas.backup
            || !checks::facts(checks, rule)
                .iter()
                .any(|f| f.about_replicas())
        {
            continue;
        }
        let filter = filters.entry(destination.account.clone()).or_default();
        filter.drill_views |= checks::facts(checks, rule).contains(&Fact::ReplicaDrillEvidence);
        match &destination.vault {
            Some(pattern) => {
                filter.patterns.insert(pattern.clone());
            }
            None => filter.all = true,
        }
    }
    filters
}

/// The databases the checks will judge (a rule governs them and no exemption covers them on `today`,
/// or the next day: a run may end after midnight), with their rule: `sources` and then `also`.
pub fn judged<'a>(
    sources: &'a [Source],
    also: &'a [Source],
    rules: &'a RuleSet,
    today: NaiveDate,
) -> impl Iterator<Item = (&'a Source, &'a Rule)> {
    sources.iter().chain(also).filter_map(move |source| {
        let rule = rules.judging_rule(source, today).or_else(|| {
            let tomorrow = today.succ_opt()?;
            rules.judging_rule(source, tomorrow)
        })?;
        Some((source, rule))
    })
}

/// Whether one scope's Blue/Green deployments must be read (`DescribeBlueGreenDeployments`, once per
/// scope), given its databases: only when being a green side would change how one of them is judged.
/// That is a database some rule would judge on `today` or the next day, whose rule does not select
/// read replicas (and so green sides) anyway, and that is no read replica itself (already no source).
/// The `-green-` in the names AWS gives green databases is not relied on: it is no API contract.
pub fn wants_green_sides(sources: &[Source], rules: &RuleSet, today: NaiveDate) -> bool {
    sources.iter().any(|source| {
        source.read_replica_of.is_none()
            && [Some(today), today.succ_opt()]
                .into_iter()
                .flatten()
                .filter_map(|day| rules.judging_rule(source, day))
                .any(|rule| !rule.select.read_replicas)
    })
}

/// What the first round read, as the planner needs it.
pub struct Known<'a> {
    /// The databases of every scope, and the destination scopes' snapshots.
    pub inventory: &'a Inventory,
    /// Databases judged besides the inventory's (`Plan::also_judge`).
    pub also_judge: &'a [Source],
    /// The day exemptions are judged on.
    pub today: NaiveDate,
    /// The destination scopes whose snapshots were listed.
    pub destinations: &'a BTreeSet<ScopeId>,
    /// The scopes whose databases could be read.
    pub readable: &'a BTreeSet<ScopeId>,
}

/// The second round: sharing, the other scopes' snapshots, the first keys.
#[derive(Debug, Default, PartialEq)]
pub struct Reads {
    /// Snapshots already listed (in destination scopes) whose sharing is read, by ARN.
    pub shares: BTreeSet<String>,
    /// Scopes whose manual snapshots are listed now, of these kinds.
    pub snapshot_lists: BTreeMap<ScopeId, BTreeSet<SourceKind>>,
    /// Of what those lists return, the snapshots whose sharing is read: those of these databases
    /// (account, region, kind, identifier).
    pub own_shares: BTreeSet<(String, String, SourceKind, String)>,
    /// The backup vaults whose access policy is read: (owner account, region, vault ARN).
    pub vault_policies: BTreeSet<(String, String, String)>,
    /// The destination scopes whose manual snapshot quotas are read (once each).
    pub quotas: BTreeSet<ScopeId>,
    /// The scopes whose option groups are listed (once each): where a judged DB instance uses a
    /// group that is not a default one.
    pub option_groups: BTreeSet<ScopeId>,
    pub keys: KeyPlan,
}

/// (account, region, reference) -> whether the key policy is wanted too.
pub type Wanted = BTreeMap<(String, String, String), bool>;

/// The keys the checks will ask about, where they are looked up. Some are only known to be needed once
/// the first look-ups have answered ([`second_keys`]).
#[derive(Debug, Default, PartialEq)]
pub struct KeyPlan {
    /// Read now: the judged databases' own keys (with policy) and the rules' pinned destination keys.
    pub first: Wanted,
    /// Decided after `first` answered.
    pub later: Vec<Later>,
}

#[derive(Debug, PartialEq)]
pub enum Later {
    /// The newest replica's key, unless `first` already described that ARN there (e.g. through the
    /// pinned alias).
    Key {
        account: String,
        region: String,
        arn: String,
    },
    /// The rule's `source_kms_key`, where a database is unencrypted (`own_key` is `None`) or its own key
    /// turns out to be AWS managed.
    SourceKmsKey {
        account: String,
        region: String,
        own_key: Option<String>,
        reference: String,
    },
}

/// Where keys and secrets are read: the inventory's accounts and regions (a key ARN of another account
/// rdsguard reads is read there), not regions an account has not enabled, not accounts whose role
/// could not be assumed (already reported, not asked again per key).
pub struct Readable {
    accounts: BTreeSet<String>,
    regions: BTreeSet<String>,
    skipped: BTreeSet<String>,
    blocked: BTreeSet<String>,
}

impl Readable {
    pub fn of(inventory: &Inventory) -> Readable {
        Readable {
            accounts: inventory.accounts.iter().map(|a| a.id.clone()).collect(),
            regions: inventory.regions.iter().cloned().collect(),
            skipped: inventory.skipped_scopes.iter().cloned().collect(),
            blocked: inventory
                .errors
                .iter()
                .filter(|e| e.region == "*")
                .map(|e| e.account_id.clone())
                .collect(),
        }
    }

    pub fn allows(&self, account: &str, region: &str) -> bool {
        !self.blocked.contains(account)
            && self.accounts.contains(account)
            && self.regions.contains(region)
            && !self.skipped.contains(&format!("{account}/{region}"))
    }

    /// Where `reference`, used in `account`/`region`, is looked up: a key ARN owned by another account
    /// rdsguard reads is looked up in that account (KMS serves key policies only to the key's owner).
    pub fn key_place(&self, account: &str, region: &str, reference: &str) -> ScopeId {
        match reference.split(':').collect::<Vec<_>>().as_slice() {
            ["arn", _, "kms", key_region, owner, _]
                if *owner != account && self.accounts.contains(*owner) =>
            {
                (owner.to_string(), key_region.to_string())
            }
            _ => (account.to_string(), region.to_string()),
        }
    }
}

fn want(wanted: &mut Wanted, place: ScopeId, reference: &str, policy: bool) {
    *wanted
        .entry((place.0, place.1, reference.to_string()))
        .or_insert(false) |= policy;
}

/// The second round, given the databases and the destinations' snapshots: for each judged database,
/// what its rule's `checks` need. Linkage is [`Index`], the code evaluation uses.
pub fn next_reads(known: &Known<'_>, rules: &RuleSet, checks: &[Check]) -> Reads {
    let inventory = known.inventory;
    let index = Index::new(inventory);
    let readable = Readable::of(inventory);
    let mut reads = Reads::default();
    for (source, rule) in judged(&inventory.sources, known.also_judge, rules, known.today) {
        let facts = checks::facts(checks, rule);
        let needs = |fact| facts.contains(&fact);
        let dest_account = rule.destination.account.as_str();
        let dest_region = rule.destination.region_for(&source.db.region);
        let replicas = if needs(Fact::ReplicaShares)
            || needs(Fact::NewestReplicaKey)
            || needs(Fact::VaultPolicies)
        {
            index.replicas(source, &rule.destination, dest_region)
        } else {
            Vec::new()
        };
        if needs(Fact::ReplicaShares) {
            reads.shares.extend(
                replicas
                    .iter()
                    .filter(|s| s.backup.is_none())
                    .map(|s| s.arn.clone()),
            );
        }
        if needs(Fact::VaultPolicies) {
            for point in replicas.iter().filter_map(|s| s.backup.as_ref()) {
                let owner = point.vault_owner().unwrap_or(dest_account);
                if readable.allows(owner, dest_region) {
                    reads.vault_policies.insert((
                        owner.to_string(),
                        dest_region.to_string(),
                        point.vault_arn.clone(),
                    ));
                }
            }
        }
        if needs(Fact::DestinationQuotas) && readable.allows(dest_account, dest_region) {
            reads
                .quotas
                .insert((dest_account.to_string(), dest_region.to_string()));
        }
        let home = (source.db.account_id.clone(), source.db.region.clone());
        let named_group = source
            .option_group
            .as_deref()
            .is_some_and(|g| !is_default_option_group(g));
        if needs(Fact::SourceOptionGroup) && named_group && known.readable.contains(&home) {
            reads.option_groups.insert(home.clone());
        }
        if needs(Fact::OwnSnapshots) || needs(Fact::OwnSnapshotShares) {
            if known.destinations.contains(&home) {
                // Listed with the destination's snapshots.
                if needs(Fact::OwnSnapshotShares) {
                    let own = index.own_snapshots(source);
                    reads.shares.extend(own.iter().map(|s| s.arn.clone()));
                }
            } else if known.readable.contains(&home) {
                reads
                    .snapshot_lists
                    .entry(home)
                    .or_default()
                    .insert(source.db.kind);
            }
        }
        if needs(Fact::OwnSnapshotShares) {
            reads.own_shares.insert((
                source.db.account_id.clone(),
                source.db.region.clone(),
                source.db.kind,
                source.db.identifier.clone(),
            ));
        }
        let keys = &mut reads.keys;
        let own_key = source.kms_key_id.as_deref().filter(|_| source.encrypted);
        if let (true, Some(key)) = (needs(Fact::SourceKey), own_key) {
            let place = readable.key_place(&source.db.account_id, &source.db.region, key);
            want(&mut keys.first, place, key, true);
        }
        if let (true, Some(reference)) = (needs(Fact::SourceKmsKey), &rule.source_kms_key) {
            keys.later.push(Later::SourceKmsKey {
                account: source.db.account_id.clone(),
                region: source.db.region.clone(),
                own_key: own_key.map(str::to_string),
                reference: reference.clone(),
            });
        }
        if let (true, Some(key)) = (needs(Fact::PinnedDestinationKey), &rule.destination.kms_key) {
            let place = readable.key_place(dest_account, dest_region, key);
            want(&mut keys.first, place, key, false);
        }
        // A key AWS owns is in no account: nothing to look up (replica-encryption reports it as such).
        let newest_key = replicas
            .first()
            .filter(|s| s.encrypted && !s.backup.as_ref().is_some_and(|p| p.aws_owned_key()))
            .and_then(|s| s.kms_key_id.as_deref());
        if let (true, Some(key)) = (needs(Fact::NewestReplicaKey), newest_key) {
            let (account, region) = readable.key_place(dest_account, dest_region, key);
            keys.later.push(Later::Key {
                account,
                region,
                arn: key.to_string(),
            });
        }
    }
    reads
        .keys
        .first
        .retain(|(a, r, _), _| readable.allows(a, r));
    reads
}

/// What one key look-up answered: the fact (`None`: KMS says it does not exist) and the error of its
/// policy read, or the look-up's error.
pub type KeyResult = (
    KeyRef,
    Result<(Option<KeyFact>, Option<AwsError>), AwsError>,
);

/// The second round of keys, given what the first answered (`readable`: [`Readable::of`] the
/// inventory [`next_reads`] planned from): the keys to look up, and the keys (account,
/// region, ARN) whose policy is not to be asked again (the first round read it, or was refused).
/// Nothing the first round asked is asked again (its answer, or its error, is in hand) unless the
/// first round did not ask for a policy the second wants.
pub fn second_keys(
    readable: &Readable,
    plan: &KeyPlan,
    first: &[KeyResult],
) -> (Wanted, BTreeSet<(String, String, String)>) {
    // (account, region, ARN or name looked up) -> what the first round found.
    let mut found: HashMap<(&str, &str, &str), &KeyFact> = HashMap::new();
    for (_, result) in first {
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
    for later in &plan.later {
        match later {
            Later::Key {
                account,
                region,
                arn,
            } => {
                if known(account, region, arn).is_none() {
                    want(&mut second, (account.clone(), region.clone()), arn, false);
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
                        let place = readable.key_place(account, region, own);
                        known(&place.0, &place.1, own).is_some_and(checks::is_aws_managed)
                    }
                };
                if needed {
                    let place = readable.key_place(account, region, reference);
                    want(&mut second, place, reference, true);
                }
            }
        }
    }
    second.retain(|wanted, policy| match plan.first.get(wanted) {
        Some(asked_policy) => *policy && !asked_policy,
        None => true,
    });
    second.retain(|(a, r, _), _| readable.allows(a, r));
    let policy_read = first
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
    (second, policy_read)
}

/// The last round: where each judged database's rule's `restore.secret` points, read in the
/// destination account and region, once per (account, region, name).
pub fn secrets(
    inventory: &Inventory,
    also_judge: &[Source],
    today: NaiveDate,
    rules: &RuleSet,
    checks: &[Check],
) -> BTreeSet<(String, String, String)> {
    let readable = Readable::of(inventory);
    let mut wanted = BTreeSet::new();
    for (source, rule) in judged(&inventory.sources, also_judge, rules, today) {
        if !checks::facts(checks, rule).contains(&Fact::RestoreSecret) {
            continue;
        }
        let region = rule.destination.region_for(&source.db.region);
        let account = rule.destination.account.as_str();
        if !readable.allows(account, region) {
            continue;
        }
        if let Some(name) = rule.restore.as_ref().and_then(|r| r.secret_for(source)) {
            wanted.insert((account.to_string(), region.to_string(), name));
        }
    }
    wanted
}
