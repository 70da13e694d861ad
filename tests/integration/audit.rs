//! The audit against an emulated organization: every check's PASS and FAIL, and the linkage traps.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::harness::{
    calls_by, emulator_now, inject, remove_fault, rfc3339, seed, vault_and_prod, verdicts, Cmd,
    Org, Run,
};

const R: &str = "us-east-1";

/// An organization with one source per situation the audit must get right.
fn scenario() -> Org {
    let snap = |account: &str, id: &str, instance: &str, at: &str, share: Value| json!({"account": account, "region": R, "id": id, "instance": instance, "at": at, "share_with": share});
    let copy = |from_account: &str,
                from: &str,
                to: &str,
                id: &str,
                key: &str,
                at: &str,
                tag: Option<&str>| {
        let tags = match tag {
            Some(source) => json!({"rdsguard:source-arn": source, "rdsguard:managed": "true"}),
            None => json!({}),
        };
        json!({"from": {"account": from_account, "region": R, "snapshot": from},
               "account": to, "region": R, "id": id, "kms_key": key, "at": at, "tags": tags})
    };
    let db = |account: &str, id: &str, key: Option<&str>, env: Option<&str>| {
        let tags = env.map(|e| json!({"env": e})).unwrap_or(json!({}));
        json!({"account": account, "region": R, "id": id, "engine": "postgres",
               "encrypted": key.is_some(), "kms_key": key, "tags": tags})
    };
    let prod_arn = |id: &str| format!("arn:aws:rds:{R}:{{account:prod}}:db:{id}");
    seed(json!({
        "accounts": [{"key": "vault", "name": "Vault"}, {"key": "prod", "name": "Prod"},
                     {"key": "dev", "name": "Dev"}, {"key": "other", "name": "Other"}],
        "keys": [
            {"key": "vault-key", "account": "vault", "region": R, "alias": "alias/rds-vault"},
            {"key": "share-key", "account": "prod", "region": R, "alias": "alias/rds-share", "grant_accounts": ["vault"]},
            {"key": "nogrant-key", "account": "prod", "region": R, "alias": "alias/nogrant"},
            {"key": "dev-share", "account": "dev", "region": R, "alias": "alias/rds-share", "grant_accounts": ["vault"]}
        ],
        "instances": [
            db("prod", "orders", Some("share-key"), Some("prod")),
            db("dev", "orders", Some("dev-share"), Some("prod")),
            db("prod", "payments", Some("share-key"), Some("prod")),
            db("prod", "inventory", None, Some("prod")),
            db("prod", "analytics", Some("share-key"), Some("prod")),
            db("prod", "exposed", Some("share-key"), Some("prod")),
            db("prod", "transit", Some("share-key"), Some("prod")),
            db("prod", "elsewhere", Some("share-key"), Some("prod")),
            db("prod", "hoard", Some("share-key"), Some("prod")),
            db("prod", "mykey", Some("nogrant-key"), Some("prod")),
            db("prod", "legacy-crm", Some("share-key"), Some("prod")),
            db("dev", "scratch", Some("dev-share"), None)
        ],
        "clusters": [{"account": "prod", "region": R, "id": "ledger", "engine": "aurora-postgresql",
                      "encrypted": true, "kms_key": "share-key", "tags": {"env": "prod"}}],
        "snapshots": [
            snap("prod", "orders-s", "orders", "-2h", json!([])),
            snap("dev", "orders-s", "orders", "-3h", json!([])),
            snap("prod", "payments-s", "payments", "-40h", json!([])),
            snap("prod", "analytics-s", "analytics", "-2h", json!([])),
            snap("prod", "exposed-s", "exposed", "-2h", json!(["all"])),
            snap("prod", "transit-s", "transit", "-1h", json!(["vault"])),
            snap("prod", "elsewhere-s", "elsewhere", "-1h", json!([])),
            snap("prod", "hoard-s", "hoard", "-1h", json!([])),
            snap("prod", "mykey-s", "mykey", "-1h", json!([])),
            // An ungoverned database's snapshot, and a copy in the vault: no check judges them.
            snap("dev", "scratch-s", "scratch", "-1h", json!([]))
        ],
        "cluster_snapshots": [{"account": "prod", "region": R, "id": "ledger-s", "cluster": "ledger", "at": "-2h"}],
        "copies": [
            copy("prod", "orders-s", "vault", "orders-c", "vault-key", "-1h", Some(&prod_arn("orders"))),
            // Another tool's copy: no provenance tag, linked by source ARN + identifier.
            copy("dev", "orders-s", "vault", "dev-orders-c", "vault-key", "-2h", None),
            copy("prod", "payments-s", "vault", "payments-c", "vault-key", "-39h", Some(&prod_arn("payments"))),
            copy("prod", "analytics-s", "vault", "analytics-c", "aws/rds", "-1h", Some(&prod_arn("analytics"))),
            copy("prod", "exposed-s", "vault", "exposed-c", "vault-key", "-1h", Some(&prod_arn("exposed"))),
            copy("prod", "elsewhere-s", "other", "elsewhere-c", "aws/rds", "-1h", Some(&prod_arn("elsewhere"))),
            copy("prod", "hoard-s", "vault", "hoard-c1", "vault-key", "-1h", Some(&prod_arn("hoard"))),
            copy("prod", "hoard-s", "vault", "hoard-c2", "vault-key", "-1h", Some(&prod_arn("hoard"))),
            copy("prod", "hoard-s", "vault", "hoard-c3", "vault-key", "-1h", Some(&prod_arn("hoard"))),
            copy("prod", "hoard-s", "vault", "hoard-c4", "vault-key", "-1h", Some(&prod_arn("hoard"))),
            copy("prod", "mykey-s", "vault", "mykey-c", "vault-key", "-1h", Some(&prod_arn("mykey"))),
            copy("dev", "scratch-s", "vault", "scratch-c", "vault-key", "-1h", None),
            copy("prod", "ledger-s", "vault", "ledger-c", "vault-key", "-1h",
                 Some(&format!("arn:aws:rds:{R}:{{account:prod}}:cluster:ledger")))
        ]
    }))
}

