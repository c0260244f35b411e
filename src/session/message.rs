//! What a Session is told (its messages) and what every Session shares (its deps).

use std::sync::Arc;

use ractor::RpcReplyPort;

use crate::agent::{AgentConfig, TaskEvent};
use crate::protocol::SessionStatus;
use crate::store::StoreHandle;
use crate::supervisor::ExitReason;

use super::config::SessionConfig;
use super::error::SessionError;
use super::event_queue::EventSink;
use super::request::RequestSpec;

/// What every Session shares with the others.
#[derive(Clone)]
pub struct SessionDeps {
    /// The database.
    pub store: StoreHandle,
    /// How `claude` runs.
    pub agent: Arc<AgentConfig>,
    /// Limits, supervision defaults, context.
    pub config: Arc<SessionConfig>,
    /// The global cap on live processes.
    pub permits: Arc<crate::governor::Slots>,
    /// Isolated tasks' worktrees.
    pub workspaces: Arc<crate::workspace::Workspaces>,
    /// Where tool calls that need a person are asked.
    pub approvals: Option<Arc<crate::permissions::Approvals>>,
    /// The gate every attempt passes (the API account's throttles).
    pub governor: Option<Arc<crate::governor::Governor>>,
    /// What sessions and days spent, against their ceilings.
    pub ledger: Arc<crate::spend::Ledger>,
    /// Warm workers (`agent.warm_pool`; `None`: every attempt starts cold).
    pub warm: Option<Arc<crate::agent::WarmPool>>,
    /// Worker nodes (`cluster.nats_url`; `None`: a single machine).
    pub remote: Option<Arc<dyn crate::agent::Nodes>>,
}

/// Messages of a Session.
pub enum SessionMsg {
    /// A new request; the reply (after it is committed) carries its id.
    Submit {
        /// The request.
        spec: Box<RequestSpec>,
        /// Where its events go.
        events: Option<EventSink>,
        /// Its id.
        reply: RpcReplyPort<Result<String, SessionError>>,
    },
    /// Continue an interrupted request.
    Resume {
        /// Request id.
        request_id: String,
        /// Where its events go.
        events: Option<EventSink>,
        /// Accepted or why not.
        reply: RpcReplyPort<Result<(), SessionError>>,
    },
    /// Attach a listener to a running or queued request (`None`: the running one, else the
    /// next queued one).
    Watch {
        /// Request id.
        request_id: Option<String>,
        /// Where its events go.
        events: EventSink,
        /// The request it attached to.
        reply: RpcReplyPort<Result<String, SessionError>>,
    },
    /// Cancel a queued or running request.
    Cancel {
        /// Request id.
        request_id: String,
        /// Done or why not.
        reply: RpcReplyPort<Result<(), SessionError>>,
    },
    /// smithd is stopping: the running request and the queued ones become `interrupted`.
    Interrupt(RpcReplyPort<()>),
    /// A status snapshot.
    Status(RpcReplyPort<SessionStatus>),
    /// A spending ceiling was reached: the running request stops if it is under it.
    CeilingReached,
    /// Internal: a task report of phase `phase`.
    Task {
        /// Phase id.
        phase: u64,
        /// The report.
        event: TaskEvent,
    },
    /// Internal: the supervisor of phase `phase` ended (queued behind the phase's reports).
    PhaseEnded {
        /// Phase id.
        phase: u64,
        /// How.
        reason: ExitReason,
    },
    /// Retire if idle (another Session needs the room).
    Retire,
    /// Internal: retire if still idle since becoming idle the `n`th time.
    IdleCheck(u64),
}
