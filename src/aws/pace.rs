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
                match self.take(&mut state, Instant::now()) {
                    None => return,
                    Some(pause) => pause,
                }
            };
            tokio::time::sleep(pause).await;
        }
    }

    /// The bucket at `now`: takes a token and returns `None` (the call may go), or returns how long
    /// until the next token.
    fn take(&self, state: &mut (f64, Instant), now: Instant) -> Option<Duration> {
        let (tokens, last) = *state;
        let tokens =
            (tokens + now.duration_since(last).as_secs_f64() * self.per_second).min(self.burst);
        if tokens >= 1.0 {
            *state = (tokens - 1.0, now);
            return None;
        }
        *state = (tokens, now);
        Some(Duration::from_secs_f64((1.0 - tokens) / self.per_second))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bucket itself, on a clock the test moves: the burst goes at once, then one call per
    /// `1 / per_second`, and the bucket never holds more than the burst.
    #[test]
    fn a_burst_then_the_steady_rate_and_never_more_than_the_burst() {
        let pacer = Pacer::new(5.0, 50.0);
        let t0 = Instant::now();
        let mut state = (5.0, t0);
        for call in 0..5 {
            assert_eq!(
                pacer.take(&mut state, t0),
                None,
                "call {call} of the burst waits"
            );
        }
        let pause = pacer.take(&mut state, t0).expect("the sixth waits");
        assert!((pause.as_secs_f64() - 0.02).abs() < 1e-9, "{pause:?}");
        // 20 ms later one token has come back, and only one.
        let t1 = t0 + Duration::from_millis(20);
        assert_eq!(pacer.take(&mut state, t1), None);
        assert!(pacer.take(&mut state, t1).is_some());
        // An hour idle refills the burst, not 180,000 calls' worth.
        let t2 = t1 + Duration::from_secs(3600);
        for _ in 0..5 {
            assert_eq!(pacer.take(&mut state, t2), None);
        }
        assert!(pacer.take(&mut state, t2).is_some(), "more than the burst");
    }

    /// And `wait` sleeps for it: 5 calls of burst then 10 at 50 per second cannot take less than
    /// 0.18 s (the first refill comes while the burst goes). Only lower bounds of time: a slow
    /// machine makes it slower, never wrong.
    #[tokio::test]
    async fn wait_holds_calls_to_the_rate() {
        let pacer = Pacer::new(5.0, 50.0);
        let start = Instant::now();
        for _ in 0..15 {
            pacer.wait().await;
        }
        let total = start.elapsed().as_secs_f64();
        assert!(total >= 0.18, "held to the rate: {total}");
        assert!(total < 30.0, "and not stuck: {total}");
    }
}
