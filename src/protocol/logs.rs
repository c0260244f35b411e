//! `smith logs`: an attempt's transcript — rendered (assistant text, tool calls and their
//! results, API retries, refusals, the result) or as the raw stream-json lines.

use serde::{Deserialize, Serialize};

/// `Request::Logs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogsQuery {
    /// The request.
    pub request_id: String,
    /// The task (`t1`, or its name).
    pub task: String,
    /// The attempt (`None`: the last one).
    pub attempt: Option<u32>,
    /// The stream-json lines as the worker printed them.
    pub raw: bool,
}

/// One thing of a transcript, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LogEntry {
    /// The worker started (`system/init`).
    Started {
        /// Its model.
        model: Option<String>,
        /// Its Claude session.
        claude_session_id: String,
    },
    /// Assistant text (sanitized, lines kept).
    Text(String),
    /// A tool call.
    ToolCall {
        /// The tool.
        tool: String,
        /// Its input as a person reads it.
        input: String,
    },
    /// A tool's result (sanitized, cut).
    ToolResult {
        /// What it returned.
        output: String,
        /// It failed.
        is_error: bool,
    },
    /// The CLI retried an API call.
    ApiRetry {
        /// HTTP status.
        status: Option<u16>,
        /// Retry number.
        attempt: u32,
    },
    /// The CLI refused a tool call.
    Denied {
        /// The tool.
        tool: String,
        /// Why.
        message: String,
    },
    /// The turn ended.
    Result {
        /// `success`, `error_max_turns`, …
        subtype: String,
        /// It is an error.
        is_error: bool,
        /// The answer or the error text.
        text: Option<String>,
        /// Cost of the process.
        cost_usd: f64,
    },
    /// The transcript's cap left lines out.
    Cut {
        /// How many.
        lines_dropped: u64,
    },
}

/// `Response::Logs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogsReply {
    /// The task's id.
    pub task_id: String,
    /// The attempt shown.
    pub attempt: u32,
    /// Attempts the task had.
    pub attempts: u32,
    /// Rendered (empty with `raw`).
    pub entries: Vec<LogEntry>,
    /// The lines as printed (only with `raw`).
    pub raw: Vec<String>,
}
