//! The gate every attempt passes (pure: the time is given). A throttle from any worker closes it:
//! until the advertised reset of the account's window (+ jitter) when one is known — then it opens
//! for everyone; otherwise for a backoff that doubles with each throttle in a row
//! (`governor.min_backoff` → `governor.max_backoff`, never shorter than a retry-after the API
//! asked for), after which one probe attempt at a time goes through, and the first success opens
//! it for everyone. A retry-after is a hint about one call, not a promise about the account: the
//! fleet follows a probe, not the hint.

use std::time::Duration;

use tokio::time::Instant;

/// A throttle signal from a worker.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Throttle {
    /// The HTTP status (429 rate limited, 529 overloaded), when there was one.
    pub status: Option<u16>,
    /// How long the API asks to wait (a retry-after, an `api_retry`'s delay, a reset time
    /// turned into a delay), when it said.
    pub wait: Option<Duration>,
    /// `wait` runs to the reset of the account's window (a `rate_limit_event`'s `resetsAt`):
    /// then everyone may go.
    pub reset: bool,
    /// Only an early warning (`allowed_warning`): nothing closes.
    pub warning: bool,
}

impl Throttle {
    /// An HTTP status that means the account is throttled: 429 (rate limited) or 529
    /// (overloaded).
    pub fn is_throttle_status(status: Option<u16>) -> bool {
        matches!(status, Some(429 | 529))
    }
}

/// What the gate says to an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Go.
    Go,
    /// Go, as the one probe: its success opens the gate.
    Probe,
    /// Wait: until this instant, or (`None`) until the probe's outcome.
    Wait(Option<Instant>),
}

/// Where the gate stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateState {
    /// Attempts go.
    Open,
    /// Closed until `until`; `known`: the API said when.
    Closed {
        /// When it opens (or lets a probe through).
        until: Instant,
        /// The time was advertised.
        known: bool,
    },
    /// One probe at a time; `out`: one is running.
    Probing {
        /// A probe runs.
        out: bool,
    },
}

/// The gate's backoff settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoffs {
    /// The first backoff when nothing is advertised.
    pub min: Duration,
    /// The longest.
    pub max: Duration,
}

/// The gate.
#[derive(Debug, Clone)]
pub struct Gate {
    state: GateState,
    backoffs: Backoffs,
    /// The backoff of the next unadvertised throttle.
    next_backoff: Duration,
}

impl Gate {
    /// An open gate.
    pub fn new(backoffs: Backoffs) -> Self {
        Self {
            state: GateState::Open,
            backoffs,
            next_backoff: backoffs.min,
        }
    }

    /// Where it stands.
    pub fn state(&self) -> GateState {
        self.state
    }

    /// A worker was throttled at `now`; `jitter` is added to the wait (spreads the reopening).
    /// Returns whether the gate changed.
    pub fn throttle(&mut self, now: Instant, t: &Throttle, jitter: Duration) -> bool {
        if t.warning {
            return false;
        }
        // While closed, more workers hit by the same throttle say nothing new: the backoff grows
        // only when the gate had let attempts through again (a probe, or everyone).
        if let GateState::Closed { until, known } = self.state
            && now < until
            && !(t.reset && t.wait.is_some())
        {
            let hinted = now + t.wait.unwrap_or_default() + jitter;
            if hinted > until {
                self.state = GateState::Closed {
                    until: hinted,
                    known,
                };
                return true;
            }
            return false;
        }
        let (wait, known) = match (t.wait, t.reset) {
            (Some(wait), true) => (wait, true),
            (hint, _) => {
                let wait = self.next_backoff.max(hint.unwrap_or_default());
                self.next_backoff = (self.next_backoff * 2).min(self.backoffs.max);
                (wait, false)
            }
        };
        let until = now + wait + jitter;
        // A later reopening already decided stands.
        if let GateState::Closed { until: later, .. } = self.state
            && later >= until
        {
            return false;
        }
        self.state = GateState::Closed { until, known };
        true
    }

    /// An attempt asks to go at `now`.
    pub fn check(&mut self, now: Instant) -> Admit {
        match self.state {
            GateState::Open => Admit::Go,
            GateState::Closed { until, .. } if now < until => Admit::Wait(Some(until)),
            GateState::Closed { known: true, .. } => {
                self.state = GateState::Open;
                Admit::Go
            }
            GateState::Closed { known: false, .. } | GateState::Probing { out: false } => {
                self.state = GateState::Probing { out: true };
                Admit::Probe
            }
            GateState::Probing { out: true } => Admit::Wait(None),
        }
    }

