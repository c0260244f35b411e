//! What travels between the control plane and worker nodes, and where (JSON on NATS):
//!
//! - `smith.work` (stream `SMITH_WORK`, work-queue retention): a [`Dispatch`] per remote
//!   attempt — a task spec, never a program, arguments or environment: a node builds the
//!   command from its own `[agent]` config, so a NATS publisher cannot run code on nodes.
//!   Headers: `Nats-Msg-Id` (the attempt's key: a repeated publish is one message),
//!   `traceparent` / `tracestate` (the node's spans are children of the attempt's).
//! - `smith.events.<key>` (stream `SMITH_EVENTS`, kept for a day): a [`NodeEvent`] per thing
//!   that happens to the attempt, in order — started, progress, heartbeats, the outcome. The
//!   control plane reads them from the stream, so nothing said while it was away is lost.
//! - `smith.control.<key>` (core NATS): a [`Control`] for the running attempt — a stop request,
//!   or the answer to a tool call it relayed (sent as a request: the node acks it, and it is
//!   sent again until it does).
//! - Bucket `smith_nodes` (key-value, entries kept [`NODES_MAX_AGE`]): a [`NodeInfo`] per
//!   node, put every `cluster.node_heartbeat`.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::agent::{Answered, AttemptEvent, AttemptSpec, Outcome, SessionArg};
use crate::protocol::StopReason;

/// The work-queue stream.
pub const WORK_STREAM: &str = "SMITH_WORK";
/// Its subject.
pub const WORK_SUBJECT: &str = "smith.work";
/// The consumer every node pulls from (a node fetches only when it has a free slot).
pub const WORK_CONSUMER: &str = "smith-nodes";
/// The events stream.
pub const EVENTS_STREAM: &str = "SMITH_EVENTS";
/// Its subjects.
pub const EVENTS_SUBJECTS: &str = "smith.events.>";
/// How long events are kept.
pub const EVENTS_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// The nodes bucket.
pub const NODES_BUCKET: &str = "smith_nodes";
/// How long a node's entry is kept after its last heartbeat (2.9 has no per-key TTL: the whole
/// bucket's `max_age`; a lost node is shown as such until then).
pub const NODES_MAX_AGE: Duration = Duration::from_secs(600);

/// The subject of an attempt's events.
pub fn events_subject(key: &str) -> String {
    format!("smith.events.{key}")
}

/// The subject an attempt's stop requests go to.
pub fn control_subject(key: &str) -> String {
    format!("smith.control.{key}")
}

