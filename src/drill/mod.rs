//! `rdsguard drill`: restore drills. Per database whose rule has `drill` and whose last successful
//! drill is older than `drill.every` ([`plan`]), restore its newest replica in the destination account
//! (never the source account): a DB instance, or an Aurora cluster and its one instance, from a
//! manual snapshot through RDS or from an AWS Backup recovery point with a restore job
//! ([`target`]); time the restore with AWS's clock, run the optional probe ([`probe`]), and always
//! delete what the drill made ([`run`]); then write the evidence as tags on the drilled replica, where
//! the next audit's `restore-tested` reads it, and as `drill.json`.
//!
//! Every drill is journaled (`drill-journal.jsonl`, the same append-and-flush file as remediation's
//! journal) before its database is made, so `rdsguard drill --resume RUN_DIR` after a kill finds and
//! deletes any drill database left behind (after the restore job it started, if any, has ended).

pub mod plan;
mod probe;
pub(crate) mod run;
mod target;

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::inventory::AwsError;
use crate::remediate::journal::{each, Run};
pub use plan::{BackupRestore, Item, Plan, Skipped};

/// The drill journal's file in the run folder.
pub const JOURNAL_FILE: &str = "drill-journal.jsonl";
/// The drill journal's schema.
pub const JOURNAL_SCHEMA: &str = "rdsguard.drill-journal/v1";
/// The schema of `drill.json`.
pub const SCHEMA: &str = "rdsguard.drill/v1";

/// One line of the drill journal: the remediation journal's entries, with drill items.
pub type Entry = crate::remediate::journal::Entry<Item>;

/// What the probe did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    /// Its exit code; `None` when it was killed or could not start.
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub passed: bool,
}

/// The evidence of one drill, as `drill.json` carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrillResult {
    pub source_arn: String,
    pub identifier: String,
    pub rule: String,
    pub replica_arn: String,
    pub dest_account: String,
    pub dest_region: String,
    /// The drill instance, or the drill cluster (whose instance is `<cluster>-1`).
    pub instance: String,
    /// What was restored: `db-instance` or `db-cluster`.
    #[serde(default = "plan::default_kind")]
    pub kind: crate::inventory::SourceKind,
    /// The AWS Backup restore job, for a recovery point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_job: Option<String>,
    /// AWS's time when it accepted the restore (`Date` of its answer).
    pub restore_started_at: Option<DateTime<Utc>>,
    /// AWS's time when it first described the drill instance as `available`.
    pub available_at: Option<DateTime<Utc>>,
    pub restore_seconds: Option<i64>,
    pub rto_seconds: i64,
    pub within_rto: Option<bool>,
    pub endpoint: Option<String>,
    pub port: Option<u16>,
    pub probe: Option<Probe>,
    /// `passed`, `probe-failed`, `restore-failed`, or `interrupted` (resumed after a kill).
    pub result: String,
    /// The drill database is gone (deleted by this drill, or never made).
    pub deleted: bool,
    /// The evidence tags were written on the replica.
    pub evidence_written: bool,
    pub errors: Vec<AwsError>,
}

impl DrillResult {
    /// Passed, within the RTO.
    pub fn passed(&self) -> bool {
        self.result == crate::tags::DRILL_PASSED && self.within_rto == Some(true)
    }
}

/// `drill.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub schema: String,
    pub run_id: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub dry_run: bool,
    pub resumed: bool,
    pub plan: Plan,
    pub drills: Vec<DrillResult>,
    pub errors: Vec<AwsError>,
}

pub struct Options {
    /// Told of each drill's steps and its end (the terminal's progress display, the same as
    /// remediation's).
    pub progress: Option<std::sync::Arc<dyn crate::remediate::Progress + Send + Sync>>,
    pub max_parallel: usize,
    /// The longest wait for the drill instance to become available, and to be deleted.
    pub step_timeout: Duration,
    /// The longest pause between two looks at the drill database while it is restored (the first
    /// look is at once, the next after 2 s, the pause doubling up to this).
    pub poll: Duration,
}

/// Runs every drill, at most `max_parallel` drill instances at once; one failing does not stop the
/// others.
pub async fn execute(run: Run<'_>, items: &[Item], options: &Options) -> Vec<DrillResult> {
    let drill = |item| run::drill(run, item, options);
    run.all(items, options.max_parallel, drill).await
}

/// A drill of an interrupted run whose database was not deleted (no `done` of its `delete` step),
/// with what its journal says of its restore.
#[derive(Debug, Clone, PartialEq)]
pub struct Unfinished {
    pub item: Item,
    /// When its restore step started (AWS may have accepted it, or not).
    pub restore_started: Option<DateTime<Utc>>,
    /// The restore job AWS Backup accepted, when the journal recorded it.
    pub restore_job: Option<String>,
}

