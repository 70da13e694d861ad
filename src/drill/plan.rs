//! Which databases to drill, decided purely from the inventory, the rules and an instant: per governed
//! database whose rule has `drill` and whose last successful drill is older than `drill.every`, the
//! newest replica that is a manual snapshot, and every name up front.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::checks::drill_evidence;
use crate::inventory::{Inventory, SourceKind};
use crate::linkage::Index;
use crate::rules::{format_seconds, RuleSet};
use crate::tags::DRILL_PASSED;

/// One drill: restore `replica_arn` into `instance` in the destination, then delete it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub source_arn: String,
    pub identifier: String,
    pub rule: String,
    pub dest_account: String,
    pub dest_region: String,
    /// The replica restored: the newest manual snapshot replica in the destination.
    pub replica_arn: String,
    /// The drill instance's identifier (made by this drill, deleted by it).
    pub instance: String,
    pub instance_class: String,
    pub subnet_group: Option<String>,
    pub security_groups: Vec<String>,
    pub probe: Option<String>,
    pub probe_timeout_seconds: i64,
    /// The name of the secret the probe may read (a name only).
    pub secret_name: Option<String>,
    pub rto_seconds: i64,
    /// Why this database is due: its last passed drill and when, or none.
    pub why: String,
}

/// A governed database with `drill` that is not drilled this run, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    pub source_arn: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub items: Vec<Item>,
    pub skipped: Vec<Skipped>,
}

/// A drill instance's identifier: `rdsguard-drill-<id>-<UTC time>-<run>`, at most 63 characters,
/// letters, digits and single hyphens, starting with a letter (RDS's rule for instance identifiers).
pub fn instance_name(identifier: &str, now: DateTime<Utc>, run_id: &str) -> String {
    let mut id = String::new();
    for c in identifier.chars() {
        let c = if c.is_ascii_alphanumeric() {
            c.to_ascii_lowercase()
        } else {
            '-'
        };
        if !(c == '-' && (id.ends_with('-') || id.is_empty())) {
            id.push(c);
        }
    }
    id.truncate(24);
    let id = id.trim_end_matches('-');
    let run: String = run_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(8)
        .collect::<String>()
        .to_ascii_lowercase();
    format!("rdsguard-drill-{id}-{}-{run}", now.format("%Y%m%d%H%M%S")).replace("--", "-")
}

