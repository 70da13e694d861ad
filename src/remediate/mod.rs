//! `audit --remediate`: for each failing source, snapshot -> re-encrypt under a shareable key if needed
//! -> share -> copy into the vault under its key -> clean up the transit snapshots -> restore and
//! repoint -> prune.
//!
//! - [`plan`] decides, purely, which sources get which work and every name up front.
//! - [`steps`] holds one file per step, and [`plan::Item::steps`], the one ordered list of an item's
//!   steps that the executor runs, the journal records and `--dry-run` prints.
//! - [`run`] is the in-process executor of one item; [`journal`] its record; [`tags`] every tag name and
//!   the ownership predicate.
//!
//! Every step first looks for its own earlier result by name (names are decided by the plan and kept in
//! the journal), so a run killed at any point and resumed finishes the work without duplicates; and
//! when the replica already exists, nothing before it is redone.

pub mod journal;
pub mod limits;
pub mod plan;
pub(crate) mod run;
pub mod sfn;
pub mod steps;
pub use crate::tags;

use std::sync::Arc;
use std::time::Duration;

use journal::Run;
use plan::Item;

/// Told of each source's step as it starts, fails, and of the source when it is done. Remediation owns
/// this trait and the terminal's display (`output::progress`) implements it, so `remediate` depends on
/// no output module.
pub trait Progress {
    /// Whether updates are shown; when they are not, each step is logged instead.
    fn enabled(&self) -> bool;
    /// The source `source_arn` is now at `step`: a step name, `done`, or `FAILED at STEP: CODE`
    /// (the Step Functions engine: the round it is in, `round N done`, `done`, `FAILED at STEP`,
    /// `still running (--resume)`, `not started (--resume)`).
    fn update(&self, source_arn: &str, step: &str);
}

pub struct Options {
    /// Told of each step as it starts and ends (the terminal's progress display).
    pub progress: Option<Arc<dyn Progress + Send + Sync>>,
    pub max_parallel: usize,
    /// The longest wait for one snapshot to become available.
    pub step_timeout: Duration,
    /// How the plan copies into another region.
    pub copy_path: plan::CopyPath,
}

pub use crate::report::remediation::ItemResult;

/// Runs every item, at most `max_parallel` sources at once; a failing source does not stop the others.
pub async fn execute(run: Run<'_>, items: &[Item], options: &Options) -> Vec<ItemResult> {
    // AWS's limit on cross-region copies in progress holds across items: one set of slots per run.
    let slots = limits::CopySlots::default();
    let repair = |item| run::item(run, item, options, &slots);
    run.all(items, options.max_parallel, repair).await
}
