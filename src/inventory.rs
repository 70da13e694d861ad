//! The inventory: everything discovery read from AWS, as plain serialisable data.
//!
//! Discovery (`crate::aws`) is the only code that fills it; evaluation only reads it. It is written to
//! `inventory.json` with every run, so `rdsguard evaluate --inventory` can re-judge a run offline.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Version tag of `inventory.json`. Bump when a field changes meaning.
pub const INVENTORY_SCHEMA: &str = "rdsguard.inventory/v1";

/// The tags discovery and the checks read; every tag name is defined in `crate::tags`.
pub use crate::tags::{TAG_DATA_TIME, TAG_SOURCE_ARN};

mod arn;
mod backup;
mod green;
mod key;
mod option_group;
mod quota;
pub use arn::{parse_rds_arn, RdsArn};
pub use backup::{vault_owner, BackupVault, RecoveryPoint, AIR_GAPPED_VAULT, AWS_OWNED_KMS_KEY};
pub use green::{GreenSide, BLUE_GREEN_OPERATION};
pub use key::{KeyFact, KeyManager, KeyRef};
pub use option_group::{
    is_default_option_group, GroupOption, OptionGroup, OptionGroupListing, OPTION_GROUPS_OPERATION,
};
pub use quota::{AccountQuotas, Quota, QUOTAS_OPERATION};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Inventory {
    pub schema: String,
    pub collected_at: Option<DateTime<Utc>>,
    /// Who ran the discovery (`sts:GetCallerIdentity`).
    pub caller: Option<Caller>,
    pub organization_id: Option<String>,
    pub accounts: Vec<Account>,
    pub regions: Vec<String>,
    /// Every (account, region) pair discovery tried to read, and whether it could.
    pub scopes: Vec<Scope>,
    /// Account-region pairs skipped because the region is not enabled for the account (opt-in).
    #[serde(default)]
    pub skipped_scopes: Vec<String>,
    pub sources: Vec<Source>,
    /// Manual DB snapshots and DB cluster snapshots, and the RDS and Aurora recovery points of the
    /// destinations' backup vaults (those have [`Snapshot::backup`]).
    pub snapshots: Vec<Snapshot>,
    /// The AWS Backup vaults of the destination scopes: owned by the account, or shared into it.
    #[serde(default)]
    pub backup_vaults: Vec<BackupVault>,
    /// DB instances that carry the provenance tag: restored copies, not sources.
    pub replica_instances: Vec<ReplicaInstance>,
    pub keys: Vec<KeyFact>,
    /// Key references that KMS answered do not exist (NotFoundException): a fact, not a read failure.
    #[serde(default)]
    pub missing_keys: Vec<KeyRef>,
    /// Where the rules' database secrets point (endpoint fields only: never the secret's value).
    #[serde(default)]
    pub secrets: Vec<SecretFact>,
    /// The manual snapshot quotas of the destination scopes that judged databases copy into
    /// (`DescribeAccountAttributes`), where a check needed them. Inventories written before this
    /// field read none: `vault-capacity` reports ERROR, never a verdict, on them.
    #[serde(default)]
    pub quotas: Vec<AccountQuotas>,
    /// The option groups of scopes where a judged DB instance uses a non-default one (older: none).
    #[serde(default)]
    pub option_groups: Vec<OptionGroupListing>,
    pub errors: Vec<AwsError>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Caller {
    pub account_id: String,
    pub arn: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Account {
    pub id: String,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Scope {
    pub account_id: String,
    pub region: String,
    /// True when every read in this scope succeeded.
    pub complete: bool,
    /// The kinds whose manual snapshots were listed here. Discovery lists them only where a judged
    /// database or its replicas can be; `evaluate --inventory` with other rules reports ERROR, never a
    /// verdict, for a database whose snapshots were not listed. Inventories written before this field
    /// listed both kinds everywhere.
    #[serde(default = "SourceKind::both")]
    pub snapshot_kinds: Vec<SourceKind>,
    /// True when the backup vaults here, and their RDS and Aurora recovery points, were listed
    /// (destination scopes whose rules count AWS Backup copies). Inventories written before this
    /// field listed none.
    #[serde(default)]
    pub backups_listed: bool,
    /// True when the Blue/Green deployments here were read (`DescribeBlueGreenDeployments`), or the
    /// region is not enabled. Discovery reads them only where a database could be judged otherwise;
    /// `evaluate --inventory` with other rules reports ERROR for a database it cannot tell apart from
    /// a green side. Inventories written before this field did not tell green sides apart: they are
    /// judged as then.
    #[serde(default = "blue_green_read_before")]
    pub blue_green_read: bool,
}

fn blue_green_read_before() -> bool {
    true
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    DbInstance,
    DbCluster,
}

impl SourceKind {
    pub fn both() -> Vec<SourceKind> {
        vec![SourceKind::DbInstance, SourceKind::DbCluster]
    }

    /// The RDS operation that lists this kind's manual snapshots.
    pub fn snapshot_list_operation(self) -> &'static str {
        match self {
            SourceKind::DbInstance => "DescribeDBSnapshots",
            SourceKind::DbCluster => "DescribeDBClusterSnapshots",
        }
    }
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::DbInstance => "db-instance",
            SourceKind::DbCluster => "db-cluster",
        }
    }
}

