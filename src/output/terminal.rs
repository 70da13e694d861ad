//! The summary printed at the end of a run. It answers "how bad, where, what first" on one screen:
//! counts by status (first and last), the failing checks with how many sources fail each (worst
//! severity first), the accounts with the most failing sources, at most `--show N` failing sources on
//! one line each, what could not be read, warnings, and where the reports are. No line is longer than
//! the terminal is wide (80 columns when that is unknown); `--show all` lists every failing source with
//! its full messages instead. The full detail is in report.html, findings.json and summary.md. Colour
//! only when asked (a TTY without `NO_COLOR`).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use crate::checks::restore_tested::drill_coverage;
use crate::error::Error;
use crate::report::v1::ReportV1;
use crate::report::{CheckResult, CheckStatus, HeadroomState, SourceReport, Status};
use crate::rules::Severity;

/// How many failing sources the summary lists (`--show`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Show {
    /// At most this many, one line each.
    Count(usize),
    /// At most this many, one line each, and fewer (down to [`Show::FIT_MIN`]) when the whole summary
    /// would not fit the terminal's height: the default, when `--show` is not given.
    Fit(usize),
    /// Every one, with every failing check's full message.
    All,
}

impl Show {
    pub const DEFAULT: Show = Show::Fit(20);
    /// Fitting a short terminal never lists fewer failing sources than this.
    pub const FIT_MIN: usize = 5;

    /// `--show N` or `--show all`.
    pub fn parse(text: &str) -> Result<Show, String> {
        if text.eq_ignore_ascii_case("all") {
            return Ok(Show::All);
        }
        text.parse::<usize>()
            .map(Show::Count)
            .map_err(|_| format!("`{text}` is not a number of sources or `all`"))
    }
}

/// The widest a summary line may be: the terminal's width on a TTY, else `$COLUMNS`, else 80.
const DEFAULT_WIDTH: usize = 80;
/// Narrower than this, lines are cut at this width anyway (nothing useful fits in less).
const MIN_WIDTH: usize = 40;

#[derive(Debug, Clone)]
pub struct Style {
    pub color: bool,
    /// The longest line, in characters.
    pub width: usize,
    /// The terminal's height in lines, on a TTY.
    pub height: Option<usize>,
    pub show: Show,
}

