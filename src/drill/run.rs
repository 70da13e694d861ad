//! One drill, in the destination account only: restore, wait, probe, delete (always), evidence.
//! Each step is journaled before and after it runs. What is made and unmade is [`super::target`]'s.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use tracing::{info, warn};

use super::{target, DrillResult, Entry, Item, Options, Unfinished};
use crate::aws::backup::jobs::JobScope;
use crate::aws::backup::restore;
use crate::aws::rds::write::drill as aws_drill;
use crate::aws::rds::Scope;
use crate::aws::ClientFactory;
use crate::inventory::AwsError;
use crate::remediate::journal::{Journal, Run};
use crate::remediate::Progress;
use crate::tags::{
    self, DRILL_PASSED, DRILL_PROBE_FAILED, DRILL_RESTORE_FAILED, ROLE_DRILL, TAG_DRILL,
    TAG_DRILL_AT, TAG_DRILL_RESTORE_SECONDS, TAG_DRILL_RESULT,
};

pub const STEP_RESTORE: &str = "restore";
pub const STEP_WAIT: &str = "wait";
pub const STEP_PROBE: &str = "probe";
pub const STEP_DELETE: &str = "delete";
pub const STEP_EVIDENCE: &str = "evidence";

/// How the journal's `done` of a restore step names the AWS Backup restore job it started.
const RESTORE_JOB: &str = "restore job ";

/// The restore job a restore step's `done` detail names, if any.
pub fn restore_job_of(detail: &str) -> Option<String> {
    let rest = detail.strip_prefix(RESTORE_JOB)?;
    rest.split_whitespace().next().map(str::to_string)
}

/// The tags of every database a drill makes.
fn drill_tags(item: &Item, run_id: &str) -> BTreeMap<String, String> {
    let mut tags = tags::provenance(&item.source_arn, ROLE_DRILL, run_id);
    tags.insert(TAG_DRILL.to_string(), item.replica_arn.clone());
    tags
}

fn result_of(item: &Item) -> DrillResult {
    DrillResult {
        source_arn: item.source_arn.clone(),
        identifier: item.identifier.clone(),
        rule: item.rule.clone(),
        replica_arn: item.replica_arn.clone(),
        dest_account: item.dest_account.clone(),
        dest_region: item.dest_region.clone(),
        instance: item.instance.clone(),
        kind: item.kind,
        restore_job: None,
        restore_started_at: None,
        available_at: None,
        restore_seconds: None,
        rto_seconds: item.rto_seconds,
        within_rto: None,
        endpoint: None,
        port: None,
        probe: None,
        result: DRILL_RESTORE_FAILED.to_string(),
        deleted: false,
        evidence_written: false,
        errors: Vec::new(),
    }
}

/// A drill's place: its item, its journal, and its clients in the vault account and region.
pub(super) struct Ctx<'a> {
    pub item: &'a Item,
    journal: &'a Journal,
    pub scope: Scope<'a>,
    backup: &'a aws_sdk_backup::Client,
    /// The terminal's progress display, when it draws (else each step is logged).
    progress: Option<&'a (dyn Progress + Send + Sync)>,
}

/// The clients of a drill, in its vault account and region.
struct Clients {
    rds: aws_sdk_rds::Client,
    backup: aws_sdk_backup::Client,
}

