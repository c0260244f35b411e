//! The control protocol's messages: a `Hello` first, then one [`Request`] per exchange answered
//! by one or more [`Response`]s (a stream of events, then the summary, for `ask` and `resume`).

use serde::{Deserialize, Serialize};

use crate::session::{RequestEvent, RequestSpec, RequestSummary, SessionStatus};
use crate::store::{RequestDetail, RequestRecord, SessionSummary};
use crate::supervisor::SupervisorStatus;

/// Bumped on every incompatible change.
pub const PROTOCOL_VERSION: u32 = 1;

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
}

/// `Request::Ask`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ask {
    /// The request.
    pub spec: RequestSpec,
    /// Reply with `Accepted` and return at once.
    pub detach: bool,
}

/// `Request::Status`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StatusQuery {}

/// `Request::Sessions`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SessionsQuery {}

/// `Request::History`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryQuery {
    /// Session name.
    pub session: String,
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
    Event(RequestEvent),
    /// A detached request was accepted.
    Accepted(Accepted),
    /// A request ended.
    Finished(RequestSummary),
    /// The supervision tree.
    Status(ServiceStatus),
    /// All sessions.
    Sessions(SessionList),
    /// A session's requests.
    History(HistoryReply),
    /// One request in full.
    Show(RequestDetail),
    /// Done (cancel, shutdown).
    Done(Done),
    /// Health.
    Health(HealthReply),
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
}

/// `Response::Sessions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionList {
    /// Every session.
    pub sessions: Vec<SessionSummary>,
}

/// `Response::History`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryReply {
    /// Session name.
    pub session: String,
    /// Its requests, oldest first.
    pub requests: Vec<RequestRecord>,
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
}

/// `Response::Status`: the live supervision tree.
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
    /// Each running session with its running request.
    pub sessions: Vec<SessionStatus>,
    /// The global process cap.
    pub max_concurrent_tasks: usize,
    /// Process slots in use.
    pub running_tasks: usize,
}
