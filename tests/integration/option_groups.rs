//! Option groups (issue 17) against the emulator: `source-option-group-shareable` fails for a
//! database whose option group has a persistent option (SQL Server TDE) and passes for a default
//! group, an unread group is ERROR; remediation refuses such a database and makes nothing; a copy
//! across regions carries the rule's `destination.option_group`, and without one the database is
//! refused before anything is made.

use serde_json::{json, Value};

use crate::harness::{block_on, calls_by, inject, remove_fault, seed, Cmd, Org, Run};

const R: &str = "us-east-1";
const FAR: &str = "us-west-2";

/// prod: `payroll` (SQL Server, option group `payroll-tde` with TDE), `plain` (postgres, default
/// group) and `orders` (MySQL, option group `orders-audit` with the audit plugin, neither
/// persistent nor permanent); the vault has `vault-audit` in FAR and the vault key in both regions.
fn org() -> Org {
    seed(json!({
        "accounts": [{"key": "vault", "name": "Vault"}, {"key": "prod", "name": "Prod"}],
        "keys": [
            {"key": "vault-key", "account": "vault", "region": R, "alias": "alias/rds-vault"},
            {"key": "vault-key-far", "account": "vault", "region": FAR, "alias": "alias/rds-vault"},
            {"key": "share-key", "account": "prod", "region": R, "alias": "alias/rds-share", "grant_accounts": ["vault"]}
        ],
        "option_groups": [
            {"account": "prod", "region": R, "name": "payroll-tde", "engine": "sqlserver-se",
             "major_engine_version": "15.00", "options": ["TDE"]},
            {"account": "prod", "region": R, "name": "orders-audit", "engine": "mysql",
             "major_engine_version": "8.0", "options": ["MARIADB_AUDIT_PLUGIN"]},
            {"account": "vault", "region": FAR, "name": "vault-audit", "engine": "mysql",
             "major_engine_version": "8.0", "options": ["MARIADB_AUDIT_PLUGIN"]}
        ],
        "instances": [
            {"account": "prod", "id": "payroll", "engine": "sqlserver-se", "kms_key": "share-key",
             "params": {"EngineVersion": "15.00.4385.2.v1", "OptionGroupName": "payroll-tde",
                        "LicenseModel": "license-included"}},
            {"account": "prod", "id": "plain", "engine": "postgres", "kms_key": "share-key"},
            {"account": "prod", "id": "orders", "engine": "mysql", "kms_key": "share-key",
             "params": {"EngineVersion": "8.0.39", "OptionGroupName": "orders-audit"}}
        ]
    }))
}

/// One rule for `ids` of prod into the vault (in `region`), with `extra` in its destination.
fn rules(org: &Org, ids: &[&str], region: &str, extra: &str) -> String {
    format!(
        r#"[[rule]]
id = "prod"
select = {{ identifiers = {ids:?}, accounts = ["{prod}"], regions = ["{R}"] }}
destination = {{ account = "{vault}", region = "{region}", kms_key = "alias/rds-vault"{extra} }}
source_kms_key = "alias/rds-share"
max_age = "26h"
"#,
        prod = org.account("prod"),
        vault = org.account("vault")
    )
}

/// `rdsguard audit --rules rules.toml --out OUT` with `extra` flags.
fn audit(cmd: &Cmd, out: &str, extra: &[&str]) -> Run {
    let mut args = vec!["audit", "--rules", "rules.toml", "--out", out];
    args.extend(extra);
    cmd.run(&args)
}

fn source<'a>(findings: &'a Value, id: &str) -> &'a Value {
    findings["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .find(|s| s["identifier"] == id)
        .unwrap_or_else(|| panic!("no source {id}: {findings:#}"))
}

fn check<'a>(findings: &'a Value, id: &str) -> &'a Value {
    source(findings, id)["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["id"] == "source-option-group-shareable")
        .unwrap_or_else(|| panic!("no source-option-group-shareable for {id}: {findings:#}"))
}

fn blocked_reason(plan: &Value, id: &str) -> String {
    plan["blocked"]
        .as_array()
        .expect("blocked")
        .iter()
        .find(|b| {
            b["source_arn"]
                .as_str()
                .unwrap_or_default()
                .ends_with(&format!(":db:{id}"))
        })
        .and_then(|b| b["reason"].as_str())
        .unwrap_or_else(|| panic!("{id} is not blocked: {plan:#}"))
        .to_string()
}

/// Mutating RDS calls made with `account`'s credentials.
fn mutations(account: &str) -> Vec<String> {
    calls_by(account)
        .into_iter()
        .filter(|c| {
            let op = c.split(':').nth(1).unwrap_or_default();
            ["Create", "Copy", "Modify", "Delete", "Restore"]
                .iter()
                .any(|p| op.starts_with(p))
        })
        .collect()
}

