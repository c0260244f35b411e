//! Starting a phase of a run: its tasks recorded, one task actor per task that still has to
//! run (with its prompt: a context slice, the planner's or the synthesizer's), all under a
//! supervisor linked to the Session with the request's strategy and restart intensity. Task
//! reports go straight to the Session, tagged with the phase.

use std::sync::Arc;

use ractor::ActorRef;
use tokio::sync::mpsc;

use crate::agent::executor::local;
use crate::agent::{
    AttemptRecorder, AttemptStart, TaskActor, TaskCarry, TaskEnv, TaskMsg, TaskOptions,
    TaskReporter, TaskSpec, TaskWorktree,
};
use crate::protocol::WorkspaceState;
use crate::protocol::{Event, StopReason, TaskRef};
use crate::store::records::now_ms;
use crate::store::{AttemptRecord, StoreHandle, Turn, queries};
use crate::supervisor::{
    AutoShutdown, ExitReason, SupervisorEvent, SupervisorFlags, SupervisorRef, SupervisorSpec,
};
use crate::task::{Task, TaskId};
use crate::workspace::{TaskWorkspace, Worktree};

use super::config::SessionConfig;
use super::context::{TaskRef as SliceTask, build_slice};
use super::merge::synthesis_prompt;
use super::message::SessionMsg;
use super::plan::{PLAN_SCHEMA, planner_prompt};
use super::run::{Run, RunState};
use super::spans::{phase_span, record_supervision};
use super::state::SessionState;

/// One task to start in a phase.
struct Unit {
    id: TaskId,
    name: String,
    prompt: String,
    json_schema: Option<String>,
    carry: TaskCarry,
    worktree: Option<Worktree>,
}

impl Unit {
    fn fresh(task: &Task, prompt: String, json_schema: Option<String>) -> Self {
        Self {
            id: task.id,
            name: task.name.clone(),
            prompt,
            json_schema,
            carry: TaskCarry::default(),
            worktree: None,
        }
    }
}

/// The tasks of the phase the run entered that still have to run, with their prompts.
fn units(run: &Run, session: &str, history: &[Turn], config: &SessionConfig) -> Vec<Unit> {
    match &run.state {
        RunState::Planning(_) => run
            .planner
            .iter()
            .map(|p| {
                let prompt = planner_prompt(&run.spec.prompt, config.limits.max_tasks_per_request);
                Unit::fresh(p, prompt, Some(PLAN_SCHEMA.to_string()))
            })
            .collect(),
        RunState::Synthesizing(_) => run
            .synthesizer
            .iter()
            .map(|s| {
                let prompt = synthesis_prompt(&run.spec.prompt, &run.tasks, &run.request_id);
                Unit::fresh(s, prompt, None)
            })
            .collect(),
        RunState::Running(_) => {
            let total = run.tasks.len();
            let explicit = !run.spec.tasks.is_empty() || run.spec.plan || total > 1;
            run.tasks
                .iter()
                .filter(|t| !t.succeeded())
                .map(|t| {
                    let place = explicit.then_some(SliceTask {
                        index: t.id.index() as usize + 1,
                        total,
                        name: &t.name,
                        instruction: &t.instruction,
                    });
                    Unit {
                        id: t.id,
                        name: t.name.clone(),
                        prompt: build_slice(
                            session,
                            history,
                            &run.spec.prompt,
                            place,
                            &config.context,
                        ),
                        json_schema: None,
                        carry: TaskCarry {
                            attempts: t.attempts,
                            claude_session_id: t.claude_session_id.clone(),
                            last_outcome: None,
                            adopt: run.adopt.get(&t.id).cloned(),
                        },
                        worktree: t.workspace.as_ref().map(|w| w.worktree.clone()),
                    }
                })
                .collect()
        }
        RunState::Starting | RunState::Finishing => Vec::new(),
    }
}

