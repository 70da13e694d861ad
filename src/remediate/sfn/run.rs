//! Running the plan on Step Functions: the machine deployed in every region the plan's executions
//! run in (in the state machine's account), the rounds started one after the other, each waited
//! for (bounded), and each item's outcome read from the executions' output. What a round found is
//! handed to the next: `data_time`, and whether `find-replica` found the replica (then the later
//! legs skip `snapshot` to `copy`, as the local run does). An item that failed in a round runs no
//! later leg. A round's parts run one after the other like rounds; nothing starts while an earlier
//! execution is still running (the wait ran out): those items are not started (`--resume`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{json, Value};

use super::{executions, flag, side, Options, Side, STATE_MACHINE_NAME};
use crate::aws::sfn::{self, Deployed, Machine, Status};
use crate::aws::ClientFactory;
use crate::error::Error;
use crate::inventory::AwsError;
use crate::remediate::plan::{Item, Plan};
use crate::remediate::steps::Step;
use crate::remediate::{ItemResult, Progress};

/// Where the machine runs and how long rdsguard waits for it.
#[derive(Debug, Clone)]
pub struct Deploy {
    /// The state machine's account (`--state-machine-account`, default the caller's).
    pub account: String,
    /// The execution role: a name in that account, or an ARN (`--execution-role`).
    pub execution_role: String,
    /// How long rdsguard waits for all the rounds (`--execution-wait`).
    pub wait: Duration,
    /// The first pause between two `DescribeExecution`s; it doubles up to 30 s.
    pub poll: Duration,
}

/// One execution rdsguard started, for the run folder (`executions.json`).
#[derive(Debug, Clone, Serialize)]
pub struct Started {
    pub round: usize,
    pub part: usize,
    pub region: String,
    pub state_machine_arn: String,
    pub deployed: Deployed,
    pub execution_arn: String,
    pub status: String,
    pub items: usize,
    pub input: Value,
}

/// What the engine did: every item's result, in the plan's order, and the executions.
#[derive(Debug, Clone)]
pub struct Ran {
    pub results: Vec<ItemResult>,
    pub executions: Vec<Started>,
}

/// What an item's earlier rounds left.
#[derive(Default)]
struct Carried {
    failed: Option<ItemResult>,
    data_time: Option<Value>,
    replica: Option<Value>,
}

/// The steps an available replica makes unnecessary (the local run passes them by).
const MAKES_THE_REPLICA: [Step; 5] = [
    Step::Snapshot,
    Step::ReEncrypt,
    Step::Share,
    Step::CopyStage,
    Step::Copy,
];

fn role_arn(d: &Deploy, partition: &str) -> String {
    if d.execution_role.starts_with("arn:") {
        d.execution_role.clone()
    } else {
        format!(
            "arn:{partition}:iam::{}:role/{}",
            d.account, d.execution_role
        )
    }
}

/// The name of a round's execution: the run's id, the round and the part (unique per machine;
/// starting it again with the same input returns the same execution).
fn execution_name(run_id: &str, round: usize, part: usize) -> String {
    let part = if part > 1 {
        format!("p{part}")
    } else {
        String::new()
    };
    format!("rdsguard-{run_id}-r{round}{part}")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(80)
        .collect()
}

/// The item's failure as the local engine reports it: the step, and the error (Step Functions'
/// name for it, e.g. `Rds.DbSnapshotNotFoundException`, and its cause).
fn failure(
    item: &Item,
    step: &str,
    region: &str,
    code: &str,
    message: &str,
    resource: &str,
) -> ItemResult {
    let account = match Step::ALL
        .iter()
        .find(|s| s.name() == step)
        .map(|s| side(*s))
    {
        Some(Side::Destination) => &item.dest_account,
        _ => &item.account_id,
    };
    ItemResult {
        source_arn: item.source_arn.clone(),
        ok: false,
        failed_step: Some(step.to_string()),
        error: Some(AwsError {
            account_id: account.clone(),
            region: region.to_string(),
            operation: format!("StepFunctions:{step}"),
            code: code.to_string(),
            message: message.to_string(),
            resource: Some(resource.to_string()),
        }),
        created: Vec::new(),
        deleted: Vec::new(),
    }
}

