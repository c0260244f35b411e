//! What a client asks of a session, what it hears back while the request runs, and the summary
//! it gets at the end.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::store::{RequestStatus, TaskStatus};
use crate::supervisor::{Restart, Strategy};

/// One explicit task: what its worker is to do, and optionally a short name (else the first
/// words of the instruction).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TaskInput {
    /// Short name (shown in progress and as the answer's section title).
    pub name: Option<String>,
    /// What the worker is to do.
    pub instruction: String,
}

impl From<&str> for TaskInput {
    fn from(instruction: &str) -> Self {
        instruction.to_string().into()
    }
}

impl From<String> for TaskInput {
    fn from(instruction: String) -> Self {
        Self {
            name: None,
            instruction,
        }
    }
}

/// A request as the client sends it. Unset fields take the configured defaults.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RequestSpec {
    /// The session it belongs to.
    pub session: String,
    /// What the user asks.
    pub prompt: String,
    /// Explicit tasks, in order (exclusive with `plan`).
    pub tasks: Vec<TaskInput>,
    /// Let a planner task split the request into tasks.
    pub plan: bool,
    /// Let one more task write the answer from all results.
    pub synthesize: bool,
    /// Strategy of the request run.
    pub strategy: Option<Strategy>,
    /// Restart type of its tasks (`transient` or `temporary`).
    pub restart: Option<Restart>,
    /// Restart intensity: at most this many restarts ...
    pub max_restarts: Option<u32>,
    /// ... within this period.
    pub within: Option<Duration>,
    /// Wall-clock limit of each attempt.
    pub timeout: Option<Duration>,
    /// Budget of the request in USD.
    pub budget_usd: Option<f64>,
    /// Working directory (must lie inside the configured roots).
    pub cwd: PathBuf,
    /// Model for its tasks.
    pub model: Option<String>,
    /// W3C traceparent of the client's span, if any.
    pub traceparent: Option<String>,
}

/// Something that happened to a running request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RequestEvent {
    /// Recorded and queued.
    Accepted {
        /// Request id.
        request_id: String,
        /// Session.
        session: String,
        /// Requests ahead of it in the session.
        position: usize,
    },
    /// The session started it.
    Started {
        /// Request id.
        request_id: String,
    },
    /// The tasks are known (explicit, planned or single).
    Planned {
        /// (id, name) in order.
        tasks: Vec<(String, String)>,
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
    /// The CLI retries an API call.
    TaskApiRetry {
        /// Task id.
        task_id: String,
        /// HTTP status.
        status: Option<u16>,
        /// Retry number.
        attempt: u32,
    },
    /// An attempt ended.
    TaskFinished {
        /// Task id.
        task_id: String,
        /// 1-based attempt.
        attempt: u32,
        /// Outcome class (e.g. `api_error(500)`).
        reason: String,
        /// Whether a restart can help.
        retryable: bool,
        /// Cost of the attempt.
        cost_usd: f64,
        /// The first line of why it failed (none when it completed).
        detail: Option<String>,
        /// What a person can do about it, where smith knows.
        hint: Option<String>,
    },
    /// This client read too slowly: this many progress events were dropped before the next one.
    Lagged {
        /// Events dropped.
        dropped: u64,
    },
    /// The request is over; the answer is committed.
    Finished(RequestSummary),
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
    /// Outcome class of its last attempt.
    pub exit_reason: Option<String>,
    /// Cost.
    pub cost_usd: f64,
    /// Its result text.
    pub output: Option<String>,
    /// The first line of why its last attempt failed.
    pub detail: Option<String>,
    /// What a person can do about it, where smith knows.
    pub hint: Option<String>,
}

/// A request at its end.
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
