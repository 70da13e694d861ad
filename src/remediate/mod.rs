//! `audit --remediate`: for each failing source, snapshot -> re-encrypt under a shareable key if needed
//! -> share -> copy into the vault under its key -> clean up the transit snapshots -> prune.
//!
//! Every step first looks for its own earlier result by name (names are decided by the plan and kept in
//! the journal), so a run killed at any point and resumed finishes the work without duplicates; and
//! when the replica already exists, nothing before it is redone.

pub mod journal;
pub mod plan;
pub mod repoint;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use futures::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use crate::aws::rds::write::{instances, snapshots};
use crate::aws::rds::Scope;
use crate::aws::ClientFactory;
use crate::inventory::{AwsError, TAG_DATA_TIME, TAG_SOURCE_ARN};
use journal::{Entry, Journal};
use plan::{Item, ROLE_REPLICA, ROLE_STAGE, ROLE_TRANSIT, TAG_MANAGED, TAG_ROLE, TAG_RUN_ID};

/// Told of each source's step as it starts, fails, and of the source when it is done. Remediation owns
/// this trait and the terminal's display (`output::progress`) implements it, so `remediate` depends on
/// no output module.
pub trait Progress {
    /// Whether updates are shown; when they are not, each step is logged instead.
    fn enabled(&self) -> bool;
    /// The source `source_arn` is now at `step` (a step name, `done`, or `FAILED at STEP: CODE`).
    fn update(&self, source_arn: &str, step: &str);
}

pub struct Options {
    /// Told of each step as it starts and ends (the terminal's progress display).
    pub progress: Option<Arc<dyn Progress + Send + Sync>>,
    pub max_parallel: usize,
    /// The longest wait for one snapshot to become available.
    pub step_timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemResult {
    pub source_arn: String,
    pub ok: bool,
    /// The step that failed, and the AWS error.
    pub failed_step: Option<String>,
    pub error: Option<AwsError>,
    pub created: Vec<String>,
    pub deleted: Vec<String>,
}

/// Runs every item, at most `max_parallel` sources at once; a failing source does not stop the others.
pub async fn execute(
    factory: &ClientFactory,
    items: &[Item],
    run_id: &str,
    journal: &Journal,
    options: &Options,
) -> Vec<ItemResult> {
    for item in items {
        let entry = Entry::Plan {
            at: Utc::now(),
            run_id: run_id.to_string(),
            item: Box::new(item.clone()),
        };
        if let Err(e) = journal.write(&entry) {
            warn!("cannot write the journal {}: {e}", journal.path().display());
        }
    }
    stream::iter(items)
        .map(|item| async move {
            let run = ItemRun {
                journal,
                item,
                run_id,
                options,
                created: Mutex::new(Vec::new()),
                deleted: Mutex::new(Vec::new()),
            };
            let outcome = run.go(factory).await;
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
                created: run.created.into_inner().unwrap_or_default(),
                deleted: run.deleted.into_inner().unwrap_or_default(),
            }
        })
        .buffer_unordered(options.max_parallel.max(1))
        .collect()
        .await
}

/// The step that failed and its AWS error (boxed: it travels up through every step).
type StepError = Box<(String, AwsError)>;

struct ItemRun<'a> {
    journal: &'a Journal,
    item: &'a Item,
    run_id: &'a str,
    options: &'a Options,
    /// What this run created and deleted, as `account/region/name`.
    created: Mutex<Vec<String>>,
    deleted: Mutex<Vec<String>>,
}

fn note(log: &Mutex<Vec<String>>, entry: String) {
    if let Ok(mut log) = log.lock() {
        log.push(entry);
    }
}

impl repoint::Steps for ItemRun<'_> {
    type Error = StepError;
    async fn step<T>(
        &self,
        name: &str,
        detail: String,
        work: impl std::future::Future<Output = Result<T, AwsError>>,
    ) -> Result<T, StepError> {
        ItemRun::step(self, name, detail, work).await
    }
}

