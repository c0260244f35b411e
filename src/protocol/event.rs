//! What a client hears while its request runs, and the summary it gets at the end.

use serde::{Deserialize, Serialize};

use super::approval::ApprovalEvent;
use super::denial::ToolDenial;
use super::reason::{OutcomeReason, TaskEnd};
use super::record::{RequestStatus, TaskStatus};
use super::workspace::{ChangeSummary, WorktreeBase};

/// A task named in an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRef {
    /// Task id (`t1`, …).
    pub id: String,
    /// Short name.
    pub name: String,
}

/// Something that happened to a running request (`Response::Event`); the end is
/// `Response::Finished`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Event {
    /// Recorded and queued.
    Accepted {
        /// Request id.
        request_id: String,
        /// Session.
        session: String,
        /// Requests ahead of it in the session.
        position: u64,
        /// The checkout its worktrees are cut from (isolated requests).
        worktrees: Option<WorktreeBase>,
    },
    /// The session started it.
    Started {
        /// Request id.
        request_id: String,
    },
    /// The tasks are known (explicit, planned or single), in order.
    Planned {
        /// The tasks.
        tasks: Vec<TaskRef>,
    },
    /// A task waits for a process slot.
    TaskQueued {
        /// Task id.
        task_id: String,
    },
    /// An attempt's process runs.
    TaskStarted {
        /// Task id.
        task_id: String,
        /// 1-based attempt.
        attempt: u32,
        /// Its pid.
        pid: u32,
        /// Claude session it resumes, if any.
        resumed: Option<String>,
    },
    /// Assistant output of a task.
    TaskProgress {
        /// Task id.
        task_id: String,
        /// Text (shortened).
        text: String,
        /// Tools it called.
        tools: Vec<String>,
    },
    /// Text a task's worker wrote since the last one (its partial messages, coalesced;
    /// sanitized, lines kept).
    TaskText {
        /// Task id.
        task_id: String,
        /// 1-based attempt.
        attempt: u32,
        /// The text.
        text: String,
    },
    /// A tool call of a task's worker started, or ended (`duration_ms` set).
    TaskTool {
        /// Task id.
        task_id: String,
        /// 1-based attempt.
        attempt: u32,
        /// The call.
        activity: super::live::ToolActivity,
    },
    /// The CLI retries an API call.
    TaskApiRetry {
        /// Task id.
        task_id: String,
        /// HTTP status.
        status: Option<u16>,
        /// Retry number.
        attempt: u32,
    },
    /// A task waits at the governor's gate: the API account is throttled.
    TaskThrottled {
        /// Task id.
        task_id: String,
        /// Until when (Unix milliseconds); none: until a probe attempt gets through.
        until_ms: Option<i64>,
        /// What closed the gate (e.g. `429 from r-…/t3`).
        cause: String,
    },
    /// An attempt ended.
    TaskFinished {
        /// Task id.
        task_id: String,
        /// 1-based attempt.
        attempt: u32,
        /// How it ended (e.g. `api_error(500)`).
        reason: OutcomeReason,
        /// Whether a restart can help.
        retryable: bool,
        /// Cost of the attempt.
        cost_usd: f64,
        /// The first line of why it failed (none when it completed).
        detail: Option<String>,
        /// What a person can do about it, where smith knows.
        hint: Option<String>,
    },
    /// A tool call of one of its workers started or stopped waiting for a person.
    Approval(ApprovalEvent),
    /// This client read too slowly: this many progress events were dropped before the next one.
    Lagged {
        /// Events dropped.
        dropped: u64,
    },
}

/// One task in a request summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSummary {
    /// Task id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Status.
    pub status: TaskStatus,
    /// Attempts started.
    pub attempts: u32,
    /// Why it ended as it did.
    pub exit_reason: Option<TaskEnd>,
    /// Cost.
    pub cost_usd: f64,
    /// Its result text.
    pub output: Option<String>,
    /// The first line of why its last attempt failed.
    pub detail: Option<String>,
    /// What a person can do about it, where smith knows.
    pub hint: Option<String>,
    /// Its branch (isolated tasks).
    pub branch: Option<String>,
    /// What it changed on its branch (isolated tasks, once ended).
    pub changes: Option<ChangeSummary>,
    /// Tool calls the CLI refused in its last attempt.
    pub denials: Vec<ToolDenial>,
}

/// A request at its end (`Response::Finished`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestSummary {
    /// Request id.
    pub request_id: String,
    /// Session.
    pub session: String,
    /// Final status.
    pub status: RequestStatus,
    /// Why it ended this way (e.g. `budget_exceeded`).
    pub reason: Option<String>,
    /// The merged answer.
    pub answer: String,
    /// Total cost.
    pub cost_usd: f64,
    /// Its tasks.
    pub tasks: Vec<TaskSummary>,
}
