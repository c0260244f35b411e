//! The real Claude Code CLI (2.1.332) against the fake Messages API: a turn, a tool round trip,
//! API errors, SIGKILL mid-stream, an interrupt, and a restart that resumes the conversation.
//! Few and fast: each CLI start costs about a second.

use std::sync::Arc;
use std::time::Duration;

use crate::support::agent::{gone, run, run_with};
use crate::support::fake_api::{FakeApi, Fault};
use crate::support::real_cli::{real_cli, real_cli_config};
use smith::agent::{
    AttemptEvent, OutcomeReason, TaskActor, TaskCarry, TaskEnv, TaskEventKind, TaskOptions,
    TaskReporter, TaskSpec,
};
use smith::protocol::StopReason;
use smith::supervisor::{Backoff, SupervisorFlags, SupervisorRef, SupervisorSpec};
use smith::task::TaskId;

struct Env {
    dir: tempfile::TempDir,
    api: FakeApi,
    config: smith::agent::AgentConfig,
}

async fn env() -> Option<Env> {
    let cli = real_cli()?;
    let dir = tempfile::tempdir().unwrap();
    let api = FakeApi::start().await;
    let config = real_cli_config(&cli, dir.path(), &api.url());
    Some(Env { dir, api, config })
}

#[tokio::test]
async fn a_successful_turn() {
    let Some(e) = env().await else { return };
    let r = run(e.config.clone(), e.dir.path(), "say hi").await;
    assert_eq!(
        r.outcome.reason,
        OutcomeReason::Completed,
        "{:?}",
        r.outcome
    );
    assert_eq!(r.outcome.result.as_deref(), Some("ECHO: say hi"));
    assert_eq!(
        r.outcome.claude_session_id.as_deref(),
        Some(r.session.as_str())
    );
    assert!(r.outcome.cost_usd > 0.0);
    assert!(r.outcome.usage.input_tokens > 0);
    assert_eq!(r.outcome.exit.unwrap().code, Some(0));
    assert!(!e.api.requests().is_empty());
    assert!(gone(r.pid()).await);
}

#[tokio::test]
async fn a_tool_use_round_trip_through_bash() {
    let Some(mut e) = env().await else { return };
    e.config.allowed_tools = vec!["Bash".into()];
    let r = run(
        e.config.clone(),
        e.dir.path(),
        "run it [[tool:bash echo hello-from-bash]]",
    )
    .await;
    assert_eq!(
        r.outcome.reason,
        OutcomeReason::Completed,
        "{:?}",
        r.outcome
    );
    assert_eq!(
        r.outcome.result.as_deref(),
        Some("ECHO-TOOL-RESULT: hello-from-bash")
    );
    let tools: Vec<String> = r
        .events
        .iter()
        .filter_map(|ev| match ev {
            AttemptEvent::Progress { tools, .. } => Some(tools.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(tools, vec!["Bash"]);
}

#[tokio::test]
async fn api_500_is_a_retryable_api_error_and_401_is_not() {
    let Some(e) = env().await else { return };
    e.api.fail_next(Fault::Status(500), 10);
    let r = run(e.config.clone(), e.dir.path(), "x").await;
    assert_eq!(
        r.outcome.reason,
        OutcomeReason::ApiError(Some(500)),
        "{:?}",
        r.outcome
    );
    assert!(r.outcome.retryable);
    assert!(
        r.events
            .iter()
            .any(|ev| matches!(ev, AttemptEvent::ApiRetry(a) if a.error_status == Some(500)))
    );

    let api = FakeApi::start().await;
    api.fail_next(Fault::Status(401), 10);
    let mut config = e.config.clone();
    config.env.insert("ANTHROPIC_BASE_URL".into(), api.url());
    let r = run(config, e.dir.path(), "x").await;
    assert_eq!(
        r.outcome.reason,
        OutcomeReason::ApiError(Some(401)),
        "{:?}",
        r.outcome
    );
    assert!(!r.outcome.retryable);
}

#[tokio::test]
async fn sigkill_mid_stream_is_a_crash() {
    let Some(e) = env().await else { return };
    let mut pid = 0;
    let r = run_with(e.config.clone(), e.dir.path(), "x [[api-slow:300]]", |ev| {
        match ev {
            AttemptEvent::Spawned { pid: p, .. } => pid = *p,
            AttemptEvent::Init { .. } => {
                let victim = pid as i32;
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(500));
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(victim),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                });
            }
            _ => {}
        }
        None
    })
    .await;
    assert_eq!(r.outcome.reason, OutcomeReason::Crashed, "{:?}", r.outcome);
    assert!(r.outcome.retryable);
    assert_eq!(r.outcome.exit.unwrap().signal, Some(9));
}

