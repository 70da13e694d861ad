//! The states of the steps whose shape is their own: finding rdsguard's snapshots by tag, deleting
//! them, the clean-up loop, the restore, and the AWS Backup jobs.

use super::*;

impl<'a> Builder<'a> {
    /// Describes the snapshot `$.name` under `role`: its tags, for [`Builder::delete_ours`].
    pub(super) fn find_tags(&self, role: Role) -> Call {
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

    pub(super) fn delete_snapshot(&self, role: Role) -> Call {
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
    pub(super) fn cleanup(&self, out: &mut Map<String, Value>, next: &str) -> String {
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
    pub(super) fn restore(&self, out: &mut Map<String, Value>, next: &str) -> String {
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
    pub(super) fn backup(&self, step: Step, out: &mut Map<String, Value>, next: &str) -> String {
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

    /// A loop over the names at `items` (inline Map, one at a time): each is described, kept unless
    /// it is rdsguard's own for this source (`rdsguard:managed=true`, `rdsguard:source-arn`),
    /// checked again here at the moment of deletion, then deleted by `deletes` (each a Task, in
    /// order). `find` reads `tags` (the `TagList`) and, for instances, `protected`; the item's
    /// `refs.ours` holds the two tags (`{"Key", "Value"}`) that make a resource rdsguard's own. The names of its states start with `what`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn delete_ours(
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
}
