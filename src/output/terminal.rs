//! The summary printed at the end of a run. It answers "how bad, where, what first" on one screen:
//! counts by status (first and last), the failing checks with how many sources fail each (worst
//! severity first), the accounts with the most failing sources, at most `--show N` failing sources on
//! one line each, what could not be read, warnings, and where the reports are. No line is longer than
//! the terminal is wide (80 columns when that is unknown); `--show all` lists every failing source with
//! its full messages instead. The full detail is in report.html, findings.json and summary.md. Colour
//! only when asked (a TTY without `NO_COLOR`).

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::report::v1::ReportV1;
use crate::report::{CheckStatus, SourceReport, Status};
use crate::rules::Severity;

/// How many failing sources the summary lists (`--show`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Show {
    /// At most this many, one line each.
    Count(usize),
    /// Every one, with every failing check's full message.
    All,
}

impl Show {
    pub const DEFAULT: Show = Show::Count(20);

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
/// Accounts listed in the "by account" section.
const TOP_ACCOUNTS: usize = 10;
/// AWS errors listed when not `--show all`.
const ERRORS_SHOWN: usize = 10;

pub struct Style {
    pub color: bool,
    /// The longest line, in characters.
    pub width: usize,
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
            .flatten()
            .map(|(width, _)| usize::from(width.0));
        let width = measured
            .or_else(|| std::env::var("COLUMNS").ok()?.trim().parse().ok())
            .unwrap_or(DEFAULT_WIDTH)
            .max(MIN_WIDTH);
        Style {
            color: tty && std::env::var_os("NO_COLOR").is_none(),
            width,
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
        source.account_id,
        source.region,
        source.kind.as_str(),
        source.identifier
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

/// The worst severity among a source's failing checks (an ERROR counts at its rule's severity).
fn worst(source: &SourceReport) -> Option<Severity> {
    source
        .checks
        .iter()
        .filter(|c| matches!(c.status, CheckStatus::Fail | CheckStatus::Error))
        .map(|c| c.severity)
        .max()
}

/// `observed` (vs `expected`), each shortened, for one-line listings.
fn short(text: &str) -> String {
    fit(text, 28)
}

pub fn write(
    report: &ReportV1,
    files: &[String],
    style: &Style,
    out: &mut impl Write,
) -> std::io::Result<()> {
    writeln!(
        out,
        "{}",
        style.line(
            None,
            &format!(
                "rdsguard {} | run {} | as of {}",
                report.run.tool_version,
                report.run.id,
                report
                    .run
                    .as_of
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            )
        )
    )?;
    writeln!(out, "{}", counts(report, style))?;
    let mut failing: Vec<&SourceReport> = report
        .sources
        .iter()
        .filter(|s| matches!(s.status, Status::NonCompliant | Status::Error))
        .collect();
    if !failing.is_empty() {
        match style.show {
            Show::All => write_every_source(&failing, style, out)?,
            Show::Count(n) => {
                write_by_check(&failing, style, out)?;
                write_by_account(report, &failing, style, out)?;
                // Most severe first, then failing before erroring, then by account and name.
                failing.sort_by(|a, b| {
                    worst(b)
                        .cmp(&worst(a))
                        .then_with(|| {
                            (b.status == Status::NonCompliant)
                                .cmp(&(a.status == Status::NonCompliant))
                        })
                        .then_with(|| {
                            (&a.account_id, &a.region, &a.identifier).cmp(&(
                                &b.account_id,
                                &b.region,
                                &b.identifier,
                            ))
                        })
                });
                write_first_sources(&failing, n, style, out)?;
            }
        }
    }
    write_unread(report, style, out)?;
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
        writeln!(out, "Reports written:")?;
        for file in files {
            writeln!(out, "  {file}")?;
        }
    }
    if !failing.is_empty() {
        // Counts last too: after a long listing they are what is on the screen.
        writeln!(out)?;
        writeln!(out, "{}", counts(report, style))?;
    }
    Ok(())
}

/// Each failing check: how many sources fail it (and how many could not be judged), worst severity
/// first.
fn write_by_check(
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
    writeln!(
        out,
        "{}",
        style.line(
            None,
            "Failing checks, worst severity first (sources per check):"
        )
    )?;
    writeln!(
        out,
        "{}",
        style.line(
            None,
            &format!(
                "  {:<21} {:>7} {:>10}  severity",
                "check", "failing", "not judged"
            )
        )
    )?;
    for (id, (severity, fail, error)) in rows {
        writeln!(
            out,
            "{}",
            style.line(
                None,
                &format!("  {id:<21} {fail:>7} {error:>10}  {}", severity.as_str())
            )
        )?;
    }
    Ok(())
}

/// The accounts with the most failing sources, two to a line where they fit.
fn write_by_account(
    report: &ReportV1,
    failing: &[&SourceReport],
    style: &Style,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let mut by_account: BTreeMap<&str, usize> = BTreeMap::new();
    for source in failing {
        *by_account.entry(source.account_id.as_str()).or_default() += 1;
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
    writeln!(
        out,
        "{}",
        style.line(None, &format!("Accounts with failing sources{more}:"))
    )?;
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
        writeln!(
            out,
            "{}",
            style.line(None, format!("  {}", line.join("")).trim_end())
        )?;
    }
    Ok(())
}

/// At most `n` failing sources, one line each: where, what, and the failing checks' observed values.
fn write_first_sources(
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
    writeln!(out, "{}", style.line(None, &title))?;
    for source in &failing[..shown] {
        let checks: Vec<String> = source
            .checks
            .iter()
            .filter(|c| matches!(c.status, CheckStatus::Fail | CheckStatus::Error))
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
            source.account_id,
            source.region,
            source.identifier,
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
fn write_every_source(
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
    Ok(())
}

/// What could not be read: AWS errors (the first few unless `--show all`) and skipped scopes.
fn write_unread(report: &ReportV1, style: &Style, out: &mut impl Write) -> std::io::Result<()> {
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
            Show::Count(_) => report.errors.len().min(ERRORS_SHOWN),
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
                Show::Count(_) => {
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
            Show::Count(_) => writeln!(out, "{}", style.line(None, &text))?,
        }
    }
    Ok(())
}

/// Prints the summary of a run ([`write`]) on stdout, as wide as the terminal; `files` are the run's
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
pub fn print_paths(paths: &[impl AsRef<Path>]) -> Result<(), Error> {
    super::stdout::print(|out| {
        for path in paths {
            writeln!(out, "{}", path.as_ref().display())?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::fixtures::*;
    use crate::evaluate::evaluate;
    use crate::report::{Report, RunInfo};

    /// An organization of 40 accounts x 10 databases: every third one without a replica, every
    /// fifth one with a stale one, the rest compliant.
    fn large() -> ReportV1 {
        let mut org = Org::new();
        for a in 0..40 {
            let account = format!("{:012}", 100_000_000_000u64 + a);
            for i in 0..10 {
                let source = org.source(&account, &format!("database-with-a-long-name-{a}-{i}"));
                match (a * 10 + i) % 15 {
                    0 | 3 | 6 | 9 | 12 => {}
                    5 | 10 => {
                        org.tagged_replica(&format!("copy-{a}-{i}"), &source, 40);
                    }
                    _ => {
                        org.tagged_replica(&format!("copy-{a}-{i}"), &source, 2);
                    }
                }
            }
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("r.toml");
        std::fs::write(
            &path,
            format!("[[rule]]\nid = \"prod\"\ndestination = {{ account = \"{VAULT}\", kms_key = \"alias/rds-vault\" }}\nmax_age = \"26h\"\nretain = {{ min = 1 }}\n"),
        )
        .expect("write");
        let set = crate::rules::load(&[path]).expect("rules");
        ReportV1::from_report(&Report {
            run: RunInfo {
                id: "run-1".into(),
                started_at: as_of(),
                finished_at: as_of(),
                tool_version: "0.0.0".into(),
                rules_sha256: set.sha256.clone(),
                organization_id: None,
                caller: None,
                accounts: Vec::new(),
                rules: Vec::new(),
                docs_url: None,
            },
            findings: evaluate(&org.inventory, &set, as_of()),
        })
    }

    fn render(report: &ReportV1, show: Show, width: usize) -> String {
        let style = Style {
            color: false,
            width,
            show,
        };
        let files = vec![
            "reports/run/findings.json".to_string(),
            "reports/run/report.html".to_string(),
        ];
        let mut out = Vec::new();
        write(report, &files, &style, &mut out).expect("render");
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn the_default_summary_fits_one_screen_and_no_line_wraps_at_80_columns() {
        let report = large();
        // The generator's shares: a third without a replica, two in fifteen with a stale one.
        let missing = (0..400).filter(|n| n % 15 % 3 == 0 && n % 15 < 13).count();
        let stale = (0..400).filter(|n| matches!(n % 15, 5 | 10)).count();
        assert_eq!(
            report.summary.non_compliant,
            missing + stale,
            "{:?}",
            report.summary
        );
        let text = render(&report, Show::DEFAULT, 80);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.len() <= 45, "{} lines:\n{text}", lines.len());
        for line in &lines {
            assert!(line.chars().count() <= 80, "wraps: {line:?}");
        }
        let counts = format!(
            "400 sources: {} COMPLIANT, {} NON_COMPLIANT, 0 ERROR, 0 EXEMPT, 0 UNGOVERNED",
            400 - missing - stale,
            missing + stale
        );
        assert_eq!(lines[1], counts, "counts first");
        assert_eq!(lines.last().copied(), Some(counts.as_str()), "and last");
        assert!(
            text.contains(&format!(
                "  replica-present       {missing:>7}          0  high"
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "  replica-age           {stale:>7}          0  high"
            )),
            "{text}"
        );
        assert!(
            text.contains("Accounts with failing sources (top 10 of 40):"),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "Failing sources, most severe first (20 of {}; --show all lists every one):",
                missing + stale
            )),
            "{text}"
        );
        let listed = lines
            .iter()
            .filter(|l| l.starts_with("  NON_COMPLIANT "))
            .count();
        assert_eq!(listed, 20);
        assert!(text.contains("reports/run/report.html"));
    }

    #[test]
    fn show_all_lists_every_failing_source_with_full_messages() {
        let report = large();
        let text = render(&report, Show::All, 80);
        for source in report
            .sources
            .iter()
            .filter(|s| s.status == Status::NonCompliant)
        {
            assert!(text.contains(&source_line(source)), "{}", source.identifier);
        }
        assert!(text.contains("no available snapshot in 222222222222/us-east-1 is linked"));
        let narrow = render(&report, Show::Count(5), 40);
        let long: Vec<&str> = narrow.lines().filter(|l| l.chars().count() > 40).collect();
        assert!(long.is_empty(), "{long:?}");
        assert_eq!(
            narrow
                .lines()
                .filter(|l| l.starts_with("  NON_COMPLIANT"))
                .count(),
            5
        );
    }

    #[test]
    fn show_takes_a_count_or_all() {
        assert_eq!(Show::parse("all"), Ok(Show::All));
        assert_eq!(Show::parse("7"), Ok(Show::Count(7)));
        assert!(Show::parse("many").is_err());
    }
}
