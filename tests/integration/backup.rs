//! AWS Backup copies as replicas (issue 13), against the emulator: the organization's backup plans are
//! seeded through the real Backup API (`StartBackupJob` in the source account, `StartCopyJob` into the
//! vault account), and the audit judges what sits in the vaults.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::harness::{calls_by, kill_mid_call, remediate_args, seed, verdicts, Org};

const R: &str = "us-east-1";

/// Backups of prod's and dev's databases, copied into the vault account's vaults: an unlocked one, a
/// compliance-locked one, a governance-locked one, a logically air-gapped one, one whose policy lets a
/// foreign account copy out; and one copy into the wrong account.
fn scenario() -> Org {
    let db = |account: &str, id: &str, key: &str, tags: Value| {
        json!({"account": account, "region": R, "id": id, "engine": "postgres",
               "encrypted": true, "kms_key": key, "tags": tags})
    };
    let prod = json!({"env": "prod"});
    let critical = json!({"tier": "critical"});
    let backup = |id: &str, account: &str, resource: &str, at: &str| {
        json!({"id": id, "account": account, "region": R, "vault": "Default",
               "resource": resource, "at": at, "delete_after_days": 35})
    };
    let copy = |id: &str, from: &str, account: &str, vault: &str, at: &str| {
        json!({"id": id, "from": from, "account": account, "region": R, "vault": vault,
               "at": at, "delete_after_days": 35})
    };
    let org_policy = json!(["organization"]);
    seed(json!({
        "accounts": [{"key": "vault", "name": "Vault"}, {"key": "prod", "name": "Prod"},
                     {"key": "dev", "name": "Dev"}, {"key": "other", "name": "Other"},
                     {"key": "bunker", "name": "Bunker"}],
        "keys": [
            {"key": "vault-key", "account": "vault", "region": R, "alias": "alias/rds-vault"},
            {"key": "other-key", "account": "other", "region": R, "alias": "alias/rds-vault"},
            {"key": "share-key", "account": "prod", "region": R, "alias": "alias/rds-share", "grant_accounts": ["vault", "other"]},
            {"key": "dev-share", "account": "dev", "region": R, "alias": "alias/rds-share", "grant_accounts": ["vault"]}
        ],
        "instances": [
            db("prod", "orders", "share-key", prod.clone()),
            db("dev", "orders", "dev-share", prod.clone()),
            db("prod", "mixed", "share-key", prod.clone()),
            db("prod", "stale", "share-key", prod.clone()),
            db("prod", "astray", "share-key", prod.clone()),
            db("prod", "leaky", "share-key", prod.clone()),
            db("prod", "locked", "share-key", critical.clone()),
            db("prod", "governed", "share-key", critical.clone()),
            db("prod", "plain", "share-key", critical.clone()),
            db("prod", "bunkered", "share-key", critical.clone()),
            db("prod", "sheltered", "share-key", critical.clone())
        ],
        "clusters": [{"account": "prod", "region": R, "id": "ledger", "engine": "aurora-postgresql",
                      "encrypted": true, "kms_key": "share-key", "tags": {"tier": "critical"}}],
        "snapshots": [{"account": "prod", "region": R, "id": "mixed-s", "instance": "mixed", "at": "-40h"}],
        "copies": [{"from": {"account": "prod", "region": R, "snapshot": "mixed-s"},
                    "account": "vault", "region": R, "id": "mixed-c", "kms_key": "vault-key", "at": "-39h",
                    "tags": {"rdsguard:source-arn": format!("arn:aws:rds:{R}:{{account:prod}}:db:mixed")}}],
        "backup_vaults": [
            {"account": "prod", "region": R, "name": "Default", "kms_key": "share-key", "at": "-30d"},
            {"account": "dev", "region": R, "name": "Default", "kms_key": "dev-share", "at": "-30d"},
            {"account": "vault", "region": R, "name": "central", "kms_key": "vault-key",
             "access_policy": org_policy, "at": "-30d"},
            {"account": "vault", "region": R, "name": "locked", "kms_key": "vault-key", "at": "-30d",
             "lock": {"min_retention_days": 7, "max_retention_days": 365, "changeable_for_days": 3},
             "access_policy": org_policy},
            {"account": "vault", "region": R, "name": "governed", "kms_key": "vault-key", "at": "-30d",
             "lock": {"min_retention_days": 7, "max_retention_days": 365},
             "access_policy": org_policy},
            {"account": "vault", "region": R, "name": "bunker", "air_gapped": true, "at": "-30d",
             "lock": {"min_retention_days": 7, "max_retention_days": 100},
             "access_policy": org_policy},
            {"account": "vault", "region": R, "name": "leaky", "kms_key": "vault-key", "at": "-30d",
             "access_policy": {"Version": "2012-10-17", "Statement": [
                 {"Sid": "CopiesIn", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::{account:prod}:root"},
                  "Action": "backup:CopyIntoBackupVault", "Resource": "*"},
                 {"Sid": "Partner", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
                  "Action": ["backup:CopyFromBackupVault", "backup:StartRestoreJob"], "Resource": "*"}]}},
            {"account": "other", "region": R, "name": "central", "kms_key": "other-key",
             "access_policy": org_policy, "at": "-30d"},
            // Owned by another account and shared into the vault account through AWS RAM.
            {"account": "bunker", "region": R, "name": "shelter", "air_gapped": true, "at": "-30d",
             "lock": {"min_retention_days": 7, "max_retention_days": 100},
             "access_policy": org_policy, "share_with": ["vault"]}
        ],
        "backups": [
            backup("orders-b", "prod", "orders", "-3h"),
            backup("mixed-b", "prod", "mixed", "-2h"),
            backup("stale-b", "prod", "stale", "-50h"),
            backup("astray-b", "prod", "astray", "-2h"),
            backup("leaky-b", "prod", "leaky", "-2h"),
            backup("locked-b", "prod", "locked", "-2h"),
            backup("governed-b", "prod", "governed", "-2h"),
            backup("plain-b", "prod", "plain", "-2h"),
            backup("bunkered-b", "prod", "bunkered", "-2h"),
            backup("ledger-b", "prod", "ledger", "-2h"),
            backup("sheltered-b", "prod", "sheltered", "-2h")
        ],
        "backup_copies": [
            copy("orders-c", "orders-b", "vault", "central", "-2h"),
            copy("mixed-c", "mixed-b", "vault", "central", "-1h"),
            copy("stale-c", "stale-b", "vault", "central", "-49h"),
            copy("astray-c", "astray-b", "other", "central", "-1h"),
            copy("leaky-c", "leaky-b", "vault", "leaky", "-1h"),
            copy("locked-c", "locked-b", "vault", "locked", "-1h"),
            copy("governed-c", "governed-b", "vault", "governed", "-1h"),
            copy("plain-c", "plain-b", "vault", "central", "-1h"),
            copy("bunkered-c", "bunkered-b", "vault", "bunker", "-1h"),
            copy("ledger-c", "ledger-b", "vault", "locked", "-1h"),
            copy("sheltered-c", "sheltered-b", "bunker", "shelter", "-1h")
        ]
    }))
}

