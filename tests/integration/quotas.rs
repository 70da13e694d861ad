//! Quota headroom (issue 17): `vault-capacity` against the emulator's manual snapshot quotas (FAIL
//! with a small quota, PASS with room, the 90% warning), and remediation that refuses the copies a
//! full vault cannot take, before making anything.

use serde_json::{json, Value};

use crate::harness::{calls_by, control, seed, Org};

const R: &str = "us-east-1";

/// `dbs` in prod under a key the vault may use; `orders` (when listed) has one replica in the vault.
fn org(dbs: &[&str]) -> Org {
    let instances: Vec<Value> = dbs
        .iter()
        .map(
            |id| json!({"account": "prod", "id": id, "engine": "postgres", "kms_key": "share-key"}),
        )
        .collect();
    let mut spec = json!({
        "accounts": [{"key": "vault", "name": "Vault"}, {"key": "prod", "name": "Prod"}],
        "keys": [
            {"key": "vault-key", "account": "vault", "region": R, "alias": "alias/rds-vault"},
            {"key": "share-key", "account": "prod", "region": R, "alias": "alias/rds-share", "grant_accounts": ["vault"]}
        ],
        "instances": instances,
    });
    if dbs.contains(&"orders") {
        spec["snapshots"] =
            json!([{"account": "prod", "id": "orders-s", "instance": "orders", "at": "-2h"}]);
        spec["copies"] = json!([{"from": {"account": "prod", "snapshot": "orders-s"}, "account": "vault",
            "id": "orders-copy", "kms_key": "vault-key", "at": "-1h",
            "tags": {"rdsguard:source-arn": format!("arn:aws:rds:{R}:{{account:prod}}:db:orders"),
                     "rdsguard:managed": "true"}}]);
    }
    seed(spec)
}

fn rules(org: &Org, max: u32) -> String {
    format!(
        r#"[[rule]]
id = "prod"
select = {{ accounts = ["{prod}"], regions = ["{R}"] }}
destination = {{ account = "{vault}", kms_key = "alias/rds-vault" }}
source_kms_key = "alias/rds-share"
max_age = "26h"
retain = {{ max = {max} }}
"#,
        prod = org.account("prod"),
        vault = org.account("vault")
    )
}

/// The vault may keep `max` manual DB snapshots in `R` (`None`: AWS's default, 100).
fn vault_quota(org: &Org, max: Option<u32>) {
    let vault = org.account("vault");
    control(
        "DELETE",
        &format!("/_rdsguard/quotas?account_id={vault}"),
        None,
    );
    if let Some(max) = max {
        control(
            "POST",
            "/_rdsguard/quotas",
            Some(json!({"account_id": vault, "region": R, "ManualSnapshots": max})),
        );
    }
}

fn capacity<'a>(findings: &'a Value, id: &str) -> &'a Value {
    findings["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .find(|s| s["identifier"] == id)
        .and_then(|s| {
            s["checks"]
                .as_array()?
                .iter()
                .find(|c| c["id"] == "vault-capacity")
        })
        .unwrap_or_else(|| panic!("no vault-capacity for {id}: {findings:#}"))
}

fn status<'a>(findings: &'a Value, id: &str) -> &'a str {
    findings["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .find(|s| s["identifier"] == id)
        .and_then(|s| s["status"].as_str())
        .unwrap_or_default()
}

