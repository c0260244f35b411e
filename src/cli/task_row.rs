//! One task's live line: where it stands, its attempt, its time, its cost, the tool call it runs.

use std::time::Instant;

use crate::protocol::OutcomeReason;

use super::render::{human_secs, short};

/// Where a task stands on its live line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RowState {
    Pending,
    Queued,
    Running,
    Restarted,
    Throttled,
    Ended(OutcomeReason),
}

impl std::fmt::Display for RowState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RowState::Pending => f.write_str("pending"),
            RowState::Queued => f.write_str("queued"),
            RowState::Running => f.write_str("running"),
            RowState::Restarted => f.write_str("restarted"),
            RowState::Throttled => f.write_str("rate limited"),
            RowState::Ended(reason) => write!(f, "{reason}"),
        }
    }
}

pub struct TaskRow {
    pub name: String,
    pub state: RowState,
    pub attempt: u32,
    pub since: Instant,
    /// Set when its attempt ended: the elapsed time stops.
    pub took: Option<std::time::Duration>,
    pub cost: f64,
    /// Its tool calls that run: id, tool, input, since.
    pub calls: Vec<(String, String, String, Instant)>,
}

impl TaskRow {
    /// The tool call it runs (the latest), as its live line ends: `▸ Bash: cargo test · 41s`.
    pub fn activity(&self) -> String {
        match self.calls.last() {
            Some((_, tool, input, since)) => {
                tool_running(tool, input, since.elapsed().as_secs_f64())
            }
            None => String::new(),
        }
    }
}

/// A tool call that runs, as a task's line ends: `  ▸ Bash: cargo test · 41s`.
pub fn tool_running(tool: &str, input: &str, secs: f64) -> String {
    format!("  ▸ {tool}: {} · {}", short(input, 40), human_secs(secs))
}
