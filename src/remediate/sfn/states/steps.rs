//! The states of the steps whose shape is their own: finding rdsguard's snapshots by tag, deleting
//! them, the clean-up loop, the restore, and the AWS Backup jobs.

use super::*;

/// One deletion in [`Builder::delete_ours`]'s loop, once the resource is known to be rdsguard's.
pub(super) enum Delete {
    /// A Task on the name found (`$.name`).
    Call(Call),
    /// A Task on each of the cluster's instances (`$.found.members`, their identifiers as `$.name`),
    /// one at a time: AWS deletes no cluster that has instances in another state than `deleting`.
    EachInstance(Call),
}

/// The statuses in which a DB instance being restored or created will not become `available`.
const INSTANCE_ENDED_BADLY: [&str; 4] = [
    "failed",
    "incompatible-restore",
    "incompatible-parameters",
    "incompatible-network",
];

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
                (self.rds("modify", "Attribute"), Delete::Call(unshare)),
                (
                    self.rds("delete", ""),
                    Delete::Call(self.delete_snapshot(Role::Source)),
                ),
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
        let at = Loop::of(step);
        let create = self.starts(
            step,
            &at,
            "restoreDBInstanceFromDBSnapshot",
            "Rds.DbInstanceAlreadyExistsException",
            json!({
                "DbInstanceIdentifier.$": "$.item.restore.instance",
                "DbSnapshotIdentifier.$": "$.item.restore.from_snapshot",
                "DbInstanceClass.$": "$.item.restore.instance_class",
                "DbSubnetGroupName.$": "$.item.restore.subnet_group",
                "VpcSecurityGroupIds.$": "$.item.restore.security_groups",
                "DbParameterGroupName.$": "$.item.restore.parameter_group",
                "DeletionProtection": false,
                "PubliclyAccessible": false,
                "Tags.$": "$.refs.tags.restore"
            }),
        );
        let describe = self.status_of(
            &at,
            "describeDBInstances",
            json!({"DbInstanceIdentifier.$": "$.item.restore.instance"}),
            "$.DbInstances[0].DbInstanceStatus",
        );
        let check = self.wait_loop(
            step,
            &at,
            out,
            describe,
            "available",
            &INSTANCE_ENDED_BADLY,
            next,
        );
        self.started(step, &at, create, &check, out)
    }

    /// `restore` (Aurora clusters), as the local engine (`instances::restore_cluster`): the cluster
    /// the plan names from the replica (`RestoreDBClusterFromSnapshot`: the rule's subnet group and
    /// security groups, no deletion protection), waited for until `available` (AWS: "You can
    /// create DB instances only after the RestoreDBClusterFromSnapshot operation has completed and
    /// the DB cluster is available"); then its one instance `<cluster>-1` (`CreateDBInstance`: the
    /// rule's class and parameter group, never publicly accessible), waited for. Both carry
    /// rdsguard's tags and `rdsguard:restored-from`; either one already there by its name is this
    /// plan's, and is waited for, not made again.
    pub(super) fn restore_cluster(&self, out: &mut Map<String, Value>, next: &str) -> String {
        let step = Step::Restore;
        let (cluster, instance) = (Loop::of(step), Loop::instance(step));
        // `instances::cluster_member`: the cluster's name and `-1`.
        let member = "States.Format('{}-1', $.item.restore.instance)";
        let add = self.name(step, &format!("{}createDBInstance", instance.label));
        let restore = self.starts(
            step,
            &cluster,
            "restoreDBClusterFromSnapshot",
            "Rds.DbClusterAlreadyExistsException",
            json!({
                "DbClusterIdentifier.$": "$.item.restore.instance",
                "SnapshotIdentifier.$": "$.item.restore.from_snapshot",
                "Engine.$": "$.item.restore.engine",
                "DbSubnetGroupName.$": "$.item.restore.subnet_group",
                "VpcSecurityGroupIds.$": "$.item.restore.security_groups",
                "DeletionProtection": false,
                "Tags.$": "$.refs.tags.restore"
            }),
        );
        let describe = self.status_of(
            &cluster,
            "describeDBClusters",
            json!({"DbClusterIdentifier.$": "$.item.restore.instance"}),
            "$.DbClusters[0].Status",
        );
        // The statuses the `DBClusterAvailable` waiter of the local engine gives up on.
        let ended = [
            "deleted",
            "deleting",
            "failed",
            "incompatible-restore",
            "incompatible-parameters",
        ];
        let check = self.wait_loop(step, &cluster, out, describe, "available", &ended, &add);
        let start = self.started(step, &cluster, restore, &check, out);
        let create = self.starts(
            step,
            &instance,
            "createDBInstance",
            "Rds.DbInstanceAlreadyExistsException",
            json!({
                "DbInstanceIdentifier.$": member,
                "DbClusterIdentifier.$": "$.item.restore.instance",
                "Engine.$": "$.item.restore.engine",
                "DbInstanceClass.$": "$.item.restore.instance_class",
                "DbParameterGroupName.$": "$.item.restore.parameter_group",
                "PubliclyAccessible": false,
                "Tags.$": "$.refs.tags.restore"
            }),
        );
        let describe = self.status_of(
            &instance,
            "describeDBInstances",
            json!({"DbInstanceIdentifier.$": member}),
            "$.DbInstances[0].DbInstanceStatus",
        );
        let check = self.wait_loop(
            step,
            &instance,
            out,
            describe,
            "available",
            &INSTANCE_ENDED_BADLY,
            next,
        );
        self.started(step, &instance, create, &check, out);
        start
    }

    /// A vault call that makes what loop `at` waits for, setting its poll count to 0; AWS's
    /// `exists` (the name is taken: an earlier run of this plan made it) goes to the loop's reuse
    /// state ([`Self::started`]).
    fn starts(&self, step: Step, at: &Loop, action: &str, exists: &str, params: Value) -> Call {
        Call {
            selector: Some(json!({"poll": {"n": 0}})),
            result_path: json!(format!("$.{}", at.key)),
            answers: vec![(exists.to_string(), self.reuse(step, at))],
            ..Call::vault(action, params)
        }
    }

    /// The Pass state where loop `at`'s "already exists" goes.
    fn reuse(&self, step: Step, at: &Loop) -> String {
        self.name(step, &format!("{}reuse", at.label))
    }

    /// A vault Describe whose answer's status (`path`) is loop `at`'s.
    fn status_of(&self, at: &Loop, action: &str, params: Value, path: &str) -> Call {
        Call {
            selector: Some(json!({"value.$": path})),
            result_path: json!(format!("$.{}.status", at.key)),
            ..Call::vault(action, params)
        }
    }

    /// The Task `create` (named after its action), going on to the wait loop at `check`, and
    /// `<label>reuse`, where "already exists" goes: what an earlier run of this plan made (same
    /// name), waited for, not made again. Returns the Task's name.
    fn started(
        &self,
        step: Step,
        at: &Loop,
        create: Call,
        check: &str,
        out: &mut Map<String, Value>,
    ) -> String {
        let start = self.name(step, &format!("{}{}", at.label, create.action));
        out.insert(start.clone(), self.task(step, create, check));
        out.insert(
            self.reuse(step, at),
            json!({
                "Type": "Pass",
                "Comment": "Made by an earlier run of this plan (same name): waited for, not made again",
                "Result": {"poll": {"n": 0}},
                "ResultPath": format!("$.{}", at.key),
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
            &Loop::of(step),
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

    /// `prune-restores`: each earlier restore the plan names is described at the moment of
    /// deletion and kept unless rdsguard's for this source and without deletion protection, then
    /// deleted with no final snapshot (its data is the replica it was restored from). An Aurora
    /// restore as the local engine deletes it (`instances::delete_cluster`): its instances, then
    /// the cluster.
    pub(super) fn prune_restores(&self, out: &mut Map<String, Value>, next: &str) -> String {
        let step = Step::PruneRestores;
        let delete_instance = Call::vault(
            "deleteDBInstance",
            json!({"DbInstanceIdentifier.$": "$.name", "SkipFinalSnapshot": true}),
        );
        let (what, find, not_found, deletes) = match self.kind {
            Chain::Cluster => (
                "clusters",
                Call {
                    selector: Some(json!({
                        "tags.$": "$.DbClusters[0].TagList",
                        "protected.$": "$.DbClusters[0].DeletionProtection",
                        "members.$": "$.DbClusters[0].DbClusterMembers"
                    })),
                    ..Call::vault(
                        "describeDBClusters",
                        json!({"DbClusterIdentifier.$": "$.name"}),
                    )
                },
                "Rds.DbClusterNotFoundException",
                vec![
                    (
                        "instances".to_string(),
                        Delete::EachInstance(delete_instance),
                    ),
                    (
                        "deleteDBCluster".to_string(),
                        Delete::Call(Call::vault(
                            "deleteDBCluster",
                            json!({"DbClusterIdentifier.$": "$.name", "SkipFinalSnapshot": true}),
                        )),
                    ),
                ],
            ),
            Chain::Instance | Chain::Backup => (
                "instances",
                Call {
                    selector: Some(json!({
                        "tags.$": "$.DbInstances[0].TagList",
                        "protected.$": "$.DbInstances[0].DeletionProtection"
                    })),
                    ..Call::vault(
                        "describeDBInstances",
                        json!({"DbInstanceIdentifier.$": "$.name"}),
                    )
                },
                "Rds.DbInstanceNotFoundException",
                vec![(
                    "deleteDBInstance".to_string(),
                    Delete::Call(delete_instance),
                )],
            ),
        };
        let map = self.name(step, what);
        let state = self.delete_ours(
            step,
            what,
            "$.item.restore.prune",
            find,
            not_found.into(),
            deletes,
            true,
            next,
        );
        out.insert(map.clone(), state);
        map
    }

    /// An inline Map over the instances of the cluster [`Builder::delete_ours`] found, one at a
    /// time, each deleted by `call` (one already gone is passed by). Other errors fail this map,
    /// and so the loop around it, whose Catch ends the item.
    fn each_instance(&self, step: Step, what: &str, call: Call, next: &str) -> Value {
        let n = |s: &str| self.name(step, &format!("{what}: instances: {s}"));
        let delete = n(&call.action);
        let call = Call {
            answers: vec![("Rds.DbInstanceNotFoundException".into(), n("gone"))],
            ..call
        };
        let mut inner = Map::new();
        inner.insert(delete.clone(), self.inner_task(step, call, &n("deleted")));
        for s in ["gone", "deleted"] {
            inner.insert(n(s), json!({"Type": "Succeed"}));
        }
        json!({
            "Type": "Map",
            "Comment": "The cluster's instances, one at a time, before the cluster",
            "ItemsPath": "$.found.members",
            "ItemSelector": {
                "name.$": "$$.Map.Item.Value.DbInstanceIdentifier",
                "roles.$": "$.roles"
            },
            "MaxConcurrency": 1,
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": delete,
                "States": inner
            },
            "ResultPath": null,
            "Next": next
        })
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
        deletes: Vec<(String, Delete)>,
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
        for (i, (_, delete)) in deletes.into_iter().enumerate() {
            let after = names.get(i + 1).cloned().unwrap_or_else(|| n("deleted"));
            let state = match delete {
                Delete::Call(call) => {
                    let call = Call {
                        answers: vec![(not_found.clone(), n("gone"))],
                        ..call
                    };
                    self.inner_task(step, call, &after)
                }
                Delete::EachInstance(call) => self.each_instance(step, what, call, &after),
            };
            inner.insert(names[i].clone(), state);
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
