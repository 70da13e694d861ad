//! The steps of the remediation pipeline, one file each, and the one ordered list of them per plan
//! item ([`Item::steps`]). That list drives the executor (`remediate::run`), the journal's entries
//! and `--dry-run`'s printed steps (`output::plan`); there is no second list of the order.
//!
//! Each step declares, as data ([`Decl`]), what it reads, what it creates, how it finds its own
//! earlier result, when it is skipped, and the IAM actions it needs in the source and destination
//! accounts ([`iam_actions`]).

pub mod backup_job;
pub mod cleanup;
pub mod copy;
pub mod copy_job;
pub mod copy_stage;
pub mod find_replica;
pub mod prune;
pub mod prune_restores;
pub mod re_encrypt;
pub mod repoint;
pub mod restore;
pub mod share;
pub mod snapshot;
pub mod supersede;

use super::plan::Item;
use super::run::{Ctx, State};
use crate::inventory::AwsError;
use crate::remediate::tags::{
    ROLE_TRANSIT, TAG_DATA_TIME, TAG_MANAGED, TAG_ROLE, TAG_RUN_ID, TAG_SOURCE_ARN,
};
use crate::report::remediation::BackupJobs;

/// What a step is, as data.
#[derive(Debug)]
pub struct Decl {
    /// Its name in the journal, the progress line, `failed_step` and the docs.
    pub name: &'static str,
    /// The file that defines it (`file!()`): `src/remediate/steps/<name>.rs`, each `-` written `_`.
    pub file: &'static str,
    /// Which account and region its calls go to.
    pub runs_in: &'static str,
    /// What it reads: the plan's fields and what earlier steps found.
    pub reads: &'static [&'static str],
    /// What it makes, if anything.
    pub creates: Option<Creates>,
    /// How it finds its own earlier result before acting (so a resumed run makes nothing twice).
    pub finds_earlier: &'static str,
    /// When the executor passes it by.
    pub skipped: Skip,
    /// The IAM actions it needs.
    pub iam: Iam,
}

/// What a step makes: its name (as the plan decides it) and the tags it carries.
#[derive(Debug)]
pub struct Creates {
    /// The name, as a pattern (`<…>` parts are filled in by the plan).
    pub name: &'static str,
    /// Its `rdsguard:role`.
    pub role: &'static str,
    /// Every tag it is created with (`crate::remediate::tags`).
    pub tags: &'static [&'static str],
}

impl Creates {
    /// A transit snapshot in the source account: the source's own snapshot, or its re-encrypted copy.
    const fn transit(name: &'static str) -> Creates {
        Creates {
            name,
            role: ROLE_TRANSIT,
            tags: PROVENANCE_TAGS,
        }
    }

    /// A copy in the vault account (the stage copy or the replica): it also carries the data's time.
    const fn vault_copy(name: &'static str, role: &'static str) -> Creates {
        Creates {
            name,
            role,
            tags: &[
                TAG_SOURCE_ARN,
                TAG_MANAGED,
                TAG_ROLE,
                TAG_RUN_ID,
                TAG_DATA_TIME,
            ],
        }
    }
}

/// When the executor passes a step by, although the plan lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    Never,
    /// `find-replica` found the replica available: nothing that makes it is redone.
    ReplicaExists,
    /// `repoint` found the secret pointing at no other instance: nothing is superseded.
    NothingSuperseded,
}

/// Finding a snapshot of either kind by its name, as every step that acts on one does first.
pub(super) const FIND_SNAPSHOT: &[&str] =
    &["rds:DescribeDBSnapshots", "rds:DescribeDBClusterSnapshots"];
/// Adding or removing an account in a snapshot's `restore` attribute.
pub(super) const SHARE_SNAPSHOT: &[&str] = &[
    "rds:ModifyDBSnapshotAttribute",
    "rds:ModifyDBClusterSnapshotAttribute",
];
pub(super) const DELETE_SNAPSHOT: &[&str] =
    &["rds:DeleteDBSnapshot", "rds:DeleteDBClusterSnapshot"];
/// Handing the rule's backup role to AWS Backup (`StartBackupJob`, `StartCopyJob`): `iam:PassRole`,
/// which the policy scopes to the roles the rules name and to `backup.amazonaws.com`.
pub(super) const PASS_BACKUP_ROLE: &[&str] = &["iam:PassRole"];
/// Finding a restored DB instance or Aurora cluster by its name.
pub(super) const FIND_DATABASE: &[&str] = &["rds:DescribeDBInstances", "rds:DescribeDBClusters"];

/// What a snapshot copy needs, wherever it runs (re-encrypt in the source account, the stage copy and
/// the replica in the vault), besides [`FIND_SNAPSHOT`].
pub(super) const COPY_ACTIONS: &[&str] = &[
    "rds:CopyDBSnapshot",
    "rds:CopyDBClusterSnapshot",
    "rds:AddTagsToResource",
    // RDS uses the caller's rights on the keys when it copies under another key, or copies
    // a snapshot shared under another account's key.
    "kms:CreateGrant",
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKeyWithoutPlaintext",
];