/// The error code of an item whose execution was still running when `--execution-wait` ran out.
const STILL_RUNNING: &str = "ExecutionStillRunning";
/// A database's line on the terminal when its execution was not started (an earlier one still ran).
const NOT_STARTED: &str = "not started (--resume)";

/// A database's line on the terminal once its execution of round `round` ended; `last` is its last
/// round. The error's name stays in the results printed after (Step Functions' names are long:
/// `Rds.DbInstanceNotFoundException`): the line stays short.
fn line(failed: Option<&ItemResult>, round: usize, last: usize) -> String {
    match failed {
        Some(f) if f.error.as_ref().is_some_and(|e| e.code == STILL_RUNNING) => {
            "still running (--resume)".into()
        }
        Some(f) => format!(
            "FAILED at {}",
            f.failed_step.as_deref().unwrap_or("step-functions")
        ),
        None if round < last => format!("round {round} done"),
        None => "done".into(),
    }
}

/// The item's result when its execution `name` was not started because `behind`, an execution of
/// an earlier round or part, was still running when `--execution-wait` ran out.
fn not_started(item: &Item, region: &str, name: &str, behind: &str) -> ItemResult {
    let message = format!(
        "not started: rounds and their parts run one after the other, and {behind} was still running when --execution-wait ran out; `audit --resume RUN_DIR --engine step-functions` starts {name}"
    );
    failure(
        item,
        "step-functions",
        region,
        "ExecutionNotStarted",
        &message,
        name,
    )
}

/// The source ARNs of an execution's input, in its order.
fn sources_of(input: &Value) -> Vec<String> {
    let items = input["items"].as_array().into_iter().flatten();
    items
        .filter_map(|i| i["item"]["source_arn"].as_str().map(str::to_string))
        .collect()
}

/// Why the earlier execution `name` cannot be taken over by a resumed run: it was started with
/// other databases (`theirs`) than this rdsguard puts in that part (`ours`), e.g. by a version that
/// cut the plan into parts otherwise. `None` when both hold the same databases.
fn other_databases(
    name: &str,
    ours: &[String],
    theirs: &[String],
    new: &[String],
) -> Option<String> {
    let (ours_set, theirs_set): (BTreeSet<&String>, BTreeSet<&String>) =
        (ours.iter().collect(), theirs.iter().collect());
    if ours_set == theirs_set {
        return None;
    }
    let missing: Vec<&str> = ours_set
        .difference(&theirs_set)
        .map(|s| s.as_str())
        .collect();
    let extra: Vec<&str> = theirs_set
        .difference(&ours_set)
        .map(|s| s.as_str())
        .collect();
    let list = |arns: &[&str]| {
        if arns.is_empty() {
            "none".to_string()
        } else {
            arns.join(", ")
        }
    };
    let started = if new.is_empty() {
        "this resume started no execution".to_string()
    } else {
        format!(
            "this resume had started (or joined, with the same input) {}",
            new.join(", ")
        )
    };
    Some(format!(
        "--resume: the execution {name} was started with other databases than this part holds now (not in it: {}; in it but not in this part: {}); resume with the rdsguard version that started the run, or start a new run; {started}",
        list(&missing),
        list(&extra)
    ))
}

