use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::*;
use crate::report::remediation::{BackupJobs, Names, RestorePlan};

const SOURCE: &str = "arn:aws:rds:us-east-1:111111111111:db:orders";

fn item(kind: SourceKind, dest_region: &str) -> Item {
    let stamp = "20261124030000-run1";
    Item {
        source_arn: SOURCE.replace(
            ":db:",
            if kind == SourceKind::DbCluster {
                ":cluster:"
            } else {
                ":db:"
            },
        ),
        kind,
        account_id: "111111111111".into(),
        region: "us-east-1".into(),
        identifier: "orders".into(),
        rule: "prod".into(),
        dest_account: "222222222222".into(),
        dest_region: dest_region.into(),
        dest_kms_key: "alias/rds-vault".into(),
        reencrypt_key: None,
        names: Names {
            snapshot: format!("rdsguard-orders-{stamp}"),
            reencrypted: None,
            stage: (dest_region != "us-east-1").then(|| format!("rdsguard-orders-{stamp}-stage")),
            replica: format!("rdsguard-111111111111-orders-{stamp}"),
        },
        copy: true,
        prune: Vec::new(),
        orphans: Vec::new(),
        restore: None,
        backup: None,
        option_groups: Default::default(),
        reasons: vec!["replica-age".into()],
        notes: Vec::new(),
    }
}

/// A cross-region copy, re-encrypted, staged, with replicas to prune.
fn cross_region() -> Item {
    let mut item = item(SourceKind::DbInstance, "eu-west-1");
    item.reencrypt_key = Some("alias/rds-share".into());
    item.names.reencrypted = Some(format!("{}-cmk", item.names.snapshot));
    item.prune = vec!["rdsguard-111111111111-orders-20261101030000-old1".into()];
    item.orphans = vec!["rdsguard-orders-20261120030000-dead".into()];
    item
}

/// An Aurora cluster's same-region copy restored (no secret), an earlier restore pruned.
fn restored_cluster() -> Item {
    let mut item = restored();
    item.kind = SourceKind::DbCluster;
    item.source_arn = SOURCE.replace(":db:", ":cluster:");
    if let Some(r) = item.restore.as_mut() {
        r.cluster = true;
        r.engine = "aurora-postgresql".into();
        r.instance_class = "db.r6g.large".into();
        r.security_groups = vec!["sg-0123456789abcdef0".into()];
    }
    item
}

/// A same-region copy restored (no secret), earlier restores pruned.
fn restored() -> Item {
    let mut item = item(SourceKind::DbInstance, "us-east-1");
    item.restore = Some(RestorePlan {
        from_snapshot: item.names.replica.clone(),
        instance: "rdsguard-orders-20261124030000-run1".into(),
        instance_class: "db.t3.micro".into(),
        subnet_group: Some("vault-db".into()),
        security_groups: Vec::new(),
        parameter_group: None,
        secret: None,
        cluster: false,
        engine: "postgres".into(),
        prune: vec!["rdsguard-orders-20261001030000-old".into()],
    });
    item
}

fn backup() -> Item {
    let mut item = item(SourceKind::DbInstance, "eu-west-1");
    item.copy = false;
    item.backup = Some(BackupJobs {
        source_vault: "Default".into(),
        destination_vault_arn: "arn:aws:backup:eu-west-1:222222222222:backup-vault:vault".into(),
        role_arn: "arn:aws:iam::111111111111:role/service-role/AWSBackupDefaultServiceRole".into(),
        delete_after_days: 35,
        backup_token: "rdsguard-111111111111-orders-20261124030000-run1-backup".into(),
        copy_token: "rdsguard-111111111111-orders-20261124030000-run1-copy".into(),
    });
    item
}

fn prune_only() -> Item {
    let mut item = item(SourceKind::DbCluster, "us-east-1");
    item.copy = false;
    item.prune = vec!["rdsguard-111111111111-orders-20261001030000-old".into()];
    item
}

fn plan(items: Vec<Item>) -> Plan {
    Plan {
        run_id: "run1".into(),
        created_at: chrono::DateTime::parse_from_rfc3339("2026-11-24T03:00:00Z")
            .expect("time")
            .to_utc(),
        items,
        blocked: Vec::new(),
    }
}

/// Every state a state of `states` can go to.
fn targets(state: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for key in ["Next", "Default"] {
        if let Some(next) = state[key].as_str() {
            out.push(next.to_string());
        }
    }
    for list in ["Choices", "Catch"] {
        for rule in state[list].as_array().into_iter().flatten() {
            if let Some(next) = rule["Next"].as_str() {
                out.push(next.to_string());
            }
        }
    }
    out
}

/// The default machine's definition, checked ([`check_scope`]), with every state's name and every
/// Task (its name and state).
fn checked() -> (Value, Vec<String>, Vec<(String, Value)>) {
    let definition = definition(&Options::default());
    let (mut names, mut tasks) = (Vec::new(), Vec::new());
    check_scope(&definition, &mut names, &mut tasks);
    (definition, names, tasks)
}

