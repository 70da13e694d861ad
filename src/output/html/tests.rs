use super::charts::{self, age_bin, age_position, Plot, AGE_BINS, MAX_CHART_ROWS};
use super::*;
use crate::inventory::AwsError;
use crate::output::escape::escape_xml;
use crate::report::Summary;

mod fixtures;

use fixtures::{at, big_report, empty, sample, source, HOSTILE};

fn render(report: &ReportV1) -> String {
    let mut out = Vec::new();
    write(report, &mut out).expect("render");
    String::from_utf8(out).expect("utf-8")
}

/// The source rows: each source is one `<tbody class="src">`.
fn rows(html: &str) -> usize {
    html.matches("<tbody class=\"src\"").count()
}

/// The escaping of the other markup outputs (junit.xml); the page itself is escaped by Tera.
#[test]
fn escape_covers_markup_and_attribute_characters() {
    assert_eq!(
        escape_xml(r#"<a href="x" title='y'>&</a>"#),
        "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
    );
    assert_eq!(escape_xml("plain text, ünïcode"), "plain text, ünïcode");
    assert_eq!(escape_xml("bell\u{7}\tend\n"), "bell\u{FFFD}\tend\n");
}

#[test]
fn base64_matches_rfc_4648_vectors() {
    for (input, expected) in [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ] {
        assert_eq!(base64(input.as_bytes()), expected);
    }
}

#[test]
fn hostile_strings_render_as_text() {
    let html = render(&sample());
    assert!(!html.contains("<script>alert"), "raw script tag in output");
    assert!(!html.contains("onmouseover=\"alert"), "attribute injection");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;&#x2F;script&gt;"),
        "the tag value and the account name are shown, escaped by Tera"
    );
    // The SVG chart labels carry the account name too, escaped by Tera like every other value.
    let svg_start = html.find("<svg").expect("a chart");
    let svg_end = html.find("</svg>").expect("the chart's end");
    assert!(html[svg_start..svg_end].contains("&lt;script&gt;alert(1)&lt;&#x2F;script&gt;"));
    // The only scripts are the template's own.
    assert_eq!(html.matches("<script").count(), 1);
}

#[test]
fn the_csp_admits_exactly_the_inline_script_and_style() {
    let html = render(&sample());
    let script = html
        .split_once("<script>")
        .and_then(|(_, rest)| rest.split_once("</script>"))
        .map(|(s, _)| s)
        .expect("inline script");
    let style = html
        .split_once("<style>")
        .and_then(|(_, rest)| rest.split_once("</style>"))
        .map(|(s, _)| s)
        .expect("inline style");
    assert!(script.len() > 100 && style.len() > 100);
    // The policy is an attribute value, printed escaped; the browser reads it unescaped.
    let attribute = |text: String| tera::escape_html(&text);
    assert!(html.contains(&attribute(format!("script-src {}", csp_hash(script)))));
    assert!(html.contains(&attribute(format!("style-src {}", csp_hash(style)))));
    assert!(html.contains(&attribute("default-src 'none'".to_string())));
}

#[test]
fn self_contained_no_remote_resources() {
    let html = render(&sample());
    for needle in [
        "src=\"http",
        "href=\"http",
        "url(",
        "@import",
        "<link rel=\"stylesheet",
    ] {
        assert!(!html.contains(needle), "found {needle}");
    }
    // The only absolute URL is the SVG namespace.
    let urls = html.matches("http:").count() + html.matches("https:").count();
    let namespaces = html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count();
    assert_eq!(urls, namespaces);
}

#[test]
fn every_source_and_its_evidence_is_shown() {
    let report = sample();
    let html = render(&report);
    assert_eq!(rows(&html), 4);
    for source in &report.sources {
        assert!(html.contains(&format!(">{}<", source.db.identifier)));
    }
    // Header.
    for needle in [
        "o-abc123",
        "run-1",
        "2026-11-24T06:00:00Z",
        &"ab".repeat(32),
        "0.1.0",
        "arn:aws:iam::111111111111:user&#x2F;auditor",
    ] {
        assert!(html.contains(needle), "header lacks {needle}");
    }
    // Status counts, never by colour alone: the words are there.
    for status in ["COMPLIANT", "NON_COMPLIANT", "EXEMPT", "UNGOVERNED"] {
        assert!(html.contains(&format!(">{status}<")), "{status}");
    }
    // Evidence: observed vs expected, message, chain, keys, exemption, tags.
    assert!(html.contains("1d16h"));
    assert!(html.contains("&lt;= 1d2h"));
    assert!(html.contains("older than the rule&#x27;s max_age"));
    assert!(html.contains("arn:aws:rds:us-east-1:222222222222:snapshot:payments-copy"));
    assert!(html.contains("arn:aws:kms:us-east-1:222222222222:key&#x2F;vault-key-id"));
    assert!(html.contains("alias&#x2F;rds-vault"));
    assert!(html.contains("Decommission ticket OPS-123"));
    assert!(html.contains("2027-01-31"));
    assert!(html.contains("Restored instance: not required by the rule"));
    // Human ages in the table, raw seconds only as sort keys.
    assert!(html.contains(">3h<"));
    assert!(html.contains("data-s=\"10800\""));
    // No error banner for a complete run.
    assert!(!html.contains("id=\"incomplete\""));
}

