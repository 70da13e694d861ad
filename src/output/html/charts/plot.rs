//! Where the charts are drawn: every position and size a number, every colour one of [`Fill`], every
//! text plain text. `templates/charts.html.tera` turns these into SVG, printing all of it through
//! Tera's autoescaping. Its items are `pub` for the page module that renders them (this module is
//! private to [`super`]).

use serde::Serialize;

use super::{age_bin, bin_label, AgeCounts, Tally, AGE_BINS};
use crate::output::html::STATUSES;
use crate::report::Status;
use crate::rules::format_seconds;

/// Chart colours, printed as the `fill` of a shape: each at least 3:1 against white (WCAG non-text
/// contrast); every segment also has a text label or a legend entry, so no status is told by colour
/// alone.
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fill {
    #[serde(rename = "#2e7d32")]
    Green,
    #[serde(rename = "#c62828")]
    Red,
    #[serde(rename = "#a15c00")]
    Amber,
    #[serde(rename = "#3949ab")]
    Indigo,
    #[serde(rename = "#6b6b6b")]
    Grey,
    #[serde(rename = "#000000")]
    Black,
}

impl Fill {
    fn of(status: Status) -> Fill {
        match status {
            Status::Compliant => Fill::Green,
            Status::NonCompliant => Fill::Red,
            Status::Error => Fill::Amber,
            Status::Exempt => Fill::Indigo,
            Status::Ungoverned => Fill::Grey,
        }
    }
}

/// A coordinate or length with a fraction, rounded to a tenth exactly as `{:.1}` prints it: the SVG
/// needs no more, and the page stays small.
fn tenth(value: f64) -> f64 {
    format!("{value:.1}").parse().unwrap_or(value)
}

/// What every chart's `<svg>` carries: its size, a title and a description that states its data
/// (`role="img"`), and a legend along the top.
#[derive(Serialize)]
pub struct Frame {
    pub id: &'static str,
    pub width: u32,
    pub height: u32,
    pub title: String,
    pub desc: String,
    pub legend: Vec<LegendItem>,
}

#[derive(Serialize)]
pub struct LegendItem {
    pub x: u32,
    pub y: u32,
    pub size: u32,
    pub text_x: u32,
    pub text_y: u32,
    pub label: &'static str,
    pub fill: Fill,
}

/// One 100%-wide bar per row, split by status, with the row's label and its compliance in text.
#[derive(Serialize)]
pub struct Bars {
    pub frame: Frame,
    /// Where "No sources." is written when there are no rows.
    pub empty_y: u32,
    pub rows: Vec<BarRow>,
}

#[derive(Serialize)]
pub struct BarRow {
    /// The whole label, for each segment's tooltip.
    pub label: String,
    /// The label as written left of the bar, cut to fit.
    pub short_label: String,
    /// The right end of the label (it is right-aligned) and the text baseline of the row.
    pub label_x: u32,
    pub text_y: u32,
    pub y: u32,
    pub height: u32,
    pub segments: Vec<Segment>,
    pub compliance: String,
    pub compliance_x: u32,
}

#[derive(Serialize)]
pub struct Segment {
    pub x: f64,
    pub width: f64,
    pub fill: Fill,
    pub count: usize,
    pub status: &'static str,
}

/// Columns per age bin, stacked within / past max_age / not judged, a y axis, and one dashed
/// vertical line per distinct max_age.
#[derive(Serialize)]
pub struct Histogram {
    pub frame: Frame,
    pub grid: Vec<GridLine>,
    pub columns: Vec<Column>,
    /// The x axis title's centre and baseline.
    pub axis_x: f64,
    pub axis_y: f64,
    pub rpo: Vec<RpoLine>,
}

/// A horizontal grid line across the plot, its value written left of it.
#[derive(Serialize)]
pub struct GridLine {
    pub x1: u32,
    pub x2: u32,
    pub y: f64,
    pub label_x: u32,
    pub label_y: f64,
    pub value: usize,
}

