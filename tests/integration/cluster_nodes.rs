//! Worker nodes (`smithd worker`, processes with configs of their own) on a real nats-server
//! 2.9: the control plane (a process too) dispatches task specs, the nodes run them and
//! stream their events back; a node that stops answering loses its attempt (`node_lost`) and
//! the task is restarted on the other; cancel stops the remote process group; a node's text and
//! tool calls reach the client live.

use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::Value;
use smith::protocol::RequestStatus;

use crate::live::{ask_events, texts, tool_activities};
use crate::support::approvals::json_of;
use crate::support::cluster::{claude_pids, cluster, cluster_with, nodes_of, sleep_pids};
use crate::support::daemon::{Daemon, output_of, stderr};
use crate::support::eventually_sync;
use crate::support::nats::{NatsServer, free_port, nats_server};
use crate::support::prometheus::{prometheus_addr, scrape};
use crate::support::worker_node::WorkerNode;

#[test]
fn a_fan_out_runs_on_both_nodes_and_status_shows_them() {
    let Some(c) = cluster("remote", 4) else {
        return;
    };
    let text = String::from_utf8_lossy(&c.d.smith(&["status"]).stdout).to_string();
    assert!(text.contains("node-a") && text.contains("node-b"), "{text}");
    let mut args = vec!["ask", "--json", "fan out"];
    let tasks: Vec<String> = (1..=8).map(|i| format!("part {i} [[sleep:700]]")).collect();
    for t in &tasks {
        args.extend(["--task", t.as_str()]);
    }
    let v = json_of(&c.d, &args);
    assert_eq!(v["status"], "succeeded", "{v}");
    let show = c.show(&v);
    assert_eq!(nodes_of(&show), ["node-a", "node-b"], "{show}");
    let attempts = show["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 8, "one attempt each: {show}");
    for (i, t) in show["tasks"].as_array().unwrap().iter().enumerate() {
        let output = t["output"].as_str().unwrap_or("");
        assert!(output.starts_with("ECHO: "), "{t}");
        assert!(output.contains(&format!("part {}", i + 1)), "{t}");
    }
    // Nothing is left running on the nodes.
    assert!(c.d.worker_pids().is_empty(), "{:?}", c.d.worker_pids());
    // Each outcome was stored with its stream sequence, then acknowledged.
    c.until_outcomes_acknowledged();
    // Dashboards see the nodes.
    let metrics = scrape(&prometheus_addr(&c.d));
    let has = |line: &str| metrics.lines().any(|l| l.starts_with(line));
    assert!(
        has("smith_cluster_nodes{smith_node_state=\"up\"")
            && has("smith_cluster_node_capacity{smith_node=\"node-a\""),
        "{metrics}"
    );
}

#[test]
fn a_node_killed_mid_attempt_loses_it_and_the_other_node_resumes_the_task() {
    let Some(mut c) = cluster("remote", 1) else {
        return;
    };
    let child = c.d.smith_child(&[
        "ask",
        "--json",
        "long one [[sleep-first:3000]] [[grandchild]]",
    ]);
    // Which node took it.
    let running = c.busy_node();
    let victim = c.nodes.iter().position(|n| n.name == running).unwrap();
    let first = claude_pids(&c.d);
    let grandchild = eventually_sync(Duration::from_secs(5), || sleep_pids(&c.d).pop())
        .expect("the worker started its grandchild");
    // Its transcript is in the cluster (the node keeps it as it grows) before the node dies.
    eventually_sync(Duration::from_secs(10), || {
        let names = c.nats.transcripts();
        let has = |end: &str| names.iter().any(|n| n.ends_with(end));
        // The session's file, and the list of its directory's files.
        (has(".jsonl") && has(".files")).then_some(())
    })
    .expect("the node put the session's transcript");
    c.nodes[victim].kill9();
    let out = output_of(child);
    // The killed node's worker died with it; what that worker started is stopped when the node
    // starts again (found by the node's mark in its tag: its name and the id in its data dir).
    assert!(first.iter().all(|p| !claude_pids(&c.d).contains(p)));
    assert!(
        sleep_pids(&c.d).contains(&grandchild),
        "the grandchild outlived its node"
    );
    c.nodes[victim].restart();
    eventually_sync(Duration::from_secs(20), || {
        (!sleep_pids(&c.d).contains(&grandchild)).then_some(())
    })
    .expect("the restarted node stops what its earlier run left");
    let v: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
    assert_eq!(v["status"], "succeeded", "{v}");
    let show = c.show(&v);
    let attempts = show["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{show}");
    assert_eq!(attempts[0]["exit_reason"], "node_lost", "{show}");
    assert_eq!(attempts[0]["node"], running.as_str());
    let other = &c.nodes[1 - victim].name;
    assert_eq!(attempts[1]["node"], other.as_str(), "{show}");
    // The second attempt resumed the first's Claude session.
    assert_eq!(
        attempts[1]["resumed_from"],
        attempts[0]["claude_session_id"]
    );
    let answer = show["tasks"][0]["output"].as_str().unwrap_or("");
    assert!(answer.starts_with("RESUMED "), "{answer}");
    assert!(
        !answer.contains("WITHOUT ITS FILES"),
        "the session's directory came too: {answer}"
    );
}

#[test]
fn a_node_stopped_past_its_lease_stops_its_process_when_it_wakes() {
    let Some(c) = cluster("remote", 1) else {
        return;
    };
    let child = c.d.smith_child(&["ask", "--json", "slow [[sleep:4000]]"]);
    let running = c.busy_node();
    let stopped = c.nodes.iter().find(|n| n.name == running).unwrap();
    let first_workers = claude_pids(&c.d);
    assert_eq!(first_workers.len(), 1, "{first_workers:?}");
    stopped.signal(Signal::SIGSTOP);
    // Past the lease the task is restarted on the other node.
    eventually_sync(Duration::from_secs(15), || {
        claude_pids(&c.d)
            .iter()
            .any(|p| !first_workers.contains(p))
            .then_some(())
    })
    .expect("the task is restarted on the other node");
    stopped.signal(Signal::SIGCONT);
    // The node that woke up stops its process at once: one process for the task.
    eventually_sync(Duration::from_secs(10), || {
        first_workers
            .iter()
            .all(|p| !claude_pids(&c.d).contains(p))
            .then_some(())
    })
    .expect("the stale process is stopped");
    assert_eq!(claude_pids(&c.d).len(), 1, "{:?}", claude_pids(&c.d));
    let out = output_of(child);
    let v: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
    assert_eq!(v["status"], "succeeded", "{v}");
    let show = c.show(&v);
    let attempts = show["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{show}");
    assert_eq!(attempts[0]["exit_reason"], "node_lost", "{show}");
    assert!(c.d.worker_pids().is_empty());
}

#[test]
fn cancel_stops_the_remote_process_group() {
    let Some(c) = cluster("remote", 2) else {
        return;
    };
    let child =
        c.d.smith_child(&["ask", "--json", "stuck [[sleep:60000]] [[grandchild]]"]);
    eventually_sync(Duration::from_secs(10), || {
        (!claude_pids(&c.d).is_empty()).then_some(())
    })
    .expect("the worker runs");
    let status = json_of(&c.d, &["status", "--json"]);
    let id = status["sessions"][0]["current"]["request_id"]
        .as_str()
        .unwrap_or_else(|| panic!("a request runs: {status}"))
        .to_string();
    let cancelled = c.d.smith(&["cancel", &id]);
    assert!(cancelled.status.success(), "{}", stderr(&cancelled));
    let out = output_of(child);
    let v: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
    assert_eq!(v["status"], "cancelled", "{v}");
    // The worker and what it started are gone.
    eventually_sync(Duration::from_secs(10), || {
        c.d.worker_pids().is_empty().then_some(())
    })
    .unwrap_or_else(|| panic!("orphaned: {:?}", c.d.worker_pids()));
    let show = c.show(&v);
    assert_eq!(show["attempts"][0]["exit_reason"], "cancelled", "{show}");
}

#[test]
fn a_request_completes_across_a_restart_of_nats_server() {
    let Some(mut c) = cluster_with("remote", 2, "8s") else {
        return;
    };
    let child = c.d.smith_child(&[
        "ask",
        "--json",
        "across",
        "--task",
        "one [[sleep:2500]]",
        "--task",
        "two [[sleep:2500]]",
    ]);
    eventually_sync(Duration::from_secs(10), || {
        (claude_pids(&c.d).len() == 2).then_some(())
    })
    .expect("both run");
    c.nats.restart();
    let out = output_of(child);
    let v: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
    assert_eq!(v["status"], "succeeded", "{v}");
    // Nothing ran twice: the attempts in flight carried on.
    let show = c.show(&v);
    assert_eq!(show["attempts"].as_array().unwrap().len(), 2, "{show}");
    eventually_sync(Duration::from_secs(5), || {
        claude_pids(&c.d).is_empty().then_some(())
    })
    .unwrap_or_else(|| panic!("left running: {:?}", claude_pids(&c.d)));
}

#[test]
fn a_worker_with_refused_credentials_stops_with_one_line() {
    let Some(bin) = nats_server() else { return };
    let nats = NatsServer::start(&bin, free_port(), true, &["--user", "u", "--pass", "right"]);
    let d = Daemon::new("");
    let mut node = WorkerNode::start(
        &d,
        "node-x",
        &nats.url(),
        "user = \"u\"\npassword = \"wrong\"\n",
    );
    let status = node
        .wait(Duration::from_secs(20))
        .expect("the worker exits");
    assert!(!status.success());
    let log = node.log();
    let last = log.lines().last().unwrap_or("");
    assert!(
        last.starts_with("smithd: nats-server at nats://127.0.0.1:")
            && last.contains("refused smithd's credentials"),
        "{log}"
    );
    // Without a nats_url a worker has nothing to do: it says so.
    let mut node = WorkerNode::start(&d, "node-y", "", "");
    node.wait(Duration::from_secs(20))
        .expect("the worker exits");
    assert!(
        node.log().contains("smithd worker needs cluster.nats_url"),
        "{}",
        node.log()
    );
}

#[test]
fn a_killed_control_plane_finds_its_remote_attempts_again_and_nothing_runs_twice() {
    let Some(mut c) = cluster_with("remote", 2, "4s") else {
        return;
    };
    let mut client = c.d.smith_child(&[
        "ask",
        "--json",
        "survive",
        "--task",
        "short [[sleep:1500]]",
        "--task",
        "long [[sleep:5000]]",
    ]);
    eventually_sync(Duration::from_secs(10), || {
        (claude_pids(&c.d).len() == 2).then_some(())
    })
    .expect("both run");
    let workers = claude_pids(&c.d);
    c.d.signal(Signal::SIGKILL);
    c.d.wait(Duration::from_secs(10)).expect("smithd is gone");
    let _ = client.kill();
    let _ = client.wait();
    // The short one ends while the control plane is away.
    eventually_sync(Duration::from_secs(10), || {
        (claude_pids(&c.d).len() == 1).then_some(())
    })
    .expect("the short task ended on its node");
    c.d.start();
    let history = eventually_sync(Duration::from_secs(30), || {
        let h = json_of(&c.d, &["history", "main", "--json"]);
        let r = h[0].clone();
        (r["status"] == "succeeded").then_some(r)
    })
    .unwrap_or_else(|| {
        panic!(
            "the request never carried on: {}",
            json_of(&c.d, &["history", "main", "--json"])
        )
    });
    let show = json_of(&c.d, &["show", "--json", history["id"].as_str().unwrap()]);
    // Nothing ran twice: one attempt per task, each with its node's outcome.
    let attempts = show["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{show}");
    for a in attempts {
        assert_eq!(a["exit_reason"], "completed", "{show}");
        assert!(a["node"].is_string(), "{show}");
    }
    assert!(
        show["tasks"][0]["output"]
            .as_str()
            .unwrap_or("")
            .contains("short"),
        "{show}"
    );
    // The processes were never replaced, and none is left.
    assert!(workers.iter().all(|p| !claude_pids(&c.d).contains(p)));
    assert!(claude_pids(&c.d).is_empty(), "{:?}", claude_pids(&c.d));
    // The outcome that waited in the stream was applied and acknowledged like the other.
    c.until_outcomes_acknowledged();
}

#[test]
fn a_nodes_text_and_tool_calls_reach_the_client_as_they_happen() {
    let Some(c) = cluster("remote", 2) else {
        return;
    };
    let (events, summary) = ask_events(&c.d, "main", "[[sh:echo hello-node]] [[deltas:300]]");
    assert_eq!(summary.status, RequestStatus::Succeeded, "{summary:?}");
    let text = texts(&events);
    let expected: String = (0..300).map(|i| format!("d{i} ")).collect();
    assert_eq!(text.concat(), expected);
    assert!(text.len() < 30, "{} text events for 300 deltas", text.len());
    let tools = tool_activities(&events);
    assert_eq!(tools.len(), 2, "started and ended: {tools:?}");
    assert_eq!(tools[0].input, "echo hello-node");
    assert!(tools[1].duration_ms.is_some(), "{tools:?}");
    let show = json_of(&c.d, &["show", "--json", summary.request_id.as_str()]);
    assert_eq!(nodes_of(&show).len(), 1, "it ran on a node: {show}");
}
