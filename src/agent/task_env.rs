//! What a task's attempts are given and what they report: the task ([`TaskSpec`]), what its
//! attempts share across restarts ([`TaskCarry`]), the request's environment ([`TaskEnv`]: the
//! reporter, the recorder, the process cap, the gate, the parent span) and the reports
//! ([`TaskEvent`]).

use std::sync::Arc;

use tokio::sync::mpsc;

use super::attempt::AttemptEvent;
use super::attempt_tag::AttemptTag;
use super::command::{SessionArg, TaskOptions};
use super::config::AgentConfig;
use super::executor::{Executor, local};
use super::gate::AttemptGate;
use super::outcome::{Outcome, OutcomeReason};
use crate::governor::{Governor, Slots, Waiting};
use crate::permissions::Approvals;
use crate::protocol::StopReason;
use crate::task::TaskId;
use crate::workspace::{Workspaces, Worktree};

/// What a task is asked to do (immutable; shared by all its attempts).
#[derive(Debug, Clone)]
pub struct TaskSpec {
    /// Which task (its child id under the request's supervisor is its name, `t1`…).
    pub id: TaskId,
    /// Short human name.
    pub name: String,
    /// The full prompt of the first attempt (request, instruction, context slice).
    pub prompt: String,
    /// Flags, cwd, budget, environment.
    pub options: TaskOptions,
    /// Service-wide agent settings.
    pub config: Arc<AgentConfig>,
    /// Its git worktree (isolated work tasks): made ready before each attempt, what it
    /// changed committed after.
    pub workspace: Option<TaskWorktree>,
}

/// A task's worktree and the service's workspaces that make it ready and commit to it.
#[derive(Debug, Clone)]
pub struct TaskWorktree {
    /// The worktree, as recorded.
    pub worktree: Worktree,
    /// The service's workspaces.
    pub workspaces: Arc<Workspaces>,
    /// The message of the commit made after each attempt.
    pub commit_message: String,
}

impl TaskWorktree {
    /// Makes the worktree ready (or finds it again) for `attempt` and sets it as its cwd: a
    /// setup that runs long is stopped like the attempt would be (`control`); what it leaves
    /// running carries the attempt's tag. `Err`: the attempt's outcome.
    pub(crate) async fn prepare(
        &self,
        attempt: &mut super::launch::AttemptSpec,
        control: &mut mpsc::UnboundedReceiver<StopReason>,
        parent: &tracing::Span,
    ) -> Result<(), Outcome> {
        use super::outcome::{StopCause, classify};
        let env: Vec<(String, String)> = attempt
            .tag
            .iter()
            .map(|t| {
                (
                    super::attempt_tag::TAG_VAR.to_string(),
                    t.as_str().to_string(),
                )
            })
            .collect();
        tokio::select! {
            ready = self.workspaces.prepare(&self.worktree, &env, parent) => match ready {
                Ok(cwd) => {
                    attempt.task.cwd = cwd;
                    attempt.task.worktree = Some(self.worktree.path.clone());
                    Ok(())
                }
                Err(e) => Err(Outcome::bare(OutcomeReason::WorkspaceFailed, e.to_string())),
            },
            Some(reason) = control.recv() => Err(Outcome::bare(
                classify(None, Some(StopCause::from(reason))),
                format!("stopped ({reason}) while its worktree was being made ready"),
            )),
        }
    }

    /// Commits what an attempt changed on the task's branch (its summary into `outcome`; a
    /// commit that fails is said in its detail).
    pub(crate) async fn commit(&self, outcome: &mut Outcome, parent: &tracing::Span) {
        match self
            .workspaces
            .settle(&self.worktree, &self.commit_message, parent)
            .await
        {
            Ok(changes) => outcome.changes = Some(changes),
            Err(e) => {
                tracing::warn!(worktree = %self.worktree.path.display(), error = %e, "cannot commit what the attempt changed");
                outcome.detail.get_or_insert_with(|| {
                    format!("what the attempt changed could not be committed: {e}")
                });
            }
        }
    }
}

/// What the attempts of one task share across restarts: the attempt counter (the one place it
/// is kept: an attempt takes its number when its process is about to start), the Claude session
/// a restart resumes and how the last attempt ended.
#[derive(Debug, Default, Clone)]
pub struct TaskCarry {
    /// Attempts started so far.
    pub attempts: u32,
    /// The Claude session to resume on restart.
    pub claude_session_id: Option<String>,
    /// How the last attempt ended.
    pub last_outcome: Option<OutcomeReason>,
    /// The tag of its last attempt, still running on a worker node when an earlier smithd was
    /// killed: the next attempt follows it instead of starting one (taken once).
    pub adopt: Option<String>,
}

/// What an attempt is, once numbered.
pub(crate) struct Numbered {
    /// Its number.
    pub attempt: u32,
    /// Its Claude session.
    pub session: SessionArg,
    /// Its user message.
    pub message: String,
    /// The attempt on a worker node it follows instead of starting one.
    pub adopted: Option<AttemptTag>,
}