/// What `backup-job` and `copy-job` call AWS Backup with: the source account's client, and the item's
/// jobs (`remediate = "backup"`).
pub(super) struct BackupCalls<'c> {
    pub client: aws_sdk_backup::Client,
    pub jobs: &'c crate::report::remediation::BackupJobs,
    item: &'c Item,
}

impl<'c> BackupCalls<'c> {
    pub(super) async fn of(ctx: &'c Ctx<'_>) -> Result<BackupCalls<'c>, AwsError> {
        let item = ctx.item;
        let Some(jobs) = item.backup.as_ref() else {
            return Err(ctx.no_backup_plan());
        };
        let client = ctx.backup_client(&item.account_id, &item.region).await?;
        Ok(BackupCalls { client, jobs, item })
    }

    /// Where the jobs are started: the source account and region.
    pub(super) fn scope(&self) -> crate::aws::backup::jobs::JobScope<'_> {
        crate::aws::backup::jobs::JobScope {
            client: &self.client,
            account_id: &self.item.account_id,
            region: &self.item.region,
        }
    }

    /// A job request with the item's role and lifecycle, and `token`.
    pub(super) fn request(&self, token: &'c str) -> crate::aws::backup::jobs::JobRequest<'c> {
        crate::aws::backup::jobs::JobRequest {
            token,
            role_arn: &self.jobs.role_arn,
            delete_after_days: self.jobs.delete_after_days,
        }
    }
}

/// The plan's line for a step that acts on the item's AWS Backup jobs; none for an item that copies
/// snapshots.
pub(super) fn backup_line(item: &Item, line: impl FnOnce(&BackupJobs) -> String) -> Vec<String> {
    item.backup.as_ref().map(line).into_iter().collect()
}

/// IAM actions, per account role: the source database's account, and the destination (vault). Each is
/// a list of groups of actions (such as [`FIND_SNAPSHOT`]), so that steps share the groups they share.
#[derive(Debug)]
pub struct Iam {
    pub source: &'static [&'static [&'static str]],
    pub destination: &'static [&'static [&'static str]],
}

/// The tags of everything a step creates: whose it is, for which source, its role and its run.
const PROVENANCE_TAGS: &[&str] = &[TAG_SOURCE_ARN, TAG_MANAGED, TAG_ROLE, TAG_RUN_ID];

/// One step of the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    FindReplica,
    Snapshot,
    ReEncrypt,
    Share,
    CopyStage,
    Copy,
    Cleanup,
    Restore,
    Repoint,
    Supersede,
    PruneRestores,
    Prune,
    BackupJob,
    CopyJob,
}

impl Step {
    /// Every step, in the order an item runs them.
    pub const ALL: [Step; 14] = [
        Step::FindReplica,
        Step::Snapshot,
        Step::ReEncrypt,
        Step::Share,
        Step::CopyStage,
        Step::Copy,
        Step::Cleanup,
        Step::Restore,
        Step::Repoint,
        Step::Supersede,
        Step::PruneRestores,
        Step::Prune,
        Step::BackupJob,
        Step::CopyJob,
    ];

    pub fn decl(self) -> &'static Decl {
        match self {
            Step::FindReplica => &find_replica::DECL,
            Step::Snapshot => &snapshot::DECL,
            Step::ReEncrypt => &re_encrypt::DECL,
            Step::Share => &share::DECL,
            Step::CopyStage => &copy_stage::DECL,
            Step::Copy => &copy::DECL,
            Step::Cleanup => &cleanup::DECL,
            Step::Restore => &restore::DECL,
            Step::Repoint => &repoint::DECL,
            Step::Supersede => &supersede::DECL,
            Step::PruneRestores => &prune_restores::DECL,
            Step::Prune => &prune::DECL,
            Step::BackupJob => &backup_job::DECL,
            Step::CopyJob => &copy_job::DECL,
        }
    }

