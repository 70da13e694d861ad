//! Step `prune`: deletes the replicas beyond `retain.max` the plan chose (oldest first, never the
//! newest), each only if [`is_ours`] at the moment of deletion.

use tracing::warn;

use super::{Decl, Iam, Skip, DELETE_SNAPSHOT, FIND_SNAPSHOT};
use crate::aws::rds::write::snapshots;
use crate::inventory::AwsError;
use crate::remediate::plan::Item;
use crate::remediate::run::Ctx;
use crate::remediate::tags::is_ours;

pub const DECL: Decl = Decl {
    file: file!(),
    name: "prune",
    runs_in: "destination account, destination region",
    reads: &["prune"],
    creates: None,
    finds_earlier: "each replica by its name: one already gone is passed by",
    skipped: Skip::Never,
    iam: Iam {
        source: &[],
        destination: &[FIND_SNAPSHOT, DELETE_SNAPSHOT],
    },
};

pub(crate) fn describe(item: &Item) -> Vec<String> {
    item.prune
        .iter()
        .map(|old| {
            format!(
                "prune      delete {old} in {}/{}",
                item.dest_account, item.dest_region
            )
        })
        .collect()
}

pub(crate) fn detail(ctx: &Ctx<'_>) -> String {
    format!(
        "delete {} old replica(s) in {}/{}",
        ctx.item.prune.len(),
        ctx.dst.account_id,
        ctx.dst.region
    )
}

pub(crate) async fn run(ctx: &Ctx<'_>) -> Result<(), AwsError> {
    let item = ctx.item;
    for name in &item.prune {
        let Some(found) = snapshots::find(&ctx.dst, item.kind, name).await? else {
            continue;
        };
        // Checked again at the moment of deletion: rdsguard's, and this source's.
        if !is_ours(&found.tags, &item.source_arn) {
            warn!(snapshot = %name, "not pruned: not tagged as rdsguard's replica of this source");
            continue;
        }
        snapshots::delete(&ctx.dst, item.kind, name).await?;
        ctx.deleted(&ctx.dst, name);
    }
    Ok(())
}
