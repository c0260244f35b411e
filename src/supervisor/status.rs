//! Typed snapshots of a supervisor for the status tree: children, their state, restart counts,
//! last exit reasons.

use ractor::ActorCell;

use super::child_spec::{ChildId, ChildKind, Restart};
use super::strategy::Strategy;

/// Where a child stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildState {
    /// Running.
    Running,
    /// Exited; a restart is scheduled (backoff) or being retried.
    Restarting,
    /// Not running and not going to be restarted (e.g. a transient child that finished,
    /// one that declined to start, or one terminated through the API).
    Terminated,
}

/// Where the supervisor stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SupervisorState {
    /// All children that should run are running.
    Running,
    /// At least one child waits for its restart.
    Restarting,
    /// Stopping its children (shutdown, escalation or auto shutdown).
    ShuttingDown,
}

/// One child in a status snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct ChildStatus {
    /// Child id.
    pub id: ChildId,
    /// Running, restarting or terminated.
    pub state: ChildState,
    /// Restart type.
    pub restart: Restart,
    /// Worker or supervisor.
    pub kind: ChildKind,
    /// Started with `start_child` rather than from the spec.
    pub dynamic: bool,
    /// How many times it was restarted.
    pub restarts: u32,
    /// The reason of its last exit, if it ever exited.
    pub last_exit: Option<String>,
    /// Seconds since its current incarnation started, when running.
    pub uptime_secs: Option<f64>,
}

/// A snapshot of one supervisor.
#[derive(Debug, Clone, PartialEq)]
pub struct SupervisorStatus {
    /// Supervisor id.
    pub id: String,
    /// Its strategy.
    pub strategy: Strategy,
    /// Its state.
    pub state: SupervisorState,
    /// Restarts counted in the current intensity window.
    pub restarts_in_window: usize,
    /// Total restarts since it started.
    pub total_restarts: u64,
    /// Children in start order.
    pub children: Vec<ChildStatus>,
}

/// A child as `which_children` reports it.
#[derive(Debug, Clone)]
pub struct ChildInfo {
    /// Child id.
    pub id: ChildId,
    /// The running actor, if any.
    pub cell: Option<ActorCell>,
    /// Worker or supervisor.
    pub kind: ChildKind,
    /// Restart type.
    pub restart: Restart,
    /// Running, restarting or terminated.
    pub state: ChildState,
}

/// OTP's `count_children`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChildCounts {
    /// All child specs the supervisor holds.
    pub specs: usize,
    /// Children actually running.
    pub active: usize,
    /// Specs of supervisor children.
    pub supervisors: usize,
    /// Specs of worker children.
    pub workers: usize,
}
