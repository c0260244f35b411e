//! `permissions.mode = "stdio"` with the stand-in agent (its `[[ask:COMMAND]]` asks like the CLI
//! does): rules allow and deny; a call no rule decides waits for a person — approved or denied
//! from a second client, remembered for the session with "always", denied when nobody answers
//! or nobody is attached, withdrawn when its attempt restarts or smithd stops — and every
//! decision is recorded and shown. In `cli` mode the CLI's own headless refusal is reported. The
//! real CLI is exercised in `real_cli_permissions`.

use std::time::Duration;

use crate::support::approvals::{
    first_waiting, json_of, kill_first_worker, no_longer_waiting, summary_of_child, waiting,
};
use crate::support::daemon::{Daemon, output_of, stderr, stdout};
use crate::support::eventually_sync;

const ASKS: &str = "[permissions]\nmode = \"stdio\"\npreset = \"workspace-write\"\n";

fn ask(permissions: &str, prompt: &str) -> (Daemon, serde_json::Value) {
    let mut d = Daemon::new(permissions);
    d.start_in_process();
    let out = d.smith(&["ask", "--json", prompt]);
    let v = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(&out), stderr(&out)));
    (d, v)
}

/// How the calls of `request` were decided, as `smith show --json` lists them.
fn decisions(d: &Daemon, request: &str) -> Vec<serde_json::Value> {
    let show = json_of(d, &["show", "--json", request]);
    show["decisions"].as_array().cloned().unwrap_or_default()
}

#[test]
fn an_allowed_call_runs_and_a_denied_one_is_refused_with_the_rule_named() {
    let (mut d, v) = ask(
        "[permissions]\nmode = \"stdio\"\nallow = [\"Bash(touch*)\"]\n",
        "make it [[ask:touch allowed.txt]]",
    );
    assert!(d.work().join("allowed.txt").exists(), "{v}");
    assert!(
        v["tasks"][0]["output"]
            .as_str()
            .unwrap()
            .starts_with("ALLOWED: EXIT 0"),
        "{v}"
    );
    assert_eq!(v["tasks"][0]["denials"], serde_json::json!([]));
    let decided = decisions(&d, v["request_id"].as_str().unwrap());
    assert_eq!(decided.len(), 1, "{decided:?}");
    assert_eq!(decided[0]["decided_by"], "rule");
    assert_eq!(decided[0]["verdict"], "allow");
    assert_eq!(decided[0]["who"], "allow rule Bash(touch*)");
    d.stop_in_process().unwrap();

    let (mut d, v) = ask(
        "[permissions]\nmode = \"stdio\"\nallow = [\"Bash\"]\ndeny = [\"Bash(touch*)\"]\n",
        "make it [[ask:touch denied.txt]]",
    );
    assert!(!d.work().join("denied.txt").exists());
    let output = v["tasks"][0]["output"].as_str().unwrap();
    assert!(
        output.contains("DENIED: refused by smith's [permissions] deny rule Bash(touch*)"),
        "{v}"
    );
    let denials = v["tasks"][0]["denials"].as_array().unwrap();
    assert_eq!(denials.len(), 1, "{v}");
    assert_eq!(denials[0]["input"], "touch denied.txt");
    d.stop_in_process().unwrap();
}

#[test]
fn a_call_nobody_decides_is_denied_after_the_timeout_and_the_request_completes() {
    let (mut d, v) = ask(
        &format!("{ASKS}ask_timeout = \"1s\"\n"),
        "make it [[ask:touch asked.txt]]",
    );
    assert_eq!(v["status"], "succeeded", "{v}");
    assert!(!d.work().join("asked.txt").exists());
    let message = v["tasks"][0]["denials"][0]["message"].as_str().unwrap();
    assert!(message.contains("nobody answered within 1s"), "{v}");
    assert!(
        v["tasks"][0]["output"]
            .as_str()
            .unwrap()
            .contains("DENIED: nobody answered"),
        "the worker heard why: {v}"
    );
    let decided = decisions(&d, v["request_id"].as_str().unwrap());
    assert_eq!(decided[0]["decided_by"], "timeout", "{decided:?}");
    assert!(decided[0]["waited_ms"].as_u64().unwrap() >= 1000);
    assert!(waiting(&d).is_empty());
    d.stop_in_process().unwrap();
}

