//! Step `copy`: the replica in the destination account and region under the vault key, copied from the
//! stage copy (cross-region) or the shared snapshot; waits until it is `available`.

use super::copy_stage::{copy_to_vault, with_option_group};
use super::{Creates, Decl, Iam, Skip, COPY_ACTIONS, FIND_SNAPSHOT};
use crate::inventory::AwsError;
use crate::remediate::limits::{self, Slot};
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
    // Which path a copy into another region takes (the plan chose it: `CopyPath`).
    let path = match (&item.names.stage, item.region == item.dest_region) {
        (_, true) => String::new(),
        (Some(_), false) => format!(" (two steps: from the stage copy in {})", item.region),
        (None, false) => format!(" (one step from {}/{})", item.account_id, item.region),
    };
    vec![format!(
        "copy       into {}/{}: {} under {}{}{path}",
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
    let _slot = cross_region_slot(ctx).await;
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

/// For a copy across regions, a place among the copies in progress into the destination account and
/// region, held until the replica is available: past AWS's limit the copy waits (queued, as the
/// progress line and the log say) for one of this run's copies there to finish.
async fn cross_region_slot(ctx: &Ctx<'_>) -> Option<Slot> {
    let item = ctx.item;
    if item.region == item.dest_region {
        return None;
    }
    let target = (
        item.dest_account.clone(),
        item.dest_region.clone(),
        item.kind,
    );
    if let Some(slot) = ctx.slots.try_take(&target) {
        return Some(slot);
    }
    ctx.show(&format!(
        "copy queued ({} in flight to {})",
        limits::cross_region_copies(item.kind),
        item.dest_region
    ));
    let slot = ctx.slots.take(&target).await;
    ctx.show("copy");
    slot
}
