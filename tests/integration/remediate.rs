//! `audit --remediate`: every kind of source repaired, dry runs and second runs change nothing, a
//! failed step leaves a clear error and a journal that `--resume` finishes without duplicates.

use serde_json::{json, Value};

use crate::harness::{
    calls_by, inject, kill_mid_call, remediate_args, remove_fault, seed, vault_and_prod, Org,
};

const R: &str = "us-east-1";
const FAR: &str = "eu-west-1";

pub(crate) fn org() -> Org {
    let managed_copy = |id: &str, at: &str| {
        json!({"from": {"account": "prod", "snapshot": "hoard-s"}, "account": "vault", "id": id,
               "kms_key": "vault-key", "at": at,
               "tags": {"rdsguard:source-arn": format!("arn:aws:rds:{R}:{{account:prod}}:db:hoard"),
                        "rdsguard:managed": "true"}})
    };
    let db = |id: &str, key: Option<&str>| json!({"account": "prod", "id": id, "engine": "postgres", "encrypted": key.is_some(), "kms_key": key});
    seed(vault_and_prod(
        R,
        json!({
            "keys": [{"key": "vault-key-far", "account": "vault", "region": FAR, "alias": "alias/rds-vault"}],
            "instances": [
                db("plain", None), db("awskey", Some("aws/rds")), db("cmk", Some("share-key")),
                db("hoard", Some("share-key")), db("far", Some("share-key"))
            ],
            "clusters": [{"account": "prod", "id": "ledger", "engine": "aurora-postgresql",
                          "encrypted": true, "kms_key": "share-key"}],
            "snapshots": [{"account": "prod", "id": "hoard-s", "instance": "hoard", "at": "-50h"}],
            "copies": [
                managed_copy("hoard-1", "-49h"), managed_copy("hoard-2", "-48h"),
                managed_copy("hoard-3", "-47h"), managed_copy("hoard-4", "-46h"),
                // Someone else's copy of hoard, linked by source ARN: never pruned by rdsguard.
                {"from": {"account": "prod", "snapshot": "hoard-s"}, "account": "vault", "id": "hoard-manual",
                 "kms_key": "vault-key", "at": "-50h"}
            ]
        }),
    ))
}

pub(crate) fn rules(org: &Org) -> String {
    let share = "source_kms_key = \"alias/rds-share\"\n";
    two_rules(org, share, "retain = { min = 1, max = 3 }\n")
}

/// `far-away` (prod's `far`, copied into the vault in FAR) and `prod` (the rest of prod, copied in
/// R), both with the lines `extra`, `prod` with `prod_extra` too.
pub(crate) fn two_rules(org: &Org, extra: &str, prod_extra: &str) -> String {
    let (vault, prod) = (org.account("vault"), org.account("prod"));
    format!(
        r#"[[rule]]
id = "far-away"
select = {{ identifiers = ["far"], accounts = ["{prod}"], regions = ["{R}"] }}
destination = {{ account = "{vault}", region = "{FAR}", kms_key = "alias/rds-vault" }}
max_age = "26h"
{extra}
[[rule]]
id = "prod"
select = {{ accounts = ["{prod}"], regions = ["{R}"] }}
destination = {{ account = "{vault}", kms_key = "alias/rds-vault" }}
max_age = "26h"
{extra}{prod_extra}"#
    )
}

/// Mutating calls the emulator recorded with `account`'s credentials.
fn mutations(org: &Org, account_key: &str) -> Vec<String> {
    calls_by(&org.account(account_key))
        .into_iter()
        .filter(|c| {
            let op = c.split(':').nth(1).unwrap_or_default();
            ["Create", "Copy", "Modify", "Delete", "Restore", "AddTags"]
                .iter()
                .any(|p| op.starts_with(p))
        })
        .collect()
}

