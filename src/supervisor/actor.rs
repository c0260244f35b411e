//! The supervisor actor: starts its children, watches their exits through ractor's supervision
//! events, restarts them by strategy, restart type, intensity and backoff, and stops them in
//! order. Use it through [`SupervisorRef`](super::SupervisorRef).

use futures::future::join_all;
use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use tokio::time::Instant;

use super::child::{Child, KILL_WAIT, terminate};
use super::child_spec::{ChildId, ChildKind, ChildSpec, ChildStart, Restart};
use super::error::SupervisorError;
use super::exit_reason::{ExitReason, REASON_SHUTDOWN};
use super::flags::{SupervisorFlags, SupervisorSpec, validate_child};
use super::intensity::RestartIntensity;
use super::observer::SupervisorObserver;
use super::status::{ChildCounts, ChildInfo, ChildState, SupervisorState, SupervisorStatus};

/// Messages a supervisor understands.
pub enum SupervisorMsg {
    /// Add and start a dynamic child; replies with its cell (`None` if it declined to start).
    StartChild(
        ChildSpec,
        RpcReplyPort<Result<Option<ActorCell>, SupervisorError>>,
    ),
    /// Stop a child by its shutdown and forget it (static children stay as `terminated`).
    TerminateChild(ChildId, RpcReplyPort<Result<(), SupervisorError>>),
    /// OTP's `which_children`.
    WhichChildren(RpcReplyPort<Vec<ChildInfo>>),
    /// OTP's `count_children`.
    CountChildren(RpcReplyPort<ChildCounts>),
    /// A typed status snapshot.
    Status(RpcReplyPort<SupervisorStatus>),
    /// Internal: a backoff delay elapsed; start the children whose restart is due.
    RestartDue,
}

/// The supervisor actor (its arguments are a [`SupervisorSpec`]).
pub struct Supervisor;

/// The supervisor's state.
pub struct SupervisorRunState {
    pub(super) id: String,
    pub(super) flags: SupervisorFlags,
    pub(super) children: Vec<Child>,
    pub(super) intensity: RestartIntensity,
    pub(super) total_restarts: u64,
    pub(super) shutting_down: bool,
    pub(super) observer: Option<SupervisorObserver>,
}

impl Actor for Supervisor {
    type Msg = SupervisorMsg;
    type State = SupervisorRunState;
    type Arguments = SupervisorSpec;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        spec: SupervisorSpec,
    ) -> Result<Self::State, ActorProcessingErr> {
        spec.validate()?;
        let mut state = SupervisorRunState {
            intensity: RestartIntensity::new(spec.flags.max_restarts, spec.flags.period),
            id: spec.id,
            flags: spec.flags,
            children: Vec::with_capacity(spec.children.len()),
            total_restarts: 0,
            shutting_down: false,
            observer: spec.observer,
        };
        for child_spec in spec.children {
            let mut child = Child::new(child_spec, false);
            match (child.spec.start)(myself.get_cell()).await {
                Ok(ChildStart::Started(cell)) => child.running(cell),
                Ok(ChildStart::Ignore) if child.spec.restart == Restart::Temporary => continue,
                Ok(ChildStart::Ignore) => {}
                Err(err) => {
                    let error = SupervisorError::StartFailed {
                        supervisor: state.id.clone(),
                        child: child.spec.id.clone(),
                        reason: err.to_string(),
                    };
                    tracing::error!(supervisor = %state.id, child = %child.spec.id, error = %err,
                        "child failed to start; stopping the children already started");
                    state.shutting_down = true;
                    state.shutdown_all().await;
                    return Err(error.into());
                }
            }
            state.children.push(child);
        }
        tracing::debug!(supervisor = %state.id, children = state.children.len(), strategy = %state.flags.strategy, "supervisor started");
        Ok(state)
    }

    async fn post_stop(
        &self,
        myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        state.shutting_down = true;
        state.shutdown_all().await;
        // Anything still linked (not started through a spec) goes too, before ractor kills it.
        myself
            .stop_children_and_wait(Some(REASON_SHUTDOWN.to_string()), Some(KILL_WAIT))
            .await;
        tracing::debug!(supervisor = %state.id, "supervisor stopped");
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            SupervisorMsg::StartChild(spec, reply) => {
                let result = state.start_dynamic(&myself, spec).await;
                let _ = reply.send(result);
            }
            SupervisorMsg::TerminateChild(id, reply) => {
                let _ = reply.send(state.terminate_child(&id).await);
            }
            SupervisorMsg::WhichChildren(reply) => {
                let _ = reply.send(state.which_children());
            }
            SupervisorMsg::CountChildren(reply) => {
                let _ = reply.send(state.count_children());
            }
            SupervisorMsg::Status(reply) => {
                let _ = reply.send(state.status());
            }
            SupervisorMsg::RestartDue => state.restart_due(&myself).await,
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let (Some(reason), Some(cell)) = (ExitReason::from_event(&event), event.actor_cell())
        else {
            return Ok(());
        };
        if state.shutting_down {
            return Ok(());
        }
        let id = cell.get_id();
        // Exits of children we terminated ourselves arrive after we forgot their cell: ignore.
        let Some(idx) = state
            .children
            .iter()
            .position(|c| c.cell.as_ref().is_some_and(|c| c.get_id() == id))
        else {
            return Ok(());
        };
        state.child_exited(&myself, idx, reason).await;
        Ok(())
    }
}

