//! The Step Functions engine for real, on the emulator (tests/emulator/README.md, rows r-w):
//! `audit --remediate --engine step-functions` deploys the state machine, runs the plan's rounds and
//! leaves the same after-state and re-audit verdicts as the local engine on the same organization;
//! a second execution of the same plan changes nothing; one database whose calls fail ends alone
//! with its step and AWS error while the others finish; a throttled call is retried.

use serde_json::{json, Value};

use crate::harness::{calls_by, inject, remove_fault, seed, vault_and_prod, verdicts, Cmd, Org};
// The local engine's organization and rules: every kind of source the engine runs (unencrypted,
// under `aws/rds`, under a shareable CMK, one with four managed copies and another tool's copy in
// the vault, an Aurora cluster, one copied to another region).
use crate::remediate::{org, rules};

const R: &str = "us-east-1";
const FAR: &str = "eu-west-1";

/// What an audit's inventory holds, per account key and region, with rdsguard's run-specific parts
/// of the names (timestamps, run ids) left out: `vault/us-east-1 hoard x3`.
fn after_state(org: &Org, inventory: &Value) -> Vec<String> {
    let key = |account: &str| {
        org.seeded["accounts"]
            .as_object()
            .and_then(|a| a.iter().find(|(_, id)| *id == account))
            .map(|(k, _)| k.clone())
            .unwrap_or_else(|| account.to_string())
    };
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    for s in inventory["snapshots"].as_array().expect("snapshots") {
        let name = s["identifier"].as_str().unwrap_or_default();
        let made_by = if name.starts_with("rds:") {
            "automated"
        } else if name.starts_with("rdsguard-") {
            "rdsguard"
        } else {
            "seeded"
        };
        let entry = format!(
            "{}/{} {} {} {} role={} encrypted={}",
            key(s["account_id"].as_str().unwrap_or_default()),
            s["region"].as_str().unwrap_or_default(),
            s["kind"].as_str().unwrap_or_default(),
            s["source_identifier"].as_str().unwrap_or_default(),
            made_by,
            s["tags"]["rdsguard:role"].as_str().unwrap_or("-"),
            s["encrypted"]
        );
        *counts.entry(entry).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|(k, n)| format!("{k} x{n}"))
        .collect()
}

fn remediate(org: &Org, out: &str, engine: &str) -> (Cmd, crate::harness::Run) {
    let mut cmd = org.rdsguard();
    cmd.file("rules.toml", &rules(org));
    let run = cmd.remediate(out, &["--engine", engine]);
    (cmd, run)
}

