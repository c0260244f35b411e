//! Status snapshots of sessions for the status tree.

use serde::{Deserialize, Serialize};

use crate::store::TaskStatus;

/// A task of a running request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskLine {
    /// Task id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Status.
    pub status: TaskStatus,
    /// Current (or last) attempt.
    pub attempt: u32,
    /// Restarts so far.
    pub restarts: u32,
    /// Pid of the running attempt.
    pub pid: Option<u32>,
    /// Seconds the running attempt has run.
    pub uptime_secs: Option<f64>,
    /// Cost so far.
    pub cost_usd: f64,
    /// Outcome class of its last attempt.
    pub exit_reason: Option<String>,
}

/// A running request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunStatus {
    /// Request id.
    pub request_id: String,
    /// planning / running tasks / synthesizing.
    pub phase: String,
    /// Strategy of its run.
    pub strategy: String,
    /// Unix ms.
    pub started_ms: i64,
    /// Spent so far.
    pub cost_usd: f64,
    /// Its tasks (planner or synthesizer first when running).
    pub tasks: Vec<TaskLine>,
}

/// A session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionStatus {
    /// Name.
    pub name: String,
    /// Turns of context held.
    pub turns: usize,
    /// Queued request ids.
    pub queued: Vec<String>,
    /// The running request.
    pub current: Option<RunStatus>,
}
