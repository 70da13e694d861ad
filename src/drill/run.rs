//! One drill, in the destination account only: restore, wait, probe, delete (always), evidence.
//! Each step is journaled before and after it runs.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tracing::{info, warn};

use super::{DrillResult, Entry, Item, Options, Probe};
use crate::aws::rds::write::drill::{self as aws_drill, DrillSpec};
use crate::aws::rds::write::instances::{self, Instance};
use crate::aws::rds::Scope;
use crate::aws::ClientFactory;
use crate::inventory::AwsError;
use crate::remediate::journal::Journal;
use crate::tags::{
    self, DRILL_PASSED, DRILL_PROBE_FAILED, DRILL_RESTORE_FAILED, ROLE_DRILL, TAG_DRILL,
    TAG_DRILL_AT, TAG_DRILL_RESTORE_SECONDS, TAG_DRILL_RESULT, TAG_MANAGED, TAG_ROLE,
};

pub const STEP_RESTORE: &str = "restore";
pub const STEP_WAIT: &str = "wait";
pub const STEP_PROBE: &str = "probe";
pub const STEP_DELETE: &str = "delete";
pub const STEP_EVIDENCE: &str = "evidence";

/// How many times a failed delete is tried before it is reported.
const DELETE_ATTEMPTS: u32 = 3;

/// Whether an instance with these tags is a drill instance of rdsguard's: the only kind a drill
/// deletes.
pub fn is_drill_instance(tags: &BTreeMap<String, String>) -> bool {
    tags.contains_key(TAG_DRILL)
        && tags.get(TAG_MANAGED).map(String::as_str) == Some("true")
        && tags.get(TAG_ROLE).map(String::as_str) == Some(ROLE_DRILL)
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

struct Ctx<'a> {
    item: &'a Item,
    journal: &'a Journal,
    scope: Scope<'a>,
}

