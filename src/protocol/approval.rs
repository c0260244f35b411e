//! Tool calls decided by smith (`permissions.mode = "stdio"`): an approval that waits for a
//! person, how each call was decided, and the requests that list, follow and decide approvals.

use serde::{Deserialize, Serialize};

use super::ask::named_enum;

/// A tool call that waits for a person's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalInfo {
    /// Its id (`smith approve ID`).
    pub id: String,
    /// The session of its request.
    pub session: String,
    /// The request.
    pub request_id: String,
    /// The task (`t1`, …).
    pub task_id: String,
    /// The attempt that asked.
    pub attempt: u32,
    /// The tool (`Bash`, `Edit`, …).
    pub tool: String,
    /// What it wants to do, readably (a Bash command, a file path), whole; control characters
    /// and terminal escapes replaced.
    pub summary: String,
    /// Its whole input as JSON (sanitized like the summary).
    pub input: String,
    /// What the CLI suggested a person could allow, as JSON (shown, never saved as rules).
    pub suggestions: Option<String>,
    /// When it started waiting (Unix milliseconds).
    pub asked_at_ms: i64,
    /// When it is denied if nobody decides (Unix milliseconds).
    pub expires_at_ms: i64,
}

named_enum! {
    /// What became of a tool call.
    Verdict, "verdict" {
        /// It ran.
        Allow = "allow",
        /// It was refused.
        Deny = "deny",
    }
}

named_enum! {
    /// Who or what decided a tool call.
    DecidedBy, "decider" {
        /// A `[permissions]` rule or the preset.
        Rule = "rule",
        /// An "always" of a person earlier in the session.
        Remembered = "remembered",
        /// A person (`smith approve`, `smith deny`, the prompt of `smith ask`).
        Person = "person",
        /// Nobody within `permissions.ask_timeout`.
        Timeout = "timeout",
        /// Nobody was attached and `permissions.unattended = "deny"`.
        Unattended = "unattended",
        /// Its attempt ended first (cancel, timeout, restart, shutdown).
        Withdrawn = "withdrawn",
        /// smithd stopped while it waited (resolved at the next start).
        Restart = "restart",
    }
}

/// How one tool call was decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolDecision {
    /// The approval's id (a call decided by rule has one too).
    pub id: String,
    /// The task.
    pub task_id: String,
    /// The attempt.
    pub attempt: u32,
    /// The tool.
    pub tool: String,
    /// What it wanted to do, readably.
    pub summary: String,
    /// Allowed or refused.
    pub verdict: Verdict,
    /// By whom or what.
    pub decided_by: DecidedBy,
    /// The rule, the person (`uid 1000 (alice)`), or why it was withdrawn.
    pub who: String,
    /// The message a refusal gave the worker.
    pub message: Option<String>,
    /// A person allowed it for the rest of the session.
    pub always: bool,
    /// How long it waited for the decision (milliseconds).
    pub waited_ms: u64,
}

/// `Request::Approvals`: what waits, in every session; with `watch`, the list and then every
/// approval that starts or ends waiting, until the client leaves.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ApprovalsQuery {
    /// Follow.
    pub watch: bool,
}

/// `Response::Approvals`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalList {
    /// Waiting approvals, oldest first.
    pub pending: Vec<ApprovalInfo>,
}

/// `Request::Decide`: a person's decision on a waiting approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecideRequest {
    /// The approval.
    pub id: String,
    /// Allow or deny.
    pub verdict: Verdict,
    /// Allow: the same tool with the same input is allowed for the rest of the session.
    pub always: bool,
    /// Deny: what the worker is told.
    pub message: Option<String>,
    /// Who decides, as the client knows it (a user name); smithd adds the peer's uid.
    pub by: String,
}

/// An approval started or stopped waiting (`Event::Approval`, and the frames of a watch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApprovalEvent {
    /// It waits for a person.
    Waiting(ApprovalInfo),
    /// It was decided.
    Decided(ToolDecision),
}
