//! How an attempt ended: the outcome classes of ARCHITECTURE.md section 4, whether a restart can
//! help, and everything the attempt leaves behind (result text, session id, usage, cost, exit).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::event::{ResultEvent, Usage};
use super::receipt::Receipt;
use crate::protocol::{ChangeSummary, StopReason, ToolDenial};

pub use crate::protocol::OutcomeReason;

impl OutcomeReason {
    /// Whether a restart can help.
    pub fn is_retryable(self) -> bool {
        match self {
            OutcomeReason::ApiError(Some(status)) => {
                status == 429 || status == 529 || (500..600).contains(&status)
            }
            // Transport failures (connection refused, timeout, malformed body) have no status.
            OutcomeReason::ApiError(None) => true,
            OutcomeReason::Timeout
            | OutcomeReason::Hung
            | OutcomeReason::Crashed
            | OutcomeReason::ProtocolError
            | OutcomeReason::RateLimited
            | OutcomeReason::Interrupted
            | OutcomeReason::NodeLost => true,
            OutcomeReason::Completed
            | OutcomeReason::MaxTurns
            | OutcomeReason::BudgetExceeded
            | OutcomeReason::SpawnFailed
            | OutcomeReason::WorkspaceFailed
            | OutcomeReason::Cancelled => false,
        }
    }
}

/// Why smith itself stopped a process (if it did).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopCause {
    /// The user or a shutdown asked.
    Cancelled,
    /// The request's budget is spent.
    Budget,
    /// Wall-clock timeout.
    Timeout,
    /// Idle watchdog.
    Idle,
    /// Bad output.
    Protocol,
    /// `result` seen but the process did not exit: terminated, result kept.
    ResultLinger,
}

impl StopCause {
    /// Why the attempt stops, as a person reads it (e.g. why a call it asked about was withdrawn).
    pub fn describe(self) -> &'static str {
        match self {
            StopCause::Cancelled => {
                "the attempt was stopped (its request cancelled or interrupted)"
            }
            StopCause::Budget => "the request's budget is spent",
            StopCause::Timeout => "the attempt ran into its wall-clock timeout",
            StopCause::Idle => "the attempt's idle watchdog fired",
            StopCause::Protocol => "the worker's output broke the protocol",
            StopCause::ResultLinger => "the worker did not exit after its result",
        }
    }
}

impl From<StopReason> for StopCause {
    /// Why smith stops an attempt when its request's work is stopped from outside.
    fn from(reason: StopReason) -> Self {
        match reason {
            StopReason::BudgetExceeded => StopCause::Budget,
            StopReason::Cancelled | StopReason::Interrupted => StopCause::Cancelled,
        }
    }
}

/// How the process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ExitStatus {
    /// Exit code, when it exited.
    pub code: Option<i32>,
    /// Signal number, when it was signalled.
    pub signal: Option<i32>,
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.code, self.signal) {
            (Some(c), _) => write!(f, "exit code {c}"),
            (None, Some(s)) => write!(f, "signal {s}"),
            (None, None) => f.write_str("unknown exit"),
        }
    }
}

/// Everything an attempt leaves behind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// The class.
    pub reason: OutcomeReason,
    /// Whether a restart can help.
    pub retryable: bool,
    /// The `result` text (the answer, or the CLI's error text).
    pub result: Option<String>,
    /// With `--json-schema`: the structured answer.
    pub structured_output: Option<serde_json::Value>,
    /// The Claude session id (from `system/init` or `result`).
    pub claude_session_id: Option<String>,
    /// Token usage of the turn.
    pub usage: Usage,
    /// `total_cost_usd` of the process.
    pub cost_usd: f64,
    /// Wall time of the attempt.
    pub duration: Duration,
    /// How the process ended (absent when it never started).
    pub exit: Option<ExitStatus>,
    /// The last bytes of stderr.
    pub stderr_tail: String,
    /// A human explanation (spawn error, protocol error, watchdog).
    pub detail: Option<String>,
    /// What the task's branch changed after the attempt (isolated tasks).
    #[serde(default)]
    pub changes: Option<ChangeSummary>,
    /// The model the CLI ran (from its init).
    #[serde(default)]
    pub model: Option<String>,
    /// Tool calls the CLI refused during the attempt.
    #[serde(default)]
    pub denials: Vec<ToolDenial>,
    /// The day (`YYYY-MM-DD`, `limits.budget_time_zone`) its cost was charged to by the ledger.
    #[serde(default)]
    pub budget_day: Option<String>,
    /// A remote attempt's: where its outcome was read, and what is owed once it is committed
    /// (stays on the control plane).
    #[serde(skip)]
    pub receipt: Option<Receipt>,
}

impl Outcome {
    /// An outcome with only a reason and a detail (e.g. spawn failures).
    pub fn bare(reason: OutcomeReason, detail: impl Into<String>) -> Self {
        Self {
            reason,
            retryable: reason.is_retryable(),
            result: None,
            structured_output: None,
            claude_session_id: None,
            usage: Usage::default(),
            cost_usd: 0.0,
            duration: Duration::ZERO,
            exit: None,
            stderr_tail: String::new(),
            detail: Some(detail.into()),
            changes: None,
            model: None,
            denials: Vec::new(),
            budget_day: None,
            receipt: None,
        }
    }
}