/// Deploys the machine, runs the plan's rounds, and returns every item's result.
pub async fn run(
    factory: &ClientFactory,
    plan: &Plan,
    o: &Options,
    d: &Deploy,
    progress: Option<&(dyn Progress + Send + Sync)>,
) -> Result<Ran, Error> {
    let show = |source: &str, status: &str| {
        if let Some(p) = progress {
            p.update(source, status);
        }
    };
    // While the display is drawn, a log line would scroll through it: the display says the same
    // (as the local engine, which logs its steps only when there is no display).
    let drawn = progress.is_some_and(|p| p.enabled());
    let planned = executions(plan, o).map_err(|refused| Error::Usage(refused.to_string()))?;
    let definition = super::definition(o);
    let role = role_arn(d, &o.partition);
    let by_arn: HashMap<&str, &Item> = plan
        .items
        .iter()
        .map(|i| (i.source_arn.as_str(), i))
        .collect();
    let aws = |e: AwsError| {
        Error::Aws(format!(
            "Step Functions in {} {}: {} {}: {}",
            e.account_id, e.region, e.operation, e.code, e.message
        ))
    };

    // One machine per region, in the machine's account.
    let mut machines: BTreeMap<String, (Machine, String, Deployed)> = BTreeMap::new();
    for execution in &planned {
        if machines.contains_key(&execution.region) {
            continue;
        }
        let config = factory
            .config(&d.account, &execution.region)
            .await
            .map_err(aws)?;
        let machine = Machine::new(&config, &d.account, &execution.region);
        let arn = format!(
            "arn:{}:states:{}:{}:stateMachine:{STATE_MACHINE_NAME}",
            o.partition, execution.region, d.account
        );
        let (arn, deployed) = machine
            .deploy(&arn, STATE_MACHINE_NAME, &definition, &role)
            .await
            .map_err(aws)?;
        tracing::info!("state machine {arn}: {deployed:?}");
        machines.insert(execution.region.clone(), (machine, arn, deployed));
    }

    // Each database's last round: after it, its line says `done`.
    let mut last_round: HashMap<String, usize> = HashMap::new();
    for e in &planned {
        for source in sources_of(&e.input) {
            let last = last_round.entry(source).or_default();
            *last = (*last).max(e.round);
        }
    }
    let deadline = Instant::now() + d.wait;
    let mut carried: HashMap<String, Carried> = HashMap::new();
    let mut started: Vec<Started> = Vec::new();
    // The executions this call started (or joined: AWS answers a start of a running execution with
    // the same name and input with that execution), by name.
    let mut new_starts: Vec<String> = Vec::new();
    // Round by round; a round's parts one after the other (each part is other items).
    let waves: BTreeSet<(usize, usize)> = planned.iter().map(|e| (e.round, e.part)).collect();
    for (round, part) in waves {
        // An execution of an earlier wave still running (`--execution-wait` ran out): this wave is
        // not started, so that no two waves are ever in flight at once (`--max-parallel` and AWS's
        // copy limits hold per wave); `--resume` starts it.
        let behind = started
            .iter()
            .find(|s| s.status == "RUNNING")
            .map(|s| s.execution_arn.clone());
        // Start this wave's executions, with what earlier rounds found.
        let mut running: Vec<(usize, Vec<String>)> = Vec::new();
        for execution in planned
            .iter()
            .filter(|e| (e.round, e.part) == (round, part))
        {
            let mut input = execution.input.clone();
            if let Some(items) = input["items"].as_array_mut() {
                items.retain(|i| {
                    let arn = i["item"]["source_arn"].as_str().unwrap_or_default();
                    carried.get(arn).is_none_or(|c| c.failed.is_none())
                });
                for i in items.iter_mut() {
                    let arn = i["item"]["source_arn"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string();
                    if let Some(c) = carried.get(&arn) {
                        if let Some(t) = &c.data_time {
                            i["data_time"] = t.clone();
                        }
                        if c.replica.as_ref().and_then(Value::as_str) == Some("available") {
                            for step in MAKES_THE_REPLICA {
                                i["steps"][flag(step)] = json!(false);
                            }
                        }
                    }
                }
            }
            let sources = sources_of(&input);
            if sources.is_empty() {
                continue;
            }
            let name = execution_name(&plan.run_id, round, part);
            if let Some(behind) = &behind {
                for source in &sources {
                    let Some(item) = by_arn.get(source.as_str()) else {
                        continue;
                    };
                    carried.entry(source.clone()).or_default().failed =
                        Some(not_started(item, &execution.region, &name, behind));
                    show(source, NOT_STARTED);
                }
                continue;
            }
            let Some((machine, arn, deployed)) = machines.get(&execution.region) else {
                continue;
            };
            let execution_arn = match machine.start(arn, &name, &input).await.map_err(aws)? {
                sfn::Started::New(arn) => {
                    new_starts.push(name.clone());
                    arn
                }
                sfn::Started::Earlier(arn) => {
                    // Taken over only if it runs this part's databases: a resume by an rdsguard
                    // that cuts the plan otherwise must not leave some of them unrun.
                    let Some(input) = machine.input(&arn).await.map_err(aws)? else {
                        return Err(Error::Aws(format!(
                            "Step Functions: DescribeExecution of {arn} gave no JSON input: cannot tell whether it runs this part's databases, so it is not taken over"
                        )));
                    };
                    let theirs = sources_of(&input);
                    if let Some(why) = other_databases(&name, &sources, &theirs, &new_starts) {
                        return Err(Error::Usage(why));
                    }
                    if !drawn {
                        tracing::info!(
                            "{name} was started before (a resumed run): taking {arn} as it is"
                        );
                    }
                    arn
                }
            };
            if !drawn {
                tracing::info!(
                    "round {round} part {part} in {}: {execution_arn}",
                    execution.region
                );
            }
            for source in &sources {
                show(source, &format!("round {round} in {}", execution.region));
            }
            running.push((started.len(), sources.clone()));
            started.push(Started {
                round,
                part,
                region: execution.region.clone(),
                state_machine_arn: arn.clone(),
                deployed: *deployed,
                execution_arn,
                status: "RUNNING".into(),
                items: sources.len(),
                input,
            });
        }
        // Wait for them, bounded.
        let mut pause = d.poll;
        let mut open: Vec<usize> = running.iter().map(|(i, _)| *i).collect();
        let mut ended: HashMap<usize, Status> = HashMap::new();
        while !open.is_empty() {
            let mut still = Vec::new();
            for i in open {
                let s = &started[i];
                let (machine, _, _) = &machines[&s.region];
                let status = machine.status(&s.execution_arn).await.map_err(aws)?;
                if status.running() {
                    still.push(i);
                } else {
                    ended.insert(i, status);
                }
            }
            open = still;
            if open.is_empty() || Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(pause.min(deadline.saturating_duration_since(Instant::now()))).await;
            pause = (pause * 2).min(Duration::from_secs(30));
        }
        // Read each item's result.
        for (i, sources) in running {
            let s = &mut started[i];
            let status = ended.remove(&i);
            s.status = status
                .as_ref()
                .map(|st| st.status.clone())
                .unwrap_or_else(|| "RUNNING".into());
            let results: Vec<Value> = status
                .as_ref()
                .filter(|st| st.status == "SUCCEEDED")
                .and_then(|st| st.output.as_ref())
                .and_then(|out| out["results"].as_array().cloned())
                .unwrap_or_default();
            for source in &sources {
                let Some(item) = by_arn.get(source.as_str()) else {
                    continue;
                };
                let entry = carried.entry(source.clone()).or_default();
                match results.iter().find(|r| r["source_arn"] == source.as_str()) {
                    Some(r) if r["ok"] == json!(true) => {
                        entry.data_time = Some(r["data_time"].clone());
                        entry.replica = r.get("replica").cloned();
                    }
                    Some(r) => {
                        let step = r["failed_step"].as_str().unwrap_or("step-functions");
                        entry.failed = Some(failure(
                            item,
                            step,
                            &s.region,
                            r["error"]["Error"].as_str().unwrap_or("States.Unknown"),
                            r["error"]["Cause"].as_str().unwrap_or_default(),
                            &s.execution_arn,
                        ));
                    }
                    None => {
                        let (code, message) = match &status {
                            None => (
                                STILL_RUNNING.to_string(),
                                format!(
                                    "not finished within --execution-wait; it goes on in Step Functions: rdsguard did not wait for {}",
                                    s.execution_arn
                                ),
                            ),
                            Some(st) => (
                                st.error.clone().unwrap_or_else(|| st.status.clone()),
                                st.cause.clone().unwrap_or_else(|| {
                                    format!("the execution ended {} without this item's result", st.status)
                                }),
                            ),
                        };
                        entry.failed = Some(failure(
                            item,
                            "step-functions",
                            &s.region,
                            &code,
                            &message,
                            &s.execution_arn,
                        ));
                    }
                }
            }
            // What this execution did, for the terminal's lines and a CI log.
            let (mut ok, mut failed) = (0, 0);
            for source in &sources {
                let result = carried.get(source).and_then(|c| c.failed.as_ref());
                match result {
                    Some(_) => failed += 1,
                    None => ok += 1,
                }
                let last = last_round.get(source).copied().unwrap_or(s.round);
                show(source, &line(result, s.round, last));
            }
            if !drawn {
                match s.status.as_str() {
                    "RUNNING" => tracing::info!(
                        "round {} part {} in {}: still running when --execution-wait ran out; it goes on in Step Functions ({} database(s))",
                        s.round,
                        s.part,
                        s.region,
                        sources.len()
                    ),
                    status => tracing::info!(
                        "round {} part {} in {}: {status}: {ok} ok, {failed} failed",
                        s.round,
                        s.part,
                        s.region
                    ),
                }
            }
        }
    }

    let results = plan
        .items
        .iter()
        .map(
            |item| match carried.remove(&item.source_arn).and_then(|c| c.failed) {
                Some(failed) => failed,
                None => ItemResult {
                    source_arn: item.source_arn.clone(),
                    ok: true,
                    failed_step: None,
                    error: None,
                    created: Vec::new(),
                    deleted: Vec::new(),
                },
            },
        )
        .collect();
    Ok(Ran {
        results,
        executions: started,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(step: &str, code: &str) -> ItemResult {
        ItemResult {
            source_arn: "arn:aws:rds:us-east-1:111111111111:db:orders".into(),
            ok: false,
            failed_step: Some(step.into()),
            error: Some(AwsError {
                account_id: "111111111111".into(),
                region: "us-east-1".into(),
                operation: format!("StepFunctions:{step}"),
                code: code.into(),
                message: "m".into(),
                resource: None,
            }),
            created: Vec::new(),
            deleted: Vec::new(),
        }
    }

    #[test]
    fn a_databases_line_after_each_round() {
        // A cross-region item has 5 rounds: `done` only after its last.
        assert_eq!(line(None, 2, 5), "round 2 done");
        assert_eq!(line(None, 5, 5), "done");
        assert_eq!(line(None, 1, 1), "done");
        let gone = failed("snapshot", "Rds.DbInstanceNotFoundException");
        assert_eq!(line(Some(&gone), 2, 5), "FAILED at snapshot");
        // Not a failure: the execution goes on in Step Functions, and --resume takes it over.
        let running = failed("step-functions", STILL_RUNNING);
        assert_eq!(line(Some(&running), 1, 5), "still running (--resume)");
    }

    #[test]
    fn an_earlier_execution_with_other_databases_is_not_taken_over() {
        let arns = |names: &[&str]| -> Vec<String> {
            names
                .iter()
                .map(|n| format!("arn:aws:rds:us-east-1:111111111111:db:{n}"))
                .collect()
        };
        let (ab, ba) = (arns(&["a", "b"]), arns(&["b", "a"]));
        assert_eq!(
            other_databases("rdsguard-x-r1", &ab, &ba, &[]),
            None,
            "order is no matter"
        );
        let why = other_databases("rdsguard-x-r1", &arns(&["a", "c"]), &ab, &[]).expect("refused");
        assert!(why.contains("rdsguard-x-r1"), "{why}");
        assert!(
            why.contains("not in it: arn:aws:rds:us-east-1:111111111111:db:c;"),
            "{why}"
        );
        assert!(
            why.contains("in it but not in this part: arn:aws:rds:us-east-1:111111111111:db:b)"),
            "{why}"
        );
        assert!(why.ends_with("this resume started no execution"), "{why}");
        let why =
            other_databases("rdsguard-x-r2", &ab, &[], &["rdsguard-x-r1".into()]).expect("refused");
        assert!(why.ends_with("with the same input) rdsguard-x-r1"), "{why}");
    }

    #[test]
    fn execution_names_are_valid_and_bounded() {
        let name = execution_name("610cb799-bb48-4a90-8734-52c9afea5735", 3, 1);
        assert_eq!(name, "rdsguard-610cb799-bb48-4a90-8734-52c9afea5735-r3");
        let name = execution_name("610cb799-bb48-4a90-8734-52c9afea5735", 3, 2);
        assert_eq!(name, "rdsguard-610cb799-bb48-4a90-8734-52c9afea5735-r3p2");
        assert!(execution_name(&"x".repeat(200), 1, 7).len() <= 80);
    }

    #[test]
    fn the_execution_role_is_a_name_in_the_machine_account_or_an_arn() {
        let d = Deploy {
            account: "111122223333".into(),
            execution_role: "rdsguard-remediation-execution".into(),
            wait: Duration::from_secs(1),
            poll: Duration::from_secs(1),
        };
        assert_eq!(
            role_arn(&d, "aws"),
            "arn:aws:iam::111122223333:role/rdsguard-remediation-execution"
        );
        let d = Deploy {
            execution_role: "arn:aws:iam::444455556666:role/x".into(),
            ..d
        };
        assert_eq!(role_arn(&d, "aws"), "arn:aws:iam::444455556666:role/x");
    }
}
