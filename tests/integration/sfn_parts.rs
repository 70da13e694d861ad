//! The Step Functions engine with a round too large for one execution (issue 14), on the emulator
//! (tests/emulator/README.md, rows r-w, and ai: an input over 262,144 bytes is refused as AWS
//! refuses it). 97 databases with 63-character identifiers (the longest RDS allows) are one round
//! in one region whose input, as one execution, would be over Step Functions' quota: `audit
//! --remediate --engine step-functions` runs it as two executions, `-r1` then `-r1p2`, each input
//! (as Step Functions holds it) under the quota, and every database gets its vault copy. A run whose
//! `--execution-wait` runs out during the first part starts no second part; `--resume` finishes
//! both, making nothing twice.

// The measured figures are printed: `-- --nocapture` shows them.
#![allow(clippy::print_stderr)]

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::{json, Value};

use crate::harness::{
    block_on, calls_by, inject, remove_fault, seed, vault_and_prod, verdicts, Cmd, Org, Run,
};

const R: &str = "us-east-1";
/// Step Functions' quota on an execution's input: 262,144 bytes of UTF-8.
const QUOTA: usize = 256 * 1024;
/// The smallest fleet of such databases whose round does not fit one execution: each database's
/// entry in the input is 2,717 bytes; 96 of them make an input of 261,004 bytes, 97 of 263,722.
const FLEET: usize = 97;

/// A database identifier of 63 characters, RDS's longest.
fn identifier(n: usize) -> String {
    let id = format!("customer-payments-ledger-shard-{n:04}-primary-postgres-eu-replica");
    debug_assert_eq!(id.len(), 63);
    id
}

/// A vault and a prod account whose `FLEET` PostgreSQL databases are under a CMK the vault may use.
fn org() -> Org {
    let instances: Vec<Value> = (0..FLEET)
        .map(|n| {
            json!({"account": "prod", "region": R, "id": identifier(n), "engine": "postgres",
                   "encrypted": true, "kms_key": "share-key"})
        })
        .collect();
    seed(vault_and_prod(R, json!({ "instances": instances })))
}

fn rules(org: &Org) -> String {
    format!(
        r#"[[rule]]
id = "prod"
select = {{ accounts = ["{prod}"], regions = ["{R}"] }}
destination = {{ account = "{vault}", kms_key = "alias/rds-vault" }}
max_age = "26h"
"#,
        prod = org.account("prod"),
        vault = org.account("vault")
    )
}

fn remediate(org: &Org, out: &str, extra: &[&str]) -> (Cmd, Run) {
    let mut cmd = org.rdsguard();
    cmd.file("rules.toml", &rules(org));
    let mut args = vec!["--engine", "step-functions"];
    args.extend(extra);
    let run = cmd.remediate(out, &args);
    (cmd, run)
}

/// How many times `account` made `call` (`rds:CreateDBSnapshot`).
fn count(account: &str, call: &str) -> usize {
    calls_by(account)
        .iter()
        .filter(|c| c.as_str() == call)
        .count()
}

