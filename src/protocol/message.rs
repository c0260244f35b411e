//! The control protocol's messages: a `Hello` first, then one [`Request`] per exchange answered
//! by one or more [`Response`]s (a stream of events, then the summary, for `ask` and `resume`).

use serde::{Deserialize, Serialize};

use super::approval::{ApprovalList, ApprovalsQuery, DecideRequest, ToolDecision};
use super::ask::AskSpec;
use super::event::{Event, RequestSummary};
use super::live::{ToolCall, WatchQuery};
use super::logs::{LogsQuery, LogsReply};
use super::record::{AttemptInfo, RequestInfo, SessionInfo, TaskInfo};
use super::status::ServiceStatus;
use super::usage::{UsageQuery, UsageReport};
use super::workspace::{
    ApplyReply, DiffQuery, DiffReply, WorkspaceList, WorkspaceOp, WorkspacesQuery, WorktreeBase,
};

/// Bumped on every incompatible change.
pub const PROTOCOL_VERSION: u32 = 9;

/// The first frame a client sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    /// Must equal the server's [`PROTOCOL_VERSION`].
    pub protocol_version: u32,
    /// The client's version, for logs.
    pub client_version: String,
    /// W3C traceparent of the client's span, if it has one.
    pub traceparent: Option<String>,
}

/// A request of a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Request {
    /// Run a request; events stream back until `Finished` (or `Accepted` with `detach`).
    Ask(Ask),
    /// The supervision tree.
    Status(StatusQuery),
    /// All sessions.
    Sessions(SessionsQuery),
    /// A session's requests.
    History(HistoryQuery),
    /// One request in full.
    Show(ShowQuery),
    /// Cancel a queued or running request.
    Cancel(CancelRequest),
    /// Continue an interrupted request.
    Resume(ResumeRequest),
    /// Is smithd there?
    Health(HealthQuery),
    /// Stop smithd gracefully.
    Shutdown(ShutdownRequest),
    /// A piece of one long text of a request (what `show` and `history` clipped).
    Text(TextQuery),
    /// Apply the retention now (`store.retention_*`) and give the space back.
    Prune(PruneRequest),
    /// What isolated tasks changed (unified diff or statistics).
    Diff(DiffQuery),
    /// Merge tasks' branches into the checkout.
    Apply(WorkspaceOp),
    /// Throw tasks' worktrees and branches away.
    Discard(WorkspaceOp),
    /// Every workspace smith keeps.
    Workspaces(WorkspacesQuery),
    /// What waits for a person (`--watch`: and what comes).
    Approvals(ApprovalsQuery),
    /// A person decides a waiting approval.
    Decide(DecideRequest),
    /// What the workers cost, grouped.
    Usage(UsageQuery),
    /// Follow a running request from another client: events stream back until `Finished`.
    Watch(WatchQuery),
    /// An attempt's transcript.
    Logs(LogsQuery),
}

/// `Request::Prune`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PruneRequest {}

/// `Request::Ask`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ask {
    /// The request.
    pub spec: AskSpec,
    /// Reply with `Accepted` and return at once.
    pub detach: bool,
}

/// `Request::Status`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StatusQuery {}

/// `Request::Sessions`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SessionsQuery {}

/// `Request::History`: one page, newest last.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryQuery {
    /// Session name.
    pub session: String,
    /// Only requests before this position in the session (`None`: up to the newest).
    pub before: Option<i64>,
    /// Requests in the page (0: the default of [`HISTORY_PAGE`]; at most [`HISTORY_PAGE_MAX`]).
    pub limit: u32,
}

/// Requests in a history page unless the client asks for another number.
pub const HISTORY_PAGE: u32 = 50;
/// The most requests in one history page.
pub const HISTORY_PAGE_MAX: u32 = 500;
/// Bytes of each long text (prompt, answer, spec) in a history page.
pub const HISTORY_TEXT_BYTES: usize = 1024;
/// Bytes of each long text in `show` (less when a request has very many tasks).
pub const SHOW_TEXT_BYTES: usize = 64 * 1024;
/// Bytes of text in one `Text` reply.
pub const TEXT_CHUNK_BYTES: usize = 1024 * 1024;

/// One long text of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TextPart {
    /// The prompt.
    Prompt,
    /// The merged answer.
    Answer,
    /// A task's instruction, by its index in the request.
    TaskInstruction(u32),
    /// A task's output, by its index in the request.
    TaskOutput(u32),
}

/// A text that a reply carries only in part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClippedText {
    /// The request.
    pub request_id: String,
    /// Which text.
    pub part: TextPart,
    /// Its whole length in bytes.
    pub total_bytes: u64,
}

/// `Request::Text`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextQuery {
    /// The request.
    pub request_id: String,
    /// Which text.
    pub part: TextPart,
    /// From this byte on (moved back to a character boundary).
    pub offset: u64,
}

