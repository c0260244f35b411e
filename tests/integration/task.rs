//! The task actor under a supervisor, with the stand-in agent: reports, restart decisions by
//! outcome, resume of the previous Claude session, cancel, and no process left behind when the
//! actor or its supervisor dies.

use std::sync::Arc;
use std::time::Duration;

use crate::support::actors::cell_of;
use crate::support::agent::{gone, stand_in_config};
use crate::support::eventually;
use smith::agent::{
    AgentConfig, AttemptEvent, OutcomeReason, TaskActor, TaskCarry, TaskEnv, TaskEvent,
    TaskEventKind, TaskMsg, TaskOptions, TaskReporter, TaskSpec,
};
use smith::protocol::StopReason;
use smith::supervisor::{
    Backoff, ChildState, Strategy, SupervisorFlags, SupervisorRef, SupervisorSpec,
};
use smith::task::TaskId;
use tokio::sync::mpsc;

const WAIT: Duration = Duration::from_secs(20);

struct Fixture {
    _dir: tempfile::TempDir,
    sup: SupervisorRef,
    events: mpsc::UnboundedReceiver<TaskEvent>,
}

async fn start_task(prompt: &str, tweak: impl FnOnce(&mut AgentConfig)) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let mut config = stand_in_config(dir.path());
    tweak(&mut config);
    let spec = Arc::new(TaskSpec {
        id: TaskId::Work(0),
        name: "task one".into(),
        prompt: prompt.into(),
        options: TaskOptions {
            cwd: dir.path().to_path_buf(),
            ..TaskOptions::default()
        },
        config: Arc::new(config),
        workspace: None,
    });
    let (reporter, events) = TaskReporter::channel();
    let sup_spec = SupervisorSpec::new("request")
        .flags(SupervisorFlags {
            strategy: Strategy::OneForOne,
            max_restarts: 3,
            period: Duration::from_secs(60),
            backoff: Backoff::none(),
            ..SupervisorFlags::default()
        })
        .child(TaskActor::child_spec(
            spec,
            TaskEnv::new(reporter),
            TaskCarry::default(),
        ));
    let (sup, _) = SupervisorRef::start(sup_spec).await.unwrap();
    Fixture {
        _dir: dir,
        sup,
        events,
    }
}

impl Fixture {
    /// Collects events until the `n`-th Finished.
    async fn until_finished(&mut self, n: usize) -> Vec<TaskEvent> {
        let mut out = Vec::new();
        let mut finished = 0;
        while finished < n {
            let e = tokio::time::timeout(WAIT, self.events.recv())
                .await
                .expect("task event in time")
                .expect("reporter open");
            if matches!(e.kind, TaskEventKind::Finished(_)) {
                finished += 1;
            }
            out.push(e);
        }
        out
    }

    async fn child_state(&self) -> ChildState {
        self.sup.which_children().await.unwrap()[0].state
    }
}

fn outcomes(events: &[TaskEvent]) -> Vec<(u32, OutcomeReason)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            TaskEventKind::Finished(o) => Some((e.attempt, o.reason)),
            _ => None,
        })
        .collect()
}

fn started_pid(events: &[TaskEvent]) -> u32 {
    events
        .iter()
        .find_map(|e| match &e.kind {
            TaskEventKind::Started { pid, .. } => Some(*pid),
            _ => None,
        })
        .expect("started")
}

#[tokio::test]
async fn a_completed_task_reports_its_life_and_is_not_restarted() {
    let mut f = start_task("hello", |_| {}).await;
    let events = f.until_finished(1).await;
    let kinds: Vec<&str> = events
        .iter()
        .filter(|e| !matches!(e.kind, TaskEventKind::Attempt(AttemptEvent::Answered)))
        .map(|e| match &e.kind {
            TaskEventKind::Throttled(_) => "throttled",
            TaskEventKind::Queued => "queued",
            TaskEventKind::NotStarted { .. } => "not started",
            TaskEventKind::Started { .. } => "started",
            TaskEventKind::Attempt(AttemptEvent::Init { .. }) => "init",
            TaskEventKind::Attempt(AttemptEvent::Progress { .. }) => "progress",
            TaskEventKind::Attempt(AttemptEvent::Text(_)) => "text",
            TaskEventKind::Attempt(_) => "other",
            TaskEventKind::Finished(_) => "finished",
        })
        .collect();
    // The text as it was written (partial messages), then the whole message.
    assert_eq!(kinds, ["started", "init", "text", "progress", "finished"]);
    assert!(
        events
            .iter()
            .all(|e| e.task_id == TaskId::Work(0) && e.attempt == 1)
    );
    assert_eq!(outcomes(&events), [(1, OutcomeReason::Completed)]);
    assert!(
        eventually(WAIT, || async {
            f.child_state().await == ChildState::Terminated
        })
        .await
    );
    let status = f.sup.status().await.unwrap();
    assert_eq!(status.children[0].restarts, 0);
    assert_eq!(status.children[0].last_exit.as_deref(), Some("normal"));
    assert!(gone(started_pid(&events)).await);
    f.sup.stop(None).await.unwrap();
}

