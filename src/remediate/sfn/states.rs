//! The states of each step, as AWS SDK service integrations with AWS's own parameter and result
//! names (RDS writes "DB" as "Db": `DbSnapshotIdentifier`, `$.DbSnapshots[0].Status`).
//!
//! Every state of an item reads the item's input ([`super::input`]): `item` (the plan item, with
//! every name the plan decided), `steps` (which steps this item runs in this execution), `roles` (the
//! member role of the source and the vault account), `refs` (what the plan implies: ARNs, tag lists,
//! the transit snapshots to clean up), `run_id` and `data_time`. A step keeps what it found under its
//! own key (`$.snapshot`, `$.copy`, …): its wait loop's status and poll count.

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
    #[allow(clippy::too_many_arguments)]
    fn wait_loop(
        &self,
        step: Step,
        out: &mut Map<String, Value>,
        describe: Call,
        ready: &str,
        failed: &[&str],
        next: &str,
    ) -> String {
        let key = flag(step);
        let check = self.name(step, "check");
        let decide = self.name(step, "ready?");
        let wait = self.name(step, "wait");
        let count = self.name(step, "count");
        let ended = self.name(step, "ended badly");
        let late = self.name(step, "timed out");
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
                        "Cause.$": format!("States.Format('{} ended {{}}', {status})", step.name())
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
                        "{} was not {ready} after {} s (--step-timeout)",
                        step.name(),
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
        self.name(step, "check")
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

    /// A loop over the names at `items` (inline Map, one at a time): each is described, kept unless
    /// it is rdsguard's own for this source (`rdsguard:managed=true`, `rdsguard:source-arn`),
    /// checked again here at the moment of deletion, then deleted by `deletes` (each a Task, in
    /// order). `find` reads `tags` (the `TagList`) and, for instances, `protected`; the item's
    /// `refs.ours` holds the two tags (`{"Key", "Value"}`) that make a resource rdsguard's own. The names of its states start with `what`.
    #[allow(clippy::too_many_arguments)]
    fn delete_ours(
        &self,
        step: Step,
        what: &str,
        items: &str,
        find: Call,
        not_found: String,
        deletes: Vec<(String, Call)>,
        unprotected: bool,
        next: &str,
    ) -> Value {
        let n = |s: &str| self.name(step, &format!("{what}: {s}"));
        let mut inner = Map::new();
        let first_delete = deletes.first().map(|(name, _)| n(name)).unwrap_or_default();
        let find = Call {
            result_path: json!("$.found"),
            answers: vec![(not_found.clone(), n("gone"))],
            ..find
        };
        inner.insert(n("find"), self.inner_task(step, find, &n("ours")));
        inner.insert(
            n("ours"),
            json!({
                "Type": "Pass",
                "Parameters": {
                    "managed.$": "States.ArrayContains($.found.tags, $.ours.managed)",
                    "source.$": "States.ArrayContains($.found.tags, $.ours.source)"
                },
                "ResultPath": "$.is",
                "Next": n("ours?")
            }),
        );
        let mut all = vec![
            json!({"Variable": "$.is.managed", "BooleanEquals": true}),
            json!({"Variable": "$.is.source", "BooleanEquals": true}),
        ];
        if unprotected {
            all.push(json!({"Variable": "$.found.protected", "BooleanEquals": false}));
        }
        inner.insert(
            n("ours?"),
            json!({
                "Type": "Choice",
                "Comment": "Checked at the moment of deletion: only rdsguard's own, for this source",
                "Choices": [{"And": all, "Next": first_delete}],
                "Default": n("kept")
            }),
        );
        let names: Vec<String> = deletes.iter().map(|(name, _)| n(name)).collect();
        for (i, (_, call)) in deletes.into_iter().enumerate() {
            let after = names.get(i + 1).cloned().unwrap_or_else(|| n("deleted"));
            let call = Call {
                answers: vec![(not_found.clone(), n("gone"))],
                ..call
            };
            inner.insert(names[i].clone(), self.inner_task(step, call, &after));
        }
        for s in ["gone", "kept", "deleted"] {
            inner.insert(n(s), json!({"Type": "Succeed"}));
        }
        json!({
            "Type": "Map",
            "Comment": format!("{what}: one at a time, each only if it is rdsguard's for this source"),
            "ItemsPath": items,
            "ItemSelector": {
                "name.$": "$$.Map.Item.Value",
                "roles.$": "$.roles",
                "ours.$": "$.refs.ours",
                "dest_account.$": "$.item.dest_account"
            },
            "MaxConcurrency": 1,
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": n("find"),
                "States": inner
            },
            "ResultPath": null,
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": self.failed(step)}],
            "Next": next
        })
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

    /// All the states of `steps`, each behind its guard, into `out`.
    pub(super) fn chain(&self, steps: &[Step], out: &mut Map<String, Value>) {
        let skip_to = steps
            .iter()
            .position(|s| *s == Step::Copy)
            .and_then(|i| steps.get(i + 1))
            .map_or_else(|| "done".to_string(), |s| self.guard(*s));
        for (i, step) in steps.iter().enumerate() {
            let next = steps
                .get(i + 1)
                .map_or_else(|| "done".to_string(), |s| self.guard(*s));
            let first = self.step(*step, out, &next, &skip_to);
            out.insert(
                self.guard(*step),
                json!({
                    "Type": "Choice",
                    "Choices": [{"Variable": format!("$.steps.{}", flag(*step)), "BooleanEquals": true, "Next": first}],
                    "Default": next
                }),
            );
            out.insert(self.failed(*step), self.failure(*step));
        }
    }

    /// The states of one step, ending at `next`; returns its first state.
    fn step(&self, step: Step, out: &mut Map<String, Value>, next: &str, skip_to: &str) -> String {
        let api = &self.api;
        let id = |path: &str| {
            let mut params = Map::new();
            params.insert(format!("{}.$", api.id()), json!(path));
            params
        };
        match step {
            Step::FindReplica => {
                let look = self.name(step, &self.rds("describe", "s"));
                let decide = self.name(step, "available?");
                let mut call = self.describe_snapshot(step, "$.item.names.replica", Role::Vault);
                call.result_path = json!("$.find_replica");
                call.answers = vec![(api.not_found(), next.to_string())];
                out.insert(look.clone(), self.task(step, call, &decide));
                out.insert(
                    decide,
                    json!({
                        "Type": "Choice",
                        "Comment": "The replica the plan names is there and available: nothing that makes it is redone",
                        "Choices": [{
                            "Not": {"Variable": "$.find_replica.value", "StringEquals": "available"},
                            "Next": next
                        }],
                        "Default": skip_to
                    }),
                );
                look
            }
            Step::Snapshot => {
                let mut params = id("$.item.names.snapshot");
                params.insert(format!("{}.$", api.database), json!("$.item.identifier"));
                params.insert("Tags.$".into(), json!("$.refs.tags.transit"));
                let create = Call {
                    service: "rds",
                    action: self.rds("create", ""),
                    params: Value::Object(params),
                    role: Role::Source,
                    selector: None,
                    result_path: Value::Null,
                    answers: Vec::new(),
                };
                let start = self.name(step, &create.action);
                self.making(
                    step,
                    out,
                    create,
                    "$.item.names.snapshot",
                    Role::Source,
                    next,
                );
                start
            }
            Step::ReEncrypt => {
                let create = self.copy_call(
                    "$.item.names.snapshot",
                    "$.item.names.reencrypted",
                    "$.item.reencrypt_key",
                    json!("$.refs.tags.transit"),
                    Role::Source,
                );
                let start = self.name(step, &create.action);
                let made = "$.item.names.reencrypted";
                self.making(step, out, create, made, Role::Source, next);
                start
            }
            Step::Share => {
                let read = self.name(step, &self.rds("describe", "s"));
                let add = self.name(step, &self.rds("modify", "Attribute"));
                let describe = Call {
                    service: "rds",
                    action: self.rds("describe", "s"),
                    params: Value::Object(id("$.item.names.snapshot")),
                    role: Role::Source,
                    selector: Some(
                        json!({"value.$": format!("$.{}[0].SnapshotCreateTime", api.list())}),
                    ),
                    result_path: json!("$.data_time"),
                    answers: Vec::new(),
                };
                out.insert(read.clone(), self.task(step, describe, &add));
                let mut params = id("$.refs.shared");
                params.insert("AttributeName".into(), json!("restore"));
                params.insert(
                    "ValuesToAdd.$".into(),
                    json!("States.Array($.item.dest_account)"),
                );
                let modify = Call {
                    service: "rds",
                    action: self.rds("modify", "Attribute"),
                    params: Value::Object(params),
                    role: Role::Source,
                    selector: None,
                    result_path: Value::Null,
                    answers: Vec::new(),
                };
                out.insert(add, self.task(step, modify, next));
                read
            }
            Step::CopyStage | Step::Copy => {
                let (from, to, role) = match step {
                    Step::CopyStage => ("$.refs.shared_arn", "$.item.names.stage", ROLE_STAGE),
                    _ => ("$.refs.copy_from", "$.item.names.replica", ROLE_REPLICA),
                };
                let create = self.copy_call(
                    from,
                    to,
                    "$.item.dest_kms_key",
                    Self::vault_tags(role),
                    Role::Vault,
                );
                let start = self.name(step, &create.action);
                self.making(step, out, create, to, Role::Vault, next);
                start
            }
            Step::Cleanup => self.cleanup(out, next),
            Step::Prune => {
                let map = self.name(step, "replicas");
                let state = self.delete_ours(
                    step,
                    "replicas",
                    "$.item.prune",
                    self.find_tags(Role::Vault),
                    api.not_found(),
                    vec![(self.rds("delete", ""), self.delete_snapshot(Role::Vault))],
                    false,
                    next,
                );
                out.insert(map.clone(), state);
                map
            }
            Step::Restore => self.restore(out, next),
            Step::PruneRestores => {
                let map = self.name(step, "instances");
                let find = Call {
                    service: "rds",
                    action: "describeDBInstances".into(),
                    params: json!({"DbInstanceIdentifier.$": "$.name"}),
                    role: Role::Vault,
                    selector: Some(json!({
                        "tags.$": "$.DbInstances[0].TagList",
                        "protected.$": "$.DbInstances[0].DeletionProtection"
                    })),
                    result_path: Value::Null,
                    answers: Vec::new(),
                };
                let delete = Call {
                    service: "rds",
                    action: "deleteDBInstance".into(),
                    params: json!({"DbInstanceIdentifier.$": "$.name", "SkipFinalSnapshot": true}),
                    role: Role::Vault,
                    selector: None,
                    result_path: Value::Null,
                    answers: Vec::new(),
                };
                let state = self.delete_ours(
                    step,
                    "instances",
                    "$.item.restore.prune",
                    find,
                    "Rds.DbInstanceNotFoundException".into(),
                    vec![("deleteDBInstance".into(), delete)],
                    true,
                    next,
                );
                out.insert(map.clone(), state);
                map
            }
            Step::BackupJob | Step::CopyJob => self.backup(step, out, next),
            // Refused before a definition or an input is made (`unsupported`).
            Step::Repoint | Step::Supersede => next.to_string(),
        }
    }

    /// Describes the snapshot `$.name` under `role`: its tags, for [`Builder::delete_ours`].
    fn find_tags(&self, role: Role) -> Call {
        let api = &self.api;
        let mut params = Map::new();
        params.insert(format!("{}.$", api.id()), json!("$.name"));
        Call {
            service: "rds",
            action: self.rds("describe", "s"),
            params: Value::Object(params),
            role,
            selector: Some(json!({"tags.$": format!("$.{}[0].TagList", api.list())})),
            result_path: Value::Null,
            answers: Vec::new(),
        }
    }

    fn delete_snapshot(&self, role: Role) -> Call {
        let mut params = Map::new();
        params.insert(format!("{}.$", self.api.id()), json!("$.name"));
        Call {
            service: "rds",
            action: self.rds("delete", ""),
            params: Value::Object(params),
            role,
            selector: None,
            result_path: Value::Null,
            answers: Vec::new(),
        }
    }

    /// `cleanup`: unshare and delete the transit snapshots (this run's and earlier runs'), then the
    /// stage copy in the vault account.
    fn cleanup(&self, out: &mut Map<String, Value>, next: &str) -> String {
        let step = Step::Cleanup;
        let map = self.name(step, "transit snapshots");
        let stage = self.name(step, "stage copy?");
        let drop_stage = self.name(step, &self.rds("delete", ""));
        let mut unshare = Map::new();
        unshare.insert(format!("{}.$", self.api.id()), json!("$.name"));
        unshare.insert("AttributeName".into(), json!("restore"));
        unshare.insert(
            "ValuesToRemove.$".into(),
            json!("States.Array($.dest_account)"),
        );
        let unshare = Call {
            service: "rds",
            action: self.rds("modify", "Attribute"),
            params: Value::Object(unshare),
            role: Role::Source,
            selector: None,
            result_path: Value::Null,
            answers: Vec::new(),
        };
        let state = self.delete_ours(
            step,
            "transit snapshots",
            "$.refs.transit",
            self.find_tags(Role::Source),
            self.api.not_found(),
            vec![
                (self.rds("modify", "Attribute"), unshare),
                (self.rds("delete", ""), self.delete_snapshot(Role::Source)),
            ],
            false,
            &stage,
        );
        out.insert(map.clone(), state);
        out.insert(
            stage.clone(),
            json!({
                "Type": "Choice",
                "Choices": [{"Variable": "$.refs.has_stage", "BooleanEquals": true, "Next": drop_stage}],
                "Default": next
            }),
        );
        let mut params = Map::new();
        params.insert(format!("{}.$", self.api.id()), json!("$.item.names.stage"));
        let delete = Call {
            service: "rds",
            action: self.rds("delete", ""),
            params: Value::Object(params),
            role: Role::Vault,
            selector: None,
            result_path: Value::Null,
            answers: vec![(self.api.not_found(), next.to_string())],
        };
        out.insert(drop_stage, self.task(step, delete, next));
        map
    }

    /// `restore` (DB instances): the instance the plan names, from the replica, tagged
    /// `rdsguard:restored-from`; an existing one of that name is this plan's and is waited for.
    fn restore(&self, out: &mut Map<String, Value>, next: &str) -> String {
        let step = Step::Restore;
        let create = Call {
            service: "rds",
            action: "restoreDBInstanceFromDBSnapshot".into(),
            params: json!({
                "DbInstanceIdentifier.$": "$.item.restore.instance",
                "DbSnapshotIdentifier.$": "$.item.restore.from_snapshot",
                "DbInstanceClass.$": "$.item.restore.instance_class",
                "DbSubnetGroupName.$": "$.item.restore.subnet_group",
                "VpcSecurityGroupIds.$": "$.item.restore.security_groups",
                "DbParameterGroupName.$": "$.item.restore.parameter_group",
                "DeletionProtection": false,
                "Tags.$": "$.refs.tags.restore"
            }),
            role: Role::Vault,
            selector: Some(json!({"poll": {"n": 0}})),
            result_path: json!("$.restore"),
            answers: vec![(
                "Rds.DbInstanceAlreadyExistsException".into(),
                self.name(step, "reuse"),
            )],
        };
        let start = self.name(step, &create.action);
        let describe = Call {
            service: "rds",
            action: "describeDBInstances".into(),
            params: json!({"DbInstanceIdentifier.$": "$.item.restore.instance"}),
            role: Role::Vault,
            selector: Some(json!({"value.$": "$.DbInstances[0].DbInstanceStatus"})),
            result_path: json!("$.restore.status"),
            answers: Vec::new(),
        };
        let check = self.wait_loop(
            step,
            out,
            describe,
            "available",
            &[
                "failed",
                "incompatible-restore",
                "incompatible-parameters",
                "incompatible-network",
            ],
            next,
        );
        out.insert(start.clone(), self.task(step, create, &check));
        out.insert(
            self.name(step, "reuse"),
            json!({
                "Type": "Pass",
                "Comment": "Restored by an earlier run of this plan (same name): waited for, not made again",
                "Result": {"poll": {"n": 0}},
                "ResultPath": "$.restore",
                "Next": check
            }),
        );
        start
    }

    /// `backup-job` and `copy-job`: start the job with the plan's idempotency token (a repeated
    /// start answers with the same job), then wait until it ends.
    fn backup(&self, step: Step, out: &mut Map<String, Value>, next: &str) -> String {
        let key = flag(step);
        let (action, params, job_id, describe, state) = match step {
            Step::BackupJob => (
                "startBackupJob",
                json!({
                    "BackupVaultName.$": "$.item.backup.source_vault",
                    "ResourceArn.$": "$.item.source_arn",
                    "IamRoleArn.$": "$.item.backup.role_arn",
                    "IdempotencyToken.$": "$.item.backup.backup_token",
                    "Lifecycle": {"DeleteAfterDays.$": "$.item.backup.delete_after_days"}
                }),
                json!({"job.$": "$.BackupJobId", "point.$": "$.RecoveryPointArn", "poll": {"n": 0}}),
                (
                    "describeBackupJob",
                    json!({"BackupJobId.$": "$.backup_job.job"}),
                ),
                "$.State",
            ),
            _ => (
                "startCopyJob",
                json!({
                    "RecoveryPointArn.$": "$.backup_job.point",
                    "SourceBackupVaultName.$": "$.item.backup.source_vault",
                    "DestinationBackupVaultArn.$": "$.item.backup.destination_vault_arn",
                    "IamRoleArn.$": "$.item.backup.role_arn",
                    "IdempotencyToken.$": "$.item.backup.copy_token",
                    "Lifecycle": {"DeleteAfterDays.$": "$.item.backup.delete_after_days"}
                }),
                json!({"job.$": "$.CopyJobId", "poll": {"n": 0}}),
                ("describeCopyJob", json!({"CopyJobId.$": "$.copy_job.job"})),
                "$.CopyJob.State",
            ),
        };
        let start = self.name(step, action);
        let describe = Call {
            service: "backup",
            action: describe.0.into(),
            params: describe.1,
            role: Role::Source,
            selector: Some(json!({"value.$": state})),
            result_path: json!(format!("$.{key}.status")),
            answers: Vec::new(),
        };
        let check = self.wait_loop(
            step,
            out,
            describe,
            "COMPLETED",
            &["FAILED", "ABORTED", "EXPIRED", "PARTIAL"],
            next,
        );
        let call = Call {
            service: "backup",
            action: action.into(),
            params,
            role: Role::Source,
            selector: Some(job_id),
            result_path: json!(format!("$.{key}")),
            answers: Vec::new(),
        };
        out.insert(start.clone(), self.task(step, call, &check));
        start
    }
}