impl<'a> Ctx<'a> {
    fn new(
        item: &'a Item,
        journal: &'a Journal,
        clients: &'a Clients,
        options: &'a Options,
    ) -> Ctx<'a> {
        Ctx {
            item,
            journal,
            progress: options.progress.as_deref().filter(|p| p.enabled()),
            scope: Scope {
                client: &clients.rds,
                account_id: &item.dest_account,
                region: &item.dest_region,
            },
            backup: &clients.backup,
        }
    }

    /// AWS Backup's calls in the vault account and region.
    pub fn jobs(&self) -> JobScope<'_> {
        JobScope {
            client: self.backup,
            account_id: &self.item.dest_account,
            region: &self.item.dest_region,
        }
    }

    /// A failed wait for the drill database.
    pub fn wait_error(&self, code: &str, message: String) -> AwsError {
        AwsError {
            account_id: self.item.dest_account.clone(),
            region: self.item.dest_region.clone(),
            operation: match self.item.is_cluster() {
                true => "WaitDBClusterAvailable",
                false => "WaitDBInstanceAvailable",
            }
            .into(),
            code: code.into(),
            message,
            resource: Some(self.item.instance.clone()),
        }
    }

    fn record(&self, entry: Entry) {
        if let Err(e) = self.journal.append(&entry) {
            warn!(
                "cannot write the journal {}: {e}",
                self.journal.path().display()
            );
        }
    }

    fn start(&self, step: &str, detail: String) {
        match self.progress {
            Some(p) => p.update(&self.item.source_arn, step),
            None => info!(source = %self.item.identifier, step, "{detail}"),
        }
        self.record(Entry::Start {
            at: Utc::now(),
            source_arn: self.item.source_arn.clone(),
            step: step.to_string(),
            detail,
        });
    }

    fn done(&self, step: &str, detail: String) {
        self.record(Entry::Done {
            at: Utc::now(),
            source_arn: self.item.source_arn.clone(),
            step: step.to_string(),
            detail,
        });
    }

    /// The drill's last line on the progress display: its result, how long the restore took, and
    /// whether what it made is gone.
    fn ended(&self, out: &DrillResult) {
        let Some(p) = self.progress else {
            return;
        };
        let took = out
            .restore_seconds
            .map(|s| format!(" in {}", crate::rules::format_seconds(s)))
            .unwrap_or_default();
        let left = if out.deleted { "" } else { ", NOT deleted" };
        p.update(
            &self.item.source_arn,
            &format!("{}{took}{left}", out.result),
        );
    }

    fn failed(&self, step: &str, error: &AwsError) {
        match self.progress {
            Some(p) => p.update(
                &self.item.source_arn,
                &format!("FAILED at {step}: {}", error.code),
            ),
            None => {
                warn!(source = %self.item.identifier, step, code = %error.code, "drill step failed: {}", error.message)
            }
        }
        self.record(Entry::Failed {
            at: Utc::now(),
            source_arn: self.item.source_arn.clone(),
            step: step.to_string(),
            error: error.clone(),
        });
    }
}

async fn connect(factory: &ClientFactory, item: &Item) -> Result<Clients, AwsError> {
    let config = factory
        .config(&item.dest_account, &item.dest_region)
        .await?;
    let (account, region) = (&item.dest_account, &item.dest_region);
    Ok(Clients {
        rds: crate::aws::rds_client(&config, account, region),
        backup: crate::aws::backup_client(&config, account, region),
    })
}

/// Runs one drill. What the drill made is deleted whatever happened after the restore call.
pub(crate) async fn drill(run: Run<'_>, item: &Item, options: &Options) -> DrillResult {
    let (run_id, journal) = (run.id, run.journal);
    let mut out = result_of(item);
    let clients = match connect(run.factory, item).await {
        Ok(clients) => clients,
        Err(error) => {
            out.deleted = true;
            out.errors.push(error);
            return out;
        }
    };
    let ctx = Ctx::new(item, journal, &clients, options);
    let mut last_seen: Option<DateTime<Utc>> = None;
    restore_and_probe(&ctx, run_id, options, &mut out, &mut last_seen).await;
    let job = out.restore_job.clone();
    // What this drill's restore job made under the drill's name is the drill's, tagged or not yet.
    let tags = drill_tags(item, run_id);
    let adopt = item.backup.is_some().then_some(&tags);
    delete(&ctx, options, job.into_iter().collect(), adopt, &mut out).await;
    evidence(&ctx, &mut out, last_seen).await;
    ctx.ended(&out);
    out
}