fn rules(org: &Org) -> String {
    format!(
        r#"[[rule]]
id = "prod"
select = {{ tags = {{ env = "prod" }}, regions = ["{R}"] }}
destination = {{ account = "{vault}", kms_key = "alias/rds-vault" }}
max_age = "26h"
retain = {{ min = 1, max = 3 }}

[[rule]]
id = "critical"
select = {{ tags = {{ tier = "critical" }}, regions = ["{R}"] }}
destination = {{ account = "{vault}", replicas = ["backup"] }}
max_age = "26h"
immutable = {{ min_retention = "7d" }}
"#,
        vault = org.account("vault")
    )
}

fn source<'a>(findings: &'a Value, arn: &str) -> &'a Value {
    findings["sources"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["arn"] == arn))
        .unwrap_or_else(|| panic!("no source {arn}"))
}

fn check<'a>(source: &'a Value, id: &str) -> &'a Value {
    source["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["id"] == id))
        .unwrap_or_else(|| panic!("no check {id} in {source}"))
}

#[test]
fn backup_copies_in_the_vault_are_replicas_judged_for_age_key_lock_and_exposure() {
    let org = scenario();
    let mut cmd = org.rdsguard();
    cmd.file("rules/rules.toml", &rules(&org));
    let run = cmd.run(&["audit", "--out", "run"]);
    assert_eq!(run.code, 1, "findings exit 1\n{run}");
    let findings = cmd.json("run/findings.json");
    assert_eq!(findings["errors"], json!([]), "{run}");
    let v = |status: &str, failing: &[&str]| {
        (
            status.to_string(),
            failing.iter().map(|f| f.to_string()).collect::<Vec<_>>(),
        )
    };
    let expected: BTreeMap<String, (String, Vec<String>)> = [
        ("prod/orders", v("COMPLIANT", &[])),
        // The same identifier in another account, never backed up: prod's copy is not its replica.
        (
            "dev/orders",
            v(
                "NON_COMPLIANT",
                &["replica-present=FAIL", "retention-count=FAIL"],
            ),
        ),
        ("prod/mixed", v("COMPLIANT", &[])),
        ("prod/stale", v("NON_COMPLIANT", &["replica-age=FAIL"])),
        // Copied into a vault of another account than the rule's destination.
        (
            "prod/astray",
            v(
                "NON_COMPLIANT",
                &["replica-present=FAIL", "retention-count=FAIL"],
            ),
        ),
        ("prod/leaky", v("NON_COMPLIANT", &["share-exposure=FAIL"])),
        ("prod/locked", v("COMPLIANT", &[])),
        (
            "prod/governed",
            v("NON_COMPLIANT", &["replica-immutable=FAIL"]),
        ),
        (
            "prod/plain",
            v("NON_COMPLIANT", &["replica-immutable=FAIL"]),
        ),
        ("prod/bunkered", v("COMPLIANT", &[])),
        ("prod/ledger", v("COMPLIANT", &[])),
        // In an air-gapped vault of another account, shared into the vault account: seen through
        // ListBackupVaults(ByShared) and read there; its policy is read in its owner account.
        ("prod/sheltered", v("COMPLIANT", &[])),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(verdicts(&org, &findings), expected, "{run}");

    let recovery_point = |id: &str| {
        org.seeded["recovery_points"][id]
            .as_str()
            .unwrap_or_else(|| panic!("no recovery point {id}"))
            .to_string()
    };
    // A copy keeps its original backup's date: the data is 3h old, though copied 2h ago.
    let orders = source(&findings, &org.arn("prod", R, "orders"));
    assert_eq!(orders["latest_replica"]["arn"], recovery_point("orders-c"));
    let age = orders["latest_replica"]["age_seconds"]
        .as_i64()
        .unwrap_or(0);
    assert!((3 * 3600 - 2..3 * 3600 + 120).contains(&age), "age {age}");
    // Manual copies and recovery points count together; the newest is the backup.
    let mixed = source(&findings, &org.arn("prod", R, "mixed"));
    assert_eq!(mixed["replica_count"], 2);
    assert_eq!(mixed["latest_replica"]["arn"], recovery_point("mixed-c"));
    // Aurora's recovery point is also a cluster snapshot in RDS: counted once.
    let ledger = source(
        &findings,
        &format!("arn:aws:rds:{R}:{}:cluster:ledger", org.account("prod")),
    );
    assert_eq!(ledger["replica_count"], 1, "{ledger}");

    let message = |name: &str, id: &str| {
        let s = source(&findings, &org.arn("prod", R, name));
        check(s, id)["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    assert!(message("governed", "replica-immutable").contains("governance mode"));
    assert!(message("plain", "replica-immutable").contains("is not locked"));
    let bunkered = source(&findings, &org.arn("prod", R, "bunkered"));
    assert_eq!(
        check(bunkered, "replica-encryption")["observed"],
        "AWS-owned key (vault bunker)"
    );
    assert!(check(bunkered, "replica-immutable")["observed"]
        .as_str()
        .unwrap_or_default()
        .starts_with("logically air-gapped vault bunker"));
    let leaky = check(
        source(&findings, &org.arn("prod", R, "leaky")),
        "share-exposure",
    );
    assert_eq!(
        leaky["observed"],
        "vault leaky: statement Partner allows 999999999999 backup:CopyFromBackupVault, backup:StartRestoreJob"
    );

    // The audit reads the vault account's vaults (own and shared) and the points of each, per
    // resource type, and the access policies of the vaults holding judged databases' points; it
    // reads no Backup API in the source accounts.
    let backup_calls = |key: &str| -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for call in calls_by(&org.account(key)) {
            let operation = call.split(':').nth(1).unwrap_or_default().to_string();
            if [
                "ListBackupVaults",
                "ListRecoveryPointsByBackupVault",
                "GetBackupVaultAccessPolicy",
            ]
            .contains(&operation.as_str())
            {
                *counts.entry(operation).or_insert(0) += 1;
            }
        }
        counts
    };
    let counts = |pairs: &[(&str, usize)]| -> BTreeMap<String, usize> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    };
    assert_eq!(
        backup_calls("vault"),
        counts(&[
            ("GetBackupVaultAccessPolicy", 5),
            ("ListBackupVaults", 2),
            ("ListRecoveryPointsByBackupVault", 12),
        ]),
        "{run}"
    );
    // The shared vault's access policy, in its owner account.
    assert_eq!(
        backup_calls("bunker"),
        counts(&[("GetBackupVaultAccessPolicy", 1)]),
        "{run}"
    );
    let sheltered = source(&findings, &org.arn("prod", R, "sheltered"));
    assert_eq!(sheltered["latest_replica"]["backup_vault"], "shelter");
    assert_eq!(backup_calls("prod"), BTreeMap::new());
}

/// `remediate = "backup"`: `--dry-run` shows the two AWS Backup jobs and starts nothing; a run killed
/// (SIGKILL) while the copy job's answer is held back resumes with the same idempotency tokens, so
/// the vault ends with exactly one copy and the database is COMPLIANT.
#[test]
fn remediate_with_aws_backup_starts_a_backup_and_a_copy_job_and_resumes_after_a_kill() {
    let org = seed(json!({
        "accounts": [{"key": "vault", "name": "Vault"}, {"key": "prod", "name": "Prod"}],
        "keys": [
            {"key": "vault-key", "account": "vault", "region": R, "alias": "alias/rds-vault"},
            {"key": "share-key", "account": "prod", "region": R, "alias": "alias/rds-share", "grant_accounts": ["vault"]}
        ],
        "instances": [{"account": "prod", "region": R, "id": "orders", "engine": "postgres",
                       "encrypted": true, "kms_key": "share-key", "tags": {"env": "prod"}}],
        "backup_vaults": [
            {"account": "prod", "region": R, "name": "Default", "kms_key": "share-key", "at": "-30d"},
            {"account": "vault", "region": R, "name": "central", "kms_key": "vault-key",
             "access_policy": ["prod"], "at": "-30d"}
        ]
    }));
    let rules = format!(
        r#"[[rule]]
id = "by-backup"
select = {{ tags = {{ env = "prod" }}, regions = ["{R}"] }}
destination = {{ account = "{vault}", replicas = ["backup"], kms_key = "alias/rds-vault" }}
max_age = "26h"
remediate = "backup"
backup = {{ destination_vault = "central", delete_after = "35d" }}
"#,
        vault = org.account("vault")
    );
    let mut cmd = org.rdsguard();
    cmd.file("rules.toml", &rules);
    let started = |operation: &str| {
        calls_by(&org.account("prod"))
            .iter()
            .filter(|c| c.split(':').nth(1) == Some(operation))
            .count()
    };

    let dry = cmd.run(&["audit", "--rules", "rules.toml", "--remediate", "--dry-run"]);
    assert_eq!(dry.code, 1, "{dry}");
    assert!(
        dry.stdout.contains("backup-job in ")
            && dry.stdout.contains("into vault Default (kept 35d)"),
        "{dry}"
    );
    assert!(dry.stdout.contains(&format!(
        "copy-job   from {}/{R} vault Default into arn:aws:backup:{R}:{}:backup-vault:central (kept 35d)",
        org.account("prod"),
        org.account("vault")
    )), "{dry}");
    assert_eq!(started("StartBackupJob"), 0, "--dry-run starts nothing");

    let prod = org.account("prod");
    kill_mid_call(
        &cmd,
        &remediate_args("run", &[]),
        ("backup", "StartCopyJob", &prod),
        "run/journal.jsonl",
        "copy-job",
    );
    assert_eq!(started("StartCopyJob"), 1);

    let resumed = cmd.run(&["audit", "--rules", "rules.toml", "--resume", "run"]);
    assert_eq!(resumed.code, 0, "{resumed}");
    // The same tokens again: AWS Backup answers with the jobs already started.
    assert_eq!(started("StartBackupJob"), 2);
    assert_eq!(started("StartCopyJob"), 2);
    let findings = cmd.json("run/findings.json");
    assert_eq!(
        verdicts(&org, &findings)["prod/orders"],
        ("COMPLIANT".to_string(), Vec::new()),
        "{resumed}"
    );
    let inventory = cmd.json("run/inventory.json");
    let copies: Vec<&Value> = inventory["snapshots"]
        .as_array()
        .expect("snapshots")
        .iter()
        .filter(|s| s["account_id"] == org.account("vault") && !s["backup"].is_null())
        .collect();
    assert_eq!(copies.len(), 1, "exactly one copy in the vault: {copies:?}");
    assert_eq!(copies[0]["backup"]["vault_name"], "central");
    let result = &findings["remediation"]["results"][0];
    assert_eq!(result["ok"], true, "{result}");
}