#[test]
fn cli_mode_reports_the_clis_own_refusal() {
    let (mut d, v) = ask("", "make it [[ask:touch headless.txt]]");
    assert!(!d.work().join("headless.txt").exists());
    let denial = &v["tasks"][0]["denials"][0];
    assert_eq!(denial["tool"], "Bash");
    assert!(
        denial["message"]
            .as_str()
            .unwrap()
            .contains("needs approval (fake)"),
        "{v}"
    );
    assert!(
        v["answer"]
            .as_str()
            .unwrap()
            .contains("## Refused tool calls")
    );
    d.stop_in_process().unwrap();
}

#[test]
fn a_person_approves_or_denies_from_a_second_client() {
    let mut d = Daemon::new(ASKS);
    d.start_in_process();
    // Approved: the call runs.
    let client = d.smith_child(&["ask", "--json", "make it [[ask:touch approved.txt]]"]);
    let a = first_waiting(&d, Duration::from_secs(20));
    assert_eq!(a["tool"], "Bash");
    assert_eq!(a["summary"], "touch approved.txt");
    assert!(a["input"].as_str().unwrap().contains("\"command\""), "{a}");
    assert!(
        a["suggestions"].as_str().unwrap().contains("addRules"),
        "suggestions are shown: {a}"
    );
    let id = a["id"].as_str().unwrap().to_string();
    // It shows in `smith status` too.
    let status = json_of(&d, &["status", "--json"]);
    assert_eq!(status["approvals"][0]["id"], id.as_str(), "{status}");
    let decided = json_of(&d, &["approve", "--json", &id]);
    assert_eq!(decided["verdict"], "allow");
    assert_eq!(decided["decided_by"], "person");
    let v = summary_of_child(client);
    assert_eq!(v["status"], "succeeded", "{v}");
    assert!(d.work().join("approved.txt").exists(), "{v}");
    assert_eq!(v["tasks"][0]["denials"], serde_json::json!([]));
    let recorded = decisions(&d, v["request_id"].as_str().unwrap());
    assert_eq!(recorded[0]["decided_by"], "person", "{recorded:?}");
    assert_eq!(recorded[0]["id"], id.as_str());
    // Deciding it again is refused: it no longer waits.
    let again = d.smith(&["approve", &id]);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("no approval"), "{}", stderr(&again));

    // Denied with a message: the worker gets the message as the tool's result.
    let client = d.smith_child(&["ask", "--json", "make it [[ask:touch denied.txt]]"]);
    let id = first_waiting(&d, Duration::from_secs(20))["id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = d.smith(&["deny", &id, "--message", "use the scratch dir instead"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("denied"), "{}", stdout(&out));
    let v = summary_of_child(client);
    assert!(!d.work().join("denied.txt").exists());
    assert_eq!(
        v["tasks"][0]["output"], "DENIED: use the scratch dir instead",
        "{v}"
    );
    assert_eq!(
        v["tasks"][0]["denials"][0]["message"],
        "use the scratch dir instead"
    );
    d.stop_in_process().unwrap();
}

