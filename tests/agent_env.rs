//! Environment scrubbing: a `claude` process gets the allowlisted part of smith's environment,
//! without `CLAUDECODE`/`CLAUDE_CODE_*`, plus configured and per-task variables (TRACEPARENT).
//! Alone in its binary because it sets variables in its own environment.

mod support;

use smith::agent::{
    AttemptSpec, OutcomeReason, ProcessGroup, SessionArg, TaskOptions, run_attempt,
};
use std::collections::BTreeMap;
use std::sync::Arc;
use support::agent::stand_in_config;

#[tokio::test(flavor = "current_thread")]
async fn the_child_environment_is_rebuilt_from_the_allowlist() {
    // SAFETY: this test binary holds this one test on a current-thread runtime, so no other
    // thread reads the environment while it is changed.
    unsafe {
        std::env::set_var("CLAUDECODE", "1");
        std::env::set_var("CLAUDE_CODE_ENTRYPOINT", "sdk-ts");
        std::env::set_var("SMITH_TEST_SECRET", "must-not-leak");
        std::env::set_var("LC_ALL", "C.UTF-8");
    }
    let dir = tempfile::tempdir().unwrap();
    let mut config = stand_in_config(dir.path());
    config
        .env
        .insert("CLAUDE_CODE_MAX_RETRIES".into(), "2".into());
    let spec = AttemptSpec {
        config: Arc::new(config),
        task: TaskOptions {
            cwd: dir.path().to_path_buf(),
            env: vec![(
                "TRACEPARENT".into(),
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
            )],
            ..TaskOptions::default()
        },
        session: SessionArg::fresh(),
        message: "[[env]]".into(),
        tag: Some(smith::agent::attempt_tag::AttemptTag::new(
            &format!("r-{}", uuid::Uuid::new_v4().simple()),
            "t1",
            1,
        )),
        transcript: None,
    };
    let (_tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let outcome = run_attempt(spec, |_| {}, rx, ProcessGroup::new()).await;
    assert_eq!(outcome.reason, OutcomeReason::Completed, "{outcome:?}");
    let env: BTreeMap<String, String> =
        serde_json::from_str(outcome.result.as_deref().unwrap()).unwrap();

    assert!(!env.contains_key("CLAUDECODE"), "{env:?}");
    assert!(!env.contains_key("CLAUDE_CODE_ENTRYPOINT"));
    assert!(!env.contains_key("SMITH_TEST_SECRET"));
    assert_eq!(env.get("LC_ALL").map(String::as_str), Some("C.UTF-8"));
    assert!(env.contains_key("PATH"));
    assert_eq!(
        env["CLAUDE_CODE_MAX_RETRIES"], "2",
        "configured CLAUDE_CODE_* are passed"
    );
    assert_eq!(
        env["TRACEPARENT"],
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    );
    assert!(
        env["SMITH_ATTEMPT"].ends_with("/t1/1"),
        "every worker carries its attempt tag: {env:?}"
    );
}