#[tokio::test]
async fn an_interrupt_ends_the_turn_cancelled() {
    let Some(e) = env().await else { return };
    let r = run_with(e.config.clone(), e.dir.path(), "x [[api-slow:300]]", |ev| {
        matches!(ev, AttemptEvent::Init { .. }).then_some(StopReason::Cancelled)
    })
    .await;
    assert_eq!(
        r.outcome.reason,
        OutcomeReason::Cancelled,
        "{:?}",
        r.outcome
    );
    assert!(!r.outcome.retryable);
    assert!(gone(r.pid()).await);
}

#[tokio::test]
async fn a_restart_resumes_the_conversation_with_its_earlier_turns() {
    let Some(e) = env().await else { return };
    // Attempt 1: both calls (CLAUDE_CODE_MAX_RETRIES=1) fail with 500 → retryable api_error.
    e.api.fail_next(Fault::Status(500), 2);
    let spec = Arc::new(TaskSpec {
        id: TaskId::Work(0),
        name: "resume".into(),
        prompt: "the secret word is banana".into(),
        options: TaskOptions {
            cwd: e.dir.path().to_path_buf(),
            ..TaskOptions::default()
        },
        config: Arc::new(e.config.clone()),
        workspace: None,
    });
    let (reporter, mut rx) = TaskReporter::channel();
    let sup = SupervisorSpec::new("real")
        .flags(SupervisorFlags {
            backoff: Backoff::none(),
            ..SupervisorFlags::default()
        })
        .child(TaskActor::child_spec(
            spec,
            TaskEnv::new(reporter),
            TaskCarry::default(),
        ));
    let (sup, _) = SupervisorRef::start(sup).await.unwrap();

    let mut finished = Vec::new();
    let mut sessions = Vec::new();
    while finished.len() < 2 {
        let ev = tokio::time::timeout(Duration::from_secs(60), rx.recv())
            .await
            .expect("events in time")
            .unwrap();
        match ev.kind {
            TaskEventKind::Started { resumed, .. } => sessions.push(resumed),
            TaskEventKind::Finished(o) => finished.push(*o),
            _ => {}
        }
    }
    assert_eq!(finished[0].reason, OutcomeReason::ApiError(Some(500)));
    assert_eq!(
        finished[1].reason,
        OutcomeReason::Completed,
        "{:?}",
        finished[1]
    );
    let first_session = finished[0].claude_session_id.clone().expect("session id");
    assert_eq!(sessions, vec![None, Some(first_session.clone())]);
    assert_eq!(
        finished[1].claude_session_id.as_deref(),
        Some(first_session.as_str())
    );

    // The resumed call carries the earlier turn and the continuation message.
    let last = e.api.requests().pop().unwrap();
    let transcript = last["messages"].to_string();
    assert!(
        transcript.contains("the secret word is banana"),
        "{transcript}"
    );
    assert!(transcript.contains("Your previous attempt"), "{transcript}");
    sup.stop(None).await.unwrap();
}

#[tokio::test]
async fn plan_mode_with_the_real_cli_uses_the_structured_output_of_the_planner() {
    let Some(e) = env().await else { return };
    e.api.set_structured(serde_json::json!({"tasks": [
        {"name": "api", "instruction": "write the api"},
        {"name": "docs", "instruction": "write the docs"},
    ]}));
    let Env { dir, api, config } = e;
    let h = crate::support::session::Harness::open(
        dir,
        crate::support::session::test_session_config(),
        config,
    )
    .await;
    let mut spec = h.spec("build the service", &[]);
    spec.plan = true;
    let (summary, _) = h.ask(spec).await;
    assert_eq!(
        summary.status,
        smith::store::RequestStatus::Succeeded,
        "{summary:#?}"
    );
    let names: Vec<&str> = summary.tasks.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["api", "docs"]);
    assert!(summary.answer.contains("## 1. api") && summary.answer.contains("write the api"));
    assert!(summary.cost_usd > 0.0);
    // The planner offered StructuredOutput; the workers did not.
    let offered: Vec<bool> = api
        .requests()
        .iter()
        .map(|r| {
            r["tools"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t["name"] == "StructuredOutput"))
        })
        .collect();
    assert!(
        offered.iter().any(|o| *o) && offered.iter().any(|o| !*o),
        "{offered:?}"
    );
}