#[test]
fn always_allows_the_same_call_for_the_rest_of_the_session_only() {
    let mut d = Daemon::new(ASKS);
    d.start_in_process();
    let client = d.smith_child(&[
        "ask",
        "--json",
        "twice [[ask:echo hi >> log.txt]] [[ask:echo hi >> log.txt]] [[ask:touch other.txt]]",
    ]);
    let first = first_waiting(&d, Duration::from_secs(20));
    let id = first["id"].as_str().unwrap().to_string();
    let decided = json_of(&d, &["approve", "--always", "--json", &id]);
    assert_eq!(decided["always"], true);
    // The identical second call is not asked; the third (another input) is.
    let third = eventually_sync(Duration::from_secs(20), || {
        waiting(&d).into_iter().find(|a| a["id"] != id.as_str())
    })
    .expect("the different call is asked");
    assert_eq!(third["summary"], "touch other.txt");
    json_of(&d, &["deny", "--json", third["id"].as_str().unwrap()]);
    let v = summary_of_child(client);
    let log = std::fs::read_to_string(d.work().join("log.txt")).unwrap();
    assert_eq!(log, "hi\nhi\n", "both identical calls ran: {v}");
    let recorded = decisions(&d, v["request_id"].as_str().unwrap());
    let by: Vec<&str> = recorded
        .iter()
        .map(|r| r["decided_by"].as_str().unwrap())
        .collect();
    assert_eq!(by, ["person", "remembered", "person"], "{recorded:?}");

    // A later request of the same session is not asked either; another session is.
    let v = json_of(&d, &["ask", "--json", "again [[ask:echo hi >> log.txt]]"]);
    assert_eq!(v["tasks"][0]["denials"], serde_json::json!([]), "{v}");
    let client = d.smith_child(&[
        "ask",
        "--json",
        "--session",
        "other",
        "elsewhere [[ask:echo hi >> log.txt]]",
    ]);
    let asked = first_waiting(&d, Duration::from_secs(20));
    assert_eq!(asked["session"], "other");
    json_of(&d, &["deny", "--json", asked["id"].as_str().unwrap()]);
    summary_of_child(client);
    d.stop_in_process().unwrap();
}

#[test]
fn unattended_deny_refuses_at_once_when_nobody_is_attached() {
    let mut d = Daemon::new(&format!("{ASKS}unattended = \"deny\"\n"));
    d.start_in_process();
    let out = d.smith(&["ask", "--detach", "alone [[ask:touch alone.txt]]"]);
    let id = stdout(&out).trim().to_string();
    assert!(id.starts_with("r-"), "{}", stderr(&out));
    let show = eventually_sync(Duration::from_secs(20), || {
        let show = json_of(&d, &["show", "--json", &id]);
        (show["request"]["status"] == "succeeded").then_some(show)
    })
    .expect("the request ends without anyone deciding");
    assert_eq!(show["decisions"][0]["decided_by"], "unattended", "{show}");
    assert!(!d.work().join("alone.txt").exists());
    d.stop_in_process().unwrap();
}

#[test]
fn a_restart_withdraws_what_waits_and_the_new_attempt_asks_again() {
    let mut d = Daemon::new(ASKS);
    d.start_in_process();
    let client = d.smith_child(&["ask", "--json", "restart me [[ask:touch restarted.txt]]"]);
    let first = first_waiting(&d, Duration::from_secs(20));
    let first_id = first["id"].as_str().unwrap().to_string();
    // The worker dies while its call waits: the supervisor restarts the task.
    kill_first_worker(&d);
    assert!(no_longer_waiting(&d, &first_id, Duration::from_secs(20)));
    let second = eventually_sync(Duration::from_secs(20), || {
        waiting(&d)
            .into_iter()
            .find(|a| a["id"] != first_id.as_str())
    })
    .expect("the restarted attempt asks again");
    assert_eq!(second["attempt"], 2, "{second}");
    json_of(&d, &["approve", "--json", second["id"].as_str().unwrap()]);
    let v = summary_of_child(client);
    assert_eq!(v["status"], "succeeded", "{v}");
    assert!(d.work().join("restarted.txt").exists());
    let recorded = decisions(&d, v["request_id"].as_str().unwrap());
    assert_eq!(recorded[0]["id"], first_id.as_str());
    assert_eq!(recorded[0]["decided_by"], "withdrawn", "{recorded:?}");
    assert_eq!(recorded[1]["decided_by"], "person");
    d.stop_in_process().unwrap();
}

#[test]
fn a_shutdown_denies_what_waits_and_records_why() {
    let mut d = Daemon::new(ASKS);
    d.start_in_process();
    let client = d.smith_child(&["ask", "--json", "stop [[ask:touch never.txt]]"]);
    let id = first_waiting(&d, Duration::from_secs(20))["id"]
        .as_str()
        .unwrap()
        .to_string();
    d.stop_in_process().unwrap();
    // The client may end with an error: smithd went away under it.
    let _ = output_of(client);
    assert!(!d.work().join("never.txt").exists());
    d.start_in_process();
    let history = json_of(&d, &["history", "--json", "main"]);
    let request = history[0]["id"].as_str().unwrap().to_string();
    let recorded = decisions(&d, &request);
    assert_eq!(recorded[0]["id"], id.as_str(), "{recorded:?}");
    assert_eq!(recorded[0]["verdict"], "deny");
    assert!(
        recorded[0]["message"]
            .as_str()
            .unwrap()
            .contains("shutting down"),
        "{recorded:?}"
    );
    assert!(waiting(&d).is_empty());
    d.stop_in_process().unwrap();
}