#[test]
fn step_functions_repairs_the_organization_like_the_local_engine_and_again_changes_nothing() {
    let (local, remote) = (org(), org());
    let started = std::time::Instant::now();
    let (sfn_cmd, by_sfn) = remediate(&remote, "sfn", "step-functions");
    let took = started.elapsed();
    let (_, by_local) = remediate(&local, "local", "local");
    assert_eq!(by_local.code, 0, "{by_local}");
    assert_eq!(by_sfn.code, 0, "{by_sfn}");
    assert!(by_sfn.stdout.contains("6 repaired, 0 failed"), "{by_sfn}");
    // The local engine counts what it made; the machine does not report it, and says so rather
    // than print "created 0" for databases whose snapshots it made.
    assert!(
        by_local.stdout.contains("6 repaired, 0 failed"),
        "{by_local}"
    );
    assert!(!by_local.stdout.contains("(created 0,"), "{by_local}");
    assert!(!by_sfn.stdout.contains("(created "), "{by_sfn}");
    assert!(
        by_sfn
            .stdout
            .contains("Step Functions does not report what each database's steps created"),
        "{by_sfn}"
    );
    // Four rounds (the cross-region database's legs; it prunes nothing), the machine created once per region.
    let executions = sfn_cmd.json("sfn/executions.json");
    let shape: Vec<(u64, String, String, String)> = executions
        .as_array()
        .expect("executions")
        .iter()
        .map(|e| {
            (
                e["round"].as_u64().unwrap_or(0),
                e["region"].as_str().unwrap_or_default().to_string(),
                e["deployed"].as_str().unwrap_or_default().to_string(),
                e["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let (ok, created) = ("SUCCEEDED".to_string(), "created".to_string());
    assert_eq!(
        shape,
        vec![
            (1, FAR.to_string(), created.clone(), ok.clone()),
            (1, R.to_string(), created.clone(), ok.clone()),
            (2, R.to_string(), created.clone(), ok.clone()),
            (3, FAR.to_string(), created.clone(), ok.clone()),
            (4, R.to_string(), created, ok),
        ],
        "{executions}"
    );

    // `remediation status` reads the same executions back: every database repaired, exit 0.
    let arns: Vec<&str> = executions
        .as_array()
        .expect("executions")
        .iter()
        .filter_map(|e| e["execution_arn"].as_str())
        .collect();
    let mut args = vec!["remediation", "status"];
    args.extend(arns.iter().copied());
    let status = sfn_cmd.run(&args);
    assert_eq!(status.code, 0, "{status}");
    assert_eq!(status.stdout.matches(": SUCCEEDED").count(), 5, "{status}");
    // Five databases in one execution each, the cross-region one in each of its four rounds.
    assert_eq!(status.stdout.matches("  repaired  ").count(), 9, "{status}");
    assert!(!status.stdout.contains("FAILED"), "{status}");
    let bad = sfn_cmd.run(&["remediation", "status", "arn:aws:rds:us-east-1:1:db:x"]);
    assert_eq!(bad.code, 2, "{bad}");
    assert!(
        bad.stderr.contains("not a Step Functions execution ARN"),
        "{bad}"
    );

    // The run folders are each command's own; read them through a fresh audit of each organization.
    let reaudit = |org: &Org, out: &str| -> (Value, Value) {
        let mut cmd = org.rdsguard();
        cmd.file("rules.toml", &rules(org));
        let run = cmd.audit(out, &[]);
        assert_eq!(run.code, 0, "{run}");
        (
            cmd.json(&format!("{out}/findings.json")),
            cmd.json(&format!("{out}/inventory.json")),
        )
    };
    let (local_findings, local_inventory) = reaudit(&local, "again");
    let (sfn_findings, sfn_inventory) = reaudit(&remote, "again");
    assert_eq!(
        verdicts(&local, &local_findings),
        verdicts(&remote, &sfn_findings)
    );
    assert_eq!(
        after_state(&local, &local_inventory),
        after_state(&remote, &sfn_inventory)
    );
    eprintln!("step functions remediation of 6 databases: {took:?}");
    // Every Task ran under its member role, in that account: the snapshots in prod, the copies in the
    // vault, nothing changed by the state machine's own (management) account.
    let changes = |key: &str| -> Vec<String> {
        let account = if key == "management" {
            remote.seeded["management_account"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        } else {
            remote.account(key)
        };
        calls_by(&account)
            .into_iter()
            .filter(|c| {
                let op = c.split(':').nth(1).unwrap_or_default();
                ["Create", "Copy", "Modify", "Delete"]
                    .iter()
                    .any(|p| op.starts_with(p))
                    && c.starts_with("rds:")
            })
            .collect()
    };
    assert!(
        changes("management").is_empty(),
        "{:?}",
        changes("management")
    );
    assert!(changes("prod").contains(&"rds:CreateDBSnapshot".to_string()));
    assert!(changes("prod").contains(&"rds:ModifyDBSnapshotAttribute".to_string()));
    assert!(changes("vault").contains(&"rds:CopyDBSnapshot".to_string()));
    assert!(changes("vault").contains(&"rds:DeleteDBSnapshot".to_string()));

    // A second run: nothing to repair, no execution started, nothing changed.
    let (_, second) = remediate(&remote, "second", "step-functions");
    assert_eq!(second.code, 0, "{second}");
    let (_, after_second) = reaudit(&remote, "third");
    assert_eq!(
        after_state(&remote, &sfn_inventory),
        after_state(&remote, &after_second)
    );
}

/// A vault and a prod account whose PostgreSQL databases `ids` are under a CMK the vault may use.
pub(crate) fn prod_and_vault(ids: &[&str]) -> Org {
    let db = |id: &&str| json!({"account": "prod", "id": id, "engine": "postgres", "encrypted": true, "kms_key": "share-key"});
    let instances: Vec<Value> = ids.iter().map(db).collect();
    seed(vault_and_prod(R, json!({ "instances": instances })))
}

/// `gone` in `prod` was deleted after the audit read it: RDS answers its snapshot with
/// DBInstanceNotFound. Returns the fault.
fn gone_was_deleted(prod: &str) -> u64 {
    inject(
        json!({"service": "rds", "operation": "CreateDBSnapshot", "account_id": prod,
                  "body_contains": "DBInstanceIdentifier=gone",
                  "code": "DBInstanceNotFound", "http_status": 404,
                  "message": "DBInstance gone not found."}),
    )
}

#[test]
fn a_database_whose_calls_fail_ends_alone_and_a_throttled_call_is_retried() {
    let org = prod_and_vault(&["alpha", "gone", "gamma"]);
    let (prod, vault) = (org.account("prod"), org.account("vault"));
    let gone = gone_was_deleted(&prod);
    // The vault's first copy is throttled once.
    let throttled = inject(
        json!({"service": "rds", "operation": "CopyDBSnapshot", "account_id": vault,
                                  "code": "Throttling", "message": "Rate exceeded", "times": 1}),
    );
    let (cmd, run) = remediate(&org, "sfn", "step-functions");
    let throttled_hits = crate::harness::fault_hits(throttled);
    remove_fault(gone);
    remove_fault(throttled);
    // A failed step: exit 3, as with the local engine.
    assert_eq!(run.code, 3, "{run}");
    assert!(run.stdout.contains("2 repaired, 1 failed"), "{run}");
    assert_eq!(throttled_hits, 1, "the throttled copy was retried");
    // A CI log says what each execution did.
    assert!(
        run.stderr
            .contains("round 1 part 1 in us-east-1: SUCCEEDED: 2 ok, 1 failed"),
        "{run}"
    );

    let findings = cmd.json("sfn/findings.json");
    let results = findings["remediation"]["results"]
        .as_array()
        .expect("results");
    let failed: Vec<&Value> = results.iter().filter(|r| r["ok"] == false).collect();
    assert_eq!(failed.len(), 1, "{results:?}");
    assert_eq!(failed[0]["source_arn"], org.arn("prod", R, "gone"));
    assert_eq!(failed[0]["failed_step"], "snapshot");
    assert_eq!(
        failed[0]["error"]["code"],
        "Rds.DbInstanceNotFoundException"
    );
    assert_eq!(failed[0]["error"]["account_id"], prod.as_str());
    assert!(
        failed[0]["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("DBInstance gone not found.")),
        "{failed:?}"
    );
    let statuses = verdicts(&org, &findings);
    assert_eq!(statuses["prod/alpha"].0, "COMPLIANT", "{statuses:?}");
    assert_eq!(statuses["prod/gamma"].0, "COMPLIANT", "{statuses:?}");
    assert_eq!(statuses["prod/gone"].0, "NON_COMPLIANT", "{statuses:?}");

    // `remediation status` of the same execution: the failed database, its step and error; exit 3.
    let executions = cmd.json("sfn/executions.json");
    let arn = executions[0]["execution_arn"]
        .as_str()
        .expect("execution arn");
    let status = cmd.run(&["remediation", "status", arn]);
    assert_eq!(status.code, 3, "{status}");
    assert!(
        status.stdout.contains(&format!(
            "  FAILED    {} at step snapshot: Rds.DbInstanceNotFoundException:",
            org.arn("prod", R, "gone")
        )),
        "{status}"
    );
    assert_eq!(status.stdout.matches("  repaired  ").count(), 2, "{status}");
}

/// `--execution-wait` ran out while the vault's copy was still in flight: the databases are reported
/// as not finished (exit 3), the execution goes on in Step Functions, and `--resume RUN_DIR` takes
/// that same execution over (AWS answers the taken name with `ExecutionAlreadyExists`), waits for
/// it and re-audits. Nothing is started or made twice.
#[test]
fn a_run_whose_wait_ran_out_is_resumed_without_starting_anything_twice() {
    let org = prod_and_vault(&["alpha", "beta"]);
    let (prod, vault) = (org.account("prod"), org.account("vault"));
    // The vault's first copy answers 8 s late: longer than the 2 s rdsguard waits.
    let slow = inject(
        json!({"service": "rds", "operation": "CopyDBSnapshot", "account_id": vault,
                             "delay_seconds": 8, "times": 1}),
    );
    let mut cmd = org.rdsguard();
    cmd.file("rules.toml", &rules(&org));
    let run = cmd.run(&[
        "audit",
        "--rules",
        "rules.toml",
        "--out",
        "sfn",
        "--remediate",
        "--engine",
        "step-functions",
        "--execution-wait",
        "2s",
    ]);
    assert_eq!(run.code, 3, "{run}");
    let findings = cmd.json("sfn/findings.json");
    let codes: Vec<&str> = findings["remediation"]["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|r| r["error"]["code"].as_str())
        .collect();
    assert_eq!(codes, ["ExecutionStillRunning"; 2], "{run}");
    assert!(
        run.stderr
            .contains("round 1 part 1 in us-east-1: still running when --execution-wait ran out"),
        "{run}"
    );
    let first = cmd.json("sfn/executions.json");

    let resumed = cmd.run(&crate::harness::sfn_resume_args("sfn"));
    remove_fault(slow);
    assert_eq!(resumed.code, 0, "{resumed}");
    assert!(resumed.stdout.contains("2 repaired, 0 failed"), "{resumed}");
    let again = cmd.json("sfn/executions.json");
    assert_eq!(
        again[0]["execution_arn"], first[0]["execution_arn"],
        "the same execution, taken over"
    );
    let statuses = verdicts(&org, &cmd.json("sfn/findings.json"));
    assert_eq!(statuses["prod/alpha"].0, "COMPLIANT", "{statuses:?}");
    assert_eq!(statuses["prod/beta"].0, "COMPLIANT", "{statuses:?}");
    // One snapshot per database, one copy into the vault each: nothing ran twice.
    let snapshots = calls_by(&prod)
        .iter()
        .filter(|c| c.as_str() == "rds:CreateDBSnapshot")
        .count();
    assert_eq!(snapshots, 2);
    let copies = calls_by(&vault)
        .iter()
        .filter(|c| c.as_str() == "rds:CopyDBSnapshot")
        .count();
    assert_eq!(copies, 2);
}

/// A resume never takes over an execution that runs other databases than the part it starts now
/// (as when the rdsguard that resumes cuts the plan otherwise): it says which, and starts nothing.
#[test]
fn a_resume_whose_part_differs_from_the_running_execution_is_refused() {
    let org = prod_and_vault(&["alpha", "beta"]);
    let vault = org.account("vault");
    let slow = inject(
        json!({"service": "rds", "operation": "CopyDBSnapshot", "account_id": vault,
               "delay_seconds": 8, "times": 1}),
    );
    let mut cmd = org.rdsguard();
    cmd.file("rules.toml", &rules(&org));
    let wait = ["--engine", "step-functions", "--execution-wait", "2s"];
    let run = cmd.remediate("sfn", &wait);
    assert_eq!(run.code, 3, "{run}");
    // The plan to resume now holds alpha alone: r1, as cut now, is not the execution running.
    let mut plan = cmd.json("sfn/plan.json");
    let items = plan["items"].as_array_mut().expect("items");
    items.retain(|i| i["identifier"] != "beta");
    assert_eq!(items.len(), 1);
    cmd.file("sfn/plan.json", &plan.to_string());
    let starts = || {
        let calls = calls_by(&org.account("management"));
        calls
            .iter()
            .filter(|c| *c == "states:StartExecution")
            .count()
    };
    let before = starts();

    let resumed = cmd.run(&crate::harness::sfn_resume_args("sfn"));
    remove_fault(slow);
    assert_eq!(resumed.code, 2, "{resumed}");
    let beta = org.arn("prod", R, "beta");
    for needle in [
        "-r1 was started with other databases than this part holds now",
        &format!("in it but not in this part: {beta})"),
        "resume with the rdsguard version that started the run",
        "this resume started no execution",
    ] {
        assert!(resumed.stderr.contains(needle), "{needle}\n{resumed}");
    }
    // One attempt to start r1 (answered ExecutionAlreadyExists), nothing else.
    assert_eq!(starts(), before + 1, "{resumed}");
}

/// On a terminal the engine draws the local engine's display: one line per database with the round
/// it is in, then `done`, or the step where it failed (off a terminal, every other test here, the
/// log has a line per execution instead).
#[test]
fn on_a_terminal_each_database_shows_its_round_then_done_or_where_it_failed() {
    let org = prod_and_vault(&["alpha", "gone"]);
    let prod = org.account("prod");
    let gone = gone_was_deleted(&prod);
    let mut cmd = org.rdsguard();
    cmd.file("rules.toml", &rules(&org));
    let args = crate::harness::remediate_args("run", &["--engine", "step-functions"]);
    let run = cmd.run_on_terminal(&args, None);
    remove_fault(gone);
    assert_eq!(run.code, 3, "{run}");
    let transcript = &run.stdout;
    let drawn = |id: &str, status: &str| {
        let label = format!("{prod}/{R} {id}");
        transcript
            .lines()
            .any(|l| l.contains(&label) && l.trim_end_matches('\r').ends_with(status))
    };
    for id in ["alpha", "gone"] {
        assert!(drawn(id, &format!("round 1 in {R}")), "{id}:\n{transcript}");
    }
    assert!(drawn("alpha", "  done"), "{transcript}");
    assert!(drawn("gone", "  FAILED at snapshot"), "{transcript}");
    assert!(transcript.contains("1 repaired, 1 failed"), "{transcript}");
}
