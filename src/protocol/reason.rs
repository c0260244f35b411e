//! Why things ended, as one vocabulary for smithd, its database and its clients: how an attempt
//! ended ([`OutcomeReason`]), why a task ended as it did ([`TaskEnd`]) and why a request's work
//! was stopped from outside ([`StopReason`]). Each is written (on the wire, in JSON and in the
//! database) as its class string, e.g. `api_error(529)`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::ask::named_enum;

/// The class of an attempt's end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum OutcomeReason {
    /// `result` with `is_error: false`.
    Completed,
    /// `result` with `is_error: true` after an API failure (HTTP status when there was one).
    ApiError(Option<u16>),
    /// `subtype: error_max_turns`.
    MaxTurns,
    /// smith's budget ledger or the CLI's `--max-budget-usd` stopped it.
    BudgetExceeded,
    /// The wall-clock timeout of the attempt fired.
    Timeout,
    /// No output line for longer than the idle timeout.
    Hung,
    /// Exited or was signalled without a `result` (or with an unexpected error result).
    Crashed,
    /// Unparseable or oversized output, or events in an impossible order.
    ProtocolError,
    /// The program could not be started.
    SpawnFailed,
    /// The task's worktree could not be made ready (git, `workspace.copy` or `workspace.setup`).
    WorkspaceFailed,
    /// It waited at the governor's gate (the API account is throttled) longer than
    /// `governor.max_wait`.
    RateLimited,
    /// The user or a shutdown stopped it.
    Cancelled,
    /// smithd stopped (or crashed) while it ran; found so at the next start.
    Interrupted,
    /// It ran on a worker node that stopped answering (its lease ran out) or went away.
    NodeLost,
}

const OUTCOME_CLASSES: [OutcomeReason; 14] = [
    OutcomeReason::Completed,
    OutcomeReason::ApiError(None),
    OutcomeReason::MaxTurns,
    OutcomeReason::BudgetExceeded,
    OutcomeReason::Timeout,
    OutcomeReason::Hung,
    OutcomeReason::Crashed,
    OutcomeReason::ProtocolError,
    OutcomeReason::SpawnFailed,
    OutcomeReason::WorkspaceFailed,
    OutcomeReason::RateLimited,
    OutcomeReason::Cancelled,
    OutcomeReason::Interrupted,
    OutcomeReason::NodeLost,
];

impl OutcomeReason {
    /// The low-cardinality label (`api_error` without the status), for metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeReason::Completed => "completed",
            OutcomeReason::ApiError(_) => "api_error",
            OutcomeReason::MaxTurns => "max_turns",
            OutcomeReason::BudgetExceeded => "budget_exceeded",
            OutcomeReason::Timeout => "timeout",
            OutcomeReason::Hung => "hung",
            OutcomeReason::Crashed => "crashed",
            OutcomeReason::ProtocolError => "protocol_error",
            OutcomeReason::SpawnFailed => "spawn_failed",
            OutcomeReason::WorkspaceFailed => "workspace_failed",
            OutcomeReason::RateLimited => "rate_limited",
            OutcomeReason::Cancelled => "cancelled",
            OutcomeReason::Interrupted => "interrupted",
            OutcomeReason::NodeLost => "node_lost",
        }
    }
}

impl fmt::Display for OutcomeReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutcomeReason::ApiError(Some(status)) => write!(f, "api_error({status})"),
            other => f.write_str(other.as_str()),
        }
    }
}

impl FromStr for OutcomeReason {
    type Err = String;

    fn from_str(class: &str) -> Result<Self, String> {
        if let Some(status) = class
            .strip_prefix("api_error(")
            .and_then(|s| s.strip_suffix(')'))
        {
            return status
                .parse()
                .map(|s| OutcomeReason::ApiError(Some(s)))
                .map_err(|_| format!("unknown outcome {class:?}"));
        }
        OUTCOME_CLASSES
            .into_iter()
            .find(|r| r.as_str() == class)
            .ok_or_else(|| format!("unknown outcome {class:?}"))
    }
}

impl From<OutcomeReason> for String {
    fn from(r: OutcomeReason) -> String {
        r.to_string()
    }
}

