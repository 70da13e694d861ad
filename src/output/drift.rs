//! Drift, rendered for the terminal and for Markdown.

use std::io::{self, Write};

use super::escape::markdown_cell as cell;
use crate::error::Error;
use crate::report::v1::{Drift, RegressionKind};

fn kind(kind: RegressionKind) -> &'static str {
    match kind {
        RegressionKind::ReplicaAgeGrew => "replica age grew (not refreshed)",
        RegressionKind::KeyChanged => "replica key changed",
        RegressionKind::ReplicaCountDropped => "replica count dropped",
        RegressionKind::ShareAppeared => "a share appeared",
    }
}

fn headline(drift: &Drift) -> String {
    format!(
        "{} new failure(s), {} resolved, {} regression(s), {} new and {} removed database(s)",
        drift.new_failures.len(),
        drift.resolved.len(),
        drift.regressions.len(),
        drift.new_sources.len(),
        drift.removed_sources.len()
    )
}

/// When the baseline was judged.
fn baseline_time(drift: &Drift) -> String {
    let as_of = drift.baseline.as_of;
    as_of.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub fn write_terminal(drift: &Drift, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "Drift since run {} (as of {}): {}",
        drift.baseline.run_id,
        baseline_time(drift),
        headline(drift)
    )?;
    for i in &drift.new_failures {
        writeln!(out, "  + {:<21} {}  now {}", i.check, i.arn, i.observed)?;
    }
    for i in &drift.resolved {
        writeln!(out, "  - {:<21} {}  was {}", i.check, i.arn, i.observed)?;
    }
    for r in &drift.regressions {
        writeln!(
            out,
            "  ! {:<21} {}  {} -> {}",
            kind(r.kind),
            r.arn,
            r.before,
            r.after
        )?;
    }
    for arn in &drift.removed_sources {
        writeln!(out, "  x removed               {arn}")?;
    }
    Ok(())
}

pub fn write_markdown(drift: &Drift, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "### Drift since run `{}` ({})\n\n{}\n",
        cell(&drift.baseline.run_id),
        baseline_time(drift),
        headline(drift)
    )?;
    if drift.new_failures.is_empty() && drift.resolved.is_empty() && drift.regressions.is_empty() {
        return Ok(());
    }
    writeln!(out, "| Change | Database | Check or kind | Detail |")?;
    writeln!(out, "|---|---|---|---|")?;
    let checks = [
        ("🆕 fails", "", &drift.new_failures),
        ("✅ resolved", "was ", &drift.resolved),
    ];
    for (change, was, items) in checks {
        for i in items {
            let (arn, observed) = (cell(&i.arn), cell(&i.observed));
            let check = &i.check;
            writeln!(out, "| {change} | {arn} | `{check}` | {was}{observed} |")?;
        }
    }
    for r in &drift.regressions {
        writeln!(
            out,
            "| ⚠️ regression | {} | {} | {} → {} |",
            cell(&r.arn),
            kind(r.kind),
            cell(&r.before),
            cell(&r.after)
        )?;
    }
    writeln!(out)
}

/// Prints [`write_terminal`] on stdout (`rdsguard diff`).
pub fn print_terminal(drift: &Drift) -> Result<(), Error> {
    super::stdout::print(|out| write_terminal(drift, out))
}