/// Restore, wait until available, probe: fills `out` (its result stays `restore-failed` unless the
/// restore became available).
async fn restore_and_probe(
    ctx: &Ctx<'_>,
    run_id: &str,
    options: &Options,
    out: &mut DrillResult,
    last_seen: &mut Option<DateTime<Utc>>,
) {
    let item = ctx.item;
    let tags = drill_tags(item, run_id);
    let how = match (&item.backup, item.is_cluster()) {
        (Some(_), _) => "with an AWS Backup restore job",
        (None, true) => "as an Aurora cluster",
        (None, false) => "as a DB instance",
    };
    ctx.start(
        STEP_RESTORE,
        format!(
            "restore {} into {} {how} ({}, not publicly accessible)",
            item.replica_arn, item.instance, item.instance_class
        ),
    );
    let started = match target::start(ctx, &tags).await {
        Ok(started) => started,
        Err(error) => {
            ctx.failed(STEP_RESTORE, &error);
            out.errors.push(error);
            return;
        }
    };
    out.restore_started_at = started.at;
    out.restore_job = started.job.clone();
    *last_seen = started.at;
    let job = match &started.job {
        Some(job) => format!("{RESTORE_JOB}{job} "),
        None => "restore ".to_string(),
    };
    ctx.done(
        STEP_RESTORE,
        format!("{job}accepted at {}", show(started.at)),
    );

    ctx.start(
        STEP_WAIT,
        format!("wait until {} is available", item.instance),
    );
    let job = started.job.as_deref();
    let available = match target::wait_available(ctx, options, job, &tags, last_seen).await {
        Ok(found) => found,
        Err(error) => {
            ctx.failed(STEP_WAIT, &error);
            out.errors.push(error);
            return;
        }
    };
    out.available_at = *last_seen;
    out.restore_seconds = match (started.at, *last_seen) {
        (Some(start), Some(end)) => Some((end - start).num_seconds().max(0)),
        _ => None,
    };
    out.within_rto = out.restore_seconds.map(|s| s <= item.rto_seconds);
    out.endpoint = available.host.clone();
    out.port = available.port;
    ctx.done(
        STEP_WAIT,
        format!(
            "available at {}, after {}",
            show(*last_seen),
            out.restore_seconds
                .map(crate::rules::format_seconds)
                .unwrap_or_else(|| "an unknown time".into())
        ),
    );
    out.result = DRILL_PASSED.to_string();

    if let Some(command) = &item.probe {
        ctx.start(
            STEP_PROBE,
            format!("run the probe against {}", item.instance),
        );
        let probe = super::probe::run(item, command, &available).await;
        let detail = match (probe.exit_code, probe.timed_out) {
            (_, true) => format!("timed out after {}s", item.probe_timeout_seconds),
            (Some(code), _) => format!("exit code {code}"),
            (None, _) => "could not run, or was killed".to_string(),
        };
        if !probe.passed {
            out.result = DRILL_PROBE_FAILED.to_string();
        }
        ctx.done(STEP_PROBE, detail);
        out.probe = Some(probe);
    }
}

/// Deletes what the drill made (see [`target::delete`]), once the AWS Backup restore jobs it may
/// have started (`jobs`) have ended: a job still running would make its database after the delete.
/// `adopt`: the drill's tags, given to an untagged database a restore job made under its name.
async fn delete(
    ctx: &Ctx<'_>,
    options: &Options,
    jobs: Vec<String>,
    adopt: Option<&BTreeMap<String, String>>,
    out: &mut DrillResult,
) {
    ctx.start(
        STEP_DELETE,
        format!("delete {} (no final snapshot)", ctx.item.instance),
    );
    let deleted = async {
        let scope = ctx.jobs();
        for job in &jobs {
            match restore::wait(&scope, job, options.step_timeout).await {
                Err(error) if error.code == "StepTimeout" => return Err(error),
                // A failed job made nothing; any other answer: what it made is looked for below.
                _ => {}
            }
        }
        target::delete(ctx, options, adopt).await
    }
    .await;
    match deleted {
        Ok(detail) => {
            out.deleted = true;
            ctx.done(STEP_DELETE, detail);
        }
        Err(error) => {
            ctx.failed(STEP_DELETE, &error);
            out.errors.push(error);
        }
    }
}