impl TaskCarry {
    /// Numbers the next attempt of `spec`: a new one (resuming the last Claude session when
    /// there is one and the config says so), or, once, the attempt an earlier smithd left on a
    /// worker node (when there are worker nodes: `remote`).
    pub(crate) fn number(&mut self, spec: &TaskSpec, remote: bool) -> Numbered {
        let adopted = self
            .adopt
            .take()
            .filter(|_| remote)
            .and_then(|t| AttemptTag::parse(&t));
        if adopted.is_some() {
            let id = self.claude_session_id.clone().unwrap_or_default();
            return Numbered {
                attempt: self.attempts,
                session: SessionArg::New(id),
                message: spec.prompt.clone(),
                adopted,
            };
        }
        self.attempts += 1;
        let resume = self
            .claude_session_id
            .clone()
            .filter(|_| self.attempts > 1 && spec.config.resume_on_restart);
        let (session, message) = match resume {
            Some(id) => (SessionArg::Resume(id), spec.config.continuation.clone()),
            None => (SessionArg::fresh(), spec.prompt.clone()),
        };
        Numbered {
            attempt: self.attempts,
            session,
            message,
            adopted: None,
        }
    }
}

/// A report from a task to whoever runs the request.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskEvent {
    /// The task.
    pub task_id: TaskId,
    /// 1-based attempt number (0 for a report before an attempt took its number).
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
        /// The Claude session it runs in (given with `--session-id` or `--resume`, or the warm
        /// worker's).
        claude_session_id: String,
        /// It started on a warm worker.
        warm: bool,
        /// The worker node it runs on (`None`: this host).
        node: Option<String>,
    },
    /// No attempt started: the request's gate closed while it waited.
    NotStarted {
        /// Why the gate is closed.
        reason: StopReason,
    },
    /// Progress of the process.
    Attempt(AttemptEvent),
    /// The attempt waits at the governor's gate (the API account is throttled).
    Throttled(Waiting),
    /// The attempt ended.
    Finished(Box<Outcome>),
}

/// Where task reports go: called from the attempts' own tasks, in order, never blocking.
#[derive(Clone)]
pub struct TaskReporter(Arc<dyn Fn(TaskEvent) + Send + Sync>);

impl TaskReporter {
    /// Reports go to `f`.
    pub fn new(f: impl Fn(TaskEvent) + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }

    /// Reports go into a channel (for tests and tools).
    pub fn channel() -> (Self, mpsc::UnboundedReceiver<TaskEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            Self::new(move |e| {
                let _ = tx.send(e);
            }),
            rx,
        )
    }

    /// Reports `event`.
    pub fn report(&self, event: TaskEvent) {
        (self.0)(event)
    }
}

/// What a task needs from the request running it.
#[derive(Clone)]
pub struct TaskEnv {
    /// Where reports go.
    pub reporter: TaskReporter,
    /// Records each attempt durably before its process starts (`None`: nothing to record).
    pub recorder: Option<AttemptRecorder>,
    /// The global cap on live processes.
    pub permits: Option<Arc<Slots>>,
    /// The request's gate (budget, cancel): closed → no new attempt starts.
    pub gate: Option<Arc<AttemptGate>>,
    /// Parent of each attempt's `invoke_agent` span (the request's or its phase's span).
    pub span: tracing::Span,
    /// Who the attempts work for (span attributes).
    pub labels: Arc<TaskLabels>,
    /// Where the attempts run.
    pub executor: Arc<dyn Executor>,
    /// Where tool calls that need a person are asked (`None`: they are refused).
    pub approvals: Option<Arc<Approvals>>,
    /// The gate every attempt passes (`None`: none; a throttle fails the attempt).
    pub governor: Option<Arc<Governor>>,
    /// Warm workers an attempt may start on (`None`: every attempt starts cold).
    pub warm: Option<Arc<super::warm_pool::WarmPool>>,
    /// Worker nodes an attempt may run on (`None`: a single machine).
    pub remote: Option<Arc<dyn super::placement::Nodes>>,
}

impl TaskEnv {
    /// An environment with only a reporter: no cap, no gate, no parent span, a request of its
    /// own (so that its attempts' tags are its own).
    pub fn new(reporter: TaskReporter) -> Self {
        let labels = TaskLabels {
            request_id: format!("r-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]),
            ..TaskLabels::default()
        };
        Self {
            reporter,
            recorder: None,
            permits: None,
            gate: None,
            span: tracing::Span::none(),
            labels: Arc::new(labels),
            executor: local(),
            approvals: None,
            governor: None,
            warm: None,
            remote: None,
        }
    }
}

/// An attempt about to start, as it is recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptStart {
    /// Task id.
    pub task_id: TaskId,
    /// 1-based attempt.
    pub attempt: u32,
    /// The Claude session it resumes, if any.
    pub resumed: Option<String>,
    /// The Claude session it runs in.
    pub claude_session_id: String,
    /// It runs with `--bare`.
    pub bare: bool,
    /// Its tag.
    pub tag: String,
    /// It goes to a worker node (which one is recorded when it starts there).
    pub remote: bool,
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
