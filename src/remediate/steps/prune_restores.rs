//! Step `prune-restores`: deletes the earlier restores beyond `restore.keep` the plan chose; at the
//! moment of deletion, only one [`is_ours`], without deletion protection, and not the instance just
//! restored.

use tracing::warn;

use super::{Decl, Iam, Skip, FIND_DATABASE};
use crate::aws::rds::write::instances;
use crate::inventory::AwsError;
use crate::remediate::plan::Item;
use crate::remediate::run::{Ctx, State};
use crate::remediate::tags::is_ours;

pub const DECL: Decl = Decl {
    file: file!(),
    name: "prune-restores",
    runs_in: "destination account, destination region",
    reads: &[
        "restore.prune",
        "restore.cluster",
        "the restored instance (restore)",
    ],
    creates: None,
    finds_earlier: "each instance by its name: one already gone is passed by",
    skipped: Skip::Never,
    iam: Iam {
        source: &[],
        destination: &[
            FIND_DATABASE,
            &["rds:DeleteDBInstance", "rds:DeleteDBCluster"],
        ],
    },
};

pub(crate) fn describe(item: &Item) -> Vec<String> {
    let Some(restore) = &item.restore else {
        return Vec::new();
    };
    restore
        .prune
        .iter()
        .map(|old| {
            format!(
                "prune      delete the earlier restore {old} in {}/{}",
                item.dest_account, item.dest_region
            )
        })
        .collect()
}

pub(crate) fn detail(ctx: &Ctx<'_>) -> String {
    format!(
        "delete {} earlier restore(s) in {}/{}",
        ctx.item.restore.as_ref().map_or(0, |r| r.prune.len()),
        ctx.dst.account_id,
        ctx.dst.region
    )
}

pub(crate) async fn run(ctx: &Ctx<'_>, state: &mut State) -> Result<(), AwsError> {
    let item = ctx.item;
    let dst = &ctx.dst;
    let Some(plan) = &item.restore else {
        return Ok(());
    };
    let current = state
        .restored
        .as_ref()
        .ok_or_else(|| super::restore::nothing_restored(ctx))?
        .identifier
        .clone();
    for name in &plan.prune {
        let Some(old) = instances::find_restored(dst, name, plan.cluster).await? else {
            continue;
        };
        // Checked again at the moment of deletion.
        if !is_ours(&old.tags, &item.source_arn)
            || old.deletion_protection
            || old.identifier == current
        {
            warn!(instance = %name, "not pruned: not rdsguard's restore of this source, protected, or current");
            continue;
        }
        if plan.cluster {
            instances::delete_cluster(dst, name).await?;
        } else {
            instances::delete(dst, name).await?;
        }
        ctx.deleted(dst, name);
    }
    Ok(())
}
