//! Step `snapshot`: a manual snapshot of the source database in its own account and region, tagged as
//! rdsguard's transit snapshot; waits until it is `available`.

use super::{Creates, Decl, Iam, Skip, FIND_SNAPSHOT};
use crate::aws::rds::write::snapshots;
use crate::inventory::AwsError;
use crate::remediate::plan::Item;
use crate::remediate::run::Ctx;
use crate::remediate::tags::ROLE_TRANSIT;

pub const DECL: Decl = Decl {
    file: file!(),
    name: "snapshot",
    runs_in: "source account, source region",
    reads: &["identifier", "kind", "names.snapshot"],
    creates: Some(Creates::transit("rdsguard-<id>-<UTC time>-<run>")),
    finds_earlier: "the snapshot by its name: reused (and waited for) when it exists",
    skipped: Skip::ReplicaExists,
    iam: Iam {
        source: &[
            &[
                "rds:CreateDBSnapshot",
                "rds:CreateDBClusterSnapshot",
                "rds:AddTagsToResource",
            ],
            FIND_SNAPSHOT,
        ],
        destination: &[],
    },
};

pub(crate) fn describe(item: &Item) -> Vec<String> {
    vec![format!(
        "snapshot   in {}/{}: {}",
        item.account_id, item.region, item.names.snapshot
    )]
}

pub(crate) fn detail(ctx: &Ctx<'_>) -> String {
    format!(
        "snapshot {} as {}",
        ctx.item.identifier, ctx.item.names.snapshot
    )
}

pub(crate) async fn run(ctx: &Ctx<'_>) -> Result<(), AwsError> {
    let item = ctx.item;
    let tags = ctx.tags(ROLE_TRANSIT);
    let create = snapshots::create(
        &ctx.src,
        item.kind,
        &item.identifier,
        &item.names.snapshot,
        &tags,
    );
    ctx.ensure(&ctx.src, &item.names.snapshot, create).await?;
    Ok(())
}
