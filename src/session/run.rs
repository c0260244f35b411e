//! One running request inside its Session, as an explicit state machine:
//! `Starting → [Planning →] Running → [Synthesizing →] Finishing`. Its tasks (the one task
//! model), its gate (budget, cancel), who listens, and the phase that runs now. Transitions are
//! methods: [`Run::advance`] moves on when the current phase has ended and says what the
//! Session must do next; the Session performs it (start a phase, finish).

use std::collections::HashMap;
use std::sync::Arc;

use crate::agent::{AgentConfig, AttemptGate, TaskLabels};
use crate::protocol::{RunPhase, StopReason};
use crate::supervisor::{ExitReason, SupervisorRef};
use crate::task::{Task, TaskId};

use super::event_queue::EventSink;
use super::plan::{PlannedTask, explicit_tasks, planned_tasks};
use super::request::{RequestEvent, RequestSpec};
use super::verdict::{RunStop, settle};

/// The supervisor of one phase and how it ended.
pub struct Phase {
    /// Unique per session (late reports of an earlier phase are recognised by it).
    pub id: u64,
    /// The span its attempts hang under.
    pub span: tracing::Span,
    /// Its supervisor, once started.
    pub sup: Option<SupervisorRef>,
    /// How its supervisor ended (all its tasks' reports arrived before this is set).
    pub ended: Option<ExitReason>,
}

impl Phase {
    fn new(id: u64) -> Self {
        Self {
            id,
            span: tracing::Span::none(),
            sup: None,
            ended: None,
        }
    }
}

/// Where a run stands.
pub enum RunState {
    /// Accepted by the Session; what runs first is not chosen yet.
    Starting,
    /// Its planner runs.
    Planning(Phase),
    /// Its work tasks run.
    Running(Phase),
    /// Its synthesizer runs.
    Synthesizing(Phase),
    /// Its answer is merged and committed.
    Finishing,
}

/// What the Session must do for a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Nothing until a task or the phase's supervisor reports.
    Wait,
    /// Start the phase the run just entered.
    StartPhase,
    /// Merge, commit and answer.
    Finish,
}

/// A running request.
pub struct Run {
    /// Its `smith.request` span (ends when the run is dropped).
    pub span: tracing::Span,
    /// Who its attempts work for.
    pub labels: Arc<TaskLabels>,
    /// Request id.
    pub request_id: String,
    /// The request (with defaults applied).
    pub spec: RequestSpec,
    /// The agent settings of its tasks (timeout and model applied).
    pub agent: Arc<AgentConfig>,
    /// Listeners.
    pub sinks: Vec<EventSink>,
    /// Budget and cancel.
    pub gate: Arc<AttemptGate>,
    /// The work tasks in order.
    pub tasks: Vec<Task>,
    /// The planner, once planning started.
    pub planner: Option<Task>,
    /// What the planner planned (read when it completed).
    pub plan: Option<Result<(Vec<PlannedTask>, bool), String>>,
    /// The synthesizer, once synthesis started.
    pub synthesizer: Option<Task>,
    /// Where it stands.
    pub state: RunState,
    /// Stopped from outside (cancel or shutdown).
    pub stop: Option<StopReason>,
    /// A phase supervisor gave up.
    pub escalated: bool,
    /// Running tasks were told the budget is spent.
    pub budget_stopped: bool,
    /// Notes for the final reason (planner fallback, cut plan, …).
    pub notes: Vec<String>,
    /// Unix ms when it started.
    pub started_ms: i64,
    /// Tasks whose attempt on a worker node is followed (see `Queued::adopt`).
    pub adopt: HashMap<TaskId, String>,
}

impl Run {
    /// Sends an event to every listener (dropping the ones that left).
    pub fn emit(&mut self, event: impl Into<RequestEvent>) {
        let event = event.into();
        self.sinks.retain(|s| s.send(event.clone()).is_ok());
    }

    /// The phase that runs now.
    pub fn phase(&self) -> Option<&Phase> {
        match &self.state {
            RunState::Planning(p) | RunState::Running(p) | RunState::Synthesizing(p) => Some(p),
            RunState::Starting | RunState::Finishing => None,
        }
    }

    /// The phase that runs now, to record its supervisor or its end.
    pub fn phase_mut(&mut self) -> Option<&mut Phase> {
        match &mut self.state {
            RunState::Planning(p) | RunState::Running(p) | RunState::Synthesizing(p) => Some(p),
            RunState::Starting | RunState::Finishing => None,
        }
    }

    /// What it is doing, for the status tree.
    pub fn doing(&self) -> RunPhase {
        match self.state {
            RunState::Planning(_) => RunPhase::Planning,
            RunState::Starting | RunState::Running(_) => RunPhase::Running,
            RunState::Synthesizing(_) => RunPhase::Synthesizing,
            RunState::Finishing => RunPhase::Finishing,
        }
    }

    /// The tasks of the phase that runs now.
    pub fn phase_tasks(&self) -> Vec<&Task> {
        match self.state {
            RunState::Planning(_) => self.planner.iter().collect(),
            RunState::Running(_) => self.tasks.iter().collect(),
            RunState::Synthesizing(_) => self.synthesizer.iter().collect(),
            RunState::Starting | RunState::Finishing => Vec::new(),
        }
    }