/// Classifies an attempt from what was observed. Precedence: a successful `result` always wins
/// (a result kept after the post-result watchdog is still `completed`); then smith's own stop
/// cause; then the `result`'s error class; then the bare exit (`crashed`).
pub fn classify(result: Option<&ResultEvent>, cause: Option<StopCause>) -> OutcomeReason {
    if let Some(r) = result
        && !r.is_error
    {
        return OutcomeReason::Completed;
    }
    match cause {
        Some(StopCause::Cancelled) => return OutcomeReason::Cancelled,
        Some(StopCause::Budget) => return OutcomeReason::BudgetExceeded,
        Some(StopCause::Timeout) => return OutcomeReason::Timeout,
        Some(StopCause::Idle) => return OutcomeReason::Hung,
        Some(StopCause::Protocol) => return OutcomeReason::ProtocolError,
        Some(StopCause::ResultLinger) | None => {}
    }
    let Some(r) = result else {
        return OutcomeReason::Crashed;
    };
    let terminal = r.terminal_reason.as_deref().unwrap_or("");
    if r.subtype == "error_max_turns" || terminal == "max_turns" {
        OutcomeReason::MaxTurns
    } else if r.subtype.contains("budget") || terminal.contains("budget") {
        OutcomeReason::BudgetExceeded
    } else if r.api_error_status.is_some() || terminal == "api_error" {
        OutcomeReason::ApiError(r.api_error_status)
    } else {
        // error_during_execution that smith did not ask for, or an error class not known yet.
        OutcomeReason::Crashed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(subtype: &str, is_error: bool, status: Option<u16>, terminal: &str) -> ResultEvent {
        serde_json::from_value(serde_json::json!({
            "subtype": subtype, "is_error": is_error, "api_error_status": status,
            "terminal_reason": terminal,
        }))
        .unwrap()
    }

    #[test]
    fn a_stop_from_outside_ends_the_attempt_cancelled_or_over_budget() {
        let end = |r: StopReason| classify(None, Some(StopCause::from(r)));
        assert_eq!(end(StopReason::Cancelled), OutcomeReason::Cancelled);
        assert_eq!(end(StopReason::Interrupted), OutcomeReason::Cancelled);
        assert_eq!(
            end(StopReason::BudgetExceeded),
            OutcomeReason::BudgetExceeded
        );
    }

    #[test]
    fn api_errors_are_retryable_only_for_429_5xx_529_and_transport() {
        for s in [429, 500, 502, 503, 529] {
            assert!(OutcomeReason::ApiError(Some(s)).is_retryable(), "{s}");
        }
        for s in [400, 401, 403, 404] {
            assert!(!OutcomeReason::ApiError(Some(s)).is_retryable(), "{s}");
        }
        assert!(OutcomeReason::ApiError(None).is_retryable());
    }

    #[test]
    fn retryable_column_matches_the_architecture_table() {
        use OutcomeReason::*;
        let yes = [Timeout, Hung, Crashed, ProtocolError];
        let no = [Completed, MaxTurns, BudgetExceeded, SpawnFailed, Cancelled];
        assert!(yes.iter().all(|r| r.is_retryable()));
        assert!(no.iter().all(|r| !r.is_retryable()));
    }

    #[test]
    fn success_wins_over_a_later_stop() {
        let ok = result("success", false, None, "completed");
        assert_eq!(
            classify(Some(&ok), Some(StopCause::ResultLinger)),
            OutcomeReason::Completed
        );
        assert_eq!(
            classify(Some(&ok), Some(StopCause::Cancelled)),
            OutcomeReason::Completed
        );
    }

    #[test]
    fn our_stop_cause_names_the_failure() {
        let aborted = result("error_during_execution", true, None, "aborted_streaming");
        assert_eq!(
            classify(Some(&aborted), Some(StopCause::Cancelled)),
            OutcomeReason::Cancelled
        );
        assert_eq!(classify(None, Some(StopCause::Idle)), OutcomeReason::Hung);
        assert_eq!(
            classify(None, Some(StopCause::Timeout)),
            OutcomeReason::Timeout
        );
        assert_eq!(
            classify(None, Some(StopCause::Budget)),
            OutcomeReason::BudgetExceeded
        );
        assert_eq!(
            classify(None, Some(StopCause::Protocol)),
            OutcomeReason::ProtocolError
        );
    }

    #[test]
    fn result_errors_are_classified_by_subtype_and_terminal_reason() {
        let r = result("success", true, Some(401), "api_error");
        assert_eq!(classify(Some(&r), None), OutcomeReason::ApiError(Some(401)));
        let r = result("success", true, None, "api_error");
        assert_eq!(classify(Some(&r), None), OutcomeReason::ApiError(None));
        let r = result("error_max_turns", true, None, "max_turns");
        assert_eq!(classify(Some(&r), None), OutcomeReason::MaxTurns);
        let r = result("error_max_budget_usd", true, None, "");
        assert_eq!(classify(Some(&r), None), OutcomeReason::BudgetExceeded);
        let r = result("error_during_execution", true, None, "aborted_streaming");
        assert_eq!(classify(Some(&r), None), OutcomeReason::Crashed);
        assert_eq!(classify(None, None), OutcomeReason::Crashed);
    }

    #[test]
    fn display_carries_the_api_status() {
        assert_eq!(
            OutcomeReason::ApiError(Some(529)).to_string(),
            "api_error(529)"
        );
        assert_eq!(OutcomeReason::ApiError(None).to_string(), "api_error");
        assert_eq!(OutcomeReason::Hung.to_string(), "hung");
    }
}
