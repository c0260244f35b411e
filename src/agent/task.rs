//! The task actor: one supervised child that owns one `claude` process per attempt.
//!
//! Each start of the actor is one attempt. The process runs in a task of its own (the actor never
//! awaits it inside a handler) which reports to the actor's parent directly and tells the actor
//! how the attempt ended. The actor then exits so that its supervisor decides:
//! - `completed` → stops with `normal`;
//! - a failure a restart cannot help (401, max_turns, cancelled, …) → stops with
//!   `shutdown: <reason>` (a normal exit: a transient task is not restarted and no restart is
//!   spent on it);
//! - a retryable failure → fails (an abnormal exit: the supervisor restarts it per strategy).
//!
//! A restart after an attempt that learnt its Claude session id resumes that session
//! (`--resume <id>` plus a continuation message) instead of starting over.

use std::sync::{Arc, Mutex};

use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;

use super::attempt::{AttemptEvent, Control};
use super::attempt_tag::{self, AttemptTag};
use super::command::{SessionArg, TaskOptions};
use super::config::AgentConfig;
use super::gate::AttemptGate;
use super::outcome::{Outcome, OutcomeReason};
use super::process_group::ProcessGroup;
use super::task_attempt::{TaskAttempt, run_guarded};
use crate::supervisor::{ChildSpec, ChildStart, Restart, Shutdown};

/// What a task is asked to do (immutable; shared by all its attempts).
#[derive(Debug, Clone)]
pub struct TaskSpec {
    /// Unique id (also the child id under the request's supervisor).
    pub id: String,
    /// Short human name.
    pub name: String,
    /// The full prompt of the first attempt (request, instruction, context slice).
    pub prompt: String,
    /// Flags, cwd, budget, environment.
    pub options: TaskOptions,
    /// Service-wide agent settings.
    pub config: Arc<AgentConfig>,
}

/// What the attempts of one task share: the attempt counter and the last Claude session id.
/// Written by the attempts, read by the next start.
#[derive(Debug, Default)]
pub struct TaskCarry {
    /// Attempts started so far.
    pub attempts: u32,
    /// The Claude session to resume on restart.
    pub claude_session_id: Option<String>,
    /// How the last attempt ended.
    pub last_outcome: Option<OutcomeReason>,
}

/// A report from a task to whoever runs the request.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskEvent {
    /// The task.
    pub task_id: String,
    /// 1-based attempt number.
    pub attempt: u32,
    /// What happened.
    pub kind: TaskEventKind,
}

/// What happened in a task.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskEventKind {
    /// Waiting for a process slot (the global concurrency cap).
    Queued,
    /// The process runs.
    Started {
        /// Its pid (= its process group).
        pid: u32,
        /// Its start time (clock ticks since boot).
        start_time: Option<u64>,
        /// Set when this attempt resumes an earlier Claude session.
        resumed: Option<String>,
        /// The Claude session it runs in (given with `--session-id` or `--resume`).
        claude_session_id: String,
    },
    /// The attempt did not start a process: the request's gate closed while it waited.
    NotStarted {
        /// Why (e.g. `budget_exceeded`, `cancelled`).
        reason: String,
    },
    /// Progress of the process.
    Attempt(AttemptEvent),
    /// The attempt ended.
    Finished(Box<Outcome>),
}

/// Where task reports go.
pub type TaskReporter = mpsc::UnboundedSender<TaskEvent>;

/// Messages of the task actor.
#[derive(Debug)]
pub enum TaskMsg {
    /// Stop the process (user cancel or shutdown); the task ends `cancelled`.
    Cancel,
    /// The request's budget is spent; the task ends `budget_exceeded`.
    Budget,
    /// Internal: the attempt ended.
    Finished(OutcomeReason, String),
    /// Internal: the attempt did not start (the gate closed while it waited for a slot).
    NotStarted(String),
}

/// What a task needs from the request running it.
#[derive(Clone)]
pub struct TaskEnv {
    /// Where reports go.
    pub reporter: TaskReporter,
    /// Records each attempt durably before its process starts (`None`: nothing to record).
    pub recorder: Option<AttemptRecorder>,
    /// The global cap on live processes.
    pub permits: Option<Arc<Semaphore>>,
    /// The request's gate (budget, cancel): closed → no new attempt starts.
    pub gate: Option<Arc<AttemptGate>>,
    /// Parent of each attempt's `invoke_agent` span (the request's or its phase's span).
    pub span: tracing::Span,
    /// Who the attempts work for (span attributes).
    pub labels: Arc<TaskLabels>,
}

impl TaskEnv {
    /// An environment with only a reporter: no cap, no gate, no parent span.
    pub fn new(reporter: TaskReporter) -> Self {
        Self {
            reporter,
            recorder: None,
            permits: None,
            gate: None,
            span: tracing::Span::none(),
            labels: Arc::default(),
        }
    }
}

/// An attempt about to start, as it is recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptStart {
    /// Task id.
    pub task_id: String,
    /// 1-based attempt.
    pub attempt: u32,
    /// The Claude session it resumes, if any.
    pub resumed: Option<String>,
    /// The Claude session it runs in.
    pub claude_session_id: String,
}

/// Records an attempt and returns once the record is committed; an error keeps the attempt's
/// process from starting (nothing runs that the store does not know of).
pub type AttemptRecorder = Arc<
    dyn Fn(AttemptStart) -> futures::future::BoxFuture<'static, Result<(), String>> + Send + Sync,
>;

