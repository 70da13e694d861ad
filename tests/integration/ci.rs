//! CI outputs and drift: junit.xml, summary.md, $GITHUB_STEP_SUMMARY, --baseline, `rdsguard diff`.

use serde_json::{json, Value};

use crate::harness::{seed, Org};

const R: &str = "us-east-1";

/// Prod with a fresh copy of `orders` and a 30-hour-old copy of `billing` (also the Security Hub
/// tests' organization).
pub(crate) fn org() -> Org {
    let arn = |id: &str| format!("arn:aws:rds:{R}:{{account:prod}}:db:{id}");
    seed(json!({
        "accounts": [{"key": "vault", "name": "Vault"}, {"key": "prod", "name": "Prod"}],
        "keys": [
            {"key": "vault-key", "account": "vault", "region": R, "alias": "alias/rds-vault"},
            {"key": "share-key", "account": "prod", "region": R, "alias": "alias/rds-share", "grant_accounts": ["vault"]}
        ],
        "instances": [
            {"account": "prod", "id": "orders", "engine": "postgres", "encrypted": true, "kms_key": "share-key"},
            {"account": "prod", "id": "billing", "engine": "postgres", "encrypted": true, "kms_key": "share-key"}
        ],
        "snapshots": [
            {"account": "prod", "id": "orders-s", "instance": "orders", "at": "-2h"},
            {"account": "prod", "id": "billing-s", "instance": "billing", "at": "-30h"}
        ],
        "copies": [
            {"from": {"account": "prod", "snapshot": "orders-s"}, "account": "vault", "id": "orders-c",
             "kms_key": "vault-key", "tags": {"rdsguard:source-arn": arn("orders")}},
            {"from": {"account": "prod", "snapshot": "billing-s"}, "account": "vault", "id": "billing-c",
             "kms_key": "vault-key", "tags": {"rdsguard:source-arn": arn("billing")}}
        ]
    }))
}

fn rules(org: &Org, max_age: &str) -> String {
    format!(
        "[[rule]]\nid = \"prod\"\nselect = {{ accounts = [\"{}\"], regions = [\"{R}\"] }}\ndestination = {{ account = \"{}\", kms_key = \"alias/rds-vault\" }}\nmax_age = \"{max_age}\"\nretain = {{ min = 1, max = 3 }}\n",
        org.account("prod"),
        org.account("vault")
    )
}

#[test]
fn every_run_writes_junit_summary_and_asff_and_feeds_the_step_summary() {
    let org = org();
    let mut cmd = org.rdsguard();
    let step_summary = cmd.path("step-summary.md");
    cmd.file("rules.toml", &rules(&org, "26h"))
        .file("step-summary.md", "## an earlier step\n")
        .env("GITHUB_STEP_SUMMARY", step_summary);
    let run = cmd.audit("run", &[]);
    assert_eq!(run.code, 1, "{run}");

    let junit = std::fs::read_to_string(cmd.path("run/junit.xml")).expect("junit.xml");
    assert!(
        junit.contains("tests=\"16\" failures=\"1\" errors=\"0\" skipped=\"0\""),
        "{junit}"
    );
    assert!(
        junit.contains("name=\"replica-age\">\n      <failure message="),
        "{junit}"
    );

    let summary = std::fs::read_to_string(cmd.path("run/summary.md")).expect("summary.md");
    assert!(
        summary.contains("❌ **Non-compliant databases found**"),
        "{summary}"
    );
    assert!(summary.contains("| billing | "), "{summary}");
    let step = std::fs::read_to_string(cmd.path("step-summary.md")).expect("step summary");
    assert!(
        step.starts_with("## an earlier step\n## rdsguard audit"),
        "appended, not replaced"
    );

    let asff: Value = cmd.json("run/asff.json");
    let findings = asff.as_array().expect("array");
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0]["GeneratorId"], "replica-age");
    assert_eq!(findings[0]["AwsAccountId"], org.account("prod").as_str());
    assert_eq!(
        findings[0]["Resources"][0]["Id"],
        org.arn("prod", R, "billing")
    );
}

#[test]
fn baseline_auto_and_diff_report_what_changed() {
    let org = org();
    let mut cmd = org.rdsguard();
    cmd.file("lenient.toml", &rules(&org, "2d"))
        .file("strict.toml", &rules(&org, "26h"));
    let first = cmd.run(&[
        "audit",
        "--rules",
        "lenient.toml",
        "--out",
        "reports/a",
        "--baseline",
        "auto",
    ]);
    assert_eq!(first.code, 0, "{first}");
    let a = cmd.json("reports/a/findings.json");
    assert!(a.get("drift").is_none(), "no earlier run: no drift");
    assert!(
        a["warnings"].to_string().contains("no earlier run found"),
        "{a}"
    );

    // The RPO tightens: billing's 30h-old copy now fails; the drift says it is new.
    let second = cmd.run(&[
        "audit",
        "--rules",
        "strict.toml",
        "--out",
        "reports/b",
        "--baseline",
        "auto",
    ]);
    assert_eq!(second.code, 1, "{second}");
    let b = cmd.json("reports/b/findings.json");
    let drift = &b["drift"];
    assert_eq!(drift["baseline"]["run_id"], a["run"]["id"]);
    assert_eq!(
        drift["new_failures"].as_array().map(Vec::len),
        Some(1),
        "{drift}"
    );
    assert_eq!(drift["new_failures"][0]["check"], "replica-age");
    assert_eq!(
        drift["new_failures"][0]["arn"],
        org.arn("prod", R, "billing")
    );
    assert!(second.stdout.contains("Drift since run"), "{second}");
    let summary = std::fs::read_to_string(cmd.path("reports/b/summary.md")).expect("summary");
    assert!(summary.contains("### Drift since run"), "{summary}");

    // `diff` says the same for the two saved runs, and exits 1 because things got worse;
    // the other way round, the failure is resolved and the exit is 0.
    let diff = cmd.run(&["diff", "reports/a", "reports/b"]);
    assert_eq!(diff.code, 1, "{diff}");
    assert!(
        diff.stdout.contains("1 new failure(s), 0 resolved"),
        "{diff}"
    );
    assert!(
        diff.stdout.contains(&format!(
            "+ replica-age           {}",
            org.arn("prod", R, "billing")
        )),
        "{diff}"
    );
    let back = cmd.run(&["diff", "reports/b/findings.json", "reports/a/findings.json"]);
    assert_eq!(back.code, 0, "{back}");
    assert!(
        back.stdout.contains("0 new failure(s), 1 resolved"),
        "{back}"
    );

    let bad = cmd.run(&[
        "audit",
        "--rules",
        "strict.toml",
        "--baseline",
        "nowhere.json",
    ]);
    assert_eq!(bad.code, 2, "{bad}");
    assert!(bad.stderr.contains("nowhere.json: cannot read"), "{bad}");
}
