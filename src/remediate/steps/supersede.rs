//! Step `supersede`: tags the instance the secret pointed at before `repoint` (when another one)
//! `rdsguard:superseded-at`, so a person sees it is no longer in use.

use chrono::Utc;

use super::{Decl, Iam, Skip, FIND_DATABASE};
use crate::aws::rds::write::instances::{self, Instance};
use crate::aws::rds::Scope;
use crate::aws::secrets::Endpoint;
use crate::inventory::AwsError;
use crate::remediate::plan::Item;
use crate::remediate::run::{Ctx, State};
use crate::remediate::tags::TAG_SUPERSEDED_AT;

pub const DECL: Decl = Decl {
    file: file!(),
    name: "supersede",
    runs_in: "destination account, destination region",
    reads: &[
        "where the secret pointed before (repoint)",
        "restore.cluster",
    ],
    creates: None,
    finds_earlier: "setting the tag again changes only its time",
    skipped: Skip::NothingSuperseded,
    iam: Iam {
        source: &[],
        destination: &[FIND_DATABASE, &["rds:AddTagsToResource"]],
    },
};

/// The instance the secret pointed at before, when it is not `to`.
pub(crate) fn previous<'e>(before: &'e Endpoint, to: &Instance) -> Option<&'e str> {
    before.instance.as_deref().filter(|p| *p != to.identifier)
}

/// Nothing in `--dry-run`: which instance it tags is known only once `repoint` has read the secret.
pub(crate) fn describe(_item: &Item) -> Vec<String> {
    Vec::new()
}

pub(crate) fn detail(state: &State) -> String {
    format!(
        "tag {} {TAG_SUPERSEDED_AT}",
        state.superseded.as_deref().unwrap_or_default()
    )
}

/// Tags `previous` (an instance, or a cluster) in `scope` `rdsguard:superseded-at=<now>`.
pub(crate) async fn tag(scope: &Scope<'_>, previous: &str, cluster: bool) -> Result<(), AwsError> {
    let now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    if let Some(old) = instances::find_restored(scope, previous, cluster).await? {
        instances::add_tag(scope, &old.arn, TAG_SUPERSEDED_AT, &now).await?;
    }
    Ok(())
}

pub(crate) async fn run(ctx: &Ctx<'_>, state: &mut State) -> Result<(), AwsError> {
    let cluster = ctx.item.restore.as_ref().is_some_and(|r| r.cluster);
    match &state.superseded {
        Some(previous) => tag(&ctx.dst, previous, cluster).await,
        None => Ok(()),
    }
}