/// The executions a run lists in `executions.json`: (round, part, region, status, execution name).
fn listed(cmd: &Cmd, out: &str) -> Vec<(u64, u64, String, String, String)> {
    cmd.json(&format!("{out}/executions.json"))
        .as_array()
        .expect("executions")
        .iter()
        .map(|e| {
            let arn = e["execution_arn"].as_str().unwrap_or_default();
            (
                e["round"].as_u64().unwrap_or(0),
                e["part"].as_u64().unwrap_or(0),
                e["region"].as_str().unwrap_or_default().to_string(),
                e["status"].as_str().unwrap_or_default().to_string(),
                arn.rsplit(':').next().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// What Step Functions holds for an execution: its input as it was given, and its status.
struct Described {
    input: String,
    status: String,
    seconds: f64,
}

fn describe(org: &Org, arn: &str) -> Described {
    let client = aws_sdk_sfn::Client::new(&org.management_sdk(R));
    let d = block_on(client.describe_execution().execution_arn(arn).send())
        .unwrap_or_else(|e| panic!("DescribeExecution {arn}: {e:?}"));
    let seconds = match (d.start_date(), d.stop_date()) {
        (start, Some(stop)) => (stop.as_secs_f64() - start.as_secs_f64()).max(0.0),
        _ => f64::NAN,
    };
    Described {
        input: d.input().unwrap_or_default().to_string(),
        status: d.status().as_str().to_string(),
        seconds,
    }
}

/// The source ARN of every item of an execution's input.
fn sources(input: &str) -> Vec<String> {
    let input: Value = serde_json::from_str(input).expect("the input is JSON");
    input["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["item"]["source_arn"].as_str().expect("arn").to_string())
        .collect()
}

/// The vault's manual snapshots of each prod database: identifier -> how many.
fn vault_copies(org: &Org) -> BTreeMap<String, usize> {
    let client = aws_sdk_rds::Client::new(&org.sdk("vault", R));
    let snapshots = block_on(async {
        client
            .describe_db_snapshots()
            .snapshot_type("manual")
            .into_paginator()
            .items()
            .send()
            .collect::<Vec<_>>()
            .await
    });
    let mut copies = BTreeMap::new();
    for s in snapshots {
        let s = s.expect("DescribeDBSnapshots in the vault");
        assert!(s.encrypted().unwrap_or(false), "{s:?}");
        *copies
            .entry(s.db_instance_identifier().unwrap_or_default().to_string())
            .or_default() += 1;
    }
    copies
}

fn all_compliant(org: &Org, findings: &Value) {
    let statuses = verdicts(org, findings);
    assert_eq!(statuses.len(), FLEET, "{statuses:?}");
    let not: Vec<_> = statuses
        .iter()
        .filter(|(_, (status, _))| status != "COMPLIANT")
        .collect();
    assert!(not.is_empty(), "{not:?}");
}

#[test]
fn a_round_too_large_for_one_execution_runs_in_parts_under_the_quota_and_again_changes_nothing() {
    let org = org();
    let (vault, boss) = (org.account("vault"), org.account("management"));
    let started = Instant::now();
    let (cmd, run) = remediate(&org, "sfn", &[]);
    let took = started.elapsed();
    assert_eq!(run.code, 0, "{run}");
    assert!(
        run.stdout.contains(&format!("{FLEET} repaired, 0 failed")),
        "{run}"
    );

    // One round in one region, in two parts: `-r1`, then `-r1p2`, both succeeded.
    let run_id = cmd.json("sfn/findings.json")["run"]["id"]
        .as_str()
        .expect("run id")
        .to_string();
    let executions = listed(&cmd, "sfn");
    // The run's log says when each part starts.
    for name in ["r1", "r1p2"] {
        let part = if name == "r1" { 1 } else { 2 };
        let said = format!("round 1 part {part} in {R}: ");
        let line = run.stderr.lines().find(|l| l.contains(&said));
        assert!(
            line.is_some_and(|l| l.ends_with(&format!("rdsguard-{run_id}-{name}"))),
            "{run}"
        );
    }
    let (ok, region) = ("SUCCEEDED".to_string(), R.to_string());
    assert_eq!(
        executions,
        vec![
            (
                1,
                1,
                region.clone(),
                ok.clone(),
                format!("rdsguard-{run_id}-r1")
            ),
            (1, 2, region, ok, format!("rdsguard-{run_id}-r1p2")),
        ]
    );

    // Step Functions' own record of each: an input under the quota; together, every database once,
    // in more bytes than one execution may take.
    let arns: Vec<String> = cmd
        .json("sfn/executions.json")
        .as_array()
        .expect("executions")
        .iter()
        .map(|e| e["execution_arn"].as_str().expect("arn").to_string())
        .collect();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut total = 0;
    for arn in &arns {
        let d = describe(&org, arn);
        assert_eq!(d.status, "SUCCEEDED", "{arn}");
        let bytes = d.input.len();
        assert!(bytes <= QUOTA, "{arn}: {bytes} bytes");
        let items = sources(&d.input);
        eprintln!(
            "{}: {} databases, {bytes} bytes of input, ran {:.1} s",
            arn.rsplit(':').next().unwrap_or_default(),
            items.len(),
            d.seconds
        );
        total += bytes;
        for source in items {
            *seen.entry(source).or_default() += 1;
        }
    }
    assert!(total > QUOTA, "{total} bytes would have fit one execution");
    // Cut where the quota is reached: the first part holds every database but one.
    let first = sources(&describe(&org, &arns[0]).input).len();
    assert_eq!(first, FLEET - 1);
    assert_eq!(seen.len(), FLEET, "every database in a part");
    assert!(seen.values().all(|n| *n == 1), "each in one part only");

    // Every database has its copy in the vault, and the re-audit says so.
    let copies = vault_copies(&org);
    let expected: BTreeMap<String, usize> = (0..FLEET).map(|n| (identifier(n), 1)).collect();
    assert_eq!(copies, expected);
    all_compliant(&org, &cmd.json("sfn/findings.json"));
    eprintln!("{FLEET} databases in two parts: the run took {took:?}");

    // A second run: nothing to repair, no execution started, nothing made.
    let starts = count(&boss, "states:StartExecution");
    let copies_made = count(&vault, "rds:CopyDBSnapshot");
    let (again, second) = remediate(&org, "again", &[]);
    assert_eq!(second.code, 0, "{second}");
    assert_eq!(count(&boss, "states:StartExecution"), starts);
    assert_eq!(count(&vault, "rds:CopyDBSnapshot"), copies_made);
    assert_eq!(vault_copies(&org), expected);
    all_compliant(&org, &again.json("again/findings.json"));
}

/// `--execution-wait` runs out while the first part is still running (one of its copies answers
/// 8 s late): the second part is not started (its databases are reported as not started, exit 3),
/// since parts run one after the other. `--resume` takes the first part over, then runs the second:
/// every database repaired, nothing made twice.
#[test]
fn a_part_still_running_holds_back_the_next_and_resume_runs_both_once() {
    let org = org();
    let (prod, vault, boss) = (
        org.account("prod"),
        org.account("vault"),
        org.account("management"),
    );
    let slow = inject(
        json!({"service": "rds", "operation": "CopyDBSnapshot", "account_id": vault,
                             "delay_seconds": 8, "times": 1}),
    );
    let started = Instant::now();
    let (cmd, run) = remediate(&org, "sfn", &["--execution-wait", "2s"]);
    assert_eq!(run.code, 3, "{run}");
    let executions = listed(&cmd, "sfn");
    assert_eq!(executions.len(), 1, "only the first part: {executions:?}");
    assert_eq!((executions[0].0, executions[0].1), (1, 1));
    assert_eq!(count(&boss, "states:StartExecution"), 1);
    let findings = cmd.json("sfn/findings.json");
    let mut codes: BTreeMap<String, usize> = BTreeMap::new();
    for r in findings["remediation"]["results"]
        .as_array()
        .expect("results")
    {
        assert_eq!(r["ok"], false, "{r}");
        *codes
            .entry(r["error"]["code"].as_str().unwrap_or_default().to_string())
            .or_default() += 1;
    }
    let first_part = sources(&describe(&org, &arn_of(&cmd, "sfn", 1)).input).len();
    assert_eq!(
        codes,
        BTreeMap::from([
            ("ExecutionStillRunning".to_string(), first_part),
            ("ExecutionNotStarted".to_string(), FLEET - first_part),
        ]),
        "{run}"
    );

    let resumed = cmd.run(&crate::harness::sfn_resume_args("sfn"));
    remove_fault(slow);
    assert_eq!(resumed.code, 0, "{resumed}");
    assert!(
        resumed
            .stdout
            .contains(&format!("{FLEET} repaired, 0 failed")),
        "{resumed}"
    );
    let executions = listed(&cmd, "sfn");
    let statuses: Vec<(u64, u64, &str)> = executions
        .iter()
        .map(|e| (e.0, e.1, e.3.as_str()))
        .collect();
    assert_eq!(statuses, [(1, 1, "SUCCEEDED"), (1, 2, "SUCCEEDED")]);
    all_compliant(&org, &cmd.json("sfn/findings.json"));
    // One snapshot and one vault copy per database, two executions: nothing ran twice.
    assert_eq!(count(&prod, "rds:CreateDBSnapshot"), FLEET);
    assert_eq!(count(&vault, "rds:CopyDBSnapshot"), FLEET);
    let expected: BTreeMap<String, usize> = (0..FLEET).map(|n| (identifier(n), 1)).collect();
    assert_eq!(vault_copies(&org), expected);
    eprintln!(
        "a run cut short in its first part, then resumed: {:?}",
        started.elapsed()
    );
}

/// The ARN of part `part` of round 1 as `executions.json` lists it.
fn arn_of(cmd: &Cmd, out: &str, part: u64) -> String {
    cmd.json(&format!("{out}/executions.json"))
        .as_array()
        .expect("executions")
        .iter()
        .find(|e| e["round"] == 1 && e["part"] == part)
        .and_then(|e| e["execution_arn"].as_str())
        .expect("listed")
        .to_string()
}