    /// An attempt reached the API (a real answer): the gate opens, the backoff starts over.
    /// Returns whether the gate changed.
    pub fn success(&mut self) -> bool {
        self.next_backoff = self.backoffs.min;
        let changed = self.state != GateState::Open;
        self.state = GateState::Open;
        changed
    }

    /// The probe ended without a success or a throttle (stopped, crashed): another may go.
    pub fn probe_ended(&mut self) {
        if self.state == (GateState::Probing { out: true }) {
            self.state = GateState::Probing { out: false };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate() -> Gate {
        Gate::new(Backoffs {
            min: Duration::from_secs(1),
            max: Duration::from_secs(8),
        })
    }

    fn throttle(wait: Option<u64>) -> Throttle {
        Throttle {
            status: Some(429),
            wait: wait.map(Duration::from_secs),
            reset: wait.is_some(),
            warning: false,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_advertised_reset_opens_the_gate_for_everyone_then() {
        let mut g = gate();
        let t0 = Instant::now();
        assert_eq!(g.check(t0), Admit::Go);
        assert!(g.throttle(t0, &throttle(Some(4)), Duration::from_millis(300)));
        let until = t0 + Duration::from_millis(4300);
        assert_eq!(g.check(t0), Admit::Wait(Some(until)));
        // A shorter wait does not shorten it.
        assert!(!g.throttle(t0, &throttle(Some(1)), Duration::ZERO));
        assert_eq!(g.check(until), Admit::Go);
        assert_eq!(g.check(until), Admit::Go, "open for all, no probe");
        // A warning closes nothing.
        let warning = Throttle {
            warning: true,
            ..throttle(None)
        };
        assert!(!g.throttle(until, &warning, Duration::ZERO));
        assert_eq!(g.state(), GateState::Open);
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_reset_it_backs_off_and_lets_one_probe_through() {
        let mut g = gate();
        let t0 = Instant::now();
        g.throttle(t0, &throttle(None), Duration::ZERO);
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(g.check(t0), Admit::Wait(Some(t1)));
        assert_eq!(g.check(t1), Admit::Probe);
        assert_eq!(g.check(t1), Admit::Wait(None), "one probe at a time");
        // The probe is throttled: twice as long, then a probe again.
        g.throttle(t1, &throttle(None), Duration::ZERO);
        let t2 = t1 + Duration::from_secs(2);
        assert_eq!(g.check(t1), Admit::Wait(Some(t2)));
        assert_eq!(g.check(t2), Admit::Probe);
        // A probe that is stopped lets another go.
        g.probe_ended();
        assert_eq!(g.check(t2), Admit::Probe);
        // Success opens it and the backoff starts over.
        assert!(g.success());
        assert_eq!(g.check(t2), Admit::Go);
        g.throttle(t2, &throttle(None), Duration::ZERO);
        assert_eq!(g.check(t2), Admit::Wait(Some(t2 + Duration::from_secs(1))));
    }

    #[tokio::test(start_paused = true)]
    async fn workers_hit_by_the_same_throttle_do_not_grow_the_backoff() {
        let mut g = gate();
        let t0 = Instant::now();
        for _ in 0..8 {
            g.throttle(t0, &throttle(None), Duration::ZERO);
        }
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(g.check(t0), Admit::Wait(Some(t1)));
        assert_eq!(g.check(t1), Admit::Probe);
        g.throttle(t1, &throttle(None), Duration::ZERO);
        assert_eq!(
            g.check(t1),
            Admit::Wait(Some(t1 + Duration::from_secs(2))),
            "the probe failed: now it grows"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_after_is_a_floor_for_the_backoff_then_a_probe_decides() {
        let mut g = gate();
        let t0 = Instant::now();
        let hint = Throttle {
            wait: Some(Duration::from_secs(3)),
            reset: false,
            ..throttle(None)
        };
        g.throttle(t0, &hint, Duration::ZERO);
        let t3 = t0 + Duration::from_secs(3);
        assert_eq!(g.check(t0), Admit::Wait(Some(t3)));
        assert_eq!(g.check(t3), Admit::Probe, "not everyone at once");
        assert_eq!(g.check(t3), Admit::Wait(None));
    }

    #[tokio::test(start_paused = true)]
    async fn the_backoff_stops_growing_at_its_maximum() {
        let mut g = gate();
        let mut now = Instant::now();
        let mut waits = Vec::new();
        for _ in 0..6 {
            g.throttle(now, &throttle(None), Duration::ZERO);
            let Admit::Wait(Some(until)) = g.check(now) else {
                panic!("closed")
            };
            waits.push((until - now).as_secs());
            now = until;
            assert_eq!(g.check(now), Admit::Probe);
        }
        assert_eq!(waits, [1, 2, 4, 8, 8, 8]);
    }
}