/// Audits `org` into `run` with [`rules`] while the management account may not assume the role in
/// the `dev` account (AccessDenied).
pub(crate) fn audit_with_dev_denied(org: &Org) -> (Cmd, Run) {
    let fault = inject(json!({
        "service": "sts", "operation": "AssumeRole", "account_id": org.account("management"),
        "body_contains": org.account("dev"), "code": "AccessDenied",
        "message": "not authorized to assume the role", "http_status": 403
    }));
    let mut cmd = org.rdsguard();
    cmd.file("rules/prod.toml", &rules(org));
    let run = cmd.run(&["audit", "--out", "run"]);
    remove_fault(fault);
    (cmd, run)
}

/// The scenario's rules (also used by the HTML report's tests).
pub(crate) fn rules(org: &Org) -> String {
    format!(
        r#"# The scenario's rules.
[[rule]]
id = "prod-databases"
description = "Production: a daily copy in the vault under the vault key"
select = {{ tags = {{ env = "prod" }}, regions = ["{region}"] }}
destination = {{ account = "{vault}", region = "same", kms_key = "alias/rds-vault" }}
source_kms_key = "alias/rds-share"
max_age = "26h"
retain = {{ min = 1, max = 3 }}
severity = "high"

[[exemption]]
arn = "arn:aws:rds:*:{prod}:db:legacy-*"
reason = "Decommission ticket OPS-123"
expires = "2099-01-31"
"#,
        vault = org.account("vault"),
        prod = org.account("prod"),
        region = R
    )
}

fn expected_verdicts() -> BTreeMap<String, (String, Vec<String>)> {
    let v = |status: &str, failing: &[&str]| {
        (
            status.to_string(),
            failing.iter().map(|f| f.to_string()).collect::<Vec<_>>(),
        )
    };
    [
        ("prod/orders", v("COMPLIANT", &[])),
        ("dev/orders", v("COMPLIANT", &[])),
        ("prod/payments", v("NON_COMPLIANT", &["replica-age=FAIL"])),
        (
            "prod/inventory",
            v(
                "NON_COMPLIANT",
                &["replica-present=FAIL", "retention-count=FAIL"],
            ),
        ),
        (
            "prod/analytics",
            v("NON_COMPLIANT", &["replica-encryption=FAIL"]),
        ),
        ("prod/exposed", v("NON_COMPLIANT", &["share-exposure=FAIL"])),
        (
            "prod/transit",
            v(
                "NON_COMPLIANT",
                &["replica-present=FAIL", "retention-count=FAIL"],
            ),
        ),
        // A tagged copy in a non-destination account is no replica, and sharing it there is exposure.
        (
            "prod/elsewhere",
            v(
                "NON_COMPLIANT",
                &[
                    "replica-present=FAIL",
                    "retention-count=FAIL",
                    "share-exposure=FAIL",
                ],
            ),
        ),
        ("prod/hoard", v("NON_COMPLIANT", &["retention-count=FAIL"])),
        (
            "prod/mykey",
            v("NON_COMPLIANT", &["source-key-shareable=FAIL"]),
        ),
        ("prod/legacy-crm", v("EXEMPT", &[])),
        ("dev/scratch", v("UNGOVERNED", &[])),
        ("prod/ledger", v("COMPLIANT", &[])),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn source<'a>(findings: &'a Value, arn: &str) -> &'a Value {
    findings["sources"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["arn"] == arn))
        .unwrap_or_else(|| panic!("no source {arn}"))
}