/// A source of rule `prod` with a restore-tested check and, unless `None`, a last drill
/// `(days ago, result, restore seconds)` judged against every = 30d, rto = 2h.
fn drilled(
    id: &str,
    status: CheckStatus,
    last: Option<(i64, &str, i64)>,
) -> crate::report::SourceReport {
    let mut s = source("111111111111", id, Status::Compliant);
    s.rule = Some("prod".to_string());
    s.checks = vec![crate::report::CheckResult {
        id: "restore-tested".to_string(),
        status,
        severity: crate::rules::Severity::High,
        observed: "observed".to_string(),
        expected: "<= 30d, <= 2h".to_string(),
        message: "message".to_string(),
    }];
    s.last_drill = last.map(|(days, result, seconds)| crate::report::LastDrill {
        replica_arn: format!("arn:aws:rds:us-east-1:222222222222:snapshot:{id}-copy"),
        at: at(6) - chrono::Duration::days(days),
        age_seconds: days * 86_400,
        result: result.to_string(),
        restore_seconds: Some(seconds),
        rto_seconds: 7_200,
        every_seconds: 30 * 86_400,
    });
    s
}

#[test]
fn each_source_shows_its_last_drill_and_the_summary_the_coverage() {
    let mut report = sample();
    let before = render(&report);
    assert!(!before.contains("Last restore drill"));
    assert!(
        !before.contains("id=\"drills\""),
        "no drill rule, no coverage table"
    );
    report.sources.extend([
        drilled("d-passed", CheckStatus::Pass, Some((3, "passed", 4_320))),
        drilled("d-slow", CheckStatus::Fail, Some((1, "passed", 10_920))),
        drilled("d-probe", CheckStatus::Fail, Some((2, "probe-failed", 600))),
        drilled("d-old", CheckStatus::Fail, Some((41, "passed", 600))),
        drilled("d-never", CheckStatus::Fail, None),
        drilled("d-none", CheckStatus::Skip, None),
    ]);
    let html = render(&report);
    // The evidence of each: when, result, restore time against the RTO.
    assert!(html.contains(
        "Last restore drill: 2026-11-21T06:00:00Z (3d ago; drill.every 30d) of arn:aws:rds:us-east-1:222222222222:snapshot:d-passed-copy: passed, restore took 1h12m against an RTO of 2h (within the RTO)"
    ), "{html}");
    assert!(html.contains("restore took 3h2m against an RTO of 2h (over the RTO)"));
    assert!(html.contains(": probe-failed, restore took 10m"));
    assert!(html.contains("(41d ago; drill.every 30d)"));
    assert!(html.contains(
        "Last restore drill: none: no replica carries drill evidence (run rdsguard drill)"
    ));
    assert_eq!(html.matches("<li class=\"drill\">").count(), 6);
    // The coverage: 6 with a drill rule, 3 drilled within every (not the 41-day-old one, nor the
    // two never drilled), one in each state.
    let table = html
        .split_once("id=\"drills\"")
        .and_then(|(_, rest)| rest.split_once("</table>"))
        .map(|(t, _)| t)
        .expect("the drill coverage table");
    assert!(table.contains(
        "Restore drills: 6 governed database(s) with a drill rule, 3 drilled within drill.every"
    ), "{table}");
    for label in [
        "passed within drill.every and the RTO",
        "over the RTO",
        "failed (restore or probe)",
        "older than drill.every",
        "never drilled",
        "not judged (no replica, or unreadable)",
    ] {
        assert!(
            table.contains(&format!(
                "{label}</span></th><td class=\"num\">1</td><td class=\"num\">17%</td>"
            )),
            "{label}: {table}"
        );
    }
    let coverage = crate::checks::restore_tested::drill_coverage(&report.sources);
    assert_eq!(
        coverage.line().as_deref(),
        Some("Restore drills: 1 of 6 database(s) with a drill rule passed within drill.every and the RTO; 1 over the RTO, 1 failed, 1 older than drill.every, 1 never drilled, 1 not judged")
    );
}