    /// The planner or the synthesizer while it runs.
    pub fn helper(&self) -> Option<&Task> {
        match self.state {
            RunState::Planning(_) => self.planner.as_ref(),
            RunState::Synthesizing(_) => self.synthesizer.as_ref(),
            RunState::Starting | RunState::Running(_) | RunState::Finishing => None,
        }
    }

    /// Every task it has (work, then planner and synthesizer).
    pub fn all_tasks(&self) -> impl Iterator<Item = &Task> {
        self.tasks
            .iter()
            .chain(self.planner.iter())
            .chain(self.synthesizer.iter())
    }

    /// The task `id`.
    pub fn task_mut(&mut self, id: TaskId) -> Option<&mut Task> {
        match id {
            TaskId::Work(i) => self.tasks.get_mut(i as usize),
            TaskId::Planner => self.planner.as_mut(),
            TaskId::Synthesizer => self.synthesizer.as_mut(),
        }
    }

    /// How it was stopped from outside, as its tasks settle.
    pub fn run_stop(&self) -> RunStop {
        RunStop {
            stop: self.stop,
            gate: self.gate.closed(),
            escalated: self.escalated,
        }
    }

    /// Stops it from outside: no new attempt starts, and the phase supervisor (if one runs) is
    /// asked to stop its tasks gracefully, which ends the phase. `true` the first time.
    pub fn stop(&mut self, reason: StopReason) -> bool {
        if self.stop.is_some() {
            return false;
        }
        self.stop = Some(reason);
        self.gate.close(reason);
        if let Some(sup) = self.phase().and_then(|p| p.sup.as_ref()) {
            sup.cell().stop(Some("shutdown: request stopped".into()));
        }
        true
    }

    /// Moves on if the current phase has ended (or the run has not begun), returning what the
    /// Session must do. `phase_id` numbers a phase it enters; `max_tasks` bounds a plan.
    pub fn advance(&mut self, phase_id: u64, max_tasks: usize) -> Next {
        let ended = match &self.state {
            RunState::Starting => return self.begin(phase_id),
            RunState::Finishing => return Next::Finish,
            RunState::Planning(p) | RunState::Running(p) | RunState::Synthesizing(p) => {
                match &p.ended {
                    None => return Next::Wait,
                    Some(reason) => matches!(reason, ExitReason::Escalated(_)),
                }
            }
        };
        self.escalated |= ended;
        let stop = self.run_stop();
        match std::mem::replace(&mut self.state, RunState::Finishing) {
            RunState::Planning(_) => {
                if let Some(planner) = self.planner.as_mut() {
                    settle(planner, stop);
                }
                if self.stop.is_some() {
                    return Next::Finish;
                }
                self.take_plan(max_tasks);
                if self.gate.closed().is_some() {
                    return Next::Finish;
                }
                self.state = RunState::Running(Phase::new(phase_id));
                Next::StartPhase
            }
            RunState::Running(_) => {
                for t in &mut self.tasks {
                    settle(t, stop);
                }
                let synthesize = self.spec.synthesize
                    && self.tasks.iter().any(Task::succeeded)
                    && self.gate.closed().is_none();
                if !synthesize {
                    return Next::Finish;
                }
                self.synthesizer = Some(Task::new(
                    TaskId::Synthesizer,
                    "synthesize",
                    "write the answer from the task results",
                ));
                self.state = RunState::Synthesizing(Phase::new(phase_id));
                Next::StartPhase
            }
            RunState::Synthesizing(_) => {
                if let Some(s) = self.synthesizer.as_mut() {
                    settle(s, stop);
                }
                Next::Finish
            }
            RunState::Starting | RunState::Finishing => Next::Finish,
        }
    }

    /// The first phase: the planner, or the work tasks (explicit, or kept from before a resume).
    fn begin(&mut self, phase_id: u64) -> Next {
        if self.spec.plan && self.tasks.is_empty() {
            self.planner = Some(Task::new(
                TaskId::Planner,
                "plan",
                "split the request into tasks",
            ));
            self.state = RunState::Planning(Phase::new(phase_id));
        } else {
            if self.tasks.is_empty() {
                self.tasks = explicit_tasks(&self.spec.prompt, &self.spec.tasks);
            }
            self.state = RunState::Running(Phase::new(phase_id));
        }
        Next::StartPhase
    }

    /// The work tasks from the plan; the whole request as one task when planning failed.
    fn take_plan(&mut self, max_tasks: usize) {
        let planned = match (&self.planner, self.plan.take()) {
            (Some(p), Some(plan)) if p.succeeded() => plan,
            (Some(p), _) if p.succeeded() => Err("the planner returned no plan".into()),
            (Some(p), _) => Err(match p.end {
                Some(end) => format!("the planner ended {end}"),
                None => "the planner did not run".into(),
            }),
            (None, _) => Err("the planner did not run".into()),
        };
        match planned {
            Ok((tasks, cut)) => {
                if cut {
                    self.notes.push(format!(
                        "the plan had more than {max_tasks} tasks; the rest were dropped"
                    ));
                }
                self.tasks = planned_tasks(tasks);
            }
            Err(why) => {
                self.notes.push(format!(
                    "planning failed ({why}); the request ran as one task"
                ));
                self.tasks = vec![Task::new(
                    TaskId::Work(0),
                    "request",
                    self.spec.prompt.clone(),
                )];
            }
        }
    }
}