#[test]
fn a_persistent_option_fails_the_check_a_default_group_passes_and_an_unread_group_is_an_error() {
    let org = org();
    let prod = org.account("prod");
    let mut cmd = org.rdsguard();
    cmd.file("rules.toml", &rules(&org, &["payroll", "plain"], R, ""));
    let before = calls_by(&prod).len();
    let run = audit(&cmd, "audit", &[]);
    assert_eq!(run.code, 1, "{run}");
    let listings = calls_by(&prod)[before..]
        .iter()
        .filter(|c| *c == "rds:DescribeOptionGroups")
        .count();
    assert_eq!(listings, 1, "one listing of prod's option groups");
    let findings = cmd.json("audit/findings.json");
    let payroll = check(&findings, "payroll");
    assert_eq!(payroll["status"], "FAIL", "{payroll}");
    assert_eq!(payroll["observed"], "payroll-tde: TDE (persistent)");
    assert!(
        payroll["message"].as_str().unwrap_or_default().starts_with(
            "option group payroll-tde has TDE (persistent): AWS does not share a snapshot"
        ),
        "{payroll}"
    );
    assert_eq!(source(&findings, "payroll")["status"], "NON_COMPLIANT");
    let plain = check(&findings, "plain");
    assert_eq!(plain["status"], "PASS", "{plain}");
    assert!(
        plain["observed"]
            .as_str()
            .unwrap_or_default()
            .starts_with("default:postgres"),
        "{plain}"
    );
    // Security Hub's findings carry the new check like the others.
    let asff: Value = cmd.json("audit/asff.json");
    assert!(
        asff.as_array()
            .expect("asff")
            .iter()
            .any(|f| f["GeneratorId"]
                .as_str()
                .unwrap_or_default()
                .ends_with("source-option-group-shareable")),
        "{asff:#}"
    );

    // Refused: ERROR, never PASS, and the run says it could not read everything.
    let fault = inject(
        json!({"service": "rds", "operation": "DescribeOptionGroups",
                              "account_id": prod, "code": "AccessDenied",
                              "message": "not allowed", "http_status": 403}),
    );
    let run = audit(&cmd, "denied", &[]);
    remove_fault(fault);
    assert_eq!(run.code, 3, "{run}");
    let findings = cmd.json("denied/findings.json");
    let payroll = check(&findings, "payroll");
    assert_eq!(payroll["status"], "ERROR", "{payroll}");
    assert_eq!(
        payroll["message"],
        format!("could not read the options of payroll-tde in {prod}/{R}: AccessDenied on DescribeOptionGroups: not allowed")
    );
    assert_eq!(check(&findings, "plain")["status"], "PASS");
}

#[test]
fn remediation_refuses_a_database_whose_snapshots_cannot_be_shared_and_makes_nothing() {
    let org = org();
    let prod = org.account("prod");
    let mut cmd = org.rdsguard();
    cmd.file("rules.toml", &rules(&org, &["payroll"], R, ""));
    let vault = org.account("vault");
    let (before, before_vault) = (mutations(&prod).len(), mutations(&vault).len());
    let run = audit(&cmd, "run", &["--remediate"]);
    assert_eq!(run.code, 1, "{run}");
    let reason = blocked_reason(&cmd.json("run/plan.json"), "payroll");
    assert!(
        reason.starts_with(
            "source-option-group-shareable fails (option group payroll-tde has TDE (persistent):"
        ),
        "{reason}"
    );
    assert!(
        reason
            .ends_with("AWS would refuse to share its snapshot; nothing is done for this database"),
        "{reason}"
    );
    assert!(run.stdout.contains("payroll-tde"), "{run}");
    let findings = cmd.json("run/findings.json");
    assert_eq!(
        findings["remediation"]["results"],
        json!([]),
        "{findings:#}"
    );
    assert_eq!(
        mutations(&prod)[before..],
        [] as [String; 0],
        "nothing made in prod"
    );
    assert_eq!(
        mutations(&vault)[before_vault..],
        [] as [String; 0],
        "nothing made in the vault"
    );
}

/// The vault's DB snapshots in `region`: (identifier, option group).
fn vault_snapshots(org: &Org, region: &str) -> Vec<(String, String)> {
    let client = aws_sdk_rds::Client::new(&org.sdk("vault", region));
    let out = block_on(async {
        client
            .describe_db_snapshots()
            .snapshot_type("manual")
            .send()
            .await
            .expect("describe")
    });
    out.db_snapshots()
        .iter()
        .map(|s| {
            (
                s.db_snapshot_identifier().unwrap_or_default().to_string(),
                s.option_group_name().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_copy_across_regions_carries_the_rules_option_group_and_without_one_nothing_is_made() {
    let org = org();
    let prod = org.account("prod");
    let mut cmd = org.rdsguard();

    // No option group named for FAR: refused before anything is made.
    cmd.file("rules.toml", &rules(&org, &["orders"], FAR, ""));
    let before = mutations(&prod).len();
    let run = audit(&cmd, "refused", &["--remediate"]);
    assert_eq!(run.code, 1, "{run}");
    let reason = blocked_reason(&cmd.json("refused/plan.json"), "orders");
    assert_eq!(
        reason,
        format!("the database uses the option group orders-audit, not a default one, and its copy crosses from {R} to {FAR}: AWS asks for the target Region's option group (CopyDBSnapshot OptionGroupName), or the copy restores without the group's options; rule `prod` names no option group of {} in {FAR} (destination.option_group): nothing is done for this database", org.account("vault"))
    );
    assert_eq!(
        mutations(&prod)[before..],
        [] as [String; 0],
        "nothing made in prod"
    );
    assert!(vault_snapshots(&org, FAR).is_empty());

    // Named: the copy into FAR is associated with it.
    cmd.file(
        "rules.toml",
        &rules(&org, &["orders"], FAR, ", option_group = \"vault-audit\""),
    );
    let dry = audit(&cmd, "dry", &["--remediate", "--dry-run"]);
    assert!(
        dry.stdout.contains("with option group vault-audit"),
        "{dry}"
    );
    let run = audit(&cmd, "run", &["--remediate"]);
    assert_eq!(run.code, 0, "{run}");
    let findings = cmd.json("run/findings.json");
    assert_eq!(findings["errors"], json!([]), "{findings:#}");
    assert_eq!(source(&findings, "orders")["status"], "COMPLIANT");
    let replicas = vault_snapshots(&org, FAR);
    assert_eq!(replicas.len(), 1, "{replicas:?}");
    assert_eq!(replicas[0].1, "vault-audit", "{replicas:?}");
    // The stage copy in the source's region was cleaned up.
    assert!(vault_snapshots(&org, R).is_empty());
}
