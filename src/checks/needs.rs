//! What a check reads from the inventory, declared next to the check (`Check::needs`), so that
//! discovery plans its reads from the registry instead of knowing each check by heart
//! (`crate::discover::plan`). Every database a rule judges is read (with the instances restored in
//! its scope) whatever the checks need: a [`Fact`] names what is read beyond that.

use std::collections::BTreeSet;

use super::Check;
use crate::rules::Rule;

/// One kind of fact a check looks at for a judged database. What each fact costs in calls, and when
/// it costs nothing, is the planner's business (`discover::plan`), not the check's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fact {
    /// The copies in the rule's destination account (in every walked region and the rule's named
    /// destination region): its manual snapshots of both kinds and, where the rule counts AWS Backup
    /// copies, its backup vaults (own and shared in) and their RDS and Aurora recovery points. Which
    /// are the database's replicas, and the newest.
    ReplicaSnapshots,
    /// Who each replica is shared with (their `restore` attribute).
    ReplicaShares,
    /// The database's own manual snapshots, in its account and region (of its kind).
    OwnSnapshots,
    /// Who each of the database's own snapshots is shared with.
    OwnSnapshotShares,
    /// The database's own KMS key, when it is encrypted, with the key policy.
    SourceKey,
    /// The rule's `source_kms_key` in the database's account and region, with the key policy: only
    /// when the database is unencrypted, or its own key turns out to be AWS managed.
    SourceKmsKey,
    /// The options of the database's option group (each with `Persistent` and `Permanent`), when it
    /// is a DB instance whose group is not a default one: its account-region's option groups.
    SourceOptionGroup,
    /// The rule's pinned `destination.kms_key`, in the destination.
    PinnedDestinationKey,
    /// The key of the newest replica, in the destination.
    NewestReplicaKey,
    /// The restore drill evidence on the recovery points among the replicas: the tags of their RDS
    /// view (the RDS snapshot a recovery point of a standard vault is). Where the rule counts AWS
    /// Backup copies, one listing per destination account-region of the DB snapshots AWS Backup
    /// manages (`DescribeDBSnapshots`, `SnapshotType=awsbackup`); an Aurora point's view comes with
    /// the manual cluster snapshots.
    ReplicaDrillEvidence,
    /// The access policy of each backup vault holding a recovery point of the database, read in the
    /// vault's owner account.
    VaultPolicies,
    /// The instances restored in the destination (listed with every scope's databases: no read of
    /// its own).
    RestoredInstances,
    /// Where the rule's `restore.secret` points, in the destination.
    RestoreSecret,
    /// The manual snapshot quotas (`DescribeAccountAttributes`: used and max) of the destination
    /// account-region the rule copies the database into: one read per such scope.
    DestinationQuotas,
}

impl Fact {
    /// True when the fact can only be known from the destination's snapshot list (the replicas).
    pub fn about_replicas(self) -> bool {
        matches!(
            self,
            Fact::ReplicaSnapshots
                | Fact::ReplicaShares
                | Fact::ReplicaDrillEvidence
                | Fact::NewestReplicaKey
                | Fact::VaultPolicies
        )
    }
}

/// What the `checks` read for a database judged under `rule`: the union of their declared needs.
pub fn facts(checks: &[Check], rule: &Rule) -> BTreeSet<Fact> {
    checks
        .iter()
        .flat_map(|check| (check.needs)(rule).iter().copied())
        .collect()
}
