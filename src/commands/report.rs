//! `rdsguard report --from findings.json`: every run file but findings.json itself, rendered again.

use std::path::{Path, PathBuf};

use chrono::Utc;

use crate::error::Error;
use crate::report::v1::ReportV1;
use crate::run_dir::{prepare_out, write_outputs};

/// Renders the files into `out` (or beside `from`); returns their paths.
pub fn run(from: &Path, out: Option<&Path>) -> Result<Vec<PathBuf>, Error> {
    let report =
        ReportV1::read(from).map_err(|e| Error::Usage(format!("{}: {e}", from.display())))?;
    let dir = match out {
        Some(dir) => prepare_out(Some(dir), Utc::now())?,
        None => from
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(".")),
    };
    write_outputs(&report, &dir, |name| name != "findings.json")
}
