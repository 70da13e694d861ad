//! Step `share`: adds the destination account to the `restore` attribute of the snapshot to copy
//! (the re-encrypted copy, else the transit snapshot), and notes its ARN and the data's time for the
//! copies.

use super::{Decl, Iam, Skip, FIND_SNAPSHOT, SHARE_SNAPSHOT};
use crate::aws::rds::attributes;
use crate::aws::rds::write::snapshots;
use crate::inventory::{AwsError, SourceKind};
use crate::remediate::limits::SHARED_ACCOUNTS;
use crate::remediate::plan::Item;
use crate::remediate::run::{Ctx, State};

pub const DECL: Decl = Decl {
    file: file!(),
    name: "share",
    runs_in: "source account, source region",
    reads: &["names.reencrypted", "names.snapshot", "dest_account"],
    creates: None,
    finds_earlier: "reads the `restore` attribute first: the vault account already there is left \
                    as it is; a snapshot already shared with AWS's 20 accounts is not touched",
    skipped: Skip::ReplicaExists,
    iam: Iam {
        source: &[FIND_SNAPSHOT, READ_SHARES, SHARE_SNAPSHOT],
        destination: &[],
    },
};

/// Reading who a snapshot is shared with (its `restore` attribute).
const READ_SHARES: &[&str] = &[
    "rds:DescribeDBSnapshotAttributes",
    "rds:DescribeDBClusterSnapshotAttributes",
];

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
    let scope = &ctx.src;
    let shared = attributes::restore(
        scope.client,
        scope.account_id,
        scope.region,
        item.kind,
        name,
    )
    .await?;
    if shared.contains(&item.dest_account) {
        return Ok(());
    }
    if let Some(refusal) = past_share_limit(item, &shared) {
        return Err(AwsError {
            resource: Some(state.shared_arn.clone()),
            ..refusal
        });
    }
    snapshots::share(scope, item.kind, name, &item.dest_account, true).await
}

/// Why the vault account cannot be added to a snapshot already shared with `shared`: AWS shares a
/// manual snapshot with at most [`SHARED_ACCOUNTS`] accounts (`all`, public, is not one). rdsguard
/// shares each snapshot it makes with one vault account; more can only be there from someone else.
pub(crate) fn past_share_limit(item: &Item, shared: &[String]) -> Option<AwsError> {
    let accounts = shared.iter().filter(|a| a.as_str() != "all").count();
    (accounts >= SHARED_ACCOUNTS).then(|| AwsError {
        account_id: item.account_id.clone(),
        region: item.region.clone(),
        operation: match item.kind {
            SourceKind::DbInstance => "ModifyDBSnapshotAttribute",
            SourceKind::DbCluster => "ModifyDBClusterSnapshotAttribute",
        }
        .into(),
        code: "SharedSnapshotLimit".into(),
        message: format!(
            "{} is already shared with {accounts} accounts, AWS's limit of {SHARED_ACCOUNTS}; \
             rdsguard did not add {} and changed nothing (remove an account from its restore \
             attribute, or delete the snapshot, then run again)",
            shared_name(item),
            item.dest_account
        ),
        resource: None,
    })
}
