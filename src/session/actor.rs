//! The Session actor: the "main REPL session". It alone holds the conversation context (restored
//! from the store when it starts), takes requests one at a time in order, plans them, hands each
//! task an immutable context slice, runs the tasks under a request-run supervisor, keeps the
//! budget ledger, merges the results, and commits the turn before anyone hears the answer.
//!
//! A request runs in phases (plan → tasks → synthesize), each under a supervisor of its own
//! linked to the Session, with every task significant and `auto_shutdown = all_significant`: the
//! phase ends when its supervisor ends — all tasks done, or intensity exceeded (escalation) —
//! and all task reports have arrived. Escalation inside a request never stops the Session.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use tokio::sync::{Semaphore, mpsc};

use crate::agent::hint;
use crate::agent::{
    AgentConfig, AttemptEvent, AttemptGate, AttemptRecorder, AttemptStart, OutcomeReason,
    TaskActor, TaskCarry, TaskEnv, TaskEvent, TaskEventKind, TaskLabels, TaskMsg, TaskOptions,
    TaskSpec,
};
use crate::settings::MAX_DURATION;
use crate::store::queries::{self, NewRequest, RequestEnd};
use crate::store::records::now_ms;
use crate::store::{
    AttemptRecord, RequestStatus, StoreHandle, TaskKind, TaskRecord, TaskStatus, Turn,
};
use crate::supervisor::SupervisorEvent;
use crate::supervisor::{
    AutoShutdown, ExitReason, Restart, SupervisorFlags, SupervisorRef, SupervisorSpec,
};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::config::SessionConfig;
use super::context::{TaskRef, build_slice};
use super::error::SessionError;
use super::merge::{self, MergeInput};
use super::plan::{PLAN_SCHEMA, parse_plan, planner_prompt};
use super::request::{RequestEvent, RequestSpec};
use super::run::{EventSink, Phase, PhaseKind, Run, StopKind, TaskRun};
use crate::protocol::{self, Event, RequestSummary, RunPhase, RunStatus, SessionStatus, TaskLine};

/// Index of the planner among a request's tasks (after any work task).
const PLANNER_IDX: u32 = 10_000;
/// Index of the synthesizer.
const SYNTH_IDX: u32 = 10_001;
/// Progress text sent to clients is cut to this many characters.
const PROGRESS_CHARS: usize = 400;

/// What every Session shares with the others.
#[derive(Clone)]
pub struct SessionDeps {
    /// The database.
    pub store: StoreHandle,
    /// How `claude` runs.
    pub agent: Arc<AgentConfig>,
    /// Limits, supervision defaults, context.
    pub config: Arc<SessionConfig>,
    /// The global cap on live processes.
    pub permits: Arc<Semaphore>,
}

/// Messages of a Session.
pub enum SessionMsg {
    /// A new request; the reply (after it is committed) carries its id.
    Submit {
        /// The request.
        spec: Box<RequestSpec>,
        /// Where its events go.
        events: Option<EventSink>,
        /// Its id.
        reply: RpcReplyPort<Result<String, SessionError>>,
    },
    /// Continue an interrupted request.
    Resume {
        /// Request id.
        request_id: String,
        /// Where its events go.
        events: Option<EventSink>,
        /// Accepted or why not.
        reply: RpcReplyPort<Result<(), SessionError>>,
    },
    /// Cancel a queued or running request.
    Cancel {
        /// Request id.
        request_id: String,
        /// Done or why not.
        reply: RpcReplyPort<Result<(), SessionError>>,
    },
    /// smithd is stopping: the running request and the queued ones become `interrupted`.
    Interrupt(RpcReplyPort<()>),
    /// A status snapshot.
    Status(RpcReplyPort<SessionStatus>),
    /// Internal: a task report of phase `phase`.
    Task {
        /// Phase id.
        phase: u64,
        /// The report.
        event: TaskEvent,
    },
    /// Internal: every report of phase `phase` arrived.
    Drained {
        /// Phase id.
        phase: u64,
    },
}

/// A request waiting for its turn.
struct Queued {
    request_id: String,
    spec: RequestSpec,
    /// For a resume: the tasks as stored.
    resume: Option<Vec<TaskRecord>>,
    sinks: Vec<EventSink>,
}

/// The Session actor (its arguments: name and deps).
pub struct SessionActor;

/// The Session's state.
pub struct SessionState {
    name: String,
    deps: SessionDeps,
    history: Vec<Turn>,
    queue: VecDeque<Queued>,
    current: Option<Run>,
    next_phase: u64,
}

impl Actor for SessionActor {
    type Msg = SessionMsg;
    type State = SessionState;
    type Arguments = (String, SessionDeps);

