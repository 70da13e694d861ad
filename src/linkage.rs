//! Which resources are replicas of a source (DESIGN §3), and indexes over the inventory used by checks.

use std::collections::HashMap;

use crate::inventory::{
    parse_rds_arn, AwsError, BackupVault, Inventory, KeyFact, Snapshot, Source, SourceKind,
    TAG_SOURCE_ARN,
};
use crate::rules::{pattern, Destination};

/// Copies of copies are followed this many hops inside the destination account.
const MAX_COPY_CHAIN: usize = 8;

/// Lookups over one inventory, built once per evaluation.
pub struct Index<'a> {
    pub inventory: &'a Inventory,
    snapshots_by_arn: HashMap<&'a str, &'a Snapshot>,
    /// account -> region -> snapshots owned there.
    snapshots_by_scope: HashMap<&'a str, HashMap<&'a str, Vec<&'a Snapshot>>>,
    /// name -> keys known by it, where name is the ARN or any name the key was looked up by.
    keys: HashMap<&'a str, Vec<&'a KeyFact>>,
    /// Provenance tag value (a source ARN) -> the snapshots carrying it.
    by_tag: HashMap<&'a str, Vec<&'a Snapshot>>,
    /// (origin account, origin region, database identifier) -> untagged snapshots of that data.
    by_origin: HashMap<(&'a str, &'a str, &'a str), Vec<&'a Snapshot>>,
    /// Database ARN (`ResourceArn`) -> its recovery points.
    by_resource: HashMap<&'a str, Vec<&'a Snapshot>>,
    /// (account that listed it, vault ARN) -> the vault.
    vaults: HashMap<(&'a str, &'a str), &'a BackupVault>,
}

impl<'a> Index<'a> {
    pub fn new(inventory: &'a Inventory) -> Self {
        let mut snapshots_by_scope: HashMap<&str, HashMap<&str, Vec<&Snapshot>>> = HashMap::new();
        let mut snapshots_by_arn = HashMap::new();
        for snapshot in &inventory.snapshots {
            snapshots_by_arn.insert(snapshot.arn.as_str(), snapshot);
            snapshots_by_scope
                .entry(snapshot.account_id.as_str())
                .or_default()
                .entry(snapshot.region.as_str())
                .or_default()
                .push(snapshot);
        }
        let mut keys: HashMap<&str, Vec<&KeyFact>> = HashMap::new();
        for key in &inventory.keys {
            keys.entry(key.arn.as_str()).or_default().push(key);
            for name in &key.lookups {
                keys.entry(name.as_str()).or_default().push(key);
            }
        }
        let mut index = Index {
            inventory,
            snapshots_by_arn,
            snapshots_by_scope,
            keys,
            by_tag: HashMap::new(),
            by_origin: HashMap::new(),
            by_resource: HashMap::new(),
            vaults: inventory
                .backup_vaults
                .iter()
                .map(|v| ((v.account_id.as_str(), v.arn.as_str()), v))
                .collect(),
        };
        // Linkage indexes, so finding a source's replicas does not scan every snapshot. A recovery
        // point is linked by the database ARN AWS Backup recorded, and nothing else; the RDS view of
        // one (`awsbackup:...`) is not linked at all: it is the same copy, counted once.
        for snapshot in &inventory.snapshots {
            if let Some(point) = &snapshot.backup {
                index
                    .by_resource
                    .entry(point.resource_arn.as_str())
                    .or_default()
                    .push(snapshot);
                continue;
            }
            if snapshot.made_by_backup() {
                continue;
            }
            match snapshot.tags.get(TAG_SOURCE_ARN) {
                Some(tagged) => index
                    .by_tag
                    .entry(tagged.as_str())
                    .or_default()
                    .push(snapshot),
                None => {
                    let (account, region) = index.origin(snapshot);
                    index
                        .by_origin
                        .entry((account, region, snapshot.source_identifier.as_str()))
                        .or_default()
                        .push(snapshot);
                }
            }
        }
        index
    }