#[test]
fn errors_come_first_and_say_the_run_is_incomplete() {
    let mut report = sample();
    report.errors = vec![AwsError {
        account_id: "333333333333".to_string(),
        region: "eu-west-1".to_string(),
        operation: "AssumeRole".to_string(),
        code: "AccessDenied".to_string(),
        message: HOSTILE.to_string(),
        resource: None,
    }];
    report.unreadable_scopes = vec!["333333333333/eu-west-1".to_string()];
    report.warnings = vec!["exemption for legacy-* expired".to_string()];
    let html = render(&report);
    let banner = html.find("id=\"incomplete\"").expect("banner");
    assert!(banner < html.find("id=\"summary\"").expect("summary"));
    assert!(html.contains("AccessDenied"));
    assert!(html.contains("333333333333&#x2F;eu-west-1"));
    assert!(html.contains("exemption for legacy-* expired"));
    assert!(!html.contains("<script>alert"));

    // A source in ERROR alone also makes the run incomplete.
    let mut report = sample();
    report.sources[0].status = Status::Error;
    report.summary = Summary::count(&report.sources);
    assert!(render(&report).contains("id=\"incomplete\""));
}

#[test]
fn drift_since_the_baseline_is_shown() {
    let mut report = sample();
    assert!(
        !render(&report).contains("id=\"drift\""),
        "no baseline, no section"
    );
    let arn = "arn:aws:rds:us-east-1:111111111111:db:payments";
    report.drift = Some(
        serde_json::from_value(serde_json::json!({
            "baseline": {"run_id": "run-0", "as_of": at(1), "path": "reports/old/findings.json"},
            "age_threshold_seconds": 43_200,
            "new_failures": [{"arn": arn, "identifier": HOSTILE, "check": "replica-age", "observed": "1d16h"}],
            "resolved": [],
            "regressions": [{"arn": arn, "identifier": "payments", "kind": "key-changed",
                             "before": "key/a", "after": "key/b"}],
            "status_changes": [{"arn": arn, "identifier": "payments",
                                "before": "COMPLIANT", "after": "NON_COMPLIANT"}],
            "new_sources": [],
            "removed_sources": ["arn:aws:rds:us-east-1:111111111111:db:gone"]
        }))
        .unwrap(),
    );
    let html = render(&report);
    let drift = html.find("id=\"drift\"").expect("the drift section");
    assert!(drift < html.find("id=\"summary\"").expect("summary"));
    for needle in [
        "run-0",
        "2026-11-24T01:00:00Z",
        "1 new failure(s)",
        "Worse than the previous run",
        "key changed",
        "db:gone",
        "12h",
    ] {
        assert!(html.contains(needle), "drift lacks {needle}");
    }
    assert!(!html.contains("<script>alert"));
}

#[test]
fn an_empty_report_renders() {
    let html = render(&empty());
    assert_eq!(rows(&html), 0);
    assert!(html.contains("No databases were found"));
    assert!(html.contains("</html>"));
}

#[test]
fn rendering_is_deterministic() {
    assert_eq!(render(&sample()), render(&sample()));
}