/// The drills of an interrupted run's journal whose database was not deleted: their databases are
/// looked for and deleted.
pub fn unfinished(entries: &[Entry]) -> (Option<String>, Vec<Unfinished>) {
    let mut run = None;
    let mut items: Vec<Unfinished> = Vec::new();
    for entry in entries {
        match entry {
            Entry::Plan { run_id, item, .. } => {
                run.get_or_insert_with(|| run_id.clone());
                items.retain(|u| u.item.source_arn != item.source_arn);
                items.push(Unfinished {
                    item: (**item).clone(),
                    restore_started: None,
                    restore_job: None,
                });
            }
            Entry::Start {
                at,
                source_arn,
                step,
                ..
            } if step == run::STEP_RESTORE => {
                if let Some(u) = items.iter_mut().find(|u| &u.item.source_arn == source_arn) {
                    u.restore_started = Some(*at);
                }
            }
            Entry::Done {
                source_arn,
                step,
                detail,
                ..
            } if step == run::STEP_RESTORE => {
                if let Some(u) = items.iter_mut().find(|u| &u.item.source_arn == source_arn) {
                    u.restore_job = run::restore_job_of(detail);
                }
            }
            Entry::Done {
                source_arn, step, ..
            } if step == run::STEP_DELETE => {
                items.retain(|u| &u.item.source_arn != source_arn);
            }
            _ => {}
        }
    }
    (run, items)
}

/// `--resume`: deletes what the unfinished drills may have left, at most `max_parallel` at once.
/// `run.id`: the interrupted run's (the tags of what it made).
pub async fn resume(
    run: Run<'_>,
    unfinished: &[Unfinished],
    options: &Options,
) -> Vec<DrillResult> {
    let clean_up = |u| run::clean_up(run, u, options);
    each(unfinished, options.max_parallel, clean_up).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(source: &str) -> Item {
        serde_json::from_value(serde_json::json!({
            "source_arn": source, "identifier": "orders", "rule": "prod",
            "dest_account": "222222222222", "dest_region": "us-east-1",
            "replica_arn": "arn:aws:rds:us-east-1:222222222222:snapshot:awsbackup:copyjob-1",
            "instance": "rdsguard-drill-orders-20261124120000-abcd1234",
            "instance_class": "db.t3.micro", "subnet_group": null, "security_groups": [],
            "probe": null, "probe_timeout_seconds": 600, "secret_name": null,
            "rto_seconds": 7200, "why": "due"
        }))
        .expect("an item")
    }

    /// A resumed run knows, per drill not deleted, when its restore started and which AWS Backup
    /// restore job AWS accepted (the journal's `done` of the restore step names it).
    #[test]
    fn the_journal_says_which_drills_to_clean_up_and_their_restore_jobs() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-24T12:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .expect("time");
        let (a, b, c) = ("arn:a", "arn:b", "arn:c");
        let step = |source: &str, step: &str, detail: &str, done: bool| {
            let (source_arn, step, detail) = (source.into(), step.into(), detail.into());
            match done {
                true => Entry::Done {
                    at,
                    source_arn,
                    step,
                    detail,
                },
                false => Entry::Start {
                    at,
                    source_arn,
                    step,
                    detail,
                },
            }
        };
        let plan = |source: &str| Entry::Plan {
            at,
            run_id: "run-1".into(),
            item: Box::new(item(source)),
        };
        let entries = vec![
            plan(a),
            plan(b),
            plan(c),
            step(a, run::STEP_RESTORE, "restore ...", false),
            step(
                a,
                run::STEP_RESTORE,
                "restore job 6f1c-77 accepted at 2026-11-24T12:00:01Z",
                true,
            ),
            step(b, run::STEP_RESTORE, "restore ...", false),
            step(c, run::STEP_RESTORE, "restore ...", false),
            step(
                c,
                run::STEP_RESTORE,
                "restore accepted at 2026-11-24T12:00:01Z",
                true,
            ),
            step(c, run::STEP_DELETE, "gone", true),
        ];
        let (run, left) = unfinished(&entries);
        assert_eq!(run.as_deref(), Some("run-1"));
        let summary: Vec<(&str, Option<&str>, bool)> = left
            .iter()
            .map(|u| {
                let job = u.restore_job.as_deref();
                (
                    u.item.source_arn.as_str(),
                    job,
                    u.restore_started == Some(at),
                )
            })
            .collect();
        assert_eq!(summary, [(a, Some("6f1c-77"), true), (b, None, true)]);
    }
}
