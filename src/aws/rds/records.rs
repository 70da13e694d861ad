//! The SDK's two kinds of each RDS record as one set of fields: a DB snapshot or a DB cluster snapshot
//! ([`SnapshotFields`]), a DB instance or a DB cluster ([`DatabaseFields`]). A `From` says only which of
//! the SDK's accessors holds a field; what is made of the fields (`read`'s inventory entries, `write`'s
//! `Found` and `Instance`) is written once, for both kinds.

use aws_sdk_rds::primitives::DateTime;
use aws_sdk_rds::types::{DbCluster, DbClusterSnapshot, DbInstance, DbSnapshot, Tag};

use super::{tags, time};
use crate::inventory::{Snapshot, SourceKind};

/// What names an RDS record of either kind: its kind, the resource type in its ARN, its identifier
/// and its ARN.
pub(super) struct Named<'a> {
    pub kind: SourceKind,
    /// The resource type in the record's ARN (`db`, `cluster`, `snapshot`, `cluster-snapshot`).
    pub arn_type: &'static str,
    pub identifier: Option<&'a str>,
    pub arn: Option<&'a str>,
}

impl Named<'_> {
    pub fn identifier(&self) -> String {
        self.identifier.unwrap_or_default().to_string()
    }

    /// The record's ARN, else the one RDS would give it in `region` of `account_id`.
    pub fn arn_in(&self, region: &str, account_id: &str) -> String {
        self.arn.map(str::to_string).unwrap_or_else(|| {
            let (kind, identifier) = (self.arn_type, self.identifier());
            format!("arn:aws:rds:{region}:{account_id}:{kind}:{identifier}")
        })
    }
}

/// What rdsguard reads of a DB snapshot or a DB cluster snapshot.
pub(super) struct SnapshotFields<'a> {
    pub name: Named<'a>,
    /// The database the data came from.
    pub source_identifier: Option<&'a str>,
    pub status: Option<&'a str>,
    pub encrypted: Option<bool>,
    pub kms_key_id: Option<&'a str>,
    pub created: Option<&'a DateTime>,
    /// When the original snapshot was taken, for a copy (cluster snapshots carry none).
    pub original_created: Option<&'a DateTime>,
    /// The snapshot this one is a copy of.
    pub copy_of: Option<&'a str>,
    pub source_region: Option<&'a str>,
    pub tags: &'a [Tag],
}

impl<'a> From<&'a DbSnapshot> for SnapshotFields<'a> {
    fn from(s: &'a DbSnapshot) -> Self {
        SnapshotFields {
            name: Named {
                kind: SourceKind::DbInstance,
                arn_type: "snapshot",
                identifier: s.db_snapshot_identifier(),
                arn: s.db_snapshot_arn(),
            },
            source_identifier: s.db_instance_identifier(),
            status: s.status(),
            encrypted: s.encrypted(),
            kms_key_id: s.kms_key_id(),
            created: s.snapshot_create_time(),
            original_created: s.original_snapshot_create_time(),
            copy_of: s.source_db_snapshot_identifier(),
            source_region: s.source_region(),
            tags: s.tag_list(),
        }
    }
}

impl<'a> From<&'a DbClusterSnapshot> for SnapshotFields<'a> {
    fn from(s: &'a DbClusterSnapshot) -> Self {
        SnapshotFields {
            name: Named {
                kind: SourceKind::DbCluster,
                arn_type: "cluster-snapshot",
                identifier: s.db_cluster_snapshot_identifier(),
                arn: s.db_cluster_snapshot_arn(),
            },
            source_identifier: s.db_cluster_identifier(),
            status: s.status(),
            encrypted: s.storage_encrypted(),
            kms_key_id: s.kms_key_id(),
            created: s.snapshot_create_time(),
            original_created: None,
            copy_of: s.source_db_cluster_snapshot_arn(),
            source_region: None,
            tags: s.tag_list(),
        }
    }
}