/// Checks one scope (`StartAt` + `States`) and the scopes nested in it; returns every state name.
fn check_scope(scope: &Value, names: &mut Vec<String>, tasks: &mut Vec<(String, Value)>) {
    let states = scope["States"].as_object().expect("States");
    let start = scope["StartAt"].as_str().expect("StartAt");
    assert!(states.contains_key(start), "StartAt {start} resolves");
    let mut reached = BTreeSet::from([start.to_string()]);
    let mut todo = vec![start.to_string()];
    while let Some(name) = todo.pop() {
        for next in targets(&states[&name]) {
            assert!(
                states.contains_key(&next),
                "`{name}` goes to `{next}`, no such state"
            );
            if reached.insert(next.clone()) {
                todo.push(next);
            }
        }
    }
    for (name, state) in states {
        assert!(reached.contains(name), "`{name}` is unreachable");
        assert!(
            name.len() <= 80,
            "`{name}`: state names are at most 80 characters"
        );
        names.push(name.clone());
        let ends = state["End"] == true
            || matches!(state["Type"].as_str(), Some("Succeed" | "Fail" | "Choice"));
        assert!(
            ends || state["Next"].is_string(),
            "`{name}` neither ends nor goes on"
        );
        if state["Type"] == "Task" {
            assert!(
                state["Retry"].as_array().is_some_and(|r| !r.is_empty()),
                "`{name}` has Retry"
            );
            assert!(
                state["Catch"].as_array().is_some_and(|c| !c.is_empty()),
                "`{name}` has Catch"
            );
            assert!(
                state["Credentials"]["RoleArn.$"].is_string(),
                "`{name}` has Credentials"
            );
            let resource = state["Resource"].as_str().expect("Resource");
            assert!(
                resource.starts_with("arn:aws:states:::aws-sdk:"),
                "{resource}"
            );
            tasks.push((name.clone(), state.clone()));
        }
        if state["Type"] == "Map" {
            check_scope(&state["ItemProcessor"], names, tasks);
        }
    }
}

#[test]
fn the_definition_is_structurally_valid() {
    let (definition, names, tasks) = checked();
    let unique: BTreeSet<&String> = names.iter().collect();
    assert_eq!(
        unique.len(),
        names.len(),
        "state names are unique in the machine"
    );
    let map = &definition["States"]["databases"];
    let processor = &map["ItemProcessor"]["ProcessorConfig"];
    let mode = (
        processor["Mode"].as_str(),
        processor["ExecutionType"].as_str(),
    );
    assert_eq!(mode, (Some("DISTRIBUTED"), Some("STANDARD")));
    assert_eq!(map["MaxConcurrencyPath"], "$.max_parallel");
    assert!(map.get("MaxConcurrency").is_none());
    assert!(tasks.len() > 30, "{} tasks", tasks.len());
}

/// The step a state belongs to: its name starts with the step's (after `cluster `, in that chain).
fn step_of(name: &str) -> Step {
    let bare = name.strip_prefix("cluster ").unwrap_or(name);
    Step::ALL
        .into_iter()
        .filter(|s| bare.starts_with(&format!("{}:", s.name())))
        .max_by_key(|s| s.name().len())
        .unwrap_or_else(|| panic!("`{name}` names no step"))
}

/// Each Task acts as its step declares: a step whose IAM actions are all in the vault account runs
/// under the vault role only, and so on (state names start with their step's name).
#[test]
fn every_task_runs_under_the_role_its_step_declares() {
    let (_, _, tasks) = checked();
    let mut vault_tasks = 0;
    for (name, task) in &tasks {
        let step = step_of(name);
        let iam = &step.decl().iam;
        let role = task["Credentials"]["RoleArn.$"].as_str().expect("role");
        match role {
            "$.roles.vault" => {
                vault_tasks += 1;
                assert!(
                    !iam.destination.is_empty(),
                    "`{name}`: {} acts in the vault",
                    step.name()
                );
            }
            "$.roles.source" => {
                assert!(
                    !iam.source.is_empty(),
                    "`{name}`: {} acts in the source",
                    step.name()
                );
            }
            other => panic!("`{name}`: {other}"),
        }
        // Vault-only steps: every Task under the vault role.
        if iam.source.is_empty() {
            assert_eq!(role, "$.roles.vault", "`{name}`");
        }
    }
    assert!(vault_tasks >= 10, "{vault_tasks}");
}

/// Every DB instance the machine makes (a restore, a restored cluster's instance) is made not
/// publicly accessible, as the local engine makes it and the vault role's policy requires.
#[test]
fn every_db_instance_made_is_not_publicly_accessible() {
    let (_, _, tasks) = checked();
    let makes = ["restoreDBInstanceFromDBSnapshot", "createDBInstance"];
    let mut made = 0;
    for (name, task) in &tasks {
        let resource = task["Resource"].as_str().unwrap_or_default();
        if makes
            .iter()
            .any(|m| resource.ends_with(&format!("rds:{m}")))
        {
            made += 1;
            assert_eq!(task["Parameters"]["PubliclyAccessible"], false, "`{name}`");
        }
    }
    assert_eq!(made, 2, "an instance restore and a cluster's instance");
}