#[test]
fn smithd_with_the_real_cli_restarts_a_task_that_met_an_api_500_and_merges_all_three() {
    let Some(cli) = crate::support::real_cli::real_cli() else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let api = rt.block_on(FakeApi::start());
    let mut d = crate::support::daemon::Daemon::new(
        "[supervision]\nbackoff_min = \"100ms\"\nbackoff_max = \"200ms\"\n",
    );
    // No retries inside the CLI: one 500 ends the attempt, and smith restarts it.
    crate::support::real_cli::configure_daemon(
        &d,
        &cli,
        &api.url(),
        "",
        &[("CLAUDE_CODE_MAX_RETRIES", "0")],
    );
    d.start();
    let out = d.smith(&[
        "ask",
        "--json",
        "three parts",
        "--task",
        "alpha part",
        "--task",
        "beta part [[api-once:500:beta]]",
        "--task",
        "gamma part",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        crate::support::daemon::stderr(&out),
        d.log()
    );
    let v: serde_json::Value = serde_json::from_str(&crate::support::daemon::stdout(&out)).unwrap();
    assert_eq!(v["status"], "succeeded");
    let attempts: Vec<u64> = v["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["attempts"].as_u64().unwrap())
        .collect();
    assert_eq!(attempts, [1, 2, 1], "beta restarted once");
    let answer = v["answer"].as_str().unwrap();
    for (i, part) in ["alpha part", "beta part", "gamma part"].iter().enumerate() {
        assert!(
            answer.contains(&format!("## {}. {part}", i + 1)),
            "{answer}"
        );
    }
    assert!(answer.contains("ECHO: "), "{answer}");
    let show: serde_json::Value =
        serde_json::from_str(&crate::support::daemon::stdout(&d.smith(&[
            "show",
            v["request_id"].as_str().unwrap(),
            "--json",
        ])))
        .unwrap();
    let beta: Vec<&serde_json::Value> = show["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["task_idx"] == 1)
        .collect();
    assert_eq!(beta[0]["exit_reason"], "api_error(500)");
    assert_eq!(beta[1]["exit_reason"], "completed");
    assert_eq!(
        beta[1]["resumed_from"], beta[0]["claude_session_id"],
        "the restart resumed the session"
    );
    drop(d);
    drop(api);
}

/// Headless, the real CLI refuses a Bash call that creates a file: the refusal reaches the task's
/// result, the merged answer and `smith show` (kept in the store), never lost in the answer.
#[test]
fn a_call_the_real_cli_refuses_is_surfaced_in_the_result_the_answer_and_show() {
    let Some(cli) = crate::support::real_cli::real_cli() else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let api = rt.block_on(FakeApi::start());
    let mut d = crate::support::daemon::Daemon::new("");
    crate::support::real_cli::configure_daemon(&d, &cli, &api.url(), "", &[]);
    d.start();
    let out = d.smith(&[
        "ask",
        "--json",
        "make it [[tool:bash touch made-by-tool.txt]]",
    ]);
    let stdout = crate::support::daemon::stdout(&out);
    let v: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(v["status"], "succeeded", "{v}");
    assert!(
        !d.work().join("made-by-tool.txt").exists(),
        "refused, not run"
    );
    let denial = &v["tasks"][0]["denials"][0];
    assert_eq!(denial["tool"], "Bash", "{v}");
    assert_eq!(denial["input"], "touch made-by-tool.txt", "{v}");
    assert!(
        denial["message"]
            .as_str()
            .unwrap()
            .contains("needs approval"),
        "{v}"
    );
    let answer = v["answer"].as_str().unwrap();
    assert!(
        answer.contains("## Refused tool calls")
            && answer.contains("t1 could not run Bash `touch made-by-tool.txt`"),
        "{answer}"
    );
    let show =
        crate::support::daemon::stdout(&d.smith(&["show", v["request_id"].as_str().unwrap()]));
    assert!(
        show.contains("refused Bash `touch made-by-tool.txt`: "),
        "{show}"
    );
}
