//! The terminal summary as a user reads it: one screen at organization scale, no wrapped line.

use super::*;
use crate::checks::fixtures::*;
use crate::evaluate::evaluate;
use crate::output::tests::{assert_contains, load_rules, run_info};
use crate::report::Report;

/// An organization of 40 accounts x 10 databases: every third one without a replica, every
/// fifth one with a stale one, the rest compliant.
fn large() -> ReportV1 {
    organization(40, 10)
}

/// `accounts` x `per_account` databases, shared out as in [`large`].
fn organization(accounts: u64, per_account: u64) -> ReportV1 {
    let mut org = Org::new();
    for a in 0..accounts {
        let account = format!("{:012}", 100_000_000_000u64 + a);
        for i in 0..per_account {
            let source = org.source(&account, &format!("database-with-a-long-name-{a}-{i}"));
            match (a * per_account + i) % 15 {
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
    let set = load_rules(&format!("[[rule]]\nid = \"prod\"\ndestination = {{ account = \"{VAULT}\", kms_key = \"alias/rds-vault\" }}\nmax_age = \"26h\"\nretain = {{ min = 1 }}\n"));
    ReportV1::from_report(&Report {
        run: run_info(&set),
        findings: evaluate(&org.inventory, &set, as_of()),
    })
}

fn render(report: &ReportV1, show: Show, width: usize) -> String {
    render_on(report, show, width, None)
}

fn render_on(report: &ReportV1, show: Show, width: usize, height: Option<usize>) -> String {
    let style = Style {
        color: false,
        width,
        height,
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
    assert!(lines.len() <= 42, "{} lines:\n{text}", lines.len());
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
    assert_contains(
        &text,
        &format!("  replica-present       {missing:>7}          0  high"),
    );
    assert_contains(
        &text,
        &format!("  replica-age           {stale:>7}          0  high"),
    );
    assert_contains(&text, "Accounts with failing sources (top 10 of 40):");
    assert_contains(
        &text,
        &format!(
            "Failing sources, most severe first (20 of {}; --show all lists every one):",
            missing + stale
        ),
    );
    let listed = lines
        .iter()
        .filter(|l| l.starts_with("  NON_COMPLIANT "))
        .count();
    assert_eq!(listed, 20);
    assert_contains(
        &text,
        "Reports written in reports/run/:\n  report.html, findings.json\n",
    );
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
        assert!(
            text.contains(&source_line(source)),
            "{}",
            source.db.identifier
        );
    }
    assert!(text
        .contains("no available snapshot or recovery point in 222222222222/us-east-1 is linked"));
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

/// Without `--show`, a terminal shorter than the summary gets fewer failing sources (never fewer than
/// five), so that the whole summary and the prompt fit; a `--show N` the user gave is kept.
#[test]
fn the_default_listing_shrinks_to_fit_a_short_terminal() {
    let report = large();
    let listed = |text: &str| {
        text.lines()
            .filter(|l| l.starts_with("  NON_COMPLIANT "))
            .count()
    };
    let tall = render_on(&report, Show::DEFAULT, 80, Some(200));
    assert_eq!(listed(&tall), 20);
    let full = tall.lines().count();
    let short = render_on(&report, Show::DEFAULT, 80, Some(full - 5));
    assert_eq!(short.lines().count(), full - 6, "{short}");
    assert_eq!(listed(&short), 14);
    assert!(short.contains("(14 of "), "{short}");
    let tiny = render_on(&report, Show::DEFAULT, 80, Some(10));
    assert_eq!(listed(&tiny), Show::FIT_MIN);
    let asked = render_on(&report, Show::Count(20), 80, Some(full - 5));
    assert_eq!(listed(&asked), 20);
}

#[test]
fn show_takes_a_count_or_all() {
    assert_eq!(Show::parse("all"), Ok(Show::All));
    assert_eq!(Show::parse("7"), Ok(Show::Count(7)));
    assert!(Show::parse("many").is_err());
}

#[test]
fn a_quota_near_or_over_gets_a_line_under_the_counts() {
    let report = crate::output::tests::with_quotas(large());
    let text = render(&report, Show::Count(10), 80);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[1].ends_with(" UNGOVERNED"), "{text}");
    assert_eq!(
        lines[2],
        "quota 222222222222/us-east-1: 93 of 100 DB snapshots kept (93%)"
    );
    assert_eq!(
        lines[3],
        "quota 222222222222/us-east-1: 101 of 100 DB cluster snapshots kept (OVER 101%)"
    );
    assert!(lines[3].chars().count() <= 80, "{}", lines[3]);
    assert!(!text.contains("eu-west-1: "), "{text}");
}

/// The scale (100 accounts, 2,000 databases): the default summary is still one screen with
/// no wrapped line at 80 columns; the detail stays in the reports.
#[test]
fn a_hundred_accounts_still_fit_one_screen() {
    let report = organization(100, 20);
    assert_eq!(report.summary.sources, 2000);
    let text = render(&report, Show::DEFAULT, 80);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() <= 42, "{} lines:\n{text}", lines.len());
    for line in &lines {
        assert!(line.chars().count() <= 80, "wraps: {line:?}");
    }
    assert_contains(&text, "Accounts with failing sources (top 10 of 100):");
    let listed = lines
        .iter()
        .filter(|l| l.starts_with("  NON_COMPLIANT "))
        .count();
    assert_eq!(listed, 20);
}
