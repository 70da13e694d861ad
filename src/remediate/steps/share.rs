//! Step `share`: adds the destination account to the `restore` attribute of the snapshot to copy
//! (the re-encrypted copy, else the transit snapshot), and notes its ARN and the data's time for the
//! copies.

use super::{Decl, Iam, Skip, FIND_SNAPSHOT, SHARE_SNAPSHOT};
use crate::aws::rds::write::snapshots;
use crate::inventory::AwsError;
use crate::remediate::plan::Item;
use crate::remediate::run::{Ctx, State};

pub const DECL: Decl = Decl {
    file: file!(),
    name: "share",
    runs_in: "source account, source region",
    reads: &["names.reencrypted", "names.snapshot", "dest_account"],
    creates: None,
    finds_earlier: "adding an account already in the attribute changes nothing",
    skipped: Skip::ReplicaExists,
    iam: Iam {
        source: &[FIND_SNAPSHOT, SHARE_SNAPSHOT],
        destination: &[],
    },
};

/// The snapshot that is shared: the re-encrypted copy, else the transit snapshot.
pub(crate) fn shared_name(item: &Item) -> &str {
    item.names
        .reencrypted
        .as_deref()
        .unwrap_or(&item.names.snapshot)
}

pub(crate) fn describe(item: &Item) -> Vec<String> {
    vec![format!(
        "share      {} with {}",
        shared_name(item),
        item.dest_account
    )]
}

pub(crate) fn detail(ctx: &Ctx<'_>) -> String {
    format!(
        "share {} with {}",
        shared_name(ctx.item),
        ctx.item.dest_account
    )
}

pub(crate) async fn run(ctx: &Ctx<'_>, state: &mut State) -> Result<(), AwsError> {
    let item = ctx.item;
    let name = shared_name(item);
    let found = snapshots::find(&ctx.src, item.kind, name).await?;
    state.shared_arn = found.as_ref().map(|f| f.arn.clone()).unwrap_or_default();
    state.data_time = found
        .and_then(|f| f.data_time)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    snapshots::share(&ctx.src, item.kind, name, &item.dest_account, true).await
}
