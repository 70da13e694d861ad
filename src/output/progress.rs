//! Remediation progress on a terminal: one line per database with its current step, redrawn in place.
//! Off a terminal nothing is drawn here (the log lines on stderr say the same, one per step).

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
}

impl Progress {
    /// `names`: (key, short label) per database, in plan order. Draws only when stderr is a terminal.
    /// Lines stay short (label and step name only): a wrapped line would break the redraw.
    #[allow(clippy::disallowed_methods)]
    pub fn new(names: Vec<(String, String)>, quiet: bool) -> Progress {
        // NO_COLOR asks for no colour; the display has none (it only moves the cursor), as
        // discovery's progress bars.
        let enabled = !quiet && std::io::stderr().is_terminal();
        Progress {
            state: Mutex::new(State {
                lines: names
                    .into_iter()
                    .map(|(key, label)| (key, label, "waiting".to_string()))
                    .collect(),
                drawn: 0,
                enabled,
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
        let width = state
            .lines
            .iter()
            .map(|(_, l, _)| l.len())
            .max()
            .unwrap_or(0);
        for (_, label, status) in &state.lines {
            text.push_str(&format!("\x1b[2K  {label:<width$}  {status}\n"));
        }
        state.drawn = state.lines.len();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }
}