#[test]
fn rds_parameters_and_results_use_the_db_spelling() {
    let text = definition(&Options::default()).to_string();
    for aws in [
        "\"DbSnapshotIdentifier.$\"",
        "\"DbClusterSnapshotIdentifier.$\"",
        "\"SourceDbSnapshotIdentifier.$\"",
        "$.DbSnapshots[0].Status",
        "$.DbInstances[0].DbInstanceStatus",
        "arn:aws:states:::aws-sdk:rds:createDBSnapshot",
        "arn:aws:states:::aws-sdk:rds:copyDBSnapshot",
        "arn:aws:states:::aws-sdk:rds:copyDBClusterSnapshot",
        "arn:aws:states:::aws-sdk:backup:startBackupJob",
        "arn:aws:states:::aws-sdk:backup:startCopyJob",
        "Rds.DbSnapshotAlreadyExistsException",
        "Rds.DbSnapshotNotFoundException",
    ] {
        assert!(text.contains(aws), "{aws}");
    }
    for boto in ["DBSnapshotIdentifier", "DBInstanceIdentifier\"", "Fault"] {
        assert!(!text.contains(boto), "{boto}");
    }
}

#[test]
fn every_wait_loop_is_bounded_by_the_step_timeout() {
    let o = Options {
        step_timeout_secs: 3600,
        poll_seconds: 60,
        ..Options::default()
    };
    let definition = definition(&o);
    let states = definition["States"]["databases"]["ItemProcessor"]["States"]
        .as_object()
        .expect("states");
    let loops: Vec<&String> = states.keys().filter(|k| k.ends_with(": ready?")).collect();
    // snapshot, re-encrypt, copy-stage, copy (two kinds), restore (an instance; a cluster, then
    // its instance), backup-job, copy-job.
    assert_eq!(loops.len(), 13, "{loops:?}");
    for name in loops {
        let rules = states[name]["Choices"].as_array().expect("rules");
        assert!(
            rules.iter().any(|r| r["NumericGreaterThanEquals"] == 60),
            "{name}: gives up after 60 polls"
        );
        let wait = states[name]["Default"].as_str().expect("wait");
        assert_eq!(states[wait]["Seconds"], 60, "{wait}");
    }
}

#[test]
fn the_chains_come_from_the_one_step_list() {
    assert_eq!(chain(Chain::Backup), vec![Step::BackupJob, Step::CopyJob]);
    let instance = chain(Chain::Instance);
    assert!(!instance.contains(&Step::Repoint) && instance.contains(&Step::Restore));
    let cluster = chain(Chain::Cluster);
    assert!(cluster.contains(&Step::Restore) && cluster.contains(&Step::PruneRestores));
    assert!(!cluster.contains(&Step::Repoint) && !cluster.contains(&Step::Supersede));
    // The order of `Item::steps`.
    let order = |s: &Step| Step::ALL.iter().position(|a| a == s);
    assert!(instance.windows(2).all(|w| order(&w[0]) < order(&w[1])));
}

#[test]
fn each_step_calls_the_region_its_declaration_names() {
    for step in Step::ALL {
        let runs_in = step.decl().runs_in;
        let expected = if runs_in.contains("destination region") {
            Side::Destination
        } else {
            Side::Source
        };
        assert_eq!(side(step), expected, "{}: {runs_in}", step.name());
    }
}

#[test]
fn a_cross_region_item_runs_in_rounds_one_region_each() {
    let plan = plan(vec![cross_region(), restored(), backup()]);
    let executions = executions(&plan, &Options::default()).expect("supported");
    let shape: Vec<(usize, &str, usize)> = executions
        .iter()
        .map(|e| {
            let items = e.input["items"].as_array().map_or(0, Vec::len);
            (e.round, e.region.as_str(), items)
        })
        .collect();
    // Round 1: the restored item and the backup item whole (us-east-1), the cross-region item's
    // find-replica (eu-west-1); then its snapshot..copy-stage, copy, cleanup, prune.
    assert_eq!(
        shape,
        vec![
            (1, "eu-west-1", 1),
            (1, "us-east-1", 2),
            (2, "us-east-1", 1),
            (3, "eu-west-1", 1),
            (4, "us-east-1", 1),
            (5, "eu-west-1", 1)
        ]
    );
    let steps = |e: &Execution| -> Vec<String> {
        e.input["items"][0]["steps"]
            .as_object()
            .expect("flags")
            .iter()
            .filter(|(_, on)| **on == true)
            .map(|(k, _)| k.clone())
            .collect()
    };
    assert_eq!(steps(&executions[0]), vec!["find_replica"]);
    assert_eq!(
        steps(&executions[2]),
        vec!["copy_stage", "re_encrypt", "share", "snapshot"]
    );
    let copy = &executions[3].input["items"][0];
    assert_eq!(
        copy["refs"]["copy_from"],
        "arn:aws:rds:us-east-1:222222222222:snapshot:rdsguard-orders-20261124030000-run1-stage"
    );
    assert_eq!(
        copy["roles"]["vault"],
        "arn:aws:iam::222222222222:role/OrganizationAccountAccessRole"
    );
    assert_eq!(
        executions[4].input["items"][0]["refs"]["transit"],
        serde_json::json!([
            "rdsguard-orders-20261124030000-run1",
            "rdsguard-orders-20261124030000-run1-cmk",
            "rdsguard-orders-20261120030000-dead"
        ])
    );
}

