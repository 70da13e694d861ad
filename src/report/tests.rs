//! The published report is the contract: its whole shape is pinned here, from the evaluation fixture
//! (src/checks/tests.rs `evaluation_is_deterministic`) plus errors, a drift and a remediation.

use chrono::Duration;

use super::drift;
use super::v1::{Remediation, ReportV1};
use super::{Report, RuleSummary, RunInfo};
use crate::checks::fixtures::*;
use crate::evaluate::evaluate;
use crate::inventory::{Account, AwsError, Caller, KeyManager};
use crate::remediate::{self, ItemResult};
use crate::rules::{self, RuleSet};
use crate::tags::{TAG_DRILL_AT, TAG_DRILL_RESTORE_SECONDS, TAG_DRILL_RESULT};

fn vault_rule() -> RuleSet {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("rules.toml");
    std::fs::write(
        &path,
        format!(
            "[[rule]]\nid = \"prod\"\nselect = {{ tags = {{ env = \"prod\" }} }}\ndestination = {{ account = \"{VAULT}\", kms_key = \"alias/rds-vault\" }}\nmax_age = \"26h\"\nretain = {{ min = 1, max = 3 }}\ndrill = {{ every = \"30d\", rto = \"2h\", instance_class = \"db.t3.micro\" }}\n"
        ),
    )
    .expect("write");
    rules::load(&[path]).expect("valid rules")
}

fn publish(
    org: &Org,
    rules: &RuleSet,
    run_id: &str,
    as_of: chrono::DateTime<chrono::Utc>,
) -> ReportV1 {
    let findings = evaluate(&org.inventory, rules, as_of);
    ReportV1::from_report(&Report {
        run: RunInfo {
            id: run_id.into(),
            started_at: as_of,
            finished_at: as_of + Duration::seconds(42),
            tool_version: "0.0.0".into(),
            rules_sha256: rules.sha256.clone(),
            organization_id: Some("o-test".into()),
            caller: Some(Caller {
                account_id: PROD.into(),
                arn: format!("arn:aws:sts::{PROD}:assumed-role/auditor/nightly"),
            }),
            accounts: vec![
                Account {
                    id: PROD.into(),
                    name: Some("prod".into()),
                },
                Account {
                    id: VAULT.into(),
                    name: None,
                },
            ],
            rules: rules.rules.iter().map(RuleSummary::of).collect(),
            docs_url: Some("https://docs.example/checks".into()),
        },
        findings,
    })
}

#[test]
fn published_report() {
    let mut org = Org::new();
    let orders = org.source(PROD, "orders");
    // Drilled 3 days ago in 1h12m: `sources[].last_drill` (and restore-tested) is pinned too.
    let copy = org.tagged_replica("orders-copy", &orders, 30);
    for (tag, value) in [
        (TAG_DRILL_AT, "2026-11-21T09:30:00Z"),
        (TAG_DRILL_RESTORE_SECONDS, "4320"),
        (TAG_DRILL_RESULT, "passed"),
    ] {
        copy.tags.insert(tag.into(), value.into());
    }
    org.source(OTHER, "billing");
    org.key(OTHER, "x", KeyManager::Customer, &[], None);
    let rules = vault_rule();

    // A day earlier the copy was 6h old: its age failing now is drift.
    let baseline = publish(&org, &rules, "run-0", as_of() - Duration::hours(24));
    let mut report = publish(&org, &rules, "run-1", as_of());
    report.drift = Some(drift::compare(
        &baseline,
        &report,
        Some("reports/run-0/findings.json".into()),
        drift::DEFAULT_AGE_THRESHOLD_SECONDS,
    ));

    let findings = evaluate(&org.inventory, &rules, as_of());
    let plan = remediate::plan::build(
        &org.inventory,
        &rules,
        &findings,
        "run-1",
        as_of(),
        remediate::plan::CopyPath::OneStep,
    );
    let failed = AwsError {
        account_id: VAULT.into(),
        region: REGION.into(),
        operation: "CopyDBSnapshot".into(),
        code: "KMSKeyNotAccessibleFault".into(),
        message: "the key is not accessible".into(),
        resource: Some("rdsguard-111111111111-orders-20261124120000-run1".into()),
    };
    // The first database's copy failed after its snapshot was made; the other was repaired.
    let results = plan
        .items
        .iter()
        .enumerate()
        .map(|(n, item)| ItemResult {
            source_arn: item.source_arn.clone(),
            ok: n > 0,
            failed_step: (n == 0).then(|| "copy".into()),
            error: (n == 0).then(|| failed.clone()),
            created: vec![if n == 0 {
                format!(
                    "{}/{}/{}",
                    item.account_id, item.region, item.names.snapshot
                )
            } else {
                format!(
                    "{}/{}/{}",
                    item.dest_account, item.dest_region, item.names.replica
                )
            }],
            deleted: Vec::new(),
        })
        .collect();
    report.errors.push(failed);
    report.remediation = Some(Remediation {
        dry_run: false,
        plan,
        results,
    });

    insta::assert_json_snapshot!("published", report);
}
