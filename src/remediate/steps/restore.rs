//! Step `restore`: when the rule restores, a new instance from the replica (class, subnet group,
//! security groups and parameter group from the rule), tagged `rdsguard:restored-from`; for an Aurora
//! cluster, the cluster plus one instance. Waits until it is `available`.

use super::{Decl, Iam, Skip, FIND_DATABASE, FIND_SNAPSHOT};
use crate::aws::rds::write::{instances, snapshots};
use crate::inventory::AwsError;
use crate::remediate::plan::Item;
use crate::remediate::run::{Ctx, State};
use crate::remediate::tags::{
    ROLE_RESTORE, TAG_MANAGED, TAG_RESTORED_FROM, TAG_ROLE, TAG_RUN_ID, TAG_SOURCE_ARN,
};

pub const DECL: Decl = Decl {
    file: file!(),
    name: "restore",
    runs_in: "destination account, destination region",
    reads: &[
        "restore.from_snapshot",
        "restore.instance",
        "restore.instance_class",
        "restore.subnet_group",
        "restore.security_groups",
        "restore.parameter_group",
        "restore.cluster",
        "restore.engine",
    ],
    creates: Some(super::Creates {
        name: "rdsguard-<id>-<UTC time>-<run> (cluster: and its instance <name>-1)",
        role: ROLE_RESTORE,
        tags: &[
            TAG_SOURCE_ARN,
            TAG_MANAGED,
            TAG_ROLE,
            TAG_RUN_ID,
            TAG_RESTORED_FROM,
        ],
    }),
    finds_earlier: "the instance (or cluster and its instance) by its name: reused and waited for",
    skipped: Skip::Never,
    iam: Iam {
        source: &[],
        destination: &[
            FIND_SNAPSHOT,
            FIND_DATABASE,
            &[
                "rds:RestoreDBInstanceFromDBSnapshot",
                "rds:RestoreDBClusterFromSnapshot",
                "rds:CreateDBInstance",
                "rds:AddTagsToResource",
                // Restoring a snapshot encrypted under the vault key.
                "kms:CreateGrant",
                "kms:Decrypt",
            ],
        ],
    },
};

pub(crate) fn describe(item: &Item) -> Vec<String> {
    match &item.restore {
        Some(r) => vec![format!(
            "restore    in {}/{}: {} from {} ({})",
            item.dest_account, item.dest_region, r.instance, r.from_snapshot, r.instance_class
        )],
        None => Vec::new(),
    }
}

pub(crate) fn detail(ctx: &Ctx<'_>) -> String {
    match &ctx.item.restore {
        Some(r) => format!("restore {} as {}", r.from_snapshot, r.instance),
        None => String::new(),
    }
}

pub(crate) async fn run(ctx: &Ctx<'_>, state: &mut State) -> Result<(), AwsError> {
    let item = ctx.item;
    let dst = &ctx.dst;
    let Some(plan) = &item.restore else {
        return Ok(());
    };
    let replica = snapshots::find(dst, item.kind, &plan.from_snapshot)
        .await?
        .map(|f| f.arn)
        .unwrap_or_default();
    let mut tags = ctx.tags(ROLE_RESTORE);
    tags.insert(TAG_RESTORED_FROM.to_string(), replica);
    let spec = instances::RestoreSpec {
        snapshot: &plan.from_snapshot,
        identifier: &plan.instance,
        engine: &plan.engine,
        instance_class: &plan.instance_class,
        subnet_group: plan.subnet_group.as_deref(),
        security_groups: &plan.security_groups,
        parameter_group: plan.parameter_group.as_deref(),
    };
    let timeout = ctx.options.step_timeout;
    if plan.cluster {
        if instances::find_cluster(dst, &plan.instance)
            .await?
            .is_none()
        {
            ctx.created(dst, &plan.instance);
        }
        // Also adds the cluster's instance when an earlier run stopped before it.
        instances::restore_cluster(dst, &spec, &tags, timeout).await?;
    } else {
        if instances::find(dst, &plan.instance).await?.is_none() {
            instances::restore(dst, &spec, &tags).await?;
            ctx.created(dst, &plan.instance);
        }
        instances::wait_available(dst, &plan.instance, timeout).await?;
    }
    match instances::find_restored(dst, &plan.instance, plan.cluster).await? {
        Some(restored) => {
            state.restored = Some(restored);
            Ok(())
        }
        None => Err(AwsError {
            account_id: dst.account_id.to_string(),
            region: dst.region.to_string(),
            operation: "DescribeDBInstances".into(),
            code: "Vanished".into(),
            message: "the restored instance disappeared while rdsguard waited for it".into(),
            resource: Some(plan.instance.clone()),
        }),
    }
}

/// The error of a step that needs the instance `restore` made or found, when there is none.
pub(super) fn nothing_restored(ctx: &Ctx<'_>) -> AwsError {
    AwsError {
        account_id: ctx.dst.account_id.to_string(),
        region: ctx.dst.region.to_string(),
        operation: "DescribeDBInstances".into(),
        code: "Vanished".into(),
        message: "no restored instance to work on".into(),
        resource: ctx.item.restore.as_ref().map(|r| r.instance.clone()),
    }
}
