//! The states of each step, as AWS SDK service integrations with AWS's own parameter and result
//! names (RDS writes "DB" as "Db": `DbSnapshotIdentifier`, `$.DbSnapshots[0].Status`).
//!
//! Every state of an item reads the item's input ([`super::input`]): `item` (the plan item, with
//! every name the plan decided), `steps` (which steps this item runs in this execution), `roles` (the
//! member role of the source and the vault account), `refs` (what the plan implies: ARNs, tag lists,
//! the transit snapshots to clean up), `run_id` and `data_time`. A step keeps what it found under its
//! own key (`$.snapshot`, `$.copy`, …): its wait loop's status and poll count.
//!
//! The steps with states of their own shape (clean-up, restore, the AWS Backup jobs) are in
//! [`steps`].

mod chain;
mod steps;

use serde_json::{json, Map, Value};

use super::{flag, Chain, Options};
use crate::remediate::steps::Step;
use crate::remediate::tags::{self, ROLE_REPLICA, ROLE_STAGE};

/// Whose credentials a Task uses: the member role of the source account or of the vault account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Source,
    Vault,
}

impl Role {
    fn credentials(self) -> Value {
        match self {
            Role::Source => json!({"RoleArn.$": "$.roles.source"}),
            Role::Vault => json!({"RoleArn.$": "$.roles.vault"}),
        }
    }
}

/// The RDS names of one kind of snapshot: DB snapshots (instances) or DB cluster snapshots.
struct Api {
    /// `DBSnapshot` / `DBClusterSnapshot`, as in the action names.
    action: &'static str,
    /// `DbSnapshot` / `DbClusterSnapshot`, as in parameter and result names.
    shape: &'static str,
    /// The database a snapshot is taken of: `DbInstanceIdentifier` / `DbClusterIdentifier`.
    database: &'static str,
}

impl Api {
    fn of(kind: Chain) -> Api {
        match kind {
            Chain::Cluster => Api {
                action: "DBClusterSnapshot",
                shape: "DbClusterSnapshot",
                database: "DbClusterIdentifier",
            },
            Chain::Instance | Chain::Backup => Api {
                action: "DBSnapshot",
                shape: "DbSnapshot",
                database: "DbInstanceIdentifier",
            },
        }
    }

    fn id(&self) -> String {
        format!("{}Identifier", self.shape)
    }

    fn list(&self) -> String {
        format!("{}s", self.shape)
    }

    fn not_found(&self) -> String {
        format!("Rds.{}NotFoundException", self.shape)
    }

    fn exists(&self) -> String {
        format!("Rds.{}AlreadyExistsException", self.shape)
    }
}

/// Throttling and transient errors, retried with backoff. RDS reports throttling without a modelled
/// class (`Rds.RdsException`, AWS-FACTS.md); `States.Timeout` is a call that outlived its Task's
/// `TimeoutSeconds`.
fn retry(service: &str) -> Value {
    let errors: Vec<String> = match service {
        "backup" => vec![
            "Backup.ThrottlingException".into(),
            "Backup.ServiceUnavailableException".into(),
            "Backup.BackupException".into(),
        ],
        _ => vec!["Rds.ThrottlingException".into(), "Rds.RdsException".into()],
    };
    let mut errors = errors;
    errors.push("States.Timeout".into());
    json!([{
        "ErrorEquals": errors,
        "IntervalSeconds": 5,
        "BackoffRate": 2.0,
        "MaxAttempts": 6,
        "MaxDelaySeconds": 120,
        "JitterStrategy": "FULL"
    }])
}

/// Seconds one SDK call may take before it is retried (`States.Timeout`).
const CALL_TIMEOUT: u64 = 120;

/// The item's output when it ends well.
pub(super) fn done() -> Value {
    json!({
        "Type": "Pass",
        "Comment": "The item's result: every step it ran succeeded",
        "Parameters": {
            "source_arn.$": "$.item.source_arn",
            "ok": true,
            "failed_step": null,
            "error": null,
            "data_time.$": "$.data_time",
            "replica.$": "$.find_replica.value"
        },
        "End": true
    })
}

/// The first state of an item: which chain it runs.
pub(super) fn route() -> Value {
    let guard = |kind: Chain| -> String {
        let first = super::chain(kind)[0];
        format!("{}{}?", kind.prefix(), first.name())
    };
    json!({
        "Type": "Choice",
        "Comment": "AWS Backup jobs, an Aurora cluster's snapshots, or a DB instance's",
        "Choices": [
            {"Variable": "$.item.backup", "IsPresent": true, "Next": guard(Chain::Backup)},
            {"Variable": "$.item.kind", "StringEquals": "db-cluster", "Next": guard(Chain::Cluster)}
        ],
        "Default": guard(Chain::Instance)
    })
}

/// One wait loop of a step: the words its states' names start with after the step's (`""`, or
/// `"instance: "` for a restored cluster's instance), and the key of its status and poll count.
struct Loop {
    label: &'static str,
    key: String,
}

impl Loop {
    /// The step's (first) wait loop, under the step's own key (`$.restore`).
    fn of(step: Step) -> Loop {
        Loop {
            label: "",
            key: flag(step),
        }
    }

