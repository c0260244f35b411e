//! The service's governor (see the module doc of `governor`): the gate behind a lock, woken
//! waiters, who closed it and why, and what `smith status` shows of it.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;
use tokio::time::{Instant, sleep_until};

use super::gate::{Admit, Backoffs, Gate, GateState, Throttle};
use super::settings::GovernorSettings;
use super::slots::Slots;
use crate::telemetry::metrics::metrics;

/// Why an attempt waits at the gate, as it is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// Until when (Unix milliseconds), or `None`: until a probe succeeds.
    pub until_ms: Option<i64>,
    /// What closed it (e.g. `429 from r-…/t3`).
    pub cause: String,
}

/// The gate as `smith status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateView {
    /// `open`, `closed` or `probing`.
    pub state: &'static str,
    /// Until when it is closed (Unix milliseconds).
    pub until_ms: Option<i64>,
    /// What closed it last.
    pub cause: Option<String>,
    /// Attempts waiting at it.
    pub waiting: u64,
    /// Throttles seen since smithd started.
    pub throttles: u64,
}

struct Inner {
    gate: Gate,
    cause: Option<String>,
    waiting: u64,
    throttles: u64,
}

/// The service's governor.
pub struct Governor {
    settings: GovernorSettings,
    slots: Arc<Slots>,
    inner: Mutex<Inner>,
    changed: watch::Sender<u64>,
}

/// Leave to start an attempt. The one probe (when the gate is probing) holds it until its
/// outcome is known: dropped without one, another may probe.
pub struct Admission {
    governor: Option<Arc<Governor>>,
}

impl Admission {
    /// An admission of no governor (none configured).
    pub fn free() -> Self {
        Self { governor: None }
    }

    /// Whether this attempt is the probe.
    pub fn is_probe(&self) -> bool {
        self.governor.is_some()
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        if let Some(g) = self.governor.take() {
            g.lock().gate.probe_ended();
            g.wake();
        }
    }
}

/// The wait at the gate ran past its deadline (`governor.max_wait`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitedTooLong {
    /// What kept it closed.
    pub cause: String,
}

fn unix_ms(at: Instant) -> i64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as i64;
    let ahead = at.saturating_duration_since(Instant::now()).as_millis() as i64;
    now + ahead
}

impl Governor {
    /// A governor with an open gate over `slots`.
    pub fn new(settings: GovernorSettings, slots: Arc<Slots>) -> Arc<Self> {
        let gate = Gate::new(Backoffs {
            min: settings.min_backoff,
            max: settings.max_backoff,
        });
        Arc::new(Self {
            settings,
            slots,
            inner: Mutex::new(Inner {
                gate,
                cause: None,
                waiting: 0,
                throttles: 0,
            }),
            changed: watch::channel(0).0,
        })
    }

    /// `[governor]`.
    pub fn settings(&self) -> &GovernorSettings {
        &self.settings
    }

