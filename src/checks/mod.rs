//! The checks: pure functions over the inventory, one module per stable check id (DESIGN §4).
//!
//! Every check gets the same [`Ctx`] (one source, its rule, its linked replicas) and returns an
//! [`Outcome`]. [`REGISTRY`] lists them all, in order; the id is the module name in kebab-case, the
//! JSON `id`, the section in docs/checks.md and (later) the Security Hub `GeneratorId`.

mod id;
mod needs;
mod replica_age;
mod replica_cadence;
mod replica_encryption;
mod replica_immutable;
mod replica_present;
mod restore_current;
pub mod restore_tested;
mod retention_count;
mod share_exposure;
mod source_key_shareable;
mod source_option_group_shareable;
mod vault_capacity;
mod vault_policy;

pub use id::CheckId;
pub use needs::{facts, Fact};
pub use replica_encryption::is_aws_managed;
pub use restore_tested::{evidence as drill_evidence, last_drill, Evidence as DrillEvidence};
/// What a source key's policy must grant the vault (`source-key-shareable`; `setup` writes it).
pub use source_key_shareable::REQUIRED_ACTIONS as SOURCE_KEY_ACTIONS;
pub use vault_capacity::Capacity;

use chrono::{DateTime, Utc};

use crate::inventory::{AwsError, Snapshot, Source};
use crate::linkage::Index;
use crate::report::CheckStatus;
use crate::rules::Rule;

/// Everything a check may look at for one governed source.
pub struct Ctx<'a> {
    pub index: &'a Index<'a>,
    pub source: &'a Source,
    pub rule: &'a Rule,
    pub dest_account: &'a str,
    pub dest_region: &'a str,
    /// Replicas in the destination that existed at `as_of`, newest data first.
    pub replicas: &'a [&'a Snapshot],
    /// Replicas made after `as_of`, when the inventory was read after it: left out, since they did
    /// not exist at the instant judged.
    pub later: &'a [&'a Snapshot],
    /// `as_of` when the inventory was read after it (what is newer did not exist then), else `None`.
    pub cutoff: Option<DateTime<Utc>>,
    /// Why the destination's snapshots are unknown, if they are.
    pub dest_errors: &'a [AwsError],
    pub as_of: DateTime<Utc>,
    /// What the rules keep in each destination, for the quotas (`vault-capacity`).
    pub capacity: &'a Capacity,
}

impl Ctx<'_> {
    /// `account/region`, as the destination is named in messages.
    pub fn destination(&self) -> String {
        format!("{}/{}", self.dest_account, self.dest_region)
    }

    /// Why fewer replicas are judged than the destination holds now, for messages: `""` when none
    /// were left out.
    pub fn left_out(&self) -> String {
        match self.later.len() {
            0 => String::new(),
            n => format!(
                " ({n} later snapshot(s) left out: made after {}, so not a replica then)",
                self.as_of
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        }
    }

    /// What counts as a replica under the rule, for messages: "snapshot", "recovery point", or both.
    pub fn copy_kinds(&self) -> &'static str {
        let kinds = self.rule.destination.replicas;
        match (kinds.snapshot, kinds.backup) {
            (true, true) => "snapshot or recovery point",
            (false, true) => "recovery point",
            _ => "snapshot",
        }
    }

    /// Why the replica checks do not judge this source yet, if so: it was created less than the rule's
    /// `grace` before `as_of` and has no replica yet (its first copy could not exist). A replica that
    /// exists is always judged.
    pub fn in_grace(&self) -> Option<String> {
        if !self.replicas.is_empty() {
            return None;
        }
        let created = self.source.created_at?;
        let age = (self.as_of - created).num_seconds().max(0);
        (age < self.rule.grace.seconds).then(|| {
            format!(
                "created {} ago, within the {} grace: no replica is expected yet",
                crate::rules::format_seconds(age),
                self.rule.grace
            )
        })
    }

    /// The error that kept `operation` from being read in `account`/`region` (or the account from
    /// being entered at all), if any.
    pub fn read_error(&self, account: &str, region: &str, operation: &str) -> Option<&AwsError> {
        self.index.inventory.errors.iter().find(|e| {
            e.account_id == account
                && (e.region == "*" || (e.region == region && e.operation == operation))
        })
    }

    /// An ERROR outcome when the destination could not be read, for the checks that need it.
    pub fn unreadable_destination(&self, expected: &str) -> Option<Outcome> {
        let first = self.dest_errors.first()?;
        Some(Outcome::error(
            expected,
            format!(
                "could not read the destination {}: {} on {}: {}",
                self.destination(),
                first.code,
                first.operation,
                first.message
            ),
        ))
    }
}

/// A check's verdict, before the registry attaches its id and the rule's severity.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub status: CheckStatus,
    pub observed: String,
    pub expected: String,
    pub message: String,
}

impl Outcome {
    fn new(
        status: CheckStatus,
        observed: impl Into<String>,
        expected: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Outcome {
            status,
            observed: observed.into(),
            expected: expected.into(),
            message: message.into(),
        }
    }
    pub fn pass(
        observed: impl Into<String>,
        expected: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(CheckStatus::Pass, observed, expected, message)
    }
    pub fn fail(
        observed: impl Into<String>,
        expected: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(CheckStatus::Fail, observed, expected, message)
    }
    pub fn skip(expected: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(CheckStatus::Skip, "-", expected, message)
    }
    pub fn error(expected: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(CheckStatus::Error, "unknown", expected, message)
    }
}

#[derive(Clone, Copy)]
pub struct Check {
    pub id: CheckId,
    /// One line for listings and report headers.
    pub title: &'static str,
    /// What a FAIL means, as a finding title (Security Hub, summaries).
    pub failure: &'static str,
    /// How to fix a FAIL, in one paragraph (Security Hub's remediation text; docs/checks.md has more).
    pub remediation: &'static str,
    /// The facts `run` reads for a database judged under the rule, beyond the database itself: what
    /// discovery reads for it ([`Fact`]). Empty when the check does not apply to the rule.
    pub needs: fn(&Rule) -> &'static [Fact],
    pub run: fn(&Ctx<'_>) -> Option<Outcome>,
}

/// Every check, in evaluation order. A check returns `None` when it does not apply to the rule (and
/// then needs nothing). Discovery reads what these checks need, and nothing else.
pub const REGISTRY: &[Check] = &[
    replica_present::CHECK,
    replica_age::CHECK,
    replica_encryption::CHECK,
    retention_count::CHECK,
    replica_cadence::CHECK,
    source_key_shareable::CHECK,
    source_option_group_shareable::CHECK,
    share_exposure::CHECK,
    replica_immutable::CHECK,
    restore_current::CHECK,
    restore_tested::CHECK,
    vault_capacity::CHECK,
];

/// The registry entry of a check id read as a string (from a published report).
pub fn by_id(id: &str) -> Option<&'static Check> {
    REGISTRY.iter().find(|c| c.id == id)
}

#[cfg(test)]
mod backup_tests;
#[cfg(test)]
mod capacity_tests;
#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
mod option_group_tests;
#[cfg(test)]
mod tests;
