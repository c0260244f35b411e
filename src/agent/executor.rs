//! The executor seam: how an attempt's launch spec becomes a running worker and an outcome.
//! The task actor only talks to an [`Executor`]; today it is [`LocalExecutor`] (a process on
//! this host, under the attempt's own process group). A worker on another host (ARCHITECTURE
//! §13) is another executor: neither the session nor the supervisor knows the difference.

use std::sync::Arc;

use futures::future::BoxFuture;
use tokio::sync::mpsc;

use super::attempt::{AttemptEvent, run_launch};
use super::launch::LaunchSpec;
use super::outcome::Outcome;
use super::tool_calls::Decider;
use super::warm_pool::WarmProcess;
use crate::permissions::AttemptApprovals;
use crate::process_group::ProcessGroup;
use crate::protocol::StopReason;

/// Runs attempts.
pub trait Executor: Send + Sync {
    /// Runs `launch` to its end: `on_event` sees its progress as it happens, `stop` carries
    /// requests to stop it (a closed channel counts as a cancel), `group` lets the owner kill
    /// what runs from its own `Drop`, `approvals` asks people about tool calls; `warm` is a
    /// process of `launch`'s profile already running (`None`: start one).
    fn run<'a>(
        &'a self,
        launch: LaunchSpec,
        warm: Option<WarmProcess>,
        on_event: &'a mut (dyn FnMut(AttemptEvent) + Send),
        stop: &'a mut mpsc::UnboundedReceiver<StopReason>,
        group: Arc<ProcessGroup>,
        approvals: Option<AttemptApprovals>,
    ) -> BoxFuture<'a, Outcome>;
}

/// Workers as processes on this host.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalExecutor;

impl Executor for LocalExecutor {
    fn run<'a>(
        &'a self,
        launch: LaunchSpec,
        warm: Option<WarmProcess>,
        on_event: &'a mut (dyn FnMut(AttemptEvent) + Send),
        stop: &'a mut mpsc::UnboundedReceiver<StopReason>,
        group: Arc<ProcessGroup>,
        approvals: Option<AttemptApprovals>,
    ) -> BoxFuture<'a, Outcome> {
        let decider = Decider::Here(approvals);
        Box::pin(run_launch(launch, warm, on_event, stop, group, decider))
    }
}

/// The executor of this host.
pub fn local() -> Arc<dyn Executor> {
    Arc::new(LocalExecutor)
}
