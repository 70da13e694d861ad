//! The in-process executor of one plan item: connects to its accounts, then runs the item's steps
//! ([`Item::steps`]) in order, journaling each one's start and end, and collects what it created
//! and deleted.

use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::Utc;
use tracing::{info, warn};

use super::journal::{Entry, Run};
use super::limits::CopySlots;
use super::plan::Item;
use super::{tags, ItemResult, Options};
use crate::aws::rds::write::instances::Instance;
use crate::aws::rds::write::snapshots;
use crate::aws::rds::Scope;
use crate::aws::ClientFactory;
use crate::inventory::AwsError;

/// What one item's steps work with: the plan item, its run, and a client for each scope.
pub(crate) struct Ctx<'a> {
    pub item: &'a Item,
    pub run: Run<'a>,
    pub options: &'a Options,
    /// The source database's account and region.
    pub src: Scope<'a>,
    /// The destination account and region.
    pub dst: Scope<'a>,
    /// The destination account in the source's region, for a cross-region destination.
    pub stage: Option<Scope<'a>>,
    /// The run's places for cross-region copies in progress ([`super::limits`]).
    pub slots: &'a CopySlots,
    /// What this run created and deleted, as `account/region/name`.
    created: Mutex<Vec<String>>,
    deleted: Mutex<Vec<String>>,
}

/// What earlier steps of one item found, for the steps after them.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// `find-replica` found the replica available.
    pub replica_exists: bool,
    /// The ARN of the snapshot `share` shared.
    pub shared_arn: String,
    /// The data's time, carried by every copy (cluster snapshots have no
    /// `OriginalSnapshotCreateTime` of their own).
    pub data_time: Option<String>,
    /// The ARN of the stage copy, when `copy-stage` made one: what `copy` copies.
    pub staged_arn: Option<String>,
    /// The instance `restore` made or found.
    pub restored: Option<Instance>,
    /// The instance the secret pointed at before `repoint`, when another one.
    pub superseded: Option<String>,
    /// The recovery point `backup-job` made, for `copy-job`.
    pub recovery_point: Option<String>,
}

/// The step that failed and its AWS error (boxed: it travels up through every step).
type StepError = Box<(String, AwsError)>;

/// Runs one item: connects, then every step of [`Item::steps`] in order, stopping at the first
/// failure.
pub(crate) async fn item(
    run: Run<'_>,
    item: &Item,
    options: &Options,
    slots: &CopySlots,
) -> ItemResult {
    let (outcome, created, deleted) = match Clients::connect(run.factory, item).await {
        Err(failure) => (Err(failure), Vec::new(), Vec::new()),
        Ok(clients) => {
            let ctx = Ctx {
                item,
                run,
                options,
                src: Scope {
                    client: &clients.src,
                    account_id: &item.account_id,
                    region: &item.region,
                },
                dst: Scope {
                    client: &clients.dst,
                    account_id: &item.dest_account,
                    region: &item.dest_region,
                },
                stage: clients.stage.as_ref().map(|client| Scope {
                    client,
                    account_id: &item.dest_account,
                    region: &item.region,
                }),
                slots,
                created: Mutex::new(Vec::new()),
                deleted: Mutex::new(Vec::new()),
            };
            let outcome = ctx.run_steps().await;
            (
                outcome,
                ctx.created.into_inner().unwrap_or_default(),
                ctx.deleted.into_inner().unwrap_or_default(),
            )
        }
    };
    if let (Some(p), Ok(())) = (&options.progress, &outcome) {
        p.update(&item.source_arn, "done");
    }
    let (ok, failed_step, error) = match outcome {
        Ok(()) => (true, None, None),
        Err(failure) => {
            let (step, error) = *failure;
            (false, Some(step), Some(error))
        }
    };
    ItemResult {
        source_arn: item.source_arn.clone(),
        ok,
        failed_step,
        error,
        created,
        deleted,
    }
}

/// An RDS client per scope an item's steps call.
struct Clients {
    src: aws_sdk_rds::Client,
    dst: aws_sdk_rds::Client,
    stage: Option<aws_sdk_rds::Client>,
}

impl Clients {
    /// A failure here is the item's step `connect`.
    async fn connect(factory: &ClientFactory, item: &Item) -> Result<Clients, StepError> {
        let connect = |account: &str, region: &str| {
            let (account, region) = (account.to_string(), region.to_string());
            async move {
                let config = factory
                    .config(&account, &region)
                    .await
                    .map_err(|e| Box::new(("connect".to_string(), e)))?;
                Ok::<_, StepError>(crate::aws::rds_client(&config, &account, &region))
            }
        };
        Ok(Clients {
            src: connect(&item.account_id, &item.region).await?,
            dst: connect(&item.dest_account, &item.dest_region).await?,
            stage: match &item.names.stage {
                Some(_) => Some(connect(&item.dest_account, &item.region).await?),
                None => None,
            },
        })
    }
}

fn note(log: &Mutex<Vec<String>>, scope: &Scope<'_>, name: &str) {
    if let Ok(mut log) = log.lock() {
        log.push(format!("{}/{}/{name}", scope.account_id, scope.region));
    }
}

