//! Restart backoff (from Akka; OTP has none): `delay = min(max, min·2^n)·(1 + rand·jitter)`,
//! where `n` counts consecutive restarts and resets after a quiet period.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// Backoff policy of a supervisor.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Backoff {
    /// Delay before the first restart of a series.
    pub min: Duration,
    /// Cap of the exponential part (jitter is applied on top).
    pub max: Duration,
    /// Random factor: the delay is stretched by up to `jitter` (0.2 = up to 20 % longer).
    pub jitter: f64,
    /// A child that ran this long after its last restart starts a new series (n = 0).
    pub reset_after: Duration,
}

impl Backoff {
    /// No delay at all: restart at once (OTP's behaviour).
    pub const fn none() -> Self {
        Self {
            min: Duration::ZERO,
            max: Duration::ZERO,
            jitter: 0.0,
            reset_after: Duration::ZERO,
        }
    }

    /// For a tree's own parts (a store, a supervisor of sessions, a server): 100 ms doubling
    /// to 5 s, up to 20 % jitter, a new series after a quiet minute.
    pub const fn quick() -> Self {
        Self {
            min: Duration::from_millis(100),
            max: Duration::from_secs(5),
            jitter: 0.2,
            reset_after: Duration::from_secs(60),
        }
    }

    /// The delay before restart number `n` (0-based) of a series, with `unit_random` in `[0, 1)`.
    pub fn delay(&self, n: u32, unit_random: f64) -> Duration {
        let factor = 2f64.powi(n.min(62) as i32);
        let exponential = self.min.as_secs_f64() * factor;
        let capped = exponential.min(self.max.as_secs_f64());
        let jitter = self.jitter.max(0.0) * unit_random.clamp(0.0, 1.0);
        Duration::try_from_secs_f64(capped * (1.0 + jitter)).unwrap_or(Duration::MAX)
    }
}

impl Default for Backoff {
    /// 100 ms doubling to 10 s, up to 20 % jitter, reset after 30 s of quiet.
    fn default() -> Self {
        Self {
            min: Duration::from_millis(100),
            max: Duration::from_secs(10),
            jitter: 0.2,
            reset_after: Duration::from_secs(30),
        }
    }
}

/// Where one child stands in its backoff series.
#[derive(Debug, Clone, Default)]
pub struct BackoffState {
    consecutive: u32,
    last_restart: Option<Instant>,
}

impl BackoffState {
    /// Advances the series for a restart decided at `now` and returns `(n, delay)`: the
    /// 0-based position in the series and the delay to wait. A quiet period of at least
    /// `reset_after` since the last restart starts a new series.
    pub fn next(&mut self, policy: &Backoff, now: Instant, unit_random: f64) -> (u32, Duration) {
        if let Some(last) = self.last_restart
            && now.saturating_duration_since(last) >= policy.reset_after
        {
            self.consecutive = 0;
        }
        let n = self.consecutive;
        let delay = policy.delay(n, unit_random);
        self.consecutive = self.consecutive.saturating_add(1);
        self.last_restart = Some(now + delay);
        (n, delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Backoff {
        Backoff {
            min: Duration::from_millis(100),
            max: Duration::from_secs(1),
            jitter: 0.5,
            reset_after: Duration::from_secs(10),
        }
    }

    #[test]
    fn delays_double_from_min() {
        let p = policy();
        let ms: Vec<u128> = (0..4).map(|n| p.delay(n, 0.0).as_millis()).collect();
        assert_eq!(ms, vec![100, 200, 400, 800]);
    }

    #[test]
    fn delays_are_capped_at_max() {
        let p = policy();
        assert_eq!(p.delay(4, 0.0), Duration::from_secs(1));
        assert_eq!(p.delay(1000, 0.0), Duration::from_secs(1));
    }

    #[test]
    fn jitter_stays_within_bounds() {
        let p = policy();
        for i in 0..=100 {
            let r = i as f64 / 100.0;
            let d = p.delay(2, r);
            assert!(d >= Duration::from_millis(400), "{d:?}");
            assert!(d <= Duration::from_millis(600), "{d:?}");
        }
        assert_eq!(p.delay(2, 1.0), Duration::from_millis(600));
        assert_eq!(p.delay(20, 1.0), Duration::from_millis(1500));
    }

    #[test]
    fn none_never_waits() {
        assert_eq!(Backoff::none().delay(10, 0.9), Duration::ZERO);
    }

    #[test]
    fn series_grows_then_resets_after_a_quiet_period() {
        let p = policy();
        let t0 = Instant::now();
        let mut s = BackoffState::default();
        assert_eq!(s.next(&p, t0, 0.0), (0, Duration::from_millis(100)));
        assert_eq!(s.next(&p, t0 + Duration::from_secs(1), 0.0).0, 1);
        assert_eq!(s.next(&p, t0 + Duration::from_secs(2), 0.0).0, 2);
        // 10 s of quiet after the last restart (which happened at +2 s + 400 ms)
        let quiet = t0 + Duration::from_millis(2400) + Duration::from_secs(10);
        assert_eq!(s.next(&p, quiet, 0.0), (0, Duration::from_millis(100)));
    }

    #[test]
    fn the_quiet_period_counts_from_when_the_restart_happened() {
        // A 1 s delay: the restart happens at t0 + 1 s, so t0 + 10.5 s is only 9.5 s of quiet.
        let p = Backoff {
            min: Duration::from_secs(1),
            max: Duration::from_secs(1),
            jitter: 0.0,
            reset_after: Duration::from_secs(10),
        };
        let t0 = Instant::now();
        let mut s = BackoffState::default();
        assert_eq!(s.next(&p, t0, 0.0).0, 0);
        assert_eq!(s.next(&p, t0 + Duration::from_millis(10_500), 0.0).0, 1);
    }
}