/// `Response::Text`: at most [`TEXT_CHUNK_BYTES`] of a text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextChunk {
    /// Which text.
    pub part: TextPart,
    /// Where this piece starts.
    pub offset: u64,
    /// The whole length in bytes.
    pub total_bytes: u64,
    /// The piece.
    pub text: String,
}

/// `Request::Show`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShowQuery {
    /// Request id.
    pub request_id: String,
}

/// `Request::Cancel`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CancelRequest {
    /// Request id.
    pub request_id: String,
}

/// `Request::Resume`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResumeRequest {
    /// Request id.
    pub request_id: String,
    /// Reply with `Accepted` and return at once.
    pub detach: bool,
}

/// `Request::Health`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct HealthQuery {}

/// `Request::Shutdown`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ShutdownRequest {}

/// What the server sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Response {
    /// The handshake succeeded.
    Welcome(Welcome),
    /// Something went wrong; the connection may close after it.
    Error(ErrorReply),
    /// Progress of a request.
    Event(Event),
    /// A detached request was accepted.
    Accepted(Accepted),
    /// A request ended.
    Finished(RequestSummary),
    /// The supervision tree.
    Status(Box<ServiceStatus>),
    /// All sessions.
    Sessions(SessionList),
    /// A session's requests.
    History(HistoryReply),
    /// One request, long texts clipped.
    Show(ShowReply),
    /// A piece of a long text.
    Text(TextChunk),
    /// What a prune did.
    Pruned(Pruned),
    /// Done (cancel, shutdown).
    Done(Done),
    /// Health.
    Health(HealthReply),
    /// Diffs of isolated tasks.
    Diff(DiffReply),
    /// What an `apply` or `discard` did, per task.
    Applied(ApplyReply),
    /// Workspaces.
    Workspaces(WorkspaceList),
    /// What waits for a person.
    Approvals(ApprovalList),
    /// The decision was taken.
    Decided(ToolDecision),
    /// What the workers cost.
    Usage(UsageReport),
    /// An attempt's transcript.
    Logs(LogsReply),
}

/// `Response::Welcome`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Welcome {
    /// The server's protocol version.
    pub protocol_version: u32,
    /// The server's version.
    pub server_version: String,
}

/// Kinds of errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorKind {
    /// Unreadable or invalid input.
    BadRequest,
    /// A different protocol version.
    Version,
    /// The peer is not allowed.
    Forbidden,
    /// No such thing.
    NotFound,
    /// Not possible in its state.
    WrongState,
    /// smithd is shutting down.
    ShuttingDown,
    /// Too many clients.
    Busy,
    /// A spending ceiling (session or day) is reached: nothing more starts under it.
    OverBudget,
    /// A bug or a broken store.
    Internal,
}

/// `Response::Error`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorReply {
    /// Kind.
    pub kind: ErrorKind,
    /// A sentence for the user.
    pub message: String,
}

/// `Response::Accepted`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Accepted {
    /// Request id.
    pub request_id: String,
    /// The checkout its worktrees are cut from (isolated requests).
    pub worktrees: Option<WorktreeBase>,
}

/// `Response::Sessions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionList {
    /// Every session.
    pub sessions: Vec<SessionInfo>,
}

/// `Response::History`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryReply {
    /// Session name.
    pub session: String,
    /// The page's requests, oldest first.
    pub requests: Vec<RequestInfo>,
    /// Older requests exist (ask again with `before` = the first one's `seq`).
    pub older: bool,
    /// Texts of these requests that the page carries only in part.
    pub clipped: Vec<ClippedText>,
}

/// `Response::Show`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShowReply {
    /// The request.
    pub request: RequestInfo,
    /// Its tasks in order.
    pub tasks: Vec<TaskInfo>,
    /// Their attempts in order.
    pub attempts: Vec<AttemptInfo>,
    /// How its workers' tool calls were decided, in order (`permissions.mode = "stdio"`).
    pub decisions: Vec<ToolDecision>,
    /// Its workers' tool calls, by task, attempt and start (at most
    /// `store`'s cap per attempt).
    pub tools: Vec<ToolCall>,
    /// Texts it carries only in part (`Request::Text` has them whole).
    pub clipped: Vec<ClippedText>,
}

/// `Response::Done`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Done {
    /// What was done.
    pub message: String,
}

/// `Response::Health`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthReply {
    /// smithd's version.
    pub version: String,
    /// Seconds since it started.
    pub uptime_secs: f64,
    /// Its pid.
    pub pid: u32,
    /// Problems found at start that will make requests fail.
    pub warnings: Vec<String>,
    /// The connection to NATS (`[cluster]`).
    pub cluster: super::status::ClusterStatus,
}

/// `Response::Pruned`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Pruned {
    /// Requests deleted (with their tasks, attempts and answers).
    pub requests: u64,
    /// Bytes given back to the file system.
    pub bytes_freed: u64,
}