    async fn pre_start(
        &self,
        _myself: ActorRef<SessionMsg>,
        (name, deps): (String, SessionDeps),
    ) -> Result<SessionState, ActorProcessingErr> {
        // A (re)started Session has no runs: whatever it ran before is interrupted.
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
        Ok(SessionState {
            name,
            deps,
            history,
            queue: VecDeque::new(),
            current: None,
            next_phase: 1,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<SessionMsg>,
        msg: SessionMsg,
        state: &mut SessionState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            SessionMsg::Submit {
                spec,
                events,
                reply,
            } => {
                let result = state.submit(*spec, events).await;
                let _ = reply.send(result);
                state.start_next(&myself).await;
            }
            SessionMsg::Resume {
                request_id,
                events,
                reply,
            } => {
                let result = state.resume(&request_id, events).await;
                let _ = reply.send(result);
                state.start_next(&myself).await;
            }
            SessionMsg::Cancel { request_id, reply } => {
                let _ = reply.send(state.cancel(&request_id, StopKind::Cancelled).await);
            }
            SessionMsg::Interrupt(reply) => {
                state.interrupt_all().await;
                let _ = reply.send(());
            }
            SessionMsg::Status(reply) => {
                let _ = reply.send(state.status());
            }
            SessionMsg::Task { phase, event } => state.on_task_event(phase, event).await,
            SessionMsg::Drained { phase } => {
                if let Some(p) = state.current_phase_mut(phase) {
                    p.drained = true;
                    state.maybe_phase_done(&myself).await;
                }
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<SessionMsg>,
        event: SupervisionEvent,
        state: &mut SessionState,
    ) -> Result<(), ActorProcessingErr> {
        let (Some(reason), Some(cell)) = (ExitReason::from_event(&event), event.actor_cell())
        else {
            return Ok(());
        };
        let id = cell.get_id();
        let Some(phase) = state
            .current
            .as_mut()
            .and_then(|r| r.phase.as_mut())
            .filter(|p| p.sup.as_ref().is_some_and(|s| s.cell().get_id() == id))
        else {
            return Ok(());
        };
        tracing::debug!(session = %state.name, phase = phase.kind.as_str(), %reason, "request run ended");
        phase.sup_exit = Some(reason);
        state.maybe_phase_done(&myself).await;
        Ok(())
    }
}

impl SessionState {
    fn current_phase_mut(&mut self, id: u64) -> Option<&mut Phase> {
        self.current
            .as_mut()
            .and_then(|r| r.phase.as_mut())
            .filter(|p| p.id == id)
    }

    async fn submit(
        &mut self,
        spec: RequestSpec,
        events: Option<EventSink>,
    ) -> Result<String, SessionError> {
        let spec = validate(spec, &self.deps.config)?;
        let limit = self.deps.config.limits.max_queued_requests;
        if self.queue.len() >= limit {
            return Err(SessionError::QueueFull {
                session: self.name.clone(),
                limit,
            });
        }
        let id = format!("r-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        // The prompt is stored once, in its own column; the options without it.
        let options = RequestSpec {
            prompt: String::new(),
            ..spec.clone()
        };
        let new = NewRequest {
            id: id.clone(),
            session: self.name.clone(),
            prompt: spec.prompt.clone(),
            spec_json: serde_json::to_string(&options).expect("a request spec serializes"),
        };
        self.deps
            .store
            .call(move |c| queries::insert_request(c, &new))
            .await?;
        let position = self.queue.len() + usize::from(self.current.is_some());
        let sinks: Vec<EventSink> = events.into_iter().collect();
        let accepted = RequestEvent::from(Event::Accepted {
            request_id: id.clone(),
            session: self.name.clone(),
            position: position as u64,
        });
        for s in &sinks {
            let _ = s.send(accepted.clone());
        }
        tracing::info!(session = %self.name, request = %id, position, "request accepted");
        self.queue.push_back(Queued {
            request_id: id.clone(),
            spec,
            resume: None,
            sinks,
        });
        Ok(id)
    }

    async fn resume(
        &mut self,
        request_id: &str,
        events: Option<EventSink>,
    ) -> Result<(), SessionError> {
        let id = request_id.to_string();
        let detail = self
            .deps
            .store
            .call(move |c| queries::request_detail(c, &id))
            .await
            .map_err(|e| match e {
                crate::store::StoreError::NotFound { id, .. } => SessionError::NotFound(id),
                other => other.into(),
            })?;
        let request = detail.request;
        if request.session != self.name {
            return Err(SessionError::NotFound(request_id.into()));
        }
        if request.status != RequestStatus::Interrupted {
            return Err(SessionError::WrongState {
                id: request.id,
                status: request.status,
                why: "only an interrupted request can be resumed",
            });
        }
        let mut spec = stored_spec(&request.spec_json)?;
        // Requests stored before the prompt moved out of the options still carry it there.
        if spec.prompt.is_empty() {
            spec.prompt = request.prompt.clone();
        }
        let work: Vec<TaskRecord> = detail
            .tasks
            .into_iter()
            .filter(|t| t.kind == TaskKind::Work)
            .collect();
        let rid = request.id.clone();
        self.deps
            .store
            .call(move |c| {
                c.execute(
                    "UPDATE requests SET status = 'queued', reason = NULL, finished_at = NULL WHERE id = ?1",
                    [&rid],
                )
                .map(|_| ())
                .map_err(|source| crate::store::StoreError::Query {
                    action: "re-queueing the request",
                    source,
                })
            })
            .await?;
        let sinks: Vec<EventSink> = events.into_iter().collect();
        for s in &sinks {
            let _ = s.send(
                Event::Accepted {
                    request_id: request.id.clone(),
                    session: self.name.clone(),
                    position: (self.queue.len() + usize::from(self.current.is_some())) as u64,
                }
                .into(),
            );
        }
        tracing::info!(session = %self.name, request = %request.id, kept = work.iter().filter(|t| t.status == TaskStatus::Succeeded).count(), "request resumed");
        self.queue.push_back(Queued {
            request_id: request.id,
            spec,
            resume: Some(work),
            sinks,
        });
        Ok(())
    }

    async fn cancel(&mut self, request_id: &str, kind: StopKind) -> Result<(), SessionError> {
        if let Some(run) = self.current.as_mut()
            && run.request_id == request_id
        {
            stop_run(run, kind);
            return Ok(());
        }
        if let Some(pos) = self.queue.iter().position(|q| q.request_id == request_id) {
            let queued = self.queue.remove(pos).expect("position is valid");
            self.end_queued(queued, kind).await?;
            return Ok(());
        }
        let id = request_id.to_string();
        let session = self
            .deps
            .store
            .call(move |c| queries::request_detail(c, &id))
            .await;
        match session {
            Ok(d) if d.request.session == self.name => Err(SessionError::WrongState {
                id: d.request.id,
                status: d.request.status,
                why: "it is not queued or running",
            }),
            _ => Err(SessionError::NotFound(request_id.into())),
        }
    }

    /// A queued request ends without running.
    async fn end_queued(&mut self, queued: Queued, kind: StopKind) -> Result<(), SessionError> {
        let status = match kind {
            StopKind::Cancelled => RequestStatus::Cancelled,
            StopKind::Interrupted => RequestStatus::Interrupted,
        };
        let id = queued.request_id.clone();
        let end = RequestEnd {
            id: id.clone(),
            status,
            reason: Some(
                match kind {
                    StopKind::Cancelled => "cancelled before it started",
                    StopKind::Interrupted => "smithd stopped before it started",
                }
                .into(),
            ),
            cost_usd: 0.0,
            answer: None,
            tasks: Vec::new(),
        };
        let reason = end.reason.clone();
        self.deps
            .store
            .call(move |c| queries::finish_request(c, &end))
            .await?;
        let summary = RequestSummary {
            request_id: id,
            session: self.name.clone(),
            status,
            reason,
            answer: String::new(),
            cost_usd: 0.0,
            tasks: Vec::new(),
        };
        for s in &queued.sinks {
            let _ = s.send(RequestEvent::Finished(summary.clone()));
        }
        Ok(())
    }

    async fn interrupt_all(&mut self) {
        while let Some(q) = self.queue.pop_front() {
            if let Err(e) = self.end_queued(q, StopKind::Interrupted).await {
                tracing::error!(session = %self.name, error = %e, "cannot record an interrupted request");
            }
        }
        if let Some(run) = self.current.as_mut() {
            stop_run(run, StopKind::Interrupted);
        }
    }

    /// Starts the next queued request if none runs.
    async fn start_next(&mut self, myself: &ActorRef<SessionMsg>) {
        while self.current.is_none() {
            let Some(q) = self.queue.pop_front() else {
                return;
            };
            let id = q.request_id.clone();
            if let Err(e) = self
                .deps
                .store
                .call(move |c| queries::set_request_running(c, &id))
                .await
            {
                tracing::error!(session = %self.name, request = %q.request_id, error = %e, "cannot start request");
                continue;
            }
            let mut agent = (*self.deps.agent).clone();
            if let Some(t) = q.spec.timeout {
                agent.timeout = t;
            }
            if q.spec.model.is_some() {
                agent.model = q.spec.model.clone();
            }
            let budget = q.spec.budget_usd.or(self.deps.config.limits.max_budget_usd);
            let gate = Arc::new(AttemptGate::new(budget));
            let strategy = q
                .spec
                .strategy
                .unwrap_or(self.deps.config.supervision.strategy);
            let span = tracing::info_span!(
                target: "smith::session",
                parent: None,
                "smith.request",
                otel.kind = "server",
                gen_ai.operation.name = "invoke_workflow",
                gen_ai.provider.name = crate::telemetry::semconv::ANTHROPIC,
                gen_ai.conversation.id = %self.name,
                smith.request.id = %q.request_id,
                smith.session = %self.name,
                smith.strategy = %strategy,
                smith.request.status = tracing::field::Empty,
                error.type = tracing::field::Empty,
            );
            if let Some(tp) = &q.spec.traceparent {
                crate::telemetry::set_remote_parent(&span, tp, None);
            }
            if self.deps.config.record_content {
                span.set_attribute(
                    crate::telemetry::semconv::SMITH_PROMPT,
                    q.spec.prompt.clone(),
                );
            }
            let labels = Arc::new(TaskLabels {
                request_id: q.request_id.clone(),
                session: self.name.clone(),
                record_content: self.deps.config.record_content,
                traceparent: q.spec.traceparent.clone(),
            });
            let mut run = Run {
                span,
                labels,
                request_id: q.request_id.clone(),
                spec: q.spec,
                agent: Arc::new(agent),
                sinks: q.sinks,
                gate,
                tasks: Vec::new(),
                aux: None,
                phase: None,
                stop: None,
                escalated: false,
                budget_stopped: false,
                notes: Vec::new(),
                started_ms: now_ms(),
            };
            run.emit(Event::Started {
                request_id: run.request_id.clone(),
            });
            tracing::info!(session = %self.name, request = %run.request_id, "request started");
            let resumed = q.resume.filter(|t| !t.is_empty());
            if let Some(records) = resumed {
                // Spent before the interruption counts toward the budget.
                run.gate.spend(records.iter().map(|t| t.cost_usd).sum());
                run.tasks = records.iter().map(TaskRun::from_record).collect();
                self.current = Some(run);
                self.begin_tasks(myself).await;
            } else if run.spec.plan {
                self.current = Some(run);
                self.begin_plan(myself).await;
            } else {
                run.tasks = explicit_tasks(&run.spec);
                self.current = Some(run);
                self.persist_tasks().await;
                self.begin_tasks(myself).await;
            }
        }
    }

    async fn persist_tasks(&mut self) {
        let Some(run) = self.current.as_mut() else {
            return;
        };
        let records: Vec<TaskRecord> = run
            .tasks
            .iter()
            .map(|t| t.record(&run.request_id))
            .collect();
        let planned = run
            .tasks
            .iter()
            .map(|t| protocol::TaskRef {
                id: t.id.clone(),
                name: t.name.clone(),
            })
            .collect();
        run.emit(Event::Planned { tasks: planned });
        let rid = run.request_id.clone();
        if let Err(e) = self
            .deps
            .store
            .call(move |c| queries::set_tasks(c, &rid, &records))
            .await
        {
            tracing::error!(session = %self.name, error = %e, "cannot record tasks");
        }
    }

    async fn begin_plan(&mut self, myself: &ActorRef<SessionMsg>) {
        let max = self.deps.config.limits.max_tasks_per_request;
        let run = self.current.as_ref().expect("a run is current");
        let prompt = planner_prompt(&run.spec.prompt, max);
        let planner = TaskRun::new(
            PLANNER_IDX,
            TaskKind::Plan,
            "plan".into(),
            "plan".into(),
            "split the request into tasks".into(),
        );
        self.begin_aux(
            myself,
            PhaseKind::Plan,
            planner,
            prompt,
            Some(PLAN_SCHEMA.to_string()),
        )
        .await;
    }

    /// Starts a phase of one task of its own (the planner or the synthesizer), recorded first.
    async fn begin_aux(
        &mut self,
        myself: &ActorRef<SessionMsg>,
        kind: PhaseKind,
        task: TaskRun,
        prompt: String,
        json_schema: Option<String>,
    ) {
        let run = self.current.as_mut().expect("a run is current");
        let record = task.record(&run.request_id);
        let unit = Unit {
            id: task.id.clone(),
            name: task.name.clone(),
            prompt,
            json_schema,
            carry: TaskCarry::default(),
        };
        run.aux = Some(task);
        let rid = run.request_id.clone();
        let _ = self
            .deps
            .store
            .call(move |c| queries::set_tasks(c, &rid, &[record]))
            .await;
        self.start_phase(myself, kind, vec![unit]).await;
    }

    async fn begin_tasks(&mut self, myself: &ActorRef<SessionMsg>) {
        let run = self.current.as_ref().expect("a run is current");
        let total = run.tasks.len();
        let explicit = !run.spec.tasks.is_empty() || run.spec.plan || total > 1;
        let units: Vec<Unit> = run
            .tasks
            .iter()
            .filter(|t| !t.kept)
            .map(|t| {
                let task = explicit.then_some(TaskRef {
                    index: t.idx as usize + 1,
                    total,
                    name: &t.name,
                    instruction: &t.instruction,
                });
                Unit {
                    id: t.id.clone(),
                    name: t.name.clone(),
                    prompt: build_slice(
                        &self.name,
                        &self.history,
                        &run.spec.prompt,
                        task,
                        &self.deps.config.context,
                    ),
                    json_schema: None,
                    carry: TaskCarry {
                        attempts: t.attempts,
                        claude_session_id: t.claude_session_id.clone(),
                        last_outcome: None,
                    },
                }
            })
            .collect();
        self.start_phase(myself, PhaseKind::Tasks, units).await;
    }

    async fn begin_synthesis(&mut self, myself: &ActorRef<SessionMsg>) {
        let run = self.current.as_ref().expect("a run is current");
        let prompt = merge::synthesis_prompt(&run.spec.prompt, &merge_inputs(&run.tasks));
        let synth = TaskRun::new(
            SYNTH_IDX,
            TaskKind::Synthesize,
            "synthesize".into(),
            "synthesize".into(),
            "write the answer from the task results".into(),
        );
        self.begin_aux(myself, PhaseKind::Synthesize, synth, prompt, None)
            .await;
    }

    /// Starts a phase: a supervisor linked to this Session with one significant task per unit.
    async fn start_phase(
        &mut self,
        myself: &ActorRef<SessionMsg>,
        kind: PhaseKind,
        units: Vec<Unit>,
    ) {
        let phase_id = self.next_phase;
        self.next_phase += 1;
        let config = self.deps.config.clone();
        let run = self.current.as_mut().expect("a run is current");
        let mut phase = Phase {
            id: phase_id,
            kind,
            span: tracing::Span::none(),
            sup: None,
            sup_exit: None,
            drained: false,
        };
        if units.is_empty() || run.gate.closed().is_some() {
            phase.sup_exit = Some(ExitReason::Normal);
            phase.drained = true;
            run.phase = Some(phase);
            Box::pin(self.phase_done(myself)).await;
            return;
        }
        let (tx, mut rx) = mpsc::unbounded_channel::<TaskEvent>();
        let session = myself.clone();
        tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                if session
                    .cast(SessionMsg::Task {
                        phase: phase_id,
                        event,
                    })
                    .is_err()
                {
                    return;
                }
            }
            let _ = session.cast(SessionMsg::Drained { phase: phase_id });
        });
        // The planner and the synthesizer get a span of their own under the request's; work
        // tasks' attempts hang right under the request's span.
        let parent = match kind {
            PhaseKind::Tasks => run.span.clone(),
            PhaseKind::Plan => {
                tracing::info_span!(target: "smith::session", parent: &run.span, "plan",
                gen_ai.operation.name = "plan", smith.request.id = %run.request_id)
            }
            PhaseKind::Synthesize => {
                tracing::info_span!(target: "smith::session", parent: &run.span, "synthesize",
                gen_ai.operation.name = "invoke_agent", smith.request.id = %run.request_id)
            }
        };
        phase.span = parent.clone();
        let idx_of: std::collections::HashMap<String, u32> = units
            .iter()
            .filter_map(|u| run.task_mut(&u.id).map(|t| (u.id.clone(), t.idx)))
            .collect();
        let env = TaskEnv {
            reporter: tx,
            recorder: Some(attempt_recorder(
                self.deps.store.clone(),
                run.request_id.clone(),
                idx_of,
            )),
            permits: Some(self.deps.permits.clone()),
            gate: Some(run.gate.clone()),
            span: parent,
            labels: run.labels.clone(),
        };
        // Restarts (with their backoff) and escalations become events on the request's span.
        let (observer, mut decisions) = mpsc::unbounded_channel::<SupervisorEvent>();
        let request_span = run.span.clone();
        tokio::spawn(async move {
            while let Some(event) = decisions.recv().await {
                record_supervision(&request_span, event);
            }
        });
        let restart = run.spec.restart.unwrap_or(config.supervision.restart);
        let mut sup_spec = SupervisorSpec::new(format!("{} {}", run.request_id, kind.as_str()))
            .flags(SupervisorFlags {
                strategy: run.spec.strategy.unwrap_or(config.supervision.strategy),
                max_restarts: run
                    .spec
                    .max_restarts
                    .unwrap_or(config.supervision.max_restarts),
                period: run.spec.within.unwrap_or(config.supervision.period),
                backoff: config.supervision.backoff(),
                auto_shutdown: AutoShutdown::AllSignificant,
                max_children: None,
            })
            .observer(observer);
        for unit in units {
            let spec = Arc::new(TaskSpec {
                id: unit.id,
                name: unit.name,
                prompt: unit.prompt,
                options: TaskOptions {
                    cwd: run.spec.cwd.clone(),
                    model: run.spec.model.clone(),
                    json_schema: unit.json_schema,
                    env: config.task_env.clone(),
                    ..TaskOptions::default()
                },
                config: run.agent.clone(),
            });
            sup_spec = sup_spec.child(
                TaskActor::child_spec(spec, env.clone(), unit.carry)
                    .restart(restart)
                    .significant(true),
            );
        }
        drop(env);
        tracing::debug!(session = %self.name, request = %run.request_id, phase = kind.as_str(), "phase started");
        match SupervisorRef::start_linked(sup_spec, myself.get_cell()).await {
            Ok((sup, _)) => phase.sup = Some(sup),
            Err(e) => {
                tracing::error!(session = %self.name, request = %run.request_id, error = %e, "cannot start the request run");
                run.notes
                    .push(format!("the request run could not start: {e}"));
                phase.sup_exit = Some(ExitReason::Failed(e.to_string()));
            }
        }
        run.phase = Some(phase);
    }

    async fn on_task_event(&mut self, phase_id: u64, event: TaskEvent) {
        let store = self.deps.store.clone();
        let session = self.name.clone();
        let Some(run) = self.current.as_mut() else {
            return;
        };
        if run.phase.as_ref().map(|p| p.id) != Some(phase_id) {
            return;
        }
        let request_id = run.request_id.clone();
        let attempt = event.attempt;
        let Some(task) = run.task_mut(&event.task_id) else {
            return;
        };
        let emitted = match event.kind {
            TaskEventKind::Queued => Some(Event::TaskQueued {
                task_id: task.id.clone(),
            }),
            TaskEventKind::Started {
                pid,
                start_time,
                resumed,
                claude_session_id,
            } => {
                task.claude_session_id = Some(claude_session_id.clone());
                task.attempts = task.attempts.max(attempt);
                task.pid = Some(pid);
                task.status = TaskStatus::Running;
                let started_at = now_ms();
                task.attempt_started_ms = Some(started_at);
                let record = AttemptRecord {
                    request_id: request_id.clone(),
                    task_idx: task.idx,
                    attempt,
                    pid: Some(pid),
                    process_start_time: start_time,
                    started_at,
                    resumed_from: resumed.clone(),
                    claude_session_id: Some(claude_session_id),
                    ..AttemptRecord::default()
                };
                // Progress records are queued, not awaited: the store keeps their order, and the
                // request's final commit (awaited before the answer goes out) comes after them.
                store.send("recording an attempt", move |c| {
                    queries::start_attempt(c, &record)
                });
                if attempt > 1 {
                    tracing::info!(%session, request = %request_id, task = %task.id, attempt, "task restarted");
                }
                Some(Event::TaskStarted {
                    task_id: task.id.clone(),
                    attempt,
                    pid,
                    resumed,
                })
            }
            TaskEventKind::Attempt(AttemptEvent::Init {
                claude_session_id, ..
            }) if task.claude_session_id.as_deref() != Some(claude_session_id.as_str()) => {
                // The CLI chose another session than the one it was given: remember that one.
                task.claude_session_id = Some(claude_session_id.clone());
                let (rid, idx) = (request_id.clone(), task.idx);
                store.send("recording a Claude session", move |c| {
                    queries::set_claude_session(c, &rid, idx, attempt, &claude_session_id)
                });
                None
            }
            TaskEventKind::NotStarted { reason } => {
                tracing::debug!(%session, request = %request_id, task = %task.id, %reason, "task not started");
                None
            }
            TaskEventKind::Attempt(AttemptEvent::Progress { text, tools }) => {
                Some(Event::TaskProgress {
                    task_id: task.id.clone(),
                    text: text.chars().take(PROGRESS_CHARS).collect(),
                    tools,
                })
            }
            TaskEventKind::Attempt(AttemptEvent::ApiRetry(retry)) => Some(Event::TaskApiRetry {
                task_id: task.id.clone(),
                status: retry.error_status,
                attempt: retry.attempt,
            }),
            TaskEventKind::Attempt(AttemptEvent::Spawned { .. } | AttemptEvent::Init { .. }) => {
                None
            }
            TaskEventKind::Finished(outcome) => {
                task.attempts = task.attempts.max(attempt);
                task.cost += outcome.cost_usd;
                task.pid = None;
                task.exit_reason = Some(outcome.reason.to_string());
                if let Some(id) = &outcome.claude_session_id {
                    task.claude_session_id = Some(id.clone());
                }
                if outcome.reason == OutcomeReason::Completed {
                    let output = outcome.result.clone().unwrap_or_default();
                    task.best_output = Some(cut_to(
                        output,
                        self.deps.config.limits.max_task_output_bytes,
                        "limits.max_task_output_bytes",
                    ));
                    task.status = TaskStatus::Succeeded;
                } else if !outcome.retryable {
                    task.status = TaskStatus::Failed;
                }
                let attempt_record = AttemptRecord {
                    request_id: request_id.clone(),
                    task_idx: task.idx,
                    attempt,
                    started_at: task.attempt_started_ms.unwrap_or_else(now_ms),
                    finished_at: Some(now_ms()),
                    exit_reason: Some(outcome.reason.to_string()),
                    exit_code: outcome.exit.and_then(|e| e.code),
                    exit_signal: outcome.exit.and_then(|e| e.signal),
                    stderr_tail: Some(outcome.stderr_tail.clone()).filter(|s| !s.is_empty()),
                    claude_session_id: outcome.claude_session_id.clone(),
                    input_tokens: Some(outcome.usage.total_input()),
                    output_tokens: Some(outcome.usage.output_tokens),
                    cache_read_tokens: Some(outcome.usage.cache_read_input_tokens),
                    cache_creation_tokens: Some(outcome.usage.cache_creation_input_tokens),
                    cost_usd: Some(outcome.cost_usd),
                    detail: outcome.detail.clone(),
                    ..AttemptRecord::default()
                };
                let task_record = task.record(&request_id);
                let (detail, hint) = hint::explain(&outcome);
                let event = Event::TaskFinished {
                    task_id: task.id.clone(),
                    attempt,
                    reason: outcome.reason.to_string(),
                    retryable: outcome.retryable,
                    cost_usd: outcome.cost_usd,
                    detail,
                    hint,
                };
                task.last = Some(outcome);
                store.send("recording the end of an attempt", move |c| {
                    queries::finish_attempt(c, &attempt_record, &task_record)
                });
                // The attempt spent its cost on the gate before reporting.
                if run.gate.closed().as_deref() == Some("budget_exceeded") && !run.budget_stopped {
                    run.budget_stopped = true;
                    tracing::warn!(%session, request = %request_id, spent = run.gate.spent(), "budget exceeded; stopping the request's tasks");
                    budget_stop(run).await;
                }
                Some(event)
            }
        };
        if let Some(e) = emitted {
            run.emit(e);
        }
    }

    async fn maybe_phase_done(&mut self, myself: &ActorRef<SessionMsg>) {
        let done = self
            .current
            .as_ref()
            .and_then(|r| r.phase.as_ref())
            .is_some_and(|p| p.sup_exit.is_some() && p.drained);
        if done {
            self.phase_done(myself).await;
        }
    }

    async fn phase_done(&mut self, myself: &ActorRef<SessionMsg>) {
        let max_tasks = self.deps.config.limits.max_tasks_per_request;
        let run = self.current.as_mut().expect("a run is current");
        let phase = run.phase.take().expect("a phase ended");
        if matches!(phase.sup_exit, Some(ExitReason::Escalated(_))) {
            run.escalated = true;
        }
        let gate_reason = run.gate.closed();
        match phase.kind {
            PhaseKind::Plan => {
                let mut planner = run.aux.take().expect("the planner ran");
                planner.settle(run.stop, run.escalated, gate_reason.as_deref());
                let rid = run.request_id.clone();
                let record = planner.record(&rid);
                let _ = self
                    .deps
                    .store
                    .call(move |c| queries::set_tasks(c, &rid, &[record]))
                    .await;
                let run = self.current.as_mut().expect("a run is current");
                if run.stop.is_some() {
                    return self.finalize(myself).await;
                }
                let last = planner.last.as_deref();
                let plan = match last {
                    Some(o) if o.reason == OutcomeReason::Completed => {
                        parse_plan(o.structured_output.as_ref(), o.result.as_deref(), max_tasks)
                    }
                    Some(o) => Err(format!("the planner ended {}", o.reason)),
                    None => Err("the planner did not run".into()),
                };
                match plan {
                    Ok((tasks, cut)) => {
                        if cut {
                            run.notes.push(format!(
                                "the plan had more than {max_tasks} tasks; the rest were dropped"
                            ));
                        }
                        run.tasks = tasks
                            .into_iter()
                            .enumerate()
                            .map(|(i, t)| {
                                TaskRun::new(
                                    i as u32,
                                    TaskKind::Work,
                                    format!("t{}", i + 1),
                                    t.name,
                                    t.instruction,
                                )
                            })
                            .collect();
                    }
                    Err(why) => {
                        run.notes.push(format!(
                            "planning failed ({why}); the request ran as one task"
                        ));
                        run.tasks = vec![TaskRun::new(
                            0,
                            TaskKind::Work,
                            "t1".into(),
                            "request".into(),
                            run.spec.prompt.clone(),
                        )];
                    }
                }
                self.persist_tasks().await;
                if self
                    .current
                    .as_ref()
                    .is_some_and(|r| r.gate.closed().is_some())
                {
                    return self.finalize(myself).await;
                }
                self.begin_tasks(myself).await;
            }
            PhaseKind::Tasks => {
                for t in run.tasks.iter_mut() {
                    t.settle(run.stop, run.escalated, gate_reason.as_deref());
                }
                let any_ok = run.tasks.iter().any(|t| t.status == TaskStatus::Succeeded);
                if run.spec.synthesize
                    && any_ok
                    && run.stop.is_none()
                    && run.gate.closed().is_none()
                {
                    self.begin_synthesis(myself).await;
                } else {
                    self.finalize(myself).await;
                }
            }
            PhaseKind::Synthesize => {
                if let Some(synth) = run.aux.as_mut() {
                    synth.settle(run.stop, run.escalated, gate_reason.as_deref());
                }
                self.finalize(myself).await;
            }
        }
    }

    /// Merges, commits the end of the request, updates the context, tells the listeners, and
    /// starts the next request.
    async fn finalize(&mut self, myself: &ActorRef<SessionMsg>) {
        let Some(mut run) = self.current.take() else {
            return;
        };
        for t in run.tasks.iter_mut() {
            if !matches!(
                t.status,
                TaskStatus::Succeeded
                    | TaskStatus::Failed
                    | TaskStatus::Cancelled
                    | TaskStatus::Skipped
                    | TaskStatus::Interrupted
            ) {
                t.settle(run.stop, run.escalated, run.gate.closed().as_deref());
            }
        }
        let total = run.tasks.len();
        let ok = run
            .tasks
            .iter()
            .filter(|t| t.status == TaskStatus::Succeeded)
            .count();
        let merge_span = tracing::info_span!(target: "smith::session", parent: &run.span, "merge",
            smith.request.id = %run.request_id, smith.merge.tasks = total, smith.merge.succeeded = ok);
        let inputs = merge_inputs(&run.tasks);
        let deterministic = merge::deterministic(&inputs);
        drop(merge_span);
        let mut notes = run.notes.clone();
        let synth = run.aux.take().filter(|a| a.kind == TaskKind::Synthesize);
        let (answer, mode, synth_failed) = match &synth {
            Some(s) if s.status == TaskStatus::Succeeded => {
                (s.output().unwrap_or("").to_string(), "synthesized", false)
            }
            Some(s) => {
                notes.push(format!(
                    "synthesis failed ({}); the answer is the per-task merge",
                    s.exit_reason.as_deref().unwrap_or("no result")
                ));
                (deterministic, "deterministic", true)
            }
            None => (deterministic, "deterministic", false),
        };
        let answer = cut_to(
            answer,
            self.deps.config.limits.max_answer_bytes,
            "limits.max_answer_bytes",
        );
        let status = match run.stop {
            Some(StopKind::Cancelled) => RequestStatus::Cancelled,
            Some(StopKind::Interrupted) => RequestStatus::Interrupted,
            None if total > 0 && ok == total && !synth_failed => RequestStatus::Succeeded,
            None if ok > 0 => RequestStatus::Degraded,
            None => RequestStatus::Failed,
        };
        let mut reasons: Vec<String> = Vec::new();
        match run.stop {
            Some(StopKind::Cancelled) => reasons.push("cancelled by the user".into()),
            Some(StopKind::Interrupted) => reasons.push("smithd stopped while it ran".into()),
            None => {}
        }
        if let Some(g) = run.gate.closed().filter(|g| g == "budget_exceeded") {
            reasons.push(g);
        }
        if run.escalated {
            reasons.push("restart intensity exceeded".into());
        }
        if status != RequestStatus::Succeeded
            && ok < total
            && reasons.is_empty()
            && let Some(failed) = run.tasks.iter().find(|t| t.status != TaskStatus::Succeeded)
        {
            reasons.push(format!(
                "task {} {}",
                failed.name,
                failed.exit_reason.as_deref().unwrap_or("failed")
            ));
        }
        reasons.extend(notes.iter().cloned());
        let reason = (!reasons.is_empty()).then(|| reasons.join("; "));
        let cost = run.gate.spent();
        let keep_answer = ok > 0
            || synth
                .as_ref()
                .is_some_and(|s| s.status == TaskStatus::Succeeded);
        let mut records: Vec<TaskRecord> = run
            .tasks
            .iter()
            .map(|t| t.record(&run.request_id))
            .collect();
        if let Some(s) = &synth {
            records.push(s.record(&run.request_id));
        }
        let end = RequestEnd {
            id: run.request_id.clone(),
            status,
            reason: reason.clone(),
            cost_usd: cost,
            answer: keep_answer.then(|| (answer.clone(), mode.to_string(), None::<String>)),
            tasks: records,
        };
        // Nothing is answered that was not committed: if the end cannot be written, the client
        // hears why, the context does not move, and the request stays resumable.
        let committed = self
            .deps
            .store
            .call(move |c| queries::finish_request(c, &end))
            .await;
        let (status, reason, answer, keep_answer) = match committed {
            Ok(()) => (status, reason, answer, keep_answer),
            Err(e) => {
                tracing::error!(session = %self.name, request = %run.request_id, error = %e, "cannot commit the end of a request; it is left interrupted");
                let rid = run.request_id.clone();
                if let Err(again) = self
                    .deps
                    .store
                    .call(move |c| queries::mark_interrupted(c, &rid))
                    .await
                {
                    tracing::error!(request = %run.request_id, error = %again, "cannot mark the request interrupted either; the next start of smithd will");
                }
                let why = format!(
                    "its end could not be committed ({e}), so it is not answered; it is left interrupted: once the database works again, `smith resume {}` finishes it",
                    run.request_id
                );
                (RequestStatus::Interrupted, Some(why), String::new(), false)
            }
        };
        if matches!(status, RequestStatus::Succeeded | RequestStatus::Degraded) {
            let seq = self.history.last().map_or(1, |t| t.seq + 1);
            let turn = Turn {
                request_id: run.request_id.clone(),
                seq,
                prompt: run.spec.prompt.clone(),
                answer: answer.clone(),
                status,
            };
            self.history
                .push(bounded_turn(turn, self.deps.config.context.max_chars));
        }
        tracing::info!(session = %self.name, request = %run.request_id, status = %status, cost_usd = cost, tasks = total, succeeded = ok, "request finished");
        run.span.record("smith.request.status", status.as_str());
        if matches!(status, RequestStatus::Failed | RequestStatus::Degraded) {
            run.span.record("error.type", status.as_str());
            run.span.set_status(opentelemetry::trace::Status::error(
                reason.clone().unwrap_or_else(|| status.to_string()),
            ));
        }
        if self.deps.config.record_content {
            run.span
                .set_attribute(crate::telemetry::semconv::SMITH_ANSWER, answer.clone());
        }
        crate::telemetry::metrics::metrics().requests.add(
            1,
            &[opentelemetry::KeyValue::new(
                crate::telemetry::semconv::SMITH_REQUEST_STATUS,
                status.as_str(),
            )],
        );
        let summary = RequestSummary {
            request_id: run.request_id.clone(),
            session: self.name.clone(),
            status,
            reason,
            answer: if keep_answer { answer } else { String::new() },
            cost_usd: cost,
            tasks: run.tasks.iter().map(TaskRun::summary).collect(),
        };
        run.emit(RequestEvent::Finished(summary));
        let slice_bytes = run.spec.prompt.len().saturating_mul(total.max(1));
        drop(run);
        if total >= 64 || slice_bytes >= 8 << 20 {
            // A big request (many tasks, or a long prompt copied into every slice) frees many
            // large buffers (slices, outputs, the answer); give the memory back to the OS instead
            // of letting the allocator keep its high-water mark — now, and once more after the
            // client has taken its copy of the summary.
            release_free_memory();
            tokio::spawn(async {
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                release_free_memory();
            });
        }
        // The Session holds only what a slice can use: the last `turns` turns.
        let keep = self.deps.config.context.turns.max(1);
        if self.history.len() > keep {
            let cut = self.history.len() - keep;
            self.history.drain(..cut);
        }
        Box::pin(self.start_next(myself)).await;
    }

    fn status(&self) -> SessionStatus {
        let now = now_ms();
        SessionStatus {
            name: self.name.clone(),
            turns: self.history.len() as u64,
            queued: self.queue.iter().map(|q| q.request_id.clone()).collect(),
            current: self.current.as_ref().map(|run| RunStatus {
                request_id: run.request_id.clone(),
                phase: run
                    .phase
                    .as_ref()
                    .map_or(RunPhase::Finishing, |p| p.kind.into()),
                strategy: run
                    .spec
                    .strategy
                    .unwrap_or(self.deps.config.supervision.strategy)
                    .into(),
                started_ms: run.started_ms,
                cost_usd: run.gate.spent(),
                tasks: run
                    .aux
                    .iter()
                    .chain(run.tasks.iter())
                    .map(|t| TaskLine {
                        id: t.id.clone(),
                        name: t.name.clone(),
                        status: t.status,
                        attempt: t.attempts,
                        restarts: t.attempts.saturating_sub(1),
                        pid: t.pid,
                        uptime_secs: t
                            .pid
                            .and(t.attempt_started_ms)
                            .map(|s| (now - s).max(0) as f64 / 1000.0),
                        cost_usd: t.cost,
                        exit_reason: t.exit_reason.clone(),
                    })
                    .collect(),
            }),
        }
    }
}

/// Returns freed heap memory to the OS (glibc keeps it otherwise).
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists; it has no preconditions and
    // is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// A turn as the Session keeps it in memory: prompt and answer cut to what a slice can show
/// (`context.max_chars`), the cut marked. The full text stays in the store.
fn bounded_turn(mut turn: Turn, max_chars: usize) -> Turn {
    for text in [&mut turn.prompt, &mut turn.answer] {
        let len = text.chars().count();
        if len > max_chars {
            let kept: String = text.chars().take(max_chars).collect();
            *text = format!(
                "{kept}\n[… {} characters truncated by smith]",
                len - max_chars
            );
        }
    }
    turn
}

/// One task to start in a phase.
struct Unit {
    id: String,
    name: String,
    prompt: String,
    json_schema: Option<String>,
    carry: TaskCarry,
}

fn explicit_tasks(spec: &RequestSpec) -> Vec<TaskRun> {
    if spec.tasks.is_empty() {
        return vec![TaskRun::new(
            0,
            TaskKind::Work,
            "t1".into(),
            "request".into(),
            spec.prompt.clone(),
        )];
    }
    spec.tasks
        .iter()
        .enumerate()
        .map(|(i, task)| {
            let name = task_name(task.name.as_deref().unwrap_or(&task.instruction));
            TaskRun::new(
                i as u32,
                TaskKind::Work,
                format!("t{}", i + 1),
                name,
                task.instruction.clone(),
            )
        })
        .collect()
}

fn merge_inputs(tasks: &[TaskRun]) -> Vec<MergeInput<'_>> {
    tasks
        .iter()
        .map(|t| MergeInput {
            name: &t.name,
            status: t.status,
            output: t.output(),
            reason: t.exit_reason.as_deref(),
            attempts: t.attempts,
        })
        .collect()
}

