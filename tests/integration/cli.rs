//! `smith` end to end against a smithd started by the test (stand-in agent): ask with a fan-out,
//! the status tree, history, show, cancel, sessions, health, `--json` shapes, exit codes.

use std::time::Duration;

use crate::support::agent::pid_alive;
use crate::support::daemon::{Daemon, stderr, stdout};
use serde_json::Value;

fn started() -> Daemon {
    let mut d = Daemon::new("[supervision]\nbackoff_min = \"50ms\"\nbackoff_max = \"100ms\"\n");
    d.start_in_process();
    d
}

fn json(o: &std::process::Output) -> Value {
    serde_json::from_str(&stdout(o))
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", stdout(o), stderr(o)))
}

#[test]
fn ask_with_a_fan_out_prints_the_merged_answer_and_progress() {
    let d = started();
    let out = d.smith(&[
        "ask",
        "fan out",
        "--task",
        "alpha",
        "--task",
        "beta [[fail-first:beta]]",
        "--task",
        "gamma",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let answer = stdout(&out);
    let (a, b, c) = (
        answer.find("## 1. alpha").unwrap(),
        answer.find("## 2. beta").unwrap(),
        answer.find("## 3. gamma").unwrap(),
    );
    assert!(a < b && b < c, "{answer}");
    let progress = stderr(&out);
    assert!(
        progress.contains("[t2] attempt 1 ended crashed (retryable)"),
        "{progress}"
    );
    assert!(progress.contains("[t2] restarted: attempt 2"), "{progress}");
    assert!(progress.contains("succeeded in"), "{progress}");
    assert!(progress.contains("1 restart(s)"), "{progress}");
}

#[test]
fn ask_json_has_the_documented_shape() {
    let d = started();
    let out = d.smith(&[
        "ask",
        "--json",
        "q",
        "--task",
        "one",
        "--task",
        "two [[cost:0.25]]",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let v = json(&out);
    for key in [
        "request_id",
        "session",
        "status",
        "answer",
        "cost_usd",
        "tasks",
    ] {
        assert!(v.get(key).is_some(), "{key} missing in {v}");
    }
    assert_eq!(v["status"], "succeeded");
    assert_eq!(v["session"], "main");
    assert_eq!(v["cost_usd"], 0.25);
    let tasks = v["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 2);
    for key in [
        "id",
        "name",
        "status",
        "attempts",
        "exit_reason",
        "cost_usd",
        "output",
    ] {
        assert!(
            tasks[0].get(key).is_some(),
            "task {key} missing in {}",
            tasks[0]
        );
    }
    assert_eq!(tasks[1]["exit_reason"], "completed");
    assert_eq!(tasks[1]["attempts"], 1);
}

#[test]
fn exit_codes_say_succeeded_degraded_failed_and_unreachable() {
    let d = started();
    assert_eq!(d.smith(&["ask", "fine"]).status.code(), Some(0));
    let degraded = d.smith(&["ask", "q", "--task", "ok", "--task", "no [[api-error:401]]"]);
    assert_eq!(degraded.status.code(), Some(2), "{}", stderr(&degraded));
    assert!(stdout(&degraded).contains("failed (api_error(401), after 1 attempt)"));
    let failed = d.smith(&["ask", "no [[api-error:401]]"]);
    assert_eq!(failed.status.code(), Some(1));
    let unreachable = d.smith(&["--socket", "/nonexistent/smithd.sock", "health"]);
    assert_eq!(unreachable.status.code(), Some(3));
    let msg = stderr(&unreachable);
    assert!(
        msg.starts_with("smith: cannot reach smithd at /nonexistent/smithd.sock"),
        "{msg}"
    );
    assert_eq!(msg.lines().count(), 1, "one clear line: {msg}");
    let usage = d.smith(&["ask", "--strategy", "all_for_none", "x"]);
    assert_eq!(usage.status.code(), Some(64));
    let bad = d.smith(&["ask", "x", "--restart", "permanent"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("permanent"), "{}", stderr(&bad));
}

#[test]
fn status_shows_the_live_tree_with_pids_and_cancel_stops_the_request() {
    let d = started();
    let out = d.smith(&[
        "ask",
        "--detach",
        "q",
        "--task",
        "slow [[sleep:30000]]",
        "--task",
        "other [[sleep:30000]]",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let id = stdout(&out).trim().to_string();
    assert!(id.starts_with("r-"), "{id}");
    let mut pids: Vec<u64> = Vec::new();
    for _ in 0..200 {
        let v = json(&d.smith(&["status", "--json"]));
        pids = v["sessions"][0]["current"]["tasks"]
            .as_array()
            .map(|t| t.iter().filter_map(|t| t["pid"].as_u64()).collect())
            .unwrap_or_default();
        if pids.len() == 2 {
            assert_eq!(v["sessions"][0]["current"]["request_id"], id.as_str());
            assert_eq!(v["running_tasks"], 2);
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(pids.len(), 2, "both task pids in status --json");
    for pid in &pids {
        assert!(pid_alive(*pid as u32));
    }
    let text = stdout(&d.smith(&["status"]));
    assert!(text.contains("service (rest_for_one)"), "{text}");
    assert!(text.contains("session main"), "{text}");
    assert!(text.contains(&id), "{text}");
    assert!(text.contains(&format!("pid {}", pids[0])), "{text}");

    let cancel = d.smith(&["cancel", &id]);
    assert_eq!(cancel.status.code(), Some(0), "{}", stderr(&cancel));
    let mut status = String::new();
    for _ in 0..300 {
        status = json(&d.smith(&["show", &id, "--json"]))["request"]["status"]
            .as_str()
            .unwrap()
            .to_string();
        if status == "cancelled" {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(status, "cancelled");
    for pid in pids {
        assert!(!pid_alive(pid as u32), "worker {pid} survived the cancel");
    }
    let again = d.smith(&["cancel", &id]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("is cancelled"),
        "{}",
        stderr(&again)
    );
    let missing = d.smith(&["show", "r-nope"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("request r-nope not found"));
}

#[test]
fn history_show_and_sessions_in_text_and_json() {
    let d = started();
    let first = json(&d.smith(&["ask", "--json", "-s", "review", "first question"]));
    let id = first["request_id"].as_str().unwrap().to_string();
    d.smith(&["ask", "-s", "review", "second question"]);
    d.smith(&["ask", "elsewhere"]);

    let history = d.smith(&["history", "review"]);
    assert_eq!(history.status.code(), Some(0));
    let text = stdout(&history);
    assert!(
        text.contains("first question") && text.contains("second question"),
        "{text}"
    );
    let h = json(&d.smith(&["history", "review", "--json"]));
    assert_eq!(h.as_array().unwrap().len(), 2);
    assert_eq!(h[0]["id"], id.as_str());
    assert_eq!(h[0]["status"], "succeeded");

    let show = stdout(&d.smith(&["show", &id]));
    assert!(
        show.contains("attempt 1")
            && show.contains("completed")
            && show.contains("answer (deterministic)"),
        "{show}"
    );
    let s = json(&d.smith(&["show", &id, "--json"]));
    assert_eq!(s["tasks"][0]["status"], "succeeded");
    assert!(s["attempts"][0]["pid"].as_u64().is_some());
    assert!(
        s["request"]["answer"]
            .as_str()
            .unwrap()
            .contains("first question")
    );

    let sessions = json(&d.smith(&["sessions", "--json"]));
    let names: Vec<&str> = sessions
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["main", "review"]);
    assert!(stdout(&d.smith(&["sessions"])).contains("review"));
    let none = d.smith(&["history", "nobody"]);
    assert_eq!(none.status.code(), Some(1));
    assert!(stderr(&none).contains("session nobody has no requests"));
}

#[test]
fn health_completions_and_help() {
    let d = started();
    let h = d.smith(&["health"]);
    assert_eq!(h.status.code(), Some(0));
    assert!(stdout(&h).starts_with("smithd 0.1.0"), "{}", stdout(&h));
    let hj = json(&d.smith(&["health", "--json"]));
    assert_eq!(hj["pid"], d.pid());
    let c = d.smith(&["completions", "bash"]);
    assert!(stdout(&c).contains("_smith"), "bash completion");
    let help = d.smith(&["ask", "--help"]);
    assert!(stdout(&help).contains("--strategy") && stdout(&help).contains("one_for_one"));
}
