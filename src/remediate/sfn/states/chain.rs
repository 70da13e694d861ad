//! An item's chain of states: each step of [`Step`] in order, behind the guard that says whether this
//! execution runs it.

use super::*;

impl<'a> Builder<'a> {
    /// All the states of `steps`, each behind its guard, into `out`.
    pub(in crate::remediate::sfn) fn chain(&self, steps: &[Step], out: &mut Map<String, Value>) {
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
    pub(super) fn step(
        &self,
        step: Step,
        out: &mut Map<String, Value>,
        next: &str,
        skip_to: &str,
    ) -> String {
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
                let (from, to, role, group) = match step {
                    Step::CopyStage => (
                        "$.refs.shared_arn",
                        "$.item.names.stage",
                        ROLE_STAGE,
                        "$.item.option_groups.stage",
                    ),
                    _ => (
                        "$.refs.copy_from",
                        "$.item.names.replica",
                        ROLE_REPLICA,
                        "$.item.option_groups.replica",
                    ),
                };
                let mut create = self.copy_call(
                    from,
                    to,
                    "$.item.dest_kms_key",
                    Self::vault_tags(role),
                    Role::Vault,
                );
                // A DB snapshot's copy names the plan's option group (null: none); a cluster
                // snapshot has none.
                if let (Chain::Instance, Some(params)) = (self.kind, create.params.as_object_mut())
                {
                    params.insert("OptionGroupName.$".into(), json!(group));
                }
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
                    vec![(
                        self.rds("delete", ""),
                        steps::Delete::Call(self.delete_snapshot(Role::Vault)),
                    )],
                    false,
                    next,
                );
                out.insert(map.clone(), state);
                map
            }
            Step::Restore if self.kind == Chain::Cluster => self.restore_cluster(out, next),
            Step::Restore => self.restore(out, next),
            Step::PruneRestores => self.prune_restores(out, next),
            Step::BackupJob | Step::CopyJob => self.backup(step, out, next),
            // Refused before a definition or an input is made (`unsupported`).
            Step::Repoint | Step::Supersede => next.to_string(),
        }
    }
}