/// What names a database, in the inventory and in the published report alike.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Database {
    pub arn: String,
    pub kind: SourceKind,
    pub account_id: String,
    pub region: String,
    pub identifier: String,
    pub engine: String,
}

/// A database that must have a copy in the vault: an RDS DB instance (not an Aurora member) or an
/// Aurora DB cluster.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Source {
    #[serde(flatten)]
    pub db: Database,
    pub status: Option<String>,
    pub encrypted: bool,
    pub kms_key_id: Option<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// `InstanceCreateTime` / `ClusterCreateTime`: when the database was created (for `grace`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateTime<Utc>>,
    /// The ARN of the database this one replicates, for a read replica
    /// (`ReadReplicaSourceDBInstanceIdentifier`, or a cluster's `ReplicationSourceIdentifier`). Its data
    /// is its source's: not a source by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_replica_of: Option<String>,
    /// A DB instance's option group (`OptionGroupMemberships`; none for an Aurora cluster).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub option_group: Option<String>,
    /// Set when this database is the green (target) side of an RDS Blue/Green deployment that has not
    /// switched over (`DescribeBlueGreenDeployments`): a staging copy kept in sync with the blue one.
    /// Like a read replica, not a source by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub green_of: Option<GreenSide>,
}

/// A manual DB snapshot or DB cluster snapshot, in any account discovery read.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Snapshot {
    pub arn: String,
    pub kind: SourceKind,
    /// The account that owns the snapshot (the one whose API listed it as its own).
    pub account_id: String,
    pub region: String,
    pub identifier: String,
    /// `DBInstanceIdentifier` (or `DBClusterIdentifier`) of the database the data came from.
    pub source_identifier: String,
    pub status: String,
    pub encrypted: bool,
    pub kms_key_id: Option<String>,
    pub snapshot_create_time: Option<DateTime<Utc>>,
    pub original_snapshot_create_time: Option<DateTime<Utc>>,
    /// `SourceDBSnapshotIdentifier` / `SourceDBClusterSnapshotArn`: set on copies.
    pub source_snapshot_arn: Option<String>,
    pub source_region: Option<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Values of the `restore` attribute: account ids, or `all` when public. `None` when it could not be
    /// read, and for recovery points (who can reach those is the vault's access policy).
    pub shared_with: Option<Vec<String>>,
    /// Set when this is an AWS Backup recovery point, listed from its backup vault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<RecoveryPoint>,
}

impl Snapshot {
    /// The point in time of the data: when the original snapshot was taken, not when this copy was
    /// made. `OriginalSnapshotCreateTime`, else rdsguard's `rdsguard:data-time` tag, else the
    /// snapshot's own time.
    pub fn replica_time(&self) -> Option<DateTime<Utc>> {
        self.original_snapshot_create_time
            .or_else(|| {
                let tagged = self.tags.get(TAG_DATA_TIME)?;
                DateTime::parse_from_rfc3339(tagged)
                    .ok()
                    .map(|t| t.with_timezone(&Utc))
            })
            .or(self.snapshot_create_time)
    }

    /// True for what AWS Backup made: a recovery point, or the RDS view of one (its identifier starts
    /// with `awsbackup:`). Those are judged through the Backup API only, so each counts once.
    pub fn made_by_backup(&self) -> bool {
        self.backup.is_some() || self.identifier.starts_with("awsbackup:")
    }

