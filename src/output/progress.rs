//! Remediation progress on a terminal: one line per database with its current step, redrawn in place.
//! Off a terminal nothing is drawn here (the log lines on stderr say the same, one per step). More
//! databases than the screen has lines: the ones at work are drawn, and a last line counts them all
//! (a block taller than the screen cannot be redrawn in place: it would scroll on every update).

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use crate::remediate;

pub struct Progress {
    state: Mutex<State>,
}

struct State {
    /// (key, label, status) per database.
    lines: Vec<(String, String, String)>,
    drawn: usize,
    enabled: bool,
    /// The terminal's (columns, rows less the cursor's line): the block may take no more, as a
    /// wrapped or scrolled line cannot be redrawn in place.
    room: Option<(usize, usize)>,
}

impl Progress {
    /// `names`: (key, short label) per database, in plan order. Draws only when stderr is a terminal.
    /// Lines stay short (label and step name only): a wrapped line would break the redraw.
    #[allow(clippy::disallowed_methods)]
    pub fn new(names: Vec<(String, String)>, quiet: bool) -> Progress {
        // NO_COLOR asks for no colour; the display has none (it only moves the cursor), as
        // discovery's progress bars.
        let enabled = !quiet && std::io::stderr().is_terminal();
        let room = terminal_size::terminal_size_of(std::io::stderr())
            .map(|(width, height)| {
                (
                    usize::from(width.0),
                    usize::from(height.0).saturating_sub(1),
                )
            })
            .filter(|(columns, rows)| *columns > 0 && *rows > 0);
        Progress {
            state: Mutex::new(State {
                lines: names
                    .into_iter()
                    .map(|(key, label)| (key, label, "waiting".to_string()))
                    .collect(),
                drawn: 0,
                enabled,
                room,
            }),
        }
    }
}

impl Progress {
    /// One line per database, keyed by its ARN and labelled `ACCOUNT/REGION IDENTIFIER` (at most 60
    /// characters): `(arn, account, region, identifier)` each, in plan order.
    pub fn databases<'a>(
        databases: impl IntoIterator<Item = (&'a str, &'a str, &'a str, &'a str)>,
        quiet: bool,
    ) -> std::sync::Arc<Progress> {
        let names = databases
            .into_iter()
            .map(|(arn, account, region, identifier)| {
                let label = format!("{account}/{region} {identifier}");
                (arn.to_string(), label.chars().take(60).collect())
            })
            .collect();
        std::sync::Arc::new(Progress::new(names, quiet))
    }
}

impl remediate::Progress for Progress {
    fn enabled(&self) -> bool {
        self.state.lock().map(|s| s.enabled).unwrap_or(false)
    }

    /// Sets the status of one database (by key) and redraws the block.
    #[allow(clippy::disallowed_methods)]
    fn update(&self, key: &str, status: &str) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        if !state.enabled {
            return;
        }
        if let Some(line) = state.lines.iter_mut().find(|(k, _, _)| k == key) {
            line.2 = status.chars().take(40).collect();
        }
        let mut out = std::io::stderr().lock();
        let mut text = String::new();
        if state.drawn > 0 {
            // Back to the top of the block.
            text.push_str(&format!("\x1b[{}F", state.drawn));
        }
        let block = block(&state.lines, state.room);
        for line in &block {
            text.push_str(&format!("\x1b[2K{line}\n"));
        }
        state.drawn = block.len();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }
}

/// Where a database stands, for choosing what a short screen shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    /// At a step (or, on Step Functions, in a round).
    Working,
    Failed,
    Waiting,
    Done,
}

/// From the status's first word: remediation's `done` and `FAILED at …`, the Step Functions
/// engine's `… (--resume)`, a drill's result (`passed in 3m2s`, `probe-failed in 41s`, `…, NOT
/// deleted`); anything else is a step at work.
fn stage(status: &str) -> Stage {
    use crate::tags::{DRILL_PASSED, DRILL_PROBE_FAILED, DRILL_RESTORE_FAILED};
    let first = status.split([' ', ',']).next().unwrap_or_default();
    if status.ends_with("(--resume)") || status.ends_with("NOT deleted") {
        return Stage::Failed;
    }
    match first {
        "waiting" => Stage::Waiting,
        "done" => Stage::Done,
        w if w == DRILL_PASSED => Stage::Done,
        w if [
            "FAILED",
            DRILL_PROBE_FAILED,
            DRILL_RESTORE_FAILED,
            "interrupted",
        ]
        .contains(&w) =>
        {
            Stage::Failed
        }
        _ => Stage::Working,
    }
}

