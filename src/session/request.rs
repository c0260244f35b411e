//! A request as a session runs it (the client's `AskSpec` with smithd's side: the trace
//! context), and what a client following it hears.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use crate::protocol::TaskInput;
use crate::protocol::{Event, Isolation, RequestSummary};
use crate::supervisor::{Restart, Strategy};
use crate::workspace::Checkout;

/// A request as a session runs it. Unset fields take the configured defaults.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RequestSpec {
    /// The session it belongs to.
    pub session: String,
    /// What the user asks.
    pub prompt: String,
    /// Explicit tasks, in order (exclusive with `plan`).
    pub tasks: Vec<TaskInput>,
    /// Let a planner task split the request into tasks.
    pub plan: bool,
    /// Let one more task write the answer from all results.
    pub synthesize: bool,
    /// Strategy of the request run.
    pub strategy: Option<Strategy>,
    /// Restart type of its tasks (`transient` or `temporary`).
    pub restart: Option<Restart>,
    /// Restart intensity: at most this many restarts ...
    pub max_restarts: Option<u32>,
    /// ... within this period.
    pub within: Option<Duration>,
    /// Wall-clock limit of each attempt.
    pub timeout: Option<Duration>,
    /// Budget of the request in USD.
    pub budget_usd: Option<f64>,
    /// Working directory (must lie inside the configured roots).
    pub cwd: PathBuf,
    /// Model for its tasks.
    pub model: Option<String>,
    /// Where its work tasks run (`None`: `agent.isolation`).
    #[serde(default)]
    pub isolate: Option<Isolation>,
    /// Workers run with the CLI's `--bare` (`None`: `agent.bare`).
    #[serde(default)]
    pub bare: Option<bool>,
    /// The checkout its worktrees are cut from, resolved when it was accepted (isolated
    /// requests).
    #[serde(default)]
    pub checkout: Option<Checkout>,
    /// W3C traceparent of the client's span, if any.
    pub traceparent: Option<String>,
}

/// What a client following a request hears: progress, then the summary.
#[derive(Debug, Clone, PartialEq)]
pub enum RequestEvent {
    /// Progress of the request.
    Progress(Event),
    /// The request is over; the answer is committed.
    Finished(RequestSummary),
}

impl From<Event> for RequestEvent {
    fn from(event: Event) -> Self {
        RequestEvent::Progress(event)
    }
}
