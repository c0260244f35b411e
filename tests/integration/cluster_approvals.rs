//! Tool calls of attempts on worker nodes (`permissions.mode = "stdio"` on the control plane):
//! the node's CLI asks, the node relays the request, the control plane decides it by its rules
//! and people — exactly as for a local attempt — and the answer goes back to the node. A call
//! waiting for a person survives a `kill -9` of the control plane: the smithd that follows the
//! attempt again asks about it once more, and about nothing that was answered before.

use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::Value;

use crate::support::approvals::{first_waiting, json_of, summary_of_child, waiting};
use crate::support::cluster::{claude_pids, cluster_configured, nodes_of};
use crate::support::daemon::Daemon;
use crate::support::eventually_sync;

const RULES: &str =
    "[permissions]\nmode = \"stdio\"\nallow = [\"Bash(touch ruled*)\"]\ndeny = [\"Bash(rm *)\"]\n";

/// How the calls of `request` were decided: `decided_by` and the call, in order.
fn decisions(d: &Daemon, request: &str) -> Vec<(String, String)> {
    let show = json_of(d, &["show", "--json", request]);
    show["decisions"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|r| {
            let by = r["decided_by"].as_str().unwrap_or("").to_string();
            (by, r["summary"].as_str().unwrap_or("").to_string())
        })
        .collect()
}

#[test]
fn a_nodes_tool_calls_are_decided_by_the_control_planes_rules_and_people() {
    let Some(c) = cluster_configured("remote", 2, "2s", RULES) else {
        return;
    };
    let client = c.d.smith_child(&[
        "ask",
        "--json",
        "three calls [[ask:touch ruled.txt]] [[ask:touch approved.txt]] [[ask:rm -f ruled.txt]]",
    ]);
    // The rule allowed the first; the second waits for a person here.
    let asked = first_waiting(&c.d, Duration::from_secs(30));
    assert_eq!(asked["summary"], "touch approved.txt", "{asked}");
    assert!(c.d.work().join("ruled.txt").exists());
    assert!(!c.d.work().join("approved.txt").exists());
    // Status names the node the task runs on, and the call it waits with.
    let status = json_of(&c.d, &["status", "--json"]);
    let task = &status["sessions"][0]["current"]["tasks"][0];
    assert!(
        task["node"]
            .as_str()
            .is_some_and(|n| n.starts_with("node-")),
        "{task}"
    );
    assert_eq!(task["tools"][0]["input"], "touch approved.txt", "{task}");
    let text = String::from_utf8_lossy(&c.d.smith(&["status"]).stdout).to_string();
    assert!(
        text.contains(" on node-") && text.contains("▸ Bash: touch approved.txt"),
        "{text}"
    );
    json_of(&c.d, &["approve", "--json", asked["id"].as_str().unwrap()]);
    let v = summary_of_child(client);
    assert_eq!(v["status"], "succeeded", "{v}");
    assert!(c.d.work().join("approved.txt").exists(), "{v}");
    assert!(c.d.work().join("ruled.txt").exists(), "rm was refused: {v}");
    // The denial reached the node's outcome, as the CLI reported it.
    let denials = v["tasks"][0]["denials"].as_array().unwrap();
    assert_eq!(denials.len(), 1, "{v}");
    assert_eq!(denials[0]["input"], "rm -f ruled.txt");
    let output = v["tasks"][0]["output"].as_str().unwrap_or("");
    assert!(
        output.contains("refused by smith's [permissions] deny rule"),
        "{v}"
    );
    let request = v["request_id"].as_str().unwrap();
    let show = json_of(&c.d, &["show", "--json", request]);
    assert_eq!(nodes_of(&show).len(), 1, "it ran on a node: {show}");
    assert_eq!(show["attempts"].as_array().unwrap().len(), 1, "{show}");
    let by: Vec<String> = decisions(&c.d, request)
        .into_iter()
        .map(|(b, _)| b)
        .collect();
    assert_eq!(by, ["rule", "person", "rule"]);
    assert!(claude_pids(&c.d).is_empty());
}

#[test]
fn a_call_waiting_on_a_killed_control_plane_is_asked_again_and_nothing_answered_is() {
    let Some(mut c) = cluster_configured("remote", 2, "4s", RULES) else {
        return;
    };
    let mut client = c.d.smith_child(&[
        "ask",
        "--json",
        "survive [[ask:touch ruled.txt]] [[ask:touch approved.txt]]",
    ]);
    let asked = first_waiting(&c.d, Duration::from_secs(30));
    let first_id = asked["id"].as_str().unwrap().to_string();
    let worker = claude_pids(&c.d);
    assert_eq!(worker.len(), 1, "{worker:?}");
    c.d.signal(Signal::SIGKILL);
    c.d.wait(Duration::from_secs(10)).expect("smithd is gone");
    let _ = client.kill();
    let _ = client.wait();
    c.d.start();
    // The smithd that follows the attempt again asks about the waiting call.
    let again: Value = eventually_sync(Duration::from_secs(30), || {
        waiting(&c.d)
            .into_iter()
            .find(|a| a["id"] != first_id.as_str())
    })
    .unwrap_or_else(|| panic!("the waiting call is not asked again:\n{}", c.d.log()));
    assert_eq!(again["summary"], "touch approved.txt", "{again}");
    assert_eq!(claude_pids(&c.d), worker, "the node's process goes on");
    json_of(&c.d, &["approve", "--json", again["id"].as_str().unwrap()]);
    let history = eventually_sync(Duration::from_secs(30), || {
        let r = json_of(&c.d, &["history", "main", "--json"])[0].clone();
        (r["status"] == "succeeded").then_some(r)
    })
    .unwrap_or_else(|| panic!("the request never ended:\n{}", c.d.log()));
    assert!(c.d.work().join("approved.txt").exists());
    let request = history["id"].as_str().unwrap();
    let show = json_of(&c.d, &["show", "--json", request]);
    assert_eq!(show["attempts"].as_array().unwrap().len(), 1, "{show}");
    // The call the rule allowed before the kill was not decided again.
    let ruled = decisions(&c.d, request)
        .into_iter()
        .filter(|(by, what)| by == "rule" && what == "touch ruled.txt")
        .count();
    assert_eq!(ruled, 1, "{:?}", decisions(&c.d, request));
    assert!(claude_pids(&c.d).is_empty());
}