/// A supervision decision as an event on the request's span.
fn record_supervision(span: &tracing::Span, event: SupervisorEvent) {
    span.in_scope(|| match event {
        SupervisorEvent::Restarting {
            child,
            reason,
            attempt,
            delay,
            restarting,
        } => tracing::info!(
            gen_ai.agent.id = %child,
            smith.exit_reason = %reason,
            smith.attempt = attempt,
            delay_ms = delay.as_millis() as u64,
            restarting,
            "smith.restart"
        ),
        SupervisorEvent::RestartFailed {
            child,
            reason,
            delay,
        } => tracing::warn!(
            gen_ai.agent.id = %child,
            smith.exit_reason = %reason,
            delay_ms = delay.as_millis() as u64,
            "smith.restart_failed"
        ),
        SupervisorEvent::Escalated { child, reason } => tracing::warn!(
            gen_ai.agent.id = %child,
            smith.exit_reason = %reason,
            "smith.escalation"
        ),
    })
}

/// Stops a run from outside: no new attempt starts, the phase supervisor stops its tasks
/// gracefully (interrupt → SIGTERM → SIGKILL) and then ends, which ends the phase.
fn stop_run(run: &mut Run, kind: StopKind) {
    if run.stop.is_some() {
        return;
    }
    run.stop = Some(kind);
    run.gate.close(match kind {
        StopKind::Cancelled => "cancelled",
        StopKind::Interrupted => "interrupted",
    });
    if let Some(sup) = run.phase.as_ref().and_then(|p| p.sup.as_ref()) {
        sup.cell().stop(Some("shutdown: request stopped".into()));
    }
}

