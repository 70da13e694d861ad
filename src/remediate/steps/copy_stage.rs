//! Step `copy-stage`: for a cross-region destination, an in-region copy of the shared snapshot in the
//! destination account under the vault key (`…-stage`), which `copy` then takes across regions.

use std::collections::BTreeMap;

use super::{Creates, Decl, Iam, Skip, COPY_ACTIONS, FIND_SNAPSHOT};
use crate::aws::rds::write::snapshots;
use crate::aws::rds::Scope;
use crate::inventory::AwsError;
use crate::remediate::plan::Item;
use crate::remediate::run::{Ctx, State};
use crate::remediate::tags::{ROLE_STAGE, TAG_DATA_TIME};

pub const DECL: Decl = Decl {
    file: file!(),
    name: "copy-stage",
    runs_in: "destination account, source region",
    reads: &[
        "names.stage",
        "dest_kms_key",
        "option_groups.stage",
        "the shared snapshot's ARN (share)",
    ],
    creates: Some(Creates::vault_copy(
        "rdsguard-<id>-<UTC time>-<run>-stage",
        ROLE_STAGE,
    )),
    finds_earlier: "the stage copy by its name: reused (and waited for) when it exists",
    skipped: Skip::ReplicaExists,
    iam: Iam {
        source: &[],
        destination: &[COPY_ACTIONS, FIND_SNAPSHOT],
    },
};

/// The tags of a copy in `role`, with the data's time when `share` found it.
fn copy_tags(ctx: &Ctx<'_>, state: &State, role: &str) -> BTreeMap<String, String> {
    let mut tags = ctx.tags(role);
    if let Some(time) = &state.data_time {
        tags.insert(TAG_DATA_TIME.to_string(), time.clone());
    }
    tags
}

pub(crate) fn describe(item: &Item) -> Vec<String> {
    match &item.names.stage {
        Some(stage) => vec![format!(
            "copy       into {}/{}: {stage} under {}{}",
            item.dest_account,
            item.region,
            item.dest_kms_key,
            with_option_group(item.option_groups.stage.as_deref())
        )],
        None => Vec::new(),
    }
}

pub(crate) fn detail(ctx: &Ctx<'_>, state: &State) -> String {
    let item = ctx.item;
    format!(
        "copy {} into {}/{} as {}{}",
        state.shared_arn,
        item.dest_account,
        item.region,
        item.names.stage.as_deref().unwrap_or_default(),
        with_option_group(item.option_groups.stage.as_deref())
    )
}

/// `" with option group NAME"` for a copy that names one, for `--dry-run` and the journal.
pub(super) fn with_option_group(group: Option<&str>) -> String {
    group
        .map(|g| format!(" with option group {g}"))
        .unwrap_or_default()
}

pub(crate) async fn run(ctx: &Ctx<'_>, state: &mut State) -> Result<(), AwsError> {
    let item = ctx.item;
    let (Some(stage), Some(name)) = (&ctx.stage, &item.names.stage) else {
        return Ok(());
    };
    let shared = state.shared_arn.clone();
    let group = item.option_groups.stage.as_deref();
    let staged = copy_to_vault(ctx, state, stage, (&shared, name, group), ROLE_STAGE).await?;
    state.staged_arn = Some(staged);
    Ok(())
}

/// A copy of `from` named `name` in `scope` (the vault account) under the vault key, associated
/// with `option_group` when given, tagged as `role` with the data's time, or the one an earlier run
/// made; its ARN once it is available.
pub(super) async fn copy_to_vault(
    ctx: &Ctx<'_>,
    state: &State,
    scope: &Scope<'_>,
    (from, name, option_group): (&str, &str, Option<&str>),
    role: &str,
) -> Result<String, AwsError> {
    let tags = copy_tags(ctx, state, role);
    let (kind, key) = (ctx.item.kind, &ctx.item.dest_kms_key);
    let create = snapshots::copy(scope, kind, from, name, key, &tags, option_group);
    ctx.ensure(scope, name, create).await
}
