//! One `claude` attempt with the stand-in agent: every outcome class produced for real,
//! containment (process group, grandchildren), watchdogs and the stop sequence.

use std::time::{Duration, Instant};

use crate::support::agent::{gone, pid_alive, run, run_with, stand_in_config};
use smith::agent::{AgentConfig, AttemptEvent, OutcomeReason};
use smith::protocol::StopReason;

fn setup() -> (tempfile::TempDir, AgentConfig) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = stand_in_config(dir.path());
    (dir, config)
}

#[tokio::test]
async fn a_successful_turn_is_completed_with_result_session_usage_and_cost() {
    let (dir, config) = setup();
    let run = run(config, dir.path(), "say hi [[cost:0.25]]").await;
    let o = &run.outcome;
    assert_eq!(o.reason, OutcomeReason::Completed, "{o:?}");
    assert!(!o.retryable);
    assert_eq!(o.result.as_deref(), Some("ECHO: say hi"));
    assert_eq!(o.claude_session_id.as_deref(), Some(run.session.as_str()));
    assert_eq!(o.usage.input_tokens, 120);
    assert_eq!(o.usage.cache_read_input_tokens, 40);
    assert_eq!(o.cost_usd, 0.25);
    assert_eq!(o.exit.unwrap().code, Some(0));
    assert!(
        run.events
            .iter()
            .any(|e| matches!(e, AttemptEvent::Init { .. }))
    );
    assert_eq!(run.texts(), vec!["ECHO: say hi"]);
    assert!(gone(run.pid()).await);
}

#[tokio::test]
async fn api_errors_carry_their_status_and_retryability() {
    let (dir, config) = setup();
    let r500 = run(config.clone(), dir.path(), "x [[api-error:500]]").await;
    assert_eq!(r500.outcome.reason, OutcomeReason::ApiError(Some(500)));
    assert!(r500.outcome.retryable);
    assert_eq!(r500.outcome.exit.unwrap().code, Some(1));
    let retries = r500
        .events
        .iter()
        .filter(|e| matches!(e, AttemptEvent::ApiRetry(r) if r.error_status == Some(500)))
        .count();
    assert_eq!(retries, 2);

    let r401 = run(config, dir.path(), "x [[api-error:401]]").await;
    assert_eq!(r401.outcome.reason, OutcomeReason::ApiError(Some(401)));
    assert!(!r401.outcome.retryable);
}

#[tokio::test]
async fn max_turns_is_not_retryable() {
    let (dir, config) = setup();
    let r = run(config, dir.path(), "x [[max-turns]]").await;
    assert_eq!(r.outcome.reason, OutcomeReason::MaxTurns);
    assert!(!r.outcome.retryable);
}

#[tokio::test]
async fn exiting_without_a_result_is_a_crash_with_exit_code_and_stderr_tail() {
    let (dir, config) = setup();
    let r = run(config.clone(), dir.path(), "x [[crash-after-init]]").await;
    assert_eq!(r.outcome.reason, OutcomeReason::Crashed);
    assert!(r.outcome.retryable);
    assert_eq!(r.outcome.exit.unwrap().code, Some(3));
    assert!(
        r.outcome.stderr_tail.contains("crashing on purpose"),
        "{:?}",
        r.outcome.stderr_tail
    );
    assert!(r.outcome.detail.as_deref().unwrap().contains("exit code 3"));

    let r = run(config, dir.path(), "x [[exit-without-result]]").await;
    assert_eq!(r.outcome.reason, OutcomeReason::Crashed);
    assert_eq!(r.outcome.exit.unwrap().code, Some(0));
}

#[tokio::test]
async fn output_that_is_not_json_is_a_protocol_error() {
    let (dir, config) = setup();
    let r = run(config, dir.path(), "x [[garbage]] [[sleep:10000]]").await;
    assert_eq!(r.outcome.reason, OutcomeReason::ProtocolError);
    assert!(r.outcome.retryable);
    let detail = r.outcome.detail.clone().unwrap();
    assert!(detail.contains("this line is not JSON"), "{detail}");
    assert!(gone(r.pid()).await);
}

#[tokio::test]
async fn an_enormous_line_is_a_protocol_error_not_an_oom() {
    let (dir, mut config) = setup();
    config.max_line_bytes = 64 * 1024;
    let r = run(config, dir.path(), "x [[huge:5000000]] [[sleep:10000]]").await;
    assert_eq!(r.outcome.reason, OutcomeReason::ProtocolError);
    let detail = r.outcome.detail.clone().unwrap();
    assert!(detail.contains("exceeds the limit"), "{detail}");
    assert!(gone(r.pid()).await);
}

