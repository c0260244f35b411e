//! Sessions with the stand-in agent: fan-out under each strategy with an injected crash,
//! escalation that degrades a request but not the session, retry rules, context slices, plan and
//! synthesize modes, the budget, the concurrency cap, cancel, crash recovery and resume.

use std::time::Duration;

use crate::support::agent::{gone, pid_alive};
use crate::support::eventually;
use crate::support::session::{Harness, finish, started_pids, test_session_config};
use smith::protocol::{Event, OutcomeReason, RequestSummary, TaskEnd};
use smith::session::RequestEvent;
use smith::store::{RequestStatus, TaskStatus, queries};
use smith::supervisor::{Restart, Strategy};

fn attempts(summary: &RequestSummary) -> Vec<u32> {
    summary.tasks.iter().map(|t| t.attempts).collect()
}

fn statuses(summary: &RequestSummary) -> Vec<TaskStatus> {
    summary.tasks.iter().map(|t| t.status).collect()
}

async fn fan_out_with_a_crash(strategy: Strategy) -> RequestSummary {
    let h = Harness::new(|_, _| {}).await;
    let mut spec = h.spec(
        "fan out",
        &[
            "alpha [[sleep:1500]]",
            "beta [[fail-first:beta]]",
            "gamma [[sleep:1500]]",
        ],
    );
    spec.strategy = Some(strategy);
    let (summary, events) = h.ask(spec).await;
    assert_eq!(summary.status, RequestStatus::Succeeded, "{summary:#?}");
    // Sections in task order, each with its task's answer.
    let a = summary.answer.find("## 1. alpha").expect("section 1");
    let b = summary.answer.find("## 2. beta").expect("section 2");
    let c = summary.answer.find("## 3. gamma").expect("section 3");
    assert!(a < b && b < c, "{}", summary.answer);
    assert_eq!(
        summary.answer.matches("ECHO: ").count() + summary.answer.matches("RESUMED ").count(),
        3
    );
    for pid in started_pids(&events) {
        assert!(gone(pid).await, "process {pid} left behind");
    }
    summary
}

#[tokio::test]
async fn one_for_one_fan_out_restarts_only_the_crashed_task() {
    let s = fan_out_with_a_crash(Strategy::OneForOne).await;
    assert_eq!(attempts(&s), [1, 2, 1]);
}

#[tokio::test]
async fn one_for_all_fan_out_restarts_every_task() {
    let s = fan_out_with_a_crash(Strategy::OneForAll).await;
    assert_eq!(attempts(&s), [2, 2, 2]);
}

#[tokio::test]
async fn rest_for_one_fan_out_restarts_the_crashed_task_and_those_after_it() {
    let s = fan_out_with_a_crash(Strategy::RestForOne).await;
    assert_eq!(attempts(&s), [1, 2, 2]);
}

#[tokio::test]
async fn exceeding_the_intensity_degrades_the_request_and_the_session_keeps_its_context() {
    let h = Harness::new(|c, _| {
        c.supervision.backoff_min = Duration::from_millis(300);
        c.supervision.backoff_max = Duration::from_millis(300);
    })
    .await;
    let mut spec = h.spec("first question", &["fine", "broken [[crash-after-init]]"]);
    spec.max_restarts = Some(1);
    let (summary, _) = h.ask(spec).await;
    assert_eq!(summary.status, RequestStatus::Degraded, "{summary:#?}");
    assert!(
        summary
            .reason
            .as_deref()
            .unwrap()
            .contains("restart intensity exceeded")
    );
    assert_eq!(
        statuses(&summary),
        [TaskStatus::Succeeded, TaskStatus::Failed]
    );
    assert_eq!(summary.tasks[1].attempts, 2);
    assert!(summary.answer.contains("## 2. broken"));
    assert!(
        summary
            .answer
            .contains("failed (crashed; gave up: restart intensity exceeded, after 2 attempts)"),
        "{}",
        summary.answer
    );

    // The session still answers, and its context holds the first answer.
    let (next, _) = h.ask(h.spec("second question", &[])).await;
    assert_eq!(next.status, RequestStatus::Succeeded);
    assert!(
        next.answer
            .contains("## Earlier in this session (1 of 1 turns)"),
        "{}",
        next.answer
    );
    assert!(next.answer.contains("first question"));
}

