//! The state of one running request inside its Session: its tasks, the current phase (plan,
//! tasks, synthesize) and its supervisor, the gate (budget, cancel), and who listens.

use std::sync::Arc;

use crate::agent::{AgentConfig, AttemptGate, Outcome, OutcomeReason, TaskLabels};
use crate::store::{TaskKind, TaskRecord, TaskStatus};
use crate::supervisor::{ExitReason, SupervisorRef};

use super::request::{RequestEvent, RequestSpec};
use crate::protocol::{RunPhase, TaskSummary};

pub use super::event_queue::EventSink;

/// Why a run was stopped from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopKind {
    /// The user cancelled it.
    Cancelled,
    /// smithd is shutting down: the request becomes `interrupted`, resumable.
    Interrupted,
}

/// What a phase does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhaseKind {
    /// The planner runs.
    Plan,
    /// The work tasks run.
    Tasks,
    /// The synthesizer runs.
    Synthesize,
}

impl From<PhaseKind> for RunPhase {
    fn from(kind: PhaseKind) -> Self {
        match kind {
            PhaseKind::Plan => RunPhase::Planning,
            PhaseKind::Tasks => RunPhase::Running,
            PhaseKind::Synthesize => RunPhase::Synthesizing,
        }
    }
}

impl PhaseKind {
    /// Label for status and logs.
    pub fn as_str(self) -> &'static str {
        RunPhase::from(self).as_str()
    }
}

/// One task (work, planner or synthesizer) of a run.
#[derive(Debug, Clone)]
pub struct TaskRun {
    /// Position (work tasks 0.., planner and synthesizer after them).
    pub idx: u32,
    /// What it is for.
    pub kind: TaskKind,
    /// Id under the phase supervisor.
    pub id: String,
    /// Short name.
    pub name: String,
    /// What it was asked to do.
    pub instruction: String,
    /// Status (provisional while the phase runs).
    pub status: TaskStatus,
    /// Attempts started.
    pub attempts: u32,
    /// Pid of the running attempt.
    pub pid: Option<u32>,
    /// When the running attempt started (Unix ms).
    pub attempt_started_ms: Option<i64>,
    /// The Claude session to resume.
    pub claude_session_id: Option<String>,
    /// The last attempt's outcome.
    pub last: Option<Box<Outcome>>,
    /// The last completed result (kept if a later attempt does not complete).
    pub best_output: Option<String>,
    /// Outcome class to report.
    pub exit_reason: Option<String>,
    /// Cost of all its attempts.
    pub cost: f64,
    /// Carried over from before a resume: already done, not run again.
    pub kept: bool,
}

impl TaskRun {
    /// A task not started yet.
    pub fn new(idx: u32, kind: TaskKind, id: String, name: String, instruction: String) -> Self {
        Self {
            idx,
            kind,
            id,
            name,
            instruction,
            status: TaskStatus::Pending,
            attempts: 0,
            pid: None,
            attempt_started_ms: None,
            claude_session_id: None,
            last: None,
            best_output: None,
            exit_reason: None,
            cost: 0.0,
            kept: false,
        }
    }

    /// A task restored from the store (resume).
    pub fn from_record(r: &TaskRecord) -> Self {
        let mut t = Self::new(
            r.idx,
            r.kind,
            r.id.clone(),
            r.name.clone(),
            r.instruction.clone(),
        );
        t.attempts = r.attempts;
        t.claude_session_id = r.claude_session_id.clone();
        t.cost = r.cost_usd;
        t.exit_reason = r.exit_reason.clone();
        if r.status == TaskStatus::Succeeded {
            t.status = TaskStatus::Succeeded;
            t.best_output = r.output.clone();
            t.kept = true;
        }
        t
    }

    /// The record to store.
    pub fn record(&self, request_id: &str) -> TaskRecord {
        TaskRecord {
            request_id: request_id.to_string(),
            idx: self.idx,
            kind: self.kind,
            id: self.id.clone(),
            name: self.name.clone(),
            instruction: self.instruction.clone(),
            status: self.status,
            exit_reason: self.exit_reason.clone(),
            attempts: self.attempts,
            output: self.output().map(str::to_string),
            cost_usd: self.cost,
            claude_session_id: self.claude_session_id.clone(),
        }
    }

