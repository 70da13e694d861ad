//! The remediation plan and its results, for the terminal.

use std::io::{self, Write};
use std::path::Path;

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

/// What an engine tells of each database's changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Changes<'a> {
    /// The local engine journals what it created and deleted: each line counts them.
    Counted,
    /// Step Functions' executions do not report them (`created`/`deleted` are empty): the lines
    /// do not count what was not counted, and say where to look instead: the run's
    /// `executions.json`.
    NotReported { executions: &'a Path },
}

pub fn write_results(
    results: &[ItemResult],
    changes: Changes<'_>,
    out: &mut dyn Write,
) -> io::Result<()> {
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
            _ if changes != Changes::Counted => writeln!(out, "  ok     {}", result.source_arn)?,
            _ => writeln!(
                out,
                "  ok     {} (created {}, deleted {})",
                result.source_arn,
                result.created.len(),
                result.deleted.len()
            )?,
        }
    }
    if let Changes::NotReported { executions } = changes {
        if !results.is_empty() {
            writeln!(
                out,
                "Step Functions does not report what each database's steps created or deleted: \
                 {} lists the executions (their histories are in Step Functions), and the re-audit \
                 below is the after-state.",
                executions.display()
            )?;
        }
    }
    writeln!(out)
}

/// Prints [`write_plan`] on stdout.
pub fn print_plan(plan: &Plan, dry_run: bool) -> Result<(), Error> {
    super::stdout::print(|out| write_plan(plan, dry_run, out))
}

/// Prints [`write_results`] on stdout.
pub fn print_results(results: &[ItemResult], changes: Changes<'_>) -> Result<(), Error> {
    super::stdout::print(|out| write_results(results, changes, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repaired(created: usize) -> ItemResult {
        ItemResult {
            source_arn: "arn:aws:rds:us-east-1:111111111111:db:orders".into(),
            ok: true,
            failed_step: None,
            error: None,
            created: (0..created).map(|n| format!("x/y/{n}")).collect(),
            deleted: vec!["x/y/transit".into()],
        }
    }

    fn written(results: &[ItemResult], changes: Changes) -> String {
        let mut out = Vec::new();
        write_results(results, changes, &mut out).expect("written");
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn the_local_engine_counts_changes_and_step_functions_does_not_pretend_to() {
        let local = written(&[repaired(3)], Changes::Counted);
        assert!(
            local.contains(":db:orders (created 3, deleted 1)"),
            "{local}"
        );
        assert!(!local.contains("Step Functions"), "{local}");

        // The machine reports no changes: no "created 0", and the reader is told where to look.
        let executions = Path::new("out/executions.json");
        let sfn = written(&[repaired(0)], Changes::NotReported { executions });
        assert!(
            sfn.contains("  ok     arn:aws:rds:us-east-1:111111111111:db:orders\n"),
            "{sfn}"
        );
        assert!(!sfn.contains("created 0"), "{sfn}");
        assert!(
            sfn.contains("out/executions.json lists the executions"),
            "{sfn}"
        );
        let none = written(&[], Changes::NotReported { executions });
        assert_eq!(none, "Remediation: 0 repaired, 0 failed\n\n");
    }
}