/// How often each account called each operation so far (the emulator's call log).
fn call_counts(org: &Org, accounts: &[&str]) -> BTreeMap<(String, String), i64> {
    let mut counts = BTreeMap::new();
    for account in accounts {
        for call in calls_by(&org.account(account)) {
            let operation = call.split(':').nth(1).unwrap_or_default().to_string();
            *counts.entry((account.to_string(), operation)).or_insert(0) += 1;
        }
    }
    counts
}

const ACCOUNTS: [&str; 5] = ["management", "vault", "prod", "dev", "other"];

#[test]
fn audit_gives_the_right_verdict_for_every_source() {
    let org = scenario();
    let mut cmd = org.rdsguard();
    cmd.file("rules/prod.toml", &rules(&org));
    let before = call_counts(&org, &ACCOUNTS);
    let run = cmd.run(&["audit", "--out", "run"]);
    let after = call_counts(&org, &ACCOUNTS);
    assert_eq!(run.code, 1, "findings exit 1\n{run}");
    let findings = cmd.json("run/findings.json");
    assert_eq!(findings["schema"], "rdsguard.report/v1");
    assert_eq!(findings["errors"], json!([]), "{run}");
    assert_eq!(verdicts(&org, &findings), expected_verdicts(), "{run}");
    assert_eq!(
        findings["summary"],
        json!({"sources": 13, "compliant": 3, "non_compliant": 8, "error": 0, "exempt": 1, "ungoverned": 1})
    );

    // Identifiers repeat across accounts: each `orders` links to its own copy only.
    let prod_orders = source(&findings, &org.arn("prod", R, "orders"));
    assert_eq!(prod_orders["replica_count"], 1);
    assert_eq!(
        prod_orders["latest_replica"]["arn"],
        org.arn("vault", R, "orders-c")
    );
    let dev_orders = source(&findings, &org.arn("dev", R, "orders"));
    assert_eq!(
        dev_orders["latest_replica"]["arn"],
        org.arn("vault", R, "dev-orders-c")
    );
    assert_eq!(
        dev_orders["latest_replica"]["account_id"],
        org.account("vault")
    );

    // Age is the data's time (the source snapshot, 40h ago), not the copy's (39h ago). `as_of` is
    // whole seconds (rounded down), so an audit within a second of the seeding sees 40h less 1 s.
    let payments = source(&findings, &org.arn("prod", R, "payments"));
    let age = payments["latest_replica"]["age_seconds"]
        .as_i64()
        .expect("age");
    assert!((40 * 3600 - 1..41 * 3600).contains(&age), "age {age}");

    // The terminal summary names the failing check with observed vs expected.
    assert!(
        run.stdout
            .contains("13 sources: 3 COMPLIANT, 8 NON_COMPLIANT, 0 ERROR, 1 EXEMPT, 1 UNGOVERNED"),
        "{run}"
    );
    // 1d16h, or 1d15h59m59s within a second of the seeding (see above).
    assert!(run.stdout.contains("payments: replica-age 1d1"), "{run}");

    // The audit reads what the checks judge and nothing else: who each snapshot is shared with only
    // for the judged databases' own snapshots and their replicas (not dev's ungoverned `scratch-s`,
    // nor its copy in the vault), snapshot lists only where a judged database or its replicas can be.
    let during = |account: &str, operation: &str| {
        let key = (account.to_string(), operation.to_string());
        after.get(&key).unwrap_or(&0) - before.get(&key).unwrap_or(&0)
    };
    let reads = |account: &str| {
        [
            "DescribeDBSnapshots",
            "DescribeDBClusterSnapshots",
            "DescribeDBSnapshotAttributes",
            "DescribeDBClusterSnapshotAttributes",
        ]
        .map(|operation| during(account, operation))
    };
    // prod: 8 own snapshots of judged instances, ledger's cluster snapshot (legacy-crm is exempt).
    assert_eq!(reads("prod"), [1, 1, 8, 1], "{run}");
    // vault: 10 instance replicas and ledger-c; not scratch-c.
    assert_eq!(reads("vault"), [1, 1, 10, 1], "{run}");
    // dev: orders-s, not scratch-s; no judged cluster lives in dev.
    assert_eq!(reads("dev"), [1, 0, 1, 0], "{run}");
    // other: no database, no rule's destination.
    assert_eq!(reads("other"), [0, 0, 0, 0], "{run}");

    // The audit is read-only: no mutating API was called in any account.
    for account in ACCOUNTS {
        for call in calls_by(&org.account(account)) {
            let operation = call.split(':').nth(1).unwrap_or_default().to_string();
            let read_only = ["Describe", "List", "Get", "AssumeRole"]
                .iter()
                .any(|prefix| operation.starts_with(prefix));
            // The seeder's own calls ran before the audit; only count what rdsguard could have called.
            let seeding = ["Create", "Copy", "Modify", "AddTags", "Put"]
                .iter()
                .any(|p| operation.starts_with(p));
            assert!(read_only || seeding, "{account}: unexpected call {call}");
        }
    }

    // Offline re-evaluation of the saved inventory at the same instant gives the same findings.
    let as_of = findings["run"]["as_of"]
        .as_str()
        .expect("as_of")
        .to_string();
    let inventory = cmd.path("run/inventory.json");
    let evaluate_with = |name: &str, rules: &str| {
        let mut cmd = org.rdsguard();
        cmd.file("rules/rules.toml", rules);
        let run = cmd.run(&[
            "evaluate",
            "--inventory",
            inventory.to_str().expect("utf-8 path"),
            "--as-of",
            &as_of,
            "--out",
            name,
        ]);
        (cmd.json(&format!("{name}/findings.json")), run)
    };
    let (replayed, again) = evaluate_with("again", &rules(&org));
    assert_eq!(again.code, 1, "{again}");
    assert_eq!(replayed["sources"], findings["sources"]);
    assert_eq!(replayed["summary"], findings["summary"]);

    // Re-evaluated under rules the audit did not run with, what it did not read is ERROR, never a
    // verdict: `other` was not listed (no rule's destination then), and nobody read who dev's
    // ungoverned scratch-s is shared with.
    let all_to = |destination: &str| {
        format!(
            "[[rule]]\nid = \"all\"\nselect = {{ regions = [\"{R}\"] }}\ndestination = {{ account = \"{}\", region = \"same\" }}\nmax_age = \"26h\"\n",
            org.account(destination)
        )
    };
    let check = |report: &Value, id: &str| -> Value {
        report["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .find(|c| c["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no {id} in {report}"))
    };
    let (judged, run) = evaluate_with("to-other", &all_to("other"));
    assert_eq!(judged["summary"]["compliant"], 0, "{run}");
    for report in judged["sources"].as_array().expect("sources") {
        let present = check(report, "replica-present");
        assert_eq!(present["status"], "ERROR", "{}: {present}", report["arn"]);
        assert!(
            present["message"]
                .as_str()
                .unwrap_or_default()
                .contains("NotRead"),
            "{present}"
        );
    }
    let (judged, run) = evaluate_with("to-vault", &all_to("vault"));
    let scratch = source(&judged, &org.arn("dev", R, "scratch"));
    assert_eq!(scratch["status"], "ERROR", "{run}");
    let exposure = check(scratch, "share-exposure");
    assert_eq!(exposure["status"], "ERROR", "{exposure}");
    assert!(
        exposure["message"]
            .as_str()
            .unwrap_or_default()
            .contains("did not read"),
        "{exposure}"
    );
}

#[test]
fn fail_on_threshold_and_as_of() {
    let org = scenario();
    let mut cmd = org.rdsguard();
    cmd.file("rules/prod.toml", &rules(&org));
    let run = cmd.run(&[
        "audit",
        "--out",
        "run",
        "--fail-on",
        "critical",
        "-q",
        "--regions",
        "us-east-1,eu-west-1",
    ]);
    assert_eq!(run.code, 0, "high findings pass --fail-on critical\n{run}");
    assert_eq!(run.stdout, "", "quiet prints no summary");
    let inventory = cmd.json("run/inventory.json");
    assert_eq!(inventory["regions"], json!(["eu-west-1", "us-east-1"]));
    assert_eq!(
        inventory["scopes"].as_array().map(Vec::len),
        Some(5 * 2),
        "5 accounts x 2 regions"
    );

    // Three days later on the emulator's clock, every replica is past its 26h RPO.
    let later = rfc3339(emulator_now(&org.account("prod")) + chrono::Duration::days(3));
    let run = cmd.run(&["audit", "--out", "later", "--as-of", &later]);
    assert_eq!(run.code, 1, "{run}");
    let findings = cmd.json("later/findings.json");
    let orders = source(&findings, &org.arn("prod", R, "orders"));
    assert_eq!(orders["status"], "NON_COMPLIANT");
    assert_eq!(
        findings["run"]["as_of"].as_str().map(|s| &s[..10]),
        Some(&later[..10])
    );
}

#[test]
fn an_unreadable_account_is_an_error_never_silently_compliant() {
    let org = scenario();
    let (cmd, run) = audit_with_dev_denied(&org);
    let dev = org.account("dev");
    assert_eq!(run.code, 3, "{run}");
    let findings = cmd.json("run/findings.json");
    let errors = findings["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["account_id"], dev.as_str());
    assert_eq!(errors[0]["operation"], "AssumeRole");
    assert_eq!(errors[0]["code"], "AccessDenied");
    assert_eq!(findings["unreadable_scopes"], json!([format!("{dev}/{R}")]));
    // Every other account is fully audited: prod's verdicts are unchanged.
    let mut expected = expected_verdicts();
    expected.retain(|k, _| !k.starts_with("dev/"));
    assert_eq!(verdicts(&org, &findings), expected);
    assert!(run.stdout.contains("INCOMPLETE"), "{run}");
}

#[test]
fn an_unreadable_vault_makes_governed_sources_error() {
    let org = scenario();
    let fault = inject(json!({
        "service": "rds", "operation": "DescribeDBSnapshots", "account_id": org.account("vault"),
        "code": "AccessDenied", "message": "denied by SCP", "http_status": 403
    }));
    let mut cmd = org.rdsguard();
    cmd.file("rules/prod.toml", &rules(&org));
    let run = cmd.run(&["audit", "--out", "run"]);
    remove_fault(fault);
    assert_eq!(run.code, 3, "{run}");
    let findings = cmd.json("run/findings.json");
    let orders = source(&findings, &org.arn("prod", R, "orders"));
    assert_eq!(
        orders["status"], "ERROR",
        "never COMPLIANT for what could not be read"
    );
    let present = orders["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["id"] == "replica-present"))
        .expect("replica-present");
    assert_eq!(present["status"], "ERROR");
    assert!(present["message"]
        .as_str()
        .unwrap_or_default()
        .contains("AccessDenied"));
    // A source that fails on what could be read stays NON_COMPLIANT.
    let mykey = source(&findings, &org.arn("prod", R, "mykey"));
    assert_eq!(mykey["status"], "NON_COMPLIANT");
    assert_eq!(
        findings["summary"]["compliant"], 1,
        "only the cluster, whose snapshots were readable"
    );
}

#[test]
fn throttling_is_retried_and_changes_nothing() {
    let org = scenario();
    let mut faults = Vec::new();
    for operation in [
        "DescribeDBInstances",
        "DescribeDBSnapshots",
        "DescribeDBSnapshotAttributes",
    ] {
        faults.push(inject(json!({
            "service": "rds", "operation": operation, "account_id": org.account("prod"),
            "code": "Throttling", "message": "Rate exceeded", "times": 3
        })));
    }
    let mut cmd = org.rdsguard();
    cmd.file("rules/prod.toml", &rules(&org));
    let run = cmd.run(&["audit", "--out", "run"]);
    for fault in faults {
        remove_fault(fault);
    }
    assert_eq!(run.code, 1, "{run}");
    let findings = cmd.json("run/findings.json");
    assert_eq!(findings["errors"], json!([]));
    assert_eq!(verdicts(&org, &findings), expected_verdicts());
}

/// `{date:+N}d` placeholders (N digits) replaced with the day N days after `today`, as
/// tests/emulator/demo.py fills the demo rules; anything else is left as it is.
fn fill_dates(text: &str, today: chrono::NaiveDate) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("{date:+") {
        out.push_str(&rest[..start]);
        let after = &rest[start + "{date:+".len()..];
        let digits = after.chars().take_while(char::is_ascii_digit).count();
        match (
            after[..digits].parse::<i64>(),
            after[digits..].starts_with("d}"),
        ) {
            (Ok(days), true) => {
                out.push_str(&(today + chrono::Duration::days(days)).to_string());
                rest = &after[digits + 2..];
            }
            _ => {
                out.push_str("{date:+");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// `make demo` shows what it claims: the demo organization audited with the demo rules.
#[test]
fn the_demo_organization_gives_the_documented_verdicts() {
    let emulator = crate::harness::repo().join("tests/emulator");
    let spec: Value = serde_json::from_str(
        &std::fs::read_to_string(emulator.join("demo.json")).expect("demo.json"),
    )
    .expect("demo spec");
    let org = seed(spec);
    let mut rules = std::fs::read_to_string(emulator.join("demo-rules.toml")).expect("demo rules");
    for key in [
        "vault",
        "payments",
        "web",
        "analytics",
        "sandbox",
        "records",
    ] {
        rules = rules.replace(&format!("{{account:{key}}}"), &org.account(key));
    }
    let rules = fill_dates(&rules, emulator_now(&org.account("payments")).date_naive());
    let mut cmd = org.rdsguard();
    cmd.file("rules.toml", &rules);
    let run = cmd.audit("demo", &[]);
    assert_eq!(run.code, 1, "{run}");
    let findings = cmd.json("demo/findings.json");
    let v = |status: &str, failing: &[&str]| {
        (
            status.to_string(),
            failing
                .iter()
                .map(|f| format!("{f}=FAIL"))
                .collect::<Vec<_>>(),
        )
    };
    let expected: BTreeMap<String, (String, Vec<String>)> = [
        ("payments/payments-db", v("COMPLIANT", &[])),
        ("payments/ledger", v("COMPLIANT", &[])),
        ("payments/billing", v("NON_COMPLIANT", &["replica-age"])),
        ("payments/legacy-invoices", v("EXEMPT", &[])),
        ("web/web-db", v("COMPLIANT", &[])),
        ("web/sessions", v("NON_COMPLIANT", &["replica-encryption"])),
        (
            "web/orders",
            v("NON_COMPLIANT", &["replica-present", "retention-count"]),
        ),
        ("web/catalog", v("NON_COMPLIANT", &["share-exposure"])),
        (
            "analytics/warehouse",
            v("NON_COMPLIANT", &["source-key-shareable"]),
        ),
        ("analytics/events", v("NON_COMPLIANT", &["retention-count"])),
        ("analytics/orders", v("COMPLIANT", &[])),
        ("sandbox/scratch", v("UNGOVERNED", &[])),
        ("sandbox/playground", v("UNGOVERNED", &[])),
        // AWS Backup copies in the vault: one in a compliance-locked vault, one in an unlocked one.
        ("records/patients", v("COMPLIANT", &[])),
        ("records/claims", v("NON_COMPLIANT", &["replica-immutable"])),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(verdicts(&org, &findings), expected, "{run}");
    assert_eq!(findings["accounts"].as_array().map(Vec::len), Some(7));
    let patients = findings["sources"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["identifier"] == "patients"))
        .expect("patients");
    assert_eq!(
        patients["latest_replica"]["backup_vault"], "records-locked",
        "{patients}"
    );
    assert!(findings["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .any(|a| a["name"] == "Backup Vault"));
}

/// Another tool copied a snapshot into the vault in the source's region, then on into the rule's
/// destination region, without tags. The relay's region is no destination, but the vault is listed in
/// every region read, so the far copy is linked through it: a replica, and its public share is seen.
#[test]
fn a_copy_relayed_through_another_vault_region_is_still_a_replica() {
    const FAR: &str = "eu-west-1";
    let org = seed(json!({
        "accounts": [{"key": "vault"}, {"key": "prod"}],
        "keys": [
            {"key": "vault-near", "account": "vault", "region": R, "alias": "alias/rds-vault"},
            {"key": "vault-far", "account": "vault", "region": FAR, "alias": "alias/rds-vault"},
            {"key": "share-key", "account": "prod", "region": R, "alias": "alias/rds-share", "grant_accounts": ["vault"]}
        ],
        "instances": [{"account": "prod", "region": R, "id": "orders", "engine": "postgres",
                       "encrypted": true, "kms_key": "share-key", "tags": {"env": "prod"}}],
        "snapshots": [{"account": "prod", "region": R, "id": "orders-s", "instance": "orders", "at": "-2h"}],
        "copies": [
            {"from": {"account": "prod", "region": R, "snapshot": "orders-s"},
             "account": "vault", "region": R, "id": "orders-relay", "kms_key": "vault-near", "at": "-1h"},
            {"from": {"account": "vault", "region": R, "snapshot": "orders-relay"},
             "account": "vault", "region": FAR, "id": "orders-far", "kms_key": "vault-far", "at": "-1h",
             "share_with": ["all"]}
        ]
    }));
    let mut cmd = org.rdsguard();
    cmd.file(
        "rules/far.toml",
        &format!(
            "[[rule]]\nid = \"far\"\nselect = {{ tags = {{ env = \"prod\" }}, regions = [\"{R}\"] }}\ndestination = {{ account = \"{}\", region = \"{FAR}\", kms_key = \"alias/rds-vault\" }}\nmax_age = \"26h\"\n",
            org.account("vault")
        ),
    );
    let run = cmd.run(&["audit", "--out", "run"]);
    let findings = cmd.json("run/findings.json");
    assert_eq!(findings["errors"], json!([]), "{run}");
    let orders = source(&findings, &org.arn("prod", R, "orders"));
    assert_eq!(
        orders["latest_replica"]["arn"],
        format!(
            "arn:aws:rds:{FAR}:{}:snapshot:orders-far",
            org.account("vault")
        ),
        "{run}"
    );
    let failing: Vec<&str> = orders["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["status"] != "PASS" && c["status"] != "SKIP")
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(failing, ["share-exposure"], "{run}");
}

/// Re-judging an inventory at an instant before its replicas existed (issue 11): a snapshot made after
/// `as_of` (by its data time or its own creation time) is no replica then, so nothing is COMPLIANT on
/// the strength of later evidence; the terminal and report.html say the evidence was read later.
#[test]
fn evaluate_as_of_before_the_replicas_existed_counts_none_of_them() {
    let org = crate::ci::org();
    let mut cmd = org.rdsguard();
    cmd.file(
        "rules.toml",
        &format!(
            "[[rule]]\nid = \"prod\"\nselect = {{ accounts = [\"{}\"], regions = [\"{R}\"] }}\ndestination = {{ account = \"{}\", kms_key = \"alias/rds-vault\" }}\nmax_age = \"2d\"\n",
            org.account("prod"),
            org.account("vault")
        ),
    );
    let run = cmd.audit("run", &[]);
    assert_eq!(run.code, 0, "both copies are fresh enough now\n{run}");

    // Three hours before the emulator's now: orders' snapshot (2 h old) did not exist yet, and both
    // copies in the vault were made just now.
    let earlier = rfc3339(emulator_now(&org.account("prod")) - chrono::Duration::hours(3));
    let run = cmd.run(&[
        "evaluate",
        "--inventory",
        "run/inventory.json",
        "--rules",
        "rules.toml",
        "--as-of",
        &earlier,
        "--out",
        "earlier",
    ]);
    assert_eq!(run.code, 1, "{run}");
    let findings = cmd.json("earlier/findings.json");
    for source in findings["sources"].as_array().expect("sources") {
        assert_eq!(source["status"], "NON_COMPLIANT", "{source}");
        assert_eq!(source["replica_count"], 0, "{source}");
        assert_eq!(source["replicas_after_as_of"], 1, "{source}");
        assert!(source["latest_replica"].is_null(), "{source}");
    }
    let warned = "later than the instant judged";
    assert!(run.stdout.contains(warned), "{run}");
    assert!(run.stdout.contains("were made after"), "{run}");
    let html = std::fs::read_to_string(cmd.path("earlier/report.html")).expect("report.html");
    assert!(html.contains(warned), "report.html says it too");
}

/// What real organizations have (issue 17): read replicas, in-region and cross-region, are not
/// sources (UNGOVERNED, with the reason); a database created within the rule's grace with no replica
/// yet is not failed for it, one created long ago is.
#[test]
fn read_replicas_are_not_sources_and_new_databases_get_a_grace_period() {
    const FAR: &str = "eu-west-1";
    let org = seed(vault_and_prod(
        R,
        json!({
            "instances": [
                {"account": "prod", "id": "orders", "kms_key": "share-key"},
                {"account": "prod", "id": "brand-new", "kms_key": "share-key", "at": "-2h"},
                {"account": "prod", "id": "forgotten", "kms_key": "share-key"}
            ],
            "read_replicas": [
                {"account": "prod", "id": "orders-r", "source": "orders"},
                {"account": "prod", "region": FAR, "id": "orders-far", "source": format!("arn:aws:rds:{R}:{{account:prod}}:db:orders")}
            ],
            "snapshots": [{"account": "prod", "id": "orders-s", "instance": "orders", "at": "-3h"}],
            "copies": [{"from": {"account": "prod", "snapshot": "orders-s"}, "account": "vault", "id": "orders-c",
                        "kms_key": "vault-key"}]
        }),
    ));
    let mut cmd = org.rdsguard();
    cmd.file(
        "rules.toml",
        &format!(
            "[[rule]]\nid = \"prod\"\nselect = {{ accounts = [\"{}\"], regions = [\"{R}\", \"{FAR}\"] }}\ndestination = {{ account = \"{}\", kms_key = \"alias/rds-vault\" }}\nmax_age = \"26h\"\n",
            org.account("prod"),
            org.account("vault")
        ),
    );
    let run = cmd.audit("run", &[]);
    assert_eq!(run.code, 1, "{run}");
    let findings = cmd.json("run/findings.json");
    let expected: BTreeMap<String, (String, Vec<String>)> = [
        ("prod/orders", ("COMPLIANT", vec![])),
        ("prod/orders-r", ("UNGOVERNED", vec![])),
        ("prod/orders-far", ("UNGOVERNED", vec![])),
        ("prod/brand-new", ("COMPLIANT", vec![])),
        (
            "prod/forgotten",
            ("NON_COMPLIANT", vec!["replica-present=FAIL"]),
        ),
    ]
    .into_iter()
    .map(|(k, (s, f))| {
        (
            k.to_string(),
            (s.to_string(), f.into_iter().map(str::to_string).collect()),
        )
    })
    .collect();
    assert_eq!(verdicts(&org, &findings), expected, "{run}");
    for (id, region) in [("orders-r", R), ("orders-far", FAR)] {
        let replica = source(&findings, &org.arn("prod", region, id));
        assert_eq!(
            replica["ungoverned_reason"].as_str().map(
                |r| r.starts_with(&format!("read replica of {}", org.arn("prod", R, "orders")))
            ),
            Some(true),
            "{replica}"
        );
    }
    let fresh = source(&findings, &org.arn("prod", R, "brand-new"));
    let present = fresh["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["id"] == "replica-present")
        .expect("replica-present");
    assert_eq!(present["status"], "SKIP", "{present}");
    assert!(
        present["message"]
            .as_str()
            .is_some_and(|m| m.contains("ago, within the 1d2h grace")),
        "{present}"
    );
}

/// A rule whose destination is not an ACTIVE account of the organization (issue 17): the report names
/// it as an error, nothing read there is used, and its sources are ERROR, never NON_COMPLIANT each.
#[test]
fn a_destination_outside_the_organization_is_an_error_not_a_failure_per_source() {
    let org = crate::ci::org();
    let stranger = "999999999999";
    let mut cmd = org.rdsguard();
    cmd.file(
        "rules.toml",
        &format!(
            "[[rule]]\nid = \"elsewhere\"\nselect = {{ accounts = [\"{}\"], regions = [\"{R}\"] }}\ndestination = {{ account = \"{stranger}\", kms_key = \"alias/rds-vault\" }}\nmax_age = \"2d\"\n",
            org.account("prod")
        ),
    );
    let run = cmd.audit("run", &[]);
    assert_eq!(run.code, 3, "{run}");
    let findings = cmd.json("run/findings.json");
    let errors = findings["errors"].as_array().expect("errors");
    let named = errors
        .iter()
        .find(|e| e["code"] == "DestinationNotInOrganization")
        .unwrap_or_else(|| panic!("{errors:?}"));
    assert_eq!(named["account_id"], stranger);
    assert!(
        named["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("rule(s) elsewhere name 999999999999")),
        "{named}"
    );
    assert_eq!(findings["summary"]["error"], 2, "{run}");
    assert_eq!(findings["summary"]["non_compliant"], 0, "{run}");
    assert!(run.stdout.contains("DestinationNotInOrganization"), "{run}");
}