/// The budget is spent: every running task is told, and ends `budget_exceeded`.
async fn budget_stop(run: &mut Run) {
    let Some(sup) = run.phase.as_ref().and_then(|p| p.sup.clone()) else {
        return;
    };
    match tokio::time::timeout(Duration::from_secs(5), sup.which_children()).await {
        Ok(Ok(children)) => {
            for child in children {
                if let Some(cell) = child.cell {
                    let _ = cell.send_message(TaskMsg::Budget);
                }
            }
        }
        _ => {
            tracing::warn!(request = %run.request_id, "cannot reach the request run to stop it for budget")
        }
    }
}

/// Records each attempt of a phase (and waits for the commit) before its process starts.
fn attempt_recorder(
    store: crate::store::StoreHandle,
    request_id: String,
    idx_of: std::collections::HashMap<String, u32>,
) -> AttemptRecorder {
    Arc::new(move |a: AttemptStart| {
        let store = store.clone();
        let record = idx_of.get(&a.task_id).map(|&task_idx| AttemptRecord {
            request_id: request_id.clone(),
            task_idx,
            attempt: a.attempt,
            started_at: now_ms(),
            resumed_from: a.resumed,
            claude_session_id: Some(a.claude_session_id),
            ..AttemptRecord::default()
        });
        Box::pin(async move {
            let Some(record) = record else {
                return Ok(());
            };
            store
                .call(move |c| queries::start_attempt(c, &record))
                .await
                .map_err(|e| e.to_string())
        })
    })
}

