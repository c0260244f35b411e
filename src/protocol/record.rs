//! What smith keeps about requests, as clients read it: statuses, requests, tasks, attempts
//! and sessions. The status vocabularies are defined here once; the store writes their names.

use serde::{Deserialize, Serialize};

use super::denial::ToolDenial;
use super::workspace::ChangeSummary;

use super::ask::named_enum;
use super::reason::{OutcomeReason, TaskEnd};

named_enum! {
    /// Where a request stands.
    RequestStatus, "request status" {
        /// Accepted, waiting for the session.
        Queued = "queued",
        /// Planning or running tasks.
        Running = "running",
        /// Every task succeeded.
        Succeeded = "succeeded",
        /// Some tasks succeeded; the answer names what is missing.
        Degraded = "degraded",
        /// Nothing usable came back.
        Failed = "failed",
        /// The user cancelled it.
        Cancelled = "cancelled",
        /// smithd stopped or crashed while it ran; `resume` continues it.
        Interrupted = "interrupted",
    }
}

named_enum! {
    /// Where a task stands.
    TaskStatus, "task status" {
        /// Not started yet.
        Pending = "pending",
        /// An attempt runs (or a restart is pending).
        Running = "running",
        /// Its last attempt completed.
        Succeeded = "succeeded",
        /// It failed for good.
        Failed = "failed",
        /// Stopped by a cancel.
        Cancelled = "cancelled",
        /// Never started (cancel, budget, or the run gave up first).
        Skipped = "skipped",
        /// smithd stopped while it ran.
        Interrupted = "interrupted",
    }
}

named_enum! {
    /// What a task is for.
    TaskKind, "task kind" {
        /// Part of the request's work.
        Work = "work",
        /// The planner of plan mode.
        Plan = "plan",
        /// The synthesizer of `--synthesize`.
        Synthesize = "synthesize",
    }
}

/// A request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestInfo {
    /// Request id.
    pub id: String,
    /// Session name.
    pub session: String,
    /// Position in its session (1-based).
    pub seq: i64,
    /// The prompt.
    pub prompt: String,
    /// Status.
    pub status: RequestStatus,
    /// Why it ended this way (e.g. `budget_exceeded`).
    pub reason: Option<String>,
    /// The merged answer.
    pub answer: Option<String>,
    /// `deterministic` or `synthesized`.
    pub answer_mode: Option<String>,
    /// What the answer lacks, if anything.
    pub answer_note: Option<String>,
    /// Total cost so far.
    pub cost_usd: f64,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds.
    pub started_at: Option<i64>,
    /// Unix milliseconds.
    pub finished_at: Option<i64>,
}

/// A task of a request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskInfo {
    /// Position in the request (what `TextPart::TaskOutput` names).
    pub idx: u32,
    /// What it is for.
    pub kind: TaskKind,
    /// Task id.
    pub id: String,
    /// Short name.
    pub name: String,
    /// What it was asked to do.
    pub instruction: String,
    /// Status.
    pub status: TaskStatus,
    /// Why it ended as it did.
    pub exit_reason: Option<TaskEnd>,
    /// Attempts started.
    pub attempts: u32,
    /// Its result text.
    pub output: Option<String>,
    /// Cost of all its attempts.
    pub cost_usd: f64,
    /// The Claude session a resume continues.
    pub claude_session_id: Option<String>,
    /// Its branch (isolated tasks).
    pub branch: Option<String>,
    /// What it changed on its branch (isolated tasks, once ended).
    pub changes: Option<ChangeSummary>,
    /// Tool calls the CLI refused in its last attempt.
    pub denials: Vec<ToolDenial>,
}

/// One attempt (one `claude` process) of a task.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AttemptInfo {
    /// Its task's `idx`.
    pub task_idx: u32,
    /// It started on a warm worker (`agent.warm_pool`).
    pub warm: bool,
    /// The worker node it ran on (`None`: smithd's own host).
    pub node: Option<String>,
    /// 1-based attempt number.
    pub attempt: u32,
    /// Process id (= process group id).
    pub pid: Option<u32>,
    /// Unix milliseconds.
    pub started_at: i64,
    /// Unix milliseconds.
    pub finished_at: Option<i64>,
    /// How it ended (none while it runs).
    pub exit_reason: Option<OutcomeReason>,
    /// Exit code.
    pub exit_code: Option<i32>,
    /// Signal.
    pub exit_signal: Option<i32>,
    /// Last bytes of stderr.
    pub stderr_tail: Option<String>,
    /// Claude session id.
    pub claude_session_id: Option<String>,
    /// The Claude session this attempt resumed.
    pub resumed_from: Option<String>,
    /// The whole input in tokens (uncached, cache reads and cache writes).
    pub input_tokens: Option<u64>,
    /// Output tokens.
    pub output_tokens: Option<u64>,
    /// Of the input, tokens read from the prompt cache.
    pub cache_read_tokens: Option<u64>,
    /// Of the input, tokens written to the prompt cache.
    pub cache_creation_tokens: Option<u64>,
    /// Cost of this process.
    pub cost_usd: Option<f64>,
    /// Why it failed (watchdog, spawn error, …).
    pub detail: Option<String>,
    /// What a person can do about it, where smith knows.
    pub hint: Option<String>,
}

/// A session in the list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// Name.
    pub name: String,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Requests so far.
    pub requests: i64,
    /// Last request's creation, Unix milliseconds.
    pub last_activity: Option<i64>,
}
