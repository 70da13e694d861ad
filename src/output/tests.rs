//! Output tests: a report built from fixtures in, file text out.

use crate::checks::fixtures::*;
use crate::evaluate::evaluate;
use crate::report::v1::ReportV1;
use crate::report::{Report, RunInfo};
use crate::rules;

/// A report with one compliant source, one failing two checks, one exempt and one ungoverned,
/// with hostile text in an identifier-like field and an account name.
fn report() -> ReportV1 {
    let mut org = Org::new();
    let orders = org.source(PROD, "orders");
    org.tagged_replica("orders-copy", &orders, 2);
    let stale = org.source(PROD, "stale");
    org.tagged_replica("stale-copy", &stale, 40).shared_with = Some(vec!["all".into()]);
    org.source(PROD, "legacy-x");
    let mut loose = org.source(OTHER, "loose");
    loose.tags.clear();
    org.inventory.sources.pop();
    org.inventory.sources.push(loose);
    let set = load_rules(&format!(
        "[[rule]]\nid = \"prod\"\nselect = {{ tags = {{ env = \"prod\" }} }}\ndestination = {{ account = \"{VAULT}\", kms_key = \"alias/rds-vault\" }}\nmax_age = \"26h\"\n\n[[exemption]]\narn = \"arn:aws:rds:*:*:db:legacy-*\"\nreason = \"<b>ticket</b> & co\"\n"
    ));
    let findings = evaluate(&org.inventory, &set, as_of());
    let mut published = ReportV1::from_report(&Report {
        run: RunInfo {
            organization_id: Some("o-test".into()),
            accounts: vec![crate::inventory::Account {
                id: PROD.into(),
                name: Some("<script>alert(1)</script> | prod".into()),
            }],
            docs_url: Some("https://docs.example/checks".into()),
            ..run_info(&set)
        },
        findings,
    });
    published.errors.push(crate::inventory::AwsError {
        account_id: OTHER.into(),
        region: REGION.into(),
        operation: "DescribeDBSnapshots".into(),
        code: "AccessDenied".into(),
        message: "denied \"by\" <SCP>".into(),
        resource: None,
    });
    published
}

/// The rule file `text`, loaded from a file as a run loads it.
pub(super) fn load_rules(text: &str) -> rules::RuleSet {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("r.toml");
    std::fs::write(&path, text).expect("write");
    rules::load(&[path]).expect("rules")
}

/// The facts of a test run under `set`: no organization, caller, accounts or docs.
pub(super) fn run_info(set: &rules::RuleSet) -> RunInfo {
    RunInfo {
        id: "run-1".into(),
        started_at: as_of(),
        finished_at: as_of(),
        tool_version: "0.0.0".into(),
        rules_sha256: set.sha256.clone(),
        organization_id: None,
        caller: None,
        accounts: Vec::new(),
        rules: Vec::new(),
        docs_url: None,
    }
}

/// Asserts that `text` contains `needle`, showing the whole text when it does not.
#[track_caller]
pub(super) fn assert_contains(text: &str, needle: &str) {
    assert!(text.contains(needle), "{text}");
}

fn render(
    write: fn(&ReportV1, &mut dyn std::io::Write) -> std::io::Result<()>,
    report: &ReportV1,
) -> String {
    let mut out = Vec::new();
    write(report, &mut out).expect("render");
    String::from_utf8(out).expect("utf-8")
}

#[test]
fn junit_has_a_case_per_check_and_escapes_everything() {
    let text = render(super::junit::write, &report());
    assert!(text
        .starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"rdsguard\""));
    // 2 governed sources x 8 checks + exempt + ungoverned + 1 AWS error; the rule sets no retain
    // bounds, so retention-count and vault-capacity are skipped on both governed sources.
    assert_contains(
        &text,
        "tests=\"19\" failures=\"2\" errors=\"1\" skipped=\"6\"",
    );
    assert!(
        text.contains("<testcase classname=\"111111111111/us-east-1/stale\" name=\"replica-age\">")
    );
    assert_contains(&text, "observed: 1d16h\nexpected: &lt;= 1d2h");
    assert!(text.contains("exempt: &lt;b&gt;ticket&lt;/b&gt; &amp; co"));
    assert!(text.contains("AccessDenied: denied &quot;by&quot; &lt;SCP&gt;"));
    assert!(!text.contains("<b>") && !text.contains("<SCP>"));
}

#[test]
fn markdown_cells_cannot_break_the_table_or_inject_html() {
    assert_eq!(
        super::escape::markdown_cell("a|b<i>\nc"),
        "a\\|b&lt;i&gt; c"
    );
    let text = render(super::markdown::write, &report());
    assert_contains(&text, "⚠️ **Incomplete**");
    assert_contains(&text, "| 4 | 1 | 1 | 0 | 1 | 1 |");
    assert_contains(&text, "&lt;script&gt;alert(1)&lt;/script&gt; \\| prod");
    assert!(!text.contains("<script>"));
    assert_contains(&text, "| stale | 111111111111 (");
    assert_contains(
        &text,
        "`share-exposure` | FAIL | stale-copy shared with all (public)",
    );
}

