//! How far discovery has come: counters discovery updates as it reads, and the phase it is in, for a
//! display to sample (`output::discovery`) and for the run's phase timings in findings.json. Nothing
//! here prints.
//!
//! The long pole of a large audit is the vault's share reads, paced per account-region: the busiest
//! scope (the most share reads) bounds the wall time, so its progress and its pacer's rate give the
//! ETA.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The phases of a run, in order, as named in findings.json (`run.phases`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Listing the organization's accounts (the vault's first reads already under way).
    ListAccounts,
    /// Every scope's databases, and the destinations' snapshots.
    ReadDatabases,
    /// Who the judged snapshots are shared with; source snapshot lists; KMS keys.
    ReadShares,
    /// Where the rules' secrets point.
    ReadSecrets,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::ListAccounts => "list-accounts",
            Phase::ReadDatabases => "read-databases",
            Phase::ReadShares => "read-shares-and-keys",
            Phase::ReadSecrets => "read-secrets",
        }
    }

    /// What the phase is doing, for a person.
    pub fn doing(self) -> &'static str {
        match self {
            Phase::ListAccounts => "listing the organization's accounts",
            Phase::ReadDatabases => "reading databases and the vault's snapshots",
            Phase::ReadShares => "reading who the snapshots are shared with, and the keys",
            Phase::ReadSecrets => "reading where the restore secrets point",
        }
    }
}

/// A count of work: how much there is (once known) and how much is done.
#[derive(Debug, Default)]
pub struct Counter {
    total: AtomicUsize,
    done: AtomicUsize,
}

impl Counter {
    pub fn add_total(&self, n: usize) {
        self.total.fetch_add(n, Ordering::Relaxed);
    }

    pub fn done_one(&self) {
        self.done.fetch_add(1, Ordering::Relaxed);
    }

    /// (done, total)
    pub fn get(&self) -> (usize, usize) {
        (
            self.done.load(Ordering::Relaxed),
            self.total.load(Ordering::Relaxed),
        )
    }
}

/// The scope with the most share reads: `account/region`, its share reads, and its pacer's rate.
#[derive(Debug, Clone)]
struct Busiest {
    account: String,
    region: String,
    total: usize,
    per_second: f64,
}

/// The phase under way (and since when), and the phases done with their durations.
type Phases = (Option<(Phase, Instant)>, Vec<(Phase, Duration)>);

#[derive(Debug)]
pub struct Progress {
    started: Instant,
    /// The current phase and when it started; the phases before it with their durations.
    phases: Mutex<Phases>,
    pub scopes: Counter,
    pub shares: Counter,
    pub snapshot_lists: Counter,
    pub keys: Counter,
    pub secrets: Counter,
    busiest: Mutex<Option<Busiest>>,
    busiest_done: AtomicUsize,
}

impl Default for Progress {
    fn default() -> Self {
        Progress {
            started: Instant::now(),
            phases: Mutex::new((None, Vec::new())),
            scopes: Counter::default(),
            shares: Counter::default(),
            snapshot_lists: Counter::default(),
            keys: Counter::default(),
            secrets: Counter::default(),
            busiest: Mutex::new(None),
            busiest_done: AtomicUsize::new(0),
        }
    }
}

/// What a display shows at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub phase: Option<Phase>,
    pub elapsed: Duration,
    pub scopes: (usize, usize),
    pub shares: (usize, usize),
    pub snapshot_lists: (usize, usize),
    pub keys: (usize, usize),
    pub secrets: (usize, usize),
    /// The busiest scope's share reads: `account/region`, done, total, calls per second, and the
    /// seconds left at that rate.
    pub busiest: Option<BusiestSample>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BusiestSample {
    pub scope: String,
    pub done: usize,
    pub total: usize,
    pub per_second: f64,
    pub seconds_left: u64,
}

impl Progress {
    /// Ends the current phase (recording its duration) and starts `phase`.
    pub fn enter(&self, phase: Phase) {
        if let Ok(mut phases) = self.phases.lock() {
            let now = Instant::now();
            if let Some((previous, since)) = phases.0.take() {
                phases.1.push((previous, now - since));
            }
            phases.0 = Some((phase, now));
        }
    }

    /// Ends the current phase.
    pub fn finish(&self) {
        if let Ok(mut phases) = self.phases.lock() {
            if let Some((previous, since)) = phases.0.take() {
                phases.1.push((previous, since.elapsed()));
            }
        }
    }

    /// The phases done so far, with their durations.
    pub fn timings(&self) -> Vec<(Phase, Duration)> {
        self.phases
            .lock()
            .map(|phases| phases.1.clone())
            .unwrap_or_default()
    }

    /// The scope with the most share reads, and its pacer's rate: the one that bounds the wall time.
    pub fn set_busiest(&self, account: &str, region: &str, total: usize, per_second: f64) {
        if let Ok(mut busiest) = self.busiest.lock() {
            *busiest = Some(Busiest {
                account: account.to_string(),
                region: region.to_string(),
                total,
                per_second,
            });
        }
    }

    /// One share read done in `account`/`region`.
    pub fn share_done(&self, account: &str, region: &str) {
        self.shares.done_one();
        let busiest = self
            .busiest
            .lock()
            .ok()
            .and_then(|b| {
                b.as_ref()
                    .map(|b| b.account == account && b.region == region)
            })
            .unwrap_or(false);
        if busiest {
            self.busiest_done.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn sample(&self) -> Sample {
        let phase = self
            .phases
            .lock()
            .ok()
            .and_then(|phases| phases.0.map(|(phase, _)| phase));
        let busiest = self.busiest.lock().ok().and_then(|b| b.clone()).map(|b| {
            let done = self.busiest_done.load(Ordering::Relaxed).min(b.total);
            let left = (b.total - done) as f64;
            BusiestSample {
                scope: format!("{}/{}", b.account, b.region),
                done,
                total: b.total,
                per_second: b.per_second,
                seconds_left: (left / b.per_second.max(0.001)).ceil() as u64,
            }
        });
        Sample {
            phase,
            elapsed: self.started.elapsed(),
            scopes: self.scopes.get(),
            shares: self.shares.get(),
            snapshot_lists: self.snapshot_lists.get(),
            keys: self.keys.get(),
            secrets: self.secrets.get(),
            busiest,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_phases_and_the_busiest_scopes_eta() {
        let progress = Progress::default();
        progress.enter(Phase::ReadDatabases);
        progress.scopes.add_total(4);
        progress.scopes.done_one();
        progress.enter(Phase::ReadShares);
        progress.shares.add_total(30);
        progress.set_busiest("222222222222", "us-east-1", 20, 10.0);
        for _ in 0..5 {
            progress.share_done("222222222222", "us-east-1");
        }
        progress.share_done("111111111111", "us-east-1");
        let sample = progress.sample();
        assert_eq!(sample.phase, Some(Phase::ReadShares));
        assert_eq!(sample.scopes, (1, 4));
        assert_eq!(sample.shares, (6, 30));
        let busiest = sample.busiest.expect("busiest");
        assert_eq!(busiest.scope, "222222222222/us-east-1");
        assert_eq!((busiest.done, busiest.total), (5, 20));
        assert_eq!(busiest.seconds_left, 2, "15 left at 10/s");
        progress.finish();
        let phases: Vec<&str> = progress.timings().iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(phases, ["read-databases", "read-shares-and-keys"]);
        assert_eq!(progress.sample().phase, None);
    }
}
