//! `rdsguard drill`: restore drills. Per database whose rule has `drill` and whose last successful
//! drill is older than `drill.every` ([`plan`]), restore its newest replica in the destination account
//! (never the source account), time the restore with AWS's clock, run the optional probe, and always
//! delete the drill instance ([`run`]); then write the evidence as tags on the drilled replica, where
//! the next audit's `restore-tested` reads it, and as `drill.json`.
//!
//! Every drill is journaled (`drill-journal.jsonl`, the same append-and-flush file as remediation's
//! journal) before its instance is made, so `rdsguard drill --resume RUN_DIR` after a kill finds and
//! deletes any drill instance left behind.

pub mod plan;
pub(crate) mod run;

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};

use crate::aws::ClientFactory;
use crate::inventory::AwsError;
use crate::remediate::journal::Journal;
pub use plan::{Item, Plan, Skipped};

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
    pub instance: String,
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
    /// The drill instance is gone (deleted by this drill, or never made).
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
    pub max_parallel: usize,
    /// The longest wait for the drill instance to become available, and to be deleted.
    pub step_timeout: Duration,
    /// How often the drill instance is described while it is restored.
    pub poll: Duration,
}

/// Runs every drill, at most `max_parallel` drill instances at once; one failing does not stop the
/// others.
pub async fn execute(
    factory: &ClientFactory,
    items: &[Item],
    run_id: &str,
    journal: &Journal,
    options: &Options,
) -> Vec<DrillResult> {
    if let Err(e) = journal.plans(run_id, items) {
        tracing::warn!("cannot write the journal {}: {e}", journal.path().display());
    }
    stream::iter(items)
        .map(|item| run::drill(factory, item, run_id, journal, options))
        .buffer_unordered(options.max_parallel.max(1))
        .collect()
        .await
}

/// The drills of an interrupted run's journal whose instance was not deleted (no `done` of their
/// `delete` step): their instances are looked for and deleted.
pub fn unfinished(entries: &[Entry]) -> (Option<String>, Vec<Item>) {
    let mut run = None;
    let mut items: Vec<Item> = Vec::new();
    for entry in entries {
        match entry {
            Entry::Plan { run_id, item, .. } => {
                run.get_or_insert_with(|| run_id.clone());
                items.retain(|i| i.source_arn != item.source_arn);
                items.push((**item).clone());
            }
            Entry::Done {
                source_arn, step, ..
            } if step == run::STEP_DELETE => {
                items.retain(|i| &i.source_arn != source_arn);
            }
            _ => {}
        }
    }
    (run, items)
}

/// `--resume`: deletes what the unfinished drills may have left, at most `max_parallel` at once.
pub async fn resume(
    factory: &ClientFactory,
    items: &[Item],
    journal: &Journal,
    options: &Options,
) -> Vec<DrillResult> {
    stream::iter(items)
        .map(|item| run::clean_up(factory, item, journal, options))
        .buffer_unordered(options.max_parallel.max(1))
        .collect()
        .await
}
