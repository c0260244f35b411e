//! The supervisor actor: starts its children, watches their exits through ractor's supervision
//! events, restarts them by strategy, restart type, intensity and backoff, and stops them in
//! order. Use it through [`SupervisorRef`](super::SupervisorRef).

use std::time::Duration;

use futures::future::join_all;
use ractor::{
    Actor, ActorCell, ActorProcessingErr, ActorRef, RactorErr, RpcReplyPort, SupervisionEvent,
};
use tokio::time::Instant;

use super::backoff::BackoffState;
use super::child_spec::{ChildId, ChildKind, ChildSpec, ChildStart, Restart, Shutdown};
use super::error::SupervisorError;
use super::exit_reason::{ExitReason, REASON_ESCALATED, REASON_SHUTDOWN};
use super::flags::{AutoShutdown, SupervisorFlags, SupervisorSpec, validate_child};
use super::intensity::RestartIntensity;
use super::observer::{SupervisorEvent, SupervisorObserver};
use super::status::{
    ChildCounts, ChildInfo, ChildState, ChildStatus, SupervisorState, SupervisorStatus,
};
use super::strategy::Strategy;

/// How long a kill may take before we give up waiting for the actor (it cannot be interrupted
/// only if it blocks a worker thread, which is a bug of that actor).
const KILL_WAIT: Duration = Duration::from_secs(5);

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

/// One child as the supervisor tracks it.
struct Child {
    spec: ChildSpec,
    cell: Option<ActorCell>,
    state: ChildState,
    restarts: u32,
    last_exit: Option<ExitReason>,
    backoff: BackoffState,
    /// When a pending restart may start.
    due: Option<Instant>,
    started_at: Option<Instant>,
    dynamic: bool,
}

