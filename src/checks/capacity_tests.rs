//! `vault-capacity` tests (issue 17): the destination's manual snapshot quota against what the rules
//! keep there, the 90% warning, and what was not read.

use super::fixtures::*;
use super::{facts, Fact, REGISTRY};
use crate::evaluate::evaluate;
use crate::inventory::{AwsError, Quota, SourceKind};
use crate::report::{CheckStatus, Findings, HeadroomState, SourceReport, Status};
use crate::rules::{self, RuleSet};

fn rules(text: &str) -> RuleSet {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("rules.toml");
    std::fs::write(&path, text).expect("write");
    rules::load(&[path]).expect("valid rules")
}

/// `prod` keeps at most `max` copies in the vault; `extra` is appended (more rules, exemptions).
fn keep(max: &str, extra: &str) -> RuleSet {
    rules(&format!(
        "[[rule]]\nid = \"prod\"\nselect = {{ tags = {{ env = \"prod\" }} }}\ndestination = {{ account = \"{VAULT}\", kms_key = \"alias/rds-vault\" }}\nmax_age = \"26h\"\n{max}\n{extra}"
    ))
}

fn source<'a>(findings: &'a Findings, identifier: &str) -> &'a SourceReport {
    findings
        .sources
        .iter()
        .find(|s| s.db.identifier == identifier)
        .expect("source in report")
}

fn capacity(report: &SourceReport) -> (CheckStatus, String, String) {
    report
        .checks
        .iter()
        .find(|c| c.id == "vault-capacity")
        .map(|c| (c.status, c.observed.clone(), c.message.clone()))
        .unwrap_or_else(|| panic!("no vault-capacity in {:?}", report.checks))
}

/// Two prod databases copied to the vault, orders with one replica there; the vault has `used` of
/// `max` manual DB snapshots.
fn org(used: i64, max: i64) -> Org {
    let mut org = Org::new();
    let orders = org.source(PROD, "orders");
    org.tagged_replica("orders-copy", &orders, 2);
    org.source(PROD, "billing");
    set_quota(&mut org, SourceKind::DbInstance, used, max);
    org
}

/// The findings when `prod` keeps 3 copies and the vault has `used` of 100 manual DB snapshots.
fn kept_three(used: i64) -> Findings {
    let rules = keep("retain = { max = 3 }", "");
    evaluate(&org(used, 100).inventory, &rules, as_of())
}

/// The check's observation when `n` manual DB snapshots would be kept in the vault.
fn projected(n: usize) -> String {
    format!("{n} of 100 manual DB snapshots in {VAULT}/us-east-1 after retain.max")
}

fn set_quota(org: &mut Org, kind: SourceKind, used: i64, max: i64) {
    let quotas = org
        .inventory
        .quotas
        .iter_mut()
        .find(|q| q.account_id == VAULT)
        .expect("vault quotas");
    let quota = Some(Quota { used, max });
    match kind {
        SourceKind::DbInstance => quotas.manual_snapshots = quota,
        SourceKind::DbCluster => quotas.manual_cluster_snapshots = quota,
    }
}

#[test]
fn fails_every_database_copied_where_the_rules_copies_cannot_fit() {
    // 96 used, of which orders' 1 replica; 2 x retain.max 3 = 6 kept: 96 - 1 + 6 = 101 > 100.
    let findings = kept_three(96);
    for id in ["orders", "billing"] {
        let report = source(&findings, id);
        let (status, observed, message) = capacity(report);
        assert_eq!(status, CheckStatus::Fail, "{message}");
        assert_eq!(observed, projected(101));
        assert!(
            message.contains("96 used now - 1 replica(s) of the 2 database(s) copied here + their retain.max total 6 = 101"),
            "{message}"
        );
        assert_eq!(report.status, Status::NonCompliant);
    }
    let quota = &findings.quotas[0];
    assert_eq!(
        (
            quota.quota.as_str(),
            quota.projected,
            quota.percent,
            quota.state
        ),
        ("ManualSnapshots", 101, 101, HeadroomState::Over)
    );
    // A failure is a finding, not a warning.
    assert!(findings.warnings.is_empty(), "{:?}", findings.warnings);
}

#[test]
fn passes_with_a_warning_from_ninety_percent_and_quietly_below() {
    // 88 - 1 + 6 = 93 of 100.
    let findings = kept_three(88);
    let report = source(&findings, "orders");
    let (status, observed, message) = capacity(report);
    assert_eq!(status, CheckStatus::Pass);
    assert_eq!(observed, projected(93));
    assert!(
        message.starts_with("warning: 93% of the quota"),
        "{message}"
    );
    assert_eq!(report.status, Status::Compliant);
    assert_eq!(findings.quotas[0].state, HeadroomState::Near);
    assert_eq!(findings.warnings.len(), 1, "{:?}", findings.warnings);
    assert!(
        findings.warnings[0].starts_with(
            "93 of 100 manual DB snapshots in 222222222222/us-east-1 after retain.max: 93% of the quota"
        ),
        "{:?}",
        findings.warnings
    );
    // Exactly full still fits: 95 - 1 + 6 = 100.
    let findings = kept_three(95);
    assert_eq!(capacity(source(&findings, "orders")).0, CheckStatus::Pass);
    // 20 - 1 + 6 = 25: no warning.
    let findings = kept_three(20);
    let (status, _, message) = capacity(source(&findings, "orders"));
    assert_eq!(status, CheckStatus::Pass);
    assert!(message.starts_with("25% of the quota"), "{message}");
    assert!(findings.warnings.is_empty());
}