#[test]
fn asff_findings_are_stable_bounded_and_only_for_failures() {
    let report = report();
    let findings = crate::asff::findings(&report);
    let ids: Vec<&str> = findings.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(
        ids,
        vec![
            "rdsguard/replica-age/arn:aws:rds:us-east-1:111111111111:db:stale",
            "rdsguard/share-exposure/arn:aws:rds:us-east-1:111111111111:db:stale",
        ]
    );
    let f = &findings[0];
    assert_eq!(f.generator_id, "replica-age");
    assert_eq!(f.aws_account_id, PROD);
    assert_eq!(
        f.product_arn,
        format!("arn:aws:securityhub:us-east-1:{PROD}:product/{PROD}/default")
    );
    assert_eq!(f.resources[0].kind, "AwsRdsDbInstance");
    assert_eq!(f.severity.label, "HIGH");
    assert_eq!(f.compliance.status, "FAILED");
    assert_eq!(
        f.title,
        "RDS stale: The newest copy in the vault account is older than the RPO"
    );
    assert_eq!(
        f.remediation.recommendation.url.as_deref(),
        Some("https://docs.example/checks#replica-age")
    );
    assert!(f.types[0].starts_with("Software and Configuration Checks/"));
    assert!(f.description.chars().count() <= crate::asff::DESCRIPTION_MAX);
    assert_eq!(
        crate::asff::clip(&"x".repeat(300), 256).chars().count(),
        256
    );
    assert_eq!(crate::asff::clip("short", 256), "short");
    // Same report, same ids: a re-import updates rather than duplicates.
    assert_eq!(crate::asff::findings(&report)[0].id, f.id);
}

#[test]
fn drift_classifies_new_failures_resolutions_and_regressions() {
    let old = report();
    let mut new = report();
    new.run.id = "run-2".into();
    // orders: replica 20h older than before (not refreshed), under another key, one copy fewer.
    let orders = new
        .sources
        .iter_mut()
        .find(|s| s.db.identifier == "orders")
        .expect("orders");
    if let Some(latest) = orders.latest_replica.as_mut() {
        latest.age_seconds += 20 * 3600;
        latest.kms_key_arn = Some("arn:aws:kms:us-east-1:222222222222:key/other".into());
    }
    orders.replica_count = 0;
    let age = orders
        .checks
        .iter_mut()
        .find(|c| c.id == "replica-age")
        .expect("age");
    age.status = crate::report::CheckStatus::Fail;
    // stale: exposure fixed.
    let stale = new
        .sources
        .iter_mut()
        .find(|s| s.db.identifier == "stale")
        .expect("stale");
    let share = stale
        .checks
        .iter_mut()
        .find(|c| c.id == "share-exposure")
        .expect("share");
    share.status = crate::report::CheckStatus::Pass;
    new.sources.retain(|s| s.db.identifier != "loose");
    let drift = crate::report::drift::compare(&old, &new, None, 12 * 3600);
    let new_failures: Vec<(&str, &str)> = drift
        .new_failures
        .iter()
        .map(|i| (i.identifier.as_str(), i.check.as_str()))
        .collect();
    assert_eq!(new_failures, vec![("orders", "replica-age")]);
    let resolved: Vec<(&str, &str)> = drift
        .resolved
        .iter()
        .map(|i| (i.identifier.as_str(), i.check.as_str()))
        .collect();
    assert_eq!(resolved, vec![("stale", "share-exposure")]);
    let kinds: Vec<_> = drift.regressions.iter().map(|r| r.kind).collect();
    use crate::report::drift::RegressionKind::*;
    assert_eq!(kinds, vec![ReplicaAgeGrew, KeyChanged, ReplicaCountDropped]);
    assert_eq!(
        drift.removed_sources,
        vec![format!("arn:aws:rds:us-east-1:{OTHER}:db:loose")]
    );
    assert!(drift.is_worse());
    let same = crate::report::drift::compare(&old, &old, None, 12 * 3600);
    assert!(!same.is_worse() && same.resolved.is_empty() && same.regressions.is_empty());
}

/// Quotas near and over, and one with room: the near and over ones are shown.
pub(crate) fn with_quotas(mut report: ReportV1) -> ReportV1 {
    use crate::inventory::SourceKind;
    use crate::report::QuotaHeadroom;
    report.quotas = vec![
        QuotaHeadroom::new(
            (VAULT, REGION),
            SourceKind::DbInstance,
            (88, 100),
            (2, 1, 6),
        ),
        QuotaHeadroom::new((VAULT, REGION), SourceKind::DbCluster, (96, 100), (2, 1, 6)),
        QuotaHeadroom::new(
            (VAULT, "eu-west-1"),
            SourceKind::DbInstance,
            (10, 100),
            (2, 0, 6),
        ),
    ];
    report
}

#[test]
fn quotas_near_or_over_are_in_summary_md_and_every_quota_in_report_html() {
    let report = with_quotas(report());
    let text = render(super::markdown::write, &report);
    assert_contains(
        &text,
        "| 222222222222/us-east-1 | manual DB snapshots | 93 | 100 | 93% |",
    );
    assert_contains(
        &text,
        "| 222222222222/us-east-1 | manual DB cluster snapshots | 101 | 100 | 101% |",
    );
    assert!(!text.contains("eu-west-1 | manual"), "{text}");
    let html = render(super::html::write, &report);
    assert_contains(&html, "id=\"quotas\"");
    assert_contains(&html, "<tr class=\"quota-near\">");
    assert_contains(&html, "<tr class=\"quota-over\">");
    assert_contains(
        &html,
        "<td>16</td><td>100</td><td>16% </td>"
            .replace("% <", "%<")
            .as_str(),
    );
    // No quota read (no rule bounds its copies): no section.
    let html = render(super::html::write, &self::report());
    assert!(!html.contains("id=\"quotas\""));
}