/// A request's stored options. Requests stored before tasks had names hold them as plain strings.
fn stored_spec(json: &str) -> Result<RequestSpec, SessionError> {
    let unreadable =
        |e: serde_json::Error| SessionError::Invalid(format!("stored request cannot be read: {e}"));
    let mut value: serde_json::Value = serde_json::from_str(json).map_err(unreadable)?;
    if let Some(tasks) = value.get_mut("tasks").and_then(|t| t.as_array_mut()) {
        for t in tasks.iter_mut() {
            if let Some(text) = t.as_str() {
                *t = serde_json::json!({ "name": null, "instruction": text });
            }
        }
    }
    serde_json::from_value(value).map_err(unreadable)
}

/// A task's short name: the first words of its instruction, at most 60 characters.
fn task_name(instruction: &str) -> String {
    let words = instruction
        .split_whitespace()
        .take(6)
        .collect::<Vec<_>>()
        .join(" ");
    match words.char_indices().nth(60) {
        Some((at, _)) => format!("{}…", &words[..at]),
        None => words,
    }
}

/// `text` cut to at most `max` bytes (at a character boundary) with a note saying so.
fn cut_to(mut text: String, max: usize, key: &str) -> String {
    if text.len() <= max {
        return text;
    }
    let total = text.len();
    let at = text.floor_char_boundary(max);
    text.truncate(at);
    text.push_str(&format!(
        "\n\n[smith: cut at {at} of {total} bytes ({key})]"
    ));
    text
}