#[test]
fn a_watcher_and_the_notify_command_hear_of_each_approval() {
    use std::io::BufRead;
    let mut d = Daemon::new(ASKS);
    let notified = d.root().join("notified.json");
    d.extra_config = format!("{ASKS}notify_command = \"cat > {}\"\n", notified.display());
    d.write_config(&d.agent_section());
    d.start_in_process();
    let mut watcher = d.smith_child(&["approvals", "--watch", "--json"]);
    let lines = std::io::BufReader::new(watcher.stdout.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in lines.lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let client = d.smith_child(&["ask", "--json", "watched [[ask:touch watched.txt]]"]);
    let heard = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the watcher hears it");
    let waiting: serde_json::Value = serde_json::from_str(&heard).unwrap();
    let id = waiting["Waiting"]["id"]
        .as_str()
        .expect("a waiting approval")
        .to_string();
    let sent = eventually_sync(Duration::from_secs(10), || {
        std::fs::read_to_string(&notified)
            .ok()
            .filter(|s| s.ends_with('}'))
    })
    .expect("the notify command ran");
    let sent: serde_json::Value = serde_json::from_str(&sent).unwrap();
    assert_eq!(sent["id"], id.as_str());
    assert_eq!(sent["approve"], format!("smith approve {id}"));
    json_of(&d, &["approve", "--json", &id]);
    let heard = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("and its decision");
    let decided: serde_json::Value = serde_json::from_str(&heard).unwrap();
    assert_eq!(decided["Decided"]["id"], id.as_str(), "{decided}");
    assert_eq!(decided["Decided"]["verdict"], "allow");
    summary_of_child(client);
    let _ = watcher.kill();
    let _ = watcher.wait();
    d.stop_in_process().unwrap();
}

#[test]
fn a_worker_waiting_for_a_person_is_neither_idle_nor_out_of_time() {
    let mut d = Daemon::new(ASKS);
    d.env = vec![
        ("SMITH_AGENT__IDLE_TIMEOUT".into(), "1s".into()),
        ("SMITH_AGENT__TIMEOUT".into(), "2s".into()),
    ];
    d.start_in_process();
    let client = d.smith_child(&["ask", "--json", "slow person [[ask:touch late.txt]]"]);
    let id = first_waiting(&d, Duration::from_secs(20))["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Longer than both the idle and the wall-clock limit.
    std::thread::sleep(Duration::from_millis(3000));
    json_of(&d, &["approve", "--json", &id]);
    let v = summary_of_child(client);
    assert_eq!(v["status"], "succeeded", "{v}");
    assert_eq!(v["tasks"][0]["attempts"], 1, "not stopped meanwhile: {v}");
    assert!(d.work().join("late.txt").exists());
    d.stop_in_process().unwrap();
}

#[test]
fn a_cancel_withdraws_what_waits_and_records_why() {
    let mut d = Daemon::new(ASKS);
    d.start_in_process();
    let client = d.smith_child(&["ask", "--json", "cancel me [[ask:touch cancelled.txt]]"]);
    let a = first_waiting(&d, Duration::from_secs(20));
    let request = a["request_id"].as_str().unwrap().to_string();
    let out = d.smith(&["cancel", &request]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = summary_of_child(client);
    assert_eq!(v["status"], "cancelled", "{v}");
    let recorded = decisions(&d, &request);
    assert_eq!(recorded[0]["decided_by"], "withdrawn", "{recorded:?}");
    assert!(
        recorded[0]["message"]
            .as_str()
            .unwrap()
            .contains("cancelled"),
        "{recorded:?}"
    );
    assert!(waiting(&d).is_empty());
    assert!(!d.work().join("cancelled.txt").exists());
    d.stop_in_process().unwrap();
}
