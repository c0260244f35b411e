//! What a Session holds: its name, the turns of context it keeps, the requests waiting their
//! turn, and the request that runs ([`Run`]). [`SessionState::advance`] drives the run through
//! its states — one loop, no recursion: start the next request when none runs, start the phase
//! the run entered, finish it, and stop when the run must wait for its tasks.

use crate::task::TaskId;
use std::collections::HashMap;
use std::collections::VecDeque;

use ractor::{ActorId, ActorRef};

use crate::protocol::{RunStatus, SessionStatus};
use crate::store::records::now_ms;
use crate::store::{StoreError, Turn, queries};
use crate::supervisor::ExitReason;

use super::context::bounded_turn;
use super::event_queue::EventSink;
use super::message::{SessionDeps, SessionMsg};
use super::registry::Registry;
use super::request::RequestSpec;
use super::run::{Next, Run};
use crate::task::Task;

/// A request waiting for its turn.
pub(super) struct Queued {
    pub(super) request_id: String,
    pub(super) spec: RequestSpec,
    /// For a resume: its work tasks as stored.
    pub(super) resume: Option<Vec<Task>>,
    /// For a resume: the tasks whose last attempt still ran on a worker node when smithd was
    /// killed, with that attempt's tag (followed, not started again).
    pub(super) adopt: HashMap<TaskId, String>,
    pub(super) sinks: Vec<EventSink>,
}

/// The Session's state.
pub struct SessionState {
    pub(super) name: String,
    pub(super) deps: SessionDeps,
    pub(super) history: Vec<Turn>,
    pub(super) queue: VecDeque<Queued>,
    pub(super) current: Option<Run>,
    pub(super) next_phase: u64,
    registry: Registry,
    /// It has a running or queued request.
    busy: bool,
    /// How many times it became idle (an idle check of an earlier time is stale).
    idle_count: u64,
    /// It stops because it retired (not because it crashed or is stopped).
    retiring: bool,
}

impl Drop for SessionState {
    fn drop(&mut self) {
        self.registry.left(&self.name, self.retiring);
    }
}

impl SessionState {
    /// A (re)started Session: whatever an earlier incarnation ran is interrupted, and the last
    /// turns of context are loaded.
    pub(super) async fn load(
        name: String,
        deps: SessionDeps,
        registry: Registry,
    ) -> Result<Self, StoreError> {
        let n = name.clone();
        let orphans = deps
            .store
            .call(move |c| queries::interrupt_in_flight(c, Some(&n)))
            .await?;
        if !orphans.is_empty() {
            tracing::warn!(session = %name, count = orphans.len(), "requests of a previous incarnation interrupted");
        }
        let n = name.clone();
        let turns = deps.config.context.turns.max(1);
        let max_chars = deps.config.context.max_chars;
        let history: Vec<Turn> = deps
            .store
            .call(move |c| queries::load_turns(c, &n, turns))
            .await?
            .into_iter()
            .map(|t| bounded_turn(t, max_chars))
            .collect();
        tracing::debug!(session = %name, turns = history.len(), "session started");
        Ok(Self {
            name,
            deps,
            history,
            queue: VecDeque::new(),
            current: None,
            next_phase: 1,
            registry,
            busy: false,
            idle_count: 0,
            retiring: false,
        })
    }

    /// Tells the registry when it becomes busy or idle; idle, it retires after
    /// `limits.session_idle_timeout` unless work comes first.
    pub(super) fn report_activity(&mut self, myself: &ActorRef<SessionMsg>) {
        let busy = self.current.is_some() || !self.queue.is_empty();
        if busy == self.busy {
            return;
        }
        self.busy = busy;
        self.registry.set_busy(&self.name, busy);
        if !busy {
            self.became_idle(myself);
        }
    }

    /// Starts the idle timer.
    pub(super) fn became_idle(&mut self, myself: &ActorRef<SessionMsg>) {
        self.idle_count += 1;
        let n = self.idle_count;
        let after = self.deps.config.limits.session_idle_timeout;
        myself.send_after(after, move || SessionMsg::IdleCheck(n));
    }

    /// Stops if it is idle (and, for an idle check, has been since check `n` was set) and the
    /// registry lets it (nobody is about to talk to it).
    pub(super) fn retire(&mut self, myself: &ActorRef<SessionMsg>, n: Option<u64>) {
        let stale = n.is_some_and(|n| n != self.idle_count);
        if self.busy || stale || !self.registry.try_retire(&self.name) {
            return;
        }
        tracing::debug!(session = %self.name, "session retires (idle)");
        self.retiring = true;
        myself.stop(Some(crate::supervisor::REASON_NORMAL.into()));
    }

    /// Moves the current run on as far as it can, and starts queued requests as runs end.
    pub(super) async fn advance(&mut self, myself: &ActorRef<SessionMsg>) {
        let max_tasks = self.deps.config.limits.max_tasks_per_request;
        loop {
            let phase_id = self.next_phase;
            let next = match self.current.as_mut() {
                Some(run) => run.advance(phase_id, max_tasks),
                None => match self.queue.pop_front() {
                    Some(queued) => {
                        self.current = self.begin(queued).await;
                        continue;
                    }
                    None => return,
                },
            };
            match next {
                Next::Wait => return,
                Next::StartPhase => {
                    self.next_phase += 1;
                    self.start_phase(myself).await;
                }
                Next::Finish => {
                    if let Some(run) = self.current.take() {
                        self.finish(run).await;
                    }
                }
            }
        }
    }

    /// The phase whose supervisor is `actor`, if it belongs to the running request.
    pub(super) fn phase_of(&self, actor: ActorId) -> Option<u64> {
        let phase = self.current.as_ref()?.phase()?;
        let sup = phase.sup.as_ref()?;
        (sup.cell().get_id() == actor).then_some(phase.id)
    }

    /// The supervisor of phase `id` ended: every report of that phase has been handled.
    pub(super) fn on_phase_ended(&mut self, id: u64, reason: ExitReason) {
        if let Some(phase) = self
            .current
            .as_mut()
            .and_then(Run::phase_mut)
            .filter(|p| p.id == id)
        {
            tracing::debug!(session = %self.name, phase = id, %reason, "phase ended");
            phase.ended = Some(reason);
        }
    }

    /// A status snapshot.
    pub(super) fn status(&self) -> SessionStatus {
        let now = now_ms();
        SessionStatus {
            name: self.name.clone(),
            turns: self.history.len() as u64,
            queued: self.queue.iter().map(|q| q.request_id.clone()).collect(),
            current: self.current.as_ref().map(|run| RunStatus {
                request_id: run.request_id.clone(),
                phase: run.doing(),
                strategy: run
                    .spec
                    .strategy
                    .unwrap_or(self.deps.config.supervision.strategy)
                    .into(),
                started_ms: run.started_ms,
                cost_usd: run.gate.spent(),
                tasks: run
                    .helper()
                    .into_iter()
                    .chain(run.tasks.iter())
                    .map(|t| t.line(now))
                    .collect(),
            }),
        }
    }
}