impl SessionState {
    /// Starts the phase the current run just entered (see the module doc). A phase with nothing
    /// to run, or whose request's gate is already closed, ends at once; one whose supervisor
    /// cannot start ends as failed, with a note.
    pub(super) async fn start_phase(&mut self, myself: &ActorRef<SessionMsg>) {
        let Some(run) = self.current.as_mut() else {
            return;
        };
        if matches!(run.state, RunState::Running(_))
            && let Some(checkout) = run.spec.checkout.clone()
        {
            // Each work task's worktree is recorded with it, before any worker starts.
            let dir = self.deps.workspaces.dir().to_path_buf();
            for t in run.tasks.iter_mut().filter(|t| t.workspace.is_none()) {
                let worktree = Worktree::plan(&checkout, &dir, &run.request_id, &t.id.to_string());
                t.workspace = Some(TaskWorkspace {
                    worktree,
                    state: WorkspaceState::Active,
                    changes: None,
                });
            }
        }
        let tasks: Vec<Task> = run.phase_tasks().into_iter().cloned().collect();
        if matches!(run.state, RunState::Running(_)) {
            let planned = tasks
                .iter()
                .map(|t| TaskRef {
                    id: t.id.to_string(),
                    name: t.name.clone(),
                })
                .collect();
            run.emit(Event::Planned { tasks: planned });
        }
        let rid = run.request_id.clone();
        if let Err(e) = self
            .deps
            .store
            .call(move |c| queries::set_tasks(c, &rid, &tasks))
            .await
        {
            // The attempts are recorded (or refused) one by one before they start.
            tracing::error!(session = %self.name, error = %e, "cannot record the tasks of a phase");
        }
        let units = units(run, &self.name, &self.history, &self.deps.config);
        let Some(phase_id) = run.phase().map(|p| p.id) else {
            return;
        };
        if units.is_empty() || run.gate.closed().is_some() {
            if let Some(phase) = run.phase_mut() {
                phase.ended = Some(ExitReason::Normal);
            }
            return;
        }
        let span = phase_span(&run.state, &run.span, &run.request_id);
        let session = myself.clone();
        let env = TaskEnv {
            reporter: TaskReporter::new(move |event| {
                let _ = session.cast(SessionMsg::Task {
                    phase: phase_id,
                    event,
                });
            }),
            recorder: Some(attempt_recorder(
                self.deps.store.clone(),
                run.request_id.clone(),
            )),
            permits: Some(self.deps.permits.clone()),
            gate: Some(run.gate.clone()),
            span: span.clone(),
            labels: run.labels.clone(),
            executor: local(),
            approvals: self.deps.approvals.clone(),
            governor: self.deps.governor.clone(),
            warm: self.deps.warm.clone(),
            remote: self.deps.remote.clone(),
        };
        // Restarts (with their backoff) and escalations become events on the request's span.
        let (observer, mut decisions) = mpsc::unbounded_channel::<SupervisorEvent>();
        let request_span = run.span.clone();
        tokio::spawn(async move {
            while let Some(event) = decisions.recv().await {
                record_supervision(&request_span, event);
            }
        });
        let config = &self.deps.config;
        let supervision = &config.supervision;
        let restart = run.spec.restart.unwrap_or(supervision.restart);
        let mut sup_spec = SupervisorSpec::new(format!("{} {}", run.request_id, run.doing()))
            .flags(SupervisorFlags {
                strategy: run.spec.strategy.unwrap_or(supervision.strategy),
                max_restarts: run.spec.max_restarts.unwrap_or(supervision.max_restarts),
                period: run.spec.within.unwrap_or(supervision.period),
                backoff: supervision.backoff(),
                auto_shutdown: AutoShutdown::AllSignificant,
                max_children: None,
            })
            .observer(observer);
        let isolated = run.spec.checkout.is_some();
        for unit in units {
            let workspace = unit.worktree.map(|worktree| TaskWorktree {
                commit_message: format!(
                    "smith: {} {} of request {}\n\nWhat the worker of task {} ({}) changed.",
                    unit.id, unit.name, run.request_id, unit.id, unit.name
                ),
                worktree,
                workspaces: self.deps.workspaces.clone(),
            });
            let (tools, disallowed_tools) = match (isolated, &workspace) {
                // Planner and synthesizer read the original checkout: read-only tools only.
                (true, None) => (Some(read_only_tools()), Vec::new()),
                // Workers stay in their worktree: the CLI's own worktree tools are denied.
                (true, Some(_)) => (None, worktree_tools()),
                (false, _) => (None, Vec::new()),
            };
            let spec = Arc::new(TaskSpec {
                id: unit.id,
                name: unit.name,
                prompt: unit.prompt,
                options: TaskOptions {
                    cwd: run.spec.cwd.clone(),
                    model: run.spec.model.clone(),
                    json_schema: unit.json_schema,
                    env: config.task_env.clone(),
                    tools,
                    disallowed_tools,
                    bare: run.spec.bare.unwrap_or(run.agent.bare),
                    ..TaskOptions::default()
                },
                config: run.agent.clone(),
                workspace,
            });
            sup_spec = sup_spec.child(
                TaskActor::child_spec(spec, env.clone(), unit.carry)
                    .restart(restart)
                    .significant(true),
            );
        }
        drop(env);
        tracing::debug!(session = %self.name, request = %run.request_id, phase = %run.doing(), "phase started");
        let started = SupervisorRef::start_linked(sup_spec, myself.get_cell()).await;
        if let Err(e) = &started {
            tracing::error!(session = %self.name, request = %run.request_id, error = %e, "cannot start the request run");
            run.notes
                .push(format!("the request run could not start: {e}"));
        }
        let Some(phase) = run.phase_mut() else {
            return;
        };
        phase.span = span;
        match started {
            Ok((sup, _)) => phase.sup = Some(sup),
            Err(e) => phase.ended = Some(ExitReason::Failed(e.to_string())),
        }
    }
}

