//! Client-side pacing of RDS calls, per account and region: RDS throttles each account in each region
//! (documented: a burst of 300 requests, then 12 per second), so rdsguard stays under that instead of
//! spending its retries on `Throttling` answers.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// Below RDS's documented limits, leaving room for other tools in the same account.
pub const BURST: f64 = 250.0;
pub const PER_SECOND: f64 = 11.0;

/// A token bucket: `wait` returns when a call may go.
pub struct Pacer {
    state: Mutex<(f64, Instant)>,
    burst: f64,
    per_second: f64,
}

impl Pacer {
    pub fn new(burst: f64, per_second: f64) -> Pacer {
        Pacer {
            state: Mutex::new((burst, Instant::now())),
            burst,
            per_second,
        }
    }

    /// The steady rate, in calls per second (after the burst).
    pub fn per_second(&self) -> f64 {
        self.per_second
    }

    pub async fn wait(&self) {
        loop {
            let pause = {
                let mut state = self.state.lock().await;
                let now = Instant::now();
                let (tokens, last) = *state;
                let tokens = (tokens + now.duration_since(last).as_secs_f64() * self.per_second)
                    .min(self.burst);
                if tokens >= 1.0 {
                    *state = (tokens - 1.0, now);
                    return;
                }
                *state = (tokens, now);
                Duration::from_secs_f64((1.0 - tokens) / self.per_second)
            };
            tokio::time::sleep(pause).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Behaviour, not speed: the burst passes without waiting, the rest is held to the rate.
    #[tokio::test]
    async fn a_burst_then_the_steady_rate() {
        let pacer = Pacer::new(5.0, 50.0);
        let start = Instant::now();
        for _ in 0..5 {
            pacer.wait().await;
        }
        let burst = start.elapsed();
        for _ in 0..10 {
            pacer.wait().await;
        }
        let total = start.elapsed().as_secs_f64();
        assert!(
            burst < Duration::from_millis(100),
            "the burst goes at once: {burst:?}"
        );
        // 10 more at 50 per second cannot take less than 0.2 s (minus the first refill).
        assert!(total >= 0.18, "held to the rate: {total}");
        assert!(total < 5.0, "and not stuck: {total}");
    }
}