#[test]
fn age_histogram_places_rpo_lines_and_counts() {
    assert_eq!(age_bin(0), 0);
    assert_eq!(age_bin(3_599), 0);
    assert_eq!(age_bin(3_600), 1);
    assert_eq!(age_bin(100 * 86_400), AGE_BINS.len());
    // 26h is 1/12 into the 1d-2d bin (bin 5).
    assert!((age_position(26 * 3_600) - (5.0 + 2.0 / 24.0)).abs() < 1e-9);
    let chart = charts::ages(&sample());
    let Plot::Histogram(histogram) = &chart.plot else {
        panic!("the age chart is a histogram")
    };
    // One RPO line, for the one rule, where 26h falls on the axis; labelled with its rule.
    assert_eq!(histogram.rpo.len(), 1);
    assert_eq!(histogram.rpo[0].label, "1d2h prod");
    // 44 + 56 * (5 + 2/24) = 328.67, to a tenth.
    assert_eq!(histogram.rpo[0].x, 328.7);
    // Twelve columns; a column's segments stack up from the axis.
    assert_eq!(histogram.columns.len(), AGE_BINS.len() + 1);
    let past = &histogram.columns[5];
    assert_eq!((past.label.as_str(), past.total), ("1d-2d", 1));
    assert_eq!(past.segments[0].fill, charts::Fill::Red);
    assert_eq!(
        past.segments[0].y + past.segments[0].height,
        histogram.rpo[0].y2
    );
    // The page draws it, label included.
    let html = render(&sample());
    let svg = &html[html.find("id=\"chart-ages-fig\"").expect("the age chart")..];
    assert!(svg[..svg.find("</svg>").expect("its end")].contains(">1d2h prod</text>"));
    assert!(chart.note.contains("2 source(s) have no replica"));
    let row = |label: &str| {
        chart
            .table
            .rows
            .iter()
            .find(|r| r[0] == label)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(row("3h-6h"), ["3h-6h", "1", "0", "0"]);
    assert_eq!(row("1d-2d"), ["1d-2d", "0", "1", "0"]);
}

#[test]
fn account_chart_shows_the_worst_accounts_first_and_caps_rows() {
    let mut report = empty();
    for i in 0..(MAX_CHART_ROWS + 5) {
        let account = format!("{:012}", i);
        let status = if i == 7 {
            Status::NonCompliant
        } else {
            Status::Compliant
        };
        report.sources.push(source(&account, "db", status));
    }
    report.summary = Summary::count(&report.sources);
    let chart = charts::by_account(&report);
    assert_eq!(chart.table.rows.len(), MAX_CHART_ROWS + 5);
    let Plot::Bars(bars) = &chart.plot else {
        panic!("the account chart is bars")
    };
    assert_eq!(bars.rows.len(), MAX_CHART_ROWS);
    assert_eq!(bars.rows[0].label, "000000000007", "worst account first");
    assert_eq!(bars.rows[1].label, "000000000000");
    assert!(chart.note.contains("of 45"));
    // The page draws one labelled bar per row.
    let html = render(&report);
    let svg = &html[html.find("id=\"chart-accounts-fig\"").expect("the chart")..];
    let svg = &svg[..svg.find("</svg>").expect("its end")];
    assert_eq!(svg.matches("text-anchor=\"end\"").count(), MAX_CHART_ROWS);
}

#[test]
fn bar_segments_fill_the_bar_in_status_order() {
    let chart = charts::by_rule(&sample(), &["prod".to_string()]);
    let Plot::Bars(bars) = &chart.plot else {
        panic!("the rule chart is bars")
    };
    let labels: Vec<&str> = bars.rows.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(labels, ["prod", "(no rule)"]);
    // prod: 1 NON_COMPLIANT, 1 COMPLIANT, 1 EXEMPT, a third of the 330-wide bar each, from x=230.
    let prod = &bars.rows[0];
    let parts: Vec<(f64, f64, &str, usize)> = prod
        .segments
        .iter()
        .map(|s| (s.x, s.width, s.status, s.count))
        .collect();
    assert_eq!(
        parts,
        [
            (230.0, 110.0, "NON_COMPLIANT", 1),
            (340.0, 110.0, "COMPLIANT", 1),
            (450.0, 110.0, "EXEMPT", 1)
        ]
    );
    assert_eq!(prod.compliance, "1 of 2 compliant (50%)");
    assert_eq!(bars.rows[1].compliance, "none governed");
}

#[test]
fn an_empty_report_says_so_in_the_bar_charts() {
    let html = render(&empty());
    assert_eq!(html.matches(">No sources.</text>").count(), 2);
    assert_eq!(html.matches("<svg ").count(), 3);
}

/// Markup comes only from the templates: they print no value unescaped.
#[test]
fn no_value_is_printed_safe() {
    for template in [TEMPLATE, CHARTS] {
        assert!(!template.contains("| safe") && !template.contains("|safe"));
    }
}

/// A report of 10,000 sources for the scale figures in docs/html-report.md:
/// `cargo test --lib output::html -- --ignored --nocapture` writes target/big-findings.json and
/// target/big-report.html and prints the size and the render time.
#[test]
#[ignore]
fn scale_10000_sources() {
    let report = big_report(10_000);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    std::fs::create_dir_all(&dir).unwrap();
    let mut json = Vec::new();
    crate::output::json::write(&report, &mut json).unwrap();
    std::fs::write(dir.join("big-findings.json"), &json).unwrap();
    let started = std::time::Instant::now();
    let html = render(&report);
    let elapsed = started.elapsed();
    std::fs::write(dir.join("big-report.html"), &html).unwrap();
    assert_eq!(rows(&html), 10_000);
    println!(
        "10000 sources: findings.json {} bytes, report.html {} bytes, rendered in {:?}",
        json.len(),
        html.len(),
        elapsed
    );
}
