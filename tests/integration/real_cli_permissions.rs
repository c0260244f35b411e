//! `permissions.mode = "stdio"` with the real CLI 2.1.332 against the fake Messages API (a Bash
//! tool_use that creates a file): every call that needs a permission is asked of smith on stdout
//! and answered on stdin — by a rule (allowed: the file is made, nobody asked; denied: it is not,
//! and the worker's answer carries the reason), or by a person from a second client (approved:
//! made; denied with a message: the message is the tool's result), by nobody (denied after
//! `ask_timeout`, the request still completes), by an "always" earlier in the session (not asked
//! again). An approval that waits is withdrawn when its worker dies, and one left by a smithd
//! killed with -9 is resolved at the next start.

use std::time::Duration;

use crate::support::approvals::{
    first_waiting, json_of, kill_first_worker, no_longer_waiting, summary_of_child, waiting,
};
use crate::support::daemon::{Daemon, stderr, stdout};
use crate::support::fake_api::FakeApi;
use crate::support::real_cli::{configure_daemon, real_cli};

const MAKE: &str = "make it [[tool:bash touch made-by-tool.txt]]";

/// smithd (a process) with the real CLI against a fake API; its tool calls decided by
/// `permissions` (a `[permissions]` body).
struct Setup {
    d: Daemon,
    // The fake API runs on this runtime: both live as long as the test.
    _api: FakeApi,
    _rt: tokio::runtime::Runtime,
}

fn setup(permissions: &str) -> Option<Setup> {
    let cli = real_cli()?;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let api = rt.block_on(FakeApi::start());
    let mut d = Daemon::new(&format!("[permissions]\nmode = \"stdio\"\n{permissions}\n"));
    configure_daemon(&d, &cli, &api.url(), "", &[]);
    d.start();
    Some(Setup {
        d,
        _api: api,
        _rt: rt,
    })
}

fn ask(d: &Daemon, prompt: &str) -> serde_json::Value {
    let out = d.smith(&["ask", "--json", prompt]);
    serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("{e}: {}\n{}\n{}", stdout(&out), stderr(&out), d.log()))
}

fn decisions(d: &Daemon, v: &serde_json::Value) -> Vec<serde_json::Value> {
    let show = json_of(d, &["show", "--json", v["request_id"].as_str().unwrap()]);
    show["decisions"].as_array().cloned().unwrap_or_default()
}

#[test]
fn an_allow_rule_lets_the_call_run_without_a_refusal() {
    let Some(s) = setup("allow = [\"Bash(touch*)\"]") else {
        return;
    };
    let v = ask(&s.d, MAKE);
    assert_eq!(v["status"], "succeeded", "{v}");
    assert!(
        s.d.work().join("made-by-tool.txt").exists(),
        "allowed, so it ran: {v}"
    );
    assert_eq!(v["tasks"][0]["denials"], serde_json::json!([]), "{v}");
    assert!(!v["answer"].as_str().unwrap().contains("Refused tool calls"));
    let recorded = decisions(&s.d, &v);
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(recorded[0]["decided_by"], "rule");
}