impl SnapshotFields<'_> {
    /// The inventory's entry for the snapshot, listed in `account_id`, `region`, without its sharing.
    pub fn snapshot(&self, account_id: &str, region: &str) -> Snapshot {
        Snapshot {
            arn: self.name.arn_in(region, account_id),
            kind: self.name.kind,
            account_id: account_id.to_string(),
            region: region.to_string(),
            identifier: self.name.identifier(),
            source_identifier: self.source_identifier.unwrap_or_default().to_string(),
            status: self.status.unwrap_or_default().to_string(),
            encrypted: self.encrypted.unwrap_or(false),
            kms_key_id: self.kms_key_id.map(str::to_string),
            snapshot_create_time: time(self.created),
            original_snapshot_create_time: time(self.original_created),
            source_snapshot_arn: self.copy_of.map(str::to_string),
            source_region: self.source_region.map(str::to_string),
            tags: tags(self.tags),
            shared_with: None,
            backup: None,
        }
    }
}

/// What rdsguard reads of a DB instance or a DB cluster.
pub(super) struct DatabaseFields<'a> {
    pub name: Named<'a>,
    pub status: Option<&'a str>,
    /// The address clients connect to (a cluster's writer endpoint).
    pub host: Option<&'a str>,
    pub port: Option<i32>,
    pub deletion_protection: Option<bool>,
    pub engine: Option<&'a str>,
    pub encrypted: Option<bool>,
    pub kms_key_id: Option<&'a str>,
    pub created: Option<&'a DateTime>,
    pub tags: &'a [Tag],
    /// A member of an Aurora cluster (the cluster is the source, not its members).
    pub in_cluster: bool,
    /// The database this one replicates: an instance's identifier or ARN, a cluster's ARN.
    pub replica_of: Option<&'a str>,
    /// A DB instance's option group: its membership that is not on its way out.
    pub option_group: Option<&'a str>,
}

impl<'a> From<&'a DbInstance> for DatabaseFields<'a> {
    fn from(db: &'a DbInstance) -> Self {
        DatabaseFields {
            name: Named {
                kind: SourceKind::DbInstance,
                arn_type: "db",
                identifier: db.db_instance_identifier(),
                arn: db.db_instance_arn(),
            },
            status: db.db_instance_status(),
            host: db.endpoint().and_then(|e| e.address()),
            port: db.endpoint().and_then(|e| e.port()),
            deletion_protection: db.deletion_protection(),
            engine: db.engine(),
            encrypted: db.storage_encrypted(),
            kms_key_id: db.kms_key_id(),
            created: db.instance_create_time(),
            tags: db.tag_list(),
            in_cluster: db.db_cluster_identifier().is_some(),
            replica_of: db.read_replica_source_db_instance_identifier(),
            option_group: db
                .option_group_memberships()
                .iter()
                .find(|m| !matches!(m.status(), Some(s) if s.contains("remov")))
                .and_then(|m| m.option_group_name()),
        }
    }
}

impl<'a> From<&'a DbCluster> for DatabaseFields<'a> {
    fn from(cluster: &'a DbCluster) -> Self {
        DatabaseFields {
            name: Named {
                kind: SourceKind::DbCluster,
                arn_type: "cluster",
                identifier: cluster.db_cluster_identifier(),
                arn: cluster.db_cluster_arn(),
            },
            status: cluster.status(),
            host: cluster.endpoint(),
            port: cluster.port(),
            deletion_protection: cluster.deletion_protection(),
            engine: cluster.engine(),
            encrypted: cluster.storage_encrypted(),
            kms_key_id: cluster.kms_key_id(),
            created: cluster.cluster_create_time(),
            tags: cluster.tag_list(),
            in_cluster: false,
            replica_of: cluster.replication_source_identifier(),
            option_group: None,
        }
    }
}

impl DatabaseFields<'_> {
    /// The ARN of the database this one replicates, in `region` of `account_id`: in-region instance
    /// replicas name their source by identifier, cross-region ones (and clusters) by ARN.
    pub fn replica_of_arn(&self, region: &str, account_id: &str) -> Option<String> {
        let source = self.replica_of?;
        Some(match self.name.kind {
            SourceKind::DbInstance if !source.starts_with("arn:") => {
                format!("arn:aws:rds:{region}:{account_id}:db:{source}")
            }
            _ => source.to_string(),
        })
    }
}
