//! The summary printed at the end of a run: counts by status, each failing source with its failing
//! checks (observed vs expected), what could not be read, and warnings. Colour only when asked
//! (a TTY without `NO_COLOR`).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::report::v1::ReportV1;
use crate::report::{CheckStatus, SourceReport, Status};

pub struct Style {
    pub color: bool,
}

impl Style {
    /// Colour on a terminal, unless `NO_COLOR` is set.
    #[allow(clippy::disallowed_methods)]
    pub fn detect() -> Style {
        Style {
            color: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    fn status(&self, status: Status) -> String {
        let code = match status {
            Status::Compliant => "32",
            Status::NonCompliant => "31;1",
            Status::Error => "33;1",
            Status::Exempt | Status::Ungoverned => "36",
        };
        self.paint(code, status.as_str())
    }
    fn check(&self, status: CheckStatus) -> String {
        let code = match status {
            CheckStatus::Pass => "32",
            CheckStatus::Fail => "31;1",
            CheckStatus::Error => "33;1",
            CheckStatus::Skip => "2",
        };
        self.paint(code, status.as_str())
    }
}

fn source_line(source: &SourceReport) -> String {
    let rule = source.rule.as_deref().unwrap_or("-");
    format!(
        "{}/{} {} {} (rule {rule})",
        source.account_id,
        source.region,
        source.kind.as_str(),
        source.identifier
    )
}

pub fn write(
    report: &ReportV1,
    files: &[String],
    style: &Style,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let findings = report;
    let s = &findings.summary;
    writeln!(
        out,
        "rdsguard {} | run {} | as of {}",
        report.run.tool_version,
        report.run.id,
        report
            .run
            .as_of
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )?;
    writeln!(
        out,
        "{} sources: {} {}, {} {}, {} {}, {} {}, {} {}",
        s.sources,
        s.compliant,
        style.status(Status::Compliant),
        s.non_compliant,
        style.status(Status::NonCompliant),
        s.error,
        style.status(Status::Error),
        s.exempt,
        style.status(Status::Exempt),
        s.ungoverned,
        style.status(Status::Ungoverned),
    )?;
    for status in [Status::NonCompliant, Status::Error] {
        let listed: Vec<&SourceReport> = findings
            .sources
            .iter()
            .filter(|src| src.status == status)
            .collect();
        if listed.is_empty() {
            continue;
        }
        writeln!(out)?;
        writeln!(out, "{}", style.status(status))?;
        for source in listed {
            writeln!(out, "  {}", source_line(source))?;
            for check in source
                .checks
                .iter()
                .filter(|c| matches!(c.status, CheckStatus::Fail | CheckStatus::Error))
            {
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
    if !findings.errors.is_empty() || s.error > 0 {
        writeln!(out)?;
        writeln!(
            out,
            "{}",
            style.paint(
                "33;1",
                &format!(
                    "INCOMPLETE: {} AWS error(s), {} database(s) in ERROR, {} account-region(s) not fully read. What could not be read is not compliant.",
                    findings.errors.len(),
                    s.error,
                    findings.unreadable_scopes.len()
                )
            )
        )?;
        for error in &findings.errors {
            let resource = error
                .resource
                .as_deref()
                .map(|r| format!(" [{r}]"))
                .unwrap_or_default();
            writeln!(
                out,
                "  {}/{} {} {}{resource}: {}",
                error.account_id, error.region, error.operation, error.code, error.message
            )?;
        }
    }
    if !findings.skipped_scopes.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "Skipped {} account-region(s) whose opt-in region is not enabled: {}",
            findings.skipped_scopes.len(),
            findings.skipped_scopes.join(", ")
        )?;
    }
    if !findings.warnings.is_empty() {
        writeln!(out)?;
        writeln!(out, "{}", style.paint("33", "Warnings:"))?;
        for warning in &findings.warnings {
            writeln!(out, "  {warning}")?;
        }
    }
    if let Some(drift) = &report.drift {
        writeln!(out)?;
        super::drift::write_terminal(drift, out)?;
    }
    if !files.is_empty() {
        writeln!(out)?;
        writeln!(out, "Reports written:")?;
        for file in files {
            writeln!(out, "  {file}")?;
        }
    }
    Ok(())
}

/// Prints the summary of a run ([`write`]) on stdout, coloured on a terminal; `files` are the run's
/// files, listed when they exist.
pub fn print(report: &ReportV1, files: &[PathBuf]) -> Result<(), Error> {
    let files: Vec<String> = files
        .iter()
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect();
    let style = Style::detect();
    super::stdout::print(|mut out| write(report, &files, &style, &mut out))
}

/// Prints paths, one a line (the files `rdsguard report` wrote).
pub fn print_paths(paths: &[impl AsRef<Path>]) -> Result<(), Error> {
    super::stdout::print(|out| {
        for path in paths {
            writeln!(out, "{}", path.as_ref().display())?;
        }
        Ok(())
    })
}
