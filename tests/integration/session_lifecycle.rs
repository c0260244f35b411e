//! A session's requests and the session itself over time, with the stand-in agent: the budget,
//! the concurrency cap, cancel, one request at a time in order, a crashed session restarted with
//! its context, history and resume after an abrupt stop, idle sessions retired and brought
//! back.

use std::time::Duration;

use crate::support::agent::{gone, pid_alive};
use crate::support::eventually;
use crate::support::session::{Harness, attempts, finish, statuses, test_session_config};
use smith::protocol::{Event, OutcomeReason, TaskEnd};
use smith::session::RequestEvent;
use smith::store::{RequestStatus, TaskStatus, queries};

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
