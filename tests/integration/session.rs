//! Sessions with the stand-in agent: fan-out under each strategy with an injected crash,
//! escalation that degrades a request but not the session, retry rules, context slices, plan and
//! synthesize modes. (`session_lifecycle`: the budget, the concurrency cap, cancel, order, crash
//! recovery and resume, idle sessions.)

use std::time::Duration;

use crate::support::agent::gone;
use crate::support::session::{Harness, attempts, started_pids, statuses};
use smith::protocol::{Event, OutcomeReason, RequestSummary, TaskEnd};
use smith::session::RequestEvent;
use smith::store::{RequestStatus, TaskStatus};
use smith::supervisor::{Restart, Strategy};

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
