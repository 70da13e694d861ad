//! What discovery reads of the option groups that judged DB instances use (`DescribeOptionGroups`),
//! for `source-option-group-shareable` and remediation's copies.
//!
//! AWS refuses to share a DB snapshot "that uses an option group with permanent or persistent
//! options, except for Oracle DB instances that have the `Timezone` or `OLS` option (or both)"; to
//! copy such an Oracle snapshot, the copy names a target option group that includes these options
//! (RDS User Guide, "Sharing a DB snapshot for Amazon RDS").

use serde::{Deserialize, Serialize};

/// The RDS operation that lists an account-region's option groups.
pub const OPTION_GROUPS_OPERATION: &str = "DescribeOptionGroups";

/// The options of an Oracle option group that do not stop a snapshot from being shared, though they
/// are persistent and permanent.
pub const ORACLE_SHAREABLE_OPTIONS: [&str; 2] = ["Timezone", "OLS"];

/// True for an engine's default option group (`default:mysql-8-0`): it holds no options.
pub fn is_default_option_group(name: &str) -> bool {
    name.starts_with("default:")
}

/// Every option group of one account-region, as `DescribeOptionGroups` listed them: the listing's
/// presence says they were read there.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct OptionGroupListing {
    pub account_id: String,
    pub region: String,
    pub groups: Vec<OptionGroup>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct OptionGroup {
    pub name: String,
    #[serde(default)]
    pub engine: Option<String>,
    pub options: Vec<GroupOption>,
}

/// One option of a group: `Persistent` (the group cannot be removed from an instance) and
/// `Permanent` (the option cannot be removed from the group).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct GroupOption {
    pub name: String,
    pub persistent: bool,
    pub permanent: bool,
}

impl GroupOption {
    fn sticks(&self) -> bool {
        self.persistent || self.permanent
    }

    /// "TDE (persistent)", "Timezone (persistent, permanent)".
    pub fn describe(&self) -> String {
        let kinds: Vec<&str> = [
            (self.persistent, "persistent"),
            (self.permanent, "permanent"),
        ]
        .into_iter()
        .filter_map(|(yes, kind)| yes.then_some(kind))
        .collect();
        format!("{} ({})", self.name, kinds.join(", "))
    }
}

impl OptionGroup {
    fn oracle(&self, engine: &str) -> bool {
        self.engine
            .as_deref()
            .unwrap_or(engine)
            .starts_with("oracle")
    }

    /// The persistent or permanent options that stop a snapshot of a database of `engine` in this
    /// group from being shared (all of them, but an Oracle group's `Timezone` and `OLS`).
    pub fn unshareable(&self, engine: &str) -> Vec<&GroupOption> {
        let oracle = self.oracle(engine);
        self.options
            .iter()
            .filter(|o| o.sticks())
            .filter(|o| !(oracle && ORACLE_SHAREABLE_OPTIONS.contains(&o.name.as_str())))
            .collect()
    }

    /// The persistent or permanent options AWS lets a snapshot of an Oracle database share, for which
    /// the copy must name a target option group that includes them.
    pub fn carried_on_copy(&self, engine: &str) -> Vec<&GroupOption> {
        if !self.oracle(engine) {
            return Vec::new();
        }
        self.options
            .iter()
            .filter(|o| o.sticks() && ORACLE_SHAREABLE_OPTIONS.contains(&o.name.as_str()))
            .collect()
    }
}