/// The block's lines: every database, or, when they are more than the room's rows, the first
/// `rows - 1` in the order working, failed, waiting, done (kept in plan order), then a line that
/// counts them all; each cut to the room's columns less one.
fn block(lines: &[(String, String, String)], room: Option<(usize, usize)>) -> Vec<String> {
    let shown: Vec<usize> = match room {
        Some((_, room)) if lines.len() > room => {
            let mut order: Vec<usize> = (0..lines.len()).collect();
            order.sort_by_key(|i| (stage(&lines[*i].2), *i));
            let mut first: Vec<usize> = order.into_iter().take(room.saturating_sub(1)).collect();
            first.sort_unstable();
            first
        }
        _ => (0..lines.len()).collect(),
    };
    let width = shown.iter().map(|i| lines[*i].1.len()).max().unwrap_or(0);
    let mut block: Vec<String> = shown
        .iter()
        .map(|i| {
            let (_, label, status) = &lines[*i];
            format!("  {label:<width$}  {status}")
        })
        .collect();
    if shown.len() < lines.len() {
        let count = |wanted: Stage| lines.iter().filter(|l| stage(&l.2) == wanted).count();
        block.push(format!(
            "  {} databases: {} at work, {} waiting, {} done, {} stopped ({} not shown)",
            lines.len(),
            count(Stage::Working),
            count(Stage::Waiting),
            count(Stage::Done),
            count(Stage::Failed),
            lines.len() - shown.len()
        ));
    }
    if let Some((columns, _)) = room {
        for line in &mut block {
            *line = line.chars().take(columns.saturating_sub(1)).collect();
        }
    }
    block
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(statuses: &[&str]) -> Vec<(String, String, String)> {
        statuses
            .iter()
            .enumerate()
            .map(|(n, s)| (format!("k{n}"), format!("db{n}"), s.to_string()))
            .collect()
    }

    #[test]
    fn each_status_has_its_stage() {
        for (status, wanted) in [
            ("waiting", Stage::Waiting),
            ("snapshot", Stage::Working),
            ("copy queued (5 in flight to eu-west-1)", Stage::Working),
            ("round 2 in us-east-1", Stage::Working),
            ("round 2 done", Stage::Working),
            ("done", Stage::Done),
            ("passed in 3m2s", Stage::Done),
            ("FAILED at share: KMSKeyNotAccessibleFault", Stage::Failed),
            ("FAILED at snapshot", Stage::Failed),
            ("still running (--resume)", Stage::Failed),
            ("not started (--resume)", Stage::Failed),
            ("probe-failed in 41s", Stage::Failed),
            ("restore-failed", Stage::Failed),
            ("passed in 1m, NOT deleted", Stage::Failed),
        ] {
            assert_eq!(stage(status), wanted, "{status}");
        }
    }

    #[test]
    fn every_database_is_drawn_when_the_screen_has_room() {
        let all = lines(&["snapshot", "waiting", "done"]);
        assert_eq!(
            block(&all, Some((80, 3))),
            vec!["  db0  snapshot", "  db1  waiting", "  db2  done"]
        );
        assert_eq!(block(&all, None).len(), 3, "no height known: all of them");
    }

    #[test]
    fn a_short_screen_shows_the_databases_at_work_then_a_count_of_all() {
        let all = lines(&[
            "done",
            "waiting",
            "copy",
            "FAILED at share: KMSKeyNotAccessibleFault",
            "round 2 in us-east-1",
            "waiting",
            "done",
            "not started (--resume)",
        ]);
        let drawn = block(&all, Some((100, 4)));
        assert_eq!(
            drawn,
            vec![
                "  db2  copy",
                "  db3  FAILED at share: KMSKeyNotAccessibleFault",
                "  db4  round 2 in us-east-1",
                "  8 databases: 2 at work, 2 waiting, 2 done, 2 stopped (5 not shown)",
            ]
        );
        // The block never takes more than the room it has, so it can be redrawn in place.
        for rows in 1..10 {
            assert!(block(&all, Some((80, rows))).len() <= rows, "{rows}");
        }
        // Nor a line wider than the screen: a wrapped line takes two.
        let narrow = block(&all, Some((20, 4)));
        assert!(narrow.iter().all(|l| l.chars().count() <= 19), "{narrow:?}");
        assert_eq!(narrow[0], "  db2  copy");
    }
}
