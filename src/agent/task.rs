//! The task actor: one supervised child that owns one `claude` process per attempt.
//!
//! Each start of the actor is one attempt. The process runs in a task of its own (the actor never
//! awaits it inside a handler) which reports to the request directly and tells the actor how the
//! attempt ended. The actor then exits so that its supervisor decides:
//! - `completed` → stops with `normal`;
//! - a failure a restart cannot help (401, max_turns, cancelled, …), or no attempt at all
//!   because the request's gate closed → stops with `shutdown: <reason>` (a normal exit: a
//!   transient task is not restarted and no restart is spent on it; the reason is only shown in
//!   the supervisor's status);
//! - a retryable failure → fails (an abnormal exit: the supervisor restarts it per strategy).
//!
//! How the attempt ended reaches the request once, in the attempt's `Finished` report; the exit
//! reason only tells the supervisor what to do. A restart after an attempt that learnt its Claude
//! session id resumes that session (`--resume <id>` plus a continuation message).

use std::sync::{Arc, Mutex};

use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::attempt_tag::{self, AttemptTag};
use super::config::AgentConfig;
use super::outcome::OutcomeReason;
use super::task_env::{TaskCarry, TaskEnv, TaskSpec};
use super::task_runner::{AttemptEnd, TaskAttempt, run_guarded};
use crate::process_group::ProcessGroup;
use crate::protocol::StopReason;
use crate::supervisor::{ChildSpec, ChildStart, REASON_NORMAL, REASON_SHUTDOWN, Restart, Shutdown};

/// Messages of the task actor.
#[derive(Debug)]
pub enum TaskMsg {
    /// Stop the running attempt (a cancel, a shutdown or the budget); it ends with that reason.
    Stop(StopReason),
    /// Internal: the attempt ended.
    Ended(AttemptEnd),
}

/// Arguments of one task actor start.
pub struct TaskArgs {
    spec: Arc<TaskSpec>,
    carry: Arc<Mutex<TaskCarry>>,
    env: TaskEnv,
}

/// The task actor.
pub struct TaskActor;

/// State of a running task actor. Dropping it kills the process group and stops the attempt.
pub struct TaskState {
    tag: Arc<Mutex<Option<AttemptTag>>>,
    control: mpsc::UnboundedSender<StopReason>,
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
        let tag = self.tag.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let (true, Some(tag)) = (cut_short, tag) {
            attempt_tag::kill_now(&attempt_tag::find(|t| t == tag.as_str(), None));
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
        ChildSpec::new(spec.id.to_string(), move |sup: ActorCell| {
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
        let group = ProcessGroup::new();
        let tag = Arc::new(Mutex::new(None));
        let (control_tx, control_rx) = mpsc::unbounded_channel();
        let config = args.spec.config.clone();
        let runner = tokio::spawn(run_guarded(TaskAttempt {
            spec: args.spec,
            carry: args.carry,
            env: args.env,
            control: control_rx,
            group: group.clone(),
            tag: tag.clone(),
            on_end: Box::new(move |end| {
                let _ = myself.cast(TaskMsg::Ended(end));
            }),
        }));
        Ok(TaskState {
            tag,
            control: control_tx,
            runner,
            group,
            config,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<TaskMsg>,
        msg: TaskMsg,
        state: &mut TaskState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            TaskMsg::Stop(reason) => {
                let _ = state.control.send(reason);
            }
            TaskMsg::Ended(AttemptEnd::NotStarted) => {
                myself.stop(Some(format!("{REASON_SHUTDOWN}: not started")));
            }
            // Never sent (the runner starts a throttled attempt again itself).
            TaskMsg::Ended(AttemptEnd::Throttled) => {}
            TaskMsg::Ended(AttemptEnd::Ended {
                attempt,
                reason,
                detail,
            }) => {
                if reason == OutcomeReason::Completed {
                    myself.stop(Some(REASON_NORMAL.into()));
                } else if !reason.is_retryable() {
                    // A normal exit; the reason is for the status tree only.
                    myself.stop(Some(format!("{REASON_SHUTDOWN}: {reason}")));
                } else {
                    return Err(format!("attempt {attempt} ended {reason}: {detail}").into());
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
            let _ = state.control.send(StopReason::Interrupted);
            let budget = state.config.stop_budget();
            let _ = tokio::time::timeout(budget, &mut state.runner).await;
        }
        Ok(())
    }
}
