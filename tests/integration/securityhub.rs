//! `--security-hub`: findings land in each source's own account, re-imports update rather than
//! duplicate, findings that pass again are resolved, and nothing else in Security Hub is touched.

use aws_sdk_securityhub::types::{
    AwsSecurityFinding, Compliance, ComplianceStatus, RecordState, Resource, Severity,
    SeverityLabel,
};
use serde_json::json;

use crate::ci::org;
use crate::harness::{block_on, emulator_now, inject, remove_fault, rfc3339, Org};

const R: &str = "us-east-1";

fn rules(org: &Org, max_age: &str) -> String {
    format!(
        "[[rule]]\nid = \"prod\"\nselect = {{ accounts = [\"{}\"], regions = [\"{R}\"] }}\ndestination = {{ account = \"{}\", kms_key = \"alias/rds-vault\" }}\nmax_age = \"{max_age}\"\n",
        org.account("prod"),
        org.account("vault")
    )
}

/// Every finding in the account's Security Hub (the emulator ignores filters, so this is all of them).
fn findings(org: &Org, account_key: &str) -> Vec<AwsSecurityFinding> {
    let config = org.sdk(account_key, R);
    block_on(async {
        aws_sdk_securityhub::Client::new(&config)
            .get_findings()
            .send()
            .await
            .expect("get findings")
            .findings()
            .to_vec()
    })
}

fn ours(all: &[AwsSecurityFinding]) -> Vec<&AwsSecurityFinding> {
    all.iter()
        .filter(|f| f.id().is_some_and(|id| id.starts_with("rdsguard/")))
        .collect()
}

#[test]
fn findings_are_imported_updated_and_resolved_in_the_source_account() {
    let org = org();
    let prod = org.account("prod");
    // Another product's finding in the same account: rdsguard must never touch it.
    let config = org.sdk("prod", R);
    block_on(async {
        aws_sdk_securityhub::Client::new(&config)
            .batch_import_findings()
            .findings(
                AwsSecurityFinding::builder()
                    .schema_version("2018-10-08")
                    .id("other-tool/1")
                    .product_arn(format!(
                        "arn:aws:securityhub:{R}:{prod}:product/{prod}/default"
                    ))
                    .generator_id("replica-age")
                    .aws_account_id(&prod)
                    .types("Software and Configuration Checks/Other")
                    .created_at("2026-01-01T00:00:00Z")
                    .updated_at("2026-01-01T00:00:00Z")
                    .severity(Severity::builder().label(SeverityLabel::Low).build())
                    .title("someone else's finding")
                    .description("not rdsguard's")
                    .resources(Resource::builder().r#type("Other").id("x").build())
                    .compliance(
                        Compliance::builder()
                            .status(ComplianceStatus::Failed)
                            .build(),
                    )
                    .record_state(RecordState::Active)
                    .build(),
            )
            .send()
            .await
            .expect("import the other finding")
    });

    let mut cmd = org.rdsguard();
    cmd.file("strict.toml", &rules(&org, "26h"))
        .file("lenient.toml", &rules(&org, "2d"));
    // Instants from the emulator's clock (billing's copy holds data from 30 h before it), never from
    // the calendar: the seeded data is placed relative to that clock. A minute on, so the copies the
    // seeder just made exist at t1.
    let now = emulator_now(&prod) + chrono::Duration::minutes(1);
    let t1 = rfc3339(now);
    let t1 = t1.as_str();
    let first = cmd.run(&[
        "audit",
        "--rules",
        "strict.toml",
        "--out",
        "one",
        "--security-hub",
        "--as-of",
        t1,
    ]);
    assert_eq!(first.code, 1, "{first}");
    let all = findings(&org, "prod");
    let mine = ours(&all);
    assert_eq!(
        mine.len(),
        1,
        "one finding per source x failing check: {mine:#?}"
    );
    let f = mine[0];
    assert_eq!(
        f.id(),
        Some(format!("rdsguard/replica-age/{}", org.arn("prod", R, "billing")).as_str())
    );
    assert_eq!(f.aws_account_id(), Some(prod.as_str()));
    assert_eq!(f.generator_id(), Some("replica-age"));
    assert_eq!(
        f.compliance().and_then(|c| c.status()),
        Some(&ComplianceStatus::Failed)
    );
    assert_eq!(f.record_state(), Some(&RecordState::Active));
    assert_eq!(f.created_at(), Some(t1));
    assert_eq!(f.resources()[0].r#type(), Some("AwsRdsDbInstance"));
    assert!(
        findings(&org, "vault")
            .iter()
            .all(|f| !f.id().unwrap_or_default().starts_with("rdsguard/")),
        "findings go to the source's account, not the caller's or the vault's"
    );

    // Again, later: updated in place, first-seen time kept.
    let t2 = rfc3339(now + chrono::Duration::hours(1));
    let t2 = t2.as_str();
    let again = cmd.run(&[
        "audit",
        "--rules",
        "strict.toml",
        "--out",
        "two",
        "--security-hub",
        "--as-of",
        t2,
    ]);
    assert_eq!(again.code, 1, "{again}");
    let all = findings(&org, "prod");
    let mine = ours(&all);
    assert_eq!(mine.len(), 1, "no duplicates");
    assert_eq!(mine[0].created_at(), Some(t1));
    assert_eq!(mine[0].updated_at(), Some(t2));

    // The check passes under the lenient rule: the finding is resolved and archived.
    let fixed = cmd.run(&[
        "audit",
        "--rules",
        "lenient.toml",
        "--out",
        "three",
        "--security-hub",
    ]);
    assert_eq!(fixed.code, 0, "{fixed}");
    let all = findings(&org, "prod");
    let mine = ours(&all);
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].record_state(), Some(&RecordState::Archived));
    assert_eq!(
        mine[0].compliance().and_then(|c| c.status()),
        Some(&ComplianceStatus::Passed)
    );
    let other = all
        .iter()
        .find(|f| f.id() == Some("other-tool/1"))
        .expect("other finding");
    assert_eq!(
        other.record_state(),
        Some(&RecordState::Active),
        "never touched"
    );
    assert_eq!(other.updated_at(), Some("2026-01-01T00:00:00Z"));
}

#[test]
fn an_import_failure_is_reported_and_the_run_is_incomplete() {
    let org = org();
    let fault = inject(json!({
        "service": "securityhub", "operation": "BatchImportFindings", "account_id": org.account("prod"),
        "code": "AccessDeniedException", "message": "not subscribed", "http_status": 403
    }));
    let mut cmd = org.rdsguard();
    cmd.file("strict.toml", &rules(&org, "26h"));
    let run = cmd.run(&[
        "audit",
        "--rules",
        "strict.toml",
        "--out",
        "run",
        "--security-hub",
    ]);
    remove_fault(fault);
    assert_eq!(run.code, 3, "{run}");
    let report = cmd.json("run/findings.json");
    let errors = report["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["operation"], "BatchImportFindings");
    assert_eq!(errors[0]["code"], "AccessDeniedException");
    assert_eq!(errors[0]["account_id"], org.account("prod").as_str());
    // The audit's own verdicts are intact.
    assert_eq!(report["summary"]["non_compliant"], 1);
}
