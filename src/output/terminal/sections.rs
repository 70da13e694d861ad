//! The sections of the terminal summary (see the parent module): failing checks, top accounts, the
//! first failing sources or every one, and what could not be read.

use std::collections::BTreeMap;
use std::io::Write;

use super::{fit, not_passing, short, source_line, wrap, Show, Style};
use crate::report::v1::ReportV1;
use crate::report::{CheckStatus, SourceReport, Status};
use crate::rules::Severity;

/// Accounts listed in the "by account" section.
const TOP_ACCOUNTS: usize = 10;
/// AWS errors listed when not `--show all`.
const ERRORS_SHOWN: usize = 10;

/// Each failing check: how many sources fail it (and how many could not be judged), worst severity
/// first.
pub(super) fn write_by_check(
    failing: &[&SourceReport],
    style: &Style,
    out: &mut impl Write,
) -> std::io::Result<()> {
    // id -> (worst severity, sources failing, sources in error)
    let mut by_check: BTreeMap<&str, (Severity, usize, usize)> = BTreeMap::new();
    for source in failing {
        for check in &source.checks {
            let entry =
                by_check
                    .entry(check.id.as_str())
                    .or_insert((Severity::Informational, 0, 0));
            match check.status {
                CheckStatus::Fail => entry.1 += 1,
                CheckStatus::Error => entry.2 += 1,
                _ => continue,
            }
            entry.0 = entry.0.max(check.severity);
        }
    }
    let mut rows: Vec<_> = by_check
        .into_iter()
        .filter(|(_, (_, fail, error))| fail + error > 0)
        .collect();
    rows.sort_by(|a, b| {
        (b.1 .0, b.1 .1 + b.1 .2)
            .cmp(&(a.1 .0, a.1 .1 + a.1 .2))
            .then_with(|| a.0.cmp(b.0))
    });
    writeln!(out)?;
    style.say(
        out,
        "Failing checks, worst severity first (sources per check):",
    )?;
    style.say(
        out,
        &format!(
            "  {:<21} {:>7} {:>10}  severity",
            "check", "failing", "not judged"
        ),
    )?;
    for (id, (severity, fail, error)) in rows {
        style.say(
            out,
            &format!("  {id:<21} {fail:>7} {error:>10}  {}", severity.as_str()),
        )?;
    }
    Ok(())
}

/// The accounts with the most failing sources, two to a line where they fit.
pub(super) fn write_by_account(
    report: &ReportV1,
    failing: &[&SourceReport],
    style: &Style,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let mut by_account: BTreeMap<&str, usize> = BTreeMap::new();
    for source in failing {
        *by_account.entry(source.db.account_id.as_str()).or_default() += 1;
    }
    let accounts = by_account.len();
    let mut rows: Vec<(&str, usize)> = by_account.into_iter().collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    rows.truncate(TOP_ACCOUNTS);
    writeln!(out)?;
    let more = if accounts > rows.len() {
        format!(" (top {} of {accounts})", rows.len())
    } else {
        String::new()
    };
    style.say(out, &format!("Accounts with failing sources{more}:"))?;
    let cells: Vec<String> = rows
        .iter()
        .map(|(account, n)| {
            let name = report
                .account_name(account)
                .map(|name| format!(" {}", fit(name, 14)))
                .unwrap_or_default();
            format!("{n:>6}  {account}{name}")
        })
        .collect();
    let cell_width = cells.iter().map(|c| c.chars().count()).max().unwrap_or(0) + 2;
    let per_line = (style.width.saturating_sub(2) / cell_width.max(1)).clamp(1, 2);
    for pair in cells.chunks(per_line) {
        let line: Vec<String> = pair.iter().map(|c| format!("{c:<cell_width$}")).collect();
        style.say(out, format!("  {}", line.join("")).trim_end())?;
    }
    Ok(())
}