    pub fn snapshots_in(&self, account_id: &str, region: &str) -> &[&'a Snapshot] {
        self.snapshots_by_scope
            .get(account_id)
            .and_then(|regions| regions.get(region))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// A key as referenced from `account_id`/`region` (alias, id or ARN). A key ARN is also found when it
    /// was described from another account.
    pub fn key(&self, account_id: &str, region: &str, reference: &str) -> Option<&'a KeyFact> {
        let candidates = self.keys.get(reference)?;
        candidates
            .iter()
            .find(|k| k.account_id == account_id && k.region == region)
            .or_else(|| candidates.first().filter(|_| reference.starts_with("arn:")))
            .copied()
    }

    /// True when KMS answered that `reference` does not exist in `account_id`/`region`.
    pub fn key_missing(&self, account_id: &str, region: &str, reference: &str) -> bool {
        self.inventory
            .missing_keys
            .iter()
            .any(|k| k.account_id == account_id && k.region == region && k.reference == reference)
    }

    /// Why the snapshots of `kind` in `account_id`/`region` are unknown, if they are: the account could
    /// not be entered, listing them failed, or discovery did not list them (no judged database needed
    /// them under the rules it ran with).
    /// Why it is unknown which databases of one account-region are green sides of Blue/Green
    /// deployments, if it is: the read failed (its error), or discovery did not read them (`NotRead`:
    /// no database its rules judged needed it).
    pub fn green_sides_unknown(&self, account_id: &str, region: &str) -> Option<AwsError> {
        let operation = crate::inventory::BLUE_GREEN_OPERATION;
        let failed =
            self.inventory.errors.iter().find(|e| {
                e.account_id == account_id && e.region == region && e.operation == operation
            });
        if let Some(error) = failed {
            return Some(error.clone());
        }
        let unread = self
            .inventory
            .scopes
            .iter()
            .any(|s| s.account_id == account_id && s.region == region && !s.blue_green_read);
        unread.then(|| AwsError {
            account_id: account_id.to_string(),
            region: region.to_string(),
            operation: operation.to_string(),
            code: "NotRead".to_string(),
            message: "discovery did not read the Blue/Green deployments here: no database its rules judged needed them (re-run the audit with these rules)".to_string(),
            resource: None,
        })
    }

    pub fn snapshot_read_errors(
        &self,
        account_id: &str,
        region: &str,
        kind: SourceKind,
    ) -> Vec<AwsError> {
        let operation = kind.snapshot_list_operation();
        let mut errors: Vec<AwsError> = self
            .inventory
            .errors
            .iter()
            .filter(|e| e.account_id == account_id)
            .filter(|e| {
                e.region == "*"
                    || (e.region == region && e.operation == operation && e.resource.is_none())
            })
            .cloned()
            .collect();
        let unlisted = self.inventory.scopes.iter().any(|s| {
            s.account_id == account_id && s.region == region && !s.snapshot_kinds.contains(&kind)
        });
        if errors.is_empty() && unlisted {
            errors.push(AwsError {
                account_id: account_id.to_string(),
                region: region.to_string(),
                operation: operation.to_string(),
                code: "NotRead".to_string(),
                message: "discovery did not list these snapshots: no database its rules judged needed them (re-run the audit with these rules)".to_string(),
                resource: None,
            });
        }
        errors
    }

    /// The account and region a snapshot's data came from, following copies inside one account.
    fn origin(&self, snapshot: &'a Snapshot) -> (&'a str, &'a str) {
        let mut current = snapshot;
        for _ in 0..MAX_COPY_CHAIN {
            let Some(parent_arn) = current.source_snapshot_arn.as_deref() else {
                break;
            };
            let Some(parent) = parse_rds_arn(parent_arn) else {
                break;
            };
            if parent.account_id != current.account_id {
                return (parent.account_id, parent.region);
            }
            match self.snapshots_by_arn.get(parent_arn) {
                Some(next) => current = next,
                // A copy of a snapshot of the same account that no longer exists: its own origin.
                None => return (parent.account_id, parent.region),
            }
        }
        (current.account_id.as_str(), current.region.as_str())
    }

    /// True when `snapshot` is a copy of `source`'s data (by provenance tag, else by source ARN + id).
    pub fn is_copy_of(&self, snapshot: &'a Snapshot, source: &Source) -> bool {
        if snapshot.kind != source.db.kind {
            return false;
        }
        if let Some(point) = &snapshot.backup {
            // A vault of the source's own account, even one shared elsewhere, goes with that account.
            return point.resource_arn == source.db.arn
                && point.vault_owner() != Some(source.db.account_id.as_str());
        }
        if let Some(tagged) = snapshot.tags.get(TAG_SOURCE_ARN) {
            return tagged == &source.db.arn;
        }
        snapshot.source_identifier == source.db.identifier
            && self.origin(snapshot) == (source.db.account_id.as_str(), source.db.region.as_str())
    }

