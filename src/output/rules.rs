//! `rdsguard rules check`: the warnings of a rule set (and its expired exemptions), then, unless
//! quiet, what it holds.

use std::io::{self, Write};

use chrono::NaiveDate;

use crate::error::Error;
use crate::rules::RuleSet;

/// Warnings always; the `ok:` line and one line per rule unless `quiet`. `today` decides which
/// exemptions have expired.
pub fn write(set: &RuleSet, today: NaiveDate, quiet: bool, out: &mut dyn Write) -> io::Result<()> {
    for warning in &set.warnings {
        writeln!(out, "warning: {warning}")?;
    }
    for exemption in set.exemptions.iter().filter(|e| e.is_expired(today)) {
        writeln!(
            out,
            "warning: {}: exemption for {} expired on {}: it no longer applies",
            exemption.location,
            exemption.arn,
            exemption.expires.map(|d| d.to_string()).unwrap_or_default()
        )?;
    }
    if !quiet {
        writeln!(
            out,
            "ok: {} rule(s), {} exemption(s) in {} file(s); sha256 {}",
            set.rules.len(),
            set.exemptions.len(),
            set.files.len(),
            set.sha256
        )?;
        for rule in &set.rules {
            writeln!(
                out,
                "  {:<24} {}  max_age {}  -> {}",
                rule.id, rule.location, rule.max_age, rule.destination.account
            )?;
        }
    }
    Ok(())
}

/// Prints [`write()`] on stdout.
pub fn print(set: &RuleSet, today: NaiveDate, quiet: bool) -> Result<(), Error> {
    super::stdout::print(|out| write(set, today, quiet, out))
}