#[tokio::test]
async fn the_wall_clock_timeout_interrupts_and_classifies_timeout() {
    let (dir, mut config) = setup();
    config.timeout = Duration::from_millis(300);
    let t0 = Instant::now();
    let r = run(config, dir.path(), "x [[sleep:60000]]").await;
    assert_eq!(r.outcome.reason, OutcomeReason::Timeout, "{:?}", r.outcome);
    assert!(r.outcome.retryable);
    // The stand-in honours the interrupt: it ends its turn and exits cleanly.
    assert_eq!(r.outcome.exit.unwrap().code, Some(0));
    assert!(t0.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn the_idle_watchdog_classifies_hung_and_kills_a_process_ignoring_sigterm() {
    let (dir, mut config) = setup();
    config.idle_timeout = Duration::from_millis(300);
    let r = run(config, dir.path(), "x [[hang]]").await;
    assert_eq!(r.outcome.reason, OutcomeReason::Hung);
    assert!(r.outcome.retryable);
    assert_eq!(r.outcome.exit.unwrap().signal, Some(9), "needed SIGKILL");
    assert!(gone(r.pid()).await);
}

#[tokio::test]
async fn a_result_without_exit_is_kept_and_the_process_terminated() {
    let (dir, mut config) = setup();
    config.result_grace = Duration::from_millis(200);
    let r = run(config, dir.path(), "x [[hang-after-result]]").await;
    assert_eq!(r.outcome.reason, OutcomeReason::Completed);
    assert_eq!(r.outcome.result.as_deref(), Some("ECHO: x"));
    assert_eq!(r.outcome.exit.unwrap().signal, Some(9));
    assert!(gone(r.pid()).await);
}

#[tokio::test]
async fn cancel_interrupts_a_cooperative_process() {
    let (dir, config) = setup();
    let r = run_with(config, dir.path(), "x [[slow:200]]", |e| {
        matches!(e, AttemptEvent::Progress { .. }).then_some(StopReason::Cancelled)
    })
    .await;
    assert_eq!(r.outcome.reason, OutcomeReason::Cancelled);
    assert!(!r.outcome.retryable);
    assert_eq!(
        r.outcome.exit.unwrap().code,
        Some(0),
        "ended its turn on the interrupt"
    );
    assert!(r.texts().len() < 5, "stopped early: {:?}", r.texts());
}

#[tokio::test]
async fn cancel_escalates_from_interrupt_to_sigterm_to_sigkill() {
    let (dir, config) = setup();
    let grace = config.interrupt_grace + config.term_grace;
    let t0 = Instant::now();
    let r = run_with(config, dir.path(), "x [[hang]]", |e| {
        matches!(e, AttemptEvent::Init { .. }).then_some(StopReason::Cancelled)
    })
    .await;
    let took = t0.elapsed();
    assert_eq!(r.outcome.reason, OutcomeReason::Cancelled);
    assert_eq!(r.outcome.exit.unwrap().signal, Some(9));
    assert!(took >= grace, "waited both graces: {took:?}");
    assert!(took < grace + Duration::from_secs(3), "{took:?}");
    assert!(gone(r.pid()).await);
}

#[tokio::test]
async fn a_budget_stop_is_budget_exceeded() {
    let (dir, config) = setup();
    let r = run_with(config, dir.path(), "x [[slow:200]]", |e| {
        matches!(e, AttemptEvent::Progress { .. }).then_some(StopReason::BudgetExceeded)
    })
    .await;
    assert_eq!(r.outcome.reason, OutcomeReason::BudgetExceeded);
    assert!(!r.outcome.retryable);
}

#[tokio::test]
async fn a_missing_binary_is_spawn_failed_with_a_clear_message() {
    let (dir, mut config) = setup();
    config.program = "/nonexistent/bin/claude".into();
    let r = run(config, dir.path(), "x").await;
    assert_eq!(r.outcome.reason, OutcomeReason::SpawnFailed);
    assert!(!r.outcome.retryable);
    let detail = r.outcome.detail.clone().unwrap();
    assert!(
        detail.contains("cannot start /nonexistent/bin/claude") && detail.contains("No such file"),
        "{detail}"
    );
    assert!(r.events.is_empty());
}

#[tokio::test]
async fn a_working_directory_outside_the_roots_is_refused() {
    let (dir, config) = setup();
    let elsewhere = tempfile::tempdir().unwrap();
    let r = run(config, elsewhere.path(), "x").await;
    assert_eq!(r.outcome.reason, OutcomeReason::SpawnFailed);
    assert!(
        r.outcome
            .detail
            .unwrap()
            .contains("outside the configured roots")
    );
    drop(dir);
}

fn grandchild_pid(texts: &[String]) -> u32 {
    texts
        .iter()
        .find_map(|t| t.strip_prefix("GRANDCHILD "))
        .and_then(|p| p.parse().ok())
        .expect("the stand-in reported its grandchild")
}

#[tokio::test]
async fn a_grandchild_dies_with_the_group_when_the_attempt_is_stopped() {
    let (dir, mut config) = setup();
    config.idle_timeout = Duration::from_millis(500);
    let r = run(config, dir.path(), "x [[grandchild]] [[hang]]").await;
    assert_eq!(r.outcome.reason, OutcomeReason::Hung);
    let grandchild = grandchild_pid(&r.texts());
    assert!(gone(r.pid()).await, "the agent is gone");
    assert!(
        gone(grandchild).await,
        "the grandchild {grandchild} is gone too"
    );
}

#[tokio::test]
async fn a_grandchild_left_behind_by_a_finished_attempt_is_killed() {
    let (dir, config) = setup();
    let r = run(config, dir.path(), "x [[grandchild]]").await;
    assert_eq!(r.outcome.reason, OutcomeReason::Completed);
    let grandchild = grandchild_pid(&r.texts());
    assert!(
        gone(grandchild).await,
        "grandchild {grandchild} outlived its attempt"
    );
}

#[tokio::test]
async fn dropping_a_running_attempt_kills_its_whole_group() {
    let (dir, config) = setup();
    let (pid_tx, mut pid_rx) = tokio::sync::mpsc::unbounded_channel();
    let handle = tokio::spawn({
        let cwd = dir.path().to_path_buf();
        async move {
            run_with(config, &cwd, "x [[grandchild]] [[hang]]", move |e| {
                if let AttemptEvent::Progress { text, .. } = e {
                    let _ = pid_tx.send(text.clone());
                }
                None
            })
            .await
        }
    });
    let text = pid_rx.recv().await.unwrap();
    let grandchild = grandchild_pid(&[text]);
    assert!(pid_alive(grandchild));
    handle.abort();
    let _ = handle.await;
    assert!(gone(grandchild).await, "the Drop guard killed the group");
}