#[test]
fn skips_an_unbounded_rule_and_reads_nothing_for_it() {
    let unbounded = keep("retain = { min = 1 }", "");
    let findings = evaluate(&org(99, 100).inventory, &unbounded, as_of());
    let (status, _, message) = capacity(source(&findings, "orders"));
    assert_eq!(status, CheckStatus::Skip);
    assert!(message.contains("unbounded"), "{message}");
    assert!(findings.quotas.is_empty());
    assert!(!facts(REGISTRY, &unbounded.rules[0]).contains(&Fact::DestinationQuotas));
    let bounded = keep("retain = { max = 3 }", "");
    assert!(facts(REGISTRY, &bounded.rules[0]).contains(&Fact::DestinationQuotas));
}

#[test]
fn exempt_and_unbounded_databases_count_as_what_others_keep() {
    // billing is exempt and legacy falls under an unbounded rule: only orders' 3 are added, and their
    // copies stay in `used`. 97 - 1 + 3 = 99.
    let mut org = org(97, 100);
    let mut legacy = org.source(PROD, "legacy");
    legacy.tags.insert("env".into(), "dev".into());
    org.inventory
        .sources
        .retain(|s| s.db.identifier != "legacy");
    org.inventory.sources.push(legacy);
    let rules = keep(
        "retain = { max = 3 }",
        &format!("\n[[rule]]\nid = \"dev\"\nselect = {{ tags = {{ env = \"dev\" }} }}\ndestination = {{ account = \"{VAULT}\" }}\nmax_age = \"8d\"\n\n[[exemption]]\narn = \"arn:aws:rds:*:{PROD}:db:billing\"\nreason = \"OPS-1\"\n"),
    );
    let findings = evaluate(&org.inventory, &rules, as_of());
    let (status, observed, _) = capacity(source(&findings, "orders"));
    assert_eq!(status, CheckStatus::Pass);
    assert!(observed.starts_with("99 of 100 "), "{observed}");
    assert_eq!(findings.quotas[0].sources, 1);
}

#[test]
fn db_and_cluster_snapshots_are_separate_quotas() {
    let mut org = org(20, 100);
    let mut ledger = org.source(PROD, "ledger");
    ledger.db.kind = SourceKind::DbCluster;
    ledger.db.arn = ledger.db.arn.replace(":db:", ":cluster:");
    org.inventory
        .sources
        .retain(|s| s.db.identifier != "ledger");
    org.inventory.sources.push(ledger);
    set_quota(&mut org, SourceKind::DbCluster, 99, 100);
    let findings = evaluate(&org.inventory, &keep("retain = { max = 3 }", ""), as_of());
    assert_eq!(capacity(source(&findings, "orders")).0, CheckStatus::Pass);
    let (status, observed, _) = capacity(source(&findings, "ledger"));
    assert_eq!(status, CheckStatus::Fail);
    assert_eq!(
        observed,
        "102 of 100 manual DB cluster snapshots in 222222222222/us-east-1 after retain.max"
    );
    let names: Vec<&str> = findings.quotas.iter().map(|q| q.quota.as_str()).collect();
    assert_eq!(names, ["ManualSnapshots", "ManualClusterSnapshots"]);
}

#[test]
fn quotas_not_read_or_unreadable_are_errors_never_a_pass() {
    let rules = keep("retain = { max = 3 }", "");
    // An inventory written before quotas were read.
    let mut old = org(20, 100);
    old.inventory.quotas.clear();
    let text = serde_json::to_string(&old.inventory).expect("json");
    let text = text.replace(",\"quotas\":[]", "");
    assert!(!text.contains("quotas"));
    let inventory: crate::inventory::Inventory =
        serde_json::from_str(&text).expect("old inventory");
    let findings = evaluate(&inventory, &rules, as_of());
    let report = source(&findings, "orders");
    let (status, _, message) = capacity(report);
    assert_eq!(status, CheckStatus::Error);
    assert!(
        message.contains("were not read (DescribeAccountAttributes)"),
        "{message}"
    );
    assert_eq!(report.status, Status::Error);
    assert!(findings.quotas.is_empty());

    // The read failed.
    let mut org = org(20, 100);
    org.inventory.quotas.retain(|q| q.account_id != VAULT);
    org.inventory.errors.push(AwsError {
        account_id: VAULT.into(),
        region: REGION.into(),
        operation: "DescribeAccountAttributes".into(),
        code: "AccessDenied".into(),
        message: "not authorized".into(),
        resource: None,
    });
    let (status, _, message) =
        capacity(source(&evaluate(&org.inventory, &rules, as_of()), "orders"));
    assert_eq!(status, CheckStatus::Error);
    assert!(
        message.contains("AccessDenied on DescribeAccountAttributes"),
        "{message}"
    );
}