#[test]
fn an_item_with_a_secret_to_repoint_is_refused_naming_the_step() {
    let mut item = restored();
    if let Some(r) = item.restore.as_mut() {
        r.secret = Some("rds/orders".into());
    }
    let refused = executions(&plan(vec![item]), &Options::default()).expect_err("refused");
    assert_eq!(refused.step, "repoint");
    assert!(refused.to_string().contains(SOURCE), "{refused}");
}

/// The figures docs/remediation.md quotes: transitions per item on the happy path (each step's
/// wait loop done at its first check), and per further poll.
#[test]
fn transitions_per_item() {
    let o = Options::default();
    let definition = definition(&o);
    let mut figures = BTreeMap::new();
    let same_region = item(SourceKind::DbInstance, "us-east-1");
    for (name, item) in [
        ("same-region copy", same_region),
        ("restored copy", restored()),
        ("restored copy (cluster)", restored_cluster()),
        ("aws backup jobs", backup()),
        ("prune only (cluster)", prune_only()),
        ("cross-region, re-encrypted, pruned", cross_region()),
    ] {
        let mut total = 0;
        for (_, steps) in input::legs(&item) {
            let input = item_input(&item, &steps, "run1", &o);
            total += transitions(&definition, &input).expect("walks");
        }
        figures.insert(name, total);
    }
    assert_eq!(
        figures,
        BTreeMap::from([
            ("same-region copy", 30),
            ("restored copy", 39),
            ("restored copy (cluster)", 45),
            ("aws backup jobs", 10),
            ("prune only (cluster)", 18),
            ("cross-region, re-encrypted, pruned", 103),
        ]),
        "the figures in docs/remediation.md"
    );
}

/// `iam-policy --mode step-functions`: the execution role may assume the member roles and run its
/// own map, nothing else.
#[test]
fn iam_policy_prints_the_execution_role() {
    use crate::iam::{policies, Mode, Options as IamOptions};
    let modes = [Mode::Remediate, Mode::StepFunctions];
    let options = IamOptions {
        modes: &modes,
        partition: "aws",
        role_name: "rdsguard",
        caller_arn: None,
        caller_account: Some("999999999999"),
        external_id: None,
        organization_id: None,
        secrets: &[],
        backup_jobs: &[],
        drill_roles: &[],
        one_role: false,
    };
    let printed = policies(&options);
    let policy = &printed["state_machine_execution_policy"];
    assert_eq!(
        crate::iam::actions(policy),
        vec![
            "states:DescribeExecution",
            "states:StartExecution",
            "states:StopExecution",
            "sts:AssumeRole"
        ]
    );
    assert_eq!(
        policy["Statement"][0]["Resource"],
        "arn:aws:iam::*:role/rdsguard"
    );
    assert_eq!(
        policy["Statement"][1]["Resource"],
        "arn:aws:states:*:999999999999:stateMachine:rdsguard-remediation"
    );
    let trust = &printed["state_machine_execution_trust"]["Statement"][0];
    assert_eq!(trust["Principal"]["Service"], "states.amazonaws.com");
    assert_eq!(
        trust["Condition"]["StringEquals"]["aws:SourceAccount"],
        "999999999999"
    );
    // Without the mode, no such document.
    let without = policies(&IamOptions {
        modes: &[Mode::Remediate],
        ..options
    });
    assert!(without.get("state_machine_execution_policy").is_none());
}