#[derive(Serialize)]
pub struct Column {
    pub label: String,
    pub x: f64,
    pub width: f64,
    /// Bottom up.
    pub segments: Vec<ColumnSegment>,
    /// The column's count, written above it when not zero, and its label under the axis.
    pub total: usize,
    pub center_x: f64,
    pub total_y: f64,
    pub label_y: f64,
}

#[derive(Serialize)]
pub struct ColumnSegment {
    pub y: f64,
    pub height: f64,
    pub fill: Fill,
    pub count: usize,
    pub what: &'static str,
}

#[derive(Serialize)]
pub struct RpoLine {
    pub x: f64,
    pub y1: f64,
    pub y2: f64,
    /// `<max_age> <rule ids>`: whole in the tooltip, cut to fit beside the line.
    pub label: String,
    pub short_label: String,
    pub label_x: f64,
    pub label_y: f64,
}

/// Cuts `text` to `max` characters, with an ellipsis.
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
        out.push('\u{2026}');
        out
    }
}

/// Legend entries in a row at the top, each as wide as its label.
fn legend(items: &[(&'static str, Fill)], y: u32) -> Vec<LegendItem> {
    let mut x = 0u32;
    items
        .iter()
        .map(|(label, fill)| {
            let item = LegendItem {
                x,
                y,
                size: 12,
                text_x: x + 16,
                text_y: y + 10,
                label,
                fill: *fill,
            };
            x += 24 + 7 * label.len() as u32;
            item
        })
        .collect()
}

pub(super) fn stacked_bars(id: &'static str, title: &str, rows: &[(String, Tally)]) -> Bars {
    const LABEL: u32 = 230;
    const BAR: f64 = 330.0;
    const ROW: u32 = 24;
    const TOP: u32 = 28;
    let width = LABEL + BAR as u32 + 190;
    let height = TOP + ROW * rows.len().max(1) as u32 + 6;
    let desc = rows
        .iter()
        .map(|(label, tally)| format!("{label}: {}", tally.compliance()))
        .collect::<Vec<_>>()
        .join("; ");
    let items: Vec<(&'static str, Fill)> = STATUSES
        .iter()
        .map(|(s, _, _)| (s.as_str(), Fill::of(*s)))
        .collect();
    let rows = rows
        .iter()
        .enumerate()
        .map(|(i, (label, tally))| {
            let y = TOP + ROW * i as u32;
            let total = tally.total().max(1) as f64;
            let mut x = f64::from(LABEL);
            let mut segments = Vec::new();
            for (j, (status, _, _)) in STATUSES.iter().enumerate() {
                let n = tally.0[j];
                if n == 0 {
                    continue;
                }
                let w = BAR * n as f64 / total;
                segments.push(Segment {
                    x: tenth(x),
                    width: tenth(w),
                    fill: Fill::of(*status),
                    count: n,
                    status: status.as_str(),
                });
                x += w;
            }
            BarRow {
                label: label.clone(),
                short_label: clip(label, 32),
                label_x: LABEL - 8,
                text_y: y + 14,
                y,
                height: 18,
                segments,
                compliance: tally.compliance(),
                compliance_x: LABEL + BAR as u32 + 8,
            }
        })
        .collect();
    Bars {
        frame: Frame {
            id,
            width,
            height,
            title: title.to_string(),
            desc,
            legend: legend(&items, 4),
        },
        empty_y: TOP + 14,
        rows,
    }
}

/// Where an age falls on the histogram's x axis, in bins (linear within a bin).
pub fn age_position(age: i64) -> f64 {
    let bin = age_bin(age);
    let lower = if bin == 0 { 0 } else { AGE_BINS[bin - 1] };
    match AGE_BINS.get(bin) {
        Some(upper) => bin as f64 + (age - lower).max(0) as f64 / (upper - lower) as f64,
        None => AGE_BINS.len() as f64 + 0.5,
    }
}

/// Columns per age bin, a y axis, and one dashed vertical line per distinct max_age (RPO).
pub(super) fn histogram(counts: &AgeCounts) -> Histogram {
    let AgeCounts {
        within,
        past,
        other,
        without,
        rpo,
    } = counts;
    let without = *without;
    let bins = AGE_BINS.len() + 1;
    const LEFT: f64 = 44.0;
    const COL: f64 = 56.0;
    const TOP: f64 = 30.0;
    const PLOT: f64 = 180.0;
    let lines_h = 14.0 * rpo.len() as f64;
    let width = (LEFT + COL * bins as f64 + 20.0) as u32;
    let height = (TOP + lines_h + PLOT + 44.0) as u32;
    let base = TOP + lines_h + PLOT;
    let max = (0..bins)
        .map(|i| within[i] + past[i] + other[i])
        .max()
        .unwrap_or(0)
        .max(1);
    let scale = PLOT / max as f64;

    let rpo_text = rpo
        .iter()
        .map(|(age, ids)| format!("{} (max_age {})", ids.join(", "), format_seconds(*age)))
        .collect::<Vec<_>>()
        .join("; ");
    let desc = format!(
        "Histogram of the newest replica's age per source, {} bins from under 1h to over 90d; bars split into within and past the rule's max_age. RPO lines: {}. {} source(s) have no replica.",
        bins,
        if rpo_text.is_empty() { "none" } else { &rpo_text },
        without
    );
    let frame = Frame {
        id: "chart-ages",
        width,
        height,
        title: "Newest replica age".to_string(),
        desc,
        legend: legend(
            &[
                ("within max_age", Fill::of(Status::Compliant)),
                ("past max_age", Fill::of(Status::NonCompliant)),
                ("not judged", Fill::of(Status::Ungoverned)),
                ("rule max_age (RPO)", Fill::Black),
            ],
            4,
        ),
    };
    // Y axis: 0, max, and half when that is a whole number of sources worth showing.
    let grid = [0, max]
        .into_iter()
        .chain((max >= 4).then_some(max / 2))
        .map(|value| {
            let y = base - value as f64 * scale;
            GridLine {
                x1: LEFT as u32,
                x2: (LEFT + COL * bins as f64) as u32,
                y: tenth(y),
                label_x: (LEFT - 4.0) as u32,
                label_y: tenth(y + 4.0),
                value,
            }
        })
        .collect();
    let columns = (0..bins)
        .map(|i| {
            let x = LEFT + COL * i as f64 + 6.0;
            let mut y = base;
            let mut segments = Vec::new();
            for (n, fill, what) in [
                (within[i], Fill::of(Status::Compliant), "within max_age"),
                (past[i], Fill::of(Status::NonCompliant), "past max_age"),
                (other[i], Fill::of(Status::Ungoverned), "not judged"),
            ] {
                if n == 0 {
                    continue;
                }
                let h = n as f64 * scale;
                y -= h;
                segments.push(ColumnSegment {
                    y: tenth(y),
                    height: tenth(h),
                    fill,
                    count: n,
                    what,
                });
            }
            Column {
                label: bin_label(i),
                x: tenth(x),
                width: tenth(COL - 12.0),
                segments,
                total: within[i] + past[i] + other[i],
                center_x: tenth(x + (COL - 12.0) / 2.0),
                total_y: tenth(y - 3.0),
                label_y: tenth(base + 16.0),
            }
        })
        .collect();
    let rpo_lines = rpo
        .iter()
        .enumerate()
        .map(|(k, (age, ids))| {
            let x = LEFT + COL * age_position(*age);
            let label_y = TOP + 10.0 + 14.0 * k as f64;
            let label = format!("{} {}", format_seconds(*age), ids.join(", "));
            RpoLine {
                x: tenth(x),
                y1: tenth(label_y + 2.0),
                y2: tenth(base),
                short_label: clip(&label, 48),
                label,
                label_x: tenth(x + 3.0),
                label_y: tenth(label_y),
            }
        })
        .collect();
    Histogram {
        frame,
        grid,
        columns,
        axis_x: tenth(LEFT + COL * bins as f64 / 2.0),
        axis_y: tenth(base + 34.0),
        rpo: rpo_lines,
    }
}
