//! Step `copy-job` (`remediate = "backup"`): an AWS Backup copy job of the recovery point `backup-job`
//! made, from the source account into the rule's vault of the destination account; waits until it
//! ends. The copy keeps the backup's creation date: it is the replica. Nothing is ever deleted: the
//! vaults' lifecycles and locks own the recovery points.

use super::{backup_line, BackupCalls, Decl, Iam, Skip, PASS_BACKUP_ROLE};
use crate::aws::backup::jobs;
use crate::inventory::AwsError;
use crate::remediate::plan::Item;
use crate::remediate::run::{Ctx, State};

pub const DECL: Decl = Decl {
    file: file!(),
    name: "copy-job",
    runs_in: "source account, source region (the copy lands in the destination vault)",
    reads: &[
        "the recovery point (backup-job)",
        "backup.destination_vault_arn",
        "backup.role_arn",
        "backup.copy_token",
    ],
    creates: None,
    finds_earlier: "the idempotency token: AWS Backup answers a repeated StartCopyJob with the first job, which is waited for",
    skipped: Skip::Never,
    iam: Iam {
        source: &[
            &["backup:StartCopyJob", "backup:DescribeCopyJob"],
            PASS_BACKUP_ROLE,
        ],
        destination: &[],
    },
};

pub(crate) fn describe(item: &Item) -> Vec<String> {
    backup_line(item, |backup| {
        format!(
            "copy-job   from {}/{} vault {} into {} (kept {}d)",
            item.account_id,
            item.region,
            backup.source_vault,
            backup.destination_vault_arn,
            backup.delete_after_days
        )
    })
}

pub(crate) fn detail(ctx: &Ctx<'_>, state: &State) -> String {
    let into = ctx
        .item
        .backup
        .as_ref()
        .map(|b| b.destination_vault_arn.as_str());
    format!(
        "copy {} into {}",
        state.recovery_point.as_deref().unwrap_or("-"),
        into.unwrap_or("-")
    )
}

pub(crate) async fn run(ctx: &Ctx<'_>, state: &mut State) -> Result<(), AwsError> {
    let item = ctx.item;
    let Some(point) = state.recovery_point.clone() else {
        return Err(AwsError {
            account_id: item.account_id.clone(),
            region: item.region.clone(),
            operation: "StartCopyJob".into(),
            code: "NoRecoveryPoint".into(),
            message: "backup-job did not leave a recovery point to copy".into(),
            resource: None,
        });
    };
    let calls = BackupCalls::of(ctx).await?;
    let (scope, jobs) = (calls.scope(), calls.jobs);
    let request = calls.request(&jobs.copy_token);
    let into = &jobs.destination_vault_arn;
    let job = jobs::start_copy(&scope, &jobs.source_vault, &point, into, &request).await?;
    let copied = jobs::wait_copy(&scope, &job, ctx.options.step_timeout).await?;
    ctx.created_in(&item.dest_account, &item.dest_region, &copied);
    Ok(())
}