/// A plan larger than one execution's input (Step Functions' 256 KiB quota) is cut into parts, each
/// under the quota once the rounds carry `data_time` and `find-replica`'s answer into it, every item
/// in exactly one part of each of its rounds.
#[test]
fn a_large_plan_is_cut_into_parts_under_the_input_quota() {
    let items: Vec<Item> = (0..400)
        .map(|n| {
            let mut item = cross_region();
            item.source_arn = format!("{SOURCE}-{n:03}");
            item.identifier = format!("orders-{n:03}");
            item
        })
        .collect();
    let plan = plan(items);
    let executions = executions(&plan, &Options::default()).expect("executions");
    let mut seen: BTreeMap<(usize, String), usize> = BTreeMap::new();
    for e in &executions {
        let mut input = e.input.clone();
        for i in input["items"].as_array_mut().expect("items") {
            let arn = i["item"]["source_arn"].as_str().expect("arn").to_string();
            *seen.entry((e.round, arn)).or_default() += 1;
            // What the next round is handed, at its largest.
            i["data_time"] = serde_json::json!("2026-11-24T03:00:00.000Z");
            i["find_replica"] = serde_json::json!({"value": "available"});
        }
        let size = input.to_string().len();
        assert!(
            size <= input::INPUT_QUOTA,
            "round {} part {}: {size} bytes",
            e.round,
            e.part
        );
    }
    let rounds = executions.iter().map(|e| e.round).max().unwrap_or(0);
    assert_eq!(seen.len(), 400 * rounds, "every item in each of its rounds");
    assert!(seen.values().all(|n| *n == 1), "in one part only");
    let parts = executions.iter().filter(|e| e.round == 1).count();
    let per_round: Vec<usize> = (1..=rounds)
        .map(|r| executions.iter().filter(|e| e.round == r).count())
        .collect();
    // The figures docs/remediation.md quotes: round 1 (`find-replica`) is handed nothing; the
    // later rounds keep room for what they are.
    assert_eq!(per_round, [4, 5, 5, 5, 5], "parts per round");
    assert!(parts >= 3, "400 items of about 2.5 KiB: {parts} parts");
    // A small quota cuts finer; one item over it still gets its own part.
    let small = input::executions_within(&plan, &Options::default(), 8 * 1024).expect("parts");
    assert!(small
        .iter()
        .all(|e| e.input["items"].as_array().is_some_and(|i| !i.is_empty())));
    assert!(small.len() > executions.len());
}

/// A state's output has the execution input's quota (256 KiB): the map's output is the items'
/// results alone (`{"results": [...]}`, what `run` and `remediation status` read), not its input
/// (up to the quota itself) with the results added to it.
#[test]
fn the_map_output_is_its_results_alone() {
    let definition = definition(&Options::default());
    let map = &definition["States"]["databases"];
    assert_eq!(map["ResultSelector"], serde_json::json!({"results.$": "$"}));
    assert_eq!(map["ResultPath"], "$", "nothing of the input in the output");
    assert!(map.get("OutputPath").is_none());
}

/// Round 1 is handed nothing by earlier rounds, so its parts are cut only where the next database
/// would take the input over the quota (later rounds keep room for what they are handed): each
/// part but the last is full to within the envelope of 256 KiB.
#[test]
fn the_first_round_is_cut_only_where_the_quota_is_reached() {
    let items: Vec<Item> = (0..200)
        .map(|n| {
            let mut item = item(SourceKind::DbInstance, "us-east-1");
            item.source_arn = format!("{SOURCE}-{n:03}");
            item
        })
        .collect();
    let executions = executions(&plan(items), &Options::default()).expect("executions");
    assert!(
        executions.iter().all(|e| e.round == 1),
        "same-region: one round"
    );
    assert!(executions.len() >= 2, "{} parts", executions.len());
    for pair in executions.windows(2) {
        let size = pair[0].input.to_string().len();
        let next = pair[1].input["items"][0].to_string().len();
        assert!(
            size <= input::INPUT_QUOTA,
            "part {}: {size} bytes",
            pair[0].part
        );
        assert!(
            size + 1 + next > input::INPUT_QUOTA - 512,
            "part {} holds {size} bytes: the next database ({next} bytes) would have fit",
            pair[0].part
        );
    }
}

/// An execution's input is at most 256 KiB (a Step Functions quota): an item's entry stays small
/// enough for about a hundred databases per execution (docs/remediation.md).
#[test]
fn an_item_input_is_small() {
    let o = Options::default();
    let item = cross_region();
    let steps = item.steps();
    let size = item_input(&item, &steps, "20261124T030000Z-1a2b3c4d", &o)
        .to_string()
        .len();
    assert!(size < 2600, "{size} bytes");
}