#[tokio::test]
async fn a_retryable_failure_restarts_and_resumes_the_previous_claude_session() {
    let mut f = start_task("do it [[fail-first:t1]]", |_| {}).await;
    let events = f.until_finished(2).await;
    assert_eq!(
        outcomes(&events),
        [(1, OutcomeReason::Crashed), (2, OutcomeReason::Completed)]
    );
    let first_session = events
        .iter()
        .find_map(|e| match &e.kind {
            TaskEventKind::Attempt(AttemptEvent::Init {
                claude_session_id, ..
            }) if e.attempt == 1 => Some(claude_session_id.clone()),
            _ => None,
        })
        .expect("attempt 1 learnt its session");
    let resumed = events.iter().find_map(|e| match &e.kind {
        TaskEventKind::Started { resumed, .. } if e.attempt == 2 => Some(resumed.clone()),
        _ => None,
    });
    assert_eq!(resumed, Some(Some(first_session.clone())));
    let TaskEventKind::Finished(last) = &events.last().unwrap().kind else {
        unreachable!()
    };
    let answer = last.result.as_deref().unwrap();
    assert!(
        answer.starts_with(&format!(
            "RESUMED {first_session}: [smith] Your previous attempt"
        )),
        "{answer}"
    );
    assert!(
        eventually(WAIT, || async {
            f.child_state().await == ChildState::Terminated
        })
        .await
    );
    assert_eq!(f.sup.status().await.unwrap().children[0].restarts, 1);
    f.sup.stop(None).await.unwrap();
}

#[tokio::test]
async fn without_resume_a_restart_sends_the_original_prompt_in_a_fresh_session() {
    let mut f = start_task("do it [[fail-first:t1]]", |c| c.resume_on_restart = false).await;
    let events = f.until_finished(2).await;
    let TaskEventKind::Finished(last) = &events.last().unwrap().kind else {
        unreachable!()
    };
    assert_eq!(last.result.as_deref(), Some("ECHO: do it"));
    f.sup.stop(None).await.unwrap();
}

#[tokio::test]
async fn a_permanent_failure_is_not_restarted() {
    let mut f = start_task("x [[api-error:401]]", |_| {}).await;
    let events = f.until_finished(1).await;
    assert_eq!(outcomes(&events), [(1, OutcomeReason::ApiError(Some(401)))]);
    assert!(
        eventually(WAIT, || async {
            f.child_state().await == ChildState::Terminated
        })
        .await
    );
    // Terminated (not restarting): the supervisor decided at the exit, nothing comes later.
    let status = f.sup.status().await.unwrap();
    assert_eq!(status.children[0].restarts, 0);
    assert_eq!(status.total_restarts, 0, "no restart spent on it");
    assert!(
        status.children[0]
            .last_exit
            .as_deref()
            .unwrap()
            .contains("api_error(401)")
    );
    assert!(f.events.try_recv().is_err(), "no second attempt");
    f.sup.stop(None).await.unwrap();
}

#[tokio::test]
async fn cancel_stops_the_process_and_the_task_is_not_restarted() {
    let mut f = start_task("x [[slow:300]]", |_| {}).await;
    // Wait until it streams, then cancel.
    loop {
        let e = f.events.recv().await.unwrap();
        if matches!(
            e.kind,
            TaskEventKind::Attempt(AttemptEvent::Progress { .. })
        ) {
            break;
        }
    }
    let cell = cell_of(&f.sup, "t1").await.unwrap();
    cell.send_message(TaskMsg::Stop(StopReason::Cancelled))
        .unwrap();
    let events = f.until_finished(1).await;
    assert_eq!(outcomes(&events), [(1, OutcomeReason::Cancelled)]);
    assert!(
        eventually(WAIT, || async {
            f.child_state().await == ChildState::Terminated
        })
        .await
    );
    f.sup.stop(None).await.unwrap();
}

#[tokio::test]
async fn stopping_the_supervisor_stops_a_running_task_and_its_process() {
    let mut f = start_task("x [[hang]]", |_| {}).await;
    let first = f.events.recv().await.unwrap();
    let TaskEventKind::Started { pid, .. } = first.kind else {
        panic!("{first:?}")
    };
    f.sup.stop(Some(Duration::from_secs(10))).await.unwrap();
    assert!(gone(pid).await, "claude {pid} outlived its task");
    let events = f.until_finished(1).await;
    assert_eq!(outcomes(&events), [(1, OutcomeReason::Cancelled)]);
}