impl TryFrom<String> for OutcomeReason {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

named_enum! {
    /// Why a request's work was stopped from outside its tasks.
    StopReason, "stop reason" {
        /// The user cancelled the request.
        Cancelled = "cancelled",
        /// smithd is stopping: the request becomes `interrupted`, resumable.
        Interrupted = "interrupted",
        /// The request's budget is spent.
        BudgetExceeded = "budget_exceeded",
    }
}

/// Why a task ended as it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum TaskEnd {
    /// Its last attempt ended this way.
    Attempt(OutcomeReason),
    /// Its last attempt failed, a restart could have helped, but the restart intensity of its
    /// request was exceeded.
    GaveUp(OutcomeReason),
    /// It was stopped because another task exceeded the restart intensity.
    Escalated,
    /// It never started: its request was stopped first (or, with none, its request ended
    /// before its turn).
    NotStarted(Option<StopReason>),
}

const GAVE_UP: &str = "; gave up: restart intensity exceeded";
const ESCALATED: &str = "stopped: restart intensity exceeded";
const NOT_STARTED: &str = "not started";

impl fmt::Display for TaskEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskEnd::Attempt(r) => write!(f, "{r}"),
            TaskEnd::GaveUp(r) => write!(f, "{r}{GAVE_UP}"),
            TaskEnd::Escalated => f.write_str(ESCALATED),
            TaskEnd::NotStarted(None) => f.write_str(NOT_STARTED),
            TaskEnd::NotStarted(Some(why)) => write!(f, "{NOT_STARTED}: {why}"),
        }
    }
}

impl FromStr for TaskEnd {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(r) = s.strip_suffix(GAVE_UP) {
            return r.parse().map(TaskEnd::GaveUp);
        }
        if s == ESCALATED {
            return Ok(TaskEnd::Escalated);
        }
        if s == NOT_STARTED {
            return Ok(TaskEnd::NotStarted(None));
        }
        if let Some(why) = s
            .strip_prefix(NOT_STARTED)
            .and_then(|w| w.strip_prefix(": "))
        {
            return why.parse().map(|w| TaskEnd::NotStarted(Some(w)));
        }
        s.parse().map(TaskEnd::Attempt)
    }
}

impl From<TaskEnd> for String {
    fn from(e: TaskEnd) -> String {
        e.to_string()
    }
}

impl TryFrom<String> for TaskEnd {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_reads_back_from_what_it_writes() {
        let mut outcomes: Vec<OutcomeReason> = OUTCOME_CLASSES.to_vec();
        outcomes.push(OutcomeReason::ApiError(Some(529)));
        for r in &outcomes {
            assert_eq!(r.to_string().parse::<OutcomeReason>(), Ok(*r));
        }
        let mut ends: Vec<TaskEnd> = outcomes
            .iter()
            .flat_map(|r| [TaskEnd::Attempt(*r), TaskEnd::GaveUp(*r)])
            .collect();
        ends.extend([TaskEnd::Escalated, TaskEnd::NotStarted(None)]);
        for s in [
            StopReason::Cancelled,
            StopReason::Interrupted,
            StopReason::BudgetExceeded,
        ] {
            ends.push(TaskEnd::NotStarted(Some(s)));
        }
        for e in &ends {
            assert_eq!(e.to_string().parse::<TaskEnd>(), Ok(*e), "{e}");
        }
        assert!("nonsense".parse::<TaskEnd>().is_err());
        assert!("api_error(x)".parse::<OutcomeReason>().is_err());
    }

    #[test]
    fn classes_are_written_as_before() {
        assert_eq!(
            OutcomeReason::ApiError(Some(529)).to_string(),
            "api_error(529)"
        );
        assert_eq!(OutcomeReason::ApiError(None).to_string(), "api_error");
        assert_eq!(
            TaskEnd::GaveUp(OutcomeReason::Crashed).to_string(),
            "crashed; gave up: restart intensity exceeded"
        );
        assert_eq!(
            serde_json::to_string(&TaskEnd::Attempt(OutcomeReason::Hung)).unwrap(),
            "\"hung\""
        );
    }
}
