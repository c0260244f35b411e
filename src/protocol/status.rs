//! The live supervision tree as `smith status` shows it: supervisors, sessions, running
//! requests and their tasks.

use serde::{Deserialize, Serialize};

use super::ask::{Restart, Strategy, named_enum};
use super::live::ToolActivity;
use super::reason::TaskEnd;
use super::record::TaskStatus;

/// `Response::Status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceStatus {
    /// smithd's version.
    pub version: String,
    /// Its pid.
    pub pid: u32,
    /// Seconds since it started.
    pub uptime_secs: f64,
    /// The root supervisor (store, sessions, control server).
    pub root: SupervisorStatus,
    /// The sessions supervisor.
    pub sessions_supervisor: Option<SupervisorStatus>,
    /// Each live session with its running request.
    pub sessions: Vec<SessionStatus>,
    /// The global process cap (`limits.max_concurrent_tasks`).
    pub max_concurrent_tasks: u64,
    /// Process slots in use.
    pub running_tasks: u64,
    /// Tool calls waiting for a person, oldest first.
    pub approvals: Vec<super::approval::ApprovalInfo>,
    /// The governor's gate.
    pub governor: GovernorStatus,
    /// Spending against the session and daily ceilings.
    pub spend: super::usage::SpendStatus,
    /// Warm workers idle now (`agent.warm_pool`; they hold process slots).
    pub warm_workers: u64,
    /// The connection to NATS (`[cluster]`).
    pub cluster: ClusterStatus,
}

named_enum! {
    /// Where the cluster stands.
    #[derive(Default)]
    ClusterState, "cluster state" {
        /// No `cluster.nats_url`: a single machine.
        #[default]
        Disabled = "disabled",
        /// Connected to nats-server.
        Connected = "connected",
        /// nats-server cannot be reached: local attempts only, reconnecting.
        Down = "down",
    }
}

/// The connection to NATS, as `smith status` and `smith health` show it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ClusterStatus {
    /// Where it stands.
    pub state: ClusterState,
    /// `cluster.nats_url`.
    pub url: Option<String>,
    /// This node's name.
    pub node: Option<String>,
    /// The server's version (once connected).
    pub server_version: Option<String>,
    /// Since when it is in this state (Unix milliseconds).
    pub since_ms: Option<i64>,
    /// Why it is down.
    pub error: Option<String>,
    /// The worker nodes, as their heartbeats say (by name).
    pub nodes: Vec<NodeStatus>,
}

/// A worker node, as `smith status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    /// Its name.
    pub name: String,
    /// Where it stands.
    pub state: NodeState,
    /// Its slots.
    pub capacity: u32,
    /// Attempts it runs.
    pub running: u32,
    /// smithd's version there.
    pub version: String,
    /// Where its workers may run.
    pub roots: Vec<String>,
    /// Its last heartbeat (Unix ms).
    pub last_seen_ms: i64,
}

named_enum! {
    /// Where a worker node stands.
    NodeState, "node state" {
        /// Its heartbeats come.
        Up = "up",
        /// It stopped sending heartbeats (three missed): its attempts are restarted elsewhere.
        Lost = "lost",
        /// It said it stops.
        Stopped = "stopped",
    }
}

/// The governor's gate, as `smith status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GovernorStatus {
    /// `open`, `closed` (until `until_ms`) or `probing` (one attempt tries the API).
    pub state: String,
    /// Until when it is closed (Unix milliseconds).
    pub until_ms: Option<i64>,
    /// What closed it last (e.g. `429 from r-…/t3`).
    pub cause: Option<String>,
    /// Attempts waiting at it.
    pub waiting: u64,
    /// Throttles seen since smithd started.
    pub throttles: u64,
    /// Live processes allowed now (≤ `max_concurrent_tasks`; halved by throttles, grown back).
    pub cap: u64,
    /// Attempts waiting for a process slot, by session (sessions take turns).
    pub queued: Vec<SessionQueue>,
}

/// A session's attempts waiting for a process slot.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SessionQueue {
    /// The session.
    pub session: String,
    /// Attempts waiting.
    pub waiting: u64,
}

named_enum! {
    /// Where a supervisor stands.
    SupervisorState, "supervisor state" {
        /// All children that should run are running.
        Running = "running",
        /// At least one child waits for its restart.
        Restarting = "restarting",
        /// Stopping its children.
        ShuttingDown = "shutting down",
    }
}

named_enum! {
    /// Where a child stands.
    ChildState, "child state" {
        /// Running.
        Running = "running",
        /// Exited; a restart is scheduled.
        Restarting = "restarting",
        /// Not running and not going to be restarted.
        Terminated = "stopped",
    }
}

named_enum! {
    /// Worker or supervisor.
    ChildKind, "child kind" {
        /// A worker.
        Worker = "worker",
        /// A supervisor.
        Supervisor = "supervisor",
    }
}

/// One supervisor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SupervisorStatus {
    /// Supervisor id.
    pub id: String,
    /// Its strategy.
    pub strategy: Strategy,
    /// Its state.
    pub state: SupervisorState,
    /// Restarts counted in the current intensity window.
    pub restarts_in_window: u64,
    /// Restarts since it started.
    pub total_restarts: u64,
    /// Children in start order.
    pub children: Vec<ChildStatus>,
}

/// One child of a supervisor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChildStatus {
    /// Child id.
    pub id: String,
    /// Running, restarting or terminated.
    pub state: ChildState,
    /// Restart type.
    pub restart: Restart,
    /// Worker or supervisor.
    pub kind: ChildKind,
    /// Started with `start_child` rather than from the spec.
    pub dynamic: bool,
    /// Times it was restarted.
    pub restarts: u32,
    /// The reason of its last exit, if it ever exited.
    pub last_exit: Option<String>,
    /// Seconds since its current incarnation started, when running.
    pub uptime_secs: Option<f64>,
}

named_enum! {
    /// What a running request is doing.
    RunPhase, "run phase" {
        /// Its planner runs.
        Planning = "planning",
        /// Its work tasks run.
        Running = "running tasks",
        /// Its synthesizer runs.
        Synthesizing = "synthesizing",
        /// Its answer is being merged and committed.
        Finishing = "finishing",
    }
}

/// A live session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionStatus {
    /// Name.
    pub name: String,
    /// Turns of context held.
    pub turns: u64,
    /// Queued request ids.
    pub queued: Vec<String>,
    /// The running request.
    pub current: Option<RunStatus>,
}

/// A running request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunStatus {
    /// Request id.
    pub request_id: String,
    /// What it is doing.
    pub phase: RunPhase,
    /// Restart strategy of its tasks.
    pub strategy: Strategy,
    /// Unix ms.
    pub started_ms: i64,
    /// Spent so far.
    pub cost_usd: f64,
    /// Its tasks (planner or synthesizer first when running).
    pub tasks: Vec<TaskLine>,
}

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
    /// The worker node it runs on (`None`: this host).
    pub node: Option<String>,
    /// Seconds the running attempt has run.
    pub uptime_secs: Option<f64>,
    /// The tool calls it runs now, oldest first.
    pub tools: Vec<ToolActivity>,
    /// Cost so far.
    pub cost_usd: f64,
    /// Why it ended as it did.
    pub exit_reason: Option<TaskEnd>,
}