impl SupervisorRunState {
    /// Stops every running child: dynamic ones in parallel, then static ones in reverse start
    /// order, each by its shutdown.
    pub(super) async fn shutdown_all(&mut self) {
        let id = &self.id;
        let dynamic = self
            .children
            .iter_mut()
            .filter(|c| c.dynamic && c.cell.is_some())
            .map(|c| async move {
                let cell = c.cell.take().expect("filtered on a running cell");
                let killed = terminate(&cell, c.spec.shutdown).await;
                c.stopped(killed);
                tracing::debug!(supervisor = %id, child = %c.spec.id, killed, "child stopped");
            });
        join_all(dynamic).await;
        for c in self.children.iter_mut().rev() {
            if let Some(cell) = c.cell.take() {
                let killed = terminate(&cell, c.spec.shutdown).await;
                c.stopped(killed);
                tracing::debug!(supervisor = %id, child = %c.spec.id, killed, "child stopped");
            }
            c.state = ChildState::Terminated;
            c.due = None;
        }
    }

    async fn start_dynamic(
        &mut self,
        myself: &ActorRef<SupervisorMsg>,
        spec: ChildSpec,
    ) -> Result<Option<ActorCell>, SupervisorError> {
        validate_child(&self.id, &self.flags, &spec)?;
        if self.index_of(&spec.id).is_some() {
            return Err(SupervisorError::DuplicateChild {
                supervisor: self.id.clone(),
                child: spec.id,
            });
        }
        if let Some(limit) = self.flags.max_children
            && self.children.len() >= limit
        {
            return Err(SupervisorError::MaxChildren {
                supervisor: self.id.clone(),
                limit,
            });
        }
        let mut child = Child::new(spec, true);
        match (child.spec.start)(myself.get_cell()).await {
            Ok(ChildStart::Started(cell)) => {
                child.running(cell.clone());
                self.children.push(child);
                Ok(Some(cell))
            }
            Ok(ChildStart::Ignore) => {
                if child.spec.restart != Restart::Temporary {
                    self.children.push(child);
                }
                Ok(None)
            }
            Err(err) => Err(SupervisorError::StartFailed {
                supervisor: self.id.clone(),
                child: child.spec.id,
                reason: err.to_string(),
            }),
        }
    }

    async fn terminate_child(&mut self, id: &ChildId) -> Result<(), SupervisorError> {
        let idx = self.index_of(id).ok_or_else(|| SupervisorError::NotFound {
            supervisor: self.id.clone(),
            child: id.clone(),
        })?;
        let child = &mut self.children[idx];
        if let Some(cell) = child.cell.take() {
            let killed = terminate(&cell, child.spec.shutdown).await;
            child.stopped(killed);
        }
        child.state = ChildState::Terminated;
        child.due = None;
        if child.dynamic || child.spec.restart == Restart::Temporary {
            self.children.remove(idx);
        }
        tracing::debug!(supervisor = %self.id, child = %id, "child terminated on request");
        Ok(())
    }

    fn which_children(&self) -> Vec<ChildInfo> {
        self.children
            .iter()
            .map(|c| ChildInfo {
                id: c.spec.id.clone(),
                cell: c.cell.clone(),
                kind: c.spec.kind,
                restart: c.spec.restart,
                state: c.state,
            })
            .collect()
    }

    fn count_children(&self) -> ChildCounts {
        let mut counts = ChildCounts {
            specs: self.children.len(),
            ..ChildCounts::default()
        };
        for c in &self.children {
            if c.cell.is_some() {
                counts.active += 1;
            }
            match c.spec.kind {
                ChildKind::Worker => counts.workers += 1,
                ChildKind::Supervisor => counts.supervisors += 1,
            }
        }
        counts
    }

    fn status(&mut self) -> SupervisorStatus {
        let now = Instant::now();
        let state = if self.shutting_down {
            SupervisorState::ShuttingDown
        } else if self
            .children
            .iter()
            .any(|c| c.state == ChildState::Restarting)
        {
            SupervisorState::Restarting
        } else {
            SupervisorState::Running
        };
        SupervisorStatus {
            id: self.id.clone(),
            strategy: self.flags.strategy,
            state,
            restarts_in_window: self.intensity.in_window(now),
            total_restarts: self.total_restarts,
            children: self.children.iter().map(|c| c.status(now)).collect(),
        }
    }
}