impl Child {
    fn new(spec: ChildSpec, dynamic: bool) -> Self {
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

    fn running(&mut self, cell: ActorCell) {
        self.cell = Some(cell);
        self.state = ChildState::Running;
        self.started_at = Some(Instant::now());
        self.due = None;
    }

    fn status(&self, now: Instant) -> ChildStatus {
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

/// The supervisor's state.
pub struct SupervisorRunState {
    id: String,
    flags: SupervisorFlags,
    children: Vec<Child>,
    intensity: RestartIntensity,
    total_restarts: u64,
    shutting_down: bool,
    observer: Option<SupervisorObserver>,
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
    fn observe(&self, event: SupervisorEvent) {
        if let Some(o) = &self.observer {
            let _ = o.send(event);
        }
    }

    fn index_of(&self, id: &ChildId) -> Option<usize> {
        self.children.iter().position(|c| &c.spec.id == id)
    }

    /// A child exited on its own: restart it (and bystanders) or let it go.
    async fn child_exited(
        &mut self,
        myself: &ActorRef<SupervisorMsg>,
        idx: usize,
        reason: ExitReason,
    ) {
        let child = &mut self.children[idx];
        child.cell = None;
        child.started_at = None;
        child.last_exit = Some(reason.clone());
        let child_id = child.spec.id.clone();

        if !child.spec.restart.should_restart(&reason) {
            tracing::debug!(supervisor = %self.id, child = %child_id, reason = %reason,
                restart = child.spec.restart.as_str(), "child exited; not restarted");
            let significant = child.spec.significant;
            if child.spec.restart == Restart::Temporary {
                self.children.remove(idx);
            } else {
                child.state = ChildState::Terminated;
            }
            if significant {
                self.maybe_auto_shutdown(myself, &child_id).await;
            }
            return;
        }

        let now = Instant::now();
        self.total_restarts += 1;
        if self.intensity.record(now) {
            self.escalate(myself, &child_id, &reason).await;
            return;
        }

        // Terminate the bystanders this strategy restarts with the failed child, in reverse order.
        let affected = self.flags.strategy.affected(self.children.len(), idx);
        let mut pending: Vec<ChildId> = Vec::new();
        for j in affected.clone().rev() {
            if j == idx {
                continue;
            }
            let bystander = &mut self.children[j];
            if let Some(cell) = bystander.cell.take() {
                let killed = terminate(&cell, bystander.spec.shutdown).await;
                bystander.last_exit = Some(if killed {
                    ExitReason::Killed
                } else {
                    ExitReason::Shutdown(None)
                });
                bystander.started_at = None;
                tracing::debug!(supervisor = %self.id, child = %bystander.spec.id, cause = %child_id,
                    strategy = %self.flags.strategy, killed, "bystander terminated for restart");
            }
            bystander.state = ChildState::Restarting;
            pending.push(bystander.spec.id.clone());
        }
        // Temporary bystanders are removed, never restarted.
        let removed: Vec<ChildId> = self
            .children
            .iter()
            .filter(|c| c.spec.restart == Restart::Temporary && pending.contains(&c.spec.id))
            .map(|c| c.spec.id.clone())
            .collect();
        self.children
            .retain(|c| !(c.spec.restart == Restart::Temporary && pending.contains(&c.spec.id)));
        for id in &removed {
            tracing::debug!(supervisor = %self.id, child = %id, "temporary bystander removed");
        }
        pending.retain(|id| !removed.contains(id));
        pending.push(child_id.clone());

        let Some(idx) = self.index_of(&child_id) else {
            return;
        };
        let failed = &mut self.children[idx];
        failed.state = ChildState::Restarting;
        let (n, delay) = failed
            .backoff
            .next(&self.flags.backoff, now, rand::random::<f64>());
        let due = now + delay;
        for c in self.children.iter_mut() {
            if pending.contains(&c.spec.id) {
                c.due = Some(due);
            }
        }
        tracing::warn!(
            supervisor = %self.id,
            child = %child_id,
            reason = %reason,
            attempt = n + 1,
            delay_ms = delay.as_millis() as u64,
            strategy = %self.flags.strategy,
            restarting = pending.len(),
            "restarting child"
        );
        self.observe(SupervisorEvent::Restarting {
            child: child_id.clone(),
            reason: reason.to_string(),
            attempt: n + 1,
            delay,
            restarting: pending.len(),
        });
        schedule_restart(myself, delay);
    }

    /// Starts, in start order, every child whose restart is due.
    async fn restart_due(&mut self, myself: &ActorRef<SupervisorMsg>) {
        if self.shutting_down {
            return;
        }
        let now = Instant::now();
        let mut i = 0;
        while i < self.children.len() {
            let child = &mut self.children[i];
            if child.state != ChildState::Restarting || child.due.is_none_or(|due| due > now) {
                i += 1;
                continue;
            }
            match (child.spec.start)(myself.get_cell()).await {
                Ok(ChildStart::Started(cell)) => {
                    child.running(cell);
                    child.restarts += 1;
                    tracing::info!(supervisor = %self.id, child = %child.spec.id,
                        restarts = child.restarts, "child restarted");
                }
                Ok(ChildStart::Ignore) => {
                    tracing::info!(supervisor = %self.id, child = %child.spec.id,
                        "child declined to restart");
                    child.due = None;
                    let (id, significant) = (child.spec.id.clone(), child.spec.significant);
                    if child.spec.restart == Restart::Temporary {
                        self.children.remove(i);
                    } else {
                        child.state = ChildState::Terminated;
                        i += 1;
                    }
                    // Declining is the end of that child, as if it had exited on its own.
                    if significant {
                        self.maybe_auto_shutdown(myself, &id).await;
                        if self.shutting_down {
                            return;
                        }
                    }
                    continue;
                }
                Err(err) => {
                    let child_id = child.spec.id.clone();
                    let reason = ExitReason::Failed(format!("start failed: {err}"));
                    child.last_exit = Some(reason.clone());
                    self.total_restarts += 1;
                    if self.intensity.record(now) {
                        self.escalate(myself, &child_id, &reason).await;
                        return;
                    }
                    let child = &mut self.children[i];
                    let (n, delay) =
                        child
                            .backoff
                            .next(&self.flags.backoff, now, rand::random::<f64>());
                    let due = now + delay;
                    child.due = Some(due);
                    // Keep start order: children after it that wait with it wait for it.
                    if self.flags.strategy != Strategy::OneForOne {
                        for later in self.children[i + 1..].iter_mut() {
                            if later.state == ChildState::Restarting {
                                later.due = later.due.max(Some(due));
                            }
                        }
                    }
                    tracing::warn!(supervisor = %self.id, child = %child_id, reason = %reason,
                        attempt = n + 1, delay_ms = delay.as_millis() as u64,
                        "restart failed; retrying");
                    self.observe(SupervisorEvent::RestartFailed {
                        child: child_id,
                        reason: reason.to_string(),
                        delay,
                    });
                    schedule_restart(myself, delay);
                }
            }
            i += 1;
        }
    }

    /// Intensity exceeded: stop every child in order and exit with an abnormal reason.
    async fn escalate(
        &mut self,
        myself: &ActorRef<SupervisorMsg>,
        child: &ChildId,
        reason: &ExitReason,
    ) {
        let why = format!(
            "{REASON_ESCALATED}: supervisor {} exceeded {} restarts within {:?} (last: child {child}, {reason})",
            self.id, self.flags.max_restarts, self.flags.period
        );
        tracing::error!(
            supervisor = %self.id,
            child = %child,
            reason = %reason,
            max_restarts = self.flags.max_restarts,
            period_ms = self.flags.period.as_millis() as u64,
            "restart intensity exceeded; escalating"
        );
        crate::telemetry::metrics::metrics().escalations.add(1, &[]);
        self.observe(SupervisorEvent::Escalated {
            child: child.clone(),
            reason: reason.to_string(),
        });
        self.shutting_down = true;
        self.shutdown_all().await;
        myself.stop(Some(why));
    }

    /// A significant child exited on its own and will not restart: maybe stop the supervisor.
    async fn maybe_auto_shutdown(&mut self, myself: &ActorRef<SupervisorMsg>, child: &ChildId) {
        let stop = match self.flags.auto_shutdown {
            AutoShutdown::Never => false,
            AutoShutdown::AnySignificant => true,
            AutoShutdown::AllSignificant => !self
                .children
                .iter()
                .any(|c| c.spec.significant && c.state != ChildState::Terminated),
        };
        if stop {
            tracing::info!(supervisor = %self.id, child = %child,
                mode = ?self.flags.auto_shutdown, "significant child exited; auto shutdown");
            self.shutting_down = true;
            self.shutdown_all().await;
            myself.stop(Some(format!(
                "{REASON_SHUTDOWN}: auto_shutdown after significant child {child} exited"
            )));
        }
    }

    /// Stops every running child: dynamic ones in parallel, then static ones in reverse start
    /// order, each by its shutdown.
    async fn shutdown_all(&mut self) {
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

impl Child {
    /// Records that the supervisor stopped this child (not an exit of its own).
    fn stopped(&mut self, killed: bool) {
        self.last_exit = Some(if killed {
            ExitReason::Killed
        } else {
            ExitReason::Shutdown(None)
        });
        self.started_at = None;
        self.state = ChildState::Terminated;
    }
}

/// Sends `RestartDue` to the supervisor after `delay` (at once when zero), so the supervisor stays
/// responsive while it waits.
fn schedule_restart(myself: &ActorRef<SupervisorMsg>, delay: Duration) {
    if delay.is_zero() {
        let _ = myself.cast(SupervisorMsg::RestartDue);
    } else {
        let target = myself.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = target.cast(SupervisorMsg::RestartDue);
        });
    }
}

/// Stops one child by its shutdown. Returns whether it had to be killed.
async fn terminate(cell: &ActorCell, shutdown: Shutdown) -> bool {
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
