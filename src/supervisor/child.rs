//! One child as its supervisor tracks it (spec, running cell, state, restarts, last exit,
//! backoff), and how a supervisor stops one: by its shutdown, killing it when that runs out.

use std::time::Duration;

use ractor::{ActorCell, RactorErr};
use tokio::time::Instant;

use super::backoff::BackoffState;
use super::child_spec::{ChildSpec, Shutdown};
use super::exit_reason::{ExitReason, REASON_SHUTDOWN};
use super::status::{ChildState, ChildStatus};

/// How long a kill may take before we give up waiting for the actor (it cannot be interrupted
/// only if it blocks a worker thread, which is a bug of that actor).
pub(super) const KILL_WAIT: Duration = Duration::from_secs(5);

/// One child as the supervisor tracks it.
pub(super) struct Child {
    pub(super) spec: ChildSpec,
    pub(super) cell: Option<ActorCell>,
    pub(super) state: ChildState,
    pub(super) restarts: u32,
    pub(super) last_exit: Option<ExitReason>,
    pub(super) backoff: BackoffState,
    /// When a pending restart may start.
    pub(super) due: Option<Instant>,
    pub(super) started_at: Option<Instant>,
    pub(super) dynamic: bool,
}

impl Child {
    pub(super) fn new(spec: ChildSpec, dynamic: bool) -> Self {
        Self {
            spec,
            cell: None,
            state: ChildState::Terminated,
            restarts: 0,
            last_exit: None,
            backoff: BackoffState::default(),
            due: None,
            started_at: None,
            dynamic,
        }
    }

    pub(super) fn running(&mut self, cell: ActorCell) {
        self.cell = Some(cell);
        self.state = ChildState::Running;
        self.started_at = Some(Instant::now());
        self.due = None;
    }

    pub(super) fn status(&self, now: Instant) -> ChildStatus {
        ChildStatus {
            id: self.spec.id.clone(),
            state: self.state,
            restart: self.spec.restart,
            kind: self.spec.kind,
            dynamic: self.dynamic,
            restarts: self.restarts,
            last_exit: self.last_exit.as_ref().map(ToString::to_string),
            uptime_secs: self
                .started_at
                .map(|t| now.saturating_duration_since(t).as_secs_f64()),
        }
    }
}

impl Child {
    /// Records that the supervisor stopped this child (not an exit of its own).
    pub(super) fn stopped(&mut self, killed: bool) {
        self.last_exit = Some(if killed {
            ExitReason::Killed
        } else {
            ExitReason::Shutdown(None)
        });
        self.started_at = None;
        self.state = ChildState::Terminated;
    }
}

/// Stops one child by its shutdown. Returns whether it had to be killed.
pub(super) async fn terminate(cell: &ActorCell, shutdown: Shutdown) -> bool {
    let reason = Some(REASON_SHUTDOWN.to_string());
    match shutdown {
        Shutdown::BrutalKill => {
            kill(cell).await;
            true
        }
        Shutdown::Timeout(grace) => match cell.stop_and_wait(reason, Some(grace)).await {
            Err(RactorErr::Timeout) => {
                kill(cell).await;
                true
            }
            // Ok, or the actor was already gone.
            _ => false,
        },
        Shutdown::Infinity => {
            let _ = cell.stop_and_wait(reason, None).await;
            false
        }
    }
}

async fn kill(cell: &ActorCell) {
    if let Err(RactorErr::Timeout) = cell.kill_and_wait(Some(KILL_WAIT)).await {
        tracing::error!(actor = %cell.get_id(), "actor did not exit within {KILL_WAIT:?} of a kill");
    }
}
