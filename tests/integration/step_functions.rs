//! The Step Functions engine, first slice: `remediation export` writes a definition that `statelint`
//! accepts and a CloudFormation template that `cfn-lint` passes; `audit --remediate --engine
//! step-functions --dry-run` prints the definition and the executions' input and changes nothing;
//! without --remediate the engine is refused (exit 2). Running the machine: tests/integration/sfn.rs.

// The judges' verdicts are printed: `-- --nocapture` shows them.
#![allow(clippy::print_stderr)]

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

use crate::harness::{calls_by, repo, seed, vault_and_prod, Cmd};

const R: &str = "us-east-1";
const FAR: &str = "eu-west-1";

/// A rule that copies across regions under a re-encryption key and prunes, a rule that restores
/// (without a secret), and one that copies with AWS Backup.
const RULES: &str = r#"[[rule]]
id = "far"
select = { identifiers = ["far-*"] }
destination = { account = "222222222222", region = "eu-west-1", kms_key = "alias/rds-vault" }
source_kms_key = "alias/rds-share"
max_age = "26h"
retain = { min = 1, max = 3 }

[[rule]]
id = "restored"
select = { identifiers = ["orders-*"] }
destination = { account = "222222222222", kms_key = "alias/rds-vault" }
max_age = "26h"
restore = { instance_class = "db.t3.micro", subnet_group = "vault-db" }

[[rule]]
id = "backup"
select = { identifiers = ["ledger-*"] }
destination = { account = "222222222222", replicas = ["backup"] }
remediate = "backup"
backup = { destination_vault = "vault" }
max_age = "26h"
"#;

/// `statelint` (PyPI, pinned in tests/iam/requirements.txt) on one definition file.
fn statelint(file: &Path) -> crate::harness::Run {
    let lint = repo().join(".venv/bin/statelint");
    assert!(
        lint.exists(),
        "{} not found: run `make iam-tools` (installs tests/iam/requirements.txt)",
        lint.display()
    );
    let output = Command::new(lint).arg(file).output();
    output.expect("run statelint").into()
}

#[test]
fn the_exported_definition_and_template_pass_statelint_and_cfn_lint() {
    let mut cmd = Cmd::new();
    cmd.file("rules.toml", RULES);
    for partition in ["aws", "aws-us-gov"] {
        let out = format!("out-{partition}");
        let run = cmd.run(&[
            "remediation",
            "export",
            "--rules",
            "rules.toml",
            "--out",
            &out,
            "--role-name",
            "rdsguard",
            "--partition",
            partition,
        ]);
        assert_eq!(run.code, 0, "{run}");
        let definition = cmd.path(&format!("{out}/state-machine.asl.json"));
        let template = cmd.path(&format!("{out}/state-machine.template.json"));
        let lines: Vec<&str> = run.stdout.lines().collect();
        assert_eq!(lines.len(), 2, "{run}");
        assert!(lines[0].ends_with("state-machine.asl.json"), "{run}");
        assert!(lines[1].ends_with("state-machine.template.json"), "{run}");
        let lint = statelint(&definition);
        assert_eq!(lint.code, 0, "statelint: {lint}");
        let lint = crate::setup::cfn_lint(std::slice::from_ref(&template));
        let findings: Value = serde_json::from_str(lint.stdout.trim()).unwrap_or(json!([]));
        assert_eq!(findings, json!([]), "cfn-lint: {lint}");
        assert_eq!(lint.code, 0, "{lint}");

        let asl = cmd.json(&format!("{out}/state-machine.asl.json"));
        let map = &asl["States"]["databases"];
        // How many databases run at once is each execution's input, not the machine's.
        assert_eq!(map["MaxConcurrencyPath"], "$.max_parallel");
        let tpl = cmd.json(&format!("{out}/state-machine.template.json"));
        // The template deploys exactly the exported definition, under its execution role.
        assert_eq!(
            tpl["Resources"]["StateMachine"]["Properties"]["Definition"],
            asl
        );
        let role = &tpl["Resources"]["ExecutionRole"]["Properties"];
        let statements = role["Policies"][0]["PolicyDocument"]["Statement"]
            .as_array()
            .expect("statements");
        let actions: Vec<&Value> = statements.iter().map(|s| &s["Action"]).collect();
        assert_eq!(
            actions,
            vec![
                &json!("sts:AssumeRole"),
                &json!("states:StartExecution"),
                &json!(["states:DescribeExecution", "states:StopExecution"])
            ],
            "the execution role calls no RDS, KMS or AWS Backup API itself"
        );
        assert_eq!(
            statements[0]["Resource"],
            json!({"Fn::Sub": "arn:${AWS::Partition}:iam::*:role/rdsguard"})
        );
        // What statelint and cfn-lint judged includes every chain: an Aurora cluster's restore
        // (the cluster, then its instance) and the pruning of earlier ones.
        for task in [
            "copyDBSnapshot",
            "restoreDBClusterFromSnapshot",
            "createDBInstance",
            "deleteDBCluster",
        ] {
            let resource = format!("arn:aws:states:::aws-sdk:rds:{task}");
            assert!(asl.to_string().contains(&resource), "{resource}");
        }
        eprintln!("statelint: ok; cfn-lint: no finding ({partition})");
    }
}

