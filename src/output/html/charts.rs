//! The summary's charts: compliance by account and by rule (stacked bars) and the newest replica's age
//! (a histogram with each rule's RPO). This module counts what they show and the tables under them;
//! [`plot`] lays them out in numbers; the SVG markup is the macros of `templates/charts.html.tera`,
//! which print all of it through Tera's autoescaping.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{account_label, percent, STATUSES};
use crate::checks::CheckId;
use crate::report::v1::ReportV1;
use crate::report::{CheckStatus, Status};
use crate::rules::format_seconds;

mod plot;

#[cfg(test)]
pub(super) use plot::{age_position, Fill};
use plot::{Bars, Histogram};

/// Bar charts show at most this many rows (the worst first); the data table under each shows all.
pub(super) const MAX_CHART_ROWS: usize = 40;

// ---------------------------------------------------------------------------------------------------
// What the template reads.

#[derive(Serialize)]
pub(super) struct ChartView {
    pub(super) id: &'static str,
    pub(super) heading: String,
    pub(super) note: String,
    /// The picture, drawn by the macro of its `kind` in `templates/charts.html.tera`.
    pub(super) plot: Plot,
    /// The same data as a table, under the chart.
    pub(super) table: ChartTable,
}

#[derive(Serialize)]
pub(super) struct ChartTable {
    pub(super) caption: String,
    pub(super) columns: Vec<String>,
    pub(super) rows: Vec<Vec<String>>,
}

#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(super) enum Plot {
    Bars(Bars),
    Histogram(Histogram),
}

// ---------------------------------------------------------------------------------------------------
// Counting.

/// Counts by status, in [`STATUSES`] order.
#[derive(Default, Clone)]
struct Tally([usize; 5]);

impl Tally {
    fn add(&mut self, status: Status) {
        if let Some(i) = STATUSES.iter().position(|(s, _, _)| *s == status) {
            self.0[i] += 1;
        }
    }
    fn get(&self, status: Status) -> usize {
        STATUSES
            .iter()
            .position(|(s, _, _)| *s == status)
            .map(|i| self.0[i])
            .unwrap_or(0)
    }
    fn total(&self) -> usize {
        self.0.iter().sum()
    }
    fn governed(&self) -> usize {
        self.get(Status::Compliant) + self.get(Status::NonCompliant) + self.get(Status::Error)
    }
    fn problems(&self) -> usize {
        self.get(Status::NonCompliant) + self.get(Status::Error)
    }
    fn compliance(&self) -> String {
        let governed = self.governed();
        if governed == 0 {
            "none governed".to_string()
        } else {
            format!(
                "{} of {} compliant ({})",
                self.get(Status::Compliant),
                governed,
                percent(self.get(Status::Compliant), governed)
            )
        }
    }
}

fn tally_table(caption: String, first: &str, rows: &[(String, Tally)]) -> ChartTable {
    let mut columns = vec![first.to_string()];
    columns.extend(STATUSES.iter().map(|(s, _, _)| s.as_str().to_string()));
    columns.push("Sources".to_string());
    columns.push("Compliance".to_string());
    ChartTable {
        caption,
        columns,
        rows: rows
            .iter()
            .map(|(label, tally)| {
                let mut row = vec![label.clone()];
                row.extend(tally.0.iter().map(usize::to_string));
                row.push(tally.total().to_string());
                row.push(tally.compliance());
                row
            })
            .collect(),
    }
}

pub(super) fn by_account(report: &ReportV1) -> ChartView {
    let mut tallies: BTreeMap<&str, Tally> = BTreeMap::new();
    for source in &report.sources {
        tallies
            .entry(source.db.account_id.as_str())
            .or_default()
            .add(source.status);
    }
    let mut rows: Vec<(String, Tally)> = tallies
        .into_iter()
        .map(|(id, tally)| (account_label(id, report.account_name(id)), tally))
        .collect();
    let table = tally_table(
        "Sources by account and status".to_string(),
        "Account",
        &rows,
    );
    let count = rows.len();
    // The chart shows the accounts with the most problems first.
    rows.sort_by_key(|row| std::cmp::Reverse(row.1.problems()));
    rows.truncate(MAX_CHART_ROWS);
    let note = if count > MAX_CHART_ROWS {
        format!(
            "The {MAX_CHART_ROWS} accounts with the most non-compliant or error sources, of {count}; the table lists all."
        )
    } else {
        format!("{count} account(s) with databases.")
    };
    ChartView {
        id: "chart-accounts",
        heading: "Compliance by account".to_string(),
        plot: Plot::Bars(plot::stacked_bars(
            "chart-accounts",
            "Compliance by account",
            &rows,
        )),
        note,
        table,
    }
}

