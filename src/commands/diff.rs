//! `rdsguard diff OLD NEW`: the drift between two saved reports.

use crate::cli::DiffArgs;
use crate::error::Error;
use crate::report::drift::{self, Drift};
use crate::rules::parse_duration;
use crate::run_dir::load_report;

pub fn run(args: &DiffArgs) -> Result<Drift, Error> {
    let threshold = parse_duration(&args.drift_age_threshold)
        .map_err(|e| Error::Usage(format!("--drift-age-threshold: {e}")))?
        .seconds;
    let (old, old_path) = load_report(&args.old)?;
    let (new, _) = load_report(&args.new)?;
    Ok(drift::compare(
        &old,
        &new,
        Some(old_path.display().to_string()),
        threshold,
    ))
}