#[tokio::test]
async fn killing_the_supervisor_leaves_no_process_behind() {
    let mut f = start_task("x [[grandchild]] [[hang]]", |_| {}).await;
    let mut pid = None;
    let mut grandchild = None;
    while pid.is_none() || grandchild.is_none() {
        let e = f.events.recv().await.unwrap();
        match e.kind {
            TaskEventKind::Started { pid: p, .. } => pid = Some(p),
            TaskEventKind::Attempt(AttemptEvent::Progress { text, .. }) => {
                grandchild = text
                    .strip_prefix("GRANDCHILD ")
                    .and_then(|p| p.parse::<u32>().ok())
            }
            _ => {}
        }
    }
    // A kill skips post_stop everywhere: only the Drop guard stands between us and orphans.
    f.sup.cell().kill();
    let (pid, grandchild) = (pid.unwrap(), grandchild.unwrap());
    assert!(gone(pid).await, "claude {pid} survived");
    assert!(gone(grandchild).await, "grandchild {grandchild} survived");
}

/// An executor that runs nothing: it records each launch spec and ends the first attempt
/// `crashed` (with the Claude session it was given), the second `completed`.
struct Elsewhere(std::sync::Mutex<Vec<smith::agent::LaunchSpec>>);

impl smith::agent::Executor for Elsewhere {
    fn run<'a>(
        &'a self,
        launch: smith::agent::LaunchSpec,
        _warm: Option<smith::agent::WarmProcess>,
        _on_event: &'a mut (dyn FnMut(AttemptEvent) + Send),
        _stop: &'a mut mpsc::UnboundedReceiver<StopReason>,
        _group: Arc<smith::agent::ProcessGroup>,
        _approvals: Option<smith::permissions::AttemptApprovals>,
    ) -> futures::future::BoxFuture<'a, smith::agent::Outcome> {
        let mut seen = self.0.lock().unwrap();
        let mut outcome = if seen.is_empty() {
            smith::agent::Outcome::bare(OutcomeReason::Crashed, "the node went away")
        } else {
            let mut o = smith::agent::Outcome::bare(OutcomeReason::Completed, "");
            o.result = Some("from elsewhere".into());
            o
        };
        outcome.claude_session_id = Some(launch.session.id().to_string());
        seen.push(launch);
        Box::pin(async move { outcome })
    }
}

#[tokio::test]
async fn attempts_run_through_the_executor_seam_with_their_launch_spec() {
    let dir = tempfile::tempdir().unwrap();
    let spec = Arc::new(TaskSpec {
        id: TaskId::Work(2),
        name: "remote".into(),
        prompt: "the prompt".into(),
        options: TaskOptions {
            cwd: dir.path().to_path_buf(),
            ..TaskOptions::default()
        },
        config: Arc::new(stand_in_config(dir.path())),
        workspace: None,
    });
    let executor = Arc::new(Elsewhere(Default::default()));
    let (reporter, mut events) = TaskReporter::channel();
    let mut env = TaskEnv::new(reporter);
    env.executor = executor.clone();
    let sup_spec = SupervisorSpec::new("request")
        .flags(SupervisorFlags {
            backoff: Backoff::none(),
            ..SupervisorFlags::default()
        })
        .child(TaskActor::child_spec(spec, env, TaskCarry::default()));
    let (sup, _) = SupervisorRef::start(sup_spec).await.unwrap();
    let mut ends = Vec::new();
    while ends.len() < 2 {
        let e = tokio::time::timeout(WAIT, events.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(e.task_id, TaskId::Work(2));
        if let TaskEventKind::Finished(o) = e.kind {
            ends.push((e.attempt, o.reason, o.result));
        }
    }
    assert_eq!(
        ends,
        [
            (1, OutcomeReason::Crashed, None),
            (2, OutcomeReason::Completed, Some("from elsewhere".into()))
        ]
    );
    let launches = executor.0.lock().unwrap().clone();
    let (first, second) = (&launches[0], &launches[1]);
    assert_eq!(first.stdin.first_message, "the prompt");
    assert_eq!(first.cwd, dir.path().canonicalize().unwrap());
    assert!(
        first.env["SMITH_ATTEMPT"].ends_with("/t3/1"),
        "{:?}",
        first.env
    );
    let resumed = first.session.id();
    assert!(
        second.args.windows(2).any(|w| w == ["--resume", resumed]),
        "the restart resumes the first attempt's session: {:?}",
        second.args
    );
    assert!(second.env["SMITH_ATTEMPT"].ends_with("/t3/2"));
    assert_ne!(
        second.stdin.first_message, "the prompt",
        "a continuation, not the prompt again"
    );
    sup.stop(None).await.unwrap();
}
