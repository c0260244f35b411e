//! `permissions.mode = "stdio"` with the real CLI 2.1.332 against the fake Messages API: every
//! call that needs a permission is asked of smith on stdout and answered on stdin by the
//! `[permissions]` rules — an allow rule lets a Bash call that creates a file run; a deny rule
//! refuses it and the worker gets the reason as its tool result; a call no rule decides is refused
//! (nobody can approve yet) with a message saying so. Every refusal reaches the task's result.

use crate::support::daemon::{Daemon, stderr, stdout};
use crate::support::fake_api::FakeApi;
use crate::support::real_cli::{configure_daemon, real_cli};

/// smithd with the real CLI, its tool calls decided by `permissions` (a `[permissions]` body);
/// asks for a Bash call that creates a file; the summary.
fn ask_with(permissions: &str) -> Option<(Daemon, serde_json::Value)> {
    let cli = real_cli()?;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let api = rt.block_on(FakeApi::start());
    let mut d = Daemon::new(&format!("[permissions]\nmode = \"stdio\"\n{permissions}\n"));
    configure_daemon(&d, &cli, &api.url(), "", &[]);
    d.start();
    let out = d.smith(&[
        "ask",
        "--json",
        "make it [[tool:bash touch made-by-tool.txt]]",
    ]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("{e}: {}\n{}\n{}", stdout(&out), stderr(&out), d.log()));
    // The fake API holds the runtime's listener: keep it until the request is over.
    drop(api);
    Some((d, v))
}

#[test]
fn an_allow_rule_lets_the_call_run_without_a_refusal() {
    let Some((d, v)) = ask_with("allow = [\"Bash(touch*)\"]") else {
        return;
    };
    assert_eq!(v["status"], "succeeded", "{v}");
    assert!(
        d.work().join("made-by-tool.txt").exists(),
        "allowed, so it ran: {v}"
    );
    assert_eq!(v["tasks"][0]["denials"], serde_json::json!([]), "{v}");
    assert!(!v["answer"].as_str().unwrap().contains("Refused tool calls"));
}

#[test]
fn a_deny_rule_refuses_the_call_and_the_worker_hears_why() {
    let Some((d, v)) = ask_with("allow = [\"Bash\"]\ndeny = [\"Bash(touch*)\"]") else {
        return;
    };
    assert!(
        !d.work().join("made-by-tool.txt").exists(),
        "refused, not run"
    );
    let output = v["tasks"][0]["output"].as_str().unwrap_or_default();
    assert!(
        output.contains("refused by smith's [permissions] deny rule Bash(touch*)"),
        "the worker got the reason as its tool result: {v}"
    );
    let denial = &v["tasks"][0]["denials"][0];
    assert_eq!(denial["input"], "touch made-by-tool.txt", "{v}");
    assert_eq!(
        v["tasks"][0]["denials"].as_array().unwrap().len(),
        1,
        "once: {v}"
    );
}

#[test]
fn a_call_no_rule_decides_is_refused_saying_nobody_can_approve_it_yet() {
    let Some((d, v)) = ask_with("preset = \"read-only\"") else {
        return;
    };
    assert!(!d.work().join("made-by-tool.txt").exists());
    let message = v["tasks"][0]["denials"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("needs a person's approval"), "{v}");
    assert!(
        v["answer"]
            .as_str()
            .unwrap()
            .contains("## Refused tool calls"),
        "{v}"
    );
}
