//! Step `find-replica`: is the replica the plan names already in the destination, and available?
//! Then nothing that makes it (`snapshot` to `copy`) is redone: a resumed run goes on from `cleanup`.

use super::{Decl, Iam, Skip, FIND_SNAPSHOT};
use crate::aws::rds::write::snapshots;
use crate::inventory::AwsError;
use crate::remediate::plan::Item;
use crate::remediate::run::{Ctx, State};

pub const DECL: Decl = Decl {
    file: file!(),
    name: "find-replica",
    runs_in: "destination account, destination region",
    reads: &["names.replica"],
    creates: None,
    finds_earlier: "it is the lookup: the replica by its name, `available`",
    skipped: Skip::Never,
    iam: Iam {
        source: &[],
        destination: &[FIND_SNAPSHOT],
    },
};

/// Nothing in `--dry-run`: it only looks.
pub(crate) fn describe(_item: &Item) -> Vec<String> {
    Vec::new()
}

pub(crate) fn detail(ctx: &Ctx<'_>) -> String {
    format!(
        "look for {} in {}/{}",
        ctx.item.names.replica, ctx.dst.account_id, ctx.dst.region
    )
}

pub(crate) async fn run(ctx: &Ctx<'_>, state: &mut State) -> Result<(), AwsError> {
    let existing = snapshots::find(&ctx.dst, ctx.item.kind, &ctx.item.names.replica).await?;
    state.replica_exists = existing.is_some_and(|f| f.status == "available");
    Ok(())
}
