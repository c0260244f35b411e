//! Session-level settings: limits, default supervision of a request's tasks, context slices.

use std::time::Duration;

use crate::supervisor::{Backoff, Restart, Strategy};

/// Limits across sessions and per request.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Live `claude` processes across all sessions; the rest queue in order.
    pub max_concurrent_tasks: usize,
    /// Tasks a request (or a plan) may have.
    pub max_tasks_per_request: usize,
    /// Default budget of a request in USD (`None`: unlimited).
    pub max_budget_usd: Option<f64>,
    /// Bytes of a request's prompt and tasks together.
    pub max_request_bytes: usize,
    /// Requests waiting in one session (besides the one running).
    pub max_queued_requests: usize,
    /// Bytes kept of one task's answer (longer ones are cut and marked).
    pub max_task_output_bytes: usize,
    /// Bytes of a merged answer (longer ones are cut and marked).
    pub max_answer_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_concurrent_tasks: 8,
            max_tasks_per_request: 16,
            max_budget_usd: None,
            max_request_bytes: 2 * 1024 * 1024,
            max_queued_requests: 32,
            max_task_output_bytes: 1024 * 1024,
            max_answer_bytes: 4 * 1024 * 1024,
        }
    }
}

/// Default supervision of a request's tasks (each overridable per request).
#[derive(Debug, Clone, PartialEq)]
pub struct Supervision {
    /// Strategy of the request run.
    pub strategy: Strategy,
    /// Restart type of tasks (`transient` or `temporary`).
    pub restart: Restart,
    /// Restart intensity: at most this many restarts ...
    pub max_restarts: u32,
    /// ... within this period.
    pub period: Duration,
    /// Delay before restarts.
    pub backoff: Backoff,
}

impl Default for Supervision {
    fn default() -> Self {
        Self {
            strategy: Strategy::OneForOne,
            restart: Restart::Transient,
            max_restarts: 3,
            period: Duration::from_secs(60),
            backoff: Backoff {
                min: Duration::from_millis(500),
                max: Duration::from_secs(30),
                jitter: 0.2,
                reset_after: Duration::from_secs(120),
            },
        }
    }
}

/// How much of the session's history a task sees.
#[derive(Debug, Clone, PartialEq)]
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
    /// Restarts of a crashed Session actor (the Sessions supervisor's intensity).
    pub session_max_restarts: u32,
    /// Put prompt and answer text on spans (`telemetry.record_content`).
    pub record_content: bool,
    /// Environment added to every task (e.g. Claude Code's own telemetry settings).
    pub task_env: Vec<(String, String)>,
}
