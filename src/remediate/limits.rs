//! AWS's limits that bound what remediation may have under way at once, and the slots that hold the
//! in-process executor under them.
//!
//! - Cross-region snapshot copies in progress: "up to 20 snapshot copy requests in progress to a
//!   single destination Region per account" for DB snapshots, "up to five" for DB cluster snapshots
//!   (RDS User Guide, "Copying a DB snapshot for Amazon RDS"; Aurora User Guide, "DB cluster snapshot
//!   copying"). A copy past them is refused (`SnapshotQuotaExceeded`), so the executor queues it.
//! - Accounts a manual snapshot is shared with: "up to 20 other AWS accounts" ("Sharing a DB
//!   snapshot"); past it `ModifyDBSnapshotAttribute` answers `SharedSnapshotQuotaExceeded`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::inventory::SourceKind;

/// The accounts one manual snapshot may be shared with.
pub const SHARED_ACCOUNTS: usize = 20;

/// Cross-region copies of snapshots of `kind` one account may have in progress into one region.
pub fn cross_region_copies(kind: SourceKind) -> usize {
    match kind {
        SourceKind::DbInstance => 20,
        SourceKind::DbCluster => 5,
    }
}

/// Where a cross-region copy lands: the destination account and region, and the kind of snapshot.
pub type CopyTarget = (String, String, SourceKind);

/// One semaphore per [`CopyTarget`], with [`cross_region_copies`] permits: a copy holds one from its
/// `CopyDBSnapshot` until the copy is available.
#[derive(Default)]
pub struct CopySlots {
    slots: Mutex<BTreeMap<CopyTarget, Arc<Semaphore>>>,
}

/// A copy's place, held until it is dropped.
pub struct Slot(#[allow(dead_code)] OwnedSemaphorePermit);

impl CopySlots {
    fn semaphore(&self, target: &CopyTarget) -> Arc<Semaphore> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots
            .entry(target.clone())
            .or_insert_with(|| Arc::new(Semaphore::new(cross_region_copies(target.2))))
            .clone()
    }

    /// A place for a copy into `target` at once, or `None` when every place is taken.
    pub fn try_take(&self, target: &CopyTarget) -> Option<Slot> {
        self.semaphore(target).try_acquire_owned().ok().map(Slot)
    }

    /// A place for a copy into `target`, waiting until one is free (copies are served in order).
    /// `None` only if the semaphore were closed, which nothing does.
    pub async fn take(&self, target: &CopyTarget) -> Option<Slot> {
        self.semaphore(target).acquire_owned().await.ok().map(Slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_limit_is_per_target_and_a_freed_place_is_taken_by_the_next() {
        let slots = CopySlots::default();
        let eu = (
            "222".to_string(),
            "eu-west-1".to_string(),
            SourceKind::DbCluster,
        );
        let held: Vec<Slot> = (0..5)
            .map(|_| slots.try_take(&eu).expect("a place"))
            .collect();
        assert!(
            slots.try_take(&eu).is_none(),
            "a sixth cluster copy must wait"
        );
        // Another account, region or kind has its own places.
        let other = (
            "333".to_string(),
            "eu-west-1".to_string(),
            SourceKind::DbCluster,
        );
        assert!(slots.try_take(&other).is_some());
        let db = (
            "222".to_string(),
            "eu-west-1".to_string(),
            SourceKind::DbInstance,
        );
        let db_held: Vec<Slot> = (0..20)
            .map(|_| slots.try_take(&db).expect("a place"))
            .collect();
        assert!(
            slots.try_take(&db).is_none(),
            "a 21st DB snapshot copy must wait"
        );
        drop(held.into_iter().next());
        let next = tokio::time::timeout(std::time::Duration::from_secs(1), slots.take(&eu)).await;
        assert!(next.is_ok(), "a freed place goes to the waiting copy");
        drop(db_held);
    }
}
