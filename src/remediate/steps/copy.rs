//! Step `copy`: the replica in the destination account and region under the vault key, copied from the
//! stage copy (cross-region) or the shared snapshot; waits until it is `available`.

use super::copy_stage::{copy_to_vault, with_option_group};
use super::{Creates, Decl, Iam, Skip, COPY_ACTIONS, FIND_SNAPSHOT};
use crate::inventory::AwsError;
use crate::remediate::plan::Item;
use crate::remediate::run::{Ctx, State};
use crate::remediate::tags::ROLE_REPLICA;

pub const DECL: Decl = Decl {
    file: file!(),
    name: "copy",
    runs_in: "destination account, destination region",
    reads: &[
        "names.replica",
        "dest_kms_key",
        "option_groups.replica",
        "the stage copy's ARN (copy-stage), else the shared snapshot's (share)",
    ],
    creates: Some(Creates::vault_copy(
        "rdsguard-<account>-<id>-<UTC time>-<run>",
        ROLE_REPLICA,
    )),
    finds_earlier: "the replica by its name: reused (and waited for) when it exists",
    skipped: Skip::ReplicaExists,
    iam: Iam {
        source: &[],
        destination: &[COPY_ACTIONS, FIND_SNAPSHOT],
    },
};

pub(crate) fn describe(item: &Item) -> Vec<String> {
    vec![format!(
        "copy       into {}/{}: {} under {}{}",
        item.dest_account,
        item.dest_region,
        item.names.replica,
        item.dest_kms_key,
        with_option_group(item.option_groups.replica.as_deref())
    )]
}

/// What the replica is copied from.
fn from(state: &State) -> &str {
    state.staged_arn.as_deref().unwrap_or(&state.shared_arn)
}

pub(crate) fn detail(ctx: &Ctx<'_>, state: &State) -> String {
    format!(
        "copy {} into {}/{} as {} under {}{}",
        from(state),
        ctx.dst.account_id,
        ctx.dst.region,
        ctx.item.names.replica,
        ctx.item.dest_kms_key,
        with_option_group(ctx.item.option_groups.replica.as_deref())
    )
}

pub(crate) async fn run(ctx: &Ctx<'_>, state: &mut State) -> Result<(), AwsError> {
    let name = &ctx.item.names.replica;
    let group = ctx.item.option_groups.replica.as_deref();
    copy_to_vault(
        ctx,
        state,
        &ctx.dst,
        (from(state), name, group),
        ROLE_REPLICA,
    )
    .await?;
    Ok(())
}