#[test]
fn export_refuses_rules_whose_secret_would_pass_through_the_states() {
    let mut cmd = Cmd::new();
    cmd.file(
        "rules.toml",
        r#"[[rule]]
id = "prod"
destination = { account = "222222222222", kms_key = "alias/rds-vault" }
max_age = "26h"
restore = { instance_class = "db.t3.micro", secret = "rds/{identifier}" }
"#,
    );
    let run = cmd.run(&[
        "remediation",
        "export",
        "--rules",
        "rules.toml",
        "--out",
        "out",
    ]);
    assert_eq!(run.code, 2, "{run}");
    assert!(
        run.stderr.contains(
            "rule `prod` (restore.secret): step `repoint` does not run on the Step Functions engine: repointing a secret would pass its value"
        ),
        "{run}"
    );
    assert!(!cmd.path("out").exists(), "nothing written");
}

fn org() -> crate::harness::Org {
    seed(vault_and_prod(
        R,
        json!({
            "keys": [{"key": "vault-key-far", "account": "vault", "region": FAR, "alias": "alias/rds-vault"}],
            "instances": [
                {"account": "prod", "id": "near", "engine": "postgres", "encrypted": true, "kms_key": "share-key"},
                {"account": "prod", "id": "far", "engine": "postgres", "encrypted": true, "kms_key": "share-key"}
            ]
        }),
    ))
}

fn org_rules(org: &crate::harness::Org) -> String {
    crate::remediate::two_rules(org, "", "")
}

#[test]
fn a_dry_run_prints_the_machine_and_its_executions_and_changes_nothing() {
    let org = org();
    let mut cmd = org.rdsguard();
    cmd.file("rules.toml", &org_rules(&org));
    let calls = |key: &str| calls_by(&org.account(key)).len();

    // Without --remediate: refused before anything is read or changed.
    let before = (calls("prod"), calls("vault"));
    let run = cmd.run(&[
        "audit",
        "--rules",
        "rules.toml",
        "--out",
        "real",
        "--engine",
        "step-functions",
    ]);
    assert_eq!(run.code, 2, "{run}");
    assert!(run.stderr.contains("add --remediate"), "{run}");
    assert_eq!(
        (calls("prod"), calls("vault")),
        before,
        "nothing sent to AWS"
    );

    let run = cmd.run(&[
        "audit",
        "--rules",
        "rules.toml",
        "--out",
        "dry",
        "--remediate",
        "--dry-run",
        "--engine",
        "step-functions",
        "--max-parallel",
        "7",
        "--role-name",
        "rdsguard",
    ]);
    assert_eq!(run.code, 1, "{run}");
    let printed: Value = {
        let start = run.stdout.find("{\n").expect("the JSON after the plan");
        let end = run.stdout.rfind("\n}").expect("its end") + 2;
        serde_json::from_str(&run.stdout[start..end]).expect("JSON")
    };
    assert_eq!(
        printed["state_machine"],
        cmd.json("dry/state-machine.asl.json")
    );
    assert_eq!(printed["executions"], cmd.json("dry/executions.json"));
    assert_eq!(
        printed["state_machine"]["States"]["databases"]["MaxConcurrencyPath"],
        "$.max_parallel"
    );
    let lint = statelint(&cmd.path("dry/state-machine.asl.json"));
    assert_eq!(lint.code, 0, "statelint: {lint}");

    // near: one execution in us-east-1; far (eu-west-1 vault): its legs in rounds.
    let executions = printed["executions"].as_array().expect("executions");
    let shape: Vec<(u64, &str, usize)> = executions
        .iter()
        .map(|e| {
            (
                e["round"].as_u64().unwrap_or(0),
                e["region"].as_str().unwrap_or(""),
                e["input"]["items"].as_array().map_or(0, Vec::len),
            )
        })
        .collect();
    assert_eq!(
        shape,
        vec![(1, FAR, 1), (1, R, 1), (2, R, 1), (3, FAR, 1), (4, R, 1)],
        "{printed}"
    );
    // Each execution carries the map's concurrency: --max-parallel 7 (under the limit of 20 DB
    // snapshot copies in progress into one region, so the copy round keeps it too).
    assert!(
        executions.iter().all(|e| e["input"]["max_parallel"] == 7),
        "{printed}"
    );
    let vault = org.account("vault");
    let near = &executions[1]["input"]["items"][0];
    assert_eq!(near["item"]["identifier"], "near");
    assert_eq!(
        near["roles"]["vault"],
        format!("arn:aws:iam::{vault}:role/rdsguard")
    );
    assert_eq!(near["steps"]["copy"], true);
    let plan = cmd.json("dry/plan.json");
    assert_eq!(
        near["item"]["names"], plan["items"][1]["names"],
        "the plan's own names"
    );
}