impl Ctx<'_> {
    /// The item's steps, in the order of [`Item::steps`], each journaled; those whose
    /// [`Skip`](super::steps::Skip) applies are passed by.
    async fn run_steps(&self) -> Result<(), StepError> {
        let mut state = State::default();
        for step in self.item.steps() {
            if !step.applies(&state) {
                continue;
            }
            let detail = step.detail(self, &state);
            self.journaled(step.name(), detail, step.run(self, &mut state))
                .await?;
        }
        Ok(())
    }

    /// The tags of what this item's steps create in `role`.
    pub fn tags(&self, role: &str) -> BTreeMap<String, String> {
        tags::provenance(&self.item.source_arn, role, self.run.id)
    }

    /// Records that this run made `name` in `scope`.
    pub fn created(&self, scope: &Scope<'_>, name: &str) {
        note(&self.created, scope, name);
    }

    /// Records that this run made `name` in `account`/`region` (a scope without an RDS client).
    pub fn created_in(&self, account: &str, region: &str, name: &str) {
        if let Ok(mut log) = self.created.lock() {
            log.push(format!("{account}/{region}/{name}"));
        }
    }

    /// Why a backup step cannot run: its item has no AWS Backup jobs (`remediate = "backup"`).
    pub fn no_backup_plan(&self) -> AwsError {
        AwsError {
            account_id: self.item.account_id.clone(),
            region: self.item.region.clone(),
            operation: "Plan".into(),
            code: "NoBackupPlan".into(),
            message: "a backup step in an item without AWS Backup jobs".into(),
            resource: None,
        }
    }

    /// An AWS Backup client in `account`/`region`.
    pub async fn backup_client(
        &self,
        account: &str,
        region: &str,
    ) -> Result<aws_sdk_backup::Client, AwsError> {
        let config = self.run.factory.config(account, region).await?;
        Ok(crate::aws::backup_client(&config, account, region))
    }

    /// Shows `status` as this item's current state (the progress display, else the log).
    pub fn show(&self, status: &str) {
        match self.options.progress.as_ref().filter(|p| p.enabled()) {
            Some(p) => p.update(&self.item.source_arn, status),
            None => info!(source = %self.item.identifier, "{status}"),
        }
    }

    /// Records that this run deleted `name` in `scope`.
    pub fn deleted(&self, scope: &Scope<'_>, name: &str) {
        note(&self.deleted, scope, name);
    }

    fn record(&self, entry: Entry) -> Result<(), StepError> {
        self.run.journal.write(&entry).map_err(|e| {
            Box::new((
                "journal".to_string(),
                AwsError {
                    account_id: self.item.account_id.clone(),
                    region: self.item.region.clone(),
                    operation: "WriteJournal".into(),
                    code: "JournalWriteFailed".into(),
                    message: format!("{}: {e}", self.run.journal.path().display()),
                    resource: None,
                },
            ))
        })
    }

    /// Journals a step's start and end around `work`, and shows it on the progress display.
    async fn journaled(
        &self,
        name: &str,
        detail: String,
        work: impl std::future::Future<Output = Result<(), AwsError>>,
    ) -> Result<(), StepError> {
        let source_arn = self.item.source_arn.clone();
        let progress = self.options.progress.as_ref().filter(|p| p.enabled());
        match progress {
            Some(p) => p.update(&source_arn, name),
            None => info!(source = %self.item.identifier, step = name, "{detail}"),
        }
        self.record(Entry::Start {
            at: Utc::now(),
            source_arn: source_arn.clone(),
            step: name.to_string(),
            detail: detail.clone(),
        })?;
        match work.await {
            Ok(()) => self.record(Entry::Done {
                at: Utc::now(),
                source_arn,
                step: name.to_string(),
                detail,
            }),
            Err(error) => {
                if let Some(p) = progress {
                    p.update(&source_arn, &format!("FAILED at {name}: {}", error.code));
                }
                warn!(source = %self.item.identifier, step = name, code = %error.code, "step failed: {}", error.message);
                self.record(Entry::Failed {
                    at: Utc::now(),
                    source_arn,
                    step: name.to_string(),
                    error: error.clone(),
                })?;
                Err(Box::new((name.to_string(), error)))
            }
        }
    }

    /// Makes sure snapshot `name` exists in `scope` (creating it with `create` when it does not) and
    /// is available; returns its ARN. How the snapshot-making steps find their own earlier result.
    pub async fn ensure(
        &self,
        scope: &Scope<'_>,
        name: &str,
        create: impl std::future::Future<Output = Result<(), AwsError>>,
    ) -> Result<String, AwsError> {
        let kind = self.item.kind;
        if snapshots::find(scope, kind, name).await?.is_none() {
            create.await?;
            self.created(scope, name);
        }
        snapshots::wait_available(scope, kind, name, self.options.step_timeout).await?;
        let found = snapshots::find(scope, kind, name).await?;
        found.map(|f| f.arn).ok_or_else(|| AwsError {
            account_id: scope.account_id.to_string(),
            region: scope.region.to_string(),
            operation: "DescribeDBSnapshots".into(),
            code: "Vanished".into(),
            message: "the snapshot disappeared while rdsguard waited for it".into(),
            resource: Some(name.to_string()),
        })
    }
}