#[test]
fn a_deny_rule_refuses_the_call_and_the_worker_hears_why() {
    let Some(s) = setup("allow = [\"Bash\"]\ndeny = [\"Bash(touch*)\"]") else {
        return;
    };
    let v = ask(&s.d, MAKE);
    assert!(
        !s.d.work().join("made-by-tool.txt").exists(),
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
fn a_person_approves_from_a_second_client_and_always_holds_for_the_session() {
    let Some(s) = setup("preset = \"read-only\"") else {
        return;
    };
    let d = &s.d;
    let client = d.smith_child(&["ask", "--json", MAKE]);
    let a = first_waiting(d, Duration::from_secs(60));
    assert_eq!(a["summary"], "touch made-by-tool.txt", "{a}");
    json_of(
        d,
        &["approve", "--always", "--json", a["id"].as_str().unwrap()],
    );
    let v = summary_of_child(client);
    assert_eq!(v["status"], "succeeded", "{v}");
    assert!(d.work().join("made-by-tool.txt").exists(), "approved: {v}");
    assert_eq!(decisions(d, &v)[0]["decided_by"], "person");
    std::fs::remove_file(d.work().join("made-by-tool.txt")).unwrap();
    // The same call again in the session: not asked (`--json` cannot prompt; it would wait).
    let v = ask(d, MAKE);
    assert!(d.work().join("made-by-tool.txt").exists(), "{v}");
    assert_eq!(decisions(d, &v)[0]["decided_by"], "remembered", "{v}");
}

#[test]
fn a_person_denies_with_a_message_and_the_worker_gets_it_as_the_result() {
    let Some(s) = setup("preset = \"read-only\"") else {
        return;
    };
    let d = &s.d;
    let client = d.smith_child(&["ask", "--json", MAKE]);
    let a = first_waiting(d, Duration::from_secs(60));
    let out = d.smith(&[
        "deny",
        a["id"].as_str().unwrap(),
        "--message",
        "not in this repository",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = summary_of_child(client);
    assert!(!d.work().join("made-by-tool.txt").exists());
    assert!(
        v["tasks"][0]["output"]
            .as_str()
            .unwrap_or_default()
            .contains("not in this repository"),
        "the fake API echoes the tool result it got: {v}"
    );
    assert_eq!(
        v["tasks"][0]["denials"][0]["message"],
        "not in this repository"
    );
}

#[test]
fn nobody_answers_the_call_is_denied_after_the_timeout_and_the_request_completes() {
    let Some(s) = setup("preset = \"read-only\"\nask_timeout = \"2s\"") else {
        return;
    };
    let v = ask(&s.d, MAKE);
    assert_eq!(v["status"], "succeeded", "{v}");
    assert!(!s.d.work().join("made-by-tool.txt").exists());
    let message = v["tasks"][0]["denials"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("nobody answered within 2s"), "{v}");
    assert!(
        v["answer"]
            .as_str()
            .unwrap()
            .contains("## Refused tool calls"),
        "{v}"
    );
    assert_eq!(decisions(&s.d, &v)[0]["decided_by"], "timeout");
}

#[test]
fn a_worker_that_dies_while_its_call_waits_withdraws_it() {
    let Some(s) = setup("preset = \"read-only\"") else {
        return;
    };
    let d = &s.d;
    let client = d.smith_child(&["ask", "--json", MAKE]);
    let a = first_waiting(d, Duration::from_secs(60));
    let id = a["id"].as_str().unwrap().to_string();
    kill_first_worker(d);
    assert!(no_longer_waiting(d, &id, Duration::from_secs(30)));
    // The task is restarted (resuming its Claude session); the resumed CLI may ask again for
    // the call it had not run: that one is denied here.
    let mut client = client;
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while client.try_wait().unwrap().is_none() {
        assert!(std::time::Instant::now() < deadline, "{}", d.log());
        for again in waiting(d) {
            assert_ne!(again["id"], id.as_str(), "withdrawn, so no longer waiting");
            d.smith(&[
                "deny",
                again["id"].as_str().unwrap(),
                "--message",
                "not now",
            ]);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let v = summary_of_child(client);
    assert_eq!(v["status"], "succeeded", "{v}");
    assert!(v["tasks"][0]["attempts"].as_u64().unwrap() >= 2, "{v}");
    let recorded = decisions(d, &v);
    assert_eq!(recorded[0]["id"], id.as_str());
    assert_eq!(recorded[0]["decided_by"], "withdrawn", "{recorded:?}");
    assert!(!d.work().join("made-by-tool.txt").exists());
}

#[test]
fn an_approval_left_by_a_killed_smithd_is_resolved_at_the_next_start() {
    let Some(mut s) = setup("preset = \"read-only\"") else {
        return;
    };
    let out = s.d.smith(&["ask", "--detach", MAKE]);
    let request = stdout(&out).trim().to_string();
    assert!(request.starts_with("r-"), "{}", stderr(&out));
    let a = first_waiting(&s.d, Duration::from_secs(60));
    s.d.signal(nix::sys::signal::Signal::SIGKILL);
    assert!(s.d.wait(Duration::from_secs(10)).is_some());
    s.d.start();
    assert!(waiting(&s.d).is_empty(), "nothing is left dangling");
    let show = json_of(&s.d, &["show", "--json", &request]);
    assert_eq!(show["request"]["status"], "interrupted", "{show}");
    let recorded = &show["decisions"][0];
    assert_eq!(recorded["id"], a["id"], "{show}");
    assert_eq!(recorded["decided_by"], "restart");
    assert_eq!(recorded["verdict"], "deny");
    assert!(!s.d.work().join("made-by-tool.txt").exists());
}