    pub fn name(self) -> &'static str {
        self.decl().name
    }

    /// What `--dry-run` prints for this step of `item`, one line per thing it changes (nothing for a
    /// step that only looks, or whose work is only known when it runs).
    pub fn describe(self, item: &Item) -> Vec<String> {
        match self {
            Step::FindReplica => find_replica::describe(item),
            Step::Snapshot => snapshot::describe(item),
            Step::ReEncrypt => re_encrypt::describe(item),
            Step::Share => share::describe(item),
            Step::CopyStage => copy_stage::describe(item),
            Step::Copy => copy::describe(item),
            Step::Cleanup => cleanup::describe(item),
            Step::Restore => restore::describe(item),
            Step::Repoint => repoint::describe(item),
            Step::Supersede => supersede::describe(item),
            Step::PruneRestores => prune_restores::describe(item),
            Step::Prune => prune::describe(item),
            Step::BackupJob => backup_job::describe(item),
            Step::CopyJob => copy_job::describe(item),
        }
    }

    /// Whether the executor runs it, given what the earlier steps found.
    pub(crate) fn applies(self, state: &State) -> bool {
        match self.decl().skipped {
            Skip::Never => true,
            Skip::ReplicaExists => !state.replica_exists,
            Skip::NothingSuperseded => state.superseded.is_some(),
        }
    }

    /// The journal's `detail` of this step, as it starts.
    pub(crate) fn detail(self, ctx: &Ctx<'_>, state: &State) -> String {
        match self {
            Step::FindReplica => find_replica::detail(ctx),
            Step::Snapshot => snapshot::detail(ctx),
            Step::ReEncrypt => re_encrypt::detail(ctx),
            Step::Share => share::detail(ctx),
            Step::CopyStage => copy_stage::detail(ctx, state),
            Step::Copy => copy::detail(ctx, state),
            Step::Cleanup => cleanup::detail(ctx),
            Step::Restore => restore::detail(ctx),
            Step::Repoint => repoint::detail(ctx, state),
            Step::Supersede => supersede::detail(state),
            Step::PruneRestores => prune_restores::detail(ctx),
            Step::Prune => prune::detail(ctx),
            Step::BackupJob => backup_job::detail(ctx),
            Step::CopyJob => copy_job::detail(ctx, state),
        }
    }

    /// Does the step's work, recording what it found for the steps after it in `state`.
    pub(crate) async fn run(self, ctx: &Ctx<'_>, state: &mut State) -> Result<(), AwsError> {
        match self {
            Step::FindReplica => find_replica::run(ctx, state).await,
            Step::Snapshot => snapshot::run(ctx).await,
            Step::ReEncrypt => re_encrypt::run(ctx).await,
            Step::Share => share::run(ctx, state).await,
            Step::CopyStage => copy_stage::run(ctx, state).await,
            Step::Copy => copy::run(ctx, state).await,
            Step::Cleanup => cleanup::run(ctx).await,
            Step::Restore => restore::run(ctx, state).await,
            Step::Repoint => repoint::run(ctx, state).await,
            Step::Supersede => supersede::run(ctx, state).await,
            Step::PruneRestores => prune_restores::run(ctx, state).await,
            Step::Prune => prune::run(ctx).await,
            Step::BackupJob => backup_job::run(ctx, state).await,
            Step::CopyJob => copy_job::run(ctx, state).await,
        }
    }
}

impl Item {
    /// The steps this item runs, in order: what the executor runs, what the journal records and
    /// what `--dry-run` prints.
    pub fn steps(&self) -> Vec<Step> {
        if self.backup.is_some() {
            // AWS Backup makes the copy; it keeps and deletes recovery points itself.
            return vec![Step::BackupJob, Step::CopyJob];
        }
        let mut steps = Vec::new();
        if self.copy {
            steps.extend([Step::FindReplica, Step::Snapshot]);
            if self.names.reencrypted.is_some() && self.reencrypt_key.is_some() {
                steps.push(Step::ReEncrypt);
            }
            steps.push(Step::Share);
            if self.names.stage.is_some() {
                steps.push(Step::CopyStage);
            }
            steps.extend([Step::Copy, Step::Cleanup]);
        } else if !self.orphans.is_empty() {
            steps.push(Step::Cleanup);
        }
        if let Some(restore) = &self.restore {
            steps.push(Step::Restore);
            if restore.secret.is_some() {
                steps.extend([Step::Repoint, Step::Supersede]);
            }
            if !restore.prune.is_empty() {
                steps.push(Step::PruneRestores);
            }
        }
        if !self.prune.is_empty() {
            steps.push(Step::Prune);
        }
        steps
    }
}

/// Whose credentials a step's calls use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Account {
    /// The source database's account.
    Source,
    /// The destination (vault) account.
    Destination,
}

/// Every IAM action some step declares in `account`, sorted and without repeats.
pub fn iam_actions_in(account: Account) -> Vec<&'static str> {
    let mut actions: Vec<&'static str> = Step::ALL
        .iter()
        .flat_map(|s| match account {
            Account::Source => s.decl().iam.source,
            Account::Destination => s.decl().iam.destination,
        })
        .flat_map(|group| group.iter())
        .copied()
        .collect();
    actions.sort_unstable();
    actions.dedup();
    actions
}

/// Every IAM action some step declares, in either account, sorted and without repeats.
pub fn iam_actions() -> Vec<&'static str> {
    let mut actions = iam_actions_in(Account::Source);
    actions.extend(iam_actions_in(Account::Destination));
    actions.sort_unstable();
    actions.dedup();
    actions
}

#[cfg(test)]
mod tests;