pub(super) fn by_rule(report: &ReportV1, rule_ids: &[String]) -> ChartView {
    let mut rows: Vec<(String, Tally)> = rule_ids
        .iter()
        .map(|id| (id.clone(), Tally::default()))
        .collect();
    let mut none = Tally::default();
    for source in &report.sources {
        match &source.rule {
            Some(rule) => {
                if let Some((_, tally)) = rows.iter_mut().find(|(id, _)| id == rule) {
                    tally.add(source.status);
                }
            }
            None => none.add(source.status),
        }
    }
    if none.total() > 0 {
        rows.push(("(no rule)".to_string(), none));
    }
    let table = tally_table("Sources by rule and status".to_string(), "Rule", &rows);
    let count = rows.len();
    rows.truncate(MAX_CHART_ROWS);
    ChartView {
        id: "chart-rules",
        heading: "Compliance by rule".to_string(),
        plot: Plot::Bars(plot::stacked_bars("chart-rules", "Compliance by rule", &rows)),
        note: format!(
            "{count} rule(s); sources no rule selects are UNGOVERNED; exempt sources keep their rule."
        ),
        table,
    }
}

// ---------------------------------------------------------------------------------------------------
// Laying out.

/// Age bins (upper bounds, seconds): near-logarithmic, so hours and weeks both read.
pub(super) const AGE_BINS: [i64; 11] = [
    3_600,
    3 * 3_600,
    6 * 3_600,
    12 * 3_600,
    86_400,
    2 * 86_400,
    3 * 86_400,
    7 * 86_400,
    14 * 86_400,
    30 * 86_400,
    90 * 86_400,
];

pub(super) fn age_bin(age: i64) -> usize {
    AGE_BINS
        .iter()
        .position(|upper| age < *upper)
        .unwrap_or(AGE_BINS.len())
}

pub(super) fn bin_label(i: usize) -> String {
    match i {
        0 => format!("< {}", format_seconds(AGE_BINS[0])),
        i if i >= AGE_BINS.len() => format!(">= {}", format_seconds(AGE_BINS[AGE_BINS.len() - 1])),
        i => format!(
            "{}-{}",
            format_seconds(AGE_BINS[i - 1]),
            format_seconds(AGE_BINS[i])
        ),
    }
}

/// What the age histogram shows: per bin, sources whose newest replica is within its rule's max_age,
/// past it, or not judged; sources with no replica; each distinct max_age with the rules that have it.
struct AgeCounts<'a> {
    within: Vec<usize>,
    past: Vec<usize>,
    other: Vec<usize>,
    without: usize,
    rpo: BTreeMap<i64, Vec<&'a str>>,
}

pub(super) fn ages(report: &ReportV1) -> ChartView {
    let bins = AGE_BINS.len() + 1;
    let mut counts = AgeCounts {
        within: vec![0; bins],
        past: vec![0; bins],
        other: vec![0; bins],
        without: 0,
        rpo: BTreeMap::new(),
    };
    for source in &report.sources {
        let Some(replica) = &source.latest_replica else {
            counts.without += 1;
            continue;
        };
        let bin = age_bin(replica.age_seconds);
        match source
            .checks
            .iter()
            .find(|c| c.id == CheckId::REPLICA_AGE)
            .map(|c| c.status)
        {
            Some(CheckStatus::Pass) => counts.within[bin] += 1,
            Some(CheckStatus::Fail) => counts.past[bin] += 1,
            _ => counts.other[bin] += 1,
        }
    }
    // RPO lines: one per distinct max_age, naming its rules.
    for rule in &report.rules {
        counts
            .rpo
            .entry(rule.max_age_seconds)
            .or_default()
            .push(rule.id.as_str());
    }
    let AgeCounts {
        within,
        past,
        other,
        without,
        ..
    } = &counts;
    let table = ChartTable {
        caption: "Sources by age of the newest replica".to_string(),
        columns: ["Age", "Within max_age", "Past max_age", "Not judged"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        rows: (0..bins)
            .map(|i| {
                vec![
                    bin_label(i),
                    within[i].to_string(),
                    past[i].to_string(),
                    other[i].to_string(),
                ]
            })
            .chain(std::iter::once(vec![
                "no replica".to_string(),
                "-".to_string(),
                "-".to_string(),
                without.to_string(),
            ]))
            .collect(),
    };
    let without = *without;
    let histogram = plot::histogram(&counts);
    ChartView {
        id: "chart-ages",
        heading: "Replica age against each rule's RPO".to_string(),
        plot: Plot::Histogram(histogram),
        note: format!(
            "Dashed lines: each rule's max_age. {without} source(s) have no replica and are not in the histogram."
        ),
        table,
    }
}