#[tokio::test]
async fn a_permanent_failure_is_not_retried_and_a_retryable_one_is_with_backoff() {
    let h = Harness::new(|c, _| {
        c.supervision.backoff_min = Duration::from_millis(200);
        c.supervision.backoff_max = Duration::from_millis(200);
    })
    .await;
    let (summary, _) = h.ask(h.spec("x [[api-error:401]]", &[])).await;
    assert_eq!(summary.status, RequestStatus::Failed);
    assert_eq!(attempts(&summary), [1]);
    assert_eq!(
        summary.tasks[0].exit_reason,
        Some(TaskEnd::Attempt(OutcomeReason::ApiError(Some(401))))
    );

    let mut spec = h.spec("y [[api-error:529]]", &[]);
    spec.max_restarts = Some(2);
    let t0 = std::time::Instant::now();
    let (summary, events) = h.ask(spec).await;
    assert_eq!(summary.status, RequestStatus::Failed);
    assert_eq!(attempts(&summary), [3], "1 + max_restarts");
    assert!(
        t0.elapsed() >= Duration::from_millis(400),
        "two backoff delays: {:?}",
        t0.elapsed()
    );
    let finished = events
        .iter()
        .filter(|e| {
            matches!(
                e,
                RequestEvent::Progress(Event::TaskFinished {
                    retryable: true,
                    ..
                })
            )
        })
        .count();
    assert_eq!(finished, 3);
}

#[tokio::test]
async fn a_temporary_task_is_never_restarted() {
    let h = Harness::new(|_, _| {}).await;
    let mut spec = h.spec("t", &["ok", "crash [[crash-after-init]]"]);
    spec.restart = Some(Restart::Temporary);
    let (summary, _) = h.ask(spec).await;
    assert_eq!(summary.status, RequestStatus::Degraded);
    assert_eq!(attempts(&summary), [1, 1]);
}

#[tokio::test]
async fn the_next_request_sees_the_previous_answer_within_the_caps() {
    let h = Harness::new(|c, _| {
        c.context.turns = 2;
        c.context.max_chars = 1_500;
    })
    .await;
    let (first, _) = h.ask(h.spec("remember the word PINEAPPLE", &[])).await;
    assert_eq!(first.status, RequestStatus::Succeeded);
    let (second, _) = h.ask(h.spec("what was the word?", &[])).await;
    assert!(second.answer.contains("PINEAPPLE"), "{}", second.answer);
    // Long history: capped and marked.
    for i in 0..3 {
        h.ask(h.spec(&format!("filler {i} {}", "z".repeat(2_000)), &[]))
            .await;
    }
    let (last, _) = h.ask(h.spec("final", &[])).await;
    let history = &last.answer[..last.answer.find("## Current request").unwrap()];
    assert!(history.chars().count() < 1_500 + 400, "{}", history.len());
    assert!(
        history.contains("older or longer parts omitted"),
        "{history}"
    );
    assert!(!history.contains("PINEAPPLE"), "beyond the last 2 turns");
}

#[tokio::test]
async fn plan_mode_runs_the_planned_tasks() {
    let h = Harness::new(|c, _| c.limits.max_tasks_per_request = 2).await;
    let mut spec = h.spec(
        "build it [[plan:api=write the api;ui=write the ui;docs=write docs]]",
        &[],
    );
    spec.plan = true;
    let (summary, events) = h.ask(spec).await;
    assert_eq!(summary.status, RequestStatus::Succeeded, "{summary:#?}");
    let names: Vec<&str> = summary.tasks.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        ["api", "ui"],
        "bounded by max_tasks_per_request: {summary:#?}"
    );
    assert!(
        summary
            .reason
            .as_deref()
            .unwrap()
            .contains("more than 2 tasks")
    );
    assert!(events.iter().any(
        |e| matches!(e, RequestEvent::Progress(Event::Planned { tasks }) if tasks.len() == 2)
    ));
    assert!(
        summary
            .answer
            .contains("## Your task (1 of 2): api\nwrite the api")
    );
    let detail = h.detail(&summary.request_id).await;
    assert_eq!(
        detail.tasks.len(),
        3,
        "the planner is recorded with the work tasks"
    );
}

