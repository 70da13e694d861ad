//! [`CheckId`]: the stable id of a check, one constant per check. Outside `checks/`, code names a check
//! through these constants, never through a string literal; the published JSON still carries the id as
//! a plain string (`as_str`, `Display`), so the contract does not change.

use std::fmt;

/// A check's stable id (`replica-age`). Each check's own file makes its id ([`CheckId::new`], in its
/// `CHECK`); the constants below name, for code outside `checks/`, the ids of the registry's checks,
/// read from those files, so an id is written once.
#[derive(Copy, Clone, PartialEq, Eq, Debug, Hash, PartialOrd, Ord)]
pub struct CheckId(&'static str);

impl CheckId {
    /// A check's id, in its own file: kebab-case, the file's name with `-` for `_`.
    pub(super) const fn new(id: &'static str) -> CheckId {
        CheckId(id)
    }

    pub const REPLICA_PRESENT: CheckId = super::replica_present::CHECK.id;
    pub const REPLICA_AGE: CheckId = super::replica_age::CHECK.id;
    pub const REPLICA_ENCRYPTION: CheckId = super::replica_encryption::CHECK.id;
    pub const RETENTION_COUNT: CheckId = super::retention_count::CHECK.id;
    pub const REPLICA_CADENCE: CheckId = super::replica_cadence::CHECK.id;
    pub const SOURCE_KEY_SHAREABLE: CheckId = super::source_key_shareable::CHECK.id;
    pub const SOURCE_OPTION_GROUP_SHAREABLE: CheckId =
        super::source_option_group_shareable::CHECK.id;
    pub const SHARE_EXPOSURE: CheckId = super::share_exposure::CHECK.id;
    pub const REPLICA_IMMUTABLE: CheckId = super::replica_immutable::CHECK.id;
    pub const RESTORE_CURRENT: CheckId = super::restore_current::CHECK.id;
    pub const RESTORE_TESTED: CheckId = super::restore_tested::CHECK.id;
    pub const VAULT_CAPACITY: CheckId = super::vault_capacity::CHECK.id;

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