impl Style {
    /// The style for stdout: colour on a TTY without `NO_COLOR`, the terminal's width.
    #[allow(clippy::disallowed_methods)]
    pub fn for_stdout(show: Show) -> Style {
        let stdout = std::io::stdout();
        let tty = stdout.is_terminal();
        let measured = tty
            .then(|| terminal_size::terminal_size_of(&stdout))
            .flatten();
        let width = measured
            .map(|(width, _)| usize::from(width.0))
            .or_else(|| std::env::var("COLUMNS").ok()?.trim().parse().ok())
            .unwrap_or(DEFAULT_WIDTH)
            .max(MIN_WIDTH);
        Style {
            color: tty && std::env::var_os("NO_COLOR").is_none(),
            width,
            height: measured
                .map(|(_, height)| usize::from(height.0))
                .filter(|h| *h > 0),
            show,
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
        self.paint(status_colour(status), status.as_str())
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
    /// Writes `text` as one line, cut to the width.
    fn say(&self, out: &mut impl Write, text: &str) -> std::io::Result<()> {
        writeln!(out, "{}", self.line(None, text))
    }

    /// `text` cut to the width (with `…`), then painted.
    fn line(&self, code: Option<&str>, text: &str) -> String {
        let cut = fit(text, self.width);
        match code {
            Some(code) => self.paint(code, &cut),
            None => cut,
        }
    }
}

fn status_colour(status: Status) -> &'static str {
    match status {
        Status::Compliant => "32",
        Status::NonCompliant => "31;1",
        Status::Error => "33;1",
        Status::Exempt | Status::Ungoverned => "36",
    }
}

/// `text` in at most `width` characters: cut with `…` when longer.
fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// `text` broken into lines of at most `width` characters at spaces, each after `indent`.
fn wrap(text: &str, indent: &str, width: usize) -> Vec<String> {
    let room = width.saturating_sub(indent.chars().count()).max(10);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let word = fit(word, room);
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > room {
            lines.push(format!("{indent}{line}"));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    if !line.is_empty() {
        lines.push(format!("{indent}{line}"));
    }
    lines
}

fn source_line(source: &SourceReport) -> String {
    let rule = source.rule.as_deref().unwrap_or("-");
    format!(
        "{}/{} {} {} (rule {rule})",
        source.db.account_id,
        source.db.region,
        source.db.kind.as_str(),
        source.db.identifier
    )
}

fn counts(report: &ReportV1, style: &Style) -> String {
    let s = &report.summary;
    let plain = format!(
        "{} sources: {} COMPLIANT, {} NON_COMPLIANT, {} ERROR, {} EXEMPT, {} UNGOVERNED",
        s.sources, s.compliant, s.non_compliant, s.error, s.exempt, s.ungoverned,
    );
    // Cut to the width first, then colour the status words that are still whole.
    let mut line = fit(&plain, style.width);
    if style.color {
        for status in [
            Status::NonCompliant,
            Status::Compliant,
            Status::Error,
            Status::Exempt,
            Status::Ungoverned,
        ] {
            let word = format!(" {},", status.as_str());
            let word_end = format!(" {}", status.as_str());
            if line.contains(&word) {
                line = line.replacen(&word, &format!(" {},", style.status(status)), 1);
            } else if line.ends_with(&word_end) {
                let cut = line.len() - word_end.len();
                line = format!("{} {}", &line[..cut], style.status(status));
            }
        }
    }
    line
}

/// One line per destination quota at 90% or over once the rules' copies are kept (`vault-capacity`),
/// under the counts: `quota 222222222222/us-east-1: 94 of 100 DB snapshots kept (94%)` (kept: once
/// every database copied there keeps its `retain.max`), `(OVER 101%)` past it.
fn write_quotas(report: &ReportV1, style: &Style, out: &mut impl Write) -> std::io::Result<()> {
    for quota in &report.quotas {
        let (code, word) = match quota.state {
            HeadroomState::Ok => continue,
            HeadroomState::Near => ("33", ""),
            HeadroomState::Over => ("31", "OVER "),
        };
        let text = format!(
            "quota {}/{}: {} of {} {} kept ({word}{}%)",
            quota.account_id,
            quota.region,
            quota.projected,
            quota.max,
            quota.noun().trim_start_matches("manual "),
            quota.percent
        );
        writeln!(out, "{}", style.paint(code, &fit(&text, style.width)))?;
    }
    Ok(())
}

/// A source's checks that failed or could not be judged.
fn not_passing(source: &SourceReport) -> impl Iterator<Item = &CheckResult> {
    source
        .checks
        .iter()
        .filter(|c| matches!(c.status, CheckStatus::Fail | CheckStatus::Error))
}

/// The worst severity among a source's failing checks (an ERROR counts at its rule's severity).
fn worst(source: &SourceReport) -> Option<Severity> {
    not_passing(source).map(|c| c.severity).max()
}

/// `observed` (vs `expected`), each shortened, for one-line listings.
fn short(text: &str) -> String {
    fit(text, 28)
}

/// Writes the summary. With [`Show::Fit`] on a terminal of known height, as many failing sources as
/// leave the whole summary one line shorter than the screen (the shell's prompt), within the bounds.
pub fn write(
    report: &ReportV1,
    files: &[String],
    style: &Style,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let Show::Fit(most) = style.show else {
        return write_shown(report, files, style, out);
    };
    let with = |n: usize| Style {
        show: Show::Count(n),
        ..style.clone()
    };
    let mut n = most;
    if let Some(height) = style.height {
        let mut first = Vec::new();
        write_shown(report, files, &with(most), &mut first)?;
        let lines = first.iter().filter(|b| **b == b'\n').count();
        let over = lines.saturating_sub(height.saturating_sub(1));
        n = most.saturating_sub(over).max(Show::FIT_MIN.min(most));
    }
    write_shown(report, files, &with(n), out)
}

fn write_shown(
    report: &ReportV1,
    files: &[String],
    style: &Style,
    out: &mut impl Write,
) -> std::io::Result<()> {
    style.say(
        out,
        &format!(
            "rdsguard {} | as of {} | run {}",
            report.run.tool_version,
            report
                .run
                .as_of
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            report.run.id
        ),
    )?;
    writeln!(out, "{}", counts(report, style))?;
    write_quotas(report, style, out)?;
    if let Some(drills) = drill_coverage(&report.sources).line() {
        for line in wrap(&drills, "", style.width) {
            writeln!(out, "{line}")?;
        }
    }
    let mut failing: Vec<&SourceReport> = report
        .sources
        .iter()
        .filter(|s| matches!(s.status, Status::NonCompliant | Status::Error))
        .collect();
    if !failing.is_empty() {
        match style.show {
            Show::All => sections::write_every_source(&failing, style, out)?,
            Show::Count(n) | Show::Fit(n) => {
                sections::write_by_check(&failing, style, out)?;
                sections::write_by_account(report, &failing, style, out)?;
                // Most severe first, then failing before erroring, then by account and name.
                failing.sort_by(|a, b| {
                    worst(b)
                        .cmp(&worst(a))
                        .then_with(|| {
                            (b.status == Status::NonCompliant)
                                .cmp(&(a.status == Status::NonCompliant))
                        })
                        .then_with(|| {
                            (&a.db.account_id, &a.db.region, &a.db.identifier).cmp(&(
                                &b.db.account_id,
                                &b.db.region,
                                &b.db.identifier,
                            ))
                        })
                });
                sections::write_first_sources(&failing, n, style, out)?;
            }
        }
    }
    sections::write_unread(report, style, out)?;
    if !report.warnings.is_empty() {
        writeln!(out)?;
        writeln!(out, "{}", style.paint("33", "Warnings:"))?;
        for warning in &report.warnings {
            for line in wrap(warning, "  ", style.width) {
                writeln!(out, "{line}")?;
            }
        }
    }
    if let Some(drift) = &report.drift {
        writeln!(out)?;
        super::drift::write_terminal(drift, out)?;
    }
    if !files.is_empty() {
        writeln!(out)?;
        write_files(files, style, out)?;
    }
    if !failing.is_empty() {
        // Counts last too: after a long listing they are what is on the screen.
        writeln!(out)?;
        writeln!(out, "{}", counts(report, style))?;
    }
    Ok(())
}

/// Where the reports are: one folder and the file names when they share it (report.html first: it is
/// the one for people), else one path a line.
fn write_files(files: &[String], style: &Style, out: &mut impl Write) -> std::io::Result<()> {
    let split: Vec<(&str, &str)> = files
        .iter()
        .map(|f| f.rsplit_once('/').unwrap_or((".", f.as_str())))
        .collect();
    let folder = split[0].0;
    if style.show == Show::All || split.iter().any(|(dir, _)| *dir != folder) {
        writeln!(out, "Reports written:")?;
        for file in files {
            writeln!(out, "  {file}")?;
        }
        return Ok(());
    }
    let mut names: Vec<&str> = split.iter().map(|(_, name)| *name).collect();
    names.sort_by_key(|name| *name != "report.html");
    writeln!(out, "Reports written in {folder}/:")?;
    for line in wrap(&names.join(", "), "  ", style.width) {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// Prints the summary of a run ([`write()`]) on stdout, as wide as the terminal; `files` are the run's
/// files, listed when they exist.
pub fn print(report: &ReportV1, files: &[PathBuf], show: Show) -> Result<(), Error> {
    let files: Vec<String> = files
        .iter()
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect();
    let style = Style::for_stdout(show);
    super::stdout::print(|mut out| write(report, &files, &style, &mut out))
}

/// Prints paths, one a line (the files `rdsguard report` wrote).
/// Prints `lines` as they are, one per line.
pub fn print_lines(lines: &[String]) -> Result<(), Error> {
    super::stdout::print(|out| {
        for line in lines {
            writeln!(out, "{line}")?;
        }
        Ok(())
    })
}

pub fn print_paths(paths: &[impl AsRef<Path>]) -> Result<(), Error> {
    super::stdout::print(|out| {
        for path in paths {
            writeln!(out, "{}", path.as_ref().display())?;
        }
        Ok(())
    })
}

mod sections;
#[cfg(test)]
mod tests;