    /// The process slots it adapts.
    pub fn slots(&self) -> &Arc<Slots> {
        &self.slots
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wake(&self) {
        self.changed.send_modify(|n| *n += 1);
    }

    fn jitter(&self) -> Duration {
        let max = self.settings.jitter.as_millis() as u64;
        Duration::from_millis(if max == 0 {
            0
        } else {
            rand::random_range(0..=max)
        })
    }

    /// A worker was throttled (`cause` says by what and where, e.g. `429 from r-…/t3`).
    pub fn throttled(&self, t: &Throttle, cause: &str) {
        if t.warning {
            tracing::info!(%cause, "rate limit warning: the account is close to its limit");
            return;
        }
        let jitter = self.jitter();
        let (closed, newly) = {
            let mut inner = self.lock();
            inner.throttles += 1;
            let now = Instant::now();
            let was_closed =
                matches!(inner.gate.state(), GateState::Closed { until, .. } if now < until);
            let closed = inner.gate.throttle(now, t, jitter);
            if closed {
                inner.cause = Some(cause.to_string());
            }
            (closed.then(|| inner.gate.state()), closed && !was_closed)
        };
        let status = t.status.map(|s| s.to_string()).unwrap_or_default();
        metrics().governor_throttles.add(
            1,
            &[opentelemetry::KeyValue::new(
                "http.response.status_code",
                status,
            )],
        );
        // One storm halves the cap once, however many workers it hits.
        if newly {
            self.slots.throttled();
        }
        if let Some(GateState::Closed { until, known }) = closed {
            let wait = until.saturating_duration_since(Instant::now());
            tracing::warn!(%cause, wait = ?wait, advertised = known, "throttled: the gate is closed for every attempt");
            metrics().governor_closed.record(1, &[]);
        }
    }

    /// An attempt reached the API: the gate opens.
    pub fn succeeded(&self) {
        self.slots.succeeded();
        let opened = self.lock().gate.success();
        if opened {
            tracing::info!("the API answers again: the gate is open");
            metrics().governor_closed.record(0, &[]);
            self.wake();
        }
    }

    /// Waits at the gate until it lets this attempt go, or until `deadline`. `on_wait` hears
    /// why it waits (each time that changes).
    pub async fn admit(
        self: &Arc<Self>,
        deadline: Instant,
        mut on_wait: impl FnMut(Waiting),
    ) -> Result<Admission, WaitedTooLong> {
        let mut changed = self.changed.subscribe();
        let mut counted = false;
        let mut told: Option<Option<Instant>> = None;
        let result = loop {
            let (admit, cause) = {
                let mut inner = self.lock();
                (inner.gate.check(Instant::now()), inner.cause.clone())
            };
            let cause = cause.unwrap_or_else(|| "a throttle".into());
            let until = match admit {
                Admit::Go => break Ok(Admission::free()),
                Admit::Probe => {
                    tracing::info!("the gate lets one probe attempt through");
                    break Ok(Admission {
                        governor: Some(self.clone()),
                    });
                }
                Admit::Wait(until) => until,
            };
            if Instant::now() >= deadline {
                break Err(WaitedTooLong { cause });
            }
            if !counted {
                counted = true;
                self.lock().waiting += 1;
                metrics().governor_waiting.add(1, &[]);
            }
            if told != Some(until) {
                told = Some(until);
                on_wait(Waiting {
                    until_ms: until.map(unix_ms),
                    cause,
                });
            }
            let wake_at = until.map_or(deadline, |u| u.min(deadline));
            tokio::select! {
                _ = changed.changed() => {}
                _ = sleep_until(wake_at) => {}
            }
        };
        if counted {
            self.lock().waiting -= 1;
            metrics().governor_waiting.add(-1, &[]);
        }
        result
    }

    /// The gate as `smith status` shows it.
    pub fn view(&self) -> GateView {
        let inner = self.lock();
        let (state, until_ms) = match inner.gate.state() {
            GateState::Open => ("open", None),
            GateState::Closed { until, .. } => ("closed", Some(unix_ms(until))),
            GateState::Probing { .. } => ("probing", None),
        };
        GateView {
            state,
            until_ms,
            cause: inner.cause.clone(),
            waiting: inner.waiting,
            throttles: inner.throttles,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn governor() -> Arc<Governor> {
        Governor::new(
            GovernorSettings {
                jitter: Duration::ZERO,
                ..GovernorSettings::default()
            },
            Slots::new(8),
        )
    }

    #[tokio::test(start_paused = true)]
    async fn waiters_go_when_the_advertised_reset_comes() {
        let g = governor();
        g.throttled(
            &Throttle {
                status: Some(429),
                wait: Some(Duration::from_secs(4)),
                reset: true,
                warning: false,
            },
            "429 from r-1/t1",
        );
        let start = Instant::now();
        let mut heard = Vec::new();
        let far = start + Duration::from_secs(60);
        let admission = g.admit(far, |w| heard.push(w)).await.unwrap();
        assert!(!admission.is_probe());
        assert_eq!(start.elapsed(), Duration::from_secs(4));
        assert_eq!(heard.len(), 1);
        assert_eq!(heard[0].cause, "429 from r-1/t1");
        assert_eq!(g.view().waiting, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn one_probe_goes_the_others_wait_for_its_success() {
        let g = governor();
        let unknown = Throttle {
            status: Some(529),
            wait: None,
            reset: false,
            warning: false,
        };
        g.throttled(&unknown, "529 from r-1/t2");
        let far = Instant::now() + Duration::from_secs(600);
        let probe = g.admit(far, |_| {}).await.unwrap();
        assert!(probe.is_probe());
        let other = tokio::spawn({
            let g = g.clone();
            async move { g.admit(far, |_| {}).await.map(|a| a.is_probe()) }
        });
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert!(!other.is_finished(), "waits for the probe");
        assert_eq!(g.view().state, "probing");
        g.succeeded();
        drop(probe);
        assert_eq!(other.await.unwrap(), Ok(false));
    }

    #[tokio::test(start_paused = true)]
    async fn past_the_deadline_the_wait_ends() {
        let g = governor();
        g.throttled(
            &Throttle {
                status: Some(429),
                wait: Some(Duration::from_secs(3600)),
                reset: true,
                warning: false,
            },
            "429 from r-1/t1",
        );
        let start = Instant::now();
        let waited = g.admit(start + Duration::from_secs(10), |_| {}).await;
        assert_eq!(
            waited.err().map(|w| w.cause),
            Some("429 from r-1/t1".into())
        );
        assert_eq!(start.elapsed(), Duration::from_secs(10));
    }
}
