//! Where an attempt runs: here (a launch spec, for the executor), or on a worker node (a task
//! spec dispatched, or an attempt an earlier smithd left running there, followed again). Worker
//! nodes take what does not need this host's worktrees; the tool calls they ask about are
//! decided here, by the same policy and people (`ToolCalls`). The nodes
//! are a seam ([`Nodes`], implemented by `crate::cluster`): neither the session nor the
//! supervisor knows where an attempt runs.

use std::path::Path;
use std::sync::Arc;

use futures::future::BoxFuture;
use tokio::sync::mpsc;

use super::attempt::AttemptEvent;
use super::attempt_tag::AttemptTag;
use super::launch::{AttemptSpec, LaunchSpec};
use super::outcome::Outcome;
use super::tool_calls::ToolCalls;
use crate::permissions::AttemptApprovals;
use crate::protocol::StopReason;

/// Worker nodes, as an attempt uses them.
pub trait Nodes: Send + Sync {
    /// A slot on a node for an attempt in `cwd` (`None`: it runs here); may wait for one, until
    /// a stop comes (`Err`).
    fn place<'a>(
        &'a self,
        cwd: &'a Path,
        control: &'a mut mpsc::UnboundedReceiver<StopReason>,
    ) -> BoxFuture<'a, Result<Option<NodeSlot>, StopReason>>;

    /// The slot an attempt in `cwd` already running on a node holds.
    fn claim(&self, cwd: &Path) -> NodeSlot;

    /// Runs `work` on a node to its end: `on_event` sees its progress, `control` carries stop
    /// requests to it.
    fn run<'a>(
        &'a self,
        slot: NodeSlot,
        work: NodeWork,
        on_event: &'a mut (dyn FnMut(AttemptEvent) + Send),
        control: &'a mut mpsc::UnboundedReceiver<StopReason>,
    ) -> BoxFuture<'a, Outcome>;
}

/// A claim on the nodes' slots, given back when dropped.
pub struct NodeSlot(pub Box<dyn Send + Sync>);

/// What a node is given.
pub enum NodeWork {
    /// A new attempt.
    Dispatch {
        /// What it runs (a node builds the command from its own config).
        spec: Box<AttemptSpec>,
        /// Its request.
        request_id: String,
        /// Its task.
        task_id: String,
        /// The task's name.
        task_name: String,
        /// Its number.
        attempt: u32,
        /// `traceparent` / `tracestate` of its span.
        trace: Vec<(String, String)>,
        /// What decides the tool calls its node asks about (`permissions.mode = "stdio"`).
        calls: Option<ToolCalls>,
    },
    /// An attempt an earlier smithd started there: followed.
    Adopt {
        /// Its tag.
        tag: AttemptTag,
        /// Its Claude session.
        session_id: String,
        /// What decides the tool calls its node asks about.
        calls: Option<ToolCalls>,
    },
}

/// Where an attempt runs.
pub(super) enum Run {
    /// Here.
    Local(Box<LaunchSpec>),
    /// On a worker node.
    Node(Arc<dyn Nodes>, NodeSlot, Box<NodeWork>),
}

/// A slot on the worker nodes for an attempt in `cwd` (`eligible`: it may run on one), or the
/// one an adopted attempt holds there already; `None`: it runs here. `Err`: a stop came while it
/// waited for a node.
pub(super) async fn place(
    nodes: Option<&Arc<dyn Nodes>>,
    adopted: bool,
    eligible: bool,
    cwd: &Path,
    control: &mut mpsc::UnboundedReceiver<StopReason>,
) -> Result<Option<(Arc<dyn Nodes>, NodeSlot)>, StopReason> {
    match nodes {
        Some(n) if adopted => Ok(Some((n.clone(), n.claim(cwd)))),
        Some(n) if eligible => Ok(n.place(cwd, control).await?.map(|s| (n.clone(), s))),
        _ => Ok(None),
    }
}

/// The run of `spec` (attempt `attempt` of task `task_id`/`task_name` of `request_id`): on the
/// node of `slot` (adopting `adopted` when set; `session_id`: its Claude session; `approvals`:
/// the people its tool calls are asked of), else here — an error when its launch spec cannot be
/// made.
#[allow(clippy::too_many_arguments)]
pub(super) fn run_of(
    spec: &AttemptSpec,
    slot: Option<(Arc<dyn Nodes>, NodeSlot)>,
    adopted: Option<AttemptTag>,
    request_id: &str,
    task_id: &str,
    task_name: &str,
    attempt: u32,
    session_id: &str,
    approvals: Option<AttemptApprovals>,
    span: &tracing::Span,
) -> Result<Run, String> {
    let calls = || {
        let policy = spec.config.permissions.clone()?;
        Some(ToolCalls::deciding(
            policy,
            spec.task.cwd.clone(),
            None,
            approvals,
        ))
    };
    Ok(match (slot, adopted) {
        (Some((nodes, slot)), Some(tag)) => {
            let work = NodeWork::Adopt {
                tag,
                session_id: session_id.into(),
                calls: calls(),
            };
            Run::Node(nodes, slot, Box::new(work))
        }
        (Some((nodes, slot)), None) => {
            let work = NodeWork::Dispatch {
                spec: Box::new(spec.clone()),
                request_id: request_id.into(),
                task_id: task_id.into(),
                task_name: task_name.into(),
                attempt,
                trace: crate::telemetry::trace_env(span).unwrap_or_default(),
                calls: calls(),
            };
            Run::Node(nodes, slot, Box::new(work))
        }
        (None, _) => Run::Local(Box::new(LaunchSpec::new(spec).map_err(|e| e.to_string())?)),
    })
}

impl Run {
    /// Runs an attempt placed on a node to its end (`Err`: a local one, the executor's).
    pub(super) async fn on_node(
        self,
        on_event: &mut (dyn FnMut(AttemptEvent) + Send),
        control: &mut mpsc::UnboundedReceiver<StopReason>,
    ) -> Result<Outcome, Box<LaunchSpec>> {
        match self {
            Run::Local(launch) => Err(launch),
            Run::Node(nodes, slot, work) => Ok(nodes.run(slot, *work, on_event, control).await),
        }
    }
}