    /// Its result text.
    pub fn output(&self) -> Option<&str> {
        self.best_output.as_deref()
    }

    /// The summary for clients.
    pub fn summary(&self) -> TaskSummary {
        let (detail, hint) = match &self.last {
            Some(last) if self.status != TaskStatus::Succeeded => crate::agent::hint::explain(last),
            _ => (None, None),
        };
        TaskSummary {
            id: self.id.clone(),
            name: self.name.clone(),
            status: self.status,
            attempts: self.attempts,
            exit_reason: self.exit_reason.clone(),
            cost_usd: self.cost,
            output: self.output().map(str::to_string),
            detail,
            hint,
        }
    }

    /// Settles the final status at the end of its phase.
    pub fn settle(&mut self, stop: Option<StopKind>, escalated: bool, gate_reason: Option<&str>) {
        if self.kept {
            return;
        }
        let last = self.last.as_ref().map(|o| o.reason);
        self.status = match last {
            _ if self.best_output.is_some() => TaskStatus::Succeeded,
            None => {
                self.exit_reason = Some(gate_reason.unwrap_or("not started").to_string());
                match stop {
                    Some(StopKind::Interrupted) => TaskStatus::Interrupted,
                    _ => TaskStatus::Skipped,
                }
            }
            Some(OutcomeReason::Cancelled) => match stop {
                Some(StopKind::Cancelled) => TaskStatus::Cancelled,
                Some(StopKind::Interrupted) => TaskStatus::Interrupted,
                // Stopped by its supervisor giving up (or the budget), not by anyone's request.
                None => {
                    if escalated {
                        self.exit_reason = Some("stopped: restart intensity exceeded".into());
                    }
                    TaskStatus::Failed
                }
            },
            Some(reason) => {
                if escalated && reason.is_retryable() {
                    self.exit_reason =
                        Some(format!("{reason}; gave up: restart intensity exceeded"));
                }
                if stop == Some(StopKind::Interrupted) && reason.is_retryable() {
                    TaskStatus::Interrupted
                } else {
                    TaskStatus::Failed
                }
            }
        };
        self.pid = None;
    }
}

/// The phase currently running.
pub struct Phase {
    /// Unique per session (stale task events are recognised by it).
    pub id: u64,
    /// What it does.
    pub kind: PhaseKind,
    /// The span its attempts hang under.
    pub span: tracing::Span,
    /// Its supervisor.
    pub sup: Option<SupervisorRef>,
    /// How its supervisor ended.
    pub sup_exit: Option<ExitReason>,
    /// All its task reports were received.
    pub drained: bool,
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
    pub tasks: Vec<TaskRun>,
    /// The planner or synthesizer while it runs / after it ran.
    pub aux: Option<TaskRun>,
    /// The current phase.
    pub phase: Option<Phase>,
    /// Stopped from outside.
    pub stop: Option<StopKind>,
    /// A phase supervisor gave up.
    pub escalated: bool,
    /// Running tasks were told the budget is spent.
    pub budget_stopped: bool,
    /// Notes for the final reason (planner fallback, cut plan, …).
    pub notes: Vec<String>,
    /// Unix ms when it started.
    pub started_ms: i64,
}

impl Run {
    /// Sends an event to every listener (dropping the ones that left).
    pub fn emit(&mut self, event: impl Into<RequestEvent>) {
        let event = event.into();
        self.sinks.retain(|s| s.send(event.clone()).is_ok());
    }

    /// The task (work or aux) with this supervisor id.
    pub fn task_mut(&mut self, id: &str) -> Option<&mut TaskRun> {
        if let Some(aux) = self.aux.as_mut()
            && aux.id == id
        {
            return Some(aux);
        }
        // Work task ids are `t<position>`: look there first (a large fan-out reports thousands of
        // events), then fall back to a search.
        let at = id
            .strip_prefix('t')
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(|n| n.checked_sub(1))
            .filter(|&i| self.tasks.get(i).is_some_and(|t| t.id == id));
        match at {
            Some(i) => self.tasks.get_mut(i),
            None => self.tasks.iter_mut().find(|t| t.id == id),
        }
    }
}
