//! AWS's limits on remediation (issue 17), on the emulator (tests/emulator/README.md, rows x-z):
//! more cross-region copies than AWS allows in progress all complete, never more than five cluster
//! copies in flight into one account and region (the emulator's own record), on both copy paths
//! (one step across accounts and regions; a stage copy first); a transit snapshot already shared
//! with AWS's 20 accounts is left as it is, with a clear error, not shared a 21st time.

use serde_json::{json, Value};

use crate::harness::{
    calls_in_regions, control, kill_mid_call, remediate_args, seed, Cmd, Org, Run,
};

const R: &str = "us-east-1";
const FAR: &str = "eu-west-1";

/// `clusters` Aurora clusters in prod (us-east-1) under a key the vault may use, and the vault's key
/// in eu-west-1; `instances` DB instances likewise.
fn org(clusters: usize, instances: usize) -> Org {
    let clusters: Vec<Value> = (0..clusters)
        .map(|i| json!({"account": "prod", "region": R, "id": format!("ledger{i}"), "kms_key": "share-key"}))
        .collect();
    let instances: Vec<Value> = (0..instances)
        .map(|i| json!({"account": "prod", "region": R, "id": format!("orders{i}"), "kms_key": "share-key"}))
        .collect();
    seed(json!({
        "accounts": [{"key": "vault", "name": "Vault"}, {"key": "prod", "name": "Prod"}],
        "keys": [
            {"key": "vault-key", "account": "vault", "region": R, "alias": "alias/rds-vault"},
            {"key": "vault-key-far", "account": "vault", "region": FAR, "alias": "alias/rds-vault"},
            {"key": "share-key", "account": "prod", "region": R, "alias": "alias/rds-share",
             "grant_accounts": ["vault"]}
        ],
        "clusters": clusters,
        "instances": instances,
    }))
}

fn rules(org: &Org, region: &str) -> String {
    format!(
        r#"[[rule]]
id = "dr"
select = {{ accounts = ["{prod}"], regions = ["{R}"] }}
destination = {{ account = "{vault}", region = "{region}", kms_key = "alias/rds-vault" }}
max_age = "26h"
"#,
        prod = org.account("prod"),
        vault = org.account("vault")
    )
}

fn count(calls: &[String], call: &str) -> usize {
    calls.iter().filter(|c| *c == call).count()
}

/// The vault's cluster snapshot copies: (in the sources' region, in the destination region).
fn cluster_copies(org: &Org) -> (usize, usize) {
    let calls = calls_in_regions(&org.account("vault"));
    let copies = |region: &str| count(&calls, &format!("CopyDBClusterSnapshot@{region}"));
    (copies(R), copies(FAR))
}

/// Six cluster copies into eu-west-1 with `--max-parallel 8`, each copy taking 8 s in the emulator
/// (long enough that the first five still overlap when a slow machine starts them seconds apart):
/// returns the run, and the emulator's record of the vault's copies in progress.
fn six_cluster_copies(extra: &[&str]) -> (Org, Cmd, Run, Value) {
    let org = org(6, 0);
    let vault = org.account("vault");
    control(
        "POST",
        "/_rdsguard/copy-time",
        Some(json!({"account_id": vault, "seconds": 8})),
    );
    let mut cmd = org.rdsguard();
    cmd.file("rules.toml", &rules(&org, FAR));
    let mut args = remediate_args("out", &["--max-parallel", "8", "--step-timeout", "10m"]);
    args.extend(extra);
    let run = cmd.run(&args);
    control(
        "DELETE",
        &format!("/_rdsguard/copy-time?account_id={vault}"),
        None,
    );
    let copies = control(
        "GET",
        &format!("/_rdsguard/copies?account_id={vault}"),
        None,
    );
    (org, cmd, run, copies)
}

/// What both copy paths must show: every database repaired and compliant after, the limit reached
/// but never passed (none refused), and the waiting copies shown as queued.
fn all_done_under_the_limit(org: &Org, cmd: &Cmd, run: &Run, copies: &Value) {
    assert_eq!(run.code, 0, "{run}");
    let key = format!("{}/{FAR}/cluster", org.account("vault"));
    assert_eq!(
        copies["max_in_flight"][&key], 5,
        "at most AWS's five, and five were used: {copies}"
    );
    assert_eq!(
        copies["refused"],
        json!({}),
        "no copy past the limit: {copies}"
    );
    assert!(
        run.stderr
            .contains("copy queued (5 in flight to eu-west-1)"),
        "{run}"
    );
    let findings = cmd.json("out/findings.json");
    assert_eq!(
        findings["summary"]["compliant"], 6,
        "{}",
        findings["summary"]
    );
    let results = findings["remediation"]["results"]
        .as_array()
        .expect("results");
    assert_eq!(
        results.iter().filter(|r| r["ok"] == true).count(),
        6,
        "{results:?}"
    );
}