/// Applies defaults and checks a request.
pub fn validate(
    mut spec: RequestSpec,
    config: &SessionConfig,
) -> Result<RequestSpec, SessionError> {
    let invalid = |m: String| Err(SessionError::Invalid(m));
    check_session_name(&spec.session)?;
    spec.prompt = spec.prompt.trim().to_string();
    spec.tasks.retain(|t| !t.instruction.trim().is_empty());
    if spec.prompt.is_empty() && spec.tasks.is_empty() {
        return invalid("a request needs a prompt or at least one task".into());
    }
    if spec.prompt.is_empty() {
        spec.prompt = spec
            .tasks
            .iter()
            .map(|t| t.instruction.as_str())
            .collect::<Vec<_>>()
            .join("\n");
    }
    if spec.plan && !spec.tasks.is_empty() {
        return invalid("--plan and --task exclude each other: the planner makes the tasks".into());
    }
    let bytes = spec.prompt.len()
        + spec
            .tasks
            .iter()
            .map(|t| t.instruction.len() + t.name.as_ref().map_or(0, String::len))
            .sum::<usize>();
    let max_bytes = config.limits.max_request_bytes;
    if bytes > max_bytes {
        return invalid(format!(
            "the request has {bytes} bytes of prompt and tasks, more than limits.max_request_bytes ({max_bytes}): put long material in a file under the working directory and point the request at it"
        ));
    }
    let max = config.limits.max_tasks_per_request;
    if spec.tasks.len() > max {
        return invalid(format!(
            "{} tasks exceed limits.max_tasks_per_request ({max})",
            spec.tasks.len()
        ));
    }
    if spec.restart == Some(Restart::Permanent) {
        return invalid(
            "tasks finish, so a permanent task would be restarted after it succeeded; use transient (the default) or temporary".into(),
        );
    }
    if let Some(b) = spec.budget_usd
        && !(b.is_finite() && b > 0.0)
    {
        return invalid(format!("budget must be a positive number of USD, got {b}"));
    }
    for (flag, d) in [("--timeout", spec.timeout), ("--within", spec.within)] {
        match d {
            Some(d) if d.is_zero() => return invalid(format!("{flag} must be longer than zero")),
            Some(d) if d > MAX_DURATION => {
                return invalid(format!(
                    "{flag} {} is longer than the longest duration smith accepts ({})",
                    humantime::format_duration(d),
                    humantime::format_duration(MAX_DURATION)
                ));
            }
            _ => {}
        }
    }
    if !spec.cwd.is_absolute() {
        return invalid(format!(
            "working directory {} must be absolute",
            spec.cwd.display()
        ));
    }
    Ok(spec)
}

/// Session names: 1-64 of `[A-Za-z0-9._-]`; anything else is a clear error.
pub fn check_session_name(name: &str) -> Result<(), SessionError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if valid {
        Ok(())
    } else {
        Err(SessionError::Invalid(format!(
            "session name {name:?} must be 1-64 characters of letters, digits, '.', '_' or '-'"
        )))
    }
}
