//! The control protocol between `smith` and `smithd`, written down in one place: Unix socket,
//! length-prefixed bincode frames with a size limit checked before allocating, a version
//! handshake first, one [`Request`] enum and one [`Response`] enum with a struct per variant,
//! and every type they carry. It imports nothing else of smith: internal types are converted
//! to these at the edge, so a change inside smithd never changes the wire by accident (the
//! golden test in `tests/protocol.rs` fails until [`PROTOCOL_VERSION`] is bumped).
//!
//! - [`frame`]: length-prefixed frames, limits and deadlines;
//! - `message`: `Hello`, `Request`, `Response` and their small payloads;
//! - `ask`: what a client submits; `approval`: tool calls that wait for a person and how each
//!   call was decided; `denial`: tool calls the CLI refused; `event`: what it hears while a request runs;
//! - `record`: requests, tasks, attempts and sessions as clients read them; `reason`: why
//!   attempts, tasks and requests ended (one vocabulary for smithd, its database and clients);
//! - `live`: tool activity and watching a request; `logs`: an attempt's transcript;
//! - `status`: the live supervision tree; `usage`: what the workers cost;
//! - `workspace`: isolation, what tasks changed, diff / apply / discard.

pub(crate) mod approval;
pub(crate) mod ask;
pub(crate) mod denial;
pub(crate) mod event;
pub mod frame;
pub(crate) mod live;
pub(crate) mod logs;
pub(crate) mod message;
pub(crate) mod reason;
pub(crate) mod record;
pub(crate) mod status;
pub(crate) mod usage;
pub(crate) mod workspace;

pub use approval::{
    ApprovalEvent, ApprovalInfo, ApprovalList, ApprovalsQuery, DecideRequest, DecidedBy,
    ToolDecision, Verdict,
};
pub use ask::{AskSpec, Restart, Strategy, TaskInput};
pub use denial::ToolDenial;
pub use event::{Event, RequestSummary, TaskRef, TaskSummary};
pub use frame::{FrameError, MAX_FRAME_BYTES, ReadLimits, read_frame, write_frame};
pub use live::{ToolActivity, ToolCall, WatchQuery};
pub use logs::{LogEntry, LogsQuery, LogsReply};
pub use message::*;
pub use reason::{OutcomeReason, StopReason, TaskEnd};
pub use record::{
    AttemptInfo, RequestInfo, RequestStatus, SessionInfo, TaskInfo, TaskKind, TaskStatus,
};
pub use status::{
    ChildKind, ChildState, ChildStatus, ClusterState, ClusterStatus, GovernorStatus, NodeState,
    NodeStatus, RunPhase, RunStatus, ServiceStatus, SessionQueue, SessionStatus, SupervisorState,
    SupervisorStatus, TaskLine,
};
pub use usage::{Ceiling, CeilingUse, SpendStatus, UsageBy, UsageQuery, UsageReport, UsageRow};
pub use workspace::{
    ApplyReply, ChangeSummary, DiffQuery, DiffReply, FileChange, Isolation, TaskApply,
    TaskApplyReport, TaskDiff, WorkspaceInfo, WorkspaceList, WorkspaceOp, WorkspaceState,
    WorkspacesQuery, WorktreeBase,
};