/// At most `n` failing sources, one line each: where, what, and the failing checks' observed values.
pub(super) fn write_first_sources(
    failing: &[&SourceReport],
    n: usize,
    style: &Style,
    out: &mut impl Write,
) -> std::io::Result<()> {
    if n == 0 {
        return Ok(());
    }
    let shown = failing.len().min(n);
    writeln!(out)?;
    let title = if shown < failing.len() {
        format!(
            "Failing sources, most severe first ({shown} of {}; --show all lists every one):",
            failing.len()
        )
    } else {
        "Failing sources, most severe first:".to_string()
    };
    style.say(out, &title)?;
    for source in &failing[..shown] {
        let checks: Vec<String> = not_passing(source)
            .map(|c| match c.status {
                CheckStatus::Error => format!("{} ERROR", c.id),
                _ => format!(
                    "{} {} (want {})",
                    c.id,
                    short(&c.observed),
                    short(&c.expected)
                ),
            })
            .collect();
        let text = format!(
            "  {:<13} {}/{} {}: {}",
            source.status.as_str(),
            source.db.account_id,
            source.db.region,
            source.db.identifier,
            checks.join("; ")
        );
        let line = style.line(None, &text);
        // Only the status word is coloured, so the cut above counted every visible character.
        let status = source.status.as_str();
        let line = line.replacen(status, &style.status(source.status), 1);
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// `--show all`: every failing source, each failing check with observed, expected and its message.
pub(super) fn write_every_source(
    failing: &[&SourceReport],
    style: &Style,
    out: &mut impl Write,
) -> std::io::Result<()> {
    for status in [Status::NonCompliant, Status::Error] {
        let listed: Vec<&&SourceReport> = failing.iter().filter(|s| s.status == status).collect();
        if listed.is_empty() {
            continue;
        }
        writeln!(out)?;
        writeln!(out, "{}", style.status(status))?;
        for source in listed {
            writeln!(out, "  {}", source_line(source))?;
            for check in not_passing(source) {
                writeln!(
                    out,
                    "    {:<21} {}  observed {}; expected {}",
                    check.id,
                    style.check(check.status),
                    check.observed,
                    check.expected
                )?;
                writeln!(out, "    {:<21}       {}", "", check.message)?;
            }
        }
    }
    Ok(())
}

/// What could not be read: AWS errors (the first few unless `--show all`) and skipped scopes.
pub(super) fn write_unread(
    report: &ReportV1,
    style: &Style,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let s = &report.summary;
    if !report.errors.is_empty() || s.error > 0 {
        writeln!(out)?;
        let headline = format!(
            "INCOMPLETE: {} AWS error(s), {} database(s) in ERROR, {} account-region(s) not fully read. What could not be read is not compliant.",
            report.errors.len(),
            s.error,
            report.unreadable_scopes.len()
        );
        for line in wrap(&headline, "", style.width) {
            writeln!(out, "{}", style.paint("33;1", &line))?;
        }
        let shown = match style.show {
            Show::All => report.errors.len(),
            Show::Count(_) | Show::Fit(_) => report.errors.len().min(ERRORS_SHOWN),
        };
        for error in &report.errors[..shown] {
            let resource = error
                .resource
                .as_deref()
                .map(|r| format!(" [{r}]"))
                .unwrap_or_default();
            let text = format!(
                "{}/{} {} {}{resource}: {}",
                error.account_id, error.region, error.operation, error.code, error.message
            );
            // Wrapped, not cut: the message is why the run is incomplete.
            match style.show {
                Show::All => writeln!(out, "  {text}")?,
                Show::Count(_) | Show::Fit(_) => {
                    for (i, line) in wrap(&text, "    ", style.width).iter().enumerate() {
                        let line = if i == 0 { &line[2..] } else { line.as_str() };
                        writeln!(out, "{line}")?;
                    }
                }
            }
        }
        if shown < report.errors.len() {
            writeln!(
                out,
                "  ... and {} more (every one is in findings.json and report.html)",
                report.errors.len() - shown
            )?;
        }
    }
    if !report.skipped_scopes.is_empty() {
        writeln!(out)?;
        let text = format!(
            "Skipped {} account-region(s) whose opt-in region is not enabled: {}",
            report.skipped_scopes.len(),
            report.skipped_scopes.join(", ")
        );
        match style.show {
            Show::All => writeln!(out, "{text}")?,
            Show::Count(_) | Show::Fit(_) => style.say(out, &text)?,
        }
    }
    Ok(())
}
