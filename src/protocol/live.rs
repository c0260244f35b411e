//! What a worker is doing while it does it, as clients see it: its tool calls (activities) and
//! the request a watcher attaches to.

use serde::{Deserialize, Serialize};

/// One tool call of a worker: a `tool_use` and its `tool_result`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolActivity {
    /// The call's id (`toolu_…`).
    pub call_id: String,
    /// The tool (`Bash`, `Read`, …).
    pub tool: String,
    /// Its input as a person reads it: a command, a path, a URL (sanitized, cut).
    pub input: String,
    /// When it started (Unix milliseconds).
    pub started_ms: i64,
    /// How long it ran (`None`: it runs).
    pub duration_ms: Option<u64>,
    /// The first line of its error, when it failed (or `unfinished: …`).
    pub error: Option<String>,
}

/// A tool call of a request, as `smith show` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The task (`t1`, …).
    pub task_id: String,
    /// The attempt (1-based).
    pub attempt: u32,
    /// The call.
    pub activity: ToolActivity,
}

/// `Request::Watch`: follow a running request from another client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchQuery {
    /// The request (`None`: the session's running one, else its next queued one).
    pub request_id: Option<String>,
    /// The session, when no request is named.
    pub session: String,
}
