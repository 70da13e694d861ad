//! `source-option-group-shareable` tests (issue 17): a database whose option group has persistent or
//! permanent options cannot be shared (Oracle's Timezone and OLS excepted), a default group holds
//! none, and an option group that was not read is ERROR, never PASS.

use super::fixtures::*;
use super::{facts, Fact, REGISTRY};
use crate::evaluate::evaluate;
use crate::inventory::{AwsError, SourceKind};
use crate::report::{CheckStatus, SourceReport, Status};
use crate::rules::{self, RuleSet};

fn rules(extra: &str) -> RuleSet {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("rules.toml");
    let text = format!(
        "[[rule]]\nid = \"prod\"\ndestination = {{ account = \"{VAULT}\", kms_key = \"alias/rds-vault\" }}\nmax_age = \"26h\"\n{extra}"
    );
    std::fs::write(&path, text).expect("write");
    rules::load(&[path]).expect("valid rules")
}

/// A prod database `id` of `engine` in the option group `group` holding `options` (name,
/// persistent, permanent), with a fresh replica (so only this check can fail).
fn org_with(id: &str, engine: &str, group: &str, options: &[(&str, bool, bool)]) -> Org {
    let mut org = Org::new();
    let source = org.source(PROD, id);
    org.tagged_replica(&format!("{id}-copy"), &source, 2);
    org.option_group(id, engine, group, options);
    org
}

fn judged(org: &Org, rules: &RuleSet) -> SourceReport {
    evaluate(&org.inventory, rules, as_of())
        .sources
        .into_iter()
        .next()
        .expect("one source")
}

fn outcome(report: &SourceReport) -> (CheckStatus, String, String) {
    report
        .checks
        .iter()
        .find(|c| c.id == "source-option-group-shareable")
        .map(|c| (c.status, c.observed.clone(), c.message.clone()))
        .unwrap_or_else(|| panic!("no source-option-group-shareable in {:?}", report.checks))
}

#[test]
fn persistent_or_permanent_options_fail_and_name_the_option_and_group() {
    let rules = rules("");
    let org = org_with(
        "payroll",
        "sqlserver-se",
        "payroll-tde",
        &[("TDE", true, false), ("SQLSERVER_AUDIT", false, false)],
    );
    let report = judged(&org, &rules);
    let (status, observed, message) = outcome(&report);
    assert_eq!(status, CheckStatus::Fail);
    assert_eq!(observed, "payroll-tde: TDE (persistent)");
    assert_eq!(
        message,
        format!("option group payroll-tde has TDE (persistent): AWS does not share a snapshot that uses an option group with persistent or permanent options, so no copy of this database can be shared with {VAULT}")
    );
    assert_eq!(report.status, Status::NonCompliant);

    let org = org_with(
        "ledger",
        "oracle-ee",
        "ledger-tde",
        &[("TDE", true, true), ("Timezone", true, true)],
    );
    let (status, observed, _) = outcome(&judged(&org, &rules));
    assert_eq!(status, CheckStatus::Fail);
    assert_eq!(observed, "ledger-tde: TDE (persistent, permanent)");
}

#[test]
fn oracle_timezone_and_ols_are_shared_and_options_that_stick_nowhere_pass() {
    let rules = rules("");
    let org = org_with(
        "hr",
        "oracle-ee",
        "hr-tz",
        &[("Timezone", true, true), ("OLS", true, true)],
    );
    let report = judged(&org, &rules);
    let (status, observed, message) = outcome(&report);
    assert_eq!(status, CheckStatus::Pass, "{message}");
    assert_eq!(observed, "hr-tz");
    assert!(message.contains("Timezone (persistent, permanent), OLS (persistent, permanent): AWS shares an Oracle snapshot with these"), "{message}");
    assert_eq!(report.status, Status::Compliant);
    // Timezone outside Oracle (SQL Server's is neither persistent nor permanent there).
    let org = org_with(
        "orders",
        "sqlserver-se",
        "orders-tz",
        &[("TIME_ZONE", false, false)],
    );
    let (status, _, message) = outcome(&judged(&org, &rules));
    assert_eq!(status, CheckStatus::Pass);
    assert_eq!(
        message,
        "option group orders-tz has no persistent or permanent options"
    );
    // A default group: nothing to read, nothing stops the share.
    let mut org = Org::new();
    org.source(PROD, "plain");
    let (status, observed, _) = outcome(&judged(&org, &rules));
    assert_eq!(
        (status, observed.as_str()),
        (CheckStatus::Pass, "default:postgres-16")
    );
}

#[test]
fn an_option_group_that_was_not_read_is_an_error_never_a_pass() {
    let rules = rules("");
    let make = || {
        org_with(
            "payroll",
            "sqlserver-se",
            "payroll-tde",
            &[("TDE", true, false)],
        )
    };
    // Not listed at all (an older inventory, or other rules).
    let mut org = make();
    org.inventory.option_groups.clear();
    let (status, _, message) = outcome(&judged(&org, &rules));
    assert_eq!(status, CheckStatus::Error);
    assert_eq!(message, format!("the option groups of {PROD}/{REGION} were not read (DescribeOptionGroups): re-run the audit with these rules"));
    // Refused.
    org.inventory.errors.push(AwsError {
        account_id: PROD.into(),
        region: REGION.into(),
        operation: "DescribeOptionGroups".into(),
        code: "AccessDenied".into(),
        message: "not allowed".into(),
        resource: None,
    });
    let report = judged(&org, &rules);
    let (status, _, message) = outcome(&report);
    assert_eq!(status, CheckStatus::Error);
    assert_eq!(
        message,
        format!("could not read the options of payroll-tde in {PROD}/{REGION}: AccessDenied on DescribeOptionGroups: not allowed")
    );
    assert_eq!(report.status, Status::Error);
    // An inventory that does not say which group a DB instance is in (written before this check).
    let mut org = make();
    org.inventory.sources[0].option_group = None;
    let (status, _, message) = outcome(&judged(&org, &rules));
    assert_eq!(status, CheckStatus::Error);
    assert!(message.contains("re-run the audit"), "{message}");
    // Listed, but not the database's group.
    let mut org = make();
    org.inventory.option_groups[0].groups.clear();
    let (status, _, message) = outcome(&judged(&org, &rules));
    assert_eq!(status, CheckStatus::Error);
    assert!(message.contains("did not list the database's option group payroll-tde"));
}

#[test]
fn clusters_pass_and_backup_remediated_rules_neither_run_the_check_nor_read_groups() {
    let snapshots = rules("");
    assert!(facts(REGISTRY, &snapshots.rules[0]).contains(&Fact::SourceOptionGroup));
    let mut org = Org::new();
    let mut ledger = org.source(PROD, "ledger");
    ledger.db.kind = SourceKind::DbCluster;
    ledger.option_group = None;
    org.inventory.sources = vec![ledger];
    let (status, observed, _) = outcome(&judged(&org, &snapshots));
    assert_eq!(
        (status, observed.as_str()),
        (CheckStatus::Pass, "no option group")
    );

    let by_backup = rules("remediate = \"backup\"\nbackup = { destination_vault = \"central\" }\n");
    assert!(!facts(REGISTRY, &by_backup.rules[0]).contains(&Fact::SourceOptionGroup));
    let org = org_with(
        "payroll",
        "sqlserver-se",
        "payroll-tde",
        &[("TDE", true, false)],
    );
    let report = judged(&org, &by_backup);
    assert!(report
        .checks
        .iter()
        .all(|c| c.id != "source-option-group-shareable"));
}