#[test]
fn vault_capacity_fails_with_a_small_quota_warns_from_ninety_percent_and_passes_with_room() {
    // orders has one replica, billing none: 1 used - 1 + 2 x retain.max 3 = 6 kept in the vault.
    let org = org(&["orders", "billing"]);
    let vault = org.account("vault");
    let mut cmd = org.rdsguard();
    cmd.file("rules.toml", &rules(&org, 3));
    let scope = format!("{vault}/{R}");

    vault_quota(&org, Some(5));
    let before = calls_by(&vault).len();
    let run = cmd.audit("small", &[]);
    assert_eq!(run.code, 1, "{run}");
    let quota_reads = calls_by(&vault)[before..]
        .iter()
        .filter(|c| *c == "rds:DescribeAccountAttributes")
        .count();
    assert_eq!(quota_reads, 1, "one read of the vault's quotas");
    let findings = cmd.json("small/findings.json");
    for id in ["orders", "billing"] {
        let check = capacity(&findings, id);
        assert_eq!(check["status"], "FAIL", "{check}");
        assert_eq!(
            check["observed"],
            format!("6 of 5 manual DB snapshots in {scope} after retain.max")
        );
        assert_eq!(status(&findings, id), "NON_COMPLIANT");
    }
    assert_eq!(
        findings["quotas"],
        json!([{"account_id": vault, "region": R, "quota": "ManualSnapshots", "used": 1, "max": 5,
                "sources": 2, "replicas": 1, "retain_max": 6, "projected": 6, "percent": 120,
                "state": "over"}])
    );
    assert!(
        run.stdout.contains(&format!(
            "quota {scope}: 6 of 5 DB snapshots kept (OVER 120%)"
        )),
        "{run}"
    );
    // Security Hub's findings carry the check like any other.
    let asff: Value = cmd.json("small/asff.json");
    let generated: Vec<&str> = asff
        .as_array()
        .expect("asff")
        .iter()
        .filter_map(|f| f["GeneratorId"].as_str())
        .filter(|g| g.contains("vault-capacity"))
        .collect();
    assert_eq!(generated.len(), 2, "{asff:#}");

    // 6 of 6: it fits, at 100% of the quota: a PASS that warns, and a run warning.
    vault_quota(&org, Some(6));
    let run = cmd.audit("full", &[]);
    let findings = cmd.json("full/findings.json");
    let check = capacity(&findings, "orders");
    assert_eq!(check["status"], "PASS", "{check}");
    assert!(
        check["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("warning: 100% of the quota (6 of 6)"),
        "{check}"
    );
    assert_eq!(status(&findings, "orders"), "COMPLIANT");
    let warnings = findings["warnings"].as_array().expect("warnings");
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().unwrap_or_default().starts_with(&format!(
                "6 of 6 manual DB snapshots in {scope} after retain.max: 100% of the quota"
            ))),
        "{warnings:?}"
    );
    assert!(
        run.stdout
            .contains(&format!("quota {scope}: 6 of 6 DB snapshots kept (100%)")),
        "{run}"
    );
    let html = std::fs::read_to_string(cmd.path("full/report.html")).expect("report.html");
    assert!(html.contains("<tr class=\"quota-near\">"));

    // AWS's default quota: plenty of room, no warning, no line in the summary.
    vault_quota(&org, None);
    let run = cmd.audit("room", &[]);
    let findings = cmd.json("room/findings.json");
    let check = capacity(&findings, "orders");
    assert_eq!(check["status"], "PASS", "{check}");
    assert_eq!(
        check["observed"],
        format!("6 of 100 manual DB snapshots in {scope} after retain.max")
    );
    assert!(
        findings["warnings"]
            .as_array()
            .expect("warnings")
            .is_empty(),
        "{findings:#}"
    );
    assert!(!run.stdout.contains("quota "), "{run}");
}

#[test]
fn remediation_refuses_the_databases_a_full_vault_cannot_take_and_starts_nothing_for_them() {
    // Three databases without a replica; the vault may keep two manual DB snapshots.
    let org = org(&["alpha", "bravo", "charlie"]);
    let (prod, vault) = (org.account("prod"), org.account("vault"));
    vault_quota(&org, Some(2));
    let mut cmd = org.rdsguard();
    cmd.file("rules.toml", &rules(&org, 1));

    let dry = cmd.remediate("dry", &["--dry-run"]);
    assert_eq!(dry.code, 1, "{dry}");
    let plan: Value = cmd.json("dry/plan.json");
    let planned: Vec<&str> = plan["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["identifier"].as_str())
        .collect();
    assert_eq!(planned, ["alpha", "bravo"]);
    let blocked = plan["blocked"].as_array().expect("blocked");
    let charlie = blocked
        .iter()
        .find(|b| {
            b["source_arn"]
                .as_str()
                .unwrap_or_default()
                .ends_with(":db:charlie")
        })
        .unwrap_or_else(|| panic!("charlie is blocked: {blocked:#?}"));
    assert_eq!(
        charlie["reason"],
        format!("the copy would push {vault}/{R} over its ManualSnapshots quota (manual DB snapshots): 0 of 2 used, and 2 planned by the databases before it; nothing is done for this database (raise the quota, or delete manual snapshots there first: rdsguard copies before it prunes)")
    );
    assert!(
        dry.stdout.contains("over its ManualSnapshots quota"),
        "{dry}"
    );

    let run = cmd.remediate("run", &[]);
    let findings = cmd.json("run/findings.json");
    assert_eq!(
        findings["errors"],
        json!([]),
        "no copy was refused by AWS\n{run}"
    );
    let results = findings["remediation"]["results"]
        .as_array()
        .expect("results");
    assert_eq!(results.len(), 2, "{results:#?}");
    assert!(results.iter().all(|r| r["ok"] == true), "{results:#?}");
    assert_eq!(
        status(&findings, "alpha"),
        "NON_COMPLIANT",
        "vault-capacity still fails"
    );
    assert_eq!(capacity(&findings, "alpha")["status"], "FAIL");
    let present = |id: &str| {
        findings["sources"]
            .as_array()
            .expect("sources")
            .iter()
            .find(|s| s["identifier"] == id)
            .map(|s| s["replica_count"].clone())
    };
    assert_eq!(present("alpha"), Some(json!(1)));
    assert_eq!(present("bravo"), Some(json!(1)));
    assert_eq!(present("charlie"), Some(json!(0)));
    // Nothing was made for charlie, in either account.
    let inventory = cmd.json("run/inventory.json");
    let made_for_charlie: Vec<&Value> = inventory["snapshots"]
        .as_array()
        .expect("snapshots")
        .iter()
        .filter(|s| {
            s["identifier"]
                .as_str()
                .unwrap_or_default()
                .contains("charlie")
        })
        .collect();
    assert!(made_for_charlie.is_empty(), "{made_for_charlie:#?}");
    let quotas = &findings["quotas"][0];
    assert_eq!(
        (quotas["used"].clone(), quotas["max"].clone()),
        (json!(2), json!(2))
    );
    let _ = prod;
}