    /// The loop that waits for the instance of a restored cluster (`$.restore_instance`).
    fn instance(step: Step) -> Loop {
        Loop {
            label: "instance: ",
            key: format!("{}_instance", flag(step)),
        }
    }
}

pub(super) struct Builder<'a> {
    kind: Chain,
    o: &'a Options,
    api: Api,
}

/// What a Task does: its SDK call, under which role, and where its result goes.
struct Call {
    service: &'static str,
    action: String,
    params: Value,
    role: Role,
    selector: Option<Value>,
    result_path: Value,
    /// Errors that are an answer, not a failure (not found, already exists): where they go.
    answers: Vec<(String, String)>,
}

impl Call {
    /// An RDS call in the vault account, its result discarded, no error an answer.
    fn vault(action: &str, params: Value) -> Call {
        Call {
            service: "rds",
            action: action.into(),
            params,
            role: Role::Vault,
            selector: None,
            result_path: Value::Null,
            answers: Vec::new(),
        }
    }
}

impl<'a> Builder<'a> {
    pub(super) fn new(kind: Chain, o: &'a Options) -> Builder<'a> {
        Builder {
            kind,
            o,
            api: Api::of(kind),
        }
    }

    fn name(&self, step: Step, what: &str) -> String {
        format!("{}{}: {what}", self.kind.prefix(), step.name())
    }

    fn guard(&self, step: Step) -> String {
        format!("{}{}?", self.kind.prefix(), step.name())
    }

    fn failed(&self, step: Step) -> String {
        format!("{}{} failed", self.kind.prefix(), step.name())
    }

    /// A Task on an AWS SDK integration: Retry on throttling, Catch to the step's failure.
    fn task(&self, step: Step, call: Call, next: &str) -> Value {
        let mut catch: Vec<Value> = call
            .answers
            .iter()
            .map(|(error, to)| json!({"ErrorEquals": [error], "ResultPath": "$.error", "Next": to}))
            .collect();
        catch.push(json!({"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": self.failed(step)}));
        let mut task = Map::new();
        task.insert("Type".into(), json!("Task"));
        // `arn:aws:` in every partition, as cfn-lint's schema for definitions has it.
        task.insert(
            "Resource".into(),
            json!(format!(
                "arn:aws:states:::aws-sdk:{}:{}",
                call.service, call.action
            )),
        );
        task.insert("Credentials".into(), call.role.credentials());
        task.insert("Parameters".into(), call.params);
        task.insert("TimeoutSeconds".into(), json!(CALL_TIMEOUT));
        if let Some(selector) = call.selector {
            task.insert("ResultSelector".into(), selector);
        }
        task.insert("ResultPath".into(), call.result_path);
        task.insert("Retry".into(), retry(call.service));
        task.insert("Catch".into(), Value::Array(catch));
        task.insert("Next".into(), json!(next));
        Value::Object(task)
    }

    /// `rds` call `verb` + this kind's snapshot action (`create` → `createDBSnapshot`).
    fn rds(&self, verb: &str, suffix: &str) -> String {
        format!("{verb}{}{suffix}", self.api.action)
    }

    /// The step's failure: the item's output names the step and the error, and the item ends (its
    /// execution succeeds, so the map goes on with the others).
    fn failure(&self, step: Step) -> Value {
        json!({
            "Type": "Pass",
            "Comment": format!("{} failed: the item ends here, the others go on", step.name()),
            "Parameters": {
                "source_arn.$": "$.item.source_arn",
                "ok": false,
                "failed_step": step.name(),
                "error.$": "$.error",
                "data_time.$": "$.data_time",
                "replica.$": "$.find_replica.value"
            },
            "End": true
        })
    }

    /// A wait loop: Describe (at once) → Choice (ready / ended badly / out of time / again) → Wait →
    /// count → Describe. The count starts at 0 where the step's first Task (or its reuse) set it.
    /// Its states' names start with `at.label` after the step's; it keeps its status and poll
    /// count under `$.<at.key>`.
    #[allow(clippy::too_many_arguments)]
    fn wait_loop(
        &self,
        step: Step,
        at: &Loop,
        out: &mut Map<String, Value>,
        describe: Call,
        ready: &str,
        failed: &[&str],
        next: &str,
    ) -> String {
        let key = &at.key;
        let name = |what: &str| self.name(step, &format!("{}{what}", at.label));
        let check = name("check");
        let decide = name("ready?");
        let wait = name("wait");
        let count = name("count");
        let ended = name("ended badly");
        let late = name("timed out");
        // What the loop waits for, in its errors (inside an intrinsic's quotes: no `'`): `restore`,
        // or `restore instance`.
        let what = match at.label.trim_end_matches(": ") {
            "" => step.name().to_string(),
            label => format!("{} {label}", step.name()),
        };
        let status = format!("$.{key}.status.value");
        out.insert(check.clone(), self.task(step, describe, &decide));
        let mut choices = vec![json!({"Variable": status, "StringEquals": ready, "Next": next})];
        if !failed.is_empty() {
            let any: Vec<Value> = failed
                .iter()
                .map(|s| json!({"Variable": status, "StringEquals": s}))
                .collect();
            choices.push(json!({"Or": any, "Next": ended}));
            out.insert(
                ended.clone(),
                json!({
                    "Type": "Pass",
                    "Parameters": {
                        "Error": "rdsguard.StepFailed",
                        "Cause.$": format!("States.Format('{what} ended {{}}', {status})")
                    },
                    "ResultPath": "$.error",
                    "Next": self.failed(step)
                }),
            );
        }
        choices.push(json!({
            "Variable": format!("$.{key}.poll.n"),
            "NumericGreaterThanEquals": self.o.max_polls(),
            "Next": late
        }));
        out.insert(
            decide,
            json!({"Type": "Choice", "Choices": choices, "Default": wait}),
        );
        out.insert(
            late,
            json!({
                "Type": "Pass",
                "Result": {
                    "Error": "rdsguard.StepTimeout",
                    "Cause": format!(
                        "{what} was not {ready} after {} s (--step-timeout)",
                        self.o.step_timeout_secs
                    )
                },
                "ResultPath": "$.error",
                "Next": self.failed(step)
            }),
        );
        out.insert(
            wait.clone(),
            json!({"Type": "Wait", "Seconds": self.o.poll_seconds, "Next": count}),
        );
        out.insert(
            count,
            json!({
                "Type": "Pass",
                "Parameters": {"n.$": format!("States.MathAdd($.{key}.poll.n, 1)")},
                "ResultPath": format!("$.{key}.poll"),
                "Next": check
            }),
        );
        name("check")
    }

    /// Describes snapshot `id` (a path) under `role`: its status into `$.<step>.status`.
    fn describe_snapshot(&self, step: Step, id: &str, role: Role) -> Call {
        let mut params = Map::new();
        params.insert(format!("{}.$", self.api.id()), json!(id));
        Call {
            service: "rds",
            action: self.rds("describe", "s"),
            params: Value::Object(params),
            role,
            selector: Some(json!({"value.$": format!("$.{}[0].Status", self.api.list())})),
            result_path: json!(format!("$.{}.status", flag(step))),
            answers: Vec::new(),
        }
    }

    /// A step that makes a snapshot with `create` (answering "already exists" by reusing it: the
    /// name is the plan's, so it is this run's), then waits for it to be `available`.
    fn making(
        &self,
        step: Step,
        out: &mut Map<String, Value>,
        create: Call,
        made: &str,
        role: Role,
        next: &str,
    ) {
        let start = self.name(step, &create.action);
        let reuse = self.name(step, "reuse");
        let key = flag(step);
        let check = self.wait_loop(
            step,
            &Loop::of(step),
            out,
            self.describe_snapshot(step, made, role),
            "available",
            &["failed"],
            next,
        );
        let create = Call {
            selector: Some(json!({"poll": {"n": 0}})),
            result_path: json!(format!("$.{key}")),
            answers: vec![(self.api.exists(), reuse.clone())],
            ..create
        };
        out.insert(start, self.task(step, create, &check));
        out.insert(
            reuse,
            json!({
                "Type": "Pass",
                "Comment": "Made by an earlier run of this plan (same name): waited for, not made again",
                "Result": {"poll": {"n": 0}},
                "ResultPath": format!("$.{key}"),
                "Next": check
            }),
        );
    }

    fn copy_call(&self, from: &str, to: &str, key: &str, tags: Value, role: Role) -> Call {
        let mut params = Map::new();
        params.insert(format!("Source{}Identifier.$", self.api.shape), json!(from));
        params.insert(format!("Target{}Identifier.$", self.api.shape), json!(to));
        params.insert("KmsKeyId.$".into(), json!(key));
        match tags {
            Value::String(path) => params.insert("Tags.$".into(), json!(path)),
            list => params.insert("Tags".into(), list),
        };
        Call {
            service: "rds",
            action: self.rds("copy", ""),
            params: Value::Object(params),
            role,
            selector: None,
            result_path: Value::Null,
            answers: Vec::new(),
        }
    }

    /// A copy in the vault: rdsguard's tags in `role`, and the data's time `share` read.
    fn vault_tags(role: &str) -> Value {
        let mut list: Vec<Value> = tags::provenance("<source>", role, "<run>")
            .into_iter()
            .map(|(k, v)| match v.as_str() {
                "<source>" => json!({"Key": k, "Value.$": "$.item.source_arn"}),
                "<run>" => json!({"Key": k, "Value.$": "$.run_id"}),
                _ => json!({"Key": k, "Value": v}),
            })
            .collect();
        list.push(json!({"Key": tags::TAG_DATA_TIME, "Value.$": "$.data_time.value"}));
        Value::Array(list)
    }

    /// A Task inside an inline Map: errors other than its answers fail the Map, whose Catch ends the
    /// item.
    fn inner_task(&self, step: Step, call: Call, next: &str) -> Value {
        let mut task = self.task(step, call, next);
        if let Some(catch) = task.get_mut("Catch").and_then(Value::as_array_mut) {
            catch.retain(|c| c["ErrorEquals"] != json!(["States.ALL"]));
        }
        task
    }
}
