//! Session-level settings — the `[limits]`, `[supervision]` and `[context]` sections of the
//! configuration themselves — and the [`SessionConfig`] that bundles them for a session.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::settings::{Invalid, check_durations, check_min, duration, usd_zero_is_none};
use crate::spend::{BudgetZone, Ceilings};
use crate::supervisor::{Backoff, Restart, Strategy};

/// Limits across sessions and per request (`[limits]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Live `claude` processes across all sessions; the rest queue in order.
    pub max_concurrent_tasks: usize,
    /// Tasks a request (or a plan) may have.
    pub max_tasks_per_request: usize,
    /// Default budget of a request in USD (0 in the file, `None` here: unlimited).
    #[serde(with = "usd_zero_is_none")]
    pub max_budget_usd: Option<f64>,
    /// What one session may spend in USD, over all its requests (0: unlimited).
    #[serde(with = "usd_zero_is_none")]
    pub session_budget_usd: Option<f64>,
    /// What all sessions together may spend in a day in USD (0: unlimited).
    #[serde(with = "usd_zero_is_none")]
    pub daily_budget_usd: Option<f64>,
    /// The time zone whose calendar days `daily_budget_usd` counts (an IANA name).
    pub budget_time_zone: BudgetZone,
    /// Bytes of a request's prompt and tasks together.
    pub max_request_bytes: usize,
    /// Requests waiting in one session (besides the one running).
    pub max_queued_requests: usize,
    /// Bytes kept of one task's answer (longer ones are cut and marked).
    pub max_task_output_bytes: usize,
    /// Bytes of a merged answer (longer ones are cut and marked).
    pub max_answer_bytes: usize,
    /// Session actors live at once; the one idle the longest retires to make room.
    pub max_live_sessions: usize,
    /// A Session without work this long retires (its context comes back from the store).
    #[serde(with = "duration")]
    pub session_idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_concurrent_tasks: 8,
            max_tasks_per_request: 16,
            max_budget_usd: None,
            session_budget_usd: None,
            daily_budget_usd: None,
            budget_time_zone: BudgetZone::utc(),
            max_request_bytes: 2 * 1024 * 1024,
            max_queued_requests: 32,
            max_task_output_bytes: 1024 * 1024,
            max_answer_bytes: 4 * 1024 * 1024,
            max_live_sessions: 1000,
            session_idle_timeout: Duration::from_secs(30 * 60),
        }
    }
}

impl Limits {
    /// The ceilings above each request's budget.
    pub fn ceilings(&self) -> Ceilings {
        Ceilings {
            session_usd: self.session_budget_usd,
            daily_usd: self.daily_budget_usd,
            zone: self.budget_time_zone.clone(),
        }
    }

    /// Values out of range, by key.
    pub fn check(&self) -> Result<(), Invalid> {
        check_min("limits.max_concurrent_tasks", self.max_concurrent_tasks, 1)?;
        check_min(
            "limits.max_tasks_per_request",
            self.max_tasks_per_request,
            1,
        )?;
        check_min("limits.max_request_bytes", self.max_request_bytes, 1024)?;
        check_min("limits.max_queued_requests", self.max_queued_requests, 1)?;
        check_min(
            "limits.max_task_output_bytes",
            self.max_task_output_bytes,
            1024,
        )?;
        check_min("limits.max_answer_bytes", self.max_answer_bytes, 1024)?;
        check_min("limits.max_live_sessions", self.max_live_sessions, 1)?;
        check_durations(
            &[("limits.session_idle_timeout", self.session_idle_timeout)],
            &["limits.session_idle_timeout"],
        )
    }
}

/// Default supervision of a request's tasks, each overridable per request (`[supervision]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Supervision {
    /// Strategy of the request run.
    pub strategy: Strategy,
    /// Restart type of tasks (`transient` or `temporary`).
    pub restart: Restart,
    /// Restart intensity: at most this many restarts ...
    pub max_restarts: u32,
    /// ... within this period.
    #[serde(with = "duration")]
    pub period: Duration,
    /// First restart delay.
    #[serde(with = "duration")]
    pub backoff_min: Duration,
    /// Largest restart delay (before jitter).
    #[serde(with = "duration")]
    pub backoff_max: Duration,
    /// Random stretch of delays (0.2 = up to 20 %).
    pub backoff_jitter: f64,
    /// Quiet time after which delays start from the minimum again.
    #[serde(with = "duration")]
    pub backoff_reset_after: Duration,
    /// Restarts of a crashed Session actor within a minute before the service gives up on it.
    pub session_max_restarts: u32,
}

impl Default for Supervision {
    fn default() -> Self {
        Self {
            strategy: Strategy::OneForOne,
            restart: Restart::Transient,
            max_restarts: 3,
            period: Duration::from_secs(60),
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            backoff_jitter: 0.2,
            backoff_reset_after: Duration::from_secs(120),
            session_max_restarts: 5,
        }
    }
}

impl Supervision {
    /// The delay before restarts.
    pub fn backoff(&self) -> Backoff {
        Backoff {
            min: self.backoff_min,
            max: self.backoff_max,
            jitter: self.backoff_jitter,
            reset_after: self.backoff_reset_after,
        }
    }

    /// Values out of range, by key.
    pub fn check(&self) -> Result<(), Invalid> {
        check_durations(
            &[
                ("supervision.period", self.period),
                ("supervision.backoff_min", self.backoff_min),
                ("supervision.backoff_max", self.backoff_max),
                ("supervision.backoff_reset_after", self.backoff_reset_after),
            ],
            &["supervision.period"],
        )?;
        if self.restart == Restart::Permanent {
            return Err(Invalid::new(
                "supervision.restart",
                "tasks finish; permanent would restart a finished task: use transient or temporary",
            ));
        }
        if self.backoff_min > self.backoff_max {
            return Err(Invalid::new(
                "supervision.backoff_min",
                "is larger than supervision.backoff_max",
            ));
        }
        if !(self.backoff_jitter.is_finite() && self.backoff_jitter >= 0.0) {
            return Err(Invalid::new(
                "supervision.backoff_jitter",
                "must be a number >= 0",
            ));
        }
        Ok(())
    }
}

/// How much of the session's history a task sees (`[context]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContextLimits {
    /// The last N turns.
    pub turns: usize,
    /// At most this many characters of history.
    pub max_chars: usize,
}

impl Default for ContextLimits {
    fn default() -> Self {
        Self {
            turns: 5,
            max_chars: 20_000,
        }
    }
}

/// Everything a session needs to know.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SessionConfig {
    /// Limits.
    pub limits: Limits,
    /// Default supervision.
    pub supervision: Supervision,
    /// Context slices.
    pub context: ContextLimits,
    /// Put prompt and answer text on spans (`telemetry.record_content`).
    pub record_content: bool,
    /// Environment added to every task (e.g. Claude Code's own telemetry settings).
    pub task_env: Vec<(String, String)>,
}