/// An attempt's key in subjects: its tag (`instance/request/task/attempt`) with each part a
/// subject token (anything but letters, digits, `-` and `_` becomes `_`).
pub fn attempt_key(tag: &str) -> String {
    tag.split('/')
        .map(|part| {
            part.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// The Claude session an attempt runs in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireSession {
    /// A new session with this id.
    New(String),
    /// Resume this session.
    Resume(String),
}

/// A remote attempt: what to do, never how to run it (see the module doc).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dispatch {
    /// The attempt's tag (`SMITH_ATTEMPT` on the node too).
    pub tag: String,
    /// Its request.
    pub request_id: String,
    /// Its task.
    pub task_id: String,
    /// The task's name (span names).
    pub task_name: String,
    /// Its number.
    pub attempt: u32,
    /// Its session.
    pub session: WireSession,
    /// The user message.
    pub message: String,
    /// Working directory (a node runs only what is inside its own `agent.roots`).
    pub cwd: PathBuf,
    /// `--model` (else the node's `agent.model`).
    pub model: Option<String>,
    /// `--max-budget-usd`.
    pub max_budget_usd: Option<f64>,
    /// `--json-schema`.
    pub json_schema: Option<String>,
    /// `--tools` instead of the node's `agent.tools`.
    pub tools: Option<Vec<String>>,
    /// `--disallowedTools`.
    pub disallowed_tools: Vec<String>,
    /// `--bare`.
    pub bare: bool,
    /// The control plane decides the tool calls that need a permission (its `permissions.mode
    /// = "stdio"`): the node's CLI asks on stdout, the node relays each request as a
    /// [`NodeEvent::ToolAsked`] and writes the answer it gets back.
    #[serde(default)]
    pub ask: bool,
    /// The attempt's lease, in milliseconds.
    pub lease_ms: u64,
    /// When the control plane stops waiting for a node to take it (Unix ms): a node that
    /// fetches it later drops it.
    pub take_by_ms: i64,
}

impl Dispatch {
    /// The dispatch of `spec`, attempt `attempt` of task `task_id` (`task_name`) of
    /// `request_id`; the lease and the deadline are the control plane's to set.
    pub fn new(
        spec: &AttemptSpec,
        request_id: &str,
        task_id: &str,
        task_name: &str,
        attempt: u32,
    ) -> Self {
        let t = &spec.task;
        Self {
            tag: spec
                .tag
                .as_ref()
                .map(|t| t.as_str().to_string())
                .unwrap_or_default(),
            request_id: request_id.into(),
            task_id: task_id.into(),
            task_name: task_name.into(),
            attempt,
            session: match &spec.session {
                SessionArg::New(id) => WireSession::New(id.clone()),
                SessionArg::Resume(id) => WireSession::Resume(id.clone()),
            },
            message: spec.message.clone(),
            cwd: t.cwd.clone(),
            model: t.model.clone(),
            max_budget_usd: t.max_budget_usd,
            json_schema: t.json_schema.clone(),
            tools: t.tools.clone(),
            disallowed_tools: t.disallowed_tools.clone(),
            bare: t.bare,
            ask: false,
            lease_ms: 0,
            take_by_ms: 0,
        }
    }

    /// The attempt's key in subjects.
    pub fn key(&self) -> String {
        attempt_key(&self.tag)
    }

    /// The lease.
    pub fn lease(&self) -> Duration {
        Duration::from_millis(self.lease_ms)
    }
}

/// What happens to a remote attempt, as its node says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeEvent {
    /// The node took the attempt (its process is about to start).
    Taken {
        /// The node.
        node: String,
    },
    /// Progress (the process started, its session, text, tool calls, throttles …).
    Attempt(AttemptEvent),
    /// The node is still running it (sent every quarter of the lease).
    Heartbeat,
    /// The CLI asks whether a tool call may run (its `can_use_tool` control request, as it is).
    ToolAsked(serde_json::Value),
    /// The node got the answer to the control request `request_id` (a control plane that reads
    /// the events again after a restart does not ask about it again).
    ToolAnswered {
        /// The control request's id.
        request_id: String,
    },
    /// It ended.
    Finished(Box<Outcome>),
}

/// What the control plane tells a running remote attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Control {
    /// Stop it.
    Stop(StopReason),
    /// The answer to a tool call it relayed.
    Answer(Box<Answered>),
}

/// A worker node, as its heartbeats say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// Its name (`cluster.node_name`).
    pub name: String,
    /// Its slots.
    pub capacity: u32,
    /// Attempts it runs now.
    pub running: u32,
    /// smithd's version there.
    pub version: String,
    /// Where its workers may run (`agent.roots`).
    pub roots: Vec<PathBuf>,
    /// When it started (Unix ms).
    pub started_ms: i64,
    /// When it sent this (Unix ms).
    pub seen_ms: i64,
    /// Set in the last entry a node puts as it stops.
    pub stopping: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_becomes_subject_tokens() {
        assert_eq!(attempt_key("ab12/r-1f2e/t3/2"), "ab12.r-1f2e.t3.2");
        assert_eq!(attempt_key("a.b/r*1/t>/1"), "a_b.r_1.t_.1");
        assert_eq!(events_subject("a.b"), "smith.events.a.b");
    }

    #[test]
    fn events_travel_as_json() {
        let e = NodeEvent::Attempt(AttemptEvent::Text("hi".into()));
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(json, r#"{"attempt":{"text":"hi"}}"#);
        assert_eq!(serde_json::from_str::<NodeEvent>(&json).unwrap(), e);
        let h = serde_json::to_string(&NodeEvent::Heartbeat).unwrap();
        assert_eq!(h, r#""heartbeat""#);
    }

    #[test]
    fn an_answer_travels_without_its_decision_which_stays_where_it_was_made() {
        let stop = serde_json::to_string(&Control::Stop(StopReason::Cancelled)).unwrap();
        assert_eq!(stop, r#"{"stop":"cancelled"}"#);
        let answer = Answered {
            request_id: "r1".into(),
            line: "{}".into(),
            denial: None,
            decision: None,
        };
        let json = serde_json::to_string(&Control::Answer(Box::new(answer.clone()))).unwrap();
        assert_eq!(
            json,
            r#"{"answer":{"request_id":"r1","line":"{}","denial":null}}"#
        );
        assert_eq!(
            serde_json::from_str::<Control>(&json).unwrap(),
            Control::Answer(Box::new(answer))
        );
    }
}