/// The plan: `only` limits it to one database ARN; `as_of` decides which drills are due.
pub fn build(
    inventory: &Inventory,
    rules: &RuleSet,
    as_of: DateTime<Utc>,
    only: Option<&str>,
    run_id: &str,
) -> Plan {
    let index = Index::new(inventory);
    let today = as_of.date_naive();
    let mut plan = Plan {
        items: Vec::new(),
        skipped: Vec::new(),
    };
    let mut sources: Vec<_> = inventory.sources.iter().collect();
    sources.sort_by(|a, b| a.arn.cmp(&b.arn));
    for source in sources {
        if only.is_some_and(|arn| arn != source.arn) {
            continue;
        }
        let Some(rule) = rules.judging_rule(source, today) else {
            continue;
        };
        let Some(drill) = &rule.drill else {
            continue;
        };
        let mut skip = |reason: String| {
            plan.skipped.push(Skipped {
                source_arn: source.arn.clone(),
                reason,
            })
        };
        if source.kind == SourceKind::DbCluster {
            skip("an Aurora cluster: drills restore DB instances only in this version".into());
            continue;
        }
        let dest_account = rule.destination.account.as_str();
        let dest_region = rule.destination.region_for(&source.region);
        let unread = index.snapshot_read_errors(dest_account, dest_region, source.kind);
        if let Some(error) = unread.first() {
            skip(format!(
                "the destination {dest_account}/{dest_region} could not be read: {} on {}",
                error.code, error.operation
            ));
            continue;
        }
        let replicas = index.replicas(source, &rule.destination, dest_region);
        let last_pass = replicas
            .iter()
            .filter_map(|r| drill_evidence(r))
            .filter(|e| e.result == DRILL_PASSED && e.at <= as_of)
            .filter(|e| e.restore_seconds.is_some_and(|s| s <= drill.rto.seconds))
            .map(|e| e.at)
            .max();
        if let Some(at) = last_pass {
            let age = (as_of - at).num_seconds().max(0);
            if age <= drill.every.seconds {
                skip(format!(
                    "not due: the last passed drill was {} ago (drill.every = {})",
                    format_seconds(age),
                    drill.every
                ));
                continue;
            }
        }
        let manual = replicas
            .iter()
            .find(|r| r.backup.is_none() && !r.made_by_backup());
        let Some(replica) = manual else {
            skip(if replicas.is_empty() {
                format!("no replica in {dest_account}/{dest_region} to drill")
            } else {
                "only AWS Backup recovery points: drills restore manual snapshots only in this version".into()
            });
            continue;
        };
        let why = match last_pass {
            Some(at) => format!(
                "last passed drill {} ago (drill.every = {})",
                format_seconds((as_of - at).num_seconds().max(0)),
                drill.every
            ),
            None => "no passed drill within the RTO yet".to_string(),
        };
        let why = match replicas.first() {
            Some(newest) if newest.arn != replica.arn => {
                format!("{why}; the newest replica is an AWS Backup recovery point, so the newest manual snapshot is drilled")
            }
            _ => why,
        };
        plan.items.push(Item {
            source_arn: source.arn.clone(),
            identifier: source.identifier.clone(),
            rule: rule.id.clone(),
            dest_account: dest_account.to_string(),
            dest_region: dest_region.to_string(),
            replica_arn: replica.arn.clone(),
            instance: instance_name(&source.identifier, as_of, run_id),
            instance_class: drill.instance_class.clone(),
            subnet_group: drill.subnet_group.clone(),
            security_groups: drill.security_groups.clone(),
            probe: drill.probe.clone(),
            probe_timeout_seconds: drill.probe_timeout.seconds,
            secret_name: drill.secret_for(source),
            rto_seconds: drill.rto.seconds,
            why,
        });
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::fixtures::{as_of, Org, PROD, VAULT};
    use crate::tags::{TAG_DRILL_AT, TAG_DRILL_RESTORE_SECONDS, TAG_DRILL_RESULT};

    fn rules(extra: &str) -> RuleSet {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("rules.toml");
        std::fs::write(
            &path,
            format!("[[rule]]\nid = \"prod\"\nselect = {{ tags = {{ env = \"prod\" }} }}\ndestination = {{ account = \"{VAULT}\" }}\nmax_age = \"26h\"\n{extra}"),
        )
        .expect("write");
        crate::rules::load(&[path]).expect("rules")
    }

    const DRILL: &str = "drill = { every = \"30d\", rto = \"2h\", instance_class = \"db.t3.micro\", secret = \"rds/{identifier}\" }";

    #[test]
    fn drills_the_newest_replica_of_a_due_database_only() {
        let mut org = Org::new();
        let orders = org.source(PROD, "orders");
        let billing = org.source(PROD, "billing");
        let lonely = org.source(PROD, "lonely");
        org.tagged_replica("orders-old", &orders, 48);
        org.tagged_replica("orders-new", &orders, 2);
        let drilled = org.tagged_replica("billing-1", &billing, 30);
        drilled.tags.insert(
            TAG_DRILL_AT.into(),
            (as_of() - chrono::Duration::days(2)).to_rfc3339(),
        );
        drilled
            .tags
            .insert(TAG_DRILL_RESTORE_SECONDS.into(), "600".into());
        drilled
            .tags
            .insert(TAG_DRILL_RESULT.into(), "passed".into());
        let _ = lonely;
        let plan = build(&org.inventory, &rules(DRILL), as_of(), None, "abcd-1234-ef");
        assert_eq!(plan.items.len(), 1, "{plan:?}");
        let item = &plan.items[0];
        assert!(item.replica_arn.ends_with(":snapshot:orders-new"));
        assert_eq!(item.dest_account, VAULT);
        assert_eq!(
            item.instance,
            "rdsguard-drill-orders-20261124120000-abcd1234"
        );
        assert_eq!(item.secret_name.as_deref(), Some("rds/orders"));
        assert_eq!(item.rto_seconds, 7_200);
        let reasons: Vec<&str> = plan.skipped.iter().map(|s| s.reason.as_str()).collect();
        assert_eq!(plan.skipped.len(), 2, "{reasons:?}");
        assert!(reasons
            .iter()
            .any(|r| r.starts_with("not due: the last passed drill was 2d ago")));
        assert!(reasons.iter().any(|r| r.starts_with("no replica in")));

        // --only, and no drill without the rule's table.
        let only = build(
            &org.inventory,
            &rules(DRILL),
            as_of(),
            Some(&billing.arn),
            "r",
        );
        assert!(only.items.is_empty() && only.skipped.len() == 1);
        let none = build(&org.inventory, &rules(""), as_of(), None, "r");
        assert!(none.items.is_empty() && none.skipped.is_empty());
    }

    #[test]
    fn a_slow_or_failed_last_drill_leaves_the_database_due() {
        let mut org = Org::new();
        let orders = org.source(PROD, "orders");
        let replica = org.tagged_replica("orders-1", &orders, 30);
        replica.tags.insert(
            TAG_DRILL_AT.into(),
            (as_of() - chrono::Duration::days(1)).to_rfc3339(),
        );
        replica
            .tags
            .insert(TAG_DRILL_RESTORE_SECONDS.into(), "9000".into());
        replica
            .tags
            .insert(TAG_DRILL_RESULT.into(), "passed".into());
        let plan = build(&org.inventory, &rules(DRILL), as_of(), None, "r");
        assert_eq!(plan.items.len(), 1);
    }

    #[test]
    fn instance_names_are_valid_rds_identifiers() {
        let name = instance_name("A_very--long.Identifier-of-a-database-x", as_of(), "Ff-00");
        assert!(name.len() <= 63, "{name}");
        assert!(!name.contains("--"), "{name}");
        assert!(name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
    }
}