impl ItemRun<'_> {
    fn tags(&self, role: &str) -> BTreeMap<String, String> {
        [
            (TAG_SOURCE_ARN, self.item.source_arn.as_str()),
            (TAG_MANAGED, "true"),
            (TAG_ROLE, role),
            (TAG_RUN_ID, self.run_id),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    fn record(&self, entry: Entry) -> Result<(), StepError> {
        self.journal.write(&entry).map_err(|e| {
            Box::new((
                "journal".to_string(),
                AwsError {
                    account_id: self.item.account_id.clone(),
                    region: self.item.region.clone(),
                    operation: "WriteJournal".into(),
                    code: "JournalWriteFailed".into(),
                    message: format!("{}: {e}", self.journal.path().display()),
                    resource: None,
                },
            ))
        })
    }

    /// Journals a step's start and end around `work`.
    async fn step<T>(
        &self,
        name: &str,
        detail: String,
        work: impl std::future::Future<Output = Result<T, AwsError>>,
    ) -> Result<T, StepError> {
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
            Ok(value) => {
                self.record(Entry::Done {
                    at: Utc::now(),
                    source_arn,
                    step: name.to_string(),
                    detail,
                })?;
                Ok(value)
            }
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

    /// Makes sure snapshot `name` exists in `scope` (creating it with `create` when it does not) and is
    /// available; returns its ARN.
    async fn ensure(
        &self,
        scope: &Scope<'_>,
        name: &str,
        create: impl std::future::Future<Output = Result<(), AwsError>>,
    ) -> Result<String, AwsError> {
        let kind = self.item.kind;
        if snapshots::find(scope, kind, name).await?.is_none() {
            create.await?;
            note(
                &self.created,
                format!("{}/{}/{name}", scope.account_id, scope.region),
            );
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

    async fn go(&self, factory: &ClientFactory) -> Result<(), StepError> {
        let item = self.item;
        let config = |account: &str, region: &str| {
            let (account, region) = (account.to_string(), region.to_string());
            async move { factory.config(&account, &region).await }
        };
        let fail = |step: &str| {
            let step = step.to_string();
            move |e: AwsError| Box::new((step, e))
        };
        let src_config = config(&item.account_id, &item.region)
            .await
            .map_err(fail("connect"))?;
        let dst_config = config(&item.dest_account, &item.dest_region)
            .await
            .map_err(fail("connect"))?;
        let src_client = crate::aws::rds_client(&src_config, &item.account_id, &item.region);
        let dst_client = crate::aws::rds_client(&dst_config, &item.dest_account, &item.dest_region);
        let src = Scope {
            client: &src_client,
            account_id: &item.account_id,
            region: &item.region,
        };
        let dst = Scope {
            client: &dst_client,
            account_id: &item.dest_account,
            region: &item.dest_region,
        };
        let stage_client = match &item.names.stage {
            Some(_) => Some(crate::aws::rds_client(
                &config(&item.dest_account, &item.region)
                    .await
                    .map_err(fail("connect"))?,
                &item.dest_account,
                &item.region,
            )),
            None => None,
        };
        let stage = stage_client.as_ref().map(|client| Scope {
            client,
            account_id: &item.dest_account,
            region: &item.region,
        });
        let kind = item.kind;
        let names = &item.names;
        let shared_name = names.reencrypted.as_deref().unwrap_or(&names.snapshot);

        if item.copy {
            let existing = self
                .step(
                    "find-replica",
                    format!(
                        "look for {} in {}/{}",
                        names.replica, dst.account_id, dst.region
                    ),
                    snapshots::find(&dst, kind, &names.replica),
                )
                .await?;
            let done = existing.as_ref().is_some_and(|f| f.status == "available");
            if !done {
                let tags = self.tags(ROLE_TRANSIT);
                let create =
                    snapshots::create(&src, kind, &item.identifier, &names.snapshot, &tags);
                let work = self.ensure(&src, &names.snapshot, create);
                let detail = format!("snapshot {} as {}", item.identifier, names.snapshot);
                self.step("snapshot", detail, work).await?;
                if let (Some(name), Some(key)) = (&names.reencrypted, &item.reencrypt_key) {
                    let create = snapshots::copy(&src, kind, &names.snapshot, name, key, &tags);
                    let work = self.ensure(&src, name, create);
                    self.step(
                        "re-encrypt",
                        format!("copy {} as {name} under {key}", names.snapshot),
                        work,
                    )
                    .await?;
                }
                let found = snapshots::find(&src, kind, shared_name)
                    .await
                    .map_err(fail("share"))?;
                let shared = found.as_ref().map(|f| f.arn.clone()).unwrap_or_default();
                // The data's time, carried by every copy (cluster snapshots have no
                // OriginalSnapshotCreateTime of their own).
                let data_time = found
                    .and_then(|f| f.data_time)
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
                let with_time = |mut tags: BTreeMap<String, String>| {
                    if let Some(time) = &data_time {
                        tags.insert(TAG_DATA_TIME.to_string(), time.clone());
                    }
                    tags
                };
                self.step(
                    "share",
                    format!("share {shared_name} with {}", item.dest_account),
                    snapshots::share(&src, kind, shared_name, &item.dest_account, true),
                )
                .await?;
                let from = match (&stage, &names.stage) {
                    (Some(stage_scope), Some(stage_name)) => {
                        let tags = with_time(self.tags(ROLE_STAGE));
                        let create = snapshots::copy(
                            stage_scope,
                            kind,
                            &shared,
                            stage_name,
                            &item.dest_kms_key,
                            &tags,
                        );
                        let work = self.ensure(stage_scope, stage_name, create);
                        let detail = format!(
                            "copy {shared} into {}/{} as {stage_name}",
                            item.dest_account, item.region
                        );
                        self.step("copy-stage", detail, work).await?
                    }
                    _ => shared,
                };
                let tags = with_time(self.tags(ROLE_REPLICA));
                let create =
                    snapshots::copy(&dst, kind, &from, &names.replica, &item.dest_kms_key, &tags);
                let work = self.ensure(&dst, &names.replica, create);
                let detail = format!(
                    "copy {from} into {}/{} as {} under {}",
                    dst.account_id, dst.region, names.replica, item.dest_kms_key
                );
                self.step("copy", detail, work).await?;
            }
            // Only once the replica is available: RDS can fail a copy whose source vanished.
            let detail = format!(
                "unshare and delete the transit snapshots in {}/{}",
                item.account_id, item.region
            );
            let work = self.cleanup(&src, stage.as_ref());
            self.step("cleanup", detail, work).await?;
        } else if !item.orphans.is_empty() {
            let detail = format!(
                "delete transit snapshots left in {}/{}",
                item.account_id, item.region
            );
            let work = self.cleanup(&src, None);
            self.step("cleanup", detail, work).await?;
        }
        if let Some(restore) = &item.restore {
            self.restore(factory, &dst, restore).await?;
        }
        if !item.prune.is_empty() {
            let detail = format!(
                "delete {} old replica(s) in {}/{}",
                item.prune.len(),
                dst.account_id,
                dst.region
            );
            let work = self.prune(&dst);
            self.step("prune", detail, work).await?;
        }
        Ok(())
    }

    /// Restores the replica (or finds its earlier restore), repoints the secret keeping its other keys,
    /// tags the instance it pointed at before as superseded, and deletes old restores.
    async fn restore(
        &self,
        factory: &ClientFactory,
        dst: &Scope<'_>,
        plan: &plan::RestorePlan,
    ) -> Result<(), StepError> {
        let item = self.item;
        let fail = |step: &str| {
            let step = step.to_string();
            move |e: AwsError| Box::new((step, e))
        };
        let replica = snapshots::find(dst, item.kind, &plan.from_snapshot)
            .await
            .map_err(fail("restore"))?
            .map(|f| f.arn)
            .unwrap_or_default();
        let mut tags = self.tags(plan::ROLE_RESTORE);
        tags.insert(crate::inventory::TAG_RESTORED_FROM.to_string(), replica);
        let spec = instances::RestoreSpec {
            instance_class: &plan.instance_class,
            subnet_group: plan.subnet_group.as_deref(),
            security_groups: &plan.security_groups,
            parameter_group: plan.parameter_group.as_deref(),
        };
        let find =
            |name: String| async move { instances::find_restored(dst, &name, plan.cluster).await };
        let restored = self
            .step(
                "restore",
                format!("restore {} as {}", plan.from_snapshot, plan.instance),
                async {
                    if plan.cluster {
                        if instances::find_cluster(dst, &plan.instance)
                            .await?
                            .is_none()
                        {
                            note(
                                &self.created,
                                format!("{}/{}/{}", dst.account_id, dst.region, plan.instance),
                            );
                        }
                        // Also adds the cluster's instance when an earlier run stopped before it.
                        instances::restore_cluster(
                            dst,
                            &plan.from_snapshot,
                            &plan.instance,
                            &plan.engine,
                            &spec,
                            &tags,
                        )
                        .await?;
                        instances::wait_cluster_available(
                            dst,
                            &plan.instance,
                            self.options.step_timeout,
                        )
                        .await?;
                    } else {
                        if instances::find(dst, &plan.instance).await?.is_none() {
                            instances::restore(
                                dst,
                                &plan.from_snapshot,
                                &plan.instance,
                                &spec,
                                &tags,
                            )
                            .await?;
                            note(
                                &self.created,
                                format!("{}/{}/{}", dst.account_id, dst.region, plan.instance),
                            );
                        }
                        instances::wait_available(dst, &plan.instance, self.options.step_timeout)
                            .await?;
                    }
                    find(plan.instance.clone()).await
                },
            )
            .await?;
        let Some(restored) = restored else {
            return Err(Box::new((
                "restore".to_string(),
                AwsError {
                    account_id: dst.account_id.to_string(),
                    region: dst.region.to_string(),
                    operation: "DescribeDBInstances".into(),
                    code: "Vanished".into(),
                    message: "the restored instance disappeared while rdsguard waited for it"
                        .into(),
                    resource: Some(plan.instance.clone()),
                },
            )));
        };
        if let Some(secret) = &plan.secret {
            let config = factory
                .config(dst.account_id, dst.region)
                .await
                .map_err(fail("repoint"))?;
            let client = crate::aws::secrets_client(&config);
            repoint::repoint_and_supersede(self, &client, dst, secret, &restored, plan.cluster)
                .await?;
        }
        if !plan.prune.is_empty() {
            let detail = format!(
                "delete {} earlier restore(s) in {}/{}",
                plan.prune.len(),
                dst.account_id,
                dst.region
            );
            self.step("prune-restores", detail, async {
                for name in &plan.prune {
                    let Some(old) = find(name.clone()).await? else {
                        continue;
                    };
                    // Checked again at the moment of deletion.
                    let ours = old.tags.get(TAG_MANAGED).map(String::as_str) == Some("true")
                        && old.tags.get(TAG_SOURCE_ARN) == Some(&item.source_arn);
                    if !ours || old.deletion_protection || old.identifier == restored.identifier {
                        warn!(instance = %name, "not pruned: not rdsguard's restore of this source, protected, or current");
                        continue;
                    }
                    if plan.cluster {
                        instances::delete_cluster(dst, name).await?;
                    } else {
                        instances::delete(dst, name).await?;
                    }
                    note(&self.deleted, format!("{}/{}/{name}", dst.account_id, dst.region));
                }
                Ok(())
            })
            .await?;
        }
        Ok(())
    }

    async fn cleanup(&self, src: &Scope<'_>, stage: Option<&Scope<'_>>) -> Result<(), AwsError> {
        let item = self.item;
        let kind = item.kind;
        let mut transit: Vec<String> = Vec::new();
        if item.copy {
            transit.push(item.names.snapshot.clone());
            transit.extend(item.names.reencrypted.clone());
        }
        transit.extend(item.orphans.iter().cloned());
        for name in transit {
            let Some(found) = snapshots::find(src, kind, &name).await? else {
                continue;
            };
            // Only what rdsguard made for this source.
            if found.tags.get(TAG_SOURCE_ARN) != Some(&item.source_arn)
                || found.tags.get(TAG_MANAGED).map(String::as_str) != Some("true")
            {
                continue;
            }
            snapshots::share(src, kind, &name, &item.dest_account, false).await?;
            snapshots::delete(src, kind, &name).await?;
            note(
                &self.deleted,
                format!("{}/{}/{name}", src.account_id, src.region),
            );
        }
        if let (Some(stage), Some(name)) = (stage, &item.names.stage) {
            if snapshots::find(stage, kind, name).await?.is_some() {
                snapshots::delete(stage, kind, name).await?;
                note(
                    &self.deleted,
                    format!("{}/{}/{name}", stage.account_id, stage.region),
                );
            }
        }
        Ok(())
    }

    async fn prune(&self, dst: &Scope<'_>) -> Result<(), AwsError> {
        let item = self.item;
        for name in &item.prune {
            let Some(found) = snapshots::find(dst, item.kind, name).await? else {
                continue;
            };
            // Checked again at the moment of deletion: rdsguard's, and this source's.
            if found.tags.get(TAG_MANAGED).map(String::as_str) != Some("true")
                || found.tags.get(TAG_SOURCE_ARN) != Some(&item.source_arn)
            {
                warn!(snapshot = %name, "not pruned: not tagged as rdsguard's replica of this source");
                continue;
            }
            snapshots::delete(dst, item.kind, name).await?;
            note(
                &self.deleted,
                format!("{}/{}/{name}", dst.account_id, dst.region),
            );
        }
        Ok(())
    }
}