/// The request an attempt works for, as its span says.
#[derive(Debug, Clone, Default)]
pub struct TaskLabels {
    /// Request id.
    pub request_id: String,
    /// Session name.
    pub session: String,
    /// Put the prompt and answer text on the span.
    pub record_content: bool,
    /// The client's traceparent, passed on when spans are not exported.
    pub traceparent: Option<String>,
}

/// Arguments of one task actor start.
pub struct TaskArgs {
    /// The task.
    pub spec: Arc<TaskSpec>,
    /// Shared by its attempts.
    pub carry: Arc<Mutex<TaskCarry>>,
    /// The request's environment.
    pub env: TaskEnv,
}

/// The task actor.
pub struct TaskActor;

/// State of a running task actor. Dropping it kills the process group and stops the attempt.
pub struct TaskState {
    attempt: u32,
    tag: AttemptTag,
    control: mpsc::UnboundedSender<Control>,
    runner: JoinHandle<()>,
    group: Arc<ProcessGroup>,
    config: Arc<AgentConfig>,
}

impl Drop for TaskState {
    fn drop(&mut self) {
        // ractor skips post_stop on panic or kill: this is the cleanup that always runs.
        // The group is forgotten once the attempt has stopped everything it started, tagged
        // processes included; an attempt cut short before that leaves the sweep to us.
        let cut_short = self.group.pgid().is_some();
        self.group.signal(nix::sys::signal::Signal::SIGKILL);
        self.runner.abort();
        if cut_short {
            attempt_tag::kill_now(&attempt_tag::find(|t| t == self.tag.as_str(), None));
        }
    }
}

impl TaskActor {
    /// A transient child spec running `spec` under a supervisor. `carry` (attempts so far, the
    /// Claude session to resume) survives restarts; a closed gate makes a start decline
    /// (`ChildStart::Ignore`), so nothing new starts once a request's budget is spent.
    pub fn child_spec(spec: Arc<TaskSpec>, env: TaskEnv, carry: TaskCarry) -> ChildSpec {
        let carry = Arc::new(Mutex::new(carry));
        let shutdown = Shutdown::Timeout(spec.config.stop_budget());
        let id = spec.id.clone();
        ChildSpec::new(id, move |sup: ActorCell| {
            let args = TaskArgs {
                spec: spec.clone(),
                carry: carry.clone(),
                env: env.clone(),
            };
            async move {
                if let Some(reason) = args.env.gate.as_ref().and_then(|g| g.closed()) {
                    tracing::debug!(task = %args.spec.id, %reason, "gate closed; task not started");
                    return Ok(ChildStart::Ignore);
                }
                let (actor, _) = Actor::spawn_linked(None, TaskActor, args, sup).await?;
                Ok(ChildStart::Started(actor.get_cell()))
            }
        })
        .restart(Restart::Transient)
        .shutdown(shutdown)
    }
}

impl Actor for TaskActor {
    type Msg = TaskMsg;
    type State = TaskState;
    type Arguments = TaskArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<TaskMsg>,
        args: TaskArgs,
    ) -> Result<TaskState, ActorProcessingErr> {
        let spec = args.spec;
        let (attempt, session, message) = {
            let mut carry = args.carry.lock().expect("task carry lock");
            carry.attempts += 1;
            let resume = carry
                .claude_session_id
                .clone()
                .filter(|_| carry.attempts > 1 && spec.config.resume_on_restart);
            match resume {
                Some(id) => (
                    carry.attempts,
                    SessionArg::Resume(id),
                    spec.config.continuation.clone(),
                ),
                None => (carry.attempts, SessionArg::fresh(), spec.prompt.clone()),
            }
        };
        let group = ProcessGroup::new();
        let tag = AttemptTag::new(&args.env.labels.request_id, &spec.id, attempt);
        let (control_tx, control_rx) = mpsc::unbounded_channel();
        let runner = tokio::spawn(run_guarded(TaskAttempt {
            actor: myself.clone(),
            spec: spec.clone(),
            carry: args.carry,
            env: args.env,
            attempt,
            session,
            message,
            control: control_rx,
            group: group.clone(),
            tag: tag.clone(),
        }));
        Ok(TaskState {
            attempt,
            tag,
            control: control_tx,
            runner,
            group,
            config: spec.config.clone(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<TaskMsg>,
        msg: TaskMsg,
        state: &mut TaskState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            TaskMsg::Cancel => {
                let _ = state.control.send(Control::Cancel);
            }
            TaskMsg::Budget => {
                let _ = state.control.send(Control::Budget);
            }
            TaskMsg::NotStarted(reason) => {
                myself.stop(Some(format!("shutdown: not started: {reason}")));
            }
            TaskMsg::Finished(reason, detail) => {
                if reason == OutcomeReason::Completed {
                    myself.stop(Some(crate::supervisor::REASON_NORMAL.to_string()));
                } else if !reason.is_retryable() {
                    myself.stop(Some(format!("shutdown: {reason}: {detail}")));
                } else {
                    return Err(
                        format!("attempt {} ended {reason}: {detail}", state.attempt).into(),
                    );
                }
            }
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<TaskMsg>,
        state: &mut TaskState,
    ) -> Result<(), ActorProcessingErr> {
        // A graceful stop (supervisor shutdown): let the attempt run its stop sequence, bounded.
        // If the supervisor's shutdown timeout runs out first, it kills us and Drop kills the group.
        if !state.runner.is_finished() {
            let _ = state.control.send(Control::Cancel);
            let budget = state.config.stop_budget();
            let _ = tokio::time::timeout(budget, &mut state.runner).await;
        }
        Ok(())
    }
}
