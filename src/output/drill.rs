//! `rdsguard drill`: the plan and the drills' results, for the terminal.

use std::io::{self, Write};
use std::path::Path;

use crate::drill::{DrillResult, Plan};
use crate::error::Error;
use crate::rules::format_seconds;

pub fn write_plan(plan: &Plan, dry_run: bool, out: &mut dyn Write) -> io::Result<()> {
    let verb = if dry_run { "would drill" } else { "drilling" };
    writeln!(out, "{verb} {} database(s)", plan.items.len())?;
    for item in &plan.items {
        writeln!(
            out,
            "  {} -> restore {} as {}/{}/{} ({}), rto {}: {}",
            item.source_arn,
            item.replica_arn,
            item.dest_account,
            item.dest_region,
            item.instance,
            item.instance_class,
            format_seconds(item.rto_seconds),
            item.why
        )?;
    }
    for skipped in &plan.skipped {
        writeln!(out, "  skipped {}: {}", skipped.source_arn, skipped.reason)?;
    }
    Ok(())
}

pub fn write_results(results: &[DrillResult], file: &Path, out: &mut dyn Write) -> io::Result<()> {
    for r in results {
        let verdict = if r.passed() { "PASS" } else { "FAIL" };
        let took = r
            .restore_seconds
            .map(format_seconds)
            .unwrap_or_else(|| "-".into());
        writeln!(
            out,
            "{verdict} {} ({}): restore {took} (rto {}), probe {}, instance {}{}",
            r.source_arn,
            r.result,
            format_seconds(r.rto_seconds),
            match &r.probe {
                None => "none".to_string(),
                Some(p) if p.timed_out => "timed out".to_string(),
                Some(p) => p
                    .exit_code
                    .map(|c| format!("exit {c}"))
                    .unwrap_or_else(|| "killed".into()),
            },
            r.instance,
            if r.deleted {
                " deleted"
            } else {
                " NOT DELETED"
            }
        )?;
        for e in &r.errors {
            writeln!(
                out,
                "  error: {}/{} {} {}: {}",
                e.account_id, e.region, e.operation, e.code, e.message
            )?;
        }
    }
    writeln!(out, "evidence: {}", file.display())
}

pub fn print_plan(plan: &Plan, dry_run: bool) -> Result<(), Error> {
    super::stdout::print(|out| write_plan(plan, dry_run, out))
}

pub fn print_results(results: &[DrillResult], file: &Path) -> Result<(), Error> {
    super::stdout::print(|out| write_results(results, file, out))
}