#[test]
fn more_cross_region_copies_than_aws_allows_in_progress_all_complete_in_one_step() {
    let (org, cmd, run, copies) = six_cluster_copies(&[]);
    all_done_under_the_limit(&org, &cmd, &run, &copies);
    // One step: the vault copies the shared snapshots straight into eu-west-1; no stage copy in
    // the source's region.
    assert_eq!(cluster_copies(&org), (0, 6));
    let plan = cmd.json("out/plan.json");
    assert!(plan["items"]
        .as_array()
        .expect("items")
        .iter()
        .all(|i| i["names"]["stage"].is_null()));
}

#[test]
fn the_two_step_path_keeps_its_stage_copy_and_the_same_limit() {
    let (org, cmd, run, copies) = six_cluster_copies(&["--cross-region-copy", "two-step"]);
    all_done_under_the_limit(&org, &cmd, &run, &copies);
    // A stage copy in us-east-1, then the copy across regions, per database.
    assert_eq!(cluster_copies(&org), (6, 6));
    // --dry-run says which path each copy takes.
    let dry = cmd.run(&remediate_args(
        "dry",
        &["--dry-run", "--cross-region-copy", "two-step"],
    ));
    assert_eq!(dry.code, 0, "already repaired: {dry}");
    let fresh = org_dry_run(&[]);
    assert!(fresh.stdout.contains("(one step from "), "{fresh}");
    let fresh = org_dry_run(&["--cross-region-copy", "two-step"]);
    assert!(
        fresh
            .stdout
            .contains(&format!("(two steps: from the stage copy in {R})")),
        "{fresh}"
    );
}

/// `--dry-run` of one fresh cross-region database.
fn org_dry_run(extra: &[&str]) -> Run {
    let org = org(0, 1);
    let mut cmd = org.rdsguard();
    cmd.file("rules.toml", &rules(&org, FAR));
    let mut args = remediate_args("dry", &["--dry-run"]);
    args.extend(extra);
    let run = cmd.run(&args);
    assert_eq!(run.code, 1, "{run}");
    run
}

#[test]
fn a_transit_snapshot_already_shared_with_twenty_accounts_is_not_shared_again() {
    let org = org(0, 1);
    let (prod, vault) = (org.account("prod"), org.account("vault"));
    let mut cmd = org.rdsguard();
    cmd.file("rules.toml", &rules(&org, R));
    // Killed while AWS made the transit snapshot; meanwhile someone shares it with 20 accounts.
    kill_mid_call(
        &cmd,
        &remediate_args("run", &[]),
        ("rds", "CreateDBSnapshot", &prod),
        "run/journal.jsonl",
        "snapshot",
    );
    let transit = cmd.json("run/plan.json")["items"][0]["names"]["snapshot"]
        .as_str()
        .expect("the transit snapshot's name")
        .to_string();
    let others: Vec<String> = (0..20)
        .map(|i| format!("{}", 300000000000u64 + i))
        .collect();
    let rds = aws_sdk_rds::Client::new(&org.sdk("prod", R));
    crate::harness::block_on(
        rds.modify_db_snapshot_attribute()
            .db_snapshot_identifier(&transit)
            .attribute_name("restore")
            .set_values_to_add(Some(others.clone()))
            .send(),
    )
    .expect("shared with 20 accounts");

    let resumed = cmd.run(&["audit", "--rules", "rules.toml", "--resume", "run"]);
    assert_eq!(resumed.code, 3, "{resumed}");
    let findings = cmd.json("run/findings.json");
    let result = &findings["remediation"]["results"][0];
    assert_eq!(result["failed_step"], "share", "{result}");
    assert_eq!(result["error"]["code"], "SharedSnapshotLimit", "{result}");
    let message = result["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("already shared with 20 accounts") && message.contains(&vault),
        "{message}"
    );
    // rdsguard read the attribute and changed nothing: the only share call is the test's own.
    let calls = calls_in_regions(&prod);
    assert_eq!(
        count(&calls, &format!("ModifyDBSnapshotAttribute@{R}")),
        1,
        "{calls:?}"
    );
    // The emulator's view: still the 20 accounts, not the vault.
    let read = rds
        .describe_db_snapshot_attributes()
        .db_snapshot_identifier(&transit);
    let attrs = crate::harness::block_on(read.send()).expect("attributes");
    let result = attrs.db_snapshot_attributes_result().expect("attributes");
    let mut shared = result.db_snapshot_attributes()[0]
        .attribute_values()
        .to_vec();
    shared.sort();
    assert_eq!(shared, others);
}
