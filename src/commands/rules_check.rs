//! `rdsguard rules check`: load and validate rule files.

use std::path::PathBuf;

use chrono::{NaiveDate, Utc};

use crate::error::Error;
use crate::rules::{self, RuleSet};

/// The validated rules (every problem is an error), and the day their exemptions are judged on.
pub fn run(paths: &[PathBuf]) -> Result<(RuleSet, NaiveDate), Error> {
    let set = rules::load(paths)?;
    Ok((set, Utc::now().date_naive()))
}
