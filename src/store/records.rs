//! The records the store keeps (rows of its tables), as the rest of smithd sees them; clients
//! see conversions of them (`protocol::record`).

use crate::protocol::OutcomeReason;
pub use crate::protocol::{RequestStatus, TaskStatus};
use crate::task::{Task, TaskId};

/// A request as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRecord {
    /// Request id.
    pub id: String,
    /// Session name.
    pub session: String,
    /// Position in its session (1-based).
    pub seq: i64,
    /// The prompt.
    pub prompt: String,
    /// The request's options as JSON (to resume it).
    pub spec_json: String,
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

/// One attempt (one process) as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRecord {
    /// Its request.
    pub request_id: String,
    /// Its task.
    pub task: TaskId,
    /// 1-based attempt number.
    pub attempt: u32,
    /// Process id (= process group id).
    pub pid: Option<u32>,
    /// Process start time in clock ticks since boot.
    pub process_start_time: Option<u64>,
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
    /// The whole input in tokens: uncached input plus cache reads plus cache writes (since
    /// schema v3; older rows were migrated to the same meaning).
    pub input_tokens: Option<u64>,
    /// Output tokens.
    pub output_tokens: Option<u64>,
    /// Of the input, tokens read from the prompt cache.
    pub cache_read_tokens: Option<u64>,
    /// Of the input, tokens written to the prompt cache.
    pub cache_creation_tokens: Option<u64>,
    /// Cost of this process.
    pub cost_usd: Option<f64>,
    /// Explanation (watchdog, spawn error, …).
    pub detail: Option<String>,
    /// The Claude session this attempt resumed.
    pub resumed_from: Option<String>,
    /// The model the CLI ran (from its init), once known.
    pub model: Option<String>,
    /// It ran with `--bare`.
    pub bare: bool,
    /// The day (`YYYY-MM-DD`, `limits.budget_time_zone`) its cost was charged to.
    pub day: Option<String>,
    /// It started on a warm worker.
    pub warm: bool,
    /// The worker node it ran on (`None`: the control plane's host; empty: dispatched to one,
    /// not known yet which).
    pub node: Option<String>,
    /// Its tag (`SMITH_ATTEMPT`).
    pub tag: Option<String>,
    /// A remote attempt's: the events stream's sequence up to which its events were applied
    /// (its outcome's; for a lost node's, the last heard of it).
    pub event_seq: Option<u64>,
}

impl AttemptRecord {
    /// Attempt `attempt` of `task`, started at `started_at`; nothing else known yet.
    pub fn new(request_id: impl Into<String>, task: TaskId, attempt: u32, started_at: i64) -> Self {
        Self {
            request_id: request_id.into(),
            task,
            attempt,
            pid: None,
            process_start_time: None,
            started_at,
            finished_at: None,
            exit_reason: None,
            exit_code: None,
            exit_signal: None,
            stderr_tail: None,
            claude_session_id: None,
            input_tokens: None,
            output_tokens: None,
            cache_read_tokens: None,
            cache_creation_tokens: None,
            cost_usd: None,
            detail: None,
            resumed_from: None,
            model: None,
            bare: false,
            day: None,
            warm: false,
            node: None,
            tag: None,
            event_seq: None,
        }
    }
}

/// A session in the list.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionSummary {
    /// Name.
    pub name: String,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Requests so far.
    pub requests: i64,
    /// Last request's creation, Unix milliseconds.
    pub last_activity: Option<i64>,
}

/// One turn of a session's context: a request and its merged answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    /// Request id.
    pub request_id: String,
    /// Position in the session.
    pub seq: i64,
    /// What was asked.
    pub prompt: String,
    /// What was answered.
    pub answer: String,
    /// How it ended.
    pub status: RequestStatus,
}

/// A process recorded as running by an earlier smithd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrphanCandidate {
    /// Its request.
    pub request_id: String,
    /// Its task.
    pub task_idx: u32,
    /// Its attempt.
    pub attempt: u32,
    /// Its pid (and process group).
    pub pid: u32,
    /// Its recorded start time (to check the pid was not reused).
    pub process_start_time: Option<u64>,
}

/// Everything about one request.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestDetail {
    /// The request.
    pub request: RequestRecord,
    /// Its tasks in order.
    pub tasks: Vec<Task>,
    /// Their attempts in order.
    pub attempts: Vec<AttemptRecord>,
    /// How its workers' tool calls were decided, in order.
    pub decisions: Vec<crate::protocol::ToolDecision>,
    /// Its workers' tool calls, by task, attempt and start.
    pub tools: Vec<crate::protocol::ToolCall>,
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