fn statuses(findings: &Value) -> Vec<(String, String)> {
    findings["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .map(|s| {
            (
                s["identifier"].as_str().unwrap_or_default().to_string(),
                s["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Snapshots in the inventory owned by `account` (any region), by identifier.
fn snapshots_of(inventory: &Value, account: &str) -> Vec<String> {
    let mut ids: Vec<String> = inventory["snapshots"]
        .as_array()
        .expect("snapshots")
        .iter()
        .filter(|s| s["account_id"] == account)
        .map(|s| {
            format!(
                "{}/{}",
                s["region"].as_str().unwrap_or(""),
                s["identifier"].as_str().unwrap_or("")
            )
        })
        .collect();
    ids.sort();
    ids
}

#[test]
fn remediation_repairs_every_kind_of_source_and_a_second_run_changes_nothing() {
    let org = org();
    let mut cmd = org.rdsguard();
    cmd.file("rules.toml", &rules(&org));
    let before = (
        mutations(&org, "prod").len(),
        mutations(&org, "vault").len(),
    );

    // Dry run: the plan, nothing changed.
    let dry = cmd.remediate("dry", &["--dry-run"]);
    assert_eq!(dry.code, 1, "{dry}");
    assert!(
        dry.stdout
            .contains("Remediation plan (dry run: nothing will change): 6 database(s) to repair"),
        "{dry}"
    );
    assert!(dry.stdout.contains("re-encrypt in"), "{dry}");
    assert!(dry.stdout.contains("prune      delete hoard-1 in"), "{dry}");
    assert_eq!(
        (
            mutations(&org, "prod").len(),
            mutations(&org, "vault").len()
        ),
        before,
        "a dry run changes nothing"
    );
    let plan: Value = cmd.json("dry/plan.json");
    assert_eq!(plan["items"].as_array().map(Vec::len), Some(6));

    // The real run: every source repaired, the report shows the state after it.
    let run = cmd.remediate("run", &[]);
    assert_eq!(run.code, 0, "{run}");
    let findings = cmd.json("run/findings.json");
    for (id, status) in statuses(&findings) {
        assert_eq!(status, "COMPLIANT", "{id}\n{run}");
    }
    let results = findings["remediation"]["results"]
        .as_array()
        .expect("results");
    assert_eq!(results.len(), 6);
    assert!(results.iter().all(|r| r["ok"] == true), "{results:?}");
    let inventory = cmd.json("run/inventory.json");
    let prod = org.account("prod");
    let vault = org.account("vault");
    // No transit snapshot is left in the source account.
    let left: Vec<String> = snapshots_of(&inventory, &prod)
        .into_iter()
        .filter(|s| s.contains("rdsguard-"))
        .collect();
    assert!(left.is_empty(), "transit snapshots left: {left:?}");
    // Replicas: one per repaired source (the far one in eu-west-1, no stage left behind); hoard
    // pruned to retain.max = 3 keeping the unmanaged copy and the newest.
    let vault_snaps = snapshots_of(&inventory, &vault);
    let replicas: Vec<&String> = vault_snaps
        .iter()
        .filter(|s| s.contains(&format!("rdsguard-{prod}-")))
        .collect();
    assert_eq!(
        replicas.len(),
        6,
        "one new replica per repaired source: {vault_snaps:?}"
    );
    assert!(
        vault_snaps
            .iter()
            .any(|s| s.starts_with(&format!("{FAR}/rdsguard-{prod}-far-"))),
        "{vault_snaps:?}"
    );
    assert!(
        !vault_snaps.iter().any(|s| s.contains("-stage")),
        "{vault_snaps:?}"
    );
    let hoard: Vec<&String> = vault_snaps.iter().filter(|s| s.contains("hoard")).collect();
    assert_eq!(hoard.len(), 3, "{hoard:?}");
    assert!(
        hoard.iter().any(|s| s.ends_with("/hoard-manual")),
        "someone else's copy is never pruned"
    );
    assert!(
        hoard.iter().any(|s| s.ends_with("/hoard-4")),
        "the newest existing copy is kept"
    );
    // The replicas are under the vault key, as the rule pins (replica-encryption passes above too).
    let journal = std::fs::read_to_string(cmd.path("run/journal.jsonl")).expect("journal");
    assert!(journal.lines().count() > 20);

    // A second remediation of a compliant organization changes nothing.
    let before = (
        mutations(&org, "prod").len(),
        mutations(&org, "vault").len(),
    );
    let again = cmd.remediate("again", &[]);
    assert_eq!(again.code, 0, "{again}");
    assert!(again.stdout.contains("0 database(s) to repair"), "{again}");
    assert_eq!(
        (
            mutations(&org, "prod").len(),
            mutations(&org, "vault").len()
        ),
        before
    );
}

/// A fault at each step: a clear error naming the step and the AWS error, a journal, and a resume
/// that finishes with no duplicate and no orphan.
#[test]
fn a_failed_step_is_reported_and_resume_finishes_without_duplicates() {
    for (step, account, operation) in [
        ("snapshot", "prod", "CreateDBSnapshot"),
        ("re-encrypt", "prod", "CopyDBSnapshot"),
        ("share", "prod", "ModifyDBSnapshotAttribute"),
        ("copy", "vault", "CopyDBSnapshot"),
        ("cleanup", "prod", "DeleteDBSnapshot"),
    ] {
        let org = seed(vault_and_prod(
            R,
            json!({
                "instances": [{"account": "prod", "id": "plain", "engine": "postgres", "encrypted": false}]
            }),
        ));
        let mut cmd = org.rdsguard();
        cmd.file("rules.toml", &rules(&org));
        let fault = inject(json!({
            "service": "rds", "operation": operation, "account_id": org.account(account),
            "code": "InternalFailure", "message": format!("injected at {step}"), "http_status": 400
        }));
        let run = cmd.remediate("run", &[]);
        remove_fault(fault);
        assert_eq!(run.code, 3, "{step}: {run}");
        assert!(
            run.stdout
                .contains(&format!("at step {step}: {operation} InternalFailure")),
            "{step}: the failure names its step and the AWS error\n{run}"
        );
        let findings = cmd.json("run/findings.json");
        assert_eq!(findings["remediation"]["results"][0]["failed_step"], step);
        let journal = std::fs::read_to_string(cmd.path("run/journal.jsonl")).expect("journal");
        assert!(journal.contains("\"event\":\"failed\""), "{journal}");

        let resumed = cmd.run(&["audit", "--rules", "rules.toml", "--resume", "run"]);
        assert_eq!(resumed.code, 0, "{step}: {resumed}");
        let inventory = cmd.json("run/inventory.json");
        let vault = snapshots_of(&inventory, &org.account("vault"));
        assert_eq!(vault.len(), 1, "{step}: exactly one replica: {vault:?}");
        let prod = snapshots_of(&inventory, &org.account("prod"));
        assert!(
            prod.is_empty(),
            "{step}: no transit snapshot left: {prod:?}"
        );
        let findings = cmd.json("run/findings.json");
        assert_eq!(
            statuses(&findings),
            vec![("plain".to_string(), "COMPLIANT".to_string())]
        );
    }
}

/// Killed (SIGKILL) after the vault accepted the copy but before rdsguard saw the answer: the
/// journal does not know the copy exists. The resumed run finds it by name: one replica, no orphan.
#[test]
fn kill_9_mid_copy_then_resume_leaves_no_duplicate_and_no_orphan() {
    let org = seed(vault_and_prod(
        R,
        json!({
            "instances": [{"account": "prod", "id": "plain", "engine": "postgres", "encrypted": false}]
        }),
    ));
    let mut cmd = org.rdsguard();
    cmd.file("rules.toml", &rules(&org));
    let vault = org.account("vault");
    let journal = kill_mid_call(
        &cmd,
        &remediate_args("run", &[]),
        ("rds", "CopyDBSnapshot", &vault),
        "run/journal.jsonl",
        "copy",
    );
    let before = std::fs::read_to_string(&journal).expect("journal");
    let copy_done = before.lines().any(|line| {
        let entry: Value = serde_json::from_str(line).unwrap_or(Value::Null);
        entry["event"] == "done" && entry["step"] == "copy"
    });
    assert!(
        !copy_done,
        "killed before the copy was recorded as done:\n{before}"
    );

    let resumed = cmd.run(&["audit", "--rules", "rules.toml", "--resume", "run"]);
    assert_eq!(resumed.code, 0, "{resumed}");
    let inventory = cmd.json("run/inventory.json");
    let vault = snapshots_of(&inventory, &org.account("vault"));
    assert_eq!(vault.len(), 1, "exactly one replica: {vault:?}");
    let prod = snapshots_of(&inventory, &org.account("prod"));
    assert!(prod.is_empty(), "no transit snapshot left: {prod:?}");
    let after = std::fs::read_to_string(&journal).expect("journal");
    assert!(
        after.len() > before.len(),
        "the resumed run appends to the same journal"
    );
}

/// An unencrypted instance under a rule with no `source_kms_key` (issue 11): AWS shares an
/// unencrypted manual snapshot as it is, and the vault's copy encrypts it under the vault key. The
/// audit passes `source-key-shareable`; `--remediate` snapshots, shares and copies with no
/// re-encryption step, and the replica in the vault is under the vault's key.
#[test]
fn an_unencrypted_source_is_shared_as_is_and_encrypted_on_the_copy() {
    let org = seed(json!({
        "accounts": [{"key": "vault"}, {"key": "prod"}],
        "keys": [{"key": "vault-key", "account": "vault", "region": R, "alias": "alias/rds-vault"}],
        "instances": [{"account": "prod", "id": "plain", "engine": "postgres", "encrypted": false}]
    }));
    let rules = format!(
        "[[rule]]\nid = \"prod\"\nselect = {{ accounts = [\"{}\"], regions = [\"{R}\"] }}\ndestination = {{ account = \"{}\", kms_key = \"alias/rds-vault\" }}\nmax_age = \"26h\"\n",
        org.account("prod"),
        org.account("vault")
    );
    let mut cmd = org.rdsguard();
    cmd.file("rules.toml", &rules);
    let run = cmd.audit("before", &[]);
    assert_eq!(run.code, 1, "{run}");
    let findings = cmd.json("before/findings.json");
    let check = |findings: &Value, id: &str| -> Value {
        findings["sources"][0]["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .find(|c| c["id"] == id)
            .cloned()
            .unwrap_or(Value::Null)
    };
    let shareable = check(&findings, "source-key-shareable");
    assert_eq!(shareable["status"], "PASS", "{shareable}");
    assert_eq!(
        shareable["observed"],
        "unencrypted: shared as is, encrypted on copy into the vault"
    );
    assert_eq!(check(&findings, "replica-present")["status"], "FAIL");

    let run = cmd.remediate("fixed", &[]);
    assert_eq!(run.code, 0, "{run}");
    let journal = std::fs::read_to_string(cmd.path("fixed/journal.jsonl")).expect("journal");
    assert_eq!(
        journal.lines().next(),
        Some(r#"{"event":"journal","schema":"rdsguard.journal/v1"}"#),
        "the journal names its schema first"
    );
    let steps: Vec<String> = journal
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|e| e["event"] == "done")
        .map(|e| e["step"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        steps,
        ["find-replica", "snapshot", "share", "copy", "cleanup"],
        "no re-encryption: {journal}"
    );
    let findings = cmd.json("fixed/findings.json");
    assert_eq!(findings["sources"][0]["status"], "COMPLIANT", "{findings}");
    let encryption = check(&findings, "replica-encryption");
    assert_eq!(encryption["status"], "PASS", "{encryption}");
    let vault_key = org.seeded["keys"]["vault-key"].as_str().expect("vault key");
    assert_eq!(encryption["observed"], vault_key);
    let inventory = cmd.json("fixed/inventory.json");
    assert!(
        snapshots_of(&inventory, &org.account("prod")).is_empty(),
        "the unencrypted transit snapshot is unshared and deleted"
    );
}

/// A journal of another schema is refused before anything is sent to AWS (exit 2), naming the file,
/// the schema found and the one expected, rather than misread.
#[test]
fn resume_refuses_a_journal_of_another_schema() {
    let org = seed(json!({
        "accounts": [{"key": "vault"}, {"key": "prod"}],
        "keys": [{"key": "vault-key", "account": "vault", "region": R, "alias": "alias/rds-vault"}],
        "instances": [{"account": "prod", "id": "plain", "engine": "postgres", "encrypted": false}]
    }));
    let mut cmd = org.rdsguard();
    cmd.file("rules.toml", &rules(&org));
    cmd.file(
        "run/journal.jsonl",
        "{\"event\":\"journal\",\"schema\":\"rdsguard.journal/v9\"}\n{\"event\":\"plan\",\"unknown\":true}\n",
    );
    let before = calls_by(&org.account("prod")).len();
    let resumed = cmd.run(&["audit", "--rules", "rules.toml", "--resume", "run"]);
    assert_eq!(resumed.code, 2, "{resumed}");
    assert!(resumed.stderr.contains("run/journal.jsonl"), "{resumed}");
    assert!(resumed.stderr.contains("rdsguard.journal/v9"), "{resumed}");
    assert!(resumed.stderr.contains("rdsguard.journal/v1"), "{resumed}");
    assert_eq!(
        calls_by(&org.account("prod")).len(),
        before,
        "nothing is sent to AWS"
    );
}
