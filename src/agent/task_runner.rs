//! The task actor's runner: one attempt after another while the API is throttled (a throttled
//! attempt waits at the governor's gate and starts again; the supervisor never sees it), the
//! attempt's end told to the actor, and a panic inside it (a bug) turned into a `crashed` end with
//! its process group killed, instead of a task left `running` forever.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;

use super::attempt_tag::AttemptTag;
use super::outcome::{Outcome, OutcomeReason};
use super::task_attempt::run_task_attempt;
use super::task_env::{TaskCarry, TaskEnv, TaskEvent, TaskEventKind, TaskSpec};
use crate::process_group::ProcessGroup;
use crate::protocol::StopReason;

/// How an attempt ended, for the task actor (the request hears it in the `Finished` report).
#[derive(Debug)]
pub enum AttemptEnd {
    /// No attempt started: the request's gate closed while it waited for a slot.
    NotStarted,
    /// The API throttled it: it waits at the governor's gate and starts again, unseen by the
    /// supervisor (never given to the actor).
    Throttled,
    /// The attempt ran and ended.
    Ended {
        /// Its number.
        attempt: u32,
        /// How.
        reason: OutcomeReason,
        /// Why, for the logs.
        detail: String,
    },
}

/// Everything one attempt needs.
pub(crate) struct TaskAttempt {
    pub spec: Arc<TaskSpec>,
    pub carry: Arc<Mutex<TaskCarry>>,
    pub env: TaskEnv,
    pub control: mpsc::UnboundedReceiver<StopReason>,
    pub group: Arc<ProcessGroup>,
    /// Set when an attempt has its number (the actor's Drop sweeps by it).
    pub tag: Arc<Mutex<Option<AttemptTag>>>,
    /// Tells the task actor how the attempt ended.
    pub on_end: Box<dyn FnOnce(AttemptEnd) + Send>,
}

/// Runs the task's attempt (again while throttled) to its end; a panic inside it (a bug) ends the attempt as `crashed`, with
/// its process group killed, instead of leaving the task `running` forever.
pub(crate) async fn run_guarded(a: TaskAttempt) {
    let TaskAttempt {
        spec,
        carry,
        env,
        control,
        group,
        tag,
        on_end,
    } = a;
    let reporter = env.reporter.clone();
    let task_id = spec.id;
    // A throttled attempt starts again after the gate (the task does not fail); all the waits
    // of the task together are bounded by `governor.max_wait`.
    let attempt = {
        let (carry, group) = (carry.clone(), group.clone());
        async move {
            let mut control = control;
            let mut wait_left = env
                .governor
                .as_ref()
                .map_or(Duration::ZERO, |g| g.settings().max_wait);
            loop {
                let end = run_task_attempt(
                    spec.clone(),
                    carry.clone(),
                    env.clone(),
                    &mut control,
                    group.clone(),
                    tag.clone(),
                    &mut wait_left,
                )
                .await;
                // Its slot is free again: warm workers are started where there is room.
                if let Some(pool) = &env.warm {
                    pool.replenish();
                }
                if !matches!(end, AttemptEnd::Throttled) {
                    break end;
                }
            }
        }
    };
    let crashed = |panic: String| {
        group.signal(nix::sys::signal::Signal::SIGKILL);
        let attempt = carry.lock().map(|c| c.attempts).unwrap_or(0);
        let detail = format!("the attempt's runner failed (a bug in smith): {panic}");
        tracing::error!(task = %task_id, attempt, %detail, "attempt runner panicked");
        let outcome = Outcome::bare(OutcomeReason::Crashed, detail.clone());
        reporter.report(TaskEvent {
            task_id,
            attempt,
            kind: TaskEventKind::Finished(Box::new(outcome)),
        });
        AttemptEnd::Ended {
            attempt,
            reason: OutcomeReason::Crashed,
            detail,
        }
    };
    on_end(catch_panic(attempt, crashed).await);
}

/// Runs `fut`; if it panics, returns what `on_panic` makes of the panic's message instead.
async fn catch_panic<T>(fut: impl Future<Output = T>, on_panic: impl FnOnce(String) -> T) -> T {
    use futures::FutureExt;
    match std::panic::AssertUnwindSafe(fut).catch_unwind().await {
        Ok(value) => value,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".into());
            on_panic(message)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_runner_is_reported_not_lost() {
        let seen = catch_panic(async { panic!("boom") }, Some).await;
        assert_eq!(seen.as_deref(), Some("boom"));
        let seen = catch_panic(async { None }, Some).await;
        assert_eq!(seen, None);
    }
}
