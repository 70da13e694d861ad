//! What discovery reads of a destination's manual snapshot quotas (`DescribeAccountAttributes`), for
//! the `vault-capacity` check and remediation's refusals.

use serde::{Deserialize, Serialize};

use super::SourceKind;

/// The RDS operation that reads an account-region's quotas.
pub const QUOTAS_OPERATION: &str = "DescribeAccountAttributes";

/// What `DescribeAccountAttributes` says of one account-region's manual snapshot quotas (AWS's
/// `AccountQuotas` named `ManualSnapshots` and `ManualClusterSnapshots`). A quota AWS did not list is
/// `None`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct AccountQuotas {
    pub account_id: String,
    pub region: String,
    /// `ManualSnapshots`: manual DB snapshots (DB instances).
    pub manual_snapshots: Option<Quota>,
    /// `ManualClusterSnapshots`: manual DB cluster snapshots (Aurora).
    pub manual_cluster_snapshots: Option<Quota>,
}

impl AccountQuotas {
    /// The quota that the manual snapshots of `kind` count against.
    pub fn for_kind(&self, kind: SourceKind) -> Option<Quota> {
        match kind {
            SourceKind::DbInstance => self.manual_snapshots,
            SourceKind::DbCluster => self.manual_cluster_snapshots,
        }
    }
}

/// One quota: how much is used now, and the most the account-region may have.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Quota {
    pub used: i64,
    pub max: i64,
}

impl SourceKind {
    /// AWS's name of the quota this kind's manual snapshots count against.
    pub fn quota_name(self) -> &'static str {
        match self {
            SourceKind::DbInstance => "ManualSnapshots",
            SourceKind::DbCluster => "ManualClusterSnapshots",
        }
    }

    /// What the quota counts, for messages.
    pub fn quota_noun(self) -> &'static str {
        match self {
            SourceKind::DbInstance => "manual DB snapshots",
            SourceKind::DbCluster => "manual DB cluster snapshots",
        }
    }
}
