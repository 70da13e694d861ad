//! The remediation plan and its results, for the terminal.

use std::io::{self, Write};

use crate::error::Error;
use crate::remediate::plan::Plan;
use crate::remediate::ItemResult;

pub fn write_plan(plan: &Plan, dry_run: bool, out: &mut dyn Write) -> io::Result<()> {
    let mode = if dry_run {
        "dry run: nothing will change"
    } else {
        "executing"
    };
    writeln!(
        out,
        "Remediation plan ({mode}): {} database(s) to repair, {} left alone",
        plan.items.len(),
        plan.blocked.len()
    )?;
    for item in &plan.items {
        writeln!(
            out,
            "  {} (rule {}; failing: {})",
            item.source_arn,
            item.rule,
            item.reasons.join(", ")
        )?;
        // The item's steps in the order they run, one line per thing each changes.
        let lines = item
            .steps()
            .into_iter()
            .flat_map(|step| step.describe(item));
        for (n, line) in lines.enumerate() {
            writeln!(out, "    {}. {line}", n + 1)?;
        }
        for note in &item.notes {
            writeln!(out, "    note: {note}")?;
        }
    }
    for blocked in &plan.blocked {
        writeln!(
            out,
            "  {} NOT REPAIRED: {}",
            blocked.source_arn, blocked.reason
        )?;
    }
    writeln!(out)
}

pub fn write_results(results: &[ItemResult], out: &mut dyn Write) -> io::Result<()> {
    let failed = results.iter().filter(|r| !r.ok).count();
    writeln!(
        out,
        "Remediation: {} repaired, {failed} failed",
        results.len() - failed
    )?;
    for result in results {
        match (&result.failed_step, &result.error) {
            (Some(step), Some(error)) => writeln!(
                out,
                "  FAILED {} at step {step}: {} {} in {}/{}: {}",
                result.source_arn,
                error.operation,
                error.code,
                error.account_id,
                error.region,
                error.message
            )?,
            _ => writeln!(
                out,
                "  ok     {} (created {}, deleted {})",
                result.source_arn,
                result.created.len(),
                result.deleted.len()
            )?,
        }
    }
    writeln!(out)
}

/// Prints [`write_plan`] on stdout.
pub fn print_plan(plan: &Plan, dry_run: bool) -> Result<(), Error> {
    super::stdout::print(|out| write_plan(plan, dry_run, out))
}

/// Prints [`write_results`] on stdout.
pub fn print_results(results: &[ItemResult]) -> Result<(), Error> {
    super::stdout::print(|out| write_results(results, out))
}
