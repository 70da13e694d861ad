//! The Step Functions engine with rounds too large for one execution (issue 14), on the emulator
//! (tests/emulator/README.md, rows r-w, and ai: an input over 262,144 bytes is refused as AWS
//! refuses it). 97 databases with 63-character identifiers (the longest RDS allows) are one round
//! in one region whose input, as one execution, would be over Step Functions' quota: `audit
//! --remediate --engine step-functions` runs it as two executions, `-r1` then `-r1p2`, each input
//! (as Step Functions holds it) under the quota, and every database gets its vault copy. A run whose
//! `--execution-wait` runs out during the first part starts no second part; `--resume` finishes
//! both, making nothing twice. The same databases copied to another region run in four rounds
//! that alternate regions, each in two parts cut where that round's entries reach the quota, and
//! what a round finds (the data's time) reaches the next round's databases in either part.

// The measured figures are printed: `-- --nocapture` shows them.
#![allow(clippy::print_stderr)]

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::{json, Value};

use crate::harness::{
    block_on, calls_by, calls_in_regions, inject, remove_fault, seed, vault_and_prod, verdicts,
    Cmd, Org, Run,
};

const R: &str = "us-east-1";
/// The vault's region in the cross-region plan.
const FAR: &str = "eu-west-1";
/// Step Functions' quota on an execution's input: 262,144 bytes of UTF-8.
const QUOTA: usize = 256 * 1024;

/// The smallest fleet of such databases whose round does not fit one execution: each database's
/// entry in the input is 2,717 bytes; 96 of them make an input of 261,004 bytes, 97 of 263,722.
const FLEET: usize = 97;
/// Those databases, copied into the vault in their own region.
const SAME: Fleet = Fleet {
    size: FLEET,
    dest: R,
};

/// The same databases copied into the vault in FAR: four rounds, alternating regions. Each entry
/// is 2,721 bytes (2,717 above: a leg's entry flags the other legs' steps `false`, a byte longer
/// than `true`; 2,720 in round 2, which runs two steps). A part has 262,144 bytes less 256 of
/// envelope and the run id (36) for its entries, each with its comma: 261,852. Round 1 is handed
/// nothing: at 2,722 bytes each, 96 fit (261,312) and 97 do not (264,034). Later rounds keep 512
/// bytes per database for what the rounds hand on: at 3,234 bytes each (3,233 in round 2), 80 fit
/// (258,720) and 81 do not (261,954; 261,873). So 81 would be the smallest fleet with a later round
/// in two parts; 97 also cut round 1 (96 + 1), and the later rounds elsewhere (80 + 17): a
/// database's part changes from round to round, and 17 databases are handed on in second parts.
const ACROSS: Fleet = Fleet {
    size: FLEET,
    dest: FAR,
};
/// The databases of a first part in the rounds after round 1 of `ACROSS` (above).
const LATER_PART: usize = 80;

/// `size` PostgreSQL databases in prod (R) whose rule copies them into the vault in `dest`.
#[derive(Clone, Copy)]
struct Fleet {
    size: usize,
    dest: &'static str,
}

/// A database identifier of 63 characters, RDS's longest.
fn identifier(n: usize) -> String {
    let id = format!("customer-payments-ledger-shard-{n:04}-primary-postgres-eu-replica");
    debug_assert_eq!(id.len(), 63);
    id
}

impl Fleet {
    /// A vault and a prod account whose databases are under a CMK the vault may use; the vault's
    /// key (`alias/rds-vault`) in R and in `dest`.
    fn org(self) -> Org {
        let instances: Vec<Value> = (0..self.size)
            .map(|n| {
                json!({"account": "prod", "region": R, "id": identifier(n), "engine": "postgres",
                       "encrypted": true, "kms_key": "share-key"})
            })
            .collect();
        let mut more = json!({ "instances": instances });
        if self.dest != R {
            more["keys"] = json!([{"key": "vault-key-far", "account": "vault",
                                   "region": self.dest, "alias": "alias/rds-vault"}]);
        }
        seed(vault_and_prod(R, more))
    }

    fn rules(self, org: &Org) -> String {
        let region = match self.dest {
            R => String::new(),
            far => format!("region = \"{far}\", "),
        };
        format!(
            r#"[[rule]]
id = "prod"
select = {{ accounts = ["{prod}"], regions = ["{R}"] }}
destination = {{ account = "{vault}", {region}kms_key = "alias/rds-vault" }}
max_age = "26h"
"#,
            prod = org.account("prod"),
            vault = org.account("vault")
        )
    }

    fn remediate(self, org: &Org, out: &str, extra: &[&str]) -> (Cmd, Run) {
        let mut cmd = org.rdsguard();
        cmd.file("rules.toml", &self.rules(org));
        let mut args = vec!["--engine", "step-functions"];
        args.extend(extra);
        let run = cmd.remediate(out, &args);
        (cmd, run)
    }

