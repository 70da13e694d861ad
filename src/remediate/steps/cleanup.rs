//! Step `cleanup`: only once the replica is available (RDS can fail a copy whose source vanished):
//! unshare and delete this run's transit snapshots and those earlier killed runs left, and delete the
//! stage copy. Only what [`is_ours`] says is rdsguard's for this source.

use super::{Decl, Iam, Skip, DELETE_SNAPSHOT, FIND_SNAPSHOT, SHARE_SNAPSHOT};
use crate::aws::rds::write::snapshots;
use crate::inventory::AwsError;
use crate::remediate::plan::Item;
use crate::remediate::run::Ctx;
use crate::remediate::tags::is_ours;

pub const DECL: Decl = Decl {
    file: file!(),
    name: "cleanup",
    runs_in: "source account, source region; destination account, source region (the stage copy)",
    reads: &[
        "names.snapshot",
        "names.reencrypted",
        "names.stage",
        "orphans",
    ],
    creates: None,
    finds_earlier: "each snapshot by its name: one already gone is passed by",
    skipped: Skip::Never,
    iam: Iam {
        source: &[FIND_SNAPSHOT, SHARE_SNAPSHOT, DELETE_SNAPSHOT],
        destination: &[FIND_SNAPSHOT, DELETE_SNAPSHOT],
    },
};

pub(crate) fn describe(item: &Item) -> Vec<String> {
    let src = format!("{}/{}", item.account_id, item.region);
    let mut lines = Vec::new();
    if item.copy {
        lines.push(format!(
            "clean up   unshare and delete the transit snapshots in {src}"
        ));
    }
    for orphan in &item.orphans {
        lines.push(format!(
            "clean up   delete {orphan} in {src} (left by an earlier run)"
        ));
    }
    lines
}

pub(crate) fn detail(ctx: &Ctx<'_>) -> String {
    let item = ctx.item;
    if item.copy {
        format!(
            "unshare and delete the transit snapshots in {}/{}",
            item.account_id, item.region
        )
    } else {
        format!(
            "delete transit snapshots left in {}/{}",
            item.account_id, item.region
        )
    }
}

pub(crate) async fn run(ctx: &Ctx<'_>) -> Result<(), AwsError> {
    let item = ctx.item;
    let kind = item.kind;
    let src = &ctx.src;
    let mut transit: Vec<String> = Vec::new();
    if item.copy {
        transit.push(item.names.snapshot.clone());
        transit.extend(item.names.reencrypted.clone());
    }
    transit.extend(item.orphans.iter().cloned());
    for name in transit {
        let Some(found) = snapshots::find(src, kind, &name).await? else {
            continue;
        };
        // Only what rdsguard made for this source.
        if !is_ours(&found.tags, &item.source_arn) {
            continue;
        }
        snapshots::share(src, kind, &name, &item.dest_account, false).await?;
        snapshots::delete(src, kind, &name).await?;
        ctx.deleted(src, &name);
    }
    // The stage copy, when this item made one.
    if let (true, Some(stage), Some(name)) = (item.copy, &ctx.stage, &item.names.stage) {
        if snapshots::find(stage, kind, name).await?.is_some() {
            snapshots::delete(stage, kind, name).await?;
            ctx.deleted(stage, name);
        }
    }
    Ok(())
}