    /// True when the replica is whole: an `available` snapshot, a `COMPLETED` recovery point.
    pub fn usable(&self) -> bool {
        match self.backup {
            Some(_) => self.status == "COMPLETED",
            None => self.status == "available",
        }
    }

    /// True when this snapshot existed at `at`: neither its data nor the snapshot itself is from
    /// later. Evidence from after an instant proves nothing about that instant, so a snapshot made
    /// after the instant judged is no replica at that instant.
    pub fn existed_at(&self, at: DateTime<Utc>) -> bool {
        self.replica_time().is_none_or(|t| t <= at)
            && self.snapshot_create_time.is_none_or(|t| t <= at)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ReplicaInstance {
    pub arn: String,
    pub account_id: String,
    pub region: String,
    pub identifier: String,
    pub status: Option<String>,
    pub endpoint: Option<String>,
    pub deletion_protection: bool,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// Where a database secret points. Only these fields are kept; the value itself is never stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct SecretFact {
    pub account_id: String,
    pub region: String,
    pub name: String,
    /// False when Secrets Manager says it does not exist.
    pub exists: bool,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub instance: Option<String>,
}

/// The code of the error for a rule's destination that is not an ACTIVE account of the organization:
/// every check of its sources is ERROR (the rule is wrong, not each database).
pub const DESTINATION_NOT_IN_ORGANIZATION: &str = "DestinationNotInOrganization";

/// The restored instances' tag naming the replica snapshot they came from.
pub use crate::tags::TAG_RESTORED_FROM;

/// One AWS error met during discovery. The audit goes on; checks that needed the data report ERROR.
/// Displayed as `OPERATION CODE in ACCOUNT/REGION: MESSAGE`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, thiserror::Error)]
#[error("{operation} {code} in {account_id}/{region}: {message}")]
pub struct AwsError {
    pub account_id: String,
    pub region: String,
    pub operation: String,
    pub code: String,
    pub message: String,
    /// The resource the call was about, when it was about one (a snapshot ARN, a key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
}

impl Inventory {
    pub fn new() -> Self {
        Inventory {
            schema: INVENTORY_SCHEMA.to_string(),
            ..Default::default()
        }
    }

    /// Records that the manual snapshots of `kinds` were listed in `scope`, with the errors met.
    pub fn record_listing(
        &mut self,
        scope: &(String, String),
        kinds: Vec<SourceKind>,
        errors: Vec<AwsError>,
    ) {
        if let Some(known) = self
            .scopes
            .iter_mut()
            .find(|s| s.account_id == scope.0 && s.region == scope.1)
        {
            known.snapshot_kinds = kinds;
        }
        self.record_errors(errors);
    }

    /// Records that the backup vaults of `scope` and their recovery points were listed, with the
    /// errors met.
    pub fn record_backups(&mut self, scope: &(String, String), errors: Vec<AwsError>) {
        if let Some(known) = self
            .scopes
            .iter_mut()
            .find(|s| s.account_id == scope.0 && s.region == scope.1)
        {
            known.backups_listed = true;
        }
        self.record_errors(errors);
    }

    /// A recovery point's data time is its `CreationDate`; where its RDS view was listed too (an
    /// Aurora point is also a manual cluster snapshot of the same ARN; a DB instance point's view is
    /// listed where a rule drills), the earlier of that and the view's own time is kept: a copy never
    /// holds data newer than what it copied. The view's restore drill evidence (its tags; AWS Backup
    /// lists none) is the point's.
    pub fn cross_check_backup_times(&mut self) {
        type View = (Option<DateTime<Utc>>, BTreeMap<String, String>);
        let views: std::collections::HashMap<String, View> = self
            .snapshots
            .iter()
            .filter(|s| s.backup.is_none() && s.made_by_backup())
            .map(|s| {
                let evidence = s
                    .tags
                    .iter()
                    .filter(|(k, _)| crate::tags::DRILL_EVIDENCE.contains(&k.as_str()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                (s.arn.clone(), (s.replica_time(), evidence))
            })
            .collect();
        for point in self.snapshots.iter_mut().filter(|s| s.backup.is_some()) {
            let Some((view_time, evidence)) = views.get(&point.arn) else {
                continue;
            };
            if let Some(view) = view_time {
                if point
                    .original_snapshot_create_time
                    .is_none_or(|t| *view < t)
                {
                    point.original_snapshot_create_time = Some(*view);
                }
            }
            point.tags.extend(evidence.clone());
        }
    }

    /// Adds errors met in discovery; each makes its scope incomplete.
    pub fn record_errors(&mut self, errors: Vec<AwsError>) {
        for error in &errors {
            if let Some(scope) = self
                .scopes
                .iter_mut()
                .find(|s| s.account_id == error.account_id && s.region == error.region)
            {
                scope.complete = false;
            }
        }
        self.errors.extend(errors);
    }

    /// Replaces what this inventory holds for the given account-region pairs with `fresh`'s reading of
    /// them (remediation re-reads the scopes it touched). Keys and accounts are merged.
    pub fn replace_scopes(&mut self, fresh: Inventory, scopes: &[(String, String)]) {
        let touched = |account: &str, region: &str| {
            scopes
                .iter()
                .any(|(a, r)| a == account && (r == region || region == "*"))
        };
        self.scopes.retain(|s| !touched(&s.account_id, &s.region));
        self.sources
            .retain(|s| !touched(&s.db.account_id, &s.db.region));
        self.snapshots
            .retain(|s| !touched(&s.account_id, &s.region));
        self.backup_vaults
            .retain(|v| !touched(&v.account_id, &v.region));
        self.replica_instances
            .retain(|s| !touched(&s.account_id, &s.region));
        self.missing_keys
            .retain(|k| !touched(&k.account_id, &k.region));
        self.secrets.retain(|k| !touched(&k.account_id, &k.region));
        self.quotas.retain(|q| !touched(&q.account_id, &q.region));
        self.option_groups
            .retain(|g| !touched(&g.account_id, &g.region));
        self.errors.retain(|e| !touched(&e.account_id, &e.region));
        self.skipped_scopes.retain(|s| {
            let (account, region) = s.split_once('/').unwrap_or((s.as_str(), ""));
            !touched(account, region)
        });
        self.skipped_scopes.extend(fresh.skipped_scopes);
        self.scopes.extend(fresh.scopes);
        self.sources.extend(fresh.sources);
        self.snapshots.extend(fresh.snapshots);
        self.backup_vaults.extend(fresh.backup_vaults);
        self.replica_instances.extend(fresh.replica_instances);
        self.missing_keys.extend(fresh.missing_keys);
        self.secrets.extend(fresh.secrets);
        self.quotas.extend(fresh.quotas);
        self.option_groups.extend(fresh.option_groups);
        self.errors.extend(fresh.errors);
        for key in fresh.keys {
            if !self
                .keys
                .iter()
                .any(|k| k.arn == key.arn && k.account_id == key.account_id)
            {
                self.keys.push(key);
            }
        }
        self.normalise();
    }

    /// Sorts every list so two inventories of the same state serialise identically.
    pub fn normalise(&mut self) {
        self.accounts.sort_by(|a, b| a.id.cmp(&b.id));
        self.accounts.dedup_by(|a, b| a.id == b.id);
        self.regions.sort();
        self.regions.dedup();
        self.scopes
            .sort_by(|a, b| (&a.account_id, &a.region).cmp(&(&b.account_id, &b.region)));
        self.sources.sort_by(|a, b| a.db.arn.cmp(&b.db.arn));
        self.snapshots.sort_by(|a, b| a.arn.cmp(&b.arn));
        self.backup_vaults.sort_by(|a, b| {
            (&a.account_id, &a.region, &a.arn).cmp(&(&b.account_id, &b.region, &b.arn))
        });
        self.replica_instances.sort_by(|a, b| a.arn.cmp(&b.arn));
        self.keys.sort_by(|a, b| a.arn.cmp(&b.arn));
        self.skipped_scopes.sort();
        self.skipped_scopes.dedup();
        self.missing_keys.sort();
        self.missing_keys.dedup();
        self.secrets.sort();
        self.secrets.dedup();
        self.quotas.sort();
        self.quotas
            .dedup_by(|a, b| a.account_id == b.account_id && a.region == b.region);
        self.option_groups.sort();
        sort_errors(&mut self.errors);
    }
}

/// Sorts errors by account, region, operation and resource, so reports diff cleanly.
pub fn sort_errors(errors: &mut [AwsError]) {
    errors.sort_by(|a, b| {
        (&a.account_id, &a.region, &a.operation, &a.resource).cmp(&(
            &b.account_id,
            &b.region,
            &b.operation,
            &b.resource,
        ))
    });
}

#[cfg(test)]
mod tests;