#[tokio::test]
async fn synthesize_writes_the_answer_and_a_failed_synthesis_degrades_to_the_merge() {
    let h = Harness::new(|_, _| {}).await;
    let mut spec = h.spec("combine", &["one", "two"]);
    spec.synthesize = true;
    let (summary, _) = h.ask(spec).await;
    assert_eq!(summary.status, RequestStatus::Succeeded);
    assert!(
        summary.answer.starts_with("ECHO: [smith] Several workers"),
        "{}",
        summary.answer
    );
    assert!(summary.answer.contains("## 1. one") && summary.answer.contains("## 2. two"));

    let h = Harness::new(|_, a| {
        a.env
            .insert("FAKE_CLAUDE_CRASH_ON".into(), "Several workers".into());
    })
    .await;
    let mut spec = h.spec("combine", &["one", "two"]);
    spec.synthesize = true;
    spec.max_restarts = Some(0);
    let (summary, _) = h.ask(spec).await;
    assert_eq!(summary.status, RequestStatus::Degraded, "{summary:#?}");
    assert!(
        summary
            .reason
            .as_deref()
            .unwrap()
            .contains("synthesis failed")
    );
    assert!(
        summary.answer.starts_with("## 1. one"),
        "{}",
        summary.answer
    );
}

#[tokio::test]
async fn a_spent_budget_starts_no_new_task_and_ends_budget_exceeded() {
    let h = Harness::new(|c, _| c.limits.max_concurrent_tasks = 1).await;
    let mut spec = h.spec(
        "spend",
        &[
            "a [[cost:0.4]] [[args]]",
            "b [[cost:0.4]]",
            "c [[cost:0.4]]",
        ],
    );
    spec.budget_usd = Some(0.5);
    let (summary, _) = h.ask(spec).await;
    assert_eq!(summary.status, RequestStatus::Degraded, "{summary:#?}");
    assert!(
        summary
            .reason
            .as_deref()
            .unwrap()
            .contains("budget_exceeded")
    );
    assert_eq!(
        statuses(&summary),
        [
            TaskStatus::Succeeded,
            TaskStatus::Succeeded,
            TaskStatus::Skipped
        ]
    );
    assert_eq!(summary.tasks[2].attempts, 0);
    assert!((summary.cost_usd - 0.8).abs() < 1e-9);
    // Each process got --max-budget-usd for what was left.
    let args = summary.tasks[0].output.as_deref().unwrap();
    assert!(args.contains(r#""--max-budget-usd","0.500000""#), "{args}");
}

#[tokio::test]
async fn running_tasks_are_stopped_when_the_budget_is_spent() {
    let h = Harness::new(|_, _| {}).await;
    let mut spec = h.spec("spend", &["pricey [[cost:1.0]]", "slow [[slow:300]]"]);
    spec.budget_usd = Some(0.5);
    let (summary, _) = h.ask(spec).await;
    assert_eq!(summary.status, RequestStatus::Degraded, "{summary:#?}");
    assert_eq!(summary.tasks[1].status, TaskStatus::Failed);
    assert_eq!(
        summary.tasks[1].exit_reason,
        Some(TaskEnd::Attempt(OutcomeReason::BudgetExceeded))
    );
}

#[tokio::test]
async fn never_more_live_processes_than_the_cap() {
    let h = Harness::new(|c, _| c.limits.max_concurrent_tasks = 2).await;
    let tasks: Vec<String> = (0..6).map(|i| format!("task{i} [[sleep:300]]")).collect();
    let task_refs: Vec<&str> = tasks.iter().map(String::as_str).collect();
    let (_, mut rx) = h.submit(h.spec("capped", &task_refs)).await;
    let mut pids = Vec::new();
    let mut max_live = 0;
    let mut max_concurrent = 0i32;
    let mut running = 0i32;
    let mut events = Vec::new();
    loop {
        let e = tokio::time::timeout(Duration::from_millis(50), rx.recv()).await;
        let live = pids.iter().filter(|p| pid_alive(**p)).count();
        max_live = max_live.max(live);
        match e {
            Ok(Some(e)) => {
                match &e {
                    RequestEvent::Progress(Event::TaskStarted { pid, .. }) => {
                        pids.push(*pid);
                        running += 1;
                        max_concurrent = max_concurrent.max(running);
                    }
                    RequestEvent::Progress(Event::TaskFinished { .. }) => running -= 1,
                    _ => {}
                }
                let done = matches!(e, RequestEvent::Finished(_));
                events.push(e);
                if done {
                    break;
                }
            }
            Ok(None) => panic!("events ended early"),
            Err(_) => {}
        }
    }
    assert_eq!(pids.len(), 6);
    assert!(max_live <= 2, "{max_live} live processes");
    assert!(max_concurrent <= 2, "{max_concurrent} running at once");
    assert!(
        events
            .iter()
            .any(|e| matches!(e, RequestEvent::Progress(Event::TaskQueued { .. }))),
        "some waited"
    );
}

#[tokio::test]
async fn cancel_stops_a_request_and_its_processes() {
    let h = Harness::new(|_, _| {}).await;
    let (id, mut rx) = h
        .submit(h.spec("long", &["a [[sleep:30000]]", "b [[sleep:30000]]"]))
        .await;
    let mut pids = Vec::new();
    while pids.len() < 2 {
        if let Some(RequestEvent::Progress(Event::TaskStarted { pid, .. })) = rx.recv().await {
            pids.push(pid);
        }
    }
    h.sessions.cancel(&id).await.unwrap();
    let (summary, _) = finish(rx).await;
    assert_eq!(summary.status, RequestStatus::Cancelled);
    assert_eq!(
        statuses(&summary),
        [TaskStatus::Cancelled, TaskStatus::Cancelled]
    );
    for pid in pids {
        assert!(gone(pid).await);
    }
    // The session goes on.
    let (next, _) = h.ask(h.spec("after", &[])).await;
    assert_eq!(next.status, RequestStatus::Succeeded);
    let err = h.sessions.cancel(&id).await.unwrap_err();
    assert!(err.to_string().contains("is cancelled"), "{err}");
}

#[tokio::test]
async fn requests_of_a_session_run_one_at_a_time_in_order() {
    let h = Harness::new(|_, _| {}).await;
    let (a, ra) = h.submit(h.spec("first [[sleep:300]]", &[])).await;
    let (b, rb) = h.submit(h.spec("second", &[])).await;
    let (sa, _) = finish(ra).await;
    let (sb, _) = finish(rb).await;
    assert_eq!((sa.request_id, sb.request_id), (a, b));
    let history = h
        .store
        .call(|c| queries::session_requests(c, "main", None, 10))
        .await
        .unwrap()
        .0;
    assert!(history[0].finished_at.unwrap() <= history[1].started_at.unwrap());
    assert!(
        sb.answer.contains("first"),
        "the second saw the first in its context"
    );
}

#[tokio::test]
async fn a_crashed_session_is_restarted_and_reloads_its_context() {
    let h = Harness::new(|_, _| {}).await;
    h.ask(h.spec("remember MANGO", &[])).await;
    let (session, lease) = h.sessions.session("main").await.unwrap();
    drop(lease);
    session.get_cell().kill();
    let ok = eventually(Duration::from_secs(10), || async {
        h.sessions
            .session("main")
            .await
            .is_ok_and(|(s, _)| s.get_id() != session.get_id())
    })
    .await;
    assert!(ok, "the session came back");
    let (next, _) = h.ask(h.spec("what fruit?", &[])).await;
    assert!(next.answer.contains("MANGO"), "{}", next.answer);
}

#[tokio::test]
async fn after_an_abrupt_stop_history_survives_the_request_is_interrupted_and_resume_completes_it()
{
    let h = Harness::new(|_, _| {}).await;
    h.ask(h.spec("earlier turn", &[])).await;
    let (id, mut rx) = h
        .submit(h.spec("big job", &["quick", "slow [[sleep-first:30000]]"]))
        .await;
    let mut slow_pid = None;
    let mut quick_done = false;
    while slow_pid.is_none() || !quick_done {
        match rx.recv().await.unwrap() {
            RequestEvent::Progress(Event::TaskStarted { task_id, pid, .. }) if task_id == "t2" => {
                slow_pid = Some(pid)
            }
            RequestEvent::Progress(Event::TaskFinished { task_id, .. }) if task_id == "t1" => {
                quick_done = true
            }
            _ => {}
        }
    }
    // Drop the whole actor system without a shutdown: kill, no post_stop anywhere.
    h.sessions.supervisor().cell().kill();
    h.store.actor().kill();
    let slow_pid = slow_pid.unwrap();
    assert!(gone(slow_pid).await, "the Drop guards killed the process");
    let Harness { dir, .. } = h;
    let agent = crate::support::agent::stand_in_config(dir.path());
    let h = Harness::open(dir, test_session_config(), agent).await;
    // Startup recovery, as smithd does it.
    h.store
        .call(|c| queries::interrupt_in_flight(c, None))
        .await
        .unwrap();
    let detail = h.detail(&id).await;
    assert_eq!(detail.request.status, RequestStatus::Interrupted);
    assert_eq!(detail.tasks[0].status, TaskStatus::Succeeded);
    assert_eq!(detail.tasks[1].status, TaskStatus::Interrupted);
    let turns = h
        .store
        .call(|c| queries::load_turns(c, "main", 10))
        .await
        .unwrap();
    assert_eq!(turns.len(), 1, "history intact");
    let slow_session = detail.tasks[1].claude_session_id.clone();

    let (summary, events) = h.resume(&id).await;
    assert_eq!(summary.status, RequestStatus::Succeeded, "{summary:#?}");
    assert_eq!(attempts(&summary), [1, 2], "quick kept, slow ran again");
    let resumed = events.iter().find_map(|e| match e {
        RequestEvent::Progress(Event::TaskStarted {
            task_id, resumed, ..
        }) if task_id == "t2" => Some(resumed.clone()),
        _ => None,
    });
    assert_eq!(resumed, Some(slow_session.clone()));
    assert!(
        slow_session.is_some(),
        "the slow task had a Claude session to resume"
    );
    assert!(summary.answer.contains("## 1. quick") && summary.answer.contains("## 2. slow"));
    let err = h.sessions.resume(&id, None).await.unwrap_err();
    assert!(
        err.to_string().contains("only an interrupted request"),
        "{err}"
    );
}

fn in_session(mut spec: smith::session::RequestSpec, name: &str) -> smith::session::RequestSpec {
    spec.session = name.into();
    spec
}

async fn live(h: &Harness) -> Vec<String> {
    h.sessions
        .status()
        .await
        .into_iter()
        .map(|s| s.name)
        .collect()
}

#[tokio::test]
async fn an_idle_session_retires_and_comes_back_with_its_context() {
    let h = Harness::new(|c, _| c.limits.session_idle_timeout = Duration::from_millis(300)).await;
    h.ask(h.spec("remember MANGO", &[])).await;
    assert!(
        eventually(Duration::from_secs(10), || async {
            live(&h).await.is_empty()
        })
        .await,
        "the idle session retired"
    );
    let (next, _) = h.ask(h.spec("what fruit?", &[])).await;
    assert!(next.answer.contains("MANGO"), "{}", next.answer);
    assert_eq!(live(&h).await, ["main"], "it came back on demand");
}

#[tokio::test]
async fn a_busy_session_does_not_retire() {
    let h = Harness::new(|c, _| c.limits.session_idle_timeout = Duration::from_millis(200)).await;
    let (summary, _) = h.ask(h.spec("slow [[sleep:1200]]", &[])).await;
    assert_eq!(summary.status, RequestStatus::Succeeded, "{summary:?}");
}

#[tokio::test]
async fn the_session_idle_the_longest_makes_room_and_busy_ones_refuse_a_new_one() {
    let h = Harness::new(|c, _| c.limits.max_live_sessions = 2).await;
    h.ask(in_session(h.spec("a", &[]), "a")).await;
    h.ask(in_session(h.spec("b", &[]), "b")).await;
    h.ask(in_session(h.spec("c", &[]), "c")).await;
    assert_eq!(live(&h).await, ["b", "c"], "a, idle the longest, retired");
    let (_, busy_b) = h
        .submit(in_session(h.spec("b [[sleep:3000]]", &[]), "b"))
        .await;
    let (_, busy_c) = h
        .submit(in_session(h.spec("c [[sleep:3000]]", &[]), "c"))
        .await;
    let (tx, _rx) = smith::session::event_queue(8);
    let refused = h
        .sessions
        .submit(in_session(h.spec("d", &[]), "d"), Some(tx))
        .await;
    match refused {
        Err(smith::session::SessionError::TooManySessions { limit: 2 }) => {}
        other => panic!("{other:?}"),
    }
    finish(busy_b).await;
    finish(busy_c).await;
    let (d, _) = h.ask(in_session(h.spec("d", &[]), "d")).await;
    assert_eq!(d.status, RequestStatus::Succeeded);
}