    /// The replicas of `source` in `destination` (in `dest_region`): usable copies of the kinds the
    /// destination counts, owned by its account (never the source's own account) or, for recovery
    /// points, in a vault shared into it; newest data first (ties: latest copy first).
    pub fn replicas(
        &self,
        source: &Source,
        destination: &Destination,
        dest_region: &str,
    ) -> Vec<&'a Snapshot> {
        let dest_account = destination.account.as_str();
        if dest_account == source.db.account_id {
            return Vec::new();
        }
        let tagged = self.by_tag.get(source.db.arn.as_str());
        let untagged = self.by_origin.get(&(
            source.db.account_id.as_str(),
            source.db.region.as_str(),
            source.db.identifier.as_str(),
        ));
        let points = self.by_resource.get(source.db.arn.as_str());
        let mut replicas: Vec<&Snapshot> = tagged
            .into_iter()
            .chain(untagged)
            .chain(points)
            .flatten()
            .copied()
            .filter(|s| {
                s.account_id == dest_account
                    && s.region == dest_region
                    && s.usable()
                    && destination.counts(s)
                    && self.is_copy_of(s, source)
            })
            .collect();
        // Newest data first; among copies of the same data, the latest copy first.
        replicas.sort_by(|a, b| {
            b.replica_time()
                .cmp(&a.replica_time())
                .then_with(|| b.snapshot_create_time.cmp(&a.snapshot_create_time))
                .then_with(|| a.arn.cmp(&b.arn))
        });
        replicas
    }

    /// The vault a recovery point sits in, as the account that listed it sees it.
    pub fn vault_of(&self, snapshot: &Snapshot) -> Option<&'a BackupVault> {
        let point = snapshot.backup.as_ref()?;
        self.vaults
            .get(&(snapshot.account_id.as_str(), point.vault_arn.as_str()))
            .copied()
    }

    /// Why the recovery points `destination` counts in `region` are unknown, if they are: listing
    /// the vaults or a counted vault's points failed, or discovery did not list them.
    pub fn backup_read_errors(&self, destination: &Destination, region: &str) -> Vec<AwsError> {
        if !destination.replicas.backup {
            return Vec::new();
        }
        let account = destination.account.as_str();
        let counted = |vault_arn: &str| {
            let name = vault_arn.rsplit(':').next().unwrap_or(vault_arn);
            destination
                .vault
                .as_deref()
                .is_none_or(|p| pattern::matches(p, name))
        };
        let mut errors: Vec<AwsError> = self
            .inventory
            .errors
            .iter()
            .filter(|e| e.account_id == account && (e.region == region || e.region == "*"))
            .filter(|e| match e.operation.as_str() {
                _ if e.region == "*" => true,
                "ListBackupVaults" => true,
                "ListRecoveryPointsByBackupVault" => e.resource.as_deref().is_none_or(counted),
                _ => false,
            })
            .cloned()
            .collect();
        let unlisted = self
            .inventory
            .scopes
            .iter()
            .any(|s| s.account_id == account && s.region == region && !s.backups_listed);
        if errors.is_empty() && unlisted {
            errors.push(AwsError {
                account_id: account.to_string(),
                region: region.to_string(),
                operation: "ListRecoveryPointsByBackupVault".to_string(),
                code: "NotRead".to_string(),
                message: "discovery did not list the backup vaults' recovery points here: no rule it ran with counted AWS Backup copies in this destination (re-run the audit with these rules)".to_string(),
                resource: None,
            });
        }
        errors
    }

    /// Snapshots of `source` in its own account and region (manual ones: what can be shared).
    pub fn own_snapshots(&self, source: &Source) -> Vec<&'a Snapshot> {
        self.snapshots_in(&source.db.account_id, &source.db.region)
            .iter()
            .copied()
            .filter(|s| s.kind == source.db.kind && s.source_identifier == source.db.identifier)
            .collect()
    }
}