/// A round that copies across regions runs at most AWS's limit of copies in progress into one
/// destination region at once (5 cluster, 20 DB snapshots); other rounds `--max-parallel`. A
/// one-step item copies the shared snapshot itself.
#[test]
fn a_round_of_cross_region_copies_runs_at_most_awss_limit_at_once() {
    let mut one_step = cross_region();
    one_step.names.stage = None;
    let mut cluster = item(SourceKind::DbCluster, "eu-west-1");
    cluster.names.stage = None;
    let o = Options {
        max_parallel: 30,
        ..Options::default()
    };
    let executions = executions(&plan(vec![one_step, cluster.clone()]), &o).expect("supported");
    let bounds: Vec<(usize, &str, u64)> = executions
        .iter()
        .map(|e| {
            (
                e.round,
                e.region.as_str(),
                e.input["max_parallel"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    // Round 3 holds both copies into eu-west-1: the cluster's limit (5) bounds it.
    assert!(bounds.contains(&(3, "eu-west-1", 5)), "{bounds:?}");
    assert!(bounds.contains(&(2, "us-east-1", 30)), "{bounds:?}");
    let copy_round = executions.iter().find(|e| e.round == 3).expect("round 3");
    assert!(copy_round.input["items"][0]["refs"]["copy_from"]
        .as_str()
        .is_some_and(|a| a.starts_with("arn:aws:rds:us-east-1:111111111111:")));
    // DB snapshots only: 20.
    let executions = executions_of(vec![cross_region()], &o);
    assert!(executions
        .iter()
        .any(|e| e.round == 3 && e.input["max_parallel"] == 20));
    // Never above --max-parallel.
    let executions = executions_of(vec![cluster], &Options::default());
    assert!(executions.iter().all(|e| e.input["max_parallel"] == 4));
}

fn executions_of(items: Vec<Item>, o: &Options) -> Vec<Execution> {
    executions(&plan(items), o).expect("supported")
}

/// The copies of DB snapshots in the vault name the plan's option group (`$.item.option_groups`, a
/// JSON null when none); a cluster snapshot's copy has no such parameter.
#[test]
fn vault_copies_of_db_snapshots_name_the_plans_option_group() {
    let (_, _, tasks) = checked();
    let copies: Vec<(&String, &Value)> = tasks
        .iter()
        .filter(|(_, t)| {
            t["Resource"].as_str().is_some_and(|r| {
                r.ends_with(":copyDBSnapshot") || r.ends_with(":copyDBClusterSnapshot")
            }) && t["Credentials"]["RoleArn.$"] == "$.roles.vault"
        })
        .map(|(n, t)| (n, t))
        .collect();
    let group = |name: &str| {
        copies
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .map(|(_, t)| t["Parameters"]["OptionGroupName.$"].clone())
            .unwrap_or_else(|| panic!("no task `{name}` among {copies:?}"))
    };
    assert_eq!(
        group("copy-stage: copyDBSnapshot"),
        "$.item.option_groups.stage"
    );
    assert_eq!(
        group("copy: copyDBSnapshot"),
        "$.item.option_groups.replica"
    );
    assert_eq!(group("cluster copy: copyDBClusterSnapshot"), Value::Null);
    assert_eq!(
        group("cluster copy-stage: copyDBClusterSnapshot"),
        Value::Null
    );
    // The executions' input carries the field, null or named.
    let mut item = cross_region();
    item.option_groups.replica = Some("vault-options".into());
    let input = super::input::item_input(&item, &item.steps(), "run-1", &Options::default());
    assert_eq!(input["item"]["option_groups"]["replica"], "vault-options");
    assert_eq!(input["item"]["option_groups"]["stage"], Value::Null);
}

/// The item processor's states (the chains of every kind of item).
fn processor(definition: &Value) -> &serde_json::Map<String, Value> {
    definition["States"]["databases"]["ItemProcessor"]["States"]
        .as_object()
        .expect("states")
}

/// Where a Task goes when AWS answers `error`.
/// A Task's `Parameters` are exactly `fixed` and, for each `(key, field)` of `from_plan`, the plan's
/// restore field (`"{key}.$": "$.item.restore.{field}"`).
fn assert_parameters(parameters: &Value, from_plan: &[(&str, &str)], fixed: Value) {
    let mut expected = fixed;
    for (key, field) in from_plan {
        expected[format!("{key}.$")] = json!(format!("$.item.restore.{field}"));
    }
    assert_eq!(parameters, &expected);
}

fn caught(state: &Value, error: &str) -> String {
    state["Catch"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["ErrorEquals"] == serde_json::json!([error]))
        .and_then(|c| c["Next"].as_str())
        .unwrap_or_else(|| panic!("no Catch of {error} in {state}"))
        .to_string()
}

/// An Aurora cluster whose rule restores runs on the engine, as the local engine restores it
/// (`instances::restore_cluster`): `RestoreDBClusterFromSnapshot` of the replica into the plan's
/// name (the rule's subnet group and security groups, no deletion protection, rdsguard's tags),
/// waited for until `available`, and only then its one instance `<name>-1` (`CreateDBInstance`:
/// the rule's class and parameter group, never publicly accessible, the same tags), waited for.
/// Either one already there by its name (a rerun) is waited for, not made again.
#[test]
fn an_aurora_restore_is_its_cluster_then_its_instance_each_waited_for() {
    use serde_json::json;
    let item = restored_cluster();
    let executions = executions(&plan(vec![item.clone()]), &Options::default())
        .expect("an Aurora restore runs on the engine");
    let input = &executions[0].input["items"][0];
    assert_eq!(input["steps"]["restore"], true);
    assert_eq!(input["steps"]["prune_restores"], true);
    let restored_from = input["refs"]["tags"]["restore"]
        .as_array()
        .expect("tags")
        .iter()
        .find(|t| t["Key"] == "rdsguard:restored-from")
        .map(|t| t["Value"].clone());
    assert_eq!(
        restored_from,
        Some(json!("arn:aws:rds:us-east-1:222222222222:cluster-snapshot:rdsguard-111111111111-orders-20261124030000-run1"))
    );

    let definition = definition(&Options::default());
    let states = processor(&definition);
    let restore = &states["cluster restore: restoreDBClusterFromSnapshot"];
    assert_eq!(
        states["cluster restore?"]["Choices"][0]["Next"],
        "cluster restore: restoreDBClusterFromSnapshot"
    );
    assert_eq!(
        restore["Resource"],
        "arn:aws:states:::aws-sdk:rds:restoreDBClusterFromSnapshot"
    );
    assert_eq!(restore["Credentials"]["RoleArn.$"], "$.roles.vault");
    // The local engine's request: the plan's names, the rule's network, rdsguard's tags.
    let from_plan = [
        ("DbClusterIdentifier", "instance"),
        ("SnapshotIdentifier", "from_snapshot"),
        ("Engine", "engine"),
        ("DbSubnetGroupName", "subnet_group"),
        ("VpcSecurityGroupIds", "security_groups"),
    ];
    let fixed = json!({"DeletionProtection": false, "Tags.$": "$.refs.tags.restore"});
    assert_parameters(&restore["Parameters"], &from_plan, fixed);
    let reuse = caught(restore, "Rds.DbClusterAlreadyExistsException");
    assert_eq!(reuse, "cluster restore: reuse");
    assert_eq!(states[&reuse]["Next"], restore["Next"]);
    assert_eq!(caught(restore, "States.ALL"), "cluster restore failed");

    // The cluster's wait loop, then the instance.
    let check = &states[restore["Next"].as_str().expect("next")];
    assert_eq!(
        check["Resource"],
        "arn:aws:states:::aws-sdk:rds:describeDBClusters"
    );
    assert_eq!(
        check["Parameters"],
        json!({"DbClusterIdentifier.$": "$.item.restore.instance"})
    );
    assert_eq!(
        check["ResultSelector"],
        json!({"value.$": "$.DbClusters[0].Status"})
    );
    let ready = &states[check["Next"].as_str().expect("next")];
    assert_eq!(
        ready["Choices"][0],
        json!({"Variable": "$.restore.status.value", "StringEquals": "available",
               "Next": "cluster restore: instance: createDBInstance"})
    );
    let ended: Vec<&Value> = ready["Choices"][1]["Or"]
        .as_array()
        .expect("ended badly")
        .iter()
        .map(|c| &c["StringEquals"])
        .collect();
    assert_eq!(
        ended,
        [
            "deleted",
            "deleting",
            "failed",
            "incompatible-restore",
            "incompatible-parameters"
        ]
    );
    let member = format!(
        "States.Format('{}', $.item.restore.instance)",
        crate::aws::rds::write::instances::cluster_member("{}")
    );
    let add = &states["cluster restore: instance: createDBInstance"];
    assert_eq!(
        add["Resource"],
        "arn:aws:states:::aws-sdk:rds:createDBInstance"
    );
    assert_eq!(add["Credentials"]["RoleArn.$"], "$.roles.vault");
    // `<cluster>-1` in the restored cluster, the rule's class and parameter group, never public.
    let from_plan = [
        ("DbClusterIdentifier", "instance"),
        ("Engine", "engine"),
        ("DbInstanceClass", "instance_class"),
        ("DbParameterGroupName", "parameter_group"),
    ];
    let fixed = json!({"DbInstanceIdentifier.$": member, "PubliclyAccessible": false,
                       "Tags.$": "$.refs.tags.restore"});
    assert_parameters(&add["Parameters"], &from_plan, fixed);
    let reuse = caught(add, "Rds.DbInstanceAlreadyExistsException");
    assert_eq!(states[&reuse]["Next"], add["Next"]);
    let check = &states[add["Next"].as_str().expect("next")];
    assert_eq!(
        check["Resource"],
        "arn:aws:states:::aws-sdk:rds:describeDBInstances"
    );
    assert_eq!(
        check["Parameters"],
        json!({"DbInstanceIdentifier.$": member})
    );
    let ready = &states[check["Next"].as_str().expect("next")];
    assert_eq!(
        ready["Choices"][0],
        json!({"Variable": "$.restore_instance.status.value", "StringEquals": "available",
               "Next": "cluster prune-restores?"})
    );
    // Each loop gives up after the step timeout's polls, as a failure of `restore`.
    let late = &states["cluster restore: instance: timed out"];
    assert_eq!(late["Next"], "cluster restore failed");
    assert!(
        late["Result"]["Cause"]
            .as_str()
            .is_some_and(|c| c.starts_with("restore instance was not available after")),
        "{late}"
    );
}

/// Earlier restores of an Aurora cluster are pruned as the local engine prunes them
/// (`instances::delete_cluster`): each one the plan names is described at the moment of deletion
/// and kept unless it carries rdsguard's tags for this source and has no deletion protection;
/// then its instances are deleted, one at a time, and the cluster after them, with no final
/// snapshot. One already gone is passed by.
#[test]
fn earlier_aurora_restores_are_pruned_instances_first_then_the_cluster_only_when_ours() {
    use serde_json::json;
    let definition = definition(&Options::default());
    let states = processor(&definition);
    let map = &states["cluster prune-restores: clusters"];
    assert_eq!(
        states["cluster prune-restores?"]["Choices"][0]["Next"],
        "cluster prune-restores: clusters"
    );
    assert_eq!(map["ItemsPath"], "$.item.restore.prune");
    assert_eq!(caught(map, "States.ALL"), "cluster prune-restores failed");
    let inner = map["ItemProcessor"]["States"].as_object().expect("states");
    let n = |s: &str| format!("cluster prune-restores: clusters: {s}");
    let find = &inner[&n("find")];
    assert_eq!(
        find["Resource"],
        "arn:aws:states:::aws-sdk:rds:describeDBClusters"
    );
    assert_eq!(
        find["Parameters"],
        json!({"DbClusterIdentifier.$": "$.name"})
    );
    assert_eq!(
        find["ResultSelector"],
        json!({
            "tags.$": "$.DbClusters[0].TagList",
            "protected.$": "$.DbClusters[0].DeletionProtection",
            "members.$": "$.DbClusters[0].DbClusterMembers"
        })
    );
    assert_eq!(caught(find, "Rds.DbClusterNotFoundException"), n("gone"));
    let ours = &inner[&n("ours?")];
    assert_eq!(
        ours["Choices"][0]["And"],
        json!([
            {"Variable": "$.is.managed", "BooleanEquals": true},
            {"Variable": "$.is.source", "BooleanEquals": true},
            {"Variable": "$.found.protected", "BooleanEquals": false}
        ])
    );
    assert_eq!(ours["Default"], n("kept"));
    // Its instances first.
    let instances = &inner[ours["Choices"][0]["Next"].as_str().expect("next")];
    assert_eq!(instances["Type"], "Map");
    assert_eq!(instances["ItemsPath"], "$.found.members");
    assert_eq!(
        instances["ItemSelector"]["name.$"],
        "$$.Map.Item.Value.DbInstanceIdentifier"
    );
    let each = &instances["ItemProcessor"];
    let delete = &each["States"][each["StartAt"].as_str().expect("start")];
    assert_eq!(
        delete["Resource"],
        "arn:aws:states:::aws-sdk:rds:deleteDBInstance"
    );
    assert_eq!(delete["Credentials"]["RoleArn.$"], "$.roles.vault");
    assert_eq!(
        delete["Parameters"],
        json!({"DbInstanceIdentifier.$": "$.name", "SkipFinalSnapshot": true})
    );
    caught(delete, "Rds.DbInstanceNotFoundException");
    // Then the cluster.
    let cluster = &inner[instances["Next"].as_str().expect("next")];
    assert_eq!(
        cluster["Resource"],
        "arn:aws:states:::aws-sdk:rds:deleteDBCluster"
    );
    assert_eq!(
        cluster["Parameters"],
        json!({"DbClusterIdentifier.$": "$.name", "SkipFinalSnapshot": true})
    );
    assert_eq!(caught(cluster, "Rds.DbClusterNotFoundException"), n("gone"));
    assert_eq!(cluster["Next"], n("deleted"));
}

/// Every Task calls an action its step declares for the account it runs in (`Decl::iam`, from
/// which `iam-policy` and `setup` print the member roles' documents): the state machine needs no
/// permission the local engine's documents do not give.
#[test]
fn every_task_calls_an_action_its_step_declares_for_its_account() {
    let (_, _, tasks) = checked();
    let mut seen = BTreeSet::new();
    for (name, task) in &tasks {
        let step = step_of(name);
        let resource = task["Resource"].as_str().expect("resource");
        let (service, call) = resource
            .trim_start_matches("arn:aws:states:::aws-sdk:")
            .split_once(':')
            .expect("service:action");
        let mut chars = call.chars();
        let first = chars.next().expect("action").to_ascii_uppercase();
        let action = format!("{service}:{first}{}", chars.as_str());
        let iam = &step.decl().iam;
        let declared = match task["Credentials"]["RoleArn.$"].as_str() {
            Some("$.roles.vault") => iam.destination,
            _ => iam.source,
        };
        assert!(
            declared.iter().any(|list| list.contains(&action.as_str())),
            "`{name}` calls {action}, which {} does not declare for its account",
            step.name()
        );
        seen.insert(action);
    }
    for action in [
        "rds:RestoreDBClusterFromSnapshot",
        "rds:CreateDBInstance",
        "rds:DescribeDBClusters",
        "rds:DeleteDBCluster",
    ] {
        assert!(seen.contains(action), "{action} among {seen:?}");
    }
}