/// Writes the evidence tags on the drilled replica (only when a restore was tried and its outcome is
/// known: an interrupted drill leaves none).
async fn evidence(ctx: &Ctx<'_>, out: &mut DrillResult, last_seen: Option<DateTime<Utc>>) {
    let at = match out.available_at.or(last_seen) {
        Some(at) => Some(at),
        None => aws_drill::look(&ctx.scope, &ctx.item.instance)
            .await
            .ok()
            .and_then(|(_, at)| at),
    };
    let at = at.unwrap_or_else(Utc::now);
    let mut tags = BTreeMap::new();
    tags.insert(
        TAG_DRILL_AT.to_string(),
        at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    );
    if let Some(seconds) = out.restore_seconds {
        tags.insert(TAG_DRILL_RESTORE_SECONDS.to_string(), seconds.to_string());
    }
    tags.insert(TAG_DRILL_RESULT.to_string(), out.result.clone());
    ctx.start(
        STEP_EVIDENCE,
        format!("tag {} with the drill's evidence", ctx.item.replica_arn),
    );
    match aws_drill::add_tags(&ctx.scope, &ctx.item.replica_arn, &tags).await {
        Ok(()) => {
            out.evidence_written = true;
            ctx.done(
                STEP_EVIDENCE,
                format!("{} at {}", out.result, show(Some(at))),
            );
        }
        Err(error) => {
            ctx.failed(STEP_EVIDENCE, &error);
            out.errors.push(error);
        }
    }
}

/// `--resume`: deletes what an interrupted drill may have left (only a drill database, or one an
/// AWS Backup restore job of this drill made under its name), after the restore jobs it may have
/// started have ended, and writes no evidence: the drill's outcome is unknown.
pub(crate) async fn clean_up(
    run: Run<'_>,
    unfinished: &Unfinished,
    options: &Options,
) -> DrillResult {
    let item = &unfinished.item;
    let mut out = result_of(item);
    out.result = "interrupted".to_string();
    out.restore_job = unfinished.restore_job.clone();
    let clients = match connect(run.factory, item).await {
        Ok(clients) => clients,
        Err(error) => {
            out.errors.push(error);
            return out;
        }
    };
    let ctx = Ctx::new(item, run.journal, &clients, options);
    let jobs = match restore_jobs(&ctx, unfinished).await {
        Ok(jobs) => jobs,
        Err(error) => {
            ctx.failed(STEP_DELETE, &error);
            out.errors.push(error);
            return out;
        }
    };
    let tags = drill_tags(item, run.id);
    let adopt = item.backup.is_some().then_some(&tags);
    delete(&ctx, options, jobs, adopt, &mut out).await;
    if out.deleted {
        ctx.done(
            STEP_EVIDENCE,
            "interrupted: no evidence written".to_string(),
        );
    }
    ctx.ended(&out);
    out
}

/// The AWS Backup restore jobs an interrupted drill may have started: the one its journal names, or
/// (killed before AWS's answer was recorded) those of its recovery point started since its restore
/// step began.
async fn restore_jobs(ctx: &Ctx<'_>, unfinished: &Unfinished) -> Result<Vec<String>, AwsError> {
    if ctx.item.backup.is_none() {
        return Ok(Vec::new());
    }
    if let Some(job) = &unfinished.restore_job {
        return Ok(vec![job.clone()]);
    }
    let Some(started) = unfinished.restore_started else {
        return Ok(Vec::new());
    };
    // The journal's time is the machine's: measure back from AWS's own clock by the time elapsed
    // since, with five minutes of slack.
    let (_, aws_now) = aws_drill::look(&ctx.scope, &ctx.item.instance).await?;
    let elapsed = Utc::now() - started;
    let after = aws_now.unwrap_or_else(Utc::now) - elapsed - chrono::Duration::minutes(5);
    let jobs = restore::since(&ctx.jobs(), after).await?;
    Ok(jobs
        .into_iter()
        .filter(|j| j.recovery_point.as_deref() == Some(ctx.item.replica_arn.as_str()))
        .map(|j| j.id)
        .collect())
}

fn show(at: Option<DateTime<Utc>>) -> String {
    at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| "an unknown time".into())
}