/// Once the request's budget, or a ceiling it is under, is spent: every running task of the phase
/// is told, and ends `budget_exceeded` (once; a ceiling is named in the request's reason).
pub(super) fn stop_if_spent(session: &str, run: &mut Run) {
    if run.budget_stopped || run.gate.closed() != Some(StopReason::BudgetExceeded) {
        return;
    }
    run.budget_stopped = true;
    match run.gate.ceiling() {
        Some(ceiling) => {
            tracing::warn!(%session, request = %run.request_id, "{ceiling}; stopping the request's tasks");
            run.notes.push(ceiling.to_string());
        }
        None => {
            tracing::warn!(%session, request = %run.request_id, spent = run.gate.spent(), "budget exceeded; stopping the request's tasks")
        }
    }
    stop_for_budget(run);
}

/// Every running task of the phase is told, and ends `budget_exceeded`.
fn stop_for_budget(run: &Run) {
    if let Some(sup) = run.phase().and_then(|p| p.sup.as_ref()) {
        for task in sup.cell().get_children() {
            let _ = task.send_message(TaskMsg::Stop(StopReason::BudgetExceeded));
        }
    }
}

/// What the planner and the synthesizer of an isolated request may use: reading tools only, so
/// that the checkout the worktrees were cut from stays as it is.
fn read_only_tools() -> Vec<String> {
    ["Read", "Grep", "Glob"].map(String::from).to_vec()
}

/// The CLI's own worktree tools: a worker in smith's worktree must not leave it.
fn worktree_tools() -> Vec<String> {
    ["EnterWorktree", "ExitWorktree"].map(String::from).to_vec()
}

/// Records each attempt (and waits for the commit) before its process starts.
fn attempt_recorder(store: StoreHandle, request_id: String) -> AttemptRecorder {
    Arc::new(move |a: AttemptStart| {
        let store = store.clone();
        let mut record = AttemptRecord::new(request_id.clone(), a.task_id, a.attempt, now_ms());
        record.resumed_from = a.resumed;
        record.bare = a.bare;
        record.tag = Some(a.tag);
        // Known to be on a node before it is dispatched: a restart after a kill follows it.
        record.node = a.remote.then(String::new);
        record.claude_session_id = Some(a.claude_session_id);
        Box::pin(async move {
            store
                .call(move |c| queries::start_attempt(c, &record))
                .await
                .map_err(|e| e.to_string())
        })
    })
}
