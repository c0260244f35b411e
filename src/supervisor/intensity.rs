//! Restart intensity: OTP's "at most `max_restarts` restarts within `period`" sliding window.
//!
//! Pure bookkeeping over timestamps; the supervisor asks it after every restart whether it must
//! give up and escalate.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// Sliding window of recent restart times.
#[derive(Debug, Clone)]
pub struct RestartIntensity {
    max_restarts: u32,
    period: Duration,
    history: VecDeque<Instant>,
}

impl RestartIntensity {
    /// A window allowing `max_restarts` restarts within any `period`.
    pub fn new(max_restarts: u32, period: Duration) -> Self {
        Self {
            max_restarts,
            period,
            history: VecDeque::new(),
        }
    }

    /// Records a restart at `now`. Returns `true` when this restart makes more than
    /// `max_restarts` within the last `period`: the supervisor must escalate.
    pub fn record(&mut self, now: Instant) -> bool {
        self.forget_before(now);
        self.history.push_back(now);
        self.history.len() > self.max_restarts as usize
    }

    /// How many restarts lie within the window ending at `now`.
    pub fn in_window(&mut self, now: Instant) -> usize {
        self.forget_before(now);
        self.history.len()
    }

    /// Drops restarts older than the period (OTP keeps those with `now - t < period`).
    fn forget_before(&mut self, now: Instant) {
        while let Some(&oldest) = self.history.front() {
            if now.saturating_duration_since(oldest) >= self.period {
                self.history.pop_front();
            } else {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Duration = Duration::from_secs(1);

    #[test]
    fn allows_max_restarts_then_exceeds_on_the_next() {
        let t0 = Instant::now();
        let mut w = RestartIntensity::new(3, 5 * SEC);
        assert!(!w.record(t0));
        assert!(!w.record(t0 + SEC));
        assert!(!w.record(t0 + 2 * SEC));
        assert!(
            w.record(t0 + 3 * SEC),
            "the fourth restart within 5 s exceeds 3"
        );
    }

    #[test]
    fn zero_max_restarts_exceeds_on_first_restart() {
        let mut w = RestartIntensity::new(0, 5 * SEC);
        assert!(w.record(Instant::now()));
    }

    #[test]
    fn window_slides_so_spread_out_restarts_never_exceed() {
        let t0 = Instant::now();
        let mut w = RestartIntensity::new(2, 5 * SEC);
        for i in 0..20u32 {
            assert!(
                !w.record(t0 + 3 * SEC * i),
                "restart {i} is 3 s after the previous"
            );
        }
        assert_eq!(w.in_window(t0 + 3 * SEC * 19), 2);
    }

    #[test]
    fn restart_exactly_one_period_later_has_left_the_window() {
        let t0 = Instant::now();
        let mut w = RestartIntensity::new(1, 5 * SEC);
        assert!(!w.record(t0));
        assert!(!w.record(t0 + 5 * SEC));
        assert!(w.record(t0 + 6 * SEC));
    }
}