impl<'a> Ctx<'a> {
    /// A drill's context in the vault account and region, through `client`.
    fn new(item: &'a Item, journal: &'a Journal, client: &'a aws_sdk_rds::Client) -> Ctx<'a> {
        Ctx {
            item,
            journal,
            scope: Scope {
                client,
                account_id: &item.dest_account,
                region: &item.dest_region,
            },
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
        info!(source = %self.item.identifier, step, "{detail}");
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

    fn failed(&self, step: &str, error: &AwsError) {
        warn!(source = %self.item.identifier, step, code = %error.code, "drill step failed: {}", error.message);
        self.record(Entry::Failed {
            at: Utc::now(),
            source_arn: self.item.source_arn.clone(),
            step: step.to_string(),
            error: error.clone(),
        });
    }
}

async fn connect(factory: &ClientFactory, item: &Item) -> Result<aws_sdk_rds::Client, AwsError> {
    let config = factory
        .config(&item.dest_account, &item.dest_region)
        .await?;
    Ok(crate::aws::rds_client(
        &config,
        &item.dest_account,
        &item.dest_region,
    ))
}

/// Runs one drill. The drill instance is deleted whatever happened after the restore call.
pub(crate) async fn drill(
    factory: &ClientFactory,
    item: &Item,
    run_id: &str,
    journal: &Journal,
    options: &Options,
) -> DrillResult {
    let mut out = result_of(item);
    let client = match connect(factory, item).await {
        Ok(client) => client,
        Err(error) => {
            out.deleted = true;
            out.errors.push(error);
            return out;
        }
    };
    let ctx = Ctx::new(item, journal, &client);
    let mut last_seen: Option<DateTime<Utc>> = None;
    restore_and_probe(&ctx, run_id, options, &mut out, &mut last_seen).await;
    delete(&ctx, options, &mut out).await;
    evidence(&ctx, &mut out, last_seen).await;
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
    let mut tags = tags::provenance(&item.source_arn, ROLE_DRILL, run_id);
    tags.insert(TAG_DRILL.to_string(), item.replica_arn.clone());
    let spec = DrillSpec {
        instance_class: &item.instance_class,
        subnet_group: item.subnet_group.as_deref(),
        security_groups: &item.security_groups,
    };
    ctx.start(
        STEP_RESTORE,
        format!(
            "restore {} into {} ({}, not publicly accessible)",
            item.replica_arn, item.instance, item.instance_class
        ),
    );
    let started =
        match aws_drill::restore(&ctx.scope, &item.replica_arn, &item.instance, &spec, &tags).await
        {
            Ok(at) => at,
            Err(error) => {
                ctx.failed(STEP_RESTORE, &error);
                out.errors.push(error);
                return;
            }
        };
    out.restore_started_at = started;
    *last_seen = started;
    ctx.done(
        STEP_RESTORE,
        format!("restore accepted at {}", show(started)),
    );

    ctx.start(
        STEP_WAIT,
        format!("wait until {} is available", item.instance),
    );
    let available = match wait_available(ctx, options, last_seen).await {
        Ok(found) => found,
        Err(error) => {
            ctx.failed(STEP_WAIT, &error);
            out.errors.push(error);
            return;
        }
    };
    out.available_at = *last_seen;
    out.restore_seconds = match (started, *last_seen) {
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
        let probe = run_probe(item, command, &available).await;
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

/// Describes the drill instance until it is `available` (each answer's `Date` in `last_seen`), at
/// most `step_timeout`.
async fn wait_available(
    ctx: &Ctx<'_>,
    options: &Options,
    last_seen: &mut Option<DateTime<Utc>>,
) -> Result<Instance, AwsError> {
    let bound = tokio::time::Instant::now() + options.step_timeout;
    loop {
        let (found, at) = aws_drill::look(&ctx.scope, &ctx.item.instance).await?;
        if at.is_some() {
            *last_seen = at;
        }
        let status = found.as_ref().map(|f| f.status.clone()).unwrap_or_default();
        match found {
            Some(instance) if instance.status == "available" => return Ok(instance),
            _ if matches!(
                status.as_str(),
                "failed"
                    | "incompatible-restore"
                    | "incompatible-parameters"
                    | "incompatible-network"
                    | "storage-full"
                    | "inaccessible-encryption-credentials"
                    | "deleting"
            ) =>
            {
                return Err(wait_error(
                    ctx,
                    "WaiterFailure",
                    format!("the drill instance went to status {status}"),
                ));
            }
            _ => {}
        }
        if tokio::time::Instant::now() + options.poll > bound {
            return Err(wait_error(
                ctx,
                "WaiterTimeout",
                format!(
                    "the drill instance was not available within --step-timeout ({}s; last status: {})",
                    options.step_timeout.as_secs(),
                    if status.is_empty() { "not found" } else { &status }
                ),
            ));
        }
        tokio::time::sleep(options.poll).await;
    }
}

fn wait_error(ctx: &Ctx<'_>, code: &str, message: String) -> AwsError {
    AwsError {
        account_id: ctx.item.dest_account.clone(),
        region: ctx.item.dest_region.clone(),
        operation: "WaitDBInstanceAvailable".into(),
        code: code.into(),
        message,
        resource: Some(ctx.item.instance.clone()),
    }
}

/// Runs the probe with `sh -c`, the endpoint and the secret's name in its environment (never a
/// secret's value), its output discarded, killed after the rule's `probe_timeout`.
async fn run_probe(item: &Item, command: &str, instance: &Instance) -> Probe {
    let mut child = tokio::process::Command::new("sh");
    child
        .arg("-c")
        .arg(command)
        .env(
            "RDSGUARD_DRILL_HOST",
            instance.host.clone().unwrap_or_default(),
        )
        .env(
            "RDSGUARD_DRILL_PORT",
            instance.port.map(|p| p.to_string()).unwrap_or_default(),
        )
        .env("RDSGUARD_DRILL_INSTANCE", &item.instance)
        .env("RDSGUARD_DRILL_SOURCE_ARN", &item.source_arn)
        .env("RDSGUARD_DRILL_REPLICA_ARN", &item.replica_arn)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    match &item.secret_name {
        Some(name) => child.env("RDSGUARD_DRILL_SECRET_NAME", name),
        None => child.env_remove("RDSGUARD_DRILL_SECRET_NAME"),
    };
    let mut child = match child.spawn() {
        Ok(child) => child,
        Err(e) => {
            warn!(source = %item.identifier, "the probe could not start: {e}");
            return Probe {
                exit_code: None,
                timed_out: false,
                passed: false,
            };
        }
    };
    let limit = Duration::from_secs(item.probe_timeout_seconds.unsigned_abs());
    match tokio::time::timeout(limit, child.wait()).await {
        Ok(Ok(status)) => Probe {
            exit_code: status.code(),
            timed_out: false,
            passed: status.success(),
        },
        Ok(Err(_)) => Probe {
            exit_code: None,
            timed_out: false,
            passed: false,
        },
        Err(_) => {
            let _ = child.kill().await;
            Probe {
                exit_code: None,
                timed_out: true,
                passed: false,
            }
        }
    }
}

/// Deletes the drill instance, if it exists and carries rdsguard's drill tags (never anything
/// else), with no final snapshot; tries [`DELETE_ATTEMPTS`] times, then waits until it is gone.
async fn delete(ctx: &Ctx<'_>, options: &Options, out: &mut DrillResult) {
    ctx.start(
        STEP_DELETE,
        format!("delete {} (no final snapshot)", ctx.item.instance),
    );
    match delete_drill_instance(&ctx.scope, &ctx.item.instance, options).await {
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

async fn delete_drill_instance(
    scope: &Scope<'_>,
    identifier: &str,
    options: &Options,
) -> Result<String, AwsError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let tried = async {
            let Some(found) = instances::find(scope, identifier).await? else {
                return Ok(None);
            };
            if !is_drill_instance(&found.tags) {
                return Err(AwsError {
                    account_id: scope.account_id.to_string(),
                    region: scope.region.to_string(),
                    operation: "DeleteDBInstance".into(),
                    code: "NotADrillInstance".into(),
                    message: format!(
                        "{identifier} does not carry rdsguard's drill tags ({TAG_DRILL}, {TAG_MANAGED}=true, {TAG_ROLE}={ROLE_DRILL}): left alone"
                    ),
                    resource: Some(identifier.to_string()),
                });
            }
            if found.status != "deleting" {
                instances::delete(scope, identifier).await?;
            }
            Ok(Some(()))
        }
        .await;
        match tried {
            Ok(None) => return Ok(format!("{identifier} is gone")),
            Ok(Some(())) => break,
            Err(error) if error.code == "NotADrillInstance" || attempt >= DELETE_ATTEMPTS => {
                return Err(error)
            }
            Err(error) => {
                warn!(instance = identifier, code = %error.code, attempt, "delete failed, trying again: {}", error.message);
                tokio::time::sleep(Duration::from_secs(2 * u64::from(attempt))).await;
            }
        }
    }
    instances::wait_deleted(scope, identifier, options.step_timeout).await?;
    Ok(format!("{identifier} deleted"))
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

/// `--resume`: deletes the drill instance an interrupted drill may have left (only a drill
/// instance), and writes no evidence: the drill's outcome is unknown.
pub(crate) async fn clean_up(
    factory: &ClientFactory,
    item: &Item,
    journal: &Journal,
    options: &Options,
) -> DrillResult {
    let mut out = result_of(item);
    out.result = "interrupted".to_string();
    let client = match connect(factory, item).await {
        Ok(client) => client,
        Err(error) => {
            out.errors.push(error);
            return out;
        }
    };
    let ctx = Ctx::new(item, journal, &client);
    delete(&ctx, options, &mut out).await;
    if out.deleted {
        ctx.done(
            STEP_EVIDENCE,
            "interrupted: no evidence written".to_string(),
        );
    }
    out
}

fn show(at: Option<DateTime<Utc>>) -> String {
    at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| "an unknown time".into())
}