    /// One vault copy of each database, by identifier.
    fn one_copy_each(self) -> BTreeMap<String, usize> {
        (0..self.size).map(|n| (identifier(n), 1)).collect()
    }

    fn all_compliant(self, org: &Org, findings: &Value) {
        let statuses = verdicts(org, findings);
        assert_eq!(statuses.len(), self.size, "{statuses:?}");
        let not: Vec<_> = statuses
            .iter()
            .filter(|(_, (status, _))| status != "COMPLIANT")
            .collect();
        assert!(not.is_empty(), "{not:?}");
    }
}

/// How many times `account` made `call` (`rds:CreateDBSnapshot`).
fn count(account: &str, call: &str) -> usize {
    calls_by(account)
        .iter()
        .filter(|c| c.as_str() == call)
        .count()
}

/// How many times `account` made `call` in `region` (`CopyDBSnapshot@eu-west-1`).
fn count_in(account: &str, call: &str, region: &str) -> usize {
    let call = format!("{call}@{region}");
    calls_in_regions(account)
        .iter()
        .filter(|c| **c == call)
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

/// The ARNs of the executions a run lists in `executions.json`, in its order.
fn execution_arns(cmd: &Cmd, out: &str) -> Vec<String> {
    cmd.json(&format!("{out}/executions.json"))
        .as_array()
        .expect("executions")
        .iter()
        .map(|e| e["execution_arn"].as_str().expect("arn").to_string())
        .collect()
}

/// What Step Functions holds for an execution: its input as it was given, and its status.
struct Described {
    input: String,
    status: String,
    seconds: f64,
}

/// `DescribeExecution` in the execution's own region (the one its ARN names).
fn describe(org: &Org, arn: &str) -> Described {
    let region = arn.split(':').nth(3).expect("an execution ARN");
    let client = aws_sdk_sfn::Client::new(&org.management_sdk(region));
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

/// An execution read back from Step Functions, which must have succeeded with an input under the
/// quota: its input's size and items. Prints its figures.
fn succeeded_under_quota(org: &Org, arn: &str) -> (usize, Vec<Value>) {
    let d = describe(org, arn);
    assert_eq!(d.status, "SUCCEEDED", "{arn}");
    let bytes = d.input.len();
    assert!(bytes <= QUOTA, "{arn}: {bytes} bytes");
    let entries = items(&d.input);
    eprintln!(
        "{} ({}): {} databases, {bytes} bytes of input, ran {:.1} s",
        arn.rsplit(':').next().unwrap_or_default(),
        arn.split(':').nth(3).unwrap_or_default(),
        entries.len(),
        d.seconds
    );
    (bytes, entries)
}

/// The items of an execution's input.
fn items(input: &str) -> Vec<Value> {
    let input: Value = serde_json::from_str(input).expect("the input is JSON");
    input["items"].as_array().expect("items").clone()
}

/// The source ARN of every item of an execution's input.
fn sources(input: &str) -> Vec<String> {
    items(input)
        .iter()
        .map(|i| i["item"]["source_arn"].as_str().expect("arn").to_string())
        .collect()
}

/// The manual snapshots of `account_key` in `region`.
fn manual_snapshots(
    org: &Org,
    account_key: &str,
    region: &str,
) -> Vec<aws_sdk_rds::types::DbSnapshot> {
    let client = aws_sdk_rds::Client::new(&org.sdk(account_key, region));
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
    snapshots
        .into_iter()
        .map(|s| s.expect("DescribeDBSnapshots"))
        .collect()
}

/// The vault's manual snapshots in `region` of each prod database: identifier -> how many.
fn vault_copies(org: &Org, region: &str) -> BTreeMap<String, usize> {
    let mut copies = BTreeMap::new();
    for s in manual_snapshots(org, "vault", region) {
        assert!(s.encrypted().unwrap_or(false), "{s:?}");
        *copies
            .entry(s.db_instance_identifier().unwrap_or_default().to_string())
            .or_default() += 1;
    }
    copies
}

#[test]
fn a_round_too_large_for_one_execution_runs_in_parts_under_the_quota_and_again_changes_nothing() {
    let org = SAME.org();
    let (vault, boss) = (org.account("vault"), org.account("management"));
    let started = Instant::now();
    let (cmd, run) = SAME.remediate(&org, "sfn", &[]);
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
    let arns = execution_arns(&cmd, "sfn");
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut total = 0;
    for arn in &arns {
        let (bytes, entries) = succeeded_under_quota(&org, arn);
        total += bytes;
        for entry in entries {
            let source = entry["item"]["source_arn"].as_str().expect("arn");
            *seen.entry(source.to_string()).or_default() += 1;
        }
    }
    assert!(total > QUOTA, "{total} bytes would have fit one execution");
    // Cut where the quota is reached: the first part holds every database but one.
    let first = sources(&describe(&org, &arns[0]).input).len();
    assert_eq!(first, FLEET - 1);
    assert_eq!(seen.len(), FLEET, "every database in a part");
    assert!(seen.values().all(|n| *n == 1), "each in one part only");

    // Every database has its copy in the vault, and the re-audit says so.
    let expected = SAME.one_copy_each();
    assert_eq!(vault_copies(&org, R), expected);
    SAME.all_compliant(&org, &cmd.json("sfn/findings.json"));
    eprintln!("{FLEET} databases in two parts: the run took {took:?}");

    // A second run: nothing to repair, no execution started, nothing made.
    let starts = count(&boss, "states:StartExecution");
    let copies_made = count(&vault, "rds:CopyDBSnapshot");
    let (again, second) = SAME.remediate(&org, "again", &[]);
    assert_eq!(second.code, 0, "{second}");
    assert_eq!(count(&boss, "states:StartExecution"), starts);
    assert_eq!(count(&vault, "rds:CopyDBSnapshot"), copies_made);
    assert_eq!(vault_copies(&org, R), expected);
    SAME.all_compliant(&org, &again.json("again/findings.json"));
}

/// A cross-region plan (prod in R, the vault in FAR) of 97 databases: four rounds, alternating
/// regions as docs/remediation.md lays them out (`find-replica` in FAR, `snapshot` and `share` in
/// R, `copy` in FAR, `cleanup` in R), each in two parts run one after the other (96 + 1 in round
/// 1, 80 + 17 after it). Each input, as Step Functions holds it, is under the quota and holds what
/// the earlier rounds found: the data's time `share` read in round 2 (its snapshot's creation) is
/// in every database's entry of rounds 3 and 4, in either part, and on its own vault copy as
/// `rdsguard:data-time`. Every database is in one part of each round; one snapshot, one copy into
/// FAR and one transit deletion each; nothing left in prod or in the vault's R; the re-audit is
/// COMPLIANT, and a second run starts nothing.
#[test]
fn a_cross_region_plan_runs_each_round_in_parts_hands_on_across_them_and_again_changes_nothing() {
    let fleet = ACROSS;
    let org = fleet.org();
    let (prod, vault, boss) = (
        org.account("prod"),
        org.account("vault"),
        org.account("management"),
    );
    let started = Instant::now();
    let (cmd, run) = fleet.remediate(&org, "sfn", &[]);
    let took = started.elapsed();
    assert_eq!(run.code, 0, "{run}");
    assert!(
        run.stdout
            .contains(&format!("{} repaired, 0 failed", fleet.size)),
        "{run}"
    );

    // The rounds in order, in alternating regions; each in two parts.
    let run_id = cmd.json("sfn/findings.json")["run"]["id"]
        .as_str()
        .expect("run id")
        .to_string();
    let shape = [(1, FAR), (2, R), (3, FAR), (4, R)];
    let expected: Vec<(u64, u64, String, String, String)> = shape
        .iter()
        .flat_map(|&(round, region)| {
            let run_id = &run_id;
            (1..=2).map(move |part| {
                let suffix = if part > 1 {
                    format!("p{part}")
                } else {
                    String::new()
                };
                (
                    round,
                    part,
                    region.to_string(),
                    "SUCCEEDED".to_string(),
                    format!("rdsguard-{run_id}-r{round}{suffix}"),
                )
            })
        })
        .collect();
    assert_eq!(listed(&cmd, "sfn"), expected);

    // Step Functions' own record of each execution: succeeded, an input under the quota; each
    // database in one part of each round, the parts cut where the arithmetic of `ACROSS` says.
    let mut parts: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    let mut seen: BTreeMap<u64, BTreeMap<String, usize>> = BTreeMap::new();
    // The data's time each database's entry carries, per round (null until `share` read it).
    let mut data_times: BTreeMap<u64, BTreeMap<String, Value>> = BTreeMap::new();
    for (arn, listed) in execution_arns(&cmd, "sfn").iter().zip(&expected) {
        let round = listed.0;
        let (_, entries) = succeeded_under_quota(&org, arn);
        parts.entry(round).or_default().push(entries.len());
        for entry in entries {
            let source = entry["item"]["source_arn"]
                .as_str()
                .expect("arn")
                .to_string();
            *seen
                .entry(round)
                .or_default()
                .entry(source.clone())
                .or_default() += 1;
            data_times
                .entry(round)
                .or_default()
                .insert(source, entry["data_time"]["value"].clone());
        }
    }
    let n = fleet.size;
    assert_eq!(
        parts,
        BTreeMap::from([
            (1, vec![n - 1, 1]),
            (2, vec![LATER_PART, n - LATER_PART]),
            (3, vec![LATER_PART, n - LATER_PART]),
            (4, vec![LATER_PART, n - LATER_PART])
        ])
    );
    let everyone: BTreeMap<String, usize> = (0..n)
        .map(|i| (org.arn("prod", R, &identifier(i)), 1))
        .collect();
    for (round, databases) in &seen {
        assert_eq!(
            databases, &everyone,
            "round {round}: each database in one part"
        );
    }
    // Handed on: nothing before `share` (round 2) read the data's time; rounds 3 and 4 hold it for
    // every database, those of the second parts too, the same in both rounds.
    for round in [1, 2] {
        assert!(
            data_times[&round].values().all(Value::is_null),
            "round {round}"
        );
    }
    let handed = &data_times[&3];
    let missing: Vec<&String> = handed
        .iter()
        .filter(|(_, t)| !t.is_string())
        .map(|(arn, _)| arn)
        .collect();
    assert!(
        missing.is_empty(),
        "round 3 was not handed the data's time of {missing:?}"
    );
    assert_eq!(&data_times[&4], handed);

    // Every database has one copy in the vault's FAR, tagged with the data time handed on for it,
    // which is its own snapshot's creation (the copy's `OriginalSnapshotCreateTime`); none in the
    // vault's R; no transit snapshot left in prod.
    for copy in manual_snapshots(&org, "vault", FAR) {
        let id = copy.db_instance_identifier().unwrap_or_default();
        let tag = copy
            .tag_list()
            .iter()
            .find(|t| t.key() == Some("rdsguard:data-time"))
            .and_then(|t| t.value());
        let handed = handed[&org.arn("prod", R, id)].as_str();
        assert!(
            tag.is_some() && tag == handed,
            "{id}: tagged {tag:?}, handed {handed:?}"
        );
        let tagged = tag.and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
        let original = copy.original_snapshot_create_time();
        assert_eq!(
            tagged.map(|t| t.timestamp_millis()),
            original.and_then(|t| t.to_millis().ok()),
            "{id}: tagged {tag:?}, its data from {original:?}"
        );
    }
    assert_eq!(vault_copies(&org, FAR), fleet.one_copy_each());
    assert_eq!(vault_copies(&org, R), BTreeMap::new());
    let left: Vec<_> = manual_snapshots(&org, "prod", R)
        .iter()
        .map(|s| s.db_snapshot_identifier().unwrap_or_default().to_string())
        .collect();
    assert!(left.is_empty(), "{left:?}");
    fleet.all_compliant(&org, &cmd.json("sfn/findings.json"));

    // The calls that make and remove things, each once per database; one start per execution.
    assert_eq!(count(&boss, "states:StartExecution"), expected.len());
    assert_eq!(count_in(&prod, "CreateDBSnapshot", R), n);
    assert_eq!(count_in(&prod, "DeleteDBSnapshot", R), n);
    assert_eq!(count_in(&vault, "CopyDBSnapshot", FAR), n);
    assert_eq!(
        count(&vault, "rds:CopyDBSnapshot"),
        n,
        "no copy outside FAR"
    );
    eprintln!(
        "{n} databases across regions, {} executions: the run took {took:?}",
        expected.len()
    );

    // A second run: nothing to repair, no execution started, nothing made.
    let (again, second) = fleet.remediate(&org, "again", &[]);
    assert_eq!(second.code, 0, "{second}");
    assert_eq!(count(&boss, "states:StartExecution"), expected.len());
    assert_eq!(count(&vault, "rds:CopyDBSnapshot"), n);
    assert_eq!(vault_copies(&org, FAR), fleet.one_copy_each());
    fleet.all_compliant(&org, &again.json("again/findings.json"));
    eprintln!("with the second run: {:?}", started.elapsed());
}

/// `--execution-wait` runs out while the first part is still running (one of its copies answers
/// 8 s late): the second part is not started (its databases are reported as not started, exit 3),
/// since parts run one after the other. `--resume` takes the first part over, then runs the second:
/// every database repaired, nothing made twice.
#[test]
fn a_part_still_running_holds_back_the_next_and_resume_runs_both_once() {
    let org = SAME.org();
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
    let (cmd, run) = SAME.remediate(&org, "sfn", &["--execution-wait", "2s"]);
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
    SAME.all_compliant(&org, &cmd.json("sfn/findings.json"));
    // One snapshot and one vault copy per database, two executions: nothing ran twice.
    assert_eq!(count(&prod, "rds:CreateDBSnapshot"), FLEET);
    assert_eq!(count(&vault, "rds:CopyDBSnapshot"), FLEET);
    assert_eq!(vault_copies(&org, R), SAME.one_copy_each());
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
