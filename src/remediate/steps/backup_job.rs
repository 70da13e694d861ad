//! Step `backup-job` (`remediate = "backup"`): an on-demand AWS Backup job of the source database into
//! the rule's vault of the source account; waits until it ends and keeps its recovery point.

use super::{backup_line, BackupCalls, Decl, Iam, Skip, PASS_BACKUP_ROLE};
use crate::aws::backup::jobs;
use crate::inventory::AwsError;
use crate::remediate::plan::Item;
use crate::remediate::run::{Ctx, State};

pub const DECL: Decl = Decl {
    file: file!(),
    name: "backup-job",
    runs_in: "source account, source region",
    reads: &[
        "source_arn",
        "backup.source_vault",
        "backup.role_arn",
        "backup.delete_after_days",
        "backup.backup_token",
    ],
    creates: None,
    finds_earlier: "the idempotency token: AWS Backup answers a repeated StartBackupJob with the first job, which is waited for",
    skipped: Skip::Never,
    iam: Iam {
        source: &[
            &["backup:StartBackupJob", "backup:DescribeBackupJob"],
            PASS_BACKUP_ROLE,
        ],
        destination: &[],
    },
};

pub(crate) fn describe(item: &Item) -> Vec<String> {
    backup_line(item, |backup| {
        format!(
            "backup-job in {}/{}: back up {} into vault {} (kept {}d) as {}",
            item.account_id,
            item.region,
            item.identifier,
            backup.source_vault,
            backup.delete_after_days,
            backup.role_arn
        )
    })
}

pub(crate) fn detail(ctx: &Ctx<'_>) -> String {
    let vault = ctx.item.backup.as_ref().map(|b| b.source_vault.as_str());
    format!(
        "start a backup job of {} into vault {}",
        ctx.item.identifier,
        vault.unwrap_or("-")
    )
}

pub(crate) async fn run(ctx: &Ctx<'_>, state: &mut State) -> Result<(), AwsError> {
    let calls = BackupCalls::of(ctx).await?;
    let (scope, jobs) = (calls.scope(), calls.jobs);
    let request = calls.request(&jobs.backup_token);
    let resource = &ctx.item.source_arn;
    let job = jobs::start_backup(&scope, &jobs.source_vault, resource, &request).await?;
    let point = jobs::wait_backup(&scope, &job, ctx.options.step_timeout).await?;
    state.recovery_point = Some(point);
    Ok(())
}
