//! [`CheckId`]: the stable id of a check, one constant per check. Outside `checks/`, code names a check
//! through these constants, never through a string literal; the published JSON still carries the id as
//! a plain string (`as_str`, `Display`), so the contract does not change.

use std::fmt;

/// A check's stable id (`replica-age`). Only this module makes one: the constants below are all there
/// is, in registry order.
#[derive(Copy, Clone, PartialEq, Eq, Debug, Hash, PartialOrd, Ord)]
pub struct CheckId(&'static str);

impl CheckId {
    pub const REPLICA_PRESENT: CheckId = CheckId("replica-present");
    pub const REPLICA_AGE: CheckId = CheckId("replica-age");
    pub const REPLICA_ENCRYPTION: CheckId = CheckId("replica-encryption");
    pub const RETENTION_COUNT: CheckId = CheckId("retention-count");
    pub const REPLICA_CADENCE: CheckId = CheckId("replica-cadence");
    pub const SOURCE_KEY_SHAREABLE: CheckId = CheckId("source-key-shareable");
    pub const SHARE_EXPOSURE: CheckId = CheckId("share-exposure");
    pub const RESTORE_CURRENT: CheckId = CheckId("restore-current");

    /// The id as it appears in the JSON report, docs/checks.md and Security Hub's `GeneratorId`.
    pub const fn as_str(self) -> &'static str {
        self.0
    }
}

impl fmt::Display for CheckId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl AsRef<str> for CheckId {
    fn as_ref(&self) -> &str {
        self.0
    }
}

/// A check id read back as a string (a report's `checks[].id`) compares with a [`CheckId`].
impl PartialEq<CheckId> for String {
    fn eq(&self, other: &CheckId) -> bool {
        self == other.0
    }
}

impl PartialEq<CheckId> for str {
    fn eq(&self, other: &CheckId) -> bool {
        self == other.0
    }
}

impl PartialEq<CheckId> for &str {
    fn eq(&self, other: &CheckId) -> bool {
        *self == other.0
    }
}

impl PartialEq<str> for CheckId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for CheckId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for CheckId {
    fn eq(&self, other: &String) -> bool {
        self.0 == other
    }
}

#[cfg(test)]
mod tests {
    use super::CheckId;
    use crate::checks::{by_id, REGISTRY};

    #[test]
    fn registry_ids_are_unique_and_compare_with_their_strings() {
        let mut ids: Vec<CheckId> = REGISTRY.iter().map(|c| c.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), REGISTRY.len());
        for check in REGISTRY {
            let text = check.id.to_string();
            assert_eq!(text, check.id.as_str());
            assert_eq!(text, check.id);
            assert_eq!(check.id, text);
            assert_eq!(text.as_str(), check.id);
            assert_eq!(by_id(&text).map(|c| c.id), Some(check.id));
        }
        assert_eq!(CheckId::REPLICA_AGE.as_str(), "replica-age");
    }
}
