//! Discovery's progress on stderr, sampled from [`crate::discover::progress::Progress`]:
//! - on a terminal (and not `--log-format json`, not `-q`): a line for the phase with its counts, and
//!   while the share reads run, a bar for the busiest account-region with its rate and an ETA from
//!   its pacer; cleared when discovery ends;
//! - otherwise (a CI log, `--log-format json`): a `progress` log event every 30 seconds with the same
//!   numbers, so a nightly job's log shows it is alive;
//! - under `-q`: nothing.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::discover::progress::{Progress, Sample};

/// How often the terminal lines are redrawn.
const DRAW_EVERY: Duration = Duration::from_millis(200);
/// How often a progress event is logged when stderr is not a terminal.
pub const LOG_EVERY: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Lines redrawn in place on a terminal.
    Terminal,
    /// A log event every [`LOG_EVERY`].
    Log,
    Off,
}

impl Mode {
    /// The mode for this process: `-q` silences it; a terminal on stderr draws, unless the logs are
    /// JSON (a terminal that collects JSON logs wants events, not redrawn lines).
    #[allow(clippy::disallowed_methods)]
    pub fn detect(quiet: bool, json_logs: bool) -> Mode {
        if quiet {
            Mode::Off
        } else if !json_logs && std::io::stderr().is_terminal() {
            Mode::Terminal
        } else {
            Mode::Log
        }
    }
}

/// A running display; [`Watch::stop`] ends it (and clears the terminal lines).
pub struct Watch {
    stop: Arc<Notify>,
    task: JoinHandle<()>,
}

impl Watch {
    pub async fn stop(self) {
        self.stop.notify_one();
        let _ = self.task.await;
    }
}

/// Starts sampling `progress` in the background (None when `mode` is `Off`).
pub fn watch(progress: Arc<Progress>, mode: Mode) -> Option<Watch> {
    let stop = Arc::new(Notify::new());
    let task = match mode {
        Mode::Off => return None,
        Mode::Terminal => tokio::spawn(draw(progress, stop.clone())),
        Mode::Log => tokio::spawn(log(progress, stop.clone())),
    };
    Some(Watch { stop, task })
}

async fn draw(progress: Arc<Progress>, stop: Arc<Notify>) {
    let lines = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
    let phase = lines.add(ProgressBar::new_spinner());
    phase.set_style(
        ProgressStyle::with_template("{spinner} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let busiest = lines.add(ProgressBar::hidden());
    busiest.set_style(
        ProgressStyle::with_template("  {prefix} [{bar:24}] {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    loop {
        let sample = progress.sample();
        phase.set_message(summary(&sample));
        phase.tick();
        if let Some(b) = &sample.busiest {
            if busiest.is_hidden() {
                busiest.set_draw_target(ProgressDrawTarget::stderr());
            }
            busiest.set_length(b.total as u64);
            busiest.set_position(b.done as u64);
            busiest.set_prefix(format!("vault {}", b.scope));
            busiest.set_message(rate(b.done, b.total, b.per_second, b.seconds_left));
        }
        tokio::select! {
            () = stop.notified() => break,
            () = tokio::time::sleep(DRAW_EVERY) => {}
        }
    }
    busiest.finish_and_clear();
    phase.finish_and_clear();
    let _ = lines.clear();
}

async fn log(progress: Arc<Progress>, stop: Arc<Notify>) {
    loop {
        tokio::select! {
            () = stop.notified() => break,
            () = tokio::time::sleep(LOG_EVERY) => {}
        }
        let s = progress.sample();
        let (busiest, done, total, eta) = match &s.busiest {
            Some(b) => (b.scope.clone(), b.done, b.total, b.seconds_left),
            None => (String::new(), 0, 0, 0),
        };
        tracing::info!(
            target: "rdsguard::progress",
            phase = s.phase.map(|p| p.as_str()).unwrap_or("-"),
            elapsed_s = s.elapsed.as_secs(),
            scopes_done = s.scopes.0,
            scopes_total = s.scopes.1,
            shares_done = s.shares.0,
            shares_total = s.shares.1,
            keys_done = s.keys.0,
            keys_total = s.keys.1,
            busiest_scope = %busiest,
            busiest_done = done,
            busiest_total = total,
            eta_s = eta,
            "progress: {}",
            summary(&s)
        );
    }
}

/// `12,345`
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn count(name: &str, (done, total): (usize, usize)) -> Option<String> {
    (total > 0).then(|| format!("{name} {}/{}", thousands(done), thousands(total)))
}

/// `~4 min left`, `~40 s left`
fn left(seconds: u64) -> String {
    if seconds >= 120 {
        format!("~{} min left", seconds.div_ceil(60))
    } else {
        format!("~{seconds} s left")
    }
}

/// The busiest scope's share reads: `1,820 / 4,648 share reads, 11/s, ~4 min left`.
pub fn rate(done: usize, total: usize, per_second: f64, seconds_left: u64) -> String {
    format!(
        "{} / {} share reads, {}/s, {}",
        thousands(done),
        thousands(total),
        (per_second * 10.0).round() / 10.0,
        left(seconds_left)
    )
}

/// One line: what discovery is doing and its counts.
pub fn summary(sample: &Sample) -> String {
    let mut parts = vec![sample
        .phase
        .map(|p| p.doing().to_string())
        .unwrap_or_else(|| "starting".to_string())];
    parts.extend(
        [
            count("scopes", sample.scopes),
            count("share reads", sample.shares),
            count("snapshot lists", sample.snapshot_lists),
            count("keys", sample.keys),
            count("secrets", sample.secrets),
        ]
        .into_iter()
        .flatten(),
    );
    let elapsed = sample.elapsed.as_secs();
    parts.push(format!("{}m{:02}s", elapsed / 60, elapsed % 60));
    parts.join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::progress::Phase;

    #[test]
    fn the_lines_say_what_is_done_and_how_long_is_left() {
        let progress = Progress::default();
        progress.enter(Phase::ReadShares);
        progress.scopes.add_total(400);
        for _ in 0..400 {
            progress.scopes.done_one();
        }
        progress.shares.add_total(4648);
        progress.set_busiest("222222222222", "us-east-1", 4648, 11.0);
        for _ in 0..1820 {
            progress.share_done("222222222222", "us-east-1");
        }
        let sample = progress.sample();
        let line = summary(&sample);
        assert!(
            line.starts_with("reading who the snapshots are shared with, and the keys · scopes 400/400 · share reads 1,820/4,648 · "),
            "{line}"
        );
        let b = sample.busiest.expect("busiest");
        assert_eq!(
            rate(b.done, b.total, b.per_second, b.seconds_left),
            "1,820 / 4,648 share reads, 11/s, ~5 min left"
        );
        assert_eq!(left(40), "~40 s left");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
